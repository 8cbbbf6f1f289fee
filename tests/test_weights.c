/* The safetensors reader and the model plan: every malformed-file case the
 * reference reader rejects, dtype conversion, and the network inferred from
 * torchvision key names (BatchNorm folding, pools, pool5, head). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "ref/ref.h"
#include "safetensors.h"
#include "test_util.h"

/* Writes 8-byte length + header text + data bytes. */
static const char *raw_file(const char *name, const char *header, const void *data, size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((unsigned long long)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    const char *path = tu_tmp(name);
    tu_write_bytes(path, buf, 8 + hl + data_len);
    free(buf);
    return path;
}

static void expect_reject(const char *path, const char *needle)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    vggcl_status st = vggcl__st_open(ctx, path, &f);
    ck_assert_msg(st != VGGCL_OK, "%s was accepted; expected an error containing '%s'", path, needle);
    ck_assert_msg(strstr(vggcl_message(ctx), needle) && strstr(vggcl_message(ctx), path),
                  "message '%s' should name the file and contain '%s'", vggcl_message(ctx), needle);
    vggcl__st_close(&f);
    vggcl_ctx_free(ctx);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static const float eight[2] = { 1, 2 };

static const struct { const char *name, *header; size_t data_len; const char *needle; } bad_headers[] = {
    { "not_object.st", "[1,2]   ", 0, "starting with '{'" },
    { "bad_json.st", "{\"a\":   ", 0, "not a valid JSON" },
    { "unknown_dtype.st", "{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype" },
    /* F4 and F6 in whole bytes only (the reference's rule); sizes past 2^53 said as too large */
    { "f4_odd.st", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "12 bits of F4, not whole bytes" },
    { "f6_size.st", "{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
      "shape (4,) of F6_E2M3 needs 3" },
    { "huge_dim.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[18014398509481984],\"data_offsets\":[0,8]}}", 8,
      "shape[0] is past 2^53, too large" },
    { "huge_offset.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18014398509481984,8]}}", 8,
      "data_offsets past 2^53, too large" },
    { "reversed.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "reversed" },
    { "size_mismatch.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
      "span 8 bytes, but its shape (3,) of F32 needs 12" },
    { "past_end.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "truncated" },
    { "trailing.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing bytes" },
    { "overlap.st",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "begin at 4, inside tensor 'a' (0 to 8)" },
    { "hole.st",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}", 8, "hole" },
    { "duplicate.st",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key 'a'" },
    { "overflow.st",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8, "overflows" },
    { "negative.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative" },
    { "fraction.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "non-negative integer" },
    { "no_offsets.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets" },
    { "three_offsets.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, "[begin, end]" },
    { "entry_not_object.st", "{\"a\":5}", 0, "not a JSON object" },
    { "meta_not_string.st", "{\"__metadata__\":{\"k\":1}}", 0, "__metadata__" },
    { "junk_after.st", "{}x      ", 0, "after the JSON" },
    /* a raw control byte in a name (the reference's parser refuses it; JSON escapes it), said with its place */
    { "raw_control.st", "{\"a\x1b[2J\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
      "a name or value holds a raw control character (at byte 3 of the header)" },
    /* one between values (cJSON skipped it, as it skips a NUL there; the reference's parser refuses it) */
    { "control_between.st", "{\"a\":\x01{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
      "a control character outside a string (JSON allows blanks, tabs and line ends) (at byte 5 of the header)" },
    { "bad_utf8.st", "{\"\xff\":{}}  ", 0, "UTF-8" },
    { "deep.st", "[[[[[[[[[[[[[[[[", 0, "starting with '{'" },
    /* what readers differ on (cJSON took the first, Python's json the last, the reference refuses) */
    { "dup_field.st", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
      "tensor 'a': \"dtype\" given twice" },
    { "dup_meta.st", "{\"__metadata__\":{\"vggcl.pool5\":\"keep\",\"vggcl.pool5\":\"drop\"}}", 0,
      "duplicate key 'vggcl.pool5' in __metadata__" },
    /* numbers the reference reader refuses and cJSON read as integers; a NUL cutting a name short */
    { "exponent.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}", 8, "plain non-negative" },
    { "point_zero.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "plain non-negative" },
    { "minus_zero.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-0,8]}}", 8, "plain non-negative" },
    { "leading_zero.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[00,8]}}", 8, "leading zero" },
    { "nul_name.st", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "NUL" },
};

START_TEST(test_st_malformed)
{
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++)
        expect_reject(raw_file(bad_headers[i].name, bad_headers[i].header, eight, bad_headers[i].data_len),
                      bad_headers[i].needle);
}
END_TEST

/* What the reference reader takes: its newer dtypes on tensors vggcl does not read (one F8_E8M0 or F4 tensor
 * refused the file whole; a model reading one says which) and a header padded with any JSON white space. */
START_TEST(test_st_other_dtypes)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    /* a header padded with any JSON white space (the reference's parser takes it; a newline was refused) */
    ck_assert_msg(vggcl__st_open(ctx, raw_file("padded.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
                                                            "[0,8]}} \n\t\r ", eight, 8), &f) == VGGCL_OK,
                  "%s", vggcl_message(ctx));
    vggcl__st_close(&f);
    static const unsigned char twelve[12] = { 0 };
    const char *p = raw_file("newer.st", "{\"e\":{\"dtype\":\"F8_E8M0\",\"shape\":[2],\"data_offsets\":[0,2]},"
                                         "\"f\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[2,4]},"
                                         "\"c\":{\"dtype\":\"C64\",\"shape\":[],\"data_offsets\":[4,12]}}", twelve, 12);
    ck_assert_msg(vggcl__st_open(ctx, p, &f) == VGGCL_OK, "%s", vggcl_message(ctx));
    float *x = NULL;
    ck_assert(vggcl__st_to_f32(ctx, &f, vggcl__st_find(&f, "f"), &x) != VGGCL_OK);
    ck_assert_msg(strstr(vggcl_message(ctx), "F4"), "%s", vggcl_message(ctx));
    ck_assert_ptr_null(vggcl__st_find(&f, "g"));
    ck_assert_str_eq(vggcl__st_find(&f, "c")->dtype, "C64");
    vggcl__st_close(&f);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_st_file_level)
{
    expect_reject(tu_tmp("does_not_exist.st"), "cannot open");
    const char *p = tu_tmp("short.st");
    tu_write_bytes(p, "abc", 3);
    expect_reject(p, "too short");
    unsigned char huge[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}' };
    p = tu_tmp("huge_header.st");
    tu_write_bytes(p, huge, sizeof huge);
    expect_reject(p, "header length");
    unsigned char over[16] = { 9, 0, 0, 0, 0, 0, 0, 0, '{', '}' }; /* 9 > 8 bytes left */
    p = tu_tmp("header_past_end.st");
    tu_write_bytes(p, over, 16);
    expect_reject(p, "header length");
    expect_reject("/tmp", "weights file");
    /* a FIFO: refused, not waited on for ever (fopen blocked until a writer came) */
    p = tu_tmp("fifo.st");
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    expect_reject(p, "not a regular file");
    unlink(p);
    /* a header of more JSON values than a model's could hold (cJSON took 40x its size before any check) */
    const size_t zeros = ((size_t)1 << 20) + 8, hl = 64 + 2 * zeros;
    char *many = malloc(hl + 1);
    size_t at = (size_t)sprintf(many, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],\"shape\":[");
    for (size_t i = 0; i < zeros; i++) at += (size_t)sprintf(many + at, i ? ",0" : "0");
    at += (size_t)sprintf(many + at, "]}}");
    expect_reject(raw_file("many.st", many, eight, 0), "JSON values; at most");
    free(many);
}
END_TEST

/* F32, F16 and BF16 give the same float32 values; NaN/Inf are rejected. */
START_TEST(test_st_dtypes)
{
    const uint16_t f16[4] = { 0x3C00, 0xC100, 0x3800, 0x0001 };   /* 1, -2.5, 0.5, 2^-24 */
    const uint16_t bf16[4] = { 0x3F80, 0xC020, 0x3F00, 0x0000 };  /* 1, -2.5, 0.5, 0 */
    const int64_t count = 7;
    tu_tensor t[3] = {
        { "h", "F16", 1, { 4 }, NULL, f16, sizeof f16 },
        { "b", "BF16", 1, { 4 }, NULL, bf16, sizeof bf16 },
        { "n", "I64", 0, { 0 }, NULL, &count, sizeof count },
    };
    const char *path = tu_tmp("dtypes.safetensors");
    tu_write_safetensors(path, t, 3, "{\"vggcl.pool5\":\"drop\",\"other\":\"x\"}");
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    ck_assert_msg(vggcl__st_open(ctx, path, &f) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_str_eq(vggcl__st_meta(&f, "vggcl.pool5"), "drop");
    float *h, *b, *n;
    ck_assert(vggcl__st_to_f32(ctx, &f, vggcl__st_find(&f, "h"), &h) == VGGCL_OK);
    ck_assert(vggcl__st_to_f32(ctx, &f, vggcl__st_find(&f, "b"), &b) == VGGCL_OK);
    const float want_h[4] = { 1, -2.5f, 0.5f, 5.9604644775390625e-08f }, want_b[4] = { 1, -2.5f, 0.5f, 0 };
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(h[i], want_h[i]);
        ck_assert_float_eq(b[i], want_b[i]);
    }
    ck_assert(vggcl__st_to_f32(ctx, &f, vggcl__st_find(&f, "n"), &n) == VGGCL_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), "'n' has dtype I64"));
    free(h), free(b);
    vggcl__st_close(&f);

    const float bad[2] = { 1, INFINITY };
    tu_tensor tb = { "inf", "F32", 1, { 2 }, bad, NULL, 0 };
    path = tu_tmp("inf.safetensors");
    tu_write_safetensors(path, &tb, 1, NULL);
    ck_assert(vggcl__st_open(ctx, path, &f) == VGGCL_OK);
    ck_assert(vggcl__st_to_f32(ctx, &f, vggcl__st_find(&f, "inf"), &n) == VGGCL_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), "non-finite"));
    vggcl__st_close(&f);
    vggcl_ctx_free(ctx);
}
END_TEST

/* The tensors are read as they are asked for: a file cut after it was opened gives an I/O error naming the
 * file and the tensor (not values past its end), and what was read before it stands. */
START_TEST(test_st_cut_after_open)
{
    const float a[3] = { 1, 2, 3 }, b[4] = { 4, 5, 6, 7 };
    tu_tensor t[2] = { { "a", "F32", 1, { 3 }, a, NULL, 0 }, { "b", "F32", 1, { 4 }, b, NULL, 0 } };
    const char *path = tu_tmp("cut.safetensors");
    tu_write_safetensors(path, t, 2, NULL);
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl__st_file f;
    ck_assert_msg(vggcl__st_open(ctx, path, &f) == VGGCL_OK, "%s", vggcl_message(ctx));
    const vggcl__st_tensor *ta = vggcl__st_find(&f, "a"), *tb = vggcl__st_find(&f, "b");
    const vggcl__st_tensor *last = ta->begin > tb->begin ? ta : tb, *first = last == ta ? tb : ta;
    ck_assert_int_eq(truncate(path, (off_t)(f.data_start + last->end - 2)), 0);
    float *x = NULL, *y = NULL;
    ck_assert_msg(vggcl__st_to_f32(ctx, &f, first, &x) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_float_eq(x[0], first == ta ? 1.0f : 4.0f);
    ck_assert_int_eq(vggcl__st_to_f32(ctx, &f, last, &y), VGGCL_ERR_IO);
    ck_assert_ptr_null(y);
    char want[128];
    snprintf(want, sizeof want, "cannot read tensor '%s': the file is shorter than when it was opened", last->name);
    ck_assert_msg(strstr(vggcl_message(ctx), path) && strstr(vggcl_message(ctx), want), "%s", vggcl_message(ctx));
    free(x);
    vggcl__st_close(&f);
    vggcl_ctx_free(ctx);
    remove(path);
}
END_TEST

/* ---- model plan ------------------------------------------------------- */

#define MAXT 64
typedef struct {
    tu_tensor t[MAXT];
    char names[MAXT][48];
    float *bufs[MAXT];
    int n;
} builder;

static float *add(builder *b, const char *name, int ndim, long long d0, long long d1, long long d2, long long d3,
                  float lo, float hi)
{
    long long shape[4] = { d0, d1, d2, d3 };
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];
    tu_tensor *t = &b->t[b->n];
    snprintf(b->names[b->n], sizeof b->names[0], "%s", name);
    b->bufs[b->n] = malloc(count * 4 + 4);
    tu_fill(b->bufs[b->n], count, (unsigned)b->n * 7 + 1, lo, hi);
    *t = (tu_tensor){ b->names[b->n], "F32", ndim, { d0, d1, d2, d3 }, b->bufs[b->n], NULL, 0 };
    return b->bufs[b->n++];
}

static void add_conv(builder *b, int idx, int c_out, int c_in)
{
    char name[48];
    snprintf(name, sizeof name, "features.%d.weight", idx);
    add(b, name, 4, c_out, c_in, 3, 3, -0.4f, 0.4f);
    snprintf(name, sizeof name, "features.%d.bias", idx);
    add(b, name, 1, c_out, 0, 0, 0, -0.1f, 0.1f);
}

static void add_bn(builder *b, int idx, int c)
{
    const char *part[4] = { "weight", "bias", "running_mean", "running_var" };
    const float lo[4] = { 0.5f, -0.2f, -0.2f, 0.5f }, hi[4] = { 1.5f, 0.2f, 0.2f, 1.5f };
    char name[48];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "features.%d.%s", idx, part[i]);
        add(b, name, 1, c, 0, 0, 0, lo[i], hi[i]);
    }
}

static void add_head(builder *b, const char *prefix, int classes, int width)
{
    char name[48];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add(b, name, 2, classes, width, 0, 0, -0.5f, 0.5f);
    snprintf(name, sizeof name, "%s.bias", prefix);
    add(b, name, 1, classes, 0, 0, 0, -0.5f, 0.5f);
}

static const char *write_model(builder *b, const char *file, const char *meta)
{
    const char *path = tu_tmp(file);
    tu_write_safetensors(path, b->t, b->n, meta);
    for (int i = 0; i < b->n; i++) free(b->bufs[i]);
    b->n = 0;
    return path;
}

/* Loads path on the reference backend; returns the status, *m on success. */
static vggcl_status load(vggcl_ctx **ctx, const char *path, int pool5, const char *head, vggcl_model **m)
{
    *ctx = vggcl_ctx_new();
    ck_assert(vggcl_select_device(*ctx, "ref") == VGGCL_OK);
    vggcl_load_options o = { pool5, head, VGGCL_CONV_AUTO, 0 };
    return vggcl_model_load(*ctx, path, &o, m);
}

static void expect_model_error(const char *path, const char *head, const char *needle)
{
    vggcl_ctx *ctx;
    vggcl_model *m = NULL;
    vggcl_status st = load(&ctx, path, VGGCL_POOL5_AUTO, head, &m);
    ck_assert_msg(st != VGGCL_OK, "%s was accepted; expected '%s'", path, needle);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(vggcl_message(ctx), needle), "message '%s' lacks '%s'", vggcl_message(ctx), needle);
    vggcl_ctx_free(ctx);
}

/* conv(0) relu(1) pool(2) conv(3) relu(4) conv(5) relu(6) [pool5] */
START_TEST(test_plan_pools_and_pool5)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 5, 4), add_conv(&b, 5, 6, 5), add_head(&b, "classifier.0", 2, 6);
    const char *path = write_model(&b, "plan.safetensors", NULL);
    vggcl_ctx *ctx;
    vggcl_model *m;
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->n_steps, 5); /* conv pool conv conv pool5 */
    ck_assert_int_eq(m->steps[1].kind, VGGCL_STEP_POOL);
    ck_assert_int_eq(m->steps[4].kind, VGGCL_STEP_POOL);
    ck_assert_int_eq(vggcl_model_min_input(m), 4);
    ck_assert_int_eq(vggcl_model_classes(m), 2);
    ck_assert_int_eq(vggcl_model_features(m), 6);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    ck_assert(load(&ctx, path, VGGCL_POOL5_DROP, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->n_steps, 4);
    ck_assert_int_eq(vggcl_model_min_input(m), 2);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    /* options set to zeros ({0}): the file's pool5, as the defaults (0 was DROP: pool5 dropped unsaid) */
    ck_assert(load(&ctx, path, 0, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->n_steps, 5);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);

    /* the file's metadata drops pool5; an explicit option wins over it */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4);
    path = write_model(&b, "meta_drop.safetensors", "{\"vggcl.pool5\":\"drop\"}");
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->n_steps, 1);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    ck_assert(load(&ctx, path, VGGCL_POOL5_KEEP, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->n_steps, 2);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* BatchNorm folded at load gives the same logits as applying it after the
 * conv by hand (one conv, 1x1 input: out = relu(bn(w_center * x + b))), with
 * two nearly dead channels (variances far below eps, as trained networks have),
 * where eps decides the scale. */
START_TEST(test_plan_batchnorm_fold)
{
    builder b = { 0 };
    add_conv(&b, 0, 3, 3);
    add_bn(&b, 1, 3);
    b.bufs[5][0] = 3e-6f, b.bufs[5][2] = 1e-7f;
    add_head(&b, "classifier.0", 2, 3);
    /* keep copies of the values before write_model frees them */
    float w[81], cb[3], g[3], be[3], mu[3], var[3], hw[6], hb[2];
    memcpy(w, b.bufs[0], sizeof w), memcpy(cb, b.bufs[1], sizeof cb), memcpy(g, b.bufs[2], sizeof g);
    memcpy(be, b.bufs[3], sizeof be), memcpy(mu, b.bufs[4], sizeof mu), memcpy(var, b.bufs[5], sizeof var);
    memcpy(hw, b.bufs[6], sizeof hw), memcpy(hb, b.bufs[7], sizeof hb);
    const char *path = write_model(&b, "bn.safetensors", "{\"vggcl.pool5\":\"drop\"}");
    vggcl_ctx *ctx;
    vggcl_model *m;
    ck_assert_msg(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(m->n_steps, 1);
    const float x[3] = { 0.3f, -0.7f, 1.1f };
    float logits[2];
    ck_assert(vggcl_forward(ctx, m, x, 1, 1, 1, logits, NULL) == VGGCL_OK);
    double feat[3];
    for (int oc = 0; oc < 3; oc++) {
        double acc = cb[oc];
        for (int ic = 0; ic < 3; ic++) acc += (double)w[(oc * 3 + ic) * 9 + 4] * x[ic];
        acc = (acc - mu[oc]) / sqrt(var[oc] + 1e-5) * g[oc] + be[oc];
        feat[oc] = acc > 0 ? acc : 0;
    }
    for (int c = 0; c < 2; c++) {
        double want = hb[c];
        for (int k = 0; k < 3; k++) want += hw[c * 3 + k] * feat[k];
        ck_assert_msg(fabs(logits[c] - want) < 1e-6 * (1 + fabs(want)), "logit %d: %g, by hand %g", c, logits[c],
                      want);
    }
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_plan_custom_head_and_ignored_keys)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_head(&b, "fc", 5, 4);
    add(&b, "some.other.tensor", 1, 3, 0, 0, 0, 0, 1);
    const char *path = write_model(&b, "head.safetensors", NULL);
    vggcl_ctx *ctx;
    vggcl_model *m;
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, "fc", &m) == VGGCL_OK);
    ck_assert_int_eq(vggcl_model_classes(m), 5);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    expect_model_error(path, NULL, "classifier.0.weight' not found");
}
END_TEST

/* classifier.K in order of K is a dense chain: after GAP when classifier.0 takes the last conv's
 * width, after the 7x7 pool when it takes that x 49; the file's class names and metadata are kept. */
START_TEST(test_plan_dense_chain_and_metadata)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 6, 4), add_head(&b, "classifier.2", 5, 6),
        add_head(&b, "classifier.10", 3, 5);
    const char *path = write_model(&b, "chain.safetensors",
                                   "{\"vggcl.classes\":\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\",\"other\":\"x\"}");
    vggcl_ctx *ctx;
    vggcl_model *m;
    ck_assert_msg(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(m->n_hidden, 2);
    ck_assert_int_eq(m->pool_to, 0);
    ck_assert_str_eq(m->hidden_name[1], "classifier.2");
    ck_assert_str_eq(m->head_name, "classifier.10");
    ck_assert_int_eq(vggcl_model_classes(m), 3);
    ck_assert_str_eq(vggcl_model_class_name(m, 2), "c");
    ck_assert_ptr_null(vggcl_model_class_name(m, 3));
    ck_assert_str_eq(vggcl_model_metadata(m, "other"), "x");
    ck_assert_ptr_null(vggcl_model_metadata(m, "vggcl.pool5"));
    float x[3 * 8 * 8], cams[4];
    for (int i = 0; i < 3 * 8 * 8; i++) x[i] = (float)(i % 7) - 3.0f;
    ck_assert(vggcl_forward_cam(ctx, m, x, 1, 8, 8, NULL, NULL, NULL, cams, NULL) == VGGCL_ERR_ARG);
    ck_assert(strstr(vggcl_message(ctx), "a chain of dense layers after GAP"));
    ck_assert(vggcl_check_cam(ctx, m) == VGGCL_ERR_ARG); /* (asked after loading, before any pass) */
    ck_assert(strstr(vggcl_message(ctx), "need a GAP head with one linear layer; this model's head is a chain of "
                                         "dense layers after GAP"));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);

    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 6, 4 * 49), add_head(&b, "classifier.2", 3, 6);
    path = write_model(&b, "flat.safetensors", NULL);
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK);
    ck_assert_int_eq(m->pool_to, 7);
    ck_assert_int_eq(m->n_hidden, 1);
    ck_assert_ptr_null(vggcl_model_class_name(m, 0));
    ck_assert(vggcl_check_cam(ctx, m) == VGGCL_ERR_ARG);
    ck_assert(strstr(vggcl_message(ctx), "a chain of dense layers after a 7x7 pool"));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);

    /* without a head: features only */
    add_conv(&b, 0, 4, 3);
    path = write_model(&b, "trunk.safetensors", NULL);
    ctx = vggcl_ctx_new();
    ck_assert(vggcl_select_device(ctx, "ref") == VGGCL_OK);
    vggcl_load_options o = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 1 };
    ck_assert(vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK);
    ck_assert_int_eq(vggcl_model_classes(m), 0);
    float f[4], y[3];
    ck_assert(vggcl_forward(ctx, m, x, 1, 8, 8, NULL, f) == VGGCL_OK);
    ck_assert(vggcl_forward(ctx, m, x, 1, 8, 8, y, NULL) == VGGCL_ERR_ARG);
    ck_assert(strstr(vggcl_message(ctx), "without a head"));
    ck_assert(vggcl_check_cam(ctx, m) == VGGCL_ERR_ARG);
    ck_assert_str_eq(vggcl_message(ctx), "the model was loaded without a head (features only): no maps");
    ck_assert(vggcl_forward_cam(ctx, m, x, 1, 8, 8, NULL, NULL, NULL, cams, NULL) == VGGCL_ERR_ARG);
    ck_assert_str_eq(vggcl_message(ctx), "the model was loaded without a head (features only): no maps");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    expect_model_error(path, NULL, "classifier.0.weight' not found");

    /* a middle layer of the wrong width; class names that do not fit */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 6, 4), add_head(&b, "classifier.2", 3, 5);
    expect_model_error(write_model(&b, "chain_width.safetensors", NULL), NULL, "classifier.0's output width");
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 3, 4);
    expect_model_error(write_model(&b, "names.safetensors", "{\"vggcl.classes\":\"[\\\"a\\\"]\"}"), NULL,
                       "is a list of 1; expected a JSON list of 3 class names (the head has 3 classes)");
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4); /* (text after the list was taken) */
    expect_model_error(write_model(&b, "names_more.safetensors", "{\"vggcl.classes\":\"[\\\"a\\\",\\\"b\\\"] more\"}"),
                       NULL, "\"vggcl.classes\" is not valid JSON from byte 10 on; expected a JSON list of 2");
    /* a list with a lone UTF-16 surrogate, which cJSON cannot read: said as that, where (it was "not a JSON list",
     * then "not valid JSON", which it is) */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "surrogate.safetensors",
                                   "{\"vggcl.classes\": \"[\\\"cat\\\", \\\"d\\\\ud800g\\\"]\"}"),
                       NULL, "\"vggcl.classes\" is a list whose name holds a lone UTF-16 surrogate (\\ud800 at byte "
                       "10), no character; expected a JSON list of 2");
    /* a NUL in a name: cJSON cut "a\0x" to "a", the same name as the next (eval then scored one as the other) */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 3, 4);
    expect_model_error(write_model(&b, "nul.safetensors",
                                   "{\"vggcl.classes\": \"[\\\"a\\\\u0000x\\\", \\\"a\\\", \\\"b\\\"]\"}"),
                       NULL, "\"vggcl.classes\": a name holds a NUL character");
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 3, 4); /* (a backslash, then u0000: no NUL) */
    path = write_model(&b, "backslash.safetensors",
                       "{\"vggcl.classes\": \"[\\\"a\\\\\\\\u0000\\\", \\\"b\\\", \\\"c\\\"]\"}");
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK);
    ck_assert_str_eq(vggcl_model_class_name(m, 0), "a\\u0000");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_plan_errors)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_conv(&b, 2, 5, 3), add_head(&b, "classifier.0", 2, 5);
    expect_model_error(write_model(&b, "chain.safetensors", NULL), NULL, "features.2.weight' has shape (5, 3, 3, 3); expected C_in = 4");

    add_conv(&b, 0, 4, 1), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "gray.safetensors", NULL), NULL, "expected C_in = 3");

    add(&b, "features.0.weight", 4, 4, 3, 5, 5, 0, 1), add(&b, "features.0.bias", 1, 4, 0, 0, 0, 0, 1);
    add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "k5.safetensors", NULL), NULL, "expected (C_out, C_in, 3, 3)");

    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 8);
    expect_model_error(write_model(&b, "head_width.safetensors", NULL), NULL, "head's input must be the last conv's width");

    add_conv(&b, 0, 4, 3), add_conv(&b, 5, 4, 4), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "gap_index.safetensors", NULL), NULL, "conv features.5 is out of place");

    add_conv(&b, 0, 4, 3), add(&b, "classifier.0.weight", 2, 2, 4, 0, 0, 0, 1);
    expect_model_error(write_model(&b, "no_bias.safetensors", NULL), NULL, "classifier.0.bias' not found");

    add_conv(&b, 0, 4, 3), add(&b, "features.1.running_mean", 1, 4, 0, 0, 0, 0, 1);
    add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "half_bn.safetensors", NULL), NULL, "neither a conv nor a BatchNorm");

    add_conv(&b, 0, 4, 3), add(&b, "features.0.running_mean", 1, 4, 0, 0, 0, 0, 1), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "conv_stats.safetensors", NULL), NULL, "tensor 'features.0.running_mean' is a "
                       "BatchNorm's, at the index of conv features.0 (its BatchNorm is features.1)");
    add_conv(&b, 0, 4, 3), add(&b, "features.0.scale", 1, 4, 0, 0, 0, 0, 1), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "odd_key.safetensors", NULL), NULL, "features.0.scale' is not a VGG features tensor");

    add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "no_convs.safetensors", NULL), NULL, "no convolution weights");

    /* a BatchNorm1d between the dense layers: refused, not passed over (the logits were not torch's) */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 4, 4), add(&b, "classifier.1.weight", 1, 4, 0, 0, 0, 0, 1);
    add_head(&b, "classifier.3", 2, 4);
    expect_model_error(write_model(&b, "head_bn.safetensors", NULL), NULL,
                       "'classifier.1.weight' of shape (4,) is not a dense layer's");
    /* dense layers next to each other, nn.Sequential(Linear, Linear): no ReLU between them (one was run) */
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 5, 4), add_head(&b, "classifier.1", 2, 5);
    expect_model_error(write_model(&b, "no_relu.safetensors", NULL), NULL,
                       "dense layers classifier.0 and classifier.1 are next to each other: the head puts a ReLU");
    /* indices not as torch writes them: features.00 took features.0's place, classifier.03 was not found */
    add_conv(&b, 0, 4, 3), add(&b, "features.00.weight", 4, 4, 3, 3, 3, 0, 1), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "zero_zero.safetensors", NULL), NULL,
                       "'features.00.weight' is not a VGG features tensor");
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.03", 2, 4);
    expect_model_error(write_model(&b, "zero_three.safetensors", NULL), NULL,
                       "'classifier.03.weight' is not a dense layer's: its index is not written as torch writes it");
    /* a _bn model with a BatchNorm missing (it was read as a max pool after that conv) */
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 4, 4), add_bn(&b, 4, 4), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "bn_missing.safetensors", NULL), NULL,
                       "conv features.0 has no BatchNorm after it (features.1), but conv features.3 has one");
    /* a --head prefix too long for its names (cut at 63 characters, and a tensor not in the file named) */
    char long_head[200];
    memset(long_head, 'h', sizeof long_head - 1);
    long_head[sizeof long_head - 1] = '\0';
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "long_head.safetensors", NULL), long_head, "head prefix of 199 characters");

    /* a head of one layer not at classifier.0, width x 49 wide: the 7x7 pool is read from classifier.0 alone,
     * so "or its width x 7 x 7" is not offered (it described the very shape refused); torchvision's three
     * layers, their first too narrow: offered */
    for (int three = 0; three < 2; three++) {
        add_conv(&b, 0, 4, 3);
        if (three)
            add_head(&b, "classifier.0", 6, 5), add_head(&b, "classifier.3", 6, 6), add_head(&b, "classifier.6", 2, 6);
        else
            add_head(&b, "classifier.1", 2, 4 * 49);
        vggcl_ctx *ctx;
        vggcl_model *m = NULL;
        ck_assert_int_ne(load(&ctx, write_model(&b, "head49.safetensors", NULL), VGGCL_POOL5_AUTO, NULL, &m), VGGCL_OK);
        ck_assert_msg(strstr(vggcl_message(ctx), "must be the last conv's width") &&
                          !strstr(vggcl_message(ctx), "7 x 7") == !three, "%s", vggcl_message(ctx));
        vggcl_ctx_free(ctx);
    }

    float *w = add(&b, "features.0.weight", 4, 4, 3, 3, 3, 0, 1);
    w[17] = NAN;
    add_head(&b, "classifier.0", 2, 4);
    expect_model_error(write_model(&b, "nan.safetensors", NULL), NULL,
                       "'features.0.weight' holds a non-finite value (nan) at element 17");

    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4);
    const char *bad_meta = write_model(&b, "bad_meta.safetensors", "{\"vggcl.pool5\":\"maybe\"}");
    expect_model_error(bad_meta, NULL, "\"keep\" or \"drop\"");
    { /* the same with pool5 given (it was read only when the option left it to the file) */
        vggcl_ctx *ctx;
        vggcl_model *m = NULL;
        ck_assert_int_eq(load(&ctx, bad_meta, VGGCL_POOL5_KEEP, NULL, &m), VGGCL_ERR_FORMAT);
        ck_assert_ptr_null(m);
        ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), "\"vggcl.pool5\" is \"maybe\""));
        vggcl_ctx_free(ctx);
    }

    add_conv(&b, 0, 4, 3), add_bn(&b, 1, 4), add_head(&b, "classifier.0", 2, 4);
    b.bufs[5][2] = -1.0f; /* running_var */
    expect_model_error(write_model(&b, "neg_var.safetensors", NULL), NULL, "negative variance");
    /* a BatchNorm weight that folds past a float (every logit NaN, exit 0) */
    add_conv(&b, 0, 4, 3), add_bn(&b, 1, 4), add_head(&b, "classifier.0", 2, 4);
    b.bufs[2][1] = 1e37f, b.bufs[5][1] = 0; /* weight, running_var */
    expect_model_error(write_model(&b, "bn_overflow.safetensors", NULL), NULL,
                       "BatchNorm 'features.1.weight' folded into conv 'features.0.weight' overflows a float at channel 1");

    /* a used tensor in an unsupported dtype */
    const double f64[4] = { 1, 2, 3, 4 };
    tu_tensor t[3] = {
        { "features.0.weight", "F64", 4, { 4, 3, 3, 3 }, NULL, NULL, 0 },
    };
    double *big = calloc(108, sizeof *big);
    t[0].raw = big, t[0].raw_len = 108 * sizeof *big;
    t[1] = (tu_tensor){ "classifier.0.weight", "F64", 2, { 1, 4 }, NULL, f64, sizeof f64 };
    t[2] = (tu_tensor){ "classifier.0.bias", "F64", 1, { 1 }, NULL, f64, sizeof f64[0] };
    const char *path = tu_tmp("f64.safetensors");
    tu_write_safetensors(path, t, 3, NULL);
    expect_model_error(path, NULL, "dtype F64; expected F32, F16 or BF16");
    free(big);
}
END_TEST

START_TEST(test_forward_input_errors)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 4, 4), add_head(&b, "classifier.0", 2, 4);
    const char *path = write_model(&b, "small.safetensors", NULL);
    vggcl_ctx *ctx;
    vggcl_model *m;
    ck_assert(load(&ctx, path, VGGCL_POOL5_AUTO, NULL, &m) == VGGCL_OK);
    float x[3 * 3 * 3] = { 0 }, y[2];
    ck_assert_int_eq(vggcl_forward(ctx, m, x, 1, 3, 3, y, NULL), VGGCL_ERR_SHAPE);
    ck_assert_msg(strstr(vggcl_message(ctx), "needs at least 4x4"), "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_forward(ctx, m, x, 0, 3, 3, y, NULL), VGGCL_ERR_SHAPE);
    ck_assert_int_eq(vggcl_forward(ctx, m, NULL, 1, 4, 4, y, NULL), VGGCL_ERR_ARG);
    ck_assert_msg(strstr(vggcl_message(ctx), "no data (NULL)"), "%s", vggcl_message(ctx));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    ck_assert_int_eq(vggcl_model_classes(NULL) + vggcl_model_features(NULL) + vggcl_model_pool5(NULL), 0);
}
END_TEST

/* A head whose width is not the trunk's last convolution's channels: refused, naming the trunk and the layer
 * (it wrote a model vggcl itself refuses to load); the right width writes one that loads. */
START_TEST(test_save_with_head_width)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 6, 4), add_head(&b, "classifier.0", 2, 6);
    char trunk[512], out[512]; /* (tu_tmp's path is one static buffer) */
    snprintf(trunk, sizeof trunk, "%s", write_model(&b, "trunk.safetensors", NULL));
    snprintf(out, sizeof out, "%s", tu_tmp("headed.safetensors"));
    const float w[2 * 6] = { 0 }, bias[2] = { 0 };
    vggcl_ctx *ctx = vggcl_ctx_new();
    remove(out);
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 5, w, bias, NULL, 0), VGGCL_ERR_SHAPE);
    /* a width far past the caller's arrays: refused by the trunk's width before they are read (the finite-value
     * scan read 2^29 floats of a 12-float array) */
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 1 << 28, w, bias, NULL, 0), VGGCL_ERR_SHAPE);
    ck_assert_msg(strstr(vggcl_message(ctx), trunk) && strstr(vggcl_message(ctx), "features.3.weight has 6 output"),
                  "%s", vggcl_message(ctx));
    ck_assert_msg(!exists(out), "%s written", out);
    /* metadata that is not UTF-8 (a class folder's name in Latin-1): refused, not a file the reader refuses */
    const char *meta[2][2] = { { "vggcl.classes", "[\"d\xe9g\"]" }, { "k\xe9", "v" } };
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 6, w, bias, meta[i], 1), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), out) && strstr(vggcl_message(ctx), "expected UTF-8 text") &&
                          strstr(vggcl_message(ctx), i ? "pair 0's key" : "\"vggcl.classes\" is not UTF-8"),
                      "%s", vggcl_message(ctx));
        ck_assert_msg(!exists(out), "%s written", out);
    }
    /* a weight or bias that is not finite: refused (a file the reader then refused was written) */
    float nan_w[2 * 6] = { 0 }, inf_b[2] = { 0, INFINITY };
    nan_w[7] = NAN;
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 6, nan_w, bias, NULL, 0), VGGCL_ERR_ARG);
    ck_assert_msg(strstr(vggcl_message(ctx), "the head's weight holds a non-finite value at 7"), "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 6, w, inf_b, NULL, 0), VGGCL_ERR_ARG);
    ck_assert_msg(strstr(vggcl_message(ctx), "the head's bias holds a non-finite value at 1"), "%s", vggcl_message(ctx));
    ck_assert_msg(!exists(out), "%s written", out);
    /* metadata a load refuses (class names for another head, a pool5 that is neither, a preset value out of its
     * range): refused, said as the load says it (each was written, replacing the file, which the load refused) */
    static const char *const bad[][3] = {
        { "vggcl.classes", "[\"a\", \"b\", \"c\"]", "\"vggcl.classes\" is a list of 3; expected a JSON list of 2" },
        { "vggcl.pool5", "maybe", "\"vggcl.pool5\" is \"maybe\"; expected \"keep\" or \"drop\"" },
        { "vggcl.std", "1,0,1", "\"vggcl.std\" is \"1,0,1\"; expected three numbers R,G,B (std > 0)" },
        { "vggcl.crop", "224.5", "\"vggcl.crop\" is \"224.5\"; expected a whole size" },
        /* numbers as the command line takes them (sscanf read hex, '+', blanks, an exponent in a size) */
        { "vggcl.resize", "0x10", "\"vggcl.resize\" is \"0x10\"; expected a whole size" },
        { "vggcl.resize", "1e3", "\"vggcl.resize\" is \"1e3\"; expected a whole size" },
        { "vggcl.crop", "+8", "\"vggcl.crop\" is \"+8\"; expected a whole size" },
        { "vggcl.crop", " 16", "\"vggcl.crop\" is \" 16\"; expected a whole size" },
        { "vggcl.draft", "1.5", "\"vggcl.draft\" is \"1.5\"; expected 0 or 1" },
        { "vggcl.mean", "0.5,0x1p-1,0.5", "\"vggcl.mean\" is \"0.5,0x1p-1,0.5\"; expected three finite numbers" },
        { "vggcl.std", "0.5, 0.5,0.5", "\"vggcl.std\" is \"0.5, 0.5,0.5\"; expected three numbers" },
        { "vggcl.std", "0.5,0.5,", "\"vggcl.std\" is \"0.5,0.5,\"; expected three numbers" },
        /* (each number within its bounds, together past a float's) */
        { "vggcl.std", "1e-45,1e-45,1e-45", "__metadata__ \"vggcl.std\" take pixel values past a float's range" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 6, w, bias, bad[i], 1), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), out) && strstr(vggcl_message(ctx), bad[i][2]) &&
                          strstr(vggcl_message(ctx), "(a model written with it would be refused)"), "%s",
                      vggcl_message(ctx));
        ck_assert_msg(!exists(out), "%s written", out);
    }
    /* the trunk's own: its file named, VGGCL_ERR_FORMAT; a pair given for the key replaces it */
    char bad_trunk[512];
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 6, 4); /* (written: the builder is empty again) */
    snprintf(bad_trunk, sizeof bad_trunk, "%s", write_model(&b, "bad_trunk.safetensors", "{\"vggcl.std\":\"bad\"}"));
    ck_assert_int_eq(vggcl_save_with_head(ctx, bad_trunk, out, 2, 6, w, bias, NULL, 0), VGGCL_ERR_FORMAT);
    ck_assert_msg(strstr(vggcl_message(ctx), bad_trunk) && strstr(vggcl_message(ctx), "\"vggcl.std\" is \"bad\""), "%s",
                  vggcl_message(ctx));
    ck_assert_msg(!exists(out), "%s written", out);
    const char *std[] = { "vggcl.std", "0.5,0.5,0.5" };
    ck_assert_msg(vggcl_save_with_head(ctx, bad_trunk, out, 2, 6, w, bias, std, 1) == VGGCL_OK, "%s", vggcl_message(ctx));
    remove(out), remove(bad_trunk);
    const char *good[] = { "vggcl.classes", "[\"a\", \"b\"]", "vggcl.pool5", "drop", "vggcl.crop", "64", "other", "x" };
    ck_assert_msg(vggcl_save_with_head(ctx, trunk, out, 2, 6, w, bias, good, 4) == VGGCL_OK, "%s", vggcl_message(ctx));
    remove(out);
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 2, 6, w, bias, NULL, 0), VGGCL_OK);
    vggcl_model *m;
    ck_assert_int_eq(vggcl_select_device(ctx, "ref"), VGGCL_OK);
    ck_assert_msg(vggcl_model_load(ctx, out, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_model_classes(m), 2);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    remove(out);
}
END_TEST

/* A new head drops what the trunk's metadata said of the head it replaces (its class names, how it was
 * trained, the one input size its graph took) and keeps the rest: a trunk naming 2 classes under a head of 3
 * wrote a file vggcl refused to load ("names 2 classes; the head has 3"). */
START_TEST(test_save_with_head_metadata)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_conv(&b, 3, 6, 4), add_head(&b, "classifier.0", 2, 6);
    char trunk[512], out[512];
    snprintf(trunk, sizeof trunk, "%s", write_model(&b, "named_trunk.safetensors",
                                                    "{\"vggcl.classes\":\"[\\\"a\\\",\\\"b\\\"]\",\"vggcl.trained\":\"x\","
                                                    "\"vggcl.output\":\"softmax dropped\",\"vggcl.pool5\":\"drop\","
                                                    "\"vggcl.input_size\":\"8,8\"}"));
    snprintf(out, sizeof out, "%s", tu_tmp("renamed.safetensors"));
    const float w[3 * 6] = { 0 }, bias[3] = { 0 };
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_model *m;
    ck_assert_int_eq(vggcl_select_device(ctx, "ref"), VGGCL_OK);
    ck_assert_msg(vggcl_model_load(ctx, trunk, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_str_eq(vggcl_model_class_name(m, 1), "b"); /* (the trunk as written) */
    vggcl_model_free(m);
    ck_assert_msg(vggcl_save_with_head(ctx, trunk, out, 3, 6, w, bias, NULL, 0) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_msg(vggcl_model_load(ctx, out, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_model_classes(m), 3);
    ck_assert_ptr_null(vggcl_model_class_name(m, 0));
    ck_assert_ptr_null(vggcl_model_metadata(m, "vggcl.trained"));
    ck_assert_ptr_null(vggcl_model_metadata(m, "vggcl.output"));
    ck_assert_ptr_null(vggcl_model_metadata(m, "vggcl.input_size")); /* (a GAP head takes any size) */
    ck_assert_str_eq(vggcl_model_metadata(m, "vggcl.pool5"), "drop");
    vggcl_model_free(m);
    const char *meta[] = { "vggcl.classes", "[\"x\", \"y\", \"z\"]" }; /* (given: the caller's) */
    ck_assert_int_eq(vggcl_save_with_head(ctx, trunk, out, 3, 6, w, bias, meta, 1), VGGCL_OK);
    ck_assert_msg(vggcl_model_load(ctx, out, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_str_eq(vggcl_model_class_name(m, 2), "z");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    remove(out), remove(trunk);
}
END_TEST

/* .npy writing refuses a negative or overflowing shape and missing data, naming the file, and leaves no file
 * (a shape of -1 wrote a header neither numpy nor vggcl could read). */
START_TEST(test_npy_write_arguments)
{
    char out[512];
    snprintf(out, sizeof out, "%s", tu_tmp("bad.npy"));
    const float v[4] = { 1, 2, 3, 4 };
    static const long long shapes[][2] = { { -1, -4 }, { -1, 4 }, { 1LL << 40, 1LL << 40 } };
    vggcl_ctx *ctx = vggcl_ctx_new();
    remove(out);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        ck_assert_int_eq(vggcl_npy_write(ctx, out, 2, shapes[i], v), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), out) && strstr(vggcl_message(ctx), "shape["), "%s",
                      vggcl_message(ctx));
        ck_assert_msg(!exists(out), "%s written", out);
    }
    ck_assert_int_eq(vggcl_npy_write(ctx, out, 2, (const long long[]){ 2, 2 }, NULL), VGGCL_ERR_ARG);
    vggcl_npy_writer *w;
    ck_assert_int_eq(vggcl_npy_writer_open(ctx, out, 1, (const long long[]){ 2 }, &w), VGGCL_OK);
    ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, v, -1), VGGCL_ERR_ARG);
    ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, v, 2), VGGCL_OK); /* (the writer still works) */
    ck_assert_int_eq(vggcl_npy_writer_close(ctx, w, 1), VGGCL_OK);
    int ndim;
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *back;
    ck_assert_int_eq(vggcl_npy_read(ctx, out, &ndim, shape, &back), VGGCL_OK);
    ck_assert(ndim == 2 && shape[0] == 2 && shape[1] == 2 && back[3] == 4);
    vggcl_free(back);
    /* ready: written and durable, not yet named (the earlier file stays until close names it), and no rows
     * after it; closed without commit, nothing is left; readied again and closed, it is named */
    for (int commit = 0; commit < 2; commit++) {
        ck_assert_int_eq(vggcl_npy_writer_open(ctx, out, 1, (const long long[]){ 2 }, &w), VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, v, 1), VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_writer_ready(ctx, w), VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_writer_ready(ctx, w), VGGCL_OK); /* (twice: still ready) */
        ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, v, 1), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_npy_read(ctx, out, &ndim, shape, &back), VGGCL_OK);
        ck_assert(shape[0] == 2); /* (the earlier array) */
        vggcl_free(back);
        ck_assert_int_eq(vggcl_npy_writer_close(ctx, w, commit), VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_read(ctx, out, &ndim, shape, &back), VGGCL_OK);
        ck_assert_int_eq(shape[0], commit ? 1 : 2);
        vggcl_free(back);
    }
    ck_assert_int_eq(vggcl_npy_writer_ready(ctx, NULL), VGGCL_ERR_ARG);
    vggcl_ctx_free(ctx);
    remove(out);
}
END_TEST

/* A model of one conv and a head whose __metadata__ is meta (JSON), written as name and loaded on the reference
 * device: its path into path (512 bytes; tu_tmp's path is one static buffer). */
static void load_with_metadata(const char *name, const char *meta, char path[512], vggcl_ctx **ctx, vggcl_model **m)
{
    builder b = { 0 };
    add_conv(&b, 0, 4, 3), add_head(&b, "classifier.0", 2, 4);
    snprintf(path, 512, "%s", write_model(&b, name, meta));
    ck_assert_msg(load(ctx, path, VGGCL_POOL5_AUTO, NULL, m) == VGGCL_OK, "%s", vggcl_message(*ctx));
}

/* The preprocessing a model asks for: the fields given kept, the rest from the file's metadata, else
 * torchvision's; a malformed value refused naming the file, the key and the value, but only when it would
 * be used. */
START_TEST(test_model_preprocess)
{
    static const struct {
        const char *meta, *key; /* key: the one refused, NULL when the metadata is read */
    } cases[] = {
        { "{\"vggcl.resize\":\"72.0\",\"vggcl.crop\":\"64\",\"vggcl.mean\":\"0.5,-1,2e-1\",\"vggcl.draft\":\"1\"}", NULL },
        { "{\"vggcl.resize\":\"-1\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"16385\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"224.7\"}", "vggcl.resize" }, /* (it was cut to 224) */
        /* both sides, "H,W": each from 1, two of them, written as the command line takes numbers */
        { "{\"vggcl.resize\":\"0,5\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"5,0\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"5,\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\",5\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"5,5,5\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"16385,2\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"2,2.5\"}", "vggcl.resize" },
        { "{\"vggcl.resize\":\"5x5\"}", "vggcl.resize" }, /* (the command line's form: the metadata's is "5,5") */
        { "{\"vggcl.resize\":\"5, 5\"}", "vggcl.resize" },
        { "{\"vggcl.crop\":\"1e-3\"}", "vggcl.crop" },
        { "{\"vggcl.crop\":\"nan\"}", "vggcl.crop" },
        { "{\"vggcl.crop\":\"64 px\"}", "vggcl.crop" },
        { "{\"vggcl.mean\":\"0.5\"}", "vggcl.mean" },
        { "{\"vggcl.mean\":\"1,inf,1\"}", "vggcl.mean" },
        { "{\"vggcl.std\":\"0,0,0\"}", "vggcl.std" },
        { "{\"vggcl.std\":\"1,1,1,\"}", "vggcl.std" },
        { "{\"vggcl.std\":\"1,-1,1\"}", "vggcl.std" },
        { "{\"vggcl.draft\":\"2\"}", "vggcl.draft" },
        { "{\"vggcl.draft\":\"0.5\"}", "vggcl.draft" },
        { "{\"vggcl.draft\":\"yes\"}", "vggcl.draft" },
    };
    vggcl_preprocess d, p;
    vggcl_preprocess_defaults(&d);
    vggcl_preprocess_unset(&p);
    ck_assert_int_eq(vggcl_model_preprocess(NULL, NULL, &p), VGGCL_OK); /* no model: the defaults */
    ck_assert_mem_eq(&p, &d, sizeof p);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        vggcl_ctx *ctx;
        vggcl_model *m;
        load_with_metadata("preset.safetensors", cases[i].meta, path, &ctx, &m);
        vggcl_preprocess_unset(&p);
        const vggcl_status st = vggcl_model_preprocess(ctx, m, &p);
        if (!cases[i].key) {
            ck_assert_msg(st == VGGCL_OK, "%s", vggcl_message(ctx));
            ck_assert(p.resize == 72 && p.crop == 64 && p.mean[0] == 0.5f && p.mean[1] == -1 && p.mean[2] == 0.2f);
            ck_assert_int_eq(p.draft, 1);
            ck_assert_int_eq(p.resize_w, 0);
            ck_assert_mem_eq(p.std, d.std, sizeof p.std);
        } else {
            char want[640];
            snprintf(want, sizeof want, "%s: __metadata__ \"%s\" is \"", path, cases[i].key);
            ck_assert_int_eq(st, VGGCL_ERR_FORMAT);
            ck_assert_msg(strstr(vggcl_message(ctx), want), "'%s' lacks '%s'", vggcl_message(ctx), want);
            /* *p as it was (the fields before the bad one were filled: a fallback to the defaults kept them) */
            ck_assert(p.resize == -1 && p.crop == -1 && isnan(p.mean[0]) && isnan(p.std[0]) && p.draft == -1 &&
                      p.resize_w == -1);
            /* given, the field is not read from the file */
            vggcl_preprocess_unset(&p);
            p.resize = 10, p.crop = 0, p.mean[0] = 1, p.mean[1] = p.mean[2] = 0.5f, p.std[0] = 3, p.std[1] = 4;
            p.std[2] = 9.5f, p.draft = 0;
            ck_assert_msg(vggcl_model_preprocess(ctx, m, &p) == VGGCL_OK, "%s", vggcl_message(ctx));
            ck_assert(p.resize == 10 && p.crop == 0 && p.mean[2] == 0.5f && p.std[2] == 9.5f && p.draft == 0);
            ck_assert_int_eq(p.resize_w, 0); /* (a resize given alone: the short side's) */
        }
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        remove(path);
    }
    /* "H,W": both sides (Resize((H, W))), read whole; a resize given takes its resize_w with it (the file's
     * width not kept beside a short side given), a resize not given takes the file's two */
    {
        char path[512];
        vggcl_ctx *ctx;
        vggcl_model *m;
        load_with_metadata("sides.safetensors", "{\"vggcl.resize\":\"48,16384\"}", path, &ctx, &m);
        vggcl_preprocess_unset(&p);
        ck_assert_msg(vggcl_model_preprocess(ctx, m, &p) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert(p.resize == 48 && p.resize_w == 16384 && p.crop == d.crop);
        vggcl_preprocess_unset(&p);
        p.resize = 30;
        ck_assert_msg(vggcl_model_preprocess(ctx, m, &p) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert(p.resize == 30 && p.resize_w == 0);
        vggcl_preprocess_unset(&p);
        p.resize = 30, p.resize_w = 20;
        ck_assert_msg(vggcl_model_preprocess(ctx, m, &p) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert(p.resize == 30 && p.resize_w == 20);
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        remove(path);
    }
    /* a normalization each of whose numbers is within bounds, together past a float's range (a std of 1e-45:
     * every pixel infinite, every logit NaN, exit 0) */
    static const char *const past[] = { "{\"vggcl.std\":\"1e-45,1e-45,1e-45\"}",
                                        "{\"vggcl.mean\":\"3e38,0,0\",\"vggcl.std\":\"1e-38,1,1\"}" };
    static const char *const keys[] = { "__metadata__ \"vggcl.std\" take", "__metadata__ \"vggcl.mean\" and \"vggcl.std\" take" };
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        char path[512];
        vggcl_ctx *ctx;
        vggcl_model *m;
        load_with_metadata("past.safetensors", past[i], path, &ctx, &m);
        vggcl_preprocess_unset(&p);
        ck_assert_int_eq(vggcl_model_preprocess(ctx, m, &p), VGGCL_ERR_FORMAT);
        ck_assert_msg(strstr(vggcl_message(ctx), keys[i]) &&
                          strstr(vggcl_message(ctx), "take pixel values past a float's range"), "%s", vggcl_message(ctx));
        /* the file's std with the caller's mean: still the file's where its std fails with any mean */
        vggcl_preprocess_unset(&p);
        p.mean[0] = p.mean[1] = p.mean[2] = 0.5f;
        ck_assert_int_eq(vggcl_model_preprocess(ctx, m, &p), i == 0 ? VGGCL_ERR_FORMAT : VGGCL_OK); /* (1e-38 takes 0.5) */
        /* given by the caller: the caller's, not the file's (ERR_ARG) */
        vggcl_preprocess_unset(&p);
        p.mean[0] = p.mean[1] = p.mean[2] = 0, p.std[0] = p.std[1] = p.std[2] = 1e-40f;
        ck_assert_int_eq(vggcl_model_preprocess(ctx, m, &p), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), "normalization: mean 0,0,0"), "%s", vggcl_message(ctx));
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        remove(path);
    }
    { /* the file's mean, fine with torchvision's std, past a float with the caller's: the caller's, saying which
       * value is the model's */
        char path[512];
        vggcl_ctx *ctx;
        vggcl_model *m;
        load_with_metadata("mixed.safetensors", "{\"vggcl.mean\":\"1e36,0,0\"}", path, &ctx, &m);
        vggcl_preprocess_unset(&p);
        ck_assert_int_eq(vggcl_model_preprocess(ctx, m, &p), VGGCL_OK);
        vggcl_preprocess_unset(&p);
        p.std[0] = 0.001f, p.std[1] = p.std[2] = 1;
        ck_assert_int_eq(vggcl_model_preprocess(ctx, m, &p), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), "mean 1e+36,0,0 (the model's) and std 0.001,1,1 take"), "%s",
                      vggcl_message(ctx));
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        remove(path);
    }
    { /* given on the scale of 0..255 (every input a near-constant, wrong answers, exit 0): a mean above 1 and a
       * std of 10 or more refused, saying the values divided by 255; a file's own taken (above: 1e36) */
        static const struct {
            float mean[3], std[3];
            const char *said; /* NULL: taken */
        } given[] = {
            { { 123.68f, 116.78f, 103.94f },
              { NAN },
              "mean 123.68,116.78,103.94 is above 1, as on the scale of 0..255: the pixels are x/255, from 0 to 1, "
              "before (x - mean)/std; give it divided by 255 (0.485,0.458,0.4076)" },
            { { NAN }, { 0.2f, 58.4f, 0.2f }, "std 0.2,58.4,0.2 is 10 or above, as on the scale of 0..255" },
            { { NAN }, { 10, 1, 1 }, "std 10,1,1 is 10 or above" },
            { { 1, 1, 1 }, { 9.99f, 1, 1 }, NULL },
        };
        vggcl_ctx *ctx = vggcl_ctx_new();
        for (size_t i = 0; i < sizeof given / sizeof given[0]; i++) {
            vggcl_preprocess_unset(&p);
            if (!isnan(given[i].mean[0])) memcpy(p.mean, given[i].mean, sizeof p.mean);
            if (!isnan(given[i].std[0])) memcpy(p.std, given[i].std, sizeof p.std);
            const vggcl_status st = vggcl_model_preprocess(ctx, NULL, &p);
            ck_assert_int_eq(st, given[i].said ? VGGCL_ERR_ARG : VGGCL_OK);
            ck_assert_msg(!given[i].said || strstr(vggcl_message(ctx), given[i].said), "%s", vggcl_message(ctx));
        }
        vggcl_ctx_free(ctx);
    }
    /* no model, no context (the defaults alone): the caller's values refused, not a crash (it read m->path) */
    vggcl_preprocess_unset(&p);
    p.std[0] = p.std[1] = p.std[2] = 1e-40f, p.mean[0] = 0.5f, p.mean[1] = p.mean[2] = 0;
    ck_assert_int_eq(vggcl_model_preprocess(NULL, NULL, &p), VGGCL_ERR_ARG);
    vggcl_ctx *ctx = vggcl_ctx_new();
    const unsigned char rgb[12] = { 0, 255, 7, 9 };
    float *out = NULL;
    int oh, ow;
    vggcl_preprocess_defaults(&p);
    p.resize = 0, p.crop = 0, p.std[1] = 1e-45f;
    ck_assert_int_eq(vggcl_image_preprocess(ctx, rgb, 2, 2, &p, &out, &oh, &ow), VGGCL_ERR_ARG);
    ck_assert_msg(strstr(vggcl_message(ctx), "past a float's range"), "%s", vggcl_message(ctx));
    ck_assert_ptr_null(out);
    /* resize_w: 0 to 16384, above 0 only with a resize; then both sides made (a 2 x 2 image to 3 x 5) */
    static const int sides[][2] = { { 4, -2 }, { 4, 16385 }, { 0, 5 } };
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        vggcl_preprocess_defaults(&p);
        p.resize = sides[i][0], p.resize_w = sides[i][1], p.crop = 0;
        ck_assert_int_eq(vggcl_image_preprocess(ctx, rgb, 2, 2, &p, &out, &oh, &ow), VGGCL_ERR_ARG);
        ck_assert_msg(strstr(vggcl_message(ctx), "resize_w"), "%s", vggcl_message(ctx));
        ck_assert_ptr_null(out);
    }
    p.resize = 3, p.resize_w = 5;
    ck_assert_msg(vggcl_image_preprocess(ctx, rgb, 2, 2, &p, &out, &oh, &ow) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert(oh == 3 && ow == 5);
    vggcl_free(out);
    p.resize_w = -1; /* (vggcl_preprocess_unset's, the other fields set: the short side's, as before resize_w) */
    ck_assert_msg(vggcl_image_preprocess(ctx, rgb, 2, 2, &p, &out, &oh, &ow) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert(oh == 3 && ow == 3);
    vggcl_free(out);
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, test_st_malformed);
    tcase_add_test(tc, test_st_file_level);
    tcase_add_test(tc, test_st_other_dtypes);
    tcase_add_test(tc, test_st_dtypes);
    tcase_add_test(tc, test_st_cut_after_open);
    suite_add_tcase(s, tc);
    tc = tcase_create("model plan");
    tcase_add_test(tc, test_plan_pools_and_pool5);
    tcase_add_test(tc, test_plan_batchnorm_fold);
    tcase_add_test(tc, test_plan_custom_head_and_ignored_keys);
    tcase_add_test(tc, test_plan_dense_chain_and_metadata);
    tcase_add_test(tc, test_plan_errors);
    tcase_add_test(tc, test_forward_input_errors);
    tcase_add_test(tc, test_save_with_head_width);
    tcase_add_test(tc, test_save_with_head_metadata);
    tcase_add_test(tc, test_npy_write_arguments);
    tcase_add_test(tc, test_model_preprocess);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
