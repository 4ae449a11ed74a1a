/* video_sample.c - which frames of a video are kept and at what size
 * (vision.md §1.7 steps 2-4): the 2-fps frame count, torch.linspace indices
 * rounded half to even, and the video variant of smart_resize. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <math.h>

#include "core/error.h"
#include "media/video_internal.h"

static double floor_even(double x) { return floor(x / 2.0) * 2.0; }

int video_frame_count(int64_t total, double fps, int max_frames, const char *name, int *n) {
    if (total < 1) return omnic_err(OMNIC_EINVAL, "%s: the video has no frames", name);
    if (!(fps > 0.0) || !isfinite(fps))
        return omnic_err(OMNIC_EINVAL, "%s: the video stream has no usable frame rate", name);
    if (max_frames < 2) return omnic_err(OMNIC_EINVAL, "%s: max_frames %d < 2", name, max_frames);
    const double tot = (double)total;
    const double maxf = floor_even(fmin((double)max_frames, tot));
    const double target = tot / fps * 2.0;
    const double v = floor_even(fmin(fmin(fmax(target, (double)OMNIC_VIDEO_MIN_FRAMES), maxf), tot));
    if (v < 2.0 || v > tot)
        return omnic_err(OMNIC_EINVAL, "%s: the video has %lld frame(s); at least 2 are needed",
                         name, (long long)total);
    *n = (int)v;
    return 0;
}

/* torch.linspace(0, total-1, n) in float32 exactly as PyTorch 1.13's CPU kernel
 * computes it in its AVX2 build (measured against python3-torch; it only matters
 * for clips of ~10^5 frames and more): step = (end-start)/(n-1); an element is
 * fma(step, i, start) in the first half and fma(-step, n-1-i, end) in the
 * second; the kernel fills blocks of 16 as two vectors of 8 whose element k is
 * base + k*step (separately rounded) from that formula at the vector's first
 * index, and the tail element by element. Then round half to even. */
static float lin_at(int i, int n, float start, float end, float step) {
    if (i < n / 2) return fmaf(step, (float)i, start);
    return fmaf(-step, (float)(n - i - 1), end);
}

void video_frame_indices(int64_t total, int n, int64_t *idx) {
    const float start = 0.0f, end = (float)(total - 1);
    if (n == 1) { idx[0] = 0; return; }
    const float step = (end - start) / (float)(n - 1);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int v = i; v < i + 16; v += 8) {
            const float base = lin_at(v, n, start, end, step);
            idx[v] = (int64_t)nearbyintf(base);
            for (int k = 1; k < 8; k++) {
                const float p = (float)k * step;
                idx[v + k] = (int64_t)nearbyintf(base + p);
            }
        }
    for (; i < n; i++) idx[i] = (int64_t)nearbyintf(lin_at(i, n, start, end, step));
}

/* OmniServe's copy of the Qwen helper: step 2 clamps to at least one factor,
 * step 3 has no such guard (a side may then be 0: rejected). */
int video_smart_resize(int H, int W, int factor, int64_t min_pixels, int64_t max_pixels,
                       int *out_h, int *out_w) {
    if (H <= 0 || W <= 0) return omnic_err(OMNIC_EINVAL, "video frame size %dx%d", W, H);
    const double f = factor, h0 = H, w0 = W;
    if (fmax(h0, w0) / fmin(h0, w0) > 200.0)
        return omnic_err(OMNIC_EINVAL, "video frame %dx%d: aspect ratio over 200", W, H);
    double h = fmax(f, nearbyint(h0 / f) * f);
    double w = fmax(f, nearbyint(w0 / f) * f);
    if (h * w > (double)max_pixels) {
        const double beta = sqrt((h0 * w0) / (double)max_pixels);
        h = floor(h0 / beta / f) * f;
        w = floor(w0 / beta / f) * f;
    } else if (h * w < (double)min_pixels) {
        const double beta = sqrt((double)min_pixels / (h0 * w0));
        h = ceil(h0 * beta / f) * f;
        w = ceil(w0 * beta / f) * f;
    }
    if (h < f || w < f || h > 1e6 || w > 1e6)
        return omnic_err(OMNIC_EINVAL, "video frame %dx%d: resized size %.0fx%.0f is unusable", W, H, w, h);
    *out_h = (int)h;
    *out_w = (int)w;
    return 0;
}
