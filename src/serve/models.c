/* models.c - the models a server holds: loading one folder (weights,
 * tokenizer, special-token table, stop ids, generation_config defaults, ids
 * and aliases), resolving a request's model by route and name (api.md 3), and
 * the random ids used in responses. */
#include "serve/models.h"

#include <pthread.h>
#include <stdatomic.h>

#include "audit/audit.h"
#include "serve/speech_out.h"

static void digest_start(serve_model *m, const char *dir);

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/error.h"
#include "serve/prompt.h"

uint64_t serve_random_u64(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        static _Atomic uint64_t ctr;
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (++ctr * 0x9E3779B97F4A7C15ull);
    }
    return x;
}

void serve_random_hex(char out[33]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 2; i++) {
        uint64_t x = serve_random_u64();
        for (int k = 0; k < 16; k++) out[i * 16 + k] = hx[(x >> (4 * k)) & 15];
    }
    out[32] = 0;
}

static void add_alias(serve_model *m, const char *a) {
    if (!a || !*a || m->n_aliases >= (int)(sizeof m->aliases / sizeof *m->aliases)) return;
    for (int i = 0; i < m->n_aliases; i++)
        if (!strcmp(m->aliases[i], a)) return;
    char *d = strdup(a);
    if (d) m->aliases[m->n_aliases++] = d;
}

static void add_eos(serve_model *m, int id) {
    if (id < 0 || id >= m->vocab || m->n_eos >= (int)(sizeof m->eos_ids / sizeof *m->eos_ids)) return;
    for (int i = 0; i < m->n_eos; i++)
        if (m->eos_ids[i] == id) return;
    m->eos_ids[m->n_eos++] = id;
}

void model_add_stop_token(serve_model *m, const char *tok) {
    if (m->tok && tok) add_eos(m, omnic_token_id(m->tok, tok));
}

void model_remove_stop_token(serve_model *m, const char *tok) {
    int32_t id = m->tok && tok ? omnic_token_id(m->tok, tok) : -1;
    for (int i = 0; id >= 0 && i < m->n_eos; i++)
        if (m->eos_ids[i] == id) {
            memmove(m->eos_ids + i, m->eos_ids + i + 1, (size_t)(m->n_eos - i - 1) * sizeof *m->eos_ids);
            m->n_eos--;
            i--;
        }
}

static json_t *load_json(const char *dir, const char *name) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return json_load_file(p, 0, NULL);
}

/* generation_config.json: eos ids and sampling defaults (chat.md 4). */
static void load_generation_config(serve_model *m) {
    json_t *g = load_json(m->dir, "generation_config.json");
    if (!json_is_object(g)) { json_decref(g); return; }
    json_t *e = json_object_get(g, "eos_token_id");
    if (json_is_integer(e)) add_eos(m, (int)json_integer_value(e));
    size_t i;
    json_t *v;
    if (json_is_array(e)) json_array_foreach(e, i, v) if (json_is_integer(v)) add_eos(m, (int)json_integer_value(v));
    if (json_is_true(json_object_get(g, "do_sample")) || !json_object_get(g, "do_sample")) {
        if ((v = json_object_get(g, "temperature")) && json_is_number(v)) { m->has_temp = 1; m->def_temp = (float)json_number_value(v); }
        if ((v = json_object_get(g, "top_p")) && json_is_number(v)) { m->has_top_p = 1; m->def_top_p = (float)json_number_value(v); }
        if ((v = json_object_get(g, "top_k")) && json_is_integer(v)) { m->has_top_k = 1; m->def_top_k = (int)json_integer_value(v); }
    } else {
        m->has_temp = 1; /* do_sample false: greedy */
        m->def_temp = 0;
    }
    if ((v = json_object_get(g, "repetition_penalty")) && json_is_number(v)) { m->has_rep = 1; m->def_rep = (float)json_number_value(v); }
    json_decref(g);
}

/* Special added tokens: the ones skip_special decoding drops. */
static int build_special_table(serve_model *m) {
    m->special = calloc((size_t)m->vocab, 1);
    if (!m->special) return omnic_err(OMNIC_ENOMEM, "out of memory (special-token table)");
    int tv = omnic_tokenizer_vocab_size(m->tok);
    for (int32_t id = 0; id < m->vocab && id < tv; id++) {
        char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        if (omnic_detokenize(m->tok, &id, 1, 1, &a, &na) == OMNIC_OK && na == 0 &&
            omnic_detokenize(m->tok, &id, 1, 0, &b, &nb) == OMNIC_OK && nb > 0)
            m->special[id] = 1;
        free(a);
        free(b);
    }
    return OMNIC_OK;
}

int model_load(serve_model *m, const char *dir, const serve_cfg *cfg) {
    memset(m, 0, sizeof *m);
    char abs[PATH_MAX];
    m->dir = strdup(realpath(dir, abs) ? abs : dir);
    m->created = (long)time(NULL);
    int rc = omnic_model_open(dir, cfg->threads, &m->m);
    if (rc) return rc;
    m->info = omnic_model_get_info(m->m);
    m->vocab = m->info->vocab_size;
    if ((rc = omnic_tokenizer_load(dir, &m->tok))) return rc;
    if ((rc = build_special_table(m))) return rc;
    int maxp = m->info->max_pos > 0 ? m->info->max_pos : 4096;
    m->n_ctx = cfg->n_ctx > 0 ? cfg->n_ctx : (maxp < 4096 ? maxp : 4096);
    if (m->n_ctx > maxp) {
        fprintf(stderr, "omnic serve: %s: --ctx %d exceeds the model's %d positions; using %d\n", dir, m->n_ctx, maxp, maxp);
        m->n_ctx = maxp;
    }
    add_eos(m, m->info->eos_id);
    load_generation_config(m);
    json_t *tc = load_json(dir, "tokenizer_config.json");
    json_t *eos = json_object_get(tc, "eos_token");
    if (json_is_object(eos)) eos = json_object_get(eos, "content");
    if (json_is_string(eos)) model_add_stop_token(m, json_string_value(eos));
    json_decref(tc);

    /* canonical id: the repo id recorded in config.json, else the folder name */
    json_t *c = load_json(dir, "config.json");
    const char *nop = json_string_value(json_object_get(c, "_name_or_path"));
    const char *base = strrchr(m->dir, '/') ? strrchr(m->dir, '/') + 1 : m->dir;
    if (!strcmp(base, "model") || !*base) { /* ".../hcx-small/model": name it after the parent */
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", m->dir);
        char *sl = strrchr(tmp, '/');
        if (sl) *sl = 0;
        sl = strrchr(tmp, '/');
        m->id = strdup(sl && sl[1] ? sl + 1 : base);
    } else {
        m->id = strdup(base);
    }
    if (nop && strchr(nop, '/') && nop[0] != '/' && nop[0] != '.') {
        free(m->id);
        m->id = strdup(nop);
    }
    json_decref(c);
    m->root = strdup(m->dir);
    if (!m->id || !m->root || !m->dir) return omnic_err(OMNIC_ENOMEM, "out of memory");
    add_alias(m, m->id);
    if (strchr(m->id, '/')) add_alias(m, strrchr(m->id, '/') + 1);
    add_alias(m, base);

    if ((rc = prompt_model_init(m))) return rc;
    if (m->family == FAM_THINK32) {
        add_alias(m, "track_a_model");
        add_alias(m, "naver-hyperclovax/HyperCLOVAX-SEED-Think-32B");
        add_alias(m, "HyperCLOVAX-SEED-Think-32B");
    } else if (m->family == FAM_OMNI) {
        add_alias(m, "track_b_model");
        add_alias(m, "naver-hyperclovax/HyperCLOVAX-SEED-Omni-8B");
        add_alias(m, "HyperCLOVAX-SEED-Omni-8B");
    }
    digest_start(m, m->dir);
    return OMNIC_OK;
}

/* The digest runs on its own detached thread (hashing a 16 GB checkpoint takes
 * tens of seconds); the job is shared by the thread and the model, and freed by
 * whichever lets go last. */
struct digest_job {
    char *path;
    char hex[65];
    atomic_int state;   /* 0 pending, 1 ready, -1 failed */
    atomic_int refs;
};

static void digest_unref(struct digest_job *j) {
    if (j && atomic_fetch_sub(&j->refs, 1) == 1) {
        free(j->path);
        free(j);
    }
}

static void *digest_main(void *arg) {
    struct digest_job *j = arg;
    atomic_store(&j->state, audit_manifest_digest(j->path, j->hex) == 0 ? 1 : -1);
    digest_unref(j);
    return NULL;
}

static void digest_start(serve_model *m, const char *dir) {
    struct digest_job *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(dir))) {
        free(j);
        return;
    }
    atomic_init(&j->refs, 2);
    pthread_t th;
    if (pthread_create(&th, NULL, digest_main, j)) {
        free(j->path);
        free(j);
        return;
    }
    pthread_detach(th);
    m->digest = j;
}

const char *serve_model_digest(const serve_model *m) {
    return m->digest && atomic_load(&m->digest->state) == 1 ? m->digest->hex : NULL;
}

void model_free(serve_model *m) {
    digest_unref(m->digest);
    speech_state_free(m);
    sched_free(m->sched);
    prompt_model_free(m);
    omnic_tokenizer_free(m->tok);
    omnic_model_close(m->m);
    free(m->special);
    for (int i = 0; i < m->n_aliases; i++) free(m->aliases[i]);
    free(m->dir);
    free(m->id);
    free(m->root);
    memset(m, 0, sizeof *m);
}

static int has_alias(const serve_model *m, const char *name) {
    for (int i = 0; i < m->n_aliases; i++)
        if (!strcmp(m->aliases[i], name)) return 1;
    return 0;
}

serve_model *server_find_model(server *s, int track, const char *name, api_err *e) {
    if (track == TRACK_A || track == TRACK_B) {
        int fam = track == TRACK_A ? FAM_THINK32 : FAM_OMNI;
        const char *served = track == TRACK_A ? "track_a_model" : "track_b_model";
        serve_model *m = NULL;
        for (int i = 0; i < s->n_models && !m; i++)
            if (s->models[i].family == fam) m = &s->models[i];
        if (!m && s->n_models == 1) m = &s->models[0];
        if (!m) {
            api_errf(e, 404, "NotFoundError", "model", "The model `%s` does not exist.", name ? name : served);
            return NULL;
        }
        if (name && strcmp(name, served) && !has_alias(m, name)) {
            api_errf(e, 404, "NotFoundError", "model", "The model `%s` does not exist.", name);
            return NULL;
        }
        return m;
    }
    if (!name) {
        if (s->n_models == 1) return &s->models[0];
        api_errf(e, 400, "BadRequestError", "model", "'model' is required: this server holds %d models (see /v1/models)",
                 s->n_models);
        return NULL;
    }
    for (int i = 0; i < s->n_models; i++)
        if (has_alias(&s->models[i], name)) return &s->models[i];
    api_errf(e, 404, "NotFoundError", "model", "The model `%s` does not exist.", name);
    return NULL;
}

const char *server_model_name(const serve_model *m, int track, const char *requested) {
    if (track == TRACK_A) return "track_a_model";
    if (track == TRACK_B) return "track_b_model";
    return requested ? requested : m->id;
}
