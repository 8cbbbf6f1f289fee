/* Helpers shared by the Check suites; see test_util.h. */
#define _XOPEN_SOURCE 700
#include "test_util.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_fill(float *a, size_t n, unsigned seed, float lo, float hi)
{
    unsigned long long s = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = lo + (hi - lo) * (float)((s >> 40) / 16777216.0);
    }
}

void tu_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

int tu_compare(const char *what, const float *expected, const float *got, int N, int C, int H, int W,
               double rel_l2, double elem_tol)
{
    const size_t total = (size_t)N * C * H * W;
    double diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < total; i++) {
        if (isnan(expected[i]) || isnan(got[i])) continue;
        diff2 += ((double)got[i] - expected[i]) * ((double)got[i] - expected[i]);
        ref2 += (double)expected[i] * expected[i];
    }
    const double rms = total ? sqrt(ref2 / total) : 0;
    for (size_t i = 0; i < total; i++) {
        const double e = expected[i], g = got[i];
        int bad = isnan(e) != isnan(g);
        if (!bad && !isnan(e)) bad = !(fabs(g - e) <= elem_tol * (fabs(e) + rms)) && !(g == e);
        if (bad) {
            size_t r = i;
            const int x = (int)(r % W); r /= W;
            const int y = (int)(r % H); r /= H;
            const int c = (int)(r % C); r /= C;
            fprintf(stderr, "%s: shape (%d, %d, %d, %d): first mismatch at n=%d c=%d h=%d w=%d: expected %.8g got %.8g\n",
                    what, N, C, H, W, (int)r, c, y, x, e, g);
            return 0;
        }
    }
    const double rel = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    if (rel > rel_l2) {
        fprintf(stderr, "%s: shape (%d, %d, %d, %d): relative L2 error %.3g > %.3g\n", what, N, C, H, W, rel, rel_l2);
        return 0;
    }
    return 1;
}

vggcl_ctx *tu_cl_ctx(void)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    const char *spec = getenv("VGGCL_TEST_DEVICE");
    vggcl_status st = vggcl_select_device(ctx, spec ? spec : "");
    ck_assert_msg(st == VGGCL_OK, "no OpenCL device: %s", vggcl_message(ctx));
    ck_assert_msg(!ctx->use_ref, "VGGCL_TEST_DEVICE must name an OpenCL device, not ref");
    return ctx;
}

cl_mem tu_alloc(vggcl_ctx *ctx, size_t n)
{
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, (n ? n : 1) * sizeof(float), NULL, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer -> %s", vggcl__cl_error_name(err));
    /* NaN in every float: what a kernel leaves unwritten, or reads before anything wrote it, shows in
     * the comparison instead of passing on a zeroed page or an earlier case's right answer */
    const float nan = NAN;
    err = clEnqueueFillBuffer(ctx->queue, m, &nan, sizeof nan, 0, (n ? n : 1) * sizeof(float), 0, NULL, NULL);
    ck_assert_msg(err == CL_SUCCESS, "clEnqueueFillBuffer -> %s", vggcl__cl_error_name(err));
    return m;
}

cl_mem tu_upload(vggcl_ctx *ctx, const float *src, size_t n)
{
    cl_mem m = tu_alloc(ctx, n);
    cl_int err = clEnqueueWriteBuffer(ctx->queue, m, CL_TRUE, 0, n * sizeof(float), src, 0, NULL, NULL);
    ck_assert_msg(err == CL_SUCCESS, "clEnqueueWriteBuffer -> %s", vggcl__cl_error_name(err));
    return m;
}

void tu_download(vggcl_ctx *ctx, cl_mem buf, float *dst, size_t n)
{
    cl_int err = clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, n * sizeof(float), dst, 0, NULL, NULL);
    ck_assert_msg(err == CL_SUCCESS, "clEnqueueReadBuffer -> %s", vggcl__cl_error_name(err));
}

void tu_write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(fwrite(data, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
}

void tu_write_safetensors(const char *path, const tu_tensor *t, int n, const char *metadata_json)
{
    size_t cap = 4096 + (size_t)n * 256, used = 0, data_len = 0;
    char *hdr = malloc(cap);
    ck_assert_ptr_nonnull(hdr);
    used += (size_t)snprintf(hdr + used, cap - used, "{");
    if (metadata_json) used += (size_t)snprintf(hdr + used, cap - used, "\"__metadata__\":%s", metadata_json);
    for (int i = 0; i < n; i++) {
        size_t bytes = t[i].data ? 4 : 0;
        if (t[i].data)
            for (int d = 0; d < t[i].ndim; d++) bytes *= (size_t)t[i].shape[d];
        else
            bytes = t[i].raw_len;
        used += (size_t)snprintf(hdr + used, cap - used, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                 (i || metadata_json) ? "," : "", t[i].name, t[i].dtype ? t[i].dtype : "F32");
        for (int d = 0; d < t[i].ndim; d++)
            used += (size_t)snprintf(hdr + used, cap - used, d ? ",%lld" : "%lld", t[i].shape[d]);
        used += (size_t)snprintf(hdr + used, cap - used, "],\"data_offsets\":[%zu,%zu]}", data_len, data_len + bytes);
        data_len += bytes;
    }
    used += (size_t)snprintf(hdr + used, cap - used, "}");
    ck_assert(used < cap);
    while (used % 8) hdr[used++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((unsigned long long)used >> (8 * i));
    ck_assert(fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, used, f) == used);
    for (int i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) count *= (size_t)t[i].shape[d];
        if (t[i].data) ck_assert(fwrite(t[i].data, 4, count, f) == count);
        else ck_assert(fwrite(t[i].raw, 1, t[i].raw_len, f) == t[i].raw_len);
    }
    ck_assert(fclose(f) == 0);
    free(hdr);
}

static char tmp_dir[256] = "";

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* At exit, also after a failed check (the suites run without fork, so a
 * failure returns to main): the folder and everything in it. */
static void remove_tmp_dir(void)
{
    if (tmp_dir[0]) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Stopped by a signal (ctest interrupted, a CI job cancelled): the folder goes too. (nftw is not
 * async-signal-safe; the process is ending anyway. SIGKILL cannot be caught.) */
static void remove_on_signal(int sig)
{
    remove_tmp_dir();
    signal(sig, SIG_DFL);
    raise(sig);
}

const char *tu_tmp(const char *name)
{
    char *dir = tmp_dir;
    static char path[512];
    if (!dir[0]) {
        snprintf(dir, sizeof tmp_dir, "/tmp/vggcl_test_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        atexit(remove_tmp_dir);
        signal(SIGTERM, remove_on_signal);
        signal(SIGINT, remove_on_signal);
        signal(SIGHUP, remove_on_signal);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

void tu_write_vgg(const char *path, const char *cfg, int bn, int classes, unsigned seed, const char *meta)
{
    tu_write_vgg_head(path, cfg, bn, "", classes, seed, meta);
}

void tu_write_vgg_head(const char *path, const char *cfg, int bn, const char *head, int classes, unsigned seed,
                       const char *meta)
{
    tu_tensor t[256];
    char names[256][48];
    float *bufs[256];
    int n = 0, idx = 0, c_in = 3;
    const char *p = cfg;
    /* He-scaled weights keep activations O(1) through many layers */
    while (*p) {
        if (*p == 'M') {
            idx++;
            p++;
        } else {
            int c = (int)strtol(p, (char **)&p, 10);
            const int parts = bn ? 6 : 2;
            const char *suffix[6] = { "weight", "bias", "weight", "bias", "running_mean", "running_var" };
            for (int k = 0; k < parts; k++) {
                const int conv = k < 2;
                const size_t count = conv && k == 0 ? (size_t)c * c_in * 9 : (size_t)c;
                const float scale = (float)sqrt(6.0 / (c_in * 9));
                const float lo[6] = { -scale, -0.05f, 0.5f, -0.1f, -0.1f, 0.5f };
                const float hi[6] = { scale, 0.05f, 1.5f, 0.1f, 0.1f, 1.5f };
                snprintf(names[n], sizeof names[0], "features.%d.%s", conv ? idx : idx + 1, suffix[k]);
                bufs[n] = malloc(count * sizeof(float));
                tu_fill(bufs[n], count, seed * 1000 + (unsigned)n, lo[k], hi[k]);
                t[n] = (tu_tensor){ names[n], "F32", k == 0 ? 4 : 1, { c, c_in, 3, 3 }, bufs[n], NULL, 0 };
                if (k) t[n].shape[0] = c;
                n++;
            }
            idx += bn ? 3 : 2;
            c_in = c;
        }
        if (*p == ',') p++;
    }
    /* the head: "" one linear layer after GAP; "gap:W,W..." or "flat:W,..." dense layers of those widths
     * (ReLU between) before the last, after GAP or after the 7x7 pool and flatten; named classifier.0, .2, ... */
    int in = c_in, widths[16], n_dense = 0;
    const char *h = head;
    if (!strncmp(h, "flat:", 5)) in = c_in * 49, h += 5;
    else if (!strncmp(h, "gap:", 4)) h += 4;
    while (*h && n_dense < 15) {
        widths[n_dense++] = (int)strtol(h, (char **)&h, 10);
        if (*h == ',') h++;
    }
    widths[n_dense++] = classes;
    for (int l = 0; l < n_dense; l++) {
        const float hs = (float)(1.0 / sqrt(in)) * (l + 1 < n_dense ? 2.0f : 1.0f);
        for (int k = 0; k < 2; k++) {
            const size_t count = k ? (size_t)widths[l] : (size_t)widths[l] * in;
            snprintf(names[n], sizeof names[0], "classifier.%d.%s", 2 * l, k ? "bias" : "weight");
            bufs[n] = malloc(count * sizeof(float));
            tu_fill(bufs[n], count, seed * 1000 + 900 + (unsigned)n, k ? -0.1f : -hs, k ? 0.1f : hs);
            t[n] = (tu_tensor){ names[n], "F32", k ? 1 : 2, { widths[l], in }, bufs[n], NULL, 0 };
            n++;
        }
        in = widths[l];
    }
    tu_write_safetensors(path, t, n, meta);
    for (int i = 0; i < n; i++) free(bufs[i]);
}
