/* Launcher for kernels/winograd.cl (F(4x4, 3x3)), the weight transform it
 * needs, and its workspace sizes. */
#include <string.h>

#include "layers.h"

#define OCB 8 /* output channels per packed weight block: the kernel's default */
#define TT 16 /* tiles per GEMM work-item: the kernel's only choice */

/* G: the 6x3 weight transform for points 0, +-1, +-2, inf. */
static const double G[6][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
};

/* rounded to two weight blocks: each GEMM work-item takes two */
static int c_outp(int C_out) { return (C_out + 2 * OCB - 1) / (2 * OCB) * (2 * OCB); }

size_t vggcl__wino_packed_floats(int C_out, int C_in)
{
    return (size_t)36 * c_outp(C_out) * C_in;
}

void vggcl__wino_pack_weights(const float *weight, int C_out, int C_in, float *packed)
{
    const int blocks = c_outp(C_out) / OCB;
    memset(packed, 0, vggcl__wino_packed_floats(C_out, C_in) * sizeof(float));
    for (int oc = 0; oc < C_out; oc++)
        for (int ic = 0; ic < C_in; ic++) {
            const float *g = weight + ((size_t)oc * C_in + ic) * 9;
            double gt[6][3]; /* G g */
            for (int a = 0; a < 6; a++)
                for (int j = 0; j < 3; j++) gt[a][j] = G[a][0] * g[j] + G[a][1] * g[3 + j] + G[a][2] * g[6 + j];
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    const double u = gt[a][0] * G[b][0] + gt[a][1] * G[b][1] + gt[a][2] * G[b][2];
                    const int xi = a * 6 + b;
                    packed[(((size_t)xi * blocks + oc / OCB) * C_in + ic) * OCB + oc % OCB] = (float)u;
                }
        }
}

typedef struct {
    int tiles_y, tiles_x, T, Tp, C_outp;
} wino_dims;

static wino_dims dims_for(int N, int C_out, int H, int W)
{
    wino_dims d;
    d.tiles_y = (H + 3) / 4;
    d.tiles_x = (W + 3) / 4;
    d.T = N * d.tiles_y * d.tiles_x;
    d.Tp = (d.T + TT - 1) / TT * TT;
    d.C_outp = c_outp(C_out);
    return d;
}

void vggcl__wino_workspace_floats(int N, int C_in, int C_out, int H, int W, size_t *v, size_t *m)
{
    const wino_dims d = dims_for(N, C_out, H, W);
    *v = (size_t)36 * C_in * d.Tp;
    *m = (size_t)36 * d.C_outp * d.Tp;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

vggcl_status vggcl_cl_conv3x3_winograd(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias,
                                       cl_mem out, cl_mem V, cl_mem M, int N, int C_in, int C_out, int H, int W)
{
    vggcl_status st;
    cl_kernel kin, kgemm, kout;
    wino_dims d = dims_for(N, C_out, H, W);
    if ((st = vggcl__kernel(ctx, VGGCL_K_WINO_INPUT, where, &kin)) != VGGCL_OK ||
        (st = vggcl__kernel(ctx, VGGCL_K_WINO_GEMM, where, &kgemm)) != VGGCL_OK ||
        (st = vggcl__kernel(ctx, VGGCL_K_WINO_OUTPUT, where, &kout)) != VGGCL_OK)
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
    ARG(kout, 10, d.Tp);
    size_t g_out[3] = { (size_t)(d.tiles_x + 7) / 8, (size_t)N * d.tiles_y, (size_t)C_out };
    return vggcl__enqueue(ctx, where, kout, 3, g_out, NULL, 0);
fail:
    return st;
}
