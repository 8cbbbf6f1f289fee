/* One forward pass over the model plan, on the reference backend or on the
 * OpenCL device: [conv | pool]... -> GAP -> dense. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "ref/ref.h"


/* A map of n x c x h x w: as the device may hold it (any map may be in the channel-packed layout,
 * layers.h), or as the reference keeps it (NCHW). */
static size_t map_floats(int packed, int n, int c, int h, int w)
{
    return packed ? vggcl__packed_floats(n, c, h, w) : (size_t)n * c * h * w;
}

/* Channels of the step's output (a pool keeps the previous conv's). */
static int step_channels(const vggcl_model *m, int i)
{
    while (i >= 0 && m->steps[i].kind != VGGCL_STEP_CONV) i--;
    return i >= 0 ? m->steps[i].c_out : 3;
}

/* Layer i at an input of h x w, as messages name it; c: a convolution's choice (NULL for a pool). */
static void describe(const vggcl_model *m, int i, int h, int w, const vggcl_conv_choice *c, char *buf, size_t len)
{
    const vggcl_step *s = &m->steps[i];
    if (s->kind == VGGCL_STEP_CONV)
        snprintf(buf, len, "layer %s (conv %d->%d, %dx%d, %s%s)", s->name, s->c_in, s->c_out, h, w,
                 vggcl__conv_algo(c->algo)->name, c->fused_pool ? " + max pool" : "");
    else
        snprintf(buf, len, "layer %s (%d ch, %dx%d)", s->name, step_channels(m, i), h, w);
}

/* Per image: the requested class, or the top class where none (< 0) was asked. */
static vggcl_status pick_classes(vggcl_ctx *ctx, const vggcl_model *m, const float *logits, int n,
                                 const vggcl_cam_request *cam, int *cls)
{
    for (int i = 0; i < n; i++) {
        int k = cam->classes ? cam->classes[i] : -1;
        if (k >= m->classes)
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "class %d for image %d's CAM: the model has %d classes (0 to %d)",
                               k, i, m->classes, m->classes - 1);
        if (k < 0) {
            k = 0;
            const float *row = logits + (size_t)i * m->classes;
            for (int c = 1; c < m->classes && !isnan(row[k]); c++) /* (NaN is the largest, as torch.argmax) */
                if (row[c] > row[k] || isnan(row[c])) k = c;
        }
        cls[i] = k;
        if (cam->chosen) cam->chosen[i] = k;
    }
    return VGGCL_OK;
}

/* The end of an out-of-memory message: the largest batch lo that fits. */
static void say_fit(int lo, char *buf, size_t len)
{
    if (lo) snprintf(buf, len, "the largest batch that fits at this size is %d", lo);
    else snprintf(buf, len, "not even one image fits at this size: give smaller images");
}

/* A pass's shape, for the checks of whether it fits in memory (host_fits, device_fits). */
typedef struct {
    const vggcl_ctx *ctx;
    const vggcl_model *m;
    int h, w;
    int own;      /* what else its pass holds in host memory (the reference's, a CPU device's): OWN_* */
    double avail; /* the host memory the pass may take, the reference's or a CPU device's (0: not known) */
    int slot;     /* on a device, the input buffer the pass fills (vggcl_forward's 0; submits' either), -1 both:
                   * asked before a stream of passes (a caller's submits use both) */
} pass_shape;

/* The largest m <= top such that every batch of 1 to m fits: 0 where not even one image fits. Within one of a
 * tuning table's batch classes (1-2, 3-16, 17 and more) the need grows with the batch; from one class to the
 * next it may shrink (a row for 17 and more choosing an algorithm without the workspace of the row for 3-16), so
 * a batch may fit where a smaller one does not. Batches of up to m are what a stream of batches of m needs (its
 * last one smaller), so m stops below the smallest batch that does not fit: the classes are gone through from
 * the first, and the first that does not fit up to its end is bisected. */
static int fitting_up_to(const pass_shape *p, int top, int (*fits)(const pass_shape *, int))
{
    int lo = 0; /* every batch of 1 to lo fits */
    while (lo < top) {
        const int last = vggcl__batch_class_last(lo + 1), hi0 = last < top ? last : top;
        if (fits(p, hi0)) {
            lo = hi0;
            continue;
        }
        int hi = hi0; /* !fits(hi); the batches between lo and hi are of one class */
        while (hi - lo > 1) {
            const int mid = lo + (hi - lo) / 2;
            if (fits(p, mid)) lo = mid;
            else hi = mid;
        }
        return lo;
    }
    return lo;
}

/* The largest map of the reference's pass, in floats (NCHW, as host/ref keeps them; its two maps alike); *at the
 * step whose output it is, -1 for the input or torchvision's classifier. */
static size_t max_activation_at(const vggcl_model *m, int n, int h, int w, int *at)
{
    size_t best = (size_t)n * 3 * h * w;
    *at = -1;
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        vggcl__step_size(s, &h, &w);
        const size_t a = (size_t)n * s->c_out * h * w;
        if (s->kind == VGGCL_STEP_CONV && a > best) best = a, *at = i;
    }
    /* torchvision's classifier runs through the same buffers */
    if (m->pool_to && (size_t)n * m->features * m->pool_to * m->pool_to > best)
        best = (size_t)n * m->features * m->pool_to * m->pool_to, *at = -1;
    for (int i = 0; i < m->n_hidden; i++)
        if ((size_t)n * m->hidden_out[i] > best) best = (size_t)n * m->hidden_out[i], *at = -1;
    return best;
}

static size_t ref_activation(const vggcl_model *m, int n, int h, int w)
{
    int at;
    return max_activation_at(m, n, h, w, &at);
}

/* Besides its two maps, a reference pass holds the features and logits where the caller gives no array for
 * them; and a caller asking before a pass (vggcl_check_batch) is yet to make the input. */
enum { OWN_FEATURES = 1, OWN_LOGITS = 2, OWN_INPUT = 4 };

/* What a pass of n at h x w holds in host memory besides its maps, in bytes: OWN_*'s arrays. */
static double own_bytes(const vggcl_model *m, int n, int h, int w, int own)
{
    return ((own & OWN_FEATURES ? (double)n * m->features : 0) +
            (own & OWN_LOGITS ? (double)n * (m->classes ? m->classes : 1) : 0) +
            (own & OWN_INPUT ? 3.0 * n * h * w : 0)) * sizeof(float);
}

/* Host memory for the reference's pass of n images: its two maps and what `own` says. */
static double ref_need(const vggcl_model *m, int n, int h, int w, int own)
{
    return 2.0 * (double)ref_activation(m, n, h, w) * sizeof(float) + own_bytes(m, n, h, w, own);
}

static int host_fits(const pass_shape *p, int n)
{
    return p->avail <= 0 || ref_need(p->m, n, p->h, p->w, p->own) <= p->avail;
}

/* Refuses a reference pass the host cannot hold (malloc promises it, and the kernel then kills the
 * process as it touches the pages), with the largest batch that fits, as the device's check does. */
static vggcl_status ref_check_memory(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int own)
{
    const pass_shape p = { ctx, m, h, w, own, vggcl__host_available(ctx), 0 };
    if (host_fits(&p, n)) return VGGCL_OK;
    int at;
    const size_t largest = max_activation_at(m, n, h, w, &at);
    char fit[96], what[160];
    say_fit(fitting_up_to(&p, n - 1, host_fits), fit, sizeof fit);
    if (at >= 0) snprintf(what, sizeof what, "layer %s's output", m->steps[at].name);
    else snprintf(what, sizeof what, "%s", largest == (size_t)n * 3 * h * w ? "the input" : "the maps between layers");
    return vggcl__fail(ctx, VGGCL_ERR_NOMEM,
                       "out of host memory: the reference's pass of batch %d at %dx%d needs %.1f MiB (two maps of "
                       "%.1f MiB: %s%s), but %.1f MiB is available (free memory and swap, within the cgroup's "
                       "limit and ulimit -v); %s",
                       n, h, w, ref_need(m, n, h, w, own) / 1048576.0, largest * sizeof(float) / 1048576.0, what,
                       own & OWN_INPUT ? "; and the input to be made" : "", p.avail / 1048576.0, fit);
}

static vggcl_status forward_ref(vggcl_ctx *ctx, const vggcl_model *m, const float *input, int n, int h, int w,
                                size_t act, float *logits, float *features, const vggcl_cam_request *cam)
{
    const vggcl_status fits = ref_check_memory(ctx, m, n, h, w, (features ? 0 : OWN_FEATURES) | (logits ? 0 : OWN_LOGITS));
    if (fits != VGGCL_OK) return fits;
    float *buf[2] = { malloc(act * sizeof(float)), malloc(act * sizeof(float)) };
    float *feat = features ? features : malloc((size_t)n * m->features * sizeof(float));
    float *out = logits ? logits : malloc((size_t)n * (m->classes ? m->classes : 1) * sizeof(float));
    vggcl_status st = VGGCL_OK;
    if (!buf[0] || !buf[1] || !feat || !out) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory for a batch of %d at %dx%d", n, h, w);
        goto done;
    }
    memcpy(buf[0], input, (size_t)n * 3 * h * w * sizeof(float));
    int cur = 0, c = 3;
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_CONV) {
            vggcl__ref_conv3x3_bias_relu(buf[cur], s->weight, s->bias, buf[1 - cur], n, s->c_in, s->c_out, h, w);
            c = s->c_out;
        } else {
            vggcl__ref_maxpool2d(buf[cur], buf[1 - cur], n, c, h, w, s->kernel_size, s->stride, s->padding,
                                s->ceil_mode);
            vggcl__step_size(s, &h, &w);
        }
        cur = 1 - cur;
    }
    vggcl__ref_gap(buf[cur], feat, n, c, h, w);
    if (m->classes) {
        /* the dense chain: after GAP, or after pooling to pool_to x pool_to; ReLU between layers */
        const float *src = feat;
        int b = 1 - cur;
        if (m->pool_to) {
            vggcl__ref_adaptive_avgpool2d(buf[cur], buf[b], n, c, h, w, m->pool_to, m->pool_to);
            src = buf[b], b = cur;
        }
        for (int i = 0; i < m->n_hidden; i++) {
            vggcl__ref_dense(src, m->hidden_w[i], m->hidden_b[i], buf[b], n, m->hidden_in[i], m->hidden_out[i], 1);
            src = buf[b], b = buf[b] == buf[0];
        }
        vggcl__ref_dense(src, m->head_w, m->head_b, out, n, m->head_in, m->classes, 0);
    }
    if (cam) {
        int *cls = malloc(sizeof *cls * (size_t)n);
        if (!cls) {
            st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
            goto done;
        }
        if ((st = pick_classes(ctx, m, out, n, cam, cls)) == VGGCL_OK)
            vggcl__ref_cam(buf[cur], m->head_w, cls, cam->cams, n, c, h * w);
        free(cls);
    }
done:
    free(buf[0]);
    free(buf[1]);
    if (feat != features) free(feat);
    if (out != logits) free(out);
    return st;
}

/* (Re)allocates *mem to hold at least bytes; *have tracks its size. what
 * names the buffer in a failure's message, pass the pass it is for. */
static vggcl_status ensure(vggcl_ctx *ctx, const char *pass, const char *what, cl_mem *mem, size_t *have, size_t bytes)
{
    if (*mem && *have >= bytes) return VGGCL_OK;
    char where[224];
    vggcl__format(where, sizeof where, "forward pass: workspace for %s (%.2f MiB, %s)", what, bytes / 1048576.0, pass);
    vggcl__release(ctx, where, mem);
    *have = 0;
    vggcl_status st = vggcl__buffer(ctx, where, CL_MEM_READ_WRITE, bytes, NULL, mem);
    if (st == VGGCL_OK) *have = bytes;
    return st;
}

static size_t weight_bytes(const vggcl_model *m)
{
    size_t b = ((size_t)m->classes * m->head_in + m->classes) * sizeof(float);
    for (int i = 0; i < m->n_hidden; i++)
        b += ((size_t)m->hidden_out[i] * m->hidden_in[i] + m->hidden_out[i]) * sizeof(float);
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind != VGGCL_STEP_CONV) continue;
        b += s->c_out * sizeof(float);
        for (int id = 1; id < VGGCL_CONV_ALGOS; id++)
            for (int v = 0; v < VGGCL_CONV_VARIANTS; v++) b += s->packed_bytes[id][v];
    }
    return b;
}

/* Device workspace of one pass, in floats per buffer; act: each of the two activation buffers; gemm: CLBlast's
 * temporary buffer for the largest SGEMM call (one at a time). act_at, conv_at: the step whose output or convolution
 * needs the most (-1: none of them, or a map that is not a step's output; AT_INPUT: the batch's input, converted to
 * the channel-packed layout), conv_algo its algorithm. */
enum { AT_INPUT = -2 };
typedef struct {
    size_t input, act[2], partial, feat, logits, conv[2], gemm;
    int act_at[2], conv_at[2], conv_algo[2];
} workspace;

/* Counts an SGEMM call's temporary buffer in ws. */
static void sgemm_call(workspace *ws, size_t M, size_t N, size_t K)
{
    const size_t all = vggcl__sgemm_temp_floats(M, N, K);
    if (all > ws->gemm) ws->gemm = all;
}

/* The activation buffer a map goes to: the one its input is not in (-1: the batch's input or GAP's features, in
 * neither). */
static int other_act(int in)
{
    return in == 0 ? 1 : 0;
}

/* Counts a map of `floats` written into activation buffer k, the output of step `at` (-1: no step's), in ws. */
static void act_write(workspace *ws, int k, size_t floats, int at)
{
    if (floats > ws->act[k]) ws->act[k] = floats, ws->act_at[k] = at;
}

/* One operation of a pass, as walk_pass hands it over: what runs, from which activation buffer into which (0 or 1; -1:
 * the batch's input as a source, GAP's features as a dense layer's, no buffer as GAP's and the head's output), on
 * which map (c, h, w: the input's; OP_CONV's c is its input channels), and the map it writes (out_floats, the output
 * of step out_of: -1 for none). step: the layer (OP_RELAYOUT: the one it prepares, -1 for GAP; OP_DENSE: the hidden
 * layer, -1 for the head; OP_GAP, OP_AVGPOOL: -1). */
typedef enum { OP_RELAYOUT, OP_CONV, OP_POOL, OP_GAP, OP_AVGPOOL, OP_DENSE } pass_op_kind;
typedef struct {
    pass_op_kind kind;
    int step, src, dst, c, h, w;
    int to_packed;            /* OP_RELAYOUT: into the channel-packed layout, else back to NCHW */
    vggcl_conv_choice choice; /* OP_CONV */
    int tuned;                /* OP_CONV: the tuning table chose it */
    size_t out_floats;
    int out_of;
} pass_op;

typedef vggcl_status (*pass_visit)(void *arg, const pass_op *op);

/* The pass of n images of h x w, operation by operation, in order: the layers (a change of layout before a
 * convolution that reads the other one, a max pool folded into the convolution before it where its algorithm can),
 * the map back to NCHW for GAP, GAP, then the dense chain (after GAP, or after pooling the map to pool_to x pool_to)
 * and the head. Each map goes into the activation buffer its input is not in. The one walk both sizes the buffers
 * (workspace_for) and queues the pass (enqueue_pass), so that each buffer is sized for the maps written into it: one
 * of them holds only every second map (VGG16 at 224 on PoCL, batch 32: 413 MiB of features.0's output in one, at
 * most 120 MiB in the other, which was as large). Stops at the first operation visit fails. */
static vggcl_status walk_pass(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, pass_visit visit,
                              void *arg)
{
    vggcl_status st;
    int src = -1, c = 3, packed = 0, from = AT_INPUT; /* (from: the step whose output the map in src is) */
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        const int conv = s->kind == VGGCL_STEP_CONV;
        pass_op op = { .kind = conv ? OP_CONV : OP_POOL, .step = i, .c = c, .h = h, .w = w };
        if (conv) op.tuned = vggcl__conv_choose(ctx, m, i, n, h, w, &op.choice);
        const int wants = conv && vggcl__conv_algo(op.choice.algo)->packed_io;
        if (wants != packed) {
            const pass_op re = { .kind = OP_RELAYOUT, .step = i, .src = src, .dst = other_act(src), .c = c, .h = h,
                                 .w = w, .to_packed = wants, .out_floats = map_floats(wants, n, c, h, w),
                                 .out_of = from };
            if ((st = visit(arg, &re)) != VGGCL_OK) return st;
            src = re.dst, packed = wants;
        }
        op.src = src, op.dst = other_act(src);
        if (conv) c = s->c_out;
        if (s->kind == VGGCL_STEP_POOL || op.choice.fused_pool)
            vggcl__step_size(s->kind == VGGCL_STEP_POOL ? s : &m->steps[++i], &h, &w);
        op.out_floats = map_floats(packed, n, c, h, w), op.out_of = op.step;
        if ((st = visit(arg, &op)) != VGGCL_OK) return st;
        src = op.dst, from = op.step;
    }
    if (packed) {
        const pass_op re = { .kind = OP_RELAYOUT, .step = -1, .src = src, .dst = other_act(src), .c = c, .h = h,
                             .w = w, .to_packed = 0, .out_floats = map_floats(0, n, c, h, w), .out_of = from };
        if ((st = visit(arg, &re)) != VGGCL_OK) return st;
        src = re.dst;
    }
    const pass_op gap = { .kind = OP_GAP, .step = -1, .src = src, .dst = -1, .c = c, .h = h, .w = w, .out_of = -1 };
    if ((st = visit(arg, &gap)) != VGGCL_OK || !m->classes) return st;
    int x = -1; /* (the chain's input: GAP's features, or the pooled map) */
    if (m->pool_to) {
        const int p = m->pool_to;
        const pass_op pool = { .kind = OP_AVGPOOL, .step = -1, .src = src, .dst = other_act(src), .c = c, .h = h,
                               .w = w, .out_floats = (size_t)n * c * p * p, .out_of = -1 };
        if ((st = visit(arg, &pool)) != VGGCL_OK) return st;
        x = pool.dst;
    }
    for (int i = 0; i < m->n_hidden; i++) {
        const pass_op d = { .kind = OP_DENSE, .step = i, .src = x, .dst = other_act(x),
                            .out_floats = (size_t)n * m->hidden_out[i], .out_of = -1 };
        if ((st = visit(arg, &d)) != VGGCL_OK) return st;
        x = d.dst;
    }
    const pass_op head = { .kind = OP_DENSE, .step = -1, .src = x, .dst = -1, .out_of = -1 };
    return visit(arg, &head);
}

/* walk_pass's visit for workspace_for: each map counted in the buffer it is written into, each convolution's
 * workspace, GAP's partial sums, and CLBlast's copies for the products it runs. */
typedef struct {
    const vggcl_ctx *ctx;
    const vggcl_model *m;
    int n;
    workspace *ws;
} pass_sizes;

static vggcl_status count_op(void *arg, const pass_op *op)
{
    const pass_sizes *z = arg;
    workspace *ws = z->ws;
    const vggcl_model *m = z->m;
    const int n = z->n;
    if (op->dst >= 0) act_write(ws, op->dst, op->out_floats, op->out_of);
    if (op->kind == OP_CONV) {
        const vggcl_step *s = &m->steps[op->step];
        const vggcl_conv_choice *c = &op->choice;
        size_t need[2];
        vggcl__conv_algo(c->algo)->workspace(&c->params, n, s->c_in, s->c_out, op->h, op->w, need);
        for (int k = 0; k < 2; k++)
            if (need[k] > ws->conv[k]) ws->conv[k] = need[k], ws->conv_at[k] = op->step, ws->conv_algo[k] = c->algo;
        if (c->algo == VGGCL_CONV_GEMM) sgemm_call(ws, (size_t)s->c_out, (size_t)op->h * op->w, (size_t)s->c_in * 9);
    } else if (op->kind == OP_GAP) {
        ws->partial = vggcl__cl_gap_partial_floats(z->ctx, n, m->features, op->h, op->w);
    } else if (op->kind == OP_DENSE) { /* (those past the small kernel's size go through CLBlast: vggcl__cl_dense) */
        const int i = op->step, in = i >= 0 ? m->hidden_in[i] : m->head_in,
                  out = i >= 0 ? m->hidden_out[i] : m->classes;
        if (vggcl__dense_uses_sgemm(z->ctx, n, in, out)) sgemm_call(ws, (size_t)n, (size_t)out, (size_t)in);
    }
    return VGGCL_OK;
}

static workspace workspace_for(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    workspace ws = { (size_t)n * 3 * h * w, { 0, 0 }, 0, (size_t)n * m->features,
                     (size_t)n * (m->classes ? m->classes : 1), { 0, 0 }, 0, { -1, -1 }, { -1, -1 }, { 0, 0 } };
    pass_sizes z = { ctx, m, n, &ws };
    (void)walk_pass(ctx, m, n, h, w, count_op, &z); /* (count_op never fails) */
    return ws;
}

static size_t ws_total(const workspace *ws)
{
    /* two inputs: overlapped passes fill one while the other is read */
    return (2 * ws->input + ws->act[0] + ws->act[1] + ws->partial + ws->feat + ws->logits + ws->conv[0] + ws->conv[1] +
            ws->gemm) * sizeof(float);
}

static size_t ws_largest(const workspace *ws)
{
    const size_t all[] = { ws->input, ws->act[0], ws->act[1], ws->partial, ws->feat, ws->logits, ws->conv[0],
                           ws->conv[1], ws->gemm };
    size_t l = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) l = all[i] > l ? all[i] : l;
    return l * sizeof(float);
}

/* What the largest buffer holds, for a message (buf: room for a layer's name). */
static const char *ws_largest_what(const vggcl_model *m, const workspace *ws, char *buf, size_t len)
{
    const size_t l = ws_largest(ws) / sizeof(float);
    for (int k = 0; k < 2; k++)
        if (l == ws->conv[k] && ws->conv_at[k] >= 0) {
            snprintf(buf, len, "layer %s's %s workspace", m->steps[ws->conv_at[k]].name,
                     vggcl__conv_algo(ws->conv_algo[k])->name);
            return buf;
        }
    for (int k = 0; k < 2; k++) {
        if (l != ws->act[k]) continue;
        if (ws->act_at[k] == AT_INPUT) return "the input, in the channel-packed layout";
        if (ws->act_at[k] >= 0) {
            snprintf(buf, len, "layer %s's output", m->steps[ws->act_at[k]].name);
            return buf;
        }
    }
    return l == ws->act[0] || l == ws->act[1] ? "the maps between layers" : l == ws->input ? "the input"
         : l == ws->logits ? "the logits" : l == ws->feat ? "the features"
         : l == ws->gemm ? "CLBlast's padded copies of a product's matrices" : "GAP's partial sums";
}

/* What a pass's workspace adds to the buffers m holds (prepare grows each to its need, of the two input
 * buffers the slot's, or both for slot -1; CLBlast makes its copies for each product), in bytes. */
static double ws_added(const vggcl_model *m, const workspace *ws, int slot)
{
    const size_t need[] = { slot != 1 ? ws->input : 0, slot != 0 ? ws->input : 0, ws->act[0], ws->act[1], ws->partial,
                            ws->feat, ws->logits, ws->conv[0], ws->conv[1] };
    const size_t have[] = { m->input_bytes[0], m->input_bytes[1], m->act_bytes[0], m->act_bytes[1],
                            m->gap_partial_bytes, m->feat_bytes, m->logits_bytes, m->conv_ws_bytes[0],
                            m->conv_ws_bytes[1] };
    double added = (double)ws->gemm * sizeof(float);
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i] * sizeof(float) > have[i]) added += (double)(need[i] * sizeof(float) - have[i]);
    return added;
}

/* What a pass on a CPU device takes of the host's memory besides the model's weights: what it adds to the
 * buffers m holds, the weights of the tuning table's rows it packs first (vggcl__model_rows_bytes), and where it is
 * asked before the pass the arrays the caller is yet to make (OWN_*). */
static double host_added(const pass_shape *p, const workspace *ws, int n)
{
    return ws_added(p->m, ws, p->slot) + (double)vggcl__model_rows_bytes(p->ctx, p->m, n, p->h, p->w) +
           own_bytes(p->m, n, p->h, p->w, p->own);
}

/* The weights a pass of n holds on the device: m's, and its tuning table's rows it packs first. */
static size_t pass_weight_bytes(const pass_shape *p, int n)
{
    return weight_bytes(p->m) + vggcl__model_rows_bytes(p->ctx, p->m, n, p->h, p->w);
}

static int device_fits(const pass_shape *p, int n)
{
    const workspace ws = workspace_for(p->ctx, p->m, n, p->h, p->w);
    return ws_largest(&ws) <= p->ctx->max_alloc && pass_weight_bytes(p, n) + ws_total(&ws) <= p->ctx->global_mem &&
           (p->avail <= 0 || host_added(p, &ws, n) <= p->avail);
}

/* A pass's shape on the context's device: on a CPU, whose buffers are the host's memory, with what the host
 * has available (the device's global memory, PoCL's, is the machine's whole memory, free or not: a pass past
 * what was free ended in PoCL's assertion, or the kernel's OOM killer); own: OWN_* asked before the pass. */
static pass_shape device_shape(const vggcl_ctx *ctx, const vggcl_model *m, int h, int w, int own, int slot)
{
    const pass_shape p = { ctx, m, h, w, own, ctx->is_cpu ? vggcl__host_available(ctx) : 0, slot };
    return p;
}

/* vggcl__check_memory's; own: OWN_* asked before the pass (on a CPU device, host memory the caller takes);
 * slot: the input buffer the pass fills. */
static vggcl_status check_memory(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int own, int slot)
{
    if (ctx->is_cpu && !own) { /* a pass that grows no buffer takes no more of the host: its figures not read
                                * again (/proc and the cgroup's files at every pass of a stream) */
        const workspace ws = workspace_for(ctx, m, n, h, w);
        const pass_shape held = { ctx, m, h, w, 0, 0, slot };
        if (ws_added(m, &ws, slot) == 0 && device_fits(&held, n)) return VGGCL_OK;
    }
    const pass_shape p = device_shape(ctx, m, h, w, own, slot);
    if (device_fits(&p, n)) return VGGCL_OK;
    const workspace ws = workspace_for(ctx, m, n, h, w);
    char fit[160], buf[160];
    const int fits = fitting_up_to(&p, n - 1, device_fits);
    say_fit(fits, fit, sizeof fit);
    const double need = (pass_weight_bytes(&p, n) + ws_total(&ws)) / 1048576.0, largest = ws_largest(&ws) / 1048576.0;
    const char *what = ws_largest_what(m, &ws, buf, sizeof buf);
    const pass_shape device_alone = { ctx, m, h, w, 0, 0, slot };
    if (p.avail > 0 && device_fits(&device_alone, n)) /* (the host's memory is what is short) */
        return vggcl__fail(ctx, VGGCL_ERR_DEVICE_MEMORY,
                           "out of memory: batch %d at %dx%d needs %.1f MiB on %s (largest buffer %.1f MiB: %s), "
                           "whose buffers are the host's memory: %.1f MiB more than the model holds%s, but %.1f "
                           "MiB is available (free memory and swap, within the cgroup's limit and ulimit -v, less a "
                           "reserve for the driver's compiler and threads); %s",
                           n, h, w, need, ctx->device_name, largest, what, host_added(&p, &ws, n) / 1048576.0,
                           own ? " (with the input, features and logits to be made)" : "", p.avail / 1048576.0, fit);
    if (p.avail > 0 && fits < fitting_up_to(&device_alone, n - 1, device_fits)) { /* (the host's limits that batch:
                                                                                   * said, as a number unexplained) */
        const size_t at = strlen(fit);
        snprintf(fit + at, sizeof fit - at, " (the host's %.1f MiB available, within the cgroup and ulimit -v, "
                 "limits it)", p.avail / 1048576.0);
    }
    return vggcl__fail(ctx, VGGCL_ERR_DEVICE_MEMORY,
                       "device out of memory: batch %d at %dx%d needs %.1f MiB on %s (largest buffer %.1f MiB: %s), "
                       "but the device allows %.1f MiB per buffer and %.1f MiB in all; %s",
                       n, h, w, need, ctx->device_name, largest, what, ctx->max_alloc / 1048576.0,
                       ctx->global_mem / 1048576.0, fit);
}

vggcl_status vggcl__check_memory(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    return check_memory(ctx, m, n, h, w, 0, 0);
}

/* Fails up front when the pass cannot fit, else packs the weights the tuning table's rows for the pass take
 * (vggcl__model_pack_rows) and grows the device buffers for a pass of n images at h x w whose input goes to
 * input[slot]. */
static vggcl_status prepare(vggcl_ctx *ctx, vggcl_model *m, int n, int h, int w, int slot)
{
    vggcl_status st;
    /* (the rows' weights counted before they are packed: a pass refused leaves none held) */
    if ((st = check_memory(ctx, m, n, h, w, 0, slot)) != VGGCL_OK) return st;
    if ((st = vggcl__model_pack_rows(ctx, m, n, h, w)) != VGGCL_OK) return st;
    const workspace ws = workspace_for(ctx, m, n, h, w);
    const size_t f = sizeof(float);
    char pass[64];
    snprintf(pass, sizeof pass, "batch %d at %dx%d", n, h, w);
    if ((st = ensure(ctx, pass, slot ? "input (second buffer)" : "input", &m->input[slot], &m->input_bytes[slot],
                     ws.input * f)) ||
        (st = ensure(ctx, pass, "activations (ping)", &m->act[0], &m->act_bytes[0], ws.act[0] * f)) ||
        (st = ensure(ctx, pass, "activations (pong)", &m->act[1], &m->act_bytes[1], ws.act[1] * f)) ||
        (st = ensure(ctx, pass, "GAP features", &m->feat_dev, &m->feat_bytes, ws.feat * f)) ||
        (st = ensure(ctx, pass, "logits", &m->logits_dev, &m->logits_bytes, ws.logits * f)) ||
        (ws.partial && (st = ensure(ctx, pass, "GAP partial sums", &m->gap_partial, &m->gap_partial_bytes, ws.partial * f))) ||
        (ws.conv[0] && (st = ensure(ctx, pass, "convolution workspace (Winograd input tiles, im2col columns)",
                                    &m->conv_ws[0], &m->conv_ws_bytes[0], ws.conv[0] * f))) ||
        (ws.conv[1] && (st = ensure(ctx, pass, "convolution workspace (Winograd products, a gemm image's output)", &m->conv_ws[1],
                                    &m->conv_ws_bytes[1], ws.conv[1] * f))))
        /* (the check above counts this model's buffers against the whole device: another model on it, or
         * another process, may hold the rest) */
        return st != VGGCL_ERR_DEVICE_MEMORY ? st : vggcl__fail_around(ctx, st, "", "; the device's memory is held "
                                                   "elsewhere too (another model or process): a smaller batch needs less");
    return VGGCL_OK;
}

/* Whether a pass at this shape needs a workspace buffer larger than the model has. */
static int grows(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    const workspace ws = workspace_for(ctx, m, n, h, w);
    const size_t f = sizeof(float);
    return ws.act[0] * f > m->act_bytes[0] || ws.act[1] * f > m->act_bytes[1] || ws.feat * f > m->feat_bytes ||
           ws.logits * f > m->logits_bytes || ws.partial * f > m->gap_partial_bytes ||
           ws.conv[0] * f > m->conv_ws_bytes[0] || ws.conv[1] * f > m->conv_ws_bytes[1];
}

/* The map GAP averaged: where it is and its shape (the CAM reads it). */
typedef struct {
    cl_mem buf;
    int c, h, w;
} feature_map;

/* walk_pass's visit that queues each operation: on the model's buffers, the batch's input in `in`; the map GAP
 * averaged to `last` (the CAM reads it). */
typedef struct {
    vggcl_ctx *ctx;
    vggcl_model *m;
    cl_mem in;
    int n;
    feature_map *last;
} pass_run;

static vggcl_status run_op(void *arg, const pass_op *op)
{
    const pass_run *r = arg;
    vggcl_ctx *ctx = r->ctx;
    vggcl_model *m = r->m;
    const int n = r->n, c = op->c, h = op->h, w = op->w;
    const cl_mem src = op->src >= 0 ? m->act[op->src] : op->kind == OP_DENSE ? m->feat_dev : r->in,
                 dst = op->dst >= 0 ? m->act[op->dst] : NULL;
    char where[160];
    switch (op->kind) {
    case OP_RELAYOUT:
        snprintf(where, sizeof where, "layer %s: its input (%d ch, %dx%d) %s",
                 op->step >= 0 ? m->steps[op->step].name : "GAP", c, h, w,
                 op->to_packed ? "to the channel-packed layout" : "back to NCHW");
        return op->to_packed ? vggcl__cl_pack(ctx, where, src, dst, n, c, h, w)
                             : vggcl__cl_unpack(ctx, where, src, dst, n, c, h, w);
    case OP_CONV: {
        const vggcl_step *s = &m->steps[op->step];
        const vggcl_conv_choice *choice = &op->choice;
        const vggcl_conv_algo *a = vggcl__conv_algo(choice->algo);
        describe(m, op->step, h, w, choice, where, sizeof where);
        const vggcl_conv_call call = { src, s->packed[choice->algo][vggcl__conv_variant(a, &choice->params)],
                                       s->bias_dev, dst, { m->conv_ws[0], m->conv_ws[1] }, n, s->c_in, s->c_out, h,
                                       w, choice->fused_pool };
        char params[sizeof ctx->prof->params];
        const vggcl_prof_conv said = { s->name, a->name, params, op->tuned, choice->fused_pool };
        if (ctx->profiling) { /* (its profile entries say them; a pass unprofiled formats nothing) */
            vggcl__conv_params_str(choice->algo, &choice->params, params, sizeof params);
            ctx->prof_conv = &said;
        }
        const vggcl_status st = call.weight ? a->launch(ctx, where, &choice->params, &call)
                                            : vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: no weights packed for %s with "
                                                          "these parameters", where, a->name);
        ctx->prof_conv = NULL;
        return st;
    }
    case OP_POOL: {
        const vggcl_step *s = &m->steps[op->step];
        describe(m, op->step, h, w, NULL, where, sizeof where);
        return vggcl__cl_maxpool2d(ctx, where, src, dst, n, c, h, w, s->kernel_size, s->stride, s->padding,
                                   s->ceil_mode);
    }
    case OP_GAP:
        *r->last = (feature_map){ src, c, h, w };
        snprintf(where, sizeof where, "layer GAP (%d ch, %dx%d)", c, h, w);
        return vggcl__cl_gap(ctx, where, src, m->feat_dev, m->gap_partial, n, c, h, w);
    case OP_AVGPOOL: {
        /* the dense chain after pooling to pool_to x pool_to (torchvision's classifier) */
        const int p = m->pool_to;
        snprintf(where, sizeof where, "layer adaptive avg pool (%d ch, %dx%d -> %dx%d)", c, h, w, p, p);
        return vggcl__cl_adaptive_avgpool2d(ctx, where, src, dst, n, c, h, w, p, p);
    }
    case OP_DENSE:
        /* ReLU between the chain's layers (dropout is identity). The CAM needs the last map, so only a chain, never
         * a plain GAP head, overwrites it. */
        if (op->step < 0) {
            snprintf(where, sizeof where, "layer %s (dense %d->%d)", m->head_name, m->head_in, m->classes);
            return vggcl__cl_dense(ctx, where, src, m->head_w_dev, m->head_b_dev, m->logits_dev, n, m->head_in,
                                   m->classes, 0);
        }
        snprintf(where, sizeof where, "layer %s (dense %d->%d, ReLU)", m->hidden_name[op->step],
                 m->hidden_in[op->step], m->hidden_out[op->step]);
        return vggcl__cl_dense(ctx, where, src, m->hidden_w_dev[op->step], m->hidden_b_dev[op->step], dst, n,
                               m->hidden_in[op->step], m->hidden_out[op->step], 1);
    }
    return vggcl__fail(ctx, VGGCL_ERR_DEVICE, "forward pass: an operation of unknown kind %d (a bug)", (int)op->kind);
}

/* Queues the layers, GAP and the head over the batch in `in` (n, 3, h, w), as walk_pass walks them; the results are
 * left in m->feat_dev and m->logits_dev. Between convolutions that read the channel-packed layout the maps stay
 * packed; everything else reads NCHW. */
static vggcl_status enqueue_pass(vggcl_ctx *ctx, vggcl_model *m, cl_mem in, int n, int h, int w, feature_map *last)
{
    pass_run r = { ctx, m, in, n, last };
    return walk_pass(ctx, m, n, h, w, run_op, &r);
}

/* Queues the read-back of features and logits (either may be NULL). */
static vggcl_status read_outputs(vggcl_ctx *ctx, vggcl_model *m, int n, cl_bool blocking, float *logits,
                                 float *features)
{
    const char *where = "forward pass: reading the output (features, logits)";
    vggcl_status st = VGGCL_OK;
    if (features)
        CL_CHECK(clEnqueueReadBuffer, (ctx->queue, m->feat_dev, blocking, 0, (size_t)n * m->features * sizeof(float),
                                       features, 0, NULL, NULL));
    if (logits)
        CL_CHECK(clEnqueueReadBuffer, (ctx->queue, m->logits_dev, blocking, 0, (size_t)n * m->classes * sizeof(float),
                                       logits, 0, NULL, NULL));
fail:
    return st;
}

/* input NULL: the batch uploaded by the previous pass is still in input[0]
 * (benchmarks time the passes without the upload). */
static vggcl_status forward_cl(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w,
                               float *logits, float *features, const vggcl_cam_request *cam)
{
    char where[160] = "forward pass";
    vggcl_status st;
    float *host_logits = NULL;
    int *cls = NULL;
    cl_mem cls_dev = NULL, cams_dev = NULL;
    feature_map map;
    if ((st = prepare(ctx, m, n, h, w, 0)) != VGGCL_OK) return st;
    snprintf(where, sizeof where, "forward pass: input (%d, 3, %d, %d)", n, h, w);
    if (input)
        CL_CHECK(clEnqueueWriteBuffer, (ctx->queue, m->input[0], CL_TRUE, 0, (size_t)n * 3 * h * w * sizeof(float),
                                        input, 0, NULL, NULL));
    if ((st = enqueue_pass(ctx, m, m->input[0], n, h, w, &map)) ||
        (st = read_outputs(ctx, m, n, CL_TRUE, logits, features)))
        goto fail;
    if (cam) {
        /* the map GAP averaged is still on the device: the CAM needs no second pass */
        snprintf(where, sizeof where, "layer CAM (%d ch, %dx%d)", map.c, map.h, map.w);
        const int hw = map.h * map.w;
        float *lg = logits ? logits : (host_logits = malloc(sizeof *lg * (size_t)n * m->classes));
        if (!lg || !(cls = malloc(sizeof *cls * (size_t)n))) {
            st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", where);
            goto fail;
        }
        if (!logits)
            CL_CHECK(clEnqueueReadBuffer, (ctx->queue, m->logits_dev, CL_TRUE, 0,
                                           (size_t)n * m->classes * sizeof(float), lg, 0, NULL, NULL));
        if ((st = pick_classes(ctx, m, lg, n, cam, cls)) ||
            (st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof *cls * (size_t)n, cls,
                                &cls_dev)) ||
            (st = vggcl__buffer(ctx, where, CL_MEM_WRITE_ONLY, sizeof(float) * (size_t)n * hw, NULL, &cams_dev)) ||
            (st = vggcl__cl_cam(ctx, where, map.buf, m->head_w_dev, cls_dev, cams_dev, n, map.c, hw)))
            goto fail;
        CL_CHECK(clEnqueueReadBuffer, (ctx->queue, cams_dev, CL_TRUE, 0, sizeof(float) * (size_t)n * hw, cam->cams,
                                       0, NULL, NULL));
    }
    CL_CHECK(clFinish, (ctx->queue));
    st = VGGCL_OK;
fail:
    if (st != VGGCL_OK) CL_CLEANUP(clFinish, (ctx->queue)); /* let queued work end before the caller frees anything */
    vggcl__release(ctx, where, &cls_dev);
    vggcl__release(ctx, where, &cams_dev);
    free(host_logits);
    free(cls);
    return st;
}

/* An overlapped pass: the input goes to the free input buffer through the
 * upload queue while the compute queue still runs the pass before; the
 * layers wait for it behind a barrier, and a marker after the read-back
 * tells when the pass is done. */
static vggcl_status submit_cl(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w, float *logits,
                              float *features)
{
    char where[160];
    vggcl_status st;
    cl_event up = NULL, start = NULL, done = NULL;
    feature_map map;
    const int slot = m->next_input;
    /* growing a buffer the pass in flight still uses would hold the old and the new at once: it ends first */
    snprintf(where, sizeof where, "forward pass: the pass in flight, before the workspace grows for (%d, 3, %d, %d)",
             n, h, w);
    if (m->n_flight && grows(ctx, m, n, h, w)) CL_CHECK(clFinish, (ctx->queue));
    if ((st = prepare(ctx, m, n, h, w, slot)) != VGGCL_OK) return st;
    snprintf(where, sizeof where, "forward pass: input (%d, 3, %d, %d), overlapped", n, h, w);
    CL_CHECK(clEnqueueWriteBuffer, (ctx->upload_queue, m->input[slot], CL_TRUE, 0,
                                    (size_t)n * 3 * h * w * sizeof(float), input, 0, NULL, &up));
    CL_CHECK(clEnqueueBarrierWithWaitList, (ctx->queue, 1, &up, NULL));
    CL_CHECK(clEnqueueMarkerWithWaitList, (ctx->queue, 0, NULL, &start)); /* (its device time starts here) */
    if ((st = enqueue_pass(ctx, m, m->input[slot], n, h, w, &map)) ||
        (st = read_outputs(ctx, m, n, CL_FALSE, logits, features)))
        goto fail;
    snprintf(where, sizeof where, "forward pass: queueing the pass over (%d, 3, %d, %d)", n, h, w);
    CL_CHECK(clEnqueueMarkerWithWaitList, (ctx->queue, 0, NULL, &done));
    CL_CHECK(clFlush, (ctx->queue));
    m->flight[m->n_flight++] = (vggcl_pass){ start, done, n, h, w, 0 };
    m->next_input = 1 - slot;
    start = done = NULL;
fail:
    if (st != VGGCL_OK) CL_CLEANUP(clFinish, (ctx->queue)); /* the passes before it end; its own outputs are not valid */
    if (up) CL_CLEANUP(clReleaseEvent, (up));
    if (start) CL_CLEANUP(clReleaseEvent, (start));
    if (done) CL_CLEANUP(clReleaseEvent, (done));
    return st;
}

/* The checks every pass makes on its arguments. */
vggcl_status vggcl__model_mine(vggcl_ctx *ctx, const vggcl_model *m, const char *who, int idle)
{
    if (!m) return vggcl__fail(ctx, VGGCL_ERR_ARG, "%sthe model is NULL", who); /* (not "another context's") */
    if (m->ctx != ctx) return vggcl__fail(ctx, VGGCL_ERR_ARG, "%sthe model was not loaded with this context", who);
    if (!ctx->use_ref && vggcl__forked()) return vggcl__fork_check(ctx); /* (a parent's model: it waited forever) */
    if (idle && m->n_flight)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s%d overlapped pass%s not waited for (vggcl_forward_wait) on this model",
                           who, m->n_flight, m->n_flight > 1 ? "es are" : " is");
    return VGGCL_OK;
}

/* The biggest activation of a pass, bounded from above without overflow (4x the widest map's floats covers
 * the packed layouts and Winograd's tiles): the passes whose sizes a size_t holds. */
#define MAX_PASS_FLOATS 0x1p50
static double pass_floats_bound(const vggcl_model *m, int n, int h, int w)
{
    int c = 3;
    for (int i = 0; i < m->n_steps; i++)
        if (m->steps[i].c_out > c) c = m->steps[i].c_out;
    return 4.0 * n * c * h * w;
}

/* Whether a pass takes inputs of h x w sides whatever the model: 1 to VGGCL_MAX_SIDE, h x w below 2^31 (the
 * kernels index a map's pixels in int). */
static int sides_taken(int h, int w)
{
    return h >= 1 && w >= 1 && h <= VGGCL_MAX_SIDE && w <= VGGCL_MAX_SIDE && (long long)h * w <= INT_MAX;
}

/* The checks of a pass's shape (model.h). */
vggcl_status vggcl__check_shape(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int wants_logits)
{
    int fh, fw, bad = 0;
    vggcl_status st = vggcl__model_mine(ctx, m, "", 0);
    if (st != VGGCL_OK) return st;
    if (n < 1) return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "input (%d, 3, %d, %d): expected N >= 1", n, h, w);
    if (h < 1 || w < 1 || h > VGGCL_MAX_SIDE || w > VGGCL_MAX_SIDE) /* (apart: an image too wide was told N >= 1) */
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "input (N, 3, %d, %d): expected 1 <= H, W <= %d", h, w,
                           VGGCL_MAX_SIDE);
    if (!sides_taken(h, w)) /* (what is left: the pixels) */
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "input (N, 3, %d, %d): %lld pixels a map; at most 2^31 - 1", h, w,
                           (long long)h * w);
    if (pass_floats_bound(m, n, h, w) > MAX_PASS_FLOATS)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "input (%d, 3, %d, %d) is too large: its activations would take about "
                           "%.3g floats; at most 2^50", n, h, w, pass_floats_bound(m, n, h, w));
    if (!vggcl__plan_out_size(m, h, w, &fh, &fw, &bad)) {
        int min = vggcl_model_min_input(m);
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "input (N, 3, %d, %d) is too small: layer %s gets a %dx%d map, smaller than its %dx%d "
                           "window; this network needs at least %dx%d", h, w, m->steps[bad].name, fh, fw,
                           m->steps[bad].kernel_size, m->steps[bad].kernel_size, min, min);
    }
    int ph, pw;
    const int odd = vggcl__ceil_pool_odd(m, h, w, &ph, &pw);
    if (odd >= 0) /* (rounding up there gives another size than vggcl's pools, which round down) */
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "input (N, 3, %d, %d): layer %s gets a %dx%d map, which it rounds up (the model's "
                           "\"vggcl.pool_ceil\", ONNX's ceil_mode, as Caffe rounds): vggcl runs such a model where "
                           "the maps of the pools that round up are even, as at a multiple of %d", h, w,
                           m->steps[odd].name, ph, pw, vggcl_model_size_multiple(m));
    int gh = 0, gw = 0; /* (vggcl's 7x7 pool there is not the graph's: another network) */
    if (vggcl__fixed_map_other(m, h, w, &ph, &pw) &&
        vggcl__plan_out_size(m, m->fixed_h, m->fixed_w, &gh, &gw, NULL)) /* (true: the load checked it) */
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "input (N, 3, %d, %d): its map is %dx%d, and the head flattens the %dx%d map of the "
                           "%dx%d images the model's graph took alone (its \"vggcl.input_size\"; vggcl would pool it "
                           "to %dx%d, which the graph does not): give %dx%d images", h, w, ph, pw, gh, gw, m->fixed_h,
                           m->fixed_w, m->pool_to, m->pool_to, m->fixed_h, m->fixed_w);
    if (!m->classes && wants_logits)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "the model was loaded without a head (features only): no logits");
    return VGGCL_OK;
}

static vggcl_status check_pass(vggcl_ctx *ctx, const vggcl_model *m, const float *input, int n, int h, int w,
                               int wants_logits)
{
    if (!input) {
        const vggcl_status st = vggcl__model_mine(ctx, m, "", 0);
        return st != VGGCL_OK ? st : vggcl__fail(ctx, VGGCL_ERR_ARG, "input (%d, 3, %d, %d): no data (NULL)", n, h, w);
    }
    return vggcl__check_shape(ctx, m, n, h, w, wants_logits);
}

/* Asked before a pass (vggcl_check_batch, vggcl_max_batch): the reference may make its own features and
 * logits (vggcl_benchmark does), and the caller has the input yet to make. */
#define ASKED (OWN_FEATURES | OWN_LOGITS | OWN_INPUT)

vggcl_status vggcl_check_batch(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    const vggcl_status st = vggcl__check_shape(ctx, m, n, h, w, 0);
    if (st != VGGCL_OK) return st;
    return ctx->use_ref ? ref_check_memory(ctx, m, n, h, w, ASKED) : check_memory(ctx, m, n, h, w, ASKED, -1);
}

vggcl_status vggcl_check_batches(vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    vggcl_status st = vggcl_check_batch(ctx, m, n, h, w);
    if (st != VGGCL_OK || ctx->use_ref) return st; /* (the reference's need grows with the batch) */
    /* a stream of batches of n ends with a smaller one, which a tuning table may give more workspace */
    const pass_shape p = device_shape(ctx, m, h, w, ASKED, -1);
    const int all = fitting_up_to(&p, n, device_fits);
    if (all == n) return VGGCL_OK;
    char before[128];
    snprintf(before, sizeof before, "a batch of %d fits, but not every smaller one (a stream's last batch): ", n);
    return vggcl__fail_around(ctx, check_memory(ctx, m, all + 1, h, w, ASKED, -1), before, "");
}

int vggcl_max_batch(vggcl_ctx *ctx, const vggcl_model *m, int h, int w, int limit)
{
    if (vggcl__check_shape(ctx, m, 1, h, w, 0) != VGGCL_OK) return -1;
    if (limit < 1) {
        vggcl__fail(ctx, VGGCL_ERR_ARG, "vggcl_max_batch: a limit of %d; expected at least 1", limit);
        return -1;
    }
    const double most = MAX_PASS_FLOATS / pass_floats_bound(m, 1, h, w); /* (>= 1: one image passed) */
    if (limit > most) limit = (int)most;
    const pass_shape p = ctx->use_ref ? (pass_shape){ ctx, m, h, w, ASKED, vggcl__host_available(ctx), 0 }
                                      : device_shape(ctx, m, h, w, ASKED, -1);
    int (*fits)(const pass_shape *, int) = ctx->use_ref ? host_fits : device_fits;
    const int n = fitting_up_to(&p, limit, fits);
    if (n == 0) vggcl_check_batch(ctx, m, 1, h, w); /* (the message: why not one image; else an earlier one's) */
    return n;
}

vggcl_status vggcl__forward(vggcl_ctx *ctx, vggcl_model *m, const float *input, int resident, int n, int h, int w,
                            float *logits, float *features, const vggcl_cam_request *cam)
{
    vggcl_status st = check_pass(ctx, m, input, n, h, w, logits || cam);
    if (st != VGGCL_OK || (st = vggcl__model_mine(ctx, m, "", 1)) != VGGCL_OK) return st;
    if (ctx->profiling) vggcl__prof_reset(ctx);
    if (ctx->use_ref) return forward_ref(ctx, m, input, n, h, w, ref_activation(m, n, h, w), logits, features, cam);
    return forward_cl(ctx, m, resident ? NULL : input, n, h, w, logits, features, cam);
}

vggcl_status vggcl_forward_submit(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w,
                                  float *logits, float *features)
{
    vggcl_status st = check_pass(ctx, m, input, n, h, w, logits != NULL);
    if (st != VGGCL_OK) return st;
    if (m->n_flight == 2)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "two overlapped passes are in flight: vggcl_forward_wait for the "
                                               "oldest before submitting another");
    if (ctx->profiling) vggcl__prof_reset(ctx);
    if (!ctx->use_ref) return submit_cl(ctx, m, input, n, h, w, logits, features);
    /* the reference runs now; its wait has nothing left to do */
    const double t0 = vggcl__now_ms();
    st = forward_ref(ctx, m, input, n, h, w, ref_activation(m, n, h, w), logits, features, NULL);
    if (st == VGGCL_OK) m->flight[m->n_flight++] = (vggcl_pass){ NULL, NULL, n, h, w, vggcl__now_ms() - t0 };
    return st;
}

/* Pass p just completed: ms (may be NULL) gets its device time, from when it could start (its input
 * uploaded and everything queued before it done: the pass before it, another model's on the context)
 * to its read-back's end. */
static vggcl_status pass_ms(vggcl_ctx *ctx, const vggcl_pass *p, const char *where, double *ms)
{
    vggcl_status st = VGGCL_OK;
    cl_ulong start = 0, end = 0;
    if (!ms) return VGGCL_OK;
    CL_CHECK(clGetEventProfilingInfo, (p->done, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL));
    CL_CHECK(clGetEventProfilingInfo, (p->start, CL_PROFILING_COMMAND_END, sizeof start, &start, NULL));
    *ms = end > start ? (end - start) * 1e-6 : 0;
fail:
    return st;
}

vggcl_status vggcl_forward_wait(vggcl_ctx *ctx, vggcl_model *m, double *device_ms)
{
    vggcl_status st = vggcl__model_mine(ctx, m, "", 0);
    if (st != VGGCL_OK) return st;
    if (!m->n_flight)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "no overlapped pass is in flight: vggcl_forward_submit first");
    const vggcl_pass p = m->flight[0];
    m->flight[0] = m->flight[1];
    m->n_flight--;
    char where[160];
    snprintf(where, sizeof where, "forward pass: waiting for the pass over (%d, 3, %d, %d)", p.n, p.h, p.w);
    if (device_ms) *device_ms = p.ref_ms;
    if (!p.done) return VGGCL_OK;
    CL_CHECK(clWaitForEvents, (1, &p.done));
    st = pass_ms(ctx, &p, where, device_ms);
fail:
    if (st != VGGCL_OK) CL_CLEANUP(clFinish, (ctx->queue)); /* nothing writes into the caller's outputs after this */
    if (p.start) CL_CLEANUP(clReleaseEvent, (p.start));
    if (p.done) CL_CLEANUP(clReleaseEvent, (p.done));
    return st;
}

void vggcl__flight_drop(vggcl_model *m)
{
    if (!m->n_flight) return;
    vggcl_ctx *ctx = m->ctx;
    const char *where = "freeing the model: the passes still in flight";
    if (ctx->queue) CL_CLEANUP(clFinish, (ctx->queue));
    for (int i = 0; i < m->n_flight; i++) {
        if (m->flight[i].start) CL_CLEANUP(clReleaseEvent, (m->flight[i].start));
        if (m->flight[i].done) CL_CLEANUP(clReleaseEvent, (m->flight[i].done));
    }
    m->n_flight = 0;
}

vggcl_status vggcl_forward(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w, float *logits,
                           float *features)
{
    return vggcl__forward(ctx, m, input, 0, n, h, w, logits, features, NULL);
}

vggcl_status vggcl_forward_cam(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w, float *logits,
                               float *features, const int *classes, float *cams, int *chosen)
{
    const vggcl_cam_request cam = { classes, cams, chosen };
    VGGCL_NEED(ctx, "vggcl_forward_cam", cams);
    const vggcl_status st = vggcl_check_cam(ctx, m); /* (the head; and a model without one: its words) */
    if (st != VGGCL_OK) return st;
    return vggcl__forward(ctx, m, input, 0, n, h, w, logits, features, &cam);
}

vggcl_status vggcl_check_cam(vggcl_ctx *ctx, const vggcl_model *m)
{
    const vggcl_status st = vggcl__model_mine(ctx, m, "", 0);
    if (st != VGGCL_OK) return st;
    if (m->pool_to || m->n_hidden)
        return vggcl__fail(ctx, VGGCL_ERR_ARG,
                           "class activation maps need a GAP head with one linear layer; this model's head is %s",
                           m->pool_to ? "a chain of dense layers after a 7x7 pool (torchvision's original classifier "
                                        "or a flatten)" : "a chain of dense layers after GAP");
    if (!m->classes)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "the model was loaded without a head (features only): no maps");
    return VGGCL_OK;
}

void vggcl_model_map_size(const vggcl_model *m, int h, int w, int *mh, int *mw)
{
    if (!mh || !mw) return;
    int ph, pw; /* (0 x 0 for a size the model does not take: too small, too large, or odd where a pool rounds up;
                 * as vggcl__check_shape, which a pass of one image never refuses for its 2^50 floats) */
    if (!m || !sides_taken(h, w) || !vggcl__plan_out_size(m, h, w, mh, mw, NULL) ||
        vggcl__ceil_pool_odd(m, h, w, &ph, &pw) >= 0 || vggcl__fixed_map_other(m, h, w, &ph, &pw))
        *mh = *mw = 0;
}
