/* The dense layers against host/ref/dense_ref.c, on each path (kernels/dense.cl's
 * dense; CLBlast SGEMM + bias_add; the automatic choice): widths 1 to 25088,
 * batch 1 to 8, with and without ReLU. */
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"
#include "test_util.h"

/* K float products summed in float vs double: well under 1e-5 for K <= 512. */
#define REL_L2 1e-5
#define ELEM 1e-4

static const struct { int N, K, C; } shapes[] = {
    { 1, 1, 1 }, { 1, 512, 7 }, { 3, 7, 5 }, { 8, 512, 1000 }, { 5, 33, 17 }, { 5, 130, 13 }, { 2, 4096, 3 },
    { 2, 25088, 40 }, { 1, 25088, 700 }, /* past VGGCL_DENSE_SMALL_MACS: SGEMM when automatic */
};

/* _i: the path (VGGCL_DENSE_AUTO, _SMALL, _SGEMM). */
START_TEST(test_dense_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    /* the small kernel where the driver allows it 16 items a group (built again with DENSE_WG 16) */
    if (_i == VGGCL_DENSE_SGEMM + 1) ctx->kernel_wg_cap = 16;
    for (size_t i = 0; i < 2 * sizeof shapes / sizeof shapes[0]; i++) {
        const int relu = i % 2; /* every shape without and with the hidden layers' ReLU */
        const int N = shapes[i / 2].N, K = shapes[i / 2].K, C = shapes[i / 2].C;
        float *in = malloc((size_t)N * K * 4), *w = malloc((size_t)C * K * 4), *b = malloc((size_t)C * 4);
        float *expected = malloc((size_t)N * C * 4), *got = malloc((size_t)N * C * 4);
        tu_fill(in, (size_t)N * K, (unsigned)i, 0, 1);
        tu_fill(w, (size_t)C * K, 50 + (unsigned)i, -0.1f, 0.1f);
        tu_fill(b, (size_t)C, 90 + (unsigned)i, -1, 1);
        vggcl__ref_dense(in, w, b, expected, N, K, C, relu);
        cl_mem d_in = tu_upload(ctx, in, (size_t)N * K), d_w = tu_upload(ctx, w, (size_t)C * K);
        cl_mem d_b = tu_upload(ctx, b, (size_t)C), d_out = tu_alloc(ctx, (size_t)N * C);
        const int path = _i > VGGCL_DENSE_SGEMM ? VGGCL_DENSE_SMALL : _i;
        vggcl_status st = vggcl__cl_dense_with(ctx, "test dense", d_in, d_w, d_b, d_out, N, K, C, relu, path);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, (size_t)N * C);
        ck_assert_msg(tu_compare("dense", expected, got, N, C, 1, 1, REL_L2, ELEM),
                      "dense N=%d K=%d C=%d relu=%d (path %d) differs", N, K, C, relu, _i);
        clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
        free(in), free(w), free(b), free(expected), free(got);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_dense_reference_by_hand)
{
    const float in[4] = { 1, 2, 3, 4 };           /* (2, 2) */
    const float w[6] = { 1, 0, 0, 1, 1, -1 };     /* (3, 2) */
    const float b[3] = { 0.5f, 0, 10 };
    float out[6];
    vggcl__ref_dense(in, w, b, out, 2, 2, 3, 0);
    const float expected[6] = { 1.5f, 2, 9, 3.5f, 4, 9 };
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], expected[i]);
}
END_TEST

/* A layer past the small kernel's size that CLBlast cannot address (its offsets are 32-bit: a head of 100000
 * classes on 25088 features; lowered here to blas_reach floats): the automatic choice takes the small kernel,
 * which indexes in size_t (the pass failed, "past its reach"). */
START_TEST(test_dense_past_blas_reach)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    const int N = 1, K = 25088, C = 700;
    ck_assert(vggcl__dense_uses_sgemm(ctx, N, K, C));
    ctx->blas_reach = vggcl__sgemm_temp_floats((size_t)N, (size_t)C, (size_t)K) - 1;
    ck_assert(!vggcl__dense_uses_sgemm(ctx, N, K, C));
    float *in = malloc((size_t)N * K * 4), *w = malloc((size_t)C * K * 4), *b = malloc((size_t)C * 4);
    float *expected = malloc((size_t)N * C * 4), *got = malloc((size_t)N * C * 4);
    tu_fill(in, (size_t)N * K, 7, 0, 1);
    tu_fill(w, (size_t)C * K, 8, -0.1f, 0.1f);
    tu_fill(b, (size_t)C, 9, -1, 1);
    vggcl__ref_dense(in, w, b, expected, N, K, C, 0);
    cl_mem d_in = tu_upload(ctx, in, (size_t)N * K), d_w = tu_upload(ctx, w, (size_t)C * K);
    cl_mem d_b = tu_upload(ctx, b, (size_t)C), d_out = tu_alloc(ctx, (size_t)N * C);
    vggcl_status st = vggcl__cl_dense(ctx, "test dense", d_in, d_w, d_b, d_out, N, K, C, 0);
    ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
    tu_download(ctx, d_out, got, (size_t)N * C);
    ck_assert(tu_compare("dense", expected, got, N, C, 1, 1, REL_L2, ELEM));
    clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
    free(in), free(w), free(b), free(expected), free(got);
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dense");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_dense_shapes, VGGCL_DENSE_AUTO, VGGCL_DENSE_SGEMM + 2);
    tcase_add_test(tc, test_dense_reference_by_hand);
    tcase_add_test(tc, test_dense_past_blas_reach);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
