/* dense.cl: the bias of the dense head, added after CLBlast's SGEMM.
 *
 * Layout: out (N, C) logits, bias (C). One work-item per element:
 *   get_global_id(0) = n * C + c (rounded up; extra items return).
 */
__kernel void bias_add(__global float *out, __global const float *restrict bias, int N, int C)
{
    const int i = get_global_id(0);
    if (i >= N * C) return;
    out[i] += bias[i % C];
}
