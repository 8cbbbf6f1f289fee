/* kernels/cam.cl against host/ref/cam_ref.c over a table of shapes (map
 * sizes 1x1 to 14x14 and odd, channel counts, batch > 1, per-image classes),
 * and vggcl_forward_cam on the device against the reference backend and
 * against the definition: the map's mean plus the bias is the class's logit. */
#include <math.h>
#include <stdlib.h>

#include "layers.h"
#include "model.h"
#include "ref/ref.h"
#include "test_util.h"

/* C float products summed in float against double */
#define REL_L2 1e-5
#define ELEM 1e-4

static const struct { int N, C, K, HW; } shapes[] = {
    { 1, 1, 1, 1 }, { 2, 7, 3, 49 }, { 3, 512, 7, 196 }, { 1, 33, 5, 15 }, { 4, 16, 2, 1 },
};

START_TEST(test_cam_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s].N, C = shapes[s].C, K = shapes[s].K, HW = shapes[s].HW;
        float *fmap = malloc(sizeof(float) * N * C * HW), *w = malloc(sizeof(float) * K * C);
        float *expected = malloc(sizeof(float) * N * HW), *got = malloc(sizeof(float) * N * HW);
        int *cls = malloc(sizeof(int) * N);
        tu_fill(fmap, (size_t)N * C * HW, (unsigned)s, 0, 2);
        tu_fill(w, (size_t)K * C, 9 + (unsigned)s, -1, 1);
        for (int n = 0; n < N; n++) cls[n] = (n * 2 + 1) % K;
        vggcl__ref_cam(fmap, w, cls, expected, N, C, HW);
        cl_int err;
        cl_mem d_f = tu_upload(ctx, fmap, (size_t)N * C * HW), d_w = tu_upload(ctx, w, (size_t)K * C);
        cl_mem d_o = tu_alloc(ctx, (size_t)N * HW);
        cl_mem d_c = clCreateBuffer(ctx->cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(int) * N, cls, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        ck_assert_msg(vggcl__cl_cam(ctx, "test cam", d_f, d_w, d_c, d_o, N, C, HW) == VGGCL_OK, "%s", vggcl_message(ctx));
        tu_download(ctx, d_o, got, (size_t)N * HW);
        ck_assert_msg(tu_compare("cam", expected, got, N, 1, 1, HW, REL_L2, ELEM), "cam N=%d C=%d HW=%d differs", N, C,
                      HW);
        clReleaseMemObject(d_f), clReleaseMemObject(d_w), clReleaseMemObject(d_o), clReleaseMemObject(d_c);
        free(fmap), free(w), free(expected), free(got), free(cls);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_forward_cam)
{
    const char *path = tu_tmp("cam.safetensors");
    tu_write_vgg(path, "8,M,12,M,16", 1, 4, 5, NULL);
    const int N = 3, H = 37, W = 30;
    for (int pool5 = 0; pool5 <= 1; pool5++) {
        vggcl_ctx *ref = vggcl_ctx_new(), *cl = tu_cl_ctx();
        ck_assert(vggcl_select_device(ref, "ref") == VGGCL_OK);
        vggcl_load_options o = { pool5 ? VGGCL_POOL5_KEEP : VGGCL_POOL5_DROP, NULL, VGGCL_CONV_AUTO, 0 };
        vggcl_model *mr, *mc;
        ck_assert(vggcl_model_load(ref, path, &o, &mr) == VGGCL_OK);
        ck_assert(vggcl_model_load(cl, path, &o, &mc) == VGGCL_OK);
        int mh, mw;
        vggcl_model_map_size(mr, H, W, &mh, &mw);
        ck_assert_int_eq(mh, pool5 ? 4 : 9); /* 37 -> 18 -> 9 (-> 4) */
        ck_assert_int_eq(mw, pool5 ? 3 : 7);
        float *x = malloc(sizeof(float) * N * 3 * H * W), yr[12], yc[12];
        float *cr = malloc(sizeof(float) * N * mh * mw), *cc = malloc(sizeof(float) * N * mh * mw);
        int chosen_r[3], chosen_c[3];
        const int classes[3] = { -1, 2, -1 };
        tu_fill(x, (size_t)N * 3 * H * W, 77, -2, 2);
        ck_assert(vggcl_forward_cam(ref, mr, x, N, H, W, yr, NULL, classes, cr, chosen_r) == VGGCL_OK);
        ck_assert_msg(vggcl_forward_cam(cl, mc, x, N, H, W, NULL, NULL, classes, cc, chosen_c) == VGGCL_OK, "%s",
                      vggcl_message(cl));
        ck_assert(vggcl_forward(cl, mc, x, N, H, W, yc, NULL) == VGGCL_OK);
        ck_assert(tu_compare("cam (device)", cr, cc, N, 1, mh, mw, 1e-5, 1e-4));
        ck_assert(tu_compare("logits (device)", yr, yc, N, 4, 1, 1, 1e-5, 1e-4));
        for (int n = 0; n < N; n++) {
            ck_assert_int_eq(chosen_r[n], chosen_c[n]);
            int top = 0;
            for (int c = 1; c < 4; c++) top = yr[n * 4 + c] > yr[n * 4 + top] ? c : top;
            ck_assert_int_eq(chosen_r[n], classes[n] < 0 ? top : classes[n]);
            /* the definition: mean of the map + the class's bias = the class's logit */
            double mean = 0;
            for (int p = 0; p < mh * mw; p++) mean += cr[n * mh * mw + p];
            mean /= mh * mw;
            const int k = chosen_r[n];
            ck_assert_msg(fabs(mean + mr->head_b[k] - yr[n * 4 + k]) < 1e-4 * (1 + fabs(yr[n * 4 + k])),
                          "image %d: mean(CAM) + bias %g != logit %g", n, mean + mr->head_b[k], yr[n * 4 + k]);
        }
        const int bad[3] = { 0, 4, 0 }; /* (the image named: which of the batch's did not say) */
        ck_assert_int_eq(vggcl_forward_cam(cl, mc, x, N, H, W, NULL, NULL, bad, cc, NULL), VGGCL_ERR_ARG);
        ck_assert_str_eq(vggcl_message(cl), "class 4 for image 1's CAM: the model has 4 classes (0 to 3)");
        /* a NaN logit is the top class, as torch.argmax (it was passed over for the largest number) */
        mr->head_b[1] = NAN;
        const int none[3] = { -1, -1, -1 };
        ck_assert(vggcl_forward_cam(ref, mr, x, N, H, W, yr, NULL, none, cr, chosen_r) == VGGCL_OK);
        for (int n = 0; n < N; n++) ck_assert_int_eq(chosen_r[n], 1);
        free(x), free(cr), free(cc);
        vggcl_model_free(mr), vggcl_model_free(mc);
        vggcl_ctx_free(ref), vggcl_ctx_free(cl);
    }
}
END_TEST

/* Drawing clamps to [0, 1] and draws NaN as 0 (it indexed the colour map with (int)NaN: a crash). */
START_TEST(test_cam_draw_clamps)
{
    const float norm[6] = { NAN, -INFINITY, -1, 0, 1, INFINITY }, mid[2] = { 2, 0.5f };
    const unsigned char rgb[3 * 8] = { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180 };
    unsigned char out[3 * 8], one[3 * 8];
    const float zeros[6] = { 0, 0, 0, 0, 0, 0 }, ones[6] = { 1, 1, 1, 1, 1, 1 };
    vggcl_cam_draw(norm, rgb, 1, 6, out);
    vggcl_cam_draw(zeros, rgb, 1, 6, one);
    ck_assert_mem_eq(out, one, 3 * 4); /* NaN, -inf, -1, 0: as 0 */
    vggcl_cam_draw(ones, rgb, 1, 6, one);
    ck_assert_mem_eq(out + 12, one + 12, 3 * 2); /* 1, inf: as 1 */
    vggcl_cam_draw(mid, rgb, 1, 2, out);
    ck_assert_mem_eq(out, one, 3); /* 2: as 1 */
    ck_assert(out[3] != one[3] || out[4] != one[4] || out[5] != one[5]);
}
END_TEST

/* A finite map spanning more than a float's range is normalized to [0, 1] (hi - lo overflowed a float:
 * the upsampled map came out 0 and NaN). */
START_TEST(test_cam_upsample_wide_range)
{
    const float cam[4] = { -3e38f, 1e38f, 2e38f, 3e38f };
    float up[5 * 7];
    vggcl_cam_upsample(cam, 2, 2, up, 5, 7);
    float lo = 1, hi = 0;
    for (int i = 0; i < 5 * 7; i++) {
        ck_assert_msg(up[i] >= 0 && up[i] <= 1, "up[%d] = %g", i, up[i]);
        lo = up[i] < lo ? up[i] : lo, hi = up[i] > hi ? up[i] : hi;
    }
    ck_assert(lo == 0 && hi == 1);
    ck_assert(up[0] == 0 && up[5 * 7 - 1] == 1); /* the corners: the map's lowest and highest */
}
END_TEST

/* A flat map (all one value; a 1x1 map) is upsampled to all 0, not stretched over float rounding noise, and
 * a map of no cells too (as vggcl.h and docs/commands.md say). */
START_TEST(test_cam_upsample_flat)
{
    const float flat[6] = { 0.1796013f, 0.1796013f, 0.1796013f, 0.1796013f, 0.1796013f, 0.1796013f }, one = -2.5f;
    float up[9 * 11];
    vggcl_cam_upsample(flat, 2, 3, up, 9, 11);
    for (int i = 0; i < 9 * 11; i++) ck_assert_msg(up[i] == 0, "up[%d] = %g", i, up[i]);
    vggcl_cam_upsample(&one, 1, 1, up, 9, 11);
    for (int i = 0; i < 9 * 11; i++) ck_assert_msg(up[i] == 0, "1x1: up[%d] = %g", i, up[i]);
    for (int i = 0; i < 9 * 11; i++) up[i] = 7;
    vggcl_cam_upsample(NULL, 0, 0, up, 9, 11);
    for (int i = 0; i < 9 * 11; i++) ck_assert_msg(up[i] == 0, "no map: up[%d] = %g", i, up[i]);
}
END_TEST

/* A map holding an infinity (weights that overflow) has no finite stretch: NaN where the infinity reaches, 0
 * elsewhere beside a +inf, 1 beside a -inf (which made every pixel NaN), NaN throughout with both, as vggcl.h says
 * (it read as if no NaN could come of a map without one). */
START_TEST(test_cam_upsample_infinite)
{
    const float infs[3][2] = { { INFINITY, INFINITY }, { -INFINITY, -INFINITY }, { INFINITY, -INFINITY } };
    for (int k = 0; k < 3; k++) {
        const float cam[4] = { 0, infs[k][0], 1, 2 + (infs[k][1] != infs[k][0] ? infs[k][1] : 0) };
        const float rest = k == 0 ? 0.0f : 1.0f;
        float up[4 * 4];
        vggcl_cam_upsample(cam, 2, 2, up, 4, 4);
        int nans = 0;
        for (int i = 0; i < 4 * 4; i++) {
            ck_assert_msg(isnan(up[i]) || (k < 2 && up[i] == rest), "map %d: up[%d] = %g", k, i, up[i]);
            nans += isnan(up[i]) != 0;
        }
        /* (the infinity's corner NaN, the far one the limit; both infinities: every pixel NaN) */
        if (k < 2) ck_assert_msg(nans > 0 && nans < 16 && isnan(up[3]) && up[12] == rest, "map %d: %d NaN", k, nans);
        else ck_assert_int_eq(nans, 16);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cam");
    TCase *tc = tcase_create("kernel and pass vs reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cam_shapes);
    tcase_add_test(tc, test_forward_cam);
    tcase_add_test(tc, test_cam_draw_clamps);
    tcase_add_test(tc, test_cam_upsample_wide_range);
    tcase_add_test(tc, test_cam_upsample_flat);
    tcase_add_test(tc, test_cam_upsample_infinite);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
