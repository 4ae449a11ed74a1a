/* output_parser.c - incremental parser of generated chat text: reasoning split,
 * tool calls (XML, omni, 14B JSON array), Omni media blocks, control-token removal;
 * plus the stop-string matcher and the thinking-budget state machine. Rules and the
 * choices made where the spec is silent are listed in output_parser.h.
 *
 * Pipeline: raw text -> stage 1 (reasoning split) -> reasoning channel / stage 2
 * (family-specific content scanner) -> content channel. Each channel ends in a filter
 * that removes control tokens and holds back an incomplete UTF-8 tail. Every stage
 * keeps the unprocessed tail of its input in a buffer and only decides on text that
 * can no longer be the start of a tag, so any split of the input gives the same
 * output. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/output_parser.h"

/* ---- small helpers ----------------------------------------------------------- */

static const char *findn(const char *h, size_t hn, const char *nd, size_t nl) {
    if (!h || hn < nl) return NULL;
    return memmem(h, hn, nd, nl);
}
static const char *finds(const char *h, size_t hn, const char *nd) {
    return findn(h, hn, nd, strlen(nd));
}
static int starts(const char *s, size_t n, const char *t) {
    size_t l = strlen(t);
    return n >= l && !memcmp(s, t, l);
}
static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static void trim(const char **s, size_t *n) {
    while (*n && is_ws(**s)) { (*s)++; (*n)--; }
    while (*n && is_ws((*s)[*n - 1])) (*n)--;
}
static int all_ws(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_ws(s[i])) return 0;
    return 1;
}

/* Longest proper prefix of tag that ends s[0..n). */
static size_t partial1(const char *s, size_t n, const char *tag) {
    size_t tl = strlen(tag);
    size_t k = tl - 1 < n ? tl - 1 : n;
    for (; k > 0; k--)
        if (s[n - k] == tag[0] && !memcmp(s + n - k, tag, k)) return k;
    return 0;
}

/* Bytes at the end of s that start an incomplete UTF-8 sequence. */
static size_t utf8_incomplete(const char *s, size_t n) {
    for (size_t j = 1; j <= 3 && j <= n; j++) {
        unsigned char c = (unsigned char)s[n - j];
        if ((c & 0xC0) == 0x80) continue;
        if (c < 0xC0) return 0;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        return need > j ? j : 0;
    }
    return 0;
}

static const char *const CTL_TOKENS[] = {
    "<|im_end|>", "<|im_start|>", "<|endofturn|>", "<|stop|>", "<|endoftext|>", NULL,
};

/* The earliest control token in s[0..n) (its length in *len), or NULL. */
static const char *find_ctl(const char *s, size_t n, size_t *len) {
    const char *lt = memchr(s, '<', n), *best = NULL;
    if (!lt) return NULL;
    for (int k = 0; CTL_TOKENS[k]; k++) {
        const char *q = finds(lt, (size_t)(s + n - lt), CTL_TOKENS[k]);
        if (q && (!best || q < best)) { best = q; *len = strlen(CTL_TOKENS[k]); }
    }
    return best;
}

/* Remove the control tokens from s (left to right, like the streaming filter). */
static void strip_ctl(out_buf *dst, const char *s, size_t n, int keep) {
    size_t i = 0, bl = 0;
    const char *best;
    while (!keep && i < n && (best = find_ctl(s + i, n - i, &bl))) {
        out_buf_add(dst, s + i, (size_t)(best - (s + i)));
        i = (size_t)(best - s) + bl;
    }
    out_buf_add(dst, s + i, n - i);
}

/* ---- parser state -------------------------------------------------------------- */

enum { S1_START, S1_REASON, S1_LEAD, S1_CONTENT };
enum { A_TEXT, A_AFTER, A_CALL, A_RAW };  /* Track A */
enum { H_TEXT, H_CALL, H_DONE, H_RAW };   /* 14B / plain */
enum { O_TEXT, O_BLOCK };                 /* Omni */
enum { BK_CALL, BK_AUDIO, BK_IMAGE, BK_N };
static const char *const BK_OPEN[BK_N] = {
    "<tool_call>", "<audio_decoder_call>", "<|discrete_image_start|>"};
static const char *const BK_CLOSE[BK_N] = {
    "</tool_call>", "</audio_decoder_call>", "<|discrete_image_end|>"};

static const char HCX_THINK[] = "/think\n";
static const char HCX_BOUNDARY[] = "<|im_end|>\n<|im_start|>assistant";
static const char HCX_MARKER[] = " -> tool/function_call\n";
static const char T2I_NAME[] = "t2i_model_generation";
static const char AUDIO_NAME[] = "audio_synthesis";

typedef struct { out_buf hold; } ctl_filter;
typedef struct { char *id, *name, *args; size_t name_len; out_call_kind kind; } pcall;
enum { SEG_TEXT, SEG_UNITS, SEG_CALL };
typedef struct { int type; size_t off, len; int call; } seg;

struct out_parser {
    out_opts o;
    json_t *tools;
    int finished, oom;
    /* stage 1 */
    int s1, open_dropped, reasoning_active;
    out_buf b1;
    /* stage 2 */
    int s2;
    out_buf b2;
    size_t scan;           /* block states: bytes of the block already searched */
    size_t base;           /* stream offset of b2.p[0] */
    int lead;              /* drop leading '\n' of the next stage-2 text (14B) */
    int after_m;           /* 14B: the boundary was the last thing seen */
    int marker_after_m;    /* 14B: the tool marker came right after the boundary */
    int failed;            /* Track A: a <tool_call> span failed to parse */
    int blk;               /* Omni: kind of the open block */
    size_t blk_open_at;    /* Omni: stream offset of its opener */
    size_t withhold_end;   /* Omni: stage-2 text before this offset is not streamed */
    int no_closer[BK_N];   /* at the finish: this closer is absent from the rest */
    /* channels */
    ctl_filter fr, fc;
    out_buf reasoning, content, raw;  /* aggregates */
    out_buf dr, dc;                   /* this step's deltas */
    pcall *calls;
    int n_calls, cap_calls, first_new;
    out_call *views, *res_views;
    int cap_views;
    /* Omni with tools: what the non-streaming content and content_parts are built from */
    seg *segs;
    int n_segs, cap_segs, first_unit_seg, last_unit_seg;
    out_buf segtext, units;
    int n_units;
    /* result */
    out_result res;
    out_buf res_content, res_raw, res_calls, res_parts;
};

/* ---- channels ------------------------------------------------------------------ */

/* Text leaving a channel: invalid UTF-8 bytes become U+FFFD (a held-back tail is
 * never cut, so piecewise and whole-text replacement agree). */
static void emit_out(out_buf *d, out_buf *agg, const char *s, size_t n) {
    if (!n) return;
    size_t at = d->n;
    ja_utf8_sanitize(d, s, n);
    if (d->p) out_buf_add(agg, d->p + at, d->n - at);
}

static void ctl_run(out_parser *p, ctl_filter *f, const char *s, size_t n, int final,
                    out_buf *d, out_buf *agg) {
    out_buf_add(&f->hold, s, n);
    const char *h = f->hold.p;
    size_t hn = f->hold.n, i = 0;
    if (!h || !hn) return;
    int keep_ctl = p->o.keep_control_tokens;
    size_t bl = 0;
    const char *best;
    while (!keep_ctl && i < hn && (best = find_ctl(h + i, hn - i, &bl))) {
        emit_out(d, agg, h + i, (size_t)(best - (h + i)));
        i = (size_t)(best - h) + bl;
    }
    size_t rest = hn - i, keep = 0;
    if (!final) {
        for (int k = 0; !keep_ctl && CTL_TOKENS[k]; k++) {
            size_t q = partial1(h + i, rest, CTL_TOKENS[k]);
            if (q > keep) keep = q;
        }
        size_t u = utf8_incomplete(h + i, rest);
        if (u > keep) keep = u;
    }
    emit_out(d, agg, h + i, rest - keep);
    memmove(f->hold.p, h + hn - keep, keep);
    f->hold.n = keep;
    f->hold.p[keep] = 0;
}

static void emit_reasoning(out_parser *p, const char *s, size_t n) {
    if (n) ctl_run(p, &p->fr, s, n, 0, &p->dr, &p->reasoning);
}
static void emit_content(out_parser *p, const char *s, size_t n) {
    if (n) ctl_run(p, &p->fc, s, n, 0, &p->dc, &p->content);
}

/* ---- tool calls ------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int add_call(out_parser *p, const char *name, size_t nlen, const out_buf *args,
                    out_call_kind kind) {
    if (p->n_calls == p->cap_calls) {
        int cap = p->cap_calls ? 2 * p->cap_calls : 4;
        pcall *c = realloc(p->calls, (size_t)cap * sizeof *c);
        if (!c) { p->oom = 1; return -1; }
        p->calls = c;
        p->cap_calls = cap;
    }
    pcall *c = &p->calls[p->n_calls];
    uint64_t x = p->o.id_seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(p->n_calls + 1));
    uint64_t a = splitmix(&x), b = splitmix(&x);
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-tool-%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
    out_buf nm = {0};
    ja_utf8_sanitize(&nm, name, nlen);  /* names go into JSON: valid UTF-8 */
    out_buf_add(&nm, "", 0);
    c->id = strdup(id);
    c->name = nm.p;
    c->args = malloc(args->n + 1);
    if (!c->id || !c->name || !c->args || out_buf_oom()) {
        free(c->id); free(c->name); free(c->args);
        p->oom = 1;
        return -1;
    }
    c->name_len = nm.n;
    memcpy(c->args, args->p ? args->p : "", args->n);
    c->args[args->n] = 0;
    c->kind = kind;
    p->n_calls++;
    return 0;
}

/* Does the request's schema declare key of tool name as "type": "string"? */
static int schema_is_string(const out_parser *p, const char *name, size_t nl,
                            const char *key, size_t kl) {
    if (!p->tools) return 0;
    size_t i;
    json_t *t;
    json_array_foreach(p->tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        if (!json_is_object(fn)) fn = t;
        json_t *nm = json_object_get(fn, "name");
        if (!json_is_string(nm) || json_string_length(nm) != nl ||
            memcmp(json_string_value(nm), name, nl))
            continue;
        json_t *props = json_object_get(json_object_get(fn, "parameters"), "properties");
        json_t *prop = json_is_object(props) ? json_object_getn(props, key, kl) : NULL;
        json_t *ty = json_object_get(prop, "type");
        return json_is_string(ty) && !strcmp(json_string_value(ty), "string");
    }
    return 0;
}

/* Value typing of 7.5.1: schema string -> string; else JSON; else Python literal;
 * else string. */
static json_t *typed_value(const out_parser *p, const char *name, size_t nl,
                           const char *key, size_t kl, const char *v, size_t vl) {
    json_t *j = NULL;
    if (!schema_is_string(p, name, nl, key, kl)) {
        j = ja_parse_json(v, vl);
        if (!j) j = ja_parse_pyliteral(v, vl);
    }
    return j ? j : json_stringn_nocheck(v, vl);
}

static int finish_call(out_parser *p, const char *name, size_t nl, json_t *obj, int ascii,
                       out_call_kind kind) {
    out_buf a = {0};
    ja_dump(&a, obj, ascii);
    json_decref(obj);
    int rc = add_call(p, name, nl, &a, kind);
    out_buf_free(&a);
    return rc;
}

/* Track A: inner text of one <tool_call>...</tool_call> span (7.5.1). The pairs are
 * found the way the regex <arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)</arg_value>
 * finds them (a key may stretch over a </arg_key> not followed by <arg_value>). */
static int parse_call_a(out_parser *p, const char *s, size_t n) {
    const char *nl = memchr(s, '\n', n);
    if (!nl) return -1;
    const char *name = s;
    size_t nlen = (size_t)(nl - s);
    trim(&name, &nlen);
    if (!nlen) return -1;
    const char *r = nl + 1, *end = s + n;
    json_t *obj = json_object();
    if (!obj) { p->oom = 1; return -1; }
    const char *pos = r;
    for (;;) {
        const char *k = findn(pos, (size_t)(end - pos), "<arg_key>", 9);
        if (!k) break;
        const char *ks = k + 9, *q = ks, *vs = NULL, *ve = NULL, *ke = NULL;
        for (;;) {
            ke = findn(q, (size_t)(end - q), "</arg_key>", 10);
            if (!ke) break;
            const char *a = ke + 10;
            while (a < end && is_ws(*a)) a++;
            if (starts(a, (size_t)(end - a), "<arg_value>")) {
                vs = a + 11;
                ve = findn(vs, (size_t)(end - vs), "</arg_value>", 12);
                break;
            }
            q = ke + 1;
        }
        if (!ke || !ve) break;  /* no later match is possible either */
        const char *key = ks, *val = vs;
        size_t kl = (size_t)(ke - ks), vl = (size_t)(ve - vs);
        trim(&key, &kl);
        trim(&val, &vl);
        json_t *v = typed_value(p, name, nlen, key, kl, val, vl);
        if (!v || json_object_setn_nocheck(obj, key, kl, v)) {
            json_decref(v);
            json_decref(obj);
            p->oom = 1;
            return -1;
        }
        json_decref(v);
        pos = ve + 12;
    }
    return finish_call(p, name, nlen, obj, 1, OUT_CALL_FUNCTION);
}

/* Omni: inner text of a <tool_call> block (7.5.2 steps 2-3): string values; a value
 * without </arg_value> runs to the next <arg_key> or the end. */
static int parse_call_omni(out_parser *p, const char *s, size_t n) {
    const char *end = s + n, *nl = memchr(s, '\n', n);
    const char *name = s;
    size_t nlen = nl ? (size_t)(nl - s) : n;
    trim(&name, &nlen);
    if (!nlen) return -1;
    json_t *obj = json_object();
    if (!obj) { p->oom = 1; return -1; }
    const char *pos = nl ? nl + 1 : end;
    for (;;) {
        const char *k = findn(pos, (size_t)(end - pos), "<arg_key>", 9);
        if (!k) break;
        const char *ks = k + 9, *ke = findn(ks, (size_t)(end - ks), "</arg_key>", 10);
        if (!ke) break;
        const char *a = ke + 10;
        while (a < end && is_ws(*a)) a++;
        if (!starts(a, (size_t)(end - a), "<arg_value>")) { pos = ke + 10; continue; }
        const char *vs = a + 11;
        const char *nk = findn(vs, (size_t)(end - vs), "<arg_key>", 9);
        const char *ve = findn(vs, (size_t)(end - vs), "</arg_value>", 12);
        const char *vend;
        if (ve && (!nk || ve < nk)) { vend = ve; pos = ve + 12; }
        else { vend = nk ? nk : end; pos = vend; }
        const char *key = ks, *val = vs;
        size_t kl = (size_t)(ke - ks), vl = (size_t)(vend - vs);
        trim(&key, &kl);
        trim(&val, &vl);
        json_t *v = json_stringn_nocheck(val, vl);
        if (!v || json_object_setn_nocheck(obj, key, kl, v)) {
            json_decref(v);
            json_decref(obj);
            p->oom = 1;
            return -1;
        }
        json_decref(v);
    }
    out_call_kind kind = OUT_CALL_FUNCTION;
    if (nlen == strlen(T2I_NAME) && !memcmp(name, T2I_NAME, nlen)) kind = OUT_CALL_IMAGE;
    if (nlen == strlen(AUDIO_NAME) && !memcmp(name, AUDIO_NAME, nlen)) kind = OUT_CALL_AUDIO;
    return finish_call(p, name, nlen, obj, 0, kind);
}

/* Omni: inner text of <audio_decoder_call> (7.5.2 step 1): ws <speaker_info>I
 * </speaker_info> ws <discrete_audio>D</discrete_audio> ws. */
static int parse_audio_block(out_parser *p, const char *s, size_t n) {
    const char *end = s + n, *a = s;
    while (a < end && is_ws(*a)) a++;
    if (!starts(a, (size_t)(end - a), "<speaker_info>")) return -1;
    const char *is = a + 14, *q = is, *ie = NULL, *ds = NULL, *de = NULL;
    while (!de && (ie = findn(q, (size_t)(end - q), "</speaker_info>", 15))) {
        const char *b = ie + 15;
        while (b < end && is_ws(*b)) b++;
        if (starts(b, (size_t)(end - b), "<discrete_audio>")) {
            ds = b + 16;
            for (const char *r = ds; (de = findn(r, (size_t)(end - r), "</discrete_audio>", 17));
                 r = de + 1)
                if (all_ws(de + 17, (size_t)(end - de - 17))) break;
        }
        q = ie + 1;
    }
    if (!de) return -1;
    const char *I = is, *D = ds;
    size_t il = (size_t)(ie - is), dl = (size_t)(de - ds);
    trim(&I, &il);
    trim(&D, &dl);
    json_t *obj = json_object(), *info = ja_parse_json(I, il);
    if (!info) {
        info = json_object();
        json_object_set_new(info, "raw", json_stringn_nocheck(I, il));
    }
    json_object_set_new(obj, "speaker_info", info);
    json_object_set_new(obj, "discrete_audio", json_stringn_nocheck(D, dl));
    return finish_call(p, AUDIO_NAME, strlen(AUDIO_NAME), obj, 0, OUT_CALL_AUDIO);
}

/* The "arguments" of a 14B call element as an object: an object, or a string holding
 * one (double-encoded); NULL otherwise. New reference. */
static json_t *hcx_args(json_t *e) {
    json_t *a = json_object_get(e, "arguments");
    if (json_is_object(a)) return json_incref(a);
    if (!json_is_string(a)) return NULL;
    json_t *o = ja_parse_json(json_string_value(a), json_string_length(a));
    if (json_is_object(o)) return o;
    json_decref(o);
    return NULL;
}

/* 14B: the JSON array after the marker (7.5.3). All or nothing. */
static int parse_calls_hcx(out_parser *p, const char *s, size_t n) {
    json_error_t err;
    json_t *arr = json_loadb(s, n, JSON_ALLOW_NUL, &err);
    if (!json_is_array(arr) || !json_array_size(arr)) { json_decref(arr); return -1; }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *a = hcx_args(e);
        int ok = a && json_is_string(json_object_get(e, "name"));
        json_decref(a);
        if (!ok) { json_decref(arr); return -1; }
    }
    json_array_foreach(arr, i, e) {
        json_t *nm = json_object_get(e, "name");
        finish_call(p, json_string_value(nm), json_string_length(nm), hcx_args(e), 0,
                    OUT_CALL_FUNCTION);
    }
    json_decref(arr);
    return 0;
}

/* ---- stage 2: Track A ------------------------------------------------------------- */

static size_t s2_think(out_parser *p, int final) {
    const char *base = p->b2.p;
    size_t N = p->b2.n, i = 0;
    while (i < N) {
        const char *s = base + i;
        size_t n = N - i;
        if (p->s2 == A_RAW) { emit_content(p, s, n); return N; }
        if (p->s2 == A_TEXT || p->s2 == A_AFTER) {
            const char *t = findn(s, n, "<tool_call>", 11);
            if (t) {
                if (p->s2 == A_TEXT) emit_content(p, s, (size_t)(t - s));
                i += (size_t)(t - s) + 11;
                p->s2 = A_CALL;
                p->scan = 0;
                continue;
            }
            size_t keep = final ? 0 : partial1(s, n, "<tool_call>");
            if (p->s2 == A_TEXT) emit_content(p, s, n - keep);
            return i + n - keep;
        }
        /* A_CALL: s starts right after <tool_call> */
        size_t from = p->scan > 12 ? p->scan - 11 : 0;
        const char *e = findn(s + from, n - from, "</tool_call>", 12);
        if (!e) {
            if (!final) { p->scan = n; return i; }
            if (!p->n_calls) {  /* unclosed and nothing parsed: the raw text is content */
                emit_content(p, "<tool_call>", 11);
                emit_content(p, s, n);
            }
            p->s2 = A_AFTER;
            return N;
        }
        size_t inner = (size_t)(e - s);
        if (parse_call_a(p, s, inner) == 0) {
            p->s2 = A_AFTER;
        } else {
            if (p->oom) return N;
            emit_content(p, "<tool_call>", 11);
            emit_content(p, s, inner + 12);
            p->failed = 1;
            p->s2 = A_RAW;
        }
        i += inner + 12;
    }
    return i;
}

/* ---- stage 2: Think-14B and Text-Instruct ------------------------------------------ */

static size_t s2_hcx(out_parser *p, int final) {
    const char *base = p->b2.p;
    size_t N = p->b2.n, i = 0;
    const size_t ML = sizeof HCX_BOUNDARY - 1, KL = sizeof HCX_MARKER - 1;
    while (i < N) {
        const char *s = base + i;
        size_t n = N - i;
        if (p->s2 == H_RAW) { emit_content(p, s, n); return N; }
        if (p->s2 == H_DONE) return N;
        if (p->s2 == H_TEXT) {
            if (p->lead) {
                while (n && *s == '\n') { s++; n--; i++; }
                if (!n) return i;
                p->lead = 0;
            }
            const char *m = findn(s, n, HCX_BOUNDARY, ML);
            const char *k = p->o.parse_tools ? findn(s, n, HCX_MARKER, KL) : NULL;
            if (k && (!m || k < m)) {
                p->marker_after_m = p->after_m && k == s;
                if (k > s) { emit_content(p, s, (size_t)(k - s)); p->after_m = 0; }
                i += (size_t)(k - s) + KL;
                p->s2 = H_CALL;
                p->scan = 0;
                continue;
            }
            if (m) {
                if (m > s) emit_content(p, s, (size_t)(m - s));
                i += (size_t)(m - s) + ML;
                p->after_m = 1;
                p->lead = 1;
                continue;
            }
            size_t keep = final ? 0 : partial1(s, n, HCX_BOUNDARY);
            if (!final && p->o.parse_tools) {
                size_t q = partial1(s, n, HCX_MARKER);
                if (q > keep) keep = q;
            }
            if (n > keep) { emit_content(p, s, n - keep); p->after_m = 0; }
            return i + n - keep;
        }
        /* H_CALL: s starts right after the marker */
        size_t from = p->scan > 10 ? p->scan - 9 : 0;
        const char *e = findn(s + from, n - from, "<|im_end|>", 10);
        size_t jl = 0;
        if (e) {
            jl = (size_t)(e - s);
        } else if (!final) {
            p->scan = n;
            return i;
        } else {
            const char *rb = memrchr(s, ']', n);
            if (rb) jl = (size_t)(rb - s) + 1;
        }
        if (jl && parse_calls_hcx(p, s, jl) == 0) {
            p->s2 = H_DONE;
            return N;
        }
        if (p->oom) return N;
        emit_content(p, HCX_MARKER, KL);  /* not a call: the raw text is content */
        p->s2 = H_RAW;
    }
    return i;
}

/* ---- stage 2: Omni ------------------------------------------------------------------ */

static void seg_push(out_parser *p, int type, const char *s, size_t n, int call) {
    if (!p->o.parse_tools) return;
    if (type == SEG_TEXT && p->n_segs && p->segs[p->n_segs - 1].type == SEG_TEXT) {
        out_buf_add(&p->segtext, s, n);
        p->segs[p->n_segs - 1].len += n;
        return;
    }
    if (p->n_segs == p->cap_segs) {
        int cap = p->cap_segs ? 2 * p->cap_segs : 16;
        seg *q = realloc(p->segs, (size_t)cap * sizeof *q);
        if (!q) { p->oom = 1; return; }
        p->segs = q;
        p->cap_segs = cap;
    }
    seg *g = &p->segs[p->n_segs++];
    g->type = type;
    g->off = p->segtext.n;
    g->len = n;
    g->call = call;
    out_buf_add(&p->segtext, s, n);
}

/* Text at stream offset at: streamed unless inside a withheld audio rescan. */
static void o_text(out_parser *p, const char *s, size_t n, size_t at) {
    if (!n) return;
    if (at < p->withhold_end) {
        size_t w = p->withhold_end - at;
        if (w < n) emit_content(p, s + w, n - w);
    } else {
        emit_content(p, s, n);
    }
    seg_push(p, SEG_TEXT, s, n, -1);
}
/* Media markup: kept in the non-streaming text, never streamed. */
static void o_media(out_parser *p, const char *s, size_t n) { seg_push(p, SEG_TEXT, s, n, -1); }

static void o_unit(out_parser *p, const char *digits, size_t nd) {
    if (!p->o.parse_tools) return;
    while (nd > 1 && *digits == '0') { digits++; nd--; }
    if (p->n_units) out_buf_add(&p->units, ", ", 2);
    out_buf_add(&p->units, digits, nd);
    p->n_units++;
    if (p->first_unit_seg < 0) p->first_unit_seg = p->n_segs;
    p->last_unit_seg = p->n_segs;
    seg_push(p, SEG_UNITS, "", 0, -1);
}

/* A block whose structure did not match (or that never closed): its opener becomes
 * text / markup and the inside is scanned again as ordinary text. */
static void o_reopen(out_parser *p, int bk, size_t withhold_to) {
    const char *op = BK_OPEN[bk];
    if (bk == BK_CALL) {
        o_text(p, op, strlen(op), p->blk_open_at);
    } else {
        o_media(p, op, strlen(op));
        if (bk == BK_AUDIO && withhold_to > p->withhold_end) p->withhold_end = withhold_to;
    }
}

enum { C_MORE, C_TEXT, C_BLOCK, C_MEDIA, C_UNIT };

static int is_name_ch(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == ':';
}

/* What starts at s[0] == '<'. */
static int o_classify(const out_parser *p, const char *s, size_t n, int final, size_t *len,
                      int *bk) {
    static const struct { const char *t; int cls, bk; } FIX[] = {
        {"<tool_call>", C_BLOCK, BK_CALL},
        {"<audio_decoder_call>", C_BLOCK, BK_AUDIO},
        {"<|discrete_image_start|>", C_BLOCK, BK_IMAGE},
        {"</audio_decoder_call>", C_MEDIA, 0},
        {"<speaker_info>", C_MEDIA, 0},
        {"</speaker_info>", C_MEDIA, 0},
        {"<discrete_audio>", C_MEDIA, 0},
        {"</discrete_audio>", C_MEDIA, 0},
    };
    int more = 0;
    for (size_t k = 0; k < sizeof FIX / sizeof FIX[0]; k++) {
        size_t tl = strlen(FIX[k].t);
        if (n >= tl) {
            if (memcmp(s, FIX[k].t, tl)) continue;
            *len = tl;
            *bk = FIX[k].bk;
            if (FIX[k].cls == C_BLOCK && FIX[k].bk == BK_CALL && !p->o.parse_tools)
                return C_TEXT;
            return FIX[k].cls;
        }
        if (!memcmp(s, FIX[k].t, n)) more = 1;
    }
    if (more && !final) return C_MORE;
    *len = 1;
    if (n >= 2 && s[1] == '|') {
        size_t j = 2;
        while (j < n && j < 2 + 64 && is_name_ch(s[j])) j++;
        if (j == n) return final ? C_TEXT : C_MORE;
        if (s[j] == '|' && j > 2) {
            if (j + 1 == n) return final ? C_TEXT : C_MORE;
            if (s[j + 1] == '>') {
                const char *nm = s + 2;
                size_t nl = j - 2;
                *len = j + 2;
                if (nl > 5 && !memcmp(nm, "audio", 5)) {
                    size_t d = 5;
                    while (d < nl && nm[d] >= '0' && nm[d] <= '9') d++;
                    if (d == nl) return C_UNIT;
                }
                if (starts(nm, nl, "vision") || starts(nm, nl, "discrete_") ||
                    starts(nm, nl, "DISCRETE_"))
                    return C_MEDIA;
                return C_TEXT;
            }
        }
    }
    return C_TEXT;
}

static size_t s2_omni(out_parser *p, int final) {
    const char *base = p->b2.p ? p->b2.p : "";
    size_t N = p->b2.n, i = 0;
    while (i < N || (p->s2 == O_BLOCK && final)) {
        const char *s = base + i;
        size_t n = N - i, at = p->base + i;
        if (p->s2 == O_BLOCK) {
            const char *cl = BK_CLOSE[p->blk];
            size_t cll = strlen(cl);
            size_t from = p->scan >= cll ? p->scan - cll + 1 : 0;
            const char *e = findn(s + from, n - from, cl, cll);
            if (!e) {
                if (!final) { p->scan = n; return i; }
                p->no_closer[p->blk] = 1;
                p->s2 = O_TEXT;
                o_reopen(p, p->blk, (size_t)-1);
                continue;
            }
            size_t inner = (size_t)(e - s);
            int ok = 0;
            if (!p->o.parse_tools) {
                ok = p->blk != BK_CALL;  /* recognised and withheld, no call */
            } else if (p->blk == BK_CALL) {
                ok = parse_call_omni(p, s, inner) == 0;
            } else if (p->blk == BK_AUDIO) {
                ok = parse_audio_block(p, s, inner) == 0;
            } else {
                out_buf v = {0};
                out_buf_adds(&v, BK_OPEN[BK_IMAGE]);
                out_buf_add(&v, s, inner);
                out_buf_adds(&v, BK_CLOSE[BK_IMAGE]);
                json_t *obj = json_object();
                json_object_set_new(obj, "discrete_image_token", json_stringn_nocheck(v.p, v.n));
                out_buf_free(&v);
                ok = finish_call(p, T2I_NAME, strlen(T2I_NAME), obj, 0, OUT_CALL_IMAGE) == 0;
            }
            if (p->oom) return N;
            p->s2 = O_TEXT;
            if (ok) {
                if (p->o.parse_tools) seg_push(p, SEG_CALL, "", 0, p->n_calls - 1);
                i += inner + cll;
            } else {
                o_reopen(p, p->blk, at + inner + cll);
            }
            continue;
        }
        const char *lt = memchr(s, '<', n);
        if (!lt) { o_text(p, s, n, at); return N; }
        if (lt > s) { o_text(p, s, (size_t)(lt - s), at); i += (size_t)(lt - s); continue; }
        size_t len = 1;
        int bk = 0, cls = o_classify(p, s, n, final, &len, &bk);
        switch (cls) {
        case C_MORE: return i;
        case C_BLOCK:
            i += len;
            p->blk = bk;
            p->blk_open_at = at;
            if (final && p->no_closer[bk]) {
                o_reopen(p, bk, (size_t)-1);
            } else {
                p->s2 = O_BLOCK;
                p->scan = 0;
            }
            break;
        case C_UNIT: o_unit(p, s + 7, len - 9); i += len; break;
        case C_MEDIA: o_media(p, s, len); i += len; break;
        default: o_text(p, s, len, at); i += len; break;
        }
    }
    return i;
}

/* ---- stage 2 dispatch and stage 1 ---------------------------------------------------- */

static void s2_run(out_parser *p, int final) {
    if (!p->b2.n && !final) return;
    size_t used;
    switch (p->o.family) {
    case OUT_FAMILY_THINK: used = s2_think(p, final); break;
    case OUT_FAMILY_OMNI: used = s2_omni(p, final); break;
    default: used = s2_hcx(p, final); break;
    }
    if (used > p->b2.n) used = p->b2.n;
    if (used) {
        memmove(p->b2.p, p->b2.p + used, p->b2.n - used);
        p->b2.n -= used;
        p->b2.p[p->b2.n] = 0;
        p->base += used;
    }
}

static void s2_feed(out_parser *p, const char *s, size_t n) {
    if (!n) return;
    out_buf_add(&p->raw, s, n);
    out_buf_add(&p->b2, s, n);
}

static void s1_run(out_parser *p, int final) {
    const char *base = p->b1.p;
    size_t N = p->b1.n, i = 0;
    int hcx = p->o.family == OUT_FAMILY_HCX_LEGACY || p->o.family == OUT_FAMILY_PLAIN;
    for (;;) {
        const char *s = base ? base + i : "";
        size_t n = N - i;
        if (p->s1 == S1_START) {
            const size_t TL = sizeof HCX_THINK - 1;
            if (n < TL && !final && !memcmp(s, HCX_THINK, n)) break;
            if (starts(s, n, HCX_THINK)) {
                i += TL;
                p->s1 = S1_REASON;
                p->reasoning_active = 1;
            } else {
                p->s1 = S1_LEAD;
            }
            continue;
        }
        if (p->s1 == S1_REASON) {
            const char *c, *o = NULL;
            size_t cl, keep;
            if (hcx) {
                c = findn(s, n, HCX_BOUNDARY, cl = sizeof HCX_BOUNDARY - 1);
            } else {
                c = findn(s, n, "</think>", cl = 8);
                if (!p->open_dropped) o = findn(s, n, "<think>", 7);
            }
            if (o && (!c || o < c)) {
                emit_reasoning(p, s, (size_t)(o - s));
                i += (size_t)(o - s) + 7;
                p->open_dropped = 1;
                continue;
            }
            if (c) {
                emit_reasoning(p, s, (size_t)(c - s));
                ctl_run(p, &p->fr, NULL, 0, 1, &p->dr, &p->reasoning);
                i += (size_t)(c - s) + cl;
                p->s1 = S1_LEAD;
                continue;
            }
            if (final) {
                keep = 0;
            } else if (hcx) {
                keep = partial1(s, n, HCX_BOUNDARY);
            } else {
                keep = partial1(s, n, "</think>");
                if (!p->open_dropped) {
                    size_t q = partial1(s, n, "<think>");
                    if (q > keep) keep = q;
                }
            }
            emit_reasoning(p, s, n - keep);
            i += n - keep;
            break;
        }
        if (p->s1 == S1_LEAD) {
            while (n && *s == '\n') { s++; n--; i++; }
            if (!n) break;
            p->s1 = S1_CONTENT;
            continue;
        }
        s2_feed(p, s, n);
        i += n;
        break;
    }
    if (i) {
        memmove(p->b1.p, p->b1.p + i, N - i);
        p->b1.n = N - i;
        p->b1.p[p->b1.n] = 0;
    }
    if (final && p->s1 == S1_REASON) ctl_run(p, &p->fr, NULL, 0, 1, &p->dr, &p->reasoning);
    s2_run(p, final);
}

/* ---- results ---------------------------------------------------------------------------- */

static void views_build(out_parser *p, out_call **dst, int from) {
    int n = p->n_calls - from;
    if (n <= 0) return;
    out_call *v = realloc(*dst, (size_t)p->n_calls * sizeof *v);
    if (!v) { p->oom = 1; return; }
    *dst = v;
    for (int k = 0; k < n; k++) {
        const pcall *c = &p->calls[from + k];
        v[k] = (out_call){from + k, c->id, c->name, c->args, c->kind};
    }
}

static void fill_delta(out_parser *p, out_delta *d) {
    views_build(p, &p->views, p->first_new);
    if (!d) return;
    d->reasoning = p->dr.p ? p->dr.p : "";
    d->reasoning_len = p->dr.n;
    d->content = p->dc.p ? p->dc.p : "";
    d->content_len = p->dc.n;
    d->calls = p->n_calls > p->first_new ? p->views : NULL;
    d->n_calls = p->n_calls - p->first_new;
}

static void delta_reset(out_parser *p) {
    p->dr.n = p->dc.n = 0;
    if (p->dr.p) p->dr.p[0] = 0;
    if (p->dc.p) p->dc.p[0] = 0;
    p->first_new = p->n_calls;
}

/* Remove every open...close block (non-greedy); an unclosed opener stays. */
static void remove_blocks(out_buf *dst, const char *s, size_t n, const char *op,
                          const char *cl) {
    size_t ol = strlen(op), cll = strlen(cl), i = 0;
    while (i < n) {
        const char *a = findn(s + i, n - i, op, ol);
        const char *b = a ? findn(a + ol, (size_t)(s + n - a - ol), cl, cll) : NULL;
        if (!b) break;
        out_buf_add(dst, s + i, (size_t)(a - (s + i)));
        i = (size_t)(b - s) + cll;
    }
    out_buf_add(dst, s + i, n - i);
}

/* Remove a dangling image-call header: [<tool_call>] t2i_model_generation ws
 * [<arg_key>] discrete_image_token [</arg_key>] [<arg_value>] (7.5.2 step 7). */
static void remove_header(out_buf *dst, const char *s, size_t n) {
    size_t i = 0;
    const size_t TL = sizeof T2I_NAME - 1;
    while (i < n) {
        const char *a = findn(s + i, n - i, T2I_NAME, TL);
        if (!a) break;
        const char *e = s + n, *q = a + TL;
        while (q < e && is_ws(*q)) q++;
        if (starts(q, (size_t)(e - q), "<arg_key>")) q += 9;
        while (q < e && is_ws(*q)) q++;
        if (!starts(q, (size_t)(e - q), "discrete_image_token")) {
            out_buf_add(dst, s + i, (size_t)(a - (s + i)) + TL);
            i = (size_t)(a - s) + TL;
            continue;
        }
        q += 20;
        const char *r = q;
        while (r < e && is_ws(*r)) r++;
        if (starts(r, (size_t)(e - r), "</arg_key>")) {
            q = r + 10;
            r = q;
            while (r < e && is_ws(*r)) r++;
        }
        if (starts(r, (size_t)(e - r), "<arg_value>")) q = r + 11;
        const char *st = a;
        const char *w = a;
        while (w > s + i && is_ws(w[-1])) w--;
        if ((size_t)(w - (s + i)) >= 11 && !memcmp(w - 11, "<tool_call>", 11)) st = w - 11;
        out_buf_add(dst, s + i, (size_t)(st - (s + i)));
        i = (size_t)(q - s);
    }
    out_buf_add(dst, s + i, n - i);
}

/* Collapse runs of 3+ '\n' to 2 and runs of spaces to one, then trim. */
static void norm_ws(out_buf *dst, const char *s, size_t n) {
    size_t start = dst->n;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        if (s[i] == '\n' || s[i] == ' ') {
            while (j < n && s[j] == s[i]) j++;
            size_t run = j - i, lim = s[i] == '\n' ? 2 : 1;
            for (size_t k = 0; k < (run < lim ? run : lim); k++) out_buf_addc(dst, s[i]);
            i = j;
        } else {
            out_buf_addc(dst, s[i++]);
        }
    }
    if (!dst->p) return;
    const char *t = dst->p + start;
    size_t tl = dst->n - start;
    trim(&t, &tl);
    memmove(dst->p + start, t, tl);
    dst->n = start + tl;
    dst->p[dst->n] = 0;
}

/* out = f(in): helpers to chain the string passes below. */
static void pass_blocks(out_buf *b, const char *op, const char *cl) {
    out_buf t = {0};
    remove_blocks(&t, b->p ? b->p : "", b->n, op, cl);
    out_buf_free(b);
    *b = t;
}
static void pass_header(out_buf *b) {
    out_buf t = {0};
    remove_header(&t, b->p ? b->p : "", b->n);
    out_buf_free(b);
    *b = t;
}
static void pass_norm(out_buf *b) {
    out_buf t = {0};
    norm_ws(&t, b->p ? b->p : "", b->n);
    out_buf_free(b);
    *b = t;
}

/* 7.5.2 steps 6-7 on the text left after the calls were removed. */
static void omni_content(out_parser *p, out_buf *dst) {
    out_buf t = {0};
    for (int k = 0; k < p->n_segs; k++)
        if (p->segs[k].type == SEG_TEXT)
            strip_ctl(&t, p->segtext.p + p->segs[k].off, p->segs[k].len,
                      p->o.keep_control_tokens);
    static const char AO[] = "<assistant_transcript>", AC[] = "</assistant_transcript>";
    out_buf joined = {0};
    int na = 0;
    const char *s = t.p ? t.p : "";
    for (size_t i = 0; i < t.n;) {
        const char *a = findn(s + i, t.n - i, AO, sizeof AO - 1);
        const char *b = a ? finds(a, (size_t)(s + t.n - a), AC) : NULL;
        if (!b) break;
        const char *x = a + sizeof AO - 1;
        size_t xl = (size_t)(b - x);
        trim(&x, &xl);
        if (na++) out_buf_addc(&joined, '\n');
        out_buf_add(&joined, x, xl);
        i = (size_t)(b - s) + sizeof AC - 1;
    }
    if (na) {
        pass_blocks(&t, AO, AC);
        pass_blocks(&t, "<user_transcript>", "</user_transcript>");
        const char *r = t.p ? t.p : "";
        size_t rl = t.n;
        trim(&r, &rl);
        if (rl) {
            out_buf_add(&joined, "\n\n", 2);
            out_buf_add(&joined, r, rl);
        }
        out_buf_free(&t);
        t = joined;
        joined = (out_buf){0};
    } else {
        pass_blocks(&t, "<user_transcript>", "</user_transcript>");
    }
    out_buf_free(&joined);
    pass_blocks(&t, "<think>", "</think>");
    pass_header(&t);
    pass_norm(&t);
    ja_utf8_sanitize(dst, t.p ? t.p : "", t.n);
    out_buf_free(&t);
}

static void part_text(out_parser *p, out_buf *parts, out_buf *piece, int *first) {
    out_buf t = {0};
    strip_ctl(&t, piece->p ? piece->p : "", piece->n, p->o.keep_control_tokens);
    pass_blocks(&t, "<think>", "</think>");
    pass_blocks(&t, "<user_transcript>", "</user_transcript>");
    pass_blocks(&t, "<assistant_transcript>", "</assistant_transcript>");
    pass_header(&t);
    pass_norm(&t);
    if (t.n) {
        if (!*first) out_buf_add(parts, ", ", 2);
        *first = 0;
        out_buf_adds(parts, "{\"type\": \"text\", \"text\": ");
        ja_dump_string(parts, t.p, t.n, 0);
        out_buf_addc(parts, '}');
    }
    out_buf_free(&t);
    piece->n = 0;
}

static void part_ref(out_buf *parts, const char *id, int *first) {
    if (!*first) out_buf_add(parts, ", ", 2);
    *first = 0;
    out_buf_adds(parts, "{\"type\": \"tool_call_ref\", \"tool_call_id\": ");
    ja_dump_string(parts, id, strlen(id), 0);
    out_buf_addc(parts, '}');
}

/* 7.5.2 step 8. */
static void omni_parts(out_parser *p, int units_call) {
    out_buf piece = {0};
    int first = 1;
    out_buf_addc(&p->res_parts, '[');
    for (int k = 0; k < p->n_segs; k++) {
        const seg *g = &p->segs[k];
        int in_span = p->first_unit_seg >= 0 && k > p->first_unit_seg && k < p->last_unit_seg;
        if (g->type == SEG_TEXT) {
            if (!in_span) out_buf_add(&piece, p->segtext.p + g->off, g->len);
        } else if (g->type == SEG_CALL) {
            part_text(p, &p->res_parts, &piece, &first);
            part_ref(&p->res_parts, p->calls[g->call].id, &first);
        } else if (k == p->first_unit_seg && units_call >= 0) {
            part_text(p, &p->res_parts, &piece, &first);
            part_ref(&p->res_parts, p->calls[units_call].id, &first);
        }
    }
    part_text(p, &p->res_parts, &piece, &first);
    out_buf_addc(&p->res_parts, ']');
    out_buf_free(&piece);
}

static void build_result(out_parser *p, int units_call) {
    out_result *r = &p->res;
    memset(r, 0, sizeof *r);
    if (p->reasoning_active) {
        r->reasoning = p->reasoning.p ? p->reasoning.p : "";
        r->reasoning_len = p->reasoning.n;
    }
    out_buf t = {0};
    strip_ctl(&t, p->raw.p ? p->raw.p : "", p->raw.n, p->o.keep_control_tokens);
    ja_utf8_sanitize(&p->res_raw, t.p ? t.p : "", t.n);
    out_buf_free(&t);
    out_buf_add(&p->res_raw, "", 0);
    r->raw_content = p->res_raw.p ? p->res_raw.p : "";
    r->raw_content_len = p->res_raw.n;
    int ncalls = p->failed ? 0 : p->n_calls;
    const out_buf *c = &p->content;
    int null_content = 0;
    switch (p->o.family) {
    case OUT_FAMILY_THINK:
        if (p->failed) c = &p->res_raw;
        else if (ncalls && all_ws(c->p ? c->p : "", c->n)) null_content = 1;
        break;
    case OUT_FAMILY_OMNI:
        if (p->o.parse_tools) {
            omni_content(p, &p->res_content);
            c = &p->res_content;
        } else {
            c = &p->res_raw;
        }
        break;
    default:
        if (ncalls && !p->marker_after_m) null_content = 1;
        break;
    }
    if (!null_content && c->n) {
        r->content = c->p;
        r->content_len = c->n;
    }
    views_build(p, &p->res_views, 0);
    r->calls = ncalls ? p->res_views : NULL;
    r->n_calls = ncalls;
    r->tool_calls_present = ncalls > 0;
    out_buf *j = &p->res_calls;
    out_buf_addc(j, '[');
    for (int k = 0; k < ncalls; k++) {
        const pcall *q = &p->calls[k];
        if (k) out_buf_add(j, ", ", 2);
        out_buf_adds(j, "{\"id\": ");
        ja_dump_string(j, q->id, strlen(q->id), 0);
        out_buf_adds(j, ", \"type\": \"function\", \"function\": {\"name\": ");
        ja_dump_string(j, q->name, q->name_len, 0);
        out_buf_adds(j, ", \"arguments\": ");
        ja_dump_string(j, q->args, strlen(q->args), 0);
        out_buf_adds(j, "}}");
    }
    out_buf_addc(j, ']');
    r->tool_calls_json = j->p;
    if (p->o.family == OUT_FAMILY_OMNI && p->o.parse_tools && ncalls) {
        omni_parts(p, units_call);
        r->content_parts_json = p->res_parts.p;
    }
}

/* ---- public API --------------------------------------------------------------------- */

out_parser *out_parser_new_opts(const out_opts *o) {
    if (!o || o->family < OUT_FAMILY_THINK || o->family > OUT_FAMILY_OMNI) {
        omnic_err(OMNIC_EINVAL, "output parser: bad options (family)");
        return NULL;
    }
    out_parser *p = calloc(1, sizeof *p);
    if (!p) { omnic_err(OMNIC_ENOMEM, "output parser: out of memory"); return NULL; }
    p->o = *o;
    p->o.tools_json = NULL;
    p->first_unit_seg = p->last_unit_seg = -1;
    if (o->tools_json) {
        json_error_t err;
        p->tools = json_loads(o->tools_json, 0, &err);
        if (!json_is_array(p->tools)) {
            omnic_err(OMNIC_EINVAL, "output parser: tools: %s",
                      p->tools ? "not a JSON array" : err.text);
            json_decref(p->tools);
            free(p);
            return NULL;
        }
    }
    switch (o->family) {
    case OUT_FAMILY_THINK: case OUT_FAMILY_OMNI:
        p->s1 = o->reasoning == OUT_REASON_ON ? S1_REASON : S1_CONTENT;
        p->reasoning_active = o->reasoning == OUT_REASON_ON;
        p->s2 = o->family == OUT_FAMILY_OMNI ? O_TEXT : o->parse_tools ? A_TEXT : A_RAW;
        break;
    case OUT_FAMILY_HCX_LEGACY:
        p->s1 = o->reasoning == OUT_REASON_ON ? S1_REASON
              : o->reasoning == OUT_REASON_OFF ? S1_LEAD : S1_START;
        p->reasoning_active = o->reasoning == OUT_REASON_ON;
        p->s2 = H_TEXT;
        break;
    default:
        p->s1 = S1_LEAD;
        p->s2 = H_TEXT;
    }
    return p;
}

out_parser *out_parser_new(out_family f, int starts_in_reasoning, const char *tools_json) {
    out_opts o = {0};
    o.family = f;
    o.reasoning = starts_in_reasoning ? OUT_REASON_ON
                : f == OUT_FAMILY_HCX_LEGACY ? OUT_REASON_AUTO : OUT_REASON_OFF;
    o.parse_tools = tools_json != NULL;
    o.tools_json = tools_json;
    return out_parser_new_opts(&o);
}

void out_parser_free(out_parser *p) {
    if (!p) return;
    json_decref(p->tools);
    out_buf *bufs[] = {&p->b1, &p->b2, &p->fr.hold, &p->fc.hold, &p->reasoning, &p->content,
                       &p->raw, &p->dr, &p->dc, &p->segtext, &p->units, &p->res_content,
                       &p->res_raw, &p->res_calls, &p->res_parts};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) out_buf_free(bufs[k]);
    for (int k = 0; k < p->n_calls; k++) {
        free(p->calls[k].id);
        free(p->calls[k].name);
        free(p->calls[k].args);
    }
    free(p->calls);
    free(p->views);
    free(p->res_views);
    free(p->segs);
    free(p);
}

static int step_status(out_parser *p) {
    if (p->oom || out_buf_oom()) {
        out_buf_oom_clear();
        p->oom = 1;
        return omnic_err(OMNIC_ENOMEM, "output parser: out of memory");
    }
    return OMNIC_OK;
}

int out_parser_feed(out_parser *p, const char *text, size_t len, out_delta *d) {
    if (d) memset(d, 0, sizeof *d);
    if (!p || (!text && len)) return omnic_err(OMNIC_EINVAL, "output parser: bad argument");
    if (p->finished) return omnic_err(OMNIC_EINVAL, "output parser: feed after finish");
    if (p->oom) return omnic_err(OMNIC_ENOMEM, "output parser: out of memory");
    delta_reset(p);
    out_buf_add(&p->b1, text, len);
    s1_run(p, 0);
    fill_delta(p, d);
    return step_status(p);
}

int out_parser_finish(out_parser *p, out_delta *d) {
    if (d) memset(d, 0, sizeof *d);
    if (!p) return omnic_err(OMNIC_EINVAL, "output parser: bad argument");
    if (p->finished) return omnic_err(OMNIC_EINVAL, "output parser: finished twice");
    if (p->oom) return omnic_err(OMNIC_ENOMEM, "output parser: out of memory");
    delta_reset(p);
    s1_run(p, 1);
    ctl_run(p, &p->fc, NULL, 0, 1, &p->dc, &p->content);
    int units_call = -1;
    if (p->o.family == OUT_FAMILY_OMNI && p->o.parse_tools && p->n_units) {
        out_buf a = {0};
        char t[64];
        out_buf_adds(&a, "{\"units\": [");
        out_buf_add(&a, p->units.p, p->units.n);
        snprintf(t, sizeof t, "], \"format\": \"wav\", \"token_count\": %d}", p->n_units);
        out_buf_adds(&a, t);
        if (add_call(p, AUDIO_NAME, strlen(AUDIO_NAME), &a, OUT_CALL_AUDIO) == 0)
            units_call = p->n_calls - 1;
        out_buf_free(&a);
    }
    p->finished = 1;
    build_result(p, units_call);
    fill_delta(p, d);
    return step_status(p);
}

const out_result *out_parser_result(const out_parser *p) {
    return p && p->finished && !p->oom ? &p->res : NULL;
}

/* ---- thinking budget --------------------------------------------------------------- */

const char *out_think_close_string(out_family f) {
    switch (f) {
    case OUT_FAMILY_THINK: return " Now formulate the answer.</think>";
    case OUT_FAMILY_OMNI: return "</think>";
    case OUT_FAMILY_HCX_LEGACY: return HCX_BOUNDARY;
    default: return NULL;
    }
}

const char *out_think_open_string(out_family f) {
    switch (f) {
    case OUT_FAMILY_THINK: case OUT_FAMILY_OMNI: return "<think>";
    case OUT_FAMILY_HCX_LEGACY: return HCX_THINK;
    default: return NULL;
    }
}

/* Start index of the last occurrence of seq in a[0..n), or -1. */
static long last_occ(const int32_t *a, size_t n, const int32_t *seq, int ns) {
    if (ns <= 0 || (size_t)ns > n) return -1;
    for (size_t i = n - (size_t)ns + 1; i-- > 0;)
        if (!memcmp(a + i, seq, (size_t)ns * sizeof *seq)) return (long)i;
    return -1;
}

static int hist_ends(const out_budget *b, const int32_t *seq, int ns) {
    return ns > 0 && b->nhist >= ns &&
           !memcmp(b->hist + b->nhist - ns, seq, (size_t)ns * sizeof *seq);
}

int out_budget_init(out_budget *b, const int32_t *S, int nS, const int32_t *E, int nE,
                    const int32_t *C, int nC, int budget, const int32_t *prompt,
                    size_t n_prompt) {
    if (!b) return omnic_err(OMNIC_EINVAL, "thinking budget: NULL state");
    memset(b, 0, sizeof *b);
    b->forcing = -1;
    b->budget = budget;
    if (budget < 0) return OMNIC_OK;
    if (!S || nS <= 0 || !E || nE <= 0 || nC < 0 || (nC && !C) || (n_prompt && !prompt))
        return omnic_err(OMNIC_EINVAL, "thinking budget: empty start/end token sequence");
    b->seq = malloc((size_t)(nS + nE + nC) * sizeof *b->seq);
    b->hcap = nS > nE ? nS : nE;
    if (nC > b->hcap) b->hcap = nC;
    b->hist = malloc((size_t)b->hcap * 2 * sizeof *b->hist);
    if (!b->seq || !b->hist) {
        out_budget_free(b);
        return omnic_err(OMNIC_ENOMEM, "thinking budget: out of memory");
    }
    memcpy(b->seq, S, (size_t)nS * sizeof *S);
    memcpy(b->seq + nS, E, (size_t)nE * sizeof *E);
    if (nC) memcpy(b->seq + nS + nE, C, (size_t)nC * sizeof *C);
    b->nS = nS;
    b->nE = nE;
    b->nC = nC;
    long ls = last_occ(prompt, n_prompt, S, nS);
    long le = last_occ(prompt, n_prompt, E, nE), lc = last_occ(prompt, n_prompt, C, nC);
    if (lc > le) le = lc;
    if (ls >= 0 && ls > le) {
        b->inside = 1;
        b->count = (long)n_prompt - (ls + nS);
        if (b->count >= budget) b->forcing = 0;
    }
    size_t keep = n_prompt < (size_t)b->hcap ? n_prompt : (size_t)b->hcap;
    if (keep) memcpy(b->hist, prompt + n_prompt - keep, keep * sizeof *prompt);
    b->nhist = (int)keep;
    return OMNIC_OK;
}

int32_t out_budget_forced(const out_budget *b) {
    if (!b || b->budget < 0 || b->forcing < 0) return -1;
    return b->seq[b->nS + b->forcing];
}

void out_budget_accept(out_budget *b, int32_t tok) {
    if (!b || b->budget < 0 || !b->hist) return;
    if (b->nhist == 2 * b->hcap) {
        memmove(b->hist, b->hist + b->hcap, (size_t)b->hcap * sizeof *b->hist);
        b->nhist = b->hcap;
    }
    b->hist[b->nhist++] = tok;
    const int32_t *S = b->seq, *E = b->seq + b->nS, *C = E + b->nE;
    if (b->forcing >= 0) {
        if (tok == E[b->forcing]) {
            if (++b->forcing == b->nE) { b->forcing = -1; b->inside = 0; }
            return;
        }
        b->forcing = -1;  /* the caller did not force: judge the token normally */
    }
    if (hist_ends(b, S, b->nS)) { b->inside = 1; b->count = 0; }
    else if (hist_ends(b, E, b->nE) || hist_ends(b, C, b->nC)) b->inside = 0;
    else if (b->inside) b->count++;
    if (b->inside && b->count >= b->budget) b->forcing = 0;
}

void out_budget_free(out_budget *b) {
    if (!b) return;
    free(b->seq);
    free(b->hist);
    b->seq = b->hist = NULL;
    b->nhist = 0;
}

/* ---- stop conditions ------------------------------------------------------------------ */

const char *const *out_family_stop_tokens(out_family f) {
    static const char *const think[] = {"<|im_end|>", "<|endofturn|>", "<|stop|>", NULL};
    static const char *const hcx[] = {"<|endofturn|>", "<|stop|>", NULL};
    return f == OUT_FAMILY_THINK || f == OUT_FAMILY_OMNI ? think : hcx;
}

struct out_stopper {
    char **stops;
    int *orig;  /* index of each kept string in the caller's list */
    size_t n;
    int include, done, which;
    out_buf hold, out;
};

out_stopper *out_stopper_new(const char *const *stops, size_t n, int include_stop) {
    out_stopper *s = calloc(1, sizeof *s);
    if (!s || (n && (!(s->stops = calloc(n, sizeof *s->stops)) ||
                     !(s->orig = calloc(n, sizeof *s->orig))))) {
        if (s) free(s->stops);
        free(s);
        omnic_err(OMNIC_ENOMEM, "stop strings: out of memory");
        return NULL;
    }
    s->include = include_stop;
    for (size_t k = 0; k < n; k++) {
        if (!stops[k] || !*stops[k]) continue;  /* empty strings never match */
        s->orig[s->n] = (int)k;
        if (!(s->stops[s->n++] = strdup(stops[k]))) {
            out_stopper_free(s);
            omnic_err(OMNIC_ENOMEM, "stop strings: out of memory");
            return NULL;
        }
    }
    return s;
}

void out_stopper_free(out_stopper *s) {
    if (!s) return;
    for (size_t k = 0; k < s->n; k++) free(s->stops[k]);
    free(s->stops);
    free(s->orig);
    out_buf_free(&s->hold);
    out_buf_free(&s->out);
    free(s);
}

int out_stopper_feed(out_stopper *s, const char *text, size_t len, const char **out,
                     size_t *out_len, int *which) {
    *out = "";
    *out_len = 0;
    if (which) *which = s->done ? s->which : -1;
    if (s->done) return 1;
    s->out.n = 0;
    out_buf_add(&s->hold, text, len);
    const char *h = s->hold.p ? s->hold.p : "";
    size_t hn = s->hold.n, keep = 0;
    const char *best = NULL;
    size_t bk = 0;
    for (size_t k = 0; k < s->n; k++) {
        const char *q = finds(h, hn, s->stops[k]);
        if (q && (!best || q < best)) { best = q; bk = k; }
    }
    if (best) {
        size_t upto = (size_t)(best - h) + (s->include ? strlen(s->stops[bk]) : 0);
        out_buf_add(&s->out, h, upto);
        s->done = 1;
        s->which = s->orig[bk];
        if (which) *which = s->which;
    } else {
        for (size_t k = 0; k < s->n; k++) {
            size_t q = partial1(h, hn, s->stops[k]);
            if (q > keep) keep = q;
        }
        out_buf_add(&s->out, h, hn - keep);
        memmove(s->hold.p, h + hn - keep, keep);
        s->hold.n = keep;
        s->hold.p[keep] = 0;
    }
    if (out_buf_oom()) {
        out_buf_oom_clear();
        return omnic_err(OMNIC_ENOMEM, "stop strings: out of memory");
    }
    *out = s->out.p ? s->out.p : "";
    *out_len = s->out.n;
    return s->done;
}

void out_stopper_flush(out_stopper *s, const char **out, size_t *out_len) {
    s->out.n = 0;
    if (!s->done) out_buf_add(&s->out, s->hold.p ? s->hold.p : "", s->hold.n);
    s->hold.n = 0;
    *out = s->out.p ? s->out.p : "";
    *out_len = s->out.n;
}
