/* kernels/conv3x3.cl, and the im2col + SGEMM path, against
 * host/ref/conv3x3_ref.c over a table of shapes:
 * odd sizes, channel counts around the kernel's OC_TILE (4), widths around the
 * launcher's local size (16), batch 1 and > 1. */
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"
#include "test_util.h"

/* Tolerances: the kernel sums C_in*9 float products in float, the reference in
 * double; with inputs in [-1, 1] the float error stays near sqrt(C_in*9) ulps,
 * far below 1e-5 relative L2. The per-element bound (1e-4 of |exp| + rms)
 * catches a single wrong pixel that L2 would average away. */
#define REL_L2 1e-5
#define ELEM 1e-4

static const struct { int N, C_in, C_out, H, W; } shapes[] = {
    { 1, 1, 1, 1, 1 },   { 1, 3, 7, 9, 7 },    { 2, 3, 64, 17, 15 }, { 3, 15, 16, 8, 8 },
    { 1, 16, 15, 33, 1 }, { 2, 7, 9, 1, 31 },  { 1, 64, 5, 5, 5 },   { 2, 1, 3, 2, 2 },
    { 1, 32, 33, 14, 14 }, { 4, 5, 4, 16, 16 }, { 1, 3, 1, 40, 37 },
};

START_TEST(test_conv_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s].N, C_in = shapes[s].C_in, C_out = shapes[s].C_out, H = shapes[s].H, W = shapes[s].W;
        const size_t nin = (size_t)N * C_in * H * W, nw = (size_t)C_out * C_in * 9, nout = (size_t)N * C_out * H * W;
        float *in = malloc(nin * 4), *weight = malloc(nw * 4), *bias = malloc(C_out * 4);
        float *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, (unsigned)s, -1, 1);
        tu_fill(weight, nw, 100 + (unsigned)s, -0.5f, 0.5f);
        tu_fill(bias, C_out, 200 + (unsigned)s, -0.2f, 0.2f);
        vggcl_ref_conv3x3_bias_relu(in, weight, bias, expected, N, C_in, C_out, H, W);
        float *packed = malloc(vggcl__conv_packed_floats(C_out, C_in) * 4);
        vggcl__conv_pack_weights(weight, C_out, C_in, packed);
        cl_mem d_in = tu_upload(ctx, in, nin), d_b = tu_upload(ctx, bias, C_out);
        cl_mem d_w = tu_upload(ctx, packed, vggcl__conv_packed_floats(C_out, C_in));
        free(packed);
        cl_mem d_out = tu_alloc(ctx, nout);
        vggcl_status st = vggcl_cl_conv3x3_bias_relu(ctx, "test conv", d_in, d_w, d_b, d_out, N, C_in, C_out, H, W);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        ck_assert_msg(tu_compare("conv3x3", expected, got, N, C_out, H, W, REL_L2, ELEM),
                      "conv3x3 N=%d C_in=%d C_out=%d H=%d W=%d differs from the reference", N, C_in, C_out, H, W);
        clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
        free(in), free(weight), free(bias), free(expected), free(got);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

/* The `--conv gemm` path (im2col + CLBlast SGEMM + bias/ReLU) over the same
 * shapes, with the same tolerances: SGEMM sums C_in*9 products in float too. */
START_TEST(test_conv_gemm_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s].N, C_in = shapes[s].C_in, C_out = shapes[s].C_out, H = shapes[s].H, W = shapes[s].W;
        const size_t nin = (size_t)N * C_in * H * W, nw = (size_t)C_out * C_in * 9, nout = (size_t)N * C_out * H * W;
        float *in = malloc(nin * 4), *weight = malloc(nw * 4), *bias = malloc(C_out * 4);
        float *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, (unsigned)s, -1, 1);
        tu_fill(weight, nw, 100 + (unsigned)s, -0.5f, 0.5f);
        tu_fill(bias, C_out, 200 + (unsigned)s, -0.2f, 0.2f);
        vggcl_ref_conv3x3_bias_relu(in, weight, bias, expected, N, C_in, C_out, H, W);
        cl_mem d_in = tu_upload(ctx, in, nin), d_b = tu_upload(ctx, bias, C_out), d_w = tu_upload(ctx, weight, nw);
        cl_mem d_out = tu_alloc(ctx, nout), d_col = tu_alloc(ctx, vggcl__gemm_workspace_floats(C_in, H, W));
        vggcl_status st = vggcl_cl_conv3x3_gemm(ctx, "test conv gemm", d_in, d_w, d_b, d_out, d_col, N, C_in, C_out,
                                                H, W);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        ck_assert_msg(tu_compare("conv3x3 gemm", expected, got, N, C_out, H, W, REL_L2, ELEM),
                      "conv3x3 gemm N=%d C_in=%d C_out=%d H=%d W=%d differs from the reference", N, C_in, C_out, H, W);
        clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
        clReleaseMemObject(d_col);
        free(in), free(weight), free(bias), free(expected), free(got);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

/* The reference itself, on a case small enough to work by hand: a 1-channel
 * 3x3 input of ones, weights of ones, bias -4.5. Padding makes the corner see
 * 4 inputs, the edge 6 and the centre 9; ReLU clips the corner. */
START_TEST(test_conv_reference_by_hand)
{
    float in[9], w[9], bias = -4.5f, out[9];
    for (int i = 0; i < 9; i++) in[i] = w[i] = 1.0f;
    vggcl_ref_conv3x3_bias_relu(in, w, &bias, out, 1, 1, 1, 3, 3);
    const float expected[9] = { 0, 1.5f, 0, 1.5f, 4.5f, 1.5f, 0, 1.5f, 0 };
    for (int i = 0; i < 9; i++) ck_assert_float_eq(out[i], expected[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv3x3");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_conv_shapes);
    tcase_add_test(tc, test_conv_gemm_shapes);
    tcase_add_test(tc, test_conv_reference_by_hand);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
