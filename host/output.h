/* Output files, one mechanism for every writer (host/io/output.c): a regular
 * file, new or old, is written to a temporary file beside it (a new one
 * created with the given mode, so the umask applies; an old one keeps its
 * permissions), fsynced and renamed over it, and the folder fsynced; a
 * symlink is followed and its target written that way; "-", aliases of open
 * descriptors (/dev/stdout, /proc/self/fd/N), devices and FIFOs are never
 * replaced: the writer writes to a temporary file that is copied to them at
 * commit (a reader gone away is an error, EPIPE, not a SIGPIPE). */
#ifndef VGGCL_OUTPUT_H
#define VGGCL_OUTPUT_H

#include <limits.h>
#include <stdio.h>

#include "internal.h"

enum {
    VGGCL_OUTPUT_REPLACE = 1, /* the caches: whatever is at path is replaced, never followed or written into */
};

typedef struct {
    char path[PATH_MAX];       /* as given, for messages */
    char target[PATH_MAX];     /* the file renamed over: path with its symlinks followed */
    char tmp[PATH_MAX + 32];   /* the temporary file beside target ("" when written directly, or while it
                                * has no name: O_TMPFILE, named at commit) */
    FILE *fp;                  /* what the writer writes to (it may seek) */
    int direct_fd;             /* -1, or the device, pipe or standard output fp is copied to at commit */
    int opened;                /* its temporary file was made (a folder missing later was removed meanwhile) */
    int lock_fd;               /* -1, or a second descriptor of the temporary file holding its lock (flock) from
                                * its creation to its rename, past fp's close at ready: sweep_orphans passes it by */
    int replace;               /* VGGCL_OUTPUT_REPLACE: a cache's file, in a folder of vggcl's own (its stale
                                * temporary files removed at commit) */
} vggcl__output;

/* Opens path for writing; mode: 0666 for outputs, 0600 for the caches. On failure the context's
 * message names the path and the reason, and nothing is left behind. */
vggcl_status vggcl__output_open(vggcl_ctx *ctx, const char *path, int mode, int flags, vggcl__output *o);
/* ok: the writer's own writes succeeded (else errno says why). Makes the output durable and visible,
 * or, on any failure, removes the temporary file and reports. */
vggcl_status vggcl__output_commit(vggcl_ctx *ctx, vggcl__output *o, int ok);
/* The same but for the name: the data durable (a device or pipe written), so that a commit after it
 * only renames (callers naming several files all or none ready each first); a failure as commit's.
 * vggcl__output_abort after it removes the file. */
vggcl_status vggcl__output_ready(vggcl_ctx *ctx, vggcl__output *o, int ok);

/* Drops an output that will not be committed (a direct target gets nothing). */
void vggcl__output_abort(vggcl__output *o);
/* The writer's own write to o->fp failed with err (before commit): said, naming the path, or for a direct
 * target the copy staged in $TMPDIR (a full TMPDIR is not the pipe's). */
vggcl_status vggcl__output_write_failed(vggcl_ctx *ctx, const vggcl__output *o, int err);


#endif
