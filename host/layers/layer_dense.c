/* Launcher for the dense layers of the head: kernels/dense.cl's dense for the
 * small ones, CLBlast SGEMM (out = in * weight^T) then bias_add for the large
 * ones; and vggcl__sgemm, the one path into CLBlast. */
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>

#include "layers.h"

#define LOCAL_X 64

static const char *clblast_name(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    default: return (int)s > -1000 ? vggcl__cl_error_name((cl_int)s) : "CLBlast error";
    }
}

/* Live contexts that called CLBlast, and those freed since its caches were last emptied (under vggcl__lock). */
static int clblast_users, clblast_freed;

void vggcl__sgemm_release(vggcl_ctx *ctx)
{
    /* (not in a forked child, where the parent's OpenCL objects are not its to release, nor its lock to take:
     * forked while another thread was in CLBlast, the child inherited it held and waited on it for ever) */
    if (!ctx->used_clblast || vggcl__forked()) return;
    vggcl__lock();
    if (--clblast_users == 0 || ++clblast_freed == VGGCL__CLBLAST_FREED_MAX) {
        (void)CLBlastClearCache(); /* (a failure changes no result: the caches stay) */
        clblast_freed = 0;
    }
    vggcl__unlock();
}

vggcl_status vggcl__sgemm(vggcl_ctx *ctx, const char *where, int trans_b, size_t M, size_t N, size_t K, cl_mem a,
                          size_t a_off, cl_mem b, size_t b_off, cl_mem c, size_t c_off)
{
    if (!vggcl__sgemm_reaches(ctx, M, N, K, a_off, b_off, c_off))
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: CLBlast's SGEMM indexes in 32 bits: (%zu x %zu) times (%zu x %zu), "
                           "padded, is past its reach", where, M, K, K, N);
    cl_event *ev = vggcl__prof_slot(ctx, where, 2.0 * M * N * K);
    if (ev) { /* (CLBlast's event is its last kernel's, a copy of C where C was padded: timed from a marker) */
        cl_int e = vggcl__fault(ctx, "clEnqueueMarkerWithWaitList");
        if (e == CL_SUCCESS) e = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &ctx->prof[ctx->prof_n - 1].first);
        if (e != CL_SUCCESS) {
            ctx->prof_n--;
            return vggcl__cl_fail(ctx, where, "clEnqueueMarkerWithWaitList", e);
        }
    }
    CLBlastStatusCode s = (CLBlastStatusCode)vggcl__fault(ctx, "CLBlastSgemm");
    if (s == CLBlastSuccess) {
        /* CLBlast 1.5 builds its tuning database on first use without a lock (two
         * threads at once: a use-after-free under ASan), so its calls are serialized */
        vggcl__lock();
        if (!ctx->used_clblast) ctx->used_clblast = 1, clblast_users++; /* (its caches now hold this context) */
        s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                         M, N, K, 1.0f, a, a_off, K, b, b_off, trans_b ? K : N, 0.0f, c, c_off, N, &ctx->queue, ev);
        vggcl__unlock();
    }
    if (s == CLBlastSuccess) return VGGCL_OK;
    if (ev) { /* no command was recorded but the marker */
        CL_CLEANUP(clReleaseEvent, (ctx->prof[--ctx->prof_n].first));
        ctx->prof[ctx->prof_n].first = NULL;
    }
    vggcl_status st = (int)s > -1000 ? vggcl__cl_fail(ctx, where, "CLBlastSgemm", (cl_int)s) : VGGCL_ERR_DEVICE;
    return vggcl__fail(ctx, st, "%s: CLBlastSgemm -> %s (%d)", where, clblast_name(s), (int)s);
}

size_t vggcl__sgemm_temp_floats(size_t M, size_t N, size_t K)
{
    const size_t m = vggcl__round_up(M, 128), n = vggcl__round_up(N, 128), k = vggcl__round_up(K, 128);
    return m * k + k * n + m * n;
}

size_t vggcl__blas_reach(const vggcl_ctx *ctx) { return ctx->blas_reach ? ctx->blas_reach : INT_MAX; }

int vggcl__sgemm_reaches(const vggcl_ctx *ctx, size_t M, size_t N, size_t K, size_t a_off, size_t b_off,
                         size_t c_off)
{
    const size_t reach = vggcl__blas_reach(ctx);
    return vggcl__sgemm_temp_floats(M, N, K) <= reach && a_off + M * K <= reach && b_off + K * N <= reach &&
           c_off + M * N <= reach;
}

int vggcl__dense_uses_sgemm(const vggcl_ctx *ctx, int N, int K, int C)
{
    /* (past CLBlast's 32-bit reach, as a head of 100000 classes on 25088 features: the small kernel, in size_t) */
    return (double)N * C * K > VGGCL_DENSE_SMALL_MACS && vggcl__sgemm_reaches(ctx, (size_t)N, (size_t)C, (size_t)K, 0, 0, 0);
}

/* One work-item per output, work-groups of a fixed size: one compile whatever the batch. */
static vggcl_status dense_small(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias, cl_mem out,
                                int N, int K, int C, int relu)
{
    vggcl_status st;
    cl_kernel k;
    size_t lx = vggcl__pow2_floor(ctx->max_wg < LOCAL_X ? ctx->max_wg : LOCAL_X);
    char defines[32];
    for (;;) { /* DENSE_WG is the kernel's: built again smaller where the driver allows it fewer items */
        snprintf(defines, sizeof defines, "-DDENSE_WG=%zu", lx);
        if ((st = vggcl__kernel_v(ctx, VGGCL_K_DENSE, lx == LOCAL_X ? "" : defines, where, &k)) != VGGCL_OK)
            return st;
        if (vggcl__local_limit(ctx, k) >= lx || lx == 1) break;
        lx = vggcl__pow2_floor(vggcl__local_limit(ctx, k));
    }
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof weight, &weight));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof bias, &bias));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof N, &N));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof K, &K));
    CL_CHECK(clSetKernelArg, (k, 6, sizeof C, &C));
    CL_CHECK(clSetKernelArg, (k, 7, sizeof relu, &relu));
    size_t global = vggcl__round_up((size_t)N * C, lx);
    return vggcl__enqueue(ctx, where, k, 1, &global, &lx, 2.0 * N * C * (double)K);
fail:
    return st;
}

vggcl_status vggcl__cl_dense_with(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias, cl_mem out,
                                  int N, int K, int C, int relu, int path)
{
    vggcl_status st;
    cl_kernel k;
    if (path == VGGCL_DENSE_AUTO) path = vggcl__dense_uses_sgemm(ctx, N, K, C) ? VGGCL_DENSE_SGEMM : VGGCL_DENSE_SMALL;
    if (path == VGGCL_DENSE_SMALL) return dense_small(ctx, where, in, weight, bias, out, N, K, C, relu);
    if ((st = vggcl__sgemm(ctx, where, 1, (size_t)N, (size_t)C, (size_t)K, in, 0, weight, 0, out, 0)) != VGGCL_OK)
        return st;
    if ((st = vggcl__kernel(ctx, VGGCL_K_BIAS_ADD, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof bias, &bias));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof N, &N));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof C, &C));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof relu, &relu));
    const size_t limit = vggcl__local_limit(ctx, k);
    size_t lx = limit < LOCAL_X ? limit : LOCAL_X;
    size_t global = vggcl__round_up((size_t)N * C, lx);
    return vggcl__enqueue(ctx, where, k, 1, &global, &lx, 0);
fail:
    return st;
}

vggcl_status vggcl__cl_dense(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias, cl_mem out,
                            int N, int K, int C, int relu)
{
    return vggcl__cl_dense_with(ctx, where, in, weight, bias, out, N, K, C, relu, VGGCL_DENSE_AUTO);
}
