/* kernels/conv3x3.cl, and the im2col + SGEMM path, against
 * host/ref/conv3x3_ref.c over a table of shapes:
 * odd sizes, channel counts around the kernel's 16-channel block, widths
 * around its 16- and 32-pixel rows (and past two whole rows of 32), batch 1
 * and > 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "ref/ref.h"
#include "conv_case.h"
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
    { 2, 5, 17, 3, 97 }, /* two whole 32-pixel rows inside the map (the direct kernel's vector loads at PX 32) */
};

/* _i: the device path, VGGCL_CONV_DIRECT or VGGCL_CONV_GEMM (im2col + SGEMM,
 * which sums the same C_in*9 products in float, so the same tolerances hold).
 * With the defaults, then with each setting the tuner may choose (the direct
 * kernel's PX 16 on maps wider than 16 and 32 on narrower ones, which the
 * defaults never take). */
START_TEST(test_conv_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = vggcl__conv_candidates(ctx, _i, shapes[s].C_in, shapes[s].C_out, NULL, 0);
        vggcl_conv_params *all = calloc((size_t)n + 1, sizeof *all);
        ck_assert_ptr_nonnull(all);
        vggcl__conv_candidates(ctx, _i, shapes[s].C_in, shapes[s].C_out, all, n);
        ck_assert_int_ge(n, _i == VGGCL_CONV_DIRECT ? 2 : 0);
        for (int c = -1; c < n; c++) {
            char text[200] = "defaults";
            if (c >= 0) vggcl__conv_params_str(_i, &all[c], text, sizeof text);
            ck_assert_msg(conv_case(ctx, _i, c < 0 ? NULL : &all[c], shapes[s].N, shapes[s].C_in, shapes[s].C_out,
                                    shapes[s].H, shapes[s].W, 0, (unsigned)s, REL_L2, ELEM),
                          "conv3x3 (path %d, %s) N=%d C_in=%d C_out=%d H=%d W=%d differs from the reference", _i, text,
                          shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W);
        }
        free(all);
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
    vggcl__ref_conv3x3_bias_relu(in, w, &bias, out, 1, 1, 1, 3, 3);
    const float expected[9] = { 0, 1.5f, 0, 1.5f, 4.5f, 1.5f, 0, 1.5f, 0 };
    for (int i = 0; i < 9; i++) ck_assert_float_eq(out[i], expected[i]);
}
END_TEST

/* The reference's blocked rows (four outputs at a time, for speed) against its definition written out per output
 * in double: the same bits, NaN for NaN, on widths 1 to 13 (a row of one, of up to two whole blocks and each
 * remainder) and every shape of the table; each once with finite values (a term summed out of order shows) and
 * once with zeros, infinities and NaNs among them (which hide the order where they reach: at 64 channels, every
 * output). */
static float by_definition(const float *in, const float *w, float bias, int C_in, int H, int W, int oy, int ox)
{
    double acc = 0.0;
    for (int ic = 0; ic < C_in; ic++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const int iy = oy + ky - 1, ix = ox + kx - 1;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                    acc += (double)in[((size_t)ic * H + iy) * W + ix] * w[ic * 9 + ky * 3 + kx];
            }
    const double v = acc + bias;
    return v < 0.0 ? 0.0f : (float)v;
}

START_TEST(test_conv_reference_blocked)
{
    const size_t n_table = sizeof shapes / sizeof shapes[0];
    unsigned u = 99u;
    for (size_t t = 0; t < 2 * (n_table + 13); t++) {
        const int special = t >= n_table + 13; /* (the second round) */
        const size_t s = t % (n_table + 13);
        const int N = s < n_table ? shapes[s].N : 2, C_in = s < n_table ? shapes[s].C_in : 3,
                  C_out = s < n_table ? shapes[s].C_out : 2, H = s < n_table ? shapes[s].H : 3,
                  W = s < n_table ? shapes[s].W : (int)(s - n_table) + 1;
        const size_t n_in = (size_t)N * C_in * H * W, n_w = (size_t)C_out * C_in * 9, n_out = (size_t)N * C_out * H * W;
        float *in = malloc(n_in * sizeof *in), *w = malloc(n_w * sizeof *w), *b = malloc(C_out * sizeof *b),
              *out = malloc(n_out * sizeof *out);
        ck_assert(in && w && b && out);
        float *fill[3] = { in, w, b };
        const size_t count[3] = { n_in, n_w, (size_t)C_out };
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < count[k]; i++) {
                u = u * 1664525u + 1013904223u;
                /* (powers of two 2^-30, 1, 2^30 of either sign, mostly: their products cancel exactly in some
                 * orders and leave the small ones in others, so a sum in another order shows in the float) */
                const float x = u % 5 ? ldexpf(u & 256 ? -1.0f : 1.0f, (int)(u % 3) * 30 - 30)
                                      : ((float)(u >> 9) / 8388608.0f - 0.5f) * powf(10.0f, (float)(u % 20) - 10.0f);
                fill[k][i] = special && k < 2 && u % 97 == 0 ? (u % 3 == 0 ? NAN : u % 3 == 1 ? -INFINITY : 0.0f) : x;
            }
        vggcl__ref_conv3x3_bias_relu(in, w, b, out, N, C_in, C_out, H, W);
        for (int n = 0; n < N; n++)
            for (int oc = 0; oc < C_out; oc++)
                for (int oy = 0; oy < H; oy++)
                    for (int ox = 0; ox < W; ox++) {
                        const float want = by_definition(in + (size_t)n * C_in * H * W, w + (size_t)oc * C_in * 9,
                                                         b[oc], C_in, H, W, oy, ox);
                        const float got = out[(((size_t)n * C_out + oc) * H + oy) * W + ox];
                        /* (said only when it differs: a passing ck_assert is a message Check writes and reads
                         * back, 124 thousand of them here) */
                        if (!(isnan(want) && isnan(got)) && memcmp(&want, &got, sizeof got))
                            ck_abort_msg("N=%d C_in=%d C_out=%d H=%d W=%d at (%d, %d, %d, %d): %a, by definition %a",
                                         N, C_in, C_out, H, W, n, oc, oy, ox, got, want);
                    }
        free(in), free(w), free(b), free(out);
    }
}
END_TEST

/* Every algorithm at a batch whose launches have more than VGGCL_GRID_ROWS work-groups in a second or
 * third dimension (2049 images x 32 blocks of 16 output channels: the direct kernel's third, the packed
 * layout's conversions' second), which vggcl__enqueue makes as several launches through the global offset
 * (one past CUDA's 65535 rows failed on NVIDIA's OpenCL, or would); with the max pool folded in where the
 * algorithm folds it. */
START_TEST(test_conv_many_rows)
{
    static const int algos[] = { VGGCL_CONV_DIRECT, VGGCL_CONV_GEMM, VGGCL_CONV_WINOGRAD, VGGCL_CONV_WINOGRAD_GPU,
                                 VGGCL_CONV_WINOGRAD_PACKED };
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
        for (int pool = 0; pool <= vggcl__conv_algo(algos[a])->fuses_pool; pool++)
            ck_assert_msg(conv_case(ctx, algos[a], NULL, 2049, 1, 512, 2, 2, pool, 7u + (unsigned)a, REL_L2, ELEM),
                          "algorithm %d (pool %d) on 2049 images of 1 -> 512 channels differs from the reference",
                          algos[a], pool);
    vggcl_ctx_free(ctx);
}
END_TEST

/* Every algorithm with its launches split down to one work-group row each (the context's grid_rows
 * lowered from VGGCL_GRID_ROWS): a kernel that indexes a second or third dimension by get_group_id (as
 * wino_gpu_gemm did) computes its first rows again and leaves the last unwritten. Remainders in every
 * size, a batch of 3, with and without the pool folded in. */
START_TEST(test_conv_split_launches)
{
    static const int algos[] = { VGGCL_CONV_DIRECT, VGGCL_CONV_GEMM, VGGCL_CONV_WINOGRAD, VGGCL_CONV_WINOGRAD_GPU,
                                 VGGCL_CONV_WINOGRAD_PACKED };
    vggcl_ctx *ctx = tu_cl_ctx();
    ctx->grid_rows = 1;
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
        for (int pool = 0; pool <= vggcl__conv_algo(algos[a])->fuses_pool; pool++)
            ck_assert_msg(conv_case(ctx, algos[a], NULL, 3, 5, 37, 9, 11, pool, 17u + (unsigned)a, REL_L2, ELEM),
                          "algorithm %d (pool %d), its launches split into rows, differs from the reference", algos[a],
                          pool);
    vggcl_ctx_free(ctx);
}
END_TEST

/* The gemm path where CLBlast's 32-bit offsets end (lowered here to blas_reach floats, from INT_MAX: 2^31
 * floats take 8 GiB): at the reach of one product's padded copies (49152 floats for 3 -> 7 channels at
 * 9x7), the images whose place in the output lies past it (111 to 113 of 114) go through the second
 * workspace and a copy, the others straight into the output, all as the reference; one float less and
 * the map is refused, naming the layer and the limit. */
START_TEST(test_conv_gemm_reach)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    ctx->blas_reach = vggcl__sgemm_temp_floats(7, 63, 27);
    ck_assert_uint_eq(ctx->blas_reach, 49152);
    ck_assert(conv_case(ctx, VGGCL_CONV_GEMM, NULL, 114, 3, 7, 9, 7, 0, 11u, REL_L2, ELEM));
    ctx->blas_reach--;
    vggcl_conv_params p;
    vggcl__conv_defaults(ctx, VGGCL_CONV_GEMM, 5, 3, 7, 9, 7, &p);
    vggcl_conv_call call = { NULL, NULL, NULL, NULL, { NULL, NULL }, 5, 3, 7, 9, 7, 0 };
    ck_assert_int_eq(vggcl__conv_algo(VGGCL_CONV_GEMM)->launch(ctx, "layer features.0", &p, &call), VGGCL_ERR_SHAPE);
    ck_assert_str_eq(vggcl_message(ctx), "layer features.0: gemm (CLBlast) indexes its matrices in 32 bits: (7 x 27) "
                                         "weights times a (27 x 63) image, padded, is past 49151 floats; another "
                                         "--conv runs it");
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv3x3");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_conv_shapes, VGGCL_CONV_DIRECT, VGGCL_CONV_DIRECT + 1);
    tcase_add_loop_test(tc, test_conv_shapes, VGGCL_CONV_GEMM, VGGCL_CONV_GEMM + 1);
    tcase_add_test(tc, test_conv_reference_by_hand);
    tcase_add_test(tc, test_conv_reference_blocked);
    tcase_add_test(tc, test_conv_many_rows);
    tcase_add_test(tc, test_conv_split_launches);
    tcase_add_test(tc, test_conv_gemm_reach);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
