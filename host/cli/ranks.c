#define _GNU_SOURCE /* mkostemp */
/* Many processes, one answer: under mpirun (a build with -DVGGCL_MPI=ON)
 * each rank classifies a contiguous run of the sorted image list on its own
 * device, with its standard output, its messages and its arrays captured;
 * rank 0 gathers them and writes what one process would have written, in
 * the same order. Without MPI (or with one rank) everything here is a no-op. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#ifdef VGGCL_MPI
#include <mpi.h>
#endif

/* The rank count the launcher announces (Open MPI, MPICH, Slurm's PMI); 1 without one. */
static int launched_size(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

int cli_ranks_begin(cli_ranks *r, const char *cmd, char ***files, int *n)
{
    memset(r, 0, sizeof *r);
    r->size = 1;
    r->saved_out = r->saved_err = r->out_fd = r->err_fd = r->logits_fd = r->tensor_fd = -1;
    if (launched_size() < 2) return CLI_OK;
#ifdef VGGCL_MPI
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return cli_error(CLI_FAIL, "%s: MPI_Init failed", cmd);
    r->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!local) local = getenv("MPI_LOCALRANKID");
    r->local_rank = local ? atoi(local) : r->rank;
    if (!files) return CLI_OK; /* the caller takes its share itself */
    r->total = *n;
    char spec[32];
    snprintf(spec, sizeof spec, "%d/%d", r->rank, r->size);
    return cli_shard(cmd, spec, files, n);
#else
    (void)files, (void)n;
    return cli_error(CLI_USAGE, "%s: started as %d processes, but this vggcl was built without MPI "
                                "(cmake -DVGGCL_MPI=ON); use --shard I/N for independent processes",
                     cmd, launched_size());
#endif
}

/* A new, empty temporary file in $TMPDIR (or /tmp) without a name: its descriptor, or -1. It is
 * unlinked at once, so a rank that mpirun kills (another rank failed) leaves nothing behind. */
static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/vggcl-rank.XXXXXX", dir && *dir ? dir : "/tmp");
    const int fd = mkostemp(path, O_CLOEXEC); /* (not for PoCL's linker and the like) */
    if (fd >= 0) unlink(path);
    return fd;
}

int cli_ranks_capture(cli_ranks *r, const char **logits_out, const char **tensor_out)
{
    const char *none = NULL;
    if (!logits_out) logits_out = &none;
    if (!tensor_out) tensor_out = &none;
    if (r->size < 2) return CLI_OK;
    fflush(stdout), fflush(stderr);
    r->out_fd = temp_file();
    r->err_fd = r->out_fd < 0 ? -1 : temp_file();
    if (r->err_fd < 0) return cli_error(CLI_FAIL, "rank %d: cannot create temporary files for its output", r->rank);
    r->saved_out = dup(1), r->saved_err = dup(2);
    dup2(r->out_fd, 1), dup2(r->err_fd, 2);
    /* the arrays go to temporary .npy files, gathered by rank 0 into the real ones; the writers write
     * a /dev/fd/N path through its descriptor (host/io/output.c) */
    r->final_logits = *logits_out, r->final_tensor = *tensor_out;
    for (int k = 0; k < 2; k++) {
        if (!(k ? *tensor_out : *logits_out)) continue;
        int *fd = k ? &r->tensor_fd : &r->logits_fd;
        char *path = k ? r->tensor_path : r->logits_path;
        if ((*fd = temp_file()) < 0) return cli_error(CLI_FAIL, "rank %d: cannot create a temporary file", r->rank);
        snprintf(path, k ? sizeof r->tensor_path : sizeof r->logits_path, "/dev/fd/%d", *fd);
        *(k ? tensor_out : logits_out) = path;
    }
    return CLI_OK;
}

#ifdef VGGCL_MPI
/* A temporary file's bytes (none for fd -1); NULL when it cannot be read back or memory is short. */
static char *slurp(int fd, long *len)
{
    struct stat sb;
    *len = 0;
    if (fd < 0) return calloc(1, 1);
    if (fstat(fd, &sb) != 0) return NULL;
    char *b = malloc((size_t)sb.st_size + 1);
    for (off_t at = 0; b && at < sb.st_size;) {
        const ssize_t got = pread(fd, b + at, (size_t)(sb.st_size - at), at);
        if (got <= 0) {
            free(b);
            return NULL;
        }
        at += got;
    }
    if (b) *len = (long)sb.st_size;
    return b;
}

/* Whether every rank has its bytes (mine, len) and all of them fit MPI's int counts; on every rank. */
static int all_read(const char *mine, long len)
{
    long sum = 0;
    int bad = !mine, any = 0;
    MPI_Allreduce(&len, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return !any && sum <= INT_MAX;
}

/* Rank 0 gets every rank's bytes, in rank order (*all, lens per rank). */
static char *gather_bytes(const cli_ranks *r, const char *mine, long len, long **lens)
{
    int ilen = (int)len, *counts = NULL, *displs = NULL;
    char *all = NULL;
    if (r->rank == 0) {
        counts = calloc((size_t)r->size, sizeof *counts);
        displs = calloc((size_t)r->size, sizeof *displs);
        *lens = calloc((size_t)r->size, sizeof **lens);
    }
    MPI_Gather(&ilen, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (r->rank == 0) {
        long total = 0;
        for (int i = 0; i < r->size; i++) displs[i] = (int)total, total += counts[i], (*lens)[i] = counts[i];
        all = malloc((size_t)total + 1);
    }
    MPI_Gatherv(mine, ilen, MPI_CHAR, all, counts, displs, MPI_CHAR, 0, MPI_COMM_WORLD);
    free(counts), free(displs);
    return all;
}

/* Rank 0: the rows of every rank's temporary .npy (path, one per rank in *files) appended to out. */
static int merge_npy(vggcl_ctx *ctx, const char *out, int part, const cli_ranks *r, int ndim_tail,
                     const long long *tail)
{
    vggcl_npy_writer *w = NULL;
    long *lens = NULL, len;
    char *mine = slurp(part, &len);
    if (!all_read(mine, len)) {
        free(mine);
        return r->rank == 0 ? cli_error(CLI_FAIL, "%s: a rank's part could not be read back, or all of them "
                                                  "exceed 2 GiB (write parts with --shard)", out)
                            : CLI_FAIL;
    }
    char *all = gather_bytes(r, mine, len, &lens);
    int rc = CLI_OK;
    free(mine);
    if (r->rank != 0) return CLI_OK;
    if (!all) return cli_error(CLI_FAIL, "out of host memory gathering %s", out);
    long at = 0;
    for (int i = 0; i < r->size && rc == CLI_OK; at += lens[i], i++) {
        if (!lens[i]) continue; /* a rank with no readable image writes no array */
        char tmp[32];
        const int fd = temp_file();
        snprintf(tmp, sizeof tmp, "/dev/fd/%d", fd);
        int nd = 0;
        long long shape[VGGCL_NPY_MAX_DIMS];
        float *data = NULL;
        if (fd < 0 || write(fd, all + at, (size_t)lens[i]) != lens[i]) {
            rc = cli_error(CLI_FAIL, "cannot write a temporary file to gather %s", out);
        } else if (vggcl_npy_read(ctx, tmp, &nd, shape, &data) != VGGCL_OK ||
                   (!w && vggcl_npy_writer_open(ctx, out, ndim_tail ? ndim_tail : nd - 1, tail ? tail : shape + 1,
                                                &w) != VGGCL_OK) ||
                   vggcl_npy_writer_append(ctx, w, data, shape[0]) != VGGCL_OK) {
            rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        }
        vggcl_free(data);
        if (fd >= 0) close(fd);
    }
    if (w && vggcl_npy_writer_close(ctx, w, rc == CLI_OK) != VGGCL_OK && rc == CLI_OK)
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    free(all), free(lens);
    return rc;
}
#endif

int cli_ranks_finish(cli_ranks *r, vggcl_ctx *ctx, int rc, int *failed, int *ok)
{
    if (r->size < 2) return rc;
#ifdef VGGCL_MPI
    fflush(stdout), fflush(stderr);
    if (r->saved_out >= 0) dup2(r->saved_out, 1), close(r->saved_out);
    if (r->saved_err >= 0) dup2(r->saved_err, 2), close(r->saved_err);
    /* the text in rank order: stdout, then the messages (skipped images) */
    for (int k = 0; k < 2; k++) {
        long len, *lens = NULL;
        char *mine = slurp(k ? r->err_fd : r->out_fd, &len);
        if (!all_read(mine, len)) { /* (said on the real stderr, restored above) */
            if (r->rank == 0)
                rc = cli_error(CLI_FAIL, "a rank's %s could not be read back, or all of them exceed 2 GiB",
                               k ? "messages" : "output");
            else rc = CLI_FAIL;
            free(mine);
            continue;
        }
        char *all = gather_bytes(r, mine, len, &lens);
        long total = 0;
        for (int i = 0; r->rank == 0 && i < r->size; i++) total += lens[i];
        if (all) fwrite(all, 1, (size_t)total, k ? stderr : stdout);
        fflush(k ? stderr : stdout);
        free(mine), free(all), free(lens);
    }
    int counts[3] = { *failed, *ok, rc }, sums[3] = { 0, 0, 0 }, worst = 0;
    MPI_Allreduce(counts, sums, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&counts[2], &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    *failed = sums[0], *ok = sums[1], rc = worst;
    /* the arrays, tensor first: all or none (every rank takes part in each gather) */
    int merged = CLI_OK;
    if (rc == CLI_OK && r->final_tensor) {
        merged = merge_npy(ctx, r->final_tensor, r->tensor_fd, r, 0, NULL);
        MPI_Allreduce(MPI_IN_PLACE, &merged, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    }
    if (rc == CLI_OK && merged == CLI_OK && r->final_logits) {
        merged = merge_npy(ctx, r->final_logits, r->logits_fd, r, 0, NULL);
        MPI_Allreduce(MPI_IN_PLACE, &merged, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (merged != CLI_OK && r->rank == 0 && r->final_tensor) vggcl_remove_output(r->final_tensor);
    }
    if (rc == CLI_OK) rc = merged;
#else
    (void)ctx, (void)failed, (void)ok; /* one rank without MPI: nothing to merge */
#endif
    return rc;
}

int cli_ranks_gather_rows(cli_ranks *r, float *all, char *ok, int n, size_t row_floats)
{
    if (r->size < 2) return CLI_OK;
#ifdef VGGCL_MPI
    int *counts = calloc((size_t)r->size, sizeof *counts), *displs = calloc((size_t)r->size, sizeof *displs);
    int rc = counts && displs && (size_t)n * row_floats < (size_t)1 << 31 ? CLI_OK : CLI_FAIL, worst;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (worst != CLI_OK) {
        free(counts), free(displs);
        return r->rank == 0 ? cli_error(CLI_FAIL, "too many features to gather over MPI (%d images)", n) : CLI_FAIL;
    }
    for (int k = 0; k < 2; k++) { /* the flags, then the rows */
        const size_t unit = k ? row_floats : 1;
        for (int i = 0; i < r->size; i++) {
            const int lo = (int)((long long)n * i / r->size), hi = (int)((long long)n * (i + 1) / r->size);
            counts[i] = (int)((size_t)(hi - lo) * unit), displs[i] = (int)((size_t)lo * unit);
        }
        if (k) MPI_Gatherv(r->rank ? all + displs[r->rank] : MPI_IN_PLACE, counts[r->rank], MPI_FLOAT, all, counts,
                           displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
        else MPI_Gatherv(r->rank ? ok + displs[r->rank] : MPI_IN_PLACE, counts[r->rank], MPI_CHAR, ok, counts, displs,
                         MPI_CHAR, 0, MPI_COMM_WORLD);
    }
    free(counts), free(displs);
#else
    (void)all, (void)ok, (void)n, (void)row_floats;
#endif
    return CLI_OK;
}

int cli_ranks_agree(cli_ranks *r, int rc)
{
#ifdef VGGCL_MPI
    if (r->mpi && r->size > 1) MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
#else
    (void)r;
#endif
    return rc;
}

const char *cli_ranks_device(cli_ranks *r, const char *given)
{
    if (given || r->size < 2) return given;
    const char *env = getenv("VGGCL_DEVICE");
    if (env && *env) return env; /* every rank on the device it names */
    /* one device per rank on each machine: the GPUs if there are any, else every device */
    int pick[CLI_MAX_DEVICES];
    const int n = cli_all_devices(pick, CLI_MAX_DEVICES);
    if (n < 1) return NULL; /* (selection then reports the missing device) */
    snprintf(r->device, sizeof r->device, "%d", pick[r->local_rank % n]);
    return r->device;
}

void cli_ranks_end(cli_ranks *r)
{
    const int fds[] = { r->out_fd, r->err_fd, r->logits_fd, r->tensor_fd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
#ifdef VGGCL_MPI
    if (r->mpi) MPI_Finalize();
#endif
}
