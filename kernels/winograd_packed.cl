/* winograd_packed.cl: 3x3 convolution (stride 1, padding 1) + bias + ReLU as Winograd
 * F(MxM, 3x3), M = 4 or 6, on the channel-packed layout, the 2x2 max pool folded in on request;
 * and the kernels that convert maps between that layout and NCHW.
 *
 * The packed layout of a map (N, C, H, W) (host/layers.h, vggcl__packed_floats):
 *   (N, Cp / 16, Hp, Wp, 16), Cp = C rounded up to 16, Hp = max(4 ceil(H / 4), 6 ceil(H / 6)) + 2,
 *   Wp likewise (whole tiles of either size): pixel (y, x) at (y + 1, x + 1); everything else
 *   (the one-pixel border, the rows and columns past the map, channels C .. Cp - 1) is zero.
 * The lanes of a vector hold 16 channels of one pixel, so the Winograd transforms are plain
 * vector arithmetic on whole pixels and a block is any number R of tiles. (kernels/winograd.cl
 * puts 16 tiles in the lanes instead, which costs gathers of stride-4 columns and pads tile
 * counts to blocks of 16; tools/packed_winograd_study has the measurements.)
 *
 * Other buffers (float32), C_in and C_out padded to 16 as above, NP = (M + 2)^2 points:
 *   U (NP, C_outw / 16 IL, C_in, 16 IL)  G g G^T, packed on the host (host/layers/layer_winograd_packed.c),
 *                                 zero past the real C_out and C_in; C_outw = C_out rounded up
 *                                 to 16 IL: per input channel IL groups of 16 side by side
 *   V (NP, T_all, C_in)           the two-pass form only; T_all = N tiles_y tiles_x
 * Tiles (M x M outputs) are numbered over the image row by row, then over the batch.
 *   packed_fused:    one work-item per RT = R TB tiles of one image (get_global_id(0) = block, (1) = n):
 *                    their transformed input in local memory, then per OG groups of 16 output
 *                    channels the products and the output transform (+ bias, ReLU, 2x2 max pool).
 *   packed_input:    one work-item per (tile, 16 input channels) of the batch.
 *   packed_gemm_out: one work-item per (RT tiles of the batch, OG groups), taken in chunks of TCH
 *                    blocks of tiles where TCH is set (the work-items' ids remapped: see TCH).
 * The GEMM holds R x OG float16 accumulators: per input channel OG vector loads of U and R
 * broadcasts of V. Outputs are written inside the map only: packed_border zeroes the rest.
 * A build holds one form's kernels (PACKED_ONE_PASS: packed_fused; else the two passes), since
 * PoCL compiles every kernel of a program when vggcl caches its binary. With PACKED_LAYOUT_ONLY
 * the file holds the conversions from and to NCHW and packed_border alone (they take no
 * tunables, so one build serves every layer). */

/* ReLU and the larger of two, letting NaN through as PyTorch does (fmax gives the other operand: a NaN
 * input came out as a confident answer); the same macros in each program that needs them. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))
#define MAX_NAN(a, b) ((((b) > (a)) | isnan(b)) ? (b) : (a))

/* the padded side of a map side s (VGGCL_PACKED_SIDE in host/layers.h) */
inline int padded(int s)
{
    return max((s + 3) / 4 * 4, (s + 5) / 6 * 6) + 2;
}

#ifndef PACKED_LAYOUT_ONLY

#ifndef M
#define M 4
#endif
#ifndef R
#define R 14
#endif
#ifndef OG
#define OG 2
#endif
/* IL: groups of 16 output channels per run of U (the OG asked for; the launch may cut OG to a
 * divisor of the layer's groups, and a work-item then reads part of each run) */
#ifndef IL
#define IL OG
#endif
#if IL % OG
#error "OG must divide the IL groups of a weight run"
#endif
#ifndef TB
#define TB 1
#endif
/* TCH: the two passes' GEMM runs its work-items in chunks of TCH blocks of tiles, each chunk for every
 * group of filters before the next (0: the blocks of all the batch for one group, then the next group).
 * PoCL runs work-groups in order of get_global_id(0) first, so a chunk's V stays in cache while all of U
 * streams past it: without chunks, V of a whole batch (29 MB for VGG16's 512-channel 28x28 layers at
 * batch 8) came from DRAM once per group (32 times). Only the order changes: every (block, group) is run
 * once whatever TCH is. */
#ifndef TCH
#define TCH 0
#endif
/* a work-item's tiles: TB blocks of R, whose products run one block after the other for each
 * point, so that the point's weights come from cache for all but the first */
#define RT (R * TB)

/* floats from one point's filters to the next in U (C_in and C_out padded to 16) */
inline size_t u_point(int C_in, int C_out)
{
    return (size_t)C_in * ((C_out + 16 * IL - 1) / (16 * IL) * (16 * IL));
}

/* the start of output group go's filters in U at point 0 */
inline size_t u_group(int go, int C_in)
{
    return (size_t)(go / IL) * C_in * (16 * IL) + go % IL * 16;
}

#if M == 4
/* B^T x and A^T m over NT whole pixels: points 0, +-1, +-2, infinity (as kernels/winograd.cl) */
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
/* points 0, +-1, +-2, +-1/2, infinity (G in host/layers/layer_winograd_packed.c) */
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

/* B^T d B of the NT x NT pixels from p (row stride Wp pixels), point xi to v[xi * stride]. F(4x4)
 * keeps the tile in registers; F(6x6)'s 8x8 would not stay there, so its rows' transforms go to
 * v and each column's is then done in place there. */
#if NT == 6
#define INPUT_TILE(v)                                                                            \
    float16 e[NT][NT];                                                                           \
    _Pragma("unroll") for (int i = 0; i < NT; i++) {                                             \
        float16 d[NT];                                                                           \
        _Pragma("unroll") for (int j = 0; j < NT; j++) d[j] = vload16(j, p + (size_t)i * Wp * 16); \
        bt(d, e[i]);                                                                             \
    }                                                                                            \
    _Pragma("unroll") for (int b = 0; b < NT; b++) {                                             \
        float16 c[NT], o[NT];                                                                    \
        _Pragma("unroll") for (int i = 0; i < NT; i++) c[i] = e[i][b];                           \
        bt(c, o);                                                                                \
        _Pragma("unroll") for (int a = 0; a < NT; a++) vstore16(o[a], 0, (v) + (a * NT + b) * stride); \
    }
#else
#define INPUT_TILE(v)                                                                            \
    _Pragma("unroll") for (int i = 0; i < NT; i++) {                                             \
        float16 d[NT], o[NT];                                                                    \
        _Pragma("unroll") for (int j = 0; j < NT; j++) d[j] = vload16(j, p + (size_t)i * Wp * 16); \
        bt(d, o);                                                                                \
        _Pragma("unroll") for (int b = 0; b < NT; b++) vstore16(o[b], 0, (v) + (i * NT + b) * stride); \
    }                                                                                            \
    _Pragma("unroll") for (int b = 0; b < NT; b++) {                                             \
        float16 c[NT], o[NT];                                                                    \
        _Pragma("unroll") for (int i = 0; i < NT; i++) c[i] = vload16(0, (v) + (i * NT + b) * stride); \
        bt(c, o);                                                                                \
        _Pragma("unroll") for (int a = 0; a < NT; a++) vstore16(o[a], 0, (v) + (a * NT + b) * stride); \
    }
#endif

inline void input_tile_l(__global const float *p, int Wp, __local float *v, size_t stride)
{
    INPUT_TILE(v)
}

inline void input_tile_g(__global const float *p, int Wp, __global float *v, size_t stride)
{
    INPUT_TILE(v)
}

/* PU_AHEAD: input channels ahead that the GEMM prefetches its weight runs (a block's pass over
 * U: 9.4 MB at 256 channels, from L3). Measured in paired per-layer profiles: on the Intel Xeon
 * of 2026-12-01 (L3 shared over a mesh) the packed layers 0.93x the time at batch 1 and 0.92x
 * at batch 8 (32 ahead no better); on the AMD EPYC of 2026-11-30, 1.00x. Software prefetch
 * is a CPU's (VGGCL_CPU): GPU compilers reject it on __global pointers. */
#ifndef PU_AHEAD
#define PU_AHEAD 16
#endif
#ifdef VGGCL_CPU
#define PU_PREFETCH(p) __builtin_prefetch(p)
#else
#define PU_PREFETCH(p)
#endif
/* The products of RT tiles (V at v, in address space AS, point xi at v + xi * xs, tile t at +
 * toff[t]) and the OG groups of 16 filters from u (point xi at u + xi * us, group o at + o * 16 in
 * runs of 16 IL per input channel) over the first C_k input channels (the rest of U is zero), to
 * Ms (OG, NP, RT, 16); R tiles at a time in registers. Each tile's row of V gets a pointer of its
 * own before the loop over channels: indexed as v[xoff + toff[t] + ic] there, PoCL kept the R
 * offsets in a vector register and took each out again for every channel (five instructions per
 * broadcast; VGG16 on an AVX2 EPYC, paired runs, 0.89x the time at batch 1, 0.81x at batch 8). */
#define GEMM_PACKED(AS, v, xs, toff, u, us)                                                      \
    for (int xi = 0; xi < NP; xi++) {                                                            \
        const size_t xoff = (size_t)xi * (xs);                                                   \
        __global const float *uu = (u) + (size_t)xi * (us);                                      \
        _Pragma("unroll") for (int sb = 0; sb < TB; sb++) {                                      \
            float16 acc[OG][R];                                                                  \
            _Pragma("unroll") for (int o = 0; o < OG; o++)                                       \
                _Pragma("unroll") for (int t = 0; t < R; t++) acc[o][t] = (float16)(0.0f);       \
            AS const float *vt[R];                                                               \
            _Pragma("unroll") for (int t = 0; t < R; t++) vt[t] = (v) + xoff + toff[sb * R + t];  \
            for (int ic = 0; ic < C_k; ic++) {                                                   \
                float16 w[OG];                                                                   \
                _Pragma("unroll") for (int o = 0; o < OG; o++) PU_PREFETCH(uu + (ic + PU_AHEAD) * (16 * IL) + o * 16); \
                _Pragma("unroll") for (int o = 0; o < OG; o++) w[o] = vload16(o, uu + ic * (16 * IL)); \
                _Pragma("unroll") for (int t = 0; t < R; t++) {                                  \
                    const float16 x = (float16)(vt[t][ic]);                                      \
                    _Pragma("unroll") for (int o = 0; o < OG; o++) acc[o][t] = fma(x, w[o], acc[o][t]); \
                }                                                                                \
            }                                                                                    \
            _Pragma("unroll") for (int o = 0; o < OG; o++)                                       \
                _Pragma("unroll") for (int t = 0; t < R; t++)                                    \
                    vstore16(acc[o][t], 0, Ms + ((o * NP + xi) * RT + sb * R + t) * 16);         \
        }                                                                                        \
    }

/* The bias of output channels c0 .. c0 + 15, zero past C_out. */
inline float16 load_bias(__global const float *bias, int c0, int C_out)
{
    if (c0 + 16 <= C_out) return vload16(0, bias + c0);
    float b[16];
    for (int l = 0; l < 16; l++) b[l] = c0 + l < C_out ? bias[c0 + l] : 0.0f;
    return vload16(0, b);
}

/* A^T m A of tile t of Ms_o (NP, RT, 16), + bias, ReLU, (pooled) to dst at tile (Y, X) pixels.
 * F(4x4) keeps the columns' A^T in registers (f), F(6x6) puts it back in Ms_o in place (rows
 * 0 .. M - 1) and reads it again row by row. */
inline void output_tile(__local float *Ms_o, int t, float16 bv, __global float *dst, int Y, int X, int pool,
                        int Oh, int Ow, int Owp)
{
#if NT == 6
    float16 f[M][NT];
#define F_AT(r, b) f[r][b]
#else
#define F_AT(r, b) vload16(0, Ms_o + (((r) * NT + (b)) * RT + t) * 16)
#endif
    #pragma unroll
    for (int b = 0; b < NT; b++) {
        float16 m[NT], o[M];
        #pragma unroll
        for (int a = 0; a < NT; a++) m[a] = vload16(0, Ms_o + ((a * NT + b) * RT + t) * 16);
        at(m, o);
        #pragma unroll
        for (int r = 0; r < M; r++) {
#if NT == 6
            f[r][b] = o[r];
#else
            vstore16(o[r], 0, Ms_o + ((r * NT + b) * RT + t) * 16);
#endif
        }
    }
    /* rows r0 and r0 + 1 of the output tile: + bias, ReLU */
#define OUTPUT_ROWS(r0, y)                                                                       \
    _Pragma("unroll") for (int r = 0; r < 2; r++) {                                              \
        float16 fr[NT];                                                                          \
        _Pragma("unroll") for (int b = 0; b < NT; b++) fr[b] = F_AT((r0) + r, b);                \
        at(fr, y[r]);                                                                            \
        _Pragma("unroll") for (int c = 0; c < M; c++) y[r][c] = RELU(y[r][c] + bv);                \
    }
    #pragma unroll
    for (int pr = 0; pr < M / 2; pr++) {
        float16 y[2][M];
        OUTPUT_ROWS(2 * pr, y)
        if (pool) {
            const int yy = Y / 2 + pr;
            #pragma unroll
            for (int pc = 0; pc < M / 2; pc++) {
                const int xx = X / 2 + pc;
                if (yy < Oh && xx < Ow)
                    vstore16(MAX_NAN(MAX_NAN(y[0][2 * pc], y[0][2 * pc + 1]), MAX_NAN(y[1][2 * pc], y[1][2 * pc + 1])), 0,
                             dst + ((size_t)(yy + 1) * Owp + xx + 1) * 16);
            }
        } else {
            #pragma unroll
            for (int r = 0; r < 2; r++)
                #pragma unroll
                for (int c = 0; c < M; c++)
                    if (Y + 2 * pr + r < Oh && X + c < Ow)
                        vstore16(y[r][c], 0, dst + ((size_t)(Y + 2 * pr + r + 1) * Owp + X + c + 1) * 16);
        }
    }
#undef OUTPUT_ROWS
#undef F_AT
}

/* C_in, C_out: padded to 16; C_k: the real input channels (the products skip the zero ones:
 * the first layer's image has 3 of 16); C_real: the real output channels (the bias' length); H, W: the
 * input map; pool: the output is (H / 2, W / 2) through a 2x2 stride-2 max pool. */
/* One work-item per work-group (its local memory is the work-item's own): get_local_size is 1. */
#ifdef PACKED_ONE_PASS
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void packed_fused(__global const float *restrict in, __global const float *restrict U,
                           __global const float *restrict bias, __global float *restrict out,
                           __local float *restrict Vs, __local float *restrict Ms, int C_in, int C_k, int C_out, int C_real,
                           int H, int W, int pool)
{
    const int bx = get_global_id(0), n = get_global_id(1);
    const int tiles_y = (H + M - 1) / M, tiles_x = (W + M - 1) / M, T = tiles_y * tiles_x;
    const int Hp = padded(H), Wp = padded(W), Oh = pool ? H / 2 : H, Ow = pool ? W / 2 : W;
    const int Ohp = padded(Oh), Owp = padded(Ow), G_in = C_in / 16, G_out = C_out / 16;
    int toff[RT];
    #pragma unroll
    for (int t = 0; t < RT; t++) toff[t] = t * C_in;
    for (int g = 0; g < G_in; g++) {
        __global const float *src = in + ((size_t)n * G_in + g) * Hp * Wp * 16;
        for (int t = 0; t < RT; t++) { /* past the last tile: the last tile again, never stored */
            const int tl = min(bx * RT + t, T - 1), ty = tl / tiles_x, tx = tl % tiles_x;
            input_tile_l(src + ((size_t)M * ty * Wp + M * tx) * 16, Wp, Vs + t * C_in + g * 16, (size_t)RT * C_in);
        }
    }
    for (int go0 = 0; go0 < G_out; go0 += OG) {
        __global const float *u = U + u_group(go0, C_in);
        GEMM_PACKED(__local, Vs, RT * C_in, toff, u, u_point(C_in, C_out))
        for (int go = go0; go < go0 + OG; go++) {
            const float16 bv = load_bias(bias, go * 16, C_real);
            __global float *dst = out + ((size_t)n * G_out + go) * Ohp * Owp * 16;
            for (int t = 0; t < RT && bx * RT + t < T; t++) {
                const int tl = bx * RT + t;
                output_tile(Ms + (go - go0) * NP * RT * 16, t, bv, dst, M * (tl / tiles_x), M * (tl % tiles_x), pool,
                            Oh, Ow, Owp);
            }
        }
    }
}
#endif

/* get_global_size(0) = T_all, (1) = C_in / 16 */
#ifndef PACKED_ONE_PASS
__kernel void packed_input(__global const float *restrict in, __global float *restrict V, int C_in, int H, int W)
{
    const int tg = get_global_id(0), g = get_global_id(1), T_all = get_global_size(0);
    const int tiles_x = (W + M - 1) / M, T = (H + M - 1) / M * tiles_x, n = tg / T, tl = tg % T;
    const int Hp = padded(H), Wp = padded(W);
    __global const float *src = in + ((size_t)n * (C_in / 16) + g) * Hp * Wp * 16;
    input_tile_g(src + ((size_t)M * (tl / tiles_x) * Wp + M * (tl % tiles_x)) * 16, Wp,
               V + (size_t)tg * C_in + g * 16, (size_t)T_all * C_in);
}
#endif

/* get_global_size(0) = ceil(T_all / RT), (1) = C_out / (16 OG) */
#ifndef PACKED_ONE_PASS
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void packed_gemm_out(__global const float *restrict V, __global const float *restrict U,
                              __global const float *restrict bias, __global float *restrict out,
                              __local float *restrict Ms, int C_in, int C_k, int C_out, int C_real, int H, int W, int T_all,
                              int pool)
{
    int tb = get_global_id(0), gi = get_global_id(1); /* (the block of tiles, the groups of filters) */
#if TCH > 0
    const int NB = get_global_size(0), NG = get_global_size(1);
    if (TCH < NB) { /* the work-item's place in the launch's order, remapped: chunk by chunk, in each a group
                     * after group (the last chunk, of NB % TCH blocks, likewise) */
        const int at = gi * NB + tb, base = at / (TCH * NG) * TCH, chunk = min(TCH, NB - base), r = at - base * NG;
        gi = r / chunk, tb = base + r % chunk;
    }
#endif
    const int go0 = gi * OG;
    const int tiles_x = (W + M - 1) / M, T = (H + M - 1) / M * tiles_x, G_out = C_out / 16;
    const int Oh = pool ? H / 2 : H, Ow = pool ? W / 2 : W, Ohp = padded(Oh), Owp = padded(Ow);
    /* the last block overlaps the one before (or, with fewer than RT tiles in all, repeats the last) */
    const int t0 = tb * RT <= T_all - RT ? tb * RT : max(T_all - RT, 0);
    const int first = tb * RT - t0; /* its tiles the block before stored */
    int toff[RT];
    #pragma unroll
    for (int t = 0; t < RT; t++) toff[t] = min(t0 + t, T_all - 1) * C_in;
    __global const float *u = U + u_group(go0, C_in);
    GEMM_PACKED(__global, V, (size_t)T_all * C_in, toff, u, u_point(C_in, C_out))
    for (int go = go0; go < go0 + OG; go++) {
        const float16 bv = load_bias(bias, go * 16, C_real);
        for (int t = first; t < RT && t0 + t < T_all; t++) {
            const int tg = t0 + t, n = tg / T, tl = tg % T;
            output_tile(Ms + (go - go0) * NP * RT * 16, t, bv, out + ((size_t)n * G_out + go) * Ohp * Owp * 16,
                        M * (tl / tiles_x), M * (tl % tiles_x), pool, Oh, Ow, Owp);
        }
    }
}
#endif


#else /* PACKED_LAYOUT_ONLY */

/* Zeroes what a convolution does not write of its packed output map (H, W): the border and the
 * rows and columns past the map. get_global_size(0) = Hp, (1) = N Cp / 16. */
__kernel void packed_border(__global float *out, int H, int W)
{
    const int y = get_global_id(0), Wp = padded(W);
    __global float *row = out + ((size_t)get_global_id(1) * get_global_size(0) + y) * Wp * 16;
    const float16 zero = (float16)(0.0f);
    if (y == 0 || y > H) {
        for (int x = 0; x < Wp; x++) vstore16(zero, x, row);
    } else {
        vstore16(zero, 0, row);
        for (int x = W + 1; x < Wp; x++) vstore16(zero, x, row);
    }
}

/* NCHW (N, C, H, W) to the packed layout, all of it written: a row of pixels per work-item.
 * get_global_size(0) = Hp, (1) = N Cp / 16. */
__kernel void packed_from_nchw(__global const float *restrict in, __global float *restrict out, int C, int H, int W)
{
    const int y = get_global_id(0), ng = get_global_id(1), Hp = get_global_size(0), Wp = padded(W);
    const int G = (C + 15) / 16, n = ng / G, c0 = ng % G * 16;
    __global float *row = out + ((size_t)ng * Hp + y) * Wp * 16;
    const float16 zero = (float16)(0.0f);
    if (y == 0 || y > H) {
        for (int x = 0; x < Wp; x++) vstore16(zero, x, row);
        return;
    }
    __global const float *src = in + (((size_t)n * C + c0) * H + y - 1) * W;
    vstore16(zero, 0, row);
    for (int x = 0; x < W; x++) {
        float v[16];
        for (int l = 0; l < 16; l++) v[l] = c0 + l < C ? src[(size_t)l * H * W + x] : 0.0f;
        vstore16(vload16(0, v), x + 1, row);
    }
    for (int x = W + 1; x < Wp; x++) vstore16(zero, x, row);
}

/* The packed layout to NCHW (N, C, H, W): a row of pixels per work-item.
 * get_global_size(0) = H, (1) = N Cp / 16. */
__kernel void packed_to_nchw(__global const float *restrict in, __global float *restrict out, int C, int W)
{
    const int y = get_global_id(0), ng = get_global_id(1), H = get_global_size(0);
    const int G = (C + 15) / 16, n = ng / G, c0 = ng % G * 16;
    __global const float *row = in + ((size_t)ng * padded(H) + y + 1) * padded(W) * 16;
    __global float *dst = out + (((size_t)n * C + c0) * H + y) * W;
    for (int x = 0; x < W; x++) {
        float v[16];
        vstore16(vload16(x + 1, row), 0, v);
        for (int l = 0; l < 16 && c0 + l < C; l++) dst[(size_t)l * H * W + x] = v[l];
    }
}

#endif /* PACKED_LAYOUT_ONLY */
