/* hcx_forward.c - the HyperCLOVA X decoder forward pass (llm.md §1.3) over a
 * chunk of tokens with a KV cache. Plain Llama is the special case with unit
 * multipliers and no post-norms. Activations and the cache are float32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "kernels/quant.h"
#include "models/hcx.h"

#define CHUNK 64 /* prompt tokens per batched step: weights are read once per chunk */

struct omnic_ctx {
    omnic_model *m;
    int n_ctx, pos, nth;
    void *kc, *vc;               /* [L][n_ctx] rows of Hkv*d: rotated keys, values */
    omnic_dtype kv_dt;           /* F32, F16 or Q8_0 */
    size_t kv_row;               /* bytes per cached row (Hkv*d values) */
    float *x, *xb, *q, *k, *v;   /* [CHUNK][...] activations */
    float *att, *hb, *hb2;
    float *cosb, *sinb;          /* [CHUNK][d/2] */
    float *inv_freq;             /* [d/2] */
};

/* One row of a batched step: a token of some sequence at some position. A
 * prompt chunk is rows of one context at consecutive positions; a batched
 * decode step is one row per context. */
typedef struct { omnic_ctx *c; int pos; } hcx_row;

/* 64-byte aligned buffers: the prefill kernels skip a copy on aligned rows. */
static float *amalloc(size_t n_floats) {
    size_t bytes = (n_floats * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

int omnic_kv_type_parse(const char *name) {
    if (!strcmp(name, "f32")) return OMNIC_KV_F32;
    if (!strcmp(name, "f16")) return OMNIC_KV_F16;
    if (!strcmp(name, "q8_0")) return OMNIC_KV_Q8_0;
    return -1;
}

int omnic_ctx_new(omnic_model *m, int n_ctx, omnic_ctx **out) { return omnic_ctx_new_kv(m, n_ctx, OMNIC_KV_F32, out); }

int omnic_ctx_new_kv(omnic_model *m, int n_ctx, int kv_type, omnic_ctx **out) {
    *out = NULL;
    const omnic_model_info *I = &m->info;
    if (n_ctx <= 0) n_ctx = I->max_pos;
    omnic_dtype kdt = kv_type == OMNIC_KV_F16 ? DT_F16 : kv_type == OMNIC_KV_Q8_0 ? DT_Q8_0 : DT_F32;
    if (kv_type != OMNIC_KV_F32 && kv_type != OMNIC_KV_F16 && kv_type != OMNIC_KV_Q8_0)
        return omnic_err(OMNIC_EINVAL, "unknown KV cache type %d", kv_type);
    if (I->head_dim > 1024) return omnic_err(OMNIC_EUNSUP, "head size %d > 1024 is not supported", I->head_dim);
    if (kdt == DT_Q8_0 && I->head_dim % QK8_0)
        return omnic_err(OMNIC_EUNSUP, "a Q8_0 KV cache needs a head size divisible by %d (this model: %d)", QK8_0,
                         I->head_dim);
    int nth = omnic_pool_size(m->pool), D = I->hidden_size, qd = I->n_heads * I->head_dim,
        kvd = I->n_kv_heads * I->head_dim, F = I->ffn_size, hd2 = I->head_dim / 2;
    int wide = D > qd ? D : qd;
    size_t kv_row = dtype_row_bytes(kdt, kvd);
    double kv_bytes = 2.0 * I->n_layers * (double)n_ctx * (double)kv_row;
    double scratch = (double)CHUNK * (2.0 * D + wide + qd + 2.0 * kvd + 2.0 * F + 2.0 * hd2) * 4;
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (kv_bytes + scratch > phys)
        return omnic_err(OMNIC_ENOMEM,
                         "not enough memory: a context of %d tokens needs %.1f GiB of KV cache and scratch, this machine has "
                         "%.1f GiB (use a smaller --ctx)",
                         n_ctx, (kv_bytes + scratch) / (1 << 30), phys / (1 << 30));
    omnic_ctx *c = calloc(1, sizeof *c);
    if (!c) return omnic_err(OMNIC_ENOMEM, "not enough memory for a context");
    c->m = m;
    c->n_ctx = n_ctx;
    c->nth = nth;
    c->kv_dt = kdt;
    c->kv_row = kv_row;
    size_t kvn = (size_t)I->n_layers * (size_t)n_ctx;
    c->kc = calloc(kvn, kv_row);
    c->vc = calloc(kvn, kv_row);
    c->x = amalloc((size_t)CHUNK * D);
    c->xb = amalloc((size_t)CHUNK * wide);
    c->q = amalloc((size_t)CHUNK * qd);
    c->k = amalloc((size_t)CHUNK * kvd);
    c->v = amalloc((size_t)CHUNK * kvd);
    c->att = amalloc((size_t)CHUNK * qd);
    c->hb = amalloc((size_t)CHUNK * (F > wide ? F : wide));
    c->hb2 = amalloc((size_t)CHUNK * F);
    c->cosb = amalloc((size_t)CHUNK * hd2);
    c->sinb = amalloc((size_t)CHUNK * hd2);
    c->inv_freq = amalloc((size_t)hd2);
    if (!c->kc || !c->vc || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att || !c->hb || !c->hb2 || !c->cosb ||
        !c->sinb || !c->inv_freq) {
        omnic_ctx_free(c);
        return omnic_err(OMNIC_ENOMEM, "not enough memory for a context of %d tokens", n_ctx);
    }
    /* transformers: inv_freq = 1 / base^(float32(2i) / float32(d)), in fp32 */
    for (int i = 0; i < hd2; i++)
        c->inv_freq[i] = (float)(1.0 / pow((double)I->rope_theta, (double)((float)(2 * i) / (float)I->head_dim)));
    *out = c;
    return OMNIC_OK;
}

void omnic_ctx_free(omnic_ctx *c) {
    if (!c) return;
    void *p[] = {c->kc, c->vc, c->x, c->xb, c->q, c->k, c->v, c->att, c->hb, c->hb2, c->cosb, c->sinb, c->inv_freq};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    free(c);
}

int omnic_ctx_pos(const omnic_ctx *c) { return c->pos; }
int omnic_ctx_size(const omnic_ctx *c) { return c->n_ctx; }
omnic_model *hcx_ctx_model(const omnic_ctx *c) { return c->m; }
void omnic_ctx_reset(omnic_ctx *c) { c->pos = 0; }

int omnic_ctx_truncate(omnic_ctx *c, int n) {
    if (n < 0 || n > c->pos) return omnic_err(OMNIC_EINVAL, "omnic_ctx_truncate: %d is outside [0, %d]", n, c->pos);
    c->pos = n; /* entries past n are overwritten by the next evaluation */
    return OMNIC_OK;
}

/* Causal GQA attention. A task is one KV head and a tile of consecutive rows
 * that share a context (up to K_ATT_TILE / group rows, so the tile's queries,
 * the group's heads of each row, fill the vector lanes of k_attn): each block of
 * cached keys and values is read once for all of them. Tasks are dealt
 * round-robin (tiles later in a prompt cost more). */
typedef struct { omnic_ctx *sc; const hcx_row *rows; int layer, n; } att_job;

#define ATT_BUF 8192 /* floats of dequantized keys (and as many of values) per thread */

/* k_kv_src over one KV head of one layer's cache: rows in place for an F32
 * cache, else dequantized into kbuf / vbuf. */
typedef struct {
    const omnic_ctx *c;
    const uint8_t *kc, *vc; /* the head's first cached position */
    int d;
    float *kbuf, *vbuf;
} kv_head_src;

static const float *kv_head_rows(void *arg, int which, int u0, int n, size_t *stride) {
    const kv_head_src *h = arg;
    const uint8_t *p = (which ? h->vc : h->kc) + (size_t)u0 * h->c->kv_row;
    if (h->c->kv_dt == DT_F32) {
        *stride = h->c->kv_row / sizeof(float);
        return (const float *)p;
    }
    float *buf = which ? h->vbuf : h->kbuf;
    for (int u = 0; u < n; u++) dequant_row(h->c->kv_dt, p + (size_t)u * h->c->kv_row, buf + (size_t)u * h->d, h->d);
    *stride = (size_t)h->d;
    return buf;
}

static void attention_worker(void *arg, int ith, int nth) {
    att_job *j = arg;
    omnic_ctx *sc = j->sc;
    const omnic_model_info *I = &sc->m->info;
    int H = I->n_heads, d = I->head_dim, G = I->n_kv_heads, group = H / G;
    int hpt = group < K_ATT_TILE ? group : K_ATT_TILE; /* heads per task */
    int hsplit = (group + hpt - 1) / hpt, rpt = K_ATT_TILE / hpt; /* rows per tile */
    float kbuf[ATT_BUF], vbuf[ATT_BUF]; /* head_dim <= 1024 (omnic_ctx_new_kv): 8 rows or more */
    const float *qp[K_ATT_TILE];
    float *op[K_ATT_TILE];
    int pos[K_ATT_TILE], task = 0;
    for (int t0 = 0; t0 < j->n;) {
        const omnic_ctx *c = j->rows[t0].c;
        int t1 = t0 + 1;
        while (t1 < j->n && t1 - t0 < rpt && j->rows[t1].c == c) t1++;
        for (int g = 0; g < G; g++)
            for (int hs = 0; hs < hsplit; hs++, task++) {
                if (task % nth != ith) continue;
                int h0 = g * group + hs * hpt, nh = group - hs * hpt < hpt ? group - hs * hpt : hpt, nq = 0;
                for (int t = t0; t < t1; t++)
                    for (int h = h0; h < h0 + nh; h++, nq++) {
                        qp[nq] = sc->q + ((size_t)t * H + h) * d;
                        op[nq] = sc->att + ((size_t)t * H + h) * d;
                        pos[nq] = j->rows[t].pos;
                    }
                size_t head_off = dtype_row_bytes(c->kv_dt, g * d); /* block-aligned: d % 32 == 0 for Q8_0 */
                size_t layer_off = (size_t)j->layer * c->n_ctx * c->kv_row + head_off;
                kv_head_src hsrc = {c, (const uint8_t *)c->kc + layer_off, (const uint8_t *)c->vc + layer_off, d, kbuf, vbuf};
                k_kv_src src = {kv_head_rows, &hsrc, c->kv_dt == DT_F32 ? 1 << 30 : ATT_BUF / d};
                k_attn_tile tile = {qp, op, pos, nq, d, I->attn_mult};
                k_attn(&tile, &src);
            }
        t0 = t1;
    }
}

static void add_bias(float *y, const float *b, int n, int dim) {
    if (b)
        for (int t = 0; t < n; t++) k_axpy(y + (size_t)t * dim, b, 1.f, dim);
}

/* Run n <= CHUNK rows through the decoder using c's scratch; writes each row's
 * k/v into its own context's cache and leaves the final hidden states (before
 * the final norm) in c->x. Positions are not advanced here. The input rows are
 * the embedding-table rows of ids, or (ids == NULL) the given rows embd [n][D]
 * (media); either is multiplied by the embedding multiplier (llm.md §5.1). */
static void forward_rows(omnic_ctx *c, const hcx_row *rows, const int32_t *ids, const float *embd, int n) {
    omnic_model *m = c->m;
    const omnic_model_info *I = &m->info;
    int D = I->hidden_size, d = I->head_dim, H = I->n_heads, KV = I->n_kv_heads, F = I->ffn_size;
    int qd = H * d, kvd = KV * d;
    omnic_pool *pool = m->pool;

    for (int t = 0; t < n; t++) {
        float *x = c->x + (size_t)t * D;
        if (ids) k_row_to_f32(&m->embed, ids[t], x);
        else memcpy(x, embd + (size_t)t * D, (size_t)D * sizeof *x);
        for (int i = 0; i < D; i++) x[i] *= I->emb_mult;
        for (int i = 0; i < d / 2; i++) { /* fp32 angle as in the reference */
            float ang = (float)rows[t].pos * c->inv_freq[i];
            c->cosb[t * (d / 2) + i] = cosf(ang);
            c->sinb[t * (d / 2) + i] = sinf(ang);
        }
    }
    for (int l = 0; l < I->n_layers; l++) {
        const hcx_layer *L = &m->layers[l];
        /* attention block */
        for (int t = 0; t < n; t++) k_rmsnorm(c->xb + (size_t)t * D, c->x + (size_t)t * D, L->in_norm, D, I->rms_eps);
        const kweight *qkv[3] = {&L->q, &L->k, &L->v};
        float *qkv_y[3] = {c->q, c->k, c->v};
        k_matmul_multi(pool, 3, qkv, c->xb, n, qkv_y);
        add_bias(c->q, L->bq, n, qd);
        add_bias(c->k, L->bk, n, kvd);
        add_bias(c->v, L->bv, n, kvd);
        for (int t = 0; t < n; t++) {
            const float *cs = c->cosb + t * (d / 2), *sn = c->sinb + t * (d / 2);
            for (int h = 0; h < H; h++) k_rope_half(c->q + (size_t)t * qd + h * d, cs, sn, d);
            for (int h = 0; h < KV; h++) k_rope_half(c->k + (size_t)t * kvd + h * d, cs, sn, d);
            omnic_ctx *rc = rows[t].c;
            size_t at = ((size_t)l * rc->n_ctx + (size_t)rows[t].pos) * rc->kv_row;
            quant_row(rc->kv_dt, c->k + (size_t)t * kvd, (uint8_t *)rc->kc + at, kvd);
            quant_row(rc->kv_dt, c->v + (size_t)t * kvd, (uint8_t *)rc->vc + at, kvd);
        }
        att_job aj = {c, rows, l, n};
        omnic_pool_run(pool, attention_worker, &aj);
        k_matmul(pool, &L->o, c->att, n, c->hb);
        add_bias(c->hb, L->bo, n, D);
        for (int t = 0; t < n; t++) {
            float *y = c->hb + (size_t)t * D;
            if (L->post1) k_rmsnorm(y, y, L->post1, D, I->rms_eps);
            k_axpy(c->x + (size_t)t * D, y, I->res_mult, D);
        }
        /* MLP block */
        for (int t = 0; t < n; t++) k_rmsnorm(c->xb + (size_t)t * D, c->x + (size_t)t * D, L->pa_norm, D, I->rms_eps);
        const kweight *gu[2] = {&L->gate, &L->up};
        float *gu_y[2] = {c->hb, c->hb2};
        k_matmul_multi(pool, 2, gu, c->xb, n, gu_y);
        add_bias(c->hb, L->bg, n, F);
        add_bias(c->hb2, L->bu, n, F);
        k_silu_mul(c->hb, c->hb2, n * F);
        k_matmul(pool, &L->down, c->hb, n, c->xb);
        add_bias(c->xb, L->bd, n, D);
        for (int t = 0; t < n; t++) {
            float *z = c->xb + (size_t)t * D;
            if (L->post2) k_rmsnorm(z, z, L->post2, D, I->rms_eps);
            k_axpy(c->x + (size_t)t * D, z, I->res_mult, D);
        }
    }
}

/* logits[r] for the hidden rows x[first .. first+rows) of the last chunk. */
static void output_logits(omnic_ctx *c, int first, int rows, float *logits) {
    omnic_model *m = c->m;
    const omnic_model_info *I = &m->info;
    int D = I->hidden_size, V = I->vocab_size;
    for (int r = 0; r < rows; r++)
        k_rmsnorm(c->xb + (size_t)r * D, c->x + (size_t)(first + r) * D, m->final_norm, D, I->rms_eps);
    k_matmul(m->pool, &m->output, c->xb, rows, logits);
    if (I->logit_scale != 1.0f)
        for (size_t i = 0; i < (size_t)rows * V; i++) logits[i] *= I->logit_scale;
}

/* Shared by omnic_eval and omnic_eval_embd: exactly one of ids / embd is set. */
static int eval_rows(omnic_ctx *c, const int32_t *ids, const float *embd, int n, float *logits, int all_logits) {
    const omnic_model_info *I = &c->m->info;
    if (n <= 0) return omnic_err(OMNIC_EINVAL, "omnic_eval: no tokens");
    if (c->pos + n > c->n_ctx)
        return omnic_err(OMNIC_EINVAL, "context full: %d tokens held + %d new > context size %d", c->pos, n, c->n_ctx);
    for (int i = 0; ids && i < n; i++)
        if (ids[i] < 0 || ids[i] >= I->vocab_size)
            return omnic_err(OMNIC_EINVAL, "token id %d at index %d is outside the vocabulary [0, %d)", ids[i], i, I->vocab_size);
    hcx_row rows[CHUNK];
    for (int done = 0; done < n;) {
        int k = n - done < CHUNK ? n - done : CHUNK;
        for (int t = 0; t < k; t++) rows[t] = (hcx_row){c, c->pos + t};
        forward_rows(c, rows, ids ? ids + done : NULL, ids ? NULL : embd + (size_t)done * I->hidden_size, k);
        c->pos += k;
        if (logits && all_logits) output_logits(c, 0, k, logits + (size_t)done * I->vocab_size);
        done += k;
        if (logits && !all_logits && done == n) output_logits(c, k - 1, 1, logits);
    }
    return OMNIC_OK;
}

int omnic_eval(omnic_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    return eval_rows(c, ids, NULL, n, logits, all_logits);
}

int omnic_eval_embd(omnic_ctx *c, const float *rows, int n, float *logits, int all_logits) {
    return eval_rows(c, NULL, rows, n, logits, all_logits);
}

int omnic_eval_batch(omnic_ctx **ctxs, const int32_t *ids, int n, float *logits) {
    if (n <= 0) return OMNIC_OK;
    if (n > CHUNK) return omnic_err(OMNIC_EINVAL, "omnic_eval_batch: at most %d sequences per step", CHUNK);
    omnic_ctx *c0 = ctxs[0];
    const omnic_model_info *I = &c0->m->info;
    hcx_row rows[CHUNK];
    for (int i = 0; i < n; i++) {
        if (ctxs[i]->m != c0->m) return omnic_err(OMNIC_EINVAL, "omnic_eval_batch: contexts of different models");
        for (int j = 0; j < i; j++)
            if (ctxs[j] == ctxs[i]) return omnic_err(OMNIC_EINVAL, "omnic_eval_batch: context %d appears twice", i);
        if (ctxs[i]->pos >= ctxs[i]->n_ctx)
            return omnic_err(OMNIC_EINVAL, "context full: sequence %d holds %d tokens (context size %d)", i, ctxs[i]->pos,
                             ctxs[i]->n_ctx);
        if (ids[i] < 0 || ids[i] >= I->vocab_size)
            return omnic_err(OMNIC_EINVAL, "token id %d of sequence %d is outside the vocabulary [0, %d)", ids[i], i,
                             I->vocab_size);
        rows[i] = (hcx_row){ctxs[i], ctxs[i]->pos};
    }
    forward_rows(c0, rows, ids, NULL, n);
    for (int i = 0; i < n; i++) ctxs[i]->pos++;
    if (logits) output_logits(c0, 0, n, logits);
    return OMNIC_OK;
}
