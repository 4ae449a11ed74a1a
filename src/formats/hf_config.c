/* hf_config.c - config.json -> omnic_model_info, with the defaults of llm.md §1.2
 * and an error naming the key for anything missing, mistyped or unsupported. */
#include "formats/hf_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

typedef struct { const char *file, *scope; json_t *obj; } cfg;

/* Integer key: required (def ignored) or defaulted. */
static int get_int(const cfg *c, const char *key, int required, long long def, long long lo, long long hi, int *out) {
    json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        if (required) return omnic_err(OMNIC_ECONFIG, "%s: required key \"%s%s\" is missing", c->file, c->scope, key);
        *out = (int)def;
        return OMNIC_OK;
    }
    if (!json_is_integer(v))
        return omnic_err(OMNIC_ECONFIG, "%s: key \"%s%s\" must be an integer", c->file, c->scope, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return omnic_err(OMNIC_ECONFIG, "%s: key \"%s%s\" = %lld is out of range [%lld, %lld]", c->file, c->scope, key, x, lo, hi);
    *out = (int)x;
    return OMNIC_OK;
}

static int get_num(const cfg *c, const char *key, double def, float *out) {
    json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return OMNIC_OK;
    }
    if (!json_is_number(v)) return omnic_err(OMNIC_ECONFIG, "%s: key \"%s%s\" must be a number", c->file, c->scope, key);
    double x = json_number_value(v);
    if (!isfinite(x)) return omnic_err(OMNIC_ECONFIG, "%s: key \"%s%s\" is not finite", c->file, c->scope, key);
    *out = (float)x;
    return OMNIC_OK;
}

/* Boolean key; *out = -1 when absent. */
static int get_bool(const cfg *c, const char *key, int *out) {
    json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        *out = -1;
        return OMNIC_OK;
    }
    if (!json_is_boolean(v)) return omnic_err(OMNIC_ECONFIG, "%s: key \"%s%s\" must be true or false", c->file, c->scope, key);
    *out = json_is_true(v);
    return OMNIC_OK;
}

static int first_id(json_t *v) {
    if (json_is_integer(v)) return (int)json_integer_value(v);
    if (json_is_array(v) && json_is_integer(json_array_get(v, 0))) return (int)json_integer_value(json_array_get(v, 0));
    return -1;
}

static const char *const standalone_archs[] = {"HyperCLOVAXForCausalLM", "LlamaForCausalLM", NULL};
static const char *const unified_archs[] = {"HCXVisionV2ForCausalLM", "HCXVisionForCausalLM",
                                            "HyperCLOVAXVisionV2ForConditionalGeneration", NULL};

static int in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

int hf_config_load(const char *dir, omnic_model_info *info, json_t **rootp) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    *rootp = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open (is '%s' a Hugging Face model folder?)", path, dir);
        fclose(f);
        return omnic_err(OMNIC_ECONFIG, "%s: invalid JSON: %s (line %d, column %d)", path, jerr.text, jerr.line, jerr.column);
    }
    *rootp = root;
    if (!json_is_object(root)) return omnic_err(OMNIC_ECONFIG, "%s: not a JSON object", path);

    memset(info, 0, sizeof *info);
    json_t *archs = json_object_get(root, "architectures");
    const char *arch = NULL;
    if (archs) {
        if (!json_is_array(archs) || !json_is_string(json_array_get(archs, 0)))
            return omnic_err(OMNIC_ECONFIG, "%s: key \"architectures\" must be an array of strings", path);
        arch = json_string_value(json_array_get(archs, 0));
    } else {
        json_t *mt = json_object_get(root, "model_type");
        const char *t = json_is_string(mt) ? json_string_value(mt) : "";
        arch = !strcmp(t, "hyperclovax") ? "HyperCLOVAXForCausalLM" : !strcmp(t, "llama") ? "LlamaForCausalLM" : NULL;
        if (!arch) return omnic_err(OMNIC_ECONFIG, "%s: no \"architectures\" and no known \"model_type\"", path);
    }
    snprintf(info->arch, sizeof info->arch, "%s", arch);
    cfg c = {path, "", root};
    if (in_list(arch, unified_archs)) {
        json_t *tc = json_object_get(root, "text_config");
        if (!json_is_object(tc))
            return omnic_err(OMNIC_ECONFIG, "%s: architecture %s needs an object \"text_config\"", path, arch);
        info->unified = 1;
        c.obj = tc;
        c.scope = "text_config.";
    } else if (!in_list(arch, standalone_archs)) {
        return omnic_err(OMNIC_EUNSUP,
                         "%s: unsupported architecture '%s' (architectures[0]); omnic runs HyperCLOVAXForCausalLM, "
                         "LlamaForCausalLM, HCXVisionV2ForCausalLM, HCXVisionForCausalLM",
                         path, arch);
    }
    json_t *mt = json_object_get(c.obj, "model_type");
    const char *mtype = json_is_string(mt) ? json_string_value(mt) : (strstr(arch, "Llama") ? "llama" : "hyperclovax");
    if (strcmp(mtype, "hyperclovax") && strcmp(mtype, "llama"))
        return omnic_err(OMNIC_EUNSUP, "%s: unsupported %smodel_type '%s' (expected hyperclovax or llama)", path, c.scope, mtype);
    snprintf(info->model_type, sizeof info->model_type, "%s", mtype);
    int is_llama = !strcmp(mtype, "llama");

    int rc;
    const long long BIG = 1 << 24;
    if ((rc = get_int(&c, "vocab_size", 1, 0, 1, 1 << 22, &info->vocab_size)) ||
        (rc = get_int(&c, "hidden_size", 1, 0, 1, BIG, &info->hidden_size)) ||
        (rc = get_int(&c, "num_hidden_layers", 1, 0, 1, 4096, &info->n_layers)) ||
        (rc = get_int(&c, "num_attention_heads", 1, 0, 1, 4096, &info->n_heads)) ||
        (rc = get_int(&c, "intermediate_size", 1, 0, 1, BIG, &info->ffn_size)))
        return rc;
    int padded = 0;
    if ((rc = get_int(&c, "padded_vocab_size", 0, 0, 0, 1 << 22, &padded))) return rc;
    if (padded > info->vocab_size) info->vocab_size = padded; /* checked against the tensor later */
    if ((rc = get_int(&c, "num_key_value_heads", 0, info->n_heads, 1, info->n_heads, &info->n_kv_heads))) return rc;
    if (info->n_heads % info->n_kv_heads)
        return omnic_err(OMNIC_ECONFIG, "%s: %snum_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", path,
                         c.scope, info->n_heads, info->n_kv_heads);
    json_t *hd = json_object_get(c.obj, "head_dim");
    if ((!hd || json_is_null(hd)) && info->hidden_size % info->n_heads)
        return omnic_err(OMNIC_ECONFIG, "%s: %shidden_size is not a multiple of num_attention_heads and head_dim is absent", path,
                         c.scope);
    if ((rc = get_int(&c, "head_dim", 0, info->hidden_size / info->n_heads, 2, 4096, &info->head_dim))) return rc;
    if (info->head_dim % 2) return omnic_err(OMNIC_ECONFIG, "%s: %shead_dim must be even for RoPE", path, c.scope);
    if ((rc = get_int(&c, "max_position_embeddings", 0, 2048, 1, 1 << 30, &info->max_pos))) return rc;
    if ((rc = get_num(&c, "rms_norm_eps", 1e-6, &info->rms_eps))) return rc;

    json_t *act = json_object_get(c.obj, "hidden_act");
    if (act && !(json_is_string(act) && !strcmp(json_string_value(act), "silu")))
        return omnic_err(OMNIC_EUNSUP, "%s: %shidden_act must be \"silu\"", path, c.scope);
    json_t *sw = json_object_get(c.obj, "interleaved_sliding_window");
    if (sw && !json_is_null(sw))
        return omnic_err(OMNIC_EUNSUP, "%s: %sinterleaved_sliding_window is not supported", path, c.scope);

    /* RoPE: rope_theta + rope_scaling, or transformers v5 rope_parameters. */
    json_t *rp = json_object_get(c.obj, "rope_parameters");
    json_t *rs = json_object_get(c.obj, "rope_scaling");
    const char *rope_key = "rope_scaling";
    if (json_is_object(rp)) {
        cfg rc2 = {path, "rope_parameters.", rp};
        json_t *th = json_object_get(rp, "rope_theta");
        if ((rc = get_num(th ? &rc2 : &c, "rope_theta", 10000.0, &info->rope_theta))) return rc;
        rs = rp;
        rope_key = "rope_parameters";
    } else if ((rc = get_num(&c, "rope_theta", 10000.0, &info->rope_theta))) {
        return rc;
    }
    if (rs && !json_is_null(rs)) {
        if (!json_is_object(rs)) return omnic_err(OMNIC_ECONFIG, "%s: %s%s must be an object or null", path, c.scope, rope_key);
        json_t *ty = json_object_get(rs, "rope_type");
        if (!ty) ty = json_object_get(rs, "type");
        const char *t = json_is_string(ty) ? json_string_value(ty) : "default";
        if (strcmp(t, "default"))
            return omnic_err(OMNIC_EUNSUP, "%s: %s%s type '%s' is not supported (only default RoPE)", path, c.scope, rope_key, t);
    }
    if (!(info->rope_theta > 0)) return omnic_err(OMNIC_ECONFIG, "%s: %srope_theta must be positive", path, c.scope);

    int ab, mb, tied;
    if ((rc = get_bool(&c, "attention_bias", &ab)) || (rc = get_bool(&c, "mlp_bias", &mb)) ||
        (rc = get_bool(&c, "tie_word_embeddings", &tied)) || (rc = get_bool(&c, "use_post_norm", &info->post_norm)))
        return rc;
    if (tied < 0) { /* unified repos may keep it at the top level */
        cfg top = {path, "", root};
        if ((rc = get_bool(&top, "tie_word_embeddings", &tied))) return rc;
    }
    info->attn_bias = ab > 0;
    info->mlp_bias = mb > 0;
    info->tied = tied > 0;

    float attn_default = 1.0f / sqrtf((float)info->head_dim);
    if (is_llama) { /* llm.md §1.8: μP keys are ignored for Llama */
        info->emb_mult = info->res_mult = info->logit_scale = 1.0f;
        info->attn_mult = attn_default;
        info->post_norm = 0;
    } else if ((rc = get_num(&c, "embedding_multiplier", 1.0, &info->emb_mult)) ||
               (rc = get_num(&c, "attention_multiplier", attn_default, &info->attn_mult)) ||
               (rc = get_num(&c, "residual_multiplier", 1.0, &info->res_mult)) ||
               (rc = get_num(&c, "logits_scaling", 1.0, &info->logit_scale))) {
        return rc;
    }
    info->bos_id = first_id(json_object_get(c.obj, "bos_token_id"));
    if (info->bos_id < 0) info->bos_id = first_id(json_object_get(root, "bos_token_id"));
    info->eos_id = first_id(json_object_get(c.obj, "eos_token_id"));
    if (info->eos_id < 0) info->eos_id = first_id(json_object_get(root, "eos_token_id"));

    info->has_vision = json_is_object(json_object_get(root, "vision_config"));
    info->has_audio = json_is_object(json_object_get(root, "audio_config"));
    info->has_discrete_vision = json_is_object(json_object_get(root, "discrete_vision_config"));
    info->has_discrete_audio = json_is_object(json_object_get(root, "discrete_audio_config"));
    return OMNIC_OK;
}
