/* vggcl bench: throughput of the forward pass, optionally per layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const cli_option options[] = {
    { "weights", "W.safetensors", "the model (default: --random)", 0 },
    { "random", NULL, "VGG16 with a 7-class GAP head and deterministic random weights", 0 },
    { "batch", "B", "images per batch (default 1; with --images 8, as classify)", 0 },
    { "size", "H[xW]", CLI_SIZE_HELP, 0 },
    { "iters", "N", "timed passes (default 10)", 0 },
    { "per-layer", NULL,
      "a table of device time per layer from OpenCL profiling events,\n"
      "each layer's median over min(N, 5) passes after the timed ones",
      0 },
    { "peak-gflops", "G", "the device's fp32 peak: the table adds each layer's share of it\n"
                          "(GFLOP/s as below, so Winograd layers can pass 100%)", 0 },
    { "json", NULL, "one JSON object on one line instead of text", 0 },
    { "images", "DIR", "run the real job instead: every image of DIR decoded, preprocessed\n"
                       "and classified in batches; reports end-to-end images/s and where the\n"
                       "time went (device, waiting for decoding, host, uploads), after the\n"
                       "start-up and a warm-up batch (a whole command's time includes them)", 0 },
    { "recursive", NULL, "--images DIR also stands for the images in the folders below it", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "bench", NULL,
    "Runs one warm-up pass, then N timed passes (input already on the device, logits\n"
    "read back each pass) and reports the median, min and max time per batch,\n"
    "images/s, convolution GFLOP/s, peak device memory, and the start-up cost\n"
    "(program builds: from vggcl's binary cache or compiled; the first pass, which\n"
    "includes the driver's first-use kernel compiles).\n"
    "\n"
    "GFLOP/s counts the direct convolution's arithmetic (2 per multiply-add), also\n"
    "for Winograd layers, which do fewer multiplies: it compares the algorithms.\n"
    "\n"
    "--recursive, --resize, --crop, --no-crop, --mean, --std, --draft, --no-draft,\n"
    "--threads (the image decoders) and --progress go with --images; --size, --iters,\n"
    "--per-layer and --peak-gflops without it. On a CPU the network's threads are\n"
    "PoCL's: POCL_MAX_PTHREAD_COUNT=N.\n",
    options, { cli_device_options, cli_net_options, cli_preprocess_options, cli_decode_options }, 0,
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* --per-layer profiles min(--iters, this) passes apart from the timed ones */
#define PROFILED_MAX 5

/* The device's kind into kind, and its compute units (0: not listed, as the reference), the devices listed once
 * (a listing that fails is said). */
static unsigned device_of_record(const vggcl_ctx *ctx, char *kind, size_t len)
{
    vggcl_device_info d;
    const int listed = cli_device_info(ctx, &d);
    cli_device_kind_of(ctx, listed ? &d : NULL, kind, len);
    return listed ? d.compute_units : 0;
}

/* Under a launcher every rank runs bench whole (its reports were alike): the rank count (1: none), this rank
 * and its machine's name (in host). */
static int rank_of(int *rank, char *host, size_t cap)
{
    if (gethostname(host, cap)) snprintf(host, cap, "?");
    host[cap - 1] = '\0'; /* (a name cut short may have no end) */
    return cli_ranks_launched(rank);
}

void cli_bench_record(cJSON *o, const vggcl_ctx *ctx, const vggcl_model *model, const char *weights, const char *conv,
                      int n, int h, int w)
{
    /* (two runs that differ in any of these gave the same record but for their times: a machine's cores given
     * to the driver, a driver's version, a model's pool5) */
    char kind[1024];
    const unsigned units = device_of_record(ctx, kind, sizeof kind);
    cJSON_AddStringToObject(o, "vggcl", vggcl_version());
    cJSON_AddStringToObject(o, "device", vggcl_device_name(ctx));
    cJSON_AddStringToObject(o, "device_kind", kind);
    if (units) cJSON_AddNumberToObject(o, "compute_units", units);
    cli_json_model(o, weights ? weights : "random vgg16-gap7", model); /* (cli_json_print says what is lost) */
    cJSON_AddStringToObject(o, "conv", cli_bench_conv(ctx, conv));
    /* (a table made by `vggcl tune` changes the times: two records of "auto" were alike with and without one) */
    cJSON_AddNumberToObject(o, "tuned_layers", vggcl_model_tuned_layers(ctx, model, n, h, w, NULL));
    int rank;
    char host[256];
    const int ranks = rank_of(&rank, host, sizeof host);
    if (ranks > 1) {
        cJSON_AddNumberToObject(o, "rank", rank);
        cJSON_AddNumberToObject(o, "ranks", ranks);
        cJSON_AddItemToObject(o, "host", cli_json_string(host));
    }
}

const char *cli_bench_conv(const vggcl_ctx *ctx, const char *conv)
{
    return vggcl_device_index(ctx) < 0 ? "reference" : conv ? conv : "auto";
}

void cli_bench_conv_text(const vggcl_ctx *ctx, const vggcl_model *model, const char *conv, int n, int h, int w,
                         char *buf, size_t len)
{
    int convs;
    const int tuned = vggcl_model_tuned_layers(ctx, model, n, h, w, &convs),
              kept = vggcl_model_table_layers(ctx, model, n, h, w, NULL, 0) - tuned;
    char rows[64] = ""; /* (a table of the defaults' rows read as "conv auto", as no table) */
    if (kept) snprintf(rows, sizeof rows, "; its rows for %d layer%s keep the defaults", kept, kept == 1 ? "" : "s");
    if (tuned || kept)
        snprintf(buf, len, "conv %s (%d of %d layers as the tuning table gives them%s)", cli_bench_conv(ctx, conv),
                 tuned, convs, rows);
    else
        snprintf(buf, len, "conv %s", cli_bench_conv(ctx, conv));
}

void cli_bench_table_note(const vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w)
{
    char note[8192]; /* (the table's path, up to the cache's longest, and why) */
    vggcl_model_table_layers(ctx, model, n, h, w, note, sizeof note);
    if (*note) cli_notice("%s", note);
}

void cli_bench_heading(const vggcl_ctx *ctx, const vggcl_model *model, const char *weights, const char *more)
{
    char kind[1024];
    const unsigned units = device_of_record(ctx, kind, sizeof kind);
    printf("device:        %s", kind);
    if (units) printf(", %u compute unit%s", units, units == 1 ? "" : "s");
    printf("; vggcl %s\n", vggcl_version());
    int rank;
    char host[256];
    const int ranks = rank_of(&rank, host, sizeof host);
    if (ranks > 1) {
        char *shown = cli_text(host);
        printf("rank:          %d of %d, on %s\n", rank, ranks, shown ? shown : host);
        free(shown);
    }
    char *shown = weights ? cli_text(weights) : NULL; /* (a newline in the name forged a line) */
    printf("model:         %s, pool5 %s, %s\n",
           !weights ? "VGG16-GAP (7 classes, random weights)" : shown ? shown : weights,
           vggcl_model_pool5(model) ? "kept" : "dropped", more);
    free(shown);
}

int cmd_bench(int argc, char **argv)
{
    cli_args a;
    int r = cli_parse(&command, argc, argv, &a);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_OK : r;
    const char *weights = cli_arg(&a, "weights"), *device = cli_arg(&a, "device"), *pool5 = cli_arg(&a, "pool5"),
               *batch_s = cli_arg_or(&a, "batch", cli_arg(&a, "images") ? "8" : "1"), /* (classify's, with images) */
               *size_s = cli_arg_or(&a, "size", "224"),
               *iters_s = cli_arg_or(&a, "iters", "10"), *conv = cli_arg(&a, "conv"),
               *peak_s = cli_arg(&a, "peak-gflops");
    const int per_layer = cli_arg(&a, "per-layer") != NULL, json = cli_arg(&a, "json") != NULL;
    if (weights && cli_arg(&a, "random")) return cli_error(CLI_USAGE, "bench: give --weights or --random, not both");
    if (!weights && cli_arg(&a, "head")) /* (the random model's head is classifier.0: --head was passed over) */
        return cli_error(CLI_USAGE, "bench: --head goes with --weights");
    int batch, iters, h, w;
    double peak_gflops = 0;
    if (cli_int("bench", "--batch", batch_s, 1, 4096, &batch) || cli_int("bench", "--iters", iters_s, 1, 100000, &iters) ||
        cli_size("bench", size_s, &h, &w))
        return CLI_USAGE;
    if (peak_s && !(cli_number(peak_s, &peak_gflops) && peak_gflops > 0 && peak_gflops <= 1e8))
        return cli_error(CLI_USAGE, "bench: --peak-gflops must be a number above 0 and up to 1e8, not '%s'", peak_s);
    int rank;
    static char report[1 << 16]; /* (a buffer of ours: glibc's own for a terminal is 1 KiB, whatever the size) */
    if (cli_ranks_launched(&rank) > 1) /* (mpirun's ranks write to a terminal: their reports' lines were mixed) */
        setvbuf(stdout, report, _IOFBF, sizeof report);
    vggcl_load_options opts = { VGGCL_POOL5_AUTO, cli_arg(&a, "head"), VGGCL_CONV_AUTO, 0 };
    if (cli_model_opts("bench", pool5, conv, &opts)) return CLI_USAGE;
    vggcl_preprocess p;
    int threads = 0;
    double progress_s = -1;
    vggcl_preprocess_unset(&p);
    /* (the decoding's options and the pixel bound with --images alone: a bad VGGCL_MAX_IMAGE_PIXELS was refused of a
     * run that reads no image) */
    if ((r = cli_preprocess_args("bench", &a, &p)) != CLI_OK ||
        (cli_arg(&a, "images") && (r = cli_decode_args("bench", &a, &threads, &progress_s))))
        return r;
    static const char *const images_only[] = { "resize", "crop", "no-crop", "mean", "std", "draft", "no-draft",
                                               "threads", "progress", "recursive" };
    for (size_t i = 0; !cli_arg(&a, "images") && i < sizeof images_only / sizeof images_only[0]; i++)
        if (cli_arg(&a, images_only[i])) /* (taken and ignored: a mistake unsaid) */
            return cli_error(CLI_USAGE, "bench: --%s goes with --images DIR%s", images_only[i],
                             strcmp(images_only[i], "threads") ? "" /* (the knob a user pinning vggcl looks for) */
                             : " (its image decoders; the network's threads on a CPU are PoCL's: "
                               "POCL_MAX_PTHREAD_COUNT=N)");
    static const char *const resident_only[] = { "size", "iters", "per-layer", "peak-gflops" };
    for (size_t i = 0; cli_arg(&a, "images") && i < sizeof resident_only / sizeof resident_only[0]; i++)
        if (cli_arg(&a, resident_only[i])) /* (the images give the size, their count the passes) */
            return cli_error(CLI_USAGE, "bench: --%s does not go with --images DIR (%s)", resident_only[i],
                             i < 2 ? "the images set the size and the number of passes"
                                   : "the layer table is of a batch on the device: run bench without --images");
    if (peak_s && !per_layer) return cli_error(CLI_USAGE, "bench: --peak-gflops goes with --per-layer");
    if (cli_one_device("bench", device) != CLI_OK) return CLI_USAGE;
    /* (`>> model.safetensors` appended the report to the weights, exit 0) */
    if (cli_stdout_check("bench", (const cli_file[]){ { "--weights", weights } }, 1) != CLI_OK) return CLI_USAGE;

    int rc = CLI_FAIL;
    float *x = NULL;
    double *ms = NULL, warmup = 0;
    vggcl_layer_profile *layers = NULL;
    double *layer_ms = NULL;
    int n_layers = 0, profiled = 0;
    vggcl_model *model = NULL;
    vggcl_ctx *ctx = cli_ctx_new();
    if (!ctx) return cli_error(CLI_FAIL, "out of host memory");
    if (cli_select_device("bench", ctx, device, device) != CLI_OK) goto done; /* (rc CLI_FAIL: said) */
    /* (said before the passes: the reference has no profiling; off again until the profiled passes) */
    if (per_layer && vggcl_device_index(ctx) < 0) { /* (the library's "select one first" is not the command's way) */
        rc = cli_error(CLI_USAGE, "bench: --per-layer profiling needs an OpenCL device: --device ref is the plain-C "
                       "reference, which has no profiling events (`vggcl devices` lists the others)");
        goto done;
    }
    if (per_layer && (vggcl_profile(ctx, 1) != VGGCL_OK || vggcl_profile(ctx, 0) != VGGCL_OK)) {
        rc = cli_error(CLI_USAGE, "bench: --per-layer %s", vggcl_message(ctx));
        goto done;
    }
    if (weights ? vggcl_model_load(ctx, weights, &opts, &model)
                : vggcl_model_random(ctx, "vgg16", 7, 0, &opts, &model))
        goto fail;
    if (cli_arg(&a, "images")) { /* the real job instead of a resident batch */
        if ((rc = cli_model_preset("bench", ctx, model, &p, CLI_IMAGES_MADE)) != CLI_OK) goto done;
        rc = cli_bench_images(ctx, model, weights, conv, cli_arg(&a, "images"), &p, batch,
                              cli_arg(&a, "recursive") != NULL, threads, progress_s, json);
        goto done;
    }
    if (weights && !cli_arg(&a, "size")) { /* the model's input: its crop (a trunk of 240x240 was timed at 224) */
        /* (p: unset, the preprocessing options going with --images alone) */
        if ((rc = cli_model_preset("bench", ctx, model, &p, "the size it is benched at")) != CLI_OK) goto done;
        int ph, pw;
        cli_preset_size(&p, &ph, &pw);
        if (ph) h = ph, w = pw; /* (none: the images' own sizes, unknown here) */
    }
    /* said before the batch is made: one too large for the device would first fill gigabytes of host memory */
    if (vggcl_check_batch(ctx, model, batch, h, w) != VGGCL_OK) goto fail;
    const size_t nx = (size_t)batch * 3 * h * w;
    x = malloc(nx * sizeof *x);
    ms = malloc((size_t)iters * sizeof *ms);
    if (!x || !ms) {
        rc = cli_error(CLI_FAIL, "out of host memory for a batch of %d at %dx%d", batch, h, w);
        goto done;
    }
    unsigned long long s = 12345;
    for (size_t i = 0; i < nx; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) / 4503599627370496.0 - 1.0) * 2.0f;
    }
    double build_before;
    int cached0, compiled0;
    vggcl_build_info(ctx, &build_before, &cached0, &compiled0);
    if (vggcl_benchmark(ctx, model, x, batch, h, w, iters, &warmup, ms) != VGGCL_OK) goto fail;
    if (per_layer) {
        /* more passes with profiling events, kept out of the timed ones: each layer's median */
        profiled = iters < PROFILED_MAX ? iters : PROFILED_MAX;
        if (vggcl_profile(ctx, 1) != VGGCL_OK) goto fail;
        for (int pass = 0; pass < profiled; pass++) {
            if (vggcl_forward(ctx, model, x, batch, h, w, NULL, NULL) != VGGCL_OK) goto fail;
            if (!layers) {
                n_layers = vggcl_profile_read(ctx, NULL, 0);
                layers = calloc((size_t)n_layers + 1, sizeof *layers);
                layer_ms = calloc((size_t)(n_layers + 1) * profiled, sizeof *layer_ms);
                if (!layers || !layer_ms) {
                    rc = cli_error(CLI_FAIL, "out of host memory");
                    goto done;
                }
            }
            if (vggcl_profile_read(ctx, layers, n_layers) != n_layers) {
                rc = cli_error(CLI_FAIL, "profiled pass %d recorded %d layers, the first %d", pass + 1,
                               vggcl_profile_read(ctx, NULL, 0), n_layers);
                goto done;
            }
            for (int i = 0; i < n_layers; i++) layer_ms[(size_t)i * profiled + pass] = layers[i].ms;
        }
        for (int i = 0; i < n_layers; i++) layers[i].ms = median_of(layer_ms + (size_t)i * profiled, profiled);
    }
    double *sorted = malloc((size_t)iters * sizeof *sorted);
    if (!sorted) {
        rc = cli_error(CLI_FAIL, "out of host memory");
        goto done;
    }
    memcpy(sorted, ms, (size_t)iters * sizeof *sorted);
    const double median = median_of(sorted, iters), lo = sorted[0], hi = sorted[iters - 1];
    free(sorted);
    const double flop = vggcl_model_flops(model, batch, h, w);
    const double ips = batch * 1e3 / median, gflops = flop / (median * 1e6);
    double build_ms;
    int cached, compiled;
    vggcl_build_info(ctx, &build_ms, &cached, &compiled);
    const size_t peak = vggcl_device_bytes_peak(ctx);
    double total_layer_ms = 0;
    for (int i = 0; i < n_layers; i++) total_layer_ms += layers[i].ms;

    /* programs are built on first use, so the first pass includes their builds: report the two apart */
    const double first_build = build_ms - build_before, first_run = warmup - first_build;
    cli_bench_table_note(ctx, model, batch, h, w);
    if (json) {
        cJSON *o = cJSON_CreateObject(), *arr;
        cli_bench_record(o, ctx, model, weights, conv, batch, h, w);
        cJSON_AddNumberToObject(o, "batch", batch);
        char size[32];
        snprintf(size, sizeof size, "%dx%d", h, w);
        cJSON_AddStringToObject(o, "size", size);
        cJSON_AddNumberToObject(o, "iters", iters);
        cJSON_AddNumberToObject(o, "images_per_s", ips);
        cJSON_AddNumberToObject(o, "ms_per_batch_median", median);
        cJSON_AddNumberToObject(o, "ms_per_batch_min", lo);
        cJSON_AddNumberToObject(o, "ms_per_batch_max", hi);
        cJSON_AddNumberToObject(o, "gflops", gflops);
        cJSON_AddNumberToObject(o, "conv_gflop_per_batch", flop * 1e-9);
        cJSON_AddNumberToObject(o, "device_bytes_peak", (double)peak);
        cJSON_AddNumberToObject(o, "build_ms", build_ms);
        cJSON_AddNumberToObject(o, "programs_from_cache", cached);
        cJSON_AddNumberToObject(o, "programs_compiled", compiled);
        cJSON_AddNumberToObject(o, "first_pass_ms", warmup);
        cJSON_AddNumberToObject(o, "first_pass_build_ms", first_build);
        cJSON_AddNumberToObject(o, "first_pass_without_builds_ms", first_run);
        if (per_layer) cJSON_AddNumberToObject(o, "profiled_passes", profiled);
        if (per_layer) cJSON_AddNumberToObject(o, "layers_total_ms", total_layer_ms);
        if (per_layer && peak_gflops) cJSON_AddNumberToObject(o, "peak_gflops", peak_gflops);
        if (per_layer && (arr = cJSON_AddArrayToObject(o, "layers")))
            for (int i = 0; i < n_layers; i++) {
                cJSON *l = cJSON_CreateObject();
                const double g = layers[i].ms > 0 ? layers[i].gflop / (layers[i].ms * 1e-3) : 0.0;
                cJSON_AddItemToObject(l, "layer", cli_json_string(layers[i].layer)); /* (U+2028 escaped) */
                cJSON_AddNumberToObject(l, "ms", layers[i].ms);
                cJSON_AddNumberToObject(l, "gflop", layers[i].gflop);
                if (layers[i].tuned >= 0) { /* (a convolution: what ran it, and whether the tuning table chose it) */
                    cJSON_AddItemToObject(l, "name", cli_json_string(layers[i].name));
                    cJSON_AddStringToObject(l, "algorithm", layers[i].algorithm); /* (as --conv names it) */
                    cJSON_AddBoolToObject(l, "fused_pool", layers[i].fused_pool);
                    cJSON_AddStringToObject(l, "params", layers[i].params);
                    cJSON_AddBoolToObject(l, "tuned", layers[i].tuned);
                }
                if (peak_gflops && g > 0) cJSON_AddNumberToObject(l, "of_peak", g / peak_gflops); /* (as the text's) */
                cJSON_AddItemToArray(arr, l);
            }
        if ((rc = cli_json_print(o)) != CLI_OK) goto done;
    } else {
        char more[256], how[160];
        cli_bench_conv_text(ctx, model, conv, batch, h, w, how, sizeof how);
        snprintf(more, sizeof more, "%s, batch %d, %dx%d", how, batch, h, w);
        cli_bench_heading(ctx, model, weights, more);
        if (vggcl_device_index(ctx) < 0) /* (plain C: no programs, no driver) */
            printf("start-up:      no programs (the reference is plain C); first pass %.1f ms\n", first_run);
        else
            printf("start-up:      programs ready in %.1f ms (%d from cache, %d compiled); first pass %.1f ms besides\n"
                   "               (the driver's first-use work included)\n",
                   build_ms, cached, compiled, first_run);
        printf("per batch:     median %.2f ms (min %.2f, max %.2f) over %d pass%s\n", median, lo, hi, iters,
               iters == 1 ? "" : "es");
        printf("throughput:    %.2f images/s, %.1f GFLOP/s (%.3g GFLOP of convolution per batch)\n", ips, gflops,
               flop * 1e-9); /* (%.3g: a small model's 0.00103 was "0.00") */
        if (vggcl_device_index(ctx) < 0) /* (the reference: its maps are host memory, not counted there) */
            printf("device memory: none (the reference runs in host memory)\n");
        else
            printf("device memory: %.1f MiB peak\n", peak / 1048576.0);
        if (per_layer) {
            char head[80];
            snprintf(head, sizeof head, "layer (device time, median of %d profiled pass%s)", profiled,
                     profiled == 1 ? "" : "es");
            int wide = 68; /* (the widest name: a layout change's, or a layer at 224x224, pushed its row right) */
            for (int i = 0; i < n_layers; i++) {
                char *shown = cli_text(layers[i].layer);
                const int len = (int)strlen(shown ? shown : layers[i].layer);
                wide = len > wide ? len : wide;
                free(shown);
            }
            printf("\n%-*s %10s %9s %7s%s  %s\n", wide, head, "ms", "GFLOP/s", "share", peak_gflops ? "  of peak" : "",
                   "parameters");
            for (int i = 0; i < n_layers; i++) {
                const double g = layers[i].ms > 0 ? layers[i].gflop / (layers[i].ms * 1e-3) : 0.0;
                char *shown = cli_text(layers[i].layer); /* (a head prefix's line end began a row of its own) */
                printf("%-*s %10.3f %9.1f %6.1f%%", wide, shown ? shown : layers[i].layer, layers[i].ms, g,
                       total_layer_ms > 0 ? 100 * layers[i].ms / total_layer_ms : 0.0);
                free(shown);
                if (peak_gflops && g > 0) printf("  %6.1f%%", 100 * g / peak_gflops);
                else if (peak_gflops && layers[i].tuned >= 0) printf("%9s", ""); /* (the parameters in their column) */
                if (layers[i].tuned >= 0) /* (a convolution: what ran it, as its JSON and the tuning table say) */
                    printf("  %s%s%s", layers[i].params, *layers[i].params && layers[i].tuned ? " " : "",
                           layers[i].tuned ? "(tuned)" : "");
                printf("\n");
            }
            printf("%-*s %10.3f\n", wide, "total", total_layer_ms);
        }
    }
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_error(CLI_FAIL, "%s", vggcl_message(ctx));
done:
    free(x);
    free(ms);
    free(layers);
    free(layer_ms);
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
