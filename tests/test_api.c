/* The public API given what a caller may get wrong: NULL where the header
 * wants a pointer, sizes whose products overflow, non-finite training data,
 * a model of another context, options out of range. Each is an error status
 * with a message naming what was wrong; none crashes, writes out of bounds or
 * leaves a file (these crashed, overflowed or wrote files vggcl then refused). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static vggcl_ctx *ref_ctx(void)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(vggcl_select_device(ctx, "ref"), VGGCL_OK);
    return ctx;
}

/* st is VGGCL_ERR_ARG-like `want` and the message holds needle. */
static void said(vggcl_ctx *ctx, vggcl_status st, vggcl_status want, const char *needle)
{
    ck_assert_msg(st == want, "status %d, expected %d (%s)", st, want, vggcl_message(ctx));
    ck_assert_msg(strstr(vggcl_message(ctx), needle), "'%s' lacks '%s'", vggcl_message(ctx), needle);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* vggcl_image_preprocess refuses the settings a model's metadata may not hold either, naming them (a std of
 * -0.2 was taken here and by the commands, so `train-head --std` wrote a model that vggcl then refused). */
START_TEST(test_preprocess_arguments)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_preprocess p;
    float *out = NULL;
    int h, w;
    unsigned char rgb[3 * 4 * 4] = { 0 };
    vggcl_preprocess_defaults(&p);
    p.std[1] = -0.2f;
    said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "std 0.229,-0.2,0.225; expected");
    p.std[1] = 0, said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "the std above 0");
    vggcl_preprocess_defaults(&p);
    p.mean[2] = NAN, said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "expected finite");
    vggcl_preprocess_defaults(&p);
    p.crop = 16385, said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "0 to 16384");
    vggcl_preprocess_defaults(&p);
    p.draft = 2, said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "draft 2 must be 0 or 1");
    ck_assert_ptr_null(out);
    vggcl_preprocess_defaults(&p);
    ck_assert_int_eq(vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, &w), VGGCL_OK);
    vggcl_free(out);
    vggcl_ctx_free(ctx);
}
END_TEST

/* vggcl_os_error: the errno of a file the system refused, for a caller that acts on it (Python's
 * FileNotFoundError); 0 for a failure that is not the system's, and after one, for a NULL context. */
START_TEST(test_os_error)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *m = NULL;
    unsigned char *rgb = NULL;
    int h, w;
    ck_assert_int_eq(vggcl_os_error(NULL), 0);
    ck_assert_int_eq(vggcl_os_error(ctx), 0);
    said(ctx, vggcl_model_load(ctx, "/nonexistent-vggcl-dir/m.safetensors", NULL, &m), VGGCL_ERR_IO,
         "cannot open weights file");
    ck_assert_int_eq(vggcl_os_error(ctx), ENOENT);
    said(ctx, vggcl_model_load(ctx, "/tmp", NULL, &m), VGGCL_ERR_IO, "/tmp");
    ck_assert_int_eq(vggcl_os_error(ctx), EISDIR);
    said(ctx, vggcl_image_load(ctx, "/nonexistent-vggcl-dir/a.jpg", &rgb, &h, &w), VGGCL_ERR_IO, "cannot open image");
    ck_assert_int_eq(vggcl_os_error(ctx), ENOENT);
    said(ctx, vggcl_image_load(ctx, NULL, &rgb, &h, &w), VGGCL_ERR_ARG, "NULL"); /* (not the system's: none kept) */
    ck_assert_int_eq(vggcl_os_error(ctx), 0);
    said(ctx, vggcl_npy_write(ctx, "/nonexistent-vggcl-dir/o.npy", 1, (const long long[]){ 1 }, (const float[]){ 1 }),
         VGGCL_ERR_IO, "its folder /nonexistent-vggcl-dir is not there");
    ck_assert_int_eq(vggcl_os_error(ctx), ENOENT);
    said(ctx, vggcl_npy_write(ctx, "/tmp", 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_IO,
         "/tmp: is a folder; expected a file to write");
    ck_assert_int_eq(vggcl_os_error(ctx), EISDIR);
    said(ctx, vggcl_npy_write(ctx, "/proc/o.npy", 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_IO,
         "its folder /proc takes no new files");
    ck_assert_int_eq(vggcl_os_error(ctx), ENOENT);
    const char *text = tu_tmp("not-an-image.jpg");
    tu_write_bytes(text, "plain text, not a JPEG\n", 23);
    said(ctx, vggcl_image_load(ctx, text, &rgb, &h, &w), VGGCL_ERR_FORMAT, "not a JPEG"); /* (read, malformed) */
    ck_assert_int_eq(vggcl_os_error(ctx), 0);
    remove(text);
    vggcl_ctx_free(ctx);
}
END_TEST

/* vggcl_image_max_pixels: PIL's limit, or VGGCL_MAX_IMAGE_PIXELS within it; anything else refused, naming it,
 * and then every image is refused with the same message (the test runs in a process of its own: Check forks). */
START_TEST(test_image_max_pixels)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    unsigned long long n = 1;
    unsetenv("VGGCL_MAX_IMAGE_PIXELS");
    ck_assert_int_eq(vggcl_image_max_pixels(ctx, &n), VGGCL_OK);
    ck_assert_uint_eq(n, 178956970ULL);
    setenv("VGGCL_MAX_IMAGE_PIXELS", "", 1);
    ck_assert_int_eq(vggcl_image_max_pixels(ctx, &n), VGGCL_OK);
    ck_assert_uint_eq(n, 178956970ULL);
    const char *fine[] = { "1", "000250", "178956970" };
    const unsigned long long want[] = { 1, 250, 178956970ULL };
    for (int k = 0; k < 3; k++) {
        setenv("VGGCL_MAX_IMAGE_PIXELS", fine[k], 1);
        ck_assert_int_eq(vggcl_image_max_pixels(ctx, &n), VGGCL_OK);
        ck_assert_uint_eq(n, want[k]);
    }
    const char *bad[] = { "0", "178956971", "18446744073709551617", "-1", "+5", "5 ", "1e6", "x" };
    for (int k = 0; k < 8; k++) {
        setenv("VGGCL_MAX_IMAGE_PIXELS", bad[k], 1);
        said(ctx, vggcl_image_max_pixels(ctx, &n), VGGCL_ERR_ARG, "VGGCL_MAX_IMAGE_PIXELS is '");
        ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), bad[k]));
        ck_assert_uint_eq(n, 0);
    }
    unsigned char rgb[2 * 3 * 3] = { 0 };
    ck_assert_int_eq(vggcl_png_write(ctx, tu_tmp("limit.png"), rgb, 2, 3), VGGCL_OK);
    unsigned char *img = NULL;
    int h, w;
    said(ctx, vggcl_image_load(ctx, tu_tmp("limit.png"), &img, &h, &w), VGGCL_ERR_ARG, "VGGCL_MAX_IMAGE_PIXELS is 'x'");
    setenv("VGGCL_MAX_IMAGE_PIXELS", "5", 1);
    said(ctx, vggcl_image_load(ctx, tu_tmp("limit.png"), &img, &h, &w), VGGCL_ERR_FORMAT,
         "limit.png: 3 x 2 pixels (width x height) is too large: more than 5, VGGCL_MAX_IMAGE_PIXELS");
    ck_assert_ptr_null(img);
    setenv("VGGCL_MAX_IMAGE_PIXELS", "6", 1);
    ck_assert_int_eq(vggcl_image_load(ctx, tu_tmp("limit.png"), &img, &h, &w), VGGCL_OK);
    ck_assert(h == 2 && w == 3);
    vggcl_free(img);
    said(ctx, vggcl_image_max_pixels(ctx, NULL), VGGCL_ERR_ARG, "NULL");
    unsetenv("VGGCL_MAX_IMAGE_PIXELS");
    remove(tu_tmp("limit.png"));
    vggcl_ctx_free(ctx);
}
END_TEST

/* A PNG the disk cannot hold (here a file size limit): the system's reason, not libpng's "Write Error"
 * alone, and no file. */
START_TEST(test_png_write_fails)
{
    vggcl_ctx *ctx = ref_ctx();
    enum { H = 256, W = 256 };
    unsigned char *rgb = malloc(3 * H * W);
    unsigned state = 7;
    for (int i = 0; i < 3 * H * W; i++) rgb[i] = (unsigned char)((state = state * 1103515245u + 12345u) >> 24);
    struct rlimit was, limit;
    ck_assert(getrlimit(RLIMIT_FSIZE, &was) == 0);
    limit = was;
    limit.rlim_cur = 16384; /* (past stdio's buffer: libpng's own write fails, not the final flush) */
    void (*handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert(setrlimit(RLIMIT_FSIZE, &limit) == 0);
    const vggcl_status st = vggcl_png_write(ctx, tu_tmp("big.png"), rgb, H, W);
    setrlimit(RLIMIT_FSIZE, &was), signal(SIGXFSZ, handler);
    said(ctx, st, VGGCL_ERR_IO, "big.png: cannot write PNG: Write Error: File too large");
    ck_assert(!exists(tu_tmp("big.png")));
    free(rgb);
    vggcl_ctx_free(ctx);
}
END_TEST

/* A path naming one of this process's descriptors by its number (/proc/PID/fd/N, /proc/PID/task/TID/fd/N)
 * is written through the descriptor, as /proc/self/fd/N is, and vggcl_remove_output leaves it: the first
 * was followed to the file the descriptor holds and a new file renamed over it (what it held lost, the
 * descriptor left on an unlinked file), the second removed that file. */
START_TEST(test_proc_pid_fd)
{
    vggcl_ctx *ctx = ref_ctx();
    const char *file = tu_tmp("held.npy");
    const float row[2] = { 1, 2 };
    char path[3][96];
    for (int k = 0; k < 3; k++) {
        const int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 3);
        const char *const forms[] = { "/proc/%d/fd/%d", "/proc/%d/task/%d/fd/%d", "/proc/self/task/%d/fd/%d" };
        if (k == 0) snprintf(path[k], sizeof path[k], forms[k], (int)getpid(), fd);
        if (k == 1) snprintf(path[k], sizeof path[k], forms[k], (int)getpid(), (int)getpid(), fd);
        if (k == 2) snprintf(path[k], sizeof path[k], forms[k], (int)getpid(), fd);
        ck_assert_int_eq(vggcl_output_descriptor(path[k]), fd);
        ck_assert_int_eq(vggcl_remove_output(path[k]), 0);
        ck_assert_msg(vggcl_npy_write(ctx, path[k], 2, (const long long[]){ 1, 2 }, row) == VGGCL_OK, "%s",
                      vggcl_message(ctx));
        struct stat sb;
        ck_assert_int_eq(fstat(fd, &sb), 0);
        ck_assert_msg(sb.st_nlink == 1 && sb.st_size > 0, "%s: %ld links, %lld bytes", path[k], (long)sb.st_nlink,
                      (long long)sb.st_size);
        close(fd);
        int ndim;
        long long shape[VGGCL_NPY_MAX_DIMS];
        float *back = NULL;
        ck_assert_msg(vggcl_npy_read(ctx, file, &ndim, shape, &back) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert(ndim == 2 && shape[1] == 2 && back[1] == 2);
        vggcl_free(back);
    }
    static const char *const not_ours[] = { "/proc/selfx/fd/1", "/proc/self/fd/", "/proc/self/fd/1x", "/dev/fd",
                                            "/proc/thread-self/task/1/fd/1", "fd/1", "/dev/fd/99999999999",
                                            "/dev/fd/01", "/dev/fd/000", "/proc/self/fd/-1",
                                            "/proc/self/task/4194305/fd/1" }; /* (no such names; no such thread:
                                                                               * past the kernel's pid_max) */
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
        ck_assert_msg(vggcl_output_descriptor(not_ours[i]) == -1, "%s", not_ours[i]);
    snprintf(path[0], sizeof path[0], "/proc/%d/fd/1", (int)getpid() + 1); /* (another process's) */
    ck_assert_int_eq(vggcl_output_descriptor(path[0]), -1);
    ck_assert_int_eq(vggcl_output_descriptor("/dev/stdout"), 1);
    ck_assert_int_eq(vggcl_output_descriptor(NULL), -1);
    remove(file);
    vggcl_ctx_free(ctx);
}
END_TEST

/* vggcl_npy_writer_direct: a device is written directly, a file renamed into place; the same answer
 * after vggcl_npy_writer_ready (it said 0 once the device's descriptor was closed) and for NULL. */
START_TEST(test_npy_writer_direct)
{
    vggcl_ctx *ctx = ref_ctx();
    const long long tail[1] = { 2 };
    const float row[2] = { 1, 2 };
    const char *paths[2] = { "/dev/null", tu_tmp("direct.npy") };
    for (int k = 0; k < 2; k++) {
        vggcl_npy_writer *w = NULL;
        ck_assert_msg(vggcl_npy_writer_open(ctx, paths[k], 1, tail, &w) == VGGCL_OK, "%s", vggcl_message(ctx));
        ck_assert_int_eq(vggcl_npy_writer_direct(w), k == 0);
        ck_assert(vggcl_npy_writer_append(ctx, w, row, 1) == VGGCL_OK);
        ck_assert(vggcl_npy_writer_ready(ctx, w) == VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_writer_direct(w), k == 0);
        ck_assert(vggcl_npy_writer_close(ctx, w, 1) == VGGCL_OK);
    }
    ck_assert_int_eq(vggcl_npy_writer_direct(NULL), 0);
    ck_assert(exists(paths[1]));
    remove(paths[1]);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_null_arguments)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *m = NULL;
    vggcl_preprocess p;
    vggcl_preprocess_defaults(&p);
    float *out = NULL;
    int h, w, n;
    unsigned char rgb[3 * 4 * 4] = { 0 };
    said(ctx, vggcl_model_random(ctx, NULL, 3, 1, NULL, &m), VGGCL_ERR_ARG, "arch is NULL");
    said(ctx, vggcl_model_random(ctx, "vgg11", 0, 1, NULL, &m), VGGCL_ERR_ARG, "classes must be 1 to 1000000, not 0");
    said(ctx, vggcl_model_random(ctx, "vgg11", INT_MAX, 1, NULL, &m), VGGCL_ERR_ARG, /* (out of host memory) */
         "classes must be 1 to 1000000, not 2147483647");
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 3, 1, NULL, &m), VGGCL_OK);
    static const float image[3 * 32 * 32];
    said(ctx, vggcl_forward_cam(ctx, m, image, 1, 32, 32, NULL, NULL, NULL, NULL, NULL), VGGCL_ERR_ARG,
         "vggcl_forward_cam: cams is NULL");
    vggcl_model_free(m);
    m = NULL;
    said(ctx, vggcl_image_preprocess(ctx, NULL, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "vggcl_image_preprocess: rgb is NULL");
    said(ctx, vggcl_image_read(ctx, "/nonexistent.png", NULL, &out, &h, &w), VGGCL_ERR_ARG, "vggcl_image_read: p is NULL");
    said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, NULL, &out, &h, &w), VGGCL_ERR_ARG, "p is NULL");
    said(ctx, vggcl_image_load(ctx, NULL, (unsigned char **)&out, &h, &w), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_image_read(ctx, NULL, &p, &out, &h, &w), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_model_load(ctx, NULL, NULL, &m), VGGCL_ERR_ARG, "path is NULL");
    vggcl_ctx *fresh = vggcl_ctx_new(); /* (no device yet: the NULL path said, where the device was asked for) */
    said(fresh, vggcl_model_load(fresh, NULL, NULL, &m), VGGCL_ERR_ARG, "path is NULL");
    vggcl_ctx_free(fresh);
    int ndim;
    long long shape[VGGCL_NPY_MAX_DIMS];
    said(ctx, vggcl_npy_read(ctx, NULL, &ndim, shape, &out), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_npy_write(ctx, NULL, 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_ARG,
         "path is NULL");
    vggcl_npy_writer *wr = NULL;
    said(ctx, vggcl_npy_writer_open(ctx, tu_tmp("t.npy"), 1, NULL, &wr), VGGCL_ERR_ARG,
         "the sizes of the 1 dimension after the rows are NULL");
    said(ctx, vggcl_npy_writer_open(ctx, tu_tmp("t.npy"), VGGCL_NPY_MAX_DIMS, NULL, &wr), VGGCL_ERR_ARG,
         "dimensions after the rows; expected 0 to");
    said(ctx, vggcl_npy_write(ctx, NULL, 1, (const long long[]){ 1 }, NULL), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_npy_writer_open(ctx, NULL, 1, NULL, &wr), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_npy_writer_open(ctx, "", 1, (const long long[]){ 1 }, &wr), VGGCL_ERR_ARG, "the path is empty");
    said(ctx, vggcl_npy_write(ctx, "", 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_ARG,
         "the path is empty");
    /* a folder that was never there: said so, not guessed "removed while the run wrote it?" (said where it was,
     * from the file's making to its naming) */
    said(ctx, vggcl_npy_write(ctx, "/nonexistent-vggcl-dir/o.npy", 1, (const long long[]){ 1 }, (const float[]){ 1 }),
         VGGCL_ERR_IO, "/nonexistent-vggcl-dir/o.npy: cannot create the output: its folder /nonexistent-vggcl-dir is "
         "not there");
    ck_assert_ptr_null(strstr(vggcl_message(ctx), "removed"));
    /* a folder there that makes no files (the kernel says ENOENT, as of a folder not there) */
    said(ctx, vggcl_npy_write(ctx, "/proc/o.npy", 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_IO,
         "/proc/o.npy: cannot create the output: its folder /proc takes no new files");
    /* a symlink to a file in a folder not there: that folder named (the link's own, which takes files, was said
     * to take none) */
    char link_path[512];
    snprintf(link_path, sizeof link_path, "%s", tu_tmp("dangling.npy"));
    remove(link_path);
    ck_assert_int_eq(symlink("/nonexistent-vggcl-dir/x.npy", link_path), 0);
    said(ctx, vggcl_npy_write(ctx, link_path, 1, (const long long[]){ 1 }, (const float[]){ 1 }), VGGCL_ERR_IO,
         "cannot create the output: its folder /nonexistent-vggcl-dir is not there");
    remove(link_path);
    said(ctx, vggcl_npy_writer_append(ctx, NULL, NULL, 0), VGGCL_ERR_ARG, "w is NULL");
    said(ctx, vggcl_npy_writer_close(ctx, NULL, 1), VGGCL_ERR_ARG, "vggcl_npy_writer_close: w is NULL");
    ck_assert_int_eq(vggcl_npy_writer_close(ctx, NULL, 0), VGGCL_OK); /* (a failed open's cleanup) */
    said(ctx, vggcl_png_write(ctx, NULL, rgb, 4, 4), VGGCL_ERR_ARG, "path is NULL");
    said(ctx, vggcl_png_write(ctx, tu_tmp("t.png"), NULL, 4, 4), VGGCL_ERR_ARG, "rgb is NULL");
    said(ctx, vggcl_png_write(ctx, tu_tmp("t.png"), rgb, 0, 4), VGGCL_ERR_ARG,
         "an image of 4 x 0 pixels (width x height); expected 1 to");
    said(ctx, vggcl_png_write(ctx, tu_tmp("t.png"), rgb, 4, -1), VGGCL_ERR_ARG, "an image of -1 x 4 pixels");
    ck_assert(!exists(tu_tmp("t.png")) && !exists(tu_tmp("t.npy")));
    said(ctx, vggcl_list_devices(ctx, NULL, 1, &n), VGGCL_ERR_ARG, "out is NULL");
    said(ctx, vggcl_list_devices(ctx, NULL, 0, NULL), VGGCL_ERR_ARG, "count is NULL");
    said(ctx, vggcl_model_preprocess(ctx, NULL, NULL), VGGCL_ERR_ARG, "p is NULL");
    vggcl_train_options o;
    vggcl_train_defaults(&o);
    float x[4] = { 0, 1, 2, 3 }, wt[4], b[2];
    int y[2] = { 0, 1 };
    said(ctx, vggcl_train_head(ctx, NULL, y, 2, 2, 2, NULL, NULL, 0, &o, wt, b, NULL, NULL), VGGCL_ERR_ARG,
         "x is NULL");
    said(ctx, vggcl_train_head(ctx, x, y, 2, 2, 2, NULL, NULL, 2, &o, wt, b, NULL, NULL), VGGCL_ERR_ARG,
         "x_val is NULL");
    said(ctx, vggcl_train_head(ctx, x, y, 2, 2, 2, NULL, NULL, 0, NULL, wt, b, NULL, NULL), VGGCL_ERR_ARG,
         "opts is NULL"); /* (it said "0 epochs, batch 0, lr 0") */
    said(ctx, vggcl_train_head(ctx, x, y, 2, 2, 2, NULL, NULL, -1, &o, wt, b, NULL, NULL), VGGCL_ERR_ARG,
         "-1 validation samples; expected 0 or more");
    said(ctx, vggcl_save_with_head(ctx, "trunk", tu_tmp("h.safetensors"), 2, 2, wt, b, NULL, 2), VGGCL_ERR_ARG,
         "2 metadata pairs without them");
    said(ctx, vggcl_save_with_head(ctx, "trunk", tu_tmp("h.safetensors"), 2, 2, wt, b, NULL, -1), VGGCL_ERR_ARG,
         "-1 metadata pairs");
    said(ctx, vggcl_save_with_head(ctx, "trunk", tu_tmp("h.safetensors"), 2, 2, NULL, b, NULL, 0), VGGCL_ERR_ARG,
         "w is NULL");
    /* (out_path went to a %s first: "(null): a head of 0 classes") */
    said(ctx, vggcl_save_with_head(ctx, "trunk", NULL, 0, 2, wt, b, NULL, 0), VGGCL_ERR_ARG, "out_path is NULL");
    said(ctx, vggcl_save_with_head(ctx, NULL, tu_tmp("h.safetensors"), 2, 2, wt, b, NULL, 0), VGGCL_ERR_ARG,
         "trunk_path is NULL");
    said(ctx, vggcl_npy_write(ctx, tu_tmp("t.npy"), 2, NULL, wt), VGGCL_ERR_ARG, "shape is NULL (2 dimensions)");
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 3, 1, NULL, &m), VGGCL_OK);
    double warm;
    said(ctx, vggcl_benchmark(ctx, m, x, 1, 32, 32, 1, &warm, NULL), VGGCL_ERR_ARG, "ms is NULL");
    double one_ms; /* (a batch no pass takes: the pass's refusal, not out of memory for its outputs) */
    said(ctx, vggcl_benchmark(ctx, m, x, INT_MAX, 32, 32, 1, &warm, &one_ms), VGGCL_ERR_SHAPE, "at most 2^50");
    /* outputs and handles NULL (each crashed) */
    said(ctx, vggcl_model_load(ctx, tu_tmp("none.safetensors"), NULL, NULL), VGGCL_ERR_ARG, "out is NULL");
    said(ctx, vggcl_image_read(ctx, "x.png", &p, NULL, &h, &w), VGGCL_ERR_ARG, "out is NULL");
    said(ctx, vggcl_image_load(ctx, "x.png", NULL, &h, &w), VGGCL_ERR_ARG, "rgb is NULL");
    said(ctx, vggcl_npy_read(ctx, "x.npy", &ndim, shape, NULL), VGGCL_ERR_ARG, "data is NULL");
    said(ctx, vggcl_npy_writer_open(ctx, tu_tmp("t.npy"), 1, (const long long[]){ 1 }, NULL), VGGCL_ERR_ARG,
         "out is NULL");
    ck_assert(!exists(tu_tmp("t.npy")));
    ck_assert_int_eq(vggcl_select_device(NULL, "ref"), VGGCL_ERR_ARG);
    /* an output set to NULL when another argument is refused, as on every other failure (it was left as it
     * was: a caller's free of it after the failure freed garbage) */
    float *const junk = (float *)&shape[0];
    vggcl_model *const junk_model = (vggcl_model *)&shape[0];
    out = junk;
    said(ctx, vggcl_image_preprocess(ctx, NULL, 4, 4, &p, &out, &h, &w), VGGCL_ERR_ARG, "rgb is NULL");
    ck_assert_ptr_null(out);
    out = junk;
    said(ctx, vggcl_image_read(ctx, "x.png", NULL, &out, &h, &w), VGGCL_ERR_ARG, "p is NULL");
    ck_assert_ptr_null(out);
    out = junk;
    said(ctx, vggcl_npy_read(ctx, "x.npy", NULL, shape, &out), VGGCL_ERR_ARG, "ndim is NULL");
    ck_assert_ptr_null(out);
    unsigned char *pixels = (unsigned char *)junk;
    said(ctx, vggcl_image_load(ctx, "x.png", &pixels, NULL, &w), VGGCL_ERR_ARG, "h is NULL");
    ck_assert_ptr_null(pixels);
    vggcl_model *mm = junk_model;
    ck_assert_int_eq(vggcl_model_load(NULL, "x.safetensors", NULL, &mm), VGGCL_ERR_ARG);
    ck_assert_ptr_null(mm);
    mm = junk_model;
    ck_assert_int_eq(vggcl_model_random(NULL, "vgg11", 3, 1, NULL, &mm), VGGCL_ERR_ARG);
    ck_assert_ptr_null(mm);
    /* a NULL model is said as such (it said "the model was not loaded with this context") */
    said(ctx, vggcl_forward(ctx, NULL, x, 1, 32, 32, NULL, NULL), VGGCL_ERR_ARG, "the model is NULL");
    said(ctx, vggcl_check_batch(ctx, NULL, 1, 32, 32), VGGCL_ERR_ARG, "the model is NULL");
    /* a NULL context (each crashed) and NULL outputs */
    n = 5;
    ck_assert_int_eq(vggcl_list_devices(NULL, NULL, 0, &n), VGGCL_ERR_ARG);
    ck_assert_int_eq(n, 0); /* (as its other failures: it was left as it was) */
    ck_assert_int_eq(vggcl_profile(NULL, 1), VGGCL_ERR_ARG); /* (vggcl_model_random's: above) */
    /* profiling turned off needs no device (a cleanup's, on the reference: refused) */
    said(ctx, vggcl_profile(ctx, 1), VGGCL_ERR_ARG, "profiling needs an OpenCL device");
    ck_assert_int_eq(vggcl_profile(ctx, 0), VGGCL_OK);
    /* a NULL context: refused by every function that takes one and is not documented to do without (those
     * of files and images took it and failed with no message for anyone; an output is still NULL) */
    ck_assert_int_eq(vggcl_select_device(NULL, "ref"), VGGCL_ERR_ARG);
    ck_assert_int_eq(vggcl_check_cam(NULL, m), VGGCL_ERR_ARG);
    ck_assert_int_eq(vggcl_check_batch(NULL, m, 1, 32, 32), VGGCL_ERR_ARG);
    ck_assert_int_eq(vggcl_check_batches(NULL, m, 1, 32, 32), VGGCL_ERR_ARG);
    ck_assert_int_eq(vggcl_forward_wait(NULL, m, NULL), VGGCL_ERR_ARG);
    {
        vggcl_preprocess pm;
        vggcl_preprocess_defaults(&pm);
        ck_assert_int_eq(vggcl_model_preprocess(NULL, NULL, &pm), VGGCL_OK); /* (documented: the defaults alone) */
        ck_assert_int_eq(vggcl_model_preprocess(NULL, m, &pm), VGGCL_ERR_ARG);
        char png[512], npy[512], st[512]; /* (tu_tmp's buffer is one: each name copied) */
        snprintf(png, sizeof png, "%s", tu_tmp("null-ctx.png"));
        snprintf(npy, sizeof npy, "%s", tu_tmp("null-ctx.npy"));
        snprintf(st, sizeof st, "%s", tu_tmp("null-ctx.safetensors"));
        unsigned char px[3 * 4 * 4] = { 0 }, *pxo = (unsigned char *)&shape[0];
        ck_assert(vggcl_png_write(ctx, png, px, 4, 4) == VGGCL_OK);
        ck_assert(vggcl_npy_write(ctx, npy, 1, (const long long[]){ 2 }, x) == VGGCL_OK);
        vggcl_preprocess pp;
        vggcl_preprocess_defaults(&pp);
        long long off;
        float *o2 = (float *)&shape[0];
        vggcl_npy_writer *wn = (vggcl_npy_writer *)&shape[0];
        ck_assert_int_eq(vggcl_image_load(NULL, png, &pxo, &h, &w), VGGCL_ERR_ARG);
        ck_assert_ptr_null(pxo);
        ck_assert_int_eq(vggcl_image_read(NULL, png, &pp, &o2, &h, &w), VGGCL_ERR_ARG);
        ck_assert_ptr_null(o2);
        o2 = (float *)&shape[0];
        ck_assert_int_eq(vggcl_image_preprocess(NULL, px, 4, 4, &pp, &o2, &h, &w), VGGCL_ERR_ARG);
        ck_assert_ptr_null(o2);
        o2 = (float *)&shape[0];
        ck_assert_int_eq(vggcl_npy_read(NULL, npy, &ndim, shape, &o2), VGGCL_ERR_ARG);
        ck_assert_ptr_null(o2);
        ck_assert_int_eq(vggcl_npy_header(NULL, npy, &ndim, shape, &off), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_npy_write(NULL, tu_tmp("null-ctx2.npy"), 1, (const long long[]){ 2 }, x), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_png_write(NULL, tu_tmp("null-ctx2.png"), px, 4, 4), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_npy_writer_open(NULL, tu_tmp("null-ctx2.npy"), 1, (const long long[]){ 2 }, &wn),
                         VGGCL_ERR_ARG);
        ck_assert_ptr_null(wn);
        ck_assert(!exists(tu_tmp("null-ctx2.npy")) && !exists(tu_tmp("null-ctx2.png")));
        /* a writer opened with a context: append and ready refused without one, close frees it all the same */
        ck_assert(vggcl_npy_writer_open(ctx, tu_tmp("null-ctx2.npy"), 1, (const long long[]){ 2 }, &wn) == VGGCL_OK);
        ck_assert_int_eq(vggcl_npy_writer_append(NULL, wn, x, 1), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_npy_writer_ready(NULL, wn), VGGCL_ERR_ARG);
        ck_assert_int_eq(vggcl_npy_writer_close(NULL, wn, 1), VGGCL_ERR_ARG);
        ck_assert(!exists(tu_tmp("null-ctx2.npy")));
        vggcl_train_options to;
        vggcl_train_defaults(&to);
        float tw[16], tb[2];
        const int ty[2] = { 0, 1 };
        ck_assert_int_eq(vggcl_train_head(NULL, x, ty, 2, 2, 2, NULL, NULL, 0, &to, tw, tb, NULL, NULL), VGGCL_ERR_ARG);
        tu_write_vgg(st, "8,M,8", 0, 3, 3, NULL);
        ck_assert_int_eq(vggcl_save_with_head(NULL, st, tu_tmp("null-ctx2.safetensors"), 2, 8, tw, tb, NULL, 0),
                         VGGCL_ERR_ARG);
        ck_assert(!exists(tu_tmp("null-ctx2.safetensors")));
        remove(png), remove(npy), remove(st);
    }
    ck_assert_int_eq(vggcl_profile_read(NULL, NULL, 0), 0);
    said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, NULL, &h, &w), VGGCL_ERR_ARG, "out is NULL");
    said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, NULL, &w), VGGCL_ERR_ARG, "oh is NULL");
    said(ctx, vggcl_image_preprocess(ctx, rgb, 4, 4, &p, &out, &h, NULL), VGGCL_ERR_ARG, "ow is NULL");
    long long offset;
    said(ctx, vggcl_npy_header(ctx, "x.npy", NULL, shape, &offset), VGGCL_ERR_ARG, "ndim is NULL");
    said(ctx, vggcl_npy_header(ctx, "x.npy", &ndim, NULL, &offset), VGGCL_ERR_ARG, "shape is NULL");
    said(ctx, vggcl_npy_header(ctx, "x.npy", &ndim, shape, NULL), VGGCL_ERR_ARG, "offset is NULL");
    vggcl_set_log(NULL, NULL, NULL);
    ck_assert_int_eq(vggcl_model_min_input(NULL), 1);
    ck_assert_int_eq(vggcl_model_size_multiple(NULL), 1);
    ck_assert(vggcl_model_flops(NULL, 1, 32, 32) == 0);
    ck_assert(vggcl_model_flops(m, 1, 32, 32) > 0);
    ck_assert_int_eq(vggcl_model_size_multiple(m), 1); /* (no pool rounds up) */
    int fh = 5, fw = 5;
    ck_assert(vggcl_model_fixed_size(NULL, &fh, &fw) == 0 && fh == 0 && fw == 0);
    fh = fw = 5;
    ck_assert(vggcl_model_fixed_size(m, &fh, &fw) == 0 && fh == 0 && fw == 0); /* (a GAP head: any size) */
    ck_assert(vggcl_model_fixed_size(m, NULL, NULL) == 0);
    ck_assert(vggcl_model_flops(m, -1, 32, 32) == 0 && vggcl_model_flops(m, 1, 0, 32) == 0);
    ck_assert(vggcl_model_flops(m, 1, 1, 1) == 0); /* (a size the model does not take: it counted 432) */
    int convs = -1; /* (the table's rows steering layers: the cli test's bench, with tune's table) */
    ck_assert_int_eq(vggcl_model_tuned_layers(NULL, m, 1, 32, 32, &convs), 0);
    ck_assert_int_gt(convs, 0);
    ck_assert_int_eq(vggcl_model_tuned_layers(ctx, NULL, 1, 32, 32, &convs), 0);
    ck_assert_int_eq(convs, 0);
    ck_assert_int_eq(vggcl_model_tuned_layers(ctx, m, 0, 32, 32, &convs), 0);
    ck_assert_int_eq(convs, 0);
    char note[64] = "x"; /* (the cli test's bench says a table none of whose rows fits) */
    ck_assert_int_eq(vggcl_model_table_layers(NULL, m, 1, 32, 32, note, sizeof note), 0);
    ck_assert_str_eq(note, "");
    note[0] = 'x';
    ck_assert_int_eq(vggcl_model_table_layers(ctx, NULL, 1, 32, 32, note, sizeof note), 0);
    ck_assert_str_eq(note, "");
    ck_assert_int_eq(vggcl_model_table_layers(ctx, m, 0, 32, 32, NULL, 0), 0);
    int mh = 5, mw = 5;
    vggcl_model_map_size(NULL, 32, 32, &mh, &mw);
    ck_assert(mh == 0 && mw == 0);
    /* a size a pass refuses as too large is one the model does not take: 0 x 0 (it gave a map, and classify ran
     * such an image first: the whole run failed on it); none overflows (a pool with ceil_mode or padding did) */
    static const int large[][3] = { { VGGCL_MAX_SIDE, 32, 1 },        { 32, VGGCL_MAX_SIDE, 1 },
                                    { VGGCL_MAX_SIDE + 1, 32, 0 },    { 32, VGGCL_MAX_SIDE + 1, 0 },
                                    { VGGCL_MAX_SIDE, 32767, 1 },     { VGGCL_MAX_SIDE, VGGCL_MAX_SIDE, 0 },
                                    { INT_MAX, INT_MAX, 0 } };
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        vggcl_model_map_size(m, large[i][0], large[i][1], &mh, &mw);
        ck_assert_msg((mh > 0 && mw > 0) == large[i][2] && (mh > 0) == (mw > 0), "%dx%d: %dx%d", large[i][0],
                      large[i][1], mh, mw);
        ck_assert_int_eq(vggcl_check_batch(ctx, m, 1, large[i][0], large[i][1]) == VGGCL_ERR_SHAPE, !large[i][2]);
    }
    ck_assert_ptr_null(vggcl_model_metadata(m, NULL));
    vggcl_build_info(ctx, NULL, NULL, NULL);
    ck_assert(vggcl_device_bytes_peak(NULL) == 0);
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* vggcl_check_batch and vggcl_max_batch refuse what a pass refuses, with its message: a shape too small or
 * too large, another context's model, a limit below 1 (vggcl_check_cam too: another context's model, none); the largest batch is at most what a pass accepts
 * (the host's memory not known: only the bound on a pass's size limits it). */
START_TEST(test_batch_checks)
{
    vggcl_ctx *ctx = ref_ctx(), *other = ref_ctx();
    vggcl_model *m;
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 10, 1, NULL, &m), VGGCL_OK);
    said(ctx, vggcl_check_batch(ctx, m, 1, 16, 16), VGGCL_ERR_SHAPE, "input (N, 3, 16, 16) is too small");
    said(ctx, vggcl_check_batches(ctx, m, 1, 16, 16), VGGCL_ERR_SHAPE, "input (N, 3, 16, 16) is too small");
    said(ctx, vggcl_check_batches(ctx, m, 0, 32, 32), VGGCL_ERR_SHAPE, "expected N >= 1");
    said(ctx, vggcl_check_batch(ctx, m, 0, 32, 32), VGGCL_ERR_SHAPE, "expected N >= 1");
    said(ctx, vggcl_check_batch(ctx, m, 1 << 26, 32761, 32761), VGGCL_ERR_SHAPE, "too large");
    /* a map of 2^31 pixels or more: the kernels index a map in int (GAP divided by a wrapped 0) */
    said(ctx, vggcl_check_batch(ctx, m, 1, 46341, 46341), VGGCL_ERR_SHAPE, "2147488281 pixels a map; at most 2^31 - 1");
    said(ctx, vggcl_check_batch(ctx, m, 1, 65536, 32768), VGGCL_ERR_SHAPE, "pixels a map");
    said(other, vggcl_check_batch(other, m, 1, 32, 32), VGGCL_ERR_ARG, "not loaded with this context");
    ck_assert_msg(vggcl_check_cam(ctx, m) == VGGCL_OK, "%s", vggcl_message(ctx)); /* (a GAP head of one layer) */
    said(other, vggcl_check_cam(other, m), VGGCL_ERR_ARG, "not loaded with this context");
    said(ctx, vggcl_check_cam(ctx, NULL), VGGCL_ERR_ARG, "the model is NULL");
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 16, 16, 8), -1);
    ck_assert_msg(strstr(vggcl_message(ctx), "input (N, 3, 16, 16) is too small"), "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 32, 32, 0), -1);
    ck_assert_msg(strstr(vggcl_message(ctx), "a limit of 0; expected at least 1"), "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_max_batch(ctx, NULL, 32, 32, 8), -1);
    ctx->host_mem = 1ull << 62; /* (more than any pass a size_t measures needs) */
    const int most = vggcl_max_batch(ctx, m, 32761, 32761, INT32_MAX);
    ck_assert_msg(most >= 1 && most < INT32_MAX, "%d: %s", most, vggcl_message(ctx));
    ck_assert_msg(vggcl_check_batch(ctx, m, most, 32761, 32761) == VGGCL_OK, "%d: %s", most, vggcl_message(ctx));
    said(ctx, vggcl_check_batch(ctx, m, most + 1, 32761, 32761), VGGCL_ERR_SHAPE, "too large");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx), vggcl_ctx_free(other);
}
END_TEST

/* A batch whose activations no size_t holds: refused before any size is computed (on the reference it
 * wrapped to a 1-byte buffer and copied the input into it). */
START_TEST(test_forward_too_large)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *m;
    static float input[16], logits[10];
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 10, 1, NULL, &m), VGGCL_OK);
    said(ctx, vggcl_forward(ctx, m, input, 1 << 26, 32761, 32761, logits, NULL), VGGCL_ERR_SHAPE, "too large");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

/* The reference's pass checks the host memory it takes, as the device's does: past it (a context told how
 * much there is), VGGCL_ERR_NOMEM with the need, the largest map and the largest batch that fits, which then
 * runs; its own arrays for the features and logits count where the caller gives none. */
/* A context freed before its models (the header had said "free the models first", and its models then
 * wrote into the freed context): it goes with the last of them; on the OpenCL device with a pass in flight
 * (test_network_ctx_freed_first). Under the sanitizers: no use after free, no leak. */
START_TEST(test_ctx_freed_before_models)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *a = NULL, *b = NULL;
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 3, 1, NULL, &a), VGGCL_OK);
    ck_assert_int_eq(vggcl_model_random(ctx, "vgg11", 3, 2, NULL, &b), VGGCL_OK);
    float x[3 * 32 * 32] = { 0 }, y[3];
    ck_assert_int_eq(vggcl_forward(ctx, a, x, 1, 32, 32, y, NULL), VGGCL_OK);
    vggcl_ctx_free(ctx);
    vggcl_model_free(a);
    vggcl_model_free(b); /* (the context goes here) */
}
END_TEST

START_TEST(test_ref_host_memory)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *m = NULL;
    const char *path = tu_tmp("host.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 3, 1, NULL);
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    static float x[8 * 3 * 32 * 32], logits[8 * 3], feats[8 * 16];
    tu_fill(x, sizeof x / sizeof x[0], 3, -1, 1);
    /* an image's two maps, each as large as the largest: features.0's 8 x 32 x 32 (NCHW, as host/ref keeps them) */
    const unsigned long long maps = 2 * 8 * 32 * 32 * sizeof(float), feat = 16 * 4;
    ctx->host_mem = 3 * maps + 1;
    said(ctx, vggcl_forward(ctx, m, x, 8, 32, 32, logits, feats), VGGCL_ERR_NOMEM,
         "out of host memory: the reference's pass of batch 8 at 32x32 needs ");
    said(ctx, vggcl_forward(ctx, m, x, 8, 32, 32, logits, feats), VGGCL_ERR_NOMEM,
         "needs 0.5 MiB (two maps of 0.2 MiB: layer features.0's output), but 0.2 MiB is available");
    said(ctx, vggcl_forward(ctx, m, x, 8, 32, 32, logits, feats), VGGCL_ERR_NOMEM,
         "ulimit -v); the largest batch that fits at this size is 3");
    ck_assert_msg(vggcl_forward(ctx, m, x, 3, 32, 32, logits, feats) == VGGCL_OK, "%s", vggcl_message(ctx));
    said(ctx, vggcl_forward(ctx, m, x, 3, 32, 32, logits, NULL), VGGCL_ERR_NOMEM, "fits at this size is 2");
    /* asked before a pass: its own features and logits count, and the input the caller is yet to make (an
     * image's 12 KiB: 2 fit, where 3 did with the caller's arrays) */
    said(ctx, vggcl_check_batch(ctx, m, 8, 32, 32), VGGCL_ERR_NOMEM, "output; and the input to be made), but");
    said(ctx, vggcl_check_batch(ctx, m, 8, 32, 32), VGGCL_ERR_NOMEM, "the largest batch that fits at this size is 2");
    said(ctx, vggcl_check_batch(ctx, m, 3, 32, 32), VGGCL_ERR_NOMEM, "the largest batch that fits at this size is 2");
    said(ctx, vggcl_check_batches(ctx, m, 3, 32, 32), VGGCL_ERR_NOMEM, "the largest batch that fits at this size is 2");
    ck_assert_msg(vggcl_check_batches(ctx, m, 2, 32, 32) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_msg(vggcl_check_batch(ctx, m, 2, 32, 32) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 32, 32, 100), 2);
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 32, 32, 1), 1);
    ctx->host_mem = 3 * (maps + feat);
    ck_assert_msg(vggcl_forward(ctx, m, x, 3, 32, 32, logits, NULL) == VGGCL_OK, "%s", vggcl_message(ctx));
    ctx->host_mem = maps - 1;
    said(ctx, vggcl_forward(ctx, m, x, 1, 32, 32, logits, feats), VGGCL_ERR_NOMEM, "not even one image fits");
    said(ctx, vggcl_check_batch(ctx, m, 1, 32, 32), VGGCL_ERR_NOMEM, "not even one image fits");
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 32, 32, 0), -1); /* (another message before: "a limit of 0") */
    ck_assert_int_eq(vggcl_max_batch(ctx, m, 32, 32, 100), 0);
    ck_assert_ptr_nonnull(strstr(vggcl_message(ctx), "not even one image fits")); /* (it left the one before) */
    ctx->host_mem = 0; /* the system's: this small pass fits */
    ck_assert_msg(vggcl_forward(ctx, m, x, 8, 32, 32, logits, feats) == VGGCL_OK, "%s", vggcl_message(ctx));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    remove(path);
}
END_TEST

/* No map (an input too small: vggcl_model_map_size's 0x0) draws flat; sizes below 1 write nothing (they read
 * cam[-1] and wrote out of bounds). */
START_TEST(test_cam_sizes)
{
    float cam[4] = { 1, 2, 3, 4 }, out[18];
    unsigned char rgb[3] = { 1, 2, 3 }, pic[4] = { 7, 7, 7, 7 };
    for (int i = 0; i < 18; i++) out[i] = 5;
    vggcl_cam_upsample(cam, 0, 0, out, 4, 4);
    for (int i = 0; i < 16; i++) ck_assert(out[i] == 0);
    ck_assert(out[16] == 5);
    vggcl_cam_upsample(cam, 2, 2, out, -1, 2);
    vggcl_cam_upsample(cam, -3, 2, out + 16, 1, 1);
    ck_assert(out[16] == 0 && out[17] == 5);
    vggcl_cam_draw(out, rgb, -1, 2, pic);
    vggcl_cam_draw(out, rgb, 1, 0, pic);
    ck_assert(pic[0] == 7 && pic[3] == 7);
}
END_TEST

/* NaN stays NaN, where it is: a neighbour it has no weight in keeps its value (0 * NaN spread it), and a
 * map of NaN alone is NaN, not flat (the flat-map rule made it 0). */
START_TEST(test_cam_nan)
{
    const float nan = NAN, map[9] = { 0, 1, 2, 3, nan, 5, 6, 7, 8 }, all[4] = { nan, nan, nan, nan };
    float out[9], two[4];
    vggcl_cam_upsample(map, 3, 3, out, 3, 3); /* the same size: each pixel its own */
    for (int i = 0; i < 9; i++)
        if (i == 4) ck_assert(isnan(out[i]));
        else ck_assert_msg(fabsf(out[i] - map[i] / 8) < 1e-6f, "pixel %d: %g, expected %g", i, out[i], map[i] / 8);
    vggcl_cam_upsample(all, 2, 2, two, 2, 2);
    for (int i = 0; i < 4; i++) ck_assert(isnan(two[i]));
}
END_TEST

/* .npy shapes the reader refuses are refused by the writers too, and no data is no write (fwrite(NULL, ..., 0)
 * is undefined). */
START_TEST(test_npy_limits)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp("l.npy"));
    vggcl_npy_writer *w = NULL;
    said(ctx, vggcl_npy_writer_open(ctx, path, 2, (const long long[]){ 1LL << 32, 1LL << 32 }, &w), VGGCL_ERR_ARG,
         "expected 0 to 2^40");
    said(ctx, vggcl_npy_write(ctx, path, 2, (const long long[]){ 0, 1LL << 41 }, NULL), VGGCL_ERR_ARG, "shape[1]");
    ck_assert(!exists(path));
    ck_assert_int_eq(vggcl_npy_writer_open(ctx, path, 1, (const long long[]){ 4 }, &w), VGGCL_OK);
    const float row[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, NULL, 0), VGGCL_OK);
    said(ctx, vggcl_npy_writer_append(ctx, w, row, 1LL << 62), VGGCL_ERR_ARG, "more than 2^40 rows");
    ck_assert_int_eq(vggcl_npy_writer_append(ctx, w, row, 1), VGGCL_OK);
    ck_assert_int_eq(vggcl_npy_writer_close(ctx, w, 1), VGGCL_OK);
    int ndim;
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *back;
    ck_assert_int_eq(vggcl_npy_read(ctx, path, &ndim, shape, &back), VGGCL_OK);
    ck_assert(ndim == 2 && shape[0] == 1 && shape[1] == 4 && back[3] == 4);
    vggcl_free(back);
    ck_assert_int_eq(vggcl_npy_write(ctx, path, 1, (const long long[]){ 0 }, NULL), VGGCL_OK);
    ck_assert_int_eq(vggcl_npy_read(ctx, path, &ndim, shape, &back), VGGCL_OK);
    ck_assert(ndim == 1 && shape[0] == 0);
    vggcl_free(back);
    remove(path);
    vggcl_ctx_free(ctx);
}
END_TEST

/* What vggcl_train_options.on_epoch was told: each epoch, in order, and the last one said to be the best. */
typedef struct {
    int calls, last_best, order_ok;
    vggcl_train_epoch seen[100];
} epochs_told;

static int tell_epoch(void *user, const vggcl_train_epoch *e, int best)
{
    epochs_told *t = user;
    t->order_ok &= e->epoch == t->calls + 1;
    if (t->calls < 100) t->seen[t->calls] = *e;
    t->calls++;
    if (best) t->last_best = e->epoch;
    return 0;
}

/* The same, ending the training after its third epoch. */
static int stop_at_3(void *user, const vggcl_train_epoch *e, int best)
{
    tell_epoch(user, e, best);
    return e->epoch == 3;
}

/* A NaN or infinite feature, or an infinite lr or l2, is refused; a learning rate that diverges is said (each
 * returned VGGCL_OK with a head of NaN); on_epoch is told each epoch as it ends, the last best the one kept. */
START_TEST(test_train_head_not_finite)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_train_options o;
    float x[8 * 3], w[2 * 3], b[2];
    int y[8];
    for (int i = 0; i < 8; i++) {
        y[i] = i % 2;
        for (int j = 0; j < 3; j++) x[i * 3 + j] = (float)((i * 7 + j * 3) % 5) + (float)y[i] * (float)(j + 1);
    }
    vggcl_train_defaults(&o);
    o.epochs = 3;
    ck_assert_int_eq(vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, NULL, NULL), VGGCL_OK);
    x[5] = NAN;
    said(ctx, vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, NULL, NULL), VGGCL_ERR_ARG,
         "training sample 1's feature 2 is nan");
    x[5] = INFINITY;
    said(ctx, vggcl_train_head(ctx, x, y, 6, 3, 2, x + 18, y + 6, 2, &o, w, b, NULL, NULL), VGGCL_ERR_ARG,
         "training sample 1's feature 2 is inf");
    x[5] = 1;
    o.lr = INFINITY;
    said(ctx, vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, NULL, NULL), VGGCL_ERR_ARG, "finite lr");
    o.lr = 0.1, o.l2 = INFINITY;
    said(ctx, vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, NULL, NULL), VGGCL_ERR_ARG, "finite l2");
    o.l2 = 1e-4, o.lr = 1e300;
    said(ctx, vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, NULL, NULL), VGGCL_ERR_ARG, "diverged");
    /* weight decay past 2 / lr: the weights grow fourfold a step and overflow within 100 epochs. The epoch
     * kept is an earlier finite one, with and without validation samples (a diverged epoch's NaN scores
     * once predicted class 0 for all, and its loss was floored at 690.8: it was kept, and failed) */
    vggcl_train_epoch log[100];
    o.lr = 5, o.l2 = 1, o.momentum = 0, o.batch = 1, o.epochs = 100;
    for (int nv = 0; nv <= 2; nv += 2) {
        int best = 0;
        static epochs_told told;
        told = (epochs_told){ .order_ok = 1 };
        o.on_epoch = tell_epoch, o.user = &told;
        ck_assert_int_eq(vggcl_train_head(ctx, x, y, 8 - nv, 3, 2, x + 3 * (8 - nv), y + 8 - nv, nv, &o, w, b, log,
                                          &best), VGGCL_OK);
        ck_assert(!isfinite(log[99].train_loss) && isnan(log[99].train_acc));
        ck_assert(best >= 1 && isfinite(log[best - 1].train_loss));
        ck_assert(told.calls == 100 && told.order_ok && told.last_best == best);
        ck_assert(!memcmp(told.seen, log, sizeof log)); /* (NaNs compared by their bytes) */
        for (int k = 0; k < 2 * 3 + 2; k++) ck_assert(isfinite(k < 6 ? w[k] : b[k - 6]));
    }
    /* on_epoch ends the training by returning nonzero: the epochs after it not run, the best of those run kept,
     * their log entries epoch 0; the head that of a training of that many epochs */
    float w3[2 * 3], b3[2];
    int best3 = 0, best = 0;
    static epochs_told told;
    told = (epochs_told){ .order_ok = 1 };
    o.lr = 0.05, o.l2 = 1e-4, o.momentum = 0.9, o.batch = 2, o.epochs = 10, o.on_epoch = stop_at_3, o.user = &told;
    ck_assert_int_eq(vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w, b, log, &best), VGGCL_OK);
    ck_assert(told.calls == 3 && best >= 1 && best <= 3 && told.last_best == best);
    for (int e = 3; e < 10; e++) ck_assert_int_eq(log[e].epoch, 0);
    o.epochs = 3, o.on_epoch = NULL;
    ck_assert_int_eq(vggcl_train_head(ctx, x, y, 8, 3, 2, NULL, NULL, 0, &o, w3, b3, NULL, &best3), VGGCL_OK);
    ck_assert(best3 == best && !memcmp(w, w3, sizeof w) && !memcmp(b, b3, sizeof b));
    vggcl_ctx_free(ctx);
}
END_TEST

/* vggcl_tune checks its model as the passes do (it mixed two contexts' buffers, and crashed on NULL). */
START_TEST(test_tune_model_checked)
{
    vggcl_ctx *a = ref_ctx(), *b = ref_ctx();
    vggcl_model *m;
    int count = -1;
    vggcl_tune_row rows[4];
    ck_assert_int_eq(vggcl_model_random(b, "vgg11", 3, 1, NULL, &m), VGGCL_OK);
    said(a, vggcl_tune(a, m, NULL, 0, 32, 32, 1, 1, rows, 4, &count, NULL, 0), VGGCL_ERR_ARG,
         "tune: the model was not loaded with this context");
    said(a, vggcl_tune(a, NULL, NULL, 0, 32, 32, 1, 1, rows, 4, &count, NULL, 0), VGGCL_ERR_ARG,
         "tune: the model is NULL");
    ck_assert_int_eq(count, 0);
    vggcl_model_free(m);
    vggcl_ctx_free(a);
    vggcl_ctx_free(b);
}
END_TEST

/* Load options out of range: refused on every backend (pool5 7 was taken as kept and reported as 7; conv 99
 * was refused on a device only). */
START_TEST(test_load_options)
{
    vggcl_ctx *ctx = ref_ctx();
    vggcl_model *m = NULL;
    vggcl_load_options o;
    vggcl_load_options_defaults(&o);
    o.pool5 = 7;
    said(ctx, vggcl_model_random(ctx, "vgg11", 3, 1, &o, &m), VGGCL_ERR_ARG, "pool5 7");
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp("opts.safetensors"));
    tu_write_vgg(path, "8,M,16", 0, 3, 1, NULL);
    said(ctx, vggcl_model_load(ctx, path, &o, &m), VGGCL_ERR_ARG, "pool5 7");
    ck_assert_ptr_null(strstr(vggcl_message(ctx), "0.2"));
    o.pool5 = -1; /* (0.2's AUTO: a program or Python module of 0.2 given this library, named as such) */
    said(ctx, vggcl_model_load(ctx, path, &o, &m), VGGCL_ERR_ARG, "pool5 -1; expected VGGCL_POOL5_AUTO, KEEP or DROP "
         "(-1 was AUTO before vggcl 0.3: a program or Python module made for 0.2 given this library?");
    o.pool5 = VGGCL_POOL5_AUTO, o.conv = 99;
    said(ctx, vggcl_model_load(ctx, path, &o, &m), VGGCL_ERR_ARG, "no convolution algorithm 99");
    o.conv = VGGCL_CONV_AUTO, o.features_only = 2; /* (as a draft of 2: 0 or 1, not any true value) */
    said(ctx, vggcl_model_load(ctx, path, &o, &m), VGGCL_ERR_ARG, "features_only 2; expected 0 or 1");
    said(ctx, vggcl_model_random(ctx, "vgg11", 3, 1, &o, &m), VGGCL_ERR_ARG, "features_only 2");
    ck_assert_ptr_null(m);
    remove(path);
    vggcl_ctx_free(ctx);
}
END_TEST

/* A context on the OpenCL device with the model at path loaded for GEMM convolutions (*m), after one pass, which
 * ran CLBlast. */
static vggcl_ctx *clblast_pass(const char *path, vggcl_model **m)
{
    float x[3 * 16 * 16], y[3];
    tu_fill(x, 3 * 16 * 16, 1, -1, 1);
    vggcl_ctx *ctx = tu_cl_ctx();
    vggcl_load_options o;
    vggcl_load_options_defaults(&o);
    o.conv = VGGCL_CONV_GEMM;
    ck_assert_msg(vggcl_model_load(ctx, path, &o, m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_msg(vggcl_forward(ctx, *m, x, 1, 16, 16, y, NULL) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert(ctx->used_clblast);
    return ctx;
}

/* Contexts opened and freed one after another, each running CLBlast (a GEMM convolution), as a service that opens
 * one per request while it keeps a model of its own (which runs CLBlast too, between them): the process's memory
 * stays flat. CLBlast's program cache kept every context (1.6 MB each on PoCL, 96 MB over these 60); it was
 * emptied only with the last context that used it, so a model kept for the process's life kept them all (113 MB
 * grown here): now also at every VGGCL__CLBLAST_FREED_MAX-th freed. (Not under ASan, whose quarantine holds freed
 * memory.) */
START_TEST(test_clblast_contexts_released)
{
#ifndef VGGCL_SANITIZE
    const char *path = tu_tmp("api-clblast.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 3, 3, NULL);
    long rss_at[2] = { 0, 0 };
    vggcl_model *kept_model;
    vggcl_ctx *kept = clblast_pass(path, &kept_model);
    float x[3 * 16 * 16], want[3], y[3];
    tu_fill(x, 3 * 16 * 16, 1, -1, 1);
    ck_assert(vggcl_forward(kept, kept_model, x, 1, 16, 16, want, NULL) == VGGCL_OK);
    for (int i = 0; i < 76; i++) {
        vggcl_model *m;
        vggcl_ctx *ctx = clblast_pass(path, &m);
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        /* (the kept one's programs made again where the cache was emptied: its answers the same) */
        ck_assert_msg(vggcl_forward(kept, kept_model, x, 1, 16, 16, y, NULL) == VGGCL_OK, "%s", vggcl_message(kept));
        ck_assert(!memcmp(y, want, sizeof y));
        if (i == 15 || i == 75) { /* (the first ones: PoCL's and the allocator's own growth, which settles) */
            FILE *f = fopen("/proc/self/statm", "r");
            long pages = 0, resident = 0;
            ck_assert(f && fscanf(f, "%ld %ld", &pages, &resident) == 2);
            fclose(f);
            rss_at[i == 75] = resident * (sysconf(_SC_PAGESIZE) / 1024);
        }
    }
    ck_assert_msg(rss_at[1] - rss_at[0] < 24 * 1024, "60 contexts that ran CLBlast grew the process by %ld kB",
                  rss_at[1] - rss_at[0]);
    vggcl_model_free(kept_model);
    vggcl_ctx_free(kept);
    remove(path);
#endif
}
END_TEST

/* A child forked while another thread of its parent was in CLBlast (the process-wide lock held, as here) frees
 * the context it inherited: it waited on that lock, which no thread of its own would release, for ever; and loads
 * and runs a model on the reference, which the header's parse under that lock made wait for ever too. */
START_TEST(test_clblast_forked_child_frees)
{
    const char *path = tu_tmp("api-clblast-fork.safetensors");
    tu_write_vgg(path, "8,M,16", 0, 3, 3, NULL);
    vggcl_model *m;
    vggcl_ctx *ctx = clblast_pass(path, &m);
    vggcl__lock(); /* (as a thread inside CLBlastSgemm holds it) */
    const pid_t pid = fork();
    if (pid == 0) {
        sigset_t alrm; /* (a hang ends the child by SIGALRM: the parent sees it; Check's own may be blocked) */
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        signal(SIGALRM, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        alarm(20);
        vggcl_model_free(m);
        vggcl_ctx_free(ctx);
        vggcl_ctx *ref = vggcl_ctx_new();
        vggcl_model *r = NULL;
        float x[3 * 32 * 32] = { 0 }, logits[3];
        const int ok = ref && vggcl_select_device(ref, "ref") == VGGCL_OK &&
                       vggcl_model_load(ref, path, NULL, &r) == VGGCL_OK &&
                       vggcl_forward(ref, r, x, 1, 32, 32, logits, NULL) == VGGCL_OK;
        vggcl_model_free(r);
        vggcl_ctx_free(ref);
        _exit(ok ? 0 : 3);
    }
    vggcl__unlock();
    ck_assert_int_ge(pid, 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the forked child %s %d",
                  WIFSIGNALED(status) ? "ended by signal" : "exited", WIFSIGNALED(status) ? WTERMSIG(status)
                                                                                          : WEXITSTATUS(status));
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
    remove(path);
}
END_TEST

/* vggcl_device_index: each listed device's own index whichever spec selected it (an index, P:D); -1 before
 * a selection, after a failed one (no such device; each call opening the device failed in turn, most of
 * them after the device was matched) and on the reference. */
/* Calls of the API the audit found crashing or refusing what they should take: vggcl_profile_read with no
 * output (the count alone; it wrote through NULL), vggcl_benchmark of a model loaded without a head (it
 * asked for logits), vggcl_model_min_input of a network of 31 pools (1 << 31: undefined, negative). */
START_TEST(test_api_audit_cases)
{
    const char *path = tu_tmp("api-audit.safetensors");
    tu_write_vgg(path, "8,M,8", 0, 3, 3, NULL);
    vggcl_ctx *cl = tu_cl_ctx();
    vggcl_model *m;
    ck_assert_msg(vggcl_model_load(cl, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(cl));
    float x[3 * 8 * 8], y[3];
    tu_fill(x, 3 * 8 * 8, 1, -1, 1);
    ck_assert(vggcl_profile(cl, 1) == VGGCL_OK);
    ck_assert_msg(vggcl_forward(cl, m, x, 1, 8, 8, y, NULL) == VGGCL_OK, "%s", vggcl_message(cl));
    const int layers = vggcl_profile_read(cl, NULL, 4);
    ck_assert_int_ge(layers, 3);
    ck_assert_int_eq(vggcl_profile_read(cl, NULL, 0), layers);
    vggcl_model_free(m);
    vggcl_ctx_free(cl);

    vggcl_ctx *ctx = ref_ctx();
    vggcl_load_options o;
    vggcl_load_options_defaults(&o);
    o.features_only = 1;
    ck_assert(vggcl_model_load(ctx, path, &o, &m) == VGGCL_OK);
    double warm, ms[2];
    ck_assert_msg(vggcl_benchmark(ctx, m, x, 1, 8, 8, 2, &warm, ms) == VGGCL_OK, "%s", vggcl_message(ctx));
    vggcl_model_free(m);
    char cfg[256] = "4,M";
    for (int i = 1; i < 31; i++) strcat(cfg, ",4,M");
    tu_write_vgg(path, cfg, 0, 3, 3, NULL);
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_model_min_input(m), INT_MAX);
    ck_assert_int_eq(vggcl_model_size_multiple(m), 1); /* (its sides multiplied past INT_MAX: UB under UBSan) */
    vggcl_model_free(m);
    /* every pool rounding up: no size is a multiple (it said 1 << 30, past which the side wrapped) */
    tu_write_vgg(path, cfg, 0, 3, 3, "{\"vggcl.pool_ceil\":\"1\"}");
    ck_assert_msg(vggcl_model_load(ctx, path, NULL, &m) == VGGCL_OK, "%s", vggcl_message(ctx));
    ck_assert_int_eq(vggcl_model_size_multiple(m), INT_MAX);
    /* the functions that return nothing, given NULL: nothing done (they wrote through it) */
    vggcl_preprocess_defaults(NULL), vggcl_preprocess_unset(NULL), vggcl_load_options_defaults(NULL);
    vggcl_train_defaults(NULL);
    float up[4] = { 1, 1, 1, 1 };
    unsigned char rgb[12] = { 0 }, pic[12] = { 0 };
    vggcl_cam_upsample(NULL, 2, 2, up, 2, 2);
    ck_assert(up[0] == 0 && up[3] == 0);
    vggcl_cam_upsample(up, 2, 2, NULL, 2, 2);
    vggcl_cam_draw(NULL, rgb, 2, 2, pic), vggcl_cam_draw(up, NULL, 2, 2, pic), vggcl_cam_draw(up, rgb, 2, 2, NULL);
    said(ctx, vggcl_check_batch(ctx, m, 1, 65536, 32767), VGGCL_ERR_SHAPE, "this network needs at least");
    vggcl_model_free(m);
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_device_index)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(vggcl_device_index(ctx), -1);
    ck_assert_int_eq(vggcl_device_index(NULL), -1);
    ck_assert_int_ne(vggcl_select_device(ctx, "no such device, anywhere"), VGGCL_OK);
    ck_assert_int_eq(vggcl_device_index(ctx), -1);
    vggcl_ctx_free(ctx);
    ctx = ref_ctx();
    ck_assert_int_eq(vggcl_device_index(ctx), -1);
    vggcl_device_info info[16];
    int n = 0;
    ck_assert_msg(vggcl_list_devices(ctx, info, 16, &n) == VGGCL_OK && n > 0, "%s", vggcl_message(ctx));
    vggcl_ctx_free(ctx);
    int failed = 0;
    for (int k = 1;; k++) {
        char spec[32];
        snprintf(spec, sizeof spec, "setup:%d", k);
        setenv("VGGCL_FAULT", spec, 1);
        ctx = vggcl_ctx_new();
        unsetenv("VGGCL_FAULT");
        const vggcl_status st = vggcl_select_device(ctx, "0");
        const int fired = ctx->fault_fired;
        if (fired && (strstr(vggcl_message(ctx), "clCreateContext") || strstr(vggcl_message(ctx), "clCreateCommandQueue")))
            ck_assert_msg(!strncmp(vggcl_message(ctx), "opening the OpenCL device 0 (", 29), "%s", vggcl_message(ctx));
        ck_assert_msg(fired ? st != VGGCL_OK && vggcl_device_index(ctx) == -1 : st == VGGCL_OK && vggcl_device_index(ctx) == 0,
                      "VGGCL_FAULT=%s: status %d, index %d", spec, st, vggcl_device_index(ctx));
        vggcl_ctx_free(ctx);
        if (!fired) break;
        failed++;
    }
    ck_assert_int_ge(failed, 5); /* (the platform and device queries, the context, both queues) */
    for (int i = 0; i < n && i < 16; i++)
        for (int by_pair = 0; by_pair < 2; by_pair++) {
            char spec[32];
            /* (white space around it dropped: a line's end too, as fgets leaves it; "0\n" named no device) */
            if (by_pair) snprintf(spec, sizeof spec, "%d:%d", info[i].platform, info[i].device);
            else snprintf(spec, sizeof spec, "%d\n", info[i].index);
            ctx = vggcl_ctx_new();
            ck_assert_msg(vggcl_select_device(ctx, spec) == VGGCL_OK, "%s: %s", spec, vggcl_message(ctx));
            ck_assert_int_eq(info[i].index, i);
            ck_assert_msg(vggcl_device_index(ctx) == i, "%s selected index %d", spec, vggcl_device_index(ctx));
            ck_assert_str_eq(vggcl_device_name(ctx), info[i].name);
            vggcl_ctx_free(ctx);
        }
    /* a type as `vggcl devices` lists it, any case: its first device (PoCL's names say no "cpu", so "cpu" named no
     * device); a type no device is of: said so, naming it */
    static const char *const types[] = { "cpu", "GPU", "Accelerator" };
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        int want = -1;
        for (int i = 0; i < n && i < 16 && want < 0; i++)
            if (!strcasecmp(info[i].type, types[t])) want = i;
        ctx = vggcl_ctx_new();
        const vggcl_status st = vggcl_select_device(ctx, types[t]);
        if (want >= 0) {
            ck_assert_msg(st == VGGCL_OK, "%s: %s", types[t], vggcl_message(ctx));
            ck_assert_int_eq(vggcl_device_index(ctx), want);
        } else {
            ck_assert_int_eq(st, VGGCL_ERR_NO_DEVICE);
            ck_assert_msg(strstr(vggcl_message(ctx), "no OpenCL device of type ") &&
                          strstr(vggcl_message(ctx), ", nor one whose name contains '"), "%s", vggcl_message(ctx));
        }
        vggcl_ctx_free(ctx);
    }
}
END_TEST

/* $VGGCL_DEVICE's all or a list, set for the commands that take several, is its first device for a context
 * given no spec (it was VGGCL_ERR_NO_DEVICE, so a profile's VGGCL_DEVICE=all broke one-device programs); given
 * as the spec itself, still refused; an empty first item, or a first that is not there, said with the value. */
START_TEST(test_device_from_env)
{
    const char *was = getenv("VGGCL_DEVICE");
    char *saved = was ? strdup(was) : NULL;
    unsetenv("VGGCL_DEVICE");
    vggcl_ctx *ctx = vggcl_ctx_new();
    ck_assert_msg(vggcl_select_device(ctx, NULL) == VGGCL_OK, "%s", vggcl_message(ctx));
    const int first = vggcl_device_index(ctx); /* (the default: the first GPU, else the first device) */
    vggcl_ctx_free(ctx);
    static const struct {
        const char *env;
        int ok, ref;
        const char *said;
    } cases[] = {
        { "all", 1, 0, NULL }, { "0,0", 1, 0, NULL }, { " ref , 0", 1, 1, NULL },
        { ",0", 0, 0, "$VGGCL_DEVICE=,0: its first device is empty" },
        { "nope,0", 0, 0, "no OpenCL device name contains 'nope'; see `vggcl devices` (the device named by "
                          "$VGGCL_DEVICE=nope,0)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("VGGCL_DEVICE", cases[i].env, 1);
        ctx = vggcl_ctx_new();
        const vggcl_status st = vggcl_select_device(ctx, NULL);
        if (cases[i].ok) {
            ck_assert_msg(st == VGGCL_OK, "%s: %s", cases[i].env, vggcl_message(ctx));
            ck_assert_int_eq(vggcl_device_index(ctx), cases[i].ref ? -1 : strcmp(cases[i].env, "all") ? 0 : first);
        } else {
            ck_assert_int_eq(st, VGGCL_ERR_NO_DEVICE);
            ck_assert_msg(strstr(vggcl_message(ctx), cases[i].said), "%s: %s", cases[i].env, vggcl_message(ctx));
        }
        vggcl_ctx_free(ctx);
    }
    setenv("VGGCL_DEVICE", "0", 1); /* (a spec given is not the environment's: all and lists refused there) */
    for (int i = 0; i < 2; i++) {
        ctx = vggcl_ctx_new();
        ck_assert_int_eq(vggcl_select_device(ctx, i ? "0,0" : "all"), VGGCL_ERR_NO_DEVICE);
        ck_assert_msg(strstr(vggcl_message(ctx), "a context takes one device"), "%s", vggcl_message(ctx));
        vggcl_ctx_free(ctx);
    }
    if (saved) setenv("VGGCL_DEVICE", saved, 1);
    else unsetenv("VGGCL_DEVICE");
    free(saved);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("arguments");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_test(tc, test_png_write_fails);
    tcase_add_test(tc, test_image_max_pixels);
    tcase_add_test(tc, test_os_error);
    tcase_add_test(tc, test_npy_writer_direct);
    tcase_add_test(tc, test_proc_pid_fd);
    tcase_add_test(tc, test_preprocess_arguments);
    tcase_add_test(tc, test_forward_too_large);
    tcase_add_test(tc, test_cam_sizes);
    tcase_add_test(tc, test_cam_nan);
    tcase_add_test(tc, test_npy_limits);
    tcase_add_test(tc, test_train_head_not_finite);
    tcase_add_test(tc, test_tune_model_checked);
    tcase_add_test(tc, test_load_options);
    tcase_add_test(tc, test_device_index);
    tcase_add_test(tc, test_device_from_env);
    tcase_add_test(tc, test_ref_host_memory);
    tcase_add_test(tc, test_ctx_freed_before_models);
    tcase_add_test(tc, test_batch_checks);
    tcase_add_test(tc, test_api_audit_cases);
    tcase_add_test(tc, test_clblast_contexts_released);
    tcase_add_test(tc, test_clblast_forked_child_frees);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
