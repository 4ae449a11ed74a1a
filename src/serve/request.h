/* request.h - JSON request bodies of the OpenAI / OmniServe routes: parsing,
 * extra_body flattening, validation (api.md section 4), and OpenAI error
 * objects (section 11). Nothing here touches a model: model-dependent checks
 * (vocabulary ids, context length) are done by the routes. */
#ifndef OMNIC_SERVE_REQUEST_H
#define OMNIC_SERVE_REQUEST_H
#include <jansson.h>
#include <stdint.h>

#include "omnic.h"

/* An error answer: HTTP status, OpenAI error "type", the offending field. */
typedef struct api_err {
    int status;
    char type[40];
    char param[160];
    char msg[640];
} api_err;

/* Fill *e and return -1. param may be NULL. */
int api_errf(api_err *e, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* {"error": {"message", "type", "param", "params", "code"}} (new reference). */
json_t *api_err_json(const api_err *e);

/* Which URL prefix a request came in on: fixes the model and the rules (api.md 3). */
enum { TRACK_V1 = 0, TRACK_A = 'a', TRACK_B = 'b' };
enum { TC_NONE = 0, TC_AUTO = 1 };

typedef struct gen_req {
    json_t *body;            /* flattened body (owned); the fields below borrow from it */
    int track;               /* TRACK_* */
    int is_chat;             /* chat.completions vs legacy completions */
    const char *model;       /* as sent, or NULL */
    /* chat */
    json_t *messages;        /* normalized copy (owned) */
    json_t *tools;           /* normalized copy (owned) or NULL */
    int tool_choice;         /* TC_* */
    json_t *kwargs;          /* chat_template_kwargs (borrowed) or NULL */
    int thinking, skip_reasoning, force_reasoning; /* kwargs flags that are exactly true */
    int add_generation_prompt, continue_final_message;
    int include_reasoning;
    int thinking_budget;     /* -1: none */
    /* legacy completions */
    const char *prompt_text;
    int32_t *prompt_ids;     /* owned; when prompt is an id array */
    size_t n_prompt_ids;
    /* generation */
    int stream, include_usage, continuous_usage;
    long max_tokens;         /* -1: absent */
    int min_tokens;
    omnic_sampling sp;
    int has_temperature, has_top_p, has_top_k, has_rep;
    int has_seed;
    char **stop;             /* owned copies */
    int n_stop;
    int32_t *stop_ids;       /* owned; range-checked by the route */
    int n_stop_ids;
    int32_t *bias_ids;       /* logit_bias, owned */
    float *bias_vals;
    int n_bias;
    int include_stop_str, ignore_eos, skip_special;
    int json_mode;           /* response_format json_object: constrained decoding */
    const char *request_id, *user;
} gen_req;

/* Parse a body: JSON object, extra_body flattened, null-valued keys dropped.
 * Returns NULL with *e filled (422) on failure. */
json_t *req_parse_json(const char *body, size_t len, api_err *e);

/* Validate a chat-completions (is_chat) or completions body. Takes ownership of
 * body (also on failure, when it is freed by req_free). Returns 0 or -1. */
int req_parse_gen(json_t *body, int track, int is_chat, gen_req *r, api_err *e);
void req_free(gen_req *r);

/* Helpers shared with the tokenize route. Each returns 0 or -1 with *e. */
int req_get_bool(json_t *o, const char *key, int dflt, int *out, api_err *e);
int req_normalize_messages(json_t *msgs, int track, json_t **out, api_err *e);
int req_normalize_tools(json_t *tools, json_t **out, api_err *e);

#endif
