/* vggcl cam: class activation maps over the images, as PNG and .npy. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "font5x7.h"

static const cli_option options[] = {
    { "weights", "W.safetensors", "a model with a GAP head", 1 },
    { "class", "K", "the class whose map is drawn: its number, or its name where the model names\n"
                    "its classes (a number that is a class's name is that class; default: each\n"
                    "image's top class; with --compare-pool5, its top class with the pool5 setting\n"
                    "the file is for)", 0 },
    { "compare-pool5", NULL, "run the network with pool5 kept and dropped, the two maps side by side under\n"
                            "a header that names each", 0 },
    { "out-dir", "DIR", "the existing folder the maps and pictures go to (default .)", 0 },
    { "recursive", NULL, CLI_RECURSIVE_HELP, 0 },
    { "files-from", "FILE", CLI_FILES_FROM_HELP, 0 },
    /* (main.c's command table marks the commands that take --shard: their processes say their own mistakes) */
    { "shard", "I/N", "process I of N (0 <= I < N) takes the I-th of N equal runs of the images", 0 },
    { NULL, NULL, NULL, 0 },
};

/* The options every rank must be given alike (cli_ranks_same_model; docs/folders.md lists them: Across machines). */
static const char *const agreed[] = { "class", "compare-pool5", "conv", "head", "pool5", NULL };

static const cli_command command = {
    "cam", "IMAGE|DIR...",
    "For each image, the class activation map of its top class (or --class K): the\n"
    "head's weights for that class applied to the map that GAP averages (7x7 at 224\n"
    "with pool5 kept, 14x14 with --pool5 drop), from the same forward pass. Writes,\n"
    "in --out-dir, NAME.cam.npy (the raw map, float32), NAME.cam-up.npy (the map\n"
    "upsampled bilinearly to the crop and normalized to [0, 1]; a flat map to 0) and\n"
    "NAME.cam.png (it drawn over the crop). --compare-pool5 writes NAME.cam-keep.npy,\n"
    "NAME.cam-drop.npy (and their -up.npy) and NAME.compare.png (the two side by\n"
    "side, kept on the left, under a header that names each panel's setting and the\n"
    "class drawn): the picture to compare the two settings by. (Both maps come from\n"
    "the same weights, for one class: --class K, else the top class of the setting\n"
    "the file's metadata names, else pool5 kept; a head trained without pool5 is what\n"
    "the CAM paper uses.) Images are decoded ahead on --threads threads (the default\n"
    "as above, but 15 at most: a photo kept whole, --no-crop, may take hundreds of\n"
    "MB). Under mpirun the ranks share the images, each on its own device, and rank 0\n"
    "prints every rank's lines in order.\n",
    options, { cli_device_options, cli_net_options, cli_preprocess_options, cli_decode_options }, 0,
};

/* The image's file name without its extension: where it starts, and *len. */
static const char *stem(const char *image, int *len)
{
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    const char *dot = strrchr(base, '.');
    *len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    return base;
}

int cli_cam_file(char *buf, size_t len, const char *dir, const char *stem, int n, const char *suffix)
{
    return snprintf(buf, len, "%s%s%.*s.%s", dir ? dir : "", dir ? cli_sep(dir) : "", n, stem, suffix);
}

int cli_cam_stem(const char *file, const char *suffix)
{
    const size_t n = strlen(file), k = strlen(suffix);
    return n > k + 1 && n - k - 1 <= INT_MAX && file[n - k - 1] == '.' && !strcmp(file + n - k, suffix)
               ? (int)(n - k - 1) : -1;
}

/* DIR/STEM.SUFFIX; whether it fits in len bytes (checked for every image before any is drawn). */
static int out_path(char *buf, size_t len, const char *dir, const char *image, const char *suffix)
{
    int n;
    const char *base = stem(image, &n);
    return (size_t)cli_cam_file(buf, len, dir, base, n, suffix) < len;
}

typedef struct {
    const char *stem;
    int len, index;
} named;

static int by_stem(const void *pa, const void *pb)
{
    const named *a = pa, *b = pb;
    const int c = memcmp(a->stem, b->stem, (size_t)(a->len < b->len ? a->len : b->len));
    return c ? c : a->len != b->len ? (a->len < b->len ? -1 : 1) : a->index - b->index;
}

/* Whether two different images of the list would write maps of the same names (x.png and x.jpg, a/x.png
 * and b/x.png: the second would replace the first's), or an image's maps a path longer than PATH_MAX
 * (cut short, the files of an image were one) or a file name longer than the folder's file system takes
 * (the run stopped at that image, the ones after it undrawn): said, naming both, and CLI_USAGE; else
 * CLI_OK. */
static int same_names(char *const *files, int n, const char *dir, const char *const *suffix, char *msg, size_t len)
{
    named *v = malloc(sizeof *v * (size_t)(n ? n : 1));
    int rc = CLI_OK;
    char path[PATH_MAX];
    if (!v) return snprintf(msg, len, "out of host memory"), CLI_FAIL;
    for (int i = 0; i < n; i++) v[i].stem = stem(files[i], &v[i].len), v[i].index = i;
    const long name_max = pathconf(dir, _PC_NAME_MAX) > 0 ? pathconf(dir, _PC_NAME_MAX) : NAME_MAX;
    for (int i = 0; i < n && rc == CLI_OK; i++)
        for (int k = 0; suffix[k] && rc == CLI_OK; k++)
            if (!out_path(path, sizeof path, dir, files[i], suffix[k])) {
                const int whole = cli_cam_file(NULL, 0, dir, v[i].stem, v[i].len, suffix[k]);
                char *long_path = malloc((size_t)whole + 1);
                if (long_path) cli_cam_file(long_path, (size_t)whole + 1, dir, v[i].stem, v[i].len, suffix[k]);
                rc = CLI_USAGE, snprintf(msg, len, "cam: %s's maps would go to %s, a path longer than %d bytes; give a "
                                         "shorter --out-dir", files[i], long_path ? long_path : path, PATH_MAX - 1);
                free(long_path);
            } else if (cli_cam_file(path, sizeof path, NULL, v[i].stem, v[i].len, suffix[k]) > name_max)
                rc = CLI_USAGE, snprintf(msg, len, "cam: %s's maps would be named %s, longer than the %ld bytes a "
                                         "file name may have in %s; give the image a shorter name", files[i], path,
                                         name_max, dir);
    qsort(v, (size_t)n, sizeof *v, by_stem);
    for (int i = 1; i < n && rc == CLI_OK; i++)
        if (v[i].len == v[i - 1].len && !memcmp(v[i].stem, v[i - 1].stem, (size_t)v[i].len) &&
            strcmp(files[v[i].index], files[v[i - 1].index])) {
            out_path(path, sizeof path, dir, files[v[i].index], suffix[0]); /* (".cam*" left out compare.png) */
            snprintf(msg, len, "cam: %s and %s would both write %s and its other files; draw them in separate "
                     "--out-dir runs", files[v[i - 1].index], files[v[i].index], path);
            rc = CLI_USAGE;
        }
    free(v);
    return rc;
}

/* The files an image's maps and picture go to: each panel's raw and upsampled map, then the picture. */
const char *const cli_cam_plain_suffix[] = { "cam.npy", "cam-up.npy", "cam.png", NULL };
const char *const cli_cam_compare_suffix[] = { "cam-keep.npy", "cam-keep-up.npy", "cam-drop.npy", "cam-drop-up.npy",
                                               "compare.png", NULL };

typedef struct {
    dev_t dev;
    ino_t ino;
    int image;
    const char *suffix;
    int mine; /* this run's (else the other mode's: the picture cam draws with --compare-pool5 or without) */
} out_file;

static int by_file(const void *pa, const void *pb)
{
    const out_file *a = pa, *b = pb;
    return a->dev != b->dev ? (a->dev < b->dev ? -1 : 1) : a->ino != b->ino ? (a->ino < b->ino ? -1 : 1) : 0;
}

/* Whether an image of the list, or a file the command reads (ins: the weights, the list), is a file an image's
 * maps would replace (--out-dir the images' folder, drawn a second time: x.cam.png is read, then replaced by
 * x.png's picture; weights named x.cam.npy were replaced by a map), or an image of the list is what the
 * other mode (other: its suffixes) drew of another (x.cam.png, drawn again with --compare-pool5 as a photo of
 * its own): said, naming both, and CLI_USAGE; else CLI_OK. Only outputs already there are compared (a first run
 * costs a stat each). */
static int reads_outputs(char *const *files, int n, const cli_file *ins, int n_in, const char *dir,
                         const char *const *suffix, const char *const *other, char *msg, size_t len)
{
    int per = 0, m = 0, rc = CLI_OK;
    while (suffix[per]) per++;
    int per_other = 0;
    while (other[per_other]) per_other++;
    out_file *o = malloc(sizeof *o * ((size_t)n * (per + per_other) + 1));
    if (!o) return snprintf(msg, len, "out of host memory"), CLI_FAIL;
    char path[PATH_MAX];
    struct stat sb;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < per + per_other; k++) {
            const char *s = k < per ? suffix[k] : other[k - per];
            /* (a path too long for the other mode's longer names: no file of it is there to read) */
            if (out_path(path, sizeof path, dir, files[i], s) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
                o[m++] = (out_file){ sb.st_dev, sb.st_ino, i, s, k < per };
        }
    qsort(o, (size_t)m, sizeof *o, by_file);
    struct stat so; /* (standard output redirected to a file an image's maps would replace: its lines lost, exit 0) */
    const out_file *shell = NULL;
    if (m && fstat(STDOUT_FILENO, &so) == 0 && S_ISREG(so.st_mode)) {
        const out_file key = { so.st_dev, so.st_ino, 0, NULL, 0 };
        shell = bsearch(&key, o, (size_t)m, sizeof *o, by_file);
        while (shell && shell > o && !by_file(shell - 1, &key)) shell--; /* (the first of its names: links) */
        while (shell && !shell->mine && shell + 1 < o + m && !by_file(shell + 1, &key)) shell++; /* (this run's) */
    }
    if (shell && shell->mine) {
        out_path(path, sizeof path, dir, files[shell->image], shell->suffix);
        snprintf(msg, len, "cam: standard output is the file %s, which %s's maps would replace: the lines cam prints "
                 "would be lost; send them elsewhere", path, files[shell->image]);
        rc = CLI_USAGE;
    }
    for (int i = 0; m && i < n + n_in && rc == CLI_OK; i++) {
        const char *read = i < n ? files[i] : ins[i - n].path;
        if (!read || stat(read, &sb) != 0) continue; /* (said when it is read) */
        const out_file key = { sb.st_dev, sb.st_ino, 0, NULL, 0 }, *hit = bsearch(&key, o, (size_t)m, sizeof *o, by_file);
        if (!hit || (!hit->mine && i >= n)) continue;
        out_path(path, sizeof path, dir, files[hit->image], hit->suffix);
        if (hit->mine)
            snprintf(msg, len, "cam: %s %s is %s, which %s's maps would replace; give another --out-dir",
                     i < n ? "the image" : ins[i - n].opt, read, path, files[hit->image]);
        else /* (its own path named where the image's is another: a link) */
            snprintf(msg, len, "cam: the image %s%s%s%s is the picture cam draws of %s %s --compare-pool5, not a photo; "
                     "give another --out-dir", read, strcmp(read, path) ? " (" : "", strcmp(read, path) ? path : "",
                     strcmp(read, path) ? ")" : "", files[hit->image],
                     suffix == cli_cam_plain_suffix ? "with" : "without");
        rc = CLI_USAGE;
    }
    free(o);
    return rc;
}

/* The crop back as 8-bit RGB (h, w, 3), from the normalized (3, h, w) tensor. */
static void to_rgb(const float *t, int h, int w, const vggcl_preprocess *p, unsigned char *rgb)
{
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < h * w; i++) {
            float v = (t[(size_t)c * h * w + i] * p->std[c] + p->mean[c]) * 255.0f + 0.5f;
            rgb[(size_t)i * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

/* --compare-pool5's picture opens with a header: over each panel its setting ("pool5 kept", "pool5 dropped"; the
 * panels alone said nothing of which was which) and the class drawn as its line names it ("class 3 (cat)"),
 * centred, white on black, the panels below it as drawn. Its glyphs are one scale step per 224 pixels of the
 * panel's shorter side (torchvision's crop: 1 there), so that they read alike on large pictures; HEADER_PAD
 * steps above, between and below the two lines, and beside them. */
enum { HEADER_PAD = 3, HEADER_LINES = 2 };

static int header_scale(int h, int w)
{
    const int s = (h < w ? h : w) / 224;
    return s > 1 ? s : 1;
}

/* The header's rows for panels of h x w. */
static int header_rows(int h, int w)
{
    return header_scale(h, w) * (HEADER_LINES * FONT5X7_H + (HEADER_LINES + 1) * HEADER_PAD);
}

/* Draws the header into the picture's first header_rows(h, w) rows (panels of h x w side by side): label[k],
 * HEADER_LINES lines, over panel k, each cut with "..." to the panel's width. */
static void draw_header(unsigned char *pic, int h, int w, int panels, const char *const (*label)[HEADER_LINES])
{
    static const unsigned char white[3] = { 255, 255, 255 };
    const int s = header_scale(h, w), rows = header_rows(h, w), room = w - 2 * HEADER_PAD * s;
    memset(pic, 0, (size_t)rows * w * panels * 3);
    for (int k = 0; k < panels; k++)
        for (int line = 0; line < HEADER_LINES; line++) {
            const int wide = font5x7_draw(NULL, 0, 0, 0, 0, s, white, label[k][line], room),
                      y = s * (HEADER_PAD + line * (FONT5X7_H + HEADER_PAD));
            font5x7_draw(pic, rows, w * panels, k * w + (w - wide) / 2, y, s, white, label[k][line], room);
        }
}

typedef struct {
    vggcl_ctx *ctx;
    const char *dir;
} cam_job;

/* One image's files: its maps staged (written whole to temporary files, w[i]) until the picture is written,
 * then named (cli_name_all); an image's set is whole or absent, and a failure before they are named leaves
 * an earlier run's files as they were (they were named one by one and removed again when a later one failed). */
typedef struct {
    char path[5][PATH_MAX]; /* the maps', then the picture's */
    vggcl_npy_writer *w[5]; /* a map not yet named */
    int n, picture;         /* picture: written (path[n - 1]) */
} written;

/* Stages a map (rows x cols) at wr's next path. */
static vggcl_status stage(vggcl_ctx *ctx, written *wr, const float *map, int rows, int cols)
{
    const long long tail[1] = { cols };
    vggcl_npy_writer **w = &wr->w[wr->n];
    vggcl_status st = vggcl_npy_writer_open(ctx, wr->path[wr->n], 1, tail, w);
    wr->n++;
    return st != VGGCL_OK ? st : vggcl_npy_writer_append(ctx, *w, map, rows);
}

/* Names the staged maps (commit) or drops them: CLI_OK, or CLI_FAIL said. */
static int name_maps(vggcl_ctx *ctx, written *wr, int commit)
{
    const char *paths[5];
    for (int i = 0; i < 5; i++) paths[i] = wr->path[i];
    return cli_name_all(ctx, wr->w, paths, wr->n, commit);
}

/* Drops the staged maps and the picture written, earlier (its path's earlier run's picture, kept: put back). */
static void unwrite(vggcl_ctx *ctx, written *wr, cli_kept *earlier)
{
    name_maps(ctx, wr, 0);
    const char *picture = wr->path[wr->picture ? wr->n - 1 : wr->n];
    if (wr->picture && !earlier->kept) vggcl_remove_output(picture);
    cli_kept_end(earlier, picture, wr->picture);
    wr->n = wr->picture = 0;
}

/* The first class of model from class from on named name, or -1. */
static int class_called(const vggcl_model *m, const char *name, int from)
{
    for (int k = from; k < vggcl_model_classes(m); k++) {
        const char *c = vggcl_model_class_name(m, k);
        if (c && !strcmp(c, name)) return k;
    }
    return -1;
}

/* --class name refused (a name the model does not have, or a number past its classes): CLI_USAGE, said with the
 * model's names, the first few, or that it names none (a number is then the way). */
static int class_refused(const vggcl_model *m, const char *weights, const char *name)
{
    const int classes = vggcl_model_classes(m);
    char names[1024] = "";
    size_t used = 0;
    for (int k = 0; k < classes; k++) {
        const char *c = vggcl_model_class_name(m, k);
        char *shown = c && used < sizeof names ? cli_text(c) : NULL; /* (used past the end: "..." written) */
        if (shown && used + strlen(shown) + 8 < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", shown);
        else if (shown)
            snprintf(names + used, sizeof names - used, "%s...", k ? ", " : ""), used = sizeof names;
        free(shown);
    }
    char *asked = cli_text(name);
    if (!vggcl_model_class_name(m, 0))
        cli_error(CLI_USAGE, "cam: --class takes a class's number, 0 to %d (%s names no classes: no metadata "
                  "\"vggcl.classes\"), not '%s'", classes - 1, weights, asked ? asked : name);
    else
        cli_error(CLI_USAGE, "cam: --class takes a class's number, 0 to %d, or its name, one of %s's: %s; not '%s'",
                  classes - 1, weights, names, asked ? asked : name);
    free(asked);
    return CLI_USAGE;
}

/* One model on one image: the map of class klass (< 0: its top class; *chosen gets the class drawn), the
 * upsampled map and the overlay. CLI_OK; SKIPPED for a map or logits that are not finite, a size the network
 * does not take or one past the device's memory (said: the image is skipped); else CLI_FAIL, said. (A model
 * with no maps to give was said of the weights after loading: vggcl_check_cam.) */
enum { SKIPPED = -1 };
static int one_map(cam_job *j, vggcl_model *m, const char *image, const float *t, const unsigned char *rgb, int h,
                   int w, int klass, int *chosen, const char *tag, const char *const *maps, unsigned char *overlay,
                   written *wr, char *line, size_t line_len)
{
    int mh, mw, rc = CLI_FAIL;
    const int classes = vggcl_model_classes(m);
    vggcl_model_map_size(m, h, w, &mh, &mw);
    float *cam = malloc(sizeof *cam * (size_t)(mh > 0 ? mh * mw : 1)), *up = malloc(sizeof *up * (size_t)h * w),
          *logits = malloc(sizeof *logits * (size_t)classes);
    if (!cam || !up || !logits) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto done;
    }
    /* a size the network does not take, or one too large for the device's memory (as the pass checks it
     * before it allocates anything), is this image's, not the device's: the run goes on (one large photo
     * among --no-crop's stopped it, the images after it not drawn); a pass that fails on the device (out of
     * resources there too) stops it */
    vggcl_status st = vggcl_check_batch(j->ctx, m, 1, h, w);
    int its_own = st != VGGCL_OK;
    if (st == VGGCL_OK) {
        st = vggcl_forward_cam(j->ctx, m, t, 1, h, w, logits, NULL, &klass, cam, chosen);
        its_own = st == VGGCL_ERR_SHAPE;
    }
    if (st != VGGCL_OK) {
        rc = cli_error(its_own ? SKIPPED : CLI_FAIL, "%s: %s%s", image, vggcl_message(j->ctx), its_own ? " (skipped)" : "");
        goto done;
    }
    for (int i = 0; i < mh * mw; i++)
        if (!isfinite(cam[i])) { /* (NaN or infinite activations: the weights or --std overflow float32) */
            rc = cli_error(SKIPPED, "%s: the class activation map%s%s is not finite (%s values): the weights or "
                                    "the preprocessing overflow float32 (skipped)", image, *tag ? " with pool5 " : "",
                           *tag ? tag + 1 : "", isnan(cam[i]) ? "NaN" : "infinite");
            goto done;
        }
    /* logits not finite (GAP's sum past float32, its map finite): the class drawn, the top one of NaNs,
     * says nothing; skipped, as classify skips such an image */
    const int c = cli_not_finite(logits, classes);
    if (c >= 0) {
        char where[32] = "";
        if (*tag) snprintf(where, sizeof where, " with pool5 %s", tag + 1);
        rc = cli_error(SKIPPED, CLI_LOGIT_NOT_FINITE " (skipped)", image, c, where,
                       isnan(logits[c]) ? "NaN" : "infinite");
        goto done;
    }
    vggcl_cam_upsample(cam, mh, mw, up, h, w);
    vggcl_cam_draw(up, rgb, h, w, overlay);
    out_path(wr->path[wr->n], sizeof wr->path[0], j->dir, image, maps[0]);
    if (stage(j->ctx, wr, cam, mh, mw) != VGGCL_OK) goto fail;
    out_path(wr->path[wr->n], sizeof wr->path[0], j->dir, image, maps[1]);
    if (stage(j->ctx, wr, up, h, w) != VGGCL_OK) goto fail;
    char *shown = cli_text(image), *label = vggcl_model_class_name(m, *chosen) ? cli_text(vggcl_model_class_name(m, *chosen))
                                                                                : NULL; /* (as classify names it) */
    snprintf(line, line_len, "%s: class %d%s%s%s, %dx%d map (height x width)%s%s\n", shown ? shown : image, *chosen,
             label ? " (" : "", label ? label : "", label ? ")" : "", mh, mw, *tag ? " with pool5 " : "",
             *tag ? tag + 1 : "");
    free(shown), free(label);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s", vggcl_message(j->ctx));
done:
    free(cam);
    free(up);
    free(logits);
    return rc;
}

int cmd_cam(int argc, char **argv)
{
    int n_files = 0, rc, skipped = 0, made = 0, klass = -1, threads;
    double progress_s;
    char **files = NULL;
    cli_args a;
    cli_ranks ranks = CLI_RANKS_INIT;
    vggcl_preprocess p;
    vggcl_preprocess_unset(&p);
    if ((rc = cli_parse(&command, argc, argv, &a)) != CLI_OK) return rc == CLI_HELP ? CLI_OK : rc;
    const char *weights = cli_arg(&a, "weights"), *class_s = cli_arg(&a, "class"), *pool5 = cli_arg(&a, "pool5"),
               *dir = cli_arg_or(&a, "out-dir", "."), *device = cli_arg(&a, "device");
    const int compare = cli_arg(&a, "compare-pool5") != NULL;
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, cli_arg(&a, "head"), VGGCL_CONV_AUTO, 0 };
    if ((rc = cli_preprocess_args("cam", &a, &p)) != CLI_OK ||
        (rc = cli_decode_args("cam", &a, &threads, &progress_s)) != CLI_OK)
        goto done_args;
    /* a number, else a name: looked up once the model names its classes */
    const int class_named = class_s && strspn(class_s, "0123456789") != strlen(class_s);
    if (class_s && !class_named) { /* (past any model's classes: refused with the model's range, as a name is) */
        errno = 0;
        const long k = strtol(class_s, NULL, 10);
        klass = errno || k > INT_MAX ? INT_MAX : (int)k;
    }
    if (cli_model_opts("cam", pool5, cli_arg(&a, "conv"), &opts) || (device && cli_one_device("cam", device))) {
        rc = CLI_USAGE;
        goto done_args;
    }
    if (compare && pool5) {
        rc = cli_error(CLI_USAGE, "cam: --compare-pool5 runs both settings; leave out --pool5");
        goto done_args;
    }
    const cli_file read_in[] = { { "--weights", weights }, { "--files-from", cli_files_from(&a) } };
    if ((rc = cli_stdout_check("cam", read_in, 2)) != CLI_OK) goto done_args;
    const int listed = cli_images("cam", &a, &files, &n_files);
    const char *const *files_of = compare ? cli_cam_compare_suffix : cli_cam_plain_suffix;
    char clash[3 * PATH_MAX + 8192 + 128] = "";
    int names = same_names(files, n_files, dir, files_of, clash, sizeof clash), names_here = 0; /* (said once MPI runs) */
    if (names == CLI_OK)
        names = reads_outputs(files, n_files, read_in, 2, dir, files_of,
                              compare ? cli_cam_plain_suffix : cli_cam_compare_suffix, clash, sizeof clash),
        names_here = names != CLI_OK;
    if ((rc = cli_take_share(&ranks, "cam", cli_arg(&a, "shard"), listed, &files, &n_files, 0)) != CLI_OK) goto done_args;
    /* under mpirun every rank runs to cli_ranks_finish, which prints the ranks' lines, whatever happened */
    vggcl_model *models[2] = { NULL, NULL };
    vggcl_ctx *ctx = NULL;
    /* every rank comes to the check that they loaded the same model, whatever happened before it (messages
     * gathered here: said once when alike) */
    int local = cli_ranks_capture(&ranks, NULL, NULL);
    if (local == CLI_OK && names != CLI_OK) /* (the list's names: alike on every rank; a file there: its own) */
        local = names_here ? cli_error_here(names, "%s", clash) : cli_error(names, "%s", clash);
    struct stat sb;
    /* (as the other commands say their outputs: a folder not there 1, a file where a folder goes 2; each rank
     * its own machine's) */
    if (local == CLI_OK && stat(dir, &sb) != 0)
        local = cli_error(CLI_FAIL, "cam: --out-dir %s: %s", dir, errno == ENOENT ? "not there" : strerror(errno));
    else if (local == CLI_OK && !S_ISDIR(sb.st_mode))
        local = cli_error_here(CLI_USAGE, "cam: --out-dir %s is not a folder: name a folder", dir);
    if (local == CLI_OK && access(dir, W_OK | X_OK) != 0) /* (said before the model loads, not at the first image) */
        local = cli_error(CLI_FAIL, "cam: --out-dir %s cannot be written: %s", dir, strerror(errno));
    if (local == CLI_OK && !(ctx = cli_ctx_new())) local = cli_error(CLI_FAIL, "out of host memory");
    if (local == CLI_OK) {
        vggcl_load_options kept = opts, dropped = opts;
        kept.pool5 = compare ? VGGCL_POOL5_KEEP : opts.pool5, dropped.pool5 = VGGCL_POOL5_DROP;
        if ((local = cli_select_device("cam", ctx, cli_ranks_device(&ranks, device), device)) != CLI_OK)
            ; /* (said) */
        else if (vggcl_model_load(ctx, weights, &kept, &models[0]) != VGGCL_OK ||
                 (compare && vggcl_model_load(ctx, weights, &dropped, &models[1]) != VGGCL_OK))
            local = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
        else if (vggcl_check_cam(ctx, models[0]) != VGGCL_OK) /* (a model without maps: said of the weights before
                                                                * any image is read, and before notes of its maps) */
            local = cli_error(CLI_FAIL, "cam: %s: %s", weights, vggcl_message(ctx));
        else if ((local = cli_model_preset("cam", ctx, models[0], &p, CLI_IMAGES_MADE)) == CLI_OK && !compare)
            cli_pool5_note(weights, &opts, models[0]);
        else if (local == CLI_OK)
            cli_pool5_compare_note(weights, models[0]);
    }
    if ((local = cli_ranks_all_ok(&ranks, local)) == CLI_OK)
        local = cli_ranks_same_model(&ranks, "cam", weights, models[0], &p, NULL, 0, &a, agreed, NULL);
    if (local != CLI_OK) {
        rc = local;
        goto out;
    }
    if (class_named && (klass = class_called(models[0], class_s, 0)) < 0) {
        rc = class_refused(models[0], weights, class_s);
        goto out;
    }
    /* a number that is a class's name (folders 0..10 as classes) is that class: 10 was refused past the last
     * class and 2 drew another class than the one named 2, unsaid; said where the number was a class too */
    const int by_name = class_s && !class_named ? class_called(models[0], class_s, 0) : -1;
    if (by_name >= 0 && by_name != klass && klass < vggcl_model_classes(models[0])) {
        char *other = cli_text(vggcl_model_class_name(models[0], klass));
        cli_notice("cam: --class %s is taken as the class named '%s' (class %d), not class %d ('%s')", class_s,
                   class_s, by_name, klass, other ? other : "");
        free(other);
    }
    if (by_name >= 0) klass = by_name;
    const int twin = (class_named || by_name >= 0) ? class_called(models[0], class_s, klass + 1) : -1;
    if (twin >= 0) { /* (the first was drawn, unsaid) */
        char *shown = cli_text(class_s);
        cli_notice("cam: --class %s: classes %d and %d are both named so; %d is drawn (give a number for another)",
                   shown ? shown : "", klass, twin, klass);
        free(shown);
    }
    if (klass >= vggcl_model_classes(models[0])) {
        rc = class_refused(models[0], weights, class_s);
        goto out;
    }
    cam_job job = { ctx, dir };
    /* compared, the two maps are of one class: --class, else the top class of the setting the file is for
     * (its metadata's pool5, else kept), whose map is made first */
    const char *made_for = vggcl_model_metadata(models[0], "vggcl.pool5");
    const int first = compare && made_for && !strcmp(made_for, "drop");
    int stopped = 0; /* a failure other than an unreadable image (the device, a write): the run stops */
    int out_lost = 0; /* standard output failed (a full disk): the run stops after that image, as classify's */
    /* the images decoded ahead on a pool of threads while the device draws the one before (a window of one more
     * than the threads; by default 15 at most: a photo kept whole, --no-crop, may be hundreds of MB, and a GPU's
     * box has dozens of cores) */
    const int cores = vggcl_decode_threads_default(ctx), decoders = threads > 0 ? threads : cores < 15 ? cores : 15;
    cli_decode_pool *pool = n_files ? cli_decode_start(files, n_files, &p, decoders, decoders + 1) : NULL;
    if (n_files && !pool) {
        rc = cli_error(CLI_FAIL, "out of host memory (or no thread) for decoding images");
        goto out;
    }
    cli_progress shown = cli_progress_begin(progress_s, &ranks, 1, n_files, "images");
    for (int i = 0; i < n_files && !stopped; i++) {
        unsigned char *rgb = NULL, *pic = NULL;
        float *t = NULL;
        int h, w, r = CLI_FAIL;
        char *msg;
        if (cli_decode_take(pool, i, &t, &h, &w, &msg) && !t) { /* (not the image's doing: the run stops) */
            cli_error(CLI_FAIL, CLI_NO_DESCRIPTORS, msg ? msg : files[i]);
            free(msg);
            stopped = 1;
            break;
        }
        if (!t) {
            cli_error(CLI_FAIL, "%s (skipped)", msg ? msg : "out of host memory");
            free(msg);
            skipped++;
            cli_progress_show(&shown, i + 1, n_files, i + 1, skipped, n_files);
            continue;
        }
        const int panels = compare ? 2 : 1;
        char why[256];
        if (cli_size_refused((const vggcl_model *const *)models, panels, h, w, why, sizeof why)) {
            /* (an image like the others, not a failing device: the run goes on) */
            cli_error(CLI_FAIL, CLI_SIZE_REFUSED " (skipped)", files[i], w, h, why);
            skipped++;
            vggcl_free(t);
            cli_progress_show(&shown, i + 1, n_files, i + 1, skipped, n_files);
            continue;
        }
        written wr = { .n = 0 };
        cli_kept earlier = { .kept = 0 }; /* (its picture path's earlier run's, while its maps are named) */
        char lines[2][4 * PATH_MAX + 128]; /* (a path whose every byte is escaped, cli_text) */
        const int top = compare ? header_rows(h, w) : 0; /* (the header's rows: --compare-pool5's alone) */
        rgb = malloc((size_t)h * w * 3);
        pic = malloc((size_t)(top + h) * w * 3 * panels);
        unsigned char *panel = malloc((size_t)h * w * 3);
        if (!rgb || !pic || !panel) {
            cli_error(CLI_FAIL, "out of host memory");
        } else {
            to_rgb(t, h, w, &p, rgb);
            int chosen = -1; /* (one class for both panels: the first's, else --class) */
            for (int n = 0, want = klass; n < panels; n++, want = chosen) {
                const int k = n ? 1 - first : first;
                r = one_map(&job, models[k], files[i], t, rgb, h, w, want, &chosen, compare ? (k ? "-drop" : "-keep") : "",
                            files_of + 2 * k, panel, &wr, lines[k], sizeof lines[k]);
                if (r != CLI_OK) break;
                for (int y = 0; y < h; y++) /* panels side by side */
                    memcpy(pic + ((size_t)(top + y) * w * panels + (size_t)k * w) * 3, panel + (size_t)y * w * 3,
                           (size_t)w * 3);
            }
            if (r == CLI_OK && compare) { /* (the class as the lines name it: cli_text) */
                const char *name = vggcl_model_class_name(models[0], chosen);
                char *shown = name ? cli_text(name) : NULL;
                const size_t len = 64 + (shown ? strlen(shown) : 0);
                char *said = name && !shown ? NULL : malloc(len);
                if (!said) {
                    r = cli_error(CLI_FAIL, "out of host memory");
                } else {
                    snprintf(said, len, "class %d%s%s%s", chosen, shown ? " (" : "", shown ? shown : "",
                             shown ? ")" : "");
                    const char *const label[2][HEADER_LINES] = { { "pool5 kept", said }, { "pool5 dropped", said } };
                    draw_header(pic, h, w, panels, label);
                }
                free(shown), free(said);
            }
            if (r == CLI_OK) {
                char *path = wr.path[wr.n];
                out_path(path, sizeof wr.path[0], dir, files[i], files_of[2 * panels]);
                /* the maps durable first (a full disk fails here), then the picture, then the maps' names,
                 * signals held from the maps' temporary names on (a Ctrl-C left those, or a picture alone) */
                cli_hold_signals();
                if (cli_ready_all(ctx, wr.w, wr.n) != CLI_OK)
                    r = CLI_FAIL; /* (said) */
                else if ((cli_keep_earlier(path, 0, &earlier), vggcl_png_write(ctx, path, pic, top + h, w * panels)) !=
                         VGGCL_OK) /* (kept as a link alone: its writer, not open yet, reads its permissions) */
                    r = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
                else if ((wr.n++, wr.picture = 1, name_maps(ctx, &wr, 1)) != CLI_OK)
                    r = CLI_FAIL; /* (said) */
                if (r != CLI_OK) unwrite(ctx, &wr, &earlier); /* (the temporary names gone before a held signal acts) */
                cli_kept_end(&earlier, path, 0); /* (named, or the picture not written: the earlier one there) */
                char *named = r == CLI_OK ? cli_text(path) : NULL;
                if (r == CLI_OK) cli_progress_wipe(&shown);
                for (int k = 0; k < panels && r == CLI_OK; k++) fputs(lines[k], stdout);
                if (r == CLI_OK) { /* (the picture, then the maps: it named the picture alone) */
                    printf("wrote %s", named ? named : path);
                    for (int k = 0; k + 1 < wr.n; k++) {
                        char *map = cli_text(wr.path[k]);
                        printf(", %s", map ? map : wr.path[k]);
                        free(map);
                    }
                    printf("\n");
                }
                /* (a SIGTERM before the next image's set lost them, its files there) */
                out_lost = cli_flush_stdout() != CLI_OK; /* (said once, with the reason: "a write failed") */
                free(named);
                cli_release_signals();
            }
        }
        if (r != CLI_OK && r != SKIPPED && i + 1 < n_files)
            cli_error(CLI_FAIL, "cam: stopped at %s; images after it not drawn: %d", files[i], n_files - i - 1);
        if (r != CLI_OK) unwrite(ctx, &wr, &earlier), stopped = r != SKIPPED;
        if (out_lost && !stopped && i + 1 < n_files)
            cli_error(CLI_FAIL, "cam: stopped after %s, whose lines standard output did not take; images after it not "
                      "drawn: %d", files[i], n_files - i - 1);
        stopped |= out_lost;
        skipped += r == SKIPPED;
        made += r == CLI_OK;
        free(rgb), free(pic), free(panel), vggcl_free(t);
        cli_progress_show(&shown, i + 1, n_files, i + 1, skipped, n_files);
    }
    cli_decode_stop(pool);
    cli_progress_end_line(); /* (a run that stopped before its last image) */
    rc = skipped || stopped ? CLI_FAIL : CLI_OK; /* (the skipped said below, with every rank's count) */
out:
    /* (0: each rank writes its own images' files, so the shares after one that stopped are drawn all the same
     * and their lines name what they wrote) */
    rc = cli_ranks_finish(&ranks, ctx, rc, 0, &skipped, &made);
    char said[64];
    if (skipped && ranks.rank == 0) /* (as classify; a run that stopped said where) */
        cli_error(CLI_FAIL, "%s; %d drawn", cli_skipped_text(skipped, ranks.total, said, sizeof said), made);
    vggcl_model_free(models[0]);
    vggcl_model_free(models[1]);
    vggcl_ctx_free(ctx);
done_args:
    cli_ranks_end(&ranks);
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
}
