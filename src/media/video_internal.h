/* video_internal.h - the steps of the video path (vision.md §1.7) as separate
 * functions, shared by video_decode.c and `omnic video` (which prints and dumps
 * the intermediate results for the conformance tests). */
#ifndef OMNIC_MEDIA_VIDEO_INTERNAL_H
#define OMNIC_MEDIA_VIDEO_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "models/vision_preproc.h"

#define OMNIC_VIDEO_MIN_PIXELS 100352         /* 128*28*28 */
#define OMNIC_VIDEO_MAX_PIXELS 142884         /* 378*378 */
#define OMNIC_VIDEO_MIN_FRAMES 4
/* Decoded frames larger than this (8192x4320) are refused before allocating. */
#define OMNIC_VIDEO_MAX_DECODE_PIXELS (8192LL * 4320LL)
#define OMNIC_VIDEO_MAX_SIDE 16384

/* §1.7 step 2: frames kept. OMNIC_EINVAL (naming `name`) when n < 2 or n > total. */
int video_frame_count(int64_t total, double fps, int max_frames, const char *name, int *n);
/* §1.7 step 3: round-half-even of float32 linspace(0, total-1, n) (as torch.linspace). */
void video_frame_indices(int64_t total, int n, int64_t *idx);
/* §1.7 step 4: the video variant of smart_resize (factor 28, min/max pixels). */
int video_smart_resize(int H, int W, int factor, int64_t min_pixels, int64_t max_pixels,
                       int *out_h, int *out_w);

/* torchvision 0.14 resize(uint8, bicubic, antialias=True) on interleaved RGB:
 * float32 separable filter (width pass, then height pass), clamp, round half even.
 * A plan holds the weights and the float buffers, built once per clip. */
typedef struct video_resizer video_resizer;
int video_resizer_new(int sw, int sh, int dw, int dh, video_resizer **out);
void video_resizer_run(video_resizer *r, const uint8_t *src, uint8_t *dst);
void video_resizer_free(video_resizer *r);

/* §1.7 steps 5-6: n resized frames uint8 [n][h][w][3] (n even) -> pixel_values
 * [n/2 * h/14 * w/14][1176] (malloc'ed) and grid {n/2, h/14, w/14}. */
int video_patchify(const vision_preproc *p, const uint8_t *frames, int n, int h, int w,
                   float **pixels, int grid[3]);

/* A decoded, sampled and resized clip. */
typedef struct video_clip {
    int64_t total;        /* frames decord reports: packets of the video stream */
    double fps;           /* average frame rate */
    int src_w, src_h;     /* decoded frame size */
    int n;                /* frames kept */
    int64_t *idx;         /* [n] sampled frame indices */
    int w, h;             /* resized size */
    uint8_t *frames;      /* [n][h][w][3] resized frames */
    uint8_t *decoded;     /* [n][src_h][src_w][3] when asked for (tests), else NULL */
} video_clip;

/* Decode from memory (buf/len) or, with buf == NULL, from the file at path.
 * name: for error messages. keep_decoded: also keep the sampled frames at their
 * decoded size. Only the sampled frames are kept in memory. */
int video_load(const uint8_t *buf, size_t len, const char *path, const char *name,
               int max_frames, int keep_decoded, video_clip *out);
void video_clip_free(video_clip *c);

#endif
