/* vggcl tune: search the convolution algorithms and their kernel parameters
 * per layer shape and batch class on a device, and keep the fastest for
 * later runs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: vggcl tune [--weights W.safetensors | --random] [--batch B[,B...]] [--size H[xW]]\n"
    "                  [--iters N] [--budget SECONDS] [--device SPEC] [--pool5 keep|drop]\n"
    "\n"
    "For each distinct conv layer shape of the model at the given size, and each\n"
    "batch size given (each stands for its class: 1-2, 3-16, 17 and more), searches\n"
    "the convolution algorithms (direct, winograd, gemm, winograd-gpu) and their\n"
    "kernel parameters: each candidate the device can run is checked against the\n"
    "reference on a small slice, then timed with profiling events (median of\n"
    "--iters passes after a warm-up). Each algorithm's defaults go first, then\n"
    "other parameters in a fixed shuffled order; --budget bounds the whole search\n"
    "(0: the defaults only, unbounded). The fastest per shape and class goes to a\n"
    "tuning table in vggcl's cache folder, keyed by device and driver, rewritten\n"
    "after each shape, so an interrupted tune keeps what it measured. Later runs\n"
    "on that device with --conv auto (the default) use it.\n"
    "Defaults: --random (VGG16), --batch 1, --size 224, --iters 3, --budget 60.\n";

int cmd_tune(int argc, char **argv)
{
    const char *weights = NULL, *device = NULL, *pool5 = NULL, *batch_s = "1", *size_s = "224", *iters_s = "3";
    const char *budget_s = "60";
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--random")) continue;
        if ((r = cli_opt(argc, argv, &i, "--weights", &weights)) || (r = cli_opt(argc, argv, &i, "--batch", &batch_s)) ||
            (r = cli_opt(argc, argv, &i, "--size", &size_s)) || (r = cli_opt(argc, argv, &i, "--iters", &iters_s)) ||
            (r = cli_opt(argc, argv, &i, "--device", &device)) || (r = cli_opt(argc, argv, &i, "--pool5", &pool5)) ||
            (r = cli_opt(argc, argv, &i, "--budget", &budget_s))) {
            if (r < 0) return CLI_USAGE;
            continue;
        }
        cli_error(CLI_USAGE, "tune: unknown argument '%s'", argv[i]);
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    int batches[8], n_batches = 0, iters, budget, h, w;
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 0 };
    char list[64];
    snprintf(list, sizeof list, "%s", batch_s);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_batches == 8) return cli_error(CLI_USAGE, "tune: --batch takes at most 8 sizes");
        if (cli_int("tune", "--batch", tok, 1, 4096, &batches[n_batches++])) return CLI_USAGE;
    }
    if (!n_batches) return cli_error(CLI_USAGE, "tune: --batch needs a size");
    if (cli_int("tune", "--iters", iters_s, 1, 1000, &iters) || cli_int("tune", "--budget", budget_s, 0, 86400, &budget) ||
        cli_size("tune", size_s, &h, &w) || cli_model_opts("tune", pool5, NULL, &opts))
        return CLI_USAGE;

    int rc = CLI_FAIL, count = 0;
    char path[1024] = "";
    vggcl_tune_row rows[64];
    vggcl_model *model = NULL;
    vggcl_ctx *ctx = vggcl_ctx_new();
    if (!ctx) return cli_error(CLI_FAIL, "out of host memory");
    if (vggcl_select_device(ctx, device) != VGGCL_OK) goto fail;
    if (weights ? vggcl_model_load(ctx, weights, &opts, &model) : vggcl_model_random(ctx, "vgg16", 7, 0, &opts, &model))
        goto fail;
    if (vggcl_tune(ctx, model, batches, n_batches, h, w, iters, budget, rows, 64, &count, path, sizeof path) !=
        VGGCL_OK)
        goto fail;
    printf("device: %s\n%dx%d input, %d timed passes per candidate, budget %d s; device ms per pass\n\n",
           vggcl_device_name(ctx), h, w, iters, budget);
    printf("%-12s %-18s %5s %10s %10s %6s %5s %5s  %s\n", "layer", "shape", "batch", "default", "best", "gain", "tried",
           "bad", "fastest");
    for (int i = 0; i < count && i < 64; i++) {
        char shape[48];
        const vggcl_tune_row *r = &rows[i];
        snprintf(shape, sizeof shape, "%d->%d %dx%d", r->c_in, r->c_out, r->h, r->w);
        printf("%-12s %-18s %5d %10.3f %10.3f %5.2fx %5d %5d  %s %s\n", r->layer, shape, r->batch, r->default_ms, r->ms,
               r->ms > 0 ? r->default_ms / r->ms : 0.0, r->tried, r->rejected, r->algo, r->params);
    }
    printf("\nwrote %s\n", path);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
done:
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
