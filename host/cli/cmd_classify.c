/* vggcl classify: images in, top-K classes out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: vggcl classify --weights W.safetensors [--labels FILE] [--top K]\n"
    "                      [--format text|json|csv] [--batch B] [--device SPEC]\n"
    "                      [--pool5 keep|drop] [--conv ...] [--head PREFIX]\n"
    "                      [--logits-out L.npy] [--tensor-out T.npy]\n"
    "                      [--resize N] [--crop N | --no-crop] [--mean R,G,B] [--std R,G,B]\n"
    "                      IMAGE|DIR...\n"
    "\n"
    "Preprocesses each JPEG or PNG image as torchvision's ImageClassification preset\n"
    "(see `vggcl preprocess --help`), runs the model in batches (default 8) and prints\n"
    "the top K (default 5) classes with their softmax probability. --labels: one class\n"
    "name per line (default \"class N\"). --format json prints one object per image per\n"
    "line. --logits-out and --tensor-out write the logits (N, C) and the preprocessed\n"
    "input (N, 3, H, W) as float32 .npy, in the order the images were given, leaving\n"
    "out images that could not be read. Such an image is reported by name and skipped;\n"
    "the exit status is then 1.\n";

typedef struct {
    char **names;
    int n;
} labels;

static int load_labels(const char *path, int classes, labels *l)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f) return cli_error(CLI_FAIL, "%s: cannot open labels file", path);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char **grown = realloc(l->names, sizeof *grown * (size_t)(l->n + 1));
        if (!grown || !(grown[l->n] = strdup(line))) {
            if (grown) l->names = grown;
            fclose(f);
            return cli_error(CLI_FAIL, "out of host memory");
        }
        l->names = grown;
        l->n++;
    }
    fclose(f);
    if (l->n != classes)
        return cli_error(CLI_FAIL, "%s: %d labels, but the model has %d classes (one name per line)", path, l->n,
                         classes);
    return 0;
}

static void print_csv_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Prints one image's top k in the chosen format. */
static void report(const char *file, const float *logits, int classes, int k, const labels *l, const char *format)
{
    double *prob = malloc(sizeof *prob * (size_t)classes);
    int *order = malloc(sizeof *order * (size_t)classes);
    if (!prob || !order) {
        free(prob), free(order);
        return;
    }
    double mx = logits[0], sum = 0;
    for (int c = 1; c < classes; c++) mx = logits[c] > mx ? logits[c] : mx;
    for (int c = 0; c < classes; c++) sum += prob[c] = exp(logits[c] - mx);
    for (int c = 0; c < classes; c++) prob[c] /= sum, order[c] = c;
    for (int i = 0; i < k; i++) /* partial selection sort: highest first, ties by class index */
        for (int j = i + 1; j < classes; j++)
            if (prob[order[j]] > prob[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    char name[32];
    if (!strcmp(format, "json")) {
        printf("{\"file\":");
        cli_json_str(file);
        printf(",\"top\":[");
    } else if (!strcmp(format, "text")) {
        printf("%s:", file);
    }
    for (int i = 0; i < k; i++) {
        const int c = order[i];
        snprintf(name, sizeof name, "class %d", c);
        const char *label = l->n ? l->names[c] : name;
        if (!strcmp(format, "json")) {
            printf("%s{\"class\":%d,\"label\":", i ? "," : "", c);
            cli_json_str(label);
            printf(",\"prob\":%.6g}", prob[c]);
        } else if (!strcmp(format, "csv")) {
            print_csv_str(file);
            printf(",%d,%d,", i + 1, c);
            print_csv_str(label);
            printf(",%.6g\n", prob[c]);
        } else {
            printf("%s %s %.4f", i ? "," : "", label, prob[c]);
        }
    }
    if (!strcmp(format, "json")) printf("]}\n");
    else if (!strcmp(format, "text")) printf("\n");
    free(prob);
    free(order);
}

static void progress(int done, int total)
{
    const int width = 30, filled = total ? width * done / total : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d batches", filled, "##############################", width - filled, "", done,
            total);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_classify(int argc, char **argv)
{
    const char *weights = NULL, *labels_path = NULL, *top_s = "5", *format = "text", *batch_s = "8", *device = NULL,
               *pool5 = NULL, *conv = NULL, *head = NULL, *logits_out = NULL, *tensor_out = NULL;
    char **files = NULL;
    int n_files = 0, rc = CLI_FAIL;
    vggcl_preprocess p;
    vggcl_preprocess_defaults(&p);
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            rc = CLI_OK;
            goto done_args;
        }
        if ((r = cli_opt(argc, argv, &i, "--weights", &weights)) || (r = cli_opt(argc, argv, &i, "--labels", &labels_path)) ||
            (r = cli_opt(argc, argv, &i, "--top", &top_s)) || (r = cli_opt(argc, argv, &i, "--format", &format)) ||
            (r = cli_opt(argc, argv, &i, "--batch", &batch_s)) || (r = cli_opt(argc, argv, &i, "--device", &device)) ||
            (r = cli_opt(argc, argv, &i, "--pool5", &pool5)) || (r = cli_opt(argc, argv, &i, "--conv", &conv)) ||
            (r = cli_opt(argc, argv, &i, "--head", &head)) || (r = cli_opt(argc, argv, &i, "--logits-out", &logits_out)) ||
            (r = cli_opt(argc, argv, &i, "--tensor-out", &tensor_out)) ||
            (r = cli_preprocess_opt("classify", argc, argv, &i, &p))) {
            if (r < 0) { rc = CLI_USAGE; goto done_args; }
            continue;
        }
        if ((rc = cli_image_arg("classify", argv[i], &files, &n_files)) != CLI_OK) goto done_args;
    }
    rc = CLI_FAIL; /* (cli_image_arg left CLI_OK) */
    int top, batch;
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, head, VGGCL_CONV_AUTO };
    if (!weights || n_files == 0) {
        rc = cli_error(CLI_USAGE, "classify: --weights and at least one image are required");
        fputs(usage, stderr);
        goto done_args;
    }
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "csv")) {
        rc = cli_error(CLI_USAGE, "classify: --format must be text, json or csv, not '%s'", format);
        goto done_args;
    }
    if (cli_int("classify", "--top", top_s, 1, 1000000, &top) || cli_int("classify", "--batch", batch_s, 1, 4096, &batch) ||
        cli_model_opts("classify", pool5, conv, &opts)) {
        rc = CLI_USAGE;
        goto done_args;
    }

    labels l = { NULL, 0 };
    vggcl_model *model = NULL;
    float *x = NULL, *y = NULL, *all_logits = NULL, *all_x = NULL;
    int H = 0, W = 0, classes = 0, ok_count = 0, failed = 0;
    vggcl_ctx *ctx = vggcl_ctx_new();
    if (!ctx) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto done_args;
    }
    if (vggcl_select_device(ctx, device) != VGGCL_OK || vggcl_model_load(ctx, weights, &opts, &model) != VGGCL_OK) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        goto out;
    }
    classes = vggcl_model_classes(model);
    if (top > classes) top = classes;
    if (labels_path && load_labels(labels_path, classes, &l)) goto out;
    if (!strcmp(format, "csv")) printf("file,rank,class,label,prob\n");
    const int n_batches = (n_files + batch - 1) / batch, show = isatty(2) && n_batches > 1;
    int *ok_index = malloc(sizeof *ok_index * (size_t)batch);
    if (!ok_index) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto out;
    }
    for (int b0 = 0; b0 < n_files; b0 += batch) {
        int nb = 0;
        for (int i = b0; i < n_files && i < b0 + batch; i++) {
            unsigned char *rgb = NULL;
            float *t = NULL;
            int h, w, oh, ow;
            if (vggcl_image_load(ctx, files[i], &rgb, &h, &w) != VGGCL_OK ||
                vggcl_image_preprocess(ctx, rgb, h, w, &p, &t, &oh, &ow) != VGGCL_OK) {
                if (show) fputc('\n', stderr);
                cli_error(CLI_FAIL, "%s (skipped)", cli_image_message(ctx, files[i]));
                free(rgb);
                failed++;
                continue;
            }
            free(rgb);
            if (!x) {
                H = oh, W = ow;
                x = malloc(sizeof *x * 3 * (size_t)H * W * batch);
                y = malloc(sizeof *y * (size_t)classes * batch);
                if (!x || !y) {
                    free(t);
                    rc = cli_error(CLI_FAIL, "out of host memory");
                    free(ok_index);
                    goto out;
                }
            }
            if (oh != H || ow != W) {
                cli_error(CLI_FAIL, "%s: preprocesses to %dx%d, unlike the first image's %dx%d; use --crop (skipped)",
                          files[i], oh, ow, H, W);
                free(t);
                failed++;
                continue;
            }
            memcpy(x + (size_t)nb * 3 * H * W, t, sizeof *x * 3 * (size_t)H * W);
            free(t);
            ok_index[nb++] = i;
        }
        if (nb > 0) {
            if (vggcl_forward(ctx, model, x, nb, H, W, y, NULL) != VGGCL_OK) {
                rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
                free(ok_index);
                goto out;
            }
            for (int j = 0; j < nb; j++) report(files[ok_index[j]], y + (size_t)j * classes, classes, top, &l, format);
            float *gl = logits_out ? realloc(all_logits, sizeof *gl * (size_t)classes * (ok_count + nb)) : NULL;
            float *gx = tensor_out ? realloc(all_x, sizeof *gx * 3 * (size_t)H * W * (ok_count + nb)) : NULL;
            if ((logits_out && !gl) || (tensor_out && !gx)) {
                if (gl) all_logits = gl;
                if (gx) all_x = gx;
                rc = cli_error(CLI_FAIL, "out of host memory");
                free(ok_index);
                goto out;
            }
            if (gl) memcpy((all_logits = gl) + (size_t)classes * ok_count, y, sizeof *y * (size_t)classes * nb);
            if (gx) memcpy((all_x = gx) + (size_t)3 * H * W * ok_count, x, sizeof *x * 3 * (size_t)H * W * nb);
            ok_count += nb;
        }
        fflush(stdout);
        if (show) progress(b0 / batch + 1, n_batches);
    }
    free(ok_index);
    long long lshape[2] = { ok_count, classes }, tshape[4] = { ok_count, 3, H, W };
    int wrote_logits = 0;
    if (logits_out && ok_count) {
        if (vggcl_npy_write(ctx, logits_out, 2, lshape, all_logits) != VGGCL_OK) {
            rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
            goto out;
        }
        wrote_logits = 1;
    }
    if (tensor_out && ok_count && vggcl_npy_write(ctx, tensor_out, 4, tshape, all_x) != VGGCL_OK) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        if (wrote_logits) unlink(logits_out);
        goto out;
    }
    if (failed) {
        rc = cli_error(CLI_FAIL, "%d of %d images could not be read; %d classified", failed, n_files, ok_count);
        goto out;
    }
    rc = CLI_OK;
out:
    for (int i = 0; i < l.n; i++) free(l.names[i]);
    free(l.names);
    free(x), free(y), free(all_logits), free(all_x);
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
done_args:
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
}
