/* vocoder_load.c - open a vocoder .mar (audio.md §9.1-9.2, §9.8, §10.1): the ZIP,
 * its manifest, config.json validated against the tensor shapes, the generator
 * state dict through the restricted unpickler, weight normalisation folded, and
 * the preset speaker names from spk_list.txt. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "formats/zip.h"
#include "models/vocoder_impl.h"

static const char *dt_name(tp_dtype d) {
    return d == TP_F32 ? "float32" : d == TP_F16 ? "float16" : d == TP_BF16 ? "bfloat16" : "int64";
}

static void shape_str(char *b, size_t n, int nd, const int64_t *s) {
    size_t o = 0;
    o += (size_t)snprintf(b + o, n - o, "[");
    for (int i = 0; i < nd && o < n; i++) o += (size_t)snprintf(b + o, n - o, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (o < n) snprintf(b + o, n - o, "]");
}

int vc_get(const vc_ld *l, const char *name, int ndim, const int64_t *shape, float **out) {
    *out = NULL;
    const tp_tensor *t = torch_ckpt_find(l->ck, name);
    if (!t) return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' missing", l->file, name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (shape[i] >= 0 && t->shape[i] != shape[i]) ok = 0;
    if (!ok) {
        char a[128], b[128];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, ndim, shape);
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has shape %s, expected %s", l->file, name, a, b);
    }
    if (t->dtype == TP_I64) return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has dtype %s, expected a float type", l->file, name, dt_name(t->dtype));
    float *f = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!f) return omnic_err(OMNIC_ENOMEM, "%s: out of memory for '%s'", l->file, name);
    const uint8_t *p = t->data;
    if (t->dtype == TP_F32) memcpy(f, p, (size_t)t->numel * 4);
    else
        for (int64_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            f[i] = t->dtype == TP_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
    *out = f;
    return 0;
}

static int has(const vc_ld *l, const char *name) { return torch_ckpt_find(l->ck, name) != NULL; }

/* Weight of module `mod` folded from weight norm (dim 0): shape [d0][d1][d2]. */
static int get_wn(const vc_ld *l, const char *mod, int64_t d0, int64_t d1, int64_t d2, float **out) {
    char n1[256], n2[256];
    int64_t sh[3] = {d0, d1, d2}, gs[3] = {d0, 1, 1};
    snprintf(n1, sizeof n1, "%s.weight", mod);
    if (has(l, n1)) return vc_get(l, n1, 3, sh, out);
    snprintf(n1, sizeof n1, "%s.weight_g", mod);
    snprintf(n2, sizeof n2, "%s.weight_v", mod);
    if (!has(l, n1)) {
        snprintf(n1, sizeof n1, "%s.parametrizations.weight.original0", mod);
        snprintf(n2, sizeof n2, "%s.parametrizations.weight.original1", mod);
    }
    if (!has(l, n1) || !has(l, n2))
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s.weight' (or its weight_g/weight_v or parametrizations) missing", l->file, mod);
    float *g, *v;
    int rc = vc_get(l, n1, 3, gs, &g);
    if (rc) return rc;
    if ((rc = vc_get(l, n2, 3, sh, &v))) {
        free(g);
        return rc;
    }
    size_t per = (size_t)(d1 * d2);
    for (int64_t i = 0; i < d0; i++) {
        double ss = 0;
        for (size_t j = 0; j < per; j++) ss += (double)v[i * per + j] * v[i * per + j];
        float sc = ss > 0 ? (float)(g[i] / sqrt(ss)) : 0.f;
        for (size_t j = 0; j < per; j++) v[i * per + j] *= sc;
    }
    free(g);
    *out = v;
    return 0;
}

static int get_bias(const vc_ld *l, const char *mod, int64_t n, float **out) {
    char nb[256];
    snprintf(nb, sizeof nb, "%s.bias", mod);
    return vc_get(l, nb, 1, &n, out);
}

int vc_conv_init(vc_conv *cv, float *w, int cout, int cin, int k, int dil, int causal, float *bias) {
    memset(cv, 0, sizeof *cv);
    cv->cin = cin;
    cv->cout = cout;
    cv->k = k;
    cv->dil = dil;
    cv->padl = causal ? (k - 1) * dil : (k - 1) * dil / 2;
    cv->b = bias;
    cv->w = malloc((size_t)cout * cin * k * sizeof(float));
    if (!cv->w) {
        free(w);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    for (int o = 0; o < cout; o++)
        for (int c = 0; c < cin; c++)
            for (int j = 0; j < k; j++) cv->w[((size_t)o * k + j) * cin + c] = w[((size_t)o * cin + c) * k + j];
    free(w);
    cv->kw = (kweight){cv->w, DT_F32, cout, k * cin, 0, 0};
    return 0;
}

void vc_conv_free(vc_conv *cv) {
    free(cv->w);
    free(cv->b);
    cv->w = cv->b = NULL;
}

/* Weight-normed Conv1d module `mod` (…/conv) with bias. */
static int load_conv(const vc_ld *l, const char *mod, int cout, int cin, int k, int dil, int causal, int bias, vc_conv *cv) {
    float *w, *b = NULL;
    int rc = get_wn(l, mod, cout, cin, k, &w);
    if (rc) return rc;
    if (bias && (rc = get_bias(l, mod, cout, &b))) {
        free(w);
        return rc;
    }
    return vc_conv_init(cv, w, cout, cin, k, dil, causal, b);
}

static int load_tconv(const vc_ld *l, const char *mod, int cin, int cout, int k, int r, int causal, vc_tconv *tc) {
    float *v, *b;
    memset(tc, 0, sizeof *tc);
    int rc = get_wn(l, mod, cin, cout, k, &v);
    if (rc) return rc;
    if ((rc = get_bias(l, mod, cout, &b))) {
        free(v);
        return rc;
    }
    tc->cin = cin;
    tc->cout = cout;
    tc->k = k;
    tc->r = r;
    tc->b = b;
    if (causal) {
        tc->pre = (k + r - 1) / r - 1;
        tc->shift = r - tc->pre * r;
    } else {
        tc->pre = 0;
        tc->shift = (k - r + 1) / 2;
    }
    tc->w = malloc((size_t)cin * cout * k * sizeof(float));
    if (!tc->w) {
        free(v);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    for (int c = 0; c < cin; c++)
        for (int o = 0; o < cout; o++)
            for (int j = 0; j < k; j++) tc->w[((size_t)j * cout + o) * cin + c] = v[((size_t)c * cout + o) * k + j];
    free(v);
    tc->kw = (kweight){tc->w, DT_F32, k * cout, cin, 0, 0};
    return 0;
}

const double vc_kaiser12[12] = {2.028966450e-3, 9.389463944e-3, -2.554346407e-2, -5.765737548e-2, 1.285726091e-1, 4.432098001e-1,
                                4.432098001e-1, 1.285726091e-1, -5.765737548e-2, -2.554346407e-2, 9.389463944e-3, 2.028966450e-3};

static int load_act(const vc_ld *l, const char *pre, int c, int logscale, vc_act *a) {
    char n[256];
    int64_t sc = c, fs[3] = {1, 1, 12};
    float *al, *be, *f;
    memset(a, 0, sizeof *a);
    a->c = c;
    snprintf(n, sizeof n, "%s.act.alpha", pre);
    int rc = vc_get(l, n, 1, &sc, &al);
    if (rc) return rc;
    snprintf(n, sizeof n, "%s.act.beta", pre);
    if ((rc = vc_get(l, n, 1, &sc, &be))) {
        free(al);
        return rc;
    }
    for (int i = 0; i < c; i++) {
        float aa = logscale ? expf(al[i]) : al[i], bb = logscale ? expf(be[i]) : be[i];
        al[i] = aa;
        be[i] = 1.0f / (bb + 1e-9f);
    }
    a->alpha = al;
    a->inv_beta = be;
    for (int w = 0; w < 2; w++) {
        float *h = w ? a->hdown : a->hup;
        snprintf(n, sizeof n, w ? "%s.downsample.lowpass.filter" : "%s.upsample.filter", pre);
        for (int i = 0; i < 12; i++) h[i] = (float)vc_kaiser12[i];
        if (!has(l, n)) continue;
        if ((rc = vc_get(l, n, 3, fs, &f))) return rc;
        for (int i = 0; i < 12; i++) {
            if (fabs(f[i] - vc_kaiser12[i]) >= 1e-6) {
                free(f);
                return omnic_err(OMNIC_ETENSOR, "%s: filter '%s' differs from the Kaiser-sinc table of audio.md 9.4 at tap %d (%g vs %g)",
                                 l->file, n, i, f[i], vc_kaiser12[i]);
            }
            h[i] = f[i];
        }
        free(f);
    }
    return 0;
}

static void act_free(vc_act *a) {
    free(a->alpha);
    free(a->inv_beta);
    a->alpha = a->inv_beta = NULL;
}

/* --- config.json --------------------------------------------------------- */

static int cfg_int(json_t *c, const char *file, const char *key, int required, int def, int *out) {
    json_t *j = json_object_get(c, key);
    if (!j) {
        if (required) return omnic_err(OMNIC_ECONFIG, "%s: config.json: key '%s' missing", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > (1 << 24))
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: '%s' must be a non-negative integer", file, key);
    *out = (int)json_integer_value(j);
    return 0;
}

static int cfg_bool(json_t *c, const char *file, const char *key, int required, int def, int *out) {
    json_t *j = json_object_get(c, key);
    if (!j) {
        if (required) return omnic_err(OMNIC_ECONFIG, "%s: config.json: key '%s' missing", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_boolean(j)) return omnic_err(OMNIC_ECONFIG, "%s: config.json: '%s' must be true or false", file, key);
    *out = json_is_true(j);
    return 0;
}

static int cfg_ints(json_t *c, const char *file, const char *key, int *out, int max, int *n) {
    json_t *j = json_object_get(c, key);
    if (!j) return omnic_err(OMNIC_ECONFIG, "%s: config.json: key '%s' missing", file, key);
    if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > (size_t)max)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: '%s' must be a list of 1..%d integers", file, key, max);
    *n = (int)json_array_size(j);
    for (int i = 0; i < *n; i++) {
        json_t *e = json_array_get(j, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 4096)
            return omnic_err(OMNIC_ECONFIG, "%s: config.json: '%s'[%d] must be a positive integer", file, key, i);
        out[i] = (int)json_integer_value(e);
    }
    return 0;
}

static int cfg_str_is(json_t *c, const char *file, const char *key, const char *want) {
    json_t *j = json_object_get(c, key);
    if (!j) return omnic_err(OMNIC_ECONFIG, "%s: config.json: key '%s' missing", file, key);
    if (json_is_string(j) && !strcmp(json_string_value(j), want)) return 0;
    if (json_is_integer(j) && atoi(want) == json_integer_value(j) && isdigit((unsigned char)want[0])) return 0;
    return omnic_err(OMNIC_EUNSUP, "%s: config.json: '%s' must be \"%s\" (the only supported value)", file, key, want);
}

/* --- spk_list.txt ---------------------------------------------------------- */

static int load_spk_names(omnic_vocoder *v, const uint8_t *d, size_t len, const char *file) {
    v->spk_names = calloc((size_t)v->num_spk + 1, sizeof(char *));
    if (!v->spk_names) return omnic_err(OMNIC_ENOMEM, "out of memory");
    size_t i = 0;
    int line = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && d[j] != '\n') j++;
        size_t a = i, b = j;
        while (a < b && (isspace(d[a]) || d[a] == 0)) a++;
        while (b > a && (isspace(d[b - 1]) || d[b - 1] == 0)) b--;
        if (line >= v->num_spk)
            return omnic_err(OMNIC_ECONFIG, "%s: spk_list.txt has more lines than the %d rows of spk_emb.weight", file, v->num_spk);
        char *s = malloc(b - a + 1);
        if (!s) return omnic_err(OMNIC_ENOMEM, "out of memory");
        memcpy(s, d + a, b - a);
        s[b - a] = 0;
        for (size_t k = 0; k < b - a; k++)
            if ((unsigned char)s[k] < 32) s[k] = '?';
        v->spk_names[line++] = s;
        i = j + 1;
    }
    return 0;
}

/* --- open ------------------------------------------------------------------ */

static int resolve(const char *path, int zero_shot, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) != 0) return omnic_err(OMNIC_EIO, "%s: no such file or folder", path);
    if (S_ISDIR(st.st_mode)) {
        snprintf(out, n, "%s/%s", path, zero_shot ? VOCODER_ZS_PATH : VOCODER_FT_PATH);
        if (stat(out, &st) != 0)
            return omnic_err(OMNIC_EIO, "%s: no %s vocoder archive (%s)", path, zero_shot ? "zero-shot" : "finetuned", out);
    } else
        snprintf(out, n, "%s", path);
    return 0;
}

static int load_all(omnic_vocoder *v, const vc_ld *l, json_t *cfg, zip_archive *z) {
    const char *f = l->file;
    int rc, logscale = 0, dils[VC_MAX_KERNELS][VC_MAX_DIL], nd[VC_MAX_KERNELS];
    int rates[VC_MAX_STAGES], kers[VC_MAX_STAGES], rks[VC_MAX_KERNELS], nr, nk, nrk;
    if (!json_is_object(cfg)) return omnic_err(OMNIC_ECONFIG, "%s: config.json is not a JSON object", f);
    if ((rc = cfg_str_is(cfg, f, "resblock", "1")) || (rc = cfg_str_is(cfg, f, "activation", "snakebeta"))) return rc;
    if ((rc = cfg_bool(cfg, f, "snake_logscale", 1, 0, &logscale))) return rc;
    if ((rc = cfg_bool(cfg, f, "finetune", 0, 0, &v->finetune))) return rc;
    if ((rc = cfg_bool(cfg, f, "use_tanh_at_final", 0, 1, &v->use_tanh))) return rc;
    int use_bias = 1, causal_cfg = -1;
    if ((rc = cfg_bool(cfg, f, "use_bias_at_final", 0, 1, &use_bias))) return rc;
    if ((rc = cfg_bool(cfg, f, "causal", 0, -1, &causal_cfg))) return rc;
    if ((rc = cfg_int(cfg, f, "num_units", 1, 0, &v->num_units)) || (rc = cfg_int(cfg, f, "unit_emb_dim", 1, 0, &v->unit_dim)) ||
        (rc = cfg_int(cfg, f, "spk_emb_dim", 1, 0, &v->spk_dim)) ||
        (rc = cfg_int(cfg, f, "upsample_initial_channel", 1, 0, &v->c0)))
        return rc;
    int sr;
    if ((rc = cfg_int(cfg, f, "sampling_rate", 0, VOCODER_SR, &sr))) return rc;
    if (sr != VOCODER_SR) return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'sampling_rate' %d (only 24000 is supported)", f, sr);
    if ((rc = cfg_ints(cfg, f, "upsample_rates", rates, VC_MAX_STAGES, &nr)) ||
        (rc = cfg_ints(cfg, f, "upsample_kernel_sizes", kers, VC_MAX_STAGES, &nk)) ||
        (rc = cfg_ints(cfg, f, "resblock_kernel_sizes", rks, VC_MAX_KERNELS, &nrk)))
        return rc;
    if (nr != nk) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_kernel_sizes' has %d entries, 'upsample_rates' %d", f, nk, nr);
    int prod = 1;
    for (int i = 0; i < nr; i++) prod *= rates[i];
    if (prod != VOCODER_HOP) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_rates' multiply to %d, not 960", f, prod);
    json_t *jd = json_object_get(cfg, "resblock_dilation_sizes");
    if (!jd) return omnic_err(OMNIC_ECONFIG, "%s: config.json: key 'resblock_dilation_sizes' missing", f);
    if (!json_is_array(jd) || json_array_size(jd) != (size_t)nrk)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'resblock_dilation_sizes' must be %d lists", f, nrk);
    for (int j = 0; j < nrk; j++) {
        json_t *e = json_array_get(jd, (size_t)j);
        if (!json_is_array(e) || json_array_size(e) == 0 || json_array_size(e) > VC_MAX_DIL)
            return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'resblock_dilation_sizes'[%d] must be a list of 1..%d integers", f, j, VC_MAX_DIL);
        nd[j] = (int)json_array_size(e);
        for (int m = 0; m < nd[j]; m++) {
            json_t *x = json_array_get(e, (size_t)m);
            if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 64)
                return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'resblock_dilation_sizes'[%d][%d] must be 1..64", f, j, m);
            dils[j][m] = (int)json_integer_value(x);
        }
    }
    /* Causal variant: detected from pad_buffer tensors. */
    int causal = 0;
    for (int i = 0; i < l->ck->n; i++) {
        size_t ln = strlen(l->ck->t[i].name);
        if (ln >= 10 && !strcmp(l->ck->t[i].name + ln - 10, "pad_buffer")) causal = 1;
    }
    if (causal_cfg >= 0 && causal_cfg != causal)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'causal' is %s but the checkpoint %s pad_buffer tensors", f,
                         causal_cfg ? "true" : "false", causal ? "has" : "has no");
    v->causal = causal;
    v->nstages = nr;
    /* Shapes. */
    int64_t es[2] = {-1, -1};
    if ((rc = vc_get(l, "unit_emb.weight", 2, es, &v->unit_emb))) return rc;
    const tp_tensor *ue = torch_ckpt_find(l->ck, "unit_emb.weight");
    if (ue->shape[0] != v->num_units) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'num_units' %d but unit_emb.weight has %lld rows", f, v->num_units, (long long)ue->shape[0]);
    if (ue->shape[1] != v->unit_dim) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'unit_emb_dim' %d but unit_emb.weight is %lld wide", f, v->unit_dim, (long long)ue->shape[1]);
    if (v->finetune) {
        int ns;
        if ((rc = cfg_int(cfg, f, "num_spk", 0, -1, &ns))) return rc;
        if ((rc = vc_get(l, "spk_emb.weight", 2, es, &v->spk_table))) return rc;
        const tp_tensor *se = torch_ckpt_find(l->ck, "spk_emb.weight");
        if (ns >= 0 && se->shape[0] != ns)
            return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'num_spk' %d but spk_emb.weight has %lld rows", f, ns, (long long)se->shape[0]);
        if (se->shape[1] != v->spk_dim)
            return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'spk_emb_dim' %d but spk_emb.weight is %lld wide", f, v->spk_dim, (long long)se->shape[1]);
        if (se->shape[0] < 1) return omnic_err(OMNIC_ETENSOR, "%s: spk_emb.weight has no rows", f);
        v->num_spk = (int)se->shape[0];
        int is = zip_find(z, "spk_list.txt");
        if (is < 0) return omnic_err(OMNIC_EFORMAT, "%s: spk_list.txt missing from the finetuned archive", f);
        const uint8_t *d;
        size_t dl;
        void *own;
        if ((rc = zip_read(z, is, &d, &dl, &own))) return rc;
        rc = load_spk_names(v, d, dl, f);
        free(own);
        if (rc) return rc;
    } else {
        if ((rc = vc_ecapa_load(v, l, cfg))) return rc;
        v->have_ecapa = 1;
    }
    /* conv_pre: the unit and speaker channels in. */
    const tp_tensor *cp = torch_ckpt_find(l->ck, "conv_pre.conv.weight_v");
    if (!cp) cp = torch_ckpt_find(l->ck, "conv_pre.conv.parametrizations.weight.original1");
    if (!cp) cp = torch_ckpt_find(l->ck, "conv_pre.conv.weight");
    if (cp && cp->ndim == 3 && cp->shape[0] != v->c0)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_initial_channel' %d but conv_pre has %lld output channels", f, v->c0, (long long)cp->shape[0]);
    if (cp && cp->ndim == 3 && cp->shape[1] != v->unit_dim + v->spk_dim)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'unit_emb_dim' + 'spk_emb_dim' = %d but conv_pre has %lld input channels", f,
                         v->unit_dim + v->spk_dim, (long long)cp->shape[1]);
    if (v->c0 >> nr < 1) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_initial_channel' %d is too small for %d stages", f, v->c0, nr);
    if ((rc = load_conv(l, "conv_pre.conv", v->c0, v->unit_dim + v->spk_dim, 7, 1, causal, 1, &v->conv_pre))) return rc;
    char mod[256];
    for (int i = 0; i < nr; i++) {
        vc_stage *s = &v->st[i];
        s->cin = v->c0 >> i;
        s->cout = v->c0 >> (i + 1);
        s->r = rates[i];
        s->nk = nrk;
        if (kers[i] < rates[i]) return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_kernel_sizes'[%d] %d is below its rate %d", f, i, kers[i], rates[i]);
        if (causal && ((kers[i] + rates[i] - 1) / rates[i] - 2) * rates[i] + kers[i] != 2 * rates[i])
            return omnic_err(OMNIC_EUNSUP, "%s: config.json: causal upsampler %d with kernel %d and rate %d does not give rate x length", f, i, kers[i], rates[i]);
        snprintf(mod, sizeof mod, "ups.%d.0.deconv", i);
        {
            char nv[300];
            const char *suf[3] = {".weight_v", ".parametrizations.weight.original1", ".weight"};
            for (int q = 0; q < 3; q++) {
                snprintf(nv, sizeof nv, "%s%s", mod, suf[q]);
                const tp_tensor *w = torch_ckpt_find(l->ck, nv);
                if (w && w->ndim == 3 && w->shape[2] != kers[i])
                    return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'upsample_kernel_sizes'[%d] is %d but %s has kernel %lld", f, i, kers[i], nv, (long long)w->shape[2]);
            }
        }
        if ((rc = load_tconv(l, mod, s->cin, s->cout, kers[i], rates[i], causal, &s->up))) return rc;
        for (int j = 0; j < nrk; j++) {
            vc_amp *a = &s->rb[j];
            a->k = rks[j];
            a->nd = nd[j];
            if (rks[j] % 2 == 0) return omnic_err(OMNIC_EUNSUP, "%s: config.json: 'resblock_kernel_sizes'[%d] must be odd", f, j);
            for (int m = 0; m < nd[j]; m++) {
                snprintf(mod, sizeof mod, "resblocks.%d.convs1.%d.conv", i * nrk + j, m);
                {
                    char nv[300];
                    snprintf(nv, sizeof nv, "%s.weight_v", mod);
                    const tp_tensor *w = torch_ckpt_find(l->ck, nv);
                    if (w && w->ndim == 3 && w->shape[2] != rks[j])
                        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'resblock_kernel_sizes'[%d] is %d but %s has kernel %lld", f, j, rks[j], nv, (long long)w->shape[2]);
                }
                if ((rc = load_conv(l, mod, s->cout, s->cout, rks[j], dils[j][m], causal, 1, &a->c1[m]))) return rc;
                snprintf(mod, sizeof mod, "resblocks.%d.convs2.%d.conv", i * nrk + j, m);
                if ((rc = load_conv(l, mod, s->cout, s->cout, rks[j], 1, causal, 1, &a->c2[m]))) return rc;
            }
            for (int q = 0; q < 2 * nd[j]; q++) {
                snprintf(mod, sizeof mod, "resblocks.%d.activations.%d", i * nrk + j, q);
                if ((rc = load_act(l, mod, s->cout, logscale, &a->a[q]))) return rc;
            }
        }
    }
    v->clast = v->c0 >> nr;
    if ((rc = load_act(l, "activation_post", v->clast, logscale, &v->act_post))) return rc;
    int hb = has(l, "conv_post.conv.bias");
    if (hb != use_bias)
        return omnic_err(OMNIC_ECONFIG, "%s: config.json: 'use_bias_at_final' is %s but conv_post.conv.bias is %s", f,
                         use_bias ? "true (or absent: the default)" : "false", hb ? "present" : "absent");
    if ((rc = load_conv(l, "conv_post.conv", 1, v->clast, 7, 1, causal, use_bias, &v->conv_post))) return rc;
    return 0;
}

int vocoder_open(const char *path, int zero_shot, omnic_pool *pool, int n_threads, omnic_vocoder **out) {
    *out = NULL;
    omnic_vocoder *v = calloc(1, sizeof *v);
    if (!v) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int rc = resolve(path, zero_shot, v->path, sizeof v->path);
    if (rc) {
        free(v);
        return rc;
    }
    const char *f = v->path;
    zip_archive z;
    if ((rc = zip_open(f, &z))) {
        free(v);
        return rc;
    }
    const uint8_t *d;
    size_t dl;
    void *own = NULL, *ck_own = NULL;
    json_t *man = NULL, *cfg = NULL;
    torch_ckpt ck;
    memset(&ck, 0, sizeof ck);
    int im = zip_find(&z, "MAR-INF/MANIFEST.json");
    if (im < 0) { rc = omnic_err(OMNIC_EFORMAT, "%s: MAR-INF/MANIFEST.json missing (not a TorchServe archive)", f); goto done; }
    if ((rc = zip_read(&z, im, &d, &dl, &own))) goto done;
    json_error_t je;
    man = json_loadb((const char *)d, dl, 0, &je);
    free(own);
    own = NULL;
    if (!man) { rc = omnic_err(OMNIC_EFORMAT, "%s: MAR-INF/MANIFEST.json: %s", f, je.text); goto done; }
    json_t *sf = json_object_get(json_object_get(man, "model"), "serializedFile");
    if (!json_is_string(sf)) { rc = omnic_err(OMNIC_ECONFIG, "%s: MAR-INF/MANIFEST.json: key 'model.serializedFile' missing", f); goto done; }
    const char *ckname = json_string_value(sf);
    int ic = zip_find(&z, "config.json");
    if (ic < 0) { rc = omnic_err(OMNIC_EFORMAT, "%s: config.json missing from the archive", f); goto done; }
    if ((rc = zip_read(&z, ic, &d, &dl, &own))) goto done;
    cfg = json_loadb((const char *)d, dl, 0, &je);
    free(own);
    own = NULL;
    if (!cfg) { rc = omnic_err(OMNIC_EFORMAT, "%s: config.json: %s (line %d)", f, je.text, je.line); goto done; }
    int ik = zip_find(&z, ckname);
    if (ik < 0) { rc = omnic_err(OMNIC_EFORMAT, "%s: checkpoint '%s' (model.serializedFile) missing from the archive", f, ckname); goto done; }
    if ((rc = zip_read(&z, ik, &d, &dl, &ck_own))) goto done;
    char ckfull[800];
    snprintf(ckfull, sizeof ckfull, "%s:%s", f, ckname);
    if ((rc = torch_ckpt_open_mem(d, dl, ckfull, "generator", &ck))) goto done;
    vc_ld l = {&ck, f};
    if ((rc = load_all(v, &l, cfg, &z))) goto done;
    if (zero_shot >= 0 && zero_shot == v->finetune) {
        rc = omnic_err(OMNIC_EINVAL, "%s: this is a %s archive, a %s one is needed", f, v->finetune ? "finetuned (preset voices)" : "zero-shot",
                       zero_shot ? "zero-shot" : "finetuned");
        goto done;
    }
    if (pool) v->pool = pool;
    else {
        v->pool = omnic_pool_new(n_threads);
        v->own_pool = 1;
        if (!v->pool) { rc = omnic_err(OMNIC_ENOMEM, "cannot create a thread pool"); goto done; }
    }
    kernels_init();
done:
    torch_ckpt_close(&ck);
    free(ck_own);
    json_decref(man);
    json_decref(cfg);
    zip_close(&z);
    if (rc) {
        vocoder_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static void tconv_free(vc_tconv *t) {
    free(t->w);
    free(t->b);
}

void vocoder_free(omnic_vocoder *v) {
    if (!v) return;
    free(v->unit_emb);
    free(v->spk_table);
    if (v->spk_names)
        for (int i = 0; i < v->num_spk; i++) free(v->spk_names[i]);
    free(v->spk_names);
    vc_conv_free(&v->conv_pre);
    vc_conv_free(&v->conv_post);
    for (int i = 0; i < VC_MAX_STAGES; i++) {
        tconv_free(&v->st[i].up);
        for (int j = 0; j < VC_MAX_KERNELS; j++)
            for (int m = 0; m < VC_MAX_DIL; m++) {
                vc_conv_free(&v->st[i].rb[j].c1[m]);
                vc_conv_free(&v->st[i].rb[j].c2[m]);
                act_free(&v->st[i].rb[j].a[2 * m]);
                act_free(&v->st[i].rb[j].a[2 * m + 1]);
            }
    }
    act_free(&v->act_post);
    vc_ecapa_free(&v->ecapa);
    if (v->own_pool) omnic_pool_free(v->pool);
    free(v);
}

int vocoder_is_finetune(const omnic_vocoder *v) { return v->finetune; }
int vocoder_is_causal(const omnic_vocoder *v) { return v->causal; }
int vocoder_num_units(const omnic_vocoder *v) { return v->num_units; }
int vocoder_spk_dim(const omnic_vocoder *v) { return v->spk_dim; }
const char *vocoder_path(const omnic_vocoder *v) { return v->path; }
int vocoder_num_speakers(const omnic_vocoder *v) { return v->finetune ? v->num_spk : 0; }
const char *vocoder_speaker_name(const omnic_vocoder *v, int i) {
    return v->finetune && v->spk_names && i >= 0 && i < v->num_spk ? v->spk_names[i] : NULL;
}

int vocoder_find_speaker(const omnic_vocoder *v, const char *voice, int *index) {
    if (!v->finetune) return omnic_err(OMNIC_EINVAL, "%s: zero-shot vocoder has no preset voices (voice '%s')", v->path, voice);
    for (int i = v->num_spk - 1; i >= 0; i--)
        if (v->spk_names[i] && !strcmp(v->spk_names[i], voice)) {
            *index = i;
            return 0;
        }
    if (voice[0]) {
        char *e;
        long x = strtol(voice, &e, 10);
        int digits = 1;
        for (const char *p = voice; *p; p++) if (!isdigit((unsigned char)*p)) digits = 0;
        if (digits && !*e) {
            if (x < 0 || x >= v->num_spk)
                return omnic_err(OMNIC_EINVAL, "voice index %s out of range (0..%d)", voice, v->num_spk - 1);
            *index = (int)x;
            return 0;
        }
    }
    return omnic_err(OMNIC_EINVAL, "unknown voice '%s' (see `omnic voices`)", voice);
}

int vocoder_preset(const omnic_vocoder *v, int i, float *spk) {
    if (!v->finetune || i < 0 || i >= v->num_spk) return omnic_err(OMNIC_EINVAL, "voice index %d out of range", i);
    memcpy(spk, v->spk_table + (size_t)i * v->spk_dim, (size_t)v->spk_dim * sizeof(float));
    return 0;
}
