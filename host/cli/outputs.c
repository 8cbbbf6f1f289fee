/* The commands' output files, checked before any work: one that would replace
 * what the command reads (the weights, an image) or another output, and one
 * whose folder is not there, are refused at once, not found after the whole
 * run (or never: a replaced input went unnoticed, exit 0). And where a
 * command's report goes when an output is standard output. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_is_stdout(const char *path)
{
    static const char *const names[] = { "-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1" };
    struct stat a, b;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(path, names[i])) return 1;
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

static void identify(const char *path, file_id *id)
{
    struct stat sb;
    char dir[PATH_MAX], real[PATH_MAX];
    memset(id, 0, sizeof *id);
    if (!strcmp(path, "-")) return;
    if (stat(path, &sb) == 0) {
        if (S_ISREG(sb.st_mode)) id->kind = 1, id->dev = sb.st_dev, id->ino = sb.st_ino;
        return;
    }
    folder_of(path, dir, sizeof dir);
    if (realpath(dir, real)) id->kind = 2, snprintf(id->where, sizeof id->where, "%s/%s", real, base_name(path));
}

static int same(const file_id *a, const file_id *b)
{
    return a->kind && a->kind == b->kind &&
           (a->kind == 1 ? a->dev == b->dev && a->ino == b->ino : !strcmp(a->where, b->where));
}

/* Whether the folder an output is created in is there and writable: CLI_OK, or CLI_FAIL said. */
static int folder_ready(const char *cmd, const cli_file *o)
{
    struct stat sb;
    char dir[PATH_MAX];
    if (!strcmp(o->path, "-") || stat(o->path, &sb) == 0) return CLI_OK; /* (there: the writer says what it finds) */
    if (lstat(o->path, &sb) == 0) return CLI_OK; /* (a link to a file not there yet: followed by the writer) */
    folder_of(o->path, dir, sizeof dir);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_error(CLI_FAIL, "%s: %s %s: the folder %s %s", cmd, o->opt, o->path, dir,
                         stat(dir, &sb) != 0 ? "does not exist" : "is not a folder");
    if (access(dir, W_OK | X_OK) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        return cli_error(CLI_FAIL, "%s: %s %s: cannot create it in %s: %s", cmd, o->opt, o->path, dir, eb);
    }
    return CLI_OK;
}

int cli_outputs_check(const char *cmd, const cli_file *outs, int n_out, const cli_file *ins, int n_in,
                      char *const *images, int n_images)
{
    file_id o, other;
    for (int i = 0; i < n_out; i++) {
        if (!outs[i].path) continue;
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
            identify(ins[k].path, &other);
            if (same(&o, &other))
                return cli_error(CLI_USAGE, "%s: %s %s is the file %s %s: it would be replaced", cmd, outs[i].opt,
                                 outs[i].path, ins[k].opt, ins[k].path);
        }
    }
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
