/* s3tok.c - the S3 tokenizer v2 (audio.md §5): load and check
 * model.discrete_audio_model.*, then per <= 80 s chunk: two stride-2 convs with
 * GELU, residual blocks (LN eps 1e-6, rotary half-split attention, FSMN memory on
 * the values added after the output projection, LN eps 1e-5 MLP), FSQ codes. */
#include "models/s3tok.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/audio_nn.h"
#include "models/hcx.h"
#include "models/mel.h"

#define PFX "model.discrete_audio_model."
#define N_MELS 128
#define HEAD_DIM 64   /* the rotary table is built for 64 dims */
#define FSMN_K 31
#define FSQ_DIGITS 8
#define FSQ_SCALE 0.9990000128746033f

typedef struct s3_block {
    kweight q, k, v, o, w1, w2;
    float *bq, *bv, *bo, *b1, *b2, *fsmn_t;   /* fsmn_t: [31][D] */
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} s3_block;

struct s3tok {
    int D, H, F, n_blocks;
    kweight conv1, conv2, proj;
    float *conv1_b, *conv2_b, *proj_b;
    float *cos_t, *sin_t;   /* [S3_MAX_POS][32] */
    s3_block *blocks;
};

static int count_blocks(omnic_model *m) {
    const char *p = PFX "encoder.blocks.";
    size_t pl = strlen(p);
    int n = 0;
    for (int i = 0; i < m->st->n_tensors; i++) {
        const char *nm = m->st->tensors[i].name;
        if (strncmp(nm, p, pl)) continue;
        char *end;
        long l = strtol(nm + pl, &end, 10);
        if (end != nm + pl && *end == '.' && l >= 0 && l < 1024 && l + 1 > n) n = (int)l + 1;
    }
    return n;
}

int s3tok_load(omnic_model *m, s3tok **out) {
    *out = NULL;
    int present = 0;
    for (int i = 0; m->st && i < m->st->n_tensors && !present; i++)
        present = !strncmp(m->st->tensors[i].name, PFX, strlen(PFX));
    if (!present)
        return omnic_err(OMNIC_EUNSUP, "%s: this model has no discrete audio tokenizer (no " PFX "* tensors)", m->dir);
    json_t *dc = json_object_get(m->config, "discrete_audio_config");
    json_t *mt = dc ? json_object_get(dc, "model_type") : NULL;
    if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), "cosyvoice2")))
        return omnic_err(OMNIC_EUNSUP, "config.json discrete_audio_config.model_type: only \"cosyvoice2\" is supported");
    s3tok *t = calloc(1, sizeof *t);
    if (!t) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int rc;
    const st_tensor *c1 = an_find(m, PFX, "encoder.conv1.weight");
    if (!c1 || c1->ndim != 3 || c1->shape[0] < 1 || c1->shape[0] > (1 << 16)) {
        rc = c1 ? omnic_err(OMNIC_ETENSOR, "tensor '%s' is not a [state, 128, 3] conv weight", c1->name)
                : omnic_err(OMNIC_ETENSOR, "%s: missing tensor '" PFX "encoder.conv1.weight'", m->dir);
        goto fail;
    }
    int D = t->D = (int)c1->shape[0];
    if (D % HEAD_DIM) {
        rc = omnic_err(OMNIC_ETENSOR, "tensor '%s': state width %d is not a multiple of the head width 64", c1->name, D);
        goto fail;
    }
    t->H = D / HEAD_DIM;
    t->F = 4 * D;
    t->n_blocks = count_blocks(m);
    if (t->n_blocks < 1) { rc = omnic_err(OMNIC_ETENSOR, "%s: no tensors '" PFX "encoder.blocks.N.*'", m->dir); goto fail; }
#define MAT(dst, name, ...) \
    if ((rc = an_mat(m, PFX, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, &(dst)))) goto fail
#define VEC(dst, name, len) \
    if ((rc = an_vec(m, PFX, name, len, &(dst)))) goto fail
    MAT(t->conv1, "encoder.conv1.weight", D, N_MELS, 3);
    MAT(t->conv2, "encoder.conv2.weight", D, D, 3);
    VEC(t->conv1_b, "encoder.conv1.bias", D);
    VEC(t->conv2_b, "encoder.conv2.bias", D);
    MAT(t->proj, "quantizer._codebook.project_down.weight", FSQ_DIGITS, D);
    VEC(t->proj_b, "quantizer._codebook.project_down.bias", FSQ_DIGITS);
    t->blocks = calloc((size_t)t->n_blocks, sizeof *t->blocks);
    if (!t->blocks) { rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto fail; }
    char n[128];
    for (int i = 0; i < t->n_blocks; i++) {
        s3_block *B = &t->blocks[i];
#define BN(what) (snprintf(n, sizeof n, "encoder.blocks.%d.%s", i, what), n)
        MAT(B->q, BN("attn.query.weight"), D, D);
        MAT(B->k, BN("attn.key.weight"), D, D);
        MAT(B->v, BN("attn.value.weight"), D, D);
        MAT(B->o, BN("attn.out.weight"), D, D);
        VEC(B->bq, BN("attn.query.bias"), D);
        VEC(B->bv, BN("attn.value.bias"), D);
        VEC(B->bo, BN("attn.out.bias"), D);
        VEC(B->ln1_w, BN("attn_ln.weight"), D);
        VEC(B->ln1_b, BN("attn_ln.bias"), D);
        MAT(B->w1, BN("mlp.0.weight"), t->F, D);
        VEC(B->b1, BN("mlp.0.bias"), t->F);
        MAT(B->w2, BN("mlp.2.weight"), D, t->F);
        VEC(B->b2, BN("mlp.2.bias"), D);
        VEC(B->ln2_w, BN("mlp_ln.weight"), D);
        VEC(B->ln2_b, BN("mlp_ln.bias"), D);
        float *k;
        if ((rc = an_f32(m, PFX, BN("attn.fsmn_block.weight"), 3, (int64_t[]){D, 1, FSMN_K}, &k))) goto fail;
        B->fsmn_t = malloc((size_t)FSMN_K * D * sizeof(float));
        if (!B->fsmn_t) { free(k); rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto fail; }
        for (int c = 0; c < D; c++)
            for (int j = 0; j < FSMN_K; j++) B->fsmn_t[(size_t)j * D + c] = k[(size_t)c * FSMN_K + j];
        free(k);
#undef BN
    }
#undef MAT
#undef VEC
    if ((rc = an_check_unused(m, PFX))) goto fail;
    /* Rotary table as the source builds it: float32 frequencies and products. */
    t->cos_t = malloc((size_t)S3_MAX_POS * (HEAD_DIM / 2) * sizeof(float));
    t->sin_t = malloc((size_t)S3_MAX_POS * (HEAD_DIM / 2) * sizeof(float));
    if (!t->cos_t || !t->sin_t) { rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto fail; }
    for (int d = 0; d < HEAD_DIM / 2; d++) {
        float fr = 1.0f / powf(10000.0f, (float)(2 * d) / (float)HEAD_DIM);
        for (int p = 0; p < S3_MAX_POS; p++) {
            float ang = (float)p * fr;
            t->cos_t[(size_t)p * (HEAD_DIM / 2) + d] = (float)cos((double)ang);
            t->sin_t[(size_t)p * (HEAD_DIM / 2) + d] = (float)sin((double)ang);
        }
    }
    *out = t;
    return OMNIC_OK;
fail:
    s3tok_free(t);
    return rc;
}

void s3tok_free(s3tok *t) {
    if (!t) return;
    if (t->blocks)
        for (int i = 0; i < t->n_blocks; i++) {
            s3_block *B = &t->blocks[i];
            float *v[] = {B->bq, B->bv, B->bo, B->b1, B->b2, B->fsmn_t, B->ln1_w, B->ln1_b, B->ln2_w, B->ln2_b};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) free(v[j]);
        }
    free(t->blocks);
    free(t->conv1_b);
    free(t->conv2_b);
    free(t->proj_b);
    free(t->cos_t);
    free(t->sin_t);
    free(t);
}

int64_t s3tok_chunk_end(int64_t n, int64_t start) {
    if (n <= S3_CHUNK_SAMPLES) return n;
    int64_t end = start + S3_CHUNK_SAMPLES;
    if (end >= n || n - end < S3_MIN_TAIL_SAMPLES) return n;
    return end;
}

int s3tok_codes_for_frames(int T) {
    if (T < 1) return 0;
    int64_t t1 = an_floordiv(T - 1, 2) + 1;
    return (int)(an_floordiv(t1 - 1, 2) + 1);
}

int64_t s3tok_codes(int64_t n) {
    int64_t r = 0;
    for (int64_t s = 0; s < n;) {
        int64_t e = s3tok_chunk_end(n, s), c = e - s;
        if (c < S3_MIN_CHUNK_SAMPLES) c = S3_MIN_CHUNK_SAMPLES;
        r += s3tok_codes_for_frames((int)(c / 160));
        s = e;
    }
    return r;
}

typedef struct rope_job {
    float *q, *k;
    const s3tok *t;
    int L;
} rope_job;

static void rope_run(void *arg, int ith, int nth) {
    rope_job *j = arg;
    int lo, hi, D = j->t->D;
    omnic_split(j->L, 1, ith, nth, &lo, &hi);
    for (int p = lo; p < hi; p++) {
        const float *c = j->t->cos_t + (size_t)p * (HEAD_DIM / 2), *s = j->t->sin_t + (size_t)p * (HEAD_DIM / 2);
        for (int h = 0; h < j->t->H; h++) {
            k_rope_half(j->q + (size_t)p * D + (size_t)h * HEAD_DIM, c, s, HEAD_DIM);
            k_rope_half(j->k + (size_t)p * D + (size_t)h * HEAD_DIM, c, s, HEAD_DIM);
        }
    }
}

/* x += o + FSMN(v): m[t][c] = v[t][c] + sum_j K[c][j] v[t - 15 + j][c] (rows split
 * across the pool). */
typedef struct fsmn_job {
    float *x;
    const float *o, *v, *kt;
    int L, D;
} fsmn_job;

static void fsmn_run(void *arg, int ith, int nth) {
    fsmn_job *J = arg;
    const int pad = FSMN_K / 2, D = J->D;
    int lo, hi;
    omnic_split(J->L, 1, ith, nth, &lo, &hi);
    for (int t = lo; t < hi; t++) {
        float *xr = J->x + (size_t)t * D;
        const float *orow = J->o + (size_t)t * D, *vr = J->v + (size_t)t * D;
        for (int c = 0; c < D; c++) xr[c] += orow[c] + vr[c];
        for (int j = 0; j < FSMN_K; j++) {
            int s = t - pad + j;
            if (s < 0 || s >= J->L) continue;
            const float *vs = J->v + (size_t)s * D, *kr = J->kt + (size_t)j * D;
            for (int c = 0; c < D; c++) xr[c] += kr[c] * vs[c];
        }
    }
}

static void fsmn_add(omnic_pool *pool, float *x, const float *o, const float *v, const float *kt, int L, int D) {
    fsmn_job J = {x, o, v, kt, L, D};
    omnic_pool_run(pool, fsmn_run, &J);
}

int s3tok_chunk(s3tok *t, omnic_pool *pool, const float *feat, int T, int32_t *codes) {
    if (T < 1) return omnic_err(OMNIC_EINVAL, "discrete audio chunk with no mel frames");
    const int D = t->D, T1 = (int)(an_floordiv(T - 1, 2) + 1);
    const int L = s3tok_codes_for_frames(T);
    if (L > S3_MAX_POS)
        return omnic_err(OMNIC_EINVAL, "discrete audio chunk of %d frames gives %d positions (rotary table %d)", T, L, S3_MAX_POS);
    size_t LD = (size_t)L * D, c1n = (size_t)T1 * D;
    size_t col_n = (size_t)T1 * N_MELS * 3 > LD * 3 ? (size_t)T1 * N_MELS * 3 : LD * 3;
    size_t big = (size_t)L * t->F > c1n ? (size_t)L * t->F : c1n;
    float *x = malloc(LD * sizeof *x), *a = malloc(LD * sizeof *a), *q = malloc(LD * sizeof *q),
          *k = malloc(LD * sizeof *k), *v = malloc(LD * sizeof *v), *ctx = malloc(LD * sizeof *ctx),
          *f = malloc(big * sizeof *f), *col = malloc(col_n * sizeof *col), *hq = malloc((size_t)L * FSQ_DIGITS * sizeof *hq);
    an_attn_scratch as = {0};
    int rc = OMNIC_OK;
    if (!x || !a || !q || !k || !v || !ctx || !f || !col || !hq) {
        rc = omnic_err(OMNIC_ENOMEM, "out of memory for the discrete audio tokenizer (%d positions)", L);
        goto done;
    }
    if ((rc = an_attn_scratch_new(&as, L, HEAD_DIM))) goto done;
    an_conv1d(pool, &t->conv1, t->conv1_b, feat, N_MELS, T, T, 1, 3, 2, 1, T1, col, f);
    an_bias_gelu(pool, f, NULL, T1, D, 1);
    an_conv1d(pool, &t->conv2, t->conv2_b, f, D, T1, 1, D, 3, 2, 1, L, col, x);
    an_bias_gelu(pool, x, NULL, L, D, 1);
    const float scale = 1.0f / sqrtf((float)HEAD_DIM);
    for (int b = 0; b < t->n_blocks; b++) {
        s3_block *B = &t->blocks[b];
        an_layernorm(pool, x, a, B->ln1_w, B->ln1_b, L, D, 1e-6f);
        k_matmul(pool, &B->q, a, L, q);
        k_matmul(pool, &B->k, a, L, k);
        k_matmul(pool, &B->v, a, L, v);
        an_bias_gelu(pool, q, B->bq, L, D, 0);
        an_bias_gelu(pool, v, B->bv, L, D, 0);
        rope_job rj = {q, k, t, L};
        omnic_pool_run(pool, rope_run, &rj);
        for (size_t i = 0; i < LD; i++) q[i] *= scale;
        an_attention(pool, q, k, v, ctx, L, t->H, HEAD_DIM, &as);
        k_matmul(pool, &B->o, ctx, L, a);
        an_bias_gelu(pool, a, B->bo, L, D, 0);
        fsmn_add(pool, x, a, v, B->fsmn_t, L, D);
        an_layernorm(pool, x, a, B->ln2_w, B->ln2_b, L, D, 1e-5f);
        k_matmul(pool, &B->w1, a, L, f);
        an_bias_gelu(pool, f, B->b1, L, t->F, 1);
        k_matmul(pool, &B->w2, f, L, a);
        an_bias_gelu(pool, a, B->b2, L, D, 0);
        for (size_t i = 0; i < LD; i++) x[i] += a[i];
    }
    /* FSQ (§5.4): round half to even, digit i has weight 3^i */
    k_matmul(pool, &t->proj, x, L, hq);
    for (int p = 0; p < L; p++) {
        int32_t code = 0, w = 1;
        for (int i = 0; i < FSQ_DIGITS; i++, w *= 3) {
            float h = tanhf(hq[(size_t)p * FSQ_DIGITS + i] + t->proj_b[i]) * FSQ_SCALE;
            code += ((int32_t)rintf(h) + 1) * w;
        }
        codes[p] = code;
    }
done:
    an_attn_scratch_free(&as);
    free(x); free(a); free(q); free(k); free(v); free(ctx); free(f); free(col); free(hq);
    return rc;
}

int s3tok_encode(s3tok *t, omnic_pool *pool, const float *pcm, int64_t n, int32_t **codes, int *n_codes) {
    *codes = NULL;
    *n_codes = 0;
    int64_t total = s3tok_codes(n);
    if (n < 1 || total < 1 || total > (1 << 24))
        return omnic_err(OMNIC_EINVAL, "audio of %lld samples gives %lld discrete codes", (long long)n, (long long)total);
    int32_t *out = malloc((size_t)total * sizeof *out);
    float pad[S3_MIN_CHUNK_SAMPLES];
    int rc = OMNIC_OK;
    int64_t r = 0;
    if (!out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    for (int64_t s = 0; s < n;) {
        int64_t e = s3tok_chunk_end(n, s);
        const float *x = pcm + s;
        int c = (int)(e - s);
        if (c < S3_MIN_CHUNK_SAMPLES) {
            memset(pad, 0, sizeof pad);
            memcpy(pad, x, (size_t)c * sizeof *pad);
            x = pad;
            c = S3_MIN_CHUNK_SAMPLES;
        }
        float *feat = NULL;
        int T = 0;
        if ((rc = mel_s3(x, c, &feat, &T))) goto fail;
        rc = s3tok_chunk(t, pool, feat, T, out + r);
        free(feat);
        if (rc) goto fail;
        r += s3tok_codes_for_frames(T);
        s = e;
    }
    *codes = out;
    *n_codes = (int)total;
    return OMNIC_OK;
fail:
    free(out);
    return rc;
}
