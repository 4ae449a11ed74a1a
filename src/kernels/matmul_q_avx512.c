/* matmul_q_avx512.c - AVX-512 VNNI y = x * W^T for Q8_0 / Q4_0 / Q4_K weights
 * (rows [r0, r1)), read in place in GGUF's block layout.
 *
 * Activations are quantized once per call with the same rule as the scalar level
 * (identical int8 values and scales, so results differ from it only by float
 * summation order) into groups laid out for the weight type, so that each
 * 512-bit weight vector meets its activations with one vpdpbusd (u8 x s8 ->
 * int32, 4 products per lane):
 *  - Q8_0, 64 values (2 blocks) per group: q + 128 as u8, so sum (q + 128) w =
 *    sum q w + 128 sum w; the 128 sum w term (one vpdpbusd of the weights with
 *    128s, shared by all tokens of a tile) starts the accumulation negated.
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
 * Tiles of R = 4 (or 1) weight rows x T <= 4 tokens: each weight vector is
 * loaded and unpacked once per tile and reused across its T tokens; decode
 * (n = 1) streams 4 rows at a time, each weight byte read once. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/matmul_impl.h"
#include "kernels/quant.h"

#define AI static inline __attribute__((always_inline))

#ifndef QMM_PF
#define QMM_PF 1024 /* decode: software prefetch distance in weight bytes (0: none) */
#endif
/* Prefetch (T == 1 only: decode streams the weights once) a cache line QMM_PF
 * bytes ahead; integer arithmetic, the address may lie past the row. */
#define PF(T, p)                                                                              \
    do {                                                                                      \
        if ((T) == 1 && QMM_PF) _mm_prefetch((const char *)((uintptr_t)(p) + QMM_PF), _MM_HINT_T0); \
    } while (0)

/* fp16 at p (any alignment) -> float with F16C. */
AI float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

typedef struct { uint8_t xu[64]; float dx[16]; } g8;                              /* Q8_0 */
typedef struct { int8_t lo[64], hi[64]; int32_t ncorr[16]; float dx[16]; } g4;     /* Q4_0 */
typedef struct { int8_t q[256]; float dx[4][16]; float ds[16]; } gk;              /* Q4_K */
_Static_assert(sizeof(g8) % 64 == 0 && sizeof(g4) % 64 == 0 && sizeof(gk) % 64 == 0, "64-byte groups");

/* One block of 32 floats -> q[32], s = sum q; returns d. Same values as
 * qa_quantize32 for finite input (vcvtps2dq rounds half to even). */
AI float qblock(const float *x, int8_t *q, int32_t *s) {
    __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
    float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
    __m512 vi = _mm512_set1_ps(id);
    __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vi)), qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vi));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(qa));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(qb));
    *s = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
    return d;
}

/* Block b of a row of nb blocks (zeros past the end). */
AI float qblock_at(const float *x, int b, int nb, int8_t *q, int32_t *s) {
    if (b >= nb) {
        memset(q, 0, 32);
        *s = 0;
        return 0.f;
    }
    return qblock(x + 32 * b, q, s);
}

static size_t act_bytes(omnic_dtype dt, int cols) {
    switch (dt) {
    case DT_Q8_0: return (size_t)((cols + 63) / 64) * sizeof(g8);
    case DT_Q4_0: return (size_t)((cols + 127) / 128) * sizeof(g4);
    case DT_Q4_K: return (size_t)(cols / 256) * sizeof(gk);
    default: return 0;
    }
}

static void quantize_act(omnic_dtype dt, const float *x, int cols, void *out) {
    int nb = cols / 32;
    int8_t q[32];
    int32_t s;
    if (dt == DT_Q8_0) {
        g8 *g = out;
        for (int gi = 0; gi < (nb + 1) / 2; gi++, g++) {
            for (int k = 0; k < 2; k++) {
                float d = qblock_at(x, 2 * gi + k, nb, q, &s);
                __m256i v = _mm256_loadu_si256((const __m256i *)q);
                _mm256_storeu_si256((__m256i *)(g->xu + 32 * k), _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)));
                _mm256_storeu_ps(g->dx + 8 * k, _mm256_set1_ps(d));
            }
        }
    } else if (dt == DT_Q4_0) {
        g4 *g = out;
        for (int gi = 0; gi < (nb + 3) / 4; gi++, g++) {
            for (int k = 0; k < 4; k++) {
                float d = qblock_at(x, 4 * gi + k, nb, q, &s);
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

#define ZERO_ACC                                      \
    __m512 acc[4][4];                                 \
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) \
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps()

AI void store_acc(int R, int T, __m512 acc[4][4], float *y, size_t ys) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) y[(size_t)t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

AI void k_q8_0(int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    ZERO_ACC;
    const __m512i z = _mm512_setzero_si512();
    int ng = (nb + 1) / 2;
    for (int gi = 0; gi < ng; gi++) {
        int two = 2 * gi + 1 < nb;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)gi * 68;
            PF(T, p);
            __m512i wv = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(p + 2)));
            __m512 dw = _mm512_set1_ps(h2f(p));
            if (two) {
                wv = _mm512_inserti64x4(wv, _mm256_loadu_si256((const __m256i *)(p + 36)), 1);
                dw = _mm512_mask_blend_ps(0xff00, dw, _mm512_set1_ps(h2f(p + 34)));
            } else {
                dw = _mm512_maskz_mov_ps(0x00ff, dw);
            }
            /* -128 * (sum of each lane's 4 weights); padding lanes hold 0 (xu = 128 there) */
            __m512i nc = _mm512_sub_epi32(z, _mm512_dpbusd_epi32(z, _mm512_set1_epi8((char)0x80), wv));
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const g8 *a = (const g8 *)(xq + (size_t)t * xs) + gi;
                __m512i i = _mm512_dpbusd_epi32(nc, _mm512_load_si512(a->xu), wv);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw, _mm512_load_ps(a->dx)), acc[r][t]);
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

AI void k_q4_0(int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, size_t ys) {
    ZERO_ACC;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    int ng = (nb + 3) / 4;
    for (int gi = 0; gi < ng; gi++) {
        int kn = nb - 4 * gi < 4 ? nb - 4 * gi : 4;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)gi * 72;
            PF(T, p);
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
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(dh)));
#pragma GCC unroll 4
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

AI void k_q4_k(int R, int T, const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nsb, float *y, size_t ys) {
    ZERO_ACC;
    const __m512i z = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(0x0f);
    for (int sb = 0; sb < nsb; sb++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)sb * sizeof(blk_q4_k);
            PF(T, p);
            PF(T, p + 64);
            float d = h2f(p), dmin = h2f(p + 2);
            _Alignas(64) float sw[4][16], mn[16] = {0};
            for (int j = 0; j < 8; j++) {
                int sc, m, h = j / 4, cl = (j % 4) / 2, sub = j % 2;
                q4k_scale_min(j, p + 4, &sc, &m);
                __m256 v = _mm256_set1_ps(d * (float)sc);
                _mm256_store_ps(&sw[2 * h + sub][8 * cl], v);
                mn[j] = dmin * (float)m;
            }
            __m512i v0 = _mm512_loadu_si512(p + 16), v1 = _mm512_loadu_si512(p + 80);
            __m512i q[4] = {_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4),
                            _mm512_and_si512(v1, m4), _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4)};
            __m512 mv = _mm512_load_ps(mn);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const gk *a = (const gk *)(xq + (size_t)t * xs) + sb;
                __m512 c = acc[r][t];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    __m512i i = _mm512_dpbusd_epi32(z, q[k], _mm512_load_si512(a->q + 64 * k));
                    c = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(_mm512_load_ps(sw[k]), _mm512_load_ps(a->dx[k])), c);
                }
                acc[r][t] = _mm512_fnmadd_ps(mv, _mm512_load_ps(a->ds), c);
            }
        }
    }
    store_acc(R, T, acc, y, ys);
}

typedef void (*qk_fn)(const uint8_t *, size_t, const uint8_t *, size_t, int, float *, size_t);
#define QK_FN(K, R, T)                                                                                     \
    static void K##_##R##x##T(const uint8_t *w, size_t rb, const uint8_t *xq, size_t xs, int nb, float *y, \
                              size_t ys) {                                                                 \
        K(R, T, w, rb, xq, xs, nb, y, ys);                                                                 \
    }
#define QK_SET(K) \
    QK_FN(K, 1, 1) QK_FN(K, 1, 2) QK_FN(K, 1, 3) QK_FN(K, 1, 4) QK_FN(K, 4, 1) QK_FN(K, 4, 2) QK_FN(K, 4, 3) QK_FN(K, 4, 4)
QK_SET(k_q8_0)
QK_SET(k_q4_0)
QK_SET(k_q4_k)
#define QK_TAB(K) {{K##_1x1, K##_1x2, K##_1x3, K##_1x4}, {K##_4x1, K##_4x2, K##_4x3, K##_4x4}}
static const qk_fn qk_tab[3][2][4] = {QK_TAB(k_q8_0), QK_TAB(k_q4_0), QK_TAB(k_q4_k)};

static void rows(const kweight *w, const void *xq, size_t xs, int n, float *y, int r0, int r1) {
    int ti = w->dt == DT_Q8_0 ? 0 : w->dt == DT_Q4_0 ? 1 : w->dt == DT_Q4_K ? 2 : -1;
    if (ti < 0 || n <= 0) return;
    size_t rb = (size_t)dtype_row_bytes(w->dt, w->cols);
    int nb = ti == 2 ? w->cols / QK_K : w->cols / 32;
    for (int r = r0; r < r1;) {
        int R = r1 - r >= 4 ? 4 : 1;
        for (int t = 0; t < n;) {
            int T = n - t < 4 ? n - t : 4;
            qk_tab[ti][R == 4][T - 1]((const uint8_t *)w->data + (size_t)r * rb, rb, (const uint8_t *)xq + (size_t)t * xs,
                                      xs, nb, y + (size_t)t * w->rows + r, (size_t)w->rows);
            t += T;
        }
        r += R;
    }
}

const qmm_level qmm_avx512 = {act_bytes, quantize_act, rows};
