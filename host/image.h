/* Internal image helpers (image_resize.c). */
#ifndef VGGCL_IMAGE_H
#define VGGCL_IMAGE_H

#include "internal.h"

#include <png.h>
#include <setjmp.h>

/* The most pixels an image may have, decoded or resized (2^28: 768 MiB of RGB). */
#define VGGCL_MAX_PIXELS ((size_t)1 << 28)

/* libpng error handling shared by the reader and the writer: png_fail
 * records the message and jumps back; warnings are ignored. */
typedef struct {
    jmp_buf jump;
    char msg[256];
} vggcl_png_err;
void vggcl__png_fail(png_structp png, png_const_charp msg);
void vggcl__png_quiet(png_structp png, png_const_charp msg);

/* PIL's bilinear resize of in (h, w, 3) to (oh, ow, 3), 8-bit RGB, computed
 * only for rows [y0, y1) and columns [x0, x1) of the result (what a center
 * crop keeps; each output pixel depends on its own position only), written
 * to out (y1 - y0, x1 - x0, 3). Returns 0 when out of host memory. */
int vggcl__resize_rgb_window(const unsigned char *in, int h, int w, int oh, int ow, int y0, int y1, int x0, int x1,
                             unsigned char *out);

#endif
