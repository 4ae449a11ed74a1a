/* tatok_quant.c - TA-Tok's SimVQ quantiser (vision.md §4.4): the codebook
 * E = normalize(W_p c + b_p) precomputed once in fp32, and the per-token search
 * over it (a matmul against E, block by block, with a running argmax; or, in
 * sampling mode, the Gumbel-max draw from softmax(s / T)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/tatok_impl.h"

#define CB_BLOCK 2048   /* codebook rows per similarity block */

void tatok_l2norm(float *x, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double nr = sqrt(ss);
    float inv = (float)(1.0 / (nr > 1e-12 ? nr : 1e-12));
    for (int i = 0; i < n; i++) x[i] *= inv;
}

int tatok_build_codebook(tatok_model *t, omnic_pool *pool, const kweight *emb, const kweight *proj,
                         const float *proj_b) {
    const int K = t->K, Z = t->Z, blk = K < 1024 ? K : 1024;
    t->codebook = malloc((size_t)K * Z * sizeof(float));
    float *buf = malloc((size_t)blk * Z * sizeof(float));
    if (!t->codebook || !buf) {
        free(buf);
        return omnic_err(OMNIC_ENOMEM, "out of memory for the TA-Tok codebook (%d x %d floats)", K, Z);
    }
    for (int r0 = 0; r0 < K; r0 += blk) {
        int cnt = K - r0 < blk ? K - r0 : blk;
        for (int r = 0; r < cnt; r++) k_row_to_f32(emb, r0 + r, buf + (size_t)r * Z);
        float *e = t->codebook + (size_t)r0 * Z;
        k_matmul(pool, proj, buf, cnt, e);
        for (int r = 0; r < cnt; r++) {
            float *row = e + (size_t)r * Z;
            for (int i = 0; i < Z; i++) row[i] += proj_b[i];
            tatok_l2norm(row, Z);
        }
    }
    free(buf);
    return OMNIC_OK;
}

/* Uniform (0, 1) from a counter (splitmix64 of seed and index). */
static double uniform01(uint64_t seed, uint64_t idx) {
    uint64_t x = seed + 0x9E3779B97F4A7C15ull * (idx + 1);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

typedef struct pick_job {
    const tatok_model *t;
    const float *s;     /* [n, cnt] similarities to codebook rows c0 .. c0+cnt-1 */
    int c0, cnt;
    float *best;
    int32_t *codes;
} pick_job;

static void pick_worker(void *arg, int ith, int nth) {
    pick_job *j = arg;
    const tatok_model *t = j->t;
    int lo, hi;
    omnic_split(t->n_tok, 1, ith, nth, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        const float *s = j->s + (size_t)i * j->cnt;
        float b = j->best[i];
        int32_t c = j->codes[i];
        if (!t->sampling) {
            for (int k = 0; k < j->cnt; k++)
                if (s[k] > b) { b = s[k]; c = j->c0 + k; } /* strict: lowest index wins ties */
        } else {
            /* Gumbel-max: argmax(s/T + G) is a draw from softmax(s/T). */
            const double invT = 1.0 / t->temperature;
            for (int k = 0; k < j->cnt; k++) {
                uint64_t idx = (uint64_t)i * (uint64_t)t->K + (uint64_t)(j->c0 + k);
                float v = (float)(s[k] * invT - log(-log(uniform01(t->seed, idx))));
                if (v > b) { b = v; c = j->c0 + k; }
            }
        }
        j->best[i] = b;
        j->codes[i] = c;
    }
}

int tatok_quantise(tatok_model *t, omnic_pool *pool, float *z, int32_t *codes) {
    const int n = t->n_tok, Z = t->Z, blk = t->K < CB_BLOCK ? t->K : CB_BLOCK;
    float *s = malloc((size_t)n * blk * sizeof *s), *best = malloc((size_t)n * sizeof *best);
    if (!s || !best) {
        free(s);
        free(best);
        return omnic_err(OMNIC_ENOMEM, "out of memory for the TA-Tok code search");
    }
    for (int i = 0; i < n; i++) {
        tatok_l2norm(z + (size_t)i * Z, Z);
        best[i] = -INFINITY;
        codes[i] = 0;
    }
    for (int c0 = 0; c0 < t->K; c0 += blk) {
        int cnt = t->K - c0 < blk ? t->K - c0 : blk;
        kweight E = {t->codebook + (size_t)c0 * Z, DT_F32, cnt, Z, 0, 0};
        k_matmul(pool, &E, z, n, s);
        pick_job j = {t, s, c0, cnt, best, codes};
        omnic_pool_run(pool, pick_worker, &j);
    }
    free(s);
    free(best);
    return OMNIC_OK;
}
