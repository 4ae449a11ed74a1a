/* audit_stats.c - statistics of one pair of tensors (or fused-tensor parts):
 *  - as stored, name-aligned: cosine, Pearson (mean-centred) correlation and
 *    relative L2 distance (the numbers other tools report);
 *  - aligned: hidden units matched by assignment (rows and columns of the
 *    matrix: greedy assignment on correlations of rows / columns over a row
 *    subsample, started from the identity, from column-order-invariant row
 *    profiles (power means of |x|, moments) and from the identity on columns; transposed
 *    storage tried too), then the correlation of the two row- and
 *    column-balanced matrices (so uniform, per-row and per-column rescaling
 *    cancel), and the residual after a per-row least-squares scale with the
 *    finer copy requantized to the coarser one's storage type (a quantized
 *    copy of a tensor is then reproduced exactly; fine-tuning is not).
 * A is read as a row sample (max_rows); B is never held whole: it is read
 * lazily from the memory map (the sampled rows, a few columns of every row
 * for row matching, or one pass for the row profiles), so a copy or a
 * fine-tune costs two row samples and only the permutation search (large
 * matrices: cut short when its first step finds nothing) touches all of B. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_impl.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

#define B_ROWS_MAX 16384
#define NQ 8                    /* features of a row profile */

static float *buf(au_ctx *c, int slot, size_t n) {
    if (n == 0) n = 1;
    if (c->caps[slot] < n) {
        free(c->bufs[slot]);
        c->bufs[slot] = malloc(n * sizeof(float));
        c->caps[slot] = c->bufs[slot] ? n : 0;
    }
    return c->bufs[slot];
}

static int rank_of(omnic_dtype dt) {
    switch (dt) {
    case DT_F16: case DT_BF16: return 1;
    case DT_Q8_0: return 2;
    case DT_Q4_0: case DT_Q4_K: return 3;
    default: return 0;
    }
}

/* y[n x m] = X[n x k] * Y[m x k]^T on the pool */
static void gemm_nt(au_ctx *c, const float *X, int n, const float *Y, int m, int k, float *out) {
    kweight w = {Y, DT_F32, m, k, 0, 0};
    k_matmul(c->pool, &w, X, n, out);
}

static void standardise(float *v, int n) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    float mu = (float)(s / n);
    for (int i = 0; i < n; i++) v[i] -= mu, q += (double)v[i] * v[i];
    float inv = q > 0 ? (float)(1.0 / sqrt(q)) : 0.f;
    for (int i = 0; i < n; i++) v[i] *= inv;
}

static float row_max(const float *x, int m, int skip, int *arg) {
    float mx[8];
    for (int l = 0; l < 8; l++) mx[l] = -INFINITY;
    int j = 0;
    for (; j + 8 <= m; j += 8)
        for (int l = 0; l < 8; l++) {
            float v = j + l == skip ? -INFINITY : x[j + l];
            mx[l] = v > mx[l] ? v : mx[l];
        }
    for (; j < m; j++) {
        float v = j == skip ? -INFINITY : x[j];
        mx[0] = v > mx[0] ? v : mx[0];
    }
    float best = mx[0];
    for (int l = 1; l < 8; l++) best = mx[l] > best ? mx[l] : best;
    if (arg) {
        *arg = 0;
        for (j = 0; j < m; j++)
            if (x[j] == best && j != skip) {
                *arg = j;
                break;
            }
    }
    return best;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* greedy one-to-one assignment of n rows to m >= n columns maximising S.
 * Returns whether the matches look real: a median best score >= 0.7, or at
 * least max(3, n/10) rows whose best score stands out from their second best
 * by > 15x the lower quartile of such gaps (for unrelated vectors the gaps are
 * extreme-value spacings, ~exponential: ~1.3% pass). Clobbers best[]. */
static int assign(const float *S, int n, int m, int *map, int *order, float *best, float *gap, char *taken) {
    for (int i = 0; i < n; i++) {
        const float *row = S + (size_t)i * m;
        int b;
        best[i] = row_max(row, m, -1, &b);
        map[i] = b, order[i] = i;
        gap[i] = m > 1 ? best[i] - row_max(row, m, b, NULL) : 0;
    }
    /* rows with the most confident match first (shell sort) */
    for (int k = n / 2; k > 0; k /= 2)
        for (int i = k; i < n; i++)
            for (int j = i; j >= k && best[order[j - k]] < best[order[j]]; j -= k) {
                int t = order[j];
                order[j] = order[j - k], order[j - k] = t;
            }
    memset(taken, 0, (size_t)m);
    for (int o = 0; o < n; o++) {
        int i = order[o];
        if (taken[map[i]]) {
            int b = -1;
            for (int j = 0; j < m; j++)
                if (!taken[j] && (b < 0 || S[(size_t)i * m + j] > S[(size_t)i * m + b])) b = j;
            map[i] = b;
        }
        taken[map[i]] = 1;
    }
    qsort(best, (size_t)n, sizeof *best, cmpf);
    if (best[n / 2] >= 0.7f) return 1; /* most rows matched well */
    memcpy(best, gap, (size_t)n * sizeof *best);
    qsort(best, (size_t)n, sizeof *best, cmpf);
    float q25 = best[n / 4];
    int cnt = 0;
    for (int i = 0; i < n; i++) cnt += gap[i] > 15 * q25;
    return cnt >= 3 && cnt >= n / 10;
}

/* B seen in A's orientation (transposed or not), read lazily from the memory
 * map: whole rows, a few columns of every row, or a one-pass row profile; the
 * null's sign flips are applied on read */
typedef struct {
    const au_item *it;
    int trans;
    int64_t R, C;       /* view shape */
    unsigned signs;
} bview;

static inline int flip(unsigned seed, int64_t r, int64_t j) {
    uint32_t hr = (uint32_t)(r * 2654435761u) ^ seed;
    hr ^= hr >> 15, hr *= 0x2c1b3c6du, hr ^= hr >> 12;
    uint32_t hc = (uint32_t)(j * 2246822519u) ^ (seed * 0x9e3779b9u);
    hc ^= hc >> 13, hc *= 0x297a2d39u, hc ^= hc >> 16;
    return (hr ^ hc) & 1;
}

/* view rows rows[0..n) -> out [n x C] */
static int bv_rows(au_ctx *c, const bview *v, const int *rows, int n, float *out) {
    const au_item *it = v->it;
    int C = (int)v->C;
    if (!v->trans) {
        for (int k = 0; k < n; k++)
            if (au_read_rows(it->t, it->row0 + rows[k], 1, out + (size_t)k * C)) return -1;
    } else { /* view rows are stored columns */
        float *tmp = buf(c, 10, (size_t)C * n), *sc = buf(c, 13, 256);
        if (!tmp || !sc || au_read_cols(it->t, it->row0, C, rows, n, tmp, sc)) return -1;
        for (int k = 0; k < n; k++)
            for (int j = 0; j < C; j++) out[(size_t)k * C + j] = tmp[(size_t)j * n + k];
    }
    if (v->signs)
        for (int k = 0; k < n; k++)
            for (int j = 0; j < C; j++)
                if (flip(v->signs, rows[k], j)) out[(size_t)k * C + j] = -out[(size_t)k * C + j];
    return 0;
}

/* columns cols[0..n) of every view row -> out [R x n] */
static int bv_cols(au_ctx *c, const bview *v, const int *cols, int n, float *out) {
    const au_item *it = v->it;
    int R = (int)v->R;
    if (!v->trans) {
        float *sc = buf(c, 13, 256);
        if (!sc || au_read_cols(it->t, it->row0, R, cols, n, out, sc)) return -1;
    } else { /* view columns are stored rows */
        float *tmp = buf(c, 10, (size_t)R);
        if (!tmp) return -1;
        for (int j = 0; j < n; j++) {
            if (au_read_rows(it->t, it->row0 + cols[j], 1, tmp)) return -1;
            for (int r = 0; r < R; r++) out[(size_t)r * n + j] = tmp[r];
        }
    }
    if (v->signs)
        for (int r = 0; r < R; r++)
            for (int j = 0; j < n; j++)
                if (flip(v->signs, r, cols[j])) out[(size_t)r * n + j] = -out[(size_t)r * n + j];
    return 0;
}

/* raw sums of a row profile: sum |x|, x^2, |x|^3, x^4, x, x|x|^2, max |x| (8 lanes) */
static void prof_row(const float *x, int n, float m[7]) {
    float a1[8] = {0}, a2[8] = {0}, a3[8] = {0}, a4[8] = {0}, a5[8] = {0}, a6[8] = {0}, mx[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            float v = x[j + l], a = fabsf(v), q = a * a;
            a1[l] += a, a2[l] += q, a3[l] += q * a, a4[l] += q * q, a5[l] += v, a6[l] += v * q;
            mx[l] = a > mx[l] ? a : mx[l];
        }
    for (; j < n; j++) {
        float v = x[j], a = fabsf(v), q = a * a;
        a1[0] += a, a2[0] += q, a3[0] += q * a, a4[0] += q * q, a5[0] += v, a6[0] += v * q;
        mx[0] = a > mx[0] ? a : mx[0];
    }
    for (int k = 0; k < 7; k++) m[k] = 0;
    for (int l = 0; l < 8; l++) {
        m[0] += a1[l], m[1] += a2[l], m[2] += a3[l], m[3] += a4[l], m[4] += a5[l], m[5] += a6[l];
        m[6] = mx[l] > m[6] ? mx[l] : m[6];
    }
}

/* profile features (see match_rows_profile) from raw sums over n values, in units of rms 1/inv */
static void prof_feat(const float m[7], int n, double inv, float *d) {
    memset(d, 0, NQ * sizeof *d);
    d[1] = (float)(m[0] / n * inv), d[2] = (float)(sqrt(m[1] / n) * inv), d[3] = (float)(cbrt(m[2] / n) * inv);
    d[4] = (float)(pow(m[3] / n, 0.25) * inv), d[5] = (float)(m[4] / n * inv), d[6] = (float)(cbrt(m[5] / n) * inv);
    d[7] = (float)(m[6] * inv / sqrt(2 * log((double)n + 1)));
}

#define PROF_CHUNK 16
/* one pass over B: the profile of every view row -> D [R x NQ] */
static int bv_profile(au_ctx *c, const bview *v, float *D) {
    const au_item *it = v->it;
    int64_t Rs = it->rows, Cs = it->cols; /* stored */
    float *chunk = buf(c, 12, (size_t)PROF_CHUNK * Cs);
    float *acc = v->trans ? buf(c, 11, (size_t)7 * Cs) : NULL;
    if (!chunk || (v->trans && !acc)) return -1;
    if (acc) {
        memset(acc, 0, (size_t)7 * Cs * sizeof *acc);
        for (int64_t j = 0; j < Cs; j++) acc[6 * Cs + j] = 0;
    }
    double q = 0;
    float m[7];
    for (int64_t r0 = 0; r0 < Rs; r0 += PROF_CHUNK) {
        int n = (int)(Rs - r0 < PROF_CHUNK ? Rs - r0 : PROF_CHUNK);
        if (au_read_rows(it->t, it->row0 + r0, n, chunk)) return -1;
        if (v->signs)
            for (int k = 0; k < n; k++)
                for (int64_t j = 0; j < Cs; j++) {
                    int64_t vr = v->trans ? j : r0 + k, vc = v->trans ? r0 + k : j;
                    if (flip(v->signs, vr, vc)) chunk[k * Cs + j] = -chunk[k * Cs + j];
                }
        for (int k = 0; k < n; k++) {
            const float *x = chunk + (size_t)k * Cs;
            if (!v->trans) {
                prof_row(x, (int)Cs, m);
                memcpy(D + (size_t)(r0 + k) * NQ, m, 7 * sizeof *m); /* raw sums for now */
                q += m[1];
            } else {
                for (int64_t j = 0; j < Cs; j++) {
                    float val = x[j], a = fabsf(val), a2 = a * a;
                    acc[j] += a, acc[Cs + j] += a2, acc[2 * Cs + j] += a2 * a, acc[3 * Cs + j] += a2 * a2;
                    acc[4 * Cs + j] += val, acc[5 * Cs + j] += val * a2;
                    acc[6 * Cs + j] = a > acc[6 * Cs + j] ? a : acc[6 * Cs + j];
                    q += a2;
                }
            }
        }
    }
    double inv = q > 0 ? 1.0 / sqrt(q / ((double)Rs * Cs)) : 0;
    int n = (int)v->C;
    for (int64_t r = 0; r < v->R; r++) {
        if (v->trans)
            for (int k = 0; k < 7; k++) m[k] = acc[k * Cs + r];
        else
            memcpy(m, D + (size_t)r * NQ, 7 * sizeof *m);
        prof_feat(m, n, inv, D + (size_t)r * NQ);
    }
    return 0;
}

typedef struct {
    au_ctx *c;
    const float *A;     /* [SA x C] sampled rows of A */
    const bview *bv;
    const float *Bs;    /* !rows_all: [SA x C] the same sample of B's rows (the candidates) */
    int SA, RB, C, CA;
    const int *ja;      /* CA columns of A used for matching */
    omnic_dtype dta, dtb;
    int *rowmap, *colmap; /* SA -> B row (view row, or index into the sample), CA -> B column */
    int *tmpi, *order;
    float *tmpf, *gap;
    char *taken;
    float *Brow;        /* [SA x C] B's rows rowmap (load_rows) */
    float *prof;        /* [RB x NQ] B's row profiles, once computed */
    const au_item *ait; /* A's tensor (for its rms over all rows) */
    int early;          /* drop a hypothesis when its first step finds nothing (large matrices) */
    int err;
} search_t;

/* Brow <- B's rows rowmap */
static void load_rows(search_t *s) {
    size_t C = (size_t)s->C;
    if (s->Bs) {
        for (int k = 0; k < s->SA; k++) memcpy(s->Brow + k * C, s->Bs + (size_t)s->rowmap[k] * C, C * sizeof(float));
    } else if (bv_rows(s->c, s->bv, s->rowmap, s->SA, s->Brow)) {
        s->err = 1;
    }
}

/* out [RB x CA] <- every candidate row of B at columns colmap */
static void load_cols(search_t *s, float *out) {
    int CA = s->CA;
    if (s->Bs) {
        for (int r = 0; r < s->RB; r++)
            for (int j = 0; j < CA; j++) out[(size_t)r * CA + j] = s->Bs[(size_t)r * s->C + s->colmap[j]];
    } else if (bv_cols(s->c, s->bv, s->colmap, CA, out)) {
        s->err = 1;
        memset(out, 0, (size_t)s->RB * CA * sizeof *out);
    }
}

/* columns given the rows (Brow loaded for rowmap); returns whether the
 * matches look real (assign) */
static int match_cols(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, C = s->C, CA = s->CA;
    float *XA = buf(c, 2, (size_t)CA * SA), *XB = buf(c, 3, (size_t)C * SA), *S = buf(c, 4, (size_t)CA * C);
    for (int j = 0; j < CA; j++) {
        for (int k = 0; k < SA; k++) XA[(size_t)j * SA + k] = s->A[(size_t)k * C + s->ja[j]];
        standardise(XA + (size_t)j * SA, SA);
    }
    for (int j = 0; j < C; j++) {
        for (int k = 0; k < SA; k++) XB[(size_t)j * SA + k] = s->Brow[(size_t)k * C + j];
        standardise(XB + (size_t)j * SA, SA);
    }
    gemm_nt(c, XA, CA, XB, C, SA, S);
    return assign(S, CA, C, s->colmap, s->order, s->tmpf, s->gap, s->taken);
}

/* rows given the columns; reloads Brow; returns whether the matches look real */
static int match_rows(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, RB = s->RB, C = s->C, CA = s->CA;
    float *YA = buf(c, 2, (size_t)SA * CA), *YB = buf(c, 3, (size_t)RB * CA), *S = buf(c, 4, (size_t)SA * RB);
    for (int k = 0; k < SA; k++) {
        for (int j = 0; j < CA; j++) YA[(size_t)k * CA + j] = s->A[(size_t)k * C + s->ja[j]];
        standardise(YA + (size_t)k * CA, CA);
    }
    load_cols(s, YB);
    for (int r = 0; r < RB; r++) standardise(YB + (size_t)r * CA, CA);
    gemm_nt(c, YA, SA, YB, RB, CA, S);
    int real = assign(S, SA, RB, s->rowmap, s->order, s->tmpf, s->gap, s->taken);
    load_rows(s);
    return real;
}

/* rows matched by profiles invariant to column order: power means of |x|
 * (p = 1, 2, 3, 4), mean, signed cube-root third moment and max |x|,
 * in units of the matrix's rms (one pass over B); reloads Brow */
static void match_rows_profile(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, RB = s->RB, C = s->C;
    float *DA = buf(c, 2, (size_t)SA * NQ), *S = buf(c, 4, (size_t)SA * RB);
    if (!s->prof) {
        float *DB = buf(c, 14, (size_t)RB * NQ);
        if (s->Bs) { /* the sample in memory */
            double q = 0;
            float m[7];
            for (int r = 0; r < RB; r++) {
                prof_row(s->Bs + (size_t)r * C, C, m);
                memcpy(DB + (size_t)r * NQ, m, 7 * sizeof *m);
                q += m[1];
            }
            double inv = q > 0 ? 1.0 / sqrt(q / ((double)RB * C)) : 0;
            for (int r = 0; r < RB; r++) {
                memcpy(m, DB + (size_t)r * NQ, 7 * sizeof *m);
                prof_feat(m, C, inv, DB + (size_t)r * NQ);
            }
        } else if (bv_profile(c, s->bv, DB)) {
            s->err = 1;
            memset(DB, 0, (size_t)RB * NQ * sizeof *DB);
        }
        s->prof = DB;
    }
    const float *DB = s->prof;
    {
        double q = 0;
        float m[7];
        for (int k = 0; k < SA; k++) {
            prof_row(s->A + (size_t)k * C, C, m);
            memcpy(DA + (size_t)k * NQ, m, 7 * sizeof *m);
            q += m[1];
        }
        double nq = (double)SA * C;
        if (s->ait->rows > SA) { /* B's profiles are in units of B's rms over every row: A's too */
            float *chunk = buf(c, 12, (size_t)PROF_CHUNK * C);
            q = 0, nq = (double)s->ait->rows * C;
            for (int64_t r0 = 0; chunk && r0 < s->ait->rows; r0 += PROF_CHUNK) {
                int n = (int)(s->ait->rows - r0 < PROF_CHUNK ? s->ait->rows - r0 : PROF_CHUNK);
                if (au_read_rows(s->ait->t, s->ait->row0 + r0, n, chunk)) {
                    s->err = 1;
                    break;
                }
                float acc[8] = {0};
                for (size_t i = 0; i + 8 <= (size_t)n * C; i += 8)
                    for (int l = 0; l < 8; l++) acc[l] += chunk[i + l] * chunk[i + l];
                for (size_t i = (size_t)n * C / 8 * 8; i < (size_t)n * C; i++) acc[0] += chunk[i] * chunk[i];
                for (int l = 0; l < 8; l++) q += acc[l];
            }
        }
        double inv = q > 0 ? 1.0 / sqrt(q / nq) : 0;
        for (int k = 0; k < SA; k++) {
            memcpy(m, DA + (size_t)k * NQ, 7 * sizeof *m);
            prof_feat(m, C, inv, DA + (size_t)k * NQ);
        }
    }
    /* -|da - db|^2 in double: neighbouring profiles of a large matrix differ by
     * far less than float rounding of a product form would resolve */
    for (int k = 0; k < SA; k++)
        for (int r = 0; r < RB; r++) {
            double d2 = 0;
            for (int q = 0; q < NQ; q++) {
                double d = (double)DA[(size_t)k * NQ + q] - DB[(size_t)r * NQ + q];
                d2 += d * d;
            }
            S[(size_t)k * RB + r] = (float)-sqrt(d2);
        }
    assign(S, SA, RB, s->rowmap, s->order, s->tmpf, s->gap, s->taken);
    load_rows(s);
}

/* Sinkhorn-style balancing: unit rms rows and columns */
static void balance(float *M, int R, int C, float *cs) {
    for (int it = 0; it < 4; it++) {
        for (int r = 0; r < R; r++) {
            double q = 0;
            for (int j = 0; j < C; j++) q += (double)M[(size_t)r * C + j] * M[(size_t)r * C + j];
            float f = q > 0 ? (float)sqrt(C / q) : 0.f;
            for (int j = 0; j < C; j++) M[(size_t)r * C + j] *= f;
        }
        if (C < 2 || R < 2) break;
        for (int j = 0; j < C; j++) cs[j] = 0;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < C; j++) cs[j] += M[(size_t)r * C + j] * M[(size_t)r * C + j];
        for (int j = 0; j < C; j++) cs[j] = cs[j] > 0 ? sqrtf(R / cs[j]) : 0.f;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < C; j++) M[(size_t)r * C + j] *= cs[j];
    }
}

typedef struct { double corr, resid, qnoise; } evres;

/* statistics of A's sampled rows against B's rows rowmap (Brow), columns
 * (ja[j] of A <-> colmap[j] of B, j < ne); full != 0 when ja is every column in order */
static evres evaluate(search_t *s, int ne, int full) {
    au_ctx *c = s->c;
    int SA = s->SA, C = s->C;
    float *PA = buf(c, 2, (size_t)SA * ne), *PB = buf(c, 3, (size_t)SA * ne), *cs = buf(c, 5, (size_t)ne);
    for (int k = 0; k < SA; k++)
        for (int j = 0; j < ne; j++) {
            PA[(size_t)k * ne + j] = s->A[(size_t)k * C + s->ja[j]];
            PB[(size_t)k * ne + j] = s->Brow[(size_t)k * C + s->colmap[j]];
        }
    evres e = {0, 1, 0};
    /* residual with per-row scale, requantized to the coarser storage */
    int ra = rank_of(s->dta), rb = rank_of(s->dtb);
    int swap = ra > rb; /* quantize B's rows instead */
    omnic_dtype q = swap ? s->dta : s->dtb;
    int reproduce = full && rank_of(q) > 0 && ra != rb && dtype_row_bytes(q, ne) > 0;
    if (!full && rank_of(q) > 0) reproduce = 0;
    float *x = buf(c, 6, (size_t)ne), *y = buf(c, 7, (size_t)ne);
    uint8_t *qb = (uint8_t *)buf(c, 4, (size_t)ne * 2 + 64);
    double err = 0, nb = 0, qn = 0, nx = 0;
    for (int k = 0; k < SA; k++) {
        const float *a = (swap ? PB : PA) + (size_t)k * ne, *b = (swap ? PA : PB) + (size_t)k * ne;
        double ab = 0, aa = 0;
        for (int j = 0; j < ne; j++) ab += (double)a[j] * b[j], aa += (double)a[j] * a[j];
        double ls = aa > 0 ? ab / aa : 0;
        /* the least-squares scale, and the same rounded to 3 significant digits
         * and 2, and 1 (a folded multiplier or a deliberate rescale is usually a
         * round number, which then requantizes exactly) */
        double snap = ls != 0 ? pow(10, floor(log10(fabs(ls))) - 2) : 1;
        double cand[4] = {ls, snap * round(ls / snap), 10 * snap * round(ls / (10 * snap)), 1.0};
        int ncand = rank_of(q) > 0 ? 4 : 1;
        double best_e = -1, best_qn = 0, best_nx = 0;
        for (int ci = 0; ci < ncand; ci++) {
            float sc = (float)cand[ci];
            double e2 = 0, q2 = 0, x2 = 0;
            for (int j = 0; j < ne; j++) x[j] = sc * a[j];
            if (rank_of(q) > 0 && dtype_row_bytes(q, ne) > 0 && !quant_row(q, x, qb, ne) && !dequant_row(q, qb, y, ne)) {
                for (int j = 0; j < ne; j++) q2 += (double)(y[j] - x[j]) * (y[j] - x[j]), x2 += (double)x[j] * x[j];
                if (!reproduce) memcpy(y, x, (size_t)ne * sizeof *y);
            } else {
                memcpy(y, x, (size_t)ne * sizeof *y);
            }
            for (int j = 0; j < ne; j++) e2 += (double)(b[j] - y[j]) * (b[j] - y[j]);
            if (best_e < 0 || e2 < best_e) best_e = e2, best_qn = q2, best_nx = x2;
        }
        err += best_e, qn += best_qn, nx += best_nx;
        for (int j = 0; j < ne; j++) nb += (double)b[j] * b[j];
    }
    double rq = nb > 0 ? sqrt(err / nb) : 1;
    e.qnoise = nx > 0 ? sqrt(qn / nx) : 0;
    /* balanced correlation */
    balance(PA, SA, ne, cs);
    balance(PB, SA, ne, cs);
    size_t n = (size_t)SA * ne;
    double sa = 0, sb = 0;
    for (size_t i = 0; i < n; i++) sa += PA[i], sb += PB[i];
    double ma = sa / n, mb = sb / n, xy = 0, xx = 0, yy = 0, uxy = 0, uxx = 0, uyy = 0;
    for (size_t i = 0; i < n; i++) {
        double u = PA[i] - ma, v = PB[i] - mb;
        xy += u * v, xx += u * u, yy += v * v;
        uxy += (double)PA[i] * PB[i], uxx += (double)PA[i] * PA[i], uyy += (double)PB[i] * PB[i];
    }
    e.corr = xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
    double cu = uxx > 0 && uyy > 0 ? uxy / sqrt(uxx * uyy) : 0;
    double rbal = cu > 0 ? sqrt(fmax(0, 1 - cu * cu)) : 1;
    e.resid = fmin(rq, rbal);
    return e;
}

/* all hypotheses on one orientation of B; returns the best (by corr). On
 * large matrices a hypothesis is dropped after its first matching step when
 * no match stands out (assign): unrelated tensors then cost one step per
 * hypothesis instead of four, and the null (mismatched layers) goes through
 * the same rule. Small matrices always refine (a weak start, as after
 * permutation plus heavy fine-tuning, still converges there). */
static evres search(search_t *s, const int *ia, int rows_all, int *pr, int *pc) {
    int SA = s->SA, C = s->C, CA = s->CA, full = CA == C;
    /* identity */
    for (int k = 0; k < SA; k++) s->rowmap[k] = rows_all ? ia[k] : k;
    for (int j = 0; j < CA; j++) s->colmap[j] = s->ja[j];
    load_rows(s);
    evres best = evaluate(s, CA, full);
    *pr = *pc = 0;
    if (best.corr >= 0.6 || SA < 8 || C < 8) return best;
    for (int h = 0; h < 3; h++) {
        if (h > 0 && !rows_all) break;
        if (h == 0) { /* rows as stored: columns, rows, columns */
            for (int k = 0; k < SA; k++) s->rowmap[k] = rows_all ? ia[k] : k;
            load_rows(s);
            if (!match_cols(s) && s->early) continue;
            if (rows_all) match_rows(s);
            match_cols(s);
        } else if (h == 1) { /* rows by profile */
            match_rows_profile(s);
            if (!match_cols(s) && s->early) continue;
            match_rows(s);
            match_cols(s);
        } else { /* columns as stored: rows, columns, rows */
            for (int j = 0; j < CA; j++) s->colmap[j] = s->ja[j];
            if (!match_rows(s) && s->early) continue;
            match_cols(s);
            match_rows(s);
        }
        evres e = evaluate(s, CA, full);
        if (e.corr > best.corr) {
            best = e;
            int prr = 0, pcc = 0;
            for (int k = 0; k < SA; k++) prr |= s->rowmap[k] != (rows_all ? ia[k] : k);
            for (int j = 0; j < CA; j++) pcc |= s->colmap[j] != s->ja[j];
            *pr = prr, *pc = pcc;
        }
        if (best.corr >= 0.9) break;
    }
    return best;
}

static int read_item_rows(const au_item *it, const int *idx, int n, float *out) {
    for (int k = 0; k < n; k++)
        if (au_read_rows(it->t, it->row0 + idx[k], 1, out + (size_t)k * it->cols)) return -1;
    return 0;
}

static void shape_str(const au_item *it, char *s, size_t n) {
    if (it->part || it->t->ndim <= 1) snprintf(s, n, "[%lld x %lld]", (long long)it->rows, (long long)it->cols);
    else {
        size_t o = 0;
        o += (size_t)snprintf(s + o, n - o, "[");
        for (int k = 0; k < it->t->ndim && o < n; k++)
            o += (size_t)snprintf(s + o, n - o, "%s%lld", k ? ", " : "", (long long)it->t->shape[k]);
        if (o < n) snprintf(s + o, n - o, "]");
    }
}

/* The as-stored comparison of x and y (n values): cosine, Pearson correlation and
 * relative L2 distance into st, untrained = 2 when either side is constant.
 * Returns the raw products (x.y, x.x, y.y) for callers that need more. */
typedef struct { double ab, aa, bb; } dots;
static dots as_stored(const float *x, const float *y, size_t n, au_stats *st) {
    double ab = 0, aa = 0, bb = 0, sa = 0, sb = 0, d2 = 0;
    for (size_t j = 0; j < n; j++) {
        ab += (double)x[j] * y[j], aa += (double)x[j] * x[j], bb += (double)y[j] * y[j];
        sa += x[j], sb += y[j], d2 += (double)(x[j] - y[j]) * (x[j] - y[j]);
    }
    st->cos = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
    double cxy = ab - sa * sb / n, cxx = aa - sa * sa / n, cyy = bb - sb * sb / n;
    st->pearson = cxx > 1e-30 && cyy > 1e-30 ? cxy / sqrt(cxx * cyy) : 0;
    st->rel_l2 = aa > 0 ? sqrt(d2 / aa) : 0;
    if (cxx <= 1e-30 * (aa + 1e-30) || cyy <= 1e-30 * (bb + 1e-30)) st->untrained = 2;
    return (dots){ab, aa, bb};
}

void au_compare(au_ctx *c, const au_item *a, const au_item *b, au_stats *st) {
    memset(st, 0, sizeof *st);
    st->resid = 1;
    if ((int)a->t->dt < 0 || (int)b->t->dt < 0) {
        snprintf(st->why, sizeof st->why, "%s: storage type not readable", (int)a->t->dt < 0 ? "A" : "B");
        return;
    }
    int64_t Ra = a->rows, Ca = a->cols, Rb = b->rows, Cb = b->cols;
    int vec = a->t->ndim <= 1 && b->t->ndim <= 1;
    int trans = 0;
    if (Ra == Rb && Ca == Cb) trans = 0;
    else if (!vec && Ra == Cb && Ca == Rb) trans = 1;
    else {
        char sa[96], sb[96];
        shape_str(a, sa, sizeof sa);
        shape_str(b, sb, sizeof sb);
        snprintf(st->why, sizeof st->why, "shape %s vs %s", sa, sb);
        return;
    }
    if (vec) { /* vectors: whole, as stored */
        int64_t n = Ra * Ca;
        float *x = buf(c, 0, (size_t)n), *y = buf(c, 1, (size_t)n);
        if (!x || !y) goto nomem;
        if (au_read_rows(a->t, a->row0, n, x) || au_read_rows(b->t, b->row0, n, y)) goto rderr;
        dots d = as_stored(x, y, (size_t)n, st);
        st->corr = st->pearson;
        double s = d.aa > 0 ? d.ab / d.aa : 0;
        st->resid = d.bb > 0 ? sqrt(fmax(0, d.bb - 2 * s * d.ab + s * s * d.aa) / d.bb) : 0;
        st->ok = 1;
        return;
    }
    int C = (int)Ca;
    int big = Ra * Ca > (4ll << 20); /* large matrices: half the samples (4x less work) */
    int maxr = big ? (c->o.max_rows + 1) / 2 : c->o.max_rows, maxc = big ? (c->o.max_cols + 1) / 2 : c->o.max_cols;
    int SA = (int)(Ra < maxr ? Ra : maxr);
    int CA = C <= maxc ? C : maxc;
    int rows_all = Ra <= B_ROWS_MAX;
    int RB = rows_all ? (int)Ra : SA;
    bview bv = {b, trans, Ra, Ca, c->null_signs};
    int *ia = malloc((size_t)SA * sizeof *ia), *ja = malloc((size_t)CA * sizeof *ja);
    int *rowmap = malloc((size_t)SA * sizeof *rowmap), *colmap = malloc((size_t)CA * sizeof *colmap);
    int nmax = SA > CA ? SA : CA;
    int *order = malloc((size_t)nmax * sizeof *order);
    float *tmpf = malloc((size_t)nmax * sizeof *tmpf), *gap = malloc((size_t)nmax * sizeof *gap);
    char *taken = malloc((size_t)(RB > C ? RB : C));
    float *A = buf(c, 0, (size_t)SA * C), *Brow = buf(c, 8, (size_t)SA * C), *Bs = NULL;
    if (!ia || !ja || !rowmap || !colmap || !order || !tmpf || !gap || !taken || !A || !Brow) goto nomem_f;
    for (int k = 0; k < SA; k++) ia[k] = (int)((int64_t)k * Ra / SA);
    for (int j = 0; j < CA; j++) ja[j] = (int)((int64_t)j * C / CA);
    if (read_item_rows(a, ia, SA, A)) goto rderr_f;
    if (!rows_all) { /* B's candidates: the same sample of rows */
        Bs = buf(c, 1, (size_t)SA * C);
        if (!Bs) goto nomem_f;
        if (bv_rows(c, &bv, ia, SA, Bs)) goto rderr_f;
    }
    search_t s = {c, A, &bv, Bs, SA, RB, C, CA, ja, a->t->dt, b->t->dt, rowmap, colmap, NULL, order, tmpf, gap,
                  taken, Brow, NULL, a, big, 0};
    /* as stored (name-aligned), on the sampled rows */
    {
        for (int k = 0; k < SA; k++) rowmap[k] = rows_all ? ia[k] : k;
        load_rows(&s);
        if (s.err) goto rderr_f;
        as_stored(A, Brow, (size_t)SA * C, st); /* rows of A and Brow are contiguous */
    }
    if (!st->untrained) st->untrained = au_untrained(a) ? 1 : au_untrained(b) ? 1 : 0;
    st->verdict_use = !st->untrained && Ra >= 8 && Ca >= 8 && Ra * Ca >= 1024;
    {
        int pr, pc;
        evres e = search(&s, ia, rows_all, &pr, &pc);
        st->corr = e.corr, st->resid = e.resid, st->qnoise = e.qnoise;
        st->perm_rows = pr, st->perm_cols = pc, st->transposed = trans;
        /* a square matrix might be stored transposed */
        if (!trans && e.corr < 0.6 && Ra == Ca && rows_all) {
            bview bt = bv;
            bt.trans = 1;
            s.bv = &bt, s.prof = NULL;
            evres e2;
            if (big) { /* large: the transposed layout as stored only */
                for (int k = 0; k < SA; k++) rowmap[k] = ia[k];
                for (int j = 0; j < CA; j++) colmap[j] = ja[j];
                load_rows(&s);
                e2 = evaluate(&s, CA, CA == C);
                pr = pc = 0;
            } else {
                e2 = search(&s, ia, rows_all, &pr, &pc);
            }
            if (e2.corr > e.corr) {
                st->corr = e2.corr, st->resid = e2.resid, st->qnoise = e2.qnoise;
                st->perm_rows = pr, st->perm_cols = pc, st->transposed = 1;
            }
        }
    }
    if (s.err) goto rderr_f;
    st->ok = 1;
    free(ia), free(ja), free(rowmap), free(colmap), free(order), free(tmpf), free(gap), free(taken);
    return;
nomem_f:
    free(ia), free(ja), free(rowmap), free(colmap), free(order), free(tmpf), free(gap), free(taken);
nomem:
    snprintf(st->why, sizeof st->why, "out of memory");
    return;
rderr_f:
    free(ia), free(ja), free(rowmap), free(colmap), free(order), free(tmpf), free(gap), free(taken);
rderr:
    snprintf(st->why, sizeof st->why, "read error");
}

/* sinusoidal tables: Whisper's (sin of the first half, cos of the second,
 * timescales 10000^(-i/(D/2-1))), the interleaved and the concatenated
 * 10000^(-2i/D) forms; compared on up to 64 rows */
int au_untrained(const au_item *it) {
    const au_tensor *t = it->t;
    if (t->ndim != 2 || it->part || it->rows < 16 || it->cols < 8 || it->cols % 2) return 0;
    int D = (int)it->cols, n = it->rows < 64 ? (int)it->rows : 64, h = D / 2;
    float *row = malloc((size_t)D * sizeof *row);
    if (!row) return 0;
    double err[3] = {0, 0, 0};
    /* quick reject: row 0 of every layout holds only 0 (sin) and 1 (cos) */
    if (au_read_rows(t, 0, 1, row)) {
        free(row);
        return 0;
    }
    for (int i = 0; i < D; i++)
        if (fabsf(row[i]) > 2e-2f && fabsf(row[i] - 1) > 2e-2f) {
            free(row);
            return 0;
        }
    for (int k = 0; k < n; k++) {
        int64_t r = (int64_t)k * it->rows / n;
        if (au_read_rows(t, r, 1, row)) {
            free(row);
            return 0;
        }
        for (int i = 0; i < h; i++) {
            double w0 = exp(-log(10000.0) * i / (h > 1 ? h - 1 : 1)), w1 = exp(-log(10000.0) * 2.0 * i / D);
            double e0 = fmax(fabs(row[i] - sin(r * w0)), fabs(row[h + i] - cos(r * w0)));
            double e1 = fmax(fabs(row[2 * i] - sin(r * w1)), fabs(row[2 * i + 1] - cos(r * w1)));
            double e2 = fmax(fabs(row[i] - sin(r * w1)), fabs(row[h + i] - cos(r * w1)));
            err[0] = fmax(err[0], e0), err[1] = fmax(err[1], e1), err[2] = fmax(err[2], e2);
        }
    }
    free(row);
    return err[0] < 2e-2 || err[1] < 2e-2 || err[2] < 2e-2;
}
