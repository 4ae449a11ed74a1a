/* test_pickle.c - the restricted unpickler and torch zip checkpoints
 * (src/formats/torch_pickle.c): a real torch.save file, one test per rejection
 * rule (opcode, global, REDUCE target, persistent id, memo, stack, STOP,
 * non-tensor values, storage sizes, legacy format), and a mutation /
 * truncation fuzz over the pickle and the whole checkpoint (ASan in build-san). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "formats/torch_pickle.h"
#include "formats/zip.h"
#include "omnic.h"
#include "unit/torch_fixture.h"

static void test_real_checkpoint(void **st) {
    (void)st;
    torch_ckpt ck;
    assert_int_equal(torch_ckpt_open_mem(tiny_ckpt, tiny_ckpt_len, "tiny.pt", "generator", &ck), 0);
    assert_int_equal(ck.n, 4);
    const tp_tensor *w = torch_ckpt_find(&ck, "a.weight");
    assert_non_null(w);
    assert_int_equal(w->dtype, TP_F32);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 3);
    float f[6];
    memcpy(f, w->data, sizeof f);
    for (int k = 0; k < 6; k++) assert_true(f[k] == (float)k);
    const tp_tensor *b = torch_ckpt_find(&ck, "a.bias");
    memcpy(f, b->data, 8);
    assert_true(f[0] == 1.5f && f[1] == -2.0f);
    const tp_tensor *c = torch_ckpt_find(&ck, "bn.num_batches_tracked");
    assert_int_equal(c->dtype, TP_I64);
    assert_int_equal(c->ndim, 0);
    int64_t v;
    memcpy(&v, c->data, 8);
    assert_int_equal(v, 7);
    const tp_tensor *vw = torch_ckpt_find(&ck, "view");
    assert_int_equal(vw->offset, 4);
    memcpy(f, vw->data, 16);
    for (int k = 0; k < 4; k++) assert_true(f[k] == (float)(4 + k));
    torch_ckpt_close(&ck);
    /* no such key */
    assert_int_equal(torch_ckpt_open_mem(tiny_ckpt, tiny_ckpt_len, "tiny.pt", "discriminator", &ck), OMNIC_ETENSOR);
    assert_non_null(strstr(omnic_errmsg(), "discriminator"));
    /* the top dict itself holds a non-tensor ("step": 3) */
    assert_int_equal(torch_ckpt_open_mem(tiny_ckpt, tiny_ckpt_len, "tiny.pt", NULL, &ck), OMNIC_EFORMAT);
}

static void reject(const char *pkl, size_t n, const char *must) {
    tp_tensor *t;
    int nt;
    int rc = torch_pickle_state_dict((const uint8_t *)pkl, n, "x/data.pkl", NULL, &t, &nt);
    assert_int_not_equal(rc, 0);
    if (!strstr(omnic_errmsg(), must) || !strstr(omnic_errmsg(), "x/data.pkl")) fail_msg("message '%s' lacks '%s'", omnic_errmsg(), must);
}
#define REJ(lit, must) reject(lit, sizeof(lit) - 1, must)

static void test_rules(void **st) {
    (void)st;
    REJ("\x80\x02" "cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.", "GLOBAL 'os.system'");
    REJ("\x80\x02" "cbuiltins\neval\n.", "builtins.eval");
    REJ("\x80\x02" "ctorch\nTensor\n.", "torch.Tensor");
    REJ("\x80\x02" "ctorch\nIntStorage\n.", "torch.IntStorage");
    REJ("\x80\x02}G?\xf8\x00\x00\x00\x00\x00\x00.", "BINFLOAT");
    REJ("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00.", "FRAME");
    REJ("\x80\x02N.", "NONE");
    REJ("\x80\x02]q\x00.", "EMPTY_LIST");
    REJ("\x80\x02\x8c\x02os\x8c\x06system\x93.", "SHORT_BINUNICODE");
    REJ("\x80\x02(cos\nsystem\nX\x01\x00\x00\x00xo.", "os.system");
    REJ("\x80\x02" "ctorch\nFloatStorage\n)R.", "storage type");
    REJ("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "OrderedDict with arguments");
    REJ("\x80\x02K\x01)R.", "REDUCE");
    REJ("\x80\x02(X\x03\x00\x00\x00" "badK\x01tQ.", "persistent id");
    REJ("\x80\x02h\x05.", "memo");
    REJ("\x80\x02R.", "underflow");
    REJ("\x80\x02s.", "underflow");
    REJ("\x80\x02t.", "mark");
    REJ("\x80\x02}K\x01K\x02.", "exactly one");
    REJ("\x80\x02}", "truncated");
    REJ("\x80\x02X\xff\xff\x00\x00" "ab", "truncated");
    REJ("\x80\x02" "cos\nsys", "truncated");
    REJ("\x80\x02K\x01K\x02" "b.", "BUILD");
    REJ("\x80\x02}X\x01\x00\x00\x00" "aK\x01s.", "not a named tensor");
    REJ("\x80\x02K\x01.", "not a dict");
    REJ("\x80\x09}.", "protocol");
    /* a dict keyed 'generator' that is accepted */
    tp_tensor *t;
    int nt;
    const char ok[] = "\x80\x02}q\x00X\t\x00\x00\x00generatorq\x01}s.";
    assert_int_equal(torch_pickle_state_dict((const uint8_t *)ok, sizeof ok - 1, "ok", "generator", &t, &nt), 0);
    assert_int_equal(nt, 0);
    tp_tensors_free(t, nt);
}

static void test_ckpt_rules(void **st) {
    (void)st;
    torch_ckpt ck;
    const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    assert_int_equal(torch_ckpt_open_mem(legacy, sizeof legacy, "old.pt", "generator", &ck), OMNIC_EUNSUP);
    assert_non_null(strstr(omnic_errmsg(), "legacy"));
    assert_int_equal(torch_ckpt_open_mem((const uint8_t *)"hello world", 11, "txt.pt", "generator", &ck), OMNIC_EFORMAT);
    /* a storage file shorter than its header says: patch numel of storage 0 (6 -> 7) in the pickle */
    uint8_t *b = malloc(tiny_ckpt_len);
    memcpy(b, tiny_ckpt, tiny_ckpt_len);
    int patched = 0;
    for (unsigned k = 0; k + 8 < tiny_ckpt_len && !patched; k++)
        if (!memcmp(b + k, "cpu", 3) && b[k + 3] == 'q' && b[k + 5] == 'K' && b[k + 6] == 6) {
            b[k + 6] = 7;
            patched = 1;
        }
    assert_true(patched);
    /* the zip's CRC is not checked for stored entries, so the change reaches the unpickler */
    int rc = torch_ckpt_open_mem(b, tiny_ckpt_len, "sz.pt", "generator", &ck);
    assert_int_equal(rc, OMNIC_ETENSOR);
    assert_non_null(strstr(omnic_errmsg(), "a.weight"));
    free(b);
}

static void try_pkl(const uint8_t *b, size_t n) {
    tp_tensor *t;
    int nt;
    if (torch_pickle_state_dict(b, n, "fuzz.pkl", "generator", &t, &nt) == 0) tp_tensors_free(t, nt);
}

static void try_ckpt(const uint8_t *b, size_t n) {
    torch_ckpt ck;
    if (torch_ckpt_open_mem(b, n, "fuzz.pt", "generator", &ck) == 0) {
        for (int i = 0; i < ck.n; i++) {
            volatile uint8_t s = 0;
            size_t es = ck.t[i].dtype == TP_I64 || ck.t[i].dtype == TP_F32 ? (ck.t[i].dtype == TP_I64 ? 8 : 4) : 2;
            const uint8_t *d = ck.t[i].data;
            for (size_t k = 0; k < (size_t)ck.t[i].numel * es; k++) s ^= d[k];
            (void)s;
        }
        torch_ckpt_close(&ck);
    }
}

static void test_fuzz(void **st) {
    (void)st;
    zip_archive z;
    assert_int_equal(zip_open_mem(tiny_ckpt, tiny_ckpt_len, "t", &z), 0);
    const uint8_t *pk;
    size_t pn;
    void *own;
    assert_int_equal(zip_read(&z, zip_find_suffix(&z, "data.pkl"), &pk, &pn, &own), 0);
    srand(99);
    for (size_t cut = 0; cut <= pn; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, pk, cut);
        try_pkl(b, cut);
        free(b);
    }
    for (int it = 0; it < 20000; it++) {
        uint8_t *b = malloc(pn);
        memcpy(b, pk, pn);
        int k = 1 + rand() % 4;
        for (int j = 0; j < k; j++) {
            size_t at = (size_t)rand() % pn;
            b[at] = (rand() & 1) ? (uint8_t)rand() : (uint8_t)(b[at] ^ (1u << (rand() % 8)));
        }
        try_pkl(b, pn);
        free(b);
    }
    zip_close(&z);
    for (int it = 0; it < 3000; it++) {
        uint8_t *b = malloc(tiny_ckpt_len);
        memcpy(b, tiny_ckpt, tiny_ckpt_len);
        int k = 1 + rand() % 4;
        for (int j = 0; j < k; j++) b[(size_t)rand() % tiny_ckpt_len] = (uint8_t)rand();
        try_ckpt(b, tiny_ckpt_len);
        free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_checkpoint), cmocka_unit_test(test_rules),
                                       cmocka_unit_test(test_ckpt_rules), cmocka_unit_test(test_fuzz)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
