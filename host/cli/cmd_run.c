/* vggcl run: a batch from .npy through the model; logits and GAP features to .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: vggcl run --weights W.safetensors --input X.npy --output Y.npy\n"
    "                 [--features F.npy] [--device SPEC] [--pool5 keep|drop] [--head PREFIX]\n"
    "                 [--conv auto|direct|winograd|gemm|winograd-gpu]\n"
    "\n"
    "  --weights   a torchvision VGG state_dict with a GAP head, as safetensors\n"
    "  --input     float32 (N, 3, H, W) in C order, already normalized\n"
    "  --output    writes the logits, float32 (N, C)\n"
    "  --features  also writes the GAP features, float32 (N, C_last)\n"
    "  --device    ref, an index or P:D from `vggcl devices`, or a substring of the\n"
    "              device name; default $VGGCL_DEVICE, else the first GPU, else the\n"
    "              first device\n"
    "  --pool5     keep (torchvision, 7x7 map at 224) or drop (14x14 map); default:\n"
    "              the file's __metadata__ \"vggcl.pool5\", else keep\n"
    "  --head      key prefix of the linear head (default classifier.0)\n"
    "  --conv      how the device runs the 3x3 convolutions: winograd (F(4x4,3x3),\n"
    "              shaped for CPUs), winograd-gpu (the same around a tiled GEMM,\n"
    "              shaped for GPUs), direct, gemm (im2col + CLBlast SGEMM, for\n"
    "              comparison), or auto (default: the tuning table's choice, else\n"
    "              winograd-gpu on a GPU; elsewhere winograd from 16 input channels\n"
    "              on, direct below)\n"
    "\n"
    "Outputs are written to a temporary name and renamed: a failed run leaves none.\n";

int cmd_run(int argc, char **argv)
{
    const char *weights = NULL, *input = NULL, *output = NULL, *features = NULL, *device = NULL, *pool5 = NULL,
               *head = NULL, *conv = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if ((r = cli_opt(argc, argv, &i, "--weights", &weights)) || (r = cli_opt(argc, argv, &i, "--input", &input)) ||
            (r = cli_opt(argc, argv, &i, "--output", &output)) ||
            (r = cli_opt(argc, argv, &i, "--features", &features)) ||
            (r = cli_opt(argc, argv, &i, "--device", &device)) || (r = cli_opt(argc, argv, &i, "--pool5", &pool5)) ||
            (r = cli_opt(argc, argv, &i, "--head", &head)) || (r = cli_opt(argc, argv, &i, "--conv", &conv))) {
            if (r < 0) return CLI_USAGE;
            continue;
        }
        cli_error(CLI_USAGE, "run: unknown argument '%s'", argv[i]);
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!weights || !input || !output) {
        cli_error(CLI_USAGE, "run: --weights, --input and --output are required");
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, head, VGGCL_CONV_AUTO, 0 };
    if (cli_model_opts("run", pool5, conv, &opts)) return CLI_USAGE;

    int rc = CLI_FAIL, ndim = 0, wrote_output = 0;
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *x = NULL, *logits = NULL, *feats = NULL;
    vggcl_model *model = NULL;
    vggcl_ctx *ctx = vggcl_ctx_new();
    if (!ctx) return cli_error(CLI_FAIL, "out of host memory");

    if (vggcl_npy_read(ctx, input, &ndim, shape, &x) != VGGCL_OK) goto fail;
    if (ndim != 4 || shape[1] != 3 || shape[0] < 1 || shape[2] < 1 || shape[3] < 1) {
        char s[128] = "";
        size_t used = 0;
        for (int d = 0; d < ndim && used < sizeof s; d++)
            used += (size_t)snprintf(s + used, sizeof s - used, d ? ", %lld" : "%lld", shape[d]);
        rc = cli_error(CLI_FAIL, "%s: shape (%s); expected (N, 3, H, W) with N, H, W >= 1", input, s);
        goto done;
    }
    if (shape[0] > 1000000 || shape[2] > 65536 || shape[3] > 65536) {
        rc = cli_error(CLI_FAIL, "%s: shape (%lld, 3, %lld, %lld) is too large", input, shape[0], shape[2], shape[3]);
        goto done;
    }
    if (vggcl_select_device(ctx, device) != VGGCL_OK) goto fail;
    if (vggcl_model_load(ctx, weights, &opts, &model) != VGGCL_OK) goto fail;
    const int n = (int)shape[0], h = (int)shape[2], w = (int)shape[3];
    const int classes = vggcl_model_classes(model), width = vggcl_model_features(model);
    logits = malloc((size_t)n * classes * sizeof *logits);
    feats = malloc((size_t)n * width * sizeof *feats);
    if (!logits || !feats) {
        rc = cli_error(CLI_FAIL, "out of host memory for the outputs");
        goto done;
    }
    if (vggcl_forward(ctx, model, x, n, h, w, logits, feats) != VGGCL_OK) goto fail;
    long long yshape[2] = { n, classes }, fshape[2] = { n, width };
    if (vggcl_npy_write(ctx, output, 2, yshape, logits) != VGGCL_OK) goto fail;
    wrote_output = 1;
    if (features && vggcl_npy_write(ctx, features, 2, fshape, feats) != VGGCL_OK) goto fail;

    printf("device: %s\n", vggcl_device_name(ctx));
    const int shown = n <= 10 ? n : 8;
    for (int i = 0; i < shown; i++) {
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (logits[(size_t)i * classes + c] > logits[(size_t)i * classes + best]) best = c;
        printf("image %d: top class %d (logit %.4f)\n", i, best, logits[(size_t)i * classes + best]);
    }
    if (shown < n) printf("... (%d more images)\n", n - shown);
    printf("wrote %s (%d, %d)%s%s\n", output, n, classes, features ? " and " : "", features ? features : "");
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    if (wrote_output) unlink(output); /* all outputs or none */
done:
    free(x);
    free(logits);
    free(feats);
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
