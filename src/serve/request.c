/* request.c - JSON request parsing and validation for the generation routes
 * (api.md sections 4 and 11): extra_body flattening, null dropping, field
 * types (422) and values (400), message / content-part / tool normalization,
 * and the OpenAI error object. */
#include "serve/request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/sbuf.h"

int api_errf(api_err *e, int status, const char *type, const char *param, const char *fmt, ...) {
    e->status = status;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *api_err_json(const api_err *e) {
    json_t *param = e->param[0] ? json_string(e->param) : json_null();
    /* "params" duplicates "param" for OmniServe clients (api.md 11.1). */
    return json_pack("{s:{s:s, s:s, s:o, s:O, s:i}}", "error", "message", e->msg, "type", e->type, "param", param,
                     "params", param, "code", e->status);
}

/* snprintf for field paths: truncation of absurdly long paths is fine. */
static void fmtp(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmtp(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* 422: the body does not match the schema (wrong type, missing field). */
#define BAD_TYPE(e, param, ...) api_errf(e, 422, "invalid_request_error", param, __VA_ARGS__)
/* 400: a well-typed value the engine does not accept. */
#define BAD_VALUE(e, param, ...) api_errf(e, 400, "BadRequestError", param, __VA_ARGS__)

/* The object key nearest before byte `pos` ("key": ...), to name the field of a
 * JSON syntax error; empty if none. Heuristic: keys may contain escaped quotes. */
static void key_before(const char *b, size_t pos, char *out, size_t cap) {
    out[0] = 0;
    for (size_t i = pos; i-- > 0;) {
        if (b[i] != ':') continue;
        size_t q = i;
        while (q > 0 && (b[q - 1] == ' ' || b[q - 1] == '\t' || b[q - 1] == '\n' || b[q - 1] == '\r')) q--;
        if (q == 0 || b[q - 1] != '"') continue;
        size_t end = q - 1, st = end;
        while (st > 0 && b[st - 1] != '"') st--;
        if (st == 0 || end - st >= cap || end == st) return;
        memcpy(out, b + st, end - st);
        out[end - st] = 0;
        for (char *c = out; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) { out[0] = 0; return; }
        return;
    }
}

json_t *req_parse_json(const char *body, size_t len, api_err *e) {
    json_error_t je;
    if (len == 0) {
        api_errf(e, 422, "invalid_request_error", NULL, "The request body is empty; a JSON object is required");
        return NULL;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        char key[64];
        key_before(body, je.position < 0 ? 0 : (size_t)je.position < len ? (size_t)je.position : len, key, sizeof key);
        api_errf(e, 422, "invalid_request_error", key[0] ? key : NULL, "Invalid JSON body: %s (line %d, column %d%s%s%s)",
                 je.text, je.line, je.column, key[0] ? ", in the value of '" : "", key, key[0] ? "'" : "");
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_errf(e, 422, "invalid_request_error", NULL, "The request body must be a JSON object");
        return NULL;
    }
    json_t *xb = json_object_get(root, "extra_body");
    if (json_is_object(xb)) {
        json_incref(xb);
        json_object_del(root, "extra_body");
        const char *k;
        json_t *v;
        json_object_foreach(xb, k, v) json_object_set(root, k, v);
        json_decref(xb);
    } else if (xb) {
        json_object_del(root, "extra_body");
    }
    /* Null-valued keys are absent (api.md 4.1). */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(root, tmp, k, v) if (json_is_null(v)) json_object_del(root, k);
    return root;
}

int req_get_bool(json_t *o, const char *key, int dflt, int *out, api_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) { *out = dflt; return 0; }
    if (!json_is_boolean(v)) return BAD_TYPE(e, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long dflt, long long *out, api_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v) { *out = dflt; return 0; }
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15) {
        x = (long long)json_real_value(v);
    } else {
        return BAD_TYPE(e, key, "'%s' must be an integer", key);
    }
    if (x < lo || x > hi) {
        if (hi >= (long long)1 << 40) return BAD_VALUE(e, key, "'%s' must be at least %lld, got %lld", key, lo, x);
        return BAD_VALUE(e, key, "'%s' must be in [%lld, %lld], got %lld", key, lo, hi, x);
    }
    *out = x;
    return 0;
}

/* Number in [lo, hi]; *has tells whether it was present. */
static int get_num(json_t *o, const char *key, double lo, double hi, int lo_open, float *out, int *has, api_err *e) {
    json_t *v = json_object_get(o, key);
    if (has) *has = 0;
    if (!v) return 0;
    if (!json_is_number(v)) return BAD_TYPE(e, key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (x < lo || x > hi || (lo_open && x == lo))
        return BAD_VALUE(e, key, "'%s' must be in %s%g, %g], got %g", key, lo_open ? "(" : "[", lo, hi, x);
    *out = (float)x;
    if (has) *has = 1;
    return 0;
}

static const char *get_str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- messages --------------------------------------------------------------- */

static int has_url_scheme(const char *u) {
    if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'))) return 0;
    for (const char *p = u + 1; *p; p++) {
        if (*p == ':') return 1;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
              *p == '-' || *p == '.'))
            return 0;
    }
    return 0;
}

/* Validate one content part; *media set to its kind ("image_url", ...) or NULL. */
static int check_part(json_t *part, const char *where, const char **media, const char **text, api_err *e) {
    *media = NULL;
    *text = NULL;
    if (!json_is_object(part)) return BAD_TYPE(e, where, "%s must be an object", where);
    const char *type = get_str(part, "type");
    if (!type) return BAD_TYPE(e, where, "%s.type must be a string", where);
    char p2[200];
    if (!strcmp(type, "text")) {
        json_t *t = json_object_get(part, "text");
        fmtp(p2, sizeof p2, "%s.text", where);
        if (!json_is_string(t)) return BAD_TYPE(e, p2, "%s must be a string", p2);
        *text = json_string_value(t);
        return 0;
    }
    if (!strcmp(type, "image_url") || !strcmp(type, "video_url")) {
        json_t *iu = json_object_get(part, type);
        json_t *url = json_is_object(iu) ? json_object_get(iu, "url") : NULL;
        fmtp(p2, sizeof p2, "%s.%s.url", where, type);
        if (!json_is_string(url)) return BAD_TYPE(e, p2, "%s must be a string", p2);
        if (!has_url_scheme(json_string_value(url))) return api_errf(e, 422, "validation_error", p2, "Invalid URL format");
        *media = type;
        return 0;
    }
    if (!strcmp(type, "input_audio")) {
        json_t *ia = json_object_get(part, "input_audio");
        fmtp(p2, sizeof p2, "%s.input_audio", where);
        if (!json_is_object(ia)) return BAD_TYPE(e, p2, "%s must be an object", p2);
        fmtp(p2, sizeof p2, "%s.input_audio.data", where);
        if (!json_is_string(json_object_get(ia, "data"))) return BAD_TYPE(e, p2, "%s must be a string", p2);
        fmtp(p2, sizeof p2, "%s.input_audio.format", where);
        json_t *f = json_object_get(ia, "format");
        static const char *fmts[] = {"wav", "mp3", "webm", "ogg", "opus", "flac", "m4a", "aac", "pcm16"};
        int ok = 0;
        for (size_t i = 0; json_is_string(f) && i < sizeof fmts / sizeof *fmts; i++)
            ok |= !strcmp(json_string_value(f), fmts[i]);
        if (f && !ok)
            return BAD_TYPE(e, p2, "%s must be one of wav, mp3, webm, ogg, opus, flac, m4a, aac, pcm16", p2);
        *media = type;
        return 0;
    }
    if (!strcmp(type, "file")) {
        fmtp(p2, sizeof p2, "%s.file", where);
        if (!json_is_object(json_object_get(part, "file"))) return BAD_TYPE(e, p2, "%s must be an object", p2);
        return 0; /* accepted and ignored (api.md 4.3) */
    }
    return BAD_TYPE(e, where, "%s: unknown content part type '%s' (expected text, image_url, video_url, input_audio or file)",
                    where, type);
}

/* Arguments JSON string -> object (api.md 6: always converted; invalid => 400). */
static int norm_tool_calls(json_t *tcs, const char *where, json_t **out, api_err *e) {
    char p[200];
    if (!json_is_array(tcs)) return BAD_TYPE(e, where, "%s must be an array", where);
    json_t *arr = json_array();
    size_t j;
    json_t *tc;
    json_array_foreach(tcs, j, tc) {
        fmtp(p, sizeof p, "%s[%zu]", where, j);
        json_t *fn = json_is_object(tc) ? json_object_get(tc, "function") : NULL;
        if (!json_is_object(fn)) { json_decref(arr); return BAD_TYPE(e, p, "%s.function must be an object", p); }
        const char *name = get_str(fn, "name");
        if (!name) { json_decref(arr); return BAD_TYPE(e, p, "%s.function.name must be a string", p); }
        json_t *a = json_object_get(fn, "arguments"), *args;
        if (!a || json_is_null(a) || (json_is_string(a) && json_string_length(a) == 0)) {
            args = json_object();
        } else if (json_is_object(a)) {
            args = json_incref(a);
        } else if (json_is_string(a)) {
            json_error_t je;
            args = json_loads(json_string_value(a), JSON_DECODE_ANY, &je);
            if (!json_is_object(args)) {
                json_decref(args);
                json_decref(arr);
                fmtp(p, sizeof p, "%s[%zu].function.arguments", where, j);
                return BAD_VALUE(e, p, "%s is not a JSON object text", p);
            }
        } else {
            json_decref(arr);
            fmtp(p, sizeof p, "%s[%zu].function.arguments", where, j);
            return BAD_TYPE(e, p, "%s must be a string", p);
        }
        json_t *id = json_object_get(tc, "id");
        json_array_append_new(arr, json_pack("{s:O?, s:s, s:{s:s, s:o}}", "id", json_is_string(id) ? id : NULL, "type",
                                             "function", "function", "name", name, "arguments", args));
    }
    *out = arr;
    return 0;
}

int req_normalize_messages(json_t *msgs, int track, json_t **out, api_err *e) {
    if (!msgs) return BAD_TYPE(e, "messages", "'messages' is required");
    if (!json_is_array(msgs)) return BAD_TYPE(e, "messages", "'messages' must be an array");
    if (json_array_size(msgs) == 0) return BAD_TYPE(e, "messages", "'messages' must be a non-empty list");
    json_t *res = json_array();
    size_t i;
    json_t *m;
    char where[160], p[200];
    json_array_foreach(msgs, i, m) {
        fmtp(where, sizeof where, "messages[%zu]", i);
        if (!json_is_object(m)) { json_decref(res); return BAD_TYPE(e, where, "%s must be an object", where); }
        const char *role = get_str(m, "role");
        fmtp(p, sizeof p, "%s.role", where);
        if (!role) { json_decref(res); return BAD_TYPE(e, p, "%s must be a string", p); }
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) {
            json_decref(res);
            return BAD_TYPE(e, where, "%s.role '%s' is not one of system, user, assistant, tool", where, role);
        }
        int is_user = !strcmp(role, "user"), is_asst = !strcmp(role, "assistant");
        json_t *c = json_object_get(m, "content"), *nc = NULL;
        fmtp(p, sizeof p, "%s.content", where);
        if (!c || json_is_null(c)) {
            if (!is_asst) { json_decref(res); return BAD_TYPE(e, p, "%s is required for role '%s'", p, role); }
            nc = json_string("");
        } else if (json_is_string(c)) {
            nc = json_incref(c);
        } else if (json_is_array(c)) {
            /* user: text parts kept as parts; other roles: text joined with "\n" */
            sbuf joined;
            sb_init(&joined);
            json_t *parts = json_array();
            size_t j;
            json_t *part;
            int n_text = 0;
            json_array_foreach(c, j, part) {
                char pw[200];
                fmtp(pw, sizeof pw, "%s.content[%zu]", where, j);
                const char *media, *text;
                if (check_part(part, pw, &media, &text, e)) {
                    sb_free(&joined);
                    json_decref(parts);
                    json_decref(res);
                    return -1;
                }
                if (media && is_user) {
                    /* kept for the template and the media encoder (routes_media.c);
                     * Think-32B has no audio input: its audio parts are dropped */
                    if (!(track == TRACK_A && !strcmp(media, "input_audio")))
                        json_array_append(parts, part);
                    continue;
                }
                if (text) {
                    if (n_text++) sb_adds(&joined, "\n");
                    sb_adds(&joined, text);
                    json_array_append_new(parts, json_pack("{s:s, s:s}", "type", "text", "text", text));
                }
            }
            if (is_user) {
                nc = parts;
            } else {
                json_decref(parts);
                nc = json_stringn(joined.s ? joined.s : "", joined.len);
            }
            sb_free(&joined);
        } else {
            json_decref(res);
            return BAD_TYPE(e, p, "%s must be a string, an array of content parts, or null", p);
        }
        if (!nc) { json_decref(res); return api_errf(e, 500, "InternalServerError", NULL, "out of memory"); }
        json_t *nm = json_pack("{s:s, s:o}", "role", role, "content", nc);
        static const char *str_keys[] = {"name", "tool_call_id", "reasoning_content"};
        for (size_t k = 0; k < 3; k++) {
            json_t *v = json_object_get(m, str_keys[k]);
            if (!v || json_is_null(v)) continue;
            fmtp(p, sizeof p, "%s.%s", where, str_keys[k]);
            if (!json_is_string(v)) { json_decref(nm); json_decref(res); return BAD_TYPE(e, p, "%s must be a string", p); }
            json_object_set(nm, str_keys[k], v);
        }
        json_t *tcs = json_object_get(m, "tool_calls");
        if (tcs && !json_is_null(tcs) && is_asst) {
            json_t *ntc = NULL;
            fmtp(p, sizeof p, "%s.tool_calls", where);
            if (norm_tool_calls(tcs, p, &ntc, e)) { json_decref(nm); json_decref(res); return -1; }
            json_object_set_new(nm, "tool_calls", ntc);
        }
        json_array_append_new(res, nm);
    }
    *out = res;
    return 0;
}

/* {type:"function", function:{name, description, parameters}} in that order. */
int req_normalize_tools(json_t *tools, json_t **out, api_err *e) {
    *out = NULL;
    if (!tools) return 0;
    if (!json_is_array(tools)) return BAD_TYPE(e, "tools", "'tools' must be an array");
    if (json_array_size(tools) == 0) return 0;
    json_t *res = json_array();
    size_t i;
    json_t *t;
    char p[96];
    json_array_foreach(tools, i, t) {
        fmtp(p, sizeof p, "tools[%zu]", i);
        const char *type = json_is_object(t) ? get_str(t, "type") : NULL;
        if (!type || strcmp(type, "function")) { json_decref(res); return BAD_TYPE(e, p, "%s.type must be \"function\"", p); }
        json_t *fn = json_object_get(t, "function");
        if (!json_is_object(fn)) { json_decref(res); return BAD_TYPE(e, p, "%s.function must be an object", p); }
        const char *name = get_str(fn, "name");
        if (!name || !*name) { json_decref(res); return BAD_TYPE(e, p, "%s.function.name must be a non-empty string", p); }
        json_t *d = json_object_get(fn, "description"), *pa = json_object_get(fn, "parameters");
        if (d && !json_is_null(d) && !json_is_string(d)) {
            json_decref(res);
            return BAD_TYPE(e, p, "%s.function.description must be a string", p);
        }
        if (pa && !json_is_null(pa) && !json_is_object(pa)) {
            json_decref(res);
            return BAD_TYPE(e, p, "%s.function.parameters must be an object", p);
        }
        json_t *nf = json_object();
        json_object_set_new(nf, "name", json_string(name));
        json_object_set_new(nf, "description", d ? json_incref(d) : json_null());
        json_object_set_new(nf, "parameters", pa ? json_incref(pa) : json_null());
        json_array_append_new(res, json_pack("{s:s, s:o}", "type", "function", "function", nf));
    }
    *out = res;
    return 0;
}

/* ---- the generation request ------------------------------------------------- */

static int parse_stop(gen_req *r, api_err *e) {
    json_t *s = json_object_get(r->body, "stop");
    if (!s) return 0;
    size_t n = json_is_array(s) ? json_array_size(s) : 1;
    if (!json_is_string(s) && !json_is_array(s)) return BAD_TYPE(e, "stop", "'stop' must be a string or an array of strings");
    if (n > 64) return BAD_VALUE(e, "stop", "'stop' has %zu entries; at most 64 are allowed", n);
    r->stop = calloc(n ? n : 1, sizeof *r->stop);
    if (!r->stop) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(s) ? json_array_get(s, i) : s;
        if (!json_is_string(v)) return BAD_TYPE(e, "stop", "'stop[%zu]' must be a string", i);
        if (json_string_length(v) == 0) continue; /* an empty stop string never matches */
        if (json_string_length(v) > 4096) return BAD_VALUE(e, "stop", "'stop[%zu]' is longer than 4096 bytes", i);
        r->stop[r->n_stop] = strdup(json_string_value(v));
        if (!r->stop[r->n_stop]) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
        r->n_stop++;
    }
    return 0;
}

static int parse_ids_field(json_t *body, const char *key, int32_t **ids, int *n, api_err *e) {
    json_t *a = json_object_get(body, key);
    if (!a) return 0;
    if (!json_is_array(a)) return BAD_TYPE(e, key, "'%s' must be an array of integers", key);
    *ids = malloc((json_array_size(a) + 1) * sizeof **ids);
    if (!*ids) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v)) return BAD_TYPE(e, key, "'%s[%zu]' must be an integer", key, i);
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > INT32_MAX) return BAD_VALUE(e, key, "'%s[%zu]' = %lld is not a token id", key, i, (long long)x);
        (*ids)[(*n)++] = (int32_t)x;
    }
    return 0;
}

static int parse_logit_bias(gen_req *r, api_err *e) {
    json_t *lb = json_object_get(r->body, "logit_bias");
    if (!lb) return 0;
    if (!json_is_object(lb)) return BAD_TYPE(e, "logit_bias", "'logit_bias' must be an object of token id -> bias");
    size_t n = json_object_size(lb);
    r->bias_ids = malloc((n + 1) * sizeof *r->bias_ids);
    r->bias_vals = malloc((n + 1) * sizeof *r->bias_vals);
    if (!r->bias_ids || !r->bias_vals) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(lb, k, v) {
        char *end;
        long id = strtol(k, &end, 10);
        if (!*k || *end || id < 0 || id > INT32_MAX)
            return BAD_VALUE(e, "logit_bias", "'logit_bias' key '%s' is not a token id", k);
        if (!json_is_number(v)) return BAD_TYPE(e, "logit_bias", "'logit_bias[\"%s\"]' must be a number", k);
        double b = json_number_value(v);
        if (b < -100 || b > 100) return BAD_VALUE(e, "logit_bias", "'logit_bias[\"%s\"]' = %g is outside [-100, 100]", k, b);
        r->bias_ids[r->n_bias] = (int32_t)id;
        r->bias_vals[r->n_bias++] = (float)b;
    }
    return 0;
}

static int parse_prompt(gen_req *r, api_err *e) {
    json_t *p = json_object_get(r->body, "prompt");
    if (!p) return BAD_TYPE(e, "prompt", "'prompt' is required");
    if (json_is_array(p) && json_array_size(p) == 1 &&
        (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0))))
        p = json_array_get(p, 0); /* a batch of one */
    if (json_is_string(p)) {
        if (json_string_length(p) == 0) return BAD_VALUE(e, "prompt", "'prompt' is empty");
        r->prompt_text = json_string_value(p);
        return 0;
    }
    if (!json_is_array(p)) return BAD_TYPE(e, "prompt", "'prompt' must be a string or an array of token ids");
    size_t n = json_array_size(p);
    if (n == 0) return BAD_VALUE(e, "prompt", "'prompt' is empty");
    r->prompt_ids = malloc(n * sizeof *r->prompt_ids);
    if (!r->prompt_ids) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(p, i);
        if (json_is_string(v) || json_is_array(v))
            return BAD_VALUE(e, "prompt", "'prompt' with several prompts (batch) is not supported; send one per request");
        if (!json_is_integer(v)) return BAD_TYPE(e, "prompt", "'prompt[%zu]' must be an integer token id", i);
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > INT32_MAX) return BAD_VALUE(e, "prompt", "'prompt[%zu]' = %lld is not a token id", i, (long long)x);
        r->prompt_ids[i] = (int32_t)x;
    }
    r->n_prompt_ids = n;
    return 0;
}

static int parse_tool_choice(gen_req *r, api_err *e) {
    json_t *tc = json_object_get(r->body, "tool_choice");
    r->tool_choice = r->tools ? TC_AUTO : TC_NONE;
    if (!tc) return 0;
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (!strcmp(s, "none")) { r->tool_choice = TC_NONE; return 0; }
        if (strcmp(s, "auto") && strcmp(s, "required"))
            return BAD_TYPE(e, "tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or a function object");
    } else if (!json_is_object(tc) || !json_is_object(json_object_get(tc, "function")) ||
               !json_is_string(json_object_get(json_object_get(tc, "function"), "name"))) {
        return BAD_TYPE(e, "tool_choice", "'tool_choice' object must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    if (!r->tools) return BAD_VALUE(e, "tool_choice", "When using `tool_choice`, `tools` must be set.");
    if (json_is_string(tc) && !strcmp(json_string_value(tc), "auto")) { r->tool_choice = TC_AUTO; return 0; }
    /* "required" and named functions need constrained decoding (api.md 7.5.4, 15.9). */
    return BAD_VALUE(e, "tool_choice", "'tool_choice' \"required\" and named functions are not supported; use \"auto\"");
}

int req_parse_gen(json_t *body, int track, int is_chat, gen_req *r, api_err *e) {
    memset(r, 0, sizeof *r);
    r->body = body;
    r->track = track;
    r->is_chat = is_chat;
    r->thinking_budget = -1;
    r->max_tokens = -1;
    omnic_sampling_default(&r->sp);
    r->sp.repeat_last_n = -1;
    json_t *b = body;
    long long x;

    json_t *model = json_object_get(b, "model");
    if (model && !json_is_string(model)) return BAD_TYPE(e, "model", "'model' must be a string");
    r->model = model ? json_string_value(model) : NULL;

    if (is_chat) {
        if (req_normalize_messages(json_object_get(b, "messages"), track, &r->messages, e)) return -1;
        if (req_normalize_tools(json_object_get(b, "tools"), &r->tools, e)) return -1;
        if (parse_tool_choice(r, e)) return -1;
        json_t *kw = json_object_get(b, "chat_template_kwargs");
        if (kw && !json_is_object(kw)) return BAD_TYPE(e, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
        r->kwargs = kw;
        r->thinking = kw && json_is_true(json_object_get(kw, "thinking"));
        r->skip_reasoning = kw && json_is_true(json_object_get(kw, "skip_reasoning"));
        r->force_reasoning = kw && json_is_true(json_object_get(kw, "force_reasoning"));
        if (json_object_get(b, "chat_template"))
            return BAD_VALUE(e, "chat_template", "a client-supplied 'chat_template' is not enabled on this server");
        if (req_get_bool(b, "add_generation_prompt", 1, &r->add_generation_prompt, e) ||
            req_get_bool(b, "continue_final_message", 0, &r->continue_final_message, e) ||
            req_get_bool(b, "include_reasoning", 1, &r->include_reasoning, e))
            return -1;
        if (r->add_generation_prompt && r->continue_final_message)
            return BAD_VALUE(e, "continue_final_message",
                             "'continue_final_message' and 'add_generation_prompt' cannot both be true");
        if (get_int(b, "thinking_token_budget", 0, INT32_MAX, -1, &x, e)) return -1;
        r->thinking_budget = (int)x;
        json_t *rf = json_object_get(b, "response_format");
        if (rf) {
            const char *t = json_is_object(rf) ? get_str(rf, "type") : NULL;
            if (!t || (strcmp(t, "text") && strcmp(t, "json_object") && strcmp(t, "json_schema")))
                return BAD_TYPE(e, "response_format", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
            if (!strcmp(t, "json_schema"))
                return BAD_VALUE(e, "response_format", "'response_format' \"json_schema\" is not supported yet; use \"json_object\"");
            r->json_mode = !strcmp(t, "json_object");
        }
        json_t *lp = json_object_get(b, "logprobs");
        if (lp && !json_is_boolean(lp)) return BAD_TYPE(e, "logprobs", "'logprobs' must be a boolean");
        if (json_is_true(lp)) return BAD_VALUE(e, "logprobs", "'logprobs' is not supported yet");
        if (get_int(b, "top_logprobs", 0, 20, 0, &x, e)) return -1;
        if (x > 0) return BAD_VALUE(e, "top_logprobs", "'top_logprobs' is not supported yet");
    } else {
        if (parse_prompt(r, e)) return -1;
        json_t *echo = json_object_get(b, "echo");
        if (echo && !json_is_boolean(echo)) return BAD_TYPE(e, "echo", "'echo' must be a boolean");
        if (json_is_true(echo)) return BAD_VALUE(e, "echo", "'echo' is not supported");
        if (json_object_get(b, "suffix")) return BAD_VALUE(e, "suffix", "'suffix' is not supported");
        if (get_int(b, "logprobs", 0, 20, 0, &x, e)) return -1;
        if (x > 0) return BAD_VALUE(e, "logprobs", "'logprobs' is not supported yet");
    }

    if (req_get_bool(b, "stream", 0, &r->stream, e)) return -1;
    json_t *so = json_object_get(b, "stream_options");
    if (so) {
        if (!json_is_object(so)) return BAD_TYPE(e, "stream_options", "'stream_options' must be an object");
        if (!r->stream) return BAD_VALUE(e, "stream_options", "Stream options can only be defined when `stream=True`.");
        /* OmniServe's schema defaults include_usage to true, OpenAI to false (api.md 4.1). */
        if (req_get_bool(so, "include_usage", track != TRACK_V1, &r->include_usage, e) ||
            req_get_bool(so, "continuous_usage_stats", 0, &r->continuous_usage, e))
            return -1;
    }
    if (get_int(b, "n", 1, 1, 1, &x, e)) {
        if (e->status == 400) snprintf(e->msg, sizeof e->msg, "only 'n' = 1 is supported");
        return -1;
    }
    if (get_int(b, "max_tokens", 1, INT32_MAX, -1, &x, e)) return -1;
    r->max_tokens = x;
    if (get_int(b, "max_completion_tokens", 1, INT32_MAX, -1, &x, e)) return -1;
    if (x >= 0) r->max_tokens = x;
    if (get_int(b, "min_tokens", 0, INT32_MAX, 0, &x, e)) return -1;
    r->min_tokens = (int)x;
    if (r->max_tokens >= 0 && r->min_tokens > r->max_tokens)
        return BAD_VALUE(e, "min_tokens", "'min_tokens' (%d) must not exceed 'max_tokens' (%ld)", r->min_tokens, r->max_tokens);

    omnic_sampling *sp = &r->sp;
    sp->temperature = 1.0f;
    if (get_num(b, "temperature", 0, 100, 0, &sp->temperature, &r->has_temperature, e) ||
        get_num(b, "top_p", 0, 1, 1, &sp->top_p, &r->has_top_p, e) ||
        get_num(b, "min_p", 0, 1, 0, &sp->min_p, NULL, e) ||
        get_num(b, "repetition_penalty", 0, 100, 1, &sp->repeat_penalty, &r->has_rep, e) ||
        get_num(b, "presence_penalty", -2, 2, 0, &sp->presence_penalty, NULL, e) ||
        get_num(b, "frequency_penalty", -2, 2, 0, &sp->frequency_penalty, NULL, e))
        return -1;
    if (get_int(b, "top_k", -1, INT32_MAX, 0, &x, e)) return -1;
    r->has_top_k = json_object_get(b, "top_k") != NULL;
    sp->top_k = x < 0 ? 0 : (int)x;
    json_t *seed = json_object_get(b, "seed");
    if (seed) {
        if (!json_is_integer(seed)) return BAD_TYPE(e, "seed", "'seed' must be an integer");
        sp->seed = (uint64_t)json_integer_value(seed);
        r->has_seed = 1;
    }
    if (parse_stop(r, e) || parse_ids_field(b, "stop_token_ids", &r->stop_ids, &r->n_stop_ids, e) || parse_logit_bias(r, e))
        return -1;
    if (req_get_bool(b, "include_stop_str_in_output", 0, &r->include_stop_str, e) ||
        req_get_bool(b, "ignore_eos", 0, &r->ignore_eos, e) ||
        req_get_bool(b, "skip_special_tokens", 1, &r->skip_special, e))
        return -1;
    r->request_id = get_str(b, "request_id");
    r->user = get_str(b, "user");
    return 0;
}

void req_free(gen_req *r) {
    json_decref(r->body);
    json_decref(r->messages);
    json_decref(r->tools);
    free(r->prompt_ids);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    free(r->stop_ids);
    free(r->bias_ids);
    free(r->bias_vals);
    memset(r, 0, sizeof *r);
}
