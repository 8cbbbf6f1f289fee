/* PNG writing (libpng), atomically, and the drawing of class activation maps
 * over an image. */
#include <errno.h>
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
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_png_write", path);
    VGGCL_NEED(ctx, "vggcl_png_write", rgb);
    if (h < 1 || w < 1 || h > PNG_SIDE_MAX || w > PNG_SIDE_MAX) /* (libpng's longjmp said "Invalid IHDR data") */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: an image of %d x %d pixels (width x height); expected 1 to %d "
                           "pixels a side", path, w, h,
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
        const int e = ferror(o->fp) ? errno : 0; /* (libpng's "Write Error" for a failed fwrite: the system's why) */
        char eb[128];
        png_destroy_write_struct(&png, &info);
        const vggcl_status said = e && o->direct_fd >= 0 ? vggcl__output_write_failed(ctx, o, e) /* (the staged copy) */
                                : vggcl__fail_os(ctx, e, "%s: cannot write PNG: %s%s%s", path, err.msg,
                                                 e ? ": " : "", e ? vggcl__strerror(e, eb, sizeof eb) : "");
        vggcl__output_abort(o);
        free(o);
        return said;
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
    if (mh < 1 || mw < 1 || !cam) { /* no map (a size the network does not take: vggcl_model_map_size's 0x0): flat */
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
            /* (a neighbour of no weight is left out: 0 * NaN would spread a NaN into its pixels; rows indexed in
             * size_t: a caller's map may pass 2^31 values) */
            const float *r0 = cam + (size_t)y0 * mw, *r1 = cam + (size_t)y1 * mw;
            const double top = fx > 0 ? (1 - fx) * r0[x0] + fx * r0[x1] : r0[x0],
                         bottom = fx > 0 ? (1 - fx) * r1[x0] + fx * r1[x1] : r1[x0];
            out[(size_t)y * w + x] = (float)(fy > 0 ? (1 - fy) * top + fy * bottom : top);
            lo = out[(size_t)y * w + x] < lo ? out[(size_t)y * w + x] : lo;
            hi = out[(size_t)y * w + x] > hi ? out[(size_t)y * w + x] : hi;
        }
    }
    /* normalized to [0, 1] (a flat map becomes 0; NaN stays NaN), in double: hi - lo may overflow a float; an
     * infinity has no finite stretch: NaN where it reaches, the rest at the limit, 0 below a +inf and 1 above a
     * -inf (a -inf made the whole map NaN, a +inf did not) */
    for (size_t i = 0; i < (size_t)h * w; i++) {
        const float v = out[i];
        if (isnan(v) || isinf(v) || (isinf(lo) && isinf(hi))) out[i] = isnan(v) ? v : NAN;
        else if (isinf(hi) || isinf(lo)) out[i] = isinf(hi) ? 0.0f : 1.0f;
        else out[i] = hi > lo ? (float)(((double)v - lo) / ((double)hi - lo)) : 0.0f;
    }
}

/* matplotlib's viridis, its 256 colours rounded to 8 bits (matplotlib.colormaps["viridis"].colors * 255) */
static const unsigned char viridis[256][3] = {
    { 68, 1, 84 }, { 68, 2, 86 }, { 69, 4, 87 }, { 69, 5, 89 }, { 70, 7, 90 }, { 70, 8, 92 },
    { 70, 10, 93 }, { 70, 11, 94 }, { 71, 13, 96 }, { 71, 14, 97 }, { 71, 16, 99 }, { 71, 17, 100 },
    { 71, 19, 101 }, { 72, 20, 103 }, { 72, 22, 104 }, { 72, 23, 105 }, { 72, 24, 106 }, { 72, 26, 108 },
    { 72, 27, 109 }, { 72, 28, 110 }, { 72, 29, 111 }, { 72, 31, 112 }, { 72, 32, 113 }, { 72, 33, 115 },
    { 72, 35, 116 }, { 72, 36, 117 }, { 72, 37, 118 }, { 72, 38, 119 }, { 72, 40, 120 }, { 72, 41, 121 },
    { 71, 42, 122 }, { 71, 44, 122 }, { 71, 45, 123 }, { 71, 46, 124 }, { 71, 47, 125 }, { 70, 48, 126 },
    { 70, 50, 126 }, { 70, 51, 127 }, { 70, 52, 128 }, { 69, 53, 129 }, { 69, 55, 129 }, { 69, 56, 130 },
    { 68, 57, 131 }, { 68, 58, 131 }, { 68, 59, 132 }, { 67, 61, 132 }, { 67, 62, 133 }, { 66, 63, 133 },
    { 66, 64, 134 }, { 66, 65, 134 }, { 65, 66, 135 }, { 65, 68, 135 }, { 64, 69, 136 }, { 64, 70, 136 },
    { 63, 71, 136 }, { 63, 72, 137 }, { 62, 73, 137 }, { 62, 74, 137 }, { 62, 76, 138 }, { 61, 77, 138 },
    { 61, 78, 138 }, { 60, 79, 138 }, { 60, 80, 139 }, { 59, 81, 139 }, { 59, 82, 139 }, { 58, 83, 139 },
    { 58, 84, 140 }, { 57, 85, 140 }, { 57, 86, 140 }, { 56, 88, 140 }, { 56, 89, 140 }, { 55, 90, 140 },
    { 55, 91, 141 }, { 54, 92, 141 }, { 54, 93, 141 }, { 53, 94, 141 }, { 53, 95, 141 }, { 52, 96, 141 },
    { 52, 97, 141 }, { 51, 98, 141 }, { 51, 99, 141 }, { 50, 100, 142 }, { 50, 101, 142 }, { 49, 102, 142 },
    { 49, 103, 142 }, { 49, 104, 142 }, { 48, 105, 142 }, { 48, 106, 142 }, { 47, 107, 142 }, { 47, 108, 142 },
    { 46, 109, 142 }, { 46, 110, 142 }, { 46, 111, 142 }, { 45, 112, 142 }, { 45, 113, 142 }, { 44, 113, 142 },
    { 44, 114, 142 }, { 44, 115, 142 }, { 43, 116, 142 }, { 43, 117, 142 }, { 42, 118, 142 }, { 42, 119, 142 },
    { 42, 120, 142 }, { 41, 121, 142 }, { 41, 122, 142 }, { 41, 123, 142 }, { 40, 124, 142 }, { 40, 125, 142 },
    { 39, 126, 142 }, { 39, 127, 142 }, { 39, 128, 142 }, { 38, 129, 142 }, { 38, 130, 142 }, { 38, 130, 142 },
    { 37, 131, 142 }, { 37, 132, 142 }, { 37, 133, 142 }, { 36, 134, 142 }, { 36, 135, 142 }, { 35, 136, 142 },
    { 35, 137, 142 }, { 35, 138, 141 }, { 34, 139, 141 }, { 34, 140, 141 }, { 34, 141, 141 }, { 33, 142, 141 },
    { 33, 143, 141 }, { 33, 144, 141 }, { 33, 145, 140 }, { 32, 146, 140 }, { 32, 146, 140 }, { 32, 147, 140 },
    { 31, 148, 140 }, { 31, 149, 139 }, { 31, 150, 139 }, { 31, 151, 139 }, { 31, 152, 139 }, { 31, 153, 138 },
    { 31, 154, 138 }, { 30, 155, 138 }, { 30, 156, 137 }, { 30, 157, 137 }, { 31, 158, 137 }, { 31, 159, 136 },
    { 31, 160, 136 }, { 31, 161, 136 }, { 31, 161, 135 }, { 31, 162, 135 }, { 32, 163, 134 }, { 32, 164, 134 },
    { 33, 165, 133 }, { 33, 166, 133 }, { 34, 167, 133 }, { 34, 168, 132 }, { 35, 169, 131 }, { 36, 170, 131 },
    { 37, 171, 130 }, { 37, 172, 130 }, { 38, 173, 129 }, { 39, 173, 129 }, { 40, 174, 128 }, { 41, 175, 127 },
    { 42, 176, 127 }, { 44, 177, 126 }, { 45, 178, 125 }, { 46, 179, 124 }, { 47, 180, 124 }, { 49, 181, 123 },
    { 50, 182, 122 }, { 52, 182, 121 }, { 53, 183, 121 }, { 55, 184, 120 }, { 56, 185, 119 }, { 58, 186, 118 },
    { 59, 187, 117 }, { 61, 188, 116 }, { 63, 188, 115 }, { 64, 189, 114 }, { 66, 190, 113 }, { 68, 191, 112 },
    { 70, 192, 111 }, { 72, 193, 110 }, { 74, 193, 109 }, { 76, 194, 108 }, { 78, 195, 107 }, { 80, 196, 106 },
    { 82, 197, 105 }, { 84, 197, 104 }, { 86, 198, 103 }, { 88, 199, 101 }, { 90, 200, 100 }, { 92, 200, 99 },
    { 94, 201, 98 }, { 96, 202, 96 }, { 99, 203, 95 }, { 101, 203, 94 }, { 103, 204, 92 }, { 105, 205, 91 },
    { 108, 205, 90 }, { 110, 206, 88 }, { 112, 207, 87 }, { 115, 208, 86 }, { 117, 208, 84 }, { 119, 209, 83 },
    { 122, 209, 81 }, { 124, 210, 80 }, { 127, 211, 78 }, { 129, 211, 77 }, { 132, 212, 75 }, { 134, 213, 73 },
    { 137, 213, 72 }, { 139, 214, 70 }, { 142, 214, 69 }, { 144, 215, 67 }, { 147, 215, 65 }, { 149, 216, 64 },
    { 152, 216, 62 }, { 155, 217, 60 }, { 157, 217, 59 }, { 160, 218, 57 }, { 162, 218, 55 }, { 165, 219, 54 },
    { 168, 219, 52 }, { 170, 220, 50 }, { 173, 220, 48 }, { 176, 221, 47 }, { 178, 221, 45 }, { 181, 222, 43 },
    { 184, 222, 41 }, { 186, 222, 40 }, { 189, 223, 38 }, { 192, 223, 37 }, { 194, 223, 35 }, { 197, 224, 33 },
    { 200, 224, 32 }, { 202, 225, 31 }, { 205, 225, 29 }, { 208, 225, 28 }, { 210, 226, 27 }, { 213, 226, 26 },
    { 216, 226, 25 }, { 218, 227, 25 }, { 221, 227, 24 }, { 223, 227, 24 }, { 226, 228, 24 }, { 229, 228, 25 },
    { 231, 228, 25 }, { 234, 229, 26 }, { 236, 229, 27 }, { 239, 229, 28 }, { 241, 229, 29 }, { 244, 230, 30 },
    { 246, 230, 32 }, { 248, 230, 33 }, { 251, 231, 35 }, { 253, 231, 37 },
};

void vggcl_cam_draw(const float *norm, const unsigned char *rgb, int h, int w, unsigned char *out)
{
    if (!norm || !rgb || !out) return; /* (nothing to draw from or into) */
    for (size_t i = 0; h > 0 && w > 0 && i < (size_t)h * w; i++) {
        const float t = norm[i] > 0 ? (norm[i] < 1 ? norm[i] : 1) : 0; /* (NaN: 0, not an index out of range) */
        const int k = t * 256 >= 255 ? 255 : (int)(t * 256); /* (matplotlib's: the colour of floor(t * 256)) */
        for (int c = 0; c < 3; c++) out[i * 3 + c] = (unsigned char)lrintf(0.5f * rgb[i * 3 + c] + 0.5f * viridis[k][c]);
    }
}
