/* routes.h - route handlers of `omnic serve` (called by http.c's dispatcher
 * after method, API key, body-size and Content-Type checks). */
#ifndef OMNIC_SERVE_ROUTES_H
#define OMNIC_SERVE_ROUTES_H
#include "serve/http.h"

/* POST {,/a,/b}/v1/chat/completions (is_chat) and /v1/completions. */
enum MHD_Result route_generate(http_req *r, int track, int is_chat);

/* Answer shapes for route_generate_body: a chat completion, or a transcription. */
enum { TR_NONE = 0, TR_JSON, TR_TEXT, TR_VERBOSE, TR_SPEECH };
typedef struct gen_extra {
    int resp_mode;          /* TR_* */
    double duration_s;
    const char *language;
    const char *voice, *format;   /* TR_SPEECH */
} gen_extra;
/* The same with an already parsed body (stolen), built by another route. */
enum MHD_Result route_generate_body(http_req *r, int track, int is_chat, json_t *body, const gen_extra *x);
/* POST /v1/audio/speech (OpenAI shape: input, voice, response_format). */
enum MHD_Result route_speech(http_req *r, int track);
/* POST /v1/audio/transcriptions (multipart/form-data, OpenAI shape). */
enum MHD_Result route_transcribe(http_req *r, int track);
/* GET {,/a,/b}/v1/models and /v1/models/{id} (id non-NULL). */
enum MHD_Result route_models(http_req *r, int track, const char *id);
enum MHD_Result route_health(http_req *r);
enum MHD_Result route_metrics(http_req *r);
/* POST {,/a,/b}/tokenize, /v1/tokenize. */
enum MHD_Result route_tokenize(http_req *r, int track);
/* GET /media/{name}. */
enum MHD_Result route_media(http_req *r, const char *name);

#endif
