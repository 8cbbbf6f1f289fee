/* vggcl preprocess: images -> the (N, 3, H, W) float32 tensor torchvision's
 * ImageClassification preset makes, as .npy (the input `vggcl run` takes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option options[] = {
    { "output", "T.npy", "writes the float32 (N, 3, H, W) tensor, in the order given", 1 },
    { "recursive", NULL, "a folder also stands for the images in the folders below it (through\n"
                         "links), in the order torchvision's ImageFolder walks a class folder:\n"
                         "by folder path, then by name", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "preprocess", "IMAGE|DIR...",
    "Decodes JPEG and PNG images (as PIL's convert(\"RGB\")), resizes the short side\n"
    "to --resize (default 256) with PIL's antialiased bilinear filter, center-crops\n"
    "--crop (default 224), scales to [0, 1] and normalizes with --mean and --std\n"
    "(default ImageNet's), exactly as torchvision's ImageClassification preset for\n"
    "VGG16. A folder stands for its .jpg, .jpeg and .png files, sorted by name.\n"
    "Any image that cannot be read fails the command and no file is written.\n",
    options, { cli_preprocess_options },
};

static int parse3(const char *cmd, const char *opt, const char *v, float out[3])
{
    char tail;
    if (sscanf(v, "%f,%f,%f%c", &out[0], &out[1], &out[2], &tail) != 3)
        return cli_error(CLI_USAGE, "%s: %s must be three numbers R,G,B, not '%s'", cmd, opt, v);
    return 0;
}

void cli_preprocess_unset(vggcl_preprocess *p)
{
    p->resize = p->crop = -1;
    p->mean[0] = p->std[0] = NAN;
}

/* A metadata value of n numbers separated by commas; 0 when malformed. */
static int meta_numbers(const char *v, int n, float *out)
{
    int used = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        if (sscanf(v + used, i ? ",%f%n" : "%f%n", &out[i], &k) != 1) return 0;
        used += k;
    }
    return v[used] == '\0';
}

int cli_preprocess_finish(vggcl_preprocess *p, const vggcl_model *model, const char *weights)
{
    vggcl_preprocess d;
    vggcl_preprocess_defaults(&d);
    static const char *const keys[4] = { "vggcl.resize", "vggcl.crop", "vggcl.mean", "vggcl.std" };
    float v[4][3];
    const int counts[4] = { 1, 1, 3, 3 };
    const int unset[4] = { p->resize < 0, p->crop < 0, isnan(p->mean[0]), isnan(p->std[0]) };
    for (int k = 0; k < 4; k++) {
        const char *meta = model ? vggcl_model_metadata(model, keys[k]) : NULL;
        if (!unset[k] || !meta) continue;
        if (!meta_numbers(meta, counts[k], v[k]) || (k < 2 && (v[k][0] < 0 || v[k][0] > 16384)) ||
            (k == 3 && !(v[k][0] > 0 && v[k][1] > 0 && v[k][2] > 0)))
            return cli_error(CLI_FAIL, "%s: __metadata__ \"%s\" is \"%s\"; expected %s", weights, keys[k], meta,
                             k < 2 ? "a size from 0 to 16384" : "three numbers R,G,B (std > 0)");
        if (k == 0) p->resize = (int)v[k][0];
        if (k == 1) p->crop = (int)v[k][0];
        if (k == 2) memcpy(p->mean, v[k], sizeof p->mean);
        if (k == 3) memcpy(p->std, v[k], sizeof p->std);
    }
    if (p->resize < 0) p->resize = d.resize;
    if (p->crop < 0) p->crop = d.crop;
    if (isnan(p->mean[0])) memcpy(p->mean, d.mean, sizeof p->mean);
    if (isnan(p->std[0])) memcpy(p->std, d.std, sizeof p->std);
    return CLI_OK;
}

int cli_preprocess_args(const char *cmd, const cli_args *a, vggcl_preprocess *p)
{
    const char *v;
    if ((v = cli_arg(a, "resize")) && cli_int(cmd, "--resize", v, 0, 16384, &p->resize)) return CLI_USAGE;
    if ((v = cli_arg(a, "crop")) && cli_int(cmd, "--crop", v, 1, 16384, &p->crop)) return CLI_USAGE;
    if (cli_arg(a, "no-crop")) {
        if (cli_arg(a, "crop")) return cli_error(CLI_USAGE, "%s: give --crop N or --no-crop, not both", cmd);
        p->crop = 0;
    }
    if ((v = cli_arg(a, "mean")) && parse3(cmd, "--mean", v, p->mean)) return CLI_USAGE;
    if ((v = cli_arg(a, "std")) && parse3(cmd, "--std", v, p->std)) return CLI_USAGE;
    return CLI_OK;
}

int cmd_preprocess(int argc, char **argv)
{
    int n_files = 0, rc;
    char **files = NULL;
    cli_args a;
    vggcl_preprocess p;
    cli_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    const char *output = cli_arg(&a, "output");
    if ((rc = cli_preprocess_args("preprocess", &a, &p)) != CLI_OK ||
        (rc = cli_preprocess_finish(&p, NULL, NULL)) != CLI_OK || (rc = cli_images("preprocess", &a, &files, &n_files)))
        goto done;
    rc = CLI_FAIL;

    vggcl_ctx *ctx = vggcl_ctx_new();
    float *all = NULL;
    int H = 0, W = 0;
    if (!ctx) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto done;
    }
    for (int i = 0; i < n_files; i++) {
        unsigned char *rgb = NULL;
        float *t = NULL;
        int h, w, oh, ow;
        if (vggcl_image_load(ctx, files[i], &rgb, &h, &w) != VGGCL_OK ||
            vggcl_image_preprocess(ctx, rgb, h, w, &p, &t, &oh, &ow) != VGGCL_OK) {
            free(rgb);
            char *msg = cli_image_message(ctx, files[i]);
            rc = cli_error(CLI_FAIL, "%s", msg ? msg : "out of host memory");
            free(msg);
            goto out;
        }
        free(rgb);
        if (i == 0) {
            H = oh, W = ow;
            all = malloc(sizeof(float) * 3 * (size_t)H * W * n_files);
        }
        if (oh != H || ow != W || !all) {
            free(t);
            rc = all ? cli_error(CLI_FAIL, "%s: preprocesses to %dx%d, but %s gave %dx%d; use --crop to batch "
                                 "images of different sizes", files[i], oh, ow, files[0], H, W)
                     : cli_error(CLI_FAIL, "out of host memory");
            goto out;
        }
        memcpy(all + (size_t)i * 3 * H * W, t, sizeof(float) * 3 * (size_t)H * W);
        free(t);
    }
    long long shape[4] = { n_files, 3, H, W };
    if (vggcl_npy_write(ctx, output, 4, shape, all) != VGGCL_OK) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        goto out;
    }
    printf("wrote %s (%d, 3, %d, %d)\n", output, n_files, H, W);
    rc = CLI_OK;
out:
    free(all);
    vggcl_ctx_free(ctx);
done:
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
}
