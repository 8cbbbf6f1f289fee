/* On-disk cache of compiled program binaries, keyed by a hash of the source,
 * the build options, the device and the driver; written to a temporary name
 * and renamed (host/io/output.c), so a reader never sees half a file. A
 * missing, corrupt or stale entry just means a build from source.
 * Folder: $VGGCL_CACHE_DIR, else $XDG_CACHE_HOME/vggcl, else ~/.cache/vggcl;
 * VGGCL_CACHE_DIR=off disables it. On PoCL the binaries are native code, so
 * the folder is created 0700 and used only while it is the user's own and
 * no one else can write to it, and an entry only when it is a regular file
 * of the user's that no one else can write to (never through a symlink). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "output.h"

int vggcl__cache_dir(char *out, size_t len)
{
    const char *env = getenv("VGGCL_CACHE_DIR");
    if (env && !strcmp(env, "off")) return 0;
    if (env && *env) return snprintf(out, len, "%s", env) < (int)len;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) return snprintf(out, len, "%s/vggcl", xdg) < (int)len;
    if (home && *home) return snprintf(out, len, "%s/.cache/vggcl", home) < (int)len;
    return 0;
}

/* mkdir -p for the cache folder (best effort), private to the user. */
void vggcl__make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    mkdir(tmp, 0700);
}

/* Of this user, and no one else can change it. */
static int private_to_user(const struct stat *sb)
{
    return sb->st_uid == geteuid() && !(sb->st_mode & (S_IWGRP | S_IWOTH));
}

int vggcl__cache_ready(vggcl_ctx *ctx, char *dir, size_t len)
{
    struct stat sb;
    if (!vggcl__cache_dir(dir, len)) return 0;
    vggcl__make_dirs(dir);
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && private_to_user(&sb)) return 1;
    if (ctx->log && !ctx->told_cache) {
        char msg[1200];
        ctx->told_cache = 1;
        snprintf(msg, sizeof msg, "the cache folder %s is not a folder of this user that only the user can write to "
                 "(see VGGCL_CACHE_DIR): it is not used, and the kernels are built from source", dir);
        ctx->log(ctx->log_user, msg);
    }
    return 0;
}

FILE *vggcl__cache_open(vggcl_ctx *ctx, const char *path)
{
    char dir[1024];
    struct stat sb;
    if (!vggcl__cache_ready(ctx, dir, sizeof dir)) return NULL;
    const int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    FILE *f = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && private_to_user(&sb)) f = fdopen(fd, "rb");
    if (!f) close(fd);
    return f;
}

vggcl_status vggcl__cache_write(vggcl_ctx *ctx, const char *path, const void *data, size_t len)
{
    char dir[1024];
    vggcl__output o;
    if (!vggcl__cache_ready(ctx, dir, sizeof dir))
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: the cache folder %s is not private to this user", path, dir);
    vggcl_status st = vggcl__output_open(ctx, path, 0600, VGGCL_OUTPUT_REPLACE, &o);
    return st != VGGCL_OK ? st : vggcl__output_commit(ctx, &o, fwrite(data, 1, len, o.fp) == len);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull; /* separator, so "ab"+"c" != "a"+"bc" */
}

int vggcl__cache_path(const vggcl_ctx *ctx, const char *text, const char *options, const char *suffix, char *out,
                      size_t len)
{
    char dir[900];
    if (!vggcl__cache_dir(dir, sizeof dir)) return 0;
    const char *parts[] = { text, options, ctx->device_name, ctx->device_version, ctx->driver_version,
                            ctx->platform_name };
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        a = fnv1a(a, parts[i]);
        b = fnv1a(b ^ (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull, parts[i]);
    }
    return snprintf(out, len, "%s/%016llx%016llx%s", dir, (unsigned long long)a, (unsigned long long)b, suffix) <
           (int)len;
}

/* The cache file for this source, options and device; 0 when disabled. */
static int entry_path(const vggcl_ctx *ctx, const char *src, const char *options, char *out, size_t len)
{
    return vggcl__cache_path(ctx, src, options, ".bin", out, len);
}

cl_program vggcl__cache_load(vggcl_ctx *ctx, const char *src, const char *options)
{
    char path[1024];
    if (!entry_path(ctx, src, options, path, sizeof path)) return NULL;
    FILE *f = vggcl__cache_open(ctx, path);
    if (!f) return NULL;
    unsigned char *bin = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len > 0 && fseek(f, 0, SEEK_SET) == 0 && (bin = malloc((size_t)len)) &&
        fread(bin, 1, (size_t)len, f) != (size_t)len) {
        free(bin);
        bin = NULL;
    }
    fclose(f);
    if (!bin) return NULL;
    size_t size = (size_t)len;
    const unsigned char *bins[1] = { bin };
    cl_int err, status;
    cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size, bins, &status, &err);
    free(bin);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        return NULL;
    }
    if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

void vggcl__cache_store(vggcl_ctx *ctx, const char *src, const char *options, cl_program prog)
{
    char path[1024];
    size_t size = 0;
    unsigned char *bin = NULL;
    if (!entry_path(ctx, src, options, path, sizeof path)) return;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0 ||
        !(bin = malloc(size)))
        return;
    unsigned char *bins[1] = { bin };
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
        /* best effort: a cache that cannot be written means a build from source next time; the
         * context's message is kept (the build succeeded) */
        char msg[sizeof ctx->msg];
        memcpy(msg, ctx->msg, sizeof msg);
        vggcl__cache_write(ctx, path, bin, size);
        memcpy(ctx->msg, msg, sizeof msg);
    }
    free(bin);
}
