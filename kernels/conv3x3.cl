/* conv3x3.cl: 3x3 convolution, stride 1, padding 1, bias and ReLU fused.
 *
 * Layout: in (N, C_in, H, W) and out (N, C_out, H, W), NCHW float32;
 * bias (C_out); weights packed by the host (vggcl__conv_pack_weights) as
 * (ceil(C_out / OCB), C_in, 3, 3, OCB), zero-padded past C_out, so the OCB
 * weights one work-item needs for one (ic, ky, kx) are contiguous.
 * Work mapping: one work-item computes OCB output channels x PX consecutive
 * pixels of one row, in OCB vector accumulators of PX lanes:
 *   get_global_id(0) = tile along x (ox0 = tile * PX; the last tile may be partial)
 *   get_global_id(1) = oy
 *   get_global_id(2) = n * ceil(C_out / OCB) + output-channel block
 * For each (ic, ky) it loads the input row segment [ox0 - 1, ox0 + PX + 1)
 * as three shifted vectors and does 3 * OCB vector FMAs with broadcast weights.
 * Accumulation order (ic, ky, kx) is that of host/ref/conv3x3_ref.c.
 */
#ifndef OCB
#define OCB 16
#endif
#ifndef PX
#define PX 16
#endif

#if PX == 16
#define VEC float16
#define VLOAD vload16
#define VSTORE vstore16
#elif PX == 8
#define VEC float8
#define VLOAD vload8
#define VSTORE vstore8
#elif PX == 4
#define VEC float4
#define VLOAD vload4
#define VSTORE vstore4
#else
#error "PX must be 4, 8 or 16"
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

    VEC acc[OCB];
    for (int t = 0; t < OCB; t++) acc[t] = (VEC)(0.0f);

    const size_t plane = (size_t)H * W;
    __global const float *inp = in + (size_t)n * C_in * plane;
    __global const float *wp = weight + (size_t)ob * C_in * 9 * OCB;
    const int interior = ox0 >= 1 && ox0 + PX + 1 <= W;

    for (int ic = 0; ic < C_in; ic++) {
        for (int ky = 0; ky < 3; ky++) {
            const int iy = oy + ky - 1;
            if (iy < 0 || iy >= H) continue;
            __global const float *row = inp + ic * plane + (size_t)iy * W;
            VEC v0, v1, v2;
            if (interior) {
                v0 = VLOAD(0, row + ox0 - 1);
                v1 = VLOAD(0, row + ox0);
                v2 = VLOAD(0, row + ox0 + 1);
            } else {
                float seg[PX + 2];
                for (int i = 0; i < PX + 2; i++) {
                    const int x = ox0 - 1 + i;
                    seg[i] = (x >= 0 && x < W) ? row[x] : 0.0f;
                }
                v0 = VLOAD(0, seg);
                v1 = VLOAD(0, seg + 1);
                v2 = VLOAD(0, seg + 2);
            }
            __global const float *wk = wp + (ic * 9 + ky * 3) * OCB;
            for (int t = 0; t < OCB; t++) {
                acc[t] = fma(v0, (VEC)(wk[t]), acc[t]);
                acc[t] = fma(v1, (VEC)(wk[OCB + t]), acc[t]);
                acc[t] = fma(v2, (VEC)(wk[2 * OCB + t]), acc[t]);
            }
        }
    }

    const int full = ox0 + PX <= W;
    for (int t = 0; t < OCB; t++) {
        const int oc = ob * OCB + t;
        if (oc >= C_out) break;
        const VEC r = fmax(acc[t] + (VEC)(bias[oc]), (VEC)(0.0f));
        __global float *dst = out + ((size_t)n * C_out + oc) * plane + (size_t)oy * W + ox0;
        if (full) {
            VSTORE(r, 0, dst);
        } else {
            float tmp[PX];
            VSTORE(r, 0, tmp);
            for (int i = 0; ox0 + i < W; i++) dst[i] = tmp[i];
        }
    }
}
