/* vocoder_impl.h - internal layout of the vocoder: folded weights in the layouts
 * the time-major forward pass wants (activations are [L][C], channels fastest). */
#ifndef OMNIC_MODELS_VOCODER_IMPL_H
#define OMNIC_MODELS_VOCODER_IMPL_H
#include <jansson.h>

#include "formats/torch_pickle.h"
#include "kernels/kernels.h"
#include "models/vocoder.h"

/* Conv1d: w [cout][k][cin] (tap-major rows for im2col), bias or NULL. */
typedef struct vc_conv {
    int cin, cout, k, dil, padl;   /* padl: zeros on the left (right: (k-1)*dil - padl) */
    float *w, *b;
    kweight kw;
} vc_conv;

/* ConvTranspose1d: w [k*cout][cin] (row j*cout+o = V[:, o, j]); output index
 * t = i*r + j - shift; causal: pre = replicate-padded input frames on the left. */
typedef struct vc_tconv {
    int cin, cout, k, r, shift, pre;
    float *w, *b;
    kweight kw;
} vc_tconv;

/* Anti-aliased SnakeBeta: per channel alpha (exp'ed) and 1/(beta + 1e-9). */
typedef struct vc_act {
    int c;
    float *alpha, *inv_beta;
    float hup[12], hdown[12];
} vc_act;

#define VC_MAX_DIL 8
typedef struct vc_amp {
    int k, nd;
    vc_conv c1[VC_MAX_DIL], c2[VC_MAX_DIL];
    vc_act a[2 * VC_MAX_DIL];
} vc_amp;

#define VC_MAX_STAGES 8
#define VC_MAX_KERNELS 4
typedef struct vc_stage {
    int cin, cout, r;
    vc_tconv up;
    int nk;
    vc_amp rb[VC_MAX_KERNELS];
} vc_stage;

/* ECAPA-TDNN (eval): conv weights [cout][k][cin]; BN folded to scale/shift. */
typedef struct vc_bn { int c; float *scale, *shift; } vc_bn;
typedef struct vc_seres {
    vc_conv c1, c2, k[7];
    vc_bn b1, b2, bk[7];
    float *se_w1, *se_b1, *se_w2, *se_b2; /* [128][H], [H][128] */
} vc_seres;
typedef struct vc_ecapa {
    int h, n_mels;
    vc_conv l1;
    vc_bn l1bn;
    vc_seres l[3];
    vc_conv conv;            /* 3H -> 3H, bias */
    vc_conv att1, att2;      /* 3H -> 128, 128 -> 3H, bias */
    vc_bn bn;                /* 6H */
    float *lin_w, *lin_b;    /* [spk][6H] */
    vc_bn bn_out;
    /* reference mel */
    int n_fft, hop, win;
    double fmin, fmax;
    float *melfb;            /* [n_mels][n_fft/2+1] */
} vc_ecapa;

struct omnic_vocoder {
    char path[512];
    omnic_pool *pool;
    int own_pool;
    int finetune, causal, use_tanh;
    int num_units, unit_dim, spk_dim, c0, nstages, clast;
    float *unit_emb;         /* [num_units][unit_dim] */
    int num_spk;
    float *spk_table;        /* [num_spk][spk_dim] */
    char **spk_names;        /* [num_spk] (NULL where no line) */
    vc_conv conv_pre, conv_post;
    vc_stage st[VC_MAX_STAGES];
    vc_act act_post;
    vc_ecapa ecapa;
    int have_ecapa;
};

/* Forward helpers shared by the vocoder and the ECAPA encoder (vocoder_forward.c). */
/* y[L][cout] = conv(x[L][cin]) (+bias); col: scratch of colcap floats. */
void vc_conv_run(omnic_pool *pool, const vc_conv *cv, const float *x, int L, float *y, float *col, size_t colcap);
/* Activation1d (§9.4) of x[L][C] into y[L][C] (y != x), threaded over time. */
void vc_act_run(omnic_pool *pool, const vc_act *a, const float *x, int L, float *y);
/* The 12-tap filter table of §9.4. */
extern const double vc_kaiser12[12];

/* Loading helpers (vocoder_load.c). */
typedef struct vc_ld { const torch_ckpt *ck; const char *file; } vc_ld;
/* Tensor `name` converted to float32 (malloc'ed); shape[i] < 0 matches any. */
int vc_get(const vc_ld *l, const char *name, int ndim, const int64_t *shape, float **out);
/* Fill cv from a PyTorch-layout weight w [cout][cin][k] (consumed) and bias
 * (kept, may be NULL); padding per the causal flag. */
int vc_conv_init(vc_conv *cv, float *w, int cout, int cin, int k, int dil, int causal, float *bias);
void vc_conv_free(vc_conv *cv);

/* ECAPA pieces (ecapa.c). */
int vc_ecapa_load(omnic_vocoder *v, const vc_ld *l, json_t *cfg);
void vc_ecapa_free(vc_ecapa *e);

#endif
