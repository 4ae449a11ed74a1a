/* audio_decode.c - STUB (to be replaced by the FFmpeg audio decoder). */
#include "media/audio.h"

#include "core/error.h"

int omnic_audio_decode(const uint8_t *buf, size_t len, const char *name, double max_seconds,
                       float **pcm, int64_t *n) {
    (void)buf; (void)len; (void)max_seconds; (void)pcm; (void)n;
    return omnic_err(OMNIC_EUNSUP, "%s: audio decoding is not built yet", name);
}
int omnic_audio_load(const char *path, double max_seconds, float **pcm, int64_t *n) {
    return omnic_audio_decode(NULL, 0, path, max_seconds, pcm, n);
}
int omnic_resample(const float *x, int64_t n, int sr_in, int sr_out, float **y, int64_t *ny) {
    (void)x; (void)n; (void)sr_in; (void)sr_out; (void)y; (void)ny;
    return omnic_err(OMNIC_EUNSUP, "resampling is not built yet");
}
