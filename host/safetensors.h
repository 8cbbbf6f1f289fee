/* Safetensors reader: validates the whole file as the reference reader does
 * and converts F32/F16/BF16 tensors to float32, each read from the file as it
 * is asked for (straight into its array for F32). */
#ifndef VGGCL_SAFETENSORS_H
#define VGGCL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

#define VGGCL_ST_MAX_DIMS 8

typedef struct {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[VGGCL_ST_MAX_DIMS];
    size_t begin, end;  /* byte offsets into the data section */
} vggcl__st_tensor;

typedef struct {
    const char *path;
    unsigned char *buf;     /* the 8-byte length and the header */
    FILE *fp;               /* open until vggcl__st_close: the tensors are read from it */
    size_t size;            /* the file's, when it was opened */
    size_t data_start;      /* 8 + header length */
    int n;
    vggcl__st_tensor *tensors;
    vggcl__st_tensor **by_name; /* the tensors sorted by name, for vggcl__st_find */
    int n_meta;             /* __metadata__'s string pairs, in file order */
    char **meta_keys, **meta_values;
} vggcl__st_file;

/* Whether s[0..len) is UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): a
 * header must be, and so every metadata key and value written. */
int vggcl__valid_utf8(const unsigned char *s, size_t len);

/* Reads and validates path. On failure *f is left empty (safe to close). */
vggcl_status vggcl__st_open(vggcl_ctx *ctx, const char *path, vggcl__st_file *f);
void vggcl__st_close(vggcl__st_file *f);

/* __metadata__[key], or NULL. */
const char *vggcl__st_meta(const vggcl__st_file *f, const char *key);

const vggcl__st_tensor *vggcl__st_find(const vggcl__st_file *f, const char *name);
/* t's shape as PyTorch prints a tuple: "(16, 8, 3, 3)", "(7,)", "()". */
void vggcl__st_shape_str(const vggcl__st_tensor *t, char *buf, size_t len);

/* Element count of t (validated at open, so it does not overflow). */
size_t vggcl__st_numel(const vggcl__st_tensor *t);

/* Bytes [at, at + n) of t's data, as the file holds them, into dst: VGGCL_OK, else said (the file, the
 * tensor: a file cut or changed since it was opened). */
vggcl_status vggcl__st_read(vggcl_ctx *ctx, const vggcl__st_file *f, const vggcl__st_tensor *t, size_t at, size_t n,
                            void *dst);

/* Converts t to a malloc'd float32 array; rejects other dtypes and NaN/Inf. */
vggcl_status vggcl__st_to_f32(vggcl_ctx *ctx, const vggcl__st_file *f, const vggcl__st_tensor *t,
                             float **out);

#endif
