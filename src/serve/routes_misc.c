/* routes_misc.c - the small routes: GET /health, GET /metrics, model listing
 * (api.md 12.2), POST tokenize (12.3) and GET /media/{name}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/media_store.h"
#include "serve/metrics.h"
#include "serve/prompt.h"
#include "serve/routes.h"

enum MHD_Result route_health(http_req *r) {
    static const char ok[] = "{\"status\":\"ok\"}";
    return http_bytes(r, 200, "application/json", ok, sizeof ok - 1);
}

enum MHD_Result route_metrics(http_req *r) {
    sbuf b;
    sb_init(&b);
    metrics_render(r->srv, &b);
    enum MHD_Result rc = b.oom ? http_errorf(r, 500, "InternalServerError", NULL, "out of memory")
                               : http_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.s, b.len);
    sb_free(&b);
    return rc;
}

static json_t *model_object(const serve_model *m, const char *id) {
    char hex[33], perm[48];
    serve_random_hex(hex);
    snprintf(perm, sizeof perm, "modelperm-%s", hex);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:i, s:[{s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:n, "
                     "s:b}]}",
                     "id", id, "object", "model", "created", (json_int_t)m->created, "owned_by", "omnic", "root", m->root,
                     "parent", "max_model_len", m->n_ctx, "permission", "id", perm, "object", "model_permission",
                     "created", (json_int_t)m->created, "allow_create_engine", 0, "allow_sampling", 1,
                     "allow_logprobs", 1, "allow_search_indices", 0, "allow_view", 1, "allow_fine_tuning", 0,
                     "organization", "*", "group", "is_blocking", 0);
}

/* model_object + the weights' manifest digest (null while it is being computed):
 * lets a client check which weights answer it (`omnic hash -m DIR` prints it). */
static json_t *model_object_digest(const serve_model *m, const char *id) {
    json_t *o = model_object(m, id);
    const char *d = serve_model_digest(m);
    if (o) json_object_set_new(o, "omnic_weights_sha256", d ? json_string(d) : json_null());
    return o;
}

enum MHD_Result route_models(http_req *r, int track, const char *id) {
    server *s = r->srv;
    api_err e;
    if (id) { /* GET /v1/models/{id} */
        serve_model *m = server_find_model(s, TRACK_V1, id, &e);
        if (!m) return http_error(r, &e);
        return http_json(r, 200, model_object_digest(m, m->id));
    }
    json_t *data = json_array();
    if (track == TRACK_V1) {
        for (int i = 0; i < s->n_models; i++) json_array_append_new(data, model_object_digest(&s->models[i], s->models[i].id));
    } else {
        serve_model *m = server_find_model(s, track, NULL, &e);
        if (m) json_array_append_new(data, model_object_digest(m, server_model_name(m, track, NULL)));
    }
    return http_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

enum MHD_Result route_tokenize(http_req *r, int track) {
    api_err e;
    json_t *body = req_parse_json(r->body.s, r->body.len, &e);
    if (!body) return http_error(r, &e);
    gen_req g;
    memset(&g, 0, sizeof g);
    g.body = body;
    g.track = track;
    g.is_chat = 1;
    int ret_strs = 0, rc = -1;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    serve_model *m = NULL;
    json_t *model = json_object_get(body, "model");
    if (model && !json_is_string(model)) { api_errf(&e, 422, "invalid_request_error", "model", "'model' must be a string"); goto out; }
    if (!(m = server_find_model(r->srv, track, json_string_value(model), &e))) goto out;
    g.model = json_string_value(model);
    if (req_get_bool(body, "return_token_strs", 0, &ret_strs, &e)) goto out;
    json_t *prompt = json_object_get(body, "prompt"), *msgs = json_object_get(body, "messages");
    if (!prompt == !msgs) {
        api_errf(&e, 422, "invalid_request_error", prompt ? "prompt" : "messages",
                 "exactly one of 'prompt' and 'messages' is required");
        goto out;
    }
    if (prompt) {
        if (!json_is_string(prompt)) { api_errf(&e, 422, "invalid_request_error", "prompt", "'prompt' must be a string"); goto out; }
        text = strdup(json_string_value(prompt));
    } else {
        json_t *kw = json_object_get(body, "chat_template_kwargs");
        if (kw && !json_is_object(kw)) {
            api_errf(&e, 422, "invalid_request_error", "chat_template_kwargs", "'chat_template_kwargs' must be an object");
            goto out;
        }
        g.kwargs = kw;
        g.thinking = kw && json_is_true(json_object_get(kw, "thinking"));
        g.skip_reasoning = kw && json_is_true(json_object_get(kw, "skip_reasoning"));
        g.force_reasoning = kw && json_is_true(json_object_get(kw, "force_reasoning"));
        if (req_get_bool(body, "add_generation_prompt", 1, &g.add_generation_prompt, &e) ||
            req_get_bool(body, "continue_final_message", 0, &g.continue_final_message, &e))
            goto out;
        if (g.add_generation_prompt && g.continue_final_message) {
            api_errf(&e, 422, "invalid_request_error", "continue_final_message",
                     "'continue_final_message' and 'add_generation_prompt' cannot both be true");
            goto out;
        }
        if (req_normalize_messages(msgs, track, &g.messages, &e) ||
            req_normalize_tools(json_object_get(body, "tools"), &g.tools, &e) || prompt_render(m, &g, &text, &e))
            goto out;
    }
    if (!text) { api_errf(&e, 500, "InternalServerError", NULL, "out of memory"); goto out; }
    if (omnic_tokenize(m->tok, text, strlen(text), 1, &ids, &n)) {
        api_errf(&e, 400, "BadRequestError", prompt ? "prompt" : "messages", "cannot tokenize: %s", omnic_errmsg());
        goto out;
    }
    rc = 0;
out:;
    enum MHD_Result res;
    if (rc) {
        res = http_error(r, &e);
    } else {
        json_t *toks = json_array(), *strs = ret_strs ? json_array() : json_null();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(toks, json_integer(ids[i]));
            if (ret_strs) {
                const char *ts = omnic_token_str(m->tok, ids[i]);
                json_array_append_new(strs, ts ? json_string(ts) : json_null());
            }
        }
        res = http_json(r, 200, json_pack("{s:i, s:i, s:o, s:o}", "count", (int)n, "max_model_len", m->n_ctx, "tokens",
                                          toks, "token_strs", strs));
    }
    free(text);
    free(ids);
    req_free(&g);
    return res;
}

enum MHD_Result route_media(http_req *r, const char *name) {
    if (!r->srv->cfg.media_dir)
        return http_errorf(r, 404, "NotFoundError", NULL, "Not Found: the media store is disabled (--media-dir)");
    return media_serve(r, name);
}
