/* libFuzzer harness: the .npy reader on arbitrary bytes, and the header reader, which must agree
 * with it: the same verdict and shape, and values from its offset to the end of the file. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vggcl.h"

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
        free(values);
        if (head_ndim != ndim || memcmp(head_shape, shape, sizeof *shape * (size_t)ndim) ||
            (unsigned long long)offset + n * sizeof(float) != size)
            abort();
    }
    vggcl_ctx_free(ctx);
    return 0;
}
