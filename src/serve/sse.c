/* sse.c - Server-Sent Events framing (see sse.h). JSON is dumped compact, so
 * an event never contains a raw newline. */
#include "serve/sse.h"

#include <stdlib.h>

void sse_event(sbuf *out, json_t *ev) {
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!s) { out->oom = 1; return; }
    sb_adds(out, "data: ");
    sb_adds(out, s);
    sb_adds(out, "\n\n");
    free(s);
}

void sse_done(sbuf *out) { sb_adds(out, "data: [DONE]\n\n"); }
