/* http.c - libmicrohttpd wiring for `omnic serve`: daemon start/stop, request
 * bodies with a size limit, routing table, API key, CORS, JSON / error /
 * streamed responses, client-disconnect detection, one log line per request.
 *
 * Threading: one thread per connection. Handlers may block (waiting for their
 * generation job); they never call the model themselves. */
#include "serve/http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/metrics.h"
#include "serve/routes.h"

/* ---- responses ---------------------------------------------------------------- */

const char *http_header(http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Does the request's Origin match --cors? Returns the value to echo or NULL. */
static const char *cors_origin(http_req *r) {
    const char *allow = r->srv->cfg.cors, *o = http_header(r, "Origin");
    if (!allow || !o) return NULL;
    if (!strcmp(allow, "*")) return o;
    size_t ol = strlen(o);
    for (const char *p = allow; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && *p == ' ') { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        if (n == ol && !strncmp(p, o, n)) return o;
        if (!c) break;
        p = c + 1;
    }
    return NULL;
}

static enum MHD_Result send_resp(http_req *r, int status, struct MHD_Response *resp) {
    if (!resp) return MHD_NO;
    const char *o = cors_origin(r);
    if (o) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", o);
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    r->status = status;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result http_bytes(http_req *r, int status, const char *ctype, const void *data, size_t n) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (ctype) MHD_add_response_header(resp, "Content-Type", ctype);
    return send_resp(r, status, resp);
}

enum MHD_Result http_json(http_req *r, int status, json_t *body) {
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) return http_bytes(r, 500, "application/json",
                              "{\"error\":{\"message\":\"out of memory\",\"type\":\"InternalServerError\",\"param\":null,"
                              "\"params\":null,\"code\":500}}", 97);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(s); return MHD_NO; }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 429) MHD_add_response_header(resp, "Retry-After", "1");
    if (status == 405) MHD_add_response_header(resp, "Allow", "GET, POST, OPTIONS");
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    return send_resp(r, status, resp);
}

enum MHD_Result http_error(http_req *r, const api_err *e) { return http_json(r, e->status, api_err_json(e)); }

enum MHD_Result http_errorf(http_req *r, int status, const char *type, const char *param, const char *fmt, ...) {
    api_err e;
    e.status = status;
    snprintf(e.type, sizeof e.type, "%s", type);
    snprintf(e.param, sizeof e.param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return http_error(r, &e);
}

/* ---- streamed responses ---------------------------------------------------------- */

typedef struct stream {
    http_req *r;
    http_fill_fn fill;
    http_done_fn done;
    void *ctx;
    sbuf out;
    int finished;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    while (st->out.len == 0) {
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        int rc = st->fill(st->ctx, &st->out);
        if (rc < 0 || st->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc == 1) st->finished = 1;
    }
    size_t n = st->out.len < max ? st->out.len : max;
    memcpy(buf, st->out.s, n);
    sb_consume(&st->out, n);
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *st = cls;
    if (st->done) st->done(st->ctx);
    sb_free(&st->out);
    http_req_unref(st->r);
    free(st);
}

enum MHD_Result http_stream(http_req *r, int status, const char *ctype, http_fill_fn fill, http_done_fn done, void *ctx) {
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        if (done) done(ctx);
        return http_errorf(r, 500, "InternalServerError", NULL, "out of memory");
    }
    st->r = r;
    atomic_fetch_add(&r->refs, 1);
    st->fill = fill;
    st->done = done;
    st->ctx = ctx;
    sb_init(&st->out);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return send_resp(r, status, resp);
}

int http_client_gone(http_req *r) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return 1;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return 1;
    return 0;
}

/* ---- request lifecycle ------------------------------------------------------------- */

static void log_request(http_req *r, enum MHD_RequestTerminationCode toe);

/* The last reference logs the request: a stream's statistics are complete only
 * once the stream itself has been released. */
void http_req_unref(http_req *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    log_request(r, r->toe);
    atomic_fetch_sub(&r->srv->active_reqs, 1);
    sb_free(&r->body);
    free(r);
}

static void log_request(http_req *r, enum MHD_RequestTerminationCode toe) {
    if (r->logged) return;
    r->logged = 1;
    double total = now_ms() - r->t0;
    const char *end = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)";
    if (r->n_prompt || r->n_gen) {
        fprintf(stderr,
                "omnic serve: %s %s %s %d prompt=%d reused=%d completion=%d ttft=%.1fms %.1f tok/s total=%.1fms%s\n",
                r->id, r->method, r->path, r->status, r->n_prompt, r->n_reused, r->n_gen, r->ttft_ms, r->tps, total, end);
    } else {
        fprintf(stderr, "omnic serve: %s %s %s %d total=%.1fms%s\n", r->id, r->method, r->path, r->status, total, end);
    }
    metrics_request(r->route[0] ? r->route : "other", r->status, total);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    http_req *r = *con_cls;
    if (!r) return;
    r->toe = toe;
    *con_cls = NULL;
    http_req_unref(r);
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static int api_key_ok(http_req *r) {
    const char *key = r->srv->cfg.api_key, *h = http_header(r, "Authorization");
    if (!key) return 1;
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t a = strlen(h), b = strlen(key);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < a && i < b; i++) diff |= (unsigned char)(h[i] ^ key[i]);
    return diff == 0;
}

static int json_content_type_ok(http_req *r) {
    const char *ct = http_header(r, "Content-Type");
    if (!ct) return 1;
    while (*ct == ' ') ct++;
    if (strncasecmp(ct, "application/json", 16)) return 0;
    ct += 16;
    while (*ct == ' ') ct++;
    return *ct == 0 || *ct == ';';
}

typedef enum { R_GET, R_POST } rmethod;

static enum MHD_Result dispatch(http_req *r) {
    const char *p = r->path;
    int is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"), is_post = !strcmp(r->method, "POST");
    int is_options = !strcmp(r->method, "OPTIONS");
    int track = TRACK_V1;
    const char *rest = p;
    if (starts(p, "/a/") || starts(p, "/b/")) {
        track = p[1];
        rest = p + 2;
    }
    /* classify the path: which method it takes and which handler */
    enum { H_NONE, H_HEALTH, H_METRICS, H_MODELS, H_MODEL, H_CHAT, H_COMPL, H_TOKENIZE, H_MEDIA, H_TRANSCRIBE, H_SPEECH, H_PROXY404 } h = H_NONE;
    rmethod want = R_GET;
    if (track == TRACK_V1 && !strcmp(p, "/health")) h = H_HEALTH;
    else if (track == TRACK_V1 && !strcmp(p, "/metrics")) h = H_METRICS;
    else if (!strcmp(rest, "/v1/models")) h = H_MODELS;
    else if (track == TRACK_V1 && starts(p, "/v1/models/") && p[11]) h = H_MODEL;
    else if (!strcmp(rest, "/v1/chat/completions")) { h = H_CHAT; want = R_POST; }
    else if (!strcmp(rest, "/v1/completions")) { h = H_COMPL; want = R_POST; }
    else if (!strcmp(rest, "/tokenize") || !strcmp(rest, "/v1/tokenize")) { h = H_TOKENIZE; want = R_POST; }
    else if (!strcmp(rest, "/v1/audio/transcriptions")) { h = H_TRANSCRIBE; want = R_POST; }
    else if (!strcmp(rest, "/v1/audio/speech")) { h = H_SPEECH; want = R_POST; }
    else if (track == TRACK_V1 && starts(p, "/media/") && p[7] && !strchr(p + 7, '/')) h = H_MEDIA;
    else if (track != TRACK_V1 && starts(rest, "/v1/") && rest[4] && !strchr(rest + 4, '/')) h = H_PROXY404;

    if (h != H_NONE && h != H_PROXY404) {
        if (h == H_MODEL) snprintf(r->route, sizeof r->route, "/v1/models/{id}");
        else if (h == H_MEDIA) snprintf(r->route, sizeof r->route, "/media/{name}");
        else snprintf(r->route, sizeof r->route, "%.47s", p);
    }
    if (is_options) { /* CORS preflight */
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        const char *rh = http_header(r, "Access-Control-Request-Headers");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", rh ? rh : "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        MHD_add_response_header(resp, "Allow", "GET, POST, OPTIONS");
        return send_resp(r, 204, resp);
    }
    if (h == H_NONE || h == H_PROXY404)
        return http_errorf(r, 404, "NotFoundError", NULL, "Not Found: %s %s", r->method, r->path);
    if ((want == R_GET && !is_get) || (want == R_POST && !is_post))
        return http_errorf(r, 405, "invalid_request_error", NULL, "Method Not Allowed: %s %s (use %s)", r->method,
                           r->path, want == R_GET ? "GET" : "POST");
    if (h != H_HEALTH && !api_key_ok(r))
        return http_errorf(r, 401, "authentication_error", NULL,
                           "Incorrect or missing API key: send 'Authorization: Bearer <key>'");
    if (r->too_big)
        return http_errorf(r, 413, "invalid_request_error", NULL, "The request body exceeds the limit of %zu bytes",
                           r->srv->cfg.max_body);
    if (r->body.oom) return http_errorf(r, 500, "InternalServerError", NULL, "out of memory reading the request body");
    if (want == R_POST && h != H_TRANSCRIBE && !json_content_type_ok(r))
        return http_errorf(r, 415, "invalid_request_error", NULL,
                           "Unsupported Content-Type '%s': this route takes application/json", http_header(r, "Content-Type"));
    switch (h) {
    case H_HEALTH: return route_health(r);
    case H_METRICS: return route_metrics(r);
    case H_MODELS: return route_models(r, track, NULL);
    case H_MODEL: return route_models(r, track, p + 11);
    case H_CHAT: return route_generate(r, track, 1);
    case H_COMPL: return route_generate(r, track, 0);
    case H_TOKENIZE: return route_tokenize(r, track);
    case H_MEDIA: return route_media(r, p + 7);
    case H_TRANSCRIBE: return route_transcribe(r, track);
    case H_SPEECH: return route_speech(r, track);
    default: return http_errorf(r, 404, "NotFoundError", NULL, "Not Found");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    http_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->srv = s;
        atomic_fetch_add(&s->active_reqs, 1);
        r->conn = c;
        r->method = method;
        r->t0 = now_ms();
        atomic_init(&r->refs, 1);
        sb_init(&r->body);
        char hex[33];
        serve_random_hex(hex);
        snprintf(r->id, sizeof r->id, "req-%.12s", hex);
        *con_cls = r;
        size_t ul = strlen(url);
        if (ul >= sizeof r->path) {
            snprintf(r->path, sizeof r->path, "%.64s...", url);
            return http_errorf(r, 414, "invalid_request_error", NULL, "The request path is longer than %zu bytes",
                               sizeof r->path - 1);
        }
        memcpy(r->path, url, ul + 1);
        if (ul > 1 && r->path[ul - 1] == '/') r->path[ul - 1] = 0;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            r->too_big = 1;
            return http_errorf(r, 413, "invalid_request_error", NULL, "The request body exceeds the limit of %zu bytes",
                               s->cfg.max_body);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && !r->status) {
            if (r->body.len + *upload_size > s->cfg.max_body) {
                r->too_big = 1;
                sb_free(&r->body);
            } else {
                sb_add(&r->body, upload, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status) return MHD_YES; /* already answered */
    return dispatch(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    fprintf(stderr, "omnic serve: http: %s\n", msg);
}

struct MHD_Daemon *http_start(server *s) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int gai = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (gai || !ai) {
        fprintf(stderr, "omnic serve: --host %s: %s\n", s->cfg.host, gai_strerror(gai));
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_conns, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(2u << 20),
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "omnic serve: cannot listen on %s:%d (address in use or not permitted)\n", s->cfg.host, s->cfg.port);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = di ? di->port : s->cfg.port;
    const char *h = s->cfg.host;
    fprintf(stderr, "omnic serve: listening on http://%s%s%s:%d\n", strchr(h, ':') ? "[" : "", h,
            strchr(h, ':') ? "]" : "", bound);
    fflush(stderr);
    return d;
}

void http_quiesce(struct MHD_Daemon *d) {
    if (!d) return;
    MHD_socket fd = MHD_quiesce_daemon(d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void http_stop(struct MHD_Daemon *d) {
    if (d) MHD_stop_daemon(d);
}
