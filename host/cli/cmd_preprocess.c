/* vggcl preprocess: images -> the (N, 3, H, W) float32 tensor torchvision's
 * ImageClassification preset makes, as .npy (the input `vggcl run` takes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option options[] = {
    { "output", "T.npy", "writes the float32 (N, 3, H, W) tensor, in the order given;\n"
                         "-: standard output (not a terminal)", 1 },
    { "weights", "W.safetensors", "the model the tensor is for: what is not given of --resize, --crop,\n"
                                  "--mean, --std and --draft comes from its metadata, as classify takes it\n"
                                  "(default: torchvision's)", 0 },
    { "recursive", NULL, CLI_RECURSIVE_HELP, 0 },
    { "files-from", "FILE", CLI_FILES_FROM_HELP, 0 },
    /* (main.c's command table marks the commands that take --shard: their processes say their own mistakes) */
    { "shard", "I/N", "process I of N (0 <= I < N) takes the I-th of N equal runs of the images,\n"
                      "in order: the N tensors, one after the other, are one process's", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "preprocess", "IMAGE|DIR...",
    "Decodes " CLI_IMAGE_FORMATS " images (as PIL's convert(\"RGB\")),\n"
    "resizes the short side to --resize (default 256; HxW: both sides, as\n"
    "Resize((H, W))) with PIL's antialiased bilinear filter, center-crops --crop\n"
    "(default 224), scales to [0, 1] and normalizes with --mean and --std (default\n"
    "ImageNet's), exactly as torchvision's ImageClassification preset for VGG16; with\n"
    "--weights, as the model's metadata says where an option is not given (a model\n"
    "train-head wrote, or one imported from ONNX, records its own: give it, or the\n"
    "tensor is not the one classify would make). A folder stands for its files of\n"
    "these extensions, sorted by name:\n"
    CLI_IMAGE_EXTENSIONS ". Images are decoded on\n"
    "--threads threads (default: the cores) and the tensor is written as they come,\n"
    "so memory stays flat in the number of images; under mpirun the ranks share the\n"
    "images and rank 0 writes one process's tensor. Every image that cannot be read\n"
    "is named; then the command fails and no file is written.\n",
    options, { cli_preprocess_options, cli_decode_options }, 0,
};

/* Three finite numbers R,G,B (positive: each above 0, for --std, as a model's metadata must have it);
 * every image would fail with others. */
static int parse3(const char *cmd, const char *opt, const char *v, int positive, float out[3])
{
    char *copy = strdup(v);
    if (!copy) return cli_error(CLI_FAIL, "%s: %s: out of host memory", cmd, opt);
    int n = 0, ok = 1;
    for (char *field = copy, *comma; ok; field = comma + 1) { /* (each field as cli_number: sscanf took " 1,+2,0x3") */
        double x;
        if ((comma = strchr(field, ','))) *comma = '\0';
        ok = n < 3 && cli_number(field, &x);
        if (ok) out[n++] = (float)x;
        if (!comma) break;
    }
    free(copy);
    for (int c = 0; ok && n == 3 && c < 3; c++) ok = isfinite(out[c]) && (!positive || out[c] > 0);
    if (!ok || n != 3) /* (one message whatever failed: an "inf" is refused by cli_number, 1e39 as a float) */
        return cli_error(CLI_USAGE, "%s: %s must be three finite numbers R,G,B%s, not '%s' (as a float32 holds them: "
                         "within 3.4e38%s)", cmd, opt, positive ? " above 0" : "", v, positive ? ", from 1.4e-45" : "");
    return 0;
}

/* --resize's value v, N (the short side's; 0: none) or HxW (torchvision's Resize((H, W))), into p: 0, else said. */
static int parse_resize(const char *cmd, const char *v, vggcl_preprocess *p)
{
    long h, w;
    int pair;
    const long most = VGGCL_MAX_PRESET_SIDE;
    if (!cli_sides(v, &h, &w, &pair) || h < (pair ? 1 : 0) || h > most || (pair && (w < 1 || w > most)))
        return cli_error(CLI_USAGE, "%s: --resize must be N (the short side; 0 to %ld, 0: none) or HxW (height x "
                         "width, as torchvision's Resize((H, W)); 1 to %ld each), not '%s'", cmd, most, most, v);
    p->resize = (int)h, p->resize_w = pair ? (int)w : 0;
    return 0;
}

int cli_preprocess_args(const char *cmd, const cli_args *a, vggcl_preprocess *p)
{
    const char *v;
    if ((v = cli_arg(a, "resize")) && parse_resize(cmd, v, p)) return CLI_USAGE;
    if ((v = cli_arg(a, "crop")) && !strcmp(v, "0")) /* (0 is "none" in the metadata and in Python) */
        return cli_error(CLI_USAGE, "%s: --crop must be an integer from 1 to %d, not '0' (none: --no-crop)", cmd,
                         VGGCL_MAX_PRESET_SIDE);
    if ((v = cli_arg(a, "crop")) && cli_int(cmd, "--crop", v, 1, VGGCL_MAX_PRESET_SIDE, &p->crop)) return CLI_USAGE;
    if (cli_arg(a, "no-crop")) {
        if (cli_arg(a, "crop")) return cli_error(CLI_USAGE, "%s: give --crop N or --no-crop, not both", cmd);
        p->crop = 0;
    }
    if (cli_arg(a, "draft") && cli_arg(a, "no-draft"))
        return cli_error(CLI_USAGE, "%s: give --draft or --no-draft, not both", cmd);
    if (cli_arg(a, "draft")) p->draft = 1;
    if (cli_arg(a, "no-draft")) p->draft = 0;
    if ((v = cli_arg(a, "mean")) && parse3(cmd, "--mean", v, 0, p->mean)) return CLI_USAGE;
    if ((v = cli_arg(a, "std")) && parse3(cmd, "--std", v, 1, p->std)) return CLI_USAGE;
    return CLI_OK;
}

/* The tensor, appended to as batches come in list order. */
/* Images per batch: they only set how far the decoding threads work ahead, and under mpirun what a rank is
 * handed at a time. */
#define BATCH 8

typedef struct {
    vggcl_ctx *ctx;
    const char *path;
    vggcl_npy_writer *w; /* opened at the first batch, when the size is known */
    int h, wd;           /* its images' size */
    int rows;            /* written */
} tensor_out;

static int append_batch(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                        const float *features, const float *flipped)
{
    tensor_out *t = user;
    const long long row[3] = { 3, h, w };
    (void)index, (void)logits, (void)features, (void)flipped;
    if ((!t->w && vggcl_npy_writer_open(t->ctx, t->path, 3, row, &t->w) != VGGCL_OK) ||
        vggcl_npy_writer_append(t->ctx, t->w, x, nb) != VGGCL_OK)
        return cli_error(CLI_FAIL, "%s", vggcl_message(t->ctx));
    t->h = h, t->wd = w, t->rows += nb;
    return CLI_OK;
}

/* The fields of p not given, from the metadata of the model in weights (its convolutions read on the reference:
 * no device needed), else torchvision's: CLI_OK, else said (CLI_USAGE: a --mean and --std given that no image can
 * take). *ctx and *model, for the ranks' comparison, are the caller's to free either way. (Without it the tensor
 * for a model that records its own preset, a trained head's, was torchvision's.) */
static int model_preset(const char *weights, vggcl_preprocess *p, vggcl_ctx **ctx, vggcl_model **model)
{
    const vggcl_load_options trunk = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 1 };
    if (!(*ctx = vggcl_ctx_new())) return cli_error(CLI_FAIL, "out of host memory");
    if (vggcl_select_device(*ctx, "ref") != VGGCL_OK || vggcl_model_load(*ctx, weights, &trunk, model) != VGGCL_OK)
        return cli_error(CLI_FAIL, "%s", vggcl_message(*ctx));
    return cli_model_preset("preprocess", *ctx, *model, p, NULL);
}

int cmd_preprocess(int argc, char **argv)
{
    int n_files = 0, rc, threads, failed = 0, ok = 0;
    double progress_s;
    char **files = NULL;
    cli_args a;
    cli_ranks ranks = CLI_RANKS_INIT;
    vggcl_preprocess p;
    vggcl_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    const char *output = cli_arg(&a, "output"), *part = output;
    if ((rc = cli_preprocess_args("preprocess", &a, &p)) != CLI_OK ||
        (rc = cli_decode_args("preprocess", &a, &threads, &progress_s)) != CLI_OK)
        goto done;
    const char *weights = cli_arg(&a, "weights");
    if (!weights) { /* (torchvision's for what was not given, checked before MPI starts; a model's: below) */
        vggcl_ctx *check = vggcl_ctx_new(); /* (for the message) */
        rc = check ? cli_model_preset("preprocess", check, NULL, &p, NULL) : cli_error(CLI_FAIL, "out of host memory");
        vggcl_ctx_free(check);
        if (rc != CLI_OK) goto done;
    }
    const int listed = cli_images("preprocess", &a, &files, &n_files);
    /* (checked where the output is written; under mpirun the ranks then take rank 0's answer, once MPI runs) */
    const cli_file outs[] = { { "--output", output } }, ins[] = { { "--weights", weights },
                                                                     { "--files-from", cli_files_from(&a) } };
    const int checked = listed == CLI_OK && cli_ranks_writes(cli_arg(&a, "shard"))
                            ? cli_outputs_check("preprocess", outs, 1, ins, 2, files, n_files) : CLI_OK;
    if ((rc = cli_take_share(&ranks, "preprocess", cli_arg(&a, "shard"), listed, &files, &n_files, BATCH)) != CLI_OK ||
        (rc = cli_ranks_agree(&ranks, checked)) != CLI_OK)
        goto done;

    FILE *report = cli_report(&output, 1);
    /* under mpirun every rank runs to cli_ranks_finish, which gathers, whatever happened before it */
    vggcl_ctx *ctx = cli_ctx_new();
    tensor_out t = { ctx, NULL, NULL, 0, 0, 0 };
    rc = !ctx ? cli_error(CLI_FAIL, "out of host memory") : cli_ranks_capture(&ranks, NULL, &part);
    t.path = part;
    /* each rank reads its machine's copy of the model, as classify's ranks do, and the ranks compare their
     * preprocessing (and files): every rank takes part, given --weights or not (ranks given other options were
     * joined, exit 0) */
    vggcl_ctx *mctx = NULL;
    vggcl_model *model = NULL;
    if (rc == CLI_OK && weights) rc = model_preset(weights, &p, &mctx, &model);
    if ((rc = cli_ranks_all_ok(&ranks, rc)) == CLI_OK)
        rc = cli_ranks_same_model(&ranks, "preprocess", weights, model, &p, NULL, 0, &a, NULL, NULL);
    /* (kept to the end: --no-crop's image of a size the model does not take is skipped, as classify skips it) */
    int h = 0, w = 0;
    if (rc == CLI_OK) cli_lead_size(ctx, model, &p, ranks.lead, ranks.n_lead, &h, &w);
    const cli_batch_job job = { .ctx = ctx, .p = &p, .batch = BATCH, .progress_s = progress_s, .threads = threads,
                                .n_devices = 1, .ranks = &ranks, .strict = 1, .h = h, .w = w,
                                .sized = model }; /* (one tensor: one size) */
    int stopped = 0; /* (in its images; not for the unreadable ones: every one is named, then the run fails) */
    if (rc == CLI_OK) stopped = (rc = cli_run_batches(&job, files, n_files, append_batch, &t, &failed)) != CLI_OK;
    if (rc == CLI_OK && failed) rc = CLI_FAIL; /* (each was named) */
    /* (named with signals held, as a set is: a kill between its temporary name and the rename left that name;
     * held on until its line is said: a Ctrl-C there ended the process with the tensor new and no line; not
     * across the ranks' gathering under mpirun, where a rank that waits for the others would hold a kill) */
    const int empty = rc == CLI_OK && !n_files && ranks.size < 2; /* a share with no images (--shard) */
    const int hold = (t.w || empty) && ranks.size < 2 && cli_output_named(output);
    if (hold) cli_hold_signals();
    if (empty) { /* (an empty tensor) */
        if (!h) cli_lead_size(ctx, model, &p, cli_ranks_after(&ranks), ranks.n_after, &h, &w); /* (as one process) */
        t.h = h, t.wd = w;
        rc = cli_write_empty(ctx, output, 3, (const long long[]){ 3, h, w });
    }
    if (t.w && cli_name_all(ctx, &t.w, (const char *const[]){ output }, 1, rc == CLI_OK) != CLI_OK) rc = CLI_FAIL;
    ok = t.rows; /* (this rank's: under mpirun its batches, out of every rank's list) */
    rc = cli_ranks_finish(&ranks, ctx, rc, stopped, &failed, &ok);
    long size[3] = { t.h, t.wd, t.h > 0 }; /* the images' size, from a rank that had some */
    cli_ranks_sum(&ranks, size, 3);
    if (ranks.rank == 0 && failed)
        cli_error(CLI_FAIL, "%d of %d images could not be used; %s not written", failed, ranks.total, output);
    else if (ranks.rank == 0 && rc == CLI_OK) {
        char *shown = cli_text(output); /* (a newline in the name forged a line) */
        fprintf(report, "wrote %s (%d, 3, %ld, %ld)\n", shown ? shown : output, ok, size[0] / size[2], size[1] / size[2]);
        free(shown);
    }
    if (hold) cli_release_signals();
    vggcl_model_free(model);
    vggcl_ctx_free(mctx);
    vggcl_ctx_free(ctx);
done:
    cli_ranks_end(&ranks);
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
}
