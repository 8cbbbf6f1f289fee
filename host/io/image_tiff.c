/* TIFF (libtiff) decoding to 8-bit RGB as PIL 9 reads it, then Image.convert("RGB"):
 * its first page; gray and palette of 1, 2, 4 and 8 bits (MinIsWhite inverted, 2 and
 * 4-bit gray scaled as PIL's unpackers, a palette's 16-bit entries cut to their high
 * byte), 16-bit gray (PIL's "I;16", which convert clips at 255), gray+alpha and
 * palette+alpha, RGB of 8 and 16 bits (its high byte) with an unassociated or
 * unspecified extra sample (dropped); any compression libtiff decodes but JPEG; strips
 * or tiles; the Orientation tag applied as PIL's load does. Not read (said): other
 * photometric interpretations (CMYK, YCbCr, ...), floats and signed samples, 12 and
 * 32-bit gray, 16-bit MinIsWhite (which PIL 9.4 reads as MinIsBlack), premultiplied
 * alpha, separate planes, fill order 2. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "image.h"

int vggcl__is_tiff(const unsigned char *magic, size_t n)
{
    return n >= 4 && ((!memcmp(magic, "II", 2) && (magic[2] == 42 || magic[2] == 43) && !magic[3]) ||
                      (!memcmp(magic, "MM", 2) && !magic[2] && (magic[3] == 42 || magic[3] == 43)));
}

typedef struct {
    char msg[256]; /* libtiff's first error */
} tiff_errors;

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)module;
    tiff_errors *e = user;
    if (!e->msg[0]) vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1; /* (quiet: PIL says nothing of them either) */
}

/* How a pixel's samples give R, G, B: PIL's raw modes. */
typedef enum { GRAY, GRAY_INV, GRAY16, PALETTE, RGB8, RGB16 } tiff_layout;

/* The raw samples of one row (width pixels of spp samples of bits) to RGB. */
static void unpack_row(tiff_layout l, const unsigned char *src, int width, int spp, int bits,
                       const unsigned char pal[256][3], unsigned char *dst)
{
    const int per = 8 / (bits < 8 ? bits : 8), mask = (1 << (bits < 8 ? bits : 8)) - 1, scale = 255 / mask;
    for (int x = 0; x < width; x++, dst += 3) {
        unsigned v = 0;
        if (l == GRAY || l == GRAY_INV || l == PALETTE) {
            if (bits < 8)
                v = src[x / per] >> ((per - 1 - x % per) * bits) & mask;
            else
                v = src[(size_t)x * spp];
        }
        switch (l) {
        case GRAY: dst[0] = dst[1] = dst[2] = (unsigned char)(v * scale); break;
        case GRAY_INV: dst[0] = dst[1] = dst[2] = (unsigned char)(255 - v * scale); break;
        case GRAY16: { /* (native order from libtiff; convert's "I;16" to "L": clipped) */
            uint16_t s;
            memcpy(&s, src + (size_t)x * 2, 2);
            dst[0] = dst[1] = dst[2] = (unsigned char)(s > 255 ? 255 : s);
            break;
        }
        case PALETTE: memcpy(dst, pal[v], 3); break;
        case RGB8: memcpy(dst, src + (size_t)x * spp, 3); break;
        case RGB16: /* (native order from libtiff: the high byte of each value) */
            for (int c = 0; c < 3; c++) {
                uint16_t s;
                memcpy(&s, src + ((size_t)x * spp + c) * 2, 2);
                dst[c] = (unsigned char)(s >> 8);
            }
            break;
        }
    }
}

/* PIL's Image.transpose for TIFF's Orientation 2-8, from in (h, w) to out ((w, h) for 5-8). */
static void orient(int o, const unsigned char *in, int h, int w, unsigned char *out)
{
    const int swap = o >= 5, oh = swap ? w : h, ow = swap ? h : w;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sy, sx;
            switch (o) {
            case 2: sy = y, sx = w - 1 - x; break;         /* FLIP_LEFT_RIGHT */
            case 3: sy = h - 1 - y, sx = w - 1 - x; break; /* ROTATE_180 */
            case 4: sy = h - 1 - y, sx = x; break;         /* FLIP_TOP_BOTTOM */
            case 5: sy = x, sx = y; break;                 /* TRANSPOSE */
            case 6: sy = h - 1 - x, sx = y; break;         /* ROTATE_270 */
            case 7: sy = h - 1 - x, sx = w - 1 - y; break; /* TRANSVERSE */
            default: sy = x, sx = w - 1 - y; break;        /* ROTATE_90 */
            }
            memcpy(out + ((size_t)y * ow + x) * 3, in + ((size_t)sy * w + sx) * 3, 3);
        }
}

/* The layout of the first page, or a reason it is not read (why, NULL when read). */
static const char *layout_of(TIFF *tif, tiff_layout *l, int *spp_out, int *bits_out, unsigned char pal[256][3])
{
    uint16_t bits = 1, spp = 1, photo, fmt = 1, fill = 1, planar = 1, compression = 1, n_extra = 0, *extra = NULL;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra);
    if (n_extra && !extra) return "ExtraSamples libtiff could not read (out of memory?)"; /* (a count, no values) */
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo)) return "no PhotometricInterpretation";
    *spp_out = spp, *bits_out = bits;
    if (compression == COMPRESSION_JPEG || compression == COMPRESSION_OJPEG) return "JPEG compression";
    if (fmt != SAMPLEFORMAT_UINT) return "samples that are not unsigned integers";
    if (fill != FILLORDER_MSB2LSB) return "fill order 2";
    if (planar != PLANARCONFIG_CONTIG && spp > 1) return "separate planes";
    const int extras_ok = n_extra == spp - (photo == PHOTOMETRIC_RGB ? 3 : 1);
    if (photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE || photo == PHOTOMETRIC_PALETTE) {
        const int alpha = spp == 2 && bits == 8 && n_extra == 1 && extra[0] == EXTRASAMPLE_UNASSALPHA &&
                          photo != PHOTOMETRIC_MINISWHITE; /* (LA and PA) */
        if (spp == 1 && bits == 16 && photo == PHOTOMETRIC_MINISBLACK) {
            *l = GRAY16;
            return NULL;
        }
        if (spp == 1 && bits == 16 && photo == PHOTOMETRIC_MINISWHITE)
            return "16-bit MinIsWhite gray (PIL 9.4 reads it as MinIsBlack, not inverted)";
        if (!(spp == 1 && (bits == 1 || bits == 2 || bits == 4 || bits == 8)) && !alpha)
            return photo == PHOTOMETRIC_PALETTE ? "a palette layout PIL does not read" : "a gray depth vggcl does not read";
        if (photo == PHOTOMETRIC_PALETTE) {
            uint16_t *r, *g, *b;
            if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) return "a palette image without a ColorMap";
            if (!r || !g || !b) return "a ColorMap libtiff could not read (out of memory?)";
            for (int i = 0; i < 256; i++) /* (2^bits entries; the rest past any index) */
                if (i < 1 << bits) pal[i][0] = (unsigned char)(r[i] >> 8), pal[i][1] = (unsigned char)(g[i] >> 8),
                                    pal[i][2] = (unsigned char)(b[i] >> 8);
            *l = PALETTE;
        } else {
            *l = photo == PHOTOMETRIC_MINISWHITE ? GRAY_INV : GRAY;
        }
        return NULL;
    }
    if (photo != PHOTOMETRIC_RGB) return "a photometric interpretation other than gray, palette and RGB";
    if ((bits != 8 && bits != 16) || (spp != 3 && spp != 4) || (n_extra && !extras_ok))
        return "an RGB layout vggcl does not read";
    if (spp == 4 && n_extra && extra[0] == EXTRASAMPLE_ASSOCALPHA) return "premultiplied (associated) alpha";
    *l = bits == 8 ? RGB8 : RGB16;
    return NULL;
}

/* The first page's raw samples, row by row (rows of line bytes, bpp bits a pixel), from strips or tiles: 1; 0 on
 * a failure (e's); -1 out of host memory for a tile (said as such, not as a corrupt file). */
static int read_raw(TIFF *tif, int h, size_t line, int bpp, unsigned char *raw)
{
    if (!TIFFIsTiled(tif)) {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > (uint32_t)h) rps = (uint32_t)h;
        for (uint32_t s = 0, y = 0; y < (uint32_t)h; s++, y += rps) {
            const uint32_t rows = (uint32_t)h - y < rps ? (uint32_t)h - y : rps;
            if (TIFFReadEncodedStrip(tif, s, raw + (size_t)y * line, (tmsize_t)(rows * line)) < 0) return 0;
        }
        return 1;
    }
    uint32_t tw = 0, th = 0, w = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw), TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    const tmsize_t tile_bytes = TIFFTileSize(tif), tile_line = TIFFTileRowSize(tif);
    if (tile_bytes <= 0 || !tw || !th) return 0;
    unsigned char *tile = malloc((size_t)tile_bytes);
    if (!tile) return -1;
    for (uint32_t y = 0; y < (uint32_t)h; y += th)
        for (uint32_t x = 0; x < w; x += tw) {
            if (TIFFReadTile(tif, tile, x, y, 0, 0) < 0) {
                free(tile);
                return 0;
            }
            /* (a tile's rows are whole bytes, the decoder refusing others: where they were not, the byte
             * x * tile_line / tw of rows rounded up to bytes ran past the image's row, and the copy past the heap's
             * block; n bounded by the tile's row too) */
            const uint32_t across = w - x < tw ? w - x : tw; /* (the tile's pixels inside the image) */
            const size_t at = (size_t)x * bpp / 8, whole = ((size_t)across * bpp + 7) / 8,
                         n = whole < (size_t)tile_line ? whole : (size_t)tile_line;
            for (uint32_t r = 0; r < th && y + r < (uint32_t)h; r++)
                memcpy(raw + (size_t)(y + r) * line + at, tile + (size_t)r * tile_line, n);
        }
    free(tile);
    return 1;
}

/* Whether the file's first directory says palette (PhotometricInterpretation 3) without a ColorMap, read
 * from its bytes (pread: the descriptor's place untouched): libtiff makes such an image of 8 bits gray,
 * unsaid, where PIL refuses it (its palette is the ColorMap's). Classic TIFF and BigTIFF. */
static uint64_t get_uint(const unsigned char *p, int n, int big_endian)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[big_endian ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

static int palette_without_colormap(int fd)
{
    unsigned char h[16], e[20];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || (memcmp(h, "II", 2) && memcmp(h, "MM", 2))) return 0;
    const int be = h[0] == 'M', big = (be ? h[3] : h[2]) == 43;
#define U(p, n) get_uint(p, n, be)
    const uint64_t dir = big ? U(h + 8, 8) : U(h + 4, 4);
    unsigned char count_bytes[8];
    if (pread(fd, count_bytes, big ? 8 : 2, (off_t)dir) != (big ? 8 : 2)) return 0;
    const uint64_t count = U(count_bytes, big ? 8 : 2);
    const size_t entry = big ? 20 : 12;
    int photometric = -1, colormap = 0;
    for (uint64_t i = 0; i < count && i < 4096; i++) {
        if (pread(fd, e, entry, (off_t)(dir + (big ? 8 : 2) + i * entry)) != (ssize_t)entry) return 0;
        const unsigned tag = (unsigned)U(e, 2);
        if (tag == TIFFTAG_PHOTOMETRIC && U(e + 2, 2) == TIFF_SHORT) photometric = (int)U(e + (big ? 12 : 8), 2);
        colormap |= tag == TIFFTAG_COLORMAP;
    }
#undef U
    return photometric == PHOTOMETRIC_PALETTE && !colormap;
}

/* The most bytes a tile may take: a tile is decoded whole, so its memory is bounded by the image's own (its raw
 * samples, image bytes) or TILE_BYTES_MIN, whichever is larger: writers tile small images with tiles of 256 to
 * 2048 a side (RGBA of 16 bits at 2048: 32 MiB); a tile of 32768 a side in a 16 x 16 image took 3 GB. */
#define TILE_BYTES_MIN ((uint64_t)64 << 20)

vggcl_status vggcl__load_tiff(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p, unsigned char **rgb,
                              vggcl__rgb_part *part)
{
    tiff_errors e = { "" };
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    const int fd = dup(fileno(f)); /* (TIFFClose closes it) */
    if (!opts || fd < 0) {
        TIFFOpenOptionsFree(opts);
        if (fd >= 0) close(fd);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory (or descriptors) opening a TIFF", path);
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &e);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, NULL);
    TIFF *tif = TIFFFdOpenExt(fd, path, "rm", opts); /* (m: read, not mapped: a failing disk or a file cut short
                                                       * meanwhile is a read error, not a SIGBUS) */
    TIFFOpenOptionsFree(opts);
    if (!tif) {
        close(fd);
        if (strstr(e.msg, "Out of memory")) /* (libtiff's allocations: "Out of memory (TIFF structure)") */
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory reading the TIFF (libtiff: %s)", path,
                               e.msg);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt TIFF: %s", path, e.msg[0] ? e.msg : "not readable");
    }
    uint32_t w32 = 0, h32 = 0;
    uint16_t orientation = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w32), TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h32);
    TIFFGetField(tif, TIFFTAG_ORIENTATION, &orientation);
    tiff_layout layout = GRAY;
    int spp = 1, bits = 8;
    unsigned char pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (unsigned char)i;
    const char *why = palette_without_colormap(fd) ? "a palette image without a ColorMap"
                                                   : layout_of(tif, &layout, &spp, &bits, pal);
    vggcl_status st = VGGCL_OK;
    if (why)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a TIFF vggcl does not read: %s (%d samples of %d bits a pixel)",
                         path, why, spp, bits);
    else if (w32 == 0 || h32 == 0)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt TIFF: %u x %u pixels (width x height)", path, w32, h32);
    const int w = (int)w32, h = (int)h32, turned = orientation >= 5 && orientation <= 8;
    if (st == VGGCL_OK) st = vggcl__decoded_size_check(ctx, path, turned ? w32 : h32, turned ? h32 : w32, p);
    const size_t line = st == VGGCL_OK ? (size_t)TIFFScanlineSize64(tif) : 0;
    unsigned char *raw = NULL, *out = NULL, *turn = NULL;
    if (st == VGGCL_OK && line < ((size_t)w * spp * bits + 7) / 8)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt TIFF: rows of %zu bytes for %d pixels", path, line, w);
    uint32_t tw = 0, th = 0;
    const uint64_t tile_bytes = TIFFIsTiled(tif) ? (uint64_t)TIFFTileSize64(tif) : 0,
                   image_bytes = (uint64_t)line * (uint64_t)h;
    if (st == VGGCL_OK && TIFFIsTiled(tif) && TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) &&
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) &&
        tile_bytes > (image_bytes > TILE_BYTES_MIN ? image_bytes : TILE_BYTES_MIN))
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a TIFF vggcl does not read: tiles of %u x %u pixels (width x "
                         "height; %llu bytes) for an image of %u x %u (%llu bytes); a tile may take up to the larger "
                         "of the image's bytes and 64 MiB", path, tw, th, (unsigned long long)tile_bytes, w32, h32,
                         (unsigned long long)image_bytes);
    /* Tiles whose rows are not whole bytes (12 pixels of 1 bit; the TIFF specification's TileWidth is a multiple of
     * 16, libtiff only warns): each starts inside a byte of the image's row. PIL 9.4 reads those cut by the right
     * edge with their rows shifted (int(width * bits / 8) bytes a row), and refuses some compressed ones. */
    if (st == VGGCL_OK && tw && (uint64_t)tw * (uint64_t)(spp * bits) % 8)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a TIFF vggcl does not read: tiles %u pixel%s wide of %d bit%s, "
                         "rows that are not whole bytes (PIL 9.4 reads some such tiles shifted and refuses others; "
                         "the TIFF specification's tiles are a multiple of 16 pixels wide)", path, tw,
                         tw == 1 ? "" : "s", spp * bits, spp * bits == 1 ? "" : "s");
    if (st == VGGCL_OK) {
        raw = calloc(line * h + 1, 1), out = malloc((size_t)w * h * 3 + 1); /* (zeros where a strip or tile
                                                                              * decodes short, as libtiff lets it) */
        turn = orientation >= 2 && orientation <= 8 ? malloc((size_t)w * h * 3 + 1) : NULL;
        if (!raw || !out || (orientation >= 2 && orientation <= 8 && !turn))
            st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %d x %d pixels", path, w, h);
    }
    const int got = st == VGGCL_OK ? read_raw(tif, h, line, spp * bits, raw) : 1;
    if (got < 0)
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for a tile of %u x %u pixels", path, tw, th);
    else if (!got && strstr(e.msg, "Out of memory"))
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory reading the TIFF (libtiff: %s)", path, e.msg);
    else if (!got && !strncmp(e.msg, "Read error", 10)) /* (a short read: "Read error at scanline 4294967295; got
                                                            * 3732 bytes, expected 8064"; a system's: image_decode.c) */
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt TIFF: the file is truncated (libtiff: %s)", path, e.msg);
    else if (!got)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt TIFF: %s", path, e.msg[0] ? e.msg : "its pixels cannot be read");
    TIFFClose(tif);
    if (st == VGGCL_OK) {
        for (int y = 0; y < h; y++)
            unpack_row(layout, raw + (size_t)y * line, w, spp, bits, (const unsigned char(*)[3])pal, out + (size_t)y * w * 3);
        if (turn) {
            orient(orientation, out, h, w, turn);
            unsigned char *t = out;
            out = turn, turn = t;
        }
    }
    free(raw), free(turn);
    if (st != VGGCL_OK) {
        free(out);
        return st;
    }
    const int oh = turned ? w : h, ow = turned ? h : w;
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)ow * 3, oh, ow, 0, 0, oh, ow };
    return VGGCL_OK;
}
