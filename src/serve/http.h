/* http.h - the HTTP layer of `omnic serve` (libmicrohttpd, one thread per
 * connection): request bodies with a size limit, routing, API key, CORS,
 * JSON / error / streamed responses, client-disconnect detection, and one log
 * line per request. */
#ifndef OMNIC_SERVE_HTTP_H
#define OMNIC_SERVE_HTTP_H
#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>

#include "serve/request.h"
#include "serve/sbuf.h"
#include "serve/serve.h"

typedef struct http_req {
    server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char path[512];
    sbuf body;
    int too_big;
    char id[40];           /* request id in logs */
    double t0;
    int status;            /* status of the response sent */
    atomic_int refs;       /* connection + a stream */
    /* filled by the routes for the log line and metrics */
    char route[48];
    int n_prompt, n_reused, n_gen;
    double ttft_ms, tps;
    int logged;
    enum MHD_RequestTerminationCode toe;
} http_req;

/* Send a JSON body (stolen) with a status. */
enum MHD_Result http_json(http_req *r, int status, json_t *body);
enum MHD_Result http_error(http_req *r, const api_err *e);
enum MHD_Result http_errorf(http_req *r, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum MHD_Result http_bytes(http_req *r, int status, const char *ctype, const void *data, size_t n);

/* A streamed response: fill() appends bytes to out and returns 0 (more to
 * come), 1 (this was the end) or -1 (abort the connection). It may block
 * briefly. done() runs once when the response is released. */
typedef int (*http_fill_fn)(void *ctx, sbuf *out);
typedef void (*http_done_fn)(void *ctx);
enum MHD_Result http_stream(http_req *r, int status, const char *ctype, http_fill_fn fill, http_done_fn done, void *ctx);

/* 1 if the client closed its connection. */
int http_client_gone(http_req *r);
const char *http_header(http_req *r, const char *name);

void http_req_unref(http_req *r);

/* Start listening (prints the address). Returns NULL on failure. */
struct MHD_Daemon *http_start(server *s);
/* Stop accepting connections (in-flight ones continue). */
void http_quiesce(struct MHD_Daemon *d);
void http_stop(struct MHD_Daemon *d);

#endif
