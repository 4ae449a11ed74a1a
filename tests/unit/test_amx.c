/* test_amx.c - the Intel AMX quantized matmul (matmul_amx.c) against the scalar
 * level (bit-identical expected: same int8 activations, exact int32 block sums,
 * the same float operations in the same order) and against the AVX-512 VNNI
 * level (differs only by float summation order: relative error bound), on
 * random Q8_0 / Q4_0 / Q4_K weights with row counts that are not multiples of
 * 16, token counts 8..130 (tails of the 16-token tiles) through the threaded
 * k_matmul dispatch and 1..18 through the AMX entry point; the opt-in BF16
 * path; plus the OMNIC_AMX=0 / OMNIC_AMX_BF16=1 / scalar switches. Skips (passes with
 * a note) where AMX is not available. */
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
#include "kernels/quant.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static float grand(void) {
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static int have_amx(void) {
    if (kernels_force("avx512") != 0 || k_qmm != &qmm_avx512 || !amx_available()) {
        print_message("AMX (or AVX-512 VNNI) not available here: skipped\n");
        return 0;
    }
    return 1;
}

/* random weights quantized by quant_row; a few rows scaled up or zeroed so
 * block scales differ widely */
static void *make_w(omnic_dtype dt, int rows, int cols) {
    size_t rb = (size_t)dtype_row_bytes(dt, cols);
    uint8_t *w = malloc(rb * rows);
    float *row = malloc((size_t)cols * 4);
    for (int r = 0; r < rows; r++) {
        float sc = r % 7 == 3 ? 40.f : r % 11 == 5 ? 0.f : 0.05f;
        for (int c = 0; c < cols; c++) row[c] = sc * grand();
        assert_int_equal(quant_row(dt, row, w + rb * r, cols), 0);
    }
    free(row);
    return w;
}

static float *make_x(int n, int cols) {
    float *x = malloc((size_t)n * cols * 4);
    for (size_t i = 0; i < (size_t)n * cols; i++) x[i] = grand() * (i % 97 == 0 ? 30.f : 1.f);
    if (n * cols >= 64)
        for (int i = 32; i < 64; i++) x[i] = 0.f; /* an all-zero activation block */
    return x;
}

static const omnic_dtype DTS[] = {DT_Q8_0, DT_Q4_0, DT_Q4_K};

/* y by one level: "scalar", "vnni" (AVX-512 without AMX) or "amx" (k_matmul). */
static void run(const char *lvl, omnic_pool *pool, const kweight *w, const float *x, int n, float *y) {
    assert_int_equal(kernels_force(strcmp(lvl, "scalar") ? "avx512" : "scalar"), 0);
    k_amx_on = strcmp(lvl, "amx") == 0;
    k_matmul(pool, w, x, n, y);
}

static void test_amx_vs_scalar_and_vnni(void **st) {
    (void)st;
    if (!have_amx()) skip();
    omnic_pool *pool = omnic_pool_new(2);
    assert_non_null(pool);
    static const int shapes[][2] = {{1, 32}, {15, 96}, {17, 256}, {33, 800}, {40, 512}, {100, 1024}, {23, 2304}};
    static const int ns[] = {8, 12, 16, 17, 31, 33, 64, 130};
    double worst_vnni = 0;
    long exact = 0, total = 0;
    for (int d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            if (dtype_row_bytes(DTS[d], cols) < 0) continue;
            void *wd = make_w(DTS[d], rows, cols);
            kweight w = {wd, DTS[d], rows, cols, 0, 0};
            float *deq = malloc((size_t)cols * 4);
            for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
                int n = ns[k];
                if ((size_t)n * rows * cols > 20000000u) continue; /* keep the ASan run short */
                float *x = make_x(n, cols);
                size_t ny = (size_t)n * rows;
                float *ya = malloc(ny * 4), *ys = malloc(ny * 4), *yv = malloc(ny * 4);
                for (size_t i = 0; i < ny; i++) ya[i] = 777.f;
                run("amx", pool, &w, x, n, ya);
                run("scalar", pool, &w, x, n, ys);
                run("vnni", pool, &w, x, n, yv);
                for (int r = 0; r < rows; r++) {
                    k_row_to_f32(&w, r, deq);
                    for (int t = 0; t < n; t++) {
                        size_t i = (size_t)t * rows + r;
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += fabs((double)deq[c] * x[(size_t)t * cols + c]);
                        /* below the threshold k_matmul takes VNNI */
                        const float *want = n >= K_AMX_MIN_N(DTS[d]) ? ys : yv;
                        if (memcmp(&ya[i], &want[i], 4) != 0)
                            fail_msg("%s %dx%d n=%d y[%d][%d]: amx %.9g %s %.9g", dtype_name(DTS[d]), rows, cols, n, t, r,
                                     ya[i], want == ys ? "scalar" : "vnni", want[i]);
                        exact += want == ys;
                        double e = fabs((double)ya[i] - yv[i]) / (mag + 1e-30);
                        if (e > worst_vnni) worst_vnni = e;
                        if (e > 1e-6)
                            fail_msg("%s %dx%d n=%d y[%d][%d]: amx %.9g vnni %.9g (sum|wx| %.3g)", dtype_name(DTS[d]), rows,
                                     cols, n, t, r, ya[i], yv[i], mag);
                        total++;
                    }
                }
                free(x), free(ya), free(ys), free(yv);
            }
            free(deq);
            free(wd);
        }
    print_message("%ld outputs: %ld by AMX, bit-identical to scalar (the rest: VNNI below the threshold); max |amx - vnni| / sum|w x| = %.3g\n", total, exact,
                  worst_vnni);
    kernels_force("scalar");
    kernels_init();
    omnic_pool_free(pool);
}

/* The AMX entry point itself for every n (including below K_AMX_MIN_N, which
 * k_matmul sends to VNNI), one thread and no pool. */
static void test_amx_small_n(void **st) {
    (void)st;
    if (!have_amx()) skip();
    int rows = 19, cols = 512;
    for (int d = 0; d < 3; d++) {
        void *wd = make_w(DTS[d], rows, cols);
        kweight w = {wd, DTS[d], rows, cols, 0, 0};
        for (int n = 1; n <= 18; n++) {
            float *x = make_x(n, cols), *ya = malloc((size_t)n * rows * 4), *ys = malloc((size_t)n * rows * 4);
            assert_int_equal(kernels_force("avx512"), 0);
            assert_int_equal(k_matmul_q_amx(NULL, &w, x, n, ya), 0);
            run("scalar", NULL, &w, x, n, ys);
            assert_memory_equal(ya, ys, (size_t)n * rows * 4);
            free(x), free(ya), free(ys);
        }
        free(wd);
    }
    kernels_force("scalar");
    kernels_init();
}

/* OMNIC_AMX=0 turns AMX off; scalar forces it off; unsupported types refuse. */
static void test_switches(void **st) {
    (void)st;
    if (!have_amx()) skip();
    setenv("OMNIC_AMX", "0", 1);
    assert_int_equal(kernels_force("avx512"), 0);
    assert_int_equal(k_amx_on, 0);
    unsetenv("OMNIC_AMX");
    assert_int_equal(kernels_force("avx512"), 0);
    assert_int_equal(k_amx_on, 1);
    assert_int_equal(k_amx_bf16_on, 0); /* opt-in only */
    setenv("OMNIC_AMX_BF16", "1", 1);
    assert_int_equal(kernels_force("avx512"), 0);
    assert_int_equal(k_amx_bf16_on, amx_bf16_available());
    unsetenv("OMNIC_AMX_BF16");
    assert_int_equal(kernels_force("scalar"), 0);
    assert_int_equal(k_amx_on, 0);
    assert_int_equal(k_amx_bf16_on, 0);
    float x[32 * 16] = {0}, y[16];
    uint16_t wb[32] = {0};
    kweight w = {wb, DT_BF16, 1, 32, 0, 0};
    assert_int_equal(k_matmul_q_amx(NULL, &w, x, 16, y), -1);
    kernels_init();
}

/* BF16 AMX. Opt-in one-term mode: against a double reference that rounds the
 * activations to bf16 the same way (tight bound), and against the fp32 FMA path
 * (the bf16 rounding of activations: bound 2^-8 of sum|w x|). Default three-term
 * mode (the LLM's prefill): against the double reference with exact activations,
 * as tight as the fp32 FMA path itself. Columns that are not a multiple of 32 and
 * row tails take the FMA path. */
static void test_amx_bf16(void **st) {
    (void)st;
    if (!have_amx() || !amx_bf16_available()) skip();
    omnic_pool *pool = omnic_pool_new(2);
    static const int shapes[][2] = {{16, 32}, {17, 96}, {40, 256}, {33, 1000}, {70, 512}};
    static const int ns[] = {16, 17, 33, 130};
    double worst_ref = 0, worst_f32 = 0, worst_split = 0, worst_fma = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        uint16_t *wb = malloc((size_t)rows * cols * 2);
        for (size_t i = 0; i < (size_t)rows * cols; i++) wb[i] = f32_to_bf16(0.05f * grand());
        kweight w = {wb, DT_BF16, rows, cols, 0, 0};
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            int n = ns[k];
            float *x = make_x(n, cols), *ya = malloc((size_t)n * rows * 4), *yf = malloc((size_t)n * rows * 4),
                  *ys = malloc((size_t)n * rows * 4);
            assert_int_equal(kernels_force("avx512"), 0);
            k_amx_on = 0;
            k_amx_bf16_on = 0;
            int ok = k_amx_bf16_ok;
            assert_int_equal(ok, 1);
            k_amx_bf16_ok = 0; /* the fp32 FMA path */
            k_matmul(pool, &w, x, n, yf);
            k_amx_bf16_ok = ok; /* default: three terms */
            k_matmul(pool, &w, x, n, ys);
            k_amx_bf16_on = 1; /* opt-in: one term */
            k_matmul(pool, &w, x, n, ya);
            for (int t = 0; t < n; t++)
                for (int r = 0; r < rows; r++) {
                    double ref = 0, exact = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double wv = bf16_to_f32(wb[(size_t)r * cols + c]), xv = x[(size_t)t * cols + c];
                        double xr = cols % 32 || r >= rows / 16 * 16 ? xv : bf16_to_f32(f32_to_bf16((float)xv));
                        ref += wv * xr;
                        exact += wv * xv;
                        mag += fabs(wv * xv);
                    }
                    float a = ya[(size_t)t * rows + r], f = yf[(size_t)t * rows + r], sp = ys[(size_t)t * rows + r];
                    double e1 = fabs(a - ref) / (mag + 1e-30), e2 = fabs((double)a - f) / (mag + 1e-30);
                    double e3 = fabs(sp - exact) / (mag + 1e-30), e4 = fabs(f - exact) / (mag + 1e-30);
                    if (e1 > worst_ref) worst_ref = e1;
                    if (e2 > worst_f32) worst_f32 = e2;
                    if (e3 > worst_split) worst_split = e3;
                    if (e4 > worst_fma) worst_fma = e4;
                    if (e1 > 1e-6 || e2 > 1.0 / 256 || e3 > 1e-6)
                        fail_msg("bf16 %dx%d n=%d y[%d][%d]: amx %.9g ref %.9g f32 path %.9g three-term %.9g exact %.9g "
                                 "(sum|wx| %.3g)",
                                 rows, cols, n, t, r, a, ref, f, sp, exact, mag);
                }
            free(x), free(ya), free(yf), free(ys);
        }
        free(wb);
    }
    print_message("bf16 AMX: max err / sum|w x|: one term %.3g vs bf16-rounded-activation reference, %.3g vs the fp32 "
                  "path; three terms %.3g vs exact (fp32 FMA path: %.3g)\n",
                  worst_ref, worst_f32, worst_split, worst_fma);
    k_amx_bf16_on = 0;
    kernels_force("scalar");
    kernels_init();
    omnic_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amx_vs_scalar_and_vnni),
        cmocka_unit_test(test_amx_small_n),
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_amx_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
