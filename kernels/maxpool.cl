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

/* maxpool2x2: the same for VGG's kernel 2, stride 2, padding 0 (floor), with
 * one work-item per 8 consecutive outputs of a row:
 *   get_global_id(0) = ox / 8, get_global_id(1) = oy, get_global_id(2) = n * C + c.
 * Full blocks load two input rows as 16-lane vectors and take the max of the
 * even and odd lanes; the last partial block of a row goes element by element.
 */
inline float8 max_nan8(float8 a, float8 b)
{
    /* b where b > a or b is NaN, else a: NaN propagates as in PyTorch */
    return select(a, b, (b > a) | isnan(b));
}

__kernel void maxpool2x2(__global const float *restrict in, __global float *restrict out, int H, int W, int OH,
                         int OW)
{
    const int ox0 = get_global_id(0) * 8;
    const int oy = get_global_id(1);
    const size_t nc = get_global_id(2);
    if (ox0 >= OW) return;
    __global const float *r0 = in + nc * H * W + (size_t)(2 * oy) * W;
    __global const float *r1 = r0 + W;
    __global float *dst = out + nc * OH * OW + (size_t)oy * OW;
    if (ox0 + 8 <= OW) {
        const float16 a = vload16(0, r0 + 2 * ox0), b = vload16(0, r1 + 2 * ox0);
        const float8 m = max_nan8(max_nan8(max_nan8(a.even, a.odd), b.even), b.odd);
        vstore8(m, 0, dst + ox0);
        return;
    }
    for (int ox = ox0; ox < OW; ox++) {
        float m = -INFINITY;
        const float v[4] = { r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1] };
        for (int i = 0; i < 4; i++)
            if (v[i] > m || isnan(v[i])) m = v[i];
        dst[ox] = m;
    }
}
