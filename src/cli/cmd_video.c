/* cmd_video.c - STUB: `omnic video` (to be written). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_video(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "omnic video: not built yet\n");
    return 1;
}
