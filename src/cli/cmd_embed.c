/* cmd_embed.c - STUB: `omnic embed` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_embed(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic embed: not built yet\n");
    return 1;
}
