/* LD_PRELOAD shim for the alloc test (tests/test_alloc.py): the VGGCL_FAIL_ALLOC-th call of malloc, calloc or realloc made by vggcl or
 * the image and JSON libraries it calls (counted from the first; not the OpenCL stack's, whose C++ ends the
 * process on std::bad_alloc) returns NULL, once; VGGCL_FAIL_ALLOC_SEEN names a file the count is written to at
 * exit, to know how many there were. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int fails(const void *caller)
{
    static const char *const ours[] = { "vggcl", "libjpeg", "libpng", "libtiff", "libwebp", "libcjson", NULL };
    Dl_info info;
    if (at < 0) {
        const char *v = getenv("VGGCL_FAIL_ALLOC");
        at = v ? atol(v) : 0;
        atexit(report);
    }
    if (!dladdr(caller, &info) || !info.dli_fname) return 0;
    int mine = 0;
    for (int i = 0; ours[i] && !mine; i++) mine = strstr(info.dli_fname, ours[i]) != NULL;
    if (!mine || ++seen != at) return 0;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return fails(__builtin_return_address(0)) ? NULL : __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n); }
