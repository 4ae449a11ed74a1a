/* hcx_load_gguf.c - the decoder from a GGUF file: metadata -> omnic_model_info,
 * GGUF tensors -> weights, undoing the llama.cpp conventions so that the forward
 * pass is exactly llm.md §1.3 (with RMSNorm).
 *
 * Architectures: "hyperclovax" / "hcx-seed-think" (NAVER's llama.cpp fork; keys
 * hyperclovax.*) and "llama" (stock llama.cpp; the 0.5B/1.5B text models).
 * Tensor names: token_embd, output_norm, output, blk.N.{attn_norm, attn_q,
 * attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down} (+ .bias
 * where present) and, hyperclovax only, the Peri-LN output norms
 * blk.N.post_attention_norm / post_ffw_norm.
 *
 * Conventions assumed (those of the fork's converter, llm.md §6 and the golden
 * manifests' "gguf_conventions"; omnic's own writer, cmd_quantize.c, produces
 * them):
 *  - attn_q / attn_k rows are permuted per head for adjacent-pair RoPE (GGUF row
 *    2i + s of a head = HF row s * d/2 + i); they are un-permuted here, once, into
 *    owned copies, so the forward pass keeps its rotate-half RoPE.
 *  - embedding_multiplier is folded into token_embd: emb_mult = 1. The output
 *    matrix is `output` (unscaled), required for hyperclovax; llama may omit it
 *    (tied: token_embd is used, as llama.cpp does).
 *  - residual_multiplier is folded into the post-norm gains when post-norms exist:
 *    res_mult = 1. Without post-norms it cannot be folded: `ARCH.residual_scale`
 *    is honoured then (an omnic extension that the fork ignores); with post-norms
 *    a residual_scale key is ignored, as the fork ignores it. ARCH.embedding_scale
 *    is ignored likewise (assumed folded), with a warning if it is not 1.
 *  - attention.scale = attention_multiplier (default 1/sqrt(d)); logit_scale =
 *    logits_scaling (hyperclovax; llama has none).
 *  - The stock fork normalizes with mean-centred LayerNorm; omnic always uses
 *    RMSNorm (the HF reference) with the file's epsilon, and says so on stderr.
 *    LayerNorm biases (X_norm.bias) are refused unless they are all zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "kernels/quant.h"
#include "models/hcx.h"

struct hcx_gguf {
    gguf_file *f;
    void **bufs; /* owned copies (un-permuted q/k) */
    int n_bufs;
};

typedef struct {
    omnic_model *m;
    gguf_file *f;
    const char *arch;
    int hcx;
    int chunk;   /* Q8_0/Q4_0 matrices go to quant.h's chunked rows (OMNIC_QCHUNK=0: no) */
    int inplace; /* ... in the file's resident copy, made writable for the load */
} ctx;

static int own(ctx *c, void *p) {
    struct hcx_gguf *g = c->m->gg;
    void **nb = realloc(g->bufs, (size_t)(g->n_bufs + 1) * sizeof *nb);
    if (!nb) {
        free(p);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    g->bufs = nb;
    g->bufs[g->n_bufs++] = p;
    return OMNIC_OK;
}

/* ARCH.<key> as an integer in [lo, hi]; required unless def is given (has_def). */
static int key_int(ctx *c, const char *key, int has_def, int64_t def, int64_t lo, int64_t hi, int *out) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    int64_t v;
    int rc = gguf_get_int(c->f, k, &v);
    if (rc < 0) return rc;
    if (rc == 1) {
        if (!has_def) return omnic_err(OMNIC_ECONFIG, "%s: required metadata key '%s' is missing", c->f->path, k);
        v = def;
    }
    if (v < lo || v > hi)
        return omnic_err(OMNIC_ECONFIG, "%s: metadata key '%s' = %lld is out of range [%lld, %lld]", c->f->path, k, (long long)v,
                         (long long)lo, (long long)hi);
    *out = (int)v;
    return OMNIC_OK;
}

/* ARCH.<key> as a float; *found = 0 when absent (out untouched). */
static int key_float(ctx *c, const char *key, float *out, int *found) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    double v;
    int rc = gguf_get_float(c->f, k, &v);
    if (found) *found = rc == 0;
    if (rc < 0) return rc;
    if (rc == 0) {
        if (!isfinite(v)) return omnic_err(OMNIC_ECONFIG, "%s: metadata key '%s' is not finite", c->f->path, k);
        *out = (float)v;
    }
    return OMNIC_OK;
}

static const gguf_tensor *find(ctx *c, const char *name) { return gguf_find_tensor(c->f, name); }

static int is_matmul_dt(int dt) {
    return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16 || dt == DT_Q8_0 || dt == DT_Q4_0 || dt == DT_Q4_K;
}

/* Rows of a Q8_0/Q4_0/Q4_K matrix rearranged into layout lay (quant.h) in place,
 * the pool's threads taking whole 16-row groups each. */
typedef struct { omnic_dtype dt; uint8_t *data; int rows, cols, lay, failed; } rearr_job;

static void rearr_worker(void *arg, int ith, int nth) {
    rearr_job *j = arg;
    int lo, hi;
    omnic_split(j->rows, QX16, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    uint8_t *p = j->data + (size_t)lo * (size_t)dtype_row_bytes(j->dt, j->cols);
    int rc = j->lay == KW_X16 ? quant_x16_rows(j->dt, p, hi - lo, j->cols) : quant_chunk_rows(j->dt, p, hi - lo, j->cols);
    if (rc) __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

/* A matrix [rows][cols] (GGUF ne = {cols, rows}). heads > 0: un-permute its rows
 * (heads of d = rows / heads rows each) into an owned copy. */
static int get_mat(ctx *c, const char *name, int rows, int cols, int heads, kweight *out) {
    const gguf_tensor *t = find(c, name);
    if (!t) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s'", c->f->path, name);
    if (!is_matmul_dt(t->dt))
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has type %s; omnic computes with F32, F16, BF16, Q8_0, Q4_0 and Q4_K",
                         c->f->path, name, ggml_type_name(t->type));
    if (t->ndim != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has shape ne=[%lld, %lld%s], expected [%d, %d] (columns, rows)", c->f->path,
                         name, (long long)t->ne[0], (long long)t->ne[1], t->ndim > 2 ? ", ..." : "", cols, rows);
    ((gguf_tensor *)t)->used = 1;
    *out = (kweight){t->data, (omnic_dtype)t->dt, rows, cols, 0, 0};
    if (heads > 0) {
        int d = rows / heads;
        size_t rb = (size_t)dtype_row_bytes((omnic_dtype)t->dt, cols);
        uint8_t *p = aligned_alloc(64, ((size_t)rows * rb + 63) & ~(size_t)63);
        if (!p) return omnic_err(OMNIC_ENOMEM, "out of memory for tensor '%s'", name);
        const uint8_t *src = t->data;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < d / 2; i++)
                for (int s = 0; s < 2; s++)
                    memcpy(p + ((size_t)h * d + (size_t)s * (d / 2) + i) * rb, src + ((size_t)h * d + 2 * (size_t)i + s) * rb, rb);
        int rc = own(c, p);
        if (rc) return rc;
        out->data = p;
    }
    /* Q8_0/Q4_0 rows chunked or interleaved by 16, Q4_K rows interleaved where
     * the VNNI kernels run (quant.h, k_layout_for): the file's bytes are
     * rearranged where they lie, or in the owned copy above */
    int want = k_layout_for((omnic_dtype)t->dt, rows);
    if (want != KW_GGUF && c->chunk && (heads > 0 || c->inplace)) {
        rearr_job j = {(omnic_dtype)t->dt, (uint8_t *)out->data, rows, cols, want, 0};
        int lay = j.lay;
        if (c->m->pool) omnic_pool_run(c->m->pool, rearr_worker, &j);
        else rearr_worker(&j, 0, 1);
        /* a failed part left its rows untouched: the whole matrix stays readable only
         * if every part succeeded, so a failure is an error */
        if (j.failed) return omnic_err(OMNIC_ENOMEM, "out of memory rearranging tensor '%s'", name);
        out->layout = lay;
    }
    return OMNIC_OK;
}

/* A vector of n values as a malloc'd float copy; heads > 0 un-permutes as above.
 * Absent: *out = NULL and, if required, an error. */
static int get_vec(ctx *c, const char *name, int n, int heads, int required, float **out) {
    *out = NULL;
    const gguf_tensor *t = find(c, name);
    if (!t) return required ? omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s'", c->f->path, name) : OMNIC_OK;
    if (t->dt < 0)
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has type %s, which omnic cannot read", c->f->path, name,
                         ggml_type_name(t->type));
    if (t->ndim != 1 || t->ne[0] != n)
        return omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' has %d dims / ne[0] = %lld, expected a vector of %d", c->f->path, name,
                         t->ndim, (long long)t->ne[0], n);
    ((gguf_tensor *)t)->used = 1;
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) return omnic_err(OMNIC_ENOMEM, "out of memory");
    kweight w = {t->data, (omnic_dtype)t->dt, 1, n, 0, 0};
    k_row_to_f32(&w, 0, v);
    if (heads > 0) {
        int d = n / heads;
        float *u = malloc((size_t)n * sizeof(float));
        if (!u) {
            free(v);
            return omnic_err(OMNIC_ENOMEM, "out of memory");
        }
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < d / 2; i++)
                for (int s = 0; s < 2; s++) u[h * d + s * (d / 2) + i] = v[h * d + 2 * i + s];
        free(v);
        v = u;
    }
    *out = v;
    return OMNIC_OK;
}

/* A LayerNorm bias: accepted (and ignored) only if absent or all zero. */
static int check_norm_bias(ctx *c, const char *norm, int n) {
    char name[128];
    snprintf(name, sizeof name, "%s.bias", norm);
    float *b;
    int rc = get_vec(c, name, n, 0, 0, &b);
    if (rc || !b) return rc;
    int nz = 0;
    for (int i = 0; i < n; i++) nz |= b[i] != 0.f;
    free(b);
    if (nz)
        return omnic_err(OMNIC_EUNSUP,
                         "%s: tensor '%s' is a non-zero LayerNorm bias; omnic normalizes with RMSNorm (llm.md §1.3, §6) and "
                         "cannot represent it",
                         c->f->path, name);
    return OMNIC_OK;
}

static int load(ctx *c) {
    omnic_model *m = c->m;
    omnic_model_info *I = &m->info;
    gguf_file *f = c->f;
    int rc, D, L, H, KV, F, d, dv, ctxlen, rotdim;
    if ((rc = key_int(c, "embedding_length", 0, 0, 1, 1 << 20, &D)) || (rc = key_int(c, "block_count", 0, 0, 1, 4096, &L)) ||
        (rc = key_int(c, "feed_forward_length", 0, 0, 1, 1 << 22, &F)) ||
        (rc = key_int(c, "attention.head_count", 0, 0, 1, 4096, &H)) ||
        (rc = key_int(c, "attention.head_count_kv", 1, H, 1, H, &KV)) ||
        (rc = key_int(c, "context_length", 1, 2048, 1, 1 << 26, &ctxlen)))
        return rc;
    if (H % KV) return omnic_err(OMNIC_ECONFIG, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d", f->path, c->arch, H, KV);
    if ((rc = key_int(c, "attention.key_length", 1, D / H, 2, 1 << 16, &d)) ||
        (rc = key_int(c, "attention.value_length", 1, d, 1, 1 << 16, &dv)) ||
        (rc = key_int(c, "rope.dimension_count", 1, d, 1, 1 << 16, &rotdim)))
        return rc;
    if (dv != d) return omnic_err(OMNIC_EUNSUP, "%s: %s.attention.value_length %d differs from key_length %d", f->path, c->arch, dv, d);
    if (rotdim != d)
        return omnic_err(OMNIC_EUNSUP, "%s: %s.rope.dimension_count %d: partial rotary embeddings are not supported (head dim %d)",
                         f->path, c->arch, rotdim, d);
    if (d % 2) return omnic_err(OMNIC_ECONFIG, "%s: head dimension %d is odd", f->path, d);
    char k[160], sv[64];
    snprintf(k, sizeof k, "%s.rope.scaling.type", c->arch);
    if ((rc = gguf_get_str(f, k, sv, sizeof sv)) < 0) return rc;
    if (rc == 0 && strcmp(sv, "none"))
        return omnic_err(OMNIC_EUNSUP, "%s: metadata key '%s' = '%s': only unscaled RoPE is supported (llm.md §1.6)", f->path, k, sv);
    if (find(c, "rope_freqs.weight"))
        return omnic_err(OMNIC_EUNSUP, "%s: tensor 'rope_freqs.weight' (scaled RoPE) is not supported (llm.md §1.6)", f->path);

    float eps = 1e-5f, theta = 10000.f, scale = 1.f / sqrtf((float)d), lscale = 1.f, emb = 1.f, res = 1.f;
    /* epsilon: the fork writes the LayerNorm key (used here as the RMSNorm eps) */
    int found_rms = 0, found_ln = 0, res_found = 0;
    if ((rc = key_float(c, "attention.layer_norm_rms_epsilon", &eps, &found_rms))) return rc;
    if (c->hcx && (rc = key_float(c, "attention.layer_norm_epsilon", &eps, &found_ln))) return rc;
    if (!found_rms && !found_ln)
        return omnic_err(OMNIC_ECONFIG, "%s: required metadata key '%s.attention.%s' is missing", f->path, c->arch,
                         c->hcx ? "layer_norm_epsilon" : "layer_norm_rms_epsilon");
    if ((rc = key_float(c, "rope.freq_base", &theta, NULL)) || (rc = key_float(c, "attention.scale", &scale, NULL))) return rc;
    if (c->hcx) {
        if ((rc = key_float(c, "logit_scale", &lscale, NULL)) || (rc = key_float(c, "embedding_scale", &emb, NULL)) ||
            (rc = key_float(c, "residual_scale", &res, &res_found)))
            return rc;
    }
    if (!(eps > 0) || !(theta > 0)) return omnic_err(OMNIC_ECONFIG, "%s: norm epsilon and RoPE base must be positive", f->path);

    /* vocabulary from the embedding */
    const gguf_tensor *te = find(c, "token_embd.weight");
    if (!te) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor 'token_embd.weight'", f->path);
    if (te->ndim != 2 || te->ne[0] != D || te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return omnic_err(OMNIC_ETENSOR, "%s: tensor 'token_embd.weight' has shape ne=[%lld, %lld], expected [%d, vocab]", f->path,
                         (long long)te->ne[0], (long long)te->ne[1], D);
    int V = (int)te->ne[1];

    snprintf(I->arch, sizeof I->arch, "GGUF %.50s", c->arch);
    snprintf(I->model_type, sizeof I->model_type, "%s", c->hcx ? "hyperclovax" : "llama");
    I->vocab_size = V, I->hidden_size = D, I->n_layers = L, I->n_heads = H, I->n_kv_heads = KV, I->head_dim = d;
    I->ffn_size = F, I->max_pos = ctxlen, I->rms_eps = eps, I->rope_theta = theta;
    I->emb_mult = 1.f, I->attn_mult = scale, I->logit_scale = lscale, I->res_mult = 1.f;
    I->n_files = 1;
    int64_t id;
    I->bos_id = I->eos_id = -1;
    if ((rc = gguf_get_int(f, "tokenizer.ggml.bos_token_id", &id)) < 0) return rc;
    if (rc == 0 && id >= 0 && id < V) I->bos_id = (int)id;
    if ((rc = gguf_get_int(f, "tokenizer.ggml.eos_token_id", &id)) < 0) return rc;
    if (rc == 0 && id >= 0 && id < V) I->eos_id = (int)id;

    /* post-norms: all layers or none; hyperclovax only */
    int present = 0;
    char n[160];
    for (int i = 0; i < L; i++) {
        snprintf(n, sizeof n, "blk.%d.post_attention_norm.weight", i);
        present += find(c, n) != NULL;
        snprintf(n, sizeof n, "blk.%d.post_ffw_norm.weight", i);
        present += find(c, n) != NULL;
    }
    if (present && !c->hcx)
        return omnic_err(OMNIC_ETENSOR, "%s: post-norm tensors (e.g. 'blk.0.post_attention_norm.weight') in a llama file", f->path);
    if (present && present != 2 * L)
        return omnic_err(OMNIC_ETENSOR, "%s: post-norm tensors on some layers only (%d of %d present)", f->path, present, 2 * L);
    I->post_norm = present > 0;
    if (c->hcx) {
        omnic_log(1, "note: %s: NAVER's llama.cpp fork normalizes hyperclovax GGUFs with LayerNorm; omnic uses RMSNorm "
                     "(the reference, llm.md §6) and assumes m_emb folded into token_embd%s",
                  f->path, I->post_norm ? " and m_res into the post-norm gains" : "");
        if (emb != 1.f)
            omnic_log(1, "warning: %s: %s.embedding_scale = %g ignored (assumed folded into token_embd, as the fork does)", f->path,
                      c->arch, emb);
        if (res_found && res != 1.f) {
            if (I->post_norm)
                omnic_log(1, "warning: %s: %s.residual_scale = %g ignored (assumed folded into the post-norm gains, as the fork does)",
                          f->path, c->arch, res);
            else
                I->res_mult = res; /* cannot be folded without post-norms */
        }
    }

    if ((rc = get_mat(c, "token_embd.weight", V, D, 0, &m->embed))) return rc;
    if ((rc = get_vec(c, "output_norm.weight", D, 0, 1, &m->final_norm)) || (rc = check_norm_bias(c, "output_norm", D))) return rc;
    if (find(c, "output.weight")) {
        if ((rc = get_mat(c, "output.weight", V, D, 0, &m->output))) return rc;
        I->tied = 0;
    } else if (c->hcx) {
        return omnic_err(OMNIC_ETENSOR, "%s: missing tensor 'output.weight' (required by the %s architecture)", f->path, c->arch);
    } else {
        m->output = m->embed;
        I->tied = 1;
    }
    m->layers = calloc((size_t)L, sizeof *m->layers);
    if (!m->layers) return omnic_err(OMNIC_ENOMEM, "out of memory");
#define NM(what) (snprintf(n, sizeof n, "blk.%d.%s", i, what), n)
    for (int i = 0; i < L; i++) {
        hcx_layer *Ly = &m->layers[i];
        if ((rc = get_vec(c, NM("attn_norm.weight"), D, 0, 1, &Ly->in_norm)) ||
            (rc = get_vec(c, NM("ffn_norm.weight"), D, 0, 1, &Ly->pa_norm)) ||
            (rc = get_mat(c, NM("attn_q.weight"), H * d, D, H, &Ly->q)) ||
            (rc = get_mat(c, NM("attn_k.weight"), KV * d, D, KV, &Ly->k)) ||
            (rc = get_mat(c, NM("attn_v.weight"), KV * d, D, 0, &Ly->v)) ||
            (rc = get_mat(c, NM("attn_output.weight"), D, H * d, 0, &Ly->o)) ||
            (rc = get_mat(c, NM("ffn_gate.weight"), F, D, 0, &Ly->gate)) ||
            (rc = get_mat(c, NM("ffn_up.weight"), F, D, 0, &Ly->up)) ||
            (rc = get_mat(c, NM("ffn_down.weight"), D, F, 0, &Ly->down)) ||
            (rc = get_vec(c, NM("attn_q.bias"), H * d, H, 0, &Ly->bq)) ||
            (rc = get_vec(c, NM("attn_k.bias"), KV * d, KV, 0, &Ly->bk)) ||
            (rc = get_vec(c, NM("attn_v.bias"), KV * d, 0, 0, &Ly->bv)) ||
            (rc = get_vec(c, NM("attn_output.bias"), D, 0, 0, &Ly->bo)) ||
            (rc = get_vec(c, NM("ffn_gate.bias"), F, 0, 0, &Ly->bg)) ||
            (rc = get_vec(c, NM("ffn_up.bias"), F, 0, 0, &Ly->bu)) ||
            (rc = get_vec(c, NM("ffn_down.bias"), D, 0, 0, &Ly->bd)))
            return rc;
        if (I->post_norm && ((rc = get_vec(c, NM("post_attention_norm.weight"), D, 0, 1, &Ly->post1)) ||
                             (rc = get_vec(c, NM("post_ffw_norm.weight"), D, 0, 1, &Ly->post2))))
            return rc;
        char base[64];
        static const char *const norms[] = {"attn_norm", "ffn_norm", "post_attention_norm", "post_ffw_norm"};
        for (int j = 0; j < 4; j++) {
            snprintf(base, sizeof base, "blk.%d.%s", i, norms[j]);
            if ((rc = check_norm_bias(c, base, D))) return rc;
        }
        I->attn_bias |= Ly->bq || Ly->bk || Ly->bv || Ly->bo;
        I->mlp_bias |= Ly->bg || Ly->bu || Ly->bd;
    }
#undef NM
    unsigned dts = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (!t->used)
            return omnic_err(OMNIC_ETENSOR, "%s: unexpected tensor '%s' (not part of a %s decoder with this metadata)", f->path,
                             t->name, c->arch);
        int64_t ne = 1;
        for (int j = 0; j < t->ndim; j++) ne *= t->ne[j];
        I->n_params += ne;
        I->weight_bytes += (int64_t)t->nbytes;
        if (t->dt >= 0) dts |= 1u << t->dt;
    }
    I->dtypes[0] = 0;
    for (int t = 0; t < DT_COUNT; t++)
        if (dts & (1u << t)) {
            size_t l = strlen(I->dtypes);
            snprintf(I->dtypes + l, sizeof I->dtypes - l, "%s%s", l ? "+" : "", dtype_name((omnic_dtype)t));
        }
    return OMNIC_OK;
}

int hcx_load_gguf(omnic_model *m, const char *path) {
    if (!(m->gg = calloc(1, sizeof *m->gg))) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int rc = gguf_open(path, OMNIC_MAP_RESIDENT, &m->gg->f);
    if (rc) return rc;
    gguf_file *f = m->gg->f;
    char arch[64];
    if ((rc = gguf_get_str(f, "general.architecture", arch, sizeof arch)) < 0) return rc;
    if (rc == 1) return omnic_err(OMNIC_ECONFIG, "%s: required metadata key 'general.architecture' is missing", path);
    const char *qc = getenv("OMNIC_QCHUNK");
    ctx c = {m, f, arch, 0, !(qc && !strcmp(qc, "0")), 0};
    if (!strcmp(arch, "hyperclovax") || !strcmp(arch, "hcx-seed-think")) c.hcx = 1;
    else if (strcmp(arch, "llama"))
        return omnic_err(OMNIC_EUNSUP, "%s: general.architecture '%s' is not supported (hyperclovax, hcx-seed-think, llama)", path, arch);
    c.inplace = c.chunk && omnic_filemap_writable(&f->fm, 1) == 0;
    rc = load(&c);
    if (c.inplace) omnic_filemap_writable(&f->fm, 0);
    return rc;
}

void hcx_gguf_free(omnic_model *m) {
    struct hcx_gguf *g = m->gg;
    if (!g) return;
    for (int i = 0; i < g->n_bufs; i++) free(g->bufs[i]);
    free(g->bufs);
    gguf_close(g->f);
    free(g);
    m->gg = NULL;
}
