/* speech_out.h - speech in answers and POST /v1/audio/speech (see speech_out.c). */
#ifndef OMNIC_SERVE_SPEECH_OUT_H
#define OMNIC_SERVE_SPEECH_OUT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/serve.h"

typedef struct speech_opts {
    const char *voice;        /* request's audio.voice (a preset), or NULL */
    const char *format;       /* request's audio.format, or NULL: wav */
    int force_ref;            /* is_ref_audio of the request */
    int inline_data;          /* 1: base64 bytes; 0: a media-store URL (needs --media-dir) */
    const char *host;         /* Host header, for URLs */
    const uint8_t *ref;       /* last input audio of the conversation, or NULL */
    size_t ref_len;
} speech_opts;

/* Synthesize the speech of a parsed chat answer: an audio_synthesis call in
 * calls (api.md 8.2.4; the call is removed) or units in *content (8.2.2). On
 * success *audio = {id, data, expires_at, transcript} and *content becomes the
 * transcript; without usable units *content is cleaned (8.3) and *audio NULL.
 * Returns 0, or -1 with *e (bad audio.format, a model without a vocoder). */
int speech_answer(server *s, serve_model *m, const speech_opts *o, char **content, json_t *calls, json_t **audio,
                  api_err *e);
/* The units in a generated text -> encoded audio (POST /v1/audio/speech). */
int speech_render_text(serve_model *m, const char *text, const char *voice, const char *format, uint8_t **out,
                       size_t *len, const char **mime, api_err *e);
/* Release a model's vocoders. */
void speech_state_free(serve_model *m);

#endif
