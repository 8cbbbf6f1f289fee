/* conv3x3.cl: 3x3 convolution, stride 1, padding 1, bias and ReLU fused.
 *
 * Layout: in (N, C_in, H, W) and out (N, C_out, H, W), NCHW float32;
 * bias (C_out); weights packed by the host (vggcl__conv_pack_weights) as
 * (ceil(C_out / OCB), C_in, 3, 3, OCB), zero-padded past C_out, so the OCB
 * weights one work-item needs for one (ic, ky, kx) are contiguous.
 * Work mapping: one work-item computes OCB output channels x PX consecutive
 * pixels of one row, in 2 x OCB vector accumulators of PX/2 lanes:
 *   get_global_id(0) = tile along x (ox0 = tile * PX; the last tile may be partial)
 *   get_global_id(1) = oy
 *   get_global_id(2) = n * ceil(C_out / OCB) + output-channel block
 * For each (ic, ky) it loads the input row segment [ox0 - 1, ox0 + PX + 1)
 * as 2 x 3 shifted vectors and does 6 * OCB vector FMAs with broadcast
 * weights, each weight feeding two FMAs (so FMAs, not loads, bound it).
 * Measured on PoCL (VGG16 at 224, ms per layer), OCB x PX = 16 x 16 against
 * 16 x 32: 64->64 @224 21.1 / 17.6, 128->128 @112 24.2 / 23.1, @14 8.8 / 12.7
 * (narrow maps waste lanes; auto runs those layers as Winograd).
 * Accumulation order (ic, ky, kx) is that of host/ref/conv3x3_ref.c.
 */

/* ReLU letting NaN through as PyTorch does (fmax gives the other operand: a NaN input came out as a
 * confident answer); the same macro in each program that needs it. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))
#ifndef OCB
#define OCB 16
#endif
#ifndef PX
#define PX 32
#endif
/* a row segment of PX pixels is held as two vectors of VW lanes */
#define VW (PX / 2)
#if VW == 16
#define VEC float16
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
#define VEC float8
#define VLOAD vload8
#define VSTORE vstore8
#else
#error "PX must be 16 or 32"
#endif

__kernel void conv3x3_bias_relu(__global const float *restrict in,
                                __global const float *restrict weight,
                                __global const float *restrict bias,
                                __global float *restrict out,
                                int C_in, int C_out, int H, int W)
{
    const int ox0 = get_global_id(0) * PX;
    const int oy = get_global_id(1);
    const int blocks = (C_out + OCB - 1) / OCB;
    const int n = get_global_id(2) / blocks;
    const int ob = get_global_id(2) % blocks;
    if (ox0 >= W) return;

    VEC acc0[OCB], acc1[OCB];
    for (int t = 0; t < OCB; t++) acc0[t] = acc1[t] = (VEC)(0.0f);

    const size_t plane = (size_t)H * W;
    __global const float *inp = in + (size_t)n * C_in * plane;
    __global const float *wp = weight + (size_t)ob * C_in * 9 * OCB;
    const int interior = ox0 >= 1 && ox0 + PX + 1 <= W;

    for (int ic = 0; ic < C_in; ic++) {
        for (int ky = 0; ky < 3; ky++) {
            const int iy = oy + ky - 1;
            if (iy < 0 || iy >= H) continue;
            __global const float *row = inp + ic * plane + (size_t)iy * W;
            VEC a0, a1, a2, b0, b1, b2;
            if (interior) {
                a0 = VLOAD(0, row + ox0 - 1);
                a1 = VLOAD(0, row + ox0);
                a2 = VLOAD(0, row + ox0 + 1);
                b0 = VLOAD(0, row + ox0 + VW - 1);
                b1 = VLOAD(0, row + ox0 + VW);
                b2 = VLOAD(0, row + ox0 + VW + 1);
            } else {
                float seg[PX + 2];
                for (int i = 0; i < PX + 2; i++) {
                    const int x = ox0 - 1 + i;
                    seg[i] = (x >= 0 && x < W) ? row[x] : 0.0f;
                }
                a0 = VLOAD(0, seg);
                a1 = VLOAD(0, seg + 1);
                a2 = VLOAD(0, seg + 2);
                b0 = VLOAD(0, seg + VW);
                b1 = VLOAD(0, seg + VW + 1);
                b2 = VLOAD(0, seg + VW + 2);
            }
            __global const float *wk = wp + (ic * 9 + ky * 3) * OCB;
            for (int t = 0; t < OCB; t++) {
                const float w0 = wk[t], w1 = wk[OCB + t], w2 = wk[2 * OCB + t];
                acc0[t] = fma(a0, (VEC)(w0), acc0[t]);
                acc1[t] = fma(b0, (VEC)(w0), acc1[t]);
                acc0[t] = fma(a1, (VEC)(w1), acc0[t]);
                acc1[t] = fma(b1, (VEC)(w1), acc1[t]);
                acc0[t] = fma(a2, (VEC)(w2), acc0[t]);
                acc1[t] = fma(b2, (VEC)(w2), acc1[t]);
            }
        }
    }

    for (int t = 0; t < OCB; t++) {
        const int oc = ob * OCB + t;
        if (oc >= C_out) break;
        const VEC r0 = RELU(acc0[t] + (VEC)(bias[oc]));
        const VEC r1 = RELU(acc1[t] + (VEC)(bias[oc]));
        __global float *dst = out + ((size_t)n * C_out + oc) * plane + (size_t)oy * W + ox0;
        if (ox0 + PX <= W) {
            VSTORE(r0, 0, dst);
            VSTORE(r1, 0, dst + VW);
        } else {
            float tmp[PX];
            VSTORE(r0, 0, tmp);
            VSTORE(r1, 0, tmp + VW);
            for (int i = 0; ox0 + i < W; i++) dst[i] = tmp[i];
        }
    }
}
