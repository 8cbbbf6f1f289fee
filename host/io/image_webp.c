/* WebP (libwebp) decoding to 8-bit RGB, as PIL opens it: through libwebp's
 * animation decoder with its default options (Pillow's _webp.c does so for every
 * WebP, still or animated), the first frame on the canvas, alpha dropped by
 * Image.convert("RGB") (not blended), so the bytes are PIL's with the same libwebp;
 * a still image decoded straight to RGB, the same bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "image.h"

int vggcl__is_webp(const unsigned char *magic, size_t n)
{
    return n >= 12 && !memcmp(magic, "RIFF", 4) && !memcmp(magic + 8, "WEBP", 4);
}

static const char *status_text(VP8StatusCode s)
{
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of host memory";
    case VP8_STATUS_INVALID_PARAM: return "an invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "a bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "a feature libwebp does not support";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "the file is truncated";
    default: return "an error";
    }
}

/* Whether bytes of memory can be had now: libwebp's decoders say their allocation failing as any failure (NULL),
 * so one is said as out of memory where what it needs is not there (it was said as a corrupt file). */
static int memory_there(size_t bytes)
{
    void *probe = malloc(bytes);
    const int there = probe != NULL;
    free(probe);
    return there;
}

vggcl_status vggcl__load_webp(vggcl_ctx *ctx, const char *path, FILE *f, const vggcl_preprocess *p, unsigned char **rgb,
                              vggcl__rgb_part *part)
{
    struct stat sb;
    /* (a RIFF chunk's size is 32 bits: a WebP file is under 4 GiB) */
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 12 || (uint64_t)sb.st_size > UINT32_MAX + (uint64_t)8)
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: a file of %lld bytes", path, (long long)sb.st_size);
    const size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size);
    if (!data) return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory (%zu bytes of WebP)", path, size);
    if (fread(data, 1, size, f) != size) {
        const int e = ferror(f) ? errno : 0;
        char eb[128];
        free(data);
        return vggcl__fail_os(ctx, e, "%s: cannot read image: %s", path,
                              e ? vggcl__strerror(e, eb, sizeof eb) : "it became shorter while read");
    }
    /* the canvas's size first: the decoder allocates two canvases when it is made */
    WebPBitstreamFeatures feat;
    const VP8StatusCode s = WebPGetFeatures(data, size, &feat);
    if (s != VP8_STATUS_OK) {
        free(data);
        return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: %s", path, status_text(s));
    }
    const vggcl_status fits = vggcl__decoded_size_check(ctx, path, (unsigned)feat.height, (unsigned)feat.width, p);
    if (fits != VGGCL_OK) {
        free(data);
        return fits;
    }
    const int w = feat.width, h = feat.height;
    unsigned char *out = malloc((size_t)w * h * 3 + 1);
    if (!out) {
        free(data);
        return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    if (!feat.has_animation) { /* a still image straight into RGB: the bytes the animation decoder gives (the
                                  * images test checks), without its two canvases of 4 bytes a pixel */
        /* (WebPDecodeRGBInto's decoding, with its status: an allocation of its own that failed is said so) */
        WebPDecoderConfig config;
        VP8StatusCode ds = VP8_STATUS_INVALID_PARAM;
        if (WebPInitDecoderConfig(&config)) {
            config.output.colorspace = MODE_RGB, config.output.is_external_memory = 1;
            config.output.u.RGBA.rgba = out, config.output.u.RGBA.stride = w * 3;
            config.output.u.RGBA.size = (size_t)w * h * 3;
            ds = WebPDecode(data, size, &config);
            WebPFreeDecBuffer(&config.output);
        }
        free(data);
        if (ds != VP8_STATUS_OK) {
            const int memory = ds != VP8_STATUS_OUT_OF_MEMORY && memory_there((size_t)w * h * 4); /* (its ARGB) */
            free(out);
            if (!memory)
                return vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %d x %d pixels", path, w, h);
            return vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: its pixels cannot be decoded (%s)", path,
                               status_text(ds));
        }
        *rgb = out;
        *part = (vggcl__rgb_part){ out, (size_t)w * 3, h, w, 0, 0, h, w };
        return VGGCL_OK;
    }
    const WebPData whole = { data, size };
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&whole, NULL); /* (NULL: RGBA, as Pillow asks) */
    WebPAnimInfo info;
    uint8_t *frame = NULL;
    int stamp = 0;
    vggcl_status st = VGGCL_OK;
    if (!dec && !memory_there((size_t)w * h * 8)) /* (its two canvases of 4 bytes a pixel) */
        st = vggcl__fail(ctx, VGGCL_ERR_NOMEM, "%s: out of host memory for %d x %d pixels", path, w, h);
    else if (!dec || !WebPAnimDecoderGetInfo(dec, &info))
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: its frames cannot be read", path);
    else if (info.canvas_width != (uint32_t)feat.width || info.canvas_height != (uint32_t)feat.height)
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: a canvas of %u x %u, its header says %d x %d", path,
                         info.canvas_width, info.canvas_height, feat.width, feat.height);
    else if (!WebPAnimDecoderGetNext(dec, &frame, &stamp))
        st = vggcl__fail(ctx, VGGCL_ERR_FORMAT, "%s: corrupt WebP: its first frame cannot be decoded", path);
    if (st == VGGCL_OK) /* RGBA to RGB: the alpha dropped */
        for (size_t i = 0; i < (size_t)w * h; i++) memcpy(out + 3 * i, frame + 4 * i, 3);
    WebPAnimDecoderDelete(dec);
    free(data);
    if (st != VGGCL_OK) {
        free(out);
        return st;
    }
    *rgb = out;
    *part = (vggcl__rgb_part){ out, (size_t)w * 3, h, w, 0, 0, h, w };
    return VGGCL_OK;
}
