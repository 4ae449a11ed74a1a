/* test_quant.c - GGUF block formats and the quantized matmul: bit layouts of
 * hand-built Q8_0 / Q4_0 / Q4_K blocks (from the format definition, not from
 * quant.c), quantize/dequantize round-trip error bounds, the scalar quantized
 * matmul against a double reference with an activation-rounding bound, the
 * AVX-512 VNNI kernels against the scalar ones on odd shapes, and the threaded
 * k_matmul dispatch. */
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

static uint64_t rs = 88172645463325252ull;
static double urand(void) { /* [0, 1) */
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static float grand(void) { /* ~N(0, 1) */
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static int have_vnni(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static void test_dtype_rows(void **st) {
    (void)st;
    assert_int_equal(dtype_row_bytes(DT_Q8_0, 64), 68);
    assert_int_equal(dtype_row_bytes(DT_Q4_0, 96), 54);
    assert_int_equal(dtype_row_bytes(DT_Q4_K, 512), 288);
    assert_int_equal(dtype_row_bytes(DT_F16, 7), 14);
    assert_int_equal(dtype_row_bytes(DT_Q4_K, 96), -1); /* 32 * k but not 256 * k */
    assert_int_equal(dtype_row_bytes(DT_Q8_0, 33), -1);
    assert_int_equal(dtype_row_bytes(DT_Q8_0, -32), -1);
    assert_true(dtype_is_block(DT_Q4_K) && !dtype_is_block(DT_BF16));
    assert_int_equal(dtype_size(DT_Q8_0), 0);
    /* block types are not safetensors dtypes */
    assert_int_equal(dtype_from_name("Q8_0"), -1);
    assert_int_equal(dtype_from_name("BF16"), DT_BF16);
    assert_string_equal(dtype_name(DT_Q4_K), "Q4_K");
}

/* Q8_0: x = 0.5 * q with max |q| = 127 -> d = 0.5 (fp16 0x3800), qs = q. */
static void test_q8_0_layout(void **st) {
    (void)st;
    float x[32];
    int8_t q[32];
    for (int i = 0; i < 32; i++) {
        q[i] = (int8_t)((i * 37) % 255 - 127);
        if (q[i] == -128) q[i] = 0;
    }
    q[5] = -127;
    for (int i = 0; i < 32; i++) x[i] = 0.5f * q[i];
    uint8_t b[34];
    assert_int_equal(quant_row(DT_Q8_0, x, b, 32), 0);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[1], 0x38);
    for (int i = 0; i < 32; i++) assert_int_equal((int8_t)b[2 + i], q[i]);
    float y[32];
    assert_int_equal(dequant_row(DT_Q8_0, b, y, 32), 0);
    for (int i = 0; i < 32; i++) assert_true(y[i] == x[i]);
}

/* Q4_0: largest-magnitude value -4 -> d = -4 / -8 = 0.5; q = x / d + 8 in 0..15;
 * byte j = q[j] | q[j + 16] << 4. */
static void test_q4_0_layout(void **st) {
    (void)st;
    int q[32];
    for (int i = 0; i < 32; i++) q[i] = (i * 7 + 3) % 16;
    q[9] = 0; /* -4: the extreme */
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = 0.5f * (q[i] - 8);
    uint8_t b[18];
    assert_int_equal(quant_row(DT_Q4_0, x, b, 32), 0);
    assert_int_equal(b[0] | b[1] << 8, 0x3800);
    for (int j = 0; j < 16; j++) assert_int_equal(b[2 + j], q[j] | q[j + 16] << 4);
    float y[32];
    assert_int_equal(dequant_row(DT_Q4_0, b, y, 32), 0);
    for (int i = 0; i < 32; i++) assert_true(y[i] == x[i]);
    /* positive extreme: d = 4 / -8 = -0.5, so q = 0 encodes +4 */
    for (int i = 0; i < 32; i++) x[i] = i == 3 ? 4.f : 0.25f;
    assert_int_equal(quant_row(DT_Q4_0, x, b, 32), 0);
    assert_int_equal(b[0] | b[1] << 8, 0xb800); /* -0.5 */
    assert_int_equal(b[2 + 3] & 0xf, 0);
    /* all zero -> d = 0 / -8 = -0 (fp16 0x8000), every nibble 8 */
    memset(x, 0, sizeof x);
    assert_int_equal(quant_row(DT_Q4_0, x, b, 32), 0);
    assert_int_equal(b[0] | b[1] << 8, 0x8000);
    for (int j = 0; j < 16; j++) assert_int_equal(b[2 + j], 0x88);
}

/* Q4_K dequantization of a block built by hand: d = 1, dmin = 0.5, 6-bit scales
 * and mins packed as the format defines (j < 4: low 6 bits of bytes j / j + 4;
 * j >= 4: low / high nibble of byte j + 4, top 2 bits in bytes j - 4 / j). */
static void test_q4_k_layout(void **st) {
    (void)st;
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = 10 + 7 * j; /* 10..59: the j >= 4 ones need the high bits */
        m[j] = 63 - 5 * j;
    }
    uint8_t b[144] = {0};
    b[0] = 0x00, b[1] = 0x3c; /* d = 1 */
    b[2] = 0x00, b[3] = 0x38; /* dmin = 0.5 */
    uint8_t *s = b + 4;
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    int q[256];
    for (int i = 0; i < 256; i++) q[i] = (i * 5 + i / 17) % 16;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) b[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
    float y[256];
    assert_int_equal(dequant_row(DT_Q4_K, b, y, 256), 0);
    for (int i = 0; i < 256; i++) {
        int j = i / 32;
        float want = 1.0f * sc[j] * q[i] - 0.5f * m[j];
        if (y[i] != want) fail_msg("element %d: %g, want %g", i, y[i], want);
    }
    for (int j = 0; j < 8; j++) {
        int a, c;
        q4k_scale_min(j, s, &a, &c);
        assert_int_equal(a, sc[j]);
        assert_int_equal(c, m[j]);
    }
}

/* Round trips on Gaussian data with outliers. */
static void test_round_trip(void **st) {
    (void)st;
    const int n = 256 * 24;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint8_t *b = malloc((size_t)n * 2);
    for (int i = 0; i < n; i++) x[i] = grand() * (i % 97 == 0 ? 8.f : 1.f) * (i < 256 ? 1e-3f : 1.f);
    x[7] = 0.f;
    /* Q8_0: |err| <= d / 2 plus the fp16 rounding of d (rel 2^-11) times |q| <= 127 */
    assert_int_equal(quant_row(DT_Q8_0, x, b, n), 0);
    assert_int_equal(dequant_row(DT_Q8_0, b, y, n), 0);
    for (int i = 0; i < n; i += 32) {
        float amax = 0;
        for (int k = 0; k < 32; k++) amax = fmaxf(amax, fabsf(x[i + k]));
        float d = amax / 127, bound = d * 0.5f + 127 * d * 0.00049f + 1e-30f;
        for (int k = 0; k < 32; k++)
            if (fabsf(y[i + k] - x[i + k]) > bound) fail_msg("Q8_0 [%d]: %g vs %g (bound %g)", i + k, y[i + k], x[i + k], bound);
    }
    /* Q4_0: |err| <= |d| (the clamp at 15 costs one step at the opposite extreme) */
    assert_int_equal(quant_row(DT_Q4_0, x, b, n), 0);
    assert_int_equal(dequant_row(DT_Q4_0, b, y, n), 0);
    double se = 0, sx = 0;
    for (int i = 0; i < n; i += 32) {
        float amax = 0;
        for (int k = 0; k < 32; k++) amax = fmaxf(amax, fabsf(x[i + k]));
        float bound = amax / 8 * 1.002f + 1e-30f;
        for (int k = 0; k < 32; k++) {
            if (fabsf(y[i + k] - x[i + k]) > bound) fail_msg("Q4_0 [%d]: %g vs %g (bound %g)", i + k, y[i + k], x[i + k], bound);
            se += (double)(y[i + k] - x[i + k]) * (y[i + k] - x[i + k]);
            sx += (double)x[i + k] * x[i + k];
        }
    }
    double rel_q4_0 = sqrt(se / sx);
    /* Q4_K: per sub-block |err| <= its own range / 15 (a step; the 6-bit scales
     * round), and overall rms error clearly below Q4_0's on the same data */
    assert_int_equal(quant_row(DT_Q4_K, x, b, n), 0);
    assert_int_equal(dequant_row(DT_Q4_K, b, y, n), 0);
    se = 0;
    for (int i = 0; i < n; i += 32) {
        float lo = 0, hi = 0;
        for (int k = 0; k < 32; k++) lo = fminf(lo, x[i + k]), hi = fmaxf(hi, x[i + k]);
        float sbmax = 0; /* the super-block's largest sub-block range */
        for (int k = i / 256 * 256; k < i / 256 * 256 + 256; k += 32) {
            float l2 = 0, h2 = 0;
            for (int e = 0; e < 32; e++) l2 = fminf(l2, x[k + e]), h2 = fmaxf(h2, x[k + e]);
            sbmax = fmaxf(sbmax, h2 - l2);
        }
        float bound = (hi - lo) / 15 + sbmax / 63 * 2 + 1e-30f;
        for (int k = 0; k < 32; k++) {
            if (fabsf(y[i + k] - x[i + k]) > bound) fail_msg("Q4_K [%d]: %g vs %g (bound %g)", i + k, y[i + k], x[i + k], bound);
            se += (double)(y[i + k] - x[i + k]) * (y[i + k] - x[i + k]);
        }
    }
    double rel_q4_k = sqrt(se / sx);
    print_message("rms relative error: Q4_0 %.4f, Q4_K %.4f\n", rel_q4_0, rel_q4_k);
    assert_true(rel_q4_0 < 0.16);
    assert_true(rel_q4_k < rel_q4_0 && rel_q4_k < 0.11);
    /* wrong lengths are refused */
    assert_int_equal(quant_row(DT_Q4_K, x, b, 96), -1);
    assert_int_equal(dequant_row(DT_Q8_0, b, y, 31), -1);
    free(x);
    free(y);
    free(b);
}

/* rows GGUF rows of nb blocks of bs bytes (rb each) filled with a byte pattern,
 * every block's fp16 scale kept finite. */
static uint8_t *patterned_rows(int rows, size_t rb, int nb, int bs) {
    uint8_t *g = malloc(rb * rows);
    for (size_t i = 0; i < rb * rows; i++) g[i] = (uint8_t)(i * 131 + 7);
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) g[r * rb + (size_t)b * bs + 1] &= 0x3b;
    return g;
}

/* The chunked layout (quant.h) by hand: block b's scale and quants where
 * qchunk_d / qchunk_qs say, chunks of 32 blocks and a shorter last one; the
 * chunked dequantization equals GGUF's; other types are refused untouched. */
static void test_chunk_layout(void **st) {
    (void)st;
    static const int colss[] = {32, 96, 1024, 1056, 2080};
    for (int d = 0; d < 2; d++)
        for (size_t ci = 0; ci < sizeof colss / sizeof *colss; ci++) {
            omnic_dtype dt = d ? DT_Q4_0 : DT_Q8_0;
            int cols = colss[ci], nb = cols / 32, rows = 3, bs = d ? 18 : 34;
            size_t rb = (size_t)dtype_row_bytes(dt, cols);
            uint8_t *g = patterned_rows(rows, rb, nb, bs), *c = malloc(rb * rows);
            memcpy(c, g, rb * rows);
            assert_int_equal(quant_chunk_rows(dt, c, rows, cols), 0);
            for (int r = 0; r < rows; r++) {
                const uint8_t *gr = g + r * rb, *cr = c + r * rb;
                size_t pos = 0;
                for (int c0 = 0; c0 < nb; c0 += 32) { /* walk the chunks as documented */
                    int k = nb - c0 < 32 ? nb - c0 : 32;
                    for (int j = 0; j < k; j++) {
                        assert_int_equal(qchunk_d(c0 + j, bs), pos + 2 * (size_t)j);
                        assert_memory_equal(cr + pos + 2 * j, gr + (size_t)(c0 + j) * bs, 2);
                    }
                    pos += 2 * (size_t)k;
                    for (int j = 0; j < k; j++, pos += (size_t)bs - 2) {
                        assert_int_equal(qchunk_qs(c0 + j, nb, bs), pos);
                        assert_memory_equal(cr + pos, gr + (size_t)(c0 + j) * bs + 2, (size_t)bs - 2);
                    }
                }
                assert_int_equal(pos, rb);
                float *a = malloc((size_t)cols * 4), *b = malloc((size_t)cols * 4);
                assert_int_equal(dequant_row(dt, gr, a, cols), 0);
                assert_int_equal(dequant_row_in(dt, KW_CHUNKED, c, r, b, cols), 0);
                assert_memory_equal(a, b, (size_t)cols * 4);
                free(a);
                free(b);
            }
            free(g);
            free(c);
        }
    uint8_t k4[144] = {1, 2, 3};
    assert_int_equal(quant_chunk_rows(DT_Q4_K, k4, 1, 256), -1);
    assert_int_equal(k4[0] + k4[1] + k4[2], 6);
    assert_int_equal(quant_chunk_rows(DT_Q8_0, k4, 1, 33), -1);
}

/* Rows interleaved by 16 (quant.h) by hand: walking a group's block pairs as
 * documented finds every row's scale and quant bytes where qx16_d / qx16_q say,
 * with odd block counts (an unpaired last block); dequant_row_in equals GGUF's
 * row by row (an unknown layout is refused); the same for Q4_K's interleaved
 * super-blocks; row counts that are not a multiple of 16 and other types are
 * refused untouched. */
static void test_x16_layout(void **st) {
    (void)st;
    static const int colss[] = {32, 64, 96, 1056, 2080};
    for (int d = 0; d < 2; d++)
        for (size_t ci = 0; ci < sizeof colss / sizeof *colss; ci++) {
            omnic_dtype dt = d ? DT_Q4_0 : DT_Q8_0;
            int cols = colss[ci], nb = cols / 32, rows = 32, bs = d ? 18 : 34;
            size_t rb = (size_t)dtype_row_bytes(dt, cols);
            uint8_t *g = patterned_rows(rows, rb, nb, bs), *c = malloc(rb * rows);
            memcpy(c, g, rb * rows);
            assert_int_equal(quant_x16_rows(dt, c, rows, cols), 0);
            for (int g0 = 0; g0 < rows; g0 += 16) {
                const uint8_t *grp = c + (size_t)g0 * rb;
                size_t pos = 0;
                for (int b0 = 0; b0 < nb; b0 += 2) {
                    int k = nb - b0 < 2 ? 1 : 2; /* blocks in this pair */
                    for (int u = 0; u < k; u++)
                        for (int j = 0; j < 16; j++) {
                            assert_int_equal(qx16_d(b0 + u, bs) + 2 * (size_t)j, pos + 32 * (size_t)u + 2 * (size_t)j);
                            assert_memory_equal(grp + pos + 32 * u + 2 * j, g + (size_t)(g0 + j) * rb + (size_t)(b0 + u) * bs, 2);
                        }
                    pos += 32 * (size_t)k;
                    for (int u = 0; u < k; u++)
                        for (int v = 0; v < (bs - 2) / 4; v++, pos += 64)
                            for (int j = 0; j < 16; j++)
                                for (int e = 0; e < 4; e++) {
                                    assert_int_equal(qx16_q(b0 + u, nb, bs, j, 4 * v + e), pos + 4 * (size_t)j + (size_t)e);
                                    assert_int_equal(grp[pos + 4 * j + e], g[(size_t)(g0 + j) * rb + (size_t)(b0 + u) * bs + 2 + 4 * v + e]);
                                }
                }
                assert_int_equal(pos, 16 * rb);
                float *a = malloc((size_t)cols * 4), *b = malloc((size_t)cols * 4);
                for (int j = 0; j < 16; j++) {
                    assert_int_equal(dequant_row(dt, g + (size_t)(g0 + j) * rb, a, cols), 0);
                    assert_int_equal(dequant_row_in(dt, KW_X16, c, g0 + j, b, cols), 0);
                    assert_memory_equal(a, b, (size_t)cols * 4);
                }
                assert_int_equal(dequant_row_in(dt, 3, c, g0, b, cols), -1);
                free(a);
                free(b);
            }
            memcpy(c, g, rb * rows);
            assert_int_equal(quant_x16_rows(dt, c, 24, cols), -1);
            assert_memory_equal(c, g, rb * rows);
            free(g);
            free(c);
        }
    /* Q4_K: per super-block the 16 rows' d, their dmin, the 12 scale bytes as
     * 12 x 16 (row j at 16k + j), then 32 vectors of 4 quant bytes per row */
    for (int nsb = 1; nsb <= 3; nsb++) {
        int cols = 256 * nsb, rows = 32;
        size_t rb = 144 * (size_t)nsb;
        uint8_t *g = patterned_rows(rows, rb, nsb, 144), *c = malloc(rb * rows);
        for (int r = 0; r < rows; r++) /* finite fp16 d and dmin */
            for (int b = 0; b < nsb; b++) g[r * rb + (size_t)b * 144 + 3] &= 0x3b;
        memcpy(c, g, rb * rows);
        assert_int_equal(quant_x16_rows(DT_Q4_K, c, rows, cols), 0);
        for (int g0 = 0; g0 < rows; g0 += 16) {
            const uint8_t *grp = c + (size_t)g0 * rb;
            for (int b = 0; b < nsb; b++)
                for (int j = 0; j < 16; j++) {
                    const uint8_t *src = g + (size_t)(g0 + j) * rb + (size_t)b * 144, *sb = grp + (size_t)b * 2304;
                    assert_memory_equal(sb + 2 * j, src, 2);
                    assert_memory_equal(sb + 32 + 2 * j, src + 2, 2);
                    for (int k = 0; k < 12; k++) assert_int_equal(sb[64 + 16 * k + j], src[4 + k]);
                    for (int v = 0; v < 32; v++) assert_memory_equal(sb + 256 + 64 * v + 4 * j, src + 16 + 4 * v, 4);
                }
            float *a = malloc((size_t)cols * 4), *b = malloc((size_t)cols * 4);
            for (int j = 0; j < 16; j++) {
                assert_int_equal(dequant_row(DT_Q4_K, g + (size_t)(g0 + j) * rb, a, cols), 0);
                assert_int_equal(dequant_row_in(DT_Q4_K, KW_X16, c, g0 + j, b, cols), 0);
                assert_memory_equal(a, b, (size_t)cols * 4);
            }
            assert_int_equal(dequant_row_in(DT_Q4_K, KW_CHUNKED, c, g0, b, cols), -1);
            free(a);
            free(b);
        }
        memcpy(c, g, rb * rows);
        assert_int_equal(quant_x16_rows(DT_Q4_K, c, 24, cols), -1);
        assert_memory_equal(c, g, rb * rows);
        free(g);
        free(c);
    }
    float f[32] = {0};
    assert_int_equal(quant_x16_rows(DT_F32, f, 16, 2), -1);
}

/* A random quantized weight [rows][cols] and its exact dequantized values. */
typedef struct { kweight w; void *data; float *deq; } qw;

static qw make_qw(omnic_dtype dt, int rows, int cols) {
    qw t;
    size_t rb = (size_t)dtype_row_bytes(dt, cols);
    t.data = malloc(rb * rows + 1);
    t.deq = malloc((size_t)rows * cols * 4);
    float *row = malloc((size_t)cols * 4);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) row[c] = grand() * (r % 3 == 0 ? 0.1f : 1.f) + (c % 50 == 0 ? 0.3f : 0.f);
        assert_int_equal(quant_row(dt, row, (char *)t.data + rb * r, cols), 0);
        assert_int_equal(dequant_row(dt, (char *)t.data + rb * r, t.deq + (size_t)r * cols, cols), 0);
    }
    free(row);
    t.w = (kweight){t.data, dt, rows, cols, 0, 0};
    return t;
}

static float *rand_x(size_t n) {
    float *x = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = grand() * (i % 31 == 0 ? 4.f : 1.f);
    return x;
}

/* Quantize activations with a level and run its rows kernel over [r0, r1). */
static void run_level(const qmm_level *lv, const kweight *w, const float *x, int n, float *y, int r0, int r1) {
    size_t xs = (lv->act_bytes(w) + 63) & ~(size_t)63;
    void *xq = aligned_alloc(64, xs * n);
    for (int t = 0; t < n; t++) lv->quantize_act(w, x + (size_t)t * w->cols, (char *)xq + xs * t);
    lv->rows(w, xq, xs, n, y, r0, r1);
    free(xq);
}

static const omnic_dtype QDT[3] = {DT_Q8_0, DT_Q4_0, DT_Q4_K};

/* Scalar quantized matmul vs double sum of dequantized weights x exact x: the
 * difference is the activation rounding, at most sum_c |w_c| * dx_b / 2. */
static void test_scalar_vs_reference(void **st) {
    (void)st;
    static const int shapes[][3] = {{5, 32, 1}, {7, 96, 3}, {16, 256, 2}, {3, 512, 5}, {9, 768, 1}};
    for (int d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
            if (dtype_row_bytes(QDT[d], cols) < 0) continue;
            qw t = make_qw(QDT[d], rows, cols);
            float *x = rand_x((size_t)n * cols), *y = malloc((size_t)n * rows * 4);
            run_level(&qmm_scalar, &t.w, x, n, y, 0, rows);
            for (int k = 0; k < n; k++)
                for (int r = 0; r < rows; r++) {
                    const float *xt = x + (size_t)k * cols, *wr = t.deq + (size_t)r * cols;
                    double ref = 0, bound = 1e-5;
                    for (int c = 0; c < cols; c++) ref += (double)wr[c] * xt[c];
                    for (int b = 0; b < cols; b += 32) {
                        double amax = 0, sw = 0;
                        for (int e = 0; e < 32; e++) {
                            amax = fmax(amax, fabs(xt[b + e]));
                            sw += fabs(wr[b + e]);
                        }
                        bound += sw * amax / 127 * 0.5 * 1.0001 + 1e-6 * sw * amax;
                    }
                    double got = y[(size_t)k * rows + r];
                    if (fabs(got - ref) > bound)
                        fail_msg("%s %dx%d n=%d y[%d][%d] = %.7g, ref %.7g, bound %.3g", dtype_name(QDT[d]), rows, cols, n, k,
                                 r, got, ref, bound);
                }
            free(x);
            free(y);
            free(t.data);
            free(t.deq);
        }
}

/* AVX-512 VNNI vs scalar: same quantized activations, so only float summation
 * order differs. Odd row counts (tails of the 4-row tiles), token counts 1..9
 * (tails of the 4-token tiles), block counts that are not multiples of 2 / 4
 * (group tails), sub-ranges of rows (nothing written outside). */
static void test_avx512_vs_scalar(void **st) {
    (void)st;
    if (!have_vnni()) {
        print_message("no AVX-512 VNNI here: skipped\n");
        skip();
    }
    static const int shapes[][2] = {{1, 32}, {3, 64}, {5, 96}, {4, 160}, {7, 224}, {13, 256}, {6, 288}, {9, 512},
                                    {17, 800}, {5, 1280}, {2, 2304}, {2, 1056}, {3, 4128}};
    static const int ns[] = {1, 2, 3, 4, 5, 7, 9, 17};
    /* both decode streaming modes (k_decode_pf, matmul_impl.h), on GGUF's row
     * layout, the chunked one and rows interleaved by 16 (quant.h; Q8_0 and
     * Q4_0: there the row counts are rounded up to whole groups and the row
     * sub-range cuts the first and last), against scalar on GGUF's layout */
    int saved = k_decode_pf;
    for (int dm = 0; dm < 18; dm++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int d = dm % 3, lay = dm / 6 == 2 ? KW_X16 : dm / 6 == 1 ? KW_CHUNKED : KW_GGUF, chunked = lay != KW_GGUF;
            k_decode_pf = (dm / 3) % 2 ? K_DECODE_PF_AMD : 0;
            int rows = shapes[s][0], cols = shapes[s][1];
            if (lay == KW_X16) rows = (rows + 15) / 16 * 16;
            if (dtype_row_bytes(QDT[d], cols) < 0 || (lay == KW_CHUNKED && QDT[d] == DT_Q4_K)) continue;
            qw t = make_qw(QDT[d], rows, cols);
            kweight wc = t.w;
            void *cdata = NULL;
            if (chunked) {
                size_t bytes = (size_t)rows * (size_t)dtype_row_bytes(QDT[d], cols);
                cdata = malloc(bytes);
                memcpy(cdata, t.data, bytes);
                assert_int_equal(lay == KW_X16 ? quant_x16_rows(QDT[d], cdata, rows, cols) : quant_chunk_rows(QDT[d], cdata, rows, cols), 0);
                wc.data = cdata, wc.layout = lay;
            }
            for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
                int n = ns[k];
                float *x = rand_x((size_t)n * cols), *ya = malloc((size_t)n * rows * 4), *yb = malloc((size_t)n * rows * 4);
                int r0 = rows > 4 ? 1 : 0, r1 = rows > 5 ? rows - 1 : rows;
                for (int i = 0; i < n * rows; i++) ya[i] = yb[i] = 777.f;
                run_level(&qmm_scalar, &t.w, x, n, yb, r0, r1);
                run_level(&qmm_avx512, &wc, x, n, ya, r0, r1);
                if (chunked) { /* scalar reads the rearranged rows with the same arithmetic */
                    float *yc = malloc((size_t)n * rows * 4);
                    for (int i = 0; i < n * rows; i++) yc[i] = 777.f;
                    run_level(&qmm_scalar, &wc, x, n, yc, r0, r1);
                    assert_memory_equal(yc, yb, (size_t)n * rows * 4);
                    free(yc);
                }
                for (int tt = 0; tt < n; tt++)
                    for (int r = 0; r < rows; r++) {
                        float a = ya[(size_t)tt * rows + r], b = yb[(size_t)tt * rows + r];
                        if (r < r0 || r >= r1) {
                            if (a != 777.f) fail_msg("%s: y[%d][%d] written outside [%d,%d)", dtype_name(QDT[d]), tt, r, r0, r1);
                            continue;
                        }
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += fabs(t.deq[(size_t)r * cols + c] * x[(size_t)tt * cols + c]);
                        if (fabs(a - b) > 2e-6 * mag + 1e-6)
                            fail_msg("%s %dx%d n=%d y[%d][%d]: avx512 %.8g scalar %.8g (sum|wx| %.3g)", dtype_name(QDT[d]), rows,
                                     cols, n, tt, r, a, b, mag);
                    }
                free(x);
                free(ya);
                free(yb);
            }
            free(cdata);
            free(t.data);
            free(t.deq);
        }
    k_decode_pf = saved;
}

/* Activation quantization gives the same bytes at both levels (checked through
 * a Q8_0 weight that is one-hot: y = dw * dx * q[c] exactly). */
static void test_act_same_values(void **st) {
    (void)st;
    if (!have_vnni()) skip();
    int cols = 96, rows = cols;
    size_t rb = (size_t)dtype_row_bytes(DT_Q8_0, cols);
    uint8_t *w = calloc(rows, rb);
    for (int r = 0; r < rows; r++) {
        uint8_t *blk = w + r * rb + (r / 32) * 34;
        blk[0] = 0x00, blk[1] = 0x3c; /* d = 1 */
        blk[2 + r % 32] = 1;
    }
    kweight kw = {w, DT_Q8_0, rows, cols, 0, 0};
    float *x = rand_x(cols), ya[96], yb[96];
    x[3] = 0.5f * x[4]; /* ties and values of every size */
    run_level(&qmm_scalar, &kw, x, 1, yb, 0, rows);
    run_level(&qmm_avx512, &kw, x, 1, ya, 0, rows);
    for (int r = 0; r < rows; r++) assert_true(ya[r] == yb[r]);
    free(w);
    free(x);
}

/* k_matmul on a pool at both levels, and k_row_to_f32 on quantized rows. */
static void test_threaded_dispatch(void **st) {
    (void)st;
    omnic_pool *pool = omnic_pool_new(2);
    assert_non_null(pool);
    for (int lvl = 0; lvl < 2; lvl++) {
        if (lvl && !have_vnni()) break;
        assert_int_equal(kernels_force(lvl ? "avx512" : "scalar"), 0);
        assert_ptr_equal(k_qmm, lvl ? &qmm_avx512 : &qmm_scalar);
        for (int d = 0; d < 3; d++) {
            int rows = 37, cols = 512, n = 6;
            qw t = make_qw(QDT[d], rows, cols);
            float *x = rand_x((size_t)n * cols), *y = malloc((size_t)n * rows * 4), *yr = malloc((size_t)n * rows * 4);
            k_matmul(pool, &t.w, x, n, y);
            run_level(&qmm_scalar, &t.w, x, n, yr, 0, rows);
            for (int i = 0; i < n * rows; i++) assert_true(fabsf(y[i] - yr[i]) <= 1e-4f * (1 + fabsf(yr[i])));
            float row[512];
            k_row_to_f32(&t.w, 5, row);
            assert_memory_equal(row, t.deq + 5 * cols, cols * 4);
            {
                size_t bytes = (size_t)rows * (size_t)dtype_row_bytes(QDT[d], cols);
                void *orig = malloc(bytes);
                memcpy(orig, t.data, bytes);
                if (QDT[d] != DT_Q4_K) { /* the same weight in chunked rows (Q4_K has none) */
                    assert_int_equal(quant_chunk_rows(QDT[d], t.data, rows, cols), 0);
                    t.w.layout = KW_CHUNKED;
                    k_matmul(pool, &t.w, x, n, y);
                    for (int i = 0; i < n * rows; i++) assert_true(fabsf(y[i] - yr[i]) <= 1e-4f * (1 + fabsf(yr[i])));
                    k_row_to_f32(&t.w, 5, row);
                    assert_memory_equal(row, t.deq + 5 * cols, cols * 4);
                }
                /* and interleaved by 16: the first 32 of its rows (two groups), the
                 * pool splitting them on group boundaries */
                memcpy(t.data, orig, bytes);
                kweight wx = t.w;
                wx.rows = 32, wx.layout = KW_X16;
                assert_int_equal(quant_x16_rows(QDT[d], t.data, 32, cols), 0);
                for (int i = 0; i < n * rows; i++) y[i] = 777.f;
                k_matmul(pool, &wx, x, n, y);
                for (int tt = 0; tt < n; tt++)
                    for (int r = 0; r < 32; r++) {
                        float a = y[tt * 32 + r];
                        run_level(&qmm_scalar, &wx, x + (size_t)tt * cols, 1, yr, r, r + 1);
                        assert_true(fabsf(a - yr[r]) <= 1e-4f * (1 + fabsf(yr[r])));
                    }
                for (int r = 0; r < 32; r += 5) {
                    k_row_to_f32(&wx, r, row);
                    assert_memory_equal(row, t.deq + (size_t)r * cols, cols * 4);
                }
                free(orig);
            }
            free(x);
            free(y);
            free(yr);
            free(t.data);
            free(t.deq);
        }
    }
    kernels_force("scalar");
    kernels_init();
    omnic_pool_free(pool);
}

/* k_matmul_multi (one pool run for several weights of the same input) gives
 * exactly what one k_matmul per weight gives, at both levels: quantized weights
 * in GGUF's and the interleaved layout, BF16, few rows (fused) and n = 8 (one
 * k_matmul each), and a mix of types (never fused). */
static void test_matmul_multi(void **st) {
    (void)st;
    omnic_pool *pool = omnic_pool_new(2);
    assert_non_null(pool);
    static const omnic_dtype dts[] = {DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_BF16};
    static const int rowss[3] = {48, 16, 32}, ns[] = {1, 3, 7, 8};
    const int cols = 512;
    for (int lvl = 0; lvl < 2; lvl++) {
        if (lvl && !have_vnni()) break;
        assert_int_equal(kernels_force(lvl ? "avx512" : "scalar"), 0);
        for (int d = 0; d < 5; d++) /* d == 4: Q4_0, Q8_0, Q4_0 */
            for (int x16 = 0; x16 < 2; x16++) {
                if (x16 && (d == 3 || d == 4)) continue;
                qw t[3];
                const kweight *w[3];
                for (int i = 0; i < 3; i++) {
                    omnic_dtype dt = d < 4 ? dts[d] : i == 1 ? DT_Q8_0 : DT_Q4_0;
                    t[i] = make_qw(dt, rowss[i], cols);
                    if (x16) {
                        assert_int_equal(quant_x16_rows(dt, t[i].data, rowss[i], cols), 0);
                        t[i].w.layout = KW_X16;
                    }
                    w[i] = &t[i].w;
                }
                for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
                    int n = ns[k];
                    float *x = rand_x((size_t)n * cols), *ya[3], *yb[3];
                    for (int i = 0; i < 3; i++) {
                        ya[i] = malloc((size_t)n * rowss[i] * 4);
                        yb[i] = malloc((size_t)n * rowss[i] * 4);
                        for (int e = 0; e < n * rowss[i]; e++) ya[i][e] = 777.f;
                        k_matmul(pool, w[i], x, n, yb[i]);
                    }
                    k_matmul_multi(pool, 3, w, x, n, ya);
                    for (int i = 0; i < 3; i++) {
                        if (memcmp(ya[i], yb[i], (size_t)n * rowss[i] * 4))
                            fail_msg("level %d types %d x16 %d n %d: weight %d differs from k_matmul", lvl, d, x16, n, i);
                        free(ya[i]);
                        free(yb[i]);
                    }
                    free(x);
                }
                for (int i = 0; i < 3; i++) {
                    free(t[i].data);
                    free(t[i].deq);
                }
            }
    }
    kernels_force("scalar");
    kernels_init();
    omnic_pool_free(pool);
}

/* The layout a loader asks for (k_layout_for): interleaved by 16 for Q8_0/Q4_0
 * where the VNNI kernels do the prefill (AVX-512 VNNI, no AMX) and the rows
 * make whole groups, chunked otherwise; other types keep GGUF's; OMNIC_QX16
 * forces either way. */
static void test_layout_policy(void **st) {
    (void)st;
    unsetenv("OMNIC_QX16");
    assert_int_equal(kernels_force("scalar"), 0);
    assert_int_equal(k_layout_for(DT_Q4_0, 32), KW_CHUNKED);
    assert_int_equal(k_layout_for(DT_F32, 32), KW_GGUF);
    assert_int_equal(k_layout_for(DT_Q4_K, 32), KW_GGUF);
    if (have_vnni()) {
        assert_int_equal(kernels_force("avx512"), 0);
        int want = k_amx_on ? KW_CHUNKED : KW_X16;
        assert_int_equal(k_layout_for(DT_Q4_0, 4096), want);
        assert_int_equal(k_layout_for(DT_Q8_0, 4096), want);
        assert_int_equal(k_layout_for(DT_Q8_0, 4104), KW_CHUNKED);
        assert_int_equal(k_layout_for(DT_Q4_K, 4096), k_amx_on ? KW_GGUF : KW_X16);
        assert_int_equal(k_layout_for(DT_Q4_K, 4104), KW_GGUF);
        assert_int_equal(k_layout_for(DT_BF16, 4096), KW_GGUF);
    }
    setenv("OMNIC_QX16", "1", 1);
    assert_int_equal(k_layout_for(DT_Q4_0, 48), KW_X16);
    assert_int_equal(k_layout_for(DT_Q4_0, 40), KW_CHUNKED);
    assert_int_equal(k_layout_for(DT_Q4_K, 48), KW_X16);
    setenv("OMNIC_QX16", "0", 1);
    assert_int_equal(k_layout_for(DT_Q8_0, 48), KW_CHUNKED);
    assert_int_equal(k_layout_for(DT_Q4_K, 48), KW_GGUF);
    unsetenv("OMNIC_QX16");
    if (kernels_force("avx512") != 0) kernels_force("scalar");
}

int main(void) {
    kernels_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_rows),         cmocka_unit_test(test_q8_0_layout),
        cmocka_unit_test(test_q4_0_layout),        cmocka_unit_test(test_q4_k_layout),
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_scalar_vs_reference),
        cmocka_unit_test(test_avx512_vs_scalar),   cmocka_unit_test(test_act_same_values),
        cmocka_unit_test(test_threaded_dispatch),  cmocka_unit_test(test_chunk_layout),
        cmocka_unit_test(test_x16_layout),         cmocka_unit_test(test_layout_policy),
        cmocka_unit_test(test_matmul_multi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
