/* jinja_builtins.c - the library of the Jinja interpreter: filters (Jinja2's builtin set
 * that chat templates use, plus HF's tojson), tests, Python str/dict/list methods
 * reachable in HF's immutable sandbox, global functions (namespace, range, dict, cycler,
 * joiner, raise_exception, strftime_now) and Python printf-style `%` formatting. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "text/jinja_eval.h"

#define FAIL(...) jj_fail(e->c, OMNIC_EINVAL, line, __VA_ARGS__)

/* ---- argument binding ------------------------------------------------------------------ */

/* Bind a call's arguments to the parameter list `params` (positional order). Unknown
 * keywords, too many positionals and duplicates are errors. have[i] says if given. */
static void bind(jj_ev *e, const jj_args *a, const char *fname, const char *const *params, jv *vals, int *have,
                 int line) {
    size_t np = 0;
    while (params[np]) np++;
    for (size_t i = 0; i < np; i++) {
        have[i] = 0;
        vals[i] = jv_undef;
    }
    if (a->npos > np) FAIL("%s() takes at most %zu positional argument%s (%zu given)", fname, np, np == 1 ? "" : "s", a->npos);
    for (size_t i = 0; i < a->npos; i++) {
        vals[i] = a->pos[i];
        have[i] = 1;
    }
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i = 0;
        for (; i < np; i++)
            if (strlen(params[i]) == a->knl[k] && !memcmp(params[i], a->kn[k], a->knl[k])) break;
        if (i == np) FAIL("%s() got an unexpected keyword argument '%s'", fname, a->kn[k]);
        if (have[i]) FAIL("%s() got multiple values for argument '%s'", fname, params[i]);
        vals[i] = a->kv[k];
        have[i] = 1;
    }
}

static void no_kwargs(jj_ev *e, const jj_args *a, const char *fname, int line) {
    if (a->nkw) FAIL("%s() got an unexpected keyword argument '%s'", fname, a->kn[0]);
}

static void want_args(jj_ev *e, const jj_args *a, const char *fname, size_t lo, size_t hi, int line) {
    no_kwargs(e, a, fname, line);
    if (a->npos < lo || a->npos > hi) {
        if (lo == hi) FAIL("%s() takes exactly %zu argument%s (%zu given)", fname, lo, lo == 1 ? "" : "s", a->npos);
        FAIL("%s() takes %zu to %zu arguments (%zu given)", fname, lo, hi, a->npos);
    }
}

static jj_str *want_str(jj_ev *e, jv v, const char *what, int line) {
    if (v.t != JV_STR) FAIL("%s must be a string, not %s", what, jv_type_name(v));
    return v.u.s;
}

static int64_t want_int(jj_ev *e, jv v, const char *what, int line) {
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    FAIL("%s must be an integer, not %s", what, jv_type_name(v));
}

static jv tuple2(jj_ev *e, jv a, jv b) {
    jv t = jv_list(e->c, 2);
    t.u.l->v[0] = a;
    t.u.l->v[1] = b;
    t.u.l->n = 2;
    t.u.l->tuple = 1;
    return t;
}

/* ---- string helpers ---------------------------------------------------------------------- */

static uint32_t cp_lower(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0x100 && c <= 0x17F && !(c & 1) && c != 0x130 && c != 0x138) return c + 1;
    return c;
}

static uint32_t cp_upper(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
        return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    if (c >= 0x101 && c <= 0x17F && (c & 1) && c != 0x131 && c != 0x149) return c - 1;
    return c;
}

static int cp_is_lower(uint32_t c) { return cp_upper(c) != c; }
static int cp_is_upper(uint32_t c) { return cp_lower(c) != c; }
static int cp_is_alpha(uint32_t c) {
    return (c < 0x80 && ((c | 32) >= 'a' && (c | 32) <= 'z')) || cp_is_lower(c) || cp_is_upper(c) ||
           (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3131 && c <= 0x318E) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3040 && c <= 0x30FF) || c == 0xAA || c == 0xB5 || c == 0xBA ||
           (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7);
}
static int cp_is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

/* mode 0 lower, 1 upper, 2 capitalize, 3 str.title, 4 swapcase, 5 Jinja's title filter */
static jv str_case(jj_ev *e, jj_str *s, int mode) {
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    size_t i = 0;
    int first = 1, prev_cased = 0;
    while (i < s->len) {
        uint32_t c = jj_utf8_next(s->s, s->len, &i), o = c;
        switch (mode) {
        case 0: o = cp_lower(c); break;
        case 1: o = cp_upper(c); break;
        case 2: o = first ? cp_upper(c) : cp_lower(c); break;
        case 3: o = prev_cased ? cp_lower(c) : cp_upper(c); break;
        case 5: /* Jinja's title filter: words split at runs of - whitespace ( { [ < */
            o = prev_cased ? cp_lower(c) : cp_upper(c);
            break;
        default: o = cp_is_upper(c) ? cp_lower(c) : cp_upper(c); break;
        }
        prev_cased = mode == 5 ? !(jj_is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<')
                               : cp_is_alpha(c);
        first = 0;
        char u[4];
        jj_buf_put(e->c, &b, u, jj_utf8_put(u, o));
    }
    return jv_strbuf(e->c, &b);
}

static int in_chars(uint32_t c, const jj_str *chars) {
    size_t i = 0;
    while (i < chars->len)
        if (jj_utf8_next(chars->s, chars->len, &i) == c) return 1;
    return 0;
}

/* which: 1 = left, 2 = right, 3 = both. chars NULL = whitespace. */
static jv str_strip(jj_ev *e, jj_str *s, const jj_str *chars, int which) {
    size_t a = 0, b = s->len, i = 0;
    if (which & 1) {
        while (i < s->len) {
            size_t st = i;
            uint32_t c = jj_utf8_next(s->s, s->len, &i);
            if (!(chars ? in_chars(c, chars) : jj_is_space(c))) {
                a = st;
                break;
            }
            a = i;
        }
    }
    if (which & 2) {
        size_t keep = a;
        i = a;
        while (i < s->len) {
            uint32_t c = jj_utf8_next(s->s, s->len, &i);
            if (!(chars ? in_chars(c, chars) : jj_is_space(c))) keep = i;
        }
        b = keep;
    }
    if (b < a) b = a;
    return jv_str(e->c, s->s + a, b - a);
}

static int has_prefix(const jj_str *s, const char *p, size_t n) { return s->len >= n && !memcmp(s->s, p, n); }
static int has_suffix(const jj_str *s, const char *p, size_t n) {
    return s->len >= n && !memcmp(s->s + s->len - n, p, n);
}

static jv str_replace(jj_ev *e, jj_str *s, jj_str *old, jj_str *new, int64_t count) {
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    if (!old->len) { /* insert `new` between every code point (and at both ends) */
        size_t i = 0;
        int64_t k = 0;
        while (1) {
            if (count < 0 || k < count) {
                jj_buf_put(e->c, &b, new->s, new->len);
                k++;
            }
            if (i >= s->len) break;
            size_t st = i;
            jj_utf8_next(s->s, s->len, &i);
            jj_buf_put(e->c, &b, s->s + st, i - st);
        }
        return jv_strbuf(e->c, &b);
    }
    size_t i = 0;
    int64_t k = 0;
    while (i < s->len) {
        const char *p = (count < 0 || k < count) ? jj_memmem(s->s + i, s->len - i, old->s, old->len) : NULL;
        if (!p) break;
        size_t at = (size_t)(p - s->s);
        jj_buf_put(e->c, &b, s->s + i, at - i);
        jj_buf_put(e->c, &b, new->s, new->len);
        i = at + old->len;
        k++;
    }
    jj_buf_put(e->c, &b, s->s + i, s->len - i);
    return jv_strbuf(e->c, &b);
}

/* Python str.split / rsplit. sep NULL = runs of whitespace. */
static jv str_split(jj_ev *e, jj_str *s, const jj_str *sep, int64_t maxsplit, int right, int line) {
    jv out = jv_list(e->c, 0);
    jj_list *l = out.u.l;
    if (sep && !sep->len) FAIL("split(): empty separator");
    if (!sep) {
        /* collect whitespace-separated words as byte ranges */
        size_t nw = 0, cap = 8;
        size_t *ws = jj_alloc(e->c, cap * 2 * sizeof *ws);
        size_t i = 0;
        while (i < s->len) {
            size_t st = i;
            uint32_t c = jj_utf8_next(s->s, s->len, &i);
            if (jj_is_space(c)) continue;
            size_t end = i;
            while (i < s->len) {
                size_t k = i;
                uint32_t c2 = jj_utf8_next(s->s, s->len, &k);
                if (jj_is_space(c2)) break;
                i = k;
                end = k;
            }
            if (nw == cap) {
                size_t *nws = jj_alloc(e->c, cap * 4 * sizeof *nws);
                memcpy(nws, ws, cap * 2 * sizeof *ws);
                ws = nws;
                cap *= 2;
            }
            ws[2 * nw] = st;
            ws[2 * nw + 1] = end;
            nw++;
        }
        if (maxsplit < 0 || (size_t)maxsplit >= nw) {
            for (size_t k = 0; k < nw; k++) jj_list_push(e->c, l, jv_str(e->c, s->s + ws[2 * k], ws[2 * k + 1] - ws[2 * k]));
            return out;
        }
        if (!right) {
            for (int64_t k = 0; k < maxsplit; k++)
                jj_list_push(e->c, l, jv_str(e->c, s->s + ws[2 * k], ws[2 * k + 1] - ws[2 * k]));
            /* remainder: from word maxsplit to the end, trailing whitespace stripped */
            jj_str *rest = jv_str(e->c, s->s + ws[2 * maxsplit], s->len - ws[2 * maxsplit]).u.s;
            jj_list_push(e->c, l, str_strip(e, rest, NULL, 2));
        } else {
            size_t first = nw - (size_t)maxsplit;
            jj_str *rest = jv_str(e->c, s->s, ws[2 * (first - 1) + 1]).u.s;
            jj_list_push(e->c, l, str_strip(e, rest, NULL, 1));
            for (size_t k = first; k < nw; k++)
                jj_list_push(e->c, l, jv_str(e->c, s->s + ws[2 * k], ws[2 * k + 1] - ws[2 * k]));
        }
        return out;
    }
    if (!right) {
        size_t i = 0;
        int64_t k = 0;
        for (;;) {
            const char *p = (maxsplit < 0 || k < maxsplit) ? jj_memmem(s->s + i, s->len - i, sep->s, sep->len) : NULL;
            if (!p) break;
            size_t at = (size_t)(p - s->s);
            jj_list_push(e->c, l, jv_str(e->c, s->s + i, at - i));
            i = at + sep->len;
            k++;
        }
        jj_list_push(e->c, l, jv_str(e->c, s->s + i, s->len - i));
        return out;
    }
    /* rsplit: find separators from the right */
    size_t end = s->len;
    int64_t k = 0;
    jv rev = jv_list(e->c, 0);
    while (maxsplit < 0 || k < maxsplit) {
        if (end < sep->len) break;
        size_t at = end - sep->len;
        int found = 0;
        for (;; at--) {
            if (!memcmp(s->s + at, sep->s, sep->len)) {
                found = 1;
                break;
            }
            if (at == 0) break;
        }
        if (!found) break;
        jj_list_push(e->c, rev.u.l, jv_str(e->c, s->s + at + sep->len, end - at - sep->len));
        end = at;
        k++;
    }
    jj_list_push(e->c, l, jv_str(e->c, s->s, end));
    for (size_t i = rev.u.l->n; i > 0; i--) jj_list_push(e->c, l, rev.u.l->v[i - 1]);
    return out;
}

static int is_linebreak(uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
           c == 0x2028 || c == 0x2029;
}

static jv str_splitlines(jj_ev *e, jj_str *s, int keepends) {
    jv out = jv_list(e->c, 0);
    size_t i = 0, st = 0;
    while (i < s->len) {
        size_t k = i;
        uint32_t c = jj_utf8_next(s->s, s->len, &k);
        if (!is_linebreak(c)) {
            i = k;
            continue;
        }
        size_t eol = k;
        if (c == '\r' && eol < s->len && s->s[eol] == '\n') eol++;
        jj_list_push(e->c, out.u.l, jv_str(e->c, s->s + st, (keepends ? eol : i) - st));
        i = st = eol;
    }
    if (st < s->len) jj_list_push(e->c, out.u.l, jv_str(e->c, s->s + st, s->len - st));
    return out;
}

/* Code-point index of the byte offset. */
static int64_t cp_index(const jj_str *s, size_t off) { return (int64_t)jj_utf8_count(s->s, off); }

static jv html_escape(jj_ev *e, jv v, int line) {
    jv s = jv_to_string(e->c, v, line);
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    for (size_t i = 0; i < s.u.s->len; i++) {
        char ch = s.u.s->s[i];
        switch (ch) {
        case '&': jj_buf_put(e->c, &b, "&amp;", 5); break;
        case '<': jj_buf_put(e->c, &b, "&lt;", 4); break;
        case '>': jj_buf_put(e->c, &b, "&gt;", 4); break;
        case '"': jj_buf_put(e->c, &b, "&#34;", 5); break;
        case '\'': jj_buf_put(e->c, &b, "&#39;", 5); break;
        default: jj_buf_putc(e->c, &b, ch);
        }
    }
    return jv_strbuf(e->c, &b);
}

static size_t length_of(jj_ev *e, jv v, int line) {
    switch (v.t) {
    case JV_UNDEF: return 0;
    case JV_STR: return jj_utf8_count(v.u.s->s, v.u.s->len);
    case JV_LIST: return v.u.l->n;
    case JV_DICT:
        if (!v.u.d->ns) return v.u.d->n;
        break;
    default: break;
    }
    FAIL("object of type '%s' has no len()", jv_type_name(v));
}

/* Python str.join over an iterable of strings. */
static jv join_strs(jj_ev *e, jj_list *items, const char *sep, size_t sepn, int convert, int line) {
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    for (size_t i = 0; i < items->n; i++) {
        if (i) jj_buf_put(e->c, &b, sep, sepn);
        jv v = items->v[i];
        if (v.t == JV_STR)
            jj_buf_put(e->c, &b, v.u.s->s, v.u.s->len);
        else if (convert)
            jv_write_str(e->c, &b, v, line);
        else
            FAIL("sequence item %zu: expected str instance, %s found", i, jv_type_name(v));
    }
    return jv_strbuf(e->c, &b);
}

/* Jinja attribute getter: "a.b.0" -> item lookups (digits become integers). */
static jv get_path(jj_ev *e, jv v, jv attr, int line) {
    if (attr.t == JV_INT) return jj_getitem(e, v, attr, line);
    jj_str *p = want_str(e, attr, "attribute", line);
    size_t i = 0;
    while (i <= p->len) {
        const char *dot = memchr(p->s + i, '.', p->len - i);
        size_t end = dot ? (size_t)(dot - p->s) : p->len;
        jv key;
        size_t k = i;
        while (k < end && p->s[k] >= '0' && p->s[k] <= '9') k++;
        if (k == end && end > i && end - i < 18) {
            key = jv_int(strtoll(p->s + i, NULL, 10));
        } else
            key = jv_str(e->c, p->s + i, end - i);
        if (v.t == JV_UNDEF) return v;
        v = jj_getitem(e, v, key, line);
        if (!dot) break;
        i = end + 1;
    }
    return v;
}

/* Key for sort/unique/min/max: attribute lookup and lower-casing when !case_sensitive. */
static jv sort_key(jj_ev *e, jv v, jv attr, int case_sensitive, int line) {
    if (attr.t != JV_UNDEF && attr.t != JV_NONE) v = get_path(e, v, attr, line);
    if (!case_sensitive && v.t == JV_STR) v = str_case(e, v.u.s, 0);
    return v;
}

/* Stable merge sort of idx[] by keys (jv_compare). */
static void merge_sort(jj_ev *e, size_t *idx, size_t *tmp, size_t n, const jv *keys, int reverse, int line) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(e, idx, tmp, h, keys, reverse, line);
    merge_sort(e, idx + h, tmp, n - h, keys, reverse, line);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int c = jv_compare(e->c, line, keys[idx[j]], keys[idx[i]]);
        if (reverse) c = -c;
        if (c < 0)
            tmp[k++] = idx[j++];
        else
            tmp[k++] = idx[i++];
    }
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static jv sorted(jj_ev *e, jj_list *items, jv *keys, int reverse, int line) {
    size_t n = items->n;
    size_t *idx = jj_alloc(e->c, (n + 1) * sizeof *idx), *tmp = jj_alloc(e->c, (n + 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    merge_sort(e, idx, tmp, n, keys, reverse, line);
    jv out = jv_list(e->c, n);
    for (size_t i = 0; i < n; i++) out.u.l->v[i] = items->v[idx[i]];
    out.u.l->n = n;
    return out;
}

/* ---- printf-style formatting ---------------------------------------------------------- */

static void pad_put(jj_ev *e, jj_buf *b, const char *s, size_t n, int64_t width, int left) {
    int64_t len = (int64_t)jj_utf8_count(s, n);
    if (!left)
        for (int64_t i = len; i < width; i++) jj_buf_putc(e->c, b, ' ');
    jj_buf_put(e->c, b, s, n);
    if (left)
        for (int64_t i = len; i < width; i++) jj_buf_putc(e->c, b, ' ');
}

jv jj_printf(jj_ev *e, jv fmtv, jv args, int line) {
    jj_str *fmt = fmtv.u.s;
    jv *av = &args;
    size_t na = 1, ai = 0;
    jj_dict *map = NULL;
    if (args.t == JV_LIST && args.u.l->tuple) {
        av = args.u.l->v;
        na = args.u.l->n;
    } else if (args.t == JV_DICT && !args.u.d->ns)
        map = args.u.d;
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    const char *s = fmt->s;
    size_t n = fmt->len;
    for (size_t i = 0; i < n;) {
        if (s[i] != '%') {
            const char *p = memchr(s + i, '%', n - i);
            size_t end = p ? (size_t)(p - s) : n;
            jj_buf_put(e->c, &b, s + i, end - i);
            i = end;
            continue;
        }
        i++;
        if (i >= n) FAIL("incomplete format");
        if (s[i] == '%') {
            jj_buf_putc(e->c, &b, '%');
            i++;
            continue;
        }
        jv v = jv_undef;
        int have_v = 0;
        if (s[i] == '(') {
            size_t k = i + 1;
            int depth = 1;
            while (k < n && depth) {
                if (s[k] == '(') depth++;
                if (s[k] == ')') depth--;
                if (depth) k++;
            }
            if (k >= n) FAIL("incomplete format key");
            if (!map) FAIL("format requires a mapping");
            if (!jj_dict_get_s(map, s + i + 1, k - i - 1, &v)) FAIL("format key '%.*s' not found", (int)(k - i - 1), s + i + 1);
            have_v = 1;
            i = k + 1;
        }
        int left = 0, plus = 0, space = 0, alt = 0, zero = 0;
        for (; i < n && strchr("-+ #0", s[i]); i++) {
            switch (s[i]) {
            case '-': left = 1; break;
            case '+': plus = 1; break;
            case ' ': space = 1; break;
            case '#': alt = 1; break;
            default: zero = 1;
            }
        }
        int64_t width = -1, prec = -1;
        if (i < n && s[i] == '*') {
            if (ai >= na || map) FAIL("not enough arguments for format string");
            width = want_int(e, av[ai++], "* width", line);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            i++;
        } else {
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                width = (width < 0 ? 0 : width) * 10 + (s[i] - '0');
                if (width > 100000) FAIL("format width too large");
                i++;
            }
        }
        if (i < n && s[i] == '.') {
            i++;
            prec = 0;
            if (i < n && s[i] == '*') {
                if (ai >= na || map) FAIL("not enough arguments for format string");
                prec = want_int(e, av[ai++], "* precision", line);
                i++;
            } else
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    prec = prec * 10 + (s[i] - '0');
                    if (prec > 100000) FAIL("format precision too large");
                    i++;
                }
        }
        while (i < n && (s[i] == 'h' || s[i] == 'l' || s[i] == 'L')) i++;
        if (i >= n) FAIL("incomplete format");
        char conv = s[i++];
        if (!have_v) {
            if (ai >= na) FAIL("not enough arguments for format string");
            v = av[ai++];
        }
        switch (conv) {
        case 's':
        case 'r':
        case 'a': {
            jj_buf t = {0};
            if (conv == 's')
                jv_write_str(e->c, &t, v, line);
            else
                jv_write_repr(e->c, &t, v, line);
            size_t tn = t.n;
            if (prec >= 0) {
                size_t o = 0, k2 = 0;
                while (o < t.n && k2 < (size_t)prec) {
                    jj_utf8_next(t.p, t.n, &o);
                    k2++;
                }
                tn = o;
            }
            pad_put(e, &b, t.p ? t.p : "", tn, width, left);
            break;
        }
        case 'c': {
            char u[4];
            size_t un;
            if (v.t == JV_STR && jj_utf8_count(v.u.s->s, v.u.s->len) == 1) {
                pad_put(e, &b, v.u.s->s, v.u.s->len, width, left);
                break;
            }
            int64_t cp = want_int(e, v, "%c", line);
            if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) FAIL("%%c arg not in range(0x110000)");
            un = jj_utf8_put(u, (uint32_t)cp);
            pad_put(e, &b, u, un, width, left);
            break;
        }
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            int64_t iv;
            int integer_only = conv == 'x' || conv == 'X' || conv == 'o';
            if (v.t == JV_INT || v.t == JV_BOOL)
                iv = v.t == JV_INT ? v.u.i : v.u.b;
            else if (v.t == JV_FLOAT && !integer_only) {
                if (!isfinite(v.u.f) || fabs(v.u.f) >= 9.2e18) FAIL("cannot convert float %g to integer", v.u.f);
                iv = (int64_t)v.u.f;
            } else
                FAIL("%%%c format: %s is required, not %s", conv, integer_only ? "an integer" : "a real number",
                     jv_type_name(v));
            uint64_t mag = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
            char digits[80];
            snprintf(digits, sizeof digits, conv == 'x' ? "%llx" : conv == 'X' ? "%llX" : conv == 'o' ? "%llo" : "%llu",
                     (unsigned long long)mag);
            const char *sign = iv < 0 ? "-" : plus ? "+" : space ? " " : "";
            const char *pre = !alt ? "" : conv == 'x' ? "0x" : conv == 'X' ? "0X" : conv == 'o' ? "0o" : "";
            int64_t nd = (int64_t)strlen(digits);
            int64_t zeros = prec > nd ? prec - nd : 0;
            int64_t body = (int64_t)strlen(sign) + (int64_t)strlen(pre) + zeros + nd;
            if (zero && !left && width > body) {
                zeros += width - body;
                body = width;
            }
            if (!left)
                for (int64_t k = body; k < width; k++) jj_buf_putc(e->c, &b, ' ');
            jj_buf_put(e->c, &b, sign, strlen(sign));
            jj_buf_put(e->c, &b, pre, strlen(pre));
            for (int64_t k = 0; k < zeros; k++) jj_buf_putc(e->c, &b, '0');
            jj_buf_put(e->c, &b, digits, (size_t)nd);
            if (left)
                for (int64_t k = body; k < width; k++) jj_buf_putc(e->c, &b, ' ');
            break;
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G': {
            double d;
            if (v.t == JV_FLOAT)
                d = v.u.f;
            else if (v.t == JV_INT || v.t == JV_BOOL)
                d = v.t == JV_INT ? (double)v.u.i : v.u.b;
            else
                FAIL("must be real number, not %s", jv_type_name(v));
            char spec[32], *p = spec;
            *p++ = '%';
            if (left) *p++ = '-';
            if (plus) *p++ = '+';
            if (space) *p++ = ' ';
            if (alt) *p++ = '#';
            if (zero) *p++ = '0';
            *p = 0;
            char tail[8] = {conv, 0};
            char full[96];
            if (width >= 0 && prec >= 0)
                snprintf(full, sizeof full, "%s%lld.%lld%s", spec, (long long)width, (long long)prec, tail);
            else if (width >= 0)
                snprintf(full, sizeof full, "%s%lld%s", spec, (long long)width, tail);
            else if (prec >= 0)
                snprintf(full, sizeof full, "%s.%lld%s", spec, (long long)prec, tail);
            else
                snprintf(full, sizeof full, "%s%s", spec, tail);
            int len = snprintf(NULL, 0, full, d);
            if (len < 0) FAIL("bad float format");
            char *o = jj_alloc(e->c, (size_t)len + 1);
            snprintf(o, (size_t)len + 1, full, d);
            jj_buf_put(e->c, &b, o, (size_t)len);
            break;
        }
        default: FAIL("unsupported format character '%c'", conv);
        }
    }
    if (!map && ai < na) FAIL("not all arguments converted during string formatting");
    return jv_strbuf(e->c, &b);
}

/* ---- tojson ------------------------------------------------------------------------------ */

static jv do_tojson(jj_ev *e, jv v, jj_args *a, int line) {
    static const char *const params[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    jv p[4];
    int h[4];
    bind(e, a, "tojson", params, p, h, line);
    jj_json_opts o = {.indent = -1};
    o.ensure_ascii = h[0] && jv_truthy(p[0]);
    if (h[1] && p[1].t != JV_NONE) {
        if (p[1].t == JV_STR)
            o.indent_str = p[1].u.s->s;
        else {
            int64_t ind = want_int(e, p[1], "tojson indent", line);
            if (ind > 1000) FAIL("tojson: indent too large");
            o.indent = ind < 0 ? 0 : (int)ind;
        }
    }
    if (h[2] && p[2].t != JV_NONE) {
        if (p[2].t != JV_LIST || p[2].u.l->n != 2 || p[2].u.l->v[0].t != JV_STR || p[2].u.l->v[1].t != JV_STR)
            FAIL("tojson: separators must be a pair of strings");
        o.item_sep = p[2].u.l->v[0].u.s->s;
        o.key_sep = p[2].u.l->v[1].u.s->s;
    }
    o.sort_keys = h[3] && jv_truthy(p[3]);
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    jv_write_json(e->c, &b, v, &o, line);
    return jv_strbuf(e->c, &b);
}

/* ---- filters ----------------------------------------------------------------------------- */

static jv filter_map(jj_ev *e, jv v, jj_args *a, int line) {
    jj_list *items = jj_iterate(e, v, line);
    jv out = jv_list(e->c, items->n);
    if (a->npos == 0) {
        static const char *const params[] = {"attribute", "default", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "map", params, p, h, line);
        if (!h[0]) FAIL("map() needs a filter name or attribute=");
        for (size_t i = 0; i < items->n; i++) {
            jv x = get_path(e, items->v[i], p[0], line);
            if (x.t == JV_UNDEF && h[1]) x = p[1];
            jj_list_push(e->c, out.u.l, x);
        }
        return out;
    }
    jj_str *fname = want_str(e, a->pos[0], "map() filter name", line);
    jj_args sub = *a;
    sub.pos = a->pos + 1;
    sub.npos = a->npos - 1;
    for (size_t i = 0; i < items->n; i++) jj_list_push(e->c, out.u.l, jj_filter(e, fname->s, fname->len, items->v[i], &sub, line));
    return out;
}

/* select / reject / selectattr / rejectattr */
static jv filter_select(jj_ev *e, jv v, jj_args *a, int line, int want, int by_attr) {
    no_kwargs(e, a, by_attr ? "selectattr" : "select", line);
    jj_list *items = jj_iterate(e, v, line);
    size_t k = 0;
    jv attr = jv_undef;
    if (by_attr) {
        if (!a->npos) FAIL("selectattr/rejectattr need an attribute name");
        attr = a->pos[k++];
    }
    jj_str *test = NULL;
    if (k < a->npos) test = want_str(e, a->pos[k++], "test name", line);
    jj_args targs = {.pos = a->pos + k, .npos = a->npos - k, .line = line};
    jv out = jv_list(e->c, 0);
    for (size_t i = 0; i < items->n; i++) {
        jv x = by_attr ? get_path(e, items->v[i], attr, line) : items->v[i];
        int r = test ? jj_test(e, test->s, test->len, x, &targs, line) : jv_truthy(x);
        if (r == want) jj_list_push(e->c, out.u.l, items->v[i]);
    }
    return out;
}

static jv to_int(jj_ev *e, jv v, jv def, int64_t base, int line) {
    switch (v.t) {
    case JV_INT: return v;
    case JV_BOOL: return jv_int(v.u.b);
    case JV_FLOAT:
        if (!isfinite(v.u.f) || fabs(v.u.f) >= 9.2e18) return def;
        return jv_int((int64_t)v.u.f);
    case JV_STR: {
        jj_str *s = str_strip(e, v.u.s, NULL, 3).u.s;
        char *t = jj_alloc(e->c, s->len + 1);
        size_t k = 0;
        for (size_t i = 0; i < s->len; i++)
            if (s->s[i] != '_') t[k++] = s->s[i];
        t[k] = 0;
        if (k) {
            char *end;
            errno = 0;
            long long r = strtoll(t, &end, (int)base);
            if (!*end && !errno) return jv_int(r);
            double d = strtod(t, &end);
            if (!*end && isfinite(d) && fabs(d) < 9.2e18) return jv_int((int64_t)d);
        }
        return def;
    }
    default: return def;
    }
    (void)line;
}

static jv to_float(jj_ev *e, jv v, jv def) {
    switch (v.t) {
    case JV_FLOAT: return v;
    case JV_INT: return jv_float((double)v.u.i);
    case JV_BOOL: return jv_float(v.u.b);
    case JV_STR: {
        jj_str *s = str_strip(e, v.u.s, NULL, 3).u.s;
        if (!s->len) return def;
        char *end;
        double d = strtod(s->s, &end);
        if (!*end) return jv_float(d);
        return def;
    }
    default: return def;
    }
}

static jv do_indent(jj_ev *e, jv v, jj_args *a, int line) {
    static const char *const params[] = {"width", "first", "blank", NULL};
    jv p[3];
    int h[3];
    bind(e, a, "indent", params, p, h, line);
    jj_buf ind = {0};
    jj_buf_put(e->c, &ind, "", 0);
    if (h[0] && p[0].t == JV_STR)
        jj_buf_put(e->c, &ind, p[0].u.s->s, p[0].u.s->len);
    else {
        int64_t w = h[0] ? want_int(e, p[0], "indent width", line) : 4;
        if (w > 10000) FAIL("indent width too large");
        for (int64_t i = 0; i < w; i++) jj_buf_putc(e->c, &ind, ' ');
    }
    int first = h[1] && jv_truthy(p[1]), blank = h[2] && jv_truthy(p[2]);
    if (v.t == JV_UNDEF) jj_undefined_error(e, line, v);
    if (v.t != JV_STR) FAIL("indent: a string is required, not %s", jv_type_name(v));
    jv sv = v;
    jj_buf t = {0};
    jj_buf_put(e->c, &t, sv.u.s->s, sv.u.s->len);
    jj_buf_putc(e->c, &t, '\n');
    jj_list *lines = str_splitlines(e, jv_strbuf(e->c, &t).u.s, 0).u.l;
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    for (size_t i = 0; i < lines->n; i++) {
        jj_str *ln = lines->v[i].u.s;
        if (i) jj_buf_putc(e->c, &b, '\n');
        if (i && (blank || ln->len)) jj_buf_put(e->c, &b, ind.p, ind.n);
        jj_buf_put(e->c, &b, ln->s, ln->len);
    }
    if (first) {
        jj_buf r = {0};
        jj_buf_put(e->c, &r, ind.p, ind.n);
        jj_buf_put(e->c, &r, b.p, b.n);
        return jv_strbuf(e->c, &r);
    }
    return jv_strbuf(e->c, &b);
}

static jv do_round(jj_ev *e, jv v, jj_args *a, int line) {
    static const char *const params[] = {"precision", "method", NULL};
    jv p[2];
    int h[2];
    bind(e, a, "round", params, p, h, line);
    int64_t prec = h[0] ? want_int(e, p[0], "round precision", line) : 0;
    const char *m = h[1] ? want_str(e, p[1], "round method", line)->s : "common";
    if (v.t != JV_INT && v.t != JV_FLOAT && v.t != JV_BOOL) FAIL("round: a number is required, not %s", jv_type_name(v));
    double x = v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b;
    double scale = pow(10.0, (double)prec);
    if (!strcmp(m, "common")) {
        if (v.t != JV_FLOAT && prec >= 0) return v.t == JV_BOOL ? jv_int(v.u.b) : v;
        return jv_float(nearbyint(x * scale) / scale);
    }
    if (!strcmp(m, "ceil")) return jv_float(ceil(x * scale) / scale);
    if (!strcmp(m, "floor")) return jv_float(floor(x * scale) / scale);
    FAIL("round: method must be 'common', 'ceil' or 'floor'");
}

static jv min_max(jj_ev *e, jv v, jj_args *a, int line, int want_max) {
    static const char *const params[] = {"case_sensitive", "attribute", NULL};
    jv p[2];
    int h[2];
    bind(e, a, want_max ? "max" : "min", params, p, h, line);
    jj_list *items = jj_iterate(e, v, line);
    if (!items->n) return jv_undef;
    int cs = h[0] && jv_truthy(p[0]);
    size_t best = 0;
    jv bk = sort_key(e, items->v[0], p[1], cs, line);
    for (size_t i = 1; i < items->n; i++) {
        jv k = sort_key(e, items->v[i], p[1], cs, line);
        int c = jv_compare(e->c, line, k, bk);
        if (want_max ? c > 0 : c < 0) {
            best = i;
            bk = k;
        }
    }
    return items->v[best];
}

jv jj_filter(jj_ev *e, const char *name, size_t nlen, jv v, jj_args *a, int line) {
    (void)nlen;
#define IS(s) (!strcmp(name, s))
    if (IS("tojson")) return do_tojson(e, v, a, line);
    if (IS("safe")) {
        want_args(e, a, name, 0, 0, line);
        return v;
    }
    if (IS("string")) {
        want_args(e, a, name, 0, 0, line);
        return jv_to_string(e->c, v, line);
    }
    if (IS("length") || IS("count")) {
        want_args(e, a, name, 0, 0, line);
        return jv_int((int64_t)length_of(e, v, line));
    }
    if (IS("trim")) {
        static const char *const params[] = {"chars", NULL};
        jv p[1];
        int h[1];
        bind(e, a, "trim", params, p, h, line);
        jv s = jv_to_string(e->c, v, line);
        const jj_str *chars = h[0] && p[0].t != JV_NONE ? want_str(e, p[0], "trim chars", line) : NULL;
        return str_strip(e, s.u.s, chars, 3);
    }
    if (IS("lower") || IS("upper") || IS("capitalize") || IS("title")) {
        want_args(e, a, name, 0, 0, line);
        jv s = jv_to_string(e->c, v, line);
        return str_case(e, s.u.s, IS("lower") ? 0 : IS("upper") ? 1 : IS("capitalize") ? 2 : 5);
    }
    if (IS("replace")) {
        static const char *const params[] = {"old", "new", "count", NULL};
        jv p[3];
        int h[3];
        bind(e, a, "replace", params, p, h, line);
        if (!h[0] || !h[1]) FAIL("replace() needs old and new strings");
        jv s = jv_to_string(e->c, v, line);
        jv o = jv_to_string(e->c, p[0], line), nw = jv_to_string(e->c, p[1], line);
        int64_t cnt = h[2] && p[2].t != JV_NONE ? want_int(e, p[2], "replace count", line) : -1;
        return str_replace(e, s.u.s, o.u.s, nw.u.s, cnt);
    }
    if (IS("join")) {
        static const char *const params[] = {"d", "attribute", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "join", params, p, h, line);
        jj_list *items = jj_iterate(e, v, line);
        if (h[1] && p[1].t != JV_NONE) {
            jv m = jv_list(e->c, items->n);
            for (size_t i = 0; i < items->n; i++) jj_list_push(e->c, m.u.l, get_path(e, items->v[i], p[1], line));
            items = m.u.l;
        }
        jv sep = h[0] ? jv_to_string(e->c, p[0], line) : jv_str(e->c, "", 0);
        return join_strs(e, items, sep.u.s->s, sep.u.s->len, 1, line);
    }
    if (IS("default") || IS("d")) {
        static const char *const params[] = {"default_value", "boolean", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "default", params, p, h, line);
        jv def = h[0] ? p[0] : jv_str(e->c, "", 0);
        if (v.t == JV_UNDEF || (h[1] && jv_truthy(p[1]) && !jv_truthy(v))) return def;
        return v;
    }
    if (IS("first") || IS("last")) {
        want_args(e, a, name, 0, 0, line);
        jj_list *items = jj_iterate(e, v, line);
        if (!items->n) return jv_undef;
        return IS("first") ? items->v[0] : items->v[items->n - 1];
    }
    if (IS("list")) {
        want_args(e, a, name, 0, 0, line);
        jj_list *items = jj_iterate(e, v, line);
        jv out = jv_list(e->c, items->n);
        for (size_t i = 0; i < items->n; i++) out.u.l->v[i] = items->v[i];
        out.u.l->n = items->n;
        return out;
    }
    if (IS("items")) {
        want_args(e, a, name, 0, 0, line);
        if (v.t == JV_UNDEF) return jv_list(e->c, 0);
        if (v.t != JV_DICT || v.u.d->ns) FAIL("items: can only get item pairs from a mapping, not %s", jv_type_name(v));
        jv out = jv_list(e->c, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) out.u.l->v[i] = tuple2(e, v.u.d->k[i], v.u.d->v[i]);
        out.u.l->n = v.u.d->n;
        return out;
    }
    if (IS("map")) return filter_map(e, v, a, line);
    if (IS("select")) return filter_select(e, v, a, line, 1, 0);
    if (IS("reject")) return filter_select(e, v, a, line, 0, 0);
    if (IS("selectattr")) return filter_select(e, v, a, line, 1, 1);
    if (IS("rejectattr")) return filter_select(e, v, a, line, 0, 1);
    if (IS("escape") || IS("e") || IS("forceescape")) {
        want_args(e, a, name, 0, 0, line);
        return html_escape(e, v, line);
    }
    if (IS("abs")) {
        want_args(e, a, name, 0, 0, line);
        if (v.t == JV_INT) {
            if (v.u.i == INT64_MIN) FAIL("integer overflow in abs");
            return jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        }
        if (v.t == JV_BOOL) return jv_int(v.u.b);
        if (v.t == JV_FLOAT) return jv_float(fabs(v.u.f));
        FAIL("bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (IS("int")) {
        static const char *const params[] = {"default", "base", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "int", params, p, h, line);
        int64_t base = h[1] ? want_int(e, p[1], "int base", line) : 10;
        if (base != 0 && (base < 2 || base > 36)) FAIL("int() base must be >= 2 and <= 36, or 0");
        if (v.t == JV_UNDEF) jj_undefined_error(e, line, v);
        return to_int(e, v, h[0] ? p[0] : jv_int(0), base, line);
    }
    if (IS("float")) {
        static const char *const params[] = {"default", NULL};
        jv p[1];
        int h[1];
        bind(e, a, "float", params, p, h, line);
        if (v.t == JV_UNDEF) jj_undefined_error(e, line, v);
        return to_float(e, v, h[0] ? p[0] : jv_float(0.0));
    }
    if (IS("round")) return do_round(e, v, a, line);
    if (IS("indent")) return do_indent(e, v, a, line);
    if (IS("reverse")) {
        want_args(e, a, name, 0, 0, line);
        if (v.t == JV_STR) {
            jj_list *cs = jj_iterate(e, v, line);
            jj_buf b = {0};
            jj_buf_put(e->c, &b, "", 0);
            for (size_t i = cs->n; i > 0; i--) jj_buf_put(e->c, &b, cs->v[i - 1].u.s->s, cs->v[i - 1].u.s->len);
            return jv_strbuf(e->c, &b);
        }
        jj_list *items = jj_iterate(e, v, line);
        jv out = jv_list(e->c, items->n);
        for (size_t i = items->n; i > 0; i--) jj_list_push(e->c, out.u.l, items->v[i - 1]);
        return out;
    }
    if (IS("sort")) {
        static const char *const params[] = {"reverse", "case_sensitive", "attribute", NULL};
        jv p[3];
        int h[3];
        bind(e, a, "sort", params, p, h, line);
        jj_list *items = jj_iterate(e, v, line);
        jv *keys = jj_alloc(e->c, (items->n + 1) * sizeof *keys);
        int cs = h[1] && jv_truthy(p[1]);
        for (size_t i = 0; i < items->n; i++) keys[i] = sort_key(e, items->v[i], p[2], cs, line);
        return sorted(e, items, keys, h[0] && jv_truthy(p[0]), line);
    }
    if (IS("dictsort")) {
        static const char *const params[] = {"case_sensitive", "by", "reverse", NULL};
        jv p[3];
        int h[3];
        bind(e, a, "dictsort", params, p, h, line);
        if (v.t != JV_DICT || v.u.d->ns) FAIL("dictsort: a mapping is required, not %s", jv_type_name(v));
        int by_value = 0;
        if (h[1]) {
            jj_str *by = want_str(e, p[1], "dictsort by", line);
            if (!strcmp(by->s, "value"))
                by_value = 1;
            else if (strcmp(by->s, "key"))
                FAIL("dictsort: by must be 'key' or 'value'");
        }
        jv pairs = jv_list(e->c, v.u.d->n);
        jv *keys = jj_alloc(e->c, (v.u.d->n + 1) * sizeof *keys);
        for (size_t i = 0; i < v.u.d->n; i++) {
            jj_list_push(e->c, pairs.u.l, tuple2(e, v.u.d->k[i], v.u.d->v[i]));
            keys[i] = sort_key(e, by_value ? v.u.d->v[i] : v.u.d->k[i], jv_undef, h[0] && jv_truthy(p[0]), line);
        }
        return sorted(e, pairs.u.l, keys, h[2] && jv_truthy(p[2]), line);
    }
    if (IS("unique")) {
        static const char *const params[] = {"case_sensitive", "attribute", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "unique", params, p, h, line);
        jj_list *items = jj_iterate(e, v, line);
        jv out = jv_list(e->c, 0), seen = jv_list(e->c, 0);
        for (size_t i = 0; i < items->n; i++) {
            jv k = sort_key(e, items->v[i], p[1], h[0] && jv_truthy(p[0]), line);
            if (jj_contains(e, seen, k, line)) continue;
            jj_list_push(e->c, seen.u.l, k);
            jj_list_push(e->c, out.u.l, items->v[i]);
        }
        return out;
    }
    if (IS("min")) return min_max(e, v, a, line, 0);
    if (IS("max")) return min_max(e, v, a, line, 1);
    if (IS("sum")) {
        static const char *const params[] = {"attribute", "start", NULL};
        jv p[2];
        int h[2];
        bind(e, a, "sum", params, p, h, line);
        jj_list *items = jj_iterate(e, v, line);
        jv acc = h[1] ? p[1] : jv_int(0);
        if (acc.t == JV_STR) FAIL("sum() can't sum strings (use join)");
        for (size_t i = 0; i < items->n; i++) {
            jv x = h[0] && p[0].t != JV_NONE ? get_path(e, items->v[i], p[0], line) : items->v[i];
            acc = jj_binop(e, OP_ADD, acc, x, line);
        }
        return acc;
    }
    if (IS("attr")) {
        want_args(e, a, name, 1, 1, line);
        jj_str *nm = want_str(e, a->pos[0], "attr name", line);
        return jj_getattr(e, v, nm->s, nm->len, line);
    }
    if (IS("format")) {
        jv s = jv_to_string(e->c, v, line);
        if (a->nkw) {
            if (a->npos) FAIL("format: can't handle positional and keyword arguments at the same time");
            jv d = jv_dict(e->c, a->nkw);
            for (size_t i = 0; i < a->nkw; i++) jj_dict_set(e->c, d.u.d, jv_str(e->c, a->kn[i], a->knl[i]), a->kv[i]);
            return jj_printf(e, s, d, line);
        }
        jv t = jv_list(e->c, a->npos);
        for (size_t i = 0; i < a->npos; i++) t.u.l->v[i] = a->pos[i];
        t.u.l->n = a->npos;
        t.u.l->tuple = 1;
        return jj_printf(e, s, t, line);
    }
    if (IS("pprint")) {
        jj_buf b = {0};
        jj_buf_put(e->c, &b, "", 0);
        jv_write_repr(e->c, &b, v, line);
        return jv_strbuf(e->c, &b);
    }
    if (IS("wordcount")) {
        want_args(e, a, name, 0, 0, line);
        jv s = jv_to_string(e->c, v, line);
        int64_t k = 0;
        int in = 0;
        size_t i = 0;
        while (i < s.u.s->len) {
            uint32_t c = jj_utf8_next(s.u.s->s, s.u.s->len, &i);
            int w = cp_is_alpha(c) || cp_is_digit(c) || c == '_';
            if (w && !in) k++;
            in = w;
        }
        return jv_int(k);
    }
    if (IS("center")) {
        want_args(e, a, name, 0, 1, line);
        int64_t w = a->npos ? want_int(e, a->pos[0], "center width", line) : 80;
        jv s = jv_to_string(e->c, v, line);
        int64_t len = (int64_t)jj_utf8_count(s.u.s->s, s.u.s->len);
        if (w <= len || w > 100000) return s;
        int64_t tot = w - len, left = tot / 2 + (tot & w & 1);
        jj_buf b = {0};
        jj_buf_put(e->c, &b, "", 0);
        for (int64_t i = 0; i < left; i++) jj_buf_putc(e->c, &b, ' ');
        jj_buf_put(e->c, &b, s.u.s->s, s.u.s->len);
        for (int64_t i = left; i < tot; i++) jj_buf_putc(e->c, &b, ' ');
        return jv_strbuf(e->c, &b);
    }
    FAIL("no filter named '%s'", name);
#undef IS
}

/* ---- tests ------------------------------------------------------------------------------- */

int jj_test(jj_ev *e, const char *name, size_t nlen, jv v, jj_args *a, int line) {
    (void)nlen;
#define IS(s) (!strcmp(name, s))
#define NOARGS() want_args(e, a, name, 0, 0, line)
#define ONEARG() want_args(e, a, name, 1, 1, line)
    if (IS("defined")) { NOARGS(); return v.t != JV_UNDEF; }
    if (IS("undefined")) { NOARGS(); return v.t == JV_UNDEF; }
    if (IS("none")) { NOARGS(); return v.t == JV_NONE; }
    if (IS("string")) { NOARGS(); return v.t == JV_STR; }
    if (IS("mapping")) { NOARGS(); return v.t == JV_DICT && !v.u.d->ns; }
    if (IS("sequence")) { NOARGS(); return v.t == JV_STR || v.t == JV_LIST || v.t == JV_UNDEF || (v.t == JV_DICT && !v.u.d->ns); }
    if (IS("iterable")) { NOARGS(); return v.t == JV_STR || v.t == JV_LIST || v.t == JV_UNDEF || (v.t == JV_DICT && !v.u.d->ns); }
    if (IS("number")) { NOARGS(); return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
    if (IS("integer")) { NOARGS(); return v.t == JV_INT; }
    if (IS("float")) { NOARGS(); return v.t == JV_FLOAT; }
    if (IS("boolean")) { NOARGS(); return v.t == JV_BOOL; }
    if (IS("true")) { NOARGS(); return v.t == JV_BOOL && v.u.b; }
    if (IS("false")) { NOARGS(); return v.t == JV_BOOL && !v.u.b; }
    if (IS("callable")) { NOARGS(); return v.t == JV_MACRO || v.t == JV_FUNC || (v.t == JV_CYCLER && !v.u.cyc->items); }
    if (IS("escaped")) { NOARGS(); return 0; }
    if (IS("lower") || IS("upper")) { /* str(value).islower() / .isupper() */
        NOARGS();
        jv sv = jv_to_string(e->c, v, line);
        int ok = 1, cased = 0, want_lower = IS("lower");
        size_t i = 0;
        while (i < sv.u.s->len) {
            uint32_t c = jj_utf8_next(sv.u.s->s, sv.u.s->len, &i);
            if (want_lower ? cp_is_upper(c) : cp_is_lower(c)) ok = 0;
            if (want_lower ? cp_is_lower(c) : cp_is_upper(c)) cased = 1;
        }
        return ok && cased;
    }
    if (IS("even") || IS("odd") || IS("divisibleby")) {
        /* value % n == 0 (resp. == 1 for odd) with Python's % on ints and floats */
        jv n = jv_int(2);
        if (IS("divisibleby")) {
            ONEARG();
            n = a->pos[0];
        } else
            NOARGS();
        jv r = jj_binop(e, OP_MOD, v, n, line);
        if (v.t == JV_STR) FAIL("%s: a number is required, not str", name);
        return jv_equal(r, jv_int(IS("odd") ? 1 : 0));
    }
    if (IS("eq") || IS("equalto") || IS("==")) { ONEARG(); return jv_equal(v, a->pos[0]); }
    if (IS("ne") || IS("!=")) { ONEARG(); return !jv_equal(v, a->pos[0]); }
    if (IS("lt") || IS("lessthan") || IS("<")) { ONEARG(); return jv_compare(e->c, line, v, a->pos[0]) == -1; }
    if (IS("le") || IS("<=")) { ONEARG(); int r = jv_compare(e->c, line, v, a->pos[0]); return r == -1 || r == 0; }
    if (IS("gt") || IS("greaterthan") || IS(">")) { ONEARG(); return jv_compare(e->c, line, v, a->pos[0]) == 1; }
    if (IS("ge") || IS(">=")) { ONEARG(); int r = jv_compare(e->c, line, v, a->pos[0]); return r == 1 || r == 0; }
    if (IS("in")) { ONEARG(); return jj_contains(e, a->pos[0], v, line); }
    if (IS("sameas")) {
        ONEARG();
        jv o = a->pos[0];
        if (v.t != o.t) return 0;
        switch (v.t) {
        case JV_NONE:
        case JV_UNDEF: return 1;
        case JV_BOOL: return v.u.b == o.u.b;
        case JV_INT: return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython small-int cache */
        case JV_STR: return v.u.s == o.u.s;
        case JV_LIST: return v.u.l == o.u.l;
        case JV_DICT: return v.u.d == o.u.d;
        default: return jv_equal(v, o);
        }
    }
    if (IS("filter") || IS("test")) {
        NOARGS();
        static const char *const filters[] = {"tojson", "safe", "string", "length", "count", "trim", "lower", "upper",
                                              "capitalize", "title", "replace", "join", "default", "d", "first", "last",
                                              "list", "items", "map", "select", "reject", "selectattr", "rejectattr",
                                              "escape", "e", "forceescape", "abs", "int", "float", "round", "indent",
                                              "reverse", "sort", "dictsort", "unique", "min", "max", "sum", "attr",
                                              "format", "pprint", "wordcount", "center", NULL};
        static const char *const tests[] = {"defined", "undefined", "none", "string", "mapping", "sequence", "iterable",
                                            "number", "integer", "float", "boolean", "true", "false", "callable",
                                            "escaped", "lower", "upper", "even", "odd", "divisibleby", "eq", "equalto",
                                            "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in", "sameas",
                                            "filter", "test", "==", "!=", "<", "<=", ">", ">=", NULL};
        if (v.t != JV_STR) return 0;
        const char *const *l = IS("filter") ? filters : tests;
        for (int i = 0; l[i]; i++)
            if (!strcmp(l[i], v.u.s->s)) return 1;
        return 0;
    }
    FAIL("no test named '%s'", name);
#undef IS
#undef NOARGS
#undef ONEARG
}

/* ---- methods ------------------------------------------------------------------------------ */

static int find_sub(jj_str *s, jj_str *sub, int right, size_t *at) {
    if (sub->len > s->len) return 0;
    if (!right) {
        const char *p = sub->len ? jj_memmem(s->s, s->len, sub->s, sub->len) : s->s;
        if (!p) return 0;
        *at = (size_t)(p - s->s);
        return 1;
    }
    for (size_t i = s->len - sub->len + 1; i > 0; i--)
        if (!memcmp(s->s + i - 1, sub->s, sub->len)) {
            *at = i - 1;
            return 1;
        }
    return 0;
}

static int prefix_test(jj_ev *e, jj_str *s, jv arg, int suffix, int line) {
    if (arg.t == JV_LIST && arg.u.l->tuple) {
        for (size_t i = 0; i < arg.u.l->n; i++)
            if (prefix_test(e, s, arg.u.l->v[i], suffix, line)) return 1;
        return 0;
    }
    jj_str *p = want_str(e, arg, suffix ? "endswith() argument" : "startswith() argument", line);
    return suffix ? has_suffix(s, p->s, p->len) : has_prefix(s, p->s, p->len);
}

static jv pad_str(jj_ev *e, jj_str *s, int64_t width, const char *fill, int mode /* 0 ljust 1 rjust 2 zfill */) {
    int64_t len = (int64_t)jj_utf8_count(s->s, s->len);
    if (width <= len || width > 100000) return jv_str(e->c, s->s, s->len);
    jj_buf b = {0};
    jj_buf_put(e->c, &b, "", 0);
    size_t fl = strlen(fill);
    if (mode == 0) jj_buf_put(e->c, &b, s->s, s->len);
    size_t start = 0;
    if (mode == 2 && s->len && (s->s[0] == '-' || s->s[0] == '+')) {
        jj_buf_putc(e->c, &b, s->s[0]);
        start = 1;
    }
    for (int64_t i = len; i < width; i++) jj_buf_put(e->c, &b, fill, fl);
    if (mode != 0) jj_buf_put(e->c, &b, s->s + start, s->len - start);
    return jv_strbuf(e->c, &b);
}

static int str_method(jj_ev *e, jj_str *s, const char *m, jj_args *a, jv *out, int line) {
#define IS(x) (!strcmp(m, x))
    if (IS("startswith") || IS("endswith")) {
        want_args(e, a, m, 1, 1, line);
        *out = jv_bool(prefix_test(e, s, a->pos[0], IS("endswith"), line));
        return 1;
    }
    if (IS("strip") || IS("lstrip") || IS("rstrip")) {
        want_args(e, a, m, 0, 1, line);
        const jj_str *chars = a->npos && a->pos[0].t != JV_NONE ? want_str(e, a->pos[0], "strip chars", line) : NULL;
        *out = str_strip(e, s, chars, IS("strip") ? 3 : IS("lstrip") ? 1 : 2);
        return 1;
    }
    if (IS("split") || IS("rsplit")) {
        static const char *const params[] = {"sep", "maxsplit", NULL};
        jv p[2];
        int h[2];
        bind(e, a, m, params, p, h, line);
        const jj_str *sep = h[0] && p[0].t != JV_NONE ? want_str(e, p[0], "separator", line) : NULL;
        int64_t mx = h[1] ? want_int(e, p[1], "maxsplit", line) : -1;
        *out = str_split(e, s, sep, mx, IS("rsplit"), line);
        return 1;
    }
    if (IS("splitlines")) {
        want_args(e, a, m, 0, 1, line);
        *out = str_splitlines(e, s, a->npos && jv_truthy(a->pos[0]));
        return 1;
    }
    if (IS("lower") || IS("upper") || IS("capitalize") || IS("title") || IS("swapcase")) {
        want_args(e, a, m, 0, 0, line);
        *out = str_case(e, s, IS("lower") ? 0 : IS("upper") ? 1 : IS("capitalize") ? 2 : IS("title") ? 3 : 4);
        return 1;
    }
    if (IS("replace")) {
        want_args(e, a, m, 2, 3, line);
        jj_str *o = want_str(e, a->pos[0], "replace() argument 1", line), *n = want_str(e, a->pos[1], "replace() argument 2", line);
        int64_t cnt = a->npos > 2 ? want_int(e, a->pos[2], "replace count", line) : -1;
        *out = str_replace(e, s, o, n, cnt);
        return 1;
    }
    if (IS("find") || IS("rfind") || IS("index") || IS("rindex") || IS("count")) {
        want_args(e, a, m, 1, 1, line);
        jj_str *sub = want_str(e, a->pos[0], "substring", line);
        if (IS("count")) {
            int64_t k = 0;
            if (!sub->len)
                k = (int64_t)jj_utf8_count(s->s, s->len) + 1;
            else
                for (size_t i = 0; i + sub->len <= s->len;) {
                    const char *p = jj_memmem(s->s + i, s->len - i, sub->s, sub->len);
                    if (!p) break;
                    k++;
                    i = (size_t)(p - s->s) + sub->len;
                }
            *out = jv_int(k);
            return 1;
        }
        size_t at;
        int right = m[0] == 'r';
        if (!find_sub(s, sub, right, &at)) {
            if (IS("index") || IS("rindex")) FAIL("substring not found");
            *out = jv_int(-1);
        } else
            *out = jv_int(cp_index(s, at));
        return 1;
    }
    if (IS("join")) {
        want_args(e, a, m, 1, 1, line);
        *out = join_strs(e, jj_iterate(e, a->pos[0], line), s->s, s->len, 0, line);
        return 1;
    }
    if (IS("isdigit") || IS("isnumeric") || IS("isdecimal") || IS("isalpha") || IS("isalnum") || IS("isspace") ||
        IS("islower") || IS("isupper")) {
        want_args(e, a, m, 0, 0, line);
        int ok = s->len > 0, cased = 0;
        size_t i = 0;
        while (i < s->len) {
            uint32_t c = jj_utf8_next(s->s, s->len, &i);
            if (IS("isdigit") || IS("isnumeric") || IS("isdecimal"))
                ok &= cp_is_digit(c);
            else if (IS("isalpha"))
                ok &= cp_is_alpha(c);
            else if (IS("isalnum"))
                ok &= cp_is_alpha(c) || cp_is_digit(c);
            else if (IS("isspace"))
                ok &= jj_is_space(c);
            else if (IS("islower")) {
                if (cp_is_upper(c)) ok = 0;
                if (cp_is_lower(c)) cased = 1;
            } else {
                if (cp_is_lower(c)) ok = 0;
                if (cp_is_upper(c)) cased = 1;
            }
        }
        if (IS("islower") || IS("isupper")) ok &= cased;
        *out = jv_bool(ok);
        return 1;
    }
    if (IS("ljust") || IS("rjust") || IS("zfill") || IS("center")) {
        int z = IS("zfill");
        want_args(e, a, m, 1, z ? 1 : 2, line);
        int64_t w = want_int(e, a->pos[0], "width", line);
        const char *fill = " ";
        if (a->npos > 1) {
            jj_str *f = want_str(e, a->pos[1], "fill character", line);
            if (jj_utf8_count(f->s, f->len) != 1) FAIL("the fill character must be exactly one character long");
            fill = f->s;
        }
        if (IS("center")) {
            int64_t len = (int64_t)jj_utf8_count(s->s, s->len);
            if (w <= len || w > 100000) {
                *out = jv_str(e->c, s->s, s->len);
                return 1;
            }
            int64_t tot = w - len, left = tot / 2 + (tot & w & 1);
            jj_buf b = {0};
            jj_buf_put(e->c, &b, "", 0);
            for (int64_t i = 0; i < left; i++) jj_buf_put(e->c, &b, fill, strlen(fill));
            jj_buf_put(e->c, &b, s->s, s->len);
            for (int64_t i = left; i < tot; i++) jj_buf_put(e->c, &b, fill, strlen(fill));
            *out = jv_strbuf(e->c, &b);
            return 1;
        }
        *out = pad_str(e, s, w, z ? "0" : fill, IS("ljust") ? 0 : z ? 2 : 1);
        return 1;
    }
    if (IS("format")) {
        /* str.format with {}, {N}, {name} fields (no format specs) */
        jj_buf b = {0};
        jj_buf_put(e->c, &b, "", 0);
        size_t auto_i = 0;
        for (size_t i = 0; i < s->len; i++) {
            char ch = s->s[i];
            if (ch == '{' && i + 1 < s->len && s->s[i + 1] == '{') {
                jj_buf_putc(e->c, &b, '{');
                i++;
                continue;
            }
            if (ch == '}' && i + 1 < s->len && s->s[i + 1] == '}') {
                jj_buf_putc(e->c, &b, '}');
                i++;
                continue;
            }
            if (ch == '}') FAIL("single '}' encountered in format string");
            if (ch != '{') {
                jj_buf_putc(e->c, &b, ch);
                continue;
            }
            const char *close = memchr(s->s + i, '}', s->len - i);
            if (!close) FAIL("single '{' encountered in format string");
            size_t fs = i + 1, fe = (size_t)(close - s->s);
            if (memchr(s->s + fs, ':', fe - fs) || memchr(s->s + fs, '!', fe - fs))
                FAIL("str.format: conversions and format specs are not supported");
            jv v;
            if (fe == fs) {
                if (auto_i >= a->npos) FAIL("str.format: replacement index %zu out of range", auto_i);
                v = a->pos[auto_i++];
            } else if (s->s[fs] >= '0' && s->s[fs] <= '9') {
                size_t idx = (size_t)strtoul(s->s + fs, NULL, 10);
                if (idx >= a->npos) FAIL("str.format: replacement index %zu out of range", idx);
                v = a->pos[idx];
            } else {
                size_t k = 0;
                for (; k < a->nkw; k++)
                    if (a->knl[k] == fe - fs && !memcmp(a->kn[k], s->s + fs, fe - fs)) break;
                if (k == a->nkw) FAIL("str.format: missing argument '%.*s'", (int)(fe - fs), s->s + fs);
                v = a->kv[k];
            }
            jv_write_str(e->c, &b, v, line);
            i = fe;
        }
        *out = jv_strbuf(e->c, &b);
        return 1;
    }
    return 0;
#undef IS
}

int jj_call_method(jj_ev *e, jv obj, const char *m, size_t mn, jj_args *a, jv *out) {
    int line = a->line;
    (void)mn;
    switch (obj.t) {
    case JV_STR: return str_method(e, obj.u.s, m, a, out, line);
    case JV_DICT:
        if (obj.u.d->ns) return 0;
        if (!strcmp(m, "get")) {
            want_args(e, a, m, 1, 2, line);
            if (!jj_dict_get(obj.u.d, a->pos[0], out)) *out = a->npos > 1 ? a->pos[1] : jv_none;
            return 1;
        }
        if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
            want_args(e, a, m, 0, 0, line);
            jj_dict *d = obj.u.d;
            jv l = jv_list(e->c, d->n);
            for (size_t i = 0; i < d->n; i++)
                l.u.l->v[i] = m[0] == 'i' ? tuple2(e, d->k[i], d->v[i]) : m[0] == 'k' ? d->k[i] : d->v[i];
            l.u.l->n = d->n;
            *out = l;
            return 1;
        }
        if (!strcmp(m, "copy")) {
            want_args(e, a, m, 0, 0, line);
            jv d = jv_dict(e->c, obj.u.d->n);
            for (size_t i = 0; i < obj.u.d->n; i++) jj_dict_set(e->c, d.u.d, obj.u.d->k[i], obj.u.d->v[i]);
            *out = d;
            return 1;
        }
        if (!strcmp(m, "update") || !strcmp(m, "pop") || !strcmp(m, "popitem") || !strcmp(m, "setdefault") ||
            !strcmp(m, "clear"))
            FAIL("access to attribute '%s' of 'dict' object is unsafe (the template sandbox is immutable)", m);
        return 0;
    case JV_LIST:
        if (!strcmp(m, "index") || !strcmp(m, "count")) {
            want_args(e, a, m, 1, 1, line);
            int64_t k = 0;
            for (size_t i = 0; i < obj.u.l->n; i++)
                if (jv_equal(obj.u.l->v[i], a->pos[0])) {
                    if (m[0] == 'i') {
                        *out = jv_int((int64_t)i);
                        return 1;
                    }
                    k++;
                }
            if (m[0] == 'i') FAIL("value is not in list");
            *out = jv_int(k);
            return 1;
        }
        if (!strcmp(m, "append") || !strcmp(m, "extend") || !strcmp(m, "insert") || !strcmp(m, "pop") ||
            !strcmp(m, "remove") || !strcmp(m, "clear") || !strcmp(m, "sort") || !strcmp(m, "reverse"))
            FAIL("access to attribute '%s' of '%s' object is unsafe (the template sandbox is immutable)", m,
                 jv_type_name(obj));
        return 0;
    case JV_LOOP: {
        jj_loop *L = obj.u.loop;
        if (!strcmp(m, "cycle")) {
            no_kwargs(e, a, m, line);
            if (!a->npos) FAIL("loop.cycle() needs at least one argument");
            *out = a->pos[L->index0 % a->npos];
            return 1;
        }
        if (!strcmp(m, "changed")) {
            no_kwargs(e, a, m, line);
            jv t = jv_list(e->c, a->npos);
            for (size_t i = 0; i < a->npos; i++) t.u.l->v[i] = a->pos[i];
            t.u.l->n = a->npos;
            int ch = !L->changed_set || !jv_equal(t, L->changed_last);
            L->changed_last = t;
            L->changed_set = 1;
            *out = jv_bool(ch);
            return 1;
        }
        return 0;
    }
    case JV_CYCLER: {
        jj_cycler *cy = obj.u.cyc;
        if (!cy->items) return 0;
        if (!strcmp(m, "next")) {
            want_args(e, a, m, 0, 0, line);
            *out = cy->items->v[cy->pos];
            cy->pos = (cy->pos + 1) % cy->items->n;
            return 1;
        }
        if (!strcmp(m, "reset")) {
            want_args(e, a, m, 0, 0, line);
            cy->pos = 0;
            *out = jv_none;
            return 1;
        }
        return 0;
    }
    default: return 0;
    }
}

/* ---- global functions ---------------------------------------------------------------------- */

enum { G_NAMESPACE = 1, G_RANGE, G_DICT, G_CYCLER, G_JOINER, G_RAISE, G_STRFTIME };

int jj_builtin_global(const char *name, size_t n, jv *out) {
    static const struct {
        const char *s;
        int id;
    } g[] = {{"namespace", G_NAMESPACE}, {"range", G_RANGE}, {"dict", G_DICT}, {"cycler", G_CYCLER},
             {"joiner", G_JOINER}, {"raise_exception", G_RAISE}, {"strftime_now", G_STRFTIME}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (strlen(g[i].s) == n && !memcmp(g[i].s, name, n)) {
            jv v = {.t = JV_FUNC};
            v.u.func = g[i].id;
            *out = v;
            return 1;
        }
    return 0;
}

jv jj_call_joiner(jj_ev *e, jj_cycler *j, jj_args *a, int line) {
    want_args(e, a, "joiner", 0, 0, line);
    if (j->pos++ == 0) return jv_str(e->c, "", 0);
    return jv_str(e->c, j->sep->s, j->sep->len);
}

jv jj_call_builtin(jj_ev *e, int id, jj_args *a, int line) {
    switch (id) {
    case G_NAMESPACE:
    case G_DICT: {
        jv d = jv_dict(e->c, a->nkw);
        if (a->npos > 1) FAIL("%s() takes at most 1 positional argument", id == G_DICT ? "dict" : "namespace");
        if (a->npos) {
            jv src = a->pos[0];
            if (src.t == JV_DICT && !src.u.d->ns) {
                for (size_t i = 0; i < src.u.d->n; i++) jj_dict_set(e->c, d.u.d, src.u.d->k[i], src.u.d->v[i]);
            } else {
                jj_list *items = jj_iterate(e, src, line);
                for (size_t i = 0; i < items->n; i++) {
                    jv p = items->v[i];
                    if (p.t != JV_LIST || p.u.l->n != 2) FAIL("dictionary update sequence element #%zu has the wrong length", i);
                    jj_dict_set(e->c, d.u.d, p.u.l->v[0], p.u.l->v[1]);
                }
            }
        }
        for (size_t i = 0; i < a->nkw; i++) jj_dict_set(e->c, d.u.d, jv_str(e->c, a->kn[i], a->knl[i]), a->kv[i]);
        d.u.d->ns = id == G_NAMESPACE;
        return d;
    }
    case G_RANGE: {
        want_args(e, a, "range", 1, 3, line);
        int64_t start = 0, stop, step = 1;
        if (a->npos == 1)
            stop = want_int(e, a->pos[0], "range() argument", line);
        else {
            start = want_int(e, a->pos[0], "range() argument", line);
            stop = want_int(e, a->pos[1], "range() argument", line);
            if (a->npos > 2) step = want_int(e, a->pos[2], "range() argument", line);
        }
        if (!step) FAIL("range() arg 3 must not be zero");
        double cnt = step > 0 ? ((double)stop - (double)start) / (double)step : ((double)start - (double)stop) / (double)-step;
        if (cnt > 100000) FAIL("range too big: at most 100000 items");
        jv l = jv_list(e->c, cnt > 0 ? (size_t)ceil(cnt) : 0);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) jj_list_push(e->c, l.u.l, jv_int(i));
        return l;
    }
    case G_CYCLER: {
        no_kwargs(e, a, "cycler", line);
        if (!a->npos) FAIL("cycler() needs at least one item");
        jj_cycler *cy = jj_alloc(e->c, sizeof *cy);
        cy->items = jv_list(e->c, a->npos).u.l;
        for (size_t i = 0; i < a->npos; i++) cy->items->v[i] = a->pos[i];
        cy->items->n = a->npos;
        jv v = {.t = JV_CYCLER};
        v.u.cyc = cy;
        return v;
    }
    case G_JOINER: {
        static const char *const params[] = {"sep", NULL};
        jv p[1];
        int h[1];
        bind(e, a, "joiner", params, p, h, line);
        jj_cycler *cy = jj_alloc(e->c, sizeof *cy);
        cy->sep = h[0] ? jv_to_string(e->c, p[0], line).u.s : jv_str(e->c, ", ", 2).u.s;
        jv v = {.t = JV_CYCLER};
        v.u.cyc = cy;
        return v;
    }
    case G_RAISE: {
        jj_buf b = {0};
        jj_buf_put(e->c, &b, "", 0);
        for (size_t i = 0; i < a->npos; i++) {
            if (i) jj_buf_put(e->c, &b, " ", 1);
            jv_write_str(e->c, &b, a->pos[i], line);
        }
        e->c->raised = 1;
        jj_fail(e->c, OMNIC_EINVAL, 0, "%s", b.p);
    }
    case G_STRFTIME: {
        want_args(e, a, "strftime_now", 1, 1, line);
        jj_str *f = want_str(e, a->pos[0], "strftime_now format", line);
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        char buf[512];
        size_t n = f->len ? strftime(buf, sizeof buf, f->s, &tmv) : 0;
        return jv_str(e->c, buf, n);
    }
    default: FAIL("internal error: unknown builtin");
    }
}
