/* Launcher for kernels/gap.cl: one gap_partial pass when a work-group per
 * (n, c) row is enough, two when the rows are long (see the kernel's banner). */
#include "layers.h"

#define MAX_LOCAL 256
#define ITEMS_PER_THREAD 16 /* elements one work-item sums before the tree */

static size_t local_size(const vggcl_ctx *ctx, size_t len)
{
    size_t limit = ctx->max_wg < MAX_LOCAL ? ctx->max_wg : MAX_LOCAL;
    size_t l = vggcl__pow2_floor(limit);
    while (l > 1 && l / 2 >= len) l /= 2; /* no more threads than elements */
    return l;
}

/* Work-groups per row in stage 1. */
static size_t parts_for(const vggcl_ctx *ctx, size_t HW)
{
    size_t per_group = local_size(ctx, HW) * ITEMS_PER_THREAD;
    return (HW + per_group - 1) / per_group;
}

size_t vggcl__cl_gap_partial_floats(const vggcl_ctx *ctx, int N, int C, int H, int W)
{
    size_t parts = parts_for(ctx, (size_t)H * W);
    return parts > 1 ? (size_t)N * C * parts : 0;
}

/* One gap_partial launch: rows of length len, parts groups per row. */
static vggcl_status launch(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, size_t rows, int len,
                           size_t parts, float scale)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel(ctx, VGGCL_K_GAP, where, &k)) != VGGCL_OK) return st;
    int chunk = (int)(((size_t)len + parts - 1) / parts);
    size_t l = local_size(ctx, (size_t)chunk);
    while (l > vggcl__local_limit(ctx, k) && l > 1) l /= 2;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof len, &len));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof chunk, &chunk));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof scale, &scale));
    CL_CHECK(clSetKernelArg, (k, 5, l * sizeof(float), NULL));
    size_t local[2] = { l, 1 };
    size_t global[2] = { parts * l, rows };
    return vggcl__enqueue(ctx, where, k, 2, global, local, 0);
fail:
    return st;
}

vggcl_status vggcl__cl_gap(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, cl_mem partial, int N, int C,
                          int H, int W)
{
    const size_t rows = (size_t)N * C;
    const int HW = H * W;
    const size_t parts = parts_for(ctx, (size_t)HW);
    const float inv = (float)(1.0 / HW);
    if (parts == 1) return launch(ctx, where, in, out, rows, HW, 1, inv);
    vggcl_status st = launch(ctx, where, in, partial, rows, HW, parts, 1.0f);
    if (st != VGGCL_OK) return st;
    return launch(ctx, where, partial, out, rows, (int)parts, 1, inv);
}

vggcl_status vggcl__cl_adaptive_avgpool2d(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C,
                                         int H, int W, int OH, int OW)
{
    vggcl_status st;
    cl_kernel k;
    if ((st = vggcl__kernel(ctx, VGGCL_K_ADAPTIVE_AVGPOOL, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof H, &H));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof W, &W));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof OH, &OH));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof OW, &OW));
    size_t local[2] = { 64, 1 }, global[2] = { vggcl__round_up((size_t)OH * OW, 64), (size_t)N * C };
    if (vggcl__local_limit(ctx, k) < 64) local[0] = 1, global[0] = (size_t)OH * OW;
    return vggcl__enqueue(ctx, where, k, 2, global, local, 0);
fail:
    return st;
}
