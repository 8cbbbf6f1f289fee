/* The vggcl command: shared helpers for the subcommands. */
#ifndef VGGCL_CLI_H
#define VGGCL_CLI_H

#include <limits.h>
#include <stdio.h>

#include "vggcl.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_HELP = 3 /* --help was printed: exit 0 */ };

/* One option of a command's table: --name [METAVAR]. */
typedef struct {
    const char *name;       /* "weights" for --weights */
    const char *metavar;    /* "W.safetensors"; NULL: a flag without a value */
    const char *help;       /* one or more lines ('\n' between) */
    int required;
} cli_option;

#define CLI_MAX_GROUPS 4
#define CLI_MAX_OPTIONS 48

/* A command: its own options and shared groups (NULL-terminated tables), the
 * positional arguments it takes (NULL: none), the text after the options, and
 * whether it takes several devices (--device all or a list: cli_open_models; its
 * --device is then cli_devices_option, in the place of cli_device_options' own). */
typedef struct {
    const char *name;
    const char *positional;
    const char *about;
    const cli_option *options;
    const cli_option *groups[CLI_MAX_GROUPS];
    int several_devices;
} cli_command;

/* The shared groups: --device and --conv; --pool5 and --head; the preprocessing options. */
extern const cli_option cli_device_options[], cli_net_options[], cli_preprocess_options[];
/* --device as a command that takes several devices has it (cli_command.several_devices): its help says all and
 * lists too; the commands on one device refuse them (cli_one_device), and their help leaves them out. */
extern const cli_option cli_devices_option;

typedef struct {
    const cli_command *options;
    const char *value[CLI_MAX_OPTIONS]; /* per option, in table order: its value ("1" for a flag), else NULL */
    char **pos;                         /* the positional arguments */
    int n_pos;
} cli_args;

/* Parses argv (argv[0] is the command's name) with getopt_long: --name VALUE,
 * --name=VALUE, -- ends the options. --help prints the help (CLI_HELP); an
 * unknown option, a missing value, a missing required option or an unexpected
 * positional argument prints the error and the synopsis on stderr (CLI_USAGE). */
int cli_parse(const cli_command *c, int argc, char **argv, cli_args *a);
/* Whether word (its first len bytes) is a typing slip of name: at most one letter in three (and two in all)
 * left out, added, changed or two side by side swapped, in any case (clasify, Classify, --wieghts); of a name
 * or word of 3 letters or fewer, only its case or two letters swapped (cat is no slip of cam). */
int cli_slip_of(const char *word, size_t len, const char *name);
void cli_help(const cli_command *c, FILE *out);
/* The value given for --name, else NULL / else dflt; a flag: non-NULL when given. */
const char *cli_arg(const cli_args *a, const char *name);
/* Whether the command a was parsed for has the option name (given or not). */
int cli_has_option(const cli_args *a, const char *name);
const char *cli_arg_or(const cli_args *a, const char *name, const char *dflt);

/* The preprocessing group's values into p (after vggcl_preprocess_unset);
 * CLI_OK, or CLI_USAGE with the error printed. */
int cli_preprocess_args(const char *cmd, const cli_args *a, vggcl_preprocess *p);

/* The positional arguments, then the entries of --files-from's list, as images: files, and folders for their
 * image files (CLI_IMAGE_EXTENSIONS) sorted by name (with --recursive, and the folders' below them:
 * cli_expand_images). A folder without images and no image or folder at all are usage errors; a list that
 * cannot be read is CLI_FAIL (printed). With --files-from - for several ranks (mpirun's standard input is
 * rank 0's) rank 0 lists them and the others none: cli_ranks_begin hands them rank 0's list. */
int cli_images(const char *cmd, const cli_args *a, char ***files, int *n);
/* Whether the last cli_images left the list to rank 0 (--files-from - for several ranks). */
int cli_images_from_rank_0(void);
/* --files-from's list as a file the outputs must not replace (cli_outputs_check): NULL where none is given or
 * it is standard input ("-": an output "-" is standard output, not the list). */
const char *cli_files_from(const cli_args *a);
/* --files-from's help, for the commands that take images and folders (cli_images reads it). */
#define CLI_FILES_FROM_HELP                                                                                    \
    "also the images and folders named in FILE, after those given as arguments:\n"                            \
    "one per line (LF or CRLF), or NUL-terminated where FILE holds a NUL byte\n"                              \
    "(find -print0); -: standard input (under mpirun rank 0's, which it hands to\n"                           \
    "the others)"
/* --recursive's help, for the commands that take images and folders (cli_images reads it). */
#define CLI_RECURSIVE_HELP                                                                                     \
    "a folder also stands for the images in the folders below it (through\n"                                   \
    "links), in the order torchvision's ImageFolder walks a class folder:\n"                                   \
    "by folder path, then by name"

/* Prints "vggcl: <message>" on stderr and returns code; a usage error (CLI_USAGE) only where
 * cli_usage_said says so. cli_error_here prints whatever the code: an error that depends on what
 * this machine sees (a folder without images), which another rank may not meet. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_error_here(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A run's count of skipped images for its last line, into buf: "3 of 10 images were skipped", or "the image was
 * skipped" where it was given one ("1 of 1 images were skipped"). */
const char *cli_skipped_text(int skipped, int total, char *buf, size_t len);
/* Prints "vggcl: <message>" on stderr as a notice: what any rank may say alike (compiling the kernels,
 * the decoding threads' warning), said once under mpirun (cli_ranks_noticed). */
void cli_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Holds the messages said from now on (on: 1) back, in order, instead of printing them, until held stops
 * (on: 0); cli_messages_take gives those held (NULL, *len 0: none) to the caller, to free, and
 * cli_messages_flush prints them. Under mpirun a rank's messages on listing its images are held, so that
 * what every rank met alike is said once (ranks.c). */
void cli_messages_hold(int on);
/* Every message from now on begins "vggcl: shard I/N: " instead of "vggcl: ": the shards (N > 1) of a job, each its own
 * process (--shard), may share one stderr (mpirun as a launcher). cli_messages_prefix: the one in use. */
void cli_messages_name(int shard, int of);
const char *cli_messages_prefix(void);
char *cli_messages_take(size_t *len);
void cli_messages_flush(void);
/* Whether this process prints usage errors and the synopsis after them: all but the ranks after the
 * first of a launch (cli_ranks_echo_usage), which main asks once. */
int cli_usage_said(void);
/* Flushes standard output: CLI_OK, or CLI_FAIL with the reason said (once per process: a full disk,
 * a closed descriptor), so a run whose answers did not reach their file stops and fails. */
int cli_flush_stdout(void);
/* Says that standard output could not be written (err: the errno of the write, 0 when unknown), once per
 * process as cli_flush_stdout says it; CLI_FAIL. */
int cli_stdout_lost(int err);

/* Parses --pool5 and --conv values into opts; prints the usage error and
 * returns CLI_USAGE on a bad value, else 0. cmd names the subcommand. */
int cli_model_opts(const char *cmd, const char *pool5, const char *conv, vggcl_load_options *opts);
/* Says (cli_notice) where --pool5 runs model, loaded from weights with opts, otherwise than its metadata's
 * "vggcl.pool5" says its head was made for: the head then gets features it was not trained on (a head trained
 * with pool5 dropped scored 0.83 with it kept, against 1.0, unsaid). For the commands that use the head. */
void cli_pool5_note(const char *weights, const vggcl_load_options *opts, const vggcl_model *model);
/* For cam --compare-pool5: which panel gives the head features it was not trained on (the file's metadata's
 * other setting; either, where it says none), said once: one of the two always does, and it was unsaid. */
void cli_pool5_compare_note(const char *weights, const vggcl_model *model);

/* Parses an integer option in [lo, hi] / a size "H" or "HxW"; prints the
 * usage error and returns CLI_USAGE on a bad value, else 0. */
int cli_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out);
int cli_size(const char *cmd, const char *v, int *h, int *w);
/* v as "H" or "HxW", digits alone ("8x 9", "8x+9", " 8" not): 1 with *h and *w (*w = *h where one, *pair 0),
 * else 0. Each in long, for the caller to bound (an int cast first wrapped 2^32 + 8 to 8). */
int cli_sides(const char *v, long *h, long *w, int *pair);
/* 1 and *out = v when v is a decimal number as a user types one ("0.1", "-2", "1e-4", ".5"): no blank,
 * '+', hex, inf or nan, nothing after it, and not past a double (1e-400 is refused, not 0); else 0. */
int cli_number(const char *v, double *out);

/* Prints the JSON object on one line of stdout and deletes it (cJSON: a
 * non-finite number comes out as null, so the line is always valid JSON); where an allocation through cJSON
 * failed on this thread since the last call (main's hooks: the object may lack a member), prints nothing and
 * says out of host memory. */
struct cJSON;
int cli_json_print(struct cJSON *o);
/* A JSON string for s (a file name, a label): as cJSON makes it when s is UTF-8 without the controls
 * beyond ASCII; else each byte that is not UTF-8 becomes \udcXX, as Python's os.fsdecode maps it (json.loads
 * then os.fsencode give the name back), where the raw byte made the line invalid JSON, and the C1 controls,
 * U+2028/2029 and the bidirectional overrides \uHHHH (line ends for Python's splitlines). NULL when out of
 * memory. */
struct cJSON *cli_json_string(const char *s);
/* v added to o as name, in the fewest digits that read back as v itself (cJSON's own 15 digits read back up to
 * an ulp off: eval's 6/7), null where it is not finite; the item, or NULL (out of memory). */
struct cJSON *cli_json_add_exact(struct cJSON *o, const char *name, double v);
/* v in the fewest digits that read back as it (as a float where as_float: 0.485, not 0.485000014), into buf
 * (32 bytes hold any). Returns buf. */
const char *cli_shortest(double v, int as_float, char *buf, size_t len);
/* Three floats (a mean or std) as "R,G,B", each as cli_shortest gives it: what reads back as them. */
void cli_rgb_text(const float *v, char *buf, size_t len);
/* p's resize as --resize takes it, "256" or "224x320" (height x width), with sep for the 'x' ("224,320": as the
 * metadata's "vggcl.resize" writes it), into buf (24 bytes hold any). Returns buf. */
const char *cli_resize_text(const vggcl_preprocess *p, char sep, char *buf, size_t len);
/* The preprocessing p says in words, "resize 256, crop 224, mean R,G,B, std R,G,B" ("no resize", "no crop" for
 * 0; ", draft" where it drafts), into buf (256 bytes hold any). Returns buf. */
const char *cli_preprocess_text(const vggcl_preprocess *p, char *buf, size_t len);
/* p as a JSON object added to o as "preprocess" (bench --images, eval): resize (as torchvision's Resize takes its
 * size: [N] the short side, [H, W] both sides; null: none), crop (0: none), mean and std (arrays of 3 numbers, each
 * a float's shortest text), draft; NULL where a member could not be added (out of memory). */
struct cJSON *cli_json_preprocess(struct cJSON *o, const vggcl_preprocess *p);
/* What a report was made with, added to o: "model" (the weights file, as named) and "pool5" ("keep" or "drop", as
 * model runs it). 0 where a member could not be added. */
int cli_json_model(struct cJSON *o, const char *weights, const vggcl_model *model);
/* Whether s is UTF-8 text (what a model's metadata must be). */
int cli_utf8(const char *s);
/* The length of the valid UTF-8 sequence at s (1 to 4), else 0: overlong forms, surrogates and code points
 * above U+10FFFF are not valid (a NUL ends a sequence: it is never read past). */
int cli_utf8_len(const unsigned char *s);
/* The code point of the valid UTF-8 sequence of len bytes at u. */
unsigned long cli_code_point(const unsigned char *u, int len);
/* For a message that a folder name is not found among names[0..n) (NULL entries passed over): where one of them
 * differs from it only in the case of ASCII letters, words saying so, naming it as of ("the model's class"; in
 * buf, len bytes); else where it or one of them holds a combining accent (U+0300..U+036F, as macOS writes a name:
 * NFD), words saying so (the same name composed, NFC, is other bytes and looks alike); else "". */
const char *cli_missing_name_hint(const char *name, const char *const *names, int n, const char *of, char *buf,
                                  size_t len);
/* The columns s takes on a terminal (UTF-8: wide characters 2, combining marks 0), for aligned text. */
int cli_columns(const char *s);

/* Prints s on stdout as a CSV field, quoted. */
void cli_csv_str(const char *s);
/* s for a line of text (a file or class name in the text format): its control characters as \n, \r, \t
 * or \xHH (a newline split the line, an escape sequence drew on the terminal), the C1 controls, U+2028/2029
 * and the bidirectional overrides as \uHHHH, bytes that are not UTF-8 as \xHH; allocated, NULL when out of
 * memory. The messages on stderr escape them so too. */
char *cli_text(const char *s);
/* Whether an output path writes to this process's standard output: "-", or a name for what stdout
 * is (/dev/stdout, /dev/fd/1, the file or pipe it was redirected to). A command writing an array
 * there says what it did on stderr instead (cli_report), so the pipe carries the array alone. */
int cli_is_stdout(const char *path);
/* Where a command with these outputs (n paths, NULL ones left out) prints its report: stderr when
 * one of them is standard output, else stdout. Ask before capturing a rank's output. */
FILE *cli_report(const char *const *paths, int n);
/* A file a command reads or writes, and the option that names it ("--weights"), for messages. */
typedef struct {
    const char *opt;
    const char *path; /* NULL: not given */
} cli_file;
/* An earlier run's file at an output's path (its symlinks followed: real), kept under a second name beside it
 * (keep: a hard link, no copy; kept 1) while a set of outputs is named, so that a later one failing puts it
 * back (the new ones had replaced the earlier run's: lost); where the link is refused (a file system without
 * hard links, another's file under protected_hardlinks) and may_move, the file itself is moved there (kept 2:
 * only once its output's writer is open, which took its permissions, and just before its rename, its name
 * empty meanwhile); kept 0 where none is there, the path is standard output or a descriptor's, or it can be
 * neither (the new file then removed alone). cli_kept_end drops the second name, or
 * with put_back, or where a moved file's name is still empty, puts the earlier file back (where it cannot, the
 * new one is removed and where the earlier is kept said). */
typedef struct {
    char real[PATH_MAX], keep[PATH_MAX];
    int kept;
} cli_kept;
void cli_keep_earlier(const char *path, int may_move, cli_kept *k);
void cli_kept_end(cli_kept *k, const char *path, int put_back);
/* Names the staged outputs w[0..n) (NULL entries skipped; paths[k] is w[k]'s) all or none, closing each:
 * every one made durable first (vggcl_npy_writer_ready: a full disk fails before any earlier file is
 * replaced), then named, and one named before a later rename failed removed again, the earlier run's file it
 * replaced put back (cli_keep_earlier). With commit 0 they are dropped. CLI_OK, or CLI_FAIL said. */
int cli_name_all(vggcl_ctx *ctx, vggcl_npy_writer **w, const char *const *paths, int n, int commit);
/* Around the readying and naming of a set of outputs (cli_name_all holds them itself; nested holds are one):
 * SIGINT, SIGTERM and SIGHUP (those not ignored) are held back and, at the outermost release, raised again as
 * they would have acted, so that a set is named whole before a Ctrl-C or a kill ends the process, and no
 * readied file is left with its temporary name (before they are readied the files have no name: a process
 * ended then leaves none). */
void cli_hold_signals(void);
/* Whether the output path is a file vggcl's writers name (a temporary name, then the rename; signals then to
 * hold): not standard output, a descriptor, a device or a FIFO, which are written through. */
int cli_output_named(const char *path);
void cli_release_signals(void);
/* cli_name_all's first step alone, for a caller that writes another output between it and the naming:
 * w[0..n) made durable (NULL entries skipped), the files before standard output, devices and pipes. CLI_OK,
 * or CLI_FAIL said. */
int cli_ready_all(vggcl_ctx *ctx, vggcl_npy_writer **w, int n);
/* Before any work (host/cli/outputs.c): each output's folder must be there and writable, and no output
 * may be another output or what the command reads (ins, and images: the image list), nor standard output
 * one of ins (cli_stdout_check): else said, naming both, and CLI_FAIL (the folder) or CLI_USAGE; CLI_OK.
 * Devices, pipes and "-" are not compared. */
int cli_outputs_check(const char *cmd, const cli_file *outs, int n_out, const cli_file *ins, int n_in,
                      char *const *images, int n_images);
/* Standard output, where the command prints, against what it reads (ins[0..n_in)): where it was redirected
 * to one of them (appended to, >>: a report written into the weights), CLI_USAGE said; else CLI_OK. */
int cli_stdout_check(const char *cmd, const cli_file *ins, int n_in);

/* --shard I/N: keeps the I-th of N contiguous, equal (to one) runs of
 * (*files)[0..*n), moves the files before it to (*lead)[0..*n_lead) and those after it to
 * (*lead)[*n_lead..*n_lead + *n_after) (allocated; NULL and 0 0 when none); *index gets I (digits
 * alone, 0 <= I < N <= INT_MAX); CLI_OK, or CLI_USAGE (CLI_FAIL: out of memory) with the error
 * printed. */
int cli_shard(const char *cmd, const char *spec, char ***files, int *n, char ***lead, int *n_lead, int *n_after,
              int *index);
/* --shard I/N into *i and *of: digits only, 0 <= I < N <= INT_MAX; 0 when spec is not that. */
int cli_shard_spec(const char *spec, int *i, int *of);
/* Share i of `of` of n items: [*lo, *hi), the contiguous runs --shard and the MPI ranks take. */
void cli_share(int n, int i, int of, int *lo, int *hi);

/* Many processes under mpirun (ranks.c; a no-op without MPI or with one rank). */
typedef struct {
    int mpi, rank, size, local_rank;
    int total;                          /* the run's images: every rank's, or a shard's own (cli_take_share) */
    int saved_out, saved_err;           /* the real stdout and stderr while captured */
    int out_fd, err_fd, logits_fd, tensor_fd; /* nameless temporary files (-1: none) */
    char logits_path[32], tensor_path[32];    /* /dev/fd/N of the last two, for the writers */
    const char *final_logits, *final_tensor;
    char device[16];
    size_t chunk;                       /* bytes per message gathering to rank 0 */
    char **lead;                        /* the list's files before this share, then those after it
                                         * (cli_take_share; freed by cli_ranks_end; dynamic: the whole
                                         * list, the caller's), for the images' size
                                         * without a crop: the first that reads before it, else (a share
                                         * with none read, its empty arrays) after it */
    int n_lead, n_after;
    int shard;                          /* --shard's I (cli_take_share); 0 without */
    int batch;                          /* cli_take_share's: > 0, the command runs its list through
                                         * cli_run_batches in batches of this many images */
    int dynamic;                        /* the batches are handed out by rank 0 as ranks ask for them
                                         * (cli_ranks_next_batch): every rank keeps the whole list */
    int n_batches;                      /* dynamic: the list's batches */
    int may_hand_out;                   /* rank 0 said so and MPI lets its thread call it (cli_ranks_begin);
                                         * 2: in turn (VGGCL_MPI_BALANCE=interleave, a test hook: rank i
                                         * is handed batches i, i + size, ... whatever its speed) */
    int thread_level;                   /* the MPI thread level this rank was granted where rank 0 said to hand
                                         * out (MPI_THREAD_MULTIPLE where it did not) */
    struct cli_rank_run *run;           /* dynamic: the batches this rank handed over, the dispatcher */
} cli_ranks;
/* Before cli_ranks_begin: what cli_ranks_end may be given on an early exit. */
#define CLI_RANKS_INIT                                                                                         \
    {                                                                                                          \
        .size = 1, .saved_out = -1, .saved_err = -1, .out_fd = -1, .err_fd = -1, .logits_fd = -1, .tensor_fd = -1 \
    }
/* The list's files after this share (cli_ranks.lead's last n_after; NULL where there are none). */
static inline char *const *cli_ranks_after(const cli_ranks *r) { return r->lead ? r->lead + r->n_lead : NULL; }
/* Whether every rank found the same image list (its length and a hash of its paths), which the
 * shares are cut from; rank 0 says when not. Collective; CLI_OK with one rank. */
int cli_ranks_same_list(const cli_ranks *r, const char *cmd, char *const *files, int n);
/* Whether every rank loaded the same model from weights (each machine may hold its own copy): its
 * shape, class names and preprocessing p, the whole file, and the n_labels labels given for its
 * classes (--labels; NULL, 0: none); rank 0 says when not (the ranks' rows would not fit together).
 * weights and m NULL: the preprocessing alone (a rank given a model and another not differ).
 * And the options named in agreed (NULL-terminated, at most 8; NULL: none), each given or not and its
 * value in a: those that shape the answers, the rows the ranks send or the arrays gathered
 * (--logits-out); rank 0 names the first that differs.
 * And where batches are handed out as ranks ask, the kind of device each runs (ctx, its first: cli_device_kind;
 * NULL for the commands that hand none out): the rows of devices of other kinds differ in their last bits, so
 * the output would depend on which rank was free (it changed from run to run); rank 0 says so.
 * Collective; CLI_OK with one rank. */
int cli_ranks_same_model(const cli_ranks *r, const char *cmd, const char *weights, const vggcl_model *m,
                         const vggcl_preprocess *p, char *const *labels, int n_labels, const cli_args *a,
                         const char *const *agreed, const vggcl_ctx *ctx);
/* Whether a process with this command line prints its usage errors: not when it is a rank other
 * than the first of several that a launcher started (mpirun, Slurm's PMI) with no --shard, every
 * rank then having the same command line and so the same errors (the first says them once). With
 * --shard, given to a command that takes it (shards), each process is its own and says its own (to
 * another command, the mistake every rank has alike). */
int cli_ranks_echo_usage(int argc, char **argv, int shards);
/* Whether this process writes the outputs (before MPI starts): one process, a --shard process (shard
 * non-NULL), or the first rank of a launch; the others' machines may not have the outputs' folders. */
int cli_ranks_writes(const char *shard);
/* Whether a launcher (mpirun, Slurm's PMI) started it, as one rank or as several, --shard or not. */
int cli_ranks_under_launcher(void);
/* Whether it is one of several ranks a launcher started (MPI not yet started), --shard not given. */
int cli_ranks_several(const char *shard);
/* The rank count a launcher announced (1 without one, or for one rank), and this process's rank in *rank. */
int cli_ranks_launched(int *rank);
/* The variable that launcher gives each process its rank in (OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID);
 * NULL without one. */
const char *cli_ranks_rank_variable(void);
/* Starts MPI when launched as several ranks (collective: it also agrees on
 * r->chunk); refuses, said by each process, when MPI does not join the ranks
 * the launcher announced (another MPI's launcher: each process alone). Given
 * files, it then takes every rank's answer on listing them (collective, paired
 * with cli_take_share's for a rank whose listing failed: every rank returns
 * rank 0's answer, or CLI_FAIL, said by rank 0, where only others failed),
 * checks that every rank found the same list (cli_ranks_same_list: CLI_FAIL on
 * every rank, said by rank 0) and keeps this rank's contiguous run of it;
 * given none, the caller takes its share and checks its list itself. */
int cli_ranks_begin(cli_ranks *r, const char *cmd, char ***files, int *n);
/* The images this process takes: with --shard I/N (shard, else NULL) its share, as an independent
 * process whatever started it (also mpirun, as a launcher: no MPI); else under mpirun the rank's
 * share (cli_ranks_begin); else all of them. Sets r->total. listed: how listing the images went
 * (cli_images, said); not CLI_OK, it is returned, after MPI started under mpirun, so that the ranks
 * that listed theirs do not wait in MPI_Init for one that did not (a launcher that does not end a
 * job when a process fails: Slurm's srun). */
int cli_take_share(cli_ranks *r, const char *cmd, const char *shard, int listed, char ***files, int *n, int batch);
/* Batches handed out as ranks ask (rank_batches.c), where cli_take_share was given a batch size and the
 * ranks agree on it: batch g is the list's images [g * batch, (g + 1) * batch). Under mpirun rank 0
 * hands them out in order, a thread of its own answering the other ranks, so that a faster rank takes more
 * and none waits at the end for a slower one's long share (VGGCL_MPI_BALANCE=static, rank 0's: contiguous
 * shares, as --shard's). The next batch for this rank, numbered in its list (cli_ranks_hand_out), or -1: none
 * left in the list (or a rank stopped). */
int cli_ranks_next_batch(const cli_ranks *r);
/* After cli_ranks_begin, for a command that lists its images itself (eval, train-head): whether the batches
 * of r->batch (set before cli_ranks_begin) of the lists of n[0..lists) images (at most CLI_LISTS; each run
 * through cli_run_batches in turn, train-head's training images then its --val images) are handed out
 * (collective; every rank then runs every list whole), else 0: each takes its contiguous share (cli_share).
 * The lists' batches are numbered on from one list to the next, so the text and rows come out in one
 * process's order; a rank that finishes a list asks for the next one's at once. */
enum { CLI_LISTS = 2 };
int cli_ranks_hand_out(cli_ranks *r, const int *n, int lists);
/* Whether this rank should ask for a batch more ahead: its asks' answers take over a twentieth of the time
 * between them, and that is under 20 ms (a fast device, batches of milliseconds: its passes would wait on rank
 * 0's thread; longer batches held ahead leave the others waiting at the end). */
int cli_ranks_ask_ahead(const cli_ranks *r);
/* The next list's batches for this rank (cli_ranks_next_batch; not collective). */
void cli_ranks_next_list(const cli_ranks *r);
/* Batch g of the list it runs has been handed over (its messages said, its rows written; rows and images
 * skipped in all so far in that list): where this rank's captured text ends after it, kept with the batch's
 * number and counts from the lists' start (cli_batch_end). The first call marks before its messages
 * (cli_ranks_mark_start). */
void cli_ranks_handed(const cli_ranks *r, int g, long long rows, int skipped);
/* Where this rank's text before its first batch ends (once: later calls do nothing). */
void cli_ranks_mark_start(const cli_ranks *r);
/* This rank's run stopped at batch g of its list (a device failed, an output could not be written; INT_MAX -
 * 1: before it knew any): the other ranks are given no more batches, and the outputs end before g, as one
 * process's that stopped there. */
void cli_ranks_stop_at(const cli_ranks *r, int g);
/* The current list's batches handed out so far, to every rank (rank 0's count, for its progress line; not
 * kept on the other ranks). */
int cli_ranks_batches_out(const cli_ranks *r);
/* One batch as a rank handed it over: its number from the first list's start and where the rank's text and
 * rows end after it. */
typedef struct {
    int g;
    long long out, err, rows;
    int skipped;
} cli_batch_end;
/* The device for this rank: given; else NULL when $VGGCL_DEVICE names one (the library reads it and names
 * it in its messages, as for one process); else (several ranks) one by local rank. */
const char *cli_ranks_device(cli_ranks *r, const char *given);
/* Captures stdout and stderr, and points the output arrays at temporary files. */
int cli_ranks_capture(cli_ranks *r, const char **logits_out, const char **tensor_out);
/* Whether this process's messages are captured for rank 0 to gather (cli_ranks_capture: several ranks), which
 * says those every rank has alike once: a usage error of this rank's own can then be said here. */
int cli_ranks_gathering(void);
/* Rank 0 writes every rank's text in order and gathers the arrays into the
 * real outputs; failed and ok become the totals, and the exit code the worst.
 * stopped: this rank's share ended at a failure before its last image (a
 * device, a write): one process stops there, so the ranks after the first
 * such rank print nothing. */
int cli_ranks_finish(cli_ranks *r, vggcl_ctx *ctx, int rc, int stopped, int *failed, int *ok);
void cli_ranks_end(cli_ranks *r);
/* Keeps a notice this process wrote (n bytes; of one line, with its newline: longer ones are not kept):
 * cli_ranks_finish leaves out of a rank's messages those rank 0 noticed too. */
void cli_ranks_noticed(const char *text, size_t n);
/* Rank 0 gets the rows of row_floats every other rank computed: each rank's n_mine rows (mine), row k
 * being the list's index[k]. On rank 0, rows holds all n, its own in place, and ok[i] is set for each
 * row i received. Collective; CLI_FAIL on every rank where rank 0 is out of memory for a chunk, and on
 * rank 0 where a rank sent an index outside the n (said by rank 0), else CLI_OK. */
int cli_ranks_gather_rows(cli_ranks *r, float *rows, char *ok, int n, size_t row_floats, const float *mine,
                          const int *index, int n_mine);
/* Whether a step every rank took succeeded everywhere (collective): local where it failed here, CLI_FAIL
 * where it failed on another rank only (that rank said why), else CLI_OK. So the ranks go on, or stop,
 * together: for a step before a collective one (reading the data set, then checking the lists). */
int cli_ranks_all_ok(cli_ranks *r, int local);
/* v[0..n) summed over the ranks, on every rank (tallies). CLI_OK. */
int cli_ranks_sum(cli_ranks *r, long *v, size_t n);
/* Rank 0's exit status, on every rank. */
int cli_ranks_agree(cli_ranks *r, int rc);

/* Where each rank's time went (rank_times.c), with VGGCL_RANK_TIMES: the steps every command takes, in
 * order, each timed from the call that begins it to the next. */
enum { CLI_TIMES_MPI = 1, CLI_TIMES_MODEL, CLI_TIMES_IMAGES, CLI_TIMES_AFTER };
/* The first step (the model's) begins: reads VGGCL_RANK_TIMES; once a process. */
void cli_times_open(void);
/* Whether rank 0's VGGCL_RANK_TIMES asks for them (cli_times_agree: given to all ranks). */
int cli_times_on(void);
void cli_times_agree(int on);
void cli_times_step(int step);
/* n more batches of images handed over (cli_run_batches). */
void cli_times_batches(int n);
/* Around a wait for other ranks in MPI: cli_times_waited(cli_times_wait()). */
double cli_times_wait(void);
void cli_times_waited(double from);
/* Rank 0 prints every rank's row on stderr (collective under MPI, before MPI_Finalize); one process, its own. */
void cli_times_report(int mpi, int rank, int size);

/* What a bench record needs to be read again, either kind (cmd_bench.c): as JSON members of o (the version,
 * the device, its kind and compute units, the model, its pool5, the convolution asked for and how many layers a
 * tuning table steered in passes of n images of h x w), or as the text's first lines (device:, model: with what
 * follows the model's name, more). */
void cli_bench_record(struct cJSON *o, const vggcl_ctx *ctx, const vggcl_model *model, const char *weights,
                      const char *conv, int n, int h, int w);
void cli_bench_heading(const vggcl_ctx *ctx, const vggcl_model *model, const char *weights, const char *more);
/* The convolution a bench record names: conv as given (NULL: auto), "reference" on the plain-C reference, which
 * has one way whatever was asked (said so when the model loaded). */
const char *cli_bench_conv(const vggcl_ctx *ctx, const char *conv);
/* "conv NAME" as cli_bench_conv names it, and where a tuning table's rows are taken by layers of passes of n images
 * of h x w, how many it changes: " (K of N layers as the tuning table gives them)" (vggcl_model_tuned_layers), and
 * "; its rows for M layers keep the defaults" where rows the same as the defaults are taken too. */
void cli_bench_conv_text(const vggcl_ctx *ctx, const vggcl_model *model, const char *conv, int n, int h, int w,
                         char *buf, size_t len);
/* Where the context has a tuning table with rows but none fits passes of n images of h x w of model: a notice
 * naming it and why (vggcl_model_table_layers's; bench's report alone read as without a table). */
void cli_bench_table_note(const vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w);
/* vggcl bench --images DIR (bench_images.c); weights and conv as given, for the record. */
int cli_bench_images(vggcl_ctx *ctx, vggcl_model *model, const char *weights, const char *conv, const char *dir,
                     const vggcl_preprocess *p, int batch, int recursive, int threads, double progress_s, int json);

/* vggcl_ctx_new with the progress log on stderr ("vggcl: compiling ..."). */
vggcl_ctx *cli_ctx_new(void);

/* The context's device for a message: "device 1 (NAME)" (the index tells a box's GPUs apart: they share
 * a name), or the reference's name. Returns buf. */
const char *cli_device_label(const vggcl_ctx *ctx, char *buf, size_t len);
/* What makes the context's device compute as it does, for comparing machines' devices: "NAME (PLATFORM, TYPE,
 * VERSION, driver DRIVER, local memory L, work-groups of G)", or the reference's name; the fields of devices
 * whose answers agree bit for bit (a box's GPUs of one kind), not their compute units or memory. Returns buf
 * (the device's name alone where the devices could not be listed). */
const char *cli_device_kind(const vggcl_ctx *ctx, char *buf, size_t len);
/* The context's device as `vggcl devices` lists it: 1, or 0 (the reference; a device that cannot be listed). */
int cli_device_info(const vggcl_ctx *ctx, vggcl_device_info *out);
/* cli_device_kind of the device d, listed already (NULL: the context's name alone, as where not listed). */
const char *cli_device_kind_of(const vggcl_ctx *ctx, const vggcl_device_info *d, char *buf, size_t len);

int cmd_devices(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_cam(int argc, char **argv);

/* The image formats vggcl reads (the decoders: host/io/image_*.c) as the messages name them, and
 * their extensions (a folder's listing: image_list.c's). */
#define CLI_IMAGE_FORMATS "JPEG, PNG, WebP, BMP, TIFF or PNM"
#define CLI_IMAGE_EXTENSIONS ".jpg, .jpeg, .png, .webp, .bmp, .tif, .tiff, .ppm, .pgm"
/* --size's help where a model is given (bench, tune): its default is the model's input, as classify crops to it. */
#define CLI_SIZE_HELP "input size (default: --weights' crop size from its metadata, as classify\n" \
                      "crops to it, or without a crop its HxW resize; else 224)"

/* The lost+found folders below the top that a listing passed over, this user unable to read them (a mounted
 * disk's: os.walk passes over them too): how many, and the first's path (allocated). */
typedef struct cli_left_out {
    int lost;
    char *lost_first;
} cli_left_out;
/* Whether the folder dir holds a folder (not a hidden one), through a link too, as a walk takes them. */
int cli_holds_folder(const char *dir);
/* Appends path, or a folder's image files (CLI_IMAGE_EXTENSIONS; names starting with '.'
 * left out), to *list (strings allocated); with recursive, also those in the
 * folders below it, through symbolic links, in the order torchvision's
 * ImageFolder walks a class folder: by folder path, then by name. CLI_OK, or
 * CLI_FAIL with the message printed (out of memory, or path or a folder
 * below it one that cannot be read, but a lost+found denied to this user).
 * other (may be NULL) counts the lost+found folders passed over. */
int cli_expand_images(const char *path, int recursive, char ***list, int *n, cli_left_out *other);
/* Says them, if any, once under mpirun (as a usage error is said), and empties o. */
void cli_left_out_say(cli_left_out *o);
/* Names compared as Python compares them as strings (os.fsdecode's: a byte of no valid UTF-8 sequence is
 * U+DC80..U+DCFF), which is their bytes' order where they are UTF-8: below 0, 0 (the same bytes) or above.
 * a and b are strings, compared over their first na and nb bytes (a part of a path before a '/', or all). */
int cli_name_cmp(const char *a, size_t na, const char *b, size_t nb);
/* What goes between a folder and a name in it: "/", or nothing where the folder ends with one (data/ and
 * a give data/a, as os.path.join: data//a was printed). */
const char *cli_sep(const char *dir);
/* dir, cli_sep(dir) and name in a new string (free it), or NULL: out of host memory. */
char *cli_join(const char *dir, const char *name);

/* The context's message after loading or preprocessing the image at path
 * failed, naming the file (preprocessing messages do not know it); allocated
 * (free), NULL when out of memory. Safe from several threads, a context each. */
char *cli_image_message(const vggcl_ctx *ctx, const char *path);


/* Images through the model in batches (image_batches.c). */
typedef struct {
    vggcl_ctx *ctx;
    vggcl_model *model;  /* NULL: decoding only (preprocess); the callback gets x alone */
    const vggcl_preprocess *p;
    int batch;           /* images per batch */
    int flip;            /* also run each image mirrored left to right (in the same pass) */
    int want_logits, want_features;
    double progress_s;   /* a progress line this often (--progress); 0: none; < 0: a bar when stderr
                          * is a terminal, under mpirun rank 0's line every minute */
    int threads;         /* decoding threads; 0: the devices' vggcl_decode_threads_default() */
    struct cli_batch_stats *stats; /* where the time went, or NULL */
    int n_devices;       /* > 1: batches spread over ctxs[d]/models[d] (ctxs[0] == ctx), a thread each */
    vggcl_ctx **ctxs;
    vggcl_model **models;
    const cli_ranks *ranks; /* under mpirun (else NULL): rank 0 shows its share's progress */
    int strict;          /* the caller fails the run on any unreadable image: not named "(skipped)" */
    int h, w;            /* every image's size (cli_lead_size); 0 0: the first readable image's */
    int quiet;           /* unreadable images counted, not named (bench --images' warm-up) */
    int finite;          /* an image whose logits are not all finite is named, skipped and counted (classify,
                          * eval: NaN is no class to rank or score; not with flip); else the callback gets them
                          * as they are */
    const vggcl_model *sized; /* the model the images are for (model; preprocess --weights's; NULL: any size): an
                               * image of a size it does not take is skipped (cli_size_taken) */
    int own_sizes;       /* the caller takes images of their own sizes (no tensor of them): at batch 1 where the
                          * preset gives no common size (cli_preset_size 0 0) each runs at its own, as a DataLoader
                          * of batch_size 1 runs them (h and w then only its first's), and at a larger batch an
                          * image skipped for its size says so */
} cli_batch_job;

/* The size every image preprocesses to under p, whatever its own: the crop's, else (no crop) a resize of both
 * sides' (HxW); 0 0 where it is each image's own. */
void cli_preset_size(const vggcl_preprocess *p, int *h, int *w);
/* The size every image of a share is to have, as one process with the whole list sets it: with a
 * crop or a resize of both sides, theirs (cli_preset_size); else the first image of lead[0..n_lead) (the
 * files before the share: cli_ranks.lead) that reads and whose size the model m takes (cli_size_taken),
 * decoded here; else (none, or no lead) 0 0, the share's own first such image's. An image of another size is
 * skipped (cli_run_batches), as is one the model does not take that would have set it. */
void cli_lead_size(vggcl_ctx *ctx, const vggcl_model *m, const vggcl_preprocess *p, char *const *lead, int n_lead,
                   int *h, int *w);
/* Whether the model m takes an image of h x w (vggcl_model_map_size: each side at least vggcl_model_min_input, at
 * most VGGCL_MAX_SIDE, and not where a pool that rounds up would get an odd map); NULL: any. A size is the
 * image's: one not taken is skipped, whether it would set the size or not. */
int cli_size_taken(const vggcl_model *m, int h, int w);
/* Why the models m[0..n) (NULL ones: any size) do not take h x w, worded to follow its subject and a colon
 * (CLI_SIZE_REFUSED's, "--crop C: "): in why (cap bytes), returned; NULL where every one takes it (cli_size_taken).
 * Smaller than the least side, larger than vggcl takes, another map than a model of one size's
 * (vggcl_model_fixed_size), else a pool that rounds up gets an odd map there. */
const char *cli_size_refused(const vggcl_model *const *m, int n, int h, int w, char *why, size_t cap);
/* An image of a size refused: its path, width, height and why (cli_size_refused). */
#define CLI_SIZE_REFUSED "%s: preprocesses to %d x %d pixels (width x height): %s"
/* An image whose logits are not all finite (classify, eval, train-head, bench --images, cam): its path, the first
 * such logit, where it was (cam's panel: " with pool5 keep"; else "") and "NaN" or "infinite"; a skip then adds
 * " (skipped)". */
#define CLI_LOGIT_NOT_FINITE "%s: logit %d%s is %s: the weights or the preprocessing overflow float32 on this image"
/* The first of the n values v that is not finite, else -1. */
int cli_not_finite(const float *v, int n);

/* The blanks taken around a list's items and an option's value, as the library takes them around a device. */
#define CLI_BLANKS " \t\r\n\v\f"
/* The next item of the comma-separated list at *s without the blanks around it, copied to item when it is
 * 1 to cap - 1 bytes: its length (0: empty; cap or more: too long, not copied); *s past it and its comma,
 * NULL after the last. */
size_t cli_list_item(const char **s, char *item, size_t cap);
/* s without the blanks around it (in buf; s itself where it is a list or does not fit; "" for blanks alone). */
const char *cli_trimmed(const char *s, char *buf, size_t cap);

/* The devices a command runs on: one, or with --device all or a list
 * ("0,1", "P:D,P:D") one context and model each (cli_open_models). */
#define CLI_MAX_DEVICES 16
typedef struct {
    int n;
    vggcl_ctx *ctx[CLI_MAX_DEVICES];
    vggcl_model *model[CLI_MAX_DEVICES];
} cli_devices;
/* The flat indices of the GPUs, else of every device (at most cap; those left out said): what
 * --device all (one_kind_only: those of the first one's kind, whose answers agree bit for bit) and
 * one device per MPI rank choose from. -1 with the error printed. */
int cli_all_devices(int *index, int cap, int one_kind_only);
/* Every device (allocated, *count of them), listed with a context of its own; NULL with the error
 * printed (no platform or device: what to install). cli_list_devices_why prints nothing: NULL with the
 * error in why (cut to len). */
vggcl_device_info *cli_list_devices(int *count);
vggcl_device_info *cli_list_devices_why(int *count, char *why, size_t len);
/* A list refuses empty items, more than CLI_MAX_DEVICES, and ref with OpenCL devices (CLI_USAGE). cmd names
 * the command in what the model's preset refuses (cli_model_preset) and, with option (the --device given, NULL
 * where none was: device is then $VGGCL_DEVICE's or a rank's own), a device that is not there. */
int cli_open_models(const char *cmd, const char *device, const char *option, const char *weights,
                    const vggcl_load_options *opts, vggcl_preprocess *p, cli_devices *d);
void cli_close_models(cli_devices *d);
/* vggcl_select_device(ctx, spec): CLI_OK, else CLI_FAIL said, naming cmd and --device where option (the --device
 * given, NULL where none was: spec is then $VGGCL_DEVICE's, which the library names, or a rank's own) chose it. */
int cli_select_device(const char *cmd, vggcl_ctx *ctx, const char *spec, const char *option);
/* For the commands that run on one device: CLI_USAGE (said) when --device given is all or a list; else CLI_OK
 * ($VGGCL_DEVICE's all or list means its first device: vggcl_select_device takes it). */
int cli_one_device(const char *cmd, const char *given);
/* Whether path names a FIFO by its name (through links too), which the commands do not wait on for a writer;
 * not /dev/stdin, /dev/fd/N and the like: a pipe the shell opened (<(...)) is read. */
int cli_named_fifo(const char *path);
/* The bytes of one line at most in the lists the commands read (--labels' class names, --files-from's paths):
 * a file of another kind, without a newline (/dev/zero through a link), was read as one line until the host's
 * memory ran out. A path is at most 4096 bytes on Linux. */
#define CLI_LINE_MAX 65536
/* vggcl_model_preprocess (model may be NULL: the defaults for what p does not give): CLI_OK, CLI_USAGE said
 * ("CMD: --mean/--std: ...") for a mean and std given that no image can take, or a --crop (without one, a
 * --resize HxW) the model does not take (cli_size_taken), else CLI_FAIL said (the model's own not taken,
 * too; where the command runs the model on ctx at that size, one image of it too large for its memory, said
 * with made, what the size is: CLI_IMAGES_MADE for the image commands; NULL: the command runs nothing there). */
int cli_model_preset(const char *cmd, vggcl_ctx *ctx, const vggcl_model *model, vggcl_preprocess *p,
                     const char *made);
#define CLI_IMAGES_MADE "the size every image is made"

/* Where a run's time went (vggcl bench --images). */
typedef struct cli_batch_stats {
    double wall_ms;      /* the whole run */
    double wait_ms;      /* waiting for decoded images */
    double blocked_ms;   /* waiting for the devices (to take a batch, to finish one) */
    double device_ms;    /* the devices' time on the passes, summed (vggcl_forward_wait) */
    double upload_ms;    /* handing the batches over, summed: vggcl_forward_submit (the input's copy
                          * to the device, queueing the pass, and buffers set up for the first or a
                          * larger batch; on ref the whole pass); within blocked_ms with one device */
    double host_ms;      /* the rest: assembling batches, the callback (printing, writing) */
    double decode_ms;    /* the decoding threads' time, summed */
    int threads, images, batches;
    int h, w;            /* the images' size the run settled on (the job's, else the first readable image's; each
                          * its own: the last's; 0 0: none read), also where every image read was then skipped
                          * (not finite) */
} cli_batch_stats;

/* Called once per batch with the nb images that loaded: index[j] is image
 * j's position in files, x its input (nb, 3, h, w), logits (nb, C) and
 * features (nb, F) when asked for (else NULL), flipped the features of the
 * mirrored images with flip. Returns CLI_OK to go on, else an exit code. */
typedef int (*cli_batch_fn)(void *user, const int *index, int nb, const float *x, int h, int w, const float *logits,
                            const float *features, const float *flipped);

/* --threads and --progress (cli_decode_options): 0 threads and -1 s when not given; CLI_USAGE
 * (said) on a bad value, or on a VGGCL_MAX_IMAGE_PIXELS vggcl_image_max_pixels refuses, else 0. */
int cli_decode_args(const char *cmd, const cli_args *a, int *threads, double *progress_s);
/* Runs every file: an image that cannot be read or preprocessed (or, with
 * job->finite, whose logits are not finite) is named on stderr, skipped and
 * counted in *failed when its batch is handed over, in list order (not those of
 * batches after a stop; with job->strict the caller fails the run for it).
 * Returns CLI_OK, or the exit code of a device failure (message printed) or
 * of the callback. */
int cli_run_batches(const cli_batch_job *job, char **files, int n_files, cli_batch_fn fn, void *user, int *failed);

/* Writes path (NULL: nothing) as an .npy of no rows of shape row[0..ndim): the output of a share
 * without images (--shard, a rank's; classify's with none classified), so that the shares' outputs still
 * concatenate. A row size below 1 (not
 * known without images) is refused, said. CLI_OK, or CLI_FAIL with the message printed. */
int cli_write_empty(vggcl_ctx *ctx, const char *path, int ndim, const long long *row);
/* The same, staged in *w (NULL where path is NULL or on failure) for cli_name_all to name; said: the name its
 * message gives (a rank's part: the output it is gathered into; NULL: path); nor: another output that is not
 * written either where this one is refused (NULL: none), named in the message. */
int cli_open_empty(vggcl_ctx *ctx, const char *path, const char *said, const char *nor, int ndim, const long long *row,
                   vggcl_npy_writer **w);

/* Images decoded and preprocessed on a pool of threads (decode_pool.c), taken
 * in list order: cli_decode_take(i) waits for image i, gives its tensor
 * (release with vggcl_free) or NULL and the message (free) when it could not
 * be read. Workers (threads >= 1, else NULL) stay at most `ahead` images past
 * the last one taken. */
typedef struct cli_decode_pool cli_decode_pool;
cli_decode_pool *cli_decode_start(char **files, int n, const vggcl_preprocess *p, int threads, int ahead);
/* The same over the places order[0..n) of the list (the images of the batches a rank was handed), more of
 * them known later (cli_decode_extend: order[0..n) then set; final: no more); cli_decode_take's i is a place. */
cli_decode_pool *cli_decode_start_in(char **files, const int *order, int n, int final, const vggcl_preprocess *p,
                                     int threads, int ahead);
void cli_decode_extend(cli_decode_pool *dp, int n, int final);
/* 1 where the image could not be read for want of the process's descriptors (the run stops: every image after it
 * would fail alike), else 0. */
int cli_decode_take(cli_decode_pool *dp, int i, float **t, int *h, int *w, char **msg);
/* What a run stopped by that says: the image's message, then why the run stops. */
#define CLI_NO_DESCRIPTORS "%s: the run stops there: this process may open no more files (its limit, ulimit -n, or " \
                           "the system's), so no image after it could be read either"
void cli_decode_stop(cli_decode_pool *dp); /* accepts NULL */
double cli_decode_busy_ms(cli_decode_pool *dp); /* worker time so far, summed */
int cli_decode_thread_count(const cli_decode_pool *dp);
double cli_now_ms(void);                   /* a monotonic clock, in milliseconds */
extern const cli_option cli_decode_options[]; /* --threads, --progress */

/* How far a run is (progress.c): a bar on stderr, a terminal, redrawn at each of n_steps steps (the batches, cam's
 * images: unit names them), or with progress_s > 0 a line every progress_s seconds (under mpirun rank 0's for
 * its share, every 60 s where not given; 0: none). */
typedef struct {
    int fd;              /* -1: nowhere */
    double every_ms;     /* 0: the bar */
    double start, last;
    int rank, ranks;     /* ranks > 1: this rank (0) speaks for its share */
    const cli_ranks *handed; /* batches handed out as ranks ask: rank 0 speaks for all of them */
    int batch;
    const char *unit;
    int drawn;           /* the bar's length */
    int answers_shown;   /* standard output is a terminal too: the bar is wiped before answers go there */
} cli_progress;
cli_progress cli_progress_begin(double progress_s, const cli_ranks *r, int batch, int n_steps, const char *unit);
/* After done_steps of n_steps: done of total images, skipped of them (unreadable, of another size, not finite: as
 * the run's end counts them), said apart where any, the rate of those that ran. */
void cli_progress_show(cli_progress *p, int done_steps, int n_steps, int done, int skipped, int total);
/* Batches handed out as ranks ask (p->handed), where p said a line: the run's last, "done in", on fd (rank 0, once
 * every rank's batches are done: cli_ranks_finish; the last p kept by cli_ranks_keep_progress). */
void cli_progress_all_done(const cli_progress *p, int fd, int total);
/* Keeps p, of the list of total images this rank runs, which said a line (rank 0 the handed-out batches'), for
 * cli_ranks_finish to end it with cli_progress_all_done; forgotten at the next list (cli_ranks_next_list). */
void cli_ranks_keep_progress(const cli_ranks *r, const cli_progress *p, int total);
/* Wipes the bar before answers go to standard output on the same terminal (they began on the bar's line); it is
 * drawn again below them at the next step. */
void cli_progress_wipe(cli_progress *p);
/* Writes msg (n bytes; NULL: none) to stderr, a bar drawn there wiped before it in the same write (every message on
 * stderr goes through it: cli_error); cli_progress_end_line wipes the bar alone. */
void cli_progress_put(const char *msg, size_t n);
void cli_progress_end_line(void);

/* An ImageFolder data set: one sub-folder per class, classes sorted by name
 * give the indices (as torchvision's ImageFolder), each holding image files
 * (CLI_IMAGE_EXTENSIONS, sorted). */
typedef struct {
    int n_classes;
    char **classes;
    int n;
    char **files;
    int *labels;
} cli_dataset;

/* The files cam writes for an image NAME (NAME.SUFFIX), without --compare-pool5 and with it: each panel's raw map
 * first, the picture last (cmd_cam.c). */
extern const char *const cli_cam_plain_suffix[];
extern const char *const cli_cam_compare_suffix[];
/* cam's name of an image's file: STEM.SUFFIX (the first n bytes of stem, a dot, suffix) in dir (NULL: stem is
 * a path already), into buf as snprintf writes it: the name's length, which fit where it is below len. */
int cli_cam_file(char *buf, size_t len, const char *dir, const char *stem, int n, const char *suffix);
/* Where file is named as cam names an image's file suffix (STEM.SUFFIX, STEM not empty): STEM's length (its
 * folder's included); else -1. */
int cli_cam_stem(const char *file, const char *suffix);
/* Reads dir (given as option opt, "CMD: --data", for messages); an error (not a folder, no class folders, a class
 * folder without images) is printed and returns CLI_FAIL. say: its notes are said (one rank of several says them;
 * among them, cam's pictures among the images: counted, as ImageFolder counts them). */
int cli_dataset_read(const char *opt, const char *dir, cli_dataset *ds, int say);
/* The index of the class folder called name (a search: the names are sorted), else -1. */
int cli_dataset_class(const cli_dataset *ds, const char *name);
void cli_dataset_free(cli_dataset *ds);

/* Names of classes as a JSON list (allocated; NULL when out of memory). */
char *cli_json_list(char **names, int n);

int cmd_train_head(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
