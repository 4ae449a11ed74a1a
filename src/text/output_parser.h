/* output_parser.h - turns the text a chat model generates into reasoning_content,
 * content and tool calls, incrementally (shared/spec/chat.md §3-4; api.md §5.3, §7.3,
 * §7.5, §9.2, §15.3). Also the stop-string matcher and the thinking-budget state
 * machine of chat.md §4 / api.md §5.3, and the Python-compatible JSON helpers used
 * to type tool-call arguments (json_args.c). Internal header: server and CLI.
 *
 * Input is the decoded text with special tokens KEPT (<think>, </think>, <tool_call>,
 * <|im_end|>, <|audioNNNN|>...). Feed it in pieces of any size (a token, a byte, a
 * whole answer): the deltas and the final result do not depend on how the text was
 * cut. The parser never emits text that may still turn out to be part of a tag: a
 * possible tag prefix at the end of the input (e.g. "</thi", "<tool_c", "<|im_"), and
 * an incomplete UTF-8 sequence, are held back until the next feed or the finish.
 * Every string the parser returns is valid UTF-8: bytes that cannot be decoded become
 * U+FFFD (as a Hugging Face detokenizer does), NUL bytes are kept (use the lengths).
 *
 * Families (which rules apply, chat.md §3 / api.md §3 table):
 *   OUT_FAMILY_THINK   Think-32B, Track A: `</think>` split (7.3.1); XML tool calls whose
 *                      values are typed against the tool's JSON schema (7.5.1).
 *   OUT_FAMILY_HCX_LEGACY  Think-14B: "/think\n" + `<|im_end|>\n<|im_start|>assistant`
 *                      boundary (7.3.2); ` -> tool/function_call\n[...]` (7.5.3).
 *   OUT_FAMILY_PLAIN   Text-Instruct 0.5B/1.5B: no reasoning; 14B tool marker (3.5).
 *   OUT_FAMILY_OMNI    Omni-8B, Track B: `</think>` split; omni tool parser (7.5.2):
 *                      XML calls with string values, <audio_decoder_call> blocks,
 *                      <|discrete_image_start|> runs, <|audioNNNN|> units.
 *
 * Streaming vs. result. Deltas carry text as soon as it is final; tool calls are
 * emitted whole (id, name, complete arguments) once their closing tag is seen (api.md
 * 9.2: any split of `arguments` is compatible). out_parser_result() is the
 * non-streaming message. It equals the concatenation of the deltas, except where the
 * spec's non-streaming rules need the whole text:
 *   - content that is empty becomes null; Track A content that is only whitespace
 *     becomes null when calls were found (7.5.1);
 *   - Track A: when any <tool_call> span fails to parse (no newline after the name,
 *     or an empty name) after a call was already streamed, the result has no calls and
 *     content = the whole text (7.5.1); the stream cannot take the call back;
 *   - Omni with tools: content = 7.5.2 steps 6-7 (transcripts, cleanup) and
 *     content_parts (step 8); the stream sends the raw text;
 *   - Omni: media (<|audioNNNN|>, <|vision...|>, discrete markers, audio/vision
 *     blocks and their markup) never appears in content deltas (api.md 15.3); without
 *     tools the result content keeps it (8.2.2 post-processing needs it);
 *   - 14B/plain: with a tool call, content is kept only when the marker came right
 *     after `<|im_end|>\n<|im_start|>assistant` (7.5.3), else null.
 *
 * Choices where the spec is silent or cannot be done incrementally (documented here):
 *   - 7.3.1 drops everything up to the first <think> anywhere in the text; the parser
 *     drops only a <think> tag met while in the reasoning part (the usual case: the
 *     model opens with <think>). Text after the first </think> is content, verbatim.
 *   - Track A: text outside calls after the first <tool_call> is dropped, like 7.5.1's
 *     "content = text before the first <tool_call>"; an unclosed <tool_call> at the end
 *     is content (raw) when no call was parsed, dropped otherwise (spec).
 *   - 14B outside reasoning mode: `<|im_end|>\n<|im_start|>assistant` in the content is a
 *     separator and is removed (7.3.2 taken literally would move the answer before it
 *     into reasoning, which cannot be streamed). One or more leading "\n" of the
 *     content (the mode-selecting newline) are removed, as after </think>.
 *   - 14B calls need "name" (string) and "arguments" (an object, or a string holding a
 *     JSON object, taken as that object); anything else makes the array malformed.
 *   - Control tokens <|im_end|> <|im_start|> <|endofturn|> <|stop|> <|endoftext|> are
 *     removed from returned text unless keep_control_tokens (skip_special_tokens=false).
 *   - Omni calls are numbered in text order (the units call from bare <|audioNNNN|>
 *     tokens comes last, at the finish); content_parts refer to calls by id.
 *   - Python literal fallback (7.5.1): str (quotes, escapes, implicit concatenation),
 *     int/float (also 0x/0o/0b, underscores), True/False/None, list/tuple/dict; sets,
 *     complex, bytes, integers beyond 64 bits, inf/nan keep the raw string.
 *
 * Tool-call ids: "chatcmpl-tool-" + 32 lowercase hex (api.md 7.5), a deterministic
 * function of (opts.id_seed, call index): the same seed gives the same ids. Give each
 * request its own random seed. */
#ifndef OMNIC_TEXT_OUTPUT_PARSER_H
#define OMNIC_TEXT_OUTPUT_PARSER_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum {
    OUT_FAMILY_THINK = 0,   /* Think-32B (Track A) */
    OUT_FAMILY_HCX_LEGACY,  /* Think-14B */
    OUT_FAMILY_PLAIN,       /* Text-Instruct 0.5B / 1.5B */
    OUT_FAMILY_OMNI,        /* Omni-8B (Track B) */
} out_family;

/* opts.reasoning */
enum {
    OUT_REASON_OFF = 0,  /* no split: all text is content (THINK/OMNI: thinking not true;
                            HCX: skip_reasoning) */
    OUT_REASON_ON = 1,   /* the output starts inside the reasoning (THINK/OMNI: thinking
                            true; HCX: force_reasoning) */
    OUT_REASON_AUTO = 2, /* HCX: reasoning iff the output starts with "/think\n" (the
                            default); THINK/OMNI: same as OFF */
};

typedef struct out_opts {
    out_family family;
    int reasoning;           /* OUT_REASON_*; ignored for PLAIN */
    int parse_tools;         /* tools given and tool_choice auto (api.md 7.5): parse calls */
    const char *tools_json;  /* the request's "tools" array (JSON text) or NULL; Track A
                                types argument values against its schemas */
    uint64_t id_seed;        /* tool-call ids */
    int keep_control_tokens; /* 1: leave <|im_end|> etc. in the returned text */
} out_opts;

typedef enum {
    OUT_CALL_FUNCTION = 0,  /* an ordinary client tool */
    OUT_CALL_IMAGE,         /* t2i_model_generation: arguments.discrete_image_token holds
                               the discrete image token string (api.md 8.1) */
    OUT_CALL_AUDIO,         /* audio_synthesis: arguments has speaker_info+discrete_audio
                               (audio block) or units/format/token_count (bare units) */
} out_call_kind;

typedef struct out_call {
    int index;              /* position in tool_calls, 0-based, in emission order */
    const char *id;         /* "chatcmpl-tool-<32 hex>" */
    const char *name;
    const char *arguments;  /* JSON text of an object */
    out_call_kind kind;
} out_call;

/* What became final during one feed/finish. Pointers are owned by the parser and
 * valid until its next call. Text is never NULL ("" when nothing). */
typedef struct out_delta {
    const char *reasoning; size_t reasoning_len;
    const char *content;   size_t content_len;
    const out_call *calls; int n_calls;  /* calls completed in this step */
} out_delta;

/* The non-streaming message (api.md 7.1), valid after out_parser_finish() until
 * out_parser_free(). */
typedef struct out_result {
    const char *reasoning; size_t reasoning_len;  /* NULL = JSON null */
    const char *content;   size_t content_len;    /* NULL = JSON null */
    const char *raw_content; size_t raw_content_len; /* text after the reasoning split,
                               before tool-call parsing, control tokens removed */
    const out_call *calls; int n_calls;
    const char *tool_calls_json;   /* "[]" or [{"id","type":"function","function":{...}}] */
    const char *content_parts_json; /* Omni with calls (7.5.2 step 8), else NULL */
    int tool_calls_present;        /* n_calls > 0: finish_reason "tool_calls" (7.2) */
} out_result;

typedef struct out_parser out_parser;

/* Returns NULL (message in omnic_errmsg()) on a bad tools_json or out of memory. */
out_parser *out_parser_new_opts(const out_opts *o);
/* Shorthand: parse_tools = (tools_json != NULL); reasoning = starts_in_reasoning ? ON :
 * (HCX ? AUTO : OFF); id_seed 0. */
out_parser *out_parser_new(out_family f, int starts_in_reasoning, const char *tools_json);
void out_parser_free(out_parser *p);

/* Append generated text. Returns OMNIC_OK, OMNIC_EINVAL (after finish), OMNIC_ENOMEM.
 * d may be NULL (the deltas are still accumulated into the result). */
int out_parser_feed(out_parser *p, const char *text, size_t len, out_delta *d);
/* End of generation: flush held text, resolve unclosed tags, build the result. */
int out_parser_finish(out_parser *p, out_delta *d);
/* NULL before out_parser_finish(). */
const out_result *out_parser_result(const out_parser *p);

/* ---- thinking budget (api.md 5.3) --------------------------------------------- */

/* The string whose tokenization is forced when the budget runs out (E), and the one
 * that opens the block (S). THINK: " Now formulate the answer.</think>" / "<think>";
 * OMNI: "</think>" / "<think>"; HCX: "<|im_end|>\n<|im_start|>assistant" / "/think\n"
 * (engine choice: the spec defines no budget for 14B); PLAIN: NULL. */
const char *out_think_close_string(out_family f);
const char *out_think_open_string(out_family f);

typedef struct out_budget {
    int32_t *seq;        /* S, E, C token ids, back to back */
    int nS, nE, nC;
    int budget;          /* < 0: disabled */
    int inside;          /* inside a think block */
    long count;          /* tokens counted inside the block */
    int forcing;         /* -1, or the index in E of the next token to force */
    int32_t *hist; int nhist, hcap;  /* last generated tokens (for S/E/C matching) */
} out_budget;

/* S = tokens of the open string, E = tokens of the forced close string, C = tokens of
 * the natural close "</think>" (may be NULL/0; the model closing the block by itself
 * ends it too, and a prompt ending in an empty think block is not "inside"). The
 * prompt decides whether generation starts inside a block and the initial count.
 * budget < 0 disables everything. Returns OMNIC_OK / OMNIC_EINVAL / OMNIC_ENOMEM. */
int out_budget_init(out_budget *b, const int32_t *S, int nS, const int32_t *E, int nE,
                    const int32_t *C, int nC, int budget, const int32_t *prompt,
                    size_t n_prompt);
/* Token that must be generated at the next step (all other logits suppressed), or -1. */
int32_t out_budget_forced(const out_budget *b);
/* Record the token generated at this step. */
void out_budget_accept(out_budget *b, int32_t tok);
void out_budget_free(out_budget *b);

/* ---- stop conditions (chat.md §4) ----------------------------------------------- */

/* Family rule (d): token strings that end generation, NULL-terminated. The caller
 * maps them to ids (skipping those absent from the vocabulary) and adds the eos ids
 * of generation_config.json / config.json, the tokenizer's eos_token and the
 * request's stop_token_ids. Never stops on </think> (32B/Omni) nor on <|im_end|>
 * (0.5B/1.5B/14B). */
const char *const *out_family_stop_tokens(out_family f);

/* Request `stop` strings (api.md 4.1): holds back text that may be the start of a stop
 * string; on a match, the text up to the match (plus the match when include_stop) is
 * released and the caller ends generation (finish_reason "stop", stop_reason =
 * stops[*which]). The earliest match wins, ties go to the first string listed. */
typedef struct out_stopper out_stopper;
out_stopper *out_stopper_new(const char *const *stops, size_t n, int include_stop);
void out_stopper_free(out_stopper *s);
/* Returns 1 when a stop string matched (then and on later calls *which is its index), 0 otherwise,
 * OMNIC_ENOMEM. *out, *out_len: text safe to pass on (valid until the next call). */
int out_stopper_feed(out_stopper *s, const char *text, size_t len, const char **out,
                     size_t *out_len, int *which);
/* End of generation without a match: release the held text. */
void out_stopper_flush(out_stopper *s, const char **out, size_t *out_len);

/* ---- JSON helpers (json_args.c) --------------------------------------------------- */

/* Growable byte buffer, always NUL-terminated when p != NULL. On allocation failure
 * the buffer keeps its contents and out_buf_oom() becomes true (sticky per thread,
 * cleared by out_buf_oom_clear()). */
typedef struct out_buf { char *p; size_t n, cap; } out_buf;
void out_buf_add(out_buf *b, const char *s, size_t n);
void out_buf_adds(out_buf *b, const char *s);
void out_buf_addc(out_buf *b, char c);
void out_buf_free(out_buf *b);
int out_buf_oom(void);
void out_buf_oom_clear(void);

/* Python json.dumps(v, ensure_ascii=ascii) with the default ", " / ": " separators:
 * keys in stored order, floats as Python repr, non-ASCII as \uXXXX (surrogate pairs)
 * when ascii, invalid UTF-8 bytes as U+FFFD. */
void ja_dump(out_buf *b, const json_t *v, int ascii);
void ja_dump_string(out_buf *b, const char *s, size_t n, int ascii);
void ja_dump_real(out_buf *b, double x);  /* Python repr(float) */
/* Copy s, replacing each byte that does not start a valid UTF-8 sequence by U+FFFD. */
void ja_utf8_sanitize(out_buf *b, const char *s, size_t n);
/* Parse text as JSON (any value, NUL allowed), the Python json.loads way. NULL if not
 * valid JSON. */
json_t *ja_parse_json(const char *s, size_t n);
/* Parse text as a Python literal (ast.literal_eval subset, see above) turned into the
 * JSON value json.dumps would write. NULL if not such a literal. */
json_t *ja_parse_pyliteral(const char *s, size_t n);

#endif
