/* test_attn.c - the decoder's causal attention kernels (k_attn_rows, and
 * k_attn_avx512's one-query-per-lane version) against a double-precision
 * softmax(q K^T s) V: tile sizes on both sides of the lane threshold and of one
 * vector, heads that are and are not multiples of 8 (and one past the lane
 * version's limit), positions in any order with repeats, key blocks cut at every
 * size from 1 row, cached rows with a stride wider than the head; the rows the
 * kernels ask for stay inside 0..max(pos) and within max_rows. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/kernels.h"

static unsigned rng_state = 7;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.f - 1.f;
}

/* A KV head held as F32 rows `stride` floats apart; every request is checked. */
typedef struct {
    const float *k, *v;
    size_t stride;
    int nrows, max_rows, calls;
} cache;

static const float *cache_rows(void *arg, int which, int u0, int n, size_t *stride) {
    cache *c = arg;
    c->calls++;
    assert_true(which == 0 || which == 1);
    assert_true(u0 >= 0 && n >= 1 && n <= c->max_rows && u0 + n <= c->nrows);
    *stride = c->stride;
    return (which ? c->v : c->k) + (size_t)u0 * c->stride;
}

/* Runs fn on a tile and compares with the double reference; returns the largest
 * error relative to the largest cached value (each output is a convex
 * combination of those). */
static double run_case(void (*fn)(const k_attn_tile *, const k_kv_src *), int nq, int d, int max_rows, int top,
                       int shuffled) {
    size_t stride = (size_t)d + 3;
    int nrows = top + 1;
    float *k = malloc((size_t)nrows * stride * sizeof(float)), *v = malloc((size_t)nrows * stride * sizeof(float));
    float *qs = malloc((size_t)nq * d * sizeof(float)), *os = malloc((size_t)nq * d * sizeof(float));
    assert_true(k && v && qs && os);
    for (size_t i = 0; i < (size_t)nrows * stride; i++) k[i] = 2.f * frand(), v[i] = frand();
    for (int i = 0; i < nq * d; i++) qs[i] = frand();
    const float *q[K_ATT_TILE];
    float *o[K_ATT_TILE];
    int pos[K_ATT_TILE];
    for (int i = 0; i < nq; i++) {
        q[i] = qs + (size_t)i * d, o[i] = os + (size_t)i * d;
        /* consecutive positions ending at top (a prompt chunk), or any order with
         * repeats (heads of one row share a position); one query always at top */
        pos[i] = shuffled ? (int)((frand() + 1.f) * 0.5f * (float)top) : top - (nq - 1 - i) * top / (nq > 1 ? nq - 1 : 1);
        if (pos[i] < 0) pos[i] = 0;
        if (pos[i] > top) pos[i] = top;
    }
    pos[shuffled ? nq / 2 : nq - 1] = top;
    float scale = 0.7f / sqrtf((float)d);
    cache c = {k, v, stride, nrows, max_rows, 0};
    k_attn_tile t = {q, o, pos, nq, d, scale};
    k_kv_src src = {cache_rows, &c, max_rows};
    fn(&t, &src);
    assert_true(c.calls > 0);
    double worst = 0, mag = 1e-30;
    for (size_t i = 0; i < (size_t)nrows * stride; i++)
        if (fabs(v[i]) > mag) mag = fabs(v[i]);
    double *sc = malloc((size_t)nrows * sizeof(double)), *want = malloc((size_t)d * sizeof(double));
    assert_true(sc && want);
    for (int i = 0; i < nq; i++) {
        double mx = -INFINITY, sum = 0;
        for (int u = 0; u <= pos[i]; u++) {
            double s = 0;
            for (int e = 0; e < d; e++) s += (double)q[i][e] * k[(size_t)u * stride + e];
            sc[u] = s * scale;
            if (sc[u] > mx) mx = sc[u];
        }
        for (int e = 0; e < d; e++) want[e] = 0;
        for (int u = 0; u <= pos[i]; u++) {
            double p = exp(sc[u] - mx);
            sum += p;
            for (int e = 0; e < d; e++) want[e] += p * v[(size_t)u * stride + e];
        }
        for (int e = 0; e < d; e++) {
            want[e] /= sum;
            double err = fabs(o[i][e] - want[e]);
            if (!(err <= worst)) worst = err; /* NaN propagates */
        }
    }
    free(sc);
    free(want);
    free(k);
    free(v);
    free(qs);
    free(os);
    return worst / mag;
}

static void sweep(void (*fn)(const k_attn_tile *, const k_kv_src *), const char *name) {
    static const int nqs[] = {1, 2, 7, 8, 9, 16, 17, 30, 32};
    static const int ds[] = {1, 20, 64, 100, 128, 256, 264};
    static const int rows[] = {1, 7, 64, 1000};
    static const int tops[] = {0, 5, 63, 64, 200};
    for (size_t a = 0; a < sizeof nqs / sizeof *nqs; a++)
        for (size_t b = 0; b < sizeof ds / sizeof *ds; b++)
            for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
                for (size_t p = 0; p < sizeof tops / sizeof *tops; p++)
                    for (int sh = 0; sh < 2; sh++) {
                        double e = run_case(fn, nqs[a], ds[b], rows[r], tops[p], sh);
                        if (!(e <= 2e-6)) {
                            print_error("%s nq=%d d=%d max_rows=%d top=%d shuffled=%d: error %.3g of the largest output\n",
                                        name, nqs[a], ds[b], rows[r], tops[p], sh, e);
                            fail();
                        }
                    }
}

static void test_attn_rows_scalar(void **st) {
    (void)st;
    assert_int_equal(kernels_force("scalar"), 0);
    sweep(k_attn_rows, "k_attn_rows (scalar)");
}

static void test_attn_avx512(void **st) {
    (void)st;
    if (kernels_force("avx512") != 0) skip();
    sweep(k_attn_rows, "k_attn_rows (avx512 ops)");
    sweep(k_attn_avx512, "k_attn_avx512");
    assert_int_equal(kernels_force("scalar"), 0);
}

/* Scores far apart (a new maximum block after block, and keys that underflow to
 * 0 beside the maximum) stay finite and match the reference, for the lane
 * kernel's tiles and decode's few queries. */
static void test_attn_extreme(void **st) {
    (void)st;
    for (int lc = 0; lc < 4; lc++) { /* levels x a tile of 16 queries (lanes) or 2 (decode) */
        int lvl = lc & 1;
        if (kernels_force(lvl ? "avx512" : "scalar") != 0) continue;
        int nq = lc < 2 ? 16 : 2, d = 32, top = 150;
        size_t stride = 32;
        float *k = malloc((size_t)(top + 1) * stride * 4), *v = malloc((size_t)(top + 1) * stride * 4);
        float qs[16 * 32], os[16 * 32];
        assert_true(k && v);
        for (int u = 0; u <= top; u++)
            for (int e = 0; e < d; e++) k[u * stride + e] = (float)u * 0.5f * (e == 0), v[u * stride + e] = (float)(u % 7) - 3.f;
        const float *q[16];
        float *o[16];
        int pos[16];
        for (int i = 0; i < nq; i++) {
            for (int e = 0; e < d; e++) qs[i * d + e] = e == 0 ? (float)(i + 1) : 0.f;
            q[i] = qs + i * d, o[i] = os + i * d, pos[i] = top - i;
        }
        cache c = {k, v, stride, top + 1, 64, 0};
        k_attn_tile t = {q, o, pos, nq, d, 1.f};
        k_kv_src src = {cache_rows, &c, 64};
        k_attn(&t, &src);
        for (int i = 0; i < nq; i++) { /* scores (i+1) u / 2: the last key dominates */
            double mx = (i + 1) * 0.5 * pos[i], sum = 0, want = 0;
            for (int u = 0; u <= pos[i]; u++) {
                double p = exp((i + 1) * 0.5 * u - mx);
                sum += p, want += p * ((u % 7) - 3.0);
            }
            want /= sum;
            for (int e = 0; e < d; e++) assert_true(fabs(o[i][e] - want) <= 1e-5);
        }
        free(k);
        free(v);
    }
    assert_int_equal(kernels_force("scalar"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attn_rows_scalar),
        cmocka_unit_test(test_attn_avx512),
        cmocka_unit_test(test_attn_extreme),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
