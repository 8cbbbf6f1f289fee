/* OpenCL programs: sources embedded at build time (kernels_embedded.c, made by
 * cmake/embed_kernels.cmake) or read from $VGGCL_KERNEL_DIR for development. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

extern const char *const vggcl__kernel_files[];
extern const char *const vggcl__kernel_sources[];
extern const int vggcl__kernel_count;

/* Each program: its file and the options that pick its part of the file (winograd.cl holds the
 * CPU- and the GPU-shaped kernels; a device builds only the half it runs, 6 s less on PoCL; the
 * CPU Winograds' one-pass and two-pass kernels build apart, as each layer runs one form (PoCL
 * compiles every kernel of a program when its binary is cached: VGG16 cold 12 -> 8 s);
 * winograd_packed.cl's layout conversions and border build alone, without its tunables). */
int vggcl__pocl_cache_dir(const vggcl_ctx *ctx, char *dir, size_t len)
{
    const char *env = getenv("POCL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (ctx && strcmp(ctx->platform_name, "Portable Computing Language")) return 0;
    if (env && *env) snprintf(dir, len, "%s", env);
    else if (xdg && *xdg) snprintf(dir, len, "%s/pocl", xdg);
    else if (home && *home) snprintf(dir, len, "%s/.cache/pocl", home);
    else snprintf(dir, len, "/tmp/pocl"); /* (PoCL 3's, without HOME) */
    return 1;
}

/* On PoCL, a kernel cache it cannot write to (a file named by POCL_CACHE_DIR): its builds fail, their log saying
 * only "failed to build the program" (and a program cached by vggcl was "refused by the driver"); the folder named
 * into dir, 1; else 0. */
static int pocl_cache_unusable(const vggcl_ctx *ctx, char *dir, size_t len)
{
    struct stat sb;
    if (!vggcl__pocl_cache_dir(ctx, dir, len)) return 0;
    return stat(dir, &sb) == 0 && (!S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0);
}

/* On PoCL, the MiB free in its kernel cache's file system (the folder named into dir; one not made yet, the
 * nearest folder above it); -1 on another driver or where not known. A build that failed with less than
 * POCL_CACHE_LEAST_MIB free did for want of it: PoCL's log said only "failed to build the program" (one kernel's
 * files take a few MiB). */
#define POCL_CACHE_LEAST_MIB 32.0
static double pocl_cache_free_mib(const vggcl_ctx *ctx, char *dir, size_t len)
{
    struct statvfs fs;
    char at[VGGCL__CACHE_DIR_MAX + 1];
    if (!vggcl__pocl_cache_dir(ctx, dir, len)) return -1;
    snprintf(at, sizeof at, "%s", dir);
    for (char *slash; statvfs(at, &fs) != 0;) {
        if (errno != ENOENT || !(slash = strrchr(at, '/')) || slash == at) return -1;
        *slash = '\0';
    }
    return (double)fs.f_bavail * (double)fs.f_frsize / 1048576.0;
}

/* Whether a build log holds a compiler's diagnostic ("error:", "ERROR", "Error" in any case): a failure without
 * one is the driver's, not the source's. */
static int diagnosed(const char *log)
{
    for (const char *p = log; p && *p; p++)
        if (strncasecmp(p, "error", 5) == 0) return 1;
    return 0;
}

static const struct { const char *file, *options; } progs[VGGCL_PROG_COUNT] = {
    [VGGCL_PROG_CONV] = { "conv3x3.cl", "" },
    [VGGCL_PROG_WINO] = { "winograd.cl", "" },
    [VGGCL_PROG_WINO_ONE] = { "winograd.cl", "-DWINO_ONE_PASS " },
    [VGGCL_PROG_WINO_GPU] = { "winograd.cl", "-DWINO_GPU " },
    [VGGCL_PROG_WINO_PACKED] = { "winograd_packed.cl", "" },
    [VGGCL_PROG_PACKED_ONE] = { "winograd_packed.cl", "-DPACKED_ONE_PASS " },
    [VGGCL_PROG_PACKED_LAYOUT] = { "winograd_packed.cl", "-DPACKED_LAYOUT_ONLY " },
    [VGGCL_PROG_IM2COL] = { "im2col.cl", "" },
    [VGGCL_PROG_POOL] = { "maxpool.cl", "" },
    [VGGCL_PROG_GAP] = { "gap.cl", "" },
    [VGGCL_PROG_DENSE] = { "dense.cl", "" },
    [VGGCL_PROG_CAM] = { "cam.cl", "" },
};

/* Base build options: no fast-math, so results track the reference; no warnings (PoCL's compiler printed
 * "10 warnings generated." on stderr at a first compile, of vector arguments' ABI without AVX-512). */
static const char *const base_options = "-cl-std=CL1.2 -w";

/* The source of file in VGGCL_KERNEL_DIR dir (a developer's setting) into *out, malloc'd: a FIFO is not
 * waited on, and what cannot be read is said with its reason and the layer. */
static vggcl_status read_override(vggcl_ctx *ctx, const char *layer, const char *dir, const char *file, char **out)
{
    char path[4096], eb[128];
    int err = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: kernel source %s: VGGCL_KERNEL_DIR's path to it is longer than %zu "
                           "bytes", layer, file, sizeof path - 1);
    FILE *f = vggcl__open_input(path, 0, NULL, &err);
    if (!f)
        return vggcl__fail_os(ctx, err, "%s: kernel source %s (from VGGCL_KERNEL_DIR) cannot be opened: %s",
                              layer, path, err ? vggcl__strerror(err, eb, sizeof eb) : "not a regular file");
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        const int nomem = !buf && len >= 0;
        free(buf);
        fclose(f);
        return vggcl__fail(ctx, nomem ? VGGCL_ERR_NOMEM : VGGCL_ERR_IO, "%s: kernel source %s (from VGGCL_KERNEL_DIR) "
                           "cannot be read%s", layer, path, nomem ? ": out of host memory" : "");
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    return VGGCL_OK;
}

/* VGGCL_KERNEL_DIR when set (the folder the sources are read from), else NULL: the embedded sources. */
static const char *kernel_dir(void)
{
    const char *dir = getenv("VGGCL_KERNEL_DIR");
    return dir && *dir ? dir : NULL;
}

static const char *embedded(const char *file)
{
    for (int i = 0; i < vggcl__kernel_count; i++)
        if (!strcmp(vggcl__kernel_files[i], file)) return vggcl__kernel_sources[i];
    return NULL;
}

/* Returns the program `which` built with `defines`, building it on first use. */
static vggcl_status get_program(vggcl_ctx *ctx, int which, const char *defines, const char *layer, cl_program *out)
{
    const char *file = progs[which].file;
    char where[512], options[320];
    vggcl_status st = VGGCL_OK;
    char *owned = NULL, *log = NULL;
    cl_program prog = NULL;
    cl_int err;

    for (int i = 0; i < ctx->n_programs; i++)
        if (ctx->programs[i].prog == which && !strcmp(ctx->programs[i].defines, defines)) {
            *out = ctx->programs[i].program;
            return VGGCL_OK;
        }
    if (strlen(defines) >= sizeof ctx->programs[0].defines)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: kernel options too long: %s", layer, defines);
    snprintf(options, sizeof options, "%s%s %s%s", base_options, ctx->is_cpu ? " -DVGGCL_CPU" : "",
             progs[which].options, defines);
    const char *dir = kernel_dir(); /* (named in the messages: the source built is that folder's) */
    snprintf(where, sizeof where, "%s: %s/%s on %s", layer, dir ? dir : "kernels", file, ctx->device_name);
    const char *src;
    if (dir) {
        st = read_override(ctx, layer, dir, file, &owned);
        if (st != VGGCL_OK) return st;
        src = owned;
    } else {
        src = embedded(file);
        if (!src) return vggcl__fail(ctx, VGGCL_ERR_DEVICE, "kernel source %s is not embedded", file);
    }
    const double t0 = vggcl__now_ms();
    if ((err = vggcl__fault(ctx, "clBuildProgram")) != CL_SUCCESS) {
        st = vggcl__cl_fail(ctx, where, "clBuildProgram", err);
        goto fail;
    }
    if ((prog = vggcl__cache_load(ctx, src, options))) {
        ctx->cache_hits++;
        goto built;
    }
    if (ctx->log && !ctx->told_compiling) {
        char msg[VGGCL__CACHE_DIR_MAX + 512], dir[VGGCL__CACHE_DIR_MAX + 1], eb[128];
        const int on = vggcl__cache_dir(dir), ready = on == 1 && vggcl__cache_ready(ctx, dir); /* (says why not) */
        const int unwritable = ready ? vggcl__cache_unwritable(dir) : 0;
        ctx->told_compiling = 1;
        ctx->told_cache_write = !ready || unwritable; /* (said here: not again at each store) */
        if (ready && !unwritable)
            snprintf(msg, sizeof msg, "compiling the OpenCL kernels for %s (not in the cache yet; the programs are "
                     "then cached in %s)", ctx->device_name, dir); /* (also after an entry refused: not a first run) */
        else if (ready)
            snprintf(msg, sizeof msg, "compiling the OpenCL kernels for %s (not cached: the cache folder %s cannot be "
                     "written: %s)", ctx->device_name, dir, vggcl__strerror(unwritable, eb, sizeof eb));
        else
            snprintf(msg, sizeof msg, "compiling the OpenCL kernels for %s (not cached: %s)", ctx->device_name,
                     on == 1 ? "the cache folder is not usable" : vggcl__cache_why_not(on));
        ctx->log(ctx->log_user, msg);
    }
    double free_mib = -1; /* (PoCL's cache's, asked where a build failed) */
    for (int tries = 1;; tries++) {
        if ((err = vggcl__fault(ctx, "clCreateProgramWithSource")) == CL_SUCCESS)
            prog = clCreateProgramWithSource(ctx->cl, 1, &src, NULL, &err);
        CL_CHECK_RET(clCreateProgramWithSource, err);
        if ((err = vggcl__fault(ctx, "clBuildProgram from source")) == CL_SUCCESS)
            err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
        if (err == CL_SUCCESS) break;
        size_t len = 0;
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS &&
            (log = malloc(len + 1)) &&
            clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS)
            log[len] = '\0';
        else if (log)
            log[0] = '\0';
        /* PoCL's builds failed without a compiler's diagnostic, now and then, when processes starting at once
         * shared its empty kernel cache: built again once (another driver's, a full cache, or one it cannot write,
         * which was first guessed as shared, said below) */
        char pocl_dir[VGGCL__CACHE_DIR_MAX + 1];
        free_mib = pocl_cache_free_mib(ctx, pocl_dir, sizeof pocl_dir);
        if (tries > 1 || err != CL_BUILD_PROGRAM_FAILURE || diagnosed(log) || free_mib < POCL_CACHE_LEAST_MIB ||
            pocl_cache_unusable(ctx, pocl_dir, sizeof pocl_dir))
            break;
        if (ctx->log) {
            char note[sizeof where + 160];
            snprintf(note, sizeof note, "%s: clBuildProgram -> %s (%d) without a compiler's diagnostic (the driver's "
                     "kernel cache, shared by processes starting at once?): built again", where,
                     vggcl__cl_error_name(err), (int)err);
            ctx->log(ctx->log_user, note);
        }
        free(log);
        log = NULL;
        CL_CLEANUP(clReleaseProgram, (prog));
        prog = NULL;
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL); /* (for the other process's write to end) */
    }
    if (err != CL_SUCCESS) {
        /* a log past the message's room keeps its start and end around "[...]" (vggcl__fail), said after it */
        static const char logged[] = "\n(the build log is cut at [...]; the whole log went to the log function)",
                          unlogged[] = "\n(the build log is cut at [...]; vggcl_set_log's function gets it whole)";
        static const char fmt[] = "%s: clBuildProgram -> %s (%d), options \"%s\"; build log:\n%s%s";
        const int cut = log && snprintf(NULL, 0, fmt, where, vggcl__cl_error_name(err), (int)err, options, log, "") >=
                                   (int)sizeof ctx->msg;
        char pocl_dir[VGGCL__CACHE_DIR_MAX + 1];
        if (pocl_cache_unusable(ctx, pocl_dir, sizeof pocl_dir)) { /* (the log said only that it failed) */
            st = vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s: clBuildProgram -> %s (%d): PoCL builds in its kernel cache "
                             VGGCL__POCL_CACHE_WHERE ", and %s is not a folder it can write: set POCL_CACHE_DIR to "
                             "one", where, vggcl__cl_error_name(err), (int)err, pocl_dir);
            goto fail;
        }
        if (free_mib >= 0 && free_mib < POCL_CACHE_LEAST_MIB && !diagnosed(log)) {
            st = vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s: clBuildProgram -> %s (%d): PoCL builds in its kernel cache "
                             VGGCL__POCL_CACHE_WHERE ", and %s has %.1f MiB free: free some space there, or set "
                             "POCL_CACHE_DIR to a folder that has it", where, vggcl__cl_error_name(err), (int)err,
                             pocl_dir, free_mib);
            goto fail;
        }
        st = vggcl__fail(ctx, VGGCL_ERR_DEVICE, fmt, where, vggcl__cl_error_name(err), (int)err, options,
                         log ? log : "(none)", !cut ? "" : ctx->log ? logged : unlogged);
        if (cut) { /* (the whole log to the log function) */
            /* (named as the message is: which layer's build, the call and the error, then the whole log) */
            const size_t room = strlen(where) + strlen(log) + 128;
            char *note = ctx->log ? malloc(room) : NULL;
            if (note) snprintf(note, room, "%s: clBuildProgram -> %s (%d); the whole build log:\n%s", where,
                               vggcl__cl_error_name(err), (int)err, log);
            if (ctx->log) ctx->log(ctx->log_user, note ? note : log);
            free(note);
        }
        goto fail;
    }
    ctx->cache_misses++;
    vggcl__cache_store(ctx, src, options, prog);
built:
    ctx->build_ms += vggcl__now_ms() - t0;
    /* (grown here, after the log's calls: a log function that came back into the library had grown it too) */
    vggcl_program_entry *grown = realloc(ctx->programs, (size_t)(ctx->n_programs + 1) * sizeof *grown);
    if (!grown) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    ctx->programs = grown;
    vggcl_program_entry *e = &ctx->programs[ctx->n_programs++];
    e->prog = which;
    snprintf(e->defines, sizeof e->defines, "%s", defines);
    e->program = prog;
    *out = prog;
    prog = NULL;
fail:
    if (prog) CL_CLEANUP(clReleaseProgram, (prog));
    free(log);
    free(owned);
    return st;
}

static const struct { int prog; const char *name; } kernel_table[VGGCL_K_COUNT] = {
    [VGGCL_K_CONV3X3] = { VGGCL_PROG_CONV, "conv3x3_bias_relu" },
    [VGGCL_K_WINO_INPUT] = { VGGCL_PROG_WINO, "wino_input" },
    [VGGCL_K_WINO_FUSED] = { VGGCL_PROG_WINO_ONE, "wino_fused" },
    [VGGCL_K_WINO_GEMM_OUT] = { VGGCL_PROG_WINO, "wino_gemm_out" },
    [VGGCL_K_WINO_GPU_INPUT] = { VGGCL_PROG_WINO_GPU, "wino_gpu_input" },
    [VGGCL_K_WINO_GPU_GEMM] = { VGGCL_PROG_WINO_GPU, "wino_gpu_gemm" },
    [VGGCL_K_WINO_GPU_OUTPUT] = { VGGCL_PROG_WINO_GPU, "wino_gpu_output" },
    [VGGCL_K_PACKED_FUSED] = { VGGCL_PROG_PACKED_ONE, "packed_fused" },
    [VGGCL_K_PACKED_INPUT] = { VGGCL_PROG_WINO_PACKED, "packed_input" },
    [VGGCL_K_PACKED_GEMM_OUT] = { VGGCL_PROG_WINO_PACKED, "packed_gemm_out" },
    [VGGCL_K_PACKED_BORDER] = { VGGCL_PROG_PACKED_LAYOUT, "packed_border" },
    [VGGCL_K_PACKED_FROM_NCHW] = { VGGCL_PROG_PACKED_LAYOUT, "packed_from_nchw" },
    [VGGCL_K_PACKED_TO_NCHW] = { VGGCL_PROG_PACKED_LAYOUT, "packed_to_nchw" },
    [VGGCL_K_IM2COL] = { VGGCL_PROG_IM2COL, "im2col3x3" },
    [VGGCL_K_BIAS_RELU_ROWS] = { VGGCL_PROG_IM2COL, "bias_relu_rows" },
    [VGGCL_K_MAXPOOL] = { VGGCL_PROG_POOL, "maxpool2d" },
    [VGGCL_K_MAXPOOL2X2] = { VGGCL_PROG_POOL, "maxpool2x2" },
    [VGGCL_K_GAP] = { VGGCL_PROG_GAP, "gap_partial" },
    [VGGCL_K_ADAPTIVE_AVGPOOL] = { VGGCL_PROG_GAP, "adaptive_avgpool2d" },
    [VGGCL_K_BIAS_ADD] = { VGGCL_PROG_DENSE, "bias_add" },
    [VGGCL_K_CAM] = { VGGCL_PROG_CAM, "cam" },
    [VGGCL_K_DENSE] = { VGGCL_PROG_DENSE, "dense" },
};

vggcl_status vggcl__kernel_v(vggcl_ctx *ctx, int which, const char *defines, const char *where, cl_kernel *out)
{
    vggcl_status st;
    cl_program prog;
    cl_int err;
    for (int i = 0; i < ctx->n_kernels; i++)
        if (ctx->kernels[i].kernel == which && !strcmp(ctx->kernels[i].defines, defines)) {
            *out = ctx->kernels[i].k;
            return VGGCL_OK;
        }
    *out = NULL;
    st = get_program(ctx, kernel_table[which].prog, defines, where, &prog);
    if (st != VGGCL_OK) return st;
    vggcl_kernel_entry *grown = realloc(ctx->kernels, (size_t)(ctx->n_kernels + 1) * sizeof *grown);
    if (!grown) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    ctx->kernels = grown;
    cl_kernel k = (err = vggcl__fault(ctx, "clCreateKernel")) == CL_SUCCESS
                      ? clCreateKernel(prog, kernel_table[which].name, &err) : NULL;
    if (err != CL_SUCCESS) { /* (which kernel of which file: the layer alone did not say) */
        const char *dir = kernel_dir();
        char at[1024];
        snprintf(at, sizeof at, "%s: kernel %s of %s/%s%s%s", where, kernel_table[which].name, dir ? dir : "kernels",
                 progs[kernel_table[which].prog].file, *defines ? ", options " : "", defines);
        return vggcl__cl_fail(ctx, at, "clCreateKernel", err);
    }
    size_t limit = 0;
    CL_CHECK(clGetKernelWorkGroupInfo, (k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit, &limit, NULL));
    if (!limit || limit > ctx->max_wg) limit = ctx->max_wg;
    if (ctx->kernel_wg_cap && limit > ctx->kernel_wg_cap) limit = ctx->kernel_wg_cap;
    vggcl_kernel_entry *e = &ctx->kernels[ctx->n_kernels++];
    e->kernel = which;
    snprintf(e->defines, sizeof e->defines, "%s", defines);
    e->k = k;
    e->local_limit = limit;
    *out = k;
    return VGGCL_OK;
fail:
    if (k) CL_CLEANUP(clReleaseKernel, (k));
    return st;
}

size_t vggcl__local_limit(const vggcl_ctx *ctx, cl_kernel k)
{
    for (int i = 0; i < ctx->n_kernels; i++)
        if (ctx->kernels[i].k == k) return ctx->kernels[i].local_limit;
    return ctx->max_wg;
}

vggcl_status vggcl__kernel(vggcl_ctx *ctx, int which, const char *where, cl_kernel *out)
{
    return vggcl__kernel_v(ctx, which, "", where, out);
}
