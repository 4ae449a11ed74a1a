/* mm_audio.c - the audio side of media encoding (audio.md §2-6): decode and
 * resample to 16 kHz mono, then the S3 tokenizer (discrete units) and the
 * continuous encoder + projector. The encoders are loaded on first use and kept
 * with the model's media state. */
#include "models/mm_audio.h"

#include <stdlib.h>

#include "core/error.h"
#include "media/audio.h"
#include "models/audio_enc.h"
#include "models/hcx.h"
#include "models/s3tok.h"

/* Stored beside mm.c's state; one per model. */
typedef struct mm_audio_state {
    int tried;
    audio_enc *enc;
    s3tok *s3;
} mm_audio_state;

static mm_audio_state *state_of(omnic_model *m, int create) {
    if (!m->mm_audio && create) m->mm_audio = calloc(1, sizeof(mm_audio_state));
    return m->mm_audio;
}

int mm_audio_encode(omnic_model *m, omnic_pool *pool, const uint8_t *buf, size_t len, const char *name,
                    mm_audio_out *out) {
    *out = (mm_audio_out){0};
    mm_audio_state *S = state_of(m, 1);
    if (!S) return omnic_err(OMNIC_ENOMEM, "out of memory");
    if (!S->tried) {
        S->tried = 1;
        if (audio_enc_load(m, &S->enc)) return omnic_err(OMNIC_EUNSUP, "%s", omnic_errmsg());
        if (s3tok_load(m, &S->s3)) {
            audio_enc_free(S->enc);
            S->enc = NULL;
            return omnic_err(OMNIC_EUNSUP, "%s", omnic_errmsg());
        }
    }
    if (!S->enc || !S->s3) return omnic_err(OMNIC_EUNSUP, "this model has no usable audio encoders");
    float *pcm = NULL;
    int64_t n = 0;
    int rc = omnic_audio_decode(buf, len, name, 0, &pcm, &n);
    if (rc) return rc;
    if ((rc = s3tok_encode(S->s3, pool, pcm, n, &out->codes, &out->n_codes)) ||
        (rc = audio_enc_encode(S->enc, pool, pcm, n, &out->rows, &out->n_rows))) {
        rc = omnic_err(rc, "%s: %s", name, omnic_errmsg());
        free(out->codes);
        free(out->rows);
        *out = (mm_audio_out){0};
    } else {
        out->dim = audio_enc_out_dim(S->enc);
    }
    free(pcm);
    return rc;
}

void mm_audio_free(omnic_model *m) {
    mm_audio_state *S = state_of(m, 0);
    if (!S) return;
    audio_enc_free(S->enc);
    s3tok_free(S->s3);
    free(S);
    m->mm_audio = NULL;
}
