/* vocoder.h - the unit BigVGAN vocoder of SEED-Omni-8B (audio.md §9-10): speech
 * units (25/s) + a speaker vector -> 24 kHz float waveform (960 samples/unit).
 * Finetuned archives carry a preset speaker table (spk_list.txt names its rows);
 * zero-shot archives carry an ECAPA-TDNN speaker encoder fed with a reference
 * recording (§10.2-10.4). */
#ifndef OMNIC_MODELS_VOCODER_H
#define OMNIC_MODELS_VOCODER_H
#include <stdint.h>

#include "core/threads.h"

#define VOCODER_SR 24000
#define VOCODER_HOP 960              /* output samples per unit */
#define VOCODER_REF_MAX_SECONDS 30.0 /* zero-shot reference cap (audio.md U12) */

typedef struct omnic_vocoder omnic_vocoder;

/* Default archive names inside an Omni model folder. */
#define VOCODER_FT_PATH "decoder/audio/NCCosybigvganDecoder.mar"
#define VOCODER_ZS_PATH "decoder/audio/NCZSCosybigvganDecoder.mar"

/* Open a vocoder: path is a .mar file, or an Omni model folder where the
 * finetuned (zero_shot = 0) or zero-shot (zero_shot = 1) archive is taken from
 * its default place. pool may be NULL (then one is created with n_threads). */
int vocoder_open(const char *path, int zero_shot, omnic_pool *pool, int n_threads, omnic_vocoder **out);
void vocoder_free(omnic_vocoder *v);

int vocoder_is_finetune(const omnic_vocoder *v);
int vocoder_is_causal(const omnic_vocoder *v);
int vocoder_num_units(const omnic_vocoder *v);
int vocoder_spk_dim(const omnic_vocoder *v);
const char *vocoder_path(const omnic_vocoder *v);

/* Preset voices: rows of the speaker table; names from spk_list.txt (a row
 * without a line has name NULL). */
int vocoder_num_speakers(const omnic_vocoder *v);
const char *vocoder_speaker_name(const omnic_vocoder *v, int i);
/* "fkms" (a name; a duplicated name maps to its last line) or "3" (a row
 * index) -> row index; error naming the voice otherwise. */
int vocoder_find_speaker(const omnic_vocoder *v, const char *voice, int *index);
/* spk[spk_dim] <- row i of the table. */
int vocoder_preset(const omnic_vocoder *v, int i, float *spk);

/* Zero-shot: reference audio, float mono at 24 kHz (first 30 s used) ->
 * spk[spk_dim] (high-pass, loudness, reference mel, ECAPA-TDNN). */
int vocoder_speaker_from_audio(omnic_vocoder *v, const float *pcm, int64_t n, float *spk);
/* Just the reference mel (§10.2 steps 2-4): *mel [num_mels][*frames] malloc'ed. */
int vocoder_ref_mel(const omnic_vocoder *v, const float *pcm, int64_t n, float **mel, int *frames);

/* units[T] (0..num_units-1) + spk -> out[960*T] (after the final tanh/clamp). */
int vocoder_synth(omnic_vocoder *v, const int32_t *units, int T, const float *spk, float *out);

#endif
