/* libFuzzer harness: JPEG/PNG decoding, then torchvision's preset (resize
 * 256, crop 224, normalize) on whatever decodes. */
#include <stdlib.h>

#include "fuzz.h"
#include "vggcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".img");
    vggcl_ctx *ctx = vggcl_ctx_new();
    unsigned char *rgb = NULL;
    int h = 0, w = 0;
    if (path && ctx && vggcl_image_load(ctx, path, &rgb, &h, &w) == VGGCL_OK) {
        vggcl_preprocess p;
        vggcl_preprocess_defaults(&p);
        float *t = NULL;
        int oh, ow;
        if (vggcl_image_preprocess(ctx, rgb, h, w, &p, &t, &oh, &ow) == VGGCL_OK) free(t);
        free(rgb);
    }
    vggcl_ctx_free(ctx);
    return 0;
}
