/* video_patch.c - normalise and patchify sampled video frames (vision.md §1.7
 * steps 5-6): the video processor's fused rescale+normalise
 * v = f32((x - f32(mean*255)) / f32(std*255)), frames paired into temporal
 * groups (2k, 2k+1), rows and columns in the §1.5 order. */
#include <stdlib.h>

#include "core/error.h"
#include "media/video_internal.h"

int video_patchify(const vision_preproc *p, const uint8_t *frames, int n, int h, int w,
                   float **pixels, int grid[3]) {
    *pixels = NULL;
    const int P = p->patch, T = p->temporal, factor = p->patch * p->merge;
    if (P <= 0 || T != 2 || p->merge != 2 || n < 2 || n % T || h <= 0 || w <= 0 || h % factor || w % factor)
        return omnic_err(OMNIC_EINVAL, "video patchify: %d frames of %dx%d do not fit patch %d, temporal %d",
                         n, w, h, P, T);
    const int gh = h / P, gw = w / P, gt = n / T;
    const size_t cols = (size_t)3 * T * P * P, L = (size_t)gt * gh * gw;
    float lut[3][256];
    for (int c = 0; c < 3; c++) {
        const float m = p->mean[c] * 255.0f, s = p->std[c] * 255.0f;
        for (int x = 0; x < 256; x++) lut[c][x] = ((float)x - m) / s;
    }
    float *out = malloc(L * cols * sizeof *out);
    if (!out) return omnic_err(OMNIC_ENOMEM, "video patchify: out of memory for %zu patches", L);
    const size_t frame = (size_t)h * w * 3;
    size_t row = 0;
    for (int t = 0; t < gt; t++)
        for (int bh = 0; bh < gh / 2; bh++)
            for (int bw = 0; bw < gw / 2; bw++)
                for (int r = 0; r < 2; r++)
                    for (int s = 0; s < 2; s++, row++) {
                        float *o = out + row * cols;
                        const int py = (2 * bh + r) * P, px = (2 * bw + s) * P;
                        for (int c = 0; c < 3; c++)
                            for (int tau = 0; tau < T; tau++) {
                                const uint8_t *f = frames + (size_t)(t * T + tau) * frame;
                                for (int y = 0; y < P; y++) {
                                    const uint8_t *src = f + ((size_t)(py + y) * w + px) * 3 + c;
                                    for (int x = 0; x < P; x++) *o++ = lut[c][src[x * 3]];
                                }
                            }
                    }
    grid[0] = gt;
    grid[1] = gh;
    grid[2] = gw;
    *pixels = out;
    return 0;
}
