/* jinja.h - a Jinja2 subset interpreter for chat templates (src/text/jinja_*.c).
 *
 * Semantics follow Hugging Face's apply_chat_template environment: an immutable
 * sandbox with trim_blocks and lstrip_blocks on, the loopcontrols extension
 * ({% break %}, {% continue %}), Python value semantics (str(), repr(), truthiness,
 * comparisons, printf-style `%`), default (non-strict) Undefined, no autoescape, and
 * HF's tojson (", "/": " separators, insertion order, no HTML escaping, non-ASCII kept
 * unless ensure_ascii=true). Globals: namespace, range, dict, cycler, joiner,
 * raise_exception, strftime_now. Supported statements: if/elif/else, for (tuple targets,
 * `if` filter, else, loop.*), set (names, tuples, namespace attributes, block set),
 * macro, with, filter blocks, raw, break/continue, generation; include/extends/import
 * and call blocks are rejected with a clear error.
 *
 * Errors never abort the process: jinja_parse / jinja_render return an OMNIC_E* code
 * and set omnic_errmsg() to a message naming the template and line. */
#ifndef OMNIC_TEXT_JINJA_H
#define OMNIC_TEXT_JINJA_H

#include <stddef.h>

#include <jansson.h>

typedef struct jinja_template jinja_template;

/* Resource limits of one render; zero fields take the defaults below. */
typedef struct jinja_limits {
    size_t max_output;  /* bytes of rendered text (default 32 MiB) */
    size_t max_memory;  /* bytes of values allocated while rendering (default 512 MiB) */
    size_t max_steps;   /* evaluated nodes + loop iterations (default 20 million) */
    int max_depth;      /* nested macro calls (default 64) */
} jinja_limits;

/* Parse src[0..len) (UTF-8). `name` labels error messages ("chat template"...).
 * Syntax errors: OMNIC_EFORMAT with "NAME line N: ...". */
int jinja_parse(const char *src, size_t len, const char *name, jinja_template **out);
void jinja_free(jinja_template *t);

/* Render with the keys of `vars` (a JSON object, may be NULL) as top-level variables.
 * JSON integers stay ints and reals stay floats (2.0 prints "2.0"), objects keep their
 * key order. *out is malloc'd, NUL-terminated (the text may itself contain NUL bytes;
 * *out_len is the exact length). raise_exception(msg) fails with OMNIC_EINVAL and the
 * message "NAME: MSG"; other runtime errors also return OMNIC_EINVAL. limits may be NULL. */
int jinja_render(const jinja_template *t, json_t *vars, const jinja_limits *limits, char **out,
                 size_t *out_len);

/* 1 if the last failed jinja_render came from raise_exception() on this thread. */
int jinja_last_error_raised(void);

#endif
