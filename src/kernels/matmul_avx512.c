/* matmul_avx512.c - AVX-512 y = x * W^T (rows [r0, r1)) over F32/F16/BF16 weights.
 *
 * Weights are widened to f32 exactly (bf16: <<16, f16: vcvtph2ps) and everything
 * is accumulated with fp32 FMA, so results differ from the scalar version only by
 * summation order. Two shapes of work:
 *  - few tokens (decode, n < MM_PACK_MIN): a "dot" micro-kernel of R weight rows x
 *    T tokens, converting each weight vector on the fly and reusing it from a
 *    register across the T tokens;
 *  - many tokens (prefill): tokens are processed in chunks whose activations fit in
 *    L2; for each block of 4 rows the weights are widened once into an f32 scratch
 *    buffer and the f32 dot kernel (4 rows x 6 tokens, 24 accumulators) runs over
 *    every token of the chunk, so conversion is paid once per chunk, not per token.
 * Column tails use masked loads (no read past the end of a row). */
#include <immintrin.h>
#include <stdlib.h>

#include "kernels/matmul_impl.h"

#define MM_PACK_MIN 8          /* n at which the widen-once path takes over */
#define MM_XCHUNK_BYTES (768u << 10) /* activations of one token chunk (L2-sized) */
#define MM_PF_DIST 512         /* decode prefetch distance, in weight elements */

#define AI static inline __attribute__((always_inline))

/* 16 weights from element i of a row, widened to f32. */
AI __m512 ldw(const void *p, size_t i, int dt) {
    if (dt == DT_F32) return _mm512_loadu_ps((const float *)p + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
    if (dt == DT_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Same, loading only the lanes in m (the rest read as 0, never touched in memory). */
AI __m512 ldw_mask(const void *p, size_t i, int dt, __mmask16 m) {
    if (dt == DT_F32) return _mm512_maskz_loadu_ps(m, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i);
    if (dt == DT_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Horizontal sums of four vectors -> [sum a, sum b, sum c, sum d]. */
AI __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 ab = _mm256_hadd_ps(a8, b8), cd = _mm256_hadd_ps(c8, d8);
    __m256 s = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* y[t*ys + r] = sum_c W[r][c] * x[t][c] for r < R, t < T: R weight rows (stride ws
 * elements) by T token rows (stride xs floats). R is 1 or 4, T <= 6; all compile-
 * time constants after inlining, so acc[][] lives in registers. */
AI void dot_kernel(int dt, int R, int T, int pf, const void *w, size_t ws, const float *x, size_t xs,
                   int cols, float *y, size_t ys) {
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    int c = 0;
    for (; c + 16 <= cols; c += 16) {
        __m512 wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            if (pf) /* integer arithmetic: the address may lie past the row's end */
                _mm_prefetch((const char *)((uintptr_t)w + ((size_t)r * ws + c + MM_PF_DIST) * (dt == DT_F32 ? 4 : 2)),
                             _MM_HINT_T0);
            wv[r] = ldw(w, (size_t)r * ws + c, dt);
        }
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)t * xs + c);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (c < cols) {
        __mmask16 m = (__mmask16)((1u << (cols - c)) - 1);
        __m512 wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) wv[r] = ldw_mask(w, (size_t)r * ws + c, dt, m);
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)t * xs + c);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (R == 4) {
#pragma GCC unroll 6
        for (int t = 0; t < T; t++)
            _mm_storeu_ps(y + (size_t)t * ys, hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]));
    } else {
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) y[(size_t)t * ys] = _mm512_reduce_add_ps(acc[0][t]);
    }
}

/* One instantiation per (dtype, R, T); pf: software prefetch (decode only). */
#define DOT_FN(NAME, DT, R, T, PF)                                                            \
    static void NAME(const void *w, size_t ws, const float *x, size_t xs, int cols, float *y, \
                     size_t ys) {                                                             \
        dot_kernel(DT, R, T, PF, w, ws, x, xs, cols, y, ys);                                  \
    }
#define DOT_SET(P, DT)                                                                  \
    DOT_FN(P##_4x1, DT, 4, 1, 1) DOT_FN(P##_4x2, DT, 4, 2, 0) DOT_FN(P##_4x3, DT, 4, 3, 0) \
    DOT_FN(P##_4x4, DT, 4, 4, 0) DOT_FN(P##_4x5, DT, 4, 5, 0) DOT_FN(P##_4x6, DT, 4, 6, 0) \
    DOT_FN(P##_1x1, DT, 1, 1, 0) DOT_FN(P##_1x2, DT, 1, 2, 0) DOT_FN(P##_1x3, DT, 1, 3, 0) \
    DOT_FN(P##_1x4, DT, 1, 4, 0) DOT_FN(P##_1x5, DT, 1, 5, 0) DOT_FN(P##_1x6, DT, 1, 6, 0)
DOT_SET(dot_f32, DT_F32)
DOT_SET(dot_bf16, DT_BF16)
DOT_SET(dot_f16, DT_F16)

typedef void (*dot_fn)(const void *, size_t, const float *, size_t, int, float *, size_t);
#define DOT_TAB(P) \
    {{P##_1x1, P##_1x2, P##_1x3, P##_1x4, P##_1x5, P##_1x6}, {P##_4x1, P##_4x2, P##_4x3, P##_4x4, P##_4x5, P##_4x6}}
/* [dtype][R==4][T-1] */
static const dot_fn dot_tab[3][2][6] = {DOT_TAB(dot_f32), DOT_TAB(dot_bf16), DOT_TAB(dot_f16)};

static int dt_index(omnic_dtype dt) { return dt == DT_F32 ? 0 : dt == DT_BF16 ? 1 : 2; }

/* Rows [r0, r1) x tokens [t0, t1) of W (element size es) with the dot kernels of table k. */
static void run_rows(const dot_fn k[2][6], const void *w, size_t ws, size_t es, const float *x, int cols,
                     float *y, int rows, int r0, int r1, int t0, int t1) {
    for (int r = r0; r < r1;) {
        int R = r1 - r >= 4 ? 4 : 1;
        const void *wr = (const char *)w + (size_t)r * ws * es;
        for (int t = t0; t < t1;) {
            int T = t1 - t < 6 ? t1 - t : 6;
            k[R == 4][T - 1](wr, ws, x + (size_t)t * cols, (size_t)cols, cols, y + (size_t)t * rows + r,
                             (size_t)rows);
            t += T;
        }
        r += R;
    }
}

/* Widen rows [r, r+R) of W to f32 in buf ([R][cols], row stride cols). */
static void widen_rows(const kweight *w, int r, int R, float *buf) {
    int cols = w->cols;
    const uint16_t *p = (const uint16_t *)w->data + (size_t)r * cols;
    for (int i = 0; i < R; i++, p += cols, buf += cols) {
        int c = 0;
        for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(buf + c, ldw(p, c, w->dt));
        if (c < cols) {
            __mmask16 m = (__mmask16)((1u << (cols - c)) - 1);
            _mm512_mask_storeu_ps(buf + c, m, ldw_mask(p, c, w->dt, m));
        }
    }
}

void matmul_rows_avx512(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    if (w->dt != DT_F32 && w->dt != DT_BF16 && w->dt != DT_F16) {
        matmul_rows_scalar(w, x, n, y, r0, r1);
        return;
    }
    if (n <= 0 || r0 >= r1) return;
    int cols = w->cols, rows = w->rows;
    size_t es = w->dt == DT_F32 ? 4 : 2;
    const dot_fn(*k)[6] = dot_tab[dt_index(w->dt)];
    if (cols <= 0) {
        for (int t = 0; t < n; t++)
            for (int r = r0; r < r1; r++) y[(size_t)t * rows + r] = 0.f;
        return;
    }
    /* Token chunks whose activations stay in L2 (a multiple of the 6-token block). */
    int chunk = (int)(MM_XCHUNK_BYTES / ((size_t)cols * 4));
    chunk = chunk < 6 ? 6 : chunk - chunk % 6;
    float *buf = NULL;
    if (n >= MM_PACK_MIN && w->dt != DT_F32) buf = aligned_alloc(64, ((size_t)cols * 16 + 63) / 64 * 64);
    if (n < MM_PACK_MIN || (w->dt != DT_F32 && !buf)) {
        for (int t0 = 0; t0 < n; t0 += chunk)
            run_rows(k, w->data, (size_t)cols, es, x, cols, y, rows, r0, r1, t0, t0 + chunk < n ? t0 + chunk : n);
        return;
    }
    for (int t0 = 0; t0 < n; t0 += chunk) {
        int t1 = t0 + chunk < n ? t0 + chunk : n;
        if (!buf) { /* F32: read the weights in place */
            run_rows(k, w->data, (size_t)cols, es, x, cols, y, rows, r0, r1, t0, t1);
            continue;
        }
        for (int r = r0; r < r1; r += 4) {
            int R = r1 - r < 4 ? r1 - r : 4;
            widen_rows(w, r, R, buf);
            /* the buffer holds rows r..r+R as f32: offset y so row index r maps to buf row 0 */
            run_rows(dot_tab[0], buf, (size_t)cols, 4, x, cols, y + r, rows, 0, R, t0, t1);
        }
    }
    free(buf);
}
