/* sbuf.h - a growable byte buffer (always NUL-terminated) used to build HTTP
 * bodies, SSE frames and generated text. Allocation failure is sticky: the
 * buffer keeps its old contents and sb->oom is set. */
#ifndef OMNIC_SERVE_SBUF_H
#define OMNIC_SERVE_SBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

void sb_init(sbuf *b);
void sb_free(sbuf *b);
void sb_clear(sbuf *b);
int sb_reserve(sbuf *b, size_t extra);
void sb_add(sbuf *b, const char *p, size_t n);
void sb_adds(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void sb_consume(sbuf *b, size_t n);
/* Hand the string over (caller frees); the buffer is left empty. */
char *sb_take(sbuf *b);

#endif
