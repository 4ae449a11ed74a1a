/* audit_report.c - the audit's output: a table for the terminal, JSON for
 * tools, a self-contained HTML page with a per-layer similarity plot (inline
 * SVG, no scripts or external files), and the progress bar on stderr. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "core/error.h"

void au_progress(int on, double frac, const char *what) {
    static int last = -1;
    if (!on) return;
    int pct = (int)(frac * 100 + 0.5);
    if (pct == last && frac < 1) return;
    last = pct;
    char bar[31];
    int k = pct * 30 / 100;
    for (int i = 0; i < 30; i++) bar[i] = i < k ? '#' : '.';
    bar[30] = 0;
    fprintf(stderr, "\r[%s] %3d%% %-48.48s", bar, pct, what ? what : "");
    if (frac >= 1) {
        fprintf(stderr, "\r%-90s\r", "");
        last = -1;
    }
    fflush(stderr);
}

static void block_name(const au_block *b, char *s, size_t n) {
    if (b->layer >= 0) snprintf(s, n, "layer %d", b->layer);
    else snprintf(s, n, "non-layer");
}

static const char *flags(const au_pair *p, char *s, size_t n) {
    snprintf(s, n, "%s%s%s%s%s", p->st.perm_rows ? " perm-rows" : "", p->st.perm_cols ? " perm-cols" : "",
             p->st.transposed ? " transposed" : "", p->b_by_shape ? " by-shape" : "",
             p->st.untrained == 1 ? " sinusoidal" : p->st.untrained == 2 ? " constant" : "");
    return s;
}

void au_report_table(const au_result *r, FILE *f, int per_tensor) {
    fprintf(f, "A: %s (%s)\nB: %s (%s)\n", r->path_a, r->kind_a, r->path_b, r->kind_b);
    fprintf(f, "verdict rules: same weights if residual <= max(%.3g, 0.3 x quantization noise); derived if the aligned "
               "correlation is >= %.2f and >= %.1f sd above the null (independent pairs: mismatched layers)\n",
            r->o.same_resid, r->o.min_corr, r->o.z);
    fprintf(f, "mapping:\n");
    for (int c = 0; c < AU_NCOMP; c++) {
        const au_comp_res *cr = &r->comp[c];
        if (!cr->present_a && !cr->present_b) continue;
        int nshape = 0;
        for (int i = 0; i < r->n_pairs; i++) nshape += r->pairs[i].a->comp == c && r->pairs[i].b_by_shape;
        fprintf(f, "  %-22s A %-32s <-> B %-32s %d pairs by role%s", au_comp_name(c), cr->present_a ? cr->prefix_a : "(absent)",
                cr->present_b ? cr->prefix_b : "(absent)", cr->n_pairs - nshape, "");
        if (nshape) fprintf(f, ", %d by shape", nshape);
        fprintf(f, "\n");
    }
    if (per_tensor) {
        fprintf(f, "\n%-44s %-9s %7s %7s %7s %7s %7s  %s\n", "TENSOR (A)", "ROLE", "COS", "PEARSON", "REL_L2", "CORR*", "RESID",
                "NOTES");
        for (int i = 0; i < r->n_pairs; i++) {
            const au_pair *p = &r->pairs[i];
            char fl[96];
            if (!p->st.ok) {
                fprintf(f, "%-44s %-9s not compared: %s\n", p->a->t->name, p->a->role, p->st.why);
                continue;
            }
            fprintf(f, "%-44s %-9s %7.4f %7.4f %7.4f %7.4f %7.4f %s%s\n", p->a->t->name, p->a->role, p->st.cos, p->st.pearson,
                    p->st.rel_l2, p->st.corr, p->st.resid, flags(p, fl, sizeof fl), p->st.verdict_use ? "" : " (not in verdict)");
        }
    }
    fprintf(f, "\n%-22s %-10s %3s %4s %7s %7s %7s %7s %9s  %s\n", "COMPONENT", "BLOCK", "N", "USED", "COS", "PEARSON", "CORR*",
            "RESID", "MARGIN", "VERDICT");
    for (int bi = 0; bi < r->n_blocks; bi++) {
        const au_block *b = &r->blocks[bi];
        char bn[32];
        block_name(b, bn, sizeof bn);
        if (b->verdict == AU_V_INCOMP) {
            fprintf(f, "%-22s %-10s %3d %4d %7s %7s %7s %7s %9s  not comparable\n", au_comp_name(b->comp), bn, b->n, b->n_used,
                    "-", "-", "-", "-", "-");
            continue;
        }
        fprintf(f, "%-22s %-10s %3d %4d %7.4f %7.4f %7.4f %7.4f %+8.1fsd  %s\n", au_comp_name(b->comp), bn, b->n, b->n_used,
                b->cos, b->pearson, b->corr, b->resid, b->margin,
                b->verdict == AU_V_NONE ? "(vectors only: no verdict)" : au_verdict_name(b->verdict));
    }
    fprintf(f, "\n");
    for (int c = 0; c < AU_NCOMP; c++) {
        const au_comp_res *cr = &r->comp[c];
        if (!cr->present_a && !cr->present_b) continue;
        if (cr->verdict == AU_V_INCOMP) {
            fprintf(f, "== %-22s not comparable: %s\n", au_comp_name(c), cr->note);
            continue;
        }
        fprintf(f, "== %-22s %-21s margin %+.1f sd (max block %+.1f sd; null %.3f +- %.3f over %d %s)%s%s\n", au_comp_name(c),
                au_verdict_name(cr->verdict), cr->margin, cr->max_margin, cr->null_mu, cr->null_sd,
                cr->null_n >= 0 ? cr->null_n : -cr->null_n, cr->null_n >= 0 ? "mismatched-layer blocks" : "null tensor pairs",
                cr->note[0] ? "; " : "", cr->note);
    }
    int nu = 0;
    for (int i = 0; i < r->n_pairs; i++) nu += r->pairs[i].st.untrained != 0;
    if (nu) {
        fprintf(f, "\nnot trained (reported, left out of the verdict):\n");
        for (int i = 0; i < r->n_pairs; i++) {
            const au_pair *p = &r->pairs[i];
            if (!p->st.untrained) continue;
            fprintf(f, "  %s: %s (cos %.4f, pearson %.4f)\n", p->a->t->name,
                    p->st.untrained == 1 ? "fixed sinusoidal position table" : "constant", p->st.cos, p->st.pearson);
        }
    }
    int nbad = 0;
    for (int i = 0; i < r->n_pairs; i++) nbad += !r->pairs[i].st.ok;
    if (nbad) {
        fprintf(f, "\nnot compared:\n");
        for (int i = 0, k = 0; i < r->n_pairs; i++)
            if (!r->pairs[i].st.ok && k++ < 20) fprintf(f, "  %s <-> %s: %s\n", r->pairs[i].a->t->name, r->pairs[i].b->t->name,
                                                        r->pairs[i].st.why);
        if (nbad > 20) fprintf(f, "  ... %d more\n", nbad - 20);
    }
    if (r->n_missing) {
        fprintf(f, "\nunmatched tensors:\n");
        for (int i = 0; i < r->n_missing && i < 20; i++) fprintf(f, "  %s\n", r->missing[i]);
        if (r->n_missing > 20) fprintf(f, "  ... %d more\n", r->n_missing - 20);
    }
    fprintf(f, "\n%d tensor pairs compared in %.1f s\n", r->n_pairs, r->seconds);
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *au_report_json(const au_result *r) {
    json_t *o = json_object(), *comps = json_array(), *ts = json_array(), *miss = json_array();
    json_object_set_new(o, "a", json_pack("{s:s,s:s}", "path", r->path_a, "kind", r->kind_a));
    json_object_set_new(o, "b", json_pack("{s:s,s:s}", "path", r->path_b, "kind", r->kind_b));
    json_object_set_new(o, "thresholds", json_pack("{s:f,s:f,s:f}", "same_resid", r->o.same_resid, "z", r->o.z, "min_corr",
                                                   r->o.min_corr));
    for (int c = 0; c < AU_NCOMP; c++) {
        const au_comp_res *cr = &r->comp[c];
        if (!cr->present_a && !cr->present_b) continue;
        json_t *bl = json_array();
        for (int bi = 0; bi < r->n_blocks; bi++) {
            const au_block *b = &r->blocks[bi];
            if (b->comp != c) continue;
            json_t *x = json_object();
            json_object_set_new(x, "layer", b->layer >= 0 ? json_integer(b->layer) : json_null());
            json_object_set_new(x, "n", json_integer(b->n));
            json_object_set_new(x, "used", json_integer(b->n_used));
            json_object_set_new(x, "cos", num(b->cos));
            json_object_set_new(x, "pearson", num(b->pearson));
            json_object_set_new(x, "corr", num(b->corr));
            json_object_set_new(x, "resid", num(b->resid));
            json_object_set_new(x, "margin", num(b->margin));
            json_object_set_new(x, "verdict", json_string(b->verdict == AU_V_NONE ? "none" : au_verdict_name(b->verdict)));
            json_array_append_new(bl, x);
        }
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(au_comp_name(c)));
        json_object_set_new(x, "verdict", json_string(au_verdict_name(cr->verdict)));
        json_object_set_new(x, "margin", num(cr->margin));
        json_object_set_new(x, "max_margin", num(cr->max_margin));
        json_object_set_new(x, "null", json_pack("{s:o,s:o,s:i}", "mean", num(cr->null_mu), "sd", num(cr->null_sd), "n",
                                                 cr->null_n));
        json_object_set_new(x, "prefix_a", json_string(cr->present_a ? cr->prefix_a : ""));
        json_object_set_new(x, "prefix_b", json_string(cr->present_b ? cr->prefix_b : ""));
        json_object_set_new(x, "pairs", json_integer(cr->n_pairs));
        json_object_set_new(x, "missing_in_a", json_integer(cr->n_missing_a));
        json_object_set_new(x, "missing_in_b", json_integer(cr->n_missing_b));
        json_object_set_new(x, "shape_mismatches", json_integer(cr->n_shape));
        json_object_set_new(x, "untrained", json_integer(cr->n_untrained));
        json_object_set_new(x, "blocks_same", json_integer(cr->n_same));
        json_object_set_new(x, "blocks_derived", json_integer(cr->n_derived));
        json_object_set_new(x, "blocks_independent", json_integer(cr->n_indep));
        json_object_set_new(x, "note", json_string(cr->note));
        json_object_set_new(x, "blocks", bl);
        json_array_append_new(comps, x);
    }
    for (int i = 0; i < r->n_pairs; i++) {
        const au_pair *p = &r->pairs[i];
        json_t *x = json_object();
        json_object_set_new(x, "component", json_string(au_comp_name(p->a->comp)));
        json_object_set_new(x, "layer", p->a->layer >= 0 ? json_integer(p->a->layer) : json_null());
        json_object_set_new(x, "role", json_string(p->a->role));
        json_object_set_new(x, "a", json_string(p->a->t->name));
        json_object_set_new(x, "b", json_string(p->b->t->name));
        json_object_set_new(x, "part", json_integer(p->a->part));
        json_object_set_new(x, "by_shape", json_boolean(p->b_by_shape));
        json_object_set_new(x, "compared", json_boolean(p->st.ok));
        if (!p->st.ok) json_object_set_new(x, "why", json_string(p->st.why));
        json_object_set_new(x, "cos", num(p->st.cos));
        json_object_set_new(x, "pearson", num(p->st.pearson));
        json_object_set_new(x, "rel_l2", num(p->st.rel_l2));
        json_object_set_new(x, "corr", num(p->st.corr));
        json_object_set_new(x, "resid", num(p->st.resid));
        json_object_set_new(x, "qnoise", num(p->st.qnoise));
        json_object_set_new(x, "perm_rows", json_boolean(p->st.perm_rows));
        json_object_set_new(x, "perm_cols", json_boolean(p->st.perm_cols));
        json_object_set_new(x, "transposed", json_boolean(p->st.transposed));
        json_object_set_new(x, "untrained",
                            json_string(p->st.untrained == 1 ? "sinusoidal" : p->st.untrained == 2 ? "constant" : ""));
        json_object_set_new(x, "in_verdict", json_boolean(p->st.verdict_use));
        json_array_append_new(ts, x);
    }
    for (int i = 0; i < r->n_missing; i++) json_array_append_new(miss, json_string(r->missing[i]));
    json_object_set_new(o, "components", comps);
    json_object_set_new(o, "tensors", ts);
    json_object_set_new(o, "unmatched", miss);
    json_object_set_new(o, "seconds", json_real(r->seconds));
    return o;
}

static void html_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static const char *vcolor(int v) {
    return v == AU_V_SAME ? "#c0392b" : v == AU_V_DERIVED ? "#e67e22" : v == AU_V_INDEP ? "#27ae60" : "#888";
}

int au_report_html(const au_result *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot write the HTML report", path);
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>omnic audit</title><style>"
               "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
               "padding:2px 6px;font-size:13px;text-align:right}th{background:#eee}td.l{text-align:left}"
               ".v{font-weight:bold}</style></head><body>\n<h1>omnic audit</h1>\n<p>A: ");
    html_esc(f, r->path_a);
    fprintf(f, " (%s)<br>B: ", r->kind_a);
    html_esc(f, r->path_b);
    fprintf(f, " (%s)</p>\n<p>Same weights if residual &le; max(%.3g, 0.3 &times; quantization noise); derived if the "
               "aligned correlation is &ge; %.2f and &ge; %.1f sd above the null distribution (mismatched layers).</p>\n",
            r->kind_b, r->o.same_resid, r->o.min_corr, r->o.z);
    fprintf(f, "<h2>Components</h2><table><tr><th>component</th><th>A</th><th>B</th><th>pairs</th><th>verdict</th>"
               "<th>margin (sd)</th><th>null mean &plusmn; sd</th><th>note</th></tr>\n");
    for (int c = 0; c < AU_NCOMP; c++) {
        const au_comp_res *cr = &r->comp[c];
        if (!cr->present_a && !cr->present_b) continue;
        fprintf(f, "<tr><td class=l>%s</td><td class=l>", au_comp_name(c));
        html_esc(f, cr->present_a ? cr->prefix_a : "(absent)");
        fprintf(f, "</td><td class=l>");
        html_esc(f, cr->present_b ? cr->prefix_b : "(absent)");
        fprintf(f, "</td><td>%d</td><td class=\"l v\" style=\"color:%s\">%s</td><td>%+.1f</td><td>%.3f &plusmn; %.3f</td>"
                   "<td class=l>",
                cr->n_pairs, vcolor(cr->verdict), au_verdict_name(cr->verdict), cr->margin, cr->null_mu, cr->null_sd);
        html_esc(f, cr->note);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    /* per-layer plot per component */
    for (int c = 0; c < AU_NCOMP; c++) {
        const au_comp_res *cr = &r->comp[c];
        int maxl = -1, nb = 0;
        for (int bi = 0; bi < r->n_blocks; bi++)
            if (r->blocks[bi].comp == c && r->blocks[bi].layer >= 0) {
                nb++;
                if (r->blocks[bi].layer > maxl) maxl = r->blocks[bi].layer;
            }
        if (!nb) continue;
        const int W = 640, H = 240, X0 = 50, Y0 = 20, PW = W - 70, PH = H - 50;
        double lo = fmin(0, cr->null_mu - 3 * cr->null_sd);
        for (int bi = 0; bi < r->n_blocks; bi++)
            if (r->blocks[bi].comp == c && r->blocks[bi].verdict != AU_V_INCOMP) lo = fmin(lo, r->blocks[bi].corr);
        double hi = 1.0;
#define PX(l) (X0 + (maxl > 0 ? (double)(l) * PW / maxl : PW / 2.0))
#define PY(v) (Y0 + (hi - (v)) * PH / (hi - lo))
        fprintf(f, "<h2>%s: aligned correlation per layer</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                   "height=\"%d\" style=\"border:1px solid #ccc\">\n",
                au_comp_name(c), W, H);
        double band_hi = fmin(hi, cr->null_mu + r->o.z * cr->null_sd), band_lo = fmax(lo, cr->null_mu - r->o.z * cr->null_sd);
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#d5f5e3\"/>\n", X0, PY(band_hi), PW,
                PY(band_lo) - PY(band_hi));
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#27ae60\" stroke-dasharray=\"4\"/>\n", X0, X0 + PW,
                PY(cr->null_mu), PY(cr->null_mu));
        for (int k = 0; k <= 4; k++) {
            double v = lo + (hi - lo) * k / 4;
            fprintf(f, "<text x=\"4\" y=\"%.1f\" font-size=\"11\">%.2f</text><line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                       "y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    PY(v) + 4, v, X0, X0 + PW, PY(v), PY(v));
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">layer (0 .. %d); band: null mean &plusmn; %.0f sd</text>\n", X0,
                H - 8, maxl, r->o.z);
        fprintf(f, "<polyline fill=\"none\" stroke=\"#555\" points=\"");
        for (int bi = 0; bi < r->n_blocks; bi++) {
            const au_block *b = &r->blocks[bi];
            if (b->comp == c && b->layer >= 0 && b->verdict != AU_V_INCOMP) fprintf(f, "%.1f,%.1f ", PX(b->layer), PY(b->corr));
        }
        fprintf(f, "\"/>\n");
        for (int bi = 0; bi < r->n_blocks; bi++) {
            const au_block *b = &r->blocks[bi];
            if (b->comp != c || b->layer < 0 || b->verdict == AU_V_INCOMP) continue;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>layer %d: corr %.4f, resid %.4f, margin %+.1f "
                       "sd, %s</title></circle>\n",
                    PX(b->layer), PY(b->corr), vcolor(b->verdict), b->layer, b->corr, b->resid, b->margin,
                    au_verdict_name(b->verdict));
        }
        fprintf(f, "</svg>\n");
#undef PX
#undef PY
    }
    fprintf(f, "<h2>Blocks</h2><table><tr><th>component</th><th>block</th><th>n</th><th>cos</th><th>pearson</th>"
               "<th>corr*</th><th>resid</th><th>margin</th><th>verdict</th></tr>\n");
    for (int bi = 0; bi < r->n_blocks; bi++) {
        const au_block *b = &r->blocks[bi];
        char bn[32];
        block_name(b, bn, sizeof bn);
        fprintf(f, "<tr><td class=l>%s</td><td class=l>%s</td><td>%d</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
                   "<td>%+.1f</td><td class=l style=\"color:%s\">%s</td></tr>\n",
                au_comp_name(b->comp), bn, b->n, b->cos, b->pearson, b->corr, b->resid, b->margin, vcolor(b->verdict),
                b->verdict == AU_V_NONE ? "-" : au_verdict_name(b->verdict));
    }
    fprintf(f, "</table>\n<h2>Tensors</h2><table><tr><th>A</th><th>B</th><th>cos</th><th>pearson</th><th>rel L2</th>"
               "<th>corr*</th><th>resid</th><th>notes</th></tr>\n");
    for (int i = 0; i < r->n_pairs; i++) {
        const au_pair *p = &r->pairs[i];
        char fl[96];
        fprintf(f, "<tr><td class=l>");
        html_esc(f, p->a->t->name);
        fprintf(f, "</td><td class=l>");
        html_esc(f, p->b->t->name);
        if (!p->st.ok) {
            fprintf(f, "</td><td colspan=6 class=l>not compared: ");
            html_esc(f, p->st.why);
            fprintf(f, "</td></tr>\n");
            continue;
        }
        fprintf(f, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td class=l>%s%s</td></tr>\n",
                p->st.cos, p->st.pearson, p->st.rel_l2, p->st.corr, p->st.resid, flags(p, fl, sizeof fl),
                p->st.verdict_use ? "" : " (not in verdict)");
    }
    fprintf(f, "</table>\n</body></html>\n");
    if (fclose(f) != 0) return omnic_err(OMNIC_EIO, "%s: write error", path);
    return 0;
}
