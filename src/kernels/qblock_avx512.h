/* qblock_avx512.h - on-the-fly int8 quantization of one activation block of 32
 * floats, shared by the VNNI (matmul_q_avx512.c) and AMX (matmul_amx.c) kernels
 * so both see the very same int8 activations. Include only from files compiled
 * for AVX-512. */
#ifndef OMNIC_KERNELS_QBLOCK_AVX512_H
#define OMNIC_KERNELS_QBLOCK_AVX512_H
#include <immintrin.h>
#include <stdint.h>

/* q[32] = round(x / d) with d = max|x| / 127, *s = sum q; returns d. Same values
 * as qa_quantize32 for finite input (vcvtps2dq rounds half to even). */
static inline __attribute__((always_inline)) float qblock(const float *x, int8_t *q, int32_t *s) {
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

#endif
