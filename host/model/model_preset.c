/* The preprocessing a model's file asks for: its __metadata__ "vggcl.resize"
 * (the short side's, or "H,W": Resize((H, W))), "vggcl.crop", "vggcl.mean",
 * "vggcl.std" and "vggcl.draft", read here for the command and Python alike. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "model.h"

/* Whether s[0..n) is a number as the command line takes one: decimal digits with a '.' and an exponent
 * (whole: digits, with ".0" at most), a '-' first; no blanks, '+', hex, inf or nan, which sscanf takes
 * ("0x10" was read as a resize of 16, "1e3" as 1000). */
static int decimal(const char *s, size_t n, int whole)
{
    size_t i = !whole && n && s[0] == '-', digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && (whole ? s[i] == '0' : s[i] >= '0' && s[i] <= '9'); i++) digits++;
    if (!digits) return 0;
    if (!whole && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i += i + 1 < n && (s[i + 1] == '-' || s[i + 1] == '+');
        const size_t at = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == at) return 0;
    }
    return i == n;
}

int vggcl__meta_numbers(const char *v, int n, int whole, float *out)
{
    for (const char *field = v;; field++) {
        const size_t len = strcspn(field, ",");
        if (!decimal(field, len, whole)) return 0;
        if (!field[len]) break;
        field += len;
    }
    int used = 0, ok = 1;
    const locale_t before = vggcl__c_locale_begin();
    for (int i = 0; i < n && ok; i++) {
        int k = 0;
        ok = sscanf(v + used, i ? ",%f%n" : "%f%n", &out[i], &k) == 1;
        used += k;
    }
    vggcl__c_locale_end(before);
    return ok && v[used] == '\0';
}

/* Whether value c of field k is one the preset can use (NaN fails each comparison): sizes whole ("72.0"
 * too; "224.7" was cut to 224). */
static int usable(int k, float v)
{
    return k == 4   ? v == 0 || v == 1
           : k < 2 ? v >= 0 && v <= VGGCL_MAX_PRESET_SIDE && v == floorf(v)
                   : isfinite(v) && (k == 2 || v > 0);
}

/* A number as text, macros expanded first. */
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)
#define MOST TEXT(VGGCL_MAX_PRESET_SIDE)

/* The preset's keys, in the order of vggcl_preprocess's fields. */
static const struct {
    const char *key, *expected;
    int count;
} fields[5] = {
    { "vggcl.resize", "a whole size from 0 to " MOST ", or H,W (each from 1 to " MOST ")", 1 },
    { "vggcl.crop", "a whole size from 0 to " MOST, 1 },
    { "vggcl.mean", "three finite numbers R,G,B", 3 },
    { "vggcl.std", "three numbers R,G,B (std > 0)", 3 },
    { "vggcl.draft", "0 or 1", 1 },
};

/* Field k's value from its metadata text meta into v (the resize's: v[1] its width where "H,W" gives one,
 * else 0): VGGCL_OK, else VGGCL_ERR_FORMAT said, naming path. */
static vggcl_status field_of(vggcl_ctx *ctx, const char *path, int k, const char *meta, float v[3])
{
    const int sides = k == 0 && strchr(meta, ','), count = sides ? 2 : fields[k].count;
    int ok = vggcl__meta_numbers(meta, count, k < 2 || k == 4, v);
    for (int c = 0; ok && c < count; c++) ok = usable(k, v[c]) && (!sides || v[c] >= 1);
    if (k == 0 && !sides) v[1] = 0;
    if (ok) return VGGCL_OK;
    return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ \"%s\" is \"%s\"; expected %s", path, fields[k].key, meta,
                       fields[k].expected);
}

vggcl_status vggcl__preset_meta_check(vggcl_ctx *ctx, const char *path, const char *key, const char *value)
{
    float v[3];
    for (int k = 0; k < 5; k++)
        if (!strcmp(key, fields[k].key)) return field_of(ctx, path, k, value, v);
    return VGGCL_OK;
}

vggcl_status vggcl__preset_meta_norm(vggcl_ctx *ctx, const char *path, const char *mean, const char *std)
{
    vggcl_preprocess d;
    vggcl_preprocess_defaults(&d);
    float own_mean[3], own_std[3];
    memcpy(own_mean, d.mean, sizeof own_mean), memcpy(own_std, d.std, sizeof own_std);
    vggcl_status st;
    if ((mean && (st = field_of(ctx, path, 2, mean, own_mean)) != VGGCL_OK) ||
        (std && (st = field_of(ctx, path, 3, std, own_std)) != VGGCL_OK))
        return st;
    if (!(mean || std) || vggcl__norm_finite(own_mean, own_std)) return VGGCL_OK;
    return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ %s%s%s take pixel values past a float's range "
                       "(mean %g,%g,%g, std %g,%g,%g)", path, mean ? "\"vggcl.mean\"" : "", mean && std ? " and " : "",
                       std ? "\"vggcl.std\"" : "", own_mean[0], own_mean[1], own_mean[2], own_std[0], own_std[1],
                       own_std[2]);
}

/* Whether field k's (2: the mean, 3: the std) values v look like the 0..255 scale (123.68, 58.4), on which every
 * input is a near-constant: a mean above 1, a std of 10 or more (a std from 1 to 10 is a scaling an imported
 * graph may do: x/1000 is std 3.9). */
static int on_255(int k, const float *v)
{
    int on = 0;
    for (int c = 0; c < 3; c++) on |= k == 2 ? v[c] > 1 : v[c] >= 10;
    return on;
}

/* What is said of such values: "mean 123.68,... is above 1, as on the scale of 0..255: ...". */
static void said_255(char *out, size_t cap, int k, const float *v)
{
    vggcl__format(out, cap, "%s %g,%g,%g is %s, as on the scale of 0..255: the pixels are x/255, from 0 to 1, "
                  "before (x - mean)/std", k == 2 ? "mean" : "std", v[0], v[1], v[2],
                  k == 2 ? "above 1" : "10 or above");
}

/* vggcl_model_preprocess on p, a copy of the caller's (left as it was on failure: a fallback to the defaults
 * kept the rejected file's fields as "given"). */
static vggcl_status model_preprocess(vggcl_ctx *ctx, const vggcl_model *m, vggcl_preprocess *p)
{
    vggcl_preprocess d;
    vggcl_preprocess_defaults(&d);
    const int unset[5] = { p->resize < 0, p->crop < 0, isnan(p->mean[0]), isnan(p->std[0]), p->draft < 0 };
    if (!unset[0] && p->resize_w < 0) p->resize_w = 0; /* (a resize given alone: the short side's) */
    char said[256];
    for (int k = 2; k < 4; k++) { /* given so: refused */
        const float *v = k == 2 ? p->mean : p->std;
        if (unset[k] || !on_255(k, v)) continue;
        said_255(said, sizeof said, k, v);
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s; give it divided by 255 (%.4g,%.4g,%.4g)", said, v[0] / 255,
                           v[1] / 255, v[2] / 255);
    }
    for (int k = 0; k < 5; k++) {
        if (!unset[k]) continue;
        const char *meta = vggcl_model_metadata(m, fields[k].key);
        float v[3] = { 0 };
        vggcl_status st;
        if (meta && (st = field_of(ctx, m->path ? m->path : "the model", k, meta, v)) != VGGCL_OK) return st;
        if (meta && (k == 2 || k == 3) && on_255(k, v) && ctx && ctx->log && !ctx->told_255) {
            /* a file's: taken (a graph may scale so), said once a context (one exported with --mean 123.68
             * before the exporter refused it gives wrong answers, unsaid) */
            char msg[640];
            said_255(said, sizeof said, k, v);
            snprintf(msg, sizeof msg, "%s: its metadata \"%s\": %s; taken as written, as an imported graph may scale "
                     "so, but a model exported with such a --%s gives wrong answers: export it again with the values "
                     "divided by 255", m->path ? m->path : "the model", fields[k].key, said, k == 2 ? "mean" : "std");
            ctx->told_255 = 1;
            ctx->log(ctx->log_user, msg);
        }
        if (k == 0) p->resize = meta ? (int)v[0] : d.resize, p->resize_w = meta ? (int)v[1] : d.resize_w;
        if (k == 1) p->crop = meta ? (int)v[0] : d.crop;
        if (k == 2) memcpy(p->mean, meta ? v : d.mean, sizeof p->mean);
        if (k == 3) memcpy(p->std, meta ? v : d.std, sizeof p->std);
        if (k == 4) p->draft = meta ? (int)v[0] : d.draft;
    }
    if (vggcl__norm_finite(p->mean, p->std)) return VGGCL_OK;
    /* each within its own bounds, together past a float's: the file's fault where its own values (with
     * torchvision's for one it lacks) already are (model and ctx may be NULL), else the caller's */
    const char *fm = unset[2] ? vggcl_model_metadata(m, "vggcl.mean") : NULL,
               *fs = unset[3] ? vggcl_model_metadata(m, "vggcl.std") : NULL;
    vggcl_status st;
    if ((fm || fs) && (st = vggcl__preset_meta_norm(ctx, m->path ? m->path : "the model", fm, fs)) != VGGCL_OK)
        return st;
    return vggcl__fail(ctx, VGGCL_ERR_ARG, "normalization: mean %g,%g,%g%s and std %g,%g,%g%s take pixel values past "
                       "a float's range", p->mean[0], p->mean[1], p->mean[2], fm ? " (the model's)" : "", p->std[0],
                       p->std[1], p->std[2], fs ? " (the model's)" : "");
}

vggcl_status vggcl_model_preprocess(vggcl_ctx *ctx, const vggcl_model *m, vggcl_preprocess *p)
{
    VGGCL_NEED(ctx, "vggcl_model_preprocess", p);
    if (m) VGGCL_NEED_CTX(ctx); /* (the defaults alone need none: a model's may fail, with a message) */
    vggcl_preprocess q = *p;
    const vggcl_status st = model_preprocess(ctx, m, &q);
    if (st == VGGCL_OK) *p = q;
    return st;
}
