/* kernels/winograd.cl (F(4x4, 3x3) + bias + ReLU) against the same plain-C
 * reference as the direct convolution (host/ref/conv3x3_ref.c): sizes that
 * are not multiples of the 4x4 tile, tile counts around the transforms'
 * 8-tile groups and the GEMM's 16-tile block, channel counts around its
 * 16-channel work-item, batch 1 and > 1. */
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"
#include "conv_case.h"
#include "test_util.h"

/* Winograd adds transform rounding to the float sums: with inputs in [-1, 1]
 * the error stays around 1e-6 relative, within the direct kernel's 1e-5. */
#define REL_L2 1e-5
#define ELEM 1e-3

static const struct { int N, C_in, C_out, H, W; } shapes[] = {
    { 1, 1, 1, 1, 1 },    { 1, 3, 7, 9, 7 },     { 2, 16, 17, 8, 8 },   { 1, 32, 15, 14, 14 },
    { 3, 5, 33, 5, 13 },  { 1, 64, 64, 28, 28 }, { 2, 17, 16, 16, 15 }, { 1, 8, 3, 4, 4 },
    { 1, 128, 32, 7, 7 }, { 2, 3, 16, 33, 31 },
    /* 9 tiles per row: 8-tile groups that straddle a 16-tile GEMM block; and
     * rows wide enough for the transforms' unguarded vector loads and stores */
    { 1, 16, 20, 40, 35 }, { 2, 20, 18, 18, 36 }, { 1, 32, 16, 64, 72 },
};

START_TEST(test_winograd_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        ck_assert_msg(conv_case(ctx, VGGCL_CONV_WINOGRAD, shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H,
                                shapes[s].W, (unsigned)s, REL_L2, ELEM),
                      "winograd N=%d C_in=%d C_out=%d H=%d W=%d differs from the reference", shapes[s].N,
                      shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W);
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_winograd_shapes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
