/* cmd_speak.c - `omnic speak -m DIR "텍스트" -o hello.wav [--voice NAME]`: text to
 * speech with Omni-8B: one chat turn (the TTS instruction of text/tts_prompt.h and
 * the text, reasoning off), then the answer's speech units through the folder's
 * vocoder (cli/speak_out.c). The format follows the output's extension. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "text/tts_prompt.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic speak -m DIR TEXT -o OUT.wav|.mp3|.flac|.opus|.aac|.pcm|.npy [--voice NAME|INDEX]\n"
               "                   [--ref-audio F] [-n MAX_TOKENS] [-t THREADS] [--temp T] [--seed S]\n"
               "  the prompt: \"%s\\n<TEXT>\"\n", TTS_INSTRUCTION);
}

int cmd_speak(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *voice = NULL, *ref = NULL, *nmax = "2048", *threads = NULL, *temp = "0.7",
               *seed = NULL;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"out", 1, 0, 'o'}, {"voice", 1, 0, 'v'},
                                         {"ref-audio", 1, 0, 'r'}, {"max-tokens", 1, 0, 'n'}, {"threads", 1, 0, 't'},
                                         {"temp", 1, 0, 'T'}, {"seed", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:o:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'v': voice = optarg; break;
        case 'r': ref = optarg; break;
        case 'n': nmax = optarg; break;
        case 't': threads = optarg; break;
        case 'T': temp = optarg; break;
        case 's': seed = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || !out || optind != argc - 1) {
        fprintf(stderr, "omnic speak: -m DIR, -o OUT and one TEXT are required\n");
        usage(stderr);
        return 2;
    }
    size_t pl = strlen(TTS_INSTRUCTION) + strlen(argv[optind]) + 2;
    char *prompt = malloc(pl);
    if (!prompt) return 1;
    snprintf(prompt, pl, "%s\n%s", TTS_INSTRUCTION, argv[optind]);
    char *av[32];
    int ac = 0;
    av[ac++] = "chat";
    av[ac++] = "-m"; av[ac++] = (char *)dir;
    av[ac++] = "-p"; av[ac++] = prompt;
    av[ac++] = "--think"; av[ac++] = "off";
    av[ac++] = "--temp"; av[ac++] = (char *)temp;
    av[ac++] = "-n"; av[ac++] = (char *)nmax;
    av[ac++] = "--no-color";
    av[ac++] = "--speak"; av[ac++] = (char *)out;
    if (voice) { av[ac++] = "--voice"; av[ac++] = (char *)voice; }
    if (ref) { av[ac++] = "--ref-audio"; av[ac++] = (char *)ref; }
    if (threads) { av[ac++] = "-t"; av[ac++] = (char *)threads; }
    if (seed) { av[ac++] = "--seed"; av[ac++] = (char *)seed; }
    av[ac] = NULL;
    int rc = cmd_chat(ac, av);
    free(prompt);
    return rc;
}
