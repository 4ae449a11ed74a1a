/* serve.h - the `omnic serve` process: options, loaded models and the server
 * object shared by the HTTP layer, the routes and the scheduler. */
#ifndef OMNIC_SERVE_SERVE_H
#define OMNIC_SERVE_SERVE_H
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "omnic.h"
#include "serve/request.h"
#include "serve/sched.h"

#define SERVE_MAX_MODELS 8

typedef struct serve_cfg {
    const char *host;
    int port;             /* 0: any free port (printed at start) */
    int parallel;         /* slots per model */
    int n_ctx;            /* tokens per slot; 0: min(model max positions, 4096) */
    const char *api_key;  /* NULL: no authentication */
    const char *media_dir;
    int allow_remote_media;   /* fetch http(s) media URLs (default: refuse) */
    double media_timeout_s;   /* remote fetch timeout */
    size_t media_max_bytes;   /* largest media item (fetched, inline or local) */
    int threads;          /* model worker threads; 0: all cores */
    int kv_type;          /* OMNIC_KV_* */
    double timeout_s;     /* per-request deadline; 0: none */
    int queue_max;        /* waiting requests beyond the slots before 429 */
    size_t max_body;      /* request body limit in bytes */
    const char *cors;     /* allowed Origins, comma-separated, or "*"; NULL: none */
    double grace_s;       /* shutdown: time in-flight requests get to finish */
    int max_conns;
} serve_cfg;

/* Output-format family of a model (chat.md 3; api.md 3). */
enum { FAM_PLAIN = 0, FAM_THINK32, FAM_OMNI, FAM_HCX14 };

typedef struct serve_model {
    char *dir, *id, *root;
    char *aliases[8];
    int n_aliases;
    int family;
    omnic_model *m;
    const omnic_model_info *info;
    omnic_tokenizer *tok;
    int vocab, n_ctx;
    uint8_t *special;           /* [vocab] 1 = special added token */
    int32_t eos_ids[16];
    int n_eos;
    /* generation_config.json defaults (has_* = set there) */
    int has_temp, has_top_p, has_top_k, has_rep;
    float def_temp, def_top_p, def_rep;
    int def_top_k;
    void *chat;                 /* prompt.c state (templates, parser tables) */
    sched *sched;
    long created;
    struct digest_job *digest;  /* weights manifest SHA-256, computed in the background */
    struct speech_state *speech; /* vocoders, opened on first use (speech_out.c) */
} serve_model;

/* The manifest digest of a model's weights (src/audit/audit.h) once computed:
 * 64 hex digits, or NULL while pending / if it failed. */
const char *serve_model_digest(const serve_model *m);

typedef struct server {
    serve_cfg cfg;
    serve_model models[SERVE_MAX_MODELS];
    int n_models;
    atomic_int stopping;
    atomic_int active_reqs;     /* requests whose response is not finished */
    json_t *test_scripts;       /* OMNIC_TEST_SCRIPT contents (test only) */
    long started;
} server;

/* Resolve the model for a route prefix (TRACK_*) and a requested name (may be
 * NULL). On failure fills *e (404 unknown model, 400 ambiguous). */
serve_model *server_find_model(server *s, int track, const char *name, api_err *e);
/* The name a response carries in "model" (api.md 3). */
const char *server_model_name(const serve_model *m, int track, const char *requested);

/* 32 random lowercase hex digits + NUL. */
void serve_random_hex(char out[33]);
uint64_t serve_random_u64(void);

#endif
