/* audio_enc.h - Omni-8B's continuous audio encoder (audio.md §4): Qwen2-Audio /
 * Whisper-large-v3 geometry (conv stem, learned positions, pre-LN transformer,
 * average pooling, final LayerNorm) plus the audio projector MLP, on 30 s chunks
 * of Whisper log-mel features. Weights: model.audio_model.* and
 * model.audio_projector.* of the unified checkpoint, memory-mapped. */
#ifndef OMNIC_MODELS_AUDIO_ENC_H
#define OMNIC_MODELS_AUDIO_ENC_H
#include <stdint.h>

#include "core/threads.h"
#include "omnic.h"

#define AUDIO_ENC_CHUNK_SAMPLES 480000 /* 30 s (§2.3) */
#define AUDIO_ENC_FRAMES 3000          /* mel frames per chunk */

typedef struct audio_enc audio_enc;

/* Load from an open model (config.json audio_config if present, else shapes).
 * OMNIC_EUNSUP if the checkpoint has no model.audio_model.* tensors. */
int audio_enc_load(omnic_model *m, audio_enc **out);
void audio_enc_free(audio_enc *e);
int audio_enc_out_dim(const audio_enc *e);   /* projector output width (LLM hidden) */

/* §3.3: rows one chunk of n samples gives (L2; 0 for n <= 320), and the rows
 * a whole signal of n samples gives (T_c). */
int audio_enc_chunk_rows(int64_t n);
int64_t audio_enc_rows(int64_t n);

/* One chunk: feat = its Whisper features [128][3000] (mel_whisper_chunk), n =
 * its sample count (1..480000). Writes audio_enc_chunk_rows(n) rows [.][D_llm]
 * of projector output to out. */
int audio_enc_chunk(audio_enc *e, omnic_pool *pool, const float *feat, int n, float *out);

/* The whole signal (16 kHz mono): 30 s chunks -> mel -> encoder -> projector,
 * concatenated. *rows malloc'ed [*n_rows][D_llm]. */
int audio_enc_encode(audio_enc *e, omnic_pool *pool, const float *pcm, int64_t n, float **rows, int *n_rows);

#endif
