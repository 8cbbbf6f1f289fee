/* cam.cl: class activation maps (Zhou et al. 2016) from the map GAP averages.
 *
 * Layout: fmap (N, C, HW) float32 (the last activation, NCHW), head_w (K, C),
 * cls (N) int: the class per image; out (N, HW).
 * out[n, p] = sum_c head_w[cls[n], c] * fmap[n, c, p]  (no bias: the logit is
 * mean_p(out[n, p]) + bias[cls[n]]).
 * Work mapping: one work-item per output element:
 *   get_global_id(0) = p (rounded up; extra items return), get_global_id(1) = n.
 * Summation order (c ascending) is that of host/ref/cam_ref.c.
 */
__kernel void cam(__global const float *restrict fmap, __global const float *restrict head_w,
                  __global const int *restrict cls, __global float *restrict out, int C, int HW)
{
    const int p = get_global_id(0);
    const int n = get_global_id(1);
    if (p >= HW) return;
    __global const float *w = head_w + (size_t)cls[n] * C;
    __global const float *f = fmap + (size_t)n * C * HW + p;
    float acc = 0.0f;
    for (int c = 0; c < C; c++) acc = fma(w[c], f[(size_t)c * HW], acc);
    out[(size_t)n * HW + p] = acc;
}
