/* conv3x3.cl: 3x3 convolution, stride 1, padding 1, bias and ReLU fused.
 *
 * Layout: in (N, C_in, H, W), weight (C_out, C_in, 3, 3), bias (C_out),
 * out (N, C_out, H, W); NCHW float32, C order.
 * Work mapping: one work-item computes OC_TILE output channels of one pixel.
 *   get_global_id(0) = ox (rounded up to the local size; extra items return)
 *   get_global_id(1) = oy
 *   get_global_id(2) = n * ceil(C_out / OC_TILE) + oc block
 * Work-items along x share the same weights, so the weight loads broadcast.
 * Accumulation order (ic, ky, kx) matches host/ref/conv3x3_ref.c.
 */
#ifndef OC_TILE
#define OC_TILE 4
#endif

__kernel void conv3x3_bias_relu(__global const float *restrict in,
                                __global const float *restrict weight,
                                __global const float *restrict bias,
                                __global float *restrict out,
                                int C_in, int C_out, int H, int W)
{
    const int ox = get_global_id(0);
    const int oy = get_global_id(1);
    const int blocks = (C_out + OC_TILE - 1) / OC_TILE;
    const int n = get_global_id(2) / blocks;
    const int oc0 = (get_global_id(2) % blocks) * OC_TILE;
    if (ox >= W) return;

    float acc[OC_TILE];
    for (int t = 0; t < OC_TILE; t++) acc[t] = 0.0f;

    const size_t plane = (size_t)H * W;
    __global const float *inp = in + (size_t)n * C_in * plane;
    for (int ic = 0; ic < C_in; ic++) {
        __global const float *src = inp + ic * plane;
        for (int ky = 0; ky < 3; ky++) {
            const int iy = oy + ky - 1;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < 3; kx++) {
                const int ix = ox + kx - 1;
                if (ix < 0 || ix >= W) continue;
                const float v = src[(size_t)iy * W + ix];
                for (int t = 0; t < OC_TILE; t++) {
                    const int oc = min(oc0 + t, C_out - 1);
                    acc[t] = fma(v, weight[((size_t)oc * C_in + ic) * 9 + ky * 3 + kx], acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < OC_TILE; t++) {
        const int oc = oc0 + t;
        if (oc < C_out)
            out[((size_t)n * C_out + oc) * plane + (size_t)oy * W + ox] = fmax(acc[t] + bias[oc], 0.0f);
    }
}
