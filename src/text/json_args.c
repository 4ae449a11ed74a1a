/* json_args.c - JSON helpers for tool-call arguments (shared/spec/api.md 7.5): a
 * growable buffer, a serializer that writes what Python's json.dumps writes (", " and
 * ": " separators, repr floats, optional \uXXXX escaping), JSON parsing the json.loads
 * way, and a Python-literal parser (the ast.literal_eval fallback of 7.5.1). */
#include <ctype.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/output_parser.h"

/* ---- buffer ------------------------------------------------------------------ */

static __thread int g_oom;

int out_buf_oom(void) { return g_oom; }
void out_buf_oom_clear(void) { g_oom = 0; }

static int buf_reserve(out_buf *b, size_t extra) {
    if (extra > (size_t)-1 / 2 - b->n) { g_oom = 1; return -1; }
    size_t need = b->n + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) { g_oom = 1; return -1; }
    b->p = q;
    b->cap = cap;
    return 0;
}

void out_buf_add(out_buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
void out_buf_adds(out_buf *b, const char *s) { out_buf_add(b, s, strlen(s)); }
void out_buf_addc(out_buf *b, char c) { out_buf_add(b, &c, 1); }
void out_buf_free(out_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---- serializer ---------------------------------------------------------------- */

/* Decode one UTF-8 sequence at s[0..n). Returns its length and the code point in *cp,
 * or 0 for an invalid / truncated sequence (overlongs and surrogates are invalid). */
static size_t utf8_dec(const unsigned char *s, size_t n, unsigned *cp) {
    unsigned c = s[0];
    size_t len;
    unsigned v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

void ja_utf8_sanitize(out_buf *b, const char *s, size_t n) {
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned cp;
        size_t len = utf8_dec((const unsigned char *)s + i, n - i, &cp);
        if (len) { i += len; run += len; continue; }
        out_buf_add(b, s + i - run, run);
        out_buf_add(b, "\xEF\xBF\xBD", 3);
        run = 0;
        i++;
    }
    out_buf_add(b, s + n - run, run);
}

static void add_u4(out_buf *b, unsigned u) {
    char t[8];
    snprintf(t, sizeof t, "\\u%04x", u & 0xFFFF);
    out_buf_add(b, t, 6);
}

void ja_dump_string(out_buf *b, const char *str, size_t n, int ascii) {
    const unsigned char *s = (const unsigned char *)str;
    out_buf_addc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': out_buf_add(b, "\\\"", 2); break;
            case '\\': out_buf_add(b, "\\\\", 2); break;
            case '\n': out_buf_add(b, "\\n", 2); break;
            case '\r': out_buf_add(b, "\\r", 2); break;
            case '\t': out_buf_add(b, "\\t", 2); break;
            case '\b': out_buf_add(b, "\\b", 2); break;
            case '\f': out_buf_add(b, "\\f", 2); break;
            default:
                if (c < 0x20 || (c == 0x7F && ascii)) add_u4(b, c);
                else out_buf_addc(b, (char)c);
            }
            i++;
            continue;
        }
        unsigned cp;
        size_t len = utf8_dec(s + i, n - i, &cp);
        if (!len) { cp = 0xFFFD; len = 1; }
        if (ascii) {
            if (cp >= 0x10000) {
                unsigned v = cp - 0x10000;
                add_u4(b, 0xD800 + (v >> 10));
                add_u4(b, 0xDC00 + (v & 0x3FF));
            } else {
                add_u4(b, cp);
            }
        } else if (cp == 0xFFFD && !(len == 3 && s[i] == 0xEF)) {
            out_buf_add(b, "\xEF\xBF\xBD", 3);
        } else {
            out_buf_add(b, str + i, len);
        }
        i += len;
    }
    out_buf_addc(b, '"');
}

/* Python repr(float): shortest digits that read back to x; fixed notation when the
 * decimal exponent is in (-4, 16], else d.ddde+XX. */
void ja_dump_real(out_buf *b, double x) {
    char t[64];
    if (isnan(x)) { out_buf_adds(b, "NaN"); return; }
    if (isinf(x)) { out_buf_adds(b, x < 0 ? "-Infinity" : "Infinity"); return; }
    if (x == 0) { out_buf_adds(b, signbit(x) ? "-0.0" : "0.0"); return; }
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, x);
        if (strtod(t, NULL) == x) break;
    }
    if (prec > 17) prec = 17;
    snprintf(t, sizeof t, "%.*e", prec - 1, x);
    /* t = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *q = t;
    if (*q == '-') { neg = 1; q++; }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int e10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int decpt = e10 + 1;  /* value = 0.d1d2... * 10^decpt */
    if (neg) out_buf_addc(b, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out_buf_add(b, "0.", 2);
            for (int i = 0; i < -decpt; i++) out_buf_addc(b, '0');
            out_buf_add(b, digits, (size_t)nd);
        } else if (decpt >= nd) {
            out_buf_add(b, digits, (size_t)nd);
            for (int i = nd; i < decpt; i++) out_buf_addc(b, '0');
            out_buf_add(b, ".0", 2);
        } else {
            out_buf_add(b, digits, (size_t)decpt);
            out_buf_addc(b, '.');
            out_buf_add(b, digits + decpt, (size_t)(nd - decpt));
        }
    } else {
        out_buf_addc(b, digits[0]);
        if (nd > 1) {
            out_buf_addc(b, '.');
            out_buf_add(b, digits + 1, (size_t)(nd - 1));
        }
        snprintf(t, sizeof t, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
        out_buf_adds(b, t);
    }
}

void ja_dump(out_buf *b, const json_t *v, int ascii) {
    char t[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        size_t kl;
        json_t *x;
        int first = 1;
        out_buf_addc(b, '{');
        json_object_keylen_foreach((json_t *)v, k, kl, x) {
            if (!first) out_buf_add(b, ", ", 2);
            first = 0;
            ja_dump_string(b, k, kl, ascii);
            out_buf_add(b, ": ", 2);
            ja_dump(b, x, ascii);
        }
        out_buf_addc(b, '}');
        break;
    }
    case JSON_ARRAY:
        out_buf_addc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) out_buf_add(b, ", ", 2);
            ja_dump(b, json_array_get(v, i), ascii);
        }
        out_buf_addc(b, ']');
        break;
    case JSON_STRING:
        ja_dump_string(b, json_string_value(v), json_string_length(v), ascii);
        break;
    case JSON_INTEGER:
        snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        out_buf_adds(b, t);
        break;
    case JSON_REAL: ja_dump_real(b, json_real_value(v)); break;
    case JSON_TRUE: out_buf_adds(b, "true"); break;
    case JSON_FALSE: out_buf_adds(b, "false"); break;
    default: out_buf_adds(b, "null"); break;
    }
}

json_t *ja_parse_json(const char *s, size_t n) {
    json_error_t err;
    return json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
}

/* ---- Python literals (ast.literal_eval subset) ------------------------------------ */

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} pyl;

enum { PYL_MAX_DEPTH = 200 };
#define PYL_INT_MAX ((json_int_t)INT64_MAX)

static int pyl_isid(int c) { return isalnum(c) || c == '_' || c >= 0x80; }

static void pyl_ws(pyl *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            p->i++;
        } else if (c == '\\' && p->i + 1 < p->n && p->s[p->i + 1] == '\n') {
            p->i += 2;  /* explicit line joining */
        } else {
            break;
        }
    }
}

static void put_utf8(out_buf *b, unsigned cp) {
    char t[4];
    if (cp < 0x80) { t[0] = (char)cp; out_buf_add(b, t, 1); }
    else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F));
        out_buf_add(b, t, 2);
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        out_buf_add(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F));
        out_buf_add(b, t, 4);
    }
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Is a string literal (with optional u/r prefix) starting at p->i? */
static int pyl_at_string(const pyl *p) {
    size_t i = p->i;
    if (i < p->n && strchr("uUrR", p->s[i]) && p->s[i]) i++;
    return i < p->n && (p->s[i] == '\'' || p->s[i] == '"');
}

/* One string literal appended to out. 0 ok, -1 not a literal. */
static int pyl_string1(pyl *p, out_buf *out) {
    int raw = 0;
    char c = p->s[p->i];
    if (c == 'r' || c == 'R') { raw = 1; p->i++; }
    else if (c == 'u' || c == 'U') p->i++;
    char q = p->s[p->i];
    int triple = p->i + 2 < p->n && p->s[p->i + 1] == q && p->s[p->i + 2] == q;
    p->i += triple ? 3 : 1;
    while (p->i < p->n) {
        c = p->s[p->i];
        if (c == q) {
            if (!triple) { p->i++; return 0; }
            if (p->i + 2 < p->n && p->s[p->i + 1] == q && p->s[p->i + 2] == q) {
                p->i += 3;
                return 0;
            }
            out_buf_addc(out, c);
            p->i++;
            continue;
        }
        if (c == '\n' && !triple) return -1;
        if (c != '\\') { out_buf_addc(out, c); p->i++; continue; }
        if (p->i + 1 >= p->n) return -1;
        char e = p->s[p->i + 1];
        if (raw) {  /* raw: the backslash stays; it still protects the quote */
            out_buf_addc(out, '\\');
            out_buf_addc(out, e);
            p->i += 2;
            continue;
        }
        p->i += 2;
        switch (e) {
        case '\n': break;
        case '\\': out_buf_addc(out, '\\'); break;
        case '\'': out_buf_addc(out, '\''); break;
        case '"': out_buf_addc(out, '"'); break;
        case 'a': out_buf_addc(out, '\a'); break;
        case 'b': out_buf_addc(out, '\b'); break;
        case 'f': out_buf_addc(out, '\f'); break;
        case 'n': out_buf_addc(out, '\n'); break;
        case 'r': out_buf_addc(out, '\r'); break;
        case 't': out_buf_addc(out, '\t'); break;
        case 'v': out_buf_addc(out, '\v'); break;
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            unsigned v = 0;
            for (int k = 0; k < nd; k++) {
                int h = p->i < p->n ? hexval((unsigned char)p->s[p->i]) : -1;
                if (h < 0) return -1;
                v = v * 16 + (unsigned)h;
                p->i++;
            }
            if (v > 0x10FFFF) return -1;
            put_utf8(out, v);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                unsigned v = (unsigned)(e - '0');
                for (int k = 0; k < 2 && p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '7'; k++)
                    v = v * 8 + (unsigned)(p->s[p->i++] - '0');
                put_utf8(out, v);
            } else {  /* unknown escape: kept as is */
                out_buf_addc(out, '\\');
                p->i--;
            }
        }
    }
    return -1;
}

/* Adjacent string literals concatenate. */
static json_t *pyl_string(pyl *p) {
    out_buf b = {0};
    for (;;) {
        if (pyl_string1(p, &b)) { out_buf_free(&b); return NULL; }
        size_t save = p->i;
        pyl_ws(p);
        if (!pyl_at_string(p)) { p->i = save; break; }
    }
    json_t *v = json_stringn_nocheck(b.p ? b.p : "", b.n);
    out_buf_free(&b);
    return v;
}

/* Digits with single underscores between them; returns count of digits. */
static int pyl_digits(pyl *p, out_buf *dst, int (*ok)(int)) {
    int nd = 0;
    while (p->i < p->n) {
        int c = (unsigned char)p->s[p->i];
        if (ok(c)) { out_buf_addc(dst, (char)c); nd++; p->i++; continue; }
        if (c == '_' && nd && p->i + 1 < p->n && ok((unsigned char)p->s[p->i + 1])) {
            p->i++;
            continue;
        }
        break;
    }
    return nd;
}
static int is_dec(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return hexval(c) >= 0; }
static int is_oct(int c) { return c >= '0' && c <= '7'; }
static int is_bin(int c) { return c == '0' || c == '1'; }

static json_t *pyl_number(pyl *p, int neg) {
    out_buf d = {0};
    json_t *res = NULL;
    const char *s = p->s;
    if (p->i + 1 < p->n && s[p->i] == '0' && strchr("xXoObB", s[p->i + 1]) && s[p->i + 1]) {
        char k = (char)tolower((unsigned char)s[p->i + 1]);
        int base = k == 'x' ? 16 : k == 'o' ? 8 : 2;
        p->i += 2;
        if (p->i < p->n && s[p->i] == '_') p->i++;
        if (!pyl_digits(p, &d, base == 16 ? is_hex : base == 8 ? is_oct : is_bin)) goto out;
        json_int_t v = 0;
        for (size_t j = 0; j < d.n; j++) {
            int h = hexval((unsigned char)d.p[j]);
            if (v > (PYL_INT_MAX - h) / base) goto out;  /* beyond 64 bits */
            v = v * base + h;
        }
        res = json_integer(neg ? -v : v);
        goto out;
    }
    int nint = pyl_digits(p, &d, is_dec), isfloat = 0;
    if (p->i < p->n && s[p->i] == '.') {
        isfloat = 1;
        out_buf_addc(&d, '.');
        p->i++;
        if (p->i < p->n && s[p->i] == '_') goto out;
        int nf = pyl_digits(p, &d, is_dec);
        if (!nint && !nf) goto out;
    } else if (!nint) {
        goto out;
    }
    if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        isfloat = 1;
        out_buf_addc(&d, 'e');
        p->i++;
        if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-')) out_buf_addc(&d, s[p->i++]);
        if (!pyl_digits(p, &d, is_dec)) goto out;
    }
    if (p->i < p->n && pyl_isid((unsigned char)s[p->i])) goto out;  /* 1j, 1abc */
    if (isfloat) {
        double x = strtod(d.p, NULL);
        if (isinf(x)) goto out;
        res = json_real(neg ? -x : x);
    } else {
        size_t j = 0;
        while (j + 1 < d.n && d.p[j] == '0') j++;
        if (j > 0 && d.p[j] != '0') goto out;  /* 012: not a Python 3 literal */
        json_int_t v = 0;
        for (; j < d.n; j++) {
            int h = d.p[j] - '0';
            if (v > (PYL_INT_MAX - h) / 10) goto out;
            v = v * 10 + h;
        }
        res = json_integer(neg ? -v : v);
    }
out:
    out_buf_free(&d);
    return res;
}

static json_t *pyl_value(pyl *p);

/* Key of a dict as json.dumps writes it: str as is; int, float, bool, None as text. */
static int pyl_key(const json_t *k, out_buf *o) {
    switch (json_typeof(k)) {
    case JSON_STRING: out_buf_add(o, json_string_value(k), json_string_length(k)); return 0;
    case JSON_INTEGER: case JSON_REAL: ja_dump(o, k, 0); return 0;
    case JSON_TRUE: out_buf_adds(o, "true"); return 0;
    case JSON_FALSE: out_buf_adds(o, "false"); return 0;
    case JSON_NULL: out_buf_adds(o, "null"); return 0;
    default: return -1;  /* unhashable or not serializable as a key */
    }
}

static json_t *pyl_container(pyl *p) {
    char open = p->s[p->i++], close = open == '[' ? ']' : open == '(' ? ')' : '}';
    json_t *arr = json_array(), *obj = NULL;
    int n = 0, comma = 0, isdict = -1;
    if (!arr) return NULL;
    for (;;) {
        pyl_ws(p);
        if (p->i >= p->n) goto fail;
        if (p->s[p->i] == close) { p->i++; break; }
        if (n && !comma) goto fail;
        json_t *v = pyl_value(p);
        if (!v) goto fail;
        if (open == '{') {
            pyl_ws(p);
            int colon = p->i < p->n && p->s[p->i] == ':';
            if (isdict < 0) isdict = colon;
            if (!isdict || !colon) { json_decref(v); goto fail; }  /* sets: not JSON */
            p->i++;
            json_t *val = pyl_value(p);
            if (!val) { json_decref(v); goto fail; }
            out_buf key = {0};
            int bad = pyl_key(v, &key);
            json_decref(v);
            if (!obj) obj = json_object();
            if (bad || !obj || json_object_setn_nocheck(obj, key.p ? key.p : "", key.n, val)) {
                out_buf_free(&key);
                json_decref(val);
                goto fail;
            }
            out_buf_free(&key);
            json_decref(val);
        } else if (json_array_append_new(arr, v)) {
            goto fail;
        }
        n++;
        pyl_ws(p);
        comma = p->i < p->n && p->s[p->i] == ',';
        if (comma) p->i++;
    }
    if (open == '{') {
        json_decref(arr);
        return obj ? obj : json_object();
    }
    if (open == '(' && n == 1 && !comma) {  /* parenthesized expression, not a tuple */
        json_t *v = json_incref(json_array_get(arr, 0));
        json_decref(arr);
        return v;
    }
    return arr;
fail:
    json_decref(arr);
    json_decref(obj);
    return NULL;
}

static json_t *pyl_value(pyl *p) {
    pyl_ws(p);
    if (p->i >= p->n || p->depth >= PYL_MAX_DEPTH) return NULL;
    char c = p->s[p->i];
    if (c == '[' || c == '(' || c == '{') {
        p->depth++;
        json_t *v = pyl_container(p);
        p->depth--;
        return v;
    }
    if (pyl_at_string(p)) return pyl_string(p);
    if (c == '-' || c == '+') {  /* one unary sign before a number, maybe parenthesized */
        int neg = c == '-';
        p->i++;
        pyl_ws(p);
        if (p->i < p->n && (is_dec((unsigned char)p->s[p->i]) || p->s[p->i] == '.'))
            return pyl_number(p, neg);
        if (p->i < p->n && p->s[p->i] == '(') {
            json_t *v = pyl_value(p);
            if (json_is_integer(v)) {
                json_int_t x = json_integer_value(v);
                json_decref(v);
                return json_integer(neg ? -x : x);
            }
            if (json_is_real(v)) {
                double x = json_real_value(v);
                json_decref(v);
                return json_real(neg ? -x : x);
            }
            json_decref(v);
        }
        return NULL;
    }
    if (is_dec((unsigned char)c) || c == '.') return pyl_number(p, 0);
    static const struct { const char *w; json_t *(*mk)(void); } names[] = {
        {"True", json_true}, {"False", json_false}, {"None", json_null},
    };
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(names[k].w);
        if (p->n - p->i >= l && !memcmp(p->s + p->i, names[k].w, l) &&
            (p->i + l == p->n || !pyl_isid((unsigned char)p->s[p->i + l]))) {
            p->i += l;
            return names[k].mk();
        }
    }
    return NULL;
}

json_t *ja_parse_pyliteral(const char *s, size_t n) {
    pyl p = {s, n, 0, 0};
    json_t *v = pyl_value(&p);
    if (!v) return NULL;
    pyl_ws(&p);
    if (p.i != p.n) { json_decref(v); return NULL; }
    return v;
}
