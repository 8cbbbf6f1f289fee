#define _GNU_SOURCE /* mkostemp */
/* Many processes, one answer: under mpirun (a build with -DVGGCL_MPI=ON)
 * each rank classifies a contiguous run of the sorted image list on its own
 * device, with its standard output, its messages and its arrays captured;
 * rank 0 gathers them and writes what one process would have written, in
 * the same order. Without MPI (or with one rank) everything here is a no-op. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rank_run.h"

#ifdef VGGCL_MPI
#include <mpi.h>
#endif

/* Gathering streams each rank's temporary file to rank 0 a chunk at a time: rank 0 holds one chunk,
 * whatever the job's size, and no count passes MPI's int. VGGCL_MPI_CHUNK (bytes, rank 0's) sets
 * another size, for tests. */
#define CHUNK ((size_t)4 << 20)

/* What launchers tell their processes before MPI_Init, each in a pair of variables: the process
 * count and this process's rank. Open MPI's mpirun, PMI (MPICH's mpiexec, srun --mpi=pmi2), and Slurm's
 * srun whatever its MPI plugin (PMIx, as srun --mpi=pmix and mpirun give it, tells neither before
 * MPI_Init: such ranks had each classified every image). */
enum { SLURM_PAIR = 2 };
static const char *const launcher_vars[][2] = {
    { "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK" },
    { "PMI_SIZE", "PMI_RANK" },
    [SLURM_PAIR] = { "SLURM_STEP_NUM_TASKS", "SLURM_PROCID" },
};

/* The pair this process goes by: the first whose count is set (mpirun -n 1 inside a Slurm step is one
 * process), when it says least or more (launcher_pair: 2); else -1. Slurm's holds for the process srun started itself
 * (SLURM_TASK_PID): a shell it started (srun --pty bash in a job of several tasks) hands it down to every
 * command run there, each of them one process. */
static int launcher_pair_of(int least)
{
    for (int i = 0; i < (int)(sizeof launcher_vars / sizeof launcher_vars[0]); i++) {
        const char *v = getenv(launcher_vars[i][0]), *task = getenv("SLURM_TASK_PID");
        if (!v || !*v || (i == SLURM_PAIR && (!task || atol(task) != (long)getpid()))) continue;
        return atoi(v) >= least ? i : -1;
    }
    return -1;
}

static int launcher_pair(void) { return launcher_pair_of(2); }

/* The rank count the launcher announces; 1 without one. */
static int launched_size(void)
{
    const int i = launcher_pair();
    return i < 0 ? 1 : atoi(getenv(launcher_vars[i][0]));
}

/* This process's rank as that launcher announces it; 0 without one. */
static int launched_rank(void)
{
    const int i = launcher_pair();
    const char *v = i < 0 ? NULL : getenv(launcher_vars[i][1]);
    return v ? atoi(v) : 0;
}

int cli_ranks_echo_usage(int argc, char **argv, int shards)
{
    if (launched_size() < 2) return 1;
    for (int i = 1; shards && i < argc && strcmp(argv[i], "--"); i++) { /* --shard, or a prefix getopt_long takes */
        const size_t len = strcspn(argv[i], "=");
        if (len >= 4 && len <= 7 && !strncmp(argv[i], "--shard", len)) return 1;
    }
    return launched_rank() == 0;
}

int cli_ranks_under_launcher(void) { return launcher_pair_of(1) >= 0; }

int cli_ranks_several(const char *shard) { return !shard && launched_size() >= 2; }

int cli_ranks_launched(int *rank)
{
    *rank = launched_rank();
    return launched_size();
}

const char *cli_ranks_rank_variable(void)
{
    const int i = launcher_pair();
    return i < 0 ? NULL : launcher_vars[i][1];
}

int cli_ranks_writes(const char *shard)
{
    return shard || launched_size() < 2 || launched_rank() == 0;
}

/* This machine's name, for a message that names a rank's. */
static void host_name(char *host, size_t cap)
{
    if (gethostname(host, cap - 1) != 0 || !*host) snprintf(host, cap, "(its host unnamed)");
    host[cap - 1] = '\0';
}

#ifdef VGGCL_MPI
#define FNV_START 14695981039346656037ULL
/* FNV-1a: h carried over n more bytes. */
static unsigned long long fnv1a(unsigned long long h, const void *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)bytes)[i]) * 1099511628211ULL;
    return h;
}

/* The notices this process said (cli_notice: compiling the kernels, the decoding threads' warning), each
 * line written as its FNV-1a: a rank's that rank 0 said too are left out of its messages, said once as one
 * process says them. Notices of one line alone (one of several lines, a build log's, could be a line an error
 * message quotes too), and up to MAX_NOTICES: the others are said by each rank. Kept from any thread
 * (--device 0,1: a thread per device, each compiling), read once they are joined. */
#define MAX_NOTICES 64
static unsigned long long notices[MAX_NOTICES];
static int n_notices;
static pthread_mutex_t notices_lock = PTHREAD_MUTEX_INITIALIZER;

void cli_ranks_noticed(const char *text, size_t n)
{
    const char *nl = memchr(text, '\n', n);
    if (!nl || nl != text + n - 1) return; /* (not one whole line) */
    pthread_mutex_lock(&notices_lock);
    if (n_notices < MAX_NOTICES) notices[n_notices++] = fnv1a(FNV_START, text, n);
    pthread_mutex_unlock(&notices_lock);
}

/* The least and the greatest of each of the n values over the ranks (collective); whether they are the
 * same everywhere. */
static int same_values(const unsigned long long *mine, unsigned long long *lo, unsigned long long *hi, int n)
{
    const double from = cli_times_wait();
    MPI_Allreduce(mine, lo, n, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(mine, hi, n, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    cli_times_waited(from);
    for (int i = 0; i < n; i++)
        if (lo[i] != hi[i]) return 0;
    return 1;
}

/* What a rank was given that its values stand for (a path, a device's kind), and its machine's name. */
typedef struct {
    char host[256];
    char text[2][1024];
} rank_said;

/* The first rank whose n values differ from rank 0's (collective): its index, r->size where none differs;
 * *theirs its values, and *said its *mine_said with its host, on every rank. */
static int first_other(const cli_ranks *r, const unsigned long long *mine, unsigned long long *theirs, int n,
                       const rank_said *mine_said, rank_said *said)
{
    const double from = cli_times_wait();
    memcpy(theirs, mine, sizeof *mine * (size_t)n);
    MPI_Bcast(theirs, n, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    int other = memcmp(theirs, mine, sizeof *mine * (size_t)n) ? r->rank : r->size;
    MPI_Allreduce(MPI_IN_PLACE, &other, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (other < r->size) {
        if (r->rank == other) {
            memcpy(theirs, mine, sizeof *mine * (size_t)n);
            *said = *mine_said;
            host_name(said->host, sizeof said->host);
        }
        MPI_Bcast(theirs, n, MPI_UNSIGNED_LONG_LONG, other, MPI_COMM_WORLD);
        MPI_Bcast(said, (int)sizeof *said, MPI_CHAR, other, MPI_COMM_WORLD);
    }
    cli_times_waited(from);
    return other;
}
#endif

int cli_ranks_same_list(const cli_ranks *r, const char *cmd, char *const *files, int n)
{
    if (r->size < 2) return CLI_OK;
#ifdef VGGCL_MPI
    unsigned long long h = FNV_START; /* over the paths and their ends */
    for (int i = 0; i < n; i++) h = fnv1a(h, files[i], strlen(files[i]) + 1);
    unsigned long long mine[2] = { (unsigned long long)n, h }, theirs[2];
    rank_said none = { "", { "", "" } }, said;
    const int other = first_other(r, mine, theirs, 2, &none, &said);
    if (other == r->size) return CLI_OK;
    if (r->rank != 0) return CLI_FAIL; /* (rank 0 says it for all, naming the first rank whose list is not its) */
    if (theirs[0] != mine[0])
        return cli_error(CLI_FAIL, "%s: the ranks found different image lists (rank 0: %llu images; rank %d, on %s: "
                                   "%llu): the folders changed as the job started, or the machines do not see the same "
                                   "files", cmd, mine[0], other, said.host, theirs[0]);
    return cli_error(CLI_FAIL, "%s: the ranks found different image lists (%llu images each, not the same paths: "
                               "rank %d's, on %s, and rank 0's): the machines do not see the same files", cmd, mine[0],
                     other, said.host);
#else
    (void)cmd, (void)files, (void)n;
    return CLI_OK;
#endif
}

#ifdef VGGCL_MPI
/* h carried over the whole file, 8 bytes a step (a copy differing anywhere; the rank has just read it
 * to load it, so it comes from the page cache: 0.1 s for VGG16's 528 MB), then its size. */
static unsigned long long file_hash(unsigned long long h, const char *path)
{
    static unsigned long long buf[1 << 14];
    FILE *f = fopen(path, "rb");
    long long size = f ? 0 : -1;
    for (size_t got; f && (got = fread(buf, 1, sizeof buf, f)) > 0; size += (long long)got) {
        memset((char *)buf + got, 0, (8 - got % 8) % 8); /* (the last words' tail) */
        for (size_t i = 0; i < (got + 7) / 8; i++) h = (h ^ buf[i]) * 1099511628211ULL, h ^= h >> 29;
    }
    if (f && ferror(f)) size = -1;
    if (f) fclose(f);
    return fnv1a(h, &size, sizeof size);
}
#endif

static int same_model(const cli_ranks *r, const char *cmd, const char *weights, const vggcl_model *m,
                      const vggcl_preprocess *p, char *const *labels, int n_labels, const cli_args *a,
                      const char *const *agreed, const vggcl_ctx *ctx)
{
    if (r->size < 2) return CLI_OK;
#ifdef VGGCL_MPI
    /* the options that shape the answers, the rows sent or which arrays are gathered (a rank given
     * --logits-out and another not waited in different collectives: the job hung; train-head's rows of
     * --flip's two images were taken for two rows of one), each as given (or not): mine[2 + k] */
    enum { MAX_AGREED = 8 };
    unsigned long long mine[3 + MAX_AGREED] = { 0 };
    int n_agreed = 0;
    for (; agreed && agreed[n_agreed] && n_agreed < MAX_AGREED; n_agreed++) {
        const char *v = cli_arg(a, agreed[n_agreed]);
        mine[2 + n_agreed] = fnv1a(FNV_START, v ? v : "", v ? strlen(v) + 1 : 0);
    }
    const int shape[4] = { vggcl_model_classes(m), vggcl_model_features(m), vggcl_model_pool5(m),
                           vggcl_model_min_input(m) };
    unsigned long long h = fnv1a(FNV_START, shape, sizeof shape);
    h = fnv1a(h, p, sizeof *p);
    for (int c = 0; c < shape[0]; c++) {
        const char *name = vggcl_model_class_name(m, c);
        h = fnv1a(h, name ? name : "", name ? strlen(name) + 1 : 1);
    }
    h = fnv1a(h, &n_labels, sizeof n_labels);
    for (int c = 0; c < n_labels; c++) h = fnv1a(h, labels[c], strlen(labels[c]) + 1);
    /* (no model: preprocess without --weights, its preprocessing alone; a rank given one and another not differ) */
    mine[0] = h, mine[1] = weights ? file_hash(FNV_START, weights) : FNV_START;
    /* the device's kind, last (after what the ranks were given), where rows go to whichever rank is free */
    char kind[1024] = "";
    if (ctx && r->dynamic) cli_device_kind(ctx, kind, sizeof kind); /* (decided: cli_ranks_hand_out) */
    mine[2 + n_agreed] = fnv1a(FNV_START, kind, strlen(kind));
    rank_said given = { "", { "", "" } }, said;
    snprintf(given.text[0], sizeof given.text[0], "%s", weights ? weights : "");
    snprintf(given.text[1], sizeof given.text[1], "%s", kind);
    unsigned long long theirs[3 + MAX_AGREED];
    const int other = first_other(r, mine, theirs, 3 + n_agreed, &given, &said);
    if (other == r->size) return CLI_OK;
    if (r->rank != 0) return CLI_FAIL; /* (rank 0 says it for all, naming the first rank that differs from it) */
    int given_alike = 1;
    for (int k = 0; k < 2 + n_agreed; k++) given_alike &= mine[k] == theirs[k];
    if (given_alike)
        return cli_error(CLI_FAIL, "%s: the ranks run devices of different kinds (rank 0: %s; rank %d, on %s: %s), "
                                   "whose answers differ in their last bits: with batches handed out to whichever rank "
                                   "is free the output would change from run to run; give every rank devices of one "
                                   "kind, or VGGCL_MPI_BALANCE=static (each rank its own share: the same output every "
                                   "run)", cmd, kind, other, said.host, said.text[1]);
    for (int k = 0; mine[1] == theirs[1] && k < n_agreed; k++) /* (one file: an option given otherwise, as --pool5,
                                                                * also makes the model differ) */
        if (mine[2 + k] != theirs[2 + k])
            return cli_error(CLI_FAIL, "%s: the ranks were given different --%s (given to some alone, or other "
                                       "values; rank %d, on %s, and rank 0): each must be given the same", cmd,
                             agreed[k], other, said.host);
    if (!weights || mine[1] == FNV_START || theirs[1] == FNV_START) /* (FNV_START: a rank given no --weights) */
        return cli_error(CLI_FAIL, "%s: the ranks were given different preprocessing (--resize, --crop, --mean, --std, "
                                   "--draft) or --weights (rank %d, on %s, and rank 0): each must be given the same",
                         cmd, other, said.host);
    if (mine[1] == theirs[1]) /* (the same file: what the ranks were given with it differs; the file was blamed) */
        return cli_error(CLI_FAIL, "%s: the ranks were given different preprocessing (--resize, --crop, --mean, --std, "
                                   "--draft) or --labels with the same %s (rank %d, on %s, and rank 0): each must be "
                                   "given the same", cmd, weights, other, said.host);
    const char *why = mine[0] != theirs[0] ? "their classes, features, class names, preprocessing or --labels differ"
                                           : "the files differ";
    if (strncmp(weights, said.text[0], sizeof said.text[0] - 1)) /* (one cut to the buffer: alike up to there) */
        return cli_error(CLI_FAIL, "%s: the ranks loaded different models (%s): rank 0 from %s, rank %d, on %s, from "
                                   "%s: every rank must be given the same model", cmd, why, weights, other, said.host,
                         said.text[0]);
    return cli_error(CLI_FAIL, "%s: the ranks loaded different models from %s (%s; rank %d's, on %s, is not rank 0's): "
                               "each machine's copy must be the same file", cmd, weights, why, other, said.host);
#else
    (void)cmd, (void)weights, (void)m, (void)p, (void)labels, (void)n_labels, (void)a, (void)agreed, (void)ctx;
    return CLI_OK;
#endif
}

int cli_ranks_same_model(const cli_ranks *r, const char *cmd, const char *weights, const vggcl_model *m,
                         const vggcl_preprocess *p, char *const *labels, int n_labels, const cli_args *a,
                         const char *const *agreed, const vggcl_ctx *ctx)
{
    const int rc = same_model(r, cmd, weights, m, p, labels, n_labels, a, agreed, ctx);
    cli_times_step(CLI_TIMES_IMAGES); /* (the last check before the images, in every command) */
    return rc;
}

/* The lines each rank held back from listing its images to taking its share (cli_images, cli_take_share):
 * rank 0's, and another rank's lines that rank 0 did not say (its machine's files differ), so that those every
 * rank met alike are said once (each rank said them; rank 0's own, a notice or an output's check, made the
 * texts differ). Rank 0's first HELD_LINES lines are compared, by hash. Collective. */
#ifdef VGGCL_MPI
#define HELD_LINES 64
/* The end of the line of text (len bytes) that starts at at: past its newline, else len. */
static size_t line_end(const char *text, size_t at, size_t len)
{
    const char *nl = memchr(text + at, '\n', len - at);
    return nl ? (size_t)(nl - text) + 1 : len;
}

static void held_said(const cli_ranks *r)
{
    size_t len;
    char *held = cli_messages_take(&len);
    unsigned long long said[1 + HELD_LINES] = { 0 }; /* (the count, then each line's hash) */
    for (size_t at = 0, end; r->rank == 0 && at < len && said[0] < HELD_LINES; at = end)
        end = line_end(held, at, len), said[1 + said[0]++] = fnv1a(FNV_START, held + at, end - at);
    MPI_Bcast(said, 1 + HELD_LINES, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    for (size_t at = 0, end; at < len; at = end) {
        end = line_end(held, at, len);
        const unsigned long long h = fnv1a(FNV_START, held + at, end - at);
        int known = 0;
        for (unsigned long long k = 0; r->rank != 0 && k < said[0] && !known; k++) known = said[1 + k] == h;
        if (!known) fwrite(held + at, 1, end - at, stderr);
    }
    free(held);
}
#endif

/* Every rank's answer on listing its images (listed: this rank's, said by it, a usage error by rank 0 alone),
 * once MPI started: rank 0's, on every rank (a failure they all met, as one process meets it), else where
 * another rank could not list them, CLI_FAIL, said by rank 0 (that rank's usage error, an empty folder, was
 * not said at all, and its exit status was not the others'). Collective. */
static int ranks_listed(cli_ranks *r, const char *cmd, int listed)
{
    if (r->size < 2) return listed;
#ifdef VGGCL_MPI
    held_said(r);
    /* (from rank 0's standard input the others list nothing: their CLI_OK says nothing of their files) */
    const int own = !cli_images_from_rank_0();
    int first = listed, bad[2] = { listed != CLI_OK ? r->rank : r->size,
                                   listed == CLI_OK && own ? r->rank : r->size };
    char host[256] = "";
    const double from = cli_times_wait();
    MPI_Bcast(&first, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD); /* (the first that could not, could) */
    const int named = bad[first != CLI_OK]; /* (the first rank whose listing is not rank 0's) */
    if (named < r->size) {
        if (r->rank == named) host_name(host, sizeof host);
        MPI_Bcast(host, (int)sizeof host, MPI_CHAR, named, MPI_COMM_WORLD);
    }
    cli_times_waited(from);
    if (named == r->size || r->rank != 0) return first != CLI_OK ? first : named == r->size ? CLI_OK : CLI_FAIL;
    if (first != CLI_OK) { /* (its usage error said, and the status every rank ends with: rank 0's) */
        cli_error(CLI_FAIL, "%s: rank %d, on %s, listed the images it was given, which rank 0 could not: the machines "
                  "do not see the same files", cmd, named, host);
        return first;
    }
    return cli_error(CLI_FAIL, "%s: rank %d, on %s, could not list the images it was given, which rank 0 could (an "
                     "empty folder, one not there, or one it may not read): the machines do not see the same files",
                     cmd, named, host);
#else
    (void)cmd;
    return listed;
#endif
}

#ifdef VGGCL_MPI
static int alloc_on_all(size_t bytes, int ok, void **out);

/* Whether every rank runs cmd, rank 0's command; where one does not, CLI_FAIL, said by rank 0 (a wrapper that
 * started preprocess beside classify: each went on to other collectives, and the job hung or MPI aborted it
 * with "message truncated" and no word of vggcl's). Collective: the first after MPI_Init and its settings. */
static int same_command(const cli_ranks *r, const char *cmd)
{
    const unsigned long long mine = fnv1a(FNV_START, cmd, strlen(cmd) + 1);
    unsigned long long theirs;
    const rank_said none = { "", { "", "" } };
    rank_said said;
    const int other = first_other(r, &mine, &theirs, 1, &none, &said);
    if (other == r->size) return CLI_OK;
    return r->rank != 0 ? CLI_FAIL
                        : cli_error(CLI_FAIL, "%s: rank %d runs another command than rank 0's: every rank of the job "
                                    "must run the same one", cmd, other);
}

/* Rank 0's list (*files, *n: read from its standard input) to every rank, in chunks of r->chunk bytes, the
 * paths one after the other with their NULs; the others' lists (empty) replaced. CLI_OK, or CLI_FAIL on every
 * rank (out of host memory: said by the rank). */
static int rank_0_list(cli_ranks *r, char ***files, int *n)
{
    unsigned long long size[2] = { (unsigned long long)*n, 0 };
    for (int i = 0; r->rank == 0 && i < *n; i++) size[1] += strlen((*files)[i]) + 1;
    MPI_Bcast(size, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    char *text = malloc(size[1] ? size[1] : 1), **list = NULL;
    void *none;
    int ok = text && (!r->rank || (list = calloc(size[0] ? size[0] : 1, sizeof *list)) != NULL);
    if (!alloc_on_all(0, ok, &none)) { /* (said by the rank out of memory alone) */
        free(text), free(list);
        return ok ? CLI_FAIL : cli_error_here(CLI_FAIL, "rank %d: out of host memory for rank 0's list of %llu images",
                                              r->rank, size[0]);
    }
    for (size_t at = 0, i = 0; r->rank == 0 && i < size[0]; i++) /* (strlen + 1 each: the sum above) */
        at += (size_t)sprintf(text + at, "%s", (*files)[i]) + 1;
    for (unsigned long long at = 0; at < size[1]; at += r->chunk)
        MPI_Bcast(text + at, (int)(size[1] - at < r->chunk ? size[1] - at : r->chunk), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (r->rank == 0) { /* (the others' agreement below: theirs to say) */
        free(text);
        return alloc_on_all(0, 1, &none) ? CLI_OK : CLI_FAIL;
    }
    ok = 1;
    for (size_t at = 0, i = 0; ok && i < size[0]; at += strlen(text + at) + 1, i++) ok = (list[i] = strdup(text + at)) != NULL;
    free(text);
    if (!alloc_on_all(0, ok, &none)) { /* (every rank, rank 0 too, asks: one out of memory stops all) */
        for (unsigned long long i = 0; i < size[0]; i++) free(list[i]);
        free(list);
        return ok ? CLI_FAIL : cli_error_here(CLI_FAIL, "rank %d: out of host memory for rank 0's list", r->rank);
    }
    for (int i = 0; i < *n; i++) free((*files)[i]);
    free(*files);
    *files = list, *n = (int)size[0];
    return CLI_OK;
}
#endif

int cli_ranks_begin(cli_ranks *r, const char *cmd, char ***files, int *n)
{
    const int batch = r->batch; /* (cli_take_share's) */
    memset(r, 0, sizeof *r);
    r->batch = batch;
    r->size = 1;
    r->saved_out = r->saved_err = r->out_fd = r->err_fd = r->logits_fd = r->tensor_fd = -1;
    cli_times_open();
    if (launched_size() < 2) return CLI_OK;
#ifdef VGGCL_MPI
    int provided; /* (decoding and device threads run beside MPI; only this thread calls it, but for rank
                   * 0's dispatcher of batches, which needs MULTIPLE, asked for by the commands that run their
                   * list in batches: an MPI that grants less is taken all the same, with contiguous shares) */
    cli_times_step(CLI_TIMES_MPI);
    const int init = MPI_Init_thread(NULL, NULL, r->batch > 0 ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, &provided);
    cli_times_step(CLI_TIMES_MODEL);
    if (init != MPI_SUCCESS) return cli_error(CLI_FAIL, "%s: MPI_Init failed", cmd);
    r->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
    if (r->size > 1 && (r->size != launched_size() || r->rank != launched_rank())) {
        /* MPI joined the ranks, but this one's variables say otherwise (changed on its way, by a wrapper): the
         * others wait in a collective for it, so the job ends here (returning, it waited in MPI_Finalize) */
        const int pair = launcher_pair(); /* (one is there: else MPI was not started) */
        cli_error_here(CLI_FAIL, "%s: MPI made this process rank %d of %d, but %s and %s say rank %d of %d (changed "
                                 "on the way by a wrapper script, or left by another launch?): ending the job", cmd, r->rank, r->size,
                       launcher_vars[pair][0], launcher_vars[pair][1], launched_rank(), launched_size());
        MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
    }
    if (r->size != launched_size() || r->rank != launched_rank()) { /* (each process alone: each says it) */
        const int size = r->size, pair = launcher_pair();
        r->size = 1, r->rank = 0;
        return cli_error(CLI_FAIL, "%s: the launcher started %d processes (this one rank %d, by %s and %s), but MPI "
                                   "joined %d: the launcher is not this vggcl's MPI's (start it with that MPI's "
                                   "mpirun), or those variables were left by another launch", cmd, launched_size(),
                         launched_rank(), launcher_vars[pair][0], launcher_vars[pair][1], size);
    }
    unsigned long long bytes = CHUNK;
    const char *chunk = getenv("VGGCL_MPI_CHUNK");
    if (chunk) { /* (atoll took "4M" for 4 bytes: millions of messages, unsaid) */
        char *end;
        const unsigned long long v = isdigit((unsigned char)chunk[0]) ? strtoull(chunk, &end, 10) : 0;
        if (v && !*end && v < (unsigned long long)INT_MAX) bytes = v;
        else if (r->rank == 0)
            cli_error_here(CLI_FAIL, "VGGCL_MPI_CHUNK=%s is not a number of bytes from 1 to %d: the default, %zu, is "
                           "used", chunk, INT_MAX - 1, CHUNK);
    }
    /* batches handed out as ranks ask, unless rank 0 is told otherwise; only where every rank's MPI lets
     * rank 0's dispatcher thread call it beside its main thread */
    const char *balance = getenv("VGGCL_MPI_BALANCE");
    int dynamic = !balance || !*balance || !strcmp(balance, "dynamic") ? 1 : !strcmp(balance, "interleave") ? 2 : 0;
    if (r->rank == 0 && !dynamic && strcmp(balance, "static"))
        cli_error_here(CLI_FAIL, "VGGCL_MPI_BALANCE=%s is neither dynamic nor static: dynamic is used", balance),
            dynamic = 1;
    /* (every rank's buffers the same; every rank in the report or none) */
    unsigned long long agreed[3] = { bytes, (unsigned long long)cli_times_on(), (unsigned long long)dynamic };
    MPI_Bcast(agreed, 3, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    r->chunk = (size_t)agreed[0]; /* (below INT_MAX: rank 0 took no other) */
    cli_times_agree((int)agreed[1]);
    r->may_hand_out = provided >= MPI_THREAD_MULTIPLE ? (int)agreed[2] : 0; /* (and a list in batches: below) */
    r->thread_level = agreed[2] ? provided : MPI_THREAD_MULTIPLE; /* (what it was short of: said by rank 0) */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!local) local = getenv("MPI_LOCALRANKID");
    if (!local) local = getenv("SLURM_LOCALID");
    r->local_rank = local && atoi(local) >= 0 ? atoi(local) : r->rank; /* (a negative one picked device -1) */
    if (same_command(r, cmd) != CLI_OK) return CLI_FAIL;
    if (!files) return CLI_OK; /* the caller takes its share itself */
    const int listed = ranks_listed(r, cmd, CLI_OK); /* (with cli_take_share's for a rank that could not) */
    if (listed != CLI_OK) return listed;
    if (cli_images_from_rank_0() && rank_0_list(r, files, n) != CLI_OK) return CLI_FAIL;
    if (cli_ranks_same_list(r, cmd, *files, *n) != CLI_OK) return CLI_FAIL;
    if (cli_ranks_hand_out(r, n, 1)) { /* (the list is every rank's; its first image that reads sets the size) */
        r->lead = *files, r->n_lead = *n; /* (the list itself: not freed) */
        return CLI_OK;
    }
    char spec[32];
    snprintf(spec, sizeof spec, "%d/%d", r->rank, r->size);
    int rank; /* (every rank on: one out of memory here alone went to MPI_Finalize while the others waited) */
    return cli_ranks_all_ok(r, cli_shard(cmd, spec, files, n, &r->lead, &r->n_lead, &r->n_after, &rank));
#else
    (void)n; /* the commands that share a list of files take --shard, eval and train-head do not */
    return cli_error(CLI_USAGE, "%s: started as %d processes, but this vggcl was built without MPI "
                                "(cmake -DVGGCL_MPI=ON)%s",
                     cmd, launched_size(), files ? "; or give each process its --shard I/N" : "");
#endif
}

int cli_ranks_hand_out(cli_ranks *r, const int *n, int lists)
{
    r->dynamic = r->n_batches = 0;
    if (r->size < 2) return 0;
#ifdef VGGCL_MPI
    /* where every rank runs batches of one size (each took its own --batch) and rank 0's thread started */
    int sizes[3] = { r->may_hand_out && r->batch > 0 ? r->batch : 0, r->may_hand_out && r->batch > 0 ? -r->batch : 0,
                     r->thread_level };
    MPI_Allreduce(MPI_IN_PLACE, sizes, 3, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (r->rank == 0 && r->batch > 0 && sizes[2] < MPI_THREAD_MULTIPLE) /* (the shares were contiguous unsaid) */
        cli_error_here(CLI_OK, "this MPI grants %s, not MPI_THREAD_MULTIPLE, which handing out batches as ranks ask "
                               "needs: each rank takes a contiguous share (as with VGGCL_MPI_BALANCE=static)",
                       sizes[2] == MPI_THREAD_SERIALIZED ? "MPI_THREAD_SERIALIZED"
                       : sizes[2] == MPI_THREAD_FUNNELED ? "MPI_THREAD_FUNNELED" : "MPI_THREAD_SINGLE");
    int ends[CLI_LISTS];
    for (int k = 0; k < lists && sizes[0] > 0; k++) /* (before the thread reads the count) */
        ends[k] = r->n_batches += (int)(((long long)n[k] + sizes[0] - 1) / sizes[0]);
    r->dynamic = sizes[0] > 0 && sizes[0] == -sizes[1] && cli_ranks_run_start(r, ends, lists) == CLI_OK;
    if (!r->dynamic) r->n_batches = 0;
#else
    (void)n, (void)lists;
#endif
    return r->dynamic;
}

int cli_take_share(cli_ranks *r, const char *cmd, const char *shard, int listed, char ***files, int *n, int batch)
{
    const int count = *n;
    int rc;
    cli_messages_hold(0); /* (held since cli_images: said in ranks_listed once MPI runs, else below) */
    cli_times_open();
    r->batch = batch;
    if (shard) {
        *r = (cli_ranks)CLI_RANKS_INIT; /* an independent process, whatever started it */
        rc = listed != CLI_OK ? listed /* (its messages named since cli_parse) */
                              : cli_shard(cmd, shard, files, n, &r->lead, &r->n_lead, &r->n_after, &r->shard);
    } else if (listed != CLI_OK) { /* MPI started all the same: the other ranks wait in it for this one's answer */
        rc = cli_ranks_begin(r, cmd, NULL, NULL) == CLI_OK ? ranks_listed(r, cmd, listed) : listed;
    } else {
        rc = cli_ranks_begin(r, cmd, files, n);
    }
    r->total = r->size > 1 ? count : *n;
    cli_messages_flush(); /* (those held where MPI did not compare them) */
    return rc;
}

/* Where a rank's temporary files go: $TMPDIR, else /tmp. */
static const char *temp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

/* A new, empty temporary file in temp_dir() without a name: its descriptor, or -1 (errno says why). It is
 * unlinked at once, so a rank that mpirun kills (another rank failed) leaves nothing behind. */
static int temp_file_quiet(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vggcl-rank.XXXXXX", temp_dir());
    const int fd = mkostemp(path, O_CLOEXEC); /* (not for PoCL's linker and the like) */
    if (fd >= 0) unlink(path);
    return fd;
}

/* The same, a failure said naming the folder. */
static int temp_file(int rank)
{
    const int fd = temp_file_quiet();
    if (fd < 0)
        cli_error(CLI_FAIL, "rank %d: cannot create its temporary files in %s (TMPDIR): %s", rank, temp_dir(),
                  strerror(errno));
    return fd;
}

static int gathering; /* (cli_ranks_gathering) */

int cli_ranks_gathering(void) { return gathering; }

int cli_ranks_capture(cli_ranks *r, const char **logits_out, const char **tensor_out)
{
    const char *none = NULL;
    if (!logits_out) logits_out = &none;
    if (!tensor_out) tensor_out = &none;
    if (r->size < 2) return CLI_OK;
    fflush(stdout), fflush(stderr);
    r->out_fd = temp_file(r->rank);
    r->err_fd = r->out_fd < 0 ? -1 : temp_file(r->rank);
    if (r->err_fd < 0) return CLI_FAIL;
    r->saved_out = dup(1), r->saved_err = dup(2);
    dup2(r->out_fd, 1), dup2(r->err_fd, 2);
    clearerr(stdout), clearerr(stderr); /* (an error from now on is the capture's: cli_ranks_finish asks) */
    gathering = 1;
    /* the arrays go to temporary .npy files, gathered by rank 0 into the real ones; the writers write
     * a /dev/fd/N path through its descriptor (host/io/output.c) */
    r->final_logits = *logits_out, r->final_tensor = *tensor_out;
    for (int k = 0; k < 2; k++) {
        if (!(k ? *tensor_out : *logits_out)) continue;
        int *fd = k ? &r->tensor_fd : &r->logits_fd;
        char *path = k ? r->tensor_path : r->logits_path;
        if ((*fd = temp_file(r->rank)) < 0) return CLI_FAIL;
        snprintf(path, k ? sizeof r->tensor_path : sizeof r->logits_path, "/dev/fd/%d", *fd);
        *(k ? tensor_out : logits_out) = path;
    }
    return CLI_OK;
}

#ifdef VGGCL_MPI
enum { TAG_DATA = 1, TAG_END, TAG_FAILED };

/* What rank 0 does with each chunk, in rank order: 0 when it took it. */
typedef int (*cli_sink)(void *user, const char *bytes, size_t n);

/* *out gets bytes of memory on every rank (nothing where bytes is 0); 1 on all ranks when each was
 * ok and got its memory, else 0 on all of them and nothing held (so that all go on, or none). */
static int alloc_on_all(size_t bytes, int ok, void **out)
{
    *out = ok && bytes ? malloc(bytes) : NULL;
    int mine = ok && (!bytes || *out), all = 0;
    const double from = cli_times_wait(); /* (the first collective after the images: the ranks wait for the last) */
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    cli_times_waited(from);
    if (!all) free(*out), *out = NULL;
    return all;
}

/* The chunk for units of unit bytes: the chunk size rounded down to whole units, at least one (the
 * chunk size for none). */
static size_t chunk_bytes(const cli_ranks *r, size_t unit)
{
    return !unit ? r->chunk : unit > r->chunk ? unit : r->chunk / unit * unit;
}

/* Bytes [a, b) of fd (b < 0: to its end; fd < 0: none). */
typedef struct {
    int fd;
    long long a, b;
} seg_range;

/* Under handed-out batches: the order rank 0 writes the batches in, and this rank's part in it. */
typedef struct {
    int *owner, n;   /* rank 0: the rank that handed over each batch before the first stop, in the list's order */
    int *g;          /* rank 0: each one's batch number in the list (owner's order) */
    int n_mine;      /* this rank's batches among them: run->done[0..n_mine) */
    int stop_rank;   /* the rank whose run stopped first: its text after its batches ends the output (size: none) */
    int cut;         /* an array's rows of a batch could not be written: the text ends with that batch's, no rank's
                      * text after its batches (cut_plan) */
} batch_plan;

/* Segments to rank 0's sink, in chunks of whole units (chunk holds chunk_bytes(r, unit) on every rank), in
 * the order of owner[0..n) (rank 0's: the rank that holds each; NULL: one per rank, in rank order), each
 * rank sending its own, mine[0..n_mine), in that order. CLI_FAIL on rank 0 when a rank could not read one
 * (*bad: the first such rank) or the sink refused a chunk (the rest is still received, and dropped; *refused_at,
 * where not NULL: the segment's place in that order, else -1), on another rank when it could not read its own. */
static int stream_segments(const cli_ranks *r, const int *owner, int n, const seg_range *mine, int n_mine,
                           size_t unit, char *chunk, cli_sink sink, void *user, int *bad, int *refused_at)
{
    const size_t room = chunk_bytes(r, unit);
    int rc = CLI_OK, j = 0;
    *bad = -1;
    if (refused_at) *refused_at = -1;
    for (int k = 0; k < (r->rank == 0 ? n : n_mine); k++) {
        const int i = r->rank != 0 ? r->rank : owner ? owner[k] : k;
        const seg_range *m = i == r->rank && j < n_mine ? &mine[j++] : NULL;
        for (long long at = m ? m->a : 0;;) { /* rank i reads, rank 0 takes (both, for i = 0) */
            int tag, got = 0;
            if (r->rank == i) {
                size_t want = room; /* (a segment's end: room and its length are whole units) */
                if (m && m->b >= 0 && (long long)want > m->b - at) want = m->b > at ? (size_t)(m->b - at) : 0;
                const ssize_t read = !m || m->fd < 0 || !want ? 0 : pread(m->fd, chunk, want, at);
                tag = read < 0 || (size_t)read % unit ? TAG_FAILED : read ? TAG_DATA : TAG_END;
                got = tag == TAG_DATA ? (int)read : 0;
                if (i) MPI_Send(chunk, got, MPI_CHAR, 0, tag, MPI_COMM_WORLD);
            } else {
                MPI_Status st;
                MPI_Recv(chunk, (int)room, MPI_CHAR, i, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
                MPI_Get_count(&st, MPI_CHAR, &got), tag = st.MPI_TAG;
            }
            at += got;
            if (tag == TAG_FAILED && *bad < 0) *bad = i;
            if (tag == TAG_FAILED) rc = CLI_FAIL;
            if (tag != TAG_DATA) break;
            if (r->rank == 0 && rc == CLI_OK && sink(user, chunk, (size_t)got)) {
                rc = CLI_FAIL;
                if (refused_at) *refused_at = k;
            }
        }
    }
    return rc;
}

/* Every rank's bytes of fd from offset on (none for fd -1), rank by rank, to rank 0's sink (stream_segments). */
static int stream_parts(const cli_ranks *r, int fd, long long offset, size_t unit, char *chunk, cli_sink sink,
                        void *user, int *bad)
{
    const seg_range mine = { fd, offset, -1 };
    return stream_segments(r, NULL, r->size, &mine, 1, unit, chunk, sink, user, bad, NULL);
}

static int text_errno; /* (write_text's last failure: its errno) */

static int write_text(void *stream, const char *bytes, size_t n)
{
    errno = 0;
    if (fwrite(bytes, 1, n, stream) == n) return 0;
    text_errno = errno;
    return 1;
}

typedef struct {
    vggcl_ctx *ctx;
    vggcl_npy_writer *w;
    size_t row_bytes;
    int refused; /* the writer failed: its message is the context's */
} npy_sink;

static int append_rows(void *user, const char *bytes, size_t n)
{
    npy_sink *s = user;
    s->refused = vggcl_npy_writer_append(s->ctx, s->w, (const float *)(const void *)bytes,
                                         (long long)(n / s->row_bytes)) != VGGCL_OK;
    return s->refused;
}

/* A part's header as ranks exchange it: ndim (0: no rows, -1: unreadable), the values' offset, the shape. */
#define PART_WIDTH (VGGCL_NPY_MAX_DIMS + 2)
static void part_header(vggcl_ctx *ctx, int part, long long *h)
{
    struct stat sb;
    char path[32];
    int nd = 0;
    memset(h, 0, sizeof *h * PART_WIDTH);
    if (part < 0 || (fstat(part, &sb) == 0 && sb.st_size == 0)) return; /* a rank with no readable image */
    snprintf(path, sizeof path, "/dev/fd/%d", part);
    h[0] = vggcl_npy_header(ctx, path, &nd, h + 2, &h[1]) == VGGCL_OK && nd >= 1 ? nd : -1;
}

/* The bytes of one row of a part with header h. */
static size_t row_bytes(const long long *h)
{
    size_t n = sizeof(float);
    for (int d = 1; d < h[0]; d++) n *= (size_t)h[2 + d];
    return n;
}

/* Rank 0 writes out: the rows of every rank's temporary .npy (part; empty for a rank with no
 * readable image that writes no array, or an array of no rows, as classify's), in rank order (plan: batch by batch, in the list's order), staged
 * in *w (not named: cli_name_all names the arrays together; NULL where none was opened or the merge failed).
 * Rows that could not be written are not said but kept in said (cap bytes), with *cut the plan's place of
 * their batch (else -1): the text ends there (cut_plan), then it is said, as one process says it after the
 * lines of the batch whose rows it could not write. */
static int merge_npy(vggcl_ctx *ctx, const char *out, int part, const cli_ranks *r, const batch_plan *plan,
                     vggcl_npy_writer **w, int *cut, char *said, size_t cap)
{
    *w = NULL, *cut = -1;
    long long mine[PART_WIDTH], *all;
    void *mem;
    part_header(ctx, part, mine);
    if (mine[0] < 0) cli_error_here(CLI_FAIL, "rank %d, gathering %s: %s", r->rank, out, vggcl_message(ctx));
    if (!alloc_on_all(r->rank == 0 ? (size_t)r->size * sizeof mine : 0, 1, &mem))
        return r->rank == 0 ? cli_error(CLI_FAIL, "%s: out of host memory gathering it", out) : CLI_FAIL;
    all = mem;
    MPI_Gather(mine, PART_WIDTH, MPI_LONG_LONG, all, PART_WIDTH, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    /* rank 0: the first part with rows gives the shape; the others' rows must have it */
    int rc = CLI_OK, bad;
    const long long *first = mine;
    for (int i = 0; all && i < r->size && rc == CLI_OK; i++) {
        const long long *p = all + (size_t)i * PART_WIDTH;
        if (p[0] < 0) rc = cli_error(CLI_FAIL, "%s: rank %d's part could not be read back", out, i);
        else if (p[0] && !first[0]) first = p;
        else if (p[0] && (p[0] != first[0] || memcmp(p + 3, first + 3, sizeof *p * (size_t)(p[0] - 1))))
            rc = cli_error(CLI_FAIL, "%s: rank %d's rows differ in shape from the first rank's", out, i);
    }
    /* every part's rows have first's shape (rank 0) or the rank's own (the others) */
    npy_sink s = { ctx, NULL, row_bytes(first), 0 };
    if (rc == CLI_OK && (!s.row_bytes || s.row_bytes > INT_MAX))
        rc = r->rank == 0 ? cli_error(CLI_FAIL, "%s: rows of %zu bytes cannot be gathered", out, s.row_bytes) : CLI_FAIL;
    if (r->rank == 0 && first[0] > 0 && rc == CLI_OK &&
        vggcl_npy_writer_open(ctx, out, (int)first[0] - 1, first + 3, &s.w) != VGGCL_OK) {
        snprintf(said, cap, "%s", vggcl_message(ctx)); /* (one process opens it at its first batch's rows) */
        *cut = plan && plan->n ? 0 : -1, rc = CLI_FAIL;
    }
    /* (batch by batch: this rank's rows of each, after its values' offset) */
    seg_range *seg = plan ? malloc(sizeof *seg * ((size_t)plan->n_mine + 1)) : NULL;
    for (int k = 0; seg && k < plan->n_mine; k++) {
        const long long from = k ? r->run->done[k - 1].rows : 0, to = r->run->done[k].rows;
        seg[k] = (seg_range){ mine[0] > 0 ? part : -1, mine[1] + from * (long long)s.row_bytes,
                              mine[1] + to * (long long)s.row_bytes };
    }
    const int ok = rc == CLI_OK && mine[0] >= 0 && (!plan || seg);
    if (!alloc_on_all(chunk_bytes(r, s.row_bytes), ok, &mem)) {
        if (r->rank == 0 && ok) cli_error(CLI_FAIL, "%s: out of host memory on a rank gathering it", out);
        rc = CLI_FAIL; /* (else said above, or by the rank whose part is unreadable) */
    } else if ((plan ? stream_segments(r, plan->owner, plan->n, seg, plan->n_mine, s.row_bytes, mem, append_rows, &s,
                                       &bad, cut)
                     : stream_parts(r, mine[0] > 0 ? part : -1, mine[1], s.row_bytes, mem, append_rows, &s, &bad)) !=
               CLI_OK) {
        rc = CLI_FAIL;
        if (r->rank == 0 && s.refused) snprintf(said, cap, "%s", vggcl_message(ctx));
        else if (r->rank == 0) cli_error(CLI_FAIL, "%s: rank %d's part could not be read back", out, bad);
    }
    if (rc == CLI_OK) *w = s.w;
    else vggcl_npy_writer_close(ctx, s.w, 0);
    free(mem), free(all), free(seg);
    return rc;
}

/* Whether fd's bytes (its length and FNV-1a; -1: none) are the same on every rank and not empty, no
 * rank having named an image it could not read: a failure every rank met alike (a missing weights
 * file, a device not there), said once. (One process names an image given twice twice.) Collective. */
static int same_on_all(int fd, int named_images, void *chunk, size_t room)
{
    unsigned long long mine[2] = { 0, FNV_START }, lo[2], hi[2];
    ssize_t got = 0;
    for (off_t at = 0; fd >= 0 && !named_images && (got = pread(fd, chunk, room, at)) > 0; at += got)
        mine[0] += (unsigned long long)got, mine[1] = fnv1a(mine[1], chunk, (size_t)got);
    if (got < 0) mine[0] = 0; /* (unreadable: said when streamed) */
    return same_values(mine, lo, hi, 2) && lo[0] > 0;
}

/* fd's lines from its start to fn, each with its newline; 0 when they could not all be read. */
static int each_line(int fd, int (*fn)(void *user, const char *line, size_t n), void *user)
{
    const int copy = dup(fd); /* (a stream of its own, from the start: the bytes are read with pread elsewhere) */
    FILE *f = copy < 0 ? NULL : fdopen(copy, "r");
    if (!f) {
        if (copy >= 0) close(copy);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ok = 1;
    rewind(f);
    while (ok && (len = getline(&line, &cap, f)) > 0) ok = fn(user, line, (size_t)len);
    ok = ok && !ferror(f);
    free(line);
    fclose(f);
    return ok;
}

typedef struct {
    const unsigned long long *first; /* rank 0's notices */
    int n_first;
    FILE *out;
    long long *bounds;               /* offsets in the file, ascending, moved to where they are in the copy */
    int n_bounds, at;                /* (at: the first not moved yet) */
    long long was, now;              /* where the next line is in the file, and in the copy */
} notice_filter;

/* Whether the line is one of this rank's notices that rank 0 said too. */
static int said_by_rank0(const notice_filter *f, const char *line, size_t n)
{
    const unsigned long long h = fnv1a(FNV_START, line, n);
    int mine = 0, first = 0;
    for (int i = 0; i < n_notices && !mine; i++) mine = notices[i] == h;
    for (int i = 0; i < f->n_first && mine && !first; i++) first = f->first[i] == h;
    return mine && first;
}

static int keep_line(void *user, const char *line, size_t n)
{
    notice_filter *f = user;
    for (; f->at < f->n_bounds && f->bounds[f->at] <= f->was; f->at++) f->bounds[f->at] = f->now;
    const int drop = said_by_rank0(f, line, n);
    f->was += (long long)n, f->now += drop ? 0 : (long long)n;
    return drop || fwrite(line, 1, n, f->out) == n;
}

/* A rank's messages for rank 0 to print after its own: fd's lines but the notices rank 0 said too, in a new
 * temporary file (*made); fd itself where that could not be made (then said again). The offsets
 * bounds[0..n_bounds) (ascending; where its batches' messages end) are moved to the same places in the copy.
 * Collective. */
static int without_rank0s_notices(const cli_ranks *r, int fd, long long *bounds, int n_bounds, int *made)
{
    unsigned long long first[MAX_NOTICES];
    int n_first = n_notices;
    *made = -1;
    memcpy(first, notices, sizeof *first * (size_t)n_notices);
    MPI_Bcast(&n_first, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(first, n_first, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (r->rank == 0 || fd < 0 || !n_first || !n_notices || (*made = temp_file_quiet()) < 0) return fd;
    const int copy = dup(*made);
    long long *moved = n_bounds ? malloc(sizeof *moved * (size_t)n_bounds) : NULL; /* (a batch's each) */
    notice_filter f = { first, n_first, copy < 0 ? NULL : fdopen(copy, "w"), moved, n_bounds, 0, 0, 0 };
    if (!f.out || (n_bounds && !moved)) {
        if (f.out) fclose(f.out);
        else if (copy >= 0) close(copy);
        free(moved);
        return fd;
    }
    if (n_bounds) memcpy(moved, bounds, sizeof *moved * (size_t)n_bounds);
    const int kept = each_line(fd, keep_line, &f);
    for (; f.at < n_bounds; f.at++) moved[f.at] = f.now; /* (past the last line) */
    const int ok = fclose(f.out) == 0 && kept;
    if (ok && n_bounds) memcpy(bounds, moved, sizeof *moved * (size_t)n_bounds);
    free(moved);
    return ok ? *made : fd;
}

/* The plan, collective; 0 on every rank when a rank is out of memory for it (not said). */
static int plan_batches(const cli_ranks *r, batch_plan *p)
{
    const struct cli_rank_run *u = r->run;
    memset(p, 0, sizeof *p);
    int stop[2] = { u->stopped_at, 0 };
    MPI_Allreduce(MPI_IN_PLACE, stop, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    stop[1] = stop[0] != INT_MAX && u->stopped_at == stop[0] ? r->rank : r->size;
    MPI_Allreduce(MPI_IN_PLACE, &stop[1], 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    p->stop_rank = stop[1];
    while (p->n_mine < u->n_done && u->done[p->n_mine].g < stop[0]) p->n_mine++;
    int *counts = NULL, *at = NULL, *gs = NULL, *mine = malloc(sizeof *mine * ((size_t)p->n_mine + 1)), total = 0;
    for (int k = 0; mine && k < p->n_mine; k++) mine[k] = u->done[k].g;
    void *mem;
    if (!alloc_on_all(r->rank == 0 ? 2 * sizeof *counts * (size_t)r->size : 0, mine != NULL && !u->lost, &mem)) {
        free(mine);
        return 0;
    }
    counts = mem, at = counts ? counts + r->size : NULL;
    MPI_Gather(&p->n_mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (int i = 0; counts && i < r->size; i++) at[i] = total, total += counts[i];
    const int ok = r->rank != 0 || ((gs = malloc(sizeof *gs * ((size_t)total + 1))) &&
                                    (p->owner = malloc(sizeof *p->owner * ((size_t)r->n_batches + 1))) &&
                                    (p->g = malloc(sizeof *p->g * ((size_t)r->n_batches + 1))));
    int all = ok;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all) MPI_Gatherv(mine, p->n_mine, MPI_INT, gs, counts, at, MPI_INT, 0, MPI_COMM_WORLD);
    /* rank 0: each batch's rank, then those handed over in the list's order (each once: the dispatcher's) */
    for (int g = 0; all && p->owner && g < r->n_batches; g++) p->owner[g] = -1;
    for (int i = 0; all && r->rank == 0 && i < r->size; i++)
        for (int k = 0; k < counts[i]; k++) p->owner[gs[at[i] + k]] = i;
    for (int g = 0; all && r->rank == 0 && g < r->n_batches; g++)
        if (p->owner[g] >= 0) p->g[p->n] = g, p->owner[p->n++] = p->owner[g];
    free(mine), free(gs), free(counts);
    if (!all) free(p->owner), free(p->g), p->owner = p->g = NULL;
    return all;
}

/* Ends the plan with the batch at place cut of rank 0's order (-1 on the other ranks; -1 on rank 0 too: none),
 * whose rows could not be written: every rank's batches up to it, and no text after them. Collective. */
static void cut_plan(const cli_ranks *r, batch_plan *p, int cut)
{
    int g = r->rank == 0 && cut >= 0 ? p->g[cut] : -1;
    MPI_Bcast(&g, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (g < 0) return;
    p->cut = 1;
    if (r->rank == 0) p->n = cut + 1;
    int n = 0;
    while (n < p->n_mine && r->run->done[n].g <= g) n++;
    p->n_mine = n;
}

/* Rank 0's order of the text's segments of stream k: every rank's text before its batches (rank order),
 * the batches, then the text after them (every rank's; after a stop, the stopping rank's alone; after a cut,
 * none). owner holds
 * size + p->n + size. Returns their count. */
static int text_order(const cli_ranks *r, const batch_plan *p, int *owner)
{
    int n = 0;
    for (int i = 0; i < r->size; i++) owner[n++] = i;
    for (int k = 0; k < p->n; k++) owner[n++] = p->owner[k];
    for (int i = 0; i < r->size && !p->cut; i++)
        if (p->stop_rank == r->size || i == p->stop_rank) owner[n++] = i;
    return n;
}

/* This rank's segments of fd, in text_order's order: before its batches, each batch, after them (ends: the
 * offsets after each batch, start: before the first). seg holds n_mine + 2. Returns their count. */
static int text_segments(const cli_ranks *r, const batch_plan *p, int fd, long long start, const long long *ends,
                         seg_range *seg)
{
    int n = 0;
    seg[n++] = (seg_range){ fd, 0, start };
    for (int k = 0; k < p->n_mine; k++) seg[n++] = (seg_range){ fd, k ? ends[k - 1] : start, ends[k] };
    if (!p->cut && (p->stop_rank == r->size || r->rank == p->stop_rank))
        seg[n++] = (seg_range){ fd, p->n_mine ? ends[p->n_mine - 1] : start, -1 };
    return n;
}

#endif

int cli_ranks_finish(cli_ranks *r, vggcl_ctx *ctx, int rc, int stopped, int *failed, int *ok)
{
    cli_times_step(CLI_TIMES_AFTER);
    const double asked = cli_times_wait(); /* (rank 0: until every rank asks no more) */
    cli_ranks_run_leave(r); /* (every rank's batches handed over: rank 0's dispatcher is done) */
    cli_times_waited(asked);
    if (r->size < 2) return rc;
#ifdef VGGCL_MPI
    fflush(stdout), fflush(stderr);
    const int lost = ferror(stdout) || ferror(stderr); /* (into the temporary files: a full TMPDIR) */
    if (r->saved_out >= 0) dup2(r->saved_out, 1), close(r->saved_out);
    if (r->saved_err >= 0) dup2(r->saved_err, 2), close(r->saved_err);
    gathering = 0; /* (stderr is the real one again: cli_ranks_gathering) */
    clearerr(stdout), clearerr(stderr); /* (the real ones: else their writes below were taken to have failed) */
    if (lost) {
        rc = cli_error(CLI_FAIL, "rank %d: its answers and messages could not all be kept in its temporary files in "
                                 "%s (TMPDIR): is it full?", r->rank, temp_dir());
    }
    /* the text in rank order: stdout, then the messages (skipped images); messages every rank has
     * alike, rank 0's alone; nothing from the ranks after the first that stopped */
    void *chunk;
    if (!alloc_on_all(r->chunk, 1, &chunk)) {
        rc = r->rank == 0 ? cli_error(CLI_FAIL, "out of host memory on a rank gathering the ranks' output") : CLI_FAIL;
    }
    /* handed-out batches: every rank's text before its batches, the batches in the list's order, then the text
     * after them (after a stop at a batch, nothing of the batches after it, and the stopping rank's text alone) */
    batch_plan plan = { .stop_rank = r->size };
    const struct cli_rank_run *u = r->run;
    long long *ends = NULL; /* stdout's start and ends, then stderr's */
    seg_range *seg = NULL;
    int *order = NULL;
    if (u && chunk) {
        const size_t n_ends = (size_t)u->n_done + 1;
        ends = malloc(sizeof *ends * 2 * n_ends), seg = malloc(sizeof *seg * (n_ends + 1));
        order = r->rank == 0 ? malloc(sizeof *order * ((size_t)2 * r->size + (size_t)r->n_batches)) : NULL;
        for (int k = 0; ends && k < u->n_done; k++) ends[1 + k] = u->done[k].out, ends[n_ends + 1 + k] = u->done[k].err;
        if (ends) ends[0] = u->start_out, ends[n_ends] = u->start_err;
        void *none;
        if (!alloc_on_all(0, ends && seg && (r->rank != 0 || order), &none) || !plan_batches(r, &plan)) {
            if (r->rank == 0) cli_error(CLI_FAIL, "out of host memory on a rank gathering the ranks' output");
            rc = CLI_FAIL;
            free(chunk), chunk = NULL;
        }
    }
    const int once = chunk && same_on_all(r->err_fd, *failed > 0, chunk, r->chunk);
    int made = -1; /* (a rank's messages without the notices rank 0 said too) */
    const int err_fd = chunk && !once ? without_rank0s_notices(r, r->err_fd, u ? ends + u->n_done + 1 : NULL,
                                                                u ? u->n_done + 1 : 0, &made) : r->err_fd;
    int first = stopped ? r->rank : r->size; /* the first rank that stopped: one process's output ends in it */
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    /* the arrays before the text, tensor first (every rank takes part in each gather), where no rank failed:
     * staged on rank 0, named all or none after the text (an earlier run's files kept where the second cannot be
     * written); rows that cannot be written end the text with their batch, as one process stops there */
    int merged = rc, cut = -1;
    MPI_Allreduce(MPI_IN_PLACE, &merged, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    /* every rank's batches done (each came here): rank 0's progress says the run's end, as one process's does (its
     * last line said "the last batches running"), on the real stderr, before the messages held */
    if (u && u->shown_kept && first == r->size && merged == CLI_OK) cli_progress_all_done(&u->shown, 2, u->shown_total);
    vggcl_npy_writer *w[2] = { NULL, NULL };
    const char *paths[2] = { r->final_tensor, r->final_logits };
    char unwritten[1024] = ""; /* (rank 0: the failed write's message, said after the text) */
    const int arrays = merged == CLI_OK;
    for (int k = 0; k < 2; k++)
        if (arrays && merged == CLI_OK && paths[k]) {
            merged = merge_npy(ctx, paths[k], k ? r->logits_fd : r->tensor_fd, r, u ? &plan : NULL, &w[k], &cut,
                               unwritten, sizeof unwritten);
            MPI_Allreduce(MPI_IN_PLACE, &merged, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        }
    if (u && arrays) cut_plan(r, &plan, cut);
    for (int k = 0; k < 2 && chunk; k++) {
        int bad, got;
        const int fd = r->rank > first ? -1 : k ? (once && r->rank ? -1 : err_fd) : r->out_fd;
        if (u && !(k && once)) {
            const long long *e = ends + (k ? u->n_done + 1 : 0);
            const int n_seg = text_segments(r, &plan, k ? err_fd : r->out_fd, e[0], e + 1, seg);
            got = stream_segments(r, order, r->rank == 0 ? text_order(r, &plan, order) : 0, seg, n_seg, 1, chunk,
                                  write_text, k ? stderr : stdout, &bad, NULL);
        } else {
            got = stream_parts(r, u ? (r->rank ? -1 : err_fd) : fd, 0, 1, chunk, write_text, k ? stderr : stdout, &bad);
        }
        /* (a full disk under standard output shows when it is flushed: then no array is written either) */
        errno = 0;
        const int written = (fflush(k ? stderr : stdout) == 0 && !ferror(k ? stderr : stdout)) || k;
        if (got == CLI_OK && written) continue;
        if (r->rank != 0) rc = CLI_FAIL; /* (said on the real stderr, restored above) */
        else if (bad >= 0) rc = cli_error(CLI_FAIL, "rank %d's %s could not be read back", bad, k ? "messages" : "output");
        else if (!k) rc = cli_stdout_lost(got == CLI_OK ? errno : text_errno); /* (as one process says it: once) */
        else rc = cli_error(CLI_FAIL, "cannot write the ranks' messages");
    }
    free(chunk), free(ends), free(seg), free(order);
    if (made >= 0) close(made);
    if (*unwritten) cli_error(CLI_FAIL, "%s", unwritten);
    /* after a stop at a batch: the images skipped in the batches printed (the stopping rank's all: its text after
     * them is printed too; after a cut, none's) */
    if (u && (plan.cut || (plan.stop_rank < r->size && r->rank != plan.stop_rank)))
        *failed = plan.n_mine ? u->done[plan.n_mine - 1].skipped : 0;
    int counts[3] = { *failed, *ok, rc }, sums[3] = { 0, 0, 0 }, worst = 0;
    MPI_Allreduce(counts, sums, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&counts[2], &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    *failed = sums[0], *ok = sums[1], rc = worst;
    const int named = cli_name_all(ctx, w, paths, 2, rc == CLI_OK && merged == CLI_OK); /* (rank 0's alone) */
    if (rc == CLI_OK && merged == CLI_OK) {
        merged = named;
        MPI_Allreduce(MPI_IN_PLACE, &merged, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    }
    if (rc == CLI_OK) rc = merged;
    free(plan.owner), free(plan.g);
#else
    (void)ctx, (void)stopped, (void)failed, (void)ok; /* one rank without MPI: nothing to merge */
#endif
    return rc;
}

int cli_ranks_gather_rows(cli_ranks *r, float *rows, char *ok, int n, size_t row_floats, const float *mine,
                          const int *index, int n_mine)
{
    if (r->size < 2) return CLI_OK;
#ifdef VGGCL_MPI
    /* rank by rank, a chunk of whole rows at a time: their indices, then the rows, placed by rank 0 */
    const size_t row_bytes = row_floats * sizeof *rows;
    const int per = (int)(chunk_bytes(r, row_bytes) / row_bytes);
    void *mem;
    if (!alloc_on_all(r->rank == 0 ? (size_t)per * (row_bytes + sizeof *index) : 0, 1, &mem))
        return r->rank == 0 ? cli_error(CLI_FAIL, "out of host memory on rank 0 gathering the ranks' rows") : CLI_FAIL;
    float *got = mem;
    int *at = mem ? (int *)(got + (size_t)per * row_floats) : NULL, bad = 0;
    for (int i = 1; i < r->size; i++) {
        if (r->rank != i && r->rank != 0) continue;
        int count = n_mine;
        if (r->rank) MPI_Send(&count, 1, MPI_INT, 0, TAG_DATA, MPI_COMM_WORLD);
        else MPI_Recv(&count, 1, MPI_INT, i, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (int from = 0; from < count; from += per) {
            const int k = count - from < per ? count - from : per;
            if (r->rank) {
                MPI_Send(index + from, k, MPI_INT, 0, TAG_DATA, MPI_COMM_WORLD);
                MPI_Send(mine + (size_t)from * row_floats, (int)((size_t)k * row_floats), MPI_FLOAT, 0, TAG_DATA,
                         MPI_COMM_WORLD);
                continue;
            }
            MPI_Recv(at, k, MPI_INT, i, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Recv(got, (int)((size_t)k * row_floats), MPI_FLOAT, i, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            for (int j = 0; j < k; j++) {
                if (at[j] < 0 || at[j] >= n) { /* (a rank's list is rank 0's: checked by cli_ranks_same_list) */
                    bad = 1;
                    continue;
                }
                memcpy(rows + (size_t)at[j] * row_floats, got + (size_t)j * row_floats, row_bytes);
                ok[at[j]] = 1;
            }
        }
    }
    free(mem);
    if (bad) return cli_error(CLI_FAIL, "a rank sent rows of images outside the list of %d", n);
#else
    (void)rows, (void)ok, (void)n, (void)row_floats, (void)mine, (void)index, (void)n_mine;
#endif
    return CLI_OK;
}

int cli_ranks_sum(cli_ranks *r, long *v, size_t n)
{
    if (r->size < 2) return CLI_OK;
#ifdef VGGCL_MPI
    const double from = cli_times_wait();
    for (size_t at = 0; at < n; at += (size_t)1 << 20) /* (MPI counts are ints) */
        MPI_Allreduce(MPI_IN_PLACE, v + at, n - at < (size_t)1 << 20 ? (int)(n - at) : 1 << 20, MPI_LONG, MPI_SUM,
                      MPI_COMM_WORLD);
    cli_times_waited(from);
#else
    (void)v, (void)n;
#endif
    return CLI_OK;
}

int cli_ranks_all_ok(cli_ranks *r, int local)
{
    long bad = local != CLI_OK;
    cli_ranks_sum(r, &bad, 1);
    if (local != CLI_OK && bad < r->size) { /* (this rank's alone, or a few: its machine's device, files, memory) */
        char host[256] = "";
        host_name(host, sizeof host);
        cli_error_here(CLI_FAIL, "(that was rank %d of %d, on %s: %ld of the %d ranks failed at this step)",
                       r->rank, r->size, host, bad, r->size);
    }
    return local != CLI_OK ? local : bad ? CLI_FAIL : CLI_OK;
}

int cli_ranks_agree(cli_ranks *r, int rc)
{
#ifdef VGGCL_MPI
    if (r->mpi && r->size > 1) {
        const double from = cli_times_wait(); /* (train-head's ranks, while rank 0 trains) */
        MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
        cli_times_waited(from);
    }
#else
    (void)r;
#endif
    return rc;
}

const char *cli_ranks_device(cli_ranks *r, const char *given)
{
    if (given || r->size < 2) return given;
    const char *env = getenv("VGGCL_DEVICE");
    if (env && *env) return NULL; /* every rank on the device it names (read by the library, which says so) */
    /* one device per rank on each machine: the GPUs if there are any, else every device */
    int pick[CLI_MAX_DEVICES];
    cli_messages_hold(1); /* (a listing that fails is said by the selection, which lists them again: it was twice) */
    const int n = cli_all_devices(pick, CLI_MAX_DEVICES, 0); /* (a rank's device is its own: any kind) */
    size_t len;
    if (n < 1) free(cli_messages_take(&len));
    cli_messages_hold(0);
    cli_messages_flush();
    if (n < 1) return NULL; /* (selection then reports the missing device) */
    snprintf(r->device, sizeof r->device, "%d", pick[r->local_rank % n]);
    return r->device;
}

void cli_ranks_end(cli_ranks *r)
{
    const int fds[] = { r->out_fd, r->err_fd, r->logits_fd, r->tensor_fd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    for (int i = 0; !r->dynamic && i < r->n_lead + r->n_after; i++) free(r->lead[i]); /* (dynamic: the list) */
    if (!r->dynamic) free(r->lead);
    r->lead = NULL, r->n_lead = r->n_after = 0;
    cli_ranks_run_free(r); /* (collective: every rank comes here) */
    cli_times_report(r->mpi, r->rank, r->size);
#ifdef VGGCL_MPI
    if (r->mpi) { /* (what rank 0 printed out before a rank that failed leaves: mpirun then ends the job) */
        (void)cli_flush_stdout(), fflush(stderr); /* (a failure said with its reason; the exit says it again) */
        MPI_Finalize();
    }
#endif
}

#ifndef VGGCL_MPI
void cli_ranks_noticed(const char *text, size_t n) { (void)text, (void)n; } /* (one process: said as it is) */
#endif
