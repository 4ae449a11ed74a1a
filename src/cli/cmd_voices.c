/* cmd_voices.c - STUB: `omnic voices` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_voices(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic voices: not built yet\n");
    return 1;
}
