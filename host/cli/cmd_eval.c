/* vggcl eval: a model over an ImageFolder data set: top-1 and top-5
 * accuracy, per-class precision, recall and F1, their macro and weighted
 * averages, balanced accuracy, the confusion matrix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "MODEL.safetensors", "the model", 1 },
    { "data", "DIR", "one sub-folder of images per class (torchvision's ImageFolder layout)", 1 },
    { "format", "text|json|csv", "json: one object; csv: one row per class (default text)", 0 },
    { "batch", "B", "images per pass (default 8)", 0 },
    { NULL, NULL, NULL, 0 },
};

/* The options every rank must be given alike (cli_ranks_same_model; docs/folders.md lists them: Across machines). */
static const char *const agreed[] = { "conv", "head", "pool5", NULL };

static const cli_command command = {
    "eval", NULL,
    "When the model names its classes (metadata \"vggcl.classes\", as `vggcl\n"
    "train-head`, export_torchvision.py --class-names and import_onnx.py --classes\n"
    "write it), each folder must be one of them and is matched by name; otherwise the\n"
    "folders sorted by name are classes 0, 1, ... A model of one output (a binary\n"
    "head, BCEWithLogitsLoss's) on two folders: a positive logit predicts the folder\n"
    "named as its class, or, for a model that names none, the second folder sorted.\n"
    "Prints top-1 and top-k accuracy (k the smaller of 5 and the classes; JSON's\n"
    "\"top5\", with \"k\"), each class's precision, recall and F1 (0 for a class never\n"
    "predicted or without images, as scikit-learn's default; an empty class folder is\n"
    "an error, exit 1: a data set's folders are data, as torchvision's ImageFolder\n"
    "takes them), their macro and weighted (by images) averages over the classes with\n"
    "images or predictions and the balanced accuracy (the mean recall of the classes\n"
    "with images), as scikit-learn's classification_report and\n"
    "balanced_accuracy_score count them, and the confusion matrix (rows: true class,\n"
    "columns: predicted; in the text, the classes with neither images nor predictions\n"
    "left out); equal logits rank the lower class first. The csv rows hold images,\n"
    "predicted, precision, recall, F1, top-1 and top-k over the class's images (0\n"
    "where it has none, as its recall) and the confusion row, then a row 'all' and\n"
    "the averages' rows 'macro avg' and 'weighted avg'. Preprocessing follows the\n"
    "model's metadata unless the options say otherwise. An unreadable image, one\n"
    "whose logits are not finite (weights that overflow float32 on it) and, with\n"
    "--no-crop, one that preprocesses to another size than the first are named and\n"
    "skipped; the exit status is then 1. With --no-crop and --batch 1 each image runs\n"
    "at its own size.\n",
    options, { cli_device_options, cli_net_options, cli_preprocess_options, cli_decode_options }, 1,
};

typedef struct {
    const char *weights; /* the model file, the model (its pool5 as run) and the preprocessing: said in the report */
    const vggcl_model *model;
    const vggcl_preprocess *p;
    int classes, k;       /* model classes (a head of one output on two folders: 2); top-k (5, or fewer classes) */
    int binary;           /* a head of one output, its logit's sign the class (BCEWithLogitsLoss's): 0 | x */
    const int *truth;     /* per file: the model class of its folder */
    long *confusion;      /* (classes, classes) */
    long *topk;           /* per true class: images whose class is in the top k */
    long n;
} tally;

static int count(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                 const float *features, const float *flipped)
{
    tally *t = user;
    (void)x, (void)h, (void)w, (void)features, (void)flipped;
    for (int j = 0; j < nb; j++) {
        const float two[2] = { 0, t->binary ? logits[j] : 0 }; /* (as logits: softmax(0, x) is sigmoid(x)) */
        const float *l = t->binary ? two : logits + (size_t)j * t->classes;
        const int y = t->truth[index[j]];
        int top = 0, above = 0; /* the top class, and how many classes rank above the true one */
        for (int c = 1; c < t->classes; c++)
            if (l[c] > l[top]) top = c;
        for (int c = 0; c < t->classes; c++) above += l[c] > l[y] || (l[c] == l[y] && c < y);
        t->confusion[(size_t)y * t->classes + top]++;
        t->topk[y] += above < t->k;
        t->n++;
    }
    return CLI_OK;
}

static double ratio(long a, long b) { return b ? (double)a / b : 0.0; }

/* One class's counts and ratios: precision and recall 0 where there is nothing to divide by (a class never predicted,
 * or without images: scikit-learn's default), F1 their harmonic mean as scikit-learn counts it, 2 hits over its images
 * and predictions (0 where it has neither). */
typedef struct {
    long images, predicted, hit;
    double precision, recall, f1;
} class_score;

/* The averages of precision, recall and F1 over the classes that have images or predictions (scikit-learn's
 * classification_report, whose classes are those of y_true and y_pred): macro, each class alike; weighted, each by
 * its images. Balanced accuracy: the mean recall of the classes that have images (balanced_accuracy_score). */
typedef struct {
    double macro[3], weighted[3], balanced;
} summary;

/* Each class's scores into s (C of them) and their averages. */
static void score(const tally *t, class_score *s, summary *sum)
{
    const int C = t->classes;
    int averaged = 0, with_images = 0;
    memset(sum, 0, sizeof *sum);
    for (int c = 0; c < C; c++) {
        class_score *q = &s[c];
        *q = (class_score){ 0 };
        for (int k = 0; k < C; k++)
            q->images += t->confusion[(size_t)c * C + k], q->predicted += t->confusion[(size_t)k * C + c];
        q->hit = t->confusion[(size_t)c * C + c];
        q->precision = ratio(q->hit, q->predicted), q->recall = ratio(q->hit, q->images);
        q->f1 = ratio(2 * q->hit, q->images + q->predicted);
        if (!q->images && !q->predicted) continue;
        const double v[3] = { q->precision, q->recall, q->f1 };
        for (int m = 0; m < 3; m++) sum->macro[m] += v[m], sum->weighted[m] += v[m] * (double)q->images;
        averaged++;
        if (q->images) sum->balanced += q->recall, with_images++;
    }
    for (int m = 0; m < 3; m++) {
        sum->macro[m] = averaged ? sum->macro[m] / averaged : 0.0;
        sum->weighted[m] = t->n ? sum->weighted[m] / (double)t->n : 0.0;
    }
    sum->balanced = with_images ? sum->balanced / with_images : 0.0;
}

/* An object of precision, recall and F1 (an average's) added to o as name; NULL out of memory. */
static cJSON *add_average(cJSON *o, const char *name, const double v[3])
{
    cJSON *a = cJSON_AddObjectToObject(o, name);
    return a && cli_json_add_exact(a, "precision", v[0]) && cli_json_add_exact(a, "recall", v[1]) &&
                   cli_json_add_exact(a, "f1", v[2])
               ? a
               : NULL;
}

/* The numbers as one JSON object, its confusion matrix written row by row (as cJSON objects, a matrix of
 * C x C counts took 84 bytes each: 2 GB for 5000 classes). CLI_OK, or CLI_FAIL said. */
static int report_json(const tally *t, char **names, const class_score *s, const summary *sum, int skipped, long right,
                       long in_k)
{
    const int C = t->classes;
    cJSON *o = cJSON_CreateObject(), *arr;
    /* (what made it first: two reports of one data set said nothing of what made them apart, a --pool5 or --crop) */
    int ok = o && cli_json_model(o, t->weights, t->model) && cli_json_preprocess(o, t->p) &&
             cJSON_AddNumberToObject(o, "n", (double)t->n) &&
             cJSON_AddNumberToObject(o, "skipped", skipped) &&
             cli_json_add_exact(o, "top1", ratio(right, t->n)) &&
             cli_json_add_exact(o, "top5", ratio(in_k, t->n)) && cJSON_AddNumberToObject(o, "k", t->k) &&
             cli_json_add_exact(o, "balanced_accuracy", sum->balanced) && add_average(o, "macro", sum->macro) &&
             add_average(o, "weighted", sum->weighted);
    if (ok && (ok = (arr = cJSON_AddArrayToObject(o, "classes")) != NULL))
        for (int c = 0; c < C && ok; c++) ok = cJSON_AddItemToArray(arr, cli_json_string(names[c]));
    if (ok && (ok = (arr = cJSON_AddArrayToObject(o, "per_class")) != NULL))
        for (int c = 0; c < C && ok; c++) {
            cJSON *r = cJSON_CreateObject();
            ok = r && cJSON_AddItemToObject(r, "class", cli_json_string(names[c])) &&
                 cJSON_AddNumberToObject(r, "index", c) && cJSON_AddNumberToObject(r, "images", (double)s[c].images) &&
                 cJSON_AddNumberToObject(r, "predicted", (double)s[c].predicted) &&
                 cli_json_add_exact(r, "precision", s[c].precision) && cli_json_add_exact(r, "recall", s[c].recall) &&
                 cli_json_add_exact(r, "f1", s[c].f1) && cJSON_AddItemToArray(arr, r);
            if (!ok) cJSON_Delete(r);
        }
    if (!ok) { /* (a key or an entry missing would misalign the report: none) */
        cJSON_Delete(o);
        return cli_error(CLI_FAIL, "out of host memory for the report");
    }
    char *text = cJSON_PrintUnformatted(o); /* (o is whole here) */
    cJSON_Delete(o);
    if (!text) return cli_error(CLI_FAIL, "out of host memory for the report");
    text[strlen(text) - 1] = '\0'; /* (its closing brace: the matrix goes last) */
    printf("%s,\"confusion\":[", text);
    cJSON_free(text);
    for (int c = 0; c < C; c++) {
        fputs(c ? ",[" : "[", stdout);
        for (int k = 0; k < C; k++) printf(k ? ",%ld" : "%ld", t->confusion[(size_t)c * C + k]);
        putchar(']');
    }
    printf("]}\n");
    return CLI_OK;
}

/* A name in a column of width terminal columns, whole (the column is as wide as the longest name). */
static void name_column(const char *name, int width) { printf("%s%*s", name, width - cli_columns(name), ""); }

/* The CSV's fields after a row's name: images, predicted, precision, recall and F1 (the ratios as the JSON gives
 * them: %.6f was less). */
static void csv_scores(long images, long predicted, const double v[3])
{
    char text[32];
    printf(",%ld,%ld", images, predicted);
    for (int m = 0; m < 3; m++) printf(",%s", cli_shortest(v[m], 0, text, sizeof text));
}

/* The text's row of a class or an average. */
static void text_scores(const char *name, int width, long images, long predicted, const double v[3])
{
    name_column(name, width);
    printf(" %9.4f %9.4f %9.4f %7ld %9ld\n", v[0], v[1], v[2], images, predicted);
}

/* CLI_OK, or CLI_FAIL said (out of memory). */
static int report(const tally *t, char **names, const char *format, int skipped)
{
    const int C = t->classes;
    class_score *s = malloc(sizeof *s * (size_t)C);
    if (!s) return cli_error(CLI_FAIL, "out of host memory for the report");
    summary sum;
    score(t, s, &sum);
    long right = 0, in_k = 0;
    for (int c = 0; c < C; c++) right += s[c].hit, in_k += t->topk[c];
    if (!strcmp(format, "json")) {
        const int rc = report_json(t, names, s, &sum, skipped, right, in_k);
        free(s);
        return rc;
    }
    /* the text's names with their control characters escaped (cli_text; as they are where out of memory) */
    char **shown = !strcmp(format, "text") ? calloc((size_t)C, sizeof *shown) : NULL;
    for (int c = 0; shown && c < C; c++) shown[c] = cli_text(names[c]);
#define SHOWN(c) (shown && shown[c] ? shown[c] : names[c])
    int width = 24; /* (the names' column: as wide as the longest, and at least as the heading's room) */
    for (int c = 0; c < C; c++) width = cli_columns(SHOWN(c)) > width ? cli_columns(SHOWN(c)) : width;
    if (!strcmp(format, "csv")) {
        /* (one class: k 1, whose column "top1" was the one before it too, a name readers took once) */
        if (t->k > 1) printf("class,images,predicted,precision,recall,f1,top1,top%d", t->k);
        else printf("class,images,predicted,precision,recall,f1,top1,topk");
        for (int c = 0; c < C; c++) putchar(','), cli_csv_str(names[c]);
        putchar('\n');
    } else {
        printf("%ld image%s, %d class%s", t->n, t->n == 1 ? "" : "s", C, C == 1 ? "" : "es");
        if (skipped) printf(" (%d skipped)", skipped);
        char pre[256];
        printf("; pool5 %s, %s", vggcl_model_pool5(t->model) ? "kept" : "dropped",
               cli_preprocess_text(t->p, pre, sizeof pre));
        printf("\ntop-1 %.4f (%ld/%ld)", ratio(right, t->n), right, t->n);
        if (t->k > 1) printf("  top-%d %.4f (%ld/%ld)", t->k, ratio(in_k, t->n), in_k, t->n); /* (k 1: top-1 twice) */
        printf("\nbalanced accuracy %.4f  macro F1 %.4f\n\n", sum.balanced, sum.macro[2]);
        name_column("class", width);
        printf(" %9s %9s %9s %7s %9s\n", "precision", "recall", "f1", "images", "predicted");
    }
    for (int c = 0; c < C; c++) {
        const double v[3] = { s[c].precision, s[c].recall, s[c].f1 };
        if (!strcmp(format, "csv")) {
            char text[32];
            cli_csv_str(names[c]);
            csv_scores(s[c].images, s[c].predicted, v);
            /* (its top-1: its recall; top-1 and top-k of a class without images 0 as its recall is, scikit-learn's
             * rule, its images 0 beside them) */
            printf(",%s", cli_shortest(s[c].recall, 0, text, sizeof text));
            printf(",%s", cli_shortest(ratio(t->topk[c], s[c].images), 0, text, sizeof text));
            for (int k = 0; k < C; k++) printf(",%ld", t->confusion[(size_t)c * C + k]);
            putchar('\n');
        } else {
            text_scores(SHOWN(c), width, s[c].images, s[c].predicted, v);
        }
    }
#define SEEN(c) (s[c].images || s[c].predicted) /* (a class with neither: its row and column zeros) */
    if (!strcmp(format, "csv")) {
        char top1[32], topk[32];
        printf("all,%ld,%ld,,,,%s,%s", t->n, t->n, cli_shortest(ratio(right, t->n), 0, top1, sizeof top1),
               cli_shortest(ratio(in_k, t->n), 0, topk, sizeof topk));
        for (int k = 0; k < C; k++) printf(",%ld", s[k].predicted); /* (the confusion's column sums) */
        putchar('\n');
        for (int a = 0; a < 2; a++) { /* (the averages: no top-k nor confusion row of their own) */
            fputs(a ? "weighted avg" : "macro avg", stdout);
            csv_scores(t->n, t->n, a ? sum.weighted : sum.macro);
            for (int k = 0; k < C + 2; k++) putchar(','); /* (empty: top1, topk and the confusion row) */
            putchar('\n');
        }
    } else { /* (the classes with neither images nor predictions left out, their row and column zeros: a head of
              * 20000 classes on a few folders wrote 2.4 GB of zeros) */
        putchar('\n');
        text_scores("macro avg", width, t->n, t->n, sum.macro);
        text_scores("weighted avg", width, t->n, t->n, sum.weighted);
        int left_out = 0;
        for (int c = 0; c < C; c++) left_out += !SEEN(c);
        printf("\nconfusion (rows: true class, columns: predicted, in the order above");
        if (left_out)
            printf("; the %d class%s with neither images nor predictions left out", left_out,
                   left_out == 1 ? "" : "es");
        printf(")\n");
        for (int c = 0; c < C; c++) {
            if (!SEEN(c)) continue;
            name_column(SHOWN(c), width);
            for (int k = 0; k < C; k++)
                if (SEEN(k)) printf(" %5ld", t->confusion[(size_t)c * C + k]);
            putchar('\n');
        }
    }
    for (int c = 0; shown && c < C; c++) free(shown[c]);
    free(shown);
    free(s);
#undef SEEN
#undef SHOWN
    return CLI_OK;
}

/* A class name and its index, sorted by name then index: a folder is found by bsearch in a head of many
 * classes (20000: a scan per folder took seconds). */
typedef struct {
    const char *name;
    int c;
} named_class;

static int by_name(const void *pa, const void *pb)
{
    const named_class *a = pa, *b = pb;
    const int d = strcmp(a->name, b->name);
    return d ? d : (a->c > b->c) - (a->c < b->c);
}

static int name_is(const void *key, const void *pb) { return strcmp(key, ((const named_class *)pb)->name); }

/* A head of one output on two class folders (binary): the positive folder (class 1) the one named as the
 * model's class, else the second sorted (ImageFolder's label 1, BCEWithLogitsLoss's target); the other
 * class 0. Fills names; says why not, or which is which, when say is set. */
static int match_binary(const cli_dataset *ds, const vggcl_model *m, const char *weights, const char *data,
                        int *folder_class, char **names, int say)
{
    const char *n = vggcl_model_class_name(m, 0);
    const int positive = !n ? 1 : !strcmp(ds->classes[0], n) ? 0 : !strcmp(ds->classes[1], n) ? 1 : -1;
    if (positive < 0)
        return !say ? CLI_FAIL
                    : cli_error(CLI_FAIL, "%s: class folders '%s' and '%s', but %s has one output, named '%s': one "
                                "folder must be of that name (its class, a positive logit), the other the rest", data,
                                ds->classes[0], ds->classes[1], weights, n);
    folder_class[positive] = 1, folder_class[1 - positive] = 0;
    names[1] = ds->classes[positive], names[0] = ds->classes[1 - positive];
    if (say) {
        char *pos = cli_text(names[1]), *neg = cli_text(names[0]);
        cli_notice("eval: %s has one output: a binary head (as BCEWithLogitsLoss trains it), a positive logit "
                   "predicting '%s' (%s), a negative one '%s'", weights, pos ? pos : "", n ? "its class's name" :
                   "the second folder sorted, ImageFolder's label 1", neg ? neg : "");
        free(pos), free(neg);
    }
    return CLI_OK;
}

/* The model class of each data-set folder: by name when the model names its
 * classes, else by position. Fills names (borrowed or "class N" in buf); says
 * why not when say is set (one rank of several says it for all). */
static int match_classes(const cli_dataset *ds, const vggcl_model *m, const char *weights, const char *data,
                         int *folder_class, char **names, char (*buf)[24], int say)
{
    const int C = vggcl_model_classes(m), named = vggcl_model_class_name(m, 0) != NULL;
    if (C == 1 && ds->n_classes == 2) return match_binary(ds, m, weights, data, folder_class, names, say);
    named_class *sorted = named ? malloc(sizeof *sorted * (size_t)C) : NULL;
    int rc = CLI_OK;
    if (named && !sorted) return cli_error(CLI_FAIL, "out of host memory");
    for (int c = 0; sorted && c < C; c++) sorted[c] = (named_class){ vggcl_model_class_name(m, c), c };
    if (sorted) qsort(sorted, (size_t)C, sizeof *sorted, by_name);
    for (int c = 0; c < C; c++) {
        const char *n = vggcl_model_class_name(m, c);
        if (!n) snprintf(buf[c], sizeof buf[c], "class %d", c);
        /* (a file without names: class c is the c-th folder, shown by its name) */
        names[c] = n ? (char *)n : c < ds->n_classes ? ds->classes[c] : buf[c];
    }
    for (int f = 0; f < ds->n_classes; f++) {
        if (!named) {
            if (ds->n_classes > C)
                return !say ? CLI_FAIL
                            : cli_error(CLI_FAIL, "%s: %d class folders, but %s has %d class%s", data, ds->n_classes,
                                        weights, C, C == 1 ? "" : "es");
            folder_class[f] = f;
            continue;
        }
        const named_class *at = bsearch(ds->classes[f], sorted, (size_t)C, sizeof *sorted, name_is);
        while (at && at > sorted && !strcmp(at[-1].name, at->name)) at--; /* (the first of its name) */
        if (!at) { /* (and how many more: a run for each was needed to find them one by one) */
            int others = 0, second = -1;
            for (int g = f + 1; g < ds->n_classes; g++)
                if (!bsearch(ds->classes[g], sorted, (size_t)C, sizeof *sorted, name_is) && !others++) second = g;
            char more[160] = "";
            if (others)
                snprintf(more, sizeof more, " (nor %s %d other folder%s, such as '%.80s')", others == 1 ? "is" : "are",
                         others, others == 1 ? "" : "s", ds->classes[second]);
            char said[512];
            const char *hint = cli_missing_name_hint(ds->classes[f], (const char *const *)names, C,
                                                     "the model's class", said, sizeof said);
            rc = !say ? CLI_FAIL
                      : cli_error(CLI_FAIL, "%s: class folder '%s' is not one of the %d classes %s names%s%s", data,
                                  ds->classes[f], C, weights, hint, more);
            break;
        }
        if (at + 1 < sorted + C && !strcmp(at[1].name, at->name)) { /* (the other's predictions: counted wrong) */
            rc = !say ? CLI_FAIL
                      : cli_error(CLI_FAIL, "%s names two classes '%s' (%d and %d): class folder '%s' of %s cannot "
                                  "be matched to one", weights, ds->classes[f], at->c, at[1].c, ds->classes[f], data);
            break;
        }
        folder_class[f] = at->c;
    }
    free(sorted);
    char *has = rc == CLI_OK && say && ds->n_classes < C ? calloc((size_t)C, 1) : NULL;
    if (has) { /* (a model of other classes than the data's was scored unsaid; folders map to classes one to one) */
        int first = 0;
        for (int f = 0; f < ds->n_classes; f++) has[folder_class[f]] = 1;
        while (has[first]) first++;
        if (named)
            cli_error(CLI_FAIL, "eval: %s has no folder for %d of the %d classes of %s (such as '%.80s'; the folders "
                      "matched by name): their recall is 0, no image being of them", data, C - ds->n_classes, C,
                      weights, names[first]);
        else /* (which class has no folder cannot be told: it was named as the last, and the folders after the one
              * that is missing scored as the wrong classes, unsaid) */
            cli_error(CLI_FAIL, "eval: %s has %d class folders for the %d classes of %s, which names none: they are "
                      "taken as classes 0 to %d by sorted position, as ImageFolder numbers the folders of all %d; if a "
                      "class before the last is the one without a folder, the folders after it are scored as the "
                      "wrong classes (name the model's classes, export_torchvision.py --class-names, to match them by "
                      "name)", data, ds->n_classes, C, weights, ds->n_classes - 1, C);
        free(has);
    }
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    int batch, rc;
    cli_args a;
    vggcl_preprocess p;
    vggcl_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    if ((rc = cli_preprocess_args("eval", &a, &p)) != CLI_OK) return rc;
    const char *weights = cli_arg(&a, "weights"), *data = cli_arg(&a, "data"),
               *format = cli_arg_or(&a, "format", "text"), *batch_s = cli_arg_or(&a, "batch", "8"),
               *device = cli_arg(&a, "device"), *pool5 = cli_arg(&a, "pool5"), *conv = cli_arg(&a, "conv"),
               *head = cli_arg(&a, "head");
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "csv"))
        return cli_error(CLI_USAGE, "eval: --format must be text, json or csv, not '%s'", format);
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, head, VGGCL_CONV_AUTO, 0 };
    if (cli_int("eval", "--batch", batch_s, 1, 4096, &batch) || cli_model_opts("eval", pool5, conv, &opts))
        return CLI_USAGE;

    int threads;
    double progress_s;
    if (cli_decode_args("eval", &a, &threads, &progress_s)) return CLI_USAGE;
    if (cli_stdout_check("eval", (const cli_file[]){ { "--weights", weights } }, 1) != CLI_OK) return CLI_USAGE;

    cli_dataset ds = { 0 };
    vggcl_ctx *ctx = NULL;
    cli_devices devs = { 0 };
    vggcl_model *model = NULL;
    cli_ranks ranks = CLI_RANKS_INIT;
    tally t = { 0 };
    int *folder_class = NULL, *truth = NULL, failed = 0, n_ok = 0, stopped = 0; /* (stopped: in its images) */
    char **names = NULL, (*buf)[24] = NULL;
    /* under mpirun each rank evaluates the batches it is handed (or a contiguous run of the list) and the tallies
     * add up on rank 0. Past the start, every rank goes through cli_ranks_finish, whatever happened before:
     * messages that every rank has alike (a data set folder that is not there) are said once. */
    ranks.batch = batch;
    if ((rc = cli_ranks_begin(&ranks, "eval", NULL, NULL)) != CLI_OK) goto out;
    int local = cli_ranks_capture(&ranks, NULL, NULL);
    if (local == CLI_OK) local = cli_dataset_read("eval: --data", data, &ds, ranks.rank == 0);
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK) local = cli_ranks_same_list(&ranks, "eval", ds.files, ds.n);
    int lo = 0, hi = ds.n; /* (the ranks agree on local: listed alike, or refused alike) */
    if (local != CLI_OK || !cli_ranks_hand_out(&ranks, &ds.n, 1)) cli_share(ds.n, ranks.rank, ranks.size, &lo, &hi);
    if (local == CLI_OK)
        local = cli_open_models("eval", cli_ranks_device(&ranks, device), device, weights, &opts, &p, &devs);
    if (local == CLI_OK) cli_pool5_note(weights, &opts, devs.model[0]);
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK)
        local = cli_ranks_same_model(&ranks, "eval", weights, devs.model[0], &p, NULL, 0, &a, agreed, devs.ctx[0]);
    const int binary = local == CLI_OK && vggcl_model_classes(devs.model[0]) == 1 && ds.n_classes == 2,
              C = binary ? 2 : local == CLI_OK ? vggcl_model_classes(devs.model[0]) : 0;
    if (local == CLI_OK) {
        ctx = devs.ctx[0], model = devs.model[0];
        t.classes = C, t.k = C < 5 ? C : 5, t.binary = binary;
        t.weights = weights, t.model = model, t.p = &p;
        folder_class = malloc(sizeof *folder_class * (size_t)ds.n_classes);
        truth = malloc(sizeof *truth * (size_t)ds.n);
        names = malloc(sizeof *names * (size_t)C);
        buf = malloc(sizeof *buf * (size_t)C);
        t.confusion = calloc((size_t)C * C, sizeof *t.confusion);
        t.topk = calloc((size_t)C, sizeof *t.topk);
        if (!folder_class || !truth || !names || !buf || !t.confusion || !t.topk) /* (C x C: a head of many) */
            local = cli_error(CLI_FAIL, "out of host memory for %d images of %d classes (a %d x %d confusion matrix)",
                              ds.n, C, C, C);
    }
    if (local == CLI_OK) local = match_classes(&ds, model, weights, data, folder_class, names, buf, ranks.rank == 0);
    if (local == CLI_OK) {
        for (int i = 0; i < ds.n; i++) truth[i] = folder_class[ds.labels[i]];
        t.truth = truth + lo; /* (the callback's indices count from the share's first file) */
        int h, w;
        cli_lead_size(ctx, model, &p, ds.files, ranks.dynamic ? ds.n : lo, &h, &w); /* (handed out: the list's first) */
        const cli_batch_job job = { .ctx = ctx, .model = model, .p = &p, .batch = batch, .want_logits = 1,
                                    .progress_s = progress_s, .threads = threads, .n_devices = devs.n,
                                    .ctxs = devs.ctx, .models = devs.model, .ranks = &ranks, .h = h, .w = w,
                                    .finite = 1, .sized = model, .own_sizes = 1 };
        stopped = (local = cli_run_batches(&job, ds.files + lo, hi - lo, count, &t, &failed)) != CLI_OK;
    }
    rc = cli_ranks_finish(&ranks, NULL, local, stopped, &failed, &n_ok);
    if (rc == CLI_OK) rc = cli_ranks_sum(&ranks, t.confusion, (size_t)C * C);
    if (rc == CLI_OK) rc = cli_ranks_sum(&ranks, t.topk, (size_t)C);
    if (rc == CLI_OK) rc = cli_ranks_sum(&ranks, &t.n, 1);
    if (rc != CLI_OK || ranks.rank != 0) goto out;
    if (t.n == 0) {
        rc = ds.n == 1 ? cli_error(CLI_FAIL, "%s: its one image could not be scored (skipped, named above)", data)
                       : cli_error(CLI_FAIL, "%s: none of the %d images could be scored (each skipped, named above)",
                                   data, ds.n);
        goto out;
    }
    if ((rc = report(&t, names, format, failed)) != CLI_OK) goto out;
    char said[64];
    rc = failed ? cli_error(CLI_FAIL, "%s; evaluated the other %ld", cli_skipped_text(failed, ds.n, said, sizeof said),
                            t.n)
                : CLI_OK;
out:
    rc = cli_ranks_agree(&ranks, rc); /* rank 0 reported: every rank exits with its status */
    cli_ranks_end(&ranks);
    free(folder_class), free(truth), free(names), free(buf), free(t.confusion), free(t.topk);
    cli_close_models(&devs);
    cli_dataset_free(&ds);
    return rc;
}
