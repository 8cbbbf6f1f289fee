/* The model plan: the steps inferred from torchvision key names, with
 * BatchNorm folded into the convolutions, and the device copies of weights. */
#ifndef VGGCL_MODEL_H
#define VGGCL_MODEL_H

#include "conv_algo.h"
#include "internal.h"

#define VGGCL_MAX_HIDDEN 15 /* dense layers before the head's last one */
/* A dense layer's outputs (a head's classes) at most (the converters in weights/ refuse past it too:
 * safetensors_io.py's MAX_OUTPUTS) */
#define VGGCL_MAX_OUTPUTS 1000000

typedef enum { VGGCL_STEP_CONV, VGGCL_STEP_POOL } vggcl_step_kind;

typedef struct {
    vggcl_step_kind kind;
    char name[96];          /* "features.28", or "max pool after features.28" */
    int c_in, c_out;        /* conv channels; a pool has c_in == c_out == 0 */
    int kernel_size, stride, padding, ceil_mode; /* pool parameters (VGG: 2, 2, 0, 0) */
    int algo;               /* conv: the algorithm used where the tuning table names none */
    float *weight;          /* conv: (c_out, c_in, 3, 3), BatchNorm folded */
    float *bias;            /* conv: (c_out) */
    /* conv: weights packed per algorithm and weight layout (conv_algo.h: variant; NULL: not
     * loaded), and their sizes */
    cl_mem packed[VGGCL_CONV_ALGOS][VGGCL_CONV_VARIANTS];
    size_t packed_bytes[VGGCL_CONV_ALGOS][VGGCL_CONV_VARIANTS];
    cl_mem bias_dev;
} vggcl_step;

/* A conv step's weights to pack for an algorithm in its parameters' layout (conv_algo.h: variant v) into
 * dst, its device buffer (step->packed[id][v]) mapped for writing. vggcl__pack_all packs n of them on up to
 * one thread per core (8 at most), the largest first (reordering jobs). */
typedef struct {
    vggcl_step *step;
    const vggcl_conv_algo *algo;
    vggcl_conv_params params;
    int id, v;
    void *dst;
    size_t bytes;
} vggcl__pack_job;
void vggcl__pack_all(vggcl__pack_job *jobs, int n);

/* A pass submitted and not yet waited for: start, a marker that completes when
 * the pass can start (its input uploaded and every command queued before it on
 * the context's queue done, another model's passes too), and done, which
 * completes after its read-back (both NULL on the reference backend, which
 * runs at submit and took ref_ms). */
typedef struct {
    cl_event start, done;
    int n, h, w;
    double ref_ms;
} vggcl_pass;

/* Ends every pass in flight (model free): waits for the queue, drops the events. */
void vggcl__flight_drop(vggcl_model *m);

struct vggcl_model {
    vggcl_ctx *ctx;         /* the context the device buffers belong to */
    char *path;             /* the file it was loaded from, for messages; NULL when made here */
    int n_steps;
    vggcl_step *steps;
    int pool5;              /* 1 when the pool after the last conv is kept */
    unsigned pool_ceil;     /* bit k: the file's k-th max pool rounds up (metadata "vggcl.pool_ceil", ONNX's
                             * ceil_mode, Caffe's rounding): run only at sizes where that agrees with rounding
                             * down, its map even (vggcl__ceil_pool_odd) */
    char head_name[128];    /* key prefix of the final linear layer, e.g. "classifier.0" */
    int conv;               /* VGGCL_CONV_* the load options forced, or AUTO */
    int classes, features;  /* classes; features: the last conv's width (GAP output) */
    int head_in;            /* the final linear layer's input width */
    float *head_w;          /* (classes, head_in) */
    float *head_b;          /* (classes) */
    cl_mem head_w_dev, head_b_dev;
    /* The layers before the head: a chain of dense layers with ReLU after each,
     * after GAP (pool_to = 0) or after an adaptive average pool to pool_to x
     * pool_to flattened in (c, h, w) order (pool_to = 7: torchvision's original
     * classifier, classifier.0/.3/.6, or an imported flatten). n_hidden = 0 and
     * pool_to = 0 for a GAP + one linear head. classes = 0: loaded without a head. */
    int pool_to, n_hidden;
    int fixed_h, fixed_w;   /* a head that flattens its map (pool_to): the one input size its graph took, from the
                             * metadata "vggcl.input_size" (vggcl_model_fixed_size); 0 0: none, or a GAP head */
    char hidden_name[VGGCL_MAX_HIDDEN][64];
    int hidden_in[VGGCL_MAX_HIDDEN], hidden_out[VGGCL_MAX_HIDDEN];
    float *hidden_w[VGGCL_MAX_HIDDEN], *hidden_b[VGGCL_MAX_HIDDEN]; /* (hidden_out, hidden_in), (hidden_out) */
    cl_mem hidden_w_dev[VGGCL_MAX_HIDDEN], hidden_b_dev[VGGCL_MAX_HIDDEN];
    int n_meta;             /* the file's __metadata__ */
    char **meta_keys, **meta_values;
    char **class_names;     /* from "vggcl.classes" (a JSON list), or NULL */
    /* device workspace, grown on demand by the forward pass */
    cl_mem input[2];        /* the batch: [0] for vggcl_forward, both for overlapped passes */
    size_t input_bytes[2];
    cl_mem act[2];          /* ping-pong activations */
    size_t act_bytes[2];
    cl_mem gap_partial, feat_dev, logits_dev, conv_ws[2];
    size_t gap_partial_bytes, feat_bytes, logits_bytes, conv_ws_bytes[2];
    /* overlapped passes (vggcl_forward_submit) not yet waited for, oldest first */
    vggcl_pass flight[2];
    int n_flight, next_input; /* next_input: the input buffer the next submit fills */
};

/* Whether __metadata__ value of key is one vggcl takes (vggcl.classes for a head of `classes`, vggcl.pool5, and
 * the preset's keys as vggcl_model_preprocess reads them; other keys are taken): VGGCL_OK, else
 * VGGCL_ERR_FORMAT said, naming path, the key and what was expected. */
vggcl_status vggcl__meta_check(vggcl_ctx *ctx, const char *path, const char *key, const char *value, int classes);
/* The same for the preset's keys (vggcl.resize, .crop, .mean, .std, .draft) alone. */
vggcl_status vggcl__preset_meta_check(vggcl_ctx *ctx, const char *path, const char *key, const char *value);
/* A metadata value of n numbers separated by commas into out (whole: sizes and flags, "72.0" too, as a converter
 * may write them); 0 when malformed (model_preset.c). */
int vggcl__meta_numbers(const char *v, int n, int whole, float *out);
/* Whether metadata's vggcl.mean and vggcl.std texts (either may be NULL: torchvision's; both NULL: OK)
 * together keep pixel values within a float's range (a std of 1e-45 does not): VGGCL_OK, else
 * VGGCL_ERR_FORMAT said, naming path and the keys. */
vggcl_status vggcl__preset_meta_norm(vggcl_ctx *ctx, const char *path, const char *mean, const char *std);

/* VGGCL_OK when o (may be NULL) holds a pool5 and a conv the loaders know; else VGGCL_ERR_ARG said. */
vggcl_status vggcl__load_options_check(vggcl_ctx *ctx, const vggcl_load_options *o);

/* VGGCL_OK when m was loaded with ctx and (idle) has no overlapped pass in flight; else said, after who. */
vggcl_status vggcl__model_mine(vggcl_ctx *ctx, const vggcl_model *m, const char *who, int idle);
/* The checks of a pass's shape: the model's (vggcl__model_mine), n x 3 x h x w within bounds and taken by the
 * model, a head where logits are wanted; the memory it needs is not looked at. */
vggcl_status vggcl__check_shape(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int wants_logits);
/* Fails up front, with the memory needed and the largest batch that fits, when a pass of n images
 * at h x w cannot fit on the context's device (forward.c; tune asks it for each batch it tunes). */
vggcl_status vggcl__check_memory(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w);
/* Whether tune's challenger b gives the default a's answers at the timed shape (n images of h x w; fewer
 * where their maps pass 2^25 floats) on the same input: *rel, b's relative L2 difference from a; INFINITY
 * where one image's map passes 2^28 floats (not run: said once through the log). */
vggcl_status vggcl__tune_agree(vggcl_ctx *ctx, const char *where, const vggcl_step *s, const vggcl_tune_candidate *a,
                               const vggcl_tune_candidate *b, int n, int h, int w, double *rel);

/* Fills s as a 2x2/2 max pool named after the step before it. */
void vggcl__plan_add_pool(vggcl_step *s, const char *after);

/* How a pass runs one conv step: the algorithm and its parameters for this
 * shape and batch, and whether the 2x2 max pool after it is folded in. */
typedef struct {
    int algo;
    vggcl_conv_params params;
    int fused_pool;
    int from_row;    /* a tuning table's row gave them (its values may be the defaults') */
} vggcl_conv_choice;

/* The choice for conv step i at batch n, h x w input to that step: the tuning
 * table's row where there is one the algorithm reaches at that size (its weights packed for it by
 * vggcl__model_pack_rows before the pass), else the step's default algorithm with the default parameters for the
 * shape. Returns 1 where a row gave an algorithm or
 * parameters other than the defaults' ("tuned": what the profile and vggcl_model_tuned_layers count), else 0. */
int vggcl__conv_choose(const vggcl_ctx *ctx, const vggcl_model *m, int i, int n, int h, int w,
                       vggcl_conv_choice *c);

/* Chooses each conv's default algorithm (conv: VGGCL_CONV_*, AUTO for the
 * device's) and uploads every conv's weights, packed for it, and the head's. */
vggcl_status vggcl__model_upload(vggcl_ctx *ctx, vggcl_model *m, int conv);
/* Packs each conv's weights for the tuning table's row a pass of n images of h x w takes (vggcl__conv_choose), where
 * they are not packed for it yet: at the first pass that takes the row, not at the load (a table's rows for other
 * sizes made a 96x96 pass of vgg11 hold 587 MiB instead of 148 and start in 1.42 s instead of 0.47). */
vggcl_status vggcl__model_pack_rows(vggcl_ctx *ctx, vggcl_model *m, int n, int h, int w);
/* The bytes vggcl__model_pack_rows would pack for that pass: what the memory asked before it counts besides the
 * weights held (vggcl_check_batch, vggcl_max_batch). */
size_t vggcl__model_rows_bytes(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w);
/* The step of the first max pool that rounds up (pool_ceil) whose map at input h x w is odd (there rounding up
 * would give another size than vggcl's pools, which round down), its map in *ph, *pw; -1 where there is none. */
int vggcl__ceil_pool_odd(const vggcl_model *m, int h, int w, int *ph, int *pw);
/* Whether input h x w gives a model of a fixed size (vggcl_model_fixed_size) another map than that size gives:
 * 1 with the map in *mh x *mw, else 0. */
int vggcl__fixed_map_other(const vggcl_model *m, int h, int w, int *mh, int *mw);

/* What a pass computes for class activation maps (vggcl_forward_cam). */
typedef struct {
    const int *classes; /* per image, < 0 for its top class; NULL: all top */
    float *cams;        /* (n, mh, mw) */
    int *chosen;        /* per image, the class used; may be NULL */
} vggcl_cam_request;

/* vggcl_forward, and with resident = 1 a pass on the batch the previous pass
 * uploaded (same n, h, w; input is still needed for the reference backend). */
vggcl_status vggcl__forward(vggcl_ctx *ctx, vggcl_model *m, const float *input, int resident, int n, int h, int w,
                            float *logits, float *features, const vggcl_cam_request *cam);

/* Spatial size after every step for an h x w input; 0 when a pool's input is
 * too small (then *bad_step names it). */
int vggcl__plan_out_size(const vggcl_model *m, int h, int w, int *oh, int *ow, int *bad_step);

/* The sides of step s's output for an input of *h x *w, in place: a pool's; a convolution's are its input's (3x3,
 * padded by 1). Every walk through the steps takes a map's size from here. */
void vggcl__step_size(const vggcl_step *s, int *h, int *w);

#endif
