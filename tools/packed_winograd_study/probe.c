/* packed_winograd_probe: runs the channel-packed Winograd study kernels
 * (packed.cl) on the first OpenCL device, checks them against vggcl's plain-C
 * reference (host/ref/), and times them with profiling events.
 *
 *   packed_winograd_probe packed.cl --self-check
 *       every case of a table of shapes with remainders (odd sizes, a last
 *       tile block that overlaps, batch 2), and VGG16's 13 convolutions chained
 *       at 48x48, batch 2: exit 1 unless all match
 *   packed_winograd_probe packed.cl --vgg16 N SIZE ITERS
 *       VGG16's 13 convolutions chained on the packed layout (pool5 kept; the
 *       image's channels padded to 16), timed: device ms per pass
 *   packed_winograd_probe packed.cl C_in C_out H W POOL R OG PASSES N ITERS [M]
 *       one shape (PASSES 1: packed_fused, 2: packed_input + packed_gemm_out; M the output
 *       tile, 4 (default) or 6 for F(6x6, 3x3)):
 *       median and minimum device ms of ITERS runs after a warm-up, and the
 *       relative L2 difference from the reference (with PACKED_PROBE_NO_REFERENCE set, not
 *       computed: 0; the reference takes seconds at VGG16's sizes)
 *
 * A study tool (tools/packed_winograd_study/README.md), not part of vggcl. */
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"  /* vggcl__wino_filters, vggcl__wino6_filters: vggcl's own G g G^T */
#include "ref/ref.h" /* the plain-C reference the study is checked against */

typedef struct {
    int c_in, c_out, h, w, pool, r, og, passes, n, m; /* m: output tile size, 4 or 6 */
} shape;

static int cl_ok(cl_int err, const char *call)
{
    if (err == CL_SUCCESS) return 1;
    fprintf(stderr, "packed_winograd_probe: %s failed (%d)\n", call, err);
    return 0;
}
#define CHECK(call) \
    if (!cl_ok((call), #call)) goto done

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* vggcl's plain-C reference (host/ref/): the 3x3 convolution + bias + ReLU, then the 2x2 max
 * pool with pool: ref (n, c_out, oh, ow). 0 when out of host memory. */
static int reference(const shape *s, const float *x, const float *wt, const float *bias, float *ref)
{
    if (!s->pool) {
        vggcl__ref_conv3x3_bias_relu(x, wt, bias, ref, s->n, s->c_in, s->c_out, s->h, s->w);
        return 1;
    }
    float *full = malloc((size_t)s->n * s->c_out * s->h * s->w * sizeof *full);
    if (!full) return 0;
    vggcl__ref_conv3x3_bias_relu(x, wt, bias, full, s->n, s->c_in, s->c_out, s->h, s->w);
    vggcl__ref_maxpool2d(full, ref, s->n, s->c_out, s->h, s->w, 2, 2, 0, 0);
    free(full);
    return 1;
}

/* x (n, c_in, h, w) to pin (n, c_in / 16, Hp, Wp, 16) inside its zero border (pin zeroed);
 * channels past c_x (the real ones of x) stay zero. */
static void pack_input_c(const shape *s, int c_x, const float *x, float *pin)
{
    const int M = s->m, Hp = M * ((s->h + M - 1) / M) + 2, Wp = M * ((s->w + M - 1) / M) + 2;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < c_x; c++)
            for (int y = 0; y < s->h; y++)
                for (int xx = 0; xx < s->w; xx++)
                    pin[((((size_t)n * (s->c_in / 16) + c / 16) * Hp + y + 1) * Wp + xx + 1) * 16 + c % 16] =
                        x[(((size_t)n * c_x + c) * s->h + y) * s->w + xx];
}

static void pack_input(const shape *s, const float *x, float *pin) { pack_input_c(s, s->c_in, x, pin); }

/* wt (c_out, c_in, 3, 3) to U (NP, c_out / (16 og), c_in, 16 og). */
static void pack_u(const shape *s, const float *wt, float *u)
{
    const int M = s->m, np = (M + 2) * (M + 2), ogw = 16 * s->og;
    for (int o0 = 0; o0 < s->c_out; o0 += 16)
        for (int c = 0; c < s->c_in; c++) {
            float tile[64 * VGGCL_WINO_LANES]; /* tile[xi * 16 + j]: filter o0 + j */
            if (M == 4) vggcl__wino_filters(wt, s->c_out, s->c_in, o0, 16, c, tile);
            else vggcl__wino6_filters(wt, s->c_out, s->c_in, o0, 16, c, tile);
            for (int j = 0; j < 16; j++)
                for (int xi = 0; xi < np; xi++)
                    u[(((size_t)xi * (s->c_out / ogw) + (o0 + j) / ogw) * s->c_in + c) * ogw + (o0 + j) % ogw] =
                        tile[xi * 16 + j];
        }
}

/* The padded sizes of layer s: its input (Hp, Wp), output (oh, ow; with the border for a next
 * F(4x4) layer: Ohp, Owp), and its tiles over the batch. */
typedef struct {
    int ty, tx, Hp, Wp, oh, ow, Ohp, Owp, T_all;
} dims;

static dims dims_of(const shape *s)
{
    dims d;
    d.ty = (s->h + s->m - 1) / s->m, d.tx = (s->w + s->m - 1) / s->m;
    d.Hp = s->m * d.ty + 2, d.Wp = s->m * d.tx + 2;
    d.oh = s->pool ? s->h / 2 : s->h, d.ow = s->pool ? s->w / 2 : s->w;
    d.Ohp = 4 * ((d.oh + 3) / 4) + 2, d.Owp = 4 * ((d.ow + 3) / 4) + 2;
    d.T_all = s->n * d.tx * d.ty;
    return d;
}

/* One layer on the device: its program, kernels (k2 only with two passes), weights and V. */
typedef struct {
    shape s;
    cl_program prog;
    cl_kernel k1, k2;
    cl_mem bu, bb, bv;
    size_t g1[2], g2[2];
} layer;

static void layer_close(layer *L)
{
    if (L->k1) clReleaseKernel(L->k1);
    if (L->k2) clReleaseKernel(L->k2);
    if (L->bu) clReleaseMemObject(L->bu);
    if (L->bb) clReleaseMemObject(L->bb);
    if (L->bv) clReleaseMemObject(L->bv);
    if (L->prog) clReleaseProgram(L->prog);
    memset(L, 0, sizeof *L);
}

/* Builds layer s (weights wt (c_out, c_in, 3, 3), bias) from buffer in to buffer out. */
static int layer_open(cl_context ctx, cl_device_id dev, const char *source, const shape *s, const float *wt,
                      const float *bias, cl_mem in, cl_mem out, layer *L)
{
    const dims d = dims_of(s);
    const int np = (s->m + 2) * (s->m + 2), ogw = 16 * s->og;
    const size_t nu = (size_t)np * s->c_in * s->c_out, ms_bytes = (size_t)s->og * np * s->r * 16 * 4;
    int ok = 0;
    cl_int err = CL_SUCCESS;
    float *u = malloc(nu * 4);
    memset(L, 0, sizeof *L);
    L->s = *s;
    if (!u) goto done;
    pack_u(s, wt, u);
    char opts[96];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DR=%d -DOG=%d -DM=%d", s->r, s->og, s->m);
    L->prog = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    CHECK(err);
    if (clBuildProgram(L->prog, 1, &dev, opts, NULL, NULL) != CL_SUCCESS) {
        static char log[1 << 16];
        clGetProgramBuildInfo(L->prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        fprintf(stderr, "packed_winograd_probe: clBuildProgram failed:\n%s\n", log);
        goto done;
    }
    L->bu = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nu * 4, u, &err);
    CHECK(err);
    L->bb = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)s->c_out * 4, (void *)bias, &err);
    CHECK(err);
    if (s->passes == 1) {
        const int a[] = { s->c_in, s->c_out, d.Hp, d.Wp, d.ty, s->pool, d.oh, d.ow, d.Ohp, d.Owp };
        L->k1 = clCreateKernel(L->prog, "packed_fused", &err);
        CHECK(err);
        CHECK(clSetKernelArg(L->k1, 0, sizeof in, &in));
        CHECK(clSetKernelArg(L->k1, 1, sizeof L->bu, &L->bu));
        CHECK(clSetKernelArg(L->k1, 2, sizeof L->bb, &L->bb));
        CHECK(clSetKernelArg(L->k1, 3, sizeof out, &out));
        CHECK(clSetKernelArg(L->k1, 4, (size_t)np * s->r * s->c_in * 4, NULL));
        CHECK(clSetKernelArg(L->k1, 5, ms_bytes, NULL));
        for (int i = 0; i < 10; i++) CHECK(clSetKernelArg(L->k1, 6 + i, sizeof(int), &a[i]));
        L->g1[0] = (size_t)(d.tx * d.ty + s->r - 1) / s->r, L->g1[1] = (size_t)s->n;
    } else {
        const int a1[] = { s->c_in, d.Hp, d.Wp, d.ty };
        const int a2[] = { s->c_in, s->c_out, d.Wp, d.ty, d.T_all, s->pool, d.oh, d.ow, d.Ohp, d.Owp };
        L->bv = clCreateBuffer(ctx, CL_MEM_READ_WRITE, (size_t)np * d.T_all * s->c_in * 4, NULL, &err);
        CHECK(err);
        L->k1 = clCreateKernel(L->prog, "packed_input", &err);
        CHECK(err);
        CHECK(clSetKernelArg(L->k1, 0, sizeof in, &in));
        CHECK(clSetKernelArg(L->k1, 1, sizeof L->bv, &L->bv));
        for (int i = 0; i < 4; i++) CHECK(clSetKernelArg(L->k1, 2 + i, sizeof(int), &a1[i]));
        L->g1[0] = (size_t)d.T_all, L->g1[1] = (size_t)s->c_in / 16;
        L->k2 = clCreateKernel(L->prog, "packed_gemm_out", &err);
        CHECK(err);
        CHECK(clSetKernelArg(L->k2, 0, sizeof L->bv, &L->bv));
        CHECK(clSetKernelArg(L->k2, 1, sizeof L->bu, &L->bu));
        CHECK(clSetKernelArg(L->k2, 2, sizeof L->bb, &L->bb));
        CHECK(clSetKernelArg(L->k2, 3, sizeof out, &out));
        CHECK(clSetKernelArg(L->k2, 4, ms_bytes, NULL));
        for (int i = 0; i < 10; i++) CHECK(clSetKernelArg(L->k2, 5 + i, sizeof(int), &a2[i]));
        L->g2[0] = (size_t)(d.T_all + s->r - 1) / s->r, L->g2[1] = (size_t)s->c_out / ogw;
    }
    ok = 1;
done:
    free(u);
    if (!ok) layer_close(L);
    return ok;
}

/* Queues layer L; *first gets the event of its first kernel (if first is not NULL), *last of its last. */
static cl_int layer_enqueue(cl_command_queue q, const layer *L, cl_event *first, cl_event *last)
{
    static const size_t one[2] = { 1, 1 };
    cl_event e1 = NULL;
    cl_int err = clEnqueueNDRangeKernel(q, L->k1, 2, NULL, L->g1, one, 0, NULL, &e1);
    if (err == CL_SUCCESS && L->k2) err = clEnqueueNDRangeKernel(q, L->k2, 2, NULL, L->g2, one, 0, NULL, last);
    else if (err == CL_SUCCESS) {
        clRetainEvent(e1);
        *last = e1;
    }
    if (first && err == CL_SUCCESS) *first = e1;
    else if (e1) clReleaseEvent(e1);
    return err;
}

/* Device ms from the start of first to the end of last; releases both. */
static cl_int span_ms(cl_event first, cl_event last, double *ms)
{
    cl_ulong t0 = 0, t1 = 0;
    cl_int err = clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
    if (err == CL_SUCCESS) err = clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
    clReleaseEvent(first), clReleaseEvent(last);
    *ms = (double)(t1 - t0) * 1e-6;
    return err;
}

/* Relative L2 difference of the packed output (after layer s) from ref (n, c_out, oh, ow). */
static double packed_rel(const shape *s, const float *pout, const float *ref)
{
    const dims d = dims_of(s);
    double d2 = 0, r2 = 0;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->c_out; o++)
            for (int y = 0; y < d.oh; y++)
                for (int xx = 0; xx < d.ow; xx++) {
                    const double got =
                        pout[((((size_t)n * (s->c_out / 16) + o / 16) * d.Ohp + y + 1) * d.Owp + xx + 1) * 16 + o % 16];
                    const double want = ref[(((size_t)n * s->c_out + o) * d.oh + y) * d.ow + xx];
                    d2 += (got - want) * (got - want), r2 += want * want;
                }
    return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static unsigned seed = 12345u;
static float rnd(void) { return ((seed = seed * 1664525u + 1013904223u) >> 8) * (1.0f / 16777216.0f); }

/* Runs shape s: *ms_med / *ms_min of iters timed runs, *rel the difference from the reference. */
static int run(cl_context ctx, cl_device_id dev, cl_command_queue q, const char *source, const shape *s, int iters,
               int check, double *ms_med, double *ms_min, double *rel)
{
    const dims d = dims_of(s);
    const size_t nin = (size_t)s->n * s->c_in * s->h * s->w, nw = (size_t)s->c_out * s->c_in * 9;
    const size_t npin = (size_t)s->n * s->c_in * d.Hp * d.Wp, nref = (size_t)s->n * s->c_out * d.oh * d.ow;
    const size_t nout = (size_t)s->n * s->c_out * d.Ohp * d.Owp;
    int ok = 0;
    cl_int err = CL_SUCCESS;
    layer L = { 0 };
    cl_mem bin = NULL, bo = NULL;
    float *x = malloc(nin * 4), *wt = malloc(nw * 4), *bias = malloc((size_t)s->c_out * 4), *pin = calloc(npin, 4);
    float *ref = malloc(nref * 4), *pout = malloc(nout * 4);
    double *ms = malloc(sizeof *ms * (size_t)iters);
    if (!x || !wt || !bias || !pin || !ref || !pout || !ms) goto done;
    for (size_t i = 0; i < nin; i++) x[i] = rnd();
    for (size_t i = 0; i < nw; i++) wt[i] = (rnd() - 0.5f) * 0.2f;
    for (int i = 0; i < s->c_out; i++) bias[i] = (rnd() - 0.5f) * 0.2f;
    pack_input(s, x, pin);
    if (check && !reference(s, x, wt, bias, ref)) goto done;
    bin = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, npin * 4, pin, &err);
    CHECK(err);
    bo = clCreateBuffer(ctx, CL_MEM_READ_WRITE, nout * 4, NULL, &err);
    CHECK(err);
    const float zero = 0.0f;
    CHECK(clEnqueueFillBuffer(q, bo, &zero, sizeof zero, 0, nout * 4, 0, NULL, NULL));
    if (!layer_open(ctx, dev, source, s, wt, bias, bin, bo, &L)) goto done;
    for (int it = -1; it < iters; it++) {
        cl_event e1 = NULL, e2 = NULL;
        double t = 0;
        CHECK(layer_enqueue(q, &L, &e1, &e2));
        CHECK(clFinish(q));
        CHECK(span_ms(e1, e2, &t));
        if (it >= 0) ms[it] = t;
    }
    CHECK(clEnqueueReadBuffer(q, bo, CL_TRUE, 0, nout * 4, pout, 0, NULL, NULL));
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    *ms_med = ms[iters / 2], *ms_min = ms[0], *rel = check ? packed_rel(s, pout, ref) : 0;
    ok = isfinite(*rel);
done:
    layer_close(&L);
    if (bin) clReleaseMemObject(bin);
    if (bo) clReleaseMemObject(bo);
    free(x), free(wt), free(bias), free(pin), free(ref), free(pout), free(ms);
    return ok;
}

static int valid(const shape *s)
{
    if (s->m != 4 && s->m != 6) return 0;
    const int tiles = ((s->h + s->m - 1) / s->m) * ((s->w + s->m - 1) / s->m);
    return s->c_in > 0 && s->c_in % 16 == 0 && s->c_out > 0 && s->c_out % (16 * s->og) == 0 && s->h >= 2 &&
           s->w >= 2 && s->r >= 1 && s->r <= 32 && s->og >= 1 && s->og <= 4 && s->n >= 1 &&
           (s->passes == 1 || (s->passes == 2 && s->r <= s->n * tiles));
}

/* VGG16's 13 convolutions, chained on the packed layout: c_out, pool (pool5 kept), R, OG, passes
 * (one pass up to 256 channels, two for the 512-channel layers); the image's 3 channels padded
 * to 16. R is cut to the tiles of the batch where the map is small. */
static const int vgg16[13][5] = {
    { 64, 0, 14, 2, 1 },  { 64, 1, 14, 2, 1 },  { 128, 0, 14, 2, 1 }, { 128, 1, 14, 2, 1 }, { 256, 0, 14, 2, 1 },
    { 256, 0, 14, 2, 1 }, { 256, 1, 14, 2, 1 }, { 512, 0, 7, 4, 2 },  { 512, 0, 7, 4, 2 },  { 512, 1, 7, 4, 2 },
    { 512, 0, 8, 2, 2 },  { 512, 0, 8, 2, 2 },  { 512, 1, 8, 2, 2 },
};
#define LAYERS 13

/* The chain on n images of size x size: device ms per pass (median and minimum of iters) from
 * the first kernel's start to the last one's end, and with check the relative L2 difference of
 * the last map from the reference applied layer by layer. */
static int chain(cl_context ctx, cl_device_id dev, cl_command_queue q, const char *source, int n, int size, int iters,
                 int check, double *ms_med, double *ms_min, double *rel)
{
    shape s[LAYERS];
    layer L[LAYERS];
    cl_mem act[LAYERS + 1] = { 0 };
    float *wt[LAYERS] = { 0 }, *bias[LAYERS] = { 0 }, *x = NULL, *y = NULL, *pin = NULL, *pout = NULL;
    double *ms = malloc(sizeof *ms * (size_t)iters);
    int ok = 0, opened = 0;
    cl_int err = CL_SUCCESS;
    const float zero = 0.0f;
    memset(L, 0, sizeof L);
    for (int i = 0, h = size, c_in = 16; i < LAYERS; i++) {
        s[i] = (shape){ c_in, vgg16[i][0], h, h, vgg16[i][1], vgg16[i][2], vgg16[i][3], vgg16[i][4], n, 4 };
        if (s[i].passes == 2 && s[i].r > dims_of(&s[i]).T_all) s[i].r = dims_of(&s[i]).T_all;
        const size_t nw = (size_t)s[i].c_out * c_in * 9;
        const float a = sqrtf(6.0f / (9.0f * (i ? c_in : 3))); /* He uniform over the real channels */
        wt[i] = calloc(nw, sizeof *wt[i]), bias[i] = malloc((size_t)s[i].c_out * sizeof *bias[i]);
        if (!wt[i] || !bias[i] || !valid(&s[i])) goto done;
        for (int o = 0; o < s[i].c_out; o++) {
            for (int c = 0; c < (i ? c_in : 3); c++)
                for (int k = 0; k < 9; k++) wt[i][((size_t)o * c_in + c) * 9 + k] = (2.0f * rnd() - 1.0f) * a;
            bias[i][o] = (rnd() - 0.5f) * 0.1f;
        }
        h = s[i].pool ? h / 2 : h, c_in = s[i].c_out;
    }
    /* the image, (n, 16, size, size) with channels 3..15 zero, packed into act[0] */
    const dims d0 = dims_of(&s[0]);
    const size_t nx = (size_t)n * 16 * size * size, n0 = (size_t)n * 16 * d0.Hp * d0.Wp;
    x = calloc(nx, sizeof *x), pin = calloc(n0, sizeof *pin);
    if (!x || !pin || !ms) goto done;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < (size_t)3 * size * size; i++) x[(size_t)k * 16 * size * size + i] = rnd();
    pack_input(&s[0], x, pin);
    act[0] = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n0 * 4, pin, &err);
    CHECK(err);
    for (int i = 0; i < LAYERS; i++) {
        const dims d = dims_of(&s[i]);
        const size_t bytes = (size_t)n * s[i].c_out * d.Ohp * d.Owp * 4;
        act[i + 1] = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        CHECK(err);
        CHECK(clEnqueueFillBuffer(q, act[i + 1], &zero, sizeof zero, 0, bytes, 0, NULL, NULL));
        if (!layer_open(ctx, dev, source, &s[i], wt[i], bias[i], act[i], act[i + 1], &L[i])) goto done;
        opened = i + 1;
    }
    for (int it = -1; it < iters; it++) {
        cl_event first = NULL, last = NULL;
        for (int i = 0; i < LAYERS && err == CL_SUCCESS; i++) {
            cl_event e = NULL;
            err = layer_enqueue(q, &L[i], i == 0 ? &first : NULL, &e);
            if (e && i < LAYERS - 1) clReleaseEvent(e);
            else last = e;
        }
        if (err != CL_SUCCESS) {
            if (first) clReleaseEvent(first);
            if (last) clReleaseEvent(last);
        }
        CHECK(err);
        CHECK(clFinish(q));
        double t = 0;
        CHECK(span_ms(first, last, &t));
        if (it >= 0) ms[it] = t;
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    *ms_med = ms[iters / 2], *ms_min = ms[0], *rel = 0;
    if (check) { /* the reference, layer by layer, on NCHW maps */
        float *cur = x;
        for (int i = 0; i < LAYERS; i++) {
            const dims d = dims_of(&s[i]);
            float *next = malloc((size_t)n * s[i].c_out * d.oh * d.ow * sizeof *next);
            if (!next) {
                if (cur != x) free(cur);
                goto done;
            }
            const int made = reference(&s[i], cur, wt[i], bias[i], next);
            if (cur != x) free(cur);
            cur = next;
            if (!made) {
                y = cur; /* freed below */
                goto done;
            }
        }
        y = cur;
        const dims d = dims_of(&s[LAYERS - 1]);
        const size_t nout = (size_t)n * s[LAYERS - 1].c_out * d.Ohp * d.Owp;
        pout = malloc(nout * sizeof *pout);
        if (!pout) goto done;
        CHECK(clEnqueueReadBuffer(q, act[LAYERS], CL_TRUE, 0, nout * 4, pout, 0, NULL, NULL));
        *rel = packed_rel(&s[LAYERS - 1], pout, y);
    }
    ok = isfinite(*rel);
done:
    for (int i = 0; i < opened; i++) layer_close(&L[i]);
    for (int i = 0; i <= LAYERS; i++)
        if (act[i]) clReleaseMemObject(act[i]);
    for (int i = 0; i < LAYERS; i++) free(wt[i]), free(bias[i]);
    if (y != x) free(y);
    free(x), free(pin), free(pout), free(ms);
    return ok;
}

int main(int argc, char **argv)
{
    static const shape table[] = {
        /* c_in c_out h w pool r og passes n m */
        { 16, 16, 8, 8, 0, 4, 1, 1, 1, 4 },   { 16, 32, 13, 11, 1, 5, 2, 1, 2, 4 }, /* the last block short */
        { 32, 64, 9, 14, 0, 3, 4, 1, 1, 4 },  { 48, 32, 7, 7, 1, 7, 1, 1, 2, 4 },
        { 16, 32, 13, 11, 1, 5, 2, 2, 2, 4 }, /* blocks across images; the last one overlaps */
        { 32, 64, 9, 14, 0, 6, 4, 2, 1, 4 },  { 64, 64, 28, 28, 0, 7, 4, 2, 1, 4 }, { 32, 16, 5, 6, 1, 8, 1, 2, 3, 4 },
        /* F(6x6, 3x3) */
        { 16, 32, 13, 11, 1, 5, 2, 1, 2, 6 }, { 32, 64, 12, 18, 0, 3, 4, 1, 1, 6 },
        { 16, 32, 13, 11, 1, 5, 2, 2, 2, 6 }, { 48, 16, 7, 9, 1, 4, 1, 2, 3, 6 },
    };
    const int vgg = argc == 6 && !strcmp(argv[2], "--vgg16");
    if (argc != 3 && argc != 12 && argc != 13 && !vgg) {
        fprintf(stderr, "usage: packed_winograd_probe packed.cl --self-check\n"
                        "       packed_winograd_probe packed.cl C_in C_out H W POOL R OG PASSES N ITERS [M]\n"
                        "       packed_winograd_probe packed.cl --vgg16 N SIZE ITERS\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    char *source = malloc(1 << 17);
    size_t len = f && source ? fread(source, 1, (1 << 17) - 1, f) : 0;
    if (f) fclose(f);
    if (!len) {
        fprintf(stderr, "packed_winograd_probe: cannot read %s\n", argv[1]);
        free(source);
        return 1;
    }
    source[len] = '\0';
    int rc = 1, iters = 1, count = 0, check = 1, vgg_n = 2, vgg_size = 48;
    shape one;
    const shape *cases = table;
    if (vgg) {
        vgg_n = atoi(argv[3]), vgg_size = atoi(argv[4]), iters = atoi(argv[5]);
        if (vgg_n < 1 || vgg_size < 32 || iters < 1) {
            fprintf(stderr, "packed_winograd_probe: --vgg16 N SIZE ITERS: N >= 1, SIZE >= 32, ITERS >= 1\n");
            free(source);
            return 2;
        }
        check = 0;
    } else if (argc == 3) {
        if (strcmp(argv[2], "--self-check")) {
            free(source);
            return 2;
        }
        count = (int)(sizeof table / sizeof table[0]);
    } else {
        int *v[] = { &one.c_in, &one.c_out, &one.h, &one.w, &one.pool, &one.r, &one.og, &one.passes, &one.n, &iters };
        for (int i = 0; i < 10; i++) *v[i] = atoi(argv[2 + i]);
        one.m = argc == 13 ? atoi(argv[12]) : 4;
        if (!valid(&one) || iters < 1) {
            fprintf(stderr, "packed_winograd_probe: C_in and C_out multiples of 16 (C_out of 16 OG), R 1..32, OG "
                            "1..4, PASSES 1 or 2 (R at most the tiles of the batch), ITERS >= 1, M 4 or 6\n");
            free(source);
            return 2;
        }
        cases = &one, count = 1;
        check = !getenv("PACKED_PROBE_NO_REFERENCE");
    }
    cl_platform_id plat;
    cl_device_id dev;
    cl_context ctx = NULL;
    cl_command_queue q = NULL;
    cl_int err;
    CHECK(clGetPlatformIDs(1, &plat, NULL));
    CHECK(clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL));
    ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    CHECK(err);
    q = clCreateCommandQueue(ctx, dev, CL_QUEUE_PROFILING_ENABLE, &err);
    CHECK(err);
    rc = 0;
    for (int i = 0; i < count; i++) {
        const shape *s = &cases[i];
        double med = 0, mn = 0, rel = 0;
        const int ran = valid(s) && run(ctx, dev, q, source, s, iters, check, &med, &mn, &rel);
        const int good = ran && rel < 1e-5;
        printf("%s F(%dx%d) %d->%d %dx%d%s R %d OG %d, %d pass%s, batch %d: median %.3f ms (min %.3f), rel L2 %.2e%s\n",
               good ? "ok  " : "FAIL", s->m, s->m, s->c_in, s->c_out, s->h, s->w, s->pool ? " + pool" : "", s->r, s->og,
               s->passes, s->passes == 1 ? "" : "es", s->n, med, mn, rel,
               !ran ? " (did not run)" : check ? "" : " (not checked)");
        if (!good) rc = 1;
    }
    if (vgg || count == (int)(sizeof table / sizeof table[0])) { /* the chain: timed alone, checked in the self-check */
        double med = 0, mn = 0, rel = 0;
        const int ran = chain(ctx, dev, q, source, vgg_n, vgg_size, vgg ? iters : 1, !vgg, &med, &mn, &rel);
        const int good = ran && rel < 1e-5;
        printf("%s VGG16's 13 convolutions chained, %dx%d, batch %d: median %.3f ms (min %.3f) per pass, rel L2 %.2e%s\n",
               good ? "ok  " : "FAIL", vgg_size, vgg_size, vgg_n, med, mn, rel,
               !ran ? " (did not run)" : vgg ? " (not checked)" : "");
        if (!good) rc = 1;
    }
done:
    if (q) clReleaseCommandQueue(q);
    if (ctx) clReleaseContext(ctx);
    free(source);
    return rc;
}
