/* ecapa.c - zero-shot speaker conditioning (audio.md §10.2-10.4): reference
 * high-pass + loudness, the 24 kHz reference mel (BigVGAN style, not centred,
 * magnitude, natural log) and the ECAPA-TDNN encoder (eval mode) on time-major
 * activations [F][C]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vocoder_impl.h"

#define ECAPA_ATT 128 /* attention and squeeze-excitation widths (fixed upstream) */

/* --- loading ----------------------------------------------------------------- */

static int load_bn(const vc_ld *l, const char *pre, int c, vc_bn *b) {
    char n[256];
    int64_t s = c;
    float *w = NULL, *bi = NULL, *m = NULL, *v = NULL;
    int rc;
    snprintf(n, sizeof n, "%s.weight", pre);
    if ((rc = vc_get(l, n, 1, &s, &w))) goto out;
    snprintf(n, sizeof n, "%s.bias", pre);
    if ((rc = vc_get(l, n, 1, &s, &bi))) goto out;
    snprintf(n, sizeof n, "%s.running_mean", pre);
    if ((rc = vc_get(l, n, 1, &s, &m))) goto out;
    snprintf(n, sizeof n, "%s.running_var", pre);
    if ((rc = vc_get(l, n, 1, &s, &v))) goto out;
    b->c = c;
    for (int i = 0; i < c; i++) {
        double sc = w[i] / sqrt((double)v[i] + 1e-5);
        w[i] = (float)sc;
        bi[i] = (float)(bi[i] - m[i] * sc);
    }
    b->scale = w;
    b->shift = bi;
    w = bi = NULL;
out:
    free(w);
    free(bi);
    free(m);
    free(v);
    return rc;
}

static void bn_free(vc_bn *b) {
    free(b->scale);
    free(b->shift);
    b->scale = b->shift = NULL;
}

/* Plain Conv1d `<pre>.weight` [cout][cin][k] (+ `<pre>.bias` when bias). */
static int load_pconv(const vc_ld *l, const char *pre, int cout, int cin, int k, int dil, int bias, vc_conv *cv) {
    char n[256];
    int64_t sh[3] = {cout, cin, k}, bs = cout;
    float *w, *b = NULL;
    snprintf(n, sizeof n, "%s.weight", pre);
    int rc = vc_get(l, n, 3, sh, &w);
    if (rc) return rc;
    if (bias) {
        snprintf(n, sizeof n, "%s.bias", pre);
        if ((rc = vc_get(l, n, 1, &bs, &b))) {
            free(w);
            return rc;
        }
    }
    return vc_conv_init(cv, w, cout, cin, k, dil, 0, b);
}

static int cfg_num(json_t *c, const char *file, const char *key, double def, double *out) {
    json_t *j = json_object_get(c, key);
    if (!j || json_is_null(j)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(j)) return omnic_err(OMNIC_ECONFIG, "%s: config.json: '%s' must be a number", file, key);
    *out = json_number_value(j);
    return 0;
}

/* Slaney mel filterbank (float64 construction, float32 storage). */
static void slaney_fb(int sr, int n_fft, int n_mels, double fmin, double fmax, float *W) {
    const double fsp = 200.0 / 3, minlog = 1000.0, minlogmel = minlog / fsp, step = log(6.4) / 27.0;
    int nb = n_fft / 2 + 1;
    double lo = fmin >= minlog ? minlogmel + log(fmin / minlog) / step : fmin / fsp;
    double hi = fmax >= minlog ? minlogmel + log(fmax / minlog) / step : fmax / fsp;
    double *pts = malloc((size_t)(n_mels + 2) * sizeof(double));
    if (!pts) return;
    for (int i = 0; i < n_mels + 2; i++) {
        double m = lo + (hi - lo) * i / (n_mels + 1);
        pts[i] = m >= minlogmel ? minlog * exp(step * (m - minlogmel)) : fsp * m;
    }
    for (int i = 0; i < n_mels; i++) {
        double en = 2.0 / (pts[i + 2] - pts[i]);
        for (int k = 0; k < nb; k++) {
            double f = (double)sr / 2 * k / (nb - 1);
            double a = (f - pts[i]) / (pts[i + 1] - pts[i]), b = (pts[i + 2] - f) / (pts[i + 2] - pts[i + 1]);
            double w = a < b ? a : b;
            W[(size_t)i * nb + k] = (float)(w > 0 ? w * en : 0.0);
        }
    }
    free(pts);
}

int vc_ecapa_load(omnic_vocoder *v, const vc_ld *l, json_t *cfg) {
    vc_ecapa *e = &v->ecapa;
    const char *f = l->file;
    int rc;
    json_t *g = json_object_get(cfg, "global_context_att");
    if (g && json_is_true(g)) return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'global_context_att' true is not supported", f);
    const tp_tensor *t1 = torch_ckpt_find(l->ck, "spk_emb.layer1.conv.weight");
    if (!t1) return omnic_err(OMNIC_ETENSOR, "%s: tensor 'spk_emb.layer1.conv.weight' missing (zero-shot archive without the ECAPA encoder?)", f);
    json_t *jh = json_object_get(cfg, "spk_hidden_dim"), *jm = json_object_get(cfg, "num_mels");
    int H = jh && json_is_integer(jh) ? (int)json_integer_value(jh) : 512;
    int nm = jm && json_is_integer(jm) ? (int)json_integer_value(jm) : 100;
    if (t1->ndim != 3 || t1->shape[0] != H)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'spk_hidden_dim' %d but spk_emb.layer1.conv.weight has %lld output channels", f, H,
                         t1->ndim ? (long long)t1->shape[0] : 0LL);
    if (t1->shape[1] != nm)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'num_mels' %d but spk_emb.layer1.conv.weight has %lld input channels", f, nm, (long long)t1->shape[1]);
    if (H < 8 || H % 8 || H > 4096) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'spk_hidden_dim' %d must be a multiple of 8 up to 4096", f, H);
    e->h = H;
    e->n_mels = nm;
    double n_fft, hop, win, fmin, fmax;
    if ((rc = cfg_num(cfg, f, "n_fft", 1024, &n_fft)) || (rc = cfg_num(cfg, f, "hop_size", 256, &hop)) ||
        (rc = cfg_num(cfg, f, "win_size", 1024, &win)) || (rc = cfg_num(cfg, f, "fmin", 0, &fmin)) ||
        (rc = cfg_num(cfg, f, "fmax", VOCODER_SR / 2, &fmax)))
        return rc;
    e->n_fft = (int)n_fft;
    e->hop = (int)hop;
    e->win = (int)win;
    e->fmin = fmin;
    e->fmax = fmax;
    if (e->n_fft < 16 || e->n_fft > 8192 || (e->n_fft & (e->n_fft - 1)))
        return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'n_fft' %g must be a power of two (16..8192)", f, n_fft);
    if (e->win != e->n_fft) return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'win_size' must equal 'n_fft'", f);
    if (e->hop < 1 || e->hop > e->n_fft || (e->n_fft - e->hop) % 2)
        return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'hop_size' %d is not supported with n_fft %d", f, e->hop, e->n_fft);
    if (!(fmin >= 0 && fmax > fmin && fmax <= VOCODER_SR / 2))
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'fmin'/'fmax' (%g, %g) out of range", f, fmin, fmax);
    e->melfb = malloc((size_t)nm * (e->n_fft / 2 + 1) * sizeof(float));
    if (!e->melfb) return omnic_err(OMNIC_ENOMEM, "out of memory");
    slaney_fb(VOCODER_SR, e->n_fft, nm, fmin, fmax, e->melfb);

    char n[256];
    int g8 = H / 8, c3 = 3 * H;
    if ((rc = load_pconv(l, "spk_emb.layer1.conv", H, nm, 5, 1, 0, &e->l1)) || (rc = load_bn(l, "spk_emb.layer1.bn", H, &e->l1bn)))
        return rc;
    for (int li = 0; li < 3; li++) {
        vc_seres *s = &e->l[li];
        int d = li + 2;
        snprintf(n, sizeof n, "spk_emb.layer%d.Conv1dReluBn1.conv", li + 2);
        if ((rc = load_pconv(l, n, H, H, 1, 1, 0, &s->c1))) return rc;
        snprintf(n, sizeof n, "spk_emb.layer%d.Conv1dReluBn1.bn", li + 2);
        if ((rc = load_bn(l, n, H, &s->b1))) return rc;
        for (int k = 0; k < 7; k++) {
            snprintf(n, sizeof n, "spk_emb.layer%d.Res2Conv1dReluBn.convs.%d", li + 2, k);
            if ((rc = load_pconv(l, n, g8, g8, 3, d, 0, &s->k[k]))) return rc;
            snprintf(n, sizeof n, "spk_emb.layer%d.Res2Conv1dReluBn.bns.%d", li + 2, k);
            if ((rc = load_bn(l, n, g8, &s->bk[k]))) return rc;
        }
        snprintf(n, sizeof n, "spk_emb.layer%d.Conv1dReluBn2.conv", li + 2);
        if ((rc = load_pconv(l, n, H, H, 1, 1, 0, &s->c2))) return rc;
        snprintf(n, sizeof n, "spk_emb.layer%d.Conv1dReluBn2.bn", li + 2);
        if ((rc = load_bn(l, n, H, &s->b2))) return rc;
        int64_t w1[2] = {ECAPA_ATT, H}, w2[2] = {H, ECAPA_ATT}, b1 = ECAPA_ATT, b2 = H;
        snprintf(n, sizeof n, "spk_emb.layer%d.SE_Connect.linear1.weight", li + 2);
        if ((rc = vc_get(l, n, 2, w1, &s->se_w1))) return rc;
        snprintf(n, sizeof n, "spk_emb.layer%d.SE_Connect.linear1.bias", li + 2);
        if ((rc = vc_get(l, n, 1, &b1, &s->se_b1))) return rc;
        snprintf(n, sizeof n, "spk_emb.layer%d.SE_Connect.linear2.weight", li + 2);
        if ((rc = vc_get(l, n, 2, w2, &s->se_w2))) return rc;
        snprintf(n, sizeof n, "spk_emb.layer%d.SE_Connect.linear2.bias", li + 2);
        if ((rc = vc_get(l, n, 1, &b2, &s->se_b2))) return rc;
    }
    if ((rc = load_pconv(l, "spk_emb.conv", c3, c3, 1, 1, 1, &e->conv)) ||
        (rc = load_pconv(l, "spk_emb.pooling.linear1", ECAPA_ATT, c3, 1, 1, 1, &e->att1)) ||
        (rc = load_pconv(l, "spk_emb.pooling.linear2", c3, ECAPA_ATT, 1, 1, 1, &e->att2)) ||
        (rc = load_bn(l, "spk_emb.bn", 2 * c3, &e->bn)))
        return rc;
    int64_t lw[2] = {v->spk_dim, 2 * c3}, lb = v->spk_dim;
    const tp_tensor *tl = torch_ckpt_find(l->ck, "spk_emb.linear.weight");
    if (tl && tl->ndim == 2 && tl->shape[0] != v->spk_dim)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'spk_emb_dim' %d but spk_emb.linear.weight has %lld rows", f, v->spk_dim, (long long)tl->shape[0]);
    if ((rc = vc_get(l, "spk_emb.linear.weight", 2, lw, &e->lin_w)) || (rc = vc_get(l, "spk_emb.linear.bias", 1, &lb, &e->lin_b)) ||
        (rc = load_bn(l, "spk_emb.bn_out", v->spk_dim, &e->bn_out)))
        return rc;
    return 0;
}

void vc_ecapa_free(vc_ecapa *e) {
    vc_conv_free(&e->l1);
    bn_free(&e->l1bn);
    for (int li = 0; li < 3; li++) {
        vc_seres *s = &e->l[li];
        vc_conv_free(&s->c1);
        vc_conv_free(&s->c2);
        bn_free(&s->b1);
        bn_free(&s->b2);
        for (int k = 0; k < 7; k++) {
            vc_conv_free(&s->k[k]);
            bn_free(&s->bk[k]);
        }
        free(s->se_w1), free(s->se_b1), free(s->se_w2), free(s->se_b2);
    }
    vc_conv_free(&e->conv);
    vc_conv_free(&e->att1);
    vc_conv_free(&e->att2);
    bn_free(&e->bn);
    free(e->lin_w);
    free(e->lin_b);
    bn_free(&e->bn_out);
    free(e->melfb);
    memset(e, 0, sizeof *e);
}

/* --- reference mel ------------------------------------------------------------ */

/* In-place iterative radix-2 complex FFT of n (power of two) points. */
static void fft(double *re, double *im, int n) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double a = -2 * M_PI / len;
        for (int i = 0; i < n; i += len)
            for (int k = 0; k < len / 2; k++) {
                double wr = cos(a * k), wi = sin(a * k);
                double xr = re[i + k + len / 2], xi = im[i + k + len / 2];
                double tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
                re[i + k + len / 2] = re[i + k] - tr;
                im[i + k + len / 2] = im[i + k] - ti;
                re[i + k] += tr;
                im[i + k] += ti;
            }
    }
}

/* §10.2 steps 2-3 into y[n] (float32 like the source). */
static int preprocess(const float *pcm, int64_t n, float *y) {
    const double b0 = 0.9871251866715299, b1 = -1.9742503733430599, b2 = 0.9871251866715299;
    const double a1 = -1.9740846056550854, a2 = 0.9744161410310344;
    double z1 = 0, z2 = 0, ss = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = pcm[i], o = b0 * x + z1;
        z1 = b1 * x - a1 * o + z2;
        z2 = b2 * x - a2 * o;
        y[i] = (float)o;
        ss += (double)y[i] * y[i];
        if (fabs(y[i]) > mx) mx = fabs(y[i]);
    }
    if (!(mx > 0) || !(ss > 0)) return omnic_err(OMNIC_EINVAL, "reference audio is silent (all zero after the high-pass)");
    if (!isfinite(ss)) return omnic_err(OMNIC_EINVAL, "reference audio has non-finite samples");
    double gain = 0.05011872336272722 / sqrt(ss / (double)n), g2 = 1.0 / mx;
    if (g2 < gain) gain = g2;
    for (int64_t i = 0; i < n; i++) y[i] = (float)(y[i] * gain);
    return 0;
}

static int mel_of(const vc_ecapa *e, const float *y, int64_t n, float **mel, int *frames) {
    int pad = (e->n_fft - e->hop) / 2, nb = e->n_fft / 2 + 1;
    if (n <= pad) return omnic_err(OMNIC_EINVAL, "reference audio too short (%lld samples at 24 kHz; more than %d needed)", (long long)n, pad);
    int64_t np_ = n + 2 * pad;
    int F = (int)((np_ - e->n_fft) / e->hop + 1);
    double *re = malloc((size_t)e->n_fft * sizeof(double)), *im = malloc((size_t)e->n_fft * sizeof(double));
    double *win = malloc((size_t)e->n_fft * sizeof(double)), *mag = malloc((size_t)nb * sizeof(double));
    float *m = malloc((size_t)e->n_mels * F * sizeof(float));
    if (!re || !im || !win || !mag || !m) {
        free(re), free(im), free(win), free(mag), free(m);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < e->n_fft; i++) win[i] = 0.5 - 0.5 * cos(2 * M_PI * i / e->n_fft);
    for (int f = 0; f < F; f++) {
        for (int i = 0; i < e->n_fft; i++) {
            int64_t k = (int64_t)f * e->hop + i - pad; /* reflect without repeating the edge */
            if (k < 0) k = -k;
            if (k >= n) k = 2 * (n - 1) - k;
            re[i] = y[k] * win[i];
            im[i] = 0;
        }
        fft(re, im, e->n_fft);
        for (int k = 0; k < nb; k++) mag[k] = sqrt(re[k] * re[k] + im[k] * im[k] + 1e-9);
        for (int b = 0; b < e->n_mels; b++) {
            const float *w = e->melfb + (size_t)b * nb;
            double acc = 0;
            for (int k = 0; k < nb; k++) acc += w[k] * mag[k];
            m[(size_t)b * F + f] = (float)log(acc > 1e-5 ? acc : 1e-5);
        }
    }
    free(re), free(im), free(win), free(mag);
    *mel = m;
    *frames = F;
    return 0;
}

static int prep(const omnic_vocoder *v, const float *pcm, int64_t n, float **y, int64_t *ny) {
    if (!v->have_ecapa) return omnic_err(OMNIC_EINVAL, "%s: not a zero-shot vocoder", v->path);
    if (n > (int64_t)(VOCODER_REF_MAX_SECONDS * VOCODER_SR)) n = (int64_t)(VOCODER_REF_MAX_SECONDS * VOCODER_SR);
    int pad = (v->ecapa.n_fft - v->ecapa.hop) / 2;
    if (n <= pad) return omnic_err(OMNIC_EINVAL, "reference audio too short (%lld samples at 24 kHz; more than %d needed)", (long long)n, pad);
    *y = malloc((size_t)n * sizeof(float));
    if (!*y) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int rc = preprocess(pcm, n, *y);
    if (rc) {
        free(*y);
        *y = NULL;
    }
    *ny = n;
    return rc;
}

int vocoder_ref_mel(const omnic_vocoder *v, const float *pcm, int64_t n, float **mel, int *frames) {
    float *y = NULL;
    int64_t ny = 0;
    int rc = prep(v, pcm, n, &y, &ny);
    if (rc) return rc;
    rc = mel_of(&v->ecapa, y, ny, mel, frames);
    free(y);
    return rc;
}

/* --- ECAPA-TDNN forward ---------------------------------------------------------- */

static void relu_bn(float *x, int F, const vc_bn *b) {
    for (int t = 0; t < F; t++) {
        float *r = x + (size_t)t * b->c;
        for (int c = 0; c < b->c; c++) {
            float u = r[c] > 0 ? r[c] : 0;
            r[c] = u * b->scale[c] + b->shift[c];
        }
    }
}

static float sigm(double x) { return (float)(1.0 / (1.0 + exp(-x))); }

int vocoder_speaker_from_audio(omnic_vocoder *v, const float *pcm, int64_t n, float *spk) {
    float *mel = NULL;
    int F = 0;
    int rc = vocoder_ref_mel(v, pcm, n, &mel, &F);
    if (rc) return rc;
    const vc_ecapa *e = &v->ecapa;
    int H = e->h, g8 = H / 8, c3 = 3 * H, nm = e->n_mels;
    size_t colcap = (size_t)F * 5 * (nm > H ? nm : H) + 16;
    float *X = malloc((size_t)F * nm * sizeof(float)), *col = malloc(colcap * sizeof(float));
    float *cat = malloc((size_t)F * c3 * sizeof(float)), *h = malloc((size_t)F * H * sizeof(float));
    float *a = malloc((size_t)F * H * sizeof(float)), *r = malloc((size_t)F * H * sizeof(float));
    float *gi = malloc((size_t)F * g8 * sizeof(float)), *go = malloc((size_t)F * g8 * sizeof(float));
    float *cc = malloc((size_t)F * c3 * sizeof(float)), *att = malloc((size_t)F * ECAPA_ATT * sizeof(float));
    float *sc = malloc((size_t)F * c3 * sizeof(float));
    double *pool = malloc((size_t)2 * c3 * sizeof(double));
    float *pf = malloc((size_t)2 * c3 * sizeof(float));
    if (!X || !col || !cat || !h || !a || !r || !gi || !go || !cc || !att || !sc || !pool || !pf) {
        rc = omnic_err(OMNIC_ENOMEM, "out of memory");
        goto done;
    }
    for (int b = 0; b < nm; b++)
        for (int t = 0; t < F; t++) X[(size_t)t * nm + b] = mel[(size_t)b * F + t];
    omnic_pool *P = v->pool;
    /* layer1: CRB */
    vc_conv_run(P, &e->l1, X, F, h, col, colcap);
    relu_bn(h, F, &e->l1bn);
    for (int li = 0; li < 3; li++) {
        const vc_seres *s = &e->l[li];
        vc_conv_run(P, &s->c1, h, F, a, col, colcap);
        relu_bn(a, F, &s->b1);
        for (int i = 0; i < 7; i++) {
            for (int t = 0; t < F; t++) {
                float *d = gi + (size_t)t * g8;
                const float *ai = a + (size_t)t * H + (size_t)i * g8;
                for (int c = 0; c < g8; c++) d[c] = ai[c] + (i ? go[(size_t)t * g8 + c] : 0.f);
            }
            vc_conv_run(P, &s->k[i], gi, F, go, col, colcap);
            relu_bn(go, F, &s->bk[i]);
            for (int t = 0; t < F; t++) memcpy(r + (size_t)t * H + (size_t)i * g8, go + (size_t)t * g8, (size_t)g8 * sizeof(float));
        }
        for (int t = 0; t < F; t++) memcpy(r + (size_t)t * H + 7 * g8, a + (size_t)t * H + 7 * g8, (size_t)g8 * sizeof(float));
        vc_conv_run(P, &s->c2, r, F, a, col, colcap);
        relu_bn(a, F, &s->b2);
        /* squeeze-excitation */
        double m[4096];
        float z1[ECAPA_ATT];
        int Hc = H > 4096 ? 4096 : H;
        for (int c = 0; c < Hc; c++) m[c] = 0;
        for (int t = 0; t < F; t++)
            for (int c = 0; c < Hc; c++) m[c] += a[(size_t)t * H + c];
        for (int c = 0; c < Hc; c++) m[c] /= F;
        for (int j = 0; j < ECAPA_ATT; j++) {
            double acc = s->se_b1[j];
            for (int c = 0; c < Hc; c++) acc += (double)s->se_w1[(size_t)j * H + c] * m[c];
            z1[j] = acc > 0 ? (float)acc : 0.f;
        }
        for (int c = 0; c < Hc; c++) {
            double acc = s->se_b2[c];
            for (int j = 0; j < ECAPA_ATT; j++) acc += (double)s->se_w2[(size_t)c * ECAPA_ATT + j] * z1[j];
            float g = sigm(acc);
            for (int t = 0; t < F; t++) {
                size_t q = (size_t)t * H + c;
                h[q] = a[q] * g + h[q];
            }
        }
        for (int t = 0; t < F; t++) memcpy(cat + (size_t)t * c3 + (size_t)li * H, h + (size_t)t * H, (size_t)H * sizeof(float));
    }
    vc_conv_run(P, &e->conv, cat, F, cc, col, colcap);
    for (size_t q = 0; q < (size_t)F * c3; q++) cc[q] = cc[q] > 0 ? cc[q] : 0.f;
    /* attentive statistics pooling */
    vc_conv_run(P, &e->att1, cc, F, att, col, colcap);
    for (size_t q = 0; q < (size_t)F * ECAPA_ATT; q++) att[q] = tanhf(att[q]);
    vc_conv_run(P, &e->att2, att, F, sc, col, colcap);
    for (int c = 0; c < c3; c++) {
        double mx = -INFINITY, den = 0, mu = 0, m2 = 0;
        for (int t = 0; t < F; t++) mx = fmax(mx, sc[(size_t)t * c3 + c]);
        for (int t = 0; t < F; t++) {
            double w = exp(sc[(size_t)t * c3 + c] - mx), x = cc[(size_t)t * c3 + c];
            den += w;
            mu += w * x;
            m2 += w * x * x;
        }
        mu /= den;
        m2 /= den;
        double var = m2 - mu * mu;
        pool[c] = mu;
        pool[c3 + c] = sqrt(var > 1e-9 ? var : 1e-9);
    }
    for (int c = 0; c < 2 * c3; c++) pf[c] = (float)(pool[c] * e->bn.scale[c] + e->bn.shift[c]);
    for (int o = 0; o < v->spk_dim; o++) {
        double acc = e->lin_b[o];
        for (int c = 0; c < 2 * c3; c++) acc += (double)e->lin_w[(size_t)o * 2 * c3 + c] * pf[c];
        spk[o] = (float)(acc * e->bn_out.scale[o] + e->bn_out.shift[o]);
    }
done:
    free(mel), free(X), free(col), free(cat), free(h), free(a), free(r), free(gi), free(go), free(cc), free(att), free(sc), free(pool), free(pf);
    return rc;
}
