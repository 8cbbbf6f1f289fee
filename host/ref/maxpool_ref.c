/* Reference max pooling; mirrors kernels/maxpool.cl. */
#include <limits.h>
#include <math.h>
#include <stddef.h>

#include "ref.h"

int vggcl__pool_params_ok(int kernel_size, int stride, int padding)
{
    return kernel_size >= 1 && stride >= 1 && padding >= 0 && 2 * (long long)padding <= kernel_size;
}

int vggcl__pool_out_size(int in, int kernel_size, int stride, int padding, int ceil_mode)
{
    /* PyTorch's pooling_output_shape: a ceil_mode window may hang past the input's end (a 1x1 map pooled 2/2
     * gives 1x1) */
    if (!vggcl__pool_params_ok(kernel_size, stride, padding)) return 0;
    const long long span = (long long)in + 2LL * padding - kernel_size + (ceil_mode ? stride - 1 : 0);
    if (span < 0) return 0; /* (an input near INT_MAX: no overflow) */
    long long out = span / stride + 1;
    /* PyTorch: with ceil_mode the last window must start inside the input or left padding. */
    if (ceil_mode && (out - 1) * stride >= (long long)in + padding) out--;
    return out > INT_MAX ? 0 : (int)out;
}

void vggcl__ref_maxpool2d(const float *in, float *out, int N, int C, int H, int W,
                         int kernel_size, int stride, int padding, int ceil_mode)
{
    const int OH = vggcl__pool_out_size(H, kernel_size, stride, padding, ceil_mode);
    const int OW = vggcl__pool_out_size(W, kernel_size, stride, padding, ceil_mode);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *src = in + nc * H * W;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const int y0 = oy * stride - padding, x0 = ox * stride - padding;
                const int y1 = y0 + kernel_size < H ? y0 + kernel_size : H;
                const int x1 = x0 + kernel_size < W ? x0 + kernel_size : W;
                float m = -INFINITY;
                for (int iy = y0 < 0 ? 0 : y0; iy < y1; iy++)
                    for (int ix = x0 < 0 ? 0 : x0; ix < x1; ix++) {
                        const float v = src[iy * W + ix];
                        if (v > m || isnan(v)) m = v;
                    }
                out[nc * OH * OW + oy * OW + ox] = m;
            }
    }
}
