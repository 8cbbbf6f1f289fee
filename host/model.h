/* The model plan: the steps inferred from torchvision key names, with
 * BatchNorm folded into the convolutions, and the device copies of weights. */
#ifndef VGGCL_MODEL_H
#define VGGCL_MODEL_H

#include "internal.h"

typedef enum { VGGCL_STEP_CONV, VGGCL_STEP_POOL } vggcl_step_kind;

typedef struct {
    vggcl_step_kind kind;
    char name[96];          /* "features.28", or "max pool after features.28" */
    int c_in, c_out;        /* conv channels; a pool has c_in == c_out */
    int kernel_size, stride, padding, ceil_mode; /* pool parameters (VGG: 2, 2, 0, 0) */
    float *weight;          /* conv: (c_out, c_in, 3, 3), BatchNorm folded */
    float *bias;            /* conv: (c_out) */
    cl_mem weight_dev, bias_dev;
} vggcl_step;

struct vggcl_model {
    vggcl_ctx *ctx;         /* the context the device buffers belong to */
    int n_steps;
    vggcl_step *steps;
    int pool5;              /* 1 when the pool after the last conv is kept */
    char head_name[128];    /* key prefix of the head, e.g. "classifier.0" */
    int classes, features;  /* head: (classes, features) */
    float *head_w;          /* (classes, features) */
    float *head_b;          /* (classes) */
    cl_mem head_w_dev, head_b_dev;
    /* device workspace, grown on demand by the forward pass */
    cl_mem act[2];          /* ping-pong activations */
    size_t act_bytes[2];
    cl_mem gap_partial, feat_dev, logits_dev;
    size_t gap_partial_bytes, feat_bytes, logits_bytes;
};

/* Spatial size after every step for an h x w input; 0 when a pool's input is
 * too small (then *bad_step names it). */
int vggcl__plan_out_size(const vggcl_model *m, int h, int w, int *oh, int *ow, int *bad_step);

#endif
