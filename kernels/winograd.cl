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
 *                         host (host/layers/layer_winograd.c), zero past C_out
 *                         (C_outp = C_out rounded to 2 OCB)
 * A layer runs in one pass (wino_fused, below: no V) or in two:
 *   wino_input:    one work-item per input channel and image: get_global_id(0) = ic,
 *                  (1) = n. Walks the image's tile rows 8 tiles at a time: loads the six
 *                  input rows (34 values each, zero outside the map) as vectors and
 *                  gathers column j of tile k (x = 4(tx + k) + j - 1) by swizzles, so the
 *                  transform runs on 8 tiles per vector; stages the results until a block
 *                  of TT tiles is full and writes it with one vector store per point. Only
 *                  a block shared with the next or previous image is written lane by lane
 *                  (each work-item its own lanes). Tiles t in [T, Tp) are never written:
 *                  the GEMM computes garbage there that nothing reads.
 *   wino_gemm_out: the products and the output transform (below).
 * The GEMM of both forms: 2 OCB vector accumulators of TT lanes (tiles); per ic one
 * contiguous vector load of V and OCB broadcast weights from each of two blocks. In
 * wino_gemm_out a last block of at most TT / 2 tiles uses half the lanes, and one of at most
 * 4 tiles puts output channels in the lanes instead (GEMM_POINT_FEW).
 * (Measured on PoCL: 125 ms for VGG16 against 141 ms with one packed block of 16
 * channels, and against 126-133 ms with 32 tiles in two vectors per work-item.)
 */

/* ReLU and the larger of two, letting NaN through as PyTorch does (fmax gives the other operand: a NaN
 * input came out as a confident answer); the same macros in each program that needs them. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))
#define MAX_NAN(a, b) ((((b) > (a)) | isnan(b)) ? (b) : (a))

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

/* A^T applied to six values: four outputs. */
#define AT_ROWS(m0, m1, m2, m3, m4, m5, o)              \
    do {                                                \
        o[0] = m0 + m1 + m2 + m3 + m4;                  \
        o[1] = m1 - m2 + 2.0f * (m3 - m4);              \
        o[2] = m1 + m2 + 4.0f * (m3 + m4);              \
        o[3] = m1 - m2 + 8.0f * (m3 - m4) + m5;         \
    } while (0)

/* The program is built twice: without WINO_GPU the CPU-shaped kernels, with it the GPU-shaped ones
 * (host/runtime/program.c), so a device compiles only what it runs. */
#ifndef WINO_GPU

#ifndef OCB
#define OCB 8
#endif
#ifndef TT
#define TT 16
#endif
#if TT != 16
#error "TT must be 16: the GEMM holds a block of tiles in one float16"
#endif

/* Lanes lo .. hi - 1 of the staged block row (16 floats) to q: one vector store when whole. */
inline void store_block(__global float *q, const float *row, int lo, int hi)
{
    if (lo == 0 && hi == TT) {
        vstore16(vload16(0, row), 0, q);
        return;
    }
    for (int k = lo; k < hi; k++) q[k] = row[k];
}

/* The staged tiles to V: lanes lo .. hi - 1 of tile block `block`, all 36 points. */
inline void flush_block(__global float *V, const float *stage, size_t xi_stride, int block, int C_in, int ic, int lo,
                        int hi)
{
    __global float *q = V + ((size_t)block * C_in + ic) * TT;
    for (int xi = 0; xi < 36; xi++) store_block(q + xi * xi_stride, stage + xi * 24, lo, hi);
}

#ifndef WINO_ONE_PASS
__kernel void wino_input(__global const float *restrict in, __global float *restrict V,
                         int C_in, int H, int W, int tiles_y, int tiles_x, int Tp, int N)
{
    const int ic = get_global_id(0), n = get_global_id(1);
    const size_t plane = (size_t)H * W, start = ((size_t)n * C_in + ic) * plane, end = (size_t)N * C_in * plane;
    const size_t xi_stride = (size_t)C_in * Tp;
    const int16 k16 = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    /* stage[xi * 24 + k]: lane k of the tile block being filled, for point xi; lanes 16 ..
     * 23 take what runs past the block until it is written out */
    float stage[36 * 24];
    const int t_first = n * tiles_y * tiles_x;
    int block = t_first / TT, lo = t_first % TT, fill = lo; /* lanes before lo are image n - 1's */

    for (int ty = 0; ty < tiles_y; ty++)
        for (int tx0 = 0; tx0 < tiles_x; tx0 += 8) {
            const int x0 = tx0 * 4 - 1, y0 = ty * 4 - 1, lanes = min(8, tiles_x - tx0);
            /* columns x0 .. x0 + 33 of a row, loaded whole where those 34 floats lie inside
             * the buffer (past the row's ends they belong to its neighbours) and masked to
             * zero outside the row; seg only at the buffer's two ends */
            const int16 m0 = x0 + k16 >= 0 && x0 + k16 < W, m1 = x0 + 16 + k16 < W;
            const int2 m2 = (int2)(x0 + 32, x0 + 33) < W;
            /* e[i][b]: row i of the 6x6 tiles (8 tiles, one per lane) times B */
            float8 e[6][6];
            #pragma unroll
            for (int i = 0; i < 6; i++) {
                const int y = y0 + i;
                float16 v0 = (float16)(0.0f), v1 = (float16)(0.0f);
                float2 v2 = (float2)(0.0f);
                if (y >= 0 && y < H) {
                    const long at = (long)(start + (size_t)y * W) + x0;
                    __global const float *p = in + at;
                    if (at >= 0 && at + 34 <= (long)end) {
                        v0 = select((float16)(0.0f), vload16(0, p), m0);
                        v1 = select((float16)(0.0f), vload16(0, p + 16), m1);
                        v2 = select((float2)(0.0f), vload2(0, p + 32), m2);
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
            #pragma unroll
            for (int b = 0; b < 6; b++) {
                float8 o[6];
                BT_ROWS(e[0][b], e[1][b], e[2][b], e[3][b], e[4][b], e[5][b], o);
                #pragma unroll
                for (int a = 0; a < 6; a++) vstore8(o[a], 0, stage + (a * 6 + b) * 24 + fill);
            }
            fill += lanes;
            if (fill >= TT) { /* the block is full: out to V, and the overflow to its start */
                flush_block(V, stage, xi_stride, block, C_in, ic, lo, TT);
                for (int xi = 0; xi < 36; xi++) vstore8(vload8(0, stage + xi * 24 + TT), 0, stage + xi * 24);
                block++;
                fill -= TT;
                lo = 0;
            }
        }
    if (fill > lo) flush_block(V, stage, xi_stride, block, C_in, ic, lo, fill);
}
#endif

/* ---- wino_fused: the whole layer in one work-item, for a block of 16 tiles ----
 * One work-item per block of 4x4 tiles (16x16 output pixels) of one image, or
 * with `wide` of 1x16 tiles (4x64 pixels; the host takes the shape that covers
 * the map with fewer tiles): get_global_id(0) = block column, (1) = n * blocks_y
 * + block row. Tile (ky, kx) of the block is lane 4 ky + kx (wide: kx) of every
 * float16. The transformed input of the block goes to local memory, Vs (36, C_in,
 * 16), never to global memory; then per 2 OCB output channels the 36 products,
 * Ms (36, 2 OCB, 16), and their output transform (+ bias, ReLU, and the folded
 * 2x2 max pool with `pool`; a pooled pixel never straddles two tiles). Vs and Ms
 * stay in the core's caches, where the two-pass form streams V (2.25x the input
 * map) through memory. The map's edges are handled once per channel, by staging
 * the 18x18 (wide: 6x66) input patch and the 16x16 (4x64; pooled 8x8, 2x32)
 * output block in private arrays: the transforms themselves run unguarded, which
 * keeps the kernel small enough to compile fast. */

/* Row r of the staged patch as the columns j = 0..5 of its 4 tiles: q[j] lane kx = 4 kx + j. */
inline void patch_quads(const float *row, float4 q[6])
{
    const float16 v = vload16(0, row);
    const float2 w = vload2(0, row + 16);
    q[0] = v.s048c;
    q[1] = v.s159d;
    q[2] = v.s26ae;
    q[3] = v.s37bf;
    q[4] = (float4)(v.s48c, w.s0);
    q[5] = (float4)(v.s59d, w.s1);
}

/* (a0, b0, c0, d0, a1, b1, ...): one output row of 4 tiles, pixel 4 kx + c from lane kx of column c */
inline float16 interleave4(float4 a, float4 b, float4 c, float4 d)
{
    return (float16)(a.s0, b.s0, c.s0, d.s0, a.s1, b.s1, c.s1, d.s1, a.s2, b.s2, c.s2, d.s2, a.s3, b.s3, c.s3, d.s3);
}

/* rows x width staged values to the map (h x w, from (y0, x0)), clipped at its edges. */
inline void unstage(__global float *dst, const float *blk, int rows, int width, int y0, int x0, int h, int w)
{
    for (int r = 0; r < rows && y0 + r < h; r++) {
        __global float *q = dst + (size_t)(y0 + r) * w + x0;
        if (x0 + width <= w) {
            for (int k = 0; k < width; k += 8) vstore8(vload8(0, blk + r * width + k), 0, q + k);
        } else {
            for (int k = 0; x0 + k < w; k++) q[k] = blk[r * width + k];
        }
    }
}

/* The GEMM of both forms at point xi: the products of n tiles (lanes; V at v, TT floats per
 * ic) and the 2 OCB channels of channel block ob (weight blocks 2 ob, 2 ob + 1 of U) over
 * input channels k0 .. k1 - 1, to Ms (36, 2 OCB, TT), added to what Ms holds unless k0 is 0. */
/* U_AHEAD: input channels ahead that the GEMM prefetches its weight rows. A 512-channel
 * layer's U (38 MB) does not fit in L3 and is streamed from memory each pass; measured
 * on PoCL (2 cores, AMD EPYC), paired runs: VGG16 batch 1 0.96x the time (the 14x14
 * layers 2.3 -> 2.05 ms), batch 8 0.99x; 32 and 64 no better. */
#ifndef U_AHEAD
#define U_AHEAD 16
#endif
/* Software prefetch is a CPU's (the host defines VGGCL_CPU there): GPU compilers reject
 * __builtin_prefetch on __global pointers (NVIDIA's: "changes address space of pointer"). */
#ifdef VGGCL_CPU
#define PREFETCH(p) __builtin_prefetch(p)
#define PREFETCH_L2(p) __builtin_prefetch(p, 0, IN_LOCALITY)
#else
#define PREFETCH(p)
#define PREFETCH_L2(p)
#endif
/* V_AHEAD: input channels ahead that the two-pass GEMM prefetches its transformed input (the
 * one pass reads it from local memory: its GEMM_POINT takes NO_PREFETCH). A 28x28 layer's V
 * is 4.7 MB per image, read once per work-item's channel blocks; the hardware prefetchers do not run far
 * enough ahead on the Intel Xeon of 2026-12-01 (2 MiB L2 per core): its 512-channel layers
 * 0.86x the time at batch 8 against no V prefetch, 0.97x at batch 1 (paired per-layer
 * profiles; 8 and 16 ahead in between, 64 no better). */
#ifndef V_AHEAD
#define V_AHEAD 32
#endif
#define NO_PREFETCH(p)
#define GEMM_POINT(n, v, ob, xi, vpf, k0, k1)                                                     \
    do {                                                                                        \
        __global const float *u0 = U + (((size_t)(xi) * (C_outp / OCB) + 2 * (ob)) * C_in + (k0)) * OCB; \
        __global const float *u1 = u0 + (size_t)C_in * OCB;                                     \
        float##n acc[2 * OCB];                                                                  \
        _Pragma("unroll") for (int j = 0; j < 2 * OCB; j++)                                     \
            acc[j] = (k0) ? vload##n(0, Ms + ((xi) * 2 * OCB + j) * TT) : (float##n)(0.0f);     \
        for (int ic = (k0); ic < (k1); ic++, u0 += OCB, u1 += OCB) {                            \
            PREFETCH(u0 + U_AHEAD * OCB);                                                       \
            PREFETCH(u1 + U_AHEAD * OCB);                                                       \
            vpf((v) + (ic + V_AHEAD) * TT);                                                     \
            const float##n x = vload##n(0, (v) + ic * TT);                                      \
            _Pragma("unroll") for (int j = 0; j < OCB; j++) {                                   \
                acc[j] = fma(x, (float##n)(u0[j]), acc[j]);                                     \
                acc[OCB + j] = fma(x, (float##n)(u1[j]), acc[OCB + j]);                         \
            }                                                                                   \
        }                                                                                       \
        _Pragma("unroll") for (int j = 0; j < 2 * OCB; j++)                                     \
            vstore##n(acc[j], 0, Ms + ((xi) * 2 * OCB + j) * TT);                               \
    } while (0)

/* The same products for a last block of at most n tiles (n <= 4): vectors across the OCB channels
 * of each weight block instead of across tiles, so the multiplies cost n tiles, not a half block of
 * TT / 2 (each vector instruction costs the same whatever its width). */
#if OCB != 8
#error "GEMM_POINT_FEW takes OCB 8 (two float8 weight rows)"
#endif
#define GEMM_POINT_FEW(n, v, ob, xi, k0, k1)                                                      \
    do {                                                                                        \
        __global const float *u0 = U + (((size_t)(xi) * (C_outp / OCB) + 2 * (ob)) * C_in + (k0)) * OCB; \
        __global const float *u1 = u0 + (size_t)C_in * OCB;                                     \
        float8 a0[n], a1[n];                                                                    \
        _Pragma("unroll") for (int t = 0; t < (n); t++) {                                       \
            float c[2 * OCB];                                                                   \
            _Pragma("unroll") for (int j = 0; j < 2 * OCB; j++)                                 \
                c[j] = (k0) ? Ms[((xi) * 2 * OCB + j) * TT + t] : 0.0f;                         \
            a0[t] = vload8(0, c);                                                               \
            a1[t] = vload8(0, c + OCB);                                                         \
        }                                                                                       \
        for (int ic = (k0); ic < (k1); ic++, u0 += OCB, u1 += OCB) {                            \
            PREFETCH(u0 + U_AHEAD * OCB);                                                       \
            PREFETCH(u1 + U_AHEAD * OCB);                                                       \
            const float8 w0 = vload8(0, u0), w1 = vload8(0, u1);                                \
            _Pragma("unroll") for (int t = 0; t < (n); t++) {                                   \
                const float8 x = (float8)((v)[ic * TT + t]);                                    \
                a0[t] = fma(x, w0, a0[t]);                                                      \
                a1[t] = fma(x, w1, a1[t]);                                                      \
            }                                                                                   \
        }                                                                                       \
        _Pragma("unroll") for (int t = 0; t < (n); t++) {                                       \
            float c[2 * OCB];                                                                   \
            vstore8(a0[t], 0, c);                                                               \
            vstore8(a1[t], 0, c + OCB);                                                         \
            _Pragma("unroll") for (int j = 0; j < 2 * OCB; j++) Ms[((xi) * 2 * OCB + j) * TT + t] = c[j]; \
        }                                                                                       \
    } while (0)

/* The output transform of channel j of Ms (36, 2 OCB, 16): y[4 r + c] lane k = pixel (r, c) of
 * the 4x4 output tile of lane k, + bias, ReLU. */
inline void ms_output(__local const float *Ms, int j, float bias, float16 y[16])
{
    /* f[r][b]: A^T applied down each column b of the 6x6 products */
    float16 f[4][6];
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float16 m[6], o[4];
        #pragma unroll
        for (int a = 0; a < 6; a++) m[a] = vload16(0, Ms + ((a * 6 + b) * 2 * OCB + j) * 16);
        AT_ROWS(m[0], m[1], m[2], m[3], m[4], m[5], o);
        #pragma unroll
        for (int r = 0; r < 4; r++) f[r][b] = o[r];
    }
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        float16 o[4];
        AT_ROWS(f[r][0], f[r][1], f[r][2], f[r][3], f[r][4], f[r][5], o);
        #pragma unroll
        for (int c = 0; c < 4; c++) y[4 * r + c] = RELU(o[c] + (float16)(bias));
    }
}

/* Row r of the staged 1x16 patch as column j of its 16 tiles: lane k = 4 k + j. */
inline float16 stride4(const float *row)
{
    const float16 a = vload16(0, row), b = vload16(0, row + 16), c = vload16(0, row + 32), d = vload16(0, row + 48);
    return (float16)(a.s048c, b.s048c, c.s048c, d.s048c);
}

/* The input patch of channel ic + IN_AHEAD is prefetched (into L2: locality IN_LOCALITY)
 * while channel ic is transformed: the rows of one channel's patch lie a plane apart from
 * the next's, which the hardware prefetchers do not follow. Measured on PoCL (2 cores,
 * AMD EPYC), paired runs: 64->64 at 224x224 0.93x the time, VGG16 batch 1 0.98x, batch 8
 * 0.98x; 4 or 8 channels ahead, or into L1, no better. */
#ifndef IN_AHEAD
#define IN_AHEAD 2
#endif
#ifndef IN_LOCALITY
#define IN_LOCALITY 2
#endif
#ifdef WINO_ONE_PASS
__kernel void wino_fused(__global const float *restrict in, __global const float *restrict U,
                         __global const float *restrict bias, __global float *restrict out,
                         __local float *restrict Vs, __local float *restrict Ms, int C_in, int C_out, int C_outp,
                         int H, int W, int blocks_y, int pool, int wide)
{
    const int bx = get_global_id(0), row = get_global_id(1);
    const int by = row % blocks_y, n = row / blocks_y;
    /* the block: 4x4 tiles, or with `wide` 1x16 (4 x 64 pixels; lane k = tile (0, k)) */
    const int rows = wide ? 6 : 18, cols = wide ? 66 : 18, oh = wide ? 4 : 16, ow = wide ? 64 : 16;
    const int x0 = bx * ow - 1, y0 = by * oh - 1;
    const int x_inside = x0 >= 0 && x0 + cols <= W;
    float patch[6 * 66 + 16]; /* 18 x 18 fits too; stride4 reads up to 15 past a row's 66 */

    for (int ic = 0; ic < C_in; ic++) {
        __global const float *src = in + ((size_t)n * C_in + ic) * H * W;
        if (ic + IN_AHEAD < C_in)
            for (int r = 0; r < rows; r++) {
                const int y = clamp(y0 + r, 0, H - 1);
                __global const float *q = src + (size_t)IN_AHEAD * H * W + (size_t)y * W;
                for (int k = max(x0, 0); k < min(x0 + cols, W); k += 16) PREFETCH_L2(q + k);
                PREFETCH_L2(q + min(x0 + cols, W) - 1);
            }
        for (int r = 0; r < rows; r++) {
            const int y = y0 + r;
            float *p = patch + r * cols;
            __global const float *q = src + (size_t)y * W + x0;
            if (y < 0 || y >= H) {
                for (int k = 0; k < cols; k++) p[k] = 0.0f;
            } else if (x_inside) {
                for (int k = 0; k + 16 <= cols; k += 16) vstore16(vload16(0, q + k), 0, p + k);
                vstore2(vload2(0, q + cols - 2), 0, p + cols - 2);
            } else {
                for (int k = 0; k < cols; k++) p[k] = (x0 + k >= 0 && x0 + k < W) ? q[k] : 0.0f;
            }
        }
        /* e[i][b]: row i of the 16 6x6 tiles times B */
        float16 e[6][6];
        #pragma unroll
        for (int i = 0; i < 6; i++) {
            float16 d[6];
            if (wide) {
                #pragma unroll
                for (int j = 0; j < 6; j++) d[j] = stride4(patch + i * 66 + j);
            } else {
                float4 q0[6], q1[6], q2[6], q3[6];
                patch_quads(patch + i * 18, q0);
                patch_quads(patch + (4 + i) * 18, q1);
                patch_quads(patch + (8 + i) * 18, q2);
                patch_quads(patch + (12 + i) * 18, q3);
                #pragma unroll
                for (int j = 0; j < 6; j++) d[j] = (float16)(q0[j], q1[j], q2[j], q3[j]);
            }
            BT_ROWS(d[0], d[1], d[2], d[3], d[4], d[5], e[i]);
        }
        #pragma unroll
        for (int b = 0; b < 6; b++) {
            float16 o[6];
            BT_ROWS(e[0][b], e[1][b], e[2][b], e[3][b], e[4][b], e[5][b], o);
            #pragma unroll
            for (int a = 0; a < 6; a++) vstore16(o[a], 0, Vs + ((a * 6 + b) * C_in + ic) * 16);
        }
    }

    const int PH = H / 2, PW = W / 2;
    float blk[16 * 16];
    for (int ob = 0; ob < C_outp / (2 * OCB); ob++) {
        for (int xi = 0; xi < 36; xi++) GEMM_POINT(16, Vs + xi * C_in * 16, ob, xi, NO_PREFETCH, 0, C_in);
        for (int j = 0; j < 2 * OCB; j++) {
            const int oc = ob * 2 * OCB + j;
            if (oc >= C_out) break;
            float16 y[16];
            ms_output(Ms, j, bias[oc], y);
            /* y[4 r + c]: pixel (r, c) of each lane's tile. Rows 2 pr (a) and 2 pr + 1 (b) of the tiles;
             * pooled, (a, b) make one row, p0 its even and p1 its odd columns of each tile */
            #pragma unroll
            for (int pr = 0; pr < 2; pr++) {
                const float16 *a = y + 8 * pr, *b = y + 8 * pr + 4;
                if (pool) {
                    const float16 p0 = MAX_NAN(MAX_NAN(a[0], a[1]), MAX_NAN(b[0], b[1]));
                    const float16 p1 = MAX_NAN(MAX_NAN(a[2], a[3]), MAX_NAN(b[2], b[3]));
                    const float8 r0 = (float8)(p0.s0, p1.s0, p0.s1, p1.s1, p0.s2, p1.s2, p0.s3, p1.s3);
                    const float8 r1 = (float8)(p0.s4, p1.s4, p0.s5, p1.s5, p0.s6, p1.s6, p0.s7, p1.s7);
                    const float8 r2 = (float8)(p0.s8, p1.s8, p0.s9, p1.s9, p0.sa, p1.sa, p0.sb, p1.sb);
                    const float8 r3 = (float8)(p0.sc, p1.sc, p0.sd, p1.sd, p0.se, p1.se, p0.sf, p1.sf);
                    if (wide) { /* pooled row pr, 32 wide: lanes in order */
                        vstore8(r0, 0, blk + pr * 32);
                        vstore8(r1, 0, blk + pr * 32 + 8);
                        vstore8(r2, 0, blk + pr * 32 + 16);
                        vstore8(r3, 0, blk + pr * 32 + 24);
                    } else { /* pooled row 2 ky + pr, 8 wide, from lanes 4 ky .. 4 ky + 3 */
                        vstore8(r0, 0, blk + pr * 8);
                        vstore8(r1, 0, blk + (2 + pr) * 8);
                        vstore8(r2, 0, blk + (4 + pr) * 8);
                        vstore8(r3, 0, blk + (6 + pr) * 8);
                    }
                } else {
                    const float16 a0 = interleave4(a[0].s0123, a[1].s0123, a[2].s0123, a[3].s0123);
                    const float16 a1 = interleave4(a[0].s4567, a[1].s4567, a[2].s4567, a[3].s4567);
                    const float16 a2 = interleave4(a[0].s89ab, a[1].s89ab, a[2].s89ab, a[3].s89ab);
                    const float16 a3 = interleave4(a[0].scdef, a[1].scdef, a[2].scdef, a[3].scdef);
                    const float16 b0 = interleave4(b[0].s0123, b[1].s0123, b[2].s0123, b[3].s0123);
                    const float16 b1 = interleave4(b[0].s4567, b[1].s4567, b[2].s4567, b[3].s4567);
                    const float16 b2 = interleave4(b[0].s89ab, b[1].s89ab, b[2].s89ab, b[3].s89ab);
                    const float16 b3 = interleave4(b[0].scdef, b[1].scdef, b[2].scdef, b[3].scdef);
                    /* wide: rows 2 pr, 2 pr + 1 of 64; else rows 4 ky + 2 pr (+1) of 16 from lanes 4 ky .. */
                    float *q = blk + 2 * pr * (wide ? 64 : 16);
                    const int s1 = wide ? 16 : 64, rs = wide ? 64 : 16;
                    vstore16(a0, 0, q);
                    vstore16(a1, 0, q + s1);
                    vstore16(a2, 0, q + 2 * s1);
                    vstore16(a3, 0, q + 3 * s1);
                    vstore16(b0, 0, q + rs);
                    vstore16(b1, 0, q + rs + s1);
                    vstore16(b2, 0, q + rs + 2 * s1);
                    vstore16(b3, 0, q + rs + 3 * s1);
                }
            }
            if (pool)
                unstage(out + ((size_t)n * C_out + oc) * PH * PW, blk, oh / 2, ow / 2, by * oh / 2, bx * ow / 2, PH, PW);
            else
                unstage(out + ((size_t)n * C_out + oc) * H * W, blk, oh, ow, by * oh, bx * ow, H, W);
        }
    }
}
#endif

/* ---- wino_gemm_out: the second of two passes ----
 * For layers the one-pass form does not take (the transformed input of a block
 * too large for local memory, or U too large to stream once per block): after
 * wino_input, one work-item per (GTB blocks of TT tiles, GOB blocks of 2 OCB output
 * channels): tile blocks from GTB get_global_id(0) on, channel blocks from GOB
 * get_global_id(1) on. At each point xi it multiplies each of its tile blocks with each of
 * its slices of U, so a slice comes from L1 or L2 for all but the first tile block (a
 * 512-channel layer's U is 38 MB and comes from DRAM or L3), and a tile block's V for all
 * but the first channel block. The products of its tiles and channels for all 36 xi go to
 * Ms (GOB, GTB, 36, 2 OCB, TT) in local memory, then the output transform (+ bias, ReLU,
 * the folded 2x2 max pool) writes each tile: the products never go to global memory.
 * Measured on PoCL against a separate GEMM and output pass, VGG16 ms: 60.6 against
 * 65.7 at batch 1; at batch 8 as fast. GTB 4 against 1 (paired per-layer profiles,
 * 2026-12-01, Intel Xeon, 2 MiB L2 per core): the 28x28 layers at batch 1 (4 tile
 * blocks) 0.87x the time, the two-pass layers at batch 8 0.98x; GTB 2 took 1.07x
 * GTB 4's time at batch 1, GTB 8 1.09x at batch 8. (On the AMD EPYC of 2026-11-30,
 * 1 MiB L2, one work-item over all four tile blocks of a 28x28 map had taken 1.005x the time.)
 * Then GOB 4 against 1: the 28x28 layers at batch 1 0.94x, the two-pass layers at batch 8
 * 0.96x (GOB 2: 0.98x and 0.985x; GOB 8 1.05x GOB 4's time at batch 1). */
#ifndef GTB
#define GTB 4
#endif
#ifndef GOB
#define GOB 4
#endif
/* KC: the input channels of one slice of the K loop. Each (channel block, tile block) pair
 * multiplies KC channels, keeping its sums in Ms between slices, so a work-item's slices of V
 * and U (GTB x 8 KB and GOB x 8 KB at KC 128) stay in L1 and L2 while every pair uses them.
 * Measured in paired per-layer profiles (2026-12-01, Intel Xeon): the 28x28 layers at batch 1
 * 0.92x the time of one slice of all C_in, the two-pass layers at batch 8 0.97x; KC 64 1.03x and
 * KC 256 1.08x KC 128's time. */
#ifndef KC
#define KC 128
#endif
#ifndef WINO_ONE_PASS
/* The output transform of tile block tb's products Ms (36, 2 OCB, TT), channel block ob. */
inline void gemm_output(__local const float *Ms, int tb, int ob, __global const float *restrict bias,
                        __global float *restrict out, int C_out, int H, int W, int tiles_y, int tiles_x, int T,
                        int pool)
{
    const int PH = H / 2, PW = W / 2;
    float blk[16 * TT];
    for (int j = 0; j < 2 * OCB; j++) {
        const int oc = ob * 2 * OCB + j;
        if (oc >= C_out) break;
        float16 y[16];
        ms_output(Ms, j, bias[oc], y);
        #pragma unroll
        for (int i = 0; i < 16; i++) vstore16(y[i], 0, blk + i * TT);
        /* tile t = tb TT + k is lane k: pixel (r, c) of it is blk[(4 r + c) TT + k] */
        for (int k = 0; k < TT && tb * TT + k < T; k++) {
            const int t = tb * TT + k, tx = t % tiles_x, ty = t / tiles_x % tiles_y, n = t / tiles_x / tiles_y;
            if (pool) {
                __global float *dst = out + ((size_t)n * C_out + oc) * PH * PW;
                for (int pr = 0; pr < 2 && 2 * ty + pr < PH; pr++)
                    for (int pc = 0; pc < 2 && 2 * tx + pc < PW; pc++) {
                        const int i = 8 * pr + 2 * pc;
                        dst[(size_t)(2 * ty + pr) * PW + 2 * tx + pc] =
                            MAX_NAN(MAX_NAN(blk[i * TT + k], blk[(i + 1) * TT + k]),
                                    MAX_NAN(blk[(i + 4) * TT + k], blk[(i + 5) * TT + k]));
                    }
            } else {
                __global float *dst = out + ((size_t)n * C_out + oc) * H * W;
                for (int r = 0; r < 4 && 4 * ty + r < H; r++)
                    for (int c = 0; c < 4 && 4 * tx + c < W; c++)
                        dst[(size_t)(4 * ty + r) * W + 4 * tx + c] = blk[(4 * r + c) * TT + k];
            }
        }
    }
}

__kernel void wino_gemm_out(__global const float *restrict V, __global const float *restrict U,
                            __global const float *restrict bias, __global float *restrict out,
                            __local float *restrict Ms_all, int C_in, int C_out, int C_outp, int H, int W,
                            int tiles_y, int tiles_x, int T, int Tp, int pool)
{
    const int tb0 = get_global_id(0) * GTB, ob0 = get_global_id(1) * GOB;
    const int blocks = min(GTB, Tp / TT - tb0), obs = min(GOB, C_outp / (2 * OCB) - ob0);
    for (int xi = 0; xi < 36; xi++)
        for (int k0 = 0; k0 < C_in; k0 += KC) {
            const int k1 = min(C_in, k0 + KC);
            for (int o = 0; o < obs; o++)
                for (int g = 0; g < blocks; g++) {
                    const int tb = tb0 + g, left = T - tb * TT, ob = ob0 + o;
                    __local float *Ms = Ms_all + (o * GTB + g) * 36 * 2 * OCB * TT;
                    __global const float *v = V + (size_t)xi * C_in * Tp + (size_t)tb * TT * C_in;
                    /* a last block of 1 tile (T = 49 at 28x28, batch 1) multiplies that tile
                     * alone, of 2 to 4 tiles four (vectors across channels), of up to TT / 2
                     * tiles half the lanes */
                    if (left == 1)
                        GEMM_POINT_FEW(1, v, ob, xi, k0, k1);
                    else if (left <= 4)
                        GEMM_POINT_FEW(4, v, ob, xi, k0, k1);
                    else if (left <= TT / 2)
                        GEMM_POINT(8, v, ob, xi, PREFETCH, k0, k1);
                    else
                        GEMM_POINT(16, v, ob, xi, PREFETCH, k0, k1);
                }
        }
    for (int o = 0; o < obs; o++)
        for (int g = 0; g < blocks; g++)
            gemm_output(Ms_all + (o * GTB + g) * 36 * 2 * OCB * TT, tb0 + g, ob0 + o, bias, out, C_out, H, W, tiles_y,
                        tiles_x, T, pool);
}
#endif

#else /* WINO_GPU */

/* ---- GPU-shaped F(4x4, 3x3): the same transforms around a tiled GEMM ----
 *
 * Tiles are numbered as above; here Tp = T rounded up to MWG.
 * Buffers (float32):
 *   V (36, Kp, Tp)  transformed input; Kp = C_in rounded up to KPAD; zero past
 *                   C_in and T, written whole by wino_gpu_input (no other pass)
 *   U (36, Kp, Np)  transformed weights, packed on the host; Np = C_out rounded
 *                   up to NPAD; zero past C_in and C_out
 *   M (36, Cp, Tp)  products; Cp = C_out rounded up to NWG
 * Kernels and work mapping:
 *   wino_gpu_input:  one work-item per (tile, input channel): get_global_id(0) = t
 *                    (< Tp), (1) = ic (< Kp); B^T d B of its 6x6 tile, 36 stores
 *                    that are consecutive across work-items.
 *   wino_gpu_gemm:   per transform point xi = get_global_id(2),
 *                    M[xi] (Cp x Tp) = U[xi]^T (Cp x Kp) * V[xi] (Kp x Tp).
 *                    A work-group of MDIMC x NDIMC work-items computes MWG tiles x
 *                    NWG channels; each work-item MWI x NWI of them in registers,
 *                    strided by MDIMC and NDIMC so that neighbouring work-items
 *                    touch neighbouring addresses. K runs in slices of KWG staged
 *                    in local memory (vector loads of VWM and VWN floats); the
 *                    next slice is loaded into registers while this one is used.
 *   wino_gpu_output: one work-item per (tile, output channel): get_global_id(0) =
 *                    t (< T), (1) = oc; A^T m A + bias, ReLU, and with `pool` set
 *                    the 2x2 stride-2 max pool of the 4x4 result (a pooled pixel
 *                    never straddles two tiles: tiles start at multiples of 4).
 * Accumulation runs over ic in order with fma, as wino_gemm does.
 */
#ifndef MWG
#define MWG 64
#endif
#ifndef NWG
#define NWG 64
#endif
#ifndef KWG
#define KWG 16
#endif
#ifndef MDIMC
#define MDIMC 16
#endif
#ifndef NDIMC
#define NDIMC 16
#endif
#ifndef VWM
#define VWM 4
#endif
#ifndef VWN
#define VWN 4
#endif
#ifndef KPAD
#define KPAD 32
#endif
#ifndef NPAD
#define NPAD 128
#endif
#define MWI (MWG / MDIMC)
#define NWI (NWG / NDIMC)
#define WGS (MDIMC * NDIMC)
#define A_LOADS (KWG * MWG / VWM / WGS) /* vectors of V each work-item stages per slice */
#define B_LOADS (KWG * NWG / VWN / WGS)
#if MWG % MDIMC || NWG % NDIMC || KPAD % KWG || NPAD % NWG || MWG % VWM || NWG % VWN || \
    (KWG * MWG / VWM) % WGS || (KWG * NWG / VWN) % WGS || A_LOADS < 1 || B_LOADS < 1
#error "GPU Winograd GEMM: the tile sizes do not divide (see host/layer_winograd_gpu.c)"
#endif

#if VWM == 1
#define VECM float
#define LOADM(p) (*(p))
#define STOREM(v, p) (*(p) = (v))
#elif VWM == 2
#define VECM float2
#define LOADM(p) vload2(0, p)
#define STOREM(v, p) vstore2(v, 0, p)
#elif VWM == 4
#define VECM float4
#define LOADM(p) vload4(0, p)
#define STOREM(v, p) vstore4(v, 0, p)
#else
#error "VWM must be 1, 2 or 4"
#endif
#if VWN == 1
#define VECN float
#define LOADN(p) (*(p))
#define STOREN(v, p) (*(p) = (v))
#elif VWN == 2
#define VECN float2
#define LOADN(p) vload2(0, p)
#define STOREN(v, p) vstore2(v, 0, p)
#elif VWN == 4
#define VECN float4
#define LOADN(p) vload4(0, p)
#define STOREN(v, p) vstore4(v, 0, p)
#else
#error "VWN must be 1, 2 or 4"
#endif

__kernel void wino_gpu_input(__global const float *restrict in, __global float *restrict V, int C_in, int H, int W,
                             int tiles_y, int tiles_x, int T, int Tp, int Kp)
{
    const int t = get_global_id(0);
    const int ic = get_global_id(1);
    if (t >= Tp || ic >= Kp) return;
    float d[6][6];
    #pragma unroll
    for (int i = 0; i < 6; i++)
        #pragma unroll
        for (int j = 0; j < 6; j++) d[i][j] = 0.0f;
    if (t < T && ic < C_in) {
        const int tx = t % tiles_x, row = t / tiles_x;
        const int ty = row % tiles_y, n = row / tiles_y;
        __global const float *src = in + ((size_t)n * C_in + ic) * H * W;
        const int y0 = ty * 4 - 1, x0 = tx * 4 - 1;
        #pragma unroll
        for (int i = 0; i < 6; i++) {
            const int y = y0 + i;
            if (y < 0 || y >= H) continue;
            #pragma unroll
            for (int j = 0; j < 6; j++) {
                const int x = x0 + j;
                if (x >= 0 && x < W) d[i][j] = src[(size_t)y * W + x];
            }
        }
    }
    float e[6][6]; /* e[i][b]: row i of the tile times B */
    #pragma unroll
    for (int i = 0; i < 6; i++) BT_ROWS(d[i][0], d[i][1], d[i][2], d[i][3], d[i][4], d[i][5], e[i]);
    const size_t xi_stride = (size_t)Kp * Tp;
    __global float *dst = V + (size_t)ic * Tp + t;
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float o[6];
        BT_ROWS(e[0][b], e[1][b], e[2][b], e[3][b], e[4][b], e[5][b], o);
        #pragma unroll
        for (int a = 0; a < 6; a++) dst[(a * 6 + b) * xi_stride] = o[a];
    }
}

__kernel __attribute__((reqd_work_group_size(MDIMC, NDIMC, 1)))
void wino_gpu_gemm(__global const float *restrict V, __global const float *restrict U, __global float *restrict M,
                   int Kp, int Np, int Cp, int Tp)
{
    __local float As[KWG * MWG]; /* (KWG, MWG): a slice of V */
    __local float Bs[KWG * NWG]; /* (KWG, NWG): a slice of U */
    const int lx = get_local_id(0), ly = get_local_id(1), tid = ly * MDIMC + lx;
    /* (by global ids: a launch of more than VGGCL_GRID_ROWS rows is split through the global offset) */
    const int m0 = get_global_id(0) / MDIMC * MWG, n0 = get_global_id(1) / NDIMC * NWG, xi = get_global_id(2);
    __global const float *a = V + (size_t)xi * Kp * Tp + m0;
    __global const float *b = U + (size_t)xi * Kp * Np + n0;
    /* the vectors this work-item stages: row k, column (first float) of each */
    int a_k[A_LOADS], a_m[A_LOADS], b_k[B_LOADS], b_n[B_LOADS];
    VECM ra[A_LOADS];
    VECN rb[B_LOADS];
    #pragma unroll
    for (int i = 0; i < A_LOADS; i++) {
        const int v = tid + i * WGS;
        a_k[i] = v / (MWG / VWM);
        a_m[i] = v % (MWG / VWM) * VWM;
        ra[i] = LOADM(a + (size_t)a_k[i] * Tp + a_m[i]);
    }
    #pragma unroll
    for (int j = 0; j < B_LOADS; j++) {
        const int v = tid + j * WGS;
        b_k[j] = v / (NWG / VWN);
        b_n[j] = v % (NWG / VWN) * VWN;
        rb[j] = LOADN(b + (size_t)b_k[j] * Np + b_n[j]);
    }
    float acc[MWI][NWI];
    #pragma unroll
    for (int i = 0; i < MWI; i++)
        #pragma unroll
        for (int j = 0; j < NWI; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < Kp; k0 += KWG) {
        #pragma unroll
        for (int i = 0; i < A_LOADS; i++) STOREM(ra[i], As + a_k[i] * MWG + a_m[i]);
        #pragma unroll
        for (int j = 0; j < B_LOADS; j++) STOREN(rb[j], Bs + b_k[j] * NWG + b_n[j]);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k0 + KWG < Kp) { /* the next slice, in flight while this one is multiplied */
            a += (size_t)KWG * Tp;
            b += (size_t)KWG * Np;
            #pragma unroll
            for (int i = 0; i < A_LOADS; i++) ra[i] = LOADM(a + (size_t)a_k[i] * Tp + a_m[i]);
            #pragma unroll
            for (int j = 0; j < B_LOADS; j++) rb[j] = LOADN(b + (size_t)b_k[j] * Np + b_n[j]);
        }
        #pragma unroll
        for (int k = 0; k < KWG; k++) {
            float av[MWI], bv[NWI];
            #pragma unroll
            for (int i = 0; i < MWI; i++) av[i] = As[k * MWG + lx + i * MDIMC];
            #pragma unroll
            for (int j = 0; j < NWI; j++) bv[j] = Bs[k * NWG + ly + j * NDIMC];
            #pragma unroll
            for (int i = 0; i < MWI; i++)
                #pragma unroll
                for (int j = 0; j < NWI; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *c = M + ((size_t)xi * Cp + n0) * Tp + m0;
    #pragma unroll
    for (int j = 0; j < NWI; j++)
        #pragma unroll
        for (int i = 0; i < MWI; i++) c[(size_t)(ly + j * NDIMC) * Tp + lx + i * MDIMC] = acc[i][j];
}

__kernel void wino_gpu_output(__global const float *restrict M, __global const float *restrict bias,
                              __global float *restrict out, int C_out, int Cp, int H, int W, int tiles_y, int tiles_x,
                              int T, int Tp, int pool)
{
    const int t = get_global_id(0);
    const int oc = get_global_id(1);
    if (t >= T || oc >= C_out) return;
    const size_t xi_stride = (size_t)Cp * Tp;
    __global const float *src = M + (size_t)oc * Tp + t;
    float f[4][6]; /* f[r][b]: A^T applied down column b of the 6x6 products */
    #pragma unroll
    for (int b = 0; b < 6; b++) {
        float m[6], o[4];
        #pragma unroll
        for (int a = 0; a < 6; a++) m[a] = src[(a * 6 + b) * xi_stride];
        AT_ROWS(m[0], m[1], m[2], m[3], m[4], m[5], o);
        #pragma unroll
        for (int r = 0; r < 4; r++) f[r][b] = o[r];
    }
    const float bv = bias[oc];
    float y[4][4];
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        float o[4];
        AT_ROWS(f[r][0], f[r][1], f[r][2], f[r][3], f[r][4], f[r][5], o);
        #pragma unroll
        for (int c = 0; c < 4; c++) y[r][c] = RELU(o[c] + bv);
    }
    const int tx = t % tiles_x, row = t / tiles_x;
    const int ty = row % tiles_y, n = row / tiles_y;
    if (pool) {
        const int PH = H / 2, PW = W / 2;
        __global float *dst = out + ((size_t)n * C_out + oc) * PH * PW;
        #pragma unroll
        for (int r = 0; r < 2; r++)
            #pragma unroll
            for (int c = 0; c < 2; c++) {
                const int py = ty * 2 + r, px = tx * 2 + c;
                if (py < PH && px < PW)
                    dst[(size_t)py * PW + px] = MAX_NAN(MAX_NAN(y[2 * r][2 * c], y[2 * r][2 * c + 1]),
                                                        MAX_NAN(y[2 * r + 1][2 * c], y[2 * r + 1][2 * c + 1]));
            }
    } else {
        __global float *dst = out + ((size_t)n * C_out + oc) * H * W;
        #pragma unroll
        for (int r = 0; r < 4; r++) {
            const int yy = ty * 4 + r;
            #pragma unroll
            for (int c = 0; c < 4; c++) {
                const int xx = tx * 4 + c;
                if (yy < H && xx < W) dst[(size_t)yy * W + xx] = y[r][c];
            }
        }
    }
}

#endif /* WINO_GPU */
