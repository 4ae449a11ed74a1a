/* hcx.h - the HyperCLOVA X decoder (and its plain-Llama special case): weights as
 * loaded from a checkpoint, and the per-sequence decoding context (internal). */
#ifndef OMNIC_MODELS_HCX_H
#define OMNIC_MODELS_HCX_H
#include <jansson.h>

#include "core/threads.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "omnic.h"

typedef struct hcx_layer {
    float *in_norm, *pa_norm;       /* pre-norm gains [D] */
    float *post1, *post2;           /* Peri-LN output-norm gains [D], or NULL */
    kweight q, k, v, o;             /* [H*d, D], [Hkv*d, D] x2, [D, H*d] */
    kweight gate, up, down;         /* [F, D], [F, D], [D, F] */
    float *bq, *bk, *bv, *bo;       /* biases or NULL */
    float *bg, *bu, *bd;
} hcx_layer;

struct omnic_model {
    omnic_model_info info;
    char *dir;
    json_t *config;
    st_set *st;
    omnic_pool *pool;
    kweight embed;                  /* [V, D], unscaled */
    kweight output;                 /* [V, D]; == embed when tied */
    float *final_norm;              /* [D] */
    hcx_layer *layers;
    struct hcx_gguf *gg;            /* GGUF source (hcx_load_gguf.c), or NULL */
    struct mm_encoders *mm;         /* media encoders, loaded on first use (mm.c) */
    void *mm_audio;                 /* audio encoders (mm_audio.c), under mm's lock */
};

/* The model a context belongs to (hcx_forward.c). */
omnic_model *hcx_ctx_model(const omnic_ctx *c);

/* Release the media encoders (mm.c). */
void mm_free(omnic_model *m);

/* Load and validate the decoder weights of m->st into m (hcx_load.c). */
int hcx_load_weights(omnic_model *m);
void hcx_free_weights(omnic_model *m);
/* Open a .gguf file instead (config from its metadata; hcx_load_gguf.c), and
 * release what it holds. */
int hcx_load_gguf(omnic_model *m, const char *path);
void hcx_gguf_free(omnic_model *m);

#endif
