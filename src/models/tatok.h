/* tatok.h - TA-Tok, Omni-8B's discrete image tokenizer (vision.md §4): SigLIP
 * encoder (layers 0..25) + encode_task_layer + bottleneck + SimVQ argmax over the
 * 65,536-entry normalised codebook -> 729 codes (27x27, raster order).
 * Weights: prefix model.discrete_vision_model. of the unified checkpoint. */
#ifndef OMNIC_MODELS_TATOK_H
#define OMNIC_MODELS_TATOK_H
#include <stdint.h>

#include "core/threads.h"
#include "media/image.h"
#include "omnic.h"

#define TATOK_CODES 729

typedef struct tatok_model tatok_model;

/* OMNIC_EUNSUP if the model has no discrete vision tokenizer. */
int tatok_load(omnic_model *m, tatok_model **out);
void tatok_free(tatok_model *t);
/* img: the decoded RGB image at its own size (resized to the encoder's input
 * with Pillow bicubic inside, aspect ratio not kept). codes: [729] in [0, 65535]. */
int tatok_encode(tatok_model *t, omnic_pool *pool, const omnic_image *img, int32_t *codes);

#endif
