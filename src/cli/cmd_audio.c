/* cmd_audio.c - STUB: `omnic audio` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_audio(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic audio: not built yet\n");
    return 1;
}
