/* Timed forward passes for `vggcl bench`. */
#include <stdlib.h>

#include "model.h"

vggcl_status vggcl_benchmark(vggcl_ctx *ctx, vggcl_model *m, const float *input, int n, int h, int w, int iters,
                             double *warmup_ms, double *ms)
{
    VGGCL_NEED(ctx, "vggcl_benchmark", warmup_ms);
    VGGCL_NEED(ctx, "vggcl_benchmark", ms);
    if (iters < 1) return vggcl__fail(ctx, VGGCL_ERR_ARG, "benchmark: iterations must be >= 1");
    if (!m || n < 1) return vggcl__fail(ctx, VGGCL_ERR_ARG, "benchmark: %s", m ? "a batch of at least 1" : "no model");
    /* (the pass's shape refused first: a huge n was out of host memory for the outputs below, not a shape refused;
     * its memory is the pass's to check, which knows the input is made) */
    vggcl_status st = vggcl__check_shape(ctx, m, n, h, w, 0);
    if (st != VGGCL_OK) return st;
    /* the logits read back, or a model loaded without a head its features */
    const int width = m->classes ? m->classes : vggcl_model_features(m);
    float *out = malloc((size_t)n * (width ? width : 1) * sizeof *out);
    if (!out) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    float *logits = m->classes ? out : NULL, *features = m->classes ? NULL : out;
    double t0 = vggcl__now_ms();
    st = vggcl__forward(ctx, m, input, 0, n, h, w, logits, features, NULL);
    *warmup_ms = vggcl__now_ms() - t0;
    for (int i = 0; i < iters && st == VGGCL_OK; i++) {
        t0 = vggcl__now_ms();
        st = vggcl__forward(ctx, m, input, 1, n, h, w, logits, features, NULL);
        ms[i] = vggcl__now_ms() - t0;
    }
    free(out);
    return st;
}

void vggcl_build_info(const vggcl_ctx *ctx, double *ms, int *from_cache, int *compiled)
{
    if (ms) *ms = ctx ? ctx->build_ms : 0;
    if (from_cache) *from_cache = ctx ? ctx->cache_hits : 0;
    if (compiled) *compiled = ctx ? ctx->cache_misses : 0;
}
