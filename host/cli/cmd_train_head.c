/* vggcl train-head: GAP features of an ImageFolder data set computed once on
 * the device, a linear head trained on them on the host, written with the
 * trunk as a complete model. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "TRUNK.safetensors", "the convolution trunk (a head in it is ignored and replaced)", 1 },
    { "data", "DIR", "one sub-folder of images per class (torchvision's ImageFolder layout)", 1 },
    { "out", "MODEL.safetensors", "the complete model: trunk, head classifier.0, metadata", 1 },
    { "val", "DIR", "validation images, in the same class folders (none of them a training image)", 0 },
    { "val-split", "F", "else this fraction of each class's images read (default 0.2; 0: none), rounded: at\n"
                        "least one of a class of two or more, never its last", 0 },
    { "pool5", "keep|drop", "the setting the features and the head are made for (default: the\n"
                            "trunk's metadata, else keep)", 0 },
    { "flip", NULL, "also train on each training image mirrored (--val's are run as they are)", 0 },
    { "epochs", "N", "default 30", 0 },
    { "minibatch", "M", "SGD minibatch (default 32)", 0 },
    { "lr", "R", "learning rate (default 0.1)", 0 },
    { "momentum", "M", "default 0.9", 0 },
    { "l2", "L", "L2 penalty: L / 2 times the squared weights (of the standardized features;\n"
                 "torch.optim.SGD's weight_decay L) added to the loss (default 1e-4)", 0 },
    { "seed", "S", "shuffling and validation split (default 0)", 0 },
    { "batch", "B", "images per device pass (default 8)", 0 },
    { "features-out", "PREFIX", "also writes PREFIX-train.npy, PREFIX-train-labels.npy, PREFIX-val.npy\n"
                                "and PREFIX-val-labels.npy: the features and labels trained on", 0 },
    { NULL, NULL, NULL, 0 },
};

/* The options every rank must be given alike (cli_ranks_same_model; docs/folders.md lists them: Across machines). */
static const char *const agreed[] = { "flip", "conv", "pool5", NULL };

static const cli_command command = {
    "train-head", NULL,
    "The classes sorted by name give the indices. Every image goes through the same\n"
    "preprocessing as `vggcl classify` (the trunk file's metadata, else torchvision's\n"
    "preset) and the trunk's convolutions on the device, once, giving its GAP\n"
    "features. Then a linear head (softmax cross-entropy, L2 on the weights) is\n"
    "trained on the host by minibatch SGD with momentum on standardized features, as\n"
    "torch.optim.SGD does it, deterministic for --seed. Each epoch's loss and\n"
    "accuracy are printed as it ends, '*' marking the best so far; the epoch with the\n"
    "best validation accuracy is kept, of equal ones the lower validation loss\n"
    "(without validation, the lowest training objective: the loss plus --l2 / 2 times\n"
    "the squared weights, what SGD minimizes). The model written carries the pool5\n"
    "setting, the class names and the preprocessing in its metadata, so `vggcl run`,\n"
    "`classify`, `eval` and `cam` take it as it is. An unreadable image (or, with\n"
    "--no-crop, one that preprocesses to another size than the first) is named and\n"
    "skipped; the head is still trained and written, and the exit status is 1. With\n"
    "--no-crop and --batch 1 each image runs at its own size. An image whose features\n"
    "are not finite (a trunk that overflows float32 on it) stops the run, naming it:\n"
    "no head is trained on such features. An empty data set folder, or one of its\n"
    "class folders, is an error, exit 1 (its folders are data).\n",
    options, { cli_device_options, cli_preprocess_options, cli_decode_options }, 1,
};

/* Features gathered per image; with flip, two rows per image (a --val image's second unused). */
typedef struct {
    int feats, copies;
    float *x;           /* (rows * copies, feats): on rank 0 every file's, in file order; on the other ranks
                         * those of the images they computed, in the order computed, for the gathering */
    char *ok;           /* rank 0: per file, its features were computed */
    int *index;         /* the other ranks: each row's file in the list (n of cap) */
    int n, cap;
    char **files;       /* the share's, for messages */
    int lo;             /* the share's first file in the list (handed-out batches: 0, the whole list) */
    int first;          /* the run's first file in the share (collect's index counts from it) */
} gather;

/* The next row of a rank other than 0, for file i (NULL: out of host memory, said). */
static float *next_row(gather *g, int i)
{
    const size_t floats = (size_t)g->copies * g->feats;
    if (g->n == g->cap) {
        const int cap = g->cap ? 2 * g->cap : 256;
        float *x = realloc(g->x, sizeof *x * floats * (size_t)cap);
        if (x) g->x = x;
        int *index = x ? realloc(g->index, sizeof *index * (size_t)cap) : NULL;
        if (!index) {
            cli_error(CLI_FAIL, "out of host memory for the features of %d images", cap);
            return NULL;
        }
        g->index = index, g->cap = cap;
    }
    g->index[g->n] = i;
    return g->x + floats * (size_t)g->n++;
}

static int collect(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                   const float *features, const float *flipped)
{
    gather *g = user;
    (void)x, (void)h, (void)w, (void)logits;
    for (int j = 0; j < nb; j++) {
        const int i = g->first + index[j]; /* (the share counts from its first file, which is rank 0's file 0) */
        float *row = g->ok ? g->x + (size_t)i * g->copies * g->feats : next_row(g, g->lo + i);
        if (!row) return CLI_FAIL;
        memcpy(row, features + (size_t)j * g->feats, sizeof *row * (size_t)g->feats);
        if (flipped) memcpy(row + g->feats, flipped + (size_t)j * g->feats, sizeof *row * (size_t)g->feats);
        else if (g->copies > 1) memset(row + g->feats, 0, sizeof *row * (size_t)g->feats); /* (--val's: unused) */
        if (g->ok) g->ok[i] = 1;
        for (int k = 0; k < g->copies * g->feats; k++) /* (one image's overflow, named, not after every image) */
            if (!isfinite(row[k]))
                return cli_error(CLI_FAIL, "%s: GAP feature %d%s is %g; a head is trained on finite features (the "
                                 "trunk's weights or the preprocessing overflow float32 on this image)", g->files[i],
                                 k % g->feats,
                                 k >= g->feats ? " of the mirrored image" : "", row[k]);
    }
    return CLI_OK;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Marks round(k * frac) of each class's k images read (ok) as validation (at
 * least one, at most k - 1, for classes of two or more), chosen by the seed.
 * CLI_OK, or CLI_FAIL said (out of memory). */
static int split_val(const cli_dataset *ds, const char *ok, double frac, unsigned long long seed, char *is_val)
{
    uint64_t rng = seed ^ 0x5EEDF00Dull;
    /* the images read, by class in list order, in one pass (not a pass over the list per class: classes x
     * images); all[first[c] .. first[c + 1]) are class c's */
    int *all = malloc(sizeof *all * (size_t)(ds->n ? ds->n : 1)),
        *first = calloc((size_t)ds->n_classes + 1, sizeof *first), *next = malloc(sizeof *next * (size_t)ds->n_classes);
    if (!all || !first || !next) {
        free(all), free(first), free(next);
        return cli_error(CLI_FAIL, "out of host memory"); /* (not "left no image for validation") */
    }
    for (int i = 0; i < ds->n; i++) first[ds->labels[i] + 1] += ok[i] != 0;
    for (int c = 0; c < ds->n_classes; c++) first[c + 1] += first[c], next[c] = first[c];
    for (int i = 0; i < ds->n; i++)
        if (ok[i]) all[next[ds->labels[i]]++] = i;
    for (int c = 0; c < ds->n_classes; c++) {
        int *idx = all + first[c], k = first[c + 1] - first[c];
        int nv = frac > 0 && k >= 2 ? (int)(k * frac + 0.5) : 0;
        if (frac > 0 && k >= 2 && nv < 1) nv = 1;
        if (nv > k - 1) nv = k - 1;
        for (int i = 0; i < nv; i++) { /* partial Fisher-Yates: the first nv after shuffling */
            const int j = i + (int)(splitmix(&rng) % (uint64_t)(k - i)), t = idx[i];
            idx[i] = idx[j], idx[j] = t;
            is_val[idx[i]] = 1;
        }
    }
    free(all), free(first), free(next);
    return CLI_OK;
}

/* Appends data set b's files to a's (same classes, checked by the caller). */
static int append_files(cli_dataset *a, cli_dataset *b)
{
    char **files = realloc(a->files, sizeof *files * (size_t)(a->n + b->n));
    if (files) a->files = files;
    int *labels = files ? realloc(a->labels, sizeof *labels * (size_t)(a->n + b->n)) : NULL;
    if (labels) a->labels = labels;
    if (!files || !labels) return 0;
    for (int i = 0; i < b->n; i++) a->files[a->n + i] = b->files[i], a->labels[a->n + i] = b->labels[i];
    a->n += b->n;
    b->n = 0; /* the strings now belong to a */
    return 1;
}

/* --features-out PREFIX's files, in the order stage_features writes them. */
enum { FEATURE_FILES = 4 };
static int features_path(const char *prefix, int k, char *path, size_t len)
{
    static const char *const suffix[FEATURE_FILES] = { "train", "train-labels", "val", "val-labels" };
    const int n = snprintf(path, len, "%s-%s.npy", prefix, suffix[k]);
    return n >= 0 && (size_t)n < len; /* (a name cut short was written: PREFIX-train-label) */
}

/* An array of the features (rows x cols, or rows where cols is 0) written to a temporary file beside path,
 * into *w (commit_features names it). */
static int stage_npy(vggcl_ctx *ctx, const char *path, long long rows, long long cols, const float *data,
                     vggcl_npy_writer **w)
{
    if (vggcl_npy_writer_open(ctx, path, cols ? 1 : 0, &cols, w) != VGGCL_OK ||
        vggcl_npy_writer_append(ctx, *w, data, rows) != VGGCL_OK)
        return cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    return CLI_OK;
}

typedef struct {
    int n, nv, d, copies; /* (copies: 2 with --flip, each training image's rows) */
    float *x, *xv;
    int *y, *yv;
} split;

/* Training and validation rows from the gathered features. */
static int make_split(const gather *g, const cli_dataset *ds, const char *is_val, split *s)
{
    memset(s, 0, sizeof *s);
    s->d = g->feats, s->copies = g->copies;
    for (int i = 0; i < ds->n; i++)
        if (g->ok[i]) is_val[i] ? s->nv++ : (s->n += g->copies);
    s->x = malloc(sizeof *s->x * ((size_t)s->n * s->d + 1));
    s->xv = malloc(sizeof *s->xv * ((size_t)s->nv * s->d + 1));
    s->y = malloc(sizeof *s->y * ((size_t)s->n + 1));
    s->yv = malloc(sizeof *s->yv * ((size_t)s->nv + 1));
    if (!s->x || !s->xv || !s->y || !s->yv) return cli_error(CLI_FAIL, "out of host memory");
    int t = 0, v = 0;
    for (int i = 0; i < ds->n; i++) {
        if (!g->ok[i]) continue;
        const float *row = g->x + (size_t)i * g->copies * g->feats;
        if (is_val[i]) { /* validation: the image as it is */
            memcpy(s->xv + (size_t)v * s->d, row, sizeof *row * (size_t)s->d);
            s->yv[v++] = ds->labels[i];
            continue;
        }
        for (int c = 0; c < g->copies; c++) {
            memcpy(s->x + (size_t)t * s->d, row + (size_t)c * s->d, sizeof *row * (size_t)s->d);
            s->y[t++] = ds->labels[i];
        }
    }
    return CLI_OK;
}

/* The --features-out arrays written to temporary files, named only once the model is written (a run that
 * fails, or is killed, before leaves the files of an earlier run as they were): w[k] open, or
 * NULL where the writing failed, which is said. */
static int stage_features(vggcl_ctx *ctx, const char *const *paths, const split *s, vggcl_npy_writer **w)
{
    float *ly = malloc(sizeof *ly * ((size_t)s->n + 1)), *lv = malloc(sizeof *lv * ((size_t)s->nv + 1));
    int rc = CLI_FAIL;
    if (!ly || !lv) {
        rc = cli_error(CLI_FAIL, "out of host memory");
    } else {
        for (int i = 0; i < s->n; i++) ly[i] = (float)s->y[i];
        for (int i = 0; i < s->nv; i++) lv[i] = (float)s->yv[i];
        rc = stage_npy(ctx, paths[0], s->n, s->d, s->x, &w[0]);
        if (rc == CLI_OK) rc = stage_npy(ctx, paths[1], s->n, 0, ly, &w[1]);
        if (rc == CLI_OK) rc = stage_npy(ctx, paths[2], s->nv, s->d, s->xv, &w[2]);
        if (rc == CLI_OK) rc = stage_npy(ctx, paths[3], s->nv, 0, lv, &w[3]);
    }
    free(ly), free(lv);
    return rc;
}

/* Names the staged features (commit) or drops them, all or none (cli_name_all): CLI_OK, or CLI_FAIL said.
 * (paths NULL: none were asked for.) */
static int commit_features(vggcl_ctx *ctx, const char *const *paths, vggcl_npy_writer **w, int commit)
{
    return paths ? cli_name_all(ctx, w, paths, FEATURE_FILES, commit) : CLI_OK;
}

/* A loss or an accuracy for the report: 4 decimals, in exponent form from a million on (a diverging head's
 * loss of 1e130 printed 130 digits). */
static const char *num4(double v, char buf[32])
{
    snprintf(buf, 32, fabs(v) < 1e6 || !isfinite(v) ? "%.4f" : "%.4e", v);
    return buf;
}

/* Where each epoch's line goes as it ends (vggcl_train_options.on_epoch). */
typedef struct {
    FILE *report;
    int epochs, validated;
    int lost; /* errno of the first line that could not be written (the flush after it finds the error, not why) */
} epoch_lines;

/* An epoch's line: its losses and accuracies, "*" where it is the best so far (the last such is kept). */
static int print_epoch(void *user, const vggcl_train_epoch *e, int best)
{
    epoch_lines *to = user;
    char l1[32], l2[32];
    fprintf(to->report, "epoch %3d/%d  train loss %s top-1 %.4f", e->epoch, to->epochs, num4(e->train_loss, l1),
            e->train_acc);
    if (to->validated) fprintf(to->report, "  val loss %s top-1 %.4f", num4(e->val_loss, l2), e->val_acc);
    fprintf(to->report, "%s\n", best ? "  *" : "");
    errno = 0;
    if (fflush(to->report) != 0 && !to->lost) /* (as it goes: a long training printed every epoch at its end) */
        to->lost = errno;
    return 0; /* (every epoch run) */
}

/* Trains, prints each epoch, names the staged features (features: their paths, or NULL) and writes the model. */
static int train_and_write(vggcl_ctx *ctx, const split *s, const cli_dataset *ds, const vggcl_train_options *o,
                           const char *weights, const char *out, int pool5, const vggcl_preprocess *p,
                           const char *const *features, vggcl_npy_writer **staged)
{
    const int C = ds->n_classes;
    const char *paths[1 + FEATURE_FILES] = { out };
    for (int k = 0; features && k < FEATURE_FILES; k++) paths[1 + k] = features[k];
    /* (the model or a features' file to standard output, the shell's file: the log goes to stderr; into a
     * features' file it was lost as the array replaced the file) */
    FILE *report = cli_report(paths, 1 + FEATURE_FILES);
    float *w = malloc(sizeof *w * (size_t)C * s->d), *b = malloc(sizeof *b * (size_t)C);
    vggcl_train_epoch *log = malloc(sizeof *log * (size_t)o->epochs);
    char *classes = cli_json_list(ds->classes, C);
    int best = 0, rc = CLI_FAIL;
    if (!w || !b || !log || !classes) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto done;
    }
    epoch_lines lines = { report, o->epochs, s->nv > 0, 0 };
    vggcl_train_options told = *o;
    told.on_epoch = print_epoch, told.user = &lines;
    if (vggcl_train_head(ctx, s->x, s->y, s->n, s->d, C, s->xv, s->yv, s->nv, &told, w, b, log, &best) != VGGCL_OK) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        goto done;
    }
    int diverged = 0; /* the first epoch whose training loss is not finite */
    for (int e = 0; e < o->epochs && !diverged; e++)
        if (!isfinite(log[e].train_loss)) diverged = log[e].epoch;
    const char *or_l2 = o->lr * o->l2 > 2 * (1 + o->momentum) ? " (or a smaller --l2)" : "";
    const double first = log[0].train_loss, last = log[o->epochs - 1].train_loss;
    if (diverged) /* (an epoch before it is kept: a run of a learning rate too large was written unsaid, exit 0) */
        cli_error(CLI_FAIL, "train-head: the head diverged at epoch %d (its loss not finite; the epochs after it "
                  "too): epoch %d, before it, is kept; an --lr below %g%s trains a better one", diverged, best,
                  o->lr, or_l2);
    else if (o->epochs > 1 && last > 1.1 * first) { /* (a loss from 9e6 to 1e11 was written unsaid, exit 0; a
                                                     * tenth more: past a noisy last epoch's) */
        char l1[32], l2[32];
        cli_notice("train-head: the training loss grew, from %s in epoch 1 to %s in epoch %d: an --lr below %g%s "
                   "may train a better head", num4(first, l1), num4(last, l2), o->epochs, o->lr, or_l2);
    }
    char resize[24], crop[16], mean[64], std[64], trained[320], kept[64] = "";
    cli_resize_text(p, ',', resize, sizeof resize);
    snprintf(crop, sizeof crop, "%d", p->crop);
    cli_rgb_text(p->mean, mean, sizeof mean), cli_rgb_text(p->std, std, sizeof std); /* (0.485: 0.485000014 read
                                                                                         * back as the same float) */
    if (s->nv) snprintf(kept, sizeof kept, " (val top-1 %.4f)", log[best - 1].val_acc);
    snprintf(trained, sizeof trained,
             "vggcl train-head: %d training samples%s, %d validation image%s, epoch %d of %d kept%s, "
             "lr %g, momentum %g, l2 %g, minibatch %d, seed %llu", s->n, s->copies > 1 ? " (--flip: each image twice)"
             : "", s->nv, s->nv == 1 ? "" : "s", best, o->epochs, kept, o->lr, o->momentum, o->l2, o->batch, o->seed);
    if (report == stdout && (lines.lost ? cli_stdout_lost(lines.lost) : cli_flush_stdout()) != CLI_OK)
        goto done; /* (a log lost: no model either) */
    /* the features made durable, the model written, then the features named: a failure before the last step
     * (a full disk) leaves an earlier run's files and model as they were (the features were named first, and
     * an earlier run's were gone when the model could not be written) */
    /* (the features readied, the model and the features named together: a kill between left their temporary
     * names, or one of them; the model alone: its temporary name. Not a model written through, to a pipe: held,
     * a kill did nothing while a stalled reader kept the write waiting) */
    const int hold = features || cli_output_named(out);
    if (hold) cli_hold_signals();
    if (features && cli_ready_all(ctx, staged, FEATURE_FILES) != CLI_OK) goto released; /* (said) */
    const char *meta[] = { "vggcl.pool5", pool5 ? "keep" : "drop", "vggcl.classes", classes, "vggcl.resize", resize,
                           "vggcl.crop", crop, "vggcl.mean", mean, "vggcl.std", std, "vggcl.trained", trained,
                           "vggcl.draft", p->draft == 1 ? "1" : "0" }; /* (always: a drafted trunk's "1" was kept) */
    if (vggcl_save_with_head(ctx, weights, out, C, s->d, w, b, meta, 8) != VGGCL_OK) {
        rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        goto released;
    }
    if (features && commit_features(ctx, features, staged, 1) != CLI_OK) {
        /* (said; the model is kept: it replaced the one before, which may have been the trunk itself) */
        cli_error(CLI_FAIL, "%s was written; the features were not", out);
        goto released;
    }
    char *shown = cli_text(out); /* (a newline in the name forged a line) */
    fprintf(report, "kept epoch %d%s; wrote %s (%d classes, pool5 %s)\n", best, kept, shown ? shown : out, C,
            pool5 ? "kept" : "dropped");
    free(shown);
    rc = CLI_OK;
released:
    if (rc != CLI_OK && features) commit_features(ctx, features, staged, 0); /* (their temporary names gone first) */
    if (hold) cli_release_signals();
done:
    free(w), free(b), free(log), free(classes);
    return rc;
}

/* The outputs checked against each other, the images read and (the features' files: --out may be the trunk,
 * read first and replaced at the end) --weights: CLI_OK, or said. */
static int check_outputs(const char *weights, const cli_file *outs, int n_out, const cli_dataset *ds)
{
    const cli_file trunk = { "--weights", weights };
    int rc = cli_outputs_check("train-head", outs, n_out, NULL, 0, ds->files, ds->n);
    return rc == CLI_OK ? cli_outputs_check("train-head", outs + 1, n_out - 1, &trunk, 1, NULL, 0) : rc;
}

typedef struct {
    dev_t dev;
    ino_t ino;
    int i; /* the training file's index */
} file_id;

static int cmp_id(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    return x->dev != y->dev ? (x->dev < y->dev ? -1 : 1) : x->ino != y->ino ? (x->ino < y->ino ? -1 : 1) : 0;
}

/* cmp_id, then the list's order: a file's entries in the order listed */
static int cmp_id_then_index(const void *a, const void *b)
{
    const int by_id = cmp_id(a, b);
    return by_id ? by_id : ((const file_id *)a)->i - ((const file_id *)b)->i;
}

/* Whether an image of --val (vs, when given) is one of the training images (the same folder, or a link to one):
 * its accuracy would be the training set's, and the epoch kept chosen on it. CLI_OK, or CLI_FAIL said. A file
 * of two training classes (a link, a class folder linked into another) is said, once: it is trained as both, as
 * torchvision's ImageFolder takes it. (A stat per file: asked on rank 0 alone.) */
static int files_apart(const char *data, const char *val_dir, const cli_dataset *ds, const cli_dataset *vs)
{
    file_id *ids = malloc(sizeof *ids * (size_t)(ds->n ? ds->n : 1));
    struct stat sb;
    int n = 0, rc = CLI_OK, twice = 0, a = -1, b = -1;
    if (!ids) return cli_error(CLI_FAIL, "out of host memory");
    for (int i = 0; i < ds->n; i++)
        if (stat(ds->files[i], &sb) == 0) ids[n++] = (file_id){ sb.st_dev, sb.st_ino, i };
    qsort(ids, (size_t)n, sizeof *ids, cmp_id_then_index);
    for (int k = 0, end; k < n; k = end) { /* (a file's entries, first listed first: said, the first of another
                                            * class; the file whose such entry comes first in the list) */
        for (end = k + 1; end < n && !cmp_id(&ids[k], &ids[end]); end++) {}
        int other = -1;
        for (int j = k + 1; j < end && other < 0; j++)
            if (ds->labels[ids[j].i] != ds->labels[ids[k].i]) other = ids[j].i;
        if (other < 0) continue;
        if (b < 0 || other < b) a = ids[k].i, b = other;
        twice++;
    }
    if (b >= 0)
        cli_notice("train-head: --data %s: %s (class '%s') and %s (class '%s') are the same file: it is trained as "
                   "both classes%s", data, ds->files[a], ds->classes[ds->labels[a]], ds->files[b],
                   ds->classes[ds->labels[b]], twice > 1 ? " (and other files of two classes)" : "");
    for (int i = 0; vs && i < vs->n && rc == CLI_OK; i++) {
        file_id v = { 0, 0, 0 };
        if (stat(vs->files[i], &sb) == 0) v = (file_id){ sb.st_dev, sb.st_ino, 0 };
        const file_id *same = v.ino ? bsearch(&v, ids, (size_t)n, sizeof *ids, cmp_id) : NULL;
        if (same)
            rc = cli_error(CLI_FAIL, "train-head: --val %s holds %s, which is also the training image %s of --data "
                           "%s: validation images must be kept apart from the training ones", val_dir, vs->files[i],
                           ds->files[same->i], data);
    }
    free(ids);
    return rc;
}

/* The training folder and --val's as one list in ds, is_val marking --val's images (without --val, none
 * yet: split_val marks them once the images are read): CLI_OK, or CLI_FAIL said. (vs: --val's, merged into
 * ds.) */
static int read_data(const char *data, const char *val_dir, cli_dataset *ds, cli_dataset *vs, char **is_val,
                     int first_rank)
{
    if (cli_dataset_read("train-head: --data", data, ds, first_rank) != CLI_OK) return CLI_FAIL;
    if (ds->n_classes < 2)
        return cli_error(CLI_FAIL, "%s: one class folder ('%s'); a head needs at least two classes", data,
                         ds->classes[0]);
    for (int c = 0; c < ds->n_classes; c++) /* (the model keeps them as text, which must be UTF-8) */
        if (!cli_utf8(ds->classes[c]))
            return cli_error(CLI_FAIL, "%s: class folder '%s' is not named in UTF-8, which the model's class names "
                                       "must be: rename it", data, ds->classes[c]);
    const int n_train_files = ds->n;
    if (val_dir && cli_dataset_read("train-head: --val", val_dir, vs, first_rank) != CLI_OK) return CLI_FAIL;
    const int apart = first_rank ? files_apart(data, val_dir, ds, val_dir ? vs : NULL) : CLI_OK;
    if (apart != CLI_OK) return apart;
    if (val_dir) {
        int *to = malloc(sizeof *to * (size_t)vs->n_classes); /* a --val class's training class */
        if (!to) return cli_error(CLI_FAIL, "out of host memory");
        for (int c = 0; c < vs->n_classes; c++) /* (a search: a scan of the classes per class was classes^2) */
            if ((to[c] = cli_dataset_class(ds, vs->classes[c])) < 0) {
                char said[512];
                const char *hint = cli_missing_name_hint(vs->classes[c], (const char *const *)ds->classes,
                                                         ds->n_classes, "the training class", said, sizeof said);
                free(to);
                return cli_error(CLI_FAIL, "%s: class folder '%s' is not one of the training classes in %s%s", val_dir,
                                 vs->classes[c], data, hint);
            }
        for (int i = 0; i < vs->n; i++) vs->labels[i] = to[vs->labels[i]];
        free(to);
        if (!append_files(ds, vs)) return cli_error(CLI_FAIL, "out of host memory");
    }
    if (!(*is_val = calloc((size_t)ds->n, 1))) return cli_error(CLI_FAIL, "out of host memory");
    if (val_dir) memset(*is_val + n_train_files, 1, (size_t)(ds->n - n_train_files));
    return CLI_OK;
}

int cmd_train_head(int argc, char **argv)
{
    int rc, batch;
    vggcl_npy_writer *staged[FEATURE_FILES] = { NULL }; /* (--features-out's, named once trained) */
    cli_args a;
    vggcl_preprocess p;
    vggcl_train_options o;
    vggcl_train_defaults(&o);
    vggcl_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    if ((rc = cli_preprocess_args("train-head", &a, &p)) != CLI_OK) return rc;
    const char *weights = cli_arg(&a, "weights"), *data = cli_arg(&a, "data"), *val_dir = cli_arg(&a, "val"),
               *val_split_s = cli_arg(&a, "val-split"), *pool5 = cli_arg(&a, "pool5"),
               *epochs_s = cli_arg_or(&a, "epochs", "30"), *minibatch_s = cli_arg_or(&a, "minibatch", "32"),
               *lr_s = cli_arg_or(&a, "lr", "0.1"), *momentum_s = cli_arg_or(&a, "momentum", "0.9"),
               *l2_s = cli_arg_or(&a, "l2", "1e-4"), *seed_s = cli_arg_or(&a, "seed", "0"),
               *batch_s = cli_arg_or(&a, "batch", "8"), *device = cli_arg(&a, "device"), *conv = cli_arg(&a, "conv"),
               *out = cli_arg(&a, "out"), *features_out = cli_arg(&a, "features-out");
    const int flip = cli_arg(&a, "flip") != NULL;
    double val_split = 0.2;
    if (val_dir && val_split_s)
        return cli_error(CLI_USAGE, "train-head: give --val DIR or --val-split F, not both");
    if (val_split_s && (!cli_number(val_split_s, &val_split) || !(val_split >= 0 && val_split < 1)))
        return cli_error(CLI_USAGE, "train-head: --val-split must be a fraction from 0 to below 1, not '%s'",
                         val_split_s);
    if (!cli_number(lr_s, &o.lr) || !(o.lr > 0 && o.lr < 1e6))
        return cli_error(CLI_USAGE, "train-head: --lr must be a number above 0 and below 1e6, not '%s'", lr_s);
    if (!cli_number(momentum_s, &o.momentum) || !(o.momentum >= 0 && o.momentum < 1))
        return cli_error(CLI_USAGE, "train-head: --momentum must be a number from 0 to below 1, not '%s'", momentum_s);
    if (!cli_number(l2_s, &o.l2) || !(o.l2 >= 0 && o.l2 < 1e6))
        return cli_error(CLI_USAGE, "train-head: --l2 must be a number from 0 to below 1e6, not '%s'", l2_s);
    char *seed_end;
    errno = 0;
    o.seed = strtoull(seed_s, &seed_end, 10);
    if (!isdigit((unsigned char)seed_s[0]) || *seed_end || errno == ERANGE)
        return cli_error(CLI_USAGE, "train-head: --seed must be an integer from 0 to %llu, not '%s'", ULLONG_MAX,
                         seed_s);
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, NULL, VGGCL_CONV_AUTO, 1 };
    if (cli_int("train-head", "--epochs", epochs_s, 1, 100000, &o.epochs) ||
        cli_int("train-head", "--minibatch", minibatch_s, 1, 1 << 24, &o.batch) ||
        cli_int("train-head", "--batch", batch_s, 1, 4096, &batch) || cli_model_opts("train-head", pool5, conv, &opts))
        return CLI_USAGE;
    if (features_out && (!strcmp(features_out, "-") || features_out[strlen(features_out) - 1] == '/'))
        return cli_error(CLI_USAGE, "train-head: --features-out takes the start of four file names (PREFIX-train.npy, "
                         "...), not '%s'", features_out); /* (it wrote -train.npy, --train.npy or DIR/-train.npy) */
    /* the model and the features' files, checked where they are written once the image list is read */
    char feats[FEATURE_FILES][PATH_MAX];
    const char *feat_paths[FEATURE_FILES]; /* (made once: the checks, the staging, the report and the naming) */
    cli_file outs[1 + FEATURE_FILES] = { { "--out", out } };
    for (int k = 0; features_out && k < FEATURE_FILES; k++) {
        if (!features_path(features_out, k, feats[k], sizeof feats[k]))
            return cli_error(CLI_USAGE, "train-head: --features-out %s: its files' names would be longer than %d bytes",
                             features_out, PATH_MAX - 1);
        outs[1 + k] = (cli_file){ "--features-out", feat_paths[k] = feats[k] };
    }
    const char *const *features = features_out ? feat_paths : NULL;

    cli_dataset ds = { 0 }, vs = { 0 };
    vggcl_ctx *ctx = NULL;
    cli_devices devs = { 0 };
    vggcl_model *model = NULL;
    gather g = { 0, flip ? 2 : 1, NULL, NULL, NULL, 0, 0, NULL, 0, 0 };
    cli_ranks ranks = CLI_RANKS_INIT;
    split s = { 0 };
    char *is_val = NULL;
    int failed = 0, stopped = 0; /* (stopped: in its images) */
    int threads;
    double progress_s;
    if (cli_decode_args("train-head", &a, &threads, &progress_s)) {
        rc = CLI_USAGE;
        goto out;
    }
    /* under mpirun each rank computes the features of the batches it is handed (or of a contiguous run of the
     * list); rank 0 gathers them and trains. Past the start, every rank goes through cli_ranks_finish and the
     * gather, whatever happened before: messages that every rank has alike (a data set folder that is not
     * there) are said once. */
    ranks.batch = batch;
    if ((rc = cli_ranks_begin(&ranks, "train-head", NULL, NULL)) != CLI_OK) goto out;
    int local = cli_ranks_capture(&ranks, NULL, NULL), n_ok = 0;
    if (local == CLI_OK) local = read_data(data, val_dir, &ds, &vs, &is_val, ranks.rank == 0);
    if (local == CLI_OK && ranks.rank == 0) local = check_outputs(weights, outs, 1 + FEATURE_FILES, &ds);
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK)
        local = cli_ranks_same_list(&ranks, "train-head", ds.files, ds.n);
    /* the list in two runs: the training images, mirrored too with --flip, then --val's (the list's end) as they
     * are (mirrored, their passes were doubled, the rows unused, and one that overflowed stopped the run) */
    int v = ds.n;
    while (flip && is_val && v > 0 && is_val[v - 1]) v--;
    int lo = 0, hi = ds.n; /* (the ranks agree on local: listed alike, or refused alike) */
    const int lists[2] = { v, ds.n - v };
    if (local != CLI_OK || !cli_ranks_hand_out(&ranks, lists, 2)) cli_share(ds.n, ranks.rank, ranks.size, &lo, &hi);
    if (local == CLI_OK)
        local = cli_open_models("train-head", cli_ranks_device(&ranks, device), device, weights, &opts, &p, &devs);
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK)
        local = cli_ranks_same_model(&ranks, "train-head", weights, devs.model[0], &p, NULL, 0, &a, agreed,
                                     devs.ctx[0]);
    if (local == CLI_OK) {
        ctx = devs.ctx[0], model = devs.model[0];
        g.feats = vggcl_model_features(model);
        if (ranks.rank == 0) { /* (rank 0 gathers every rank's; the others keep theirs as they come) */
            g.x = calloc((size_t)ds.n * g.copies * g.feats + 1, sizeof *g.x);
            g.ok = calloc((size_t)ds.n + 1, 1);
            if (!g.x || !g.ok) local = cli_error(CLI_FAIL, "out of host memory for the features of %d images", ds.n);
        }
    }
    local = cli_ranks_all_ok(&ranks, local); /* (rank 0 alone out of memory: the others would run the list) */
    if (local == CLI_OK && ranks.rank == 0) {
        int nv = 0;
        for (int i = 0; is_val && i < ds.n; i++) nv += is_val[i] != 0;
        char of_val[48] = "";
        if (nv) snprintf(of_val, sizeof of_val, ", %d of them --val's", nv);
        /* (a status line, not a message: under mpirun it differs from one process's, which messages may not) */
        fprintf(stderr, "computing the GAP features of %d images (%d classes%s) on %s%s\n", ds.n, ds.n_classes,
                of_val, vggcl_device_name(ctx), ranks.size > 1 ? " and the other ranks' devices" : "");
    }
    const int from[2] = { lo, v > lo ? (v < hi ? v : hi) : lo }, to[2] = { from[1], hi };
    g.files = ds.files + lo, g.lo = lo;
    for (int part = 0; part < 2 && local == CLI_OK && (part == 0 || to[1] > from[1]); part++) {
        if (part) cli_ranks_next_list(&ranks); /* (handed out: the second run's batches, numbered on) */
        int h, w, skipped = 0;
        /* (the size one process would set; handed out: the list's first readable image's, the second run's
         * too, as one process's is of the training images, else its own first) */
        cli_lead_size(ctx, model, &p, ds.files, ranks.dynamic ? ds.n : from[part], &h, &w);
        const cli_batch_job job = { .ctx = ctx, .model = model, .p = &p, .batch = batch, .flip = flip && part == 0,
                                    .want_features = 1, .progress_s = progress_s, .threads = threads,
                                    .n_devices = devs.n, .ctxs = devs.ctx, .models = devs.model, .ranks = &ranks,
                                    .h = h, .w = w, .sized = model, .own_sizes = 1 };
        g.first = from[part] - lo;
        local = cli_run_batches(&job, ds.files + from[part], to[part] - from[part], collect, &g, &skipped);
        failed += skipped, stopped = local != CLI_OK;
    }
    rc = cli_ranks_finish(&ranks, NULL, local, stopped, &failed, &n_ok);
    if (rc == CLI_OK)
        rc = cli_ranks_gather_rows(&ranks, g.x, g.ok, ds.n, (size_t)g.copies * g.feats, g.x, g.index, g.n);
    if (ranks.rank != 0) cli_close_models(&devs); /* (rank 0 trains alone: the others' devices given back meanwhile) */
    if (rc != CLI_OK || ranks.rank != 0) goto out;
    rc = CLI_FAIL;
    if (!val_dir && split_val(&ds, g.ok, val_split, o.seed, is_val) != CLI_OK) goto out;
    if (make_split(&g, &ds, is_val, &s) != CLI_OK) goto out;
    free(g.x), g.x = NULL; /* (the split holds them now: a million images' features are gigabytes) */
    int *trained = calloc((size_t)ds.n_classes, sizeof *trained), *listed = calloc((size_t)ds.n_classes, sizeof *listed);
    if (!trained || !listed) {
        free(trained), free(listed);
        cli_error(CLI_FAIL, "out of host memory");
        goto out;
    }
    for (int i = 0; i < s.n; i++) trained[s.y[i]]++; /* (one pass each, not one per class: classes x images) */
    for (int i = 0; i < ds.n; i++) listed[ds.labels[i]] += !is_val[i];
    for (int c = 0; c < ds.n_classes; c++) /* (a class without one: the head would never learn it, unsaid) */
        if (!trained[c]) {
            cli_error(CLI_FAIL, "%s: class folder '%s' has no usable image to train on (%d were skipped); the "
                      "head would never learn it: mend or remove them, or the folder", data, ds.classes[c], listed[c]);
            free(trained), free(listed);
            goto out;
        }
    if (s.nv) { /* (a class with no validation image read: a --val without its folder, or whose images were all
                 * skipped, or under --val-split a class of one image: the epoch was kept by the others, unsaid) */
        int missing = 0, first = -1, cause[2] = { 0, 0 }, such[2] = { -1, -1 }; /* (no folder; none readable) */
        memset(trained, 0, sizeof *trained * (size_t)ds.n_classes);
        memset(listed, 0, sizeof *listed * (size_t)ds.n_classes);
        for (int i = 0; i < s.nv; i++) trained[s.yv[i]]++;
        for (int i = 0; val_dir && i < ds.n; i++) listed[ds.labels[i]] += is_val[i] != 0;
        for (int c = 0; c < ds.n_classes; c++)
            if (!trained[c]) {
                if (!missing++) first = c;
                const int k = listed[c] != 0;
                if (!cause[k]++) such[k] = c;
            }
        if (missing && val_dir) { /* (each cause with how many: one class's alone left the other unsaid) */
            char why[2][256] = { "", "" };
            for (int k = 0; k < 2; k++)
                if (cause[k])
                    snprintf(why[k], sizeof why[k], "%s%d %s, such as '%.80s'", k && cause[0] ? "; " : "", cause[k],
                             k ? "whose images there could not be read" : "without a folder there",
                             ds.classes[such[k]]);
            cli_notice("train-head: --val %s has no readable image of %d of the %d training classes (%s%s): the "
                       "epoch kept, and its val top-1, are of the others' images alone", val_dir, missing,
                       ds.n_classes, why[0], why[1]);
        }
        else if (missing)
            cli_notice("train-head: --val-split %g%s gave no validation image to %d of the %d classes (such as '%s'; a "
                       "class of one image keeps it to train on): the epoch kept, and its val top-1, are of the "
                       "others' images alone", val_split, val_split_s ? "" : " (the default)", missing, ds.n_classes,
                       ds.classes[first]);
    }
    free(trained), free(listed);
    if (!s.nv && val_dir) /* (said: the report's "0 validation images" alone was easy to miss) */
        cli_error_here(CLI_OK, "train-head: no image of --val %s could be read: trained without validation", val_dir);
    else if (!s.nv && val_split > 0)
        cli_error_here(CLI_OK, "train-head: --val-split %g left no image for validation (each class keeps one to train "
                       "on): trained without validation", val_split);
    if (!features || stage_features(ctx, features, &s, staged) == CLI_OK)
        rc = train_and_write(ctx, &s, &ds, &o, weights, out, vggcl_model_pool5(model), &p, features, staged);
    commit_features(ctx, features, staged, 0); /* (those not named: dropped) */
    if (rc == CLI_OK && failed) { /* (--val's skipped images were left out of the validation, not the training) */
        int nv = 0;
        for (int i = 0; val_dir && i < ds.n; i++) nv += is_val[i] && !g.ok[i];
        /* (every --val image skipped: said above, trained without validation) */
        const char *val_part = !s.nv ? "" : nv == failed ? "; validated without them" : "; trained and validated "
                                                                                         "without them";
        char said[64];
        cli_skipped_text(failed, ds.n, said, sizeof said);
        rc = !nv ? cli_error(CLI_FAIL, "%s; trained without them", said)
           : nv == failed ? cli_error(CLI_FAIL, "%s, all of them --val's%s", said, val_part)
                          : cli_error(CLI_FAIL, "%s, %d of them --val's%s", said, nv,
                                      !s.nv ? "; trained without the others" : val_part);
    }
out:
    rc = cli_ranks_agree(&ranks, rc); /* rank 0 trained: every rank exits with its status */
    cli_ranks_end(&ranks);
    free(s.x), free(s.xv), free(s.y), free(s.yv);
    free(g.x), free(g.ok), free(g.index), free(is_val);
    cli_close_models(&devs);
    cli_dataset_free(&ds);
    cli_dataset_free(&vs);
    return rc;
}
