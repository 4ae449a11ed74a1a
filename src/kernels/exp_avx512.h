/* exp_avx512.h - a vectorised e^x for the AVX-512 kernels (internal: include only
 * from files compiled for AVX-512, see the Makefile's *_avx512.c rule). */
#ifndef OMNIC_KERNELS_EXP_AVX512_H
#define OMNIC_KERNELS_EXP_AVX512_H

#include <immintrin.h>

/* e^x to ~1 ulp: x = k ln2 + r (|r| <= ln2/2, two-part ln2), e^r by its degree-7
 * Taylor polynomial (truncation < 0.1 ulp), then scalef by 2^k, which gives inf /
 * 0 / subnormals at the ends of the range like expf. x is first clamped to
 * [-104, 89] (beyond: exactly 0 / inf anyway), operand order keeping NaN. */
static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.f), _mm512_min_ps(_mm512_set1_ps(89.f), x));
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693145751953125f), ln2_lo = _mm512_set1_ps(1.42860682030941723212e-6f);
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, ln2_hi, x);
    r = _mm512_fnmadd_ps(k, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.f / 5040.f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, k);
}

#endif
