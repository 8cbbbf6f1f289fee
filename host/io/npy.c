/* .npy reader and atomic writer for float32 C-order arrays (format 1.0-3.0). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "output.h"

static const char magic[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };

int vggcl__is_npy(const unsigned char *b, size_t n) { return n >= sizeof magic && !memcmp(b, magic, sizeof magic); }

#define MAX_DIM (1LL << 40) /* the largest dimension read (and so written) */

/* Whether the dimensions are each 0 to MAX_DIM and their product's bytes fit a size_t: *count their
 * product; else -1 - the first that does not. */
static int dims_fit(const long long *dims, int n, size_t *count)
{
    *count = 1;
    for (int d = 0; d < n; d++) {
        if (dims[d] < 0 || dims[d] > MAX_DIM || (dims[d] && *count > SIZE_MAX / sizeof(float) / (size_t)dims[d]))
            return -1 - d;
        *count *= (size_t)dims[d];
    }
    return 0;
}

static void skip_space(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r' || **p == '\f' || **p == '\v') (*p)++;
}

/* Reads a Python string literal in ' or " without escapes into out (cut to cap - 1 bytes): its length,
 * or -1 if *p holds none. */
static long scan_string(const char **p, char *out, size_t cap)
{
    const char q = **p;
    if (q != '\'' && q != '"') return -1;
    const char *s = *p + 1, *e = s;
    while (*e && *e != q && *e != '\\' && *e != '\n') e++;
    if (*e != q) return -1;
    const size_t n = (size_t)(e - s);
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
    *p = e + 1;
    return (long)n;
}

/* Whether *p starts with the Python name word (not a longer name): then past it. */
static int scan_word(const char **p, const char *word)
{
    const size_t n = strlen(word);
    if (strncmp(*p, word, n) || isalnum((unsigned char)(*p)[n]) || (*p)[n] == '_') return 0;
    *p += n;
    return 1;
}

/* Reads a tuple of non-negative integers ("()", "(3,)", "(2, 3)"; "(3)" is an integer, not a tuple). */
static vggcl_status scan_shape(vggcl_ctx *ctx, const char *path, const char **p, int *ndim, long long *shape)
{
    const char *s = *p;
    if (*s != '(') return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the header's shape is not a tuple", path);
    s++;
    *ndim = 0;
    for (int comma = 1;;) {
        skip_space(&s);
        if (*s == ')' && (comma || *ndim != 1)) break;
        if (*s == ')' || !comma)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed shape in the header (%s)", path,
                               *s == ')' ? "one dimension without its comma is not a tuple" : "expected ',' or ')'");
        if (*ndim == VGGCL_NPY_MAX_DIMS)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: a shape of more than %d dimensions", path,
                               VGGCL_NPY_MAX_DIMS);
        if (!isdigit((unsigned char)*s))
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed shape in the header (dimension %d is not a "
                               "non-negative integer)", path, *ndim);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || v > MAX_DIM)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: dimension %d of the shape is %.*s%s; vggcl reads "
                               "dimensions up to 2^40", path, *ndim, (int)(end - s) > 40 ? 40 : (int)(end - s), s,
                               end - s > 40 ? "..." : "");
        if (*end == 'L') end++; /* Python 2's long integers, as numpy reads them */
        shape[(*ndim)++] = v;
        s = end;
        skip_space(&s);
        comma = *s == ',';
        if (comma) s++;
    }
    *p = s + 1;
    return VGGCL_OK;
}

/* The header is a Python dict literal holding exactly the keys descr, fortran_order and shape, as numpy
 * reads it; a float32 C-order array is taken. */
static vggcl_status parse_header(vggcl_ctx *ctx, const char *path, const char *hdr, int *ndim, long long *shape)
{
    static const char *const keys[3] = { "descr", "fortran_order", "shape" };
    char key[32], descr[16] = "";
    int seen[3] = { 0 }, fortran = 0;
    const char *p = hdr;
    skip_space(&p);
    if (*p++ != '{') return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the header is not a dict", path);
    for (;;) {
        skip_space(&p);
        if (*p == '}') break;
        if (scan_string(&p, key, sizeof key) < 0)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed header (expected a quoted key)", path);
        int k = 0;
        while (k < 3 && strcmp(key, keys[k])) k++;
        if (k == 3)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header key '%s'; expected only 'descr', 'fortran_order' "
                               "and 'shape'", path, key);
        if (seen[k]++) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: header key '%s' twice", path, key);
        skip_space(&p);
        if (*p++ != ':') return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed header (expected ':')", path);
        skip_space(&p);
        if (k == 0 && scan_string(&p, descr, sizeof descr) < 0)
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the header's descr is not a string", path);
        if (k == 1 && !(fortran = scan_word(&p, "True")) && !scan_word(&p, "False"))
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the header's fortran_order is not True or False", path);
        if (k == 2) {
            vggcl_status st = scan_shape(ctx, path, &p, ndim, shape);
            if (st != VGGCL_OK) return st;
        }
        skip_space(&p);
        if (*p == ',') p++;
        else if (*p != '}') return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed header (expected ',' or '}')", path);
    }
    p++;
    skip_space(&p);
    if (*p) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed header (text after the dict)", path);
    for (int k = 0; k < 3; k++)
        if (!seen[k]) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the header has no '%s'", path, keys[k]);
    if (strcmp(descr, "<f4") && strcmp(descr, "=f4") && strcmp(descr, "f4"))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: dtype '%s'; expected float32 ('<f4')", path, descr);
    if (fortran) return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: Fortran-order array; expected C order", path);
    return VGGCL_OK;
}

/* fread of n bytes that waits where a pipe shared with a non-blocking reader says EAGAIN (the bytes not
 * come yet): the count read, short only at the end of the stream or an error (ferror then holds). */
static size_t read_bytes(void *buf, size_t n, FILE *fp)
{
    size_t got = 0;
    while (got < n) {
        got += fread((char *)buf + got, 1, n - got, fp);
        if (got == n || !ferror(fp) || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
        struct pollfd pf = { fileno(fp), POLLIN, 0 };
        if (poll(&pf, 1, -1) < 0 && errno != EINTR) break; /* (ferror kept, errno the poll's: no spin) */
        clearerr(fp);
    }
    return got;
}

/* After a read that came short: vggcl__fail_os's status (VGGCL_ERR_IO, or NOMEM for ENOMEM) with the system's error
 * where there was one, else VGGCL_OK (the stream ended: the caller says it was cut short). */
static vggcl_status short_read(vggcl_ctx *ctx, const char *path, FILE *fp, const char *what)
{
    char eb[128];
    if (ferror(fp))
        return vggcl__fail_os(ctx, errno, "%s: cannot read %s: %s", path, what, vggcl__strerror(errno, eb, sizeof eb));
    return VGGCL_OK;
}

/* Reads fp's header (path names it in messages) and checks that the file holds exactly the values it
 * declares: *count of them, from *offset on. */
static vggcl_status read_header(vggcl_ctx *ctx, const char *path, FILE *fp, int *ndim, long long *shape,
                                size_t *count, long long *offset)
{
    vggcl_status st = VGGCL_OK;
    unsigned char pre[12];
    char *hdr = NULL;
    struct stat sb;
    char eb[128];
    if (fstat(fileno(fp), &sb) != 0)
        return vggcl__fail_os(ctx, errno, "%s: cannot read input: %s", path, vggcl__strerror(errno, eb, sizeof eb));
    const int stream = !S_ISREG(sb.st_mode); /* (a pipe: its size is not known before its values are read) */
    const size_t got = read_bytes(pre, 10, fp);
    if (got != 10 && (st = short_read(ctx, path, fp, "input")) != VGGCL_OK) return st;
    if (got == 0) /* (an empty pipe, a copy that failed: said as what it is, as an empty image) */
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: empty (0 bytes), not a .npy file", path);
    if (got != 10 || memcmp(pre, magic, 6))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    size_t hlen;
    int major = pre[6];
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (read_bytes(pre + 10, 2, fp) != 2)
            return (st = short_read(ctx, path, fp, "input")) != VGGCL_OK
                       ? st : vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: truncated .npy header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: .npy format version %d is not supported", path, major);
    }
    if (hlen > (1u << 20))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: .npy header of %zu bytes; at most 1 MiB", path, hlen);
    if (!(hdr = malloc(hlen + 1))) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    const size_t read = read_bytes(hdr, hlen, fp);
    if (read != hlen) {
        free(hdr);
        if ((st = short_read(ctx, path, fp, "input")) != VGGCL_OK) return st;
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: truncated .npy header (%zu of its %zu bytes)", path, read, hlen);
    }
    hdr[hlen] = '\0';
    if (memchr(hdr, '\0', hlen)) { /* (the dict is parsed as a string: what followed a NUL went unchecked) */
        free(hdr);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: malformed header (a NUL byte; numpy refuses it too)", path);
    }
    st = parse_header(ctx, path, hdr, ndim, shape);
    free(hdr);
    if (st != VGGCL_OK) return st;
    if (dims_fit(shape, *ndim, count))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: the shape's dimensions multiply to more float32 values than a "
                           "size_t counts in bytes", path);
    if (stream) { /* (read_values checks the count as the values come) */
        *offset = -1;
        return VGGCL_OK;
    }
    /* the file's size bounds what a caller allocates: a header cannot ask for more */
    const long long header_end = ftell(fp), have = (long long)sb.st_size - header_end;
    if (header_end < 0 || (unsigned long long)have < (unsigned long long)*count * sizeof(float))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: truncated: the shape needs %zu float32 values (%zu bytes), "
                           "the file holds %lld bytes of data", path, *count, *count * sizeof(float),
                           have > 0 ? have : 0);
    if ((unsigned long long)have > (unsigned long long)*count * sizeof(float))
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: trailing bytes after %zu float32 values", path, *count);
    *offset = header_end;
    return VGGCL_OK;
}

/* A regular file; with streams set, also a pipe this process has open (standard input as "/dev/stdin",
 * "/dev/fd/N"), read through a copy of its descriptor: never opened by name, where a FIFO with no writer
 * would wait for good (a FIFO given by its own name is refused, as are terminals and other devices). */
static vggcl_status open_input(vggcl_ctx *ctx, const char *path, int streams, FILE **fp)
{
    char eb[128];
    struct stat sb;
    *fp = NULL;
    VGGCL_NEED(ctx, "reading a .npy file", path);
    int err;
    if ((*fp = vggcl__open_input(path, 0, NULL, &err))) return VGGCL_OK;
    const int held = streams && !err ? vggcl_output_descriptor(path) : -1; /* (fstat says whether it is open) */
    const int seen = held >= 0 && fstat(held, &sb) == 0;
    if (!seen || !S_ISFIFO(sb.st_mode)) /* (standard input from /dev/null: said as a device, not as not held) */
        return vggcl__fail_os(ctx, err, "%s: cannot open input: %s", vggcl__path_shown(path),
                              err ? vggcl__strerror(err, eb, sizeof eb)
                              : seen && S_ISCHR(sb.st_mode)
                                  ? "a device (a terminal, /dev/null), not a regular file or a pipe"
                              : streams ? "not a regular file, nor a pipe this process holds (standard input)"
                                        : "not a regular file");
    const int fd = fcntl(held, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0 && (*fp = fdopen(fd, "rb"))) return VGGCL_OK;
    err = errno;
    if (fd >= 0) close(fd);
    return vggcl__fail_os(ctx, err, "%s: cannot open input: %s", path, vggcl__strerror(err, eb, sizeof eb));
}

/* count values from fp into *out (allocated). From a pipe they are read in steps, so a header that
 * declares more than comes costs no more memory than came; the stream must end right after them. */
static vggcl_status read_values(vggcl_ctx *ctx, const char *path, FILE *fp, size_t count, int stream, float **out)
{
    const size_t step = stream ? (size_t)1 << 24 : count; /* (64 MiB) */
    size_t got = 0, have = 0;
    float *buf = NULL;
    *out = NULL;
    while (got < count || !buf) {
        const size_t want = count - got < step ? count - got : step;
        if (!buf || got + want > have) {
            float *grown = realloc(buf, (got + want ? got + want : 1) * sizeof(float));
            if (!grown) {
                free(buf);
                return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %zu floats", path, count);
            }
            buf = grown, have = got + want;
        }
        const size_t n = read_bytes(buf + got, want * sizeof(float), fp) / sizeof(float);
        got += n;
        if (n < want) break;
    }
    if (got != count) {
        free(buf);
        const vggcl_status st = short_read(ctx, path, fp, "its values");
        if (st != VGGCL_OK) return st;
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: truncated: %zu of %zu float32 values present", path, got, count);
    }
    char extra;
    if (stream && read_bytes(&extra, 1, fp) == 1) { /* (a regular file's size was checked with its header) */
        free(buf);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: trailing bytes after %zu float32 values", path, count);
    }
    *out = buf;
    return VGGCL_OK;
}

vggcl_status vggcl_npy_header(vggcl_ctx *ctx, const char *path, int *ndim, long long *shape, long long *offset)
{
    size_t count;
    FILE *fp;
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_header", ndim);
    VGGCL_NEED(ctx, "vggcl_npy_header", shape);
    VGGCL_NEED(ctx, "vggcl_npy_header", offset);
    vggcl_status st = open_input(ctx, path, 0, &fp);
    if (st != VGGCL_OK) return st;
    st = read_header(ctx, path, fp, ndim, shape, &count, offset);
    fclose(fp);
    return st;
}

vggcl_status vggcl_npy_read(vggcl_ctx *ctx, const char *path, int *ndim, long long *shape, float **data)
{
    size_t count;
    long long offset;
    FILE *fp;
    VGGCL_NEED(ctx, "vggcl_npy_read", data);
    *data = NULL; /* (first: also when another argument is refused, so that a caller's free of it is safe) */
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_read", ndim);
    VGGCL_NEED(ctx, "vggcl_npy_read", shape);
    vggcl_status st = open_input(ctx, path, 1, &fp);
    if (st != VGGCL_OK) return st;
    if ((st = read_header(ctx, path, fp, ndim, shape, &count, &offset)) == VGGCL_OK)
        st = read_values(ctx, path, fp, count, offset < 0, data);
    fclose(fp);
    return st;
}

vggcl_status vggcl_npy_write(vggcl_ctx *ctx, const char *path, int ndim, const long long *shape, const float *data)
{
    char dict[256];
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_write", path);
    if (ndim && !shape) return vggcl__fail(ctx, VGGCL_ERR_ARG, "vggcl_npy_write: shape is NULL (%d dimensions)", ndim);
    if (ndim < 0 || ndim > VGGCL_NPY_MAX_DIMS)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: %d dimensions; expected 0 to %d", path, ndim, VGGCL_NPY_MAX_DIMS);
    size_t used = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count;
    const int bad = dims_fit(shape, ndim, &count);
    if (bad)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: shape[%d] is %lld; expected 0 to 2^40, the whole array's bytes "
                                               "fitting in a size_t", path, -1 - bad, shape[-1 - bad]);
    for (int d = 0; d < ndim; d++)
        used += (size_t)snprintf(dict + used, sizeof dict - used, "%lld,%s", shape[d], d + 1 < ndim ? " " : "");
    if (count && !data) return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: no data for %zu values", path, count);
    used += (size_t)snprintf(dict + used, sizeof dict - used, "), }");
    size_t total = 10 + used + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned char pre[10];
    memcpy(pre, magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)((used + pad + 1) & 0xFF);
    pre[9] = (unsigned char)((used + pad + 1) >> 8);

    vggcl__output o;
    vggcl_status st = vggcl__output_open(ctx, path, 0666, 0, &o);
    if (st != VGGCL_OK) return st;
    int ok = fwrite(pre, 1, 10, o.fp) == 10 && fwrite(dict, 1, used, o.fp) == used;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', o.fp) != EOF;
    ok = ok && fputc('\n', o.fp) != EOF && (!count || fwrite(data, sizeof(float), count, o.fp) == count);
    return vggcl__output_commit(ctx, &o, ok);
}

#define STREAM_HEADER 256 /* magic + version + length + dict padded: room for any row count */

struct vggcl_npy_writer {
    vggcl__output out;          /* the header is written again at the end: it seeks */
    int ndim;           /* including the rows */
    long long shape[VGGCL_NPY_MAX_DIMS];
    size_t row_floats;
    int failed, ready;
    int direct; /* standard output, a device or a pipe (its out.direct_fd, closed once readied) */
};

/* The fixed-size header for the writer's shape. */
static int stream_header(const vggcl_npy_writer *w, unsigned char *out)
{
    char dict[STREAM_HEADER];
    int used = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < w->ndim; d++)
        used += snprintf(dict + used, sizeof dict - (size_t)used, "%lld,%s", w->shape[d], d + 1 < w->ndim ? " " : "");
    used += snprintf(dict + used, sizeof dict - (size_t)used, "), }");
    const int room = STREAM_HEADER - 10;
    if (used + 1 > room) return 0;
    memcpy(out, magic, 6);
    out[6] = 1, out[7] = 0, out[8] = (unsigned char)(room & 0xFF), out[9] = (unsigned char)(room >> 8);
    memcpy(out + 10, dict, (size_t)used);
    memset(out + 10 + used, ' ', (size_t)(room - used - 1));
    out[STREAM_HEADER - 1] = '\n';
    return 1;
}

vggcl_status vggcl_npy_writer_open(vggcl_ctx *ctx, const char *path, int ndim_tail, const long long *tail,
                                   vggcl_npy_writer **out)
{
    unsigned char hdr[STREAM_HEADER];
    VGGCL_NEED(ctx, "vggcl_npy_writer_open", out);
    *out = NULL;
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_writer_open", path);
    size_t row_floats;
    int bad;
    if (ndim_tail < 0 || ndim_tail + 1 > VGGCL_NPY_MAX_DIMS)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: %d dimensions after the rows; expected 0 to %d", path, ndim_tail,
                           VGGCL_NPY_MAX_DIMS - 1);
    if (ndim_tail && !tail)
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: the sizes of the %d dimension%s after the rows are NULL", path,
                           ndim_tail, ndim_tail == 1 ? "" : "s");
    if ((bad = dims_fit(tail, ndim_tail, &row_floats)))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: dimension %lld after the rows; expected 0 to 2^40, a row's bytes "
                                               "fitting in a size_t", path, tail[-1 - bad]);
    vggcl_npy_writer *w = calloc(1, sizeof *w);
    if (!w) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "out of host memory");
    w->ndim = ndim_tail + 1;
    w->row_floats = row_floats;
    for (int d = 0; d < ndim_tail; d++) w->shape[d + 1] = tail[d];
    vggcl_status st = vggcl__output_open(ctx, path, 0666, 0, &w->out);
    if (st != VGGCL_OK) {
        free(w);
        return st;
    }
    w->direct = w->out.direct_fd >= 0;
    if (!stream_header(w, hdr) || fwrite(hdr, 1, sizeof hdr, w->out.fp) != sizeof hdr) {
        vggcl__output_write_failed(ctx, &w->out, errno);
        vggcl__output_abort(&w->out);
        free(w);
        return VGGCL_ERR_IO;
    }
    *out = w;
    return VGGCL_OK;
}

vggcl_status vggcl_npy_writer_append(vggcl_ctx *ctx, vggcl_npy_writer *w, const float *rows, long long n)
{
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_writer_append", w);
    if (w->failed) return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: an earlier write failed", w->out.path);
    if (w->ready) return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: rows appended after vggcl_npy_writer_ready", w->out.path);
    if (n < 0 || (n && !rows))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: %lld rows%s; expected 0 or more with their data", w->out.path, n,
                           n > 0 ? " without data" : "");
    long long shape[VGGCL_NPY_MAX_DIMS];
    size_t all;
    memcpy(shape, w->shape, sizeof shape);
    shape[0] = n > MAX_DIM - w->shape[0] ? MAX_DIM + 1 : w->shape[0] + n;
    if (dims_fit(shape, w->ndim, &all))
        return vggcl__fail(ctx, VGGCL_ERR_ARG, "%s: %lld more rows after %lld; the array would be more than 2^40 rows "
                                               "or than a size_t's bytes", w->out.path, n, w->shape[0]);
    const size_t count = w->row_floats * (size_t)n;
    if (count && fwrite(rows, sizeof(float), count, w->out.fp) != count) {
        w->failed = 1;
        return vggcl__output_write_failed(ctx, &w->out, errno);
    }
    w->shape[0] += n;
    return VGGCL_OK;
}

int vggcl_npy_writer_direct(const vggcl_npy_writer *w) { return w && w->direct; }

vggcl_status vggcl_npy_writer_ready(vggcl_ctx *ctx, vggcl_npy_writer *w)
{
    unsigned char hdr[STREAM_HEADER];
    VGGCL_NEED_CTX(ctx);
    VGGCL_NEED(ctx, "vggcl_npy_writer_ready", w);
    if (w->failed) return vggcl__fail(ctx, VGGCL_ERR_IO, "%s: cannot write output: an earlier write failed", w->out.path);
    if (w->ready) return VGGCL_OK;
    const int ok = stream_header(w, hdr) && fseek(w->out.fp, 0, SEEK_SET) == 0 &&
                   fwrite(hdr, 1, sizeof hdr, w->out.fp) == sizeof hdr;
    const vggcl_status st = vggcl__output_ready(ctx, &w->out, ok);
    w->failed = st != VGGCL_OK, w->ready = st == VGGCL_OK;
    return st;
}

vggcl_status vggcl_npy_writer_close(vggcl_ctx *ctx, vggcl_npy_writer *w, int commit)
{
    vggcl_status st = VGGCL_OK;
    if (commit) VGGCL_NEED(ctx, "vggcl_npy_writer_close", w); /* (NULL uncommitted: a failed open's cleanup) */
    if (!w) return VGGCL_OK;
    if (commit && (st = vggcl_npy_writer_ready(ctx, w)) == VGGCL_OK) st = vggcl__output_commit(ctx, &w->out, 1);
    vggcl__output_abort(&w->out); /* (after a commit: nothing left to drop) */
    free(w);
    return st;
}
