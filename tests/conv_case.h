/* One convolution test case, shared by the direct, im2col+GEMM and Winograd
 * suites: random input, weights and bias for the shape, the plain-C
 * reference, the device path `algo` (VGGCL_CONV_DIRECT, _GEMM or _WINOGRAD)
 * with its own weight packing and workspace, and the compare. */
#ifndef VGGCL_CONV_CASE_H
#define VGGCL_CONV_CASE_H

#include "test_util.h"

/* Returns 1 when the device path matches the reference within rel_l2 and elem
 * (see tu_compare); prints the shape and first mismatch otherwise. */
int conv_case(vggcl_ctx *ctx, int algo, int N, int C_in, int C_out, int H, int W, unsigned seed, double rel_l2,
              double elem);

#endif
