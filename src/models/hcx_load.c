/* hcx_load.c - map checkpoint tensors onto the decoder: name prefixes of
 * standalone and unified repos (llm.md §3.1-3.2), shape and dtype checks, tying,
 * the post-norm detection rule (§3.4) and the report of unexpected tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/hcx.h"

/* Where an LLM tensor "model.X" / "lm_head.weight" may live. */
static const st_tensor *find_llm(omnic_model *m, const char *canon) {
    char buf[512];
    const st_tensor *t;
    if (!strncmp(canon, "model.", 6)) {
        const char *rest = canon + 6;
        snprintf(buf, sizeof buf, "model.language_model.model.%s", rest);
        if ((t = st_find(m->st, buf))) return t;
        snprintf(buf, sizeof buf, "model.language_model.%s", rest);
        if ((t = st_find(m->st, buf))) return t;
    } else {
        snprintf(buf, sizeof buf, "model.language_model.%s", canon);
        if ((t = st_find(m->st, buf))) return t;
    }
    return st_find(m->st, canon);
}

static int check_dtype(const st_tensor *t) {
    if (t->dt != DT_F32 && t->dt != DT_BF16 && t->dt != DT_F16)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has dtype %s; omnic reads F32, BF16 and F16", t->name, dtype_name(t->dt));
    return OMNIC_OK;
}

static int get_mat(omnic_model *m, const char *name, int rows, int cols, kweight *out) {
    const st_tensor *t = find_llm(m, name);
    if (!t) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s'", m->dir, name);
    int rc = check_dtype(t);
    if (rc) return rc;
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has shape [%lld%s%lld], expected [%d, %d] (from config.json)", t->name,
                         (long long)(t->ndim > 0 ? t->shape[0] : 0), t->ndim == 2 ? ", " : " ... ",
                         (long long)(t->ndim > 1 ? t->shape[1] : 0), rows, cols);
    ((st_tensor *)t)->used = 1;
    *out = (kweight){t->data, t->dt, rows, cols, 0, 0};
    return OMNIC_OK;
}

/* A vector parameter (norm gain, bias), converted to a float32 copy. */
static int get_vec(omnic_model *m, const char *name, int n, float **out) {
    const st_tensor *t = find_llm(m, name);
    if (!t) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s'", m->dir, name);
    int rc = check_dtype(t);
    if (rc) return rc;
    if (t->ndim != 1 || t->shape[0] != n)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has %d dims / %lld elements, expected a vector of %d", t->name, t->ndim,
                         (long long)st_numel(t), n);
    ((st_tensor *)t)->used = 1;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    kweight w = {t->data, t->dt, 1, n, 0, 0};
    k_row_to_f32(&w, 0, *out);
    return OMNIC_OK;
}

static int layer_name(char *buf, size_t n, int i, const char *what) {
    return snprintf(buf, n, "model.layers.%d.%s", i, what);
}

/* llm.md §3.4: decide post-norms from config + tensors. */
static int decide_post_norm(omnic_model *m) {
    omnic_model_info *I = &m->info;
    int present = 0, first_missing = -1, first_present = -1;
    char name[256], miss[256] = "", pres[256] = "";
    for (int i = 0; i < I->n_layers; i++) {
        for (int j = 1; j <= 2; j++) {
            char what[32];
            snprintf(what, sizeof what, "post_norm%d.weight", j);
            layer_name(name, sizeof name, i, what);
            if (find_llm(m, name)) {
                present++;
                if (first_present < 0) { first_present = i; snprintf(pres, sizeof pres, "%s", name); }
            } else if (first_missing < 0) {
                first_missing = i;
                snprintf(miss, sizeof miss, "%s", name);
            }
        }
    }
    int all = present == 2 * I->n_layers;
    if (!strcmp(I->model_type, "llama")) {
        if (present) return omnic_err(OMNIC_ETENSOR, "tensor '%s' is present but model_type llama has no post-norms", pres);
        I->post_norm = 0;
    } else if (I->post_norm == 1) {
        if (!all) return omnic_err(OMNIC_ETENSOR, "%s: use_post_norm is true but tensor '%s' is missing", m->dir, miss);
    } else if (I->post_norm == 0) {
        if (present)
            return omnic_err(OMNIC_ETENSOR, "tensor '%s' is present but config use_post_norm is false", pres);
    } else {
        if (present && !all)
            return omnic_err(OMNIC_ETENSOR, "%s: post-norm tensors on some layers only: '%s' is missing", m->dir, miss);
        I->post_norm = all;
        omnic_log(2, "use_post_norm absent from config: post-norms %s (decided from the tensors)", all ? "on" : "off");
    }
    return OMNIC_OK;
}

static int skippable(const char *name) {
    return strstr(name, "rotary_emb.inv_freq") || strstr(name, "rotary_emb.cos_cached") ||
           strstr(name, "rotary_emb.sin_cached");
}

/* Is this tensor part of the LLM (as opposed to a vision/audio component)? */
static int is_llm_tensor(const omnic_model *m, const char *name) {
    if (!m->info.unified) return 1;
    return !strncmp(name, "model.language_model.", 21) || !strncmp(name, "lm_head.", 8) ||
           !strncmp(name, "model.layers.", 13) || !strncmp(name, "model.embed_tokens.", 19) ||
           !strcmp(name, "model.norm.weight");
}

int hcx_load_weights(omnic_model *m) {
    omnic_model_info *I = &m->info;
    int D = I->hidden_size, d = I->head_dim, H = I->n_heads, KV = I->n_kv_heads, F = I->ffn_size, rc;
    const st_tensor *emb = find_llm(m, "model.embed_tokens.weight");
    if (!emb) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor 'model.embed_tokens.weight'", m->dir);
    if (emb->ndim == 2 && emb->shape[0] != I->vocab_size && emb->shape[1] == D) {
        /* llm.md §1.2: V comes from the tensor; must match vocab_size or padded_vocab_size */
        json_t *tc = I->unified ? json_object_get(m->config, "text_config") : m->config;
        json_t *vs = json_object_get(tc, "vocab_size"), *pv = json_object_get(tc, "padded_vocab_size");
        if ((json_is_integer(vs) && json_integer_value(vs) == emb->shape[0]) ||
            (json_is_integer(pv) && json_integer_value(pv) == emb->shape[0]))
            I->vocab_size = (int)emb->shape[0];
    }
    if ((rc = get_mat(m, "model.embed_tokens.weight", I->vocab_size, D, &m->embed))) return rc;
    if ((rc = get_vec(m, "model.norm.weight", D, &m->final_norm))) return rc;
    const st_tensor *head = find_llm(m, "lm_head.weight");
    if (I->tied || !head) {
        if (!I->tied && !head)
            return omnic_err(OMNIC_ETENSOR, "%s: missing tensor 'lm_head.weight' (tie_word_embeddings is false)", m->dir);
        m->output = m->embed;
        if (head) ((st_tensor *)head)->used = 1; /* HF ties anyway (llm.md §3.1) */
    } else if ((rc = get_mat(m, "lm_head.weight", I->vocab_size, D, &m->output))) {
        return rc;
    }
    if ((rc = decide_post_norm(m))) return rc;

    m->layers = calloc((size_t)I->n_layers, sizeof *m->layers);
    if (!m->layers) return omnic_err(OMNIC_ENOMEM, "out of memory");
    char n[256];
#define MAT(field, what, r, c) \
    if ((layer_name(n, sizeof n, i, what), rc = get_mat(m, n, r, c, &L->field))) return rc
#define VEC(field, what, len) \
    if ((layer_name(n, sizeof n, i, what), rc = get_vec(m, n, len, &L->field))) return rc
    for (int i = 0; i < I->n_layers; i++) {
        hcx_layer *L = &m->layers[i];
        VEC(in_norm, "input_layernorm.weight", D);
        VEC(pa_norm, "post_attention_layernorm.weight", D);
        MAT(q, "self_attn.q_proj.weight", H * d, D);
        MAT(k, "self_attn.k_proj.weight", KV * d, D);
        MAT(v, "self_attn.v_proj.weight", KV * d, D);
        MAT(o, "self_attn.o_proj.weight", D, H * d);
        MAT(gate, "mlp.gate_proj.weight", F, D);
        MAT(up, "mlp.up_proj.weight", F, D);
        MAT(down, "mlp.down_proj.weight", D, F);
        if (I->post_norm) {
            VEC(post1, "post_norm1.weight", D);
            VEC(post2, "post_norm2.weight", D);
        }
        if (I->attn_bias) {
            VEC(bq, "self_attn.q_proj.bias", H * d);
            VEC(bk, "self_attn.k_proj.bias", KV * d);
            VEC(bv, "self_attn.v_proj.bias", KV * d);
            VEC(bo, "self_attn.o_proj.bias", D);
        }
        if (I->mlp_bias) {
            VEC(bg, "mlp.gate_proj.bias", F);
            VEC(bu, "mlp.up_proj.bias", F);
            VEC(bd, "mlp.down_proj.bias", D);
        }
    }
#undef MAT
#undef VEC
    /* Report anything LLM-side we did not use (a silently ignored tensor would
     * be a silently wrong model), and total up what we did use. */
    unsigned dts = 0;
    for (int i = 0; i < m->st->n_tensors; i++) {
        st_tensor *t = &m->st->tensors[i];
        if (t->used) {
            I->n_params += st_numel(t);
            I->weight_bytes += (int64_t)t->nbytes;
            dts |= 1u << t->dt;
            continue;
        }
        if (!is_llm_tensor(m, t->name) || skippable(t->name)) continue;
        return omnic_err(OMNIC_ETENSOR, "unexpected tensor '%s' in %s (not part of a %s decoder with this config)", t->name,
                         m->st->files[t->file].path, I->model_type);
    }
    I->dtypes[0] = 0;
    for (int t = 0; t < DT_COUNT; t++)
        if (dts & (1u << t)) {
            size_t l = strlen(I->dtypes);
            snprintf(I->dtypes + l, sizeof I->dtypes - l, "%s%s", l ? "+" : "", dtype_name((omnic_dtype)t));
        }
    /* Components beside the LLM (unified repos). */
    for (int i = 0; i < m->st->n_tensors; i++) {
        const char *nm = m->st->tensors[i].name;
        if (!strncmp(nm, "model.vision_model.", 19)) I->has_vision = 1;
        if (!strncmp(nm, "model.audio_model.", 18)) I->has_audio = 1;
        if (!strncmp(nm, "model.discrete_vision_model.", 28)) I->has_discrete_vision = 1;
        if (!strncmp(nm, "model.discrete_audio_model.", 27)) I->has_discrete_audio = 1;
    }
    return OMNIC_OK;
}

void hcx_free_weights(omnic_model *m) {
    if (m->layers) {
        for (int i = 0; i < m->info.n_layers; i++) {
            hcx_layer *L = &m->layers[i];
            float *v[] = {L->in_norm, L->pa_norm, L->post1, L->post2, L->bq, L->bk, L->bv, L->bo, L->bg, L->bu, L->bd};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) free(v[j]);
        }
    }
    free(m->layers);
    free(m->final_norm);
    m->layers = NULL;
    m->final_norm = NULL;
}
