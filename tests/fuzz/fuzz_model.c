/* libFuzzer harness for the model-plan builder: key names, shapes, dtypes and
 * BatchNorm layout. The input is one options byte, an optional size byte (there
 * when the byte after the options is not '{') and a safetensors header (JSON);
 * the harness lays the tensors out back to back, fills them with small values
 * and writes a well-formed file, so the fuzzer's effort goes into the plan
 * rather than the container. A plan that loads is run once on the reference
 * backend when it is small: at its least input size, or at the size byte's
 * (checked against vggcl_model_map_size: a run at a size it gives succeeds, one
 * at a size it gives 0x0 for is refused). Its trunk is then written with a new
 * head (vggcl_save_with_head, which checks the file's metadata, and with
 * options bit 5 the same pairs as the caller's), and a file written must load.
 * A broken contract aborts. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vggcl.h"

#define MAX_DATA (4u << 20)
#define MAX_TENSORS 512

/* The tensors layout() placed: where their bytes go and their dtype. */
static struct { size_t off, bytes; const char *dtype; } placed[MAX_TENSORS];
static int n_placed;

static size_t dtype_size(const char *d)
{
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16")) return 2;
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64")) return 8;
    if (!strcmp(d, "I8") || !strcmp(d, "U8") || !strcmp(d, "BOOL")) return 1;
    return 0;
}

/* Small finite values; variances (and everything else) positive or negative. */
static void fill(unsigned char *p, size_t n, const char *dtype, unsigned seed)
{
    const size_t es = dtype_size(dtype);
    for (size_t i = 0; i < n / es; i++) {
        seed = seed * 1664525u + 1013904223u;
        const float v = 0.05f + (float)(seed >> 9) / (float)(1u << 23) * 0.2f;
        if (!strcmp(dtype, "F32")) {
            memcpy(p + 4 * i, &v, 4);
        } else if (!strcmp(dtype, "BF16") || !strcmp(dtype, "F16")) {
            uint32_t bits;
            memcpy(&bits, &v, 4);
            /* bf16: the high half; f16: 0x2c00..0x33ff is 0.0625..0.25 */
            const uint16_t h = !strcmp(dtype, "BF16") ? (uint16_t)(bits >> 16) : (uint16_t)(0x2c00 + (seed >> 22));
            memcpy(p + 2 * i, &h, 2);
        } else {
            memset(p + es * i, 0, es);
        }
    }
}

/* Rewrites every tensor's data_offsets to follow the one before; returns the
 * data size, or 0 when a tensor cannot be laid out (left as the fuzzer wrote it). */
static size_t layout(cJSON *root)
{
    size_t off = 0;
    n_placed = 0;
    for (cJSON *t = root->child; t; t = t->next) {
        if (!t->string || !strcmp(t->string, "__metadata__") || !cJSON_IsObject(t)) continue;
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !dtype_size(dtype->valuestring)) continue;
        size_t bytes = dtype_size(dtype->valuestring);
        for (const cJSON *d = shape->child; d; d = d->next) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > MAX_DATA) return n_placed = 0;
            bytes *= (size_t)d->valuedouble;
            if (bytes > MAX_DATA) return n_placed = 0;
        }
        cJSON *offs = cJSON_CreateArray();
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        if (cJSON_GetObjectItemCaseSensitive(t, "data_offsets"))
            cJSON_ReplaceItemInObjectCaseSensitive(t, "data_offsets", offs);
        else
            cJSON_AddItemToObject(t, "data_offsets", offs);
        if (n_placed == MAX_TENSORS) return n_placed = 0;
        placed[n_placed].off = off;
        placed[n_placed].bytes = bytes;
        placed[n_placed++].dtype = dtype->valuestring;
        off += bytes;
        if (off > MAX_DATA) return n_placed = 0;
    }
    return off;
}

static void fill_all(unsigned char *data)
{
    for (int i = 0; i < n_placed; i++) fill(data + placed[i].off, placed[i].bytes, placed[i].dtype, (unsigned)i + 1);
}

/* The sizes vggcl_model_map_size takes or refuses, against what vggcl.h says of vggcl_model_min_input and
 * vggcl_model_size_multiple, over sides from least - 2 to least + 13. */
static void check_sizes(const vggcl_model *m, int least)
{
    const int multiple = vggcl_model_size_multiple(m);
    for (int h = least > 2 ? least - 2 : 1; h <= least + 13; h++) {
        for (int w = least > 2 ? least - 2 : 1; w <= least + 13; w++) {
            int mh = -1, mw = -1;
            vggcl_model_map_size(m, h, w, &mh, &mw);
            const int taken = mh > 0 && mw > 0;
            if (taken != (mh > 0 || mw > 0) || mh < 0 || mw < 0) abort(); /* both 0, or both a size */
            if (taken && (h < least || w < least || multiple == INT_MAX)) abort(); /* below the least: refused */
            if (!taken && h >= least && w >= least && multiple != INT_MAX && h % multiple == 0 && w % multiple == 0)
                abort(); /* a multiple of vggcl_model_size_multiple from the least up: taken */
        }
    }
}

/* One pass on the reference at h x w (least x least without a size byte, sz < 0) when it is small; at a fuzzed
 * size, its outcome must be the one vggcl_model_map_size foretells. With cam, a pass with class activation maps
 * (vggcl_forward_cam) where the model has a head. */
static void run_once(vggcl_ctx *ctx, vggcl_model *m, int n, int least, int sz, int cam)
{
    const int h = sz < 0 ? least : (least > 2 ? least - 2 : 1) + (sz & 15);
    const int w = sz < 0 ? least : (least > 2 ? least - 2 : 1) + (sz >> 4);
    int mh, mw;
    vggcl_model_map_size(m, h, w, &mh, &mw);
    if (vggcl_model_flops(m, n, h, w) >= 2e7 || (double)n * 3 * h * w > (1 << 22)) return;
    const int classes = vggcl_model_classes(m); /* (0: loaded features_only, logits then NULL) */
    float *in = calloc((size_t)n * 3 * h * w, sizeof(float));
    float *logits = classes ? malloc(sizeof(float) * (size_t)n * classes) : NULL;
    float *feat = malloc(sizeof(float) * (size_t)n * vggcl_model_features(m));
    /* (a head of dense layers, after GAP or a 7x7 pool, has no maps: vggcl_check_cam refuses it, and so must the
     * pass with maps, before it writes any, here into a buffer of one float that ASan guards) */
    const int cam_ok = cam && classes && vggcl_check_cam(ctx, m) == VGGCL_OK;
    float *cams = cam_ok && mh > 0 ? malloc(sizeof(float) * (size_t)n * mh * mw) : NULL;
    int chosen[2];
    if (cam && classes && !cam_ok && in && logits && feat) {
        float *one = malloc(sizeof(float));
        if (one && vggcl_forward_cam(ctx, m, in, n, h, w, logits, feat, NULL, one, chosen) != VGGCL_ERR_ARG) abort();
        free(one);
    }
    if (in && (logits || !classes) && feat) {
        const vggcl_status st = cams ? vggcl_forward_cam(ctx, m, in, n, h, w, logits, feat, NULL, cams, chosen)
                                     : vggcl_forward(ctx, m, in, n, h, w, logits, feat);
        if (cams && st == VGGCL_OK)
            for (int i = 0; i < n; i++)
                if (chosen[i] < 0 || chosen[i] >= classes) abort(); /* (its top class: one of the model's) */
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "pass %dx%d (map %dx%d): %s\n", h, w, mh, mw, st == VGGCL_OK ? "ran" : vggcl_message(ctx));
        if (sz >= 0 && (mh > 0 ? st != VGGCL_OK : st != VGGCL_ERR_SHAPE)) {
            fprintf(stderr, "fuzz_model: %dx%d: map %dx%d, forward %d: %s\n", h, w, mh, mw, (int)st,
                    vggcl_message(ctx));
            abort(); /* vggcl_model_map_size and the pass disagree */
        }
    }
    free(in), free(logits), free(feat), free(cams);
}

/* The trunk at path written with a new GAP head (vggcl_save_with_head checks its metadata: vggcl__meta_check),
 * the metadata's pairs (meta) given as the caller's when ours; a file written must load as the trunk did. */
static void save_head(vggcl_ctx *ctx, const char *path, const vggcl_model *m, const vggcl_load_options *o,
                      const cJSON *meta, int ours)
{
    enum { MAX_META = 32 };
    const char *pairs[2 * MAX_META];
    int n_meta = 0;
    for (const cJSON *it = meta ? meta->child : NULL; ours && it && n_meta < MAX_META; it = it->next)
        if (it->string && cJSON_IsString(it)) pairs[2 * n_meta] = it->string, pairs[2 * n_meta++ + 1] = it->valuestring;
    /* (a head for a features_only trunk too: 2 classes) */
    const int classes = vggcl_model_classes(m) > 0 ? vggcl_model_classes(m) : 2, d = vggcl_model_features(m);
    char out[64];
    const char *scratch = fuzz_file(NULL, 0, ".out.safetensors");
    float *w = calloc((size_t)classes * d, sizeof(float)), *b = calloc((size_t)classes, sizeof(float));
    if (scratch && w && b && classes > 0 && d > 0) {
        snprintf(out, sizeof out, "%s", scratch);
        const vggcl_status st = vggcl_save_with_head(ctx, path, out, classes, d, w, b, pairs, n_meta);
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "saved with %d pairs of ours: %s\n", n_meta,
                    st == VGGCL_OK ? "written" : vggcl_message(ctx));
        if (st == VGGCL_OK) {
            vggcl_load_options again = *o;
            again.head = NULL; /* (classifier.0, the head written) */
            vggcl_model *saved = NULL;
            vggcl_preprocess p;
            vggcl_preprocess_unset(&p);
            if (vggcl_model_load(ctx, out, &again, &saved) != VGGCL_OK ||
                vggcl_model_preprocess(ctx, saved, &p) != VGGCL_OK) {
                fprintf(stderr, "fuzz_model: a model vggcl_save_with_head wrote is refused: %s\n", vggcl_message(ctx));
                abort();
            }
            vggcl_model_free(saved);
        }
    }
    free(w), free(b);
}

static void run_model(const char *file, uint8_t opt, int sz, const cJSON *meta)
{
    static const char *const heads[4] = { NULL, "classifier.1", "classifier.6", "fc" };
    char path[64]; /* (fuzz_file's buffer is its next call's) */
    snprintf(path, sizeof path, "%s", file);
    vggcl_load_options o = { 0 };
    static const int pool5s[4] = { VGGCL_POOL5_DROP, VGGCL_POOL5_KEEP, VGGCL_POOL5_KEEP, VGGCL_POOL5_AUTO };
    o.pool5 = pool5s[opt & 3]; /* (the corpus's bytes as before the values changed) */
    o.head = heads[(opt >> 2) & 3];
    o.features_only = opt >> 6 & 1; /* (bit 6; bit 7: the pass as vggcl_forward_cam, run_once) */
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_model *m = NULL;
    const int loaded =
        ctx && vggcl_select_device(ctx, "ref") == VGGCL_OK && vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK;
    if (loaded) {
        vggcl_preprocess p; /* the metadata's preset, read or refused */
        vggcl_preprocess_unset(&p);
        if (vggcl_model_preprocess(ctx, m, &p) == VGGCL_OK &&
            (p.resize < 0 || p.crop < 0 || !(p.std[0] != 0) || p.resize_w < 0 || (p.resize_w && !p.resize)))
            abort(); /* every field filled, std never 0, both sides only with a resize */
        const int least = vggcl_model_min_input(m), n = 1 + ((opt >> 4) & 1);
        if (least <= VGGCL_MAX_SIDE) {
            check_sizes(m, least);
            run_once(ctx, m, n, least, sz, opt >> 7 & 1);
        }
        save_head(ctx, path, m, &o, meta, opt >> 5 & 1);
        vggcl_model_free(m);
    }
    if (ctx && getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s\n", loaded ? "loaded" : vggcl_message(ctx));
    vggcl_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const int sz = data[1] != '{' ? data[1] : -1; /* the size byte, if there is one */
    const size_t at = sz < 0 ? 1 : 2;
    cJSON *root = cJSON_ParseWithLength((const char *)data + at, size - at);
    if (!root) return 0;
    char *header = NULL;
    unsigned char *file = NULL;
    size_t nbytes = cJSON_IsObject(root) ? layout(root) : 0;
    if (cJSON_IsObject(root) && (header = cJSON_PrintUnformatted(root))) {
        const size_t hlen = strlen(header), total = 8 + hlen + nbytes;
        if ((file = calloc(total, 1))) {
            for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
            memcpy(file + 8, header, hlen);
            fill_all(file + 8 + hlen);
            const char *path = fuzz_file(file, total, ".safetensors");
            if (path) run_model(path, data[0], sz, cJSON_GetObjectItemCaseSensitive(root, "__metadata__"));
        }
    }
    free(file);
    cJSON_free(header);
    cJSON_Delete(root);
    return 0;
}
