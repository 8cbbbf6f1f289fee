/* The shared path for device commands and buffers: every kernel launch goes
 * through vggcl__enqueue and every buffer through vggcl__buffer, so errors,
 * profiling events and memory accounting live in one place. */
#define _DEFAULT_SOURCE /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

cl_event *vggcl__prof_slot(vggcl_ctx *ctx, const char *where, double flops)
{
    if (!ctx->profiling) return NULL;
    if (ctx->prof_n == ctx->prof_cap) {
        int cap = ctx->prof_cap ? 2 * ctx->prof_cap : 64;
        vggcl_prof_entry *grown = realloc(ctx->prof, (size_t)cap * sizeof *grown);
        if (!grown) return NULL; /* profiling is best effort; the pass goes on */
        ctx->prof = grown;
        ctx->prof_cap = cap;
    }
    vggcl_prof_entry *e = &ctx->prof[ctx->prof_n++];
    snprintf(e->layer, sizeof e->layer, "%s", where ? where : "");
    const vggcl_prof_conv *c = ctx->prof_conv;
    snprintf(e->params, sizeof e->params, "%s", c ? c->params : "");
    snprintf(e->name, sizeof e->name, "%s", c ? c->name : "");
    snprintf(e->algorithm, sizeof e->algorithm, "%s", c ? c->algorithm : "");
    e->tuned = c ? c->tuned : -1;
    e->fused_pool = c ? c->fused_pool : 0;
    e->flops = flops;
    e->event = e->first = NULL;
    return &e->event;
}

void vggcl__prof_reset(vggcl_ctx *ctx)
{
    for (int i = 0; i < ctx->prof_n; i++) {
        const char *where = ctx->prof[i].layer; /* (the layer the event timed) */
        if (ctx->prof[i].event) CL_CLEANUP(clReleaseEvent, (ctx->prof[i].event));
        if (ctx->prof[i].first) CL_CLEANUP(clReleaseEvent, (ctx->prof[i].first));
    }
    ctx->prof_n = 0;
}

/* An entry's start and end on the device clock (ns): 1, or 0 when unknown. */
static int prof_times(const vggcl_prof_entry *e, cl_ulong *t0, cl_ulong *t1)
{
    if (!e->event) return 0;
    /* (a driver without a marker's times: from the last kernel's start, as CLBlast's event alone says) */
    if (!e->first || clGetEventProfilingInfo(e->first, CL_PROFILING_COMMAND_START, sizeof *t0, t0, NULL) != CL_SUCCESS)
        if (clGetEventProfilingInfo(e->event, CL_PROFILING_COMMAND_START, sizeof *t0, t0, NULL) != CL_SUCCESS) return 0;
    return clGetEventProfilingInfo(e->event, CL_PROFILING_COMMAND_END, sizeof *t1, t1, NULL) == CL_SUCCESS && *t1 >= *t0;
}

double vggcl__prof_ms(const vggcl_prof_entry *e)
{
    cl_ulong t0 = 0, t1 = 0;
    return prof_times(e, &t0, &t1) ? (t1 - t0) * 1e-6 : 0;
}

double vggcl__prof_span_ms(const vggcl_ctx *ctx)
{
    cl_ulong first = 0, last = 0;
    for (int i = 0; i < ctx->prof_n; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (!prof_times(&ctx->prof[i], &t0, &t1)) return 0;
        if (!i || t0 < first) first = t0;
        if (!i || t1 > last) last = t1;
    }
    return ctx->prof_n ? (last - first) * 1e-6 : 0;
}

const size_t vggcl__one_item[3] = { 1, 1, 1 };

vggcl_status vggcl__enqueue(vggcl_ctx *ctx, const char *where, cl_kernel k, cl_uint dims, const size_t *global,
                            const size_t *local, double flops)
{
    vggcl_status st = VGGCL_OK;
    /* No local size on a CPU: one work-item per work-group. Left to PoCL, the size follows the global
     * size, and each new size compiles the kernel again (seconds) when the batch or image size changes;
     * the CPU kernels vectorize within a work-item, so nothing is lost. GPU drivers choose well. */
    if (!local && !ctx->is_gpu) local = vggcl__one_item;
    size_t items = 1;
    for (cl_uint d = 0; local && d < dims; d++) items *= local[d];
    if (items > 1 && items > vggcl__local_limit(ctx, k)) /* (the launchers size them; this names a slip) */
        return vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s: work-groups of %zu items, where this device runs the kernel "
                                                  "in at most %zu", where, items, vggcl__local_limit(ctx, k));
    /* the rows each launch takes in dimensions 1 and 2 (whole work-groups, at most VGGCL_GRID_ROWS rows and
     * so groups), and how many launches (a size of 0 is one launch, which the driver refuses) */
    size_t step[3] = { global[0], 1, 1 }, launches = 1, made = 0, off[3] = { 0, 0, 0 }, g[3] = { global[0], 1, 1 };
    const size_t rows = ctx->grid_rows ? ctx->grid_rows : VGGCL_GRID_ROWS;
    for (cl_uint d = 1; d < dims && launches; d++) {
        const size_t l = local && local[d] ? local[d] : 1, most = rows < l ? l : rows / l * l;
        step[d] = global[d] > most ? most : global[d];
        launches = global[d] ? launches * ((global[d] + step[d] - 1) / step[d]) : 0;
    }
    if (!launches) launches = 1;
    cl_event *ev = vggcl__prof_slot(ctx, where, flops);
    if (launches == 1) /* (the usual case: the sizes as given) */
        CL_CHECK(clEnqueueNDRangeKernel, (ctx->queue, k, dims, NULL, global, local, 0, NULL, ev));
    for (off[2] = 0; launches > 1 && off[2] < (dims > 2 ? global[2] : 1); off[2] += step[2])
        for (off[1] = 0; off[1] < (dims > 1 ? global[1] : 1); off[1] += step[1]) {
            for (cl_uint d = 1; d < dims; d++) g[d] = global[d] - off[d] < step[d] ? global[d] - off[d] : step[d];
            made++;
            /* timed from the first launch's start to the last's end */
            cl_event *e = !ev ? NULL : made == launches ? ev : made == 1 ? &ctx->prof[ctx->prof_n - 1].first : NULL;
            CL_CHECK(clEnqueueNDRangeKernel, (ctx->queue, k, dims, off, g, local, 0, NULL, e));
        }
    return VGGCL_OK;
fail:
    if (ev && ctx->prof[ctx->prof_n - 1].first) CL_CLEANUP(clReleaseEvent, (ctx->prof[ctx->prof_n - 1].first));
    if (ev) ctx->prof_n--;
    return st;
}

vggcl_status vggcl__buffer(vggcl_ctx *ctx, const char *where, cl_mem_flags flags, size_t bytes, void *host,
                           cl_mem *out)
{
    vggcl_status st = VGGCL_OK;
    cl_int err = vggcl__fault(ctx, "clCreateBuffer");
    *out = err == CL_SUCCESS ? clCreateBuffer(ctx->cl, flags, bytes ? bytes : 4, host, &err) : NULL;
    CL_CHECK_RET(clCreateBuffer, err);
    ctx->dev_buffers++;
    ctx->dev_bytes += bytes;
    if (ctx->dev_bytes > ctx->dev_peak) ctx->dev_peak = ctx->dev_bytes;
fail:
    return st;
}

/* With VGGCL_HUGE_PAGES=1, asks Linux to back a large mapped region of a CPU device with huge pages: the map is the
 * device's own memory (PoCL's), and the packed weights written into it then fault in 2 MiB at a time instead of 4 KiB.
 * Off by default (on for a while in 0.3's making; no release advised): the packed weights load 0.9x as fast so where
 * free memory is at hand in whole 2 MiB pages (a process started right after another; VGG16 on PoCL on a 2-vCPU Xeon,
 * 369 against 412 ms), but where it is not, Linux compacts it first (MPI ranks loading at once wait on each other
 * there: on the GPU machine's 8 ranks 0.39-0.46 s against 0.25-0.30 s), and in a virtual machine that hands freed
 * memory back to its host (virtio-balloon's free page reporting: Firecracker, QEMU), every 2 MiB page touched first is
 * the host's to fault in: a whole `bench --random --size 32 --iters 1` took 1.84-2.25 s with the advice against
 * 0.36-0.41 s without (its sys time 3.1-3.8 s against 0.3 s; a 2-vCPU Zen 4 under Firecracker, 2026-12-07, four
 * alternating rounds 12 s apart; in a 40 s window of the classify tests, a fifth of the machine's CPU time went
 * there). Only a hint, ignored without transparent huge pages. Not on GPUs: a driver's staging mapping is its own
 * business. */
static void advise_huge_pages(void *host, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const long page = sysconf(_SC_PAGESIZE);
    const char *on = getenv("VGGCL_HUGE_PAGES"); /* (exactly "1": any other value is the default) */
    if (page <= 0 || bytes < ((size_t)2 << 20) || !on || strcmp(on, "1")) return;
    const uintptr_t lo = ((uintptr_t)host + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    const uintptr_t hi = ((uintptr_t)host + bytes) / (uintptr_t)page * (uintptr_t)page;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)host, (void)bytes;
#endif
}

vggcl_status vggcl__map_write(vggcl_ctx *ctx, const char *where, cl_mem mem, size_t bytes, void **host)
{
    vggcl_status st = VGGCL_OK;
    cl_int err = vggcl__fault(ctx, "clEnqueueMapBuffer");
    *host = err == CL_SUCCESS ? clEnqueueMapBuffer(ctx->queue, mem, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, bytes,
                                                   0, NULL, NULL, &err)
                              : NULL;
    CL_CHECK_RET(clEnqueueMapBuffer, err);
    if (ctx->is_cpu) advise_huge_pages(*host, bytes);
fail:
    return st;
}

vggcl_status vggcl__unmap(vggcl_ctx *ctx, const char *where, cl_mem mem, void *host)
{
    vggcl_status st = VGGCL_OK;
    CL_CHECK(clEnqueueUnmapMemObject, (ctx->queue, mem, host, 0, NULL, NULL));
fail:
    return st;
}

void vggcl__release(vggcl_ctx *ctx, const char *what, cl_mem *mem)
{
    if (!mem || !*mem) return;
    if (vggcl__forked()) { /* (a parent's buffer, not this process's to give back: CL_CLEANUP) */
        *mem = NULL;
        return;
    }
    size_t bytes = 0;
    const cl_int got = clGetMemObjectInfo(*mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    char where[400];
    snprintf(where, sizeof where, "%s: a device buffer of %zu bytes", what ? what : "vggcl", bytes);
    vggcl__cleanup_said(ctx, where, "clGetMemObjectInfo", got); /* (not injected: the count of bytes held would drift) */
    if (got == CL_SUCCESS && ctx && ctx->dev_bytes >= bytes) ctx->dev_bytes -= bytes;
    if (ctx) ctx->dev_buffers--;
    CL_CLEANUP(clReleaseMemObject, (*mem));
    *mem = NULL;
}

vggcl_status vggcl_profile(vggcl_ctx *ctx, int on)
{
    if (!ctx) return VGGCL_ERR_ARG;
    /* (off is off everywhere: a cleanup's vggcl_profile(ctx, 0) on the reference was refused) */
    if (on && (!ctx->selected || ctx->use_ref))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "profiling needs an OpenCL device (select one first; ref has none)");
    vggcl__prof_reset(ctx);
    ctx->profiling = on;
    return VGGCL_OK;
}

int vggcl_profile_read(vggcl_ctx *ctx, vggcl_layer_profile *out, int cap)
{
    int n = 0;
    if (!ctx || vggcl__forked()) return 0; /* (a forked child: the parent's events are not its driver's) */
    if (!out) cap = 0; /* (the count alone) */
    for (int i = 0; i < ctx->prof_n; i++) {
        const vggcl_prof_entry *e = &ctx->prof[i];
        const double ms = vggcl__prof_ms(e);
        /* commands of one layer (GAP's two stages, SGEMM + bias) are merged */
        if (i > 0 && !strcmp(ctx->prof[i - 1].layer, e->layer)) {
            if (n <= cap) {
                out[n - 1].ms += ms;
                out[n - 1].gflop += e->flops * 1e-9;
            }
            continue;
        }
        if (n < cap) {
            snprintf(out[n].layer, sizeof out[n].layer, "%s", e->layer);
            snprintf(out[n].params, sizeof out[n].params, "%s", e->params);
            out[n].tuned = e->tuned;
            snprintf(out[n].name, sizeof out[n].name, "%s", e->name);
            snprintf(out[n].algorithm, sizeof out[n].algorithm, "%s", e->algorithm);
            out[n].fused_pool = e->fused_pool;
            out[n].ms = ms;
            out[n].gflop = e->flops * 1e-9;
        }
        n++;
    }
    return n;
}

size_t vggcl_device_bytes_peak(const vggcl_ctx *ctx)
{
    return ctx ? ctx->dev_peak : 0;
}
