/* Images through the model in batches, shared by classify, eval and
 * train-head: decode and preprocess each file, skip (name and count) the
 * unreadable ones, run each batch, hand the results to a callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void progress(int done, int total)
{
    const int width = 30, filled = total ? width * done / total : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d batches", filled, "##############################", width - filled, "", done,
            total);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

/* x (n, 3, h, w) -> out, each image mirrored left to right. */
static void mirror(const float *x, float *out, int n, int h, int w)
{
    for (size_t r = 0; r < (size_t)n * 3 * h; r++)
        for (int j = 0; j < w; j++) out[r * w + j] = x[r * w + (w - 1 - j)];
}

int cli_run_batches(const cli_batch_job *job, char **files, int n_files, cli_batch_fn fn, void *user, int *failed)
{
    const int batch = job->batch, classes = vggcl_model_classes(job->model), feats = vggcl_model_features(job->model);
    const int n_batches = (n_files + batch - 1) / batch, show = job->progress && isatty(2) && n_batches > 1;
    const int copies = job->flip ? 2 : 1;
    float *x = NULL, *y = NULL, *f = NULL;
    int *ok_index = malloc(sizeof *ok_index * (size_t)batch), H = 0, W = 0, rc = CLI_OK;
    /* the pool decodes up to two batches ahead: the next batch is ready when the device is done */
    cli_decode_pool *pool = ok_index ? cli_decode_start(files, n_files, job->p,
                                                        job->threads > 0 ? job->threads : cli_decode_threads_default(),
                                                        2 * batch) : NULL;
    cli_batch_stats st = { 0 };
    const double start = now_ms();
    *failed = 0;
    if (!ok_index || !pool) {
        free(ok_index);
        return cli_error(CLI_FAIL, "out of host memory (or no thread) for decoding images");
    }
    for (int b0 = 0; b0 < n_files && rc == CLI_OK; b0 += batch) {
        int nb = 0;
        for (int i = b0; i < n_files && i < b0 + batch; i++) {
            float *t;
            int oh, ow;
            char *msg;
            const double t0 = now_ms();
            cli_decode_take(pool, i, &t, &oh, &ow, &msg);
            st.wait_ms += now_ms() - t0;
            if (!t) {
                if (show) fputc('\n', stderr);
                cli_error(CLI_FAIL, "%s (skipped)", msg ? msg : "out of host memory");
                free(msg);
                (*failed)++;
                continue;
            }
            if (!x) {
                H = oh, W = ow;
                x = malloc(sizeof *x * 3 * (size_t)H * W * batch * copies);
                y = malloc(sizeof *y * (size_t)(classes ? classes : 1) * batch * copies);
                f = malloc(sizeof *f * (size_t)feats * batch * copies);
                if (!x || !y || !f) {
                    vggcl_free(t);
                    rc = cli_error(CLI_FAIL, "out of host memory");
                    break;
                }
            }
            if (oh != H || ow != W) {
                cli_error(CLI_FAIL, "%s: preprocesses to %dx%d, unlike the first image's %dx%d; use --crop (skipped)",
                          files[i], oh, ow, H, W);
                vggcl_free(t);
                (*failed)++;
                continue;
            }
            memcpy(x + (size_t)nb * 3 * H * W, t, sizeof *x * 3 * (size_t)H * W);
            vggcl_free(t);
            ok_index[nb++] = i;
        }
        if (rc == CLI_OK && nb > 0) {
            if (job->flip) mirror(x, x + (size_t)nb * 3 * H * W, nb, H, W);
            const double t0 = now_ms();
            const int fwd = vggcl_forward(job->ctx, job->model, x, nb * copies, H, W, job->want_logits ? y : NULL,
                              job->want_features ? f : NULL);
            st.device_ms += now_ms() - t0;
            st.images += nb;
            if (fwd != VGGCL_OK) { /* name the device and the batch: the run stops here, its outputs are dropped */
                rc = cli_error(CLI_FAIL, "%s, batch %d of %d (%s to %s): %s", vggcl_device_name(job->ctx), b0 / batch + 1,
                               n_batches, files[ok_index[0]], files[ok_index[nb - 1]], vggcl_message(job->ctx));
                break;
            }
            rc = fn(user, ok_index, nb, x, H, W, job->want_logits ? y : NULL, job->want_features ? f : NULL,
                    job->want_features && job->flip ? f + (size_t)nb * feats : NULL);
        }
        fflush(stdout);
        if (show && rc == CLI_OK) progress(b0 / batch + 1, n_batches);
    }
    st.decode_ms = cli_decode_busy_ms(pool);
    st.threads = cli_decode_thread_count(pool);
    cli_decode_stop(pool);
    st.wall_ms = now_ms() - start;
    st.host_ms = st.wall_ms - st.wait_ms - st.device_ms;
    if (job->stats) *job->stats = st;
    free(ok_index);
    free(x), free(y), free(f);
    return rc;
}
