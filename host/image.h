/* Internal image helpers (image_resize.c). */
#ifndef VGGCL_IMAGE_H
#define VGGCL_IMAGE_H

#include "internal.h"

/* in (h, w, 3) -> out (oh, ow, 3), 8-bit RGB, as PIL's bilinear resize.
 * Returns 0 when out of host memory. */
int vggcl__resize_rgb(const unsigned char *in, int h, int w, unsigned char *out, int oh, int ow);

#endif
