/* The commands' output files, checked before any work: one that would replace
 * what the command reads (the weights, an image) or another output, and one
 * whose folder is not there, are refused at once, not found after the whole
 * run (or never: a replaced input went unnoticed, exit 0). Where a command's
 * report goes when an output is standard output. And a set of outputs named
 * all or none, signals held back meanwhile. */
#define _GNU_SOURCE /* realpath, statx */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Whether path is one of the names of standard output itself (the library's rules: /proc/PID/fd/1 too). */
static int stdout_name(const char *path)
{
    return !strcmp(path, "-") || vggcl_output_descriptor(path) == STDOUT_FILENO;
}

int cli_is_stdout(const char *path)
{
    struct stat a, b;
    if (stdout_name(path)) return 1;
    /* a name for the file or pipe stdout is; not a device (/dev/null for both is no clash) */
    return stat(path, &a) == 0 && fstat(STDOUT_FILENO, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
           !S_ISCHR(a.st_mode);
}

FILE *cli_report(const char *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        if (paths[i] && cli_is_stdout(paths[i])) return stderr;
    return stdout;
}

/* A file as the system knows it: a regular file that is there by device and inode (through links), one not
 * there yet by its folder's real path and its name; other things (devices, pipes, "-") are not compared. */
typedef struct {
    int kind; /* 0: not compared; 1: a regular file; 2: not there yet */
    dev_t dev;
    ino_t ino;
    char where[PATH_MAX + NAME_MAX + 2];
} file_id;

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The folder part of path ("." when none) into dir. */
static void folder_of(const char *path, char *dir, size_t len)
{
    const char *s = strrchr(path, '/');
    if (!s) snprintf(dir, len, ".");
    else if (s == path) snprintf(dir, len, "/");
    else snprintf(dir, len, "%.*s", (int)(s - path), path);
}

/* Where a chain of symbolic links ends (a name not there yet), into out: path itself when it is no link. The
 * descriptor where a hop is one of its aliases (vggcl_output_descriptor: the writers write through it, as
 * they follow the links), else -1; -2 where the chain does not end (a loop). */
static int link_target(const char *path, char *out, size_t len)
{
    char dir[PATH_MAX], next[PATH_MAX];
    snprintf(out, len, "%s", path);
    for (int hops = 0; hops < 40; hops++) { /* (as the kernel's limit on a chain) */
        const int fd = vggcl_output_descriptor(out);
        if (fd >= 0) return fd;
        const ssize_t n = readlink(out, next, sizeof next - 1);
        if (n < 0) return -1;
        next[n] = '\0';
        folder_of(out, dir, sizeof dir);
        const int w = next[0] == '/' ? snprintf(out, len, "%s", next) : snprintf(out, len, "%s/%s", dir, next);
        if (w < 0 || (size_t)w >= len) return -1; /* (a name too long for a path: as far as it goes) */
    }
    return -2;
}

static void identify(const char *path, file_id *id)
{
    struct stat sb;
    char dir[PATH_MAX], real[PATH_MAX], target[PATH_MAX];
    memset(id, 0, sizeof *id);
    /* standard output by one of its names: the file it was redirected to, if a regular file */
    if (stdout_name(path) ? fstat(STDOUT_FILENO, &sb) == 0 : stat(path, &sb) == 0) {
        if (S_ISREG(sb.st_mode)) id->kind = 1, id->dev = sb.st_dev, id->ino = sb.st_ino;
        return;
    }
    if (stdout_name(path)) return;
    link_target(path, target, sizeof target); /* (a link to a file not there yet: that file) */
    folder_of(target, dir, sizeof dir);
    if (realpath(dir, real)) {
        const int w = snprintf(id->where, sizeof id->where, "%s/%s", real, base_name(target));
        id->kind = w > 0 && (size_t)w < sizeof id->where ? 2 : 0; /* (too long to be a path: not compared) */
    }
}

/* The same for a file the command reads: "-" is standard input there (or a file of that name), not output. */
static void identify_input(const char *path, file_id *id)
{
    if (!strcmp(path, "-")) memset(id, 0, sizeof *id); /* (--labels - was said to be standard output) */
    else identify(path, id);
}

int cli_output_named(const char *path)
{
    struct stat sb;
    char target[PATH_MAX];
    if (stdout_name(path) || link_target(path, target, sizeof target) >= 0) return 0; /* (written through) */
    return stat(path, &sb) != 0 || S_ISREG(sb.st_mode);
}

static int same(const file_id *a, const file_id *b)
{
    return a->kind && a->kind == b->kind &&
           (a->kind == 1 ? a->dev == b->dev && a->ino == b->ino : !strcmp(a->where, b->where));
}

/* Whether an output can be written as the writers write it: a descriptor's alias open for writing, a regular
 * file's folder (the file there or not: a new one is made there and named) there and writable (a file there
 * in a folder of root's was found after the work). CLI_OK, or CLI_FAIL said. */
static int folder_ready(const char *cmd, const cli_file *o)
{
    struct stat sb;
    char dir[PATH_MAX], target[PATH_MAX];
    if (!strcmp(o->path, "-")) return CLI_OK;
    const int fd = link_target(o->path, target, sizeof target); /* (a link to a file not there yet: its folder) */
    if (fd == -2) /* (said by the writer after the work, not naming the option) */
        return cli_error(CLI_FAIL, "%s: %s %s: cannot follow the symlink: %s", cmd, o->opt, o->path, strerror(ELOOP));
    if (fd >= 0) { /* (/dev/fd/7 with 7 closed, or open for reading: found when the first rows were written) */
        const int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY) return CLI_OK;
        return cli_error(CLI_FAIL, "%s: %s %s: descriptor %d is %s", cmd, o->opt, o->path, fd,
                         fl < 0 ? "not open" : "open for reading only");
    }
    const int there = stat(target, &sb) == 0;
    if (there && !S_ISREG(sb.st_mode)) return CLI_OK; /* (a device or a pipe: written through) */
    struct statx sx; /* (a file mounted there, as a container's volume of one file: the rename over it failed with
                      * EBUSY after the whole run) */
    if (there && statx(AT_FDCWD, target, 0, STATX_BASIC_STATS, &sx) == 0 &&
        (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return cli_error(CLI_FAIL, "%s: %s %s: cannot replace it: it is a mount point (a file mounted there, as a "
                         "container's volume of one file), and the new copy made beside it cannot be renamed over "
                         "it; name a file in a mounted folder", cmd, o->opt, o->path);
    folder_of(target, dir, sizeof dir);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_error(CLI_FAIL, "%s: %s %s: the folder %s %s", cmd, o->opt, o->path, dir,
                         stat(dir, &sb) != 0 ? "does not exist" : "is not a folder");
    /* (and a file made there, at once removed: root may write to any folder by its modes, but not in /proc or
     * /sys, where the writer's new file failed after the work) */
    char probe[PATH_MAX + 32];
    int made = -1;
    if (access(dir, W_OK | X_OK) == 0 && snprintf(probe, sizeof probe, "%s/.vggcl-XXXXXX", dir) < (int)sizeof probe)
        made = mkstemp(probe);
    if (made < 0) {
        char eb[128];
        const char *why = strerror_r(errno, eb, sizeof eb); /* (GNU's: the text, in eb or not) */
        return cli_error(CLI_FAIL, "%s: %s %s: cannot %s in %s: %s", cmd, o->opt, o->path,
                         there ? "replace it: its new copy is made" : "create it", dir, why);
    }
    close(made);
    const long name_max = pathconf(dir, _PC_NAME_MAX) > 0 ? pathconf(dir, _PC_NAME_MAX) : NAME_MAX;
    const size_t name = strlen(base_name(target));
    if (!there && (long)name > name_max) { /* (the file made after the work failed: ENAMETOOLONG) */
        unlink(probe);
        return cli_error(CLI_FAIL, "%s: %s %s: a file name of %zu bytes, longer than the %ld a file name may have "
                         "in %s", cmd, o->opt, o->path, name, name_max, dir);
    }
    if (unlink(probe) != 0) { /* (a folder where files cannot be removed, nor then replaced by renaming) */
        char eb[128];
        const char *why = strerror_r(errno, eb, sizeof eb); /* (GNU's: the text, in eb or not) */
        return cli_error(CLI_FAIL, "%s: %s %s: a file made in %s cannot be removed (%s): %s left there", cmd,
                         o->opt, o->path, dir, why, probe);
    }
    return CLI_OK;
}

/* Whether path names a descriptor past standard error (/dev/fd/N, /proc/self/fd/N, ... with N > 2). */
static int fd_past_stderr(const char *path) { return vggcl_output_descriptor(path) > STDERR_FILENO; }

int cli_ready_all(vggcl_ctx *ctx, vggcl_npy_writer **w, int n)
{
    for (int direct = 0; direct < 2; direct++) /* (the files first: standard output's array was out when one failed) */
        for (int k = 0; k < n; k++)
            if (w[k] && vggcl_npy_writer_direct(w[k]) == direct && vggcl_npy_writer_ready(ctx, w[k]) != VGGCL_OK)
                return cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    return CLI_OK;
}

static const int held_kinds[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction held_before[sizeof held_kinds / sizeof held_kinds[0]];
static volatile sig_atomic_t held_signal;
static int holds; /* (the main thread's alone) */

static void hold_back(int sig)
{
    if (!held_signal) held_signal = sig;
}

void cli_hold_signals(void)
{
    if (holds++) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hold_back, sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    held_signal = 0;
    for (size_t i = 0; i < sizeof held_kinds / sizeof held_kinds[0]; i++)
        if (sigaction(held_kinds[i], NULL, &held_before[i]) == 0 && held_before[i].sa_handler != SIG_IGN)
            sigaction(held_kinds[i], &sa, NULL); /* (nohup's ignored SIGHUP stays ignored) */
}

void cli_release_signals(void)
{
    if (holds <= 0 || --holds) return;
    for (size_t i = 0; i < sizeof held_kinds / sizeof held_kinds[0]; i++)
        if (held_before[i].sa_handler != SIG_IGN) sigaction(held_kinds[i], &held_before[i], NULL);
    if (!held_signal) return;
    fflush(stdout); /* (the lines of what was named: block-buffered into a file or a pipe, they were lost) */
    raise(held_signal); /* (as it would have acted: the default ends the process) */
}

void cli_keep_earlier(const char *path, int may_move, cli_kept *k)
{
    struct stat sb;
    k->kept = 0;
    if (cli_is_stdout(path) || vggcl_output_descriptor(path) >= 0) return; /* (written through, never replaced) */
    if (!realpath(path, k->real) || stat(k->real, &sb) != 0 || !S_ISREG(sb.st_mode)) return;
    const char *slash = strrchr(k->real, '/'); /* (absolute: realpath's) */
    for (int tries = 0; tries < 100 && !k->kept; tries++) {
        if (snprintf(k->keep, sizeof k->keep, "%.*s/.vggcl-keep.%ld.%d", (int)(slash - k->real), k->real,
                     (long)getpid(), tries) >= (int)sizeof k->keep)
            return;
        if (link(k->real, k->keep) == 0) {
            k->kept = 1;
        } else if (errno != EEXIST) { /* (no hard links there, or one refused: another's file under
                                        * protected_hardlinks) the file itself moved aside, its name then empty */
            if (may_move && lstat(k->keep, &sb) != 0 && errno == ENOENT && rename(k->real, k->keep) == 0) k->kept = 2;
            return;
        }
    }
}

void cli_kept_end(cli_kept *k, const char *path, int put_back)
{
    struct stat sb;
    if (!k->kept) return;
    if (k->kept == 2 && lstat(k->real, &sb) != 0 && errno == ENOENT) put_back = 1; /* (moved, none named there) */
    k->kept = 0;
    if (!put_back) {
        unlink(k->keep);
    } else if (rename(k->keep, k->real) != 0) { /* (the new file removed all the same: no part of a set left) */
        cli_error(CLI_FAIL, "%s: the earlier file could not be put back (%s): it is kept as %s", path, strerror(errno),
                  k->keep);
        vggcl_remove_output(path);
    }
}

int cli_name_all(vggcl_ctx *ctx, vggcl_npy_writer **w, const char *const *paths, int n, int commit)
{
    /* (readied, each file has a temporary name: a Ctrl-C from then on left it; a pipe, a FIFO or a device has
     * none, and held, a kill did nothing while a stalled reader kept the write waiting) */
    int named_files = 0, last = -1;
    for (int k = 0; k < n; k++) named_files |= w[k] && !vggcl_npy_writer_direct(w[k]);
    for (int k = 0; k < n; k++) last = w[k] ? k : last;
    if (named_files) cli_hold_signals();
    int rc = commit ? cli_ready_all(ctx, w, n) : CLI_OK;
    /* the earlier run's files, kept until the set is named: each name replaced one, and a later one failing
     * removed the new files, the earlier ones lost with them (an immutable file second in the set); not the
     * last's, which nothing after it can fail to follow */
    cli_kept *keep = commit && rc == CLI_OK && named_files && last > 0 ? calloc((size_t)n, sizeof *keep) : NULL;
    unsigned named = 0; /* (bit k: paths[k] named) */
    for (int k = 0; k < n; k++) {
        if (!w[k]) continue;
        const int name = commit && rc == CLI_OK;
        if (name && keep && k < last && !vggcl_npy_writer_direct(w[k])) cli_keep_earlier(paths[k], 1, &keep[k]);
        const vggcl_status st = vggcl_npy_writer_close(ctx, w[k], name);
        w[k] = NULL;
        if (name && st != VGGCL_OK) rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        else if (name) named |= 1u << k;
    }
    for (int k = 0; k < n; k++) {
        const int undo = rc != CLI_OK && named & 1u << k; /* (named with the set, or not replaced: kept there) */
        if (undo && !(keep && keep[k].kept)) vggcl_remove_output(paths[k]); /* (none before it: none now) */
        if (keep) cli_kept_end(&keep[k], paths[k], undo);
    }
    free(keep);
    if (named_files) cli_release_signals();
    return rc;
}

int cli_stdout_check(const char *cmd, const cli_file *ins, int n_in)
{
    struct stat so;
    file_id in;
    if (fstat(STDOUT_FILENO, &so) != 0 || !S_ISREG(so.st_mode)) return CLI_OK;
    for (int k = 0; k < n_in; k++) {
        if (!ins[k].path) continue;
        identify_input(ins[k].path, &in);
        if (in.kind == 1 && in.dev == so.st_dev && in.ino == so.st_ino)
            return cli_error(CLI_USAGE, "%s: standard output is the file %s %s: what the command prints would be "
                             "written into it", cmd, ins[k].opt, ins[k].path);
    }
    return CLI_OK;
}

int cli_outputs_check(const char *cmd, const cli_file *outs, int n_out, const cli_file *ins, int n_in,
                      char *const *images, int n_images)
{
    file_id o, other;
    struct stat sb;
    for (int i = 0; i < n_out; i++) {
        if (!outs[i].path) continue;
        /* (it wrote into MPI's own pipe, exit 0; under mpirun -n 1, a descriptor not there failed after the work) */
        if (cli_ranks_under_launcher() && fd_past_stderr(outs[i].path))
            return cli_error(CLI_USAGE, "%s: %s %s: a process mpirun starts does not have the shell's descriptors "
                             "past 2 (its own are MPI's); name a file", cmd, outs[i].opt, outs[i].path);
        /* (an array's bytes; not under a launcher, whose ranks' stdout is its pty, made for bytes, even where its
         * own is a file: mpirun -n 1 ... > y.npy) */
        if (!cli_ranks_under_launcher() && cli_is_stdout(outs[i].path) && isatty(STDOUT_FILENO))
            return cli_error(CLI_USAGE, "%s: %s %s: standard output is a terminal; redirect it to a file or a pipe",
                             cmd, outs[i].opt, outs[i].path);
        if (stat(outs[i].path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* (a failed write then removed the others) */
            return cli_error(CLI_USAGE, "%s: %s %s is a folder: name a file", cmd, outs[i].opt, outs[i].path);
        for (int k = 0; k < i; k++) /* (standard output twice: arrays one after the other, the second unread) */
            if (outs[k].path && cli_is_stdout(outs[k].path) && cli_is_stdout(outs[i].path))
                return cli_error(CLI_USAGE, "%s: %s %s and %s %s are both standard output", cmd, outs[k].opt,
                                 outs[k].path, outs[i].opt, outs[i].path);
        if (folder_ready(cmd, &outs[i]) != CLI_OK) return CLI_FAIL;
        identify(outs[i].path, &o);
        if (!o.kind) continue;
        for (int k = 0; k < i; k++) {
            if (!outs[k].path) continue;
            identify(outs[k].path, &other);
            if (same(&o, &other))
                return cli_error(CLI_USAGE, "%s: %s %s and %s %s are the same file: one would replace the other", cmd,
                                 outs[k].opt, outs[k].path, outs[i].opt, outs[i].path);
        }
        if (o.kind != 1) continue; /* (an input is there: a file not there yet is none of them) */
        for (int k = 0; k < n_in; k++) {
            if (!ins[k].path) continue;
            identify_input(ins[k].path, &other);
            if (same(&o, &other))
                return cli_error(CLI_USAGE, "%s: %s %s is the file %s %s: it would be replaced", cmd, outs[i].opt,
                                 outs[i].path, ins[k].opt, ins[k].path);
        }
    }
    if (cli_stdout_check(cmd, ins, n_in) != CLI_OK) return CLI_USAGE;
    /* the images, each stat'ed once (through links), against the outputs already there, which alone can be
     * replaced: none there (a first run) costs no stat */
    file_id there[8];
    int which[8], m = 0;
    for (int i = 0; i < n_out && m < 8; i++)
        if (outs[i].path && (identify(outs[i].path, &there[m]), there[m].kind == 1)) which[m++] = i;
    for (int k = 0; m && k < n_images; k++) {
        struct stat sb;
        if (stat(images[k], &sb) != 0) continue; /* (said when it is read) */
        for (int j = 0; j < m; j++)
            if (sb.st_dev == there[j].dev && sb.st_ino == there[j].ino)
                return cli_error(CLI_USAGE, "%s: %s %s is the image %s it reads: it would be replaced", cmd,
                                 outs[which[j]].opt, outs[which[j]].path, images[k]);
    }
    return CLI_OK;
}
