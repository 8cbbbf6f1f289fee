/* Reference 3x3 convolution + bias + ReLU; mirrors kernels/conv3x3.cl. */
#include <stddef.h>

#include "ref.h"

void vggcl__ref_conv3x3_bias_relu(const float *in, const float *weight, const float *bias, float *out,
                                 int N, int C_in, int C_out, int H, int W)
{
    const size_t plane = (size_t)H * W;
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < C_out; oc++)
            for (int oy = 0; oy < H; oy++)
                for (int ox = 0; ox < W; ox++) {
                    double acc = 0.0;
                    for (int ic = 0; ic < C_in; ic++) {
                        const float *src = in + ((size_t)n * C_in + ic) * plane;
                        const float *w = weight + ((size_t)oc * C_in + ic) * 9;
                        for (int ky = 0; ky < 3; ky++) {
                            const int iy = oy + ky - 1;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < 3; kx++) {
                                const int ix = ox + kx - 1;
                                if (ix < 0 || ix >= W) continue;
                                acc += (double)src[(size_t)iy * W + ix] * w[ky * 3 + kx];
                            }
                        }
                    }
                    const double v = acc + bias[oc];
                    out[((size_t)n * C_out + oc) * plane + (size_t)oy * W + ox] = v < 0.0 ? 0.0f : (float)v; /* (NaN through) */
                }
}
