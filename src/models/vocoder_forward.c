/* vocoder_forward.c - the generator forward pass (audio.md §9.3-9.7) on
 * time-major activations [L][C]: convolutions as im2col + k_matmul (threaded),
 * transposed convolutions as one GEMM per input tile + overlap-add. All
 * buffers are allocated once per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vocoder_impl.h"

#define COL_CAP ((size_t)8 << 20) /* im2col scratch, floats */

typedef struct {
    const vc_conv *cv;
    const float *x;
    int L, t0, n;
    float *col;
} col_job;

static void col_worker(void *arg, int ith, int nth) {
    col_job *j = arg;
    const vc_conv *cv = j->cv;
    int lo, hi, K = cv->k * cv->cin;
    omnic_split(j->n, 1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int t = j->t0 + r;
        float *row = j->col + (size_t)r * K;
        for (int q = 0; q < cv->k; q++) {
            int s = t + q * cv->dil - cv->padl;
            if (s >= 0 && s < j->L) memcpy(row + (size_t)q * cv->cin, j->x + (size_t)s * cv->cin, (size_t)cv->cin * sizeof(float));
            else memset(row + (size_t)q * cv->cin, 0, (size_t)cv->cin * sizeof(float));
        }
    }
}

void vc_conv_run(omnic_pool *pool, const vc_conv *cv, const float *x, int L, float *y, float *col, size_t colcap) {
    size_t K = (size_t)cv->k * cv->cin;
    if (cv->k == 1) k_matmul(pool, &cv->kw, x, L, y);
    else {
        int nt = (int)(colcap / K);
        if (nt < 1) nt = 1;
        for (int t0 = 0; t0 < L; t0 += nt) {
            int n = L - t0 < nt ? L - t0 : nt;
            col_job j = {cv, x, L, t0, n, col};
            omnic_pool_run(pool, col_worker, &j);
            k_matmul(pool, &cv->kw, col, n, y + (size_t)t0 * cv->cout);
        }
    }
    if (cv->b)
        for (int t = 0; t < L; t++) {
            float *yr = y + (size_t)t * cv->cout;
            for (int o = 0; o < cv->cout; o++) yr[o] += cv->b[o];
        }
}

/* y[r*L][cout] = ConvTranspose1d(x[L][cin]) per §9.5 / §9.7. z: scratch. */
static void tconv_run(omnic_pool *pool, const vc_tconv *tc, const float *x, int L, float *y, float *z, size_t zcap) {
    int Lo = tc->r * L, R = tc->k * tc->cout;
    for (int t = 0; t < Lo; t++) memcpy(y + (size_t)t * tc->cout, tc->b, (size_t)tc->cout * sizeof(float));
    /* input frames i = -pre .. L-1 (replicate-padded on the left when causal) */
    int nt = (int)(zcap / (size_t)R);
    if (nt < 1) nt = 1;
    for (int i0 = 0; i0 < L; i0 += nt) {
        int n = L - i0 < nt ? L - i0 : nt;
        k_matmul(pool, &tc->kw, x + (size_t)i0 * tc->cin, n, z);
        for (int ii = 0; ii < n; ii++) {
            int i = i0 + ii;
            for (int rep = 0; rep <= (i == 0 ? tc->pre : 0); rep++) {
                int ie = i - rep; /* frame i (and its left replicas when i == 0) */
                const float *zr = z + (size_t)ii * R;
                for (int q = 0; q < tc->k; q++) {
                    int t = ie * tc->r + q - tc->shift;
                    if (t < 0 || t >= Lo) continue;
                    float *yr = y + (size_t)t * tc->cout;
                    const float *zq = zr + (size_t)q * tc->cout;
                    for (int o = 0; o < tc->cout; o++) yr[o] += zq[o];
                }
            }
        }
    }
}

int vocoder_synth(omnic_vocoder *v, const int32_t *units, int T, const float *spk, float *out) {
    if (T < 1) return omnic_err(OMNIC_EINVAL, "no units to vocode");
    if (T > (1 << 20) / 4) return omnic_err(OMNIC_EINVAL, "%d units is too many", T);
    for (int t = 0; t < T; t++)
        if (units[t] < 0 || units[t] >= v->num_units)
            return omnic_err(OMNIC_EINVAL, "unit %d at index %d is out of range 0..%d", units[t], t, v->num_units - 1);
    /* Largest L*C over the stages (and the input). */
    size_t big = (size_t)T * (v->unit_dim + v->spk_dim), L = (size_t)T;
    if ((size_t)T * v->c0 > big) big = (size_t)T * v->c0;
    for (int i = 0; i < v->nstages; i++) {
        L *= (size_t)v->st[i].r;
        if (L * v->st[i].cout > big) big = L * v->st[i].cout;
    }
    size_t colcap = COL_CAP;
    float *b0 = malloc(big * sizeof(float)), *b1 = malloc(big * sizeof(float)), *b2 = malloc(big * sizeof(float)),
          *b3 = malloc(big * sizeof(float)), *b4 = malloc(big * sizeof(float)), *col = malloc(colcap * sizeof(float));
    if (!b0 || !b1 || !b2 || !b3 || !b4 || !col) {
        free(b0), free(b1), free(b2), free(b3), free(b4), free(col);
        return omnic_err(OMNIC_ENOMEM, "out of memory for %d units", T);
    }
    omnic_pool *P = v->pool;
    /* 1-2: unit embedding (scaled) + speaker, channels fastest. */
    int cin0 = v->unit_dim + v->spk_dim;
    float sc = 1.0f / sqrtf((float)v->unit_dim);
    for (int t = 0; t < T; t++) {
        float *r = b1 + (size_t)t * cin0;
        const float *e = v->unit_emb + (size_t)units[t] * v->unit_dim;
        for (int c = 0; c < v->unit_dim; c++) r[c] = e[c] * sc;
        memcpy(r + v->unit_dim, spk, (size_t)v->spk_dim * sizeof(float));
    }
    /* 3: conv_pre */
    vc_conv_run(P, &v->conv_pre, b1, T, b0, col, colcap);
    int Lc = T;
    float *x = b0;
    for (int i = 0; i < v->nstages; i++) {
        const vc_stage *s = &v->st[i];
        /* 4a: upsample x -> b1 */
        tconv_run(P, &s->up, x, Lc, b1, col, colcap);
        Lc *= s->r;
        size_t n = (size_t)Lc * s->cout;
        /* 4b: mean of the AMP blocks into b0: xb (b2) evolves per block. */
        for (int j = 0; j < s->nk; j++) {
            const vc_amp *a = &s->rb[j];
            memcpy(b2, b1, n * sizeof(float));
            for (int m = 0; m < a->nd; m++) {
                vc_act_run(P, &a->a[2 * m], b2, Lc, b3);
                vc_conv_run(P, &a->c1[m], b3, Lc, b4, col, colcap);
                vc_act_run(P, &a->a[2 * m + 1], b4, Lc, b3);
                vc_conv_run(P, &a->c2[m], b3, Lc, b4, col, colcap);
                for (size_t q = 0; q < n; q++) b2[q] += b4[q];
            }
            if (j == 0) memcpy(b0, b2, n * sizeof(float));
            else
                for (size_t q = 0; q < n; q++) b0[q] += b2[q];
        }
        for (size_t q = 0; q < n; q++) b0[q] /= (float)s->nk;
        x = b0;
    }
    /* 5-7: activation_post, conv_post, tanh/clamp */
    vc_act_run(P, &v->act_post, x, Lc, b3);
    vc_conv_run(P, &v->conv_post, b3, Lc, out, col, colcap);
    for (int t = 0; t < Lc; t++) {
        float y = out[t];
        out[t] = v->use_tanh ? tanhf(y) : (y > 1.f ? 1.f : y < -1.f ? -1.f : y);
    }
    free(b0), free(b1), free(b2), free(b3), free(b4), free(col);
    return 0;
}
