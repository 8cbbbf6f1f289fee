/* vggcl: VGG-family classifiers with a global-average-pooling head on OpenCL.
 *
 * The whole public API. Tensors are NCHW float32 in C order.
 * Every call that can fail returns a vggcl_status and leaves a message in the
 * context (vggcl_message). The library never exits or aborts.
 *
 * Usage (error checks shortened; examples/classify.c is the whole program):
 *
 *     vggcl_ctx *ctx = vggcl_ctx_new();
 *     vggcl_model *model = NULL;
 *     if (vggcl_select_device(ctx, NULL) != VGGCL_OK ||               // $VGGCL_DEVICE, a GPU, else the first
 *         vggcl_model_load(ctx, "model.safetensors", NULL, &model) != VGGCL_OK) {
 *         fprintf(stderr, "%s\n", vggcl_message(ctx));
 *         vggcl_ctx_free(ctx);
 *         return 1;
 *     }
 *     float *x; int xh, xw;
 *     vggcl_preprocess p;
 *     vggcl_preprocess_unset(&p);                                     // the model's preset, else torchvision's
 *     vggcl_model_preprocess(ctx, model, &p);
 *     vggcl_image_read(ctx, "photo.jpg", &p, &x, &xh, &xw);          // (1, 3, xh, xw) input
 *     float *logits = malloc(sizeof(float) * vggcl_model_classes(model));
 *     vggcl_forward(ctx, model, x, 1, xh, xw, logits, NULL);         // (1, C) logits
 *     vggcl_free(x), free(logits);
 *     vggcl_model_free(model);
 *     vggcl_ctx_free(ctx);
 *
 * Build against it with `find_package(vggcl CONFIG)` and the target
 * vggcl::vggcl, or `pkg-config --cflags --libs vggcl`.
 *
 * The environment the library reads (a program embedding it passes its own on):
 *   VGGCL_DEVICE      the device vggcl_select_device(ctx, NULL) picks (as its spec)
 *   VGGCL_CACHE_DIR   the folder of compiled programs and tuning tables ("off", any case: none;
 *                     default $XDG_CACHE_HOME/vggcl where that is absolute, else $HOME/.cache/vggcl);
 *                     on PoCL, its own cache folder (POCL_CACHE_DIR, else under XDG_CACHE_HOME or
 *                     HOME, as PoCL finds it) is checked to be writable, as PoCL's builds need
 *   VGGCL_HUGE_PAGES  1: a CPU device's packed weights advised as huge pages (MADV_HUGEPAGE); unset
 *                     or any other value: not (the default)
 *   VGGCL_MAX_IMAGE_PIXELS  the most pixels an image may have to be read, below PIL's limit
 *                     (vggcl_image_max_pixels)
 *   VGGCL_KERNEL_DIR  for development: the kernels' .cl sources read from this folder, not the
 *                     copies built into the library
 *   VGGCL_FAULT       for tests: KIND:N[:CODE] fails the Nth OpenCL call of KIND once
 *                     (docs/failures.md, "Device failures"); a malformed value fails every device selection,
 *                     saying so
 *   TMPDIR            where an output that is no regular file (a pipe, a device) is staged whole first
 * and the OpenCL ICD loader's OCL_ICD_VENDORS and OCL_ICD_FILENAMES (named in the message when no
 * platform is found). Leave VGGCL_KERNEL_DIR and VGGCL_FAULT unset in production.
 */
#ifndef VGGCL_H
#define VGGCL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version (CMakeLists.txt reads it from here; python/pyproject.toml repeats it, checked
 * by the python test); vggcl_version() gives the one the program runs with, "MAJOR.MINOR.PATCH".
 * While MAJOR is 0 a new MINOR may change the API and ABI: the soname is libvggcl.so.0.MINOR. */
#define VGGCL_VERSION_MAJOR 0
#define VGGCL_VERSION_MINOR 3
#define VGGCL_VERSION_PATCH 0
#define VGGCL_VERSION_STRING "0.3.0"

/* Marks the exported functions: libvggcl.so is built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define VGGCL_API __attribute__((visibility("default")))
#else
#define VGGCL_API
#endif

typedef enum {
    VGGCL_OK = 0,
    VGGCL_ERR_ARG,       /* bad argument or option */
    VGGCL_ERR_IO,        /* a file could not be opened, read or written */
    VGGCL_ERR_FORMAT,    /* a file is malformed (weights, npy) */
    VGGCL_ERR_SHAPE,     /* a tensor has the wrong shape for the network */
    VGGCL_ERR_NO_DEVICE, /* no OpenCL platform/device, or none matches */
    VGGCL_ERR_DEVICE,    /* an OpenCL call or kernel build failed */
    VGGCL_ERR_DEVICE_MEMORY, /* the device cannot hold what the pass needs */
    VGGCL_ERR_NOMEM      /* host allocation failed */
} vggcl_status;
/* A required pointer given as NULL (one not documented "may be NULL") is VGGCL_ERR_ARG with a
 * message naming it, in the context when there is one (a NULL context itself: the status alone,
 * vggcl_npy_writer_close freeing its writer all the same); accessors given a NULL model or context
 * return 0, NULL or "" (vggcl_device_index -1, vggcl_model_min_input and vggcl_model_size_multiple 1,
 * vggcl_decode_threads_default the usable cores, and vggcl_message the out-of-memory message that a
 * NULL from vggcl_ctx_new means);
 * the functions that return nothing (the *_defaults, vggcl_preprocess_unset, the CAM drawing) do
 * nothing with a NULL to fill (vggcl_cam_upsample fills out with 0 where cam is NULL). An output
 * pointer a function allocates (*out, *rgb, *data) is set to NULL before any other argument is
 * checked, also without a context, so freeing it after
 * a failure is safe. */

VGGCL_API const char *vggcl_version(void);

/* Releases memory the library handed out (images, tensors, .npy data);
 * accepts NULL. */
VGGCL_API void vggcl_free(void *p);

typedef struct vggcl_ctx vggcl_ctx;
typedef struct vggcl_model vggcl_model;

/* A context owns the chosen device (or the reference backend) and the last
 * error message. NULL only when the host is out of memory. A context, and the
 * models loaded with it, are used by one thread at a time (their compiled
 * kernels, queue, buffers and message are not locked): threads that run at
 * once take a context each (two contexts may share a device). A process
 * forked after this one listed the OpenCL devices (vggcl_list_devices,
 * vggcl_select_device) cannot use OpenCL, whose drivers do not carry over a
 * fork: there listing, selecting an OpenCL device, loading a model on one and
 * passes of the parent's models fail with VGGCL_ERR_DEVICE saying so (PoCL
 * waited forever), and freeing them gives nothing back to the driver; the
 * reference backend works. Start workers by fork + exec, or before any
 * OpenCL use. */
VGGCL_API vggcl_ctx *vggcl_ctx_new(void);
/* Accepts NULL. Models still loaded with the context keep it until the last of them is freed (free them too:
 * vggcl_model_free then frees the context); ctx itself is given up: pass it to no call after this one (a second
 * vggcl_ctx_free included), so its models to none that takes a context. Everything the context holds is given
 * back, also CLBlast's programs for it (CLBlast's process-wide caches, which can only be emptied whole, are
 * emptied when the last live context that used CLBlast goes, and at every 8th such context freed: the live ones
 * then make theirs again at their next CLBlast call), so contexts opened and freed one after another keep the
 * memory flat, also beside a context kept alive; a context kept for the process's life saves each new one its
 * start-up (device, programs). */
VGGCL_API void vggcl_ctx_free(vggcl_ctx *ctx);
/* The message of the last call on ctx that failed (one that succeeds leaves it as it was: read it after a
 * failure, not to learn whether a call failed). The text is the context's: it stays as it is until the next
 * call on ctx that fails, or vggcl_ctx_free (copy it to keep it longer). */
VGGCL_API const char *vggcl_message(const vggcl_ctx *ctx);
/* The system's error number (errno) behind the last failure on ctx where the system refused a file it was to open,
 * read or write (ENOENT: not there; EACCES: not allowed; EISDIR: a folder; ENOMEM, the call's status then
 * VGGCL_ERR_NOMEM: no memory to open it with), for a caller that acts on it as on its
 * own open's; 0 where the failure was not the system's (a malformed file, a file cut short while read, a shape, a
 * device), and for a NULL ctx. */
VGGCL_API int vggcl_os_error(const vggcl_ctx *ctx);

typedef struct {
    int platform, device;   /* indices to pass to --device as "P:D" */
    int index;              /* flat index, also accepted by --device */
    char platform_name[128];
    char name[128];
    char type[16];          /* "GPU", "CPU", "ACCELERATOR", ... */
    char version[128];
    char driver[128];       /* CL_DRIVER_VERSION */
    unsigned compute_units, clock_mhz;
    unsigned long long global_mem, max_alloc, local_mem;
    unsigned long long max_work_group; /* work-items per work-group */
} vggcl_device_info;

/* Lists every OpenCL device. *count gets the total; at most cap are written (none for cap <= 0, when out
 * may be NULL). No platform or no device: VGGCL_ERR_NO_DEVICE, *count 0, and a message saying what to
 * install. */
VGGCL_API vggcl_status vggcl_list_devices(vggcl_ctx *ctx, vggcl_device_info *out, int cap, int *count);

/* spec: "ref" (plain-C reference; in any case, as "all"), "P:D" (blanks around its colon taken), a flat index, a
 * type as vggcl_device_info's, any case ("cpu", "gpu", "accelerator": the first device of it, else as a name), or a
 * substring of the device name (any case; the first device it names, said through the log function where a type
 * or name names several), without the white space around it (blanks, tabs, a line's end). NULL, "" or white space
 * alone mean $VGGCL_DEVICE, else the first GPU, else the first device. One device: a list or "all" (the
 * commands' --device) is VGGCL_ERR_NO_DEVICE; in $VGGCL_DEVICE (set for the commands that take several)
 * they mean their first device (all: the first GPU, else the first device). Call once per context, before
 * loading a model (a second call, after one that succeeded, is VGGCL_ERR_ARG; after a failed one, allowed). */
VGGCL_API vggcl_status vggcl_select_device(vggcl_ctx *ctx, const char *spec);
VGGCL_API const char *vggcl_device_name(const vggcl_ctx *ctx); /* "" before selection; the context's, until freed */
/* The selected device's index in vggcl_list_devices (what a spec of that number selects): it tells
 * apart devices of one name (a box of identical GPUs); -1 for ref and before selection. */
VGGCL_API int vggcl_device_index(const vggcl_ctx *ctx);
/* The selected device's type as vggcl_list_devices gives it ("GPU", "CPU", ...); "" for ref and
 * before selection; the context's, until it is freed. */
VGGCL_API const char *vggcl_device_type(const vggcl_ctx *ctx);
/* The cores this process may run on: its CPU affinity (mpirun binds each of one or two ranks to
 * a single core unless told --bind-to none), else the online ones. */
VGGCL_API int vggcl_usable_cores(void);
/* How many threads should decode and preprocess images for this context's device: one per core
 * this process may run on (its CPU affinity), but one per 16 cores, rounded up, when the device
 * is a CPU (it computes on the same cores); at most 64. */
VGGCL_API int vggcl_decode_threads_default(const vggcl_ctx *ctx);

/* AUTO is 0, so a vggcl_load_options set to zeros ({0}) loads the file's pool5 (DROP was 0 before 0.3: such a
 * struct dropped pool5 unsaid, and the head got features it was not trained on). */
enum { VGGCL_POOL5_AUTO = 0, VGGCL_POOL5_KEEP = 1, VGGCL_POOL5_DROP = 2 };

/* How the device runs each 3x3 convolution. AUTO: the tuning table's row for
 * the layer's channels and a map at most twice as large or small on each side
 * (one of its map size first, then of its batch class: 1-2, 3-16, 17 and more,
 * then the nearest map and batch), else the device's default: on a GPU the
 * GPU-shaped Winograd F(4x4, 3x3) (local-memory tiled GEMM), elsewhere the
 * CPU-shaped Winograd on the channel-packed layout (16 channels of a pixel per
 * vector) for layers of up to 256 channels in and out, on NCHW maps above
 * (on a CPU whose vectors hold fewer than 16 floats, AVX2's, channel-packed
 * everywhere; above 256 channels with fewer than 16 in, direct); and where the
 * device's limits (local memory, work-group size) leave an algorithm no valid
 * parameters, the next, down to direct, which runs everywhere.
 * GEMM: im2col + CLBlast SGEMM, kept for comparison. */
enum {
    VGGCL_CONV_AUTO = 0, VGGCL_CONV_DIRECT = 1, VGGCL_CONV_WINOGRAD = 2, VGGCL_CONV_GEMM = 3,
    VGGCL_CONV_WINOGRAD_GPU = 4, VGGCL_CONV_WINOGRAD_PACKED = 5
};

/* The VGGCL_CONV_* of an algorithm's name ("direct", "winograd", "gemm",
 * "winograd-gpu", "winograd-packed"), 0 for any other name. */
VGGCL_API int vggcl_conv_algorithm(const char *name);

typedef struct {
    int pool5;          /* VGGCL_POOL5_*; AUTO = the file's metadata, else keep */
    const char *head;   /* key prefix of the linear head; NULL = "classifier.0" */
    int conv;           /* VGGCL_CONV_*; 0 = AUTO */
    int features_only;  /* 1: load the convolutions only (any head in the file is ignored,
                           none is needed); forward passes then give features, not logits;
                           0: with the head (another value is refused) */
} vggcl_load_options;

/* Defaults: pool5 from the file (AUTO), head "classifier.0", conv AUTO, with the head. */
VGGCL_API void vggcl_load_options_defaults(vggcl_load_options *o);

/* Reads a safetensors state_dict, infers the network, folds BatchNorm and
 * uploads the weights to the context's device. opts may be NULL. The head:
 * classifier.0 (C, C_last) after GAP; or a chain of dense layers, every 2-D
 * classifier.K.weight in order of K with ReLU between them (two at consecutive
 * K, nn.Sequential(Linear, Linear), are VGGCL_ERR_SHAPE: no ReLU fits), after GAP or,
 * when classifier.0 is C_last * 49 wide, after an adaptive average pool to 7x7
 * flattened in (c, h, w) order (torchvision's classifier.0/.3/.6); or, where the
 * file's only classifier.* tensors are classifier.weight and .bias, unnumbered
 * (model.classifier = nn.Linear), that one layer, after GAP or that 7x7 pool. */
VGGCL_API vggcl_status vggcl_model_load(vggcl_ctx *ctx, const char *path,
                              const vggcl_load_options *opts, vggcl_model **out);
VGGCL_API void vggcl_model_free(vggcl_model *model); /* accepts NULL */

/* A model of torchvision's configuration arch ("vgg11", "vgg13", "vgg16",
 * "vgg19") with deterministic random weights (He-scaled) and a GAP head of
 * `classes` (1 to 1000000: else VGGCL_ERR_ARG), for benchmarks: the same seed gives the same weights. opts: as
 * for vggcl_model_load (head and features_only are ignored, features_only
 * checked as there: the model has a head; pool5 AUTO keeps it); may be NULL. */
VGGCL_API vggcl_status vggcl_model_random(vggcl_ctx *ctx, const char *arch, int classes, unsigned seed,
                                const vggcl_load_options *opts, vggcl_model **out);

VGGCL_API int vggcl_model_classes(const vggcl_model *model);   /* C of the head (0: loaded features_only) */
VGGCL_API int vggcl_model_features(const vggcl_model *model);  /* width of GAP features */
/* smallest H and W accepted (a model whose pools round up takes some sizes above it only: vggcl_model_map_size) */
VGGCL_API int vggcl_model_min_input(const vggcl_model *model);
/* Where the model's max pools round up (its metadata "vggcl.pool_ceil": vggcl runs such a pool where its map
 * is even), every H and W that is a multiple of this (and at least vggcl_model_min_input, at most
 * VGGCL_MAX_SIDE with H x W below 2^31; of a model of one input size, vggcl_model_fixed_size, the sizes that make
 * its map alone) is taken; other sizes may be too (vggcl_model_map_size says which). 1
 * where none rounds up (or model NULL): any size from vggcl_model_min_input up (to those bounds); INT_MAX: no
 * size is. */
VGGCL_API int vggcl_model_size_multiple(const vggcl_model *model);
/* The one input size (*h x *w) a model whose head flattens its map (a dense chain after a 7x7 pool) was made
 * for, where its metadata "vggcl.input_size" records one (import_onnx.py's, for a graph of a fixed input): 1;
 * it then takes the sizes that make the map that size makes (vggcl_model_map_size; its graph pools no other to
 * what the head flattens, where vggcl pooled it to 7x7 as torchvision's AdaptiveAvgPool2d). 0 (0 x 0) for any
 * other model (a GAP head takes every size its trunk does), or model NULL; h and w may be NULL. */
VGGCL_API int vggcl_model_fixed_size(const vggcl_model *model, int *h, int *w);
VGGCL_API int vggcl_model_pool5(const vggcl_model *model);     /* 1: pool5 kept, 0: dropped */

/* The file's __metadata__[key] ("vggcl.pool5", "vggcl.mean", ...), or NULL;
 * valid while the model lives. */
VGGCL_API const char *vggcl_model_metadata(const vggcl_model *model, const char *key);
/* Class c's name from the file's "vggcl.classes" metadata (a JSON list), or
 * NULL when the file names no classes (or c is not a class); valid while the model lives. */
VGGCL_API const char *vggcl_model_class_name(const vggcl_model *model, int c);

/* The largest side of an input vggcl takes (with h x w below 2^31). */
#define VGGCL_MAX_SIDE 65536

/* One forward pass. input: (n, 3, h, w). logits: (n, classes), may be NULL
 * (must be, for a model loaded features_only). features: (n, features) GAP
 * output, may be NULL. n >= 1, 1 <= h, w <= VGGCL_MAX_SIDE with h x w below 2^31, at
 * least the model's smallest input, and at most 2^50 floats of activations: else
 * VGGCL_ERR_SHAPE (also, from the pass itself, for a layer forced to gemm whose
 * one image's product is past CLBlast's 32-bit indexes, a map of millions of
 * pixels: vggcl_check_batch does not foresee it); VGGCL_ERR_DEVICE_MEMORY where the pass does not fit the
 * device (VGGCL_ERR_NOMEM the host, on the reference), VGGCL_ERR_ARG for another context's model or one with
 * overlapped passes not waited for. After a failure the outputs hold nothing valid (they may
 * be partly written). The model keeps the device buffers of its largest pass so far for the passes after
 * it (they grow, never shrink): a service that ran one large batch holds that memory until the model is
 * freed (vggcl_model_free; a model loaded again holds none until its first pass). */
VGGCL_API vggcl_status vggcl_forward(vggcl_ctx *ctx, vggcl_model *model, const float *input,
                           int n, int h, int w, float *logits, float *features);

/* A forward pass that also returns class activation maps (Zhou et al. 2016):
 * for image i, the head's weights for class classes[i] (its top class where
 * classes is NULL or classes[i] < 0) applied to the map GAP averages, from the
 * same pass. cams: (n, mh, mw) with the map size from vggcl_model_map_size
 * (7x7 at 224 with pool5, 14x14 without). chosen (may be NULL) gets the class
 * used per image. logits and features may be NULL. A classes[i] at or past the model's class count is
 * VGGCL_ERR_ARG. */
VGGCL_API vggcl_status vggcl_forward_cam(vggcl_ctx *ctx, vggcl_model *model, const float *input, int n, int h, int w,
                               float *logits, float *features, const int *classes, float *cams, int *chosen);
/* The map GAP averages at input h x w; 0 x 0 for a size the model does not take (too small for its pools, past
 * VGGCL_MAX_SIDE a side or 2^31 - 1 pixels, or, where its metadata "vggcl.pool_ceil" says pools round up, one
 * that gives such a pool an odd map: vggcl runs those only where rounding up and down agree; a pass at such a
 * size is VGGCL_ERR_SHAPE, naming the layer where it is one; or, for a model of one size, vggcl_model_fixed_size,
 * a size that makes another map than that one). */
VGGCL_API void vggcl_model_map_size(const vggcl_model *model, int h, int w, int *mh, int *mw);
/* Whether the model can give class activation maps, as vggcl_forward_cam checks it: VGGCL_OK, or
 * VGGCL_ERR_ARG with the message that names its head (dense layers after GAP or after a 7x7 pool have no
 * maps to give), for a caller to say so once, after loading, before any image is read. */
VGGCL_API vggcl_status vggcl_check_cam(vggcl_ctx *ctx, const vggcl_model *model);

/* Whether a pass of n images of h x w fits in the context's memory, checked as a pass checks it before it
 * allocates anything (overlapped passes in flight, which a pass refuses, are not looked at), for a caller about
 * to make a large batch: VGGCL_OK, or the error such a pass would
 * give, with its message: VGGCL_ERR_ARG (another context's model), VGGCL_ERR_SHAPE, VGGCL_ERR_DEVICE_MEMORY
 * (the need, the largest buffer, the device's limits and the largest batch that fits; on a CPU device, whose
 * buffers are the host's memory, also what a stream of such passes adds to the model's buffers, with the input,
 * features and logits the caller is yet to make, against the host's free memory and swap, within a cgroup's
 * limit and ulimit -v, less a reserve for the driver); on the reference VGGCL_ERR_NOMEM, where the host's free
 * memory and swap (within those limits) must also hold the input the caller is yet to make and the pass's own
 * features and logits. */
VGGCL_API vggcl_status vggcl_check_batch(vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w);
/* The same for a stream of batches of n, whose last may be smaller: every batch of 1 to n must fit. Where
 * a tuning table gives a batch of 17 an algorithm of less workspace than one of 16 (vggcl_max_batch), n
 * may fit and a smaller batch not: VGGCL_ERR_DEVICE_MEMORY then names that batch. */
VGGCL_API vggcl_status vggcl_check_batches(vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w);
/* The largest batch of h x w images that fits, as vggcl_check_batches says, up to limit (>= 1; a pass's
 * size bound, 2^50 floats of activations, lowers it); 0 where not even one image fits (the message says
 * why, as vggcl_check_batch's for one image); -1 with the error's
 * message where the model or h x w is refused or limit < 1. Every smaller batch fits too (so batches of
 * it, the last smaller, can be run): where a tuning table (vggcl_tune) gives batches of 1-2, 3-16 and 17
 * or more algorithms of different workspaces, a batch of 17 may fit where one of 16 does not, and the
 * answer then stops below 16. The out-of-memory messages' "largest batch that fits" is this number, but
 * for a pass on the reference, whose input is already made: it counts only the host memory the pass itself
 * takes, so it may be larger than this (which keeps room for the input the caller is yet to make). */
VGGCL_API int vggcl_max_batch(vggcl_ctx *ctx, const vggcl_model *model, int h, int w, int limit);

/* Overlapped passes, for a stream of batches: the next batch goes to the
 * device while the device still computes the one before (the model keeps two
 * input buffers), and the caller's thread is free while a pass runs (on the
 * reference backend submit runs the whole pass before it returns, and
 * device_ms is its time on the host).
 * vggcl_forward_submit returns once the batch is on the device (input may be
 * reused) and its pass is queued; logits and features (either may be NULL)
 * must stay valid until vggcl_forward_wait has reported that pass, which
 * waits for the oldest pass in flight: passes complete in the order they were
 * submitted. At most two are in flight; a third submit, or vggcl_forward and
 * the other passes on the model meanwhile, is VGGCL_ERR_ARG. A failed submit
 * leaves nothing of its own in flight (the passes before it stay in flight
 * and valid); a failed wait ends that pass, whose outputs are not valid.
 * vggcl_model_free drops the passes in flight. device_ms (may be NULL) gets
 * the time the device spent on the pass: from when it could start (its input
 * uploaded, the pass before it done) to its end, on the device's clock. */
VGGCL_API vggcl_status vggcl_forward_submit(vggcl_ctx *ctx, vggcl_model *model, const float *input, int n, int h,
                                            int w, float *logits, float *features);
VGGCL_API vggcl_status vggcl_forward_wait(vggcl_ctx *ctx, vggcl_model *model, double *device_ms);

/* Benchmark: one warm-up pass (uploads input; includes first-use kernel
 * compiles), then `iters` timed passes on the batch already on the device,
 * each reading the logits back (a features_only model's features). ms gets `iters` wall times in
 * milliseconds. */
VGGCL_API vggcl_status vggcl_benchmark(vggcl_ctx *ctx, vggcl_model *model, const float *input, int n, int h, int w,
                             int iters, double *warmup_ms, double *ms);

/* Tuning: for each distinct conv shape (C_in, C_out, H, W) of the model at an h x w input and each batch size in
 * batches (each stands for its class: 1-2, 3-16, 17 and more), searches every convolution algorithm and its kernel
 * parameters on the device: candidates the device cannot run are left out, each one is first checked against the
 * plain-C reference on a small slice, then timed with profiling events (median of `iters` passes after a warm-up).
 * Each algorithm's default parameters go first, with the table's row for the shape and class where it has one, then
 * the fastest one's one-parameter neighbours, then the other candidates in a fixed shuffled order (those of the
 * algorithms whose defaults took over twice the fastest one's time, or were rejected, last); budget_s bounds the
 * whole search (each shape gets a share of what is left for the candidates past the defaults; no candidate is begun
 * once it is spent, though one begun finishes, its first compile included; shapes reached after it is spent get no
 * row of their own, and the context's log (vggcl_set_log) says how many); <= 0: the defaults and the table's row for
 * the shape only, without a bound. A candidate faster than the device's default replaces it only if it still wins
 * by 3% when the two alternate (3 rounds of `iters` passes; ms is then the default's ms times the median per-round
 * ratio) and gives the default's answers at the timed shape (relative L2 within 1e-4 on up to 2^25 floats
 * of its input and output, one image whole up to 2^28, a larger map not checked and the default kept, said once
 * through the log; the slice reaches no large-map path). The kept candidate per shape and class goes to the
 * context's tuning table on disk (the cache folder, keyed by device and driver), rewritten after each shape so an
 * interrupted tune keeps what it measured; rows of other shapes and classes already there are kept. Models loaded
 * afterwards with conv AUTO use it (two batches of one class are VGGCL_ERR_ARG, and no cache folder to use, or a
 * table there that is not a private regular file, VGGCL_ERR_IO, before any tuning; a size or batch no pass takes is
 * the pass's error, and a shape whose every candidate failed the last one's: VGGCL_ERR_DEVICE_MEMORY where it did
 * not fit; VGGCL_ERR_ARG is only ever the arguments, a batch past 4096 among them, the reference device, which has
 * nothing to tune, or passes in flight). batches NULL or n_batches < 1: batch 1. rows gets up to cap results;
 * *count the number of shapes x classes tuned; path (may be NULL) the table, cut to path_len. */
typedef struct {
    char layer[96];     /* e.g. "features.2" (the first conv of this shape) */
    int c_in, c_out, h, w, batch;
    char algo[32];      /* the kept one: "winograd-gpu", ... */
    char params[160];   /* its kernel parameters, "MWG=64 NWG=64 ..." */
    double ms;          /* its median ms per pass */
    double default_ms;  /* the choice without a table (the device's default), for comparison */
    int tried;          /* candidates timed */
    int rejected;       /* candidates that failed to build or run, differed from the reference on
                         * the slice, or (a challenger that won) from the default at the timed shape,
                         * or could not be checked there (a map of one image past 2^28 floats) */
} vggcl_tune_row;
VGGCL_API vggcl_status vggcl_tune(vggcl_ctx *ctx, vggcl_model *model, const int *batches, int n_batches, int h, int w,
                        int iters, double budget_s, vggcl_tune_row *rows, int cap, int *count, char *path,
                        size_t path_len);

/* Progress messages for people: with a log function set, the context calls
 * it (on the calling thread) before slow work people would otherwise wait on
 * in silence, such as the first compile of the kernels for a device, and with
 * notes a failure's message has no room for or that fail nothing (a kernel's
 * whole build log, a compiled program the cache could not keep). NULL
 * turns it off (the default). The function runs inside the call that logs:
 * it must not call vggcl with the same context or its models. */
typedef void (*vggcl_log_fn)(void *user, const char *message);
VGGCL_API void vggcl_set_log(vggcl_ctx *ctx, vggcl_log_fn fn, void *user);

/* How the context's programs were made ready: total milliseconds, and how many
 * came from the on-disk binary cache or were compiled from source. */
VGGCL_API void vggcl_build_info(const vggcl_ctx *ctx, double *ms, int *from_cache, int *compiled);

/* Profiling: with vggcl_profile(ctx, 1), each forward pass records one entry
 * per step (each layer, and each conversion of layout between them) from OpenCL profiling events (device
 * time). vggcl_profile_read
 * returns the number of entries of the last pass and writes up to cap. With
 * overlapped passes that is the last one submitted: read it after its
 * vggcl_forward_wait. Profiling on needs an OpenCL device (VGGCL_ERR_ARG on the reference or
 * before a selection); off is VGGCL_OK on any context. */
typedef struct {
    char layer[160];    /* e.g. "layer features.28 (conv 512->512, 14x14, winograd)" */
    double ms;          /* device time */
    double gflop;       /* arithmetic done (2 per multiply-add), 0 where not counted */
    char params[96];    /* a convolution's algorithm parameters, as the tuning table writes them ("M=4 R=7 OG=4
                         * FUSE=1 TB=1 TCH=0"; empty for an algorithm without any, and for the other steps) */
    int tuned;          /* a convolution: 1 where the tuning table's row chose its parameters (and with conv AUTO its
                         * algorithm) and they are not what the defaults give (a row that keeps the defaults, as tune
                         * writes where none beat them, is 0), 0 where the defaults ran; -1 for the other steps */
    char name[96];      /* a convolution's layer name alone ("features.28", as in layer); "" for the other steps */
    char algorithm[24]; /* a convolution's algorithm as --conv and the tuning table name it ("winograd-packed"); ""
                         * for the other steps */
    int fused_pool;     /* a convolution that ran the max pool after it within it (layer's " + max pool"): 1; else 0 */
} vggcl_layer_profile;
VGGCL_API vggcl_status vggcl_profile(vggcl_ctx *ctx, int on);
VGGCL_API int vggcl_profile_read(vggcl_ctx *ctx, vggcl_layer_profile *out, int cap);

/* Most device memory the context has held at once, in bytes. */
VGGCL_API size_t vggcl_device_bytes_peak(const vggcl_ctx *ctx);

/* How many of the model's 3x3 convolutions a pass of n images of h x w runs as the context's tuning table
 * (vggcl_tune) gives them, other than the device's defaults would (another algorithm, or other parameters; a row
 * that keeps the defaults, as tune writes where none beat them, is not counted): 0 without a table, on the
 * reference, with a conv algorithm forced whose rows the table lacks, or for a model of another context. *convs
 * (may be NULL) gets the model's count of convolutions (0 where n, h or w is below 1). */
VGGCL_API int vggcl_model_tuned_layers(const vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w, int *convs);
/* How many of them take a row of the tuning table, whether or not it keeps the defaults (0 as above). Where none
 * does but the context has a table with rows (of other sizes, of another model's layers, or of other algorithms
 * than the one forced), note (may be NULL) gets a sentence for people naming the table and why none fits, else "";
 * cut to len. */
VGGCL_API int vggcl_model_table_layers(const vggcl_ctx *ctx, const vggcl_model *model, int n, int h, int w, char *note,
                                       size_t len);

/* Convolution FLOPs (2 per multiply-add) of one pass of n images of h x w; 0 where n, h or w is below 1 or the
 * model does not take h x w (vggcl_model_map_size 0 x 0). */
VGGCL_API double vggcl_model_flops(const vggcl_model *model, int n, int h, int w);

/* Images. vggcl_image_load decodes a JPEG, PNG, WebP, BMP, TIFF or PNM (PBM, PGM, PPM) file to 8-bit RGB, row-major
 * (h, w, 3), as PIL's Image.open(path).convert("RGB") does (alpha dropped,
 * palettes expanded, gray replicated; an animated WebP's first frame); *rgb is allocated (release with vggcl_free). */
VGGCL_API vggcl_status vggcl_image_load(vggcl_ctx *ctx, const char *path, unsigned char **rgb, int *h, int *w);
/* The most pixels (width x height) an image may have to be read, *pixels: PIL's limit, 178956970, above which
 * PIL refuses one as a decompression bomb, or the environment's VGGCL_MAX_IMAGE_PIXELS where set and not empty
 * (a program that reads images from anyone bounds their memory and time below PIL's: a file of a few bytes may say a
 * canvas of millions of pixels). VGGCL_ERR_ARG, saying so, where that is not a whole number from 1 to PIL's
 * limit; the image functions then refuse every image with the same message. A larger image is refused
 * (VGGCL_ERR_FORMAT) once its header is read, before its pixels are. ctx may be NULL (nothing to say it to:
 * the status alone). */
VGGCL_API vggcl_status vggcl_image_max_pixels(vggcl_ctx *ctx, unsigned long long *pixels);

/* torchvision's ImageClassification preset: resize the short side to `resize`
 * with PIL's antialiased bilinear filter (0: no resize; where resize_w is above
 * 0, resize both sides to `resize` rows by `resize_w` columns instead, the
 * aspect not kept, as torchvision's Resize((resize, resize_w))), center-crop to
 * `crop` (0: no crop; zero padding when the image is smaller), scale to [0, 1]
 * and normalize per channel: (x - mean) / std (mean finite, std finite and
 * above 0, as a model's metadata must have them). draft 1: where the library
 * decodes a JPEG (vggcl_image_read, the commands), it decodes it at 1/2, 1/4
 * or 1/8 of its size, the smallest that keeps both sides at least `resize`, as
 * PIL's Image.draft("RGB", (resize, resize)) does before the preset (the height
 * at least `resize` and the width `resize_w`, draft("RGB", (resize_w, resize)),
 * where resize_w is above 0): several
 * times faster on photos much larger than the input, and not torchvision's
 * pixels (the model sees a slightly different image). 0: the whole decode. */
/* The largest resize (each side, resize_w too) and crop the preset takes: 16384 x 16384 is 2^28 pixels. */
#define VGGCL_MAX_PRESET_SIDE 16384
typedef struct {
    int resize, crop;
    float mean[3], std[3];
    int draft;
    int resize_w;
} vggcl_preprocess;
/* 256, 224, ImageNet mean and std, no draft, resize_w 0 */
VGGCL_API void vggcl_preprocess_defaults(vggcl_preprocess *p);
/* Every field "not given" (resize, crop, draft and resize_w -1, mean[0] and std[0] NaN), for
 * vggcl_model_preprocess; resize_w goes with resize: a resize given with resize_w -1 is the short side's, and
 * a resize not given takes the file's resize_w with it, over one given. */
VGGCL_API void vggcl_preprocess_unset(vggcl_preprocess *p);
/* The preprocessing a model was trained with, as the commands read it: each field of *p not
 * given (vggcl_preprocess_unset) from the file's __metadata__ "vggcl.resize" (a whole size from 0
 * to 16384, or "H,W": resize and resize_w, each from 1), "vggcl.crop" (a whole size from 0 to
 * 16384), "vggcl.mean", "vggcl.std" ("R,G,B", finite, std > 0), "vggcl.draft" (0 or 1), which
 * train-head and export_torchvision.py write (import_onnx.py all but the draft), else torchvision's
 * (vggcl_preprocess_defaults); the fields given are kept. model may be NULL: the defaults alone
 * (ctx may then be NULL too). VGGCL_ERR_FORMAT,
 * naming the file, the key and its value, when a value it would take is malformed, or when the
 * file's vggcl.mean and/or vggcl.std (with torchvision's for one it lacks) take pixel values past
 * a float's range (a std of 1e-40); else VGGCL_ERR_ARG when the mean and std given, alone or with
 * the file's, do so, or when a mean given is above 1 or a std 10 or above (on the scale of 0..255: the pixels
 * are x/255; a file's is taken, as an imported graph may scale so, and said once a context through the log
 * function: one exported so gives wrong answers). Nothing else given is checked here: a
 * resize, resize_w, crop, draft, mean or std out of its range is refused where an image is preprocessed
 * (vggcl_image_preprocess). *p changes only on VGGCL_OK. */
VGGCL_API vggcl_status vggcl_model_preprocess(vggcl_ctx *ctx, const vggcl_model *model, vggcl_preprocess *p);

/* rgb (h, w, 3) -> *out (3, *oh, *ow) float32, allocated (release with vggcl_free). VGGCL_ERR_ARG for
 * a resize, resize_w or crop out of 0-16384 (resize_w -1, vggcl_preprocess_unset's, is taken as 0), a
 * resize_w above 0 with a resize of 0, a draft other than 0 or 1, a mean not finite or a std not finite
 * and above 0, and a mean and std that take pixel values past a float's range (a std of 1e-45);
 * VGGCL_ERR_SHAPE for a side below 1 or a resize past 2^28 pixels; VGGCL_ERR_NOMEM. p->draft is checked,
 * not followed: a draft is of the decoding (vggcl_image_read), and rgb is decoded already. */
VGGCL_API vggcl_status vggcl_image_preprocess(vggcl_ctx *ctx, const unsigned char *rgb, int h, int w,
                                    const vggcl_preprocess *p, float **out, int *oh, int *ow);
/* vggcl_image_load then vggcl_image_preprocess, with the same result (but with p->draft 1 on a JPEG, which it
 * decodes at 1/2, 1/4 or 1/8 of its size first, as PIL's draft: vggcl_image_load has the whole image and
 * vggcl_image_preprocess no draft to make; the values then differ, as PIL's do), decoding only what the
 * preset reads: a JPEG's rows above and below, and its columns left and right of, the part that
 * the resize and the crop use are mostly not decompressed (a 2-pixel margin, whole iMCUs and the
 * last row still are; a progressive JPEG missing scans is decoded whole). Their data is still
 * read, so a truncated or corrupt file fails as before. Safe from several threads, a context
 * each. */
VGGCL_API vggcl_status vggcl_image_read(vggcl_ctx *ctx, const char *path, const vggcl_preprocess *p, float **out,
                                        int *oh, int *ow);

/* Writes 8-bit RGB (h, w, 3) as PNG, atomically (temporary name, renamed); sides of 1 to 1000000. */
VGGCL_API vggcl_status vggcl_png_write(vggcl_ctx *ctx, const char *path, const unsigned char *rgb, int h, int w);

/* Drawing a CAM: vggcl_cam_upsample scales cam (mh, mw) bilinearly to (h, w)
 * (half-pixel centres, as torch's interpolate with align_corners=False) and
 * normalizes it to [0, 1] (a flat map, or none: mh or mw < 1, to 0; NaN stays
 * NaN, and a map holding an infinity has no finite stretch: NaN where the
 * infinity reaches, elsewhere 0 beside a +inf and 1 beside a -inf, NaN everywhere
 * where the map holds both; `vggcl cam` skips a map that is not finite);
 * vggcl_cam_draw blends it, in matplotlib's viridis colour map (its 256
 * colours rounded to 8 bits), half and half over rgb (h, w, 3) into out
 * (h, w, 3), values outside [0, 1] clamped and NaN drawn as 0. Sizes below 1
 * write nothing. */
VGGCL_API void vggcl_cam_upsample(const float *cam, int mh, int mw, float *out, int h, int w);
VGGCL_API void vggcl_cam_draw(const float *norm, const unsigned char *rgb, int h, int w, unsigned char *out);

/* Training a head on GAP features (vggcl train-head): multinomial logistic
 * regression, Linear(d, classes) with softmax cross-entropy and l2/2 * |W|^2
 * (weights only), by minibatch SGD with momentum as torch.optim.SGD does it
 * (weight_decay = l2), on features standardized with the training set's
 * mean and standard deviation, in double precision (a feature whose standard
 * deviation is at most 1e-6 of its mean's magnitude is constant, its weight
 * left 0; the rule is relative, so any scale trains alike). Each epoch shuffles the
 * previous epoch's order (Fisher-Yates driven by splitmix64 seeded with
 * seed), so a seed gives the same head. The epoch kept is the one with the
 * highest validation accuracy (then the lowest validation loss), or without
 * validation samples the lowest training objective (the loss plus l2 / 2
 * times the squared weights of the standardized features, what SGD
 * minimizes: the loss alone kept an early, hardly regularized epoch); its
 * weights, with the standardization folded in so they apply to raw features,
 * go to w (classes, d) and b (classes). log (may be NULL) gets one entry per epoch (a diverged
 * epoch's losses inf or NaN, its accuracies NaN); an epoch whose losses or
 * weights (as floats) are not finite is never kept. Features that are not finite, and a
 * head that diverges from its first epoch on (lr too large), are
 * VGGCL_ERR_ARG; so are fewer than 2 classes and a label outside 0..classes-1.
 * best_epoch (may be NULL) gets the epoch kept. After a failure w, b, log and
 * *best_epoch hold nothing valid. on_epoch (may be NULL) is called with user after
 * each epoch, in order, on the calling thread, with its log entry and best 1 where
 * it is the epoch kept so far (the last such is the one kept): a long training can
 * say how it goes as it goes. It returns 0 to go on, anything else to end the
 * training there (early stopping, an interrupt): the best epoch so far is kept, as
 * at the last, and log's entries after it are set to epoch 0 and NaN losses and accuracies. */
typedef struct {
    int epoch;          /* from 1 */
    double train_loss, train_acc, val_loss, val_acc; /* mean cross-entropy, top-1; val 0 without validation */
} vggcl_train_epoch;

typedef int (*vggcl_train_fn)(void *user, const vggcl_train_epoch *epoch, int best);
typedef struct {
    int epochs, batch;
    double lr, momentum, l2;
    unsigned long long seed;
    vggcl_train_fn on_epoch; /* NULL: none */
    void *user;
} vggcl_train_options;
/* 30 epochs, batch 32, lr 0.1, momentum 0.9, l2 1e-4, seed 0, no on_epoch */
VGGCL_API void vggcl_train_defaults(vggcl_train_options *o);

VGGCL_API vggcl_status vggcl_train_head(vggcl_ctx *ctx, const float *x, const int *y, int n, int d, int classes,
                              const float *x_val, const int *y_val, int n_val, const vggcl_train_options *opts,
                              float *w, float *b, vggcl_train_epoch *log, int *best_epoch);

/* Writes a complete model: the convolution tensors (features.*) of the
 * safetensors file trunk_path as they are, a GAP head classifier.0 (weight
 * (classes, d), bias (classes)), and __metadata__: the trunk's but for what
 * it said of the head replaced (vggcl.classes, vggcl.trained, vggcl.output, vggcl.input_size), with the
 * pairs in meta (key, value, key, value, ...; n_meta pairs) added or
 * replacing (UTF-8 text, as a safetensors header must be: else VGGCL_ERR_ARG). The vggcl.* pairs
 * vggcl reads, the trunk's and meta's, must be ones a load takes (vggcl.classes a JSON list of
 * `classes` names, vggcl.pool5 keep or drop, vggcl.pool_ceil 0, 1 or a 0 or 1 a pool (a list's length,
 * at most the network's max pools with pool5, is checked at load, not here), the preset's as
 * vggcl_model_preprocess reads them): else VGGCL_ERR_ARG, saying which (VGGCL_ERR_FORMAT naming trunk_path for one of the trunk's).
 * d must be the trunk's last convolution's channels (else VGGCL_ERR_SHAPE);
 * w and b must be finite (else VGGCL_ERR_ARG: the reader refuses such a file).
 * Written atomically: a failure leaves out_path as it was (no file, or the one there before). */
VGGCL_API vggcl_status vggcl_save_with_head(vggcl_ctx *ctx, const char *trunk_path, const char *out_path, int classes, int d,
                                  const float *w, const float *b, const char *const *meta, int n_meta);

/* Undoes an output file vggcl wrote (for a caller that keeps all of a run's
 * outputs or none): removes the regular file path names, through its
 * symlinks; never a device, a pipe, standard output ("-", /dev/stdout) or the
 * symlink itself. 1 when a file was removed. */
VGGCL_API int vggcl_remove_output(const char *path);
/* The descriptor of this process that an output path names as one of the kernel's aliases for an open
 * file (/dev/stdin, /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/thread-self/fd/N,
 * /proc/PID/fd/N with this process's PID, and a thread's /proc/.../task/TID/fd/N; numbers without
 * leading zeros, as the kernel writes them), which vggcl's writers write through instead of replacing
 * a file; else -1 (symlinks are not followed; whether N is open is not asked). */
VGGCL_API int vggcl_output_descriptor(const char *path);

/* .npy files of float32 in C order ('<f4'). vggcl_npy_read allocates *data
 * (release with vggcl_free) and fills shape[0..*ndim), at most VGGCL_NPY_MAX_DIMS;
 * it also reads a pipe this process holds open (standard input as "/dev/stdin",
 * "/dev/fd/N"; never a FIFO by its own name, which could wait for a writer for
 * good), which must end right after the values its header declares. */
#define VGGCL_NPY_MAX_DIMS 8
VGGCL_API vggcl_status vggcl_npy_read(vggcl_ctx *ctx, const char *path, int *ndim, long long *shape, float **data);
/* The same checks without reading the values, for a regular file too large to hold: the shape, and where
 * its values (exactly those the shape declares) start, in bytes from the beginning. */
VGGCL_API vggcl_status vggcl_npy_header(vggcl_ctx *ctx, const char *path, int *ndim, long long *shape,
                                        long long *offset);

/* Writes path atomically: a temporary file in the same folder, renamed at the
 * end, so a failure leaves path as it was (no file, or the one there before);
 * a path that is not a regular file (a pipe, a device, "-" for standard
 * output) is written at the end, whole, from a staged copy. Symlinks are
 * followed, and a file that is there keeps its permissions. */
VGGCL_API vggcl_status vggcl_npy_write(vggcl_ctx *ctx, const char *path, int ndim, const long long *shape,
                             const float *data);

/* A .npy written row by row, so a long run keeps no rows in memory: the
 * array has shape (rows, tail...) with rows counted as they are appended.
 * It goes to a temporary file beside path; vggcl_npy_writer_close with
 * commit = 1 writes the final row count into the header and renames the file
 * into place, with commit = 0 (or after a failed write: then every append,
 * ready and commit fails) removes it, so path never holds half an array. An
 * append refused for its arguments (VGGCL_ERR_ARG) writes nothing and leaves
 * the writer as it was: commit still names the rows appended before and after
 * it. Close every writer opened (it frees it); w NULL with commit = 0 does
 * nothing (a cleanup after a failed open), with commit = 1 it is VGGCL_ERR_ARG. */
typedef struct vggcl_npy_writer vggcl_npy_writer;
VGGCL_API vggcl_status vggcl_npy_writer_open(vggcl_ctx *ctx, const char *path, int ndim_tail, const long long *tail,
                                             vggcl_npy_writer **out);
VGGCL_API vggcl_status vggcl_npy_writer_append(vggcl_ctx *ctx, vggcl_npy_writer *w, const float *rows, long long n);
VGGCL_API vggcl_status vggcl_npy_writer_close(vggcl_ctx *ctx, vggcl_npy_writer *w, int commit);
/* Everything close with commit = 1 does but the rename: the final header, the data made durable (a
 * device or a pipe written). A caller writing several files all or none readies each before it
 * closes any, so a failure (a full disk) comes before any earlier file is replaced, and the direct
 * ones (vggcl_npy_writer_direct) after the files, since their bytes are out once they are readied;
 * VGGCL_OK, or the error (then close with commit = 0). The file gets its temporary name beside path
 * here (a full folder fails here too), so that close only renames it. */
VGGCL_API vggcl_status vggcl_npy_writer_ready(vggcl_ctx *ctx, vggcl_npy_writer *w);
/* 1 when w writes standard output, a device or a pipe directly (at vggcl_npy_writer_ready, from a
 * staged copy; before and after it), 0 when it writes a file renamed into place (and for NULL). */
VGGCL_API int vggcl_npy_writer_direct(const vggcl_npy_writer *w);

#ifdef __cplusplus
}
#endif
#endif
