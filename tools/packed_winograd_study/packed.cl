/* packed.cl: a study of Winograd F(4x4, 3x3) and F(6x6, 3x3) (-DM=4 or 6) on a channel-packed layout
 * (issue #13; tools/packed_winograd_study/README.md). Its F(4x4) form became vggcl's
 * kernels/winograd_packed.cl; the F(6x6) form is not used. vggcl's NCHW kernels (kernels/winograd.cl) keep maps as NCHW and put 16 tiles in the
 * lanes of a vector, which costs gathers of stride-4 columns in the transforms
 * and pads the tile count to blocks of 16. Here the lanes hold 16 channels of
 * one pixel, so the transforms are plain vector arithmetic on whole pixels
 * and a block holds any number R of tiles.
 *
 * Buffers (float32), C_in and C_out multiples of 16:
 *   in  (N, C_in / 16, Hp, Wp, 16)   the map with a zero border of one pixel;
 *                                    Hp = M tiles_y + 2, Wp = M tiles_x + 2
 *   out (N, C_out / 16, Ohp, Owp, 16) written inside its border only
 *   U   (NP, C_out / (16 OG), C_in, 16 OG)  G g G^T, each work-item's run contiguous;
 *                                    NP = (M + 2)^2 transform points
 *   V   (NP, T_all, C_in)           two passes only; T_all = N tiles_y tiles_x
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
#ifndef M
#define M 4
#endif

#if M == 4
/* points 0, +-1, +-2, infinity (as kernels/winograd.cl) */
#define NT 6
inline void bt(const float16 *x, float16 *o)
{
    o[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];
    o[1] = -4.0f * x[1] - 4.0f * x[2] + x[3] + x[4];
    o[2] = 4.0f * x[1] - 4.0f * x[2] - x[3] + x[4];
    o[3] = -2.0f * x[1] - x[2] + 2.0f * x[3] + x[4];
    o[4] = 2.0f * x[1] - x[2] - 2.0f * x[3] + x[4];
    o[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
}
inline void at(const float16 *m, float16 *o)
{
    o[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    o[1] = m[1] - m[2] + 2.0f * (m[3] - m[4]);
    o[2] = m[1] + m[2] + 4.0f * (m[3] + m[4]);
    o[3] = m[1] - m[2] + 8.0f * (m[3] - m[4]) + m[5];
}
#elif M == 6
/* points 0, +-1, +-2, +-1/2, infinity */
#define NT 8
inline void bt(const float16 *x, float16 *o)
{
    o[0] = x[0] - x[6] + 5.25f * (x[4] - x[2]);
    o[7] = x[7] - x[1] + 5.25f * (x[3] - x[5]);
    float16 a = x[2] + x[6] - 4.25f * x[4], b = x[1] + x[5] - 4.25f * x[3];
    o[1] = a + b, o[2] = a - b;
    a = x[6] + 0.25f * x[2] - 1.25f * x[4], b = 0.5f * x[1] - 2.5f * x[3] + 2.0f * x[5];
    o[3] = a + b, o[4] = a - b;
    a = x[6] + 4.0f * (x[2] - 1.25f * x[4]), b = 2.0f * x[1] - 2.5f * x[3] + 0.5f * x[5];
    o[5] = a + b, o[6] = a - b;
}
inline void at(const float16 *m, float16 *o)
{
    const float16 s1 = m[1] + m[2], d1 = m[1] - m[2], s2 = m[3] + m[4], d2 = m[3] - m[4];
    const float16 s3 = m[5] + m[6], d3 = m[5] - m[6];
    o[0] = m[0] + s1 + s2 + s3;
    o[1] = d1 + 2.0f * d2 + 0.5f * d3;
    o[2] = s1 + 4.0f * s2 + 0.25f * s3;
    o[3] = d1 + 8.0f * d2 + 0.125f * d3;
    o[4] = s1 + 16.0f * s2 + 0.0625f * s3;
    o[5] = d1 + 32.0f * d2 + 0.03125f * d3 + m[7];
}
#else
#error "M must be 4 or 6"
#endif
#define NP (NT * NT)

/* B^T d B of the NT x NT pixels from p (row stride Wp pixels), point xi to v[xi * stride]. */
inline void input_tile(__global const float *p, int Wp, __local float *vl, __global float *vg, size_t stride)
{
    float16 e[NT][NT];
    #pragma unroll
    for (int i = 0; i < NT; i++) {
        float16 d[NT];
        #pragma unroll
        for (int j = 0; j < NT; j++) d[j] = vload16(j, p + (size_t)i * Wp * 16);
        bt(d, e[i]);
    }
    #pragma unroll
    for (int b = 0; b < NT; b++) {
        float16 c[NT], o[NT];
        #pragma unroll
        for (int i = 0; i < NT; i++) c[i] = e[i][b];
        bt(c, o);
        #pragma unroll
        for (int a = 0; a < NT; a++) {
            if (vl) vstore16(o[a], 0, vl + (a * NT + b) * stride);
            else vstore16(o[a], 0, vg + (a * NT + b) * stride);
        }
    }
}

/* The products of R tiles (V at v, point xi at v + xi * xs, tile t at + t * C_in) and the OG
 * groups of U run u (point xi at u + xi * us) over C_in, to Ms (OG, NP, R, 16). */
#define GEMM_PACKED(v, xs, u, us)                                                               \
    for (int xi = 0; xi < NP; xi++) {                                                           \
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
                vstore16(acc[o][t], 0, Ms + ((o * NP + xi) * R + t) * 16);                      \
    }

/* A^T m A of tile t of Ms_o (NP, R, 16), + bias, ReLU, (pooled) to dst at tile (Y, X) pixels. */
inline void output_tile(__local const float *Ms_o, int t, float16 bv, __global float *dst, int Y, int X, int pool,
                        int Oh, int Ow, int Owp)
{
    float16 f[M][NT];
    #pragma unroll
    for (int b = 0; b < NT; b++) {
        float16 m[NT], o[M];
        #pragma unroll
        for (int a = 0; a < NT; a++) m[a] = vload16(0, Ms_o + ((a * NT + b) * R + t) * 16);
        at(m, o);
        #pragma unroll
        for (int r = 0; r < M; r++) f[r][b] = o[r];
    }
    float16 y[M][M];
    #pragma unroll
    for (int r = 0; r < M; r++) {
        float16 o[M];
        at(f[r], o);
        #pragma unroll
        for (int c = 0; c < M; c++) y[r][c] = fmax(o[c] + bv, (float16)(0.0f));
    }
    if (pool) {
        #pragma unroll
        for (int pr = 0; pr < M / 2; pr++)
            #pragma unroll
            for (int pc = 0; pc < M / 2; pc++) {
                const int yy = Y / 2 + pr, xx = X / 2 + pc;
                if (yy < Oh && xx < Ow)
                    vstore16(fmax(fmax(y[2 * pr][2 * pc], y[2 * pr][2 * pc + 1]),
                                  fmax(y[2 * pr + 1][2 * pc], y[2 * pr + 1][2 * pc + 1])),
                             0, dst + ((size_t)(yy + 1) * Owp + xx + 1) * 16);
            }
    } else {
        #pragma unroll
        for (int r = 0; r < M; r++)
            #pragma unroll
            for (int c = 0; c < M; c++)
                if (Y + r < Oh && X + c < Ow) vstore16(y[r][c], 0, dst + ((size_t)(Y + r + 1) * Owp + X + c + 1) * 16);
    }
}

__kernel void packed_fused(__global const float *restrict in, __global const float *restrict U,
                           __global const float *restrict bias, __global float *restrict out,
                           __local float *restrict Vs, __local float *restrict Ms, int C_in, int C_out, int Hp,
                           int Wp, int tiles_y, int pool, int Oh, int Ow, int Ohp, int Owp)
{
    const int bx = get_global_id(0), n = get_global_id(1);
    const int tiles_x = (Wp - 2) / M, T = tiles_y * tiles_x, G_in = C_in / 16, G_out = C_out / 16;
    for (int g = 0; g < G_in; g++) {
        __global const float *src = in + ((size_t)n * G_in + g) * Hp * Wp * 16;
        for (int t = 0; t < R; t++) { /* past the last tile: the last tile again, never stored */
            const int tl = min(bx * R + t, T - 1), ty = tl / tiles_x, tx = tl % tiles_x;
            input_tile(src + ((size_t)M * ty * Wp + M * tx) * 16, Wp, Vs + t * C_in + g * 16, NULL, (size_t)R * C_in);
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
                output_tile(Ms + (go - go0) * NP * R * 16, t, bv, dst, M * (tl / tiles_x), M * (tl % tiles_x), pool,
                            Oh, Ow, Owp);
            }
        }
    }
}

__kernel void packed_input(__global const float *restrict in, __global float *restrict V, int C_in, int Hp, int Wp,
                           int tiles_y)
{
    const int tg = get_global_id(0), g = get_global_id(1), T_all = get_global_size(0);
    const int tiles_x = (Wp - 2) / M, T = tiles_y * tiles_x, n = tg / T, tl = tg % T;
    __global const float *src = in + ((size_t)n * (C_in / 16) + g) * Hp * Wp * 16;
    input_tile(src + ((size_t)M * (tl / tiles_x) * Wp + M * (tl % tiles_x)) * 16, Wp, NULL,
               V + (size_t)tg * C_in + g * 16, (size_t)T_all * C_in);
}

__kernel void packed_gemm_out(__global const float *restrict V, __global const float *restrict U,
                              __global const float *restrict bias, __global float *restrict out,
                              __local float *restrict Ms, int C_in, int C_out, int Wp, int tiles_y, int T_all, int pool,
                              int Oh, int Ow, int Ohp, int Owp)
{
    const int tb = get_global_id(0), go0 = get_global_id(1) * OG;
    const int tiles_x = (Wp - 2) / M, T = tiles_y * tiles_x, G_out = C_out / 16;
    const int t0 = tb * R <= T_all - R ? tb * R : T_all - R; /* the last block overlaps the one before */
    const int first = tb * R - t0;                           /* its tiles the block before stored */
    __global const float *u = U + (size_t)(go0 / OG) * C_in * 16 * OG;
    __global const float *v = V + (size_t)t0 * C_in;
    GEMM_PACKED(v, (size_t)T_all * C_in, u, (size_t)C_in * C_out)
    for (int go = go0; go < go0 + OG; go++) {
        const float16 bv = vload16(0, bias + go * 16);
        for (int t = first; t < R; t++) {
            const int tg = t0 + t, n = tg / T, tl = tg % T;
            output_tile(Ms + (go - go0) * NP * R * 16, t, bv, out + ((size_t)n * G_out + go) * Ohp * Owp * 16,
                        M * (tl / tiles_x), M * (tl % tiles_x), pool, Oh, Ow, Owp);
        }
    }
}
