/* libFuzzer harness: the safetensors reader on arbitrary bytes, then every
 * tensor it accepts found by its name (vggcl__st_find must give it back),
 * converted to float32, and read again in two halves (vggcl__st_read at an
 * offset: the loaders read slices), which must match the whole; every
 * metadata key found by vggcl__st_meta. A broken contract aborts. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".safetensors");
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    if (path && ctx && vggcl__st_open(ctx, path, &f) == VGGCL_OK) {
        for (int i = 0; i < f.n; i++) {
            const vggcl__st_tensor *t = &f.tensors[i];
            char shape[VGGCL_ST_MAX_DIMS * 22 + 4];
            float *v = NULL;
            if (vggcl__st_find(&f, t->name) != t) abort(); /* (names are unique: duplicates are refused) */
            vggcl__st_shape_str(t, shape, sizeof shape);
            (void)vggcl__st_numel(t);
            const size_t bytes = t->end - t->begin, half = bytes / 2;
            unsigned char *whole = malloc(bytes + 1), *parts = malloc(bytes + 1);
            if (whole && parts && vggcl__st_read(ctx, &f, t, 0, bytes, whole) == VGGCL_OK &&
                (vggcl__st_read(ctx, &f, t, 0, half, parts) != VGGCL_OK ||
                 vggcl__st_read(ctx, &f, t, half, bytes - half, parts + half) != VGGCL_OK ||
                 memcmp(whole, parts, bytes)))
                abort();
            free(whole), free(parts);
            if (vggcl__st_to_f32(ctx, &f, t, &v) == VGGCL_OK) free(v);
        }
        for (int i = 0; i < f.n_meta; i++)
            if (vggcl__st_meta(&f, f.meta_keys[i]) != f.meta_values[i]) abort(); /* (keys unique) */
        vggcl__st_close(&f);
    }
    vggcl_ctx_free(ctx);
    return 0;
}
