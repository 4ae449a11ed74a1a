/* audit_verdict.c - run an audit: pair tensors by (component, layer, role),
 * with a by-shape fallback inside a layer block; compare every pair; build the
 * null distribution of independent pairs of the same architecture from
 * mismatched layers (A's layer i against B's layer i + s, same role: trained
 * layers are independent draws); aggregate per layer block with medians over
 * its trained matrices; give each block and component a verdict with the
 * margin to the null in standard deviations:
 *   same weights : median residual <= max(same_resid, 0.3 x quantization noise)
 *   derived      : margin >= z and aligned correlation >= min_corr
 *   independent  : otherwise.
 * A component is flagged (derived) as soon as one block is same/derived. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "core/error.h"
#include "kernels/kernels.h"

const char *au_verdict_name(int v) {
    switch (v) {
    case AU_V_INDEP: return "independent";
    case AU_V_DERIVED: return "derived (fine-tuned)";
    case AU_V_SAME: return "same weights";
    case AU_V_INCOMP: return "not comparable";
    default: return "-";
    }
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void mean_sd(const double *v, int n, double *mu, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mu = n ? s / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - *mu) * (v[i] - *mu);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

typedef struct { int comp, layer, shift; double corr; } nullsamp;

/* fingerprint mode (audit_fingerprint.c) */
int au_fp_items(json_t *fp, au_item **out, int *n, float **sketches, char (**shas)[65]);

static double sk_cos(const float *x, const float *y) {
    double xy = 0, xx = 0, yy = 0;
    for (int k = 0; k < AU_SKETCH; k++) xy += (double)x[k] * y[k], xx += (double)x[k] * x[k], yy += (double)y[k] * y[k];
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

static int add_line(au_result *r, const char *s) {
    char **m = realloc(r->missing, (size_t)(r->n_missing + 1) * sizeof *m);
    if (!m) return -1;
    r->missing = m;
    r->missing[r->n_missing++] = strdup(s);
    return 0;
}

int au_run(au_source *A, au_source *B, json_t *fp, int mask, const au_opts *o, au_result *r) {
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->path_a = A->path;
    snprintf(r->kind_a, sizeof r->kind_a, "%s", A->kind);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    au_item *ia = NULL, *ib = NULL;
    int na = 0, nb = 0, rc;
    float *skb = NULL, *ska = NULL;
    char(*shab)[65] = NULL;
    if ((rc = au_items(A, mask, &ia, &na))) return rc;
    if (fp) {
        r->fingerprint = 1;
        const char *src = json_string_value(json_object_get(fp, "source"));
        r->path_b = strdup(src ? src : "(fingerprint)");
        snprintf(r->kind_b, sizeof r->kind_b, "fingerprint");
        if ((rc = au_fp_items(fp, &ib, &nb, &skb, &shab))) goto out;
        int k = 0; /* keep B items of the selected components */
        for (int i = 0; i < nb; i++)
            if (mask & (1 << ib[i].comp)) {
                ib[k] = ib[i];
                memmove(skb + (size_t)k * AU_SKETCH, skb + (size_t)i * AU_SKETCH, AU_SKETCH * sizeof *skb);
                memcpy(shab[k], shab[i], 65);
                k++;
            }
        nb = k;
    } else {
        r->path_b = strdup(B->path);
        snprintf(r->kind_b, sizeof r->kind_b, "%s", B->kind);
        if ((rc = au_items(B, mask, &ib, &nb))) goto out;
    }
    /* ---- pairing ---- */
    int *bmatch = calloc((size_t)nb + 1, sizeof *bmatch), *amatch = malloc(((size_t)na + 1) * sizeof *amatch);
    r->pairs = calloc((size_t)na + 1, sizeof *r->pairs);
    if (!bmatch || !amatch || !r->pairs) {
        free(bmatch), free(amatch);
        rc = omnic_err(OMNIC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < na; i++) {
        amatch[i] = -1;
        for (int j = 0; j < nb; j++)
            if (!bmatch[j] && ib[j].comp == ia[i].comp && ib[j].layer == ia[i].layer && !strcmp(ib[j].role, ia[i].role)) {
                amatch[i] = j, bmatch[j] = 1;
                break;
            }
    }
    int *byshape = calloc((size_t)na + 1, sizeof *byshape);
    for (int i = 0; byshape && i < na; i++) { /* unique same-shape partner in the same block */
        if (amatch[i] >= 0) continue;
        int cand = -1, nc = 0;
        for (int j = 0; j < nb; j++)
            if (!bmatch[j] && ib[j].comp == ia[i].comp && ib[j].layer == ia[i].layer &&
                ib[j].rows * ib[j].cols == ia[i].rows * ia[i].cols && (ib[j].rows == ia[i].rows || ib[j].rows == ia[i].cols))
                cand = j, nc++;
        int na_same = 0;
        for (int k = 0; k < na; k++)
            if (amatch[k] < 0 && ia[k].comp == ia[i].comp && ia[k].layer == ia[i].layer &&
                ia[k].rows * ia[k].cols == ia[i].rows * ia[i].cols)
                na_same++;
        if (nc == 1 && na_same == 1) amatch[i] = cand, bmatch[cand] = 1, byshape[i] = 1;
    }
    char line[512];
    for (int i = 0; i < na; i++) {
        au_comp_res *cr = &r->comp[ia[i].comp];
        if (!cr->present_a || (ia[i].layer >= 0 && strcmp(cr->prefix_a, ia[i].prefix) && !strcmp(cr->prefix_a, "lm_head.*")))
            snprintf(cr->prefix_a, sizeof cr->prefix_a, "%s", ia[i].prefix);
        cr->present_a++;
        if (amatch[i] < 0) {
            cr->n_missing_b++;
            snprintf(line, sizeof line, "%s: %s%s (layer %d, role %s) has no counterpart in B", au_comp_name(ia[i].comp),
                     ia[i].t->name, ia[i].part ? " (part)" : "", ia[i].layer, ia[i].role);
            add_line(r, line);
            continue;
        }
        au_pair *p = &r->pairs[r->n_pairs++];
        p->a = &ia[i], p->b = &ib[amatch[i]], p->b_by_shape = byshape ? byshape[i] : 0;
        p->fp_corr = (double)amatch[i]; /* index into B items until compared */
    }
    for (int j = 0; j < nb; j++) {
        au_comp_res *cr = &r->comp[ib[j].comp];
        if (!cr->present_b || (!fp && ib[j].layer >= 0 && !strcmp(cr->prefix_b, "lm_head.*")))
            snprintf(cr->prefix_b, sizeof cr->prefix_b, "%s", fp ? "(fingerprint)" : ib[j].prefix);
        cr->present_b++;
        if (!bmatch[j]) {
            cr->n_missing_a++;
            snprintf(line, sizeof line, "%s: %s (layer %d, role %s) has no counterpart in A", au_comp_name(ib[j].comp),
                     fp ? "(fingerprint entry)" : ib[j].t->name, ib[j].layer, ib[j].role);
            add_line(r, line);
        }
    }
    free(bmatch), free(amatch), free(byshape);

    /* ---- null pairs: same role, layers i and i + s ---- */
    int maxl[AU_NCOMP];
    for (int c = 0; c < AU_NCOMP; c++) maxl[c] = -1;
    for (int i = 0; i < r->n_pairs; i++)
        if (r->pairs[i].a->layer > maxl[r->pairs[i].a->comp]) maxl[r->pairs[i].a->comp] = r->pairs[i].a->layer;
    int cap = r->n_pairs * (o->null_shifts > 0 ? o->null_shifts : 1) + 1, nn = 0;
    int *nul_a = malloc((size_t)cap * sizeof *nul_a), *nul_b = malloc((size_t)cap * sizeof *nul_b);
    nullsamp *ns = calloc((size_t)cap, sizeof *ns);
    if (!nul_a || !nul_b || !ns) {
        free(nul_a), free(nul_b), free(ns);
        rc = omnic_err(OMNIC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < r->n_pairs; i++) {
        const au_item *a = r->pairs[i].a;
        int L = maxl[a->comp] + 1;
        if (a->layer < 0 || L < 2) continue;
        /* deep stacks: one shift, and at most 12 layers spread evenly */
        int shifts = L >= 8 ? 1 : o->null_shifts, step = L > 12 ? (L + 11) / 12 : 1;
        if (a->layer % step) continue;
        for (int s = 1; s <= shifts && s < L; s++) {
            int want = (a->layer + s) % L;
            for (int j = 0; j < r->n_pairs; j++) {
                const au_item *b = r->pairs[j].a;
                if (b->comp == a->comp && b->layer == want && !strcmp(b->role, a->role)) {
                    nul_a[nn] = i, nul_b[nn] = j, ns[nn].comp = a->comp, ns[nn].layer = a->layer, ns[nn].shift = s;
                    nn++;
                    break;
                }
            }
        }
    }

    /* components with fewer than 2 layers: sign-flipped partners (3 seeds) */
    int n_layer_null = nn;
    for (int i = 0; i < r->n_pairs && !fp; i++) {
        const au_item *a = r->pairs[i].a;
        if (maxl[a->comp] >= 1 || a->t->ndim < 2) continue;
        for (int s = 1; s <= 3; s++) {
            if (nn >= cap) {
                int nc = 2 * cap;
                int *x = realloc(nul_a, (size_t)nc * sizeof *x), *y = x ? realloc(nul_b, (size_t)nc * sizeof *y) : NULL;
                nullsamp *z = y ? realloc(ns, (size_t)nc * sizeof *z) : NULL;
                if (x) nul_a = x;
                if (y) nul_b = y;
                if (z) ns = z;
                if (!z) break;
                cap = nc;
            }
            nul_a[nn] = i, nul_b[nn] = i, ns[nn].comp = a->comp, ns[nn].layer = -1, ns[nn].shift = -s;
            nn++;
        }
    }

    /* ---- compare ---- */
    au_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = *o;
    ctx.pool = fp ? NULL : omnic_pool_new(o->threads);
    kernels_init(); /* SIMD matmul for the matching products */
    int total = r->n_pairs + nn;
    if (fp) {
        ska = malloc(((size_t)r->n_pairs + 1) * AU_SKETCH * sizeof *ska);
        if (!ska) {
            rc = omnic_err(OMNIC_ENOMEM, "out of memory");
            goto cmp_done;
        }
    }
    for (int i = 0; i < r->n_pairs; i++) {
        au_pair *p = &r->pairs[i];
        au_progress(o->progress, (double)i / total, p->a->t->name);
        int bj = (int)p->fp_corr;
        p->fp_corr = 0;
        if (!fp) {
            au_compare(&ctx, p->a, p->b, &p->st);
            continue;
        }
        char sha[65];
        au_stats *st = &p->st;
        memset(st, 0, sizeof *st);
        if (p->a->rows * p->a->cols != p->b->rows * p->b->cols) {
            snprintf(st->why, sizeof st->why, "shape [%lld x %lld] vs [%lld x %lld]", (long long)p->a->rows,
                     (long long)p->a->cols, (long long)p->b->rows, (long long)p->b->cols);
            continue;
        }
        if (au_sketch(p->a, ska + (size_t)i * AU_SKETCH, sha)) {
            snprintf(st->why, sizeof st->why, "read error");
            continue;
        }
        st->ok = 1;
        st->corr = st->pearson = sk_cos(ska + (size_t)i * AU_SKETCH, skb + (size_t)bj * AU_SKETCH);
        st->cos = st->corr, st->rel_l2 = NAN;
        st->resid = !strcmp(sha, shab[bj]) ? 0 : sqrt(fmax(0, 1 - st->corr * st->corr));
        st->untrained = au_untrained(p->a);
        st->verdict_use = !st->untrained && p->a->t->ndim >= 2 && p->a->rows >= 8 && p->a->cols >= 8 &&
                          p->a->rows * p->a->cols >= 1024;
        p->fp_corr = (double)bj;
    }
    for (int k = 0; k < nn; k++) {
        au_pair *p = &r->pairs[nul_a[k]], *q = &r->pairs[nul_b[k]];
        au_progress(o->progress, (double)(r->n_pairs + k) / total, "null distribution");
        ns[k].corr = NAN;
        if (!p->st.verdict_use || !q->st.ok) continue;
        if (fp) {
            ns[k].corr = sk_cos(ska + (size_t)nul_a[k] * AU_SKETCH, skb + (size_t)(int)q->fp_corr * AU_SKETCH);
        } else {
            au_stats st;
            ctx.null_signs = k >= n_layer_null ? (unsigned)(0x5bd1e995u * (unsigned)(-ns[k].shift)) : 0;
            au_compare(&ctx, p->a, q->b, &st);
            ctx.null_signs = 0;
            if (st.ok) ns[k].corr = st.corr;
        }
    }
    au_progress(o->progress, 1, "done");
cmp_done:
    for (int k = 0; k < AU_NBUF; k++) free(ctx.bufs[k]);
    omnic_pool_free(ctx.pool);
    if (rc) {
        free(nul_a), free(nul_b), free(ns);
        goto out;
    }

    /* ---- null statistics per component ---- */
    double *tmp = malloc(((size_t)nn + (size_t)r->n_pairs + 1) * sizeof *tmp);
    double *blk = malloc(((size_t)nn + 1) * sizeof *blk);
    double gmu = 0, gsd = 0;
    int gn = 0;
    {
        int m = 0;
        for (int k = 0; k < n_layer_null; k++)
            if (!isnan(ns[k].corr)) tmp[m++] = ns[k].corr;
        mean_sd(tmp, m, &gmu, &gsd);
        gn = m;
    }
    for (int c = 0; c < AU_NCOMP; c++) {
        au_comp_res *cr = &r->comp[c];
        int m = 0, nbk = 0;
        for (int k = 0; k < nn; k++)
            if (ns[k].comp == c && !isnan(ns[k].corr)) tmp[m++] = ns[k].corr;
        mean_sd(tmp, m, &cr->item_mu, &cr->item_sd);
        if (m < 3) cr->item_mu = gmu, cr->item_sd = gsd, m = gn;
        /* block medians of the null: one per (layer, shift) */
        for (int L = 0; L <= maxl[c]; L++)
            for (int s = 1; s <= o->null_shifts; s++) {
                int q = 0;
                for (int k = 0; k < nn; k++)
                    if (ns[k].comp == c && ns[k].layer == L && ns[k].shift == s && !isnan(ns[k].corr)) tmp[q++] = ns[k].corr;
                if (q) blk[nbk++] = median(tmp, q);
            }
        mean_sd(blk, nbk, &cr->null_mu, &cr->null_sd);
        cr->null_n = nbk;
        if (nbk < 3) cr->null_mu = cr->item_mu, cr->null_sd = cr->item_sd, cr->null_n = -m;
        if (cr->null_sd < 0.01) cr->null_sd = 0.01;
        if (cr->item_sd < 0.01) cr->item_sd = 0.01;
    }
    free(nul_a), free(nul_b), free(ns);

    /* ---- blocks ---- */
    r->blocks = calloc((size_t)r->n_pairs + 1, sizeof *r->blocks);
    if (!tmp || !blk || !r->blocks) {
        free(tmp), free(blk);
        rc = omnic_err(OMNIC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < r->n_pairs; i++) {
        const au_item *a = r->pairs[i].a;
        int found = 0;
        for (int k = 0; k < r->n_blocks; k++) found |= r->blocks[k].comp == a->comp && r->blocks[k].layer == a->layer;
        if (!found) r->blocks[r->n_blocks].comp = a->comp, r->blocks[r->n_blocks].layer = a->layer, r->n_blocks++;
    }
    /* order: component, then layer (non-layer block first) */
    for (int i = 1; i < r->n_blocks; i++)
        for (int j = i; j > 0; j--) {
            au_block *x = &r->blocks[j - 1], *y = &r->blocks[j];
            if (x->comp < y->comp || (x->comp == y->comp && x->layer <= y->layer)) break;
            au_block t = *x;
            *x = *y, *y = t;
        }
    double *v[5];
    for (int k = 0; k < 5; k++) v[k] = malloc(((size_t)r->n_pairs + 1) * sizeof(double));
    for (int bi = 0; bi < r->n_blocks; bi++) {
        au_block *bk = &r->blocks[bi];
        au_comp_res *cr = &r->comp[bk->comp];
        int m = 0, all = 0;
        for (int pass = 0; pass < 2 && m == 0; pass++) { /* trained matrices; else whatever was compared */
            for (int i = 0; i < r->n_pairs; i++) {
                const au_pair *p = &r->pairs[i];
                if (p->a->comp != bk->comp || p->a->layer != bk->layer) continue;
                if (pass == 0) {
                    all++;
                    if (!p->st.ok) cr->n_shape++;
                    if (p->st.untrained) cr->n_untrained++;
                }
                if (!p->st.ok || (pass == 0 && !p->st.verdict_use) || (pass == 1 && p->st.untrained)) continue;
                v[0][m] = p->st.cos, v[1][m] = p->st.pearson, v[2][m] = p->st.corr, v[3][m] = p->st.resid,
                v[4][m] = p->st.qnoise, m++;
            }
            if (pass == 0) bk->n_used = m;
        }
        bk->n = all;
        if (m == 0) {
            bk->verdict = AU_V_INCOMP;
            continue;
        }
        bk->cos = median(v[0], m), bk->pearson = median(v[1], m), bk->corr = median(v[2], m);
        bk->resid = median(v[3], m);
        bk->qtol = fmax(o->same_resid, 0.3 * median(v[4], m));
        double mu = bk->layer >= 0 ? cr->null_mu : cr->item_mu, sd = bk->layer >= 0 ? cr->null_sd : cr->item_sd;
        bk->margin = (bk->corr - mu) / sd;
        if (bk->n_used == 0) bk->verdict = AU_V_NONE; /* only vectors / untrained: no verdict */
        else if (bk->resid <= bk->qtol) bk->verdict = AU_V_SAME;
        else if (bk->margin >= o->z && bk->corr >= o->min_corr) bk->verdict = AU_V_DERIVED;
        else bk->verdict = AU_V_INDEP;
    }
    for (int k = 0; k < 5; k++) free(v[k]);
    /* ---- components ---- */
    for (int c = 0; c < AU_NCOMP; c++) {
        au_comp_res *cr = &r->comp[c];
        int m = 0, nv = 0;
        cr->max_margin = -1e300;
        for (int bi = 0; bi < r->n_blocks; bi++) {
            au_block *bk = &r->blocks[bi];
            if (bk->comp != c) continue;
            cr->n_blocks++;
            if (bk->verdict == AU_V_SAME) cr->n_same++;
            if (bk->verdict == AU_V_DERIVED) cr->n_derived++;
            if (bk->verdict == AU_V_INDEP) cr->n_indep++;
            if (bk->verdict == AU_V_SAME || bk->verdict == AU_V_DERIVED || bk->verdict == AU_V_INDEP) {
                tmp[m++] = bk->margin;
                nv++;
                if (bk->margin > cr->max_margin) cr->max_margin = bk->margin;
            }
        }
        cr->margin = median(tmp, m);
        for (int i = 0; i < r->n_pairs; i++) cr->n_pairs += r->pairs[i].a->comp == c;
        if (!cr->present_a && !cr->present_b) continue;
        if (!cr->present_a || !cr->present_b) {
            cr->verdict = AU_V_INCOMP;
            snprintf(cr->note, sizeof cr->note, "missing in %s", cr->present_a ? "B" : "A");
        } else if (cr->n_pairs == 0) {
            cr->verdict = AU_V_INCOMP;
            snprintf(cr->note, sizeof cr->note, "no tensor matched by role or shape (A %d, B %d tensors): different architecture",
                     cr->present_a, cr->present_b);
        } else if (nv == 0) {
            cr->verdict = AU_V_INCOMP;
            snprintf(cr->note, sizeof cr->note, "nothing comparable (%d pairs, %d shape mismatches): different architecture",
                     cr->n_pairs, cr->n_shape);
        } else if (cr->n_same == nv) {
            cr->verdict = AU_V_SAME;
        } else if (cr->n_same + cr->n_derived > 0) {
            cr->verdict = AU_V_DERIVED;
            if (cr->n_indep)
                snprintf(cr->note, sizeof cr->note, "partly copied: %d of %d blocks same weights, %d derived, %d independent",
                         cr->n_same, nv, cr->n_derived, cr->n_indep);
            else if (cr->n_same)
                snprintf(cr->note, sizeof cr->note, "%d of %d blocks same weights, the rest fine-tuned", cr->n_same, nv);
        } else {
            cr->verdict = AU_V_INDEP;
        }
        if (cr->verdict != AU_V_INCOMP && (cr->n_shape || cr->n_missing_a || cr->n_missing_b)) {
            size_t l = strlen(cr->note);
            snprintf(cr->note + l, sizeof cr->note - l, "%s%d shape mismatches, %d missing in A, %d missing in B", l ? "; " : "",
                     cr->n_shape, cr->n_missing_a, cr->n_missing_b);
        }
    }
    free(tmp), free(blk);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
out:
    free(ska), free(skb), free(shab);
    if (rc) {
        free(ia), free(ib);
        return rc;
    }
    /* items are referenced by the pairs: kept until au_result_free */
    {
        au_item **keep = malloc(2 * sizeof *keep);
        if (keep) keep[0] = ia, keep[1] = ib;
        r->pairs_items = keep;
    }
    return 0;
}

void au_result_free(au_result *r) {
    if (r->pairs_items) {
        free(r->pairs_items[0]);
        free(r->pairs_items[1]);
        free(r->pairs_items);
    }
    for (int i = 0; i < r->n_missing; i++) free(r->missing[i]);
    free(r->missing);
    free(r->pairs);
    free(r->blocks);
    free((char *)r->path_b);
    memset(r, 0, sizeof *r);
}
