/* Where every output file goes (host/output.h): a regular file (or a new
 * one) is written to a temporary file beside it, made durable and renamed
 * over it, so a reader never sees half of it and a failed write leaves what
 * was there; a symlink is followed and its target written that way; a device,
 * a pipe, a socket, "-" or /dev/stdout is written directly, since renaming
 * over it would replace the node instead of writing into it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

/* The final name behind a chain of symlinks (which may not exist yet). 0 when the chain loops or is too long. */
static int follow_links(const char *path, char *out, size_t len)
{
    char cur[PATH_MAX], link[PATH_MAX];
    if (snprintf(cur, sizeof cur, "%s", path) >= (int)sizeof cur) return 0;
    for (int hops = 0; hops < 40; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) return snprintf(out, len, "%s", cur) < (int)len;
        const ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) return 0;
        link[n] = '\0';
        if (link[0] == '/') {
            memcpy(cur, link, (size_t)n + 1);
        } else { /* relative to the link's folder */
            char *slash = strrchr(cur, '/');
            const size_t dir = slash ? (size_t)(slash - cur) + 1 : 0;
            if (dir + (size_t)n + 1 > sizeof cur) return 0;
            memcpy(cur + dir, link, (size_t)n + 1);
        }
    }
    errno = ELOOP;
    return 0;
}

/* A new file beside target, named target.tmp.XXXXXX, created with mode (the umask applies). */
static int create_temp(const char *target, int mode, char *tmp, size_t len)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec * 6364136223846793005ULL ^ (unsigned long long)getpid() ^
                           (unsigned long long)(size_t)tmp;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            suffix[i] = digits[(x >> 33) % 36];
        }
        suffix[6] = '\0';
        if (snprintf(tmp, len, "%s.tmp.%s", target, suffix) >= (int)len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

static vggcl_status io_fail(vggcl_ctx *ctx, const vggcl__output *o, const char *what, int err)
{
    char eb[128];
    return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: %s: %s", o->path, what, vggcl__strerror(err, eb, sizeof eb));
}

vggcl_status vggcl__output_open(vggcl_ctx *ctx, const char *path, int mode, int flags, vggcl__output *o)
{
    struct stat sb;
    int fd = -1;
    memset(o, 0, sizeof *o);
    o->direct_fd = -1;
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: path too long", path);
    if (flags & VGGCL_OUTPUT_REPLACE) {
        snprintf(o->target, sizeof o->target, "%s", path);
    } else if (!strcmp(path, "-") || (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))) {
        if (strcmp(path, "-") && S_ISDIR(sb.st_mode))
            return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: is a folder; expected a file to write", path);
        /* standard output, a device, a pipe: written directly (through any symlink: /dev/stdout) */
        o->direct_fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CLOEXEC) : dup(STDOUT_FILENO);
        if (o->direct_fd < 0) return io_fail(ctx, o, "cannot open for writing", errno);
        /* a writer that seeks back writes to a temporary file first, copied over at the end */
        if ((o->staged = (flags & VGGCL_OUTPUT_SEEKS) != 0)) o->fp = tmpfile();
        else if ((fd = dup(o->direct_fd)) >= 0 && !(o->fp = fdopen(fd, "wb"))) close(fd);
        if (!o->fp) {
            const int e = errno;
            close(o->direct_fd);
            return io_fail(ctx, o, "cannot write", e);
        }
        return VGGCL_OK;
    } else if (!follow_links(path, o->target, sizeof o->target)) {
        return io_fail(ctx, o, "cannot follow the symlink", errno);
    }
    if ((fd = create_temp(o->target, mode, o->tmp, sizeof o->tmp)) < 0)
        return io_fail(ctx, o, "cannot create the output", errno);
    if (!(o->fp = fdopen(fd, "wb"))) {
        const int e = errno;
        close(fd);
        unlink(o->tmp);
        return io_fail(ctx, o, "cannot write", e);
    }
    return VGGCL_OK;
}

/* Copies the staged file to the direct target. */
static int copy_out(FILE *from, int fd)
{
    char buf[1 << 16];
    if (fflush(from) != 0 || fseek(from, 0, SEEK_SET) != 0) return 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        for (size_t done = 0; done < n;) {
            const ssize_t w = write(fd, buf + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return 0;
            done += (size_t)w;
        }
    return !ferror(from);
}

vggcl_status vggcl__output_commit(vggcl_ctx *ctx, vggcl__output *o, int ok)
{
    if (!o->fp) return VGGCL_OK;
    int e = ok ? 0 : errno;
    if (o->direct_fd >= 0) {
        if (ok && o->staged && !copy_out(o->fp, o->direct_fd)) ok = 0, e = errno;
        if (fclose(o->fp) != 0 && ok) ok = 0, e = errno;
        if (close(o->direct_fd) != 0 && ok) ok = 0, e = errno;
        o->fp = NULL;
        o->direct_fd = -1;
        return ok ? VGGCL_OK : io_fail(ctx, o, "cannot write", e ? e : EIO);
    }
    /* durable before it is visible: the data, then the name (the folder) */
    if (ok && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0)) ok = 0, e = errno;
    if (fclose(o->fp) != 0 && ok) ok = 0, e = errno;
    o->fp = NULL;
    if (ok && rename(o->tmp, o->target) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(o->tmp);
        return io_fail(ctx, o, "cannot write", e ? e : EIO);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", o->target);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    const int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) fsync(dfd), close(dfd); /* the rename is durable (best effort: some file systems refuse) */
    return VGGCL_OK;
}

void vggcl__output_abort(vggcl__output *o)
{
    if (o->fp) fclose(o->fp);
    if (o->direct_fd >= 0) close(o->direct_fd);
    if (o->tmp[0]) unlink(o->tmp);
    o->fp = NULL;
    o->direct_fd = -1;
}
