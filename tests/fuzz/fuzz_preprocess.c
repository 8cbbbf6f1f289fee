/* libFuzzer harness for the preset's arithmetic without a decoder in front:
 * the input gives an image size, resize and crop sizes, a window and the
 * pixels. vggcl_image_preprocess runs on it, and the resize restricted to the
 * window (what preprocessing computes for a center crop) must equal the same
 * window cut from the full resize; a difference aborts. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"

static int pick(const uint8_t *d, int i, int mod)
{
    return (d[i] | d[i + 1] << 8) % mod;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 13) return 0;
    const int h = 1 + pick(data, 0, 96), w = 1 + pick(data, 2, 96);
    const int oh = 1 + pick(data, 4, 160), ow = 1 + pick(data, 6, 160);
    const int y0 = pick(data, 8, oh), x0 = pick(data, 10, ow);
    const int y1 = y0 + 1 + data[12] % (oh - y0), x1 = x0 + 1 + data[12] / 3 % (ow - x0);
    const size_t n = (size_t)h * w * 3;
    unsigned char *img = malloc(n), *full = malloc((size_t)oh * ow * 3), *win = malloc((size_t)(y1 - y0) * (x1 - x0) * 3);
    if (!img || !full || !win) goto done;
    for (size_t i = 0; i < n; i++) img[i] = size > 13 ? data[13 + i % (size - 13)] : 0;
    if (vggcl__resize_rgb_window(img, h, w, oh, ow, 0, oh, 0, ow, full) &&
        vggcl__resize_rgb_window(img, h, w, oh, ow, y0, y1, x0, x1, win))
        for (int y = y0; y < y1; y++)
            if (memcmp(win + (size_t)(y - y0) * (x1 - x0) * 3, full + ((size_t)y * ow + x0) * 3, (size_t)(x1 - x0) * 3))
                abort();
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_preprocess p;
    vggcl_preprocess_defaults(&p);
    p.resize = pick(data, 4, 128); /* small, so that long strips stay quick */
    p.crop = pick(data, 6, 128);
    float *t = NULL;
    int th, tw;
    if (ctx && vggcl_image_preprocess(ctx, img, h, w, &p, &t, &th, &tw) == VGGCL_OK) free(t);
    vggcl_ctx_free(ctx);
done:
    free(img), free(full), free(win);
    return 0;
}
