/* vggcl tune: search the convolution algorithms and their kernel parameters
 * per layer shape and batch class on a device, and keep the fastest for
 * later runs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "W.safetensors", "the model whose conv shapes are tuned (default: --random)", 0 },
    { "random", NULL, "VGG16 (its shapes) with deterministic random weights", 0 },
    { "batch", "B[,B...]", "batch sizes, each standing for its class: 1-2, 3-16, 17 and more\n"
                           "(default 1)", 0 },
    { "size", "H[xW]", CLI_SIZE_HELP, 0 },
    { "iters", "N", "timed passes per candidate (default 3)", 0 },
    { "budget", "SECONDS", "bounds the whole search (default 60; 0: the defaults and the\n"
                           "table's row only)", 0 },
    { "device", "SPEC", "as for `vggcl run`", 0 },
    { "pool5", "keep|drop", "as for `vggcl run`", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "tune", NULL,
    "For each distinct conv layer shape of the model at the given size, and each\n"
    "batch size given, searches the convolution algorithms (direct, winograd, gemm,\n"
    "winograd-gpu, winograd-packed) and their kernel parameters: each candidate the\n"
    "device can run is checked against the reference on a small slice, then timed\n"
    "with profiling events (median of --iters passes after a warm-up; a layer alone,\n"
    "so not counting the conversions between the NCHW and channel-packed layouts that\n"
    "a mix of algorithms adds in the network; where a pass of the model would not fit\n"
    "in the device's cache, each pass begins with the cache written over, as the\n"
    "other layers of a pass leave it). Each algorithm's defaults go first, with the\n"
    "table's row for the shape where it has one (a shorter tune keeps it where it\n"
    "still wins), then the fastest one's one-parameter neighbours, then the others in\n"
    "a fixed shuffled order, those of the algorithms whose defaults took over twice\n"
    "the fastest one's time, or were rejected, last. A candidate faster than the\n"
    "default replaces it only if it still wins by 3% when the two alternate (3\n"
    "rounds; the gain column is that paired ratio) and gives the default's answers at\n"
    "the timed shape (the slice reaches no large-map path). The kept one per shape\n"
    "and class goes to a tuning table in vggcl's cache folder, keyed by device and\n"
    "driver, rewritten after each shape, so an interrupted tune keeps what it\n"
    "measured. Later runs on that device with --conv auto (the default) use it.\n",
    options, { NULL }, 0,
};

int cmd_tune(int argc, char **argv)
{
    cli_args a;
    int r = cli_parse(&command, argc, argv, &a);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_OK : r;
    const char *weights = cli_arg(&a, "weights"), *device = cli_arg(&a, "device"), *pool5 = cli_arg(&a, "pool5"),
               *batch_s = cli_arg_or(&a, "batch", "1"), *size_s = cli_arg(&a, "size"),
               *iters_s = cli_arg_or(&a, "iters", "3"), *budget_s = cli_arg_or(&a, "budget", "60");
    if (weights && cli_arg(&a, "random")) return cli_error(CLI_USAGE, "tune: give --weights or --random, not both");
    int batches[8], n_batches = 0, iters, budget, h = 224, w = 224;
    /* (its conv layers only: a head under another name than classifier.K, which run takes with --head, was
     * looked for and the model refused) */
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 1 };
    for (const char *s = batch_s; s;) { /* (the whole list: a copy cut at 63 bytes tuned other batches) */
        char item[16];
        if (n_batches == 8) return cli_error(CLI_USAGE, "tune: --batch takes at most 8 sizes");
        const size_t len = cli_list_item(&s, item, sizeof item);
        if (!len || len >= sizeof item)
            return cli_error(CLI_USAGE, "tune: --batch must be sizes from 1 to 4096 separated by commas, not '%s'",
                             batch_s);
        if (cli_int("tune", "--batch", item, 1, 4096, &batches[n_batches++])) return CLI_USAGE;
    }
    if (cli_int("tune", "--iters", iters_s, 1, 1000, &iters) || cli_int("tune", "--budget", budget_s, 0, 86400, &budget) ||
        (size_s && cli_size("tune", size_s, &h, &w)) || cli_model_opts("tune", pool5, NULL, &opts) ||
        cli_one_device("tune", device) || /* (`>> model.safetensors` appended the report to the weights, exit 0) */
        cli_stdout_check("tune", (const cli_file[]){ { "--weights", weights } }, 1) != CLI_OK)
        return CLI_USAGE;

    int rc = CLI_FAIL, count = 0;
    char path[8192] = ""; /* (longer than any cache path the library uses) */
    vggcl_tune_row rows[64];
    vggcl_model *model = NULL;
    vggcl_ctx *ctx = cli_ctx_new();
    if (!ctx) return cli_error(CLI_FAIL, "out of host memory");
    if (cli_select_device("tune", ctx, device, device) != CLI_OK) goto done; /* (rc CLI_FAIL: said) */
    if (vggcl_device_index(ctx) < 0) { /* (a usage error: said before the model is loaded, as the library says it) */
        rc = cli_error(CLI_USAGE, "tune: %s is the plain-C reference, which has no kernels to tune: give an OpenCL "
                                  "device (see `vggcl devices`)", device ? "--device ref" : "$VGGCL_DEVICE");
        goto done;
    }
    if (weights ? vggcl_model_load(ctx, weights, &opts, &model) : vggcl_model_random(ctx, "vgg16", 7, 0, &opts, &model))
        goto fail;
    if (weights && !size_s) { /* the model's input, as bench and classify take it (a 64x64 model was tuned at 224) */
        vggcl_preprocess p;
        vggcl_preprocess_unset(&p);
        if ((rc = cli_model_preset("tune", ctx, model, &p, "the size it is tuned at")) != CLI_OK) goto done;
        int ph, pw;
        cli_preset_size(&p, &ph, &pw);
        if (ph) h = ph, w = pw; /* (none: the images' own sizes, unknown here) */
    }
    const vggcl_status st = vggcl_tune(ctx, model, batches, n_batches, h, w, iters, budget, rows, 64, &count, path,
                                       sizeof path);
    if (st == VGGCL_ERR_ARG) { /* (the arguments: two batches of one class) */
        rc = cli_error(CLI_USAGE, "%s", vggcl_message(ctx));
        goto done;
    }
    if (st != VGGCL_OK) goto fail;
    printf("device: %s\n%dx%d input, %d timed pass%s per candidate, budget %d s; device ms per pass\n\n",
           vggcl_device_name(ctx), h, w, iters, iters == 1 ? "" : "es", budget);
    printf("%-12s %-18s %5s %10s %10s %6s %5s %5s  %s\n", "layer", "shape", "batch", "default", "kept", "gain", "tried",
           "bad", "kept algorithm"); /* (kept: the fastest unless it lost the paired rounds or the answer check) */
    for (int i = 0; i < count && i < 64; i++) {
        char shape[48];
        const vggcl_tune_row *r = &rows[i];
        snprintf(shape, sizeof shape, "%d->%d %dx%d", r->c_in, r->c_out, r->h, r->w);
        printf("%-12s %-18s %5d %10.3f %10.3f %5.2fx %5d %5d  %s %s\n", r->layer, shape, r->batch, r->default_ms, r->ms,
               r->ms > 0 ? r->default_ms / r->ms : 0.0, r->tried, r->rejected, r->algo, r->params);
    }
    if (count > 64) printf("(%d more rows: shapes x batches past 64; all of them are in the table)\n", count - 64);
    char *shown = cli_text(path); /* (the cache folder comes from $VGGCL_CACHE_DIR: its name escaped) */
    printf("\nwrote %s\n", shown ? shown : path);
    free(shown);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
done:
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
