/* See conv_case.h. */
#include "conv_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"
#include "ref/ref.h"

/* For an algorithm on the channel-packed layout: the input packed on the device (checked
 * against the reference packing, border and padded channels included) and an output map
 * filled with NaN, so that whatever the convolution leaves unwritten shows; call->in and
 * call->out then point at them. */
static int packed_in_out(vggcl_ctx *ctx, const char *what, const float *in, vggcl_conv_call *c, int OH, int OW)
{
    const size_t np_in = vggcl__packed_floats(c->N, c->C_in, c->H, c->W);
    const size_t np_out = vggcl__packed_floats(c->N, c->C_out, OH, OW);
    float *want = malloc(np_in * 4), *got = malloc(np_in * 4), *nan = malloc(np_out * 4);
    ck_assert(want && got && nan);
    for (size_t i = 0; i < np_out; i++) nan[i] = NAN;
    cl_mem pin = tu_alloc(ctx, np_in);
    char msg[400];
    snprintf(msg, sizeof msg, "%s: packing the input", what);
    ck_assert_msg(vggcl__cl_pack(ctx, msg, c->in, pin, c->N, c->C_in, c->H, c->W) == VGGCL_OK, "%s",
                  vggcl_message(ctx));
    tu_download(ctx, pin, got, np_in);
    vggcl__ref_pack(in, want, c->N, c->C_in, c->H, c->W);
    snprintf(msg, sizeof msg, "%s: the packed input", what);
    const int ok = tu_compare(msg, want, got, 1, 1, 1, (int)np_in, 0, 0);
    c->in = pin;
    c->out = tu_upload(ctx, nan, np_out);
    free(want), free(got), free(nan);
    return ok;
}

/* The packed output against the reference packing of expected (so its border, the rows and
 * columns past the map and the padded channels are zero), then unpacked to out (NCHW). */
static int packed_check(vggcl_ctx *ctx, const char *what, const float *expected, const vggcl_conv_call *c, cl_mem out,
                        int OH, int OW, double rel_l2, double elem)
{
    const size_t np = vggcl__packed_floats(c->N, c->C_out, OH, OW);
    float *want = malloc(np * 4), *got = malloc(np * 4);
    ck_assert(want && got);
    tu_download(ctx, c->out, got, np);
    vggcl__ref_pack(expected, want, c->N, c->C_out, OH, OW);
    char msg[400];
    snprintf(msg, sizeof msg, "%s: the packed output", what);
    const int ok = tu_compare(msg, want, got, 1, 1, 1, (int)np, rel_l2, elem);
    snprintf(msg, sizeof msg, "%s: unpacking the output", what);
    ck_assert_msg(vggcl__cl_unpack(ctx, msg, c->out, out, c->N, c->C_out, OH, OW) == VGGCL_OK, "%s",
                  vggcl_message(ctx));
    free(want), free(got);
    return ok;
}

int conv_case(vggcl_ctx *ctx, int algo, const vggcl_conv_params *params, int N, int C_in, int C_out, int H, int W,
              int pool, unsigned seed, double rel_l2, double elem)
{
    const vggcl_conv_algo *a = vggcl__conv_algo(algo);
    vggcl_conv_params p;
    if (params) p = *params;
    else vggcl__conv_defaults(ctx, algo, N, C_in, C_out, H, W, &p);
    ck_assert_msg(vggcl__conv_valid(ctx, algo, &p, C_in, C_out), "conv_case: invalid parameters for %s", a->name);
    const int OH = pool ? H / 2 : H, OW = pool ? W / 2 : W;
    const size_t nin = (size_t)N * C_in * H * W, nw = (size_t)C_out * C_in * 9, nconv = (size_t)N * C_out * H * W;
    const size_t nout = (size_t)N * C_out * OH * OW;
    float *in = malloc(nin * 4), *weight = malloc(nw * 4), *bias = malloc(C_out * 4);
    float *conv = malloc(nconv * 4), *expected = malloc(nout * 4), *got = malloc(nout * 4);
    tu_fill(in, nin, seed, -1, 1);
    tu_fill(weight, nw, 100 + seed, -0.5f, 0.5f);
    tu_fill(bias, C_out, 200 + seed, -0.2f, 0.2f);
    vggcl__ref_conv3x3_bias_relu(in, weight, bias, conv, N, C_in, C_out, H, W);
    if (pool) vggcl__ref_maxpool2d(conv, expected, N, C_out, H, W, 2, 2, 0, 0);
    else for (size_t i = 0; i < nout; i++) expected[i] = conv[i];

    /* the weights as the path's kernel reads them, and its workspace */
    const size_t npacked = a->packed_floats(&p, C_out, C_in);
    size_t ws[2];
    a->workspace(&p, N, C_in, C_out, H, W, ws);
    float *packed = malloc(npacked * 4);
    a->pack(&p, weight, C_out, C_in, packed);

    cl_mem d_in = tu_upload(ctx, in, nin), d_b = tu_upload(ctx, bias, C_out), d_w = tu_upload(ctx, packed, npacked);
    cl_mem d_out = tu_alloc(ctx, nout), ws0 = ws[0] ? tu_alloc(ctx, ws[0]) : NULL, ws1 = ws[1] ? tu_alloc(ctx, ws[1]) : NULL;
    char what[360], text[200];
    vggcl__conv_params_str(algo, &p, text, sizeof text);
    snprintf(what, sizeof what, "conv3x3 %s%s N=%d C_in=%d C_out=%d %dx%d (%s)", a->name, pool ? " + max pool" : "", N,
             C_in, C_out, H, W, text);
    int ok = 1;
    vggcl_conv_call call = { d_in, d_w, d_b, d_out, { ws0, ws1 }, N, C_in, C_out, H, W, pool };
    if (a->packed_io) ok = packed_in_out(ctx, what, in, &call, OH, OW);
    vggcl_status st = a->launch(ctx, what, &p, &call);
    ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
    if (a->packed_io) ok &= packed_check(ctx, what, expected, &call, d_out, OH, OW, rel_l2, elem);
    tu_download(ctx, d_out, got, nout);
    ok &= tu_compare(what, expected, got, N, C_out, OH, OW, rel_l2, elem);

    if (a->packed_io) clReleaseMemObject(call.in), clReleaseMemObject(call.out);
    clReleaseMemObject(d_in), clReleaseMemObject(d_w), clReleaseMemObject(d_b), clReleaseMemObject(d_out);
    if (ws0) clReleaseMemObject(ws0);
    if (ws1) clReleaseMemObject(ws1);
    free(in), free(weight), free(bias), free(conv), free(expected), free(got), free(packed);
    return ok;
}
