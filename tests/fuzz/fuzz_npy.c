/* libFuzzer harness: the .npy reader on arbitrary bytes, and the header reader, which must agree
 * with it: the same verdict and shape, and values from its offset to the end of the file. The same
 * bytes are then read from a pipe ("/dev/fd/N": the stream path, values read as they come and the
 * trailing-byte check after them), which must give the same verdict, shape and values. */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "vggcl.h"

/* vggcl_npy_read of data from a pipe; it must agree with the file's outcome (read_ok, ndim, shape, values). */
static void from_pipe(const uint8_t *data, size_t size, int read_ok, int ndim, const long long *shape,
                      const float *values)
{
    int fds[2];
    if (size > 65536 || pipe2(fds, O_CLOEXEC) != 0) return; /* (within a pipe's buffer: written before it is read) */
    const ssize_t w = size ? write(fds[1], data, size) : 0;
    close(fds[1]);
    if (w != (ssize_t)size) {
        close(fds[0]);
        return;
    }
    char path[32];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    vggcl_ctx *ctx = vggcl_ctx_new();
    int pn = 0;
    long long pshape[VGGCL_NPY_MAX_DIMS];
    float *pv = NULL;
    if (ctx) {
        const vggcl_status st = vggcl_npy_read(ctx, path, &pn, pshape, &pv);
        if ((st == VGGCL_OK) != read_ok) abort();
        if (st == VGGCL_OK) {
            size_t n = 1;
            for (int i = 0; i < pn; i++) n *= (size_t)pshape[i];
            if (pn != ndim || memcmp(pshape, shape, sizeof *shape * (size_t)ndim) ||
                (n && memcmp(pv, values, n * sizeof(float))))
                abort();
        }
        free(pv);
    }
    vggcl_ctx_free(ctx);
    close(fds[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".npy");
    vggcl_ctx *ctx = vggcl_ctx_new();
    int ndim = 0;
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *values = NULL;
    if (!path || !ctx) {
        vggcl_ctx_free(ctx);
        return 0;
    }
    int head_ndim = 0;
    long long head_shape[VGGCL_NPY_MAX_DIMS], offset = -1;
    const vggcl_status head = vggcl_npy_header(ctx, path, &head_ndim, head_shape, &offset);
    const vggcl_status read = vggcl_npy_read(ctx, path, &ndim, shape, &values);
    if ((head == VGGCL_OK) != (read == VGGCL_OK)) abort();
    if (read == VGGCL_OK) {
        size_t n = 1;
        for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
        unsigned bits = 0; /* touch every element the reader says it returned (ASan checks each read) */
        for (size_t i = 0; i < n; i++) {
            unsigned u;
            memcpy(&u, &values[i], sizeof u);
            bits ^= u;
        }
        __asm__ volatile("" : : "r"(bits)); /* (kept: a volatile float set but not read warned under clang) */
        if (head_ndim != ndim || memcmp(head_shape, shape, sizeof *shape * (size_t)ndim) ||
            (unsigned long long)offset + n * sizeof(float) != size)
            abort();
    }
    from_pipe(data, size, read == VGGCL_OK, ndim, shape, values);
    free(values);
    vggcl_ctx_free(ctx);
    return 0;
}
