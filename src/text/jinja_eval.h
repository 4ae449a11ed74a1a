/* jinja_eval.h - evaluator state shared by jinja_eval.c (statements, expressions) and
 * jinja_builtins.c (filters, tests, methods, global functions, printf formatting). */
#ifndef OMNIC_TEXT_JINJA_EVAL_H
#define OMNIC_TEXT_JINJA_EVAL_H

#include "text/jinja_impl.h"

typedef struct jj_frame {
    struct jj_frame *parent;
    jj_dict *vars;
} jj_frame;

typedef struct jj_loop {
    jv *items;
    size_t index0, length;
    jv changed_last;
    int changed_set;
} jj_loop;

typedef struct jj_macro {
    jj_node *node;
    jj_frame *scope; /* frame the macro was defined in */
} jj_macro;

typedef struct jj_ev {
    jj_ctx *c;
    jj_buf *out;      /* current output (swapped while capturing) */
    jj_dict *globals; /* render variables */
    size_t steps, max_steps, max_output;
    int depth, max_depth;
    int brk; /* 1 = break, 2 = continue pending */
} jj_ev;

/* Evaluated call arguments. */
typedef struct jj_args {
    jv *pos;
    size_t npos;
    const char **kn;
    size_t *knl;
    jv *kv;
    size_t nkw;
    int line;
} jj_args;

jv jj_eval(jj_ev *e, jj_frame *f, jj_node *n);
void jj_eval_args(jj_ev *e, jj_frame *f, jj_node *n, jj_args *a);
void jj_step(jj_ev *e, int line);
void jj_emit(jj_ev *e, const char *s, size_t n, int line);
_Noreturn void jj_undefined_error(jj_ev *e, int line, jv u);
jj_frame *jj_frame_new(jj_ev *e, jj_frame *parent);
void jj_set_var(jj_ev *e, jj_frame *f, const char *name, size_t n, jv v);

jv jj_getattr(jj_ev *e, jv obj, const char *a, size_t an, int line);
jv jj_getitem(jj_ev *e, jv obj, jv key, int line);
jv jj_slice(jj_ev *e, jv obj, jv start, jv stop, jv step, int line);
jj_list *jj_iterate(jj_ev *e, jv v, int line);
jv jj_binop(jj_ev *e, int op, jv a, jv b, int line);
int jj_contains(jj_ev *e, jv hay, jv needle, int line);
jv jj_call_macro(jj_ev *e, jj_macro *m, jj_args *a, int line);

/* jinja_builtins.c */
int jj_builtin_global(const char *name, size_t n, jv *out);
jv jj_call_builtin(jj_ev *e, int id, jj_args *a, int line);
jv jj_call_joiner(jj_ev *e, jj_cycler *j, jj_args *a, int line);
/* 1 and *out if `name` is a method of obj's type (str/dict/list/loop/cycler). */
int jj_call_method(jj_ev *e, jv obj, const char *name, size_t n, jj_args *a, jv *out);
jv jj_filter(jj_ev *e, const char *name, size_t n, jv v, jj_args *a, int line);
int jj_test(jj_ev *e, const char *name, size_t n, jv v, jj_args *a, int line);
jv jj_printf(jj_ev *e, jv fmt, jv args, int line); /* Python `fmt % args` */

#endif
