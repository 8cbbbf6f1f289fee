/* libFuzzer harness for the preset's arithmetic without a decoder in front:
 * the input gives an image size, resize and crop sizes, a window and the
 * pixels. vggcl_image_preprocess runs on it, and the resize restricted to the
 * window (what preprocessing computes for a center crop), given only the part
 * of the image vggcl__resize_reads says it reads and with the AVX2 horizontal
 * pass where the CPU has it, must equal the same window cut from the full
 * resize by the plain horizontal pass (the vertical pass's AVX2 copy, picked
 * at load time, runs on both sides); a difference aborts. The preset (resize, crop, resize_w and, from
 * the input's last 7 bytes where it has 20 or more, mean, std and draft, some of them refused) then runs
 * on the whole image and on the part of it vggcl__preset_reads says it reads, copied out on its own
 * (what a decoder that decodes part of an image hands it): both must give the same verdict and floats. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"

static int pick(const uint8_t *d, int i, int mod)
{
    return (d[i] | d[i + 1] << 8) % mod;
}

/* A mean or std from a byte: 0 and a few others refused or at a float's edges, else ~2^-12 to 2^3. */
static float norm_value(uint8_t b, int is_std)
{
    if (b == 0) return is_std ? 0.0f : -1e30f;
    if (b == 1) return 1e-45f; /* (passes "above 0", then every value past a float's range) */
    if (b == 2) return NAN;
    if (b == 3) return -1.0f;
    return ldexpf(1.0f + (float)(b % 16) / 16.0f, b / 16 - 12) * (!is_std && b & 1 ? -1.0f : 1.0f);
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
    if (size >= 20) {
        const uint8_t *tail = data + size - 7;
        for (int c = 0; c < 3; c++) p.mean[c] = norm_value(tail[c], 0), p.std[c] = norm_value(tail[3 + c], 1);
        p.draft = tail[6] % 3; /* (2: refused) */
    }
    float *t = NULL, *t2 = NULL;
    int th = 0, tw = 0, th2 = 0, tw2 = 0;
    const vggcl_status st = ctx ? vggcl_image_preprocess(ctx, img, h, w, &p, &t, &th, &tw) : VGGCL_ERR_NOMEM;
    /* the part the preset reads, on its own, must give the same */
    int py0, py1, px0, px1;
    vggcl__preset_reads(h, w, &p, &py0, &py1, &px0, &px1);
    if (py0 < 0 || py1 > h || py0 >= py1 || px0 < 0 || px1 > w || px0 >= px1) abort();
    unsigned char *sub = malloc((size_t)(py1 - py0) * (px1 - px0) * 3);
    if (ctx && sub) {
        for (int y = py0; y < py1; y++)
            memcpy(sub + (size_t)(y - py0) * (px1 - px0) * 3, img + ((size_t)y * w + px0) * 3, (size_t)(px1 - px0) * 3);
        const vggcl__rgb_part in = { sub, (size_t)(px1 - px0) * 3, h, w, py0, px0, py1 - py0, px1 - px0 };
        const vggcl_status st2 = vggcl__preprocess_part(ctx, &in, &p, &t2, &th2, &tw2);
        if ((st == VGGCL_OK) != (st2 == VGGCL_OK) ||
            (st == VGGCL_OK && (th != th2 || tw != tw2 || memcmp(t, t2, sizeof(float) * 3 * (size_t)th * tw))))
            abort();
    }
    free(sub), free(t), free(t2);
    vggcl_ctx_free(ctx);
done:
    free(img), free(full), free(win);
    return 0;
}
