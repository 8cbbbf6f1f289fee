/* What a rank keeps of its handed-out batches (rank_batches.c), for the
 * gathering at the end (ranks.c). Internal to the two. */
#ifndef VGGCL_CLI_RANK_RUN_H
#define VGGCL_CLI_RANK_RUN_H

#include <pthread.h>

#include "cli.h"

#ifdef VGGCL_MPI
#include <mpi.h>
#endif

struct cli_rank_run {
    cli_batch_end *done;      /* the batches this rank handed over, in order (so in increasing g) */
    int n_done, cap;
    int lost;                 /* out of memory for one of them, or its ends not read */
    long long start_out, start_err; /* where its text before the first of them ends */
    int started;              /* (marked) */
    int stopped_at;           /* the batch its run stopped at; INT_MAX: none */
    int left;                 /* it asks for no more (another rank: rank 0's dispatcher counted it) */
    int ends[CLI_LISTS], n_lists, list; /* the batches up to each list's end; the list it runs */
    int pending;              /* a batch of a list after it, handed out as this rank ended it (-1: none) */
    int list_done;            /* none left in it for this rank */
    cli_progress shown;       /* rank 0: the progress of the list it runs, where it said a line */
    int shown_total, shown_kept; /* (its images; kept: cli_ranks_keep_progress) */
    double asked_at, wait_ns, between_ns; /* another rank: its last answer, the averages of the wait for one
                                           * and of the time between them (cli_ranks_ask_ahead) */
    long long rows_base;      /* rows and images skipped in the lists before, this rank's (its records count on */
    int skipped_base;         /* from them) */
    pthread_mutex_t mu;       /* rank 0: next and stop, shared with the dispatcher */
    int next;                 /* rank 0: batches handed out */
    int *turn;                /* rank 0, in turn (VGGCL_MPI_BALANCE=interleave): each rank's next batch */
    int stop;                 /* rank 0: a rank stopped, no more are handed out */
    int thread;               /* rank 0: the dispatcher's thread runs */
    pthread_t tid;
#ifdef VGGCL_MPI
    MPI_Comm comm;            /* the asks and answers, apart from every other message */
#endif
};

/* Rank 0 starts its dispatcher, every rank its records, for r->n_batches batches in lists ending at
 * ends[0..n_lists) (collective: CLI_OK on every rank, else CLI_FAIL on every rank and nothing kept: the
 * shares are then contiguous). */
int cli_ranks_run_start(cli_ranks *r, const int *ends, int n_lists);
/* This rank asks for no more (it is done, or it never ran); rank 0 then waits for every rank to say so
 * (every rank comes to cli_ranks_finish). */
void cli_ranks_run_leave(cli_ranks *r);
void cli_ranks_run_free(cli_ranks *r);

#endif
