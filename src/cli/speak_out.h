/* speak_out.h - the CLI's speech output: the units of a generated answer
 * (audio.md §8.3: token ids of <|audio0000|>.. in order) through the model
 * folder's vocoder into an audio file (`omnic speak`, `chat --speak`). */
#ifndef OMNIC_CLI_SPEAK_OUT_H
#define OMNIC_CLI_SPEAK_OUT_H
#include <stddef.h>
#include <stdint.h>

#include "omnic.h"

/* ids[n]: the answer's tokens. voice: preset name or row (NULL: the speaker
 * info in the answer, else "fkms", else row 0). ref_audio: a recording to clone
 * (the zero-shot archive; falls back to the preset voice if it fails), or NULL.
 * out: the format follows the extension (.wav .mp3 .flac .opus .ogg .aac .pcm;
 * .npy = float32 samples before int16). Returns an exit code, printing errors. */
int speak_answer(omnic_model *m, const omnic_tokenizer *tok, const char *dir, const int32_t *ids, size_t n,
                 const char *voice, const char *ref_audio, const char *out);

#endif
