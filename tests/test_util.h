/* Shared helpers for the Check suites: deterministic data, the compare that
 * prints the first mismatch, OpenCL buffers, and a safetensors writer. */
#ifndef VGGCL_TEST_UTIL_H
#define VGGCL_TEST_UTIL_H

#include <check.h>
#include <stddef.h>

#include "internal.h"

/* Uniform values in [lo, hi) from a fixed LCG: the same on every machine. */
void tu_fill(float *a, size_t n, unsigned seed, float lo, float hi);
/* n NaNs: an output filled so before a call shows whatever the call leaves unwritten. */
void tu_nan(float *a, size_t n);

/* Compares got with the reference `expected`, an (N, C, H, W) tensor.
 * Passes when the relative L2 error is <= rel_l2 and every element satisfies
 * |got - exp| <= elem_tol * (|exp| + rms(expected)); NaN must match NaN.
 * On failure prints `what`, the shape and the first bad index, returns 0. */
int tu_compare(const char *what, const float *expected, const float *got, int N, int C, int H, int W,
               double rel_l2, double elem_tol);

/* A context on the OpenCL device named by $VGGCL_TEST_DEVICE (default: the
 * library's default device). Fails the test if there is none. */
vggcl_ctx *tu_cl_ctx(void);
cl_mem tu_upload(vggcl_ctx *ctx, const float *src, size_t n);
cl_mem tu_alloc(vggcl_ctx *ctx, size_t n); /* n floats, each NaN */
void tu_download(vggcl_ctx *ctx, cl_mem buf, float *dst, size_t n);

/* One tensor for tu_write_safetensors. */
typedef struct {
    const char *name;
    const char *dtype;      /* "F32" unless raw is set */
    int ndim;
    long long shape[4];
    const float *data;      /* F32 values, or NULL to use raw */
    const void *raw;        /* raw bytes of raw_len (for other dtypes) */
    size_t raw_len;
} tu_tensor;

/* Writes a valid safetensors file; metadata_json is the text of the
 * __metadata__ object or NULL. */
void tu_write_safetensors(const char *path, const tu_tensor *t, int n, const char *metadata_json);

/* Writes a random VGG state_dict with torchvision key names. cfg: widths and
 * M for max pools, e.g. "8,M,16,M,16,16" (a trailing M is pool5, which has no
 * key and so is not written). bn adds BatchNorm after every conv. */
void tu_write_vgg(const char *path, const char *cfg, int bn, int classes, unsigned seed, const char *meta);
/* The same with a head of dense layers: "" (one linear layer after GAP), "gap:W1,W2,..." (hidden
 * widths after GAP) or "flat:W1,..." (after the 7x7 adaptive pool, flattened). */
void tu_write_vgg_head(const char *path, const char *cfg, int bn, const char *head, int classes, unsigned seed,
                       const char *meta);

/* Writes bytes to path (for malformed files). */
void tu_write_bytes(const char *path, const void *data, size_t len);

/* A path in a fresh temporary folder for this process. */
const char *tu_tmp(const char *name);

/* Runs a suite with CK_NOFORK-friendly defaults; returns the exit code. */
int tu_run(Suite *s);

#endif
