/* See conv_case.h. */
#include "conv_case.h"

#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"

int conv_case(vggcl_ctx *ctx, int algo, int N, int C_in, int C_out, int H, int W, unsigned seed, double rel_l2,
              double elem)
{
    const size_t nin = (size_t)N * C_in * H * W, nw = (size_t)C_out * C_in * 9, nout = (size_t)N * C_out * H * W;
    float *in = malloc(nin * 4), *weight = malloc(nw * 4), *bias = malloc(C_out * 4);
    float *expected = malloc(nout * 4), *got = malloc(nout * 4);
    tu_fill(in, nin, seed, -1, 1);
    tu_fill(weight, nw, 100 + seed, -0.5f, 0.5f);
    tu_fill(bias, C_out, 200 + seed, -0.2f, 0.2f);
    vggcl_ref_conv3x3_bias_relu(in, weight, bias, expected, N, C_in, C_out, H, W);

    /* the weights as each path's kernel reads them, and its workspace */
    size_t npacked = nw, nws1 = 0, nws2 = 0;
    if (algo == VGGCL_CONV_DIRECT) npacked = vggcl__conv_packed_floats(C_out, C_in);
    if (algo == VGGCL_CONV_WINOGRAD) {
        npacked = vggcl__wino_packed_floats(C_out, C_in);
        vggcl__wino_workspace_floats(N, C_in, C_out, H, W, &nws1, &nws2);
    }
    if (algo == VGGCL_CONV_GEMM) nws1 = vggcl__gemm_workspace_floats(C_in, H, W);
    float *packed = malloc(npacked * 4);
    if (algo == VGGCL_CONV_DIRECT) vggcl__conv_pack_weights(weight, C_out, C_in, packed);
    else if (algo == VGGCL_CONV_WINOGRAD) vggcl__wino_pack_weights(weight, C_out, C_in, packed);
    else for (size_t i = 0; i < nw; i++) packed[i] = weight[i];

    cl_mem d_in = tu_upload(ctx, in, nin), d_b = tu_upload(ctx, bias, C_out), d_w = tu_upload(ctx, packed, npacked);
    cl_mem d_out = tu_alloc(ctx, nout), ws1 = nws1 ? tu_alloc(ctx, nws1) : NULL, ws2 = nws2 ? tu_alloc(ctx, nws2) : NULL;
    vggcl_status st;
    if (algo == VGGCL_CONV_WINOGRAD)
        st = vggcl_cl_conv3x3_winograd(ctx, "test conv", d_in, d_w, d_b, d_out, ws1, ws2, N, C_in, C_out, H, W);
    else if (algo == VGGCL_CONV_GEMM)
        st = vggcl_cl_conv3x3_gemm(ctx, "test conv", d_in, d_w, d_b, d_out, ws1, N, C_in, C_out, H, W);
    else
        st = vggcl_cl_conv3x3_bias_relu(ctx, "test conv", d_in, d_w, d_b, d_out, N, C_in, C_out, H, W);
    ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
    tu_download(ctx, d_out, got, nout);
    static const char *const names[] = { "", "conv3x3 direct", "conv3x3 winograd", "conv3x3 gemm" };
    const int ok = tu_compare(names[algo], expected, got, N, C_out, H, W, rel_l2, elem);

    clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
    if (ws1) clReleaseMemObject(ws1);
    if (ws2) clReleaseMemObject(ws2);
    free(in), free(weight), free(bias), free(expected), free(got), free(packed);
    return ok;
}
