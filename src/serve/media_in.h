/* media_in.h - media content parts of chat requests (see media_in.c). */
#ifndef OMNIC_SERVE_MEDIA_IN_H
#define OMNIC_SERVE_MEDIA_IN_H
#include <jansson.h>

#include "serve/serve.h"

/* Encode every media part of the (normalized, owned) messages in prompt order
 * and rewrite those parts for the template. *out: n_out items (caller frees
 * each with omnic_media_free, then the array). *last_audio (may be NULL): a copy
 * of the last input audio's bytes (the zero-shot voice reference, api.md 8.2.5),
 * malloc'ed, or NULL if none. Returns 0 or -1 with *e. */
int media_prepare(server *s, serve_model *m, json_t *messages, omnic_media ***out, int *n_out, uint8_t **last_audio,
                  size_t *last_len, api_err *e);

#endif
