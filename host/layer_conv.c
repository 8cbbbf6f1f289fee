/* Launcher for kernels/conv3x3.cl. */
#include "layers.h"

#define OC_TILE 4   /* must match the kernel's default */
#define LOCAL_X 16

vggcl_status vggcl_cl_conv3x3_bias_relu(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias,
                                        cl_mem out, int N, int C_in, int C_out, int H, int W)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel(ctx, VGGCL_K_CONV3X3, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof weight, &weight));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof bias, &bias));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof C_in, &C_in));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof C_out, &C_out));
    CL_CHECK(clSetKernelArg, (k, 6, sizeof H, &H));
    CL_CHECK(clSetKernelArg, (k, 7, sizeof W, &W));
    size_t lx = ctx->max_wg < LOCAL_X ? ctx->max_wg : LOCAL_X;
    size_t local[3] = { lx, 1, 1 };
    size_t global[3] = { vggcl__round_up((size_t)W, lx), (size_t)H,
                         (size_t)N * ((size_t)(C_out + OC_TILE - 1) / OC_TILE) };
    return vggcl__enqueue(ctx, where, k, 3, global, local, 2.0 * N * C_out * C_in * 9 * (double)H * W);
fail:
    return st;
}
