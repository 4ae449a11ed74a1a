/* test_zip.c - the ZIP reader (src/formats/zip.c): a real torch.save archive
 * (stored entries, data descriptors), a hand-made deflated archive, the refusal
 * rules (path traversal, CRC, zip-bomb cap, bad offsets), and a mutation /
 * truncation fuzz that must never crash (run under ASan in build-san). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "core/error.h"
#include "formats/zip.h"
#include "omnic.h"
#include "unit/torch_fixture.h"

static void w16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, v & 0xFFFF); w16(p + 2, v >> 16); }

/* One-entry archive: name, method 0/8, payload (compressed when method 8). */
static size_t make_zip(uint8_t *out, const char *name, int method, const uint8_t *data, size_t n, uint32_t crc_override,
                       uint32_t usize_override) {
    uint8_t comp[4096];
    size_t cl = n;
    const uint8_t *payload = data;
    if (method == 8) {
        z_stream s;
        memset(&s, 0, sizeof s);
        deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        s.next_in = (Bytef *)(uintptr_t)data;
        s.avail_in = (uInt)n;
        s.next_out = comp;
        s.avail_out = sizeof comp;
        deflate(&s, Z_FINISH);
        cl = sizeof comp - s.avail_out;
        deflateEnd(&s);
        payload = comp;
    }
    uint32_t crc = crc_override ? crc_override : (uint32_t)crc32(0, data, (uInt)n);
    uint32_t us = usize_override ? usize_override : (uint32_t)n;
    size_t nl = strlen(name), p = 0;
    uint8_t *l = out;
    memset(l, 0, 30);
    w32(l, 0x04034b50);
    w16(l + 8, (unsigned)method);
    w32(l + 14, crc);
    w32(l + 18, (uint32_t)cl);
    w32(l + 22, us);
    w16(l + 26, (unsigned)nl);
    memcpy(l + 30, name, nl);
    p = 30 + nl;
    memcpy(out + p, payload, cl);
    p += cl;
    size_t cd = p;
    uint8_t *c = out + p;
    memset(c, 0, 46);
    w32(c, 0x02014b50);
    w16(c + 10, (unsigned)method);
    w32(c + 16, crc);
    w32(c + 20, (uint32_t)cl);
    w32(c + 24, us);
    w16(c + 28, (unsigned)nl);
    memcpy(c + 46, name, nl);
    p += 46 + nl;
    uint8_t *e = out + p;
    memset(e, 0, 22);
    w32(e, 0x06054b50);
    w16(e + 8, 1);
    w16(e + 10, 1);
    w32(e + 12, (uint32_t)(46 + nl));
    w32(e + 16, (uint32_t)cd);
    return p + 22;
}

static void test_torch_zip(void **st) {
    (void)st;
    zip_archive z;
    assert_int_equal(zip_open_mem(tiny_ckpt, tiny_ckpt_len, "tiny.pt", &z), 0);
    assert_int_equal(z.n, 6);
    int i = zip_find(&z, "archive/data/0");
    assert_true(i >= 0);
    const uint8_t *d;
    size_t n;
    void *own;
    assert_int_equal(zip_read(&z, i, &d, &n, &own), 0);
    assert_null(own); /* stored: zero-copy */
    assert_int_equal(n, 24);
    float f[6];
    memcpy(f, d, 24);
    for (int k = 0; k < 6; k++) assert_true(f[k] == (float)k);
    assert_true(zip_find_suffix(&z, "data.pkl") >= 0);
    assert_int_equal(zip_find(&z, "nope"), -1);
    zip_close(&z);
}

static void test_deflate(void **st) {
    (void)st;
    uint8_t data[1000], buf[8192];
    for (int k = 0; k < 1000; k++) data[k] = (uint8_t)(k % 7 + 'a');
    size_t n = make_zip(buf, "dir/x.txt", 8, data, sizeof data, 0, 0);
    zip_archive z;
    assert_int_equal(zip_open_mem(buf, n, "d.zip", &z), 0);
    const uint8_t *d;
    size_t dl;
    void *own;
    assert_int_equal(zip_read(&z, 0, &d, &dl, &own), 0);
    assert_non_null(own);
    assert_int_equal(dl, 1000);
    assert_memory_equal(d, data, 1000);
    free(own);
    zip_close(&z);
    /* CRC mismatch */
    n = make_zip(buf, "x", 8, data, sizeof data, 0x12345678, 0);
    assert_int_equal(zip_open_mem(buf, n, "crc.zip", &z), 0);
    assert_int_equal(zip_read(&z, 0, &d, &dl, &own), OMNIC_EFORMAT);
    assert_non_null(strstr(omnic_errmsg(), "CRC"));
    zip_close(&z);
    /* declared size smaller than the stream, and a bomb-sized claim */
    n = make_zip(buf, "x", 8, data, sizeof data, 0, 10);
    assert_int_equal(zip_open_mem(buf, n, "short.zip", &z), 0);
    assert_int_equal(zip_read(&z, 0, &d, &dl, &own), OMNIC_EFORMAT);
    zip_close(&z);
    n = make_zip(buf, "x", 8, data, sizeof data, 0, 0xFFFFFFF0u);
    assert_int_equal(zip_open_mem(buf, n, "bomb.zip", &z), 0);
    assert_int_equal(zip_read(&z, 0, &d, &dl, &own), OMNIC_EFORMAT);
    assert_non_null(strstr(omnic_errmsg(), "zip bomb"));
    zip_close(&z);
}

static void test_refusals(void **st) {
    (void)st;
    uint8_t buf[4096];
    const uint8_t data[4] = {1, 2, 3, 4};
    zip_archive z;
    const char *bad[] = {"../etc/passwd", "/abs", "a/../../b", "c:\\x", "a\\..\\b"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        size_t n = make_zip(buf, bad[k], 0, data, 4, 0, 0);
        assert_int_equal(zip_open_mem(buf, n, "trav.zip", &z), OMNIC_EFORMAT);
        assert_non_null(strstr(omnic_errmsg(), "refused"));
    }
    size_t n = make_zip(buf, "ok..name", 0, data, 4, 0, 0);
    assert_int_equal(zip_open_mem(buf, n, "ok.zip", &z), 0);
    zip_close(&z);
    /* method 12 (bzip2) */
    n = make_zip(buf, "m", 0, data, 4, 0, 0);
    w16(buf + 8, 12);
    w16(buf + 30 + 1 + 4 + 10, 12);
    assert_int_equal(zip_open_mem(buf, n, "m.zip", &z), OMNIC_EUNSUP);
    /* central directory offset out of bounds */
    n = make_zip(buf, "m", 0, data, 4, 0, 0);
    w32(buf + n - 6, 100000);
    assert_int_equal(zip_open_mem(buf, n, "cd.zip", &z), OMNIC_EFORMAT);
    /* garbage and empty */
    memset(buf, 'x', 100);
    assert_int_equal(zip_open_mem(buf, 100, "g.zip", &z), OMNIC_EFORMAT);
    assert_int_equal(zip_open_mem(buf, 0, "e.zip", &z), OMNIC_EFORMAT);
    assert_int_equal(zip_open("/nonexistent/x.zip", &z), OMNIC_EIO);
}

static void read_all(const uint8_t *b, size_t n) {
    zip_archive z;
    if (zip_open_mem(b, n, "fuzz.zip", &z)) return;
    for (int i = 0; i < z.n; i++) {
        const uint8_t *d;
        size_t dl;
        void *own;
        if (zip_read(&z, i, &d, &dl, &own) == 0) {
            volatile uint8_t s = 0;
            for (size_t k = 0; k < dl; k += 97) s ^= d[k];
            if (dl) s ^= d[dl - 1];
            (void)s;
            free(own);
        }
    }
    zip_close(&z);
}

static void test_fuzz(void **st) {
    (void)st;
    uint8_t seed2[8192], data[600];
    for (int k = 0; k < 600; k++) data[k] = (uint8_t)(k * 31 % 251);
    size_t n2 = make_zip(seed2, "a/b.bin", 8, data, sizeof data, 0, 0);
    const uint8_t *seeds[2] = {tiny_ckpt, seed2};
    size_t lens[2] = {tiny_ckpt_len, n2};
    srand(1234);
    for (int s = 0; s < 2; s++) {
        for (size_t cut = 0; cut <= lens[s]; cut++) {
            uint8_t *b = malloc(cut ? cut : 1);
            memcpy(b, seeds[s], cut);
            read_all(b, cut);
            free(b);
        }
        for (int it = 0; it < 3000; it++) {
            size_t n = lens[s];
            uint8_t *b = malloc(n);
            memcpy(b, seeds[s], n);
            int k = 1 + rand() % 6;
            for (int j = 0; j < k; j++) {
                size_t at = (size_t)rand() % n;
                switch (rand() % 3) {
                case 0: b[at] ^= (uint8_t)(1u << (rand() % 8)); break;
                case 1: b[at] = (uint8_t)rand(); break;
                default: b[at] = (rand() & 1) ? 0xFF : 0x00; break;
                }
            }
            read_all(b, n);
            free(b);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_torch_zip), cmocka_unit_test(test_deflate),
                                       cmocka_unit_test(test_refusals), cmocka_unit_test(test_fuzz)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
