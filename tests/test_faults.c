/* OpenCL failures, injected with VGGCL_FAULT (host/runtime/fault.c): for every call a
 * small model's load and forward passes make (buffers, program builds, kernel
 * creations, the first of each run of kernel arguments, enqueues, CLBlast), the Nth fails once. Each failure must give a
 * status other than OK and a message naming the call, the error and the layer
 * or step; leave no device buffer behind (the context's count of live
 * buffers; host leaks are LeakSanitizer's, in the VGGCL_SANITIZE build); and
 * leave the context usable: the next load or pass gives the right answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "test_util.h"

#define N_IMG 2
#define MAX_HW (66 * 66)

static const char *const calls[] = { "clCreateBuffer", "clBuildProgram", "clCreateKernel", "clSetKernelArg",
                                     "clEnqueue", "clFinish",
                                     "clFlush", "clWaitForEvents", "CLBlastSgemm", "clGetPlatformIDs", "clGetPlatformInfo",
                                     "clGetDeviceIDs", "clGetDeviceInfo", "clCreateContext",
                                     "clCreateCommandQueue", "clCreateProgramWithSource" };
/* Every step's `where` names one of these: a layer, or the pass's own
 * buffers, upload and read-back. */
static const char *const places[] = { "layer features.", "layer max pool", "layer classifier.", "layer GAP", "layer CAM",
                                      "forward pass: workspace for ", "forward pass: input", "forward pass: reading",
                                      "forward pass: queueing", "forward pass: waiting", "forward pass: the pass in flight",
                                      "listing OpenCL devices", "opening the OpenCL device" };

/* The models walked: direct and Winograd convolutions, standalone and folded max pools, a
 * one-stage GAP, the small dense head and CAMs; one whose 66x66 map takes the two-stage
 * GAP, with a chain of dense layers for a head (no CAMs: they need a single linear layer); and one
 * run with a tuning table (rows: its layers' rows for the direct kernel, whose weights are packed at
 * the first pass that takes them, not at the load). */
static const struct { const char *cfg, *head; int h, w, cams, rows; } models[] = {
    { "8,M,16,M,16", "", 20, 18, 1, 0 },
    { "8,16", "gap:6", 66, 66, 0, 0 },
    { "8,M,16", "", 40, 40, 1, 1 },
};
static int cur; /* the model of the walk under way */
static int arg_failures; /* the failures injected so far that were a clSetKernelArg's */
static unsigned named_calls; /* the calls[] that a failure's message named so far, a bit each */
static int in_flight_failures; /* those that were the wait for the pass in flight before the buffers grow */
static int profiled; /* the walk under way profiles its passes (vggcl_profile) */
static int pass_pack_failures; /* those that were a packing of the table's rows, in a pass after the load */
#define H (models[cur].h)
#define W (models[cur].w)

static float ref_logits[N_IMG * 3], ref_cams[N_IMG * MAX_HW], x[N_IMG * 3 * MAX_HW];
static int mh, mw; /* the CAM size */

/* ctx's tuning table: for models[cur].rows, rows of the direct kernel for its two layers at its size, the batches
 * of 1-2 (both of pass()'s), with their defaults' parameters. */
static void table_rows(vggcl_ctx *ctx)
{
    static const int rows[2][3] = { { 3, 8, 1 }, { 8, 16, 2 } }; /* (C_in, C_out, the map's divisor) */
    if (!models[cur].rows) return;
    free(ctx->tuned);
    ck_assert_ptr_nonnull(ctx->tuned = calloc(2, sizeof *ctx->tuned));
    ctx->n_tuned = 2;
    for (int k = 0; k < 2; k++) {
        vggcl_tuned *t = &ctx->tuned[k];
        t->c_in = rows[k][0], t->c_out = rows[k][1], t->h = H / rows[k][2], t->w = W / rows[k][2], t->batch = 1;
        t->algo = VGGCL_CONV_DIRECT;
        vggcl__conv_defaults(ctx, t->algo, 1, t->c_in, t->c_out, t->h, t->w, &t->params);
    }
}

static void make_model(const char *path)
{
    tu_write_vgg_head(path, models[cur].cfg, 0, models[cur].head, 3, 11, NULL);
    tu_fill(x, (size_t)N_IMG * 3 * H * W, 5, -2, 2);
    vggcl_ctx *ref = vggcl_ctx_new();
    vggcl_model *m;
    ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
    ck_assert(vggcl_model_load(ref, path, NULL, &m) == VGGCL_OK);
    vggcl_model_map_size(m, H, W, &mh, &mw);
    ck_assert_int_le(mh * mw, MAX_HW);
    if (models[cur].cams)
        ck_assert(vggcl_forward_cam(ref, m, x, N_IMG, H, W, ref_logits, NULL, NULL, ref_cams, NULL) == VGGCL_OK);
    else
        ck_assert(vggcl_forward(ref, m, x, N_IMG, H, W, ref_logits, NULL) == VGGCL_OK);
    vggcl_model_free(m);
    vggcl_ctx_free(ref);
}

/* Two overlapped passes (one image; logits and features of N_IMG), then two
 * passes (logits and features; logits and CAMs). over gets the second
 * overlapped pass's logits. Whatever fails, no pass is left in flight. */
static vggcl_status pass(vggcl_ctx *ctx, vggcl_model *m, float *logits, float *cams, float *over)
{
    float feat[N_IMG * 16], one[3];
    tu_nan(logits, N_IMG * 3), tu_nan(over, N_IMG * 3), tu_nan(cams, N_IMG * MAX_HW); /* (no earlier pass's) */
    /* one image, then N_IMG behind it: the buffers grow while the first pass is in flight (waited for, then
     * given back and made larger: each of those steps failed too) */
    vggcl_status st = vggcl_forward_submit(ctx, m, x, 1, H, W, one, NULL);
    if (st != VGGCL_OK) return st;
    st = vggcl_forward_submit(ctx, m, x, N_IMG, H, W, over, feat);
    const vggcl_status first = vggcl_forward_wait(ctx, m, NULL);
    if (st == VGGCL_OK) { /* the second is in flight */
        st = first;
        const vggcl_status second = vggcl_forward_wait(ctx, m, NULL);
        if (st == VGGCL_OK) st = second;
    }
    ck_assert_int_eq(m->n_flight, 0);
    if (st == VGGCL_OK) st = vggcl_forward(ctx, m, x, N_IMG, H, W, logits, feat);
    if (st == VGGCL_OK && models[cur].cams)
        st = vggcl_forward_cam(ctx, m, x, N_IMG, H, W, logits, NULL, NULL, cams, NULL);
    return st;
}

static void check_message(const vggcl_ctx *ctx, const char *spec, cl_int code)
{
    const char *msg = vggcl_message(ctx);
    int call = 0, place = 0;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (strstr(msg, calls[i])) call = 1, named_calls |= 1u << i;
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) place |= strstr(msg, places[i]) != NULL;
    ck_assert_msg(call, "VGGCL_FAULT=%s: the message names no OpenCL call: %s", spec, msg);
    ck_assert_msg(place, "VGGCL_FAULT=%s: the message names no layer: %s", spec, msg);
    ck_assert_msg(strstr(msg, vggcl__cl_error_name(code)), "VGGCL_FAULT=%s: the message lacks %s: %s", spec,
                  vggcl__cl_error_name(code), msg);
}

static void check_results(const char *spec, const float *logits, const float *cams, const float *over)
{
    ck_assert_msg(tu_compare("overlapped logits", ref_logits, over, N_IMG, 3, 1, 1, 1e-5, 1e-4),
                  "VGGCL_FAULT=%s: wrong overlapped logits after recovering", spec);
    ck_assert_msg(tu_compare("logits", ref_logits, logits, N_IMG, 3, 1, 1, 1e-5, 1e-4),
                  "VGGCL_FAULT=%s: wrong logits after recovering", spec);
    ck_assert_msg(!models[cur].cams || tu_compare("cams", ref_cams, cams, N_IMG, 1, mh, mw, 1e-5, 1e-4),
                  "VGGCL_FAULT=%s: wrong CAMs after recovering", spec);
}

/* Fails call n of `kind` with `code`; returns 0 once n is past the last call. */
static int inject(const char *path, const char *kind, int n, cl_int code, int conv)
{
    char spec[64];
    snprintf(spec, sizeof spec, "%s:%d:%d", kind, n, (int)code);
    setenv("VGGCL_FAULT", spec, 1);
    vggcl_ctx *ctx = tu_cl_ctx();
    unsetenv("VGGCL_FAULT");
    table_rows(ctx);
    vggcl_load_options o = { VGGCL_POOL5_AUTO, NULL, conv, 0 };
    vggcl_model *m = NULL;
    float logits[N_IMG * 3], over[N_IMG * 3];
    static float cams[N_IMG * MAX_HW];
    if (profiled) ck_assert_int_eq(vggcl_profile(ctx, 1), VGGCL_OK);
    vggcl_status st = vggcl_model_load(ctx, path, &o, &m);
    const int in_load = st != VGGCL_OK;
    if (st == VGGCL_OK) st = pass(ctx, m, logits, cams, over);
    if (!ctx->fault_fired) {
        ck_assert_msg(st == VGGCL_OK, "VGGCL_FAULT=%s did not fire, yet: %s", spec, vggcl_message(ctx));
        vggcl_model_free(m);
        ck_assert_int_eq(ctx->dev_buffers, 0);
        vggcl_ctx_free(ctx);
        return 0;
    }
    ck_assert_msg(st != VGGCL_OK, "VGGCL_FAULT=%s fired but the pass reported success", spec);
    check_message(ctx, spec, code);
    arg_failures += strstr(vggcl_message(ctx), "clSetKernelArg") != NULL;
    in_flight_failures += strstr(vggcl_message(ctx), "the pass in flight") != NULL;
    pass_pack_failures += !in_load && strstr(vggcl_message(ctx), " weights: ") != NULL;
    if (in_load) /* a failed load holds nothing on the device */
        ck_assert_msg(m == NULL && ctx->dev_buffers == 0, "VGGCL_FAULT=%s: a failed load left %d buffers", spec,
                      ctx->dev_buffers);
    /* the failure was transient: the same context loads and runs correctly */
    if (in_load) ck_assert_msg(vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_msg(pass(ctx, m, logits, cams, over) == VGGCL_OK, "VGGCL_FAULT=%s: no recovery: %s", spec,
                  vggcl_message(ctx));
    check_results(spec, logits, cams, over);
    if (models[cur].rows) { /* (the rows ran: their weights packed for the direct kernel, which no default takes) */
        int packed = 0;
        for (int i = 0; i < m->n_steps; i++)
            for (int v = 0; v < VGGCL_CONV_VARIANTS; v++) packed += m->steps[i].packed[VGGCL_CONV_DIRECT][v] != NULL;
        ck_assert_msg(packed == 2, "VGGCL_FAULT=%s: %d of the 2 rows' weights packed after recovering", spec, packed);
        ck_assert_int_eq(vggcl_model_tuned_layers(ctx, m, N_IMG, H, W, NULL), 2);
    }
    if (profiled) { /* the recovered passes profiled whole: an entry per layer, each timed */
        vggcl_layer_profile prof[64];
        const int layers = vggcl_profile_read(ctx, prof, 64);
        ck_assert_msg(layers > 4 && layers <= 64, "VGGCL_FAULT=%s: %d layers profiled after recovering", spec, layers);
        for (int i = 0; i < layers; i++)
            ck_assert_msg(prof[i].ms >= 0 && *prof[i].layer, "VGGCL_FAULT=%s: layer %d's profile: '%s' %g ms", spec,
                          i, prof[i].layer, prof[i].ms);
    }
    vggcl_model_free(m);
    ck_assert_msg(ctx->dev_buffers == 0 && ctx->dev_bytes == 0, "VGGCL_FAULT=%s: %d buffers left after freeing", spec,
                  ctx->dev_buffers);
    vggcl_ctx_free(ctx);
    return 1;
}

/* Fails calls 1, 1 + stride, 1 + 2 stride, ... of `kind` in turn, each in a fresh context, until
 * one is past the last call; returns how many were failed. */
static int walk_every(const char *kind, cl_int code, int conv, int stride)
{
    const char *path = tu_tmp("faults.safetensors");
    make_model(path);
    int n = 1, failed = 0;
    while (inject(path, kind, n, code, conv)) n += stride, failed++;
    printf("VGGCL_FAULT=%s:N for N = 1, %d, ... %d (%d calls, conv %d): every failure reported and recovered from\n",
           kind, 1 + stride, n - stride, failed, conv);
    return failed;
}

static int walk(const char *kind, cl_int code, int conv) { return walk_every(kind, code, conv, 1); }

/* _i: the convolution algorithm on the first model (0: auto, the channel-packed Winograd with
 * its layout conversions; 1: gemm, im2col + CLBlast; 3: the NCHW Winograd; 4: direct, with
 * standalone max pools); 2: auto on the second. "steps": every call but the second and later
 * clSetKernelArg of a run (most of the calls, three quarters being arguments: they leave by the
 * first's path; the kinds test below walks every 7th argument). */
START_TEST(test_fault_every_call)
{
    static const int convs[] = { VGGCL_CONV_AUTO, VGGCL_CONV_GEMM, VGGCL_CONV_AUTO, VGGCL_CONV_WINOGRAD,
                                 VGGCL_CONV_DIRECT };
    const int conv = convs[_i];
    cur = _i == 2;
    arg_failures = 0;
    named_calls = 0;
    const int calls_made = walk("steps", CL_OUT_OF_RESOURCES, conv);
    /* each kind of call docs/failures.md says is failed was, and said: the buffers, builds, kernels, arguments,
     * enqueues, the waits (calls[0..7]) and, where the GEMM runs, CLBlast's (a walk that lost a kind of call,
     * its fault hook removed, passed on counts alone) */
    const unsigned want = 0xFFu | (conv == VGGCL_CONV_GEMM ? 1u << 8 : 0);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        ck_assert_msg(!(want & ~named_calls & (1u << i)), "conv %d: no failure of a %s was injected and said", conv,
                      calls[i]);
    /* buffers for weights and workspace, 4+ programs and kernels, the enqueues */
    ck_assert_int_ge(calls_made, 30);
    /* the first argument of each kernel's launch, and not the others (fewer than 2 of 3 would be) */
    ck_assert_int_ge(arg_failures, 4);
    ck_assert_int_le(arg_failures * 3, calls_made * 2);
}
END_TEST

/* Each kind on its own, with the error a driver gives for it; every 7th argument (all ~290 took
 * 290 passes where the other kinds take 100). */
START_TEST(test_fault_kinds)
{
    static const struct { const char *kind; cl_int code; int min_calls; } kinds[] = {
        { "buffer", CL_MEM_OBJECT_ALLOCATION_FAILURE, 8 },
        { "build", CL_BUILD_PROGRAM_FAILURE, 3 },
        { "kernel", CL_INVALID_KERNEL_NAME, 3 },
        { "arg", CL_INVALID_ARG_VALUE, 20 },
        { "enqueue", CL_OUT_OF_RESOURCES, 10 },
    };
    cur = 0;
    in_flight_failures = 0;
    ck_assert_int_ge(walk_every(kinds[_i].kind, kinds[_i].code, VGGCL_CONV_AUTO, strcmp(kinds[_i].kind, "arg") ? 1 : 7),
                     kinds[_i].min_calls);
    if (!strcmp(kinds[_i].kind, "enqueue")) /* (pass() grows the buffers behind a pass in flight) */
        ck_assert_msg(in_flight_failures >= 1, "VGGCL_FAULT=enqueue never failed the wait before the buffers grow");
}
END_TEST

/* Profiling on (vggcl_profile): the markers and events each layer's launches take, failed in turn (every
 * 2nd enqueue), and the profile of the passes after recovering read whole. */
START_TEST(test_fault_profiled)
{
    cur = 0;
    profiled = 1;
    ck_assert_int_ge(walk_every("enqueue", CL_OUT_OF_RESOURCES, VGGCL_CONV_AUTO, 2), 10);
    profiled = 0;
}
END_TEST

/* The GPU-shaped Winograd (run here on PoCL) on the first model: its buffers, builds, kernels
 * and enqueues, and every 11th clSetKernelArg (each of ~500 would take 500 passes where the
 * others take 100; its launchers set 6-15 arguments per kernel, in a different phase on each
 * layer, so every launcher's argument failure is taken somewhere). */
START_TEST(test_fault_winograd_gpu)
{
    static const char *const kinds[] = { "buffer", "build", "kernel", "enqueue", "arg" };
    cur = 0;
    if (_i == 4)
        ck_assert_int_ge(walk_every("arg", CL_INVALID_ARG_VALUE, VGGCL_CONV_WINOGRAD_GPU, 11), 20);
    else
        ck_assert_int_ge(walk(kinds[_i], CL_OUT_OF_RESOURCES, VGGCL_CONV_WINOGRAD_GPU), 1);
}
END_TEST

/* A tuning table's rows, packed at the first pass that takes them: their buffers, maps and unmaps failed in that
 * pass, each said naming the layer, holding nothing after, and the next pass packing them whole. */
START_TEST(test_fault_rows_packed_at_first_pass)
{
    cur = 2;
    pass_pack_failures = 0;
    ck_assert_int_ge(walk("steps", CL_OUT_OF_RESOURCES, VGGCL_CONV_AUTO), 30);
    /* (each row's buffer, map and unmap; the bias is packed at the load) */
    ck_assert_int_ge(pass_pack_failures, 6);
}
END_TEST

/* setup: opening the device (platform and device queries, the context, both queues) and
 * creating a program. A failed vggcl_select_device reports the call, the error and the
 * step, leaves the context unselected and holding nothing, and selecting again works; a
 * failed program creation (the program cache off, so the program is made from source)
 * fails that pass, and the same context then loads and runs correctly. */
START_TEST(test_fault_setup)
{
    const char *path = tu_tmp("faults.safetensors"), *dev = getenv("VGGCL_TEST_DEVICE");
    float logits[N_IMG * 3], over[N_IMG * 3];
    static float cams[N_IMG * MAX_HW];
    vggcl_load_options o = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 0 };
    char spec[64];
    static const char *const opened[] = { "clGetPlatformIDs", "clGetPlatformInfo", "clGetDeviceIDs",
                                          "clGetDeviceInfo", "clCreateContext", "clCreateCommandQueue" };
    int failed[sizeof opened / sizeof opened[0]] = { 0 };
    cur = 0;
    make_model(path);
    int n = 1;
    for (;; n++) {
        snprintf(spec, sizeof spec, "setup:%d", n);
        setenv("VGGCL_FAULT", spec, 1);
        vggcl_ctx *ctx = vggcl_ctx_new();
        unsetenv("VGGCL_FAULT");
        vggcl_status st = vggcl_select_device(ctx, dev ? dev : "");
        const int fired = ctx->fault_fired;
        if (fired) {
            ck_assert_msg(st != VGGCL_OK, "VGGCL_FAULT=%s fired but the selection succeeded", spec);
            check_message(ctx, spec, CL_OUT_OF_HOST_MEMORY);
            for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++)
                failed[i] += strstr(vggcl_message(ctx), opened[i]) != NULL;
            ck_assert_msg(!ctx->selected && !ctx->cl && !ctx->queue && !ctx->upload_queue,
                          "VGGCL_FAULT=%s: a failed selection kept its context or queues", spec);
            /* nor the device's name and type (they were kept: a later "ref" took the CPU's decode threads) */
            ck_assert_msg(!*vggcl_device_name(ctx) && !*vggcl_device_type(ctx) && !ctx->is_cpu && !ctx->is_gpu &&
                              !ctx->vector_floats,
                          "VGGCL_FAULT=%s: a failed selection kept the device '%s' (%s)", spec,
                          vggcl_device_name(ctx), vggcl_device_type(ctx));
            if (n % 2) { /* the reference backend after it, or the device again */
                ck_assert_int_eq(vggcl_select_device(ctx, "ref"), VGGCL_OK);
                ck_assert_str_eq(vggcl_device_type(ctx), "");
                ck_assert_int_eq(vggcl_decode_threads_default(ctx), vggcl_usable_cores() < 64 ? vggcl_usable_cores() : 64);
            } else {
                ck_assert_msg(vggcl_select_device(ctx, dev ? dev : "") == VGGCL_OK, "VGGCL_FAULT=%s: %s", spec,
                              vggcl_message(ctx));
            }
        } else {
            ck_assert_msg(st == VGGCL_OK, "VGGCL_FAULT=%s: %s", spec, vggcl_message(ctx));
        }
        vggcl_ctx_free(ctx);
        if (!fired) break;
    }
    printf("VGGCL_FAULT=setup:1..%d: every failure to open the device reported and recovered from\n", n - 1);
    /* every kind of call that opening the device makes was failed once at least (the queues twice; the
     * devices' count and list each: a failed count was taken for a platform without devices) */
    for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++)
        ck_assert_msg(failed[i] >= (strcmp(opened[i], "clCreateCommandQueue") && strcmp(opened[i], "clGetDeviceIDs")
                                        ? 1 : 2),
                      "VGGCL_FAULT=setup failed %s %d times", opened[i], failed[i]);

    /* call n is the first after the selection: the first program made from source */
    const char *was = getenv("VGGCL_CACHE_DIR"); /* (the tests' cache, given by ctest: back after) */
    char *cache = was ? strdup(was) : NULL;
    setenv("VGGCL_CACHE_DIR", "off", 1);
    setenv("VGGCL_FAULT", spec, 1);
    vggcl_ctx *ctx = tu_cl_ctx();
    unsetenv("VGGCL_FAULT");
    vggcl_model *m = NULL;
    vggcl_status st = vggcl_model_load(ctx, path, &o, &m);
    if (st == VGGCL_OK) st = pass(ctx, m, logits, cams, over);
    ck_assert_msg(ctx->fault_fired && st != VGGCL_OK, "VGGCL_FAULT=%s: no program creation failed", spec);
    ck_assert_msg(strstr(vggcl_message(ctx), "clCreateProgramWithSource"), "%s", vggcl_message(ctx));
    check_message(ctx, spec, CL_OUT_OF_HOST_MEMORY);
    if (!m) ck_assert_msg(vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_msg(pass(ctx, m, logits, cams, over) == VGGCL_OK, "VGGCL_FAULT=%s: no recovery: %s", spec,
                  vggcl_message(ctx));
    check_results(spec, logits, cams, over);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    if (cache) setenv("VGGCL_CACHE_DIR", cache, 1);
    else unsetenv("VGGCL_CACHE_DIR");
    free(cache);
}
END_TEST

/* What the log function heard of giving things back (CL_CLEANUP). */
static char heard[4][512];
static int n_heard;
static void hear(void *user, const char *msg)
{
    (void)user;
    if (!strstr(msg, "giving back")) return; /* (not the notes of compiling) */
    if (n_heard < 4) snprintf(heard[n_heard], sizeof heard[0], "%s", msg);
    n_heard++;
}

/* cleanup: each call that gives things back (the model's buffers and events, then the context's
 * kernels, programs, queues and context) fails in turn. It is made all the same (no device buffer
 * left; host leaks are LeakSanitizer's), its failure is said once through the log naming the call,
 * the error and what was given back, and the passes' results stand. */
START_TEST(test_fault_cleanup)
{
    static const char *const what[] = { "closing device ", "forward pass: ", "freeing the model: ", "layer " };
    const char *path = tu_tmp("faults.safetensors");
    vggcl_load_options o = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 0 };
    float logits[N_IMG * 3], over[N_IMG * 3];
    static float cams[N_IMG * MAX_HW];
    cur = 0;
    make_model(path);
    int n = 1, calls = 0;
    for (;; n++) {
        char spec[64];
        snprintf(spec, sizeof spec, "cleanup:%d", n);
        setenv("VGGCL_FAULT", spec, 1);
        vggcl_ctx *ctx = tu_cl_ctx();
        unsetenv("VGGCL_FAULT");
        vggcl_set_log(ctx, hear, NULL);
        n_heard = 0;
        vggcl_model *m = NULL;
        ck_assert_msg(vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK, "VGGCL_FAULT=%s: %s", spec, vggcl_message(ctx));
        ck_assert_msg(pass(ctx, m, logits, cams, over) == VGGCL_OK, "VGGCL_FAULT=%s: %s", spec, vggcl_message(ctx));
        check_results(spec, logits, cams, over);
        vggcl_model_free(m);
        ck_assert_msg(ctx->dev_buffers == 0 && ctx->dev_bytes == 0, "VGGCL_FAULT=%s: %d buffers left", spec,
                      ctx->dev_buffers);
        /* the calls so far, and those closing the context will make */
        const int here = (int)ctx->fault_seen + ctx->n_kernels + ctx->n_programs + 3;
        ck_assert_msg(!calls || here == calls, "VGGCL_FAULT=%s: %d calls, %d before", spec, here, calls);
        calls = here;
        vggcl_ctx_free(ctx);
        if (n > calls) break;
        ck_assert_msg(n_heard == 1, "VGGCL_FAULT=%s: heard %d failures", spec, n_heard);
        int place = 0;
        for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) place |= !strncmp(heard[0], what[i], strlen(what[i]));
        ck_assert_msg(place && (strstr(heard[0], ": clRelease") || strstr(heard[0], ": clFinish")) &&
                      strstr(heard[0], "CL_OUT_OF_RESOURCES"), "VGGCL_FAULT=%s: %s", spec, heard[0]);
    }
    ck_assert_msg(n_heard == 0, "cleanup:%d, past the last call, was heard: %s", n, heard[0]);
    printf("VGGCL_FAULT=cleanup:1..%d: every failure to give a device object back said, and nothing else changed\n",
           calls);
    ck_assert_int_ge(calls, 20); /* the buffers, 2 events per overlapped pass, 4+ kernels and programs, 3 */
}
END_TEST

/* The tuner under failures (its timed passes are held behind a user event until queued: a failure that left
 * it held would hang clFinish for good): every third enqueue call of a budget-0 tune of a one-layer model
 * fails in turn; each tune returns, a failed candidate rejected or the tune failing with a message, and
 * leaves no device buffer. (The cleanup kind's calls are made whatever their result: not walked, for time.) */
START_TEST(test_fault_tune)
{
    char path[512]; /* (tu_tmp's path is one static buffer) */
    snprintf(path, sizeof path, "%s", tu_tmp("tune_faults.safetensors"));
    tu_write_vgg(path, "8", 0, 3, 7, NULL); /* (one conv: one shape to tune) */
    const char *was = getenv("VGGCL_CACHE_DIR");
    char *cache = was ? strdup(was) : NULL;
    /* (the tune's table apart from the suites' cache: its rows would change the algorithms other tests run) */
    setenv("VGGCL_CACHE_DIR", tu_tmp("tune_faults_cache"), 1);
    int n = 1, evictions = 0;
    for (int fired = 1; fired; n += 3) {
        char spec[64];
        snprintf(spec, sizeof spec, "enqueue:%d", n);
        setenv("VGGCL_FAULT", spec, 1);
        vggcl_ctx *ctx = tu_cl_ctx();
        unsetenv("VGGCL_FAULT");
        ctx->cache_bytes = 64; /* (a pass of it fills no more: the cache cleared before each timed pass, walked too) */
        vggcl_model *m = NULL;
        vggcl_tune_row rows[8];
        int count = 0;
        char table[8192];
        vggcl_status st = vggcl_model_load(ctx, path, NULL, &m);
        if (st == VGGCL_OK) st = vggcl_tune(ctx, m, NULL, 0, 16, 16, 1, 0, rows, 8, &count, table, sizeof table);
        fired = ctx->fault_fired;
        ck_assert_msg(st == VGGCL_OK || fired, "VGGCL_FAULT=%s did not fire, yet: %s", spec, vggcl_message(ctx));
        ck_assert_msg(st == VGGCL_OK || *vggcl_message(ctx), "VGGCL_FAULT=%s: a failure without a message", spec);
        /* a failure clearing the cache is tune's own, said so, not a candidate's (it was counted as one rejected,
         * or dropped a confirmed winner) */
        if (st != VGGCL_OK && strstr(vggcl_message(ctx), "writing over the device's cache before a timed pass")) {
            ck_assert_msg(strstr(vggcl_message(ctx), "clEnqueueFillBuffer") ||
                          strstr(vggcl_message(ctx), "clEnqueueCopyBuffer"), "%s", vggcl_message(ctx));
            evictions++;
        }
        vggcl_model_free(m);
        ck_assert_msg(ctx->dev_buffers == 0, "VGGCL_FAULT=%s: %d buffers left", spec, ctx->dev_buffers);
        vggcl_ctx_free(ctx);
    }
    ck_assert_int_ge(evictions, 1); /* (the walk reached the cache's clearing) */
    printf("VGGCL_FAULT=enqueue:N for N = 1, 4, ... %d: every tune returned (%d at the cache's clearing)\n", n - 3,
           evictions);
    if (cache) setenv("VGGCL_CACHE_DIR", cache, 1);
    else unsetenv("VGGCL_CACHE_DIR");
    free(cache);
}
END_TEST

/* A malformed VGGCL_FAULT is an error at device selection, not ignored. */
START_TEST(test_fault_spec_malformed)
{
    static const char *const bad[] = { "any", "any:0", "disk:3", "buffer:2:CL_NOT_AN_ERROR", "enqueue:x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("VGGCL_FAULT", bad[i], 1);
        vggcl_ctx *ctx = vggcl_ctx_new();
        unsetenv("VGGCL_FAULT");
        ck_assert_int_eq(vggcl_select_device(ctx, NULL), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), "VGGCL_FAULT"), "%s", vggcl_message(ctx));
        vggcl_ctx_free(ctx);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_fault_every_call, 0, 5);
    tcase_add_loop_test(tc, test_fault_winograd_gpu, 0, 5);
    tcase_add_loop_test(tc, test_fault_kinds, 0, 5);
    tcase_add_test(tc, test_fault_profiled);
    tcase_add_test(tc, test_fault_rows_packed_at_first_pass);
    tcase_add_test(tc, test_fault_setup);
    tcase_add_test(tc, test_fault_cleanup);
    tcase_add_test(tc, test_fault_spec_malformed);
    tcase_add_test(tc, test_fault_tune);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
