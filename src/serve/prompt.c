/* prompt.c - adapter between the server and the chat layer (see prompt.h):
 * chat templates (src/text/chat.h: the model's own, plus OmniServe's Track A /
 * Track B templates for the /a and /b prefixes), stop tokens, think markers
 * and the output parser (src/text/output_parser.h). */
#define _GNU_SOURCE /* memmem */
#include "serve/prompt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "serve/models.h"
#include "serve/sbuf.h"
#include "text/chat.h"
#include "text/output_parser.h"

typedef struct chat_state {
    uint8_t *keep;             /* [vocab] special tokens the parser needs */
    chat_template *own;        /* the model's template (NULL: none found) */
    chat_template *track_a, *track_b;
    char own_err[256];
} chat_state;

static out_family to_out_family(int fam) {
    switch (fam) {
    case FAM_THINK32: return OUT_FAMILY_THINK;
    case FAM_OMNI: return OUT_FAMILY_OMNI;
    case FAM_HCX14: return OUT_FAMILY_HCX_LEGACY;
    default: return OUT_FAMILY_PLAIN;
    }
}

/* Special tokens that carry structure the parser reads (tags, control and
 * media tokens); other special tokens are dropped under skip_special_tokens. */
static int parser_token(const char *s) {
    static const char *pre[] = {"<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>",
                                "<arg_value>", "</arg_value>", "<|im_", "<|endofturn|>", "<|stop|>", "<|endoftext|>",
                                "<|audio", "<|vision", "<|discrete_", "<audio_decoder_call>", "</audio_decoder_call>",
                                "<speaker_info>", "</speaker_info>", "<discrete_audio>", "</discrete_audio>",
                                "<user_transcript>", "</user_transcript>", "<assistant_transcript>",
                                "</assistant_transcript>"};
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        if (!strncmp(s, pre[i], strlen(pre[i]))) return 1;
    return 0;
}

/* Family of the model's own template (api.md 3 table). */
static int template_family(const chat_template *t) {
    const char *f = chat_family(t);
    if (!strcmp(f, "track-a")) return FAM_THINK32;
    if (!strcmp(f, "track-b")) return FAM_OMNI;
    if (!strcmp(f, "hcx-legacy")) return FAM_HCX14;
    size_t n = 0;
    const char *txt = chat_template_text(t, &n);
    /* the Think-14B template switches reasoning with these; 0.5B / 1.5B have none */
    if (txt && (memmem(txt, n, "force_reasoning", 15) || memmem(txt, n, "/think", 6))) return FAM_HCX14;
    return FAM_PLAIN;
}

int prompt_model_init(serve_model *m) {
    chat_state *cs = calloc(1, sizeof *cs);
    if (!cs || !(cs->keep = calloc((size_t)m->vocab, 1))) {
        free(cs);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    m->chat = cs;
    int rc;
    if ((rc = chat_load(m->dir, "track-a", &cs->track_a)) || (rc = chat_load(m->dir, "track-b", &cs->track_b)))
        return rc;
    if (chat_load(m->dir, NULL, &cs->own)) {
        /* no usable template: completions still work, chat answers 400 */
        snprintf(cs->own_err, sizeof cs->own_err, "%s", omnic_errmsg());
        fprintf(stderr, "omnic serve: %s: no chat template (%s); /v1/chat/completions will answer 400\n", m->dir,
                cs->own_err);
        const omnic_model_info *I = m->info;
        m->family = (I->has_audio || I->has_discrete_audio || I->has_discrete_vision) ? FAM_OMNI
                    : I->has_vision                                                   ? FAM_THINK32
                                                                                      : FAM_PLAIN;
        for (const char *const *t = out_family_stop_tokens(to_out_family(m->family)); t && *t; t++)
            model_add_stop_token(m, *t);
    } else {
        m->family = template_family(cs->own);
        for (const char *const *t = chat_stop_strings(cs->own); t && *t; t++) model_add_stop_token(m, *t);
        for (const char *const *t = chat_never_stop_strings(cs->own); t && *t; t++) model_remove_stop_token(m, *t);
    }
    for (int32_t id = 0; id < m->vocab; id++) {
        if (!m->special[id]) continue;
        char *txt = NULL;
        size_t n = 0;
        if (omnic_detokenize(m->tok, &id, 1, 0, &txt, &n) == OMNIC_OK && txt && parser_token(txt)) cs->keep[id] = 1;
        free(txt);
    }
    return OMNIC_OK;
}

void prompt_model_free(serve_model *m) {
    chat_state *cs = m->chat;
    if (cs) {
        free(cs->keep);
        chat_free(cs->own);
        chat_free(cs->track_a);
        chat_free(cs->track_b);
    }
    free(cs);
    m->chat = NULL;
}

int prompt_family(const serve_model *m, int track) {
    if (track == TRACK_A) return FAM_THINK32;
    if (track == TRACK_B) return FAM_OMNI;
    return m->family;
}

/* The text of the final message, stripped (continue_final_message). */
static void final_text(json_t *msg, sbuf *b) {
    json_t *c = json_object_get(msg, "content");
    if (json_is_string(c)) {
        sb_add(b, json_string_value(c), json_string_length(c));
    } else {
        size_t i;
        json_t *p;
        json_array_foreach(c, i, p) {
            json_t *t = json_object_get(p, "text");
            if (!json_is_string(t)) continue;
            if (b->len) sb_adds(b, "\n");
            sb_add(b, json_string_value(t), json_string_length(t));
        }
    }
    size_t a = 0, n = b->len;
    while (a < n && isspace((unsigned char)b->s[a])) a++;
    while (n > a && isspace((unsigned char)b->s[n - 1])) n--;
    if (b->s) {
        memmove(b->s, b->s + a, n - a);
        b->len = n - a;
        b->s[b->len] = 0;
    }
}

int prompt_render(const serve_model *m, const gen_req *r, char **out, api_err *e) {
    const chat_state *cs = m->chat;
    const chat_template *t = r->track == TRACK_A ? cs->track_a : r->track == TRACK_B ? cs->track_b : cs->own;
    if (!t)
        return api_errf(e, 400, "BadRequestError", NULL,
                        "this model has no chat template (%s); use /v1/completions with a raw prompt", cs->own_err);
    char *txt = NULL;
    size_t len = 0;
    int add_gen = r->add_generation_prompt && !r->continue_final_message;
    if (chat_render_json(t, r->messages, r->tools, r->kwargs, add_gen, 0, &txt, &len))
        return api_errf(e, 400, "BadRequestError", "messages", "cannot render the chat template: %s", omnic_errmsg());
    if (r->continue_final_message) {
        /* cut right after the final message's text, as transformers does */
        sbuf fin;
        sb_init(&fin);
        final_text(json_array_get(r->messages, json_array_size(r->messages) - 1), &fin);
        if (fin.len) {
            const char *last = NULL;
            for (const char *p = txt; (p = memmem(p, len - (size_t)(p - txt), fin.s, fin.len)); p++) last = p;
            if (!last) {
                sb_free(&fin);
                free(txt);
                return api_errf(e, 400, "BadRequestError", "continue_final_message",
                                "the final message's text does not appear in the rendered prompt");
            }
            len = (size_t)(last - txt) + fin.len;
            txt[len] = 0;
        }
        sb_free(&fin);
    }
    if (memchr(txt, 0, len)) {
        free(txt);
        return api_errf(e, 400, "BadRequestError", "messages", "the rendered prompt contains a NUL character");
    }
    *out = txt;
    return 0;
}

const uint8_t *prompt_keep_special(const serve_model *m) {
    const chat_state *cs = m->chat;
    return cs ? cs->keep : NULL;
}

const char *prompt_think_open(int family) { return out_think_open_string(to_out_family(family)); }
const char *prompt_think_close(int family) { return out_think_close_string(to_out_family(family)); }
const char *prompt_think_natural_close(int family) {
    return family == FAM_THINK32 || family == FAM_OMNI ? "</think>" : NULL;
}

/* ---- output parser ------------------------------------------------------------ */

struct serve_parser {
    out_parser *p;
    int n_calls;
};

serve_parser *sp_new(const serve_model *m, const gen_req *r, int family) {
    (void)m;
    serve_parser *sp = calloc(1, sizeof *sp);
    if (!sp) { omnic_err(OMNIC_ENOMEM, "out of memory"); return NULL; }
    out_opts o;
    memset(&o, 0, sizeof o);
    o.family = to_out_family(family);
    if (family == FAM_HCX14) o.reasoning = r->skip_reasoning ? OUT_REASON_OFF : r->force_reasoning ? OUT_REASON_ON : OUT_REASON_AUTO;
    else o.reasoning = r->thinking ? OUT_REASON_ON : OUT_REASON_OFF;
    o.parse_tools = r->tools && r->tool_choice == TC_AUTO;
    char *tools = r->tools ? json_dumps(r->tools, JSON_COMPACT) : NULL;
    o.tools_json = tools;
    o.id_seed = serve_random_u64();
    o.keep_control_tokens = !r->skip_special;
    sp->p = out_parser_new_opts(&o);
    free(tools);
    if (!sp->p) { free(sp); return NULL; }
    return sp;
}

static void delta_json(serve_parser *sp, const out_delta *d, json_t *out) {
    if (d->reasoning_len)
        json_array_append_new(out, json_pack("{s:s%}", "reasoning_content", d->reasoning, d->reasoning_len));
    if (d->content_len) json_array_append_new(out, json_pack("{s:s%}", "content", d->content, d->content_len));
    if (d->n_calls) {
        json_t *calls = json_array();
        for (int i = 0; i < d->n_calls; i++) {
            const out_call *c = &d->calls[i];
            json_array_append_new(calls, json_pack("{s:i, s:s, s:s, s:{s:s, s:s}}", "index", c->index, "id", c->id, "type",
                                                   "function", "function", "name", c->name, "arguments", c->arguments));
        }
        json_array_append_new(out, json_pack("{s:o}", "tool_calls", calls));
        sp->n_calls += d->n_calls;
    }
}

int sp_feed(serve_parser *sp, const char *txt, size_t n, json_t *out) {
    out_delta d;
    int rc = out_parser_feed(sp->p, txt, n, &d);
    if (rc == OMNIC_OK && out) delta_json(sp, &d, out);
    return rc;
}

int sp_finish(serve_parser *sp, json_t *out) {
    out_delta d;
    int rc = out_parser_finish(sp->p, &d);
    if (rc == OMNIC_OK && out) delta_json(sp, &d, out);
    return rc;
}

int sp_n_calls(const serve_parser *sp) { return sp->n_calls; }

int sp_result(serve_parser *sp, char **content, char **reasoning, json_t **tool_calls, json_t **content_parts) {
    *content = *reasoning = NULL;
    *tool_calls = *content_parts = NULL;
    const out_result *r = out_parser_result(sp->p);
    if (!r) return omnic_err(OMNIC_EINVAL, "output parser: no result before finish");
    if (r->content && !(*content = strndup(r->content, r->content_len))) return OMNIC_ENOMEM;
    if (r->reasoning && !(*reasoning = strndup(r->reasoning, r->reasoning_len))) return OMNIC_ENOMEM;
    json_error_t je;
    *tool_calls = json_loads(r->tool_calls_json ? r->tool_calls_json : "[]", 0, &je);
    if (!json_is_array(*tool_calls)) {
        json_decref(*tool_calls);
        *tool_calls = NULL;
        return omnic_err(OMNIC_EFORMAT, "output parser: tool_calls is not a JSON array: %s", je.text);
    }
    if (r->content_parts_json) *content_parts = json_loads(r->content_parts_json, 0, &je);
    return OMNIC_OK;
}

void sp_free(serve_parser *sp) {
    if (!sp) return;
    out_parser_free(sp->p);
    free(sp);
}
