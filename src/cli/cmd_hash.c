/* cmd_hash.c - STUB: `omnic hash` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_hash(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic hash: not built yet\n");
    return 1;
}
