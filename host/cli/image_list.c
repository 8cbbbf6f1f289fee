/* The images a command is given: files, and folders for the images in them, as arguments or in a list
 * (cli_images, cli_expand_images), and messages that name an image. */
#define _DEFAULT_SOURCE /* struct dirent's d_type, DT_DIR */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Whether name ends in one of CLI_IMAGE_EXTENSIONS (any case): the list the messages show is the one read. */
static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    const size_t len = dot ? strlen(dot) : 0;
    for (const char *e = CLI_IMAGE_EXTENSIONS; dot && *e; e += strspn(e, ", ")) {
        const size_t n = strcspn(e, ", ");
        if (n == len && !strncasecmp(dot, e, n)) return 1;
        e += n;
    }
    return 0;
}

/* Counts path into *n and keeps the first of them in a listing's order in *first, to name (readdir's order is
 * the file system's); path is taken: kept or freed. */
static void left_out(int *n, char **first, char *path)
{
    ++*n;
    if (*first && cli_name_cmp(path, strlen(path), *first, strlen(*first)) >= 0) {
        free(path);
        return;
    }
    free(*first);
    *first = path;
}

void cli_left_out_say(cli_left_out *o)
{
    if (o->lost && cli_usage_said()) /* (once under mpirun: every rank lists the same) */
        cli_error(CLI_OK, "passed over %d lost+found folder%s this user cannot read (a filesystem's, kept by root), "
                          "such as %s", o->lost, o->lost == 1 ? "" : "s", o->lost_first ? o->lost_first : "");
    free(o->lost_first);
    *o = (cli_left_out){ 0 };
}

/* The code point at *s, *s moved past it: a valid UTF-8 sequence's (cli_utf8_len), else U+DC80..U+DCFF for its
 * first byte, as Python's os.fsdecode (surrogateescape) makes a stray byte. */
static unsigned long name_point(const unsigned char **s)
{
    const int n = cli_utf8_len(*s);
    const unsigned long cp = n ? cli_code_point(*s, n) : 0xDC00u + **s;
    *s += n ? n : 1;
    return cp;
}

int cli_name_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    const unsigned char *const p_end = p + na, *const q_end = q + nb;
    while (p < p_end && q < q_end) {
        if (*p == *q && *p < 0x80) { /* (the common case: ASCII alike) */
            p++, q++;
            continue;
        }
        const unsigned long x = name_point(&p), y = name_point(&q); /* (a sequence ends before a '/' or a NUL) */
        if (x != y) return x < y ? -1 : 1;
    }
    return p < p_end ? 1 : q < q_end ? -1 : 0;
}

/* Paths in the order torchvision's ImageFolder finds files under a folder, sorted(os.walk(folder))
 * and each folder's files sorted: by the folder's path, then by name (as Python's strings:
 * cli_name_cmp). A folder's files come before its sub-folders', but after a sibling folder
 * whose name extends its own with a character below '/' ("a" < "a-b" < "a/c"). */
static int cmp_walk(const void *a, const void *b)
{
    const char *p = *(char *const *)a, *q = *(char *const *)b;
    const size_t dp = (size_t)(strrchr(p, '/') - p), dq = (size_t)(strrchr(q, '/') - q);
    const int c = cli_name_cmp(p, dp, q, dq);
    return c ? c : cli_name_cmp(p + dp, strlen(p + dp), q + dq, strlen(q + dq));
}

static int append(char ***list, int *n, char *path)
{
    char **grown = path ? realloc(*list, sizeof **list * (size_t)(*n + 1)) : NULL;
    if (!grown) {
        free(path);
        return 0;
    }
    *list = grown;
    (*list)[(*n)++] = path;
    return 1;
}

const char *cli_sep(const char *dir) { return *dir && dir[strlen(dir) - 1] == '/' ? "" : "/"; }

char *cli_join(const char *dir, const char *name)
{
    const size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s%s%s", dir, cli_sep(dir), name);
    return p;
}

/* The folders from the file system's root down to this one, by device and inode: a link to a folder the walk is
 * already inside, or to one above its top (a class folder's link to the data set: the other classes' images taken
 * as its own), is not followed. */
typedef struct up {
    dev_t dev;
    ino_t ino;
    const struct up *parent;
} up;

/* Whether the folder entry e, at path, is a folder, through a link too, as os.walk's is_dir(). */
static int entry_is_dir(const struct dirent *e, const char *path)
{
    struct stat sb;
    return e->d_type == DT_DIR ||
           ((e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
}

/* Appends dir's image files (and with recursive, those below it, through symbolic links too), in
 * no order; names starting with '.' are left out. A folder that cannot be read is an error, below
 * the top one too (os.walk passes over it, and its images went unsaid), but for a lost+found below the
 * top this user may not read (every mounted disk's root has one: counted in other). CLI_OK, or CLI_FAIL
 * with the message printed. */
static int walk(const char *dir, const struct stat *sb, const up *parent, int recursive, char ***list, int *n,
                cli_left_out *other)
{
    const up here = { sb->st_dev, sb->st_ino, parent };
    for (const up *u = parent; u; u = u->parent)
        if (u->dev == here.dev && u->ino == here.ino) return CLI_OK;
    DIR *d = opendir(dir);
    const char *slash = strrchr(dir, '/');
    if (!d && errno == EACCES && parent && other && !strcmp(slash ? slash + 1 : dir, "lost+found")) {
        char *copy = strdup(dir); /* (a mounted disk's, root's alone: os.walk passes over it without a word) */
        if (!copy) return cli_error(CLI_FAIL, "out of host memory listing %s", dir);
        left_out(&other->lost, &other->lost_first, copy);
        return CLI_OK;
    }
    if (!d) return cli_error(CLI_FAIL, "%s: cannot read the folder: %s", dir, strerror(errno));
    char **subs = NULL;
    int n_subs = 0, ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.' || (!recursive && !has_image_ext(e->d_name))) continue;
        char *path = cli_join(dir, e->d_name);
        const int is_dir = path && entry_is_dir(e, path);
        if (!path) ok = 0;
        else if (is_dir && recursive) ok = append(&subs, &n_subs, path);
        else if (!is_dir && has_image_ext(e->d_name)) ok = append(list, n, path);
        else free(path);
    }
    closedir(d);
    int rc = ok ? CLI_OK : cli_error(CLI_FAIL, "out of host memory listing %s", dir);
    for (int i = 0; i < n_subs; i++) {
        struct stat ssb; /* (one that cannot be stat'ed, in a folder this user may list but not enter, or past
                          * PATH_MAX, was passed over without a word) */
        if (rc == CLI_OK && stat(subs[i], &ssb) != 0)
            rc = cli_error(CLI_FAIL, "%s: cannot read the folder: %s", subs[i], strerror(errno));
        if (rc == CLI_OK) rc = walk(subs[i], &ssb, &here, recursive, list, n, other);
        free(subs[i]);
    }
    free(subs);
    return rc;
}

/* The folders above dir (its real path's), from the root down, into *chain (malloc'd, freed by the caller): the
 * innermost, or NULL (dir the root, or no memory: the walk then prunes below its top alone). */
static const up *above(const char *dir, up **chain)
{
    char *real = realpath(dir, NULL);
    size_t depth = 0;
    *chain = NULL;
    for (const char *c = real; c && *c; c++) depth += *c == '/';
    if (!real || !real[1] || !(*chain = malloc(sizeof **chain * depth))) {
        free(real);
        return NULL;
    }
    const up *parent = NULL;
    size_t k = 0;
    const char *top = strrchr(real, '/'); /* (real is /a/b/top: the folders /, /a and /a/b) */
    for (char *at = real; at && at <= top && k < depth; at = strchr(at + 1, '/')) {
        const size_t len = at == real ? 1 : (size_t)(at - real);
        const char kept = real[len];
        struct stat sb;
        real[len] = '\0';
        if (stat(real, &sb) == 0) {
            (*chain)[k] = (up){ sb.st_dev, sb.st_ino, parent };
            parent = &(*chain)[k++];
        }
        real[len] = kept;
    }
    free(real);
    return parent;
}

int cli_expand_images(const char *path, int recursive, char ***list, int *n, cli_left_out *other)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return append(list, n, strdup(path)) ? CLI_OK : cli_error(CLI_FAIL, "out of host memory");
    up *chain;
    const up *parent = recursive ? above(path, &chain) : (chain = NULL, NULL);
    const int start = *n, rc = walk(path, &sb, parent, recursive, list, n, other);
    free(chain);
    if (*n - start > 1) qsort(*list + start, (size_t)(*n - start), sizeof **list, cmp_walk);
    return rc;
}

int cli_holds_folder(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = cli_join(dir, e->d_name);
        found = path && entry_is_dir(e, path);
        free(path);
    }
    if (d) closedir(d);
    return found;
}

/* How take walks a folder: WALK_RECURSIVE, --recursive given; WALK_CAN_RECURSE, the command takes it. */
enum { WALK_RECURSIVE = 1, WALK_CAN_RECURSE = 2 };

/* path, a positional argument or an entry of --files-from's list, into the list: CLI_OK, or an error said. */
static int take(const char *cmd, const char *path, int walk_flags, char ***files, int *n, cli_left_out *other)
{
    struct stat sb;
    const int before = *n;
    const size_t len = strlen(path);
    const int err = len > 1 && path[len - 1] == '/' ? stat(path, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR
                                                    : 0;
    if (err) /* (a folder's name alone: it was one unreadable image, the run's status that of a few bad ones') */
        return cli_error_here(CLI_USAGE, "%s: %s: %s (a path ending in / names a folder)", cmd, path,
                              err == ENOENT || err == ENOTDIR ? "no such folder" : strerror(err));
    if (cli_expand_images(path, walk_flags & WALK_RECURSIVE, files, n, other) != CLI_OK) return CLI_FAIL;
    if (*n == before && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* (an ImageFolder's root, without a hint) */
        return cli_error_here(CLI_USAGE, "%s: %s holds no " CLI_IMAGE_FORMATS " images (" CLI_IMAGE_EXTENSIONS ")%s",
                              cmd, path, walk_flags == WALK_CAN_RECURSE && cli_holds_folder(path)
                                             ? "; it holds folders: --recursive takes the images in them" : "");
    return CLI_OK;
}

/* Whether --files-from's from names standard input: "-", or one of its aliases (/dev/stdin, /dev/fd/0). */
static int is_stdin(const char *from) { return !strcmp(from, "-") || vggcl_output_descriptor(from) == STDIN_FILENO; }

/* The whole of --files-from's list (from; -: standard input) in *text, *len bytes and a NUL after them:
 * CLI_OK, or CLI_FAIL said. */
static int read_list(const char *cmd, const char *from, char **text, size_t *len)
{
    const int std = is_stdin(from);
    const char *name = std ? "standard input" : from;
    if (!std && cli_named_fifo(from)) /* (it waited for a writer, for good) */
        return cli_error(CLI_FAIL, "%s: --files-from %s: a FIFO given by its name is not waited on (give a file, or "
                                   "the list through <(...) or standard input)", cmd, name);
    const int fd = std ? STDIN_FILENO : open(from, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cli_error(CLI_FAIL, "%s: --files-from %s: cannot open the list: %s", cmd, name, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, got = 0, entry = 0; /* the current entry starts at buf[entry] */
    int err = 0;
    for (;;) {
        if (cap - got < 2) {
            char *grown = cap < ((size_t)1 << 40) ? realloc(buf, cap ? 2 * cap : 1 << 16) : NULL;
            if (!grown) {
                err = ENOMEM;
                break;
            }
            buf = grown, cap = cap ? 2 * cap : 1 << 16;
        }
        const ssize_t r = read(fd, buf + got, cap - got - 1);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { /* (a non-blocking standard input: it failed) */
            struct pollfd pf = { fd, POLLIN, 0 };
            if (poll(&pf, 1, -1) < 0 && errno != EINTR) err = errno;
        } else if (r < 0 && errno != EINTR) {
            err = errno; /* (a folder: EISDIR) */
        }
        if (err || !r) break;
        const size_t end = got + (r > 0 ? (size_t)r : 0);
        int empty_nul = 0; /* (a NUL at the start or after another: refused below; /dev/zero was read to the end
                            * of memory first) */
        for (; got < end && got - entry <= CLI_LINE_MAX && !empty_nul; got++) /* (each entry: one within a read) */
            if (buf[got] == '\n' || buf[got] == '\0') {
                empty_nul = buf[got] == '\0' && (!got || buf[got - 1] == '\0');
                entry = got + 1;
            }
        if (got - entry > CLI_LINE_MAX || empty_nul) break; /* (the rest is not read: not a list) */
    }
    if (!std) close(fd);
    int too_long = !err && got - entry > CLI_LINE_MAX;
    /* a list of NUL-terminated entries (take_list) is measured by them alone: a path may hold a newline; and
     * none is empty (find -print0 writes none; a binary file has NULs in a row: an image or weights file given
     * as the list was read as thousands of paths) */
    size_t empty = got;
    if (!err && !too_long && memchr(buf, '\0', got))
        for (size_t at = 0, end; at < got && !too_long && empty == got; at = end + 1) {
            const char *nul = memchr(buf + at, '\0', got - at);
            end = nul ? (size_t)(nul - buf) : got;
            if ((too_long = end - at > CLI_LINE_MAX)) entry = at;
            if (end == at) empty = at;
        }
    if (empty < got) {
        free(buf);
        return cli_error(CLI_FAIL, "%s: --files-from %s: an empty entry (a NUL byte after another) at byte %zu: not a "
                                   "list of paths (a binary file, an image? images are given as arguments; "
                                   "NUL-terminated paths, as find -print0 writes them)", cmd, name, empty);
    }
    if (too_long) {
        free(buf);
        return cli_error(CLI_FAIL, "%s: --files-from %s: more than %d bytes from byte %zu on without an entry's end: "
                                   "not a list of paths (one per line, or NUL-terminated)", cmd, name, CLI_LINE_MAX,
                         entry);
    }
    /* a UTF-8 byte order mark before a list of lines, as a Windows editor writes it: not the first path's, as for
     * --labels; a NUL-terminated list is a program's, byte for byte (find's first name that began with one lost it) */
    if (!err && got >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) && !memchr(buf, '\0', got))
        memmove(buf, buf + 3, got -= 3);
    if (err) {
        free(buf);
        return cli_error(CLI_FAIL, "%s: --files-from %s: cannot read the list: %s", cmd, name, strerror(err));
    }
    buf[got] = '\0';
    *text = buf, *len = got;
    return CLI_OK;
}

/* The entries of --files-from's list into the list: NUL-terminated where it holds a NUL byte (no path holds
 * one), else lines (a CR before the LF left out); empty ones passed over. */
static int take_list(const char *cmd, const char *from, int walk_flags, char ***files, int *n, cli_left_out *other)
{
    char *text = NULL;
    size_t len = 0;
    if (read_list(cmd, from, &text, &len) != CLI_OK) return CLI_FAIL;
    const char sep = memchr(text, '\0', len) ? '\0' : '\n';
    int rc = CLI_OK;
    for (size_t at = 0; at < len && rc == CLI_OK;) {
        char *entry = text + at, *end = memchr(entry, sep, len - at);
        size_t n_entry = end ? (size_t)(end - entry) : len - at;
        at += n_entry + 1;
        if (sep == '\n' && n_entry && entry[n_entry - 1] == '\r') n_entry--;
        entry[n_entry] = '\0';
        if (n_entry) rc = take(cmd, entry, walk_flags, files, n, other);
    }
    free(text);
    return rc;
}

static int from_rank_0; /* the list is rank 0's alone: the others take it from it (cli_ranks_begin) */

int cli_images_from_rank_0(void) { return from_rank_0; }

const char *cli_files_from(const cli_args *a)
{
    const char *from = cli_arg(a, "files-from");
    return from && !is_stdin(from) ? from : NULL;
}

/* cli_images, its messages said. */
static int images(const char *cmd, const cli_args *a, char ***files, int *n)
{
    cli_left_out other = { 0 };
    const int walk_flags = (cli_arg(a, "recursive") ? WALK_RECURSIVE : 0) |
                           (cli_has_option(a, "recursive") ? WALK_CAN_RECURSE : 0);
    const char *from = cli_arg(a, "files-from");
    int rc = CLI_OK;
    if (from && is_stdin(from) && isatty(STDIN_FILENO)) /* (it waited for typing, unsaid) */
        return cli_error(CLI_USAGE, "%s: --files-from %s: standard input is a terminal; pipe the list into it", cmd,
                         from);
    /* under mpirun standard input is rank 0's: it lists the images (the arguments' too), the others none */
    from_rank_0 = from && is_stdin(from) && cli_ranks_several(cli_arg(a, "shard"));
    if (from_rank_0 && !cli_ranks_writes(cli_arg(a, "shard"))) return CLI_OK;
    for (int i = 0; i < a->n_pos && rc == CLI_OK; i++) rc = take(cmd, a->pos[i], walk_flags, files, n, &other);
    if (rc == CLI_OK && from) rc = take_list(cmd, from, walk_flags, files, n, &other);
    cli_left_out_say(&other);
    if (rc != CLI_OK) return rc;
    if (!*n && from && !a->n_pos)
        return cli_error(CLI_USAGE, "%s: --files-from %s names no image or folder", cmd,
                         strcmp(from, "-") ? from : "- (standard input)");
    if (!*n) return cli_error(CLI_USAGE, "%s: give at least one image or folder of images", cmd);
    return CLI_OK;
}

int cli_images(const char *cmd, const cli_args *a, char ***files, int *n)
{
    /* under mpirun, held from here to cli_take_share, which says them once MPI runs: once where every rank met
     * them alike (an empty folder, a list not there: each rank said it) */
    cli_messages_hold(cli_ranks_several(cli_arg(a, "shard")));
    return images(cmd, a, files, n);
}

char *cli_image_message(const vggcl_ctx *ctx, const char *path)
{
    const char *msg = vggcl_message(ctx);
    const size_t len = strlen(path) + strlen(msg) + 3;
    char *out = malloc(len);
    if (!out) return NULL;
    if (!strncmp(msg, path, strlen(path))) snprintf(out, len, "%s", msg); /* the decoders' messages start with it */
    else snprintf(out, len, "%s: %s", path, msg);
    return out;
}
