/* Launcher for kernels/conv3x3.cl, and the weight packing it needs. */
#include <stdio.h>
#include <string.h>

#include "layers.h"

#define OCB 16 /* output channels per work-item: the kernel's default */

/* Pixels per work-item: 32 (the kernel's default), or 16 for maps at most 16
 * wide, where 32 would mostly compute padding. */
static int choose_px(int W) { return W <= 16 ? 16 : 32; }

size_t vggcl__conv_packed_floats(int C_out, int C_in)
{
    return (size_t)((C_out + OCB - 1) / OCB) * C_in * 9 * OCB;
}

void vggcl__conv_pack_weights(const float *weight, int C_out, int C_in, float *packed)
{
    memset(packed, 0, vggcl__conv_packed_floats(C_out, C_in) * sizeof(float));
    for (int oc = 0; oc < C_out; oc++)
        for (int ic = 0; ic < C_in; ic++)
            for (int k = 0; k < 9; k++)
                packed[(((size_t)(oc / OCB) * C_in + ic) * 9 + k) * OCB + oc % OCB] = weight[((size_t)oc * C_in + ic) * 9 + k];
}

vggcl_status vggcl_cl_conv3x3_bias_relu(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias,
                                        cl_mem out, int N, int C_in, int C_out, int H, int W)
{
    vggcl_status st;
    cl_kernel k;
    const int px = choose_px(W);
    char defines[32];
    snprintf(defines, sizeof defines, "-DPX=%d", px);
    if ((st = vggcl__kernel_v(ctx, VGGCL_K_CONV3X3, defines, where, &k)) != VGGCL_OK) return st;
    CL_CHECK(clSetKernelArg, (k, 0, sizeof in, &in));
    CL_CHECK(clSetKernelArg, (k, 1, sizeof weight, &weight));
    CL_CHECK(clSetKernelArg, (k, 2, sizeof bias, &bias));
    CL_CHECK(clSetKernelArg, (k, 3, sizeof out, &out));
    CL_CHECK(clSetKernelArg, (k, 4, sizeof C_in, &C_in));
    CL_CHECK(clSetKernelArg, (k, 5, sizeof C_out, &C_out));
    CL_CHECK(clSetKernelArg, (k, 6, sizeof H, &H));
    CL_CHECK(clSetKernelArg, (k, 7, sizeof W, &W));
    size_t global[3] = { (size_t)(W + px - 1) / px, (size_t)H, (size_t)N * ((size_t)(C_out + OCB - 1) / OCB) };
    return vggcl__enqueue(ctx, where, k, 3, global, NULL, 2.0 * N * C_out * C_in * 9 * (double)H * W);
fail:
    return st;
}
