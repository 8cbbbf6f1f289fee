/* libFuzzer harness for the preset's arithmetic without a decoder in front:
 * the input gives an image size, resize and crop sizes, a window and the
 * pixels. vggcl_image_preprocess runs on it, and the resize restricted to the
 * window (what preprocessing computes for a center crop), given only the part
 * of the image vggcl__resize_reads says it reads and with the AVX2 horizontal
 * pass where the CPU has it, must equal the same window cut from the full
 * resize by the plain horizontal pass (the vertical pass's AVX2 copy, picked
 * at load time, runs on both sides); a difference aborts. */
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
    /* the part the window reads, copied out on its own (so that reading outside it is caught by ASan) */
    int r0 = y0, r1 = y1, c0 = x0, c1 = x1;
    if (oh != h) vggcl__resize_reads(h, oh, y0, y1, &r0, &r1);
    if (ow != w) vggcl__resize_reads(w, ow, x0, x1, &c0, &c1);
    if (r0 < 0 || r1 > h || r0 >= r1 || c0 < 0 || c1 > w || c0 >= c1) abort();
    unsigned char *cut = malloc((size_t)(r1 - r0) * (c1 - c0) * 3);
    if (!cut) goto done;
    for (int y = r0; y < r1; y++)
        memcpy(cut + (size_t)(y - r0) * (c1 - c0) * 3, img + ((size_t)y * w + c0) * 3, (size_t)(c1 - c0) * 3);
    const vggcl__rgb_part whole = { img, (size_t)w * 3, h, w, 0, 0, h, w };
    const vggcl__rgb_part part = { cut, (size_t)(c1 - c0) * 3, h, w, r0, c0, r1 - r0, c1 - c0 };
    /* the full resize by the plain horizontal pass, the window by the vectorized one where the CPU has it */
    vggcl__resize_scalar_only = 1;
    const int made = vggcl__resize_rgb_window(&whole, oh, ow, 0, oh, 0, ow, full);
    vggcl__resize_scalar_only = 0;
    if (made == 1 && vggcl__resize_rgb_window(&part, oh, ow, y0, y1, x0, x1, win) == 1)
        for (int y = y0; y < y1; y++)
            if (memcmp(win + (size_t)(y - y0) * (x1 - x0) * 3, full + ((size_t)y * ow + x0) * 3, (size_t)(x1 - x0) * 3))
                abort();
    free(cut);
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_preprocess p;
    vggcl_preprocess_defaults(&p);
    p.resize = pick(data, 4, 128); /* small, so that long strips stay quick */
    p.crop = pick(data, 6, 128);
    p.resize_w = data[12] & 1 ? pick(data, 10, 128) : 0; /* both sides (0 with a resize of 0: refused) */
    float *t = NULL;
    int th, tw;
    if (ctx && vggcl_image_preprocess(ctx, img, h, w, &p, &t, &th, &tw) == VGGCL_OK) free(t);
    vggcl_ctx_free(ctx);
done:
    free(img), free(full), free(win);
    return 0;
}
