/* The convolution algorithms, one table entry each: name, weight packing,
 * workspace, launch, and the kernel's tunable parameters with their ranges.
 * Nothing else switches on the algorithm, and nothing else states a kernel
 * default: the host passes every kernel tunable with -D from a
 * vggcl_conv_params made here (the per-shape default, or a tuned row) to the
 * programs that read it; a host-only tunable chooses between kernels and
 * stays out of every build. */
#ifndef VGGCL_CONV_ALGO_H
#define VGGCL_CONV_ALGO_H

#include "internal.h"

#define VGGCL_CONV_ALGOS (VGGCL_CONV_WINOGRAD_PACKED + 1) /* ids 1.. are entries; 0 is AUTO */
#define VGGCL_CONV_VARIANTS 6 /* weight layouts of one algorithm at most (its variant()) */

/* One -D parameter of a kernel: its default and the values the tuner may try
 * (increasing; the list ends where a value is not above the one before, so 0
 * may come first). A parameter the packed weights depend on has one
 * value only, or is one the algorithm's variant() tells apart: a model keeps
 * its weights packed per variant (weight layout) it may use.
 * programs: the entry's programs (internal.h's VGGCL_PROG_*) that read it and
 * get it with -D: 0 every one; else VGGCL_PROG_BIT of each, so a program that
 * does not read it is built once for all its values; VGGCL_HOST_ONLY: none
 * (the launcher alone reads it), so its values share every build. */
typedef struct {
    const char *name;
    int def;
    int values[8];
    unsigned programs;
} vggcl_tunable;
#define VGGCL_PROG_BIT(prog) (1u << (prog))
#define VGGCL_HOST_ONLY (1u << 31) /* (no program's bit) */

/* One convolution call: in (N, C_in, H, W) -> out (N, C_out, H, W), or
 * (N, C_out, H/2, W/2) when pool is set (a 2x2 stride-2 max pool folded in;
 * only for an algorithm with fuses_pool). ws: the workspace buffers. */
typedef struct {
    cl_mem in, weight, bias, out, ws[2];
    int N, C_in, C_out, H, W, pool;
} vggcl_conv_call;

/* The call's FLOPs, counted as the direct convolution's, so that GFLOP/s compare across algorithms. */
static inline double vggcl__conv_flops(const vggcl_conv_call *c)
{
    return 2.0 * c->N * c->C_out * c->C_in * 9 * (double)c->H * c->W;
}

typedef struct {
    const char *name;       /* as --conv and the tuning table spell it */
    int tunable_count;
    const vggcl_tunable *tunables;
    int fuses_pool;         /* the launch can fold a following 2x2/2 max pool in */
    /* adjusts the tunables' defaults (already in p) for this shape; may be NULL */
    void (*defaults)(const vggcl_ctx *ctx, int N, int C_in, int C_out, int H, int W, vggcl_conv_params *p);
    /* 0 when p breaks the kernel's rules or the device's limits for a conv of C_in to C_out channels (each
     * value is already one of its tunable's; the local memory a layer's launch takes may depend on its
     * channels, never on the batch or the map size); may be NULL */
    int (*valid)(const vggcl_ctx *ctx, const vggcl_conv_params *p, int C_in, int C_out);
    /* weights (C_out, C_in, 3, 3) as the kernel reads them */
    size_t (*packed_floats)(const vggcl_conv_params *p, int C_out, int C_in);
    void (*pack)(const vggcl_conv_params *p, const float *weight, int C_out, int C_in, float *packed);
    /* floats of the two workspace buffers (0: not needed) */
    void (*workspace)(const vggcl_conv_params *p, int N, int C_in, int C_out, int H, int W, size_t ws[2]);
    vggcl_status (*launch)(vggcl_ctx *ctx, const char *where, const vggcl_conv_params *p, const vggcl_conv_call *c);
    /* in and out are in the channel-packed layout (layers.h, vggcl__packed_floats), not NCHW */
    int packed_io;
    /* which of its weight layouts p needs, 0 .. VGGCL_CONV_VARIANTS - 1; NULL: one layout */
    int (*variant)(const vggcl_conv_params *p);
    /* the program (VGGCL_PROG_*) p's launch builds for this shape, where a host-only tunable picks
     * between programs; NULL: the entry builds every tunable into one */
    int (*program)(const vggcl_conv_params *p, int C_in, int C_out, int H, int W);
    /* 0 where the launch cannot run a map of this size (its library's indexing); NULL: every size */
    int (*reaches)(const vggcl_ctx *ctx, int C_in, int C_out, int H, int W);
} vggcl_conv_algo;

/* algorithm id's variant() of p (0 where it has one weight layout) */
static inline int vggcl__conv_variant(const vggcl_conv_algo *a, const vggcl_conv_params *p)
{
    return a->variant ? a->variant(p) : 0;
}

/* How many values t lists. */
int vggcl__tunable_values(const vggcl_tunable *t);

/* The entry of algorithm id (VGGCL_CONV_DIRECT ..), NULL for any other id. */
const vggcl_conv_algo *vggcl__conv_algo(int id);
/* The id of the algorithm called name, 0 if none. */
int vggcl__conv_algo_id(const char *name);

/* The parameters to use without a tuning table for this shape: the entry's
 * defaults, or where the device cannot run them (valid()), the valid candidate
 * with their weight layout nearest to them; invalid only when there is none
 * (vggcl__conv_fits says so). */
void vggcl__conv_defaults(const vggcl_ctx *ctx, int id, int N, int C_in, int C_out, int H, int W,
                          vggcl_conv_params *p);
/* p itself where valid for a conv of C_in to C_out channels, else the valid candidate with its weight layout
 * nearest to it (p unchanged when there is none). */
void vggcl__conv_fit(const vggcl_ctx *ctx, int id, int C_in, int C_out, vggcl_conv_params *p);
/* Whether p is valid for algorithm id and a conv of C_in to C_out channels on this device. */
int vggcl__conv_valid(const vggcl_ctx *ctx, int id, const vggcl_conv_params *p, int C_in, int C_out);
/* Whether algorithm id can run a conv of c_in to c_out channels on this device (its defaults' weight
 * layout has a valid candidate), at any batch and map size. */
int vggcl__conv_fits(const vggcl_ctx *ctx, int id, int c_in, int c_out);

/* Index of tunable name in algorithm id's list, -1 if it has none. */
int vggcl__conv_tunable(int id, const char *name);

/* "-DOCB=16 -DPX=32": the tunables of algorithm id that program prog (VGGCL_PROG_*) reads, for its build. */
void vggcl__conv_defines(int id, const vggcl_conv_params *p, int prog, char *buf, size_t len);
/* "OCB=16 PX=32": the same for tables and messages. */
void vggcl__conv_params_str(int id, const vggcl_conv_params *p, char *buf, size_t len);
/* Parses "NAME=V ..." words (the form above) into p over the defaults already
 * in it; 0 when a word names no tunable of id, a value outside its range, or
 * a tunable named before. */
int vggcl__conv_params_parse(int id, const char *text, vggcl_conv_params *p);

/* What p's launch of algorithm id runs for this shape, as text: its program and build options
 * (where the entry has program()), else p itself. Parameters with the same key launch the same
 * kernels the same way at this shape (they differ in host-only tunables, or in ones the program
 * does not read), so the tuner times one of them. A host-only tunable may change a launch only
 * through program(). */
#define VGGCL_LAUNCH_KEY 256
void vggcl__conv_launch_key(int id, const vggcl_conv_params *p, int C_in, int C_out, int H, int W, char *buf,
                            size_t len);

/* Every valid combination of algorithm id's tunables for a conv of C_in to C_out channels on this device, up
 * to cap (all of them when out is NULL); returns the count. */
int vggcl__conv_candidates(const vggcl_ctx *ctx, int id, int C_in, int C_out, vggcl_conv_params *out, int cap);

/* Whether the device is a CPU whose vector registers hold fewer than 16 floats (AVX2: 16 registers of
 * 8, SSE and NEON: 4): a float16 accumulator takes two registers or more, and blocks of accumulators
 * sized for AVX-512's 32 registers of 16 spill to memory. */
int vggcl__narrow_vectors(const vggcl_ctx *ctx);

/* The device's default algorithm for a conv of c_in to c_out channels, one that fits it. */
int vggcl__conv_default_algo(const vggcl_ctx *ctx, int c_in, int c_out);


#endif
