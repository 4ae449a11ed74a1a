/* matmul_avx512.c - AVX-512 y = x * W^T (rows [r0, r1)) over F32/F16/BF16 weights.
 *
 * Weights are widened to f32 exactly (bf16: <<16, f16: vcvtph2ps) and everything
 * is accumulated with fp32 FMA, so results differ from the scalar version only by
 * summation order. Shapes of work:
 *  - few tokens (decode, n < MM_PACK_MIN): R=4 weight rows x T tokens per call of a
 *    "dot" micro-kernel, each weight vector converted once and reused from a
 *    register across the T tokens; BF16 uses an even/odd split (bf16_few) that
 *    widens 32 weights with 2 ops; F32/F16 convert 16 at a time (dot_kernel);
 *  - many tokens (prefill, matmul_many): token chunks x column panels; each 4-row
 *    panel is widened once into an aligned L1 buffer and swept over the chunk with
 *    a 4 rows x 6 tokens kernel (24 accumulators, 10 loads per 24 FMAs).
 * Column tails use masked loads (nothing is read past the end of a row).
 * Tunables below may be overridden with -D for experiments. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul_impl.h"

#ifndef MM_PACK_MIN
#define MM_PACK_MIN 8 /* n at which the widen-once path takes over */
#endif
#ifndef MM_XCHUNK_BYTES
#define MM_XCHUNK_BYTES (768u << 10) /* activations of one token chunk (L2-sized) */
#endif
#ifndef MM_KC
#define MM_KC 1024 /* prefill column panel */
#endif
#ifndef MM_PANEL_PF
#define MM_PANEL_PF 1 /* prefill: prefetch the next row block's panel */
#endif
#ifndef MM_PF_DIST
#define MM_PF_DIST 512 /* decode prefetch distance for single rows, in weight elements (0: none) */
#endif
#ifndef MM_PF_HINT
#define MM_PF_HINT _MM_HINT_T1 /* decode prefetches go to L2 (measured: T1 >= T0 here) */
#endif

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

/* Reduce an R x T tile of accumulators (R = 1 or 4) into y[t*ys + r], adding to
 * what is there when add is set. */
AI void store_tile(__m512 acc[4][6], int R, int T, float *y, size_t ys, int add) {
    if (R == 4) {
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) {
            __m128 s = hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
            if (add) s = _mm_add_ps(s, _mm_loadu_ps(y + (size_t)t * ys));
            _mm_storeu_ps(y + (size_t)t * ys, s);
        }
    } else {
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[0][t]);
            y[(size_t)t * ys] = add ? y[(size_t)t * ys] + s : s;
        }
    }
}

/* y[t*ys + r] = sum_c W[r][c] * x[t][c] for r < R, t < T: R weight rows (stride ws
 * elements) by T token rows (stride xs floats). R is 1 or 4, T <= 6; all compile-
 * time constants after inlining, so acc[][] lives in registers. */
AI void dot_kernel(int dt, int R, int T, int pf, const void *w, size_t ws, const float *x, size_t xs,
                   int cols, float *y, size_t ys, int add) {
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
            if (pf && MM_PF_DIST) /* integer arithmetic: the address may lie past the row's end */
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
    store_tile(acc, R, T, y, ys, add);
}

/* One instantiation per (dtype, R, T); pf: software prefetch (decode only); add:
 * accumulate into y (column panels after the first). */
#define DOT_FN(NAME, DT, R, T, PF)                                                            \
    static void NAME(const void *w, size_t ws, const float *x, size_t xs, int cols, float *y, \
                     size_t ys, int add) {                                                    \
        dot_kernel(DT, R, T, PF, w, ws, x, xs, cols, y, ys, add);                             \
    }
#define DOT_SET(P, DT)                                                                  \
    DOT_FN(P##_4x1, DT, 4, 1, 1) DOT_FN(P##_4x2, DT, 4, 2, 0) DOT_FN(P##_4x3, DT, 4, 3, 0) \
    DOT_FN(P##_4x4, DT, 4, 4, 0) DOT_FN(P##_4x5, DT, 4, 5, 0) DOT_FN(P##_4x6, DT, 4, 6, 0) \
    DOT_FN(P##_1x1, DT, 1, 1, 0) DOT_FN(P##_1x2, DT, 1, 2, 0) DOT_FN(P##_1x3, DT, 1, 3, 0) \
    DOT_FN(P##_1x4, DT, 1, 4, 0) DOT_FN(P##_1x5, DT, 1, 5, 0) DOT_FN(P##_1x6, DT, 1, 6, 0)
DOT_SET(dot_f32, DT_F32)
DOT_SET(dot_bf16, DT_BF16)
DOT_SET(dot_f16, DT_F16)

typedef void (*dot_fn)(const void *, size_t, const float *, size_t, int, float *, size_t, int);
#define DOT_TAB(P) \
    {{P##_1x1, P##_1x2, P##_1x3, P##_1x4, P##_1x5, P##_1x6}, {P##_4x1, P##_4x2, P##_4x3, P##_4x4, P##_4x5, P##_4x6}}
/* [dtype][R==4][T-1] */
static const dot_fn dot_tab[3][2][6] = {DOT_TAB(dot_f32), DOT_TAB(dot_bf16), DOT_TAB(dot_f16)};

static int dt_index(omnic_dtype dt) { return dt == DT_F32 ? 0 : dt == DT_BF16 ? 1 : 2; }

/* ---- BF16, few tokens: even/odd split ----
 * A 512-bit load of 32 bf16 weights gives two f32 vectors with one op each: the
 * even elements (<<16) and the odd ones (& 0xffff0000). The activations are
 * de-interleaved to match once per call (xp: per 32 columns, 16 even then 16 odd,
 * zero-padded to a multiple of 32), so a weight vector costs 1 op + 1 FMA. */

/* xp[0, cols32) <- x[0, cols) de-interleaved by 32-column block, zero-padded. */
static void deinterleave32(const float *x, int cols, float *xp) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int c = 0;
    for (; c + 32 <= cols; c += 32) {
        __m512 a = _mm512_loadu_ps(x + c), b = _mm512_loadu_ps(x + c + 16);
        _mm512_storeu_ps(xp + c, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(xp + c + 16, _mm512_permutex2var_ps(a, io, b));
    }
    if (c < cols) {
        int k = cols - c;
        __mmask16 ma = k >= 16 ? 0xffff : (__mmask16)((1u << k) - 1);
        __mmask16 mb = k > 16 ? (__mmask16)((1u << (k - 16)) - 1) : 0;
        __m512 a = _mm512_maskz_loadu_ps(ma, x + c), b = _mm512_maskz_loadu_ps(mb, x + c + 16);
        _mm512_storeu_ps(xp + c, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(xp + c + 16, _mm512_permutex2var_ps(a, io, b));
    }
}

/* As dot_kernel for BF16 weights and de-interleaved activations (row stride xps).
 * T == 1 keeps separate even/odd accumulators (two independent FMA chains per row);
 * T <= 4. */
AI void eo_kernel(int R, int T, const uint16_t *w, size_t ws, const float *xp, size_t xps, int cols, float *y,
                  size_t ys) {
    const int S = T == 1; /* index of the odd accumulators */
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    __m512 acc[2][4][4];
#pragma GCC unroll 2
    for (int s = 0; s <= S; s++)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) acc[s][r][t] = _mm512_setzero_ps();
    for (int c = 0; c < cols; c += 32) {
        __m512 we[4], wo[4];
        int full = c + 32 <= cols;
        __mmask32 m = full ? ~(__mmask32)0 : (__mmask32)((1u << (cols - c)) - 1);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint16_t *p = w + (size_t)r * ws + c;
            /* R == 4: the line the next 4-row block reads at this column (rows are
             * contiguous, so a short distance would land in this block's own rows);
             * single rows: MM_PF_DIST ahead. Integer arithmetic: may lie past W. */
            if (MM_PF_DIST)
                _mm_prefetch((const char *)((uintptr_t)p + (R == 4 ? (size_t)R * ws : MM_PF_DIST) * 2), MM_PF_HINT);
            __m512i v = full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(m, p);
            we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m512 xe = _mm512_loadu_ps(xp + (size_t)t * xps + c), xo = _mm512_loadu_ps(xp + (size_t)t * xps + c + 16);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                acc[0][r][t] = _mm512_fmadd_ps(we[r], xe, acc[0][r][t]);
                acc[S][r][t] = _mm512_fmadd_ps(wo[r], xo, acc[S][r][t]);
            }
        }
    }
    if (S)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[0][r][0] = _mm512_add_ps(acc[0][r][0], acc[1][r][0]);
    if (R == 4) {
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            _mm_storeu_ps(y + (size_t)t * ys, hsum4(acc[0][0][t], acc[0][1][t], acc[0][2][t], acc[0][3][t]));
    } else {
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) y[(size_t)t * ys] = _mm512_reduce_add_ps(acc[0][0][t]);
    }
}

#define EO_FN(NAME, R, T)                                                                          \
    static void NAME(const uint16_t *w, size_t ws, const float *xp, size_t xps, int cols, float *y, \
                     size_t ys) {                                                                  \
        eo_kernel(R, T, w, ws, xp, xps, cols, y, ys);                                              \
    }
EO_FN(eo_4x1, 4, 1) EO_FN(eo_4x2, 4, 2) EO_FN(eo_4x3, 4, 3) EO_FN(eo_4x4, 4, 4)
EO_FN(eo_1x1, 1, 1) EO_FN(eo_1x2, 1, 2) EO_FN(eo_1x3, 1, 3) EO_FN(eo_1x4, 1, 4)
typedef void (*eo_fn)(const uint16_t *, size_t, const float *, size_t, int, float *, size_t);
static const eo_fn eo_tab[2][4] = {{eo_1x1, eo_1x2, eo_1x3, eo_1x4}, {eo_4x1, eo_4x2, eo_4x3, eo_4x4}};

/* One row, one token (decode with k_decode_pf > 0): the row is read as one
 * linear stream, 64 weights per step into four independent FMA chains, with a
 * prefetch k_decode_pf bytes ahead (it runs on into the next rows, which are
 * contiguous). Same products as eo_kernel, summed in another order. */
static float eo_row(const uint16_t *w, const float *xp, int cols) {
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    const size_t pf = (size_t)k_decode_pf;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 64 <= cols; c += 64) {
        _mm_prefetch((const char *)((uintptr_t)(w + c) + pf), _MM_HINT_T0);
        _mm_prefetch((const char *)((uintptr_t)(w + c) + pf + 64), _MM_HINT_T0);
        __m512i v0 = _mm512_loadu_si512(w + c), v1 = _mm512_loadu_si512(w + c + 32);
        a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_loadu_ps(xp + c), a0);
        a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v0, hi)), _mm512_loadu_ps(xp + c + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_loadu_ps(xp + c + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v1, hi)), _mm512_loadu_ps(xp + c + 48), a3);
    }
    for (; c < cols; c += 32) { /* xp is zero-padded to a multiple of 32 */
        __mmask32 m = c + 32 <= cols ? ~(__mmask32)0 : (__mmask32)((1u << (cols - c)) - 1);
        __m512i v = _mm512_maskz_loadu_epi16(m, w + c);
        a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(xp + c), a0);
        a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hi)), _mm512_loadu_ps(xp + c + 16), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

#define BF16_FEW_STACK 32768 /* floats (128 KiB): n <= 7 tokens of up to ~4.6k columns */

/* BF16 rows [r0, r1) for n (< MM_PACK_MIN) tokens; returns 0 if out of memory. */
static int bf16_few(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    int cols = w->cols, rows = w->rows;
    size_t cols32 = ((size_t)cols + 31) & ~(size_t)31;
    /* batched decode calls this per matmul: keep the activation panel on the stack
     * when it fits (no allocation per step) */
    float stackbuf[BF16_FEW_STACK] __attribute__((aligned(64)));
    size_t need = (size_t)n * cols32;
    float *xp = need <= BF16_FEW_STACK ? stackbuf : aligned_alloc(64, need * 4);
    if (!xp) return 0;
    for (int t = 0; t < n; t++) deinterleave32(x + (size_t)t * cols, cols, xp + (size_t)t * cols32);
    const uint16_t *wd = w->data;
    if (n == 1 && k_decode_pf > 0) { /* decode, one linear stream (matmul_impl.h) */
        for (int r = r0; r < r1; r++) y[r] = eo_row(wd + (size_t)r * cols, xp, cols);
    } else {
        for (int r = r0; r < r1;) {
            int R = r1 - r >= 4 ? 4 : 1;
            for (int t = 0; t < n;) {
                int T = n - t < 4 ? n - t : 4;
                eo_tab[R == 4][T - 1](wd + (size_t)r * cols, (size_t)cols, xp + (size_t)t * cols32, cols32, cols,
                                      y + (size_t)t * rows + r, (size_t)rows);
                t += T;
            }
            r += R;
        }
    }
    if (xp != stackbuf) free(xp);
    return 1;
}

/* Prefetch of the next row block's panel, spread over the current block's
 * token tiles (a burst of a whole panel's lines at once overflows the miss
 * queues and still stalls the first loads). */
typedef struct { const char *base; size_t row_bytes, stride, line, lines; } panel_pf;

/* The panel of rows [r, r + nr) at column offset byte k0b: lines of 64 bytes. */
static inline panel_pf panel_pf_at(const void *w, size_t stride, int r, int nr, size_t k0b, size_t bytes) {
    panel_pf p = {(const char *)w + (size_t)r * stride + k0b, bytes, stride, 0, 0};
    p.lines = nr > 0 ? (size_t)nr * ((bytes + 63) / 64) : 0;
    return p;
}

/* Issue the next k lines' prefetches (T0). */
static inline void panel_pf_step(panel_pf *p, int k) {
    size_t per = (p->row_bytes + 63) / 64;
    for (; k > 0 && p->line < p->lines; k--, p->line++)
        _mm_prefetch(p->base + (p->line / per) * p->stride + (p->line % per) * 64, _MM_HINT_T0);
}

/* Columns [k0, k0+kl) of rows [r, r+R) of W as f32 in buf[R][bs], bs = kl rounded
 * up to 16 (64-byte aligned rows). */
static void widen_panel(const kweight *w, int r, int R, int k0, int kl, float *buf, int bs) {
    size_t es = w->dt == DT_F32 ? 4 : 2;
    const char *p = (const char *)w->data + ((size_t)r * w->cols + k0) * es;
    for (int i = 0; i < R; i++, p += (size_t)w->cols * es, buf += bs) {
        int c = 0;
        for (; c + 16 <= kl; c += 16) _mm512_store_ps(buf + c, ldw(p, c, w->dt));
        if (c < kl) {
            __mmask16 m = (__mmask16)((1u << (kl - c)) - 1);
            _mm512_mask_storeu_ps(buf + c, m, ldw_mask(p, c, w->dt, m));
        }
    }
}

/* Many tokens. Token chunks x column panels (<= MM_KC columns) keep a chunk's
 * activation panel in L2; each block of 4 rows is widened once per panel into a
 * 16 KiB aligned buffer that stays in L1 while every 6-token block of the chunk
 * streams past; panels after the first add their partial sums to y. Activations
 * whose rows are not 64-byte aligned are copied panel by panel into an aligned
 * buffer first (unaligned 512-bit loads cost ~25% here). */
static void matmul_many(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    _Alignas(64) float buf[4 * MM_KC];
    int cols = w->cols, rows = w->rows;
    size_t es = w->dt == DT_F32 ? 4 : 2;
    int np = (cols + MM_KC - 1) / MM_KC;
    int kc = ((cols + np - 1) / np + 15) & ~15;
    int chunk = (int)(MM_XCHUNK_BYTES / ((size_t)kc * 4));
    chunk = chunk < 6 ? 6 : chunk - chunk % 6;
    if (chunk > n) chunk = n;
    float *xb = NULL;
    if ((uintptr_t)x % 64 || cols % 16) xb = aligned_alloc(64, (size_t)chunk * kc * 4);
    for (int t0 = 0; t0 < n; t0 += chunk) {
        int t1 = t0 + chunk < n ? t0 + chunk : n;
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int kl = cols - k0 < kc ? cols - k0 : kc;
            const float *xp = x + (size_t)t0 * cols + k0; /* row t of the panel: xp + (t - t0) * xstr */
            size_t xstr = (size_t)cols;
            if (xb) {
                for (int t = t0; t < t1; t++) memcpy(xb + (size_t)(t - t0) * kc, x + (size_t)t * cols + k0, (size_t)kl * 4);
                xp = xb;
                xstr = (size_t)kc;
            }
            for (int r = r0; r < r1;) {
                int R = r1 - r >= 4 ? 4 : 1;
                /* fetch the next block's panel while this one computes, a few
                 * lines per token tile */
                int nn = r1 - (r + R) < 4 ? r1 - (r + R) : 4;
                panel_pf pf = panel_pf_at(w->data, (size_t)cols * es, r + R, MM_PANEL_PF ? nn : 0, (size_t)k0 * es,
                                          (size_t)kl * es);
                int tiles = (t1 - t0 + 5) / 6, step = (int)((pf.lines + (size_t)tiles - 1) / (size_t)tiles);
                int bs = (kl + 15) & ~15;
                widen_panel(w, r, R, k0, kl, buf, bs);
                for (int t = t0; t < t1;) {
                    int T = t1 - t < 6 ? t1 - t : 6;
                    panel_pf_step(&pf, step);
                    dot_tab[0][R == 4][T - 1](buf, (size_t)bs, xp + (size_t)(t - t0) * xstr, xstr, kl,
                                              y + (size_t)t * rows + r, (size_t)rows, k0 > 0);
                    t += T;
                }
                r += R;
            }
        }
    }
    free(xb);
}

void matmul_rows_avx512(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    if (w->dt != DT_F32 && w->dt != DT_BF16 && w->dt != DT_F16) {
        matmul_rows_scalar(w, x, n, y, r0, r1);
        return;
    }
    if (n <= 0 || r0 >= r1) return;
    int cols = w->cols, rows = w->rows;
    if (cols <= 0) {
        for (int t = 0; t < n; t++)
            for (int r = r0; r < r1; r++) y[(size_t)t * rows + r] = 0.f;
        return;
    }
    if (n >= MM_PACK_MIN) {
        matmul_many(w, x, n, y, r0, r1);
        return;
    }
    if (w->dt == DT_BF16 && bf16_few(w, x, n, y, r0, r1)) return;
    /* Few tokens (or out of memory): convert on the fly, R rows x up to 6 tokens. */
    const dot_fn(*k)[6] = dot_tab[dt_index(w->dt)];
    size_t es = w->dt == DT_F32 ? 4 : 2;
    for (int r = r0; r < r1;) {
        int R = r1 - r >= 4 ? 4 : 1;
        const void *wr = (const char *)w->data + (size_t)r * cols * es;
        for (int t = 0; t < n;) {
            int T = n - t < 6 ? n - t : 6;
            k[R == 4][T - 1](wr, (size_t)cols, x + (size_t)t * cols, (size_t)cols, cols, y + (size_t)t * rows + r,
                             (size_t)rows, 0);
            t += T;
        }
        r += R;
    }
}

/* ---- BF16 prefill with VDPBF16PS (rounds the activations to bf16: weights
 * marked act_bf16 on CPUs with AVX512-BF16 and no AMX, and every BF16 weight with
 * OMNIC_BF16_ACT=bf16; see k_bf16_dp_ok in matmul_impl.h) ----
 * Activations are rounded to bf16 once per call (round-to-nearest-even, rows
 * zero-padded to 32); one VDPBF16PS then does 32 multiply-adds of bf16 pairs into
 * 16 fp32 lanes straight from the stored weights, twice the work of an f32 FMA with
 * no widening. Weight panels (4 rows x <= MM_KC columns) are read in place when
 * they are whole 32-column blocks (else copied, zero-padded, to an aligned
 * buffer), the next block's panel prefetched; the 4x6 register tiling and column
 * panels are as in matmul_many. Falls back to matmul_rows_avx512 for other dtypes,
 * few tokens or no memory. Measured: on the Intel VM VDPBF16PS issued at ~1/4 the
 * rate of FMA (this path ~1.5x slower than the exact one there, where AMX takes
 * BF16 prefill anyway); on the Zen 5 VM at twice the FMA rate (0.5B pp512 ~210 ->
 * ~350 t/s). */
AI void dp_kernel(int R, int T, const uint16_t *w, size_t ws, const uint16_t *x, size_t xs, int nb, float *y,
                  size_t ys, int add) {
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512bh wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_loadu_si512(w + (size_t)r * ws + (size_t)b * 32);
#pragma GCC unroll 6
        for (int t = 0; t < T; t++) {
            __m512bh xv = (__m512bh)_mm512_load_si512(x + (size_t)t * xs + (size_t)b * 32);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
        }
    }
    store_tile(acc, R, T, y, ys, add);
}

#define DP_FN(NAME, R, T)                                                                               \
    static void NAME(const uint16_t *w, size_t ws, const uint16_t *x, size_t xs, int nb, float *y, size_t ys, \
                     int add) {                                                                         \
        dp_kernel(R, T, w, ws, x, xs, nb, y, ys, add);                                                  \
    }
DP_FN(dp_4x1, 4, 1) DP_FN(dp_4x2, 4, 2) DP_FN(dp_4x3, 4, 3) DP_FN(dp_4x4, 4, 4) DP_FN(dp_4x5, 4, 5)
DP_FN(dp_4x6, 4, 6) DP_FN(dp_1x1, 1, 1) DP_FN(dp_1x2, 1, 2) DP_FN(dp_1x3, 1, 3) DP_FN(dp_1x4, 1, 4)
DP_FN(dp_1x5, 1, 5) DP_FN(dp_1x6, 1, 6)
typedef void (*dp_fn)(const uint16_t *, size_t, const uint16_t *, size_t, int, float *, size_t, int);
static const dp_fn dp_tab[2][6] = {{dp_1x1, dp_1x2, dp_1x3, dp_1x4, dp_1x5, dp_1x6},
                                   {dp_4x1, dp_4x2, dp_4x3, dp_4x4, dp_4x5, dp_4x6}};

void matmul_rows_avx512_bf16dp(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    int cols = w->cols, rows = w->rows;
    size_t cols32 = ((size_t)(cols > 0 ? cols : 0) + 31) & ~(size_t)31;
    uint16_t *xb = NULL;
    if (w->dt == DT_BF16 && n >= MM_PACK_MIN && cols > 0 && r0 < r1) xb = aligned_alloc(64, (size_t)n * cols32 * 2);
    if (!xb) {
        matmul_rows_avx512(w, x, n, y, r0, r1);
        return;
    }
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * cols;
        for (int c = 0; c < cols; c += 32) {
            int k = cols - c;
            __mmask16 ma = k >= 16 ? 0xffff : (__mmask16)((1u << k) - 1);
            __mmask16 mb = k >= 32 ? 0xffff : k > 16 ? (__mmask16)((1u << (k - 16)) - 1) : 0;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(mb, xr + c + 16), _mm512_maskz_loadu_ps(ma, xr + c));
            _mm512_store_si512(xb + (size_t)t * cols32 + c, (__m512i)v);
        }
    }
    _Alignas(64) uint16_t wb[4 * MM_KC];
    int np = (cols + MM_KC - 1) / MM_KC;
    int kc = ((cols + np - 1) / np + 31) & ~31;
    int chunk = (int)(MM_XCHUNK_BYTES / ((size_t)kc * 2));
    chunk = chunk < 6 ? 6 : chunk - chunk % 6;
    const uint16_t *wd = w->data;
    for (int t0 = 0; t0 < n; t0 += chunk) {
        int t1 = t0 + chunk < n ? t0 + chunk : n;
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int kl = cols - k0 < kc ? cols - k0 : kc, nb = (kl + 31) / 32;
            for (int r = r0; r < r1;) {
                int R = r1 - r >= 4 ? 4 : 1;
                /* fetch the next block's panel while this one computes (as matmul_many) */
                int nn = r1 - (r + R) < 4 ? r1 - (r + R) : 4;
                panel_pf pf = panel_pf_at(wd, (size_t)cols * 2, r + R, MM_PANEL_PF ? nn : 0, (size_t)k0 * 2, (size_t)kl * 2);
                int tiles = (t1 - t0 + 5) / 6, step = (int)((pf.lines + (size_t)tiles - 1) / (size_t)tiles);
                /* whole 32-column blocks are read in place (unaligned loads); a
                 * ragged panel is copied, zero-padded, to an aligned buffer */
                int direct = kl % 32 == 0;
                for (int i = 0; !direct && i < R; i++) { /* aligned copy of the panel, zero-padded to 32 */
                    const uint16_t *p = wd + (size_t)(r + i) * cols + k0;
                    for (int c = 0; c < nb * 32; c += 32) {
                        int k = kl - c;
                        __mmask32 m = k >= 32 ? ~(__mmask32)0 : (__mmask32)((1u << k) - 1);
                        _mm512_store_si512(wb + (size_t)i * kc + c, _mm512_maskz_loadu_epi16(m, p + c));
                    }
                }
                for (int t = t0; t < t1;) {
                    int T = t1 - t < 6 ? t1 - t : 6;
                    panel_pf_step(&pf, step);
                    dp_tab[R == 4][T - 1](direct ? wd + (size_t)r * cols + k0 : wb, direct ? (size_t)cols : (size_t)kc,
                                          xb + (size_t)t * cols32 + k0, cols32, nb, y + (size_t)t * rows + r,
                                          (size_t)rows, k0 > 0);
                    t += T;
                }
                r += R;
            }
        }
    }
    free(xb);
}
