/* matmul.c - threaded y = x * W^T over F32/F16/BF16 weights: the scalar version
 * and the row split across the pool (block-quantized weights: matmul_q.c). */
#include "kernels/kernels.h"
#include "kernels/matmul_impl.h"
#include "kernels/quant.h"

void k_row_to_f32(const kweight *w, int row, float *out) {
    size_t off = (size_t)row * (size_t)w->cols;
    if (dtype_is_block(w->dt)) {
        if (dequant_row_in(w->dt, w->layout, w->data, row, out, w->cols))
            memset(out, 0, (size_t)w->cols * 4);
        return;
    }
    switch (w->dt) {
    case DT_F32: memcpy(out, (const float *)w->data + off, (size_t)w->cols * 4); break;
    case DT_BF16: {
        const uint16_t *p = (const uint16_t *)w->data + off;
        for (int c = 0; c < w->cols; c++) out[c] = bf16_to_f32(p[c]);
        break;
    }
    case DT_F16: {
        const uint16_t *p = (const uint16_t *)w->data + off;
        for (int c = 0; c < w->cols; c++) out[c] = f16_to_f32(p[c]);
        break;
    }
    default: memset(out, 0, (size_t)w->cols * 4); break;
    }
}

/* Scalar: convert a weight row once, then dot it with all n inputs. */
void matmul_rows_scalar(const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    float row[w->cols > 0 ? w->cols : 1];
    for (int r = r0; r < r1; r++) {
        k_row_to_f32(w, r, row);
        for (int t = 0; t < n; t++) {
            const float *xt = x + (size_t)t * w->cols;
            float acc = 0.f;
            for (int c = 0; c < w->cols; c++) acc += row[c] * xt[c];
            y[(size_t)t * w->rows + r] = acc;
        }
    }
}

typedef struct { const kweight *w; const float *x; int n; float *y; matmul_fn rows; } mm_job;

static void mm_worker(void *arg, int ith, int nth) {
    mm_job *j = arg;
    int lo, hi;
    omnic_split(j->w->rows, 16, ith, nth, &lo, &hi);
    if (lo < hi) j->rows(j->w, j->x, j->n, j->y, lo, hi);
}

void k_matmul(omnic_pool *pool, const kweight *w, const float *x, int n, float *y) {
    if (dtype_is_block(w->dt)) {
        k_matmul_q(pool, w, x, n, y);
        return;
    }
    if (k_amx_bf16_ok && w->dt == DT_BF16 && n >= K_AMX_BF16_MIN_N &&
        k_matmul_bf16_amx(pool, w, x, n, y, (k_amx_bf16_on || w->act_bf16) ? 1 : K_AMX_BF16_EXACT_PARTS) == 0)
        return;
    /* BF16 prefill on VDPBF16PS (activations rounded to bf16), see matmul_impl.h */
    int dp = w->dt == DT_BF16 && n >= K_BF16_DP_MIN_N && (k_bf16_dp_on || (k_bf16_dp_ok && w->act_bf16));
    mm_job j = {w, x, n, y, dp ? matmul_rows_avx512_bf16dp : k_matmul_rows};
    omnic_pool_run(pool, mm_worker, &j);
}

typedef struct { int nw, n; const kweight *const *w; const float *x; float *const *y; } mm_multi_job;

static void mm_multi_worker(void *arg, int ith, int nth) {
    mm_multi_job *j = arg;
    for (int i = 0; i < j->nw; i++) {
        int lo, hi;
        omnic_split(j->w[i]->rows, 16, ith, nth, &lo, &hi);
        if (lo < hi) k_matmul_rows(j->w[i], j->x, j->n, j->y[i], lo, hi);
    }
}

void k_matmul_multi(omnic_pool *pool, int nw, const kweight *const *w, const float *x, int n, float *const *y) {
    int same = nw > 0 && n > 0 && n < K_MULTI_MAX_N;
    for (int i = 1; same && i < nw; i++) same = w[i]->dt == w[0]->dt && w[i]->layout == w[0]->layout && w[i]->cols == w[0]->cols;
    if (same && dtype_is_block(w[0]->dt)) {
        if (k_matmul_q_multi(pool, nw, w, x, n, y) == 0) return;
    } else if (same) { /* few rows: no AMX / VDPBF16PS paths (their minimum n is >= K_MULTI_MAX_N) */
        mm_multi_job j = {nw, n, w, x, y};
        omnic_pool_run(pool, mm_multi_worker, &j);
        return;
    }
    for (int i = 0; i < nw; i++) k_matmul(pool, w[i], x, n, y[i]);
}
