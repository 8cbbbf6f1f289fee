/* JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB (WebP: image_webp.c, BMP: image_bmp.c,
 * TIFF: image_tiff.c), converting as
 * PIL's Image.convert("RGB") does: alpha dropped (not blended), palettes
 * expanded, gray replicated, 16-bit RGB(A) and gray+alpha samples cut to their
 * high byte, 16-bit gray clipped to 255 (PIL opens it as mode "I"), 1/2/4-bit
 * gray scaled to 0..255, CMYK (and YCCK) JPEGs read with Adobe's inverted
 * samples and converted by PIL's formula, no gamma or colour management. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <jerror.h>
#include <png.h>

#include "image.h"

/* ---- JPEG ------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int refused; /* (msg says why vggcl does not read it: not corrupt) */
    int header;  /* (in jpeg_read_header: the markers before the first scan, which PIL parses itself) */
    int no_memory; /* (libjpeg's own allocation failed: said as out of memory, not as a corrupt file) */
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (cinfo->err->msg_code == JERR_EMPTY_IMAGE) /* (libjpeg's "Empty JPEG image (DNL not supported)") */
        snprintf(e->msg, sizeof e->msg, "its frame header gives %s (an empty image)",
                 ((j_decompress_ptr)cinfo)->num_components <= 0 ? "no colour components" : "a width or height of 0");
    else e->pub.format_message(cinfo, e->msg);
    e->no_memory = cinfo->err->msg_code == JERR_OUT_OF_MEMORY;
    longjmp(e->jump, 1);
}

/* The most scans a JPEG may have (libjpeg-turbo's TurboJPEG and others refuse more): each reads the
 * coefficients of the whole image, so a small file repeating scans took minutes (a progressive JPEG
 * has ten or so). PIL reads any number. */
#define JPEG_MAX_SCANS 500

static void jpeg_scan_limit(j_common_ptr cinfo)
{
    if (((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d scans (a progressive JPEG has ten or so; each reads the "
                 "whole image)", JPEG_MAX_SCANS);
        e->refused = 1;
        longjmp(e->jump, 1);
    }
}

static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    /* a TEM marker (FF01) before the first scan, which libjpeg passes over and PIL's own parser refuses ("no
     * marker found": ImageFolder cannot open it) */
    if (e->header && level > 0 && cinfo->err->msg_code == JTRC_PARMLESS_MARKER && cinfo->err->msg_parm.i[0] == 0x01) {
        snprintf(e->msg, sizeof e->msg, "a TEM marker (FF01) before its first scan (PIL cannot read it either: no "
                 "marker found)");
        e->refused = 1;
        longjmp(e->jump, 1);
    }
    /* warnings (e.g. extraneous bytes) are not errors, as in PIL; but data that
     * ends early, which libjpeg pads with gray, is: PIL refuses it too */
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(e->msg, sizeof e->msg, "the file is truncated (premature end of data)");
        longjmp(e->jump, 1);
    }
}

/* Partial decoding may smooth the chroma of the part's edge pixels as at the image's edges
 * (libjpeg-turbo's jpeg_crop_scanline): a margin of pixels beyond what the preset reads. */
#define JPEG_MARGIN 2

/* Whether every coefficient is known in full (after jpeg_start_decompress). A progressive image
 * whose last scans are missing is smoothed across blocks (libjpeg-turbo's block smoothing), which
 * a partial decode smooths otherwise at the part's edges: such an image is decoded whole (fuzzing
 * found one; complete progressive images decode partially to the same pixels). */
static int complete_scans(const struct jpeg_decompress_struct *cinfo)
{
    if (!cinfo->progressive_mode) return 1;
    if (!cinfo->coef_bits) return 0;
    for (int c = 0; c < cinfo->num_components; c++)
        for (int k = 0; k < DCTSIZE2; k++)
            if (cinfo->coef_bits[c][k] != 0) return 0;
    return 1;
}

/* Whether jpeg_crop_scanline gives the right columns: libjpeg-turbo 2.1's are wrong where a draft decodes
 * a component at a larger IDCT scale than the others and it is still upsampled (4:1:0 at 1/2 and 1/4, up
 * to 156 levels off; at 1/8 too by this rule, where they were right): such an image's rows are decoded
 * whole. */
static int crop_columns(const struct jpeg_decompress_struct *cinfo)
{
    for (int c = 0; c < cinfo->num_components; c++) {
        const jpeg_component_info *k = &cinfo->comp_info[c];
        const int own_scale = k->DCT_scaled_size != cinfo->min_DCT_scaled_size;
        const int h = k->h_samp_factor * k->DCT_scaled_size, v = k->v_samp_factor * k->DCT_scaled_size;
        const int upsampled = h != cinfo->max_h_samp_factor * cinfo->min_DCT_scaled_size ||
                              v != cinfo->max_v_samp_factor * cinfo->min_DCT_scaled_size;
        if (own_scale && upsampled) return 0;
    }
    return 1;
}

/* Decodes the part of the image that p's preset reads (all of it for p NULL): the rows above and
 * below are skipped (their data still read, so a truncated file fails as a whole decode does: a
 * skip that reaches the end reads nothing, so the last row is read, and dropped), the columns left
 * and right are not decompressed. With p->draft, at the reduced scale PIL's Image.draft takes. */
static vggcl_status load_jpeg(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p,
                              unsigned char **rgb, vggcl__rgb_part *part)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    /* one jump target for every libjpeg call below; what it frees is volatile */
    unsigned char *volatile out = NULL, *volatile row = NULL;
    struct jpeg_progress_mgr progress = { jpeg_scan_limit, 0, 0, 0, 0 };
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_fail;
    err.pub.emit_message = jpeg_quiet;
    err.refused = err.header = err.no_memory = 0;
    if (setjmp(err.jump)) {
        const unsigned iw = cinfo.image_width, ih = cinfo.image_height; /* (a progressive image's coefficients) */
        jpeg_destroy_decompress(&cinfo);
        free(row);
        free(out);
        if (err.no_memory)
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %u x %u pixels", path, iw, ih);
        if (err.refused) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a JPEG vggcl does not read: %s", path, err.msg);
        if (!strncmp(err.msg, "Unsupported JPEG", 16)) /* (a 12-bit or lossless JPEG: valid, but not read) */
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a JPEG vggcl does not read: %s (it reads 8-bit JPEGs, "
                                                      "lossy, as PIL does)", path, err.msg);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt JPEG: %s", path, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_stdio_src(&cinfo, f);
    err.header = 1;
    jpeg_read_header(&cinfo, TRUE);
    err.header = 0;
    /* before jpeg_start_decompress, which reads a progressive or multi-scan image's every scan into
     * coefficients for the whole size its header claims (a 544-byte file took 1.2 GB) */
    const vggcl_status size_ok = vggcl__decoded_size_check(ctx, path, cinfo.image_height, cinfo.image_width, NULL);
    if (size_ok != VGGCL_OK) { /* (the preset is asked below, of the size a draft decodes) */
        jpeg_destroy_decompress(&cinfo);
        return size_ok;
    }
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
    if (p && p->draft == 1 && p->resize > 0) {
        /* PIL's Image.draft("RGB", (width, height)), (resize, resize) or (resize_w, resize): 1/8, 1/4 or 1/2 */
        const unsigned across = cinfo.image_width / (unsigned)(p->resize_w > 0 ? p->resize_w : p->resize),
                       down = cinfo.image_height / (unsigned)p->resize, fits = across < down ? across : down;
        unsigned s = 8;
        while (s > 1 && s > fits) s /= 2;
        cinfo.scale_num = 1, cinfo.scale_denom = s;
    }
    jpeg_calc_output_dimensions(&cinfo); /* (the size decoded, the draft's: checked before any scan is read) */
    const vggcl_status fits = p ? vggcl__preset_check(ctx, path, (int)cinfo.output_height, (int)cinfo.output_width, p)
                                : VGGCL_OK;
    if (fits != VGGCL_OK) {
        jpeg_destroy_decompress(&cinfo);
        return fits;
    }
    jpeg_start_decompress(&cinfo);
    const int width = (int)cinfo.output_width, height = (int)cinfo.output_height, comps = cinfo.output_components;
    int y0 = 0, y1 = height, x0 = 0, x1 = width;
    if (p && complete_scans(&cinfo)) {
        vggcl__preset_reads(height, width, p, &y0, &y1, &x0, &x1);
        y0 = y0 > JPEG_MARGIN ? y0 - JPEG_MARGIN : 0, y1 = y1 + JPEG_MARGIN < height ? y1 + JPEG_MARGIN : height;
        x0 = x0 > JPEG_MARGIN ? x0 - JPEG_MARGIN : 0, x1 = x1 + JPEG_MARGIN < width ? x1 + JPEG_MARGIN : width;
    }
    JDIMENSION left = (JDIMENSION)x0, cols = (JDIMENSION)(x1 - x0);
    if (cols < (JDIMENSION)width && crop_columns(&cinfo))
        jpeg_crop_scanline(&cinfo, &left, &cols); /* (left moves to an iMCU's start) */
    else
        left = 0, cols = (JDIMENSION)width;
    const int n = (int)cols;
    out = malloc((size_t)n * (y1 - y0) * 3 + 1);
    row = malloc((size_t)n * comps + 1); /* a gray row, or the last row when it is dropped */
    if (!out || !row) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        free(out);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %d x %d pixels", path, width, height);
    }
    if (y0 > 0) jpeg_skip_scanlines(&cinfo, (JDIMENSION)y0);
    while ((int)cinfo.output_scanline < y1) {
        const int y = (int)cinfo.output_scanline;
        unsigned char *dst = out + (size_t)(y - y0) * n * 3;
        JSAMPROW rows[1] = { comps == 3 ? dst : row }; /* RGB rows straight into place */
        jpeg_read_scanlines(&cinfo, rows, 1);
        const unsigned char *in = row; /* (row is volatile for the jump; this one need not be) */
        if (comps == 4) { /* PIL: the samples inverted ("CMYK;I", Adobe's way), then its cmyk2rgb */
            for (int x = 0; x < n; x++) {
                const int k = in[x * 4 + 3]; /* 255 - the inverted K */
                for (int c = 0; c < 3; c++) {
                    const int t = (255 - in[x * 4 + c]) * k + 128; /* (PIL's MULDIV255) */
                    dst[x * 3 + c] = (unsigned char)(k - (((t >> 8) + t) >> 8));
                }
            }
        } else if (comps != 3) {
            for (int x = 0; x < n; x++) dst[x * 3] = dst[x * 3 + 1] = dst[x * 3 + 2] = in[x * comps];
        }
    }
    if (y1 < height) { /* rows read and dropped to the next iMCU row (a skip that starts inside one can
                          * go wrong: libjpeg-turbo issue #915), skipped to the last one, which is read */
        const int imcu = cinfo.min_DCT_scaled_size * cinfo.max_v_samp_factor; /* (output rows: 8 / a draft's scale) */
        JSAMPROW drop[1] = { row };
        while ((int)cinfo.output_scanline < height - 1 && cinfo.output_scanline % imcu)
            jpeg_read_scanlines(&cinfo, drop, 1);
        if ((int)cinfo.output_scanline < height - 1)
            jpeg_skip_scanlines(&cinfo, (JDIMENSION)(height - 1) - cinfo.output_scanline);
        jpeg_read_scanlines(&cinfo, drop, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)n * 3, height, width, y0, (int)left, y1 - y0, n };
    return VGGCL_OK;
}

/* ---- PNG -------------------------------------------------------------- */

void vggcl__png_fail(png_structp png, png_const_charp msg)
{
    vggcl_png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jump, 1);
}

void vggcl__png_quiet(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

/* A chunk libpng does not know, taken as read and dropped (PIL passes over such a chunk, a critical one too:
 * libpng stopped at it, "unhandled critical chunk"). */
static int skip_unknown(png_structp png, png_unknown_chunkp chunk)
{
    (void)png, (void)chunk;
    return 1;
}

/* Reads every row into rows: 1, or 0 with err->msg when a row is missing. A failure after the last row
 * (the pixel data's zlib stream cut short of its checksum, which PIL takes) is not one. */
static int read_rows(png_structp png, png_infop info, vggcl_png_err *err, png_bytep *rows)
{
    jmp_buf caller; /* (given back: the caller's failures jump there again) */
    memcpy(caller, err->jump, sizeof caller);
    int whole = 1;
    if (setjmp(err->jump))
        whole = png_get_current_pass_number(png) == 7 ||
                (png_get_interlace_type(png, info) == PNG_INTERLACE_NONE &&
                 png_get_current_row_number(png) == png_get_image_height(png, info));
    else
        png_read_image(png, rows);
    memcpy(err->jump, caller, sizeof caller);
    return whole;
}

static vggcl_status load_png(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p, unsigned char **rgb,
                             vggcl__rgb_part *part)
{
    vggcl_png_err err;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, vggcl__png_fail, vggcl__png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile pixels = NULL, *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    volatile int short_w = 0, short_h = 0; /* the image's pixels found no memory (said as such, not as corrupt) */
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    if (setjmp(err.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels), free(out), free(rows);
        if (short_w)
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %d x %d pixels", path, short_w,
                               short_h);
        if (!strcmp(err.msg, "Read Error")) /* (libpng's word for a read that came back short) */
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt PNG: the file is truncated", path);
        if (strstr(err.msg, "memory")) /* (libpng: "Insufficient memory", "insufficient memory to read chunk") */
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory reading the PNG (libpng: %s)", path,
                               err.msg);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt PNG: %s", path, err.msg);
    }
    /* the size its IHDR says, first: the chunks' check inflates every iCCP and zTXt to the end (2000 of them,
     * seconds of a 2 MB file the size would refuse) */
    unsigned char head[24];
    vggcl_status chunks = VGGCL_OK;
    const int whole = fread(head, 1, sizeof head, f) == sizeof head;
    if (whole && memcmp(head + 12, "IHDR", 4)) /* (libpng refuses it too, once the chunks were walked) */
        chunks = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt PNG: its first chunk is not IHDR", path);
    else if (whole)
        chunks = vggcl__decoded_size_check(ctx, path, (unsigned long long)head[20] << 24 | head[21] << 16 |
                                           head[22] << 8 | head[23], (unsigned long long)head[16] << 24 |
                                           head[17] << 16 | head[18] << 8 | head[19], NULL);
    rewind(f);
    if (chunks == VGGCL_OK) chunks = vggcl__png_chunks_check(ctx, path, f);
    if (chunks != VGGCL_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return chunks;
    }
    png_init_io(png, f);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* (not libpng's 10^6 a side: the pixel count below) */
    /* the text and the ICC profile passed over as unknown chunks, never inflated (checked above as PIL reads
     * them: libpng kept each inflated, up to 1000 chunks of 8 MB) */
    static const png_byte unread[] = "tEXt\0zTXt\0iTXt\0iCCP";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, unread, 4);
    /* the chunks before the pixels, ancillary ones too ("tEXt: CRC error"), checked as PIL checks them
     * (libpng's default warns and drops an ancillary chunk whose checksum is wrong) */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_read_user_chunk_fn(png, NULL, skip_unknown);
    png_read_info(png, info);
    /* past the chunks before the pixels, whose checksums PIL checks, the pixel data's are not */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    const int width = (int)png_get_image_width(png, info), height = (int)png_get_image_height(png, info);
    const int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    const vggcl_status fits = vggcl__decoded_size_check(ctx, path, (unsigned)height, (unsigned)width, p);
    if (fits != VGGCL_OK) { /* (before its rows' pointers and pixels are allocated and decoded) */
        png_destroy_read_struct(&png, &info, NULL);
        return fits;
    }
    /* 16-bit gray is PIL mode "I": kept at 16 bits here and clipped to 255 below */
    const int gray16 = type == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (type == PNG_COLOR_TYPE_PALETTE) {
        /* indices past the palette's end are PIL's gray ramp (i, i, i): libpng would make them black */
        png_colorp given;
        int n = 0;
        png_color full[256];
        if (!png_get_PLTE(png, info, &given, &n)) n = 0;
        if (n < 1 << depth) {
            for (int i = 0; i < 1 << depth; i++)
                full[i] = i < n ? given[i] : (png_color){ (png_byte)i, (png_byte)i, (png_byte)i };
            png_set_PLTE(png, info, full, 1 << depth);
        }
        png_set_palette_to_rgb(png);
    }
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png); /* high byte, as PIL's ";16B" raw modes */
    if (!gray16) { /* to RGB by libpng itself: alpha dropped, gray replicated */
        png_set_strip_alpha(png);
        if (!(type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t stride = png_get_rowbytes(png, info);
    const int channels = png_get_channels(png, info);
    if (gray16 ? channels != 1 || stride != (size_t)width * 2 : channels != 3 || stride != (size_t)width * 3) {
        snprintf(err.msg, sizeof err.msg, "%d channels of %zu bytes a row after conversion; expected %s", channels,
                 stride, gray16 ? "1 of 16 bits" : "RGB");
        longjmp(err.jump, 1);
    }
    pixels = gray16 ? malloc(stride * height + 1) : NULL; /* else rows decoded straight into out */
    rows = malloc(sizeof *rows * (size_t)height + 1);
    out = malloc((size_t)width * height * 3 + 1);
    if ((gray16 && !pixels) || !rows || !out) {
        short_w = width, short_h = height;
        longjmp(err.jump, 1);
    }
    for (int y = 0; y < height; y++) rows[y] = gray16 ? pixels + stride * y : out + stride * y;
    if (!read_rows(png, info, &err, rows)) longjmp(err.jump, 1);
    /* what follows the pixels is not read by libpng: its chunks were checked as PIL reads them */
    for (int y = 0; gray16 && y < height; y++) { /* clipped to 255 and replicated */
        const unsigned char *src = rows[y];
        unsigned char *dst = out + (size_t)y * width * 3;
        for (int x = 0; x < width; x++) { /* (PNG's samples are big-endian, whatever the host's order) */
            const unsigned v = (unsigned)src[2 * x] << 8 | src[2 * x + 1];
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = (unsigned char)(v > 255 ? 255 : v);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(pixels);
    free(rows);
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)width * 3, height, width, 0, 0, height, width };
    return VGGCL_OK;
}

vggcl_status vggcl_image_max_pixels(vggcl_ctx *ctx, unsigned long long *limit)
{
    VGGCL_NEED(ctx, "vggcl_image_max_pixels", limit);
    const char *s = getenv("VGGCL_MAX_IMAGE_PIXELS"), *c = s;
    *limit = VGGCL_MAX_DECODED_PIXELS;
    if (!s || !*s) return VGGCL_OK;
    *limit = 0;
    for (; *c >= '0' && *c <= '9' && *limit <= VGGCL_MAX_DECODED_PIXELS; c++) /* (digits alone: no sign) */
        *limit = *limit * 10 + (unsigned)(*c - '0');
    if (!*c && *limit && *limit <= VGGCL_MAX_DECODED_PIXELS) return VGGCL_OK;
    *limit = 0;
    return vggcl__fail(ctx, VGGCL_ERR_ARG, "VGGCL_MAX_IMAGE_PIXELS is '%s'; expected a whole number of pixels from 1 "
                       "to %zu (PIL's limit), or unset", s, VGGCL_MAX_DECODED_PIXELS);
}

vggcl_status vggcl__decoded_size_check(vggcl_ctx *ctx, const char *path, unsigned long long h, unsigned long long w,
                                       const vggcl_preprocess *p)
{
    unsigned long long own;
    if (w > VGGCL_MAX_DECODED_PIXELS || h > VGGCL_MAX_DECODED_PIXELS || w * h > VGGCL_MAX_DECODED_PIXELS)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: %llu x %llu pixels (width x height) is too large: more than "
                           "%zu, PIL's limit", path, w, h, VGGCL_MAX_DECODED_PIXELS);
    if (vggcl_image_max_pixels(ctx, &own) != VGGCL_OK) return VGGCL_ERR_ARG;
    if (w * h > own)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: %llu x %llu pixels (width x height) is too large: more than "
                           "%llu, VGGCL_MAX_IMAGE_PIXELS", path, w, h, own);
    return p ? vggcl__preset_check(ctx, path, (int)h, (int)w, p) : VGGCL_OK;
}

static int is_jpeg(const unsigned char *magic, size_t n)
{
    return n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
}
static int is_png(const unsigned char *magic, size_t n) { return n >= 8 && !png_sig_cmp(magic, 0, 8); }

/* The formats vggcl reads, by their first bytes (the messages and the CLI's CLI_IMAGE_FORMATS name them). */
static const struct {
    vggcl__image_sniff *is;
    vggcl__image_decode *decode;
    const char *name;
} formats[] = {
    { is_jpeg, load_jpeg, "a JPEG" }, { is_png, load_png, "a PNG" }, { vggcl__is_webp, vggcl__load_webp, "a WebP" },
    { vggcl__is_bmp, vggcl__load_bmp, "a BMP" }, { vggcl__is_tiff, vggcl__load_tiff, "a TIFF" },
    { vggcl__is_pnm, vggcl__load_pnm, "a PNM" },
};

const char *vggcl__image_format(const unsigned char *magic, size_t n)
{
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++)
        if (formats[k].is(magic, n)) return formats[k].name;
    return NULL;
}

/* Formats vggcl does not read, named by their first bytes where a file is one of them (a phone's HEIC among the
 * photos: "not a JPEG, ..." left a user guessing what it was). `at` is where the bytes begin. */
static const struct {
    size_t at, len;
    const char *bytes, *name;
} others[] = {
    { 0, 6, "GIF87a", "a GIF" }, { 0, 6, "GIF89a", "a GIF" }, { 4, 8, "ftypheic", "an HEIC (HEIF)" },
    { 4, 8, "ftypheix", "an HEIC (HEIF)" }, { 4, 8, "ftypheis", "an HEIC (HEIF)" },
    { 4, 8, "ftypheim", "an HEIC (HEIF)" }, { 4, 8, "ftyphevc", "an HEIC (HEIF)" }, { 4, 8, "ftypmif1", "an HEIF" },
    { 4, 8, "ftypmsf1", "an HEIF" },
    { 4, 8, "ftypavif", "an AVIF" }, { 4, 8, "ftypavis", "an AVIF" },
    { 0, 2, "\xff\x0a", "a JPEG XL" }, { 4, 8, "JXL \r\n\x87\n", "a JPEG XL" },
    { 4, 8, "jP  \r\n\x87\n", "a JPEG 2000" }, { 0, 3, "P7\n", "a PAM (P7; PNM's P1-P6 are read)" },
    { 0, 4, "8BPS", "a Photoshop (PSD)" }, { 0, 5, "%PDF-", "a PDF" }, { 0, 4, "\0\0\1\0", "an ICO" },
};

/* What the first got bytes of a file vggcl does not read say it is: " (a GIF file)", else "". */
static const char *other_format(const unsigned char *magic, size_t got, char *buf, size_t len)
{
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++)
        if (got >= others[k].at + others[k].len && !memcmp(magic + others[k].at, others[k].bytes, others[k].len)) {
            snprintf(buf, len, " (%s file)", others[k].name);
            return buf;
        }
    return "";
}

vggcl_status vggcl__image_load_part(vggcl_ctx *ctx, const char *path, const vggcl_preprocess *p, unsigned char **px,
                                    vggcl__rgb_part *part)
{
    unsigned char magic[12] = { 0 };
    char what[64];
    *px = NULL;
    VGGCL_NEED(ctx, "reading an image", path);
    int err;
    FILE *f = vggcl__open_input(path, 0, NULL, &err);
    if (!f) {
        char eb[128];
        return vggcl__fail_os(ctx, err, "%s: cannot open image: %s", vggcl__path_shown(path),
                              err ? vggcl__strerror(err, eb, sizeof eb) : "not a regular file");
    }
    const size_t got = fread(magic, 1, sizeof magic, f);
    const int empty = got == 0 && feof(f);
    int unread = ferror(f) ? vggcl__read_error(f) : 0; /* (both before rewind, which clears them) */
    rewind(f);
    const size_t n = sizeof formats / sizeof formats[0];
    size_t k = 0;
    while (k < n && !formats[k].is(magic, got)) k++;
    vggcl_status st = VGGCL_OK;
    if (!unread && k < n) {
        st = formats[k].decode(ctx, path, f, p, px, part);
        /* (a read the system failed is a truncated file to the decoders: said as what it was) */
        if (st != VGGCL_OK && st != VGGCL_ERR_NOMEM) unread = vggcl__read_error(f);
    }
    char eb[128];
    if (unread)
        st = vggcl__fail_os(ctx, unread > 0 ? unread : 0, "%s: cannot read image: %s", path,
                            vggcl__read_error_text(unread, eb, sizeof eb));
    else if (k == n && empty) /* (a copy that failed, a download not yet begun: said as what it is) */
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: an empty file (0 bytes), not an image", path);
    else if (k == n)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: not a JPEG, PNG, WebP, BMP, TIFF or PNM image%s", path,
                         other_format(magic, got, what, sizeof what));
    fclose(f);
    return st;
}

vggcl_status vggcl_image_load(vggcl_ctx *ctx, const char *path, unsigned char **rgb, int *h, int *w)
{
    vggcl__rgb_part whole;
    VGGCL_NEED(ctx, "vggcl_image_load", rgb);
    *rgb = NULL; /* (first: also when another argument is refused, so that a caller's free of it is safe) */
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_image_load", h);
    VGGCL_NEED(ctx, "vggcl_image_load", w);
    const vggcl_status st = vggcl__image_load_part(ctx, path, NULL, rgb, &whole);
    if (st == VGGCL_OK) *h = whole.h, *w = whole.w;
    return st;
}
