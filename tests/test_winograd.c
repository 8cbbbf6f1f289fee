/* kernels/winograd.cl (F(4x4, 3x3) + bias + ReLU) against the same plain-C
 * reference as the direct convolution (host/ref/conv3x3_ref.c): sizes that
 * are not multiples of the 4x4 tile, tile counts around the transforms'
 * 8-tile groups and the GEMM's 16-tile block, channel counts around its
 * 16-channel work-item, batch 1 and > 1. */
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"
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
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s].N, C_in = shapes[s].C_in, C_out = shapes[s].C_out, H = shapes[s].H, W = shapes[s].W;
        const size_t nin = (size_t)N * C_in * H * W, nw = (size_t)C_out * C_in * 9, nout = (size_t)N * C_out * H * W;
        float *in = malloc(nin * 4), *weight = malloc(nw * 4), *bias = malloc(C_out * 4);
        float *expected = malloc(nout * 4), *got = malloc(nout * 4);
        float *packed = malloc(vggcl__wino_packed_floats(C_out, C_in) * 4);
        tu_fill(in, nin, (unsigned)s, -1, 1);
        tu_fill(weight, nw, 100 + (unsigned)s, -0.5f, 0.5f);
        tu_fill(bias, C_out, 200 + (unsigned)s, -0.2f, 0.2f);
        vggcl_ref_conv3x3_bias_relu(in, weight, bias, expected, N, C_in, C_out, H, W);
        vggcl__wino_pack_weights(weight, C_out, C_in, packed);
        size_t nv, nm;
        vggcl__wino_workspace_floats(N, C_in, C_out, H, W, &nv, &nm);
        cl_mem d_in = tu_upload(ctx, in, nin), d_b = tu_upload(ctx, bias, C_out);
        cl_mem d_w = tu_upload(ctx, packed, vggcl__wino_packed_floats(C_out, C_in));
        cl_mem d_out = tu_alloc(ctx, nout), d_v = tu_alloc(ctx, nv), d_m = tu_alloc(ctx, nm);
        vggcl_status st = vggcl_cl_conv3x3_winograd(ctx, "test winograd", d_in, d_w, d_b, d_out, d_v, d_m, N, C_in,
                                                    C_out, H, W);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        ck_assert_msg(tu_compare("winograd", expected, got, N, C_out, H, W, REL_L2, ELEM),
                      "winograd N=%d C_in=%d C_out=%d H=%d W=%d differs from the reference", N, C_in, C_out, H, W);
        clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
        clReleaseMemObject(d_v), clReleaseMemObject(d_m);
        free(in), free(weight), free(bias), free(expected), free(got), free(packed);
    }
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
