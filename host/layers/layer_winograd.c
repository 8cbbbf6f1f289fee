/* Launcher for the CPU-shaped kernels of kernels/winograd.cl (F(4x4, 3x3)),
 * the weight transform they need, their workspace sizes, and the algorithm
 * table's "winograd" entry. */
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

/* OCB: output channels per packed weight block (the layout depends on it, so
 * one value); TT: tiles per GEMM block (the kernel holds them in one float16, so
 * one value); FUSE: whether a layer of up to FUSED_MAX_CIN input channels runs
 * as one pass (wino_fused) or as two (wino_input, wino_gemm_out): 0 never, 1
 * where it pays (fused()), 2 always; host-only, so every value uses the same
 * program. GTB, GOB: tile blocks and blocks of 2 OCB output channels per
 * wino_gemm_out work-item, which multiplies every pair of them at each point, so
 * each slice of U and of V is read from memory once for several products
 * (kernels/winograd.cl has the measurements); its local memory grows with
 * GTB x GOB, so a device that cannot hold it gets less. Only the two passes'
 * program reads them: the one pass is one build for all their values. */
static const vggcl_tunable tunables[] = {
    { "OCB", 8, { 8 }, 0 },
    { "TT", 16, { 16 }, 0 },
    { "FUSE", 1, { 0, 1, 2 }, VGGCL_HOST_ONLY },
    { "GTB", 4, { 1, 2, 4 }, VGGCL_PROG_BIT(VGGCL_PROG_WINO) },
    { "GOB", 4, { 1, 2, 4 }, VGGCL_PROG_BIT(VGGCL_PROG_WINO) },
};
#define P_OCB 0
#define P_TT 1
#define P_FUSE 2
#define P_GTB 3
#define P_GOB 4
#define FUSED_MAX_CIN 256

/* One row (or column) of G g G^T: G's rows are the points 0, +-1, +-2 and infinity,
 * (1/4, 0, 0), -(1, +-1, 1) / 6, (1, +-2, 4) / 24 and (0, 0, 1); out[k * stride]. */
static inline void g_rows(float x0, float x1, float x2, float *out, int stride)
{
    const float even = x0 + x2, quad = x0 + 4.0f * x2;
    out[0] = 0.25f * x0;
    out[stride] = (even + x1) * (-1.0f / 6);
    out[2 * stride] = (even - x1) * (-1.0f / 6);
    out[3 * stride] = (quad + 2.0f * x1) * (1.0f / 24);
    out[4 * stride] = (quad - 2.0f * x1) * (1.0f / 24);
    out[5 * stride] = x2;
}

void vggcl__wino_filters(const float *weight, int C_out, int C_in, int oc0, int n, int ic, float *u)
{
    float g[9][VGGCL_WINO_LANES], t[6][3][VGGCL_WINO_LANES];
    for (int k = 0; k < 9; k++)
        for (int j = 0; j < VGGCL_WINO_LANES; j++)
            g[k][j] = j < n && oc0 + j < C_out && ic < C_in ? weight[((size_t)(oc0 + j) * C_in + ic) * 9 + k] : 0.0f;
    for (int c = 0; c < 3; c++) /* t = G g, column by column */
        for (int j = 0; j < VGGCL_WINO_LANES; j++)
            g_rows(g[c][j], g[3 + c][j], g[6 + c][j], &t[0][c][j], 3 * VGGCL_WINO_LANES);
    for (int a = 0; a < 6; a++) /* u = t G^T, row by row */
        for (int j = 0; j < n; j++) g_rows(t[a][0][j], t[a][1][j], t[a][2][j], &u[6 * a * n + j], n);
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

/* U (36, C_outp / OCB, C_in, OCB), zero past C_out: a block of OCB filters at a
 * time, so that each point's values go out as one run of OCB floats */
static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    const int ocb = p->v[P_OCB], blocks = c_outp(p, C_out) / ocb;
    float u[36 * VGGCL_WINO_LANES];
    for (int b = 0; b < blocks; b++)
        for (int ic = 0; ic < C_in; ic++) {
            vggcl__wino_filters(weight, C_out, C_in, b * ocb, ocb, ic, u);
            for (int xi = 0; xi < 36; xi++)
                memcpy(packed + (((size_t)xi * blocks + b) * C_in + ic) * ocb, u + xi * ocb, ocb * sizeof(float));
        }
}

/* The one pass's local memory: Vs (36, C_in, 16) and Ms (36, 2 OCB, 16) */
static size_t fused_local_bytes(const vggcl_conv_params *p, int C_in, size_t out[2])
{
    out[0] = (size_t)36 * C_in * 16 * sizeof(float);
    out[1] = (size_t)36 * 2 * p->v[P_OCB] * 16 * sizeof(float);
    return out[0] + out[1];
}

/* wino_gemm_out's: Ms for each of its GTB tile blocks and GOB channel blocks */
static size_t gemm_out_local_bytes(const vggcl_conv_params *p)
{
    size_t parts[2];
    fused_local_bytes(p, 0, parts);
    return (size_t)p->v[P_GTB] * p->v[P_GOB] * parts[1];
}

/* The one pass's blocks of 16 tiles for an H x W map: 4x4 tiles, or 1x16 (`wide`) where that
 * covers the map with fewer (56x56: 14 rows of 16 for 14x14 tiles, against 16x16 in blocks of
 * 4x4). Returns the tiles the blocks cover. */
static int block_shape(int H, int W, int *wide, int *blocks_y, int *blocks_x)
{
    const int ty = (H + 3) / 4, tx = (W + 3) / 4;
    const int square = (ty + 3) / 4 * ((tx + 3) / 4), row = ty * ((tx + 15) / 16);
    *wide = row < square;
    *blocks_y = *wide ? ty : (ty + 3) / 4;
    *blocks_x = *wide ? (tx + 15) / 16 : (tx + 3) / 4;
    return 16 * (*wide ? row : square);
}

/* FUSE=1 runs the one pass where its blocks cover the map with at most a third more
 * tiles than it has, and U is at most 12 MiB: every block streams all of U, where a
 * GEMM over V reads each slice of it once for many tiles. Measured on PoCL (2 cores,
 * 1 MiB L2, 32 MiB L3) against three passes (wino_input, a GEMM pass, an output
 * pass), VGG16 at batch 8, ms one pass (4x4 blocks) / three, best of 3 alternating:
 * 64->64 @224 58 / 63, 128->256 @56 29 / 37, 256->256 @56 57 / 65, 256->512 @28
 * (U 18 MiB) 35 / 30; at batch 1 the 56x56 layers 3.7 / 4.2, 7.2 / 7.2, 7.0 / 7.0
 * and 256->512 @28 4.6 / 4.4. */
static int fused(const vggcl_conv_params *p, int C_in, int C_out, int H, int W)
{
    int wide, by, bx;
    const int covered = block_shape(H, W, &wide, &by, &bx), tiles = ((H + 3) / 4) * ((W + 3) / 4);
    const size_t u_bytes = packed_floats(p, C_out, C_in) * sizeof(float);
    if (!p->v[P_FUSE] || C_in > FUSED_MAX_CIN) return 0;
    return p->v[P_FUSE] == 2 || (u_bytes <= ((size_t)12 << 20) && 3 * covered <= 4 * tiles);
}

/* The program a launch of p builds: the one pass's or the two passes' (FUSE picks). */
static int program(const vggcl_conv_params *p, int C_in, int C_out, int H, int W)
{
    return fused(p, C_in, C_out, H, W) ? VGGCL_PROG_WINO_ONE : VGGCL_PROG_WINO;
}

/* (FUSE where the layer cannot run the one pass, past FUSED_MAX_CIN channels: the two passes run) */
static int valid(const vggcl_ctx *ctx, const vggcl_conv_params *p, int C_in, int C_out)
{
    size_t parts[2];
    (void)C_out;
    return (!p->v[P_FUSE] || C_in > FUSED_MAX_CIN || fused_local_bytes(p, C_in, parts) <= ctx->local_mem) &&
           gemm_out_local_bytes(p) <= ctx->local_mem;
}

/* GOB, then GTB, as large as the device's local memory holds (of the table's 4 and 4), FUSE=1
 * wherever it holds the layer's one pass: whether a layer runs it is then fused()'s call. */
static void defaults(const vggcl_ctx *ctx, int N, int C_in, int C_out, int H, int W, vggcl_conv_params *p)
{
    (void)N, (void)H, (void)W;
    p->v[P_FUSE] = 0;
    while (p->v[P_GOB] > 1 && !valid(ctx, p, C_in, C_out)) p->v[P_GOB] /= 2;
    while (p->v[P_GTB] > 1 && !valid(ctx, p, C_in, C_out)) p->v[P_GTB] /= 2;
    p->v[P_FUSE] = 1;
    p->v[P_FUSE] = valid(ctx, p, C_in, C_out);
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

/* V (36, Tp/TT, C_in, TT) for the two passes; none for one */
static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    /* (the tiles in size_t, not dims_for's int: sized in the memory check, before a batch too large is
     * refused; dims_for's counts are the launch's, which only a batch that fits reaches) */
    const size_t tt = (size_t)p->v[P_TT], T = (size_t)N * ((H + 3) / 4) * ((W + 3) / 4), Tp = (T + tt - 1) / tt * tt;
    ws[0] = fused(p, C_in, C_out, H, W) ? 0 : (size_t)36 * C_in * Tp;
    ws[1] = 0;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

/* the one-pass form: one work-item per block of 16 tiles */
static vggcl_status launch_fused(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const char *defines,
                                 const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel k;
    size_t local[2];
    int wide, blocks_y, blocks_x;
    const int C_outp = c_outp(p, c->C_out);
    block_shape(c->H, c->W, &wide, &blocks_y, &blocks_x);
    fused_local_bytes(p, c->C_in, local);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_WINO_FUSED, defines, where, &k)) != VGGCL_OK) return st;
    ARG(k, 0, c->in); ARG(k, 1, c->weight); ARG(k, 2, c->bias); ARG(k, 3, c->out);
    CL_CHECK(clSetKernelArg, (k, 4, local[0], NULL));
    CL_CHECK(clSetKernelArg, (k, 5, local[1], NULL));
    ARG(k, 6, c->C_in); ARG(k, 7, c->C_out); ARG(k, 8, C_outp); ARG(k, 9, c->H); ARG(k, 10, c->W);
    ARG(k, 11, blocks_y); ARG(k, 12, c->pool); ARG(k, 13, wide);
    size_t g[2] = { (size_t)blocks_x, (size_t)c->N * blocks_y };
    return vggcl__enqueue(ctx, where, k, 2, g, vggcl__one_item, vggcl__conv_flops(c));
fail:
    return st;
}

/* The two passes: the input transform to V, then the products and the output transform. */
static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel kin, kgo;
    char defines[96];
    const cl_mem V = c->ws[0];
    const int N = c->N, C_in = c->C_in, C_out = c->C_out, H = c->H, W = c->W, TT = p->v[P_TT];
    const int OCB = p->v[P_OCB];
    const wino_dims d = dims_for(p, N, C_out, H, W);
    const int prog = program(p, C_in, C_out, H, W);
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD, p, prog, defines, sizeof defines);
    if (prog == VGGCL_PROG_WINO_ONE) return launch_fused(ctx, where, p, defines, c);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_WINO_INPUT, defines, where, &kin)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_WINO_GEMM_OUT, defines, where, &kgo)) != VGGCL_OK)
        return st;
    ARG(kin, 0, c->in); ARG(kin, 1, V); ARG(kin, 2, C_in); ARG(kin, 3, H); ARG(kin, 4, W);
    ARG(kin, 5, d.tiles_y); ARG(kin, 6, d.tiles_x); ARG(kin, 7, d.Tp); ARG(kin, 8, N);
    /* one work-item per input channel and image */
    size_t g_in[2] = { (size_t)C_in, (size_t)N };
    if ((st = vggcl__enqueue(ctx, where, kin, 2, g_in, NULL, 0)) != VGGCL_OK) return st;

    /* GTB tile blocks and GOB channel blocks per work-item (kernels/winograd.cl) */
    const int blocks = d.Tp / TT, gtb = p->v[P_GTB], obs = d.C_outp / (2 * OCB), gob = p->v[P_GOB];
    ARG(kgo, 0, V); ARG(kgo, 1, c->weight); ARG(kgo, 2, c->bias); ARG(kgo, 3, c->out);
    CL_CHECK(clSetKernelArg, (kgo, 4, gemm_out_local_bytes(p), NULL));
    ARG(kgo, 5, C_in); ARG(kgo, 6, C_out); ARG(kgo, 7, d.C_outp); ARG(kgo, 8, H); ARG(kgo, 9, W);
    ARG(kgo, 10, d.tiles_y); ARG(kgo, 11, d.tiles_x); ARG(kgo, 12, d.T); ARG(kgo, 13, d.Tp); ARG(kgo, 14, c->pool);
    size_t g[2] = { (size_t)(blocks + gtb - 1) / gtb, (size_t)(obs + gob - 1) / gob };
    return vggcl__enqueue(ctx, where, kgo, 2, g, vggcl__one_item, vggcl__conv_flops(c));
fail:
    return st;
}

const vggcl_conv_algo vggcl__conv_winograd = {
    "winograd", sizeof tunables / sizeof tunables[0], tunables, 1, defaults, valid, packed_floats, pack, workspace,
    launch, 0, NULL, program, NULL,
};
