/* kernels/maxpool.cl against host/ref/maxpool_ref.c: VGG's 2/2/0 (the
 * vectorized maxpool2x2, with full 8-output blocks and partial ones), odd
 * sizes (floor like PyTorch), padding, ceil_mode, batch > 1, and NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "ref/ref.h"
#include "test_util.h"

static const struct { int N, C, H, W, k, s, p, ceil; } shapes[] = {
    { 1, 1, 2, 2, 2, 2, 0, 0 },   { 2, 3, 9, 7, 2, 2, 0, 0 },  { 1, 5, 7, 9, 3, 2, 1, 0 },
    { 2, 4, 8, 7, 3, 2, 1, 1 },   { 1, 2, 5, 5, 2, 2, 0, 1 },  { 3, 7, 1, 1, 1, 1, 0, 0 },
    { 1, 3, 224, 224, 2, 2, 0, 0 }, { 1, 2, 10, 11, 3, 3, 0, 1 }, { 2, 64, 15, 15, 2, 2, 0, 0 },
    { 1, 1, 6, 6, 3, 3, 1, 1 },   { 2, 3, 33, 35, 2, 2, 0, 0 }, { 1, 2, 16, 16, 2, 2, 0, 1 },
    { 1, 1, 3, 17, 2, 2, 0, 0 },
    /* ceil_mode windows hanging past a map smaller than them (PyTorch: 1x1 out; they were refused) */
    { 2, 3, 1, 1, 2, 2, 0, 1 }, { 1, 2, 2, 3, 3, 2, 0, 1 },
    /* N x C past VGGCL_GRID_ROWS (launches of 65535 rows each, the last of 1026) and past it once */
    { 129, 1024, 2, 2, 2, 2, 0, 0 }, { 67, 1000, 3, 3, 3, 2, 1, 1 },
};

/* PyTorch's output sizes (torch.nn.functional.max_pool2d on the same shapes). */
START_TEST(test_pool_out_size)
{
    ck_assert_int_eq(vggcl__pool_out_size(7, 2, 2, 0, 0), 3);
    ck_assert_int_eq(vggcl__pool_out_size(7, 2, 2, 0, 1), 4);
    ck_assert_int_eq(vggcl__pool_out_size(6, 3, 3, 1, 1), 3); /* last window would start in padding only */
    ck_assert_int_eq(vggcl__pool_out_size(5, 3, 2, 1, 0), 3);
    ck_assert_int_eq(vggcl__pool_out_size(1, 2, 2, 0, 0), 0); /* too small */
    ck_assert_int_eq(vggcl__pool_out_size(1, 2, 2, 0, 1), 1); /* ceil_mode: the window may hang past the end */
    ck_assert_int_eq(vggcl__pool_out_size(2, 3, 2, 0, 1), 1);
    ck_assert_int_eq(vggcl__pool_out_size(3, 3, 2, 0, 1), 1);
    ck_assert_int_eq(vggcl__pool_out_size(4, 3, 2, 0, 1), 2);
    ck_assert_int_eq(vggcl__pool_out_size(1, 3, 3, 0, 1), 1);
    ck_assert_int_eq(vggcl__pool_out_size(2, 2, 1, 2, 0), 0); /* padding past half the window: PyTorch refuses */
    ck_assert_int_eq(vggcl__pool_out_size(5, 0, 1, 0, 0), 0);
}
END_TEST

/* _i: 0 as the device allows, 1 and 2 a driver that runs these kernels in groups of at most 16 and 4
 * items (kernel_wg_cap: the launcher's narrower local sizes). */
START_TEST(test_pool_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    if (_i) ctx->kernel_wg_cap = _i == 1 ? 16 : 4;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int N = shapes[i].N, C = shapes[i].C, H = shapes[i].H, W = shapes[i].W;
        const int k = shapes[i].k, s = shapes[i].s, p = shapes[i].p, ceil_mode = shapes[i].ceil;
        const int OH = vggcl__pool_out_size(H, k, s, p, ceil_mode), OW = vggcl__pool_out_size(W, k, s, p, ceil_mode);
        const size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * OH * OW;
        float *in = malloc(nin * 4), *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, (unsigned)i, -1, 1);
        /* PyTorch propagates NaN through max pooling: in an even and an odd column (the 2x2 kernel's two lanes),
         * and in row 0's last column, which an odd width floors away (its window's max stays finite); a
         * window all -inf stays -inf */
        if (nin > 3) in[nin / 2] = NAN;
        if (nin > 7) in[nin / 3 | 1] = NAN;
        if (W > 2) in[W - 1] = NAN;
        if (H >= 2 && W >= 6) in[2] = in[3] = in[W + 2] = in[W + 3] = -INFINITY;
        vggcl__ref_maxpool2d(in, expected, N, C, H, W, k, s, p, ceil_mode);
        cl_mem d_in = tu_upload(ctx, in, nin), d_out = tu_alloc(ctx, nout);
        vggcl_status st = vggcl__cl_maxpool2d(ctx, "test pool", d_in, d_out, N, C, H, W, k, s, p, ceil_mode);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        /* a max is exact: no tolerance */
        ck_assert_msg(tu_compare("maxpool2d", expected, got, N, C, OH, OW, 0, 0),
                      "maxpool N=%d C=%d %dx%d k=%d s=%d p=%d ceil=%d differs", N, C, H, W, k, s, p, ceil_mode);
        clReleaseMemObject(d_in), clReleaseMemObject(d_out);
        free(in), free(expected), free(got);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_pool_reference_by_hand)
{
    const float in[12] = { 1, 5, 2, 0, 3, 4, 9, 8, -1, -2, 7, 6 }; /* 3x4 */
    float out[2];
    vggcl__ref_maxpool2d(in, out, 1, 1, 3, 4, 2, 2, 0, 0); /* floor: 1x2, the last row is dropped */
    ck_assert_float_eq(out[0], 5);
    ck_assert_float_eq(out[1], 9);
}
END_TEST

START_TEST(test_pool_too_small)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    /* parameters PyTorch refuses: said as such (they were "input smaller than the window") */
    cl_mem one = tu_alloc(ctx, 16);
    ck_assert_int_eq(vggcl__cl_maxpool2d(ctx, "test pool", one, one, 1, 1, 4, 4, 2, 1, 2, 0), VGGCL_ERR_ARG);
    ck_assert_msg(strstr(vggcl_message(ctx), "padding of at most half the window"), "%s", vggcl_message(ctx));
    clReleaseMemObject(one);
    cl_mem a = tu_alloc(ctx, 4), b = tu_alloc(ctx, 4);
    ck_assert_int_eq(vggcl__cl_maxpool2d(ctx, "layer x", a, b, 1, 1, 1, 1, 2, 2, 0, 0), VGGCL_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), "layer x"));
    clReleaseMemObject(a), clReleaseMemObject(b);
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maxpool2d");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pool_out_size);
    tcase_add_loop_test(tc, test_pool_shapes, 0, 3);
    tcase_add_test(tc, test_pool_reference_by_hand);
    tcase_add_test(tc, test_pool_too_small);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
