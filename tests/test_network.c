/* The whole network on the OpenCL device against the reference backend: the
 * same plan, inputs and weights, layer kernels chained through ping-pong
 * buffers, GAP and the head; custom widths with BatchNorm, odd sizes, both
 * pool5 settings, vgg11, vgg16 and vgg19_bn widths, batch > 1, a reused model,
 * each convolution algorithm (auto, direct, Winograd, im2col + SGEMM, and
 * the GPU-shaped Winograd, which folds the max pools after conv blocks in),
 * heads of dense chains after GAP and after the 7x7 pool and flatten, and
 * devices with less local memory or smaller work-groups than PoCL; a NaN in the input reaching the
 * logits on every path, as in PyTorch. */
#define _DEFAULT_SOURCE /* usleep */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conv_algo.h"
#include "layers.h"
#include "model.h"
#include "ref/ref.h"
#include "test_util.h"

/* Float chains of up to 13 convs against double: errors compound to ~1e-6
 * relative (measured); 1e-5 leaves room without hiding a wrong layer, which
 * moves the logits by far more. */
#define REL_L2 1e-5
#define ELEM 1e-4

/* head: "" GAP + one linear layer; "gap:..." / "flat:..." a dense chain after GAP / the 7x7 pool and flatten */
static const struct { const char *cfg; int bn, classes, N, H, W; int pool5; const char *head; } nets[] = {
    { "8,M,12,M,16,16", 1, 3, 2, 37, 29, VGGCL_POOL5_KEEP, "" },
    { "8,M,12,M,16,16", 1, 3, 2, 37, 29, VGGCL_POOL5_DROP, "gap:9,5" },
    { "5,M,7,M,9", 0, 7, 3, 8, 9, VGGCL_POOL5_KEEP, "flat:11" },
    { "8,M,12", 0, 4, 3, 30, 26, VGGCL_POOL5_KEEP, "flat:13,6,5" },
    { "64,M,128,M,256,256,M,512,512,M,512,512", 0, 7, 2, 32, 32, VGGCL_POOL5_KEEP, "" },
    { "64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512", 0, 7, 1, 48, 40, VGGCL_POOL5_DROP, "" },
    { "64,64,M,128,128,M,256,256,256,256,M,512,512,512,512,M,512,512,512,512", 1, 10, 1, 32, 33, VGGCL_POOL5_KEEP, "" },
};

/* One forward of model mc on cl and of mr on the reference backend (5 classes) on the same random input
 * (seed): the same features and logits. */
static void same_as_reference(vggcl_ctx *ref, vggcl_model *mr, vggcl_ctx *cl, vggcl_model *mc, int N, int H, int W,
                              unsigned seed)
{
    const int F = vggcl_model_features(mr);
    const size_t nx = (size_t)N * 3 * H * W;
    float *x = malloc(nx * 4), *yr = malloc((size_t)N * 5 * 4), *yc = malloc((size_t)N * 5 * 4);
    float *fr = malloc((size_t)N * F * 4), *fc = malloc((size_t)N * F * 4);
    tu_fill(x, nx, seed, -2, 2);
    ck_assert(vggcl_forward(ref, mr, x, N, H, W, yr, fr) == VGGCL_OK);
    ck_assert_msg(vggcl_forward(cl, mc, x, N, H, W, yc, fc) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_msg(tu_compare("features", fr, fc, N, F, 1, 1, REL_L2, ELEM), "features differ at %dx%d", H, W);
    ck_assert_msg(tu_compare("logits", yr, yc, N, 5, 1, 1, REL_L2, ELEM), "logits differ at %dx%d", H, W);
    free(x), free(yr), free(yc), free(fr), free(fc);
}

/* The reference's features and logits of each net, from the first algorithm's run (the same for
 * every algorithm: the reference's pass on the VGG-wide nets was half the suite's time under the
 * sanitizers); freed in main. */
#define N_NETS (sizeof nets / sizeof nets[0])
static float *want_y[N_NETS], *want_f[N_NETS];

/* _i: the convolution algorithm on the device (auto, direct, winograd, gemm, winograd-gpu,
 * winograd-packed). */
START_TEST(test_network_vs_reference)
{
    const int conv = _i;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        const char *path = tu_tmp("net.safetensors");
        tu_write_vgg_head(path, nets[i].cfg, nets[i].bn, nets[i].head, nets[i].classes, (unsigned)i + 1, NULL);
        vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
        ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
        vggcl_load_options o = { nets[i].pool5, NULL, conv, 0 };
        vggcl_model *mr, *mc;
        ck_assert_msg(vggcl_model_load(ref, path, &o, &mr) == VGGCL_OK, "%s", vggcl_message(ref));
        ck_assert_msg(vggcl_model_load(cl, path, &o, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
        const int N = nets[i].N, H = nets[i].H, W = nets[i].W, C = nets[i].classes, F = vggcl_model_features(mr);
        const size_t nx = (size_t)N * 3 * H * W;
        float *x = malloc(nx * 4), *yr = malloc((size_t)N * C * 4), *yc = malloc((size_t)N * C * 4);
        float *fr = malloc((size_t)N * F * 4), *fc = malloc((size_t)N * F * 4);
        tu_fill(x, nx, (unsigned)i, -2, 2);
        if (!want_y[i]) {
            ck_assert(vggcl_forward(ref, mr, x, N, H, W, yr, fr) == VGGCL_OK);
            want_y[i] = malloc((size_t)N * C * 4), want_f[i] = malloc((size_t)N * F * 4);
            ck_assert(want_y[i] && want_f[i]);
            memcpy(want_y[i], yr, (size_t)N * C * 4), memcpy(want_f[i], fr, (size_t)N * F * 4);
        }
        memcpy(yr, want_y[i], (size_t)N * C * 4), memcpy(fr, want_f[i], (size_t)N * F * 4);
        /* twice on the device: the second pass reuses the grown workspace */
        for (int pass = 0; pass < 2; pass++) {
            tu_nan(yc, (size_t)N * C), tu_nan(fc, (size_t)N * F); /* (not the first pass's answers) */
            ck_assert_msg(vggcl_forward(cl, mc, x, N, H, W, yc, fc) == VGGCL_OK, "%s", vggcl_message(cl));
            ck_assert_msg(tu_compare("features", fr, fc, N, F, 1, 1, REL_L2, ELEM), "net %s (conv %d): features differ",
                          nets[i].cfg, conv);
            ck_assert_msg(tu_compare("logits", yr, yc, N, C, 1, 1, REL_L2, ELEM), "net %s (conv %d): logits differ",
                          nets[i].cfg, conv);
        }
        /* a smaller batch after a larger one, on the same buffers */
        tu_nan(yc, (size_t)N * C);
        ck_assert(vggcl_forward(cl, mc, x, 1, H, W, yc, NULL) == VGGCL_OK);
        ck_assert(tu_compare("logits (batch 1)", yr, yc, 1, C, 1, 1, REL_L2, ELEM));
        /* a NaN pixel in the last image makes its logits NaN, as PyTorch's (ReLU and the max pools let NaN
         * through; fmax had made it a confident answer), on the device as on the reference, and leaves the
         * other images' as they were */
        x[nx - (size_t)H * W + (size_t)(H / 2) * W + W / 2] = NAN;
        memset(yc, 0, (size_t)N * C * 4); /* (not NaN: the last image's NaN must be written, the rest right) */
        ck_assert_msg(vggcl_forward(cl, mc, x, N, H, W, yc, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
        ck_assert(N < 2 || tu_compare("logits (the images without NaN)", yr, yc, N - 1, C, 1, 1, REL_L2, ELEM));
        /* the reference's pass once per net, on the small ones (its code is the same for every width; the
         * VGG-wide ones take most of the suite's time under the sanitizers) */
        const int on_ref = conv == VGGCL_CONV_AUTO && nets[i].cfg[0] != '6';
        if (on_ref) ck_assert(vggcl_forward(ref, mr, x, N, H, W, yr, NULL) == VGGCL_OK);
        for (int c = 0; c < C; c++) {
            const float dev = yc[(size_t)(N - 1) * C + c], want = yr[(size_t)(N - 1) * C + c];
            ck_assert_msg(isnan(dev) && (!on_ref || isnan(want)),
                          "net %s (conv %d): logit %d of the image with a NaN is %g (reference %g)", nets[i].cfg, conv,
                          c, dev, want);
        }
        free(x), free(yr), free(yc), free(fr), free(fc);
        vggcl_model_free(mr), vggcl_model_free(mc);
        vggcl_ctx_free(ref), vggcl_ctx_free(cl);
    }
}
END_TEST

/* Overlapped passes (vggcl_forward_submit / vggcl_forward_wait) over a stream
 * of batches of changing size, so the buffers grow while a pass is in flight:
 * each batch's results equal the reference's and, bit for bit, those of
 * vggcl_forward on the same device. The input is overwritten as soon as the
 * submit returns (it may be reused then). Misuse is an error, not a hang:
 * a third pass in flight, vggcl_forward meanwhile, a wait with none in flight;
 * freeing the model with passes in flight leaves no buffer. _i: 0 the
 * device, 1 the reference backend. */
START_TEST(test_network_overlapped)
{
    static const int sizes[] = { 3, 1, 2, 3, 1 };
    enum { B = sizeof sizes / sizeof sizes[0], NMAX = 3 };
    for (size_t i = 0; i < 4; i += 3) { /* a GAP head and a dense chain after the 7x7 pool */
        const char *path = tu_tmp("overlap.safetensors");
        tu_write_vgg_head(path, nets[i].cfg, nets[i].bn, nets[i].head, nets[i].classes, (unsigned)i + 7, NULL);
        vggcl_ctx *ref = vggcl_ctx_new(), *cl = _i ? vggcl_ctx_new() : tu_cl_ctx();
        ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
        if (_i) ck_assert(vggcl_select_device(cl, "ref") == VGGCL_OK);
        vggcl_load_options o = { nets[i].pool5, NULL, VGGCL_CONV_AUTO, 0 };
        vggcl_model *mr, *mc;
        ck_assert(vggcl_model_load(ref, path, &o, &mr) == VGGCL_OK);
        ck_assert_msg(vggcl_model_load(cl, path, &o, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
        const int H = nets[i].H, W = nets[i].W, C = nets[i].classes, F = vggcl_model_features(mr);
        const size_t nx = (size_t)NMAX * 3 * H * W;
        float *x[B], *yr = malloc((size_t)NMAX * C * 4), *fr = malloc((size_t)NMAX * F * 4);
        float *ys = malloc((size_t)NMAX * C * 4), *fs = malloc((size_t)NMAX * F * 4), *input = malloc(nx * 4);
        float y[B][NMAX * 16], f[B][NMAX * 16];
        ck_assert_int_le(C, 16);
        ck_assert_int_le(F, 16);
        for (int b = 0; b < B; b++) {
            x[b] = malloc(nx * 4);
            tu_fill(x[b], nx, (unsigned)(10 * i + b), -2, 2);
        }
        for (int b = 0; b <= B; b++) {
            if (b < B) { /* submit batch b while b - 1 is in flight */
                memcpy(input, x[b], (size_t)sizes[b] * 3 * H * W * 4);
                ck_assert_msg(vggcl_forward_submit(cl, mc, input, sizes[b], H, W, y[b], b % 2 ? NULL : f[b]) ==
                                  VGGCL_OK, "%s", vggcl_message(cl));
                memset(input, 0xff, nx * 4); /* NaNs: a late upload would spoil the results */
            }
            if (b == 1) { /* two in flight */
                ck_assert_int_eq(vggcl_forward_submit(cl, mc, x[0], 1, H, W, y[0], NULL), VGGCL_ERR_ARG);
                ck_assert_int_eq(vggcl_forward(cl, mc, x[0], 1, H, W, ys, NULL), VGGCL_ERR_ARG);
                ck_assert_msg(strstr(vggcl_message(cl), "not waited for"), "%s", vggcl_message(cl));
            }
            if (b == 0) continue;
            const int k = b - 1, n = sizes[k];
            double ms = -1;
            ck_assert_msg(vggcl_forward_wait(cl, mc, &ms) == VGGCL_OK, "%s", vggcl_message(cl));
            ck_assert_msg(ms > 0 && ms < 60e3, "batch %d: the device's time on it is %g ms", k, ms);
            ck_assert(vggcl_forward(ref, mr, x[k], n, H, W, yr, fr) == VGGCL_OK);
            ck_assert_msg(tu_compare("logits", yr, y[k], n, C, 1, 1, REL_L2, ELEM), "batch %d: logits differ", k);
            if (k % 2 == 0)
                ck_assert_msg(tu_compare("features", fr, f[k], n, F, 1, 1, REL_L2, ELEM), "batch %d: features", k);
            if (b == B) { /* none in flight: vggcl_forward runs again, with the same results */
                ck_assert_int_eq(vggcl_forward_wait(cl, mc, NULL), VGGCL_ERR_ARG);
                ck_assert_msg(strstr(vggcl_message(cl), "no overlapped pass"), "%s", vggcl_message(cl));
            }
        }
        for (int k = 0; k < B; k++) {
            ck_assert(vggcl_forward(cl, mc, x[k], sizes[k], H, W, ys, fs) == VGGCL_OK);
            ck_assert_msg(!memcmp(ys, y[k], (size_t)sizes[k] * C * 4), "batch %d: overlapped != vggcl_forward", k);
            if (k % 2 == 0) ck_assert(!memcmp(fs, f[k], (size_t)sizes[k] * F * 4));
        }
        /* freed with two passes in flight */
        ck_assert(vggcl_forward_submit(cl, mc, x[0], 3, H, W, y[0], NULL) == VGGCL_OK);
        ck_assert(vggcl_forward_submit(cl, mc, x[1], 3, H, W, y[1], f[1]) == VGGCL_OK);
        vggcl_model_free(mc);
        ck_assert_int_eq(cl->dev_buffers, 0);
        for (int b = 0; b < B; b++) free(x[b]);
        free(yr), free(fr), free(ys), free(fs), free(input);
        vggcl_model_free(mr);
        vggcl_ctx_free(ref), vggcl_ctx_free(cl);
    }
}
END_TEST

/* Two models on one context, a large pass and a small one overlapped: the small pass's device time is its
 * own, from when it could start, not the large one's before it on the context's queue (it was 29.7 ms of
 * the large pass's 30 ms, where the small one alone takes 0.35 ms). */
START_TEST(test_network_overlapped_two_models)
{
    const char *big_path = tu_tmp("big.safetensors"), *small_path = tu_tmp("small.safetensors");
    tu_write_vgg(big_path, "64,M,64,M,128", 0, 5, 3, NULL);
    tu_write_vgg(small_path, "8,M,8", 0, 5, 4, NULL);
    vggcl_ctx *cl = tu_cl_ctx();
    vggcl_model *big, *small;
    ck_assert_msg(vggcl_model_load(cl, big_path, NULL, &big) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_msg(vggcl_model_load(cl, small_path, NULL, &small) == VGGCL_OK, "%s", vggcl_message(cl));
    enum { NB = 8, HB = 128, HS = 8 };
    float *xb = malloc((size_t)NB * 3 * HB * HB * 4), xs[3 * HS * HS], yb[NB * 5], ys[5];
    ck_assert_ptr_nonnull(xb);
    tu_fill(xb, (size_t)NB * 3 * HB * HB, 5, -2, 2), tu_fill(xs, 3 * HS * HS, 6, -2, 2);
    /* the first round builds the programs; of the timed ones the best is held to it (the fault gave the small
     * pass the large one's time in every round; a machine busy with other tests made one round miss it) */
    double best_small = -1, best_big = -1;
    for (int round = 0; round < 5 && !(best_small > 0 && best_small < best_big / 4); round++) {
        double ms_big = -1, ms_small = -1;
        ck_assert(vggcl_forward_submit(cl, big, xb, NB, HB, HB, yb, NULL) == VGGCL_OK);
        ck_assert(vggcl_forward_submit(cl, small, xs, 1, HS, HS, ys, NULL) == VGGCL_OK);
        ck_assert(vggcl_forward_wait(cl, big, &ms_big) == VGGCL_OK);
        ck_assert(vggcl_forward_wait(cl, small, &ms_small) == VGGCL_OK);
        if (round && (best_small < 0 || ms_small / ms_big < best_small / best_big))
            best_small = ms_small, best_big = ms_big;
    }
    ck_assert_msg(best_small > 0 && best_small < best_big / 4, "the small pass's time %g ms, the large one's %g ms",
                  best_small, best_big);
    free(xb);
    vggcl_model_free(big), vggcl_model_free(small);
    vggcl_ctx_free(cl);
}
END_TEST

/* A model of cfg and classes written to the test folder's file name and loaded in a new OpenCL context
 * (*cl); path (may be NULL) gets the file's path. */
static vggcl_model *cl_model(const char *name, const char *cfg, int classes, vggcl_ctx **cl, const char **path)
{
    const char *p = tu_tmp(name);
    tu_write_vgg(p, cfg, 0, classes, 3, NULL);
    *cl = tu_cl_ctx();
    vggcl_model *m = NULL;
    ck_assert_msg(vggcl_model_load(*cl, p, NULL, &m) == VGGCL_OK, "%s", vggcl_message(*cl));
    if (path) *path = p;
    return m;
}

/* A batch whose activations exceed the device's per-buffer limit fails before
 * any driver call, with the memory needed and the largest batch that fits. */
START_TEST(test_network_device_memory)
{
    vggcl_ctx *cl;
    vggcl_model *m = cl_model("mem.safetensors", "64,8", 2, &cl, NULL);
    /* first activation: N * 64 * H * W floats (no pool after it: one would be folded into the convolution, whose
     * output is then the pooled map); pick N over the per-buffer limit */
    const int H = 64, W = 64;
    const long long per_image = 64LL * H * W * 4;
    const int N = (int)(cl->max_alloc / per_image) + 1;
    float *x = calloc((size_t)N * 3 * H * W, sizeof *x);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(vggcl_forward(cl, m, x, N, H, W, NULL, NULL), VGGCL_ERR_DEVICE_MEMORY);
    ck_assert_msg(strstr(vggcl_message(cl), "largest batch that fits"), "%s", vggcl_message(cl));
    /* tune asks as a pass does, before any tuning: a size no pass takes (it tuned 70000 x 32 for minutes) */
    int count = -1;
    ck_assert_int_eq(vggcl_tune(cl, m, NULL, 0, 70000, 32, 1, 0, NULL, 0, &count, NULL, 0), VGGCL_ERR_SHAPE);
    ck_assert_msg(strstr(vggcl_message(cl), "70000"), "%s", vggcl_message(cl));
    ck_assert_int_eq(count, 0);
    free(x);
    vggcl_model_free(m);
    vggcl_ctx_free(cl);
}
END_TEST

/* On a CPU device, whose buffers are the host's memory (PoCL's global memory is the machine's whole memory, free or
 * not: a pass past what was free ended in PoCL's assertion or the OOM killer), the check counts what the host has
 * available (ctx->host_mem here) against what a pass adds to the buffers the model holds, and asked before a pass
 * (vggcl_check_batch, vggcl_max_batch) the input, features and logits the caller is yet to make: a batch already
 * run needs nothing more, by vggcl_forward and by overlapped passes; a GPU's memory is its own. */
START_TEST(test_network_host_memory)
{
    vggcl_ctx *cl;
    vggcl_model *m = cl_model("host.safetensors", "8,M,16", 3, &cl, NULL);
    enum { H = 32, W = 32 };
    static float x[8 * 3 * H * W], y[8 * 3];
    tu_fill(x, sizeof x / sizeof x[0], 5, -1, 1);
    const unsigned long long own2 = 2 * (3 * H * W + 16 + 3) * sizeof(float); /* (input, features, logits) */
    ck_assert_msg(vggcl_forward(cl, m, x, 2, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    cl->host_mem = 1;
    for (int n = 2; n >= 1; n--) /* (the second input buffer, which vggcl_forward never makes, not counted) */
        ck_assert_msg(vggcl_forward(cl, m, x, n, H, W, y, NULL) == VGGCL_OK, "batch %d: %s", n, vggcl_message(cl));
    /* overlapped passes: the first fills the input buffer that is there, the second makes the other one */
    ck_assert_msg(vggcl_forward_submit(cl, m, x, 2, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_int_eq(vggcl_forward_submit(cl, m, x, 2, H, W, y, NULL), VGGCL_ERR_DEVICE_MEMORY);
    cl->host_mem = 0;
    ck_assert_msg(vggcl_forward_submit(cl, m, x, 2, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    for (int i = 0; i < 2; i++) ck_assert_msg(vggcl_forward_wait(cl, m, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    cl->host_mem = 1;
    for (int i = 0; i < 2; i++)
        ck_assert_msg(vggcl_forward_submit(cl, m, x, 2, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    for (int i = 0; i < 2; i++) ck_assert_msg(vggcl_forward_wait(cl, m, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    cl->host_mem = own2; /* asked before a stream: the input, features and logits the caller is yet to make */
    ck_assert_msg(vggcl_check_batch(cl, m, 2, H, W) == VGGCL_OK, "%s", vggcl_message(cl));
    if (!cl->is_cpu) {
        cl->host_mem = 1;
        ck_assert_msg(vggcl_check_batch(cl, m, 8, H, W) == VGGCL_OK, "%s", vggcl_message(cl));
    } else {
        ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 8), 2); /* (3 needs more maps, and its own input) */
        cl->host_mem = own2 - 1;
        ck_assert_int_eq(vggcl_check_batch(cl, m, 2, H, W), VGGCL_ERR_DEVICE_MEMORY);
        ck_assert_msg(strstr(vggcl_message(cl), "0.0 MiB more than the model holds (with the input, features and "
                                                "logits to be made), but 0.0 MiB is available"),
                      "%s", vggcl_message(cl));
        ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 8), 1);
        cl->host_mem = 1;
        ck_assert_int_eq(vggcl_forward(cl, m, x, 8, H, W, y, NULL), VGGCL_ERR_DEVICE_MEMORY);
        ck_assert_msg(strstr(vggcl_message(cl), "out of memory: batch 8 at 32x32 needs ") == vggcl_message(cl) &&
                      strstr(vggcl_message(cl), "whose buffers are the host's memory: ") &&
                      strstr(vggcl_message(cl), "more than the model holds, but 0.0 MiB is available (free memory") &&
                      strstr(vggcl_message(cl), "the largest batch that fits at this size is 2"),
                      "%s", vggcl_message(cl));
        ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 8), 0);
        /* tune: its check passes, but its candidates' own buffers (a layer's input and output each) do not fit:
         * each refused, none run (past them, PoCL's assertion ended it) */
        cl->host_mem = own2;
        int count = -1;
        const vggcl_status tuned = vggcl_tune(cl, m, (const int[]){ 2 }, 1, H, W, 1, 0, NULL, 0, &count, NULL, 0);
        ck_assert_msg(tuned == VGGCL_ERR_DEVICE_MEMORY, "%d: %s", tuned, vggcl_message(cl)); /* (the last one's, as
                                                                                                 * every one's) */
        ck_assert_msg(strstr(vggcl_message(cl), "no algorithm ran; the last: ") &&
                      strstr(vggcl_message(cl), "'s buffers for a batch of 2 need ") &&
                      strstr(vggcl_message(cl), "of the host's memory (a CPU device's), but 0.0 MiB is available"),
                      "%s", vggcl_message(cl));
    }
    cl->host_mem = 0; /* the system's: this small pass fits, and then needs nothing more */
    ck_assert_msg(vggcl_forward(cl, m, x, 8, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    cl->host_mem = 1;
    ck_assert_msg(vggcl_forward(cl, m, x, 8, H, W, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    vggcl_model_free(m);
    /* loading too: each weights buffer against what the host has available (under ulimit -v PoCL's own
     * allocation failed in an assertion, SIGABRT, or a crash loading the next program), said naming the layer;
     * a GPU's weights are its own memory */
    const char *path = tu_tmp("host.safetensors");
    cl->host_mem = sizeof(float) * 8 * 3 * 9 - 1; /* (less than features.0's weights: packed, no fewer floats) */
    m = NULL;
    const vggcl_status loaded = vggcl_model_load(cl, path, NULL, &m);
    if (cl->is_cpu) {
        ck_assert_int_eq(loaded, VGGCL_ERR_NOMEM);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(vggcl_message(cl), "out of host memory loading layer features.0 (conv 3->8) ") &&
                      strstr(vggcl_message(cl), "whose buffers are the host's memory, but 0.0 MiB is available"),
                      "%s", vggcl_message(cl));
    } else {
        ck_assert_msg(loaded == VGGCL_OK, "%s", vggcl_message(cl));
    }
    vggcl_model_free(m);
    vggcl_ctx_free(cl);
}
END_TEST

/* Each activation buffer holds the largest map written into it, not the largest of all: the maps go into the two in
 * turn, so one of them holds only the second, fourth, ... map (VGG16 at 224, batch 32: 413 MiB in one, 120 MiB in the
 * other, where both were 413 MiB). Forced direct convolution (NCHW, each pool a step of its own) and winograd-packed
 * (the input converted to the channel-packed layout, each pool folded into the convolution before it, the last map
 * converted back for GAP); a chain of dense layers after GAP starts again in the first buffer (GAP's features are in
 * neither), one after the 7x7 pool in the buffer the last map is not in. */
START_TEST(test_network_activation_buffers)
{
    const char *path = tu_tmp("act.safetensors");
    vggcl_ctx *cl = tu_cl_ctx();
    const int N = 2;
    const struct { const char *head; int algo, pool5, side; size_t want[2]; } cases[] = {
        /* features.0, .3, .6 in the first; the pools, .2, .5 and pool5, in the second */
        { "", VGGCL_CONV_DIRECT, VGGCL_POOL5_KEEP, 32, { N * 8 * 32 * 32, N * 8 * 16 * 16 } },
        /* the input packed, features.3 + pool (8x8), back to NCHW; features.0 + pool, features.6 + pool5 (4x4) */
        { "", VGGCL_CONV_WINOGRAD_PACKED, VGGCL_POOL5_KEEP, 32,
          { vggcl__packed_floats(N, 3, 32, 32), vggcl__packed_floats(N, 8, 16, 16) } },
        /* pool5 dropped, features.6's map is in the first; at 16x16 the maps are smaller than the dense layers:
         * the first, of 3000, after GAP (whose features are in neither buffer) in the first too, then 4000 */
        { "gap:3000,4000", VGGCL_CONV_DIRECT, VGGCL_POOL5_DROP, 16, { N * 3000, N * 4000 } },
        /* the 7x7 pool of features.6's map into the second, then a layer of 3000 into the first */
        { "flat:3000", VGGCL_CONV_DIRECT, VGGCL_POOL5_DROP, 16, { N * 3000, N * 16 * 7 * 7 } },
    };
    float x[2 * 3 * 32 * 32], y[2 * 3];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)(i % 7) - 3.0f;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_write_vgg_head(path, "8,M,16,M,16", 0, cases[k].head, 3, 3, NULL);
        vggcl_load_options o = { cases[k].pool5, NULL, cases[k].algo, 0 };
        vggcl_model *m = NULL;
        ck_assert_msg(vggcl_model_load(cl, path, &o, &m) == VGGCL_OK, "%s", vggcl_message(cl));
        const int s = cases[k].side;
        ck_assert_msg(vggcl_forward(cl, m, x, N, s, s, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
        for (int b = 0; b < 2; b++)
            ck_assert_msg(m->act_bytes[b] == cases[k].want[b] * sizeof(float),
                          "%s, head '%s': buffer %d holds %zu bytes, not %zu", vggcl__conv_algo(cases[k].algo)->name,
                          cases[k].head, b, m->act_bytes[b], cases[k].want[b] * sizeof(float));
        if (k == 1) { /* the packed input, the largest buffer there, is named as what it is in a refusal */
            const size_t max_alloc = cl->max_alloc;
            cl->max_alloc = cases[k].want[0] * sizeof(float) - 1;
            ck_assert_int_eq(vggcl_forward(cl, m, x, N, s, s, y, NULL), VGGCL_ERR_DEVICE_MEMORY);
            ck_assert_msg(strstr(vggcl_message(cl), "MiB: the input, in the channel-packed layout)"), "%s",
                          vggcl_message(cl));
            cl->max_alloc = max_alloc;
        }
        vggcl_model_free(m);
    }
    vggcl_ctx_free(cl);
}
END_TEST

/* A context freed before its model, with a pass in flight (the model then released its buffers through the
 * freed context, and waited on its queue): the context goes with the model. Under the sanitizers: no use
 * after free, no leak. */
START_TEST(test_network_ctx_freed_first)
{
    vggcl_ctx *cl;
    vggcl_model *m = cl_model("first.safetensors", "8,M,8", 2, &cl, NULL);
    float x[2 * 3 * 16 * 16] = { 0 }, y[2 * 2];
    ck_assert_msg(vggcl_forward_submit(cl, m, x, 2, 16, 16, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    vggcl_ctx_free(cl);
    vggcl_model_free(m); /* (the context goes here) */
}
END_TEST

/* The largest batch that fits, as a check of every buffer a pass makes. n: the batch asked for. */
static int fitting_batch(vggcl_ctx *cl, vggcl_model *m, int n, int h, int w, float *x, float *y, const char *largest)
{
    ck_assert_int_eq(vggcl_forward(cl, m, x, n, h, w, y, NULL), VGGCL_ERR_DEVICE_MEMORY);
    ck_assert_msg(strstr(vggcl_message(cl), largest), "not '%s': %s", largest, vggcl_message(cl)); /* (named) */
    const char *at = strstr(vggcl_message(cl), "the largest batch that fits at this size is ");
    ck_assert_msg(at != NULL, "%s", vggcl_message(cl));
    return atoi(at + strlen("the largest batch that fits at this size is "));
}

/* The logits and CLBlast's copies count in the memory check too: a head of many classes whose logits
 * pass the per-buffer limit at a batch of small activations failed in the driver (the logits buffer,
 * with no batch that fits said, and a batch said to fit that did not), and a larger SGEMM aborted the
 * process inside CLBlast (its padded copy of the output past the limit). The device's per-buffer limit
 * is lowered here (4 MiB, 64 MiB) so that the batches stay small. */
START_TEST(test_network_head_memory)
{
    vggcl_ctx *cl;
    const char *path;
    vggcl_model *m = cl_model("wide_head.safetensors", "8,M,8", 3000, &cl, &path);
    const int N = 400, H = 4, W = 4; /* (small maps: the logits are the largest buffer) */
    float *x = calloc((size_t)N * 3 * H * W, sizeof *x), *y = calloc((size_t)N * 3000, sizeof *y);
    ck_assert(x && y);
    cl->max_alloc = (size_t)4 << 20; /* logits of 3000 classes: 349 images */
    const int fit = fitting_batch(cl, m, N, H, W, x, y, "MiB: the logits)");
    ck_assert_msg(fit == (int)(cl->max_alloc / (3000 * 4)), "%d: %s", fit, vggcl_message(cl));
    ck_assert_msg(vggcl_forward(cl, m, x, fit, H, W, y, NULL) == VGGCL_OK, "batch %d: %s", fit, vggcl_message(cl));
    /* asked before a pass: the same largest batch, the same message */
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, N), fit);
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, fit - 1), fit - 1);
    ck_assert_msg(vggcl_check_batch(cl, m, fit, H, W) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_int_eq(vggcl_check_batch(cl, m, fit + 1, H, W), VGGCL_ERR_DEVICE_MEMORY);
    ck_assert_msg(strstr(vggcl_message(cl), "MiB: the logits), but the device allows"),
                  "%s", vggcl_message(cl));
    vggcl_model_free(m);
    free(x), free(y);
    /* 100000 classes: CLBlast's SGEMM from 21 images on, whose one temporary buffer holds A, B and C padded to
     * its tiles (146.8 MiB at 167 images, 97.8 MiB from 1 to 128): 20 images fit, on the small kernel (the
     * largest copy alone, counted before, let 128 through, and CLBlast would have asked for the sum) */
    tu_write_vgg(path, "8,M,8", 0, 100000, 3, NULL);
    ck_assert(vggcl_model_load(cl, path, NULL, &m) == VGGCL_OK);
    cl->max_alloc = (size_t)64 << 20; /* logits alone: 167 images */
    x = calloc((size_t)167 * 3 * H * W, sizeof *x), y = calloc((size_t)167 * 100000, sizeof *y);
    ck_assert(x && y);
    ck_assert_int_eq(fitting_batch(cl, m, 167, H, W, x, y, "MiB: CLBlast's padded copies of a product's matrices)"), 20);
    ck_assert_msg(vggcl_forward(cl, m, x, 20, H, W, y, NULL) == VGGCL_OK, "batch 20: %s", vggcl_message(cl));
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 167), 20);
    free(x), free(y);
    vggcl_model_free(m);
    vggcl_ctx_free(cl);
}
END_TEST

/* The context's tuning table, as vggcl__tune_load leaves it, made n_rows empty rows (the model reads it at
 * load): the test fills them. */
static void tuning_table(vggcl_ctx *cl, int n_rows)
{
    free(cl->tuned);
    cl->tuned = calloc(n_rows, sizeof *cl->tuned);
    ck_assert_ptr_nonnull(cl->tuned);
    cl->n_tuned = n_rows;
}

/* A tuning table whose rows for batches of 3-16 choose the two-pass Winograd (its transformed input V, 1.6
 * times a 16-channel map in the channel-packed layout, is the largest buffer) and for 1-2 and 17 or more the
 * direct kernel (no workspace, NCHW maps), under a per-buffer limit of 23 images' maps in the channel-packed
 * layout: the Winograd's batches fit up to 14 (its V for 15 passes the limit), the direct kernel's from 17 to
 * more than 23 (its NCHW maps are smaller). A pass
 * of 23 runs; but the largest batch that fits, asked before a pass and in a refused pass's message, is 14, so
 * that batches of it end with a smaller one that fits too (a bisection over all batches from 40, tried first
 * at 20, said 23), and batches of 17 are refused before a stream of them, naming the smaller batch. */
START_TEST(test_network_memory_across_batch_classes)
{
    const char *path = tu_tmp("classes.safetensors");
    tu_write_vgg(path, "16,16", 0, 3, 3, NULL);
    vggcl_ctx *cl = tu_cl_ctx();
    static const struct { int c_in, batch, algo; } rows[] = {
        { 3, 8, VGGCL_CONV_DIRECT },
        { 16, 1, VGGCL_CONV_DIRECT },
        { 16, 8, VGGCL_CONV_WINOGRAD },
        { 16, 32, VGGCL_CONV_DIRECT },
    };
    const int n_rows = sizeof rows / sizeof rows[0], H = 32, W = 32, N = 40;
    tuning_table(cl, n_rows);
    for (int r = 0; r < n_rows; r++) {
        vggcl_tuned *t = &cl->tuned[r];
        t->c_in = rows[r].c_in, t->c_out = 16, t->h = H, t->w = W, t->batch = rows[r].batch, t->algo = rows[r].algo;
        vggcl__conv_defaults(cl, t->algo, t->batch, t->c_in, t->c_out, H, W, &t->params);
        if (t->algo == VGGCL_CONV_WINOGRAD) t->params.v[vggcl__conv_tunable(t->algo, "FUSE")] = 0; /* (V) */
    }
    vggcl_model *m;
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(cl));
    /* the limit: 23 images' maps in the channel-packed layout; V: 36 points of 16 channels for 8 x 8 tiles an image */
    const size_t map = vggcl__packed_floats(1, 16, H, W), v = 36 * 16 * 8 * 8;
    cl->max_alloc = 23 * map * sizeof(float);
    const int wino_fit = (int)(23 * map / v);
    ck_assert_msg(wino_fit == 14, "the Winograd's batches fit up to %d, not the 14 this test is made for", wino_fit);
    float *x = calloc((size_t)N * 3 * H * W, sizeof *x), *y = calloc((size_t)N * 3, sizeof *y);
    ck_assert(x && y);
    ck_assert_int_eq(fitting_batch(cl, m, N, H, W, x, y, "MiB: layer features.0's output)"), 14);
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, N), 14);
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 16), 14);
    ck_assert_int_eq(vggcl_max_batch(cl, m, H, W, 2), 2);
    ck_assert_msg(vggcl_check_batches(cl, m, 14, H, W) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_msg(vggcl_check_batch(cl, m, 17, H, W) == VGGCL_OK, "%s", vggcl_message(cl)); /* (17 alone) */
    ck_assert_int_eq(vggcl_check_batch(cl, m, 15, H, W), VGGCL_ERR_DEVICE_MEMORY);
    for (int n = 15; n <= 17; n += 2) { /* 15 does not fit; 17 does, but not the smaller 15 */
        ck_assert_int_eq(vggcl_check_batches(cl, m, n, H, W), VGGCL_ERR_DEVICE_MEMORY);
        ck_assert_msg(strstr(vggcl_message(cl), "batch 15 at 32x32 needs") &&
                      strstr(vggcl_message(cl), "layer features.2's winograd workspace") &&
                      strstr(vggcl_message(cl), "the largest batch that fits at this size is 14"), "%s",
                      vggcl_message(cl));
        ck_assert_msg((n == 17) == (strstr(vggcl_message(cl), "a batch of 17 fits, but not every smaller one") != NULL),
                      "%s", vggcl_message(cl));
    }
    ck_assert_msg(vggcl_forward(cl, m, x, 23, H, W, y, NULL) == VGGCL_OK, "batch 23: %s", vggcl_message(cl));
    free(x), free(y);
    vggcl_model_free(m);
    vggcl_ctx_free(cl);
}
END_TEST

/* Tuned rows whose parameters need another weight layout than the layer's default (the
 * channel-packed Winograd: F(6x6) where F(4x4) is the default and the other way round), and
 * two rows for one layer at two map sizes that need both: the model packs its weights for
 * each, and every pass agrees with the reference. The rows are the context's tuning table, as
 * vggcl__tune_load leaves it (the model reads it at load). */
START_TEST(test_network_tuned_layouts)
{
    const char *path = tu_tmp("layouts.safetensors");
    tu_write_vgg(path, "64,M,128,M,256", 0, 5, 3, NULL);
    vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    const int id = VGGCL_CONV_WINOGRAD_PACKED, m = vggcl__conv_tunable(id, "M");
    /* def: the default M (def_narrow: on a CPU of 8-float vectors, F(6x6) past 64 input channels); other: the
     * row takes the other M than the default */
    static const struct { int c_in, c_out, h, def, def_narrow, other; } rows[] = {
        { 3, 64, 20, 4, 4, 1 },    /* F(4x4) by default after the image's 3 channels */
        { 64, 128, 10, 6, 4, 1 },
        { 128, 256, 5, 4, 4, 1 },  /* and at 9x9 (an input of 36x36)... */
        { 128, 256, 9, 4, 4, 0 },  /* ...the default's layout */
    };
    const int n_rows = sizeof rows / sizeof rows[0];
    tuning_table(cl, n_rows);
    for (int r = 0; r < n_rows; r++) {
        vggcl_tuned *t = &cl->tuned[r];
        t->c_in = rows[r].c_in, t->c_out = rows[r].c_out, t->h = t->w = rows[r].h, t->batch = 2, t->algo = id;
        vggcl__conv_defaults(cl, id, 2, t->c_in, t->c_out, t->h, t->w, &t->params);
        ck_assert_int_eq(t->params.v[m], vggcl__narrow_vectors(cl) ? rows[r].def_narrow : rows[r].def);
        if (rows[r].other) t->params.v[m] = 10 - t->params.v[m];
    }
    vggcl_model *mr, *mc;
    ck_assert(vggcl_model_load(ref, path, NULL, &mr) == VGGCL_OK);
    /* the algorithm chosen by vggcl, and the same forced (--conv winograd-packed: its rows' layouts were not
     * uploaded, and the layers ran the defaults, unsaid) */
    for (int forced = 0; forced < 2; forced++) {
        vggcl_load_options o = { VGGCL_POOL5_AUTO, NULL, forced ? id : VGGCL_CONV_AUTO, 0 };
        ck_assert_msg(vggcl_model_load(cl, path, &o, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
        const int sizes[] = { 20, 36 };
        for (int k = 0; k < 2; k++) {
            const int N = 2, H = sizes[k], W = sizes[k];
            /* each conv runs its row's parameters (not the defaults, for want of weights) */
            for (int i = 0, h = H, r = 0; i < mc->n_steps; i++) {
                const vggcl_step *s = &mc->steps[i];
                if (s->kind == VGGCL_STEP_POOL) {
                    h = vggcl__pool_out_size(h, s->kernel_size, s->stride, s->padding, s->ceil_mode);
                    continue;
                }
                vggcl_conv_choice c;
                vggcl__conv_choose(cl, mc, i, N, h, h, &c);
                const int want = cl->tuned[r == 2 && k == 1 ? 3 : r].params.v[m]; /* (its row's) */
                ck_assert_msg(c.algo == id && c.params.v[m] == want, "%s at %dx%d (forced %d): M=%d, its row says %d",
                              s->name, h, h, forced, c.params.v[m], want);
                r++;
            }
            same_as_reference(ref, mr, cl, mc, N, H, W, (unsigned)k);
        }
        vggcl_model_free(mc);
    }
    vggcl_model_free(mr);
    vggcl_ctx_free(ref), vggcl_ctx_free(cl);
}
END_TEST

/* A tuned gemm row for a layer's channels, made at a small map, where a larger map (within twice the row's, which
 * it would steer) is past CLBlast's 32-bit reach (lowered here to blas_reach floats): the larger map runs the
 * layer's defaults (an auto pass failed, "gemm (CLBlast) indexes its matrices in 32 bits"), the smaller the row's
 * gemm; both as the reference. */
START_TEST(test_network_tuned_row_past_its_reach)
{
    const char *path = tu_tmp("reach.safetensors");
    tu_write_vgg(path, "8,M,8", 0, 5, 3, NULL); /* (5 classes: same_as_reference's) */
    vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    tuning_table(cl, 1);
    vggcl_tuned *t = &cl->tuned[0];
    t->c_in = 3, t->c_out = 8, t->h = t->w = 12, t->batch = 1, t->algo = VGGCL_CONV_GEMM;
    cl->blas_reach = vggcl__sgemm_temp_floats(8, 16 * 16, 27); /* (an image of 16x16 reaches, 17x17 not) */
    vggcl_model *mr, *mc;
    ck_assert(vggcl_model_load(ref, path, NULL, &mr) == VGGCL_OK);
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
    static const struct { int h, gemm; } sizes[] = { { 16, 1 }, { 17, 0 }, { 40, 0 } };
    for (int k = 0; k < 3; k++) {
        vggcl_conv_choice c;
        vggcl__conv_choose(cl, mc, 0, 1, sizes[k].h, sizes[k].h, &c);
        ck_assert_msg((c.algo == VGGCL_CONV_GEMM) == sizes[k].gemm, "at %dx%d: algorithm %d", sizes[k].h, sizes[k].h,
                      c.algo);
        same_as_reference(ref, mr, cl, mc, 1, sizes[k].h, sizes[k].h, 40u + (unsigned)k);
    }
    vggcl_model_free(mr), vggcl_model_free(mc);
    vggcl_ctx_free(ref), vggcl_ctx_free(cl);
}
END_TEST

/* cl's tuning table: rows of the direct kernel for "8,M,16" at an input of 40x40 (its two convolutions' maps). */
static void direct_rows_at_40(vggcl_ctx *cl)
{
    tuning_table(cl, 2);
    static const int rows[2][3] = { { 3, 8, 40 }, { 8, 16, 20 } }; /* (C_in, C_out, map) */
    for (int k = 0; k < 2; k++) {
        vggcl_tuned *t = &cl->tuned[k];
        t->c_in = rows[k][0], t->c_out = rows[k][1], t->h = t->w = rows[k][2], t->batch = 1;
        t->algo = VGGCL_CONV_DIRECT;
        vggcl__conv_defaults(cl, t->algo, 1, t->c_in, t->c_out, t->h, t->w, &t->params);
    }
}

/* A tuning table's rows are packed at the first pass that takes them, not at the load: rows for maps past twice
 * the size run hold nothing (a table of 400x400 rows made a 96x96 pass of vgg11 hold 587 MiB instead of 148 and
 * start in 1.42 s instead of 0.47), and the pass that takes them packs them once and equals the reference. The
 * rows name the direct kernel, whose weight layout the default (Winograd) does not share. */
START_TEST(test_network_rows_packed_at_first_pass)
{
    const char *path = tu_tmp("lazy.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 5, 3, NULL); /* (5 classes: same_as_reference's) */
    vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    direct_rows_at_40(cl);
    vggcl_model *mr, *mc;
    ck_assert(vggcl_model_load(ref, path, NULL, &mr) == VGGCL_OK);
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
    const int convs[2] = { 0, 2 }; /* (the steps: conv, pool, conv, pool5) */
    for (int k = 0; k < 2; k++) ck_assert_int_ne(mc->steps[convs[k]].algo, VGGCL_CONV_DIRECT);
    const int loaded = cl->dev_buffers;
    same_as_reference(ref, mr, cl, mc, 1, 16, 16, 50u); /* (40 is past twice 16: no row taken, none packed) */
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < VGGCL_CONV_VARIANTS; v++)
            ck_assert_ptr_null(mc->steps[convs[k]].packed[VGGCL_CONV_DIRECT][v]);
    ck_assert_int_eq(vggcl_model_tuned_layers(cl, mc, 1, 40, 40, NULL), 2); /* (said before a pass packs them) */
    const int before = cl->dev_buffers;
    same_as_reference(ref, mr, cl, mc, 1, 40, 40, 51u);
    int packed = 0;
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < VGGCL_CONV_VARIANTS; v++) packed += mc->steps[convs[k]].packed[VGGCL_CONV_DIRECT][v] != 0;
    ck_assert_int_eq(packed, 2);
    ck_assert_int_ge(before, loaded);
    const int after = cl->dev_buffers;
    same_as_reference(ref, mr, cl, mc, 1, 40, 40, 52u); /* (packed once) */
    ck_assert_int_eq(cl->dev_buffers, after);
    vggcl_model_free(mr), vggcl_model_free(mc);
    ck_assert_int_eq(cl->dev_buffers, 0);
    vggcl_ctx_free(ref), vggcl_ctx_free(cl);
}
END_TEST

/* The memory asked before a pass (vggcl_check_batch, vggcl_max_batch) counts the weights the tuning table's rows
 * for it will pack at that pass, not yet packed: a model whose pass packed them and a fresh one give one answer
 * under a device limit between the two (the fresh one was told its batch fits, then the pass was refused). The rows
 * name the direct kernel, whose weight layout the default (Winograd) does not share. */
START_TEST(test_network_rows_counted_before_packed)
{
    const char *path = tu_tmp("lazy_mem.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 5, 3, NULL);
    vggcl_ctx *cl = tu_cl_ctx();
    direct_rows_at_40(cl);
    vggcl_model *packed, *fresh;
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &packed) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &fresh) == VGGCL_OK, "%s", vggcl_message(cl));
    float x[3 * 40 * 40], y[5];
    tu_fill(x, sizeof x / sizeof *x, 53u, -2, 2);
    ck_assert_msg(vggcl_forward(cl, packed, x, 1, 40, 40, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    /* the least device memory the packed model's pass of 1 at 40x40 is said to fit in */
    const cl_ulong was = cl->global_mem;
    cl_ulong lo = 1, hi = (cl_ulong)64 << 20;
    cl->global_mem = hi;
    ck_assert_msg(vggcl_check_batch(cl, packed, 1, 40, 40) == VGGCL_OK, "%s", vggcl_message(cl));
    while (lo < hi) {
        cl->global_mem = lo + (hi - lo) / 2;
        if (vggcl_check_batch(cl, packed, 1, 40, 40) == VGGCL_OK) hi = cl->global_mem;
        else lo = cl->global_mem + 1;
    }
    cl->global_mem = hi - 1;
    ck_assert_int_eq(vggcl_check_batch(cl, packed, 1, 40, 40), VGGCL_ERR_DEVICE_MEMORY);
    ck_assert_msg(vggcl_check_batch(cl, fresh, 1, 40, 40) == VGGCL_ERR_DEVICE_MEMORY,
                  "a fresh model's pass of 1 at 40x40 said to fit in %llu bytes, where the pass packs its rows first "
                  "and needs %llu", (unsigned long long)cl->global_mem, (unsigned long long)hi);
    ck_assert_int_eq(vggcl_max_batch(cl, fresh, 40, 40, 4), 0);
    /* and the pass refused packs nothing: the rows' weights are not left held by a pass that did not run */
    ck_assert_int_eq(vggcl_forward(cl, fresh, x, 1, 40, 40, y, NULL), VGGCL_ERR_DEVICE_MEMORY);
    for (int i = 0; i < fresh->n_steps; i++)
        for (int v = 0; v < VGGCL_CONV_VARIANTS; v++) ck_assert_ptr_null(fresh->steps[i].packed[VGGCL_CONV_DIRECT][v]);
    cl->global_mem = hi;
    ck_assert_msg(vggcl_check_batch(cl, fresh, 1, 40, 40) == VGGCL_OK, "%s", vggcl_message(cl));
    cl->global_mem = was;
    vggcl_model_free(packed), vggcl_model_free(fresh);
    ck_assert_int_eq(cl->dev_buffers, 0);
    vggcl_ctx_free(cl);
}
END_TEST

/* Devices with less local memory or smaller work-groups than PoCL's (a CPU runtime's 32 KiB, GPUs whose
 * work-groups stop at 64 or 128 items), set on the context: every default choice for VGG16's layers and
 * odd ones is valid there (other parameters of the same weight layout, else another algorithm, else
 * the direct kernel), and the network equals the reference at two map sizes and batches, each layer
 * on the defaults for its shape with the weights packed at load; an algorithm asked for that cannot
 * run there is a load error naming the layer. _i: the row of limits. */
START_TEST(test_network_small_devices)
{
    static const struct { int gpu; cl_ulong local; size_t wg; cl_uint floats; int direct_512; } limits[] = {
        { 0, 31 * 1024, 8192, 16, 1 }, { 0, 15 * 1024, 8192, 16, 1 }, { 0, 7 * 1024, 8192, 16, 1 },
        { 1, 47 * 1024, 64, 16, 0 },   { 1, 47 * 1024, 128, 16, 0 },  { 1, 7 * 1024, 256, 16, 0 },
        { 0, 700 * 1024, 8192, 16, 0 }, /* winograd-packed's 512-channel R 7 fits, R 8 does not */
        { 0, 31 * 1024, 8192, 8, 0 }, /* AVX2: winograd-packed everywhere, blocks of R 5 or 4 x OG 1 */
        { 0, 7 * 1024, 8192, 8, 1 },
        { 0, 512 * 1024, 8192, 8, 0 }, /* an AVX2 CPU's: the layers of up to 256 channels in one pass */
    };
    static const int shapes[][3] = { { 3, 64, 224 },   { 64, 64, 224 },  { 64, 128, 112 }, { 128, 128, 112 },
                                     { 128, 256, 56 }, { 256, 256, 56 }, { 256, 512, 28 }, { 512, 512, 28 },
                                     { 512, 512, 14 }, { 17, 33, 9 },    { 300, 7, 5 } };
    const char *path = tu_tmp("net.safetensors");
    tu_write_vgg(path, "16,M,64,M,256,M,512", 0, 5, 3, NULL);
    vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    /* is_cpu: the narrow rows are a CPU's; it is the real device's again before the kernels are built
     * (-DVGGCL_CPU: software prefetch, which GPU compilers reject) */
    const int real_cpu = cl->is_cpu;
    cl->is_gpu = limits[_i].gpu, cl->is_cpu = !limits[_i].gpu, cl->local_mem = limits[_i].local, cl->max_wg = limits[_i].wg;
    cl->vector_floats = limits[_i].floats;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int c_in = shapes[k][0], c_out = shapes[k][1], h = shapes[k][2];
        const int id = vggcl__conv_default_algo(cl, c_in, c_out);
        const vggcl_conv_algo *a = vggcl__conv_algo(id);
        if (c_out == 512) ck_assert_int_eq(id == VGGCL_CONV_DIRECT, limits[_i].direct_512);
        for (int n = 1; n <= 8; n += 7) {
            vggcl_conv_params p;
            vggcl__conv_defaults(cl, id, n, c_in, c_out, h, h, &p);
            char text[200];
            vggcl__conv_params_str(id, &p, text, sizeof text);
            ck_assert_msg(vggcl__conv_valid(cl, id, &p, c_in, c_out), "%d->%d at %dx%d, batch %d: %s %s is not valid", c_in, c_out,
                          h, h, n, a->name, text);
        }
        /* any algorithm that fits: valid defaults at every shape, with the weight layout packed at load
         * (the defaults at 1x1) */
        for (int other = 1; other < VGGCL_CONV_ALGOS; other++) {
            if (!vggcl__conv_fits(cl, other, c_in, c_out)) continue;
            const vggcl_conv_algo *b = vggcl__conv_algo(other);
            vggcl_conv_params at_load, p;
            vggcl__conv_defaults(cl, other, 1, c_in, c_out, 1, 1, &at_load);
            for (int n = 1; n <= 8; n += 7) {
                vggcl__conv_defaults(cl, other, n, c_in, c_out, h, h, &p);
                ck_assert_msg(vggcl__conv_valid(cl, other, &p, c_in, c_out) &&
                                  vggcl__conv_variant(b, &p) == vggcl__conv_variant(b, &at_load),
                              "%s, %d->%d at %dx%d, batch %d: defaults not valid or of another weight layout", b->name,
                              c_in, c_out, h, h, n);
            }
        }
    }
    cl->is_cpu = real_cpu;
    if (!real_cpu && limits[_i].floats < 16) { /* a CPU's layouts, a GPU's kernels: the defaults above are the test */
        vggcl_ctx_free(ref), vggcl_ctx_free(cl);
        return;
    }
    vggcl_model *mr, *mc;
    if (limits[_i].direct_512) { /* an algorithm asked for that cannot run there: a clear error, no model */
        vggcl_load_options o;
        vggcl_load_options_defaults(&o);
        o.conv = VGGCL_CONV_WINOGRAD;
        mc = (vggcl_model *)cl;
        ck_assert_int_eq(vggcl_model_load(cl, path, &o, &mc), VGGCL_ERR_ARG);
        ck_assert_ptr_null(mc);
        ck_assert_msg(strstr(vggcl_message(cl), "layer features.0 (conv 3->16): the winograd algorithm cannot run on "
                                                "this device (local memory"),
                      "%s", vggcl_message(cl));
    }
    ck_assert(vggcl_model_load(ref, path, NULL, &mr) == VGGCL_OK);
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
    const int sizes[] = { 20, 35 };
    for (int k = 0; k < 2; k++) {
        same_as_reference(ref, mr, cl, mc, 1 + k, sizes[k], sizes[k], (unsigned)k);
    }
    vggcl_model_free(mr), vggcl_model_free(mc);
    vggcl_ctx_free(ref), vggcl_ctx_free(cl);
}
END_TEST

/* A GPU driver that runs kernels in smaller work-groups than the device's maximum (it may, by their
 * register use: CL_KERNEL_WORK_GROUP_SIZE), set on the context as a cap on every kernel: the pools,
 * GAP and the dense head take what they are given, the GPU-shaped Winograd moves to parameters of
 * fewer items, and the network equals the reference; below its smallest work-group (8 x 8) a pass
 * is an error naming the layer. _i: the cap, 128, 64 or 32 items. */
START_TEST(test_network_kernel_limits)
{
    const size_t cap = (size_t)128 >> _i;
    const char *path = tu_tmp("net.safetensors");
    tu_write_vgg(path, "16,M,64,M,256,M,512", 0, 5, 3, NULL);
    vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    cl->is_gpu = 1, cl->kernel_wg_cap = cap;
    vggcl_model *mr, *mc;
    ck_assert(vggcl_model_load(ref, path, NULL, &mr) == VGGCL_OK);
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &mc) == VGGCL_OK, "%s", vggcl_message(cl));
    ck_assert_int_eq(mc->steps[0].algo, VGGCL_CONV_WINOGRAD_GPU);
    if (cap >= 64) {
        for (int k = 0; k < 2; k++) same_as_reference(ref, mr, cl, mc, 1 + k, 20 + 15 * k, 20 + 15 * k, (unsigned)k);
        /* (vggcl__enqueue refuses a launch over the cap: these passes ran the refitted shapes) */
        if (cap == 128) { /* 256x256: the first layer's default is 128 x 64 of 16 x 16 items */
            const char *big = tu_tmp("big.safetensors");
            vggcl_model *br, *bc;
            tu_write_vgg(big, "16,M,8", 0, 5, 4, NULL);
            ck_assert(vggcl_model_load(ref, big, NULL, &br) == VGGCL_OK);
            ck_assert_msg(vggcl_model_load(cl, big, NULL, &bc) == VGGCL_OK, "%s", vggcl_message(cl));
            vggcl_conv_params p;
            vggcl__conv_defaults(cl, VGGCL_CONV_WINOGRAD_GPU, 1, 3, 16, 256, 256, &p);
            ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MDIMC")] *
                                 p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "NDIMC")],
                             256);
            same_as_reference(ref, br, cl, bc, 1, 256, 256, 9);
            vggcl_model_free(br), vggcl_model_free(bc);
        }
        ck_assert_uint_gt(cl->max_wg, cap); /* (the device's maximum is left as it is) */
    } else {
        const int H = 20;
        float *x = calloc((size_t)3 * H * H, 4), y[5];
        ck_assert_int_eq(vggcl_forward(cl, mc, x, 1, H, H, y, NULL), VGGCL_ERR_DEVICE);
        ck_assert_msg(strstr(vggcl_message(cl), "layer features.0") &&
                          strstr(vggcl_message(cl), "in work-groups of up to 32 items"),
                      "%s", vggcl_message(cl));
        free(x);
    }
    vggcl_model_free(mr), vggcl_model_free(mc);
    vggcl_ctx_free(ref), vggcl_ctx_free(cl);
}
END_TEST

/* The tuner's paired comparison: the median of per-round ratios, so that one
 * round in a slow phase of a shared machine does not decide. */
START_TEST(test_tune_paired_ratio)
{
    /* the default slow in one round only (a phase change), the challenger really 35% slower */
    const double def[] = { 7.5, 3.4, 3.5 }, slower[] = { 4.6, 4.6, 4.7 };
    ck_assert_double_eq_tol(vggcl__paired_ratio(def, slower, 3), 4.7 / 3.5, 1e-12);
    /* a real 10% gain while the machine drifts by 2x */
    const double drift[] = { 10, 20, 12 }, faster[] = { 9, 18, 10.8 };
    ck_assert_double_eq_tol(vggcl__paired_ratio(drift, faster, 3), 0.9, 1e-12);
    /* an even count: the mean of the middle two; a round without a default time is left out */
    const double a4[] = { 1, 1, 0, 1, 1 }, b4[] = { 0.8, 1.2, 5, 0.9, 1.0 };
    ck_assert_double_eq_tol(vggcl__paired_ratio(a4, b4, 5), 0.95, 1e-12);
    const double none[] = { 0, -1 };
    ck_assert(isinf(vggcl__paired_ratio(none, b4, 2)));
    /* nor one without the challenger's (0: the time was not read; it made a ratio of 0, a win) */
    ck_assert(isinf(vggcl__paired_ratio(a4, none, 2)));
    const double b0[] = { 0, 1.1, 0.9 };
    ck_assert_double_eq_tol(vggcl__paired_ratio(a4, b0, 3), 1.1, 1e-12);
}
END_TEST

/* The tuner times a candidate's commands as one span (vggcl__prof_span_ms): the gaps between them count, as
 * in a pass (their times summed left them out, favouring the algorithms of several kernels where launches
 * cost). Two markers, the second held back 40 ms by a user event. */
START_TEST(test_tune_span)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    cl_int err;
    ctx->profiling = 1;
    cl_event gate = clCreateUserEvent(ctx->cl, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, vggcl__prof_slot(ctx, "a", 0)), CL_SUCCESS);
    ck_assert_int_eq(clEnqueueMarkerWithWaitList(ctx->queue, 1, &gate, vggcl__prof_slot(ctx, "b", 0)), CL_SUCCESS);
    ck_assert_int_eq(clFlush(ctx->queue), CL_SUCCESS);
    usleep(40000);
    ck_assert_int_eq(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    ck_assert_int_eq(clFinish(ctx->queue), CL_SUCCESS);
    ck_assert_int_eq(ctx->prof_n, 2);
    cl_ulong t;
    if (clGetEventProfilingInfo(ctx->prof[0].event, CL_PROFILING_COMMAND_START, sizeof t, &t, NULL) != CL_SUCCESS) {
        fprintf(stderr, "test_tune_span: %s gives no times for markers: not checked\n", vggcl_device_name(ctx));
        vggcl__prof_reset(ctx), clReleaseEvent(gate), vggcl_ctx_free(ctx);
        return;
    }
    const double sum = vggcl__prof_ms(&ctx->prof[0]) + vggcl__prof_ms(&ctx->prof[1]), span = vggcl__prof_span_ms(ctx);
    ck_assert_msg(span >= 30 && span > sum + 25, "span %g ms, the commands' own %g ms", span, sum);
    vggcl__prof_reset(ctx);
    ck_assert_double_eq(vggcl__prof_span_ms(ctx), 0); /* (nothing recorded: no time, a candidate rejected) */
    clReleaseEvent(gate);
    vggcl_ctx_free(ctx);
}
END_TEST

/* A challenger tune would keep is checked against the default at the timed shape (the slice every candidate
 * is checked on, 8 x 9, reaches none of the kernels' large-map paths): every algorithm agrees with the
 * default on a 57 x 57 map of 2 images, and an output off by 0.1% (tune_skew) is found. */
static char heard[512];
static int n_heard;
static void hear(void *user, const char *msg)
{
    (void)user;
    snprintf(heard, sizeof heard, "%s", msg);
    n_heard++;
}

START_TEST(test_tune_agree)
{
    const char *path = tu_tmp("agree.safetensors");
    tu_write_vgg(path, "16,32", 0, 3, 5, NULL);
    vggcl_ctx *ctx = tu_cl_ctx();
    vggcl_model *m;
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    const vggcl_step *s = &m->steps[1]; /* 16 -> 32 */
    vggcl_tune_candidate a = { vggcl__conv_default_algo(ctx, 16, 32), { { 0 } } };
    vggcl__conv_defaults(ctx, a.algo, 2, 16, 32, 57, 57, &a.p);
    for (int id = 1; id < VGGCL_CONV_ALGOS; id++) {
        vggcl_tune_candidate b = { id, { { 0 } } };
        vggcl__conv_defaults(ctx, id, 2, 16, 32, 57, 57, &b.p);
        double rel = 1;
        ctx->tune_skew = 0;
        ck_assert_msg(vggcl__tune_agree(ctx, "test", s, &a, &b, 2, 57, 57, &rel) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert_msg(rel < 1e-5, "%s against %s: %g", vggcl__conv_algo(id)->name, vggcl__conv_algo(a.algo)->name, rel);
        ctx->tune_skew = 1e-3f;
        ck_assert(vggcl__tune_agree(ctx, "test", s, &a, &b, 2, 57, 57, &rel) == VGGCL_OK);
        ck_assert_msg(rel > 1e-4, "%s skewed: %g", vggcl__conv_algo(id)->name, rel);
    }
    /* a map of one image past 2^28 floats (32 channels at 2900 x 2900: three maps of 1 GiB on the host, 16 GiB
     * at 8192 were taken whole) is not checked: the challenger is not kept, said once through the log */
    n_heard = 0;
    vggcl_set_log(ctx, hear, NULL);
    double rel = 0;
    ck_assert(vggcl__tune_agree(ctx, "tuning layer x", s, &a, &a, 1, 2900, 2900, &rel) == VGGCL_OK);
    ck_assert(isinf(rel));
    ck_assert(vggcl__tune_agree(ctx, "tuning layer x", s, &a, &a, 1, 2900, 2900, &rel) == VGGCL_OK);
    ck_assert_int_eq(n_heard, 1);
    ck_assert_msg(strstr(heard, "tuning layer x: one image's map is 269120000 floats, more than the 268435456 a faster "
                                "candidate is checked against the default on: the default is kept"), "%s", heard);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* tune clears the device's cache before each timed pass only for a model whose pass touches more than the cache
 * holds (vggcl__tune_evict_bytes), with twice the cache written over (whole 64-byte lines), at most 256 MiB and the
 * largest buffer. The pass of "8,M,16" (pool5 kept) over 2 images of 16 x 16 touches, in floats: the input's
 * 2*3*16*16, 3*8*9 + 8 weights and 2*8*16*16 outputs, the pool's 2*8*8*8, then 8*16*9 + 16 and 2*16*8*8, and pool5's
 * 2*16*4*4: 10608, 42432 bytes. */
START_TEST(test_tune_evict_bytes)
{
    const char *path = tu_tmp("evict.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 3, 5, NULL);
    vggcl_ctx *ctx = tu_cl_ctx();
    vggcl_model *m;
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 2, 16, 16, 42432), 0); /* (it fits: kept hot, as in a pass) */
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 2, 16, 16, 42431), 84864); /* (whole 64-byte lines) */
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 1, 16, 16, 23999), 48000); /* (one image: 24000 bytes) */
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 1, 16, 16, 24000), 0);
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 2, 16, 16, 0), 0);     /* (a device that says no cache) */
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 64, 512, 512, (cl_ulong)200 << 20), (size_t)256 << 20);
    const cl_ulong was = ctx->max_alloc;
    ctx->max_alloc = 40002;
    ck_assert_uint_eq(vggcl__tune_evict_bytes(ctx, m, 2, 16, 16, 42431), 40000); /* (whole words: the fill's) */
    ctx->max_alloc = was;
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* A budget spent at the first batch: nothing of the batches after it is timed, so nothing is said of their timed
 * passes (the note of the cache written over was said, and its buffer made, for a batch of which no pass ran). Here
 * one image of 16 x 16 of "8,M,16" fits the cache (24000 bytes, test_tune_evict_bytes), three do not. */
static int heard_evict;
static void hear_evict(void *user, const char *msg)
{
    (void)user;
    heard_evict += strstr(msg, "each timed pass begins with") != NULL;
}

START_TEST(test_tune_evict_budget_spent)
{
    const char *path = tu_tmp("evict_spent.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 3, 5, NULL);
    vggcl_ctx *ctx = tu_cl_ctx();
    vggcl_model *m;
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ctx->cache_bytes = 24000;
    heard_evict = 0;
    vggcl_set_log(ctx, hear_evict, NULL);
    int count = -1;
    /* (a budget of a nanosecond: spent before the first shape) */
    const vggcl_status st = vggcl_tune(ctx, m, (const int[]){ 1, 3 }, 2, 16, 16, 1, 1e-9, NULL, 0, &count, NULL, 0);
    ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(heard_evict, 0);
    ck_assert_ptr_null(ctx->tune_evict);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* The tuner's candidates (vggcl tune): the defaults first, then one of each launch, nothing
 * valid lost, the same order every run, the algorithms mixed; and the fastest default's
 * one-parameter neighbours moved to the front, every other order kept. */
#define KEY (2 * VGGCL_LAUNCH_KEY)
static void tune_key(const vggcl_tune_candidate *c, int ci, int co, int h, char *key)
{
    vggcl__conv_launch_key(c->algo, &c->p, ci, co, h, h, key, VGGCL_LAUNCH_KEY);
    strcat(key, "|");
    vggcl__conv_launch_key(c->algo, &c->p, ci, co, 8, 9, key + strlen(key), VGGCL_LAUNCH_KEY);
}

/* A candidate's launch key and its place in the list, sorted by key: two that launch alike are neighbours and a
 * key is found by bsearch (the pairs one by one were 4.2 million of Check's assertions, each a message Check writes
 * and reads back: 45% of this suite's CPU time under the sanitizers) */
typedef struct {
    char key[KEY];
    int index;
} keyed;

static int by_key(const void *a, const void *b) { return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key); }

static int differ(const vggcl_tune_candidate *a, const vggcl_conv_params *b)
{
    int d = 0;
    for (int t = 0; t < vggcl__conv_algo(a->algo)->tunable_count; t++) d += a->p.v[t] != b->v[t];
    return d;
}

static int same(const vggcl_tune_candidate *a, const vggcl_tune_candidate *b)
{
    return a->algo == b->algo && !memcmp(&a->p, &b->p, sizeof a->p);
}

START_TEST(test_tune_candidates)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    static const int shapes[][4] = { { 512, 512, 28, 1 }, { 64, 128, 112, 8 } }; /* C_in C_out side batch */
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int ci = shapes[k][0], co = shapes[k][1], h = shapes[k][2], n = shapes[k][3];
        int count = 0, again = 0;
        vggcl_tune_candidate *c = vggcl__tune_candidates(ctx, ci, co, n, h, h, 8, 9, &count);
        vggcl_tune_candidate *c2 = vggcl__tune_candidates(ctx, ci, co, n, h, h, 8, 9, &again);
        ck_assert(c && c2);
        ck_assert_int_eq(count, again);
        ck_assert(!memcmp(c, c2, sizeof *c * (size_t)count));
        const int defaults = VGGCL_CONV_ALGOS - 1;
        for (int id = 1; id < VGGCL_CONV_ALGOS; id++) {
            vggcl_tune_candidate d = { id, { { 0 } } };
            vggcl__conv_defaults(ctx, id, n, ci, co, h, h, &d.p);
            ck_assert(same(&c[id - 1], &d));
        }
        keyed *keys = calloc((size_t)count, sizeof *keys);
        ck_assert(keys);
        for (int i = 0; i < count; i++) tune_key(&c[i], ci, co, h, keys[i].key), keys[i].index = i;
        qsort(keys, (size_t)count, sizeof *keys, by_key);
        int alike = 0;
        while (++alike < count && strcmp(keys[alike - 1].key, keys[alike].key)) continue;
        if (alike < count) {
            const int a = keys[alike - 1].index, b = keys[alike].index;
            ck_abort_msg("%d and %d launch alike (%s)", a < b ? a : b, a < b ? b : a, keys[alike].key);
        }
        /* every candidate of every algorithm launches as one in the list, one with as few
         * parameters changed from the defaults */
        for (int id = 1; id < VGGCL_CONV_ALGOS; id++) {
            const int m = vggcl__conv_candidates(ctx, id, ci, co, NULL, 0);
            vggcl_conv_params *all = calloc((size_t)m + 1, sizeof *all);
            ck_assert(all);
            vggcl__conv_candidates(ctx, id, ci, co, all, m);
            for (int i = 0; i < m; i++) {
                const vggcl_tune_candidate t = { id, all[i] };
                keyed k;
                tune_key(&t, ci, co, h, k.key);
                const keyed *found = bsearch(&k, keys, (size_t)count, sizeof *keys, by_key);
                ck_assert_msg(found, "a candidate of algorithm %d is missing", id);
                ck_assert_int_le(differ(&c[found->index], &c[id - 1].p), differ(&t, &c[id - 1].p));
            }
            free(all);
        }
        /* a short budget meets several algorithms */
        int mixed = 0;
        for (int i = defaults + 1; i < defaults + 50 && i < count; i++) mixed |= c[i].algo != c[defaults].algo;
        ck_assert(mixed);
        /* the neighbours of winograd's defaults first, as a stable partition does it */
        const vggcl_tune_candidate best = c[VGGCL_CONV_WINOGRAD - 1];
        vggcl_tune_candidate *want = calloc((size_t)count, sizeof *want);
        ck_assert(want);
        int w = defaults, neighbours = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = defaults; i < count; i++) {
                const int near = c[i].algo == best.algo && differ(&c[i], &best.p) == 1;
                if (near == !pass) want[w++] = c[i];
                neighbours += near && !pass;
            }
        ck_assert_int_eq(w, count);
        ck_assert_int_gt(neighbours, 2);
        vggcl__tune_neighbours_first(c, defaults, count, &best);
        ck_assert(!memcmp(c, c2, sizeof *c * (size_t)defaults));
        for (int i = defaults; i < count; i++) ck_assert_msg(same(&c[i], &want[i]), "entry %d", i);
        /* then the algorithms whose defaults took over twice the fastest's, or did not run, last, each part in
         * its order: here the GPU-shaped Winograd (2.5x) and the GEMM (not run); winograd at 2x exactly stays */
        double ms[VGGCL_CONV_ALGOS] = { 0 };
        for (int id = 1; id < VGGCL_CONV_ALGOS; id++) ms[id] = 1.25;
        ms[VGGCL_CONV_WINOGRAD_GPU] = 2.5, ms[VGGCL_CONV_GEMM] = INFINITY, ms[VGGCL_CONV_WINOGRAD] = 2.0;
        int slow = 0;
        w = defaults;
        for (int pass = 0; pass < 2; pass++)
            for (int i = defaults; i < count; i++) {
                const int behind = c[i].algo == VGGCL_CONV_WINOGRAD_GPU || c[i].algo == VGGCL_CONV_GEMM;
                if (behind == pass) want[w++] = c[i];
                slow += behind && pass;
            }
        ck_assert_int_eq(w, count);
        ck_assert_int_gt(slow, 0);
        ck_assert_int_lt(slow, count - defaults);
        memcpy(c2, c, sizeof *c * (size_t)count);
        vggcl__tune_slow_last(c, defaults, count, ms, 1.0);
        ck_assert(!memcmp(c, c2, sizeof *c * (size_t)defaults));
        for (int i = defaults; i < count; i++)
            if (!same(&c[i], &want[i])) ck_abort_msg("entry %d of %d (%d behind) out of place", i, count, slow);
        free(want), free(keys), free(c), free(c2);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("network");
    TCase *tc = tcase_create("device vs reference");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_network_vs_reference, VGGCL_CONV_AUTO, VGGCL_CONV_WINOGRAD_PACKED + 1);
    tcase_add_loop_test(tc, test_network_overlapped, 0, 2);
    tcase_add_test(tc, test_network_device_memory);
    tcase_add_test(tc, test_network_head_memory);
    tcase_add_test(tc, test_network_host_memory);
    tcase_add_test(tc, test_network_ctx_freed_first);
    tcase_add_test(tc, test_network_tuned_layouts);
    tcase_add_test(tc, test_network_tuned_row_past_its_reach);
    tcase_add_test(tc, test_network_rows_packed_at_first_pass);
    tcase_add_test(tc, test_network_rows_counted_before_packed);
    tcase_add_test(tc, test_network_overlapped_two_models);
    tcase_add_test(tc, test_network_memory_across_batch_classes);
    tcase_add_test(tc, test_network_activation_buffers);
    tcase_add_loop_test(tc, test_network_small_devices, 0, 10);
    tcase_add_loop_test(tc, test_network_kernel_limits, 0, 3);
    tcase_add_test(tc, test_tune_paired_ratio);
    tcase_add_test(tc, test_tune_span);
    tcase_add_test(tc, test_tune_candidates);
    tcase_add_test(tc, test_tune_agree);
    tcase_add_test(tc, test_tune_evict_bytes);
    tcase_add_test(tc, test_tune_evict_budget_spent);
    suite_add_tcase(s, tc);
    const int rc = tu_run(s);
    for (size_t i = 0; i < N_NETS; i++) free(want_y[i]), free(want_f[i]);
    return rc;
}
