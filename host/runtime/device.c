/* Context lifetime, OpenCL device enumeration and selection. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

/* The blanks taken around a device spec and around its P:D colon. */
#define BLANKS " \t\r\n\v\f"

#define LOCAL_RESERVE 1024

vggcl_ctx *vggcl_ctx_new(void)
{
    vggcl_ctx *ctx = calloc(1, sizeof(vggcl_ctx));
    if (ctx) ctx->device_index = -1, vggcl__fault_init(ctx);
    return ctx;
}

void vggcl_ctx_free(vggcl_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->models > 0) { /* (its models release their buffers through it: it goes with the last of them) */
        ctx->closing = 1;
        return;
    }
    vggcl__ctx_release(ctx);
}

void vggcl__ctx_release(vggcl_ctx *ctx)
{
    char where[300];
    snprintf(where, sizeof where, "closing device %d (%s)", ctx->device_index, ctx->device_name);
    vggcl__prof_reset(ctx);
    free(ctx->prof);
    free(ctx->tuned);
    free(ctx->tune_unread);
    for (int i = 0; i < ctx->n_kernels; i++) CL_CLEANUP(clReleaseKernel, (ctx->kernels[i].k));
    for (int i = 0; i < ctx->n_programs; i++) CL_CLEANUP(clReleaseProgram, (ctx->programs[i].program));
    free(ctx->kernels);
    free(ctx->programs);
    if (ctx->upload_queue) CL_CLEANUP(clReleaseCommandQueue, (ctx->upload_queue));
    if (ctx->queue) CL_CLEANUP(clReleaseCommandQueue, (ctx->queue));
    if (ctx->cl) CL_CLEANUP(clReleaseContext, (ctx->cl));
    vggcl__sgemm_release(ctx); /* (CLBlast's programs of this context: the last of its references) */
    free(ctx);
}

const char *vggcl_device_name(const vggcl_ctx *ctx)
{
    return ctx ? ctx->device_name : "";
}

int vggcl_device_index(const vggcl_ctx *ctx)
{
    return ctx ? ctx->device_index : -1;
}

const char *vggcl_device_type(const vggcl_ctx *ctx)
{
    return ctx ? ctx->device_type : "";
}

int vggcl_usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int vggcl_decode_threads_default(const vggcl_ctx *ctx)
{
    /* measured on a 2-vCPU Xeon with PoCL: 2 decoding threads ran bench --images at 0.97x of 1
     * (median of 8 alternating runs), taking time from the device's own threads */
    const int n = !strcmp(vggcl_device_type(ctx), "CPU") ? (vggcl_usable_cores() + 15) / 16 : vggcl_usable_cores();
    return n > 64 ? 64 : n;
}

/* The device types as vggcl_device_info names them (and a spec may: --device gpu), in the order a device of
 * several is named by (a GPU that is also the default device: GPU). */
static const struct {
    cl_device_type bit;
    const char *name;
} types[] = { { CL_DEVICE_TYPE_GPU, "GPU" }, { CL_DEVICE_TYPE_CPU, "CPU" },
               { CL_DEVICE_TYPE_ACCELERATOR, "ACCELERATOR" } };

static const char *type_name(cl_device_type t)
{
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        if (t & types[k].bit) return types[k].name;
    return "OTHER";
}

typedef struct {
    cl_platform_id platform;
    cl_device_id device;
    vggcl_device_info info;
} dev_entry;

/* A platform's (dev NULL) or device's text property into buf, cut to fit: a driver's name longer than
 * the struct's field (CL_INVALID_VALUE for the field's size) is no reason to list no device at all. */
static vggcl_status info_text(vggcl_ctx *ctx, cl_platform_id plat, cl_device_id dev, cl_uint what, char *buf,
                              size_t len)
{
    const char *where = "listing OpenCL devices";
    vggcl_status st = VGGCL_OK;
    size_t size = 0;
    char *text = NULL;
    if (dev) CL_CHECK(clGetDeviceInfo, (dev, what, 0, NULL, &size));
    else CL_CHECK(clGetPlatformInfo, (plat, what, 0, NULL, &size));
    if (!(text = calloc(size + 1, 1))) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    if (size && dev) CL_CHECK(clGetDeviceInfo, (dev, what, size, text, NULL));
    else if (size) CL_CHECK(clGetPlatformInfo, (plat, what, size, text, NULL));
    snprintf(buf, len, "%s", text);
fail:
    free(text);
    return st;
}

/* The drivers the ICD loader was given, as ocl-icd finds them: the .icd files of /etc/OpenCL/vendors, or of
 * OCL_ICD_VENDORS where that is set and a folder, or the one driver it names where it is a file, and those
 * OCL_ICD_FILENAMES lists (':' between them); where they are listed in *where. -1 where the folder could not
 * be read for want of descriptors or memory (as the loader, maybe). */
static int listed_drivers(const char **where)
{
    const char *env = getenv("OCL_ICD_VENDORS"), *named = getenv("OCL_ICD_FILENAMES");
    int n = 0;
    for (const char *s = named; s && *s; s += strcspn(s, ":"), s += *s == ':') n += strcspn(s, ":") > 0;
    *where = env && *env ? env : "/etc/OpenCL/vendors";
    DIR *d = opendir(*where);
    if (!d && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) return -1;
    if (!d && *where == env) return n + (access(env, R_OK) == 0);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        const size_t len = strlen(e->d_name);
        n += len > 4 && !strcmp(e->d_name + len - 4, ".icd");
    }
    if (d) closedir(d);
    return n;
}

/* Whether PoCL's kernel cache (or, not made yet, the nearest folder above it) is on a file system mounted
 * noexec: PoCL loads each kernel it compiles there as a shared object, and where it cannot map one it aborts
 * the process (every command died of SIGABRT, with PoCL's dlopen line alone). Its folder into dir. */
static int pocl_cache_noexec(const vggcl_ctx *ctx, char *dir, size_t len)
{
    char at[PATH_MAX];
    struct statvfs fs;
    if (!vggcl__pocl_cache_dir(ctx, dir, len)) return 0;
    snprintf(at, sizeof at, "%s", dir);
    while (statvfs(at, &fs) != 0) { /* (up to a folder that is there; none where even / cannot be asked) */
        char *slash = strrchr(at, '/');
        if (!slash || !strcmp(at, "/")) return 0;
        slash == at ? (void)(at[1] = '\0') : (void)(*slash = '\0');
    }
    return (fs.f_flag & ST_NOEXEC) != 0;
}

/* Whether an executable name is in one of PATH's folders (an empty entry: the working folder); not where PATH is
 * unset, as clang's driver looks for it. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char file[PATH_MAX];
    for (const char *at = path; at;) {
        const char *end = strchr(at, ':');
        const int len = end ? (int)(end - at) : (int)strlen(at);
        if (snprintf(file, sizeof file, "%.*s/%s", len, len ? at : ".", name) < (int)sizeof file &&
            access(file, X_OK) == 0)
            return 1;
        at = end ? end + 1 : NULL;
    }
    return 0;
}

/* PoCL's CPU driver links each kernel it compiles (a program, or a work-group size not in its cache yet) with the
 * system's linker, found on PATH; without it PoCL ends the process ("Executable "ld" doesn't exist", SIGABRT), which
 * warm caches put off to the first new batch or image size: said once a process, when the device is taken. */
static void pocl_linker_note(vggcl_ctx *ctx)
{
    static atomic_int told;
    if (!ctx->log || strcmp(ctx->platform_name, "Portable Computing Language") || !ctx->is_cpu || on_path("ld") ||
        atomic_exchange(&told, 1))
        return;
    const char *path = getenv("PATH");
    char msg[PATH_MAX + 512];
    snprintf(msg, sizeof msg, "PoCL links the kernels it compiles with the system's linker, ld, which is not on PATH "
             "(%s%s%s): a kernel not in its cache yet (a new batch or image size) makes PoCL end the process; put "
             "its folder (binutils': /usr/bin) on PATH", path ? "\"" : "unset", path ? path : "", path ? "\"" : "");
    ctx->log(ctx->log_user, msg);
}

/* Fills *list (malloc'd) with every device of every platform. */
static vggcl_status enumerate_unlocked(vggcl_ctx *ctx, dev_entry **list, int *count)
{
    const char *where = "listing OpenCL devices";
    vggcl_status st = VGGCL_OK;
    cl_platform_id *plats = NULL;
    cl_device_id *devs = NULL;
    dev_entry *out = NULL;
    int n = 0;
    cl_uint np = 0;
    *list = NULL;
    *count = 0;

    cl_int err = vggcl__fault(ctx, "clGetPlatformIDs");
    if (err == CL_SUCCESS) err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0)) {
        /* a driver that is installed but did not load (ulimit -n or -v: the loader cannot open or map it) was
         * said to be missing */
        const char *folder;
        const int drivers = listed_drivers(&folder);
        if (drivers < 0)
            return vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE,
                               "no OpenCL platform found, and %s, where the drivers are listed, cannot be read: "
                               "short of file descriptors or memory (ulimit -n, ulimit -v?), or use the reference "
                               "backend (device \"ref\": --device ref)", folder);
        if (drivers > 0)
            return vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE,
                               "no OpenCL platform found: none of the %d OpenCL driver(s) listed in %s%s gave one "
                               "(one that could not load: short of memory or of file descriptors under ulimit -v or "
                               "-n, or a library of it missing; or one that found no device it may use): repair or "
                               "install a driver, for example PoCL for the CPU (apt-get install pocl-opencl-icd), or "
                               "use the reference backend (device \"ref\": --device ref)",
                               drivers, folder, getenv("OCL_ICD_FILENAMES") && *getenv("OCL_ICD_FILENAMES")
                                                    ? " and OCL_ICD_FILENAMES" : "");
        return vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE,
                           "no OpenCL platform found: install an OpenCL driver (ICD), for "
                           "example PoCL for the CPU (apt-get install pocl-opencl-icd), or "
                           "use the reference backend (device \"ref\": --device ref)");
    }
    CL_CHECK_RET(clGetPlatformIDs, err);
    plats = calloc(np, sizeof *plats);
    if (!plats) { st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory"); goto fail; }
    CL_CHECK(clGetPlatformIDs, (np, plats, NULL));
    cl_int uncounted = CL_SUCCESS; /* the first platform's failure to count its devices */
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        err = vggcl__fault(ctx, "clGetDeviceIDs");
        if (err == CL_SUCCESS) err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        /* a platform that cannot count its devices is passed over (a broken driver beside a working one
         * leaves the other's devices usable), and said where no platform had one (it was taken for a
         * platform without devices: "no OpenCL device found", the call and its error unsaid) */
        if (err != CL_SUCCESS && err != CL_DEVICE_NOT_FOUND && uncounted == CL_SUCCESS) uncounted = err;
        if (err != CL_SUCCESS || nd == 0) continue;
        free(devs);
        devs = calloc(nd, sizeof *devs);
        dev_entry *grown = realloc(out, (n + nd) * sizeof *out);
        if (grown) out = grown; /* (before the check: with devs not made, out was freed twice where it had moved) */
        if (!devs || !grown) { st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory"); goto fail; }
        CL_CHECK(clGetDeviceIDs, (plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL));
        for (cl_uint d = 0; d < nd; d++) {
            dev_entry *e = &out[n];
            memset(e, 0, sizeof *e);
            e->platform = plats[p];
            e->device = devs[d];
            e->info.platform = (int)p;
            e->info.device = (int)d;
            e->info.index = n;
            cl_device_type t = 0;
            cl_uint cu = 0;
            cl_ulong gm = 0, ma = 0;
            if ((st = info_text(ctx, plats[p], NULL, CL_PLATFORM_NAME, e->info.platform_name,
                                sizeof e->info.platform_name)) != VGGCL_OK ||
                (st = info_text(ctx, NULL, devs[d], CL_DEVICE_NAME, e->info.name, sizeof e->info.name)) != VGGCL_OK ||
                (st = info_text(ctx, NULL, devs[d], CL_DEVICE_VERSION, e->info.version, sizeof e->info.version)) !=
                    VGGCL_OK)
                goto fail;
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_TYPE, sizeof t, &t, NULL));
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL));
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL));
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL));
            cl_ulong lm = 0;
            cl_uint mhz = 0;
            size_t wg = 0;
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL));
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof mhz, &mhz, NULL));
            CL_CHECK(clGetDeviceInfo, (devs[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL));
            if ((st = info_text(ctx, NULL, devs[d], CL_DRIVER_VERSION, e->info.driver, sizeof e->info.driver)) != VGGCL_OK)
                goto fail;
            e->info.local_mem = lm;
            e->info.clock_mhz = mhz;
            e->info.max_work_group = wg;
            snprintf(e->info.type, sizeof e->info.type, "%s", type_name(t));
            e->info.compute_units = cu;
            e->info.global_mem = gm;
            e->info.max_alloc = ma;
            n++;
        }
    }
    if (n == 0 && uncounted != CL_SUCCESS) CL_CHECK_RET(clGetDeviceIDs, uncounted);
    if (n == 0) {
        /* PoCL lists no device where it cannot write its kernel cache (a read-only HOME): then said, as the
         * driver was there (an installed driver was said to be missing) */
        int pocl = 0;
        char name[64];
        for (cl_uint p = 0; p < np && !pocl; p++)
            pocl = clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof name, name, NULL) == CL_SUCCESS &&
                   !strcmp(name, "Portable Computing Language");
        char dir[VGGCL__CACHE_DIR_MAX + 1] = "";
        if (pocl) vggcl__pocl_cache_dir(NULL, dir, sizeof dir); /* (the folder it looked at: a root-owned /tmp/pocl) */
        st = vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE,
                         "no OpenCL device found on %u platform(s): %s%s%s, "
                         "or use the reference backend (device \"ref\": --device ref)", (unsigned)np,
                         pocl ? "PoCL is installed, but lists no device where it cannot write its kernel cache, here "
                              : "install an OpenCL driver (ICD), for example PoCL for the CPU (apt-get install "
                                "pocl-opencl-icd)",
                         dir, pocl ? " " VGGCL__POCL_CACHE_WHERE ": set POCL_CACHE_DIR to a folder it may write" : "");
        goto fail;
    }
    *list = out;
    *count = n;
    out = NULL;
fail:
    free(out);
    free(devs);
    free(plats);
    return st;
}

/* Two threads that list platforms at once through ocl-icd can see none (seen
 * with PoCL: "no OpenCL device found" in one of them), so listing is
 * serialized. */
static vggcl_status enumerate(vggcl_ctx *ctx, dev_entry **list, int *count)
{
    *list = NULL, *count = 0;
    vggcl_status st = vggcl__fork_check(ctx); /* (a child forked after its parent listed them: it waited forever) */
    if (st != VGGCL_OK) return st;
    vggcl__lock();
    st = enumerate_unlocked(ctx, list, count);
    if (st == VGGCL_OK) vggcl__opencl_listed(); /* (the drivers have started: a fork from here on cannot use them) */
    vggcl__unlock();
    return st;
}

vggcl_status vggcl_list_devices(vggcl_ctx *ctx, vggcl_device_info *out, int cap, int *count)
{
    dev_entry *list = NULL;
    int n = 0;
    if (count) *count = 0; /* (also without a context, as its other failures) */
    if (!ctx) return VGGCL_ERR_ARG;
    VGGCL_NEED(ctx, "vggcl_list_devices", count);
    *count = 0;
    if (cap > 0) VGGCL_NEED(ctx, "vggcl_list_devices", out);
    vggcl_status st = enumerate(ctx, &list, &n);
    if (st != VGGCL_OK) return st;
    for (int i = 0; i < n && i < cap; i++) out[i] = list[i].info;
    *count = n;
    free(list);
    return VGGCL_OK;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == nl) return 1;
    }
    return 0;
}

/* Whether device e is of type (when given), else whether its name contains spec. */
static int names(const dev_entry *e, const char *spec, const char *type)
{
    return type ? !strcmp(e->info.type, type) : contains_nocase(e->info.name, spec);
}

/* Whether spec is P:D of digits, blanks around the colon taken (sscanf's %d wrapped 4294967296:0 to 0:0): *p
 * and *d, or -1 for a number past INT_MAX (no device has it). */
static int platform_device(const char *spec, long *p, long *d)
{
    const char *colon = spec, *after;
    while (isdigit((unsigned char)*colon)) colon++;
    if (colon == spec) return 0;
    colon += strspn(colon, BLANKS); /* (blanks around the colon: " 0 : 1" was looked for as a name) */
    if (*colon != ':' || !all_digits(after = colon + 1 + strspn(colon + 1, BLANKS))) return 0;
    errno = 0;
    *p = strtol(spec, NULL, 10);
    *p = errno || *p > INT_MAX ? -1 : *p;
    errno = 0;
    *d = strtol(after, NULL, 10);
    *d = errno || *d > INT_MAX ? -1 : *d;
    return 1;
}

/* Index into list for spec, or -1 with the message set. */
static int match_spec(vggcl_ctx *ctx, const dev_entry *list, int n, const char *spec)
{
    long p, d;
    if (!spec || !*spec) {
        for (int i = 0; i < n; i++)
            if (!strcmp(list[i].info.type, "GPU")) return i;
        return 0;
    }
    if (!strcasecmp(spec, "all") || strchr(spec, ',')) {
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "'%s': a context takes one device (all and lists are for the commands "
                    "classify, eval and train-head, a context each)", spec);
        return -1;
    }
    if (platform_device(spec, &p, &d)) {
        for (int i = 0; i < n; i++)
            if (list[i].info.platform == p && list[i].info.device == d) return i;
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "no OpenCL device %s (platform:device); see `vggcl devices`", spec);
        return -1;
    }
    if (spec[0] == '-' && all_digits(spec + 1)) { /* (it was looked for in the devices' names) */
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "no OpenCL device with index %s: indices start at 0 (%d device(s) "
                    "found); see `vggcl devices`", spec, n);
        return -1;
    }
    if (all_digits(spec)) {
        long i = strtol(spec, NULL, 10);
        if (i >= 0 && i < n) return (int)i;
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "no OpenCL device with index %s: %d device(s) found; see `vggcl devices`",
                    spec, n);
        return -1;
    }
    const char *type = NULL; /* (a type: its devices first; PoCL's names say no CPU) */
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        if (!strcasecmp(spec, types[t].name)) type = types[t].name;
    for (int by_name = !type; by_name < 2; by_name++)
        for (int i = 0; i < n; i++) {
            if (!names(&list[i], spec, by_name ? NULL : type)) continue;
            for (int j = i + 1; j < n && ctx->log; j++) /* (the first is taken: said, with how to choose another) */
                if (names(&list[j], spec, by_name ? NULL : type)) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "'%s' names device %d (%d:%d) and others, such as %d (%d:%d): %d is "
                             "taken; give an index to choose", spec, i, list[i].info.platform, list[i].info.device, j,
                             list[j].info.platform, list[j].info.device, i);
                    ctx->log(ctx->log_user, msg);
                    break;
                }
            return i;
        }
    if (type)
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "no OpenCL device of type %s, nor one whose name contains '%s'; see "
                    "`vggcl devices`", type, spec);
    else
        vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "no OpenCL device name contains '%s'; see `vggcl devices`", spec);
    return -1;
}

/* The platform's version (the program cache's key), cut to its buffer: read whole, whatever its length (a
 * buffer too short for the text is CL_INVALID_VALUE). */
static vggcl_status read_platform_version(vggcl_ctx *ctx, const char *where)
{
    vggcl_status st = VGGCL_OK;
    size_t len = 0;
    char *text = NULL;
    CL_CHECK(clGetPlatformInfo, (ctx->platform, CL_PLATFORM_VERSION, 0, NULL, &len));
    if (!(text = malloc(len + 1))) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", where);
    CL_CHECK(clGetPlatformInfo, (ctx->platform, CL_PLATFORM_VERSION, len, text, NULL));
    text[len] = '\0';
    snprintf(ctx->platform_version, sizeof ctx->platform_version, "%s", text);
fail:
    free(text);
    return st;
}

/* s without the white space around it (blanks, tabs, a line's end as fgets leaves it), in buf when it is dropped
 * (s as it is where it does not fit). */
static const char *trim_spec(const char *s, char *buf, size_t cap)
{
    if (!s) return NULL;
    const size_t at = strspn(s, BLANKS);
    size_t len = strlen(s + at);
    while (len && strchr(BLANKS, s[at + len - 1])) len--;
    if (len >= cap) return s;
    memcpy(buf, s + at, len), buf[len] = '\0';
    return buf;
}

vggcl_status vggcl_select_device(vggcl_ctx *ctx, const char *spec)
{
    const char *where = "opening the OpenCL device";
    vggcl_status st = VGGCL_OK;
    dev_entry *list = NULL;
    int n = 0;
    cl_int err;

    if (!ctx) return VGGCL_ERR_ARG;
    if (ctx->selected)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "a device is already selected for this context");
    if (ctx->fault_bad) { /* (the kinds from fault.c's table) */
        char kinds[128];
        vggcl__fault_kinds(kinds, sizeof kinds);
        return vggcl__fail(ctx, VGGCL_ERR_ARG,
                           "VGGCL_FAULT=%s: expected KIND:N[:CODE], KIND one of %s; N >= 1; CODE a CL_* name or a "
                           "negative number", ctx->fault_spec, kinds);
    }
    char trimmed[256]; /* (the blanks around a spec: " ref" looked for a device named so) */
    spec = trim_spec(spec, trimmed, sizeof trimmed);
    const int from_env = !spec || !*spec; /* (blanks alone too) */
    if (from_env) spec = trim_spec(getenv("VGGCL_DEVICE"), trimmed, sizeof trimmed);
    char env[sizeof trimmed], first[sizeof trimmed]; /* (its value, for the messages; its list's first item) */
    snprintf(env, sizeof env, "%s", from_env && spec ? spec : "");
    if (from_env && spec && !strcasecmp(spec, "all")) spec = NULL; /* (the environment's all or list, set for the */
    else if (from_env && spec && strchr(spec, ',')) {            /* commands that take several: its first device) */
        snprintf(first, sizeof first, "%.*s", (int)strcspn(spec, ","), spec);
        spec = trim_spec(first, trimmed, sizeof trimmed);
        if (!spec || !*spec)
            return vggcl__fail(ctx, VGGCL_ERR_NO_DEVICE, "$VGGCL_DEVICE=%s: its first device is empty", env);
    }
    if (spec && !strcasecmp(spec, "ref")) {
        ctx->use_ref = 1;
        ctx->selected = 1;
        snprintf(ctx->device_name, sizeof ctx->device_name, "reference (plain C)");
        ctx->device_type[0] = '\0', ctx->is_gpu = ctx->is_cpu = 0, ctx->device_index = -1, ctx->vector_floats = 0;
        return VGGCL_OK;
    }
    st = enumerate(ctx, &list, &n);
    if (st != VGGCL_OK) return st;
    int i = match_spec(ctx, list, n, spec);
    if (i < 0 && from_env && spec && *spec) { /* (say where it came from: no --device was given) */
        char after[512];
        snprintf(after, sizeof after, " (the device named by $VGGCL_DEVICE=%s)", env);
        vggcl__fail_around(ctx, VGGCL_ERR_NO_DEVICE, "", after);
    }
    if (i < 0) { st = VGGCL_ERR_NO_DEVICE; goto fail; }
    char opening[320]; /* (which of several: --device all opens each) */
    snprintf(opening, sizeof opening, "%s %d (%d:%d, %s)", where, list[i].info.index, list[i].info.platform,
             list[i].info.device, list[i].info.name);
    where = opening;
    ctx->platform = list[i].platform;
    ctx->device = list[i].device;
    ctx->max_alloc = list[i].info.max_alloc;
    ctx->global_mem = list[i].info.global_mem;
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", list[i].info.name);
    ctx->device_index = list[i].info.index;
    CL_CHECK(clGetDeviceInfo, (ctx->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof ctx->max_wg, &ctx->max_wg, NULL));
    CL_CHECK(clGetDeviceInfo, (ctx->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ctx->local_mem, &ctx->local_mem, NULL));
    CL_CHECK(clGetDeviceInfo,
             (ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof ctx->vector_floats, &ctx->vector_floats, NULL));
    snprintf(ctx->device_type, sizeof ctx->device_type, "%s", list[i].info.type);
    ctx->is_gpu = !strcmp(list[i].info.type, "GPU");
    ctx->is_cpu = !strcmp(list[i].info.type, "CPU");
    /* What the kernels' __local arguments may take: a GPU's figure less 1 KiB. NVIDIA's H200 reports
     * 48 KiB and refused (CL_OUT_OF_RESOURCES) a launch whose local arguments took all of it. */
    if (ctx->is_gpu && ctx->local_mem > LOCAL_RESERVE) ctx->local_mem -= LOCAL_RESERVE;
    snprintf(ctx->device_version, sizeof ctx->device_version, "%s", list[i].info.version);
    snprintf(ctx->platform_name, sizeof ctx->platform_name, "%s", list[i].info.platform_name);
    snprintf(ctx->driver_version, sizeof ctx->driver_version, "%s", list[i].info.driver);
    char pocl_dir[VGGCL__CACHE_DIR_MAX + 1];
    if (pocl_cache_noexec(ctx, pocl_dir, sizeof pocl_dir)) {
        st = vggcl__fail(ctx, VGGCL_ERR_DEVICE, "%s: PoCL's kernel cache %s " VGGCL__POCL_CACHE_WHERE " is on a file "
                         "system mounted noexec, from which PoCL cannot load the kernels it compiles (it ends the "
                         "process): set POCL_CACHE_DIR to a folder on another file system", where, pocl_dir);
        goto fail;
    }
    if ((st = read_platform_version(ctx, where)) != VGGCL_OK) goto fail;
    pocl_linker_note(ctx);
    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0 };
    if ((err = vggcl__fault(ctx, "clCreateContext")) == CL_SUCCESS)
        ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    CL_CHECK_RET(clCreateContext, err);
    if ((err = vggcl__fault(ctx, "clCreateCommandQueue")) == CL_SUCCESS)
        ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    CL_CHECK_RET(clCreateCommandQueue, err);
    if ((err = vggcl__fault(ctx, "clCreateCommandQueue")) == CL_SUCCESS)
        ctx->upload_queue = clCreateCommandQueue(ctx->cl, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    CL_CHECK_RET(clCreateCommandQueue, err);
    ctx->selected = 1;
    vggcl__tune_load(ctx);
fail:
    free(list);
    if (st != VGGCL_OK) {
        if (ctx->upload_queue) CL_CLEANUP(clReleaseCommandQueue, (ctx->upload_queue));
        if (ctx->queue) CL_CLEANUP(clReleaseCommandQueue, (ctx->queue));
        if (ctx->cl) CL_CLEANUP(clReleaseContext, (ctx->cl));
        ctx->upload_queue = ctx->queue = NULL;
        ctx->cl = NULL;
        /* nothing of the device kept: its name and type say what was selected (none) */
        ctx->device_name[0] = ctx->device_type[0] = ctx->device_version[0] = ctx->platform_name[0] = '\0';
        ctx->driver_version[0] = ctx->platform_version[0] = '\0';
        ctx->is_gpu = ctx->is_cpu = 0;
        ctx->device_index = -1, ctx->vector_floats = 0;
    }
    return st;
}
