/* sched.c - generation scheduler with continuous batching (see sched.h).
 *
 * One thread per model. Each loop iteration: admit queued jobs into idle
 * slots, drop cancelled / timed-out work, run one prefill chunk for every slot
 * still reading its prompt, then one batched decode step (omnic_eval_batch)
 * for every slot that has a sampled token to feed. A slot keeps the tokens its
 * context holds after a job ends; a later prompt that extends them only
 * evaluates the new suffix (prefix reuse). */
#include "serve/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "serve/json_mode.h"
#include "text/output_parser.h"

#define PREFILL_CHUNK 256 /* prompt tokens per slot per iteration: keeps decode latency of others bounded */

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- jobs -------------------------------------------------------------------- */

gen_job *job_new(void) {
    gen_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    sb_init(&j->text);
    j->budget = -1;
    j->stop_tok = -1;
    j->wait_have = (size_t)-1;
    atomic_init(&j->refs, 1);
    atomic_init(&j->cancel, 0);
    return j;
}

void job_unref(gen_job *j) {
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
    free(j->prompt);
    free(j->prompt_rows);
    for (int i = 0; i < j->n_media; i++) omnic_media_free(j->media[i]);
    free(j->media);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    free(j->stop);
    free(j->stop_ids);
    free(j->bias_ids);
    free(j->bias_vals);
    free(j->think_s);
    free(j->think_e);
    free(j->think_c);
    free(j->script);
    free(j->stop_str);
    sb_free(&j->text);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void job_cancel(gen_job *j) { atomic_store(&j->cancel, 1); }

int job_wait(gen_job *j, size_t have, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    ts.tv_sec += timeout_ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    j->wait_have = have;
    while (!(rc = j->finish != FIN_NONE || j->text.len > have))
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts)) break;
    if (!rc) rc = j->finish != FIN_NONE || j->text.len > have;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* ---- scheduler ------------------------------------------------------------------ */

enum { SLOT_IDLE = 0, SLOT_PREFILL, SLOT_DECODE };

typedef struct slot {
    omnic_ctx *ctx;
    int32_t *cache;       /* tokens held by ctx, in order */
    int n_cache;
    int state;
    gen_job *job;
    omnic_sampler *smp;
    omnic_detok_stream *ds;
    out_budget tb;        /* thinking budget */
    out_stopper *stopper; /* request stop strings (holds back possible starts) */
    jm_state jm;          /* JSON mode recognizer */
    int32_t next_tok;     /* sampled, to be fed by the next decode step */
    int n_gen;
    double last_used;
} slot;

struct sched {
    sched_cfg cfg;
    int vocab, dim;       /* vocabulary size, hidden size (media row width) */
    slot *slots;
    float *logits;        /* [n_slots][vocab] */
    jm_vocab *jv;         /* token texts for JSON mode, built on first use */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gen_job *qhead, *qtail;
    int qlen;
    int running;          /* busy slots (scheduler thread only) */
    int running_pub;      /* its copy under mu */
    int stopping;
    double hard_stop_ms;
    sched_stats st;       /* counters (scheduler thread only) */
    sched_stats st_pub;   /* their copy under mu */
};

static int is_in(const int32_t *a, int n, int32_t t) {
    for (int i = 0; i < n; i++)
        if (a[i] == t) return 1;
    return 0;
}

/* Publish released text and, if fin != FIN_NONE, the end of the job. */
static void publish(gen_job *j, const char *txt, size_t n, int n_gen, int fin, double t) {
    pthread_mutex_lock(&j->mu);
    if (n) sb_add(&j->text, txt, n);
    if (n_gen > j->n_gen && j->t_first == 0) j->t_first = t;
    j->n_gen = n_gen;
    if (fin != FIN_NONE && j->finish == FIN_NONE) {
        if (j->text.oom && fin != FIN_CANCELLED) {
            fin = FIN_ERROR;
            snprintf(j->err, sizeof j->err, "out of memory while generating");
        }
        j->finish = fin;
        j->t_end = t;
    }
    /* wake the handler only when what it waits for is there */
    if (j->finish != FIN_NONE || j->text.len > j->wait_have) pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void job_fail(gen_job *j, int fin, const char *msg) {
    pthread_mutex_lock(&j->mu);
    if (msg) snprintf(j->err, sizeof j->err, "%s", msg);
    pthread_mutex_unlock(&j->mu);
    publish(j, NULL, 0, j->n_gen, fin, now_ms());
}

/* Free the slot, then publish the job's end: a client that gets its answer
 * and at once sends the next request must find the slot free (no false 429). */
static void slot_release(sched *s, slot *sl, int fin, const char *msg) {
    gen_job *j = sl->job;
    omnic_sampler_free(sl->smp);
    omnic_detok_stream_free(sl->ds);
    out_stopper_free(sl->stopper);
    out_budget_free(&sl->tb);
    sl->smp = NULL;
    sl->ds = NULL;
    sl->stopper = NULL;
    sl->job = NULL;
    sl->state = SLOT_IDLE;
    sl->last_used = now_ms();
    s->running--;
    pthread_mutex_lock(&s->mu);
    s->running_pub--;
    pthread_mutex_unlock(&s->mu);
    if (fin != FIN_STOP && fin != FIN_LENGTH) job_fail(j, fin, msg);
    else publish(j, NULL, 0, j->n_gen, fin, now_ms());
    job_unref(j);
}

/* End the slot's job. For a normal end, flush the detokenizer and the
 * stop-string matcher first. */
static void slot_finish(sched *s, slot *sl, int fin, const char *msg) {
    gen_job *j = sl->job;
    if (fin == FIN_STOP || fin == FIN_LENGTH) {
        const char *p = NULL, *o = NULL;
        size_t n = 0, on = 0;
        int which = -1, m = 0;
        if (sl->ds && omnic_detok_stream_flush(sl->ds, &p, &n) == OMNIC_OK && n) {
            if (sl->stopper) {
                m = out_stopper_feed(sl->stopper, p, n, &o, &on, &which);
                if (m >= 0) publish(j, o, on, sl->n_gen, FIN_NONE, now_ms());
            } else {
                publish(j, p, n, sl->n_gen, FIN_NONE, now_ms());
            }
        }
        if (m == 1) {
            pthread_mutex_lock(&j->mu);
            j->stop_str = strdup(j->stop[which]);
            pthread_mutex_unlock(&j->mu);
            fin = FIN_STOP;
        } else if (sl->stopper) {
            out_stopper_flush(sl->stopper, &o, &on);
            publish(j, o, on, sl->n_gen, FIN_NONE, now_ms());
        }
    }
    slot_release(s, sl, fin, msg);
}

/* Handle a generated token. Returns 1 if the job finished. */
static int slot_token(sched *s, slot *sl, int32_t t) {
    gen_job *j = sl->job;
    double t_now = now_ms();
    sl->n_gen++;
    int is_eos = is_in(s->cfg.eos_ids, s->cfg.n_eos, t), is_stop_id = is_in(j->stop_ids, j->n_stop_ids, t);
    if (sl->n_gen > j->min_tokens && ((is_eos && !j->ignore_eos) || is_stop_id)) {
        if (is_stop_id) j->stop_tok = t;
        slot_finish(s, sl, FIN_STOP, NULL);
        return 1;
    }
    const char *piece = "";
    size_t n = 0;
    int drop = j->skip_special && s->cfg.special && s->cfg.special[t] && !(j->keep_special && j->keep_special[t]);
    if (!drop && omnic_detok_stream_feed(sl->ds, t, &piece, &n) != OMNIC_OK) {
        slot_finish(s, sl, FIN_ERROR, omnic_errmsg());
        return 1;
    }
    if (sl->stopper && n) {
        const char *o;
        size_t on;
        int which = -1;
        int m = out_stopper_feed(sl->stopper, piece, n, &o, &on, &which);
        if (m < 0) {
            slot_finish(s, sl, FIN_ERROR, "out of memory matching stop strings");
            return 1;
        }
        if (m == 1 && sl->n_gen >= j->min_tokens) {
            pthread_mutex_lock(&j->mu);
            j->stop_str = strdup(j->stop[which]);
            pthread_mutex_unlock(&j->mu);
            publish(j, o, on, sl->n_gen, FIN_NONE, t_now);
            slot_release(s, sl, FIN_STOP, NULL);
            return 1;
        }
        if (m == 1) { /* before min_tokens: the match does not count; matching restarts after it */
            publish(j, o, on, sl->n_gen, FIN_NONE, t_now);
            if (!j->include_stop) publish(j, j->stop[which], strlen(j->stop[which]), sl->n_gen, FIN_NONE, t_now);
            out_stopper_free(sl->stopper);
            sl->stopper = out_stopper_new((const char *const *)j->stop, (size_t)j->n_stop, j->include_stop);
            if (!sl->stopper) {
                slot_finish(s, sl, FIN_ERROR, "out of memory matching stop strings");
                return 1;
            }
            o = NULL;
            on = 0;
        }
        piece = o;
        n = on;
    }
    int json_done = 0;
    if (j->json_mode && s->jv) {
        jm_feed(&sl->jm, s->jv->text[t] ? s->jv->text[t] : "", s->jv->len[t]);
        json_done = jm_done(&sl->jm);
    }
    if (json_done || sl->n_gen >= j->max_tokens) {
        publish(j, piece, n, sl->n_gen, FIN_NONE, t_now);
        slot_finish(s, sl, json_done ? FIN_STOP : FIN_LENGTH, NULL);
        return 1;
    }
    publish(j, piece, n, sl->n_gen, FIN_NONE, t_now);
    return 0;
}

/* Pick the next token from this slot's logits row. */
static int32_t slot_pick(sched *s, slot *sl, float *lg) {
    gen_job *j = sl->job;
    int32_t forced = -1;
    if (j->script) {
        if (sl->n_gen < j->n_script) forced = j->script[sl->n_gen];
        else if (s->cfg.n_eos) forced = s->cfg.eos_ids[0];
    }
    if (forced < 0) forced = out_budget_forced(&sl->tb);
    int32_t t;
    if (forced >= 0 && forced < s->vocab) {
        t = forced;
    } else {
        for (int i = 0; i < j->n_bias; i++) lg[j->bias_ids[i]] += j->bias_vals[i];
        if (sl->n_gen < j->min_tokens) {
            for (int i = 0; i < s->cfg.n_eos; i++) lg[s->cfg.eos_ids[i]] = -INFINITY;
            for (int i = 0; i < j->n_stop_ids; i++) lg[j->stop_ids[i]] = -INFINITY;
        }
        if (j->json_mode && s->jv && jm_mask(&sl->jm, s->jv, lg) == 0) return -1; /* no token fits */
        t = omnic_sampler_sample(sl->smp, lg);
    }
    omnic_sampler_accept(sl->smp, t);
    out_budget_accept(&sl->tb, t);
    return t;
}

/* Choose a slot for a job: the idle slot sharing the longest prefix with the
 * prompt (its cache is truncated to that prefix; at least the last prompt token
 * is always evaluated, for its logits), else the least recently used idle slot. */
static slot *choose_slot(sched *s, const gen_job *j, int *reuse) {
    slot *best = NULL, *lru = NULL;
    int best_n = 0;
    for (int i = 0; i < s->cfg.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_IDLE) continue;
        if (!lru || sl->last_used < lru->last_used) lru = sl;
        int lim = sl->n_cache < j->n_prompt - 1 ? sl->n_cache : j->n_prompt - 1, n = 0;
        while (n < lim && sl->cache[n] == j->prompt[n]) n++;
        if (n > best_n) {
            best = sl;
            best_n = n;
        }
    }
    *reuse = best_n;
    return best ? best : lru;
}

static int slot_begin(sched *s, slot *sl, gen_job *j, int reuse) {
    if (omnic_ctx_truncate(sl->ctx, reuse)) reuse = 0, omnic_ctx_reset(sl->ctx);
    sl->n_cache = reuse;
    sl->job = j;
    sl->n_gen = 0;
    sl->state = SLOT_PREFILL;
    s->running++;
    memset(&sl->tb, 0, sizeof sl->tb);
    sl->tb.budget = -1;
    jm_init(&sl->jm);
    if (j->json_mode && !s->jv && !(s->jv = jm_vocab_build(s->cfg.tok, s->vocab, s->cfg.special))) {
        slot_finish(s, sl, FIN_ERROR, "out of memory (JSON mode token table)");
        return -1;
    }
    if (omnic_sampler_new(&j->sp, s->vocab, &sl->smp) || omnic_detok_stream_new(s->cfg.tok, 0, &sl->ds) ||
        (j->n_stop && !(sl->stopper = out_stopper_new((const char *const *)j->stop, (size_t)j->n_stop, j->include_stop))) ||
        out_budget_init(&sl->tb, j->think_s, j->n_s, j->think_e, j->n_e, j->think_c, j->n_c, j->budget, j->prompt,
                        (size_t)j->n_prompt)) {
        slot_finish(s, sl, FIN_ERROR, omnic_errmsg()[0] ? omnic_errmsg() : "out of memory");
        return -1;
    }
    if (j->penalize_prompt)
        for (int i = 0; i < j->n_prompt; i++)
            if (j->prompt[i] >= 0) omnic_sampler_accept(sl->smp, j->prompt[i]);
    pthread_mutex_lock(&j->mu);
    j->n_reused = reuse;
    j->t_start = now_ms();
    pthread_mutex_unlock(&j->mu);
    s->st.reused_tokens += reuse;
    return 0;
}

static void cache_append(slot *sl, const int32_t *ids, int n) {
    memcpy(sl->cache + sl->n_cache, ids, (size_t)n * sizeof *ids);
    sl->n_cache += n;
}

/* A failed evaluation leaves the context in an unknown state: forget it. */
static void slot_eval_failed(sched *s, slot *sl, const char *msg) {
    omnic_ctx_reset(sl->ctx);
    sl->n_cache = 0;
    slot_finish(s, sl, FIN_ERROR, msg);
}

static void prefill_step(sched *s, slot *sl) {
    gen_job *j = sl->job;
    int done = sl->n_cache, n = j->n_prompt - done;
    if (n > PREFILL_CHUNK) n = PREFILL_CHUNK;
    int last = done + n == j->n_prompt;
    float *lg = s->logits + (size_t)(sl - s->slots) * s->vocab;
    /* runs of tokens, and runs of contiguous media rows */
    for (int a = done, b; a < done + n; a = b) {
        const float *r0 = j->prompt_rows ? j->prompt_rows[a] : NULL;
        for (b = a + 1; b < done + n; b++) {
            const float *rb = j->prompt_rows ? j->prompt_rows[b] : NULL;
            if (r0 ? rb != r0 + (size_t)(b - a) * s->dim : rb != NULL) break;
        }
        float *l = last && b == done + n ? lg : NULL;
        if (r0 ? omnic_eval_embd(sl->ctx, r0, b - a, l, 0) : omnic_eval(sl->ctx, j->prompt + a, b - a, l, 0)) {
            slot_eval_failed(s, sl, omnic_errmsg());
            return;
        }
    }
    cache_append(sl, j->prompt + done, n);
    s->st.prefill_tokens += n;
    if (!last) return;
    int32_t t = slot_pick(s, sl, lg);
    if (t < 0) {
        slot_finish(s, sl, FIN_ERROR, "JSON mode: no token can continue the output");
        return;
    }
    if (!slot_token(s, sl, t)) {
        sl->next_tok = t;
        sl->state = SLOT_DECODE;
    }
}

static void decode_step(sched *s) {
    omnic_ctx *ctxs[64];
    int32_t ids[64];
    slot *who[64];
    int n = 0;
    for (int i = 0; i < s->cfg.n_slots && n < 64; i++)
        if (s->slots[i].state == SLOT_DECODE) {
            who[n] = &s->slots[i];
            ctxs[n] = s->slots[i].ctx;
            ids[n++] = s->slots[i].next_tok;
        }
    if (!n) return;
    if (omnic_eval_batch(ctxs, ids, n, s->logits)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", omnic_errmsg());
        for (int i = 0; i < n; i++) slot_eval_failed(s, who[i], msg);
        return;
    }
    s->st.steps++;
    s->st.batched_tokens += n;
    for (int i = 0; i < n; i++) {
        slot *sl = who[i];
        cache_append(sl, &ids[i], 1);
        int32_t t = slot_pick(s, sl, s->logits + (size_t)i * s->vocab);
        if (t < 0) slot_finish(s, sl, FIN_ERROR, "JSON mode: no token can continue the output");
        else if (!slot_token(s, sl, t)) sl->next_tok = t;
    }
}

/* Remove a queued job (caller holds s->mu). */
static void queue_remove(sched *s, gen_job *prev, gen_job *j) {
    if (prev) prev->next = j->next;
    else s->qhead = j->next;
    if (s->qtail == j) s->qtail = prev;
    j->next = NULL;
    s->qlen--;
}

static void *sched_main(void *arg) {
    sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        double t = now_ms();
        /* queued jobs that were cancelled or timed out, or everything on shutdown */
        gen_job *drop = NULL, *prev = NULL;
        for (gen_job *j = s->qhead, *nx; j; j = nx) {
            nx = j->next;
            if (s->stopping || atomic_load(&j->cancel) || (j->deadline_ms && t > j->deadline_ms)) {
                queue_remove(s, prev, j);
                j->next = drop;
                drop = j;
            } else {
                prev = j;
            }
        }
        /* admission: FIFO into idle slots */
        gen_job *admit[64];
        int n_admit = 0;
        while (s->qhead && !s->stopping && s->running + n_admit < s->cfg.n_slots && n_admit < 64) {
            gen_job *j = s->qhead;
            queue_remove(s, NULL, j);
            admit[n_admit++] = j;
        }
        int stopping = s->stopping;
        double hard = s->hard_stop_ms;
        s->running_pub = s->running + n_admit;
        if (!drop && !n_admit && s->running == 0) {
            if (stopping) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L; /* wake up for queue deadlines */
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&s->mu);

        for (gen_job *j = drop, *nx; j; j = nx) {
            nx = j->next;
            j->next = NULL;
            int fin = stopping ? FIN_SHUTDOWN : atomic_load(&j->cancel) ? FIN_CANCELLED : FIN_TIMEOUT;
            job_fail(j, fin, fin == FIN_TIMEOUT ? "the request timed out while queued" : NULL);
            job_unref(j);
        }
        for (int i = 0; i < n_admit; i++) {
            int reuse;
            slot *sl = choose_slot(s, admit[i], &reuse);
            slot_begin(s, sl, admit[i], reuse);
        }
        /* cancellation, deadlines, shutdown grace */
        int kill_all = stopping && t > hard;
        for (int i = 0; i < s->cfg.n_slots; i++) {
            slot *sl = &s->slots[i];
            if (sl->state == SLOT_IDLE) continue;
            if (kill_all) slot_finish(s, sl, FIN_SHUTDOWN, "the server is shutting down");
            else if (atomic_load(&sl->job->cancel)) slot_finish(s, sl, FIN_CANCELLED, NULL);
            else if (sl->job->deadline_ms && t > sl->job->deadline_ms)
                slot_finish(s, sl, FIN_TIMEOUT, "the request timed out");
        }
        for (int i = 0; i < s->cfg.n_slots; i++)
            if (s->slots[i].state == SLOT_PREFILL) prefill_step(s, &s->slots[i]);
        decode_step(s);
        pthread_mutex_lock(&s->mu);
        s->running_pub = s->running;
        s->st_pub = s->st;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sched_start(const sched_cfg *cfg, sched **out) {
    *out = NULL;
    if (cfg->n_slots < 1 || cfg->n_slots > 64)
        return omnic_err(OMNIC_EINVAL, "--parallel %d: between 1 and 64 slots are supported", cfg->n_slots);
    sched *s = calloc(1, sizeof *s);
    if (!s) return OMNIC_ENOMEM;
    s->cfg = *cfg;
    s->vocab = omnic_model_get_info(cfg->model)->vocab_size;
    s->dim = omnic_model_get_info(cfg->model)->hidden_size;
    s->slots = calloc((size_t)cfg->n_slots, sizeof *s->slots);
    s->logits = malloc((size_t)cfg->n_slots * s->vocab * sizeof *s->logits);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc = (s->slots && s->logits) ? OMNIC_OK : OMNIC_ENOMEM;
    for (int i = 0; rc == OMNIC_OK && i < cfg->n_slots; i++) {
        slot *sl = &s->slots[i];
        rc = omnic_ctx_new_kv(cfg->model, cfg->n_ctx, cfg->kv_type, &sl->ctx);
        if (rc == OMNIC_OK && !(sl->cache = malloc((size_t)cfg->n_ctx * sizeof *sl->cache))) rc = OMNIC_ENOMEM;
    }
    if (rc == OMNIC_OK && pthread_create(&s->th, NULL, sched_main, s)) rc = OMNIC_ENOMEM;
    if (rc != OMNIC_OK) {
        s->cfg.n_slots = s->slots ? cfg->n_slots : 0;
        sched_free(s);
        return rc;
    }
    *out = s;
    return OMNIC_OK;
}

int sched_submit(sched *s, gen_job *j) {
    pthread_mutex_lock(&s->mu);
    int rc = SCHED_OK;
    if (s->stopping) rc = SCHED_STOPPING;
    else if (s->qlen >= s->cfg.queue_max + (s->cfg.n_slots - s->running_pub)) rc = SCHED_FULL;
    if (rc == SCHED_OK) {
        atomic_fetch_add(&j->refs, 1);
        j->t_submit = now_ms();
        j->next = NULL;
        if (s->qtail) s->qtail->next = j;
        else s->qhead = j;
        s->qtail = j;
        s->qlen++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sched_request_stop(sched *s, double grace_ms) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    if (!s->stopping) {
        s->stopping = 1;
        s->hard_stop_ms = now_ms() + grace_ms;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sched_stop(sched *s, double grace_ms) {
    if (!s || !s->th) return;
    sched_request_stop(s, grace_ms);
    pthread_join(s->th, NULL);
    s->th = 0;
}

void sched_free(sched *s) {
    if (!s) return;
    sched_stop(s, 0);
    for (int i = 0; s->slots && i < s->cfg.n_slots; i++) {
        omnic_ctx_free(s->slots[i].ctx);
        free(s->slots[i].cache);
    }
    free(s->slots);
    free(s->logits);
    jm_vocab_free(s->jv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void sched_get_stats(sched *s, sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    *st = s->st_pub;
    st->running = s->running_pub;
    st->queued = s->qlen;
    st->n_slots = s->cfg.n_slots;
    pthread_mutex_unlock(&s->mu);
}
