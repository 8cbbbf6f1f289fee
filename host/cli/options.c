/* One option table per command: parsing (getopt_long) and --help are both
 * made from it, so the usage text and the parser cannot disagree. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* --device's help as every command has it; the commands that take several devices add theirs (cli_devices_option) */
#define DEVICE_HELP                                                                                                    \
    "ref (the plain-C reference), an index or P:D from `vggcl devices`, a type\n"                                      \
    "(cpu, gpu, accelerator: its first device) or a substring of the device name;\n"                                   \
    "default $VGGCL_DEVICE, else the first GPU, else the first device"

const cli_option cli_devices_option = {
    "device", "SPEC",
    DEVICE_HELP ";\n"
    "also all (the GPUs, else every device) or a list (0,1): a context each,\n"
    "batches to whichever is free", 0 };

const cli_option cli_device_options[] = {
    { "device", "SPEC", DEVICE_HELP, 0 }, /* (cli_devices_option in its place for several_devices: nth) */
    { "conv", "auto|direct|winograd|gemm|winograd-gpu|winograd-packed",
      "how the device runs the 3x3 convolutions: auto (default: the tuning\n"
      "table's choice, else winograd-gpu on a GPU; elsewhere winograd-packed\n"
      "up to 256 channels in and out, winograd above, or on a CPU of vectors\n"
      "narrower than 16 floats (AVX2) winograd-packed everywhere) or one\n"
      "algorithm everywhere", 0 },
    { NULL, NULL, NULL, 0 },
};

const cli_option cli_net_options[] = {
    { "pool5", "keep|drop",
      "keep (torchvision: a 7x7 map at 224) or drop (14x14); default: the file's\n"
      "metadata \"vggcl.pool5\", else keep", 0 },
    { "head", "PREFIX", "key prefix of a single linear head (default: the classifier.K chain)", 0 },
    { NULL, NULL, NULL, 0 },
};

const cli_option cli_decode_options[] = {
    { "threads", "N", "threads decoding and preprocessing images (while the device, if any, runs\n"
                      "the ones before; default: one per core it may run on, at most 64; on CPU\n"
                      "devices, which compute on those cores, one per 16 of them)", 0 },
    { "progress", "SECONDS", "a line on stderr every SECONDS saying how far the run is (0: none;\n"
                             "default: a bar when stderr is a terminal; under mpirun, rank 0's\n"
                             "share every 60 s)", 0 },
    { NULL, NULL, NULL, 0 },
};

const cli_option cli_preprocess_options[] = {
    { "resize", "N|HxW", "resize the short side to N (default: a model's vggcl.resize, else 256; 0: keep\n"
                         "the size), or both sides to H x W, the aspect not kept, as torchvision's\n"
                         "Resize((H, W))", 0 },
    { "crop", "N",
      "center-crop N x N (default: a model's vggcl.crop, else 224; an image smaller\n"
      "than that after the resize is padded with black, as torchvision's CenterCrop\n"
      "pads it)", 0 },
    { "no-crop", NULL, "do not crop", 0 },
    { "mean", "R,G,B", "normalize: (x/255 - mean) / std (default: a model's vggcl.mean, else\n"
                       "ImageNet's)", 0 },
    { "std", "R,G,B", "(default: a model's vggcl.std, else ImageNet's)", 0 },
    { "draft", NULL, "decode JPEGs at 1/2, 1/4 or 1/8 of their size where both sides stay at\n"
                     "least --resize (HxW: the height H and the width W), as PIL's Image.draft:\n"
                     "faster on large photos, not torchvision's pixels (default: a model's\n"
                     "vggcl.draft, else off)", 0 },
    { "no-draft", NULL, "decode JPEGs whole, whatever a model's vggcl.draft says", 0 },
    { NULL, NULL, NULL, 0 },
};

/* The i-th option of the command over its own table and its groups. */
static const cli_option *nth(const cli_command *c, int i, int *count)
{
    int n = 0;
    for (int g = -1; g < CLI_MAX_GROUPS; g++) {
        const cli_option *t = g < 0 ? c->options : c->groups[g];
        for (; t && t->name; t++, n++)
            if (n == i) return t == cli_device_options && c->several_devices ? &cli_devices_option : t;
    }
    if (count) *count = n;
    return NULL;
}

static int option_count(const cli_command *c)
{
    int n = 0;
    nth(c, -1, &n);
    return n;
}

/* The synopsis: "usage: vggcl NAME" and every option, wrapped at 100 columns. */
static void usage_lines(const cli_command *c, FILE *out)
{
    const int n = option_count(c);
    char line[4096];
    int used = snprintf(line, sizeof line, "usage: vggcl %s", c->name);
    const int indent = used + 1;
    for (int i = 0; i <= n; i++) {
        char item[160];
        const cli_option *o = nth(c, i, NULL);
        if (o && o->metavar)
            snprintf(item, sizeof item, o->required ? "--%s %s" : "[--%s %s]", o->name, o->metavar);
        else if (o)
            snprintf(item, sizeof item, "[--%s]", o->name);
        else if (c->positional)
            snprintf(item, sizeof item, "%s", c->positional);
        else
            break;
        if (used + 1 + (int)strlen(item) > 100) {
            fprintf(out, "%s\n", line);
            used = snprintf(line, sizeof line, "%*s", indent - 1, "");
        }
        used += snprintf(line + used, sizeof line - (size_t)used, " %s", item);
    }
    fprintf(out, "%s\n", line);
}

void cli_help(const cli_command *c, FILE *out)
{
    const int n = option_count(c);
    usage_lines(c, out);
    fprintf(out, "\noptions:\n");
    for (int i = 0; i < n; i++) {
        const cli_option *o = nth(c, i, NULL);
        char head[128];
        snprintf(head, sizeof head, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        const char *h = o->help;
        int first = 1;
        while (*h || first) { /* each line of the help, the first beside the name */
            const char *nl = strchr(h, '\n');
            const int len = nl ? (int)(nl - h) : (int)strlen(h);
            if (first && strlen(head) > 24) fprintf(out, "  %s\n  %-24s %.*s\n", head, "", len, h);
            else fprintf(out, "  %-24s %.*s\n", first ? head : "", len, h);
            first = 0;
            h += len + (nl != NULL);
        }
    }
    fprintf(out, "  %-24s %s\n", "--help, -h", "this text");
    if (c->about) fprintf(out, "\n%s", c->about);
}

/* The argument a short option getopt_long just gave came from: one of a cluster (-xy, -hello.png) is still
 * argv[optind] (getopt moves the arguments before it behind it) unless it ended the cluster, which then is
 * argv[optind - 1]; only -h is known, and it is taken alone, so a cluster of more ends at its first letter. */
static const char *short_from(int argc, char **argv, int short_opt)
{
    const char *last = argv[optind - 1];
    return last[0] == '-' && last[1] == short_opt && !last[2] ? last : optind < argc ? argv[optind] : last;
}

int cli_slip_of(const char *word, size_t len, const char *name)
{
    const size_t m = strlen(name);
    if (len > 64 || m > 64 || !len) return 0;
    size_t d[3][65]; /* the optimal string alignment distance, three rows of it (the swap looks two back) */
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= len; i++) {
        size_t *row = d[i % 3], *up = d[(i - 1) % 3], *up2 = d[(i + 1) % 3];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            const int same = tolower((unsigned char)word[i - 1]) == tolower((unsigned char)name[j - 1]);
            size_t best = up[j - 1] + !same;
            if (up[j] + 1 < best) best = up[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (i > 1 && j > 1 && tolower((unsigned char)word[i - 1]) == tolower((unsigned char)name[j - 2]) &&
                tolower((unsigned char)word[i - 2]) == tolower((unsigned char)name[j - 1]) && up2[j - 2] + 1 < best)
                best = up2[j - 2] + 1;
            row[j] = best;
        }
    }
    const size_t dist = d[len % 3][m], shorter = m < len ? m : len, allowed = shorter / 3;
    if (shorter <= 3) { /* (a short name: its case, or two letters swapped; one changed made 'cat' cam, 'val' eval) */
        if (len != m) return 0;
        size_t i = 0;
        while (i < m && tolower((unsigned char)word[i]) == tolower((unsigned char)name[i])) i++;
        if (i + 1 >= m) return i == m;
        return tolower((unsigned char)word[i]) == tolower((unsigned char)name[i + 1]) &&
               tolower((unsigned char)word[i + 1]) == tolower((unsigned char)name[i]) &&
               strncasecmp(word + i + 2, name + i + 2, m - i - 2) == 0;
    }
    return dist <= (allowed < 2 ? allowed : 2);
}

/* Names of one kind of option in the commands (what they write, how they format, what they read): an unknown
 * option of a group is said with this command's of it (train-head --output: it has --out; bench --format: it has
 * --json), which may do another part of that job (train-head --logits-out: its --out writes a model). */
static const char *const kin[][6] = {
    { "output", "out", "logits-out", "tensor-out", "out-dir", NULL },
    { "json", "format", NULL },
    { "features", "features-out", NULL },
    { "images", "data", "input", NULL },
    { "weights", "model", "checkpoint", "ckpt", NULL }, /* (other tools' names for what they are) */
    { "top", "topk", "top-k", "k", NULL },
    { "batch", "minibatch", "batch-size", "bs", NULL },
    { "labels", "classes", "class-names", NULL },
};

/* What a command that has none of a kind of option does in its stead, said with an unknown option of that kind (eval
 * --labels was refused with no more: its class names come from the model and the folders). */
static const struct {
    const char *command, *option, *instead;
} instead_of[] = {
    { "eval", "labels", "eval takes the class names from the model's metadata, \"vggcl.classes\", else from the "
                        "class folders' names" },
    { "cam", "labels", "cam takes the class names from the model's metadata, \"vggcl.classes\"; --class picks one by "
                       "its number or name" },
    { "train-head", "labels", "train-head takes the class names from the class folders' names and writes them to the "
                              "model's metadata, \"vggcl.classes\"" },
};

/* The group of kin the option name (len bytes) is in, else -1. */
static int kin_group(const char *name, size_t len)
{
    for (size_t g = 0; g < sizeof kin / sizeof kin[0]; g++)
        for (int k = 0; kin[g][k]; k++)
            if (strlen(kin[g][k]) == len && !strncmp(kin[g][k], name, len)) return (int)g;
    return -1;
}

/* Names a command of positional images may be given for them (classify --input x.jpg; not --file or --files:
 * --files-from's abbreviations, never unknown). */
static const char *const images_as[] = { "input", "image", "images", "data", NULL };

/* This command's options of the group the option name (len bytes) is in, as "--a and --b" (none: empty). */
static void kin_of(const cli_command *c, int n, const char *name, size_t len, char *out, size_t cap)
{
    const int g = kin_group(name, len);
    *out = '\0';
    for (int i = 0; g >= 0 && i < n; i++) {
        const char *own = nth(c, i, NULL)->name;
        for (int k = 0; kin[g][k]; k++) {
            if (strcmp(own, kin[g][k])) continue;
            const size_t at = strlen(out);
            snprintf(out + at, cap - at, "%s--%s", at ? " and " : "", own);
        }
    }
}

/* What this command does in the stead of the option name (len bytes) or its kin (instead_of), else NULL. */
static const char *instead(const cli_command *c, const char *name, size_t len)
{
    const int g = kin_group(name, len);
    for (size_t i = 0; i < sizeof instead_of / sizeof instead_of[0]; i++) {
        const char *o = instead_of[i].option;
        if (strcmp(instead_of[i].command, c->name)) continue;
        if ((strlen(o) == len && !strncmp(o, name, len)) || (g >= 0 && kin_group(o, strlen(o)) == g))
            return instead_of[i].instead;
    }
    return NULL;
}

/* What getopt_long refused: a short option (arg: the argument it came from, short_from), an abbreviation
 * of several long ones, or an unknown one. CLI_USAGE, said. */
static int unknown(const cli_command *c, int n, int short_opt, const char *arg)
{
    /* (for --flag=value getopt sets optopt to the flag's own code: 256 + i, 256 + n for --help) */
    if (!strncmp(arg, "--", 2) && strchr(arg, '=') && short_opt)
        return cli_error(CLI_USAGE, "%s: %.*s takes no value ('%s')", c->name, (int)strcspn(arg, "="), arg, arg);
    if (short_opt > 0 && short_opt < 256 && strncmp(arg, "--", 2)) { /* (a glob's file: -hello.png was help) */
        if (!arg[2]) return cli_error(CLI_USAGE, "%s: unknown option '-%c'", c->name, short_opt);
        const size_t name_len = strcspn(arg + 1, "=");
        const char *meant = NULL; /* (-weights W: a long option typed with one dash) */
        for (int i = 0; i <= n && !meant; i++) {
            const char *name = i < n ? nth(c, i, NULL)->name : "help";
            if (strlen(name) == name_len && !strncmp(name, arg + 1, name_len)) meant = name;
        }
        if (meant)
            return cli_error(CLI_USAGE, "%s: unknown argument '%s' (--%s? long options take two dashes%s%s%s)",
                             c->name, arg, meant, c->positional ? "; a file named so: give it as ./" : "",
                             c->positional ? arg : "", c->positional ? " or after --" : "");
        return c->positional ? cli_error(CLI_USAGE, "%s: unknown argument '%s' (a file whose name begins with "
                                         "'-'? give it as ./%s, or after --)", c->name, arg, arg)
                             : cli_error(CLI_USAGE, "%s: unknown argument '%s'", c->name, arg);
    }
    char these[512] = "";
    int matches = 0;
    const size_t len = strncmp(arg, "--", 2) ? 0 : strcspn(arg + 2, "=");
    for (int i = 0; i <= n && len; i++) { /* (the table's options, then --help: --he is --head or --help) */
        const char *name = i < n ? nth(c, i, NULL)->name : "help";
        if (strncmp(name, arg + 2, len)) continue;
        const size_t at = strlen(these);
        snprintf(these + at, sizeof these - at, "%s--%s", matches++ ? ", " : "", name);
    }
    if (matches > 1)
        return cli_error(CLI_USAGE, "%s: '%.*s' is short for more than one option (%s)", c->name, (int)len + 2, arg,
                         these);
    const char *meant = NULL; /* (a slip of one option's name alone: --wieghts, --formt) */
    for (int i = 0; i <= n && len; i++) {
        const char *name = i < n ? nth(c, i, NULL)->name : "help";
        if (cli_slip_of(arg + 2, len, name)) meant = meant ? "" : name;
    }
    if (meant && *meant) return cli_error(CLI_USAGE, "%s: unknown option '%s' (--%s?)", c->name, arg, meant);
    char own[256];
    kin_of(c, n, arg + 2, len, own, sizeof own);
    if (len && *own)
        return cli_error(CLI_USAGE, "%s: unknown option '%s' (%s has %s)", c->name, arg, c->name, own);
    const char *stead = len ? instead(c, arg + 2, len) : NULL;
    if (stead) return cli_error(CLI_USAGE, "%s: unknown option '%s' (%s)", c->name, arg, stead);
    for (int k = 0; len && c->positional && images_as[k]; k++)
        if (strlen(images_as[k]) == len && !strncmp(images_as[k], arg + 2, len))
            return cli_error(CLI_USAGE, "%s: unknown option '%s' (%s takes its images as arguments after the "
                             "options: vggcl %s [OPTIONS] %s)", c->name, arg, c->name, c->name, c->positional);
    return cli_error(CLI_USAGE, "%s: unknown %s '%s'", c->name, len ? "option" : "argument", arg);
}

int cli_parse(const cli_command *c, int argc, char **argv, cli_args *a)
{
    const int n = option_count(c);
    struct option *longs = calloc((size_t)n + 2, sizeof *longs);
    memset(a, 0, sizeof *a);
    if (!longs || n > CLI_MAX_OPTIONS) {
        free(longs);
        return cli_error(CLI_FAIL, "out of host memory");
    }
    for (int i = 0; i < n; i++) {
        const cli_option *o = nth(c, i, NULL);
        longs[i] = (struct option){ o->name, o->metavar ? required_argument : no_argument, NULL, 256 + i };
    }
    longs[n] = (struct option){ "help", no_argument, NULL, 256 + n }; /* ('h' is -h's alone: see below) */
    int rc = CLI_OK, k;
    const char *before[CLI_MAX_OPTIONS] = { NULL }; /* an option's first value, where another came after it */
    opterr = 0;
    optind = 0; /* (0: glibc starts afresh) */
    while (rc == CLI_OK && (k = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        if (k == 256 + n || (k == 'h' && !strcmp(argv[optind - 1], "-h"))) {
            if (cli_usage_said()) cli_help(c, stdout); /* (once under mpirun, not once per rank) */
            rc = CLI_HELP;
        } else if (k == 'h') { /* (-hx: not help) */
            rc = unknown(c, n, k, short_from(argc, argv, k));
        } else if (k == ':') {
            rc = cli_error(CLI_USAGE, "%s: %s needs a value", c->name, argv[optind - 1]);
        } else if (k == '?') {
            rc = unknown(c, n, optopt, optopt > 0 && optopt < 256 ? short_from(argc, argv, optopt) : argv[optind - 1]);
        } else {
            const cli_option *o = nth(c, k - 256, NULL);
            /* a value left out takes the next word, an option too: --logits-out --recursive DIR wrote a file
             * "--recursive", not recursing, exit 0 (a value of its own that begins with "--": --opt=--value) */
            if (o->metavar && optarg == argv[optind - 1] && !strncmp(optarg, "--", 2) && optarg[2])
                rc = cli_error(CLI_USAGE, "%s: --%s needs %s, not the option '%s' (a value that begins with '--': "
                               "--%s=%s)", c->name, o->name, o->metavar, optarg, o->name, optarg);
            if (o->metavar && a->value[k - 256] && strcmp(a->value[k - 256], optarg) && !before[k - 256])
                before[k - 256] = a->value[k - 256]; /* (said below, where the command line holds no mistake) */
            a->value[k - 256] = o->metavar ? optarg : "1";
        }
    }
    a->options = c;
    a->pos = argv + optind;
    a->n_pos = argc - optind;
    if (rc == CLI_OK && a->n_pos && !c->positional)
        rc = cli_error(CLI_USAGE, "%s: unexpected argument '%s'", c->name, a->pos[0]);
    /* an empty value names nothing (--weights "" was "vggcl: : cannot open", --head "" a tensor ".weight") */
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        const cli_option *o = nth(c, i, NULL);
        if (o->metavar && a->value[i] && !*a->value[i])
            rc = cli_error(CLI_USAGE, "%s: --%s is empty: give %s", c->name, o->name, o->metavar);
    }
    for (int i = 0; i < a->n_pos && rc == CLI_OK; i++)
        if (!*a->pos[i]) rc = cli_error(CLI_USAGE, "%s: argument %d is empty: give %s", c->name, i + 1, c->positional);
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        const cli_option *o = nth(c, i, NULL);
        if (o->required && !a->value[i]) rc = cli_error(CLI_USAGE, "%s: --%s is required", c->name, o->name);
    }
    free(longs);
    /* an option given again with another value: the last is taken, as an alias's --device is overridden by the one
     * after it; said, once under mpirun (a second --weights ran another model unsaid) */
    for (int i = 0; i < n && rc == CLI_OK && cli_usage_said(); i++)
        if (before[i])
            cli_error(CLI_FAIL, "%s: --%s given more than once ('%s' first, '%s' last): the last is taken", c->name,
                      nth(c, i, NULL)->name, before[i], a->value[i]);
    /* a shard's messages named from here: the output folder's check, the list's and the environment's, said before
     * it takes its share, had the plain prefix */
    int shard, of;
    if (rc == CLI_OK && cli_arg(a, "shard") && cli_shard_spec(cli_arg(a, "shard"), &shard, &of) && of > 1)
        cli_messages_name(shard, of);
    /* the synopsis, not the whole help: 60 lines of it pushed the error itself out of a terminal's view */
    if (rc == CLI_USAGE && cli_usage_said()) {
        usage_lines(c, stderr);
        fprintf(stderr, "`vggcl %s --help` describes each option.\n", c->name);
    }
    return rc;
}

const char *cli_arg_or(const cli_args *a, const char *name, const char *dflt)
{
    const char *v = cli_arg(a, name);
    return v ? v : dflt;
}

int cli_has_option(const cli_args *a, const char *name)
{
    const cli_option *o;
    for (int i = 0; (o = nth(a->options, i, NULL)); i++)
        if (!strcmp(o->name, name)) return 1;
    return 0;
}

const char *cli_arg(const cli_args *a, const char *name)
{
    for (int i = 0;; i++) {
        const cli_option *o = nth(a->options, i, NULL);
        if (!o) return NULL;
        if (!strcmp(o->name, name)) return a->value[i];
    }
}
