/* packed.cl: a study of Winograd F(4x4, 3x3) on a channel-packed layout
 * (issue #13; tools/packed_winograd_study/README.md). Not used by vggcl: its
 * kernels (kernels/winograd.cl) keep maps as NCHW and put 16 tiles in the
 * lanes of a vector, which costs gathers of stride-4 columns in the transforms
 * and pads the tile count to blocks of 16. Here the lanes hold 16 channels of
 * one pixel, so the transforms are plain vector arithmetic on whole pixels
 * and a block holds any number R of tiles.
 *
 * Buffers (float32), C_in and C_out multiples of 16:
 *   in  (N, C_in / 16, Hp, Wp, 16)   the map with a zero border of one pixel;
 *                                    Hp = 4 tiles_y + 2, Wp = 4 tiles_x + 2
 *   out (N, C_out / 16, Ohp, Owp, 16) written inside its border only
 *   U   (36, C_out / (16 OG), C_in, 16 OG)  G g G^T, each work-item's run contiguous
 *   V   (36, T_all, C_in)           two passes only; T_all = N tiles_y tiles_x
 * Tiles are numbered over the image row by row, then over the batch.
 *   packed_fused:    one work-item per R tiles of one image (get_global_id(0) =
 *                    block, (1) = n): their transformed input in local memory,
 *                    then per OG groups of 16 output channels the products and
 *                    the output transform (+ bias, ReLU, 2x2 max pool with pool).
 *   packed_input:    one work-item per (tile, 16 input channels) of the batch.
 *   packed_gemm_out: one work-item per (R tiles of the batch, OG groups).
 * The GEMM holds R x OG float16 accumulators: per input channel OG vector loads
 * of U and R broadcasts of V. */
#ifndef R
#define R 14
#endif
#ifndef OG
#define OG 2
#endif

#define BT_ROWS(x0, x1, x2, x3, x4, x5, o)              \
    do {                                                \
        o[0] = 4.0f * x0 - 5.0f * x2 + x4;              \
        o[1] = -4.0f * x1 - 4.0f * x2 + x3 + x4;        \
        o[2] = 4.0f * x1 - 4.0f * x2 - x3 + x4;         \
        o[3] = -2.0f * x1 - x2 + 2.0f * x3 + x4;        \
        o[4] = 2.0f * x1 - x2 - 2.0f * x3 + x4;         \
        o[5] = 4.0f * x1 - 5.0f * x3 + x5;              \
    } while (0)

#define AT_ROWS(m0, m1, m2, m3, m4, m5, o)              \
    do {                                                \
        o[0] = m0 + m1 + m2 + m3 + m4;                  \
        o[1] = m1 - m2 + 2.0f * (m3 - m4);              \
        o[2] = m1 + m2 + 4.0f * (m3 + m4);              \
        o[3] = m1 - m2 + 8.0f * (m3 - m4) + m5;         \
    } while (0)

/* B^T d B of the 6x6 pixels from p (row stride Wp pixels), point xi to v[xi * stride]. */
inline void input_tile(__global const float *p, int Wp, __local float *vl, __global float *vg, size_t stride)
{
    float16 e[6][6];
    #pragma unroll
    for (int i = 0; i < 6; i++) {
        __global const float *q = p + (size_t)i * Wp * 16;
        const float16 d0 = vload16(0, q), d1 = vload16(1, q), d2 = vload16(2, q);
        const float16 d3 = vload16(3, q), d4 = vload16(4, q), d5 = vload16(5, q);
        BT_ROWS(d0, d1, d2, d3, d4, d5, e[i]);
    }
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float16 o[6];
        BT_ROWS(e[0][b], e[1][b], e[2][b], e[3][b], e[4][b], e[5][b], o);
        #pragma unroll
        for (int a = 0; a < 6; a++) {
            if (vl) vstore16(o[a], 0, vl + (a * 6 + b) * stride);
            else vstore16(o[a], 0, vg + (a * 6 + b) * stride);
        }
    }
}

/* The products of R tiles (V at v, point xi at v + xi * xs, tile t at + t * C_in) and the OG
 * groups of U run u (point xi at u + xi * us) over C_in, to Ms (OG, 36, R, 16). */
#define GEMM_PACKED(v, xs, u, us)                                                               \
    for (int xi = 0; xi < 36; xi++) {                                                           \
        const size_t xoff = (size_t)xi * (xs);                                                  \
        __global const float *uu = (u) + (size_t)xi * (us);                                     \
        float16 acc[OG][R];                                                                     \
        _Pragma("unroll") for (int o = 0; o < OG; o++)                                          \
            _Pragma("unroll") for (int t = 0; t < R; t++) acc[o][t] = (float16)(0.0f);          \
        for (int ic = 0; ic < C_in; ic++) {                                                     \
            float16 w[OG];                                                                      \
            _Pragma("unroll") for (int o = 0; o < OG; o++) w[o] = vload16(o, uu + ic * 16 * OG); \
            _Pragma("unroll") for (int t = 0; t < R; t++) {                                     \
                const float16 x = (float16)((v)[xoff + t * C_in + ic]);                         \
                _Pragma("unroll") for (int o = 0; o < OG; o++) acc[o][t] = fma(x, w[o], acc[o][t]); \
            }                                                                                   \
        }                                                                                       \
        _Pragma("unroll") for (int o = 0; o < OG; o++)                                          \
            _Pragma("unroll") for (int t = 0; t < R; t++)                                       \
                vstore16(acc[o][t], 0, Ms + ((o * 36 + xi) * R + t) * 16);                      \
    }

/* A^T m A of tile t of Ms_o (36, R, 16), + bias, ReLU, (pooled) to dst at tile (Y, X) pixels. */
inline void output_tile(__local const float *Ms_o, int t, float16 bv, __global float *dst, int Y, int X, int pool,
                        int Oh, int Ow, int Owp)
{
    float16 f[4][6];
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float16 m[6], o[4];
        #pragma unroll
        for (int a = 0; a < 6; a++) m[a] = vload16(0, Ms_o + ((a * 6 + b) * R + t) * 16);
        AT_ROWS(m[0], m[1], m[2], m[3], m[4], m[5], o);
        #pragma unroll
        for (int r = 0; r < 4; r++) f[r][b] = o[r];
    }
    float16 y[4][4];
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        float16 o[4];
        AT_ROWS(f[r][0], f[r][1], f[r][2], f[r][3], f[r][4], f[r][5], o);
        #pragma unroll
        for (int c = 0; c < 4; c++) y[r][c] = fmax(o[c] + bv, (float16)(0.0f));
    }
    if (pool) {
        #pragma unroll
        for (int pr = 0; pr < 2; pr++)
            #pragma unroll
            for (int pc = 0; pc < 2; pc++) {
                const int yy = Y / 2 + pr, xx = X / 2 + pc;
                if (yy < Oh && xx < Ow)
                    vstore16(fmax(fmax(y[2 * pr][2 * pc], y[2 * pr][2 * pc + 1]),
                                  fmax(y[2 * pr + 1][2 * pc], y[2 * pr + 1][2 * pc + 1])),
                             0, dst + ((size_t)(yy + 1) * Owp + xx + 1) * 16);
            }
    } else {
        #pragma unroll
        for (int r = 0; r < 4; r++)
            #pragma unroll
            for (int c = 0; c < 4; c++)
                if (Y + r < Oh && X + c < Ow) vstore16(y[r][c], 0, dst + ((size_t)(Y + r + 1) * Owp + X + c + 1) * 16);
    }
}

__kernel void packed_fused(__global const float *restrict in, __global const float *restrict U,
                           __global const float *restrict bias, __global float *restrict out,
                           __local float *restrict Vs, __local float *restrict Ms, int C_in, int C_out, int Hp,
                           int Wp, int tiles_y, int pool, int Oh, int Ow, int Ohp, int Owp)
{
    const int bx = get_global_id(0), n = get_global_id(1);
    const int tiles_x = (Wp - 2) / 4, T = tiles_y * tiles_x, G_in = C_in / 16, G_out = C_out / 16;
    for (int g = 0; g < G_in; g++) {
        __global const float *src = in + ((size_t)n * G_in + g) * Hp * Wp * 16;
        for (int t = 0; t < R; t++) { /* past the last tile: the last tile again, never stored */
            const int tl = min(bx * R + t, T - 1), ty = tl / tiles_x, tx = tl % tiles_x;
            input_tile(src + ((size_t)4 * ty * Wp + 4 * tx) * 16, Wp, Vs + t * C_in + g * 16, NULL, (size_t)R * C_in);
        }
    }
    for (int go0 = 0; go0 < G_out; go0 += OG) {
        __global const float *u = U + (size_t)(go0 / OG) * C_in * 16 * OG;
        GEMM_PACKED(Vs, R * C_in, u, (size_t)C_in * C_out)
        for (int go = go0; go < go0 + OG; go++) {
            const float16 bv = vload16(0, bias + go * 16);
            __global float *dst = out + ((size_t)n * G_out + go) * Ohp * Owp * 16;
            for (int t = 0; t < R && bx * R + t < T; t++) {
                const int tl = bx * R + t;
                output_tile(Ms + (go - go0) * 36 * R * 16, t, bv, dst, 4 * (tl / tiles_x), 4 * (tl % tiles_x), pool,
                            Oh, Ow, Owp);
            }
        }
    }
}

__kernel void packed_input(__global const float *restrict in, __global float *restrict V, int C_in, int Hp, int Wp,
                           int tiles_y)
{
    const int tg = get_global_id(0), g = get_global_id(1), T_all = get_global_size(0);
    const int tiles_x = (Wp - 2) / 4, T = tiles_y * tiles_x, n = tg / T, tl = tg % T;
    __global const float *src = in + ((size_t)n * (C_in / 16) + g) * Hp * Wp * 16;
    input_tile(src + ((size_t)4 * (tl / tiles_x) * Wp + 4 * (tl % tiles_x)) * 16, Wp, NULL,
               V + (size_t)tg * C_in + g * 16, (size_t)T_all * C_in);
}

__kernel void packed_gemm_out(__global const float *restrict V, __global const float *restrict U,
                              __global const float *restrict bias, __global float *restrict out,
                              __local float *restrict Ms, int C_in, int C_out, int Wp, int tiles_y, int T_all, int pool,
                              int Oh, int Ow, int Ohp, int Owp)
{
    const int tb = get_global_id(0), go0 = get_global_id(1) * OG;
    const int tiles_x = (Wp - 2) / 4, T = tiles_y * tiles_x, G_out = C_out / 16;
    const int t0 = tb * R <= T_all - R ? tb * R : T_all - R; /* the last block overlaps the one before */
    const int first = tb * R - t0;                           /* its tiles the block before stored */
    __global const float *u = U + (size_t)(go0 / OG) * C_in * 16 * OG;
    __global const float *v = V + (size_t)t0 * C_in;
    GEMM_PACKED(v, (size_t)T_all * C_in, u, (size_t)C_in * C_out)
    for (int go = go0; go < go0 + OG; go++) {
        const float16 bv = vload16(0, bias + go * 16);
        for (int t = first; t < R; t++) {
            const int tg = t0 + t, n = tg / T, tl = tg % T;
            output_tile(Ms + (go - go0) * 36 * R * 16, t, bv, out + ((size_t)n * G_out + go) * Ohp * Owp * 16,
                        4 * (tl / tiles_x), 4 * (tl % tiles_x), pool, Oh, Ow, Owp);
        }
    }
}
