/* image_webp.c - WebP (still, lossy/lossless, animated: first frame) through
 * libwebp's animation decoder, as Pillow 9.4 reads every WebP: the RGBA canvas of
 * frame 1; mode "RGBA" (composited on white) when the file has alpha, else "RGB"
 * (the alpha byte ignored). */
#include <stdlib.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "core/error.h"
#include "media/image_internal.h"

int img_decode_webp(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(buf, len, &f);
    if (st != VP8_STATUS_OK)
        return omnic_err(OMNIC_EFORMAT, "%s: corrupt WebP header (libwebp status %d)", name, (int)st);
    int rc = img_check_size(name, "WebP", f.width, f.height, max_pixels);
    if (rc) return rc;
    WebPAnimDecoderOptions o;
    if (!WebPAnimDecoderOptionsInit(&o)) return omnic_err(OMNIC_EUNSUP, "%s: libwebp version mismatch", name);
    o.color_mode = MODE_RGBA;
    o.use_threads = 0;
    WebPData data = {buf, len};
    WebPAnimDecoder *d = WebPAnimDecoderNew(&data, &o);
    if (!d) return omnic_err(OMNIC_EFORMAT, "%s: corrupt WebP container", name);
    WebPAnimInfo ai;
    uint8_t *rgba = NULL;
    int ts = 0;
    if (!WebPAnimDecoderGetInfo(d, &ai)) { rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt WebP container", name); goto done; }
    if ((rc = img_check_size(name, "WebP", ai.canvas_width, ai.canvas_height, max_pixels))) goto done;
    if (!WebPAnimDecoderGetNext(d, &rgba, &ts) || !rgba) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt or truncated WebP image data", name);
        goto done;
    }
    int w = (int)ai.canvas_width, h = (int)ai.canvas_height;
    if ((rc = img_alloc(out, w, h, name))) goto done;
    size_t n = (size_t)w * (size_t)h;
    if (f.has_alpha) {
        img_rgba_on_white(out->rgb, rgba, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            out->rgb[3 * i] = rgba[4 * i];
            out->rgb[3 * i + 1] = rgba[4 * i + 1];
            out->rgb[3 * i + 2] = rgba[4 * i + 2];
        }
    }
done:
    WebPAnimDecoderDelete(d);
    return rc;
}
