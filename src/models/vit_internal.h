/* vit_internal.h - the loaded vision tower (vit_load.c) and the window layout of
 * one batch of media (vit_window.c), shared with the forward pass (vit_forward.c). */
#ifndef OMNIC_MODELS_VIT_INTERNAL_H
#define OMNIC_MODELS_VIT_INTERNAL_H
#include <stddef.h>

#include "kernels/kernels.h"
#include "models/vit.h"

#define VIT_COLS 1176 /* 3 channels x 2 frames x 14 x 14 (vision.md §1.5) */

typedef struct vit_block {
    float *norm1, *norm2;            /* RMSNorm gains [E] */
    kweight qkv, proj;               /* [3E, E], [E, E] */
    kweight gate, up, down;          /* [F, E], [F, E], [E, F] */
    float *b_qkv, *b_proj, *b_gate, *b_up, *b_down;
    int full;                        /* full (per-frame) attention, else windows */
} vit_block;

struct vit_model {
    int depth, E, H, hd, F, out_hidden, D;
    int wm;                          /* window side in merged tokens (window_size / 28) */
    kweight pe;                      /* patch embedding [E, 1176] */
    vit_block *blocks;
    float *ln_q;                     /* merger RMSNorm [E] */
    kweight m0, m2;                  /* merger [4E, 4E], [out_hidden, 4E] */
    float *b0, *b2;
    kweight mm;                      /* mm_projector [D, out_hidden] */
    float *bmm;
    float *inv_freq;                 /* [hd/4] rotary inverse frequencies (float32 as in §2.3) */
};

/* Window order of a batch (vision.md §2.3 step 3), all media concatenated. */
typedef struct vit_layout {
    int L, n_merged;                 /* patch rows, merged tokens (L / 4) */
    int *win;                        /* [n_merged]: window position k -> raster merged index */
    int *ph, *pw;                    /* [L]: patch row / column (in its frame) of permuted row */
    int *wseg, n_wseg;               /* window segments: row starts, n_wseg + 1 entries */
    int *fseg, n_fseg;               /* per-frame segments: row starts, n_fseg + 1 entries */
    int max_seg;                     /* longest segment, rows */
} vit_layout;

/* Build the layout for n_media grids {t, gh, gw} (validated by the caller: gh, gw
 * even, sizes bounded); wm = window side in merged tokens. */
int vit_layout_build(const int (*grids)[3], int n_media, int wm, vit_layout *lay);
void vit_layout_free(vit_layout *lay);

/* AVX-512 attention of one (segment, head) (vit_attn_avx512.c): q, k, v rows of hd
 * floats at stride floats apart, n rows; output row i at o + i * ostride. scratch:
 * vit_attn_scratch_floats(hd, max_seg) floats. Call only if vit_attn_avx512_ok(). */
int vit_attn_avx512_ok(void);
size_t vit_attn_scratch_floats(int hd, int max_seg);
void vit_attn_avx512(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                     size_t ostride, float *scratch);
/* One score row s[0..n) -> exp((s - max) * scale) in place, s[n..n32) = 0; returns
 * 1 / sum (vit_attn_avx512.c; AVX-512, so only if vit_attn_avx512_ok()). */
float vit_softmax_row_avx512(float *s, int n, int n32, float scale);

/* Attention of one (segment, head) for BF16 towers on AMX (vit_attn_amx.c): the
 * same contract as vit_attn_avx512, but Q K^T and P V run as bf16 products in
 * TDPBF16PS tiles (q, k, v and the probabilities rounded to bf16, fp32 sums) with
 * an exact fp32 softmax between them. vit_attn_amx_ok(w): the tower's weight w is
 * BF16, marked act_bf16, and AMX BF16 is usable (the condition under which its
 * Linear layers run on AMX; OMNIC_SIMD=scalar / OMNIC_AMX=0 / OMNIC_AMX_BF16=0 turn
 * it off). Used for segments of at least VIT_AMX_MIN_N rows (the 64-row windows too).
 * scale multiplies the scores (1/sqrt(hd) for the ViT; the audio encoder passes 1
 * for its pre-scaled queries). Also used by the continuous audio encoder. */
#define VIT_AMX_MIN_N 32
int vit_attn_amx_ok(const kweight *w);
size_t vit_attn_amx_scratch_floats(int hd, int max_seg);
void vit_attn_amx(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                  size_t ostride, float scale, float *scratch);

#endif
