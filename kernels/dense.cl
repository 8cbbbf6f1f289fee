/* dense.cl: the linear layers of the head.
 *
 * dense: out (N, C) = in (N, K) . weight (C, K)^T + bias (C), then ReLU when
 * relu (torchvision's hidden classifier layers). For the small layers of GAP
 * heads, where CLBlast's SGEMM would cost a compile of seconds for
 * microseconds of work. One work-item per output:
 *   get_global_id(0) = n * C + c (rounded up to DENSE_WG; extra items return).
 * K is summed in four interleaved partial sums (float4 loads), then the rest.
 *
 * bias_add: the bias (and ReLU) after CLBlast's SGEMM, for the large layers.
 *   get_global_id(0) = n * C + c (rounded up; extra items return).
 */

/* ReLU letting NaN through as PyTorch does (fmax gives the other operand: a NaN input came out as a
 * confident answer); the same macro in each program that needs it. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))
#ifndef DENSE_WG
#define DENSE_WG 64
#endif

__kernel __attribute__((reqd_work_group_size(DENSE_WG, 1, 1)))
void dense(__global const float *restrict in, __global const float *restrict weight,
           __global const float *restrict bias, __global float *restrict out, int N, int K, int C, int relu)
{
    const size_t i = get_global_id(0); /* (N * C may pass 2^31: a head of many classes at a large batch) */
    if (i >= (size_t)N * C) return;
    const int n = (int)(i / C), c = (int)(i % C);
    const __global float *x = in + (size_t)n * K, *w = weight + (size_t)c * K;
    float4 acc4 = (float4)(0.0f);
    int k = 0;
    for (; k + 4 <= K; k += 4) acc4 = fma(vload4(0, x + k), vload4(0, w + k), acc4);
    float acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
    for (; k < K; k++) acc = fma(x[k], w[k], acc);
    const float v = acc + bias[c];
    out[i] = relu ? RELU(v) : v;
}

__kernel void bias_add(__global float *out, __global const float *restrict bias, int N, int C, int relu)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)N * C) return;
    const float v = out[i] + bias[i % C];
    out[i] = relu ? RELU(v) : v;
}
