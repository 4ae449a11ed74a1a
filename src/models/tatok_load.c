/* tatok_load.c - map the model.discrete_vision_model.* tensors onto TA-Tok
 * (vision.md §4.1, §4.3, §4.5): hyper-parameters from discrete_vision_config with
 * the §4.1 fallbacks and from the tensor shapes, shape/dtype checks, the explicit
 * list of tensors that are present but unused, and the SimVQ codebook
 * precomputation. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/hcx.h"
#include "models/tatok_impl.h"
#include "models/tatok_opts.h"

#define PFX "model.discrete_vision_model."
#define PFX_LEN (sizeof PFX - 1)
#define MAX_LAYERS 256

typedef struct loader {
    omnic_model *m;
    tatok_model *t;
} loader;

static const st_tensor *find(loader *L, const char *rest) {
    char buf[512];
    snprintf(buf, sizeof buf, PFX "%s", rest);
    return st_find(L->m->st, buf);
}

static int shape_str(const st_tensor *s, char *buf, size_t n) {
    size_t l = 0;
    l += (size_t)snprintf(buf + l, n - l, "[");
    for (int i = 0; i < s->ndim && l < n; i++)
        l += (size_t)snprintf(buf + l, n - l, "%s%" PRId64, i ? ", " : "", s->shape[i]);
    if (l < n) snprintf(buf + l, n - l, "]");
    return 0;
}

/* Fetch a tensor and check dtype and shape (dims < 0 in want: any, returned). */
static int get(loader *L, const char *rest, int ndim, int64_t *want, const st_tensor **out) {
    const st_tensor *s = find(L, rest);
    if (!s) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PFX "%s' (TA-Tok)", L->m->dir, rest);
    if (s->dt != DT_F32 && s->dt != DT_BF16 && s->dt != DT_F16)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has dtype %s; omnic reads F32, BF16 and F16", s->name,
                         dtype_name(s->dt));
    int ok = s->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = want[i] < 0 ? s->shape[i] > 0 : s->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[128];
        size_t l = 0;
        shape_str(s, got, sizeof got);
        l += (size_t)snprintf(exp, sizeof exp, "[");
        for (int i = 0; i < ndim && l < sizeof exp; i++)
            l += want[i] < 0 ? (size_t)snprintf(exp + l, sizeof exp - l, "%s*", i ? ", " : "")
                             : (size_t)snprintf(exp + l, sizeof exp - l, "%s%" PRId64, i ? ", " : "", want[i]);
        if (l < sizeof exp) snprintf(exp + l, sizeof exp - l, "]");
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has shape %s, expected %s (TA-Tok)", s->name, got, exp);
    }
    for (int i = 0; i < ndim; i++)
        if (want[i] < 0) want[i] = s->shape[i];
    ((st_tensor *)s)->used = 1;
    *out = s;
    return OMNIC_OK;
}

static int get_mat(loader *L, const char *rest, int rows, int cols, kweight *w) {
    int64_t sh[2] = {rows, cols};
    const st_tensor *s;
    int rc = get(L, rest, 2, sh, &s);
    if (rc) return rc;
    *w = (kweight){s->data, s->dt, rows, cols, 1, 0}; /* activations may be bf16 (kernels.h) */
    return OMNIC_OK;
}

/* A stored tensor of n elements converted to a float32 copy. */
static int to_f32(const st_tensor *s, int64_t n, float **out) {
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return omnic_err(OMNIC_ENOMEM, "out of memory for '%s'", s->name);
    kweight w = {s->data, s->dt, 1, (int)n, 0, 0};
    k_row_to_f32(&w, 0, *out);
    return OMNIC_OK;
}

static int get_vec(loader *L, const char *rest, int n, float **out) {
    int64_t sh[1] = {n};
    const st_tensor *s;
    int rc = get(L, rest, 1, sh, &s);
    return rc ? rc : to_f32(s, n, out);
}

/* --- discrete_vision_config ------------------------------------------------- */

/* Look a key up at the top of discrete_vision_config and in the nested argument
 * objects of the bottleneck and its regularizer (Tar's constructor layout). */
static json_t *cfg_get(json_t *dvc, const char *key) {
    if (!json_is_object(dvc)) return NULL;
    static const char *paths[][4] = {
        {NULL}, {"bottleneck", NULL}, {"bottleneck", "args", NULL},
        {"bottleneck", "args", "regularizer", NULL}, {"bottleneck", "args", "regularizer", "args"},
        {"regularizer", NULL}, {"regularizer", "args", NULL},
    };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        json_t *o = dvc;
        for (int i = 0; i < 4 && paths[p][i] && o; i++) o = json_object_get(o, paths[p][i]);
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
        if (v && !json_is_null(v)) return v;
    }
    return NULL;
}

static int cfg_int(json_t *dvc, const char *key, long long lo, long long hi, long long def, long long *out) {
    json_t *v = cfg_get(dvc, key);
    if (!v) { *out = def; return OMNIC_OK; }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config.%s: want an integer in [%lld, %lld]", key,
                         lo, hi);
    *out = json_integer_value(v);
    return OMNIC_OK;
}

static int cfg_real(json_t *o, const char *where, const char *key, double lo, double hi, double def, double *out) {
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!v || json_is_null(v)) { *out = def; return OMNIC_OK; }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return omnic_err(OMNIC_ECONFIG, "config.json: %s.%s: want a number in [%g, %g]", where, key, lo, hi);
    *out = json_number_value(v);
    return OMNIC_OK;
}

/* --- the unused tensors (vision.md §4.5), accepted by name --------------------- */

static const char *const LAYER_PARTS[] = {
    "layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias",
    "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
    "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
    "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
};
#define N_LAYER_PARTS ((int)(sizeof LAYER_PARTS / sizeof LAYER_PARTS[0]))

/* Whole subtrees the table lists as unused. */
static const char *const UNUSED_TREES[] = {
    "encoder.post_layernorm.", /* SigLIP's final LayerNorm (select_layer -2 stops before it) */
    "encoder.head.",           /* the attention-pooling probe head */
    "decoder.vision_model.",   /* the SigLIP2 feature decoder (training / reconstruction) */
};
static const char *const UNUSED_NAMES[] = {
    "encoder.embeddings.position_ids", /* SigLIP's index buffer (older transformers saved it) */
    "bottleneck.out_linear.weight", "bottleneck.out_linear.bias",
    "decode_task_layer.0.weight", "decode_task_layer.0.bias",
    "decode_task_layer.2.weight", "decode_task_layer.2.bias",
};

/* "encoder.encoder.layers.<i>.<part>" -> i and the part index; -1 if not that form. */
static int parse_layer(const char *rest, int *part) {
    static const char lp[] = "encoder.encoder.layers.";
    if (strncmp(rest, lp, sizeof lp - 1)) return -1;
    const char *p = rest + sizeof lp - 1;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.')) return -1;
    long i = 0;
    while (*p >= '0' && *p <= '9' && i < 100000) i = i * 10 + (*p++ - '0');
    if (*p != '.' || i >= 100000) return -1;
    *part = -1;
    for (int k = 0; k < N_LAYER_PARTS; k++)
        if (!strcmp(p + 1, LAYER_PARTS[k])) *part = k;
    return (int)i;
}

static int ignorable(const tatok_model *t, const char *rest) {
    int part, i = parse_layer(rest, &part);
    if (i >= 0) return i >= t->n_run && i < t->n_layers && part >= 0;
    for (size_t k = 0; k < sizeof UNUSED_TREES / sizeof UNUSED_TREES[0]; k++)
        if (!strncmp(rest, UNUSED_TREES[k], strlen(UNUSED_TREES[k]))) return 1;
    for (size_t k = 0; k < sizeof UNUSED_NAMES / sizeof UNUSED_NAMES[0]; k++)
        if (!strcmp(rest, UNUSED_NAMES[k])) return 1;
    return 0;
}

/* --- loading ----------------------------------------------------------------- */

/* scale_layer.{shift,scale}: [1, 3, 1, 1] constants (0.5); the stored values when present. */
static int get_scale(loader *L, const char *rest, float *out) {
    for (int c = 0; c < 3; c++) out[c] = 0.5f;
    if (!find(L, rest)) return OMNIC_OK;
    int64_t sh[4] = {1, 3, 1, 1};
    const st_tensor *s;
    int rc = get(L, rest, 4, sh, &s);
    if (rc) return rc;
    kweight w = {s->data, s->dt, 1, 3, 0, 0};
    k_row_to_f32(&w, 0, out);
    if (!strcmp(rest + strlen(rest) - 5, "scale"))
        for (int c = 0; c < 3; c++)
            if (!(fabsf(out[c]) > 1e-12f) || !isfinite(out[c]))
                return omnic_err(OMNIC_ETENSOR, "tensor '%s' has a zero or non-finite scale", s->name);
    return OMNIC_OK;
}

static int load_layer(loader *L, int i, tatok_layer *y) {
    tatok_model *t = L->t;
    int D = t->D, F = t->F, rc;
    char n[160];
#define NAME(part) (snprintf(n, sizeof n, "encoder.encoder.layers.%d.%s", i, part), n)
    if ((rc = get_vec(L, NAME("layer_norm1.weight"), D, &y->ln1_w))) return rc;
    if ((rc = get_vec(L, NAME("layer_norm1.bias"), D, &y->ln1_b))) return rc;
    if ((rc = get_vec(L, NAME("layer_norm2.weight"), D, &y->ln2_w))) return rc;
    if ((rc = get_vec(L, NAME("layer_norm2.bias"), D, &y->ln2_b))) return rc;
    if ((rc = get_mat(L, NAME("self_attn.q_proj.weight"), D, D, &y->q))) return rc;
    if ((rc = get_mat(L, NAME("self_attn.k_proj.weight"), D, D, &y->k))) return rc;
    if ((rc = get_mat(L, NAME("self_attn.v_proj.weight"), D, D, &y->v))) return rc;
    if ((rc = get_mat(L, NAME("self_attn.out_proj.weight"), D, D, &y->o))) return rc;
    if ((rc = get_vec(L, NAME("self_attn.q_proj.bias"), D, &y->bq))) return rc;
    if ((rc = get_vec(L, NAME("self_attn.k_proj.bias"), D, &y->bk))) return rc;
    if ((rc = get_vec(L, NAME("self_attn.v_proj.bias"), D, &y->bv))) return rc;
    if ((rc = get_vec(L, NAME("self_attn.out_proj.bias"), D, &y->bo))) return rc;
    if ((rc = get_mat(L, NAME("mlp.fc1.weight"), F, D, &y->fc1))) return rc;
    if ((rc = get_vec(L, NAME("mlp.fc1.bias"), F, &y->b1))) return rc;
    if ((rc = get_mat(L, NAME("mlp.fc2.weight"), D, F, &y->fc2))) return rc;
    if ((rc = get_vec(L, NAME("mlp.fc2.bias"), D, &y->b2))) return rc;
#undef NAME
    return OMNIC_OK;
}

static int load(loader *L) {
    omnic_model *m = L->m;
    tatok_model *t = L->t;
    json_t *dvc = json_object_get(m->config, "discrete_vision_config");
    json_t *enc = json_is_object(dvc) ? json_object_get(dvc, "encoder_config") : NULL;
    const st_tensor *s;
    int rc;
    long long v;

    /* Patch embedding: D and P from the Conv2d weight [D, 3, P, P]. */
    int64_t pw[4] = {-1, 3, -1, -1};
    if ((rc = get(L, "encoder.embeddings.patch_embedding.weight", 4, pw, &s))) return rc;
    if (pw[2] != pw[3] || pw[0] > 65536 || pw[2] > 64)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s': want [width, 3, P, P] with a square patch of at most 64", s->name);
    t->D = (int)pw[0];
    t->patch = (int)pw[2];
    t->patch_w = (kweight){s->data, s->dt, t->D, 3 * t->patch * t->patch, 1, 0};
    if ((rc = get_vec(L, "encoder.embeddings.patch_embedding.bias", t->D, &t->patch_b))) return rc;

    if ((rc = cfg_int(dvc, "input_size", t->patch, 8192, 384, &v))) return rc;
    t->input_size = (int)v;
    t->grid = t->input_size / t->patch;
    t->n_tok = t->grid * t->grid;
    if ((rc = cfg_int(dvc, "bottleneck_token_num", 1, 1 << 24, 729, &v))) return rc;
    if (v != t->n_tok)
        return omnic_err(OMNIC_EUNSUP, "config.json: discrete_vision_config: bottleneck_token_num %lld differs from the "
                         "%dx%d patch grid of input_size %d (pooling is not supported)", v, t->grid, t->grid,
                         t->input_size);
    if ((rc = cfg_int(dvc, "pool_scale", 1, 16, 1, &v))) return rc;
    if (v != 1)
        return omnic_err(OMNIC_EUNSUP, "config.json: discrete_vision_config.pool_scale %lld: only 1 is supported", v);
    if (t->n_tok != TATOK_CODES)
        return omnic_err(OMNIC_EUNSUP, "TA-Tok: %d tokens per image (input_size %d, patch %d); omnic supports %d (27x27)",
                         t->n_tok, t->input_size, t->patch, TATOK_CODES);
    if (enc) {
        double ps;
        if ((rc = cfg_real(enc, "discrete_vision_config.encoder_config", "patch_size", 1, 64, t->patch, &ps))) return rc;
        if ((int)ps != t->patch)
            return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config.encoder_config.patch_size %g differs "
                             "from the patch embedding's %d", ps, t->patch);
    }
    int64_t ps[2] = {t->n_tok, t->D};
    if ((rc = get(L, "encoder.embeddings.position_embedding.weight", 2, ps, &s))) return rc;
    if ((rc = to_f32(s, (int64_t)t->n_tok * t->D, &t->pos))) return rc;
    if ((rc = get_scale(L, "scale_layer.shift", t->shift))) return rc;
    if ((rc = get_scale(L, "scale_layer.scale", t->scale))) return rc;

    /* Layers: count from the names, MLP width from fc1. */
    int n_layers = 0;
    for (int i = 0; i < m->st->n_tensors; i++) {
        const char *nm = m->st->tensors[i].name;
        int part, li;
        if (strncmp(nm, PFX, PFX_LEN) || (li = parse_layer(nm + PFX_LEN, &part)) < 0) continue;
        if (li >= MAX_LAYERS)
            return omnic_err(OMNIC_ETENSOR, "tensor '%s': layer index over %d", nm, MAX_LAYERS - 1);
        if (li + 1 > n_layers) n_layers = li + 1;
    }
    if (!n_layers)
        return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PFX "encoder.encoder.layers.0.layer_norm1.weight' (TA-Tok)",
                         m->dir);
    t->n_layers = n_layers;
    if ((rc = cfg_int(dvc, "select_layer_id", -n_layers - 1, n_layers, -2, &v))) return rc;
    t->n_run = v < 0 ? (int)(n_layers + 1 + v) : (int)v;   /* hidden_states[select_layer_id] */
    int64_t f1[2] = {-1, t->D};
    if ((rc = get(L, "encoder.encoder.layers.0.mlp.fc1.weight", 2, f1, &s))) return rc;
    if (f1[0] > (1 << 20)) return omnic_err(OMNIC_ETENSOR, "tensor '%s': MLP width too large", s->name);
    t->F = (int)f1[0];

    /* Heads: encoder_config.num_attention_heads, else width / 72 (SigLIP's head width). */
    double hv, eps;
    if ((rc = cfg_real(enc, "discrete_vision_config.encoder_config", "num_attention_heads", 1, 4096,
                       t->D % 72 ? 0 : t->D / 72, &hv)))
        return rc;
    t->H = (int)hv;
    if (t->H <= 0)
        return omnic_err(OMNIC_ECONFIG, "TA-Tok: width %d is not a multiple of 72 and config.json has no "
                         "discrete_vision_config.encoder_config.num_attention_heads", t->D);
    if (hv != t->H || t->D % t->H)
        return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config.encoder_config.num_attention_heads %g "
                         "does not divide the TA-Tok width %d", hv, t->D);
    t->hd = t->D / t->H;
    if ((rc = cfg_real(enc, "discrete_vision_config.encoder_config", "layer_norm_eps", 0, 1, 1e-6, &eps))) return rc;
    t->eps = (float)eps;

    t->layers = calloc((size_t)(t->n_run ? t->n_run : 1), sizeof *t->layers);
    if (!t->layers) return omnic_err(OMNIC_ENOMEM, "out of memory");
    for (int i = 0; i < t->n_run; i++)
        if ((rc = load_layer(L, i, &t->layers[i]))) return rc;

    /* Task layer, bottleneck. */
    if ((rc = get_mat(L, "encode_task_layer.0.weight", t->D, t->D, &t->task_w))) return rc;
    if ((rc = get_vec(L, "encode_task_layer.0.bias", t->D, &t->task_b))) return rc;
    int64_t il[2] = {-1, t->D};
    if ((rc = get(L, "bottleneck.in_linear.weight", 2, il, &s))) return rc;
    if (il[0] > (1 << 16)) return omnic_err(OMNIC_ETENSOR, "tensor '%s': bottleneck too wide", s->name);
    t->Z = (int)il[0];
    t->in_w = (kweight){s->data, s->dt, t->Z, t->D, 1, 0};
    if ((rc = cfg_int(dvc, "bottleneck_dim", 1, 1 << 16, t->Z, &v))) return rc;
    if (v != t->Z)
        return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config bottleneck_dim %lld differs from tensor '%s' "
                         "(%d rows)", v, s->name, t->Z);
    if ((rc = get_vec(L, "bottleneck.in_linear.bias", t->Z, &t->in_b))) return rc;

    /* SimVQ codebook. */
    int64_t es[2] = {-1, t->Z};
    if ((rc = get(L, "bottleneck.regularizer.embedding.weight", 2, es, &s))) return rc;
    if (es[0] > (1 << 20)) return omnic_err(OMNIC_ETENSOR, "tensor '%s': codebook too large", s->name);
    t->K = (int)es[0];
    kweight emb = {s->data, s->dt, t->K, t->Z, 0, 0}, proj;
    if ((rc = cfg_int(dvc, "codebook_size", 1, 1 << 20, t->K, &v))) return rc;
    if (v != t->K)
        return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config codebook_size %lld differs from tensor '%s' "
                         "(%d rows)", v, s->name, t->K);
    json_t *l2 = cfg_get(dvc, "l2_normalized");
    if (l2 && !json_is_true(l2))
        return omnic_err(OMNIC_EUNSUP, "config.json: discrete_vision_config.l2_normalized false is not supported");
    double temp;
    json_t *tv = cfg_get(dvc, "stochastic_temperature");
    if (tv && (!json_is_number(tv) || !(json_number_value(tv) > 0)))
        return omnic_err(OMNIC_ECONFIG, "config.json: discrete_vision_config.stochastic_temperature: want a number > 0");
    temp = tv ? json_number_value(tv) : 0.03;
    t->temperature = (float)temp;
    if ((rc = get_mat(L, "bottleneck.regularizer.embedding_proj.weight", t->Z, t->Z, &proj))) return rc;
    float *proj_b = NULL;
    if ((rc = get_vec(L, "bottleneck.regularizer.embedding_proj.bias", t->Z, &proj_b))) return rc;

    /* Everything else under the prefix must be on the unused list. */
    for (int i = 0; i < m->st->n_tensors; i++) {
        st_tensor *x = &m->st->tensors[i];
        if (strncmp(x->name, PFX, PFX_LEN) || x->used) continue;
        if (ignorable(t, x->name + PFX_LEN)) continue;
        free(proj_b);
        return omnic_err(OMNIC_ETENSOR, "unexpected tensor '%s' in %s (not part of TA-Tok with %d encoder layers)",
                         x->name, m->st->files[x->file].path, t->n_layers);
    }
    rc = tatok_build_codebook(t, m->pool, &emb, &proj, proj_b);
    free(proj_b);
    return rc;
}

int tatok_load(omnic_model *m, tatok_model **out) {
    *out = NULL;
    if (!m->st || !m->info.has_discrete_vision)
        return omnic_err(OMNIC_EUNSUP, "%s: this model has no discrete vision tokenizer (no " PFX "* tensors)",
                         m->dir ? m->dir : "model");
    tatok_model *t = calloc(1, sizeof *t);
    if (!t) return omnic_err(OMNIC_ENOMEM, "out of memory");
    loader L = {m, t};
    int rc = load(&L);
    if (rc) {
        tatok_free(t);
        return rc;
    }
    const char *env = getenv("OMNIC_TATOK_SAMPLING");
    if (env && *env) {
        char *end;
        errno = 0;
        unsigned long long seed = strtoull(env, &end, 0);
        if (errno || *end) {
            tatok_free(t);
            return omnic_err(OMNIC_EINVAL, "OMNIC_TATOK_SAMPLING=%s: want a seed (an unsigned integer)", env);
        }
        tatok_set_sampling(t, 1, seed);
    }
    omnic_log(2, "TA-Tok: width %d, %d of %d layers, %d heads, MLP %d, patch %d, input %d, bottleneck %d, codebook %d",
              t->D, t->n_run, t->n_layers, t->H, t->F, t->patch, t->input_size, t->Z, t->K);
    *out = t;
    return OMNIC_OK;
}

void tatok_set_sampling(tatok_model *t, int on, uint64_t seed) {
    t->sampling = on;
    t->seed = seed;
}

void tatok_free(tatok_model *t) {
    if (!t) return;
    if (t->layers)
        for (int i = 0; i < t->n_run; i++) {
            tatok_layer *y = &t->layers[i];
            float *v[] = {y->ln1_w, y->ln1_b, y->ln2_w, y->ln2_b, y->bq, y->bk, y->bv, y->bo, y->b1, y->b2};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) free(v[j]);
        }
    free(t->layers);
    free(t->patch_b);
    free(t->pos);
    free(t->task_b);
    free(t->in_b);
    free(t->codebook);
    free(t);
}
