/* routes_chat.c - POST .../v1/chat/completions and /v1/completions: validate,
 * render and tokenize the prompt, check the context, submit a generation job
 * to the model's scheduler, then answer in one JSON body (api.md 7) or as an
 * SSE stream of chunks (api.md 9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/media_in.h"
#include "serve/metrics.h"
#include "serve/prompt.h"
#include "serve/routes.h"
#include "serve/speech_out.h"
#include "serve/sse.h"
#include "serve/test_hook.h"

typedef struct gen_ctx {
    http_req *hr;
    server *s;
    serve_model *m;
    gen_req r;
    gen_job *j;
    int family;
    char id[96];
    char model_name[256];
    long created;
    int n_prompt;
    /* streaming state */
    serve_parser *p;
    size_t consumed;
    int sent_first, n_calls;
    int reported;
    int resp_mode;      /* TR_* (routes.h): a transcription answer instead of a chat one */
    double duration_s;  /* transcription: audio length, for verbose_json */
    char voice[64], format[16]; /* TR_SPEECH */
    uint8_t *ref_audio; /* the conversation's last input audio (voice reference) */
    size_t ref_len;
    char language[32];
} gen_ctx;

static void gen_free(gen_ctx *g) {
    if (!g) return;
    if (g->j) {
        job_cancel(g->j);
        job_unref(g->j);
    }
    sp_free(g->p);
    req_free(&g->r);
    free(g->ref_audio);
    free(g);
}

static int tokenize_text(serve_model *m, const char *text, int32_t **ids, size_t *n) {
    return omnic_tokenize(m->tok, text, strlen(text), 1, ids, n);
}

/* Token ids of a marker string (malloc'd), or NULL. */
static int32_t *marker_ids(serve_model *m, const char *s, int *n) {
    int32_t *ids = NULL;
    size_t k = 0;
    *n = 0;
    if (!s || omnic_tokenize(m->tok, s, strlen(s), 1, &ids, &k) || k == 0) { free(ids); return NULL; }
    *n = (int)k;
    return ids;
}

static void make_id(gen_ctx *g, const char *prefix) {
    const char *rid = g->r.request_id;
    char hex[33];
    int ok = rid && *rid && strlen(rid) <= 64;
    for (const char *p = rid; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
    if (!ok) serve_random_hex(hex);
    snprintf(g->id, sizeof g->id, "%s%s", prefix, ok ? rid : hex);
}

static void free_media(omnic_media **media, int n) {
    while (n > 0) omnic_media_free(media[--n]);
    free(media);
}

/* Replace the job's prompt by its media-expanded form: continuous rows get a
 * pseudo id < 0 derived from their content, so the slot cache's prefix match
 * reuses an identical image in a later turn and never a different one. */
static int expand_media(gen_job *j, int dim, const char *what, api_err *e) {
    int n_pos;
    if (omnic_mm_expanded_len(j->prompt, j->n_prompt, j->media, j->n_media, &n_pos))
        return api_errf(e, 400, "BadRequestError", what, "%s", omnic_errmsg());
    int32_t *ids = malloc((size_t)n_pos * sizeof *ids);
    const float **rows = malloc((size_t)n_pos * sizeof *rows);
    if (!ids || !rows || omnic_mm_expand(j->prompt, j->n_prompt, j->media, j->n_media, ids, rows)) {
        free(ids);
        free(rows);
        return api_errf(e, 500, "InternalServerError", NULL, "cannot expand the media: %s", omnic_errmsg());
    }
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n_pos; i++) {
        if (!rows[i]) continue;
        const uint32_t *b = (const uint32_t *)rows[i];
        for (int k = 0; k < dim; k++) h = (h ^ b[k]) * 1099511628211ull;
        h = (h ^ (uint64_t)i) * 1099511628211ull;
        ids[i] = -1 - (int32_t)(h & 0x3fffffff);
    }
    free(j->prompt);
    j->prompt = ids;
    j->prompt_rows = rows;
    j->n_prompt = n_pos;
    return 0;
}

/* Build the job (prompt tokens, limits, sampling). Returns 0 or -1 with *e. */
static int build_job(gen_ctx *g, api_err *e) {
    serve_model *m = g->m;
    gen_req *r = &g->r;
    int32_t *ids = NULL;
    size_t n = 0;
    const char *what = r->is_chat ? "messages" : "prompt";
    omnic_media **media = NULL;
    int n_media = 0;
    if (r->is_chat) {
        char *text = NULL;
        if (media_prepare(g->s, m, r->messages, &media, &n_media, &g->ref_audio, &g->ref_len, e)) return -1;
        if (prompt_render(m, r, &text, e)) {
            free_media(media, n_media);
            return -1;
        }
        int rc = tokenize_text(m, text, &ids, &n);
        free(text);
        if (rc) {
            free_media(media, n_media);
            return api_errf(e, 400, "BadRequestError", what, "cannot tokenize the prompt: %s", omnic_errmsg());
        }
    } else if (r->prompt_text) {
        if (tokenize_text(m, r->prompt_text, &ids, &n))
            return api_errf(e, 400, "BadRequestError", what, "cannot tokenize the prompt: %s", omnic_errmsg());
    } else {
        for (size_t i = 0; i < r->n_prompt_ids; i++)
            if (r->prompt_ids[i] >= m->vocab)
                return api_errf(e, 400, "BadRequestError", what, "'prompt[%zu]' = %d is outside the vocabulary [0, %d)", i,
                                r->prompt_ids[i], m->vocab);
        ids = malloc(r->n_prompt_ids * sizeof *ids);
        if (!ids) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
        memcpy(ids, r->prompt_ids, r->n_prompt_ids * sizeof *ids);
        n = r->n_prompt_ids;
    }
    gen_job *j = g->j = job_new();
    if (!j) {
        free(ids);
        free_media(media, n_media);
        return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    }
    j->prompt = ids;
    j->n_prompt = (int)n;
    j->media = media;
    j->n_media = n_media;
    if (n_media && expand_media(j, m->info->hidden_size, what, e)) return -1;
    n = (size_t)j->n_prompt;
    g->n_prompt = (int)n;
    if (n == 0) return api_errf(e, 400, "BadRequestError", what, "the prompt is empty after tokenization");
    if ((long)n >= m->n_ctx)
        return api_errf(e, 400, "BadRequestError", what,
                        "This model's maximum context length is %d tokens. However, your request has %zu input tokens. "
                        "Please reduce the length of the input.",
                        m->n_ctx, n);
    long room = m->n_ctx - (long)n;
    if (r->max_tokens > room)
        return api_errf(e, 400, "BadRequestError", "max_tokens",
                        "'max_tokens' is too large: %ld. This model's maximum context length is %d tokens and your "
                        "request has %zu input tokens (%ld > %d - %zu).",
                        r->max_tokens, m->n_ctx, n, r->max_tokens, m->n_ctx, n);
    j->max_tokens = (int)(r->max_tokens > 0 ? r->max_tokens : room);
    j->min_tokens = r->min_tokens < j->max_tokens ? r->min_tokens : j->max_tokens;
    for (int i = 0; i < r->n_stop_ids; i++)
        if (r->stop_ids[i] >= m->vocab)
            return api_errf(e, 400, "BadRequestError", "stop_token_ids", "'stop_token_ids[%d]' = %d is outside the vocabulary [0, %d)",
                            i, r->stop_ids[i], m->vocab);
    for (int i = 0; i < r->n_bias; i++)
        if (r->bias_ids[i] >= m->vocab)
            return api_errf(e, 400, "BadRequestError", "logit_bias", "'logit_bias' token %d is outside the vocabulary [0, %d)",
                            r->bias_ids[i], m->vocab);
    /* sampling: request values, else generation_config.json, else OpenAI defaults */
    j->sp = r->sp;
    if (!r->has_temperature && m->has_temp) j->sp.temperature = m->def_temp;
    if (!r->has_top_p && m->has_top_p) j->sp.top_p = m->def_top_p;
    if (!r->has_top_k && m->has_top_k) j->sp.top_k = m->def_top_k;
    if (!r->has_rep && m->has_rep) j->sp.repeat_penalty = m->def_rep;
    if (!r->has_seed) j->sp.seed = serve_random_u64();
    /* repetition_penalty looks at prompt + output (vLLM); presence/frequency at the output only */
    j->penalize_prompt = j->sp.repeat_penalty != 1.0f && j->sp.presence_penalty == 0 && j->sp.frequency_penalty == 0;
    j->stop = r->stop;
    j->n_stop = r->n_stop;
    r->stop = NULL;
    r->n_stop = 0;
    j->include_stop = r->include_stop_str;
    j->stop_ids = r->stop_ids;
    j->n_stop_ids = r->n_stop_ids;
    r->stop_ids = NULL;
    r->n_stop_ids = 0;
    j->ignore_eos = r->ignore_eos;
    j->bias_ids = r->bias_ids;
    j->bias_vals = r->bias_vals;
    j->n_bias = r->n_bias;
    r->bias_ids = NULL;
    r->bias_vals = NULL;
    r->n_bias = 0;
    j->skip_special = r->skip_special;
    j->json_mode = r->json_mode;
    if (r->is_chat) {
        j->keep_special = prompt_keep_special(m);
        if (r->thinking_budget >= 0 && prompt_think_open(g->family) && prompt_think_close(g->family)) {
            j->budget = r->thinking_budget;
            j->think_s = marker_ids(m, prompt_think_open(g->family), &j->n_s);
            j->think_e = marker_ids(m, prompt_think_close(g->family), &j->n_e);
            j->think_c = marker_ids(m, prompt_think_natural_close(g->family), &j->n_c);
            if (!j->think_s || !j->think_e) j->budget = -1;
        }
    }
    test_hook_script(g->s, m, r->user, &j->script, &j->n_script);
    if (g->s->cfg.timeout_s > 0) j->deadline_ms = now_ms() + g->s->cfg.timeout_s * 1e3;
    return 0;
}

static void report(gen_ctx *g) {
    if (g->reported || !g->j) return;
    g->reported = 1;
    gen_job *j = g->j;
    pthread_mutex_lock(&j->mu);
    http_req *hr = g->hr;
    hr->n_prompt = g->n_prompt;
    hr->n_reused = j->n_reused;
    hr->n_gen = j->n_gen;
    hr->ttft_ms = j->t_first > 0 ? j->t_first - j->t_submit : 0;
    hr->tps = j->n_gen > 1 && j->t_end > j->t_first ? (j->n_gen - 1) * 1e3 / (j->t_end - j->t_first) : 0;
    int fin = j->finish == FIN_NONE ? FIN_CANCELLED : j->finish; /* not finished: the client left */
    pthread_mutex_unlock(&j->mu);
    metrics_generation(hr->n_prompt, hr->n_reused, hr->n_gen, hr->ttft_ms, fin);
}

static json_t *usage_json(int p, int c, int details) {
    json_t *u = json_pack("{s:i, s:i, s:i}", "prompt_tokens", p, "total_tokens", p + c, "completion_tokens", c);
    if (details) json_object_set_new(u, "prompt_tokens_details", json_null());
    return u;
}

static json_t *stop_reason_json(gen_job *j) {
    if (j->finish != FIN_STOP) return json_null();
    if (j->stop_str) return json_string(j->stop_str);
    if (j->stop_tok >= 0) return json_integer(j->stop_tok);
    return json_null();
}

/* An error that ended a job, as an API error. */
static void job_error(gen_job *j, api_err *e) {
    switch (j->finish) {
    case FIN_TIMEOUT: api_errf(e, 408, "timeout_error", NULL, "%s", j->err[0] ? j->err : "the request timed out"); break;
    case FIN_SHUTDOWN: api_errf(e, 503, "service_unavailable", NULL, "the server is shutting down"); break;
    case FIN_CANCELLED: api_errf(e, 499, "cancelled", NULL, "the request was cancelled"); break;
    default: api_errf(e, 500, "InternalServerError", NULL, "generation failed: %s", j->err[0] ? j->err : "unknown error");
    }
}

/* Give every tool call an OpenAI id and type (api.md 7.5). */
static void fix_tool_calls(json_t *calls, int streaming) {
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *fn = json_object_get(c, "function");
        if (streaming && !json_object_get(fn, "name")) continue; /* an arguments fragment */
        if (!json_is_string(json_object_get(c, "id"))) {
            char hex[33], id[64];
            serve_random_hex(hex);
            snprintf(id, sizeof id, "chatcmpl-tool-%s", hex);
            json_object_set_new(c, "id", json_string(id));
        }
        if (!json_object_get(c, "type")) json_object_set_new(c, "type", json_string("function"));
    }
}

static const char *finish_name(gen_ctx *g, int fin, int n_calls) {
    if (fin == FIN_LENGTH) return "length";
    if (g->r.is_chat && n_calls > 0 && g->r.tools && g->r.tool_choice == TC_AUTO) return "tool_calls";
    return "stop";
}

/* Speech options of a request (api.md 8.2.2, 15.1; OpenAI's audio {voice, format}). */
static int speech_options(gen_ctx *g, speech_opts *o, api_err *e) {
    json_t *b = g->r.body, *a = json_object_get(b, "audio");
    memset(o, 0, sizeof *o);
    if (a && !json_is_object(a)) return api_errf(e, 400, "invalid_request_error", "audio", "'audio' must be an object");
    json_t *v = json_object_get(a, "voice"), *f = json_object_get(a, "format");
    if ((v && !json_is_string(v)) || (f && !json_is_string(f)))
        return api_errf(e, 400, "invalid_request_error", "audio", "'audio.voice' and 'audio.format' must be strings");
    o->voice = json_string_value(v);
    o->format = json_string_value(f);
    json_t *ir = json_object_get(b, "is_ref_audio");
    o->force_ref = json_is_true(ir);
    const char *mo = json_string_value(json_object_get(b, "media_output"));
    if (mo && strcmp(mo, "inline") && strcmp(mo, "url"))
        return api_errf(e, 400, "invalid_request_error", "media_output", "'media_output' must be 'inline' or 'url'");
    o->inline_data = mo ? !strcmp(mo, "inline") : g->r.track == TRACK_V1;
    if (!o->inline_data && !g->s->cfg.media_dir) {
        if (mo) return api_errf(e, 400, "invalid_request_error", "media_output",
                                "'media_output' 'url' needs the server's media store (--media-dir)");
        o->inline_data = 1;
    }
    o->host = http_header(g->hr, "Host");
    o->ref = g->ref_audio;
    o->ref_len = g->ref_len;
    return 0;
}

/* POST /v1/audio/speech answers: the generated units as encoded audio bytes. */
static enum MHD_Result answer_speech(gen_ctx *g) {
    http_req *hr = g->hr;
    uint8_t *bytes = NULL;
    size_t len = 0;
    const char *mime = NULL;
    api_err e;
    char *text = strndup(g->j->text.s ? g->j->text.s : "", g->j->text.len);
    int rc = !text ? api_errf(&e, 500, "InternalServerError", NULL, "out of memory")
                   : speech_render_text(g->m, text, g->voice[0] ? g->voice : NULL, g->format, &bytes, &len, &mime, &e);
    free(text);
    gen_free(g);
    if (rc) return http_error(hr, &e);
    enum MHD_Result r = http_bytes(hr, 200, mime ? mime : "application/octet-stream", bytes, len);
    free(bytes);
    return r;
}

/* POST /v1/audio/transcriptions answers (OpenAI shapes): the parsed content. */
static enum MHD_Result answer_transcription(gen_ctx *g) {
    http_req *hr = g->hr;
    gen_job *j = g->j;
    char *content = NULL, *reasoning = NULL;
    json_t *calls = NULL, *parts = NULL;
    serve_parser *sp = sp_new(g->m, &g->r, g->family);
    int prc = !sp || sp_feed(sp, j->text.s ? j->text.s : "", j->text.len, NULL) || sp_finish(sp, NULL) ||
              sp_result(sp, &content, &reasoning, &calls, &parts);
    sp_free(sp);
    free(reasoning);
    json_decref(calls);
    json_decref(parts);
    int mode = g->resp_mode;
    double dur = g->duration_s;
    char lang[32];
    snprintf(lang, sizeof lang, "%s", g->language);
    int n_prompt = g->n_prompt, n_gen = j->n_gen;
    gen_free(g);
    if (prc) {
        free(content);
        return http_errorf(hr, 500, "InternalServerError", NULL, "output parsing failed: %s", omnic_errmsg());
    }
    const char *text = content ? content : "";
    size_t tl = strlen(text);
    while (tl && (text[tl - 1] == '\n' || text[tl - 1] == ' ')) tl--;
    while (tl && (*text == '\n' || *text == ' ')) text++, tl--;
    enum MHD_Result r;
    if (mode == TR_TEXT) {
        r = http_bytes(hr, 200, "text/plain; charset=utf-8", text, tl);
    } else {
        json_t *o = json_pack("{s:s%}", "text", text, tl);
        if (o && mode == TR_VERBOSE) {
            json_object_set_new(o, "task", json_string("transcribe"));
            json_object_set_new(o, "language", json_string(lang[0] ? lang : "unknown"));
            json_object_set_new(o, "duration", json_real(dur));
            json_object_set_new(o, "segments", json_array());
        }
        if (o) json_object_set_new(o, "usage", json_pack("{s:s,s:i,s:i,s:i}", "type", "tokens", "input_tokens", n_prompt,
                                                         "output_tokens", n_gen, "total_tokens", n_prompt + n_gen));
        r = o ? http_json(hr, 200, o) : http_errorf(hr, 500, "InternalServerError", NULL, "cannot encode the answer");
    }
    free(content);
    return r;
}

static enum MHD_Result answer_whole(gen_ctx *g) {
    gen_job *j = g->j;
    http_req *hr = g->hr;
    while (!job_wait(j, (size_t)-1, 100))
        if (http_client_gone(hr)) {
            job_cancel(j);
            report(g);
            gen_free(g);
            return MHD_NO;
        }
    report(g);
    if (j->finish != FIN_STOP && j->finish != FIN_LENGTH) {
        api_err e;
        job_error(j, &e);
        gen_free(g);
        if (e.status == 499) return MHD_NO;
        return http_error(hr, &e);
    }
    json_t *choice;
    if (g->resp_mode == TR_SPEECH) return answer_speech(g);
    if (g->resp_mode) return answer_transcription(g);
    if (g->r.is_chat) {
        char *content = NULL, *reasoning = NULL;
        json_t *calls = NULL, *parts = NULL;
        serve_parser *sp = sp_new(g->m, &g->r, g->family);
        int prc = !sp || sp_feed(sp, j->text.s ? j->text.s : "", j->text.len, NULL) || sp_finish(sp, NULL) ||
                  sp_result(sp, &content, &reasoning, &calls, &parts);
        sp_free(sp);
        if (prc) {
            free(content);
            free(reasoning);
            json_decref(calls);
            json_decref(parts);
            gen_free(g);
            return http_errorf(hr, 500, "InternalServerError", NULL, "output parsing failed: %s", omnic_errmsg());
        }
        fix_tool_calls(calls, 0);
        if (!g->r.include_reasoning) { free(reasoning); reasoning = NULL; }
        json_t *audio = NULL;
        if (g->family == FAM_OMNI) {
            speech_opts so;
            api_err e;
            if (speech_options(g, &so, &e) || speech_answer(g->s, g->m, &so, &content, calls, &audio, &e)) {
                free(content);
                free(reasoning);
                json_decref(calls);
                json_decref(parts);
                gen_free(g);
                return http_error(hr, &e);
            }
        }
        json_t *msg = json_pack("{s:s, s:s?, s:s?, s:s?, s:o, s:n, s:n, s:n, s:n, s:n}", "role", "assistant", "content",
                                content, "reasoning", reasoning, "reasoning_content", reasoning, "tool_calls", calls,
                                "refusal", "annotations", "audio", "function_call", "content_parts");
        if (msg && parts) json_object_set(msg, "content_parts", parts);
        if (msg && audio) json_object_set(msg, "audio", audio);
        json_decref(audio);
        json_decref(parts);
        free(content);
        free(reasoning);
        if (!msg) {
            gen_free(g);
            return http_errorf(hr, 500, "InternalServerError", NULL, "cannot encode the answer (invalid UTF-8?)");
        }
        choice = json_pack("{s:i, s:o, s:n, s:s, s:o, s:n}", "index", 0, "message", msg, "logprobs", "finish_reason",
                           finish_name(g, j->finish, (int)json_array_size(calls)), "stop_reason", stop_reason_json(j),
                           "token_ids");
    } else {
        choice = json_pack("{s:i, s:s%, s:n, s:s, s:o}", "index", 0, "text", j->text.s ? j->text.s : "", j->text.len,
                           "logprobs", "finish_reason", finish_name(g, j->finish, 0), "stop_reason", stop_reason_json(j));
    }
    json_t *resp = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:n, s:n, s:o}", "id", g->id, "object",
                             g->r.is_chat ? "chat.completion" : "text_completion", "created", (json_int_t)g->created,
                             "model", g->model_name, "choices", choice, "service_tier", "system_fingerprint", "usage",
                             usage_json(g->n_prompt, j->n_gen, 1));
    gen_free(g);
    if (!resp) return http_errorf(hr, 500, "InternalServerError", NULL, "cannot encode the answer");
    return http_json(hr, 200, resp);
}

/* ---- streaming ------------------------------------------------------------------ */

static json_t *chunk(gen_ctx *g, json_t *choice, int n_gen) {
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[]}", "id", g->id, "object",
                          g->r.is_chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)g->created,
                          "model", g->model_name, "choices");
    if (choice) json_array_append_new(json_object_get(c, "choices"), choice);
    if (g->r.continuous_usage && n_gen >= 0) json_object_set_new(c, "usage", usage_json(g->n_prompt, n_gen, 0));
    return c;
}

static json_t *delta_choice(json_t *delta) {
    return json_pack("{s:i, s:o, s:n, s:n}", "index", 0, "delta", delta, "logprobs", "finish_reason");
}

/* Emit parser deltas (chat) as chunks. */
static void emit_deltas(gen_ctx *g, json_t *deltas, sbuf *out, int n_gen) {
    size_t i;
    json_t *d;
    json_array_foreach(deltas, i, d) {
        json_t *rc = json_object_get(d, "reasoning_content");
        if (rc) {
            if (!g->r.include_reasoning) continue;
            json_object_set(d, "reasoning", rc);
        }
        json_t *tc = json_object_get(d, "tool_calls");
        if (tc) fix_tool_calls(tc, 1);
        sse_event(out, chunk(g, delta_choice(json_incref(d)), n_gen));
    }
}

static int stream_fill(void *ctx, sbuf *out) {
    gen_ctx *g = ctx;
    gen_job *j = g->j;
    if (!g->sent_first) {
        g->sent_first = 1;
        if (g->r.is_chat)
            sse_event(out, chunk(g, delta_choice(json_pack("{s:s, s:s}", "role", "assistant", "content", "")), 0));
        return 0;
    }
    if (!job_wait(j, g->consumed, 100)) {
        if (http_client_gone(g->hr)) { job_cancel(j); report(g); return -1; }
        return 0;
    }
    pthread_mutex_lock(&j->mu);
    size_t n = j->text.len - g->consumed;
    char *txt = n ? strndup(j->text.s + g->consumed, n) : NULL;
    int fin = j->finish, n_gen = j->n_gen;
    pthread_mutex_unlock(&j->mu);
    g->consumed += n;
    if (n && !txt) return -1;
    json_t *deltas = json_array();
    if (n) {
        if (g->r.is_chat) sp_feed(g->p, txt, n, deltas);
        else json_array_append_new(deltas, json_pack("{s:s%}", "text", txt, n));
    }
    free(txt);
    if (fin == FIN_STOP || fin == FIN_LENGTH) {
        if (g->r.is_chat) sp_finish(g->p, deltas);
    }
    if (g->r.is_chat) {
        emit_deltas(g, deltas, out, n_gen);
    } else {
        size_t i;
        json_t *d;
        json_array_foreach(deltas, i, d)
            sse_event(out, chunk(g, json_pack("{s:i, s:O, s:n, s:n, s:n}", "index", 0, "text", json_object_get(d, "text"),
                                               "logprobs", "finish_reason", "stop_reason"), n_gen));
    }
    json_decref(deltas);
    if (fin == FIN_NONE) return 0;
    report(g);
    if (fin == FIN_CANCELLED) return -1;
    if ((fin == FIN_STOP || fin == FIN_LENGTH) && g->r.is_chat && g->family == FAM_OMNI) {
        /* api.md 15.3: speech is withheld from the deltas and sent as one delta.audio
         * chunk once generation has ended */
        char *content = NULL, *reasoning = NULL;
        json_t *calls = NULL, *parts = NULL, *audio = NULL;
        speech_opts so;
        api_err e;
        if (!sp_result(g->p, &content, &reasoning, &calls, &parts) && !speech_options(g, &so, &e) &&
            !speech_answer(g->s, g->m, &so, &content, calls, &audio, &e) && audio)
            sse_event(out, chunk(g, delta_choice(json_pack("{s:o}", "audio", audio)), n_gen));
        free(content);
        free(reasoning);
        json_decref(calls);
        json_decref(parts);
    }
    if (fin == FIN_STOP || fin == FIN_LENGTH) {
        const char *fr = finish_name(g, fin, g->r.is_chat ? sp_n_calls(g->p) : 0);
        json_t *last = g->r.is_chat
                           ? json_pack("{s:i, s:{}, s:n, s:s, s:o}", "index", 0, "delta", "logprobs", "finish_reason", fr,
                                       "stop_reason", stop_reason_json(j))
                           : json_pack("{s:i, s:s, s:n, s:s, s:o}", "index", 0, "text", "", "logprobs", "finish_reason",
                                       fr, "stop_reason", stop_reason_json(j));
        sse_event(out, chunk(g, last, n_gen));
        if (g->r.include_usage) {
            json_t *u = chunk(g, NULL, -1);
            json_object_set_new(u, "usage", usage_json(g->n_prompt, n_gen, 0));
            sse_event(out, u);
        }
    } else {
        api_err e;
        job_error(j, &e);
        sse_event(out, api_err_json(&e));
    }
    sse_done(out);
    return 1;
}

static void stream_done(void *ctx) {
    gen_ctx *g = ctx;
    report(g);
    gen_free(g);
}

enum MHD_Result route_generate(http_req *hr, int track, int is_chat) {
    server *s = hr->srv;
    api_err e;
    if (atomic_load(&s->stopping)) return http_errorf(hr, 503, "service_unavailable", NULL, "the server is shutting down");
    json_t *body = req_parse_json(hr->body.s, hr->body.len, &e);
    if (!body) return http_error(hr, &e);
    return route_generate_body(hr, track, is_chat, body, NULL);
}

enum MHD_Result route_generate_body(http_req *hr, int track, int is_chat, json_t *body, const gen_extra *x) {
    server *s = hr->srv;
    api_err e;
    gen_ctx *g = calloc(1, sizeof *g);
    if (!g) { json_decref(body); return http_errorf(hr, 500, "InternalServerError", NULL, "out of memory"); }
    g->hr = hr;
    g->s = s;
    g->created = (long)time(NULL);
    if (x) {
        g->resp_mode = x->resp_mode;
        g->duration_s = x->duration_s;
        snprintf(g->language, sizeof g->language, "%s", x->language ? x->language : "");
        snprintf(g->voice, sizeof g->voice, "%s", x->voice ? x->voice : "");
        snprintf(g->format, sizeof g->format, "%s", x->format ? x->format : "mp3");
    }
    if (req_parse_gen(body, track, is_chat, &g->r, &e) || !(g->m = server_find_model(s, track, g->r.model, &e))) {
        gen_free(g);
        return http_error(hr, &e);
    }
    g->family = prompt_family(g->m, track);
    snprintf(g->model_name, sizeof g->model_name, "%s", server_model_name(g->m, track, g->r.model));
    make_id(g, is_chat ? "chatcmpl-" : "cmpl-");
    if (build_job(g, &e)) {
        gen_free(g);
        return http_error(hr, &e);
    }
    if (g->r.stream && is_chat && !(g->p = sp_new(g->m, &g->r, g->family))) {
        gen_free(g);
        return http_errorf(hr, 500, "InternalServerError", NULL, "cannot create the output parser: %s", omnic_errmsg());
    }
    hr->n_prompt = g->n_prompt;
    int rc = sched_submit(g->m->sched, g->j);
    if (rc != SCHED_OK) {
        gen_free(g);
        if (rc == SCHED_FULL)
            return http_errorf(hr, 429, "rate_limit_error", NULL,
                               "The server is busy: all %d slots are in use and the queue (%d) is full; retry later",
                               s->cfg.parallel, s->cfg.queue_max);
        return http_errorf(hr, 503, "service_unavailable", NULL, "the server is shutting down");
    }
    if (!g->r.stream || g->resp_mode) return answer_whole(g);
    return http_stream(hr, 200, SSE_CONTENT_TYPE, stream_fill, stream_done, g);
}
