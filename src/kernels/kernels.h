/* kernels.h - the numerical kernels the models are built from. Matrices are
 * row-major; a weight W of shape [rows][cols] (PyTorch nn.Linear [out][in]) may be
 * stored as F32, F16, BF16 or GGUF's block-quantized Q8_0 / Q4_0 / Q4_K (rows of
 * dtype_row_bytes(dt, cols) bytes; cols a multiple of the block size) and is read
 * in place (mmap). Activations are float32; for quantized weights k_matmul
 * quantizes them to int8 blocks on the fly and uses integer dot products.
 * Every kernel has a portable scalar version; faster versions are picked at run
 * time by CPU feature (kernels_init), and OMNIC_SIMD=scalar forces the scalar path.
 * On CPUs with Intel AMX, quantized products of many rows (prefill) use AMX
 * tiles with the scalar level's exact results (OMNIC_AMX=0 turns this off);
 * BF16 products of many rows use AMX bf16 tiles with each activation split into
 * three bf16 terms (fp32 accuracy); OMNIC_AMX_BF16=1 rounds activations to one
 * bf16 term instead (faster, changes numerics), =0 keeps the fp32 FMA path. */
#ifndef OMNIC_KERNELS_H
#define OMNIC_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/threads.h"
#include "kernels/quant.h"

typedef struct kweight {
    const void *data;   /* rows rows of dt, row-major (dtype_row_bytes(dt, cols) each) */
    omnic_dtype dt;
    int rows, cols;
    int act_bf16;       /* 1: activations may be rounded to bf16 for this weight (AMX
                         * TDPBF16PS on BF16 weights, as the reference's bf16 autocast
                         * does); set by the media encoders, never by the LLM */
    int layout;         /* how Q8_0/Q4_0/Q4_K rows lie (quant.h; set by the loader
                         * that rearranged them): KW_GGUF, KW_CHUNKED or KW_X16 */
} kweight;
/* The layout the selected kernels read fastest for a Q8_0/Q4_0/Q4_K matrix of
 * `rows` rows that a loader rearranges in its own copy (KW_GGUF for other types):
 * KW_X16 where the VNNI kernels do the prefill (no AMX) and rows % 16 == 0, else
 * KW_CHUNKED (Q4_K: KW_GGUF). OMNIC_QX16=1 interleaves the three types whatever
 * the CPU, OMNIC_QX16=0 none. */
int k_layout_for(omnic_dtype dt, int64_t rows);

/* Select implementations for this CPU (idempotent; called by omnic_model_open).
 * Returns the name of the chosen level ("avx512", "scalar"). */
const char *kernels_init(void);
/* Force a level by name ("scalar", "avx512"); returns 0 on success. */
int kernels_force(const char *level);

/* y[t][r] = sum_c x[t][c] * W[r][c] for t < n, r < rows.
 * x: [n][W->cols] (row stride W->cols), y: [n][W->rows] (row stride W->rows).
 * Work is split across the pool by rows of W; each weight row is read once per
 * call whatever n is (the prefill path relies on this). */
void k_matmul(omnic_pool *pool, const kweight *w, const float *x, int n, float *y);
/* y[i] = k_matmul(w[i], x) for i < nw, weights of equal cols. With few rows
 * (n < K_MULTI_MAX_N: decode) and weights of one type and row layout, all in one
 * pool run (each thread its share of every weight's rows; quantized weights
 * quantize x once): a decode step's q/k/v and gate/up projections cost one
 * synchronisation each instead of three and two. Otherwise one k_matmul each. */
#define K_MULTI_MAX_N 8
void k_matmul_multi(omnic_pool *pool, int nw, const kweight *const *w, const float *x, int n, float *const *y);

/* Convert n elements of row `row` of W to float32. */
void k_row_to_f32(const kweight *w, int row, float *out);

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * g[i]; n = vector length. */
void k_rmsnorm(float *out, const float *x, const float *g, int n, float eps);

/* In-place rotate-half RoPE on one head vector v[d] given cos/sin[d/2]. */
void k_rope_half(float *v, const float *cos_t, const float *sin_t, int d);

/* Dispatched by CPU level (function pointers set by kernels_init/force): */
/* a[i] = silu(a[i]) * b[i] */
extern void (*k_silu_mul)(float *a, const float *b, int n);
/* y[i] += s * x[i] */
extern void (*k_axpy)(float *y, const float *x, float s, int n);
/* dot product of two float vectors */
extern float (*k_dot)(const float *a, const float *b, int n);
/* s[i] = e^(s[i] - mx) for i < n; returns their sum (softmax numerators). */
extern float (*k_exp_sum)(float *s, int n, float mx);

/* Causal attention over one KV head's cache for a tile of queries (the
 * decoder's self-attention; attn.c, attn_avx512.c). Query i (q[i], d values) at
 * position pos[i] attends keys 0..pos[i]: o[i] = softmax(scale q_i K^T) V, the
 * softmax in fp32. nq <= K_ATT_TILE; queries that share a KV head go in one tile
 * so each block of cached rows is fetched once for all of them. */
#define K_ATT_TILE 32
typedef struct {
    const float *const *q; /* nq query vectors */
    float *const *o;       /* nq outputs (d values each) */
    const int *pos;        /* query i attends keys 0..pos[i] */
    int nq, d;
    float scale;
} k_attn_tile;
/* Where the head's cached keys and values come from: rows(arg, which, u0, n,
 * &stride) returns keys (which 0) or values (1) u0..u0+n-1 as floats, row u at
 * p + (u - u0) * stride, valid until the next call with the same `which`; n is
 * at most max_rows. */
typedef struct {
    const float *(*rows)(void *arg, int which, int u0, int n, size_t *stride);
    void *arg;
    int max_rows;
} k_kv_src;
extern void (*k_attn)(const k_attn_tile *t, const k_kv_src *kv);
/* The per-query version on the dispatched k_dot / k_axpy / k_exp_sum: online
 * softmax over blocks of keys (the scalar level's k_attn). */
void k_attn_rows(const k_attn_tile *t, const k_kv_src *kv);
/* AVX-512 (attn_avx512.c): tiles of 8 or more queries run with one query per
 * vector lane, smaller ones (decode) with 16 keys per vector when d % 16 == 0,
 * else as k_attn_rows. */
void k_attn_avx512(const k_attn_tile *t, const k_kv_src *kv);

/* The portable versions (the reference for tests). */
void k_silu_mul_scalar(float *a, const float *b, int n);
void k_axpy_scalar(float *y, const float *x, float s, int n);
float k_dot_scalar(const float *a, const float *b, int n);
float k_exp_sum_scalar(float *s, int n, float mx);

#endif
