/* host/cli/font5x7.c, the font of cam's labels: the glyphs' bits as drawn (a few spelled out), one glyph per
 * UTF-8 character, widths, cutting with "...", scaling and clipping at the picture's edges. */
#include <string.h>

#include "font5x7.h"
#include "test_util.h"

/* A glyph spelled out, '#' on: whether font5x7_glyph(c) is it. */
static int glyph_is(unsigned char c, const char *const art[FONT5X7_H])
{
    const unsigned char *g = font5x7_glyph(c);
    for (int y = 0; y < FONT5X7_H; y++)
        for (int x = 0; x < FONT5X7_W; x++)
            if ((g[y] >> (FONT5X7_W - 1 - x) & 1) != (art[y][x] == '#')) return 0;
    return 1;
}

START_TEST(test_glyphs)
{
    static const char *const A[] = { ".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#" };
    static const char *const q[] = { ".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.." };
    static const char *const dot[] = { ".....", ".....", ".....", ".....", ".....", ".##..", ".##.." };
    static const char *const box[] = { "#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####" };
    static const char *const blank[] = { ".....", ".....", ".....", ".....", ".....", ".....", "....." };
    ck_assert(glyph_is('A', A));
    ck_assert(glyph_is('?', q));
    ck_assert(glyph_is('.', dot));
    ck_assert(glyph_is(' ', blank));
    const unsigned char others[] = { 0, '\t', '\n', 0x1f, 0x7f, 0x80, 0xc3, 0xe2, 0xff };
    for (size_t i = 0; i < sizeof others; i++) ck_assert_msg(glyph_is(others[i], box), "byte 0x%02x", others[i]);
    /* every printable glyph within 5 columns, inked but the space, and unlike every other and the box */
    for (int c = '!'; c <= '~'; c++) {
        const unsigned char *g = font5x7_glyph((unsigned char)c);
        int ink = 0;
        for (int y = 0; y < FONT5X7_H; y++) ck_assert_msg(g[y] < 1 << FONT5X7_W, "'%c' row %d", c, y), ink |= g[y];
        ck_assert_msg(ink, "'%c' is blank", c);
        ck_assert_msg(memcmp(g, font5x7_glyph(0x80), FONT5X7_H), "'%c' is the box", c);
        for (int d = ' '; d < c; d++)
            ck_assert_msg(memcmp(g, font5x7_glyph((unsigned char)d), FONT5X7_H), "'%c' and '%c' alike", c, d);
    }
}
END_TEST

enum { ROWS = 40, COLS = 160, GUARD = 64 };
static unsigned char pic[ROWS * COLS * 3 + GUARD];
static const unsigned char white[3] = { 255, 255, 255 };

/* The picture filled with 7 (its guard past the end with 9). */
static void clear(void)
{
    memset(pic, 7, ROWS * COLS * 3);
    memset(pic + ROWS * COLS * 3, 9, GUARD);
}

/* Whether the scale x scale cell (gx, gy) of the glyph at (x, y) is white (on) or untouched (off) throughout. */
static int cell_is(int x, int y, int scale, int gx, int gy, int on)
{
    for (int py = y + gy * scale; py < y + (gy + 1) * scale; py++)
        for (int px = x + gx * scale; px < x + (gx + 1) * scale; px++)
            for (int c = 0; c < 3; c++)
                if (pic[((size_t)py * COLS + px) * 3 + c] != (on ? 255 : 7)) return 0;
    return 1;
}

/* Whether the glyph of byte c is drawn at (x, y) at scale, pixel for pixel. */
static int drawn(unsigned char c, int x, int y, int scale)
{
    const unsigned char *g = font5x7_glyph(c);
    for (int gy = 0; gy < FONT5X7_H; gy++)
        for (int gx = 0; gx < FONT5X7_W; gx++)
            if (!cell_is(x, y, scale, gx, gy, g[gy] >> (FONT5X7_W - 1 - gx) & 1)) return 0;
    return 1;
}

/* The pixels written: those that are not 7. */
static int written(void)
{
    int n = 0;
    for (int i = 0; i < ROWS * COLS * 3; i++) n += pic[i] != 7;
    return n;
}

START_TEST(test_draw)
{
    /* each glyph at its place, scaled, nothing else written; the width (glyphs * 6 - 1) * scale */
    for (int scale = 1; scale <= 3; scale++) {
        clear();
        ck_assert_int_eq(font5x7_draw(pic, ROWS, COLS, 3, 2, scale, white, "Hi?", COLS), (3 * 6 - 1) * scale);
        for (int g = 0; g < 3; g++) ck_assert_msg(drawn((unsigned char)"Hi?"[g], 3 + g * 6 * scale, 2, scale), "%d", g);
        int ink = 0;
        for (const char *s = "Hi?"; *s; s++)
            for (int y = 0; y < FONT5X7_H; y++) ink += __builtin_popcount(font5x7_glyph((unsigned char)*s)[y]);
        ck_assert_int_eq(written(), ink * scale * scale * 3);
    }
    /* measured without a picture: the same width, nothing drawn */
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 2, white, "pool5 kept", 1000), (10 * 6 - 1) * 2);
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, "", 1000), 0);
    /* UTF-8: a character one glyph, the box (café: 4; a stray continuation byte a glyph of its own) */
    clear();
    ck_assert_int_eq(font5x7_draw(pic, ROWS, COLS, 0, 0, 1, white, "caf\xc3\xa9!", COLS), 5 * 6 - 1);
    ck_assert(drawn('f', 12, 0, 1) && drawn(0x80, 18, 0, 1) && drawn('!', 24, 0, 1));
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, "\xe2\x82\xac\xf0\x9f\x90\x88", 1000), 2 * 6 - 1);
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, "a\x80" "b", 1000), 3 * 6 - 1);
}
END_TEST

START_TEST(test_cut)
{
    const char *text = "abcdefghij"; /* 10 glyphs: 59 columns */
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, text, 59), 59);
    /* one column short: 9 fit, the first 6 and "..." */
    clear();
    ck_assert_int_eq(font5x7_draw(pic, ROWS, COLS, 0, 0, 1, white, text, 58), 9 * 6 - 1);
    for (int g = 0; g < 9; g++) ck_assert_msg(drawn(g < 6 ? (unsigned char)text[g] : '.', g * 6, 0, 1), "glyph %d", g);
    ck_assert(cell_is(9 * 6, 0, 6, 0, 0, 0)); /* (nothing after) */
    /* at scale 2: (width / 2 + 1) / 6 glyphs */
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 2, white, text, 60), (5 * 6 - 1) * 2);
    /* fewer than 4 fit: the first ones, no dots; none fit: nothing */
    clear();
    ck_assert_int_eq(font5x7_draw(pic, ROWS, COLS, 0, 0, 1, white, text, 17), 3 * 6 - 1);
    ck_assert(drawn('a', 0, 0, 1) && drawn('b', 6, 0, 1) && drawn('c', 12, 0, 1));
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, text, 4), 0);
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, text, 5), 5);
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, text, -1), 0);
    /* a multi-byte character cut whole: its bytes one glyph either way */
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 29), 29);
    ck_assert_int_eq(font5x7_draw(NULL, 0, 0, 0, 0, 1, white, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 28), 23);
}
END_TEST

START_TEST(test_clip)
{
    /* over every edge: what falls inside drawn, nothing written outside (the guard past the end as it was) */
    clear();
    font5x7_draw(pic, ROWS, COLS, -3, -4, 2, white, "A", COLS); /* (its rows 2 and 3 at the top: "#...#", "#####") */
    for (int x = 0; x < 8; x++) {
        ck_assert_int_eq(pic[(size_t)x * 3], x == 5 || x == 6 ? 255 : 7);
        ck_assert_int_eq(pic[((size_t)2 * COLS + x) * 3], x < 7 ? 255 : 7);
    }
    font5x7_draw(pic, ROWS, COLS, COLS - 4, ROWS - 5, 3, white, "WWW", 1000);
    for (int i = 0; i < GUARD; i++) ck_assert_int_eq(pic[ROWS * COLS * 3 + i], 9);
    ck_assert_int_eq(pic[((size_t)(ROWS - 5) * COLS + COLS - 4) * 3], 255); /* ('W''s top left) */
    font5x7_draw(pic, ROWS, COLS, 10, 10, 0, white, "A", 1000); /* (scale 0: nothing) */
    ck_assert_int_eq(pic[((size_t)10 * COLS + 10) * 3], 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("font");
    TCase *tc = tcase_create("font5x7");
    tcase_add_test(tc, test_glyphs);
    tcase_add_test(tc, test_draw);
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_clip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
