/* Where every output file goes (host/output.h): a regular file (or a new
 * one) is written to a temporary file beside it, made durable and renamed
 * over it, so a reader never sees half of it and a failed write leaves what
 * was there (the temporary file has no name until then, where the file system
 * allows it, so a process killed while writing leaves nothing behind); a
 * symlink is followed and its target written that way; a device,
 * a pipe, "-" or an alias of an open descriptor (/dev/stdout) is written
 * directly at commit, since renaming over it would replace the node (or the
 * file standard output was redirected to) instead of writing into it. */
#define _GNU_SOURCE /* O_TMPFILE */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

/* The number p starts with as the kernel writes it (digits, no leading 0 but for 0 itself: /dev/fd/01 is not
 * there), *end after it; else -1. */
static long number(const char *p, char **end)
{
    *end = (char *)p;
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1]))) return -1;
    errno = 0;
    const long v = strtol(p, end, 10);
    return errno ? -1 : v;
}

/* What follows "fd/" in /proc/P/fd/, /proc/P/task/T/fd/ or /proc/thread-self/fd/ (p past "/proc/") where P is
 * this process (self, or its number: /proc/PID/fd/1 was followed to the file standard output went to, and
 * a new file renamed over it) and T one of its threads; else NULL. */
static const char *proc_fd(const char *p)
{
    char *end;
    int thread = 0;
    if (!strncmp(p, "self/", 5))
        p += 5;
    else if (!strncmp(p, "thread-self/", 12))
        p += 12, thread = 1;
    else if (number(p, &end) == (long)getpid() && *end == '/')
        p = end + 1;
    else
        return NULL;
    long tid;
    if (!thread && !strncmp(p, "task/", 5) && (tid = number(p + 5, &end)) >= 0) { /* (a thread's: the same table) */
        char dir[64]; /* (a thread of this process: task/1/fd/5, no path there, was written to descriptor 5) */
        snprintf(dir, sizeof dir, "/proc/self/task/%ld", tid);
        if (*end != '/' || access(dir, F_OK) != 0) return NULL;
        p = end + 1;
    }
    return strncmp(p, "fd/", 3) ? NULL : p + 3;
}

/* (vggcl.h) An output path that is such an alias is written through the descriptor, whatever it is:
 * following it to a file and renaming over that would replace the file the caller redirected to (and
 * lose what it already holds). */
int vggcl_output_descriptor(const char *path)
{
    if (!path) return -1;
    if (!strcmp(path, "/dev/stdin")) return STDIN_FILENO;
    if (!strcmp(path, "/dev/stdout")) return STDOUT_FILENO;
    if (!strcmp(path, "/dev/stderr")) return STDERR_FILENO;
    const char *n = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/", 6) ? proc_fd(path + 6) : NULL;
    char *end;
    const long fd = n ? number(n, &end) : -1;
    return fd >= 0 && !*end && fd <= INT_MAX ? (int)fd : -1;
}

/* The final name behind a chain of symlinks (which may not exist yet); *alias gets the descriptor when
 * a hop is an alias of one (vggcl_output_descriptor), else -1. 0 with errno when the chain loops or is too long. */
static int follow_links(const char *path, char *out, size_t len, int *alias)
{
    char cur[PATH_MAX], link[PATH_MAX];
    *alias = -1;
    if (snprintf(cur, sizeof cur, "%s", path) >= (int)sizeof cur) {
        errno = ENAMETOOLONG;
        return 0;
    }
    for (int hops = 0; hops < 40; hops++) {
        struct stat sb;
        if ((*alias = vggcl_output_descriptor(cur)) >= 0) return 1;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
            if (snprintf(out, len, "%s", cur) < (int)len) return 1;
            errno = ENAMETOOLONG;
            return 0;
        }
        const ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) return 0;
        link[n] = '\0';
        if (link[0] == '/') {
            memcpy(cur, link, (size_t)n + 1);
        } else { /* relative to the link's folder */
            char *slash = strrchr(cur, '/');
            const size_t dir = slash ? (size_t)(slash - cur) + 1 : 0;
            if (dir + (size_t)n + 1 > sizeof cur) {
                errno = ENAMETOOLONG;
                return 0;
            }
            memcpy(cur + dir, link, (size_t)n + 1);
        }
    }
    errno = ELOOP;
    return 0;
}

/* Whether path (through its symlinks, none of them a descriptor alias) is an existing regular file,
 * whose name is put in target. */
static int output_regular(const char *path, char *target, size_t len)
{
    struct stat sb;
    int alias;
    return strcmp(path, "-") && follow_links(path, target, len, &alias) && alias < 0 && stat(target, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

/* Temporary names: BASE.tmp.XXXXXX beside the target, BASE an output's (.vggcl) or a cache's (.vggcl-cache); each
 * kind's sweep finds its own by their prefix (OUTPUT_TEMP, CACHE_TEMP). */
#define TEMP_MARK ".tmp."
#define OUTPUT_BASE ".vggcl"
#define CACHE_BASE ".vggcl-cache"
#define OUTPUT_TEMP OUTPUT_BASE TEMP_MARK
#define CACHE_TEMP CACHE_BASE TEMP_MARK

/* A name beside target for a temporary file, target.tmp.XXXXXX (attempt: a different one each time). */
static int temp_name(const char *target, char *tmp, size_t len, int attempt)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec * 6364136223846793005ULL ^ (unsigned long long)getpid() ^
                           (unsigned long long)(size_t)tmp ^ (unsigned long long)attempt << 40;
    char suffix[7];
    for (int i = 0; i < 6; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        suffix[i] = digits[(x >> 33) % 36];
    }
    suffix[6] = '\0';
    if (snprintf(tmp, len, "%s" TEMP_MARK "%s", target, suffix) < (int)len) return 1;
    errno = ENAMETOOLONG;
    return 0;
}

/* The folder target is in: "." when the path has none, "/" for a file there. */
static void folder_of(const char *target, char *dir, size_t len)
{
    const char *slash = strrchr(target, '/');
    snprintf(dir, len, "%.*s", slash ? (int)(slash == target ? 1 : slash - target) : 1, slash ? target : ".");
}

/* What a temporary name beside target starts with: DIR/.vggcl (then .tmp.XXXXXX), short, so that a target
 * whose own name is near the file system's limit, which could be created, can be committed. A cache's have a prefix
 * of their own, which a cache write sweeps: an output's, written beside them where the cache folder is an output
 * folder too, are never swept there. */
static void temp_base(const char *target, int replace, char *base, size_t len)
{
    char dir[PATH_MAX];
    folder_of(target, dir, sizeof dir);
    snprintf(base, len, "%s/%s", dir, replace ? CACHE_BASE : OUTPUT_BASE);
}

#define ORPHAN_AGE_S 3600

/* Removes dir's temporary files of a prefix (OUTPUT_TEMP, CACHE_TEMP) that a process killed before their rename
 * left, those unchanged for an hour (nor dated an hour ahead: another machine's clock on a shared folder, or the
 * clock set back, would otherwise wait out the difference). With by_lock, only those no process holds: a writer
 * holds a lock (flock) on its file from its creation to its rename (vggcl__output's lock_fd), and a long run's may
 * be hours old; a candidate is opened for writing (NFSv4 locks a file only so: EBADF read-only); without locks
 * (ENOLCK: a writer on another host, whose data waits in its buffers) none is taken. */
static void sweep_temps(const char *dir, const char *prefix, int by_lock)
{
    DIR *d = opendir(dir);
    if (!d) return;
    const time_t now = time(NULL);
    struct dirent *e;
    struct stat sb;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) ||
            fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            (now - sb.st_mtime <= ORPHAN_AGE_S && sb.st_mtime - now <= ORPHAN_AGE_S))
            continue;
        const int fd = by_lock ? openat(dirfd(d), e->d_name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
        if (!by_lock || (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)) unlinkat(dirfd(d), e->d_name, 0);
        if (fd >= 0) close(fd);
    }
    closedir(d);
}

/* An output's orphans in dir, a folder without O_TMPFILE (NFS, where every output of a run killed by SIGKILL is
 * one), swept once a process for each of the last 16 such folders: nothing else removed them (eight SIGKILLs of a
 * run on such a file system left 301 MB). */
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;

void vggcl__output_locks_in_child(void)
{
    pthread_mutex_init(&sweep_lock, NULL);
}

static void sweep_orphans(const char *dir)
{
    static char seen[16][PATH_MAX];
    static int next;
    pthread_mutex_lock(&sweep_lock);
    int again = 0;
    for (int i = 0; i < 16 && !again; i++) again = !strcmp(seen[i], dir);
    if (!again) snprintf(seen[next], sizeof seen[next], "%s", dir), next = (next + 1) % 16;
    pthread_mutex_unlock(&sweep_lock);
    if (!again) sweep_temps(dir, OUTPUT_TEMP, 1);
}

/* A new file beside target, created with mode (the umask applies): without a name (O_TMPFILE, *tmp ""),
 * named at commit, where the file system has it and /proc gives the descriptor a path to link; else named
 * DIR/.vggcl.tmp.XXXXXX now, the folder swept of orphans first. Locked (flock) from here: sweep_orphans passes it
 * by. */
static int create_temp(const char *target, int replace, int mode, char *tmp, size_t len)
{
    char dir[PATH_MAX], base[PATH_MAX + 16];
    folder_of(target, dir, sizeof dir);
    temp_base(target, replace, base, sizeof base);
    tmp[0] = '\0';
    if (access("/proc/self/fd", X_OK) == 0) {
        const int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
        if (fd >= 0) {
            (void)flock(fd, LOCK_EX | LOCK_NB); /* (named at commit: the name locked from the start) */
            return fd;
        }
    }
    if (!replace) sweep_orphans(dir);
    for (int attempt = 0; attempt < 100; attempt++) {
        if (!temp_name(base, tmp, len, attempt)) return -1;
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0) (void)flock(fd, LOCK_EX | LOCK_NB); /* (a new file: no one else holds it) */
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

/* The temporary file's lock given up (renamed, removed, or the output dropped). */
static void unlock_temp(vggcl__output *o)
{
    if (o->lock_fd >= 0) close(o->lock_fd);
    o->lock_fd = -1;
}

/* Gives a nameless temporary file (create_temp) a name beside target, in tmp (temp_base's): 0 with errno on
 * failure. */
static int name_temp(int fd, const char *target, int replace, char *tmp, size_t len)
{
    char self[64], base[PATH_MAX + 16];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    temp_base(target, replace, base, sizeof base);
    for (int attempt = 0; attempt < 100; attempt++) {
        if (!temp_name(base, tmp, len, attempt)) return 0;
        if (linkat(AT_FDCWD, self, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) return 1;
        if (errno != EEXIST) break;
    }
    tmp[0] = '\0';
    return 0;
}

/* A temporary file without a name in dir, read and written; NULL with errno on failure. */
static FILE *staging_file(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/vggcl-out.XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    const int fd = mkstemp(path);
    if (fd < 0) return NULL;
    unlink(path);
    FILE *fp = fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? fdopen(fd, "w+b") : NULL;
    if (!fp) {
        const int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}

static vggcl_status io_fail(vggcl_ctx *ctx, const vggcl__output *o, const char *what, int err)
{
    char eb[128], dir[sizeof o->path];
    struct stat sb;
    folder_of(o->target[0] ? o->target : o->path, dir, sizeof dir); /* (where it is made: a symlink's target's) */
    if (err == ENOENT && stat(dir, &sb) != 0) /* (said as "No such file or directory" of the file; of a folder never
                                              * there, a library caller's wrong path, as removed while written) */
        return vggcl__fail_os(ctx, err, "%s: %s: its folder %s is not there%s", o->path, what, dir,
                              o->opened ? " (removed while the run wrote it?)" : "");
    return vggcl__fail_os(ctx, err, "%s: %s: %s", o->path, what, vggcl__strerror(err, eb, sizeof eb));
}

/* Where a direct output is staged: $TMPDIR, else /tmp. */
static const char *staging_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

/* A device or FIFO output opened for writing; a FIFO that no process reads yet (open would wait unsaid, the run
 * seemingly hung at its start) is said to the log, then waited for, through the signals a handler takes (PoCL's
 * LLVM takes SIGINT and SIGHUP even where nohup or a script's background job ignores them: a wait they ended
 * failed the run); one that ends the process ends it. */
static int open_through(vggcl_ctx *ctx, const char *path, const char *target, int fifo)
{
    int fd = open(target, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENXIO && fifo) { /* (ENXIO of a socket or a device without its driver: said as it is) */
        if (ctx->log) {
            char msg[PATH_MAX + 128];
            snprintf(msg, sizeof msg, "%s: a FIFO that no process reads yet: waiting for its reader", path);
            ctx->log(ctx->log_user, msg);
        }
        do fd = open(target, O_WRONLY | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
    }
    if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) { /* (writes wait, as before) */
        const int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }
    return fd;
}

vggcl_status vggcl__output_open(vggcl_ctx *ctx, const char *path, int mode, int flags, vggcl__output *o)
{
    struct stat sb;
    int fd = -1, alias = -1;
    memset(o, 0, sizeof *o);
    o->direct_fd = -1, o->lock_fd = -1;
    VGGCL_NEED(ctx, "writing a file", path);
    if (!*path) /* (it made a nameless file in "." and failed only at the commit, naming nothing) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "writing a file: the path is empty; expected a file name");
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: path too long", path);
    if (flags & VGGCL_OUTPUT_REPLACE) {
        snprintf(o->target, sizeof o->target, "%s", path);
        o->replace = 1;
    } else if (!strcmp(path, "-")) {
        alias = STDOUT_FILENO;
    } else if (!follow_links(path, o->target, sizeof o->target, &alias)) {
        return io_fail(ctx, o, "cannot follow the symlink", errno);
    } else if (alias < 0 && stat(o->target, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode)) return vggcl__fail_os(ctx, EISDIR, "%s: is a folder; expected a file to write", path);
        alias = S_ISFIFO(sb.st_mode) ? -3 : -2; /* a FIFO, a device: opened */
    }
    if (alias != -1) {
        /* standard output, a device, a pipe: never replaced, written directly at commit (the writer
         * writes to a temporary file first: it may seek, and a pipe's reader gets nothing half-done) */
        o->direct_fd = alias >= 0 ? fcntl(alias, F_DUPFD_CLOEXEC, 3) : open_through(ctx, path, o->target, alias == -3);
        if (o->direct_fd < 0) return io_fail(ctx, o, "cannot open for writing", errno);
        /* in $TMPDIR: tmpfile() always takes /tmp, on a cluster's nodes often small where TMPDIR names
         * the large scratch space (the ranks' shares of a tensor are staged here) */
        const char *dir = staging_dir();
        char what[PATH_MAX + 64];
        if (!(o->fp = staging_file(dir))) {
            const int e = errno;
            close(o->direct_fd);
            o->direct_fd = -1;
            snprintf(what, sizeof what, "cannot write (no temporary file in %s)", dir);
            return io_fail(ctx, o, what, e);
        }
        return VGGCL_OK;
    }
    /* a file that is there keeps its permissions; a new one gets mode less the umask */
    const int keep = stat(o->target, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
    if ((fd = create_temp(o->target, o->replace, mode, o->tmp, sizeof o->tmp)) < 0) {
        const int e = errno;
        char dir[sizeof o->target];
        o->tmp[0] = '\0';
        folder_of(o->target, dir, sizeof dir);
        if (e == ENOENT && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) /* (one that makes no files, as /proc: the
                                                                         * kernel's word was of a folder not there) */
            return vggcl__fail_os(ctx, e, "%s: cannot create the output: its folder %s takes no new files (No "
                                  "such file or directory)", path, dir);
        return io_fail(ctx, o, "cannot create the output", e);
    }
    if (keep >= 0 && !(flags & VGGCL_OUTPUT_REPLACE)) fchmod(fd, (mode_t)keep);
    o->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* (its lock kept past fp's close at ready, to the rename) */
    if (!(o->fp = fdopen(fd, "wb"))) {
        const int e = errno;
        close(fd);
        unlock_temp(o);
        if (o->tmp[0]) unlink(o->tmp);
        o->tmp[0] = '\0';
        return io_fail(ctx, o, "cannot write", e);
    }
    o->opened = 1;
    return VGGCL_OK;
}

/* Copies the staged file to the direct target, with SIGPIPE held back: a reader that went away is a
 * write error (EPIPE), not the end of the caller's process. */
static int copy_out(FILE *from, int fd, int *staging)
{
    char buf[1 << 16];
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    int ok = fflush(from) == 0 && fseek(from, 0, SEEK_SET) == 0, e = ok ? 0 : errno;
    *staging = !ok;
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, from)) > 0)
        for (size_t done = 0; ok && done < n;) {
            const ssize_t w = write(fd, buf + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { /* (a pipe shared with a non-blocking */
                struct pollfd pf = { fd, POLLOUT, 0 };                 /* writer, full: the reader is slow) */
                if (poll(&pf, 1, -1) < 0 && errno != EINTR) ok = 0, e = errno; /* (ENOMEM: said, not a spin) */
                continue;
            }
            if (w <= 0) ok = 0, e = w < 0 ? errno : EIO;
            else done += (size_t)w;
        }
    if (ok && ferror(from)) ok = 0, e = EIO, *staging = 1;
    if (!sigismember(&old, SIGPIPE)) { /* drop the SIGPIPE this thread raised, then let them through again */
        sigset_t pending;
        const struct timespec now = { 0, 0 };
        while (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) && sigtimedwait(&pipe_only, NULL, &now) > 0)
            ;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    errno = e;
    return ok;
}

vggcl_status vggcl__output_ready(vggcl_ctx *ctx, vggcl__output *o, int ok)
{
    if (!o->fp) return VGGCL_OK; /* (ready already) */
    int e = ok ? 0 : errno;
    if (o->direct_fd >= 0) {
        int staging = !ok; /* (the writer's failure was the staged copy's: the output is written only here) */
        if (ok && !copy_out(o->fp, o->direct_fd, &staging)) ok = 0, e = errno;
        if (!ok && staging) vggcl__output_write_failed(ctx, o, e ? e : EIO);
        fclose(o->fp); /* the temporary file: only read */
        if (close(o->direct_fd) != 0 && ok) ok = 0, e = errno;
        o->fp = NULL;
        o->direct_fd = -1;
        return ok ? VGGCL_OK : staging ? VGGCL_ERR_IO : io_fail(ctx, o, "cannot write", e ? e : EIO);
    }
    /* durable before it is visible: the data here, the name at commit */
    if (ok && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0)) ok = 0, e = errno;
    if (ok && !o->tmp[0] && !name_temp(fileno(o->fp), o->target, o->replace, o->tmp, sizeof o->tmp)) ok = 0, e = errno;
    if (fclose(o->fp) != 0 && ok) ok = 0, e = errno;
    o->fp = NULL;
    if (ok) return VGGCL_OK; /* (still locked, through lock_fd, until its rename) */
    if (o->tmp[0]) unlink(o->tmp);
    o->tmp[0] = '\0';
    unlock_temp(o);
    return io_fail(ctx, o, "cannot write", e ? e : EIO);
}

vggcl_status vggcl__output_commit(vggcl_ctx *ctx, vggcl__output *o, int ok)
{
    const vggcl_status st = vggcl__output_ready(ctx, o, ok);
    if (st != VGGCL_OK || !o->tmp[0]) return st; /* (written directly, or committed before: nothing to name) */
    const int renamed = rename(o->tmp, o->target) == 0, e = errno;
    if (!renamed) unlink(o->tmp);
    o->tmp[0] = '\0';
    unlock_temp(o);
    if (!renamed) return io_fail(ctx, o, "cannot write", e ? e : EIO);
    char dir[PATH_MAX];
    folder_of(o->target, dir, sizeof dir);
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) fsync(dfd), close(dfd); /* the rename is durable (best effort: some file systems refuse) */
    if (o->replace) sweep_temps(dir, CACHE_TEMP, 0); /* (a process ended between a file's temporary name and its
                                                      * rename left one for good; another's is there milliseconds) */
    return VGGCL_OK;
}

vggcl_status vggcl__output_write_failed(vggcl_ctx *ctx, const vggcl__output *o, int err)
{
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "cannot write its copy staged in %s (TMPDIR)", staging_dir());
    return io_fail(ctx, o, o->direct_fd >= 0 ? what : "cannot write", err);
}

void vggcl__output_abort(vggcl__output *o)
{
    if (o->fp) fclose(o->fp);
    if (o->direct_fd >= 0) close(o->direct_fd);
    if (o->tmp[0]) unlink(o->tmp);
    unlock_temp(o);
    o->fp = NULL;
    o->direct_fd = -1;
    o->tmp[0] = '\0';
}

int vggcl_remove_output(const char *path)
{
    char target[PATH_MAX];
    return path && output_regular(path, target, sizeof target) && unlink(target) == 0;
}
