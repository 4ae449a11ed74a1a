/* test_output_parser.c - unit tests of the chat output parser (src/text/output_parser.c,
 * json_args.c): hand-checked cases for every family (expected values worked out from
 * shared/spec/chat.md §3 and api.md §7.3/7.5, JSON/repr strings checked against Python's
 * json / ast modules); the same output fed whole, byte by byte, token-like and in
 * random pieces must give identical deltas and results; an independent PCRE2 reference
 * of the Track A algorithm (7.3.1 + 7.5.1, written from the spec's regexes) over a
 * random corpus; fuzzing of every family (no crash, split-invariant, raw text kept);
 * the thinking-budget state machine, stop strings, and the JSON helpers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "omnic.h"
#include "text/output_parser.h"

/* ---- helpers --------------------------------------------------------------------- */

static uint64_t lcg_state = 0x1234567;
static uint32_t rnd(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}
static uint32_t rndn(uint32_t n) { return n ? rnd() % n : 0; }

/* Strict UTF-8 check, written independently of json_args.c. */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned v, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

typedef struct {
    out_buf reasoning, content, calls;  /* concatenated deltas; calls one line each */
    int bad_utf8;
    int has_reasoning, has_content, has_parts;
    out_buf r_reasoning, r_content, r_raw, r_calls, r_json, r_parts;
    int r_n;
} run_out;

static void run_free(run_out *r) {
    out_buf *b[] = {&r->reasoning, &r->content, &r->calls, &r->r_reasoning, &r->r_content,
                    &r->r_raw, &r->r_calls, &r->r_json, &r->r_parts};
    for (size_t k = 0; k < sizeof b / sizeof b[0]; k++) out_buf_free(b[k]);
}

static void add_call_line(out_buf *b, const out_call *c) {
    char t[32];
    snprintf(t, sizeof t, "%d|%d|", c->index, (int)c->kind);
    out_buf_adds(b, t);
    out_buf_adds(b, c->id);
    out_buf_addc(b, '|');
    out_buf_adds(b, c->name);
    out_buf_addc(b, '|');
    out_buf_adds(b, c->arguments);
    out_buf_addc(b, '\n');
}

static void take_delta(run_out *r, const out_delta *d, int input_utf8) {
    assert_non_null(d->reasoning);
    assert_non_null(d->content);
    out_buf_add(&r->reasoning, d->reasoning, d->reasoning_len);
    out_buf_add(&r->content, d->content, d->content_len);
    (void)input_utf8;  /* returned text is valid UTF-8 whatever the input */
    if (!utf8_valid((const unsigned char *)d->reasoning, d->reasoning_len) ||
        !utf8_valid((const unsigned char *)d->content, d->content_len))
        r->bad_utf8 = 1;
    for (int k = 0; k < d->n_calls; k++)
        if (!utf8_valid((const unsigned char *)d->calls[k].name, strlen(d->calls[k].name)) ||
            !utf8_valid((const unsigned char *)d->calls[k].arguments, strlen(d->calls[k].arguments)))
            r->bad_utf8 = 1;
    for (int k = 0; k < d->n_calls; k++) add_call_line(&r->calls, &d->calls[k]);
}

enum { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_TOKENS, SPLIT_RANDOM, SPLIT_TINY, SPLIT_N };

/* Next piece length at t[i..n) for a split mode. */
static size_t piece_len(const char *t, size_t i, size_t n, int mode) {
    size_t rest = n - i;
    switch (mode) {
    case SPLIT_WHOLE: return rest;
    case SPLIT_BYTES: return 1;
    case SPLIT_TOKENS: {  /* a <...> tag as one piece, else 1-3 UTF-8 characters */
        if (t[i] == '<') {
            for (size_t j = i + 1; j < n && j < i + 40; j++) {
                if (t[j] == '<') break;
                if (t[j] == '>') return j + 1 - i;
            }
        }
        size_t j = i, chars = 1 + rndn(3);
        while (j < n && chars) {
            j++;
            while (j < n && ((unsigned char)t[j] & 0xC0) == 0x80) j++;
            chars--;
            if (j < n && t[j] == '<') break;
        }
        return j - i;
    }
    case SPLIT_RANDOM: { size_t l = 1 + rndn(16); return l < rest ? l : rest; }
    default: { size_t l = 1 + rndn(3); return l < rest ? l : rest; }
    }
}

static void run_parser(const out_opts *o, const char *t, size_t n, int mode, run_out *r) {
    memset(r, 0, sizeof *r);
    out_parser *p = out_parser_new_opts(o);
    assert_non_null(p);
    int u8 = utf8_valid((const unsigned char *)t, n);
    out_delta d;
    size_t i = 0;
    if (mode == SPLIT_WHOLE && rndn(2)) {  /* also: an empty feed first */
        assert_int_equal(out_parser_feed(p, "", 0, &d), OMNIC_OK);
        take_delta(r, &d, u8);
    }
    while (i < n) {
        size_t l = piece_len(t, i, n, mode);
        assert_int_equal(out_parser_feed(p, t + i, l, &d), OMNIC_OK);
        take_delta(r, &d, u8);
        i += l;
    }
    assert_null(out_parser_result(p));
    assert_int_equal(out_parser_finish(p, &d), OMNIC_OK);
    take_delta(r, &d, u8);
    const out_result *res = out_parser_result(p);
    assert_non_null(res);
    r->has_reasoning = res->reasoning != NULL;
    if (res->reasoning) out_buf_add(&r->r_reasoning, res->reasoning, res->reasoning_len);
    r->has_content = res->content != NULL;
    if (res->content) out_buf_add(&r->r_content, res->content, res->content_len);
    out_buf_add(&r->r_raw, res->raw_content, res->raw_content_len);
    assert_true(utf8_valid((const unsigned char *)res->raw_content, res->raw_content_len));
    if (res->content) assert_true(utf8_valid((const unsigned char *)res->content, res->content_len));
    if (res->reasoning)
        assert_true(utf8_valid((const unsigned char *)res->reasoning, res->reasoning_len));
    assert_true(utf8_valid((const unsigned char *)res->tool_calls_json, strlen(res->tool_calls_json)));
    if (res->content_parts_json)
        assert_true(utf8_valid((const unsigned char *)res->content_parts_json,
                               strlen(res->content_parts_json)));
    for (int k = 0; k < res->n_calls; k++) add_call_line(&r->r_calls, &res->calls[k]);
    r->r_n = res->n_calls;
    assert_int_equal(res->tool_calls_present, res->n_calls > 0);
    out_buf_adds(&r->r_json, res->tool_calls_json);
    r->has_parts = res->content_parts_json != NULL;
    if (res->content_parts_json) out_buf_adds(&r->r_parts, res->content_parts_json);
    /* the tool_calls JSON is valid and matches the calls */
    json_error_t err;
    json_t *j = json_loads(res->tool_calls_json, 0, &err);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), (size_t)res->n_calls);
    for (int k = 0; k < res->n_calls; k++) {
        json_t *e = json_array_get(j, (size_t)k), *fn = json_object_get(e, "function");
        assert_string_equal(json_string_value(json_object_get(e, "id")), res->calls[k].id);
        assert_string_equal(json_string_value(json_object_get(e, "type")), "function");
        assert_string_equal(json_string_value(json_object_get(fn, "name")), res->calls[k].name);
        assert_string_equal(json_string_value(json_object_get(fn, "arguments")),
                            res->calls[k].arguments);
        json_t *a = json_loads(res->calls[k].arguments, JSON_ALLOW_NUL, &err);
        if (!json_is_object(a)) fail_msg("arguments not a JSON object: %s", res->calls[k].arguments);
        json_decref(a);
        const char *id = res->calls[k].id;
        assert_int_equal(strlen(id), 14 + 32);
        assert_memory_equal(id, "chatcmpl-tool-", 14);
        for (int q = 14; q < 46; q++) assert_non_null(strchr("0123456789abcdef", id[q]));
        assert_int_equal(res->calls[k].index, k);
    }
    json_decref(j);
    if (res->content_parts_json) {
        json_t *cp = json_loads(res->content_parts_json, 0, &err);
        assert_true(json_is_array(cp));
        json_decref(cp);
    }
    out_parser_free(p);
}

static void assert_buf_eq(const out_buf *a, const out_buf *b, const char *what) {
    if (a->n != b->n || (a->n && memcmp(a->p, b->p, a->n)))
        fail_msg("%s differs: [%.*s] vs [%.*s]", what, (int)a->n, a->p ? a->p : "",
                 (int)b->n, b->p ? b->p : "");
}

/* Runs every split mode (random ones several times) and checks they all agree with
 * the whole-text run; returns the whole-text run in *w. */
static void check_invariant(const out_opts *o, const char *t, size_t n, run_out *w) {
    run_parser(o, t, n, SPLIT_WHOLE, w);
    for (int mode = 1; mode < SPLIT_N; mode++) {
        for (int rep = 0; rep < (mode >= SPLIT_TOKENS ? 3 : 1); rep++) {
            run_out r;
            run_parser(o, t, n, mode, &r);
            assert_buf_eq(&w->reasoning, &r.reasoning, "reasoning deltas");
            assert_buf_eq(&w->content, &r.content, "content deltas");
            assert_buf_eq(&w->calls, &r.calls, "call deltas");
            assert_int_equal(w->has_reasoning, r.has_reasoning);
            assert_int_equal(w->has_content, r.has_content);
            assert_buf_eq(&w->r_reasoning, &r.r_reasoning, "result reasoning");
            assert_buf_eq(&w->r_content, &r.r_content, "result content");
            assert_buf_eq(&w->r_raw, &r.r_raw, "result raw content");
            assert_buf_eq(&w->r_calls, &r.r_calls, "result calls");
            assert_buf_eq(&w->r_json, &r.r_json, "result tool_calls json");
            assert_int_equal(w->has_parts, r.has_parts);
            assert_buf_eq(&w->r_parts, &r.r_parts, "content_parts");
            assert_false(r.bad_utf8);
            run_free(&r);
        }
    }
    assert_false(w->bad_utf8);
    /* the result reasoning is the concatenation of the reasoning deltas */
    if (w->has_reasoning) assert_buf_eq(&w->reasoning, &w->r_reasoning, "reasoning vs deltas");
    else assert_int_equal(w->reasoning.n, 0);
}

/* ---- hand-checked cases ------------------------------------------------------------- */

static const char ANY[] = "\x01(any)";

typedef struct {
    const char *name;
    out_family fam;
    int reasoning, tools;
    const char *in;
    const char *reasoning_exp;  /* NULL = null */
    const char *content_exp;    /* NULL = null */
    const char *calls_exp;      /* "name|kind|arguments\n" per call */
    const char *stream_content; /* concatenated content deltas, or ANY */
    const char *parts_exp;      /* content_parts with ids as @k, NULL = null, or ANY */
    const char *stream_calls;   /* calls sent in the stream ("name|kind|args\n"), or ANY
                                   (= the same as the result) */
} tcase;

static const char TOOLS_A[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
    "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": "
    "{\"type\": \"integer\"}, \"code\": {\"type\": \"string\"}}}}}, {\"type\": \"function\", "
    "\"function\": {\"name\": \"run_code\", \"parameters\": {\"properties\": {\"code\": "
    "{\"type\": \"string\"}, \"opts\": {\"type\": \"object\"}}}}}]";
static const char TOOLS_B[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"t2i_model_generation\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"discrete_image_token\": "
    "{\"type\": \"string\"}}}}}, {\"type\": \"function\", \"function\": {\"name\": "
    "\"get_weather\", \"parameters\": {\"properties\": {\"city\": {\"type\": \"string\"}, "
    "\"days\": {\"type\": \"integer\"}}}}}]";

#define ON OUT_REASON_ON
#define OFF OUT_REASON_OFF
#define AUTO OUT_REASON_AUTO
#define T_ OUT_FAMILY_THINK
#define H_ OUT_FAMILY_HCX_LEGACY
#define P_ OUT_FAMILY_PLAIN
#define O_ OUT_FAMILY_OMNI

#define IMG_RUN "<|discrete_image_start|><|vision_ratio_1:1|><|vision_token|><|vision00001|>" \
                "<|vision65535|><|vision_eol|><|vision_eof|><|discrete_image_end|>"
#define T2I_CALL "<tool_call>t2i_model_generation\n<arg_key>discrete_image_token</arg_key>\n" \
                 "<arg_value>" IMG_RUN "</arg_value>\n</tool_call>"
#define AUDIO_RUN "<|discrete_audio_start|><|audio0001|><|audio0002|><|audio0003|><|discrete_audio_end|>"

static const tcase CASES[] = {
    /* ---- Think-32B (Track A) ---- */
    {"A reasoning+answer", T_, ON, 0, "Let me think.\n</think>\n\nThe answer is 2.",
     "Let me think.\n", "The answer is 2.", "", ANY, NULL, ANY},
    {"A answer only", T_, OFF, 0, "The answer is 2.", NULL, "The answer is 2.", "", ANY, NULL, ANY},
    {"A truncated reasoning", T_, ON, 0, "still thinking about 한국어", "still thinking about 한국어",
     NULL, "", "", NULL, ANY},
    {"A <think> opener", T_, ON, 0, "<think>\nreason\n</think>\n\nanswer", "\nreason\n", "answer",
     "", ANY, NULL, ANY},
    {"A stray </think> thinking off", T_, OFF, 0, "Hi</think>there", NULL, "Hi</think>there", "",
     ANY, NULL, ANY},
    {"A second </think>", T_, ON, 0, "a</think>\n\nb</think>c", "a", "b</think>c", "", ANY, NULL, ANY},
    {"A unclosed <think> thinking off", T_, OFF, 0, "<think>abc", NULL, "<think>abc", "", ANY, NULL, ANY},
    {"A empty reasoning", T_, ON, 0, "</think>\n\nok", "", "ok", "", ANY, NULL, ANY},
    {"A empty output on", T_, ON, 0, "", "", NULL, "", "", NULL, ANY},
    {"A empty output off", T_, OFF, 1, "", NULL, NULL, "", "", NULL, ANY},
    {"A control token", T_, OFF, 0, "Answer<|im_end|>", NULL, "Answer", "", "Answer", NULL, ANY},
    {"A Korean answer", T_, ON, 1, "사용자가 인사했다.\n</think>\n\n안녕하세요! 무엇을 도와드릴까요?",
     "사용자가 인사했다.\n", "안녕하세요! 무엇을 도와드릴까요?", "", ANY, NULL, ANY},
    {"A tool call after content", T_, ON, 1,
     "Need weather.\n</think>\n\nLet me check.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
     "<arg_value>서울</arg_value>\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>",
     "Need weather.\n", "Let me check.\n",
     "get_weather|0|{\"city\": \"\\uc11c\\uc6b8\", \"days\": 3}\n", "Let me check.\n", NULL, ANY},
    {"A two calls, code with <", T_, OFF, 1,
     "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>\n"
     "<tool_call>run_code\n<arg_key>code</arg_key>\n<arg_value>if a < b and c<d:\n    print(\"<tag>\")"
     "</arg_value>\n<arg_key>opts</arg_key>\n<arg_value>{\"timeout\": 5, \"env\": {\"A\": \"1\"}}"
     "</arg_value>\n</tool_call>",
     NULL, NULL,
     "get_weather|0|{\"city\": \"Paris\"}\n"
     "run_code|0|{\"code\": \"if a < b and c<d:\\n    print(\\\"<tag>\\\")\", \"opts\": "
     "{\"timeout\": 5, \"env\": {\"A\": \"1\"}}}\n", "", NULL, ANY},
    {"A value typing without schema", T_, OFF, 1,
     "<tool_call>unknown\n<arg_key>b</arg_key><arg_value>true</arg_value>\n<arg_key>o</arg_key>"
     "<arg_value>{\"x\": [1, 2.50]}</arg_value>\n<arg_key>s</arg_key><arg_value>'single'</arg_value>\n"
     "<arg_key>T</arg_key><arg_value>True</arg_value>\n<arg_key>N</arg_key><arg_value>None</arg_value>\n"
     "<arg_key>bad</arg_key><arg_value>[1, 2</arg_value>\n<arg_key>f</arg_key><arg_value>3.0</arg_value>\n"
     "<arg_key>e</arg_key><arg_value>1e3</arg_value>\n<arg_key>q</arg_key><arg_value>\"quoted\"</arg_value>\n"
     "<arg_key>w</arg_key><arg_value>abc def</arg_value>\n<arg_key>k</arg_key><arg_value>한국어</arg_value>\n"
     "<arg_key>neg</arg_key><arg_value>-7</arg_value>\n<arg_key>hx</arg_key><arg_value>0x10</arg_value>\n"
     "</tool_call>",
     NULL, NULL,
     "unknown|0|{\"b\": true, \"o\": {\"x\": [1, 2.5]}, \"s\": \"single\", \"T\": true, \"N\": null, "
     "\"bad\": \"[1, 2\", \"f\": 3.0, \"e\": 1000.0, \"q\": \"quoted\", \"w\": \"abc def\", "
     "\"k\": \"\\ud55c\\uad6d\\uc5b4\", \"neg\": -7, \"hx\": 16}\n", "", NULL, ANY},
    {"A schema string keeps text", T_, OFF, 1,
     "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>123</arg_value>\n<arg_key>days</arg_key>\n"
     "<arg_value>3</arg_value>\n<arg_key>code</arg_key>\n<arg_value>{\"a\": 1}</arg_value>\n</tool_call>",
     NULL, NULL, "get_weather|0|{\"city\": \"123\", \"days\": 3, \"code\": \"{\\\"a\\\": 1}\"}\n", "",
     NULL, ANY},
    {"A bad JSON in typed value", T_, OFF, 1,
     "<tool_call>run_code\n<arg_key>opts</arg_key>\n<arg_value>{\"timeout\": }</arg_value>\n</tool_call>",
     NULL, NULL, "run_code|0|{\"opts\": \"{\\\"timeout\\\": }\"}\n", "", NULL, ANY},
    {"A span without newline fails", T_, OFF, 1, "Time: <tool_call>get_time</tool_call>", NULL,
     "Time: <tool_call>get_time</tool_call>", "", "Time: <tool_call>get_time</tool_call>", NULL, ANY},
    {"A unclosed call is content", T_, OFF, 1,
     "Sure.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Seoul", NULL,
     "Sure.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Seoul", "",
     "Sure.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Seoul", NULL, ANY},
    {"A complete then unclosed", T_, OFF, 1,
     "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Seoul</arg_value>\n</tool_call>\n"
     "<tool_call>get_weather\n<arg_key>ci", NULL, NULL, "get_weather|0|{\"city\": \"Seoul\"}\n", "",
     NULL, ANY},
    {"A later span fails: no calls in the result", T_, OFF, 1,
     "<tool_call>get_weather\n<arg_key>city</arg_key><arg_value>Seoul</arg_value></tool_call>"
     "<tool_call>bad</tool_call>",
     NULL,
     "<tool_call>get_weather\n<arg_key>city</arg_key><arg_value>Seoul</arg_value></tool_call>"
     "<tool_call>bad</tool_call>",
     "", "<tool_call>bad</tool_call>", NULL, "get_weather|0|{\"city\": \"Seoul\"}\n"},
    {"A odd whitespace", T_, OFF, 1,
     "<tool_call>  get_weather  \n\n  <arg_key> days </arg_key>  \n\t <arg_value>\n 42 \n</arg_value>"
     "</tool_call>", NULL, NULL, "get_weather|0|{\"days\": 42}\n", "", NULL, ANY},
    {"A key regex backtracking", T_, OFF, 1,
     "<tool_call>f\n<arg_key>a</arg_key>x<arg_key>b</arg_key><arg_value>1</arg_value></tool_call>",
     NULL, NULL, "f|0|{\"a</arg_key>x<arg_key>b\": 1}\n", "", NULL, ANY},
    {"A no arguments", T_, OFF, 1, "<tool_call>get_time\n</tool_call>", NULL, NULL, "get_time|0|{}\n",
     "", NULL, ANY},
    {"A text between and after calls", T_, OFF, 1,
     "Intro <tool_call>f\n</tool_call> middle <tool_call>g\n</tool_call> tail", NULL, "Intro ",
     "f|0|{}\ng|0|{}\n", "Intro ", NULL, ANY},
    {"A whitespace content becomes null", T_, OFF, 1, "\n\n<tool_call>f\n</tool_call>", NULL, NULL,
     "f|0|{}\n", "\n\n", NULL, ANY},
    {"A call inside reasoning is text", T_, ON, 1,
     "maybe <tool_call>f\n</tool_call>\n</think>\n\nno call", "maybe <tool_call>f\n</tool_call>\n",
     "no call", "", "no call", NULL, ANY},
    {"A tools absent: no parsing", T_, OFF, 0, "<tool_call>f\n</tool_call>", NULL,
     "<tool_call>f\n</tool_call>", "", ANY, NULL, ANY},
    {"A duplicate keys", T_, OFF, 1,
     "<tool_call>f\n<arg_key>a</arg_key><arg_value>1</arg_value><arg_key>b</arg_key><arg_value>2"
     "</arg_value><arg_key>a</arg_key><arg_value>3</arg_value></tool_call>",
     NULL, NULL, "f|0|{\"a\": 3, \"b\": 2}\n", "", NULL, ANY},
    {"A emoji value", T_, OFF, 1, "<tool_call>f\n<arg_key>e</arg_key><arg_value>😀</arg_value></tool_call>",
     NULL, NULL, "f|0|{\"e\": \"\\ud83d\\ude00\"}\n", "", NULL, ANY},
    {"A value without </arg_value>", T_, OFF, 1,
     "<tool_call>f\n<arg_key>a</arg_key><arg_value>1\n</tool_call>", NULL, NULL, "f|0|{}\n", "", NULL, ANY},
    {"A literal '<' and partial tags in text", T_, OFF, 1, "a < b, <tool and <tool_cal>x", NULL,
     "a < b, <tool and <tool_cal>x", "", ANY, NULL, ANY},

    /* ---- Think-14B ---- */
    {"H reasoning then answer", H_, AUTO, 0,
     "/think\nreasoning here<|im_end|>\n<|im_start|>assistant\nThe answer.<|im_end|>", "reasoning here",
     "The answer.", "", "The answer.", NULL, ANY},
    {"H direct answer", H_, AUTO, 0, "\nHello!<|im_end|>", NULL, "Hello!", "", ANY, NULL, ANY},
    {"H reasoning then tool call", H_, AUTO, 1,
     "/think\nneed tool<|im_end|>\n<|im_start|>assistant -> tool/function_call\n[{\"name\": "
     "\"get_weather\", \"arguments\": {\"city\": \"서울\", \"days\": 2}}]<|im_end|>",
     "need tool", NULL, "get_weather|0|{\"city\": \"서울\", \"days\": 2}\n", "", NULL, ANY},
    {"H two direct calls", H_, AUTO, 1,
     " -> tool/function_call\n[{\"name\": \"a\", \"arguments\": {\"x\": 1.50}}, {\"name\": \"b\", "
     "\"arguments\": {}}]<|im_end|>", NULL, NULL, "a|0|{\"x\": 1.5}\nb|0|{}\n", "", NULL, ANY},
    {"H no <|im_end|>: up to the last ]", H_, AUTO, 1,
     " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": {\"q\": \"[x]\"}}] trailing", NULL,
     NULL, "f|0|{\"q\": \"[x]\"}\n", "", NULL, ANY},
    {"H text after <|im_end|> is dropped", H_, AUTO, 1,
     " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": {}}]<|im_end|>\n[note]", NULL, NULL,
     "f|0|{}\n", "", NULL, ANY},
    {"H bad JSON is content", H_, AUTO, 1, " -> tool/function_call\n[{\"name\": \"f\", ", NULL,
     " -> tool/function_call\n[{\"name\": \"f\", ", "", ANY, NULL, ANY},
    {"H missing name is content", H_, AUTO, 1, " -> tool/function_call\n[{\"arguments\": {}}]<|im_end|>",
     NULL, " -> tool/function_call\n[{\"arguments\": {}}]", "", ANY, NULL, ANY},
    {"H double-encoded arguments", H_, AUTO, 1,
     " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": \\\"한\\\"}\"}]<|im_end|>",
     NULL, NULL, "f|0|{\"a\": \"한\"}\n", "", NULL, ANY},
    {"H arguments not an object is content", H_, AUTO, 1,
     " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": 3}]<|im_end|>", NULL,
     " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": 3}]", "", ANY, NULL, ANY},
    {"H content kept before boundary+marker", H_, AUTO, 1,
     "\nLet me check.<|im_end|>\n<|im_start|>assistant -> tool/function_call\n[{\"name\": \"f\", "
     "\"arguments\": {}}]<|im_end|>", NULL, "Let me check.", "f|0|{}\n", "Let me check.", NULL, ANY},
    {"H content before bare marker is null", H_, AUTO, 1,
     "Sure -> tool/function_call\n[{\"name\": \"f\", \"arguments\": {}}]<|im_end|>", NULL, NULL,
     "f|0|{}\n", "Sure", NULL, ANY},
    {"H force_reasoning", H_, ON, 0, "thinking...<|im_end|>\n<|im_start|>assistant\nok", "thinking...",
     "ok", "", "ok", NULL, ANY},
    {"H skip_reasoning", H_, OFF, 0, "/think\nabc", NULL, "/think\nabc", "", ANY, NULL, ANY},
    {"H truncated reasoning", H_, AUTO, 0, "/think\nhmm", "hmm", NULL, "", "", NULL, ANY},
    {"H short output that is a prefix of /think", H_, AUTO, 0, "/thin", NULL, "/thin", "", ANY, NULL, ANY},
    {"H arrow in text", H_, AUTO, 1, "\n안녕하세요 -> 반갑습니다<|im_end|>", NULL, "안녕하세요 -> 반갑습니다",
     "", ANY, NULL, ANY},
    {"P plain answer", P_, ON, 0, "\nHi there<|im_end|>", NULL, "Hi there", "", "Hi there", NULL, ANY},
    {"P tool marker", P_, OFF, 1, " -> tool/function_call\n[{\"name\": \"f\", \"arguments\": {\"a\": "
     "[1, {\"b\": null}]}}]<|im_end|>", NULL, NULL, "f|0|{\"a\": [1, {\"b\": null}]}\n", "", NULL, ANY},

    /* ---- Omni-8B (Track B) ---- */
    {"O image call", O_, OFF, 1, T2I_CALL, NULL, NULL,
     "t2i_model_generation|1|{\"discrete_image_token\": \"" IMG_RUN "\"}\n", "",
     "[{\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]", ANY},
    {"O text then image call", O_, OFF, 1, "고양이를 그렸어요.\n" T2I_CALL, NULL, "고양이를 그렸어요.",
     "t2i_model_generation|1|{\"discrete_image_token\": \"" IMG_RUN "\"}\n", "고양이를 그렸어요.\n",
     "[{\"type\": \"text\", \"text\": \"고양이를 그렸어요.\"}, {\"type\": \"tool_call_ref\", "
     "\"tool_call_id\": \"@0\"}]", ANY},
    {"O stand-alone image run", O_, OFF, 1,
     "Here: <|discrete_image_start|><|vision_ratio_4:3|><|vision00005|><|discrete_image_end|> done",
     NULL, "Here: done",
     "t2i_model_generation|1|{\"discrete_image_token\": \"<|discrete_image_start|><|vision_ratio_4:3|>"
     "<|vision00005|><|discrete_image_end|>\"}\n", "Here:  done",
     "[{\"type\": \"text\", \"text\": \"Here:\"}, {\"type\": \"tool_call_ref\", \"tool_call_id\": "
     "\"@0\"}, {\"type\": \"text\", \"text\": \"done\"}]", ANY},
    {"O audio block with transcripts", O_, OFF, 1,
     "<user_transcript>안녕</user_transcript>\n<assistant_transcript>반가워요</assistant_transcript>\n"
     "<audio_decoder_call>\n<speaker_info>{\"gender\": \"f\"}</speaker_info>\n<discrete_audio>"
     AUDIO_RUN "</discrete_audio>\n</audio_decoder_call>",
     NULL, "반가워요",
     "audio_synthesis|2|{\"speaker_info\": {\"gender\": \"f\"}, \"discrete_audio\": \"" AUDIO_RUN "\"}\n",
     "<user_transcript>안녕</user_transcript>\n<assistant_transcript>반가워요</assistant_transcript>\n",
     "[{\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]", ANY},
    {"O audio block, speaker info not JSON", O_, OFF, 1,
     "<audio_decoder_call><speaker_info> warm voice </speaker_info><discrete_audio><|audio0001|>"
     "</discrete_audio></audio_decoder_call>", NULL, NULL,
     "audio_synthesis|2|{\"speaker_info\": {\"raw\": \"warm voice\"}, \"discrete_audio\": \"<|audio0001|>\"}\n",
     "", "[{\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]", ANY},
    {"O bare audio units", O_, OFF, 1, "Hello <|audio0012|><|audio0345|> world<|audio6560|>", NULL,
     "Hello world",
     "audio_synthesis|2|{\"units\": [12, 345, 6560], \"format\": \"wav\", \"token_count\": 3}\n",
     "Hello  world",
     "[{\"type\": \"text\", \"text\": \"Hello\"}, {\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]",
     ANY},
    {"O no tools: units stay in content, not streamed", O_, OFF, 0,
     "말해볼게요 <|audio0001|><|audio0002|>", NULL, "말해볼게요 <|audio0001|><|audio0002|>", "",
     "말해볼게요 ", NULL, ANY},
    {"O no tools: audio block withheld from the stream", O_, OFF, 0,
     "A<audio_decoder_call><speaker_info>{}</speaker_info><discrete_audio><|audio0001|></discrete_audio>"
     "</audio_decoder_call>B", NULL,
     "A<audio_decoder_call><speaker_info>{}</speaker_info><discrete_audio><|audio0001|></discrete_audio>"
     "</audio_decoder_call>B", "", "AB", NULL, ANY},
    {"O no tools: image run withheld, tool call text kept", O_, OFF, 0,
     "x" IMG_RUN "y<tool_call>f\n</tool_call>", NULL, "x" IMG_RUN "y<tool_call>f\n</tool_call>", "",
     "xy<tool_call>f\n</tool_call>", NULL, ANY},
    {"O reasoning", O_, ON, 0, "생각 중\n</think>\n\n답", "생각 중\n", "답", "", "답", NULL, ANY},
    {"O thinking off keeps </think> in content", O_, OFF, 1, "reasoning text\n</think>\n\nanswer", NULL,
     "reasoning text\n</think>\n\nanswer", "", "reasoning text\n</think>\n\nanswer", NULL, ANY},
    {"O ordinary tool: string values", O_, OFF, 1,
     "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>서울</arg_value>\n<arg_key>days</arg_key>\n"
     "<arg_value>3</arg_value>\n</tool_call>", NULL, NULL,
     "get_weather|0|{\"city\": \"서울\", \"days\": \"3\"}\n", "",
     "[{\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]", ANY},
    {"O value without </arg_value>", O_, OFF, 1,
     "<tool_call>f\n<arg_key>a</arg_key>\n<arg_value>x\n<arg_key>b</arg_key>\n<arg_value>y</arg_value>\n"
     "</tool_call>", NULL, NULL, "f|0|{\"a\": \"x\", \"b\": \"y\"}\n", "", ANY, ANY},
    {"O unclosed audio block", O_, OFF, 1,
     "Hi\n<audio_decoder_call>\n<speaker_info>{\"is_ref_audio\": true}</speaker_info>\n<discrete_audio>\n"
     "<|discrete_audio_start|><|audio0001|><|audio0002|><|audio0003|>", NULL,
     "Hi\n<audio_decoder_call>\n<speaker_info>{\"is_ref_audio\": true}</speaker_info>\n<discrete_audio>\n"
     "<|discrete_audio_start|>",
     "audio_synthesis|2|{\"units\": [1, 2, 3], \"format\": \"wav\", \"token_count\": 3}\n", "Hi\n",
     "[{\"type\": \"text\", \"text\": \"Hi\\n<audio_decoder_call>\\n<speaker_info>{\\\"is_ref_audio\\\": "
     "true}</speaker_info>\\n<discrete_audio>\\n<|discrete_audio_start|>\"}, {\"type\": \"tool_call_ref\", "
     "\"tool_call_id\": \"@0\"}]", ANY},
    {"O unclosed image call with a complete run", O_, OFF, 1,
     "<tool_call>t2i_model_generation\n<arg_key>discrete_image_token</arg_key>\n<arg_value>" IMG_RUN,
     NULL, NULL, "t2i_model_generation|1|{\"discrete_image_token\": \"" IMG_RUN "\"}\n",
     "<tool_call>t2i_model_generation\n<arg_key>discrete_image_token</arg_key>\n<arg_value>",
     "[{\"type\": \"tool_call_ref\", \"tool_call_id\": \"@0\"}]", ANY},
    {"O think block removed from content", O_, OFF, 1, "<think>x</think>answer", NULL, "answer", "",
     "<think>x</think>answer", NULL, ANY},
    {"O stray media tokens", O_, OFF, 1, "A<|vision_eol|>B<|discrete_audio_end|>C", NULL,
     "A<|vision_eol|>B<|discrete_audio_end|>C", "", "ABC", NULL, ANY},
    {"O call with empty name is text", O_, OFF, 1, "<tool_call>\n<arg_key>a</arg_key></tool_call>x", NULL,
     "<tool_call>\n<arg_key>a</arg_key></tool_call>x", "", "<tool_call>\n<arg_key>a</arg_key></tool_call>x",
     NULL, ANY},
    {"O whitespace cleanup", O_, OFF, 1, "a  b\n\n\n\nc <|audio0001|><|audio0002|><|audio0003|>", NULL,
     "a b\n\nc", "audio_synthesis|2|{\"units\": [1, 2, 3], \"format\": \"wav\", \"token_count\": 3}\n",
     "a  b\n\n\n\nc ", ANY, ANY},
};

/* "name|kind|args\n" lines of a run's call lines ("index|kind|id|name|args"). */
static void strip_ids(const out_buf *calls, out_buf *dst) {
    const char *s = calls->p ? calls->p : "";
    while (*s) {
        const char *nl = strchr(s, '\n');
        const char *f1 = strchr(s, '|'), *f2 = strchr(f1 + 1, '|'), *f3 = strchr(f2 + 1, '|');
        const char *f4 = strchr(f3 + 1, '|');
        out_buf_add(dst, f3 + 1, (size_t)(f4 - f3 - 1));           /* name */
        out_buf_addc(dst, '|');
        out_buf_add(dst, f1 + 1, (size_t)(f2 - f1 - 1));           /* kind */
        out_buf_addc(dst, '|');
        out_buf_add(dst, f4 + 1, (size_t)(nl - f4 - 1));           /* args */
        out_buf_addc(dst, '\n');
        s = nl + 1;
    }
}

/* Replace each call id in s by @k. */
static void ids_to_refs(const out_buf *calls, const char *s, out_buf *dst) {
    out_buf t = {0};
    out_buf_adds(&t, s);
    const char *c = calls->p ? calls->p : "";
    int k = 0;
    while (*c) {
        const char *f1 = strchr(c, '|'), *f2 = strchr(f1 + 1, '|'), *f3 = strchr(f2 + 1, '|');
        char id[64], ref[16];
        snprintf(id, sizeof id, "%.*s", (int)(f3 - f2 - 1), f2 + 1);
        snprintf(ref, sizeof ref, "@%d", k++);
        out_buf u = {0};
        const char *q = t.p, *hit;
        while ((hit = strstr(q, id))) {
            out_buf_add(&u, q, (size_t)(hit - q));
            out_buf_adds(&u, ref);
            q = hit + strlen(id);
        }
        out_buf_adds(&u, q);
        out_buf_free(&t);
        t = u;
        c = strchr(c, '\n') + 1;
    }
    out_buf_adds(dst, t.p);
    out_buf_free(&t);
}

static void expect_str(const char *what, const char *name, int has, const out_buf *got,
                       const char *exp) {
    if (exp == ANY) return;
    if (!exp) {
        if (has) fail_msg("%s: %s: expected null, got [%.*s]", name, what, (int)got->n, got->p);
        return;
    }
    if (!has) fail_msg("%s: %s: expected [%s], got null", name, what, exp);
    if (got->n != strlen(exp) || (got->n && memcmp(got->p, exp, got->n)))
        fail_msg("%s: %s:\n expected [%s]\n got      [%.*s]", name, what, exp, (int)got->n,
                 got->p ? got->p : "");
}

static void test_cases(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const tcase *c = &CASES[k];
        out_opts o = {0};
        o.family = c->fam;
        o.reasoning = c->reasoning;
        o.parse_tools = c->tools;
        o.tools_json = c->tools ? (c->fam == O_ ? TOOLS_B : TOOLS_A) : NULL;
        o.id_seed = 1000 + k;
        run_out w;
        check_invariant(&o, c->in, strlen(c->in), &w);
        expect_str("reasoning", c->name, w.has_reasoning, &w.r_reasoning, c->reasoning_exp);
        expect_str("content", c->name, w.has_content, &w.r_content, c->content_exp);
        out_buf calls = {0}, scalls = {0};
        strip_ids(&w.r_calls, &calls);
        expect_str("calls", c->name, 1, &calls, c->calls_exp);
        strip_ids(&w.calls, &scalls);
        expect_str("streamed calls", c->name, 1, &scalls,
                   c->stream_calls == ANY ? c->calls_exp : c->stream_calls);
        expect_str("streamed content", c->name, 1, &w.content, c->stream_content);
        if (c->parts_exp != ANY) {
            out_buf parts = {0};
            if (w.has_parts) ids_to_refs(&w.r_calls, w.r_parts.p, &parts);
            expect_str("content_parts", c->name, w.has_parts, &parts, c->parts_exp);
            out_buf_free(&parts);
        }
        /* Track A / 14B: the result content is the streamed content or null */
        if (c->fam != O_ && w.has_content && c->stream_content == ANY)
            assert_buf_eq(&w.content, &w.r_content, c->name);
        out_buf_free(&calls);
        out_buf_free(&scalls);
        run_free(&w);
    }
}

/* ---- feeding behaviour: hold-back of partial tags ----------------------------------- */

static void feed_expect(out_parser *p, const char *in, const char *r, const char *c, int ncalls) {
    out_delta d;
    assert_int_equal(out_parser_feed(p, in, strlen(in), &d), OMNIC_OK);
    assert_string_equal(d.reasoning, r);
    assert_string_equal(d.content, c);
    assert_int_equal(d.n_calls, ncalls);
}

static void test_holdback(void **state) {
    (void)state;
    out_parser *p = out_parser_new(OUT_FAMILY_THINK, 1, TOOLS_A);
    assert_non_null(p);
    feed_expect(p, "abc</thi", "abc", "", 0);
    feed_expect(p, "nk>", "", "", 0);
    feed_expect(p, "\n\nHello <tool_c", "", "Hello ", 0);
    feed_expect(p, "all>get_weather\n<arg_key>city</arg_key>", "", "", 0);
    feed_expect(p, "<arg_value>a<b</arg_value></tool_call", "", "", 0);
    out_delta d;
    assert_int_equal(out_parser_feed(p, ">", 1, &d), OMNIC_OK);
    assert_int_equal(d.n_calls, 1);
    assert_string_equal(d.calls[0].name, "get_weather");
    assert_string_equal(d.calls[0].arguments, "{\"city\": \"a<b\"}");
    assert_int_equal(out_parser_finish(p, &d), OMNIC_OK);
    assert_int_equal(out_parser_feed(p, "x", 1, &d), OMNIC_EINVAL);
    assert_int_equal(out_parser_finish(p, &d), OMNIC_EINVAL);
    out_parser_free(p);

    p = out_parser_new(OUT_FAMILY_THINK, 0, NULL);
    feed_expect(p, "ok <|im_", "", "ok ", 0);
    feed_expect(p, "end|>", "", "", 0);
    feed_expect(p, "\xed\x95", "", "", 0);        /* incomplete UTF-8 is held */
    feed_expect(p, "\x9c!", "", "\xed\x95\x9c!", 0);
    feed_expect(p, "a < b", "", "a < b", 0);
    feed_expect(p, " <", "", " ", 0);             /* "<" may start <|im_end|> */
    feed_expect(p, "x", "", "<x", 0);
    out_parser_free(p);

    p = out_parser_new(OUT_FAMILY_HCX_LEGACY, 0, NULL);
    feed_expect(p, "/thi", "", "", 0);
    feed_expect(p, "nk\n", "", "", 0);
    feed_expect(p, "abc<|im_end|>\n<|im_st", "abc", "", 0);
    feed_expect(p, "art|>assistant\n\nanswer", "", "answer", 0);
    out_parser_free(p);

    p = out_parser_new(OUT_FAMILY_OMNI, 0, TOOLS_B);
    feed_expect(p, "say <|audio00", "", "say ", 0);
    feed_expect(p, "12|> hi <|vision_eo", "", " hi ", 0);
    feed_expect(p, "l|>", "", "", 0);
    assert_int_equal(out_parser_finish(p, &d), OMNIC_OK);
    assert_int_equal(d.n_calls, 1);
    assert_int_equal(d.calls[0].kind, OUT_CALL_AUDIO);
    assert_string_equal(d.calls[0].arguments, "{\"units\": [12], \"format\": \"wav\", \"token_count\": 1}");
    out_parser_free(p);
}

static void test_api(void **state) {
    (void)state;
    assert_null(out_parser_new(OUT_FAMILY_THINK, 0, "{not json"));
    assert_non_null(strstr(omnic_errmsg(), "tools"));
    assert_null(out_parser_new(OUT_FAMILY_THINK, 0, "{\"a\": 1}"));
    out_opts bad = {0};
    bad.family = (out_family)99;
    assert_null(out_parser_new_opts(&bad));
    out_parser_free(NULL);

    /* ids: deterministic per seed, different across seeds and calls */
    const char *in = "<tool_call>f\n</tool_call><tool_call>g\n</tool_call>";
    char ids[3][2][64];
    uint64_t seeds[3] = {7, 7, 8};
    for (int s = 0; s < 3; s++) {
        out_opts o = {OUT_FAMILY_THINK, OFF, 1, NULL, seeds[s], 0};
        out_parser *p = out_parser_new_opts(&o);
        out_delta d;
        assert_int_equal(out_parser_feed(p, in, strlen(in), &d), OMNIC_OK);
        assert_int_equal(out_parser_finish(p, NULL), OMNIC_OK);
        const out_result *r = out_parser_result(p);
        assert_int_equal(r->n_calls, 2);
        for (int k = 0; k < 2; k++) snprintf(ids[s][k], 64, "%s", r->calls[k].id);
        out_parser_free(p);
    }
    assert_string_equal(ids[0][0], ids[1][0]);
    assert_string_equal(ids[0][1], ids[1][1]);
    assert_string_not_equal(ids[0][0], ids[0][1]);
    assert_string_not_equal(ids[0][0], ids[2][0]);

    /* keep_control_tokens */
    out_opts o = {OUT_FAMILY_HCX_LEGACY, OFF, 0, NULL, 0, 1};
    out_parser *p = out_parser_new_opts(&o);
    assert_int_equal(out_parser_feed(p, "Hi<|im_end|>", 12, NULL), OMNIC_OK);
    assert_int_equal(out_parser_finish(p, NULL), OMNIC_OK);
    assert_string_equal(out_parser_result(p)->content, "Hi<|im_end|>");
    out_parser_free(p);

    /* embedded NUL and invalid UTF-8 survive as bytes, arguments stay valid JSON */
    static const char bad_in[] = "x\xffy\xed\x95";  /* stray byte, truncated sequence */
    p = out_parser_new(OUT_FAMILY_THINK, 0, NULL);
    out_delta d0;
    assert_int_equal(out_parser_feed(p, bad_in, sizeof bad_in - 1, &d0), OMNIC_OK);
    assert_string_equal(d0.content, "x\xef\xbf\xbdy");
    assert_int_equal(out_parser_finish(p, &d0), OMNIC_OK);
    assert_string_equal(d0.content, "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(out_parser_result(p)->content, "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd");
    out_parser_free(p);

    static const char nul_in[] = "a\0b<tool_call>f\n<arg_key>k</arg_key><arg_value>\xff\0x</arg_value></tool_call>";
    p = out_parser_new(OUT_FAMILY_THINK, 0, "[]");
    assert_int_equal(out_parser_feed(p, nul_in, sizeof nul_in - 1, NULL), OMNIC_OK);
    assert_int_equal(out_parser_finish(p, NULL), OMNIC_OK);
    const out_result *r = out_parser_result(p);
    assert_int_equal(r->content_len, 3);
    assert_memory_equal(r->content, "a\0b", 3);
    assert_string_equal(r->calls[0].arguments, "{\"k\": \"\\ufffd\\u0000x\"}");
    out_parser_free(p);
}

/* ---- independent reference of Track A (7.3.1 + 7.5.1) ---------------------------------- */

typedef struct { size_t so[3], eo[3]; } rmatch;

/* All non-overlapping matches of pat (DOTALL) in s, like Python's re.findall. */
static int re_all(const char *pat, const char *s, size_t n, rmatch *out, int max) {
    int errc;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL, &errc,
                                   &erroff, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int cnt = 0;
    size_t off = 0;
    while (cnt < max && off <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, off, 0, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (int g = 0; g < 3; g++) {
            out[cnt].so[g] = g < rc ? ov[2 * g] : 0;
            out[cnt].eo[g] = g < rc ? ov[2 * g + 1] : 0;
        }
        off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        cnt++;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return cnt;
}

static void rtrim(const char *s, size_t a, size_t b, size_t *oa, size_t *ob) {
    while (a < b && strchr(" \t\n\r\f\v", s[a]) && s[a]) a++;
    while (b > a && strchr(" \t\n\r\f\v", s[b - 1]) && s[b - 1]) b--;
    *oa = a;
    *ob = b;
}

static int ref_is_string(json_t *tools, const char *name, size_t nl, const char *key, size_t kl) {
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *fn = json_object_get(json_array_get(tools, i), "function");
        const char *nm = json_string_value(json_object_get(fn, "name"));
        if (!nm || strlen(nm) != nl || memcmp(nm, name, nl)) continue;
        json_t *props = json_object_get(json_object_get(fn, "parameters"), "properties");
        char *k = strndup(key, kl);
        json_t *ty = json_object_get(json_object_get(props, k), "type");
        free(k);
        return json_is_string(ty) && !strcmp(json_string_value(ty), "string");
    }
    return 0;
}

typedef struct {
    int has_reasoning, has_content, n_calls;
    out_buf reasoning, content;
    char *names[16];
    json_t *args[16];
} ref_out;

static void ref_free(ref_out *r) {
    out_buf_free(&r->reasoning);
    out_buf_free(&r->content);
    for (int k = 0; k < r->n_calls; k++) { free(r->names[k]); json_decref(r->args[k]); }
}

static void ref_track_a(const char *T, size_t n, int thinking, json_t *tools, ref_out *o) {
    memset(o, 0, sizeof *o);
    const char *c = T;
    size_t cn = n;
    if (thinking) {
        const char *open = memmem(T, n, "<think>", 7);
        const char *t = open ? open + 7 : T;
        size_t tn = (size_t)(T + n - t);
        const char *e = memmem(t, tn, "</think>", 8);
        o->has_reasoning = 1;
        if (!e) { out_buf_add(&o->reasoning, t, tn); return; }
        out_buf_add(&o->reasoning, t, (size_t)(e - t));
        c = e + 8;
        cn = (size_t)(T + n - c);
        while (cn && *c == '\n') { c++; cn--; }
    }
    int failed = 0;
    if (memmem(c, cn, "<tool_call>", 11)) {
        static rmatch spans[64], pairs[64];
        int ns = re_all("<tool_call>(.*?)</tool_call>", c, cn, spans, 64);
        for (int s = 0; s < ns && !failed; s++) {
            const char *in = c + spans[s].so[1];
            size_t il = spans[s].eo[1] - spans[s].so[1];
            rmatch d[1];
            if (re_all("^([^\\n]*)\\n(.*)$", in, il, d, 1) != 1) { failed = 1; break; }
            size_t a, b;
            rtrim(in, d[0].so[1], d[0].eo[1], &a, &b);
            if (a == b) { failed = 1; break; }  /* empty name: the engine's documented choice */
            o->names[o->n_calls] = strndup(in + a, b - a);
            json_t *obj = json_object();
            const char *body = in + d[0].so[2];
            size_t bl = d[0].eo[2] - d[0].so[2];
            int np = re_all("<arg_key>(.*?)</arg_key>\\s*<arg_value>(.*?)</arg_value>", body, bl, pairs, 64);
            for (int q = 0; q < np; q++) {
                size_t ka, kb, va, vb;
                rtrim(body, pairs[q].so[1], pairs[q].eo[1], &ka, &kb);
                rtrim(body, pairs[q].so[2], pairs[q].eo[2], &va, &vb);
                json_t *v = NULL;
                if (!ref_is_string(tools, in + a, b - a, body + ka, kb - ka)) {
                    json_error_t err;
                    v = json_loadb(body + va, vb - va, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
                }
                if (!v) v = json_stringn(body + va, vb - va);
                char *k = strndup(body + ka, kb - ka);
                json_object_set_new(obj, k, v);
                free(k);
            }
            o->args[o->n_calls++] = obj;
        }
        if (failed) {
            for (int k = 0; k < o->n_calls; k++) { free(o->names[k]); json_decref(o->args[k]); }
            o->n_calls = 0;
        }
    }
    if (o->n_calls) {
        size_t pre = (size_t)((const char *)memmem(c, cn, "<tool_call>", 11) - c);
        int ws = 1;
        for (size_t i = 0; i < pre; i++) if (!strchr(" \t\n\r\f\v", c[i]) || !c[i]) ws = 0;
        if (!ws) { o->has_content = 1; out_buf_add(&o->content, c, pre); }
    } else if (cn) {
        o->has_content = 1;
        out_buf_add(&o->content, c, cn);
    }
}

static const char *const V_POOL[] = {
    "3", "-2.5", "1e3", "true", "false", "null", "{\"a\": [1, 2, {\"b\": \"c\"}]}", "[1, \"x\"]",
    "\"quoted\"", "서울", "if a < b: return \"<x>\"", "  spaced  ", "multi\nline\nvalue", "[1, 2",
    "{\"a\": }", "", "0", "12abc", "😀 emoji", "2.50", "{\"k\": \"한\"}", "-0", "1E-7", "a > b",
};
static const char *const K_POOL[] = {"city", "days", "code", "opts", "x", " spaced key ", "키"};
static const char *const N_POOL[] = {"get_weather", "run_code", "unknown_tool", "  get_weather "};
static const char *const R_POOL[] = {
    "Let me think about it.\n", "서울 날씨를 확인해야 한다.\n", "a < b && c > d\n", "",
    "step: <tool_call>x\n</tool_call> is only an idea\n", "x</thin", "\n",
};
static const char *const C_POOL[] = {
    "The answer is 42.", "안녕하세요! ", " ", "\n", "use <b>bold</b>", "a<tool", "</tool_call>",
    "", "</think>", "Let me check the weather.\n",
};
static const char *const SEP_POOL[] = {"", "\n", "\n\n", " text between "};

#define PICK(a) a[rndn(sizeof a / sizeof a[0])]

static void gen_track_a(out_buf *t, int thinking) {
    if (thinking) {
        if (rndn(4) == 0) out_buf_adds(t, "<think>");
        int nr = (int)rndn(3);
        for (int k = 0; k < nr; k++) out_buf_adds(t, PICK(R_POOL));
        if (rndn(8)) out_buf_adds(t, rndn(2) ? "</think>\n\n" : "</think>");
    }
    int nc = (int)rndn(3);
    for (int k = 0; k < nc; k++) out_buf_adds(t, PICK(C_POOL));
    int ncalls = (int)rndn(4);
    for (int k = 0; k < ncalls; k++) {
        if (k) out_buf_adds(t, PICK(SEP_POOL));
        out_buf_adds(t, "<tool_call>");
        out_buf_adds(t, rndn(20) ? PICK(N_POOL) : "");
        if (rndn(12)) out_buf_addc(t, '\n');
        int na = (int)rndn(4);
        for (int a = 0; a < na; a++) {
            out_buf_adds(t, "<arg_key>");
            out_buf_adds(t, PICK(K_POOL));
            out_buf_adds(t, "</arg_key>");
            out_buf_adds(t, rndn(3) == 0 ? "" : rndn(2) ? "\n" : " \n\t");
            out_buf_adds(t, "<arg_value>");
            out_buf_adds(t, PICK(V_POOL));
            if (rndn(25)) out_buf_adds(t, "</arg_value>");
            out_buf_adds(t, "\n");
        }
        if (rndn(10)) out_buf_adds(t, "</tool_call>");
    }
    if (rndn(5) == 0) out_buf_adds(t, "trailing words");
}

static void test_reference_track_a(void **state) {
    (void)state;
    json_error_t err;
    json_t *tools = json_loads(TOOLS_A, 0, &err);
    assert_non_null(tools);
    lcg_state = 42;
    int with_calls = 0, failed_cases = 0;
    for (int it = 0; it < 1500; it++) {
        int thinking = (int)rndn(2);
        out_buf t = {0};
        gen_track_a(&t, thinking);
        out_buf_add(&t, "", 0);
        out_opts o = {OUT_FAMILY_THINK, thinking ? ON : OFF, 1, TOOLS_A, (uint64_t)it, 0};
        run_out w;
        if (it % 5 == 0) check_invariant(&o, t.p, t.n, &w);
        else run_parser(&o, t.p, t.n, (int)rndn(SPLIT_N), &w);
        ref_out ref;
        ref_track_a(t.p, t.n, thinking, tools, &ref);
        if (w.has_reasoning != ref.has_reasoning || w.has_content != ref.has_content ||
            !(w.r_reasoning.n == ref.reasoning.n &&
              !memcmp(w.r_reasoning.p ? w.r_reasoning.p : "", ref.reasoning.p ? ref.reasoning.p : "", ref.reasoning.n)) ||
            !(w.r_content.n == ref.content.n &&
              !memcmp(w.r_content.p ? w.r_content.p : "", ref.content.p ? ref.content.p : "", ref.content.n)) ||
            w.r_n != ref.n_calls)
            fail_msg("reference mismatch on [%s]: reasoning [%s] vs [%s], content [%s] vs [%s], "
                     "calls %d vs %d", t.p, w.r_reasoning.p, ref.reasoning.p, w.r_content.p,
                     ref.content.p, w.r_n, ref.n_calls);
        /* calls: names equal; arguments equal as JSON (key order included) and ASCII */
        const char *line = w.r_calls.p;
        for (int k = 0; k < ref.n_calls; k++) {
            const char *f1 = strchr(line, '|'), *f2 = strchr(f1 + 1, '|'), *f3 = strchr(f2 + 1, '|');
            const char *f4 = strchr(f3 + 1, '|'), *nl = strchr(f4 + 1, '\n');
            assert_int_equal((size_t)(f4 - f3 - 1), strlen(ref.names[k]));
            assert_memory_equal(f3 + 1, ref.names[k], strlen(ref.names[k]));
            for (const char *q = f4 + 1; q < nl; q++) assert_true((unsigned char)*q < 0x80);
            json_t *mine = json_loadb(f4 + 1, (size_t)(nl - f4 - 1), 0, &err);
            assert_non_null(mine);
            char *a = json_dumps(mine, JSON_COMPACT | JSON_ENSURE_ASCII);
            char *b = json_dumps(ref.args[k], JSON_COMPACT | JSON_ENSURE_ASCII);
            if (strcmp(a, b)) fail_msg("arguments differ on [%s]: %s vs %s", t.p, a, b);
            free(a);
            free(b);
            json_decref(mine);
            line = nl + 1;
        }
        with_calls += ref.n_calls > 0;
        failed_cases += ref.n_calls == 0 && memmem(t.p, t.n, "</tool_call>", 12) != NULL;
        /* nothing lost: without calls the content is the whole text after the split */
        if (!thinking && !w.r_n) {
            assert_int_equal(w.r_content.n, t.n);
            if (t.n) assert_memory_equal(w.r_content.p, t.p, t.n);
        }
        ref_free(&ref);
        run_free(&w);
        out_buf_free(&t);
    }
    json_decref(tools);
    /* the corpus exercises both outcomes */
    assert_true(with_calls > 300);
    assert_true(failed_cases > 50);
}

/* ---- fuzzing: every family, odd inputs -------------------------------------------------- */

static const char *const FUZZ_TOK[] = {
    "<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>",
    "</arg_value>", "\n", " ", "a", "한", "<", ">", "|", "<|im_end|>", "<|audio0012|>",
    "<|discrete_image_start|>", "<|discrete_image_end|>", "<audio_decoder_call>",
    "</audio_decoder_call>", "<speaker_info>", "</speaker_info>", "<discrete_audio>",
    "</discrete_audio>", "{\"a\": 1}", "[1,", "/think\n", "<|im_end|>\n<|im_start|>assistant",
    " -> tool/function_call\n", "[{\"name\": \"f\", \"arguments\": {}}]", "<|vision00001|>",
    "<|vision_ratio_1:1|>", "\xff", "<|", "|>", "t2i_model_generation", "<user_transcript>",
    "</user_transcript>", "<assistant_transcript>", "</assistant_transcript>", "\n\n\n", "  ",
    "<|im_start|>", "<|endofturn|>", "f\n", "]", "\xed\x95",
};

static void test_fuzz(void **state) {
    (void)state;
    lcg_state = 7;
    for (int it = 0; it < 1200; it++) {
        out_buf t = {0};
        int nt = (int)rndn(60);
        for (int k = 0; k < nt; k++) out_buf_adds(&t, PICK(FUZZ_TOK));
        out_buf_add(&t, "", 0);
        out_opts o = {0};
        o.family = (out_family)rndn(4);
        o.reasoning = (int)rndn(3);
        o.parse_tools = (int)rndn(2);
        o.tools_json = o.parse_tools && rndn(2) ? TOOLS_A : NULL;
        o.id_seed = (uint64_t)it;
        run_out w;
        check_invariant(&o, t.p, t.n, &w);
        /* nothing lost where the spec keeps everything */
        int thinking_off = o.reasoning != ON;
        if ((o.family == OUT_FAMILY_THINK && thinking_off && !w.r_n) ||
            (o.family == OUT_FAMILY_OMNI && thinking_off && !o.parse_tools)) {
            assert_int_equal(w.r_content.n, w.r_raw.n);
            if (w.r_raw.n) assert_memory_equal(w.r_content.p, w.r_raw.p, w.r_raw.n);
        }
        if (thinking_off && o.family != OUT_FAMILY_HCX_LEGACY && o.family != OUT_FAMILY_PLAIN)
            assert_false(w.has_reasoning);
        run_free(&w);
        out_buf_free(&t);
    }
    /* random bytes */
    for (int it = 0; it < 300; it++) {
        char buf[200];
        size_t n = rndn(sizeof buf);
        for (size_t k = 0; k < n; k++) buf[k] = rndn(4) ? "<>|/\n ta"[rndn(8)] : (char)rnd();
        out_opts o = {(out_family)rndn(4), (int)rndn(3), (int)rndn(2), NULL, 1, 0};
        run_out w;
        check_invariant(&o, buf, n, &w);
        run_free(&w);
    }
}

/* ---- thinking budget ------------------------------------------------------------------ */

static void test_budget(void **state) {
    (void)state;
    assert_string_equal(out_think_close_string(OUT_FAMILY_THINK), " Now formulate the answer.</think>");
    assert_string_equal(out_think_close_string(OUT_FAMILY_OMNI), "</think>");
    assert_null(out_think_close_string(OUT_FAMILY_PLAIN));
    assert_string_equal(out_think_open_string(OUT_FAMILY_THINK), "<think>");

    const int32_t S[] = {5}, E[] = {7, 8, 9}, C[] = {9};
    out_budget b;
    const int32_t p1[] = {1, 2, 5, 10};  /* ends inside, one token after S */
    assert_int_equal(out_budget_init(&b, S, 1, E, 3, C, 1, 3, p1, 4), OMNIC_OK);
    assert_int_equal(b.inside, 1);
    assert_int_equal(b.count, 1);
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_accept(&b, 11);
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_accept(&b, 12);  /* count reaches 3 */
    assert_int_equal(out_budget_forced(&b), 7);
    out_budget_accept(&b, 7);
    assert_int_equal(out_budget_forced(&b), 8);
    out_budget_accept(&b, 8);
    assert_int_equal(out_budget_forced(&b), 9);
    out_budget_accept(&b, 9);
    assert_int_equal(out_budget_forced(&b), -1);
    assert_int_equal(b.inside, 0);
    for (int k = 0; k < 10; k++) { out_budget_accept(&b, 20 + k); assert_int_equal(out_budget_forced(&b), -1); }
    out_budget_accept(&b, 5);  /* the model opens a new block: counted from 0 */
    assert_int_equal(b.inside, 1);
    assert_int_equal(b.count, 0);
    out_budget_accept(&b, 1); out_budget_accept(&b, 1);
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_accept(&b, 1);
    assert_int_equal(out_budget_forced(&b), 7);
    out_budget_free(&b);

    const int32_t p2[] = {5, 3, 9, 4};  /* empty think block in the prompt: not inside */
    assert_int_equal(out_budget_init(&b, S, 1, E, 3, C, 1, 0, p2, 4), OMNIC_OK);
    assert_int_equal(b.inside, 0);
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_free(&b);

    assert_int_equal(out_budget_init(&b, S, 1, E, 3, C, 1, 0, p1, 3), OMNIC_OK);  /* B = 0 */
    assert_int_equal(out_budget_forced(&b), 7);
    out_budget_free(&b);

    assert_int_equal(out_budget_init(&b, S, 1, E, 3, C, 1, 5, p1, 4), OMNIC_OK);
    out_budget_accept(&b, 9);  /* natural close before the budget */
    assert_int_equal(b.inside, 0);
    for (int k = 0; k < 10; k++) out_budget_accept(&b, 1);
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_free(&b);

    assert_int_equal(out_budget_init(&b, S, 1, E, 3, C, 1, -1, p1, 4), OMNIC_OK);  /* disabled */
    assert_int_equal(out_budget_forced(&b), -1);
    out_budget_free(&b);
    assert_int_equal(out_budget_init(&b, NULL, 0, E, 3, NULL, 0, 4, p1, 4), OMNIC_EINVAL);

    /* multi-token S, simulated generation: a block never exceeds B + |E| + 1 tokens */
    const int32_t S2[] = {5, 6};
    lcg_state = 99;
    for (int it = 0; it < 200; it++) {
        int B = (int)rndn(12);
        const int32_t pr[] = {1, 5, 6};
        assert_int_equal(out_budget_init(&b, S2, 2, E, 3, C, 1, B, pr, 3), OMNIC_OK);
        int inside = 1, open_next = 0;
        long run = 0;
        for (int step = 0; step < 400; step++) {
            static const int32_t free_tok[] = {1, 2, 3, 4, 7, 8, 10, 9};
            int32_t f = out_budget_forced(&b), tok;
            if (f >= 0) tok = f;
            else if (open_next) { tok = 6; open_next = 0; }
            else if (!b.inside && rndn(6) == 0) { tok = 5; open_next = 1; }
            else tok = free_tok[rndn(rndn(10) ? 7 : 8)];  /* 9 (natural close) is rare */
            out_budget_accept(&b, tok);
            if (inside) run++;
            if (b.inside && !inside) { inside = 1; run = 0; }
            if (!b.inside) { inside = 0; run = 0; }
            assert_true(run <= B + 3 + 1);
        }
        out_budget_free(&b);
    }
}

/* ---- stop strings and stop tokens -------------------------------------------------------- */

static void stop_expect(out_stopper *s, const char *in, const char *out, int ret, int which) {
    const char *o;
    size_t ol;
    int w;
    assert_int_equal(out_stopper_feed(s, in, strlen(in), &o, &ol, &w), ret);
    assert_int_equal(ol, strlen(out));
    assert_memory_equal(o, out, ol);
    if (ret == 1) assert_int_equal(w, which);
}

static void test_stop(void **state) {
    (void)state;
    const char *stops[] = {"STOP", "", "ab"};
    out_stopper *s = out_stopper_new(stops, 3, 0);
    stop_expect(s, "xxa", "xx", 0, 0);
    stop_expect(s, "c", "ac", 0, 0);
    stop_expect(s, "yyST", "yy", 0, 0);
    stop_expect(s, "OPzz", "", 1, 0);
    stop_expect(s, "more", "", 1, 0);
    out_stopper_free(s);

    s = out_stopper_new(stops, 3, 1);
    stop_expect(s, "1 STOP 2 ab", "1 STOP", 1, 0);
    out_stopper_free(s);
    s = out_stopper_new(stops, 3, 0);
    stop_expect(s, "1 ab 2 STOP", "1 ", 1, 2);
    out_stopper_free(s);

    s = out_stopper_new(stops, 3, 0);
    stop_expect(s, "tail S", "tail ", 0, 0);
    const char *o;
    size_t ol;
    out_stopper_flush(s, &o, &ol);
    assert_int_equal(ol, 1);
    assert_memory_equal(o, "S", 1);
    out_stopper_free(s);

    /* byte-by-byte feeding finds the same match as one feed */
    const char *stops2[] = {"<|im_end|>", "끝"};
    const char *txt = "답은 42입니다<|im_end|> 나머지";
    out_stopper *s2 = out_stopper_new(stops2, 2, 0);
    out_buf acc = {0};
    int hit = 0, w = -1;
    for (size_t k = 0; txt[k] && !hit; k++) {
        hit = out_stopper_feed(s2, txt + k, 1, &o, &ol, &w);
        out_buf_add(&acc, o, ol);
    }
    assert_int_equal(hit, 1);
    assert_int_equal(w, 0);
    assert_string_equal(acc.p, "답은 42입니다");
    out_buf_free(&acc);
    out_stopper_free(s2);

    const char *const *t = out_family_stop_tokens(OUT_FAMILY_THINK);
    int has_im_end = 0, has_think = 0;
    for (; *t; t++) { has_im_end |= !strcmp(*t, "<|im_end|>"); has_think |= !strcmp(*t, "</think>"); }
    assert_true(has_im_end);
    assert_false(has_think);
    int n_hcx = 0;
    for (t = out_family_stop_tokens(OUT_FAMILY_HCX_LEGACY); *t; t++) {
        assert_string_not_equal(*t, "<|im_end|>");
        n_hcx++;
    }
    assert_int_equal(n_hcx, 2);
}

/* ---- JSON helpers (expected strings from Python's json.dumps / ast.literal_eval) ----------- */

static void test_json_real(void **state) {
    (void)state;
    static const struct { double x; const char *py; } R[] = {
        {0.1, "0.1"}, {1.5, "1.5"}, {100000.0, "100000.0"}, {1e16, "1e+16"},
        {1e15, "1000000000000000.0"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
        {123456789.123, "123456789.123"}, {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"}, {-2.5e-10, "-2.5e-10"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
        {0.1 + 0.2, "0.30000000000000004"}, {12345678901234567890.0, "1.2345678901234567e+19"},
        {9007199254740993.0, "9007199254740992.0"}, {-0.0, "-0.0"}, {1e22, "1e+22"},
        {1e-7, "1e-07"}, {123e-20, "1.23e-18"},
    };
    for (size_t k = 0; k < sizeof R / sizeof R[0]; k++) {
        out_buf b = {0};
        ja_dump_real(&b, R[k].x);
        assert_string_equal(b.p, R[k].py);
        out_buf_free(&b);
    }
    out_buf b = {0};
    ja_dump_string(&b, "😀\x01\x7f\"\\\n한", strlen("😀\x01\x7f\"\\\n한"), 1);
    assert_string_equal(b.p, "\"\\ud83d\\ude00\\u0001\\u007f\\\"\\\\\\n\\ud55c\"");
    b.n = 0;
    ja_dump_string(&b, "😀\x7f\t한\xc3", strlen("😀\x7f\t한\xc3"), 0);
    assert_string_equal(b.p, "\"😀\x7f\\t한\xef\xbf\xbd\"");
    out_buf_free(&b);
}

static void test_pyliteral(void **state) {
    (void)state;
    static const struct { const char *in, *out; } L[] = {
        {"True", "true"}, {"None", "null"}, {"'a'", "\"a\""},
        {"['x', 1, 2.5, (3,), {'k': None}]", "[\"x\", 1, 2.5, [3], {\"k\": null}]"},
        {"{1: 'a', 2.5: 'b'}", "{\"1\": \"a\", \"2.5\": \"b\"}"}, {"0x1F", "31"}, {"1_000", "1000"},
        {"-3", "-3"}, {"1e5", "100000.0"}, {"'it\\'s'", "\"it's\""}, {"'a' 'b'", "\"ab\""},
        {"'\\u00e9'", "\"\\u00e9\""}, {"(1)", "1"}, {"()", "[]"}, {"r'a\\n'", "\"a\\\\n\""},
        {"0o17", "15"}, {"0b101", "5"}, {"1.", "1.0"}, {".5", "0.5"}, {"'\\x41\\101'", "\"AA\""},
        {"- 1", "-1"}, {"-(1)", "-1"}, {"+1.5", "1.5"}, {"[1,]", "[1]"},
        {"{'a': 1, 'a': 2, 'b': 3}", "{\"a\": 2, \"b\": 3}"}, {"'''x\ny'''", "\"x\\ny\""},
        {"u'x'", "\"x\""}, {"0_0", "0"}, {"00", "0"}, {"0x_1f", "31"}, {"[1\n,2]", "[1, 2]"},
        {"{}", "{}"}, {"[]", "[]"}, {"\"dq\"", "\"dq\""},
    };
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) {
        json_t *v = ja_parse_pyliteral(L[k].in, strlen(L[k].in));
        if (!v) fail_msg("literal [%s] not parsed", L[k].in);
        out_buf b = {0};
        ja_dump(&b, v, 1);
        if (strcmp(b.p, L[k].out)) fail_msg("literal [%s]: %s, expected %s", L[k].in, b.p, L[k].out);
        out_buf_free(&b);
        json_decref(v);
    }
    static const char *const BAD[] = {
        "{'a', 'b'}", "012", "abc", "1+2", "[1, 2", "b'x'", "1j", "서울", "12abc", "x", "-True",
        "1__0", "1e5j", "'unterminated", "", "[", "{1: }", "99999999999999999999", "1e999",
        "'a'\n,", "--1", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
        "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
        "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1",
    };
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        json_t *v = ja_parse_pyliteral(BAD[k], strlen(BAD[k]));
        if (v) {
            out_buf b = {0};
            ja_dump(&b, v, 1);
            fail_msg("[%s] should not be a literal, got %s", BAD[k], b.p);
        }
    }
    json_t *j = ja_parse_json(" {\"a\": 1.0, \"b\": [true, null]} ", 31);
    assert_non_null(j);
    out_buf b = {0};
    ja_dump(&b, j, 1);
    assert_string_equal(b.p, "{\"a\": 1.0, \"b\": [true, null]}");
    out_buf_free(&b);
    json_decref(j);
    assert_null(ja_parse_json("NaN", 3));
    assert_null(ja_parse_json("{\"a\": 1} x", 10));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_holdback),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_reference_track_a),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_json_real),
        cmocka_unit_test(test_pyliteral),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
