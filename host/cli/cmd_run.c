/* vggcl run: a batch from .npy through the model; logits and GAP features to .npy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "W.safetensors", "a torchvision VGG state_dict with a GAP head (or a dense chain), as\n"
                                  "safetensors", 1 },
    { "input", "X.npy", "float32 (N, 3, H, W) in C order, already normalized\n"
                        "(`vggcl preprocess` makes it from images); -: standard input\n"
                        "(a pipe)", 1 },
    { "output", "Y.npy", "writes the logits, float32 (N, C); -: standard output (not a\n"
                         "terminal)", 1 },
    { "features", "F.npy", "also writes the GAP features, float32 (N, C_last)", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "run", NULL,
    "Outputs are written to a temporary name and renamed: a failed run leaves none.\n"
    "Logits that are not finite (NaN or infinity in the input or the weights, or\n"
    "values past float32's range within the network) are written as they are, as\n"
    "PyTorch gives them, exit 0: the summary on standard output names each such image\n"
    "among those it shows (of more than ten, the first eight) and counts those after.\n",
    options, { cli_device_options, cli_net_options }, 0,
};

/* Where a batch of n failed for memory (st) but one image fits, splitting the input helps: the failure's words
 * (allocated), which the check of one image would replace; else NULL ("not even one image fits": no use). */
static char *splitting_helps(vggcl_ctx *ctx, const vggcl_model *m, vggcl_status st, int n, int h, int w)
{
    if (n < 2 || (st != VGGCL_ERR_DEVICE_MEMORY && st != VGGCL_ERR_NOMEM)) return NULL;
    char *said = strdup(vggcl_message(ctx));
    if (said && vggcl_check_batch(ctx, m, 1, h, w) == VGGCL_OK) return said;
    free(said);
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    cli_args a;
    int r = cli_parse(&command, argc, argv, &a);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_OK : r;
    const char *weights = cli_arg(&a, "weights"), *input = cli_arg(&a, "input"), *output = cli_arg(&a, "output"),
               *features = cli_arg(&a, "features"), *device = cli_arg(&a, "device"), *pool5 = cli_arg(&a, "pool5"),
               *head = cli_arg(&a, "head"), *conv = cli_arg(&a, "conv");
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, head, VGGCL_CONV_AUTO, 0 };
    if (cli_model_opts("run", pool5, conv, &opts) || cli_one_device("run", device)) return CLI_USAGE;
    if (input && !strcmp(input, "-")) { /* (standard input: a pipe, as `vggcl preprocess --output -` writes) */
        if (isatty(STDIN_FILENO))
            return cli_error(CLI_USAGE, "run: --input -: standard input is a terminal; pipe a .npy into it");
        input = "/dev/stdin";
    }
    struct stat in_sb;
    const int stream = input && stat(input, &in_sb) == 0 && !S_ISREG(in_sb.st_mode); /* (a pipe: read once) */

    int rc = CLI_FAIL, ndim = 0;
    char *split = NULL; /* the input, one batch, past the memory where one image fits: its words, then how to split */
    long long shape[VGGCL_NPY_MAX_DIMS];
    float *x = NULL, *logits = NULL, *feats = NULL;
    vggcl_model *model = NULL;
    const cli_file outs[] = { { "--output", output }, { "--features", features } },
                   ins[] = { { "--weights", weights }, { "--input", input } };
    if ((r = cli_outputs_check("run", outs, 2, ins, 2, NULL, 0)) != CLI_OK) return r;
    FILE *report = cli_report((const char *[]){ output, features }, 2);
    vggcl_ctx *ctx = cli_ctx_new();
    if (!ctx) return cli_error(CLI_FAIL, "out of host memory");

    long long offset; /* a file's header alone first: its values read once the batch is known to fit (a 3 GB
                       * input was read whole, then found too large for the device) */
    if ((stream ? vggcl_npy_read(ctx, input, &ndim, shape, &x) : vggcl_npy_header(ctx, input, &ndim, shape, &offset)) !=
        VGGCL_OK) {
        if (stream) goto fail; /* (what it held is read: the .npy reader's message) */
        unsigned char *rgb = NULL;
        int ih, iw;
        if (vggcl_image_load(ctx, input, &rgb, &ih, &iw) == VGGCL_OK) { /* an image: say what to do with it */
            vggcl_free(rgb);
            rc = cli_error(CLI_FAIL, "%s: an image, not a .npy tensor; run --input takes the preprocessed (N, 3, H, "
                                     "W) float32 tensor: make it with `vggcl preprocess --output X.npy %s`, or use "
                                     "`vggcl classify`", input, input);
            goto done;
        }
        vggcl_npy_header(ctx, input, &ndim, shape, &offset); /* (the .npy reader's message again) */
        goto fail;
    }
    if (ndim != 4 || shape[1] != 3 || shape[0] < 0 || shape[2] < 1 || shape[3] < 1) {
        char s[128] = "";
        size_t used = 0;
        for (int d = 0; d < ndim && used < sizeof s; d++)
            used += (size_t)snprintf(s + used, sizeof s - used, d ? ", %lld" : "%lld", shape[d]);
        rc = cli_error(CLI_FAIL, "%s: shape (%s%s); expected (N, 3, H, W) with H, W >= 1", input, s,
                       ndim == 1 ? "," : ""); /* (numpy's (1152,)) */
        goto done;
    }
    if (shape[0] > 1000000 || shape[2] > VGGCL_MAX_SIDE || shape[3] > VGGCL_MAX_SIDE) {
        rc = cli_error(CLI_FAIL, "%s: shape (%lld, 3, %lld, %lld) is too large", input, shape[0], shape[2], shape[3]);
        goto done;
    }
    if (cli_select_device("run", ctx, device, device) != CLI_OK) goto done; /* (rc CLI_FAIL: said) */
    if (vggcl_model_load(ctx, weights, &opts, &model) != VGGCL_OK) goto fail;
    cli_pool5_note(weights, &opts, model);
    const int n = (int)shape[0], h = (int)shape[2], w = (int)shape[3];
    if (!x && n) { /* (the pass's own check, before the values are read) */
        const long long said[4] = { shape[0], shape[1], shape[2], shape[3] };
        const vggcl_status fits = vggcl_check_batch(ctx, model, n, h, w);
        split = splitting_helps(ctx, model, fits, n, h, w);
        if (fits != VGGCL_OK || vggcl_npy_read(ctx, input, &ndim, shape, &x) != VGGCL_OK) goto fail;
        if (ndim != 4 || memcmp(said, shape, sizeof said)) {
            rc = cli_error(CLI_FAIL, "%s: changed while it was read (its shape is not the one its header said first)",
                           input);
            goto done;
        }
    }
    const int classes = vggcl_model_classes(model), width = vggcl_model_features(model);
    logits = malloc(((size_t)n * classes + 1) * sizeof *logits);
    feats = malloc(((size_t)n * width + 1) * sizeof *feats);
    if (!logits || !feats) {
        rc = cli_error(CLI_FAIL, "out of host memory for the outputs");
        goto done;
    }
    /* no images (an empty share of `preprocess --shard`): no rows, the size still checked as a pass checks it */
    const vggcl_status passed = n ? vggcl_forward(ctx, model, x, n, h, w, logits, feats)
                                  : vggcl_check_batch(ctx, model, 1, h, w);
    split = splitting_helps(ctx, model, passed, n, h, w);
    if (passed != VGGCL_OK) goto fail;
    /* both written whole to temporary files, then named all or none (a failed --features removed the
     * --output it had already renamed over an earlier file) */
    const long long ytail[1] = { classes }, ftail[1] = { width };
    vggcl_npy_writer *staged[2] = { NULL, NULL };
    if (vggcl_npy_writer_open(ctx, output, 1, ytail, &staged[0]) != VGGCL_OK ||
        vggcl_npy_writer_append(ctx, staged[0], logits, n) != VGGCL_OK ||
        (features && (vggcl_npy_writer_open(ctx, features, 1, ftail, &staged[1]) != VGGCL_OK ||
                      vggcl_npy_writer_append(ctx, staged[1], feats, n) != VGGCL_OK))) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        cli_name_all(ctx, staged, (const char *[]){ output, features }, 2, 0);
        goto done;
    }
    /* (held from the naming until the lines are said: a Ctrl-C then ended the process with the files new and no
     * line saying so; not where only a pipe is written: held, a stalled reader kept a kill waiting) */
    const int hold = cli_output_named(output) || (features && cli_output_named(features));
    if (hold) cli_hold_signals();
    if (cli_name_all(ctx, staged, (const char *[]){ output, features }, 2, 1) != CLI_OK) goto released;

    fprintf(report, "device: %s\n", vggcl_device_name(ctx));
    const int shown = n <= 10 ? n : 8;
    for (int i = 0; i < shown; i++) {
        int best = 0, finite = 1;
        for (int c = 0; c < classes; c++) {
            finite &= isfinite(logits[(size_t)i * classes + c]) != 0;
            if (logits[(size_t)i * classes + c] > logits[(size_t)i * classes + best]) best = c;
        }
        if (!finite) /* (NaN or infinite inputs pass through, as in PyTorch: no class to call) */
            fprintf(report, "image %d: logits not finite (NaN or infinite values in the input or the weights, or "
                    "values past float32's range within the network)\n", i);
        else { /* (its name where the model names its classes, as classify says it) */
            char *name = vggcl_model_class_name(model, best) ? cli_text(vggcl_model_class_name(model, best)) : NULL;
            fprintf(report, "image %d: top class %d (%s%slogit %.4f)\n", i, best, name ? name : "", name ? "; " : "",
                    logits[(size_t)i * classes + best]);
            free(name);
        }
    }
    if (shown < n) {
        int past = 0; /* (the rows not shown whose logits are not finite: counted, a NaN there went unsaid) */
        for (size_t i = (size_t)shown * classes; i < (size_t)n * classes; i += classes)
            for (int c = 0; c < classes; c++)
                if (!isfinite(logits[i + c])) {
                    past++;
                    break;
                }
        fprintf(report, "... (%d more images", n - shown);
        if (past) fprintf(report, ", %d of them with logits not finite", past);
        fprintf(report, ")\n");
    }
    char *named[2] = { cli_text(output), features ? cli_text(features) : NULL }; /* (a newline forged a line) */
    fprintf(report, "wrote %s (%d, %d)", named[0] ? named[0] : output, n, classes);
    if (features) fprintf(report, " and %s (%d, %d)", named[1] ? named[1] : features, n, width);
    fputc('\n', report);
    free(named[0]), free(named[1]);
    rc = CLI_OK;
released:
    if (hold) cli_release_signals();
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s%s", split ? split : vggcl_message(ctx),
                   split ? " (run takes its input as one batch: split it, as preprocess --shard I/N makes shares, or "
                           "classify the images, which runs them in batches of --batch)" : "");
done:
    free(split);
    free(x);
    free(logits);
    free(feats);
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
