/* image_decode.c - STUB (to be replaced by the image decoder). */
#include "media/image.h"

#include <stdlib.h>

#include "core/error.h"

int omnic_image_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels,
                       omnic_image *out) {
    (void)buf; (void)len; (void)max_pixels; (void)out;
    return omnic_err(OMNIC_EUNSUP, "%s: image decoding is not built yet", name);
}

int omnic_image_load(const char *path, int64_t max_pixels, omnic_image *out) {
    return omnic_image_decode(NULL, 0, path, max_pixels, out);
}

void omnic_image_free(omnic_image *img) {
    if (img) { free(img->rgb); img->rgb = NULL; img->w = img->h = 0; }
}
