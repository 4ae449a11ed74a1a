/* jinja_eval.c - tree-walking evaluator of the Jinja subset: scopes (one frame per loop
 * iteration, macro call and with-block, as in Jinja2), expressions with Python
 * semantics, statements, and the public jinja_render entry point. Filters, tests,
 * methods and global functions live in jinja_builtins.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/jinja_eval.h"

/* ---- scopes -------------------------------------------------------------------- */

jj_frame *jj_frame_new(jj_ev *e, jj_frame *parent) {
    jj_frame *f = jj_alloc(e->c, sizeof *f);
    f->parent = parent;
    f->vars = jv_dict(e->c, 0).u.d;
    return f;
}

void jj_set_var(jj_ev *e, jj_frame *f, const char *name, size_t n, jv v) {
    jj_dict_set(e->c, f->vars, jv_str(e->c, name, n), v);
}

static int lookup(jj_ev *e, jj_frame *f, const char *name, size_t n, jv *out) {
    for (; f; f = f->parent)
        if (jj_dict_get_s(f->vars, name, n, out)) return 1;
    if (e->globals && jj_dict_get_s(e->globals, name, n, out)) return 1;
    return jj_builtin_global(name, n, out);
}

void jj_step(jj_ev *e, int line) {
    if (++e->steps > e->max_steps)
        jj_fail(e->c, OMNIC_EINVAL, line, "template exceeded %zu evaluation steps (infinite loop?)", e->max_steps);
}

void jj_emit(jj_ev *e, const char *s, size_t n, int line) {
    if (e->out->n + n > e->max_output)
        jj_fail(e->c, OMNIC_EINVAL, line, "rendered text exceeds %zu bytes", e->max_output);
    jj_buf_put(e->c, e->out, s, n);
}

_Noreturn void jj_undefined_error(jj_ev *e, int line, jv u) {
    if (u.u.undef_name) jj_fail(e->c, OMNIC_EINVAL, line, "'%s' is undefined", u.u.undef_name);
    jj_fail(e->c, OMNIC_EINVAL, line, "operation on an undefined value");
}

static jv undef_named(jj_ev *e, const char *s, size_t n) {
    jv u = jv_undef;
    u.u.undef_name = jj_strndup(e->c, s, n);
    return u;
}

/* ---- attribute / item access ------------------------------------------------------- */

static jv loop_attr(jj_ev *e, jj_loop *L, const char *a, int line) {
    size_t i = L->index0, n = L->length;
    if (!strcmp(a, "index0")) return jv_int((int64_t)i);
    if (!strcmp(a, "index")) return jv_int((int64_t)i + 1);
    if (!strcmp(a, "revindex")) return jv_int((int64_t)(n - i));
    if (!strcmp(a, "revindex0")) return jv_int((int64_t)(n - i - 1));
    if (!strcmp(a, "first")) return jv_bool(i == 0);
    if (!strcmp(a, "last")) return jv_bool(i + 1 == n);
    if (!strcmp(a, "length")) return jv_int((int64_t)n);
    if (!strcmp(a, "depth")) return jv_int(1);
    if (!strcmp(a, "depth0")) return jv_int(0);
    if (!strcmp(a, "previtem")) return i > 0 ? L->items[i - 1] : undef_named(e, "previtem", 8);
    if (!strcmp(a, "nextitem")) return i + 1 < n ? L->items[i + 1] : undef_named(e, "nextitem", 8);
    (void)line;
    return undef_named(e, a, strlen(a));
}

jv jj_getattr(jj_ev *e, jv obj, const char *a, size_t an, int line) {
    switch (obj.t) {
    case JV_UNDEF: jj_undefined_error(e, line, obj);
    case JV_DICT: {
        jv v;
        if (jj_dict_get_s(obj.u.d, a, an, &v)) return v;
        return undef_named(e, a, an);
    }
    case JV_LOOP: return loop_attr(e, obj.u.loop, a, line);
    default: return undef_named(e, a, an);
    }
}

/* Python index normalization; returns 0 if out of range. */
static int norm_index(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return 0;
    *out = (size_t)i;
    return 1;
}

/* Byte offset of code point k in s (k <= count). */
static size_t cp_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    while (k && i < n) {
        jj_utf8_next(s, n, &i);
        k--;
    }
    return i;
}

jv jj_getitem(jj_ev *e, jv obj, jv key, int line) {
    switch (obj.t) {
    case JV_UNDEF: jj_undefined_error(e, line, obj);
    case JV_DICT: {
        jv v;
        if (!obj.u.d->ns && jj_dict_get(obj.u.d, key, &v)) return v;
        if (key.t == JV_STR) return jj_getattr(e, obj, key.u.s->s, key.u.s->len, line);
        return jv_undef;
    }
    case JV_LIST:
        if (key.t == JV_INT || key.t == JV_BOOL) {
            size_t i;
            if (norm_index(key.t == JV_INT ? key.u.i : key.u.b, obj.u.l->n, &i)) return obj.u.l->v[i];
        }
        return jv_undef;
    case JV_STR:
        if (key.t == JV_INT || key.t == JV_BOOL) {
            size_t n = jj_utf8_count(obj.u.s->s, obj.u.s->len), i;
            if (norm_index(key.t == JV_INT ? key.u.i : key.u.b, n, &i)) {
                size_t a = cp_offset(obj.u.s->s, obj.u.s->len, i), b = a;
                jj_utf8_next(obj.u.s->s, obj.u.s->len, &b);
                return jv_str(e->c, obj.u.s->s + a, b - a);
            }
        }
        return jv_undef;
    case JV_LOOP:
        if (key.t == JV_STR) return loop_attr(e, obj.u.loop, key.u.s->s, line);
        return jv_undef;
    default: return jv_undef;
    }
}

static int64_t slice_int(jj_ev *e, jv v, int line) {
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    jj_fail(e->c, OMNIC_EINVAL, line, "slice indices must be integers or None, not %s", jv_type_name(v));
}

/* Python slice index resolution (CPython's PySlice_AdjustIndices). */
static void slice_indices(int64_t n, int has_start, int64_t start, int has_stop, int64_t stop, int64_t step,
                          int64_t *s0, int64_t *s1) {
    if (!has_start)
        start = step < 0 ? n - 1 : 0;
    else {
        if (start < 0) start += n;
        if (start < 0) start = step < 0 ? -1 : 0;
        if (start >= n) start = step < 0 ? n - 1 : n;
    }
    if (!has_stop)
        stop = step < 0 ? -1 : n;
    else {
        if (stop < 0) stop += n;
        if (stop < 0) stop = step < 0 ? -1 : 0;
        if (stop >= n) stop = step < 0 ? n - 1 : n;
    }
    *s0 = start;
    *s1 = stop;
}

jv jj_slice(jj_ev *e, jv obj, jv vstart, jv vstop, jv vstep, int line) {
    if (obj.t == JV_UNDEF) jj_undefined_error(e, line, obj);
    int64_t step = vstep.t == JV_NONE || vstep.t == JV_UNDEF ? 1 : slice_int(e, vstep, line);
    if (step == 0) jj_fail(e->c, OMNIC_EINVAL, line, "slice step cannot be zero");
    int hs = !(vstart.t == JV_NONE || vstart.t == JV_UNDEF), he = !(vstop.t == JV_NONE || vstop.t == JV_UNDEF);
    int64_t a = hs ? slice_int(e, vstart, line) : 0, b = he ? slice_int(e, vstop, line) : 0;
    if (obj.t == JV_LIST) {
        jj_list *l = obj.u.l;
        int64_t s0, s1;
        slice_indices((int64_t)l->n, hs, a, he, b, step, &s0, &s1);
        jv r = jv_list(e->c, 0);
        r.u.l->tuple = l->tuple;
        for (int64_t i = s0; step > 0 ? i < s1 : i > s1; i += step) jj_list_push(e->c, r.u.l, l->v[i]);
        return r;
    }
    if (obj.t == JV_STR) {
        const char *s = obj.u.s->s;
        size_t n = obj.u.s->len, ncp = jj_utf8_count(s, n);
        int64_t s0, s1;
        slice_indices((int64_t)ncp, hs, a, he, b, step, &s0, &s1);
        if (step == 1) {
            if (s1 <= s0) return jv_str(e->c, "", 0);
            size_t o0 = cp_offset(s, n, (size_t)s0), o1 = o0 + cp_offset(s + o0, n - o0, (size_t)(s1 - s0));
            return jv_str(e->c, s + o0, o1 - o0);
        }
        size_t *offs = jj_alloc(e->c, (ncp + 1) * sizeof *offs);
        size_t i = 0, k = 0;
        while (i < n) {
            offs[k++] = i;
            jj_utf8_next(s, n, &i);
        }
        offs[k] = n;
        jj_buf out = {0};
        jj_buf_put(e->c, &out, "", 0);
        for (int64_t j = s0; step > 0 ? j < s1 : j > s1; j += step)
            jj_buf_put(e->c, &out, s + offs[j], offs[j + 1] - offs[j]);
        return jv_strbuf(e->c, &out);
    }
    jj_fail(e->c, OMNIC_EINVAL, line, "'%s' object is not subscriptable", jv_type_name(obj));
}

/* ---- iteration ----------------------------------------------------------------------- */

jj_list *jj_iterate(jj_ev *e, jv v, int line) {
    switch (v.t) {
    case JV_UNDEF: return jv_list(e->c, 0).u.l;
    case JV_LIST: return v.u.l;
    case JV_DICT:
        if (!v.u.d->ns) {
            jv l = jv_list(e->c, v.u.d->n);
            for (size_t i = 0; i < v.u.d->n; i++) l.u.l->v[i] = v.u.d->k[i];
            l.u.l->n = v.u.d->n;
            return l.u.l;
        }
        break;
    case JV_STR: {
        jv l = jv_list(e->c, 0);
        const char *s = v.u.s->s;
        size_t n = v.u.s->len, i = 0;
        while (i < n) {
            size_t st = i;
            jj_utf8_next(s, n, &i);
            jj_list_push(e->c, l.u.l, jv_str(e->c, s + st, i - st));
        }
        return l.u.l;
    }
    default: break;
    }
    jj_fail(e->c, OMNIC_EINVAL, line, "'%s' object is not iterable", jv_type_name(v));
}

/* ---- operators ------------------------------------------------------------------------- */

static int is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double as_d(jv v) { return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t as_i(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

_Noreturn static void bad_operands(jj_ev *e, int line, const char *op, jv a, jv b) {
    jj_fail(e->c, OMNIC_EINVAL, line, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(a),
            jv_type_name(b));
}

static jv repeat(jj_ev *e, jv seq, int64_t k, int line) {
    if (k < 0) k = 0;
    if (seq.t == JV_STR) {
        size_t n = seq.u.s->len;
        if (n && (uint64_t)k > (e->max_output + n - 1) / n)
            jj_fail(e->c, OMNIC_EINVAL, line, "string repetition result too large");
        jj_buf b = {0};
        jj_buf_put(e->c, &b, "", 0);
        for (int64_t i = 0; i < k; i++) jj_buf_put(e->c, &b, seq.u.s->s, n);
        return jv_strbuf(e->c, &b);
    }
    jj_list *l = seq.u.l;
    if (l->n && (uint64_t)k > 10000000 / l->n) jj_fail(e->c, OMNIC_EINVAL, line, "list repetition result too large");
    jv r = jv_list(e->c, l->n * (size_t)k);
    r.u.l->tuple = l->tuple;
    for (int64_t i = 0; i < k; i++)
        for (size_t j = 0; j < l->n; j++) jj_list_push(e->c, r.u.l, l->v[j]);
    return r;
}

static int64_t floordiv_i(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

jv jj_binop(jj_ev *e, int op, jv a, jv b, int line) {
    if (op == OP_TILDE) {
        jj_buf buf = {0};
        jj_buf_put(e->c, &buf, "", 0);
        jv_write_str(e->c, &buf, a, line);
        jv_write_str(e->c, &buf, b, line);
        return jv_strbuf(e->c, &buf);
    }
    if (a.t == JV_UNDEF) jj_undefined_error(e, line, a);
    if (b.t == JV_UNDEF) jj_undefined_error(e, line, b);
    static const char *names[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    const char *nm = op >= OP_ADD && op <= OP_POW ? names[op] : "?";
    if (op == OP_MOD && a.t == JV_STR) return jj_printf(e, a, b, line);
    if (is_num(a) && is_num(b)) {
        int fl = a.t == JV_FLOAT || b.t == JV_FLOAT;
        if (!fl) {
            int64_t x = as_i(a), y = as_i(b), r;
            switch (op) {
            case OP_ADD:
                if (__builtin_add_overflow(x, y, &r)) break;
                return jv_int(r);
            case OP_SUB:
                if (__builtin_sub_overflow(x, y, &r)) break;
                return jv_int(r);
            case OP_MUL:
                if (__builtin_mul_overflow(x, y, &r)) break;
                return jv_int(r);
            case OP_DIV:
                if (y == 0) jj_fail(e->c, OMNIC_EINVAL, line, "division by zero");
                return jv_float((double)x / (double)y);
            case OP_FLOORDIV:
            case OP_MOD:
                if (y == 0) jj_fail(e->c, OMNIC_EINVAL, line, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) break;
                if (op == OP_FLOORDIV) return jv_int(floordiv_i(x, y));
                return jv_int(x - floordiv_i(x, y) * y);
            case OP_POW:
                if (y < 0) {
                    if (x == 0) jj_fail(e->c, OMNIC_EINVAL, line, "0.0 cannot be raised to a negative power");
                    return jv_float(pow((double)x, (double)y));
                }
                r = 1;
                for (int64_t i = 0; i < y; i++) {
                    if (__builtin_mul_overflow(r, x, &r))
                        jj_fail(e->c, OMNIC_EINVAL, line, "integer overflow in **");
                    if (r == 0 || r == 1) break;
                }
                if (r == 1 && x == -1 && (y & 1)) r = -1;
                return jv_int(r);
            }
            jj_fail(e->c, OMNIC_EINVAL, line, "integer overflow in %s", nm);
        }
        double x = as_d(a), y = as_d(b);
        switch (op) {
        case OP_ADD: return jv_float(x + y);
        case OP_SUB: return jv_float(x - y);
        case OP_MUL: return jv_float(x * y);
        case OP_DIV:
            if (y == 0) jj_fail(e->c, OMNIC_EINVAL, line, "float division by zero");
            return jv_float(x / y);
        case OP_FLOORDIV:
            if (y == 0) jj_fail(e->c, OMNIC_EINVAL, line, "float floor division by zero");
            return jv_float(floor(x / y));
        case OP_MOD: {
            if (y == 0) jj_fail(e->c, OMNIC_EINVAL, line, "float modulo by zero");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return jv_float(m);
        }
        case OP_POW:
            if (x == 0 && y < 0) jj_fail(e->c, OMNIC_EINVAL, line, "0.0 cannot be raised to a negative power");
            if (x < 0 && y != floor(y)) jj_fail(e->c, OMNIC_EINVAL, line, "complex results of ** are not supported");
            return jv_float(pow(x, y));
        }
    }
    if (op == OP_ADD) {
        if (a.t == JV_STR && b.t == JV_STR) {
            jj_buf buf = {0};
            jj_buf_put(e->c, &buf, a.u.s->s, a.u.s->len);
            jj_buf_put(e->c, &buf, b.u.s->s, b.u.s->len);
            return jv_strbuf(e->c, &buf);
        }
        if (a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
            jv r = jv_list(e->c, a.u.l->n + b.u.l->n);
            r.u.l->tuple = a.u.l->tuple;
            for (size_t i = 0; i < a.u.l->n; i++) jj_list_push(e->c, r.u.l, a.u.l->v[i]);
            for (size_t i = 0; i < b.u.l->n; i++) jj_list_push(e->c, r.u.l, b.u.l->v[i]);
            return r;
        }
        if (a.t == JV_STR)
            jj_fail(e->c, OMNIC_EINVAL, line, "can only concatenate str (not \"%s\") to str", jv_type_name(b));
    }
    if (op == OP_MUL) {
        if ((a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL)) return repeat(e, a, as_i(b), line);
        if ((b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL)) return repeat(e, b, as_i(a), line);
    }
    bad_operands(e, line, nm, a, b);
}

int jj_contains(jj_ev *e, jv hay, jv needle, int line) {
    switch (hay.t) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (needle.t != JV_STR)
            jj_fail(e->c, OMNIC_EINVAL, line, "'in <string>' requires string as left operand, not %s",
                    jv_type_name(needle));
        if (!needle.u.s->len) return 1;
        return jj_memmem(hay.u.s->s, hay.u.s->len, needle.u.s->s, needle.u.s->len) != NULL;
    case JV_LIST:
        for (size_t i = 0; i < hay.u.l->n; i++)
            if (jv_equal(hay.u.l->v[i], needle)) return 1;
        return 0;
    case JV_DICT: {
        if (hay.u.d->ns) break;
        jv v;
        return jj_dict_get(hay.u.d, needle, &v);
    }
    default: break;
    }
    jj_fail(e->c, OMNIC_EINVAL, line, "argument of type '%s' is not iterable", jv_type_name(hay));
}

static int compare_op(jj_ev *e, int op, jv a, jv b, int line) {
    switch (op) {
    case OP_EQ: return jv_equal(a, b);
    case OP_NE: return !jv_equal(a, b);
    case OP_IN: return jj_contains(e, b, a, line);
    case OP_NOTIN: return !jj_contains(e, b, a, line);
    default: break;
    }
    if (a.t == JV_UNDEF) jj_undefined_error(e, line, a);
    if (b.t == JV_UNDEF) jj_undefined_error(e, line, b);
    int r = jv_compare(e->c, line, a, b);
    if (r == 2) return 0; /* NaN */
    switch (op) {
    case OP_LT: return r < 0;
    case OP_LE: return r <= 0;
    case OP_GT: return r > 0;
    default: return r >= 0;
    }
}

/* ---- expressions ---------------------------------------------------------------------- */

void jj_eval_args(jj_ev *e, jj_frame *f, jj_node *n, jj_args *a) {
    memset(a, 0, sizeof *a);
    a->line = n->line;
    a->npos = n->args.n;
    if (a->npos) {
        a->pos = jj_alloc(e->c, a->npos * sizeof(jv));
        for (size_t i = 0; i < a->npos; i++) a->pos[i] = jj_eval(e, f, n->args.v[i]);
    }
    a->nkw = n->kwv.n;
    if (a->nkw) {
        a->kn = n->kwn;
        a->knl = n->kwnl;
        a->kv = jj_alloc(e->c, a->nkw * sizeof(jv));
        for (size_t i = 0; i < a->nkw; i++) a->kv[i] = jj_eval(e, f, n->kwv.v[i]);
    }
}

static jv call_value(jj_ev *e, jv fn, jj_args *a, int line, const char *what) {
    switch (fn.t) {
    case JV_MACRO: return jj_call_macro(e, fn.u.macro, a, line);
    case JV_FUNC: return jj_call_builtin(e, fn.u.func, a, line);
    case JV_CYCLER:
        if (!fn.u.cyc->items) return jj_call_joiner(e, fn.u.cyc, a, line);
        break;
    case JV_UNDEF: jj_undefined_error(e, line, fn);
    default: break;
    }
    jj_fail(e->c, OMNIC_EINVAL, line, "'%s' object is not callable%s%s", jv_type_name(fn), what ? ": " : "",
            what ? what : "");
}

static jv eval_call(jj_ev *e, jj_frame *f, jj_node *n) {
    jj_node *callee = n->a;
    if (callee->kind == E_ATTR) {
        jv obj = jj_eval(e, f, callee->a);
        jj_args a;
        jv out;
        if (obj.t == JV_UNDEF) jj_undefined_error(e, n->line, obj);
        jj_eval_args(e, f, n, &a);
        if (jj_call_method(e, obj, callee->s, callee->sn, &a, &out)) return out;
        jv fn = jj_getattr(e, obj, callee->s, callee->sn, n->line);
        if (fn.t == JV_UNDEF)
            jj_fail(e->c, OMNIC_EINVAL, n->line, "'%s' object has no attribute '%s'", jv_type_name(obj), callee->s);
        return call_value(e, fn, &a, n->line, callee->s);
    }
    jv fn = jj_eval(e, f, callee);
    jj_args a;
    jj_eval_args(e, f, n, &a);
    return call_value(e, fn, &a, n->line, callee->kind == E_NAME ? callee->s : NULL);
}

jv jj_apply_filter_node(jj_ev *e, jj_frame *f, jj_node *n, jv input) {
    jv base = n->a ? (n->a->kind == E_FILTER ? jj_apply_filter_node(e, f, n->a, input) : jj_eval(e, f, n->a)) : input;
    jj_args a;
    jj_eval_args(e, f, n, &a);
    return jj_filter(e, n->s, n->sn, base, &a, n->line);
}

jv jj_eval(jj_ev *e, jj_frame *f, jj_node *n) {
    jj_step(e, n->line);
    switch (n->kind) {
    case E_CONST: return n->val;
    case E_NAME: {
        jv v;
        if (lookup(e, f, n->s, n->sn, &v)) return v;
        return undef_named(e, n->s, n->sn);
    }
    case E_ATTR: return jj_getattr(e, jj_eval(e, f, n->a), n->s, n->sn, n->line);
    case E_ITEM: {
        jv o = jj_eval(e, f, n->a);
        return jj_getitem(e, o, jj_eval(e, f, n->b), n->line);
    }
    case E_SLICE: {
        jv o = jj_eval(e, f, n->a);
        jv s0 = n->b ? jj_eval(e, f, n->b) : jv_none, s1 = n->c ? jj_eval(e, f, n->c) : jv_none,
           st = n->d ? jj_eval(e, f, n->d) : jv_none;
        return jj_slice(e, o, s0, s1, st, n->line);
    }
    case E_CALL: return eval_call(e, f, n);
    case E_FILTER: return jj_apply_filter_node(e, f, n, jv_undef);
    case E_TEST: {
        jv v = jj_eval(e, f, n->a);
        jj_args a;
        jj_eval_args(e, f, n, &a);
        int r = jj_test(e, n->s, n->sn, v, &a, n->line);
        return jv_bool(n->op ? !r : r);
    }
    case E_UNARY: {
        jv v = jj_eval(e, f, n->a);
        if (n->op == OP_NOT) return jv_bool(!jv_truthy(v));
        if (v.t == JV_UNDEF) jj_undefined_error(e, n->line, v);
        if (v.t == JV_FLOAT) return jv_float(n->op == OP_NEG ? -v.u.f : v.u.f);
        if (v.t == JV_INT || v.t == JV_BOOL) {
            int64_t i = as_i(v);
            if (n->op == OP_POS) return jv_int(i);
            if (i == INT64_MIN) jj_fail(e->c, OMNIC_EINVAL, n->line, "integer overflow in unary -");
            return jv_int(-i);
        }
        jj_fail(e->c, OMNIC_EINVAL, n->line, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+",
                jv_type_name(v));
    }
    case E_BINARY: {
        jv a = jj_eval(e, f, n->a);
        if (n->op == OP_AND) return jv_truthy(a) ? jj_eval(e, f, n->b) : a;
        if (n->op == OP_OR) return jv_truthy(a) ? a : jj_eval(e, f, n->b);
        jv b = jj_eval(e, f, n->b);
        return jj_binop(e, n->op, a, b, n->line);
    }
    case E_COMPARE: {
        jv a = jj_eval(e, f, n->args.v[0]);
        for (size_t i = 1; i < n->args.n; i++) {
            jv b = jj_eval(e, f, n->args.v[i]);
            if (!compare_op(e, n->cmp_ops[i - 1], a, b, n->line)) return jv_false;
            a = b;
        }
        return jv_true;
    }
    case E_COND:
        if (jv_truthy(jj_eval(e, f, n->a))) return jj_eval(e, f, n->b);
        return n->c ? jj_eval(e, f, n->c) : jv_undef;
    case E_LIST:
    case E_TUPLE: {
        jv l = jv_list(e->c, n->args.n);
        for (size_t i = 0; i < n->args.n; i++) l.u.l->v[i] = jj_eval(e, f, n->args.v[i]);
        l.u.l->n = n->args.n;
        l.u.l->tuple = n->kind == E_TUPLE;
        return l;
    }
    case E_DICT: {
        jv d = jv_dict(e->c, n->args.n);
        for (size_t i = 0; i < n->args.n; i++) {
            jv k = jj_eval(e, f, n->args.v[i]);
            if (k.t == JV_LIST && !k.u.l->tuple)
                jj_fail(e->c, OMNIC_EINVAL, n->line, "unhashable type: 'list'");
            if (k.t == JV_DICT || k.t == JV_UNDEF)
                jj_fail(e->c, OMNIC_EINVAL, n->line, "unhashable dict key of type '%s'", jv_type_name(k));
            jj_dict_set(e->c, d.u.d, k, jj_eval(e, f, n->kwv.v[i]));
        }
        return d;
    }
    default: jj_fail(e->c, OMNIC_EINVAL, n->line, "internal error: statement used as expression");
    }
}

/* ---- statements ------------------------------------------------------------------------- */

static void assign(jj_ev *e, jj_frame *f, jj_node *t, jv v, int line) {
    if (t->kind == E_NAME) {
        jj_set_var(e, f, t->s, t->sn, v);
        return;
    }
    if (t->kind == E_ATTR) {
        jv ns;
        if (!lookup(e, f, t->a->s, t->a->sn, &ns)) jj_fail(e->c, OMNIC_EINVAL, line, "'%s' is undefined", t->a->s);
        if (ns.t != JV_DICT || !ns.u.d->ns)
            jj_fail(e->c, OMNIC_EINVAL, line, "cannot assign attribute on non-namespace object '%s'", t->a->s);
        jj_dict_set(e->c, ns.u.d, jv_str(e->c, t->s, t->sn), v);
        return;
    }
    /* tuple unpacking */
    jj_list *items = jj_iterate(e, v, line);
    if (items->n != t->args.n)
        jj_fail(e->c, OMNIC_EINVAL, line, "cannot unpack %zu values into %zu names", items->n, t->args.n);
    for (size_t i = 0; i < items->n; i++) jj_set_var(e, f, t->args.v[i]->s, t->args.v[i]->sn, items->v[i]);
}

static void exec_body(jj_ev *e, jj_frame *f, jj_nodes *body);

/* Render body into a fresh buffer; returns it as a string. */
jv jj_capture(jj_ev *e, jj_frame *f, jj_nodes *body) {
    jj_buf *saved = e->out, buf = {0};
    jj_buf_put(e->c, &buf, "", 0);
    e->out = &buf;
    exec_body(e, f, body);
    e->out = saved;
    return jv_strbuf(e->c, &buf);
}

static void exec_for(jj_ev *e, jj_frame *f, jj_node *n) {
    jj_list *src = jj_iterate(e, jj_eval(e, f, n->b), n->line);
    jj_list *items = src;
    if (n->c) {
        items = jv_list(e->c, 0).u.l;
        for (size_t i = 0; i < src->n; i++) {
            jj_frame *tf = jj_frame_new(e, f);
            assign(e, tf, n->a, src->v[i], n->line);
            if (jv_truthy(jj_eval(e, tf, n->c))) jj_list_push(e->c, items, src->v[i]);
        }
    }
    if (!items->n) {
        if (n->els.n) exec_body(e, jj_frame_new(e, f), &n->els);
        return;
    }
    jj_loop *L = jj_alloc(e->c, sizeof *L);
    L->items = items->v;
    L->length = items->n;
    jv lv = {.t = JV_LOOP};
    lv.u.loop = L;
    for (size_t i = 0; i < items->n; i++) {
        jj_step(e, n->line);
        L->index0 = i;
        jj_frame *it = jj_frame_new(e, f);
        assign(e, it, n->a, items->v[i], n->line);
        jj_set_var(e, it, "loop", 4, lv);
        exec_body(e, it, &n->body);
        if (e->brk == 1) {
            e->brk = 0;
            break;
        }
        e->brk = 0;
    }
}

static void exec_stmt(jj_ev *e, jj_frame *f, jj_node *n) {
    jj_step(e, n->line);
    switch (n->kind) {
    case N_TEXT: jj_emit(e, n->s, n->sn, n->line); return;
    case N_OUTPUT: {
        jv v = jj_eval(e, f, n->a);
        if (v.t == JV_STR) {
            jj_emit(e, v.u.s->s, v.u.s->len, n->line);
            return;
        }
        jj_buf b = {0};
        jv_write_str(e->c, &b, v, n->line);
        jj_emit(e, b.p ? b.p : "", b.n, n->line);
        return;
    }
    case N_IF:
        if (jv_truthy(jj_eval(e, f, n->a)))
            exec_body(e, f, &n->body);
        else
            exec_body(e, f, &n->els);
        return;
    case N_FOR: exec_for(e, f, n); return;
    case N_SET: assign(e, f, n->a, jj_eval(e, f, n->b), n->line); return;
    case N_SETBLOCK: {
        jv v = jj_capture(e, f, &n->body);
        if (n->b) v = jj_apply_filter_node(e, f, n->b, v);
        assign(e, f, n->a, v, n->line);
        return;
    }
    case N_MACRO: {
        jj_macro *m = jj_alloc(e->c, sizeof *m);
        m->node = n;
        m->scope = f;
        jv v = {.t = JV_MACRO};
        v.u.macro = m;
        jj_set_var(e, f, n->s, n->sn, v);
        return;
    }
    case N_WITH: {
        jj_frame *w = jj_frame_new(e, f);
        for (size_t i = 0; i < n->args.n; i++) assign(e, w, n->args.v[i], jj_eval(e, w, n->kwv.v[i]), n->line);
        exec_body(e, w, &n->body);
        return;
    }
    case N_FILTERBLK: {
        jv v = jj_capture(e, f, &n->body);
        v = jj_apply_filter_node(e, f, n->a, v);
        jv s = jv_to_string(e->c, v, n->line);
        jj_emit(e, s.u.s->s, s.u.s->len, n->line);
        return;
    }
    case N_BREAK: e->brk = 1; return;
    case N_CONTINUE: e->brk = 2; return;
    default: jj_fail(e->c, OMNIC_EINVAL, n->line, "internal error: expression used as statement");
    }
}

static void exec_body(jj_ev *e, jj_frame *f, jj_nodes *body) {
    for (size_t i = 0; i < body->n && !e->brk; i++) exec_stmt(e, f, body->v[i]);
}

jv jj_call_macro(jj_ev *e, jj_macro *m, jj_args *a, int line) {
    jj_node *n = m->node;
    if (e->depth >= e->max_depth)
        jj_fail(e->c, OMNIC_EINVAL, line, "macro calls nested deeper than %d (recursion?)", e->max_depth);
    jj_frame *fr = jj_frame_new(e, m->scope);
    size_t np = n->args.n;
    jv varargs = jv_list(e->c, 0);
    varargs.u.l->tuple = 1;
    for (size_t i = 0; i < a->npos; i++) {
        if (i < np)
            jj_set_var(e, fr, n->args.v[i]->s, n->args.v[i]->sn, a->pos[i]);
        else
            jj_list_push(e->c, varargs.u.l, a->pos[i]);
    }
    jv kwargs = jv_dict(e->c, 0);
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i = 0;
        for (; i < np; i++)
            if (n->args.v[i]->sn == a->knl[k] && !memcmp(n->args.v[i]->s, a->kn[k], a->knl[k])) break;
        if (i < np) {
            if (i < a->npos)
                jj_fail(e->c, OMNIC_EINVAL, line, "macro '%s' got multiple values for argument '%s'", n->s, a->kn[k]);
            jj_set_var(e, fr, a->kn[k], a->knl[k], a->kv[k]);
        } else
            jj_dict_set(e->c, kwargs.u.d, jv_str(e->c, a->kn[k], a->knl[k]), a->kv[k]);
    }
    for (size_t i = a->npos; i < np; i++) {
        jv tmp;
        if (jj_dict_get_s(fr->vars, n->args.v[i]->s, n->args.v[i]->sn, &tmp)) continue;
        jj_node *def = n->kwv.v[i];
        jv v = def ? jj_eval(e, fr, def) : undef_named(e, n->args.v[i]->s, n->args.v[i]->sn);
        jj_set_var(e, fr, n->args.v[i]->s, n->args.v[i]->sn, v);
    }
    jj_set_var(e, fr, "varargs", 7, varargs);
    jj_set_var(e, fr, "kwargs", 6, kwargs);
    e->depth++;
    int brk = e->brk;
    e->brk = 0;
    jv r = jj_capture(e, fr, &n->body);
    e->brk = brk;
    e->depth--;
    return r;
}

/* ---- public entry point -------------------------------------------------------------- */

static _Thread_local int last_raised;

int jinja_last_error_raised(void) { return last_raised; }

int jinja_render(const jinja_template *t, json_t *vars, const jinja_limits *lim, char **out, size_t *out_len) {
    *out = NULL;
    if (out_len) *out_len = 0;
    last_raised = 0;
    if (!t) return omnic_err(OMNIC_EINVAL, "jinja_render: no template");
    if (vars && !json_is_object(vars)) return omnic_err(OMNIC_EINVAL, "%s: render variables must be a JSON object", t->name);
    jj_ctx *c = calloc(1, sizeof *c);
    jj_ev *e = calloc(1, sizeof *e);
    if (!c || !e) {
        free(c);
        free(e);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    jmp_buf jb;
    c->jmp = &jb;
    c->name = t->name;
    c->limit = lim && lim->max_memory ? lim->max_memory : (size_t)512 << 20;
    e->c = c;
    e->max_output = lim && lim->max_output ? lim->max_output : (size_t)32 << 20;
    e->max_steps = lim && lim->max_steps ? lim->max_steps : 20000000;
    e->max_depth = lim && lim->max_depth ? lim->max_depth : 64;
    if (setjmp(jb)) {
        last_raised = c->raised;
        int code = c->code;
        omnic_err(code, "%s", c->msg);
        jj_arena_free(c);
        free(c);
        free(e);
        return code;
    }
    jv g = jv_from_json(c, vars);
    e->globals = g.t == JV_DICT ? g.u.d : NULL;
    e->out = jj_alloc(c, sizeof *e->out);
    jj_buf_put(c, e->out, "", 0);
    jj_frame *root = jj_frame_new(e, NULL);
    exec_body(e, root, (jj_nodes *)&t->body);
    jj_buf *buf = e->out;
    char *res = malloc(buf->n + 1);
    if (!res) {
        jj_arena_free(c);
        free(c);
        free(e);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    memcpy(res, buf->p, buf->n + 1);
    *out = res;
    if (out_len) *out_len = buf->n;
    jj_arena_free(c);
    free(c);
    free(e);
    return OMNIC_OK;
}
