/* audio_nn.h - building blocks shared by the two audio encoders (audio_enc.c,
 * s3tok.c): checkpoint tensor getters under a name prefix (shape/dtype checks,
 * marking used, reporting unknown tensors), LayerNorm, exact GELU, Conv1d as
 * im2col + k_matmul, and multi-head attention through k_matmul. Internal. */
#ifndef OMNIC_MODELS_AUDIO_NN_H
#define OMNIC_MODELS_AUDIO_NN_H
#include <stdint.h>

#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "omnic.h"

/* floor(a / b) for b > 0 (Python //; audio.md pitfall P1). */
static inline int64_t an_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Find prefix+name in m's checkpoint (NULL if absent). */
const st_tensor *an_find(omnic_model *m, const char *prefix, const char *name);
/* A weight of exactly ndim dims with the given shape, seen as a matrix
 * [shape[0]][prod(shape[1..])] (conv [out, in, k] -> [out][in*k]). */
int an_mat(omnic_model *m, const char *prefix, const char *name, int ndim, const int64_t *shape, kweight *out);
/* The same, converted to a malloc'ed float32 copy (small tensors). */
int an_f32(omnic_model *m, const char *prefix, const char *name, int ndim, const int64_t *shape, float **out);
/* A vector [n] as a float32 copy. */
int an_vec(omnic_model *m, const char *prefix, const char *name, int n, float **out);
/* Error naming the first tensor under prefix that no getter marked used. */
int an_check_unused(omnic_model *m, const char *prefix);

/* y[r] = LN(x[r]) * w + b over rows of dim (biased variance); y may be x. */
void an_layernorm(omnic_pool *pool, const float *x, float *y, const float *w, const float *b, int rows, int dim,
                  float eps);
/* x = GELU(x + bias) (exact erf form); bias [dim] or NULL. */
void an_bias_gelu(omnic_pool *pool, float *x, const float *bias, int rows, int dim, int gelu);
/* y[t][o] = bias[o] + sum_c,j W[o][c][j] * in(c, stride*t - pad + j) for t < t_out,
 * where in(c, s) = in[c*sc + s*ss] for 0 <= s < t_in, else 0. col: scratch of
 * t_out * C*k floats. W: kweight [out][C*k]. */
void an_conv1d(omnic_pool *pool, const kweight *w, const float *bias, const float *in, int C, int t_in, long sc,
               long ss, int k, int stride, int pad, int t_out, float *col, float *y);

/* Scratch for an_attention on L rows of H heads of width dh. */
typedef struct an_attn_scratch {
    float *qh, *kh, *vt, *s, *oh;
    float *amx;          /* per-thread AMX scratch when the attention runs on bf16 tiles */
    size_t amx_stride;
    int amx_threads;
} an_attn_scratch;
int an_attn_scratch_new(an_attn_scratch *s, int L, int dh);
void an_attn_scratch_free(an_attn_scratch *s);
/* Run the attention products on AMX bf16 tiles (as the Linear layers of weight w
 * do when w is BF16 with act_bf16 and AMX is usable; a no-op otherwise): the
 * continuous encoder, never the S3 tokenizer. */
int an_attn_scratch_amx(an_attn_scratch *s, const kweight *w, omnic_pool *pool, int L, int dh);
/* o[i] = concat_h softmax_j(q_h[i] . k_h[j] for j < L) v_h (q pre-scaled);
 * q, k, v, o: [L][H*dh]. */
void an_attention(omnic_pool *pool, const float *q, const float *k, const float *v, float *o, int L, int H, int dh,
                  an_attn_scratch *s);

#endif
