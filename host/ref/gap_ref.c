/* Reference global average pooling; the kernel (kernels/gap.cl) reduces the
 * same rows as a tree. */
#include <stddef.h>

#include "ref.h"

void vggcl__ref_gap(const float *in, float *out, int N, int C, int H, int W)
{
    const size_t HW = (size_t)H * W;
    for (size_t row = 0; row < (size_t)N * C; row++) {
        double sum = 0.0;
        for (size_t i = 0; i < HW; i++) sum += in[row * HW + i];
        out[row] = (float)(sum / (double)HW);
    }
}

void vggcl__ref_adaptive_avgpool2d(const float *in, float *out, int N, int C, int H, int W, int OH, int OW)
{
    for (size_t nc = 0; nc < (size_t)N * C; nc++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const int y0 = oy * H / OH, y1 = ((oy + 1) * H + OH - 1) / OH;
                const int x0 = ox * W / OW, x1 = ((ox + 1) * W + OW - 1) / OW;
                double sum = 0.0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) sum += in[nc * H * W + (size_t)y * W + x];
                out[nc * OH * OW + (size_t)oy * OW + ox] = (float)(sum / ((y1 - y0) * (x1 - x0)));
            }
}
