/* mm_audio.c - STUB until the audio encoders land. */
#include "models/mm_audio.h"

#include "core/error.h"

int mm_audio_encode(omnic_model *m, omnic_pool *pool, const uint8_t *buf, size_t len, const char *name,
                    mm_audio_out *out) {
    (void)m; (void)pool; (void)buf; (void)len; (void)out;
    return omnic_err(OMNIC_EUNSUP, "%s: audio input is not built yet", name);
}
void mm_audio_free(omnic_model *m) { (void)m; }
