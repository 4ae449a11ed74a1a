/* ecapa.c - zero-shot speaker conditioning (audio.md §10.2-10.4): reference
 * high-pass + loudness, the 24 kHz reference mel and the ECAPA-TDNN encoder. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vocoder_impl.h"

int vc_ecapa_load(omnic_vocoder *v, const vc_ld *l, json_t *cfg) {
    (void)v; (void)cfg;
    return omnic_err(OMNIC_EUNSUP, "%s: zero-shot (ECAPA) vocoder not built yet", l->file);
}
void vc_ecapa_free(vc_ecapa *e) { (void)e; }
int vocoder_speaker_from_audio(omnic_vocoder *v, const float *pcm, int64_t n, float *spk) {
    (void)v; (void)pcm; (void)n; (void)spk;
    return omnic_err(OMNIC_EUNSUP, "zero-shot not built yet");
}
int vocoder_ref_mel(const omnic_vocoder *v, const float *pcm, int64_t n, float **mel, int *frames) {
    (void)v; (void)pcm; (void)n; (void)mel; (void)frames;
    return omnic_err(OMNIC_EUNSUP, "zero-shot not built yet");
}
