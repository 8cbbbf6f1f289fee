/* maxpool.cl: 2-D max pooling as PyTorch's MaxPool2d (dilation 1).
 *
 * Layout: in (N, C, H, W), out (N, C, OH, OW); NCHW float32.
 * Work mapping: one work-item per output element.
 *   get_global_id(0) = ox (rounded up; extra items return), get_global_id(1) = oy,
 *   get_global_id(2) = n * C + c.
 * Padding cells are -INFINITY (never chosen); NaN propagates, as in PyTorch.
 */
__kernel void maxpool2d(__global const float *restrict in, __global float *restrict out,
                        int H, int W, int OH, int OW, int kernel_size, int stride, int padding)
{
    const int ox = get_global_id(0);
    const int oy = get_global_id(1);
    const size_t nc = get_global_id(2);
    if (ox >= OW || oy >= OH) return;

    __global const float *src = in + nc * H * W;
    const int y0 = oy * stride - padding, x0 = ox * stride - padding;
    const int y1 = min(y0 + kernel_size, H), x1 = min(x0 + kernel_size, W);
    float m = -INFINITY;
    for (int iy = max(y0, 0); iy < y1; iy++)
        for (int ix = max(x0, 0); ix < x1; ix++) {
            const float v = src[iy * W + ix];
            if (v > m || isnan(v)) m = v;
        }
    out[nc * OH * OW + oy * OW + ox] = m;
}
