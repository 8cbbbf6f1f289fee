/* torchvision's ImageClassification preset on an 8-bit RGB image: resize the
 * short side (the long side truncated as torchvision computes it), center
 * crop (Python's round-half-to-even for the offset, zero padding when the
 * image is smaller), then float32 x / 255, (x - mean) / std. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

void vggcl_preprocess_defaults(vggcl_preprocess *p)
{
    const vggcl_preprocess d = { 256, 224, { 0.485f, 0.456f, 0.406f }, { 0.229f, 0.224f, 0.225f } };
    *p = d;
}

vggcl_status vggcl_image_preprocess(vggcl_ctx *ctx, const unsigned char *rgb, int h, int w, const vggcl_preprocess *p,
                                    float **out, int *oh, int *ow)
{
    unsigned char *resized = NULL;
    const unsigned char *img = rgb;
    *out = NULL;
    if (h < 1 || w < 1) return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "image of %dx%d pixels", h, w);
    if (p->resize < 0 || p->crop < 0 || p->resize > 16384 || p->crop > 16384)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "resize %d and crop %d must be 0 to 16384", p->resize, p->crop);
    for (int c = 0; c < 3; c++)
        if (!(p->std[c] != 0.0f) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "normalization: std must be finite and non-zero");
    int rh = h, rw = w;
    if (p->resize) {
        const int shortside = h < w ? h : w, longside = h < w ? w : h;
        const double newlong = floor((double)p->resize * longside / shortside);
        /* the same pixel limit as the decoders: a 1-pixel-wide strip would
         * otherwise resize to billions of pixels (or overflow int) */
        if (newlong * p->resize > (double)VGGCL_MAX_PIXELS)
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                               "image of %dx%d pixels would resize to %d x %.0f pixels (more than 2^28)", h, w,
                               p->resize, newlong);
        if (h <= w) rh = p->resize, rw = (int)newlong;
        else rw = p->resize, rh = (int)newlong;
        if (rh < 1 || rw < 1)
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "image of %dx%d pixels resizes to nothing", h, w);
    }
    /* crop window in the (possibly padded) resized image: rows [top, top + ch) */
    int ch = rh, cw = rw, top = 0, left = 0;
    if (p->crop) {
        ch = cw = p->crop;
        const int pad_top = ch > rh ? (ch - rh) / 2 : 0, pad_left = cw > rw ? (cw - rw) / 2 : 0;
        const int ph = ch > rh ? ch : rh, pw = cw > rw ? cw : rw;
        top = (int)nearbyint((ph - ch) / 2.0) - pad_top;
        left = (int)nearbyint((pw - cw) / 2.0) - pad_left;
    }
    /* only the part of the resized image the crop keeps is computed:
     * rows [y0, y1), columns [x0, x1); img then holds just that part */
    const int y0 = top > 0 ? top : 0, y1 = top + ch < rh ? top + ch : rh;
    const int x0 = left > 0 ? left : 0, x1 = left + cw < rw ? left + cw : rw;
    int iw = w, oy = 0, ox = 0; /* img's row length and the resized coordinates of its first pixel */
    if (rh != h || rw != w) {
        if (!(resized = malloc((size_t)(y1 - y0) * (x1 - x0) * 3 + 1)) ||
            !vggcl__resize_rgb_window(rgb, h, w, rh, rw, y0, y1, x0, x1, resized)) {
            free(resized);
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory resizing to %dx%d", rh, rw);
        }
        img = resized;
        iw = x1 - x0, oy = y0, ox = x0;
    }
    float *t = malloc(sizeof(float) * 3 * (size_t)ch * cw);
    if (!t) {
        free(resized);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    }
    /* each channel's 256 values, computed as for one pixel; padding is level 0 */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            const float s = (float)v / 255.0f; /* (rounded to float first, as before the table) */
            lut[c][v] = (s - p->mean[c]) / p->std[c];
        }
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ch; y++) {
            float *dst = t + ((size_t)c * ch + y) * cw;
            const int sy = y + top;
            if (sy < 0 || sy >= rh) {
                for (int x = 0; x < cw; x++) dst[x] = lut[c][0];
                continue;
            }
            const unsigned char *src = img + (size_t)(sy - oy) * iw * 3 + c;
            for (int x = 0; x < cw; x++) {
                const int sx = x + left;
                dst[x] = sx >= 0 && sx < rw ? lut[c][src[(size_t)(sx - ox) * 3]] : lut[c][0];
            }
        }
    free(resized);
    *out = t;
    *oh = ch;
    *ow = cw;
    return VGGCL_OK;
}
