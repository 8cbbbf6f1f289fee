/* BMP decoding to 8-bit RGB as PIL 9's BmpImagePlugin reads a file, then
 * Image.convert("RGB"): the headers it takes (OS/2 v1 of 12 bytes; 40, 64, 108
 * and 124), 1, 4 and 8-bit palettes (one PIL calls gray, black and white or a
 * ramp, read as it reads it: a bit or a byte a pixel, whatever the file's bits;
 * gray_palette), 16-bit (5-5-5 or 5-6-5, scaled as PIL's
 * unpackers do), 24-bit and 32-bit (alpha or padding dropped), bitfields in
 * the layouts PIL knows, bottom-up and top-down rows, and RLE8 and RLE4 data
 * as PIL 9.4's BmpRleDecoder reads it, its quirks included (rle_indices). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"

int vggcl__is_bmp(const unsigned char *magic, size_t n)
{
    return n >= 2 && magic[0] == 'B' && magic[1] == 'M';
}

static uint32_t u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static unsigned u16(const unsigned char *p) { return p[0] | p[1] << 8; }

/* How a pixel's bytes give R, G, B: PIL's raw modes. */
typedef enum { PAL1, PAL4, PAL8, BGR15, BGR16, BGR, BGRX, XBGR, RGBA } bmp_layout;

/* 32-bit bitfields (R, G, B, A masks) PIL reads, and the byte order each means (ABGR as XBGR, BGRA as
 * BGRX: the alpha is dropped). */
static const struct {
    uint32_t mask[4];
    bmp_layout layout;
} fields32[] = {
    { { 0xFF0000, 0xFF00, 0xFF, 0 }, BGRX },         { { 0xFF000000, 0xFF0000, 0xFF00, 0 }, XBGR },
    { { 0xFF000000, 0xFF0000, 0xFF00, 0xFF }, XBGR }, { { 0xFF, 0xFF00, 0xFF0000, 0xFF000000 }, RGBA },
    { { 0xFF0000, 0xFF00, 0xFF, 0xFF000000 }, BGRX }, { { 0, 0, 0, 0 }, BGRX },
};

/* One row of w pixels from src to RGB. */
static void unpack_row(bmp_layout l, const unsigned char *src, int w, const unsigned char pal[256][3], unsigned char *dst)
{
    for (int x = 0; x < w; x++, dst += 3) {
        unsigned v;
        switch (l) {
        case PAL1: memcpy(dst, pal[src[x >> 3] >> (7 - (x & 7)) & 1], 3); break;
        case PAL4: memcpy(dst, pal[src[x >> 1] >> (x & 1 ? 0 : 4) & 15], 3); break;
        case PAL8: memcpy(dst, pal[src[x]], 3); break;
        case BGR15: /* (PIL's unpackers: each field times 255 over its largest value, rounded down) */
            v = u16(src + 2 * x);
            dst[0] = (unsigned char)((v >> 10 & 31) * 255 / 31), dst[1] = (unsigned char)((v >> 5 & 31) * 255 / 31);
            dst[2] = (unsigned char)((v & 31) * 255 / 31);
            break;
        case BGR16:
            v = u16(src + 2 * x);
            dst[0] = (unsigned char)((v >> 11 & 31) * 255 / 31), dst[1] = (unsigned char)((v >> 5 & 63) * 255 / 63);
            dst[2] = (unsigned char)((v & 31) * 255 / 31);
            break;
        case BGR: dst[0] = src[3 * x + 2], dst[1] = src[3 * x + 1], dst[2] = src[3 * x]; break;
        case BGRX: dst[0] = src[4 * x + 2], dst[1] = src[4 * x + 1], dst[2] = src[4 * x]; break;
        case XBGR: dst[0] = src[4 * x + 3], dst[1] = src[4 * x + 2], dst[2] = src[4 * x + 1]; break;
        case RGBA: memcpy(dst, src + 4 * x, 3); break;
        }
    }
}

#define BMP_FAIL(...) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, __VA_ARGS__)

/* Whether PIL 9.4 calls the palette (colors entries, got of them in the file) gray and drops it: two entries
 * black and white (its mode "1"), else the ramp (i, i, i) of them all (its mode "L"). It then reads the pixels
 * as that mode's, a bit or a byte each from the start of each row, whatever the file's bits: the same as the
 * palette for 1-bit black and white and 8-bit ramps, not for the others. */
static int gray_palette(const unsigned char pal[256][3], uint32_t colors, size_t got)
{
    int gray = got == colors;
    for (uint32_t i = 0; gray && i < colors; i++) {
        const unsigned v = colors == 2 ? (i ? 255 : 0) : i;
        gray = pal[i][0] == v && pal[i][1] == v && pal[i][2] == v;
    }
    return gray;
}

/* The palette indices of a w x h image in RLE8 or RLE4 (rle4) from f's position into idx (w * h bytes, zeros:
 * a run of zeros is not written, so that a hostile file's deltas take no memory), row after row as the file
 * holds them, as PIL 9.4's BmpRleDecoder reads them:
 * - a run is cut at the row's end, but absolute data is not (it goes on into the next row, and the runs after
 *   it on that row are cut to nothing until an end of line or a delta);
 * - RLE4 absolute data of n pixels gives n / 2 bytes' pixels, rounded down, though n are counted;
 * - a delta's two bytes are read, passed over, and the next two taken for its right and up;
 * - absolute data ends on an even position in the file, not in the data;
 * - the data ends at an end of bitmap, at the file's end, or once the image is full; short of full, PIL
 *   refuses it (not enough image data), and a delta cut by the file's end too. */
/* One index of PIL's data, at *len: what runs past total is dropped, and a zero is not written (idx is zeros). */
static void put(unsigned char *idx, uint64_t total, uint64_t *len, int v)
{
    if (v && *len < total) idx[*len] = (unsigned char)v;
    ++*len;
}

static vggcl_status rle_indices(vggcl_ctx *ctx, const char *path, FILE *f, uint32_t w, uint32_t h, int rle4,
                                unsigned char *idx)
{
    const uint64_t total = (uint64_t)w * h;
    uint64_t len = 0, x = 0; /* (len: PIL's data, which may run past total; what is past it is dropped) */
    while (len < total) {
        const int count = getc(f), code = getc(f);
        if (count == EOF || code == EOF) break;
        if (count) { /* a run of count pixels: code, or RLE4's two nibbles in turn */
            const uint64_t n = x + (unsigned)count > w ? (x < w ? w - x : 0) : (unsigned)count;
            for (uint64_t i = 0; i < n; i++) put(idx, total, &len, rle4 ? (i % 2 ? code & 15 : code >> 4) : code);
            x += n;
        } else if (code == 0) { /* end of line */
            len = (len + w - 1) / w * w, x = 0;
        } else if (code == 1) { /* end of bitmap */
            break;
        } else if (code == 2) { /* delta (PIL: two bytes passed over, then right and up) */
            unsigned char skipped[2], d[2];
            if (fread(skipped, 1, 2, f) < 2) break;
            if (fread(d, 1, 2, f) < 2)
                BMP_FAIL("%s: corrupt BMP: its RLE data ends inside a delta (PIL cannot read it either)", path);
            len += d[0] + (uint64_t)d[1] * w, x = len % w;
        } else { /* absolute data: code pixels */
            const size_t bytes = rle4 ? (unsigned)code / 2 : (unsigned)code;
            unsigned char run[255];
            const size_t got = fread(run, 1, bytes, f);
            for (size_t i = 0; i < got; i++) {
                if (rle4) put(idx, total, &len, run[i] >> 4), put(idx, total, &len, run[i] & 15);
                else put(idx, total, &len, run[i]);
            }
            if (got < bytes) break;
            x += (unsigned)code;
            const long at = ftell(f);
            if (at >= 0 && at % 2 && fseek(f, 1, SEEK_CUR) != 0) break;
        }
    }
    if (len < total)
        BMP_FAIL("%s: corrupt BMP: its RLE data ends before the image is full (%llu of %llu pixels; PIL cannot read "
                 "it either: not enough image data)", path, (unsigned long long)len, (unsigned long long)total);
    return VGGCL_OK;
}

/* An RLE BMP's pixels from offset (0: where f is) through pal into *rgb and *part. */
static vggcl_status load_rle(vggcl_ctx *ctx, const char *path, FILE *f, uint32_t offset, uint32_t width,
                             uint32_t height, int rle4, int top_down, const unsigned char pal[256][3],
                             unsigned char **rgb, vggcl__rgb_part *part)
{
    if (offset && fseek(f, (long)offset, SEEK_SET) != 0)
        BMP_FAIL("%s: corrupt BMP: its pixels' offset %u is past the file", path, offset);
    unsigned char *idx = calloc((size_t)width * height, 1), *out = NULL; /* (RGB only once the data is read) */
    if (!idx) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    vggcl_status st = rle_indices(ctx, path, f, width, height, rle4, idx);
    if (st == VGGCL_OK && !(out = malloc((size_t)width * height * 3)))
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    for (uint32_t y = 0; st == VGGCL_OK && y < height; y++) /* (bottom-up unless top_down) */
        unpack_row(PAL8, idx + (size_t)y * width, (int)width, pal, out + (size_t)(top_down ? y : height - 1 - y) * width * 3);
    free(idx);
    if (st != VGGCL_OK) return st;
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)width * 3, (int)height, (int)width, 0, 0, (int)height, (int)width };
    return VGGCL_OK;
}

vggcl_status vggcl__load_bmp(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p, unsigned char **rgb,
                             vggcl__rgb_part *part)
{
    unsigned char head[14 + 124 + 12];
    if (fread(head, 1, 18, f) != 18) BMP_FAIL("%s: corrupt BMP: the file is truncated", path);
    uint32_t offset = u32(head + 10);
    const uint32_t size = u32(head + 14); /* the header's, its own 4 bytes in it */
    if (size != 12 && size != 40 && size != 64 && size != 108 && size != 124)
        BMP_FAIL("%s: a BMP vggcl does not read: a header of %u bytes (it reads 12, 40, 64, 108 and 124, as PIL)", path,
                 size);
    const unsigned char *h = head + 18;
    if (fread(head + 18, 1, size - 4, f) != size - 4) BMP_FAIL("%s: corrupt BMP: the file is truncated", path);
    uint32_t width, height, compression = 0, colors = 0, mask[4] = { 0, 0, 0, 0 };
    unsigned bits;
    int top_down = 0, entry = 4; /* (a palette entry's bytes: BGRX, or BGR in OS/2's first header) */
    if (size == 12) {
        width = u16(h), height = u16(h + 2), bits = u16(h + 6), entry = 3;
    } else { /* (a negative height is a top-down image, as PIL tells it: by its top byte) */
        top_down = h[7] == 0xFF;
        width = u32(h), height = top_down ? (uint32_t)(0 - u32(h + 4)) : u32(h + 4);
        bits = u16(h + 10), compression = u32(h + 12), colors = u32(h + 28);
        if (compression == 3 && size >= 56)
            for (int k = 0; k < 4; k++) mask[k] = u32(h + 36 + 4 * k);
        else if (compression == 3) { /* (the 40-byte header's three masks follow it) */
            if (fread(head + 14 + size, 1, 12, f) != 12) BMP_FAIL("%s: corrupt BMP: the file is truncated", path);
            for (int k = 0; k < 3; k++) mask[k] = u32(head + 14 + size + 4 * k);
        }
    }
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        BMP_FAIL("%s: a BMP vggcl does not read: %u bits a pixel (it reads 1, 4, 8, 16, 24 and 32, as PIL)", path, bits);
    const int rle = compression == 1 || compression == 2;
    if (rle && bits > 8) /* (PIL takes its pixels for palette indices, which its RGB image refuses) */
        BMP_FAIL("%s: a BMP vggcl does not read: RLE%d compression of %u-bit pixels (RLE is for palettes; PIL cannot "
                 "read it either)", path, compression == 1 ? 8 : 4, bits);
    if (compression != 0 && compression != 3 && !rle)
        BMP_FAIL("%s: a BMP vggcl does not read: compression %u (it reads uncompressed BMPs, RLE8, RLE4 and "
                 "bitfields)", path, compression);
    if (size != 12 && h[3] & 0x80) /* (said as 4294967280 x 16 pixels, too large) */
        BMP_FAIL("%s: corrupt BMP: a width of %lld pixels (negative)", path, (long long)width - 4294967296LL);
    if (width == 0 || height == 0) BMP_FAIL("%s: corrupt BMP: %u x %u pixels (width x height)", path, width, height);
    bmp_layout layout = bits == 1 ? PAL1 : bits == 4 ? PAL4 : bits == 8 ? PAL8 : bits == 16 ? BGR15 : bits == 24 ? BGR : BGRX;
    if (compression == 3) { /* the layouts PIL knows */
        int known = 0;
        if (bits == 32)
            for (size_t k = 0; k < sizeof fields32 / sizeof fields32[0] && !known; k++)
                if (!memcmp(mask, fields32[k].mask, sizeof mask)) layout = fields32[k].layout, known = 1;
        if (bits == 24) known = mask[0] == 0xFF0000 && mask[1] == 0xFF00 && mask[2] == 0xFF;
        if (bits == 16 && mask[0] == 0xF800 && mask[1] == 0x7E0 && mask[2] == 0x1F) layout = BGR16, known = 1;
        if (bits == 16 && mask[0] == 0x7C00 && mask[1] == 0x3E0 && mask[2] == 0x1F) layout = BGR15, known = 1;
        if (!known)
            BMP_FAIL("%s: a BMP vggcl does not read: %u-bit bitfields R %#x, G %#x, B %#x, A %#x (PIL does not either)",
                     path, bits, mask[0], mask[1], mask[2], mask[3]);
    }
    const vggcl_status fits = vggcl__decoded_size_check(ctx, path, height, width, p);
    if (fits != VGGCL_OK) return fits;
    /* the palette: its entries (the header's count, else 2^bits) right after the header; an index past them is
     * PIL's gray ramp (i, i, i), as a short PNG palette's */
    unsigned char pal[256][3];
    int gray = 0; /* (gray_palette's) */
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (unsigned char)i;
    if (bits <= 8) {
        if (!colors) colors = 1u << bits;
        if (colors > 256) /* (PIL opens it, then its palette of more than 256 entries is refused: invalid palette size) */
            BMP_FAIL("%s: a BMP vggcl does not read: a palette of %u colors (at most 256; PIL cannot read it either)",
                     path, colors);
        unsigned char e[256 * 4];
        /* (as many whole entries as the file holds, as PIL reads them: a palette cut by the file's end, with pixels
         * at an offset before it, is read; the entries after it are the gray ramp) */
        const size_t got = fread(e, (size_t)entry, colors, f);
        for (uint32_t i = 0; i < got; i++)
            pal[i][0] = e[i * entry + 2], pal[i][1] = e[i * entry + 1], pal[i][2] = e[i * entry];
        gray = gray_palette((const unsigned char(*)[3])pal, colors, got);
        if (rle && gray && colors == 2) /* (PIL's mode "1", which takes no indices) */
            BMP_FAIL("%s: a BMP vggcl does not read: RLE%d compression with a black and white palette (PIL cannot read "
                     "it either)", path, compression == 1 ? 8 : 4);
        if (offset == 14 + size) offset += 4 * colors; /* (a file whose pixels' offset forgot the palette: PIL's) */
    }
    if (rle) return load_rle(ctx, path, f, offset, width, height, compression == 2, top_down,
                             (const unsigned char(*)[3])pal, rgb, part);
    const size_t stride = ((size_t)width * bits + 31) / 32 * 4;
    if (gray && colors == 2) /* (a 4 or 8-bit file: PIL reads the first bits of each row, one a pixel) */
        layout = PAL1;
    else if (gray && bits < 8) { /* (a byte a pixel, the ramp the same as those bytes) */
        if (width > stride) /* (ImageFolder's loader fails; opened by its name, PIL reads past each row) */
            BMP_FAIL("%s: a BMP vggcl does not read: %u-bit pixels with a gray palette of %u entr%s, which PIL 9.4 "
                     "reads as a byte a pixel, its %u-pixel rows past their %zu bytes (PIL cannot read it either: "
                     "codec configuration error)", path, bits, colors, colors == 1 ? "y" : "ies", width, stride);
        layout = PAL8;
    }
    struct stat sb; /* (a file too short for its rows refused before the image's memory is taken: PIL reads it
                     * into an image of that size first) */
    const long at = ftell(f);
    const uint64_t start = offset ? offset : (uint64_t)(at < 0 ? 0 : at);
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < start + (uint64_t)stride * height)
        BMP_FAIL("%s: corrupt BMP: the file is truncated (%lld bytes, its %u rows need %llu)", path,
                 (long long)sb.st_size, height, (unsigned long long)(start + (uint64_t)stride * height));
    unsigned char *row = malloc(stride + 1), *out = malloc((size_t)width * height * 3 + 1);
    if (!row || !out) {
        free(row), free(out);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    if (offset && fseek(f, (long)offset, SEEK_SET) != 0) {
        free(row), free(out);
        BMP_FAIL("%s: corrupt BMP: its pixels' offset %u is past the file", path, offset);
    }
    for (uint32_t y = 0; y < height; y++) { /* (bottom-up unless top_down) */
        if (fread(row, 1, stride, f) != stride) {
            free(row), free(out);
            BMP_FAIL("%s: corrupt BMP: the file is truncated (%u of %u rows)", path, y, height);
        }
        unpack_row(layout, row, (int)width, (const unsigned char(*)[3])pal,
                   out + (size_t)(top_down ? y : height - 1 - y) * width * 3);
    }
    free(row);
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)width * 3, (int)height, (int)width, 0, 0, (int)height, (int)width };
    return VGGCL_OK;
}
