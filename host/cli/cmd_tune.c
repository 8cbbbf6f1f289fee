/* vggcl tune: measure each convolution algorithm per layer on a device and
 * keep the fastest for later runs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: vggcl tune [--weights W.safetensors | --random] [--batch B] [--size H[xW]]\n"
    "                  [--iters N] [--device SPEC] [--pool5 keep|drop]\n"
    "\n"
    "Times every convolution algorithm (direct, winograd, gemm) on each distinct\n"
    "layer shape of the model at the given batch and size, and stores the fastest\n"
    "per (C_in, C_out) in a tuning table in vggcl's cache folder, keyed by device\n"
    "and driver. Later runs on that device with --conv auto (the default) use it.\n"
    "Defaults: --random (VGG16), --batch 1, --size 224, --iters 3.\n";

int cmd_tune(int argc, char **argv)
{
    const char *weights = NULL, *device = NULL, *pool5 = NULL, *batch_s = "1", *size_s = "224", *iters_s = "3";
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--random")) continue;
        if ((r = cli_opt(argc, argv, &i, "--weights", &weights)) || (r = cli_opt(argc, argv, &i, "--batch", &batch_s)) ||
            (r = cli_opt(argc, argv, &i, "--size", &size_s)) || (r = cli_opt(argc, argv, &i, "--iters", &iters_s)) ||
            (r = cli_opt(argc, argv, &i, "--device", &device)) || (r = cli_opt(argc, argv, &i, "--pool5", &pool5))) {
            if (r < 0) return CLI_USAGE;
            continue;
        }
        cli_error(CLI_USAGE, "tune: unknown argument '%s'", argv[i]);
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    int batch, iters, h, w;
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO };
    if (cli_int("tune", "--batch", batch_s, 1, 4096, &batch) || cli_int("tune", "--iters", iters_s, 1, 1000, &iters) ||
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
    if (vggcl_tune(ctx, model, batch, h, w, iters, rows, 64, &count, path, sizeof path) != VGGCL_OK) goto fail;
    static const char *const names[] = { "", "direct", "winograd", "gemm" };
    printf("device: %s\nbatch %d, %dx%d, %d passes each; ms per pass\n\n", vggcl_device_name(ctx), batch, h, w, iters);
    printf("%-14s %-18s %10s %10s %10s  %s\n", "layer", "shape", "direct", "winograd", "gemm", "fastest");
    for (int i = 0; i < count && i < 64; i++) {
        char shape[48];
        snprintf(shape, sizeof shape, "%d->%d %dx%d", rows[i].c_in, rows[i].c_out, rows[i].h, rows[i].w);
        printf("%-14s %-18s %10.3f %10.3f %10.3f  %s\n", rows[i].layer, shape, rows[i].ms[1], rows[i].ms[2],
               rows[i].ms[3], names[rows[i].best]);
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
