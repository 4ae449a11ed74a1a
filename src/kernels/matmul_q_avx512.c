/* matmul_q_avx512.c - AVX-512 VNNI y = x * W^T for Q8_0 / Q4_0 / Q4_K weights
 * (rows [r0, r1)), read in place in GGUF's block layout or in the chunked rows
 * the loader makes of Q8_0/Q4_0 (quant.h; kweight.chunked).
 *
 * Activations are quantized once per call with the same rule as the scalar level
 * (identical int8 values and scales, so results differ from it only by float
 * summation order) into groups laid out for the weight type, so that each
 * 512-bit weight vector meets its activations with one vpdpbusd (u8 x s8 ->
 * int32, 4 products per lane):
 *  - Q8_0, 64 values (2 blocks) per group: the weights are made unsigned (w + 128,
 *    one xor per weight vector, shared by the tile's tokens), so the vpdpbusd sums
 *    are sum q w + 128 sum q; the accumulation starts from -128 * (sum of each
 *    lane's 4 activations), stored with them.
 *  - Q4_0, 128 values (4 blocks): the 4 blocks' first halves (elements 0..15)
 *    then their second halves, matching one 512-bit vector of low nibbles and
 *    one of high nibbles built from 4 x 16 bytes; the "- 8" offset is an int32
 *    correction per lane (8 * sum of the lane's activations) that the
 *    accumulation starts from, negated.
 *  - Q4_K, 256 values (a super-block): per 128 values, the activations of the
 *    low-nibble sub-blocks then the high-nibble ones, matching one 64-byte load
 *    of the weights' nibbles; per-sub-block float scales d*sc*dx, and the mins as
 *    one 8-lane multiply-subtract of dmin*m against dx*s.
 * Each int32 lane is converted to float and scaled per block (the blocks' scales
 * differ, so the integer sums cannot run longer than a block).
 * Rows interleaved by 16 (KW_X16, quant.h) take their own kernel, k_x16: a lane
 * per row, each token's 4 activations of a position broadcast to all 16 lanes
 * (the activations stay in plain blocks, gx), 8 vpdpbusd per block, then one
 * convert and one multiply-add per token and block for 16 rows at once.
 * Tiles of R = 4 (or 1) weight rows x T <= 6 tokens: each weight vector is
 * loaded and unpacked once per tile and reused across its T tokens; decode
 * (n = 1) streams 4 rows at a time, or one (k_decode_pf), each weight byte read
 * once. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/matmul_impl.h"
#include "kernels/qblock_avx512.h"
#include "kernels/quant.h"

#define AI static inline __attribute__((always_inline))

/* Decode (T == 1: the weights stream once) prefetches: with k_decode_pf > 0
 * (one row at a time, see matmul_impl.h) the line k_decode_pf bytes ahead in the
 * stream, else the line the next 4-row tile reads at this position (the 4 rows
 * of a tile are contiguous, so a short distance would land in the rows being
 * read already); rb: row bytes. Integer arithmetic: may lie past the matrix. */
#define PF(T, p)                                                                                                 \
    do {                                                                                                         \
        if ((T) == 1)                                                                                            \
            _mm_prefetch((const char *)((uintptr_t)(p) + (k_decode_pf ? (size_t)k_decode_pf : 4 * rb)), _MM_HINT_T0); \
    } while (0)

/* Decode over chunked rows (quant.h): with 4 interleaved rows (R == 4) the line
 * the next 4-row tile reads here, as PF; one row at a time, the line k_decode_pf
 * bytes ahead, or K_DECODE_PF_CHUNK when k_decode_pf is 0. */
#define K_DECODE_PF_CHUNK 4096
#define PFC(R, p)                                                                                                   \
    _mm_prefetch((const char *)((uintptr_t)(p) + ((R) == 4 ? 4 * rb : k_decode_pf ? (size_t)k_decode_pf : K_DECODE_PF_CHUNK)), \
                 _MM_HINT_T0)

/* fp16 at p (any alignment) -> float with F16C. */
AI float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

typedef struct { int8_t q[64]; int32_t ncorr[16]; float dx[16]; } g8; /* Q8_0; a row's groups are followed by its block scales */
typedef struct { int8_t lo[64], hi[64]; int32_t ncorr[16]; float dx[16]; } g4;     /* Q4_0 */
typedef struct { int8_t q[256]; float dx[4][16]; float ds[16]; } gk;              /* Q4_K */
/* KW_X16 rows, per block: d, the negated offset correction (Q4_0: -8 sum q; Q8_0,
 * whose weights the kernel makes unsigned: -128 sum q) and the 32 int8 as 8 dwords */
typedef struct { float d; int32_t nc; int32_t q4[8]; } gx;
/* KW_X16 Q4_K rows, per block of 32: d, d * (sum q) (the mins' term) and the
 * 32 int8 as 8 dwords */
typedef struct { float d, ds; int32_t q4[8]; } gxk;
_Static_assert(sizeof(g8) % 64 == 0 && sizeof(g4) % 64 == 0 && sizeof(gk) % 64 == 0, "64-byte groups");

/* Block b of a row of nb blocks (zeros past the end). */
AI float qblock_at(const float *x, int b, int nb, int8_t *q, int32_t *s) {
    if (b >= nb) {
        memset(q, 0, 32);
        *s = 0;
        return 0.f;
    }
    return qblock(x + 32 * b, q, s);
}

static size_t act_bytes(const kweight *w) {
    omnic_dtype dt = w->dt;
    int cols = w->cols;
    if (w->layout == KW_X16 && (dt == DT_Q8_0 || dt == DT_Q4_0)) return (size_t)(cols / 32) * sizeof(gx);
    if (w->layout == KW_X16 && dt == DT_Q4_K) return (size_t)(cols / 32) * sizeof(gxk);
    switch (dt) {
    case DT_Q8_0: return (size_t)((cols + 63) / 64) * sizeof(g8) + (size_t)((cols / 32 + 15) / 16 * 16) * 4;
    case DT_Q4_0: return (size_t)((cols + 127) / 128) * sizeof(g4) + (size_t)((cols / 32 + 15) / 16 * 16) * 4;
    case DT_Q4_K: return (size_t)(cols / 256) * sizeof(gk);
    default: return 0;
    }
}

static void quantize_act(const kweight *w, const float *x, void *out) {
    omnic_dtype dt = w->dt;
    int cols = w->cols, nb = cols / 32;
    int8_t q[32];
    int32_t s;
    if (w->layout == KW_X16 && (dt == DT_Q8_0 || dt == DT_Q4_0)) {
        gx *g = out;
        for (int b = 0; b < nb; b++, g++) {
            g->d = qblock(x + 32 * b, q, &s);
            g->nc = (dt == DT_Q8_0 ? -128 : -8) * s;
            memcpy(g->q4, q, 32);
        }
    } else if (w->layout == KW_X16 && dt == DT_Q4_K) {
        gxk *g = out;
        for (int b = 0; b < nb; b++, g++) {
            g->d = qblock(x + 32 * b, q, &s);
            g->ds = g->d * (float)s;
            memcpy(g->q4, q, 32);
        }
    } else if (dt == DT_Q8_0) {
        g8 *g = out;
        float *dxb = (float *)(g + (nb + 1) / 2);
        for (int gi = 0; gi < (nb + 1) / 2; gi++, g++) {
            for (int k = 0; k < 2; k++) {
                float d = qblock_at(x, 2 * gi + k, nb, q, &s);
                memcpy(g->q + 32 * k, q, 32);
                for (int i = 0; i < 8; i++) g->ncorr[8 * k + i] = -128 * (q[4 * i] + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3]);
                if (2 * gi + k < nb) dxb[2 * gi + k] = d;
                _mm256_storeu_ps(g->dx + 8 * k, _mm256_set1_ps(d));
            }
        }
        for (int b = nb; b < (nb + 15) / 16 * 16; b++) dxb[b] = 0.f;
    } else if (dt == DT_Q4_0) {
        g4 *g = out;
        float *dxb = (float *)(g + (nb + 3) / 4);
        for (int b = 0; b < (nb + 15) / 16 * 16; b++) dxb[b] = 0.f;
        for (int gi = 0; gi < (nb + 3) / 4; gi++, g++) {
            for (int k = 0; k < 4; k++) {
                float d = qblock_at(x, 4 * gi + k, nb, q, &s);
                if (4 * gi + k < nb) dxb[4 * gi + k] = d;
                memcpy(g->lo + 16 * k, q, 16);
                memcpy(g->hi + 16 * k, q + 16, 16);
                for (int i = 0; i < 4; i++) {
                    int c = 0;
                    for (int e = 0; e < 4; e++) c += q[4 * i + e] + q[16 + 4 * i + e];
                    g->ncorr[4 * k + i] = -8 * c;
                    g->dx[4 * k + i] = d;
                }
            }
        }
    } else if (dt == DT_Q4_K) {
        gk *g = out;
        for (int sb = 0; sb < cols / 256; sb++, g++) {
            memset(g->ds, 0, sizeof g->ds);
            for (int j = 0; j < 8; j++) {
                int h = j / 4, cl = (j % 4) / 2, sub = j % 2;
                float d = qblock_at(x, 8 * sb + j, nb, q, &s);
                memcpy(g->q + 128 * h + 64 * sub + 32 * cl, q, 32);
                for (int l = 0; l < 8; l++) g->dx[2 * h + sub][8 * cl + l] = d;
                g->ds[j] = d * (float)s;
            }
        }
    }
}

/* ---- kernels: R rows (stride rb bytes) x T tokens (stride xs bytes) ---- */

#ifndef QMM_TMAX
#define QMM_TMAX 6 /* tokens per tile */
#endif
#define ZERO_ACC                                      \
    __m512 acc[4][QMM_TMAX];                          \
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps()

AI void store_acc(int R, int T, __m512 acc[4][QMM_TMAX], float *y, size_t ys) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) y[(size_t)t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Q8_0, one token (decode), in chunks of 16 blocks: the 16 fp16 scales of a row
 * are gathered at once and multiplied by the token's 16 activation scales; a pair
 * of blocks then takes its two scales with one permute. */
static const int32_t pair_idx[8][16] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},         {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13}, {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}};

/* Q8_0, several tokens: per pair of blocks, the two weight scales are broadcast
 * once and multiplied by each token's (pre-broadcast) pair of scales. */
AI void k_q8_0_many(int CH, int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y,
                    size_t ys) {
    ZERO_ACC;
    int ng = (nb + 1) / 2;
    for (int gi = 0; gi < ng; gi++) {
        int two = 2 * gi + 1 < nb;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512i wv;
            __m512 dw;
            if (CH) { /* a pair never straddles a chunk: quants and scales adjacent */
                const uint8_t *row = w + (size_t)r * rb, *q = row + qchunk_qs(2 * gi, nb, 34), *d = row + qchunk_d(2 * gi, 34);
                wv = two ? _mm512_loadu_si512(q) : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)q));
                dw = _mm512_set1_ps(h2f(d));
                if (two) dw = _mm512_mask_blend_ps(0xff00, dw, _mm512_set1_ps(h2f(d + 2)));
            } else {
                const uint8_t *p = w + (size_t)r * rb + (size_t)gi * 68;
                wv = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(p + 2)));
                dw = _mm512_set1_ps(h2f(p));
                if (two) {
                    wv = _mm512_inserti64x4(wv, _mm256_loadu_si256((const __m256i *)(p + 36)), 1);
                    dw = _mm512_mask_blend_ps(0xff00, dw, _mm512_set1_ps(h2f(p + 34)));
                }
            }
            wv = _mm512_xor_si512(wv, _mm512_set1_epi8((char)0x80)); /* w + 128 as u8 */
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const g8 *a = (const g8 *)(xq + (size_t)t * xs) + gi;
                __m512i i = _mm512_dpbusd_epi32(_mm512_load_si512(a->ncorr), wv, _mm512_load_si512(a->q));
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw, _mm512_load_ps(a->dx)), acc[r][t]);
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

/* Chunked rows (quant.h), one token: the scales of up to 16 blocks (kb) at d in
 * each of R rows (stride rb) times the token's block scales dx. */
AI void chunk_scales(int R, const uint8_t *d, size_t rb, int kb, __m512 dx, __m512 sc[4]) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        sc[r] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << kb) - 1), d + r * rb)), dx);
}

/* Q8_0, one token, R chunked rows (quant.h) interleaved: per half chunk the
 * rows' 16 scales, then each pair of blocks one 64-byte load per row. */
AI void k_q8_0_one_c(int R, const uint8_t *w, size_t rb, const uint8_t *xq, int nb, float *y) {
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const float *dxb = (const float *)(xq + (size_t)((nb + 1) / 2) * sizeof(g8));
    for (int c0 = 0; c0 < nb; c0 += QCHUNK) {
        int k = nb - c0 < QCHUNK ? nb - c0 : QCHUNK;
        const uint8_t *ch = w + (size_t)c0 * 34, *qs = ch + 2 * k;
        for (int h = 0; 16 * h < k; h++) {
            int kb = k - 16 * h < 16 ? k - 16 * h : 16;
            __m512 sc[4];
            chunk_scales(R, ch + 32 * h, rb, kb, _mm512_load_ps(dxb + c0 + 16 * h), sc);
            for (int kk = 0; 2 * kk < kb; kk++) {
                const g8 *a = (const g8 *)xq + (c0 + 16 * h) / 2 + kk;
                __m512i nc = _mm512_load_si512(a->ncorr), aq = _mm512_load_si512(a->q), ix = _mm512_load_si512(pair_idx[kk]);
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const uint8_t *pp = qs + r * rb + (size_t)(16 * h + 2 * kk) * 32;
                    PFC(R, pp);
                    __m512i wv = 2 * kk + 1 < kb ? _mm512_loadu_si512(pp) : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)pp));
                    wv = _mm512_xor_si512(wv, _mm512_set1_epi8((char)0x80));
                    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(nc, wv, aq)), _mm512_permutexvar_ps(ix, sc[r]), acc[r]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]);
}

AI void k_q8_0(int CH, int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    if (T > 1) {
        k_q8_0_many(CH, R, T, w, rb, xq, xs, nb, y, ys);
        return;
    }
    if (CH) {
        k_q8_0_one_c(R, w, rb, xq, nb, y);
        return;
    }
    ZERO_ACC;
    const __m512i off = _mm512_setr_epi32(0, 34, 68, 102, 136, 170, 204, 238, 272, 306, 340, 374, 408, 442, 476, 510);
    const size_t dxo = (size_t)((nb + 1) / 2) * sizeof(g8);
    _Alignas(64) float sc[QMM_TMAX][16];
    for (int c = 0; c < nb; c += 16) {
        int kb = nb - c < 16 ? nb - c : 16;
        __mmask16 bm = kb == 16 ? (__mmask16)0xffff : (__mmask16)((1u << kb) - 1);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)c * 34;
            /* 4 bytes at each block start: the fp16 d and 2 bytes of its qs */
            __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), bm, off, p, 1);
            __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
#pragma GCC unroll 8
            for (int t = 0; t < T; t++)
                _mm512_store_ps(sc[t], _mm512_mul_ps(dw, _mm512_load_ps((const float *)(xq + (size_t)t * xs + dxo) + c)));
            for (int k = 0; 2 * k < kb; k++) {
                const uint8_t *pp = p + (size_t)k * 68;
                PF(T, pp);
                __m512i wv = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(pp + 2)));
                if (2 * k + 1 < kb) wv = _mm512_inserti64x4(wv, _mm256_loadu_si256((const __m256i *)(pp + 36)), 1);
                wv = _mm512_xor_si512(wv, _mm512_set1_epi8((char)0x80)); /* w + 128 as u8 */
                __m512i ix = _mm512_load_si512(pair_idx[k]);
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const g8 *a = (const g8 *)(xq + (size_t)t * xs) + c / 2 + k;
                    __m512i i = _mm512_dpbusd_epi32(_mm512_load_si512(a->ncorr), wv, _mm512_load_si512(a->q));
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_permutexvar_ps(ix, _mm512_load_ps(sc[t])), acc[r][t]);
                }
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

/* Q4_0, one token (decode), in chunks of 16 blocks (4 groups): the row's 16 fp16
 * scales are gathered at once and multiplied by the token's 16 block scales; a
 * group takes its 4 scales (each spread over 4 lanes) with one permute. */
static const int32_t quad_idx[4][16] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},         {4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7},
    {8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11}, {12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15}};

AI void k_q4_0_one(int R, const uint8_t *w, size_t rb, const uint8_t *xq, int nb, float *y) {
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i off = _mm512_setr_epi32(0, 18, 36, 54, 72, 90, 108, 126, 144, 162, 180, 198, 216, 234, 252, 270);
    const float *dxb = (const float *)((const g4 *)xq + (nb + 3) / 4);
    for (int c = 0; c < nb; c += 16) {
        int kb = nb - c < 16 ? nb - c : 16;
        __mmask16 bm = kb == 16 ? (__mmask16)0xffff : (__mmask16)((1u << kb) - 1);
        __m512 dx = _mm512_load_ps(dxb + c);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)c * 18;
            __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), bm, off, p, 1);
            __m512 sc = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(g)), dx);
            for (int k = 0; 4 * k < kb; k++) {
                const uint8_t *pp = p + (size_t)k * 72;
                PF(1, pp);
                __m512i v;
                if (4 * k + 4 <= kb) {
                    v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(pp + 2)));
                    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(pp + 20)), 1);
                    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(pp + 38)), 2);
                    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(pp + 56)), 3);
                } else {
                    _Alignas(64) uint8_t tmp[64] = {0};
                    for (int e = 0; 4 * k + e < kb; e++) memcpy(tmp + 16 * e, pp + 18 * e + 2, 16);
                    v = _mm512_load_si512(tmp);
                }
                const g4 *a = (const g4 *)xq + c / 4 + k;
                __m512i i = _mm512_dpbusd_epi32(_mm512_load_si512(a->ncorr), _mm512_and_si512(v, m4), _mm512_load_si512(a->lo));
                i = _mm512_dpbusd_epi32(i, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), _mm512_load_si512(a->hi));
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_permutexvar_ps(_mm512_load_si512(quad_idx[k]), sc), acc[r]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]);
}

/* Q4_0, one token, R chunked rows (quant.h) interleaved (rows() gives it one):
 * per half chunk the rows' 16 scales, then each group of 4 blocks one 64-byte
 * load per row. */
AI void k_q4_0_one_c(int R, const uint8_t *w, size_t rb, const uint8_t *xq, int nb, float *y) {
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const float *dxb = (const float *)((const g4 *)xq + (nb + 3) / 4);
    for (int c0 = 0; c0 < nb; c0 += QCHUNK) {
        int k = nb - c0 < QCHUNK ? nb - c0 : QCHUNK;
        const uint8_t *ch = w + (size_t)c0 * 18, *qs = ch + 2 * k;
        for (int h = 0; 16 * h < k; h++) {
            int kb = k - 16 * h < 16 ? k - 16 * h : 16;
            __m512 sc[4];
            chunk_scales(R, ch + 32 * h, rb, kb, _mm512_load_ps(dxb + c0 + 16 * h), sc);
            for (int kk = 0; 4 * kk < kb; kk++) {
                const g4 *a = (const g4 *)xq + (c0 + 16 * h) / 4 + kk;
                __m512i nc = _mm512_load_si512(a->ncorr), al = _mm512_load_si512(a->lo), ah = _mm512_load_si512(a->hi);
                __m512i ix = _mm512_load_si512(quad_idx[kk]);
                __mmask64 vm = 4 * kk + 4 <= kb ? ~0ull : (1ull << (16 * (kb - 4 * kk))) - 1;
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const uint8_t *pp = qs + r * rb + (size_t)(16 * h + 4 * kk) * 16;
                    PFC(R, pp);
                    __m512i v = _mm512_maskz_loadu_epi8(vm, pp);
                    __m512i i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(nc, _mm512_and_si512(v, m4), al), _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), ah);
                    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_permutexvar_ps(ix, sc[r]), acc[r]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]);
}

/* Q4_0 group (4 blocks of 18 bytes at p; the last kn < 4 of a row: the rest read
 * as 0): the low and high nibbles as u8 (block k's in lanes 4k..4k+3) and each
 * block's scale spread over its 4 lanes. */
AI void q4_0_group(const uint8_t *p, int kn, __m512i *lo, __m512i *hi, __m512 *dw) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512i v;
    __m128i dh;
    if (kn == 4) {
        v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + 2)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 20)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 38)), 2);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 56)), 3);
        uint16_t h[4];
        memcpy(h, p, 2), memcpy(h + 1, p + 18, 2), memcpy(h + 2, p + 36, 2), memcpy(h + 3, p + 54, 2);
        dh = _mm_loadl_epi64((const __m128i *)h);
    } else {
        _Alignas(64) uint8_t tmp[64] = {0};
        uint16_t h[4] = {0};
        for (int k = 0; k < kn; k++) {
            memcpy(tmp + 16 * k, p + 18 * k + 2, 16);
            memcpy(h + k, p + 18 * k, 2);
        }
        v = _mm512_load_si512(tmp);
        dh = _mm_loadl_epi64((const __m128i *)h);
    }
    *lo = _mm512_and_si512(v, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    *dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(dh)));
}

/* The same from a chunked row (quant.h): group gi's quants are 64 adjacent bytes
 * and its scales 4 adjacent fp16 (a group never straddles a chunk). */
AI void q4_0_group_c(const uint8_t *row, int gi, int nb, int kn, __m512i *lo, __m512i *hi, __m512 *dw) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const uint8_t *q = row + qchunk_qs(4 * gi, nb, 18), *d = row + qchunk_d(4 * gi, 18);
    __m512i v = kn == 4 ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi8((1ull << (16 * kn)) - 1, q);
    __m128i dh = kn == 4 ? _mm_loadl_epi64((const __m128i *)d) : _mm_maskz_loadu_epi16((__mmask8)((1u << kn) - 1), d);
    *lo = _mm512_and_si512(v, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    *dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(dh)));
}

/* Q4_0, 4 rows x T <= 3 tokens with the token loop outside the row loop: the
 * 4 rows' unpacked nibbles and scales stay in registers (12) while each token's
 * activations are loaded once per group, not once per row (the generic tile of
 * k_q4_0 below reloaded them per row and spilled at 4 x 6; rows() now gives it
 * single rows only, so its 4-row instantiations for T > 3 are never called). */
AI void k_q4_0_r4(int CH, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    __m512 acc[4][3];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    int ng = (nb + 3) / 4;
    for (int gi = 0; gi < ng; gi++) {
        int kn = nb - 4 * gi < 4 ? nb - 4 * gi : 4;
        __m512i lo[4], hi[4];
        __m512 dw[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (CH) q4_0_group_c(w + (size_t)r * rb, gi, nb, kn, &lo[r], &hi[r], &dw[r]);
            else q4_0_group(w + (size_t)r * rb + (size_t)gi * 72, kn, &lo[r], &hi[r], &dw[r]);
        }
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) {
            const g4 *a = (const g4 *)(xq + (size_t)t * xs) + gi;
            __m512i nc = _mm512_load_si512(a->ncorr), al = _mm512_load_si512(a->lo), ah = _mm512_load_si512(a->hi);
            __m512 dx = _mm512_load_ps(a->dx);
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                __m512i i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(nc, lo[r], al), hi[r], ah);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw[r], dx), acc[r][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 3
        for (int t = 0; t < T; t++) y[(size_t)t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

AI void k_q4_0(int CH, int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    if (T == 1 && CH) {
        k_q4_0_one_c(R, w, rb, xq, nb, y);
        return;
    }
    if (T == 1) {
        k_q4_0_one(R, w, rb, xq, nb, y);
        return;
    }
    if (R == 4 && T <= 3) {
        k_q4_0_r4(CH, T, w, rb, xq, xs, nb, y, ys);
        return;
    }
    ZERO_ACC;
    int ng = (nb + 3) / 4;
    for (int gi = 0; gi < ng; gi++) {
        int kn = nb - 4 * gi < 4 ? nb - 4 * gi : 4;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512i lo, hi;
            __m512 dw;
            if (CH) q4_0_group_c(w + (size_t)r * rb, gi, nb, kn, &lo, &hi, &dw);
            else q4_0_group(w + (size_t)r * rb + (size_t)gi * 72, kn, &lo, &hi, &dw);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const g4 *a = (const g4 *)(xq + (size_t)t * xs) + gi;
                __m512i i = _mm512_dpbusd_epi32(_mm512_load_si512(a->ncorr), lo, _mm512_load_si512(a->lo));
                i = _mm512_dpbusd_epi32(i, hi, _mm512_load_si512(a->hi));
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw, _mm512_load_ps(a->dx)), acc[r][t]);
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

AI void k_q4_k(int CH, int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nsb, float *y, size_t ys) {
    (void)CH; /* Q4_K rows are never chunked */
    ZERO_ACC;
    const __m512i z = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(0x0f);
    /* vector k = 2h + sub (h: half, sub: low/high nibbles) takes sub-blocks
     * 4h + sub (lanes 0-7) and 4h + 2 + sub (lanes 8-15) */
    const __m512i sw_idx[4] = {_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
                               _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
                               _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
                               _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7)};
    for (int sb = 0; sb < nsb; sb++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)sb * sizeof(blk_q4_k);
            PF(T, p);
            PF(T, p + 64);
            PF(T, p + 128);
            /* the 8 scales and mins from the 12 packed bytes (see quant.h), as words:
             * sc[0..3] = s[0..3] & 63, m[0..3] = s[4..7] & 63,
             * sc[4..7] = (s[8..11] & 15) | (s[0..3] >> 6) << 4,
             * m[4..7] = (s[8..11] >> 4) | (s[4..7] >> 6) << 4 */
            uint32_t u[3], sm[4];
            memcpy(u, p + 4, 12);
            sm[0] = u[0] & 0x3f3f3f3fu;
            sm[1] = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
            sm[2] = u[1] & 0x3f3f3f3fu;
            sm[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
            __m128i b = _mm_loadu_si128((const __m128i *)sm);
            __m256 scf = _mm256_mul_ps(_mm256_set1_ps(h2f(p)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
            __m256 mnf = _mm256_mul_ps(_mm256_set1_ps(h2f(p + 2)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8))));
            __m512 sc512 = _mm512_castps256_ps512(scf), sw[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) sw[k] = _mm512_permutexvar_ps(sw_idx[k], sc512);
            __m512 mv = _mm512_zextps256_ps512(mnf);
            __m512i v0 = _mm512_loadu_si512(p + 16), v1 = _mm512_loadu_si512(p + 80);
            __m512i q[4] = {_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4),
                            _mm512_and_si512(v1, m4), _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4)};
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const gk *a = (const gk *)(xq + (size_t)t * xs) + sb;
                __m512 c = acc[r][t];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    __m512i i = _mm512_dpbusd_epi32(z, q[k], _mm512_load_si512(a->q + 64 * k));
                    c = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(sw[k], _mm512_load_ps(a->dx[k])), c);
                }
                acc[r][t] = _mm512_fnmadd_ps(mv, _mm512_load_ps(a->ds), c);
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

/* 16 interleaved rows (one group at g, quant.h) x T <= 8 tokens; y[t * ys + j]
 * for row j. Q8: Q8_0 (8 vectors of signed bytes per block, made unsigned with
 * one xor) or Q4_0 (4 vectors of nibble pairs). pf: prefetch the lines at the
 * same offsets from pf (the next group, or the stream ahead in decode), or NULL. */
#define X16_TMAX 8
AI void k_x16(int Q8, int T, const uint8_t *g, const uint8_t *pf, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    const int bs = Q8 ? (int)sizeof(blk_q8_0) : (int)sizeof(blk_q4_0);
    __m512 acc[X16_TMAX];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f), x80 = _mm512_set1_epi8((char)0x80);
    for (int b = 0; b < nb; b++) {
        if (pf && !(b & 1))
            for (int l = 0; l < bs / 2; l++) _mm_prefetch((const char *)pf + qx16_d(b, bs) + 64 * l, _MM_HINT_T0);
        __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + qx16_d(b, bs))));
        const uint8_t *q = g + qx16_qs(b, nb, bs);
        __m512i wv[8]; /* wv[k] meets the activations' dword k */
        if (Q8) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) wv[k] = _mm512_xor_si512(_mm512_loadu_si512(q + 64 * k), x80);
        } else {
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m512i v = _mm512_loadu_si512(q + 64 * k);
                wv[k] = _mm512_and_si512(v, m4);
                wv[4 + k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const gx *a = (const gx *)(xq + (size_t)t * xs) + b;
            __m512i i = _mm512_set1_epi32(a->nc);
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) i = _mm512_dpbusd_epi32(i, wv[k], _mm512_set1_epi32(a->q4[k]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(ws, _mm512_set1_ps(a->d)), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_storeu_ps(y + (size_t)t * ys, acc[t]);
}
/* Q4_K: 16 interleaved rows (quant.h) x T <= 8 tokens, arguments as k_x16 (nb:
 * super-blocks). Per pair of sub-blocks (2c, 2c + 1: the low and high nibbles of
 * the same 32 quant bytes) 8 vectors of 16 rows x 4 bytes, two vpdpbusd each per
 * token into integer sums, then per sub-block one convert, the row scales
 * d * sc times the token's d, and the mins dmin * m times its d * sum q. The 16
 * rows' 6-bit scales and mins are unpacked with vector ops from the group's
 * 12 x 16 scale bytes (q4k_scale_min's rule, one lane per row). */
AI void k_x16k(int T, const uint8_t *g, const uint8_t *pf, const uint8_t *xq, size_t xs, int nsb, float *y, size_t ys) {
    __m512 acc[X16_TMAX];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f), m63 = _mm512_set1_epi32(63), m15 = _mm512_set1_epi32(15);
    for (int sb = 0; sb < nsb; sb++, g += QX16K_SB) {
        if (pf)
            for (int l = 0; l < QX16K_SB / 64; l++) _mm_prefetch((const char *)pf + (size_t)sb * QX16K_SB + 64 * l, _MM_HINT_T0);
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));
        __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 32)));
#define SB_(k) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(g + 64 + 16 * (k))))
        for (int c = 0; c < 4; c++) {
            __m512i ia[X16_TMAX], ib[X16_TMAX];
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) ia[t] = ib[t] = _mm512_setzero_si512();
            const uint8_t *q = g + 256 + 512 * c;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) {
                __m512i wv = _mm512_loadu_si512(q + 64 * v);
                __m512i lo = _mm512_and_si512(wv, m4), hi = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const gxk *a = (const gxk *)(xq + (size_t)t * xs) + 8 * sb + 2 * c;
                    ia[t] = _mm512_dpbusd_epi32(ia[t], lo, _mm512_set1_epi32(a[0].q4[v]));
                    ib[t] = _mm512_dpbusd_epi32(ib[t], hi, _mm512_set1_epi32(a[1].q4[v]));
                }
            }
            __m512 scf[2], mnf[2];
            for (int u = 0; u < 2; u++) {
                int j = 2 * c + u;
                __m512i sc, mn;
                if (j < 4) {
                    sc = _mm512_and_si512(SB_(j), m63);
                    mn = _mm512_and_si512(SB_(j + 4), m63);
                } else {
                    __m512i s8 = SB_(j + 4);
                    sc = _mm512_or_si512(_mm512_and_si512(s8, m15), _mm512_slli_epi32(_mm512_srli_epi32(SB_(j - 4), 6), 4));
                    mn = _mm512_or_si512(_mm512_srli_epi32(s8, 4), _mm512_slli_epi32(_mm512_srli_epi32(SB_(j), 6), 4));
                }
                scf[u] = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(sc));
                mnf[u] = _mm512_mul_ps(mv, _mm512_cvtepi32_ps(mn));
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const gxk *a = (const gxk *)(xq + (size_t)t * xs) + 8 * sb + 2 * c;
                __m512 r = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), _mm512_mul_ps(scf[0], _mm512_set1_ps(a[0].d)), acc[t]);
                r = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ib[t]), _mm512_mul_ps(scf[1], _mm512_set1_ps(a[1].d)), r);
                r = _mm512_fnmadd_ps(mnf[0], _mm512_set1_ps(a[0].ds), r);
                acc[t] = _mm512_fnmadd_ps(mnf[1], _mm512_set1_ps(a[1].ds), r);
            }
        }
#undef SB_
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_storeu_ps(y + (size_t)t * ys, acc[t]);
}

typedef void (*x16_fn)(const uint8_t *, const uint8_t *, const uint8_t *, size_t, int, float *, size_t);
#define X16_FN(Q8, T)                                                                                                  \
    static void k_x16_##Q8##_##T(const uint8_t *g, const uint8_t *pf, const uint8_t *xq, size_t xs, int nb, float *y, \
                                 size_t ys) {                                                                         \
        k_x16(Q8, T, g, pf, xq, xs, nb, y, ys);                                                                       \
    }
#define X16_SET(Q8) X16_FN(Q8, 1) X16_FN(Q8, 2) X16_FN(Q8, 3) X16_FN(Q8, 4) X16_FN(Q8, 5) X16_FN(Q8, 6) X16_FN(Q8, 7) X16_FN(Q8, 8)
X16_SET(0)
X16_SET(1)
#define X16_TAB(Q8) {k_x16_##Q8##_1, k_x16_##Q8##_2, k_x16_##Q8##_3, k_x16_##Q8##_4, k_x16_##Q8##_5, k_x16_##Q8##_6, k_x16_##Q8##_7, k_x16_##Q8##_8}
#define X16K_FN(T)                                                                                                 \
    static void k_x16k_##T(const uint8_t *g, const uint8_t *pf, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) { \
        k_x16k(T, g, pf, xq, xs, nb, y, ys);                                                                           \
    }
X16K_FN(1) X16K_FN(2) X16K_FN(3) X16K_FN(4) X16K_FN(5) X16K_FN(6) X16K_FN(7) X16K_FN(8)
/* [Q4_0, Q8_0, Q4_K][tokens - 1] */
static const x16_fn x16_tab[3][X16_TMAX] = {X16_TAB(0), X16_TAB(1),
                                            {k_x16k_1, k_x16k_2, k_x16k_3, k_x16k_4, k_x16k_5, k_x16k_6, k_x16k_7, k_x16k_8}};

/* Rows [r0, r1) of interleaved groups: group by group, tiles of up to 8 tokens;
 * the first tile prefetches the next group (decode: the stream k_decode_pf
 * ahead). A group only partly inside [r0, r1) goes through a local buffer. */
static void rows_x16(const kweight *w, const void *xq, size_t xs, int n, float *y, int r0, int r1) {
    size_t rb = (size_t)dtype_row_bytes(w->dt, w->cols), gsz = QX16 * rb;
    int q8 = w->dt == DT_Q8_0 ? 1 : w->dt == DT_Q4_K ? 2 : 0, nb = w->cols / (q8 == 2 ? QK_K : 32);
    size_t dist = n == 1 ? (k_decode_pf ? (size_t)k_decode_pf : K_DECODE_PF_CHUNK) : gsz;
    float part[X16_TMAX * QX16];
    for (int g0 = r0 / QX16 * QX16; g0 < r1; g0 += QX16) {
        const uint8_t *g = (const uint8_t *)w->data + (size_t)g0 * rb;
        int lo = g0 < r0 ? r0 - g0 : 0, hi = r1 - g0 < QX16 ? r1 - g0 : QX16;
        for (int t = 0; t < n; t += X16_TMAX) {
            int T = n - t < X16_TMAX ? n - t : X16_TMAX;
            const uint8_t *x = (const uint8_t *)xq + (size_t)t * xs;
            float *yt = y + (size_t)t * w->rows + g0;
            if (lo == 0 && hi == QX16) x16_tab[q8][T - 1](g, t == 0 ? g + dist : NULL, x, xs, nb, yt, (size_t)w->rows);
            else {
                x16_tab[q8][T - 1](g, NULL, x, xs, nb, part, QX16);
                for (int u = 0; u < T; u++) memcpy(yt + (size_t)u * w->rows + lo, part + u * QX16 + lo, (size_t)(hi - lo) * 4);
            }
        }
    }
}

typedef void (*qk_fn)(const uint8_t *, size_t, const uint8_t *, size_t, int, float *, size_t);
#define QK_FN(K, CH, R, T)                                                                                          \
    static void K##_c##CH##_##R##x##T(const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, \
                                      size_t ys) {                                                                 \
        K(CH, R, T, w, rb, xq, xs, nb, y, ys);                                                                     \
    }
#define QK_SET(K, CH)                                                                                                  \
    QK_FN(K, CH, 1, 1) QK_FN(K, CH, 1, 2) QK_FN(K, CH, 1, 3) QK_FN(K, CH, 1, 4) QK_FN(K, CH, 1, 5) QK_FN(K, CH, 1, 6)    \
        QK_FN(K, CH, 4, 1) QK_FN(K, CH, 4, 2) QK_FN(K, CH, 4, 3) QK_FN(K, CH, 4, 4) QK_FN(K, CH, 4, 5) QK_FN(K, CH, 4, 6)
QK_SET(k_q8_0, 0)
QK_SET(k_q4_0, 0)
QK_SET(k_q4_k, 0)
QK_SET(k_q8_0, 1)
QK_SET(k_q4_0, 1)
#define QK_TAB(K, CH)                                                                                         \
    {{K##_c##CH##_1x1, K##_c##CH##_1x2, K##_c##CH##_1x3, K##_c##CH##_1x4, K##_c##CH##_1x5, K##_c##CH##_1x6}, \
     {K##_c##CH##_4x1, K##_c##CH##_4x2, K##_c##CH##_4x3, K##_c##CH##_4x4, K##_c##CH##_4x5, K##_c##CH##_4x6}}
/* [chunked][type][4 rows][tokens - 1]; Q4_K has no chunked layout */
static const qk_fn qk_tab[2][3][2][6] = {{QK_TAB(k_q8_0, 0), QK_TAB(k_q4_0, 0), QK_TAB(k_q4_k, 0)},
                                         {QK_TAB(k_q8_0, 1), QK_TAB(k_q4_0, 1), QK_TAB(k_q4_k, 0)}};

static void rows(const kweight *w, const void *xq, size_t xs, int n, float *y, int r0, int r1) {
    int ti = w->dt == DT_Q8_0 ? 0 : w->dt == DT_Q4_0 ? 1 : w->dt == DT_Q4_K ? 2 : -1;
    if (ti < 0 || n <= 0) return;
    if (w->layout == KW_X16) {
        rows_x16(w, xq, xs, n, y, r0, r1);
        return;
    }
    size_t rb = (size_t)dtype_row_bytes(w->dt, w->cols);
    int nb = ti == 2 ? w->cols / QK_K : w->cols / 32;
    int ch = w->layout == KW_CHUNKED && ti < 2;
    /* decode: one linear stream per thread (matmul_impl.h) where k_decode_pf asks
     * for it and for chunked Q4_0 always; 4 interleaved rows otherwise (chunked
     * Q8_0 on the Intel VM: 8B decode 3.1-3.3 t/s with 4 rows, 2.7-2.8 with one;
     * chunked Q4_0: 5.3-5.4 with 4 rows, 5.7-5.9 with one) */
    int one = n == 1 && (k_decode_pf > 0 || (ch && ti == 1));
    for (int r = r0; r < r1;) {
        int R = !one && r1 - r >= 4 ? 4 : 1;
        int tmax = R == 4 && ti == 1 ? 3 : QMM_TMAX; /* Q4_0: k_q4_0_r4 tiles */
        for (int t = 0; t < n;) {
            int T = n - t < tmax ? n - t : tmax;
            qk_tab[ch][ti][R == 4][T - 1]((const uint8_t *)w->data + (size_t)r * rb, rb, (const uint8_t *)xq + (size_t)t * xs,
                                      xs, nb, y + (size_t)t * w->rows + r, (size_t)w->rows);
            t += T;
        }
        r += R;
    }
}

const qmm_level qmm_avx512 = {act_bytes, quantize_act, rows};
