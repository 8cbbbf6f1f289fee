/* Launcher for kernels/conv3x3.cl (the direct convolution), the weight
 * packing it needs, and its entry in the algorithm table. */
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

/* OCB: output channels per work-item (the packed layout depends on it, so one
 * value); PX: pixels of a row per work-item. */
static const vggcl_tunable tunables[] = {
    { "OCB", 16, { 16 }, 0 },
    { "PX", 32, { 16, 32 }, 0 },
};
#define P_OCB 0
#define P_PX 1

/* PX 16 for maps at most 16 wide, where 32 would mostly compute padding.
 * Measured on PoCL (VGG16 at 224, ms per layer), OCB x PX = 16 x 16 against
 * 16 x 32: 64->64 @224 21.1 / 17.6, 128->128 @112 24.2 / 23.1, @14 8.8 / 12.7. */
static void defaults(const vggcl_ctx *ctx, int N, int C_in, int C_out, int H, int W, vggcl_conv_params *p)
{
    (void)ctx, (void)N, (void)C_in, (void)C_out, (void)H;
    if (W <= 16) p->v[P_PX] = 16;
}

static size_t packed_floats(const vggcl_conv_params *p, int C_out, int C_in)
{
    const int ocb = p->v[P_OCB];
    return (size_t)((C_out + ocb - 1) / ocb) * C_in * 9 * ocb;
}

/* (C_out, C_in, 3, 3) -> (ceil(C_out / OCB), C_in, 3, 3, OCB), zero past C_out */
static void pack(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed)
{
    const int ocb = p->v[P_OCB];
    memset(packed, 0, packed_floats(p, C_out, C_in) * sizeof(float));
    for (int oc = 0; oc < C_out; oc++)
        for (int ic = 0; ic < C_in; ic++)
            for (int k = 0; k < 9; k++)
                packed[(((size_t)(oc / ocb) * C_in + ic) * 9 + k) * ocb + oc % ocb] =
                    weight[((size_t)oc * C_in + ic) * 9 + k];
}

static void workspace(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2])
{
    (void)p, (void)N, (void)C_in, (void)C_out, (void)H, (void)W;
    ws[0] = ws[1] = 0;
}

#define ARG(k, i, x) CL_CHECK(clSetKernelArg, (k, i, sizeof(x), &(x)))

static vggcl_status launch(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c)
{
    vggcl_status st;
    cl_kernel k;
    char defines[96];
    const int px = p->v[P_PX], ocb = p->v[P_OCB];
    vggcl__conv_defines(VGGCL_CONV_DIRECT, p, VGGCL_PROG_CONV, defines, sizeof defines);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_CONV3X3, defines, where, &k)) != VGGCL_OK) return st;
    ARG(k, 0, c->in); ARG(k, 1, c->weight); ARG(k, 2, c->bias); ARG(k, 3, c->out);
    ARG(k, 4, c->C_in); ARG(k, 5, c->C_out); ARG(k, 6, c->H); ARG(k, 7, c->W);
    size_t global[3] = { (size_t)(c->W + px - 1) / px, (size_t)c->H,
                         (size_t)c->N * ((size_t)(c->C_out + ocb - 1) / ocb) };
    return vggcl__enqueue(ctx, where, k, 3, global, NULL, vggcl__conv_flops(c));
fail:
    return st;
}

const vggcl_conv_algo vggcl__conv_direct = {
    "direct", 2, tunables, 0, defaults, NULL, packed_floats, pack, workspace, launch, 0, NULL, NULL, NULL,
};
