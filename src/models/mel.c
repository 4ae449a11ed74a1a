/* mel.c - STUB (to be replaced by the log-mel front ends). */
#include "models/mel.h"

#include "core/error.h"

int mel_filterbank_slaney(int sr, int n_fft, int n_mels, double fmin, double fmax, float *W) {
    (void)sr; (void)n_fft; (void)n_mels; (void)fmin; (void)fmax; (void)W;
    return omnic_err(OMNIC_EUNSUP, "mel filterbank is not built yet");
}
int mel_whisper_chunk(const float *x, int n, float *out) {
    (void)x; (void)n; (void)out;
    return omnic_err(OMNIC_EUNSUP, "log-mel is not built yet");
}
int mel_s3(const float *x, int n, float **out, int *T) {
    (void)x; (void)n; (void)out; (void)T;
    return omnic_err(OMNIC_EUNSUP, "log-mel is not built yet");
}
