/* libFuzzer harness: JPEG/PNG decoding, then torchvision's preset on whatever
 * decodes, and vggcl_image_read (which decodes only the part the preset
 * reads) against the two in turn: the same status and the same tensor, bit
 * for bit, for the default preset (resize 256, crop 224) and, up to 4
 * megapixels, for presets sized from the image that read only part of it (one
 * side or both resized); a difference aborts. Each preset also read with draft
 * (a JPEG decoded at a reduced scale): the same status, and the crop's size (or
 * with none, the two sides resized to). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vggcl.h"

static void compare(vggcl_ctx *ctx, const char *path, const unsigned char *rgb, int h, int w, int resize,
                    int resize_w, int crop)
{
    vggcl_preprocess p;
    vggcl_preprocess_defaults(&p);
    p.resize = resize, p.resize_w = resize_w, p.crop = crop;
    float *a = NULL, *b = NULL;
    int ah = 0, aw = 0, bh = 0, bw = 0;
    const vggcl_status sa = vggcl_image_preprocess(ctx, rgb, h, w, &p, &a, &ah, &aw);
    const vggcl_status sb = vggcl_image_read(ctx, path, &p, &b, &bh, &bw);
    if (sa != sb || (sa == VGGCL_OK && (ah != bh || aw != bw || memcmp(a, b, sizeof *a * 3 * (size_t)ah * aw))))
        abort();
    vggcl_free(a), vggcl_free(b);
    p.draft = 1; /* a JPEG decoded at a reduced scale (no reference here: PIL's, in the images test) reads too */
    const vggcl_status sd = vggcl_image_read(ctx, path, &p, &b, &bh, &bw);
    if (sd != sb || (sd == VGGCL_OK && (bh != ah || bw != aw) && (p.crop || p.resize_w))) abort();
    vggcl_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".img");
    vggcl_ctx *ctx = vggcl_ctx_new();
    unsigned char *rgb = NULL;
    int h = 0, w = 0;
    if (path && ctx && vggcl_image_load(ctx, path, &rgb, &h, &w) == VGGCL_OK) {
        const int s = h < w ? h : w;
        compare(ctx, path, rgb, h, w, 256, 0, 224);
        if ((size_t)h * w <= ((size_t)1 << 22)) { /* (a few bytes that decode to 20 megapixels: the presets below
                                                   * resized them for over a minute under ASan, a timeout each) */
            compare(ctx, path, rgb, h, w, s * 3 / 4 + 1, 0, s / 2 + 1);  /* downscaled, then cropped */
            compare(ctx, path, rgb, h, w, 0, 0, s / 3 + 1);              /* cropped only */
            compare(ctx, path, rgb, h, w, s / 2 + 1, 0, 0);              /* downscaled only: the whole image */
            compare(ctx, path, rgb, h, w, s / 4 + 1, 0, s / 2 + 3);      /* a crop larger than the image: padded */
            compare(ctx, path, rgb, h, w, h / 2 + 1, w * 3 / 4 + 1, s / 3 + 1); /* both sides, then cropped */
            compare(ctx, path, rgb, h, w, h * 2 / 3 + 1, w / 3 + 1, 0);         /* both sides: the whole image */
        }
        vggcl_free(rgb);
    } else if (path && ctx) { /* an image that does not load does not read either, whatever part is read */
        static const int presets[][2] = { { 256, 224 }, { 51, 34 }, { 24, 16 }, { 0, 12 }, { 12, 0 }, { 8, 300 } };
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
            vggcl_preprocess p;
            vggcl_preprocess_defaults(&p);
            p.resize = presets[i][0], p.crop = presets[i][1], p.draft = (int)(i % 2);
            float *t = NULL;
            int th, tw;
            if (vggcl_image_read(ctx, path, &p, &t, &th, &tw) == VGGCL_OK) abort();
        }
    }
    vggcl_ctx_free(ctx);
    return 0;
}
