/* sched.h - the generation scheduler: one thread per model owns every model
 * call. It keeps N slots (a KV context each), admits queued jobs into free
 * slots (reusing a slot whose cached tokens the new prompt extends), prefills
 * them in chunks, and decodes all running slots together in one batched step
 * (continuous batching). HTTP handler threads create jobs, submit them and
 * wait on the job's own lock / condition for released text. */
#ifndef OMNIC_SERVE_SCHED_H
#define OMNIC_SERVE_SCHED_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "omnic.h"
#include "serve/sbuf.h"

enum { FIN_NONE = 0, FIN_STOP, FIN_LENGTH, FIN_CANCELLED, FIN_TIMEOUT, FIN_ERROR, FIN_SHUTDOWN };

typedef struct gen_job {
    /* inputs: filled before sched_submit, read-only afterwards; owned */
    int32_t *prompt;
    int n_prompt;
    const float **prompt_rows;  /* [n_prompt] media rows (NULL at tokens), or NULL if no
                                 * media; prompt[] holds a content-hash pseudo id < 0 there */
    omnic_media **media;        /* owned; keep prompt_rows alive */
    int n_media;
    int max_tokens, min_tokens;
    omnic_sampling sp;
    int penalize_prompt;        /* feed prompt tokens to the penalty history */
    char **stop;
    int n_stop, include_stop;
    int32_t *stop_ids;          /* request stop_token_ids (stop_reason = the id) */
    int n_stop_ids;
    int ignore_eos;
    int32_t *bias_ids;
    float *bias_vals;
    int n_bias;
    int skip_special;           /* drop special tokens from the text ... */
    const uint8_t *keep_special;/* ... except these (per id; borrowed, may be NULL) */
    int budget;                 /* thinking_token_budget, < 0: none */
    int32_t *think_s, *think_e, *think_c; /* open, forced close, natural close ids */
    int n_s, n_e, n_c;
    int json_mode;              /* output constrained to one JSON object (json_mode.h) */
    int32_t *script;            /* test hook: forced output tokens */
    int n_script;
    double deadline_ms;         /* monotonic deadline, 0: none */

    /* outputs: under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sbuf text;                  /* released text (special tokens as decided above) */
    size_t wait_have;           /* a waiter wants more than this many bytes (or the end) */
    int n_gen;                  /* generated tokens */
    int finish;                 /* FIN_* once done */
    char *stop_str;             /* matched stop string */
    int32_t stop_tok;           /* matched stop_token_ids entry, or -1 */
    char err[256];
    int n_reused;               /* prompt tokens served from the slot cache */
    double t_submit, t_start, t_first, t_end;

    atomic_int cancel;
    atomic_int refs;
    struct gen_job *next;
} gen_job;

gen_job *job_new(void);                    /* refs = 1 */
void job_unref(gen_job *j);
void job_cancel(gen_job *j);               /* client gone: stop as soon as possible */
/* Wait (up to timeout_ms) until the job has more than `have` bytes of text or
 * has finished. Returns 1 if so, 0 on timeout. */
int job_wait(gen_job *j, size_t have, int timeout_ms);

typedef struct sched sched;

typedef struct sched_cfg {
    omnic_model *model;
    omnic_tokenizer *tok;
    int n_slots, n_ctx, queue_max;
    int kv_type;                /* OMNIC_KV_* */
    const int32_t *eos_ids;     /* always-stop ids (borrowed) */
    int n_eos;
    const uint8_t *special;     /* [vocab] 1 = special added token (borrowed) */
} sched_cfg;

int sched_start(const sched_cfg *cfg, sched **out);
enum { SCHED_OK = 0, SCHED_FULL = 1, SCHED_STOPPING = 2 };
/* Queue a job (the scheduler takes its own reference). */
int sched_submit(sched *s, gen_job *j);
/* Stop: queued jobs end with FIN_SHUTDOWN, running ones get grace_ms to
 * finish, then are cancelled; joins the thread. */
void sched_stop(sched *s, double grace_ms);
/* The same without waiting (to stop several schedulers at once). */
void sched_request_stop(sched *s, double grace_ms);
void sched_free(sched *s);

typedef struct sched_stats {
    int running, queued, n_slots;
    long long steps, batched_tokens, prefill_tokens, reused_tokens;
} sched_stats;
void sched_get_stats(sched *s, sched_stats *st);

double now_ms(void);     /* monotonic clock */

#endif
