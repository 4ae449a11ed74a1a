/* test_tokenizer.c - unit tests of the tokenizer (src/text/): clear errors for bad
 * tokenizer.json files, UTF-8 replacement (the Unicode standard's own example),
 * streaming decode, split behaviours (expectations from the Hugging Face docs'
 * "the-final--countdown" example), added-token flags, parse_special, BPE heap vs scan
 * agreement, NFC, invalid input, and concurrent encoding with the shared cache. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omnic.h"
#include "text/tokenizer_impl.h"

static char tmpdir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/omnic_tok_unit_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer.json", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}

/* Load tokenizer.json text; returns the status and leaves t NULL on error. */
static int load_text(const char *json, omnic_tokenizer **t) {
    write_file("tokenizer.json", json);
    return omnic_tokenizer_load(tmpdir, t);
}

static void expect_error(const char *json, int code, const char *needle1, const char *needle2) {
    omnic_tokenizer *t = (omnic_tokenizer *)0x1;
    int rc = load_text(json, &t);
    if (rc != code || !strstr(omnic_errmsg(), needle1) || (needle2 && !strstr(omnic_errmsg(), needle2)))
        fail_msg("json %s\n  expected %d with '%s' / '%s'\n  got %d: %s", json, code, needle1, needle2 ? needle2 : "",
                 rc, omnic_errmsg());
    assert_null(t);
}

/* A small byte-level vocabulary: the 256 byte characters plus a few merges. */
static char *byte_vocab_json(const char *extra_vocab, const char *merges, const char *pre, const char *norm,
                             const char *added, int ignore_merges) {
    tk_buf b = {0};
    const tk_bytechar *tab = tk_byte_table();
    char tmp[64];
    tk_buf_put(&b, "{\"version\":\"1.0\",\"added_tokens\":[", 33);
    tk_buf_put(&b, added, strlen(added));
    tk_buf_put(&b, "],\"normalizer\":", 15);
    tk_buf_put(&b, norm, strlen(norm));
    tk_buf_put(&b, ",\"pre_tokenizer\":", 17);
    tk_buf_put(&b, pre, strlen(pre));
    const char *mid = ",\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\","
                      "\"ignore_merges\":";
    tk_buf_put(&b, mid, strlen(mid));
    tk_buf_put(&b, ignore_merges ? "true" : "false", ignore_merges ? 4 : 5);
    tk_buf_put(&b, ",\"vocab\":{", 10);
    for (int i = 0; i < 256; i++) {
        const char *s = tab[i].s;
        if (!strcmp(s, "\"") || !strcmp(s, "\\")) snprintf(tmp, sizeof tmp, "%s\"\\%s\":%d", i ? "," : "", s, i);
        else snprintf(tmp, sizeof tmp, "%s\"%s\":%d", i ? "," : "", s, i);
        tk_buf_put(&b, tmp, strlen(tmp));
    }
    tk_buf_put(&b, extra_vocab, strlen(extra_vocab));
    tk_buf_put(&b, "},\"merges\":[", 12);
    tk_buf_put(&b, merges, strlen(merges));
    tk_buf_put(&b, "]}}", 3);
    return b.data;
}

#define BL_PRE "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}"

static void encode(const omnic_tokenizer *t, const char *s, size_t n, int parse_special, int32_t **ids, size_t *k) {
    int rc = omnic_tokenize(t, s, n, parse_special, ids, k);
    if (rc) fail_msg("tokenize failed: %s", omnic_errmsg());
}

/* ---- bad files ---- */

static void test_missing_and_invalid(void **state) {
    (void)state;
    omnic_tokenizer *t = (omnic_tokenizer *)0x1;
    assert_int_equal(omnic_tokenizer_load("/nonexistent/dir", &t), OMNIC_EIO);
    assert_non_null(strstr(omnic_errmsg(), "/nonexistent/dir/tokenizer.json"));
    assert_null(t);
    expect_error("{\"model\": ", OMNIC_EFORMAT, "tokenizer.json", "invalid JSON");
    expect_error("[1,2]", OMNIC_EFORMAT, "tokenizer.json", "object");
    expect_error("{}", OMNIC_EFORMAT, "\"model\" is missing", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"merges\":[]}}", OMNIC_EFORMAT, "model.vocab is missing", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}", OMNIC_EFORMAT, "model.vocab must be", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", OMNIC_EFORMAT,
                 "model.vocab[\"a\"]", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", OMNIC_EFORMAT,
                 "model.vocab[\"a\"]", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", OMNIC_EFORMAT, "model.merges is missing", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", OMNIC_EFORMAT,
                 "model.merges must be", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\",\"a b c\"]}}",
                 OMNIC_EFORMAT, "model.merges[1]", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}}", OMNIC_EFORMAT, "model.merges[0]",
                 NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\",\"z\"]]}}", OMNIC_EFORMAT,
                 "model.merges[0] \"a z\"", "token 'z' is not in model.vocab");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", OMNIC_EFORMAT,
                 "model.merges[0] \"a b\"", "merged token 'ab' is not in model.vocab");
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", OMNIC_EUNSUP, "model.type 'WordPiece'", NULL);
    expect_error("{\"model\":{\"type\":7,\"vocab\":{}}}", OMNIC_EFORMAT, "model.type", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{},\"merges\":[]}}", OMNIC_EUNSUP,
                 "model.dropout", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"ignore_merges\":\"yes\",\"vocab\":{},\"merges\":[]}}", OMNIC_ECONFIG,
                 "model.ignore_merges", NULL);
    expect_error("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{},\"merges\":[]}}", OMNIC_EFORMAT,
                 "model.unk_token", NULL);
}

#define OK_MODEL "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}"

static void test_bad_components(void **state) {
    (void)state;
    expect_error("{" OK_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
                 "\"pattern\":{\"Regex\":\"[a-\"},\"behavior\":\"Isolated\",\"invert\":false}]}}",
                 OMNIC_EFORMAT, "pre_tokenizer.pretokenizers[0].pattern.Regex", "invalid regex");
    expect_error("{" OK_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},"
                 "\"behavior\":\"Sideways\"}}",
                 OMNIC_ECONFIG, "pre_tokenizer.behavior", "Sideways");
    expect_error("{" OK_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":5},"
                 "\"behavior\":\"Isolated\"}}",
                 OMNIC_ECONFIG, "pre_tokenizer.pattern", NULL);
    expect_error("{" OK_MODEL ",\"pre_tokenizer\":{\"type\":\"Metaspace\"}}", OMNIC_EUNSUP,
                 "pre_tokenizer.type 'Metaspace'", NULL);
    expect_error("{" OK_MODEL ",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":1}}", OMNIC_ECONFIG,
                 "pre_tokenizer.use_regex", NULL);
    expect_error("{" OK_MODEL ",\"normalizer\":{\"type\":\"Lowercase\"}}", OMNIC_EUNSUP, "normalizer.type 'Lowercase'",
                 NULL);
    expect_error("{" OK_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},"
                 "{\"type\":\"Strip\"}]}}",
                 OMNIC_EUNSUP, "normalizer.normalizers[1].type 'Strip'", NULL);
    expect_error("{" OK_MODEL ",\"normalizer\":{\"type\":\"Sequence\"}}", OMNIC_ECONFIG, "normalizer.normalizers",
                 NULL);
    expect_error("{" OK_MODEL ",\"normalizer\":42}", OMNIC_ECONFIG, "normalizer", NULL);
    expect_error("{" OK_MODEL ",\"decoder\":{\"type\":\"WordPiece\"}}", OMNIC_EUNSUP, "decoder.type 'WordPiece'", NULL);
    expect_error("{" OK_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\"}}", OMNIC_EUNSUP,
                 "post_processor.type 'TemplateProcessing'", NULL);
    expect_error("{" OK_MODEL ",\"added_tokens\":{}}", OMNIC_ECONFIG, "added_tokens must be an array", NULL);
    expect_error("{" OK_MODEL ",\"added_tokens\":[{\"id\":1,\"content\":3}]}", OMNIC_ECONFIG, "added_tokens[0].content",
                 NULL);
    expect_error("{" OK_MODEL ",\"added_tokens\":[{\"id\":1,\"content\":\"x\"},{\"id\":\"2\",\"content\":\"y\"}]}",
                 OMNIC_ECONFIG, "added_tokens[1].id", NULL);
    expect_error("{" OK_MODEL ",\"added_tokens\":[{\"id\":1,\"content\":\"x\",\"special\":\"no\"}]}", OMNIC_ECONFIG,
                 "added_tokens[0].special", NULL);
    /* a broken tokenizer_config.json is named too */
    write_file("tokenizer_config.json", "{\"added_tokens_decoder\": ");
    expect_error("{" OK_MODEL "}", OMNIC_EFORMAT, "tokenizer_config.json", "invalid JSON");
    write_file("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"q\"}}}");
    expect_error("{" OK_MODEL "}", OMNIC_ECONFIG, "added_tokens_decoder[\"x\"]", NULL);
    remove_file("tokenizer_config.json");
    omnic_tokenizer *t = NULL;
    assert_int_equal(load_text("{" OK_MODEL "}", &t), OMNIC_OK);
    assert_int_equal(omnic_tokenizer_vocab_size(t), 1);
    omnic_tokenizer_free(t);
}

/* ---- UTF-8 ---- */

static void test_utf8_replacement(void **state) {
    (void)state;
    /* Unicode Standard, section 3.9 (U+FFFD substitution of maximal subparts):
     * 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d */
    const unsigned char in[] = {0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64};
    tk_buf out = {0};
    assert_int_equal(tk_utf8_sanitize(in, sizeof in, 1, &out), sizeof in);
    const char want[] = "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d";
    assert_int_equal(out.len, sizeof want - 1);
    assert_memory_equal(out.data, want, out.len);
    /* surrogates and overlongs are ill-formed; a truncated tail is held when not final */
    out.len = 0;
    const unsigned char sur[] = {0xED, 0xA0, 0x80, 0xC0, 0xAF, 0xE2, 0x82};
    assert_int_equal(tk_utf8_sanitize(sur, sizeof sur, 0, &out), 5);
    assert_int_equal(out.len, 5 * 3);
    out.len = 0;
    assert_int_equal(tk_utf8_sanitize(sur + 5, 2, 1, &out), 2);
    assert_memory_equal(out.data, "\xEF\xBF\xBD", 3);
    assert_int_equal(out.len, 3);
    assert_true(tk_utf8_valid((const unsigned char *)"\xF0\x9F\x98\x80 \xEA\xB0\x80", 8));
    assert_false(tk_utf8_valid((const unsigned char *)"\xF4\x90\x80\x80", 4));
    tk_buf_free(&out);
}

/* ---- decoding ---- */

static void test_detok_stream(void **state) {
    (void)state;
    /* vocab: byte characters; "가" = EA B0 80 is split over three byte tokens */
    char *js = byte_vocab_json("", "", BL_PRE, "null",
                               "{\"id\":256,\"content\":\"<s>\",\"special\":true},"
                               "{\"id\":257,\"content\":\"<think>\",\"special\":false}",
                               0);
    omnic_tokenizer *t;
    assert_int_equal(load_text(js, &t), OMNIC_OK);
    free(js);
    int32_t seq[] = {0xEA, 0xB0, 256, 0x80, 'a', 257, 0xF0, 0x9F, 0x98, 0x80, 0xE2, 0x82};
    size_t n = sizeof seq / sizeof seq[0];
    for (int skip = 0; skip < 2; skip++) {
        char *whole;
        size_t wl;
        assert_int_equal(omnic_detokenize(t, seq, n, skip, &whole, &wl), OMNIC_OK);
        omnic_detok_stream *s;
        assert_int_equal(omnic_detok_stream_new(t, skip, &s), OMNIC_OK);
        tk_buf acc = {0};
        for (size_t i = 0; i <= n; i++) {
            const char *p;
            size_t pl;
            int rc = i < n ? omnic_detok_stream_feed(s, seq[i], &p, &pl) : omnic_detok_stream_flush(s, &p, &pl);
            assert_int_equal(rc, OMNIC_OK);
            if (i < n) assert_true(tk_utf8_valid((const unsigned char *)p, pl)); /* never half a character */
            tk_buf_put(&acc, p, pl);
        }
        assert_int_equal(acc.len, wl);
        assert_memory_equal(acc.data, whole, wl);
        omnic_detok_stream_free(s);
        tk_buf_free(&acc);
        /* ids 0xEA 0xB0 [<s>] 0x80 -> "가" either way: bytes join across the special token */
        if (skip) assert_memory_equal(whole, "\xEA\xB0\x80" "a<think>\xF0\x9F\x98\x80\xEF\xBF\xBD", wl);
        else assert_memory_equal(whole, "\xEF\xBF\xBD<s>\xEF\xBF\xBD" "a<think>\xF0\x9F\x98\x80\xEF\xBF\xBD", wl);
        free(whole);
    }
    /* unknown ids are dropped, as HF does */
    int32_t odd[] = {-5, 'h', 999999, 'i'};
    char *o;
    size_t ol;
    assert_int_equal(omnic_detokenize(t, odd, 4, 0, &o, &ol), OMNIC_OK);
    assert_string_equal(o, "hi");
    free(o);
    assert_int_equal(omnic_detokenize(t, NULL, 0, 0, &o, &ol), OMNIC_OK);
    assert_string_equal(o, "");
    free(o);
    assert_string_equal(omnic_token_str(t, 257), "<think>");
    assert_string_equal(omnic_token_str(t, ' '), "\xC4\xA0"); /* U+0120 */
    assert_null(omnic_token_str(t, 258));
    assert_null(omnic_token_str(t, -1));
    assert_int_equal(omnic_token_id(t, "<s>"), 256);
    assert_int_equal(omnic_token_id(t, "\xC4\xA0"), ' ');
    assert_int_equal(omnic_token_id(t, "nope"), -1);
    assert_int_equal(omnic_tokenizer_vocab_size(t), 258);
    omnic_tokenizer_free(t);
}

/* ---- split behaviours ---- */

static void pieces_of(const char *behavior, int invert, const char *const *want, size_t nwant) {
    /* every candidate piece is a whole vocab entry and ignore_merges emits it directly,
     * so the ids show the pieces */
    static const char *const cand[] = {"the", "final", "countdown", "-", "the-", "final-", "-final", "-countdown",
                                       "--"};
    char extra[512] = "";
    for (int i = 0; i < 9; i++) {
        size_t l = strlen(extra);
        snprintf(extra + l, sizeof extra - l, ",\"%s\":%d", cand[i], 300 + i);
    }
    char pre[256];
    snprintf(pre, sizeof pre,
             "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},"
             "\"behavior\":\"%s\",\"invert\":%s}," BL_PRE "]}",
             behavior, invert ? "true" : "false");
    char *js = byte_vocab_json(extra, "", pre, "null", "", 1);
    omnic_tokenizer *t;
    assert_int_equal(load_text(js, &t), OMNIC_OK);
    free(js);
    int32_t *ids;
    size_t n;
    encode(t, "the-final--countdown", 20, 1, &ids, &n);
    if (n != nwant) fail_msg("%s: %zu pieces, want %zu", behavior, n, nwant);
    for (size_t i = 0; i < n; i++) assert_string_equal(omnic_token_str(t, ids[i]), want[i]);
    free(ids);
    omnic_tokenizer_free(t);
}

static void test_split_behaviors(void **state) {
    (void)state;
    const char *removed[] = {"the", "final", "countdown"};
    const char *isolated[] = {"the", "-", "final", "-", "-", "countdown"};
    const char *prev[] = {"the-", "final-", "-", "countdown"};
    const char *next[] = {"the", "-final", "-", "-countdown"};
    const char *contig[] = {"the", "-", "final", "--", "countdown"};
    const char *inv_removed[] = {"-", "-", "-"};
    pieces_of("Removed", 0, removed, 3);
    pieces_of("Isolated", 0, isolated, 6);
    pieces_of("MergedWithPrevious", 0, prev, 4);
    pieces_of("MergedWithNext", 0, next, 4);
    pieces_of("Contiguous", 0, contig, 5);
    pieces_of("Removed", 1, inv_removed, 3);
    pieces_of("Isolated", 1, isolated, 6);
}

/* ---- added tokens ---- */

static void test_added_tokens(void **state) {
    (void)state;
    char *js = byte_vocab_json(",\"ab\":300", "\"a b\"", BL_PRE, "null",
                               "{\"id\":400,\"content\":\"<|im_start|>\",\"special\":true,\"normalized\":false},"
                               "{\"id\":401,\"content\":\"<think>\",\"special\":false,\"normalized\":false},"
                               "{\"id\":402,\"content\":\"<m>\",\"lstrip\":true,\"rstrip\":true,\"normalized\":false},"
                               "{\"id\":403,\"content\":\"sw\",\"single_word\":true,\"normalized\":false},"
                               "{\"id\":404,\"content\":\"<|im\",\"special\":false,\"normalized\":true}",
                               0);
    omnic_tokenizer *t;
    assert_int_equal(load_text(js, &t), OMNIC_OK);
    free(js);
    int32_t *ids;
    size_t n;
    /* leftmost-longest: "<|im_start|>" wins over its prefix "<|im" */
    encode(t, "<|im_start|>ab", 14, 1, &ids, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 400);
    assert_int_equal(ids[1], 300);
    free(ids);
    /* parse_special = 0: the special token is text; non-special ones still match */
    encode(t, "<|im_start|><think>", 19, 0, &ids, &n);
    assert_true(n > 2);
    assert_int_equal(ids[0], 404); /* "<|im" matched in the (normalized) gaps */
    assert_int_equal(ids[n - 1], 401);
    free(ids);
    /* lstrip / rstrip swallow the surrounding white space */
    encode(t, "a \t <m>\n b", 10, 1, &ids, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 'a');
    assert_int_equal(ids[1], 402);
    assert_int_equal(ids[2], 'b');
    free(ids);
    /* single_word: only between non-word characters */
    encode(t, "sw xsw sw_ (sw)", 15, 1, &ids, &n);
    int count = 0;
    for (size_t i = 0; i < n; i++) count += ids[i] == 403;
    assert_int_equal(count, 2); /* "sw" at the start and "(sw)" */
    assert_int_equal(ids[0], 403);
    free(ids);
    /* empty text: no ids, but a freeable array */
    encode(t, "", 0, 1, &ids, &n);
    assert_int_equal(n, 0);
    assert_non_null(ids);
    free(ids);
    omnic_tokenizer_free(t);
}

/* ---- BPE ---- */

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_bpe_heap_equals_scan(void **state) {
    (void)state;
    /* merges over a 4-letter alphabet, all pairs and some triples, with random ranks */
    const char *al = "abcd";
    tk_buf vocab = {0}, merges = {0};
    int id = 300, nm = 0;
    char tmp[128];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            snprintf(tmp, sizeof tmp, ",\"%c%c\":%d", al[i], al[j], id++);
            tk_buf_put(&vocab, tmp, strlen(tmp));
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++) {
                snprintf(tmp, sizeof tmp, ",\"%c%c%c\":%d", al[i], al[j], al[k], id++);
                tk_buf_put(&vocab, tmp, strlen(tmp));
            }
    /* pair merges in a shuffled order, then some pair+char merges */
    int order[16];
    for (int i = 0; i < 16; i++) order[i] = i;
    for (int i = 15; i > 0; i--) {
        int j = (int)(rnd() % (unsigned)(i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int i = 0; i < 16; i++) {
        snprintf(tmp, sizeof tmp, "%s[\"%c\",\"%c\"]", nm++ ? "," : "", al[order[i] / 4], al[order[i] % 4]);
        tk_buf_put(&merges, tmp, strlen(tmp));
    }
    for (int i = 0; i < 24; i++) {
        int p = (int)(rnd() % 16), c = (int)(rnd() % 4);
        snprintf(tmp, sizeof tmp, ",[\"%c%c\",\"%c\"]", al[p / 4], al[p % 4], al[c]);
        tk_buf_put(&merges, tmp, strlen(tmp));
    }
    char *js = byte_vocab_json(vocab.data, merges.data, BL_PRE, "null", "", 0);
    tk_buf_free(&vocab);
    tk_buf_free(&merges);
    omnic_tokenizer *t;
    assert_int_equal(load_text(js, &t), OMNIC_OK);
    free(js);
    int32_t a[48], b[48];
    for (int trial = 0; trial < 3000; trial++) {
        int n = 1 + (int)(rnd() % 48);
        for (int i = 0; i < n; i++) a[i] = b[i] = al[rnd() % (trial % 3 ? 4 : 2)];
        int ka = tk_bpe_merge_scan(&t->bpe, a, n), kb = tk_bpe_merge_heap(&t->bpe, b, n);
        assert_int_equal(ka, kb);
        assert_memory_equal(a, b, (size_t)ka * sizeof *a);
    }
    /* a long piece takes the heap path; it must decode back to the text */
    char text[3000];
    for (int i = 0; i < 2999; i++) text[i] = al[rnd() % 4];
    text[2999] = 0;
    int32_t *ids;
    size_t n;
    encode(t, text, 2999, 1, &ids, &n);
    char *back;
    size_t bl;
    assert_int_equal(omnic_detokenize(t, ids, n, 0, &back, &bl), OMNIC_OK);
    assert_int_equal(bl, 2999);
    assert_memory_equal(back, text, bl);
    free(back);
    free(ids);
    omnic_tokenizer_free(t);
}

/* ---- normalizer, invalid input, threads ---- */

static void test_nfc_and_invalid_input(void **state) {
    (void)state;
    char *js = byte_vocab_json("", "", BL_PRE, "{\"type\":\"NFC\"}", "", 0);
    omnic_tokenizer *t;
    int rc = load_text(js, &t);
    free(js);
    if (rc == OMNIC_EUNSUP) { /* no ICU on this machine: the error must say so */
        assert_non_null(strstr(omnic_errmsg(), "ICU"));
        skip();
    }
    assert_int_equal(rc, OMNIC_OK);
    int32_t *a, *b;
    size_t na, nb;
    encode(t, "cafe\xCC\x81", 6, 1, &a, &na);  /* e + combining acute */
    encode(t, "caf\xC3\xA9", 5, 1, &b, &nb);   /* precomposed */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    free(a);
    free(b);
    /* invalid UTF-8 is read as U+FFFD */
    encode(t, "\xFF" "x", 2, 1, &a, &na);
    encode(t, "\xEF\xBF\xBD" "x", 4, 1, &b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    free(a);
    free(b);
    omnic_tokenizer_free(t);
}

typedef struct {
    const omnic_tokenizer *t;
    const char *text;
    int32_t *ids;
    size_t n;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int r = 0; r < 20; r++) {
        free(j->ids);
        if (omnic_tokenize(j->t, j->text, strlen(j->text), 1, &j->ids, &j->n)) return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    char *js = byte_vocab_json(",\"ab\":300,\"abab\":301", "\"a b\",\"ab ab\"",
                               "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                               "{\"Regex\":\"\\\\s+|[^\\\\s]+\"},\"behavior\":\"Isolated\"}," BL_PRE "]}",
                               "null", "", 0);
    omnic_tokenizer *t;
    assert_int_equal(load_text(js, &t), OMNIC_OK);
    free(js);
    tk_buf text = {0};
    for (int i = 0; i < 4000; i++) {
        char w[16];
        int l = snprintf(w, sizeof w, "ab%cab%d ", "abcd"[rnd() % 4], (int)(rnd() % 500));
        tk_buf_put(&text, w, (size_t)l);
    }
    int32_t *ref;
    size_t nref;
    encode(t, text.data, text.len, 1, &ref, &nref);
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){t, text.data, NULL, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
        assert_int_equal(jobs[i].n, nref);
        assert_memory_equal(jobs[i].ids, ref, nref * sizeof *ref);
        free(jobs[i].ids);
    }
    free(ref);
    tk_buf_free(&text);
    omnic_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_and_invalid), cmocka_unit_test(test_bad_components),
        cmocka_unit_test(test_utf8_replacement),    cmocka_unit_test(test_detok_stream),
        cmocka_unit_test(test_split_behaviors),     cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_bpe_heap_equals_scan), cmocka_unit_test(test_nfc_and_invalid_input),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
