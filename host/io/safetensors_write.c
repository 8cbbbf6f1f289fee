/* Writing a safetensors model: a trunk's convolution tensors as they are, a
 * new GAP head and metadata (vggcl train-head's output). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "output.h"
#include "safetensors.h"

/* Adds one tensor's header entry at *offset and advances it. */
static int add_entry(cJSON *root, const char *name, const char *dtype, int ndim, const int64_t *shape, size_t bytes,
                     size_t *offset)
{
    cJSON *t = cJSON_AddObjectToObject(root, name), *s, *o;
    if (!t || !cJSON_AddStringToObject(t, "dtype", dtype) || !(s = cJSON_AddArrayToObject(t, "shape"))) return 0;
    for (int d = 0; d < ndim; d++)
        if (!cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[d]))) return 0;
    if (!(o = cJSON_AddArrayToObject(t, "data_offsets")) ||
        !cJSON_AddItemToArray(o, cJSON_CreateNumber((double)*offset)) ||
        !cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(*offset + bytes))))
        return 0;
    *offset += bytes;
    return 1;
}

/* The merged metadata: the trunk's pairs but for those of the head replaced, then meta's, a later key replacing
 * an earlier one. */
static int add_metadata(cJSON *root, const vggcl__st_file *f, const char *const *meta, int n_meta)
{
    /* what the trunk's file said of the head the new one replaces (input_size: the one size a flatten head's
     * graph took; a GAP head takes any) */
    static const char *const of_the_head[] = { "vggcl.classes", "vggcl.trained", "vggcl.output", "vggcl.input_size" };
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    if (!m) return 0;
    for (int i = 0; i < f->n_meta + n_meta; i++) {
        const char *k = i < f->n_meta ? f->meta_keys[i] : meta[2 * (i - f->n_meta)];
        const char *v = i < f->n_meta ? f->meta_values[i] : meta[2 * (i - f->n_meta) + 1];
        int dropped = 0;
        for (size_t j = 0; i < f->n_meta && j < sizeof of_the_head / sizeof of_the_head[0]; j++)
            dropped |= !strcmp(k, of_the_head[j]);
        if (dropped) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(m, k);
        if (!cJSON_AddStringToObject(m, k, v)) return 0;
    }
    return 1;
}

static int write_all(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n; }

/* Whether key is among the caller's metadata pairs (else a pair of the merged metadata is the trunk's). */
static int given(const char *const *meta, int n_meta, const char *key)
{
    for (int i = 0; i < n_meta; i++)
        if (!strcmp(meta[2 * i], key)) return 1;
    return 0;
}

vggcl_status vggcl_save_with_head(vggcl_ctx *ctx, const char *trunk_path, const char *out_path, int classes, int d,
                                  const float *w, const float *b, const char *const *meta, int n_meta)
{
    vggcl__st_file f;
    cJSON *root = NULL;
    char *text = NULL;
    vggcl__output o;
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_save_with_head", trunk_path);
    VGGCL_NEED(ctx, "vggcl_save_with_head", out_path); /* (named in the messages below) */
    VGGCL_NEED(ctx, "vggcl_save_with_head", w);
    VGGCL_NEED(ctx, "vggcl_save_with_head", b);
    if (n_meta < 0 || (n_meta && !meta))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: %d metadata pairs%s; expected 0 or more with their strings",
                           out_path, n_meta, n_meta > 0 ? " without them (NULL)" : "");
    if (classes < 1 || d < 1)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: a head of %d classes x %d features; expected at least 1 x 1",
                           out_path, classes, d);
    for (int i = 0; i < 2 * n_meta; i++) { /* (else a file the reader refuses: a header is UTF-8) */
        if (meta[i] && vggcl__valid_utf8((const unsigned char *)meta[i], strlen(meta[i]))) continue;
        if (i % 2 && meta[i - 1] && vggcl__valid_utf8((const unsigned char *)meta[i - 1], strlen(meta[i - 1])))
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: metadata \"%s\" is %s; expected UTF-8 text", out_path,
                               meta[i - 1], meta[i] ? "not UTF-8" : "NULL");
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: metadata pair %d's key is %s; expected UTF-8 text", out_path, i / 2,
                           meta[i - i % 2] ? "not UTF-8" : "NULL");
    }
    vggcl_status st = vggcl__st_open(ctx, trunk_path, &f);
    if (st != VGGCL_OK) return st;
    /* the head reads the last convolution's channels (the one of highest N among features.N.weight, 4-D) */
    int last = -1;
    long best = -1;
    for (int i = 0; i < f.n; i++) {
        char *end;
        const char *name = f.tensors[i].name;
        const long k = strncmp(name, "features.", 9) ? -1 : strtol(name + 9, &end, 10);
        if (k > best && f.tensors[i].ndim == 4 && !strcmp(end, ".weight")) best = k, last = i;
    }
    if (last < 0 || f.tensors[last].shape[0] != d) {
        st = last < 0 ? vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: no convolution (features.N.weight, 4-D) for the head "
                                                          "to follow", trunk_path)
                      : vggcl__fail(ctx, VGGCL_ERR_SHAPE, "%s: a head of %d features, but its last convolution %s has "
                                                          "%lld output channels", trunk_path, d, f.tensors[last].name,
                                    (long long)f.tensors[last].shape[0]);
        vggcl__st_close(&f);
        return st;
    }
    /* (after d is the trunk's: the caller's arrays are that long) */
    for (size_t k = 0; k < (size_t)classes * d + (size_t)classes; k++) /* (else a file the reader refuses) */
        if (!isfinite(k < (size_t)classes * d ? w[k] : b[k - (size_t)classes * d])) {
            vggcl__st_close(&f);
            return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: the head's %s holds a non-finite value at %zu; expected finite "
                               "numbers", out_path, k < (size_t)classes * d ? "weight" : "bias",
                               k < (size_t)classes * d ? k : k - (size_t)classes * d);
        }
    size_t offset = 0;
    const int64_t wshape[2] = { classes, d }, bshape[1] = { classes };
    const size_t wbytes = sizeof *w * (size_t)classes * d, bbytes = sizeof *b * (size_t)classes;
    int ok = (root = cJSON_CreateObject()) && add_metadata(root, &f, meta, n_meta);
    /* (the pairs vggcl reads, the trunk's and meta's, as a load takes them: a model its loader refused replaced
     * the file, a usable one perhaps) */
    const cJSON *pairs = ok ? cJSON_GetObjectItemCaseSensitive(root, "__metadata__") : NULL;
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(pairs, "vggcl.mean"),
                *std = cJSON_GetObjectItemCaseSensitive(pairs, "vggcl.std");
    for (const cJSON *it = pairs ? pairs->child : NULL; it; it = it->next) {
        const int ours = given(meta, n_meta, it->string); /* (else the trunk's: the one at fault named) */
        if (vggcl__meta_check(ctx, ours ? out_path : trunk_path, it->string, it->valuestring, classes) != VGGCL_OK) {
            st = vggcl__fail_around(ctx, ours ? VGGCL_ERR_ARG : VGGCL_ERR_FORMAT, "",
                                    " (a model written with it would be refused)");
            goto done;
        }
    }
    /* (each within its bounds, together past a float's: std 1e-45) */
    const int ours = (mean && given(meta, n_meta, "vggcl.mean")) || (std && given(meta, n_meta, "vggcl.std"));
    if (vggcl__preset_meta_norm(ctx, ours ? out_path : trunk_path, mean ? mean->valuestring : NULL,
                                std ? std->valuestring : NULL) != VGGCL_OK) {
        st = vggcl__fail_around(ctx, ours ? VGGCL_ERR_ARG : VGGCL_ERR_FORMAT, "",
                                " (a model written with it would be refused)");
        goto done;
    }
    for (int i = 0; ok && i < f.n; i++)
        if (!strncmp(f.tensors[i].name, "features.", 9))
            ok = add_entry(root, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, f.tensors[i].shape,
                           f.tensors[i].end - f.tensors[i].begin, &offset);
    ok = ok && add_entry(root, "classifier.0.weight", "F32", 2, wshape, wbytes, &offset) &&
         add_entry(root, "classifier.0.bias", "F32", 1, bshape, bbytes, &offset);
    vggcl__lock(); /* cJSON's hooks are process-wide; printing allocates through them */
    text = ok ? cJSON_PrintUnformatted(root) : NULL;
    vggcl__unlock();
    if (!text) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory writing %s", out_path);
        goto done;
    }
    const size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char hl[8];
    for (int i = 0; i < 8; i++) hl[i] = (unsigned char)((unsigned long long)padded >> (8 * i));
    if ((st = vggcl__output_open(ctx, out_path, 0666, 0, &o)) != VGGCL_OK) goto done;
    ok = write_all(o.fp, hl, 8) && write_all(o.fp, text, len);
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', o.fp) != EOF;
    unsigned char chunk[1 << 16]; /* (the trunk's tensors copied a chunk at a time: a read failure is said as one) */
    for (int i = 0; ok && st == VGGCL_OK && i < f.n; i++) {
        const vggcl__st_tensor *t = &f.tensors[i];
        const size_t bytes = t->end - t->begin;
        if (strncmp(t->name, "features.", 9)) continue;
        for (size_t at = 0, k; ok && st == VGGCL_OK && at < bytes; at += k) {
            k = bytes - at < sizeof chunk ? bytes - at : sizeof chunk;
            if ((st = vggcl__st_read(ctx, &f, t, at, k, chunk)) == VGGCL_OK) ok = write_all(o.fp, chunk, k);
        }
    }
    if (st != VGGCL_OK) {
        vggcl__output_abort(&o);
        goto done;
    }
    ok = ok && write_all(o.fp, w, wbytes) && write_all(o.fp, b, bbytes); /* little-endian hosts only, as the reader */
    st = vggcl__output_commit(ctx, &o, ok);
done:
    cJSON_free(text);
    cJSON_Delete(root);
    vggcl__st_close(&f);
    return st;
}
