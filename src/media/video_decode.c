/* video_decode.c - video files to sampled RGB frames with the FFmpeg libraries,
 * the way OmniServe's decord reader sees them (vision.md §1.7 step 1), and the
 * contract entry points of video.h.
 *
 * Decord parity, as read from its VideoReader / FFMPEGThreadedDecoder:
 *  - input through a custom AVIOContext (memory buffer or FILE*), so the
 *    container is probed by content only; the best video stream
 *    (av_find_best_stream with a decoder);
 *  - total frames = the number of packets of that stream (decord indexes every
 *    packet before decoding; nb_frames and the duration are not used), read
 *    without decoding; fps = avg_frame_rate (r_frame_rate when it is unset);
 *  - frame k = the k-th frame the decoder outputs; frames are decoded in order
 *    (a second pass, reopened from the start) up to the last sampled index and
 *    only the sampled ones are converted and kept (already resized);
 *  - RGB24 through libswscale as libavfilter's scale filter does it (decord's
 *    "scale=W:H" graph to an RGB24 sink): bicubic flags, YCbCr matrix from the
 *    frame's colorspace (BT.601 when unspecified), range from the frame (limited
 *    when unspecified), MPEG-2 vertical chroma siting for yuv420p, frames of a
 *    different size scaled to the stream's size. Rotation metadata is ignored.
 *  - Read errors end the stream (both passes see the same packets); packets the
 *    decoder rejects are skipped; a sampled index beyond the frames that could
 *    be decoded is an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "core/error.h"
#include "media/video.h"
#include "media/video_internal.h"

#define IO_BUF 32768

typedef struct src_io {
    const uint8_t *buf;
    size_t len, pos;
    FILE *fp;
    int64_t fsize;
} src_io;

static int io_read(void *opaque, uint8_t *dst, int size) {
    src_io *s = opaque;
    if (size <= 0) return 0;
    if (s->fp) {
        size_t n = fread(dst, 1, (size_t)size, s->fp);
        if (n == 0) return ferror(s->fp) ? AVERROR(EIO) : AVERROR_EOF;
        return (int)n;
    }
    size_t n = s->len - s->pos < (size_t)size ? s->len - s->pos : (size_t)size;
    if (n == 0) return AVERROR_EOF;
    memcpy(dst, s->buf + s->pos, n);
    s->pos += n;
    return (int)n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence) {
    src_io *s = opaque;
    const int64_t size = s->fp ? s->fsize : (int64_t)s->len;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return size;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_END ? size : -1;
    if (whence == SEEK_CUR) base = s->fp ? (int64_t)ftello(s->fp) : (int64_t)s->pos;
    if (base < 0 || off > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t to = base + off;
    if (to < 0 || to > size) return AVERROR(EINVAL);
    if (s->fp) {
        if (fseeko(s->fp, (off_t)to, SEEK_SET)) return AVERROR(EIO);
    } else {
        s->pos = (size_t)to;
    }
    return to;
}

/* One open demuxer over the source, positioned at the start. */
typedef struct demux {
    AVFormatContext *fmt;
    AVIOContext *avio;
    int si;               /* video stream index */
    const AVCodec *codec;
} demux;

static void demux_close(demux *d) {
    if (d->fmt) avformat_close_input(&d->fmt);
    if (d->avio) {
        av_freep(&d->avio->buffer);
        avio_context_free(&d->avio);
    }
}

static int av_fail(int code, const char *name, const char *what, int averr) {
    char e[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(averr, e, sizeof e);
    return omnic_err(code, "%s: %s (%s)", name, what, e);
}

static int demux_open(src_io *io, const char *name, demux *d) {
    memset(d, 0, sizeof *d);
    d->si = -1;
    if (io->fp) {
        if (fseeko(io->fp, 0, SEEK_SET)) return omnic_err(OMNIC_EIO, "%s: cannot seek: %s", name, strerror(errno));
    } else {
        io->pos = 0;
    }
    uint8_t *b = av_malloc(IO_BUF);
    if (!b) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
    d->avio = avio_alloc_context(b, IO_BUF, 0, io, io_read, NULL, io_seek);
    if (!d->avio) { av_free(b); return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); }
    d->fmt = avformat_alloc_context();
    if (!d->fmt) { demux_close(d); return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); }
    d->fmt->pb = d->avio;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    int e = avformat_open_input(&d->fmt, NULL, NULL, NULL);
    if (e < 0) { d->fmt = NULL; demux_close(d); return av_fail(OMNIC_EFORMAT, name, "not a readable video file", e); }
    e = avformat_find_stream_info(d->fmt, NULL);
    if (e < 0) { demux_close(d); return av_fail(OMNIC_EFORMAT, name, "cannot read the stream information", e); }
    const AVCodec *c = NULL;
    e = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &c, 0);
    if (e < 0) {
        demux_close(d);
        if (e == AVERROR_DECODER_NOT_FOUND) return omnic_err(OMNIC_EUNSUP, "%s: no decoder for its video stream", name);
        return omnic_err(OMNIC_EFORMAT, "%s: no video stream", name);
    }
    d->si = e;
    d->codec = c;
    const AVCodecParameters *cp = d->fmt->streams[e]->codecpar;
    if (cp->width <= 0 || cp->height <= 0 || cp->width > OMNIC_VIDEO_MAX_SIDE || cp->height > OMNIC_VIDEO_MAX_SIDE ||
        (int64_t)cp->width * cp->height > OMNIC_VIDEO_MAX_DECODE_PIXELS) {
        int w = cp->width, h = cp->height;
        demux_close(d);
        return omnic_err(OMNIC_EINVAL, "%s: video frame size %dx%d is zero or over the cap (%lld pixels)",
                         name, w, h, (long long)OMNIC_VIDEO_MAX_DECODE_PIXELS);
    }
    return 0;
}

/* Prefix the current error message with the input's name. */
static int prefix_err(int code, const char *name) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", omnic_errmsg());
    return omnic_err(code, "%s: %s", name, msg);
}

static double stream_fps(const AVStream *st) {
    AVRational r = st->avg_frame_rate;
    if (r.num <= 0 || r.den <= 0) r = st->r_frame_rate;
    if (r.num <= 0 || r.den <= 0) return 0.0;
    return (double)r.num / (double)r.den;
}

/* libavfilter scale's colour set-up for one frame (see the file comment). */
static int make_sws(struct SwsContext **sws, const AVFrame *f, int W, int H) {
    if (*sws) sws_freeContext(*sws);
    struct SwsContext *s = *sws = sws_alloc_context();
    if (!s) return -1;
    av_opt_set_int(s, "srcw", f->width, 0);
    av_opt_set_int(s, "srch", f->height, 0);
    av_opt_set_int(s, "src_format", f->format, 0);
    av_opt_set_int(s, "dstw", W, 0);
    av_opt_set_int(s, "dsth", H, 0);
    av_opt_set_int(s, "dst_format", AV_PIX_FMT_RGB24, 0);
    av_opt_set_int(s, "sws_flags", SWS_BICUBIC, 0);
    if (f->format == AV_PIX_FMT_YUV420P) av_opt_set_int(s, "src_v_chr_pos", 128, 0);
    if (sws_init_context(s, NULL, NULL) < 0) return -1;
    int *inv, *tab, in_full, out_full, bri, con, sat;
    if (sws_getColorspaceDetails(s, &inv, &in_full, &tab, &out_full, &bri, &con, &sat) >= 0) {
        int cs = f->colorspace;
        if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
        const int *coef = sws_getCoefficients(cs);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(s, coef, in_full, coef, out_full, bri, con, sat);
    }
    return 0;
}

typedef struct decode_state {
    const char *name;
    video_clip *c;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    uint8_t *rgb_pad;     /* sws output, padded stride */
    int pad_stride;
    uint8_t *rgb;         /* compact [src_h][src_w][3] */
    video_resizer *rs;
    int64_t k;            /* frames output so far */
    int next;             /* next sampled slot to fill */
} decode_state;

/* A decoded frame: keep it if it is sampled. Returns 1 when all slots are full. */
static int take_frame(decode_state *s, const AVFrame *f) {
    video_clip *c = s->c;
    const int64_t k = s->k++;
    if (s->next >= c->n || c->idx[s->next] != k) return s->next >= c->n;
    if (f->width <= 0 || f->height <= 0 || f->width > OMNIC_VIDEO_MAX_SIDE || f->height > OMNIC_VIDEO_MAX_SIDE ||
        (int64_t)f->width * f->height > OMNIC_VIDEO_MAX_DECODE_PIXELS)
    {
        omnic_err(OMNIC_EINVAL, "%s: frame %lld has size %dx%d", s->name, (long long)k, f->width, f->height);
        return -1;
    }
    if (!s->sws || s->sws_w != f->width || s->sws_h != f->height || s->sws_fmt != f->format ||
        s->sws_cs != (int)f->colorspace || s->sws_range != (int)f->color_range) {
        if (make_sws(&s->sws, f, c->src_w, c->src_h)) {
            const char *pf = av_get_pix_fmt_name(f->format);
            omnic_err(OMNIC_EUNSUP, "%s: cannot convert pixel format %s to RGB", s->name, pf ? pf : "?");
            return -1;
        }
        s->sws_w = f->width; s->sws_h = f->height; s->sws_fmt = f->format;
        s->sws_cs = (int)f->colorspace; s->sws_range = (int)f->color_range;
    }
    uint8_t *dst[4] = {s->rgb_pad, NULL, NULL, NULL};
    int dst_ls[4] = {s->pad_stride, 0, 0, 0};
    if (sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_ls) != c->src_h) {
        omnic_err(OMNIC_EFORMAT, "%s: RGB conversion of frame %lld failed", s->name, (long long)k);
        return -1;
    }
    const size_t row = (size_t)c->src_w * 3, fsz = row * (size_t)c->src_h;
    for (int y = 0; y < c->src_h; y++) memcpy(s->rgb + y * row, s->rgb_pad + (size_t)y * s->pad_stride, row);
    const size_t osz = (size_t)c->w * c->h * 3;
    const int first = s->next;
    video_resizer_run(s->rs, s->rgb, c->frames + (size_t)first * osz);
    if (c->decoded) memcpy(c->decoded + (size_t)first * fsz, s->rgb, fsz);
    s->next++;
    while (s->next < c->n && c->idx[s->next] == k) {   /* repeated index */
        memcpy(c->frames + (size_t)s->next * osz, c->frames + (size_t)first * osz, osz);
        if (c->decoded) memcpy(c->decoded + (size_t)s->next * fsz, s->rgb, fsz);
        s->next++;
    }
    return s->next >= c->n;
}

/* Drain the decoder's output. Returns 1 when done, 0 to go on, -1 on error. */
static int receive_all(AVCodecContext *dec, AVFrame *f, decode_state *s) {
    for (;;) {
        int e = avcodec_receive_frame(dec, f);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return 0;
        if (e < 0) return 0;   /* a broken frame: skipped */
        int r = take_frame(s, f);
        av_frame_unref(f);
        if (r) return r;
    }
}

static int decode_pass(src_io *io, decode_state *s) {
    const char *name = s->name;
    demux d;
    int rc = demux_open(io, name, &d);
    if (rc) return rc;
    AVCodecContext *dec = avcodec_alloc_context3(d.codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    if (!dec || !pkt || !f) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto done; }
    int e = avcodec_parameters_to_context(dec, d.fmt->streams[d.si]->codecpar);
    if (e >= 0) {
        dec->max_pixels = OMNIC_VIDEO_MAX_DECODE_PIXELS;
        dec->thread_count = 0;   /* libavcodec picks; the output does not depend on it */
        e = avcodec_open2(dec, d.codec, NULL);
    }
    if (e < 0) { rc = av_fail(OMNIC_EFORMAT, name, "cannot open the video decoder", e); goto done; }
    int r = 0;
    while (r == 0) {
        e = av_read_frame(d.fmt, pkt);
        if (e < 0) break;
        if (pkt->stream_index == d.si) {
            e = avcodec_send_packet(dec, pkt);
            if (e >= 0 || e == AVERROR(EAGAIN)) r = receive_all(dec, f, s);
        }
        av_packet_unref(pkt);
    }
    if (r == 0 && avcodec_send_packet(dec, NULL) >= 0) r = receive_all(dec, f, s);
    if (r < 0) { rc = OMNIC_EFORMAT; goto done; }
    if (s->next < s->c->n)
        rc = omnic_err(OMNIC_EFORMAT, "%s: frame %lld of %lld could not be decoded (%lld frames decoded): "
                       "truncated or corrupt", name, (long long)s->c->idx[s->next], (long long)s->c->total,
                       (long long)s->k);
done:
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    demux_close(&d);
    return rc;
}

void video_clip_free(video_clip *c) {
    free(c->idx);
    free(c->frames);
    free(c->decoded);
    memset(c, 0, sizeof *c);
}

static int load_io(src_io *io, const char *name, int max_frames, int keep_decoded, video_clip *c) {
    demux d;
    int e = demux_open(io, name, &d);
    if (e) return e;
    const AVStream *st = d.fmt->streams[d.si];
    c->src_w = st->codecpar->width;
    c->src_h = st->codecpar->height;
    c->fps = stream_fps(st);
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) { demux_close(&d); return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); }
    while (av_read_frame(d.fmt, pkt) >= 0) {
        if (pkt->stream_index == d.si) c->total++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    demux_close(&d);

    e = video_frame_count(c->total, c->fps, max_frames, name, &c->n);
    if (e) return e;
    if (video_smart_resize(c->src_h, c->src_w, 28, OMNIC_VIDEO_MIN_PIXELS, OMNIC_VIDEO_MAX_PIXELS, &c->h, &c->w))
        return prefix_err(OMNIC_EINVAL, name);
    const size_t fsz = (size_t)c->src_w * c->src_h * 3, osz = (size_t)c->w * c->h * 3;
    if (keep_decoded && fsz * (size_t)c->n > ((size_t)1 << 31))
        return omnic_err(OMNIC_EINVAL, "%s: %d decoded frames of %dx%d are too large to keep", name, c->n, c->src_w, c->src_h);
    c->idx = malloc((size_t)c->n * sizeof *c->idx);
    c->frames = malloc(osz * (size_t)c->n);
    if (keep_decoded) c->decoded = malloc(fsz * (size_t)c->n);
    if (!c->idx || !c->frames || (keep_decoded && !c->decoded))
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory for %d frames", name, c->n);
    video_frame_indices(c->total, c->n, c->idx);

    decode_state s = {.name = name, .c = c, .sws_fmt = -1};
    s.pad_stride = (c->src_w * 3 + 63) & ~63;
    s.rgb_pad = av_malloc((size_t)s.pad_stride * (c->src_h + 2) + 64);
    s.rgb = malloc(fsz);
    if (!s.rgb_pad || !s.rgb) e = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
    if (!e) e = video_resizer_new(c->src_w, c->src_h, c->w, c->h, &s.rs);
    if (!e) e = decode_pass(io, &s);
    sws_freeContext(s.sws);
    av_free(s.rgb_pad);
    free(s.rgb);
    video_resizer_free(s.rs);
    return e;
}

int video_load(const uint8_t *buf, size_t len, const char *path, const char *name,
               int max_frames, int keep_decoded, video_clip *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = path ? path : "video";
    av_log_set_level(omnic_log_level >= 2 ? AV_LOG_WARNING : AV_LOG_QUIET);
    src_io io = {.buf = buf, .len = len};
    if (!buf) {
        if (!path) return omnic_err(OMNIC_EINVAL, "%s: no data", name);
        io.fp = fopen(path, "rb");
        if (!io.fp) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", name, strerror(errno));
        struct stat sb;
        if (fstat(fileno(io.fp), &sb) || !S_ISREG(sb.st_mode)) {
            fclose(io.fp);
            return omnic_err(OMNIC_EIO, "%s: not a regular file", name);
        }
        io.fsize = (int64_t)sb.st_size;
        if (io.fsize == 0) { fclose(io.fp); return omnic_err(OMNIC_EFORMAT, "%s: empty file", name); }
    } else if (len == 0) {
        return omnic_err(OMNIC_EFORMAT, "%s: empty data", name);
    }
    int e = load_io(&io, name, max_frames, keep_decoded, out);
    if (io.fp) fclose(io.fp);
    if (e) video_clip_free(out);
    return e;
}

static int to_patches(const vision_preproc *p, const uint8_t *buf, size_t len, const char *path,
                      const char *name, int max_frames, float **pixels, int grid_thw[3]) {
    *pixels = NULL;
    video_clip c;
    int e = video_load(buf, len, path, name, max_frames, 0, &c);
    if (e) return e;
    e = video_patchify(p, c.frames, c.n, c.h, c.w, pixels, grid_thw);
    if (e) prefix_err(e, name ? name : path);
    video_clip_free(&c);
    return e;
}

int vision_video_patches(const vision_preproc *p, const uint8_t *buf, size_t len,
                         const char *name, int max_frames, float **pixels, int grid_thw[3]) {
    if (!buf) { *pixels = NULL; return omnic_err(OMNIC_EINVAL, "%s: no video data", name ? name : "video"); }
    return to_patches(p, buf, len, NULL, name ? name : "video", max_frames, pixels, grid_thw);
}

int vision_video_patches_file(const vision_preproc *p, const char *path, int max_frames,
                              float **pixels, int grid_thw[3]) {
    return to_patches(p, NULL, 0, path, path, max_frames, pixels, grid_thw);
}
