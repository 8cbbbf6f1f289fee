/* Bilinear resize with antialiasing, computing exactly what PIL's
 * Image.resize(size, Image.BILINEAR) computes for 8-bit RGB: a horizontal
 * then a vertical pass, each output pixel a weighted sum over a window
 * widened by the downscale factor, weights normalized and rounded to 22-bit
 * fixed point, sums rounded and clipped to uint8 after each pass. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "image.h"

#define PRECISION_BITS 22 /* 32 - 8 bits of pixel - 2 bits of headroom */

typedef struct {
    int ksize;      /* coefficients per output position */
    int *first;     /* first input index per output position */
    int *count;     /* inputs used per output position */
    int32_t *k;     /* (out, ksize) fixed-point weights */
} coeffs;

static double bilinear(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void coeffs_free(coeffs *c)
{
    free(c->first);
    free(c->count);
    free(c->k);
}

/* Coefficients for output positions [o0, o1) of a resize from in_size to out_size. */
static int coeffs_make(int in_size, int out_size, int o0, int o1, coeffs *c)
{
    const double scale = (double)in_size / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * filterscale; /* the bilinear filter's support is 1 */
    c->ksize = (int)ceil(support) * 2 + 1;
    const int n = o1 - o0;
    c->first = malloc(sizeof(int) * (size_t)n + 1);
    c->count = malloc(sizeof(int) * (size_t)n + 1);
    c->k = calloc((size_t)n * c->ksize + 1, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)c->ksize);
    if (!c->first || !c->count || !c->k || !w) {
        free(w);
        coeffs_free(c);
        return 0;
    }
    for (int j = 0; j < n; j++) {
        const int o = o0 + j;
        const double center = (o + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        double sum = 0.0;
        for (int i = 0; i < hi - lo; i++) {
            w[i] = bilinear((i + lo - center + 0.5) / filterscale);
            sum += w[i];
        }
        for (int i = 0; i < hi - lo; i++) {
            const double v = sum != 0.0 ? w[i] / sum : w[i];
            c->k[(size_t)j * c->ksize + i] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                                             : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->first[j] = lo;
        c->count[j] = hi - lo;
    }
    free(w);
    return 1;
}

static unsigned char clip8(int32_t ss)
{
    const int32_t v = ss >> PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
}

/* One pass along x (step 3 between pixels) or y (step 3 * w). */
static void pass(const unsigned char *in, unsigned char *out, int lines, int out_len, const coeffs *c,
                 size_t in_line, size_t out_line, size_t in_step, size_t out_step)
{
    for (int l = 0; l < lines; l++)
        for (int o = 0; o < out_len; o++) {
            const int32_t *k = c->k + (size_t)o * c->ksize;
            const unsigned char *src = in + l * in_line + c->first[o] * in_step;
            for (int ch = 0; ch < 3; ch++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < c->count[o]; i++) ss += src[i * in_step + ch] * k[i];
                out[l * out_line + o * out_step + ch] = clip8(ss);
            }
        }
}

int vggcl__resize_rgb_window(const unsigned char *in, int h, int w, int oh, int ow, int y0, int y1, int x0, int x1,
                             unsigned char *out)
{
    coeffs cx = { 0 }, cy = { 0 };
    unsigned char *tmp = NULL;
    int ok = 0;
    const unsigned char *src = in;
    const int cw = x1 - x0, ch = y1 - y0;
    size_t line = (size_t)w * 3; /* bytes per row of src */
    if (ow != w) {
        /* every input row, only the window's columns */
        if (!coeffs_make(w, ow, x0, x1, &cx) || !(tmp = malloc((size_t)h * cw * 3 + 1))) goto done;
        pass(in, tmp, h, cw, &cx, (size_t)w * 3, (size_t)cw * 3, 3, 3);
        src = tmp;
        line = (size_t)cw * 3;
    } else {
        src = in + (size_t)x0 * 3;
    }
    if (oh != h) {
        if (!coeffs_make(h, oh, y0, y1, &cy)) goto done;
        /* columns as lines: a line steps 3 bytes, a tap steps a row */
        pass(src, out, cw, ch, &cy, 3, 3, line, (size_t)cw * 3);
    } else {
        for (int y = 0; y < ch; y++)
            for (size_t i = 0; i < (size_t)cw * 3; i++) out[(size_t)y * cw * 3 + i] = src[(size_t)(y0 + y) * line + i];
    }
    ok = 1;
done:
    coeffs_free(&cx);
    coeffs_free(&cy);
    free(tmp);
    return ok;
}
