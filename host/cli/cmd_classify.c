/* vggcl classify: images in, top-K classes out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "W.safetensors", "the model", 1 },
    { "labels", "FILE", "one class name per line (default: the names in the model's metadata,\n"
                        "as `vggcl train-head`, export_torchvision.py --class-names and\n"
                        "import_onnx.py --classes write them, else \"class N\"; a file that\n"
                        "names them otherwise than the model's metadata is said)", 0 },
    { "top", "K", "the K most likely classes (default 5; all where K is more)", 0 },
    { "format", "text|json|csv", "json: one object per image per line; csv: a header line\n"
                                 "(file,rank,class,label,prob), then a row per class shown (default text)", 0 },
    { "batch", "B", "images per pass (default 8)", 0 },
    { "logits-out", "L.npy", "also writes the logits (N, C), float32", 0 },
    { "tensor-out", "T.npy", "also writes the preprocessed input (N, 3, H, W), float32", 0 },
    { "recursive", NULL, CLI_RECURSIVE_HELP, 0 },
    { "files-from", "FILE", CLI_FILES_FROM_HELP, 0 },
    /* (main.c's command table marks the commands that take --shard: their processes say their own mistakes) */
    { "shard", "I/N", "process I of N (0 <= I < N) takes the I-th of N equal runs of the images,\n"
                      "in order: the N outputs, one after the other, are one process's", 0 },
    { NULL, NULL, NULL, 0 },
};

/* The options every rank must be given alike (cli_ranks_same_model; docs/folders.md lists them: Across machines). */
static const char *const agreed[] = { "format", "top", "conv", "head", "logits-out", "tensor-out", "pool5", NULL };

static const cli_command command = {
    "classify", "IMAGE|DIR...",
    "Preprocesses each " CLI_IMAGE_FORMATS " image as torchvision's\n"
    "ImageClassification preset (see `vggcl preprocess --help`; options not given\n"
    "come from the model's metadata when it has them), runs the model in batches and\n"
    "prints the top K classes with their softmax probability (a model of one class:\n"
    "the sigmoid of its logit, as BCEWithLogitsLoss trains it). A folder stands for\n"
    "its images, sorted by name. --logits-out and --tensor-out keep the order the\n"
    "images were given, leaving out images that could not be read (or, with\n"
    "--no-crop, that preprocess to another size than the first, or whose logits are\n"
    "not finite: weights or preprocessing that overflow float32 on it). Such an image\n"
    "is reported by name and skipped; the exit status is then 1. With --no-crop and\n"
    "--batch 1 each image runs at its own size (not with --tensor-out, one array).\n",
    options, { cli_device_options, cli_net_options, cli_preprocess_options, cli_decode_options }, 1,
};

typedef struct {
    char **names;
    int n;
} labels;

/* One name per line, of any length, LF or CRLF (a UTF-8 byte order mark before the first left out); empty
 * lines at the end are left out (an editor's last newline), one before a name or a NUL byte is refused,
 * naming the line. */
/* The next line of f (without its LF; a CRLF's CR kept) in line[CLI_LINE_MAX + 2] and *len: 1, 0 at the end, -1
 * past CLI_LINE_MAX bytes before its end (a CRLF's CR not counted: a name as long as allowed was refused with CRLF
 * and taken with LF). */
static int label_line(FILE *f, char *line, size_t *len)
{
    int c = EOF;
    *len = 0;
    while (*len <= CLI_LINE_MAX && (c = getc(f)) != EOF && c != '\n') line[(*len)++] = (char)c;
    if (*len > CLI_LINE_MAX && (line[CLI_LINE_MAX] != '\r' || ((c = getc(f)) != '\n' && c != EOF))) return -1;
    line[*len] = '\0';
    return c != EOF || *len;
}

/* The start of --labels' refusals, as --files-from's: the command, the option and its file, then what is wrong. */
#define LABELS_SAID "classify: --labels %s: "

static int load_labels(const char *path, int classes, labels *l)
{
    struct stat sb;
    if (cli_named_fifo(path)) /* (it waited for a writer, for good) */
        return cli_error(CLI_FAIL, LABELS_SAID "a FIFO given by its name is not waited on (give a file, or its lines "
                                   "through <(...))", path);
    FILE *f = fopen(path, "r");
    char *line = malloc(CLI_LINE_MAX + 2);
    size_t len;
    int rc = CLI_OK, got;
    if (!f || !line) {
        const int e = errno;
        if (f) fclose(f);
        free(line);
        return f ? cli_error(CLI_FAIL, "out of host memory")
                 : cli_error(CLI_FAIL, LABELS_SAID "cannot open the file: %s", path, strerror(e));
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        free(line);
        return cli_error(CLI_FAIL, LABELS_SAID "a folder, not a file of class names", path);
    }
    int at = 0, blank = 0; /* the line; the first empty one, while only empty ones follow it */
    while (rc == CLI_OK && (got = label_line(f, line, &len)) != 0) {
        at++;
        if (got < 0) {
            rc = cli_error(CLI_FAIL, LABELS_SAID "line %d is longer than %d bytes, not a class name (one per line)",
                           path, at, CLI_LINE_MAX);
            break;
        }
        while (len && line[len - 1] == '\r') line[--len] = '\0';
        const char *name = at == 1 && !strncmp(line, "\xef\xbb\xbf", 3) ? line + 3 : line;
        if (strlen(line) != len) {
            rc = cli_error(CLI_FAIL, LABELS_SAID "line %d holds a NUL byte (one class name per line)", path, at);
            break;
        }
        if (!*name) {
            if (!blank) blank = at;
            continue;
        }
        if (blank) {
            rc = cli_error(CLI_FAIL, LABELS_SAID "line %d is empty (one class name per line)", path, blank);
            break;
        }
        char **grown = realloc(l->names, sizeof *grown * (size_t)(l->n + 1));
        if (grown) l->names = grown;
        if (!grown || !(grown[l->n] = strdup(name))) rc = cli_error(CLI_FAIL, "out of host memory");
        else l->n++;
    }
    if (rc == CLI_OK && ferror(f))
        rc = cli_error(CLI_FAIL, LABELS_SAID "cannot read the file: %s", path, strerror(errno));
    free(line);
    fclose(f);
    int bare_cr = 0; /* (a file of old Mac line ends: one label of them all, said as "1 labels") */
    for (int k = 0; k < l->n && !bare_cr; k++) bare_cr = strchr(l->names[k], '\r') != NULL;
    if (rc == CLI_OK && l->n != classes)
        rc = cli_error(CLI_FAIL, LABELS_SAID "%d label%s, but the model has %d classes (one name per line%s)", path,
                       l->n, l->n == 1 ? "" : "s", classes, bare_cr ? "; a CR alone ends no line" : "");
    return rc;
}

/* The class names the model's file carries. */
static int model_labels(const vggcl_model *m, int classes, labels *l)
{
    if (!(l->names = calloc((size_t)classes, sizeof *l->names))) return cli_error(CLI_FAIL, "out of host memory");
    for (; l->n < classes; l->n++)
        if (!(l->names[l->n] = strdup(vggcl_model_class_name(m, l->n)))) return cli_error(CLI_FAIL, "out of host memory");
    return 0;
}

/* Says where --labels (path, l) names the classes otherwise than the model's own names (its metadata's): the
 * file's are printed, and a file of the same names in another order printed each image under another's. */
static void labels_against_model(const char *path, const labels *l, const vggcl_model *m)
{
    int first = -1, same_set = 1;
    for (int i = 0; i < l->n && vggcl_model_class_name(m, 0) && first < 0; i++)
        if (strcmp(l->names[i], vggcl_model_class_name(m, i))) first = i;
    if (first < 0) return;
    for (int i = 0; i < l->n && same_set; i++) { /* (each name in the other list, both ways) */
        int in_model = 0, in_file = 0;
        for (int j = 0; j < l->n; j++) {
            in_model = in_model || !strcmp(l->names[i], vggcl_model_class_name(m, j));
            in_file = in_file || !strcmp(vggcl_model_class_name(m, i), l->names[j]);
        }
        same_set = in_model && in_file;
    }
    cli_notice("classify: --labels %s names class %d \"%s\" where the model names it \"%s\" (its "
               "\"vggcl.classes\"): the file's names are printed%s", path, first, l->names[first],
               vggcl_model_class_name(m, first),
               same_set ? "; they are the model's in another order, so each image is printed under another "
                          "class's name: leave --labels out to print the model's" : "");
}

/* Class a before class b (< 0) by logits: the higher first (NaN above all, as torch.topk), ties by class
 * index. */
static int by_logit_of(const float *logits, int a, int b)
{
    const float x = logits[a], y = logits[b];
    if (isnan(x) != isnan(y)) return isnan(x) ? -1 : 1;
    if (x != y && !isnan(x)) return x > y ? -1 : 1;
    return (a > b) - (a < b);
}

static _Thread_local const float *ranked; /* (qsort's comparator has no argument for them) */
static int by_logit(const void *a, const void *b) { return by_logit_of(ranked, *(const int *)a, *(const int *)b); }

/* Prints one image's top k in the chosen format: CLI_OK, or CLI_FAIL said (out of memory: the line would be
 * missing from the answers). */
static int report(const char *file, const float *logits, int classes, int k, const labels *l, const char *format)
{
    double *prob = malloc(sizeof *prob * (size_t)classes);
    int *order = malloc(sizeof *order * (size_t)classes);
    if (!prob || !order) {
        free(prob), free(order);
        return cli_error(CLI_FAIL, "%s: out of host memory for its answer", file);
    }
    double mx = logits[0], sum = 0;
    for (int c = 1; c < classes; c++) mx = logits[c] > mx ? logits[c] : mx;
    for (int c = 0; c < classes; c++) sum += prob[c] = exp(logits[c] - mx);
    for (int c = 0; c < classes; c++) prob[c] /= sum, order[c] = c;
    if (classes == 1) /* (a softmax of one class is 1 whatever the image: a binary head of one logit's sigmoid) */
        prob[0] = 1 / (1 + exp(-(double)logits[0]));
    /* ranked by logit (as torch.topk and eval), not by probability: those 745 below the top are all 0 in
     * double and tied; highest first, ties by class index. A few: selected; many: sorted */
    if (k > 16) {
        ranked = logits;
        qsort(order, (size_t)classes, sizeof *order, by_logit);
    }
    for (int i = 0; i < k && k <= 16; i++) {
        int best = i;
        for (int j = i + 1; j < classes; j++)
            if (by_logit_of(logits, order[j], order[best]) < 0) best = j;
        const int t = order[i];
        order[i] = order[best];
        order[best] = t;
    }
    char name[32];
    cJSON *o = NULL, *top = NULL;
    int rc = CLI_OK;
    if (!strcmp(format, "json")) {
        o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "file", cli_json_string(file));
        top = cJSON_AddArrayToObject(o, "top");
    } else if (!strcmp(format, "text")) {
        char *shown = cli_text(file);
        printf("%s:", shown ? shown : file);
        free(shown);
    }
    for (int i = 0; i < k; i++) {
        const int c = order[i];
        snprintf(name, sizeof name, "class %d", c);
        const char *label = l->n ? l->names[c] : name;
        if (!strcmp(format, "json")) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddNumberToObject(t, "class", c);
            cJSON_AddItemToObject(t, "label", cli_json_string(label));
            cli_json_add_exact(t, "prob", prob[c]); /* (cJSON's 15 digits: an ulp off) */
            if (!cJSON_AddItemToArray(top, t)) cJSON_Delete(t);
        } else if (!strcmp(format, "csv")) {
            cli_csv_str(file);
            printf(",%d,%d,", i + 1, c);
            cli_csv_str(label);
            char text[32]; /* (the JSON's digits: %.6g gave less) */
            printf(",%s\n", cli_shortest(prob[c], 0, text, sizeof text));
        } else {
            char *shown = cli_text(label);
            printf("%s %s %.4f", i ? "," : "", shown ? shown : label, prob[c]);
            free(shown);
        }
    }
    if (!strcmp(format, "json")) rc = cli_json_print(o); /* (says when out of memory) */
    else if (!strcmp(format, "text")) printf("\n");
    free(prob);
    free(order);
    return rc;
}

/* What classify keeps across batches: the outputs stream to their files as
 * batches finish, so memory stays flat in the number of images. */
typedef struct {
    vggcl_ctx *ctx;
    int classes, top;
    const labels *l;
    const char *format;
    char **files;
    const char *logits_path, *tensor_path;
    vggcl_npy_writer *logits, *x; /* (ok, classes), (ok, 3, H, W); the latter opened at the first batch */
    int ok;
} results;

static int print_batch(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                       const float *features, const float *flipped)
{
    results *r = user;
    (void)features, (void)flipped;
    const long long lt[1] = { r->classes }, xt[3] = { 3, h, w };
    /* (opened before the first batch's lines: one that cannot be, a descriptor's copy with no temporary file in
     * TMPDIR, stopped the run after them) */
    if ((r->logits_path && !r->logits && vggcl_npy_writer_open(r->ctx, r->logits_path, 1, lt, &r->logits)) ||
        (r->tensor_path && !r->x && vggcl_npy_writer_open(r->ctx, r->tensor_path, 3, xt, &r->x)))
        return cli_error(CLI_FAIL, "%s", vggcl_message(r->ctx));
    for (int j = 0; j < nb; j++)
        if (report(r->files[index[j]], logits + (size_t)j * r->classes, r->classes, r->top, r->l, r->format))
            return CLI_FAIL;
    if ((r->logits && vggcl_npy_writer_append(r->ctx, r->logits, logits, nb)) ||
        (r->x && vggcl_npy_writer_append(r->ctx, r->x, x, nb)))
        return cli_error(CLI_FAIL, "%s", vggcl_message(r->ctx));
    r->ok += nb;
    return CLI_OK;
}

int cmd_classify(int argc, char **argv)
{
    char **files = NULL;
    int n_files = 0, rc, top, batch, finished = 0, stopped = 0;
    cli_args a;
    cli_ranks ranks = CLI_RANKS_INIT;
    vggcl_preprocess p;
    vggcl_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    const char *weights = cli_arg(&a, "weights"), *labels_path = cli_arg(&a, "labels"),
               *format = cli_arg_or(&a, "format", "text"), *device = cli_arg(&a, "device"),
               *logits_out = cli_arg(&a, "logits-out"), *tensor_out = cli_arg(&a, "tensor-out");
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, cli_arg(&a, "head"), VGGCL_CONV_AUTO, 0 };
    int threads;
    double progress_s;
    /* the options' values first: a value missing (--top DIR) leaves no image, which would be said instead */
    if ((rc = cli_preprocess_args("classify", &a, &p)) != CLI_OK ||
        (rc = cli_decode_args("classify", &a, &threads, &progress_s)) != CLI_OK)
        goto done_args;
    rc = CLI_USAGE;
    if (cli_int("classify", "--top", cli_arg_or(&a, "top", "5"), 1, 1000000, &top) ||
        cli_int("classify", "--batch", cli_arg_or(&a, "batch", "8"), 1, 4096, &batch) ||
        cli_model_opts("classify", cli_arg(&a, "pool5"), cli_arg(&a, "conv"), &opts))
        goto done_args;
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "csv")) {
        rc = cli_error(CLI_USAGE, "classify: --format must be text, json or csv, not '%s'", format);
        goto done_args;
    }
    const int listed = cli_images("classify", &a, &files, &n_files);
    rc = CLI_USAGE;
    for (int k = 0; k < 2; k++) {
        const char *path = k ? tensor_out : logits_out;
        if (path && cli_is_stdout(path)) {
            rc = cli_error(CLI_USAGE, "classify: --%s %s is standard output, where the classes are printed; name a "
                                      "file%s", k ? "tensor-out" : "logits-out", path,
                           cli_ranks_under_launcher() ? "" : " (or /dev/fd/3, run with 3>&1 >&2)");
            goto done_args;
        }
    }
    const cli_file outs[] = { { "--logits-out", logits_out }, { "--tensor-out", tensor_out } },
                   ins[] = { { "--weights", weights }, { "--labels", labels_path },
                                { "--files-from", cli_files_from(&a) } };
    /* (checked where the outputs are written; under mpirun the ranks then take rank 0's answer, once MPI runs) */
    const int checked = listed == CLI_OK && cli_ranks_writes(cli_arg(&a, "shard"))
                            ? cli_outputs_check("classify", outs, 2, ins, 3, files, n_files) : CLI_OK;
    if ((rc = cli_take_share(&ranks, "classify", cli_arg(&a, "shard"), listed, &files, &n_files, batch)) != CLI_OK ||
        (rc = cli_ranks_agree(&ranks, checked)) != CLI_OK)
        goto done_args;
    rc = CLI_FAIL;

    labels l = { NULL, 0 };
    vggcl_model *model = NULL;
    results res = { 0 };
    int classes = 0, failed = 0;
    vggcl_ctx *ctx = NULL, *wctx = cli_ctx_new(); /* wctx: the writers' messages, apart from the devices' threads */
    cli_devices devs = { 0 };
    /* under mpirun every rank runs to cli_ranks_finish, which gathers, whatever happened before it */
    int local = cli_ranks_capture(&ranks, &logits_out, &tensor_out);
    if (local == CLI_OK && !wctx) local = cli_error(CLI_FAIL, "out of host memory");
    if (local == CLI_OK)
        local = cli_open_models("classify", cli_ranks_device(&ranks, device), device, weights, &opts, &p, &devs);
    if (local == CLI_OK) cli_pool5_note(weights, &opts, devs.model[0]);
    if (local == CLI_OK && labels_path) local = load_labels(labels_path, vggcl_model_classes(devs.model[0]), &l);
    if (local == CLI_OK && labels_path) labels_against_model(labels_path, &l, devs.model[0]);
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK) /* (each machine's --labels file too) */
        local = cli_ranks_same_model(&ranks, "classify", weights, devs.model[0], &p, l.names, l.n, &a, agreed,
                                     devs.ctx[0]);
    if (local != CLI_OK) { /* (a usage error, a bad --device list: 2) */
        rc = local;
        goto out;
    }
    ctx = devs.ctx[0], model = devs.model[0];
    classes = vggcl_model_classes(model);
    if (top > classes) top = classes;
    if (!labels_path && vggcl_model_class_name(model, 0) && model_labels(model, classes, &l)) goto out;
    /* the header once: by rank 0, by shard 0 (the shards' outputs one after the other are one process's) */
    if (!strcmp(format, "csv") && ranks.rank == 0 && ranks.shard == 0)
        printf("file,rank,class,label,prob\n");
    res = (results){ wctx, classes, top, &l, format, files, logits_out, tensor_out, NULL, NULL, 0 };
    int h, w;
    cli_lead_size(ctx, model, &p, ranks.lead, ranks.n_lead, &h, &w);
    /* (an image whose logits are not finite is named, skipped and counted, as eval does: exit 1) */
    cli_batch_stats ran;
    const cli_batch_job job = { .ctx = ctx, .model = model, .p = &p, .batch = batch, .want_logits = 1,
                                .progress_s = progress_s, .threads = threads, .stats = &ran, .n_devices = devs.n,
                                .ctxs = devs.ctx, .models = devs.model, .ranks = &ranks, .h = h, .w = w, .finite = 1,
                                .sized = model, .own_sizes = !tensor_out /* (its array is of one size) */ };
    if ((stopped = (rc = cli_run_batches(&job, files, n_files, print_batch, &res, &failed)) != CLI_OK)) goto out;
    /* all outputs or none: both made durable, then named (an earlier run's kept where one cannot be written) */
    rc = CLI_FAIL;
    /* no image classified (here: a --shard's or a rank's share, or every image): empty arrays, which concatenate
     * (one process's replaced an earlier run's, where it had kept it, unsaid) */
    if (!res.ok) {
        if (!h) h = ran.h, w = ran.w; /* (its images read, each then skipped: not finite) */
        if (!h) cli_lead_size(ctx, model, &p, cli_ranks_after(&ranks), ranks.n_after, &h, &w); /* (as one process) */
        if (tensor_out && !h && ranks.rank > 0) goto out; /* (no rank knows it: said once, by rank 0) */
        const char *nor = ranks.final_logits ? ranks.final_logits : logits_out; /* (not written with it) */
        if (cli_open_empty(wctx, tensor_out, ranks.final_tensor, nor, 3, (const long long[]){ 3, h, w }, &res.x) !=
                CLI_OK ||
            cli_open_empty(wctx, logits_out, ranks.final_logits, NULL, 1, (const long long[]){ classes },
                           &res.logits) != CLI_OK)
            goto out;
    }
    vggcl_npy_writer *staged[2] = { res.x, res.logits };
    res.x = res.logits = NULL;
    if (cli_name_all(wctx, staged, (const char *const[]){ tensor_out, logits_out }, 2, 1) != CLI_OK) goto out;
    rc = cli_ranks_finish(&ranks, wctx, CLI_OK, 0, &failed, &res.ok);
    finished = 1;
    if (rc == CLI_OK && failed) {
        rc = CLI_FAIL;
        char said[64];
        if (ranks.rank == 0)
            cli_error(CLI_FAIL, "%s; %d classified", cli_skipped_text(failed, ranks.total, said, sizeof said), res.ok);
    }
out:
    if (!finished) rc = cli_ranks_finish(&ranks, wctx, rc, stopped, &failed, &res.ok);
    for (int i = 0; i < l.n; i++) free(l.names[i]);
    free(l.names);
    vggcl_npy_writer_close(wctx, res.logits, 0); /* after a failure: nothing left behind */
    vggcl_npy_writer_close(wctx, res.x, 0);
    cli_close_models(&devs);
    vggcl_ctx_free(wctx);
done_args:
    cli_ranks_end(&ranks);
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
}
