/* cmd_logits.c - `omnic logits -m DIR --ids CSV --out F.npy`: float32 logits of
 * every prompt position, shape [T, vocab] (the conformance interface). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "formats/npy.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic logits -m DIR --ids 1,2,3 --out FILE.npy [-t THREADS]\n");
}

int cmd_logits(int argc, char **argv) {
    const char *dir = NULL, *ids_s = NULL, *out = NULL;
    long threads = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"ids", 1, 0, 'i'}, {"out", 1, 0, 'o'},
                                         {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:i:o:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'i': ids_s = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || !ids_s || !out) {
        fprintf(stderr, "omnic logits: -m, --ids and --out are required\n");
        usage(stderr);
        return 2;
    }
    int32_t *ids;
    size_t n;
    if (cli_parse_ids("--ids", ids_s, &ids, &n)) return 2;
    omnic_model *m;
    if (omnic_model_open(dir, (int)threads, &m)) {
        free(ids);
        return cli_fail();
    }
    const omnic_model_info *I = omnic_model_get_info(m);
    int rc = 1;
    omnic_ctx *c = NULL;
    float *logits = NULL;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= I->vocab_size) {
            fprintf(stderr, "omnic: --ids: id %d (index %zu) is outside the vocabulary [0, %d)\n", ids[i], i, I->vocab_size);
            goto done;
        }
    if (omnic_ctx_new(m, (int)n, &c)) { cli_fail(); goto done; }
    logits = malloc(n * (size_t)I->vocab_size * sizeof(float));
    if (!logits) { fprintf(stderr, "omnic: not enough memory for %zu x %d logits\n", n, I->vocab_size); goto done; }
    if (omnic_eval(c, ids, (int)n, logits, 1)) { cli_fail(); goto done; }
    int64_t shape[2] = {(int64_t)n, I->vocab_size};
    if (npy_write(out, "<f4", logits, 2, shape)) { cli_fail(); goto done; }
    rc = 0;
done:
    free(logits);
    omnic_ctx_free(c);
    omnic_model_close(m);
    free(ids);
    return rc;
}
