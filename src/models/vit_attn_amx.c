/* vit_attn_amx.c - attention of one (segment, head) of a BF16 vision tower on
 * Intel AMX: the keys (zero-padded to hd32 columns and n32 rows) and the values
 * transposed (V^T, zero-padded to n32 columns) are rounded to bf16 once and used
 * as BF16 kweights, so S = Q K^T is k_matmul(K, Q rows) and O = P V is
 * k_matmul(V^T, P rows), both on TDPBF16PS (matmul_bf16_amx.c; activations
 * rounded to bf16 like the tower's Linear layers). Between them an exact fp32
 * softmax (row max, exp, sum; 1 / sum applied to the output). Queries run AQ at
 * a time against all keys, so the scores of a block are AQ x n32 floats. Runs
 * inside a pool worker, so k_matmul gets no pool (one thread per head). */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/matmul_impl.h"
#include "models/vit_internal.h"

#define AQ 512 /* queries per block */

int vit_attn_amx_ok(const kweight *w) {
    return w && w->dt == DT_BF16 && w->act_bf16 && k_amx_bf16_ok && vit_attn_avx512_ok() && amx_bf16_available();
}

static size_t up16(size_t x) { return (x + 15) / 16 * 16; }

size_t vit_attn_amx_scratch_floats(int hd, int max_seg) {
    size_t n32 = ((size_t)max_seg + 31) / 32 * 32, hd32 = ((size_t)hd + 31) / 32 * 32;
    return up16(n32 * hd32 / 2) + up16((size_t)hd * n32 / 2) + up16((size_t)AQ * hd32) + up16((size_t)AQ * n32) +
           up16((size_t)AQ * hd) + AQ + 16;
}

void vit_attn_amx(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                  size_t ostride, float *scratch) {
    const int n32 = (n + 31) / 32 * 32, hd32 = (hd + 31) / 32 * 32;
    uint16_t *kb = (uint16_t *)scratch;                                  /* [n32][hd32] keys */
    uint16_t *vt = (uint16_t *)(scratch + up16((size_t)n32 * hd32 / 2)); /* [hd][n32] values^T */
    float *qp = (float *)vt + up16((size_t)hd * n32 / 2);                /* [AQ][hd32] queries */
    float *s = qp + up16((size_t)AQ * hd32);                             /* [AQ][n32] scores */
    float *ob = s + up16((size_t)AQ * n32);                              /* [AQ][hd] P V */
    float *inv = ob + up16((size_t)AQ * hd);                             /* [AQ] 1 / sums */
    const float scale = 1.f / sqrtf((float)hd);
    for (int u = 0; u < n32; u++) {
        uint16_t *row = kb + (size_t)u * hd32;
        int c = 0;
        if (u < n)
            for (; c < hd; c++) row[c] = f32_to_bf16(k[(size_t)u * stride + c]);
        for (; c < hd32; c++) row[c] = 0;
    }
    for (int c = 0; c < hd; c++) {
        uint16_t *row = vt + (size_t)c * n32;
        for (int u = 0; u < n; u++) row[u] = f32_to_bf16(v[(size_t)u * stride + c]);
        for (int u = n; u < n32; u++) row[u] = 0;
    }
    const kweight K = {kb, DT_BF16, n32, hd32, 1}, VT = {vt, DT_BF16, hd, n32, 1};
    for (int i0 = 0; i0 < n; i0 += AQ) {
        const int nq = n - i0 < AQ ? n - i0 : AQ;
        for (int r = 0; r < nq; r++) {
            float *dst = qp + (size_t)r * hd32;
            memcpy(dst, q + (size_t)(i0 + r) * stride, (size_t)hd * sizeof(float));
            for (int c = hd; c < hd32; c++) dst[c] = 0.f;
        }
        k_matmul(NULL, &K, qp, nq, s); /* s[r][u] = q_r . k_u (padding keys: 0) */
        for (int r = 0; r < nq; r++) inv[r] = vit_softmax_row_avx512(s + (size_t)r * n32, n, n32, scale);
        k_matmul(NULL, &VT, s, nq, ob);
        for (int r = 0; r < nq; r++) {
            float *dst = o + (size_t)(i0 + r) * ostride;
            const float *src = ob + (size_t)r * hd;
            for (int c = 0; c < hd; c++) dst[c] = src[c] * inv[r];
        }
    }
}
