/* Launcher for the `--conv gemm` path: kernels/im2col.cl + CLBlast SGEMM, one
 * image at a time through a (C_in * 9, H * W) workspace. */
#include "layers.h"

#define LOCAL_X 64

size_t vggcl__gemm_workspace_floats(int C_in, int H, int W)
{
    return (size_t)C_in * 9 * H * W;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

vggcl_status vggcl_cl_conv3x3_gemm(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias,
                                   cl_mem out, cl_mem col, int N, int C_in, int C_out, int H, int W)
{
    vggcl_status st;
    cl_kernel kcol, kbias;
    const int HW = H * W, K = C_in * 9;
    if ((st = vggcl__kernel(ctx, VGGCL_K_IM2COL, where, &kcol)) != VGGCL_OK ||
        (st = vggcl__kernel(ctx, VGGCL_K_BIAS_RELU_ROWS, where, &kbias)) != VGGCL_OK)
        return st;
    const size_t lx = ctx->max_wg < LOCAL_X ? ctx->max_wg : LOCAL_X;
    size_t local[2] = { lx, 1 };
    size_t g_col[2] = { vggcl__round_up((size_t)HW, lx), (size_t)K };
    for (int n = 0; n < N; n++) {
        ARG(kcol, 0, in); ARG(kcol, 1, col); ARG(kcol, 2, n); ARG(kcol, 3, C_in); ARG(kcol, 4, H); ARG(kcol, 5, W);
        if ((st = vggcl__enqueue(ctx, where, kcol, 2, g_col, local, 0)) != VGGCL_OK) return st;
        if ((st = vggcl__sgemm(ctx, where, 0, (size_t)C_out, (size_t)HW, (size_t)K, weight, 0, col, 0, out,
                               (size_t)n * C_out * HW)) != VGGCL_OK)
            return st;
    }
    ARG(kbias, 0, out); ARG(kbias, 1, bias); ARG(kbias, 2, C_out); ARG(kbias, 3, HW);
    size_t g_bias[2] = { vggcl__round_up((size_t)HW, lx), (size_t)N * C_out };
    return vggcl__enqueue(ctx, where, kbias, 2, g_bias, local, 0);
fail:
    return st;
}
