/* im2col.cl: the 3x3 convolution as a matrix product (the `--conv gemm` path,
 * kept to compare with the direct and Winograd kernels).
 *
 * im2col3x3: one image of in (N, C_in, H, W) -> col (C_in * 9, H * W), row
 *   (ic * 9 + ky * 3 + kx), column (oy * W + ox) = in[n, ic, oy + ky - 1, ox + kx - 1]
 *   (0 outside the map). One work-item per element of col:
 *   get_global_id(0) = oy * W + ox (rounded up; extra items return), (1) = row.
 *   CLBlast's SGEMM then computes out[n] (C_out, H * W) = weight (C_out, C_in * 9) x col.
 * bias_relu_rows: out (N * C_out rows of HW) = max(out + bias[row % C_out], 0).
 *   One work-item per element: get_global_id(0) = column (rounded up), (1) = row.
 */

/* ReLU letting NaN through as PyTorch does (fmax gives the other operand: a NaN input came out as a
 * confident answer); the same macro in each program that needs it. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))
__kernel void im2col3x3(__global const float *restrict in, __global float *restrict col, int n, int C_in, int H,
                        int W)
{
    const int p = get_global_id(0);
    const int row = get_global_id(1);
    if (p >= H * W) return;
    const int ic = row / 9, ky = (row % 9) / 3, kx = row % 3;
    const int iy = p / W + ky - 1, ix = p % W + kx - 1;
    float v = 0.0f;
    if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = in[(((size_t)n * C_in + ic) * H + iy) * W + ix];
    col[(size_t)row * H * W + p] = v;
}

__kernel void bias_relu_rows(__global float *out, __global const float *restrict bias, int C_out, int HW)
{
    const int p = get_global_id(0);
    const size_t row = get_global_id(1);
    if (p >= HW) return;
    __global float *o = out + row * HW + p;
    *o = RELU(*o + bias[row % C_out]);
}
