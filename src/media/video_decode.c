/* video_decode.c - STUB (to be replaced by the FFmpeg video path). */
#include "media/video.h"

#include "core/error.h"

int vision_video_patches(const vision_preproc *p, const uint8_t *buf, size_t len,
                         const char *name, int max_frames, float **pixels, int grid_thw[3]) {
    (void)p; (void)buf; (void)len; (void)max_frames; (void)pixels; (void)grid_thw;
    return omnic_err(OMNIC_EUNSUP, "%s: video input is not built yet", name);
}

int vision_video_patches_file(const vision_preproc *p, const char *path, int max_frames,
                              float **pixels, int grid_thw[3]) {
    return vision_video_patches(p, NULL, 0, path, max_frames, pixels, grid_thw);
}
