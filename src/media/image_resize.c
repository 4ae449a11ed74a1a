/* image_resize.c - STUB (to be replaced by Pillow's bicubic resampler). */
#include "media/image.h"

#include "core/error.h"

int omnic_image_resize_bicubic(const omnic_image *in, int w, int h, omnic_image *out) {
    (void)in; (void)w; (void)h; (void)out;
    return omnic_err(OMNIC_EUNSUP, "image resize is not built yet");
}
