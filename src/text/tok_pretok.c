/* tok_pretok.c - tokenizer.json "pre_tokenizer": Sequence, Split (regex or literal,
 * every split behaviour, invert) and ByteLevel (prefix space, optional GPT-2 regex,
 * byte -> character mapping). Patterns are compiled with PCRE2 in UTF + UCP mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

#define MAX_STEPS 16

static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int tk_regex_compile(const char *pat, size_t len, int literal, pcre2_code **out, const char *file,
                     const char *field) {
    int err;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return omnic_err(OMNIC_EFORMAT, "%s: %s: invalid regex at offset %zu: %s", file, field, (size_t)off,
                         (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter is used if JIT is unavailable */
    *out = re;
    return OMNIC_OK;
}

static int get_bool(json_t *o, const char *key, int def, int *out, const char *file, const char *path) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return OMNIC_OK;
    }
    if (!json_is_boolean(v)) return omnic_err(OMNIC_ECONFIG, "%s: %s.%s must be a boolean", file, path, key);
    *out = json_is_true(v);
    return OMNIC_OK;
}

static int add_step(tk_pretok *p, json_t *j, const char *file, const char *path, int depth) {
    if (!json_is_object(j)) return omnic_err(OMNIC_ECONFIG, "%s: %s must be an object or null", file, path);
    json_t *t = json_object_get(j, "type");
    if (!json_is_string(t)) return omnic_err(OMNIC_ECONFIG, "%s: %s.type is missing or not a string", file, path);
    const char *ty = json_string_value(t);
    if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(j, "pretokenizers");
        if (!json_is_array(list))
            return omnic_err(OMNIC_ECONFIG, "%s: %s.pretokenizers must be an array", file, path);
        if (depth > 8) return omnic_err(OMNIC_EUNSUP, "%s: %s: Sequence nested too deeply", file, path);
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
            int rc = add_step(p, e, file, sub, depth + 1);
            if (rc) return rc;
        }
        return OMNIC_OK;
    }
    if (p->n >= MAX_STEPS) return omnic_err(OMNIC_EUNSUP, "%s: %s: more than %d pre-tokenizers", file, path, MAX_STEPS);
    tk_pretok_step st = {0};
    int rc;
    char field[300];
    if (!strcmp(ty, "Split")) {
        st.kind = TK_PT_SPLIT;
        json_t *pat = json_object_get(j, "pattern");
        if (!json_is_object(pat)) return omnic_err(OMNIC_ECONFIG, "%s: %s.pattern must be an object", file, path);
        json_t *rx = json_object_get(pat, "Regex"), *lit = json_object_get(pat, "String");
        json_t *use = rx ? rx : lit;
        snprintf(field, sizeof field, "%s.pattern.%s", path, rx ? "Regex" : "String");
        if (!json_is_string(use))
            return omnic_err(OMNIC_ECONFIG, "%s: %s.pattern needs a string \"Regex\" or \"String\"", file, path);
        json_t *bh = json_object_get(j, "behavior");
        if (!json_is_string(bh)) return omnic_err(OMNIC_ECONFIG, "%s: %s.behavior must be a string", file, path);
        static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                            "Contiguous"};
        st.behavior = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(json_string_value(bh), names[i])) st.behavior = i;
        if (st.behavior < 0)
            return omnic_err(OMNIC_ECONFIG, "%s: %s.behavior '%s' is not a split behaviour", file, path,
                             json_string_value(bh));
        if ((rc = get_bool(j, "invert", 0, &st.invert, file, path))) return rc;
        if (json_string_length(use) == 0) st.re = NULL; /* empty literal: never matches */
        else if ((rc = tk_regex_compile(json_string_value(use), json_string_length(use), use == lit, &st.re, file,
                                        field)))
            return rc;
    } else if (!strcmp(ty, "ByteLevel")) {
        st.kind = TK_PT_BYTELEVEL;
        int use_regex = 1;
        if ((rc = get_bool(j, "add_prefix_space", 1, &st.add_prefix_space, file, path)) ||
            (rc = get_bool(j, "use_regex", 1, &use_regex, file, path)))
            return rc;
        if (use_regex &&
            (rc = tk_regex_compile(gpt2_pattern, sizeof gpt2_pattern - 1, 0, &st.re, file, "ByteLevel regex")))
            return rc;
    } else
        return omnic_err(OMNIC_EUNSUP, "%s: %s.type '%s' is not supported (supported: Sequence, Split, ByteLevel)",
                         file, path, ty);
    tk_pretok_step *ns = realloc(p->steps, (size_t)(p->n + 1) * sizeof *ns);
    if (!ns) {
        pcre2_code_free(st.re);
        return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    }
    p->steps = ns;
    p->steps[p->n++] = st;
    return OMNIC_OK;
}

int tk_pretok_load(tk_pretok *p, json_t *j, const char *file) {
    memset(p, 0, sizeof *p);
    if (!j || json_is_null(j)) return OMNIC_OK;
    int rc = add_step(p, j, file, "pre_tokenizer", 0);
    if (rc) return rc;
    p->byte_level_last = p->n > 0 && p->steps[p->n - 1].kind == TK_PT_BYTELEVEL;
    return OMNIC_OK;
}

void tk_pretok_free(tk_pretok *p) {
    for (int i = 0; i < p->n; i++) pcre2_code_free(p->steps[i].re);
    free(p->steps);
    memset(p, 0, sizeof *p);
}

int tk_pretok_run_init(tk_pretok_run *r, const tk_pretok *p, int (*emit)(void *, const char *, size_t, int),
                       void *ctx) {
    memset(r, 0, sizeof *r);
    r->p = p;
    r->emit = emit;
    r->ctx = ctx;
    r->md = pcre2_match_data_create(1, NULL);
    if (!r->md) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    return OMNIC_OK;
}

void tk_pretok_run_free(tk_pretok_run *r) {
    pcre2_match_data_free(r->md);
    for (int i = 0; i < MAX_STEPS; i++) {
        free(r->spl[i]);
        tk_buf_free(&r->tmp[i]);
    }
    memset(r, 0, sizeof *r);
}

static int spl_push(tk_pretok_run *r, int k, size_t s, size_t e, int m, size_t *cnt) {
    if (*cnt == r->spl_cap[k]) {
        size_t cap = r->spl_cap[k] ? r->spl_cap[k] * 2 : 64;
        struct tk_split *v = realloc(r->spl[k], cap * sizeof *v);
        if (!v) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
        r->spl[k] = v;
        r->spl_cap[k] = cap;
    }
    r->spl[k][(*cnt)++] = (struct tk_split){s, e, m};
    return OMNIC_OK;
}

/* Matches and gaps of re over s[0..n), in order (HF Pattern::find_matches). After an
 * empty match the search resumes one character later. */
static int find_matches(tk_pretok_run *r, int k, const pcre2_code *re, const char *s, size_t n, size_t *cnt) {
    *cnt = 0;
    size_t prev = 0, pos = 0;
    if (re) {
        while (pos <= n) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, r->md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, r->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return omnic_err(OMNIC_EINVAL, "tokenizer: pre-tokenizer regex failed: %s", (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
            size_t ms = ov[0], me = ov[1];
            if (ms < prev) ms = prev; /* \K tricks: keep the pieces ordered */
            if (me < ms) me = ms;
            if (ms > prev && spl_push(r, k, prev, ms, 0, cnt)) return OMNIC_ENOMEM;
            if (spl_push(r, k, ms, me, 1, cnt)) return OMNIC_ENOMEM;
            prev = me;
            if (me == ms) {
                if (me >= n) break;
                pos = me + (size_t)tk_utf8_len((unsigned char)s[me]);
            } else
                pos = me;
        }
    }
    if (prev < n && spl_push(r, k, prev, n, 0, cnt)) return OMNIC_ENOMEM;
    return OMNIC_OK;
}

/* Apply a split behaviour in place: afterwards m = 1 means "remove this piece". */
static size_t apply_behavior(struct tk_split *v, size_t cnt, int behavior, int invert) {
    if (invert)
        for (size_t i = 0; i < cnt; i++) v[i].m = !v[i].m;
    size_t k = 0;
    int prevm = 0;
    switch (behavior) {
    case TK_SPLIT_REMOVED:
        return cnt;
    case TK_SPLIT_ISOLATED:
        for (size_t i = 0; i < cnt; i++) v[i].m = 0;
        return cnt;
    case TK_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < cnt; i++) {
            int m = v[i].m;
            if (m == prevm && k > 0) v[k - 1].e = v[i].e;
            else v[k++] = (struct tk_split){v[i].s, v[i].e, 0};
            prevm = m;
        }
        return k;
    case TK_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < cnt; i++) {
            int m = v[i].m;
            if (m && !prevm && k > 0) v[k - 1].e = v[i].e;
            else v[k++] = (struct tk_split){v[i].s, v[i].e, 0};
            prevm = m;
        }
        return k;
    case TK_SPLIT_MERGED_NEXT: { /* same fold, from the right */
        size_t w = cnt;
        for (size_t i = cnt; i-- > 0;) {
            int m = v[i].m;
            if (m && !prevm && w < cnt) v[w].s = v[i].s;
            else v[--w] = (struct tk_split){v[i].s, v[i].e, 0};
            prevm = m;
        }
        for (size_t i = w; i < cnt; i++) v[k++] = v[i];
        return k;
    }
    }
    return cnt;
}

static int run_step(tk_pretok_run *r, int k, const char *s, size_t n);

/* A piece that went through ByteLevel step k. */
static int byte_level_piece(tk_pretok_run *r, int k, const char *s, size_t n) {
    if (k == r->p->n - 1) return r->emit(r->ctx, s, n, 1);
    /* later steps see the mapped characters */
    tk_buf m = {0};
    int rc = tk_byte_level_map((const unsigned char *)s, n, &m);
    if (!rc) rc = run_step(r, k + 1, m.data, m.len);
    tk_buf_free(&m);
    return rc;
}

static int run_step(tk_pretok_run *r, int k, const char *s, size_t n) {
    if (!n) return OMNIC_OK;
    if (k >= r->p->n) return r->emit(r->ctx, s, n, 0);
    const tk_pretok_step *st = &r->p->steps[k];
    size_t cnt;
    int rc;
    if (st->kind == TK_PT_BYTELEVEL) {
        if (st->add_prefix_space && s[0] != ' ') {
            tk_buf *t = &r->tmp[k];
            t->len = 0;
            if (tk_buf_put(t, " ", 1) || tk_buf_put(t, s, n)) return OMNIC_ENOMEM;
            s = t->data;
            n = t->len;
        }
        if (!st->re) return byte_level_piece(r, k, s, n);
        if ((rc = find_matches(r, k, st->re, s, n, &cnt))) return rc;
        for (size_t i = 0; i < cnt; i++) {
            struct tk_split p = r->spl[k][i];
            if (p.e > p.s && (rc = byte_level_piece(r, k, s + p.s, p.e - p.s))) return rc;
        }
        return OMNIC_OK;
    }
    if ((rc = find_matches(r, k, st->re, s, n, &cnt))) return rc;
    cnt = apply_behavior(r->spl[k], cnt, st->behavior, st->invert);
    for (size_t i = 0; i < cnt; i++) {
        struct tk_split p = r->spl[k][i];
        if (!p.m && p.e > p.s && (rc = run_step(r, k + 1, s + p.s, p.e - p.s))) return rc;
    }
    return OMNIC_OK;
}

int tk_pretok_apply(tk_pretok_run *r, const char *s, size_t n) { return run_step(r, 0, s, n); }
