/* cmd_voices.c - `omnic voices -m DIR|F.mar`: the preset voices of the
 * finetuned vocoder (row index and name from spk_list.txt), one per line. */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "models/vocoder.h"

int cmd_voices(int argc, char **argv) {
    const char *dir = NULL;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'h': printf("usage: omnic voices -m DIR|FILE.mar\n"); return 0;
        default: fprintf(stderr, "usage: omnic voices -m DIR|FILE.mar\n"); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "usage: omnic voices -m DIR|FILE.mar\n");
        return 2;
    }
    omnic_vocoder *v;
    if (vocoder_open(dir, 0, NULL, 1, &v)) return cli_fail();
    for (int i = 0; i < vocoder_num_speakers(v); i++) {
        const char *n = vocoder_speaker_name(v, i);
        printf("%d\t%s\n", i, n ? n : "");
    }
    vocoder_free(v);
    return 0;
}
