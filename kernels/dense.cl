/* dense.cl: the bias of a linear layer, added after CLBlast's SGEMM, and the
 * ReLU of torchvision's hidden classifier layers.
 *
 * Layout: out (N, C), bias (C). One work-item per element:
 *   get_global_id(0) = n * C + c (rounded up; extra items return).
 */
__kernel void bias_add(__global float *out, __global const float *restrict bias, int N, int C, int relu)
{
    const int i = get_global_id(0);
    if (i >= N * C) return;
    const float v = out[i] + bias[i % C];
    out[i] = relu ? fmax(v, 0.0f) : v;
}
