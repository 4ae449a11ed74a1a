/* vit_attn_amx.c - attention of one (segment, head) of a BF16 vision tower on
 * Intel AMX (TDPBF16PS), the bf16 counterpart of vit_attn_avx512.c. Per head the
 * keys and values are rounded to bf16 once (round to nearest even, like the
 * tower's Linear activations on AMX) into TDPBF16PS's B-tile pair order:
 *   kp[key tile][k chunk][pair p][key][2] = K[16 kt + key][32 kc + 2 p + e]
 *   vp[key chunk][col tile][pair p][col][2] = V[32 kc + 2 p + e][16 ct + col]
 * (zero padding to n32 keys, hd32 / hd16 columns). Queries run AQ at a time
 * against all keys: S = Q K^T in fp32 tiles (A = bf16 query rows), an exact fp32
 * softmax per row (max, exp, sum; vit_softmax_row_avx512), the probabilities
 * rounded to bf16 as the A rows of P V, and 1 / sum applied to the output.
 * Runs inside a pool worker: one thread per (segment, head). */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/matmul_impl.h"
#include "models/vit_internal.h"

#define AQ 32 /* queries per block (multiple of 32): 32 x n32 scores stay in L2 */

int vit_attn_amx_ok(const kweight *w) {
    return w && w->dt == DT_BF16 && w->act_bf16 && k_amx_bf16_ok && vit_attn_avx512_ok() && amx_bf16_available();
}

static size_t up16(size_t x) { return (x + 15) / 16 * 16; }

size_t vit_attn_amx_scratch_floats(int hd, int max_seg) {
    size_t n32 = ((size_t)max_seg + 31) / 32 * 32, hd32 = ((size_t)hd + 31) / 32 * 32, hd16 = ((size_t)hd + 15) / 16 * 16;
    return up16(n32 * hd32 / 2) + up16(n32 * hd16 / 2) + up16((size_t)AQ * hd32 / 2) + up16((size_t)AQ * n32) +
           up16((size_t)AQ * n32 / 2) + up16((size_t)AQ * hd16) + AQ + 16;
}

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,fma,amx-tile,amx-bf16")
#include <immintrin.h>

/* 16 floats -> bf16, round to nearest even (NaN kept quiet), as f32_to_bf16. */
static inline __m256i bf16x16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u, _mm512_set1_epi32(0x00400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

void vit_attn_amx(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                  size_t ostride, float scale, float *scratch) {
    const int n32 = (n + 31) / 32 * 32, hd32 = (hd + 31) / 32 * 32, hd16 = (hd + 15) / 16 * 16;
    const int nkc = hd32 / 32, nct = hd16 / 16;
    uint16_t *kp = (uint16_t *)scratch;
    uint16_t *vp = kp + 2 * up16((size_t)n32 * hd32 / 2);
    uint16_t *qb = vp + 2 * up16((size_t)n32 * hd16 / 2);       /* [AQ][hd32] queries */
    float *s = (float *)(qb + 2 * up16((size_t)AQ * hd32 / 2)); /* [AQ][n32] scores */
    uint16_t *pb = (uint16_t *)(s + up16((size_t)AQ * n32));    /* [AQ][n32] probabilities */
    float *ob = (float *)(pb + 2 * up16((size_t)AQ * n32 / 2)); /* [AQ][hd16] P V */
    float *inv = ob + up16((size_t)AQ * hd16);                  /* [AQ] 1 / sums */
    for (int kt = 0; kt < n32 / 16; kt++)
        for (int kc = 0; kc < nkc; kc++) {
            uint16_t *dst = kp + ((size_t)kt * nkc + kc) * 512;
            for (int p = 0; p < 16; p++)
                for (int key = 0; key < 16; key++)
                    for (int e = 0; e < 2; e++) {
                        int u = 16 * kt + key, c = 32 * kc + 2 * p + e;
                        dst[32 * p + 2 * key + e] = u < n && c < hd ? f32_to_bf16(k[(size_t)u * stride + c]) : 0;
                    }
        }
    for (int kc = 0; kc < n32 / 32; kc++)
        for (int ct = 0; ct < nct; ct++) {
            uint16_t *dst = vp + ((size_t)kc * nct + ct) * 512;
            for (int p = 0; p < 16; p++)
                for (int col = 0; col < 16; col++)
                    for (int e = 0; e < 2; e++) {
                        int u = 32 * kc + 2 * p + e, c = 16 * ct + col;
                        dst[32 * p + 2 * col + e] = u < n && c < hd ? f32_to_bf16(v[(size_t)u * stride + c]) : 0;
                    }
        }
    amx_tile_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) cfg.rows[i] = 16, cfg.colsb[i] = 64;
    _tile_loadconfig(&cfg);
    const size_t qs = (size_t)hd32 * 2, ss = (size_t)n32 * 4, ps = (size_t)n32 * 2, os = (size_t)hd16 * 4;
    for (int i0 = 0; i0 < n; i0 += AQ) {
        const int nq = n - i0 < AQ ? n - i0 : AQ, nq16 = (nq + 15) / 16 * 16, nq32 = (nq + 31) / 32 * 32;
        for (int r = 0; r < nq32; r++) {
            uint16_t *dst = qb + (size_t)r * hd32;
            int c = 0;
            if (r < nq)
                for (const float *src = q + (size_t)(i0 + r) * stride; c < hd; c++) dst[c] = f32_to_bf16(src[c]);
            for (; c < hd32; c++) dst[c] = 0;
        }
        /* S: 32 queries x 32 keys per step (C tiles 0-3, A 4-5, B 6-7) */
        for (int kt = 0; kt < n32 / 16; kt += 2)
            for (int qt = 0; qt < nq32 / 16; qt += 2) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int kc = 0; kc < nkc; kc++) {
                    _tile_loadd(4, qb + (size_t)16 * qt * hd32 + 32 * kc, qs);
                    _tile_loadd(5, qb + (size_t)16 * (qt + 1) * hd32 + 32 * kc, qs);
                    _tile_loadd(6, kp + ((size_t)kt * nkc + kc) * 512, 64);
                    _tile_loadd(7, kp + ((size_t)(kt + 1) * nkc + kc) * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                float *d = s + (size_t)16 * qt * n32 + 16 * kt;
                _tile_stored(0, d, ss);
                _tile_stored(1, d + 16, ss);
                _tile_stored(2, d + (size_t)16 * n32, ss);
                _tile_stored(3, d + (size_t)16 * n32 + 16, ss);
            }
        /* softmax rows in fp32, probabilities to bf16 (rows past nq: zero) */
        for (int r = 0; r < nq16; r++) {
            uint16_t *pr = pb + (size_t)r * n32;
            if (r >= nq) {
                memset(pr, 0, (size_t)n32 * 2);
                continue;
            }
            float *sr = s + (size_t)r * n32;
            inv[r] = vit_softmax_row_avx512(sr, n, n32, scale);
            for (int u = 0; u < n32; u += 16) _mm256_storeu_si256((__m256i *)(pr + u), bf16x16(_mm512_loadu_ps(sr + u)));
        }
        /* O = P V: 16 queries x up to 6 column tiles (C tiles 0-5, A 6, B 7) */
        for (int qt = 0; qt < nq16 / 16; qt++)
            for (int cg = 0; cg < nct; cg += 6) {
                const int nc = nct - cg < 6 ? nct - cg : 6;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                _tile_zero(4);
                _tile_zero(5);
                for (int kc = 0; kc < n32 / 32; kc++) {
                    const uint16_t *b = vp + ((size_t)kc * nct + cg) * 512;
                    _tile_loadd(6, pb + (size_t)16 * qt * n32 + 32 * kc, ps);
#define PV_STEP(i)                                  \
    if (nc > i) {                                   \
        _tile_loadd(7, b + (size_t)(i) * 512, 64);  \
        _tile_dpbf16ps(i, 6, 7);                    \
    }
                    PV_STEP(0)
                    PV_STEP(1)
                    PV_STEP(2)
                    PV_STEP(3)
                    PV_STEP(4)
                    PV_STEP(5)
#undef PV_STEP
                }
                float *d = ob + (size_t)16 * qt * hd16 + 16 * cg;
                if (nc > 0) _tile_stored(0, d, os);
                if (nc > 1) _tile_stored(1, d + 16, os);
                if (nc > 2) _tile_stored(2, d + 32, os);
                if (nc > 3) _tile_stored(3, d + 48, os);
                if (nc > 4) _tile_stored(4, d + 64, os);
                if (nc > 5) _tile_stored(5, d + 80, os);
            }
        for (int r = 0; r < nq; r++) {
            float *dst = o + (size_t)(i0 + r) * ostride;
            const float *src = ob + (size_t)r * hd16;
            for (int c = 0; c < hd; c++) dst[c] = src[c] * inv[r];
        }
    }
    _tile_release();
}
#else
void vit_attn_amx(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                  size_t ostride, float scale, float *scratch) {
    (void)q; (void)k; (void)v; (void)stride; (void)n; (void)hd; (void)o; (void)ostride; (void)scale; (void)scratch;
}
#endif
