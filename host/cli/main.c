/* vggcl: command-line entry point; dispatches to the subcommands. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char usage[] =
    "usage: vggcl <command> [options]\n"
    "\n"
    "commands:\n"
    "  devices     list the OpenCL platforms and devices (and the index for --device)\n"
    "  run         run a VGG-GAP model on an .npy batch: logits and GAP features\n"
    "  bench       measure throughput (per batch, per layer) on a device\n"
    "  tune        find the fastest convolution algorithm per layer for a device\n"
    "  classify    images in, top-K classes with probabilities out\n"
    "  train-head  train the GAP head on a folder of class folders of images\n"
    "  eval        accuracy, precision, recall, F1 and their averages on a folder\n"
    "  cam         class activation maps (PNG and .npy), pool5 kept or dropped\n"
    "  preprocess  images -> the normalized (N, 3, H, W) tensor, as torchvision\n"
    "\n"
    "`vggcl <command> --help` or `vggcl help <command>` describes each command;\n"
    "`vggcl --version` the version.\n"
    "\n"
    "environment:\n"
    "  VGGCL_DEVICE      the device where --device is not given (as --device takes\n"
    "                    it; all or a list: their first for the commands of one\n"
    "                    device)\n"
    "  VGGCL_CACHE_DIR   compiled kernels and tune's tables (unset or empty:\n"
    "                    $XDG_CACHE_HOME/vggcl, an absolute one, else ~/.cache/vggcl;\n"
    "                    off: none, which tune refuses; the driver's own, PoCL's, is\n"
    "                    apart: POCL_KERNEL_CACHE=0)\n"
    "  VGGCL_CACHE_MAX_MB\n"
    "                    the most MiB of compiled kernels kept there (default 256):\n"
    "                    past it those used longest ago are removed\n"
    "  TMPDIR            where an array for standard output, a pipe or rank 0 is\n"
    "                    staged (default /tmp)\n"
    "  VGGCL_KERNEL_DIR  read the .cl kernels from this folder, not the built-in\n"
    "                    copies\n"
    "  VGGCL_MAX_IMAGE_PIXELS\n"
    "                    the most pixels (width x height) an image may have to be\n"
    "                    read, from 1 to 178956970, PIL's limit (unset: that limit);\n"
    "                    a larger one is skipped, named, from its header\n"
    "  VGGCL_HUGE_PAGES  1: advise huge pages for the packed weights on CPU devices\n"
    "                    (default: not advised)\n"
    "  VGGCL_MPI_BALANCE under mpirun: dynamic (default: batches handed out as ranks\n"
    "                    ask) or static (each rank a contiguous share)\n"
    "  VGGCL_RANK_TIMES  1 (rank 0's): after the job, a row per rank of where its\n"
    "                    time went\n"
    "\n"
    "exit status:\n"
    "  0  done\n"
    "  1  a failure, said on stderr (a file, the device, memory), or some images\n"
    "     skipped (each named; the others' answers written)\n"
    "  2  a mistake in the command line (also: a folder of images given without one\n"
    "     in it; eval's and train-head's data sets are data: 1)\n";

static int usage_said = 1; /* (cli_ranks_echo_usage, asked once by main) */

int cli_usage_said(void)
{
    return usage_said;
}

/* Whether code point u ends a line for some reader or reorders the text around it on a terminal: the C1
 * controls (U+0085 a line's end, U+009B an escape sequence's start), U+2028 and U+2029 (Python's
 * splitlines), the bidirectional overrides and isolates, and the marks that move what is next to them
 * (U+200E, U+200F, U+061C: a name shown in another order). */
static int hidden_control(unsigned long u)
{
    return (u >= 0x80 && u <= 0x9F) || u == 0x2028 || u == 0x2029 || (u >= 0x202A && u <= 0x202E) ||
           (u >= 0x2066 && u <= 0x2069) || u == 0x200E || u == 0x200F || u == 0x061C;
}

unsigned long cli_code_point(const unsigned char *u, int len)
{
    unsigned long cp = len > 1 ? u[0] & (0x7F >> len) : u[0];
    for (int k = 1; k < len; k++) cp = cp << 6 | (u[k] & 0x3F);
    return cp;
}

/* s's n bytes into out (room for 4n): a control character (a file name's newline or escape sequence) as
 * \n, \r, \t or \xHH, one of UTF-8 (hidden_control) as \uHHHH, a byte that is not UTF-8 as \xHH, and a
 * backslash as \\ (a name holding the text \x1b read as the escaped byte); but where keep is set (a
 * message: a build log's backslashes kept) a tab as it is and a newline (a build log's lines in a
 * message) followed by two blanks, so that no line a name holds reads as a message of vggcl's. Its
 * length. */
static size_t escape_controls(const char *s, size_t n, char *out, int keep)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char c = u[i];
        int len = c < 0x80 ? 1 : 0;
        if (!len) { /* (a sequence cut by n is not UTF-8 either) */
            const int want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            len = n - i >= (size_t)want ? cli_utf8_len(u + i) : 0;
        }
        if (len > 1) {
            const unsigned long cp = cli_code_point(u + i, len);
            if (hidden_control(cp)) o += (size_t)sprintf(out + o, "\\u%04lx", cp);
            else memcpy(out + o, u + i, (size_t)len), o += (size_t)len;
            i += (size_t)len;
            continue;
        }
        i++;
        if (keep && c == '\n') out[o++] = '\n', out[o++] = ' ', out[o++] = ' ';
        else if (!keep && c == '\\') out[o++] = '\\', out[o++] = '\\';
        else if ((c >= 0x20 && c < 0x7f) || (keep && c == '\t')) out[o++] = (char)c;
        else if (c == '\n' || c == '\r' || c == '\t') out[o++] = '\\', out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        else o += (size_t)sprintf(out + o, "\\x%02x", c);
    }
    return o;
}

char *cli_text(const char *s)
{
    const size_t n = strlen(s);
    char *out = malloc(4 * n + 1);
    if (out) out[escape_controls(s, n, out, 0)] = '\0';
    return out;
}

static char prefix[48] = "vggcl: "; /* (cli_messages_name) */

void cli_messages_name(int shard, int of) { snprintf(prefix, sizeof prefix, "vggcl: shard %d/%d: ", shard, of); }

const char *cli_messages_prefix(void) { return prefix; }

static int holding; /* the messages held back (cli_messages_hold), in held */
static char *held;
static size_t held_len;

void cli_messages_hold(int on) { holding = on; }

char *cli_messages_take(size_t *len)
{
    char *h = held;
    *len = held_len, held = NULL, held_len = 0;
    return h;
}

void cli_messages_flush(void)
{
    size_t len;
    char *h = cli_messages_take(&len);
    if (h) fwrite(h, 1, len, stderr);
    free(h);
}

/* Whether a message's line (o bytes) was held back: else it is printed (out of memory for it too). */
static int held_back(const char *line, size_t o)
{
    char *grown = holding ? realloc(held, held_len + o) : NULL;
    if (!grown) return 0;
    memcpy(grown + held_len, line, o);
    held = grown, held_len += o;
    return 1;
}

/* The message as one write (stderr is unbuffered: in three, another process's lines on the same pipe, such
 * as mpirun's, could land between its text and its newline), a file name's control characters escaped (a
 * name could draw on the terminal, or forge a line of its own). */
static int say(int code, int notice, const char *fmt, va_list ap)
{
    char line[8192], out[4 * sizeof line];
    const int at = (int)strlen(prefix);
    memcpy(line, prefix, (size_t)at + 1);
    va_list again;
    va_copy(again, ap);
    const int n = vsnprintf(line + at, sizeof line - at - 1, fmt, ap);
    char *big = n >= (int)sizeof line - at - 1 ? malloc((size_t)n + at + 1) : NULL; /* (a kernel's build log) */
    char *big_out = big ? malloc(4 * ((size_t)n + at) + 1) : NULL;
    if (big_out) memcpy(big, line, at), vsnprintf(big + at, (size_t)n + 1, fmt, again);
    if (n >= 0 && (n < (int)sizeof line - at - 1 || big_out)) {
        char *o_buf = big_out ? big_out : out;
        size_t o = escape_controls(big_out ? big : line, (size_t)(at + n), o_buf, 1);
        o_buf[o++] = '\n';
        if (!held_back(o_buf, o)) cli_progress_put(o_buf, o);
        if (notice) cli_ranks_noticed(o_buf, o);
    } else { /* (out of memory for a longer one: its start, escaped all the same) */
        if (n < 0) snprintf(line + at, sizeof line - at, "(a message that could not be formatted)");
        size_t o = escape_controls(line, strlen(line), out, 1);
        out[o++] = '\n';
        if (!held_back(out, o)) cli_progress_put(out, o);
    }
    free(big), free(big_out);
    va_end(again);
    return code;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    if (code == CLI_USAGE && !usage_said) return code;
    va_start(ap, fmt);
    say(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int cli_error_here(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

const char *cli_skipped_text(int skipped, int total, char *buf, size_t len)
{
    if (total == 1) snprintf(buf, len, "the image was skipped");
    else snprintf(buf, len, "%d of %d images were skipped", skipped, total);
    return buf;
}

void cli_notice(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(CLI_OK, 1, fmt, ap);
    va_end(ap);
}

void cli_pool5_note(const char *weights, const vggcl_load_options *opts, const vggcl_model *model)
{
    const char *said = vggcl_model_metadata(model, "vggcl.pool5");
    const int kept = vggcl_model_pool5(model);
    if (!said || opts->pool5 == VGGCL_POOL5_AUTO || !strcmp(said, kept ? "keep" : "drop")) return;
    cli_notice("%s: its head was made for pool5 %s (its metadata \"vggcl.pool5\"); --pool5 %s gives it features "
               "it was not trained on (vggcl train-head --pool5 %s makes a head for them)", weights,
               kept ? "dropped" : "kept", kept ? "keep" : "drop", kept ? "keep" : "drop");
}

void cli_pool5_compare_note(const char *weights, const vggcl_model *model)
{
    const char *said = vggcl_model_metadata(model, "vggcl.pool5");
    if (!said || (strcmp(said, "keep") && strcmp(said, "drop"))) {
        cli_notice("%s: says not which pool5 its head was made for (no metadata \"vggcl.pool5\"): one of "
                   "--compare-pool5's panels gives it features it was not trained on", weights);
        return;
    }
    const int kept = !strcmp(said, "keep");
    cli_notice("%s: its head was made for pool5 %s (its metadata \"vggcl.pool5\"); --compare-pool5's pool5-%s panel "
               "gives it features it was not trained on (vggcl train-head --pool5 %s makes a head for them)", weights,
               kept ? "kept" : "dropped", kept ? "dropped" : "kept", kept ? "drop" : "keep");
}

int cli_model_opts(const char *cmd, const char *pool5, const char *conv, vggcl_load_options *opts)
{
    if (pool5 && !strcmp(pool5, "keep")) opts->pool5 = VGGCL_POOL5_KEEP;
    else if (pool5 && !strcmp(pool5, "drop")) opts->pool5 = VGGCL_POOL5_DROP;
    else if (pool5) return cli_error(CLI_USAGE, "%s: --pool5 must be keep or drop, not '%s'", cmd, pool5);
    if (!conv || !strcmp(conv, "auto")) opts->conv = VGGCL_CONV_AUTO;
    else if (!(opts->conv = vggcl_conv_algorithm(conv)))
        return cli_error(CLI_USAGE, "%s: --conv must be auto, direct, winograd, gemm, winograd-gpu or winograd-packed, not '%s'", cmd,
                         conv);
    return 0;
}

int cli_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10); /* (digits only: strtol also takes leading blanks and a sign) */
    if (*end || !isdigit((unsigned char)v[0]) || x < lo || x > hi)
        return cli_error(CLI_USAGE, "%s: %s must be an integer from %d to %d, not '%s'", cmd, opt, lo, hi, v);
    *out = (int)x;
    return 0;
}

int cli_number(const char *v, double *out)
{
    const char *digits = v + (v[0] == '-');
    char *end;
    errno = 0;
    double x = strtod(v, &end); /* (a decimal only: strtod also takes blanks, '+', hex, inf and nan first) */
    if (end == v || *end || errno == ERANGE || !(isdigit((unsigned char)digits[0]) || digits[0] == '.') ||
        strpbrk(v, "xX"))
        return 0;
    *out = x;
    return 1;
}

int cli_sides(const char *v, long *h, long *w, int *pair)
{
    char *end;
    *h = *w = strtol(v, &end, 10);
    const int two = *end == 'x' && isdigit((unsigned char)end[1]);
    if (two) *w = strtol(end + 1, &end, 10);
    if (pair) *pair = two;
    return !*end && isdigit((unsigned char)v[0]);
}

int cli_size(const char *cmd, const char *v, int *h, int *w)
{
    long lh, lw;
    if (!cli_sides(v, &lh, &lw, NULL) || lh < 1 || lw < 1 || lh > 8192 || lw > 8192)
        return cli_error(CLI_USAGE, "%s: --size must be H or HxW (1 to 8192), not '%s'", cmd, v);
    *h = (int)lh, *w = (int)lw;
    return 0;
}

void cli_csv_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void log_stderr(void *user, const char *msg)
{
    (void)user;
    cli_notice("%s", msg); /* (no "...": the notes are not all of work begun) */
}

vggcl_ctx *cli_ctx_new(void)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    if (ctx) vggcl_set_log(ctx, log_stderr, NULL);
    return ctx;
}

const char *cli_device_label(const vggcl_ctx *ctx, char *buf, size_t len)
{
    if (vggcl_device_index(ctx) < 0) snprintf(buf, len, "%s", vggcl_device_name(ctx));
    else snprintf(buf, len, "device %d (%s)", vggcl_device_index(ctx), vggcl_device_name(ctx));
    return buf;
}

/* What makes device d compute as it does, as text (cli_device_kind). */
static const char *kind_text(const vggcl_device_info *d, char *buf, size_t len)
{
    snprintf(buf, len, "%s (%s, %s, %s, driver %s, local memory %llu, work-groups of %llu)", d->name, d->platform_name,
             d->type, d->version, d->driver, d->local_mem, d->max_work_group);
    return buf;
}

int cli_device_info(const vggcl_ctx *ctx, vggcl_device_info *out)
{
    int count, found = 0;
    vggcl_device_info *info = NULL;
    if (vggcl_device_index(ctx) < 0 || !(info = cli_list_devices(&count))) return 0;
    for (int k = 0; k < count && !found; k++)
        if (info[k].index == vggcl_device_index(ctx)) *out = info[k], found = 1;
    free(info);
    return found;
}

const char *cli_device_kind_of(const vggcl_ctx *ctx, const vggcl_device_info *d, char *buf, size_t len)
{
    if (d) return kind_text(d, buf, len);
    snprintf(buf, len, "%s", vggcl_device_name(ctx)); /* (the reference; a device that cannot be listed) */
    return buf;
}

const char *cli_device_kind(const vggcl_ctx *ctx, char *buf, size_t len)
{
    vggcl_device_info d;
    return cli_device_kind_of(ctx, cli_device_info(ctx, &d) ? &d : NULL, buf, len);
}

/* s[0..*len) without the blanks around it: where it starts, and its *len (a list item's, an option's value). */
static const char *unblanked(const char *s, size_t *len)
{
    size_t lead = strspn(s, CLI_BLANKS);
    lead = lead < *len ? lead : *len;
    s += lead, *len -= lead;
    while (*len && strchr(CLI_BLANKS, s[*len - 1])) --*len;
    return s;
}

int cli_select_device(const char *cmd, vggcl_ctx *ctx, const char *spec, const char *option)
{
    if (vggcl_select_device(ctx, spec) == VGGCL_OK) return CLI_OK;
    if (!option) return cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
    size_t len = strlen(option);
    option = unblanked(option, &len); /* (a list's too, as said) */
    return cli_error(CLI_FAIL, "%s: --device %.*s: %s", cmd, (int)len, option, vggcl_message(ctx));
}

/* A new context on the device: CLI_OK, or CLI_FAIL with the error printed (the caller frees *ctx, NULL
 * when not made, either way). */
static int open_device(const char *cmd, const char *device, const char *option, vggcl_ctx **ctx)
{
    if (!(*ctx = cli_ctx_new())) return cli_error(CLI_FAIL, "out of host memory");
    return cli_select_device(cmd, *ctx, device, option);
}

/* Whether the model takes the size p makes every image (cli_preset_size: the crop, else a resize of both sides;
 * none: each image's own is checked as it comes): CLI_OK, else said (CLI_USAGE where --crop or --resize gave it,
 * CLI_FAIL where the model's metadata did). (Else classify failed at its first pass, cam and bench --images
 * skipped every image, and preprocess --weights wrote a tensor the model does not take.) */
static int size_taken(const char *cmd, vggcl_ctx *ctx, const vggcl_model *model, const vggcl_preprocess *p,
                      int crop_given, int resize_given, const char *made)
{
    char why[256], said[32];
    int h, w;
    cli_preset_size(p, &h, &w);
    if (!model || !h) return CLI_OK;
    const int refused = cli_size_refused(&model, 1, h, w, why, sizeof why) != NULL;
    /* (one image too large for the device: said before any is decoded, naming what made the size, not after the
     * first image's decoding, gigabytes and seconds at 16384 x 16384, as "give smaller images") */
    if (!refused && (!ctx || vggcl_check_batch(ctx, model, 1, h, w) == VGGCL_OK)) return CLI_OK;
    const int crop = p->crop > 0, given = crop ? crop_given : resize_given;
    if (crop) snprintf(said, sizeof said, "%d", p->crop);
    else cli_resize_text(p, given ? 'x' : ',', said, sizeof said);
    /* (under mpirun a rank's own model, read on its machine, may be the one refusing it: said by that rank where
     * the ranks' messages are gathered, once where alike; by rank 0 alone in a command every rank runs whole) */
    int (*const say)(int, const char *, ...) = cli_ranks_gathering() ? cli_error_here : cli_error;
    const char *option = crop ? "crop" : "resize";
    if (!refused && given) /* (the device's memory, this rank's own: not a mistake in the command line) */
        return say(CLI_FAIL, "%s: --%s %s, %s: %s", cmd, option, said, made, vggcl_message(ctx));
    if (!refused)
        return say(CLI_FAIL, "%s: the model's %s (its metadata \"vggcl.%s\") %s, %s: %s", cmd, option, option, said,
                   made, vggcl_message(ctx));
    if (given) return say(CLI_USAGE, "%s: --%s %s: %s", cmd, option, said, why);
    return cli_error(CLI_FAIL, "%s: the model's %s (its metadata \"vggcl.%s\") %s: %s", cmd, option, option, said, why);
}

int cli_model_preset(const char *cmd, vggcl_ctx *ctx, const vggcl_model *model, vggcl_preprocess *p,
                     const char *made)
{
    const int crop_given = p->crop >= 0, resize_given = p->resize >= 0;
    const vggcl_status st = vggcl_model_preprocess(ctx, model, p);
    /* (every image padded, unsaid; by the first rank alone, as a usage error: preprocess asks before MPI starts) */
    const int least = p->resize_w > 0 && p->resize_w < p->resize ? p->resize_w : p->resize; /* (a side made) */
    if (st == VGGCL_OK && p->resize > 0 && p->crop > least && cli_usage_said()) {
        vggcl_preprocess wide = *p; /* (the resize that keeps the crop within the image, its sides so at least) */
        if (p->resize_w > 0) {
            wide.resize = p->resize > p->crop ? p->resize : p->crop;
            wide.resize_w = p->resize_w > p->crop ? p->resize_w : p->crop;
        } else {
            wide.resize = p->crop;
        }
        char resize[24], enough[24];
        cli_notice("the resize (%s) is below the crop (%d): every image is padded to the crop with black (0 before "
                   "normalizing), as torchvision's CenterCrop pads it; --crop %d, or --resize %s%s, keeps only pixels",
                   cli_resize_text(p, 'x', resize, sizeof resize), p->crop, least,
                   cli_resize_text(&wide, 'x', enough, sizeof enough), p->resize_w > 0 ? ", or --no-crop" : "");
    } else if (st == VGGCL_OK && resize_given && p->resize_w > 0 && !crop_given && p->crop > 0 &&
               !(model && vggcl_model_metadata(model, "vggcl.crop")) &&
               (p->resize != p->crop || p->resize_w != p->crop) && cli_usage_said()) {
        /* (Resize((H, W)) alone is the likely recipe: the default crop cut it unsaid) */
        char resize[24];
        cli_notice("--resize %s is followed by the default crop, %d (torchvision's, after its Resize(256)%s): every "
                   "image is cut to %d x %d; --no-crop for a Resize((H, W)) alone",
                   cli_resize_text(p, 'x', resize, sizeof resize), p->crop, model ? "; the model names none" : "",
                   p->crop, p->crop);
    }
    if (st == VGGCL_OK) return size_taken(cmd, made ? ctx : NULL, model, p, crop_given, resize_given, made);
    const char *why = ctx ? vggcl_message(ctx) : "out of host memory";
    if (st == VGGCL_ERR_ARG) /* (the only ones: a --mean and --std given that no image can take, or above 1) */
        return cli_error(CLI_USAGE, "%s: --mean/--std: %s", cmd, why);
    return cli_error(CLI_FAIL, "%s", why);
}

/* The model loaded with opts on ctx's device, and with p the preprocessing options not given taken from
 * the model (cli_model_preset). Returns CLI_OK, or CLI_FAIL with the error printed, after the device's
 * label when one of several (labelled) (CLI_USAGE: a --mean and --std given that no image can take, a --crop
 * the model does not take, said naming cmd); the caller frees *model (NULL when not made) either way. */
static int load_model(const char *cmd, vggcl_ctx *ctx, const char *weights, const vggcl_load_options *opts,
                      vggcl_preprocess *p, int labelled, vggcl_model **model)
{
    if (vggcl_model_load(ctx, weights, opts, model) == VGGCL_OK)
        return p ? cli_model_preset(cmd, ctx, *model, p, CLI_IMAGES_MADE) : CLI_OK;
    char label[320];
    if (labelled) return cli_error(CLI_FAIL, "%s: %s", cli_device_label(ctx, label, sizeof label), vggcl_message(ctx));
    return cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
}

vggcl_device_info *cli_list_devices_why(int *count, char *why, size_t len)
{
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_device_info *info = NULL;
    int cap = 0, listed = 0;
    *count = 0;
    /* the count, then all of them (again where a device came meanwhile: more than the count were there) */
    for (int tries = 0; ctx && tries < 4 && !listed; tries++) {
        if (vggcl_list_devices(ctx, info, cap, count) != VGGCL_OK) break;
        if (*count <= cap && info) {
            listed = 1;
            break;
        }
        free(info);
        cap = *count;
        if (!(info = calloc((size_t)(cap ? cap : 1), sizeof *info))) break;
    }
    if (!listed) {
        snprintf(why, len, "%s", ctx && *vggcl_message(ctx) ? vggcl_message(ctx) : "out of host memory");
        free(info), info = NULL;
    }
    vggcl_ctx_free(ctx);
    return info;
}

vggcl_device_info *cli_list_devices(int *count)
{
    char why[8192];
    vggcl_device_info *info = cli_list_devices_why(count, why, sizeof why);
    if (!info) cli_error(CLI_FAIL, "%s", why);
    return info;
}

/* Whether two devices compute alike: of one kind (kind_text: name, driver and limits; not their compute units
 * or memory, which no choice of algorithm reads), so that one tuning table and the same default algorithms serve
 * both (their answers agree bit for bit, as a box's GPUs of one kind). */
static int same_kind(const vggcl_device_info *a, const vggcl_device_info *b)
{
    char ka[1024], kb[1024];
    return !strcmp(kind_text(a, ka, sizeof ka), kind_text(b, kb, sizeof kb));
}

int cli_all_devices(int *index, int cap, int one_kind_only)
{
    int count, gpus = 0, n = 0, unlike = 0, over = 0;
    vggcl_device_info *info = cli_list_devices(&count);
    if (!info) return -1;
    for (int i = 0; i < count; i++) gpus += !strcmp(info[i].type, "GPU");
    const vggcl_device_info *first = NULL;
    for (int i = 0; i < count; i++) {
        if (gpus && strcmp(info[i].type, "GPU")) continue;
        if (!first) first = &info[i];
        if (one_kind_only && !same_kind(first, &info[i])) unlike++;
        else if (n < cap) index[n++] = info[i].index;
        else over++;
    }
    /* (devices of another kind would make the rows depend on which device was free: their last bits differ) */
    char why[160] = "";
    if (over) snprintf(why, sizeof why, "; %d more of that kind left out (at most %d)", over, cap);
    if (unlike)
        cli_error(CLI_OK, "--device all: the %d device%s of device %d's kind (%s)%s; %d of other kinds left out, whose "
                          "answers differ in their last bits (the rows would depend on which one was free): list "
                          "devices of one kind to choose them", n, n == 1 ? "" : "s", first->index, first->name, why,
                  unlike);
    else if (over && one_kind_only) /* (a rank's pick: its local rank's among the first cap) */
        cli_error(CLI_OK, "--device all: %d devices%s", n, why);
    free(info);
    return n;
}

size_t cli_list_item(const char **s, char *item, size_t cap)
{
    const size_t all = strcspn(*s, ",");
    size_t len = all;
    const char *from = unblanked(*s, &len); /* (white space around an item: "0, 1" is 0 and 1) */
    if (len && len < cap) memcpy(item, from, len), item[len] = '\0';
    *s = (*s)[all] ? *s + all + 1 : NULL;
    return len;
}

/* Whether a list's devices compute alike (same_kind): else CLI_USAGE said, naming two that differ (said
 * here, whatever rank this is: the devices are this machine's). */
static int one_kind(const char *cmd, const cli_devices *d, const char *device, const char *from)
{
    int count, rc = CLI_OK;
    if (vggcl_device_index(d->ctx[0]) < 0) return CLI_OK; /* (ref, all of them: refused with OpenCL devices) */
    vggcl_device_info *info = cli_list_devices(&count);
    if (!info) return CLI_FAIL;
    const vggcl_device_info *first = NULL;
    for (int i = 0; i < d->n && rc == CLI_OK; i++) {
        const int at = vggcl_device_index(d->ctx[i]);
        const vggcl_device_info *here = NULL;
        for (int k = 0; k < count && !here; k++)
            if (info[k].index == at) here = &info[k];
        if (!here) continue;
        if (!first) first = here;
        else if (!same_kind(first, here))
            rc = cli_error_here(CLI_USAGE, "%s: --device %s%s: device %d (%s, driver %s) and device %d (%s, driver %s) "
                                "are of different kinds, whose answers differ in their last bits: a run would depend "
                                "on which one was free; list devices of one kind", cmd, device, from, first->index,
                                first->name, first->driver, here->index, here->name, here->driver);
    }
    free(info);
    return rc;
}

const char *cli_trimmed(const char *s, char *buf, size_t cap)
{
    if (!s) return NULL;
    const char *from = s;
    size_t len = cli_list_item(&from, buf, cap); /* (one item: s holds no comma where this is asked) */
    return strchr(s, ',') || len >= cap ? s : len ? buf : "";
}

/* Whether a --device spec names several devices: all, or a list. */
static int several_devices(const char *spec) { return spec && (!strcasecmp(spec, "all") || strchr(spec, ',')); }

int cli_open_models(const char *cmd, const char *device, const char *option, const char *weights,
                    const vggcl_load_options *opts, vggcl_preprocess *p, cli_devices *d)
{
    char specs[CLI_MAX_DEVICES][64], trimmed[256];
    int n = 0;
    memset(d, 0, sizeof *d);
    const char *given = device; /* (never empty: cli_parse refuses that, which the library read as not given) */
    if (!device) device = getenv("VGGCL_DEVICE"); /* (all or a list from the environment too) */
    if ((device = cli_trimmed(device, trimmed, sizeof trimmed)) && !*device && given)
        return cli_error(CLI_USAGE, "%s: --device is blank: give SPEC (see --help)", cmd);
    const char *from = given ? "" : " ($VGGCL_DEVICE)";
    /* a mistake in the environment's list may be this rank's alone (its machine's VGGCL_DEVICE): said here */
    int (*const say)(int, const char *, ...) = given ? cli_error : cli_error_here;
    if (device && !strcasecmp(device, "all")) {
        int index[CLI_MAX_DEVICES];
        if ((n = cli_all_devices(index, CLI_MAX_DEVICES, 1)) < 0) return CLI_FAIL;
        for (int i = 0; i < n; i++) snprintf(specs[i], sizeof specs[0], "%d", index[i]);
    } else if (several_devices(device)) {
        int refs = 0;
        for (const char *s = device; s;) { /* (empty items meant the default device, more than 16 were dropped) */
            if (n == CLI_MAX_DEVICES)
                return say(CLI_USAGE, "%s: --device %s%s: more than %d devices", cmd, device, from, CLI_MAX_DEVICES);
            const size_t len = cli_list_item(&s, specs[n], sizeof specs[0]);
            if (!len || len >= sizeof specs[0])
                return say(CLI_USAGE, "%s: --device %s%s: device %d of the list is %s", cmd, device, from, n + 1,
                                 len ? "longer than 63 bytes" : "empty");
            if (!strcasecmp(specs[n], "all"))
                return say(CLI_USAGE, "%s: --device %s%s: all is every device, not an item of a list", cmd, device,
                           from);
            refs += !strcasecmp(specs[n++], "ref");
        }
        if (refs && refs < n) /* (their last bits differ: the rows would depend on which device was free) */
            return say(CLI_USAGE, "%s: --device %s%s: ref and OpenCL devices together, whose answers differ in "
                             "their last bits: a run would depend on which one was free; list one kind", cmd, device,
                             from);
    } else {
        d->n = 1; /* (none given: the library reads $VGGCL_DEVICE and names it in its messages) */
        if (open_device(cmd, given, option, &d->ctx[0]) != CLI_OK) return CLI_FAIL;
        return load_model(cmd, d->ctx[0], weights, opts, p, 0, &d->model[0]);
    }
    if (!n) return cli_error(CLI_FAIL, "%s: --device %s: no device", cmd, device);
    for (int i = 0; i < n; i++) { /* the devices, and whether they are of one kind, before any model loads */
        d->n = i + 1;
        if (open_device(cmd, specs[i], option, &d->ctx[i]) != CLI_OK)
            return given ? CLI_FAIL : cli_error(CLI_FAIL, "(the devices of $VGGCL_DEVICE=%s)", device);
    }
    const int kinds = one_kind(cmd, d, device, from);
    if (kinds != CLI_OK) return kinds;
    for (int i = 0; i < n; i++) {
        const int rc = load_model(cmd, d->ctx[i], weights, opts, i ? NULL : p, 1, &d->model[i]);
        if (rc != CLI_OK) return rc; /* (CLI_USAGE: the --mean and --std given) */
    }
    return CLI_OK;
}

int cli_named_fifo(const char *path)
{
    struct stat sb;
    return vggcl_output_descriptor(path) < 0 && stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode);
}

int cli_one_device(const char *cmd, const char *given)
{
    char trimmed[256];
    const char *spec = cli_trimmed(given, trimmed, sizeof trimmed);
    if (given && !*spec) return cli_error(CLI_USAGE, "%s: --device is blank: give SPEC (see --help)", cmd);
    size_t len = spec ? strlen(spec) : 0;
    const char *shown = spec ? unblanked(spec, &len) : NULL;
    if (several_devices(spec)) /* ($VGGCL_DEVICE's all or list: its first device, which the library takes) */
        return cli_error(CLI_USAGE, "%s: --device %.*s: this command runs on one device (all and lists are for "
                                    "classify, eval and train-head)", cmd, (int)len, shown);
    return CLI_OK;
}

void cli_close_models(cli_devices *d)
{
    for (int i = 0; i < d->n; i++) vggcl_model_free(d->model[i]), vggcl_ctx_free(d->ctx[i]);
    memset(d, 0, sizeof *d);
}

int cli_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    const int n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* Columns a code point takes on a terminal, as the common blocks have it (an approximation of wcwidth): 0 for
 * combining marks (Latin, Cyrillic, Hebrew, Arabic, Thai, Devanagari's signs) and zero-width ones, 2 for CJK,
 * Hangul, fullwidth forms and the emoji blocks, else 1. */
static int columns_of(unsigned cp)
{
    static const unsigned zero[][2] = {
        { 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x0610, 0x061A }, { 0x064B, 0x065F },
        { 0x0670, 0x0670 }, { 0x0900, 0x0902 }, { 0x093A, 0x093A }, { 0x093C, 0x093C }, { 0x0941, 0x0948 },
        { 0x094D, 0x094D }, { 0x0951, 0x0957 }, { 0x0962, 0x0963 }, { 0x0E31, 0x0E31 }, { 0x0E34, 0x0E3A },
        { 0x0E47, 0x0E4E }, { 0x1160, 0x11FF }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F },
        { 0x202A, 0x202E }, { 0x2060, 0x2064 }, { 0x20D0, 0x20FF }, { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F },
        { 0xFEFF, 0xFEFF }
    };
    static const unsigned wide[][2] = {
        { 0x1100, 0x115F }, { 0x2E80, 0x303E }, { 0x3041, 0x33FF }, { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF },
        { 0xA000, 0xA4CF }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF }, { 0xFE30, 0xFE4F }, { 0xFF00, 0xFF60 },
        { 0xFFE0, 0xFFE6 }, { 0x1F300, 0x1F64F }, { 0x1F680, 0x1F6FF }, { 0x1F900, 0x1F9FF }, { 0x1FA70, 0x1FAFF },
        { 0x20000, 0x3FFFD }
    };
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (cp >= zero[i][0] && cp <= zero[i][1]) return 0;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1]) return 2;
    return 1;
}

int cli_columns(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int cols = 0;
    while (*u) {
        const int n = cli_utf8_len(u);
        if (!n) { /* (a byte that is not UTF-8: one column, as a terminal's U+FFFD) */
            cols++, u++;
            continue;
        }
        unsigned cp = n == 1 ? u[0] : u[0] & (0x7F >> n);
        for (int i = 1; i < n; i++) cp = cp << 6 | (u[i] & 0x3F);
        cols += columns_of(cp), u += n;
    }
    return cols;
}

int cli_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int n;
    while (*u && (n = cli_utf8_len(u)) > 0) u += n;
    return !*u;
}

/* Whether name holds a combining accent (U+0300..U+036F). */
static int decomposed(const char *name)
{
    const unsigned char *u = (const unsigned char *)name;
    for (int n; u && *u; u += n > 0 ? n : 1)
        if ((n = cli_utf8_len(u)) > 1 && cli_code_point(u, n) >= 0x0300 && cli_code_point(u, n) <= 0x036F) return 1;
    return 0;
}

/* Whether a and b are other bytes that differ only in the case of ASCII letters (the bytes themselves: no locale's
 * rules, which a run under another LANG would change). */
static int differs_in_case(const char *a, const char *b)
{
    if (!strcmp(a, b)) return 0;
    for (; *a && *b; a++, b++) {
        const char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a,
                   y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

const char *cli_missing_name_hint(const char *name, const char *const *names, int n, const char *of, char *buf,
                                  size_t len)
{
    for (int k = 0; k < n; k++) /* (a folder Cat for the class cat: a model trained on other folders' names) */
        if (names[k] && differs_in_case(name, names[k])) {
            snprintf(buf, len, " (folder '%.200s' differs only in case from %s '%.200s': names are case-sensitive, "
                     "to ImageFolder as to vggcl)", name, of, names[k]);
            return buf;
        }
    int any = decomposed(name);
    for (int k = 0; k < n && !any; k++) any = decomposed(names[k]);
    return any ? " (a name here holds a combining accent, as macOS writes names, decomposed: the same name written "
                 "with the accented letter itself is another name, to ImageFolder as to vggcl)"
               : "";
}

const char *cli_shortest(double v, int as_float, char *buf, size_t len)
{
    /* bisected, as the counts that read back are a run up to 17 but at a power of two, where 16 can fail after
     * 15 passed (the values that read back reach half as far below it): the bisection tries 16 only where 15
     * failed, so it gives the shortest all the same (checked against trying them one by one over every power of
     * two and millions of others). A probability in JSON needs 16 or 17, which one by one took 17 tries each
     * (classify --top 1000: 34 s). */
    int lo = 1, hi = as_float ? 9 : 17; /* (17 always reads back, 9 a float) */
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        snprintf(buf, len, "%.*g", mid, v);
        if (as_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) hi = mid;
        else lo = mid + 1;
    }
    snprintf(buf, len, "%.*g", hi, v);
    return buf;
}

void cli_rgb_text(const float *v, char *buf, size_t len)
{
    char one[3][32];
    snprintf(buf, len, "%s,%s,%s", cli_shortest(v[0], 1, one[0], 32), cli_shortest(v[1], 1, one[1], 32),
             cli_shortest(v[2], 1, one[2], 32));
}

const char *cli_resize_text(const vggcl_preprocess *p, char sep, char *buf, size_t len)
{
    if (p->resize_w > 0) snprintf(buf, len, "%d%c%d", p->resize, sep, p->resize_w);
    else snprintf(buf, len, "%d", p->resize);
    return buf;
}

const char *cli_preprocess_text(const vggcl_preprocess *p, char *buf, size_t len)
{
    char sides[24], resize[32] = "no resize", crop[24] = "no crop", mean[64], std[64];
    if (p->resize) snprintf(resize, sizeof resize, "resize %s", cli_resize_text(p, 'x', sides, sizeof sides));
    if (p->crop) snprintf(crop, sizeof crop, "crop %d", p->crop);
    cli_rgb_text(p->mean, mean, sizeof mean), cli_rgb_text(p->std, std, sizeof std);
    snprintf(buf, len, "%s, %s, mean %s, std %s%s", resize, crop, mean, std, p->draft ? ", draft" : "");
    return buf;
}

/* n numbers v as a JSON array added to o as name, each as a float's shortest text (0.485, not 0.485000014) where
 * as_float, else as a whole number; NULL where it could not be made. */
static cJSON *add_numbers(cJSON *o, const char *name, const float *v, const int *whole, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, name);
    for (int k = 0; a && k < n; k++) {
        char text[32];
        cJSON *item = whole ? cJSON_CreateNumber(whole[k]) : cJSON_CreateRaw(cli_shortest(v[k], 1, text, sizeof text));
        if (!item || !cJSON_AddItemToArray(a, item)) return cJSON_Delete(item), NULL;
    }
    return a;
}

cJSON *cli_json_preprocess(cJSON *o, const vggcl_preprocess *p)
{
    cJSON *pre = cJSON_AddObjectToObject(o, "preprocess");
    if (!pre) return NULL;
    /* the resize as torchvision's Resize takes its size: [N] the short side, [H, W] both; null: none */
    const int sides[2] = { p->resize, p->resize_w };
    const int sized = !p->resize ? !!cJSON_AddNullToObject(pre, "resize")
                                 : !!add_numbers(pre, "resize", NULL, sides, p->resize_w > 0 ? 2 : 1);
    return sized && cJSON_AddNumberToObject(pre, "crop", p->crop) && add_numbers(pre, "mean", p->mean, NULL, 3) &&
                   add_numbers(pre, "std", p->std, NULL, 3) && cJSON_AddBoolToObject(pre, "draft", p->draft)
               ? pre
               : NULL;
}

int cli_json_model(cJSON *o, const char *weights, const vggcl_model *model)
{
    return cJSON_AddItemToObject(o, "model", cli_json_string(weights)) &&
           cJSON_AddStringToObject(o, "pool5", vggcl_model_pool5(model) ? "keep" : "drop") != NULL;
}

cJSON *cli_json_add_exact(cJSON *o, const char *name, double v)
{
    char text[32];
    if (!isfinite(v)) return cJSON_AddNullToObject(o, name); /* (as cJSON prints them) */
    return cJSON_AddRawToObject(o, name, cli_shortest(v, 0, text, sizeof text));
}

/* An allocation through cJSON failed on this thread since the last cli_json_print: an object built without
 * checking each member may lack some (classify --format json printed lines without "prob", exit 0). */
static _Thread_local int json_short;

static void *json_malloc(size_t n) /* (cJSON's, and cli_json_string's own) */
{
    void *p = malloc(n);
    if (!p) json_short = 1;
    return p;
}

cJSON *cli_json_string(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;
    int n;
    /* (cJSON escapes the rest, but not the controls beyond ASCII: valid in JSON, NEL, U+2028 and U+2029 end a
     * line for readers that split as Python's splitlines does) */
    int plain = 1;
    for (i = 0; u[i] && plain; i += (size_t)n)
        plain = (n = cli_utf8_len(u + i)) > 0 && (n == 1 || !hidden_control(cli_code_point(u + i, n)));
    if (plain) return cJSON_CreateString(s);
    char *lit = json_malloc(6 * strlen(s) + 3), *p = lit;
    if (!lit) return NULL;
    *p++ = '"';
    for (i = 0; u[i];) {
        n = cli_utf8_len(u + i);
        if (!n) p += sprintf(p, "\\u%04x", 0xDC00 + u[i++]); /* (a byte that is not UTF-8, as Python's fsdecode) */
        else if (u[i] == '"' || u[i] == '\\') *p++ = '\\', *p++ = (char)u[i++];
        else if (u[i] < 0x20) p += sprintf(p, "\\u%04x", u[i++]);
        else if (n > 1 && hidden_control(cli_code_point(u + i, n)))
            p += sprintf(p, "\\u%04lx", cli_code_point(u + i, n)), i += (size_t)n;
        else memcpy(p, u + i, (size_t)n), p += n, i += (size_t)n;
    }
    *p++ = '"', *p = '\0';
    cJSON *raw = cJSON_CreateRaw(lit);
    free(lit);
    return raw;
}

int cli_json_print(cJSON *o)
{
    const int whole = !json_short;
    char *text = o && whole ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    json_short = 0;
    if (!text) return cli_error(CLI_FAIL, "out of host memory");
    puts(text);
    cJSON_free(text);
    return CLI_OK;
}

int cli_stdout_lost(int err)
{
    static int said;
    char eb[128];
    if (!said++)
        cli_error(CLI_FAIL, "cannot write standard output: %s",
                  err ? (strerror_r(err, eb, sizeof eb), eb) : "a write failed");
    return CLI_FAIL;
}

int cli_flush_stdout(void)
{
    errno = 0;
    return fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : cli_stdout_lost(errno);
}

/* The command's exit status, made a failure when what it printed did not all reach standard output (a
 * full disk, a closed descriptor): a batch job's answers file is not complete, and exit 0 would say so. */
static int stdout_written(int rc)
{
    /* a command that stopped between listing its images and taking its share, before MPI: on a usage error,
     * which the first rank alone says, with it alone (each rank said its listing's lines) */
    cli_messages_hold(0);
    size_t len;
    if (rc == CLI_USAGE && !cli_usage_said()) free(cli_messages_take(&len));
    cli_messages_flush();
    return cli_flush_stdout() == CLI_OK || rc != CLI_OK ? rc : CLI_FAIL;
}

static const struct {
    const char *name;
    int (*run)(int, char **);
    int shards; /* takes --shard (its option table has it): each such process says its own usage errors */
} commands[] = { { "devices", cmd_devices, 0 },       { "run", cmd_run, 0 },
                 { "bench", cmd_bench, 0 },           { "tune", cmd_tune, 0 },
                 { "preprocess", cmd_preprocess, 1 }, { "classify", cmd_classify, 1 },
                 { "cam", cmd_cam, 1 },               { "train-head", cmd_train_head, 0 },
                 { "eval", cmd_eval, 0 } };

static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        if (usage_said) fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    char *help_of[] = { argv[0], argc == 3 ? argv[2] : NULL, "--help", NULL };
    const int help = !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help");
    const int of_help = argc == 3 && (!strcmp(argv[2], "help") || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h") ||
                                      !strcmp(argv[2], "version") || !strcmp(argv[2], "--version"));
    if (help && argc == 3 && !of_help) { /* vggcl help CMD (or --help CMD, -h CMD): CMD --help */
        argv = help_of, cmd = argv[1];
    } else if (help || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        const int extra = help ? 3 : 2; /* (help takes one command; help help is help) */
        if (argc > extra || (argc == 3 && !(extra == 3 && of_help))) { /* (they were passed over, exit 0) */
            cli_error(CLI_USAGE, "%s takes %s ('%s')", cmd, extra == 3 ? "one command" : "no arguments",
                      argv[extra]);
            return CLI_USAGE;
        }
        if (usage_said && help) fputs(usage, stdout); /* (once under mpirun) */
        else if (usage_said) printf("vggcl %s\n", vggcl_version());
        return stdout_written(CLI_OK);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return stdout_written(commands[i].run(argc - 1, argv + 1));
    const char *meant = NULL; /* (a slip of one command's name alone: clasify, Classify) */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (cli_slip_of(cmd, strlen(cmd), commands[i].name)) meant = meant ? "" : commands[i].name;
    /* (the error and where the commands are: the whole help after it, 25 lines, pushed it out of view) */
    if (meant && *meant) cli_error(CLI_USAGE, "unknown command '%s' (%s?); `vggcl --help` lists them", cmd, meant);
    else cli_error(CLI_USAGE, "unknown command '%s'; `vggcl --help` lists the commands", cmd);
    return CLI_USAGE;
}

/* Descriptors 0-2 that the command was started without (`>&-`) held on /dev/null, opened the other way
 * round so that reading standard input or writing standard output fails as where it was closed: the first
 * output file opened took the number, and the lines printed went into it (a `--logits-out` that loaded with
 * every value wrong, exit 0). 0, or -1 where /dev/null cannot be opened. */
static int hold_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        const int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY); /* (the lowest free number: fd) */
        if (got != fd) {
            if (got >= 0) close(got);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (hold_standard_descriptors() != 0) {
        cli_error(CLI_FAIL, "started with a standard descriptor closed, and cannot open /dev/null in its place");
        return CLI_FAIL;
    }
    /* a write past a file size limit (ulimit -f) fails with EFBIG, said naming the file, and the output is
     * removed: the signal killed the command without a word (where no driver's library had caught it) */
    signal(SIGXFSZ, SIG_IGN);
    cJSON_InitHooks(&(cJSON_Hooks){ json_malloc, free }); /* (cli_json_print: an object short of a member) */
    int shards = 0;
    for (size_t i = 0; argc > 1 && i < sizeof commands / sizeof commands[0]; i++)
        shards |= !strcmp(argv[1], commands[i].name) && commands[i].shards;
    usage_said = cli_ranks_echo_usage(argc, argv, shards);
    const int rc = run_command(argc, argv);
    if (rc == CLI_USAGE && !usage_said) { /* a rank that leaves the mistake to rank 0 leaves after it: mpirun */
        const struct timespec later = { 1, 0 }; /* ends the job at the first failed exit, and rank 0's words */
        nanosleep(&later, NULL);                 /* were lost where a silent rank's came first (a loaded machine) */
    }
    return rc;
}
