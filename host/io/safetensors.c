/* Safetensors: 8-byte little-endian header length, a JSON header, then the
 * tensor bytes. Validation follows the reference implementation: bounded
 * header inside the file, a JSON object, known dtypes, offsets in order and
 * contiguous (no holes, no overlap, covering the data section), byte sizes
 * equal to shape x dtype size, numbers plain non-negative integers, no
 * duplicate keys (in the header, __metadata__ or a tensor's entry). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "safetensors.h"

#define MAX_HEADER (100u * 1024u * 1024u) /* the reference reader's limit */
/* JSON values in a header at most: cJSON takes ~64 bytes a value, so a header of 100 MB of "0,"
 * would take 4 GB before any check; a tensor's entry holds ~17 (a VGG16 file ~700) */
#define MAX_VALUES ((size_t)1 << 20)

/* The reference's dtypes and their sizes in bits (a file with one vggcl does not read, on a tensor it does
 * not use, is still a valid file: refused whole for one F8_E8M0 tensor) */
static const struct { const char *name; size_t bits; } dtypes[] = {
    {"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8},
    {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32},
    {"U32", 32}, {"F32", 32}, {"C64", 64}, {"F64", 64}, {"I64", 64}, {"U64", 64},
};

static size_t dtype_bits(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, name)) return dtypes[i].bits;
    return 0;
}

/* 1 when s[0..len) is valid UTF-8 (JSON text must be). */
int vggcl__valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t extra;
        unsigned min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { extra = 1; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        if (i + extra >= len) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += extra + 1;
    }
    return 1;
}

static int cmp_begin(const void *a, const void *b)
{
    const vggcl__st_tensor *x = *(const vggcl__st_tensor *const *)a, *y = *(const vggcl__st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* What a file that is not safetensors may be, from its first bytes (NULL: not known), and in *convert the
 * converter that writes it as safetensors, with its option before the file where it takes one. */
static const char *other_format(const unsigned char *b, const char **convert)
{
    if (!memcmp(b, "PK\3\4", 4) || (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)) { /* (zip: torch.save's; a pickle) */
        *convert = "weights/export_torchvision.py --state-dict";
        return "a PyTorch checkpoint";
    }
    if (b[0] == 0x08 && b[1] >= 3 && b[1] <= 12) { /* (protobuf field 1, ir_version: ONNX's) */
        *convert = "weights/import_onnx.py";
        return "an ONNX model";
    }
    return NULL;
}

/* s as one word of a POSIX shell, for a command a message gives to copy: as it is where it holds only characters
 * no shell reads apart, else in single quotes (each ' as '\''); NULL when out of host memory. To free. */
static char *shell_word(const char *s)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+-:=@,%";
    const size_t n = strlen(s);
    char *w = malloc(4 * n + 3), *o = w;
    if (!w) return NULL;
    if (n && strspn(s, plain) == n) return memcpy(w, s, n + 1);
    *o++ = '\'';
    for (; *s; s++)
        if (*s == '\'') memcpy(o, "'\\''", 4), o += 4;
        else *o++ = *s;
    *o++ = '\'';
    *o = 0;
    return w;
}

/* The header's short read said, fp closed: the system's error, or the file cut short since its size was taken. */
static vggcl_status header_unread(vggcl_ctx *ctx, const char *path, FILE *fp)
{
    char eb[128];
    const int e = vggcl__read_error(fp);
    fclose(fp);
    return e ? vggcl__fail_os(ctx, e > 0 ? e : 0, "%s: cannot read the header: %s", path,
                              vggcl__read_error_text(e, eb, sizeof eb))
             : vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot read the header: the file is shorter than when it was "
                           "opened", path);
}

/* The file's first 8 + header-length bytes in *buf, its size in *size, *fp left open at the data section: a
 * file of another kind is said from its first 8 bytes, and a header is checked against the file's size
 * before the data are read (a 3 GB file of another kind, or a header of `{}` before gigabytes of anything,
 * was read whole first). */
static vggcl_status read_head(vggcl_ctx *ctx, const char *path, FILE **fpp, unsigned char **buf, size_t *size,
                              uint64_t *hlen)
{
    int err;
    char eb[128];
    long len = -1;
    unsigned char prefix[8];
    FILE *fp = vggcl__open_input(path, 0, NULL, &err);
    if (!fp && err && err != EISDIR)
        return vggcl__fail_os(ctx, err, "%s: cannot open weights file: %s", vggcl__path_shown(path),
                              vggcl__strerror(err, eb, sizeof eb));
    if (!fp) /* (a folder: its model file in it, perhaps; a FIFO, a device) */
        return vggcl__fail_os(ctx, err, "%s: %s", path,
                              err ? "a folder, not a weights file"
                                  : "not a regular file (a FIFO, a device): weights are read from one");
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return vggcl__fail_os(ctx, 0, "%s: cannot read weights file (it cannot be seeked)", path);
    }
    if (len < 8) {
        fclose(fp);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: %ld bytes, too short for a safetensors file", path, len);
    }
    if (fread(prefix, 1, 8, fp) != 8) return header_unread(ctx, path, fp);
    *hlen = 0;
    for (int i = 7; i >= 0; i--) *hlen = (*hlen << 8) | prefix[i];
    if (*hlen > MAX_HEADER || *hlen > (uint64_t)len - 8) {
        unsigned char head[12] = { 0 }; /* (a WebP's RIFF header is 12 bytes) */
        memcpy(head, prefix, 8);
        const ssize_t more = pread(fileno(fp), head + 8, 4, 8);
        fclose(fp);
        /* (another format said first where no header could be that long: its "header length" was 18 digits of
         * nothing; a safetensors file cut short in its header keeps the length's words) */
        const char *convert = NULL, *kind = *hlen > MAX_HEADER ? other_format(prefix, &convert) : NULL;
        const size_t n = more > 0 ? 8 + (size_t)more : 8;
        const char *image = *hlen > MAX_HEADER ? vggcl__image_format(head, n) : NULL;
        if (image) /* (an image or an array given for the weights: a slip of the arguments, not a file to convert) */
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: %s image, not a safetensors weights file", path, image);
        if (*hlen > MAX_HEADER && vggcl__is_npy(head, n))
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: an .npy array, not a safetensors weights file", path);
        if (kind) {
            char *word = shell_word(path); /* (a name with a space gave a command that failed) */
            vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: %s, not safetensors: convert it first, `python3 %s %s --out "
                        "MODEL.safetensors`", path, kind, convert, word ? word : path);
            free(word);
            return VGGCL_ERR_FORMAT;
        }
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header length %llu runs past the file's end (%ld bytes, the "
                           "header from byte 8) or the %u-byte limit; not a safetensors file?", path,
                           (unsigned long long)*hlen, len, MAX_HEADER);
    }
    unsigned char *b = malloc(8 + (size_t)*hlen);
    if (!b) {
        fclose(fp);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory reading a header of %llu bytes", path,
                           (unsigned long long)*hlen);
    }
    memcpy(b, prefix, 8);
    if (fread(b + 8, 1, (size_t)*hlen, fp) != (size_t)*hlen) {
        free(b);
        return header_unread(ctx, path, fp);
    }
    *fpp = fp;
    *buf = b;
    *size = (size_t)len;
    return VGGCL_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(vggcl__st_tensor *const *)a)->name, (*(vggcl__st_tensor *const *)b)->name);
}

/* A key that obj holds twice (readers differ on which they take: cJSON the first, Python's json the
 * last, the reference reader refuses it), else NULL; sorted, not compared pairwise (a header may
 * hold a million keys). *nomem set when out of memory. */
static const char *duplicate(const cJSON *obj, int *nomem)
{
    size_t n = 0, k = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    const cJSON **v = malloc(sizeof *v * (n ? n : 1));
    const char *twice = NULL;
    *nomem = !v;
    if (!v) return NULL;
    for (const cJSON *c = obj->child; c; c = c->next) v[k++] = c;
    qsort(v, n, sizeof *v, cmp_name);
    for (size_t i = 1; i < n && !twice; i++)
        if (!strcmp(v[i - 1]->string, v[i]->string)) twice = v[i]->string;
    free(v);
    return twice;
}

/* What cJSON's tree does not tell about the header's text: how many values it holds (*values), and
 * whether every number is a plain non-negative integer (the reference reader takes no 8.64e2, 0864,
 * 8.0 or -0 as an offset or a dimension; cJSON reads them all as integers) and no string holds a NUL
 * (cJSON cuts it there: "a\u0000b" read as "a"), nor is any control character but JSON's white space found
 * outside strings (cJSON skips every byte up to a blank between values, a NUL too). NULL, or what is wrong. */
static const char *scan_header(const char *s, size_t n, size_t *values, size_t *at)
{
    *values = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        *at = i;
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                *at = i;
                if ((unsigned char)s[i] < 0x20) /* (JSON escapes them; the reference's parser refuses them raw) */
                    return "a name or value holds a raw control character";
                if (s[i] == '\\') {
                    if (i + 5 < n && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
                        return "a name or value holds a NUL character (\\u0000)";
                    i++;
                }
            }
            ++*values;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < n && s[j] && strchr("+-.eE0123456789", s[j])) j++;
            for (size_t k = i; k < j; k++)
                if (s[k] < '0' || s[k] > '9') return "a number is not a plain non-negative integer";
            if (s[i] == '0' && j - i > 1) return "a number has a leading zero";
            ++*values;
            i = j - 1;
        } else if (c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n') { /* (and the literals true, false, null) */
            ++*values;
        } else if ((unsigned char)c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return "a control character outside a string (JSON allows blanks, tabs and line ends)"; /* (cJSON skips) */
        }
    }
    return NULL;
}

static vggcl_status parse_tensor(vggcl_ctx *ctx, const char *path, const cJSON *item, vggcl__st_tensor *t)
{
    const char *key = item->string, *twice;
    int nomem = 0;
    if (!cJSON_IsObject(item))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': header entry is not a JSON object", path, key);
    if ((twice = duplicate(item, &nomem)) || nomem)
        return nomem ? vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory")
                     : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': \"%s\" given twice", path, key, twice);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT,
                           "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                           path, key);
    const size_t ebits = dtype_bits(dt->valuestring);
    if (!ebits)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", path, key,
                           dt->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > VGGCL_ST_MAX_DIMS)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': %d dimensions, at most %d supported", path,
                           key, nd, VGGCL_ST_MAX_DIMS);
    size_t bits = ebits;
    t->ndim = nd;
    for (int d = 0; d < nd; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        /* doubles hold integers exactly up to 2^53; anything larger overflows below anyway */
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                               path, key, d);
        if (v->valuedouble > 9007199254740992.0)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': shape[%d] is past 2^53, too large", path,
                               key, d);
        t->shape[d] = (int64_t)v->valuedouble;
        if (t->shape[d] != 0 && bits > SIZE_MAX / (size_t)t->shape[d])
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': shape overflows the byte size", path, key);
        bits *= (size_t)t->shape[d];
    }
    if (bits % 8) /* (the reference's rule for F4 and F6: whole bytes) */
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': %zu bits of %s, not whole bytes", path, key, bits,
                           t->dtype);
    const size_t bytes = bits / 8;
    if (cJSON_GetArraySize(offs) != 2)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]", path, key);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)) || b < 0 ||
        e < 0 || b != floor(b) || e != floor(e))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers",
                           path, key);
    if (b > 9007199254740992.0 || e > 9007199254740992.0)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets past 2^53, too large", path, key);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    if (t->end < t->begin)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] are reversed", path,
                           key, t->begin, t->end);
    if (t->end - t->begin != bytes) {
        char shape[VGGCL_ST_MAX_DIMS * 22 + 4];
        vggcl__st_shape_str(t, shape, sizeof shape);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets span %zu bytes, but its shape %s of %s needs %zu", path, key,
                           t->end - t->begin, shape, t->dtype, bytes);
    }
    t->name = strdup(key);
    if (!t->name) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    return VGGCL_OK;
}

void vggcl__st_shape_str(const vggcl__st_tensor *t, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < t->ndim && used < len; d++)
        used += (size_t)snprintf(buf + used, len - used, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (used < len) snprintf(buf + used, len - used, t->ndim == 1 ? ",)" : ")");
}

static vggcl_status parse_metadata(vggcl_ctx *ctx, const char *path, const cJSON *meta, vggcl__st_file *f)
{
    const char *twice;
    int nomem = 0;
    if (!cJSON_IsObject(meta))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    if ((twice = duplicate(meta, &nomem)) || nomem)
        return nomem ? vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory")
                     : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: duplicate key '%s' in __metadata__", path, twice);
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: __metadata__ value '%s' is not a string", path, m->string);
        char **k = realloc(f->meta_keys, sizeof *k * (size_t)(f->n_meta + 1));
        if (k) f->meta_keys = k;
        char **v = k ? realloc(f->meta_values, sizeof *v * (size_t)(f->n_meta + 1)) : NULL;
        if (v) f->meta_values = v;
        if (!k || !v) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
        f->meta_keys[f->n_meta] = strdup(m->string);
        f->meta_values[f->n_meta] = strdup(m->valuestring);
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    }
    return VGGCL_OK;
}

vggcl_status vggcl__st_open(vggcl_ctx *ctx, const char *path, vggcl__st_file *f)
{
    vggcl_status st;
    cJSON *root = NULL;
    vggcl__st_tensor **order = NULL;
    FILE *fp = NULL;
    memset(f, 0, sizeof *f);
    VGGCL_NEED(ctx, "reading a safetensors file", path);
    f->path = path;

    uint64_t hlen = 0;
    st = read_head(ctx, path, &fp, &f->buf, &f->size, &hlen);
    if (st != VGGCL_OK) return st;
    f->data_start = 8 + (size_t)hlen;
    const char *hdr = (const char *)f->buf + 8;
    if (hlen == 0 || hdr[0] != '{' || !vggcl__valid_utf8(f->buf + 8, (size_t)hlen)) {
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header is not UTF-8 JSON starting with '{'", path);
        goto fail;
    }
    size_t values, at;
    const char *wrong = scan_header(hdr, (size_t)hlen, &values, &at), *twice;
    int nomem = 0;
    if (wrong || values > MAX_VALUES) {
        st = wrong ? vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header: %s (at byte %zu of the header)", path, wrong, at)
                   : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header of %zu JSON values; at most %zu (a VGG16 file's "
                                 "holds ~700)", path, values, MAX_VALUES);
        goto fail;
    }
    const char *end = NULL;
    vggcl__lock(); /* cJSON's parser writes a global error position */
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    vggcl__unlock();
    if (!root || !cJSON_IsObject(root)) {
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header is not a valid JSON object", path);
        goto fail;
    }
    /* Only trailing white space may follow the object (the format pads with spaces; the reference's parser
     * takes any JSON white space there) */
    for (; end < hdr + hlen; end++)
        if (!strchr(" \t\n\r", *end) || !*end) {
            st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: unexpected bytes after the JSON header", path);
            goto fail;
        }
    if ((twice = duplicate(root, &nomem)) || nomem) {
        st = nomem ? vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory")
                   : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: duplicate key '%s' in the header", path, twice);
        goto fail;
    }
    int count = 0;
    for (cJSON *it = root->child; it; it = it->next) count += strcmp(it->string, "__metadata__") != 0;
    f->tensors = calloc(count ? (size_t)count : 1, sizeof *f->tensors);
    order = calloc(count ? (size_t)count : 1, sizeof *order);
    if (!f->tensors || !order) { st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory"); goto fail; }
    for (cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) {
            st = parse_metadata(ctx, path, it, f);
        } else {
            st = parse_tensor(ctx, path, it, &f->tensors[f->n]);
            if (st == VGGCL_OK) order[f->n] = &f->tensors[f->n], f->n++;
        }
        if (st != VGGCL_OK) goto fail;
    }
    qsort(order, (size_t)f->n, sizeof *order, cmp_begin);
    size_t pos = 0, data_size = f->size - f->data_start;
    for (int i = 0; i < f->n; i++) {
        if (order[i]->begin != pos) {
            st = order[i]->begin < pos
                     ? vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets begin at %zu, inside tensor "
                                   "'%s' (%zu to %zu)", path, order[i]->name, order[i]->begin, order[i - 1]->name,
                                   order[i - 1]->begin, order[i - 1]->end)
                     : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s': data_offsets begin at %zu, expected %zu "
                                   "(hole before it)", path, order[i]->name, order[i]->begin, pos);
            goto fail;
        }
        pos = order[i]->end;
    }
    if (pos != data_size) {
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensors cover %zu data bytes, but the file has %zu (%s)", path,
                         pos, data_size, pos > data_size ? "truncated" : "trailing bytes");
        goto fail;
    }
    /* by name, for vggcl__st_find (a search per name was quadratic in a header of many keys) */
    if (!(f->by_name = malloc(sizeof *f->by_name * (f->n ? (size_t)f->n : 1)))) {
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    memcpy(f->by_name, order, sizeof *order * (size_t)f->n);
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_tensor_name);
    cJSON_Delete(root);
    free(order);
    f->fp = fp;
    return VGGCL_OK;
fail:
    if (fp) fclose(fp);
    cJSON_Delete(root);
    free(order);
    vggcl__st_close(f);
    return st;
}

void vggcl__st_close(vggcl__st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->by_name);
    free(f->buf);
    if (f->fp) fclose(f->fp);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_keys[i]), free(f->meta_values[i]);
    free(f->meta_keys);
    free(f->meta_values);
    const char *path = f->path;
    memset(f, 0, sizeof *f);
    f->path = path;
}

const char *vggcl__st_meta(const vggcl__st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

const vggcl__st_tensor *vggcl__st_find(const vggcl__st_file *f, const char *name)
{
    const vggcl__st_tensor key = { .name = (char *)name }, *k = &key;
    vggcl__st_tensor *const *hit = f->n ? bsearch(&k, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_tensor_name)
                                        : NULL;
    return hit ? *hit : NULL;
}

size_t vggcl__st_numel(const vggcl__st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

static float half_to_float(uint16_t h)
{
    const int sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    float v;
    if (exp == 0) v = ldexpf((float)mant, -24);
    else if (exp == 31) v = mant ? NAN : INFINITY;
    else v = ldexpf((float)(mant | 0x400), exp - 25);
    return sign ? -v : v;
}

vggcl_status vggcl__st_read(vggcl_ctx *ctx, const vggcl__st_file *f, const vggcl__st_tensor *t, size_t at, size_t n,
                            void *dst)
{
    const off_t from = (off_t)(f->data_start + t->begin + at);
    for (size_t got = 0; got < n;) {
        const ssize_t k = pread(fileno(f->fp), (char *)dst + got, n - got, from + (off_t)got);
        if (k > 0) {
            got += (size_t)k;
        } else if (k == 0 || errno != EINTR) {
            char eb[128];
            const int e = k ? errno : 0;
            return vggcl__fail_os(ctx, e, "%s: cannot read tensor '%s': %s", f->path, t->name,
                                  e ? vggcl__strerror(e, eb, sizeof eb)
                                    : "the file is shorter than when it was opened");
        }
    }
    return VGGCL_OK;
}

vggcl_status vggcl__st_to_f32(vggcl_ctx *ctx, const vggcl__st_file *f, const vggcl__st_tensor *t, float **out)
{
    const size_t n = vggcl__st_numel(t);
    int kind = !strcmp(t->dtype, "F32") ? 0 : !strcmp(t->dtype, "F16") ? 1 : !strcmp(t->dtype, "BF16") ? 2 : -1;
    *out = NULL;
    if (kind < 0)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16",
                           f->path, t->name, t->dtype);
    /* F32 read straight into the array: on a little-endian host already its floats, elsewhere each value then
     * taken from its own bytes in place (when every host assembled each value byte by byte, that took 3.5% of a
     * VGG16 `run` of 2 images, and 8.5% of test_network's first 30 s under ASan, which checks every byte) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const int in_place = kind == 0;
#else
    const int in_place = 0;
#endif
    float *dst = malloc(n ? n * sizeof *dst : 1);
    unsigned char *src = kind == 0 ? (unsigned char *)dst : malloc(n ? n * 2 : 1);
    if (!dst || !src) {
        free(dst);
        if (src != (unsigned char *)dst) free(src);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory for tensor '%s'", t->name);
    }
    vggcl_status st = vggcl__st_read(ctx, f, t, 0, t->end - t->begin, src);
    for (size_t i = 0; i < n && st == VGGCL_OK && !in_place; i++) {
        float v;
        if (kind == 0) {
            uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                         (uint32_t)src[4 * i + 3] << 24;
            memcpy(&v, &u, sizeof v);
        } else if (kind == 1) {
            v = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        } else {
            uint32_t u = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
            memcpy(&v, &u, sizeof v);
        }
        dst[i] = v;
    }
    for (size_t i = 0; i < n && st == VGGCL_OK; i++)
        if (!isfinite(dst[i]))
            st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value (%g) at element %zu",
                             f->path, t->name, (double)dst[i], i);
    if (src != (unsigned char *)dst) free(src);
    if (st != VGGCL_OK) free(dst);
    else *out = dst;
    return st;
}
