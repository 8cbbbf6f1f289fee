#define _GNU_SOURCE /* CLOCK_BOOTTIME */
/* Where each rank's time went (VGGCL_RANK_TIMES set to anything but 0 on
 * rank 0): from its process's start to its last step, split into the steps
 * every command takes (MPI_Init; the model; its share of the images; what
 * follows them) and the time it waited in collectives for other ranks. Rank 0
 * prints a row per rank on stderr when the job ends; one process, its own row.
 * A job's fixed cost (start-up, a slow rank) shows there, as a row or a
 * column, where the wall time alone hides it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifdef VGGCL_MPI
#include <mpi.h>
#endif

/* the columns: the start, the steps (cli.h's CLI_TIMES_*), the waiting */
enum { T_START, T_WAIT = CLI_TIMES_AFTER + 1, N_TIMES };
enum { HOST_LEN = 48, TAG_TIMES = 100 };

/* A rank's row, as rank 0 gets it. */
typedef struct {
    double t[N_TIMES + 1]; /* (and the total: from the process's start to the last step's end) */
    int batches;           /* handed over (where ranks take batches as they ask: how the list was shared) */
    char host[HOST_LEN];
} times_row;

static struct {
    int opened, on, step;
    double since; /* when the current stretch of work began (CLOCK_MONOTONIC) */
    double born;  /* when the process started, on that clock (where t[T_START] is known: not -1) */
    times_row mine;
} times;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds since this process started (Linux: /proc/self/stat's start time, in clock ticks since boot), else -1. */
static double since_exec(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    const size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[got] = '\0';
    const char *p = strrchr(buf, ')'); /* (the command's name may hold spaces and parentheses) */
    unsigned long long start = 0;
    int field = 2; /* (the name's) */
    for (; p && *p && field < 22; p++)
        if (*p == ' ') field++;
    struct timespec boot;
    const long tick = sysconf(_SC_CLK_TCK);
    if (!p || field != 22 || sscanf(p, "%llu", &start) != 1 || tick <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot))
        return -1;
    const double s = (double)boot.tv_sec + boot.tv_nsec * 1e-9 - (double)start / (double)tick;
    return s >= 0 ? s : -1;
}

void cli_times_open(void)
{
    if (times.opened) return;
    const char *v = getenv("VGGCL_RANK_TIMES");
    times.opened = 1, times.on = v && *v && strcmp(v, "0");
    times.since = now();
    times.mine.t[T_START] = since_exec();
    times.born = times.since - times.mine.t[T_START];
    times.mine.t[CLI_TIMES_MPI] = -1; /* (one process: none) */
    times.step = CLI_TIMES_MODEL;
}

int cli_times_on(void) { return times.on; }

void cli_times_agree(int on) { times.on = on; }

/* The work since the last mark to the current step. */
static void mark(void)
{
    const double t = now();
    if (times.opened) times.mine.t[times.step] += t - times.since;
    times.since = t;
}

void cli_times_step(int step)
{
    if (!times.opened) return;
    mark();
    times.step = step;
    if (times.mine.t[step] < 0) times.mine.t[step] = 0;
}

double cli_times_wait(void)
{
    mark();
    return times.since;
}

void cli_times_batches(int n) { times.mine.batches += n; }

void cli_times_waited(double from)
{
    const double t = now();
    if (times.opened) times.mine.t[T_WAIT] += t - from;
    times.since = t;
}

/* One row: rank, machine, then each time, the total since the process started (t[N_TIMES]), and the batches. */
static void row(int rank, const char *host, const double *t, int batches)
{
    fprintf(stderr, "vggcl: %5d  %-20.20s", rank, host);
    for (int k = 0; k <= N_TIMES; k++) {
        if (t[k] < 0) fprintf(stderr, " %9s", "-");
        else fprintf(stderr, " %9.3f", t[k]);
    }
    fprintf(stderr, " %8d\n", batches);
}

void cli_times_report(int mpi, int rank, int size)
{
    if (!times.opened || !times.on) return;
    mark();
    times_row *me = &times.mine;
    /* (read at the last step's end: a second reading after it counted the time this rank was not running between
     * the two, on a loaded machine, in the total alone) */
    me->t[N_TIMES] = me->t[T_START] >= 0 ? times.since - times.born : -1;
    if (gethostname(me->host, sizeof me->host)) snprintf(me->host, sizeof me->host, "?");
    me->host[HOST_LEN - 1] = '\0';
#ifdef VGGCL_MPI
    if (mpi && size > 1 && rank != 0) { /* (every rank takes part: the on flag is rank 0's, given to all) */
        MPI_Send(me, (int)sizeof *me, MPI_BYTE, 0, TAG_TIMES, MPI_COMM_WORLD);
        return;
    }
#else
    (void)mpi;
    (void)size;
#endif
    fprintf(stderr, "vggcl: where each rank's time went, in seconds (VGGCL_RANK_TIMES). start: from its process's "
                    "start to its first step; model: opening the device and loading the model; images: its share "
                    "of the images; after: gathering and writing the outputs (train-head: and training); waiting: "
                    "in MPI, for the other ranks; total: since its process started; batches: of images, handed over\n");
    fprintf(stderr, "vggcl: %5s  %-20s %9s %9s %9s %9s %9s %9s %9s %8s\n", "rank", "machine", "start", "MPI_Init",
            "model", "images", "after", "waiting", "total", "batches");
    row(rank, me->host, me->t, me->batches);
#ifdef VGGCL_MPI
    for (int i = 1; mpi && i < size; i++) { /* (one row at a time: nothing to allocate) */
        times_row got;
        MPI_Recv(&got, (int)sizeof got, MPI_BYTE, i, TAG_TIMES, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        got.host[HOST_LEN - 1] = '\0';
        row(i, got.host, got.t, got.batches);
    }
#endif
    fflush(stderr);
}
