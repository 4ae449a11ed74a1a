/* cmd_perplexity.c - `omnic perplexity -m MODEL -f TEXT [-c 512]`: perplexity of
 * a model on a text, as llama.cpp's llama-perplexity measures it: the tokens are
 * cut into chunks of c, each chunk is evaluated from an empty cache, and the
 * negative log-likelihood of the second half of every chunk (tokens that have at
 * least c/2 of context) is averaged; PPL = exp(mean NLL), with the standard error
 * of the mean. Used to compare a quantized file with its source (issue 5). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic perplexity -m DIR|F.gguf (-f TEXT_FILE | --ids CSV) [-c CHUNK] [--chunks N]\n"
               "                        [-t THREADS] [--kv-type T] [--json]\n");
}

static int read_all(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "omnic perplexity: %s: cannot open\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; }
            b = nb;
        }
    }
    fclose(f);
    if (!b) {
        fprintf(stderr, "omnic perplexity: out of memory\n");
        return 1;
    }
    *out = b;
    *len = n;
    return 0;
}

int cmd_perplexity(int argc, char **argv) {
    const char *dir = NULL, *file = NULL, *ids_s = NULL;
    long chunk = 512, max_chunks = 0, threads = 0;
    int json = 0, kv = OMNIC_KV_F32;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"file", 1, 0, 'f'}, {"ids", 1, 0, 'i'},
                                         {"ctx", 1, 0, 'c'}, {"chunks", 1, 0, 'n'}, {"threads", 1, 0, 't'},
                                         {"kv-type", 1, 0, 'K'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:f:c:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'f': file = optarg; break;
        case 'i': ids_s = optarg; break;
        case 'c': if (cli_parse_int("-c", optarg, 4, 1 << 20, &chunk)) return 2; break;
        case 'n': if (cli_parse_int("--chunks", optarg, 1, 1 << 30, &max_chunks)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'K': if (cli_parse_kv(optarg, &kv)) return 2; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || (!file == !ids_s)) {
        fprintf(stderr, "omnic perplexity: -m and one of -f / --ids are required\n");
        usage(stderr);
        return 2;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    omnic_model *m = NULL;
    omnic_tokenizer *tok = NULL;
    omnic_ctx *c = NULL;
    float *lg = NULL;
    int rc = 1;
    if (ids_s) {
        if (cli_parse_ids("--ids", ids_s, &ids, &n)) return 2;
    }
    if (omnic_model_open(dir, (int)threads, &m)) { cli_fail(); goto done; }
    const omnic_model_info *I = omnic_model_get_info(m);
    if (file) {
        char *text;
        size_t tl;
        if (read_all(file, &text, &tl)) goto done;
        int e = omnic_tokenizer_load(dir, &tok) || omnic_tokenize(tok, text, tl, 0, &ids, &n);
        free(text);
        if (e) { cli_fail(); goto done; }
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= I->vocab_size) {
            fprintf(stderr, "omnic perplexity: token id %d (index %zu) is outside the vocabulary [0, %d)\n", ids[i], i,
                    I->vocab_size);
            goto done;
        }
    size_t n_chunks = n / (size_t)chunk;
    if (max_chunks && n_chunks > (size_t)max_chunks) n_chunks = (size_t)max_chunks;
    if (n_chunks == 0) {
        fprintf(stderr, "omnic perplexity: %zu tokens: fewer than one chunk of %ld\n", n, chunk);
        goto done;
    }
    if (omnic_ctx_new_kv(m, (int)chunk, kv, &c)) { cli_fail(); goto done; }
    lg = malloc((size_t)chunk * (size_t)I->vocab_size * sizeof *lg);
    if (!lg) { fprintf(stderr, "omnic perplexity: out of memory for the logits\n"); goto done; }
    double sum = 0, sum2 = 0;
    long count = 0;
    double t0 = cli_now_ms();
    for (size_t k = 0; k < n_chunks; k++) {
        const int32_t *x = ids + k * (size_t)chunk;
        omnic_ctx_reset(c);
        if (omnic_eval(c, x, (int)chunk, lg, 1)) { cli_fail(); goto done; }
        for (long t = chunk / 2; t < chunk - 1; t++) { /* predict x[t+1] from the logits at t */
            const float *row = lg + (size_t)t * I->vocab_size;
            double mx = row[0], se = 0;
            for (int v = 1; v < I->vocab_size; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < I->vocab_size; v++) se += exp((double)row[v] - mx);
            double nll = mx + log(se) - row[x[t + 1]];
            sum += nll;
            sum2 += nll * nll;
            count++;
        }
        if (!json) fprintf(stderr, "[%zu/%zu] ppl so far %.4f\n", k + 1, n_chunks, exp(sum / count));
    }
    double mean = sum / count, var = sum2 / count - mean * mean;
    double se = count > 1 && var > 0 ? sqrt(var / (count - 1)) : 0;
    double ppl = exp(mean);
    if (json)
        printf("{\"ppl\":%.6f,\"ppl_stderr\":%.6f,\"mean_nll\":%.8f,\"tokens_scored\":%ld,\"chunks\":%zu,\"chunk\":%ld}\n",
               ppl, ppl * se, mean, count, n_chunks, chunk);
    else
        printf("PPL = %.4f +/- %.4f (%ld tokens scored in %zu chunks of %ld, %.1f s)\n", ppl, ppl * se, count,
               n_chunks, chunk, (cli_now_ms() - t0) / 1e3);
    rc = 0;
done:
    free(lg);
    omnic_ctx_free(c);
    omnic_tokenizer_free(tok);
    omnic_model_close(m);
    free(ids);
    return rc;
}
