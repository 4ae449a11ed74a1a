/* matmul_impl.h - per-CPU-level row-range matmul implementations (internal). */
#ifndef OMNIC_KERNELS_MATMUL_IMPL_H
#define OMNIC_KERNELS_MATMUL_IMPL_H
#include "kernels/kernels.h"

/* Compute rows [r0, r1) of y = x * W^T for n inputs (see k_matmul). */
typedef void (*matmul_fn)(const kweight *w, const float *x, int n, float *y, int r0, int r1);

void matmul_rows_scalar(const kweight *w, const float *x, int n, float *y, int r0, int r1);
void matmul_rows_avx512(const kweight *w, const float *x, int n, float *y, int r0, int r1);
/* BF16 weights, n >= MM_PACK_MIN tokens, with VDPBF16PS: the activations are
 * rounded to bf16 (as llama.cpp's BF16 path and a bf16 PyTorch run do), twice
 * the arithmetic rate of the exact f32 path on CPUs without AMX. */
void matmul_rows_avx512_bf16dp(const kweight *w, const float *x, int n, float *y, int r0, int r1);
/* k_bf16_dp_ok: AVX512-BF16 is there and AMX BF16 is not (AMX takes BF16 prefill
 * where it exists). Then weights marked act_bf16 take the VDPBF16PS path for
 * n >= K_BF16_DP_MIN_N tokens, and with OMNIC_BF16_ACT=bf16 (k_bf16_dp_on) so
 * does every BF16 weight, the LLM's included (llama.cpp's numerics, not the fp32
 * contract: measured 0.5B pp512 ~210 -> ~350 t/s on the Zen 5 VM; the LLM
 * golden tests then fail their fp32 tolerances). OMNIC_BF16_ACT=bf16 on an AMX
 * CPU means OMNIC_AMX_BF16=1. */
#define K_BF16_DP_MIN_N 8
extern int k_bf16_dp_ok, k_bf16_dp_on;

extern matmul_fn k_matmul_rows;

/* Decode (one token) weight streaming, chosen per CPU at kernels_force("avx512"):
 * k_decode_pf == 0 reads 4 rows at a time and prefetches the lines the next
 * 4-row block reads (fastest on the Intel VMs measured here); k_decode_pf > 0
 * reads one row at a time, a single linear stream per thread, prefetching
 * k_decode_pf bytes ahead into L1 (fastest on the AMD Zen 5 VM: +15-25 % GB/s,
 * where several streams per thread measured slower). OMNIC_DECODE_PF=N
 * overrides (0: the 4-row mode). */
extern int k_decode_pf;
#define K_DECODE_PF_AMD 16384
/* Types (1 << dt) interleaved by 16 rows by default where k_layout_for picks X16. */
#define K_X16_DEFAULT ((1 << DT_Q8_0) | (1 << DT_Q4_0) | (1 << DT_Q4_K))

/* Block-quantized weights (Q8_0, Q4_0, Q4_K; matmul_q*.c). k_matmul first
 * quantizes each activation row to int8 per 32-value block (scale max|x| / 127,
 * round half to even; the same values at every level) into a layout private to
 * the level and to W's type and row layout, act_bytes(W) bytes per row, then runs
 * rows() over row ranges of W (xq_stride: bytes between activation rows). */
typedef struct qmm_level {
    size_t (*act_bytes)(const kweight *w);
    void (*quantize_act)(const kweight *w, const float *x, void *out);
    void (*rows)(const kweight *w, const void *xq, size_t xq_stride, int n, float *y, int r0, int r1);
} qmm_level;
extern const qmm_level qmm_scalar, qmm_avx512;
/* The activation rule for one block of 32 floats: *d = max|x| / 127, q[i] =
 * x[i] * (1 / d) rounded half to even, *s = sum q (the scalar reference). */
void qa_quantize32(const float *x, float *d, int8_t *q, int32_t *s);
extern const qmm_level *k_qmm;
void k_matmul_q(omnic_pool *pool, const kweight *w, const float *x, int n, float *y);
/* k_matmul_multi's quantized case (same type, layout and cols; n < K_MULTI_MAX_N):
 * returns 0, or -1 when it cannot run (nothing written). */
int k_matmul_q_multi(omnic_pool *pool, int nw, const kweight *const *w, const float *x, int n, float *const *y);

/* Intel AMX (matmul_amx.c). amx_available: the CPU, the OS and the process
 * permission allow AMX (probed once). k_amx_on: k_matmul_q sends products of
 * n >= K_AMX_MIN_N(dt) rows to k_matmul_q_amx (set by kernels_force("avx512")
 * when available and OMNIC_AMX is not "0"; tests may flip it). k_matmul_q_amx
 * returns 0, or -1 when it cannot run (nothing written; use another level).
 * The thresholds are where AMX overtook VNNI on 2048 x 2048 (one core). */
#define K_AMX_MIN_N(dt) ((dt) == DT_Q8_0 ? 8 : 12)
int amx_available(void);
/* The 64-byte LDTILECFG operand (palette 1): bytes per row and rows of tiles 0..15. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) amx_tile_cfg;
extern int k_amx_on;
int k_matmul_q_amx(omnic_pool *pool, const kweight *w, const float *x, int n, float *y);
/* AMX TDPBF16PS for BF16 weights and n >= K_AMX_BF16_MIN_N rows
 * (matmul_bf16_amx.c): activations split into `parts` bf16 terms (1: rounded to
 * bf16, which changes numerics; 3: fp32-accurate). Returns -1 when it cannot run
 * (the caller takes the default path). */
#define K_AMX_BF16_MIN_N 16
/* Terms per activation for the LLM's BF16 prefill: 3 carries fp32 precision
 * (x - hi - mid - lo ~ 2^-24 |x|); 2 would be ~2^-16, faster but not exact. */
#define K_AMX_BF16_EXACT_PARTS 3
int amx_bf16_available(void);
/* OMNIC_AMX_BF16=1: every BF16 product with n >= K_AMX_BF16_MIN_N rounds its
 * activations to bf16 (one term). */
extern int k_amx_bf16_on;
/* AMX BF16 usable (OMNIC_AMX and OMNIC_AMX_BF16 not "0"): weights marked act_bf16
 * take one term, the others K_AMX_BF16_EXACT_PARTS. */
extern int k_amx_bf16_ok;
int k_matmul_bf16_amx(omnic_pool *pool, const kweight *w, const float *x, int n, float *y, int parts);
#endif
