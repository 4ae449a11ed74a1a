/* s3tok.h - Omni-8B's discrete speech tokenizer (audio.md §5): CosyVoice2's S3
 * tokenizer v2 (stride-4 conv stem, FSMN-memory attention blocks with rotary
 * positions, FSQ with 8 ternary digits -> codes 0..6560, 25 per second), on
 * <= 80 s chunks of its own unpadded log-mel. Weights:
 * model.discrete_audio_model.* of the unified checkpoint, memory-mapped. */
#ifndef OMNIC_MODELS_S3TOK_H
#define OMNIC_MODELS_S3TOK_H
#include <stdint.h>

#include "core/threads.h"
#include "omnic.h"

#define S3_CHUNK_SAMPLES 1280000   /* 80 s (§2.3) */
#define S3_MIN_TAIL_SAMPLES 16000  /* UNCERTAIN U2: tail merge threshold */
#define S3_MIN_CHUNK_SAMPLES 400   /* shorter chunks are zero-padded to this */
#define S3_MAX_POS 2048            /* rotary table length */
#define S3_CODES 6561

typedef struct s3tok s3tok;

/* OMNIC_EUNSUP if the checkpoint has no model.discrete_audio_model.* tensors. */
int s3tok_load(omnic_model *m, s3tok **out);
void s3tok_free(s3tok *t);

/* §2.3 chunking: the end (exclusive) of the chunk that starts at start < n. */
int64_t s3tok_chunk_end(int64_t n, int64_t start);
/* §5.5 counts: codes of a chunk of T mel frames; codes of a whole signal. */
int s3tok_codes_for_frames(int T);
int64_t s3tok_codes(int64_t n);

/* One chunk from its features feat [128][T] (mel_s3): writes
 * s3tok_codes_for_frames(T) codes. */
int s3tok_chunk(s3tok *t, omnic_pool *pool, const float *feat, int T, int32_t *codes);

/* The whole 16 kHz signal: *codes malloc'ed [*n_codes], values 0..6560
 * (no vocabulary offset). */
int s3tok_encode(s3tok *t, omnic_pool *pool, const float *pcm, int64_t n, int32_t **codes, int *n_codes);

#endif
