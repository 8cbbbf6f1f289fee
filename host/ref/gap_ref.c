/* Reference global average pooling; the kernel (kernels/gap.cl) reduces the
 * same rows as a tree. */
#include <stddef.h>

#include "ref.h"

void vggcl_ref_gap(const float *in, float *out, int N, int C, int H, int W)
{
    const size_t HW = (size_t)H * W;
    for (size_t row = 0; row < (size_t)N * C; row++) {
        double sum = 0.0;
        for (size_t i = 0; i < HW; i++) sum += in[row * HW + i];
        out[row] = (float)(sum / (double)HW);
    }
}
