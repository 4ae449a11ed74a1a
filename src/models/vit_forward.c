/* vit_forward.c - the vision tower's forward pass (vision.md §2.3) in float32
 * activations: patch embedding, 2-D rotary, blocks with window / per-frame
 * attention, 2x2 merger, un-permute, mm_projector. Every Linear runs once over
 * the rows of all media (k_matmul); attention runs per (segment, head) task on
 * the pool (BF16 towers: on AMX, vit_attn_amx.c); row-wise
 * element operations are split over the pool too. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vit_internal.h"

#define VIT_EPS 1e-6f

/* ---- row-wise element operations over the pool ---- */

enum { OP_RMSNORM, OP_BIAS, OP_RESID_BIAS, OP_SWIGLU_BIAS, OP_GELU_BIAS, OP_ROPE };

typedef struct {
    int op, n, w;             /* rows, row width */
    float *x;                 /* in/out [n][w] */
    const float *y;           /* second operand [n][w] */
    const float *b, *b2;      /* bias / gain vectors [w] */
    float *out;               /* RMSNorm output */
    const float *cs, *sn;     /* rotary tables [n][hd/2] */
    int H, hd, E;             /* rotary: heads, head width, offset of K in a qkv row */
} rows_job;

static void rows_worker(void *arg, int ith, int nth) {
    const rows_job *j = arg;
    int lo, hi, w = j->w;
    omnic_split(j->n, 1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        float *x = j->x + (size_t)r * w;
        const float *y = j->y ? j->y + (size_t)r * w : NULL;
        switch (j->op) {
        case OP_RMSNORM: k_rmsnorm(j->out + (size_t)r * w, x, j->b, w, VIT_EPS); break;
        case OP_BIAS: k_axpy(x, j->b, 1.f, w); break;
        case OP_RESID_BIAS:
            k_axpy(x, y, 1.f, w);
            k_axpy(x, j->b, 1.f, w);
            break;
        case OP_SWIGLU_BIAS: { /* x = silu(x + b) * (y + b2); y is scratch-free (read only) */
            for (int i = 0; i < w; i++) {
                float g = x[i] + j->b[i], u = y[i] + j->b2[i];
                x[i] = g / (1.f + expf(-g)) * u;
            }
            break;
        }
        case OP_GELU_BIAS:
            for (int i = 0; i < w; i++) {
                float v = x[i] + j->b[i];
                x[i] = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
            }
            break;
        case OP_ROPE: {
            const float *cs = j->cs + (size_t)r * (j->hd / 2), *sn = j->sn + (size_t)r * (j->hd / 2);
            for (int h = 0; h < j->H; h++) {
                k_rope_half(x + (size_t)h * j->hd, cs, sn, j->hd);
                k_rope_half(x + j->E + (size_t)h * j->hd, cs, sn, j->hd);
            }
            break;
        }
        }
    }
}

static void run_rows(omnic_pool *pool, rows_job j) { omnic_pool_run(pool, rows_worker, &j); }

/* ---- attention: one task per (segment, head), handed out dynamically ---- */

typedef struct {
    const float *qkv;         /* [L][3E] (q, k already rotated) */
    float *att;               /* [L][E] */
    const int *seg;           /* n_seg + 1 row starts */
    int n_seg, H, hd, E;
    float *scratch;           /* per thread: sstride floats */
    size_t sstride;
    int simd;                 /* use vit_attn_avx512 */
    int amx;                  /* BF16 tower: vit_attn_amx for segments of >= VIT_AMX_MIN_N rows */
    atomic_int next;
} att_job;

static void att_worker(void *arg, int ith, int nth) {
    att_job *j = arg;
    (void)nth;
    const int E3 = 3 * j->E, hd = j->hd;
    const float scale = 1.f / sqrtf((float)hd);
    float *s = j->scratch + (size_t)ith * j->sstride;
    for (;;) {
        int task = atomic_fetch_add(&j->next, 1);
        if (task >= j->n_seg * j->H) break;
        int sg = task / j->H, h = task % j->H;
        int r0 = j->seg[sg], n = j->seg[sg + 1] - r0;
        const float *K = j->qkv + (size_t)r0 * E3 + j->E + (size_t)h * hd;
        const float *V = K + j->E;
        if (j->amx && n >= VIT_AMX_MIN_N) {
            vit_attn_amx(j->qkv + (size_t)r0 * E3 + (size_t)h * hd, K, V, (size_t)E3, n, hd,
                         j->att + (size_t)r0 * j->E + (size_t)h * hd, (size_t)j->E, 1.f / sqrtf((float)hd), s);
            continue;
        }
        if (j->simd) {
            vit_attn_avx512(j->qkv + (size_t)r0 * E3 + (size_t)h * hd, K, V, (size_t)E3, n, hd,
                            j->att + (size_t)r0 * j->E + (size_t)h * hd, (size_t)j->E, s);
            continue;
        }
        for (int i = 0; i < n; i++) {
            const float *q = j->qkv + (size_t)(r0 + i) * E3 + (size_t)h * hd;
            float mx = -INFINITY, sum = 0.f;
            for (int u = 0; u < n; u++) {
                s[u] = scale * k_dot(q, K + (size_t)u * E3, hd);
                if (s[u] > mx) mx = s[u];
            }
            for (int u = 0; u < n; u++) {
                s[u] = expf(s[u] - mx);
                sum += s[u];
            }
            float inv = 1.f / sum;
            float *o = j->att + (size_t)(r0 + i) * j->E + (size_t)h * hd;
            memset(o, 0, (size_t)hd * sizeof(float));
            for (int u = 0; u < n; u++) k_axpy(o, V + (size_t)u * E3, s[u] * inv, hd);
        }
    }
}

/* ---- the pass ---- */

int vit_encode(vit_model *v, omnic_pool *pool, const float *pixels, const int (*grids)[3], int n_media, float **out,
               int *n_rows) {
    *out = NULL;
    *n_rows = 0;
    if (!v || !pixels || !grids || n_media < 1) return omnic_err(OMNIC_EINVAL, "vit_encode: no media");
    for (int i = 0; i < n_media; i++) {
        const int *g = grids[i];
        if (g[0] < 1 || g[1] < 2 || g[2] < 2 || g[1] % 2 || g[2] % 2 || g[0] > 65536 || g[1] > 65536 || g[2] > 65536)
            return omnic_err(OMNIC_EINVAL, "vit_encode: medium %d: grid (%d, %d, %d) is invalid (want t >= 1 and even gh, gw >= 2)",
                             i, g[0], g[1], g[2]);
        if ((long long)g[0] * g[1] * g[2] > (1 << 26))
            return omnic_err(OMNIC_EINVAL, "vit_encode: medium %d: grid (%d, %d, %d) has too many patches", i, g[0], g[1], g[2]);
    }
    vit_layout lay;
    int rc = vit_layout_build(grids, n_media, v->wm, &lay);
    if (rc) return rc;
    const int L = lay.L, M = lay.n_merged, E = v->E, F = v->F, hd = v->hd, D = v->D, O = v->out_hidden;
    const size_t sL = (size_t)L;
    int nth = omnic_pool_size(pool);
    if (nth < 1) nth = 1;
    float *h = malloc(sL * E * sizeof(float));
    float *a = malloc(sL * E * sizeof(float));
    float *qkv = malloc(sL * 3 * E * sizeof(float));
    float *g = malloc(sL * F * sizeof(float));
    float *u = malloc(sL * F * sizeof(float));
    float *cs = malloc(sL * (hd / 2) * sizeof(float));
    float *sn = malloc(sL * (hd / 2) * sizeof(float));
    float *xp = malloc(sL * VIT_COLS * sizeof(float));
    float *y2 = malloc((size_t)M * O * sizeof(float));
    float *yp = malloc((size_t)M * D * sizeof(float));
    float *res = malloc((size_t)M * D * sizeof(float));
    /* attention: the AVX-512 kernel when the kernels run at that level */
    const int simd = k_dot != k_dot_scalar && vit_attn_avx512_ok();
    /* and for a BF16 tower whose Linear layers run on AMX, segments >= VIT_AMX_MIN_N rows on AMX */
    const int amx = simd && v->depth > 0 && vit_attn_amx_ok(&v->blocks[0].qkv) && lay.max_seg >= VIT_AMX_MIN_N;
    size_t sstride = simd ? vit_attn_scratch_floats(hd, lay.max_seg) : (size_t)lay.max_seg;
    if (amx && vit_attn_amx_scratch_floats(hd, lay.max_seg) > sstride) sstride = vit_attn_amx_scratch_floats(hd, lay.max_seg);
    float *scr = malloc((size_t)nth * sstride * sizeof(float));
    if (!h || !a || !qkv || !g || !u || !cs || !sn || !xp || !y2 || !yp || !res || !scr) {
        rc = omnic_err(OMNIC_ENOMEM, "vision encoder: out of memory for %d patches", L);
        goto done;
    }
    /* 1+3. patch rows gathered into window order, then the patch embedding */
    for (int k = 0; k < M; k++)
        memcpy(xp + (size_t)4 * k * VIT_COLS, pixels + (size_t)4 * lay.win[k] * VIT_COLS, 4 * VIT_COLS * sizeof(float));
    k_matmul(pool, &v->pe, xp, L, h);
    free(xp);
    xp = NULL;
    /* 2. rotary tables in float32: theta = [ph * inv_freq, pw * inv_freq] */
    const int nf = hd / 4;
    for (int r = 0; r < L; r++)
        for (int i = 0; i < nf; i++) {
            float t0 = (float)lay.ph[r] * v->inv_freq[i], t1 = (float)lay.pw[r] * v->inv_freq[i];
            cs[(size_t)r * 2 * nf + i] = cosf(t0);
            sn[(size_t)r * 2 * nf + i] = sinf(t0);
            cs[(size_t)r * 2 * nf + nf + i] = cosf(t1);
            sn[(size_t)r * 2 * nf + nf + i] = sinf(t1);
        }
    /* 4. blocks */
    for (int b = 0; b < v->depth; b++) {
        const vit_block *B = &v->blocks[b];
        run_rows(pool, (rows_job){.op = OP_RMSNORM, .n = L, .w = E, .x = h, .b = B->norm1, .out = a});
        k_matmul(pool, &B->qkv, a, L, qkv);
        run_rows(pool, (rows_job){.op = OP_BIAS, .n = L, .w = 3 * E, .x = qkv, .b = B->b_qkv});
        run_rows(pool, (rows_job){.op = OP_ROPE, .n = L, .w = 3 * E, .x = qkv, .cs = cs, .sn = sn, .H = v->H, .hd = hd, .E = E});
        att_job aj = {qkv, a, B->full ? lay.fseg : lay.wseg, B->full ? lay.n_fseg : lay.n_wseg, v->H, hd, E,
                      scr, sstride, simd, amx, 0};
        omnic_pool_run(pool, att_worker, &aj);
        k_matmul(pool, &B->proj, a, L, qkv); /* qkv is free again: [L][E] of it */
        run_rows(pool, (rows_job){.op = OP_RESID_BIAS, .n = L, .w = E, .x = h, .y = qkv, .b = B->b_proj});
        run_rows(pool, (rows_job){.op = OP_RMSNORM, .n = L, .w = E, .x = h, .b = B->norm2, .out = a});
        k_matmul(pool, &B->gate, a, L, g);
        k_matmul(pool, &B->up, a, L, u);
        run_rows(pool, (rows_job){.op = OP_SWIGLU_BIAS, .n = L, .w = F, .x = g, .y = u, .b = B->b_gate, .b2 = B->b_up});
        k_matmul(pool, &B->down, g, L, a);
        run_rows(pool, (rows_job){.op = OP_RESID_BIAS, .n = L, .w = E, .x = h, .y = a, .b = B->b_down});
    }
    /* 5. merger: RMSNorm per patch row, 4 consecutive rows = one [4E] vector */
    run_rows(pool, (rows_job){.op = OP_RMSNORM, .n = L, .w = E, .x = h, .b = v->ln_q, .out = a});
    k_matmul(pool, &v->m0, a, M, qkv);
    run_rows(pool, (rows_job){.op = OP_GELU_BIAS, .n = M, .w = 4 * E, .x = qkv, .b = v->b0});
    k_matmul(pool, &v->m2, qkv, M, y2);
    run_rows(pool, (rows_job){.op = OP_BIAS, .n = M, .w = O, .x = y2, .b = v->b2});
    /* 7. projector (row-wise, so before 6.), then 6. un-permute into raster order */
    k_matmul(pool, &v->mm, y2, M, yp);
    run_rows(pool, (rows_job){.op = OP_BIAS, .n = M, .w = D, .x = yp, .b = v->bmm});
    for (int k = 0; k < M; k++) memcpy(res + (size_t)lay.win[k] * D, yp + (size_t)k * D, (size_t)D * sizeof(float));
    *out = res;
    *n_rows = M;
    res = NULL;
done:
    free(h);
    free(a);
    free(qkv);
    free(g);
    free(u);
    free(cs);
    free(sn);
    free(xp);
    free(y2);
    free(yp);
    free(res);
    free(scr);
    vit_layout_free(&lay);
    return rc;
}
