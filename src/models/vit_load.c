/* vit_load.c - load the continuous vision tower (vision.md §2.1-2.2): the
 * vision_config keys of config.json, the model.vision_model.* tensors and the
 * model.mm_projector.* Linear, every shape checked, F32/BF16/F16 per tensor,
 * matrices read in place from the memory-mapped checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/hcx.h"
#include "models/vit_internal.h"

#define VPFX "model.vision_model."
#define PPFX "model.mm_projector."

typedef struct { omnic_model *m; vit_model *v; } ldr;

/* An integer key of vision_config; def < 0 means required. */
static int cfg_int(json_t *vc, const char *key, const char *alt, long def, long lo, long hi, int *out) {
    json_t *j = json_object_get(vc, key);
    if (!j && alt) j = json_object_get(vc, alt);
    if (!j) {
        if (def < 0) return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.%s is missing", key);
        *out = (int)def;
        return OMNIC_OK;
    }
    if (!json_is_integer(j)) return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.%s must be an integer", key);
    json_int_t x = json_integer_value(j);
    if (x < lo || x > hi)
        return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.%s = %lld is outside [%ld, %ld]", key, (long long)x, lo, hi);
    *out = (int)x;
    return OMNIC_OK;
}

/* Must equal the fixed value (the encoder's input layout is 1176 columns). */
static int cfg_fixed(json_t *vc, const char *key, const char *alt, int want) {
    int x, rc = cfg_int(vc, key, alt, want, -1000000, 1000000, &x);
    if (rc) return rc;
    if (x != want)
        return omnic_err(OMNIC_EUNSUP, "config.json: vision_config.%s = %d is not supported (must be %d)", key, x, want);
    return OMNIC_OK;
}

static const st_tensor *find(ldr *l, const char *name) { return st_find(l->m->st, name); }

static int check_dtype(const st_tensor *t) {
    if (t->dt != DT_F32 && t->dt != DT_BF16 && t->dt != DT_F16)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has dtype %s; the vision tower reads F32, BF16 and F16", t->name,
                         dtype_name(t->dt));
    return OMNIC_OK;
}

static void fmt_shape(const st_tensor *t, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* A tensor of exactly the given shape; *t receives it (marked used). */
static int get_shaped(ldr *l, const char *name, int ndim, const int64_t *shape, const st_tensor **t) {
    const st_tensor *x = find(l, name);
    if (!x) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s'", l->m->dir, name);
    int rc = check_dtype(x);
    if (rc) return rc;
    int ok = x->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = x->shape[i] == shape[i];
    if (!ok) {
        char got[128], want[128];
        fmt_shape(x, got, sizeof got);
        size_t o = (size_t)snprintf(want, sizeof want, "[");
        for (int i = 0; i < ndim && o < sizeof want; i++)
            o += (size_t)snprintf(want + o, sizeof want - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (o < sizeof want) snprintf(want + o, sizeof want - o, "]");
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has shape %s, expected %s (from vision_config)", name, got, want);
    }
    ((st_tensor *)x)->used = 1;
    *t = x;
    return OMNIC_OK;
}

static int get_mat(ldr *l, const char *name, int rows, int cols, kweight *out) {
    const st_tensor *t;
    int64_t s[2] = {rows, cols};
    int rc = get_shaped(l, name, 2, s, &t);
    if (rc) return rc;
    *out = (kweight){t->data, t->dt, rows, cols, 1, 0}; /* activations may be bf16 (kernels.h) */
    return OMNIC_OK;
}

/* A vector (gain, bias) as a float32 copy. */
static int get_vec(ldr *l, const char *name, int n, float **out) {
    const st_tensor *t;
    int64_t s[1] = {n};
    int rc = get_shaped(l, name, 1, s, &t);
    if (rc) return rc;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    kweight w = {t->data, t->dt, 1, n, 0, 0};
    k_row_to_f32(&w, 0, *out);
    return OMNIC_OK;
}

static int read_config(ldr *l) {
    vit_model *v = l->v;
    json_t *vc = json_object_get(l->m->config, "vision_config");
    if (!json_is_object(vc)) return omnic_err(OMNIC_ECONFIG, "config.json: no object \"vision_config\" (the checkpoint has model.vision_model.* tensors)");
    json_t *mt = json_object_get(vc, "model_type");
    if (mt) {
        const char *s = json_is_string(mt) ? json_string_value(mt) : "";
        if (strcmp(s, "qwen2_5_vl") && strcmp(s, "qwen2_5_vl_visual") && strcmp(s, "qwen2_5_vl_vision"))
            return omnic_err(OMNIC_EUNSUP,
                             "config.json: vision_config.model_type '%s' is not supported (qwen2_5_vl, qwen2_5_vl_visual, "
                             "qwen2_5_vl_vision)", s);
    }
    json_t *act = json_object_get(vc, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu")))
        return omnic_err(OMNIC_EUNSUP, "config.json: vision_config.hidden_act must be \"silu\"%s%s%s",
                         json_is_string(act) ? " (got \"" : "", json_is_string(act) ? json_string_value(act) : "",
                         json_is_string(act) ? "\")" : "");
    int rc, merge, window;
    if ((rc = cfg_int(vc, "depth", NULL, -1, 1, 1024, &v->depth)) ||
        (rc = cfg_int(vc, "hidden_size", "embed_dim", -1, 4, 65536, &v->E)) ||
        (rc = cfg_int(vc, "num_heads", NULL, -1, 1, 4096, &v->H)) ||
        (rc = cfg_int(vc, "intermediate_size", NULL, -1, 1, 1 << 18, &v->F)) ||
        (rc = cfg_int(vc, "out_hidden_size", NULL, -1, 1, 1 << 18, &v->out_hidden)) ||
        (rc = cfg_int(vc, "spatial_merge_size", NULL, 2, 0, 1 << 20, &merge)) ||
        (rc = cfg_int(vc, "window_size", NULL, 112, 0, 1 << 20, &window)) ||
        (rc = cfg_fixed(vc, "patch_size", "spatial_patch_size", 14)) ||
        (rc = cfg_fixed(vc, "temporal_patch_size", NULL, 2)) ||
        (rc = cfg_fixed(vc, "in_channels", "in_chans", 3)))
        return rc;
    if (merge != 2) return omnic_err(OMNIC_EUNSUP, "config.json: vision_config.spatial_merge_size = %d is not supported (must be 2)", merge);
    if (window < 28 || window % 28)
        return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.window_size = %d must be a positive multiple of 28", window);
    v->wm = window / 28;
    if (v->E % v->H || (v->E / v->H) % 4)
        return omnic_err(OMNIC_ECONFIG,
                         "config.json: vision_config.hidden_size %d / num_heads %d must give a head width divisible by 4 "
                         "(2-D rotary)", v->E, v->H);
    if ((long long)v->E * 4 > (1 << 20))
        return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.hidden_size %d is too large", v->E);
    v->hd = v->E / v->H;
    v->blocks = calloc((size_t)v->depth, sizeof *v->blocks);
    if (!v->blocks) return omnic_err(OMNIC_ENOMEM, "out of memory");
    json_t *fa = json_object_get(vc, "fullatt_block_indexes");
    if (!fa) {
        static const int def[] = {7, 15, 23, 31}; /* the Qwen2.5-VL default */
        for (int i = 0; i < 4; i++) {
            if (def[i] >= v->depth)
                return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.fullatt_block_indexes is missing and the default "
                                                "[7, 15, 23, 31] does not fit depth %d", v->depth);
            v->blocks[def[i]].full = 1;
        }
    } else {
        if (!json_is_array(fa)) return omnic_err(OMNIC_ECONFIG, "config.json: vision_config.fullatt_block_indexes must be an array");
        for (size_t i = 0; i < json_array_size(fa); i++) {
            json_t *e = json_array_get(fa, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= v->depth)
                return omnic_err(OMNIC_ECONFIG,
                                 "config.json: vision_config.fullatt_block_indexes[%zu] must be an integer block index in [0, %d)",
                                 i, v->depth);
            v->blocks[json_integer_value(e)].full = 1;
        }
    }
    return OMNIC_OK;
}

static int load_tensors(ldr *l) {
    vit_model *v = l->v;
    int E = v->E, F = v->F, rc;
    /* A tower whose merger lives elsewhere (qwen_merger projector type) is not ours. */
    int has_merger = 0;
    for (int i = 0; i < l->m->st->n_tensors && !has_merger; i++)
        has_merger = !strncmp(l->m->st->tensors[i].name, VPFX "merger.", strlen(VPFX "merger."));
    if (!has_merger)
        return omnic_err(OMNIC_ETENSOR,
                         "%s: the vision tower has no patch merger: tensor '" VPFX "merger.ln_q.weight' (and the other "
                         VPFX "merger.* tensors) missing; towers without their merger are not supported", l->m->dir);
    const st_tensor *pe;
    int64_t pes[5] = {E, 3, 2, 14, 14};
    if ((rc = get_shaped(l, VPFX "patch_embed.proj.weight", 5, pes, &pe))) return rc;
    v->pe = (kweight){pe->data, pe->dt, E, VIT_COLS, 1, 0};
    char n[256];
#define MAT(field, what, r, c) \
    if ((snprintf(n, sizeof n, VPFX "blocks.%d.%s", i, what), rc = get_mat(l, n, r, c, &B->field))) return rc
#define VEC(field, what, len) \
    if ((snprintf(n, sizeof n, VPFX "blocks.%d.%s", i, what), rc = get_vec(l, n, len, &B->field))) return rc
    for (int i = 0; i < v->depth; i++) {
        vit_block *B = &v->blocks[i];
        VEC(norm1, "norm1.weight", E);
        VEC(norm2, "norm2.weight", E);
        MAT(qkv, "attn.qkv.weight", 3 * E, E);
        VEC(b_qkv, "attn.qkv.bias", 3 * E);
        MAT(proj, "attn.proj.weight", E, E);
        VEC(b_proj, "attn.proj.bias", E);
        MAT(gate, "mlp.gate_proj.weight", F, E);
        VEC(b_gate, "mlp.gate_proj.bias", F);
        MAT(up, "mlp.up_proj.weight", F, E);
        VEC(b_up, "mlp.up_proj.bias", F);
        MAT(down, "mlp.down_proj.weight", E, F);
        VEC(b_down, "mlp.down_proj.bias", E);
    }
#undef MAT
#undef VEC
    if ((rc = get_vec(l, VPFX "merger.ln_q.weight", E, &v->ln_q)) ||
        (rc = get_mat(l, VPFX "merger.mlp.0.weight", 4 * E, 4 * E, &v->m0)) ||
        (rc = get_vec(l, VPFX "merger.mlp.0.bias", 4 * E, &v->b0)) ||
        (rc = get_mat(l, VPFX "merger.mlp.2.weight", v->out_hidden, 4 * E, &v->m2)) ||
        (rc = get_vec(l, VPFX "merger.mlp.2.bias", v->out_hidden, &v->b2)))
        return rc;
    /* Projector: D comes from the tensor and must be the LLM width. */
    const st_tensor *pw = find(l, PPFX "weight");
    if (!pw) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PPFX "weight' (the vision projector)", l->m->dir);
    if (pw->ndim != 2 || pw->shape[1] != v->out_hidden || pw->shape[0] < 1 || pw->shape[0] > (1 << 20)) {
        char got[128];
        fmt_shape(pw, got, sizeof got);
        return omnic_err(OMNIC_ETENSOR, "tensor '" PPFX "weight' has shape %s, expected [D, %d] (out_hidden_size)", got, v->out_hidden);
    }
    v->D = (int)pw->shape[0];
    if (l->m->info.hidden_size > 0 && v->D != l->m->info.hidden_size)
        return omnic_err(OMNIC_ETENSOR, "tensor '" PPFX "weight' has %d rows but the LLM's hidden_size is %d", v->D,
                         l->m->info.hidden_size);
    if ((rc = get_mat(l, PPFX "weight", v->D, v->out_hidden, &v->mm)) || (rc = get_vec(l, PPFX "bias", v->D, &v->bmm)))
        return rc;
    /* Anything else under the two prefixes would be silently ignored: refuse it. */
    for (int i = 0; i < l->m->st->n_tensors; i++) {
        const st_tensor *t = &l->m->st->tensors[i];
        if (t->used) continue;
        if (!strncmp(t->name, VPFX, strlen(VPFX)) || !strncmp(t->name, PPFX, strlen(PPFX)))
            return omnic_err(OMNIC_ETENSOR, "unexpected tensor '%s' in %s (not part of the vision tower with this config)",
                             t->name, l->m->st->files[t->file].path);
    }
    return OMNIC_OK;
}

int vit_load(omnic_model *m, vit_model **out) {
    *out = NULL;
    if (!m || !m->st || !m->info.has_vision)
        return omnic_err(OMNIC_EUNSUP, "%s: this model has no vision tower (no vision_config / model.vision_model.*)",
                         m && m->dir ? m->dir : "model");
    vit_model *v = calloc(1, sizeof *v);
    if (!v) return omnic_err(OMNIC_ENOMEM, "out of memory");
    ldr l = {m, v};
    int rc = read_config(&l);
    if (!rc) rc = load_tensors(&l);
    if (!rc) {
        int nf = v->hd / 4;
        v->inv_freq = malloc((size_t)nf * sizeof(float));
        if (!v->inv_freq) rc = omnic_err(OMNIC_ENOMEM, "out of memory");
        /* §2.3 step 2: 1 / 10000^(2j / (hd/2)) with the exponent and pow in float32 */
        for (int j = 0; !rc && j < nf; j++) {
            float e = (float)(2 * j) / (float)(v->hd / 2);
            v->inv_freq[j] = 1.0f / powf(10000.0f, e);
        }
    }
    if (rc) {
        vit_free(v);
        return rc;
    }
    *out = v;
    return OMNIC_OK;
}

void vit_free(vit_model *v) {
    if (!v) return;
    if (v->blocks)
        for (int i = 0; i < v->depth; i++) {
            vit_block *B = &v->blocks[i];
            float *p[] = {B->norm1, B->norm2, B->b_qkv, B->b_proj, B->b_gate, B->b_up, B->b_down};
            for (size_t j = 0; j < sizeof p / sizeof p[0]; j++) free(p[j]);
        }
    free(v->blocks);
    free(v->ln_q);
    free(v->b0);
    free(v->b2);
    free(v->bmm);
    free(v->inv_freq);
    free(v);
}

int vit_out_dim(const vit_model *v) { return v ? v->D : 0; }
