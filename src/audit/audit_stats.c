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
 * Only one tensor of each checkpoint is in memory (as float32) at a time;
 * large tensors are subsampled by rows (max_rows of A; all rows of B up to a
 * bound, for the assignment). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_impl.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

#define B_FULL_MAX (64ll << 20) /* elements of B read whole for the assignment */
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
    kweight w = {Y, DT_F32, m, k, 0};
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

/* greedy one-to-one assignment of n rows to m >= n columns maximising S */
static void assign(const float *S, int n, int m, int *map, int *order, float *best, char *taken) {
    for (int i = 0; i < n; i++) {
        int b = 0;
        for (int j = 1; j < m; j++)
            if (S[(size_t)i * m + j] > S[(size_t)i * m + b]) b = j;
        map[i] = b, best[i] = S[(size_t)i * m + b], order[i] = i;
    }
    /* rows with the most confident match first (insertion sort on small n, else qsort-free shell) */
    for (int gap = n / 2; gap > 0; gap /= 2)
        for (int i = gap; i < n; i++)
            for (int j = i; j >= gap && best[order[j - gap]] < best[order[j]]; j -= gap) {
                int t = order[j];
                order[j] = order[j - gap], order[j - gap] = t;
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
}

typedef struct {
    au_ctx *c;
    const float *A;     /* [SA x C] sampled rows of A */
    const float *B;     /* [RB x C] rows of B (all, or the same sample) */
    int SA, RB, C, CA;
    const int *ja;      /* CA columns of A used for matching */
    omnic_dtype dta, dtb;
    int *rowmap, *colmap; /* SA -> B row, CA -> B column */
    int *tmpi, *order;
    float *tmpf;
    char *taken;
} search_t;

static void match_cols(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, C = s->C, CA = s->CA;
    float *XA = buf(c, 2, (size_t)CA * SA), *XB = buf(c, 3, (size_t)C * SA), *S = buf(c, 4, (size_t)CA * C);
    for (int j = 0; j < CA; j++) {
        for (int k = 0; k < SA; k++) XA[(size_t)j * SA + k] = s->A[(size_t)k * C + s->ja[j]];
        standardise(XA + (size_t)j * SA, SA);
    }
    for (int j = 0; j < C; j++) {
        for (int k = 0; k < SA; k++) XB[(size_t)j * SA + k] = s->B[(size_t)s->rowmap[k] * C + j];
        standardise(XB + (size_t)j * SA, SA);
    }
    gemm_nt(c, XA, CA, XB, C, SA, S);
    assign(S, CA, C, s->colmap, s->order, s->tmpf, s->taken);
}

static void match_rows(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, RB = s->RB, C = s->C, CA = s->CA;
    float *YA = buf(c, 2, (size_t)SA * CA), *YB = buf(c, 3, (size_t)RB * CA), *S = buf(c, 4, (size_t)SA * RB);
    for (int k = 0; k < SA; k++) {
        for (int j = 0; j < CA; j++) YA[(size_t)k * CA + j] = s->A[(size_t)k * C + s->ja[j]];
        standardise(YA + (size_t)k * CA, CA);
    }
    for (int r = 0; r < RB; r++) {
        for (int j = 0; j < CA; j++) YB[(size_t)r * CA + j] = s->B[(size_t)r * C + s->colmap[j]];
        standardise(YB + (size_t)r * CA, CA);
    }
    gemm_nt(c, YA, SA, YB, RB, CA, S);
    assign(S, SA, RB, s->rowmap, s->order, s->tmpf, s->taken);
}

/* rows matched by profiles invariant to column order: power means of |x|
 * (p = 1, 2, 3, 4), mean, signed cube-root third moment and max |x|,
 * in units of the matrix's rms (O(cols) per row) */
static void match_rows_profile(search_t *s) {
    au_ctx *c = s->c;
    int SA = s->SA, RB = s->RB, C = s->C;
    float *DA = buf(c, 2, (size_t)SA * NQ), *DB = buf(c, 3, (size_t)RB * NQ), *S = buf(c, 4, (size_t)SA * RB);
    for (int side = 0; side < 2; side++) {
        const float *M = side ? s->B : s->A;
        int R = side ? RB : SA;
        float *D = side ? DB : DA;
        double q = 0;
        for (size_t i = 0; i < (size_t)R * C; i++) q += (double)M[i] * M[i];
        double inv = q > 0 ? 1.0 / sqrt(q / ((double)R * C)) : 0;
        for (int r = 0; r < R; r++) {
            const float *x = M + (size_t)r * C;
            float m[8] = {0}, mx = 0, fi = (float)inv;
            for (int j = 0; j < C; j++) {
                float v = x[j] * fi, a = fabsf(v), a2 = a * a;
                m[1] += a, m[2] += a2, m[3] += a2 * a, m[4] += a2 * a2, m[5] += v, m[6] += v * a2;
                mx = a > mx ? a : mx;
            }
            float *d = D + (size_t)r * NQ;
            memset(d, 0, NQ * sizeof *d);
            d[0] = 0, d[1] = (float)(m[1] / C), d[2] = (float)sqrt(m[2] / C);
            d[3] = (float)cbrt(m[3] / C), d[4] = (float)pow(m[4] / C, 0.25), d[5] = (float)(m[5] / C);
            d[6] = (float)cbrt(m[6] / C), d[7] = mx / (float)sqrt(2 * log((double)C + 1));
        }
    }
    gemm_nt(c, DA, SA, DB, RB, NQ, S);
    for (int r = 0; r < RB; r++) { /* -|da - db|^2 up to a per-row constant */
        double nb = 0;
        for (int k = 0; k < NQ; k++) nb += (double)DB[(size_t)r * NQ + k] * DB[(size_t)r * NQ + k];
        for (int k = 0; k < SA; k++) S[(size_t)k * RB + r] = 2 * S[(size_t)k * RB + r] - (float)nb;
    }
    assign(S, SA, RB, s->rowmap, s->order, s->tmpf, s->taken);
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

/* statistics of A's sampled rows against B's rows rowmap, columns (ja[j] of A
 * <-> colmap[j] of B, j < ne); full != 0 when ja is every column in order */
static evres evaluate(search_t *s, int ne, int full) {
    au_ctx *c = s->c;
    int SA = s->SA, C = s->C;
    float *PA = buf(c, 2, (size_t)SA * ne), *PB = buf(c, 3, (size_t)SA * ne), *cs = buf(c, 5, (size_t)ne);
    for (int k = 0; k < SA; k++)
        for (int j = 0; j < ne; j++) {
            PA[(size_t)k * ne + j] = s->A[(size_t)k * C + s->ja[j]];
            PB[(size_t)k * ne + j] = s->B[(size_t)s->rowmap[k] * C + s->colmap[j]];
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

/* all hypotheses on one orientation of B; returns the best (by corr) */
static evres search(search_t *s, const int *ia, int rows_all, int *pr, int *pc) {
    int SA = s->SA, C = s->C, CA = s->CA, full = CA == C;
    /* identity */
    for (int k = 0; k < SA; k++) s->rowmap[k] = rows_all ? ia[k] : k;
    for (int j = 0; j < CA; j++) s->colmap[j] = s->ja[j];
    evres best = evaluate(s, CA, full);
    *pr = *pc = 0;
    if (best.corr >= 0.6 || SA < 8 || C < 8) return best;
    for (int h = 0; h < 3; h++) {
        if (h > 0 && !rows_all) break;
        if (h == 0) { /* rows as stored: columns, rows, columns */
            for (int k = 0; k < SA; k++) s->rowmap[k] = rows_all ? ia[k] : k;
            match_cols(s);
            if (rows_all) match_rows(s);
            match_cols(s);
        } else if (h == 1) { /* rows by profile */
            match_rows_profile(s);
            match_cols(s);
            match_rows(s);
            match_cols(s);
        } else { /* columns as stored: rows, columns, rows */
            for (int j = 0; j < CA; j++) s->colmap[j] = s->ja[j];
            match_rows(s);
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
    if (vec) Ra = Rb = Ra * Ca, Ca = Cb = 1;
    int C = (int)Ca;
    int big = Ra * Ca > (4ll << 20); /* large matrices: half the samples (4x less work) */
    int maxr = big ? (c->o.max_rows + 1) / 2 : c->o.max_rows, maxc = big ? (c->o.max_cols + 1) / 2 : c->o.max_cols;
    int SA = (int)(Ra < maxr ? Ra : maxr);
    if (vec) SA = (int)Ra;
    int *ia = malloc((size_t)SA * sizeof *ia);
    int rows_all = 0;
    float *A = buf(c, 0, (size_t)SA * C), *B = NULL;
    if (!ia || !A) goto nomem;
    for (int k = 0; k < SA; k++) ia[k] = (int)((int64_t)k * Ra / SA);
    if (vec) {
        if (au_read_rows(a->t, a->row0, Ra, A)) goto rderr;
    } else if (read_item_rows(a, ia, SA, A)) goto rderr;
    int64_t RB;
    if (trans) {
        if (Rb * Cb > B_FULL_MAX) {
            snprintf(st->why, sizeof st->why, "stored transposed and too large to transpose (%lld elements)",
                     (long long)(Rb * Cb));
            free(ia);
            return;
        }
        float *T = malloc((size_t)(Rb * Cb) * sizeof *T);
        B = buf(c, 1, (size_t)(Rb * Cb));
        if (!T || !B) { free(T); goto nomem; }
        if (au_read_rows(b->t, b->row0, Rb, T)) { free(T); goto rderr; }
        for (int64_t r = 0; r < Rb; r++)
            for (int64_t j = 0; j < Cb; j++) B[j * Rb + r] = T[r * Cb + j];
        free(T);
        RB = Cb, rows_all = 1;
    } else if (vec || (Rb <= B_ROWS_MAX && Rb * Cb <= B_FULL_MAX)) {
        B = buf(c, 1, (size_t)(Rb * Cb));
        if (!B) goto nomem;
        if (au_read_rows(b->t, b->row0, Rb, B)) goto rderr;
        RB = Rb, rows_all = 1;
    } else {
        B = buf(c, 1, (size_t)SA * C);
        if (!B) goto nomem;
        if (read_item_rows(b, ia, SA, B)) goto rderr;
        RB = SA;
    }
    if (c->null_signs && !vec) { /* null partner: D_r B D_c with random signs */
        for (int64_t r = 0; r < RB; r++) {
            uint32_t hr = (uint32_t)(r * 2654435761u) ^ c->null_signs;
            hr ^= hr >> 15, hr *= 0x2c1b3c6du, hr ^= hr >> 12;
            for (int j = 0; j < C; j++) {
                uint32_t hc = (uint32_t)(j * 2246822519u) ^ (c->null_signs * 0x9e3779b9u);
                hc ^= hc >> 13, hc *= 0x297a2d39u, hc ^= hc >> 16;
                if ((hr ^ hc) & 1) B[(size_t)r * C + j] = -B[(size_t)r * C + j];
            }
        }
    }
    /* as stored */
    {
        double ab = 0, aa = 0, bb = 0, sa = 0, sb = 0, d2 = 0;
        size_t n = (size_t)SA * C;
        for (int k = 0; k < SA; k++) {
            const float *x = A + (size_t)k * C, *y = B + (size_t)(rows_all ? ia[k] : k) * C;
            for (int j = 0; j < C; j++) {
                ab += (double)x[j] * y[j], aa += (double)x[j] * x[j], bb += (double)y[j] * y[j];
                sa += x[j], sb += y[j], d2 += (double)(x[j] - y[j]) * (x[j] - y[j]);
            }
        }
        st->cos = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
        double cxy = ab - sa * sb / n, cxx = aa - sa * sa / n, cyy = bb - sb * sb / n;
        st->pearson = cxx > 1e-30 && cyy > 1e-30 ? cxy / sqrt(cxx * cyy) : 0;
        st->rel_l2 = aa > 0 ? sqrt(d2 / aa) : 0;
        if (cxx <= 1e-30 * (aa + 1e-30) || cyy <= 1e-30 * (bb + 1e-30)) st->untrained = 2;
        if (vec) {
            st->corr = st->pearson;
            double s = aa > 0 ? ab / aa : 0;
            st->resid = bb > 0 ? sqrt(fmax(0, bb - 2 * s * ab + s * s * aa) / bb) : 0;
            st->ok = 1;
            free(ia);
            return;
        }
    }
    if (!st->untrained) st->untrained = au_untrained(a) ? 1 : au_untrained(b) ? 1 : 0;
    st->verdict_use = !st->untrained && Ra >= 8 && Ca >= 8 && Ra * Ca >= 1024;
    {
        int CA = C <= maxc ? C : maxc;
        int *ja = malloc((size_t)CA * sizeof *ja), *rowmap = malloc((size_t)SA * sizeof *rowmap);
        int *colmap = malloc((size_t)CA * sizeof *colmap), *order = malloc((size_t)(SA > CA ? SA : CA) * sizeof *order);
        float *tmpf = malloc((size_t)(SA > CA ? SA : CA) * sizeof *tmpf);
        char *taken = malloc((size_t)(RB > C ? RB : C));
        if (!ja || !rowmap || !colmap || !order || !tmpf || !taken) {
            free(ja), free(rowmap), free(colmap), free(order), free(tmpf), free(taken);
            goto nomem;
        }
        for (int j = 0; j < CA; j++) ja[j] = (int)((int64_t)j * C / CA);
        search_t s = {c, A, B, SA, (int)RB, C, CA, ja, a->t->dt, b->t->dt, rowmap, colmap, NULL, order, tmpf, taken};
        int pr, pc;
        evres e = search(&s, ia, rows_all, &pr, &pc);
        st->corr = e.corr, st->resid = e.resid, st->qnoise = e.qnoise;
        st->perm_rows = pr, st->perm_cols = pc, st->transposed = trans;
        /* a square matrix might be stored transposed */
        if (!trans && e.corr < 0.6 && Ra == Ca && rows_all && (size_t)Ra * Ca <= (size_t)B_FULL_MAX) {
            float *T = malloc((size_t)(Ra * Ca) * sizeof *T);
            if (T) {
                for (int64_t r = 0; r < Ra; r++)
                    for (int64_t j = 0; j < Ca; j++) T[j * Ra + r] = B[r * Ca + j];
                memcpy(B, T, (size_t)(Ra * Ca) * sizeof *T);
                free(T);
                evres e2;
                if (big) { /* large: the transposed layout as stored only */
                    for (int k = 0; k < SA; k++) rowmap[k] = ia[k];
                    for (int j = 0; j < CA; j++) colmap[j] = ja[j];
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
        free(ja), free(rowmap), free(colmap), free(order), free(tmpf), free(taken);
    }
    st->ok = 1;
    free(ia);
    return;
nomem:
    snprintf(st->why, sizeof st->why, "out of memory");
    free(ia);
    return;
rderr:
    snprintf(st->why, sizeof st->why, "read error");
    free(ia);
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
