/* Launcher for kernels/cam.cl. */
#include "layers.h"

#define LOCAL_X 64

vggcl_status vggcl__cl_cam(vggcl_ctx *ctx, const char *where, cl_mem fmap, cl_mem head_w, cl_mem cls, cl_mem out,
                          int N, int C, int HW)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel(ctx, VGGCL_K_CAM, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof fmap, &fmap));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof head_w, &head_w));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof cls, &cls));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof C, &C));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof HW, &HW));
    const size_t limit = vggcl__local_limit(ctx, k), lx = limit < LOCAL_X ? limit : LOCAL_X;
    size_t local[2] = { lx, 1 }, global[2] = { vggcl__round_up((size_t)HW, lx), (size_t)N };
    return vggcl__enqueue(ctx, where, k, 2, global, local, 2.0 * N * C * (double)HW);
fail:
    return st;
}
