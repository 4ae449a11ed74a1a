/* attn_avx512.c - AVX-512 causal attention for a tile of 8..32 queries that share
 * a KV head (see k_attn_tile in kernels.h), one query per vector lane: the
 * queries are transposed once (qt[c][lane], the scale folded in); then for each
 * block of up to LB cached keys, the scores s[k][lane] (each key element
 * broadcast against 16 queries at once), the online softmax lane by lane (no
 * horizontal reductions; the causal mask compares each lane's position), and the
 * output sums ot[c][lane] += V[k][c] * p[k][lane]. Register tiles of 8 keys (or
 * 8 head elements) x 32 lanes, every cached row read once per tile instead of
 * once per query. Tiles under 8 queries (decode) take attn_few (keys in lanes)
 * when the head is a multiple of 16 values; those and heads over DMAX values
 * otherwise go to k_attn_rows. Only called when kernels_init picked the AVX-512
 * level. */
#include <math.h>
#include <string.h>

#include "kernels/exp_avx512.h"
#include "kernels/kernels.h"

#define LB 64          /* keys per block */
#define DMAX 256       /* largest head the lane version takes (its scratch is on the stack) */
#define L K_ATT_TILE   /* lanes: 32, two vectors */
#define NQ_MIN 8       /* fewer queries than this fill too few lanes */

/* s[k][lane] = sum_c K[k][c] * qt[c][lane] for keys k < n (nv: vectors of lanes in use). */
static inline __attribute__((always_inline)) void scores(const float *qt, const float *K, size_t ks, int n, int d,
                                                          float *s, int nv) {
    for (int k0 = 0; k0 < n; k0 += 8) {
        const float *kr[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) kr[j] = K + (size_t)(k0 + j < n ? k0 + j : n - 1) * ks;
        __m512 a0[8], a1[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) a0[j] = a1[j] = _mm512_setzero_ps();
        for (int c = 0; c < d; c++) {
            __m512 q0 = _mm512_load_ps(qt + (size_t)c * L), q1 = nv > 1 ? _mm512_load_ps(qt + (size_t)c * L + 16) : q0;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                __m512 b = _mm512_set1_ps(kr[j][c]);
                a0[j] = _mm512_fmadd_ps(b, q0, a0[j]);
                if (nv > 1) a1[j] = _mm512_fmadd_ps(b, q1, a1[j]);
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            if (k0 + j >= n) break;
            _mm512_store_ps(s + (size_t)(k0 + j) * L, a0[j]);
            if (nv > 1) _mm512_store_ps(s + (size_t)(k0 + j) * L + 16, a1[j]);
        }
    }
}

/* ot[c][lane] += sum_k V[k][c] * p[k][lane] for keys k < n. */
static inline __attribute__((always_inline)) void accumulate(const float *V, size_t vs, int n, int d, const float *p,
                                                              float *ot, int nv) {
    int c0 = 0;
    for (; c0 + 8 <= d; c0 += 8) {
        __m512 a0[8], a1[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            a0[j] = _mm512_load_ps(ot + (size_t)(c0 + j) * L);
            a1[j] = nv > 1 ? _mm512_load_ps(ot + (size_t)(c0 + j) * L + 16) : a0[j];
        }
        for (int k = 0; k < n; k++) {
            const float *vr = V + (size_t)k * vs + c0;
            __m512 p0 = _mm512_load_ps(p + (size_t)k * L), p1 = nv > 1 ? _mm512_load_ps(p + (size_t)k * L + 16) : p0;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                __m512 b = _mm512_set1_ps(vr[j]);
                a0[j] = _mm512_fmadd_ps(b, p0, a0[j]);
                if (nv > 1) a1[j] = _mm512_fmadd_ps(b, p1, a1[j]);
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            _mm512_store_ps(ot + (size_t)(c0 + j) * L, a0[j]);
            if (nv > 1) _mm512_store_ps(ot + (size_t)(c0 + j) * L + 16, a1[j]);
        }
    }
    for (; c0 < d; c0++) { /* heads that are not a multiple of 8 */
        __m512 a0 = _mm512_load_ps(ot + (size_t)c0 * L), a1 = nv > 1 ? _mm512_load_ps(ot + (size_t)c0 * L + 16) : a0;
        for (int k = 0; k < n; k++) {
            __m512 b = _mm512_set1_ps(V[(size_t)k * vs + c0]);
            a0 = _mm512_fmadd_ps(b, _mm512_load_ps(p + (size_t)k * L), a0);
            if (nv > 1) a1 = _mm512_fmadd_ps(b, _mm512_load_ps(p + (size_t)k * L + 16), a1);
        }
        _mm512_store_ps(ot + (size_t)c0 * L, a0);
        if (nv > 1) _mm512_store_ps(ot + (size_t)c0 * L + 16, a1);
    }
}

static inline __attribute__((always_inline)) void attn_lanes(const k_attn_tile *t, const k_kv_src *kv, int nv) {
    _Alignas(64) float qt[DMAX * L], ot[DMAX * L], s[LB * L];
    _Alignas(64) int32_t pos[L];
    int nq = t->nq, d = t->d, top = 0;
    for (int i = 0; i < nq; i++)
        if (t->pos[i] > top) top = t->pos[i];
    for (int i = 0; i < L; i++) pos[i] = i < nq ? t->pos[i] : top; /* idle lanes see every key */
    for (int c = 0; c < d; c++)
        for (int i = 0; i < L; i++) qt[(size_t)c * L + i] = i < nq ? t->q[i][c] * t->scale : 0.f;
    memset(ot, 0, (size_t)d * L * sizeof(float));
    const __m512i pos0 = _mm512_load_si512(pos), pos1 = _mm512_load_si512(pos + 16);
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, l0 = _mm512_setzero_ps(), l1 = l0;
    int kb = kv->max_rows < LB ? kv->max_rows : LB;
    for (int u0 = 0; u0 <= top; u0 += kb) {
        int n = top + 1 - u0 < kb ? top + 1 - u0 : kb;
        size_t ks, vs;
        const float *K = kv->rows(kv->arg, 0, u0, n, &ks);
        scores(qt, K, ks, n, d, s, nv);
        /* online softmax per lane: key u0 + k is visible to lanes with pos >= it
         * (key 0 to all, so the maximum is finite from the first block on) */
        __m512 b0 = _mm512_set1_ps(-INFINITY), b1 = b0;
        for (int k = 0; k < n; k++) {
            __m512i u = _mm512_set1_epi32(u0 + k);
            b0 = _mm512_mask_max_ps(b0, _mm512_cmpge_epi32_mask(pos0, u), b0, _mm512_load_ps(s + (size_t)k * L));
            if (nv > 1) b1 = _mm512_mask_max_ps(b1, _mm512_cmpge_epi32_mask(pos1, u), b1, _mm512_load_ps(s + (size_t)k * L + 16));
        }
        __m512 n0 = _mm512_max_ps(m0, b0), n1 = _mm512_max_ps(m1, b1);
        __m512 r0 = exp512(_mm512_sub_ps(m0, n0)), r1 = exp512(_mm512_sub_ps(m1, n1)); /* 0 on the first block */
        l0 = _mm512_mul_ps(l0, r0), l1 = _mm512_mul_ps(l1, r1);
        for (int k = 0; k < n; k++) {
            __m512i u = _mm512_set1_epi32(u0 + k);
            __m512 e0 = _mm512_maskz_mov_ps(_mm512_cmpge_epi32_mask(pos0, u), exp512(_mm512_sub_ps(_mm512_load_ps(s + (size_t)k * L), n0)));
            _mm512_store_ps(s + (size_t)k * L, e0);
            l0 = _mm512_add_ps(l0, e0);
            if (nv > 1) {
                __m512 e1 = _mm512_maskz_mov_ps(_mm512_cmpge_epi32_mask(pos1, u), exp512(_mm512_sub_ps(_mm512_load_ps(s + (size_t)k * L + 16), n1)));
                _mm512_store_ps(s + (size_t)k * L + 16, e1);
                l1 = _mm512_add_ps(l1, e1);
            }
        }
        const __m512 one = _mm512_set1_ps(1.f);
        if (u0 > 0 && (_mm512_cmp_ps_mask(r0, one, _CMP_NEQ_UQ) | _mm512_cmp_ps_mask(r1, one, _CMP_NEQ_UQ)))
            for (int c = 0; c < d; c++) { /* a new maximum in some lane: rescale its sums */
                _mm512_store_ps(ot + (size_t)c * L, _mm512_mul_ps(_mm512_load_ps(ot + (size_t)c * L), r0));
                if (nv > 1) _mm512_store_ps(ot + (size_t)c * L + 16, _mm512_mul_ps(_mm512_load_ps(ot + (size_t)c * L + 16), r1));
            }
        m0 = n0, m1 = n1;
        const float *V = kv->rows(kv->arg, 1, u0, n, &vs);
        accumulate(V, vs, n, d, s, ot, nv);
    }
    _Alignas(64) float inv[L];
    _mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.f), l0));
    _mm512_store_ps(inv + 16, _mm512_div_ps(_mm512_set1_ps(1.f), l1));
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < d; c++) t->o[i][c] = ot[(size_t)c * L + i] * inv[i];
}

/* ---- few queries (decode): keys in lanes ----
 * Per query and block of up to LB keys: 16 keys' dot products at a time (each
 * key's d values as d / 16 vectors against the query's), their 16 partial-sum
 * vectors folded into one vector of 16 scores by a tree of shuffles; the
 * block's maximum and exp terms as vectors; then o += p V with the query's
 * output held in registers. The keys and values of a block are fetched once
 * for all the tile's queries. */
#define FEW_DV (DMAX / 16)
/* fold16's output lane l sums input slot FOLD_SLOT[l] (an involution): slot j
 * is fed key FOLD_SLOT[j] so that lane l holds key l */
static const int FOLD_SLOT[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};

static inline __attribute__((always_inline)) __m512 fold16(const __m512 a[16]) {
    __m512 c[8], e[4], f[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* halves of 256 bits */
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[i], a[i + 8], 0x44), _mm512_shuffle_f32x4(a[i], a[i + 8], 0xee));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* 128-bit quarters */
        e[i] = _mm512_add_ps(_mm512_shuffle_f32x4(c[i], c[i + 4], 0x88), _mm512_shuffle_f32x4(c[i], c[i + 4], 0xdd));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* pairs */
        f[i] = _mm512_add_ps(_mm512_shuffle_ps(e[i], e[i + 2], 0x44), _mm512_shuffle_ps(e[i], e[i + 2], 0xee));
    return _mm512_add_ps(_mm512_shuffle_ps(f[0], f[1], 0x88), _mm512_shuffle_ps(f[0], f[1], 0xdd));
}

static inline __attribute__((always_inline)) void attn_few(const k_attn_tile *t, const k_kv_src *kv, int dv) {
    _Alignas(64) float s[LB];
    float mx[NQ_MIN], sum[NQ_MIN];
    int nq = t->nq, top = 0;
    for (int i = 0; i < nq; i++) {
        mx[i] = -INFINITY, sum[i] = 0.f;
        memset(t->o[i], 0, (size_t)dv * 16 * sizeof(float));
        if (t->pos[i] > top) top = t->pos[i];
    }
    const __m512 scale = _mm512_set1_ps(t->scale);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int kb = kv->max_rows < LB ? kv->max_rows : LB;
    for (int u0 = 0; u0 <= top; u0 += kb) {
        int n = top + 1 - u0 < kb ? top + 1 - u0 : kb;
        size_t ks, vs;
        const float *K = kv->rows(kv->arg, 0, u0, n, &ks), *V = kv->rows(kv->arg, 1, u0, n, &vs);
        for (int i = 0; i < nq; i++) {
            int m = t->pos[i] + 1 - u0 < n ? t->pos[i] + 1 - u0 : n; /* keys this query sees */
            if (m <= 0) continue;
            __m512 qv[FEW_DV], bm = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 16
            for (int v = 0; v < FEW_DV; v++) qv[v] = v < dv ? _mm512_loadu_ps(t->q[i] + 16 * v) : _mm512_setzero_ps();
            for (int k0 = 0; k0 < m; k0 += 16) {
                __m512 a[16];
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++) {
                    int k = k0 + FOLD_SLOT[j];
                    const float *kr = K + (size_t)(k < m ? k : m - 1) * ks; /* lanes past m are masked below */
                    __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kr));
#pragma GCC unroll 16
                    for (int v = 1; v < dv; v++) acc = _mm512_fmadd_ps(qv[v], _mm512_loadu_ps(kr + 16 * v), acc);
                    a[j] = acc;
                }
                __m512 sc = _mm512_mul_ps(scale, fold16(a));
                _mm512_store_ps(s + k0, sc);
                bm = _mm512_mask_max_ps(bm, _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32(m - k0)), bm, sc);
            }
            float bmx = _mm512_reduce_max_ps(bm);
            float *o = t->o[i];
            if (bmx > mx[i]) { /* a new maximum: rescale what was summed so far */
                float r = expf(mx[i] - bmx); /* 0 on the first block */
                sum[i] *= r;
                for (int v = 0; v < dv; v++) _mm512_storeu_ps(o + 16 * v, _mm512_mul_ps(_mm512_loadu_ps(o + 16 * v), _mm512_set1_ps(r)));
                mx[i] = bmx;
            }
            __m512 ls = _mm512_setzero_ps(), mv = _mm512_set1_ps(mx[i]);
            for (int k0 = 0; k0 < m; k0 += 16) {
                __mmask16 in = _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32(m - k0));
                __m512 e = _mm512_maskz_mov_ps(in, exp512(_mm512_sub_ps(_mm512_load_ps(s + k0), mv)));
                _mm512_store_ps(s + k0, e);
                ls = _mm512_add_ps(ls, e);
            }
            sum[i] += _mm512_reduce_add_ps(ls);
            __m512 ov[FEW_DV];
#pragma GCC unroll 16
            for (int v = 0; v < FEW_DV; v++) ov[v] = v < dv ? _mm512_loadu_ps(o + 16 * v) : _mm512_setzero_ps();
            for (int k = 0; k < m; k++) {
                const float *vr = V + (size_t)k * vs;
                __m512 p = _mm512_set1_ps(s[k]);
#pragma GCC unroll 16
                for (int v = 0; v < dv; v++) ov[v] = _mm512_fmadd_ps(p, _mm512_loadu_ps(vr + 16 * v), ov[v]);
            }
#pragma GCC unroll 16
            for (int v = 0; v < dv; v++) _mm512_storeu_ps(o + 16 * v, ov[v]);
        }
    }
    for (int i = 0; i < nq; i++) {
        __m512 inv = _mm512_set1_ps(1.f / sum[i]);
        for (int v = 0; v < dv; v++) _mm512_storeu_ps(t->o[i] + 16 * v, _mm512_mul_ps(_mm512_loadu_ps(t->o[i] + 16 * v), inv));
    }
}

void k_attn_avx512(const k_attn_tile *t, const k_kv_src *kv) {
    if (t->nq >= 1 && t->nq < NQ_MIN && t->d % 16 == 0 && t->d >= 16 && t->d <= DMAX && kv->max_rows >= 1) {
        /* the head sizes of the HCX models get loops of fixed length */
        if (t->d == 64) attn_few(t, kv, 4);
        else if (t->d == 128) attn_few(t, kv, 8);
        else attn_few(t, kv, t->d / 16);
        return;
    }
    if (t->nq < NQ_MIN || t->nq > L || t->d > DMAX || kv->max_rows < 1) {
        k_attn_rows(t, kv);
        return;
    }
    if (t->nq > 16) attn_lanes(t, kv, 2); /* two copies, each with its lane count fixed */
    else attn_lanes(t, kv, 1);
}
