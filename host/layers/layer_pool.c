/* Launcher for kernels/maxpool.cl: maxpool2x2 for VGG's pools, maxpool2d for
 * every other kernel, stride, padding and ceil_mode. */
#include "layers.h"
#include "ref/ref.h"

#define LOCAL_X 8

vggcl_status vggcl__cl_maxpool2d(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H,
                                int W, int kernel_size, int stride, int padding, int ceil_mode)
{
    vggcl_status st;
    cl_kernel k;
    const int OH = vggcl__pool_out_size(H, kernel_size, stride, padding, ceil_mode);
    const int OW = vggcl__pool_out_size(W, kernel_size, stride, padding, ceil_mode);
    if (!vggcl__pool_params_ok(kernel_size, stride, padding))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: a %dx%d pool window, stride %d, padding %d: expected a window and "
                           "stride of at least 1 and padding of at most half the window", where, kernel_size,
                           kernel_size, stride, padding);
    if (OH < 1 || OW < 1)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: input %dx%d is smaller than the %dx%d pool window", where, H, W,
                           kernel_size, kernel_size);
    if (kernel_size == 2 && stride == 2 && padding == 0 && OH == H / 2 && OW == W / 2) {
        /* VGG's pool: the vectorized kernel (ceil_mode changes nothing when OH, OW floor) */
        if ((st = vggcl__kernel(ctx, VGGCL_K_MAXPOOL2X2, where, &k)) != VGGCL_OK) return st;
        CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
        CL_CHECK(clSetKernelArg, (k, 1, sizeof out, &out));
        CL_CHECK(clSetKernelArg, (k, 2, sizeof H, &H));
        CL_CHECK(clSetKernelArg, (k, 3, sizeof W, &W));
        CL_CHECK(clSetKernelArg, (k, 4, sizeof OH, &OH));
        CL_CHECK(clSetKernelArg, (k, 5, sizeof OW, &OW));
        size_t g2[3] = { (size_t)(OW + 7) / 8, (size_t)OH, (size_t)N * C };
        return vggcl__enqueue(ctx, where, k, 3, g2, NULL, 0);
    }
    if ((st = vggcl__kernel(ctx, VGGCL_K_MAXPOOL, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof H, &H));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof W, &W));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof OH, &OH));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof OW, &OW));
    CL_CHECK(clSetKernelArg, (k, 6, sizeof kernel_size, &kernel_size));
    CL_CHECK(clSetKernelArg, (k, 7, sizeof stride, &stride));
    CL_CHECK(clSetKernelArg, (k, 8, sizeof padding, &padding));
    const size_t limit = vggcl__local_limit(ctx, k);
    size_t lx = limit < LOCAL_X ? limit : LOCAL_X;
    size_t local[3] = { lx, 1, 1 };
    size_t global[3] = { vggcl__round_up((size_t)OW, lx), (size_t)OH, (size_t)N * C };
    return vggcl__enqueue(ctx, where, k, 3, global, local, 0);
fail:
    return st;
}
