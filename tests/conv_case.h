/* One convolution test case, shared by the suites of every algorithm in the
 * table (host/conv_algo.h): random input, weights and bias for the shape, the
 * plain-C reference (and its max pool when the case folds one in), the device
 * path `algo` with the given kernel parameters (NULL: the defaults for the
 * shape) and its own weight packing and workspace, and the compare. */
#ifndef VGGCL_CONV_CASE_H
#define VGGCL_CONV_CASE_H

#include "conv_algo.h"
#include "test_util.h"

/* Returns 1 when the device path matches the reference within rel_l2 and elem
 * (see tu_compare); prints the shape, parameters and first mismatch otherwise.
 * pool: fold a 2x2 stride-2 max pool into the convolution (the algorithm must
 * fuse pools). */
int conv_case(vggcl_ctx *ctx, int algo, const vggcl_conv_params *params, int N, int C_in, int C_out, int H, int W,
              int pool, unsigned seed, double rel_l2, double elem);

#endif
