/* jinja_lex.c - Jinja lexer: splits a template into text and tag tokens with Jinja2's
 * whitespace rules (trim_blocks and lstrip_blocks on, `-`/`+` modifiers on tags,
 * comments, {% raw %}), then tokenizes tag contents (names, numbers, strings with
 * Python escapes, operators), tracking brackets so `}}` inside a dict literal does not
 * end a tag. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/jinja_impl.h"

typedef struct lexer {
    jj_ctx *c;
    const char *s;
    size_t n, pos;
    int line;
    int line_starting;
    jj_toks *out;
} lexer;

static jj_tok *push(lexer *L, jj_tok_kind k, int line) {
    jj_toks *t = L->out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        jj_tok *nv = jj_alloc(L->c, cap * sizeof *nv);
        if (t->n) memcpy(nv, t->v, t->n * sizeof *nv);
        t->v = nv;
        t->cap = cap;
    }
    jj_tok *k0 = &t->v[t->n++];
    memset(k0, 0, sizeof *k0);
    k0->kind = k;
    k0->line = line;
    return k0;
}

static int count_nl(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

/* Length of the run of (Python) whitespace starting at s[i]. */
static size_t ws_run(const char *s, size_t n, size_t i) {
    size_t j = i;
    while (j < n) {
        size_t k = j;
        uint32_t cp = jj_utf8_next(s, n, &k);
        if (!jj_is_space(cp)) break;
        j = k;
    }
    return j - i;
}

/* Length of text[0..n) without trailing whitespace. */
static size_t rstrip_len(const char *s, size_t n) {
    size_t i = 0, keep = 0;
    while (i < n) {
        uint32_t cp = jj_utf8_next(s, n, &i);
        if (!jj_is_space(cp)) keep = i;
    }
    return keep;
}

/* Emit the text before a tag, applying the tag's left modifier / lstrip_blocks. */
static void emit_text(lexer *L, size_t start, size_t end, char mod, int lstrip_ok) {
    const char *t = L->s + start;
    size_t n = end - start;
    if (mod == '-')
        n = rstrip_len(t, n);
    else if (mod != '+' && lstrip_ok) {
        size_t lpos = 0;
        for (size_t i = n; i > 0; i--)
            if (t[i - 1] == '\n') {
                lpos = i;
                break;
            }
        if (lpos > 0 || L->line_starting) {
            size_t w = ws_run(t, n, lpos);
            if (lpos + w == n) n = lpos;
        }
    }
    if (n) {
        jj_tok *k = push(L, TK_TEXT, L->line);
        k->s = jj_strndup(L->c, t, n);
        k->n = n;
    }
}

/* After a block/comment end: `-` strips all following whitespace, `+` nothing, else
 * trim_blocks removes one newline. Sets line_starting from the last consumed char. */
static void after_block_end(lexer *L, char mod) {
    if (mod == '-') {
        size_t w = ws_run(L->s, L->n, L->pos);
        L->line += count_nl(L->s + L->pos, w);
        L->pos += w;
    } else if (mod != '+' && L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++;
        L->line++;
    }
    L->line_starting = L->pos > 0 && L->s[L->pos - 1] == '\n';
}

static int is_name_start(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_name_char(char ch) { return is_name_start(ch) || (ch >= '0' && ch <= '9'); }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Python "unicode-escape" decoding of a string literal body. */
static void unescape(lexer *L, const char *s, size_t n, int line, jj_tok *k) {
    jj_buf b = {0};
    jj_buf_put(L->c, &b, "", 0);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch != '\\' || i + 1 >= n) {
            jj_buf_putc(L->c, &b, ch);
            continue;
        }
        char e = s[++i];
        uint32_t cp;
        int digits = 0;
        switch (e) {
        case '\n': continue; /* line continuation */
        case '\\': jj_buf_putc(L->c, &b, '\\'); continue;
        case '\'': jj_buf_putc(L->c, &b, '\''); continue;
        case '"': jj_buf_putc(L->c, &b, '"'); continue;
        case 'a': jj_buf_putc(L->c, &b, '\a'); continue;
        case 'b': jj_buf_putc(L->c, &b, '\b'); continue;
        case 'f': jj_buf_putc(L->c, &b, '\f'); continue;
        case 'n': jj_buf_putc(L->c, &b, '\n'); continue;
        case 'r': jj_buf_putc(L->c, &b, '\r'); continue;
        case 't': jj_buf_putc(L->c, &b, '\t'); continue;
        case 'v': jj_buf_putc(L->c, &b, '\v'); continue;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        case 'N': jj_fail(L->c, OMNIC_EFORMAT, line, "\\N{...} escapes are not supported");
        default:
            if (e >= '0' && e <= '7') {
                cp = (uint32_t)(e - '0');
                for (int j = 0; j < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; j++)
                    cp = cp * 8 + (uint32_t)(s[++i] - '0');
                char u[4];
                jj_buf_put(L->c, &b, u, jj_utf8_put(u, cp));
                continue;
            }
            jj_buf_putc(L->c, &b, '\\'); /* unknown escape: kept */
            jj_buf_putc(L->c, &b, e);
            continue;
        }
        cp = 0;
        for (int j = 0; j < digits; j++) {
            int h = i + 1 < n ? hexval(s[i + 1]) : -1;
            if (h < 0) jj_fail(L->c, OMNIC_EFORMAT, line, "truncated \\%c escape in string literal", e);
            cp = cp * 16 + (uint32_t)h;
            i++;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            jj_fail(L->c, OMNIC_EFORMAT, line, "invalid code point U+%04X in string literal", cp);
        char u[4];
        jj_buf_put(L->c, &b, u, jj_utf8_put(u, cp));
    }
    k->s = b.p;
    k->n = b.n;
}

/* Parse digits with optional '_' separators; returns chars consumed (0 if none). */
static size_t digit_run(const char *s, size_t n, size_t i, int (*ok)(char)) {
    size_t j = i;
    if (j >= n || !ok(s[j])) return 0;
    j++;
    while (j < n) {
        if (ok(s[j]))
            j++;
        else if (s[j] == '_' && j + 1 < n && ok(s[j + 1]))
            j += 2;
        else
            break;
    }
    return j - i;
}

static int ok_dec(char ch) { return is_digit(ch); }
static int ok_hex(char ch) { return hexval(ch) >= 0; }
static int ok_oct(char ch) { return ch >= '0' && ch <= '7'; }
static int ok_bin(char ch) { return ch == '0' || ch == '1'; }

static char *strip_us(lexer *L, const char *s, size_t n) {
    char *p = jj_alloc(L->c, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_') p[k++] = s[i];
    p[k] = 0;
    return p;
}

static void lex_number(lexer *L) {
    const char *s = L->s;
    size_t n = L->n, i = L->pos;
    int line = L->line;
    /* prefixed integers */
    if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1]) && s[i + 1]) {
        char p = (char)(s[i + 1] | 0x20);
        int (*ok)(char) = p == 'x' ? ok_hex : p == 'o' ? ok_oct : ok_bin;
        size_t j = i + 2;
        if (j < n && s[j] == '_') j++;
        size_t d = digit_run(s, n, j, ok);
        if (d) {
            char *txt = strip_us(L, s + j, d);
            errno = 0;
            unsigned long long v = strtoull(txt, NULL, p == 'x' ? 16 : p == 'o' ? 8 : 2);
            if (errno || v > INT64_MAX) jj_fail(L->c, OMNIC_EFORMAT, line, "integer literal too large");
            jj_tok *k = push(L, TK_INT, line);
            k->i = (int64_t)v;
            L->pos = j + d;
            return;
        }
    }
    size_t d = digit_run(s, n, i, ok_dec), j = i + d;
    int is_float = 0;
    int after_dot = i > 0 && s[i - 1] == '.';
    if (!after_dot) {
        size_t k = j;
        if (k + 1 < n && s[k] == '.' && is_digit(s[k + 1])) {
            k += 1 + digit_run(s, n, k + 1, ok_dec);
            is_float = 1;
        }
        if (k < n && (s[k] == 'e' || s[k] == 'E')) {
            size_t m = k + 1;
            if (m < n && (s[m] == '+' || s[m] == '-')) m++;
            size_t ed = digit_run(s, n, m, ok_dec);
            if (ed) {
                k = m + ed;
                is_float = 1;
            }
        }
        if (is_float) j = k;
    }
    char *txt = strip_us(L, s + i, j - i);
    if (is_float) {
        jj_tok *k = push(L, TK_FLOAT, line);
        k->f = strtod(txt, NULL);
    } else {
        if (txt[0] == '0' && txt[1] && strspn(txt, "0") != strlen(txt))
            jj_fail(L->c, OMNIC_EFORMAT, line, "invalid integer literal with leading zero");
        errno = 0;
        unsigned long long v = strtoull(txt, NULL, 10);
        if (errno || v > INT64_MAX) jj_fail(L->c, OMNIC_EFORMAT, line, "integer literal too large");
        jj_tok *k = push(L, TK_INT, line);
        k->i = (int64_t)v;
    }
    L->pos = j;
}

static const struct {
    const char *s;
    int op;
} ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GE}, {"<=", OP_LE},
    {"+", OP_ADD}, {"-", OP_SUB}, {"/", OP_DIV}, {"*", OP_MUL}, {"%", OP_MOD}, {"~", OP_TILDE},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE},
    {"}", OP_RBRACE}, {">", OP_GT}, {"<", OP_LT}, {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE}, {",", OP_COMMA}, {";", OP_SEMICOLON},
};

/* Tokenize the inside of a {{ }} or {% %} tag up to and including its end delimiter. */
static void lex_tag(lexer *L, int is_block) {
    char stack[256];
    int depth = 0;
    int start_line = L->line;
    const char *s = L->s;
    size_t n = L->n;
    for (;;) {
        if (L->pos >= n)
            jj_fail(L->c, OMNIC_EFORMAT, start_line, "unexpected end of template: tag opened here is not closed with '%s'",
                    is_block ? "%}" : "}}");
        size_t i = L->pos;
        if (depth == 0) {
            if (is_block) {
                char mod = 0;
                size_t k = i;
                if (s[k] == '-' || s[k] == '+') mod = s[k++];
                if (k + 1 < n && s[k] == '%' && s[k + 1] == '}') {
                    push(L, TK_BLOCK_END, L->line);
                    L->pos = k + 2;
                    after_block_end(L, mod);
                    return;
                }
            } else {
                char mod = 0;
                size_t k = i;
                if (s[k] == '-') mod = s[k++];
                if (k + 1 < n && s[k] == '}' && s[k + 1] == '}') {
                    push(L, TK_VAR_END, L->line);
                    L->pos = k + 2;
                    if (mod == '-') {
                        size_t w = ws_run(s, n, L->pos);
                        L->line += count_nl(s + L->pos, w);
                        L->pos += w;
                    }
                    L->line_starting = L->pos > 0 && s[L->pos - 1] == '\n';
                    return;
                }
            }
        }
        size_t w = ws_run(s, n, i);
        if (w) {
            L->line += count_nl(s + i, w);
            L->pos += w;
            continue;
        }
        char ch = s[i];
        if (is_digit(ch)) {
            lex_number(L);
            continue;
        }
        if (is_name_start(ch)) {
            size_t j = i + 1;
            while (j < n && is_name_char(s[j])) j++;
            jj_tok *k = push(L, TK_NAME, L->line);
            k->s = jj_strndup(L->c, s + i, j - i);
            k->n = j - i;
            L->pos = j;
            continue;
        }
        if (ch == '\'' || ch == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != ch) j += s[j] == '\\' ? 2 : 1;
            if (j >= n) jj_fail(L->c, OMNIC_EFORMAT, L->line, "unterminated string literal");
            jj_tok *k = push(L, TK_STRING, L->line);
            unescape(L, s + i + 1, j - i - 1, L->line, k);
            L->line += count_nl(s + i, j - i);
            L->pos = j + 1;
            continue;
        }
        size_t oi = 0;
        for (; oi < sizeof ops / sizeof ops[0]; oi++) {
            size_t ol = strlen(ops[oi].s);
            if (i + ol <= n && !memcmp(s + i, ops[oi].s, ol)) break;
        }
        if (oi == sizeof ops / sizeof ops[0]) {
            size_t k = i;
            uint32_t cp = jj_utf8_next(s, n, &k);
            if (cp < 0x80)
                jj_fail(L->c, OMNIC_EFORMAT, L->line, "unexpected character '%c'", (char)cp);
            jj_fail(L->c, OMNIC_EFORMAT, L->line, "unexpected character U+%04X", cp);
        }
        int op = ops[oi].op;
        if (op == OP_LPAREN || op == OP_LBRACKET || op == OP_LBRACE) {
            if (depth >= (int)sizeof stack) jj_fail(L->c, OMNIC_EFORMAT, L->line, "brackets nested too deeply");
            stack[depth++] = op == OP_LPAREN ? ')' : op == OP_LBRACKET ? ']' : '}';
        } else if (op == OP_RPAREN || op == OP_RBRACKET || op == OP_RBRACE) {
            char want = op == OP_RPAREN ? ')' : op == OP_RBRACKET ? ']' : '}';
            if (!depth) jj_fail(L->c, OMNIC_EFORMAT, L->line, "unexpected '%c'", want);
            if (stack[depth - 1] != want)
                jj_fail(L->c, OMNIC_EFORMAT, L->line, "unexpected '%c', expected '%c'", want, stack[depth - 1]);
            depth--;
        }
        jj_tok *k = push(L, TK_OP, L->line);
        k->op = op;
        L->pos = i + strlen(ops[oi].s);
    }
}

/* If s[i..] is `{%[-+]? raw [-+]?%}`, return its length and the modifiers. */
static size_t match_raw_begin(const lexer *L, size_t i, char *rmod) {
    const char *s = L->s;
    size_t n = L->n, k = i + 2;
    if (k < n && (s[k] == '-' || s[k] == '+')) k++;
    k += ws_run(s, n, k);
    if (k + 3 > n || memcmp(s + k, "raw", 3)) return 0;
    k += 3;
    if (k < n && is_name_char(s[k])) return 0;
    k += ws_run(s, n, k);
    *rmod = 0;
    if (k < n && s[k] == '-') {
        *rmod = '-';
        k++;
    }
    if (k + 2 > n || s[k] != '%' || s[k + 1] != '}') return 0;
    return k + 2 - i;
}

/* Find `{%[-+]? endraw [-+]?%}` from i; returns its start, sets length and modifiers. */
static size_t find_endraw(const lexer *L, size_t i, size_t *len, char *lmod, char *rmod) {
    const char *s = L->s;
    size_t n = L->n;
    for (; i + 1 < n; i++) {
        if (s[i] != '{' || s[i + 1] != '%') continue;
        size_t k = i + 2;
        char lm = 0, rm = 0;
        if (k < n && (s[k] == '-' || s[k] == '+')) lm = s[k++];
        k += ws_run(s, n, k);
        if (k + 6 > n || memcmp(s + k, "endraw", 6)) continue;
        k += 6;
        k += ws_run(s, n, k);
        if (k < n && (s[k] == '-' || s[k] == '+')) rm = s[k++];
        if (k + 2 > n || s[k] != '%' || s[k + 1] != '}') continue;
        *len = k + 2 - i;
        *lmod = lm;
        *rmod = rm;
        return i;
    }
    return (size_t)-1;
}

void jj_lex(jj_ctx *c, const char *src, size_t len, jj_toks *out) {
    lexer L = {.c = c, .s = src, .n = len, .line = 1, .line_starting = 1, .out = out};
    while (L.pos < L.n) {
        /* next tag start */
        size_t i = L.pos, tag = (size_t)-1;
        for (; i + 1 < L.n; i++)
            if (src[i] == '{' && (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#')) {
                tag = i;
                break;
            }
        if (tag == (size_t)-1) {
            jj_tok *k = push(&L, TK_TEXT, L.line);
            k->s = jj_strndup(c, src + L.pos, L.n - L.pos);
            k->n = L.n - L.pos;
            L.line += count_nl(k->s, k->n);
            L.pos = L.n;
            break;
        }
        char kind = src[tag + 1];
        char mod = tag + 2 < L.n && (src[tag + 2] == '-' || src[tag + 2] == '+') ? src[tag + 2] : 0;
        emit_text(&L, L.pos, tag, mod, kind != '{');
        L.line += count_nl(src + L.pos, tag - L.pos);
        L.pos = tag + 2 + (mod ? 1 : 0);
        L.line_starting = 0;
        if (kind == '#') {
            int line0 = L.line;
            size_t j = L.pos;
            for (; j + 1 < L.n; j++)
                if (src[j] == '#' && src[j + 1] == '}') break;
            if (j + 1 >= L.n) jj_fail(c, OMNIC_EFORMAT, line0, "unterminated comment");
            char emod = 0;
            if (j > L.pos && (src[j - 1] == '-' || src[j - 1] == '+')) emod = src[j - 1];
            L.line += count_nl(src + L.pos, j - L.pos);
            L.pos = j + 2;
            after_block_end(&L, emod);
            continue;
        }
        if (kind == '%') {
            char rmod = 0;
            size_t rl = match_raw_begin(&L, tag, &rmod);
            if (rl) {
                int line0 = L.line;
                L.pos = tag + rl;
                if (rmod == '-') {
                    size_t w = ws_run(src, L.n, L.pos);
                    L.line += count_nl(src + L.pos, w);
                    L.pos += w;
                }
                size_t elen;
                char lm, rm;
                size_t e = find_endraw(&L, L.pos, &elen, &lm, &rm);
                if (e == (size_t)-1) jj_fail(c, OMNIC_EFORMAT, line0, "missing {%% endraw %%} for this raw block");
                L.line_starting = L.pos > 0 && src[L.pos - 1] == '\n';
                emit_text(&L, L.pos, e, lm, 1);
                L.line += count_nl(src + L.pos, e + elen - L.pos);
                L.pos = e + elen;
                after_block_end(&L, rm);
                continue;
            }
            push(&L, TK_BLOCK_BEGIN, L.line);
            lex_tag(&L, 1);
        } else {
            push(&L, TK_VAR_BEGIN, L.line);
            lex_tag(&L, 0);
        }
    }
    push(&L, TK_EOF, L.line);
}
