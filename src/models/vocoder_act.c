/* vocoder_act.c - the anti-aliased SnakeBeta activation (Activation1d, audio.md
 * §9.4) on time-major x[L][C]: replicate-pad 5, x2 transposed-filter upsample
 * (times 2), snake, replicate-pad 5/6, 12-tap filter and x2 decimation. Each
 * output tile recomputes the few upsampled rows it needs, so the work splits
 * over time across the pool. A scalar version and an AVX-512 one (function
 * target attribute, picked when the kernels run at the avx512 level). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/vocoder_impl.h"

#define ACT_TILE 64 /* output samples per tile */

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Rows of the upsampled signal z (indices into zp = pad(z, 5, 6)) for output
 * samples [ta, tb): k in [2ta, 2tb + 10]. */
static void act_tile_scalar(const vc_act *a, const float *x, int L, float *y, int ta, int tb, float *zb) {
    const int C = a->c, nk = 2 * (tb - ta) + 10;
    for (int kk = 0; kk < nk; kk++) {
        int q = clampi(2 * ta + kk - 5, 0, 2 * L - 1), jj = q + 15;
        float *z = zb + (size_t)kk * C;
        for (int c = 0; c < C; c++) z[c] = 0.f;
        for (int m = jj & 1; m < 12; m += 2) {
            const float *xr = x + (size_t)clampi((jj - m) / 2 - 5, 0, L - 1) * C;
            float hm = 2.f * a->hup[m];
            for (int c = 0; c < C; c++) z[c] += hm * xr[c];
        }
        for (int c = 0; c < C; c++) {
            float s = sinf(a->alpha[c] * z[c]);
            z[c] += s * s * a->inv_beta[c];
        }
    }
    for (int t = ta; t < tb; t++) {
        float *yr = y + (size_t)t * C;
        const float *zr = zb + (size_t)(2 * (t - ta)) * C;
        for (int c = 0; c < C; c++) yr[c] = 0.f;
        for (int m = 0; m < 12; m++) {
            float hm = a->hdown[m];
            for (int c = 0; c < C; c++) yr[c] += hm * zr[(size_t)m * C + c];
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,fma")))

/* sin(v)^2: reduce by multiples of pi (the sign of sin drops out of the
 * square), odd Taylor polynomial to degree 11 on [-pi/2, pi/2] (|err| < 6e-8). */
AVX512 static inline __m512 sin2_ps(__m512 v) {
    const __m512 inv_pi = _mm512_set1_ps(0.318309886183790672f);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(v, inv_pi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(3.14159274101257324f), v);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-8.74227766e-8f), r);
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(-2.50521083854417188e-8f);
    p = _mm512_fmadd_ps(p, r2, _mm512_set1_ps(2.75573192239858907e-6f));
    p = _mm512_fmadd_ps(p, r2, _mm512_set1_ps(-1.98412698412698413e-4f));
    p = _mm512_fmadd_ps(p, r2, _mm512_set1_ps(8.33333333333333333e-3f));
    p = _mm512_fmadd_ps(p, r2, _mm512_set1_ps(-1.66666666666666667e-1f));
    p = _mm512_mul_ps(p, r2);
    __m512 s = _mm512_fmadd_ps(p, r, r);
    return _mm512_mul_ps(s, s);
}

AVX512 static void act_tile_avx512(const vc_act *a, const float *x, int L, float *y, int ta, int tb, float *zb) {
    const int C = a->c, nk = 2 * (tb - ta) + 10;
    for (int kk = 0; kk < nk; kk++) {
        int q = clampi(2 * ta + kk - 5, 0, 2 * L - 1), jj = q + 15, m0 = jj & 1;
        const float *xr[6];
        __m512 hm[6];
        for (int u = 0; u < 6; u++) {
            int m = m0 + 2 * u;
            xr[u] = x + (size_t)clampi((jj - m) / 2 - 5, 0, L - 1) * C;
            hm[u] = _mm512_set1_ps(2.f * a->hup[m]);
        }
        float *z = zb + (size_t)kk * C;
        for (int c = 0; c < C; c += 16) {
            __mmask16 mk = C - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
            __m512 acc = _mm512_mul_ps(hm[0], _mm512_maskz_loadu_ps(mk, xr[0] + c));
            for (int u = 1; u < 6; u++) acc = _mm512_fmadd_ps(hm[u], _mm512_maskz_loadu_ps(mk, xr[u] + c), acc);
            __m512 al = _mm512_maskz_loadu_ps(mk, a->alpha + c), ib = _mm512_maskz_loadu_ps(mk, a->inv_beta + c);
            acc = _mm512_fmadd_ps(sin2_ps(_mm512_mul_ps(al, acc)), ib, acc);
            _mm512_mask_storeu_ps(z + c, mk, acc);
        }
    }
    __m512 hd[12];
    for (int m = 0; m < 12; m++) hd[m] = _mm512_set1_ps(a->hdown[m]);
    for (int t = ta; t < tb; t++) {
        float *yr = y + (size_t)t * C;
        const float *zr = zb + (size_t)(2 * (t - ta)) * C;
        for (int c = 0; c < C; c += 16) {
            __mmask16 mk = C - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
            __m512 acc = _mm512_mul_ps(hd[0], _mm512_maskz_loadu_ps(mk, zr + c));
            for (int m = 1; m < 12; m++) acc = _mm512_fmadd_ps(hd[m], _mm512_maskz_loadu_ps(mk, zr + (size_t)m * C + c), acc);
            _mm512_mask_storeu_ps(yr + c, mk, acc);
        }
    }
}
#endif

typedef struct {
    const vc_act *a;
    const float *x;
    int L;
    float *y;
    int simd;
} act_job;

static void act_worker(void *arg, int ith, int nth) {
    act_job *j = arg;
    int ntiles = (j->L + ACT_TILE - 1) / ACT_TILE, lo, hi;
    omnic_split(ntiles, 1, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    float *zb = malloc((size_t)(2 * ACT_TILE + 10) * j->a->c * sizeof(float));
    if (!zb) return; /* cannot happen in practice; output left unchanged */
    for (int tt = lo; tt < hi; tt++) {
        int ta = tt * ACT_TILE, tb = ta + ACT_TILE < j->L ? ta + ACT_TILE : j->L;
#if defined(__x86_64__)
        if (j->simd) act_tile_avx512(j->a, j->x, j->L, j->y, ta, tb, zb);
        else
#endif
            act_tile_scalar(j->a, j->x, j->L, j->y, ta, tb, zb);
    }
    free(zb);
}

void vc_act_run(omnic_pool *pool, const vc_act *a, const float *x, int L, float *y) {
    act_job j = {a, x, L, y, strcmp(kernels_init(), "avx512") == 0};
    omnic_pool_run(pool, act_worker, &j);
}
