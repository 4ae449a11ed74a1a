/* test_audio.c - unit tests of the audio front end's pieces: the mixed-radix FFT
 * against a direct long-double DFT (400, 1024 and awkward lengths), the Slaney
 * filterbank check values of audio.md §3.2, the row/code counts and chunking of
 * §2.3 / §3.3 / §5.5, the resampler's length rule and identity, the argument
 * checks of the mel functions, and the decoder's errors on bad memory input.
 * (Decoding real files and comparisons with NumPy/resampy/transformers.js are in
 * tests/integration/test_audio.py.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/fft.h"
#include "media/audio.h"
#include "media/audio_info.h"
#include "models/mel.h"
#include "omnic.h"

static uint64_t lcg = 99;
static double unif(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * 0x1.0p-53 * 2 - 1;
}

static void check_fft(int n) {
    fft_plan p;
    assert_int_equal(fft_plan_init(&p, n), 0);
    double *x = malloc(sizeof *x * 4 * n), *w = x + 2 * n;
    double *ref = malloc(sizeof *ref * 2 * n);
    for (int i = 0; i < 2 * n; i++) x[i] = unif();
    for (int k = 0; k < n; k++) {
        long double re = 0, im = 0;
        for (int m = 0; m < n; m++) {
            long ph = (long)k * m % n;
            long double a = -2.0L * 3.14159265358979323846264338327950288L * ph / n;
            re += x[2 * m] * cosl(a) - x[2 * m + 1] * sinl(a);
            im += x[2 * m] * sinl(a) + x[2 * m + 1] * cosl(a);
        }
        ref[2 * k] = (double)re;
        ref[2 * k + 1] = (double)im;
    }
    fft_forward(&p, x, w);
    double err = 0;
    for (int i = 0; i < 2 * n; i++) err = fmax(err, fabs(x[i] - ref[i]));
    if (err > 1e-12 * sqrt((double)n)) fprintf(stderr, "fft %d: max error %g\n", n, err);
    assert_true(err <= 1e-12 * sqrt((double)n));
    free(x);
    free(ref);
    fft_plan_free(&p);
}

static void test_fft(void **st) {
    (void)st;
    int sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 25, 49, 97, 200, 400, 1000, 1024, 7 * 11 * 13, 2 * 3 * 5 * 7};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) check_fft(sizes[i]);
    fft_plan p;
    assert_int_not_equal(fft_plan_init(&p, 0), 0);
}

/* §3.2 check values (16 kHz, n_fft 400, 128 bins). */
static void test_filterbank(void **st) {
    (void)st;
    float *W = malloc(sizeof *W * 128 * 201);
    assert_int_equal(mel_filterbank_slaney(16000, 400, 128, 0, 8000, W), 0);
    int nz0 = 0;
    for (int k = 0; k < 201; k++) nz0 += W[k] != 0;
    assert_int_equal(nz0, 1);
    assert_true(fabs(W[1] - 0.0123740) < 5e-8);
    double s127 = 0;
    for (int k = 191; k <= 199; k++) {
        assert_true(W[127 * 201 + k] > 0);
        s127 += W[127 * 201 + k];
    }
    for (int k = 0; k < 191; k++) assert_true(W[127 * 201 + k] == 0);
    assert_true(fabs(s127 - 0.0249360) < 5e-7);
    for (int b = 0; b < 128; b++) {
        double s = 0;
        for (int k = 0; k < 201; k++) {
            assert_true(W[b * 201 + k] >= 0);
            s += W[b * 201 + k];
        }
        assert_true(s > 0);
    }
    assert_int_not_equal(mel_filterbank_slaney(16000, 400, 128, 100, 50, W), 0);
    free(W);
}

static void test_counts(void **st) {
    (void)st;
    /* §3.3 */
    assert_int_equal(omnic_audio_continuous_rows(3 * 16000), 75);
    assert_int_equal(omnic_audio_continuous_rows(480000 + 1), 750);
    assert_int_equal(omnic_audio_continuous_rows(45 * 16000), 1125);
    assert_int_equal(omnic_audio_continuous_rows(100 * 16000), 2500);
    assert_int_equal(omnic_audio_continuous_rows(320), 0);
    assert_int_equal(omnic_audio_continuous_rows(480000 + 321), 751);
    /* §5.5 */
    assert_int_equal(omnic_audio_discrete_codes(16000), 25);
    assert_int_equal(omnic_audio_discrete_codes(3 * 16000), 75);
    assert_int_equal(omnic_audio_discrete_codes(80 * 16000), 2000);
    assert_int_equal(omnic_audio_discrete_codes(100 * 16000), 2500);
    /* §2.3 chunks and the tail rule */
    int64_t ch[4][2];
    assert_int_equal(omnic_audio_s3_chunks(80 * 16000, ch, 4), 1);
    assert_int_equal(omnic_audio_s3_chunks(100 * 16000, ch, 4), 2);
    assert_int_equal(ch[1][0], 1280000);
    assert_int_equal(ch[1][1], 320000);
    assert_int_equal(omnic_audio_s3_chunks(1280000 + 15999, ch, 4), 1);
    assert_int_equal(ch[0][1], 1295999);
    assert_int_equal(omnic_audio_s3_chunks(1280000 + 16000, ch, 4), 2);
    assert_int_equal(omnic_audio_s3_chunks(2 * 1280000 + 100, ch, 4), 2);
    assert_int_equal(ch[1][1], 1280100);
    assert_int_equal(omnic_audio_s3_chunks(0, ch, 4), 0);
}

static void test_resample_rules(void **st) {
    (void)st;
    float x[1000], *y;
    int64_t ny;
    for (int i = 0; i < 1000; i++) x[i] = (float)unif();
    assert_int_equal(omnic_resample(x, 1000, 16000, 16000, &y, &ny), 0);
    assert_int_equal(ny, 1000);
    assert_memory_equal(x, y, sizeof x);
    free(y);
    /* ceil(n * 16000 / sr), including where floor and ceil differ */
    int rates[] = {44100, 48000, 22050, 8000, 11025, 1000, 768000};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        assert_int_equal(omnic_resample(x, 1000, rates[i], 16000, &y, &ny), 0);
        assert_int_equal(ny, (int64_t)ceil(1000.0 * 16000 / rates[i]));
        for (int64_t k = 0; k < ny; k++) assert_true(isfinite(y[k]) && fabsf(y[k]) < 4);
        free(y);
    }
    assert_int_not_equal(omnic_resample(x, 0, 44100, 16000, &y, &ny), 0);
    assert_int_not_equal(omnic_resample(x, 10, 0, 16000, &y, &ny), 0);
}

static void test_mel_args(void **st) {
    (void)st;
    static float x[480001];
    float *o = NULL;
    int T;
    static float out[128 * 3000];
    assert_int_not_equal(mel_whisper_chunk(x, 0, out), 0);
    assert_int_not_equal(mel_whisper_chunk(x, 480001, out), 0);
    assert_int_not_equal(mel_s3(x, 200, &o, &T), 0);
    /* silence: every value is the floor, (log10(1e-10) + 4) / 4 */
    assert_int_equal(mel_whisper_chunk(x, 400, out), 0);
    for (int i = 0; i < 128 * 3000; i++) assert_true(fabsf(out[i] - (-1.5f)) < 1e-6f);
    assert_int_equal(mel_s3(x, 201, &o, &T), 0);
    assert_int_equal(T, 1);
    free(o);
}

static void test_decode_bad(void **st) {
    (void)st;
    float *y = NULL;
    int64_t n = 0;
    uint8_t junk[3000];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(unif() * 127 + 128);
    assert_int_not_equal(omnic_audio_decode(junk, sizeof junk, "junk.bin", 0, &y, &n), 0);
    assert_non_null(strstr(omnic_errmsg(), "junk.bin"));
    assert_null(y);
    assert_int_not_equal(omnic_audio_decode(junk, 0, "empty.wav", 0, &y, &n), 0);
    assert_non_null(strstr(omnic_errmsg(), "empty.wav"));
    assert_int_not_equal(omnic_audio_load("/nonexistent/x.wav", 0, &y, &n), 0);
    assert_non_null(strstr(omnic_errmsg(), "/nonexistent/x.wav"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fft),
        cmocka_unit_test(test_filterbank),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_resample_rules),
        cmocka_unit_test(test_mel_args),
        cmocka_unit_test(test_decode_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
