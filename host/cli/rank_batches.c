/* Batches handed out as ranks ask for them (under mpirun, the commands that
 * run their list through cli_run_batches). Rank 0 counts the batches handed
 * out; a thread of its own answers the other ranks' asks, so a rank that runs
 * faster (a core to itself, a faster device, a machine less busy) takes more
 * batches, and none waits at the end for a slower one's long share: on the
 * 16-core GPU machine ranks given equal contiguous shares finished up to 1.9x
 * apart. Each rank keeps, for every batch it handed over, where its captured
 * text and its rows end; cli_ranks_finish writes them in the batches' order,
 * which is one process's. Without MPI, or with one rank, nothing here runs. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "rank_run.h"

/* The batches of the lists before the one this rank runs. */
static int base_of(const struct cli_rank_run *u) { return u->list ? u->ends[u->list - 1] : 0; }

#ifdef VGGCL_MPI
enum { TAG_ASK = 11, TAG_GIVE };
/* What a rank asks: a batch, or that it asks no more (done, or stopped: no more for anyone). */
enum { ASK_BATCH = 1, ASK_DONE = -1, ASK_STOPPED = -2 };

/* The next batch for rank i, or -1; rank 0's count. */
static int hand_out(const cli_ranks *r, struct cli_rank_run *u, int i)
{
    pthread_mutex_lock(&u->mu);
    int g = -1;
    if (!u->stop && u->turn && u->turn[i] < r->n_batches) /* (in turn) */
        g = u->turn[i], u->turn[i] += r->size, u->next++;
    else if (!u->stop && !u->turn && u->next < r->n_batches)
        g = u->next++;
    pthread_mutex_unlock(&u->mu);
    return g;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e9 * (double)t.tv_sec + (double)t.tv_nsec;
}

/* Rank 0's thread: answers every other rank's asks until each asks no more. It polls (a blocking receive
 * spins in Open MPI: a core taken from rank 0's own work), at first 0.05 ms after the last ask, then twice as
 * long each time up to an eighth of the time between asks (their moving average), within 0.05 to 3.2 ms: a
 * rank asks once a batch, and a poll every 0.2 ms took 0.2-0.5 s of CPU from 3 s runs of 2 ranks on 2 cores,
 * where a batch takes about a second; where batches take milliseconds (a fast device, a small network), a
 * nap up to 3.2 ms long left rank 1 asking at most every 2.4 ms, at two thirds of rank 0's rate. */
static void *dispatcher(void *arg)
{
    cli_ranks *r = arg;
    struct cli_rank_run *u = r->run;
    long nap_ns = 50000, most_ns = 3200000;
    double last = now_ns(), between = 0; /* (the last ask; the average time between asks, 0: none yet) */
    for (int open = r->size - 1; open > 0;) {
        int flag = 0, ask;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, u->comm, &flag, &st);
        if (!flag) {
            const struct timespec nap = { 0, nap_ns };
            nanosleep(&nap, NULL);
            if (nap_ns < most_ns) nap_ns = 2 * nap_ns < most_ns ? 2 * nap_ns : most_ns;
            continue;
        }
        const double t = now_ns();
        between = between > 0 ? 0.75 * between + 0.25 * (t - last) : t - last, last = t;
        most_ns = between / 8 < 50000 ? 50000 : between / 8 > 3200000 ? 3200000 : (long)(between / 8);
        nap_ns = 50000;
        MPI_Recv(&ask, 1, MPI_INT, st.MPI_SOURCE, TAG_ASK, u->comm, MPI_STATUS_IGNORE);
        if (ask != ASK_BATCH) {
            if (ask == ASK_STOPPED) pthread_mutex_lock(&u->mu), u->stop = 1, pthread_mutex_unlock(&u->mu);
            open--;
            continue;
        }
        const int g = hand_out(r, u, st.MPI_SOURCE);
        MPI_Send(&g, 1, MPI_INT, st.MPI_SOURCE, TAG_GIVE, u->comm);
        if (g < 0) open--; /* (it asks no more) */
    }
    return NULL;
}
#endif

int cli_ranks_run_start(cli_ranks *r, const int *ends, int n_lists)
{
#ifdef VGGCL_MPI
    struct cli_rank_run *u = calloc(1, sizeof *u);
    if (u && r->rank == 0 && r->may_hand_out == 2 && (u->turn = malloc(sizeof *u->turn * (size_t)r->size)))
        for (int i = 0; i < r->size; i++) u->turn[i] = i;
    int ok = u && (r->rank != 0 || r->may_hand_out != 2 || u->turn), all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) {
        if (u) free(u->turn);
        free(u);
        return CLI_FAIL;
    }
    u->stopped_at = INT_MAX, u->pending = -1, u->n_lists = n_lists;
    memcpy(u->ends, ends, sizeof *ends * (size_t)n_lists);
    pthread_mutex_init(&u->mu, NULL);
    MPI_Comm_dup(MPI_COMM_WORLD, &u->comm);
    r->run = u;
    if (r->rank == 0) u->thread = pthread_create(&u->tid, NULL, dispatcher, r) == 0;
    int started = u->thread;
    MPI_Bcast(&started, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (started) return CLI_OK;
    u->left = 1; /* (no thread to tell: the shares are contiguous) */
    cli_ranks_run_free(r);
    return CLI_FAIL;
#else
    (void)r, (void)ends, (void)n_lists;
    return CLI_FAIL;
#endif
}

int cli_ranks_next_batch(const cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u || u->left || u->list_done) return -1;
    int g = u->pending;
    u->pending = -1;
#ifdef VGGCL_MPI
    if (g < 0 && r->rank == 0) {
        g = hand_out(r, u, 0);
    } else if (g < 0) {
        const int ask = ASK_BATCH;
        const double t0 = now_ns();
        MPI_Send(&ask, 1, MPI_INT, 0, TAG_ASK, u->comm);
        MPI_Recv(&g, 1, MPI_INT, 0, TAG_GIVE, u->comm, MPI_STATUS_IGNORE);
        const double t1 = now_ns(); /* (the answer's wait, and the time between asks: their moving averages) */
        u->wait_ns = u->asked_at > 0 ? 0.75 * u->wait_ns + 0.25 * (t1 - t0) : t1 - t0;
        if (u->asked_at > 0) u->between_ns = u->between_ns > 0 ? 0.75 * u->between_ns + 0.25 * (t1 - u->asked_at)
                                                                : t1 - u->asked_at;
        u->asked_at = t1;
    }
#endif
    if (g < 0) u->left = u->list_done = 1; /* (rank 0's dispatcher counted it) */
    else if (g >= u->ends[u->list]) u->pending = g, u->list_done = 1; /* (the next list's first for it) */
    return u->list_done ? -1 : g - base_of(u);
}

int cli_ranks_ask_ahead(const cli_ranks *r)
{
    const struct cli_rank_run *u = r ? r->run : NULL;
    /* (short batches only: a batch held ahead is one another rank could have run at the end. Batches of 0.7 s on
     * 2 busy cores, where rank 0's thread woke late, had rank 1 ask ahead and end a second after rank 0) */
    return u && u->between_ns > 0 && u->between_ns < 20e6 && u->wait_ns > u->between_ns / 20;
}

void cli_ranks_next_list(const cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u || u->list + 1 >= u->n_lists) return;
    u->list++;
    u->list_done = u->left;
    u->shown_kept = 0; /* (the last list's line, not this one's) */
    if (u->n_done) u->rows_base = u->done[u->n_done - 1].rows, u->skipped_base = u->done[u->n_done - 1].skipped;
}

void cli_ranks_keep_progress(const cli_ranks *r, const cli_progress *p, int total)
{
    struct cli_rank_run *u = r ? r->run : NULL;
    if (!u) return;
    u->shown = *p, u->shown_total = total, u->shown_kept = 1;
}

int cli_ranks_batches_out(const cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u) return 0;
    pthread_mutex_lock(&u->mu);
    const int n = (u->next < u->ends[u->list] ? u->next : u->ends[u->list]) - base_of(u); /* (in turn: a count) */
    pthread_mutex_unlock(&u->mu);
    return n > 0 ? n : 0;
}

/* Where captured standard output and error end now (their buffers written out first). */
static void text_ends(long long *out, long long *err)
{
    fflush(stdout), fflush(stderr);
    *out = lseek(1, 0, SEEK_CUR), *err = lseek(2, 0, SEEK_CUR);
}

void cli_ranks_mark_start(const cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u || u->started) return;
    text_ends(&u->start_out, &u->start_err);
    if (u->start_out < 0 || u->start_err < 0) u->lost = 1;
    u->started = 1;
}

void cli_ranks_handed(const cli_ranks *r, int g, long long rows, int skipped)
{
    struct cli_rank_run *u = r->run;
    if (!u) return;
    cli_ranks_mark_start(r);
    if (u->n_done == u->cap) { /* (out of memory: the gathering fails, said) */
        const int cap = u->cap ? 2 * u->cap : 64;
        cli_batch_end *grown = realloc(u->done, sizeof *grown * (size_t)cap);
        if (!grown) {
            u->lost = 1;
            return;
        }
        u->done = grown, u->cap = cap;
    }
    cli_batch_end *e = &u->done[u->n_done++];
    e->g = base_of(u) + g, e->rows = u->rows_base + rows, e->skipped = u->skipped_base + skipped;
    text_ends(&e->out, &e->err);
    if (e->out < 0 || e->err < 0) u->lost = 1; /* (the gathering fails, said) */
}

/* Tells rank 0 this rank asks no more (stopped: no more batches for anyone; rank 0's own stop is set by
 * cli_ranks_stop_at). */
static void leave(const cli_ranks *r, int stopped)
{
    struct cli_rank_run *u = r->run;
    if (!u || u->left) return;
    u->left = 1;
#ifdef VGGCL_MPI
    const int ask = stopped ? ASK_STOPPED : ASK_DONE;
    if (r->rank != 0) MPI_Send(&ask, 1, MPI_INT, 0, TAG_ASK, u->comm);
#else
    (void)stopped;
#endif
}

void cli_ranks_stop_at(const cli_ranks *r, int g)
{
    struct cli_rank_run *u = r->run;
    if (!u) return;
    /* (INT_MAX - 1: before any batch it knew: then at the next list's batch it holds, which it did not run) */
    g = g < INT_MAX - 1 - base_of(u) ? g + base_of(u) : u->pending >= 0 ? u->pending : g;
    if (g < u->stopped_at) u->stopped_at = g;
    if (r->rank == 0) { /* (rank 0 may have left already: its last ask answered -1) */
        pthread_mutex_lock(&u->mu);
        u->stop = 1;
        pthread_mutex_unlock(&u->mu);
    }
    leave(r, 1);
}

void cli_ranks_run_leave(cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u) return;
    leave(r, 0);
    if (u->thread) pthread_join(u->tid, NULL);
    u->thread = 0;
}

void cli_ranks_run_free(cli_ranks *r)
{
    struct cli_rank_run *u = r->run;
    if (!u) return;
    cli_ranks_run_leave(r);
#ifdef VGGCL_MPI
    MPI_Comm_free(&u->comm);
#endif
    pthread_mutex_destroy(&u->mu);
    free(u->done), free(u->turn);
    free(u);
    r->run = NULL;
}
