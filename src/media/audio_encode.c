/* audio_encode.c - float32 mono speech -> wav / pcm (own writers) and mp3 / flac /
 * Ogg Opus / ADTS AAC (libavcodec + libavformat into memory), one-shot and
 * streaming. See audio_encode.h for the encoder settings. */
#include "media/audio_encode.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "core/error.h"

enum { F_WAV, F_PCM, F_MP3, F_FLAC, F_OPUS, F_AAC };

typedef struct fmtinfo {
    const char *name;
    int id;
    const char *mime, *ext;
    const char *encoder, *muxer;
    int64_t bitrate;  /* at >= 32 kHz; 0 = encoder default / lossless */
} fmtinfo;

static const fmtinfo FORMATS[] = {
    {"wav", F_WAV, "audio/wav", "wav", NULL, NULL, 0},
    {"pcm", F_PCM, "audio/pcm", "pcm", NULL, NULL, 0},
    {"mp3", F_MP3, "audio/mpeg", "mp3", "libmp3lame", "mp3", 320000},
    {"flac", F_FLAC, "audio/flac", "flac", "flac", "flac", 0},
    {"opus", F_OPUS, "audio/ogg", "opus", "libopus", "ogg", 64000},
    {"ogg", F_OPUS, "audio/ogg", "ogg", "libopus", "ogg", 64000},
    {"aac", F_AAC, "audio/aac", "aac", "aac", "adts", 96000},
};

static const fmtinfo *find_format(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (!strcasecmp(name, FORMATS[i].name)) return &FORMATS[i];
    return NULL;
}

int omnic_audio_format_known(const char *format) { return find_format(format) != NULL; }
const char *omnic_audio_format_mime(const char *format) {
    const fmtinfo *f = find_format(format);
    return f ? f->mime : NULL;
}
const char *omnic_audio_format_ext(const char *format) {
    const fmtinfo *f = find_format(format);
    return f ? f->ext : NULL;
}

/* ---- int16 (audio.md 9.9) ------------------------------------------------------- */

/* The product is rounded to float32 first, as NumPy's float32 array * 32767 is;
 * y is clipped to [-1, 1] first (the vocoder's own clamp; formats/wav.c does the
 * same), NaN gives 0. */
int16_t omnic_audio_s16(float y) {
    if (!(y == y)) return 0;
    if (y > 1.0f) y = 1.0f;
    if (y < -1.0f) y = -1.0f;
    return (int16_t)(y * 32767.0f);  /* C conversion truncates toward zero */
}

void omnic_audio_to_s16(const float *x, int64_t n, int16_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = omnic_audio_s16(x[i]);
}

/* ---- argument checks ----------------------------------------------------------- */

static int check_args(const fmtinfo *f, const char *format, int sr) {
    if (!f)
        return omnic_err(OMNIC_EINVAL,
                         "audio encode: unknown format '%s' (wav, pcm, mp3, flac, opus, aac)",
                         format ? format : "(null)");
    if (sr < 8000 || sr > 192000)
        return omnic_err(OMNIC_EINVAL, "audio encode (%s): sample rate %d Hz out of range", f->name, sr);
    return OMNIC_OK;
}

/* have: samples already taken (0 <= have <= the limit), n: more. */
static int check_len(const fmtinfo *f, int sr, int64_t have, int64_t n) {
    if (n < 0) return omnic_err(OMNIC_EINVAL, "audio encode (%s): negative sample count", f->name);
    int64_t max = (int64_t)sr * OMNIC_AUDIO_ENC_MAX_SECONDS;
    if (n > max - have)
        return omnic_err(OMNIC_EINVAL, "audio encode (%s): more than %lld samples (the %d s limit)", f->name,
                         (long long)max, OMNIC_AUDIO_ENC_MAX_SECONDS);
    return OMNIC_OK;
}

/* ---- RIFF WAV header ------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* data_bytes == UINT32_MAX: unknown length (streaming). */
static void wav_header(uint8_t h[44], int sr, uint32_t data_bytes) {
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, data_bytes == UINT32_MAX ? UINT32_MAX : 36u + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, 1);            /* PCM */
    put_le16(h + 22, 1);            /* mono */
    put_le32(h + 24, (uint32_t)sr);
    put_le32(h + 28, (uint32_t)sr * 2);
    put_le16(h + 32, 2);            /* block align */
    put_le16(h + 34, 16);           /* bits */
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
}

static void put_s16le(uint8_t *p, const int16_t *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) put_le16(p + 2 * i, (uint16_t)s[i]);
}

/* ---- the stream object ------------------------------------------------------------- */

#define BLOCK 4096  /* samples converted per step */
#define IO_BUF 4096

struct audio_enc_stream {
    const fmtinfo *f;
    int sr, seekable, failed, finished, handed;
    int64_t n_in;
    /* output: seekable mode holds the whole file (pos = write position); streaming
     * mode holds the bytes produced since the last return */
    uint8_t *buf;
    size_t len, cap, pos;
    int16_t s16[BLOCK];
    /* FFmpeg path */
    AVFormatContext *fc;
    AVCodecContext *cc;
    AVStream *st;
    SwrContext *swr;
    AVFrame *frame;
    AVPacket *pkt;
    int out_sr, bps, frame_size, small_last;
    enum AVSampleFormat sfmt;
    uint8_t *fifo;      /* encoder-format samples waiting for a full frame */
    int64_t fifo_n, fifo_cap;
    uint8_t *rs;        /* resampler output scratch */
    int64_t rs_cap;
    int64_t pts;
};

static int out_reserve(audio_enc_stream *s, size_t need) {
    if (need <= s->cap) return OMNIC_OK;
    size_t c = s->cap ? s->cap : 8192;
    while (c < need) {
        if (c > SIZE_MAX / 2) return omnic_err(OMNIC_ENOMEM, "audio encode (%s): output too large", s->f->name);
        c *= 2;
    }
    uint8_t *b = realloc(s->buf, c);
    if (!b) return omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", s->f->name);
    s->buf = b;
    s->cap = c;
    return OMNIC_OK;
}

/* Write at the current position (seekable) or append (streaming). */
static int out_write(audio_enc_stream *s, const uint8_t *p, size_t n) {
    size_t at = s->seekable ? s->pos : s->len;
    if (at > SIZE_MAX - n) return omnic_err(OMNIC_ENOMEM, "audio encode (%s): output too large", s->f->name);
    int rc = out_reserve(s, at + n);
    if (rc) return rc;
    if (at > s->len) memset(s->buf + s->len, 0, at - s->len);
    memcpy(s->buf + at, p, n);
    if (at + n > s->len) s->len = at + n;
    if (s->seekable) s->pos = at + n;
    return OMNIC_OK;
}

static int io_write(void *opaque, uint8_t *buf, int n) {
    audio_enc_stream *s = opaque;
    if (n < 0) return AVERROR(EINVAL);
    return out_write(s, buf, (size_t)n) ? AVERROR(ENOMEM) : n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence) {
    audio_enc_stream *s = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return (int64_t)s->len;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)s->pos
                 : whence == SEEK_END ? (int64_t)s->len : -1;
    if (base < 0 || off < -base || base + off > (int64_t)s->len + (1 << 20)) return AVERROR(EINVAL);
    s->pos = (size_t)(base + off);
    return base + off;
}

static int averr(audio_enc_stream *s, const char *what, int e) {
    char m[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(e, m, sizeof m);
    s->failed = 1;
    return omnic_err(e == AVERROR(ENOMEM) ? OMNIC_ENOMEM : OMNIC_EFORMAT, "audio encode (%s): %s: %s",
                     s->f->name, what, m);
}

/* Rate the encoder takes: sr itself when listed (or no list), else the smallest
 * listed rate above sr, else the largest. */
static int pick_rate(const AVCodec *c, int sr) {
    if (!c->supported_samplerates) return sr;
    int best_above = 0, best = 0;
    for (const int *r = c->supported_samplerates; *r; r++) {
        if (*r == sr) return sr;
        if (*r > sr && (!best_above || *r < best_above)) best_above = *r;
        if (*r > best) best = *r;
    }
    return best_above ? best_above : best;
}

static enum AVSampleFormat pick_fmt(const AVCodec *c) {
    if (!c->sample_fmts) return AV_SAMPLE_FMT_S16;
    static const enum AVSampleFormat pref[] = {AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_FLT,
                                               AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P};
    for (size_t i = 0; i < sizeof pref / sizeof pref[0]; i++)
        for (const enum AVSampleFormat *f = c->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
            if (*f == pref[i]) return *f;
    return c->sample_fmts[0];
}

/* The encoders log statistics (AV_LOG_INFO) and the non-seekable FLAC trailer a
 * warning; keep FFmpeg at errors unless the user asked for debug output or the
 * level was already changed by someone else. */
static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static void log_init(void) {
    if (omnic_log_level < 2 && av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_ERROR);
}

static int ff_open(audio_enc_stream *s) {
    const fmtinfo *f = s->f;
    pthread_once(&g_log_once, log_init);
    const AVCodec *codec = avcodec_find_encoder_by_name(f->encoder);
    if (!codec)
        return omnic_err(OMNIC_EUNSUP, "audio encode (%s): encoder %s not in this FFmpeg build", f->name,
                         f->encoder);
    int e = avformat_alloc_output_context2(&s->fc, NULL, f->muxer, NULL);
    if (e < 0 || !s->fc) return averr(s, "muxer", e < 0 ? e : AVERROR(ENOMEM));
    s->cc = avcodec_alloc_context3(codec);
    s->frame = av_frame_alloc();
    s->pkt = av_packet_alloc();
    if (!s->cc || !s->frame || !s->pkt) return averr(s, "allocation", AVERROR(ENOMEM));
    s->out_sr = pick_rate(codec, s->sr);
    s->sfmt = pick_fmt(codec);
    s->bps = av_get_bytes_per_sample(s->sfmt);
    AVCodecContext *cc = s->cc;
    cc->sample_rate = s->out_sr;
    cc->sample_fmt = s->sfmt;
    av_channel_layout_default(&cc->ch_layout, 1);
    cc->time_base = (AVRational){1, s->out_sr};
    if (f->bitrate) cc->bit_rate = (f->id == F_MP3 && s->out_sr < 32000) ? 160000 : f->bitrate;
    if (s->fc->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((e = avcodec_open2(cc, codec, NULL)) < 0) return averr(s, "opening the encoder", e);
    s->frame_size = cc->frame_size > 0 ? cc->frame_size : 1024;
    s->small_last = (codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) ||
                    (codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE);

    if (!(s->st = avformat_new_stream(s->fc, NULL))) return averr(s, "stream", AVERROR(ENOMEM));
    if ((e = avcodec_parameters_from_context(s->st->codecpar, cc)) < 0) return averr(s, "parameters", e);
    s->st->time_base = cc->time_base;

    uint8_t *iob = av_malloc(IO_BUF);
    if (!iob) return averr(s, "allocation", AVERROR(ENOMEM));
    s->fc->pb = avio_alloc_context(iob, IO_BUF, 1, s, NULL, io_write, s->seekable ? io_seek : NULL);
    if (!s->fc->pb) {
        av_free(iob);
        return averr(s, "allocation", AVERROR(ENOMEM));
    }
    s->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    if (!s->seekable) s->fc->flags |= AVFMT_FLAG_FLUSH_PACKETS;

    if (s->out_sr != s->sr || s->sfmt != AV_SAMPLE_FMT_S16) {
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        e = swr_alloc_set_opts2(&s->swr, &mono, s->sfmt, s->out_sr, &mono, AV_SAMPLE_FMT_S16, s->sr, 0, NULL);
        if (e < 0 || (e = swr_init(s->swr)) < 0) return averr(s, "resampler", e);
    }

    s->frame->nb_samples = s->frame_size;
    s->frame->format = s->sfmt;
    s->frame->sample_rate = s->out_sr;
    if ((e = av_channel_layout_copy(&s->frame->ch_layout, &cc->ch_layout)) < 0 ||
        (e = av_frame_get_buffer(s->frame, 0)) < 0)
        return averr(s, "frame", e);
    if ((e = avformat_write_header(s->fc, NULL)) < 0) return averr(s, "writing the header", e);
    if (!s->seekable) avio_flush(s->fc->pb);
    return OMNIC_OK;
}

static int drain(audio_enc_stream *s) {
    for (;;) {
        int e = avcodec_receive_packet(s->cc, s->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return OMNIC_OK;
        if (e < 0) return averr(s, "encoding", e);
        s->pkt->stream_index = 0;
        av_packet_rescale_ts(s->pkt, s->cc->time_base, s->st->time_base);
        e = av_write_frame(s->fc, s->pkt);
        av_packet_unref(s->pkt);
        if (e < 0) return averr(s, "writing a packet", e);
    }
}

/* Send n samples from the front of the fifo (n <= frame_size; NULL frame at n < 0). */
static int send_frame(audio_enc_stream *s, int64_t n) {
    int e;
    if (n < 0) {
        e = avcodec_send_frame(s->cc, NULL);
    } else {
        if ((e = av_frame_make_writable(s->frame)) < 0) return averr(s, "frame", e);
        int64_t nn = n;
        if (n < s->frame_size && !s->small_last) nn = s->frame_size;
        memcpy(s->frame->data[0], s->fifo, (size_t)(n * s->bps));
        if (nn > n) memset(s->frame->data[0] + n * s->bps, 0, (size_t)((nn - n) * s->bps));
        s->frame->nb_samples = (int)nn;
        s->frame->pts = s->pts;
        s->pts += nn;
        e = avcodec_send_frame(s->cc, s->frame);
        s->fifo_n -= n;
        memmove(s->fifo, s->fifo + n * s->bps, (size_t)(s->fifo_n * s->bps));
    }
    if (e < 0) return averr(s, "encoding", e);
    return drain(s);
}

static int fifo_add(audio_enc_stream *s, const uint8_t *p, int64_t n) {
    if (s->fifo_n + n > s->fifo_cap) {
        int64_t c = s->fifo_cap ? s->fifo_cap : 2 * (int64_t)s->frame_size + BLOCK;
        while (c < s->fifo_n + n) c *= 2;
        uint8_t *b = realloc(s->fifo, (size_t)(c * s->bps));
        if (!b) return s->failed = 1, omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", s->f->name);
        s->fifo = b;
        s->fifo_cap = c;
    }
    memcpy(s->fifo + s->fifo_n * s->bps, p, (size_t)(n * s->bps));
    s->fifo_n += n;
    return OMNIC_OK;
}

/* s16 samples (NULL, 0 at the end: flush the resampler) into the fifo, then
 * encode every full frame. */
static int ff_push(audio_enc_stream *s, const int16_t *x, int n) {
    int rc;
    if (!s->swr) {
        if (n && (rc = fifo_add(s, (const uint8_t *)x, n))) return rc;
    } else {
        int64_t want = swr_get_out_samples(s->swr, n) + 16;
        if (want > s->rs_cap) {
            uint8_t *b = realloc(s->rs, (size_t)(want * s->bps));
            if (!b) return s->failed = 1, omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", s->f->name);
            s->rs = b;
            s->rs_cap = want;
        }
        const uint8_t *in[1] = {(const uint8_t *)x};
        uint8_t *outp[1] = {s->rs};
        int got = swr_convert(s->swr, outp, (int)s->rs_cap, n ? in : NULL, n);
        if (got < 0) return averr(s, "resampling", got);
        if (got && (rc = fifo_add(s, s->rs, got))) return rc;
    }
    while (s->fifo_n >= s->frame_size)
        if ((rc = send_frame(s, s->frame_size))) return rc;
    return OMNIC_OK;
}

static void ff_close(audio_enc_stream *s) {
    if (s->fc) {
        if (s->fc->pb) {
            av_freep(&s->fc->pb->buffer);
            avio_context_free(&s->fc->pb);
        }
        avformat_free_context(s->fc);
        s->fc = NULL;
    }
    avcodec_free_context(&s->cc);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    swr_free(&s->swr);
}

void audio_enc_stream_free(audio_enc_stream *s) {
    if (!s) return;
    ff_close(s);
    free(s->buf);
    free(s->fifo);
    free(s->rs);
    free(s);
}

static int stream_new(const char *format, int sr, int seekable, audio_enc_stream **out) {
    *out = NULL;
    const fmtinfo *f = find_format(format);
    int rc = check_args(f, format, sr);
    if (rc) return rc;
    audio_enc_stream *s = calloc(1, sizeof *s);
    if (!s) return omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", f->name);
    s->f = f;
    s->sr = sr;
    s->seekable = seekable;
    if (f->id == F_WAV) {
        uint8_t h[44];
        wav_header(h, sr, UINT32_MAX);
        rc = out_write(s, h, 44);
    } else if (f->id != F_PCM) {
        rc = ff_open(s);
    }
    if (rc) {
        audio_enc_stream_free(s);
        return rc;
    }
    *out = s;
    return OMNIC_OK;
}

int audio_enc_stream_new(const char *format, int sr, audio_enc_stream **out, const char **mime) {
    if (!out) return omnic_err(OMNIC_EINVAL, "audio encode: no output pointer");
    int rc = stream_new(format, sr, 0, out);
    if (!rc && mime) *mime = (*out)->f->mime;
    return rc;
}

static int feed(audio_enc_stream *s, const float *x, int64_t n) {
    if (s->failed || s->finished)
        return omnic_err(OMNIC_EINVAL, "audio encode (%s): stream %s", s->f->name,
                         s->failed ? "failed earlier" : "already finished");
    if (n < 0 || (n > 0 && !x)) return omnic_err(OMNIC_EINVAL, "audio encode (%s): bad sample buffer", s->f->name);
    int rc = check_len(s->f, s->sr, s->n_in, n);
    if (rc) return rc;
    s->n_in += n;
    for (int64_t i = 0; i < n; i += BLOCK) {
        int m = (int)(n - i < BLOCK ? n - i : BLOCK);
        omnic_audio_to_s16(x + i, m, s->s16);
        if (s->f->id == F_WAV || s->f->id == F_PCM) {
            uint8_t b[2 * BLOCK];
            put_s16le(b, s->s16, m);
            rc = out_write(s, b, 2 * (size_t)m);
        } else {
            rc = ff_push(s, s->s16, m);
        }
        if (rc) return s->failed = 1, rc;
    }
    if (s->fc && !s->seekable) avio_flush(s->fc->pb);
    return OMNIC_OK;
}

static int finish(audio_enc_stream *s) {
    if (s->failed || s->finished)
        return omnic_err(OMNIC_EINVAL, "audio encode (%s): stream %s", s->f->name,
                         s->failed ? "failed earlier" : "already finished");
    s->finished = 1;
    if (!s->fc) return OMNIC_OK;
    int rc;
    if (s->swr && (rc = ff_push(s, NULL, 0))) return rc;
    if (s->fifo_n > 0 && (rc = send_frame(s, s->fifo_n))) return rc;
    if ((rc = send_frame(s, -1))) return rc;
    int e = av_write_trailer(s->fc);
    if (e < 0) return averr(s, "writing the trailer", e);
    avio_flush(s->fc->pb);
    return OMNIC_OK;
}

int audio_enc_stream_feed(audio_enc_stream *s, const float *x, int64_t n, const uint8_t **out, size_t *len) {
    if (!s || !out || !len) return omnic_err(OMNIC_EINVAL, "audio encode: bad stream arguments");
    *out = NULL;
    *len = 0;
    if (s->handed) s->len = 0;  /* the previous output was handed out */
    int rc = feed(s, x, n);
    if (rc) return rc;
    s->handed = 1;
    *out = s->buf;
    *len = s->len;
    return OMNIC_OK;
}

int audio_enc_stream_finish(audio_enc_stream *s, const uint8_t **out, size_t *len) {
    if (!s || !out || !len) return omnic_err(OMNIC_EINVAL, "audio encode: bad stream arguments");
    *out = NULL;
    *len = 0;
    if (s->handed) s->len = 0;
    int rc = finish(s);
    if (rc) return rc;
    s->handed = 1;
    *out = s->buf;
    *len = s->len;
    return OMNIC_OK;
}

/* ---- one-shot ------------------------------------------------------------------- */

int omnic_audio_encode(const float *x, int64_t n, int sr, const char *format, uint8_t **out, size_t *len,
                       const char **mime) {
    if (!out || !len) return omnic_err(OMNIC_EINVAL, "audio encode: no output pointer");
    *out = NULL;
    *len = 0;
    const fmtinfo *f = find_format(format);
    int rc = check_args(f, format, sr);
    if (rc) return rc;
    if ((rc = check_len(f, sr, 0, n))) return rc;
    if (n > 0 && !x) return omnic_err(OMNIC_EINVAL, "audio encode (%s): no samples", f->name);
    if (mime) *mime = f->mime;

    if (f->id == F_WAV || f->id == F_PCM) {
        size_t hdr = f->id == F_WAV ? 44 : 0;
        if ((uint64_t)n * 2 > UINT32_MAX - 36)
            return omnic_err(OMNIC_EINVAL, "audio encode (%s): too many samples for RIFF", f->name);
        uint8_t *b = malloc(hdr + (size_t)n * 2 + 1);
        if (!b) return omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", f->name);
        if (hdr) wav_header(b, sr, (uint32_t)(n * 2));
        int16_t s16[BLOCK];
        for (int64_t i = 0; i < n; i += BLOCK) {
            int m = (int)(n - i < BLOCK ? n - i : BLOCK);
            omnic_audio_to_s16(x + i, m, s16);
            put_s16le(b + hdr + 2 * i, s16, m);
        }
        *out = b;
        *len = hdr + (size_t)n * 2;
        return OMNIC_OK;
    }

    audio_enc_stream *s;
    if ((rc = stream_new(format, sr, 1, &s))) return rc;
    if (!(rc = feed(s, x, n)) && !(rc = finish(s))) {
        ff_close(s);  /* nothing more is written */
        if (!s->buf && !(s->buf = malloc(1))) rc = omnic_err(OMNIC_ENOMEM, "audio encode (%s): out of memory", f->name);
        *out = s->buf;
        *len = s->len;
        s->buf = NULL;
    }
    audio_enc_stream_free(s);
    return rc;
}
