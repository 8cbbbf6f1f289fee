/* Internal image helpers (image_resize.c). */
#ifndef VGGCL_IMAGE_H
#define VGGCL_IMAGE_H

#include "internal.h"

#include <png.h>
#include <setjmp.h>

/* libpng error handling shared by the reader and the writer: png_fail
 * records the message and jumps back; warnings are ignored. */
typedef struct {
    jmp_buf jump;
    char msg[256];
} vggcl_png_err;
void vggcl__png_fail(png_structp png, png_const_charp msg);
void vggcl__png_quiet(png_structp png, png_const_charp msg);

/* in (h, w, 3) -> out (oh, ow, 3), 8-bit RGB, as PIL's bilinear resize.
 * Returns 0 when out of host memory. */
int vggcl__resize_rgb(const unsigned char *in, int h, int w, unsigned char *out, int oh, int ow);

#endif
