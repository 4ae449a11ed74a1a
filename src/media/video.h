/* video.h - video input for the continuous vision path (vision.md §1.7): decode
 * with the FFmpeg libraries, sample frames at 2 fps (even count, 4..F_MAX),
 * resize (torchvision antialiased bicubic), normalise, patchify in frame pairs. */
#ifndef OMNIC_MEDIA_VIDEO_H
#define OMNIC_MEDIA_VIDEO_H
#include <stddef.h>
#include <stdint.h>

#include "models/vision_preproc.h"

#define OMNIC_VIDEO_MAX_FRAMES_A 170   /* Think-32B (Track A) */
#define OMNIC_VIDEO_MAX_FRAMES_B 128   /* Omni-8B (Track B) */

/* An encoded video in memory -> pixel_values [grid_t*gh*gw][1176] (malloc'ed) and
 * grid_thw = {n/2, gh, gw}. name is used in error messages. max_frames: F_MAX.
 * Errors: no video stream, undecodable, fewer than 2 sampled frames. */
int vision_video_patches(const vision_preproc *p, const uint8_t *buf, size_t len,
                         const char *name, int max_frames, float **pixels, int grid_thw[3]);
int vision_video_patches_file(const vision_preproc *p, const char *path, int max_frames,
                              float **pixels, int grid_thw[3]);

#endif
