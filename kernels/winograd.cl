/* winograd.cl: 3x3 convolution (stride 1, padding 1) + bias + ReLU as
 * Winograd F(4x4, 3x3) (Lavin & Gray 2016; points 0, +-1, +-2, inf):
 * each 4x4 output tile comes from a 6x6 input tile with 36 multiplies per
 * (ic, oc) pair instead of 144.
 *
 * Tiles: tiles_y = ceil(H / 4), tiles_x = ceil(W / 4), T = N * tiles_y * tiles_x,
 * numbered t = (n * tiles_y + ty) * tiles_x + tx; Tp = T rounded up to TT.
 * Buffers (float32):
 *   V (36, Tp/TT, C_in, TT) transformed input V[xi] = B^T d B, tile-blocked so
 *                         one GEMM work-item reads its TT tiles contiguously
 *   U (36, C_out/OCB, C_in, OCB)  transformed weights G g G^T, packed on the
 *                         host (vggcl__wino_pack_weights), zero past C_out
 *   M (36, C_outp, Tp)    V and U multiplied per xi (C_outp = C_out rounded to OCB)
 * Kernels and work mapping:
 *   wino_input:  one work-item per (t, ic): get_global_id(0) = t (< Tp; t >= T writes 0),
 *                get_global_id(1) = ic. Reads the 6x6 patch at (4ty - 1, 4tx - 1), zero outside.
 *   wino_gemm:   one work-item per (TT tiles, OCB output channels, xi):
 *                get_global_id(0) = t / TT, (1) = oc / OCB, (2) = xi; 2 * OCB vector
 *                accumulators of TT/2 lanes; per ic two vector loads of V and OCB
 *                broadcast weights, each used twice (so FMAs, not loads, bound it).
 *   wino_output: one work-item per (t, oc): A^T m A + bias, ReLU, writes the
 *                valid part of the 4x4 tile to out (N, C_out, H, W).
 */
#ifndef OCB
#define OCB 8
#endif
#ifndef TT
#define TT 32
#endif
/* the GEMM holds TT tiles as two vectors of VW lanes */
#define VW (TT / 2)
#if VW == 16
#define VEC float16
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
#define VEC float8
#define VLOAD vload8
#define VSTORE vstore8
#else
#error "TT must be 16 or 32"
#endif

__kernel void wino_input(__global const float *restrict in, __global float *restrict V,
                         int C_in, int H, int W, int tiles_y, int tiles_x, int T, int Tp)
{
    const int t = get_global_id(0);
    const int ic = get_global_id(1);
    if (t >= Tp) return;
    float d[6][6];
    if (t < T) {
        const int tx = t % tiles_x, ty = (t / tiles_x) % tiles_y, n = t / (tiles_x * tiles_y);
        __global const float *src = in + ((size_t)n * C_in + ic) * H * W;
        const int y0 = ty * 4 - 1, x0 = tx * 4 - 1;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                const int y = y0 + i, x = x0 + j;
                d[i][j] = (y >= 0 && y < H && x >= 0 && x < W) ? src[(size_t)y * W + x] : 0.0f;
            }
    } else {
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) d[i][j] = 0.0f;
    }
    /* rows: tmp = B^T d */
    float tmp[6][6];
    for (int j = 0; j < 6; j++) {
        const float d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j], d4 = d[4][j], d5 = d[5][j];
        tmp[0][j] = 4.0f * d0 - 5.0f * d2 + d4;
        tmp[1][j] = -4.0f * d1 - 4.0f * d2 + d3 + d4;
        tmp[2][j] = 4.0f * d1 - 4.0f * d2 - d3 + d4;
        tmp[3][j] = -2.0f * d1 - d2 + 2.0f * d3 + d4;
        tmp[4][j] = 2.0f * d1 - d2 - 2.0f * d3 + d4;
        tmp[5][j] = 4.0f * d1 - 5.0f * d3 + d5;
    }
    /* columns: V = tmp B, stored tile-blocked: V[xi][t / TT][ic][t % TT] */
    const size_t stride = (size_t)C_in * Tp;
    __global float *dst = V + ((size_t)(t / TT) * C_in + ic) * TT + t % TT;
    for (int i = 0; i < 6; i++) {
        const float d0 = tmp[i][0], d1 = tmp[i][1], d2 = tmp[i][2], d3 = tmp[i][3], d4 = tmp[i][4], d5 = tmp[i][5];
        dst[(i * 6 + 0) * stride] = 4.0f * d0 - 5.0f * d2 + d4;
        dst[(i * 6 + 1) * stride] = -4.0f * d1 - 4.0f * d2 + d3 + d4;
        dst[(i * 6 + 2) * stride] = 4.0f * d1 - 4.0f * d2 - d3 + d4;
        dst[(i * 6 + 3) * stride] = -2.0f * d1 - d2 + 2.0f * d3 + d4;
        dst[(i * 6 + 4) * stride] = 2.0f * d1 - d2 - 2.0f * d3 + d4;
        dst[(i * 6 + 5) * stride] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

__kernel void wino_gemm(__global const float *restrict V, __global const float *restrict U,
                        __global float *restrict M, int C_in, int C_outp, int Tp)
{
    const int t0 = get_global_id(0) * TT;
    const int ob = get_global_id(1);
    const int xi = get_global_id(2);
    VEC acc0[OCB], acc1[OCB];
    for (int j = 0; j < OCB; j++) acc0[j] = acc1[j] = (VEC)(0.0f);
    __global const float *v = V + (size_t)xi * C_in * Tp + (size_t)t0 * C_in;
    __global const float *u = U + ((size_t)xi * (C_outp / OCB) + ob) * C_in * OCB;
    for (int ic = 0; ic < C_in; ic++) {
        const VEC x0 = VLOAD(0, v + ic * TT);
        const VEC x1 = VLOAD(0, v + ic * TT + VW);
        __global const float *w = u + ic * OCB;
        for (int j = 0; j < OCB; j++) {
            acc0[j] = fma(x0, (VEC)(w[j]), acc0[j]);
            acc1[j] = fma(x1, (VEC)(w[j]), acc1[j]);
        }
    }
    __global float *m = M + ((size_t)xi * C_outp + ob * OCB) * Tp + t0;
    for (int j = 0; j < OCB; j++) {
        VSTORE(acc0[j], 0, m + (size_t)j * Tp);
        VSTORE(acc1[j], 0, m + (size_t)j * Tp + VW);
    }
}

__kernel void wino_output(__global const float *restrict M, __global const float *restrict bias,
                          __global float *restrict out, int C_out, int C_outp, int H, int W, int tiles_y,
                          int tiles_x, int T, int Tp)
{
    const int t = get_global_id(0);
    const int oc = get_global_id(1);
    if (t >= T) return;
    const int tx = t % tiles_x, ty = (t / tiles_x) % tiles_y, n = t / (tiles_x * tiles_y);
    const size_t stride = (size_t)C_outp * Tp;
    __global const float *src = M + (size_t)oc * Tp + t;
    /* rows: tmp = A^T m  (4 x 6) */
    float tmp[4][6];
    for (int j = 0; j < 6; j++) {
        const float m0 = src[(0 * 6 + j) * stride], m1 = src[(1 * 6 + j) * stride], m2 = src[(2 * 6 + j) * stride];
        const float m3 = src[(3 * 6 + j) * stride], m4 = src[(4 * 6 + j) * stride], m5 = src[(5 * 6 + j) * stride];
        tmp[0][j] = m0 + m1 + m2 + m3 + m4;
        tmp[1][j] = m1 - m2 + 2.0f * (m3 - m4);
        tmp[2][j] = m1 + m2 + 4.0f * (m3 + m4);
        tmp[3][j] = m1 - m2 + 8.0f * (m3 - m4) + m5;
    }
    const float b = bias[oc];
    __global float *dst = out + ((size_t)n * C_out + oc) * H * W;
    for (int i = 0; i < 4; i++) {
        const int y = ty * 4 + i;
        if (y >= H) break;
        const float m0 = tmp[i][0], m1 = tmp[i][1], m2 = tmp[i][2], m3 = tmp[i][3], m4 = tmp[i][4], m5 = tmp[i][5];
        float r[4];
        r[0] = m0 + m1 + m2 + m3 + m4;
        r[1] = m1 - m2 + 2.0f * (m3 - m4);
        r[2] = m1 + m2 + 4.0f * (m3 + m4);
        r[3] = m1 - m2 + 8.0f * (m3 - m4) + m5;
        for (int j = 0; j < 4; j++) {
            const int x = tx * 4 + j;
            if (x < W) dst[(size_t)y * W + x] = fmax(r[j] + b, 0.0f);
        }
    }
}
