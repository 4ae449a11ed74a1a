/* cmd_logits.c - `omnic logits -m DIR --ids CSV --out F.npy`: float32 logits of
 * every prompt position, shape [T, vocab] (the conformance interface). With
 * --image/--video/--audio F (repeatable, in order) each placeholder id in --ids is
 * expanded and filled with that media's rows; T is then the expanded length. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "formats/npy.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic logits -m DIR --ids 1,2,3 --out FILE.npy [-t THREADS] [--image F] [--video F] [--audio F]\n"
                "       [--kv-type f32|f16|q8_0]\n");
}

int cmd_logits(int argc, char **argv) {
    const char *dir = NULL, *ids_s = NULL, *out = NULL;
    long threads = 0;
    int kv = OMNIC_KV_F32;
    struct { int kind; const char *path; } med[64];
    int n_med = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"ids", 1, 0, 'i'}, {"out", 1, 0, 'o'},
                                         {"threads", 1, 0, 't'}, {"image", 1, 0, 'I'}, {"video", 1, 0, 'V'},
                                         {"audio", 1, 0, 'A'}, {"kv-type", 1, 0, 'K'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:i:o:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'i': ids_s = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'I': case 'V': case 'A':
            if (n_med == 64) { fprintf(stderr, "omnic logits: at most 64 media items\n"); return 2; }
            med[n_med].kind = o == 'I' ? OMNIC_MEDIA_IMAGE : o == 'V' ? OMNIC_MEDIA_VIDEO : OMNIC_MEDIA_AUDIO;
            med[n_med++].path = optarg;
            break;
        case 'K': if (cli_parse_kv(optarg, &kv)) return 2; break;
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
    int rc = 1, n_pos = (int)n;
    omnic_ctx *c = NULL;
    float *logits = NULL;
    omnic_tokenizer *tok = NULL;
    omnic_media *media[64];
    int n_enc = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= I->vocab_size) {
            fprintf(stderr, "omnic: --ids: id %d (index %zu) is outside the vocabulary [0, %d)\n", ids[i], i, I->vocab_size);
            goto done;
        }
    if (n_med) {
        if (omnic_tokenizer_load(dir, &tok)) { cli_fail(); goto done; }
        for (; n_enc < n_med; n_enc++)
            if (omnic_media_encode_file(m, tok, med[n_enc].kind, med[n_enc].path, &media[n_enc])) { cli_fail(); goto done; }
        if (omnic_mm_expanded_len(ids, (int)n, media, n_enc, &n_pos)) { cli_fail(); goto done; }
    }
    if (omnic_ctx_new_kv(m, n_pos, kv, &c)) { cli_fail(); goto done; }
    logits = malloc((size_t)n_pos * (size_t)I->vocab_size * sizeof(float));
    if (!logits) { fprintf(stderr, "omnic: not enough memory for %d x %d logits\n", n_pos, I->vocab_size); goto done; }
    if (n_med ? omnic_eval_mm(c, ids, (int)n, media, n_enc, logits, 1) : omnic_eval(c, ids, (int)n, logits, 1)) {
        cli_fail();
        goto done;
    }
    int64_t shape[2] = {(int64_t)n_pos, I->vocab_size};
    if (npy_write(out, "<f4", logits, 2, shape)) { cli_fail(); goto done; }
    rc = 0;
done:
    while (n_enc > 0) omnic_media_free(media[--n_enc]);
    omnic_tokenizer_free(tok);
    free(logits);
    omnic_ctx_free(c);
    omnic_model_close(m);
    free(ids);
    return rc;
}
