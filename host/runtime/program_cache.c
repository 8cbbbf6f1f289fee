/* On-disk cache of compiled program binaries, keyed by a hash of the source,
 * the build options, the device and the driver; written to a temporary name
 * and renamed (host/io/output.c), so a reader never sees half a file. Each
 * entry starts with a header holding that key and the binary's length and
 * checksum: drivers load a binary with little checking (PoCL crashed on a
 * truncated one and ran another program's under the wrong name), so one
 * damaged, cut short or not this program's is refused, with a note, and
 * built from source again. A missing entry just means a build from source.
 * Folder: $VGGCL_CACHE_DIR, else $XDG_CACHE_HOME/vggcl, else ~/.cache/vggcl;
 * VGGCL_CACHE_DIR=off disables it. On PoCL the binaries are native code, so
 * the folder is created 0700 and used only while it is the user's own and
 * no one else can write to it, and an entry only when it is a regular file
 * of the user's that no one else can write to (never through a symlink).
 * The entries take at most VGGCL_CACHE_MAX_MB MiB (default 256): a store past it removes the entries used
 * longest ago (a load marks its entry used: its time of change), never the one it wrote nor tune's tables. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "output.h"

int vggcl__cache_dir(char dir[VGGCL__CACHE_DIR_MAX + 1])
{
    const char *env = getenv("VGGCL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && !strcasecmp(env, "off")) return 0; /* (OFF made a folder "OFF" where the command ran) */
    if (env && *env) n = snprintf(dir, VGGCL__CACHE_DIR_MAX + 1, "%s", env);
    else if (xdg && *xdg == '/') /* (a relative one is ignored, as the XDG specification says) */
        n = snprintf(dir, VGGCL__CACHE_DIR_MAX + 1, "%s/vggcl", xdg);
    else if (home && *home) n = snprintf(dir, VGGCL__CACHE_DIR_MAX + 1, "%s/.cache/vggcl", home);
    else return VGGCL__CACHE_NOWHERE;
    return n >= 0 && n <= VGGCL__CACHE_DIR_MAX ? 1 : VGGCL__CACHE_LONG;
}

const char *vggcl__cache_why_not(int on)
{
    if (on == VGGCL__CACHE_LONG) return "the cache folder's name is too long (see VGGCL_CACHE_DIR)";
    if (on == VGGCL__CACHE_NOWHERE)
        return "HOME is not set (or is empty), nor VGGCL_CACHE_DIR or an absolute XDG_CACHE_HOME, to name one";
    return "caching is off (VGGCL_CACHE_DIR=off)";
}

int vggcl__cache_unwritable(const char *dir)
{
    return access(dir, W_OK | X_OK) == 0 ? 0 : errno;
}

/* mkdir -p for the cache folder (best effort), private to the user: 0, or the first failure's errno
 * (the folder above that could not be made says more than the ENOENT below it). */
int vggcl__make_dirs(const char *path)
{
    char tmp[VGGCL__CACHE_DIR_MAX + 1];
    int err = 0;
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + (*tmp != '\0');; p++)
        if (*p == '/' || !*p) {
            const char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST && !err) err = errno;
            if (!c) return err;
            *p = c;
        }
}

/* Of this user, and no one else can change it. */
static int private_to_user(const struct stat *sb)
{
    return sb->st_uid == geteuid() && !(sb->st_mode & (S_IWGRP | S_IWOTH));
}

int vggcl__cache_file_refused(const char *path, char *what, size_t len)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return snprintf(what, len, "gone"), 0;
    if (S_ISLNK(sb.st_mode)) return snprintf(what, len, "a link"), 0;
    if (S_ISDIR(sb.st_mode)) return snprintf(what, len, "a folder"), 0;
    if (S_ISFIFO(sb.st_mode)) return snprintf(what, len, "a FIFO"), 0;
    if (S_ISSOCK(sb.st_mode)) return snprintf(what, len, "a socket"), 0;
    if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)) return snprintf(what, len, "a device"), 0;
    if (!S_ISREG(sb.st_mode)) return snprintf(what, len, "not a regular file"), 0;
    if (sb.st_uid != geteuid()) return snprintf(what, len, "another user's, uid %u", (unsigned)sb.st_uid), 0;
    snprintf(what, len, "writable by others, mode %04o", (unsigned)(sb.st_mode & 07777));
    return 1;
}

void vggcl__cache_unusable(const char *dir, int made, char *why, size_t len)
{
    struct stat sb;
    char eb[128];
    *why = '\0';
    if (stat(dir, &sb) != 0) { /* (a link to nothing: mkdir's EEXIST, passed over, then this) */
        const int e = errno;
        if (lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode)) snprintf(why, len, "is a link to a folder that is not there");
        else snprintf(why, len, "cannot be made: %s", vggcl__strerror(made ? made : e, eb, sizeof eb));
    } else if (!S_ISDIR(sb.st_mode)) {
        snprintf(why, len, "is not a folder");
    } else if (sb.st_uid != geteuid()) {
        snprintf(why, len, "is another user's (uid %u)", (unsigned)sb.st_uid);
    } else if (!private_to_user(&sb)) {
        snprintf(why, len, "can be written by others than its user, mode %04o", (unsigned)(sb.st_mode & 07777));
    }
}

int vggcl__cache_ready(vggcl_ctx *ctx, char dir[VGGCL__CACHE_DIR_MAX + 1])
{
    struct stat sb;
    const int on = vggcl__cache_dir(dir);
    if (!on || on == VGGCL__CACHE_NOWHERE) return 0;
    int made = 0;
    if (on == 1) {
        made = vggcl__make_dirs(dir);
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && private_to_user(&sb)) return 1;
    }
    if (ctx->log && !ctx->told_cache) {
        char msg[VGGCL__CACHE_DIR_MAX + 384], why[192];
        ctx->told_cache = 1;
        if (on == 1) {
            vggcl__cache_unusable(dir, made, why, sizeof why);
            snprintf(msg, sizeof msg, "the cache folder %s %s (see VGGCL_CACHE_DIR): it is not used, and the kernels "
                     "are built from source", dir, why);
        } else
            snprintf(msg, sizeof msg, "the cache folder's name is longer than %d bytes (see VGGCL_CACHE_DIR): it is "
                     "not used, and the kernels are built from source", VGGCL__CACHE_DIR_MAX);
        ctx->log(ctx->log_user, msg);
    }
    return 0;
}

FILE *vggcl__cache_open(vggcl_ctx *ctx, const char *path, int *err)
{
    char dir[VGGCL__CACHE_DIR_MAX + 1];
    struct stat sb;
    *err = 0;
    if (!vggcl__cache_ready(ctx, dir)) return NULL;
    FILE *f = vggcl__open_input(path, O_NOFOLLOW, &sb, err);
    if (f && !private_to_user(&sb)) {
        fclose(f);
        f = NULL;
    }
    if (*err == ENOENT || *err == ELOOP || *err == EISDIR) *err = 0; /* (not there, a link, a folder: refused) */
    return f;
}

vggcl_status vggcl__cache_write(vggcl_ctx *ctx, const char *path, const void *data, size_t len)
{
    char dir[VGGCL__CACHE_DIR_MAX + 1];
    vggcl__output o;
    if (!vggcl__cache_ready(ctx, dir))
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: the cache folder %s is not private to this user", path, dir);
    vggcl_status st = vggcl__output_open(ctx, path, 0600, VGGCL_OUTPUT_REPLACE, &o);
    return st != VGGCL_OK ? st : vggcl__output_commit(ctx, &o, fwrite(data, 1, len, o.fp) == len);
}

/* FNV-1a: h carried over n more bytes. */
static uint64_t fnv_bytes(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    h = fnv_bytes(h, (const unsigned char *)s, strlen(s));
    return (h ^ 0xff) * 0x100000001b3ull; /* separator, so "ab"+"c" != "a"+"bc" */
}

/* The 128-bit key of text built with options for the context's device and driver. */
static void cache_key(const vggcl_ctx *ctx, const char *text, const char *options, uint64_t key[2])
{
    const char *parts[] = { text, options, ctx->device_name, ctx->device_version, ctx->driver_version,
                            ctx->platform_name, ctx->platform_version };
    key[0] = 0xcbf29ce484222325ull, key[1] = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        key[0] = fnv1a(key[0], parts[i]);
        key[1] = fnv1a(key[1] ^ (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull, parts[i]);
    }
}

/* The file of key with suffix (a few bytes) in the cache folder; 0 when caching is off or its name
 * too long. */
static int key_path(const uint64_t key[2], const char *suffix, char out[VGGCL__CACHE_PATH_MAX])
{
    char dir[VGGCL__CACHE_DIR_MAX + 1];
    if (vggcl__cache_dir(dir) != 1) return 0;
    return snprintf(out, VGGCL__CACHE_PATH_MAX, "%s/%016llx%016llx%s", dir, (unsigned long long)key[0],
                    (unsigned long long)key[1], suffix) < VGGCL__CACHE_PATH_MAX;
}

int vggcl__cache_path(const vggcl_ctx *ctx, const char *text, const char *options, const char *suffix,
                      char out[VGGCL__CACHE_PATH_MAX])
{
    uint64_t key[2];
    cache_key(ctx, text, options, key);
    return key_path(key, suffix, out);
}

/* An entry: this header, then the driver's binary. */
#define ENTRY_MAGIC "VGGCLBIN"
#define ENTRY_VERSION 1u
#define ENTRY_MAX ((uint64_t)1 << 30) /* (no program binary comes near) */
typedef struct {
    char magic[8];
    uint32_t version, zero;
    uint64_t key[2]; /* what its name is made from: a copy under another name is not this program's */
    uint64_t length; /* the binary's bytes */
    uint64_t sum;    /* their checksum: a file cut short or damaged is refused */
} entry_header;

static uint64_t checksum(const unsigned char *p, size_t n) { return fnv_bytes(0xcbf29ce484222325ull, p, n); }

/* The cache file for this source, options and device; 0 when disabled. */
static int entry_path(const vggcl_ctx *ctx, const char *src, const char *options, uint64_t key[2],
                      char out[VGGCL__CACHE_PATH_MAX])
{
    cache_key(ctx, src, options, key); /* (the source hashed once: the name and the header both hold it) */
    return key_path(key, ".bin", out);
}

cl_program vggcl__cache_load(vggcl_ctx *ctx, const char *src, const char *options)
{
    char path[VGGCL__CACHE_PATH_MAX];
    entry_header hd;
    uint64_t key[2];
    if (!entry_path(ctx, src, options, key, path)) return NULL;
    int unreadable; /* (an entry that cannot be read is compiled anew) */
    FILE *f = vggcl__cache_open(ctx, path, &unreadable);
    char dir[VGGCL__CACHE_DIR_MAX + 1], eb[128], what[64];
    /* (there, but refused: a link, a folder, a FIFO, another user's, writable by others, unreadable; compiled
     * "not in the cache yet", unsaid; the entry is replaced by the program built now, but a folder) */
    if (!f && ctx->log && !ctx->told_foreign_entry && vggcl__cache_ready(ctx, dir)) {
        char msg[VGGCL__CACHE_PATH_MAX + 256];
        vggcl__cache_file_refused(path, what, sizeof what); /* (one lstat; "gone": not in the cache yet) */
        if (unreadable)
            snprintf(msg, sizeof msg, "the cached program %s cannot be read (%s): passed over, built from source "
                     "again and replaced", path, vggcl__strerror(unreadable, eb, sizeof eb));
        else
            snprintf(msg, sizeof msg, "the cached program %s is not a regular file of this user that only the user "
                     "can write to (%s): passed over, built from source again%s", path, what,
                     strcmp(what, "a folder") ? " and replaced" : " (a folder is not replaced: move it away)");
        if (unreadable || strcmp(what, "gone")) {
            ctx->told_foreign_entry = 1;
            ctx->log(ctx->log_user, msg);
        }
    }
    if (!f) return NULL;
    unsigned char *bin = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    const int head = len > (long)sizeof hd && fseek(f, 0, SEEK_SET) == 0 && fread(&hd, sizeof hd, 1, f) == 1 &&
                     !memcmp(hd.magic, ENTRY_MAGIC, sizeof hd.magic) && hd.version == ENTRY_VERSION &&
                     hd.key[0] == key[0] && hd.key[1] == key[1] && hd.length > 0 && hd.length <= ENTRY_MAX &&
                     hd.length == (uint64_t)len - sizeof hd;
    if (head && (bin = malloc((size_t)hd.length)) &&
        (fread(bin, 1, (size_t)hd.length, f) != (size_t)hd.length || checksum(bin, (size_t)hd.length) != hd.sum)) {
        free(bin);
        bin = NULL;
    }
    fclose(f);
    if (!bin) {
        if (ctx->log && !ctx->told_entry) { /* (once: a cache of an older vggcl refuses every entry) */
            char msg[VGGCL__CACHE_PATH_MAX + 256];
            ctx->told_entry = 1;
            snprintf(msg, sizeof msg, "the cached program %s is damaged, cut short, of another vggcl or not this "
                     "program's; such entries are built from source again", path);
            ctx->log(ctx->log_user, msg);
        }
        return NULL;
    }
    size_t size = (size_t)hd.length;
    const unsigned char *bins[1] = { bin };
    cl_int err, status = CL_SUCCESS;
    const char *call = "clCreateProgramWithBinary";
    cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size, bins, &status, &err);
    free(bin);
    if (err == CL_SUCCESS && status != CL_SUCCESS) err = status;
    if (err == CL_SUCCESS) call = "clBuildProgram", err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (err == CL_SUCCESS) {
        (void)utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW); /* used now: kept longest by cache_trim */
        return prog;
    }
    char where[VGGCL__CACHE_PATH_MAX + 32];
    snprintf(where, sizeof where, "the cached program %s", path);
    if (ctx->log && !ctx->told_entry) { /* (once, as for a damaged entry) */
        char msg[sizeof where + 160];
        ctx->told_entry = 1;
        snprintf(msg, sizeof msg, "%s: %s -> %s (%d): the driver refused it; such entries are built from source "
                 "again", where, call, vggcl__cl_error_name(err), (int)err);
        ctx->log(ctx->log_user, msg);
    }
    if (prog) CL_CLEANUP(clReleaseProgram, (prog));
    return NULL;
}

#define CACHE_MAX_MB 256

typedef struct {
    char name[40]; /* 32 hex digits and ".bin" */
    off_t bytes;
    struct timespec used;
} cache_entry;

static int used_before(const void *a, const void *b)
{
    const struct timespec x = ((const cache_entry *)a)->used, y = ((const cache_entry *)b)->used;
    return x.tv_sec != y.tv_sec ? (x.tv_sec > y.tv_sec) - (x.tv_sec < y.tv_sec)
                                : (x.tv_nsec > y.tv_nsec) - (x.tv_nsec < y.tv_nsec);
}

/* Whether name is an entry's: 32 hex digits and ".bin" (key_path's). */
static int entry_name(const char *name)
{
    return strlen(name) == 36 && strspn(name, "0123456789abcdef") == 32 && !strcmp(name + 32, ".bin");
}

/* Whether the file name in the folder d begins as an entry does (ENTRY_MAGIC): a folder VGGCL_CACHE_DIR names may
 * hold another tool's files of such names, which are not vggcl's to remove. */
static int entry_of_ours(DIR *d, const char *name)
{
    char magic[sizeof ENTRY_MAGIC - 1];
    const int fd = openat(dirfd(d), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    const int ours = fd >= 0 && pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                     !memcmp(magic, ENTRY_MAGIC, sizeof magic);
    if (fd >= 0) close(fd);
    return ours;
}

/* The most bytes the entries may take: VGGCL_CACHE_MAX_MB MiB, else CACHE_MAX_MB; 0 where the variable is not a
 * whole number from 1 (said once: nothing is removed); HUGE_VAL for one past what a long long holds. */
static double cache_max_bytes(vggcl_ctx *ctx)
{
    const char *v = getenv("VGGCL_CACHE_MAX_MB");
    if (!v || !*v) return CACHE_MAX_MB * 1048576.0;
    char *end;
    errno = 0;
    const long long mb = strtoll(v, &end, 10);
    const int digits = strspn(v, "0123456789") == strlen(v);
    if (digits && errno == ERANGE) return HUGE_VAL; /* (a whole number all the same: it was said not to be one) */
    if (!errno && *end == '\0' && mb >= 1 && digits) return (double)mb * 1048576.0;
    if (ctx->log && !ctx->told_cache_max) {
        char msg[320];
        ctx->told_cache_max = 1;
        snprintf(msg, sizeof msg, "VGGCL_CACHE_MAX_MB is '%.64s'; expected a whole number of MiB from 1: the program "
                 "cache is not trimmed", v);
        ctx->log(ctx->log_user, msg);
    }
    return 0;
}

/* Past the most the entries of the cache folder may take (regular files of the user's, named and begun as entries
 * are), removes those used longest ago (never kept: the one just written), said once a context. Best effort: an
 * entry that cannot be read or removed is passed over. */
static void cache_trim(vggcl_ctx *ctx, const char *kept)
{
    char dir[VGGCL__CACHE_DIR_MAX + 1];
    const double most = cache_max_bytes(ctx);
    if (!most || vggcl__cache_dir(dir) != 1) return;
    DIR *d = opendir(dir);
    if (!d) return;
    cache_entry *e = NULL;
    size_t n = 0, cap = 0;
    double total = 0;
    const char *kept_name = strrchr(kept, '/') ? strrchr(kept, '/') + 1 : kept;
    struct dirent *de;
    struct stat sb;
    while ((de = readdir(d))) {
        if (!entry_name(de->d_name) || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || !entry_of_ours(d, de->d_name))
            continue;
        total += (double)sb.st_size;
        if (!strcmp(de->d_name, kept_name)) continue;
        if (n == cap) {
            cache_entry *grown = realloc(e, sizeof *e * (cap = cap ? 2 * cap : 64));
            if (!grown) break; /* (the rest not counted: a smaller trim) */
            e = grown;
        }
        snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
        e[n].bytes = sb.st_size, e[n++].used = sb.st_mtim;
    }
    const double before = total;
    int removed = 0;
    if (total > most && n) {
        qsort(e, n, sizeof *e, used_before);
        for (size_t i = 0; i < n && total > most; i++) {
            const int gone = unlinkat(dirfd(d), e[i].name, 0) == 0;
            if (gone || errno == ENOENT) total -= (double)e[i].bytes; /* (another process's trim took it: gone) */
            removed += gone;
        }
    }
    closedir(d);
    free(e);
    if (removed && ctx->log && !ctx->told_cache_trim) {
        char msg[VGGCL__CACHE_DIR_MAX + 320];
        ctx->told_cache_trim = 1;
        const double held = before / 1048576.0, limit = most / 1048576.0;
        int places = 1; /* (as many as show it past the limit: "held 3.0 MiB, more than its 3 MiB" read as not) */
        while (places < 6 && floor(held * pow(10, places) + 0.5) <= limit * pow(10, places)) places++;
        snprintf(msg, sizeof msg, "the program cache %s held %.*f MiB, more than its %.0f MiB (VGGCL_CACHE_MAX_MB): "
                 "the %d program%s used longest ago removed", dir, places, held, limit, removed,
                 removed == 1 ? "" : "s");
        ctx->log(ctx->log_user, msg);
    }
}

void vggcl__cache_store(vggcl_ctx *ctx, const char *src, const char *options, cl_program prog)
{
    char path[VGGCL__CACHE_PATH_MAX];
    size_t size = 0;
    unsigned char *bin = NULL;
    uint64_t key[2];
    if (!entry_path(ctx, src, options, key, path)) return;
    cl_int err = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL);
    entry_header *hd = err == CL_SUCCESS && size ? malloc(sizeof *hd + size) : NULL;
    bin = hd ? malloc(size) : NULL;
    unsigned char *bins[1] = { bin };
    if (bin) err = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL);
    if (!bin || err != CL_SUCCESS) { /* (a driver that gives no binary: said once, not "then cached") */
        if (ctx->log && !ctx->told_cache_write) {
            char note[256], why[96];
            if (err != CL_SUCCESS) snprintf(why, sizeof why, "clGetProgramInfo -> %s", vggcl__cl_error_name(err));
            else snprintf(why, sizeof why, "%s", size ? "out of host memory" : "the driver gives no binary");
            snprintf(note, sizeof note, "compiled programs are not cached (%s): each run compiles them again", why);
            ctx->told_cache_write = 1;
            ctx->log(ctx->log_user, note);
        }
    } else {
        /* best effort: a cache that cannot be written means a build from source next time, which the log
         * hears of once (the folder's check before the compile cannot see a full disk); the context's
         * message is kept (the build succeeded) */
        char msg[sizeof ctx->msg];
        memset(hd, 0, sizeof *hd);
        memcpy(hd->magic, ENTRY_MAGIC, sizeof hd->magic);
        hd->version = ENTRY_VERSION;
        memcpy(hd->key, key, sizeof hd->key);
        hd->length = size;
        hd->sum = checksum(bin, size);
        memcpy(hd + 1, bin, size);
        memcpy(msg, ctx->msg, sizeof msg);
        const int os_error = ctx->os_error;
        /* (a folder not usable or writable at the first compile was said with it; one that became so after, as
         * a file system remounted read-only, is said here: the compile's line had said "then cached in") */
        if (vggcl__cache_write(ctx, path, hd, sizeof *hd + size) != VGGCL_OK) {
            if (ctx->log && !ctx->told_cache_write) {
                char note[sizeof ctx->msg + 128];
                snprintf(note, sizeof note, "a compiled program was not cached (%s): the next run compiles it again",
                         ctx->msg);
                ctx->told_cache_write = 1;
                ctx->log(ctx->log_user, note);
            }
        } else {
            cache_trim(ctx, path);
        }
        memcpy(ctx->msg, msg, sizeof msg);
        ctx->os_error = os_error;
    }
    free(hd);
    free(bin);
}
