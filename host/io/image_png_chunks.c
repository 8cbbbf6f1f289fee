/* A PNG's chunks beside its pixels, as PIL 9.4's PngStream reads them when Image.open parses the
 * chunks before the image data and convert("RGB") loads it (load_end: every chunk after the data, to
 * the end chunk): what its handlers refuse is refused here, before libpng decodes the pixels
 * (image_decode.c), which is told to pass over the text and ICC chunks without inflating them.
 * Refused as by PIL: a zTXt, iTXt or iCCP that inflates past 1 MiB ("Decompressed Data Too Large":
 * libpng kept up to 1000 such chunks of 8 MB each, gigabytes for a file of a few megabytes), text past
 * 64 MiB in all, a truncated sRGB, pHYs, acTL, fcTL or fdAT chunk, a gAMA, cHRM or tRNS its reader
 * cannot unpack, an iCCP of an unknown compression, an animation's frames out of sequence or outside
 * the image, and a chunk after the image data cut short by the file's end. What breaks the chunks'
 * structure (a checksum, a name, the file's end before the image data) is left to libpng, as before;
 * so is a cut in the image data's chunks (PIL takes one its decoder did not need, in a last IDAT of a
 * checksum alone). Memory stays bounded; time, as PIL's, grows with the chunks to inflate (up to 1 MiB
 * each). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "image.h"

#define TEXT_CHUNK (1u << 20)            /* PIL's MAX_TEXT_CHUNK: a chunk's inflated bytes at most */
#define TEXT_MEMORY (64ull * TEXT_CHUNK) /* PIL's MAX_TEXT_MEMORY: all the text chunks' characters */

typedef struct {
    vggcl_ctx *ctx;
    const char *path;
    uint32_t w, h;           /* IHDR's */
    char mode;               /* PIL's mode, as tRNS reads it: 'P' palette, 'G' 1, L or I, 'R' RGB, 0 other */
    unsigned long long text; /* PIL's text_memory */
    long long seq;           /* the last frame sequence number, -1 none (PIL's _seq_num) */
    long long frames;        /* acTL's frame count, -1 none (im_n_frames) */
    int animated;            /* more than one frame, as PIL knows it once the image data starts (is_animated) */
    int framed;              /* an fcTL before the image data (PIL's "bbox") */
} walk;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static vggcl_status refuse(const walk *k, const char *cid, const char *why)
{
    return vggcl__fail(k->ctx, VGGCL_ERR_FORMAT, "%s: corrupt PNG: %.4s chunk: %s; PIL refuses the file too",
                       k->path, cid, why);
}

/* PIL's _safe_zlib_decompress: the bytes data inflates to, up to 1 MiB; *over when more (its input not all
 * consumed at 1 MiB: "Decompressed Data Too Large"); -1 for a stream zlib calls broken (PIL then takes it
 * as empty). With utf8 non-NULL the bytes go through it too. */
typedef struct {
    int need;        /* continuation bytes still to come */
    unsigned lo, hi; /* the range of the next one (overlongs, surrogates, past U+10FFFF refused) */
    unsigned long long chars;
    int bad;
} utf8_count;

static void utf8_take(utf8_count *u, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n && !u->bad; i++) {
        const unsigned c = s[i];
        if (u->need) {
            if (c < u->lo || c > u->hi) u->bad = 1;
            u->lo = 0x80, u->hi = 0xBF;
            u->need--;
            continue;
        }
        u->chars++;
        u->lo = 0x80, u->hi = 0xBF;
        if (c < 0x80) continue;
        if (c >= 0xC2 && c <= 0xDF) u->need = 1;
        else if (c >= 0xE0 && c <= 0xEF) u->need = 2, u->lo = c == 0xE0 ? 0xA0 : 0x80, u->hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) u->need = 3, u->lo = c == 0xF0 ? 0x90 : 0x80, u->hi = c == 0xF4 ? 0x8F : 0xBF;
        else u->bad = 1;
    }
}

static long long inflated(const unsigned char *data, size_t n, int *over, utf8_count *utf8)
{
    static const size_t block = 1 << 16;
    unsigned char *out = malloc(block);
    z_stream z = { 0 };
    *over = 0;
    if (!out || inflateInit(&z) != Z_OK) {
        free(out);
        return -2;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    unsigned long long got = 0;
    int err = Z_OK;
    while (got < TEXT_CHUNK && err == Z_OK && z.avail_in) {
        z.next_out = out;
        z.avail_out = (uInt)(TEXT_CHUNK - got < block ? TEXT_CHUNK - got : block);
        err = inflate(&z, Z_SYNC_FLUSH);
        const size_t made = (size_t)(z.next_out - out);
        if (utf8) utf8_take(utf8, out, made);
        got += made;
        if (err == Z_BUF_ERROR && made) err = Z_OK; /* (no progress only when nothing was made) */
    }
    /* (a data error right after 1 MiB is a broken stream to Python, as zlib read on past the output) */
    *over = got == TEXT_CHUNK && (err == Z_OK || err == Z_BUF_ERROR) && z.avail_in > 0;
    inflateEnd(&z);
    free(out);
    return err == Z_OK || err == Z_STREAM_END || err == Z_BUF_ERROR ? (long long)got : -1;
}

/* check_text_memory: PIL's count of text characters, refused past 64 MiB. */
static vggcl_status text_memory(walk *k, const char *cid, unsigned long long chars)
{
    k->text += chars;
    if (k->text <= TEXT_MEMORY) return VGGCL_OK;
    return refuse(k, cid, "the text chunks hold more than 64 MiB (\"Too much memory used in text chunks\")");
}

/* A compressed payload (zTXt, iTXt, iCCP) inflated as PIL inflates it: *bytes, -1 for a broken stream;
 * VGGCL_OK, or the error said (refused past 1 MiB, out of memory). */
static vggcl_status payload(walk *k, const char *cid, const unsigned char *s, size_t n, utf8_count *utf8,
                            long long *bytes)
{
    int over;
    *bytes = inflated(s, n, &over, utf8);
    if (*bytes == -2) return vggcl__fail(k->ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", k->path);
    return over ? refuse(k, cid, "it inflates to more than 1 MiB (\"Decompressed Data Too Large\")") : VGGCL_OK;
}

static vggcl_status text_chunks(walk *k, const char *cid, const unsigned char *s, size_t n)
{
    const unsigned char *nul = memchr(s, 0, n);
    if (!memcmp(cid, "tEXt", 4)) /* (the key, when there is one, is latin-1: any bytes) */
        return n && nul != s ? text_memory(k, cid, nul ? (size_t)(s + n - nul - 1) : 0) : VGGCL_OK;
    if (!memcmp(cid, "zTXt", 4)) {
        const unsigned char *v = nul ? nul + 1 : s + n; /* (no separator: the whole chunk is the key) */
        const size_t nv = (size_t)(s + n - v);
        if (nv && v[0] != 0) return refuse(k, cid, "an unknown compression method");
        long long got;
        const vggcl_status st = payload(k, cid, nv ? v + 1 : v, nv ? nv - 1 : 0, NULL, &got);
        if (st != VGGCL_OK) return st;
        return n && nul != s ? text_memory(k, cid, got > 0 ? (unsigned long long)got : 0) : VGGCL_OK;
    }
    /* iTXt: key NUL flag method language NUL translated-key NUL text; PIL passes over what it cannot split
     * or decode, and counts the text's characters */
    if (!nul || (size_t)(s + n - nul - 1) < 2) return VGGCL_OK;
    const unsigned char flag = nul[1], method = nul[2], *r = nul + 3, *end = s + n;
    const unsigned char *lang_end = memchr(r, 0, (size_t)(end - r));
    const unsigned char *tk_end = lang_end ? memchr(lang_end + 1, 0, (size_t)(end - lang_end - 1)) : NULL;
    if (!tk_end || (flag && method)) return VGGCL_OK;
    utf8_count u = { 0 }, names = { 0 };
    const unsigned char *v = tk_end + 1;
    if (flag) { /* (inflated first: past 1 MiB refused, whatever its names) */
        long long got;
        const vggcl_status st = payload(k, cid, v, (size_t)(end - v), &u, &got);
        if (st != VGGCL_OK || got < 0) return st;
    } else {
        utf8_take(&u, v, (size_t)(end - v));
    }
    utf8_take(&names, r, (size_t)(lang_end - r));
    const int lang_ok = !names.bad && !names.need;
    names = (utf8_count){ 0 };
    utf8_take(&names, lang_end + 1, (size_t)(tk_end - lang_end - 1));
    /* (else PIL: a UnicodeError, the chunk passed over) */
    const int ok = lang_ok && !names.bad && !names.need && !u.bad && !u.need;
    return ok ? text_memory(k, cid, u.chars) : VGGCL_OK;
}

/* The frame sequence of an fcTL or fdAT, as PIL checks it. */
static vggcl_status sequence(walk *k, const char *cid, uint32_t seq)
{
    if (k->seq < 0 ? !(!memcmp(cid, "fcTL", 4) && seq == 0) : (long long)seq != k->seq + 1)
        return refuse(k, cid, "the animation's frames out of sequence (\"APNG contains frame sequence errors\")");
    k->seq = seq;
    return VGGCL_OK;
}

/* One chunk's handler in PIL's PngStream, on its data s of n bytes (read whole). */
static vggcl_status chunk(walk *k, const char *cid, const unsigned char *s, size_t n)
{
    if (!memcmp(cid, "IHDR", 4) && n >= 13) {
        k->w = be32(s), k->h = be32(s + 4);
        const unsigned depth = s[8], type = s[9];
        k->mode = type == 3 && depth <= 8 && !(depth & (depth - 1))                ? 'P'
                  : type == 0 && (depth <= 8 ? !(depth & (depth - 1)) : depth == 16) ? 'G'
                  : type == 2 && (depth == 8 || depth == 16)                         ? 'R'
                                                                                     : 0;
        return VGGCL_OK;
    }
    if (!memcmp(cid, "tRNS", 4) && n < (k->mode == 'G' ? 2u : k->mode == 'R' ? 6u : 0u))
        return refuse(k, cid, k->mode == 'G' ? "under 2 bytes for a gray image" : "under 6 bytes for an RGB image");
    if (!memcmp(cid, "gAMA", 4) && n < 4) return refuse(k, cid, "under 4 bytes");
    if (!memcmp(cid, "cHRM", 4) && n % 4) return refuse(k, cid, "not a whole number of 4-byte values");
    if (!memcmp(cid, "sRGB", 4) && n < 1) return refuse(k, cid, "empty (\"Truncated sRGB chunk\")");
    if (!memcmp(cid, "pHYs", 4) && n < 9) return refuse(k, cid, "under 9 bytes (\"Truncated pHYs chunk\")");
    if (!memcmp(cid, "iCCP", 4)) { /* PIL reads its method at the separator (a 0 there), else the last byte */
        if (!n) return refuse(k, cid, "empty");
        const unsigned char *nul = memchr(s, 0, n);
        if (!nul && s[n - 1]) return refuse(k, cid, "an unknown compression method");
        const size_t at = nul ? (size_t)(nul - s) + 2 : 1;
        long long got;
        return payload(k, cid, s + (at < n ? at : n), at < n ? n - at : 0, NULL, &got);
    }
    if (!memcmp(cid, "tEXt", 4) || !memcmp(cid, "zTXt", 4) || !memcmp(cid, "iTXt", 4)) return text_chunks(k, cid, s, n);
    if (!memcmp(cid, "acTL", 4)) {
        if (n < 8) return refuse(k, cid, "under 8 bytes (\"APNG contains truncated acTL chunk\")");
        const uint32_t frames = be32(s);
        /* (a second acTL: none) */
        k->frames = k->frames >= 0 || frames == 0 || frames > 0x80000000u ? -1 : (long long)frames;
        return VGGCL_OK;
    }
    if (!memcmp(cid, "fcTL", 4)) {
        if (n < 26) return refuse(k, cid, "under 26 bytes (\"APNG contains truncated fcTL chunk\")");
        const vggcl_status st = sequence(k, cid, be32(s));
        if (st != VGGCL_OK) return st;
        const unsigned long long right = (unsigned long long)be32(s + 12) + be32(s + 4),
                                 bottom = (unsigned long long)be32(s + 16) + be32(s + 8);
        if (right > k->w || bottom > k->h)
            return refuse(k, cid, "a frame outside the image (\"APNG contains invalid frames\")");
        k->framed = 1;
        return VGGCL_OK;
    }
    if (!memcmp(cid, "fdAT", 4))
        return n < 4 ? refuse(k, cid, "under 4 bytes (\"APNG contains truncated fDAT chunk\")")
                     : sequence(k, cid, be32(s));
    return VGGCL_OK;
}

/* Whether cid is a name PIL reads as one: four word characters. */
static int is_cid(const unsigned char *c)
{
    for (int i = 0; i < 4; i++)
        if (!((c[i] | 0x20) >= 'a' && (c[i] | 0x20) <= 'z') && !(c[i] >= '0' && c[i] <= '9') && c[i] != '_')
            return 0; /* (Python's \w on bytes: ASCII letters, digits, _) */
    return 1;
}

/* The chunks whose data PIL's handlers read (the others are passed over unread). */
static int handled(const char *cid)
{
    static const char names[][5] = { "IHDR", "tRNS", "gAMA", "cHRM", "sRGB", "pHYs", "iCCP",
                                     "tEXt", "zTXt", "iTXt", "acTL", "fcTL", "fdAT" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!memcmp(cid, names[i], 4)) return 1;
    return 0;
}

vggcl_status vggcl__png_chunks_check(vggcl_ctx *ctx, const char *path, FILE *f)
{
    walk k = { ctx, path, 0, 0, 0, 0, -1, -1, 0, 0 };
    unsigned char head[8], *data = NULL;
    vggcl_status st = VGGCL_OK;
    const off_t start = ftello(f);
    if (start < 0 || fseeko(f, 0, SEEK_END) != 0) return VGGCL_OK; /* (libpng reads it as a stream) */
    const off_t size = ftello(f);
    int after = 0; /* 0 before the image data, 1 in it, 2 after it (load_end) */
    off_t at = 8;
    while (st == VGGCL_OK && fseeko(f, at, SEEK_SET) == 0 && fread(head, 1, 8, f) == 8 && is_cid(head + 4)) {
        const char *cid = (const char *)head + 4;
        const uint32_t n = be32(head);
        /* (a DDAT continues the image data, as PIL's load_read takes it; before it, an unknown chunk) */
        const int image = !memcmp(cid, "IDAT", 4) || !memcmp(cid, "fdAT", 4) || (after && !memcmp(cid, "DDAT", 4));
        if (!memcmp(cid, "IEND", 4)) break;
        if (after == 1 && !image) after = 2;
        if (after == 2 && !memcmp(cid, "fcTL", 4) && k.animated) break; /* (the next frame: PIL stops there) */
        if (at + 8 + (off_t)n > size) { /* (before the image data libpng says the file is truncated) */
            if (after == 2) st = refuse(&k, cid, "cut short by the file's end (\"Truncated File Read\")");
            break;
        }
        if (handled(cid) && !(image && memcmp(cid, "fdAT", 4))) {
            const size_t want = image ? (n < 4 ? n : 4) : n; /* (an fdAT's sequence number, not its frame) */
            free(data);
            data = malloc(want + 1);
            if (!data) st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
            else if (fread(data, 1, want, f) != want) break; /* (a read error: libpng's to say) */
            else st = chunk(&k, cid, data, n);
        }
        if (image && !after) { /* the image data: after an acTL, before any fcTL, a default image besides the frames */
            k.animated = (k.frames < 0 ? 1 : k.frames + (!k.framed)) > 1;
            after = 1;
        }
        at += 12 + (off_t)n;
    }
    free(data);
    if (fseeko(f, start, SEEK_SET) != 0 && st == VGGCL_OK)
        st = vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot read the image again", path);
    return st;
}
