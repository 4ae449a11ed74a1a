/* jinja_parse.c - recursive-descent Jinja parser producing the syntax tree of
 * jinja_impl.h. Operator precedence and the grammar of tuples, subscripts, filters and
 * tests follow Jinja2's parser; unsupported tags are rejected with their name. Also the
 * public jinja_parse / jinja_free entry points. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/jinja_impl.h"

#define MAX_NEST 200

typedef struct parser {
    jj_ctx *c;
    const jj_toks *t;
    size_t i;
    int depth;
    int loops; /* enclosing for-loops (break/continue allowed) */
} parser;

static jj_tok *cur(parser *P) { return &P->t->v[P->i]; }
static jj_tok *peek_at(parser *P, size_t k) {
    size_t j = P->i + k;
    return j < P->t->n ? &P->t->v[j] : &P->t->v[P->t->n - 1];
}
static jj_tok *advance(parser *P) {
    jj_tok *k = cur(P);
    if (k->kind != TK_EOF) P->i++;
    return k;
}
static int is_op(parser *P, int op) { return cur(P)->kind == TK_OP && cur(P)->op == op; }
static int is_name(parser *P, const char *nm) { return cur(P)->kind == TK_NAME && !strcmp(cur(P)->s, nm); }
static int skip_op(parser *P, int op) {
    if (!is_op(P, op)) return 0;
    advance(P);
    return 1;
}
static int skip_name(parser *P, const char *nm) {
    if (!is_name(P, nm)) return 0;
    advance(P);
    return 1;
}

static const char *op_text(int op) {
    static const char *t[] = {"?", "+", "-", "*", "/", "//", "%", "**", "~", "[", "]", "(", ")", "{", "}",
                              "==", "!=", ">", ">=", "<", "<=", "=", ".", ":", "|", ",", ";"};
    return op > 0 && op < (int)(sizeof t / sizeof t[0]) ? t[op] : "?";
}

static const char *tok_desc(jj_tok *k, char *buf, size_t n) {
    switch (k->kind) {
    case TK_EOF: return "end of template";
    case TK_TEXT: return "template text";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_BLOCK_END: return "'%}'";
    case TK_NAME: snprintf(buf, n, "'%s'", k->s); return buf;
    case TK_STRING: return "string";
    case TK_INT: return "integer";
    case TK_FLOAT: return "float";
    case TK_OP: snprintf(buf, n, "'%s'", op_text(k->op)); return buf;
    }
    return "token";
}

_Noreturn static void unexpected(parser *P, const char *expected) {
    char b[64];
    jj_tok *k = cur(P);
    if (expected)
        jj_fail(P->c, OMNIC_EFORMAT, k->line, "syntax error: expected %s, got %s", expected,
                tok_desc(k, b, sizeof b));
    jj_fail(P->c, OMNIC_EFORMAT, k->line, "syntax error: unexpected %s", tok_desc(k, b, sizeof b));
}

static void expect_op(parser *P, int op) {
    if (!skip_op(P, op)) {
        char e[16];
        snprintf(e, sizeof e, "'%s'", op_text(op));
        unexpected(P, e);
    }
}

static jj_tok *expect_name_tok(parser *P) {
    if (cur(P)->kind != TK_NAME) unexpected(P, "a name");
    return advance(P);
}

static void expect_block_end(parser *P) {
    if (cur(P)->kind != TK_BLOCK_END) unexpected(P, "'%}'");
    advance(P);
}

static jj_node *nn(parser *P, jj_node_kind kind, int line) {
    jj_node *n = jj_alloc(P->c, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

void jj_nodes_push(jj_ctx *c, jj_nodes *l, jj_node *n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jj_node **nv = jj_alloc(c, cap * sizeof *nv);
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

static void add_kw(parser *P, jj_node *n, const char *name, size_t len, jj_node *val) {
    size_t k = n->kwv.n;
    for (size_t i = 0; i < k; i++)
        if (n->kwnl[i] == len && !memcmp(n->kwn[i], name, len))
            jj_fail(P->c, OMNIC_EFORMAT, val->line, "syntax error: keyword argument '%s' repeated", name);
    const char **nk = jj_alloc(P->c, (k + 1) * sizeof *nk);
    size_t *nl = jj_alloc(P->c, (k + 1) * sizeof *nl);
    if (k) {
        memcpy(nk, n->kwn, k * sizeof *nk);
        memcpy(nl, n->kwnl, k * sizeof *nl);
    }
    nk[k] = name;
    nl[k] = len;
    n->kwn = nk;
    n->kwnl = nl;
    jj_nodes_push(P->c, &n->kwv, val);
}

static void enter(parser *P) {
    if (++P->depth > MAX_NEST) jj_fail(P->c, OMNIC_EFORMAT, cur(P)->line, "template nested too deeply");
}

/* ---- expressions ------------------------------------------------------------------ */

static jj_node *parse_expression(parser *P, int with_condexpr);
static jj_node *parse_unary(parser *P, int with_filter);
static jj_node *parse_primary(parser *P);
static jj_node *parse_postfix(parser *P, jj_node *n);
static jj_node *parse_filter_expr(parser *P, jj_node *n);

static const char *const no_end[] = {NULL};

/* Does the current token end a tuple? */
static int tuple_end(parser *P, const char *const *extra) {
    jj_tok *k = cur(P);
    if (k->kind == TK_VAR_END || k->kind == TK_BLOCK_END || k->kind == TK_EOF) return 1;
    if (k->kind == TK_OP && k->op == OP_RPAREN) return 1;
    if (k->kind == TK_NAME && extra)
        for (int i = 0; extra[i]; i++)
            if (!strcmp(k->s, extra[i])) return 1;
    return 0;
}

static jj_node *parse_tuple(parser *P, int simplified, int with_condexpr, const char *const *extra,
                            int explicit_parens) {
    int line = cur(P)->line;
    jj_node *t = nn(P, E_TUPLE, line);
    int is_tuple = 0;
    for (;;) {
        if (t->args.n) expect_op(P, OP_COMMA);
        if (tuple_end(P, extra)) break;
        jj_node *e = simplified ? parse_primary(P) : parse_expression(P, with_condexpr);
        jj_nodes_push(P->c, &t->args, e);
        if (is_op(P, OP_COMMA))
            is_tuple = 1;
        else
            break;
    }
    if (!is_tuple) {
        if (t->args.n) return t->args.v[0];
        if (!explicit_parens) unexpected(P, "an expression");
    }
    return t;
}

static jj_node *parse_condexpr(parser *P);

static jj_node *parse_or(parser *P);

static jj_node *parse_expression(parser *P, int with_condexpr) {
    return with_condexpr ? parse_condexpr(P) : parse_or(P);
}

static jj_node *parse_condexpr(parser *P) {
    enter(P);
    jj_node *e1 = parse_or(P);
    while (is_name(P, "if")) {
        int line = advance(P)->line;
        jj_node *e2 = parse_or(P);
        jj_node *e3 = NULL;
        if (skip_name(P, "else")) e3 = parse_condexpr(P);
        jj_node *n = nn(P, E_COND, line);
        n->a = e2;
        n->b = e1;
        n->c = e3;
        e1 = n;
    }
    P->depth--;
    return e1;
}

static jj_node *binary(parser *P, int op, int line, jj_node *a, jj_node *b) {
    jj_node *n = nn(P, E_BINARY, line);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static jj_node *parse_and(parser *P);
static jj_node *parse_not(parser *P);
static jj_node *parse_compare(parser *P);
static jj_node *parse_math1(parser *P);
static jj_node *parse_concat(parser *P);
static jj_node *parse_math2(parser *P);
static jj_node *parse_pow(parser *P);

static jj_node *parse_or(parser *P) {
    jj_node *l = parse_and(P);
    while (is_name(P, "or")) {
        int line = advance(P)->line;
        l = binary(P, OP_OR, line, l, parse_and(P));
    }
    return l;
}

static jj_node *parse_and(parser *P) {
    jj_node *l = parse_not(P);
    while (is_name(P, "and")) {
        int line = advance(P)->line;
        l = binary(P, OP_AND, line, l, parse_not(P));
    }
    return l;
}

static jj_node *parse_not(parser *P) {
    if (is_name(P, "not")) {
        int line = advance(P)->line;
        enter(P);
        jj_node *n = nn(P, E_UNARY, line);
        n->op = OP_NOT;
        n->a = parse_not(P);
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static jj_node *parse_compare(parser *P) {
    int line = cur(P)->line;
    jj_node *e = parse_math1(P);
    jj_node *cmp = NULL;
    int nops = 0, cap = 0;
    int *ops = NULL;
    for (;;) {
        int op = 0;
        jj_tok *k = cur(P);
        if (k->kind == TK_OP && (k->op == OP_EQ || k->op == OP_NE || k->op == OP_LT || k->op == OP_LE ||
                                 k->op == OP_GT || k->op == OP_GE)) {
            op = k->op;
            advance(P);
        } else if (is_name(P, "in")) {
            op = OP_IN;
            advance(P);
        } else if (is_name(P, "not") && peek_at(P, 1)->kind == TK_NAME && !strcmp(peek_at(P, 1)->s, "in")) {
            op = OP_NOTIN;
            advance(P);
            advance(P);
        } else
            break;
        if (!cmp) {
            cmp = nn(P, E_COMPARE, line);
            jj_nodes_push(P->c, &cmp->args, e);
        }
        if (nops == cap) {
            int ncap = cap ? cap * 2 : 4;
            int *no = jj_alloc(P->c, (size_t)ncap * sizeof *no);
            if (nops) memcpy(no, ops, (size_t)nops * sizeof *no);
            ops = no;
            cap = ncap;
        }
        ops[nops++] = op;
        jj_nodes_push(P->c, &cmp->args, parse_math1(P));
    }
    if (!cmp) return e;
    cmp->cmp_ops = ops;
    return cmp;
}

static jj_node *parse_math1(parser *P) {
    jj_node *l = parse_concat(P);
    while (is_op(P, OP_ADD) || is_op(P, OP_SUB)) {
        jj_tok *k = advance(P);
        l = binary(P, k->op, k->line, l, parse_concat(P));
    }
    return l;
}

static jj_node *parse_concat(parser *P) {
    jj_node *l = parse_math2(P);
    while (is_op(P, OP_TILDE)) {
        int line = advance(P)->line;
        l = binary(P, OP_TILDE, line, l, parse_math2(P));
    }
    return l;
}

static jj_node *parse_math2(parser *P) {
    jj_node *l = parse_pow(P);
    while (is_op(P, OP_MUL) || is_op(P, OP_DIV) || is_op(P, OP_FLOORDIV) || is_op(P, OP_MOD)) {
        jj_tok *k = advance(P);
        l = binary(P, k->op, k->line, l, parse_pow(P));
    }
    return l;
}

static jj_node *parse_pow(parser *P) {
    jj_node *l = parse_unary(P, 1);
    while (is_op(P, OP_POW)) {
        int line = advance(P)->line;
        l = binary(P, OP_POW, line, l, parse_unary(P, 1));
    }
    return l;
}

static jj_node *parse_unary(parser *P, int with_filter) {
    enter(P);
    jj_node *n;
    if (is_op(P, OP_SUB) || is_op(P, OP_ADD)) {
        jj_tok *k = advance(P);
        n = nn(P, E_UNARY, k->line);
        n->op = k->op == OP_SUB ? OP_NEG : OP_POS;
        n->a = parse_unary(P, 0);
    } else
        n = parse_primary(P);
    n = parse_postfix(P, n);
    if (with_filter) n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static jj_node *constant(parser *P, int line, jv v) {
    jj_node *n = nn(P, E_CONST, line);
    n->val = v;
    return n;
}

static jj_node *parse_primary(parser *P) {
    enter(P);
    jj_tok *k = cur(P);
    jj_node *n = NULL;
    switch (k->kind) {
    case TK_NAME: {
        advance(P);
        if (!strcmp(k->s, "true") || !strcmp(k->s, "True"))
            n = constant(P, k->line, jv_true);
        else if (!strcmp(k->s, "false") || !strcmp(k->s, "False"))
            n = constant(P, k->line, jv_false);
        else if (!strcmp(k->s, "none") || !strcmp(k->s, "None"))
            n = constant(P, k->line, jv_none);
        else {
            n = nn(P, E_NAME, k->line);
            n->s = k->s;
            n->sn = k->n;
        }
        break;
    }
    case TK_STRING: {
        advance(P);
        if (cur(P)->kind != TK_STRING) {
            n = constant(P, k->line, jv_str(P->c, k->s, k->n));
            break;
        }
        jj_buf b = {0};
        jj_buf_put(P->c, &b, k->s, k->n);
        while (cur(P)->kind == TK_STRING) {
            jj_tok *k2 = advance(P);
            jj_buf_put(P->c, &b, k2->s, k2->n);
        }
        n = constant(P, k->line, jv_strbuf(P->c, &b));
        break;
    }
    case TK_INT: advance(P); n = constant(P, k->line, jv_int(k->i)); break;
    case TK_FLOAT: advance(P); n = constant(P, k->line, jv_float(k->f)); break;
    case TK_OP:
        if (k->op == OP_LPAREN) {
            advance(P);
            n = parse_tuple(P, 0, 1, no_end, 1);
            expect_op(P, OP_RPAREN);
        } else if (k->op == OP_LBRACKET) {
            advance(P);
            n = nn(P, E_LIST, k->line);
            while (!is_op(P, OP_RBRACKET)) {
                if (n->args.n) expect_op(P, OP_COMMA);
                if (is_op(P, OP_RBRACKET)) break;
                jj_nodes_push(P->c, &n->args, parse_expression(P, 1));
            }
            expect_op(P, OP_RBRACKET);
        } else if (k->op == OP_LBRACE) {
            advance(P);
            n = nn(P, E_DICT, k->line);
            while (!is_op(P, OP_RBRACE)) {
                if (n->args.n) expect_op(P, OP_COMMA);
                if (is_op(P, OP_RBRACE)) break;
                jj_nodes_push(P->c, &n->args, parse_expression(P, 1));
                expect_op(P, OP_COLON);
                jj_nodes_push(P->c, &n->kwv, parse_expression(P, 1));
            }
            expect_op(P, OP_RBRACE);
        } else
            unexpected(P, NULL);
        break;
    default: unexpected(P, NULL);
    }
    P->depth--;
    return n;
}

/* Call arguments after '(' (consumed here): positional then keyword. */
static void parse_args(parser *P, jj_node *n) {
    expect_op(P, OP_LPAREN);
    int first = 1;
    while (!is_op(P, OP_RPAREN)) {
        if (!first) {
            expect_op(P, OP_COMMA);
            if (is_op(P, OP_RPAREN)) break;
        }
        first = 0;
        if (is_op(P, OP_MUL) || is_op(P, OP_POW))
            jj_fail(P->c, OMNIC_EFORMAT, cur(P)->line, "*args / **kwargs in calls are not supported");
        if (cur(P)->kind == TK_NAME && peek_at(P, 1)->kind == TK_OP && peek_at(P, 1)->op == OP_ASSIGN) {
            jj_tok *k = advance(P);
            advance(P);
            add_kw(P, n, k->s, k->n, parse_expression(P, 1));
        } else {
            if (n->kwv.n)
                jj_fail(P->c, OMNIC_EFORMAT, cur(P)->line, "syntax error: positional argument after keyword argument");
            jj_nodes_push(P->c, &n->args, parse_expression(P, 1));
        }
    }
    expect_op(P, OP_RPAREN);
}

static jj_node *parse_subscript(parser *P, jj_node *base) {
    jj_tok *k = advance(P);
    if (k->op == OP_DOT) {
        jj_tok *a = cur(P);
        if (a->kind == TK_NAME) {
            advance(P);
            jj_node *n = nn(P, E_ATTR, k->line);
            n->a = base;
            n->s = a->s;
            n->sn = a->n;
            return n;
        }
        if (a->kind == TK_INT) {
            advance(P);
            jj_node *n = nn(P, E_ITEM, k->line);
            n->a = base;
            n->b = constant(P, a->line, jv_int(a->i));
            return n;
        }
        unexpected(P, "an attribute name");
    }
    /* '[' subscript: expression or slice */
    jj_node *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    if (!is_op(P, OP_COLON)) {
        parts[0] = parse_expression(P, 1);
        if (is_op(P, OP_COMMA)) jj_fail(P->c, OMNIC_EFORMAT, k->line, "tuple subscripts are not supported");
    }
    while (colons < 2 && skip_op(P, OP_COLON)) {
        colons++;
        if (!is_op(P, OP_COLON) && !is_op(P, OP_RBRACKET)) parts[colons] = parse_expression(P, 1);
    }
    expect_op(P, OP_RBRACKET);
    jj_node *n;
    if (!colons) {
        n = nn(P, E_ITEM, k->line);
        n->b = parts[0];
    } else {
        n = nn(P, E_SLICE, k->line);
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    }
    n->a = base;
    return n;
}

static jj_node *parse_postfix(parser *P, jj_node *n) {
    for (;;) {
        if (is_op(P, OP_DOT) || is_op(P, OP_LBRACKET))
            n = parse_subscript(P, n);
        else if (is_op(P, OP_LPAREN)) {
            jj_node *c = nn(P, E_CALL, cur(P)->line);
            c->a = n;
            parse_args(P, c);
            n = c;
        } else
            return n;
    }
}

static const char *dotted_name(parser *P, size_t *len) {
    jj_tok *k = expect_name_tok(P);
    if (!is_op(P, OP_DOT)) {
        *len = k->n;
        return k->s;
    }
    jj_buf b = {0};
    jj_buf_put(P->c, &b, k->s, k->n);
    while (skip_op(P, OP_DOT)) {
        jj_tok *k2 = expect_name_tok(P);
        jj_buf_putc(P->c, &b, '.');
        jj_buf_put(P->c, &b, k2->s, k2->n);
    }
    *len = b.n;
    return b.p;
}

static jj_node *parse_filter(parser *P, jj_node *base, int line) {
    jj_node *n = nn(P, E_FILTER, line);
    n->a = base;
    n->s = dotted_name(P, &n->sn);
    if (is_op(P, OP_LPAREN)) parse_args(P, n);
    return n;
}

static jj_node *parse_filter_expr(parser *P, jj_node *n) {
    for (;;) {
        if (is_op(P, OP_PIPE)) {
            int line = advance(P)->line;
            n = parse_filter(P, n, line);
        } else if (is_name(P, "is")) {
            int line = advance(P)->line;
            jj_node *t = nn(P, E_TEST, line);
            t->a = n;
            if (skip_name(P, "not")) t->op = 1;
            t->s = dotted_name(P, &t->sn);
            jj_tok *k = cur(P);
            if (is_op(P, OP_LPAREN))
                parse_args(P, t);
            else if ((k->kind == TK_NAME && strcmp(k->s, "else") && strcmp(k->s, "or") && strcmp(k->s, "and")) ||
                     k->kind == TK_STRING || k->kind == TK_INT || k->kind == TK_FLOAT ||
                     (k->kind == TK_OP && (k->op == OP_LBRACKET || k->op == OP_LBRACE))) {
                if (is_name(P, "is")) jj_fail(P->c, OMNIC_EFORMAT, k->line, "syntax error: chained tests need parentheses");
                jj_node *arg = parse_postfix(P, parse_primary(P));
                jj_nodes_push(P->c, &t->args, arg);
            }
            n = t;
        } else if (is_op(P, OP_LPAREN)) {
            jj_node *c = nn(P, E_CALL, cur(P)->line);
            c->a = n;
            parse_args(P, c);
            n = c;
        } else
            return n;
    }
}

/* ---- statements ------------------------------------------------------------------- */

static void parse_body(parser *P, const char *const *ends, jj_nodes *out, const char *what, int open_line);

/* name, ns.attr (with_ns) or a tuple of names. */
static jj_node *parse_assign_target(parser *P, int with_ns, const char *const *extra) {
    int line = cur(P)->line;
    if (with_ns && cur(P)->kind == TK_NAME && peek_at(P, 1)->kind == TK_OP && peek_at(P, 1)->op == OP_DOT) {
        jj_tok *k = advance(P);
        advance(P);
        jj_tok *a = expect_name_tok(P);
        jj_node *base = nn(P, E_NAME, line);
        base->s = k->s;
        base->sn = k->n;
        jj_node *n = nn(P, E_ATTR, line);
        n->a = base;
        n->s = a->s;
        n->sn = a->n;
        return n;
    }
    jj_node *t = parse_tuple(P, 1, 1, extra, 0);
    if (t->kind == E_NAME) return t;
    if (t->kind == E_TUPLE) {
        for (size_t i = 0; i < t->args.n; i++)
            if (t->args.v[i]->kind != E_NAME)
                jj_fail(P->c, OMNIC_EFORMAT, line, "syntax error: can only assign to names");
        return t;
    }
    jj_fail(P->c, OMNIC_EFORMAT, line, "syntax error: can't assign to this expression");
}

static const char *const ends_if[] = {"elif", "else", "endif", NULL};
static const char *const ends_endif[] = {"endif", NULL};
static const char *const ends_for[] = {"else", "endfor", NULL};
static const char *const ends_endfor[] = {"endfor", NULL};
static const char *const ends_set[] = {"endset", NULL};
static const char *const ends_macro[] = {"endmacro", NULL};
static const char *const ends_with[] = {"endwith", NULL};
static const char *const ends_filter[] = {"endfilter", NULL};
static const char *const ends_gen[] = {"endgeneration", NULL};
static const char *const for_target_end[] = {"in", NULL};
static const char *const for_iter_end[] = {"recursive", "if", NULL};

static jj_node *parse_if(parser *P, int line) {
    jj_node *n = nn(P, N_IF, line);
    n->a = parse_tuple(P, 0, 0, no_end, 0);
    expect_block_end(P);
    parse_body(P, ends_if, &n->body, "endif", line);
    jj_tok *k = advance(P); /* elif / else / endif */
    if (!strcmp(k->s, "elif")) {
        jj_node *e = parse_if(P, k->line);
        jj_nodes_push(P->c, &n->els, e);
        return n; /* the nested if consumed endif */
    }
    if (!strcmp(k->s, "else")) {
        expect_block_end(P);
        parse_body(P, ends_endif, &n->els, "endif", line);
        advance(P);
    }
    expect_block_end(P);
    return n;
}

static jj_node *parse_for(parser *P, int line) {
    jj_node *n = nn(P, N_FOR, line);
    n->a = parse_assign_target(P, 0, for_target_end);
    if (!skip_name(P, "in")) unexpected(P, "'in'");
    n->b = parse_tuple(P, 0, 0, for_iter_end, 0);
    if (skip_name(P, "if")) n->c = parse_expression(P, 1);
    if (is_name(P, "recursive")) jj_fail(P->c, OMNIC_EFORMAT, line, "recursive for-loops are not supported");
    expect_block_end(P);
    P->loops++;
    parse_body(P, ends_for, &n->body, "endfor", line);
    P->loops--;
    jj_tok *k = advance(P);
    if (!strcmp(k->s, "else")) {
        expect_block_end(P);
        parse_body(P, ends_endfor, &n->els, "endfor", line);
        advance(P);
    }
    expect_block_end(P);
    return n;
}

static jj_node *parse_filter_chain(parser *P, int line) {
    jj_node *f = NULL;
    do {
        f = parse_filter(P, f, line);
    } while (skip_op(P, OP_PIPE));
    return f;
}

static jj_node *parse_set(parser *P, int line) {
    jj_node *t = parse_assign_target(P, 1, no_end);
    if (skip_op(P, OP_ASSIGN)) {
        jj_node *n = nn(P, N_SET, line);
        n->a = t;
        n->b = parse_tuple(P, 0, 1, no_end, 0);
        expect_block_end(P);
        return n;
    }
    jj_node *n = nn(P, N_SETBLOCK, line);
    n->a = t;
    if (skip_op(P, OP_PIPE)) n->b = parse_filter_chain(P, line);
    expect_block_end(P);
    parse_body(P, ends_set, &n->body, "endset", line);
    advance(P);
    expect_block_end(P);
    return n;
}

static jj_node *parse_macro(parser *P, int line) {
    jj_node *n = nn(P, N_MACRO, line);
    jj_tok *k = expect_name_tok(P);
    n->s = k->s;
    n->sn = k->n;
    expect_op(P, OP_LPAREN);
    while (!is_op(P, OP_RPAREN)) {
        if (n->args.n) expect_op(P, OP_COMMA);
        jj_tok *a = expect_name_tok(P);
        jj_node *pn = nn(P, E_NAME, a->line);
        pn->s = a->s;
        pn->sn = a->n;
        jj_node *def = NULL;
        if (skip_op(P, OP_ASSIGN))
            def = parse_expression(P, 1);
        else if (n->kwv.n && n->kwv.v[n->kwv.n - 1])
            jj_fail(P->c, OMNIC_EFORMAT, a->line, "syntax error: non-default argument follows default argument");
        jj_nodes_push(P->c, &n->args, pn);
        jj_nodes_push(P->c, &n->kwv, def);
    }
    expect_op(P, OP_RPAREN);
    expect_block_end(P);
    int loops = P->loops;
    P->loops = 0;
    parse_body(P, ends_macro, &n->body, "endmacro", line);
    P->loops = loops;
    advance(P);
    if (cur(P)->kind == TK_NAME) advance(P); /* {% endmacro name %} */
    expect_block_end(P);
    return n;
}

static jj_node *parse_with(parser *P, int line) {
    jj_node *n = nn(P, N_WITH, line);
    while (cur(P)->kind != TK_BLOCK_END) {
        if (n->args.n) expect_op(P, OP_COMMA);
        jj_node *t = parse_assign_target(P, 0, no_end);
        expect_op(P, OP_ASSIGN);
        jj_nodes_push(P->c, &n->args, t);
        jj_nodes_push(P->c, &n->kwv, parse_expression(P, 1));
    }
    expect_block_end(P);
    parse_body(P, ends_with, &n->body, "endwith", line);
    advance(P);
    expect_block_end(P);
    return n;
}

static void parse_statement(parser *P, jj_nodes *out) {
    jj_tok *k = cur(P);
    int line = k->line;
    if (k->kind != TK_NAME) unexpected(P, "a tag name");
    const char *nm = k->s;
    advance(P);
    enter(P);
    jj_node *n = NULL;
    if (!strcmp(nm, "if"))
        n = parse_if(P, line);
    else if (!strcmp(nm, "for"))
        n = parse_for(P, line);
    else if (!strcmp(nm, "set"))
        n = parse_set(P, line);
    else if (!strcmp(nm, "macro"))
        n = parse_macro(P, line);
    else if (!strcmp(nm, "with"))
        n = parse_with(P, line);
    else if (!strcmp(nm, "filter")) {
        n = nn(P, N_FILTERBLK, line);
        n->a = parse_filter_chain(P, line);
        expect_block_end(P);
        parse_body(P, ends_filter, &n->body, "endfilter", line);
        advance(P);
        expect_block_end(P);
    } else if (!strcmp(nm, "break") || !strcmp(nm, "continue")) {
        if (!P->loops) jj_fail(P->c, OMNIC_EFORMAT, line, "'%s' outside of a for-loop", nm);
        n = nn(P, nm[0] == 'b' ? N_BREAK : N_CONTINUE, line);
        expect_block_end(P);
    } else if (!strcmp(nm, "generation")) {
        /* HF's assistant-mask marker: renders its body unchanged */
        expect_block_end(P);
        parse_body(P, ends_gen, out, "endgeneration", line);
        advance(P);
        expect_block_end(P);
    } else if (!strcmp(nm, "include") || !strcmp(nm, "import") || !strcmp(nm, "from") || !strcmp(nm, "extends") ||
               !strcmp(nm, "block") || !strcmp(nm, "call") || !strcmp(nm, "do") || !strcmp(nm, "autoescape"))
        jj_fail(P->c, OMNIC_EFORMAT, line, "the '%s' tag is not supported in chat templates", nm);
    else
        jj_fail(P->c, OMNIC_EFORMAT, line, "syntax error: unknown tag '%s'", nm);
    if (n) jj_nodes_push(P->c, out, n);
    P->depth--;
}

static void parse_body(parser *P, const char *const *ends, jj_nodes *out, const char *what, int open_line) {
    for (;;) {
        jj_tok *k = cur(P);
        switch (k->kind) {
        case TK_EOF:
            if (ends)
                jj_fail(P->c, OMNIC_EFORMAT, k->line,
                        "unexpected end of template: the block opened on line %d needs '{%% %s %%}'", open_line, what);
            return;
        case TK_TEXT: {
            advance(P);
            jj_node *n = nn(P, N_TEXT, k->line);
            n->s = k->s;
            n->sn = k->n;
            jj_nodes_push(P->c, out, n);
            break;
        }
        case TK_VAR_BEGIN: {
            advance(P);
            jj_node *n = nn(P, N_OUTPUT, k->line);
            n->a = parse_tuple(P, 0, 1, no_end, 0);
            if (cur(P)->kind != TK_VAR_END) unexpected(P, "'}}'");
            advance(P);
            jj_nodes_push(P->c, out, n);
            break;
        }
        case TK_BLOCK_BEGIN: {
            jj_tok *nm = peek_at(P, 1);
            if (nm->kind == TK_NAME && ends)
                for (int i = 0; ends[i]; i++)
                    if (!strcmp(nm->s, ends[i])) {
                        advance(P); /* leave the end name as the current token */
                        return;
                    }
            if (nm->kind == TK_NAME &&
                (!strncmp(nm->s, "end", 3) || !strcmp(nm->s, "elif") || !strcmp(nm->s, "else")))
                jj_fail(P->c, OMNIC_EFORMAT, nm->line, "syntax error: unexpected '{%% %s %%}'%s%s%s", nm->s,
                        ends ? " (expected '{% " : "", ends ? what : "", ends ? " %}')" : "");
            advance(P);
            parse_statement(P, out);
            break;
        }
        default: unexpected(P, NULL);
        }
    }
}

void jj_parse_tokens(jj_ctx *c, const jj_toks *toks, jj_nodes *out) {
    parser P = {.c = c, .t = toks};
    parse_body(&P, NULL, out, NULL, 0);
}

/* ---- public entry points ------------------------------------------------------------- */

int jinja_parse(const char *src, size_t len, const char *name, jinja_template **out) {
    *out = NULL;
    if (!src) return omnic_err(OMNIC_EINVAL, "%s: no template text", name ? name : "template");
    jinja_template *t = calloc(1, sizeof *t);
    if (!t) return omnic_err(OMNIC_ENOMEM, "out of memory");
    t->name = strdup(name ? name : "template");
    if (!t->name) {
        free(t);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    jmp_buf jb;
    jj_ctx *c = &t->arena;
    c->jmp = &jb;
    c->name = t->name;
    c->limit = (size_t)1 << 30;
    if (setjmp(jb)) {
        int code = c->code;
        omnic_err(code, "%s", c->msg);
        jinja_free(t);
        return code;
    }
    if (!jj_utf8_valid(src, len)) jj_fail(c, OMNIC_EFORMAT, 0, "template is not valid UTF-8");
    /* newline normalization (\r\n and \r -> \n) and dropping one trailing newline */
    char *norm = jj_alloc(c, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else
            norm[n++] = src[i];
    }
    if (n && norm[n - 1] == '\n') n--;
    norm[n] = 0;
    jj_toks toks = {0};
    jj_lex(c, norm, n, &toks);
    jj_parse_tokens(c, &toks, &t->body);
    c->jmp = NULL;
    *out = t;
    return OMNIC_OK;
}

void jinja_free(jinja_template *t) {
    if (!t) return;
    jj_arena_free(&t->arena);
    free(t->name);
    free(t);
}
