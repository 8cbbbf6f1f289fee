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

/* x86-64 with GCC or clang: the vertical pass is also compiled for AVX2 (the compiler vectorizes
 * it), and the horizontal pass has an AVX2 version; either is taken when the CPU has AVX2. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
#define VGGCL_AVX2 1
#define VGGCL_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#include <immintrin.h>
#else
#define VGGCL_AVX2 0
#define VGGCL_VECTOR_CLONES
#endif

int vggcl__resize_scalar_only; /* (a test hook: image.h) */

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

/* Frees c's arrays and forgets them: a caller's own cleanup after a failed coeffs_make frees nothing twice. */
static void coeffs_free(coeffs *c)
{
    free(c->first);
    free(c->count);
    free(c->k);
    c->first = c->count = NULL, c->k = NULL;
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
    const double ss = 1.0 / filterscale; /* (Pillow multiplies by it: a division can differ in the last bit) */
    for (int j = 0; j < n; j++) {
        double center, sum = 0.0;
        int lo, hi;
        window_of(o0 + j, in_size, scale, support, &center, &lo, &hi);
        for (int i = 0; i < hi - lo; i++) {
            w[i] = bilinear((i + lo - center + 0.5) * ss);
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

/* One output pixel of the horizontal pass: count input pixels from s, weighed by k. */
static void pixel_x(const unsigned char *s, const int32_t *k, int count, unsigned char *dst)
{
    int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
    for (int i = 0; i < count; i++) {
        r += s[3 * i] * k[i];
        g += s[3 * i + 1] * k[i];
        b += s[3 * i + 2] * k[i];
    }
    dst[0] = clip8(r);
    dst[1] = clip8(g);
    dst[2] = clip8(b);
}

#if VGGCL_AVX2
/* pixel_x for every output pixel of every row, two input pixels at a time: their bytes widened to
 * (r, g, b, -, r, g, b, -) and multiplied by (k, k, k, 0, k', k', k', 0); an output pixel at a
 * time, down the rows. The same integer sums, so the same bytes (packing with saturation clips as
 * clip8 does), for a block of rows at a time (left to right along them, for the caches). A load
 * reads 8 bytes for 6: an output pixel whose last load would pass the row's avail bytes is left
 * to pixel_x. */
__attribute__((target("avx2"))) static void pass_x_avx2(const unsigned char *in, size_t in_line, int base,
                                                         size_t avail, unsigned char *out, size_t out_line,
                                                         int rows, int out_len, const coeffs *c, const int32_t *wide)
{
    const __m256i spread = _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0);
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    const int pairs = (c->ksize + 1) / 2;
    enum { BLOCK = 16 }; /* rows: 16 and 32 were fastest on 640x480 and 3000x2250 photos */
    for (int l0 = 0; l0 < rows; l0 += BLOCK) {
        const int l1 = l0 + BLOCK < rows ? l0 + BLOCK : rows;
        for (int o = 0; o < out_len; o++) {
            const size_t at = (size_t)(c->first[o] - base) * 3;
            const int np = (c->count[o] + 1) / 2;
            if (at + 6 * (size_t)np + 2 > avail) {
                for (int l = l0; l < l1; l++)
                    pixel_x(in + (size_t)l * in_line + at, c->k + (size_t)o * c->ksize, c->count[o],
                            out + (size_t)l * out_line + 3 * o);
                continue;
            }
            const __m256i *w = (const __m256i *)(const void *)(wide + (size_t)o * pairs * 8);
            for (int l = l0; l < l1; l++) {
                const unsigned char *s = in + (size_t)l * in_line + at;
                __m256i acc = _mm256_setzero_si256();
                for (int t = 0; t < np; t++) {
                    const __m128i bytes = _mm_loadl_epi64((const __m128i *)(const void *)(s + 6 * t));
                    const __m256i v = _mm256_permutevar8x32_epi32(_mm256_cvtepu8_epi32(bytes), spread);
                    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, _mm256_loadu_si256(w + t)));
                }
                __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
                sum = _mm_srai_epi32(_mm_add_epi32(sum, half), PRECISION_BITS);
                sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);
                const uint32_t px = (uint32_t)_mm_cvtsi128_si32(sum);
                unsigned char *dst = out + (size_t)l * out_line + 3 * o;
                dst[0] = (unsigned char)px, dst[1] = (unsigned char)(px >> 8), dst[2] = (unsigned char)(px >> 16);
            }
        }
    }
}
#endif

/* The horizontal pass over `rows` rows of RGB pixels: output pixel o of a
 * row weighs input pixels [first[o], first[o] + count[o]) of the same row
 * (counted from input pixel `base`, the first one `in` holds; a row has
 * `avail` bytes from there). Returns 0 when out of host memory. */
static int pass_x(const unsigned char *in, size_t in_line, int base, size_t avail, unsigned char *out,
                  size_t out_line, int rows, int out_len, const coeffs *c)
{
#if VGGCL_AVX2
    if (!vggcl__resize_scalar_only && __builtin_cpu_supports("avx2")) {
        /* each output pixel's weights, two input pixels to 8 lanes: (k, k, k, 0, k', k', k', 0) */
        const int pairs = (c->ksize + 1) / 2;
        int32_t *wide = calloc((size_t)out_len * pairs * 8 + 1, sizeof *wide);
        if (!wide) return 0;
        for (int o = 0; o < out_len; o++)
            for (int i = 0; i < c->count[o]; i++)
                for (int ch = 0; ch < 3; ch++)
                    wide[((size_t)o * pairs + i / 2) * 8 + (i % 2) * 4 + ch] = c->k[(size_t)o * c->ksize + i];
        pass_x_avx2(in, in_line, base, avail, out, out_line, rows, out_len, c, wide);
        free(wide);
        return 1;
    }
#endif
    (void)avail;
    for (int l = 0; l < rows; l++)
        for (int o = 0; o < out_len; o++)
            pixel_x(in + (size_t)l * in_line + (size_t)(c->first[o] - base) * 3, c->k + (size_t)o * c->ksize,
                    c->count[o], out + (size_t)l * out_line + 3 * o);
    return 1;
}

/* The vertical pass: output row o weighs whole input rows [first[o],
 * first[o] + count[o]) (counted from input row `base`, the first one `in`
 * holds), `n` bytes each, summed into `acc` a row at a time so that every
 * access runs along a row. The weights are never negative and the sums stay
 * under 2^31, so the order of the additions does not change them. */
VGGCL_VECTOR_CLONES
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
    const size_t avail = (size_t)in->cols * 3; /* bytes of a row of in */
    if (oh == h) { /* the window's rows only, straight into out */
        ok = pass_x(at(in, y0, in->x0), line, in->x0, avail, out, n, ch, cw, &cx);
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
    if ((size_t)(r1 - r0) * cw > VGGCL_MAX_PIXELS) {
        ok = -1;
        goto done;
    }
    if (!(tmp = malloc((size_t)(r1 - r0) * n + 1))) goto done;
    if (!pass_x(at(in, r0, in->x0), line, in->x0, avail, tmp, n, r1 - r0, cw, &cx)) goto done;
    pass_y(tmp, n, r0, out, ch, n, &cy, acc);
    ok = 1;
done:
    coeffs_free(&cx);
    coeffs_free(&cy);
    free(tmp);
    free(acc);
    return ok;
}
