/* test_multipart.c - the server's upload parsers: multipart/form-data (fields,
 * files with binary data, quoting, missing boundary, truncation, too many
 * parts, a deterministic mutation fuzz under the sanitizers) and base64 (both
 * alphabets, whitespace, padding rules, a round trip). The two server files are
 * compiled into this test directly (they are not part of libomnic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/serve/base64.c"
#include "../../src/serve/multipart.c"

#define CT "multipart/form-data; boundary=XyZ"

static size_t build(char *out, size_t cap) {
    static const char file[] = {'R', 'I', 'F', 'F', 0, 1, '\r', '\n', '-', '-', 'X', 'y', 0, (char)0xff};
    size_t n = (size_t)snprintf(out, cap,
                                "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nomni\r\n"
                                "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".wav\"\r\n"
                                "Content-Type: audio/wav\r\n\r\n");
    memcpy(out + n, file, sizeof file);
    n += sizeof file;
    n += (size_t)snprintf(out + n, cap - n,
                          "\r\n--XyZ\r\nContent-Disposition: form-data; name=response_format\r\n\r\ntext\r\n--XyZ--\r\n");
    return n;
}

static void test_fields(void **st) {
    (void)st;
    char body[1024], err[160];
    size_t n = build(body, sizeof body);
    mp_form f;
    assert_int_equal(mp_parse(CT, body, n, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 3);
    const mp_part *m = mp_get(&f, "model"), *fl = mp_get(&f, "file"), *rf = mp_get(&f, "response_format");
    assert_non_null(m);
    assert_int_equal(m->len, 4);
    assert_memory_equal(m->data, "omni", 4);
    assert_non_null(fl);
    assert_string_equal(fl->filename, "a \"q\".wav");
    assert_string_equal(fl->ctype, "audio/wav");
    assert_int_equal(fl->len, 14);
    assert_int_equal((unsigned char)fl->data[13], 0xff);
    assert_non_null(rf);
    assert_memory_equal(rf->data, "text", 4);
    assert_null(mp_get(&f, "nope"));
}

static void test_errors(void **st) {
    (void)st;
    char body[1024], err[160];
    size_t n = build(body, sizeof body);
    mp_form f;
    assert_int_equal(mp_parse("application/json", body, n, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "multipart/form-data"));
    assert_int_equal(mp_parse("multipart/form-data", body, n, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "boundary"));
    assert_int_equal(mp_parse("multipart/form-data; boundary=Other", body, n, &f, err, sizeof err), -1);
    for (size_t cut = 0; cut < n - 2; cut++) /* every truncation short of the closing "--" */
        assert_int_equal(mp_parse(CT, body, cut, &f, err, sizeof err), -1);
    const char *nodisp = "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--";
    assert_int_equal(mp_parse(CT, nodisp, strlen(nodisp), &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "Content-Disposition"));
    char many[8192];
    size_t k = 0;
    for (int i = 0; i < MP_MAX_PARTS + 1; i++)
        k += (size_t)snprintf(many + k, sizeof many - k, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    k += (size_t)snprintf(many + k, sizeof many - k, "--XyZ--");
    assert_int_equal(mp_parse(CT, many, k, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
}

/* Mutations of a valid body: never a crash or an out-of-bounds read (the
 * sanitizer build checks), parts always inside the body. */
static void test_fuzz(void **st) {
    (void)st;
    char body[1024], err[160];
    size_t n = build(body, sizeof body);
    uint64_t x = 88172645463325252ull;
    for (int it = 0; it < 3000; it++) {
        char *b = malloc(n);
        memcpy(b, body, n);
        int muts = 1 + it % 4;
        for (int m = 0; m < muts; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[x % n] = (char)(x >> 32);
        }
        size_t len = it % 3 == 0 ? (size_t)(x >> 40) % (n + 1) : n;
        mp_form f;
        if (mp_parse(CT, b, len, &f, err, sizeof err) == 0)
            for (int i = 0; i < f.n; i++) {
                assert_true(f.parts[i].data >= b && f.parts[i].data + f.parts[i].len <= b + len);
                assert_true(strlen(f.parts[i].name) < sizeof f.parts[i].name);
            }
        free(b);
    }
}

static void test_base64(void **st) {
    (void)st;
    uint8_t *o;
    size_t n;
    assert_int_equal(b64_decode("aGVsbG8=", 8, &o, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(o, "hello", 5);
    free(o);
    assert_int_equal(b64_decode("aGVs\nbG8", 8, &o, &n), 0); /* whitespace, no padding */
    assert_memory_equal(o, "hello", 5);
    free(o);
    assert_int_equal(b64_decode("-_8=", 4, &o, &n), 0); /* URL-safe alphabet */
    assert_int_equal(n, 2);
    assert_int_equal(o[0], 0xfb);
    assert_int_equal(o[1], 0xff);
    free(o);
    assert_int_equal(b64_decode("a", 1, &o, &n), -1);
    assert_int_equal(b64_decode("aGVsbG8=x", 9, &o, &n), -1);
    assert_int_equal(b64_decode("aG@s", 4, &o, &n), -1);
    assert_int_equal(b64_decode("aGVsbG8===", 10, &o, &n), -1);
    uint8_t raw[256];
    for (int i = 0; i < 256; i++) raw[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= 256; len += 17) {
        size_t el;
        char *e = b64_encode(raw, len, &el);
        assert_non_null(e);
        assert_int_equal(el, (len + 2) / 3 * 4);
        assert_int_equal(b64_decode(e, el, &o, &n), 0);
        assert_int_equal(n, len);
        if (len) assert_memory_equal(o, raw, len);
        free(o);
        free(e);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields), cmocka_unit_test(test_errors), cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_base64)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
