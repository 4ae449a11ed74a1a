/* cmd_bench.c - `omnic bench -m MODEL [-p 512] [-n 128] [-r 3] [-t T] [--kv-type T] [--json]`:
 * prompt-processing (pp) and text-generation (tg) throughput, llama-bench style:
 * pp = one batched prefill of p tokens into an empty cache, tg = n single-token
 * decode steps from an empty cache; each repeated r times after one warm-up. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"

typedef struct { double mean, sd; } stat2;

static stat2 stats(const double *v, int n) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    double m = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - m) * (v[i] - m);
    return (stat2){m, n > 1 ? sqrt(q / (n - 1)) : 0};
}

/* tokens/s of one test; returns <0 on error */
static double run_once(omnic_ctx *c, const int32_t *ids, int pp, int tg, float *logits) {
    omnic_ctx_reset(c);
    double t0 = cli_now_ms();
    if (pp > 0 && omnic_eval(c, ids, pp, logits, 0)) return -1;
    for (int i = 0; i < tg; i++)
        if (omnic_eval(c, &ids[i], 1, logits, 0)) return -1;
    double ms = cli_now_ms() - t0;
    return (pp + tg) / (ms / 1e3);
}

int cmd_bench(int argc, char **argv) {
    const char *dir = NULL;
    long pp = 512, tg = 128, reps = 3, threads = 0;
    int json = 0, kv = OMNIC_KV_F32;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"n-prompt", 1, 0, 'p'}, {"n-gen", 1, 0, 'n'},
                                         {"repetitions", 1, 0, 'r'}, {"threads", 1, 0, 't'}, {"json", 0, 0, 'j'},
                                         {"kv-type", 1, 0, 'K'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:p:n:r:t:jh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'K': if (cli_parse_kv(optarg, &kv)) return 2; break;
        case 'p': if (cli_parse_int("-p", optarg, 0, 1 << 20, &pp)) return 2; break;
        case 'n': if (cli_parse_int("-n", optarg, 0, 1 << 20, &tg)) return 2; break;
        case 'r': if (cli_parse_int("-r", optarg, 1, 1000, &reps)) return 2; break;
        case 't': if (cli_parse_int("-t", optarg, 1, 1024, &threads)) return 2; break;
        case 'j': json = 1; break;
        case 'h': printf("usage: omnic bench -m MODEL [-p 512] [-n 128] [-r 3] [-t THREADS] [--json]\n"); return 0;
        default: fprintf(stderr, "usage: omnic bench -m MODEL [-p 512] [-n 128] [-r 3] [-t THREADS] [--json]\n"); return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "omnic bench: -m MODEL is required\n");
        return 2;
    }
    omnic_model *m;
    if (omnic_model_open(dir, (int)threads, &m)) return cli_fail();
    const omnic_model_info *I = omnic_model_get_info(m);
    int n_ctx = (int)(pp > tg ? pp : tg);
    omnic_ctx *c = NULL;
    int32_t *ids = malloc((size_t)(n_ctx + 1) * sizeof *ids);
    float *logits = malloc((size_t)I->vocab_size * sizeof(float));
    double *v = malloc((size_t)reps * sizeof(double));
    int rc = 1;
    if (!ids || !logits || !v) { fprintf(stderr, "omnic: out of memory\n"); goto done; }
    if (omnic_ctx_new_kv(m, n_ctx, kv, &c)) { cli_fail(); goto done; }
    uint64_t s = 0x9E3779B97F4A7C15ull; /* fixed pseudo-random prompt */
    for (int i = 0; i <= n_ctx; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        ids[i] = (int32_t)(s % (uint64_t)I->vocab_size);
    }
    struct { const char *name; int pp, tg; } tests[2] = {{"pp", (int)pp, 0}, {"tg", 0, (int)tg}};
    if (json) printf("[");
    else printf("| model | size | params | threads | test | t/s |\n|---|---|---|---|---|---|\n");
    int first = 1;
    for (int k = 0; k < 2; k++) {
        int n = tests[k].pp + tests[k].tg;
        if (n == 0) continue;
        if (run_once(c, ids, tests[k].pp, tests[k].tg, logits) < 0) { cli_fail(); goto done; } /* warm-up */
        for (int r = 0; r < reps; r++)
            if ((v[r] = run_once(c, ids, tests[k].pp, tests[k].tg, logits)) < 0) { cli_fail(); goto done; }
        stat2 st = stats(v, (int)reps);
        if (json) {
            printf("%s\n  {\"model\": \"%s\", \"arch\": \"%s\", \"dtypes\": \"%s\", \"model_size\": %lld, \"model_n_params\": %lld, "
                   "\"n_threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"test\": \"%s%d\", \"repetitions\": %ld, "
                   "\"avg_ts\": %.3f, \"stddev_ts\": %.3f, \"samples_ts\": [",
                   first ? "" : ",", dir, I->arch, I->dtypes, (long long)I->weight_bytes, (long long)I->n_params,
                   I->n_threads, tests[k].pp, tests[k].tg, tests[k].name, n, reps, st.mean, st.sd);
            for (int r = 0; r < reps; r++) printf("%s%.3f", r ? ", " : "", v[r]);
            printf("]}");
        } else {
            printf("| %s | %.2f GiB %s | %.1f M | %d | %s%d | %.2f ± %.2f |\n", I->arch, I->weight_bytes / 1073741824.0,
                   I->dtypes, I->n_params / 1e6, I->n_threads, tests[k].name, n, st.mean, st.sd);
        }
        fflush(stdout);
        first = 0;
    }
    if (json) printf("\n]\n");
    rc = 0;
done:
    omnic_ctx_free(c);
    omnic_model_close(m);
    free(ids);
    free(logits);
    free(v);
    return rc;
}
