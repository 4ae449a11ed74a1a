/* vision_preproc.h - pixels to ViT input for the continuous vision path
 * (vision.md §1.2-1.5): smart_resize, Pillow bicubic, rescale/normalise, patchify
 * with the temporal patch of 2 (an image is one frame duplicated). */
#ifndef OMNIC_MODELS_VISION_PREPROC_H
#define OMNIC_MODELS_VISION_PREPROC_H
#include <stdint.h>

#include "media/image.h"

typedef struct vision_preproc {
    int patch, merge, temporal;       /* 14, 2, 2 */
    int64_t min_pixels, max_pixels;   /* images: 3136, 2073600 */
    double rescale;                   /* 1/255 */
    float mean[3], std[3];            /* OpenAI-CLIP constants */
} vision_preproc;

/* The real preprocessor_config.json values (identical for both tracks). */
void vision_preproc_default(vision_preproc *p);
/* Read <model_dir>/preprocessor_config.json when present (min_pixels/max_pixels
 * win over size{}), else the defaults. Errors name the file and key. */
int vision_preproc_load(const char *model_dir, vision_preproc *p);

/* §1.2 smart_resize in the exact double operation order. Rejects aspect ratio
 * > 200 and zero sizes with OMNIC_EINVAL. */
int vision_smart_resize(int H, int W, int factor, int64_t min_pixels, int64_t max_pixels,
                        int *out_h, int *out_w);

/* One image -> pixel_values [gh*gw][3*temporal*patch*patch] float32 (malloc'ed,
 * §1.5 row and column order) and grid_thw = {1, gh, gw}. If resized is non-NULL
 * it receives the resized uint8 image (caller frees). */
int vision_image_patches(const vision_preproc *p, const omnic_image *img, float **pixels,
                         int grid_thw[3], omnic_image *resized);

#endif
