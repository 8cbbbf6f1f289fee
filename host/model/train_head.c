/* Training a GAP head on the host: multinomial logistic regression (the
 * Linear(D, C) head, softmax cross-entropy, L2 on the weights) by minibatch
 * SGD with momentum on standardized features, in double precision,
 * deterministic for a seed. The standardization is folded into the weights
 * returned, so they apply to the raw features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void vggcl_train_defaults(vggcl_train_options *o)
{
    if (!o) return;
    o->epochs = 30;
    o->batch = 32;
    o->lr = 0.1;
    o->momentum = 0.9;
    o->l2 = 1e-4;
    o->seed = 0;
    o->on_epoch = NULL;
    o->user = NULL;
}

/* splitmix64: the shuffling generator (tests/test_train_head.py has a copy). */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Softmax probabilities of one standardized sample into p; returns the loss
 * -log p[label] (label < 0: none), as log-sum-exp less the label's score, as
 * torch's cross-entropy (no floor: a diverging head's loss grows with it). */
static double predict(const double *w, const double *b, const double *z, int d, int classes, int label, double *p)
{
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < classes; c++) {
        double s = b[c];
        for (int j = 0; j < d; j++) s += w[(size_t)c * d + j] * z[j];
        p[c] = s;
        mx = s > mx ? s : mx;
    }
    const double label_score = label >= 0 ? p[label] : 0;
    for (int c = 0; c < classes; c++) sum += p[c] = exp(p[c] - mx);
    for (int c = 0; c < classes; c++) p[c] /= sum;
    return label >= 0 ? log(sum) + mx - label_score : 0;
}

static int argmax(const double *p, int classes)
{
    int k = 0;
    for (int c = 1; c < classes; c++)
        if (p[c] > p[k]) k = c;
    return k;
}

/* Mean loss and accuracy of (w, b) over n standardized samples (NaN accuracy where the scores are not
 * finite: no class is then predicted). */
static void score(const double *w, const double *b, const double *z, const int *y, int n, int d, int classes,
                  double *p, double *loss, double *acc)
{
    double l = 0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        l += predict(w, b, z + (size_t)i * d, d, classes, y[i], p);
        right += argmax(p, classes) == y[i];
    }
    *loss = n ? l / n : 0;
    *acc = !isfinite(l) ? NAN : n ? (double)right / n : 0;
}

static void standardize(const float *x, int n, int d, const double *mean, const double *sd, double *z)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) z[(size_t)i * d + j] = ((double)x[(size_t)i * d + j] - mean[j]) / sd[j];
}

vggcl_status vggcl_train_head(vggcl_ctx *ctx, const float *x, const int *y, int n, int d, int classes, const float *xv,
                              const int *yv, int nv, const vggcl_train_options *o, float *w_out, float *b_out,
                              vggcl_train_epoch *log, int *best_epoch)
{
    VGGCL_NEED_CTX(ctx);
    if (!x || !y || !o || !w_out || !b_out || (nv > 0 && (!xv || !yv)))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "vggcl_train_head: %s is NULL", !x ? "x" : !y ? "y" : !o ? "opts"
                                                                          : !w_out ? "w" : !b_out ? "b" : !xv ? "x_val"
                                                                                                   : "y_val");
    if (nv < 0) /* (said apart: the message below names the training samples and the options) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "training a head: %d validation samples; expected 0 or more", nv);
    if (n < 1 || d < 1 || classes < 2 || o->epochs < 1 || o->batch < 1 || !(o->lr > 0) ||
        !isfinite(o->lr) || !(o->momentum >= 0 && o->momentum < 1) || !(o->l2 >= 0) || !isfinite(o->l2))
        return vggcl__fail(ctx, VGGCL_ERR_ARG,
                           "training a head: %d samples of %d features, %d classes, %d epochs, batch %d, lr %g, "
                           "momentum %g, l2 %g: expected at least 1 sample and 2 classes, epochs and batch >= 1, "
                           "finite lr > 0, 0 <= momentum < 1, finite l2 >= 0", n, d, classes, o->epochs, o->batch,
                           o->lr, o->momentum, o->l2);
    for (long long i = 0; i < (long long)n + nv; i++) { /* (n + nv past an int: undefined, labels unchecked) */
        const float *row = i < n ? x + (size_t)i * d : xv + (size_t)(i - n) * d;
        for (int j = 0; j < d; j++)
            if (!isfinite(row[j]))
                return vggcl__fail(ctx, VGGCL_ERR_ARG, "training a head: %s sample %d's feature %d is %g; expected "
                                   "finite features", i < n ? "training" : "validation", (int)(i < n ? i : i - n), j, row[j]);
        const int label = i < n ? y[i] : yv[i - n];
        if (label < 0 || label >= classes)
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "training a head: %s sample %d has label %d; expected 0 to %d",
                               i < n ? "training" : "validation", (int)(i < n ? i : i - n), label, classes - 1);
    }
    const size_t wn = (size_t)classes * d;
    double *mean = calloc((size_t)d, sizeof *mean), *sd = calloc((size_t)d, sizeof *sd);
    double *z = malloc(sizeof *z * (size_t)n * d), *zv = malloc(sizeof *zv * ((size_t)nv * d + 1));
    double *w = calloc(wn, sizeof *w), *b = calloc((size_t)classes, sizeof *b);
    double *vw = calloc(wn, sizeof *vw), *vb = calloc((size_t)classes, sizeof *vb);
    double *gw = malloc(sizeof *gw * wn), *gb = malloc(sizeof *gb * (size_t)classes);
    double *bw = calloc(wn, sizeof *bw), *bb = calloc((size_t)classes, sizeof *bb);
    double *p = malloc(sizeof *p * (size_t)classes);
    int *order = malloc(sizeof *order * (size_t)n);
    vggcl_status st = VGGCL_OK;
    if (!mean || !sd || !z || !zv || !w || !b || !vw || !vb || !gw || !gb || !bw || !bb || !p || !order) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory training a head on %d x %d features", n, d);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            const double t = x[(size_t)i * d + j] - mean[j];
            sd[j] += t * t;
        }
    /* A feature whose spread is within a millionth of its mean (float32 rounding: some ulps) is constant: its z is 0
     * (sd infinite), so its weight stays 0; scaled up, it would train on rounding. The rule is relative, so features
     * of any scale train alike. */
    for (int j = 0; j < d; j++) {
        const double s = sqrt(sd[j] / n);
        sd[j] = s > 1e-6 * fabs(mean[j]) ? s : INFINITY;
    }
    standardize(x, n, d, mean, sd, z);
    standardize(xv, nv, d, mean, sd, zv);

    uint64_t rng = o->seed;
    double best_acc = -1, best_loss = INFINITY;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int e = 0; e < o->epochs; e++) {
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates over the previous epoch's order */
            const int j = (int)(next_random(&rng) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        for (int s = 0; s < n; s += o->batch) {
            const int m = n - s < o->batch ? n - s : o->batch;
            memset(gw, 0, sizeof *gw * wn);
            memset(gb, 0, sizeof *gb * (size_t)classes);
            for (int k = 0; k < m; k++) {
                const int i = order[s + k];
                const double *zi = z + (size_t)i * d;
                predict(w, b, zi, d, classes, -1, p);
                p[y[i]] -= 1;
                for (int c = 0; c < classes; c++) {
                    gb[c] += p[c];
                    for (int j = 0; j < d; j++) gw[(size_t)c * d + j] += p[c] * zi[j];
                }
            }
            /* torch.optim.SGD's update: g += l2 * w (weights only); v = momentum * v + g; w -= lr * v */
            for (size_t k = 0; k < wn; k++) {
                vw[k] = o->momentum * vw[k] + gw[k] / m + o->l2 * w[k];
                w[k] -= o->lr * vw[k];
            }
            for (int c = 0; c < classes; c++) {
                vb[c] = o->momentum * vb[c] + gb[c] / m;
                b[c] -= o->lr * vb[c];
            }
        }
        vggcl_train_epoch r = { e + 1, 0, 0, 0, 0 };
        score(w, b, z, y, n, d, classes, p, &r.train_loss, &r.train_acc);
        if (nv) score(w, b, zv, yv, nv, d, classes, p, &r.val_loss, &r.val_acc);
        if (log) log[e] = r;
        /* the best epoch: highest validation accuracy, then lowest validation loss; without a validation set,
         * the lowest training objective, what SGD minimizes: the cross-entropy plus l2 / 2 ||w||^2 (the
         * cross-entropy alone dips far below the regularized optimum's on the way there, on separable features
         * always, and that early, hardly regularized epoch was kept whatever --l2 and --epochs). An epoch whose
         * weights (as floats) or losses are not finite (diverged) is never kept. */
        double penalty = 0;
        for (size_t k = 0; !nv && k < wn; k++) penalty += w[k] * w[k];
        const double acc = nv ? r.val_acc : 0, loss = nv ? r.val_loss : r.train_loss + 0.5 * o->l2 * penalty;
        int finite = isfinite(r.train_loss) && isfinite(loss);
        for (size_t k = 0; finite && k < wn + (size_t)classes; k++) finite = isfinite((float)(k < wn ? w[k] : b[k - wn]));
        const int best = finite && (acc > best_acc || (acc == best_acc && loss < best_loss));
        if (best) {
            best_acc = acc, best_loss = loss;
            if (best_epoch) *best_epoch = e + 1;
            memcpy(bw, w, sizeof *w * wn);
            memcpy(bb, b, sizeof *b * (size_t)classes);
        }
        if (o->on_epoch && o->on_epoch(o->user, &r, best)) { /* (ended there: the epochs after it not run) */
            for (int after = e + 1; log && after < o->epochs; after++)
                log[after] = (vggcl_train_epoch){ 0, NAN, NAN, NAN, NAN };
            break;
        }
    }
    /* fold the standardization in: w' = w / sd, b' = b - w' . mean */
    for (int c = 0; c < classes; c++) {
        double bias = bb[c];
        for (int j = 0; j < d; j++) {
            const double wj = bw[(size_t)c * d + j] / sd[j];
            w_out[(size_t)c * d + j] = (float)wj;
            bias -= wj * mean[j];
        }
        b_out[c] = (float)bias;
    }
    if (best_acc < 0) /* (a learning rate too large, or features too) */
        st = vggcl__fail(ctx, VGGCL_ERR_ARG, "training a head diverged: no epoch's weights and losses are finite; "
                         "try a smaller learning rate (lr %g)%s", o->lr,
                         /* (decay alone, w' = w - lr v, v' = momentum v + l2 w: stable while lr l2 < 2 (1 + momentum)) */
                         o->lr * o->l2 > 2 * (1 + o->momentum)
                             ? " or l2 (with lr * l2 above 2 * (1 + momentum) the weight decay alone diverges)"
                             : "");
    for (size_t k = 0; st == VGGCL_OK && k < wn + (size_t)classes; k++)
        if (!isfinite(k < wn ? w_out[k] : b_out[k - wn])) /* (finite weights divided by a tiny deviation) */
            st = vggcl__fail(ctx, VGGCL_ERR_ARG, "training a head: the weights kept (epoch %d) are not finite once "
                             "the features' standardization is folded in", best_epoch ? *best_epoch : 0);
done:
    free(mean), free(sd), free(z), free(zv), free(w), free(b), free(vw), free(vb);
    free(gw), free(gb), free(bw), free(bb), free(p), free(order);
    return st;
}
