/* libFuzzer harness: the safetensors reader on arbitrary bytes, then every
 * tensor it accepts converted to float32. */
#include <stdlib.h>

#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".safetensors");
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    if (path && ctx && vggcl__st_open(ctx, path, &f) == VGGCL_OK) {
        for (int i = 0; i < f.n; i++) {
            float *v = NULL;
            (void)vggcl__st_numel(&f.tensors[i]);
            if (vggcl__st_to_f32(ctx, &f, &f.tensors[i], &v) == VGGCL_OK) free(v);
        }
        vggcl__st_close(&f);
    }
    vggcl_ctx_free(ctx);
    return 0;
}
