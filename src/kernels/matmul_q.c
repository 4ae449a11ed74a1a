/* matmul_q.c - y = x * W^T for block-quantized weights (Q8_0, Q4_0, Q4_K): the
 * threaded driver and the portable scalar level (the reference for tests).
 *
 * Like llama.cpp's q8 activations, each activation row is first quantized to
 * int8 per block of 32 values (d = max|x| / 127 kept as float, q = x * (1/d)
 * rounded half to even, plus s = sum q); a weight block then contributes
 *   Q8_0: dw * dx * sum(qw * qx)
 *   Q4_0: dw * dx * (sum(nibble * qx) - 8 s)
 *   Q4_K: dx * (d * sc * sum(nibble * qx) - dmin * m * s)   per sub-block of 32
 * with exact integer sums. The scalar activation layout is qa_block[cols / 32]. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/matmul_impl.h"
#include "kernels/quant.h"

typedef struct { float d; int32_t s; int8_t q[32]; } qa_block;

/* The shared activation rule for one block of 32 (both levels produce these
 * exact d and q). NaN and infinities give d or q meaningless but defined. */
void qa_quantize32(const float *x, float *d_out, int8_t *q, int32_t *s) {
    float amax = 0.f;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) {
        float v = nearbyintf(x[i] * id);
        int qi = v >= -127.f && v <= 127.f ? (int)v : 0;
        q[i] = (int8_t)qi;
        sum += qi;
    }
    *d_out = d;
    *s = sum;
}

static size_t scalar_act_bytes(const kweight *w) { return (size_t)(w->cols / 32) * sizeof(qa_block); }

static void scalar_quantize_act(const kweight *w, const float *x, void *out) {
    qa_block *b = out;
    for (int i = 0; i < w->cols / 32; i++) qa_quantize32(x + 32 * i, &b[i].d, b[i].q, &b[i].s);
}

/* Row r against one token's activation blocks; each block of the row is first
 * gathered back into GGUF's order (qblk_gather), so any layout reads the same. */
static float dot_q8_0(const kweight *w, int r, const qa_block *a, int nb) {
    float acc = 0.f;
    uint8_t blk[sizeof(blk_q8_0)];
    const int8_t *q = (const int8_t *)blk + 2;
    for (int b = 0; b < nb; b++) {
        qblk_gather(w->layout, w->data, sizeof blk * (size_t)nb, r, b, nb, sizeof blk, blk);
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += q[i] * a[b].q[i];
        acc += q_ld_f16(blk) * a[b].d * (float)s;
    }
    return acc;
}

static float dot_q4_0(const kweight *w, int r, const qa_block *a, int nb) {
    float acc = 0.f;
    uint8_t blk[sizeof(blk_q4_0)];
    const uint8_t *q = blk + 2;
    for (int b = 0; b < nb; b++) {
        qblk_gather(w->layout, w->data, sizeof blk * (size_t)nb, r, b, nb, sizeof blk, blk);
        int32_t s = 0;
        for (int i = 0; i < 16; i++) s += (q[i] & 0xf) * a[b].q[i] + (q[i] >> 4) * a[b].q[i + 16];
        acc += q_ld_f16(blk) * a[b].d * (float)(s - 8 * a[b].s);
    }
    return acc;
}

static float dot_q4_k(const kweight *w, int r, const qa_block *a, int nsb) {
    float acc = 0.f;
    uint8_t blk[sizeof(blk_q4_k)];
    for (int b = 0; b < nsb; b++, a += 8) {
        qblk_gather(w->layout, w->data, sizeof blk * (size_t)nsb, r, b, nsb, sizeof blk, blk);
        float d = q_ld_f16(blk), dmin = q_ld_f16(blk + 2);
        const uint8_t *sc = blk + 4, *q = blk + 16;
        for (int j = 0; j < 8; j++) {
            int c = j / 2, sh = (j & 1) * 4, s, m;
            q4k_scale_min(j, sc, &s, &m);
            int32_t dot = 0;
            for (int i = 0; i < 32; i++) dot += ((q[32 * c + i] >> sh) & 0xf) * a[j].q[i];
            acc += a[j].d * (d * s * (float)dot - dmin * m * (float)a[j].s);
        }
    }
    return acc;
}

static void scalar_rows(const kweight *w, const void *xq, size_t xs, int n, float *y, int r0, int r1) {
    int nb = w->cols / 32;
    for (int r = r0; r < r1; r++) {
        for (int t = 0; t < n; t++) {
            const qa_block *a = (const qa_block *)((const char *)xq + (size_t)t * xs);
            float v = 0.f;
            switch (w->dt) {
            case DT_Q8_0: v = dot_q8_0(w, r, a, nb); break;
            case DT_Q4_0: v = dot_q4_0(w, r, a, nb); break;
            case DT_Q4_K: v = dot_q4_k(w, r, a, w->cols / QK_K); break;
            default: break;
            }
            y[(size_t)t * w->rows + r] = v;
        }
    }
}

const qmm_level qmm_scalar = {scalar_act_bytes, scalar_quantize_act, scalar_rows};

/* ---- driver ---- */

/* Per-thread activation buffer, grown as needed and kept (no per-call
 * allocation once warm); freed when its thread exits. */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
typedef struct { void *p; size_t cap; } qbuf;
static void buf_free(void *v) {
    qbuf *b = v;
    if (b) free(b->p);
    free(b);
}
static void buf_init(void) { pthread_key_create(&buf_key, buf_free); }

static void *get_buf(size_t need) {
    pthread_once(&buf_once, buf_init);
    qbuf *b = pthread_getspecific(buf_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        pthread_setspecific(buf_key, b);
    }
    if (b->cap < need) {
        size_t cap = (need + 4095) & ~(size_t)4095;
        void *p = aligned_alloc(64, cap);
        if (!p) return NULL;
        free(b->p);
        b->p = p;
        b->cap = cap;
    }
    return b->p;
}

typedef struct {
    const qmm_level *lv;
    const kweight *w;
    const float *x;
    int n;
    float *y;
    void *xq;
    size_t xs;
} qmm_job;

static void quant_worker(void *arg, int ith, int nth) {
    qmm_job *j = arg;
    int lo, hi;
    omnic_split(j->n, 1, ith, nth, &lo, &hi);
    for (int t = lo; t < hi; t++)
        j->lv->quantize_act(j->w, j->x + (size_t)t * j->w->cols, (char *)j->xq + (size_t)t * j->xs);
}

static void qmm_worker(void *arg, int ith, int nth) {
    qmm_job *j = arg;
    int lo, hi;
    omnic_split(j->w->rows, 16, ith, nth, &lo, &hi);
    if (lo < hi) j->lv->rows(j->w, j->xq, j->xs, j->n, j->y, lo, hi);
}

void k_matmul_q(omnic_pool *pool, const kweight *w, const float *x, int n, float *y) {
    const qmm_level *lv = k_qmm;
    if (n <= 0 || w->rows <= 0) return;
    if (dtype_row_bytes(w->dt, w->cols) < 0 || w->cols <= 0) { /* never from a validated loader */
        for (size_t i = 0; i < (size_t)n * (size_t)w->rows; i++) y[i] = NAN;
        return;
    }
    if (k_amx_on && n >= K_AMX_MIN_N(w->dt) && k_matmul_q_amx(pool, w, x, n, y) == 0) return;
    size_t xs = (lv->act_bytes(w) + 63) & ~(size_t)63;
    void *xq = get_buf(xs * (size_t)n);
    if (!xq) { /* out of memory: fall back to the float path */
        matmul_rows_scalar(w, x, n, y, 0, w->rows);
        return;
    }
    qmm_job j = {lv, w, x, n, y, xq, xs};
    if (n == 1) quant_worker(&j, 0, 1);
    else omnic_pool_run(pool, quant_worker, &j);
    omnic_pool_run(pool, qmm_worker, &j);
}

typedef struct {
    const qmm_level *lv;
    int nw, n;
    const kweight *const *w;
    float *const *y;
    const void *xq;
    size_t xs;
} qmm_multi_job;

static void qmm_multi_worker(void *arg, int ith, int nth) {
    qmm_multi_job *j = arg;
    for (int i = 0; i < j->nw; i++) {
        int lo, hi;
        omnic_split(j->w[i]->rows, 16, ith, nth, &lo, &hi);
        if (lo < hi) j->lv->rows(j->w[i], j->xq, j->xs, j->n, j->y[i], lo, hi);
    }
}

int k_matmul_q_multi(omnic_pool *pool, int nw, const kweight *const *w, const float *x, int n, float *const *y) {
    const qmm_level *lv = k_qmm;
    if (nw <= 0 || n <= 0 || n >= K_MULTI_MAX_N) return -1;
    for (int i = 0; i < nw; i++)
        if (w[i]->dt != w[0]->dt || w[i]->layout != w[0]->layout || w[i]->cols != w[0]->cols || w[i]->rows <= 0 ||
            dtype_row_bytes(w[i]->dt, w[i]->cols) < 0 || w[i]->cols <= 0)
            return -1;
    size_t xs = (lv->act_bytes(w[0]) + 63) & ~(size_t)63; /* the same for every w[i] */
    void *xq = get_buf(xs * (size_t)n);
    if (!xq) return -1;
    for (int t = 0; t < n; t++) lv->quantize_act(w[0], x + (size_t)t * w[0]->cols, (char *)xq + (size_t)t * xs);
    qmm_multi_job j = {lv, nw, n, w, y, xq, xs};
    omnic_pool_run(pool, qmm_multi_worker, &j);
    return 0;
}
