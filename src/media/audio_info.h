/* audio_info.h - additions to the audio.h contract: decoding that also reports
 * what was decoded (for `omnic audio` and error messages), and the chunking and
 * count rules of audio.md §2.3, §3.3 and §5.5 shared by the encoders. */
#ifndef OMNIC_MEDIA_AUDIO_INFO_H
#define OMNIC_MEDIA_AUDIO_INFO_H
#include <stddef.h>
#include <stdint.h>

#define OMNIC_AUDIO_MIN_SR 1000
#define OMNIC_AUDIO_MAX_SR 768000
#define OMNIC_AUDIO_MAX_CHANNELS 64

typedef struct omnic_audio_info {
    int sample_rate;        /* of the decoded stream */
    int channels;
    char codec[32];         /* FFmpeg decoder name, e.g. "mp3float", "pcm_s16le" */
    char container[64];     /* FFmpeg demuxer name(s), e.g. "wav", "mov,mp4,m4a,3gp,3g2,mj2" */
    int64_t source_samples; /* per channel, at sample_rate */
    int64_t samples;        /* at 16 kHz after resampling (= *n) */
} omnic_audio_info;

/* omnic_audio_decode / omnic_audio_load that also fill *info (may be NULL). */
int omnic_audio_decode_info(const uint8_t *buf, size_t len, const char *name, double max_seconds,
                            float **pcm, int64_t *n, omnic_audio_info *info);
int omnic_audio_load_info(const char *path, double max_seconds, float **pcm, int64_t *n,
                          omnic_audio_info *info);

/* Decode at another output rate (the zero-shot vocoder's 24 kHz reference,
 * audio.md §10.2, re-decoded from the original bytes); same rules otherwise. */
int omnic_audio_decode_sr(const uint8_t *buf, size_t len, const char *name, double max_seconds, int out_sr,
                          float **pcm, int64_t *n);

/* §2.3 discrete path: chunks of 1 280 000 samples; a tail shorter than
 * OMNIC_AUDIO_S3_MIN_TAIL joins the chunk before it (N <= 1 280 000: one chunk).
 * Writes at most max (start, length) pairs; returns the number of chunks. */
#define OMNIC_AUDIO_S3_CHUNK 1280000
#define OMNIC_AUDIO_S3_MIN_TAIL 16000
int omnic_audio_s3_chunks(int64_t n, int64_t (*chunks)[2], int max);

/* Rows of the continuous path for N samples (§3.3, 30 s chunks) and codes of the
 * discrete path (§5.5 with the chunks above). */
int64_t omnic_audio_continuous_rows(int64_t n);
int64_t omnic_audio_discrete_codes(int64_t n);

#endif
