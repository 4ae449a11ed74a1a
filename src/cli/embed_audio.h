/* embed_audio.h - the audio half of `omnic embed` (audio.md §2-5). */
#ifndef OMNIC_CLI_EMBED_AUDIO_H
#define OMNIC_CLI_EMBED_AUDIO_H
#include "omnic.h"

/* Encode the audio file at path with model m; write to out_path (.npy):
 * discrete=0: float32 [N, D_llm] continuous rows (projector output, before the
 * embedding multiplier); discrete=1: int32 [N] codes 0..6560 (no offset).
 * Returns a process exit code (0 ok), printing the error. */
int cmd_embed_audio(omnic_model *m, const char *path, int discrete, const char *out_path);

#endif
