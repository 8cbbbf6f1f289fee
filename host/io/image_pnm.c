/* PBM, PGM and PPM (Netpbm's P1 to P6) decoding to 8-bit RGB as PIL 9.4's
 * PpmImagePlugin reads a file, then Image.convert("RGB"):
 * - the header's tokens as PIL reads them (a comment from '#' to CR or LF
 *   skipped, inside a token too; one whitespace byte after the last token);
 * - a maxval below 256 scales each value v to round(v / maxval * 255), Python's
 *   round (half to even); a gray image of maxval above 255 is PIL's 32-bit mode
 *   "I", scaled to 65535 (65535 itself read as it is), which convert("RGB")
 *   clips at 255; a colour one of maxval above 255 scales to 255;
 * - P4 bits are 0 for white; the plain (ASCII) formats' data is read in PIL's
 *   blocks of 1 MiB, with its checks (every byte of a P1 block that holds its
 *   data is 0 or 1, tokens of at most 10 characters, no value above maxval).
 * Not read, said (PIL reads them): PIL's own test magics (P0CMYK, PyP, PyRGBA,
 * PyCMYK), and a plain file whose data PIL 9.4 reads with a token twice (a token
 * cut by a block's end is stitched again to each later block, and at the end
 * of the file repeated until the image is full; newer Pillows read such files
 * as written). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"

#define PNM_BLOCK ((size_t)1 << 20) /* PIL's ImageFile.SAFEBLOCK: the plain formats' data is read in such blocks */
#define PNM_TOKEN 10                /* the longest token PIL takes, in the header and in plain data */

int vggcl__is_pnm(const unsigned char *magic, size_t n)
{
    return n >= 2 && magic[0] == 'P' && magic[1] && strchr("0123456y", magic[1]);
}

typedef struct {
    vggcl_ctx *ctx;
    const char *path, *kind; /* (kind: PBM, PGM or PPM, as the magic says) */
    FILE *f;
} pnm;

/* VGGCL_ERR_FORMAT, said as "PATH: corrupt KIND: " and the message (a function: the macro's empty ##__VA_ARGS__
 * was a GNU extension, which -Wpedantic named). */
static vggcl_status pnm_fail(const pnm *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vggcl_status pnm_fail(const pnm *r, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vggcl__fail(r->ctx, VGGCL_ERR_FORMAT, "%s: corrupt %s: %s", r->path, r->kind, what);
}

static int is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); } /* (Python's bytes whitespace) */

/* Python's int() of the token t of n bytes (n <= PNM_TOKEN): a sign, then digits with single
 * underscores between them. 0 when it is not a number. */
static int py_int(const unsigned char *t, size_t n, long long *v)
{
    size_t i = t[0] == '+' || t[0] == '-';
    long long x = 0;
    if (i == n) return 0;
    for (size_t k = i; k < n; k++) {
        if (t[k] == '_' && k > i && k + 1 < n && t[k - 1] != '_') continue;
        if (t[k] < '0' || t[k] > '9') return 0;
        x = x * 10 + (t[k] - '0');
    }
    *v = t[0] == '-' ? -x : x;
    return 1;
}

/* The header's next token as a number (PIL's _read_token, then int()). */
static vggcl_status header_int(const pnm *r, const char *what, long long *v)
{
    unsigned char t[PNM_TOKEN + 1];
    size_t n = 0;
    while (n <= PNM_TOKEN) {
        const int c = getc(r->f);
        if (c == EOF) break;
        if (is_space(c)) {
            if (n) break;
            continue;
        }
        if (c == '#') { /* (to CR, LF or the end; the token goes on after it) */
            int d;
            while ((d = getc(r->f)) != EOF && d != '\r' && d != '\n') {}
            continue;
        }
        t[n++] = (unsigned char)c;
    }
    if (!n) return pnm_fail(r, "the file ends before its %s", what);
    if (n > PNM_TOKEN) return pnm_fail(r, "its %s is a token of over %d characters", what, PNM_TOKEN);
    if (!py_int(t, n, v)) return pnm_fail(r, "its %s is not a number", what);
    return VGGCL_OK;
}

/* The plain formats' data, block by block as PIL's PpmPlainDecoder reads it. */
typedef struct {
    unsigned char *buf; /* a block, after a token cut by the previous one's end (at most PNM_TOKEN bytes) */
    size_t len;
    int comment; /* a comment goes on into the next block */
    unsigned char half[PNM_TOKEN + 1];
    size_t half_len; /* (0: none) */
    int half_stale;  /* half was stitched to a block and no later one replaced it: PIL 9.4 would again */
} plain_blocks;

/* Reads the next block into b->buf at off, without its comments (PIL's _ignore_comments: one that
 * goes on from the block before ends at its first CR or LF, but at the later of the two when the block
 * starts with one of them; a block that is all comment is followed by the next). b->len: what is left
 * of it (0 at the end of the file), after off. */
static vggcl_status next_block(const pnm *r, plain_blocks *b, size_t off, int *end)
{
    size_t n = fread(b->buf + off, 1, PNM_BLOCK, r->f);
    *end = n == 0;
    if (ferror(r->f)) return pnm_fail(r, "the file cannot be read");
    unsigned char *p = b->buf + off;
    while (b->comment && n) {
        const unsigned char *lf = memchr(p, '\n', n), *cr = memchr(p, '\r', n);
        const long a = lf ? lf - p : -1, c = cr ? cr - p : -1;
        const long stop = a * c > 0 ? (a < c ? a : c) : (a > c ? a : c);
        if (stop >= 0) {
            memmove(p, p + stop + 1, n - (size_t)stop - 1);
            n -= (size_t)stop + 1;
            break;
        }
        n = fread(p, 1, PNM_BLOCK, r->f);
        if (ferror(r->f)) return pnm_fail(r, "the file cannot be read");
    }
    b->comment = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) { /* (each further comment from '#' to its first CR or LF, that one too) */
        if (p[i] != '#') {
            p[w++] = p[i];
            continue;
        }
        while (i < n && p[i] != '\n' && p[i] != '\r') i++;
        if (i == n) b->comment = 1;
    }
    b->len = w;
    return VGGCL_OK;
}

/* P1: w * h bytes of '0' (white) or '1'; every byte of the blocks read must be one of them. */
static vggcl_status plain_bits(const pnm *r, plain_blocks *b, size_t total, unsigned char *out)
{
    size_t got = 0;
    while (got < total) {
        int end;
        const vggcl_status st = next_block(r, b, 0, &end);
        if (st != VGGCL_OK) return st;
        if (end) break;
        for (size_t i = 0; i < b->len; i++) {
            const unsigned char c = b->buf[i];
            if (is_space(c)) continue;
            if (c != '0' && c != '1') return pnm_fail(r, "a byte of its data is neither 0 nor 1 (%#x)", c);
            if (got < total) memset(out + 3 * got++, c == '0' ? 255 : 0, 3);
        }
    }
    if (got < total) return pnm_fail(r, "the file ends after %zu of its %zu values", got, total);
    return VGGCL_OK;
}

/* One plain value token: checked and scaled as PIL does, to out's byte. */
static vggcl_status plain_value(const pnm *r, const unsigned char *t, size_t n, long long maxval, int wide,
                                unsigned char *out)
{
    long long v;
    if (n > PNM_TOKEN) return pnm_fail(r, "a token of its data has over %d characters", PNM_TOKEN);
    if (!py_int(t, n, &v)) return pnm_fail(r, "a token of its data is not a number");
    if (v > maxval) return pnm_fail(r, "a value of %lld is above its maxval %lld", v, maxval);
    const double x = rint((double)v / (double)maxval * (wide ? 65535.0 : 255.0));
    if (wide && x < 0) return pnm_fail(r, "a value of %lld is below 0", v); /* (PIL's struct.error) */
    *out = wide ? (unsigned char)(x > 255 ? 255 : x) : (unsigned char)((long long)x & 255); /* (PIL's o8 wraps) */
    return VGGCL_OK;
}

/* P2 and P3: total whitespace-separated values, bands to a pixel; wide: mode "I" (a PGM of maxval above 255). */
static vggcl_status plain_values(const pnm *r, plain_blocks *b, size_t total, int bands, long long maxval, int wide,
                                 unsigned char *out)
{
    size_t got = 0;
    while (got < total) {
        int end;
        const size_t off = b->half_len;
        vggcl_status st = next_block(r, b, off, &end);
        if (st != VGGCL_OK) return st;
        if (end && !b->half_len) break;
        if (b->half_len && b->half_stale)
            return end ? pnm_fail(r, "the file ends after %zu of its %zu values (PIL 9.4 repeats the last one to the "
                                     "end)", got, total)
                       : vggcl__fail(r->ctx, VGGCL_ERR_FORMAT, "%s: a plain %s vggcl does not read: PIL 9.4 reads a "
                                     "token of it twice, after its first MiB of data (newer Pillows do not): save it "
                                     "as binary (P%c)", r->path, r->kind, bands == 3 ? '6' : '5');
        if (end) b->buf[off] = ' ', b->len = 1; /* (the last token, cut by the file's end: PIL ends it) */
        if (b->half_len) { /* (the token cut by the block before: PIL keeps it, and stitches it again) */
            memcpy(b->buf, b->half, b->half_len);
            b->half_stale = 1;
        }
        size_t n = off + b->len, i = 0;
        const unsigned char *p = b->buf;
        size_t last = n; /* (a token that the block's end cuts: kept for the next) */
        if (n && !is_space(p[n - 1])) {
            while (last && !is_space(p[last - 1])) last--;
            b->half_len = n - last;
            if (b->half_len > PNM_TOKEN) return pnm_fail(r, "a token of its data has over %d characters", PNM_TOKEN);
            memcpy(b->half, p + last, b->half_len);
            b->half_stale = 0;
        }
        while (got < total) {
            while (i < last && is_space(p[i])) i++;
            if (i == last) break;
            const size_t t = i;
            while (i < last && !is_space(p[i])) i++;
            unsigned char v = 0;
            st = plain_value(r, p + t, i - t, maxval, wide, &v);
            if (st != VGGCL_OK) return st;
            if (bands == 1)
                memset(out + 3 * got, v, 3);
            else
                out[got] = v;
            got++;
        }
    }
    if (got < total) return pnm_fail(r, "the file ends after %zu of its %zu values", got, total);
    return VGGCL_OK;
}

/* P4, P5 and P6: rows of bytes (P4: bits, 1 for black; maxval above 255: 16-bit big-endian values). */
static vggcl_status raw_rows(const pnm *r, int magic, size_t w, size_t h, long long maxval, unsigned char *out)
{
    const int bands = magic == '6' ? 3 : 1, in = magic == '4' ? 0 : maxval > 255 ? 2 : 1;
    const size_t stride = magic == '4' ? (w + 7) / 8 : w * (size_t)bands * (size_t)in;
    /* what a value becomes: as PIL's raw modes and its "ppm" decoder scale it, min(out_max, round(v / maxval *
     * out_max)) (maxval 255, and a gray one of 65535, "I;16B", read as they are: the same), then clipped at 255
     * by convert for a gray one above 255 (mode "I", out_max 65535) */
    unsigned char *map = in ? malloc((size_t)1 << (8 * in)) : NULL, *row = malloc(stride + 1);
    if ((in && !map) || !row) {
        free(map), free(row);
        return vggcl__fail(r->ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", r->path);
    }
    const int wide = bands == 1 && maxval > 255;
    for (long long v = 0; in && v < (1LL << (8 * in)); v++) {
        const double x = rint((double)v / (double)maxval * (wide ? 65535 : 255));
        map[v] = (unsigned char)(x > 255 ? 255 : x);
    }
    vggcl_status st = VGGCL_OK;
    for (size_t y = 0; y < h; y++) {
        unsigned char *o = out + y * w * 3;
        if (fread(row, 1, stride, r->f) != stride) {
            st = pnm_fail(r, "the file is truncated (%zu of %zu rows)", y, h);
            break;
        }
        for (size_t x = 0; x < w * (size_t)bands; x++) {
            const unsigned char v = magic == '4' ? (row[x >> 3] >> (7 - (x & 7)) & 1 ? 0 : 255)
                                    : in == 1    ? map[row[x]]
                                                 : map[row[2 * x] << 8 | row[2 * x + 1]];
            if (bands == 1)
                memset(o + 3 * x, v, 3);
            else
                o[x] = v;
        }
    }
    free(map), free(row);
    return st;
}

vggcl_status vggcl__load_pnm(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p, unsigned char **rgb,
                             vggcl__rgb_part *part)
{
    char magic[7] = { 0 }; /* (PIL's: up to 6 bytes, to a whitespace) */
    for (size_t n = 0; n < 6; n++) {
        const int c = getc(f);
        if (c == EOF || is_space(c)) break;
        magic[n] = (char)c;
    }
    if (!strcmp(magic, "P0CMYK") || !strcmp(magic, "PyP") || !strcmp(magic, "PyRGBA") || !strcmp(magic, "PyCMYK"))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: an image vggcl does not read: PIL's own test format %s", path,
                           magic);
    if (strlen(magic) != 2 || magic[1] < '1' || magic[1] > '6')
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt PNM: its magic number is not P1 to P6", path);
    const int kind = magic[1], plain = kind <= '3', bits = kind == '1' || kind == '4';
    const int bands = kind == '3' || kind == '6' ? 3 : 1;
    const pnm r = { ctx, path, bits ? "PBM" : bands == 1 ? "PGM" : "PPM", f };
    long long w, h, maxval = 1;
    vggcl_status st = header_int(&r, "width", &w);
    if (st == VGGCL_OK) st = header_int(&r, "height", &h);
    if (st == VGGCL_OK && !bits) st = header_int(&r, "maxval", &maxval);
    if (st != VGGCL_OK) return st;
    if (maxval <= 0 || maxval >= 65536) return pnm_fail(&r, "its maxval %lld is not from 1 to 65535", maxval);
    if (w <= 0 || h <= 0) return pnm_fail(&r, "%lld x %lld pixels (width x height)", w, h);
    st = vggcl__decoded_size_check(ctx, path, (unsigned long long)h, (unsigned long long)w, p);
    if (st != VGGCL_OK) return st;
    /* (a file too short for its pixels refused before their memory is taken: a plain value takes a byte at least) */
    const size_t values = (size_t)w * (size_t)h * (size_t)bands;
    const size_t need = plain ? values
                        : kind == '4' ? ((size_t)w + 7) / 8 * (size_t)h
                                      : values * (maxval > 255 ? 2 : 1);
    const long at = ftell(f);
    struct stat sb;
    if (at >= 0 && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < (uint64_t)at + need)
        return pnm_fail(&r, "the file is truncated (%lld bytes, its %lld x %lld pixels need %llu)",
                        (long long)sb.st_size, w, h, (unsigned long long)at + need);
    unsigned char *out = malloc(values / (size_t)bands * 3 + 1);
    plain_blocks b = { 0 };
    if (plain) b.buf = malloc(PNM_TOKEN + PNM_BLOCK + 1);
    if (!out || (plain && !b.buf)) {
        free(out), free(b.buf);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    st = kind == '1'  ? plain_bits(&r, &b, values, out)
         : plain      ? plain_values(&r, &b, values, bands, maxval, bands == 1 && maxval > 255, out)
                      : raw_rows(&r, kind, (size_t)w, (size_t)h, maxval, out);
    free(b.buf);
    if (st != VGGCL_OK) {
        free(out);
        return st;
    }
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)w * 3, (int)h, (int)w, 0, 0, (int)h, (int)w };
    return VGGCL_OK;
}
