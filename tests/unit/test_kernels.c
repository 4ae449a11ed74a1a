/* test_kernels.c - numerical kernels against independent double-precision
 * references: the AVX-512 and scalar matmul over F32/F16/BF16 weights (odd shapes,
 * sub-row ranges, the threaded k_matmul), exact weight widening, and the small
 * vector ops (rmsnorm, RoPE, SiLU*mul, dot, axpy, softmax exponentials; portable
 * and AVX-512). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dtype.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "kernels/matmul_impl.h"
#include "kernels/ops_avx512.h"

#define SENTINEL 12345.0f
#define RTOL 1e-5

static unsigned rng_state = 1;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.f - 1.f;
}

static int have_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

/* A random weight stored as dt, plus its exact values as double (decoded with the
 * portable scalar conversions of dtype.c). */
typedef struct {
    kweight w;
    void *data;
    double *ref;
} tw;

static tw make_weight(omnic_dtype dt, int rows, int cols, float scale) {
    tw t;
    size_t n = (size_t)rows * cols;
    t.data = malloc(n * (dt == DT_F32 ? 4 : 2) + 1);
    t.ref = malloc(n * sizeof(double) + 1);
    assert_non_null(t.data);
    assert_non_null(t.ref);
    for (size_t i = 0; i < n; i++) {
        float v = frand() * scale;
        if (dt == DT_F32) {
            ((float *)t.data)[i] = v;
            t.ref[i] = v;
        } else if (dt == DT_BF16) {
            uint16_t h = f32_to_bf16(v);
            ((uint16_t *)t.data)[i] = h;
            t.ref[i] = bf16_to_f32(h);
        } else {
            uint16_t h = f32_to_f16(v);
            ((uint16_t *)t.data)[i] = h;
            t.ref[i] = f16_to_f32(h);
        }
    }
    t.w = (kweight){t.data, dt, rows, cols, 0, 0};
    return t;
}

static void free_weight(tw *t) {
    free(t->data);
    free(t->ref);
}

/* Check y[t][r] for r in [r0, r1) against the double reference (relative to the sum
 * of |products|), and that the other rows still hold SENTINEL. */
static void check_y(const tw *t, const float *x, int n, const float *y, int r0, int r1, const char *what) {
    int rows = t->w.rows, cols = t->w.cols;
    for (int k = 0; k < n; k++)
        for (int r = 0; r < rows; r++) {
            float got = y[(size_t)k * rows + r];
            if (r < r0 || r >= r1) {
                if (got != SENTINEL) {
                    print_error("%s: dt=%s %dx%d n=%d range [%d,%d): y[%d][%d] written outside range\n", what,
                                dtype_name(t->w.dt), rows, cols, n, r0, r1, k, r);
                    fail();
                }
                continue;
            }
            double s = 0, a = 0;
            for (int c = 0; c < cols; c++) {
                double p = t->ref[(size_t)r * cols + c] * x[(size_t)k * cols + c];
                s += p;
                a += fabs(p);
            }
            if (!(fabs(got - s) <= RTOL * a + 1e-30)) {
                print_error("%s: dt=%s %dx%d n=%d range [%d,%d): y[%d][%d] = %.9g, want %.9g (sum|p| %.3g)\n", what,
                            dtype_name(t->w.dt), rows, cols, n, r0, r1, k, r, got, s, a);
                fail();
            }
        }
}

static float *rand_vec(size_t n, float scale) {
    float *v = malloc(n * sizeof(float) + 4);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = frand() * scale;
    return v;
}

static float *sentinel_vec(size_t n) {
    float *v = malloc(n * sizeof(float) + 4);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = SENTINEL;
    return v;
}

static const omnic_dtype DTS[3] = {DT_F32, DT_BF16, DT_F16};

/* One shape through fn over the full range and a sub-range of rows. */
static void run_shape(matmul_fn fn, const char *what, omnic_dtype dt, int rows, int cols, int n) {
    tw t = make_weight(dt, rows, cols, 1.f);
    float *x = rand_vec((size_t)n * cols, 2.f);
    float *y = sentinel_vec((size_t)n * rows);
    fn(&t.w, x, n, y, 0, rows);
    check_y(&t, x, n, y, 0, rows, what);
    int ranges[3][2] = {{1, rows - 1}, {rows / 2, rows}, {0, rows / 3 + 1}};
    for (int i = 0; i < 3; i++) {
        int r0 = ranges[i][0], r1 = ranges[i][1] < rows ? ranges[i][1] : rows;
        if (r0 >= r1) continue;
        for (size_t j = 0; j < (size_t)n * rows; j++) y[j] = SENTINEL;
        fn(&t.w, x, n, y, r0, r1);
        check_y(&t, x, n, y, r0, r1, what);
    }
    free(x);
    free(y);
    free_weight(&t);
}

static void shapes_for(matmul_fn fn, const char *what) {
    static const int colsv[] = {1, 7, 15, 16, 17, 33, 100, 1000};
    static const int rowsv[] = {1, 3, 4, 5, 13, 37};
    static const int nv[] = {1, 2, 3, 5, 6, 7, 8, 13, 17, 64};
    for (int d = 0; d < 3; d++)
        for (size_t ci = 0; ci < sizeof colsv / sizeof *colsv; ci++)
            for (size_t ri = 0; ri < sizeof rowsv / sizeof *rowsv; ri++)
                for (size_t ni = 0; ni < sizeof nv / sizeof *nv; ni++)
                    run_shape(fn, what, DTS[d], rowsv[ri], colsv[ci], nv[ni]);
}

static void test_matmul_scalar_shapes(void **st) {
    (void)st;
    shapes_for(matmul_rows_scalar, "scalar");
}

/* Both decode streaming modes (4 rows at a time; one row with prefetch, see
 * k_decode_pf in matmul_impl.h), whichever this CPU selects by default. */
static const int DECODE_PF[2] = {0, K_DECODE_PF_AMD};

static void test_matmul_avx512_shapes(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    int saved = k_decode_pf;
    for (int m = 0; m < 2; m++) {
        k_decode_pf = DECODE_PF[m];
        shapes_for(matmul_rows_avx512, m ? "avx512-decode-row" : "avx512");
    }
    k_decode_pf = saved;
}

/* Larger shapes: several token chunks (activations > the L2-sized chunk), many row
 * blocks, long rows. */
static void test_matmul_avx512_large(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    int saved = k_decode_pf;
    for (int d = 0; d < 6; d++) {
        k_decode_pf = DECODE_PF[d / 3];
        run_shape(matmul_rows_avx512, "avx512-large", DTS[d % 3], 70, 4100, 50);
        run_shape(matmul_rows_avx512, "avx512-large", DTS[d % 3], 130, 2048, 1);
        run_shape(matmul_rows_avx512, "avx512-large", DTS[d % 3], 131, 4131, 1);
        run_shape(matmul_rows_avx512, "avx512-large", DTS[d % 3], 21, 4097, 9);
        /* few tokens with a panel too big for the BF16 path's stack buffer */
        run_shape(matmul_rows_avx512, "avx512-large", DTS[d % 3], 9, 7200, 6);
    }
    k_decode_pf = saved;
}

/* Activation rows 64-byte aligned (weights read straight into the kernels) and
 * deliberately misaligned (the prefill path copies them to an aligned panel). */
static void test_matmul_avx512_alignment(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    static const int shapes[][3] = {{37, 1024, 20}, {9, 2048, 13}, {6, 1000, 8}, {21, 3072, 1}, {8, 64, 3}};
    for (int d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
            tw t = make_weight(DTS[d], rows, cols, 1.f);
            size_t nx = (size_t)n * cols;
            float *xa = aligned_alloc(64, (nx + 16) * sizeof(float));
            assert_non_null(xa);
            for (int off = 0; off < 2; off++) {
                float *x = xa + off;
                for (size_t i = 0; i < nx; i++) x[i] = frand();
                float *y = sentinel_vec((size_t)n * rows);
                matmul_rows_avx512(&t.w, x, n, y, 0, rows);
                check_y(&t, x, n, y, 0, rows, off ? "avx512-misaligned-x" : "avx512-aligned-x");
                free(y);
            }
            free(xa);
            free_weight(&t);
        }
}

/* avx512 and scalar agree with each other (both are fp32; only summation order differs). */
static void test_matmul_avx512_vs_scalar(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    for (int d = 0; d < 3; d++) {
        int rows = 29, cols = 777, n = 19;
        tw t = make_weight(DTS[d], rows, cols, 1.f);
        float *x = rand_vec((size_t)n * cols, 1.f);
        float *ya = sentinel_vec((size_t)n * rows), *ys = sentinel_vec((size_t)n * rows);
        matmul_rows_avx512(&t.w, x, n, ya, 0, rows);
        matmul_rows_scalar(&t.w, x, n, ys, 0, rows);
        for (int k = 0; k < n; k++)
            for (int r = 0; r < rows; r++) {
                double a = 0;
                for (int c = 0; c < cols; c++) a += fabs(t.ref[(size_t)r * cols + c] * x[(size_t)k * cols + c]);
                size_t i = (size_t)k * rows + r;
                if (!(fabs((double)ya[i] - ys[i]) <= 2 * RTOL * a)) {
                    print_error("dt=%s y[%d][%d]: avx512 %.9g scalar %.9g\n", dtype_name(DTS[d]), k, r, ya[i], ys[i]);
                    fail();
                }
            }
        free(x);
        free(ya);
        free(ys);
        free_weight(&t);
    }
}

/* Widening is exact: with one-hot activations y must equal every finite weight
 * bit pattern decoded by the scalar conversion, subnormals included, for the decode
 * (n=1) and prefill (n=16) paths. */
static void test_matmul_avx512_exact_widen(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    int saved = k_decode_pf;
    for (int d = 1; d < 5; d++) {
        omnic_dtype dt = DTS[d < 3 ? d : d - 2];
        k_decode_pf = DECODE_PF[d >= 3];
        int cols = 16, rows = 4096; /* all 65536 patterns */
        uint16_t *wd = malloc(65536 * 2);
        assert_non_null(wd);
        for (int i = 0; i < 65536; i++) {
            uint16_t h = (uint16_t)i;
            int inf_nan = dt == DT_BF16 ? (h & 0x7f80) == 0x7f80 : (h & 0x7c00) == 0x7c00;
            wd[i] = inf_nan ? 0 : h;
        }
        kweight w = {wd, dt, rows, cols, 0, 0};
        float *x = calloc((size_t)cols * cols, sizeof(float)), *y = malloc((size_t)cols * rows * sizeof(float));
        assert_non_null(x);
        assert_non_null(y);
        for (int k = 0; k < cols; k++) x[k * cols + k] = 1.f;
        for (int k = 0; k < cols; k++) { /* n = 1, token e_k */
            matmul_rows_avx512(&w, x + k * cols, 1, y, 0, rows);
            for (int r = 0; r < rows; r++) {
                uint16_t h = wd[r * cols + k];
                float want = dt == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
                if (y[r] != want) {
                    print_error("dt=%s n=1 pattern 0x%04x -> %.9g, want %.9g\n", dtype_name(dt), h, y[r], want);
                    fail();
                }
            }
        }
        matmul_rows_avx512(&w, x, cols, y, 0, rows); /* n = 16, all tokens */
        for (int k = 0; k < cols; k++)
            for (int r = 0; r < rows; r++) {
                uint16_t h = wd[r * cols + k];
                float want = dt == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
                if (y[(size_t)k * rows + r] != want) {
                    print_error("dt=%s n=16 pattern 0x%04x -> %.9g, want %.9g\n", dtype_name(dt), h,
                                y[(size_t)k * rows + r], want);
                    fail();
                }
            }
        free(wd);
        free(x);
        free(y);
    }
    k_decode_pf = saved;
}

/* cols == 0 gives zeros; an unsupported dtype goes to the scalar fallback (zeros). */
static void test_matmul_edge(void **st) {
    (void)st;
    float x[4] = {1, 2, 3, 4}, y[8];
    uint8_t bytes[64] = {0};
    for (int i = 0; i < 64; i++) bytes[i] = (uint8_t)(i + 1);
    for (int lvl = 0; lvl < 2; lvl++) {
        matmul_fn fn = lvl ? matmul_rows_avx512 : matmul_rows_scalar;
        if (lvl && !have_avx512()) break;
        kweight w0 = {bytes, DT_BF16, 4, 0, 0, 0};
        for (int i = 0; i < 8; i++) y[i] = SENTINEL;
        fn(&w0, x, 2, y, 0, 4);
        for (int i = 0; i < 8; i++) assert_true(y[i] == 0.f);
        kweight wi = {bytes, DT_I8, 2, 4, 0, 0};
        for (int i = 0; i < 8; i++) y[i] = SENTINEL;
        fn(&wi, x, 1, y, 0, 2);
        assert_true(y[0] == 0.f && y[1] == 0.f);
        for (int i = 2; i < 8; i++) assert_true(y[i] == SENTINEL);
    }
}

static void test_kernels_force(void **st) {
    (void)st;
    assert_int_equal(kernels_force("scalar"), 0);
    assert_ptr_equal(k_matmul_rows, matmul_rows_scalar);
    assert_int_not_equal(kernels_force("no-such-level"), 0);
    if (have_avx512()) {
        assert_int_equal(kernels_force("avx512"), 0);
        assert_ptr_equal(k_matmul_rows, matmul_rows_avx512);
    }
}

/* Threaded k_matmul (pool of 2 and no pool) at both kernel levels, row counts not
 * multiples of the 16-row split. */
static void test_matmul_threaded(void **st) {
    (void)st;
    omnic_pool *pool = omnic_pool_new(2);
    assert_non_null(pool);
    static const int shapes[][3] = {{37, 100, 1}, {37, 100, 9}, {300, 65, 3}, {256, 1000, 17}, {5, 3, 2}, {1, 16, 64}};
    for (int lvl = 0; lvl < 2; lvl++) {
        if (lvl && !have_avx512()) break;
        assert_int_equal(kernels_force(lvl ? "avx512" : "scalar"), 0);
        for (int d = 0; d < 3; d++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
                int rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
                tw t = make_weight(DTS[d], rows, cols, 0.5f);
                float *x = rand_vec((size_t)n * cols, 1.f);
                float *y = sentinel_vec((size_t)n * rows);
                /* BF16 prefill on VDPBF16PS (k_bf16_dp_on) rounds the activations
                 * to bf16: exact against the rounded ones */
                float *xr = rand_vec((size_t)n * cols, 1.f);
                int dp = DTS[d] == DT_BF16 && n >= K_BF16_DP_MIN_N && k_bf16_dp_on;
                for (size_t i = 0; i < (size_t)n * cols; i++) xr[i] = dp ? bf16_to_f32(f32_to_bf16(x[i])) : x[i];
                k_matmul(pool, &t.w, x, n, y);
                check_y(&t, xr, n, y, 0, rows, lvl ? "k_matmul/avx512/2 threads" : "k_matmul/scalar/2 threads");
                for (size_t j = 0; j < (size_t)n * rows; j++) y[j] = SENTINEL;
                k_matmul(NULL, &t.w, x, n, y);
                check_y(&t, xr, n, y, 0, rows, "k_matmul/no pool");
                free(xr);
                free(x);
                free(y);
                free_weight(&t);
            }
    }
    omnic_pool_free(pool);
    kernels_force(have_avx512() ? "avx512" : "scalar");
}

static void test_row_to_f32(void **st) {
    (void)st;
    for (int d = 0; d < 3; d++) {
        tw t = make_weight(DTS[d], 3, 21, 3.f);
        float out[21];
        for (int r = 0; r < 3; r++) {
            k_row_to_f32(&t.w, r, out);
            for (int c = 0; c < 21; c++) assert_true((double)out[c] == t.ref[r * 21 + c]);
        }
        free_weight(&t);
    }
}

static void test_rmsnorm(void **st) {
    (void)st;
    static const int nv[] = {1, 7, 64, 1000, 2048};
    for (size_t i = 0; i < sizeof nv / sizeof *nv; i++) {
        int n = nv[i];
        float *x = rand_vec(n, 3.f), *g = rand_vec(n, 1.5f), *out = malloc(n * sizeof(float));
        assert_non_null(out);
        float eps = 1e-6f;
        k_rmsnorm(out, x, g, n, eps);
        double ss = 0;
        for (int j = 0; j < n; j++) ss += (double)x[j] * x[j];
        double inv = 1.0 / sqrt(ss / n + (double)eps);
        for (int j = 0; j < n; j++) {
            double want = x[j] * inv * g[j];
            assert_true(fabs(out[j] - want) <= 1e-6 * fabs(want) + 1e-7 * fabs(inv * g[j]));
        }
        /* in place */
        float *cp = malloc(n * sizeof(float));
        assert_non_null(cp);
        memcpy(cp, x, n * sizeof(float));
        k_rmsnorm(cp, cp, g, n, eps);
        for (int j = 0; j < n; j++) assert_true(cp[j] == out[j]);
        free(cp);
        free(x);
        free(g);
        free(out);
    }
}

static void test_rope_half(void **st) {
    (void)st;
    static const int dv[] = {2, 16, 64, 128, 130};
    for (size_t i = 0; i < sizeof dv / sizeof *dv; i++) {
        int d = dv[i], h = d / 2;
        float *v = rand_vec(d, 2.f), *c = malloc(h * sizeof(float)), *s = malloc(h * sizeof(float));
        double *want = malloc(d * sizeof(double));
        assert_non_null(c);
        assert_non_null(s);
        assert_non_null(want);
        for (int j = 0; j < h; j++) {
            double ang = 0.37 * (j + 1);
            c[j] = (float)cos(ang);
            s[j] = (float)sin(ang);
        }
        for (int j = 0; j < h; j++) {
            want[j] = (double)v[j] * c[j] - (double)v[j + h] * s[j];
            want[j + h] = (double)v[j + h] * c[j] + (double)v[j] * s[j];
        }
        k_rope_half(v, c, s, d);
        for (int j = 0; j < d; j++) assert_true(fabs(v[j] - want[j]) <= 1e-6 * 4.0);
        free(v);
        free(c);
        free(s);
        free(want);
    }
}

static void silu_mul_at_level(void) {
    static const int nv[] = {1, 15, 16, 17, 1000};
    for (size_t i = 0; i < sizeof nv / sizeof *nv; i++) {
        int n = nv[i];
        float *a = rand_vec(n, 12.f), *b = rand_vec(n, 2.f);
        double *want = malloc(n * sizeof(double));
        assert_non_null(want);
        for (int j = 0; j < n; j++) want[j] = a[j] / (1.0 + exp(-(double)a[j])) * b[j];
        k_silu_mul(a, b, n);
        for (int j = 0; j < n; j++)
            if (!(fabs(a[j] - want[j]) <= 1e-6 * fabs(want[j]) + 1e-7 * fabs(b[j]))) {
                print_error("silu_mul n=%d [%d]: %.9g want %.9g\n", n, j, a[j], want[j]);
                fail();
            }
        free(a);
        free(b);
        free(want);
    }
    /* large |a|: silu saturates to a (positive) or 0 (negative) without NaN */
    float a[4] = {100.f, -100.f, 1e30f, -1e30f}, b[4] = {1, 1, 1, 1};
    k_silu_mul(a, b, 4);
    assert_true(fabsf(a[0] - 100.f) < 1e-4f);
    assert_true(fabsf(a[1]) < 1e-30f);
    assert_true(a[2] == 1e30f);
    assert_true(a[3] == 0.f || fabsf(a[3]) < 1e-30f);
}

static void dot_axpy_at_level(void) {
    static const int nv[] = {0, 1, 7, 16, 17, 100, 4099};
    for (size_t i = 0; i < sizeof nv / sizeof *nv; i++) {
        int n = nv[i];
        float *a = rand_vec(n, 1.f), *b = rand_vec(n, 1.f), *y = rand_vec(n, 1.f);
        double s = 0, abs_s = 0;
        for (int j = 0; j < n; j++) {
            s += (double)a[j] * b[j];
            abs_s += fabs((double)a[j] * b[j]);
        }
        float got = k_dot(a, b, n);
        if (!(fabs(got - s) <= RTOL * abs_s + 1e-30)) {
            print_error("dot n=%d: %.9g want %.9g\n", n, got, s);
            fail();
        }
        double *want = malloc((n + 1) * sizeof(double));
        assert_non_null(want);
        for (int j = 0; j < n; j++) want[j] = y[j] + 0.75 * a[j];
        k_axpy(y, a, 0.75f, n);
        for (int j = 0; j < n; j++) assert_true(fabs(y[j] - want[j]) <= 1e-6 * (fabs(want[j]) + 1));
        /* softmax numerators: e^(s - mx) for scores in [-28, 2] around mx = 2 (the
         * tail of n % 16 lanes included), their sum, nothing written past n */
        float *e = rand_vec((size_t)n + 16, 1.f);
        for (int j = 0; j < n; j++) e[j] = 2.f - 15.f * (a[j] + 1.f);
        for (int j = n; j < n + 16; j++) e[j] = SENTINEL;
        double wsum = 0;
        for (int j = 0; j < n; j++) want[j] = exp((double)e[j] - 2.0), wsum += want[j];
        float gsum = k_exp_sum(e, n, 2.f);
        for (int j = 0; j < n; j++)
            if (!(fabs(e[j] - want[j]) <= 4e-7 * want[j] + 1e-30)) {
                print_error("exp_sum n=%d [%d]: %.9g want %.9g\n", n, j, e[j], want[j]);
                fail();
            }
        for (int j = n; j < n + 16; j++) assert_true(e[j] == SENTINEL);
        assert_true(fabs(gsum - wsum) <= (n + 2) * 1.2e-7 * wsum + 1e-30); /* fp32 summation */
        free(e);
        free(a);
        free(b);
        free(y);
        free(want);
    }
}

/* The dispatched k_silu_mul / k_dot / k_axpy at every CPU level. */
static void test_silu_mul(void **st) {
    (void)st;
    assert_int_equal(kernels_force("scalar"), 0);
    silu_mul_at_level();
    if (kernels_force("avx512") == 0) silu_mul_at_level();
}

static void test_dot_axpy(void **st) {
    (void)st;
    assert_int_equal(kernels_force("scalar"), 0);
    dot_axpy_at_level();
    if (kernels_force("avx512") == 0) dot_axpy_at_level();
}

/* AVX-512 dot / axpy / SiLU*mul: dot against double, axpy bit-identical to the
 * portable version, SiLU*mul against double over a wide range and the portable
 * version on special values. */
static void test_ops_avx512(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    static const int nv[] = {0, 1, 15, 16, 17, 63, 64, 65, 128, 1000, 4099};
    for (size_t i = 0; i < sizeof nv / sizeof *nv; i++) {
        int n = nv[i];
        float *a = rand_vec(n, 1.f), *b = rand_vec(n, 1.f);
        double s = 0, abs_s = 0;
        for (int j = 0; j < n; j++) {
            s += (double)a[j] * b[j];
            abs_s += fabs((double)a[j] * b[j]);
        }
        float got = k_dot_avx512(a, b, n);
        if (!(fabs(got - s) <= RTOL * abs_s + 1e-30)) {
            print_error("dot_avx512 n=%d: %.9g want %.9g\n", n, got, s);
            fail();
        }
        float *y1 = rand_vec(n, 3.f), *y2 = malloc((n + 1) * sizeof(float));
        assert_non_null(y2);
        memcpy(y2, y1, n * sizeof(float));
        k_axpy_scalar(y1, a, -1.3f, n);
        k_axpy_avx512(y2, a, -1.3f, n);
        assert_memory_equal(y1, y2, n * sizeof(float));
        /* silu: a spread over [-100, 100] */
        float *sa = rand_vec(n, 100.f), *sb = rand_vec(n, 2.f), *ss = malloc((n + 1) * sizeof(float));
        assert_non_null(ss);
        for (int j = 0; j < n && j < 40; j++) sa[j] *= 0.05f; /* and some near 0 */
        memcpy(ss, sa, n * sizeof(float));
        double *want = malloc((n + 1) * sizeof(double));
        assert_non_null(want);
        for (int j = 0; j < n; j++) want[j] = sa[j] / (1.0 + exp(-(double)sa[j])) * sb[j];
        k_silu_mul_avx512(sa, sb, n);
        for (int j = 0; j < n; j++)
            if (!(fabs(sa[j] - want[j]) <= 1e-6 * fabs(want[j]) + 1e-30)) { /* 1+e^-a overflows past a<-88.7 */
                print_error("silu_mul_avx512 n=%d [%d] a=%.9g: %.9g want %.9g\n", n, j, ss[j], sa[j], want[j]);
                fail();
            }
        free(a);
        free(b);
        free(y1);
        free(y2);
        free(sa);
        free(sb);
        free(ss);
        free(want);
    }
    /* every exponent range of exp: a = +-2^k and specials, against the portable version */
    float sp[96], b1[96], ref[96];
    int m = 0;
    for (int k = -30; k <= 8; k++) {
        sp[m++] = ldexpf(1.37f, k);
        sp[m++] = -ldexpf(1.37f, k);
    }
    sp[m++] = INFINITY;
    sp[m++] = -INFINITY;
    sp[m++] = NAN;
    sp[m++] = 0.f;
    sp[m++] = -0.f;
    sp[m++] = 88.5f;
    sp[m++] = -88.5f;
    sp[m++] = -103.5f;
    for (int j = 0; j < m; j++) b1[j] = 1.f;
    memcpy(ref, sp, sizeof sp);
    k_silu_mul_scalar(ref, b1, m);
    k_silu_mul_avx512(sp, b1, m);
    for (int j = 0; j < m; j++) {
        int ok = isnan(ref[j]) ? isnan(sp[j]) : sp[j] == ref[j] || fabsf(sp[j] - ref[j]) <= 4e-7f * fabsf(ref[j]) + 1e-37f;
        if (!ok) {
            print_error("silu_mul_avx512 special [%d]: %.9g, portable %.9g\n", j, sp[j], ref[j]);
            fail();
        }
    }
}

/* VDPBF16PS prefill (matmul_avx512.c; act_bf16 weights without AMX): exact to
 * fp32 summation against a double reference that uses bf16-rounded activations. */

static void test_matmul_bf16dp(void **st) {
    (void)st;
    if (!have_avx512()) skip();
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16")) skip();
    static const int shapes[][3] = {{37, 1000, 20}, {9, 2048, 13}, {5, 33, 8}, {70, 4100, 50}, {4, 1, 9}, {13, 64, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
        tw t = make_weight(DT_BF16, rows, cols, 1.f);
        float *x = rand_vec((size_t)n * cols, 2.f), *xr = malloc((size_t)n * cols * sizeof(float) + 4);
        assert_non_null(xr);
        for (size_t i = 0; i < (size_t)n * cols; i++) xr[i] = bf16_to_f32(f32_to_bf16(x[i]));
        int ranges[2][2] = {{0, rows}, {1, rows - 1 > 1 ? rows - 1 : rows}};
        for (int k = 0; k < 2; k++) {
            float *y = sentinel_vec((size_t)n * rows);
            matmul_rows_avx512_bf16dp(&t.w, x, n, y, ranges[k][0], ranges[k][1]);
            /* n < 8 falls back to the exact path: compare against unrounded x then */
            check_y(&t, n >= 8 ? xr : x, n, y, ranges[k][0], ranges[k][1], "avx512-bf16dp");
            free(y);
        }
        free(x);
        free(xr);
        free_weight(&t);
    }
}

int main(void) {
    kernels_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_force),
        cmocka_unit_test(test_row_to_f32),
        cmocka_unit_test(test_matmul_edge),
        cmocka_unit_test(test_matmul_scalar_shapes),
        cmocka_unit_test(test_matmul_avx512_shapes),
        cmocka_unit_test(test_matmul_avx512_large),
        cmocka_unit_test(test_matmul_avx512_alignment),
        cmocka_unit_test(test_matmul_avx512_vs_scalar),
        cmocka_unit_test(test_matmul_avx512_exact_widen),
        cmocka_unit_test(test_matmul_threaded),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope_half),
        cmocka_unit_test(test_silu_mul),
        cmocka_unit_test(test_dot_axpy),
        cmocka_unit_test(test_ops_avx512),
        cmocka_unit_test(test_matmul_bf16dp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
