/* prompt.h - the server's only contact with the chat layer: prompt rendering
 * (chat templates, src/text/chat.h), per-family stop tokens, think markers and
 * output parsing of generated text into reasoning / content / tool-call deltas
 * (src/text/output_parser.h). */
#ifndef OMNIC_SERVE_PROMPT_H
#define OMNIC_SERVE_PROMPT_H
#include <jansson.h>
#include <stdint.h>

#include "serve/request.h"
#include "serve/serve.h"

/* Load the model's chat templates and tables (sets m->family, adds the family's
 * stop tokens to m->eos_ids). Returns OMNIC_OK or an error (omnic_errmsg). */
int prompt_model_init(serve_model *m);
void prompt_model_free(serve_model *m);

/* Family whose rules apply to a request on this route (api.md 3). */
int prompt_family(const serve_model *m, int track);

/* Render r's messages into prompt text (malloc'd). 400 on template errors. */
int prompt_render(const serve_model *m, const gen_req *r, char **out, api_err *e);

/* Special tokens the output parser must see even with skip_special_tokens
 * (per token id), or NULL. */
const uint8_t *prompt_keep_special(const serve_model *m);

/* Thinking-budget marker strings (open, forced close, natural close), or NULL
 * when the family has no budget. */
const char *prompt_think_open(int family);
const char *prompt_think_close(int family);
const char *prompt_think_natural_close(int family);

/* Output parser of one chat request. Deltas are appended to `out` (a JSON
 * array) as OpenAI delta objects, in order: {"reasoning_content": s},
 * {"content": s}, {"tool_calls": [{"index", "id", "type", "function"}]}. */
typedef struct serve_parser serve_parser;
serve_parser *sp_new(const serve_model *m, const gen_req *r, int family);
int sp_feed(serve_parser *p, const char *txt, size_t n, json_t *out);
int sp_finish(serve_parser *p, json_t *out);
int sp_n_calls(const serve_parser *p);     /* tool calls emitted so far */
/* After sp_finish: the non-streaming message fields. content / reasoning
 * malloc'd or NULL (JSON null); *tool_calls a new array; *content_parts a new
 * array or NULL. */
int sp_result(serve_parser *p, char **content, char **reasoning, json_t **tool_calls, json_t **content_parts);
void sp_free(serve_parser *p);

#endif
