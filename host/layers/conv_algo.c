/* The algorithm table and what is done with any entry: defaults, -D options,
 * the text form of parameters, and the candidates the tuner walks. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_algo.h"
#include "layers.h"

extern const vggcl_conv_algo vggcl__conv_direct, vggcl__conv_winograd, vggcl__conv_gemm, vggcl__conv_winograd_gpu,
    vggcl__conv_winograd_packed;

static const vggcl_conv_algo *const table[VGGCL_CONV_ALGOS] = {
    [VGGCL_CONV_DIRECT] = &vggcl__conv_direct,
    [VGGCL_CONV_WINOGRAD] = &vggcl__conv_winograd,
    [VGGCL_CONV_GEMM] = &vggcl__conv_gemm,
    [VGGCL_CONV_WINOGRAD_GPU] = &vggcl__conv_winograd_gpu,
    [VGGCL_CONV_WINOGRAD_PACKED] = &vggcl__conv_winograd_packed,
};

const vggcl_conv_algo *vggcl__conv_algo(int id)
{
    return id > 0 && id < VGGCL_CONV_ALGOS ? table[id] : NULL;
}

int vggcl__conv_algo_id(const char *name)
{
    for (int id = 1; id < VGGCL_CONV_ALGOS; id++)
        if (!strcmp(table[id]->name, name)) return id;
    return 0;
}

int vggcl_conv_algorithm(const char *name)
{
    return name ? vggcl__conv_algo_id(name) : 0;
}

int vggcl__narrow_vectors(const vggcl_ctx *ctx)
{
    return ctx->is_cpu && ctx->vector_floats < 16;
}

int vggcl__conv_default_algo(const vggcl_ctx *ctx, int c_in, int c_out)
{
    /* On a GPU the GPU-shaped Winograd everywhere (its GEMM pads C_in to 32,
     * cheap beside the rest on a large device). Elsewhere (CPUs: PoCL) Winograd;
     * with NCHW maps it paid from 16 input channels on, VGG16 at 224, ms direct / Winograd:
     * 3->64 1.6 / 3.2, 64->64 19.3 / 15.7, 64->128 11.2 / 6.8, 128->128 23 / 11.3,
     * 256->256 29 / 7.0, 512->512 @28 32.6 / 7.3, @14 8.8 / 2.9. Of the two
     * Winograd layouts, the channel-packed one where it runs as one pass (up to
     * 256 channels in and out), NCHW above: `vggcl tune`, 2026-11-30, VGG16 at
     * 224, ms NCHW / packed at batch 1 and 8: 64->64 9.0 / 6.2, 62 / 47; 64->128
     * 3.8 / 2.9, 27 / 22; 128->128 6.2 / 5.1, 47 / 41; 128->256 3.2 / 2.5, 25 / 20;
     * 256->256 7.8 / 6.3, 48 / 41; the 512-channel layers level or NCHW ahead.
     * The first layer packed too (its 3 channels padded to 16): direct and then
     * converting its output to the packed layout took as long (whole network,
     * paired: 1.02x the time at batch 1; so did the direct kernel writing the
     * packed layout itself, 1.00x). Where the device's local memory cannot hold a
     * layer's one pass (PoCL's 512 KiB, 256 channels), the packed two passes:
     * level with NCHW's (`vggcl tune`, 2026-12-03, AMD EPYC, 256->256 at 56x56,
     * batch 8: 147 / 142 ms). On a CPU of 8-float vectors (AVX2), whose NCHW GEMM's
     * 16 float16 accumulators spill, the packed layout everywhere, with its smaller
     * blocks there (layer_winograd_packed.c): the six 512-channel layers and the
     * conversion before them took 0.73x the time at batch 1, 0.97x at batch 8
     * (2026-12-04, AMD EPYC, paired per-layer profiles, 5 and 3 rounds). */
    /* Each in turn where the device's limits leave it no valid parameters (a CPU runtime with 32 KiB
     * of local memory, a GPU with work-groups of 64): the direct kernel runs everywhere. */
    const int packed = (c_in <= VGGCL_PACKED_ONE_PASS_MAX_C && c_out <= VGGCL_PACKED_ONE_PASS_MAX_C) ||
                       vggcl__narrow_vectors(ctx);
    const int prefs[] = { ctx->is_gpu ? VGGCL_CONV_WINOGRAD_GPU : packed ? VGGCL_CONV_WINOGRAD_PACKED : 0,
                          !ctx->is_gpu && c_in >= 16 ? VGGCL_CONV_WINOGRAD : 0 };
    for (size_t i = 0; i < sizeof prefs / sizeof prefs[0]; i++)
        if (prefs[i] && vggcl__conv_fits(ctx, prefs[i], c_in, c_out)) return prefs[i];
    return VGGCL_CONV_DIRECT;
}

/* The combination after idx of a's tunables' values (odometer style); 0 when it wraps round. */
static int next_combination(const vggcl_conv_algo *a, int *idx)
{
    for (int i = 0; i < a->tunable_count; i++) {
        if (++idx[i] < vggcl__tunable_values(&a->tunables[i])) return 1;
        idx[i] = 0;
    }
    return 0;
}

static void combination(const vggcl_conv_algo *a, const int *idx, vggcl_conv_params *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->tunable_count; i++) p->v[i] = a->tunables[i].values[idx[i]];
}

/* Defaults beyond the device's limits: the valid candidate with their weight layout that changes the
 * fewest of them (the first such); p stays as it is when there is none. */
static void fit_device(const vggcl_ctx *ctx, const vggcl_conv_algo *a, int C_in, int C_out, vggcl_conv_params *p)
{
    int idx[VGGCL_MAX_TUNABLES] = { 0 }, best = a->tunable_count + 1;
    const int layout = vggcl__conv_variant(a, p);
    vggcl_conv_params q, found = *p;
    do {
        combination(a, idx, &q);
        if (vggcl__conv_variant(a, &q) != layout || !a->valid(ctx, &q, C_in, C_out)) continue;
        int changed = 0;
        for (int i = 0; i < a->tunable_count; i++) changed += q.v[i] != p->v[i];
        if (changed < best) best = changed, found = q;
    } while (next_combination(a, idx));
    *p = found;
}

void vggcl__conv_defaults(const vggcl_ctx *ctx, int id, int N, int C_in, int C_out, int H, int W,
                          vggcl_conv_params *p)
{
    const vggcl_conv_algo *a = table[id];
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->tunable_count; i++) p->v[i] = a->tunables[i].def;
    if (a->defaults) a->defaults(ctx, N, C_in, C_out, H, W, p);
    vggcl__conv_fit(ctx, id, C_in, C_out, p);
}

int vggcl__conv_valid(const vggcl_ctx *ctx, int id, const vggcl_conv_params *p, int C_in, int C_out)
{
    const vggcl_conv_algo *a = table[id];
    return !a->valid || a->valid(ctx, p, C_in, C_out);
}

void vggcl__conv_fit(const vggcl_ctx *ctx, int id, int C_in, int C_out, vggcl_conv_params *p)
{
    if (!vggcl__conv_valid(ctx, id, p, C_in, C_out)) fit_device(ctx, table[id], C_in, C_out, p);
}

int vggcl__conv_fits(const vggcl_ctx *ctx, int id, int c_in, int c_out)
{
    vggcl_conv_params p;
    /* (the defaults' weight layout, and so whether one of its candidates is valid, does not depend on
     * the batch or the map size) */
    vggcl__conv_defaults(ctx, id, 1, c_in, c_out, 1, 1, &p);
    return vggcl__conv_valid(ctx, id, &p, c_in, c_out);
}

int vggcl__conv_tunable(int id, const char *name)
{
    const vggcl_conv_algo *a = table[id];
    for (int i = 0; i < a->tunable_count; i++)
        if (!strcmp(a->tunables[i].name, name)) return i;
    return -1;
}

/* prog >= 0: only the tunables that program reads (its build options); -1: all of them */
static void params_text(int id, const vggcl_conv_params *p, const char *prefix, int prog, char *buf, size_t len)
{
    const vggcl_conv_algo *a = table[id];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < a->tunable_count && used < len; i++) {
        const unsigned programs = a->tunables[i].programs;
        if (prog >= 0 && programs && !(programs & VGGCL_PROG_BIT(prog))) continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s%s=%d", used ? " " : "", prefix, a->tunables[i].name,
                                 p->v[i]);
    }
}

void vggcl__conv_defines(int id, const vggcl_conv_params *p, int prog, char *buf, size_t len)
{
    params_text(id, p, "-D", prog, buf, len);
}

void vggcl__conv_params_str(int id, const vggcl_conv_params *p, char *buf, size_t len)
{
    params_text(id, p, "", -1, buf, len);
}

void vggcl__conv_launch_key(int id, const vggcl_conv_params *p, int C_in, int C_out, int H, int W, char *buf,
                            size_t len)
{
    const vggcl_conv_algo *a = table[id];
    if (!a->program) {
        params_text(id, p, "", -1, buf, len);
        return;
    }
    const int prog = a->program(p, C_in, C_out, H, W);
    const int used = snprintf(buf, len, "%d ", prog);
    if (used >= 0 && (size_t)used < len) params_text(id, p, "-D", prog, buf + used, len - (size_t)used);
}

int vggcl__tunable_values(const vggcl_tunable *t)
{
    int k = 1;
    while (k < 8 && t->values[k] > t->values[k - 1]) k++;
    return k;
}

static int in_range(const vggcl_tunable *t, int v)
{
    for (int k = 0; k < vggcl__tunable_values(t); k++)
        if (t->values[k] == v) return 1;
    return 0;
}

int vggcl__conv_params_parse(int id, const char *text, vggcl_conv_params *p)
{
    char word[64];
    int used;
    unsigned given = 0; /* (a tunable given twice: the first did nothing, unsaid) */
    while (sscanf(text, " %63s%n", word, &used) == 1) {
        text += used;
        char *eq = strchr(word, '=');
        if (!eq) return 0;
        *eq = '\0';
        char *end;
        long v = strtol(eq + 1, &end, 10);
        const int i = vggcl__conv_tunable(id, word);
        if (i < 0 || *end || end == eq + 1 || v < INT_MIN || v > INT_MAX ||
            !in_range(&table[id]->tunables[i], (int)v) || (given & 1u << i))
            return 0;
        p->v[i] = (int)v, given |= 1u << i;
    }
    return 1;
}

int vggcl__conv_candidates(const vggcl_ctx *ctx, int id, int C_in, int C_out, vggcl_conv_params *out, int cap)
{
    const vggcl_conv_algo *a = table[id];
    int idx[VGGCL_MAX_TUNABLES] = { 0 }, n = 0;
    do {
        vggcl_conv_params p;
        combination(a, idx, &p);
        if (vggcl__conv_valid(ctx, id, &p, C_in, C_out)) {
            if (out && n < cap) out[n] = p;
            n++;
        }
    } while (next_combination(a, idx));
    return n;
}
