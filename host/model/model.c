/* Builds the model plan from a torchvision VGG state_dict: convs from
 * features.N.weight (C_out, C_in, 3, 3), BatchNorm from the 1-D tensors right
 * after a conv (folded, eps 1e-5), a max pool wherever the indices skip one
 * more than the ReLU needs, pool5 from the options or the file's metadata, and
 * the linear head. Then uploads the weights when the context has a device. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "ref/ref.h"
#include "safetensors.h"

#include <cjson/cJSON.h>

#define BN_EPS 1e-5
#define MAX_FEATURE_INDEX 100000 /* features.N: N at most this */
/* A conv's channels in and out at most (the converters in weights/ refuse past them too: safetensors_io.py's
 * MAX_CHANNELS; a dense layer's outputs: VGGCL_MAX_OUTPUTS) */
#define MAX_CHANNELS 65536
/* Convolutions in a model, at most (VGG19 has 16): each has kernels and weights on the device of at least
 * 16 channels in and out (a file of 41000 one-channel convs, 9 MB, took 1.7 GB on PoCL) */
#define MAX_CONVS 1024

/* The tensors found for one features.N index. */
typedef struct {
    int index;
    const vggcl__st_tensor *weight, *bias, *mean, *var;
} feat_entry;

static int cmp_index(const void *a, const void *b)
{
    return ((const feat_entry *)a)->index - ((const feat_entry *)b)->index;
}

/* Groups features.N.* tensors by N. *out is malloc'd, sorted by index. */
static vggcl_status collect(vggcl_ctx *ctx, const vggcl__st_file *f, feat_entry **out, int *count)
{
    feat_entry *e = calloc((size_t)f->n + 1, sizeof *e);
    int *at = malloc(sizeof *at * (MAX_FEATURE_INDEX + 1)); /* (an index's entry: a search per tensor was quadratic) */
    int n = 0;
    if (!e || !at) {
        free(e), free(at);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", f->path);
    }
    for (int i = 0; i <= MAX_FEATURE_INDEX; i++) at[i] = -1;
    for (int i = 0; i < f->n; i++) {
        const vggcl__st_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "features.", 9)) continue;
        const char *p = t->name + 9;
        char *dot;
        if (!isdigit((unsigned char)*p)) goto bad;
        long idx = strtol(p, &dot, 10);
        /* (an index as torch writes it: features.00 would take features.0's place) */
        if (*dot != '.' || idx > MAX_FEATURE_INDEX || (*p == '0' && dot != p + 1)) goto bad;
        const char *suffix = dot + 1;
        if (at[idx] < 0) at[idx] = n, e[n++].index = (int)idx;
        const int k = at[idx];
        if (!strcmp(suffix, "weight")) e[k].weight = t;
        else if (!strcmp(suffix, "bias")) e[k].bias = t;
        else if (!strcmp(suffix, "running_mean")) e[k].mean = t;
        else if (!strcmp(suffix, "running_var")) e[k].var = t;
        else if (strcmp(suffix, "num_batches_tracked")) goto bad;
        continue;
    bad:
        free(e), free(at);
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "%s: tensor '%s' is not a VGG features tensor (expected features.N.weight, "
                           ".bias, .running_mean, .running_var or .num_batches_tracked)", f->path, t->name);
    }
    free(at);
    for (int k = 0; k < n; k++) /* (a BatchNorm's statistics at a conv's own index were passed over) */
        if (e[k].weight && e[k].weight->ndim == 4 && (e[k].mean || e[k].var)) {
            const int index = e[k].index;
            const char *name = (e[k].mean ? e[k].mean : e[k].var)->name;
            free(e);
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' is a BatchNorm's, at the index of conv "
                               "features.%d (its BatchNorm is features.%d)", f->path, name, index, index + 1);
        }
    qsort(e, (size_t)n, sizeof *e, cmp_index);
    *out = e;
    *count = n;
    return VGGCL_OK;
}

static int is_conv(const feat_entry *e) { return e->weight && e->weight->ndim == 4; }
static int is_bn(const feat_entry *e) { return e->weight && e->weight->ndim == 1 && e->mean && e->var && e->bias; }

static vggcl_status check_1d(vggcl_ctx *ctx, const char *path, const vggcl__st_tensor *t, int len)
{
    char s[96];
    if (t->ndim == 1 && t->shape[0] == len) return VGGCL_OK;
    vggcl__st_shape_str(t, s, sizeof s);
    return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' has shape %s; expected (%d,)", path, t->name, s, len);
}

/* Loads one conv (and the BatchNorm after it, if bn) into step s. */
static vggcl_status load_conv(vggcl_ctx *ctx, const vggcl__st_file *f, const feat_entry *c, const feat_entry *bn,
                              int c_in_expected, vggcl_step *s)
{
    const vggcl__st_tensor *w = c->weight;
    char shape[96];
    vggcl_status st;
    vggcl__st_shape_str(w, shape, sizeof shape);
    if (w->shape[2] != 3 || w->shape[3] != 3 || w->shape[0] < 1 || w->shape[1] < 1 ||
        w->shape[0] > MAX_CHANNELS || w->shape[1] > MAX_CHANNELS)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' has shape %s; expected (C_out, C_in, 3, 3)",
                           f->path, w->name, shape);
    if (w->shape[1] != c_in_expected)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "%s: tensor '%s' has shape %s; expected C_in = %d (%s)", f->path, w->name, shape,
                           c_in_expected, c_in_expected == 3 ? "RGB input" : "the previous conv's C_out");
    s->kind = VGGCL_STEP_CONV;
    snprintf(s->name, sizeof s->name, "features.%d", c->index);
    s->c_out = (int)w->shape[0];
    s->c_in = (int)w->shape[1];
    if ((st = vggcl__st_to_f32(ctx, f, w, &s->weight)) != VGGCL_OK) return st;
    if (c->bias) {
        if ((st = check_1d(ctx, f->path, c->bias, s->c_out)) != VGGCL_OK) return st;
        if ((st = vggcl__st_to_f32(ctx, f, c->bias, &s->bias)) != VGGCL_OK) return st;
    } else if (!(s->bias = calloc((size_t)s->c_out, sizeof *s->bias))) {
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", f->path);
    }
    if (!bn) return VGGCL_OK;

    const vggcl__st_tensor *parts[4] = { bn->weight, bn->bias, bn->mean, bn->var };
    float *v[4] = { 0 };
    for (int i = 0; i < 4 && st == VGGCL_OK; i++) {
        st = check_1d(ctx, f->path, parts[i], s->c_out);
        if (st == VGGCL_OK) st = vggcl__st_to_f32(ctx, f, parts[i], &v[i]);
    }
    for (int oc = 0; oc < s->c_out && st == VGGCL_OK; oc++) {
        if (!(v[3][oc] >= 0.0f)) {
            st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s' has a negative variance (%g) at %d", f->path,
                             bn->var->name, (double)v[3][oc], oc);
            break;
        }
        const double scale = v[0][oc] / sqrt((double)v[3][oc] + BN_EPS);
        float *wk = s->weight + (size_t)oc * s->c_in * 9;
        int finite = 1;
        for (int k = 0; k < s->c_in * 9; k++) wk[k] = (float)(wk[k] * scale), finite &= isfinite(wk[k]) != 0;
        s->bias[oc] = (float)((s->bias[oc] - v[2][oc]) * scale + v[1][oc]);
        if (!finite || !isfinite(s->bias[oc])) { /* (a huge weight over a tiny variance: every logit NaN, exit 0) */
            st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: BatchNorm '%s' folded into conv '%s' overflows a float at "
                             "channel %d (weight %g, running_var %g)", f->path, bn->weight->name, w->name, oc,
                             (double)v[0][oc], (double)v[3][oc]);
            break;
        }
    }
    for (int i = 0; i < 4; i++) free(v[i]);
    return st;
}

void vggcl__plan_add_pool(vggcl_step *s, const char *after)
{
    char prev[64];
    snprintf(prev, sizeof prev, "%.60s", after);
    memset(s, 0, sizeof *s);
    s->kind = VGGCL_STEP_POOL;
    snprintf(s->name, sizeof s->name, "max pool after %s", prev);
    s->kernel_size = 2;
    s->stride = 2;
}

static vggcl_status build_features(vggcl_ctx *ctx, const vggcl__st_file *f, int pool5, vggcl_model *m)
{
    feat_entry *e = NULL;
    int n = 0;
    vggcl_status st = collect(ctx, f, &e, &n);
    if (st != VGGCL_OK) return st;
    int convs = 0;
    for (int i = 0; i < n; i++) convs += is_conv(&e[i]);
    if (convs > MAX_CONVS) {
        st = vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: %d convolutions (features.N.weight of 4 dimensions); vggcl runs "
                         "at most %d (VGG19 has 16)", f->path, convs, MAX_CONVS);
        goto done;
    }
    m->steps = calloc((size_t)2 * n + 2, sizeof *m->steps);
    if (!m->steps) { st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", f->path); goto done; }
    int c_prev = 3, next = 0; /* index where the next conv must be (or next + 1 after a pool) */
    int with_bn = -1, without_bn = -1; /* a conv with a BatchNorm after it, and one without (their indices) */
    for (int i = 0; i < n; i++) {
        const feat_entry *c = &e[i];
        char shape[96] = "";
        if (!is_conv(c)) {
            if (c->weight) vggcl__st_shape_str(c->weight, shape, sizeof shape);
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                             "%s: features.%d is not a conv (weight %s%s) and does not directly follow one as "
                             "BatchNorm", f->path, c->index, c->weight ? "of shape " : "missing", shape);
            goto done;
        }
        if (c->index != next && !(c->index == next + 1 && m->n_steps > 0)) {
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                             "%s: conv features.%d is out of place: expected features.%d%s", f->path, c->index,
                             next, m->n_steps ? " (or the next index after a max pool)" : "");
            goto done;
        }
        if (c->index == next + 1) {
            vggcl__plan_add_pool(&m->steps[m->n_steps], m->steps[m->n_steps - 1].name);
            m->n_steps++;
        }
        const feat_entry *bn = (i + 1 < n && e[i + 1].index == c->index + 1 && !is_conv(&e[i + 1])) ? &e[i + 1] : NULL;
        if (bn && !is_bn(bn)) {
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                             "%s: features.%d after conv features.%d is neither a conv nor a BatchNorm with "
                             "weight, bias, running_mean and running_var", f->path, bn->index, c->index);
            goto done;
        }
        if (bn && with_bn < 0) with_bn = c->index;
        if (!bn && without_bn < 0) without_bn = c->index;
        if (with_bn >= 0 && without_bn >= 0) { /* (vgg16_bn with features.1 missing read as a max pool after 0) */
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                             "%s: conv features.%d has no BatchNorm after it (features.%d), but conv features.%d has "
                             "one: every conv of a _bn model has its BatchNorm", f->path, without_bn, without_bn + 1,
                             with_bn);
            goto done;
        }
        st = load_conv(ctx, f, c, bn, c_prev, &m->steps[m->n_steps++]);
        if (st != VGGCL_OK) goto done;
        c_prev = m->steps[m->n_steps - 1].c_out;
        next = c->index + (bn ? 3 : 2);
        if (bn) i++;
    }
    if (m->n_steps == 0) { /* (names under a prefix, as nn.DataParallel's "module.": said with the way to read it) */
        const char *under = NULL;
        for (int k = 0; k < f->n && !under; k++) {
            const size_t len = strlen(f->tensors[k].name), tail = strlen(".features.0.weight");
            if (len > tail && !strcmp(f->tensors[k].name + len - tail, ".features.0.weight"))
                under = f->tensors[k].name;
        }
        if (under)
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: no convolution weights (features.N.weight) found, but '%s': "
                             "the network is under a prefix (nn.DataParallel's \"module.\", a wrapper's); "
                             "weights/export_torchvision.py --state-dict takes it off (or rename the keys)", f->path,
                             under);
        else
            st = vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: no convolution weights (features.N.weight) found; is this a "
                             "torchvision VGG state_dict? (weights/export_torchvision.py reads other names: "
                             "--features, --head)", f->path);
        goto done;
    }
    m->features = c_prev;
    m->pool5 = pool5;
    if (pool5) {
        vggcl__plan_add_pool(&m->steps[m->n_steps], m->steps[m->n_steps - 1].name);
        m->n_steps++;
    }
done:
    free(e);
    return st;
}

/* One linear layer prefix.{weight,bias} of shape (out, in_expected). */
static vggcl_status load_linear(vggcl_ctx *ctx, const vggcl__st_file *f, const char *prefix, int in_expected,
                                const char *why, int *out, float **w_out, float **b_out)
{
    char key[160], shape[96];
    vggcl_status st;
    snprintf(key, sizeof key, "%s.weight", prefix);
    const vggcl__st_tensor *w = vggcl__st_find(f, key);
    snprintf(key, sizeof key, "%s.bias", prefix);
    const vggcl__st_tensor *b = vggcl__st_find(f, key);
    if (!w || !b)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE,
                           "%s: head tensor '%s.%s' not found; expected the linear layer %s.weight (C, %d) and "
                           "%s.bias (C,) (another name: vggcl_load_options.head, --head PREFIX on the command line, "
                           "head= in Python)",
                           f->path, prefix, w ? "bias" : "weight", prefix, in_expected, prefix);
    vggcl__st_shape_str(w, shape, sizeof shape);
    if (w->ndim != 2 || w->shape[1] != in_expected || w->shape[0] < 1 || w->shape[0] > VGGCL_MAX_OUTPUTS)
        return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' has shape %s; expected (C, %d): %s", f->path, w->name,
                           shape, in_expected, why);
    *out = (int)w->shape[0];
    if ((st = check_1d(ctx, f->path, b, *out)) != VGGCL_OK) return st;
    if ((st = vggcl__st_to_f32(ctx, f, w, w_out)) != VGGCL_OK) return st;
    return vggcl__st_to_f32(ctx, f, b, b_out);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* K of classifier.K.<suffix> written as torch writes it (no sign, no leading zero, at most 100000),
 * else -1. */
static int chain_index(const char *name, const char **suffix)
{
    const char *p = name + 11;
    char *dot;
    if (strncmp(name, "classifier.", 11) || !isdigit((unsigned char)*p)) return -1;
    const long k = strtol(p, &dot, 10);
    if (*dot != '.' || k > 100000 || (*p == '0' && dot != p + 1)) return -1;
    *suffix = dot + 1;
    return (int)k;
}

/* The K of every classifier.K.weight, sorted; returns how many (at most cap), or -1 with the error
 * said when a classifier.* tensor is not one the chain reads: a weight that is not 2-D (a BatchNorm1d
 * between the dense layers was passed over, and the logits were not torchvision's), another suffix,
 * a bias without its weight, an index not as torch writes it. */
static int chain_indices(vggcl_ctx *ctx, const vggcl__st_file *f, int *idx, int cap)
{
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const vggcl__st_tensor *t = &f->tensors[i];
        const char *suffix = "";
        char key[64];
        if (strncmp(t->name, "classifier.", 11)) continue;
        const int k = chain_index(t->name, &suffix);
        if (k >= 0) snprintf(key, sizeof key, "classifier.%d.weight", k);
        if (k < 0) {
            vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' is not a dense layer's: its index is not written as "
                        "torch writes it (classifier.K.weight and .bias, K a number without leading zeros)",
                        f->path, t->name);
            return -1;
        }
        if ((strcmp(suffix, "weight") && strcmp(suffix, "bias")) ||
            (!strcmp(suffix, "weight") ? t->ndim != 2 : !vggcl__st_find(f, key))) {
            char shape[96];
            vggcl__st_shape_str(t, shape, sizeof shape);
            vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: tensor '%s' of shape %s is not a dense layer's: the head reads "
                        "classifier.K.weight (out, in) and classifier.K.bias (out,), ReLU between them",
                        f->path, t->name, shape);
            return -1;
        }
        if (strcmp(suffix, "weight")) continue;
        if (n < cap) idx[n] = k;
        n++;
    }
    if (n <= cap) qsort(idx, (size_t)n, sizeof *idx, cmp_int);
    return n;
}

/* Whether the head is model.classifier = nn.Linear(C_last, C) (as the README's pool5 section writes it): its
 * tensors classifier.weight and .bias, unnumbered, and no other classifier.* (it was refused as an index not
 * written as torch writes it). */
static int bare_linear(const vggcl__st_file *f)
{
    if (!vggcl__st_find(f, "classifier.weight")) return 0;
    for (int i = 0; i < f->n; i++)
        if (!strncmp(f->tensors[i].name, "classifier.", 11) && strcmp(f->tensors[i].name, "classifier.weight") &&
            strcmp(f->tensors[i].name, "classifier.bias"))
            return 0;
    return 1;
}

/* The head: with prefix "classifier.0" (the default), every 2-D
 * classifier.K.weight in order of K is one dense layer, ReLU between them;
 * the first takes the GAP features (C_last) or, when it is C_last * 49 wide,
 * the map pooled to 7x7 and flattened (torchvision's original classifier);
 * or, where the file has classifier.weight alone (bare_linear), that one
 * layer, read alike. Any other prefix names a single linear layer after GAP. */
static vggcl_status build_head(vggcl_ctx *ctx, const vggcl__st_file *f, const char *prefix, vggcl_model *m)
{
    int idx[VGGCL_MAX_HIDDEN + 1];
    int n = 1, in = m->features;
    char name[VGGCL_MAX_HIDDEN + 1][sizeof m->head_name], why[160];
    vggcl_status st;
    if (strlen(prefix) >= sizeof m->head_name - 8) /* (prefix.weight must fit) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "head prefix of %zu characters; at most %zu", strlen(prefix),
                           sizeof m->head_name - 9);
    snprintf(name[0], sizeof name[0], "%s", prefix);
    const int chain = !strcmp(prefix, "classifier.0"), bare = chain && bare_linear(f); /* (the default's forms) */
    if (bare) snprintf(name[0], sizeof name[0], "classifier");
    if (chain && !bare) {
        if ((n = chain_indices(ctx, f, idx, VGGCL_MAX_HIDDEN + 1)) < 0) return VGGCL_ERR_SHAPE;
        if (n > VGGCL_MAX_HIDDEN + 1)
            return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: a head of %d dense layers (classifier.K.weight); at most %d",
                               f->path, n, VGGCL_MAX_HIDDEN + 1);
        if (n == 0) n = 1; /* load_linear names what is missing */
        else
            for (int i = 0; i < n; i++) snprintf(name[i], sizeof name[i], "classifier.%d", idx[i]);
        /* (a state_dict's nn.Sequential(Linear, Linear) ran with a ReLU it does not have) */
        for (int i = 1; i < n; i++)
            if (idx[i] == idx[i - 1] + 1)
                return vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: dense layers %s and %s are next to each other: the head "
                                   "puts a ReLU between its dense layers, and there is no place for one", f->path,
                                   name[i - 1], name[i]);
    }
    if (chain) { /* (the 7x7 pool is read from the first layer alone: torchvision's one or three layers, or one
                  * unnumbered) */
        const vggcl__st_tensor *w0 = vggcl__st_find(f, bare ? "classifier.weight" : "classifier.0.weight");
        if (w0 && (bare || !strcmp(name[0], "classifier.0")) && w0->ndim == 2 &&
            w0->shape[1] == (int64_t)m->features * 49 && m->features > 0) {
            m->pool_to = 7;
            in = m->features * 49;
        }
    }
    m->n_hidden = n - 1;
    for (int i = 0; i < n; i++) {
        if (i == 0)
            snprintf(why, sizeof why, "the head's input must be the last conv's width%s",
                     strcmp(name[0], "classifier.0") && !bare ? "" : " (or its width x 7 x 7 for torchvision's "
                                                                     "classifier)");
        else
            snprintf(why, sizeof why, "%s's output width", name[i - 1]);
        if (m->pool_to && i == 0) snprintf(why, sizeof why, "the last conv's width x 7 x 7");
        if (i + 1 < n) {
            m->hidden_in[i] = in;
            snprintf(m->hidden_name[i], sizeof m->hidden_name[i], "%.63s", name[i]);
            st = load_linear(ctx, f, name[i], in, why, &m->hidden_out[i], &m->hidden_w[i], &m->hidden_b[i]);
            in = m->hidden_out[i];
        } else {
            m->head_in = in;
            snprintf(m->head_name, sizeof m->head_name, "%.*s", (int)sizeof m->head_name - 1, name[i]);
            st = load_linear(ctx, f, name[i], in, why, &m->classes, &m->head_w, &m->head_b);
        }
        if (st != VGGCL_OK) return st;
    }
    return VGGCL_OK;
}

/* Whether JSON text has a \u0000 escape (a backslash that is itself escaped starts none). */
static int holds_nul(const char *json)
{
    for (const char *s = json; *s; s++)
        if (*s == '\\' && s[1]) {
            if (!strncmp(s + 1, "u0000", 5)) return 1;
            s++;
        }
    return 0;
}

/* The entries of the JSON list text starts (its top level: commas in strings, lists and objects not counted),
 * read without parsing it; -1 where it does not start as a list. Malformed text is counted as it comes. */
static long list_entries(const char *text)
{
    while (*text && (unsigned char)*text <= ' ') text++; /* (as cJSON skips: every byte up to the space) */
    if (*text++ != '[') return -1;
    long n = 0, depth = 0;
    int in_string = 0, any = 0;
    for (; *text && depth >= 0; text++) {
        const char ch = *text;
        if (in_string) {
            if (ch == '\\' && text[1]) text++;
            else if (ch == '"') in_string = 0;
            continue;
        }
        if (ch == '"') in_string = 1;
        else if (ch == '[' || ch == '{') depth++;
        else if (ch == ']' || ch == '}') depth--;
        else if (ch == ',' && depth == 0) n++;
        if (depth >= 0 && (unsigned char)ch > ' ') any = 1;
    }
    return any ? n + 1 : 0;
}

/* Whether at is a JSON escape of a UTF-16 surrogate, "\\uD800" to "\\uDFFF" (cJSON refuses one not in a pair). */
static int lone_surrogate(const char *at)
{
    char hex[5] = "";
    if (strncmp(at, "\\u", 2) || strspn(at + 2, "0123456789abcdefABCDEF") < 4) return 0;
    memcpy(hex, at + 2, 4);
    return (strtol(hex, NULL, 16) & 0xF800) == 0xD800;
}

/* The class names of __metadata__ "vggcl.classes" (names: a JSON list of strings, one per class) into *out
 * (made, classes of them; out NULL: checked only): VGGCL_OK, else said, naming path. */
static vggcl_status parse_classes(vggcl_ctx *ctx, const char *path, const char *names, int classes, char ***out)
{
    /* counted first: the text is as long as the header allows, and cJSON's nodes for a list of 50 million
     * numbers took 3-4 GB before their count was compared */
    const long entries = list_entries(names);
    cJSON *list = NULL;
    long bad_at = -1; /* (where cJSON stopped reading the list: its byte, from 0) */
    if (entries == classes) {
        vggcl__lock(); /* cJSON's parser writes a global error position */
        list = cJSON_ParseWithOpts(names, NULL, 1); /* (the whole text: '["a","b"] more' was taken) */
        if (!list && cJSON_GetErrorPtr()) bad_at = (long)(cJSON_GetErrorPtr() - names);
        vggcl__unlock();
    }
    vggcl_status st = VGGCL_OK;
    char **got_names = NULL;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != classes) {
        char got[128] = "not a JSON list";
        if (cJSON_IsArray(list)) snprintf(got, sizeof got, "a list of %d", cJSON_GetArraySize(list));
        else if (bad_at >= 0 && lone_surrogate(names + bad_at)) /* (valid JSON, but no character) */
            snprintf(got, sizeof got, "a list whose name holds a lone UTF-16 surrogate (\\u%.4s at byte %ld), no "
                     "character", names + bad_at + 2, bad_at);
        else if (bad_at >= 0) /* (a list by its shape: a bad escape) */
            snprintf(got, sizeof got, "not valid JSON from byte %ld on", bad_at);
        else if (entries >= 0 && entries != classes) snprintf(got, sizeof got, "a list of %ld", entries);
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT,
                         "%s: __metadata__ \"vggcl.classes\" is %s; expected a JSON list of %d class names (the head "
                         "has %d classes)", path, got, classes, classes);
        goto done;
    }
    if (holds_nul(names)) { /* (cJSON would cut the name there: two names could become one) */
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.classes\": a name holds a NUL character "
                         "(\\u0000)", path);
        goto done;
    }
    if (out && !(got_names = calloc((size_t)classes, sizeof *got_names))) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
        goto done;
    }
    int c = 0;
    for (const cJSON *it = list->child; it; it = it->next, c++) {
        if (!cJSON_IsString(it)) {
            st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.classes\": entry %d is not a string",
                             path, c);
            goto done;
        }
        if (out && !(got_names[c] = strdup(it->valuestring))) {
            st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
            goto done;
        }
    }
done:
    cJSON_Delete(list);
    if (out) *out = got_names; /* (the model frees them, made or not, as it frees the rest) */
    return st;
}

/* Keeps the file's metadata and reads the class names ("vggcl.classes"). */
static vggcl_status take_metadata(vggcl_ctx *ctx, vggcl__st_file *f, vggcl_model *m)
{
    m->n_meta = f->n_meta, m->meta_keys = f->meta_keys, m->meta_values = f->meta_values;
    f->n_meta = 0, f->meta_keys = f->meta_values = NULL;
    const char *names = vggcl_model_metadata(m, "vggcl.classes");
    if (!names || !m->classes) return VGGCL_OK;
    return parse_classes(ctx, f->path, names, m->classes, &m->class_names);
}

/* __metadata__ "vggcl.pool5" (meta, may be NULL: kept) as *keep: VGGCL_OK, else said, naming path. */
static vggcl_status pool5_of(vggcl_ctx *ctx, const char *path, const char *meta, int *keep)
{
    *keep = !meta || strcmp(meta, "drop");
    if (!meta || !strcmp(meta, "drop") || !strcmp(meta, "keep")) return VGGCL_OK;
    return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.pool5\" is \"%s\"; expected \"keep\" or \"drop\"",
                       path, meta);
}

/* __metadata__ "vggcl.input_size" (meta, may be NULL: none, 0 0) as *h and *w: "H,W", whole sizes of 1 to
 * VGGCL_MAX_SIDE, read as the preset's sizes are (vggcl__meta_numbers). VGGCL_OK, else said, naming path. */
static vggcl_status input_size_of(vggcl_ctx *ctx, const char *path, const char *meta, int *h, int *w)
{
    float v[2];
    *h = *w = 0;
    if (!meta) return VGGCL_OK;
    if (!vggcl__meta_numbers(meta, 2, 1, v) || !(v[0] >= 1 && v[0] <= VGGCL_MAX_SIDE) ||
        !(v[1] >= 1 && v[1] <= VGGCL_MAX_SIDE) || v[0] != floorf(v[0]) || v[1] != floorf(v[1]))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.input_size\" is \"%s\"; expected H,W "
                           "(the one input size of the graph the model was imported from, as \"240,240\"), each 1 "
                           "to %d", path, meta, VGGCL_MAX_SIDE);
    *h = (int)v[0], *w = (int)v[1];
    return VGGCL_OK;
}

/* __metadata__ "vggcl.pool_ceil" (meta, may be NULL: none) as *ceil, bit k for the k-th max pool: "1" every pool,
 * "0" none, or one 0 or 1 a pool, comma-separated, in their order (a pool past the list: 0; *listed: how many the
 * list gives, 0 for the other forms). VGGCL_OK, else said, naming path. */
static vggcl_status pool_ceil_of(vggcl_ctx *ctx, const char *path, const char *meta, unsigned *ceil, int *listed)
{
    *ceil = 0, *listed = 0;
    if (!meta || !strcmp(meta, "0")) return VGGCL_OK;
    if (!strcmp(meta, "1")) {
        *ceil = ~0u;
        return VGGCL_OK;
    }
    int k = 0, ok = 1;
    for (const char *c = meta; ok; c += 2, k++) {
        ok = k < 32 && (c[0] == '0' || c[0] == '1') && (c[1] == ',' || !c[1]);
        if (ok && c[0] == '1') *ceil |= 1u << k;
        if (!ok || !c[1]) break;
    }
    *listed = k + 1;
    if (ok) return VGGCL_OK;
    *ceil = 0;
    return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.pool_ceil\" is \"%s\"; expected \"0\", \"1\" "
                       "(every max pool rounds up) or one 0 or 1 a pool, comma-separated (\"1,1,0,0,0\")", path, meta);
}

int vggcl__ceil_pool_odd(const vggcl_model *m, int h, int w, int *ph, int *pw)
{
    for (int i = 0, k = 0; m->pool_ceil && i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind != VGGCL_STEP_POOL) continue;
        const int nh = vggcl__pool_out_size(h, s->kernel_size, s->stride, s->padding, 0);
        const int nw = vggcl__pool_out_size(w, s->kernel_size, s->stride, s->padding, 0);
        if (k < 32 && m->pool_ceil >> k & 1 &&
            (nh != vggcl__pool_out_size(h, s->kernel_size, s->stride, s->padding, 1) ||
             nw != vggcl__pool_out_size(w, s->kernel_size, s->stride, s->padding, 1))) {
            *ph = h, *pw = w;
            return i;
        }
        h = nh, w = nw, k++;
    }
    return -1;
}

int vggcl_model_size_multiple(const vggcl_model *m)
{
    int multiple = 1; /* (also what vggcl__ceil_pool_odd finds none at) */
    for (int i = 0, k = 0, side = 1; m && i < m->n_steps; i++) {
        if (m->steps[i].kind != VGGCL_STEP_POOL) continue;
        /* (its map even, the halvings before it whole: the input a multiple of side; past INT_MAX, as
         * vggcl_model_min_input, no input is taken) */
        side = side > INT_MAX / m->steps[i].stride ? INT_MAX : side * m->steps[i].stride;
        if (k < 32 && m->pool_ceil >> k & 1) multiple = side > multiple ? side : multiple;
        k++;
    }
    return multiple;
}

vggcl_status vggcl__meta_check(vggcl_ctx *ctx, const char *path, const char *key, const char *value, int classes)
{
    int keep;
    if (!strcmp(key, "vggcl.classes")) return parse_classes(ctx, path, value, classes, NULL);
    if (!strcmp(key, "vggcl.pool5")) return pool5_of(ctx, path, value, &keep);
    unsigned ceil;
    int listed;
    if (!strcmp(key, "vggcl.pool_ceil")) return pool_ceil_of(ctx, path, value, &ceil, &listed);
    int h, w;
    if (!strcmp(key, "vggcl.input_size")) return input_size_of(ctx, path, value, &h, &w);
    return vggcl__preset_meta_check(ctx, path, key, value);
}

/* On a CPU device, whose buffers are the host's memory: whether a weights buffer of bytes fits in what the host
 * had available when the upload began (*left, vggcl__host_available, a reserve for the driver kept; < 0: not on a
 * CPU) less the buffers made since, which take *left down; else said, naming the layer (under ulimit -v PoCL's own
 * allocation failed there in an assertion, an abort, or a crash loading the next program). The pages of a mapped
 * buffer are touched only when it is packed, so the host's own count would not have seen the ones before. */
static vggcl_status weights_fit(vggcl_ctx *ctx, const char *where, size_t bytes, double *left)
{
    if (*left < 0 || (double)bytes <= *left) {
        if (*left >= 0) *left -= (double)bytes;
        return VGGCL_OK;
    }
    return vggcl__fail(ctx, VGGCL_ERR_NOMEM,
                       "out of host memory loading %s: %.1f MiB on %s, whose buffers are the host's memory, but %.1f "
                       "MiB is available (free memory and swap, within the cgroup's limit and ulimit -v, less a "
                       "reserve for the driver's compiler and threads, and the model's buffers before it)",
                       where, (double)bytes / 1048576.0, ctx->device_name, *left / 1048576.0);
}

static vggcl_status upload(vggcl_ctx *ctx, const char *where, const float *src, size_t n, cl_mem *out, double *left)
{
    const vggcl_status st = weights_fit(ctx, where, n * sizeof(float), left);
    return st != VGGCL_OK ? st : vggcl__buffer(ctx, where, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * sizeof(float),
                                               (void *)src, out);
}

/* A conv step's device buffer for algorithm id in the weight layout that parameters p use (conv_algo.h:
 * variant), unless it is there already, mapped for its packing: jobs[(*n)++]. */
static vggcl_status pack_job(vggcl_ctx *ctx, const char *where, vggcl_step *s, int id, const vggcl_conv_params *p,
                             vggcl__pack_job *jobs, int *n, double *left)
{
    const vggcl_conv_algo *a = vggcl__conv_algo(id);
    const int v = vggcl__conv_variant(a, p);
    if (s->packed[id][v]) return VGGCL_OK;
    vggcl__pack_job *j = &jobs[*n];
    *j = (vggcl__pack_job){ s, a, *p, id, v, NULL, a->packed_floats(p, s->c_out, s->c_in) * sizeof(float) };
    vggcl_status st = weights_fit(ctx, where, j->bytes, left);
    if (st == VGGCL_OK) st = vggcl__buffer(ctx, where, CL_MEM_READ_ONLY, j->bytes, NULL, &s->packed[id][v]);
    if (st == VGGCL_OK) st = vggcl__map_write(ctx, where, s->packed[id][v], j->bytes, &j->dst);
    if (st != VGGCL_OK) vggcl__release(ctx, where, &s->packed[id][v]);
    else ++*n;
    return st;
}

static void conv_where(const vggcl_step *s, char *where, size_t len)
{
    snprintf(where, len, "layer %s (conv %d->%d) weights", s->name, s->c_in, s->c_out);
}

/* The n mapped buffers of jobs packed (when st is VGGCL_OK) and unmapped; a buffer that failed, or all of them
 * where st or an unmapping failed, released. Returns st, else the first failure. */
static vggcl_status pack_and_unmap(vggcl_ctx *ctx, vggcl_status st, vggcl__pack_job *jobs, int n)
{
    char where[256];
    if (st == VGGCL_OK) vggcl__pack_all(jobs, n);
    for (int k = 0; k < n; k++) {
        vggcl__pack_job *j = &jobs[k];
        cl_mem *mem = &j->step->packed[j->id][j->v];
        conv_where(j->step, where, sizeof where);
        const vggcl_status un = vggcl__unmap(ctx, where, *mem, j->dst);
        if (st == VGGCL_OK) st = un;
        if (un != VGGCL_OK) vggcl__release(ctx, where, mem);
        else j->step->packed_bytes[j->id][j->v] = j->bytes;
    }
    for (int k = 0; k < n && st != VGGCL_OK; k++) { /* (none half made: the weights are there, packed, or not) */
        vggcl__pack_job *j = &jobs[k];
        conv_where(j->step, where, sizeof where);
        vggcl__release(ctx, where, &j->step->packed[j->id][j->v]);
        j->step->packed_bytes[j->id][j->v] = 0;
    }
    return st;
}

int vggcl__conv_choose(const vggcl_ctx *ctx, const vggcl_model *m, int i, int n, int h, int w,
                       vggcl_conv_choice *c)
{
    const vggcl_step *s = &m->steps[i];
    const vggcl_tuned *t = vggcl__tune_lookup(ctx, s->c_in, s->c_out, h, w, n, m->conv);
    const vggcl_conv_algo *ta = t ? vggcl__conv_algo(t->algo) : NULL;
    vggcl_conv_params defaults; /* (the step's algorithm's, for the shape) */
    vggcl__conv_defaults(ctx, s->algo, n, s->c_in, s->c_out, h, w, &defaults);
    /* (a row of the same channels at another size, one the algorithm cannot run at this one: the defaults) */
    c->from_row = t && (!ta->reaches || ta->reaches(ctx, s->c_in, s->c_out, h, w));
    c->algo = c->from_row ? t->algo : s->algo;
    c->params = c->from_row ? t->params : defaults;
    /* (a row of the defaults' values, as tune keeps where none beat them, changes nothing: not tuned) */
    const int tuned = c->algo != s->algo || memcmp(&c->params, &defaults, sizeof defaults);
    const vggcl_step *next = i + 1 < m->n_steps ? &m->steps[i + 1] : NULL;
    c->fused_pool = vggcl__conv_algo(c->algo)->fuses_pool && next && next->kind == VGGCL_STEP_POOL &&
                    next->kernel_size == 2 && next->stride == 2 && next->padding == 0 && !next->ceil_mode;
    return tuned;
}

vggcl_status vggcl__model_upload(vggcl_ctx *ctx, vggcl_model *m, int conv)
{
    vggcl_status st = VGGCL_OK;
    if (conv && !vggcl__conv_algo(conv)) return vggcl__fail(ctx, VGGCL_ERR_ARG, "no convolution algorithm %d", conv);
    m->conv = conv;
    char where[256];
    int n_jobs = 0, convs = 0;
    for (int i = 0; i < m->n_steps; i++) convs += m->steps[i].kind == VGGCL_STEP_CONV;
    /* every conv's buffers made and mapped here, then packed on several threads, then unmapped */
    vggcl__pack_job *jobs = calloc((size_t)convs + 1, sizeof *jobs);
    double left = ctx->is_cpu ? vggcl__host_available(ctx) : -1; /* (weights_fit) */
    if (left == 0) left = -1; /* (not known: no /proc/meminfo, as in a container without /proc; "0.0 MiB" said) */
    if (!jobs) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", m->path ? m->path : "model");
    for (int i = 0; i < m->n_steps && st == VGGCL_OK; i++) {
        vggcl_step *s = &m->steps[i];
        if (s->kind != VGGCL_STEP_CONV) continue;
        conv_where(s, where, sizeof where);
        s->algo = conv ? conv : vggcl__conv_default_algo(ctx, s->c_in, s->c_out);
        if (!vggcl__conv_fits(ctx, s->algo, s->c_in, s->c_out)) {
            st = vggcl__fail(ctx, VGGCL_ERR_ARG,
                             "layer %s (conv %d->%d): the %s algorithm cannot run on this device (local memory %llu "
                             "bytes, work-groups of up to %zu items); let vggcl choose (--conv auto)",
                             s->name, s->c_in, s->c_out, vggcl__conv_algo(s->algo)->name,
                             (unsigned long long)ctx->local_mem, ctx->max_wg);
            break;
        }
        /* the defaults' weight layout does not depend on the map size (vggcl__conv_choose) */
        vggcl_conv_params p;
        vggcl__conv_defaults(ctx, s->algo, 1, s->c_in, s->c_out, 1, 1, &p);
        st = pack_job(ctx, where, s, s->algo, &p, jobs, &n_jobs, &left); /* (the table's rows: at their first pass) */
        if (st == VGGCL_OK) st = upload(ctx, where, s->bias, (size_t)s->c_out, &s->bias_dev, &left);
    }
    st = pack_and_unmap(ctx, st, jobs, n_jobs);
    free(jobs);
    for (int i = 0; i < m->n_hidden && st == VGGCL_OK; i++) {
        snprintf(where, sizeof where, "layer %s (dense %d->%d) weights", m->hidden_name[i], m->hidden_in[i],
                 m->hidden_out[i]);
        const size_t out = (size_t)m->hidden_out[i];
        st = upload(ctx, where, m->hidden_w[i], out * m->hidden_in[i], &m->hidden_w_dev[i], &left);
        if (st == VGGCL_OK) st = upload(ctx, where, m->hidden_b[i], out, &m->hidden_b_dev[i], &left);
    }
    if (!m->classes) return st; /* loaded without a head */
    snprintf(where, sizeof where, "layer %s (dense %d->%d) weights", m->head_name, m->head_in, m->classes);
    if (st == VGGCL_OK) st = upload(ctx, where, m->head_w, (size_t)m->classes * m->head_in, &m->head_w_dev, &left);
    if (st == VGGCL_OK) st = upload(ctx, where, m->head_b, (size_t)m->classes, &m->head_b_dev, &left);
    return st;
}

/* The first conv step at or after `from` whose choice for a pass of n images (vggcl__conv_choose) is a table's row
 * whose weights are not packed yet, its choice in *c, its input's sides in *h, *w (the pass's input's, walked
 * through the steps before); -1 where none is left. */
static int next_unpacked_row(const vggcl_ctx *ctx, const vggcl_model *m, int from, int n, int *h, int *w,
                             vggcl_conv_choice *c)
{
    for (int i = from; i < m->n_steps && ctx->n_tuned; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_POOL) {
            vggcl__step_size(s, h, w);
            continue;
        }
        vggcl__conv_choose(ctx, m, i, n, *h, *w, c);
        if (c->from_row && !s->packed[c->algo][vggcl__conv_variant(vggcl__conv_algo(c->algo), &c->params)]) return i;
    }
    return -1;
}

size_t vggcl__model_rows_bytes(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w)
{
    size_t bytes = 0;
    vggcl_conv_choice c;
    for (int i = -1; (i = next_unpacked_row(ctx, m, i + 1, n, &h, &w, &c)) >= 0;)
        bytes += vggcl__conv_algo(c.algo)->packed_floats(&c.params, m->steps[i].c_out, m->steps[i].c_in) *
                 sizeof(float);
    return bytes;
}

vggcl_status vggcl__model_pack_rows(vggcl_ctx *ctx, vggcl_model *m, int n, int h, int w)
{
    vggcl_status st = VGGCL_OK;
    vggcl__pack_job *jobs = NULL;
    int n_jobs = 0;
    double left = -1; /* (weights_fit's, read at the first row to pack) */
    char where[256];
    vggcl_conv_choice c;
    for (int i = -1; st == VGGCL_OK && (i = next_unpacked_row(ctx, m, i + 1, n, &h, &w, &c)) >= 0;) {
        vggcl_step *s = &m->steps[i];
        if (!jobs) {
            if (!(jobs = calloc((size_t)m->n_steps, sizeof *jobs)))
                return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", m->path ? m->path : "model");
            if (ctx->is_cpu && (left = vggcl__host_available(ctx)) == 0) left = -1; /* (as vggcl__model_upload's) */
        }
        conv_where(s, where, sizeof where);
        st = pack_job(ctx, where, s, c.algo, &c.params, jobs, &n_jobs, &left);
    }
    if (jobs) st = pack_and_unmap(ctx, st, jobs, n_jobs);
    free(jobs);
    return st;
}

void vggcl_load_options_defaults(vggcl_load_options *o)
{
    if (!o) return;
    o->pool5 = VGGCL_POOL5_AUTO;
    o->head = NULL;
    o->conv = VGGCL_CONV_AUTO;
    o->features_only = 0;
}

vggcl_status vggcl__load_options_check(vggcl_ctx *ctx, const vggcl_load_options *o)
{
    if (o && o->pool5 != VGGCL_POOL5_AUTO && o->pool5 != VGGCL_POOL5_KEEP && o->pool5 != VGGCL_POOL5_DROP)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "load options: pool5 %d; expected VGGCL_POOL5_AUTO, KEEP or DROP%s",
                           o->pool5, o->pool5 == -1 ? " (-1 was AUTO before vggcl 0.3: a program or Python module made "
                                                      "for 0.2 given this library? build or install it again from this "
                                                      "version)" : "");
    if (o && o->conv && !vggcl__conv_algo(o->conv))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "load options: no convolution algorithm %d", o->conv);
    if (o && o->features_only != 0 && o->features_only != 1) /* (as draft is: a field left unset is said) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "load options: features_only %d; expected 0 or 1", o->features_only);
    if (o && o->conv && ctx->use_ref && ctx->log && !ctx->told_ref_conv) { /* (not an error: the answers are the same) */
        char msg[160];
        snprintf(msg, sizeof msg, "convolution algorithm %s not used: the plain-C reference has one way",
                 vggcl__conv_algo(o->conv)->name);
        ctx->told_ref_conv = 1;
        ctx->log(ctx->log_user, msg);
    }
    return VGGCL_OK;
}

vggcl_status vggcl_model_load(vggcl_ctx *ctx, const char *path, const vggcl_load_options *opts,
                              vggcl_model **out)
{
    vggcl__st_file f;
    vggcl_model *m = NULL;
    vggcl_status st;
    if (out) *out = NULL; /* (also without a context: a caller's vggcl_model_free of it is safe) */
    if (!ctx) return VGGCL_ERR_ARG;
    VGGCL_NEED(ctx, "vggcl_model_load", out);
    VGGCL_NEED(ctx, "vggcl_model_load", path); /* (before the device: a NULL path was said to want one) */
    if (!ctx->selected)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "select a device (vggcl_select_device) before loading a model");
    if (!ctx->use_ref && (st = vggcl__fork_check(ctx)) != VGGCL_OK) return st; /* (a parent's context) */
    if ((st = vggcl__load_options_check(ctx, opts)) != VGGCL_OK) return st;
    st = vggcl__st_open(ctx, path, &f);
    if (st != VGGCL_OK) return st;
    m = calloc(1, sizeof *m);
    if (!m) { st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path); goto fail; }
    m->ctx = ctx, ctx->models++;
    if (!(m->path = strdup(path))) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
        goto fail;
    }
    int pool5 = opts ? opts->pool5 : VGGCL_POOL5_AUTO, said, listed;
    const char *ceil = vggcl__st_meta(&f, "vggcl.pool_ceil");
    /* (checked whatever the option says: cam --compare-pool5, which gives both, read a "maybe" there as keep) */
    if ((st = pool5_of(ctx, path, vggcl__st_meta(&f, "vggcl.pool5"), &said)) != VGGCL_OK ||
        (st = pool_ceil_of(ctx, path, ceil, &m->pool_ceil, &listed)) != VGGCL_OK)
        goto fail;
    pool5 = pool5 == VGGCL_POOL5_AUTO ? said : pool5 == VGGCL_POOL5_KEEP; /* (from here: 1 kept, 0 dropped) */
    if ((st = build_features(ctx, &f, pool5, m)) != VGGCL_OK) goto fail;
    int pools = 1; /* the max pools the list may name: those inside the features, and pool5 (kept or dropped: a
                    * head trained without it, on a trunk whose list names it, keeps the trunk's list) */
    for (int i = 0; i < m->n_steps; i++) pools += m->steps[i].kind == VGGCL_STEP_POOL;
    pools -= pool5 != 0;
    if (listed > pools) { /* (a list written for another network) */
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.pool_ceil\" is \"%s\": %d values, one a max "
                         "pool, for a network of %d max pools (pool5 among them)", path, ceil, listed, pools);
        goto fail;
    }
    if (!(opts && opts->features_only) &&
        (st = build_head(ctx, &f, opts && opts->head ? opts->head : "classifier.0", m)) != VGGCL_OK)
        goto fail;
    if ((st = take_metadata(ctx, &f, m)) != VGGCL_OK ||
        (st = input_size_of(ctx, path, vggcl_model_metadata(m, "vggcl.input_size"), &m->fixed_h, &m->fixed_w)) !=
            VGGCL_OK)
        goto fail;
    /* (a GAP head takes any size its trunk does; a --pool5 other than the file's is another network, said) */
    if (!m->pool_to || pool5 != said) m->fixed_h = m->fixed_w = 0;
    int gh, gw;
    if (m->fixed_h && !vggcl__plan_out_size(m, m->fixed_h, m->fixed_w, &gh, &gw, NULL)) { /* (the check was off) */
        const int min = vggcl_model_min_input(m);
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.input_size\" is \"%s\", a size this "
                         "network cannot take (at least %dx%d): not the size of the graph it was imported from", path,
                         vggcl_model_metadata(m, "vggcl.input_size"), min, min);
        goto fail;
    }
    int ph, pw, odd; /* (a size each pass would refuse: it loaded) */
    if (m->fixed_h && (odd = vggcl__ceil_pool_odd(m, m->fixed_h, m->fixed_w, &ph, &pw)) >= 0) {
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"vggcl.input_size\" is \"%s\", a size at which "
                         "layer %s gets a %dx%d map, which it rounds up (\"vggcl.pool_ceil\"): vggcl runs such a model "
                         "where those maps are even, as at a multiple of %d, so not at the one size its head takes",
                         path, vggcl_model_metadata(m, "vggcl.input_size"), m->steps[odd].name, ph, pw,
                         vggcl_model_size_multiple(m));
        goto fail;
    }
    if (!ctx->use_ref && (st = vggcl__model_upload(ctx, m, opts ? opts->conv : VGGCL_CONV_AUTO)) != VGGCL_OK) goto fail;
    vggcl__st_close(&f);
    *out = m;
    return VGGCL_OK;
fail:
    vggcl__st_close(&f);
    vggcl_model_free(m);
    return st;
}

void vggcl_model_free(vggcl_model *m)
{
    if (!m) return;
    vggcl__flight_drop(m); /* passes still in flight write into the buffers below */
    char where[160];
    for (int i = 0; i < m->n_steps; i++) {
        snprintf(where, sizeof where, "freeing the model: layer %s", m->steps[i].name);
        free(m->steps[i].weight);
        free(m->steps[i].bias);
        for (int id = 0; id < VGGCL_CONV_ALGOS; id++)
            for (int v = 0; v < VGGCL_CONV_VARIANTS; v++) vggcl__release(m->ctx, where, &m->steps[i].packed[id][v]);
        vggcl__release(m->ctx, where, &m->steps[i].bias_dev);
    }
    free(m->steps);
    free(m->head_w);
    free(m->head_b);
    for (int i = 0; i < m->n_meta; i++) free(m->meta_keys[i]), free(m->meta_values[i]);
    free(m->meta_keys);
    free(m->meta_values);
    for (int i = 0; m->class_names && i < m->classes; i++) free(m->class_names[i]);
    free(m->class_names);
    for (int i = 0; i < VGGCL_MAX_HIDDEN; i++) {
        free(m->hidden_w[i]);
        free(m->hidden_b[i]);
        snprintf(where, sizeof where, "freeing the model: layer %s", m->hidden_name[i]);
        vggcl__release(m->ctx, where, &m->hidden_w_dev[i]);
        vggcl__release(m->ctx, where, &m->hidden_b_dev[i]);
    }
    snprintf(where, sizeof where, "freeing the model: layer %s", m->head_name);
    vggcl__release(m->ctx, where, &m->head_w_dev);
    vggcl__release(m->ctx, where, &m->head_b_dev);
    snprintf(where, sizeof where, "freeing the model: the passes' input, maps and outputs");
    vggcl__release(m->ctx, where, &m->input[0]);
    vggcl__release(m->ctx, where, &m->input[1]);
    vggcl__release(m->ctx, where, &m->act[0]);
    vggcl__release(m->ctx, where, &m->act[1]);
    vggcl__release(m->ctx, where, &m->gap_partial);
    vggcl__release(m->ctx, where, &m->feat_dev);
    vggcl__release(m->ctx, where, &m->logits_dev);
    vggcl__release(m->ctx, where, &m->conv_ws[0]);
    vggcl__release(m->ctx, where, &m->conv_ws[1]);
    free(m->path);
    vggcl_ctx *ctx = m->ctx;
    free(m);
    if (ctx && --ctx->models == 0 && ctx->closing) vggcl__ctx_release(ctx); /* (freed before its models) */
}

int vggcl_model_classes(const vggcl_model *m) { return m ? m->classes : 0; }
int vggcl_model_features(const vggcl_model *m) { return m ? m->features : 0; }
int vggcl_model_pool5(const vggcl_model *m) { return m ? m->pool5 : 0; }

const char *vggcl_model_metadata(const vggcl_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->n_meta; i++)
        if (!strcmp(m->meta_keys[i], key)) return m->meta_values[i];
    return NULL;
}

const char *vggcl_model_class_name(const vggcl_model *m, int c)
{
    return m && m->class_names && c >= 0 && c < m->classes ? m->class_names[c] : NULL;
}

void vggcl__step_size(const vggcl_step *s, int *h, int *w)
{
    if (s->kind != VGGCL_STEP_POOL) return;
    *h = vggcl__pool_out_size(*h, s->kernel_size, s->stride, s->padding, s->ceil_mode);
    *w = vggcl__pool_out_size(*w, s->kernel_size, s->stride, s->padding, s->ceil_mode);
}

int vggcl__plan_out_size(const vggcl_model *m, int h, int w, int *oh, int *ow, int *bad_step)
{
    for (int i = 0; i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind != VGGCL_STEP_POOL) continue; /* (a pool's window is what an input can be too small for) */
        int nh = h, nw = w;
        vggcl__step_size(s, &nh, &nw);
        if (nh < 1 || nw < 1) {
            if (bad_step) *bad_step = i;
            *oh = h;
            *ow = w;
            return 0;
        }
        h = nh;
        w = nw;
    }
    *oh = h;
    *ow = w;
    return 1;
}

int vggcl_model_fixed_size(const vggcl_model *m, int *h, int *w)
{
    int fh = m ? m->fixed_h : 0, fw = m ? m->fixed_w : 0;
    if (h) *h = fh;
    if (w) *w = fw;
    return fh > 0;
}

int vggcl__fixed_map_other(const vggcl_model *m, int h, int w, int *mh, int *mw)
{
    int gh, gw;
    return m->fixed_h && vggcl__plan_out_size(m, h, w, mh, mw, NULL) &&
           vggcl__plan_out_size(m, m->fixed_h, m->fixed_w, &gh, &gw, NULL) && (*mh != gh || *mw != gw);
}

int vggcl_model_min_input(const vggcl_model *m)
{
    int pools = 0;
    for (int i = 0; m && i < m->n_steps; i++) pools += m->steps[i].kind == VGGCL_STEP_POOL;
    return pools > 30 ? INT_MAX : 1 << pools; /* (past 16 pools no input is taken: VGGCL_MAX_SIDE) */
}

/* Of the model's convolutions in a pass of n images of h x w: how many a tuning table's row gave other values than
 * the defaults (returned), how many took a row at all (*rows), and how many there are (*convs). */
static int table_layers(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int *rows, int *convs)
{
    int tuned = 0, from_row = 0, count = 0;
    for (int i = 0; m && n > 0 && h > 0 && w > 0 && i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_CONV) {
            vggcl_conv_choice c = { 0 };
            count++;
            tuned += ctx && ctx == m->ctx && !ctx->use_ref && vggcl__conv_choose(ctx, m, i, n, h, w, &c);
            from_row += c.from_row;
        } else {
            vggcl__step_size(s, &h, &w);
        }
    }
    if (rows) *rows = from_row;
    if (convs) *convs = count;
    return tuned;
}

int vggcl_model_tuned_layers(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, int *convs)
{
    return table_layers(ctx, m, n, h, w, NULL, convs);
}

/* Why a pass of m at h x w takes none of the context's rows, into note: the inputs its rows for m's layers stand for
 * (a row at one layer's map: the input that gives that map there), else that they are of other algorithms than the
 * one forced, else that they are of other layers. */
static void table_unused(const vggcl_ctx *ctx, const vggcl_model *m, int h, int w, char *note, size_t len)
{
    enum { LISTED = 4 };
    int seen[LISTED][2], listed = 0, more = 0, other_algo = 0, lh = h, lw = w;
    char sizes[LISTED * 24 + 16] = "", why[sizeof sizes + 160];
    for (int i = 0; i < m->n_steps && lh > 0 && lw > 0; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind != VGGCL_STEP_CONV) {
            vggcl__step_size(s, &lh, &lw);
            continue;
        }
        for (int k = 0; k < ctx->n_tuned; k++) {
            const vggcl_tuned *t = &ctx->tuned[k];
            if (t->c_in != s->c_in || t->c_out != s->c_out) continue;
            if (m->conv && t->algo != m->conv) { /* (a forced algorithm takes its own rows alone) */
                other_algo = 1;
                continue;
            }
            const int ih = (int)lround((double)t->h * h / lh), iw = (int)lround((double)t->w * w / lw);
            int j = 0;
            while (j < listed && (seen[j][0] != ih || seen[j][1] != iw)) j++;
            if (j < listed) continue;
            if (listed == LISTED) {
                more++;
                continue;
            }
            seen[listed][0] = ih, seen[listed][1] = iw;
            const size_t at = strlen(sizes);
            snprintf(sizes + at, sizeof sizes - at, "%s%dx%d", listed++ ? ", " : "", ih, iw);
        }
    }
    if (more) {
        const size_t at = strlen(sizes);
        snprintf(sizes + at, sizeof sizes - at, " and %d more", more);
    }
    if (listed)
        snprintf(why, sizeof why, "its rows for the model's layers are of inputs of %s; `vggcl tune --size %dx%d` "
                 "makes rows for this size", sizes, h, w);
    else if (other_algo)
        snprintf(why, sizeof why, "its rows for the model's layers are of other algorithms than %s, the one forced",
                 vggcl__conv_algo(m->conv)->name);
    else
        snprintf(why, sizeof why, "its rows are of other layers than the model's: another model's");
    snprintf(note, len, "the tuning table %s: no row fits this model at %dx%d (%s): its convolutions run the defaults",
             ctx->tune_path, h, w, why);
}

int vggcl_model_table_layers(const vggcl_ctx *ctx, const vggcl_model *m, int n, int h, int w, char *note, size_t len)
{
    int rows;
    if (note && len) *note = '\0';
    table_layers(ctx, m, n, h, w, &rows, NULL);
    if (!rows && note && len && ctx && m && ctx == m->ctx && !ctx->use_ref && ctx->n_tuned && n > 0 && h > 0 && w > 0)
        table_unused(ctx, m, h, w, note, len);
    return rows;
}

double vggcl_model_flops(const vggcl_model *m, int n, int h, int w)
{
    double flops = 0;
    int mh = 0, mw = 0;
    if (n < 1 || h < 1 || w < 1) return 0;
    vggcl_model_map_size(m, h, w, &mh, &mw); /* (a size the model does not take: none; 1x1 counted 432) */
    if (!mh) return 0;
    for (int i = 0; m && i < m->n_steps; i++) {
        const vggcl_step *s = &m->steps[i];
        if (s->kind == VGGCL_STEP_CONV) flops += 2.0 * n * s->c_out * s->c_in * 9 * (double)h * w;
        vggcl__step_size(s, &h, &w);
    }
    return flops;
}
