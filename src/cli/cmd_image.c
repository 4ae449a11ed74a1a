/* cmd_image.c - STUB: `omnic image` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_image(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic image: not built yet\n");
    return 1;
}
