/* torchvision's ImageClassification preset on an 8-bit RGB image: resize the
 * short side (the long side truncated as torchvision computes it) or both
 * sides to a size given (Resize((h, w))), center crop (Python's
 * round-half-to-even for the offset, zero padding when the image is smaller),
 * then float32 x / 255, (x - mean) / std. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

void vggcl_preprocess_defaults(vggcl_preprocess *p)
{
    const vggcl_preprocess d = { 256, 224, { 0.485f, 0.456f, 0.406f }, { 0.229f, 0.224f, 0.225f }, 0, 0 };
    if (p) *p = d;
}

void vggcl_preprocess_unset(vggcl_preprocess *p)
{
    if (!p) return;
    p->resize = p->crop = p->draft = p->resize_w = -1;
    p->mean[0] = p->std[0] = NAN;
}

/* What the preset does to an h x w image: resize it to rh x rw, crop rows [top, top + ch) and
 * columns [left, left + cw) of that (zero outside it), which keeps its part [y0, y1) x [x0, x1). */
typedef struct {
    int rh, rw, ch, cw, top, left, y0, y1, x0, x1;
} plan;

int vggcl__norm_finite(const float mean[3], const float std[3])
{
    for (int c = 0; c < 3; c++) /* (x / 255 - mean) / std at x = 0 and 255, and the reciprocal a table may use */
        if (!isfinite(1.0f / std[c]) || !isfinite((0.0f - mean[c]) / std[c]) || !isfinite((1.0f - mean[c]) / std[c]) ||
            !isfinite(mean[c] / std[c]))
            return 0;
    return 1;
}

static vggcl_status make_plan(vggcl_ctx *ctx, int h, int w, const vggcl_preprocess *p, plan *pl)
{
    if (h < 1 || w < 1)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "image of %d x %d pixels (width x height): expected at least 1 x 1",
                           w, h);
    if (p->resize < 0 || p->crop < 0 || p->resize > VGGCL_MAX_PRESET_SIDE || p->crop > VGGCL_MAX_PRESET_SIDE)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "resize %d and crop %d must be 0 to %d", p->resize, p->crop,
                           VGGCL_MAX_PRESET_SIDE);
    /* (-1, vggcl_preprocess_unset's "not given", is 0: a caller that set the other fields did as before) */
    const int resize_w = p->resize_w == -1 ? 0 : p->resize_w;
    if (resize_w < 0 || resize_w > VGGCL_MAX_PRESET_SIDE || (resize_w && !p->resize))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "resize_w %d must be 0 (the resize is the short side's) or, with a "
                           "resize above 0 (%d), 1 to %d", p->resize_w, p->resize, VGGCL_MAX_PRESET_SIDE);
    if (p->draft != 0 && p->draft != 1) return vggcl__fail(ctx, VGGCL_ERR_ARG, "draft %d must be 0 or 1", p->draft);
    for (int c = 0; c < 3; c++)
        if (!(p->std[c] > 0.0f) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return vggcl__fail(ctx, VGGCL_ERR_ARG,
                               "normalization: mean %g,%g,%g and std %g,%g,%g; expected finite numbers, the std "
                               "above 0",
                               p->mean[0], p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
    if (!vggcl__norm_finite(p->mean, p->std)) /* (a std of 1e-45: every value infinite, every logit NaN, exit 0) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG,
                           "normalization: mean %g,%g,%g and std %g,%g,%g take pixel values past a float's range",
                           p->mean[0], p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
    int rh = h, rw = w;
    if (resize_w) { /* (VGGCL_MAX_PRESET_SIDE squared is 2^28 pixels: within the limit below) */
        rh = p->resize, rw = resize_w;
    } else if (p->resize) {
        const int shortside = h < w ? h : w, longside = h < w ? w : h;
        const double newlong = floor((double)p->resize * longside / shortside);
        /* the same pixel limit as the decoders: a 1-pixel-wide strip would
         * otherwise resize to billions of pixels (or overflow int) */
        if (newlong * p->resize > (double)VGGCL_MAX_PIXELS)
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                               "image of %d x %d pixels (width x height) would resize to %.0f x %.0f, more than "
                               "2^28 pixels",
                               w, h, h <= w ? newlong : p->resize, h <= w ? p->resize : newlong);
        if (h <= w) rh = p->resize, rw = (int)newlong;
        else rw = p->resize, rh = (int)newlong;
        if (rh < 1 || rw < 1)
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "image of %d x %d pixels (width x height) resizes to nothing",
                               w, h);
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
    /* only the part of the resized image the crop keeps is computed */
    *pl = (plan){ rh, rw, ch, cw, top, left, top > 0 ? top : 0, top + ch < rh ? top + ch : rh,
                  left > 0 ? left : 0, left + cw < rw ? left + cw : rw };
    return VGGCL_OK;
}

/* A preprocessing failure st (not OK) of the image at path, its message made to name the file, as the
 * decoders' messages name it: st. */
static vggcl_status of_file(vggcl_ctx *ctx, vggcl_status st, const char *path)
{
    char before[4096 + 2];
    snprintf(before, sizeof before, "%s: ", path);
    vggcl__fail_around(ctx, st, before, "");
    return st;
}

vggcl_status vggcl__preset_check(vggcl_ctx *ctx, const char *path, int h, int w, const vggcl_preprocess *p)
{
    plan pl;
    const vggcl_status st = make_plan(ctx, h, w, p, &pl);
    return st == VGGCL_OK ? st : of_file(ctx, st, path);
}

void vggcl__preset_reads(int h, int w, const vggcl_preprocess *p, int *y0, int *y1, int *x0, int *x1)
{
    plan pl = { 0 }; /* (set by make_plan when it succeeds: gcc -O2 cannot tell) */
    *y0 = 0, *y1 = h, *x0 = 0, *x1 = w;
    if (make_plan(NULL, h, w, p, &pl) != VGGCL_OK) return; /* (said when preprocessing) */
    if (pl.rh != h) vggcl__resize_reads(h, pl.rh, pl.y0, pl.y1, y0, y1);
    else *y0 = pl.y0, *y1 = pl.y1;
    if (pl.rw != w) vggcl__resize_reads(w, pl.rw, pl.x0, pl.x1, x0, x1);
    else *x0 = pl.x0, *x1 = pl.x1;
}

vggcl_status vggcl__preprocess_part(vggcl_ctx *ctx, const vggcl__rgb_part *in, const vggcl_preprocess *p, float **out,
                                    int *oh, int *ow)
{
    unsigned char *resized = NULL;
    plan pl = { 0 }; /* (set by make_plan when it succeeds: gcc -O2 cannot tell) */
    *out = NULL;
    VGGCL_NEED(ctx, "preprocessing an image", p);
    VGGCL_NEED(ctx, "preprocessing an image", in->px);
    vggcl_status st = make_plan(ctx, in->h, in->w, p, &pl);
    if (st != VGGCL_OK) return st;
    const int rh = pl.rh, rw = pl.rw, ch = pl.ch, cw = pl.cw, top = pl.top, left = pl.left;
    /* img then holds just the part [y0, y1) x [x0, x1) of the resized image */
    const unsigned char *img = in->px;
    size_t line = in->line;
    int oy = in->y0, ox = in->x0; /* the resized coordinates of img's first pixel */
    if (rh != in->h || rw != in->w) {
        const size_t n = (size_t)(pl.y1 - pl.y0) * (pl.x1 - pl.x0) * 3;
        const int made = (resized = malloc(n + 1)) ? vggcl__resize_rgb_window(in, rh, rw, pl.y0, pl.y1, pl.x0, pl.x1,
                                                                               resized) : 0;
        if (made != 1) {
            free(resized);
            return made ? vggcl__fail(ctx, VGGCL_ERR_SHAPE, "image of %d x %d pixels (width x height): resizing it to "
                                      "%d x %d passes through more than 2^28 pixels (the rows it reads, resized "
                                      "across)", in->w, in->h, rw, rh)
                        : vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory resizing to %d x %d pixels (width x "
                                      "height)", rw, rh);
        }
        img = resized;
        line = (size_t)(pl.x1 - pl.x0) * 3, oy = pl.y0, ox = pl.x0;
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
            const unsigned char *src = img + (size_t)(sy - oy) * line + c;
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

vggcl_status vggcl_image_preprocess(vggcl_ctx *ctx, const unsigned char *rgb, int h, int w, const vggcl_preprocess *p,
                                    float **out, int *oh, int *ow)
{
    const vggcl__rgb_part whole = { rgb, (size_t)(w > 0 ? w : 0) * 3, h, w, 0, 0, h, w };
    VGGCL_NEED(ctx, "vggcl_image_preprocess", out);
    *out = NULL; /* (first: also when another argument is refused, so that a caller's free of it is safe) */
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_image_preprocess", oh);
    VGGCL_NEED(ctx, "vggcl_image_preprocess", ow);
    VGGCL_NEED(ctx, "vggcl_image_preprocess", rgb);
    VGGCL_NEED(ctx, "vggcl_image_preprocess", p);
    return vggcl__preprocess_part(ctx, &whole, p, out, oh, ow);
}

vggcl_status vggcl_image_read(vggcl_ctx *ctx, const char *path, const vggcl_preprocess *p, float **out, int *oh,
                              int *ow)
{
    vggcl__rgb_part part;
    unsigned char *px = NULL;
    VGGCL_NEED(ctx, "vggcl_image_read", out);
    *out = NULL; /* (first: also when another argument is refused, so that a caller's free of it is safe) */
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_image_read", oh);
    VGGCL_NEED(ctx, "vggcl_image_read", ow);
    VGGCL_NEED(ctx, "vggcl_image_read", p); /* (before the file is opened: an argument's fault first) */
    vggcl_status st = vggcl__image_load_part(ctx, path, p, &px, &part);
    if (st == VGGCL_OK && (st = vggcl__preprocess_part(ctx, &part, p, out, oh, ow)) != VGGCL_OK)
        of_file(ctx, st, path);
    free(px);
    return st;
}
