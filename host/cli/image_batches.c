/* Images through the model in batches, shared by classify, eval, train-head,
 * bench --images and (without a model) preprocess: a pool of threads decodes
 * and preprocesses (naming and counting unreadable files), batches are
 * assembled in list order, run on one device (on this thread) or on several
 * (a thread per device taking whichever batch is next), and handed to the
 * callback in list order whatever finished first. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_decode_args(const char *cmd, const cli_args *a, int *threads, double *progress_s)
{
    const char *t = cli_arg(a, "threads"), *p = cli_arg(a, "progress");
    *threads = 0, *progress_s = -1;
    if (t && cli_int(cmd, "--threads", t, 1, 256, threads)) return CLI_USAGE;
    if (p && (!cli_number(p, progress_s) || !(*progress_s >= 0 && *progress_s <= 1e6)))
        return cli_error(CLI_USAGE, "%s: --progress must be a number of seconds from 0 to 1e6, not '%s'", cmd, p);
    /* the environment's bound on an image's pixels: a mistake in it said once, before any image (else each was
     * refused with it) */
    vggcl_ctx *ctx = vggcl_ctx_new();
    unsigned long long pixels;
    int rc = CLI_OK;
    if (!ctx) rc = cli_error(CLI_FAIL, "%s: out of host memory", cmd);
    else if (vggcl_image_max_pixels(ctx, &pixels) != VGGCL_OK)
        rc = cli_error(CLI_USAGE, "%s: %s", cmd, vggcl_message(ctx));
    vggcl_ctx_free(ctx);
    return rc;
}

/* x (n, 3, h, w) -> out, each image mirrored left to right. */
static void mirror(const float *x, float *out, int n, int h, int w)
{
    for (size_t r = 0; r < (size_t)n * 3 * h; r++)
        for (int j = 0; j < w; j++) out[r * w + j] = x[r * w + (w - 1 - j)];
}

enum { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

/* One batch on its way: assembled, run on a device, handed over. */
typedef struct {
    int state, number, nb, first;   /* first: the list index of its first file */
    int h, w;                       /* its images' size */
    float *x, *y, *f;
    size_t x_cap;                   /* floats x holds (grown for a larger image of its own size) */
    int *index;                     /* list index of each image */
    int ok;                         /* the forward pass succeeded */
    char *msg;                      /* else why (allocated) */
    char **note;                    /* per image of the batch (by its place in it): why it is skipped, said when
                                     * the batch is handed over, in list order (an unreadable image was said as
                                     * its batch was made, one whose logits are not finite when the batch before
                                     * was handed over: in another order by batch size, ranks and shards) */
    double device_ms;               /* the device's time on its pass */
    double upload_ms;               /* handing it over: vggcl_forward_submit (the input's copy, queueing) */
} bslot;

typedef struct {
    const cli_batch_job *job;
    char **files;
    int n_batches;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bslot *slots;
    int n_slots, stop;
} runner;

/* The message when slot s failed on its device: names the device (cli_device_label) and the batch. */
static void describe_failure(runner *r, vggcl_ctx *ctx, bslot *s)
{
    const char *m = vggcl_message(ctx), *first = r->files[s->index[0]], *last = r->files[s->index[s->nb - 1]];
    const cli_ranks *ranks = r->job->ranks;
    char of[64] = "", device[320]; /* (under mpirun the batches count in the rank's share, or in the list's) */
    if (ranks && ranks->size > 1 && !ranks->dynamic) snprintf(of, sizeof of, " of rank %d's share", ranks->rank);
    else if (ranks && ranks->size > 1) snprintf(of, sizeof of, " (on rank %d)", ranks->rank);
    cli_device_label(ctx, device, sizeof device);
    /* (the parts, two numbers and the words between them: the message is never cut) */
    const size_t len = strlen(device) + strlen(of) + strlen(first) + strlen(last) + strlen(m) + 64;
    free(s->msg);
    if ((s->msg = malloc(len)))
        snprintf(s->msg, len, "%s, batch %d of %d%s (%s to %s): %s", device, s->number + 1, r->n_batches, of, first,
                 last, m);
}

/* Submits slot s's pass on device d (its context and model): it overlaps the
 * pass before it on that device. Returns s->ok. */
static int submit_slot(runner *r, int d, bslot *s)
{
    const cli_batch_job *job = r->job;
    const int h = s->h, w = s->w;
    vggcl_ctx *ctx = d ? job->ctxs[d] : job->ctx;
    if (job->flip) mirror(s->x, s->x + (size_t)s->nb * 3 * h * w, s->nb, h, w);
    const double t0 = cli_now_ms();
    s->ok = vggcl_forward_submit(ctx, d ? job->models[d] : job->model, s->x, s->nb * (job->flip ? 2 : 1), h, w,
                                 job->want_logits ? s->y : NULL, job->want_features ? s->f : NULL) == VGGCL_OK;
    s->upload_ms = cli_now_ms() - t0;
    if (!s->ok) describe_failure(r, ctx, s); /* the run stops here, its outputs are dropped */
    return s->ok;
}

/* Waits for slot s, the oldest pass in flight on device d. */
static void finish_slot(runner *r, int d, bslot *s)
{
    const cli_batch_job *job = r->job;
    vggcl_ctx *ctx = d ? job->ctxs[d] : job->ctx;
    s->ok = vggcl_forward_wait(ctx, d ? job->models[d] : job->model, &s->device_ms) == VGGCL_OK;
    if (!s->ok) describe_failure(r, ctx, s);
}

typedef struct {
    runner *r;
    int device;
} worker_arg;

/* A slot's state, read under the lock the device threads write it under. */
static int state_of(runner *r, const bslot *s)
{
    pthread_mutex_lock(&r->mu);
    const int state = s->state;
    pthread_mutex_unlock(&r->mu);
    return state;
}

static void mark_done(runner *r, bslot *s)
{
    pthread_mutex_lock(&r->mu);
    s->state = SLOT_DONE;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* A device's thread: submits the oldest queued batch, then waits for the one
 * it submitted before (so the device has the next pass queued while the
 * previous one finishes), marks that done, and so on. */
static void *device_worker(void *arg)
{
    worker_arg *a = arg;
    runner *r = a->r;
    bslot *held = NULL; /* submitted on this device, not yet waited for */
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bslot *s = NULL;
        for (;;) {
            for (int k = 0; !r->stop && k < r->n_slots; k++)
                if (r->slots[k].state == SLOT_QUEUED && (!s || r->slots[k].number < s->number)) s = &r->slots[k];
            if (s || held || r->stop) break;
            pthread_cond_wait(&r->cv, &r->mu);
        }
        if (s) s->state = SLOT_RUNNING;
        pthread_mutex_unlock(&r->mu);
        if (!s && !held) return NULL;
        const int submitted = s && submit_slot(r, a->device, s);
        if (held) finish_slot(r, a->device, held), mark_done(r, held);
        held = submitted ? s : NULL;
        if (s && !submitted) mark_done(r, s);
    }
}

int cli_size_taken(const vggcl_model *m, int h, int w)
{
    int mh = 1, mw = 1;
    if (m) vggcl_model_map_size(m, h, w, &mh, &mw);
    return mh > 0 && mw > 0;
}

const char *cli_size_refused(const vggcl_model *const *m, int n, int h, int w, char *why, size_t cap)
{
    int least = 0, multiple = 1, taken = 1, fh = 0, fw = 0;
    for (int k = 0; k < n; k++) { /* (multiples are powers of 2: the largest is a multiple of the others) */
        if (!m[k]) continue;
        least = vggcl_model_min_input(m[k]) > least ? vggcl_model_min_input(m[k]) : least;
        multiple = vggcl_model_size_multiple(m[k]) > multiple ? vggcl_model_size_multiple(m[k]) : multiple;
        taken = taken && cli_size_taken(m[k], h, w);
        if (!fh && !cli_size_taken(m[k], h, w)) vggcl_model_fixed_size(m[k], &fh, &fw);
    }
    if (taken) return NULL;
    if (h < least || w < least) snprintf(why, cap, "smaller than the %d x %d the network takes", least, least);
    else if (h > VGGCL_MAX_SIDE || w > VGGCL_MAX_SIDE || (long long)h * w > INT_MAX)
        snprintf(why, cap, "larger than vggcl takes (at most %d a side and 2^31 - 1 pixels)", VGGCL_MAX_SIDE);
    else if (fh) /* (before a pool's multiple: the size it names is taken, where a multiple may not be) */
        snprintf(why, cap, "its head flattens the map of the one size the model's graph took, %d x %d (width x "
                 "height; its \"vggcl.input_size\"), and this size makes another: give that size", fw, fh);
    else
        snprintf(why, cap, "a pool that rounds up gets an odd map there (the model's \"vggcl.pool_ceil\"; vggcl's "
                 "pools round down): give sizes that are multiples of %d", multiple);
    return why;
}

void cli_preset_size(const vggcl_preprocess *p, int *h, int *w)
{
    *h = *w = p->crop > 0 ? p->crop : 0;
    if (!p->crop && p->resize_w > 0) *h = p->resize, *w = p->resize_w;
}

void cli_lead_size(vggcl_ctx *ctx, const vggcl_model *m, const vggcl_preprocess *p, char *const *lead, int n_lead,
                   int *h, int *w)
{
    cli_preset_size(p, h, w);
    for (int i = 0; i < n_lead && !*h; i++) { /* (the share that holds an unreadable one says so) */
        float *t;
        if (vggcl_image_read(ctx, lead[i], p, &t, h, w) != VGGCL_OK) *h = *w = 0;
        else vggcl_free(t);
        if (*h && !cli_size_taken(m, *h, *w)) *h = *w = 0;
    }
}

/* Whether a batch of rows images of H x W fits on every device, as its passes would check: 1, else 0 with why
 * (the device named where there are several) in why. */
static int batches_fit(const cli_batch_job *job, int n_dev, int rows, int H, int W, char *why, size_t cap)
{
    for (int d = 0; d < n_dev; d++) {
        vggcl_ctx *ctx = d ? job->ctxs[d] : job->ctx;
        if (vggcl_check_batches(ctx, d ? job->models[d] : job->model, rows, H, W) == VGGCL_OK) continue;
        char device[256];
        if (n_dev == 1) snprintf(why, cap, "%s", vggcl_message(ctx));
        else snprintf(why, cap, "%s: %s", cli_device_label(ctx, device, sizeof device), vggcl_message(ctx));
        return 0;
    }
    return 1;
}

static char no_room[] = "an image is skipped (out of host memory for its message)";

/* Slot s's note for its image at list index i: the message cli_error would print (no_room, out of host memory
 * for it). */
static void note(bslot *s, int batch, int i, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text) vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    va_end(ap);
    s->note[i - s->number * batch] = text ? text : no_room;
}

/* Says slot s's notes so far, in list order, each counted in *failed (bench --images' warm-up: counted only). */
static void say_notes(const cli_batch_job *job, bslot *s, int *failed)
{
    for (int k = 0; k < job->batch; k++) {
        if (!s->note[k]) continue;
        if (!job->quiet) cli_error(CLI_FAIL, "%s", s->note[k]);
        if (s->note[k] != no_room) free(s->note[k]);
        s->note[k] = NULL;
        (*failed)++;
    }
}

int cli_not_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

/* Drops from the done slot o the images whose logits are not all finite (NaN or infinite: the weights or the
 * preprocessing overflow float32 on them), each noted (say_notes names and counts it); the others' rows keep their order
 * (not with flip: its mirrored rows stay where they are). Rows move down only, in order: a row is written where
 * no row not yet moved lies. */
static void drop_nonfinite(const cli_batch_job *job, char **files, bslot *o)
{
    const int classes = vggcl_model_classes(job->model), nb = o->nb;
    const size_t xs = (size_t)3 * o->h * o->w, fs = (size_t)vggcl_model_features(job->model);
    int kept = 0;
    for (int j = 0; j < nb; j++) {
        const float *l = o->y + (size_t)j * classes;
        const int c = cli_not_finite(l, classes);
        if (c >= 0) {
            note(o, job->batch, o->index[j], CLI_LOGIT_NOT_FINITE " (skipped)", files[o->index[j]], c, "",
                 isnan(l[c]) ? "NaN" : "infinite");
            continue;
        }
        if (kept < j) {
            o->index[kept] = o->index[j];
            memmove(o->x + kept * xs, o->x + j * xs, sizeof *o->x * xs);
            memmove(o->y + (size_t)kept * classes, l, sizeof *o->y * (size_t)classes);
            memmove(o->f + kept * fs, o->f + j * fs, sizeof *o->f * fs);
        }
        kept++;
    }
    o->nb = kept;
}

/* The batches a rank was handed (rank 0 handing them out as ranks ask): local batch b is the list's batch
 * g[b], its images at the pool's places q[b].. (order: the list index of each place). */
typedef struct {
    const cli_ranks *ranks;
    int *g, *q, *order;
    int known, ended;
} handed_batches;

/* Asks for batches until local batch upto is known, or none are left; the pool is told their places. */
static void ask_until(handed_batches *h, cli_decode_pool *pool, int upto, int batch, int n_files)
{
    int n = h->known ? h->q[h->known - 1] + (n_files - h->g[h->known - 1] * batch < batch
                                             ? n_files - h->g[h->known - 1] * batch : batch) : 0;
    const int was = h->known;
    while (!h->ended && h->known <= upto) {
        const int g = cli_ranks_next_batch(h->ranks);
        if (g < 0) {
            h->ended = 1;
            break;
        }
        h->g[h->known] = g, h->q[h->known++] = n;
        for (int i = g * batch; i < n_files && i < (g + 1) * batch; i++) h->order[n++] = i;
    }
    if (pool && (h->known != was || h->ended)) cli_decode_extend(pool, n, h->ended);
}

int cli_run_batches(const cli_batch_job *job, char **files, int n_files, cli_batch_fn fn, void *user, int *failed)
{
    const int batch = job->batch, classes = job->model ? vggcl_model_classes(job->model) : 0,
              feats = job->model ? vggcl_model_features(job->model) : 0;
    const int n_batches = (n_files + batch - 1) / batch;
    /* handed out as ranks ask: this rank's batches as they come (n_local: how many, once none are left) */
    const int dynamic = job->ranks && job->ranks->size > 1 && job->ranks->dynamic;
    handed_batches hb = { job->ranks, NULL, NULL, NULL, 0, 0 };
    int n_local = dynamic ? INT_MAX : n_batches, stop_g = -1, n_handed = 0;
    long long rows_out = 0; /* handed over to fn */
    cli_progress shown = cli_progress_begin(job->progress_s, job->ranks, batch, n_batches, "batches");
    const int copies = job->flip ? 2 : 1, n_dev = job->n_devices > 1 ? job->n_devices : 1;
    /* two batches in flight per device and one being assembled (one device: on this thread, whose
     * slot for the next batch is freed by waiting for the one before the last) */
    runner r = { job, files, n_batches, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
                 n_dev > 1 ? 2 * n_dev + 1 : 2, 0 };
    pthread_t *threads = NULL;
    worker_arg *args = NULL;
    int H = job->h, W = job->w, rc = CLI_OK, started = 0, next_out = 0, checked = 0;
    /* each image at its own size (batches of one, no common size): checked to fit again past the largest sides
     * checked */
    int preset_h, preset_w;
    cli_preset_size(job->p, &preset_h, &preset_w);
    const int any_size = job->own_sizes && batch == 1 && !preset_h;
    int checked_h = 0, checked_w = 0;
    cli_batch_stats st = { 0 };
    const double start = cli_now_ms();
    *failed = 0;
    r.slots = calloc((size_t)r.n_slots, sizeof *r.slots);
    /* the pool decodes a batch ahead per slot: the next batch is ready when a device can take it */
    int decoders = job->threads;
    for (int d = 0; d < n_dev && job->threads <= 0; d++) { /* the most any device asks for */
        const int t = vggcl_decode_threads_default(d ? job->ctxs[d] : job->ctx);
        decoders = t > decoders ? t : decoders;
    }
    if (dynamic && (!(hb.g = malloc(sizeof *hb.g * ((size_t)n_batches + 1))) ||
                    !(hb.q = malloc(sizeof *hb.q * ((size_t)n_batches + 1))) ||
                    !(hb.order = malloc(sizeof *hb.order * ((size_t)n_files + 1)))))
        free(r.slots), r.slots = NULL;
    cli_decode_pool *pool = !r.slots ? NULL : dynamic ? cli_decode_start_in(files, hb.order, 0, 0, job->p, decoders,
                                                                            (r.n_slots + 1) * batch)
                                                      : cli_decode_start(files, n_files, job->p, decoders,
                                                                         (r.n_slots + 1) * batch);
    for (int k = 0; r.slots && k < r.n_slots; k++)
        if (!(r.slots[k].index = malloc(sizeof *r.slots[k].index * (size_t)batch)) ||
            !(r.slots[k].note = calloc((size_t)batch, sizeof *r.slots[k].note)))
            pool = (cli_decode_stop(pool), NULL);
    if (!r.slots || !pool) {
        rc = cli_error(CLI_FAIL, "out of host memory (or no thread) for decoding images");
        goto done;
    }
    /* batch b: assemble it (in this thread), queue it, and hand over every batch done before it, in order
     * (handed out: this rank's b-th, asked for as it is to be assembled, with one for each other device: its
     * images are decoded while the passes before it run; a rank holds no more, so that at the end none is
     * left with batches the others could have taken, but one where its asks wait long beside its batches'
     * time, as on a fast device (cli_ranks_ask_ahead). The pool then decodes a batch ahead at most: enough
     * where a pass takes longer than decoding a batch, as on CPU ranks) */
    for (int b = 0; b <= n_local && rc == CLI_OK; b++) {
        if (dynamic) {
            ask_until(&hb, pool, b + n_dev - 1 + cli_ranks_ask_ahead(job->ranks), batch, n_files);
            if (hb.ended && hb.known <= b) n_local = b;
        }
        bslot *s = b < n_local ? &r.slots[b % r.n_slots] : NULL;
        /* deliver in order until this batch's slot is free (and, past the last batch, all of them) */
        while (next_out < b && rc == CLI_OK && (!s || state_of(&r, s) != SLOT_FREE)) {
            bslot *o = &r.slots[next_out % r.n_slots];
            const double t0 = cli_now_ms();
            if (!started && o->state == SLOT_RUNNING) /* one device, on this thread: the next pass is queued */
                finish_slot(&r, 0, o), o->state = SLOT_DONE;
            pthread_mutex_lock(&r.mu);
            while (o->state != SLOT_DONE) pthread_cond_wait(&r.cv, &r.mu);
            pthread_mutex_unlock(&r.mu);
            st.blocked_ms += cli_now_ms() - t0;
            st.device_ms += o->device_ms;
            st.upload_ms += o->upload_ms;
            if (o->ok && o->nb && job->finite) drop_nonfinite(job, files, o);
            if (dynamic) cli_ranks_mark_start(job->ranks); /* (the text before: said before every batch's) */
            say_notes(job, o, failed);
            if (!o->ok) {
                rc = cli_error(CLI_FAIL, "%s", o->msg ? o->msg : "a device failed (out of host memory for the message)");
            } else if (o->nb) {
                st.images += o->nb, st.batches++;
                cli_progress_wipe(&shown);
                rc = fn(user, o->index, o->nb, o->x, o->h, o->w, job->want_logits ? o->y : NULL,
                        job->want_features ? o->f : NULL,
                        job->want_features && job->flip ? o->f + (size_t)o->nb * feats : NULL);
                if (rc == CLI_OK) rc = cli_flush_stdout(); /* (the answers so far: a full disk stops the run) */
            }
            if (rc != CLI_OK) stop_g = o->number;
            else if (dynamic) cli_ranks_handed(job->ranks, o->number, rows_out += o->nb, *failed);
            if (rc == CLI_OK) n_handed++;
            if (o->ok && rc == CLI_OK) /* (a batch with no readable image counts as done too) */
                cli_progress_show(&shown, next_out + 1, n_batches,
                                  (next_out + 1) * batch < n_files ? (next_out + 1) * batch : n_files, *failed,
                                  n_files);
            free(o->msg);
            o->msg = NULL;
            pthread_mutex_lock(&r.mu);
            o->state = SLOT_FREE;
            pthread_mutex_unlock(&r.mu);
            next_out++;
        }
        if (!s || rc != CLI_OK) break;
        const int g = dynamic ? hb.g[b] : b; /* (the list's batch) */
        s->number = g, s->nb = 0;
        s->device_ms = s->upload_ms = 0; /* (a batch with no readable image adds nothing) */
        for (int i = g * batch; i < n_files && i < (g + 1) * batch; i++) {
            float *t;
            int oh, ow;
            char *msg;
            const double t0 = cli_now_ms();
            const int stops = cli_decode_take(pool, dynamic ? hb.q[b] + i - g * batch : i, &t, &oh, &ow, &msg);
            st.wait_ms += cli_now_ms() - t0;
            if (!t && stops) { /* (the environment's failure, not the image's: not a skip, as for every one after) */
                rc = cli_error(CLI_FAIL, CLI_NO_DESCRIPTORS, msg ? msg : files[i]);
                free(msg);
                break;
            }
            if (!t) {
                note(s, batch, i, "%s%s", msg ? msg : "out of host memory", job->strict ? "" : " (skipped)");
                free(msg);
                continue;
            }
            char why[256];
            if ((oh != H || ow != W) && cli_size_refused(&job->sized, 1, oh, ow, why, sizeof why)) { /* (as anywhere) */
                note(s, batch, i, CLI_SIZE_REFUSED "%s", files[i], ow, oh, why, job->strict ? "" : " (skipped)");
                vggcl_free(t);
                continue;
            }
            if (!H || any_size) H = oh, W = ow; /* (any_size: a batch of this image alone, at its size) */
            /* (no logits or features without a model; a batch of more than the images: as many as they) */
            const size_t rows = (size_t)(batch < n_files ? batch : n_files) * copies;
            const int first = !checked; /* the first image read: said before batches of it fill the host's memory */
            if (job->model && (first || (any_size && (H > checked_h || W > checked_w)))) { /* (or a larger one) */
                checked = 1; /* (its memory grows with either side, not with the pixels alone) */
                /* (after the images before it, unreadable: their batches ran nothing, not handed over) */
                for (; first && dynamic && next_out < b; next_out++) { /* (each in its place in the list's order) */
                    bslot *o = &r.slots[next_out % r.n_slots];
                    cli_ranks_mark_start(job->ranks);
                    say_notes(job, o, failed);
                    cli_ranks_handed(job->ranks, o->number, rows_out, *failed);
                    n_handed++;
                    pthread_mutex_lock(&r.mu);
                    o->state = SLOT_FREE;
                    pthread_mutex_unlock(&r.mu);
                }
                if (first && dynamic) cli_ranks_mark_start(job->ranks); /* (this batch's so far: said with it) */
                for (int k = next_out; first && k <= b; k++) say_notes(job, &r.slots[k % r.n_slots], failed);
                char why[1024];
                if (!batches_fit(job, n_dev, (int)rows, H, W, why, sizeof why)) {
                    vggcl_free(t);
                    if (any_size) { /* (an image of its own: skipped, as one too small is; the others run) */
                        note(s, batch, i, "%s: %s%s", files[i], why, job->strict ? "" : " (skipped)");
                        continue;
                    }
                    rc = cli_error(CLI_FAIL, "%s", why);
                    break;
                }
                checked_h = H > checked_h ? H : checked_h, checked_w = W > checked_w ? W : checked_w;
            }
            const size_t need = (size_t)3 * H * W * rows; /* (fixed but for any_size's larger images) */
            float *grown = s->x_cap < need ? realloc(s->x, sizeof *s->x * need) : s->x;
            if (grown) s->x = grown, s->x_cap = need > s->x_cap ? need : s->x_cap;
            if (!grown || (job->model && !s->y &&
                           (!(s->y = malloc(sizeof *s->y * (size_t)(classes ? classes : 1) * rows)) ||
                            !(s->f = malloc(sizeof *s->f * (size_t)feats * rows))))) {
                vggcl_free(t);
                rc = cli_error(CLI_FAIL, "out of host memory");
                break;
            }
            if (oh != H || ow != W) { /* (width x height, labelled, as the other messages of sizes) */
                const char *alone = job->own_sizes && batch > 1 ? ", or --batch 1 (each image at its own size)" : "";
                note(s, batch, i, "%s: preprocesses to %d x %d pixels (width x height), unlike the first image's %d x "
                     "%d; use --crop, or --resize HxW%s%s", files[i], ow, oh, W, H, alone,
                     job->strict ? "" : " (skipped)");
                vggcl_free(t);
                continue;
            }
            memcpy(s->x + (size_t)s->nb * 3 * H * W, t, sizeof *s->x * 3 * (size_t)H * W);
            vggcl_free(t);
            s->index[s->nb++] = i;
            s->h = H, s->w = W;
        }
        if (rc != CLI_OK) break;
        if (!s->nb || !job->model) { /* nothing readable in this batch, or nothing to run: done at once */
            pthread_mutex_lock(&r.mu); /* (the devices' threads look at the slots' states) */
            s->ok = 1, s->state = SLOT_DONE;
            pthread_mutex_unlock(&r.mu);
            continue;
        }
        if (n_dev > 1 && !started) { /* the devices' threads start with the first batch (its size known) */
            threads = calloc((size_t)n_dev, sizeof *threads);
            args = calloc((size_t)n_dev, sizeof *args);
            for (int d = 0; threads && args && d < n_dev && started == d; d++) { /* (joined: the first started) */
                args[d] = (worker_arg){ &r, d };
                if (pthread_create(&threads[d], NULL, device_worker, &args[d]) == 0) started++;
            }
            if (!started) {
                rc = cli_error(CLI_FAIL, "cannot start threads for the devices");
                break;
            }
        }
        if (!started) { /* one device: submit it here; it runs while the batch before is handed over */
            const double t0 = cli_now_ms();
            s->state = submit_slot(&r, 0, s) ? SLOT_RUNNING : SLOT_DONE;
            st.blocked_ms += cli_now_ms() - t0;
            continue;
        }
        pthread_mutex_lock(&r.mu);
        s->state = SLOT_QUEUED;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
done:
    if (dynamic) { /* (one that stopped: where one process's output would end; the others given no more) */
        if (rc != CLI_OK) cli_ranks_stop_at(job->ranks, stop_g >= 0 ? stop_g : next_out < hb.known ? hb.g[next_out]
                                                                                            : INT_MAX - 1);
        cli_ranks_mark_start(job->ranks); /* (a rank handed no batch: its text so far) */
    }
    /* a run that stopped early may have passes in flight writing into the slots: wait, oldest first */
    while (!started && r.slots) {
        bslot *o = NULL;
        for (int k = 0; k < r.n_slots; k++)
            if (r.slots[k].state == SLOT_RUNNING && (!o || r.slots[k].number < o->number)) o = &r.slots[k];
        if (!o) break;
        finish_slot(&r, 0, o);
        o->state = SLOT_DONE;
    }
    if (started) {
        pthread_mutex_lock(&r.mu);
        r.stop = 1;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
        for (int d = 0; d < started; d++) pthread_join(threads[d], NULL);
    }
    if (pool) {
        st.decode_ms = cli_decode_busy_ms(pool);
        st.threads = cli_decode_thread_count(pool);
        cli_decode_stop(pool);
    }
    cli_progress_end_line(); /* (a run that stopped before its last batch) */
    cli_times_batches(n_handed);
    st.wall_ms = cli_now_ms() - start;
    st.host_ms = st.wall_ms - st.wait_ms - st.blocked_ms;
    st.h = H, st.w = W;
    if (job->stats) *job->stats = st;
    for (int k = 0; r.slots && k < r.n_slots; k++) {
        for (int i = 0; r.slots[k].note && i < batch; i++) /* (batches not handed over) */
            if (r.slots[k].note[i] != no_room) free(r.slots[k].note[i]);
        free(r.slots[k].x), free(r.slots[k].y), free(r.slots[k].f), free(r.slots[k].index), free(r.slots[k].msg);
        free(r.slots[k].note);
    }
    free(r.slots), free(threads), free(args);
    free(hb.g), free(hb.q), free(hb.order);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return rc;
}

int cli_open_empty(vggcl_ctx *ctx, const char *path, const char *said, const char *nor, int ndim, const long long *row,
                   vggcl_npy_writer **w)
{
    *w = NULL;
    if (!path) return CLI_OK;
    for (int d = 0; d < ndim; d++)
        if (row[d] < 1)
            return cli_error(CLI_FAIL, "%s: no image could be read, and without a crop (--no-crop, or the model's "
                                       "vggcl.crop 0) or a resize of both sides (--resize HxW) the images' size is "
                                       "not known; not written%s%s%s",
                             said ? said : path, nor ? ", nor " : "", nor ? nor : "",
                             nor ? " (all outputs or none)" : "");
    if (vggcl_npy_writer_open(ctx, path, ndim, row, w) != VGGCL_OK) return cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    return CLI_OK;
}

int cli_write_empty(vggcl_ctx *ctx, const char *path, int ndim, const long long *row)
{
    vggcl_npy_writer *w;
    const int rc = cli_open_empty(ctx, path, NULL, NULL, ndim, row, &w);
    return rc == CLI_OK && w ? cli_name_all(ctx, &w, &path, 1, 1) : rc; /* (signals held, as for a set) */
}
