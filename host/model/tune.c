/* vggcl tune: searches the convolution algorithms and their kernel
 * parameters per layer shape and batch class on the device, and keeps the
 * fastest in a table on disk that model loading and each pass consult
 * (model.c, vggcl__conv_choose). The table is text, one line per shape and
 * class:
 *   conv C_in C_out H W BATCH ALGORITHM MS [NAME=VALUE ...]
 * Lines it cannot read (an unknown algorithm, a parameter outside its range; the first said)
 * are skipped, so a damaged table falls back to the defaults. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers.h"
#include "model.h"
#include "output.h"
#include "ref/ref.h"

/* The batch-size classes a row stands for: 1-2, 3-16, 17 and more, each named by its last batch. */
int vggcl__batch_class_last(int n) { return n <= 2 ? 2 : n <= 16 ? 16 : INT_MAX; }

static int batch_class(int n) { return vggcl__batch_class_last(n); }

/* The integer at *s (after blanks), from 1 to hi, into *out, *s past it; 0 when there is none, it is out
 * of range or something other than a blank follows it. */
static int count_field(const char **s, long hi, int *out)
{
    char *end;
    errno = 0;
    const long v = strtol(*s, &end, 10);
    if (end == *s || errno || v < 1 || v > hi || (*end != ' ' && *end != '\t')) return 0;
    *out = (int)v, *s = end;
    return 1;
}

/* Reads one table line into t: NULL, or why it is not a valid row (sizes from 1 to 65536, a batch from 1
 * to 4096, a time that is a number from 0: a row that would wrap to another layer's shape is refused);
 * "" for a line that is no row ("conv" and a blank do not start it, after blanks: a note). */
static const char *parse_row(const vggcl_ctx *ctx, const char *line, vggcl_tuned *t)
{
    char name[32];
    int used = 0;
    memset(t, 0, sizeof *t);
    line += strspn(line, " \t"); /* (blanks as between the fields: a row edited by hand to " conv\t64 ..." was passed
                                    * over as a note, unsaid) */
    if (strncmp(line, "conv", 4) || (line[4] != ' ' && line[4] != '\t')) return "";
    line += 4;
    if (!count_field(&line, 65536, &t->c_in) || !count_field(&line, 65536, &t->c_out) ||
        !count_field(&line, 65536, &t->h) || !count_field(&line, 65536, &t->w) || !count_field(&line, 4096, &t->batch))
        return "C_in, C_out, H and W from 1 to 65536 and a batch from 1 to 4096 expected";
    if (sscanf(line, " %31s %lf%n", name, &t->ms, &used) != 2 || !isfinite(t->ms) || t->ms < 0 ||
        !(t->algo = vggcl__conv_algo_id(name)))
        return "an algorithm as --conv names it and a time in ms (a number from 0) expected";
    vggcl__conv_defaults(ctx, t->algo, t->batch, t->c_in, t->c_out, t->h, t->w, &t->params);
    if (!vggcl__conv_params_parse(t->algo, line + used, &t->params))
        return "a parameter the algorithm does not take, a value not among its choices, or one given twice";
    if (!vggcl__conv_valid(ctx, t->algo, &t->params, t->c_in, t->c_out))
        return "parameters this device cannot run (its work-group size or local memory) or that do not fit together";
    return NULL;
}

/* The table could not be read (from line `after` on, 0: at all): kept in ctx and said once through the log; not
 * used past that line, nor replaced by tune (its rows would be lost). */
static void unread_said(vggcl_ctx *ctx, int err, int after)
{
    char eb[128], msg[VGGCL__CACHE_PATH_MAX + 300];
    ctx->tune_unread_errno = err;
    if (!ctx->log || ctx->told_tune) return;
    ctx->told_tune = 1;
    if (after)
        snprintf(msg, sizeof msg, "the tuning table %s could be read only to line %d (%s): the rows after it are not "
                 "used, nor is it replaced by tune", ctx->tune_path, after, vggcl__strerror(err, eb, sizeof eb));
    else
        snprintf(msg, sizeof msg, "the tuning table %s cannot be read (%s): it is not used, nor replaced by tune",
                 ctx->tune_path, vggcl__strerror(err, eb, sizeof eb));
    ctx->log(ctx->log_user, msg);
}

/* The table's first line for the context's device and driver (write_table's). */
static void table_heading(const vggcl_ctx *ctx, char *buf, size_t len)
{
    snprintf(buf, len, "# vggcl tuning table for %s (%s, driver %s)\n", ctx->device_name, ctx->platform_name,
             ctx->driver_version);
}

/* Where the context has no table, one in the folder of its path made for the same device and driver under
 * another name (another vggcl's key, or the platform's or the device's version changed: 0.2's tables were
 * passed over unsaid by 0.3, whose key holds the platform's version), said once through the log. */
static void other_table_said(vggcl_ctx *ctx)
{
    char heading[1024], dir[VGGCL__CACHE_DIR_MAX + 1], path[VGGCL__CACHE_PATH_MAX], first[1024];
    if (!ctx->log || ctx->told_tune || !vggcl__cache_ready(ctx, dir)) return; /* (a folder not used: not read) */
    table_heading(ctx, heading, sizeof heading);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        const size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".tune") || snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
                                                            (int)sizeof path)
            continue;
        int err; /* (as the table is opened: a FIFO or a link named so is not waited on, nor followed) */
        FILE *f = vggcl__cache_open(ctx, path, &err);
        const int read = f && fgets(first, sizeof first, f), same = read && !strcmp(first, heading);
        /* (the same device and platform under another driver, as after an upgrade of PoCL: dropped unsaid) */
        const size_t device = strstr(heading, ", driver ") ? (size_t)(strstr(heading, ", driver ") - heading) + 9 : 0;
        const int driver = read && !same && device && !strncmp(first, heading, device);
        if (f) fclose(f);
        if (!same && !driver) continue;
        char msg[2 * VGGCL__CACHE_PATH_MAX + 1200];
        if (driver)
            snprintf(msg, sizeof msg, "the tuning table %s, made for this device under driver %.*s, is not used with "
                     "driver %s: `vggcl tune` makes this one's, %s", path, (int)strcspn(first + device, ")\n"),
                     first + device, ctx->driver_version, ctx->tune_path);
        else
            snprintf(msg, sizeof msg, "the tuning table %s, made for this device and driver by another vggcl or under "
                     "another version of the platform, is not used: this one's is %s, which `vggcl tune` makes", path,
                     ctx->tune_path);
        ctx->told_tune = 1;
        ctx->log(ctx->log_user, msg);
        break;
    }
    if (d) closedir(d);
}

void vggcl__tune_load(vggcl_ctx *ctx)
{
    char dir[VGGCL__CACHE_DIR_MAX + 1];
    free(ctx->tuned), free(ctx->tune_unread);
    ctx->tuned = NULL, ctx->tune_unread = NULL;
    ctx->n_tuned = ctx->tune_refused = ctx->tune_unread_errno = 0;
    if (!vggcl__cache_path(ctx, "vggcl tuning table", "", ".tune", ctx->tune_path)) {
        ctx->tune_path[0] = '\0';
        return;
    }
    int err;
    FILE *f = vggcl__cache_open(ctx, ctx->tune_path, &err);
    struct stat sb;
    /* (a folder not the user's own is said as such, by vggcl__cache_ready: not the table's fault) */
    const int lstat_err = !f && !err ? (lstat(ctx->tune_path, &sb) == 0 ? 0 : errno) : -1; /* (-1: opened) */
    ctx->tune_refused = lstat_err == 0 && vggcl__cache_ready(ctx, dir);
    if (!f && err) unread_said(ctx, err, 0);
    if (lstat_err == ENOENT) other_table_said(ctx);
    if (ctx->tune_refused && ctx->log && !ctx->told_tune) { /* (else a table edited to 0664 was dropped unsaid) */
        char msg[VGGCL__CACHE_PATH_MAX + 300], what[64]; /* (what it is: tune's refusal said it, the pass not) */
        ctx->told_tune = 1;
        const int mine = vggcl__cache_file_refused(ctx->tune_path, what, sizeof what);
        snprintf(msg, sizeof msg, "the tuning table %s is not a regular file of this user that only the user can "
                 "write to (%s): it is not used (nor replaced by tune)%s", ctx->tune_path, what,
                 mine ? "; chmod 600 makes it usable" : "");
        ctx->log(ctx->log_user, msg);
    }
    if (!f) return;
    char *line = NULL, first_bad[VGGCL__CACHE_PATH_MAX + 400] = "";
    size_t cap = 0, unread = 0;
    ssize_t len;
    int line_no = 0, bad = 0;
    while ((errno = 0, len = getline(&line, &cap, f)) > 0) { /* (whole lines: a long one is not cut in rows) */
        vggcl_tuned t;
        line_no++;
        static const char *const header[] = { "# vggcl tuning table for ", "# last tuned at ", "# conv C_in C_out " };
        int ours = 0; /* (write_table's own lines, written anew) */
        for (size_t i = 0; i < sizeof header / sizeof header[0]; i++) ours |= !strncmp(line, header[i], strlen(header[i]));
        if (ours) continue;
        const locale_t before = vggcl__c_locale_begin(); /* (its times with a '.', whatever the host's locale) */
        const char *why = parse_row(ctx, line, &t);
        vggcl__c_locale_end(before);
        if (why) { /* kept as it is for write_table, but for blank lines and NUL bytes */
            const int shown = (int)strcspn(line, "\r\n"); /* (its first 100 bytes) */
            if (*why && !bad++) /* (a row edited by hand that did nothing was not said: the first one is) */
                snprintf(first_bad, sizeof first_bad, "the tuning table %s: line %d is not used (%s%s): %.*s",
                         ctx->tune_path, line_no, why, line[len - 1] != '\n' ? "; the file ends inside it, without "
                         "its newline: a write cut short? `vggcl tune` makes the table again" : "",
                         shown > 100 ? 100 : shown, line);
            if (strspn(line, " \t\r\n") == (size_t)len || strlen(line) != (size_t)len) continue;
            char *grown = realloc(ctx->tune_unread, unread + (size_t)len + 2);
            if (!grown) {
                errno = ENOMEM;
                break;
            }
            ctx->tune_unread = grown;
            memcpy(grown + unread, line, (size_t)len);
            unread += (size_t)len;
            if (line[len - 1] != '\n') grown[unread++] = '\n';
            grown[unread] = '\0';
            continue;
        }
        vggcl_tuned *grown = realloc(ctx->tuned, (size_t)(ctx->n_tuned + 1) * sizeof *grown);
        if (!grown) {
            errno = ENOMEM;
            break;
        }
        ctx->tuned = grown;
        ctx->tuned[ctx->n_tuned++] = t;
    }
    if (len > 0 || ferror(f) || errno) unread_said(ctx, errno ? errno : EIO, line_no); /* (stopped before the end) */
    free(line);
    fclose(f);
    if (bad && ctx->log && !ctx->told_rows) {
        ctx->told_rows = 1;
        char more[64] = "";
        if (bad > 1) snprintf(more, sizeof more, " (and %d more rows not used)", bad - 1);
        strncat(first_bad, more, sizeof first_bad - strlen(first_bad) - 1);
        ctx->log(ctx->log_user, first_bad);
    }
}

const vggcl_tuned *vggcl__tune_lookup(const vggcl_ctx *ctx, int c_in, int c_out, int h, int w, int n, int only)
{
    const vggcl_tuned *best = NULL;
    int best_score = -1;
    double best_map = 0, best_batch = 0; /* best's distances: the log ratios of its sides, of its batch */
    /* of the rows of the same channels and a map at most twice as large or small on each side: the same map
     * size, then the same batch class, then the nearest map and batch; the last line of all equal wins (a shape
     * of no row took the file's last row of its channels: a layer 2.7x slower by the order tune had written the
     * rows in; a table tuned at 64x64 steered every layer at 224, 1.09-1.25x slower than the defaults) */
    for (int i = 0; i < ctx->n_tuned; i++) {
        const vggcl_tuned *t = &ctx->tuned[i];
        if (t->c_in != c_in || t->c_out != c_out || (only && t->algo != only)) continue;
        if (t->h > 2 * h || 2 * t->h < h || t->w > 2 * w || 2 * t->w < w) continue;
        const int score = 2 * (t->h == h && t->w == w) + (batch_class(t->batch) == batch_class(n));
        const double map = fabs(log((double)t->h / h)) + fabs(log((double)t->w / w));
        const double batch = fabs(log((double)t->batch / n));
        if (score > best_score || (score == best_score && (map < best_map || (map == best_map && batch <= best_batch))))
            best = t, best_score = score, best_map = map, best_batch = batch;
    }
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One conv on the device with its own buffers: weights packed for the
 * algorithm, input, output and workspace. */
typedef struct {
    cl_mem in, out, weight, bias, ws[2];
} bench_bufs;

static void bufs_release(vggcl_ctx *ctx, const char *where, bench_bufs *b)
{
    vggcl__release(ctx, where, &b->in), vggcl__release(ctx, where, &b->out), vggcl__release(ctx, where, &b->weight);
    vggcl__release(ctx, where, &b->bias), vggcl__release(ctx, where, &b->ws[0]);
    vggcl__release(ctx, where, &b->ws[1]);
}

static vggcl_status bufs_make(vggcl_ctx *ctx, const char *where, const vggcl_step *s, int algo,
                              const vggcl_conv_params *p, int n, int h, int w, const float *input, bench_bufs *b)
{
    vggcl_status st;
    const vggcl_conv_algo *a = vggcl__conv_algo(algo);
    const size_t f = sizeof(float), nw = a->packed_floats(p, s->c_out, s->c_in);
    /* an algorithm on the channel-packed layout gets its input packed on the device */
    const size_t nin = a->packed_io ? vggcl__packed_floats(n, s->c_in, h, w) : (size_t)n * s->c_in * h * w;
    const size_t nout = a->packed_io ? vggcl__packed_floats(n, s->c_out, h, w) : (size_t)n * s->c_out * h * w;
    cl_mem nchw = NULL;
    size_t ws[2];
    a->workspace(p, n, s->c_in, s->c_out, h, w, ws);
    if (ctx->is_cpu) { /* (a CPU device's buffers are the host's memory: past it, PoCL's assertion ended tune) */
        const double need = (double)(2 * nw + s->c_out + nin + nout + ws[0] + ws[1] +
                                     (input && a->packed_io ? (size_t)n * s->c_in * h * w : 0)) * f;
        const double avail = vggcl__host_available(ctx);
        if (avail > 0 && need > avail)
            return vggcl__fail(ctx, VGGCL_ERR_DEVICE_MEMORY, "%s: out of memory: %s's buffers for a batch of %d need "
                               "%.1f MiB of the host's memory (a CPU device's), but %.1f MiB is available (free "
                               "memory and swap, within the cgroup's limit and ulimit -v, less a reserve for the "
                               "driver): tune a smaller batch",
                               where, a->name, n, need / 1048576.0, avail / 1048576.0);
    }
    float *packed = malloc(nw * f);
    if (!packed) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    a->pack(p, s->weight, s->c_out, s->c_in, packed);
    memset(b, 0, sizeof *b);
    if ((st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nw * f, packed, &b->weight)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)s->c_out * f, s->bias,
                            &b->bias)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE | (input && !a->packed_io ? CL_MEM_COPY_HOST_PTR : 0),
                            nin * f, input && !a->packed_io ? (void *)input : NULL, &b->in)) ||
        (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, nout * f, NULL, &b->out)) ||
        (ws[0] && (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, ws[0] * f, NULL, &b->ws[0]))) ||
        (ws[1] && (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, ws[1] * f, NULL, &b->ws[1]))))
        goto fail;
    if (!input) {
        const float zero = 0.0f; /* also a whole packed map */
        CL_CHECK(clEnqueueFillBuffer, (ctx->queue, b->in, &zero, sizeof zero, 0, nin * f, 0, NULL, NULL));
    } else if (a->packed_io) {
        const size_t bytes = (size_t)n * s->c_in * h * w * f;
        if ((st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, (void *)input, &nchw)) ||
            (st = vggcl__cl_pack(ctx, where, nchw, b->in, n, s->c_in, h, w)))
            goto fail;
        CL_CHECK(clFinish, (ctx->queue));
    }
fail:
    vggcl__release(ctx, where, &nchw);
    free(packed);
    if (st != VGGCL_OK) bufs_release(ctx, where, b);
    return st;
}

static vggcl_status run_once(vggcl_ctx *ctx, const char *where, const vggcl_step *s, int algo,
                             const vggcl_conv_params *p, int n, int h, int w, bench_bufs *b)
{
    const vggcl_conv_call call = { b->in, b->weight, b->bias, b->out, { b->ws[0], b->ws[1] }, n, s->c_in, s->c_out,
                                   h, w, 0 };
    return vggcl__conv_algo(algo)->launch(ctx, where, p, &call);
}

/* The slice every candidate is checked on before it is timed, and the
 * reference's answer there. */
typedef struct {
    int n, h, w;
    float *input, *expected;
} check_slice;

/* n floats in [0, 1), as after a ReLU, the same on every run (allocated; NULL when out of memory). */
static float *check_input(size_t n)
{
    float *x = malloc(n * sizeof *x);
    unsigned u = 12345u;
    for (size_t i = 0; x && i < n; i++) {
        u = u * 1664525u + 1013904223u;
        x[i] = (float)((u >> 8) * (1.0 / 16777216.0));
    }
    return x;
}

static vggcl_status slice_make(vggcl_ctx *ctx, const vggcl_step *s, check_slice *c)
{
    c->n = 2, c->h = 8, c->w = 9; /* two images; 2 x 3 tiles each, the last column partial */
    c->input = check_input((size_t)c->n * s->c_in * c->h * c->w);
    c->expected = malloc((size_t)c->n * s->c_out * c->h * c->w * sizeof(float));
    if (!c->input || !c->expected) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    vggcl__ref_conv3x3_bias_relu(c->input, s->weight, s->bias, c->expected, c->n, s->c_in, s->c_out, c->h, c->w);
    return VGGCL_OK;
}

/* The conv's output by (algo, p) on input (n, c_in, h, w) into out (n, c_out, h, w), in NCHW. */
static vggcl_status output_of(vggcl_ctx *ctx, const char *where, const vggcl_step *s, int algo,
                              const vggcl_conv_params *p, int n, int h, int w, const float *input, float *out)
{
    vggcl_status st;
    bench_bufs b;
    cl_mem nchw = NULL;
    const size_t nout = (size_t)n * s->c_out * h * w;
    if ((st = bufs_make(ctx, where, s, algo, p, n, h, w, input, &b)) != VGGCL_OK) return st;
    if ((st = run_once(ctx, where, s, algo, p, n, h, w, &b)) != VGGCL_OK) goto fail;
    if (vggcl__conv_algo(algo)->packed_io) { /* back to NCHW */
        if ((st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, nout * sizeof *out, NULL, &nchw)) ||
            (st = vggcl__cl_unpack(ctx, where, b.out, nchw, n, s->c_out, h, w)))
            goto fail;
    }
    CL_CHECK(clEnqueueReadBuffer, (ctx->queue, nchw ? nchw : b.out, CL_TRUE, 0, nout * sizeof *out, out, 0, NULL, NULL));
fail:
    CL_CLEANUP(clFinish, (ctx->queue));
    vggcl__release(ctx, where, &nchw);
    bufs_release(ctx, where, &b);
    return st;
}

/* Relative L2 difference of got from expected (n values; infinite where got is not finite). */
static double rel_l2(const float *got, const float *expected, size_t n)
{
    double d2 = 0, r2 = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - expected[i];
        d2 += isfinite(got[i]) ? d * d : INFINITY;
        r2 += (double)expected[i] * expected[i];
    }
    return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

/* Relative L2 difference of the candidate's output on the slice, or a
 * status when it cannot be built or run. */
static vggcl_status check(vggcl_ctx *ctx, const char *where, const vggcl_step *s, int algo,
                          const vggcl_conv_params *p, const check_slice *c, double *rel)
{
    const size_t nout = (size_t)c->n * s->c_out * c->h * c->w;
    float *got = malloc(nout * sizeof *got);
    if (!got) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    const vggcl_status st = output_of(ctx, where, s, algo, p, c->n, c->h, c->w, c->input, got);
    if (st == VGGCL_OK) *rel = rel_l2(got, c->expected, nout);
    free(got);
    return st;
}

#define AGREE_FLOATS ((size_t)1 << 25) /* at most this many input or output floats in the check at the timed shape */
#define AGREE_IMAGE ((size_t)1 << 28)  /* ... but one image whole up to this many (64 channels at 2048x2048) */

vggcl_status vggcl__tune_agree(vggcl_ctx *ctx, const char *where, const vggcl_step *s, const vggcl_tune_candidate *a,
                               const vggcl_tune_candidate *b, int n, int h, int w, double *rel)
{
    const size_t per_image = (size_t)(s->c_in > s->c_out ? s->c_in : s->c_out) * h * w;
    while (n > 1 && (size_t)n * per_image > AGREE_FLOATS) n /= 2; /* (a batch of 32 at 224: 411 MB a map) */
    if (per_image > AGREE_IMAGE) { /* (8192x8192: three maps of 16 GiB on the host) not checked, so not kept */
        *rel = INFINITY;
        if (ctx->log && !ctx->told_agree) {
            char msg[512];
            ctx->told_agree = 1;
            snprintf(msg, sizeof msg, "%s: one image's map is %zu floats, more than the %zu a faster candidate is "
                     "checked against the default on: the default is kept (so for any larger layer)", where, per_image,
                     AGREE_IMAGE);
            ctx->log(ctx->log_user, msg);
        }
        return VGGCL_OK;
    }
    const size_t nout = (size_t)n * s->c_out * h * w;
    float *x = check_input((size_t)n * s->c_in * h * w), *ya = malloc(nout * sizeof *ya), *yb = malloc(nout * sizeof *yb);
    vggcl_status st = x && ya && yb ? VGGCL_OK : vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    if (st == VGGCL_OK) st = output_of(ctx, where, s, a->algo, &a->p, n, h, w, x, ya);
    if (st == VGGCL_OK) st = output_of(ctx, where, s, b->algo, &b->p, n, h, w, x, yb);
    for (size_t i = 0; st == VGGCL_OK && ctx->tune_skew && i < nout; i++) yb[i] *= 1 + ctx->tune_skew;
    if (st == VGGCL_OK) *rel = rel_l2(yb, ya, nout);
    free(x), free(ya), free(yb);
    return st;
}

typedef vggcl_tune_candidate candidate;

/* A layer timed alone, pass after pass, finds its weights in the device's cache, which in the network the layers
 * between two of its passes have pushed out wherever a pass touches more than the cache holds: on the 2-core Zen 4
 * (32 MiB L3) rows kept at 1.10-1.19x for vgg11's 128->256 and 256->256 at 96x96 ran level in its pass (VGG's
 * weights alone are 37-80 MB). So for such a model each timed pass begins, outside its span, with a buffer of twice
 * the device's global memory cache (at most EVICT_CAP) written over, then the layer's input copied into it, as the
 * layer before has just written it. */
#define EVICT_CAP ((size_t)256 << 20)

/* The bytes a pass of m over n images of h x w touches: its input, its convolutions' weights (as in the file: the
 * Winograd layouts hold 16/9 to 4 times as much) and its layers' output maps. */
static double pass_bytes(const vggcl_model *m, int n, int h, int w)
{
    double bytes = (double)n * 3 * h * w * sizeof(float);
    for (int i = 0, c = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_POOL) { /* (a pool's channels are the conv's before it) */
            vggcl__step_size(s, &h, &w);
        } else {
            bytes += ((double)s->c_in * s->c_out * 9 + s->c_out) * sizeof(float);
            c = s->c_out;
        }
        bytes += (double)n * c * h * w * sizeof(float);
    }
    return bytes;
}

size_t vggcl__tune_evict_bytes(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, cl_ulong cache)
{
    if (!cache || pass_bytes(m, n, h, w) <= (double)cache) return 0;
    const size_t bytes = cache > EVICT_CAP / 2 ? EVICT_CAP : ((size_t)cache * 2 + 63) & ~(size_t)63; /* (lines) */
    return bytes > ctx->max_alloc ? (size_t)ctx->max_alloc & ~(size_t)3 : bytes; /* (whole words: the fill's) */
}

/* Makes ctx->tune_evict for a batch of n at h x w (vggcl__tune_evict_bytes), or releases it where none is wanted;
 * the first made said through the log (*said). */
static vggcl_status evict_prepare(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int *said)
{
    const char *where = "tune: the buffer that clears the device's cache between timed passes";
    vggcl_status st = VGGCL_OK;
    cl_ulong cache = ctx->cache_bytes;
    if (!cache) CL_CHECK(clGetDeviceInfo, (ctx->device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof cache, &cache, NULL));
    const size_t bytes = vggcl__tune_evict_bytes(ctx, m, n, h, w, cache);
    if (bytes == ctx->tune_evict_bytes) return VGGCL_OK;
    vggcl__release(ctx, where, &ctx->tune_evict);
    ctx->tune_evict_bytes = 0;
    if (bytes && (st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, bytes, NULL, &ctx->tune_evict)) == VGGCL_OK)
        ctx->tune_evict_bytes = bytes;
    if (ctx->tune_evict && ctx->log && !*said) { /* (what the times stand for: a layer as a whole pass leaves it) */
        char msg[400];
        *said = 1;
        snprintf(msg, sizeof msg, "tune: a pass of this model over %d image%s of %dx%d touches %.1f MiB, more than the "
                 "device's %.1f MiB cache: each timed pass begins with %.1f MiB written over, as the other layers of a "
                 "pass leave the cache", n, n == 1 ? "" : "s", h, w, pass_bytes(m, n, h, w) / 1048576.0,
                 (double)cache / 1048576.0, (double)bytes / 1048576.0);
        ctx->log(ctx->log_user, msg);
    }
fail:
    return st;
}

/* Writes over ctx->tune_evict, then copies the layer's input `in` into it (where there is one). */
static vggcl_status evict(vggcl_ctx *ctx, const char *pass, cl_mem in)
{
    vggcl_status st = VGGCL_OK;
    const cl_uint zero = 0;
    size_t in_bytes = 0;
    char where[640]; /* (its own words: a failure here is tune's, not the candidate's) */
    if (!ctx->tune_evict) return VGGCL_OK;
    snprintf(where, sizeof where, "%.500s: writing over the device's cache before a timed pass (%.1f MiB)", pass,
             ctx->tune_evict_bytes / 1048576.0);
    CL_CHECK(clEnqueueFillBuffer, (ctx->queue, ctx->tune_evict, &zero, sizeof zero, 0, ctx->tune_evict_bytes, 0,
                                   NULL, NULL));
    CL_CHECK(clGetMemObjectInfo, (in, CL_MEM_SIZE, sizeof in_bytes, &in_bytes, NULL));
    if (in_bytes > ctx->tune_evict_bytes) in_bytes = ctx->tune_evict_bytes;
    CL_CHECK(clEnqueueCopyBuffer, (ctx->queue, in, ctx->tune_evict, 0, 0, in_bytes, 0, NULL, NULL));
fail:
    ctx->tune_evict_failed = st != VGGCL_OK;
    return st;
}

/* Median device ms of `iters` passes of candidate c on b (runs: room for iters),
 * after an untimed pass with warm_up (first-use compiles). */
static vggcl_status time_passes(vggcl_ctx *ctx, const char *where, const vggcl_step *s, const candidate *c, int n,
                                int h, int w, bench_bufs *b, int iters, int warm_up, double *runs, double *ms)
{
    vggcl_status st = VGGCL_OK;
    const int was_profiling = ctx->profiling;
    cl_event gate = NULL;
    ctx->profiling = 1;
    for (int it = warm_up ? -1 : 0; it < iters; it++) {
        if ((st = evict(ctx, where, b->in)) != VGGCL_OK) goto fail;
        vggcl__prof_reset(ctx);
        /* the pass held back until all of it is queued, as a pass's commands are queued behind the layers before
         * it: its span from the first command's start otherwise took in the host's enqueuing between them (on
         * PoCL a command starts as it is queued) */
        cl_int err = vggcl__fault(ctx, "clCreateUserEvent");
        gate = err == CL_SUCCESS ? clCreateUserEvent(ctx->cl, &err) : NULL;
        CL_CHECK_RET(clCreateUserEvent, err);
        CL_CHECK(clEnqueueMarkerWithWaitList, (ctx->queue, 1, &gate, NULL));
        st = run_once(ctx, where, s, c->algo, &c->p, n, h, w, b);
        CL_CLEANUP(clSetUserEventStatus, (gate, CL_COMPLETE)); /* (made whatever happens: the queue waits on it) */
        CL_CLEANUP(clReleaseEvent, (gate));
        gate = NULL;
        if (st != VGGCL_OK) goto fail;
        CL_CHECK(clFinish, (ctx->queue));
        /* (a span: the sum of the kernels' times left out the gaps between them, which favoured the algorithms of
         * several kernels; a time not read counted 0 ms, and won) */
        if (it >= 0 && !((runs[it] = vggcl__prof_span_ms(ctx)) > 0)) {
            st = vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s: the device gave no time for the pass (profiling)", where);
            goto fail;
        }
    }
    qsort(runs, (size_t)iters, sizeof *runs, cmp_double);
    *ms = runs[iters / 2];
fail:
    if (gate) { /* (the marker behind it failed to queue) */
        CL_CLEANUP(clSetUserEventStatus, (gate, CL_COMPLETE));
        CL_CLEANUP(clReleaseEvent, (gate));
    }
    CL_CLEANUP(clFinish, (ctx->queue));
    vggcl__prof_reset(ctx);
    ctx->profiling = was_profiling;
    return st;
}

/* Median device ms per pass of one candidate at the full shape, after a
 * warm-up pass. */
static vggcl_status time_candidate(vggcl_ctx *ctx, const char *where, const vggcl_step *s, const candidate *c, int n,
                                   int h, int w, int iters, double *ms)
{
    vggcl_status st;
    bench_bufs b;
    double *runs = malloc(sizeof *runs * (size_t)iters);
    if (!runs) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    if ((st = bufs_make(ctx, where, s, c->algo, &c->p, n, h, w, NULL, &b)) == VGGCL_OK) {
        st = time_passes(ctx, where, s, c, n, h, w, &b, iters, 1, runs, ms);
        bufs_release(ctx, where, &b);
    }
    free(runs);
    return st;
}

/* A candidate that beat the default in the sweep replaces it only when it
 * still wins with the two alternating: CONFIRM_ROUNDS rounds of `iters` passes
 * each, in the order AB, BA, AB, ...; the median of the per-round ratios must be
 * at most 1 - CONFIRM_MARGIN. A shared machine drifts between slow and fast
 * phases within seconds (on the 2-core PoCL machine by up to 20%), and the sweep
 * times the candidates one after another: there CLBlast's GEMM once came out
 * "1.63x" faster than the default for 256->512 at 28x28, only because the default
 * had been timed in a slow phase; kept, it would also have cost every later start
 * CLBlast's 10 s compile. */
#define CONFIRM_ROUNDS 3
#define CONFIRM_MARGIN 0.03
#define CHECK_REL 1e-4 /* the most a candidate's output may differ from the reference's on the slice, or from the
                         * default's at the timed shape */

double vggcl__paired_ratio(const double *a_ms, const double *b_ms, int rounds)
{
    double r[16];
    int k = 0;
    for (int i = 0; i < rounds && k < 16; i++)
        if (a_ms[i] > 0 && b_ms[i] > 0) r[k++] = b_ms[i] / a_ms[i]; /* (0: no time read, not a win) */
    if (!k) return INFINITY;
    qsort(r, (size_t)k, sizeof *r, cmp_double);
    return k % 2 ? r[k / 2] : 0.5 * (r[k / 2 - 1] + r[k / 2]);
}

/* The default (a) and the challenger (b) in alternating rounds: *ratio the
 * median of b / a per round, *a_ms the median of a's rounds. */
static vggcl_status confirm(vggcl_ctx *ctx, const char *where, const vggcl_step *s, const candidate *a,
                            const candidate *b, int n, int h, int w, int iters, double *ratio, double *a_ms)
{
    vggcl_status st;
    bench_bufs ba, bb;
    double ta[CONFIRM_ROUNDS], tb[CONFIRM_ROUNDS];
    double *runs = malloc(sizeof *runs * (size_t)iters);
    if (!runs) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    if ((st = bufs_make(ctx, where, s, a->algo, &a->p, n, h, w, NULL, &ba)) != VGGCL_OK) goto done;
    if ((st = bufs_make(ctx, where, s, b->algo, &b->p, n, h, w, NULL, &bb)) != VGGCL_OK) goto fail_a;
    for (int r = 0; r < CONFIRM_ROUNDS && st == VGGCL_OK; r++) {
        const int a_first = r % 2 == 0;
        if ((st = time_passes(ctx, where, s, a_first ? a : b, n, h, w, a_first ? &ba : &bb, iters, r == 0, runs,
                              a_first ? &ta[r] : &tb[r])) == VGGCL_OK)
            st = time_passes(ctx, where, s, a_first ? b : a, n, h, w, a_first ? &bb : &ba, iters, r == 0, runs,
                             a_first ? &tb[r] : &ta[r]);
    }
    if (st == VGGCL_OK) {
        *ratio = vggcl__paired_ratio(ta, tb, CONFIRM_ROUNDS);
        qsort(ta, CONFIRM_ROUNDS, sizeof *ta, cmp_double);
        *a_ms = ta[CONFIRM_ROUNDS / 2];
    }
    bufs_release(ctx, where, &bb);
fail_a:
    bufs_release(ctx, where, &ba);
done:
    free(runs);
    return st;
}

/* VGGCL_OK when the table can be written: the cache folder is on and usable; else said. */
static vggcl_status table_writable(vggcl_ctx *ctx)
{
    char dir[VGGCL__CACHE_DIR_MAX + 1], eb[128];
    const int on = vggcl__cache_dir(dir);
    if (on == VGGCL__CACHE_LONG)
        return vggcl__fail(ctx, VGGCL_ERR_IO, "tuning needs the cache folder, whose name is longer than %d bytes "
                                              "(see VGGCL_CACHE_DIR)", VGGCL__CACHE_DIR_MAX);
    if (!ctx->tune_path[0] || on != 1)
        return vggcl__fail(ctx, VGGCL_ERR_IO, "tuning needs the cache folder: %s", vggcl__cache_why_not(on));
    if (!vggcl__cache_ready(ctx, dir)) {
        char why[192];
        vggcl__cache_unusable(dir, vggcl__make_dirs(dir), why, sizeof why);
        return vggcl__fail(ctx, VGGCL_ERR_IO, "tuning needs the cache folder, and %s %s (see VGGCL_CACHE_DIR)", dir, why);
    }
    const int unwritable = vggcl__cache_unwritable(dir);
    if (unwritable) /* (found before the tuning: the table would be refused after it) */
        return vggcl__fail_os(ctx, unwritable, "%s: the cache folder, where the tuning table goes, cannot be "
                              "written: %s (see VGGCL_CACHE_DIR)", dir, vggcl__strerror(unwritable, eb, sizeof eb));
    if (ctx->tune_unread_errno) /* (its rows, unread, would be lost) */
        return vggcl__fail_os(ctx, ctx->tune_unread_errno, "%s: the tuning table could not be read whole (%s): not "
                              "replaced; try again, or mend or move it away", ctx->tune_path,
                              vggcl__strerror(ctx->tune_unread_errno, eb, sizeof eb));
    if (ctx->tune_refused) { /* (its rows, unread, would be lost) */
        char what[64]; /* (what it is, and what this user can do: chmod of another user's file was advised) */
        const int mine = vggcl__cache_file_refused(ctx->tune_path, what, sizeof what);
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: the tuning table is not a regular file of this user that only the "
                           "user can write to (%s): not replaced; %s", ctx->tune_path, what,
                           mine ? "make it private (chmod 600) or move it away" : "move it away");
    }
    return VGGCL_OK;
}

static vggcl_status write_table(vggcl_ctx *ctx, const vggcl_tuned *rows, int count, const char *setup)
{
    vggcl__output o;
    vggcl_status st = table_writable(ctx);
    if (st != VGGCL_OK) return st;
    if ((st = vggcl__output_open(ctx, ctx->tune_path, 0600, VGGCL_OUTPUT_REPLACE, &o)) != VGGCL_OK) return st;
    FILE *f = o.fp;
    char heading[1024];
    table_heading(ctx, heading, sizeof heading);
    fputs(heading, f);
    fprintf(f, "# %s\n# conv C_in C_out H W BATCH ALGORITHM MS_PER_PASS [PARAMETER=VALUE ...]\n", setup);
    /* the lines this vggcl could not read, as they were (a newer vggcl's rows, notes); before the rows, so
     * that a row of this run stands over an old one of its shape wherever they tie (the last one wins) */
    if (ctx->tune_unread) fputs(ctx->tune_unread, f);
    const locale_t before = vggcl__c_locale_begin(); /* (as parse_row reads them) */
    for (int i = 0; i < count; i++) {
        char params[200];
        vggcl__conv_params_str(rows[i].algo, &rows[i].params, params, sizeof params);
        fprintf(f, "conv %d %d %d %d %d %s %.4f %s\n", rows[i].c_in, rows[i].c_out, rows[i].h, rows[i].w,
                rows[i].batch, vggcl__conv_algo(rows[i].algo)->name, rows[i].ms, params);
    }
    vggcl__c_locale_end(before);
    return vggcl__output_commit(ctx, &o, !ferror(f));
}

/* Whether two rows are of one shape and batch class. */
static int same_key(const vggcl_tuned *t, const vggcl_tuned *r)
{
    return t->c_in == r->c_in && t->c_out == r->c_out && t->h == r->h && t->w == r->w &&
           batch_class(t->batch) == batch_class(r->batch);
}

/* The context's first row of r's shape and batch class, or NULL. */
static vggcl_tuned *table_find(vggcl_ctx *ctx, const vggcl_tuned *r)
{
    for (int i = 0; i < ctx->n_tuned; i++)
        if (same_key(&ctx->tuned[i], r)) return &ctx->tuned[i];
    return NULL;
}

/* Puts row r in the context's table, over the first row of the same shape and class; others of them
 * (a table edited by hand) are dropped: a pass takes the last, which would stand over r. */
static vggcl_status table_put(vggcl_ctx *ctx, const vggcl_tuned *r)
{
    vggcl_tuned *t = table_find(ctx, r);
    if (t) {
        *t = *r;
        int kept = (int)(t - ctx->tuned) + 1;
        for (int i = kept; i < ctx->n_tuned; i++)
            if (!same_key(&ctx->tuned[i], r)) ctx->tuned[kept++] = ctx->tuned[i];
        ctx->n_tuned = kept;
        return VGGCL_OK;
    }
    vggcl_tuned *grown = realloc(ctx->tuned, (size_t)(ctx->n_tuned + 1) * sizeof *grown);
    if (!grown) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    ctx->tuned = grown;
    ctx->tuned[ctx->n_tuned++] = *r;
    return VGGCL_OK;
}

#define LOCK_NOT_REGULAR (-1) /* (save_rows: a lock that is there, but not a regular file) */

/* Says, once a context, that the table's lock cannot be used (why: a folder, a link, a FIFO in its place; NFS
 * without locks): the rows are written all the same (tune writes after each shape: it was said each time). */
static void lock_unusable(vggcl_ctx *ctx, const char *lock, const char *why)
{
    if (!ctx->log || ctx->told_lock++) return;
    char msg[VGGCL__CACHE_PATH_MAX + 256];
    snprintf(msg, sizeof msg, "the tuning table's lock %s cannot be used (%s): its rows are written without it (a "
             "tune running at the same time may lose them, or its own)", lock, why);
    ctx->log(ctx->log_user, msg);
}

/* Writes this run's rows (mine) into the table as it is on disk now, under a lock: two tunes at once each
 * keep the other's rows (the last one to write dropped them). The context's table becomes that one. */
static vggcl_status save_rows(vggcl_ctx *ctx, const vggcl_tuned *mine, int n, const char *setup)
{
    char lock[sizeof ctx->tune_path + 8];
    vggcl_status st = VGGCL_OK;
    snprintf(lock, sizeof lock, "%s.lock", ctx->tune_path);
    int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    struct stat sb;
    const int e = fd < 0 ? errno : fstat(fd, &sb) != 0 ? errno : S_ISREG(sb.st_mode) ? 0 : LOCK_NOT_REGULAR;
    if (e && fd >= 0) close(fd), fd = -1;
    char eb[128];
    if (e) lock_unusable(ctx, lock, e == LOCK_NOT_REGULAR ? "not a regular file" : vggcl__strerror(e, eb, sizeof eb));
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) { /* (without a lock file, as before: the last writer's rows) */
        if (errno != EWOULDBLOCK) { /* (NFS without locks: ENOLCK) */
            lock_unusable(ctx, lock, vggcl__strerror(errno, eb, sizeof eb));
        } else { /* (another tune writing its rows: a moment; a stopped one: said) */
            if (ctx->log) {
                char msg[VGGCL__CACHE_PATH_MAX + 128];
                snprintf(msg, sizeof msg, "waiting for the tuning table's lock %s: another process holds it (a vggcl "
                         "tune writing its rows)", lock);
                ctx->log(ctx->log_user, msg);
            }
            flock(fd, LOCK_EX);
        }
    }
    vggcl__tune_load(ctx);
    for (int i = 0; i < n && st == VGGCL_OK; i++) st = table_put(ctx, &mine[i]);
    if (st == VGGCL_OK) st = write_table(ctx, ctx->tuned, ctx->n_tuned, setup);
    if (fd >= 0) close(fd); /* (and so unlocked) */
    return st;
}

/* What a candidate launches at the timed shape and on the check's slice (a program can depend on the
 * map size: the CPU Winograd's FUSE=1 runs two passes on the slice and one at 224), so a candidate
 * kept for a key is checked on the kernels of the twins it stands for. */
#define TUNE_KEY (2 * VGGCL_LAUNCH_KEY)
static void tune_key(int id, const vggcl_conv_params *p, int c_in, int c_out, int h, int w, int check_h, int check_w,
                     char *buf)
{
    vggcl__conv_launch_key(id, p, c_in, c_out, h, w, buf, VGGCL_LAUNCH_KEY);
    const size_t used = strlen(buf);
    buf[used] = '|';
    vggcl__conv_launch_key(id, p, c_in, c_out, check_h, check_w, buf + used + 1, TUNE_KEY - used - 1);
}

/* How many of algorithm id's tunables differ between a and b. */
static int differing(int id, const vggcl_conv_params *a, const vggcl_conv_params *b)
{
    int d = 0;
    for (int t = 0; t < vggcl__conv_algo(id)->tunable_count; t++) d += a->v[t] != b->v[t];
    return d;
}

vggcl_tune_candidate *vggcl__tune_candidates(const vggcl_ctx *ctx, int c_in, int c_out, int n, int h, int w,
                                             int check_h, int check_w, int *count)
{
    int total = 0;
    for (int id = 1; id < VGGCL_CONV_ALGOS; id++) total += vggcl__conv_candidates(ctx, id, c_in, c_out, NULL, 0) + 1;
    candidate *c = calloc((size_t)total, sizeof *c);
    vggcl_conv_params *tmp = calloc((size_t)total, sizeof *tmp);
    char(*keys)[TUNE_KEY] = calloc((size_t)total, sizeof *keys);
    int k = 0;
    if (!c || !tmp || !keys) goto done;
    for (int id = 1; id < VGGCL_CONV_ALGOS; id++) {
        c[k].algo = id;
        vggcl__conv_defaults(ctx, id, n, c_in, c_out, h, w, &c[k].p);
        tune_key(id, &c[k].p, c_in, c_out, h, w, check_h, check_w, keys[k]);
        k++;
    }
    const int first_rest = k;
    for (int id = 1; id < VGGCL_CONV_ALGOS; id++) {
        const int m = vggcl__conv_candidates(ctx, id, c_in, c_out, tmp, total), first = k;
        for (int i = 0; i < m; i++) {
            tune_key(id, &tmp[i], c_in, c_out, h, w, check_h, check_w, keys[k]);
            if (!strcmp(keys[k], keys[id - 1])) continue; /* launches as the defaults of id */
            int j = first;
            while (j < k && strcmp(keys[j], keys[k])) j++;
            /* of those that launch alike, the one nearest the defaults stands for them */
            if (j == k) c[k].algo = id, c[k++].p = tmp[i];
            else if (differing(id, &tmp[i], &c[id - 1].p) < differing(id, &c[j].p, &c[id - 1].p)) c[j].p = tmp[i];
        }
    }
    unsigned x = 2463534242u; /* xorshift: the same order on every run */
    for (int i = k - 1; i > first_rest; i--) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        const int j = first_rest + (int)(x % (unsigned)(i - first_rest + 1));
        const candidate t = c[i];
        c[i] = c[j], c[j] = t;
    }
done:;
    const int made = c && tmp && keys;
    free(tmp), free(keys);
    if (!made) {
        free(c);
        return NULL;
    }
    *count = k;
    return c;
}

void vggcl__tune_neighbours_first(vggcl_tune_candidate *c, int first, int count, const vggcl_tune_candidate *best)
{
    int front = first;
    for (int i = first; i < count; i++) {
        if (c[i].algo != best->algo || differing(best->algo, &c[i].p, &best->p) != 1) continue;
        const candidate moved = c[i]; /* (shifting the ones between keeps their order too) */
        memmove(c + front + 1, c + front, sizeof *c * (size_t)(i - front));
        c[front++] = moved;
    }
}

void vggcl__tune_slow_last(vggcl_tune_candidate *c, int first, int count, const double *algo_ms, double best_ms)
{
    int back = count;
    for (int i = count - 1; i >= first; i--) {
        if (!(algo_ms[c[i].algo] > VGGCL_TUNE_SLOW_ALGO * best_ms)) continue;
        const candidate moved = c[i]; /* (shifting the ones between keeps their order too) */
        memmove(c + i, c + i + 1, sizeof *c * (size_t)(back - 1 - i));
        c[--back] = moved;
    }
}

/* Tunes one shape at one batch into r (and the context's table). */
static vggcl_status tune_shape(vggcl_ctx *ctx, vggcl_model *m, int step, int n, int h, int w, int iters,
                               double deadline, double end, const check_slice *slice, vggcl_tune_row *r)
{
    const vggcl_step *s = &m->steps[step];
    char where[512];
    int count = 0;
    candidate *c = vggcl__tune_candidates(ctx, s->c_in, s->c_out, n, h, w, slice->h, slice->w, &count);
    if (!c) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    const int default_algo = vggcl__conv_default_algo(ctx, s->c_in, s->c_out);
    for (int i = 1; i < count && i < VGGCL_CONV_ALGOS - 1; i++) /* the default timed first: a row is then never */
        if (c[i].algo == default_algo) {                        /* kept untried against it (a budget spent first) */
            const candidate d = c[i];
            memmove(c + 1, c, sizeof *c * (size_t)i);
            c[0] = d;
            break;
        }
    vggcl_tuned best = { s->c_in, s->c_out, h, w, n, 0, { { 0 } }, INFINITY };
    /* the table's row for this shape and class (an earlier tune's, of a larger budget perhaps) is timed right
     * after the defaults, as one of them: a later, shorter tune replaced it by a default it had beaten */
    int first = VGGCL_CONV_ALGOS - 1; /* the candidates timed while the whole budget lasts */
    const vggcl_tuned *had = vggcl__tune_lookup(ctx, s->c_in, s->c_out, h, w, n, 0); /* (the row a pass takes) */
    if (had && !same_key(had, &best)) had = NULL; /* (another map size or class: not this shape's row) */
    if (had && had->algo > 0 && had->algo < VGGCL_CONV_ALGOS) {
        int j = 0;
        while (j < count && (c[j].algo != had->algo || differing(had->algo, &c[j].p, &had->params))) j++;
        if (j == count) { /* (not one of the candidates: a twin of one, or parameters edited in by hand) */
            candidate *grown = realloc(c, sizeof *c * (size_t)(count + 1));
            if (!grown) {
                free(c);
                return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
            }
            c = grown, c[count++] = (candidate){ had->algo, had->params };
        }
        if (j >= first) { /* (else it is one of the defaults) */
            const candidate t = c[j];
            memmove(c + first + 1, c + first, sizeof *c * (size_t)(j - first));
            c[first++] = t;
        }
    }
    char params[200];
    int def = -1; /* the default's candidate, once timed */
    vggcl_status said = VGGCL_OK; /* the last candidate rejected failed so: the context's message says why */
    vggcl_status failed = VGGCL_ERR_NOMEM; /* what ends the shape's tuning (fail:) */
    double closest = INFINITY; /* the least finite relative difference from the reference a candidate ran with */
    double algo_ms[VGGCL_CONV_ALGOS]; /* each algorithm's defaults' time (INFINITY: not timed, or not run) */
    for (int a = 0; a < VGGCL_CONV_ALGOS; a++) algo_ms[a] = INFINITY;
    for (int i = 0; i < count; i++) {
        if (i == first && best.algo) {
            const candidate fastest = { best.algo, best.params };
            vggcl__tune_neighbours_first(c, i, count, &fastest);
            vggcl__tune_slow_last(c, i, count, algo_ms, best.ms);
        }
        /* the defaults (and the table's row) while the whole budget lasts, the rest while this shape's share does */
        if (vggcl__now_ms() * 1e-3 > (i < first ? end : deadline)) break;
        vggcl__conv_params_str(c[i].algo, &c[i].p, params, sizeof params);
        snprintf(where, sizeof where, "tuning layer %s (conv %d->%d, %dx%d, batch %d, %s %s)", s->name, s->c_in,
                 s->c_out, h, w, n, vggcl__conv_algo(c[i].algo)->name, params);
        double rel = 0, ms = 0;
        vggcl_status st = check(ctx, where, s, c[i].algo, &c[i].p, slice, &rel);
        if (st == VGGCL_ERR_NOMEM) goto fail;
        if (st != VGGCL_OK || !(rel <= CHECK_REL)) {
            r->rejected++, said = st;
            if (st == VGGCL_OK && rel < closest) closest = rel; /* (NaN never: one that ran and is not finite) */
            continue;
        }
        st = time_candidate(ctx, where, s, &c[i], n, h, w, iters, &ms);
        if (st == VGGCL_ERR_NOMEM || ctx->tune_evict_failed) {
            failed = st;
            goto fail;
        }
        if (st != VGGCL_OK) {
            r->rejected++, said = st;
            continue;
        }
        r->tried++;
        if (i < first && ms < algo_ms[c[i].algo]) algo_ms[c[i].algo] = ms;
        if (c[i].algo == default_algo && i < VGGCL_CONV_ALGOS - 1) r->default_ms = ms, def = i;
        if (ms < best.ms) best.algo = c[i].algo, best.params = c[i].p, best.ms = ms;
    }
    if (def >= 0 && (best.algo != c[def].algo || memcmp(&best.params, &c[def].p, sizeof best.params))) {
        const candidate challenger = { best.algo, best.params };
        double ratio = INFINITY, def_ms = r->default_ms;
        vggcl__conv_params_str(best.algo, &best.params, params, sizeof params);
        snprintf(where, sizeof where, "tuning layer %s (conv %d->%d, %dx%d, batch %d, %s %s against the default)",
                 s->name, s->c_in, s->c_out, h, w, n, vggcl__conv_algo(best.algo)->name, params);
        vggcl_status st = confirm(ctx, where, s, &c[def], &challenger, n, h, w, iters, &ratio, &def_ms);
        if (st == VGGCL_ERR_NOMEM || ctx->tune_evict_failed) {
            failed = st;
            goto fail;
        }
        r->default_ms = def_ms;
        /* and only when it gives the default's answers at the timed shape: the slice every candidate was
         * checked on is small (8 x 9), and some kernels' paths (the one-pass Winograd, multi-block tiling, the
         * direct kernel's interior loads) begin at larger maps */
        const int faster = st == VGGCL_OK && ratio <= 1 - CONFIRM_MARGIN;
        double rel = INFINITY;
        if (faster && (st = vggcl__tune_agree(ctx, where, s, &c[def], &challenger, n, h, w, &rel)) == VGGCL_ERR_NOMEM)
            goto fail;
        const int kept = faster && st == VGGCL_OK && rel <= CHECK_REL;
        r->rejected += faster && !kept;
        if (kept)
            best.ms = def_ms * ratio; /* the paired estimate, so that the printed gain is the paired one */
        else
            best.algo = c[def].algo, best.params = c[def].p, best.ms = def_ms;
    }
    free(c);
    if (!best.algo && !r->rejected) return VGGCL_OK; /* out of time: no row */
    if (!best.algo) { /* (with the last failure's words: a device without profiling times rejects them all) */
        char before[400], why[200] = "";
        if (!said && !isfinite(closest)) /* (the last rejected ran: none that ran gave a finite difference) */
            snprintf(why, sizeof why, ": none gave finite answers on a small check (the layer's outputs overflow "
                                      "float32: weights too large?)");
        else if (!said)
            vggcl__format(why, sizeof why, ": none gave the reference's answers on a small check (the closest %.2g "
                          "off, relative L2; at most %g)", closest, CHECK_REL);
        snprintf(before, sizeof before, "tuning layer %s (conv %d->%d, %dx%d, batch %d): no algorithm ran%s%s", s->name,
                 s->c_in, s->c_out, h, w, n, said ? "; the last: " : "", why);
        /* (the last failure's status where it says what the caller can change, a batch too large or a size no
         * pass takes; any other is the device's: ERR_ARG is only ever tune's own arguments) */
        const vggcl_status as = said == VGGCL_ERR_DEVICE_MEMORY || said == VGGCL_ERR_SHAPE ? said : VGGCL_ERR_DEVICE;
        return said ? vggcl__fail_around(ctx, as, before, "")
                    : vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s", before);
    }
    snprintf(r->algo, sizeof r->algo, "%s", vggcl__conv_algo(best.algo)->name);
    vggcl__conv_params_str(best.algo, &best.params, r->params, sizeof r->params);
    r->ms = best.ms;
    return table_put(ctx, &best);
fail: /* (out of host memory, or the cache's clearing failed: each said) */
    free(c);
    return failed;
}

vggcl_status vggcl_tune(vggcl_ctx *ctx, vggcl_model *m, const int *batches, int n_batches, int h, int w, int iters,
                        double budget_s, vggcl_tune_row *rows, int cap, int *count, char *path, size_t path_len)
{
    static const int one = 1;
    vggcl_status st = VGGCL_OK;
    int oh, ow, bad, shapes = 0, done = 0, n_mine = 0;
    vggcl_tuned *mine = NULL; /* this run's rows, merged into the table on disk at each write */
    char setup[128];
    if (!count || (cap > 0 && !rows)) return vggcl__fail(ctx, VGGCL_ERR_ARG, "tune: %s is NULL", !count ? "count" : "rows");
    *count = 0;
    if ((st = vggcl__model_mine(ctx, m, "tune: ", 1)) != VGGCL_OK) return st;
    if (!batches || n_batches < 1) batches = &one, n_batches = 1;
    if (ctx->use_ref) return vggcl__fail(ctx, VGGCL_ERR_ARG, "tuning needs an OpenCL device, not the reference");
    for (int b = 0; b < n_batches; b++)
        if (batches[b] < 1 || batches[b] > 4096)
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "tune: batch %d is not between 1 and 4096", batches[b]);
    for (int b = 0; b < n_batches; b++) /* (the table keeps one row per class: the first's would be replaced) */
        for (int b2 = 0; b2 < b; b2++)
            if (batch_class(batches[b]) == batch_class(batches[b2]))
                return vggcl__fail(ctx, VGGCL_ERR_ARG, "tune: batches %d and %d are of one class (1-2, 3-16, 17 and "
                                   "more), which has one row in the table; give one of them", batches[b2], batches[b]);
    if (iters < 1) return vggcl__fail(ctx, VGGCL_ERR_ARG, "tune: %d timed passes per candidate: expected 1 or more", iters);
    if (!vggcl__plan_out_size(m, h, w, &oh, &ow, &bad)) /* (the pass's words: the layer, the least size) */
        return vggcl__fail_around(ctx, vggcl_check_batch(ctx, m, 1, h, w), "tune: ", "");
    if ((st = table_writable(ctx)) != VGGCL_OK) return st; /* (found before the tuning, not after it) */
    for (int b = 0; b < n_batches; b++) /* (a batch no pass can run: every candidate failed, "no algorithm ran") */
        if ((st = vggcl_check_batch(ctx, m, batches[b], h, w)) != VGGCL_OK) /* (a size no pass takes, too) */
            return vggcl__fail_around(ctx, st, "tune: ", "");
    /* the distinct conv shapes: (step, h, w) of the first conv of each */
    int *first = calloc((size_t)m->n_steps + 1, 3 * sizeof *first);
    check_slice *slices = calloc((size_t)m->n_steps + 1, sizeof *slices);
    if (!first || !slices) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
        goto done;
    }
    for (int i = 0, hh = h, ww = w; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_POOL) {
            vggcl__step_size(s, &hh, &ww);
            continue;
        }
        int seen = 0;
        for (int j = 0; j < shapes && !seen; j++) {
            const vggcl_step *o = &m->steps[first[3 * j]];
            seen = o->c_in == s->c_in && o->c_out == s->c_out && first[3 * j + 1] == hh && first[3 * j + 2] == ww;
        }
        if (seen) continue;
        first[3 * shapes] = i, first[3 * shapes + 1] = hh, first[3 * shapes + 2] = ww;
        shapes++;
    }
    const double start = vggcl__now_ms() * 1e-3, total = (double)shapes * n_batches;
    const double end = budget_s > 0 ? start + budget_s : INFINITY;
    snprintf(setup, sizeof setup, "last tuned at %dx%d, %d timed passes per candidate, budget %.0f s", h, w, iters,
             budget_s);
    int untuned = 0, untuned_step = -1, untuned_batch = 0; /* the shapes x batches the budget did not reach */
    int said_evict = 0;
    for (int b = 0; b < n_batches; b++)
        for (int k = 0; k < shapes; k++, done++) {
            const int step = first[3 * k];
            const vggcl_step *s = &m->steps[step];
            /* the budget spent, at a batch before or by now: tune_shape would time nothing (its defaults are timed
             * while the whole budget lasts), so the buffer that clears the cache is not made for it, nor said */
            if (untuned_step >= 0 || vggcl__now_ms() * 1e-3 > end) {
                if (untuned_step < 0) untuned_step = step, untuned_batch = batches[b];
                untuned += shapes - k;
                break;
            }
            /* the time left, shared out over the shapes still to do */
            const double left = budget_s - (vggcl__now_ms() * 1e-3 - start);
            const double deadline = vggcl__now_ms() * 1e-3 + (budget_s > 0 && left > 0 ? left / (total - done) : 0);
            vggcl_tune_row row;
            memset(&row, 0, sizeof row);
            snprintf(row.layer, sizeof row.layer, "%s", s->name);
            row.c_in = s->c_in, row.c_out = s->c_out, row.h = first[3 * k + 1], row.w = first[3 * k + 2];
            row.batch = batches[b];
            if (!slices[k].input && (st = slice_make(ctx, s, &slices[k])) != VGGCL_OK) goto done;
            if ((st = evict_prepare(ctx, m, batches[b], h, w, &said_evict)) != VGGCL_OK) goto done;
            if ((st = tune_shape(ctx, m, step, batches[b], row.h, row.w, iters, deadline, end, &slices[k], &row)) !=
                VGGCL_OK)
                goto done;
            if (!row.tried) { /* the budget is spent */
                if (untuned_step < 0) untuned_step = step, untuned_batch = batches[b];
                untuned += shapes - k;
                break;
            }
            const vggcl_tuned key = { row.c_in, row.c_out, row.h, row.w, row.batch, 0, { { 0 } }, 0 };
            const vggcl_tuned *put = table_find(ctx, &key);
            vggcl_tuned *grown = put ? realloc(mine, sizeof *mine * (size_t)(n_mine + 1)) : NULL;
            if (!grown) {
                st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
                goto done;
            }
            mine = grown;
            mine[n_mine++] = *put;
            if ((st = save_rows(ctx, mine, n_mine, setup)) != VGGCL_OK) goto done;
            if (*count < cap) rows[*count] = row;
            (*count)++;
        }
    if (untuned && ctx->log) { /* (not an error: those shapes run as they would have without this tuning) */
        char msg[512];
        snprintf(msg, sizeof msg, "tune: the budget of %.0f s was spent before layer %s at batch %d: %d of %d shapes x "
                 "batches not tuned (no row of their own: they run the table's nearest row for their channels "
                 "within twice or half their map's sides, else the defaults); give a larger budget to tune them",
                 budget_s, m->steps[untuned_step].name, untuned_batch, untuned, shapes * n_batches);
        ctx->log(ctx->log_user, msg);
    }
    if (path) snprintf(path, path_len, "%s", ctx->tune_path);
done:
    vggcl__release(ctx, "tune", &ctx->tune_evict);
    ctx->tune_evict_bytes = 0, ctx->tune_evict_failed = 0;
    free(mine);
    for (int k = 0; slices && k < shapes; k++) free(slices[k].input), free(slices[k].expected);
    free(slices);
    free(first);
    return st;
}
