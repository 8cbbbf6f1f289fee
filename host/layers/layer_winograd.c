/* Launcher for the CPU-shaped kernels of kernels/winograd.cl (F(4x4, 3x3)),
 * the weight transform they need, their workspace sizes, and the algorithm
 * table's "winograd" entry. */
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

/* OCB: output channels per packed weight block (the layout depends on it, so
 * one value); TT: tiles per GEMM work-item (the kernel holds them in one
 * float16, so one value). */
static const vggcl_tunable tunables[] = {
    { "OCB", 8, { 8 } },
    { "TT", 16, { 16 } },
};
#define P_OCB 0
#define P_TT 1

/* G: the 6x3 weight transform for points 0, +-1, +-2, inf. */
static const double G[6][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
};

void vggcl__wino_filter(const float *g, float u[36])
{
    double gt[6][3]; /* G g */
    for (int a = 0; a < 6; a++)
        for (int j = 0; j < 3; j++) gt[a][j] = G[a][0] * g[j] + G[a][1] * g[3 + j] + G[a][2] * g[6 + j];
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) u[a * 6 + b] = (float)(gt[a][0] * G[b][0] + gt[a][1] * G[b][1] + gt[a][2] * G[b][2]);
}

/* rounded to two weight blocks: each GEMM work-item takes two */
static int c_outp(const vggcl_conv_params *p, int C_out)
{
    const int two = 2 * p->v[P_OCB];
    return (C_out + two - 1) / two * two;
}

static size_t packed_floats(const vggcl_conv_params *p, int C_out, int C_in)
{
    return (size_t)36 * c_outp(p, C_out) * C_in;
}

/* U (36, C_outp / OCB, C_in, OCB), zero past C_out */
static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    const int ocb = p->v[P_OCB], blocks = c_outp(p, C_out) / ocb;
    float u[36];
    memset(packed, 0, packed_floats(p, C_out, C_in) * sizeof(float));
    for (int oc = 0; oc < C_out; oc++)
        for (int ic = 0; ic < C_in; ic++) {
            vggcl__wino_filter(weight + ((size_t)oc * C_in + ic) * 9, u);
            for (int xi = 0; xi < 36; xi++)
                packed[(((size_t)xi * blocks + oc / ocb) * C_in + ic) * ocb + oc % ocb] = u[xi];
        }
}

typedef struct {
    int tiles_y, tiles_x, T, Tp, C_outp;
} wino_dims;

static wino_dims dims_for(const vggcl_conv_params *p, int N, int C_out, int H, int W)
{
    wino_dims d;
    const int tt = p->v[P_TT];
    d.tiles_y = (H + 3) / 4;
    d.tiles_x = (W + 3) / 4;
    d.T = N * d.tiles_y * d.tiles_x;
    d.Tp = (d.T + tt - 1) / tt * tt;
    d.C_outp = c_outp(p, C_out);
    return d;
}

/* V (36, Tp/TT, C_in, TT) and M (36, C_outp, Tp) */
static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    const wino_dims d = dims_for(p, N, C_out, H, W);
    ws[0] = (size_t)36 * C_in * d.Tp;
    ws[1] = (size_t)36 * d.C_outp * d.Tp;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel kin, kgemm, kout;
    char defines[96];
    const cl_mem in = c->in, weight = c->weight, bias = c->bias, out = c->out, V = c->ws[0], M = c->ws[1];
    const int N = c->N, C_in = c->C_in, C_out = c->C_out, H = c->H, W = c->W, TT = p->v[P_TT];
    const int OCB = p->v[P_OCB];
    wino_dims d = dims_for(p, N, C_out, H, W);
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD, p, defines, sizeof defines);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_WINO_INPUT, defines, where, &kin)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_WINO_GEMM, defines, where, &kgemm)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_WINO_OUTPUT, defines, where, &kout)) != VGGCL_OK)
        return st;
    ARG(kin, 0, in); ARG(kin, 1, V); ARG(kin, 2, C_in); ARG(kin, 3, H); ARG(kin, 4, W);
    ARG(kin, 5, d.tiles_y); ARG(kin, 6, d.tiles_x); ARG(kin, 7, d.T); ARG(kin, 8, d.Tp);
    /* transforms: one work-item per 8 consecutive tiles of a tile row */
    size_t g_in[3] = { (size_t)(d.tiles_x + 7) / 8, (size_t)N * d.tiles_y, (size_t)C_in };
    if ((st = vggcl__enqueue(ctx, where, kin, 3, g_in, NULL, 0)) != VGGCL_OK) return st;

    ARG(kgemm, 0, V); ARG(kgemm, 1, weight); ARG(kgemm, 2, M); ARG(kgemm, 3, C_in); ARG(kgemm, 4, d.C_outp);
    ARG(kgemm, 5, d.Tp);
    size_t g_gemm[3] = { (size_t)(d.Tp / TT), (size_t)d.C_outp / (2 * OCB), 36 };
    /* the layer's FLOPs are counted as the direct convolution's, so GFLOP/s compare */
    const double flops = 2.0 * N * C_out * C_in * 9 * (double)H * W;
    if ((st = vggcl__enqueue(ctx, where, kgemm, 3, g_gemm, NULL, flops)) != VGGCL_OK) return st;

    ARG(kout, 0, M); ARG(kout, 1, bias); ARG(kout, 2, out); ARG(kout, 3, C_out); ARG(kout, 4, d.C_outp);
    ARG(kout, 5, H); ARG(kout, 6, W); ARG(kout, 7, d.tiles_y); ARG(kout, 8, d.tiles_x); ARG(kout, 9, d.T);
    ARG(kout, 10, d.Tp); ARG(kout, 11, c->pool);
    size_t g_out[3] = { (size_t)(d.tiles_x + 7) / 8, (size_t)N * d.tiles_y, (size_t)C_out };
    return vggcl__enqueue(ctx, where, kout, 3, g_out, NULL, 0);
fail:
    return st;
}

const vggcl_conv_algo vggcl__conv_winograd = {
    "winograd", 2, tunables, 1, NULL, NULL, packed_floats, pack, workspace, launch,
};
