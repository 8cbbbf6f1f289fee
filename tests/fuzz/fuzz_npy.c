/* libFuzzer harness: the .npy reader on arbitrary bytes. */
#include <stdlib.h>

#include "fuzz.h"
#include "vggcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".npy");
    vggcl_ctx *ctx = vggcl_ctx_new();
    int ndim = 0;
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *values = NULL;
    if (path && ctx && vggcl_npy_read(ctx, path, &ndim, shape, &values) == VGGCL_OK) {
        size_t n = 1;
        for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
        volatile float sum = 0; /* touch every element the reader says it returned */
        for (size_t i = 0; i < n; i++) sum += values[i];
        free(values);
    }
    vggcl_ctx_free(ctx);
    return 0;
}
