/* vggcl bench --images DIR: the real job end to end (decode, preprocess,
 * upload, device, host) and where its time went. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"

static int count_only(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                      const float *features, const float *flipped)
{
    (void)user, (void)index, (void)nb, (void)x, (void)h, (void)w, (void)logits, (void)features, (void)flipped;
    return CLI_OK;
}

/* A pass over a zero batch of b images of h x w: the programs and workspace of that batch size made before the
 * timed run (CLI_OK, or CLI_FAIL said). */
static int warm_pass(vggcl_ctx *ctx, vggcl_model *model, int b, int h, int w)
{
    const int classes = vggcl_model_classes(model); /* (as the timed run: the logits made) */
    float *x = calloc((size_t)b * 3 * h * w, sizeof *x), *y = classes ? malloc(sizeof *y * (size_t)b * classes) : NULL;
    int rc = CLI_OK;
    if (!x || (classes && !y)) rc = cli_error(CLI_FAIL, "out of host memory");
    else if (vggcl_forward(ctx, model, x, b, h, w, y, NULL) != VGGCL_OK) rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    free(x), free(y);
    return rc;
}

int cli_bench_images(vggcl_ctx *ctx, vggcl_model *model, const char *weights, const char *conv, const char *dir,
                     const vggcl_preprocess *p, int batch, int recursive, int threads, double progress_s, int json)
{
    char **files = NULL;
    int n = 0, failed = 0, rc = CLI_FAIL;
    cli_batch_stats st = { 0 };
    cli_left_out other = { 0 };
    struct stat sb;
    if (stat(dir, &sb) != 0) /* (else named as an image that could not be read, "its one image could not be run") */
        return cli_error(CLI_FAIL, "bench: --images %s: %s (expected a folder of " CLI_IMAGE_FORMATS " images)", dir,
                         strerror(errno));
    const int listed = cli_expand_images(dir, recursive, &files, &n, &other);
    cli_left_out_say(&other);
    if (listed != CLI_OK) goto done;
    if (!n) {
        /* (a usage error, as classify's folder without images: it was exit 1, in other words) */
        rc = cli_error(CLI_USAGE, "bench: --images %s holds no " CLI_IMAGE_FORMATS " images (" CLI_IMAGE_EXTENSIONS
                       ")%s", dir,
                       !recursive && cli_holds_folder(dir) ? "; it holds folders: --recursive takes the images in them"
                                                           : "");
        goto done;
    }
    /* a warm-up batch (first-use compiles: the first that holds a readable image, else its time went into the
     * timed run), then every image, timed; one whose logits are not finite skipped, as classify skips it (its
     * NaNs were timed as answers) */
    cli_batch_job job = { .ctx = ctx, .model = model, .p = p, .batch = batch, .want_logits = 1, .threads = threads,
                          .n_devices = 1, .quiet = 1, .finite = 1, .sized = model };
    cli_batch_stats warm = { 0 };
    job.stats = &warm;
    for (int at = 0; at < n && !warm.images; at += batch)
        if ((rc = cli_run_batches(&job, files + at, n - at < batch ? n - at : batch, count_only, NULL, &failed)) !=
            CLI_OK)
            goto done;
    /* the timed run's other batch sizes, on zeros (each size may have programs and workspace of its own, whose
     * first use went into the timed run): a whole batch where the warm-up's was short of it (unreadable
     * images), and the last batch where it is smaller */
    int h = 0, w = 0;
    const int sizes[2] = { n >= batch ? batch : 0, n % batch };
    for (int k = 0; k < 2; k++) {
        if (!sizes[k] || sizes[k] == warm.images || !warm.images) continue;
        if (!h) cli_lead_size(ctx, model, p, files, n, &h, &w);
        if (h > 0 && (rc = warm_pass(ctx, model, sizes[k], h, w)) != CLI_OK) goto done;
    }
    job.stats = &st, job.progress_s = progress_s, job.quiet = 0; /* (the timed run names the unreadable ones) */
    if ((rc = cli_run_batches(&job, files, n, count_only, NULL, &failed)) != CLI_OK) goto done;
    if (!st.images) {
        rc = n == 1 ? cli_error(CLI_FAIL, "%s: its one image could not be run (skipped, named above)", dir)
                    : cli_error(CLI_FAIL, "%s: none of the %d images could be run (each skipped, named above)", dir, n);
        goto done;
    }
    if (st.batches < 3) /* (a rate of one or two batches: its start and end are most of it) */
        cli_notice("bench: %d image%s in %d timed batch%s alone: too few for a steady rate (a folder of a few dozen "
                   "batches' images measures one)", st.images, st.images == 1 ? "" : "s", st.batches,
                   st.batches == 1 ? "" : "es");
    const double e2e = st.images / (st.wall_ms * 1e-3), device = st.images / (st.device_ms * 1e-3);
    /* decoding capacity in images that run, as end to end counts them: the threads' time went to the
     * unreadable files too (junk fails at once: counted as decoded, it made decoding look fast); as many threads
     * decode at once as there are cores the process may run on, at most (3 threads on 1 core, each seldom running
     * beside the others while the device was the slower, gave 3 times what the core can decode) */
    const int cores = vggcl_usable_cores(), at_once = st.threads < cores ? st.threads : cores;
    const double decode = st.decode_ms > 0 ? st.images * at_once / (st.decode_ms * 1e-3) : 0;
    const double bound = decode > 0 && decode < device ? decode : device;
    /* the input the images became (the model, its size and preprocessing unsaid: two models' records alike) */
    char size[32];
    snprintf(size, sizeof size, "%dx%d", st.h, st.w);
    cli_bench_table_note(ctx, model, batch, st.h, st.w);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cli_bench_record(o, ctx, model, weights, conv, batch, st.h, st.w);
        cJSON_AddStringToObject(o, "size", size);
        cli_json_preprocess(o, p); /* (cli_json_print says what is lost) */
        cJSON_AddItemToObject(o, "images_dir", cli_json_string(dir));
        cJSON_AddNumberToObject(o, "images", st.images);
        cJSON_AddNumberToObject(o, "skipped", failed); /* (unreadable, too small, another size: as the text) */
        cJSON_AddNumberToObject(o, "batch", batch);
        cJSON_AddNumberToObject(o, "threads", st.threads);
        cJSON_AddNumberToObject(o, "cores", cores);
        cJSON_AddNumberToObject(o, "images_per_s", e2e);
        cJSON_AddNumberToObject(o, "device_images_per_s", device);
        cJSON_AddNumberToObject(o, "decode_images_per_s", decode);
        cJSON_AddNumberToObject(o, "of_bound", e2e / bound);
        cJSON_AddNumberToObject(o, "wall_ms", st.wall_ms);
        cJSON_AddNumberToObject(o, "device_ms", st.device_ms);
        cJSON_AddNumberToObject(o, "upload_ms", st.upload_ms);
        cJSON_AddNumberToObject(o, "batches", st.batches);
        cJSON_AddNumberToObject(o, "wait_for_device_ms", st.blocked_ms);
        cJSON_AddNumberToObject(o, "wait_for_decode_ms", st.wait_ms);
        cJSON_AddNumberToObject(o, "host_ms", st.host_ms);
        cJSON_AddNumberToObject(o, "decode_thread_ms", st.decode_ms);
        rc = cli_json_print(o);
    } else {
        char more[480], how[160], pre[256];
        cli_bench_conv_text(ctx, model, conv, batch, st.h, st.w, how, sizeof how);
        snprintf(more, sizeof more, "%s, images made %s (height x width; %s)", how, size,
                 cli_preprocess_text(p, pre, sizeof pre));
        cli_bench_heading(ctx, model, weights, more);
        char *shown = cli_text(dir); /* (a newline in the name forged a line) */
        printf("images:        %d from %s (%d skipped), batch %d, %d decoding thread%s\n", st.images,
               shown ? shown : dir, failed, batch, st.threads, st.threads == 1 ? "" : "s");
        free(shown);
        printf("end to end:    %.2f images/s (%.1f ms)\n", e2e, st.wall_ms);
        printf("where it went: waiting for the device %.1f ms, waiting for decoding %.1f ms, host %.1f ms\n",
               st.blocked_ms, st.wait_ms, st.host_ms);
        printf("               handing the %d batch%s over (vggcl_forward_submit: the input's upload, queueing the "
               "pass) %.1f ms, %.2f ms each, within the wait for the device\n", st.batches,
               st.batches == 1 ? "" : "es", st.upload_ms, st.batches ? st.upload_ms / st.batches : 0.0);
        char threads_at[96]; /* (more threads than cores: as many at once as the cores) */
        if (st.threads > cores)
            snprintf(threads_at, sizeof threads_at, "%d threads, %d at once on the %d core%s this process may run on",
                     st.threads, at_once, cores, cores == 1 ? "" : "s");
        else
            snprintf(threads_at, sizeof threads_at, "%d thread%s", st.threads, st.threads == 1 ? "" : "s");
        printf("capacity:      device %.2f images/s (%.1f ms on the passes); decoding %.2f images/s (%s, %.1f ms each "
               "per image that ran)\n", device, st.device_ms, decode, threads_at, st.decode_ms / st.images);
        printf("               end to end is %.2fx of the smaller (%s)\n", e2e / bound,
               bound == device ? "the device" : "decoding");
        rc = CLI_OK;
    }
    char said[64];
    if (rc == CLI_OK && failed) /* as classify: the others ran, and the exit status says some did not */
        rc = cli_error(CLI_FAIL, "%s; %d ran", cli_skipped_text(failed, n, said, sizeof said), st.images);
done:
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
    return rc;
}
