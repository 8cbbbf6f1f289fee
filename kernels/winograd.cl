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
 *   U (36, C_outp/OCB, C_in, OCB)  transformed weights G g G^T, packed on the
 *                         host (vggcl__wino_pack_weights), zero past C_out
 *   M (36, C_outp, Tp)    V and U multiplied per xi (C_outp = C_out rounded to 2 OCB)
 * Kernels and work mapping:
 *   wino_input:  one work-item per 8 consecutive tiles of a tile row and one ic:
 *                get_global_id(0) = tx / 8, (1) = n * tiles_y + ty, (2) = ic. Loads the
 *                six input rows (34 values each, zero outside the map) as vectors and
 *                gathers column j of tile k (x = 4(tx + k) + j - 1) by swizzles, so the
 *                transform runs on 8 tiles per vector. Tiles t in [T, Tp) are never
 *                written: the GEMM computes garbage there that nothing reads.
 *   wino_gemm:   one work-item per (TT tiles, two blocks of OCB output channels, xi):
 *                get_global_id(0) = t / TT, (1) = oc / (2 OCB), (2) = xi; 2 OCB vector
 *                accumulators of TT lanes; per ic one contiguous vector load of V and
 *                OCB broadcast weights from each block. (Measured on PoCL: 125 ms for
 *                VGG16 against 141 ms with one packed block of 16 channels, and against
 *                126-133 ms with 32 tiles in two vectors per work-item.)
 *   wino_output: one work-item per 8 consecutive tiles of a tile row and one oc:
 *                get_global_id(0) = tx / 8, (1) = n * tiles_y + ty, (2) = oc.
 *                A^T m A + bias, ReLU on 8 tiles per vector; each output row of the
 *                8 tiles (32 pixels) is interleaved back by swizzles and stored
 *                with two 16-lane stores (element by element at the map's edge).
 */
#ifndef OCB
#define OCB 8
#endif
#ifndef TT
#define TT 16
#endif
#if TT != 16
#error "TT must be 16: the GEMM holds a block of tiles in one float16"
#endif

/* B^T applied to six values (one column or row of a 6x6 tile), 8 tiles per lane set. */
#define BT_ROWS(x0, x1, x2, x3, x4, x5, o)              \
    do {                                                \
        o[0] = 4.0f * x0 - 5.0f * x2 + x4;              \
        o[1] = -4.0f * x1 - 4.0f * x2 + x3 + x4;        \
        o[2] = 4.0f * x1 - 4.0f * x2 - x3 + x4;         \
        o[3] = -2.0f * x1 - x2 + 2.0f * x3 + x4;        \
        o[4] = 2.0f * x1 - x2 - 2.0f * x3 + x4;         \
        o[5] = 4.0f * x1 - 5.0f * x3 + x5;              \
    } while (0)

__kernel void wino_input(__global const float *restrict in, __global float *restrict V,
                         int C_in, int H, int W, int tiles_y, int tiles_x, int T, int Tp)
{
    const int tx0 = get_global_id(0) * 8;
    const int row = get_global_id(1);
    const int ic = get_global_id(2);
    if (tx0 >= tiles_x) return;
    const int ty = row % tiles_y, n = row / tiles_y;
    __global const float *src = in + ((size_t)n * C_in + ic) * H * W;
    const int x0 = tx0 * 4 - 1, y0 = ty * 4 - 1;
    const int x_inside = x0 >= 0 && x0 + 34 <= W;

    /* e[i][b]: row i of the 6x6 tiles (8 tiles, one per lane) times B */
    float8 e[6][6];
    #pragma unroll
    for (int i = 0; i < 6; i++) {
        const int y = y0 + i;
        float16 v0 = (float16)(0.0f), v1 = (float16)(0.0f);
        float2 v2 = (float2)(0.0f);
        if (y >= 0 && y < H) {
            __global const float *p = src + (size_t)y * W + x0;
            if (x_inside) {
                v0 = vload16(0, p);
                v1 = vload16(0, p + 16);
                v2 = vload2(0, p + 32);
            } else {
                float seg[34];
                for (int k = 0; k < 34; k++) seg[k] = (x0 + k >= 0 && x0 + k < W) ? p[k] : 0.0f;
                v0 = vload16(0, seg);
                v1 = vload16(0, seg + 16);
                v2 = vload2(0, seg + 32);
            }
        }
        /* column j of tile k is x0 + 4k + j */
        const float8 d0 = (float8)(v0.s048c, v1.s048c), d1 = (float8)(v0.s159d, v1.s159d);
        const float8 d2 = (float8)(v0.s26ae, v1.s26ae), d3 = (float8)(v0.s37bf, v1.s37bf);
        const float8 d4 = (float8)(v0.s48c, v1.s048c, v2.s0), d5 = (float8)(v0.s59d, v1.s159d, v2.s1);
        BT_ROWS(d0, d1, d2, d3, d4, d5, e[i]);
    }
    const int t0 = row * tiles_x + tx0;
    const int lanes = min(8, tiles_x - tx0);
    const int contiguous = lanes == 8 && t0 % TT + 8 <= TT;
    const size_t xi_stride = (size_t)C_in * Tp;
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float8 o[6];
        BT_ROWS(e[0][b], e[1][b], e[2][b], e[3][b], e[4][b], e[5][b], o);
        #pragma unroll
        for (int a = 0; a < 6; a++) {
            __global float *base = V + (size_t)(a * 6 + b) * xi_stride;
            if (contiguous) {
                vstore8(o[a], 0, base + ((size_t)(t0 / TT) * C_in + ic) * TT + t0 % TT);
            } else {
                float lane[8];
                vstore8(o[a], 0, lane);
                for (int k = 0; k < lanes; k++) {
                    const int t = t0 + k;
                    base[((size_t)(t / TT) * C_in + ic) * TT + t % TT] = lane[k];
                }
            }
        }
    }
}

__kernel void wino_gemm(__global const float *restrict V, __global const float *restrict U,
                        __global float *restrict M, int C_in, int C_outp, int Tp)
{
    const int t0 = get_global_id(0) * TT;
    const int ob = get_global_id(1) * 2;
    const int xi = get_global_id(2);
    float16 acc[2 * OCB];
    #pragma unroll
    for (int j = 0; j < 2 * OCB; j++) acc[j] = (float16)(0.0f);
    __global const float *v = V + (size_t)xi * C_in * Tp + (size_t)t0 * C_in;
    __global const float *u0 = U + ((size_t)xi * (C_outp / OCB) + ob) * C_in * OCB;
    __global const float *u1 = u0 + (size_t)C_in * OCB;
    for (int ic = 0; ic < C_in; ic++) {
        const float16 x = vload16(0, v + ic * TT);
        __global const float *w0 = u0 + ic * OCB, *w1 = u1 + ic * OCB;
        #pragma unroll
        for (int j = 0; j < OCB; j++) {
            acc[j] = fma(x, (float16)(w0[j]), acc[j]);
            acc[OCB + j] = fma(x, (float16)(w1[j]), acc[OCB + j]);
        }
    }
    __global float *m = M + ((size_t)xi * C_outp + ob * OCB) * Tp + t0;
    #pragma unroll
    for (int j = 0; j < 2 * OCB; j++) vstore16(acc[j], 0, m + (size_t)j * Tp);
}

/* A^T applied to six values: four outputs. */
#define AT_ROWS(m0, m1, m2, m3, m4, m5, o)              \
    do {                                                \
        o[0] = m0 + m1 + m2 + m3 + m4;                  \
        o[1] = m1 - m2 + 2.0f * (m3 - m4);              \
        o[2] = m1 + m2 + 4.0f * (m3 + m4);              \
        o[3] = m1 - m2 + 8.0f * (m3 - m4) + m5;         \
    } while (0)

__kernel void wino_output(__global const float *restrict M, __global const float *restrict bias,
                          __global float *restrict out, int C_out, int C_outp, int H, int W, int tiles_y,
                          int tiles_x, int T, int Tp)
{
    const int tx0 = get_global_id(0) * 8;
    const int row = get_global_id(1);
    const int oc = get_global_id(2);
    if (tx0 >= tiles_x) return;
    const int ty = row % tiles_y, n = row / tiles_y;
    const int t0 = row * tiles_x + tx0;
    const int lanes = min(8, tiles_x - tx0);
    const size_t xi_stride = (size_t)C_outp * Tp;
    __global const float *src = M + (size_t)oc * Tp + t0;

    /* f[r][b]: A^T applied down each column b of the 6x6 products */
    float8 f[4][6];
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float8 m[6];
        #pragma unroll
        for (int a = 0; a < 6; a++) {
            __global const float *p = src + (a * 6 + b) * xi_stride;
            if (lanes == 8) {
                m[a] = vload8(0, p);
            } else {
                float lane[8] = { 0 };
                for (int k = 0; k < lanes; k++) lane[k] = p[k];
                m[a] = vload8(0, lane);
            }
        }
        float8 o[4];
        AT_ROWS(m[0], m[1], m[2], m[3], m[4], m[5], o);
        #pragma unroll
        for (int r = 0; r < 4; r++) f[r][b] = o[r];
    }
    const float8 bv = (float8)(bias[oc]);
    __global float *dst = out + ((size_t)n * C_out + oc) * H * W;
    const int xs = tx0 * 4;
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        const int y = ty * 4 + r;
        if (y >= H) break;
        float8 o[4];
        AT_ROWS(f[r][0], f[r][1], f[r][2], f[r][3], f[r][4], f[r][5], o);
        #pragma unroll
        for (int c = 0; c < 4; c++) o[c] = fmax(o[c] + bv, (float8)(0.0f));
        /* pixel 4k + c of the row segment is lane k of o[c] */
        const float16 lo = (float16)(o[0].s0, o[1].s0, o[2].s0, o[3].s0, o[0].s1, o[1].s1, o[2].s1, o[3].s1,
                                     o[0].s2, o[1].s2, o[2].s2, o[3].s2, o[0].s3, o[1].s3, o[2].s3, o[3].s3);
        const float16 hi = (float16)(o[0].s4, o[1].s4, o[2].s4, o[3].s4, o[0].s5, o[1].s5, o[2].s5, o[3].s5,
                                     o[0].s6, o[1].s6, o[2].s6, o[3].s6, o[0].s7, o[1].s7, o[2].s7, o[3].s7);
        __global float *q = dst + (size_t)y * W + xs;
        if (lanes == 8 && xs + 32 <= W) {
            vstore16(lo, 0, q);
            vstore16(hi, 0, q + 16);
        } else {
            float seg[32];
            vstore16(lo, 0, seg);
            vstore16(hi, 0, seg + 16);
            for (int k = 0; k < 4 * lanes && xs + k < W; k++) q[k] = seg[k];
        }
    }
}
