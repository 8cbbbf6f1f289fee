/* The host memory a pass may still take: what Linux says is available, within the limits the process is
 * under (its cgroup's, v2 or v1, and ulimit -v), less, on an OpenCL device, a reserve for what the driver takes
 * after a pass's check (PoCL compiles kernels with LLVM, loads them and starts its threads in the process). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

#define RESERVE_BYTES (256.0 * 1048576) /* (at most half of what is there) and 1/32 of it: PoCL's compiler took
                                         * 160 MiB of memory, up to 300 MiB of address space */

/* The number in a file of one line (a cgroup's memory.max): -1 where there is none ("max") or no file. */
static double read_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    const int ok = f && fscanf(f, "%llu", &v) == 1;
    if (f) fclose(f);
    return ok ? (double)v : -1;
}

/* The same, 0 where there is none (a cgroup's memory.current, statm). */
static double read_number(const char *path)
{
    const double v = read_limit(path);
    return v < 0 ? 0 : v;
}

/* The value of key in a cgroup's memory.stat at dir ("key N" lines): 0 where not there. */
static double stat_value(const char *dir, const char *key)
{
    char path[4300], line[256], name[64];
    unsigned long long v;
    double found = 0;
    snprintf(path, sizeof path, "%s/memory.stat", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %llu", name, &v) == 2 && !strcmp(name, key)) found = (double)v;
    if (f) fclose(f);
    return found;
}

/* What a v2 cgroup at dir has left under its limit of what ("memory", or "memory.swap": systemd's MemorySwapMax=0
 * keeps a service off the swap the machine has), the page cache it may drop counted as free memory (a container
 * that read many images holds it up to its limit, as a machine's MemAvailable counts it free); -1: no limit. */
static double left_v2(const char *dir, const char *what)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.max", dir, what);
    const double limit = read_limit(path);
    if (limit < 0) return -1;
    const int memory = !strcmp(what, "memory");
    snprintf(path, sizeof path, "%s/%s.current", dir, what);
    double used = read_number(path) - (memory ? stat_value(dir, "inactive_file") : 0);
    used = used > 0 ? used : 0;
    return limit > used ? limit - used : memory ? 1 : 0;
}

/* What the process's cgroup has left: the least of its own and its ancestors' limits (v2: its path in
 * /proc/self/cgroup's 0:: line below /sys/fs/cgroup, a container's being /), or v1's memory controller's
 * hierarchical limit; -1: none. *swap_left: the least that v2's swap limits leave (-1: none; v1's memsw limit
 * is not read: it bounds memory and swap together, under the memory limit read). */
static double cgroup_left(double *swap_left)
{
    char line[4096], dir[4200], usage[4300];
    double least = -1;
    *swap_left = -1;
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *controllers = strchr(line, ':'), *path = controllers ? strchr(controllers + 1, ':') : NULL;
        if (!path) continue;
        *path++ = '\0';
        *controllers++ = '\0'; /* (line: the hierarchy's number) */
        if (!strcmp(line, "0") && !*controllers) { /* v2: each folder from the process's up to the root */
            snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", strcmp(path, "/") ? path : ""); /* (cut: not found) */
            for (;;) {
                const double left = left_v2(dir, "memory"), swap = left_v2(dir, "memory.swap");
                if (left >= 0 && (least < 0 || left < least)) least = left;
                if (swap >= 0 && (*swap_left < 0 || swap < *swap_left)) *swap_left = swap;
                char *slash = strrchr(dir, '/');
                if (!slash || slash - dir < (ptrdiff_t)strlen("/sys/fs/cgroup")) break;
                *slash = '\0';
            }
        } else if (!strcmp(controllers, "memory") || strstr(controllers, ",memory") ||
                   strstr(controllers, "memory,")) {
            snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory%s", strcmp(path, "/") ? path : "");
            snprintf(usage, sizeof usage, "%s/memory.usage_in_bytes", dir);
            if (access(usage, R_OK)) { /* (a container without a cgroup namespace: its own at the mount's root) */
                snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory");
                snprintf(usage, sizeof usage, "%s/memory.usage_in_bytes", dir);
            }
            const double limit = stat_value(dir, "hierarchical_memory_limit"); /* (unlimited: near 2^63) */
            double used = read_number(usage) - stat_value(dir, "total_inactive_file");
            used = used > 0 ? used : 0;
            if (limit > 0 && limit < 0x1p62) {
                const double left = limit > used ? limit - used : 1;
                if (least < 0 || left < least) least = left;
            }
        }
    }
    if (f) fclose(f);
    return least;
}

double vggcl__host_available(const vggcl_ctx *ctx)
{
    if (ctx->host_mem) return (double)ctx->host_mem;
    FILE *f = fopen("/proc/meminfo", "r");
    double avail = -1, swap = 0;
    char line[256];
    unsigned long long v;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) avail = (double)v * 1024;
        if (sscanf(line, "SwapFree: %llu kB", &v) == 1) swap = (double)v * 1024;
    }
    if (f) fclose(f);
    if (avail < 0) return 0;
    double swap_left;
    const double left = cgroup_left(&swap_left); /* (its limit is of memory alone: the swap past it not counted) */
    avail += swap_left >= 0 && swap_left < swap ? swap_left : swap;
    if (left >= 0 && left < avail) avail = left;
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) { /* (the pages mapped: statm's first) */
        const double mapped = read_number("/proc/self/statm") * (double)sysconf(_SC_PAGESIZE);
        if (mapped > 0 && (double)as.rlim_cur - mapped < avail) avail = (double)as.rlim_cur - mapped;
    }
    if (!ctx->use_ref) /* (the reference runs no driver) */
        avail -= (avail / 2 < RESERVE_BYTES ? avail / 2 : RESERVE_BYTES) + avail / 32;
    return avail > 1 ? avail : 1;
}
