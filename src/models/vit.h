/* vit.h - the continuous vision encoder of Think-32B / Omni-8B (vision.md §2):
 * Qwen2.5-VL vision transformer (patch embedding, 2-D rotary, window and full
 * attention, RMSNorm, SwiGLU, 2x2 patch merger) followed by mm_projector.
 * Weights come from the unified checkpoint (prefix model.vision_model. and
 * model.mm_projector.), memory-mapped, F32/BF16/F16 per tensor. */
#ifndef OMNIC_MODELS_VIT_H
#define OMNIC_MODELS_VIT_H

#include "core/threads.h"
#include "omnic.h"

typedef struct vit_model vit_model;

/* Load from an open model (its checkpoint and config.json vision_config).
 * OMNIC_EUNSUP if the model has no vision tower. */
int vit_load(omnic_model *m, vit_model **out);
void vit_free(vit_model *v);
int vit_out_dim(const vit_model *v);     /* D: projector output width */

/* Encode n_media images/videos at once: pixels = their pixel_values rows
 * concatenated ([sum L_i][1176], vision.md §1.5 order), grids[i] = {t, gh, gw}.
 * *out receives [sum L_i/4][D] float32 rows (malloc'ed) in raster merged order,
 * medium after medium; *n_rows their count. Rows are the projector output,
 * BEFORE the LLM's embedding multiplier. */
int vit_encode(vit_model *v, omnic_pool *pool, const float *pixels, const int (*grids)[3],
               int n_media, float **out, int *n_rows);

#endif
