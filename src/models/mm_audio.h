/* mm_audio.h - the audio side of media encoding (audio.md §2-6): one audio item
 * -> discrete units (S3 tokenizer) and continuous rows (encoder + projector). */
#ifndef OMNIC_MODELS_MM_AUDIO_H
#define OMNIC_MODELS_MM_AUDIO_H
#include <stddef.h>
#include <stdint.h>

#include "core/threads.h"
#include "omnic.h"

typedef struct mm_audio_out {
    int32_t *codes;   /* [n_codes] units 0..6560 (no vocabulary offset), malloc'ed */
    int n_codes;
    float *rows;      /* [n_rows][dim] projector output, malloc'ed */
    int n_rows, dim;
} mm_audio_out;

/* Runs on pool (the media encoders' own). */
int mm_audio_encode(omnic_model *m, omnic_pool *pool, const uint8_t *buf, size_t len, const char *name, mm_audio_out *out);
/* Release the audio encoders held by m (called by mm_free). */
void mm_audio_free(omnic_model *m);

#endif
