/* Models with deterministic random weights for torchvision's VGG
 * configurations, so benchmarks need no weights file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* torchvision's cfgs A, B, D, E; 0 is a max pool. */
static const struct { const char *name; int cfg[24]; int len; } archs[] = {
    { "vgg11", { 64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0 }, 13 },
    { "vgg13", { 64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0 }, 15 },
    { "vgg16", { 64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0 }, 18 },
    { "vgg19", { 64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0 }, 21 },
};

/* Uniform in [-scale, scale) from a 64-bit LCG. */
static void fill(float *a, size_t n, unsigned long long *state, float scale)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = scale * (float)((double)(*state >> 11) / 4503599627370496.0 - 1.0);
    }
}

vggcl_status vggcl_model_random(vggcl_ctx *ctx, const char *arch, int classes, unsigned seed,
                                const vggcl_load_options *opts, vggcl_model **out)
{
    const int pool5 = !opts || opts->pool5 != VGGCL_POOL5_DROP;
    int a = -1;
    if (out) *out = NULL; /* (also without a context: a caller's vggcl_model_free of it is safe) */
    if (!ctx) return VGGCL_ERR_ARG;
    VGGCL_NEED(ctx, "vggcl_model_random", out);
    VGGCL_NEED(ctx, "vggcl_model_random", arch);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(arch, archs[i].name)) a = (int)i;
    if (a < 0) return vggcl__fail(ctx, VGGCL_ERR_ARG, "unknown architecture '%s': vgg11, vgg13, vgg16 or vgg19", arch);
    if (classes < 1 || classes > VGGCL_MAX_OUTPUTS) /* (INT_MAX was tried, said as out of host memory) */
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "classes must be 1 to %d, not %d", VGGCL_MAX_OUTPUTS, classes);
    vggcl_status st = vggcl__load_options_check(ctx, opts);
    if (st != VGGCL_OK) return st;
    if (!ctx->selected) return vggcl__fail(ctx, VGGCL_ERR_ARG, "select a device before making a model");
    if (!ctx->use_ref && vggcl__forked()) return vggcl__fork_check(ctx); /* (a parent's context) */
    vggcl_model *m = calloc(1, sizeof *m);
    unsigned long long state = 0x5DEECE66Dull ^ ((unsigned long long)seed << 17);
    if (!m || !(m->steps = calloc((size_t)archs[a].len, sizeof *m->steps))) goto nomem;
    m->ctx = ctx, ctx->models++;
    int c_in = 3, idx = 0;
    for (int i = 0; i < archs[a].len; i++) {
        const int c = archs[a].cfg[i];
        if (c == 0) {
            if (i + 1 < archs[a].len || pool5) {
                vggcl__plan_add_pool(&m->steps[m->n_steps], m->steps[m->n_steps - 1].name);
                m->n_steps++;
            }
            idx++;
            continue;
        }
        vggcl_step *s = &m->steps[m->n_steps++];
        s->kind = VGGCL_STEP_CONV;
        snprintf(s->name, sizeof s->name, "features.%d", idx);
        s->c_in = c_in;
        s->c_out = c;
        s->weight = malloc((size_t)c * c_in * 9 * sizeof(float));
        s->bias = malloc((size_t)c * sizeof(float));
        if (!s->weight || !s->bias) goto nomem;
        fill(s->weight, (size_t)c * c_in * 9, &state, (float)sqrt(6.0 / (c_in * 9)));
        fill(s->bias, (size_t)c, &state, 0.05f);
        c_in = c;
        idx += 2;
    }
    m->pool5 = pool5 != 0;
    m->features = c_in;
    m->classes = classes;
    m->head_in = c_in;
    snprintf(m->head_name, sizeof m->head_name, "classifier.0");
    m->head_w = malloc((size_t)classes * c_in * sizeof(float));
    m->head_b = malloc((size_t)classes * sizeof(float));
    if (!m->head_w || !m->head_b) goto nomem;
    fill(m->head_w, (size_t)classes * c_in, &state, (float)(1.0 / sqrt(c_in)));
    fill(m->head_b, (size_t)classes, &state, 0.1f);
    if (!ctx->use_ref && (st = vggcl__model_upload(ctx, m, opts ? opts->conv : VGGCL_CONV_AUTO)) != VGGCL_OK)
        goto fail;
    *out = m;
    return VGGCL_OK;
nomem:
    st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
fail:
    vggcl_model_free(m);
    return st;
}
