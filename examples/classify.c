/* A small program on vggcl's public API: load a model, read and preprocess
 * an image as the model asks (its metadata, as `vggcl classify` reads it, else
 * torchvision's VGG16 preset), run it, print the top 5.
 *
 *   classify MODEL.safetensors IMAGE [DEVICE]
 *
 * Build: cmake (find_package(vggcl CONFIG), target vggcl::vggcl, see
 * examples/CMakeLists.txt) or `cc classify.c $(pkg-config --cflags --libs vggcl) -lm`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <vggcl.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors IMAGE [DEVICE]\n", argv[0]);
        return 2;
    }
    vggcl_ctx *ctx = vggcl_ctx_new();
    vggcl_model *model = NULL;
    float *x = NULL, *logits = NULL;
    int xh, xw, rc = 1;
    vggcl_load_options opts;
    vggcl_preprocess p;
    vggcl_load_options_defaults(&opts);
    vggcl_preprocess_unset(&p); /* nothing given: all from the model */
    if (!ctx) {
        fprintf(stderr, "classify: %s\n", vggcl_message(NULL)); /* (out of memory for the context) */
        return 1;
    }
    if (vggcl_select_device(ctx, argc > 3 ? argv[3] : NULL) != VGGCL_OK ||
        vggcl_model_load(ctx, argv[1], &opts, &model) != VGGCL_OK ||
        vggcl_model_preprocess(ctx, model, &p) != VGGCL_OK ||
        vggcl_image_read(ctx, argv[2], &p, &x, &xh, &xw) != VGGCL_OK) { /* decoded and preprocessed */
        fprintf(stderr, "classify: %s\n", vggcl_message(ctx));
        goto done;
    }
    const int classes = vggcl_model_classes(model);
    if (!(logits = malloc(sizeof *logits * (size_t)classes))) {
        fprintf(stderr, "classify: out of memory for %d logits\n", classes);
        goto done;
    }
    if (vggcl_forward(ctx, model, x, 1, xh, xw, logits, NULL) != VGGCL_OK) {
        fprintf(stderr, "classify: %s\n", vggcl_message(ctx));
        goto done;
    }
    for (int c = 0; c < classes; c++)
        if (!isfinite(logits[c])) { /* (no softmax of it: an infinite logit gave every class "-nan", exit 0) */
            fprintf(stderr, "classify: %s: logit %d is %g: the weights or the preprocessing overflow float32 on "
                            "this image\n", argv[2], c, (double)logits[c]);
            goto done;
        }
    /* softmax, then the five most likely classes */
    double sum = 0, top = logits[0];
    for (int c = 1; c < classes; c++) top = logits[c] > top ? logits[c] : top;
    for (int c = 0; c < classes; c++) sum += exp(logits[c] - top);
    printf("vggcl %s on %s\n", vggcl_version(), vggcl_device_name(ctx));
    for (int rank = 0; rank < 5 && rank < classes; rank++) {
        int best = -1;
        for (int c = 0; c < classes; c++)
            if (!isnan(logits[c]) && (best < 0 || logits[c] > logits[best])) best = c;
        const char *name = vggcl_model_class_name(model, best);
        printf("%d %s %.6f\n", best, name ? name : "-", exp(logits[best] - top) / sum);
        logits[best] = NAN; /* taken */
    }
    rc = 0;
done:
    vggcl_free(x);
    free(logits);
    vggcl_model_free(model);
    vggcl_ctx_free(ctx);
    return rc;
}
