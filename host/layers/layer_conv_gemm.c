/* Launcher for the `--conv gemm` path: kernels/im2col.cl + CLBlast SGEMM, one
 * image at a time through a (C_in * 9, H * W) workspace. CLBlast (1.5) takes its
 * offsets and indices as int: an image whose place in the output lies past that
 * is multiplied into a second workspace and copied there; a map whose matrices
 * are past it is refused. */
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

#define LOCAL_X 64

/* the weights as they are: (C_out, C_in * 9) is SGEMM's A */
static size_t packed_floats(const vggcl_conv_params *p, int C_out, int C_in)
{
    (void)p;
    return (size_t)C_out * C_in * 9;
}

static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    memcpy(packed, weight, packed_floats(p, C_out, C_in) * sizeof(float));
}

/* col (C_in * 9, H * W), one image at a time; one image's output (C_out, H * W) */
static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    (void)p, (void)N;
    ws[0] = (size_t)C_in * 9 * H * W;
    ws[1] = (size_t)C_out * H * W;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

/* Whether CLBlast's 32-bit offsets reach one image's product (vggcl__sgemm_reaches). */
static int reaches(const vggcl_ctx *ctx, int C_in, int C_out, int H, int W)
{
    return vggcl__sgemm_reaches(ctx, (size_t)C_out, (size_t)H * W, (size_t)C_in * 9, 0, 0, 0);
}

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel kcol, kbias;
    const cl_mem in = c->in, weight = c->weight, bias = c->bias, out = c->out, col = c->ws[0];
    const int N = c->N, C_in = c->C_in, C_out = c->C_out, H = c->H, W = c->W;
    (void)p;
    const int K = C_in * 9;
    const size_t hw = (size_t)H * W, image = C_out * hw;
    if (!reaches(ctx, C_in, C_out, H, W))
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: gemm (CLBlast) indexes its matrices in 32 bits: (%d x %d) "
                           "weights times a (%d x %zu) image, padded, is past %zu floats; another --conv runs it",
                           where, C_out, K, K, hw, vggcl__blas_reach(ctx));
    const int HW = (int)hw; /* (within reach) */
    if ((st = vggcl__kernel(ctx, VGGCL_K_IM2COL, where, &kcol)) != VGGCL_OK ||
        (st = vggcl__kernel(ctx, VGGCL_K_BIAS_RELU_ROWS, where, &kbias)) != VGGCL_OK)
        return st;
    size_t lx = LOCAL_X;
    if (vggcl__local_limit(ctx, kcol) < lx) lx = vggcl__local_limit(ctx, kcol);
    if (vggcl__local_limit(ctx, kbias) < lx) lx = vggcl__local_limit(ctx, kbias);
    size_t local[2] = { lx, 1 };
    size_t g_col[2] = { vggcl__round_up((size_t)HW, lx), (size_t)K };
    for (int n = 0; n < N; n++) {
        ARG(kcol, 0, in); ARG(kcol, 1, col); ARG(kcol, 2, n); ARG(kcol, 3, C_in); ARG(kcol, 4, H); ARG(kcol, 5, W);
        if ((st = vggcl__enqueue(ctx, where, kcol, 2, g_col, local, 0)) != VGGCL_OK) return st;
        const size_t at = (size_t)n * image;
        const int near = vggcl__sgemm_reaches(ctx, (size_t)C_out, hw, (size_t)K, 0, 0, at); /* (else the workspace) */
        if ((st = vggcl__sgemm(ctx, where, 0, (size_t)C_out, (size_t)HW, (size_t)K, weight, 0, col, 0,
                               near ? out : c->ws[1], near ? at : 0)) != VGGCL_OK)
            return st;
        if (!near)
            CL_CHECK(clEnqueueCopyBuffer, (ctx->queue, c->ws[1], out, 0, at * sizeof(float), image * sizeof(float), 0,
                                           NULL, NULL));
    }
    ARG(kbias, 0, out); ARG(kbias, 1, bias); ARG(kbias, 2, C_out); ARG(kbias, 3, HW);
    size_t g_bias[2] = { vggcl__round_up((size_t)HW, lx), (size_t)N * C_out };
    return vggcl__enqueue(ctx, where, kbias, 2, g_bias, local, 0);
fail:
    return st;
}

const vggcl_conv_algo vggcl__conv_gemm = {
    "gemm", 0, NULL, 0, NULL, NULL, packed_floats, pack, workspace, launch, 0, NULL, NULL, reaches,
};
