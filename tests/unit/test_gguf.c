/* test_gguf.c - the GGUF writer and reader: a round trip through every metadata
 * type, tensor types and alignment; and malformed files (bad magic, versions,
 * every truncation, huge counts and strings, unknown types, sizes that are not a
 * block multiple, data out of range, misaligned or overlapping tensors,
 * duplicates), each refused with an error naming the fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/gguf.h"
#include "kernels/quant.h"
#include "omnic.h"

typedef struct { char *p; size_t n; } mbuf;

/* Serialize a writer with its tensors' data (byte i of tensor k = k * 31 + i). */
static mbuf finish(gguf_writer *w, int nt) {
    mbuf b = {0};
    FILE *f = open_memstream(&b.p, &b.n);
    assert_non_null(f);
    assert_int_equal(gguf_w_header(w, f, "mem"), 0);
    for (int k = 0; k < nt; k++) {
        size_t n = (size_t)gguf_w_tensor_bytes(w, k);
        unsigned char *d = malloc(n + 1);
        for (size_t i = 0; i < n; i++) d[i] = (unsigned char)(k * 31 + i);
        assert_int_equal(gguf_w_data(w, f, "mem", d, n), 0);
        free(d);
    }
    assert_int_equal(gguf_w_finish(w, f, "mem"), 0);
    fclose(f);
    gguf_writer_free(w);
    return b;
}

/* A small valid file: a few keys and three tensors. */
static mbuf sample(void) {
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_w_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(gguf_w_u32(w, "llama.block_count", 2), 0);
    static const char *toks[] = {"a", "", "hello"};
    assert_int_equal(gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
    int64_t a[2] = {3, 2}, b[2] = {64, 2}, c[1] = {256};
    assert_int_equal(gguf_w_tensor(w, "t.f32", GGML_F32, 2, a), 0);
    assert_int_equal(gguf_w_tensor(w, "t.q8", GGML_Q8_0, 2, b), 1);
    assert_int_equal(gguf_w_tensor(w, "t.q4k", GGML_Q4_K, 1, c), 2);
    return finish(w, 3);
}

/* Parse buf; expect failure with code and a message containing want. */
static void expect_fail(const mbuf *b, int code, const char *want) {
    gguf_file *f = NULL;
    int rc = gguf_parse_mem(b->p, b->n, "bad.gguf", &f);
    if (rc == 0) {
        gguf_close(f);
        fail_msg("parse succeeded; expected an error containing '%s'", want);
    }
    assert_null(f);
    assert_int_equal(rc, code);
    if (!strstr(omnic_errmsg(), want)) fail_msg("error '%s' does not mention '%s'", omnic_errmsg(), want);
}

/* Offset of the first tensor info byte after the name `name`. */
static size_t info_at(const mbuf *b, const char *name) {
    size_t l = strlen(name);
    for (size_t i = 8; i + l <= b->n; i++) {
        uint64_t n;
        memcpy(&n, b->p + i - 8, 8);
        if (n == l && !memcmp(b->p + i, name, l)) return i + l;
    }
    fail_msg("tensor info '%s' not found", name);
    return 0;
}

static void test_round_trip(void **st) {
    (void)st;
    gguf_writer *w = gguf_writer_new();
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    double f64 = 3.25;
    int64_t i64 = -1234567890123ll;
    assert_int_equal(gguf_w_raw(w, "k.u8", GGUF_T_U8, &u8, 1), 0);
    assert_int_equal(gguf_w_raw(w, "k.i8", GGUF_T_I8, &i8, 1), 0);
    assert_int_equal(gguf_w_raw(w, "k.u16", GGUF_T_U16, &u16, 2), 0);
    assert_int_equal(gguf_w_raw(w, "k.i16", GGUF_T_I16, &i16, 2), 0);
    assert_int_equal(gguf_w_u32(w, "k.u32", 4000000000u), 0);
    assert_int_equal(gguf_w_i32(w, "k.i32", -7), 0);
    assert_int_equal(gguf_w_f32(w, "k.f32", 0.5f), 0);
    assert_int_equal(gguf_w_bool(w, "k.bool", 1), 0);
    assert_int_equal(gguf_w_str(w, "k.str", "héllo"), 0);
    assert_int_equal(gguf_w_u64(w, "k.u64", 1ull << 40), 0);
    assert_int_equal(gguf_w_raw(w, "k.i64", GGUF_T_I64, &i64, 8), 0);
    assert_int_equal(gguf_w_raw(w, "k.f64", GGUF_T_F64, &f64, 8), 0);
    int32_t iv[3] = {1, -2, 3};
    float fv[2] = {1.5f, -0.25f};
    assert_int_equal(gguf_w_arr_i32(w, "k.ai32", iv, 3), 0);
    assert_int_equal(gguf_w_arr_f32(w, "k.af32", fv, 2), 0);
    static const char *sv[] = {"x", "", "yz"};
    assert_int_equal(gguf_w_arr_str(w, "k.astr", sv, 3), 0);
    /* nested: array of 2 arrays of u8 */
    uint8_t nested[4 + 8 + 2 * (4 + 8 + 2)];
    uint8_t *p = nested;
    uint32_t t = GGUF_T_ARR, t8 = GGUF_T_U8;
    uint64_t two = 2;
    memcpy(p, &t, 4), p += 4, memcpy(p, &two, 8), p += 8;
    for (int k = 0; k < 2; k++) memcpy(p, &t8, 4), p += 4, memcpy(p, &two, 8), p += 8, *p++ = (uint8_t)k, *p++ = 9;
    assert_int_equal(gguf_w_raw(w, "k.nested", GGUF_T_ARR, nested, sizeof nested), 0);
    int64_t a[2] = {3, 2}, b[2] = {64, 2}, c[1] = {256}, e[3] = {32, 1, 5};
    assert_int_equal(gguf_w_tensor(w, "t.f32", GGML_F32, 2, a), 0);
    assert_int_equal(gguf_w_tensor(w, "t.q8", GGML_Q8_0, 2, b), 1);
    assert_int_equal(gguf_w_tensor(w, "t.q4k", GGML_Q4_K, 1, c), 2);
    assert_int_equal(gguf_w_tensor(w, "t.q40", GGML_Q4_0, 3, e), 3);
    assert_true(gguf_w_tensor(w, "t.bad", GGML_Q4_K, 1, a) < 0); /* 3 columns: not a block multiple */
    mbuf m = finish(w, 4);

    gguf_file *f;
    assert_int_equal(gguf_parse_mem(m.p, m.n, "rt.gguf", &f), 0);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, 16);
    assert_int_equal(f->n_tensors, 4);
    int64_t v;
    double d;
    int bo;
    char s[32];
    assert_int_equal(gguf_get_int(f, "k.u8", &v), 0), assert_int_equal(v, 200);
    assert_int_equal(gguf_get_int(f, "k.i8", &v), 0), assert_int_equal(v, -5);
    assert_int_equal(gguf_get_int(f, "k.u16", &v), 0), assert_int_equal(v, 60000);
    assert_int_equal(gguf_get_int(f, "k.i16", &v), 0), assert_int_equal(v, -30000);
    assert_int_equal(gguf_get_int(f, "k.u32", &v), 0), assert_int_equal(v, 4000000000ll);
    assert_int_equal(gguf_get_int(f, "k.i32", &v), 0), assert_int_equal(v, -7);
    assert_int_equal(gguf_get_int(f, "k.u64", &v), 0), assert_int_equal(v, 1ll << 40);
    assert_int_equal(gguf_get_int(f, "k.i64", &v), 0), assert_true(v == i64);
    assert_int_equal(gguf_get_float(f, "k.f32", &d), 0), assert_true(d == 0.5);
    assert_int_equal(gguf_get_float(f, "k.f64", &d), 0), assert_true(d == 3.25);
    assert_int_equal(gguf_get_bool(f, "k.bool", &bo), 0), assert_int_equal(bo, 1);
    assert_int_equal(gguf_get_str(f, "k.str", s, sizeof s), 0), assert_string_equal(s, "héllo");
    assert_int_equal(gguf_get_int(f, "k.absent", &v), 1);
    assert_int_equal(gguf_get_float(f, "k.str", &d), OMNIC_EFORMAT); /* wrong type names the key */
    assert_non_null(strstr(omnic_errmsg(), "k.str"));
    const gguf_kv *kv = gguf_find_kv(f, "k.ai32");
    assert_non_null(kv);
    assert_int_equal(kv->atype, GGUF_T_I32);
    assert_int_equal(kv->n, 3);
    assert_memory_equal(kv->arr, iv, 12);
    kv = gguf_find_kv(f, "k.astr");
    assert_int_equal(kv->n, 3);
    assert_int_equal(kv->strs[0].n, 1), assert_int_equal(kv->strs[1].n, 0), assert_int_equal(kv->strs[2].n, 2);
    assert_memory_equal(kv->strs[2].p, "yz", 2);
    kv = gguf_find_kv(f, "k.nested");
    assert_int_equal(kv->atype, GGUF_T_ARR);
    assert_int_equal(kv->n, 2);
    static const struct { const char *name; uint32_t type; int ndim; int64_t ne0, ne1, ne2; uint64_t bytes; } want[] = {
        {"t.f32", GGML_F32, 2, 3, 2, 1, 24},       {"t.q8", GGML_Q8_0, 2, 64, 2, 1, 136},
        {"t.q4k", GGML_Q4_K, 1, 256, 1, 1, 144},  {"t.q40", GGML_Q4_0, 3, 32, 1, 5, 90}};
    for (int k = 0; k < 4; k++) {
        const gguf_tensor *tt = gguf_find_tensor(f, want[k].name);
        assert_non_null(tt);
        assert_int_equal(tt->type, want[k].type);
        assert_int_equal(tt->ndim, want[k].ndim);
        assert_int_equal(tt->ne[0], want[k].ne0);
        assert_int_equal(tt->ne[1], want[k].ne1);
        assert_int_equal(tt->ne[2], want[k].ne2);
        assert_int_equal(tt->nbytes, want[k].bytes);
        assert_int_equal(tt->offset % 32, 0);
        assert_int_equal(((const char *)tt->data - m.p) % 32, 0);
        const unsigned char *dd = tt->data;
        for (uint64_t i = 0; i < tt->nbytes; i++) assert_int_equal(dd[i], (unsigned char)(k * 31 + i));
    }
    assert_int_equal(gguf_find_tensor(f, "t.q8")->dt, DT_Q8_0);
    assert_null(gguf_find_tensor(f, "t.nope"));
    assert_int_equal(m.n % 32, 0);
    gguf_close(f);
    free(m.p);
}

static void test_open_file(void **st) {
    (void)st;
    mbuf m = sample();
    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, m.p, m.n), (ssize_t)m.n);
    close(fd);
    gguf_file *f;
    assert_int_equal(gguf_open(path, OMNIC_MAP_SHARED, &f), 0);
    assert_int_equal(f->n_tensors, 3);
    gguf_close(f);
    assert_int_equal(gguf_open("/nonexistent/x.gguf", OMNIC_MAP_SHARED, &f), OMNIC_EIO);
    /* empty file */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    assert_int_equal(gguf_open(path, OMNIC_MAP_SHARED, &f), OMNIC_EFORMAT);
    assert_non_null(strstr(omnic_errmsg(), "empty"));
    unlink(path);
    free(m.p);
}

static void test_bad_header(void **st) {
    (void)st;
    mbuf m = sample();
    mbuf b = {malloc(m.n), m.n};
    memcpy(b.p, m.p, m.n);
    b.p[0] = 'X';
    expect_fail(&b, OMNIC_EFORMAT, "bad magic");
    memcpy(b.p, m.p, m.n);
    uint32_t v = 1;
    memcpy(b.p + 4, &v, 4);
    expect_fail(&b, OMNIC_EFORMAT, "version 1");
    v = 4;
    memcpy(b.p + 4, &v, 4);
    expect_fail(&b, OMNIC_EFORMAT, "version 4");
    memcpy(b.p, m.p, m.n);
    uint64_t huge = 1ull << 60;
    memcpy(b.p + 8, &huge, 8);
    expect_fail(&b, OMNIC_EFORMAT, "tensors");
    memcpy(b.p, m.p, m.n);
    memcpy(b.p + 16, &huge, 8);
    expect_fail(&b, OMNIC_EFORMAT, "metadata keys");
    /* huge key length */
    memcpy(b.p, m.p, m.n);
    memcpy(b.p + 24, &huge, 8);
    expect_fail(&b, OMNIC_EFORMAT, "key #0");
    /* value type out of range: first key's type field */
    memcpy(b.p, m.p, m.n);
    uint64_t kl;
    memcpy(&kl, b.p + 24, 8);
    uint32_t bad = 77;
    memcpy(b.p + 32 + kl, &bad, 4);
    expect_fail(&b, OMNIC_EFORMAT, "unknown value type 77");
    /* huge string value length (general.architecture's value) */
    memcpy(b.p, m.p, m.n);
    memcpy(b.p + 36 + kl, &huge, 8);
    expect_fail(&b, OMNIC_EFORMAT, "general.architecture");
    free(b.p);
    free(m.p);
}

/* Every prefix of a valid file is refused cleanly (no crash, no overread: run
 * under ASan this also checks the bounds). */
static void test_truncations(void **st) {
    (void)st;
    mbuf m = sample();
    for (size_t n = 0; n < m.n; n++) {
        char *p = malloc(n ? n : 1);
        memcpy(p, m.p, n);
        gguf_file *f = NULL;
        int rc = gguf_parse_mem(p, n, "cut.gguf", &f);
        if (rc == 0) {
            /* only the zero padding after the last tensor may be cut */
            const gguf_tensor *t = gguf_find_tensor(f, "t.q4k");
            assert_true(f->data_offset + t->offset + t->nbytes <= n);
            gguf_close(f);
        } else {
            assert_int_equal(rc, OMNIC_EFORMAT);
            if (!(strstr(omnic_errmsg(), "truncated") || strstr(omnic_errmsg(), "past the end") ||
                  strstr(omnic_errmsg(), "bad magic") || strstr(omnic_errmsg(), "more than the file") || strstr(omnic_errmsg(), "cannot fit")))
                fail_msg("prefix %zu: %s", n, omnic_errmsg());
        }
        free(p);
    }
    free(m.p);
}

static void test_bad_arrays(void **st) {
    (void)st;
    gguf_writer *w = gguf_writer_new();
    uint8_t arr[12];
    uint32_t at = GGUF_T_I32;
    uint64_t n = 1ull << 40;
    memcpy(arr, &at, 4), memcpy(arr + 4, &n, 8);
    gguf_w_raw(w, "k.big", GGUF_T_ARR, arr, 12);
    mbuf m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "k.big");
    free(m.p);
    w = gguf_writer_new();
    at = 55, n = 1;
    memcpy(arr, &at, 4), memcpy(arr + 4, &n, 8);
    gguf_w_raw(w, "k.weird", GGUF_T_ARR, arr, 12);
    m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "unknown array element type 55");
    free(m.p);
    /* deeply nested arrays */
    w = gguf_writer_new();
    uint8_t deep[12 * 12];
    for (int i = 0; i < 12; i++) {
        uint32_t t = i < 11 ? GGUF_T_ARR : GGUF_T_U8;
        uint64_t c = i < 11 ? 1 : 0;
        memcpy(deep + 12 * i, &t, 4), memcpy(deep + 12 * i + 4, &c, 8);
    }
    gguf_w_raw(w, "k.deep", GGUF_T_ARR, deep, sizeof deep);
    m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "nested deeper");
    free(m.p);
    /* duplicate key; bad alignment */
    w = gguf_writer_new();
    gguf_w_u32(w, "k.a", 1);
    gguf_w_u32(w, "k.a", 2);
    m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "appears twice");
    free(m.p);
    w = gguf_writer_new();
    gguf_w_u32(w, "general.alignment", 24);
    m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "power of two");
    free(m.p);
    w = gguf_writer_new();
    gguf_w_str(w, "general.alignment", "32");
    m = finish(w, 0);
    expect_fail(&m, OMNIC_EFORMAT, "general.alignment has type string");
    free(m.p);
}

static void test_bad_tensors(void **st) {
    (void)st;
    mbuf m = sample();
    mbuf b = {malloc(m.n), m.n};
    /* Q4_K tensor with 96 columns (32 * 3: a Q8_0 multiple, not a Q4_K one) */
    memcpy(b.p, m.p, m.n);
    size_t q = info_at(&b, "t.q4k");
    uint64_t ne = 96;
    memcpy(b.p + q + 4, &ne, 8);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q4k': ne[0] = 96 is not a multiple of the Q4_K block size 256");
    /* unknown ggml type */
    memcpy(b.p, m.p, m.n);
    uint32_t ty = 99;
    memcpy(b.p + q + 4 + 8, &ty, 4);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q4k': unknown or unsupported ggml type 99");
    /* 5 dimensions */
    memcpy(b.p, m.p, m.n);
    uint32_t nd = 5;
    memcpy(b.p + q, &nd, 4);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q4k': 5 dimensions");
    /* a shape too large for the file (data past the end) */
    memcpy(b.p, m.p, m.n);
    ne = 256 * 1000;
    memcpy(b.p + q + 4, &ne, 8);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q4k' (Q4_K, 144000 bytes");
    /* element count overflow */
    memcpy(b.p, m.p, m.n);
    size_t q8 = info_at(&b, "t.q8");
    uint64_t big = 1ull << 40;
    memcpy(b.p + q8 + 4, &big, 8);
    memcpy(b.p + q8 + 12, &big, 8);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q8'");
    /* offsets: misaligned, out of range, overlapping */
    memcpy(b.p, m.p, m.n);
    uint64_t off;
    memcpy(&off, b.p + q + 4 + 8 + 4, 8);
    uint64_t mis = off + 4;
    memcpy(b.p + q + 4 + 8 + 4, &mis, 8);
    expect_fail(&b, OMNIC_EFORMAT, "'t.q4k': offset");
    uint64_t far = 1ull << 50;
    memcpy(b.p + q + 4 + 8 + 4, &far, 8);
    expect_fail(&b, OMNIC_EFORMAT, "extends past the end");
    uint64_t zero = 0;
    memcpy(b.p + q + 4 + 8 + 4, &zero, 8);
    expect_fail(&b, OMNIC_EFORMAT, "overlap");
    /* duplicate tensor name: rename t.f32 and t.q4k (same length) to t.xxx */
    memcpy(b.p, m.p, m.n);
    memcpy(b.p + info_at(&b, "t.f32") - 5, "t.xxx", 5);
    memcpy(b.p + info_at(&b, "t.q4k") - 5, "t.xxx", 5);
    expect_fail(&b, OMNIC_EFORMAT, "'t.xxx' appears twice");
    free(b.p);
    free(m.p);
}

static void test_type_tables(void **st) {
    (void)st;
    assert_int_equal(ggml_row_bytes(GGML_Q4_K, 512), 288);
    assert_int_equal(ggml_row_bytes(GGML_Q6_K, 256), 210);
    assert_int_equal(ggml_row_bytes(GGML_Q4_K, 96), -1);
    assert_int_equal(ggml_row_bytes(GGML_BF16, 3), 6);
    assert_int_equal(ggml_row_bytes(4, 32), -1); /* removed type id */
    assert_int_equal(ggml_to_dtype(GGML_Q6_K), -1);
    for (int dt = 0; dt < DT_COUNT; dt++) {
        int g = dtype_to_ggml((omnic_dtype)dt);
        if (g < 0) continue;
        assert_int_equal(ggml_to_dtype((uint32_t)g), dt);
        assert_int_equal(ggml_row_bytes((uint32_t)g, 768), dtype_row_bytes((omnic_dtype)dt, 768));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_open_file),   cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_truncations), cmocka_unit_test(test_bad_arrays), cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_type_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
