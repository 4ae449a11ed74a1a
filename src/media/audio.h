/* audio.h - audio input (audio.md §2): any container the FFmpeg libraries read,
 * best audio stream, mono by averaging channels, resampled to 16 kHz with
 * resampy's kaiser_best filter and librosa's output length rule. */
#ifndef OMNIC_MEDIA_AUDIO_H
#define OMNIC_MEDIA_AUDIO_H
#include <stddef.h>
#include <stdint.h>

#define OMNIC_AUDIO_SR 16000
#define OMNIC_AUDIO_MIN_SAMPLES 400          /* shorter input is refused (§2.3) */
#define OMNIC_AUDIO_MAX_SECONDS_DEFAULT 600.0

/* Decode an encoded file held in memory to float32 mono 16 kHz (*pcm malloc'ed,
 * *n samples). name is used in errors. max_seconds <= 0: the default maximum.
 * Errors: no audio stream / corrupt (OMNIC_EFORMAT), too short or too long or
 * absurd rate/channels (OMNIC_EINVAL). */
int omnic_audio_decode(const uint8_t *buf, size_t len, const char *name, double max_seconds,
                       float **pcm, int64_t *n);
int omnic_audio_load(const char *path, double max_seconds, float **pcm, int64_t *n);

/* resampy kaiser_best resampling; *ny = ceil(n * sr_out / sr_in) (librosa fix). */
int omnic_resample(const float *x, int64_t n, int sr_in, int sr_out, float **y, int64_t *ny);

#endif
