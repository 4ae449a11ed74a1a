/* jinja_value.c - arena, error unwinding, UTF-8 helpers and the value model of the
 * Jinja interpreter: construction, conversion from JSON, Python truthiness, equality,
 * ordering, str()/repr() and HF-style tojson. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/jinja_impl.h"

/* ---- arena ------------------------------------------------------------------ */

struct jj_chunk {
    jj_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

#define JJ_CHUNK 65536

void *jj_alloc(jj_ctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (c->limit && (c->used + n > c->limit || n > c->limit))
        jj_fail(c, OMNIC_ENOMEM, 0, "template used more than %zu MiB of memory", c->limit >> 20);
    jj_chunk *k = c->chunks;
    if (!k || k->cap - k->used < n) {
        size_t cap = n > JJ_CHUNK / 4 ? n : JJ_CHUNK;
        jj_chunk *nk = malloc(sizeof *nk + cap);
        if (!nk) jj_fail(c, OMNIC_ENOMEM, 0, "out of memory");
        nk->cap = cap;
        nk->used = 0;
        if (cap == n && k) { /* big block: keep the current chunk on top for small ones */
            nk->next = k->next;
            k->next = nk;
        } else {
            nk->next = k;
            c->chunks = nk;
        }
        k = nk;
    }
    void *p = k->data + k->used;
    k->used += n;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *jj_strndup(jj_ctx *c, const char *s, size_t n) {
    char *p = jj_alloc(c, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void jj_arena_free(jj_ctx *c) {
    for (jj_chunk *k = c->chunks, *nx; k; k = nx) {
        nx = k->next;
        free(k);
    }
    c->chunks = NULL;
    c->used = 0;
}

void jj_fail(jj_ctx *c, int code, int line, const char *fmt, ...) {
    char tmp[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    const char *name = c->name ? c->name : "template";
    if (line > 0)
        snprintf(c->msg, sizeof c->msg, "%s line %d: %s", name, line, tmp);
    else
        snprintf(c->msg, sizeof c->msg, "%s: %s", name, tmp);
    c->code = code;
    longjmp(*c->jmp, 1);
}

/* ---- buffers ------------------------------------------------------------------ */

void jj_buf_put(jj_ctx *c, jj_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) {
            if (cap > SIZE_MAX / 2) jj_fail(c, OMNIC_ENOMEM, 0, "string too large");
            cap *= 2;
        }
        char *p = jj_alloc(c, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jj_buf_putc(jj_ctx *c, jj_buf *b, char ch) { jj_buf_put(c, b, &ch, 1); }

void jj_buf_printf(jj_ctx *c, jj_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    jj_buf_put(c, b, tmp, (size_t)n);
}

/* ---- UTF-8 ------------------------------------------------------------------ */

uint32_t jj_utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *p = (const unsigned char *)s;
    size_t k = *i;
    uint32_t c = p[k];
    int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (c >= 0x80 && c < 0xC0) len = 1; /* stray continuation byte (never in valid input) */
    if (k + (size_t)len > n) len = 1;
    if (len == 1) {
        *i = k + 1;
        return c;
    }
    uint32_t cp = c & (0x7F >> len);
    for (int j = 1; j < len; j++) cp = (cp << 6) | (p[k + j] & 0x3F);
    *i = k + (size_t)len;
    return cp;
}

size_t jj_utf8_put(char *d, uint32_t cp) {
    unsigned char *o = (unsigned char *)d;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t jj_utf8_count(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
    return k;
}

int jj_is_space(uint32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return 1;
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

const char *jj_memmem(const char *h, size_t hn, const char *nd, size_t nn) {
    if (!nn || nn > hn) return nn ? NULL : h;
    const char *end = h + hn - nn;
    for (const char *p = h; p <= end;) {
        p = memchr(p, nd[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (!memcmp(p, nd, nn)) return p;
        p++;
    }
    return NULL;
}

int jj_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            min = 0x10000;
        } else
            return 0;
        if (i + (size_t)len > n) return 0;
        uint32_t cp = c & (0x7F >> len);
        for (int j = 1; j < len; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- construction ------------------------------------------------------------- */

const jv jv_undef = {.t = JV_UNDEF};
const jv jv_none = {.t = JV_NONE};
const jv jv_true = {.t = JV_BOOL, .u.b = 1};
const jv jv_false = {.t = JV_BOOL, .u.b = 0};

jv jv_str(jj_ctx *c, const char *s, size_t n) {
    jj_str *p = jj_alloc(c, sizeof *p + n + 1);
    p->len = n;
    if (n) memcpy(p->s, s, n);
    p->s[n] = 0;
    jv v = {.t = JV_STR};
    v.u.s = p;
    return v;
}

jv jv_cstr(jj_ctx *c, const char *s) { return jv_str(c, s, strlen(s)); }

jv jv_strbuf(jj_ctx *c, const jj_buf *b) { return jv_str(c, b->p ? b->p : "", b->n); }

jv jv_list(jj_ctx *c, size_t cap) {
    jj_list *l = jj_alloc(c, sizeof *l);
    if (cap) {
        l->v = jj_alloc(c, cap * sizeof(jv));
        l->cap = cap;
    }
    jv v = {.t = JV_LIST};
    v.u.l = l;
    return v;
}

jv jv_dict(jj_ctx *c, size_t cap) {
    jj_dict *d = jj_alloc(c, sizeof *d);
    if (cap) {
        d->k = jj_alloc(c, cap * sizeof(jv));
        d->v = jj_alloc(c, cap * sizeof(jv));
        d->cap = cap;
    }
    jv v = {.t = JV_DICT};
    v.u.d = d;
    return v;
}

void jj_list_push(jj_ctx *c, jj_list *l, jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jv *nv = jj_alloc(c, cap * sizeof(jv));
        if (l->n) memcpy(nv, l->v, l->n * sizeof(jv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

static long dict_find(const jj_dict *d, jv k) {
    if (k.t == JV_STR) {
        for (size_t i = 0; i < d->n; i++)
            if (d->k[i].t == JV_STR && d->k[i].u.s->len == k.u.s->len &&
                !memcmp(d->k[i].u.s->s, k.u.s->s, k.u.s->len))
                return (long)i;
        return -1;
    }
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->k[i], k)) return (long)i;
    return -1;
}

void jj_dict_set(jj_ctx *c, jj_dict *d, jv k, jv v) {
    long i = dict_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        jv *nk = jj_alloc(c, cap * sizeof(jv)), *nv = jj_alloc(c, cap * sizeof(jv));
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
}

int jj_dict_get(const jj_dict *d, jv k, jv *out) {
    long i = dict_find(d, k);
    if (i < 0) return 0;
    *out = d->v[i];
    return 1;
}

int jj_dict_get_s(const jj_dict *d, const char *k, size_t n, jv *out) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s->len == n && !memcmp(d->k[i].u.s->s, k, n)) {
            *out = d->v[i];
            return 1;
        }
    return 0;
}

jv jv_from_json(jj_ctx *c, json_t *j) {
    if (!j) return jv_none;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv d = jv_dict(c, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            jj_dict *dd = d.u.d;
            dd->k[dd->n] = jv_cstr(c, k);
            dd->v[dd->n] = jv_from_json(c, v);
            dd->n++;
        }
        return d;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        jv l = jv_list(c, n);
        for (size_t i = 0; i < n; i++) l.u.l->v[i] = jv_from_json(c, json_array_get(j, i));
        l.u.l->n = n;
        return l;
    }
    case JSON_STRING: return jv_str(c, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_TRUE: return jv_true;
    case JSON_FALSE: return jv_false;
    default: return jv_none;
    }
}

/* ---- Python semantics ------------------------------------------------------------ */

int jv_truthy(jv v) {
    switch (v.t) {
    case JV_UNDEF:
    case JV_NONE: return 0;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s->len != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->ns || v.u.d->n != 0;
    default: return 1;
    }
}

const char *jv_type_name(jv v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.u.l->tuple ? "tuple" : "list";
    case JV_DICT: return v.u.d->ns ? "Namespace" : "dict";
    case JV_LOOP: return "LoopContext";
    case JV_MACRO: return "Macro";
    case JV_FUNC: return "builtin_function";
    case JV_CYCLER: return v.u.cyc->items ? "Cycler" : "Joiner";
    }
    return "object";
}

static int is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double num_d(jv v) { return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t num_i(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

/* -1/0/1 for two numbers (no NaN ordering: NaN compares as "unordered" -> 2). */
static int num_cmp(jv a, jv b) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) {
        int64_t x = num_i(a), y = num_i(b);
        return x < y ? -1 : x > y;
    }
    double x = num_d(a), y = num_d(b);
    if (isnan(x) || isnan(y)) return 2;
    if (x < y) return -1;
    if (x > y) return 1;
    /* equal as doubles: an int that is not exactly representable is not equal */
    if (a.t == JV_INT && b.t == JV_FLOAT && (fabs(y) >= 9.2e18 || (int64_t)y != a.u.i))
        return (double)a.u.i < y ? -1 : 1;
    if (b.t == JV_INT && a.t == JV_FLOAT && (fabs(x) >= 9.2e18 || (int64_t)x != b.u.i))
        return x < (double)b.u.i ? -1 : 1;
    return 0;
}

int jv_equal(jv a, jv b) {
    if (is_num(a) && is_num(b)) return num_cmp(a, b) == 0;
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_STR: return a.u.s->len == b.u.s->len && !memcmp(a.u.s->s, b.u.s->s, a.u.s->len);
    case JV_LIST:
        if (a.u.l == b.u.l) return 1;
        if (a.u.l->tuple != b.u.l->tuple || a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d == b.u.d) return 1;
        if (a.u.d->ns || b.u.d->ns || a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv o;
            if (!jj_dict_get(b.u.d, a.u.d->k[i], &o) || !jv_equal(a.u.d->v[i], o)) return 0;
        }
        return 1;
    case JV_LOOP: return a.u.loop == b.u.loop;
    case JV_MACRO: return a.u.macro == b.u.macro;
    case JV_FUNC: return a.u.func == b.u.func;
    case JV_CYCLER: return a.u.cyc == b.u.cyc;
    default: return 0;
    }
}

int jv_compare(jj_ctx *c, int line, jv a, jv b) {
    if (is_num(a) && is_num(b)) {
        int r = num_cmp(a, b);
        return r == 2 ? 2 : r;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int r = memcmp(a.u.s->s, b.u.s->s, n);
        if (r) return r < 0 ? -1 : 1;
        return a.u.s->len < b.u.s->len ? -1 : a.u.s->len > b.u.s->len;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a.u.l->v[i], b.u.l->v[i])) continue;
            return jv_compare(c, line, a.u.l->v[i], b.u.l->v[i]);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    jj_fail(c, OMNIC_EINVAL, line, "comparison not supported between instances of '%s' and '%s'",
            jv_type_name(a), jv_type_name(b));
}

/* ---- str / repr ------------------------------------------------------------------ */

void jj_write_float(jj_ctx *c, jj_buf *b, double f) {
    if (isnan(f)) {
        jj_buf_put(c, b, "nan", 3);
        return;
    }
    if (isinf(f)) {
        jj_buf_put(c, b, f < 0 ? "-inf" : "inf", f < 0 ? 4 : 3);
        return;
    }
    if (f == 0) {
        if (signbit(f))
            jj_buf_put(c, b, "-0.0", 4);
        else
            jj_buf_put(c, b, "0.0", 3);
        return;
    }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *p = tmp;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    while (*p && *p != 'e') {
        if (*p != '.') digits[nd++] = *p;
        p++;
    }
    int e = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    if (neg) jj_buf_putc(c, b, '-');
    if (e < -4 || e >= 16) {
        jj_buf_putc(c, b, digits[0]);
        if (nd > 1) {
            jj_buf_putc(c, b, '.');
            jj_buf_put(c, b, digits + 1, (size_t)nd - 1);
        }
        jj_buf_printf(c, b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        return;
    }
    int decpt = e + 1;
    if (decpt <= 0) {
        jj_buf_put(c, b, "0.", 2);
        for (int i = 0; i < -decpt; i++) jj_buf_putc(c, b, '0');
        jj_buf_put(c, b, digits, (size_t)nd);
    } else if (decpt >= nd) {
        jj_buf_put(c, b, digits, (size_t)nd);
        for (int i = nd; i < decpt; i++) jj_buf_putc(c, b, '0');
        jj_buf_put(c, b, ".0", 2);
    } else {
        jj_buf_put(c, b, digits, (size_t)decpt);
        jj_buf_putc(c, b, '.');
        jj_buf_put(c, b, digits + decpt, (size_t)(nd - decpt));
    }
}

static int repr_escaped(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
           (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF ||
           (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0xD800 && cp <= 0xDFFF);
}

static void write_str_repr(jj_ctx *c, jj_buf *b, const char *s, size_t n) {
    int sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = (sq && !dq) ? '"' : '\'';
    jj_buf_putc(c, b, q);
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        uint32_t cp = jj_utf8_next(s, n, &i);
        if (cp == (uint32_t)q || cp == '\\') {
            jj_buf_putc(c, b, '\\');
            jj_buf_putc(c, b, (char)cp);
        } else if (cp == '\n')
            jj_buf_put(c, b, "\\n", 2);
        else if (cp == '\r')
            jj_buf_put(c, b, "\\r", 2);
        else if (cp == '\t')
            jj_buf_put(c, b, "\\t", 2);
        else if (repr_escaped(cp)) {
            if (cp < 0x100)
                jj_buf_printf(c, b, "\\x%02x", cp);
            else
                jj_buf_printf(c, b, "\\u%04x", cp);
        } else
            jj_buf_put(c, b, s + st, i - st);
    }
    jj_buf_putc(c, b, q);
}

static void write_any(jj_ctx *c, jj_buf *b, jv v, int repr, int line, int depth) {
    if (depth > 200) jj_fail(c, OMNIC_EINVAL, line, "value nested too deeply to print");
    switch (v.t) {
    case JV_UNDEF:
        if (repr) jj_buf_put(c, b, "Undefined", 9);
        return;
    case JV_NONE: jj_buf_put(c, b, "None", 4); return;
    case JV_BOOL: jj_buf_put(c, b, v.u.b ? "True" : "False", v.u.b ? 4 : 5); return;
    case JV_INT: jj_buf_printf(c, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: jj_write_float(c, b, v.u.f); return;
    case JV_STR:
        if (repr)
            write_str_repr(c, b, v.u.s->s, v.u.s->len);
        else
            jj_buf_put(c, b, v.u.s->s, v.u.s->len);
        return;
    case JV_LIST: {
        jj_list *l = v.u.l;
        jj_buf_putc(c, b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jj_buf_put(c, b, ", ", 2);
            write_any(c, b, l->v[i], 1, line, depth + 1);
        }
        if (l->tuple && l->n == 1) jj_buf_putc(c, b, ',');
        jj_buf_putc(c, b, l->tuple ? ')' : ']');
        return;
    }
    case JV_DICT: {
        jj_dict *d = v.u.d;
        if (d->ns) jj_buf_put(c, b, "<Namespace ", 11);
        jj_buf_putc(c, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jj_buf_put(c, b, ", ", 2);
            write_any(c, b, d->k[i], 1, line, depth + 1);
            jj_buf_put(c, b, ": ", 2);
            write_any(c, b, d->v[i], 1, line, depth + 1);
        }
        jj_buf_putc(c, b, '}');
        if (d->ns) jj_buf_putc(c, b, '>');
        return;
    }
    case JV_LOOP: jj_buf_put(c, b, "<LoopContext>", 13); return;
    case JV_MACRO: jj_buf_put(c, b, "<Macro>", 7); return;
    case JV_FUNC: jj_buf_put(c, b, "<built-in function>", 19); return;
    case JV_CYCLER:
        jj_buf_printf(c, b, "<%s object>", v.u.cyc->items ? "Cycler" : "Joiner");
        return;
    }
}

void jv_write_str(jj_ctx *c, jj_buf *b, jv v, int line) { write_any(c, b, v, 0, line, 0); }
void jv_write_repr(jj_ctx *c, jj_buf *b, jv v, int line) { write_any(c, b, v, 1, line, 0); }

jv jv_to_string(jj_ctx *c, jv v, int line) {
    if (v.t == JV_STR) return v;
    jj_buf b = {0};
    jv_write_str(c, &b, v, line);
    return jv_strbuf(c, &b);
}

/* ---- tojson ------------------------------------------------------------------------ */

static void json_str(jj_ctx *c, jj_buf *b, const char *s, size_t n, int ascii) {
    jj_buf_putc(c, b, '"');
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        uint32_t cp = jj_utf8_next(s, n, &i);
        switch (cp) {
        case '"': jj_buf_put(c, b, "\\\"", 2); continue;
        case '\\': jj_buf_put(c, b, "\\\\", 2); continue;
        case '\n': jj_buf_put(c, b, "\\n", 2); continue;
        case '\r': jj_buf_put(c, b, "\\r", 2); continue;
        case '\t': jj_buf_put(c, b, "\\t", 2); continue;
        case '\b': jj_buf_put(c, b, "\\b", 2); continue;
        case '\f': jj_buf_put(c, b, "\\f", 2); continue;
        default: break;
        }
        if (cp < 0x20 || (ascii && cp >= 0x7F)) {
            if (cp >= 0x10000) {
                uint32_t x = cp - 0x10000;
                jj_buf_printf(c, b, "\\u%04x\\u%04x", 0xD800 + (x >> 10), 0xDC00 + (x & 0x3FF));
            } else
                jj_buf_printf(c, b, "\\u%04x", cp);
        } else
            jj_buf_put(c, b, s + st, i - st);
    }
    jj_buf_putc(c, b, '"');
}

static void json_float(jj_ctx *c, jj_buf *b, double f) {
    if (isnan(f))
        jj_buf_put(c, b, "NaN", 3);
    else if (isinf(f))
        jj_buf_put(c, b, f < 0 ? "-Infinity" : "Infinity", f < 0 ? 9 : 8);
    else
        jj_write_float(c, b, f);
}

static void json_newline(jj_ctx *c, jj_buf *b, const jj_json_opts *o, int level) {
    jj_buf_putc(c, b, '\n');
    for (int i = 0; i < level; i++) {
        if (o->indent_str)
            jj_buf_put(c, b, o->indent_str, strlen(o->indent_str));
        else
            for (int k = 0; k < o->indent; k++) jj_buf_putc(c, b, ' ');
    }
}

static void json_key(jj_ctx *c, jj_buf *b, jv k, const jj_json_opts *o, int line) {
    switch (k.t) {
    case JV_STR: json_str(c, b, k.u.s->s, k.u.s->len, o->ensure_ascii); return;
    case JV_INT: jj_buf_printf(c, b, "\"%lld\"", (long long)k.u.i); return;
    case JV_FLOAT:
        jj_buf_putc(c, b, '"');
        json_float(c, b, k.u.f);
        jj_buf_putc(c, b, '"');
        return;
    case JV_BOOL: jj_buf_put(c, b, k.u.b ? "\"true\"" : "\"false\"", k.u.b ? 6 : 7); return;
    case JV_NONE: jj_buf_put(c, b, "\"null\"", 6); return;
    default:
        jj_fail(c, OMNIC_EINVAL, line, "tojson: keys must be str, int, float, bool or None, not %s",
                jv_type_name(k));
    }
}

static void json_any(jj_ctx *c, jj_buf *b, jv v, const jj_json_opts *o, int line, int level) {
    if (level > 200) jj_fail(c, OMNIC_EINVAL, line, "tojson: value nested too deeply");
    int pretty = o->indent >= 0 || o->indent_str;
    const char *isep = o->item_sep ? o->item_sep : pretty ? "," : ", ";
    const char *ksep = o->key_sep ? o->key_sep : ": ";
    switch (v.t) {
    case JV_NONE: jj_buf_put(c, b, "null", 4); return;
    case JV_BOOL: jj_buf_put(c, b, v.u.b ? "true" : "false", v.u.b ? 4 : 5); return;
    case JV_INT: jj_buf_printf(c, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: json_float(c, b, v.u.f); return;
    case JV_STR: json_str(c, b, v.u.s->s, v.u.s->len, o->ensure_ascii); return;
    case JV_LIST: {
        jj_list *l = v.u.l;
        if (!l->n) {
            jj_buf_put(c, b, "[]", 2);
            return;
        }
        jj_buf_putc(c, b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jj_buf_put(c, b, isep, strlen(isep));
            if (pretty) json_newline(c, b, o, level + 1);
            json_any(c, b, l->v[i], o, line, level + 1);
        }
        if (pretty) json_newline(c, b, o, level);
        jj_buf_putc(c, b, ']');
        return;
    }
    case JV_DICT: {
        jj_dict *d = v.u.d;
        if (d->ns) break;
        if (!d->n) {
            jj_buf_put(c, b, "{}", 2);
            return;
        }
        size_t *ord = jj_alloc(c, d->n * sizeof *ord);
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (o->sort_keys) {
            /* Python sorts the keys themselves (they must be mutually comparable) */
            jv *keys = d->k;
            for (size_t i = 1; i < d->n; i++) /* insertion sort: stable, no callback state */
                for (size_t j = i; j > 0 && jv_compare(c, line, keys[ord[j - 1]], keys[ord[j]]) > 0; j--) {
                    size_t t = ord[j];
                    ord[j] = ord[j - 1];
                    ord[j - 1] = t;
                }
        }
        jj_buf_putc(c, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jj_buf_put(c, b, isep, strlen(isep));
            if (pretty) json_newline(c, b, o, level + 1);
            json_key(c, b, d->k[ord[i]], o, line);
            jj_buf_put(c, b, ksep, strlen(ksep));
            json_any(c, b, d->v[ord[i]], o, line, level + 1);
        }
        if (pretty) json_newline(c, b, o, level);
        jj_buf_putc(c, b, '}');
        return;
    }
    default: break;
    }
    jj_fail(c, OMNIC_EINVAL, line, "tojson: object of type %s is not JSON serializable", jv_type_name(v));
}

void jv_write_json(jj_ctx *c, jj_buf *b, jv v, const jj_json_opts *o, int line) {
    json_any(c, b, v, o, line, 0);
}
