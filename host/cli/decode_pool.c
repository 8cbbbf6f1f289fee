/* Decoding and preprocessing images on a pool of threads, handed out in the
 * order of the list whatever finishes first, while the caller runs the
 * previous batch on the device. Each worker has a vggcl context of its own
 * (image decoding and preprocessing are safe to call from several threads
 * with one context each). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct {
    int done;           /* the image at this place of the window is ready */
    float *t;           /* (3, h, w), or NULL when it failed */
    int h, w;
    char *msg;          /* why it failed */
    int stops;          /* ... for want of the process's descriptors (EMFILE, ENFILE), not the image's doing */
} slot;

struct cli_decode_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **files;
    const int *order;   /* the list index of each place (NULL: the place itself) */
    int n;              /* the places known so far */
    int final;          /* no more will be known (cli_decode_extend) */
    const vggcl_preprocess *p;
    int next;           /* the next image to hand to a worker */
    int taken;          /* images the caller has taken */
    int ahead;          /* images decoded at most past the last one taken (the window) */
    int stop;
    slot *slots;        /* the window: image i in slots[i % ahead] */
    pthread_t *threads;
    int n_threads;
    double busy_ms;     /* summed over workers: time spent decoding and preprocessing */
};

double cli_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* Decodes (only what the preset reads) and preprocesses the image at place q into s. */
static void decode_one(cli_decode_pool *dp, vggcl_ctx *ctx, int q, slot *s)
{
    const int i = dp->order ? dp->order[q] : q;
    *s = (slot){ 1, NULL, 0, 0, NULL, 0 };
    if (!ctx) {
        s->msg = cli_image_message(NULL, dp->files[i]); /* (vggcl_message(NULL): out of memory, with the image named) */
    } else if (vggcl_image_read(ctx, dp->files[i], dp->p, &s->t, &s->h, &s->w) != VGGCL_OK) {
        s->t = NULL;
        s->msg = cli_image_message(ctx, dp->files[i]);
        s->stops = vggcl_os_error(ctx) == EMFILE || vggcl_os_error(ctx) == ENFILE;
    }
}

static void *worker(void *arg)
{
    cli_decode_pool *dp = arg;
    vggcl_ctx *ctx = vggcl_ctx_new();
    for (;;) {
        pthread_mutex_lock(&dp->mu);
        while (!dp->stop && (dp->next < dp->n ? dp->next >= dp->taken + dp->ahead : !dp->final))
            pthread_cond_wait(&dp->cv, &dp->mu);
        if (dp->stop || dp->next >= dp->n) {
            pthread_mutex_unlock(&dp->mu);
            break;
        }
        const int i = dp->next++;
        pthread_mutex_unlock(&dp->mu);

        const double t0 = cli_now_ms();
        slot s;
        decode_one(dp, ctx, i, &s);
        const double spent = cli_now_ms() - t0;
        pthread_mutex_lock(&dp->mu);
        dp->busy_ms += spent;
        dp->slots[i % dp->ahead] = s;
        pthread_cond_broadcast(&dp->cv);
        pthread_mutex_unlock(&dp->mu);
    }
    vggcl_ctx_free(ctx);
    return NULL;
}

cli_decode_pool *cli_decode_start(char **files, int n, const vggcl_preprocess *p, int threads, int ahead)
{
    return cli_decode_start_in(files, NULL, n, 1, p, threads, ahead);
}

cli_decode_pool *cli_decode_start_in(char **files, const int *order, int n, int final, const vggcl_preprocess *p,
                                     int threads, int ahead)
{
    cli_decode_pool *dp = threads >= 1 ? calloc(1, sizeof *dp) : NULL;
    if (!dp) return NULL;
    static int warned; /* pools start on the command's main thread */
    const int cores = vggcl_usable_cores();
    /* measured on the H200 machine: 16 threads bound to one core by mpirun decoded 2048 JPEGs in
     * 10.6 s instead of 1.6 s. Said once per process; under mpirun once where the ranks' are alike (a notice). */
    if (threads > cores && !warned) {
        warned = 1;
        cli_notice("%d decoding threads, but this process may run on only %d core%s (its CPU affinity; under "
                   "mpirun: --bind-to none)", threads, cores, cores == 1 ? "" : "s");
    }
    dp->files = files, dp->order = order, dp->n = n, dp->final = final, dp->p = p, dp->ahead = ahead < 1 ? 1 : ahead;
    dp->slots = calloc((size_t)dp->ahead, sizeof *dp->slots);
    dp->threads = calloc((size_t)threads, sizeof *dp->threads);
    if (!dp->slots || !dp->threads) {
        free(dp->slots), free(dp->threads), free(dp);
        return NULL;
    }
    pthread_mutex_init(&dp->mu, NULL);
    pthread_cond_init(&dp->cv, NULL);
    for (int k = 0; k < threads; k++) {
        if (pthread_create(&dp->threads[k], NULL, worker, dp) != 0) break;
        dp->n_threads++;
    }
    if (!dp->n_threads) {
        cli_decode_stop(dp);
        return NULL;
    }
    return dp;
}

int cli_decode_take(cli_decode_pool *dp, int i, float **t, int *h, int *w, char **msg)
{
    pthread_mutex_lock(&dp->mu);
    slot *s = &dp->slots[i % dp->ahead];
    while (!s->done) pthread_cond_wait(&dp->cv, &dp->mu);
    *t = s->t, *h = s->h, *w = s->w, *msg = s->msg;
    const int stops = s->stops;
    memset(s, 0, sizeof *s);
    dp->taken = i + 1;
    pthread_cond_broadcast(&dp->cv);
    pthread_mutex_unlock(&dp->mu);
    return stops;
}

void cli_decode_extend(cli_decode_pool *dp, int n, int final)
{
    pthread_mutex_lock(&dp->mu);
    dp->n = n, dp->final = final;
    pthread_cond_broadcast(&dp->cv);
    pthread_mutex_unlock(&dp->mu);
}

double cli_decode_busy_ms(cli_decode_pool *dp)
{
    pthread_mutex_lock(&dp->mu);
    const double ms = dp->busy_ms;
    pthread_mutex_unlock(&dp->mu);
    return ms;
}

int cli_decode_thread_count(const cli_decode_pool *dp) { return dp->n_threads; }

void cli_decode_stop(cli_decode_pool *dp)
{
    if (!dp) return;
    pthread_mutex_lock(&dp->mu);
    dp->stop = 1;
    pthread_cond_broadcast(&dp->cv);
    pthread_mutex_unlock(&dp->mu);
    for (int k = 0; k < dp->n_threads; k++) pthread_join(dp->threads[k], NULL);
    for (int k = 0; k < dp->ahead; k++) vggcl_free(dp->slots[k].t), free(dp->slots[k].msg);
    pthread_mutex_destroy(&dp->mu);
    pthread_cond_destroy(&dp->cv);
    free(dp->slots), free(dp->threads), free(dp);
}
