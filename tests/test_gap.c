/* kernels/gap.cl against host/ref/gap_ref.c: maps from 1x1 to 224x224, odd
 * sizes, batch > 1; the large maps take the two-stage path (asserted). */
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"
#include "test_util.h"

/* The tree sums in float; the reference in double. For up to 50176 values in
 * [0, 1] the float error is around 1e-7 relative. */
#define REL_L2 1e-5
#define ELEM 1e-5

static const struct { int N, C, H, W, two_stage; } shapes[] = {
    { 1, 1, 1, 1, 0 },   { 2, 3, 7, 7, 0 },      { 1, 5, 14, 14, 0 },   { 3, 7, 9, 13, 0 },
    { 1, 3, 224, 224, 1 }, { 2, 2, 112, 111, 1 }, { 1, 1, 1, 4097, 1 }, { 4, 512, 7, 7, 0 },
    { 1, 2, 64, 64, 0 },  { 1, 1, 65, 65, 1 },
};

START_TEST(test_gap_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int N = shapes[i].N, C = shapes[i].C, H = shapes[i].H, W = shapes[i].W;
        const size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C;
        const size_t partial = vggcl_cl_gap_partial_floats(ctx, N, C, H, W);
        ck_assert_msg((partial > 0) == shapes[i].two_stage, "%dx%d: expected the %s path", H, W,
                      shapes[i].two_stage ? "two-stage" : "one-stage");
        float *in = malloc(nin * 4), *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, (unsigned)i, 0, 1);
        vggcl_ref_gap(in, expected, N, C, H, W);
        cl_mem d_in = tu_upload(ctx, in, nin), d_out = tu_alloc(ctx, nout);
        cl_mem d_part = partial ? tu_alloc(ctx, partial) : NULL;
        vggcl_status st = vggcl_cl_gap(ctx, "test gap", d_in, d_out, d_part, N, C, H, W);
        ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        ck_assert_msg(tu_compare("gap", expected, got, N, C, 1, 1, REL_L2, ELEM), "gap N=%d C=%d %dx%d differs", N,
                      C, H, W);
        clReleaseMemObject(d_in), clReleaseMemObject(d_out);
        if (d_part) clReleaseMemObject(d_part);
        free(in), free(expected), free(got);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_gap_reference_by_hand)
{
    const float in[8] = { 1, 2, 3, 6, -1, -1, 0, 6 }; /* (1, 2, 2, 2) */
    float out[2];
    vggcl_ref_gap(in, out, 1, 2, 2, 2);
    ck_assert_float_eq(out[0], 3.0f);
    ck_assert_float_eq(out[1], 1.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gap");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gap_shapes);
    tcase_add_test(tc, test_gap_reference_by_hand);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
