/* The plain-C reference for every layer: the oracle the kernels are tested
 * against and the `--device ref` backend. Same parameter names and order as
 * the launchers in host/layers.h; accumulation in double. */
#ifndef VGGCL_REF_H
#define VGGCL_REF_H

/* in (N, C_in, H, W), weight (C_out, C_in, 3, 3), bias (C_out) -> out (N, C_out, H, W).
 * Stride 1, padding 1, then ReLU. */
void vggcl__ref_conv3x3_bias_relu(const float *in, const float *weight, const float *bias, float *out,
                                 int N, int C_in, int C_out, int H, int W);

/* Output size of one spatial dimension of MaxPool2d, as PyTorch computes it;
 * 0 when the input is too small or the parameters are not PyTorch's. */
int vggcl__pool_out_size(int in, int kernel_size, int stride, int padding, int ceil_mode);
/* Whether PyTorch takes the pool's parameters: a window and stride of at least 1, padding from 0 to half the
 * window (vggcl__pool_out_size is 0 otherwise). */
int vggcl__pool_params_ok(int kernel_size, int stride, int padding);

/* in (N, C, H, W) -> out (N, C, OH, OW), OH/OW from vggcl__pool_out_size. */
void vggcl__ref_maxpool2d(const float *in, float *out, int N, int C, int H, int W,
                         int kernel_size, int stride, int padding, int ceil_mode);

/* in (N, C, H, W) -> out (N, C): the mean of each map. */
void vggcl__ref_gap(const float *in, float *out, int N, int C, int H, int W);

/* in (N, C, H, W) -> out (N, C, OH, OW): PyTorch's AdaptiveAvgPool2d. */
void vggcl__ref_adaptive_avgpool2d(const float *in, float *out, int N, int C, int H, int W, int OH, int OW);

/* in (N, K), weight (C, K), bias (C) -> out (N, C) = in * weight^T + bias,
 * then ReLU when relu is set. */
void vggcl__ref_dense(const float *in, const float *weight, const float *bias, float *out,
                     int N, int K, int C, int relu);

/* The channel-packed layout that "winograd-packed" reads and writes (kernels/winograd_packed.cl):
 * (N, Cp / 16, Hp, Wp, 16), Cp = C rounded up to 16, Hp = VGGCL_PACKED_SIDE(H) = max(4 ceil(H / 4),
 * 6 ceil(H / 6)) + 2 (whole tiles of F(4x4) and of F(6x6) and a border), Wp likewise: pixel
 * (y, x) of channel c at ((n, c / 16, y + 1, x + 1, c % 16)), zero everywhere else.
 * in (N, C, H, W) -> out in that layout. */
#define VGGCL_PACKED_SIDE(s) ((((s) + 3) / 4 * 4 > ((s) + 5) / 6 * 6 ? ((s) + 3) / 4 * 4 : ((s) + 5) / 6 * 6) + 2)
void vggcl__ref_pack(const float *in, float *out, int N, int C, int H, int W);
/* The inverse: a packed map -> (N, C, H, W). */
void vggcl__ref_unpack(const float *in, float *out, int N, int C, int H, int W);

/* fmap (N, C, HW), head_w (K, C), cls (N) -> out (N, HW): the class
 * activation map sum_c head_w[cls[n], c] * fmap[n, c, :]. */
void vggcl__ref_cam(const float *fmap, const float *head_w, const int *cls, float *out, int N, int C, int HW);

#endif
