/* mel.h - log-mel front ends of the audio encoders: Whisper's 128-bin features
 * on 30 s chunks (audio.md §3) and the S3 tokenizer's unpadded variant (§5.2). */
#ifndef OMNIC_MODELS_MEL_H
#define OMNIC_MODELS_MEL_H
#include <stdint.h>

#define MEL_WHISPER_SAMPLES 480000
#define MEL_WHISPER_FRAMES 3000

/* Slaney-scale, Slaney-normalised filterbank W[n_mels][n_fft/2+1] (float64
 * construction, stored float32). */
int mel_filterbank_slaney(int sr, int n_fft, int n_mels, double fmin, double fmax, float *W);
/* §3.1: one chunk of 1 <= n <= 480000 samples -> out[128][3000]. */
int mel_whisper_chunk(const float *x, int n, float *out);
/* §5.2: one chunk of n >= 201 samples -> *out [128][T] malloc'ed, T = n / 160. */
int mel_s3(const float *x, int n, float **out, int *T);

#endif
