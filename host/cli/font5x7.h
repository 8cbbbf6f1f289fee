/* A 5x7 bitmap font of printable ASCII, drawn into 8-bit RGB pictures: the labels of cam's pictures.
 *
 *   unsigned char white[3] = { 255, 255, 255 };
 *   int wide = font5x7_draw(NULL, 0, 0, 0, 0, 2, white, "pool5 kept", 224);   (measured: 118)
 *   font5x7_draw(pic, rows, cols, (cols - wide) / 2, 4, 2, white, "pool5 kept", 224);
 */
#ifndef VGGCL_FONT5X7_H
#define VGGCL_FONT5X7_H

enum {
    FONT5X7_W = 5,      /* a glyph's columns */
    FONT5X7_H = 7,      /* and rows */
    FONT5X7_ADVANCE = 6 /* columns from one glyph to the next: one blank between */
};

/* The glyph byte c is drawn as: FONT5X7_H rows, top first, each a byte whose bit 4 is the leftmost column; a
 * byte outside ' '..'~' (a control, DEL, a byte of UTF-8's) a hollow box. */
const unsigned char *font5x7_glyph(unsigned char c);

/* Draws text into pic (rows x cols, 8-bit RGB, row-major) at scale (each pixel of a glyph a scale x scale
 * square of colour rgb), its top left corner at (x, y), clipped to the picture. Every character of UTF-8 is
 * one glyph (its continuation bytes are not drawn again; outside ASCII, the box). A text wider than width
 * pixels is cut to the glyphs that fit, its last three "..." (where fewer than 4 fit: its first glyphs
 * alone). pic NULL: nothing drawn, the width measured. Returns the width in pixels of what is (or would be)
 * drawn: (glyphs * FONT5X7_ADVANCE - 1) * scale, 0 for none. */
int font5x7_draw(unsigned char *pic, int rows, int cols, int x, int y, int scale, const unsigned char rgb[3],
                 const char *text, int width);

#endif
