/* sse.h - Server-Sent Events framing for streamed completions (api.md 9.1):
 * "data: <JSON>\n\n" per event, "data: [DONE]\n\n" at the end. */
#ifndef OMNIC_SERVE_SSE_H
#define OMNIC_SERVE_SSE_H
#include <jansson.h>

#include "serve/sbuf.h"

#define SSE_CONTENT_TYPE "text/event-stream; charset=utf-8"

/* Append one event holding ev (stolen). */
void sse_event(sbuf *out, json_t *ev);
void sse_done(sbuf *out);

#endif
