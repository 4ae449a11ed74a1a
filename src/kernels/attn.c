/* attn.c - causal attention over one KV head's cache, one query at a time (see
 * k_attn_tile in kernels.h): online softmax over blocks of keys with a running
 * maximum, on the dispatched k_dot / k_axpy / k_exp_sum. The scalar level's
 * k_attn, and the AVX-512 level's for tiles too small to fill its vector lanes
 * (decode: one token's heads of a group). Each block of keys and values is
 * fetched once for all the tile's queries. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define ROWS_MAX 256 /* keys per block (the score buffer) */

void k_attn_rows(const k_attn_tile *t, const k_kv_src *kv) {
    float sb[ROWS_MAX], mx[K_ATT_TILE], sum[K_ATT_TILE];
    int nq = t->nq, d = t->d, top = 0;
    int kb = kv->max_rows < ROWS_MAX ? kv->max_rows : ROWS_MAX;
    if (nq <= 0 || kb <= 0) return;
    for (int i = 0; i < nq; i++) {
        mx[i] = -INFINITY, sum[i] = 0.f;
        memset(t->o[i], 0, (size_t)d * sizeof(float));
        if (t->pos[i] > top) top = t->pos[i];
    }
    for (int u0 = 0; u0 <= top; u0 += kb) {
        int n = top + 1 - u0 < kb ? top + 1 - u0 : kb;
        size_t ks, vs;
        const float *K = kv->rows(kv->arg, 0, u0, n, &ks), *V = kv->rows(kv->arg, 1, u0, n, &vs);
        for (int i = 0; i < nq; i++) {
            int m = t->pos[i] + 1 - u0 < n ? t->pos[i] + 1 - u0 : n; /* keys this query sees */
            if (m <= 0) continue;
            float *o = t->o[i], bmx = -INFINITY;
            for (int k = 0; k < m; k++) {
                sb[k] = t->scale * k_dot(t->q[i], K + (size_t)k * ks, d);
                if (sb[k] > bmx) bmx = sb[k];
            }
            if (bmx > mx[i]) { /* a new maximum: rescale what was summed so far */
                float r = expf(mx[i] - bmx); /* 0 on the first block */
                sum[i] *= r;
                for (int c = 0; c < d; c++) o[c] *= r;
                mx[i] = bmx;
            }
            sum[i] += k_exp_sum(sb, m, mx[i]);
            for (int k = 0; k < m; k++) k_axpy(o, V + (size_t)k * vs, sb[k], d);
        }
    }
    for (int i = 0; i < nq; i++) {
        float inv = 1.f / sum[i];
        for (int c = 0; c < d; c++) t->o[i][c] *= inv;
    }
}
