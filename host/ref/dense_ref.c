/* Reference dense head; the device computes the same through CLBlast SGEMM
 * followed by kernels/dense.cl bias_add. */
#include <stddef.h>

#include "ref.h"

void vggcl__ref_dense(const float *in, const float *weight, const float *bias, float *out,
                     int N, int K, int C, int relu)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)in[(size_t)n * K + k] * weight[(size_t)c * K + k];
            const double v = acc + bias[c];
            out[(size_t)n * C + c] = (float)(relu && v < 0 ? 0.0 : v);
        }
}
