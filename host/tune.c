/* vggcl tune: measures each convolution algorithm per layer shape on the
 * device and keeps the fastest in a table on disk, which model loading with
 * conv AUTO consults (model.c, choose_algo). The table is text, one line per
 * (C_in, C_out): "conv C_in C_out ALGORITHM [ms ...]"; lines it cannot read
 * are skipped, so a damaged table falls back to the defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layers.h"
#include "model.h"
#include "ref/ref.h"

static const char *const algo_names[] = { "auto", "direct", "winograd", "gemm" };

void vggcl__tune_load(vggcl_ctx *ctx)
{
    free(ctx->tuned);
    ctx->tuned = NULL;
    ctx->n_tuned = 0;
    if (!vggcl__cache_path(ctx, "vggcl tuning table", "", ".tune", ctx->tune_path, sizeof ctx->tune_path)) {
        ctx->tune_path[0] = '\0';
        return;
    }
    FILE *f = fopen(ctx->tune_path, "r");
    if (!f) return;
    char line[256], name[32];
    int c_in, c_out;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "conv %d %d %31s", &c_in, &c_out, name) != 3) continue;
        int algo = 0;
        for (int a = VGGCL_CONV_DIRECT; a <= VGGCL_CONV_GEMM; a++)
            if (!strcmp(name, algo_names[a])) algo = a;
        if (!algo) continue;
        int(*grown)[3] = realloc(ctx->tuned, (size_t)(ctx->n_tuned + 1) * sizeof *grown);
        if (!grown) break;
        ctx->tuned = grown;
        ctx->tuned[ctx->n_tuned][0] = c_in;
        ctx->tuned[ctx->n_tuned][1] = c_out;
        ctx->tuned[ctx->n_tuned][2] = algo;
        ctx->n_tuned++;
    }
    fclose(f);
}

int vggcl__tune_lookup(const vggcl_ctx *ctx, int c_in, int c_out)
{
    for (int i = ctx->n_tuned - 1; i >= 0; i--) /* the last line for a shape wins */
        if (ctx->tuned[i][0] == c_in && ctx->tuned[i][1] == c_out) return ctx->tuned[i][2];
    return 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* Times one conv layer with one algorithm: ms per pass, or a status. */
static vggcl_status time_algo(vggcl_ctx *ctx, const vggcl_step *s, int algo, int n, int h, int w, int iters,
                              double *ms)
{
    char where[160];
    vggcl_status st = VGGCL_OK;
    cl_mem in = NULL, out = NULL, wdev = NULL, bdev = NULL, ws1 = NULL, ws2 = NULL;
    float *packed = NULL;
    vggcl_step tmp = *s;
    tmp.algo = algo;
    const size_t nw = vggcl__conv_weight_floats(&tmp);
    snprintf(where, sizeof where, "tuning layer %s (conv %d->%d, %dx%d, %s)", s->name, s->c_in, s->c_out, h, w,
             algo_names[algo]);
    if (!(packed = malloc(nw * sizeof *packed))) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    if (algo == VGGCL_CONV_WINOGRAD) vggcl__wino_pack_weights(s->weight, s->c_out, s->c_in, packed);
    else if (algo == VGGCL_CONV_DIRECT) vggcl__conv_pack_weights(s->weight, s->c_out, s->c_in, packed);
    else memcpy(packed, s->weight, nw * sizeof *packed);
    size_t v = 0, m = 0;
    if (algo == VGGCL_CONV_WINOGRAD) vggcl__wino_workspace_floats(n, s->c_in, s->c_out, h, w, &v, &m);
    if (algo == VGGCL_CONV_GEMM) v = vggcl__gemm_workspace_floats(s->c_in, h, w);
    const size_t f = sizeof(float);
    if ((st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nw * f, packed, &wdev)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)s->c_out * f, s->bias,
                            &bdev)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, (size_t)n * s->c_in * h * w * f, NULL, &in)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, (size_t)n * s->c_out * h * w * f, NULL, &out)) ||
        (v && (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, v * f, NULL, &ws1))) ||
        (m && (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, m * f, NULL, &ws2))))
        goto fail;
    const float zero = 0.0f;
    CL_CHECK(clEnqueueFillBuffer, (ctx->queue, in, &zero, sizeof zero, 0, (size_t)n * s->c_in * h * w * f, 0, NULL,
                                   NULL));
    double t0 = 0;
    for (int it = -1; it < iters; it++) { /* pass -1 warms up (first-use compiles) */
        if (it == 0) {
            CL_CHECK(clFinish, (ctx->queue));
            t0 = now_ms();
        }
        if (algo == VGGCL_CONV_WINOGRAD)
            st = vggcl_cl_conv3x3_winograd(ctx, where, in, wdev, bdev, out, ws1, ws2, n, s->c_in, s->c_out, h, w);
        else if (algo == VGGCL_CONV_GEMM)
            st = vggcl_cl_conv3x3_gemm(ctx, where, in, wdev, bdev, out, ws1, n, s->c_in, s->c_out, h, w);
        else
            st = vggcl_cl_conv3x3_bias_relu(ctx, where, in, wdev, bdev, out, n, s->c_in, s->c_out, h, w);
        if (st != VGGCL_OK) goto fail;
    }
    CL_CHECK(clFinish, (ctx->queue));
    *ms = (now_ms() - t0) / iters;
fail:
    if (st != VGGCL_OK) clFinish(ctx->queue);
    vggcl__release(ctx, &in), vggcl__release(ctx, &out), vggcl__release(ctx, &wdev);
    vggcl__release(ctx, &bdev), vggcl__release(ctx, &ws1), vggcl__release(ctx, &ws2);
    free(packed);
    return st;
}

static vggcl_status write_table(vggcl_ctx *ctx, const vggcl_tune_row *rows, int count, int n, int h, int w)
{
    char tmp[1100], dir[900];
    if (!ctx->tune_path[0] || !vggcl__cache_dir(dir, sizeof dir))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "tuning needs the cache folder: VGGCL_CACHE_DIR is off");
    vggcl__make_dirs(dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", ctx->tune_path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd), unlink(tmp);
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot write the tuning table", ctx->tune_path);
    }
    fprintf(f, "# vggcl tuning table for %s (%s, driver %s)\n", ctx->device_name, ctx->platform_name,
            ctx->driver_version);
    fprintf(f, "# measured at batch %d, %dx%d input; ms per pass: direct winograd gemm\n", n, h, w);
    for (int i = 0; i < count; i++)
        fprintf(f, "conv %d %d %s %.3f %.3f %.3f\n", rows[i].c_in, rows[i].c_out, algo_names[rows[i].best],
                rows[i].ms[1], rows[i].ms[2], rows[i].ms[3]);
    int ok = fclose(f) == 0;
    if (!ok || rename(tmp, ctx->tune_path) != 0) {
        unlink(tmp);
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot write the tuning table", ctx->tune_path);
    }
    return VGGCL_OK;
}

vggcl_status vggcl_tune(vggcl_ctx *ctx, vggcl_model *m, int n, int h, int w, int iters, vggcl_tune_row *rows, int cap,
                        int *count, char *path, size_t path_len)
{
    vggcl_status st = VGGCL_OK;
    vggcl_tune_row *all = calloc((size_t)m->n_steps + 1, sizeof *all);
    const int in_h = h, in_w = w;
    int k = 0, oh, ow, bad;
    *count = 0;
    if (!all) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    if (ctx->use_ref) {
        st = vggcl__fail(ctx, VGGCL_ERR_ARG, "tuning needs an OpenCL device, not the reference");
        goto done;
    }
    if (iters < 1 || n < 1 || !vggcl__plan_out_size(m, h, w, &oh, &ow, &bad)) {
        st = vggcl__fail(ctx, VGGCL_ERR_ARG, "tune: batch %d at %dx%d with %d passes is not a valid pass for this model",
                         n, h, w, iters);
        goto done;
    }
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_POOL) {
            h = vggcl_pool_out_size(h, s->kernel_size, s->stride, s->padding, s->ceil_mode);
            w = vggcl_pool_out_size(w, s->kernel_size, s->stride, s->padding, s->ceil_mode);
            continue;
        }
        int seen = 0;
        for (int j = 0; j < k; j++) seen |= all[j].c_in == s->c_in && all[j].c_out == s->c_out;
        if (seen) continue;
        vggcl_tune_row *r = &all[k++];
        snprintf(r->layer, sizeof r->layer, "%s", s->name);
        r->c_in = s->c_in, r->c_out = s->c_out, r->h = h, r->w = w;
        for (int a = VGGCL_CONV_DIRECT; a <= VGGCL_CONV_GEMM; a++) {
            if ((st = time_algo(ctx, s, a, n, h, w, iters, &r->ms[a])) != VGGCL_OK) goto done;
            if (!r->best || r->ms[a] < r->ms[r->best]) r->best = a;
        }
    }
    if ((st = write_table(ctx, all, k, n, in_h, in_w)) != VGGCL_OK) goto done;
    vggcl__tune_load(ctx);
    for (int i = 0; i < k && i < cap; i++) rows[i] = all[i];
    *count = k;
    if (path) snprintf(path, path_len, "%s", ctx->tune_path);
done:
    free(all);
    return st;
}
