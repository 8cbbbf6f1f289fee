/* Reference class activation maps: kernels/cam.cl's parameters and summation order, added up in double
 * (the kernel's float fma differs by about 1e-5 relative). */
#include <stddef.h>

#include "ref.h"

void vggcl__ref_cam(const float *fmap, const float *head_w, const int *cls, float *out, int N, int C, int HW)
{
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            double acc = 0.0;
            for (int c = 0; c < C; c++) acc += (double)head_w[(size_t)cls[n] * C + c] * fmap[((size_t)n * C + c) * HW + p];
            out[(size_t)n * HW + p] = (float)acc;
        }
}
