/* LD_PRELOAD shim for the alloc test (tests/test_alloc.py): the VGGCL_FAIL_ALLOC-th call of malloc, calloc or realloc made by vggcl or
 * the image and JSON libraries it calls (counted from the first; not the OpenCL stack's, whose C++ ends the
 * process on std::bad_alloc) returns NULL, once; VGGCL_FAIL_ALLOC_SEEN names a file the count is written to at
 * exit, to know how many there were. And the process's descriptors running out: open() of a path holding
 * VGGCL_FAIL_OPEN fails with EMFILE, as past `ulimit -n`; and glibc's own allocations, which the count leaves
 * out: fdopen() of a descriptor whose path holds VGGCL_FAIL_FDOPEN fails with ENOMEM. And a failing disk: a
 * descriptor whose path holds VGGCL_FAIL_READ, once VGGCL_FAIL_READ_AFTER bytes (0 unset) were read from it, is
 * swapped for /proc/self/mem at 0, whose reads fail with EIO; checked as fread, getc or read is called (stdio
 * reads the descriptor through glibc's own read, past the shim: a stream's buffered bytes are still read); its
 * fstat still says the file's. With VGGCL_FAIL_READ_ONCE set the fault passes: a pread of the descriptor (vggcl's
 * read again, to learn the error) finds the file there again. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static long at = -1, seen;

static void report(void)
{
    const char *path = getenv("VGGCL_FAIL_ALLOC_SEEN");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) fprintf(f, "%ld\n", seen), fclose(f);
}

/* Whether the call site is in vggcl or one of those libraries: dladdr's answer, remembered per call site (a
 * dladdr on each of a run's allocations took 0.12 s a run, most of the test's time). */
#define SITES 8192
static struct {
    const void *site;
    int mine;
} sites[SITES];
static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;

static int ours_at(const void *caller)
{
    static const char *const ours[] = { "vggcl", "libjpeg", "libpng", "libtiff", "libwebp", "libcjson", NULL };
    size_t k = ((uintptr_t)caller >> 2) % SITES;
    pthread_mutex_lock(&sites_lock);
    for (size_t probe = 0; probe < SITES && sites[k].site; probe++, k = (k + 1) % SITES)
        if (sites[k].site == caller) {
            const int mine = sites[k].mine;
            pthread_mutex_unlock(&sites_lock);
            return mine;
        }
    Dl_info info;
    int mine = 0;
    if (dladdr(caller, &info) && info.dli_fname)
        for (int i = 0; ours[i] && !mine; i++) mine = strstr(info.dli_fname, ours[i]) != NULL;
    if (!sites[k].site) sites[k].site = caller, sites[k].mine = mine; /* (full: asked again next time) */
    pthread_mutex_unlock(&sites_lock);
    return mine;
}

static int fails(const void *caller)
{
    if (at < 0) {
        const char *v = getenv("VGGCL_FAIL_ALLOC");
        at = v ? atol(v) : 0;
        atexit(report);
    }
    if (!ours_at(caller) || ++seen != at) return 0;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return fails(__builtin_return_address(0)) ? NULL : __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n); }

int open(const char *path, int flags, ...)
{
    static int (*real)(const char *, int, ...);
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    const char *pattern = getenv("VGGCL_FAIL_OPEN");
    if (pattern && *pattern && strstr(path, pattern)) {
        errno = EMFILE;
        return -1;
    }
    if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return real(path, flags, mode);
}

FILE *fdopen(int fd, const char *mode)
{
    static FILE *(*real)(int, const char *);
    const char *pattern = getenv("VGGCL_FAIL_FDOPEN");
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = pattern && *pattern ? readlink(link, path, sizeof path - 1) : -1;
    if (n > 0 && (path[n] = '\0', strstr(path, pattern))) {
        errno = ENOMEM;
        return NULL;
    }
    if (!real) real = (FILE * (*)(int, const char *)) dlsym(RTLD_NEXT, "fdopen");
    return real(fd, mode);
}

static struct {
    int fd, orig; /* (orig: a copy of the file's descriptor, put back where the fault passes) */
    struct stat st, mem; /* (the file's; /proc/self/mem's, to know the descriptor still is it) */
} failed[16];
static int n_failed;

static int holds(int fd, const char *pattern)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof path - 1);
    return n > 0 && (path[n] = '\0', strstr(path, pattern));
}

static int kept_copy(int fd)
{
    for (int i = 0; i < n_failed; i++)
        if (failed[i].orig == fd) return 1;
    return 0;
}

static void failing_disk(int fd)
{
    const char *pattern = getenv("VGGCL_FAIL_READ"), *after = getenv("VGGCL_FAIL_READ_AFTER");
    if (!pattern || !*pattern || fd < 0) return;
    const int e = errno;
    if (!kept_copy(fd) && holds(fd, pattern) && lseek(fd, 0, SEEK_CUR) >= (after ? atoll(after) : 0)) {
        const int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        for (int d = 0; mem >= 0 && d < 256 && n_failed < 16; d++) /* (the file's every descriptor: a dup's too) */
            if (d != mem && !kept_copy(d) && holds(d, pattern) && fstat(d, &failed[n_failed].st) == 0 &&
                fstat(mem, &failed[n_failed].mem) == 0)
                failed[n_failed].orig = dup(d), failed[n_failed++].fd = d, dup2(mem, d);
        if (mem >= 0) close(mem);
    }
    errno = e;
}

int fstat(int fd, struct stat *st)
{
    static int (*real)(int, struct stat *);
    if (!real) real = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
    const int r = real(fd, st);
    for (int i = n_failed - 1; r == 0 && i >= 0; i--)
        if (failed[i].fd == fd && st->st_dev == failed[i].mem.st_dev && st->st_ino == failed[i].mem.st_ino)
            return *st = failed[i].st, 0;
    return r;
}

size_t fread(void *buf, size_t size, size_t n, FILE *f)
{
    static size_t (*real)(void *, size_t, size_t, FILE *);
    failing_disk(fileno(f));
    if (!real) real = (size_t(*)(void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fread");
    return real(buf, size, n, f);
}

int getc(FILE *f)
{
    static int (*real)(FILE *);
    failing_disk(fileno(f));
    if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "getc");
    return real(f);
}

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    failing_disk(fd);
    if (!real) real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    return real(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t at)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    struct stat sb;
    for (int i = n_failed - 1; getenv("VGGCL_FAIL_READ_ONCE") && i >= 0; i--) /* (fstatat: not the fstat above) */
        if (failed[i].fd == fd && failed[i].orig >= 0 && fstatat(fd, "", &sb, AT_EMPTY_PATH) == 0 &&
            sb.st_dev == failed[i].mem.st_dev && sb.st_ino == failed[i].mem.st_ino)
            dup2(failed[i].orig, fd); /* (the fault passed: the file there again) */
    if (!real) real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    return real(fd, buf, n, at);
}
