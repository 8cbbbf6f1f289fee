/* The vggcl command: shared helpers for the subcommands. */
#ifndef VGGCL_CLI_H
#define VGGCL_CLI_H

#include "vggcl.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "vggcl: <message>" on stderr and returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Matches argv[*i] against --name VALUE or --name=VALUE; on a match stores the
 * value, advances *i past it and returns 1. A missing value is a usage error
 * (returns -1 with the message printed). */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses --pool5 and --conv values into opts; prints the usage error and
 * returns CLI_USAGE on a bad value, else 0. cmd names the subcommand. */
int cli_model_opts(const char *cmd, const char *pool5, const char *conv, vggcl_load_options *opts);

/* Parses an integer option in [lo, hi] / a size "H" or "HxW"; prints the
 * usage error and returns CLI_USAGE on a bad value, else 0. */
int cli_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out);
int cli_size(const char *cmd, const char *v, int *h, int *w);

/* Prints s on stdout as a JSON string literal, escaped. */
void cli_json_str(const char *s);

int cmd_devices(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_cam(int argc, char **argv);

/* Matches the preprocessing options (--resize, --crop, --no-crop, --mean,
 * --std) at argv[*i] into p: 1 matched, 0 not one of them, -1 bad value
 * (usage error printed). */
int cli_preprocess_opt(const char *cmd, int argc, char **argv, int *i, vggcl_preprocess *p);

/* Appends path, or a folder's .jpg/.jpeg/.png files sorted by name, to
 * *list (strings allocated). Returns 0 when out of host memory. */
int cli_expand_images(const char *path, char ***list, int *n);

/* A positional argument of an image command: an unknown option is a usage
 * error, anything else an image or folder for *list. Returns CLI_OK, or the
 * exit code with the error printed. */
int cli_image_arg(const char *cmd, const char *arg, char ***list, int *n);

/* The context's message after loading or preprocessing the image at path
 * failed, naming the file (preprocessing messages do not know it). */
const char *cli_image_message(const vggcl_ctx *ctx, const char *path);

#endif
