/* ImageFolder data sets (one sub-folder per class, as torchvision's
 * ImageFolder) for train-head and eval. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Class folders in ImageFolder's order: sorted as Python's strings (by bytes, a name not UTF-8 was put
 * before others that Python puts it after). */
static int cmp_str(const void *a, const void *b)
{
    const char *p = *(char *const *)a, *q = *(char *const *)b;
    return cli_name_cmp(p, strlen(p), q, strlen(q));
}

int cli_dataset_class(const cli_dataset *ds, const char *name)
{
    char *const *k = bsearch(&name, ds->classes, (size_t)ds->n_classes, sizeof *ds->classes, cmp_str);
    return k ? (int)(k - ds->classes) : -1;
}

void cli_dataset_free(cli_dataset *ds)
{
    for (int i = 0; i < ds->n_classes; i++) free(ds->classes[i]);
    for (int i = 0; i < ds->n; i++) free(ds->files[i]);
    free(ds->classes), free(ds->files), free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* The sub-folders of dir (not starting with '.': said, as ImageFolder takes them), sorted. */
static int class_folders(const char *dir, cli_dataset *ds, int say)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat sb;
    int hidden = 0;
    char first_hidden[256] = "";
    if (!d)
        return cli_error(CLI_FAIL, "%s: cannot open the data folder: %s (expected one sub-folder per class)", dir,
                         strerror(errno));
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') { /* (a folder of them shifted every class after it against ImageFolder's) */
            char *path = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") ? cli_join(dir, e->d_name) : NULL;
            if (path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && !hidden++)
                snprintf(first_hidden, sizeof first_hidden, "%s", e->d_name);
            free(path);
            continue;
        }
        char *path = cli_join(dir, e->d_name);
        if (!path) {
            closedir(d);
            return cli_error(CLI_FAIL, "out of host memory");
        }
        const int found = stat(path, &sb) == 0;
        if (!found && errno != ENOENT) { /* (a link to nothing is no class; one we may not look at was passed over) */
            cli_error(CLI_FAIL, "%s: cannot tell whether it is a class folder: %s", path, strerror(errno));
            free(path), closedir(d);
            return CLI_FAIL;
        }
        free(path);
        if (!found || !S_ISDIR(sb.st_mode)) continue;
        char **grown = realloc(ds->classes, sizeof *grown * (size_t)(ds->n_classes + 1));
        if (grown) ds->classes = grown;
        if (!grown || !(ds->classes[ds->n_classes] = strdup(e->d_name))) {
            closedir(d);
            return cli_error(CLI_FAIL, "out of host memory");
        }
        ds->n_classes++;
    }
    closedir(d);
    if (hidden && say)
        cli_error(CLI_FAIL, "%s: %d hidden folder%s left out, not classes (such as '%s'; torchvision's ImageFolder "
                  "takes them, its classes after them numbered one more)", dir, hidden, hidden == 1 ? "" : "s",
                  first_hidden);
    qsort(ds->classes, (size_t)ds->n_classes, sizeof *ds->classes, cmp_str);
    if (!ds->n_classes)
        return cli_error(CLI_FAIL, "%s: no class folders; expected one sub-folder of images per class "
                                   "(torchvision's ImageFolder layout)", dir);
    return CLI_OK;
}

/* The first-level sub-folders the images files[lo..hi) of a class are in (skip: the bytes of their class folder's
 * path and its '/'), sorted and joined by '/' (allocated), or NULL where one of them is in the class folder itself
 * (or out of memory). */
static char *image_folders(const cli_dataset *ds, int lo, int hi, size_t skip)
{
    char **names = malloc(sizeof *names * (size_t)(hi > lo ? hi - lo : 1)), *joined = NULL;
    int n = 0, direct = !names;
    for (int i = lo; i < hi && !direct; i++) {
        const char *rest = ds->files[i] + skip, *slash = strchr(rest, '/');
        if (!slash) direct = 1;
        else if (!(names[n++] = strndup(rest, (size_t)(slash - rest)))) direct = 1, n--;
    }
    if (!direct && n) {
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
        char *at = joined = malloc(len); /* (stpcpy: strcat walked the string each time, quadratic in folders) */
        for (int i = 0; joined && i < n; i++)
            if (!i || strcmp(names[i], names[i - 1])) at = stpcpy(stpcpy(at, i ? "/" : ""), names[i]);
        if (joined) *at = 0;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return joined;
}

/* Where two class folders or more hold their images only in sub-folders of the same names (DIR/train/cat and
 * DIR/val/cat: DIR given where DIR/train was meant), says so, naming them: ImageFolder takes train and val as
 * the classes, and so does vggcl, which trained and scored them unsaid. */
static const char *const *alike_key; /* (by_folders' strings: qsort takes no context) */

static int by_folders(const void *pa, const void *pb)
{
    const char *a = alike_key[*(const int *)pa], *b = alike_key[*(const int *)pb];
    const int c = a && b ? strcmp(a, b) : (b != NULL) - (a != NULL); /* (NULL last) */
    return c ? c : *(const int *)pa - *(const int *)pb;
}

/* "a/b/c" as "a, b, c" (the first six of more: "and N more"), allocated; NULL: out of memory. */
static char *listed(const char *names)
{
    char *list = malloc(2 * strlen(names) + 32), *at = list;
    int shown = 1, more = 0;
    for (const char *q = names; list && *q; q++)
        if (*q != '/') {
            if (shown <= 6) *at++ = *q;
        } else if (++shown <= 6) {
            at = stpcpy(at, ", ");
        } else {
            more++;
        }
    if (list) *at = 0;
    if (list && more) sprintf(at, " and %d more", more);
    return list;
}

static void say_nested(const char *opt, const char *dir, const cli_dataset *ds)
{
    const int n = ds->n_classes;
    char **seen = calloc((size_t)n, sizeof *seen);
    int *order = malloc(sizeof *order * (size_t)(n ? n : 1));
    for (int c = 0, lo = 0, hi = 0; seen && order && c < n; c++, lo = hi) { /* (a class's files: one run) */
        while (hi < ds->n && ds->labels[hi] == c) hi++;
        char *path = cli_join(dir, ds->classes[c]);
        seen[c] = path ? image_folders(ds, lo, hi, strlen(path) + 1) : NULL;
        free(path);
        order[c] = c;
    }
    if (seen && order) {
        alike_key = (const char *const *)seen;
        qsort(order, (size_t)n, sizeof *order, by_folders);
    }
    for (int i = 0, j; seen && order && i < n && seen[order[i]]; i = j) { /* (runs of one sub-folders' list) */
        for (j = i + 1; j < n && seen[order[j]] && !strcmp(seen[order[j]], seen[order[i]]); j++) {}
        if (j - i < 2 || !strchr(seen[order[i]], '/')) continue; /* (one sub-folder alike: no data set's classes) */
        size_t len = 1;
        for (int k = i; k < j; k++) len += strlen(ds->classes[order[k]]) + 1;
        char *classes = malloc(len), *at = classes; /* (their classes' names, '/'-joined as listed takes them) */
        for (int k = i; classes && k < j; k++) at = stpcpy(stpcpy(at, k > i ? "/" : ""), ds->classes[order[k]]);
        char *folders = classes ? listed(classes) : NULL, *names = listed(seen[order[i]]);
        char *shown_folders = folders ? cli_text(folders) : NULL, *shown_names = names ? cli_text(names) : NULL;
        int example = order[i]; /* (train where it is among them: what train-head takes) */
        for (int k = i; k < j; k++)
            if (!strcmp(ds->classes[order[k]], "train")) example = order[k];
        char *first = cli_text(ds->classes[example]);
        cli_notice("%s %s: the class folders %s each hold their images in sub-folders of the same names (%s): if "
                   "those are the classes, give one of those folders, such as %s%s%s", opt, dir,
                   shown_folders ? shown_folders : "", shown_names ? shown_names : "", dir, cli_sep(dir),
                   first ? first : "");
        free(classes), free(folders), free(names), free(shown_folders), free(shown_names), free(first);
        break;
    }
    for (int c = 0; seen && c < n; c++) free(seen[c]);
    free(seen), free(order);
}

/* Whether file is the picture cam draws of an image (suffix's last: cli_cam_*_suffix) with its raw map beside it. */
static int cam_picture(const char *file, const char *const *suffix)
{
    int last = 0;
    while (suffix[last + 1]) last++;
    const int n = cli_cam_stem(file, suffix[last]);
    if (n < 0) return 0;
    const size_t len = (size_t)cli_cam_file(NULL, 0, NULL, file, n, suffix[0]) + 1;
    char *map = malloc(len);
    if (!map) return 0;
    cli_cam_file(map, len, NULL, file, n, suffix[0]);
    struct stat sb;
    const int found = stat(map, &sb) == 0 && S_ISREG(sb.st_mode);
    free(map);
    return found;
}

/* Says the pictures cam drew among the data set's images (cam run in a class folder, its default --out-dir: its
 * PNGs were counted as images of the class, unsaid). */
static void say_cam_pictures(const char *opt, const char *dir, const cli_dataset *ds)
{
    int n = 0, first = -1;
    for (int i = 0; i < ds->n; i++)
        if (cam_picture(ds->files[i], cli_cam_plain_suffix) || cam_picture(ds->files[i], cli_cam_compare_suffix))
            if (!n++) first = i;
    if (n)
        cli_notice("%s %s: %d of its images %s vggcl cam's pictures (such as %s, with its map's .npy beside it): "
                   "counted as images of their class, as ImageFolder counts them; cam --out-dir elsewhere keeps them "
                   "apart", opt, dir, n, n == 1 ? "is one of" : "are", ds->files[first]);
}

int cli_dataset_read(const char *opt, const char *dir, cli_dataset *ds, int say)
{
    struct stat sb;
    memset(ds, 0, sizeof *ds);
    const int found = stat(dir, &sb) == 0;
    if (!found || !S_ISDIR(sb.st_mode)) /* (the option too: --data's or --val's; and why, as "not there" was said
                                         * of a folder behind one we may not enter) */
        return cli_error(CLI_FAIL, "%s %s: %s (expected a folder with one sub-folder of images per class)", opt, dir,
                         found ? "not a folder" : errno == ENOENT ? "not there" : strerror(errno));
    cli_left_out other = { 0 };
    if (class_folders(dir, ds, say) != CLI_OK) goto fail;
    for (int c = 0; c < ds->n_classes; c++) {
        const int before = ds->n;
        char *path = cli_join(dir, ds->classes[c]);
        if (!path) {
            cli_error(CLI_FAIL, "out of host memory");
            goto fail;
        }
        const int listed = cli_expand_images(path, 1, &ds->files, &ds->n, &other);
        if (listed == CLI_OK && ds->n == before)
            cli_error(CLI_FAIL, "%s: class folder '%s' has no images (" CLI_IMAGE_EXTENSIONS ")", path, ds->classes[c]);
        free(path);
        if (listed != CLI_OK || ds->n == before) goto fail;
        int *grown = realloc(ds->labels, sizeof *grown * (size_t)ds->n);
        if (!grown) {
            cli_error(CLI_FAIL, "out of host memory");
            goto fail;
        }
        ds->labels = grown;
        for (int i = before; i < ds->n; i++) ds->labels[i] = c;
    }
    cli_left_out_say(&other);
    if (say) say_nested(opt, dir, ds), say_cam_pictures(opt, dir, ds);
    return CLI_OK;
fail:
    cli_left_out_say(&other);
    cli_dataset_free(ds);
    return CLI_FAIL;
}

char *cli_json_list(char **names, int n)
{
    size_t len = 3;
    for (int i = 0; i < n; i++) len += 6 * strlen(names[i]) + 3;
    char *out = malloc(len), *p = out;
    if (!out) return NULL;
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const unsigned char *s = (const unsigned char *)names[i]; *s; s++) {
            if (*s == '"' || *s == '\\') *p++ = '\\', *p++ = (char)*s;
            else if (*s < 0x20) p += sprintf(p, "\\u%04x", *s);
            else *p++ = (char)*s;
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

void cli_share(int n, int i, int of, int *lo, int *hi)
{
    *lo = (int)((long long)n * i / of), *hi = (int)((long long)n * (i + 1) / of);
}

/* A decimal of digits alone from *s (no sign, no blank), at most INT_MAX: *s past it; 0 when none. */
static int digits(const char **s, int *out)
{
    long long v = 0;
    const char *p = *s;
    for (; isdigit((unsigned char)*p); p++)
        if ((v = v * 10 + (*p - '0')) > INT_MAX) return 0;
    if (p == *s) return 0;
    *out = (int)v, *s = p;
    return 1;
}

int cli_shard_spec(const char *spec, int *i, int *of)
{
    return digits(&spec, i) && *spec++ == '/' && digits(&spec, of) && !*spec && *of >= 1 && *i < *of;
}

int cli_shard(const char *cmd, const char *spec, char ***files, int *n, char ***lead, int *n_lead, int *n_after,
              int *index)
{
    int i, of, lo, hi;
    if (!cli_shard_spec(spec, &i, &of)) /* (sscanf's %d wrapped 1/4294967298 to 1/2) */
        return cli_error(CLI_USAGE, "%s: --shard must be I/N with 0 <= I < N, not '%s'", cmd, spec);
    int rank;
    const int launched = cli_ranks_launched(&rank);
    /* (the same --shard to every rank ran that share on each, also one of another N than the launch's, as a job
     * array's task's given to a step of several tasks; one of I N + rank of N M, shards of shards, is each rank's) */
    if (launched >= 2 && i % launched != rank)
        cli_notice("%s: rank %d of %d takes --shard %d/%d: each process takes the share its --shard names, so one "
                   "--shard given to every rank runs that share on each; give each its own (--shard $%s/%d), or none "
                   "for the ranks to share the list", cmd, rank, launched, i, of, cli_ranks_rank_variable(), launched);
    cli_share(*n, i, of, &lo, &hi);
    const int others = *n - (hi - lo);
    if (others && !(*lead = malloc(sizeof **lead * (size_t)others)))
        return cli_error(CLI_FAIL, "%s: out of host memory", cmd);
    for (int k = 0; k < *n; k++)
        if (k < lo) (*lead)[k] = (*files)[k];
        else if (k >= hi) (*lead)[k - (hi - lo)] = (*files)[k];
    memmove(*files, *files + lo, sizeof **files * (size_t)(hi - lo));
    *n = hi - lo, *n_lead = lo, *n_after = others - lo, *index = i;
    return CLI_OK;
}
