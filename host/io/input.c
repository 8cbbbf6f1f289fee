/* Opening the files vggcl reads (weights, .npy tensors, images): regular files only, and
 * without blocking on a FIFO, which fopen would wait on for a writer that never comes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char *vggcl__path_shown(const char *path) { return *path ? path : "'' (an empty path)"; }

FILE *vggcl__open_input(const char *path, int flags, struct stat *sb_out, int *err)
{
    struct stat sb = { 0 }; /* (read below where fstat failed) */
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags); /* (O_NONBLOCK cleared below for a regular file) */
    FILE *f = NULL;
    *err = 0;
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    errno = 0; /* (the system's reason where a call below fails: fdopen's ENOMEM was said as not a regular file) */
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0)
        f = fdopen(fd, "rb");
    if (!f) {
        *err = errno ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0; /* (0: not a regular file) */
        close(fd);
    } else if (sb_out) {
        *sb_out = sb;
    }
    return f;
}

int vggcl__read_error(FILE *f)
{
    char byte;
    const int fd = fileno(f);
    const off_t at = lseek(fd, 0, SEEK_CUR);
    while (at >= 0 && pread(fd, &byte, 1, at) < 0)
        if (errno != EINTR) return errno;
    return ferror(f) ? -1 : 0;
}

const char *vggcl__read_error_text(int err, char *buf, size_t len)
{
    return err > 0 ? vggcl__strerror(err, buf, len)
                   : "a read failed, and reads now (interrupted, or a passing fault): try again";
}
