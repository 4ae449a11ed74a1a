/* chat.h - chat prompt formatting (shared/spec/chat.md section 2): which template a
 * model uses, input normalization, rendering through the embedded Jinja interpreter
 * (src/text/jinja.h) and the per-family stop strings of section 4.
 *
 * Families:
 *   "track-a"        OmniServe's Think-32B template (compiled in, byte-exact copy)
 *   "track-b"        OmniServe's Omni-8B template (compiled in)
 *   "hcx-legacy"     omnic's reconstruction of the Think-14B / Text-Instruct format
 *                    (section 2.6; compiled in, used only when asked for)
 *   "model-template" the model folder's own template: chat_template.jinja, else
 *                    chat_template.json {"chat_template"}, else tokenizer_config.json
 *                    "chat_template" (a string, or a list of {name, template}: "default",
 *                    and "tool_use" when tools are given and it exists)
 * Auto-detection (family NULL) reads config.json "architectures" / "model_type":
 * HCXVisionV2ForCausalLM / HyperCLOVAXVisionV2ForConditionalGeneration /
 * hyperclovax_vision_v2 -> track-a; HCXVisionForCausalLM -> track-b; otherwise the
 * folder's own template; no template found -> error naming the folder. */
#ifndef OMNIC_TEXT_CHAT_H
#define OMNIC_TEXT_CHAT_H

#include <stddef.h>

#include <jansson.h>

typedef struct chat_template chat_template;

/* model_dir may be NULL with an explicit compiled-in family. bos/eos/unk/pad/...
 * tokens and additional_special_tokens are read from tokenizer_config.json when present
 * and passed to the template as HF does (bos_token, eos_token, ...). */
int chat_load(const char *model_dir, const char *family, chat_template **out);
void chat_free(chat_template *t);

/* "track-a", "track-b", "hcx-legacy" or "model-template". */
const char *chat_family(const chat_template *t);

/* Render messages (a JSON array string), tools (JSON array string or NULL), kwargs
 * (JSON object string or NULL; chat_template_kwargs, each key a template variable,
 * e.g. {"thinking":true} or {"skip_reasoning":true}). *out is malloc'd. Errors:
 * OMNIC_EINVAL for bad input JSON and template errors, with omnic_errmsg() naming the
 * field (e.g. "messages[2].tool_calls[0].function.arguments: ...") or the template line;
 * raise_exception() in a template gives "...: <its message>". */
int chat_render(const chat_template *t, const char *messages_json, const char *tools_json,
                const char *kwargs_json, int add_generation_prompt, char **out);

/* Flags of chat_render_json. */
enum {
    CHAT_RAW = 1, /* skip the input normalization below (render exactly what is given) */
};

/* Same with parsed JSON (not modified; NULL tools/kwargs = absent). *out_len (may be
 * NULL) receives the exact length (content may contain NUL bytes).
 *
 * Normalization (chat.md 2.1, api.md 4.3 and 6) applied to a copy unless CHAT_RAW:
 *  - assistant content null or absent -> "";
 *  - system / assistant / tool content given as a list of parts -> the text parts
 *    joined with "\n" (other parts dropped); also user lists with "hcx-legacy" (a
 *    text-only format), and with "model-template" user lists made only of text parts;
 *  - user parts {"type":"video_url","video_url":{"url":U}} -> an image_url part with
 *    the same URL (the templates tell videos from images by the URL ending);
 *  - tool_calls[].function.arguments given as a JSON string -> the parsed object
 *    (empty string or absent -> {}); invalid JSON or a non-object -> error;
 *  - each tool -> {"type":"function","function":{"name","description","parameters"}}
 *    in that order (missing description/parameters -> null, other keys dropped; a bare
 *    function object {name, ...} is accepted too).
 * kwargs may not set messages, tools or add_generation_prompt. */
int chat_render_json(const chat_template *t, json_t *messages, json_t *tools, json_t *kwargs,
                     int add_generation_prompt, unsigned flags, char **out, size_t *out_len);

/* Family stop strings (chat.md 4, rule (d)), NULL-terminated. For the 128k models
 * (track-a / track-b or a Think-32B / Omni-8B folder): <|im_end|>, and <|endofturn|>,
 * <|stop|> (use those present in the vocabulary as single tokens). For the legacy
 * family and other folder templates: <|endofturn|>, <|stop|>. The caller adds the
 * eos ids of config.json / generation_config.json and the tokenizer's eos_token. */
const char *const *chat_stop_strings(const chat_template *t);
/* Strings that must never stop generation (e.g. <|im_end|> for the 14B, which closes
 * its reasoning with it; </think> for the 128k models), NULL-terminated. */
const char *const *chat_never_stop_strings(const chat_template *t);

/* The template text in use (for `omnic render-chat --dump-template`). */
const char *chat_template_text(const chat_template *t, size_t *len);

#endif
