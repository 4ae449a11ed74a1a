/* test_sampler.c - unit tests of the token sampler (src/text/sampler.c): greedy,
 * NaN/inf handling, temperature, top-k / top-p / min-p against references computed
 * here in double precision, chi-square checks of the empirical distributions,
 * seeding, and the exact values of the repetition / presence / frequency
 * penalties with their window. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnic.h"

/* ---- helpers --------------------------------------------------------------- */

/* Test-input generator (independent of the sampler's PRNG): 64-bit LCG. */
static uint64_t lcg_state = 12345;
static double lcg_unif(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}
static double lcg_normal(void) {
    double u1 = lcg_unif(), u2 = lcg_unif();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static omnic_sampler *mk(const omnic_sampling *p, int V) {
    omnic_sampler *s = NULL;
    int rc = omnic_sampler_new(p, V, &s);
    if (rc != OMNIC_OK) fprintf(stderr, "omnic_sampler_new: %s\n", omnic_errmsg());
    assert_int_equal(rc, OMNIC_OK);
    assert_non_null(s);
    return s;
}

static omnic_sampling params(float temp) {
    omnic_sampling p;
    omnic_sampling_default(&p);
    p.temperature = temp;
    return p;
}

/* Reference argmax in the test: lowest id among the largest non-NaN values. */
static int ref_argmax(const float *l, int n) {
    int b = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(l[i]) && (b < 0 || l[i] > l[b])) b = i;
    return b;
}

/* Reference softmax of l / T in double. */
static void ref_softmax(const float *l, int n, double T, double *p) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = fmax(mx, (double)l[i] / T);
    for (int i = 0; i < n; i++) z += (p[i] = exp((double)l[i] / T - mx));
    for (int i = 0; i < n; i++) p[i] /= z;
}

/* Draw `draws` tokens (logits copied fresh each time) and histogram them. */
static void histogram(omnic_sampler *s, const float *l, int V, int draws, long *cnt) {
    float *buf = malloc(sizeof(float) * V);
    assert_non_null(buf);
    memset(cnt, 0, sizeof(long) * V);
    for (int d = 0; d < draws; d++) {
        memcpy(buf, l, sizeof(float) * V);
        int32_t t = omnic_sampler_sample(s, buf);
        assert_true(t >= 0 && t < V);
        cnt[t]++;
    }
    free(buf);
}

/* Pearson chi-square of counts vs expected probabilities (tokens with p = 0
 * must have count 0). Bins expected below 5 draws are pooled into one (merged
 * with the smallest regular bin if still below 5). Critical value at
 * significance 1e-6 (Wilson-Hilferty approximation). */
static void check_chi2(const long *cnt, const double *p, int V, int draws, const char *what) {
    double chi = 0, pool_e = 0, small_e = INFINITY;
    long pool_c = 0, small_c = 0;
    int df = -1;
    for (int i = 0; i < V; i++) {
        if (p[i] <= 0) {
            if (cnt[i] != 0) fail_msg("%s: token %d has probability 0 but was drawn %ld times", what, i, cnt[i]);
            continue;
        }
        double e = p[i] * draws;
        if (e < 5) { pool_e += e; pool_c += cnt[i]; continue; }
        chi += (cnt[i] - e) * (cnt[i] - e) / e;
        if (e < small_e) { small_e = e; small_c = cnt[i]; }
        df++;
    }
    if (pool_e > 0) {
        if (pool_e < 5 && df >= 0) {  /* merge into the smallest bin */
            chi -= (small_c - small_e) * (small_c - small_e) / small_e;
            pool_e += small_e;
            pool_c += small_c;
            df--;
        }
        chi += (pool_c - pool_e) * (pool_c - pool_e) / pool_e;
        df++;
    }
    if (df < 1) return;
    double a = 2.0 / (9.0 * df), z = 4.753;
    double crit = df * pow(1 - a + z * sqrt(a), 3);
    if (chi > crit) fail_msg("%s: chi-square %.2f > %.2f (df %d)", what, chi, crit, df);
}

/* Sort helpers for the references. */
static const double *sort_key;
static int cmp_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_key[i] != sort_key[j]) return sort_key[i] > sort_key[j] ? -1 : 1;
    return i - j;
}
static void order_desc(const double *p, int n, int *idx) {
    for (int i = 0; i < n; i++) idx[i] = i;
    sort_key = p;
    qsort(idx, n, sizeof(int), cmp_desc);
}

/* Reference filter in double: top-k, then nucleus over renormalised survivors,
 * then min-p; writes renormalised target probabilities into q. */
static void ref_filter(const double *p, int V, int k, double top_p, double min_p, double *q) {
    int *idx = malloc(sizeof(int) * V);
    order_desc(p, V, idx);
    int n = (k > 0 && k < V) ? k : V;
    double z = 0;
    for (int i = 0; i < n; i++) z += p[idx[i]];
    if (top_p < 1) {
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += p[idx[i]] / z;
            if (cum >= top_p) { keep = i + 1; break; }
        }
        n = keep;
    }
    if (min_p > 0) {
        double th = min_p * p[idx[0]];
        int m = 0;
        while (m < n && p[idx[m]] >= th) m++;
        n = m;
    }
    memset(q, 0, sizeof(double) * V);
    z = 0;
    for (int i = 0; i < n; i++) z += p[idx[i]];
    for (int i = 0; i < n; i++) q[idx[i]] = p[idx[i]] / z;
    free(idx);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_defaults(void **st) {
    (void)st;
    omnic_sampling p;
    memset(&p, 0xAB, sizeof p);
    omnic_sampling_default(&p);
    assert_true(p.temperature == 1.0f);
    assert_int_equal(p.top_k, 0);
    assert_true(p.top_p == 1.0f);
    assert_true(p.min_p == 0.0f);
    assert_true(p.repeat_penalty == 1.0f);
    assert_int_equal(p.repeat_last_n, 64);
    assert_true(p.presence_penalty == 0.0f);
    assert_true(p.frequency_penalty == 0.0f);
    omnic_sampling q;
    omnic_sampling_default(&q);
    assert_true(p.seed == q.seed);
}

static void expect_einval(const omnic_sampling *p, int V, const char *name) {
    omnic_sampler *s = (omnic_sampler *)(uintptr_t)1;
    int rc = omnic_sampler_new(p, V, &s);
    assert_int_equal(rc, OMNIC_EINVAL);
    assert_null(s);
    if (!strstr(omnic_errmsg(), name)) fail_msg("error message '%s' does not name '%s'", omnic_errmsg(), name);
}

static void test_invalid_args(void **st) {
    (void)st;
    omnic_sampling p = params(1.0f);
    expect_einval(&p, 0, "vocab_size");
    expect_einval(&p, -5, "vocab_size");
    p.temperature = NAN; expect_einval(&p, 10, "temperature");
    p.temperature = INFINITY; expect_einval(&p, 10, "temperature");
    p = params(1.0f); p.top_p = -0.1f; expect_einval(&p, 10, "top_p");
    p = params(1.0f); p.top_p = NAN; expect_einval(&p, 10, "top_p");
    p = params(1.0f); p.min_p = NAN; expect_einval(&p, 10, "min_p");
    p = params(1.0f); p.min_p = 1.5f; expect_einval(&p, 10, "min_p");
    p = params(1.0f); p.repeat_penalty = 0.0f; expect_einval(&p, 10, "repeat_penalty");
    p = params(1.0f); p.repeat_penalty = -1.0f; expect_einval(&p, 10, "repeat_penalty");
    p = params(1.0f); p.repeat_penalty = NAN; expect_einval(&p, 10, "repeat_penalty");
    p = params(1.0f); p.presence_penalty = NAN; expect_einval(&p, 10, "presence_penalty");
    p = params(1.0f); p.frequency_penalty = INFINITY; expect_einval(&p, 10, "frequency_penalty");
    omnic_sampler *s = NULL;
    assert_int_equal(omnic_sampler_new(NULL, 10, &s), OMNIC_EINVAL);
    assert_null(s);
    p = params(1.0f);
    assert_int_equal(omnic_sampler_new(&p, 10, NULL), OMNIC_EINVAL);
    /* Values that are "off" or legal are accepted. */
    p.top_k = -1; p.top_p = 5.0f; p.min_p = -1.0f; p.temperature = -3.0f;
    p.repeat_last_n = -1; p.presence_penalty = -2.0f; p.frequency_penalty = -2.0f;
    p.repeat_penalty = 0.5f;
    s = mk(&p, 10);
    omnic_sampler_free(s);
    omnic_sampler_free(NULL);
    /* NULL arguments to sample: negative status, no crash. */
    float l[3] = {0, 1, 2};
    assert_true(omnic_sampler_sample(NULL, l) < 0);
    s = mk(&p, 3);
    assert_true(omnic_sampler_sample(s, NULL) < 0);
    omnic_sampler_accept(NULL, 1);
    omnic_sampler_reset(NULL);
    omnic_sampler_free(s);
}

static void test_greedy(void **st) {
    (void)st;
    const float temps[] = {0.0f, -1.0f, -0.0f};
    for (int ti = 0; ti < 3; ti++) {
        omnic_sampling p = params(temps[ti]);
        omnic_sampler *s = mk(&p, 1000);
        float l[1000], c[1000];
        for (int trial = 0; trial < 50; trial++) {
            for (int i = 0; i < 1000; i++) l[i] = (float)(lcg_normal() * 5);
            memcpy(c, l, sizeof l);
            assert_int_equal(omnic_sampler_sample(s, c), ref_argmax(l, 1000));
            assert_memory_equal(c, l, sizeof l);  /* greedy does not touch logits */
        }
        /* ties: lowest id wins */
        for (int i = 0; i < 1000; i++) l[i] = 0.0f;
        l[700] = 3.0f; l[123] = 3.0f; l[999] = 3.0f;
        assert_int_equal(omnic_sampler_sample(s, l), 123);
        for (int i = 0; i < 1000; i++) l[i] = -1.0f;
        assert_int_equal(omnic_sampler_sample(s, l), 0);
        omnic_sampler_free(s);
    }
}

static void test_nan_inf(void **st) {
    (void)st;
    omnic_sampling p = params(0.0f);
    omnic_sampler *g = mk(&p, 5);
    float l[5] = {1.0f, NAN, 0.5f, NAN, 2.0f};
    assert_int_equal(omnic_sampler_sample(g, l), 4);
    float l2[5] = {NAN, NAN, -3.0f, NAN, -4.0f};
    assert_int_equal(omnic_sampler_sample(g, l2), 2);
    float l3[5] = {NAN, NAN, NAN, NAN, NAN};
    assert_true(omnic_sampler_sample(g, l3) < 0);
    float l4[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    assert_int_equal(omnic_sampler_sample(g, l4), 0);
    float l5[5] = {NAN, 1.0f, INFINITY, NAN, INFINITY};
    assert_int_equal(omnic_sampler_sample(g, l5), 2);
    omnic_sampler_free(g);

    p = params(1.0f);
    omnic_sampler *s = mk(&p, 6);
    const float base[6] = {NAN, 0.0f, -INFINITY, 0.0f, NAN, 0.0f};
    long cnt[6];
    histogram(s, base, 6, 3000, cnt);
    double q[6] = {0, 1.0 / 3, 0, 1.0 / 3, 0, 1.0 / 3};
    check_chi2(cnt, q, 6, 3000, "NaN/-inf excluded");
    float l6[6];
    memcpy(l6, base, sizeof l6);
    for (int i = 0; i < 6; i++) l6[i] = NAN;
    assert_true(omnic_sampler_sample(s, l6) < 0);
    /* +inf wins; two +inf share the mass */
    const float binf[6] = {5.0f, INFINITY, 100.0f, NAN, INFINITY, -INFINITY};
    histogram(s, binf, 6, 2000, cnt);
    double q2[6] = {0, 0.5, 0, 0, 0.5, 0};
    check_chi2(cnt, q2, 6, 2000, "+inf tokens");
    /* all -inf except NaN: falls back to the lowest masked id, never NaN */
    float l7[6] = {NAN, -INFINITY, -INFINITY, NAN, -INFINITY, NAN};
    assert_int_equal(omnic_sampler_sample(s, l7), 1);
    omnic_sampler_free(s);
}

/* top_k = 1, top_p ~ 0, min_p = 1 all reduce to greedy at any temperature. */
static void check_equals_greedy(omnic_sampling p, const char *what) {
    const float temps[] = {0.05f, 0.7f, 1.0f, 3.0f, 100.0f};
    enum { V = 500 };
    float l[V], c[V];
    for (int ti = 0; ti < 5; ti++) {
        p.temperature = temps[ti];
        p.seed = 1000 + ti;
        omnic_sampler *s = mk(&p, V);
        for (int trial = 0; trial < 200; trial++) {
            for (int i = 0; i < V; i++) l[i] = (float)(lcg_normal() * 2);
            if (trial % 10 == 0) l[V - 1] = 50.0f;
            memcpy(c, l, sizeof l);
            int got = omnic_sampler_sample(s, c), want = ref_argmax(l, V);
            if (got != want) fail_msg("%s T=%g trial %d: got %d, argmax %d", what, temps[ti], trial, got, want);
        }
        omnic_sampler_free(s);
    }
}

static void test_topk1_is_greedy(void **st) {
    (void)st;
    omnic_sampling p = params(1.0f);
    p.top_k = 1;
    check_equals_greedy(p, "top_k=1");
    /* ties with top_k = 1: lowest id */
    omnic_sampler *s = mk(&p, 8);
    for (int r = 0; r < 100; r++) {
        float l[8] = {0, 2, 1, 2, 2, 0, 1, 2};
        assert_int_equal(omnic_sampler_sample(s, l), 1);
    }
    omnic_sampler_free(s);
}

static void test_top_p_tiny_is_greedy(void **st) {
    (void)st;
    omnic_sampling p = params(1.0f);
    p.top_p = 1e-6f;
    check_equals_greedy(p, "top_p=1e-6");
    p.top_p = 0.0f;
    check_equals_greedy(p, "top_p=0");
}

static void test_min_p_one_is_greedy(void **st) {
    (void)st;
    omnic_sampling p = params(1.0f);
    p.min_p = 1.0f;
    check_equals_greedy(p, "min_p=1");
}

static void test_softmax_distribution(void **st) {
    (void)st;
    enum { V = 10, N = 20000 };
    const float l[V] = {1.0f, 0.0f, -1.0f, 2.0f, 0.5f, -0.5f, 1.5f, -2.0f, 0.25f, 1.0f};
    const float temps[] = {1.0f, 0.6f, 2.5f};
    for (int ti = 0; ti < 3; ti++) {
        omnic_sampling p = params(temps[ti]);
        p.seed = 77 + ti;
        omnic_sampler *s = mk(&p, V);
        long cnt[V];
        double q[V];
        histogram(s, l, V, N, cnt);
        ref_softmax(l, V, temps[ti], q);
        char what[64];
        snprintf(what, sizeof what, "softmax T=%g", temps[ti]);
        check_chi2(cnt, q, V, N, what);
        /* the check has power: the T=1 histogram is rejected against T=0.6 */
        if (ti == 0) {
            double q2[V];
            ref_softmax(l, V, 0.6, q2);
            double chi = 0;
            for (int i = 0; i < V; i++) chi += (cnt[i] - q2[i] * N) * (cnt[i] - q2[i] * N) / (q2[i] * N);
            assert_true(chi > 200);
        }
        omnic_sampler_free(s);
    }
}

static void test_temperature_in_place(void **st) {
    (void)st;
    omnic_sampling p = params(0.5f);
    omnic_sampler *s = mk(&p, 4);
    float l[4] = {1.0f, -2.0f, 3.0f, 0.0f};
    omnic_sampler_sample(s, l);
    assert_true(l[0] == 2.0f && l[1] == -4.0f && l[2] == 6.0f && l[3] == 0.0f);
    omnic_sampler_free(s);
}

static void test_top_k3(void **st) {
    (void)st;
    enum { V = 10, N = 20000 };
    const float l[V] = {0.3f, 1.2f, -0.4f, 0.9f, 1.1f, 0.0f, -1.0f, 0.8f, 0.2f, 1.0f};
    omnic_sampling p = params(1.0f);
    p.top_k = 3;
    p.seed = 4242;
    omnic_sampler *s = mk(&p, V);
    long cnt[V];
    double pr[V], q[V];
    histogram(s, l, V, N, cnt);
    ref_softmax(l, V, 1.0, pr);
    ref_filter(pr, V, 3, 1.0, 0.0, q);
    int nz = 0;
    for (int i = 0; i < V; i++) nz += q[i] > 0;
    assert_int_equal(nz, 3);  /* tokens 1, 4, 9 */
    assert_true(q[1] > 0 && q[4] > 0 && q[9] > 0);
    check_chi2(cnt, q, V, N, "top_k=3");
    omnic_sampler_free(s);
    /* ties at the k-th place keep the lowest ids */
    s = mk(&p, 6);
    float t[6] = {1, 2, 2, 2, 0, 2};
    long c2[6];
    histogram(s, t, 6, 3000, c2);
    double q2[6] = {0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0};
    check_chi2(c2, q2, 6, 3000, "top_k=3 ties");
    omnic_sampler_free(s);
}

static void test_top_p(void **st) {
    (void)st;
    enum { V = 12, N = 20000 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)(0.35 * (V - i) + ((i * 7) % 5) * 0.1);
    double pr[V], q[V];
    ref_softmax(l, V, 1.0, pr);
    const float tps[] = {0.5f, 0.83f, 0.97f};
    for (int k = 0; k < 3; k++) {
        omnic_sampling p = params(1.0f);
        p.top_p = tps[k];
        p.seed = 9 + k;
        omnic_sampler *s = mk(&p, V);
        long cnt[V];
        histogram(s, l, V, N, cnt);
        ref_filter(pr, V, 0, tps[k], 0.0, q);
        char what[64];
        snprintf(what, sizeof what, "top_p=%g", tps[k]);
        check_chi2(cnt, q, V, N, what);
        omnic_sampler_free(s);
    }
    /* exact boundary: probs .5 .3 .2; top_p .75 keeps {0,1} */
    float b[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    omnic_sampling p = params(1.0f);
    p.top_p = 0.75f;
    omnic_sampler *s = mk(&p, 3);
    long c3[3];
    histogram(s, b, 3, 8000, c3);
    double q3[3] = {0.625, 0.375, 0};
    check_chi2(c3, q3, 3, 8000, "top_p=.75 of .5/.3/.2");
    omnic_sampler_free(s);
    /* top-p after top-k uses the renormalised top-k: k=2 gives .625/.375, so
     * top_p=.6 keeps only token 0 (without renormalising it would keep 2) */
    p.top_k = 2;
    p.top_p = 0.6f;
    s = mk(&p, 3);
    for (int r = 0; r < 500; r++) {
        float c[3] = {b[0], b[1], b[2]};
        assert_int_equal(omnic_sampler_sample(s, c), 0);
    }
    omnic_sampler_free(s);
}

/* Random logits (some quantised, so with ties), random top_p / top_k / min_p /
 * temperature: the empirical distribution matches the reference filter. */
static void test_random_configs(void **st) {
    (void)st;
    enum { V = 40, N = 6000 };
    float l[V];
    double pr[V], q[V];
    long cnt[V];
    for (int cfg = 0; cfg < 24; cfg++) {
        for (int i = 0; i < V; i++) {
            double x = lcg_normal() * 1.5;
            l[i] = (float)(cfg % 3 == 0 ? floor(x * 2) / 2 : x);
        }
        omnic_sampling p = params((float)(0.4 + 1.6 * lcg_unif()));
        p.top_p = (float)(0.05 + 0.9 * lcg_unif());
        p.top_k = cfg % 4 == 1 ? 1 + (int)(lcg_unif() * 12) : 0;
        p.min_p = cfg % 5 == 2 ? (float)(0.3 * lcg_unif()) : 0.0f;
        p.seed = 1000 + cfg;
        omnic_sampler *s = mk(&p, V);
        histogram(s, l, V, N, cnt);
        ref_softmax(l, V, p.temperature, pr);
        ref_filter(pr, V, p.top_k, p.top_p, p.min_p, q);
        char what[96];
        snprintf(what, sizeof what, "cfg %d T=%.3f top_k=%d top_p=%.3f min_p=%.3f", cfg,
                 p.temperature, p.top_k, p.top_p, p.min_p);
        check_chi2(cnt, q, V, N, what);
        omnic_sampler_free(s);
    }
}

static void test_min_p(void **st) {
    (void)st;
    enum { V = 8, N = 20000 };
    /* p relative to the max: 1, .37, .29 (just below .3), .61, .05, .31 (just
     * above), .82, .02 */
    const float l[V] = {0.0f, -1.0f, logf(0.29f), -0.5f, -3.0f, logf(0.31f), -0.2f, -4.0f};
    omnic_sampling p = params(1.0f);
    p.min_p = 0.3f;  /* keep p >= .3 * pmax  <=>  l >= ln .3 = -1.204 */
    omnic_sampler *s = mk(&p, V);
    long cnt[V];
    double pr[V], q[V];
    histogram(s, l, V, N, cnt);
    ref_softmax(l, V, 1.0, pr);
    ref_filter(pr, V, 0, 1.0, 0.3, q);
    int nz = 0;
    for (int i = 0; i < V; i++) nz += q[i] > 0;
    assert_int_equal(nz, 5);  /* ids 0, 1, 3, 5, 6 */
    assert_true(q[5] > 0 && q[2] == 0);
    check_chi2(cnt, q, V, N, "min_p=.3");
    omnic_sampler_free(s);
    /* combined: temperature 0.8, top_k 5, top_p .9, min_p .1 */
    p.temperature = 0.8f; p.top_k = 5; p.top_p = 0.9f; p.min_p = 0.1f; p.seed = 5;
    s = mk(&p, V);
    histogram(s, l, V, N, cnt);
    ref_softmax(l, V, 0.8, pr);
    ref_filter(pr, V, 5, 0.9, 0.1, q);
    check_chi2(cnt, q, V, N, "T=.8 k=5 p=.9 min_p=.1");
    omnic_sampler_free(s);
}

/* Large vocabulary: top-p without top-k (the pre-filtered sort path). */
static void test_large_vocab(void **st) {
    (void)st;
    enum { V = 200000 };
    float *l = malloc(sizeof(float) * V), *c = malloc(sizeof(float) * V);
    double *pr = malloc(sizeof(double) * V), *q = malloc(sizeof(double) * V);
    long *cnt = malloc(sizeof(long) * V);
    assert_true(l && c && pr && q && cnt);

    /* (a) one token with half the mass, the rest flat: top_p .9 keeps it and the
     * 160000 lowest-id flat tokens (ties broken by id). */
    const int top = 150000;
    for (int i = 0; i < V; i++) l[i] = 0.0f;
    l[top] = logf((float)(V - 1));
    omnic_sampling p = params(1.0f);
    p.top_p = 0.9f;
    omnic_sampler *s = mk(&p, V);
    int n_top = 0, n_hi = 0, D = 200;
    for (int d = 0; d < D; d++) {
        memcpy(c, l, sizeof(float) * V);
        int t = omnic_sampler_sample(s, c);
        assert_true(t >= 0 && t < V);
        if (t == top) { n_top++; continue; }
        int rank = t < top ? t : t - 1;  /* rank among flat tokens */
        if (rank >= 160000 + 2) fail_msg("flat token %d (rank %d) outside the nucleus", t, rank);
        n_hi += rank >= 120000;
    }
    /* P(top) = .5/.9 = .556; P(rank >= 120000) = .4*(40000/160000)/.9 = .111 */
    assert_true(fabs(n_top / (double)D - 0.5556) < 0.1);
    assert_true(n_hi > 10);
    omnic_sampler_free(s);

    /* (b) peaked random logits with temperature and min_p: chi-square on the
     * (small) kept set, via the prefilter. */
    for (int i = 0; i < V; i++) l[i] = (float)(lcg_normal() * 1.0);
    for (int i = 0; i < 6; i++) l[(i * 33331) % V] = 14.0f + i * 0.3f;
    p = params(0.9f);
    p.top_p = 0.8f;
    p.min_p = 0.05f;
    p.seed = 31337;
    s = mk(&p, V);
    D = 1500;
    memset(cnt, 0, sizeof(long) * V);
    for (int d = 0; d < D; d++) {
        memcpy(c, l, sizeof(float) * V);
        cnt[omnic_sampler_sample(s, c)]++;
    }
    ref_softmax(l, V, 0.9, pr);
    ref_filter(pr, V, 0, 0.8, 0.05, q);
    int nz = 0;
    for (int i = 0; i < V; i++) nz += q[i] > 0;
    assert_true(nz >= 2 && nz <= 6);
    check_chi2(cnt, q, V, D, "V=200k T=.9 top_p=.8 min_p=.05");
    omnic_sampler_free(s);

    /* (c) top_k 40 + top_p .95 on normal logits: every draw among the top 40 */
    for (int i = 0; i < V; i++) l[i] = (float)(lcg_normal() * 3.0);
    ref_softmax(l, V, 1.0, pr);
    ref_filter(pr, V, 40, 0.95, 0.0, q);
    p = params(1.0f);
    p.top_k = 40;
    p.top_p = 0.95f;
    s = mk(&p, V);
    for (int d = 0; d < 200; d++) {
        memcpy(c, l, sizeof(float) * V);
        int t = omnic_sampler_sample(s, c);
        if (!(q[t] > 0)) fail_msg("token %d drawn outside top-k/top-p set", t);
    }
    omnic_sampler_free(s);
    free(l); free(c); free(pr); free(q); free(cnt);
}

static void draw_seq(omnic_sampler *s, int n, int32_t *out) {
    float l[16];
    for (int d = 0; d < n; d++) {
        for (int i = 0; i < 16; i++) l[i] = (float)(i % 4) * 0.1f;
        out[d] = omnic_sampler_sample(s, l);
    }
}

static void test_seed(void **st) {
    (void)st;
    enum { N = 200 };
    int32_t a[N], b[N], c[N], d[N];
    omnic_sampling p = params(1.0f);
    p.seed = 123456789;
    omnic_sampler *s1 = mk(&p, 16), *s2 = mk(&p, 16);
    draw_seq(s1, N, a);
    draw_seq(s2, N, b);
    assert_memory_equal(a, b, sizeof a);
    omnic_sampler_reset(s1);  /* reset restarts the sequence */
    draw_seq(s1, N, d);
    assert_memory_equal(a, d, sizeof a);
    p.seed = 123456790;
    omnic_sampler *s3 = mk(&p, 16);
    draw_seq(s3, N, c);
    int diff = 0;
    for (int i = 0; i < N; i++) diff += a[i] != c[i];
    assert_true(diff > N / 2);  /* ~15/16 of positions differ for independent streams */
    /* the stream is not constant */
    int distinct = 0, seen[16] = {0};
    for (int i = 0; i < N; i++) if (!seen[a[i]]++) distinct++;
    assert_true(distinct >= 12);
    omnic_sampler_free(s1);
    omnic_sampler_free(s2);
    omnic_sampler_free(s3);
}

/* Independent penalty reference in double. */
static double ref_pen(double l, int count, double rp, double pres, double freq) {
    if (count == 0) return l;
    if (rp != 1.0) l = l > 0 ? l / rp : l * rp;
    return l - pres - freq * count;
}

static void check_pen(omnic_sampling p, const int32_t *hist, int nh, const int *want_counts) {
    enum { V = 8 };
    const float base[V] = {2.0f, -1.5f, 0.0f, 3.25f, -0.75f, 1.0f, -4.0f, 0.5f};
    p.temperature = 0.0f;
    omnic_sampler *s = mk(&p, V);
    for (int i = 0; i < nh; i++) omnic_sampler_accept(s, hist[i]);
    float l[V];
    memcpy(l, base, sizeof l);
    omnic_sampler_sample(s, l);
    for (int i = 0; i < V; i++) {
        double e = ref_pen(base[i], want_counts[i], p.repeat_penalty, p.presence_penalty, p.frequency_penalty);
        if (fabs(l[i] - e) > 1e-5 * (1 + fabs(e)))
            fail_msg("token %d: logit %.7f, expected %.7f (count %d)", i, l[i], e, want_counts[i]);
    }
    omnic_sampler_free(s);
}

static void test_penalties(void **st) {
    (void)st;
    const int32_t h[] = {1, 3, 3, 5, 3, 6, 0};
    const int cnt_all[8] = {1, 1, 0, 3, 0, 1, 1, 0};
    omnic_sampling p = params(0.0f);
    p.repeat_penalty = 1.5f;
    check_pen(p, h, 7, cnt_all);
    p = params(0.0f);
    p.presence_penalty = 0.4f;
    check_pen(p, h, 7, cnt_all);
    p = params(0.0f);
    p.frequency_penalty = 0.3f;
    check_pen(p, h, 7, cnt_all);
    p = params(0.0f);
    p.repeat_penalty = 1.3f; p.presence_penalty = -0.2f; p.frequency_penalty = 0.25f;
    check_pen(p, h, 7, cnt_all);
    p.repeat_penalty = 0.8f;  /* < 1 encourages repetition, same formula */
    check_pen(p, h, 7, cnt_all);

    /* exact hand-computed values: rp 2, presence .5, frequency .25 */
    p = params(0.0f);
    p.repeat_penalty = 2.0f; p.presence_penalty = 0.5f; p.frequency_penalty = 0.25f;
    omnic_sampler *s = mk(&p, 4);
    omnic_sampler_accept(s, 0);
    omnic_sampler_accept(s, 1);
    omnic_sampler_accept(s, 1);
    float l[4] = {4.0f, -2.0f, 1.0f, 0.0f};
    omnic_sampler_sample(s, l);
    assert_true(fabsf(l[0] - (2.0f - 0.5f - 0.25f)) < 1e-6f);       /* 1.25 */
    assert_true(fabsf(l[1] - (-4.0f - 0.5f - 0.5f)) < 1e-6f);       /* -5.0 */
    assert_true(l[2] == 1.0f && l[3] == 0.0f);
    /* the penalty changes the greedy choice */
    float l2[4] = {4.0f, -2.0f, 3.0f, 0.0f};
    assert_int_equal(omnic_sampler_sample(s, l2), 2);
    /* out-of-range tokens are ignored */
    omnic_sampler_accept(s, -1);
    omnic_sampler_accept(s, 4);
    omnic_sampler_accept(s, INT32_MAX);
    float l3[4] = {4.0f, -2.0f, 1.0f, 0.0f};
    omnic_sampler_sample(s, l3);
    assert_true(fabsf(l3[0] - 1.25f) < 1e-6f && l3[2] == 1.0f && l3[3] == 0.0f);
    /* penalties then temperature */
    omnic_sampler_free(s);
    p.temperature = 2.0f;
    s = mk(&p, 4);
    omnic_sampler_accept(s, 0);
    float l4[4] = {4.0f, -2.0f, 1.0f, 0.0f};
    omnic_sampler_sample(s, l4);
    assert_true(fabsf(l4[0] - (2.0f - 0.75f) / 2.0f) < 1e-6f);
    assert_true(l4[1] == -1.0f && l4[2] == 0.5f);
    omnic_sampler_free(s);
}

static void test_window(void **st) {
    (void)st;
    omnic_sampling p = params(0.0f);
    p.repeat_penalty = 1.5f; p.presence_penalty = 0.4f; p.frequency_penalty = 0.3f;
    /* last 3 of [1,2,3,4,1] = [3,4,1] */
    p.repeat_last_n = 3;
    const int32_t h1[] = {1, 2, 3, 4, 1};
    const int c1[8] = {0, 1, 0, 1, 1, 0, 0, 0};
    check_pen(p, h1, 5, c1);
    /* last 3 of [1,1,1,1,2] = [1,1,2] */
    const int32_t h2[] = {1, 1, 1, 1, 2};
    const int c2[8] = {0, 2, 1, 0, 0, 0, 0, 0};
    check_pen(p, h2, 5, c2);
    /* window longer than the history */
    p.repeat_last_n = 64;
    check_pen(p, h1, 5, (const int[8]){0, 2, 1, 1, 1, 0, 0, 0});
    /* whole history */
    p.repeat_last_n = -1;
    int32_t h3[300];
    int c3[8] = {0};
    for (int i = 0; i < 300; i++) { h3[i] = (i * i + 3) % 7; c3[h3[i]]++; }
    check_pen(p, h3, 300, c3);
    /* window 0: no penalty at all */
    p.repeat_last_n = 0;
    const int c0[8] = {0};
    check_pen(p, h1, 5, c0);
    /* a long window slid over a long history */
    p.repeat_last_n = 50;
    int c4[8] = {0};
    for (int i = 250; i < 300; i++) c4[h3[i]]++;
    check_pen(p, h3, 300, c4);
    /* huge windows behave as whole history */
    p.repeat_last_n = INT32_MAX;
    check_pen(p, h3, 300, c3);
}

static void test_reset(void **st) {
    (void)st;
    omnic_sampling p = params(0.0f);
    p.repeat_penalty = 3.0f; p.frequency_penalty = 1.0f;
    p.repeat_last_n = 4;
    omnic_sampler *s = mk(&p, 4);
    for (int i = 0; i < 10; i++) omnic_sampler_accept(s, i % 3);
    omnic_sampler_reset(s);
    float l[4] = {1.0f, 2.0f, -1.0f, 0.5f}, c[4];
    memcpy(c, l, sizeof l);
    assert_int_equal(omnic_sampler_sample(s, c), 1);
    assert_memory_equal(c, l, sizeof l);
    /* history works again after reset, with a fresh window */
    omnic_sampler_accept(s, 1);
    memcpy(c, l, sizeof l);
    assert_int_equal(omnic_sampler_sample(s, c), 0);
    assert_true(fabsf(c[1] - (2.0f / 3.0f - 1.0f)) < 1e-6f);
    assert_true(c[0] == 1.0f && c[2] == -1.0f);
    omnic_sampler_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_nan_inf),
        cmocka_unit_test(test_topk1_is_greedy),
        cmocka_unit_test(test_top_p_tiny_is_greedy),
        cmocka_unit_test(test_min_p_one_is_greedy),
        cmocka_unit_test(test_softmax_distribution),
        cmocka_unit_test(test_temperature_in_place),
        cmocka_unit_test(test_top_k3),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_random_configs),
        cmocka_unit_test(test_large_vocab),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
