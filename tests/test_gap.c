/* kernels/gap.cl against host/ref/gap_ref.c: maps from 1x1 to 224x224, odd
 * sizes, batch > 1; the large maps take the two-stage path (asserted); and the
 * adaptive average pool of torchvision's original head. */
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
    /* N x C past VGGCL_GRID_ROWS: launches of 65535 rows each, the last of 1026 */
    { 129, 1024, 2, 2, 0 },
};

/* _i: 0 as the device allows, 1 and 2 a driver that runs the kernel in groups of at most 16 and 4 items
 * (kernel_wg_cap: the launcher halves its local size to fit). */
START_TEST(test_gap_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    if (_i) ctx->kernel_wg_cap = _i == 1 ? 16 : 4;
    /* one work-group of up to min(256, the device's maximum) items summing 16 values each per row, else two
     * stages (the table's flags are a device of 256 or more) */
    size_t most = 256;
    while (most > ctx->max_wg) most /= 2;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int N = shapes[i].N, C = shapes[i].C, H = shapes[i].H, W = shapes[i].W;
        const size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C;
        const size_t partial = vggcl__cl_gap_partial_floats(ctx, N, C, H, W);
        const int two_stage = (size_t)H * W > most * 16;
        ck_assert(most < 256 || two_stage == shapes[i].two_stage);
        ck_assert_msg((partial > 0) == two_stage, "%dx%d: expected the %s path", H, W,
                      two_stage ? "two-stage" : "one-stage");
        float *in = malloc(nin * 4), *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, (unsigned)i, 0, 1);
        vggcl__ref_gap(in, expected, N, C, H, W);
        cl_mem d_in = tu_upload(ctx, in, nin), d_out = tu_alloc(ctx, nout);
        cl_mem d_part = partial ? tu_alloc(ctx, partial) : NULL;
        vggcl_status st = vggcl__cl_gap(ctx, "test gap", d_in, d_out, d_part, N, C, H, W);
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

/* PyTorch's AdaptiveAvgPool2d to 7x7 (torchvision's original head): maps
 * smaller than, equal to and larger than 7, odd sizes, batch > 1. */
static const struct { int N, C, H, W; } adaptive[] = {
    { 1, 1, 1, 1 }, { 2, 3, 7, 7 }, { 1, 5, 14, 14 }, { 3, 2, 13, 9 }, { 1, 512, 4, 3 }, { 2, 4, 20, 31 }, { 67, 1000, 2, 3 },
};

START_TEST(test_adaptive_avgpool_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    if (_i) ctx->kernel_wg_cap = _i == 1 ? 16 : 1; /* (as test_gap_shapes; 1: the one-item branch) */
    for (size_t i = 0; i < sizeof adaptive / sizeof adaptive[0]; i++) {
        const int N = adaptive[i].N, C = adaptive[i].C, H = adaptive[i].H, W = adaptive[i].W;
        const size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * 49;
        float *in = malloc(nin * 4), *expected = malloc(nout * 4), *got = malloc(nout * 4);
        tu_fill(in, nin, 30 + (unsigned)i, 0, 1);
        vggcl__ref_adaptive_avgpool2d(in, expected, N, C, H, W, 7, 7);
        cl_mem d_in = tu_upload(ctx, in, nin), d_out = tu_alloc(ctx, nout);
        ck_assert_msg(vggcl__cl_adaptive_avgpool2d(ctx, "test adaptive", d_in, d_out, N, C, H, W, 7, 7) == VGGCL_OK, "%s",
                      vggcl_message(ctx));
        tu_download(ctx, d_out, got, nout);
        ck_assert_msg(tu_compare("adaptive avg pool", expected, got, N, C, 7, 7, REL_L2, ELEM),
                      "adaptive avg pool N=%d C=%d %dx%d differs", N, C, H, W);
        clReleaseMemObject(d_in), clReleaseMemObject(d_out);
        free(in), free(expected), free(got);
    }
    /* by hand: a 3x2 map pooled to 7x7 repeats each input over overlapping windows */
    const float small[6] = { 1, 2, 3, 4, 5, 6 };
    float out[49];
    vggcl__ref_adaptive_avgpool2d(small, out, 1, 1, 3, 2, 7, 7);
    ck_assert_float_eq(out[0], 1.0f);   /* rows [0, 1), cols [0, 1) */
    ck_assert_float_eq(out[3], 1.5f);   /* cols [0, 2) at ox = 3 */
    ck_assert_float_eq(out[48], 6.0f);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_gap_reference_by_hand)
{
    const float in[8] = { 1, 2, 3, 6, -1, -1, 0, 6 }; /* (1, 2, 2, 2) */
    float out[2];
    vggcl__ref_gap(in, out, 1, 2, 2, 2);
    ck_assert_float_eq(out[0], 3.0f);
    ck_assert_float_eq(out[1], 1.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gap");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_gap_shapes, 0, 3);
    tcase_add_test(tc, test_gap_reference_by_hand);
    tcase_add_loop_test(tc, test_adaptive_avgpool_shapes, 0, 3);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
