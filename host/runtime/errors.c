/* The context's error message and the names of OpenCL error codes. */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* The message past ctx->msg's size: its start and its end (where the reason is, after the names) around
 * "[...]", each cut between whole UTF-8 characters (a name of 9000 bytes left the name alone). */
static void keep_ends(char *msg, size_t cap, const char *whole, size_t n)
{
    static const char gap[] = " [...] ";
    size_t head = (cap - sizeof gap) / 2, tail = cap - sizeof gap - head;
    while (head && ((unsigned char)whole[head] & 0xC0) == 0x80) head--;
    while (tail && ((unsigned char)whole[n - tail] & 0xC0) == 0x80) tail--;
    memcpy(msg, whole, head);
    memcpy(msg + head, gap, sizeof gap - 1);
    memcpy(msg + head + sizeof gap - 1, whole + n - tail, tail);
    msg[head + sizeof gap - 1 + tail] = '\0';
}

static void set_message(vggcl_ctx *ctx, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    /* (numbers with a '.', whatever locale the host program set: "mean 0,485,0,456,0,406" under de_DE) */
    const locale_t before = vggcl__c_locale_begin();
    const int n = vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    char *whole = n >= (int)sizeof ctx->msg ? malloc((size_t)n + 1) : NULL;
    if (whole && vsnprintf(whole, (size_t)n + 1, fmt, again) == n)
        keep_ends(ctx->msg, sizeof ctx->msg, whole, (size_t)n);
    vggcl__c_locale_end(before);
    free(whole);
    va_end(again);
}

/* The context's failure: its message and the errno behind it (0: not the system's). */
static vggcl_status fail_with(vggcl_ctx *ctx, vggcl_status status, int err, const char *fmt, va_list ap)
{
    if (!ctx) return status;
    set_message(ctx, fmt, ap);
    ctx->os_error = err;
    return status;
}

vggcl_status vggcl__fail(vggcl_ctx *ctx, vggcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_with(ctx, status, 0, fmt, ap);
    va_end(ap);
    return status;
}

vggcl_status vggcl__fail_os(vggcl_ctx *ctx, int err, const char *fmt, ...)
{
    va_list ap;
    const vggcl_status status = err == ENOMEM ? VGGCL_ERR_NOMEM : VGGCL_ERR_IO;
    va_start(ap, fmt);
    fail_with(ctx, status, err, fmt, ap);
    va_end(ap);
    return status;
}

vggcl_status vggcl__fail_around(vggcl_ctx *ctx, vggcl_status status, const char *before, const char *after)
{
    char msg[sizeof ctx->msg];
    if (!ctx) return status;
    memcpy(msg, ctx->msg, sizeof msg);
    const int err = ctx->os_error; /* (the same failure, said with more) */
    vggcl__fail(ctx, status, "%s%s%s", before, msg, after);
    ctx->os_error = err;
    return status;
}

const char *vggcl__cl_error_name(cl_int err)
{
    switch (err) {
#define N(x) case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE)
    N(CL_COMPILER_NOT_AVAILABLE) N(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY) N(CL_PROFILING_INFO_NOT_AVAILABLE)
    N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH) N(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE) N(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) N(CL_COMPILE_PROGRAM_FAILURE)
    N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE) N(CL_DEVICE_PARTITION_FAILED)
    N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE)
    N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE) N(CL_INVALID_CONTEXT)
    N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE) N(CL_INVALID_HOST_PTR)
    N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) N(CL_INVALID_IMAGE_SIZE)
    N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS)
    N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME)
    N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX)
    N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE) N(CL_INVALID_KERNEL_ARGS)
    N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
    N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST) N(CL_INVALID_EVENT)
    N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
    N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
    N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
    N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "unknown OpenCL error";
    }
}

vggcl_status vggcl__cl_fail(vggcl_ctx *ctx, const char *where, const char *call, cl_int err)
{
    vggcl_status st = VGGCL_ERR_DEVICE;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
        err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE)
        st = VGGCL_ERR_DEVICE_MEMORY;
    return vggcl__fail(ctx, st, "%s: %s -> %s (%d)", where ? where : "vggcl", call,
                       vggcl__cl_error_name(err), (int)err);
}

void vggcl__cleanup_said(vggcl_ctx *ctx, const char *where, const char *call, cl_int err)
{
    if (err == CL_SUCCESS || !ctx || !ctx->log) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s -> %s (%d), giving back the device's objects (what was computed is not "
             "affected)", where ? where : "vggcl", call, vggcl__cl_error_name(err), (int)err);
    ctx->log(ctx->log_user, msg);
}

double vggcl__now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

size_t vggcl__pow2_floor(size_t limit)
{
    size_t p = 1;
    while (p * 2 <= limit) p *= 2;
    return p;
}

const char *vggcl_message(const vggcl_ctx *ctx)
{
    return ctx ? ctx->msg : "out of host memory";
}

int vggcl_os_error(const vggcl_ctx *ctx)
{
    return ctx ? ctx->os_error : 0;
}

const char *vggcl__strerror(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len) != 0) snprintf(buf, len, "error %d", err);
    return buf;
}

/* The "C" locale, made once: numbers in files (metadata, the tuning table) are read and written with a
 * '.' whatever locale the host program set (a Python program's locale.setlocale(LC_ALL, "de_DE") made
 * "0.485,0.456,0.406" unreadable and would have written "0,1234"). */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

locale_t vggcl__c_locale_begin(void)
{
    pthread_once(&c_locale_once, c_locale_make);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

void vggcl__c_locale_end(locale_t before)
{
    if (before) uselocale(before);
}

int vggcl__format(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const locale_t before = vggcl__c_locale_begin();
    const int n = vsnprintf(buf, len, fmt, ap);
    vggcl__c_locale_end(before);
    va_end(ap);
    return n;
}

/* One process-wide lock for the few things that are not thread-safe below
 * vggcl: the ICD loader's first platform query, cJSON's parser, which
 * records its error position in a global, and CLBlast's first use. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;

/* A child forked while another of its parent's threads held a lock of vggcl's (in CLBlast, parsing a header,
 * sweeping a folder's orphans) inherited it held by a thread it does not have: its first model load, on the
 * reference too, waited for ever. Each is made anew in the child (not taken by a prepare handler: a fork from a
 * log callback that runs under the lock would wait on itself); what they guard is harmless to find half done
 * (cJSON's error position, the sweep's list of folders) or OpenCL's, which a forked child does not use
 * (vggcl__fork_check). */
static void locks_in_child(void)
{
    pthread_mutex_init(&global_lock, NULL);
    vggcl__output_locks_in_child();
}

__attribute__((constructor)) static void locks_at_fork(void)
{
    (void)pthread_atfork(NULL, NULL, locks_in_child); /* (ENOMEM: a child may then wait as before) */
}

void vggcl__lock(void)
{
    pthread_mutex_lock(&global_lock);
}

void vggcl__unlock(void)
{
    pthread_mutex_unlock(&global_lock);
}

static _Atomic int opencl_pid; /* the process that listed the OpenCL devices; 0: none has */

void vggcl__opencl_listed(void)
{
    int none = 0;
    atomic_compare_exchange_strong(&opencl_pid, &none, (int)getpid());
}

int vggcl__forked(void)
{
    const int pid = atomic_load(&opencl_pid);
    return pid && pid != (int)getpid();
}

vggcl_status vggcl__fork_check(vggcl_ctx *ctx)
{
    if (!vggcl__forked()) return VGGCL_OK;
    return vggcl__fail(ctx, VGGCL_ERR_DEVICE, "this process was forked from process %d after that one used OpenCL "
                       "(it listed the devices), and OpenCL drivers do not carry over a fork (PoCL waits forever): "
                       "start it another way (Python's multiprocessing: the \"spawn\" or \"forkserver\" start "
                       "method), or use vggcl in the forked processes alone; the reference (device \"ref\") works",
                       atomic_load(&opencl_pid));
}

void vggcl_set_log(vggcl_ctx *ctx, vggcl_log_fn fn, void *user)
{
    if (!ctx) return;
    ctx->log = fn;
    ctx->log_user = user;
}

const char *vggcl_version(void) { return VGGCL_VERSION_STRING; }

void vggcl_free(void *p) { free(p); }
