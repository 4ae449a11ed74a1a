/* cmd_transcribe.c - `omnic transcribe -m DIR FILE`: speech to text with
 * Omni-8B. One chat turn: the audio, then the transcription instruction of
 * text/transcribe.h (or --prompt TEXT instead), reasoning off, greedy decoding;
 * the transcript goes to stdout. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "text/transcribe.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic transcribe -m DIR FILE [--language CODE] [--prompt TEXT] [-n MAX_TOKENS] [-t THREADS]\n"
               "  --prompt TEXT replaces the instruction: \"%s\"\n", TRANSCRIBE_INSTRUCTION);
}

int cmd_transcribe(int argc, char **argv) {
    const char *dir = NULL, *lang = NULL, *prompt = NULL, *nmax = "2048", *threads = NULL;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"language", 1, 0, 'l'}, {"prompt", 1, 0, 'p'},
                                         {"max-tokens", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:l:p:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'l': lang = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': nmax = optarg; break;
        case 't': threads = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc - 1) {
        fprintf(stderr, "omnic transcribe: -m DIR and one audio FILE are required\n");
        usage(stderr);
        return 2;
    }
    char instr[4096];
    if (!prompt) prompt = transcribe_instruction(lang, NULL, instr, sizeof instr);
    char *av[24];
    int ac = 0;
    av[ac++] = "chat";
    av[ac++] = "-m"; av[ac++] = (char *)dir;
    av[ac++] = "--audio"; av[ac++] = argv[optind];
    av[ac++] = "-p"; av[ac++] = (char *)prompt;
    av[ac++] = "--think"; av[ac++] = "off";
    av[ac++] = "--temp"; av[ac++] = "0";
    av[ac++] = "-n"; av[ac++] = (char *)nmax;
    av[ac++] = "--no-color";
    if (threads) { av[ac++] = "-t"; av[ac++] = (char *)threads; }
    av[ac] = NULL;
    return cmd_chat(ac, av);
}
