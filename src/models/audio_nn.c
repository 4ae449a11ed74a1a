/* audio_nn.c - shared pieces of the audio encoders: prefixed tensor getters with
 * shape/dtype checks, LayerNorm, GELU, im2col convolution and attention built on
 * k_matmul, all threaded over the model's pool (no allocation per row). */
#include "models/audio_nn.h"
#include "models/vit_internal.h" /* vit_attn_amx: the bf16 tile attention, shared */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/hcx.h"

const st_tensor *an_find(omnic_model *m, const char *prefix, const char *name) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", prefix, name);
    return st_find(m->st, buf);
}

static int shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t l = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && l + 24 < n; i++)
        l += (size_t)snprintf(buf + l, n - l, "%s%lld", i ? ", " : "", (long long)shape[i]);
    return 0;
}

static int get_tensor(omnic_model *m, const char *prefix, const char *name, int ndim, const int64_t *shape,
                      const st_tensor **out) {
    const st_tensor *t = an_find(m, prefix, name);
    if (!t) return omnic_err(OMNIC_ETENSOR, "%s: missing tensor '%s%s'", m->dir, prefix, name);
    if (t->dt != DT_F32 && t->dt != DT_BF16 && t->dt != DT_F16)
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has dtype %s; the audio encoders read F32, BF16 and F16", t->name,
                         dtype_name(t->dt));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char got[128], want[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return omnic_err(OMNIC_ETENSOR, "tensor '%s' has shape [%s], expected [%s]", t->name, got, want);
    }
    ((st_tensor *)t)->used = 1;
    *out = t;
    return OMNIC_OK;
}

int an_mat(omnic_model *m, const char *prefix, const char *name, int ndim, const int64_t *shape, kweight *out) {
    const st_tensor *t;
    int rc = get_tensor(m, prefix, name, ndim, shape, &t);
    if (rc) return rc;
    int64_t cols = 1;
    for (int i = 1; i < ndim; i++) cols *= shape[i];
    if (shape[0] > INT32_MAX || cols > INT32_MAX) return omnic_err(OMNIC_ETENSOR, "tensor '%s' is too large", t->name);
    /* the continuous encoder may round activations to bf16 (kernels.h; the reference
     * runs it under bf16 autocast); the S3 tokenizer stays fp32: its FSQ codes are
     * decided by rounding, and the HF reference computes it in float32 (audio.md 6.4) */
    int act_bf16 = strncmp(prefix, "model.discrete_audio_model.", 27) != 0;
    *out = (kweight){t->data, t->dt, (int)shape[0], (int)cols, act_bf16, 0};
    return OMNIC_OK;
}

int an_f32(omnic_model *m, const char *prefix, const char *name, int ndim, const int64_t *shape, float **out) {
    kweight w;
    int rc = an_mat(m, prefix, name, ndim, shape, &w);
    if (rc) return rc;
    *out = malloc((size_t)w.rows * (size_t)w.cols * sizeof(float));
    if (!*out) return omnic_err(OMNIC_ENOMEM, "out of memory for tensor '%s%s'", prefix, name);
    for (int r = 0; r < w.rows; r++) k_row_to_f32(&w, r, *out + (size_t)r * (size_t)w.cols);
    return OMNIC_OK;
}

int an_vec(omnic_model *m, const char *prefix, const char *name, int n, float **out) {
    int64_t s[1] = {n};
    const st_tensor *t;
    int rc = get_tensor(m, prefix, name, 1, s, &t);
    if (rc) return rc;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    kweight w = {t->data, t->dt, 1, n, 0, 0};
    k_row_to_f32(&w, 0, *out);
    return OMNIC_OK;
}

int an_check_unused(omnic_model *m, const char *prefix) {
    size_t pl = strlen(prefix);
    for (int i = 0; i < m->st->n_tensors; i++) {
        const st_tensor *t = &m->st->tensors[i];
        if (!t->used && !strncmp(t->name, prefix, pl))
            return omnic_err(OMNIC_ETENSOR, "unexpected tensor '%s' in %s (not part of this audio encoder)", t->name,
                             m->st->files[t->file].path);
    }
    return OMNIC_OK;
}

/* ---- row-parallel elementwise ops ---------------------------------------------- */

typedef struct ln_job {
    const float *x;
    float *y;
    const float *w, *b;
    int rows, dim, gelu;
    float eps;
} ln_job;

static void ln_run(void *arg, int ith, int nth) {
    ln_job *j = arg;
    int lo, hi;
    omnic_split(j->rows, 1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *x = j->x + (size_t)r * j->dim;
        float *y = j->y + (size_t)r * j->dim;
        double s = 0, s2 = 0;
        for (int i = 0; i < j->dim; i++) s += x[i];
        double mean = s / j->dim;
        for (int i = 0; i < j->dim; i++) s2 += (x[i] - mean) * (x[i] - mean);
        float inv = (float)(1.0 / sqrt(s2 / j->dim + j->eps)), mu = (float)mean;
        for (int i = 0; i < j->dim; i++) y[i] = (x[i] - mu) * inv * j->w[i] + j->b[i];
    }
}

void an_layernorm(omnic_pool *pool, const float *x, float *y, const float *w, const float *b, int rows, int dim,
                  float eps) {
    ln_job j = {x, y, w, b, rows, dim, 0, eps};
    omnic_pool_run(pool, ln_run, &j);
}

static void gelu_run(void *arg, int ith, int nth) {
    ln_job *j = arg;
    int lo, hi;
    omnic_split(j->rows, 1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        float *y = j->y + (size_t)r * j->dim;
        if (j->b)
            for (int i = 0; i < j->dim; i++) y[i] += j->b[i];
        if (j->gelu)
            for (int i = 0; i < j->dim; i++) y[i] = 0.5f * y[i] * (1.f + erff(y[i] * 0.70710678118654752f));
    }
}

void an_bias_gelu(omnic_pool *pool, float *x, const float *bias, int rows, int dim, int gelu) {
    ln_job j = {x, x, NULL, bias, rows, dim, gelu, 0};
    omnic_pool_run(pool, gelu_run, &j);
}

/* ---- convolution ------------------------------------------------------------------ */

typedef struct col_job {
    const float *in;
    float *col;
    int C, t_in, k, stride, pad, t_out;
    long sc, ss;
} col_job;

static void col_run(void *arg, int ith, int nth) {
    col_job *j = arg;
    int lo, hi;
    omnic_split(j->t_out, 1, ith, nth, &lo, &hi);
    size_t w = (size_t)j->C * (size_t)j->k;
    for (int t = lo; t < hi; t++) {
        float *row = j->col + (size_t)t * w;
        for (int q = 0; q < j->k; q++) {
            long s = (long)j->stride * t - j->pad + q;
            if (s < 0 || s >= j->t_in) {
                for (int c = 0; c < j->C; c++) row[(size_t)c * j->k + q] = 0.f;
            } else {
                const float *src = j->in + s * j->ss;
                for (int c = 0; c < j->C; c++) row[(size_t)c * j->k + q] = src[c * j->sc];
            }
        }
    }
}

void an_conv1d(omnic_pool *pool, const kweight *w, const float *bias, const float *in, int C, int t_in, long sc,
               long ss, int k, int stride, int pad, int t_out, float *col, float *y) {
    col_job j = {in, col, C, t_in, k, stride, pad, t_out, sc, ss};
    omnic_pool_run(pool, col_run, &j);
    k_matmul(pool, w, col, t_out, y);
    if (bias) an_bias_gelu(pool, y, bias, t_out, w->rows, 0);
}

/* ---- attention ---------------------------------------------------------------------- */

int an_attn_scratch_new(an_attn_scratch *s, int L, int dh) {
    size_t a = (size_t)(L > 0 ? L : 1) * (size_t)dh;
    s->qh = malloc(a * sizeof(float));
    s->kh = malloc(a * sizeof(float));
    s->vt = malloc(a * sizeof(float));
    s->oh = malloc(a * sizeof(float));
    s->s = malloc((size_t)(L > 0 ? L : 1) * (size_t)(L > 0 ? L : 1) * sizeof(float));
    if (!s->qh || !s->kh || !s->vt || !s->oh || !s->s) {
        an_attn_scratch_free(s);
        return omnic_err(OMNIC_ENOMEM, "out of memory for audio attention (%d positions)", L);
    }
    return OMNIC_OK;
}

int an_attn_scratch_amx(an_attn_scratch *s, const kweight *w, omnic_pool *pool, int L, int dh) {
    if (!vit_attn_amx_ok(w) || L < VIT_AMX_MIN_N || dh > 96) return OMNIC_OK;
    s->amx_threads = omnic_pool_size(pool);
    s->amx_stride = vit_attn_amx_scratch_floats(dh, L);
    s->amx = aligned_alloc(64, ((s->amx_stride * (size_t)s->amx_threads * sizeof(float)) + 63) / 64 * 64);
    if (!s->amx) s->amx_threads = 0; /* fall back to the fp32 products */
    return OMNIC_OK;
}

typedef struct {
    const float *q, *k, *v;
    float *o;
    int L, H, dh;
    an_attn_scratch *s;
} amx_job;

static void amx_run(void *arg, int ith, int nth) {
    amx_job *j = arg;
    size_t st = (size_t)j->H * j->dh;
    float *scr = j->s->amx + (size_t)ith * j->s->amx_stride;
    for (int h = ith; h < j->H; h += nth)
        vit_attn_amx(j->q + (size_t)h * j->dh, j->k + (size_t)h * j->dh, j->v + (size_t)h * j->dh, st, j->L, j->dh,
                     j->o + (size_t)h * j->dh, st, 1.f, scr);
}

void an_attn_scratch_free(an_attn_scratch *s) {
    free(s->amx);
    free(s->qh);
    free(s->kh);
    free(s->vt);
    free(s->oh);
    free(s->s);
    memset(s, 0, sizeof *s);
}

typedef struct attn_job {
    const float *q, *k, *v;
    float *o;
    int L, D, dh, h, phase;
    an_attn_scratch *s;
} attn_job;

static void attn_run(void *arg, int ith, int nth) {
    attn_job *j = arg;
    int lo, hi, L = j->L, dh = j->dh;
    omnic_split(L, 1, ith, nth, &lo, &hi);
    size_t off = (size_t)j->h * dh;
    if (j->phase == 0) { /* gather head h: q, k rows; v transposed */
        for (int i = lo; i < hi; i++) {
            memcpy(j->s->qh + (size_t)i * dh, j->q + (size_t)i * j->D + off, (size_t)dh * sizeof(float));
            memcpy(j->s->kh + (size_t)i * dh, j->k + (size_t)i * j->D + off, (size_t)dh * sizeof(float));
            const float *vr = j->v + (size_t)i * j->D + off;
            for (int d = 0; d < dh; d++) j->s->vt[(size_t)d * L + i] = vr[d];
        }
    } else if (j->phase == 1) { /* softmax rows of s */
        for (int i = lo; i < hi; i++) {
            float *r = j->s->s + (size_t)i * L, mx = r[0];
            for (int c = 1; c < L; c++) mx = r[c] > mx ? r[c] : mx;
            double sum = 0;
            for (int c = 0; c < L; c++) { r[c] = expf(r[c] - mx); sum += r[c]; }
            float inv = (float)(1.0 / sum);
            for (int c = 0; c < L; c++) r[c] *= inv;
        }
    } else { /* scatter the head output */
        for (int i = lo; i < hi; i++)
            memcpy(j->o + (size_t)i * j->D + off, j->s->oh + (size_t)i * dh, (size_t)dh * sizeof(float));
    }
}

void an_attention(omnic_pool *pool, const float *q, const float *k, const float *v, float *o, int L, int H, int dh,
                  an_attn_scratch *s) {
    if (s->amx && s->amx_threads == omnic_pool_size(pool)) { /* q pre-scaled: scale 1 */
        amx_job aj = {q, k, v, o, L, H, dh, s};
        omnic_pool_run(pool, amx_run, &aj);
        return;
    }
    attn_job j = {q, k, v, o, L, H * dh, dh, 0, 0, s};
    kweight kw = {s->kh, DT_F32, L, dh, 0, 0}, vw = {s->vt, DT_F32, dh, L, 0, 0};
    for (int h = 0; h < H; h++) {
        j.h = h;
        j.phase = 0;
        omnic_pool_run(pool, attn_run, &j);
        k_matmul(pool, &kw, s->qh, L, s->s);  /* s[i][j] = q_i . k_j */
        j.phase = 1;
        omnic_pool_run(pool, attn_run, &j);
        k_matmul(pool, &vw, s->s, L, s->oh);  /* oh[i][d] = sum_j p_ij v_j[d] */
        j.phase = 2;
        omnic_pool_run(pool, attn_run, &j);
    }
}
