/* tatok_forward.c - TA-Tok's encoder side (vision.md §4.2-4.3): scaling layer,
 * SigLIP patch embedding (a matmul over flattened patches), position embedding,
 * pre-LN transformer layers 0..n_run-1 with full attention and gelu-tanh MLP,
 * encode_task_layer (tanh) and the bottleneck in_linear; and tatok_encode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/tatok_impl.h"
#include "models/vit_internal.h" /* vit_attn_amx: the bf16 tile attention, shared */

/* Work buffers of one encode (allocated once per image, never per row). */
typedef struct work {
    float *x, *h, *q, *k, *v, *a;   /* [n, D] */
    float *mlp;                     /* [n, F] */
    float *qh, *kh, *vt, *oh;       /* [n, hd] x2, [hd, n], [n, hd] */
    float *s;                       /* [n, n] attention scores of one head */
    float *patches;                 /* [n, 3 P P] */
    float *amx;                     /* per-thread scratch of the bf16 tile attention, or NULL */
    size_t amx_stride;
    int amx_threads;
} work;

/* --- row-parallel element-wise steps ---------------------------------------- */

enum { OP_LN, OP_GELU, OP_TANH, OP_SOFTMAX };

typedef struct rows_job {
    int op, n, cols;
    float *out;
    const float *in, *w, *b;
    float eps;
} rows_job;

static void layernorm_row(float *out, const float *x, const float *w, const float *b, int n, float eps) {
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        var += d * d;
    }
    float r = (float)(1.0 / sqrt(var / n + eps)), mu = (float)mean;
    for (int i = 0; i < n; i++) out[i] = (x[i] - mu) * r * w[i] + b[i];
}

static void rows_worker(void *arg, int ith, int nth) {
    rows_job *j = arg;
    int lo, hi;
    omnic_split(j->n, 1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        size_t o = (size_t)r * j->cols;
        float *y = j->out + o;
        if (j->op == OP_LN) {
            layernorm_row(y, j->in + o, j->w, j->b, j->cols, j->eps);
        } else if (j->op == OP_GELU) {
            /* 0.5 u (1 + tanh(a)) == u * sigmoid(2a), a = sqrt(2/pi) (u + 0.044715 u^3) */
            const float c2 = 2.0f * 0.7978845608028654f;
            for (int i = 0; i < j->cols; i++) {
                float u = y[i];
                y[i] = u / (1.0f + expf(-c2 * (u + 0.044715f * u * u * u)));
            }
        } else if (j->op == OP_TANH) {
            for (int i = 0; i < j->cols; i++) y[i] = tanhf(y[i]);
        } else { /* softmax */
            float mx = y[0];
            for (int i = 1; i < j->cols; i++) mx = y[i] > mx ? y[i] : mx;
            float sum = 0;
            for (int i = 0; i < j->cols; i++) {
                y[i] = expf(y[i] - mx);
                sum += y[i];
            }
            float inv = 1.0f / sum;
            for (int i = 0; i < j->cols; i++) y[i] *= inv;
        }
    }
}

static void rows_op(omnic_pool *pool, int op, float *out, const float *in, const float *w, const float *b, int n,
                    int cols, float eps) {
    rows_job j = {op, n, cols, out, in, w, b, eps};
    omnic_pool_run(pool, rows_worker, &j);
}

/* y[n][cols] += bias[cols] */
static void add_bias(float *y, const float *b, int n, int cols) {
    for (int r = 0; r < n; r++)
        for (int i = 0; i < cols; i++) y[(size_t)r * cols + i] += b[i];
}

/* y = x W^T + b */
static void linear(omnic_pool *pool, const kweight *w, const float *b, const float *x, int n, float *y) {
    k_matmul(pool, w, x, n, y);
    add_bias(y, b, n, w->rows);
}

/* --- attention ---------------------------------------------------------------- */

/* Full non-causal multi-head attention of q/k/v [n, D] into a [n, D]; each head
 * is two matmuls: S = (q_h / sqrt(hd)) k_h^T, then softmax(S) v_h. */
typedef struct {
    const tatok_model *t;
    work *w;
} amx_job;

static void amx_run(void *arg, int ith, int nth) {
    amx_job *j = arg;
    const int n = j->t->n_tok, D = j->t->D, hd = j->t->hd;
    float *scr = j->w->amx + (size_t)ith * j->w->amx_stride;
    for (int h = ith; h < j->t->H; h += nth)
        vit_attn_amx(j->w->q + (size_t)h * hd, j->w->k + (size_t)h * hd, j->w->v + (size_t)h * hd, (size_t)D, n, hd,
                     j->w->a + (size_t)h * hd, (size_t)D, 1.0f / sqrtf((float)hd), scr);
}

static void attention(tatok_model *t, omnic_pool *pool, work *w) {
    const int n = t->n_tok, D = t->D, hd = t->hd;
    const float sc = 1.0f / sqrtf((float)hd);
    if (w->amx && w->amx_threads == omnic_pool_size(pool)) { /* BF16 encoder on AMX (as its Linear layers) */
        amx_job j = {t, w};
        omnic_pool_run(pool, amx_run, &j);
        return;
    }
    for (int h = 0; h < t->H; h++) {
        for (int i = 0; i < n; i++) {
            const size_t o = (size_t)i * D + (size_t)h * hd;
            for (int c = 0; c < hd; c++) {
                w->qh[(size_t)i * hd + c] = w->q[o + c] * sc;
                w->kh[(size_t)i * hd + c] = w->k[o + c];
                w->vt[(size_t)c * n + i] = w->v[o + c];
            }
        }
        kweight K = {w->kh, DT_F32, n, hd, 0, 0}, VT = {w->vt, DT_F32, hd, n, 0, 0};
        k_matmul(pool, &K, w->qh, n, w->s);
        rows_op(pool, OP_SOFTMAX, w->s, NULL, NULL, NULL, n, n, 0);
        k_matmul(pool, &VT, w->s, n, w->oh);
        for (int i = 0; i < n; i++)
            memcpy(w->a + (size_t)i * D + (size_t)h * hd, w->oh + (size_t)i * hd, (size_t)hd * sizeof(float));
    }
}

static void layer(tatok_model *t, omnic_pool *pool, const tatok_layer *y, work *w) {
    const int n = t->n_tok, D = t->D;
    const size_t nd = (size_t)n * D;
    rows_op(pool, OP_LN, w->h, w->x, y->ln1_w, y->ln1_b, n, D, t->eps);
    linear(pool, &y->q, y->bq, w->h, n, w->q);
    linear(pool, &y->k, y->bk, w->h, n, w->k);
    linear(pool, &y->v, y->bv, w->h, n, w->v);
    attention(t, pool, w);
    linear(pool, &y->o, y->bo, w->a, n, w->h);
    for (size_t i = 0; i < nd; i++) w->x[i] += w->h[i];
    rows_op(pool, OP_LN, w->h, w->x, y->ln2_w, y->ln2_b, n, D, t->eps);
    linear(pool, &y->fc1, y->b1, w->h, n, w->mlp);
    rows_op(pool, OP_GELU, w->mlp, NULL, NULL, NULL, n, t->F, 0);
    linear(pool, &y->fc2, y->b2, w->mlp, n, w->h);
    for (size_t i = 0; i < nd; i++) w->x[i] += w->h[i];
}

/* Scaled pixels flattened per patch in the conv weight's [c, y, x] order. */
static void patchify(const tatok_model *t, const uint8_t *rgb, float *out) {
    const int P = t->patch, G = t->grid, S = t->input_size, cols = 3 * P * P;
    for (int py = 0; py < G; py++)
        for (int px = 0; px < G; px++) {
            float *o = out + (size_t)(py * G + px) * cols;
            for (int c = 0; c < 3; c++)
                for (int yy = 0; yy < P; yy++)
                    for (int xx = 0; xx < P; xx++) {
                        const uint8_t v = rgb[((size_t)(py * P + yy) * S + (size_t)(px * P + xx)) * 3 + c];
                        *o++ = ((float)v / 255.0f - t->shift[c]) / t->scale[c];
                    }
        }
}

static void work_free(work *w) {
    float *p[] = {w->x, w->h, w->q, w->k, w->v, w->a, w->mlp, w->qh, w->kh, w->vt, w->oh, w->s, w->patches, w->amx};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

static int work_alloc(const tatok_model *t, omnic_pool *pool, work *w) {
    const size_t n = (size_t)t->n_tok, D = (size_t)t->D;
    memset(w, 0, sizeof *w);
    float **nd[] = {&w->x, &w->h, &w->q, &w->k, &w->v, &w->a};
    int bad = 0;
    for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++) bad |= !(*nd[i] = malloc(n * D * sizeof(float)));
    bad |= !(w->mlp = malloc(n * (size_t)t->F * sizeof(float)));
    bad |= !(w->qh = malloc(n * (size_t)t->hd * sizeof(float)));
    bad |= !(w->kh = malloc(n * (size_t)t->hd * sizeof(float)));
    bad |= !(w->vt = malloc(n * (size_t)t->hd * sizeof(float)));
    bad |= !(w->oh = malloc(n * (size_t)t->hd * sizeof(float)));
    bad |= !(w->s = malloc(n * n * sizeof(float)));
    bad |= !(w->patches = malloc(n * 3 * (size_t)t->patch * t->patch * sizeof(float)));
    if (!bad && t->n_run > 0 && t->hd <= 96 && t->n_tok >= VIT_AMX_MIN_N && vit_attn_amx_ok(&t->layers[0].q)) {
        w->amx_threads = omnic_pool_size(pool);
        w->amx_stride = vit_attn_amx_scratch_floats(t->hd, t->n_tok);
        w->amx = aligned_alloc(64, (w->amx_stride * (size_t)w->amx_threads * sizeof(float) + 63) / 64 * 64);
        if (!w->amx) w->amx_threads = 0; /* the fp32 products then */
    }
    if (bad) {
        work_free(w);
        return omnic_err(OMNIC_ENOMEM, "out of memory for the TA-Tok encoder");
    }
    return OMNIC_OK;
}

int tatok_forward(tatok_model *t, omnic_pool *pool, const uint8_t *rgb, float *z) {
    work w;
    int rc = work_alloc(t, pool, &w);
    if (rc) return rc;
    const int n = t->n_tok, D = t->D;
    patchify(t, rgb, w.patches);
    linear(pool, &t->patch_w, t->patch_b, w.patches, n, w.x);
    for (size_t i = 0; i < (size_t)n * D; i++) w.x[i] += t->pos[i];
    for (int l = 0; l < t->n_run; l++) layer(t, pool, &t->layers[l], &w);
    linear(pool, &t->task_w, t->task_b, w.x, n, w.h);
    rows_op(pool, OP_TANH, w.h, NULL, NULL, NULL, n, D, 0);
    linear(pool, &t->in_w, t->in_b, w.h, n, z);
    work_free(&w);
    return OMNIC_OK;
}

int tatok_encode(tatok_model *t, omnic_pool *pool, const omnic_image *img, int32_t *codes) {
    if (!t || !img || !img->rgb || img->w < 1 || img->h < 1)
        return omnic_err(OMNIC_EINVAL, "TA-Tok: no image");
    omnic_image rs = {0};
    const uint8_t *rgb = img->rgb;
    const int S = t->input_size;
    if (img->w != S || img->h != S) { /* Pillow's same-size resize is the identity */
        int rc = omnic_image_resize_bicubic(img, S, S, &rs);
        if (rc) return rc;
        rgb = rs.rgb;
    }
    float *z = malloc((size_t)t->n_tok * t->Z * sizeof *z);
    int rc = z ? tatok_forward(t, pool, rgb, z) : omnic_err(OMNIC_ENOMEM, "out of memory for the TA-Tok bottleneck");
    if (!rc) rc = tatok_quantise(t, pool, z, codes);
    free(z);
    omnic_image_free(&rs);
    return rc;
}
