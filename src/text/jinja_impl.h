/* jinja_impl.h - internals shared by the Jinja interpreter files: arena allocator,
 * values (jinja_value.c), tokens (jinja_lex.c), syntax tree (jinja_parse.c) and the
 * evaluator (jinja_eval.c). Errors unwind with longjmp to the public entry point; all
 * memory of a parse or render lives in one arena freed at the end. */
#ifndef OMNIC_TEXT_JINJA_IMPL_H
#define OMNIC_TEXT_JINJA_IMPL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "text/jinja.h"

/* ---- arena + error unwinding ---------------------------------------------------- */

typedef struct jj_chunk jj_chunk;

typedef struct jj_ctx {
    jj_chunk *chunks;
    size_t used, limit;     /* bytes handed out, cap (0 = none) */
    jmp_buf *jmp;           /* where jj_fail unwinds to */
    int code;               /* OMNIC_E* of the failure */
    int raised;             /* failure came from raise_exception */
    const char *name;       /* template name for messages */
    char msg[768];
} jj_ctx;

void *jj_alloc(jj_ctx *c, size_t n); /* zeroed, 16-aligned; fails (unwinds) past the limit */
char *jj_strndup(jj_ctx *c, const char *s, size_t n);
void jj_arena_free(jj_ctx *c);
_Noreturn void jj_fail(jj_ctx *c, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Growable byte buffer in the arena (old blocks are simply abandoned). */
typedef struct jj_buf {
    char *p;
    size_t n, cap;
} jj_buf;
void jj_buf_put(jj_ctx *c, jj_buf *b, const char *s, size_t n);
void jj_buf_putc(jj_ctx *c, jj_buf *b, char ch);
void jj_buf_printf(jj_ctx *c, jj_buf *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- UTF-8 helpers (jinja_value.c) ---------------------------------------------- */

/* Decode one code point at s[*i] (input is valid UTF-8), advance *i. */
uint32_t jj_utf8_next(const char *s, size_t n, size_t *i);
size_t jj_utf8_put(char *dst, uint32_t cp); /* 1..4 bytes */
size_t jj_utf8_count(const char *s, size_t n);
int jj_is_space(uint32_t cp); /* Python str.isspace() */
int jj_utf8_valid(const char *s, size_t n);
/* First occurrence of needle in hay (NULL if none; needle must be non-empty). */
const char *jj_memmem(const char *hay, size_t hn, const char *needle, size_t nn);

/* ---- values ---------------------------------------------------------------------- */

typedef enum {
    JV_UNDEF,
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST,   /* list or tuple (jj_list.tuple) */
    JV_DICT,   /* insertion-ordered dict; also namespace() objects (jj_dict.ns) */
    JV_LOOP,   /* the `loop` variable of a for statement */
    JV_MACRO,
    JV_FUNC,   /* built-in global function */
    JV_CYCLER, /* cycler() / joiner() objects */
} jv_type;

typedef struct jj_str {
    size_t len;
    char s[]; /* NUL-terminated */
} jj_str;

struct jj_list;
struct jj_dict;
struct jj_loop;
struct jj_node;
struct jj_cycler;
struct jj_macro;

typedef struct jv {
    jv_type t;
    union {
        int b;
        int64_t i;
        double f;
        jj_str *s;
        struct jj_list *l;
        struct jj_dict *d;
        struct jj_loop *loop;
        struct jj_macro *macro;
        int func;
        struct jj_cycler *cyc;
        const char *undef_name; /* JV_UNDEF: what was looked up (may be NULL) */
    } u;
} jv;

typedef struct jj_list {
    size_t n, cap;
    jv *v;
    int tuple;
} jj_list;

typedef struct jj_dict {
    size_t n, cap;
    jv *k, *v;
    int ns; /* a namespace(): attribute assignment allowed, not a mapping */
} jj_dict;

typedef struct jj_cycler {
    jj_list *items; /* cycler items; NULL for a joiner */
    jj_str *sep;    /* joiner separator */
    size_t pos;     /* cycler position / joiner: calls so far */
} jj_cycler;

extern const jv jv_undef, jv_none, jv_true, jv_false;

static inline jv jv_bool(int b) { return b ? jv_true : jv_false; }
static inline jv jv_int(int64_t i) { jv v = {.t = JV_INT}; v.u.i = i; return v; }
static inline jv jv_float(double f) { jv v = {.t = JV_FLOAT}; v.u.f = f; return v; }

jv jv_str(jj_ctx *c, const char *s, size_t n);
jv jv_cstr(jj_ctx *c, const char *s);
jv jv_strbuf(jj_ctx *c, const jj_buf *b);
jv jv_list(jj_ctx *c, size_t cap);
jv jv_dict(jj_ctx *c, size_t cap);
void jj_list_push(jj_ctx *c, jj_list *l, jv v);
/* Insert or replace (replacing keeps the key's position). */
void jj_dict_set(jj_ctx *c, jj_dict *d, jv k, jv v);
/* Lookup by key; returns 1 and *out when found. */
int jj_dict_get(const jj_dict *d, jv k, jv *out);
int jj_dict_get_s(const jj_dict *d, const char *k, size_t n, jv *out);

jv jv_from_json(jj_ctx *c, json_t *j);

int jv_truthy(jv v);
const char *jv_type_name(jv v); /* Python-ish: "str", "int", "list", "dict"... */
/* Python ==. */
int jv_equal(jv a, jv b);
/* Python <, > ordering; fails (unwinds) on incomparable types. Returns -1/0/1. */
int jv_compare(jj_ctx *c, int line, jv a, jv b);

/* Python str() / repr() appended to b. */
void jv_write_str(jj_ctx *c, jj_buf *b, jv v, int line);
void jv_write_repr(jj_ctx *c, jj_buf *b, jv v, int line);
jv jv_to_string(jj_ctx *c, jv v, int line); /* str() as a JV_STR (strings returned as is) */

/* HF tojson: indent < 0 = none (", " / ": "), else newline + indent spaces per level
 * (or indent_str when non-NULL) with "," / ": ". item_sep/key_sep override when
 * non-NULL. sort_keys sorts dict keys. ensure_ascii escapes non-ASCII as \uXXXX. */
typedef struct jj_json_opts {
    int indent;
    const char *indent_str;
    const char *item_sep, *key_sep;
    int sort_keys, ensure_ascii;
} jj_json_opts;
void jv_write_json(jj_ctx *c, jj_buf *b, jv v, const jj_json_opts *o, int line);

/* Python float repr (shortest round-trip, "1.0", "1e+16", "inf", "nan"). */
void jj_write_float(jj_ctx *c, jj_buf *b, double f);

/* ---- tokens ------------------------------------------------------------------ */

typedef enum {
    TK_EOF,
    TK_TEXT,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
} jj_tok_kind;

/* Operator codes (TK_OP). */
enum {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_TILDE,
    OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
    OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_ASSIGN, OP_DOT, OP_COLON, OP_PIPE,
    OP_COMMA, OP_SEMICOLON,
    /* used only in the syntax tree */
    OP_AND, OP_OR, OP_NOT, OP_IN, OP_NOTIN, OP_NEG, OP_POS,
};

typedef struct jj_tok {
    jj_tok_kind kind;
    int line;
    int op;        /* TK_OP */
    const char *s; /* TK_TEXT / TK_NAME / TK_STRING (arena, NUL-terminated) */
    size_t n;
    int64_t i;     /* TK_INT */
    double f;      /* TK_FLOAT */
} jj_tok;

typedef struct jj_toks {
    jj_tok *v;
    size_t n, cap;
} jj_toks;

/* Tokenize a whole template (after newline normalization). */
void jj_lex(jj_ctx *c, const char *src, size_t len, jj_toks *out);

/* ---- syntax tree ----------------------------------------------------------------- */

typedef enum {
    /* statements */
    N_TEXT,      /* s */
    N_OUTPUT,    /* a = expr */
    N_IF,        /* a = cond, body, els */
    N_FOR,       /* a = target, b = iter, c = filter cond, body, els */
    N_SET,       /* a = target, b = value */
    N_SETBLOCK,  /* a = target, body, b = filters (E_FILTER chain with NULL base) or NULL */
    N_MACRO,     /* s = name, params (E_NAME) + defaults (kw), body */
    N_WITH,      /* targets in args, values in kwv, body */
    N_FILTERBLK, /* a = filter chain (E_FILTER with NULL base), body */
    N_BREAK,
    N_CONTINUE,
    /* expressions */
    E_CONST,   /* val */
    E_NAME,    /* s */
    E_ATTR,    /* a.s */
    E_ITEM,    /* a[b] */
    E_SLICE,   /* a[b:c:d] (b/c/d may be NULL) */
    E_CALL,    /* a(args, kw=...) */
    E_FILTER,  /* a | s(args) ; a NULL inside filter blocks */
    E_TEST,    /* a is [not] s(args); op = 1 for `is not` */
    E_UNARY,   /* op a */
    E_BINARY,  /* a op b (arithmetic, ~, and, or, in, not in) */
    E_COMPARE, /* a op1 b op2 c ...: args = operands, ops in cmp_ops */
    E_COND,    /* b if a else c (c may be NULL) */
    E_LIST,    /* args */
    E_TUPLE,   /* args */
    E_DICT,    /* args = keys, kwv = values */
} jj_node_kind;

typedef struct jj_nodes {
    struct jj_node **v;
    size_t n, cap;
} jj_nodes;

typedef struct jj_node {
    jj_node_kind kind;
    int line;
    int op;
    const char *s;
    size_t sn;
    jv val;
    struct jj_node *a, *b, *c, *d;
    jj_nodes body, els;
    jj_nodes args;      /* positional args / list items / operands / params */
    jj_nodes kwv;       /* keyword values / dict values / param defaults (NULL = none) */
    const char **kwn;   /* keyword names (parallel to kwv for calls) */
    size_t *kwnl;
    int *cmp_ops;       /* E_COMPARE */
} jj_node;

void jj_nodes_push(jj_ctx *c, jj_nodes *l, jj_node *n);

/* Parse tokens into a statement list. */
void jj_parse_tokens(jj_ctx *c, const jj_toks *toks, jj_nodes *out);

struct jinja_template {
    jj_ctx arena; /* owns tokens and nodes */
    jj_nodes body;
    char *name;
};

#endif
