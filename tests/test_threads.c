/* Concurrency: what docs/failures.md's "Threads" promises. Two threads, each with its own
 * context and model, run forward passes at the same time and get the answers
 * a single thread gets. The "ref" case (reference backend, no OpenCL) is the
 * one run under helgrind (tests/sanitizers/valgrind.sh); the "opencl" case
 * runs the same on the OpenCL device, two contexts sharing one driver. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_SET */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define THREADS 2
#define PASSES 3
#define N_IMG 2
#define H 24
#define W 20
#define CLASSES 4

static const char *model_path;
static float x[THREADS][N_IMG * 3 * H * W];
static float want[THREADS][N_IMG * CLASSES];

typedef struct {
    int id;
    const char *device; /* "ref" or NULL for the test device */
    float got[PASSES][N_IMG * CLASSES];
    vggcl_status st;
    char msg[512];
} job;

/* A context on device (NULL: $VGGCL_TEST_DEVICE or the default); when the
 * selection fails, ctx->selected stays 0 and the message says why. */
static vggcl_ctx *open_ctx(const char *device)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    const char *spec = device ? device : getenv("VGGCL_TEST_DEVICE");
    if (ctx) vggcl_select_device(ctx, spec ? spec : "");
    return ctx;
}

/* One thread's work: its own context, model and input (Check's asserts are
 * not thread-safe, so results are checked after the join). */
static void *work(void *arg)
{
    job *j = arg;
    vggcl_ctx *ctx = open_ctx(j->device);
    vggcl_model *m = NULL;
    j->st = ctx ? VGGCL_OK : VGGCL_ERR_NOMEM;
    if (j->st == VGGCL_OK && !ctx->selected) j->st = VGGCL_ERR_NO_DEVICE;
    if (j->st == VGGCL_OK) j->st = vggcl_model_load(ctx, model_path, NULL, &m);
    for (int p = 0; p < PASSES && j->st == VGGCL_OK; p++)
        j->st = vggcl_forward(ctx, m, x[j->id], N_IMG, H, W, j->got[p], NULL);
    if (ctx) snprintf(j->msg, sizeof j->msg, "%s", vggcl_message(ctx));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    return NULL;
}

static void setup_inputs(void)
{
    model_path = tu_tmp("threads.safetensors");
    tu_write_vgg(model_path, "8,M,12,M,16", 1, CLASSES, 21, NULL);
    for (int t = 0; t < THREADS; t++) {
        tu_fill(x[t], sizeof x[t] / sizeof x[t][0], 100 + (unsigned)t, -2, 2);
        job j = { t, "ref", { { 0 } }, VGGCL_OK, "" };
        work(&j); /* alone first: the answer each thread must get */
        ck_assert_msg(j.st == VGGCL_OK, "%s", j.msg);
        memcpy(want[t], j.got[0], sizeof want[t]);
    }
}

static void run_threads(const char *device)
{
    setup_inputs();
    static job jobs[THREADS];
    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].id = t;
        jobs[t].device = device;
        ck_assert_int_eq(pthread_create(&tid[t], NULL, work, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_msg(jobs[t].st == VGGCL_OK, "thread %d: %s", t, jobs[t].msg);
        for (int p = 0; p < PASSES; p++)
            ck_assert_msg(tu_compare("logits", want[t], jobs[t].got[p], N_IMG, CLASSES, 1, 1, 1e-5, 1e-4),
                          "thread %d, pass %d: logits differ from the single-threaded run", t, p);
    }
}

START_TEST(test_threads_ref)
{
    run_threads("ref");
}
END_TEST

START_TEST(test_threads_opencl)
{
    run_threads(NULL);
}
END_TEST

/* --threads' default: one decoding thread per core the caller may run on (its affinity, not the
 * machine's cores), one per 16 on a CPU device, which computes on those cores. */
START_TEST(test_decode_threads_default)
{
    cpu_set_t all, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    const int cores = CPU_COUNT(&all), cap = cores > 64 ? 64 : cores;
    ck_assert_int_eq(vggcl_usable_cores(), cores);
    vggcl_ctx *ref = open_ctx("ref"), *cpu = vggcl_ctx_new();
    ck_assert_ptr_nonnull(ref);
    ck_assert_int_eq(vggcl_decode_threads_default(ref), cap);
    ck_assert_int_eq(vggcl_decode_threads_default(NULL), cap);
    /* pinned to one core (as mpirun binds a rank), one thread */
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    const int pinned = vggcl_usable_cores(), pinned_default = vggcl_decode_threads_default(ref);
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    ck_assert_int_eq(pinned, 1);
    ck_assert_int_eq(pinned_default, 1);
    /* the first CPU device, where PoCL or another CPU driver lists one */
    vggcl_device_info dev[16];
    int n = 0;
    ck_assert_ptr_nonnull(cpu);
    vggcl_list_devices(cpu, dev, 16, &n);
    for (int d = 0; d < n && d < 16; d++)
        if (!strcmp(dev[d].type, "CPU")) {
            char spec[32];
            snprintf(spec, sizeof spec, "%d:%d", dev[d].platform, dev[d].device);
            ck_assert_msg(vggcl_select_device(cpu, spec) == VGGCL_OK, "%s", vggcl_message(cpu));
            ck_assert_str_eq(vggcl_device_type(cpu), "CPU");
            ck_assert_int_eq(vggcl_decode_threads_default(cpu), ((cores + 15) / 16 > 64 ? 64 : (cores + 15) / 16));
            break;
        }
    vggcl_ctx_free(ref);
    vggcl_ctx_free(cpu);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *ref = tcase_create("ref"), *cl = tcase_create("opencl"), *defaults = tcase_create("defaults");
    tcase_set_timeout(ref, 600);
    tcase_set_timeout(cl, 600);
    tcase_add_test(ref, test_threads_ref);
    tcase_add_test(cl, test_threads_opencl);
    tcase_add_test(defaults, test_decode_threads_default);
    suite_add_tcase(s, ref);
    suite_add_tcase(s, cl);
    suite_add_tcase(s, defaults);
    return tu_run(s);
}
