/* Output files, one mechanism for every writer (host/io/output.c): a regular
 * file, new or old, is written to a temporary file beside it (created with
 * the given mode, so the umask applies), fsynced and renamed over it, and the
 * folder fsynced; a symlink is followed and its target written that way; "-",
 * devices, pipes and sockets (/dev/stdout, /dev/full, a FIFO) are written
 * directly and never replaced. */
#ifndef VGGCL_OUTPUT_H
#define VGGCL_OUTPUT_H

#include <limits.h>
#include <stdio.h>

#include "internal.h"

enum {
    VGGCL_OUTPUT_SEEKS = 1,   /* the writer seeks back (a direct target then gets a staged copy at commit) */
    VGGCL_OUTPUT_REPLACE = 2, /* the caches: whatever is at path is replaced, never followed or written into */
};

typedef struct {
    char path[PATH_MAX];       /* as given, for messages */
    char target[PATH_MAX];     /* the file renamed over: path with its symlinks followed */
    char tmp[PATH_MAX + 16];   /* the temporary file beside target ("" when written directly) */
    FILE *fp;                  /* what the writer writes to */
    int direct_fd;             /* -1, or the device, pipe or standard output written directly */
    int staged;                /* fp is a temporary file copied to direct_fd at commit */
} vggcl__output;

/* Opens path for writing; mode: 0666 for outputs, 0600 for the caches. On failure the context's
 * message names the path and the reason, and nothing is left behind. */
vggcl_status vggcl__output_open(vggcl_ctx *ctx, const char *path, int mode, int flags, vggcl__output *o);
/* ok: the writer's own writes succeeded (else errno says why). Makes the output durable and visible,
 * or, on any failure, removes the temporary file and reports. */
vggcl_status vggcl__output_commit(vggcl_ctx *ctx, vggcl__output *o, int ok);
/* Drops an output that will not be committed (a direct target keeps what was written). */
void vggcl__output_abort(vggcl__output *o);

#endif
