/* audio_decode.c - audio input (audio.md §2.1-2.3): demux any container with
 * libavformat through our own AVIOContext (memory or FILE*; nested opens such as
 * playlists are refused), decode the best audio stream with libavcodec, convert
 * the decoded sample format to float ourselves (integer PCM / 2^(bits-1), float
 * kept), average the channels, resample to 16 kHz (audio_resample.c).
 *
 * Limits, each an error naming the input: sample rate outside [1000, 768000],
 * channels outside [1, 64], no audio stream, decoder or demuxer errors, data
 * shorter than the duration the header declares (truncated), fewer than
 * OMNIC_AUDIO_MIN_SAMPLES at 16 kHz, more than max_seconds (checked on the
 * declared duration before decoding and on the running sample count).
 * Decoder errors are not skipped: a damaged packet fails the whole input. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "core/error.h"
#include "media/audio.h"
#include "media/audio_info.h"

#define IO_BUF 65536

/* ---- FFmpeg log: keep the last error line for our messages ---------------- */

static __thread char g_averr[256];
static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;

static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl) {
    (void)avcl;
    if (level > AV_LOG_ERROR && omnic_log_level < 2) return;
    char line[256];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
    if (level <= AV_LOG_ERROR && l) memcpy(g_averr, line, l + 1);
    if (omnic_log_level >= 2) fprintf(stderr, "ffmpeg: %s\n", line);
}

static void log_init(void) { av_log_set_callback(av_log_cb); }

static const char *averr(int e, char *buf, size_t n) {
    av_strerror(e, buf, n);
    if (g_averr[0]) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, " (%s)", g_averr);
    }
    return buf;
}

/* ---- input: memory buffer or FILE* ----------------------------------------- */

typedef struct io_src {
    const uint8_t *buf;
    FILE *f;
    int64_t size, pos;
} io_src;

static int io_read(void *opaque, uint8_t *dst, int n) {
    io_src *s = opaque;
    if (s->pos >= s->size) return AVERROR_EOF;
    int64_t k = s->size - s->pos < n ? s->size - s->pos : n;
    if (s->f) {
        if (fseeko(s->f, s->pos, SEEK_SET)) return AVERROR(EIO);
        k = (int64_t)fread(dst, 1, (size_t)k, s->f);
        if (k <= 0) return ferror(s->f) ? AVERROR(EIO) : AVERROR_EOF;
    } else {
        memcpy(dst, s->buf + s->pos, (size_t)k);
    }
    s->pos += k;
    return (int)k;
}

static int64_t io_seek(void *opaque, int64_t off, int whence) {
    io_src *s = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return s->size;
    int64_t p;
    if (whence == SEEK_SET) p = off;
    else if (whence == SEEK_CUR) p = s->pos + off;
    else if (whence == SEEK_END) p = s->size + off;
    else return AVERROR(EINVAL);
    if (p < 0 || p > s->size) return AVERROR(EINVAL);
    s->pos = p;
    return p;
}

/* RIFF/WAVE: the data chunk's declared size. libavformat quietly clips it to
 * the file, so a truncated WAV would pass as a shorter one; returns 1 when the
 * declared data runs past the end of the input (0 and 0xFFFFFFFF mean
 * "unknown", the streaming convention). */
static int wav_truncated(io_src *s, int64_t *declared, int64_t *avail) {
    uint8_t h[4096];
    int64_t n = s->size < (int64_t)sizeof h ? s->size : (int64_t)sizeof h;
    if (s->f) {
        if (fseeko(s->f, 0, SEEK_SET)) return 0;
        n = (int64_t)fread(h, 1, (size_t)n, s->f);
    } else {
        memcpy(h, s->buf, (size_t)n);
    }
    if (n < 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) return 0;
    for (int64_t p = 12; p + 8 <= n;) {
        uint32_t sz = (uint32_t)h[p + 4] | (uint32_t)h[p + 5] << 8 | (uint32_t)h[p + 6] << 16 | (uint32_t)h[p + 7] << 24;
        if (!memcmp(h + p, "data", 4)) {
            if (sz == 0 || sz == 0xFFFFFFFFu) return 0;
            *declared = sz;
            *avail = s->size - (p + 8);
            return (int64_t)sz > *avail;
        }
        p += 8 + (int64_t)sz + (sz & 1);
    }
    return 0;
}

/* Demuxers must not open other files or URLs (HLS, concat, references in MOV). */
static int refuse_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opts) {
    (void)s; (void)pb; (void)url; (void)flags; (void)opts;
    return AVERROR(EPERM);
}

/* ---- decoding ---------------------------------------------------------------- */

typedef struct acc {
    float *x;
    int64_t n, cap;
} acc;

static int acc_grow(acc *a, int64_t add) {
    if (a->n + add <= a->cap) return 0;
    int64_t cap = a->cap ? a->cap : 65536;
    while (cap < a->n + add) cap *= 2;
    float *nx = realloc(a->x, sizeof *nx * (size_t)cap);
    if (!nx) return -1;
    a->x = nx;
    a->cap = cap;
    return 0;
}

/* Sample k of channel c of a frame as float (exact for every format). */
static inline double sample_at(const AVFrame *fr, int fmt, int ch, int c, int k) {
    int planar = av_sample_fmt_is_planar(fmt);
    const uint8_t *p = planar ? fr->extended_data[c] : fr->extended_data[0];
    size_t i = planar ? (size_t)k : (size_t)k * ch + c;
    switch (av_get_packed_sample_fmt(fmt)) {
    case AV_SAMPLE_FMT_U8: return ((int)p[i] - 128) / 128.0;
    case AV_SAMPLE_FMT_S16: return ((const int16_t *)p)[i] / 32768.0;
    case AV_SAMPLE_FMT_S32: return ((const int32_t *)p)[i] / 2147483648.0;
    case AV_SAMPLE_FMT_S64: return (double)((const int64_t *)p)[i] / 9223372036854775808.0;
    case AV_SAMPLE_FMT_FLT: return ((const float *)p)[i];
    case AV_SAMPLE_FMT_DBL: return ((const double *)p)[i];
    default: return 0;
    }
}

static int supported_fmt(int fmt) {
    switch (av_get_packed_sample_fmt(fmt)) {
    case AV_SAMPLE_FMT_U8: case AV_SAMPLE_FMT_S16: case AV_SAMPLE_FMT_S32:
    case AV_SAMPLE_FMT_S64: case AV_SAMPLE_FMT_FLT: case AV_SAMPLE_FMT_DBL:
        return 1;
    default:
        return 0;
    }
}

typedef struct dec_state {
    const char *name;
    int sr, ch;              /* from the first frame */
    int out_sr;              /* output rate: 16 kHz for the encoders, 24 kHz for voice references */
    double max_out;          /* max samples at out_sr */
    acc mono;
} dec_state;

static int take_frame(dec_state *d, const AVFrame *fr) {
    int ch = fr->ch_layout.nb_channels, sr = fr->sample_rate, fmt = fr->format;
    if (d->sr == 0) {
        if (sr < OMNIC_AUDIO_MIN_SR || sr > OMNIC_AUDIO_MAX_SR)
            return omnic_err(OMNIC_EINVAL, "%s: sample rate %d Hz is outside [%d, %d]", d->name, sr,
                             OMNIC_AUDIO_MIN_SR, OMNIC_AUDIO_MAX_SR);
        if (ch < 1 || ch > OMNIC_AUDIO_MAX_CHANNELS)
            return omnic_err(OMNIC_EINVAL, "%s: %d channels (want 1..%d)", d->name, ch, OMNIC_AUDIO_MAX_CHANNELS);
        d->sr = sr;
        d->ch = ch;
    } else if (sr != d->sr || ch != d->ch) {
        return omnic_err(OMNIC_EFORMAT, "%s: the audio changes from %d Hz/%d ch to %d Hz/%d ch mid-stream",
                         d->name, d->sr, d->ch, sr, ch);
    }
    if (!supported_fmt(fmt))
        return omnic_err(OMNIC_EUNSUP, "%s: unsupported decoded sample format %s", d->name,
                         av_get_sample_fmt_name(fmt) ? av_get_sample_fmt_name(fmt) : "?");
    int ns = fr->nb_samples;
    if (ns <= 0) return 0;
    if ((double)(d->mono.n + ns) * d->out_sr / d->sr > d->max_out)
        return omnic_err(OMNIC_EINVAL, "%s: audio longer than the maximum of %.1f s", d->name,
                         d->max_out / d->out_sr);
    if (acc_grow(&d->mono, ns)) return omnic_err(OMNIC_ENOMEM, "%s: out of memory decoding audio", d->name);
    float *o = d->mono.x + d->mono.n;
    for (int k = 0; k < ns; k++) {
        double s = 0;
        for (int c = 0; c < ch; c++) s += sample_at(fr, fmt, ch, c, k);
        o[k] = ch == 1 ? (float)s : (float)(s / ch);
    }
    d->mono.n += ns;
    return 0;
}

/* Receive every frame the decoder has ready. */
static int drain(dec_state *d, AVCodecContext *cc, AVFrame *fr) {
    char eb[384];
    for (;;) {
        int r = avcodec_receive_frame(cc, fr);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return 0;
        if (r < 0)
            return omnic_err(OMNIC_EFORMAT, "%s: corrupt audio data at %.2f s: %s", d->name,
                             d->sr ? (double)d->mono.n / d->sr : 0.0, averr(r, eb, sizeof eb));
        int rc = take_frame(d, fr);
        av_frame_unref(fr);
        if (rc) return rc;
    }
}

static int decode_src(io_src *src, const char *name, double max_seconds, int out_sr, float **pcm, int64_t *n,
                      omnic_audio_info *info) {
    *pcm = NULL;
    *n = 0;
    pthread_once(&g_log_once, log_init);
    g_averr[0] = 0;
    if (max_seconds <= 0) max_seconds = OMNIC_AUDIO_MAX_SECONDS_DEFAULT;
    if (src->size == 0) return omnic_err(OMNIC_EFORMAT, "%s: empty file", name);

    char eb[384];
    int rc = 0, r;
    dec_state d = {.name = name, .out_sr = out_sr, .max_out = floor(max_seconds * out_sr)};
    const int64_t min_out = (int64_t)OMNIC_AUDIO_MIN_SAMPLES * out_sr / OMNIC_AUDIO_SR;
    AVFormatContext *fc = NULL;
    AVCodecContext *cc = NULL;
    AVPacket *pkt = NULL;
    AVFrame *fr = NULL;
    uint8_t *iobuf = av_malloc(IO_BUF);
    AVIOContext *pb = iobuf ? avio_alloc_context(iobuf, IO_BUF, 0, src, io_read, NULL, io_seek) : NULL;
    if (!pb) { av_free(iobuf); return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); }
    fc = avformat_alloc_context();
    if (!fc) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto done; }
    fc->pb = pb;
    fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    fc->io_open = refuse_open;
    if ((r = avformat_open_input(&fc, "", NULL, NULL)) < 0) {
        fc = NULL; /* freed by avformat_open_input */
        rc = omnic_err(OMNIC_EFORMAT, "%s: not a readable audio/video file: %s", name, averr(r, eb, sizeof eb));
        goto done;
    }
    if ((r = avformat_find_stream_info(fc, NULL)) < 0) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: cannot read the streams: %s", name, averr(r, eb, sizeof eb));
        goto done;
    }
    const AVCodec *dec = NULL;
    int si = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, &dec, 0);
    if (si == AVERROR_STREAM_NOT_FOUND) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: no audio stream (container %s)", name, fc->iformat->name);
        goto done;
    }
    if (si < 0 || !dec) {
        int any = -1;
        for (unsigned i = 0; i < fc->nb_streams; i++)
            if (fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) { any = (int)i; break; }
        rc = omnic_err(OMNIC_EUNSUP, "%s: no decoder for the audio codec %s", name,
                       any >= 0 ? avcodec_get_name(fc->streams[any]->codecpar->codec_id) : "?");
        goto done;
    }
    AVStream *st = fc->streams[si];
    const AVCodecParameters *par = st->codecpar;
    if (par->sample_rate < OMNIC_AUDIO_MIN_SR || par->sample_rate > OMNIC_AUDIO_MAX_SR) {
        rc = omnic_err(OMNIC_EINVAL, "%s: sample rate %d Hz is outside [%d, %d]", name, par->sample_rate,
                       OMNIC_AUDIO_MIN_SR, OMNIC_AUDIO_MAX_SR);
        goto done;
    }
    if (par->ch_layout.nb_channels < 1 || par->ch_layout.nb_channels > OMNIC_AUDIO_MAX_CHANNELS) {
        rc = omnic_err(OMNIC_EINVAL, "%s: %d channels (want 1..%d)", name, par->ch_layout.nb_channels,
                       OMNIC_AUDIO_MAX_CHANNELS);
        goto done;
    }
    /* declared duration: refuse early what is certainly too long */
    double declared = -1;
    if (st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0)
        declared = (double)st->duration * av_q2d(st->time_base);
    else if (fc->duration > 0)
        declared = (double)fc->duration / AV_TIME_BASE;
    if (declared > max_seconds + 1.0) {
        rc = omnic_err(OMNIC_EINVAL, "%s: audio of %.1f s is longer than the maximum of %.1f s", name, declared,
                       max_seconds);
        goto done;
    }
    int64_t wav_decl = 0, wav_avail = 0;
    if (!strcmp(fc->iformat->name, "wav") && wav_truncated(src, &wav_decl, &wav_avail)) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: truncated: the WAV header declares %lld bytes of samples, the file holds %lld",
                       name, (long long)wav_decl, (long long)wav_avail);
        goto done;
    }
    int exact_duration = st->duration > 0 && fc->duration_estimation_method == AVFMT_DURATION_FROM_STREAM;

    cc = avcodec_alloc_context3(dec);
    if (!cc) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto done; }
    if ((r = avcodec_parameters_to_context(cc, par)) < 0 || (r = avcodec_open2(cc, dec, NULL)) < 0) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: cannot open the %s decoder: %s", name, dec->name, averr(r, eb, sizeof eb));
        goto done;
    }
    pkt = av_packet_alloc();
    fr = av_frame_alloc();
    if (!pkt || !fr) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto done; }
    while ((r = av_read_frame(fc, pkt)) >= 0) {
        if (pkt->stream_index == si) {
            int s = avcodec_send_packet(cc, pkt);
            if (s < 0 && s != AVERROR(EAGAIN)) {
                rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt audio data at %.2f s: %s", name,
                               d.sr ? (double)d.mono.n / d.sr : 0.0, averr(s, eb, sizeof eb));
                av_packet_unref(pkt);
                goto done;
            }
            if ((rc = drain(&d, cc, fr))) { av_packet_unref(pkt); goto done; }
        }
        av_packet_unref(pkt);
    }
    if (r != AVERROR_EOF) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: read error after %.2f s of audio: %s", name,
                       d.sr ? (double)d.mono.n / d.sr : 0.0, averr(r, eb, sizeof eb));
        goto done;
    }
    avcodec_send_packet(cc, NULL);
    if ((rc = drain(&d, cc, fr))) goto done;
    if (d.mono.n == 0) { rc = omnic_err(OMNIC_EFORMAT, "%s: no audio samples could be decoded", name); goto done; }
    if (exact_duration) {
        /* PCM and FLAC headers count the samples exactly; the durations other
         * containers declare are estimates (encoder delay and padding, MPEG-2.5
         * frame counts), so there only a stream under half its length counts */
        double want = declared * d.sr, got = (double)d.mono.n;
        int exact = par->codec_id == AV_CODEC_ID_FLAC || /* PCM ids: 0x10000 up to the first ADPCM */
                    (par->codec_id >= AV_CODEC_ID_FIRST_AUDIO && par->codec_id < AV_CODEC_ID_ADPCM_IMA_QT);
        double tol = exact ? fmax(0.05 * d.sr, 0.01 * want) : 0.5 * want;
        if (got < want - tol) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: truncated: the header declares %.3f s, the data holds %.3f s", name,
                           declared, got / d.sr);
            goto done;
        }
    }
    float *y;
    int64_t ny;
    if ((rc = omnic_resample(d.mono.x, d.mono.n, d.sr, out_sr, &y, &ny))) goto done;
    if (ny < min_out) {
        free(y);
        rc = omnic_err(OMNIC_EINVAL, "%s: audio too short: %lld samples at %d Hz (%.4f s; the minimum is %lld)", name,
                       (long long)ny, out_sr, (double)ny / out_sr, (long long)min_out);
        goto done;
    }
    if ((double)ny > d.max_out) {
        free(y);
        rc = omnic_err(OMNIC_EINVAL, "%s: audio of %.2f s is longer than the maximum of %.1f s", name,
                       (double)ny / out_sr, max_seconds);
        goto done;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->sample_rate = d.sr;
        info->channels = d.ch;
        snprintf(info->codec, sizeof info->codec, "%s", dec->name);
        snprintf(info->container, sizeof info->container, "%s", fc->iformat->name);
        info->source_samples = d.mono.n;
        info->samples = ny;
    }
    *pcm = y;
    *n = ny;
done:
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&cc);
    avformat_close_input(&fc);
    if (pb) av_freep(&pb->buffer);
    avio_context_free(&pb);
    free(d.mono.x);
    return rc;
}

int omnic_audio_decode_info(const uint8_t *buf, size_t len, const char *name, double max_seconds,
                            float **pcm, int64_t *n, omnic_audio_info *info) {
    if (!name) name = "audio";
    if (!buf && len) return omnic_err(OMNIC_EINVAL, "%s: no data", name);
    io_src src = {.buf = buf, .size = (int64_t)len};
    return decode_src(&src, name, max_seconds, OMNIC_AUDIO_SR, pcm, n, info);
}

int omnic_audio_decode_sr(const uint8_t *buf, size_t len, const char *name, double max_seconds, int out_sr,
                          float **pcm, int64_t *n) {
    if (!name) name = "audio";
    if (!buf && len) return omnic_err(OMNIC_EINVAL, "%s: no data", name);
    if (out_sr < 8000 || out_sr > 192000) return omnic_err(OMNIC_EINVAL, "%s: output rate %d Hz", name, out_sr);
    io_src src = {.buf = buf, .size = (int64_t)len};
    return decode_src(&src, name, max_seconds, out_sr, pcm, n, NULL);
}

int omnic_audio_load_info(const char *path, double max_seconds, float **pcm, int64_t *n,
                          omnic_audio_info *info) {
    *pcm = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return omnic_err(OMNIC_EIO, "%s: not a regular file", path);
    }
    io_src src = {.f = f, .size = (int64_t)sb.st_size};
    int rc = decode_src(&src, path, max_seconds, OMNIC_AUDIO_SR, pcm, n, info);
    fclose(f);
    return rc;
}

int omnic_audio_decode(const uint8_t *buf, size_t len, const char *name, double max_seconds,
                       float **pcm, int64_t *n) {
    return omnic_audio_decode_info(buf, len, name, max_seconds, pcm, n, NULL);
}

int omnic_audio_load(const char *path, double max_seconds, float **pcm, int64_t *n) {
    return omnic_audio_load_info(path, max_seconds, pcm, n, NULL);
}
