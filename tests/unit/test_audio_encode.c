/* test_audio_encode.c - API edge cases of src/media/audio_encode.c (the decoded
 * content of every format is checked by tests/integration/test_audio_encode.py):
 * the int16 rule, argument and size limits (no read, no allocation), empty input,
 * stream misuse, streamed bytes equal to one-shot for wav/pcm, MIME/ext table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnic.h"
#include "media/audio_encode.h"

static const char *const ALL[] = {"wav", "pcm", "mp3", "flac", "opus", "ogg", "aac"};

static void test_s16(void **st) {
    (void)st;
    assert_int_equal(omnic_audio_s16(0.0f), 0);
    assert_int_equal(omnic_audio_s16(1.0f), 32767);
    assert_int_equal(omnic_audio_s16(-1.0f), -32767);
    assert_int_equal(omnic_audio_s16(2.0f), 32767);
    assert_int_equal(omnic_audio_s16(-2.0f), -32767);
    assert_int_equal(omnic_audio_s16(0.5f), 16383);   /* 16383.5 truncated */
    assert_int_equal(omnic_audio_s16(-0.5f), -16383);
    assert_int_equal(omnic_audio_s16(NAN), 0);
    assert_int_equal(omnic_audio_s16(INFINITY), 32767);
    assert_int_equal(omnic_audio_s16(-INFINITY), -32767);
    assert_int_equal(omnic_audio_s16(1e-9f), 0);
}

static void test_args(void **st) {
    (void)st;
    uint8_t *out = (uint8_t *)1;
    size_t len = 7;
    float x[4] = {0};
    assert_int_equal(omnic_audio_encode(x, 4, 24000, "wma", &out, &len, NULL), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "wma"));
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(omnic_audio_encode(x, 4, 24000, NULL, &out, &len, NULL), OMNIC_EINVAL);
    assert_int_equal(omnic_audio_encode(x, 4, 100, "mp3", &out, &len, NULL), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "mp3"));
    assert_int_equal(omnic_audio_encode(x, -1, 24000, "wav", &out, &len, NULL), OMNIC_EINVAL);
    /* far too long: refused before reading x */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(omnic_audio_encode(x, (int64_t)24000 * OMNIC_AUDIO_ENC_MAX_SECONDS + 1, 24000, ALL[i],
                                            &out, &len, NULL), OMNIC_EINVAL);
        assert_non_null(strstr(omnic_errmsg(), ALL[i]));
        assert_int_equal(omnic_audio_encode(x, INT64_MAX, 24000, ALL[i], &out, &len, NULL), OMNIC_EINVAL);
    }
    assert_int_equal(omnic_audio_encode(NULL, 4, 24000, "flac", &out, &len, NULL), OMNIC_EINVAL);
    assert_int_equal(omnic_audio_encode(x, 4, 24000, "wav", NULL, &len, NULL), OMNIC_EINVAL);
    assert_int_equal(omnic_audio_format_known("OPUS"), 1);
    assert_int_equal(omnic_audio_format_known("m4a"), 0);
    assert_string_equal(omnic_audio_format_mime("mp3"), "audio/mpeg");
    assert_string_equal(omnic_audio_format_mime("wav"), "audio/wav");
    assert_string_equal(omnic_audio_format_ext("aac"), "aac");
    assert_null(omnic_audio_format_mime("x"));
}

static void test_empty(void **st) {
    (void)st;
    for (int i = 0; i < 7; i++) {
        uint8_t *out = NULL;
        size_t len = 0;
        const char *mime = NULL;
        assert_int_equal(omnic_audio_encode(NULL, 0, 24000, ALL[i], &out, &len, &mime), 0);
        assert_non_null(out);
        assert_non_null(mime);
        if (!strcmp(ALL[i], "wav")) assert_int_equal(len, 44);
        if (!strcmp(ALL[i], "pcm")) assert_int_equal(len, 0);
        free(out);
        audio_enc_stream *s;
        assert_int_equal(audio_enc_stream_new(ALL[i], 24000, &s, &mime), 0);
        const uint8_t *b;
        size_t l;
        assert_int_equal(audio_enc_stream_feed(s, NULL, 0, &b, &l), 0);
        assert_int_equal(audio_enc_stream_finish(s, &b, &l), 0);
        assert_int_equal(audio_enc_stream_feed(s, NULL, 0, &b, &l), OMNIC_EINVAL);
        assert_int_equal(audio_enc_stream_finish(s, &b, &l), OMNIC_EINVAL);
        audio_enc_stream_free(s);
    }
    audio_enc_stream_free(NULL);
    audio_enc_stream *s = (audio_enc_stream *)1;
    assert_int_equal(audio_enc_stream_new("nope", 24000, &s, NULL), OMNIC_EINVAL);
    assert_null(s);
}

/* Streamed wav/pcm bytes = one-shot bytes (wav: except the two size fields). */
static void test_stream_exact(void **st) {
    (void)st;
    enum { N = 10007 };
    float *x = malloc(sizeof *x * N);
    for (int i = 0; i < N; i++) x[i] = (float)sin(i * 0.01) * 0.9f;
    for (int f = 0; f < 2; f++) {
        uint8_t *one;
        size_t one_len;
        assert_int_equal(omnic_audio_encode(x, N, 24000, ALL[f], &one, &one_len, NULL), 0);
        audio_enc_stream *s;
        assert_int_equal(audio_enc_stream_new(ALL[f], 24000, &s, NULL), 0);
        uint8_t *cat = malloc(one_len + 64);
        size_t n = 0;
        const uint8_t *b;
        size_t l;
        for (int i = 0, step = 1; i < N; i += step, step = step * 3 % 997 + 1) {
            int m = N - i < step ? N - i : step;
            assert_int_equal(audio_enc_stream_feed(s, x + i, m, &b, &l), 0);
            assert_true(n + l <= one_len);
            memcpy(cat + n, b, l);
            n += l;
        }
        assert_int_equal(audio_enc_stream_finish(s, &b, &l), 0);
        memcpy(cat + n, b, l);
        n += l;
        assert_int_equal(n, one_len);
        if (f == 0) {
            assert_memory_equal(cat, one, 4);
            assert_memory_equal(cat + 8, one + 8, 32);
            assert_memory_equal(cat + 44, one + 44, one_len - 44);
            static const uint8_t ff[4] = {0xff, 0xff, 0xff, 0xff};
            assert_memory_equal(cat + 4, ff, 4);
            assert_memory_equal(cat + 40, ff, 4);
        } else {
            assert_memory_equal(cat, one, one_len);
        }
        audio_enc_stream_free(s);
        free(cat);
        free(one);
    }
    /* a stream refuses more than the limit in total */
    audio_enc_stream *s;
    assert_int_equal(audio_enc_stream_new("pcm", 8000, &s, NULL), 0);
    const uint8_t *b;
    size_t l;
    assert_int_equal(audio_enc_stream_feed(s, x, (int64_t)8000 * OMNIC_AUDIO_ENC_MAX_SECONDS + 1, &b, &l),
                     OMNIC_EINVAL);
    audio_enc_stream_free(s);
    assert_int_equal(audio_enc_stream_new("mp3", 8000, &s, NULL), 0);
    assert_int_equal(audio_enc_stream_feed(s, x, 4, &b, &l), 0);
    assert_int_equal(audio_enc_stream_feed(s, x, INT64_MAX, &b, &l), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "mp3"));
    audio_enc_stream_free(s);
    /* lossy stream, fed in odd pieces, then freed without finishing */
    assert_int_equal(audio_enc_stream_new("opus", 24000, &s, NULL), 0);
    assert_int_equal(audio_enc_stream_feed(s, x, 1234, &b, &l), 0);
    audio_enc_stream_free(s);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s16),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_stream_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
