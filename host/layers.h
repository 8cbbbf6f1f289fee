/* Launchers: one per layer family, each enqueues its kernel(s) on the
 * context's queue. Same parameter names and order as host/ref/ref.h, after
 * the context and `where` (the layer, for error messages). */
#ifndef VGGCL_LAYERS_H
#define VGGCL_LAYERS_H

#include "internal.h"
#include "ref/ref.h"

/* The convolutions are in the algorithm table (conv_algo.h). The Winograd
 * F(4x4, 3x3) weight transform G g G^T, shared by both Winograd layouts, of the
 * n <= VGGCL_WINO_LANES 3x3 filters (oc0 .. oc0 + n - 1, ic) of weight
 * (C_out, C_in, 3, 3), point-major: u[xi * n + j] for point xi = 6a + b, zero
 * past C_out and C_in. A block at a time, so that the filters share vector lanes. */
#define VGGCL_WINO_LANES 16
void vggcl__wino_filters(const float *weight, int C_out, int C_in, int oc0, int n, int ic, float *u);

/* C (M, N) = A (M, K) * B, row-major, through CLBlast: B is (K, N), or (N, K)
 * used transposed when trans_b. Every CLBlast call goes through here (profiling
 * event, fault injection, the lock CLBlast needs, the error message). */
vggcl_status vggcl__sgemm(vggcl_ctx *ctx, const char *where, int trans_b, size_t M, size_t N, size_t K, cl_mem a,
                          size_t a_off, cl_mem b, size_t b_off, cl_mem c, size_t c_off);
/* What CLBlast may allocate during one such call beside its operands, in floats: its indirect
 * kernel copies the operands padded to its tiles (taken as multiples of 128, its largest tuned
 * tile) into one buffer, A, B and C one after the other (CLBlast 1.5's ComputeTempSize), freed
 * after the call. A 4 GiB output made it ask PoCL for a 4.2 GiB buffer, and CLBlast's C++ then
 * called std::terminate: the memory check counts it. */
size_t vggcl__sgemm_temp_floats(size_t M, size_t N, size_t K);
/* The floats CLBlast's int offsets and indices reach: INT_MAX, or a test's ctx->blas_reach. */
size_t vggcl__blas_reach(const vggcl_ctx *ctx);
/* Whether such a call stays within that reach: that buffer, and each operand at its offset. */
int vggcl__sgemm_reaches(const vggcl_ctx *ctx, size_t M, size_t N, size_t K, size_t a_off, size_t b_off,
                         size_t c_off);

vggcl_status vggcl__cl_maxpool2d(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H,
                                int W, int kernel_size, int stride, int padding, int ceil_mode);

/* partial: scratch of at least vggcl__cl_gap_partial_floats(N, C, H, W) floats,
 * or NULL when that is 0. */
size_t vggcl__cl_gap_partial_floats(const vggcl_ctx *ctx, int N, int C, int H, int W);
vggcl_status vggcl__cl_gap(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, cl_mem partial, int N, int C,
                          int H, int W);

/* A linear layer, out (N, C) = in (N, K) . weight (C, K)^T + bias, ReLU when
 * relu: kernels/dense.cl's dense up to VGGCL_DENSE_SMALL_MACS multiply-adds
 * (GAP heads, small chains: no CLBlast compile, seconds on first use), CLBlast
 * SGEMM + bias_add above. _with forces a path (tests). */
enum { VGGCL_DENSE_AUTO, VGGCL_DENSE_SMALL, VGGCL_DENSE_SGEMM };
#define VGGCL_DENSE_SMALL_MACS (1 << 24)
/* Whether VGGCL_DENSE_AUTO takes CLBlast's SGEMM for an (N, K) . (C, K)^T layer (past a size, within
 * CLBlast's reach): the one rule, also for the memory check that counts SGEMM's temporaries. */
int vggcl__dense_uses_sgemm(const vggcl_ctx *ctx, int N, int K, int C);
vggcl_status vggcl__cl_dense(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias, cl_mem out,
                            int N, int K, int C, int relu);
vggcl_status vggcl__cl_dense_with(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem weight, cl_mem bias, cl_mem out,
                                  int N, int K, int C, int relu, int path);

vggcl_status vggcl__cl_adaptive_avgpool2d(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C,
                                         int H, int W, int OH, int OW);

/* fmap (N, C, HW), head_w (K, C), cls (N) int -> out (N, HW); see ref.h. */
vggcl_status vggcl__cl_cam(vggcl_ctx *ctx, const char *where, cl_mem fmap, cl_mem head_w, cl_mem cls, cl_mem out,
                          int N, int C, int HW);

/* "winograd-packed" runs a layer of up to this many channels in and out as one pass */
#define VGGCL_PACKED_ONE_PASS_MAX_C 256
/* The channel-packed layout of a map (N, C, H, W) that "winograd-packed" reads and writes:
 * VGGCL_PACKED_SIDE and the layout in host/ref/ref.h. _floats: its size; _pack and _unpack
 * convert from and to NCHW (the whole packed map written). */
size_t vggcl__packed_floats(int N, int C, int H, int W);
vggcl_status vggcl__cl_pack(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H, int W);
vggcl_status vggcl__cl_unpack(vggcl_ctx *ctx, const char *where, cl_mem in, cl_mem out, int N, int C, int H, int W);

/* Rounds n up to a multiple of m. */
static inline size_t vggcl__round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

#endif
