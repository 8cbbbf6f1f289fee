/* Internal image helpers (image_resize.c). */
#ifndef VGGCL_IMAGE_H
#define VGGCL_IMAGE_H

#include "internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>

/* The most pixels an image may have resized (2^28: 768 MiB of RGB), and decoded: PIL's limit, twice its
 * Image.MAX_IMAGE_PIXELS, above which it refuses an image (DecompressionBombError), so torchvision's
 * loaders do too. */
#define VGGCL_MAX_PIXELS ((size_t)1 << 28)
#define VGGCL_MAX_DECODED_PIXELS ((size_t)2 * 89478485)

/* libpng error handling shared by the reader and the writer: png_fail
 * records the message and jumps back; warnings are ignored. */
typedef struct {
    jmp_buf jump;
    char msg[256];
} vggcl_png_err;
void vggcl__png_fail(png_structp png, png_const_charp msg);
void vggcl__png_quiet(png_structp png, png_const_charp msg);

/* A part of an h x w 8-bit RGB image in memory: rows [y0, y0 + rows) and
 * columns [x0, x0 + cols), px the first one's pixel, rows `line` bytes apart. */
typedef struct {
    const unsigned char *px;
    size_t line;
    int h, w, y0, x0, rows, cols;
} vggcl__rgb_part;

/* PIL's bilinear resize of the image (h, w, 3) to (oh, ow, 3), 8-bit RGB,
 * computed only for rows [y0, y1) and columns [x0, x1) of the result (what a
 * center crop keeps; each output pixel depends on its own position only),
 * written to out (y1 - y0, x1 - x0, 3). in holds at least the part of the
 * image those read (vggcl__resize_reads). Returns 1; 0 when out of host memory; -1 where the horizontal pass's
 * result, the rows the vertical one reads at the window's width, would pass VGGCL_MAX_PIXELS (a 1 x 10^8 image
 * resized to 40 x 40 took 12 GB there: PIL's 16 GB). */
int vggcl__resize_rgb_window(const vggcl__rgb_part *in, int oh, int ow, int y0, int y1, int x0, int x1,
                             unsigned char *out);
/* Whether p's preset can make an image of h x w pixels (in the file at path) what it asks: VGGCL_OK,
 * else the preprocessing's failure, said naming path. The decoders ask it once they know the size, so
 * that such an image (1 pixel wide and 2^25 tall: 370 MB and seconds decoded) is refused before it is
 * decoded. */
vggcl_status vggcl__preset_check(vggcl_ctx *ctx, const char *path, int h, int w, const vggcl_preprocess *p);
/* Whether a decoder may go on with an image of h x w pixels (in the file at path): within PIL's limit
 * (VGGCL_MAX_DECODED_PIXELS) and vggcl_image_max_pixels' (VGGCL_ERR_ARG where it failed), then, for p not NULL,
 * vggcl__preset_check. VGGCL_OK, else said. Every
 * decoder asks it once it knows the size, before it allocates for the pixels. */
vggcl_status vggcl__decoded_size_check(vggcl_ctx *ctx, const char *path, unsigned long long h, unsigned long long w,
                                       const vggcl_preprocess *p);
/* The rows [*y0, *y1) and columns [*x0, *x1) of an h x w image that p's preset reads (all of them
 * when p is not valid for it: preprocessing says why). */
void vggcl__preset_reads(int h, int w, const vggcl_preprocess *p, int *y0, int *y1, int *x0, int *x1);
/* Decodes at least the part of the image file that p's preset reads (the whole image for p NULL; a
 * PNG always whole) into *px (allocated), described by *part. */
vggcl_status vggcl__image_load_part(vggcl_ctx *ctx, const char *path, const vggcl_preprocess *p, unsigned char **px,
                                    vggcl__rgb_part *part);
/* An image format's decoder, as vggcl__image_load_part picks one (image_decode.c's table): whether a file's
 * first bytes (n of them) are the format's, and the decoding of f (at its start) as PIL's, whole or at
 * least the part that p's preset reads, into *rgb (allocated), described by *part. */
typedef int vggcl__image_sniff(const unsigned char *magic, size_t n);
typedef vggcl_status vggcl__image_decode(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p,
                                         unsigned char **rgb, vggcl__rgb_part *part);
/* Beside image_decode.c's JPEG and PNG: WebP (image_webp.c: an animation's first frame on its canvas), BMP
 * (image_bmp.c, as PIL 9, RLE as PIL 9.4), TIFF (image_tiff.c, PIL 9's first page:
 * layouts it does not read said), PBM, PGM and PPM (image_pnm.c, as PIL 9.4: a plain file PIL 9.4 reads with
 * a token twice said). */
vggcl__image_sniff vggcl__is_webp, vggcl__is_bmp, vggcl__is_tiff, vggcl__is_pnm;
/* The image format vggcl reads whose first bytes (n of them) these are, as "a JPEG"; NULL for none (a weights
 * file given an image's name says so). */
const char *vggcl__image_format(const unsigned char *magic, size_t n);
vggcl__image_decode vggcl__load_webp, vggcl__load_bmp, vggcl__load_tiff, vggcl__load_pnm;
/* A PNG's chunks beside its pixels (image_png_chunks.c): what PIL 9.4's handlers refuse, refused (the text
 * and ICC chunks libpng is then told not to inflate); f is left where it was. */
vggcl_status vggcl__png_chunks_check(vggcl_ctx *ctx, const char *path, FILE *f);
/* Whether a normalization's (x / 255 - mean) / std stays within a float for x from 0 to 255 (a std of
 * 1e-45 passes "above 0" and made every value infinite). */
int vggcl__norm_finite(const float mean[3], const float std[3]);
/* vggcl_image_preprocess on a part of an image that holds what the preset reads. */
vggcl_status vggcl__preprocess_part(vggcl_ctx *ctx, const vggcl__rgb_part *in, const vggcl_preprocess *p, float **out,
                                    int *oh, int *ow);
/* Non-zero: the resize's horizontal pass without AVX2 even where the CPU has it (the fuzz harness
 * compares the two). */
extern int vggcl__resize_scalar_only;
/* The input positions [*i0, *i1) that output positions [o0, o1) (o0 < o1) of a resize along one
 * axis from in_size to out_size read. */
void vggcl__resize_reads(int in_size, int out_size, int o0, int o1, int *i0, int *i1);

#endif
