/* cmd_serve.c - `omnic serve`: the OpenAI- and OmniServe-compatible HTTP
 * server (shared/spec/api.md). Loads the models, starts one scheduler per
 * model and the HTTP daemon, then waits for SIGTERM / SIGINT and shuts down
 * gracefully: stop accepting, let in-flight requests finish (--grace), cancel
 * the rest, release everything.
 *
 * Test-only hook: OMNIC_TEST_SCRIPT=FILE (see src/serve/test_hook.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"
#include "serve/http.h"
#include "serve/models.h"
#include "serve/serve.h"
#include "serve/test_hook.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: omnic serve -m DIR [-m DIR2 ...] [options]\n"
            "  -m, --model DIR       model folder (repeatable, at most %d)\n"
            "  --host ADDR           listen address (default 127.0.0.1)\n"
            "  --port N              listen port (default 8000; 0 = any free port)\n"
            "  --parallel N          generation slots per model, decoded as one batch (default 4, max 64)\n"
            "  --ctx N               context tokens per slot (default min(model positions, 4096))\n"
            "  --api-key KEY         require 'Authorization: Bearer KEY' (default: no authentication)\n"
            "  --media-dir DIR       local media store served at /media/; request media given as local\n"
            "                        paths (or file:// URLs) are read only from below it (default: disabled)\n"
            "  --allow-remote-media  fetch http(s) media URLs named in requests (default: refused, 400)\n"
            "  --media-timeout S     remote media fetch timeout (default 60)\n"
            "  --media-max-bytes N   largest media item accepted, fetched or inline (default 256 MiB)\n"
            "  -t, --threads N       model worker threads (default: all cores)\n"
            "  --kv-type T           KV cache type: f32 (default), f16 or q8_0\n"
            "  --timeout S           per-request deadline in seconds (default: none)\n"
            "  --queue N             requests waiting for a slot before 429 (default 64)\n"
            "  --max-body BYTES      request body limit (default 512 MiB)\n"
            "  --cors ORIGINS        allowed browser Origins, comma-separated or '*' (default: none)\n"
            "  --grace S             on SIGTERM, time in-flight requests get to finish (default 10)\n"
            "  --max-conns N         simultaneous connections (default 256)\n",
            SERVE_MAX_MODELS);
}

enum { O_HOST = 256, O_PORT, O_PAR, O_CTX, O_KEY, O_MEDIA, O_TIMEOUT, O_QUEUE, O_BODY, O_CORS, O_GRACE, O_CONNS,
       O_REMOTE, O_MTIMEOUT, O_MMAX, O_KV };

int cmd_serve(int argc, char **argv) {
    static server srv; /* big; one per process */
    memset(&srv, 0, sizeof srv);
    serve_cfg *c = &srv.cfg;
    c->host = "127.0.0.1";
    c->port = 8000;
    c->parallel = 4;
    c->queue_max = 64;
    c->max_body = (size_t)512 << 20;
    c->grace_s = 10;
    c->max_conns = 256;
    c->media_timeout_s = 60;
    c->media_max_bytes = (size_t)256 << 20;
    const char *dirs[SERVE_MAX_MODELS];
    int n_dirs = 0;
    long lv;
    double dv;
    static const struct option opts[] = {
        {"model", 1, 0, 'm'},         {"host", 1, 0, O_HOST},      {"port", 1, 0, O_PORT},   {"parallel", 1, 0, O_PAR},
        {"ctx", 1, 0, O_CTX},         {"api-key", 1, 0, O_KEY},    {"media-dir", 1, 0, O_MEDIA},
        {"threads", 1, 0, 't'},       {"timeout", 1, 0, O_TIMEOUT}, {"queue", 1, 0, O_QUEUE}, {"max-body", 1, 0, O_BODY},
        {"cors", 1, 0, O_CORS},       {"grace", 1, 0, O_GRACE},    {"max-conns", 1, 0, O_CONNS}, {"help", 0, 0, 'h'},
        {"allow-remote-media", 0, 0, O_REMOTE}, {"kv-type", 1, 0, O_KV}, {"media-timeout", 1, 0, O_MTIMEOUT}, {"media-max-bytes", 1, 0, O_MMAX},
        {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm':
            if (n_dirs == SERVE_MAX_MODELS) { fprintf(stderr, "omnic serve: at most %d models\n", SERVE_MAX_MODELS); return 2; }
            dirs[n_dirs++] = optarg;
            break;
        case O_HOST: c->host = optarg; break;
        case O_PORT: if (cli_parse_int("--port", optarg, 0, 65535, &lv)) return 2; c->port = (int)lv; break;
        case O_PAR: if (cli_parse_int("--parallel", optarg, 1, 64, &lv)) return 2; c->parallel = (int)lv; break;
        case O_CTX: if (cli_parse_int("--ctx", optarg, 16, 1 << 24, &lv)) return 2; c->n_ctx = (int)lv; break;
        case O_KEY: c->api_key = optarg; break;
        case O_MEDIA: c->media_dir = optarg; break;
        case O_REMOTE: c->allow_remote_media = 1; break;
        case O_KV: if (cli_parse_kv(optarg, &c->kv_type)) return 2; break;
        case O_MTIMEOUT:
            if (cli_parse_float("--media-timeout", optarg, &dv) || dv <= 0) { fprintf(stderr, "omnic serve: --media-timeout must be > 0\n"); return 2; }
            c->media_timeout_s = dv;
            break;
        case O_MMAX: if (cli_parse_int("--media-max-bytes", optarg, 1024, 1L << 40, &lv)) return 2; c->media_max_bytes = (size_t)lv; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &lv)) return 2; c->threads = (int)lv; break;
        case O_TIMEOUT:
            if (cli_parse_float("--timeout", optarg, &dv) || dv < 0) { fprintf(stderr, "omnic serve: --timeout must be >= 0\n"); return 2; }
            c->timeout_s = dv;
            break;
        case O_QUEUE: if (cli_parse_int("--queue", optarg, 0, 1 << 20, &lv)) return 2; c->queue_max = (int)lv; break;
        case O_BODY: if (cli_parse_int("--max-body", optarg, 1024, 1L << 40, &lv)) return 2; c->max_body = (size_t)lv; break;
        case O_CORS: c->cors = optarg; break;
        case O_GRACE:
            if (cli_parse_float("--grace", optarg, &dv) || dv < 0) { fprintf(stderr, "omnic serve: --grace must be >= 0\n"); return 2; }
            c->grace_s = dv;
            break;
        case O_CONNS: if (cli_parse_int("--max-conns", optarg, 4, 100000, &lv)) return 2; c->max_conns = (int)lv; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "omnic serve: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (!n_dirs) { fprintf(stderr, "omnic serve: -m DIR is required\n"); usage(stderr); return 2; }
    if (c->api_key && !*c->api_key) { fprintf(stderr, "omnic serve: --api-key is empty\n"); return 2; }

    /* Signals are taken synchronously by this thread: block them before any
     * other thread exists so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    struct MHD_Daemon *d = NULL;
    srv.started = (long)time(NULL);
    if (test_hook_load(&srv)) goto done;
    for (int i = 0; i < n_dirs; i++) {
        serve_model *m = &srv.models[srv.n_models++];
        double t0 = cli_now_ms();
        if (model_load(m, dirs[i], c)) {
            fprintf(stderr, "omnic serve: -m %s: %s\n", dirs[i], omnic_errmsg());
            goto done;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(srv.models[k].id, m->id)) {
                fprintf(stderr, "omnic serve: -m %s: model id '%s' is already served by -m %s\n", dirs[i], m->id, dirs[k]);
                goto done;
            }
        sched_cfg sc = {.model = m->m, .tok = m->tok, .n_slots = c->parallel, .n_ctx = m->n_ctx, .kv_type = c->kv_type,
                        .queue_max = c->queue_max, .eos_ids = m->eos_ids, .n_eos = m->n_eos, .special = m->special};
        if (sched_start(&sc, &m->sched)) {
            fprintf(stderr, "omnic serve: -m %s: %s\n", dirs[i], omnic_errmsg());
            goto done;
        }
        fprintf(stderr, "omnic serve: loaded %s as '%s' (%s, %d slots x %d tokens, %d threads) in %.0f ms\n", dirs[i],
                m->id, m->info->arch, c->parallel, m->n_ctx, m->info->n_threads, cli_now_ms() - t0);
    }
    if (!(d = http_start(&srv))) goto done;

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "omnic serve: %s received, shutting down (grace %.0f s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
            c->grace_s);
    atomic_store(&srv.stopping, 1);
    http_quiesce(d);
    for (int i = 0; i < srv.n_models; i++) sched_request_stop(srv.models[i].sched, c->grace_s * 1e3);
    for (int i = 0; i < srv.n_models; i++) sched_stop(srv.models[i].sched, c->grace_s * 1e3);
    /* generation is over; let responses still being sent finish (within the grace) */
    for (double t0 = cli_now_ms(); atomic_load(&srv.active_reqs) > 0 && cli_now_ms() - t0 < c->grace_s * 1e3 + 1000;) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    rc = 0;
done:
    http_stop(d);
    for (int i = 0; i < srv.n_models; i++) model_free(&srv.models[i]);
    json_decref(srv.test_scripts);
    if (rc == 0) fprintf(stderr, "omnic serve: stopped\n");
    return rc;
}
