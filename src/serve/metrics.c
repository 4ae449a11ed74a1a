/* metrics.c - process-wide counters and the Prometheus text exposition of
 * GET /metrics: requests by route and status, token counts, time to first
 * token, and per-model scheduler gauges. */
#include "serve/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEYS 96

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char route[48];
    int status;
    long long n;
} reqs[MAX_KEYS];
static int n_reqs;
static double req_ms_sum;
static long long req_count;
static long long prompt_tok, reused_tok, gen_tok, ttft_count, fin_count[8];
static double ttft_sum;

void metrics_request(const char *route, int status, double total_ms) {
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < n_reqs && !(reqs[i].status == status && !strcmp(reqs[i].route, route))) i++;
    if (i == n_reqs && n_reqs < MAX_KEYS) {
        snprintf(reqs[i].route, sizeof reqs[i].route, "%s", route);
        reqs[i].status = status;
        n_reqs++;
    }
    if (i < n_reqs) reqs[i].n++;
    req_ms_sum += total_ms;
    req_count++;
    pthread_mutex_unlock(&mu);
}

void metrics_generation(int n_prompt, int n_reused, int n_gen, double ttft_ms, int finish) {
    pthread_mutex_lock(&mu);
    prompt_tok += n_prompt;
    reused_tok += n_reused;
    gen_tok += n_gen;
    if (ttft_ms > 0) { ttft_sum += ttft_ms / 1e3; ttft_count++; }
    if (finish >= 0 && finish < 8) fin_count[finish]++;
    pthread_mutex_unlock(&mu);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(sbuf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') sb_add(b, "\\", 1);
        if (*v == '\n') { sb_adds(b, "\\n"); continue; }
        sb_add(b, v, 1);
    }
}

void metrics_render(server *s, sbuf *b) {
    static const char *fin_names[] = {"none", "stop", "length", "cancelled", "timeout", "error", "shutdown"};
    pthread_mutex_lock(&mu);
    sb_adds(b, "# HELP omnic_requests_total HTTP requests answered, by route and status.\n"
               "# TYPE omnic_requests_total counter\n");
    for (int i = 0; i < n_reqs; i++)
        sb_printf(b, "omnic_requests_total{route=\"%s\",status=\"%d\"} %lld\n", reqs[i].route, reqs[i].status, reqs[i].n);
    sb_printf(b, "# HELP omnic_request_duration_seconds Time from request start to the end of its response.\n"
                 "# TYPE omnic_request_duration_seconds summary\n"
                 "omnic_request_duration_seconds_sum %.6f\nomnic_request_duration_seconds_count %lld\n",
              req_ms_sum / 1e3, req_count);
    sb_printf(b, "# HELP omnic_prompt_tokens_total Prompt tokens of finished generations.\n"
                 "# TYPE omnic_prompt_tokens_total counter\nomnic_prompt_tokens_total %lld\n"
                 "# HELP omnic_prompt_tokens_reused_total Prompt tokens served from a slot's cached prefix.\n"
                 "# TYPE omnic_prompt_tokens_reused_total counter\nomnic_prompt_tokens_reused_total %lld\n"
                 "# HELP omnic_generation_tokens_total Generated tokens.\n"
                 "# TYPE omnic_generation_tokens_total counter\nomnic_generation_tokens_total %lld\n",
              prompt_tok, reused_tok, gen_tok);
    sb_printf(b, "# HELP omnic_time_to_first_token_seconds Queueing + prefill time until the first token.\n"
                 "# TYPE omnic_time_to_first_token_seconds summary\n"
                 "omnic_time_to_first_token_seconds_sum %.6f\nomnic_time_to_first_token_seconds_count %lld\n",
              ttft_sum, ttft_count);
    sb_adds(b, "# HELP omnic_generations_total Finished generations by reason.\n# TYPE omnic_generations_total counter\n");
    for (int i = 1; i < 7; i++) sb_printf(b, "omnic_generations_total{reason=\"%s\"} %lld\n", fin_names[i], fin_count[i]);
    pthread_mutex_unlock(&mu);
    sb_adds(b, "# HELP omnic_slots Generation slots per model.\n# TYPE omnic_slots gauge\n"
               "# HELP omnic_requests_running Requests holding a slot.\n# TYPE omnic_requests_running gauge\n"
               "# HELP omnic_requests_waiting Requests queued for a slot.\n# TYPE omnic_requests_waiting gauge\n"
               "# HELP omnic_decode_steps_total Batched decode steps.\n# TYPE omnic_decode_steps_total counter\n"
               "# HELP omnic_decode_batch_tokens_total Tokens decoded in batched steps (sum of batch sizes).\n"
               "# TYPE omnic_decode_batch_tokens_total counter\n");
    for (int i = 0; i < s->n_models; i++) {
        sched_stats st;
        sched_get_stats(s->models[i].sched, &st);
        sbuf id;
        sb_init(&id);
        label(&id, s->models[i].id);
        const char *l = id.s ? id.s : "";
        sb_printf(b, "omnic_slots{model=\"%s\"} %d\n", l, st.n_slots);
        sb_printf(b, "omnic_requests_running{model=\"%s\"} %d\n", l, st.running);
        sb_printf(b, "omnic_requests_waiting{model=\"%s\"} %d\n", l, st.queued);
        sb_printf(b, "omnic_decode_steps_total{model=\"%s\"} %lld\n", l, st.steps);
        sb_printf(b, "omnic_decode_batch_tokens_total{model=\"%s\"} %lld\n", l, st.batched_tokens);
        sb_free(&id);
    }
}
