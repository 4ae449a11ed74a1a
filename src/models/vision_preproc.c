/* vision_preproc.c - STUB (to be replaced by the image preprocessing). */
#include "models/vision_preproc.h"

#include "core/error.h"

void vision_preproc_default(vision_preproc *p) {
    *p = (vision_preproc){14, 2, 2, 3136, 2073600, 0.00392156862745098,
                          {0.48145466f, 0.4578275f, 0.40821073f},
                          {0.26862954f, 0.26130258f, 0.27577711f}};
}

int vision_preproc_load(const char *model_dir, vision_preproc *p) {
    (void)model_dir;
    vision_preproc_default(p);
    return 0;
}

int vision_smart_resize(int H, int W, int factor, int64_t min_pixels, int64_t max_pixels,
                        int *out_h, int *out_w) {
    (void)H; (void)W; (void)factor; (void)min_pixels; (void)max_pixels; (void)out_h; (void)out_w;
    return omnic_err(OMNIC_EUNSUP, "smart_resize is not built yet");
}

int vision_image_patches(const vision_preproc *p, const omnic_image *img, float **pixels,
                         int grid_thw[3], omnic_image *resized) {
    (void)p; (void)img; (void)pixels; (void)grid_thw; (void)resized;
    return omnic_err(OMNIC_EUNSUP, "image preprocessing is not built yet");
}
