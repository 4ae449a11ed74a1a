/* vit_attn_avx512.c - AVX-512 attention of one (segment, head) of the vision tower:
 * non-causal softmax(q k^T / sqrt(hd)) v over n rows, tiled so the keys and values
 * of a block stay in L2 while 64 queries sweep over them (score rows kept in
 * scratch, exact two-pass softmax with a vectorised exp). Compiled for AVX-512 by
 * the target pragma below and only called when kernels_init picked the AVX-512
 * level (vit_forward.c). */
#include <math.h>
#include <string.h>

#include "models/vit_internal.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,fma")
#include <immintrin.h>

int vit_attn_avx512_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}

#define QS 64   /* queries per superblock (score rows in scratch) */
#define KB 256  /* keys per L2 block */

/* e^x for x <= 0 (Cephes-style polynomial, ~1 ulp over the float range used). */
static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(y, n);
}

float vit_softmax_row_avx512(float *s, int n, int n32, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
    int u = 0;
    for (; u + 16 <= n; u += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + u));
    __mmask16 m = (__mmask16)((1u << (n - u)) - 1);
    if (n > u) mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, s + u));
    const __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    for (u = 0; u + 16 <= n; u += 16) {
        __m512 e = exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(s + u), vmx), vs));
        _mm512_storeu_ps(s + u, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (n > u) {
        __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + u), vmx), vs)));
        _mm512_mask_storeu_ps(s + u, m, e);
        sum = _mm512_add_ps(sum, e);
    }
    for (u = n; u < n32; u++) s[u] = 0.f;
    return 1.f / _mm512_reduce_add_ps(sum);
}

size_t vit_attn_scratch_floats(int hd, int max_seg) {
    size_t n32 = ((size_t)max_seg + 31) / 32 * 32;
    return (size_t)hd * n32 + (size_t)QS * n32 + (size_t)QS * hd + 64;
}

/* q, k, v: row i at base + i * stride (hd floats each); o: row i at o + i * ostride. */
void vit_attn_avx512(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                     size_t ostride, float *scratch) {
    const int n32 = (n + 31) / 32 * 32;
    float *kt = scratch;                          /* [hd][n32], keys transposed, zero-padded */
    float *s = kt + (size_t)hd * n32;             /* [QS][n32] scores, then probabilities */
    float *acc = s + (size_t)QS * n32;            /* [QS][hd] output sums */
    const float scale = 1.f / sqrtf((float)hd);
    for (int c = 0; c < hd; c++) {
        float *row = kt + (size_t)c * n32;
        for (int u = 0; u < n; u++) row[u] = k[(size_t)u * stride + c];
        for (int u = n; u < n32; u++) row[u] = 0.f;
    }
    const int nv = (hd + 15) / 16;
    const __mmask16 tail = (__mmask16)((hd % 16) ? (1u << (hd % 16)) - 1 : 0xFFFF);
    for (int i0 = 0; i0 < n; i0 += QS) {
        const int nq = n - i0 < QS ? n - i0 : QS;
        /* scores: 8 queries x 32 keys per register tile */
        for (int kb = 0; kb < n32; kb += KB) {
            const int ke = kb + KB < n32 ? kb + KB : n32;
            for (int r0 = 0; r0 < nq; r0 += 8) {
                const float *qr[8];
                for (int r = 0; r < 8; r++) qr[r] = q + (size_t)(i0 + (r0 + r < nq ? r0 + r : nq - 1)) * stride;
                for (int u = kb; u < ke; u += 32) {
                    __m512 a[8][2];
                    for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
                    for (int c = 0; c < hd; c++) {
                        __m512 k0 = _mm512_loadu_ps(kt + (size_t)c * n32 + u);
                        __m512 k1 = _mm512_loadu_ps(kt + (size_t)c * n32 + u + 16);
                        for (int r = 0; r < 8; r++) {
                            __m512 b = _mm512_set1_ps(qr[r][c]);
                            a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]);
                            a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
                        }
                    }
                    for (int r = 0; r < 8 && r0 + r < nq; r++) {
                        _mm512_storeu_ps(s + (size_t)(r0 + r) * n32 + u, _mm512_mul_ps(a[r][0], _mm512_set1_ps(scale)));
                        _mm512_storeu_ps(s + (size_t)(r0 + r) * n32 + u + 16, _mm512_mul_ps(a[r][1], _mm512_set1_ps(scale)));
                    }
                }
            }
        }
        /* softmax rows (padding keys get probability 0); 1/sum applied at the end */
        float inv[QS];
        for (int r = 0; r < nq; r++) {
            float *sr = s + (size_t)r * n32;
            __m512 mx = _mm512_set1_ps(-INFINITY);
            int u = 0;
            for (; u + 16 <= n; u += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sr + u));
            __mmask16 m = (__mmask16)((1u << (n - u)) - 1);
            if (n > u) mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, sr + u));
            __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
            for (u = 0; u + 16 <= n; u += 16) {
                __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + u), vmx));
                _mm512_storeu_ps(sr + u, e);
                sum = _mm512_add_ps(sum, e);
            }
            if (n > u) {
                __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sr + u), vmx)));
                _mm512_storeu_ps(sr + u, e);
                sum = _mm512_add_ps(sum, e);
                u += 16;
            }
            for (; u < n32; u++) sr[u] = 0.f;
            inv[r] = 1.f / _mm512_reduce_add_ps(sum);
        }
        /* probabilities x values: 4 queries x up to 5 vectors of the head per tile */
        memset(acc, 0, (size_t)QS * hd * sizeof(float));
        for (int kb = 0; kb < n; kb += KB) {
            const int ke = kb + KB < n ? kb + KB : n;
            for (int r0 = 0; r0 < nq; r0 += 4) {
                const int nr = nq - r0 < 4 ? nq - r0 : 4;
                for (int c0 = 0; c0 < nv; c0 += 5) {
                    const int cv = nv - c0 < 5 ? nv - c0 : 5;
                    __m512 a[4][5];
                    for (int r = 0; r < 4; r++)
                        for (int j = 0; j < 5; j++) a[r][j] = _mm512_setzero_ps();
                    for (int u = kb; u < ke; u++) {
                        const float *vr = v + (size_t)u * stride + (size_t)c0 * 16;
                        __m512 vv[5];
                        for (int j = 0; j < 5; j++)
                            vv[j] = j < cv ? _mm512_maskz_loadu_ps(c0 + j == nv - 1 ? tail : 0xFFFF, vr + j * 16)
                                           : _mm512_setzero_ps();
                        for (int r = 0; r < 4; r++) {
                            __m512 p = _mm512_set1_ps(s[(size_t)(r0 + (r < nr ? r : 0)) * n32 + u]);
                            for (int j = 0; j < 5; j++) a[r][j] = _mm512_fmadd_ps(p, vv[j], a[r][j]);
                        }
                    }
                    for (int r = 0; r < nr; r++)
                        for (int j = 0; j < cv; j++) {
                            __mmask16 m = c0 + j == nv - 1 ? tail : 0xFFFF;
                            float *dst = acc + (size_t)(r0 + r) * hd + (size_t)(c0 + j) * 16;
                            _mm512_mask_storeu_ps(dst, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), a[r][j]));
                        }
                }
            }
        }
        for (int r = 0; r < nq; r++) {
            float *dst = o + (size_t)(i0 + r) * ostride;
            for (int c = 0; c < hd; c++) dst[c] = acc[(size_t)r * hd + c] * inv[r];
        }
    }
}
#else
int vit_attn_avx512_ok(void) { return 0; }
float vit_softmax_row_avx512(float *s, int n, int n32, float scale) { (void)s; (void)n; (void)n32; (void)scale; return 0.f; }
size_t vit_attn_scratch_floats(int hd, int max_seg) { (void)hd; return (size_t)max_seg; }
void vit_attn_avx512(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float *o,
                     size_t ostride, float *scratch) {
    (void)q; (void)k; (void)v; (void)stride; (void)n; (void)hd; (void)o; (void)ostride; (void)scratch;
}
#endif
