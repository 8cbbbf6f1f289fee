/* PNG writing (libpng), atomically, and the drawing of class activation maps
 * over an image. */
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "output.h"

/* PNG's limit on a side (its IHDR takes at most 2^31 - 1, libpng by default 1000000) */
#define PNG_SIDE_MAX 1000000

vggcl_status vggcl_png_write(vggcl_ctx *ctx, const char *path, const unsigned char *rgb, int h, int w)
{
    VGGCL_NEED(ctx, "vggcl_png_write", path);
    VGGCL_NEED(ctx, "vggcl_png_write", rgb);
    if (h < 1 || w < 1 || h > PNG_SIDE_MAX || w > PNG_SIDE_MAX) /* (libpng's longjmp said "Invalid IHDR data") */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: an image of %dx%d; expected 1 to %d pixels a side", path, w, h,
                           PNG_SIDE_MAX);
    vggcl__output *const o = malloc(sizeof *o); /* a const pointer: valid after a longjmp */
    if (!o) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    vggcl_status st = vggcl__output_open(ctx, path, 0666, 0, o);
    if (st != VGGCL_OK) {
        free(o);
        return st;
    }
    vggcl_png_err err;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, vggcl__png_fail, vggcl__png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        vggcl__output_abort(o);
        free(o);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    if (setjmp(err.jump)) {
        png_destroy_write_struct(&png, &info);
        vggcl__output_abort(o);
        free(o);
        return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot write PNG: %s", path, err.msg);
    }
    png_init_io(png, o->fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    st = vggcl__output_commit(ctx, o, 1);
    free(o);
    return st;
}

void vggcl_cam_upsample(const float *cam, int mh, int mw, float *out, int h, int w)
{
    if (h < 1 || w < 1 || !out) return; /* (nothing to fill) */
    if (mh < 1 || mw < 1 || !cam) { /* no map (an input too small for the network: vggcl_model_map_size's 0x0): flat */
        memset(out, 0, sizeof *out * (size_t)h * w);
        return;
    }
    /* bilinear, half-pixel centres (torch.nn.functional.interpolate, align_corners=False) */
    float lo = INFINITY, hi = -INFINITY;
    for (int y = 0; y < h; y++) {
        double sy = (y + 0.5) * mh / h - 0.5;
        if (sy < 0) sy = 0;
        const int y0 = (int)sy, y1 = y0 + 1 < mh ? y0 + 1 : mh - 1;
        const double fy = sy - y0;
        for (int x = 0; x < w; x++) {
            double sx = (x + 0.5) * mw / w - 0.5;
            if (sx < 0) sx = 0;
            const int x0 = (int)sx, x1 = x0 + 1 < mw ? x0 + 1 : mw - 1;
            const double fx = sx - x0;
            /* (a neighbour of no weight is left out: 0 * NaN would spread a NaN into its pixels) */
            const double top = fx > 0 ? (1 - fx) * cam[y0 * mw + x0] + fx * cam[y0 * mw + x1] : cam[y0 * mw + x0],
                         bottom = fx > 0 ? (1 - fx) * cam[y1 * mw + x0] + fx * cam[y1 * mw + x1] : cam[y1 * mw + x0];
            out[(size_t)y * w + x] = (float)(fy > 0 ? (1 - fy) * top + fy * bottom : top);
            lo = out[(size_t)y * w + x] < lo ? out[(size_t)y * w + x] : lo;
            hi = out[(size_t)y * w + x] > hi ? out[(size_t)y * w + x] : hi;
        }
    }
    /* normalized to [0, 1] (a flat map becomes 0; NaN stays NaN), in double: hi - lo may overflow a float */
    for (size_t i = 0; i < (size_t)h * w; i++)
        out[i] = isnan(out[i]) ? out[i] : hi > lo ? (float)(((double)out[i] - lo) / ((double)hi - lo)) : 0.0f;
}

/* viridis at 0, 1/8, ..., 1 (matplotlib's), interpolated linearly */
static const unsigned char viridis[9][3] = {
    { 68, 1, 84 },    { 71, 44, 122 },  { 59, 81, 139 },  { 44, 113, 142 }, { 33, 144, 141 },
    { 39, 173, 129 }, { 92, 200, 99 },  { 170, 220, 50 }, { 253, 231, 37 },
};

void vggcl_cam_draw(const float *norm, const unsigned char *rgb, int h, int w, unsigned char *out)
{
    if (!norm || !rgb || !out) return; /* (nothing to draw from or into) */
    for (size_t i = 0; h > 0 && w > 0 && i < (size_t)h * w; i++) {
        const float t = norm[i] > 0 ? (norm[i] < 1 ? norm[i] : 1) : 0; /* (NaN: 0, not an index out of range) */
        const float pos = t * 8;
        const int a = pos >= 8 ? 7 : (int)pos;
        const float f = pos - a;
        for (int c = 0; c < 3; c++) {
            const float col = viridis[a][c] * (1 - f) + viridis[a + 1][c] * f;
            out[i * 3 + c] = (unsigned char)lrintf(0.5f * rgb[i * 3 + c] + 0.5f * col);
        }
    }
}
