/* On-disk cache of compiled program binaries, keyed by a hash of the source,
 * the build options, the device and the driver; written to a temporary name
 * and renamed, so a reader never sees half a file. A missing, corrupt or
 * stale entry just means a build from source.
 * Folder: $VGGCL_CACHE_DIR, else $XDG_CACHE_HOME/vggcl, else ~/.cache/vggcl;
 * VGGCL_CACHE_DIR=off disables it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

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

/* mkdir -p for the cache folder (best effort). */
void vggcl__make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
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
    FILE *f = fopen(path, "rb");
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
    char path[1024], tmp[1100], dir[900];
    size_t size = 0;
    unsigned char *bin = NULL;
    if (!entry_path(ctx, src, options, path, sizeof path) || !vggcl__cache_dir(dir, sizeof dir)) return;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0 ||
        !(bin = malloc(size)))
        return;
    unsigned char *bins[1] = { bin };
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
        vggcl__make_dirs(dir);
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            FILE *f = fdopen(fd, "wb");
            int ok = f && fwrite(bin, 1, size, f) == size;
            if (f) ok = (fclose(f) == 0) && ok;
            else close(fd);
            if (!ok || rename(tmp, path) != 0) unlink(tmp);
        }
    }
    free(bin);
}
