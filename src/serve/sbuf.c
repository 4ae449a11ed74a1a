/* sbuf.c - growable NUL-terminated byte buffer (see sbuf.h). */
#include "serve/sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(sbuf *b) { memset(b, 0, sizeof *b); }

void sb_free(sbuf *b) {
    free(b->s);
    sb_init(b);
}

void sb_clear(sbuf *b) {
    b->len = 0;
    if (b->s) b->s[0] = 0;
}

int sb_reserve(sbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > ((size_t)-1) / 4 - b->len) { b->oom = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    b->s = s;
    b->cap = cap;
    return 0;
}

void sb_add(sbuf *b, const char *p, size_t n) {
    if (sb_reserve(b, n)) return;
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_adds(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_add(b, tmp, (size_t)n); return; }
    if (sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_consume(sbuf *b, size_t n) {
    if (n >= b->len) { sb_clear(b); return; }
    memmove(b->s, b->s + n, b->len - n);
    b->len -= n;
    b->s[b->len] = 0;
}

char *sb_take(sbuf *b) {
    char *s = b->s;
    if (!s) s = calloc(1, 1);
    sb_init(b);
    return s;
}
