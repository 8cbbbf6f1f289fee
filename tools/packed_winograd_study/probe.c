/* packed_winograd_probe: runs the channel-packed Winograd study kernels
 * (packed.cl) on the first OpenCL device, checks them against a direct
 * convolution in double, and times them with profiling events.
 *
 *   packed_winograd_probe packed.cl --self-check
 *       every case of a table of shapes with remainders (odd sizes, a last
 *       tile block that overlaps, batch 2): exit 1 unless all match
 *   packed_winograd_probe packed.cl C_in C_out H W POOL R OG PASSES N ITERS [M]
 *       one shape (PASSES 1: packed_fused, 2: packed_input + packed_gemm_out; M the output
 *       tile, 4 (default) or 6 for F(6x6, 3x3)):
 *       median and minimum device ms of ITERS runs after a warm-up, and the
 *       relative L2 difference from the reference (with PACKED_PROBE_NO_REFERENCE set, not
 *       computed: 0; the reference in double takes seconds at VGG16's sizes)
 *
 * A study tool (tools/packed_winograd_study/README.md), not part of vggcl. */
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h" /* vggcl__wino_filters: vggcl's own G g G^T */

typedef struct {
    int c_in, c_out, h, w, pool, r, og, passes, n, m; /* m: output tile size, 4 or 6 */
} shape;

/* G g G^T of F(6x6, 3x3) (points 0, +-1, +-2, +-1/2, infinity) for one 3x3 filter g: u[xi], 64 points. */
static void filter6(const float *g, float *u)
{
    static const double G[8][3] = { { 1, 0, 0 },
                                    { -2.0 / 9, -2.0 / 9, -2.0 / 9 },
                                    { -2.0 / 9, 2.0 / 9, -2.0 / 9 },
                                    { 1.0 / 90, 1.0 / 45, 2.0 / 45 },
                                    { 1.0 / 90, -1.0 / 45, 2.0 / 45 },
                                    { 32.0 / 45, 16.0 / 45, 8.0 / 45 },
                                    { 32.0 / 45, -16.0 / 45, 8.0 / 45 },
                                    { 0, 0, 1 } };
    double t[8][3];
    for (int a = 0; a < 8; a++)
        for (int c = 0; c < 3; c++) t[a][c] = G[a][0] * g[c] + G[a][1] * g[3 + c] + G[a][2] * g[6 + c];
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++) u[a * 8 + b] = (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
}

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

/* Direct 3x3 convolution, padding 1, + bias, ReLU, and the 2x2 max pool with pool: (n, c_out, oh, ow). */
static void reference(const shape *s, const float *x, const float *wt, const float *bias, float *ref)
{
    const int H = s->h, W = s->w, oh = s->pool ? H / 2 : H, ow = s->pool ? W / 2 : W;
    float *full = malloc((size_t)H * W * sizeof *full);
    if (!full) return;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->c_out; o++) {
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double acc = bias[o];
                    for (int c = 0; c < s->c_in; c++)
                        for (int k = 0; k < 9; k++) {
                            const int yy = y + k / 3 - 1, xq = xx + k % 3 - 1;
                            if (yy >= 0 && yy < H && xq >= 0 && xq < W)
                                acc += (double)x[(((size_t)n * s->c_in + c) * H + yy) * W + xq] *
                                       wt[((size_t)o * s->c_in + c) * 9 + k];
                        }
                    full[(size_t)y * W + xx] = acc > 0 ? (float)acc : 0.0f;
                }
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    const float *f = full + (size_t)(s->pool ? 2 * y : y) * W + (s->pool ? 2 * xx : xx);
                    ref[(((size_t)n * s->c_out + o) * oh + y) * ow + xx] =
                        s->pool ? fmaxf(fmaxf(f[0], f[1]), fmaxf(f[W], f[W + 1])) : f[0];
                }
        }
    free(full);
}

/* Runs shape s: *ms_med / *ms_min of iters timed runs, *rel the difference from the reference. */
static int run(cl_context ctx, cl_device_id dev, cl_command_queue q, const char *source, const shape *s, int iters,
               int check, double *ms_med, double *ms_min, double *rel)
{
    const int M = s->m, np = (M + 2) * (M + 2);
    const int ty = (s->h + M - 1) / M, tx = (s->w + M - 1) / M, Hp = M * ty + 2, Wp = M * tx + 2;
    const int oh = s->pool ? s->h / 2 : s->h, ow = s->pool ? s->w / 2 : s->w;
    const int Ohp = 4 * ((oh + 3) / 4) + 2, Owp = 4 * ((ow + 3) / 4) + 2, T_all = s->n * tx * ty, ogw = 16 * s->og;
    const size_t nin = (size_t)s->n * s->c_in * s->h * s->w, nw = (size_t)s->c_out * s->c_in * 9;
    const size_t npin = (size_t)s->n * s->c_in * Hp * Wp, nu = (size_t)np * s->c_in * s->c_out;
    const size_t nref = (size_t)s->n * s->c_out * oh * ow, nout = (size_t)s->n * s->c_out * Ohp * Owp;
    int ok = 0;
    cl_int err = CL_SUCCESS;
    cl_program prog = NULL;
    cl_kernel k1 = NULL, k2 = NULL;
    cl_mem bin = NULL, bu = NULL, bb = NULL, bo = NULL, bv = NULL;
    float *x = malloc(nin * 4), *wt = malloc(nw * 4), *bias = malloc((size_t)s->c_out * 4), *pin = calloc(npin, 4);
    float *u = malloc(nu * 4), *ref = malloc(nref * 4), *pout = malloc(nout * 4);
    double *ms = malloc(sizeof *ms * (size_t)iters);
    if (!x || !wt || !bias || !pin || !u || !ref || !pout || !ms) goto done;
    unsigned seed = 12345u;
#define RND() ((seed = seed * 1664525u + 1013904223u) >> 8) * (1.0f / 16777216.0f)
    for (size_t i = 0; i < nin; i++) x[i] = RND();
    for (size_t i = 0; i < nw; i++) wt[i] = (RND() - 0.5f) * 0.2f;
    for (int i = 0; i < s->c_out; i++) bias[i] = (RND() - 0.5f) * 0.2f;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c_in; c++)
            for (int y = 0; y < s->h; y++)
                for (int xx = 0; xx < s->w; xx++)
                    pin[((((size_t)n * (s->c_in / 16) + c / 16) * Hp + y + 1) * Wp + xx + 1) * 16 + c % 16] =
                        x[(((size_t)n * s->c_in + c) * s->h + y) * s->w + xx];
    for (int o0 = 0; o0 < s->c_out; o0 += 16)
        for (int c = 0; c < s->c_in; c++) {
            float tile[64 * VGGCL_WINO_LANES]; /* tile[xi * 16 + j]: filter o0 + j */
            if (M == 4) {
                vggcl__wino_filters(wt, s->c_out, s->c_in, o0, 16, c, tile);
            } else {
                for (int j = 0; j < 16; j++) {
                    float one[64];
                    filter6(wt + ((size_t)(o0 + j) * s->c_in + c) * 9, one);
                    for (int xi = 0; xi < 64; xi++) tile[xi * 16 + j] = one[xi];
                }
            }
            for (int j = 0; j < 16; j++)
                for (int xi = 0; xi < np; xi++)
                    u[(((size_t)xi * (s->c_out / ogw) + (o0 + j) / ogw) * s->c_in + c) * ogw + (o0 + j) % ogw] =
                        tile[xi * 16 + j];
        }
    if (check) reference(s, x, wt, bias, ref);

    char opts[96];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DR=%d -DOG=%d -DM=%d", s->r, s->og, M);
    prog = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    CHECK(err);
    if (clBuildProgram(prog, 1, &dev, opts, NULL, NULL) != CL_SUCCESS) {
        static char log[1 << 16];
        clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        fprintf(stderr, "packed_winograd_probe: clBuildProgram failed:\n%s\n", log);
        goto done;
    }
    bin = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, npin * 4, pin, &err);
    CHECK(err);
    bu = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nu * 4, u, &err);
    CHECK(err);
    bb = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)s->c_out * 4, bias, &err);
    CHECK(err);
    bo = clCreateBuffer(ctx, CL_MEM_READ_WRITE, nout * 4, NULL, &err);
    CHECK(err);
    const float zero = 0.0f;
    CHECK(clEnqueueFillBuffer(q, bo, &zero, sizeof zero, 0, nout * 4, 0, NULL, NULL));
    const size_t ms_bytes = (size_t)s->og * np * s->r * 16 * 4, one[2] = { 1, 1 };
    size_t g1[2], g2[2];
    if (s->passes == 1) {
        const int a[] = { s->c_in, s->c_out, Hp, Wp, ty, s->pool, oh, ow, Ohp, Owp };
        k1 = clCreateKernel(prog, "packed_fused", &err);
        CHECK(err);
        CHECK(clSetKernelArg(k1, 0, sizeof bin, &bin));
        CHECK(clSetKernelArg(k1, 1, sizeof bu, &bu));
        CHECK(clSetKernelArg(k1, 2, sizeof bb, &bb));
        CHECK(clSetKernelArg(k1, 3, sizeof bo, &bo));
        CHECK(clSetKernelArg(k1, 4, (size_t)np * s->r * s->c_in * 4, NULL));
        CHECK(clSetKernelArg(k1, 5, ms_bytes, NULL));
        for (int i = 0; i < 10; i++) CHECK(clSetKernelArg(k1, 6 + i, sizeof(int), &a[i]));
        g1[0] = (size_t)(tx * ty + s->r - 1) / s->r, g1[1] = (size_t)s->n;
    } else {
        const int a1[] = { s->c_in, Hp, Wp, ty }, a2[] = { s->c_in, s->c_out, Wp, ty, T_all, s->pool, oh, ow, Ohp, Owp };
        bv = clCreateBuffer(ctx, CL_MEM_READ_WRITE, (size_t)np * T_all * s->c_in * 4, NULL, &err);
        CHECK(err);
        k1 = clCreateKernel(prog, "packed_input", &err);
        CHECK(err);
        CHECK(clSetKernelArg(k1, 0, sizeof bin, &bin));
        CHECK(clSetKernelArg(k1, 1, sizeof bv, &bv));
        for (int i = 0; i < 4; i++) CHECK(clSetKernelArg(k1, 2 + i, sizeof(int), &a1[i]));
        g1[0] = (size_t)T_all, g1[1] = (size_t)s->c_in / 16;
        k2 = clCreateKernel(prog, "packed_gemm_out", &err);
        CHECK(err);
        CHECK(clSetKernelArg(k2, 0, sizeof bv, &bv));
        CHECK(clSetKernelArg(k2, 1, sizeof bu, &bu));
        CHECK(clSetKernelArg(k2, 2, sizeof bb, &bb));
        CHECK(clSetKernelArg(k2, 3, sizeof bo, &bo));
        CHECK(clSetKernelArg(k2, 4, ms_bytes, NULL));
        for (int i = 0; i < 10; i++) CHECK(clSetKernelArg(k2, 5 + i, sizeof(int), &a2[i]));
        g2[0] = (size_t)(T_all + s->r - 1) / s->r, g2[1] = (size_t)s->c_out / ogw;
    }
    for (int it = -1; it < iters; it++) {
        cl_event e1 = NULL, e2 = NULL;
        cl_ulong t0 = 0, t1 = 0;
        err = clEnqueueNDRangeKernel(q, k1, 2, NULL, g1, one, 0, NULL, &e1);
        if (err == CL_SUCCESS && k2) err = clEnqueueNDRangeKernel(q, k2, 2, NULL, g2, one, 0, NULL, &e2);
        if (err == CL_SUCCESS) err = clFinish(q);
        if (err == CL_SUCCESS) err = clGetEventProfilingInfo(e1, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(k2 ? e2 : e1, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (e1) clReleaseEvent(e1);
        if (e2) clReleaseEvent(e2);
        CHECK(err);
        if (it >= 0) ms[it] = (double)(t1 - t0) * 1e-6;
    }
    CHECK(clEnqueueReadBuffer(q, bo, CL_TRUE, 0, nout * 4, pout, 0, NULL, NULL));
    double d2 = 0, r2 = check ? 0 : 1;
    for (int n = 0; n < s->n && check; n++)
        for (int o = 0; o < s->c_out; o++)
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    const double got = pout[((((size_t)n * (s->c_out / 16) + o / 16) * Ohp + y + 1) * Owp + xx + 1) * 16 +
                                            o % 16];
                    const double want = ref[(((size_t)n * s->c_out + o) * oh + y) * ow + xx];
                    d2 += (got - want) * (got - want), r2 += want * want;
                }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    *ms_med = ms[iters / 2], *ms_min = ms[0], *rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    ok = isfinite(*rel);
done:
    if (k1) clReleaseKernel(k1);
    if (k2) clReleaseKernel(k2);
    if (bin) clReleaseMemObject(bin);
    if (bu) clReleaseMemObject(bu);
    if (bb) clReleaseMemObject(bb);
    if (bo) clReleaseMemObject(bo);
    if (bv) clReleaseMemObject(bv);
    if (prog) clReleaseProgram(prog);
    free(x), free(wt), free(bias), free(pin), free(u), free(ref), free(pout), free(ms);
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
    if (argc != 3 && argc != 12 && argc != 13) {
        fprintf(stderr, "usage: packed_winograd_probe packed.cl --self-check\n"
                        "       packed_winograd_probe packed.cl C_in C_out H W POOL R OG PASSES N ITERS [M]\n");
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
    int rc = 1, iters = 1, count = 0, check = 1;
    shape one;
    const shape *cases = table;
    if (argc == 3) {
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
done:
    if (q) clReleaseCommandQueue(q);
    if (ctx) clReleaseContext(ctx);
    free(source);
    return rc;
}
