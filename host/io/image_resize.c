/* Bilinear resize with antialiasing, computing exactly what PIL's
 * Image.resize(size, Image.BILINEAR) computes for 8-bit RGB: a horizontal
 * then a vertical pass, each output pixel a weighted sum over a window
 * widened by the downscale factor, weights normalized and rounded to 22-bit
 * fixed point, sums rounded and clipped to uint8 after each pass. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* The scale, the filter's scale and its support for a resize from in_size to out_size. */
static void filter_of(int in_size, int out_size, double *scale, double *filterscale, double *support)
{
    *scale = (double)in_size / out_size;
    *filterscale = *scale < 1.0 ? 1.0 : *scale;
    *support = 1.0 * *filterscale; /* the bilinear filter's support is 1 */
}

/* The inputs [*lo, *hi) output position o weighs. */
static void window_of(int o, int in_size, double scale, double support, double *center, int *lo, int *hi)
{
    *center = (o + 0.5) * scale;
    *lo = (int)(*center - support + 0.5), *hi = (int)(*center + support + 0.5);
    if (*lo < 0) *lo = 0;
    if (*hi > in_size) *hi = in_size;
}

void vggcl__resize_reads(int in_size, int out_size, int o0, int o1, int *i0, int *i1)
{
    double scale, filterscale, support, center;
    int lo, hi;
    filter_of(in_size, out_size, &scale, &filterscale, &support);
    window_of(o0, in_size, scale, support, &center, i0, &hi); /* (both ends rise with o) */
    window_of(o1 - 1, in_size, scale, support, &center, &lo, i1);
}

/* Coefficients for output positions [o0, o1) of a resize from in_size to out_size. */
static int coeffs_make(int in_size, int out_size, int o0, int o1, coeffs *c)
{
    double scale, filterscale, support;
    filter_of(in_size, out_size, &scale, &filterscale, &support);
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
        double center, sum = 0.0;
        int lo, hi;
        window_of(o0 + j, in_size, scale, support, &center, &lo, &hi);
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

/* The horizontal pass over `rows` rows of RGB pixels: output pixel o of a
 * row weighs input pixels [first[o], first[o] + count[o]) of the same row
 * (counted from input pixel `base`, the first one `in` holds). */
static void pass_x(const unsigned char *in, size_t in_line, int base, unsigned char *out, size_t out_line, int rows,
                   int out_len, const coeffs *c)
{
    for (int l = 0; l < rows; l++) {
        const unsigned char *row = in + (size_t)l * in_line;
        unsigned char *dst = out + (size_t)l * out_line;
        for (int o = 0; o < out_len; o++) {
            const int32_t *k = c->k + (size_t)o * c->ksize;
            const unsigned char *s = row + (size_t)(c->first[o] - base) * 3;
            int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
            for (int i = 0; i < c->count[o]; i++) {
                r += s[3 * i] * k[i];
                g += s[3 * i + 1] * k[i];
                b += s[3 * i + 2] * k[i];
            }
            dst[3 * o] = clip8(r);
            dst[3 * o + 1] = clip8(g);
            dst[3 * o + 2] = clip8(b);
        }
    }
}

/* The vertical pass: output row o weighs whole input rows [first[o],
 * first[o] + count[o]) (counted from input row `base`, the first one `in`
 * holds), `n` bytes each, summed into `acc` a row at a time so that every
 * access runs along a row. The weights are never negative and the sums stay
 * under 2^31, so the order of the additions does not change them. */
static void pass_y(const unsigned char *in, size_t in_line, int base, unsigned char *out, int out_rows, size_t n,
                   const coeffs *c, int32_t *acc)
{
    for (int o = 0; o < out_rows; o++) {
        const int32_t *k = c->k + (size_t)o * c->ksize;
        const unsigned char *src = in + (size_t)(c->first[o] - base) * in_line;
        for (size_t x = 0; x < n; x++) acc[x] = 1 << (PRECISION_BITS - 1);
        for (int i = 0; i < c->count[o]; i++) {
            const unsigned char *s = src + (size_t)i * in_line;
            const int32_t w = k[i];
            for (size_t x = 0; x < n; x++) acc[x] += s[x] * w;
        }
        unsigned char *dst = out + (size_t)o * n;
        for (size_t x = 0; x < n; x++) dst[x] = clip8(acc[x]);
    }
}

/* The pixel at row y, column x of the image part holds (which holds it). */
static const unsigned char *at(const vggcl__rgb_part *in, int y, int x)
{
    return in->px + (size_t)(y - in->y0) * in->line + (size_t)(x - in->x0) * 3;
}

int vggcl__resize_rgb_window(const vggcl__rgb_part *in, int oh, int ow, int y0, int y1, int x0, int x1,
                             unsigned char *out)
{
    coeffs cx = { 0 }, cy = { 0 };
    unsigned char *tmp = NULL;
    int32_t *acc = NULL;
    int ok = 0;
    const int h = in->h, w = in->w, cw = x1 - x0, ch = y1 - y0;
    const size_t line = in->line, n = (size_t)cw * 3; /* bytes per row of in, of out */
    if (oh == h && ow == w) {
        for (int y = 0; y < ch; y++) memcpy(out + (size_t)y * n, at(in, y0 + y, x0), n);
        return 1;
    }
    if (ow != w && !coeffs_make(w, ow, x0, x1, &cx)) goto done;
    if (oh == h) { /* the window's rows only, straight into out */
        pass_x(at(in, y0, in->x0), line, in->x0, out, n, ch, cw, &cx);
        ok = 1;
        goto done;
    }
    if (!coeffs_make(h, oh, y0, y1, &cy) || !(acc = malloc(sizeof(int32_t) * n + 1))) goto done;
    if (ow == w) {
        pass_y(at(in, in->y0, x0), line, in->y0, out, ch, n, &cy, acc);
        ok = 1;
        goto done;
    }
    /* the horizontal pass over only the input rows the vertical one reads */
    int r0 = h, r1 = 0;
    for (int o = 0; o < ch; o++) {
        if (cy.first[o] < r0) r0 = cy.first[o];
        if (cy.first[o] + cy.count[o] > r1) r1 = cy.first[o] + cy.count[o];
    }
    if (r1 <= r0) r0 = r1 = in->y0; /* (no rows) */
    if (!(tmp = malloc((size_t)(r1 - r0) * n + 1))) goto done;
    pass_x(at(in, r0, in->x0), line, in->x0, tmp, n, r1 - r0, cw, &cx);
    pass_y(tmp, n, r0, out, ch, n, &cy, acc);
    ok = 1;
done:
    coeffs_free(&cx);
    coeffs_free(&cy);
    free(tmp);
    free(acc);
    return ok;
}
