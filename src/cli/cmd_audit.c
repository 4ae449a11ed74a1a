/* cmd_audit.c - STUB: `omnic audit` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_audit(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic audit: not built yet\n");
    return 1;
}
