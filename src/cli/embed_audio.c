/* embed_audio.c - STUB (to be replaced by the audio encoders' embed path). */
#include "cli/embed_audio.h"

#include <stdio.h>

int cmd_embed_audio(omnic_model *m, const char *path, int discrete, const char *out_path) {
    (void)m; (void)discrete; (void)out_path;
    fprintf(stderr, "omnic embed: %s: audio input is not built yet\n", path);
    return 1;
}
