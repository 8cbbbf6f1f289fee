/* Launcher for the GPU-shaped kernels of kernels/winograd.cl (F(4x4, 3x3)
 * around a local-memory tiled GEMM), the weight layout they read, their
 * workspace, and the algorithm table's "winograd-gpu" entry. */
#include <stdlib.h>
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

/* MWG x NWG: tiles x output channels per work-group; KWG: the K slice staged
 * in local memory; MDIMC x NDIMC: the work-group (each work-item computes
 * MWG/MDIMC x NWG/NDIMC); VWM, VWN: vector width of the staging loads. KPAD,
 * NPAD: the padded input and output channels of the packed weights (one value
 * each: the layout depends on them). */
static const vggcl_tunable tunables[] = {
    { "MWG", 64, { 32, 64, 128 }, 0 },
    { "NWG", 64, { 32, 64, 128 }, 0 },
    { "KWG", 16, { 8, 16, 32 }, 0 },
    { "MDIMC", 16, { 8, 16, 32 }, 0 },
    { "NDIMC", 16, { 8, 16, 32 }, 0 },
    { "VWM", 4, { 1, 2, 4 }, 0 },
    { "VWN", 4, { 1, 2, 4 }, 0 },
    { "KPAD", 32, { 32 }, 0 },
    { "NPAD", 128, { 128 }, 0 },
};
enum { P_MWG, P_NWG, P_KWG, P_MDIMC, P_NDIMC, P_VWM, P_VWN, P_KPAD, P_NPAD };

/* Work-items of the transforms along the tiles: a fixed local size (PoCL
 * compiles a kernel again for each new one). */
#define TRANSFORM_LOCAL 64

/* A pass's 4x4 tiles, in size_t: the defaults and the workspace are sized in the memory check, before a
 * batch too large is refused (an int wrapped past 2^31 tiles); a launch's counts fit an int once it passed. */
static size_t tiles(int N, int H, int W) { return (size_t)N * ((H + 3) / 4) * ((W + 3) / 4); }

/* Measured on an NVIDIA H200 (2026-11-30, every VGG16 layer at batch 1 and 32 with eight block
 * shapes, tools/gpu_check.sh's scan): 128 x 128 blocks of 8 x 8 per work-item with K slices of 8
 * wherever there are 512 tiles or more and 128 output channels or more (0.70-0.97x the time of
 * 64 x 64 blocks); 128 x 64 for fewer than 128 output channels at 2048 tiles or more (VGG16's
 * first two layers, 64 channels: 0.87x); 32 x 64 blocks of 4 x 4 for 32 tiles or fewer (the 14x14 layers at batch 1
 * have 16: 0.68x, half of a 64-tile block was padding); else 64 x 64 blocks of 4 x 8. */
static void defaults(const vggcl_ctx *ctx, int N, int C_in, int C_out, int H, int W, vggcl_conv_params *p)
{
    (void)ctx, (void)C_in;
    const size_t T = tiles(N, H, W);
    if (T >= 512 && C_out >= 128) {
        p->v[P_MWG] = p->v[P_NWG] = 128;
        p->v[P_KWG] = 8;
    } else if (T >= 2048) {
        p->v[P_MWG] = 128;
    } else if (T <= 32) {
        p->v[P_MWG] = 32;
        p->v[P_MDIMC] = 8;
    } else {
        p->v[P_NDIMC] = 8;
    }
}

static int valid(const vggcl_ctx *ctx, const vggcl_conv_params *p, int C_in, int C_out)
{
    (void)C_in, (void)C_out; /* (its local memory is the GEMM's tiles') */
    const int mwg = p->v[P_MWG], nwg = p->v[P_NWG], kwg = p->v[P_KWG], md = p->v[P_MDIMC], nd = p->v[P_NDIMC];
    const int vwm = p->v[P_VWM], vwn = p->v[P_VWN], wgs = md * nd;
    if (mwg % md || nwg % nd || p->v[P_KPAD] % kwg || p->v[P_NPAD] % nwg || mwg % vwm || nwg % vwn) return 0;
    if ((kwg * mwg / vwm) % wgs || (kwg * nwg / vwn) % wgs || kwg * mwg / vwm < wgs || kwg * nwg / vwn < wgs) return 0;
    const int per_item = (mwg / md) * (nwg / nd);
    if (per_item > 64) return 0; /* accumulators beyond this spill on every GPU we know */
    if ((size_t)wgs > ctx->max_wg) return 0;
    if ((cl_ulong)kwg * (mwg + nwg) * sizeof(float) > ctx->local_mem) return 0;
    return 1;
}

static int round_up(int n, int m) { return (n + m - 1) / m * m; }

/* U (36, Kp, Np), zero past C_in and C_out */
static size_t packed_floats(const vggcl_conv_params *p, int C_out, int C_in)
{
    return (size_t)36 * round_up(C_in, p->v[P_KPAD]) * round_up(C_out, p->v[P_NPAD]);
}

static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    const int Kp = round_up(C_in, p->v[P_KPAD]), Np = round_up(C_out, p->v[P_NPAD]);
    float u[36 * VGGCL_WINO_LANES];
    for (int ic = 0; ic < Kp; ic++)
        for (int oc0 = 0; oc0 < Np; oc0 += VGGCL_WINO_LANES) {
            const int n = Np - oc0 < VGGCL_WINO_LANES ? Np - oc0 : VGGCL_WINO_LANES;
            vggcl__wino_filters(weight, C_out, C_in, oc0, n, ic, u);
            for (int xi = 0; xi < 36; xi++)
                memcpy(packed + ((size_t)xi * Kp + ic) * Np + oc0, u + xi * n, n * sizeof(float));
        }
}

/* V (36, Kp, Tp) and M (36, Cp, Tp) */
static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    const size_t Tp = vggcl__round_up(tiles(N, H, W), (size_t)p->v[P_MWG]);
    ws[0] = 36 * Tp * round_up(C_in, p->v[P_KPAD]);
    ws[1] = 36 * Tp * round_up(C_out, p->v[P_NWG]);
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c);

/* The driver runs this build of the GEMM in work-groups of fewer items (limit) than p's MDIMC x NDIMC
 * (register-heavy kernels on some GPUs): the layer runs the nearest parameters of at most limit items
 * (this algorithm has one weight layout) that need no more workspace than p's, which the pass sized.
 * The context is left as it is (the pass's other buffers were sized by it), so each pass takes this
 * detour again: a kernel lookup and a launch. */
static vggcl_status refit(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c,
                          size_t limit)
{
    vggcl_ctx *limited = malloc(sizeof *limited); /* (only read: the limits valid() checks) */
    if (!limited) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    *limited = *ctx;
    limited->max_wg = limit;
    vggcl_conv_params q = *p;
    vggcl__conv_fit(limited, VGGCL_CONV_WINOGRAD_GPU, c->C_in, c->C_out, &q);
    const int fits = valid(limited, &q, c->C_in, c->C_out);
    free(limited);
    size_t wp[2], wq[2];
    workspace(p, c->N, c->C_in, c->C_out, c->H, c->W, wp);
    workspace(&q, c->N, c->C_in, c->C_out, c->H, c->W, wq);
    if (!fits || wq[0] > wp[0] || wq[1] > wp[1]) {
        char text[200];
        vggcl__conv_params_str(VGGCL_CONV_WINOGRAD_GPU, p, text, sizeof text);
        return vggcl__fail(ctx, VGGCL_ERR_DEVICE,
                           "%s: this device runs the winograd-gpu GEMM (%s) in work-groups of up to %zu items, "
                           "fewer than MDIMC x NDIMC, and no parameters of so few items fit (in its workspace); "
                           "try the direct algorithm", where, text, limit);
    }
    return launch(ctx, where, &q, c);
}

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel kin, kgemm, kout;
    char defines[160];
    const int tiles_y = (c->H + 3) / 4, tiles_x = (c->W + 3) / 4, T = (int)tiles(c->N, c->H, c->W);
    const int Tp = round_up(T, p->v[P_MWG]), Kp = round_up(c->C_in, p->v[P_KPAD]);
    const int Np = round_up(c->C_out, p->v[P_NPAD]), Cp = round_up(c->C_out, p->v[P_NWG]);
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD_GPU, p, VGGCL_PROG_WINO_GPU, defines, sizeof defines);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_WINO_GPU_INPUT, defines, where, &kin)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_WINO_GPU_GEMM, defines, where, &kgemm)) != VGGCL_OK ||
        (st = vggcl__kernel_v(ctx, VGGCL_K_WINO_GPU_OUTPUT, defines, where, &kout)) != VGGCL_OK)
        return st;
    const int md = p->v[P_MDIMC], nd = p->v[P_NDIMC];
    if ((size_t)(md * nd) > vggcl__local_limit(ctx, kgemm)) return refit(ctx, where, p, c, vggcl__local_limit(ctx, kgemm));
    size_t lt = TRANSFORM_LOCAL;
    if (vggcl__local_limit(ctx, kin) < lt) lt = vggcl__local_limit(ctx, kin);
    if (vggcl__local_limit(ctx, kout) < lt) lt = vggcl__local_limit(ctx, kout);
    size_t local[3] = { lt, 1, 1 };

    ARG(kin, 0, c->in); ARG(kin, 1, c->ws[0]); ARG(kin, 2, c->C_in); ARG(kin, 3, c->H); ARG(kin, 4, c->W);
    ARG(kin, 5, tiles_y); ARG(kin, 6, tiles_x); ARG(kin, 7, T); ARG(kin, 8, Tp); ARG(kin, 9, Kp);
    size_t g_in[2] = { vggcl__round_up((size_t)Tp, lt), (size_t)Kp };
    if ((st = vggcl__enqueue(ctx, where, kin, 2, g_in, local, 0)) != VGGCL_OK) return st;

    ARG(kgemm, 0, c->ws[0]); ARG(kgemm, 1, c->weight); ARG(kgemm, 2, c->ws[1]); ARG(kgemm, 3, Kp);
    ARG(kgemm, 4, Np); ARG(kgemm, 5, Cp); ARG(kgemm, 6, Tp);
    size_t g_gemm[3] = { (size_t)(Tp / p->v[P_MWG] * md), (size_t)(Cp / p->v[P_NWG] * nd), 36 };
    size_t l_gemm[3] = { (size_t)md, (size_t)nd, 1 };
    /* the layer's FLOPs are counted as the direct convolution's, so GFLOP/s compare */
    const double flops = vggcl__conv_flops(c);
    if ((st = vggcl__enqueue(ctx, where, kgemm, 3, g_gemm, l_gemm, flops)) != VGGCL_OK) return st;

    ARG(kout, 0, c->ws[1]); ARG(kout, 1, c->bias); ARG(kout, 2, c->out); ARG(kout, 3, c->C_out); ARG(kout, 4, Cp);
    ARG(kout, 5, c->H); ARG(kout, 6, c->W); ARG(kout, 7, tiles_y); ARG(kout, 8, tiles_x); ARG(kout, 9, T);
    ARG(kout, 10, Tp); ARG(kout, 11, c->pool);
    size_t g_out[2] = { vggcl__round_up((size_t)T, lt), (size_t)c->C_out };
    return vggcl__enqueue(ctx, where, kout, 2, g_out, local, 0);
fail:
    return st;
}

const vggcl_conv_algo vggcl__conv_winograd_gpu = {
    "winograd-gpu", 9, tunables, 1, defaults, valid, packed_floats, pack, workspace, launch, 0, NULL, NULL, NULL,
};
