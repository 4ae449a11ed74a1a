/* matmul_bf16_amx.c - Intel AMX (TDPBF16PS) y = x * W^T for BF16 weights and
 * many activation rows (prefill, media encoders).
 *
 * Each fp32 activation is split into `parts` bf16 terms (round to nearest even,
 * like f32_to_bf16): hi = bf16(x), then bf16 of what is left, and so on, and
 * every term is multiplied by the exact bf16 weights. parts = 1 rounds the
 * activations to bf16, as the reference's bf16 autocast does (media encoders;
 * the LLM with OMNIC_AMX_BF16=1); parts = 3 represents x to ~2^-24, so the
 * products carry fp32 precision (the LLM's default prefill: same accuracy as the
 * fp32 FMA path, in a different summation order). TDPBF16PS accumulates pairs
 * of products in fp32 inside the tile.
 * Weights are read in place: rows of W are A tiles (16 rows x 32 bf16, stride
 * = the row). Activations are converted once per call into B tiles per 16
 * tokens, 32 columns and term, in TDPBF16PS's pair order: B[k / 2][2 t + k % 2].
 * Each worker takes a range of rows; 32 rows x 32 tokens (4 fp32 C tiles) run
 * over all of K (and every term) inside the tiles, then are transposed into y.
 * Row tails (< 16) and column counts that are not multiples of 32 take the
 * default path. */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul_impl.h"

#define AI static inline __attribute__((always_inline))

int amx_bf16_available(void) {
    if (!amx_available()) return 0; /* tiles, OS state, permission */
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    return (d >> 22) & 1; /* AMX-BF16 */
}

static void tiles_load(void) {
    amx_tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) c.rows[i] = 16, c.colsb[i] = 64;
    _tile_loadconfig(&c);
}

/* The caller's activation buffer (grown once, freed at thread exit). */
static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
typedef struct { void *p; size_t cap; } tbuf;
static void tb_free(void *v) {
    tbuf *t = v;
    if (t) free(t->p);
    free(t);
}
static void tb_init(void) { pthread_key_create(&key, tb_free); }
static void *get_buf(size_t need) {
    pthread_once(&once, tb_init);
    tbuf *t = pthread_getspecific(key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) return NULL;
        if (pthread_setspecific(key, t)) {
            free(t);
            return NULL;
        }
    }
    if (t->cap < need) {
        size_t cap = (need + 4095) & ~(size_t)4095;
        void *p = aligned_alloc(64, cap);
        if (!p) return NULL;
        free(t->p);
        t->p = p;
        t->cap = cap;
    }
    return t->p;
}

typedef struct {
    const kweight *w;
    const float *x;
    int n, nk, ntiles, parts;
    float *y;
    uint16_t *act; /* [tile][k chunk][term][16 pairs][16 tokens][2] */
} bjob;

/* Round 16 floats to bf16 (nearest even; NaN kept quiet) as in f32_to_bf16. */
AI __m256i to_bf16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* bf16 (in the low 16 bits of 32-bit lanes) -> f32 */
AI __m512 from_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

/* 16 floats -> parts bf16 terms at h[p * 32] (h: 32 columns per term). What is
 * left after a non-finite term is taken as 0, so inf stays inf (not NaN). */
AI void split16(__m512 v, int parts, uint16_t *h) {
    for (int p = 0; p < parts; p++) {
        __m256i b = to_bf16(v);
        _mm256_store_si256((__m256i *)(h + 32 * p), b);
        if (p + 1 < parts) {
            v = _mm512_sub_ps(v, from_bf16(b));
            v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
        }
    }
}

static void conv_worker(void *arg, int ith, int nth) {
    bjob *j = arg;
    int lo, hi, cols = j->w->cols, P = j->parts;
    omnic_split(j->ntiles, 1, ith, nth, &lo, &hi);
    for (int T = lo; T < hi; T++)
        for (int tt = 0; tt < 16; tt++) {
            int t = 16 * T + tt;
            for (int kc = 0; kc < j->nk; kc++) {
                _Alignas(32) uint16_t h[3 * 32];
                if (t < j->n) {
                    const float *xp = j->x + (size_t)t * cols + 32 * kc;
                    split16(_mm512_loadu_ps(xp), P, h);
                    split16(_mm512_loadu_ps(xp + 16), P, h + 16);
                } else memset(h, 0, sizeof h);
                for (int p = 0; p < P; p++) {
                    uint16_t *dst = j->act + (((size_t)T * j->nk + kc) * P + p) * 512 + 2 * tt;
                    for (int q = 0; q < 16; q++) memcpy(dst + 32 * q, h + 32 * p + 2 * q, 4);
                }
            }
        }
}

/* 16 x 16 floats o[i][t] -> y[t][i] for t < nt. */
static void store_t(const float *o, float *y, size_t ys, int nt) {
    for (int t = 0; t < nt; t++) {
        __m512 v = _mm512_i32gather_ps(_mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240),
                                       o + t, 4);
        _mm512_storeu_ps(y + (size_t)t * ys, v);
    }
}

static void mm_worker(void *arg, int ith, int nth) {
    bjob *j = arg;
    const kweight *w = j->w;
    int lo, hi, nk = j->nk, P = j->parts;
    omnic_split(w->rows, 16, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    int full = lo + (hi - lo) / 16 * 16; /* rows [full, hi) take the default path */
    size_t ws = (size_t)w->cols * 2;
    const uint8_t *W = w->data;
    _Alignas(64) float o[4][256];
    tiles_load();
    for (int r = lo; r < full; r += 32) {
        int two = r + 32 <= full;
        for (int T = 0; T < j->ntiles; T += 2) {
            int tw = T + 1 < j->ntiles;
            const uint16_t *b0 = j->act + (size_t)T * nk * P * 512, *b1 = b0 + (size_t)nk * P * 512;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int kc = 0; kc < nk; kc++) {
                _tile_loadd(4, W + (size_t)r * ws + 64 * (size_t)kc, ws);
                if (two) _tile_loadd(5, W + (size_t)(r + 16) * ws + 64 * (size_t)kc, ws);
                for (int p = 0; p < P; p++) {
                    size_t bo = ((size_t)kc * P + p) * 512;
                    _tile_loadd(6, b0 + bo, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    if (two) _tile_dpbf16ps(2, 5, 6);
                    if (tw) {
                        _tile_loadd(7, b1 + bo, 64);
                        _tile_dpbf16ps(1, 4, 7);
                        if (two) _tile_dpbf16ps(3, 5, 7);
                    }
                }
            }
            _tile_stored(0, o[0], 64);
            _tile_stored(1, o[1], 64);
            _tile_stored(2, o[2], 64);
            _tile_stored(3, o[3], 64);
            int nt0 = j->n - 16 * T < 16 ? j->n - 16 * T : 16, nt1 = tw ? (j->n - 16 * (T + 1) < 16 ? j->n - 16 * (T + 1) : 16) : 0;
            float *y0 = j->y + (size_t)16 * T * w->rows + r, *y1 = y0 + (size_t)16 * w->rows;
            store_t(o[0], y0, (size_t)w->rows, nt0);
            if (tw) store_t(o[1], y1, (size_t)w->rows, nt1);
            if (two) {
                store_t(o[2], y0 + 16, (size_t)w->rows, nt0);
                if (tw) store_t(o[3], y1 + 16, (size_t)w->rows, nt1);
            }
        }
    }
    _tile_release();
    if (full < hi) k_matmul_rows(w, j->x, j->n, j->y, full, hi);
}

int k_matmul_bf16_amx(omnic_pool *pool, const kweight *w, const float *x, int n, float *y, int parts) {
    if (w->dt != DT_BF16 || n <= 0 || w->cols <= 0 || w->cols % 32 || parts < 1 || parts > 3 || !amx_bf16_available())
        return -1;
    int nk = w->cols / 32, ntiles = (n + 15) / 16;
    uint16_t *act = get_buf((size_t)ntiles * nk * parts * 1024);
    if (!act) return -1;
    bjob j = {w, x, n, nk, ntiles, parts, y, act};
    omnic_pool_run(pool, conv_worker, &j);
    omnic_pool_run(pool, mm_worker, &j);
    return 0;
}
