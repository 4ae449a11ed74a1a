/* audio_enc.c - the continuous audio encoder and projector (audio.md §4): load
 * and check model.audio_model.* / model.audio_projector.*, then per 30 s chunk:
 * conv stem, positions, pre-LN blocks, avg-pool 2, LayerNorm, MLP projector.
 * Only the L1 valid positions of a chunk go through the transformer: keys >= L1
 * are masked and rows >= L1 never reach a kept output (§4.2 steps 4 and 7). */
#include "models/audio_enc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/audio_nn.h"
#include "models/hcx.h"
#include "models/mel.h"

#define PFX "model.audio_model."
#define PPFX "model.audio_projector."
#define N_MELS 128
#define LN_EPS 1e-5f

typedef struct ae_layer {
    kweight q, k, v, o, fc1, fc2;
    float *bq, *bv, *bo, *b1, *b2;
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} ae_layer;

struct audio_enc {
    int D, H, dh, F, n_layers, n_pos, P, D_llm;
    kweight conv1, conv2, pos, p1, p2;
    float *conv1_b, *conv2_b, *ln_w, *ln_b, *p1_b, *p2_b;
    ae_layer *layers;
};

static int cfg_int(json_t *c, const char *key, int def, int *out) {
    json_t *v = c ? json_object_get(c, key) : NULL;
    if (!v) { *out = def; return OMNIC_OK; }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 20)
        return omnic_err(OMNIC_ECONFIG, "config.json audio_config.%s: want a positive integer", key);
    *out = (int)json_integer_value(v);
    return OMNIC_OK;
}

/* Number of layers present as PFX "layers.N." tensors (max N + 1). */
static int count_layers(omnic_model *m) {
    int n = 0;
    size_t pl = strlen(PFX "layers.");
    for (int i = 0; i < m->st->n_tensors; i++) {
        const char *nm = m->st->tensors[i].name;
        if (strncmp(nm, PFX "layers.", pl)) continue;
        char *end;
        long l = strtol(nm + pl, &end, 10);
        if (end != nm + pl && *end == '.' && l >= 0 && l < 4096 && l + 1 > n) n = (int)l + 1;
    }
    return n;
}

static int has_prefix(omnic_model *m, const char *p) {
    size_t pl = strlen(p);
    for (int i = 0; i < m->st->n_tensors; i++)
        if (!strncmp(m->st->tensors[i].name, p, pl)) return 1;
    return 0;
}

static int load_config(omnic_model *m, audio_enc *e) {
    json_t *c = json_object_get(m->config, "audio_config");
    if (c && !json_is_object(c)) return omnic_err(OMNIC_ECONFIG, "config.json audio_config: want an object");
    const st_tensor *c1 = an_find(m, PFX, "conv1.weight");
    if (!c1) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PFX "conv1.weight'", m->dir);
    int d_shape = c1->ndim == 3 && c1->shape[0] > 0 && c1->shape[0] < (1 << 20) ? (int)c1->shape[0] : 0;
    int rc, mels;
    if ((rc = cfg_int(c, "d_model", d_shape, &e->D))) return rc;
    if (e->D < 1) return omnic_err(OMNIC_ETENSOR, "tensor '" PFX "conv1.weight' is not a [d_model, 128, 3] conv weight");
    if ((rc = cfg_int(c, "num_mel_bins", N_MELS, &mels))) return rc;
    if (mels != N_MELS)
        return omnic_err(OMNIC_EUNSUP, "config.json audio_config.num_mel_bins is %d; the Whisper front end gives 128", mels);
    int nl = count_layers(m);
    if ((rc = cfg_int(c, "encoder_layers", nl > 0 ? nl : 1, &e->n_layers))) return rc;
    if ((rc = cfg_int(c, "encoder_attention_heads", e->D % 64 ? 1 : e->D / 64, &e->H))) return rc;
    const st_tensor *f1 = an_find(m, PFX, "layers.0.fc1.weight");
    int f_shape = f1 && f1->ndim == 2 && f1->shape[0] > 0 && f1->shape[0] < (1 << 24) ? (int)f1->shape[0] : 4 * e->D;
    if ((rc = cfg_int(c, "encoder_ffn_dim", f_shape, &e->F))) return rc;
    if ((rc = cfg_int(c, "max_source_positions", AUDIO_ENC_FRAMES / 2, &e->n_pos))) return rc;
    if (e->D % e->H)
        return omnic_err(OMNIC_ECONFIG, "config.json audio_config: d_model %d is not a multiple of encoder_attention_heads %d",
                         e->D, e->H);
    if (e->n_pos < AUDIO_ENC_FRAMES / 2)
        return omnic_err(OMNIC_ECONFIG, "config.json audio_config.max_source_positions %d < 1500 (one 30 s chunk)", e->n_pos);
    json_t *act = c ? json_object_get(c, "activation_function") : NULL;
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu")))
        return omnic_err(OMNIC_EUNSUP, "config.json audio_config.activation_function: only \"gelu\" is supported");
    json_t *se = c ? json_object_get(c, "scale_embedding") : NULL;
    if (se && json_is_true(se)) return omnic_err(OMNIC_EUNSUP, "config.json audio_config.scale_embedding true is not supported");
    json_t *pt = json_object_get(m->config, "audio_projector_type");
    if (pt && (!json_is_string(pt) || strcmp(json_string_value(pt), "mlp")))
        return omnic_err(OMNIC_EUNSUP, "config.json audio_projector_type: only \"mlp\" is supported");
    e->dh = e->D / e->H;
    return OMNIC_OK;
}

int audio_enc_load(omnic_model *m, audio_enc **out) {
    *out = NULL;
    if (!m->st || !has_prefix(m, PFX))
        return omnic_err(OMNIC_EUNSUP, "%s: this model has no continuous audio encoder (no " PFX "* tensors)", m->dir);
    audio_enc *e = calloc(1, sizeof *e);
    if (!e) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int rc = load_config(m, e);
    if (rc) goto fail;
    int D = e->D, F = e->F;
    e->D_llm = m->info.hidden_size;
#define MAT2(dst, pfx, name, r, c) \
    if ((rc = an_mat(m, pfx, name, 2, (int64_t[]){r, c}, &(dst)))) goto fail
#define VEC(dst, pfx, name, len) \
    if ((rc = an_vec(m, pfx, name, len, &(dst)))) goto fail
    if ((rc = an_mat(m, PFX, "conv1.weight", 3, (int64_t[]){D, N_MELS, 3}, &e->conv1))) goto fail;
    if ((rc = an_mat(m, PFX, "conv2.weight", 3, (int64_t[]){D, D, 3}, &e->conv2))) goto fail;
    VEC(e->conv1_b, PFX, "conv1.bias", D);
    VEC(e->conv2_b, PFX, "conv2.bias", D);
    MAT2(e->pos, PFX, "embed_positions.weight", e->n_pos, D);
    VEC(e->ln_w, PFX, "layer_norm.weight", D);
    VEC(e->ln_b, PFX, "layer_norm.bias", D);
    e->layers = calloc((size_t)e->n_layers, sizeof *e->layers);
    if (!e->layers) { rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto fail; }
    char n[128];
    for (int i = 0; i < e->n_layers; i++) {
        ae_layer *L = &e->layers[i];
#define LN(what) (snprintf(n, sizeof n, "layers.%d.%s", i, what), n)
        MAT2(L->q, PFX, LN("self_attn.q_proj.weight"), D, D);
        MAT2(L->k, PFX, LN("self_attn.k_proj.weight"), D, D);
        MAT2(L->v, PFX, LN("self_attn.v_proj.weight"), D, D);
        MAT2(L->o, PFX, LN("self_attn.out_proj.weight"), D, D);
        VEC(L->bq, PFX, LN("self_attn.q_proj.bias"), D);
        VEC(L->bv, PFX, LN("self_attn.v_proj.bias"), D);
        VEC(L->bo, PFX, LN("self_attn.out_proj.bias"), D);
        VEC(L->ln1_w, PFX, LN("self_attn_layer_norm.weight"), D);
        VEC(L->ln1_b, PFX, LN("self_attn_layer_norm.bias"), D);
        MAT2(L->fc1, PFX, LN("fc1.weight"), F, D);
        VEC(L->b1, PFX, LN("fc1.bias"), F);
        MAT2(L->fc2, PFX, LN("fc2.weight"), D, F);
        VEC(L->b2, PFX, LN("fc2.bias"), D);
        VEC(L->ln2_w, PFX, LN("final_layer_norm.weight"), D);
        VEC(L->ln2_b, PFX, LN("final_layer_norm.bias"), D);
#undef LN
    }
    /* Projector: hidden width from its fc1 tensor, output = the LLM width. */
    const st_tensor *pf = an_find(m, PPFX, "fc1.weight");
    if (!pf) { rc = omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PPFX "fc1.weight'", m->dir); goto fail; }
    e->P = pf->ndim == 2 && pf->shape[0] > 0 && pf->shape[0] < (1 << 20) ? (int)pf->shape[0] : D;
    MAT2(e->p1, PPFX, "fc1.weight", e->P, D);
    VEC(e->p1_b, PPFX, "fc1.bias", e->P);
    MAT2(e->p2, PPFX, "fc2.weight", e->D_llm, e->P);
    VEC(e->p2_b, PPFX, "fc2.bias", e->D_llm);
#undef MAT2
#undef VEC
    if ((rc = an_check_unused(m, PFX)) || (rc = an_check_unused(m, PPFX))) goto fail;
    *out = e;
    return OMNIC_OK;
fail:
    audio_enc_free(e);
    return rc;
}

void audio_enc_free(audio_enc *e) {
    if (!e) return;
    if (e->layers)
        for (int i = 0; i < e->n_layers; i++) {
            ae_layer *L = &e->layers[i];
            float *v[] = {L->bq, L->bv, L->bo, L->b1, L->b2, L->ln1_w, L->ln1_b, L->ln2_w, L->ln2_b};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) free(v[j]);
        }
    free(e->layers);
    float *v[] = {e->conv1_b, e->conv2_b, e->ln_w, e->ln_b, e->p1_b, e->p2_b};
    for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) free(v[j]);
    free(e);
}

int audio_enc_out_dim(const audio_enc *e) { return e->D_llm; }

/* §3.3 valid lengths of a chunk of n samples. */
static int chunk_l1(int64_t n) {
    int64_t n_mel = (n + 159) / 160;
    return (int)(an_floordiv(n_mel - 1, 2) + 1);
}

int audio_enc_chunk_rows(int64_t n) {
    if (n < 1) return 0;
    return (int)(an_floordiv(chunk_l1(n) - 2, 2) + 1);
}

int64_t audio_enc_rows(int64_t n) {
    int64_t r = 0;
    for (int64_t s = 0; s < n; s += AUDIO_ENC_CHUNK_SAMPLES)
        r += audio_enc_chunk_rows(n - s < AUDIO_ENC_CHUNK_SAMPLES ? n - s : AUDIO_ENC_CHUNK_SAMPLES);
    return r;
}

static void add_rows(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

int audio_enc_chunk(audio_enc *e, omnic_pool *pool, const float *feat, int n, float *out) {
    if (n < 1 || n > AUDIO_ENC_CHUNK_SAMPLES) return omnic_err(OMNIC_EINVAL, "audio chunk of %d samples (want 1..480000)", n);
    int L2 = audio_enc_chunk_rows(n);
    if (L2 == 0) return OMNIC_OK;
    const int D = e->D, F = e->F, L1 = chunk_l1(n), T1 = 2 * L1;
    size_t LD = (size_t)L1 * D;
    size_t col_n = (size_t)T1 * N_MELS * 3 > LD * 3 ? (size_t)T1 * N_MELS * 3 : LD * 3;
    size_t big = (size_t)L1 * (F > e->P ? F : e->P);
    if ((size_t)T1 * D > big) big = (size_t)T1 * D;
    float *h = malloc(LD * sizeof *h), *a = malloc(LD * sizeof *a), *q = malloc(LD * sizeof *q),
          *k = malloc(LD * sizeof *k), *v = malloc(LD * sizeof *v), *ctx = malloc(LD * sizeof *ctx),
          *f = malloc(big * sizeof *f), *col = malloc(col_n * sizeof *col), *row = malloc((size_t)D * sizeof *row);
    an_attn_scratch as = {0};
    int rc = OMNIC_OK;
    if (!h || !a || !q || !k || !v || !ctx || !f || !col || !row) {
        rc = omnic_err(OMNIC_ENOMEM, "out of memory for the audio encoder (%d positions)", L1);
        goto done;
    }
    if ((rc = an_attn_scratch_new(&as, L1, e->dh)) ||
        (e->n_layers > 0 && (rc = an_attn_scratch_amx(&as, &e->layers[0].q, pool, L1, e->dh))))
        goto done;
    /* 1-2. conv stem: conv1 over the 2*L1 frames conv2 reads, conv2 stride 2 */
    an_conv1d(pool, &e->conv1, e->conv1_b, feat, N_MELS, AUDIO_ENC_FRAMES, AUDIO_ENC_FRAMES, 1, 3, 1, 1, T1, col, f);
    an_bias_gelu(pool, f, NULL, T1, D, 1);
    an_conv1d(pool, &e->conv2, e->conv2_b, f, D, T1, 1, D, 3, 2, 1, L1, col, h);
    an_bias_gelu(pool, h, NULL, L1, D, 1);
    /* 3. learned positions */
    for (int t = 0; t < L1; t++) {
        k_row_to_f32(&e->pos, t, row);
        add_rows(h + (size_t)t * D, row, (size_t)D);
    }
    /* 4. pre-LN blocks */
    const float scale = 1.0f / sqrtf((float)e->dh);
    for (int l = 0; l < e->n_layers; l++) {
        ae_layer *L = &e->layers[l];
        an_layernorm(pool, h, a, L->ln1_w, L->ln1_b, L1, D, LN_EPS);
        k_matmul(pool, &L->q, a, L1, q);
        k_matmul(pool, &L->k, a, L1, k);
        k_matmul(pool, &L->v, a, L1, v);
        an_bias_gelu(pool, q, L->bq, L1, D, 0);
        an_bias_gelu(pool, v, L->bv, L1, D, 0);
        for (size_t i = 0; i < LD; i++) q[i] *= scale;
        an_attention(pool, q, k, v, ctx, L1, e->H, e->dh, &as);
        k_matmul(pool, &L->o, ctx, L1, a);
        an_bias_gelu(pool, a, L->bo, L1, D, 0);
        add_rows(h, a, LD);
        an_layernorm(pool, h, a, L->ln2_w, L->ln2_b, L1, D, LN_EPS);
        k_matmul(pool, &L->fc1, a, L1, f);
        an_bias_gelu(pool, f, L->b1, L1, F, 1);
        k_matmul(pool, &L->fc2, f, L1, a);
        an_bias_gelu(pool, a, L->b2, L1, D, 0);
        add_rows(h, a, LD);
    }
    /* 5-7. average pool 2 over the kept rows, final LayerNorm */
    for (int j = 0; j < L2; j++) {
        const float *r0 = h + (size_t)(2 * j) * D, *r1 = r0 + D;
        float *z = a + (size_t)j * D;
        for (int c = 0; c < D; c++) z[c] = (r0[c] + r1[c]) * 0.5f;
    }
    an_layernorm(pool, a, a, e->ln_w, e->ln_b, L2, D, LN_EPS);
    /* 8. projector */
    k_matmul(pool, &e->p1, a, L2, f);
    an_bias_gelu(pool, f, e->p1_b, L2, e->P, 1);
    k_matmul(pool, &e->p2, f, L2, out);
    an_bias_gelu(pool, out, e->p2_b, L2, e->D_llm, 0);
done:
    an_attn_scratch_free(&as);
    free(h); free(a); free(q); free(k); free(v); free(ctx); free(f); free(col); free(row);
    return rc;
}

int audio_enc_encode(audio_enc *e, omnic_pool *pool, const float *pcm, int64_t n, float **rows, int *n_rows) {
    *rows = NULL;
    *n_rows = 0;
    int64_t total = audio_enc_rows(n);
    if (total < 1 || total > (1 << 24)) return omnic_err(OMNIC_EINVAL, "audio of %lld samples gives %lld encoder rows", (long long)n, (long long)total);
    float *out = malloc((size_t)total * (size_t)e->D_llm * sizeof *out);
    float *feat = malloc((size_t)N_MELS * AUDIO_ENC_FRAMES * sizeof *feat);
    int rc = OMNIC_OK;
    int64_t r = 0;
    if (!out || !feat) { rc = omnic_err(OMNIC_ENOMEM, "out of memory for %lld audio rows", (long long)total); goto done; }
    for (int64_t s = 0; s < n; s += AUDIO_ENC_CHUNK_SAMPLES) {
        int c = (int)(n - s < AUDIO_ENC_CHUNK_SAMPLES ? n - s : AUDIO_ENC_CHUNK_SAMPLES);
        int L2 = audio_enc_chunk_rows(c);
        if (!L2) continue;
        if ((rc = mel_whisper_chunk(pcm + s, c, feat))) goto done;
        if ((rc = audio_enc_chunk(e, pool, feat, c, out + (size_t)r * e->D_llm))) goto done;
        r += L2;
    }
    *rows = out;
    *n_rows = (int)total;
    out = NULL;
done:
    free(out);
    free(feat);
    return rc;
}
