/* Internal state shared by the library's files: the context, the error helpers
 * and the checked-OpenCL-call macros. Not installed. */
#ifndef VGGCL_INTERNAL_H
#define VGGCL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>

#include "vggcl.h"

enum {
    VGGCL_PROG_CONV, VGGCL_PROG_WINO, VGGCL_PROG_WINO_ONE, VGGCL_PROG_WINO_GPU, VGGCL_PROG_WINO_PACKED,
    VGGCL_PROG_PACKED_ONE, VGGCL_PROG_PACKED_LAYOUT, VGGCL_PROG_IM2COL, VGGCL_PROG_POOL, VGGCL_PROG_GAP, VGGCL_PROG_DENSE,
    VGGCL_PROG_CAM, VGGCL_PROG_COUNT
};
enum {
    VGGCL_K_CONV3X3, VGGCL_K_WINO_INPUT, VGGCL_K_WINO_GEMM_OUT, VGGCL_K_WINO_FUSED, VGGCL_K_WINO_GPU_INPUT,
    VGGCL_K_WINO_GPU_GEMM, VGGCL_K_WINO_GPU_OUTPUT, VGGCL_K_PACKED_FUSED, VGGCL_K_PACKED_INPUT,
    VGGCL_K_PACKED_GEMM_OUT, VGGCL_K_PACKED_BORDER, VGGCL_K_PACKED_FROM_NCHW, VGGCL_K_PACKED_TO_NCHW, VGGCL_K_IM2COL,
    VGGCL_K_BIAS_RELU_ROWS,
    VGGCL_K_MAXPOOL, VGGCL_K_MAXPOOL2X2, VGGCL_K_GAP, VGGCL_K_ADAPTIVE_AVGPOOL, VGGCL_K_BIAS_ADD, VGGCL_K_CAM,
    VGGCL_K_DENSE, VGGCL_K_COUNT
};

/* A built program variant: one .cl file with one set of -D tunables. */
typedef struct {
    int prog;
    char defines[160];
    cl_program program;
} vggcl_program_entry;

typedef struct {
    int kernel;
    char defines[160];
    cl_kernel k;
    size_t local_limit; /* the most work-items in one of its work-groups (vggcl__local_limit) */
} vggcl_kernel_entry;

/* Values of a convolution algorithm's tunables, in the order of its table
 * entry (conv_algo.h). */
#define VGGCL_MAX_TUNABLES 10
typedef struct {
    int v[VGGCL_MAX_TUNABLES];
} vggcl_conv_params;

/* One row of the tuning table: the algorithm and parameters measured fastest
 * for a conv shape at a batch-size class (tune.c). */
typedef struct {
    int c_in, c_out, h, w, batch;
    int algo;
    vggcl_conv_params params;
    double ms;          /* median device time per pass when measured */
} vggcl_tuned;

/* The longest cache folder name used (bytes), and its entries' paths: the name and a file name
 * of 32 hex digits and a short suffix (program_cache.c). */
#define VGGCL__CACHE_DIR_MAX 4000
#define VGGCL__CACHE_PATH_MAX (VGGCL__CACHE_DIR_MAX + 64)
#define VGGCL__CACHE_LONG (-1)
#define VGGCL__CACHE_NOWHERE (-2) /* no VGGCL_CACHE_DIR, no absolute XDG_CACHE_HOME, no HOME */

/* One profiled command: a kernel launch or a CLBlast call. A CLBlast call enqueues several kernels and
 * gives the event of its last: first is a marker enqueued before them (the span's start), else NULL. */
typedef struct {
    char layer[160];
    char params[sizeof ((vggcl_layer_profile *)0)->params]; /* a convolution's parameters (the profile's), else "" */
    int tuned;       /* vggcl_layer_profile's */
    char name[sizeof ((vggcl_layer_profile *)0)->name], algorithm[sizeof ((vggcl_layer_profile *)0)->algorithm];
    int fused_pool;  /* (the three: vggcl_layer_profile's) */
    double flops;
    cl_event event, first;
} vggcl_prof_entry;

/* The convolution being queued, as its profile entries say it (vggcl_layer_profile's fields of the same names). */
typedef struct {
    const char *name, *algorithm, *params;
    int tuned, fused_pool;
} vggcl_prof_conv;

struct vggcl_ctx {
    char msg[8192];
    int os_error;          /* errno behind the failure msg says, where it was a file's (vggcl_os_error); else 0 */
    int selected;          /* vggcl_select_device was called successfully */
    int models;            /* models loaded with it and not freed (vggcl_ctx_free waits for the last) */
    int closing;           /* vggcl_ctx_free was called while models remained */
    int use_ref;           /* 1: plain-C reference backend, no OpenCL */
    char device_name[256];
    int device_index;      /* the device's index in vggcl_list_devices; -1: ref or none selected */
    char device_type[16];                  /* vggcl_device_info's type; "" for ref */
    char device_version[128], driver_version[128], platform_name[128]; /* for the program cache key */
    char platform_version[512]; /* also: PoCL's alone names the LLVM that compiles (a rebuild keeps the rest) */
    int cache_hits, cache_misses;          /* programs loaded from / built into the cache */
    double build_ms;                       /* time spent getting programs ready */
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    cl_command_queue upload_queue;         /* overlapped passes' input, beside the running pass */
    cl_ulong max_alloc, global_mem, local_mem; /* local_mem: what kernels may take (device.c) */
    unsigned long long host_mem;           /* tests: the host memory a pass may take (0: the system's) */
    size_t max_wg;
    size_t kernel_wg_cap;                  /* tests: a driver that allows kernels fewer items than max_wg */
    size_t blas_reach;                     /* tests: floats CLBlast's offsets reach (0: INT_MAX, its own) */
    int used_clblast;                      /* a CLBlast call was made on this context (vggcl__sgemm_release) */
    size_t grid_rows;                      /* tests: rows a launch takes (0: VGGCL_GRID_ROWS; vggcl__enqueue) */
    float tune_skew;                       /* tests: a challenger's output times 1 + this in vggcl__tune_agree */
    cl_mem tune_evict;                     /* tune: written over before each timed pass (NULL: not); tune.c */
    size_t tune_evict_bytes;               /* its size */
    int tune_evict_failed;                 /* writing it over failed: tune fails (not the candidate timed) */
    cl_ulong cache_bytes;                  /* tests: the device's global memory cache (0: what it reports) */
    int is_gpu;                            /* CL_DEVICE_TYPE_GPU: the GPU-shaped kernels by default */
    int is_cpu;                            /* CL_DEVICE_TYPE_CPU: kernels built with -DVGGCL_CPU */
    cl_uint vector_floats;                 /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (0: the reference) */
    vggcl_program_entry *programs;         /* built on first use, per (program, defines) */
    int n_programs;
    vggcl_kernel_entry *kernels;           /* created on first use, per (kernel, defines) */
    int n_kernels;
    vggcl_tuned *tuned;                    /* the tuning table's rows */
    int n_tuned;
    char *tune_unread;                     /* its other lines (a newer vggcl's rows, notes), which tune keeps */
    char tune_path[VGGCL__CACHE_PATH_MAX]; /* where the table lives ("" if caching is off) */
    int tune_refused;                      /* something is there that is not a table of this user's: unused */
    int tune_unread_errno;                 /* the table could not be read (whole): why (an errno); unused, kept */
    int profiling;                         /* record an event per command */
    vggcl_prof_entry *prof;                /* the last pass's commands */
    int prof_n, prof_cap;
    const vggcl_prof_conv *prof_conv;      /* the convolution being queued, else NULL (an entry's tuned then -1) */
    size_t dev_bytes, dev_peak;            /* device memory held by vggcl__buffer */
    int dev_buffers;                       /* buffers made by vggcl__buffer and not yet released */
    vggcl_log_fn log;                      /* vggcl_set_log */
    void *log_user;
    int told_compiling;                    /* the log heard of a compile from source */
    int told_cache_write;                  /* ... and of a cache entry that could not be written */
    int told_cache_max, told_cache_trim;   /* ... of a VGGCL_CACHE_MAX_MB not a number, of entries removed past it */
    int told_cache;                        /* the log heard that the cache folder is not used */
    int told_entry;                        /* the log heard of a cache entry refused */
    int told_foreign_entry;                /* ... of one not a private regular file (a link, another user's) */
    int told_tune;                         /* the log heard that the tuning table is not used */
    int told_rows;                         /* ... that rows of it are not used (tune reads it after each shape) */
    int told_lock;                         /* ... that its lock cannot be used (tune writes after each shape) */
    int told_agree;                        /* ... that a map too large to check keeps tune's default */
    int told_ref_conv;                     /* ... that the reference does not use a load's convolution algorithm */
    int told_255;                          /* ... that a model's mean or std looks like the 0..255 scale */
    /* fault injection (fault.c): VGGCL_FAULT as read at vggcl_ctx_new */
    char fault_spec[64];
    int fault_bad;                         /* VGGCL_FAULT is set but malformed */
    int fault_kinds;                       /* VGGCL_FAULT_* of the calls counted */
    long fault_at, fault_seen;             /* the call to fail, the calls counted so far */
    cl_int fault_code;
    int fault_fired;                       /* the fault has been injected */
    int fault_last;                        /* the kind of the last call seen (steps: a run of arguments) */
};

/* Fault injection: the kinds of call VGGCL_FAULT can fail. */
enum {
    VGGCL_FAULT_BUFFER = 1, VGGCL_FAULT_BUILD = 2, VGGCL_FAULT_KERNEL = 4, VGGCL_FAULT_ENQUEUE = 8, VGGCL_FAULT_ARG = 16,
    VGGCL_FAULT_SETUP = 32, VGGCL_FAULT_CLEANUP = 64, VGGCL_FAULT_STEPS = 128, /* (steps: a flag on "any") */
    VGGCL_FAULT_SPURIOUS = 256, /* a build from source failing as a driver's cache may make it (not in "any") */
    VGGCL_FAULT_ANY = VGGCL_FAULT_BUFFER | VGGCL_FAULT_BUILD | VGGCL_FAULT_KERNEL | VGGCL_FAULT_ENQUEUE | VGGCL_FAULT_ARG
};
void vggcl__fault_init(vggcl_ctx *ctx);
/* The kinds VGGCL_FAULT takes, "buffer, build, ...", from fault.c's table, into names (len bytes). */
void vggcl__fault_kinds(char *names, size_t len);
/* CL_SUCCESS, or the error to report for `call` (e.g. "clEnqueueReadBuffer")
 * instead of making it, when it is the call VGGCL_FAULT names. */
cl_int vggcl__fault(vggcl_ctx *ctx, const char *call);
/* got, the result of a call that gives things back (CL_CLEANUP), or the error to report instead
 * when it is the call VGGCL_FAULT names (kind cleanup). */
cl_int vggcl__fault_cleanup(vggcl_ctx *ctx, cl_int got);

/* Sets the context's message (printf-style) and returns status. ctx may be NULL. */
vggcl_status vggcl__fail(vggcl_ctx *ctx, vggcl_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* vggcl__fail's VGGCL_ERR_IO for a file the system refused, keeping its errno for vggcl_os_error (vggcl__fail
 * itself sets none: its failure is not the system's); VGGCL_ERR_NOMEM where the system's reason is ENOMEM (a
 * FILE that fdopen had no memory for: out of memory, not the file's fault). */
vggcl_status vggcl__fail_os(vggcl_ctx *ctx, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An argument the caller must give (a pointer the header does not let be NULL): VGGCL_ERR_ARG from the
 * function, naming the function fn and the argument, when it is NULL. */
/* No context: VGGCL_ERR_ARG, said nowhere, there being no context to say it in (vggcl_image_load and the
 * other functions that need no device took NULL and failed without a message for anyone). */
#define VGGCL_NEED_CTX(ctx)                                                                                     \
    do {                                                                                                        \
        if (!(ctx)) return VGGCL_ERR_ARG;                                                                       \
    } while (0)
#define VGGCL_NEED(ctx, fn, arg)                                                                     \
    do {                                                                                            \
        if (!(arg)) return vggcl__fail((ctx), VGGCL_ERR_ARG, "%s: %s is NULL", (fn), #arg);           \
    } while (0)

/* The context's message with before and after around it (what a caller knows: the file, where a setting
 * came from); returns status. */
vggcl_status vggcl__fail_around(vggcl_ctx *ctx, vggcl_status status, const char *before, const char *after);

/* Records a failed OpenCL call: "<where>: <call> -> <NAME> (<code>)". */
vggcl_status vggcl__cl_fail(vggcl_ctx *ctx, const char *where, const char *call, cl_int err);

const char *vggcl__cl_error_name(cl_int err);

/* The process-wide lock around the calls below vggcl that are not
 * thread-safe (listing OpenCL platforms, cJSON parsing, CLBlast). */
void vggcl__lock(void);
void vggcl__unlock(void);
/* output.c's own lock made anew in a forked child (errors.c's fork handler). */
void vggcl__output_locks_in_child(void);

/* OpenCL in a process forked after its parent listed the devices: drivers do not carry over a fork (PoCL's
 * worker threads are not there, and the child waited forever). vggcl__opencl_listed records the process that
 * listed them (once); vggcl__forked says whether this is another one, a child of it; vggcl__fork_check fails
 * there, saying so (VGGCL_ERR_DEVICE), else VGGCL_OK. In a child the releases are not made (CL_CLEANUP). */
void vggcl__opencl_listed(void);
int vggcl__forked(void);
vggcl_status vggcl__fork_check(vggcl_ctx *ctx);

/* strerror, thread-safe: the text is put in buf. */
const char *vggcl__strerror(int err, char *buf, size_t len);
/* This thread in the "C" locale until vggcl__c_locale_end(what begin returned): around the scanf and printf
 * of numbers in files, which the host program's locale would give a ',' for a '.'. */
locale_t vggcl__c_locale_begin(void);
void vggcl__c_locale_end(locale_t before);
/* snprintf in the "C" locale: a message's numbers with a '.' whatever the host program's locale (vggcl__fail
 * formats so too; "mean 0,485,0,456,0,406" under de_DE). */
int vggcl__format(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* path opened for reading (open(2)'s flags added: O_NOFOLLOW for the cache) when it is a regular file (a
 * FIFO is not waited on), its status in *sb if sb; else NULL with *err the open's errno, EISDIR for a
 * folder, or 0 for anything else that is not a regular file. */
struct stat;
FILE *vggcl__open_input(const char *path, int flags, struct stat *sb, int *err);
/* The errno of a read that failed on f (a failing disk, a network file system gone): its descriptor read again where
 * it stands (a stream's bytes read so far end there; libtiff's read at its place), which fails again as the system
 * does; -1 where only the stream's error flag says so (the read again read: an interrupted read, a passing fault);
 * 0 where the file read (a truncated file: its end). Said as a read error (vggcl__read_error_text), not as a
 * corrupt file, which is what the decoders make of the short read. */
int vggcl__read_error(FILE *f);
/* vggcl__read_error's nonzero answer in words, in buf. */
const char *vggcl__read_error_text(int err, char *buf, size_t len);
/* Whether a file's first n bytes are a .npy file's (a weights file given an array's name says so). */
int vggcl__is_npy(const unsigned char *b, size_t n);
/* path as a message names a file it cannot open: '' (an empty path) for "" (it began the message with ": "). */
const char *vggcl__path_shown(const char *path);

/* Checked OpenCL calls. The enclosing function declares `vggcl_status st`, a
 * `fail:` label, and `where` (the layer or step, for the message). The call
 * is not made when fault injection fails it. */
#define CL_CHECK(fn, args)                                                     \
    do {                                                                       \
        cl_int e_ = vggcl__fault(ctx, #fn);                                    \
        if (e_ == CL_SUCCESS) e_ = fn args;                                    \
        if (e_ != CL_SUCCESS) {                                                \
            st = vggcl__cl_fail(ctx, where, #fn, e_);                          \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* Calls that give things back (the releases, and the wait for queued work before them on a failed
 * pass) are made whatever happens; their failure (a double release, a driver fault) changes nothing
 * the caller could act on and is not returned: it is said through the log function ("<where>:
 * <call> -> <NAME> (<code>) ..."). The enclosing function
 * declares `where`; fault injection (kind cleanup) replaces such a call's result, not the call. */
#define CL_CLEANUP(fn, args)                                                                                    \
    vggcl__cleanup_said(ctx, where, #fn, vggcl__forked() ? CL_SUCCESS : vggcl__fault_cleanup(ctx, fn args))
void vggcl__cleanup_said(vggcl_ctx *ctx, const char *where, const char *call, cl_int err);

/* For calls that return an object and report through an errcode_ret. */
#define CL_CHECK_RET(fn, err)                                                  \
    do {                                                                       \
        if ((err) != CL_SUCCESS) {                                             \
            st = vggcl__cl_fail(ctx, where, #fn, (err));                       \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* The cache folder into dir: 1; 0 when caching is off (VGGCL_CACHE_DIR=off); VGGCL__CACHE_NOWHERE when
 * there is no folder to name; VGGCL__CACHE_LONG when its name is longer than VGGCL__CACHE_DIR_MAX bytes
 * (not used). */
int vggcl__cache_dir(char dir[VGGCL__CACHE_DIR_MAX + 1]);
/* Why vggcl__cache_dir gave no folder (on: what it returned, not 1), in words. */
const char *vggcl__cache_why_not(int on);
/* 0 when the ready cache folder dir can be written, else the errno (a read-only file system). */
int vggcl__cache_unwritable(const char *dir);

/* The host memory a pass may still take, in bytes (host_memory.c): ctx->host_mem where a test set it, else
 * MemAvailable and the free swap, at most what the process's cgroup (v2, its own and its ancestors', or v1)
 * has left under its limit, its page cache counted as free, and its address space under RLIMIT_AS (ulimit
 * -v), less on an OpenCL device a reserve for the driver (256 MiB, half below 512 MiB, and 1/32); 0: not
 * known (no MemAvailable). For the reference and a CPU device, whose buffers are the host's. */
double vggcl__host_available(const vggcl_ctx *ctx);
/* Where PoCL keeps its kernel cache, which it must write to list devices and to build: said where it cannot. */
#define VGGCL__POCL_CACHE_WHERE "($POCL_CACHE_DIR, else $XDG_CACHE_HOME/pocl, $HOME/.cache/pocl or /tmp/pocl)"
/* That folder, by PoCL's rule, into dir: 1; 0 where the context's platform is not PoCL (ctx NULL: PoCL's folder). */
int vggcl__pocl_cache_dir(const vggcl_ctx *ctx, char *dir, size_t len);
/* Why the cache folder dir cannot be used, after vggcl__make_dirs gave made, as the end of a sentence that
 * names dir ("is not a folder", "cannot be made: ..."); "" when it can. */
void vggcl__cache_unusable(const char *dir, int made, char *why, size_t len);
/* What a file of the cache folder that vggcl__cache_open refuses is, into what ("a link", "a folder", "not a
 * regular file", "another user's, uid N", "writable by others, mode 0664"; "gone"), from one lstat: 1 where this
 * user may make it private (chmod 600), else 0 (it can only be moved away). */
int vggcl__cache_file_refused(const char *path, char *what, size_t len);
/* mkdir -p, and the path of an entry keyed by a hash of text, options and the device and driver
 * (0: caching off, or the folder's name too long). */
int vggcl__make_dirs(const char *path); /* 0, or the first failing mkdir's errno (not EEXIST) */
int vggcl__cache_path(const vggcl_ctx *ctx, const char *text, const char *options, const char *suffix,
                      char out[VGGCL__CACHE_PATH_MAX]);

/* The tuning table (tune.c): loaded when a device is selected. The row
 * closest to a conv of c_in -> c_out at h x w and batch n (same channels;
 * then the same map size first, then the same batch class), restricted to
 * algorithm only unless it is 0; NULL if none. */
void vggcl__tune_load(vggcl_ctx *ctx);
/* The last batch of n's batch class (1-2, 3-16, 17 and more), whose rows a tuning table keeps apart:
 * 2, 16 or INT_MAX. */
int vggcl__batch_class_last(int n);
/* Frees a context and what it holds (vggcl_ctx_free, or the last of its models after it). */
void vggcl__ctx_release(vggcl_ctx *ctx);
/* At a context's release: CLBlast's caches emptied when it was the last live context that called CLBlast, or the
 * VGGCL__CLBLAST_FREED_MAX-th freed since they were last emptied. Its program cache keeps each program, and with
 * it the OpenCL context it was built for, until emptied, and can only be emptied whole: 1.6-2.4 MB per context on
 * PoCL, so a service opening a context per request beside one it keeps grew without end; emptied each time, the
 * kept one made its programs again at each request (from the driver's cache, where it has one: 30 ms on PoCL). */
#define VGGCL__CLBLAST_FREED_MAX 8
void vggcl__sgemm_release(vggcl_ctx *ctx);
/* The tuning table's row a conv of these channels, map and batch runs (of algorithm only, where not 0), or NULL:
 * rows of another map size within twice or half of each side (tune.c says the order). */
const vggcl_tuned *vggcl__tune_lookup(const vggcl_ctx *ctx, int c_in, int c_out, int h, int w, int n, int only);
/* The median over rounds of b_ms / a_ms (rounds where a_ms is not positive are
 * left out; at most 16 rounds; INFINITY if none): how tune compares a challenger
 * b with the default a timed in alternating rounds. */
double vggcl__paired_ratio(const double *a_ms, const double *b_ms, int rounds);
/* One of the tuner's candidates: an algorithm and its parameters. */
typedef struct {
    int algo;
    vggcl_conv_params p;
} vggcl_tune_candidate;
/* The bytes of the buffer tune writes over before each timed pass of a layer of m at a batch of n, h x w (twice
 * the device's global memory cache `cache`, at most 256 MiB and the device's largest buffer), where a pass of m
 * touches more than the cache holds (its input, its convolutions' weights and its output maps); else 0. */
size_t vggcl__tune_evict_bytes(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, cl_ulong cache);
/* What `vggcl tune` tries for a conv of c_in to c_out channels on n images of h x w whose answers
 * it checks on check_h x check_w maps: every algorithm's defaults first, in algorithm order, then
 * one candidate for each other way to launch at both sizes (vggcl__conv_launch_key; the one with
 * the fewest parameters changed from its algorithm's defaults), in a fixed shuffled order (tune_shape then
 * reorders the rest: vggcl__tune_neighbours_first, vggcl__tune_slow_last). A
 * malloc'd array of *count; NULL when out of host memory. */
vggcl_tune_candidate *vggcl__tune_candidates(const vggcl_ctx *ctx, int c_in, int c_out, int n, int h, int w,
                                             int check_h, int check_w, int *count);
/* Once the defaults are timed: moves the candidates of c[first, count) that differ from best,
 * the fastest of them, in one parameter to the front, in their shuffled order, so that a short
 * budget tries the fastest default's neighbours before the rest. */
void vggcl__tune_neighbours_first(vggcl_tune_candidate *c, int first, int count, const vggcl_tune_candidate *best);
/* Then: moves the candidates of c[first, count) whose algorithm's defaults (algo_ms, by algorithm id, the table's
 * row counted as one of its algorithm's; INFINITY where they did not run) took over VGGCL_TUNE_SLOW_ALGO times
 * best_ms, the fastest of those times, to the back, in their order, so that a budget goes to the algorithms that
 * may win before those far behind (on PoCL the GPU-shaped Winograd, 1367 of about 1550 candidates per layer, and
 * CLBlast's GEMM took 20-30x the channel-packed Winograd's time, and most of a budget went to them). */
#define VGGCL_TUNE_SLOW_ALGO 2.0
void vggcl__tune_slow_last(vggcl_tune_candidate *c, int first, int count, const double *algo_ms, double best_ms);

/* The cache folder in dir, created (0700) when missing; 0 when caching is off,
 * its name is too long, or the folder is not the user's own or others can
 * write to it (the last two said once through the log). */
int vggcl__cache_ready(vggcl_ctx *ctx, char dir[VGGCL__CACHE_DIR_MAX + 1]);
/* A cache entry to read: a regular file of the user's that only the user can
 * write to, in a ready folder, not through a symlink; else NULL, with *err the
 * errno where one is there that could not be opened (EACCES, EMFILE, ...), 0
 * where none is or it was refused for what it is. */
FILE *vggcl__cache_open(vggcl_ctx *ctx, const char *path, int *err);
/* Writes a cache entry (0600) atomically, replacing whatever is at path. */
vggcl_status vggcl__cache_write(vggcl_ctx *ctx, const char *path, const void *data, size_t len);

/* The program-binary cache (program_cache.c): a built program or NULL. */
cl_program vggcl__cache_load(vggcl_ctx *ctx, const char *src, const char *options);
void vggcl__cache_store(vggcl_ctx *ctx, const char *src, const char *options, cl_program prog);

/* Returns kernel VGGCL_K_* built with `defines` (tunables such as
 * "-DTT=16", or "" for the file's defaults), creating it and building its
 * program on first use. The context owns it. `where` names the layer. */
vggcl_status vggcl__kernel_v(vggcl_ctx *ctx, int which, const char *defines, const char *where, cl_kernel *out);

/* The most work-items kernel k (made by vggcl__kernel_v) takes in one work-group on this device:
 * the device's maximum (ctx->max_wg when it was made), or less where the driver says so for this
 * kernel (CL_KERNEL_WORK_GROUP_SIZE; register-heavy kernels on some GPUs) or a test's
 * kernel_wg_cap does. */
size_t vggcl__local_limit(const vggcl_ctx *ctx, cl_kernel k);
/* The same with the file's default tunables. */
vggcl_status vggcl__kernel(vggcl_ctx *ctx, int which, const char *where, cl_kernel *out);

/* A local size of one work-item per work-group, in up to 3 dimensions: what a kernel whose local
 * memory is each work-item's own must run with on every device (vggcl__enqueue gives it to any
 * kernel on a CPU when none is passed). */
extern const size_t vggcl__one_item[3];

/* Enqueues an NDRange kernel (checked, message names `where`); when profiling,
 * records its event with the FLOPs it performs. A launch with more than
 * VGGCL_GRID_ROWS work-groups in its second or third dimension (N x C rows at
 * a large batch) is made as several, each taking a run of them through the
 * global offset: CUDA's grids stop at 65535 there, and NVIDIA's OpenCL runs on
 * them. So kernels index those dimensions by get_global_id, never by
 * get_group_id or get_global_size (wino_gpu_gemm did: its channel blocks are
 * 65536 rows where NWG = NDIMC = 32 and C_out is 65536). A context's
 * grid_rows lowers the limit for the tests, so that every kernel is split. */
#define VGGCL_GRID_ROWS 65535
vggcl_status vggcl__enqueue(vggcl_ctx *ctx, const char *where, cl_kernel k, cl_uint dims, const size_t *global,
                            const size_t *local, double flops);

/* For calls that enqueue through another library (CLBlast): the event slot
 * to pass when profiling, else NULL. */
cl_event *vggcl__prof_slot(vggcl_ctx *ctx, const char *where, double flops);

/* Drops the recorded events (at the start of each forward pass). */
void vggcl__prof_reset(vggcl_ctx *ctx);
/* An entry's device milliseconds, from its first command's start to its last's end (0 when unknown). */
double vggcl__prof_ms(const vggcl_prof_entry *e);
/* The recorded entries' device milliseconds as one span, the first's start to the last's end: the gaps
 * between dependent commands included, as a pass sees them (0 when a time is unknown). */
double vggcl__prof_span_ms(const vggcl_ctx *ctx);

/* Device buffers with the context's memory accounting. */
vggcl_status vggcl__buffer(vggcl_ctx *ctx, const char *where, cl_mem_flags flags, size_t bytes, void *host,
                           cl_mem *out);
void vggcl__release(vggcl_ctx *ctx, const char *what, cl_mem *mem); /* sets *mem to NULL; accepts NULL; what: the layer or step */
/* Writing a whole buffer in place on the host: map (blocking, its old contents
 * dropped), write, unmap. On CPU devices the mapping is the buffer itself, so a
 * large upload needs no host copy beside it. */
vggcl_status vggcl__map_write(vggcl_ctx *ctx, const char *where, cl_mem mem, size_t bytes, void **host);
vggcl_status vggcl__unmap(vggcl_ctx *ctx, const char *where, cl_mem mem, void *host);

/* A monotonic clock in milliseconds. */
double vggcl__now_ms(void);

/* Largest power of two <= limit, at least 1. */
size_t vggcl__pow2_floor(size_t limit);

#endif
