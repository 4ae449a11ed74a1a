/* cmd_vocode.c - STUB: `omnic vocode` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_vocode(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic vocode: not built yet\n");
    return 1;
}
