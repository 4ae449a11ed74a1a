/* tatok_impl.h - TA-Tok internals shared by the loader (tatok_load.c), the SigLIP
 * encoder (tatok_forward.c) and the SimVQ quantiser (tatok_quant.c). */
#ifndef OMNIC_MODELS_TATOK_IMPL_H
#define OMNIC_MODELS_TATOK_IMPL_H
#include <stdint.h>

#include "kernels/kernels.h"
#include "models/tatok.h"

typedef struct tatok_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;   /* [D] */
    kweight q, k, v, o;                     /* [D, D] */
    float *bq, *bk, *bv, *bo;               /* [D] */
    kweight fc1, fc2;                       /* [F, D], [D, F] */
    float *b1, *b2;                         /* [F], [D] */
} tatok_layer;

struct tatok_model {
    int input_size;     /* encoder input side in pixels (384) */
    int patch;          /* patch side (14) */
    int grid;           /* patches per side (27) */
    int n_tok;          /* grid * grid == bottleneck_token_num */
    int D, F, H, hd;    /* width, MLP width, heads, head width */
    int n_layers;       /* layers present in the checkpoint */
    int n_run;          /* layers run (select_layer_id) */
    int Z;              /* bottleneck_dim (1536) */
    int K;              /* codebook size (65536) */
    float eps;          /* LayerNorm epsilon (1e-6) */
    float shift[3], scale[3];   /* scale_layer: v' = (v - shift) / scale */
    kweight patch_w;    /* [D, 3*P*P] in the conv weight's [c, y, x] order */
    float *patch_b;     /* [D] */
    float *pos;         /* [n_tok, D] */
    tatok_layer *layers;    /* [n_run] */
    kweight task_w;     /* encode_task_layer.0 [D, D] */
    float *task_b;
    kweight in_w;       /* bottleneck.in_linear [Z, D] */
    float *in_b;
    float *codebook;    /* [K, Z] fp32, rows L2-normalised (SimVQ, precomputed) */
    /* Sampling instead of argmax (vision.md §4.4, option tatok_sampling). */
    int sampling;
    uint64_t seed;
    float temperature;  /* stochastic_temperature (0.03) */
};

/* SigLIP encoder + task layer + bottleneck: rgb [input_size^2 * 3] uint8 -> z [n_tok, Z]. */
int tatok_forward(tatok_model *t, omnic_pool *pool, const uint8_t *rgb, float *z);
/* Normalise z rows in place and pick each token's code (argmax or sampled). */
int tatok_quantise(tatok_model *t, omnic_pool *pool, float *z, int32_t *codes);
/* Build t->codebook from the stored embedding and its projection. */
int tatok_build_codebook(tatok_model *t, omnic_pool *pool, const kweight *emb, const kweight *proj,
                         const float *proj_b);
/* out = x / max(||x||, 1e-12) in place. */
void tatok_l2norm(float *x, int n);

#endif
