/* Launcher for kernels/winograd_packed.cl: Winograd F(4x4, 3x3) and F(6x6, 3x3) on the
 * channel-packed layout (layers.h), the weight layout it reads, its workspace, the algorithm table's
 * "winograd-packed" entry, and the conversions between that layout and NCHW. */
#include <stdio.h>
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

/* M: the output tile's side, F(MxM, 3x3) (4: 36 points, 6: 64, fewer products per output and
 * larger transforms); R: tiles per block (R x OG float16 accumulators); OG: groups of 16 output channels per
 * work-item (cut to a divisor of the layer's groups at launch); TB: blocks per work-item, whose
 * products take turns on each point's weights (read from memory once for R TB tiles); FUSE: 1
 * runs the layers of up to 256 channels in and out as one pass (packed_fused) where the device's
 * local memory holds the layer's (valid()), 0 runs every layer as two (packed_input,
 * packed_gemm_out); host-only; TCH: the two passes' GEMM runs its blocks of tiles in chunks of TCH, each
 * for every group of filters in turn (0: all of them for one group, then the next), so that a chunk's
 * transformed input stays in cache (the two passes' program alone reads it). */
static const vggcl_tunable tunables[] = {
    { "M", 4, { 4, 6 }, 0 },
    { "R", 14, { 4, 5, 6, 7, 8, 12, 14, 16 }, 0 },
    { "OG", 2, { 1, 2, 4 }, 0 },
    { "FUSE", 1, { 0, 1 }, VGGCL_HOST_ONLY },
    { "TB", 1, { 1, 2, 3, 4 }, 0 },
    { "TCH", 0, { 0, 2, 4, 8, 16, 32 }, VGGCL_PROG_BIT(VGGCL_PROG_WINO_PACKED) },
};
enum { P_M, P_R, P_OG, P_FUSE, P_TB, P_TCH };
#define ONE_PASS_MAX_C VGGCL_PACKED_ONE_PASS_MAX_C

static int pad16(int c)
{
    return (int)vggcl__round_up((size_t)c, 16);
}

size_t vggcl__packed_floats(int N, int C, int H, int W)
{
    return (size_t)N * pad16(C) * VGGCL_PACKED_SIDE(H) * VGGCL_PACKED_SIDE(W);
}

/* Groups of 16 output channels side by side per input channel in U: the OG asked for, so that a
 * work-item's groups are one run of memory and it reads no part of a run another pass over U
 * reads again (with runs of 4 groups, OG 2 made the one-pass layers at 56x56 take 1.08-1.15x the
 * time; the launch may still cut OG below it). */
static int il(const vggcl_conv_params *p)
{
    return p->v[P_OG];
}

/* Output channels of the packed weights: whole runs of IL groups of 16. */
static int c_outw(const vggcl_conv_params *p, int C_out)
{
    return (int)vggcl__round_up((size_t)C_out, 16 * il(p));
}

/* the transform's points: (M + 2)^2 */
static int points(const vggcl_conv_params *p)
{
    return (p->v[P_M] + 2) * (p->v[P_M] + 2);
}

/* tiles of one image */
static int tiles(const vggcl_conv_params *p, int H, int W)
{
    const int m = p->v[P_M];
    return ((H + m - 1) / m) * ((W + m - 1) / m);
}

static size_t packed_floats(const vggcl_conv_params *p, int C_out, int C_in)
{
    return (size_t)points(p) * c_outw(p, C_out) * pad16(C_in);
}

/* G g G^T for F(6x6, 3x3), as vggcl__wino_filters for F(4x4): G's rows are the points 0, +-1,
 * +-2, +-1/2 and infinity (the kernel's B^T and A^T take the same), in double until the end */
static void wino6_filters(const float *weight, int C_out, int C_in, int oc0, int n, int ic, float *u)
{
    static const double G[8][3] = { { 1, 0, 0 },
                                    { -2.0 / 9, -2.0 / 9, -2.0 / 9 },
                                    { -2.0 / 9, 2.0 / 9, -2.0 / 9 },
                                    { 1.0 / 90, 1.0 / 45, 2.0 / 45 },
                                    { 1.0 / 90, -1.0 / 45, 2.0 / 45 },
                                    { 32.0 / 45, 16.0 / 45, 8.0 / 45 },
                                    { 32.0 / 45, -16.0 / 45, 8.0 / 45 },
                                    { 0, 0, 1 } };
    for (int j = 0; j < n; j++) {
        double g[9] = { 0 }, t[8][3];
        if (oc0 + j < C_out && ic < C_in)
            for (int k = 0; k < 9; k++) g[k] = weight[((size_t)(oc0 + j) * C_in + ic) * 9 + k];
        for (int a = 0; a < 8; a++)
            for (int c = 0; c < 3; c++) t[a][c] = G[a][0] * g[c] + G[a][1] * g[3 + c] + G[a][2] * g[6 + c];
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 8; b++)
                u[(a * 8 + b) * n + j] = (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
    }
}

/* U (NP, C_outw / 16 IL, C_inp, 16 IL), zero past C_out and C_in: for each input channel the
 * filters of IL groups of 16 output channels side by side */
static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    const int IL = il(p), blocks = c_outw(p, C_out) / (16 * IL), C_inp = pad16(C_in), np = points(p);
    float u[64 * 16];
    for (int go = 0; go < blocks * IL; go++)
        for (int ic = 0; ic < C_inp; ic++) {
            if (p->v[P_M] == 6) wino6_filters(weight, C_out, C_in, go * 16, 16, ic, u);
            else vggcl__wino_filters(weight, C_out, C_in, go * 16, 16, ic, u);
            for (int xi = 0; xi < np; xi++)
                memcpy(packed + (((size_t)xi * blocks + go / IL) * C_inp + ic) * 16 * IL + go % IL * 16, u + xi * 16,
                       16 * sizeof(float));
        }
}

/* Local memory of the kernels: Vs (NP, RT, C_in), the one pass's only, and Ms (OG, NP, RT, 16),
 * RT = R TB. */
static size_t local_bytes(const vggcl_conv_params *p, int C_inp, size_t out[2])
{
    const size_t rt = (size_t)p->v[P_R] * p->v[P_TB], np = (size_t)points(p);
    out[0] = np * rt * C_inp * sizeof(float);
    out[1] = (size_t)p->v[P_OG] * np * rt * 16 * sizeof(float);
    return out[0] + out[1];
}

/* Whether the layer runs as one pass: with FUSE, up to 256 channels in and out, where V of a
 * block of tiles stays in L2 while every group of filters streams past it; the 512-channel
 * layers run the two passes, whose GEMM reads a slice of U once for many tiles (measured on
 * PoCL, tools/packed_winograd_study). valid() makes sure the one pass's local memory fits the
 * layer's channels. */
static int one_pass(const vggcl_conv_params *p, int C_in, int C_out)
{
    return p->v[P_FUSE] && pad16(C_in) <= ONE_PASS_MAX_C && pad16(C_out) <= ONE_PASS_MAX_C;
}

/* The program a launch of p builds: the one pass's or the two passes' (FUSE picks). */
static int program(const vggcl_conv_params *p, int C_in, int C_out, int H, int W)
{
    (void)H, (void)W;
    return one_pass(p, C_in, C_out) ? VGGCL_PROG_PACKED_ONE : VGGCL_PROG_WINO_PACKED;
}

static int valid(const vggcl_ctx *ctx, const vggcl_conv_params *p, int C_in, int C_out)
{
    size_t parts[2];
    return local_bytes(p, one_pass(p, C_in, C_out) ? pad16(C_in) : 0, parts) <= ctx->local_mem;
}

/* A narrow-vector CPU's R for n_tiles tiles: 6, or 5 where 6 rounds them up to over 5% more than 5 does,
 * then 4 where 5 rounds them up to over 10% more than 4 does */
static int narrow_r(long long n_tiles)
{
    const long long r6 = (n_tiles + 5) / 6 * 6, r5 = (n_tiles + 4) / 5 * 5, r4 = (n_tiles + 3) / 4 * 4;
    if (r6 * 100 <= r5 * 105) return 6;
    return r5 * 10 > r4 * 11 ? 4 : 5;
}

/* The two passes' chunk of tile blocks (TCH): the most, from 2 up to 32, whose transformed input V stays
 * within 4 MiB; 0 (no chunks) where the batch's blocks hold no more than that, or one chunk would hold them
 * all. VGG16 on PoCL, AMD EPYC (AVX2, 512 KiB of L2 per core, 16 MiB of L3), 2026-12-05, with blocks of R 5
 * then, against no chunks: its three 512-channel 28x28 layers at batch 8 (392 tiles: 79 blocks of 360 KiB)
 * 0.74-0.84x the time in chunks of 4 to 11 blocks (1.4-4 MiB), 0.86x with 16; at batch 1 (10 blocks, 3.5
 * MiB) chunks of 4 took 1.1-1.2x the time: U streamed past each chunk, where one pass over it served them
 * all. Set on a narrow-vector CPU, where it was measured. A value is a build option, so a new one (another
 * batch or map size) builds its program once. */
static int chunk(const vggcl_conv_params *p, int N, int C_in, int H, int W)
{
    const long long rt = (long long)p->v[P_R] * p->v[P_TB], blocks = ((long long)N * tiles(p, H, W) + rt - 1) / rt;
    const double block_bytes = (double)rt * pad16(C_in) * points(p) * sizeof(float);
    const double budget = 4.0 * 1024 * 1024;
    int tch = 32;
    while (tch > 2 && tch * block_bytes > budget) tch /= 2;
    return blocks * block_bytes > budget && tch < blocks ? tch : 0;
}

/* One pass: R 14, OG 2; F(6x6) for up to 128 output channels, with R 7 and OG 4 (VGG16's layers
 * at 224x224 and 112x112, at batch 1 0.91-0.95x the time of F(4x4) with R 14 and OG 2, and R 7 x
 * OG 4 then 0.976x the whole pass's time, batch 8 1.00x; at 56x56, 128->256 and 256->256, slower:
 * 64 points of 14 tiles of 256 channels fill L2, and the last tiles cover 60 pixels for 56),
 * except after an input of 16 channels or fewer (the image's 3, padded), where the transforms
 * outweigh the products. M and OG pick the weight layout (variant), so they depend on the
 * channels alone: a model packs its weights at load, before it knows the map size. Two passes:
 * OG 4, R 7 on maps of 28x28 and more, R 8 below (VGG16 at batch 1, 512->512 at 14x14: 2.1-2.6 ms
 * against 3.4-3.6 with R 16 and OG 1, which read U once, and 3.0-3.3 with R 8 and OG 2, both on
 * a layout of one group per run). A device with less local
 * memory than these need (a GPU's 48 KiB) gets two passes of 4 tiles and one group, decided
 * for the largest R the map size may pick (8), so that the layout (OG) does not depend on it.
 * Those blocks are sized for AVX-512's 32 registers of 16 floats (28 float16 accumulators). On a
 * CPU of narrower vectors (vggcl__narrow_vectors: AVX2's 16 registers of 8 hold 6 float16 with a
 * weight vector beside) they spill: there OG 1, TB 1, M as above, and R 6 (12 accumulators, two
 * weight vectors and a broadcast: AVX2's 16 registers), R 5 where R 6 pads the tiles it covers (an
 * image's in the one pass, the batch's in the two) by more than R 5 does and 5%, R 4 where R 5 pads
 * them by more than R 4 does and 10% (the 512 -> 512 layers at 14x14, batch 1: 16 tiles, R 5 taking
 * 20, 1.15-1.28x the time of R 4; at 28x28, 49 tiles, R 4 1.17x the time of R 5; at batch 8, 392 and
 * 128 tiles, R 4 1.06-1.14x). VGG16 on PoCL, AMD EPYC (AVX2, 512 KiB L2), 2026-12-04, paired whole
 * passes against the blocks above (and NCHW's 512-channel layers: vggcl__conv_default_algo): 0.57x
 * the time at batch 1 and 0.55x at batch 8. Per layer at batch 1 against R 6 then: in the one pass R 5
 * 0.93-0.96x the time, R 4 1.10-1.18x; TB 2 level with TB 1. Since the GEMM's pointers per tile (a
 * register each fewer), 2026-12-05, per-layer profiles at batch 1, 3 rounds, R 6 against R 5: the one
 * pass 0.92-0.96x (each layer but the first, level), the 14x14 layers 0.88x of R 4 (3 blocks of 6
 * tiles, 4 of 4: fewer passes over U), 28x28's 49 tiles 1.0-1.05x (54 for 50: R 5 kept); R 7 spills
 * (1.25x). There F(6x6) only past 64 input channels: up to 64, F(4x4) took 0.90-0.93x its time
 * (`vggcl tune` on that EPYC, 2026-12-05: 64 -> 64 at 224x224 and 64 -> 128 at 112x112 the only rows to
 * beat the defaults; paired per-layer profiles at batch 1, 9.6 -> 8.8 ms and 4.8 -> 4.35). */
static void defaults(const vggcl_ctx *ctx, int N, int C_in, int C_out, int H, int W, vggcl_conv_params *p)
{
    const int narrow = vggcl__narrow_vectors(ctx);
    if (narrow) p->v[P_R] = 6, p->v[P_OG] = 1;
    const vggcl_conv_params f4 = *p; /* (F(4x4)'s one pass: R 14, OG 2; narrow, R 6, OG 1) */
    if (one_pass(p, C_in, C_out) && pad16(C_in) > (narrow ? 64 : 16) && pad16(C_out) <= 128) {
        p->v[P_M] = 6;
        if (!narrow) p->v[P_R] = 7, p->v[P_OG] = 4;
    }
    if (one_pass(p, C_in, C_out) && !valid(ctx, p, C_in, C_out)) *p = f4; /* (its local memory holds the layer's V) */
    if (one_pass(p, C_in, C_out) && !valid(ctx, p, C_in, C_out)) p->v[P_FUSE] = 0;
    if (!one_pass(p, C_in, C_out)) {
        const int big = (long long)H * W >= 28 * 28; /* (a tuning table's row may say 65536 x 65536) */
        p->v[P_R] = big ? 7 : 8;
        p->v[P_OG] = narrow ? 1 : 4;
        p->v[P_TB] = narrow ? 1 : 2;
    }
    if (narrow) p->v[P_R] = narrow_r((one_pass(p, C_in, C_out) ? 1 : (long long)N) * tiles(p, H, W));
    vggcl_conv_params largest = *p; /* (of every R the map size may pick) */
    largest.v[P_R] = narrow ? 6 : one_pass(p, C_in, C_out) ? p->v[P_R] : 8;
    if (!valid(ctx, &largest, C_in, C_out)) p->v[P_FUSE] = 0, p->v[P_R] = 4, p->v[P_OG] = 1, p->v[P_TB] = 1;
    if (narrow && !one_pass(p, C_in, C_out)) p->v[P_TCH] = chunk(p, N, C_in, H, W);
}

/* V (NP, T_all, C_inp) for the two passes */
static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    ws[0] = one_pass(p, C_in, C_out) ? 0 : (size_t)points(p) * N * tiles(p, H, W) * pad16(C_in);
    ws[1] = 0;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

/* The output map's border and the rows and columns past it, which the convolution does not write. */
static vggcl_status clear_border(vggcl_ctx *ctx, const char *where, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel k;
    const int Oh = c->pool ? c->H / 2 : c->H, Ow = c->pool ? c->W / 2 : c->W;
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_BORDER, "", where, &k)) != VGGCL_OK) return st;
    ARG(k, 0, c->out); ARG(k, 1, Oh); ARG(k, 2, Ow);
    size_t g[2] = { (size_t)VGGCL_PACKED_SIDE(Oh), (size_t)c->N * pad16(c->C_out) / 16 };
    return vggcl__enqueue(ctx, where, k, 2, g, NULL, 0);
fail:
    return st;
}

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel k, kin;
    char defines[96];
    size_t local[2];
    vggcl_conv_params q = *p;
    const int C_inp = pad16(c->C_in), C_outp = pad16(c->C_out), G_out = C_outp / 16, RT = p->v[P_R] * p->v[P_TB];
    while (G_out % q.v[P_OG]) q.v[P_OG] /= 2; /* OG divides the groups */
    const int prog = program(&q, c->C_in, c->C_out, c->H, c->W), one = prog == VGGCL_PROG_PACKED_ONE;
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD_PACKED, &q, prog, defines, sizeof defines);
    const size_t len = strlen(defines);
    snprintf(defines + len, sizeof defines - len, " -DIL=%d", il(p)); /* the layout's runs, before the cut */
    if ((st = clear_border(ctx, where, c)) != VGGCL_OK) return st;
    const int T = tiles(&q, c->H, c->W), T_all = c->N * T;
    local_bytes(&q, C_inp, local);
    if (one) {
        if ((st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_FUSED, defines, where, &k)) != VGGCL_OK) return st;
        ARG(k, 0, c->in); ARG(k, 1, c->weight); ARG(k, 2, c->bias); ARG(k, 3, c->out);
        CL_CHECK(clSetKernelArg, (k, 4, local[0], NULL));
        CL_CHECK(clSetKernelArg, (k, 5, local[1], NULL));
        ARG(k, 6, C_inp); ARG(k, 7, c->C_in); ARG(k, 8, C_outp); ARG(k, 9, c->C_out); ARG(k, 10, c->H);
        ARG(k, 11, c->W); ARG(k, 12, c->pool);
        size_t g[2] = { (size_t)(T + RT - 1) / RT, (size_t)c->N };
        return vggcl__enqueue(ctx, where, k, 2, g, vggcl__one_item, vggcl__conv_flops(c));
    }
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_INPUT, defines, where, &kin)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_GEMM_OUT, defines, where, &k)) != VGGCL_OK)
        return st;
    ARG(kin, 0, c->in); ARG(kin, 1, c->ws[0]); ARG(kin, 2, C_inp); ARG(kin, 3, c->H); ARG(kin, 4, c->W);
    size_t g_in[2] = { (size_t)T_all, (size_t)C_inp / 16 };
    if ((st = vggcl__enqueue(ctx, where, kin, 2, g_in, NULL, 0)) != VGGCL_OK) return st;
    ARG(k, 0, c->ws[0]); ARG(k, 1, c->weight); ARG(k, 2, c->bias); ARG(k, 3, c->out);
    CL_CHECK(clSetKernelArg, (k, 4, local[1], NULL));
    ARG(k, 5, C_inp); ARG(k, 6, c->C_in); ARG(k, 7, C_outp); ARG(k, 8, c->C_out); ARG(k, 9, c->H); ARG(k, 10, c->W);
    ARG(k, 11, T_all); ARG(k, 12, c->pool);
    size_t g[2] = { (size_t)(T_all + RT - 1) / RT, (size_t)G_out / q.v[P_OG] };
    return vggcl__enqueue(ctx, where, k, 2, g, vggcl__one_item, vggcl__conv_flops(c));
fail:
    return st;
}

/* The weight layout: F(4x4) and F(6x6) transform the weights differently, and OG sets the runs
 * (il); 2 x 3 layouts. */
static int variant(const vggcl_conv_params *p)
{
    const int og = p->v[P_OG] == 4 ? 2 : p->v[P_OG] == 2;
    return (p->v[P_M] == 6) * 3 + og;
}

const vggcl_conv_algo vggcl__conv_winograd_packed = {
    "winograd-packed", sizeof tunables / sizeof tunables[0], tunables, 1, defaults, valid, packed_floats, pack, workspace,
    launch, 1, variant, program, NULL,
};

vggcl_status vggcl__cl_pack(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H, int W)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_FROM_NCHW, "", where, &k)) != VGGCL_OK) return st;
    ARG(k, 0, in); ARG(k, 1, out); ARG(k, 2, C); ARG(k, 3, H); ARG(k, 4, W);
    size_t g[2] = { (size_t)VGGCL_PACKED_SIDE(H), (size_t)N * pad16(C) / 16 };
    return vggcl__enqueue(ctx, where, k, 2, g, NULL, 0);
fail:
    return st;
}

vggcl_status vggcl__cl_unpack(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H, int W)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_PACKED_TO_NCHW, "", where, &k)) != VGGCL_OK) return st;
    ARG(k, 0, in); ARG(k, 1, out); ARG(k, 2, C); ARG(k, 3, W);
    size_t g[2] = { (size_t)H, (size_t)N * pad16(C) / 16 };
    return vggcl__enqueue(ctx, where, k, 2, g, NULL, 0);
fail:
    return st;
}
