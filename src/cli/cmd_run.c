/* cmd_run.c - `omnic run`: raw-text (or --ids) generation streamed to stdout,
 * with prompt and generation speed on stderr. Chat formatting is not applied. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: omnic run -m DIR (-p TEXT | -f FILE | --ids CSV) [options]\n"
            "  -n, --max-tokens N      tokens to generate (default 128)\n"
            "  --temp T                temperature (0 = greedy; default 0.8)\n"
            "  --top-k K --top-p P --min-p P\n"
            "  --repeat-penalty R --repeat-last-n N --presence-penalty P --frequency-penalty F\n"
            "  --seed S                sampling seed (default 42)\n"
            "  --stop-id ID            stop at this token id (repeatable; the config's eos is included)\n"
            "  --ignore-eos            do not stop at the config's eos id\n"
            "  --print-ids             print generated ids (comma-separated) instead of text\n"
            "  -t, --threads N         worker threads (default: all cores)\n"
            "  --chat                  format -p as one user turn with the model's chat template\n"
            "  --ctx N                 context size in tokens (default min(max positions, 4096))\n"
            "  --kv-type T             KV cache type: f32 (default), f16 or q8_0\n");
}

enum { O_TEMP = 256, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_PRES, O_FREQ, O_SEED, O_STOP, O_IGN, O_PIDS, O_CTX, O_IDS, O_KV };

int cmd_run(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* `run --chat`: one chat turn with the model's template */
        if (!strcmp(argv[i], "--chat")) return cmd_chat(argc, argv);
    const char *dir = NULL, *prompt = NULL, *file = NULL, *ids_s = NULL;
    long n_gen = 128, threads = 0, ctx_n = 0, lv;
    int ignore_eos = 0, print_ids = 0, n_stop = 0;
    int32_t stops[64];
    omnic_sampling sp;
    omnic_sampling_default(&sp);
    sp.temperature = 0.8f;
    sp.seed = 42;
    double dv;
    int kv = OMNIC_KV_F32;
    static const struct option opts[] = {
        {"model", 1, 0, 'm'}, {"prompt", 1, 0, 'p'}, {"file", 1, 0, 'f'}, {"ids", 1, 0, O_IDS},
        {"max-tokens", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"kv-type", 1, 0, O_KV}, {"temp", 1, 0, O_TEMP}, {"top-k", 1, 0, O_TOPK},
        {"top-p", 1, 0, O_TOPP}, {"min-p", 1, 0, O_MINP}, {"repeat-penalty", 1, 0, O_REP},
        {"repeat-last-n", 1, 0, O_REPN}, {"presence-penalty", 1, 0, O_PRES}, {"frequency-penalty", 1, 0, O_FREQ},
        {"seed", 1, 0, O_SEED}, {"stop-id", 1, 0, O_STOP}, {"ignore-eos", 0, 0, O_IGN}, {"print-ids", 0, 0, O_PIDS},
        {"ctx", 1, 0, O_CTX}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:p:f:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': file = optarg; break;
        case O_IDS: ids_s = optarg; break;
        case O_KV: if (cli_parse_kv(optarg, &kv)) return 2; break;
        case 'n': if (cli_parse_int("--max-tokens", optarg, 0, 1 << 30, &n_gen)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case O_CTX: if (cli_parse_int("--ctx", optarg, 1, 2147483647L, &ctx_n)) return 2; break;
        case O_TEMP: if (cli_parse_float("--temp", optarg, &dv)) return 2; sp.temperature = (float)dv; break;
        case O_TOPK: if (cli_parse_int("--top-k", optarg, 0, 1 << 30, &lv)) return 2; sp.top_k = (int)lv; break;
        case O_TOPP: if (cli_parse_float("--top-p", optarg, &dv)) return 2; sp.top_p = (float)dv; break;
        case O_MINP: if (cli_parse_float("--min-p", optarg, &dv)) return 2; sp.min_p = (float)dv; break;
        case O_REP: if (cli_parse_float("--repeat-penalty", optarg, &dv)) return 2; sp.repeat_penalty = (float)dv; break;
        case O_REPN: if (cli_parse_int("--repeat-last-n", optarg, -1, 1 << 30, &lv)) return 2; sp.repeat_last_n = (int)lv; break;
        case O_PRES: if (cli_parse_float("--presence-penalty", optarg, &dv)) return 2; sp.presence_penalty = (float)dv; break;
        case O_FREQ: if (cli_parse_float("--frequency-penalty", optarg, &dv)) return 2; sp.frequency_penalty = (float)dv; break;
        case O_SEED: if (cli_parse_int("--seed", optarg, 0, 0x7fffffffffffffffL, &lv)) return 2; sp.seed = (uint64_t)lv; break;
        case O_STOP:
            if (cli_parse_int("--stop-id", optarg, 0, 0x7fffffff, &lv)) return 2;
            if (n_stop < 63) stops[n_stop++] = (int32_t)lv;
            break;
        case O_IGN: ignore_eos = 1; break;
        case O_PIDS: print_ids = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || (!!prompt + !!file + !!ids_s) != 1) {
        fprintf(stderr, "omnic run: -m DIR and exactly one of -p, -f, --ids are required\n");
        usage(stderr);
        return 2;
    }
    int rc = 1;
    int32_t *ids = NULL;
    size_t n = 0;
    char *text = NULL;
    omnic_model *m = NULL;
    omnic_tokenizer *tok = NULL;
    omnic_ctx *c = NULL;
    omnic_sampler *smp = NULL;
    omnic_detok_stream *ds = NULL;
    float *logits = NULL;
    if (ids_s && cli_parse_ids("--ids", ids_s, &ids, &n)) return 2;
    if (omnic_model_open(dir, (int)threads, &m)) { cli_fail(); goto done; }
    const omnic_model_info *I = omnic_model_get_info(m);
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= I->vocab_size) {
            fprintf(stderr, "omnic: --ids: id %d (index %zu) is outside the vocabulary [0, %d)\n", ids[i], i, I->vocab_size);
            goto done;
        }
    if (!ids) {
        if (omnic_tokenizer_load(dir, &tok)) { cli_fail(); goto done; }
    } else if (!print_ids && omnic_tokenizer_load(dir, &tok)) {
        fprintf(stderr, "omnic: %s; printing token ids instead of text\n", omnic_errmsg());
        print_ids = 1;
    }
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) { fprintf(stderr, "omnic: -f %s: cannot open\n", file); goto done; }
        size_t cap = 1 << 16, len = 0;
        text = malloc(cap + 1);
        for (size_t r; text && (r = fread(text + len, 1, cap - len, f)) > 0;) {
            len += r;
            if (len == cap) { char *t2 = realloc(text, (cap *= 2) + 1); if (!t2) { free(text); text = NULL; } else text = t2; }
        }
        fclose(f);
        if (!text) { fprintf(stderr, "omnic: out of memory reading %s\n", file); goto done; }
        text[len] = 0;
        prompt = text;
    }
    if (prompt && omnic_tokenize(tok, prompt, strlen(prompt), 1, &ids, &n)) { cli_fail(); goto done; }
    if (n == 0) { fprintf(stderr, "omnic: the prompt is empty after tokenization\n"); goto done; }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= I->vocab_size) {
            fprintf(stderr, "omnic: the tokenizer produced id %d, outside the model's vocabulary [0, %d)\n", ids[i], I->vocab_size);
            goto done;
        }
    if (!ignore_eos && I->eos_id >= 0 && n_stop < 64) stops[n_stop++] = I->eos_id;
    if (ctx_n <= 0) {
        ctx_n = I->max_pos < 4096 ? I->max_pos : 4096;
        if ((long)n + n_gen > ctx_n) ctx_n = (long)n + n_gen;
    }
    if ((long)n + n_gen > ctx_n) {
        fprintf(stderr, "omnic: --ctx %ld is smaller than the prompt (%zu) + --max-tokens (%ld)\n", ctx_n, n, n_gen);
        goto done;
    }
    if (omnic_ctx_new_kv(m, (int)ctx_n, kv, &c) || omnic_sampler_new(&sp, I->vocab_size, &smp)) { cli_fail(); goto done; }
    if (tok && !print_ids && omnic_detok_stream_new(tok, 0, &ds)) { cli_fail(); goto done; }
    logits = malloc((size_t)I->vocab_size * sizeof(float));
    if (!logits) { fprintf(stderr, "omnic: out of memory\n"); goto done; }
    for (size_t i = 0; i < n; i++) omnic_sampler_accept(smp, ids[i]);

    double t0 = cli_now_ms();
    if (omnic_eval(c, ids, (int)n, logits, 0)) { cli_fail(); goto done; }
    double t1 = cli_now_ms();
    long produced = 0;
    for (; produced < n_gen; produced++) {
        int32_t next = omnic_sampler_sample(smp, logits);
        omnic_sampler_accept(smp, next);
        int stop = 0;
        for (int s = 0; s < n_stop; s++) stop |= next == stops[s];
        if (print_ids) {
            printf("%s%d", produced ? "," : "", next);
        } else if (!stop) {
            const char *piece;
            size_t len;
            if (omnic_detok_stream_feed(ds, next, &piece, &len) == 0 && len) fwrite(piece, 1, len, stdout);
        }
        fflush(stdout);
        if (stop) { produced++; break; }
        if (produced + 1 < n_gen && omnic_eval(c, &next, 1, logits, 0)) { cli_fail(); goto done; }
    }
    if (ds) {
        const char *piece;
        size_t len;
        if (omnic_detok_stream_flush(ds, &piece, &len) == 0 && len) fwrite(piece, 1, len, stdout);
    }
    printf("\n");
    double t2 = cli_now_ms();
    fprintf(stderr, "prompt: %zu tokens, %.1f ms, %.1f tok/s; gen: %ld tokens, %.1f ms, %.1f tok/s\n", n, t1 - t0,
            n / ((t1 - t0) / 1e3), produced, t2 - t1, produced > 0 ? produced / ((t2 - t1) / 1e3) : 0.0);
    rc = 0;
done:
    free(logits);
    omnic_detok_stream_free(ds);
    omnic_sampler_free(smp);
    omnic_ctx_free(c);
    omnic_tokenizer_free(tok);
    omnic_model_close(m);
    free(ids);
    free(text);
    return rc;
}
