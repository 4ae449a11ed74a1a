/* audio_encode.h - generated speech (float32 mono, normally 24 kHz) to the response
 * formats of api.md 8.2.2 step 5 / OpenAI's response_format: wav, pcm, mp3, flac,
 * opus (Ogg Opus; "ogg" is an alias), aac (ADTS).
 *
 * Every format starts from the same int16 samples s = trunc(y * 32767) (audio.md 9.9;
 * float32 product; y clipped to [-1, 1] first, NaN -> 0). wav (RIFF PCM16 mono) and pcm (raw s16le)
 * are written here; the others go through libavcodec/libavformat into memory.
 * Encoder choices (all take 24 kHz natively, so nothing is resampled at 24 kHz):
 *   mp3   libmp3lame, 320 kb/s where the rate allows it (>= 32 kHz), else 160 kb/s
 *         (the MPEG-2 Layer III maximum, which is what LAME gives for "320k" at
 *         24 kHz); a LAME/Xing header carries the encoder delay in one-shot output.
 *   flac  FFmpeg's flac encoder, s16, lossless.
 *   opus  libopus in Ogg, 64 kb/s, application audio; 8/12/16/24/48 kHz native.
 *   aac   FFmpeg's native AAC-LC (float planar input: s16 / 32768), 96 kb/s, ADTS.
 * An input rate an encoder does not list is resampled (libswresample) to the
 * smallest listed rate above it (e.g. 22050 -> 24000 for opus), else the largest.
 * Decoded lengths: wav/pcm/flac/opus exactly n (opus: n >= one 20 ms frame); mp3
 * one-shot n (LAME header), streamed + LAME's 1105-sample delay and padding; ADTS
 * AAC cannot signal the encoder's 1024-sample priming: + 1024 and padding to a
 * 1024-sample frame.
 *
 * Limits: 8000 <= sr <= 192000; n <= sr * OMNIC_AUDIO_ENC_MAX_SECONDS (a larger
 * request is OMNIC_EINVAL, nothing is allocated). n == 0 gives a valid empty file. */
#ifndef OMNIC_MEDIA_AUDIO_ENCODE_H
#define OMNIC_MEDIA_AUDIO_ENCODE_H
#include <stddef.h>
#include <stdint.h>

#define OMNIC_AUDIO_ENC_MAX_SECONDS 3600

/* The int16 conversion of audio.md 9.9 (also used by every format below). */
int16_t omnic_audio_s16(float y);
void omnic_audio_to_s16(const float *x, int64_t n, int16_t *out);

/* Known format name ("wav", "pcm", "mp3", "flac", "opus", "ogg", "aac")? MIME type
 * and file extension for it (NULL when unknown). */
int omnic_audio_format_known(const char *format);
const char *omnic_audio_format_mime(const char *format);
const char *omnic_audio_format_ext(const char *format);

/* One-shot: encode n samples at sr Hz. *out is malloc'ed (free()), *len bytes;
 * *mime (may be NULL) gets a static MIME string. Errors name the format:
 * OMNIC_EINVAL (unknown format, bad rate, too long), OMNIC_EUNSUP (encoder missing
 * from this FFmpeg build), OMNIC_EFORMAT (encoder/muxer failure), OMNIC_ENOMEM. */
int omnic_audio_encode(const float *x, int64_t n, int sr, const char *format, uint8_t **out,
                       size_t *len, const char **mime);

/* Streaming: feed chunks as the vocoder produces them; each call returns the bytes
 * that became available (possibly 0). The buffer is owned by the stream and valid
 * until its next call. Concatenating all outputs gives a complete file: wav has
 * 0xFFFFFFFF in its RIFF and data sizes (length unknown when the header is sent),
 * flac has no total-sample count, mp3 no Xing header. All formats are supported.
 * After an error the stream only accepts free. */
typedef struct audio_enc_stream audio_enc_stream;
int audio_enc_stream_new(const char *format, int sr, audio_enc_stream **out, const char **mime);
int audio_enc_stream_feed(audio_enc_stream *s, const float *x, int64_t n, const uint8_t **out,
                          size_t *len);
int audio_enc_stream_finish(audio_enc_stream *s, const uint8_t **out, size_t *len);
void audio_enc_stream_free(audio_enc_stream *s);

#endif
