/* Images through the model in batches, shared by classify, eval and
 * train-head: decode and preprocess each file, skip (name and count) the
 * unreadable ones, run each batch, hand the results to a callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
    *failed = 0;
    if (!ok_index) return cli_error(CLI_FAIL, "out of host memory");
    for (int b0 = 0; b0 < n_files && rc == CLI_OK; b0 += batch) {
        int nb = 0;
        for (int i = b0; i < n_files && i < b0 + batch; i++) {
            unsigned char *rgb = NULL;
            float *t = NULL;
            int h, w, oh, ow;
            if (vggcl_image_load(job->ctx, files[i], &rgb, &h, &w) != VGGCL_OK ||
                vggcl_image_preprocess(job->ctx, rgb, h, w, job->p, &t, &oh, &ow) != VGGCL_OK) {
                if (show) fputc('\n', stderr);
                cli_error(CLI_FAIL, "%s (skipped)", cli_image_message(job->ctx, files[i]));
                free(rgb);
                (*failed)++;
                continue;
            }
            free(rgb);
            if (!x) {
                H = oh, W = ow;
                x = malloc(sizeof *x * 3 * (size_t)H * W * batch * copies);
                y = malloc(sizeof *y * (size_t)(classes ? classes : 1) * batch * copies);
                f = malloc(sizeof *f * (size_t)feats * batch * copies);
                if (!x || !y || !f) {
                    free(t);
                    rc = cli_error(CLI_FAIL, "out of host memory");
                    break;
                }
            }
            if (oh != H || ow != W) {
                cli_error(CLI_FAIL, "%s: preprocesses to %dx%d, unlike the first image's %dx%d; use --crop (skipped)",
                          files[i], oh, ow, H, W);
                free(t);
                (*failed)++;
                continue;
            }
            memcpy(x + (size_t)nb * 3 * H * W, t, sizeof *x * 3 * (size_t)H * W);
            free(t);
            ok_index[nb++] = i;
        }
        if (rc == CLI_OK && nb > 0) {
            if (job->flip) mirror(x, x + (size_t)nb * 3 * H * W, nb, H, W);
            if (vggcl_forward(job->ctx, job->model, x, nb * copies, H, W, job->want_logits ? y : NULL,
                              job->want_features ? f : NULL) != VGGCL_OK) {
                rc = cli_error(CLI_FAIL, "%s", vggcl_message(job->ctx));
                break;
            }
            rc = fn(user, ok_index, nb, x, H, W, job->want_logits ? y : NULL, job->want_features ? f : NULL,
                    job->want_features && job->flip ? f + (size_t)nb * feats : NULL);
        }
        fflush(stdout);
        if (show && rc == CLI_OK) progress(b0 / batch + 1, n_batches);
    }
    free(ok_index);
    free(x), free(y), free(f);
    return rc;
}
