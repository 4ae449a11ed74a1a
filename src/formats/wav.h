/* wav.h - minimal RIFF/WAVE reading (PCM 8/16/24/32-bit, IEEE float 32/64,
 * WAVE_FORMAT_EXTENSIBLE; channels averaged to mono) and 16-bit PCM mono
 * writing. The vocoder's own WAV output (audio.md §9.9) and its reference-audio
 * input until the FFmpeg-based decoder is wired in. */
#ifndef OMNIC_FORMATS_WAV_H
#define OMNIC_FORMATS_WAV_H
#include <stddef.h>
#include <stdint.h>

/* Parse WAV bytes: *pcm (malloc'ed, mono float in [-1, 1]), *n samples, *sr. */
int wav_parse(const uint8_t *buf, size_t len, const char *name, float **pcm, int64_t *n, int *sr);
int wav_read(const char *path, float **pcm, int64_t *n, int *sr);
/* Float samples -> int16 by trunc(y * 32767) (float32 product, clipped to
 * [-1, 1] first), RIFF PCM 16-bit mono at sr. Written to a temporary file and
 * renamed into place. */
int wav_write_pcm16(const char *path, const float *y, int64_t n, int sr);
/* The int16 conversion alone (audio.md §9.9). */
int16_t wav_f32_to_i16(float y);

#endif
