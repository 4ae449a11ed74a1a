/* matmul_amx.c - Intel AMX (TDPBSSD, int8 x int8 -> int32 tiles) y = x * W^T
 * for Q8_0 / Q4_0 / Q4_K weights and many activation rows (prefill).
 *
 * Numerics: the activations are quantized by the shared rule (qa_quantize32: d =
 * max|x| / 127, q rounded half to even), each weight block of 32 meets its
 * activation block in one TDPBSSD over K = 32 (exact int32 sums), and the sums
 * are scaled and added in float in block order with the same operations as the
 * scalar level (matmul_q.c; this file is compiled with -ffp-contract=off), so
 * the results are bit-identical to the scalar level for finite input.
 *
 * Tiles (palette 1): C = tmm0..3, 16 weight rows x 16 tokens of int32; A =
 * tmm4/5, 16 weight rows x 32 int8 (one block); B = tmm6/7, 8 x 64 bytes: the
 * block's 32 int8 activations of 16 tokens in the 4-byte-interleaved ("VNNI")
 * order TDPBSSD wants: B[k / 4][4 t + k % 4] = q[t][k].
 * Activations are quantized once per call into that order (tiles of 16 tokens,
 * padding tokens zero). Each worker takes a range of weight rows, in groups of
 * G panels of 16 rows (G * cols * 16 bytes ~ AMX_PANELS_BYTES, kept in L2). It
 * unpacks a group's weights once (Q4_0 nibbles - 8, Q4_K nibbles, Q8_0 copied)
 * into [block][16][32] int8 panels with float scales per (block, row) while
 * prefetching the next group, then runs every 16-token tile over the group's
 * panels (the tile's activations stay in L2 across them): per block one
 * TDPBSSD, the int32 tile stored to L1 and scaled into 16 float accumulators
 * (one per weight row, 16 tokens wide). Each weight byte is read once per call.
 *
 * Enablement: CPUID (AMX-TILE, AMX-INT8, palette 1 with 8 tiles of 16 x 64
 * bytes), XCR0 bits 17/18 (OS support), then Linux's per-process permission
 * (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). Each worker loads the
 * tile configuration at the start of its share of a call and releases the tiles
 * at its end (cheap against a prefill product; no state kept between calls). */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernels/matmul_impl.h"
#include "kernels/qblock_avx512.h"
#include "kernels/quant.h"

#define AI static inline __attribute__((always_inline))

#ifndef AMX_PANELS_BYTES
#define AMX_PANELS_BYTES (512 * 1024) /* unpacked weight panels kept in L2 at a time */
#endif

/* fp16 at p (any alignment) -> float with F16C. */
AI float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* ---- enablement ---- */

static int amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* OSXSAVE */
    if (__get_cpuid_max(0, NULL) < 0x1d) return;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(d & (1u << 24)) || !(d & (1u << 25))) return; /* AMX-TILE, AMX-INT8 */
    if (!(b & (1u << 16)) || !(b & (1u << 30))) return;  /* AVX512F, AVX512BW (the scaling) */
    __cpuid_count(0x1d, 0, a, b, c, d);
    if (a < 1) return; /* max palette */
    __cpuid_count(0x1d, 1, a, b, c, d);
    if ((b & 0xffff) < 64 || (b >> 16) < 8 || (c & 0xffff) < 16) return; /* bytes/row, tiles, rows */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return; /* XTILECFG, XTILEDATA enabled by the OS */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) != 0) return;
    amx_ok = 1;
}

int amx_available(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_ok;
}

static void tiles_load(void) {
    amx_tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 4; i++) c.rows[i] = 16, c.colsb[i] = 64; /* C: 16 rows x 16 int32 */
    for (int i = 4; i < 6; i++) c.rows[i] = 16, c.colsb[i] = 32; /* A: 16 rows x 32 int8 */
    for (int i = 6; i < 8; i++) c.rows[i] = 8, c.colsb[i] = 64;  /* B: 8 x (16 tokens x 4 int8) */
    _tile_loadconfig(&c);
}

/* ---- per-thread scratch (grown once, freed at thread exit) ---- */

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
typedef struct { void *p[2]; size_t cap[2]; } amx_tls;
static void tls_free(void *v) {
    amx_tls *t = v;
    if (t) free(t->p[0]), free(t->p[1]);
    free(t);
}
static void tls_init(void) { pthread_key_create(&tls_key, tls_free); }

/* slot 0: the caller's activation buffer; slot 1: a worker's weight panel */
static void *tls_buf(int slot, size_t need) {
    pthread_once(&tls_once, tls_init);
    amx_tls *t = pthread_getspecific(tls_key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) return NULL;
        if (pthread_setspecific(tls_key, t)) {
            free(t);
            return NULL;
        }
    }
    if (t->cap[slot] < need) {
        size_t cap = (need + 4095) & ~(size_t)4095;
        void *p = aligned_alloc(64, cap);
        if (!p) return NULL;
        free(t->p[slot]);
        t->p[slot] = p;
        t->cap[slot] = cap;
    }
    return t->p[slot];
}

/* ---- activations ---- */

/* Layout per call: q[tile][block][8][64] int8, then dx[tile][block][16] and
 * sx[tile][block][16] floats (the block's scale and sum of q per token). */
typedef struct {
    int8_t *q;
    float *dx, *sx;
} amx_act;

static size_t act_size(int ntiles, int nb) { return (size_t)ntiles * (size_t)nb * (512 + 64 + 64); }

static amx_act act_at(void *buf, int ntiles, int nb) {
    size_t nq = (size_t)ntiles * (size_t)nb * 512, ns = (size_t)ntiles * (size_t)nb * 16;
    amx_act a = {buf, (float *)((char *)buf + nq), (float *)((char *)buf + nq) + ns};
    return a;
}

typedef struct {
    const kweight *w;
    const float *x;
    int n, nb, ntiles;
    float *y;
    amx_act act;
} amx_job;

static void quant_worker(void *arg, int ith, int nth) {
    amx_job *j = arg;
    int lo, hi, cols = j->w->cols, nb = j->nb;
    omnic_split(j->ntiles, 1, ith, nth, &lo, &hi);
    for (int T = lo; T < hi; T++)
        for (int tt = 0; tt < 16; tt++) {
            int t = 16 * T + tt;
            const float *xt = j->x + (size_t)t * (size_t)cols;
            for (int b = 0; b < nb; b++) {
                size_t tb = (size_t)T * (size_t)nb + (size_t)b;
                int8_t *dst = j->act.q + tb * 512 + 4 * tt, q[32];
                int32_t s = 0;
                float d = 0.f;
                if (t < j->n) d = qblock(xt + 32 * b, q, &s);
                else memset(q, 0, sizeof q);
                for (int k = 0; k < 8; k++) memcpy(dst + 64 * k, q + 4 * k, 4);
                j->act.dx[tb * 16 + tt] = d;
                j->act.sx[tb * 16 + tt] = (float)s;
            }
        }
}

/* ---- weight panels ---- */

/* Unpack rows [r, r + nr) (nr <= 16) into wq[block][16][32] int8 with scales
 * ds[block][16] (Q8_0/Q4_0: the fp16 d; Q4_K: d * sc) and dm[block][16] (Q4_K:
 * dmin * m). Rows past nr are zero. */
static void panel_unpack(const kweight *w, int r, int nr, int nb, int8_t *wq, float *ds, float *dm) {
    size_t rb = (size_t)dtype_row_bytes(w->dt, w->cols);
    const __m128i m4 = _mm_set1_epi8(0x0f), e8 = _mm_set1_epi8(8);
    if (nr < 16) {
        memset(wq, 0, (size_t)nb * 512);
        memset(ds, 0, (size_t)nb * 64);
        memset(dm, 0, (size_t)nb * 64);
    }
    for (int i = 0; i < nr; i++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)(r + i) * rb;
        if (w->dt == DT_Q8_0) {
            for (int b = 0; b < nb; b++) {
                _mm256_storeu_si256((__m256i *)(wq + (size_t)b * 512 + 32 * i), _mm256_loadu_si256((const __m256i *)(p + qblk_qs(b, nb, 34, w->layout == KW_CHUNKED))));
                ds[16 * b + i] = h2f(p + qblk_d(b, 34, w->layout == KW_CHUNKED));
            }
        } else if (w->dt == DT_Q4_0) {
            for (int b = 0; b < nb; b++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(p + qblk_qs(b, nb, 18, w->layout == KW_CHUNKED)));
                int8_t *o = wq + (size_t)b * 512 + 32 * i;
                _mm_storeu_si128((__m128i *)o, _mm_sub_epi8(_mm_and_si128(v, m4), e8));
                _mm_storeu_si128((__m128i *)(o + 16), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), m4), e8));
                ds[16 * b + i] = h2f(p + qblk_d(b, 18, w->layout == KW_CHUNKED));
            }
        } else { /* Q4_K: sub-block j of a super-block = 32 nibbles of chunk j / 2 */
            for (int sb = 0; sb < nb / 8; sb++, p += sizeof(blk_q4_k)) {
                float d = h2f(p), dmin = h2f(p + 2);
                for (int c = 0; c < 4; c++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * c));
                    int b = 8 * sb + 2 * c;
                    _mm256_storeu_si256((__m256i *)(wq + (size_t)b * 512 + 32 * i), _mm256_and_si256(v, _mm256_set1_epi8(0x0f)));
                    _mm256_storeu_si256((__m256i *)(wq + (size_t)(b + 1) * 512 + 32 * i),
                                        _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)));
                }
                for (int jj = 0; jj < 8; jj++) {
                    int sc, m;
                    q4k_scale_min(jj, p + 4, &sc, &m);
                    ds[16 * (8 * sb + jj) + i] = d * (float)sc;
                    dm[16 * (8 * sb + jj) + i] = dmin * (float)m;
                }
            }
        }
    }
}

/* ---- the tile product ---- */

/* acc[i] (weight row i, 16 tokens) += the block's scaled sums cb (int32, 16 x
 * 16), in the scalar level's operation order:
 *   Q8_0/Q4_0: acc + (dw * dx) * s
 *   Q4_K:      acc + dx * ((d sc) * s - (dmin m) * sx)
 * dsb, dmb: the block's 16 weight-row scales; dxb, sxb: its 16 tokens'. */
AI void epilogue(const int k4, __m512 acc[16], const int32_t *cb, const float *dsb, const float *dmb, const float *dxb,
                 const float *sxb) {
    __m512 dxv = _mm512_load_ps(dxb);
    if (!k4) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(cb + 16 * i));
            acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(dsb[i]), dxv), s));
        }
    } else {
        __m512 sxv = _mm512_load_ps(sxb);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(cb + 16 * i));
            __m512 u = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dsb[i]), s), _mm512_mul_ps(_mm512_set1_ps(dmb[i]), sxv));
            acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(dxv, u));
        }
    }
}
#define EPI(K4, CB, B) epilogue(K4, acc, CB, ds + 16 * (size_t)(B), dm + 16 * (size_t)(B), dx + 16 * (size_t)(B), sx + 16 * (size_t)(B))

/* 16 x 16 floats: o[i][t] -> y[t][i] for t < nt, i < nr (unpack / shuffle
 * transpose in registers). */
AI void store_transposed(__m512 a[16], float *y, size_t ys, int nt, int nr) {
    __m512 b[16], c[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        b[2 * i] = _mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]);
        b[2 * i + 1] = _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m512d p0 = _mm512_castps_pd(b[4 * i]), p1 = _mm512_castps_pd(b[4 * i + 2]);
        __m512d q0 = _mm512_castps_pd(b[4 * i + 1]), q1 = _mm512_castps_pd(b[4 * i + 3]);
        c[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(p0, p1));
        c[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(p0, p1));
        c[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(q0, q1));
        c[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(q0, q1));
    }
    /* c[4i + k] lane 4L + j = a[4i + j][4L + k]: gather the 128-bit lanes */
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512 e0 = _mm512_shuffle_f32x4(c[k], c[4 + k], 0x88), e1 = _mm512_shuffle_f32x4(c[8 + k], c[12 + k], 0x88);
        __m512 f0 = _mm512_shuffle_f32x4(c[k], c[4 + k], 0xdd), f1 = _mm512_shuffle_f32x4(c[8 + k], c[12 + k], 0xdd);
        b[k] = _mm512_shuffle_f32x4(e0, e1, 0x88);      /* token k */
        b[8 + k] = _mm512_shuffle_f32x4(e0, e1, 0xdd);  /* token 8 + k */
        b[4 + k] = _mm512_shuffle_f32x4(f0, f1, 0x88);  /* token 4 + k */
        b[12 + k] = _mm512_shuffle_f32x4(f0, f1, 0xdd); /* token 12 + k */
    }
    __mmask16 m = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    for (int t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + (size_t)t * ys, m, b[t]);
}

/* 16 weight rows (panel) x 16 tokens (tile): y[t][r] for t < nt, r < nr.
 * Software-pipelined by groups of 4 blocks (C tiles tmm0..3): the tile products
 * of a group run while the previous group's sums are scaled. */
#define TP(C, A, B, K)                                                 \
    do {                                                               \
        _tile_loadd(A, wq + (size_t)(K) * 512, 32);                    \
        _tile_loadd(B, aq + (size_t)(K) * 512, 64);                    \
        _tile_zero(C);                                                 \
        _tile_dpbssd(C, A, B);                                         \
    } while (0)
AI void tile_product(const int k4, const int8_t *wq, const float *ds, const float *dm, const int8_t *aq,
                     const float *dx, const float *sx, int nb, float *y, size_t ys, int nt, int nr) {
    _Alignas(64) int32_t cb[4][256];
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 4 <= nb; b += 4) {
        TP(0, 4, 6, b);
        TP(1, 5, 7, b + 1);
        TP(2, 4, 6, b + 2);
        TP(3, 5, 7, b + 3);
        if (b)
            for (int k = 0; k < 4; k++) EPI(k4, cb[k], b - 4 + k);
        _tile_stored(0, cb[0], 64);
        _tile_stored(1, cb[1], 64);
        _tile_stored(2, cb[2], 64);
        _tile_stored(3, cb[3], 64);
    }
    if (b)
        for (int k = 0; k < 4; k++) EPI(k4, cb[k], b - 4 + k);
    for (; b < nb; b++) {
        TP(0, 4, 6, b);
        _tile_stored(0, cb[0], 64);
        EPI(k4, cb[0], b);
    }
    store_transposed(acc, y, ys, nt, nr);
}

/* one instance per epilogue kind */
static void tile_q(const int8_t *wq, const float *ds, const float *dm, const int8_t *aq, const float *dx,
                   const float *sx, int nb, float *y, size_t ys, int nt, int nr) {
    tile_product(0, wq, ds, dm, aq, dx, sx, nb, y, ys, nt, nr);
}
static void tile_k(const int8_t *wq, const float *ds, const float *dm, const int8_t *aq, const float *dx,
                   const float *sx, int nb, float *y, size_t ys, int nt, int nr) {
    tile_product(1, wq, ds, dm, aq, dx, sx, nb, y, ys, nt, nr);
}

static void mm_worker(void *arg, int ith, int nth) {
    amx_job *j = arg;
    const kweight *w = j->w;
    int lo, hi, nb = j->nb, k4 = w->dt == DT_Q4_K;
    size_t rb = (size_t)dtype_row_bytes(w->dt, w->cols), pb = (size_t)nb * (512 + 128);
    omnic_split(w->rows, 16, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    int G = (int)(AMX_PANELS_BYTES / ((size_t)nb * 512)), np = (hi - lo + 15) / 16;
    G = G < 1 ? 1 : G > 8 ? 8 : G;
    if (G > np) G = np;
    char *pan = tls_buf(1, (size_t)G * pb);
    if (!pan) { /* out of memory: this share takes the float path */
        matmul_rows_scalar(w, j->x, j->n, j->y, lo, hi);
        return;
    }
    tiles_load();
    for (int r0 = lo; r0 < hi; r0 += 16 * G) {
        int r1 = r0 + 16 * G < hi ? r0 + 16 * G : hi;
        for (int g = 0, r = r0; r < r1; g++, r += 16) {
            char *pg = pan + (size_t)g * pb;
            panel_unpack(w, r, r1 - r < 16 ? r1 - r : 16, nb, (int8_t *)pg, (float *)(pg + (size_t)nb * 512),
                         (float *)(pg + (size_t)nb * 576));
        }
        /* while this group runs, bring the next one's weights (from DRAM) into L2 */
        const char *nx = (const char *)w->data + (size_t)r1 * rb;
        size_t nlines = r1 < hi ? ((size_t)((hi - r1 < 16 * G ? hi - r1 : 16 * G)) * rb + 63) / 64 : 0;
        size_t per = (nlines + (size_t)j->ntiles - 1) / (size_t)j->ntiles, done = 0;
        for (int T = 0; T < j->ntiles; T++) {
            for (size_t e = done + per < nlines ? done + per : nlines; done < e; done++)
                _mm_prefetch(nx + 64 * done, _MM_HINT_T1);
            size_t tb = (size_t)T * (size_t)nb;
            int nt = j->n - 16 * T < 16 ? j->n - 16 * T : 16;
            for (int g = 0, r = r0; r < r1; g++, r += 16) {
                const char *pg = pan + (size_t)g * pb;
                (k4 ? tile_k : tile_q)((const int8_t *)pg, (const float *)(pg + (size_t)nb * 512),
                                       (const float *)(pg + (size_t)nb * 576), j->act.q + tb * 512, j->act.dx + tb * 16,
                                       j->act.sx + tb * 16, nb, j->y + (size_t)16 * T * (size_t)w->rows + r,
                                       (size_t)w->rows, nt, r1 - r < 16 ? r1 - r : 16);
            }
        }
    }
    _tile_release();
}

int k_matmul_q_amx(omnic_pool *pool, const kweight *w, const float *x, int n, float *y) {
    if (!amx_available() || n <= 0 || w->cols <= 0 || w->cols % 32 ||
        (w->dt != DT_Q8_0 && w->dt != DT_Q4_0 && w->dt != DT_Q4_K) || dtype_row_bytes(w->dt, w->cols) < 0 ||
        w->layout == KW_X16) /* interleaved rows: the VNNI kernels read those */
        return -1;
    int nb = w->cols / 32, ntiles = (n + 15) / 16;
    void *buf = tls_buf(0, act_size(ntiles, nb));
    if (!buf) return -1;
    amx_job j = {w, x, n, nb, ntiles, y, act_at(buf, ntiles, nb)};
    omnic_pool_run(pool, quant_worker, &j);
    omnic_pool_run(pool, mm_worker, &j);
    return 0;
}
