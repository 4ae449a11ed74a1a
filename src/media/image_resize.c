/* image_resize.c - Pillow's uint8 bicubic resampler (Image.resize(BICUBIC), no
 * reducing gap), reproduced bit for bit from vision.md §1.3: separable passes,
 * double-precision weights from the a = -0.5 cubic kernel, normalised, then
 * 22-bit fixed point; horizontal pass first (only over the rows the vertical pass
 * reads), then vertical; a pass whose size does not change is skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/image.h"

#define PREC 22

static double cubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Per output index i: source range [lo[i], lo[i] + n[i]) and ksize fixed-point taps. */
typedef struct taps {
    int ksize;
    int *lo, *n;
    int32_t *k;
} taps;

static void taps_free(taps *t) { free(t->lo); free(t->n); free(t->k); }

static int taps_make(int in_size, int out_size, taps *t) {
    double scale = (double)in_size / out_size, fs = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * fs;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->lo = malloc(sizeof *t->lo * (size_t)out_size);
    t->n = malloc(sizeof *t->n * (size_t)out_size);
    t->k = calloc((size_t)out_size * (size_t)t->ksize, sizeof *t->k);
    double *w = malloc(sizeof *w * (size_t)t->ksize);
    if (!t->lo || !t->n || !t->k || !w) {
        free(w);
        taps_free(t);
        return omnic_err(OMNIC_ENOMEM, "image resize: out of memory");
    }
    double ss = 1.0 / fs;
    for (int i = 0; i < out_size; i++) {
        double center = (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        if (n > t->ksize) n = t->ksize;
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            w[j] = cubic(((double)(j + lo) - center + 0.5) * ss);
            sum += w[j];
        }
        int32_t *k = t->k + (size_t)i * (size_t)t->ksize;
        for (int j = 0; j < n; j++) {
            double v = sum != 0.0 ? w[j] / sum : w[j];
            k[j] = (int32_t)(v < 0 ? v * (1 << PREC) - 0.5 : v * (1 << PREC) + 0.5);
        }
        t->lo[i] = lo;
        t->n[i] = n;
    }
    free(w);
    return 0;
}

static inline uint8_t clip8(int64_t acc) {
    int64_t v = acc >> PREC;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Rows [y0, y0 + rows) of src (width sw) -> dst (width dw), horizontally. */
static void pass_h(const uint8_t *src, int sw, int y0, int rows, uint8_t *dst, int dw, const taps *t) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *s = src + (size_t)(y0 + y) * (size_t)sw * 3;
        uint8_t *d = dst + (size_t)y * (size_t)dw * 3;
        for (int x = 0; x < dw; x++) {
            const int32_t *k = t->k + (size_t)x * (size_t)t->ksize;
            const uint8_t *p = s + (size_t)t->lo[x] * 3;
            int64_t a0 = 1 << (PREC - 1), a1 = a0, a2 = a0;
            for (int j = 0; j < t->n[x]; j++) {
                a0 += (int64_t)k[j] * p[3 * j];
                a1 += (int64_t)k[j] * p[3 * j + 1];
                a2 += (int64_t)k[j] * p[3 * j + 2];
            }
            d[3 * x] = clip8(a0);
            d[3 * x + 1] = clip8(a1);
            d[3 * x + 2] = clip8(a2);
        }
    }
}

/* src rows are numbered from y0 (src holds rows y0 ...), width w; acc holds w*3
 * accumulators (row-wise accumulation keeps the reads sequential). */
static void pass_v(const uint8_t *src, int w, int y0, uint8_t *dst, int dh, const taps *t, int64_t *acc) {
    size_t rs = (size_t)w * 3;
    for (int y = 0; y < dh; y++) {
        const int32_t *k = t->k + (size_t)y * (size_t)t->ksize;
        const uint8_t *s = src + (size_t)(t->lo[y] - y0) * rs;
        uint8_t *d = dst + (size_t)y * rs;
        for (size_t x = 0; x < rs; x++) acc[x] = 1 << (PREC - 1);
        for (int j = 0; j < t->n[y]; j++) {
            const uint8_t *sr = s + (size_t)j * rs;
            int64_t kj = k[j];
            for (size_t x = 0; x < rs; x++) acc[x] += kj * sr[x];
        }
        for (size_t x = 0; x < rs; x++) d[x] = clip8(acc[x]);
    }
}

int omnic_image_resize_bicubic(const omnic_image *in, int w, int h, omnic_image *out) {
    *out = (omnic_image){0};
    if (!in || !in->rgb || in->w <= 0 || in->h <= 0 || w <= 0 || h <= 0 || w > 65535 || h > 65535)
        return omnic_err(OMNIC_EINVAL, "image resize: bad size %dx%d -> %dx%d", in ? in->w : 0, in ? in->h : 0, w, h);
    out->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!out->rgb) return omnic_err(OMNIC_ENOMEM, "image resize: out of memory for %dx%d", w, h);
    out->w = w;
    out->h = h;
    if (w == in->w && h == in->h) {
        memcpy(out->rgb, in->rgb, (size_t)w * (size_t)h * 3);
        return 0;
    }
    taps th = {0}, tv = {0};
    uint8_t *tmp = NULL;
    int64_t *acc = NULL;
    int rc = 0;
    if (w != in->w && (rc = taps_make(in->w, w, &th))) goto fail;
    if (h != in->h && (rc = taps_make(in->h, h, &tv))) goto fail;
    if (h != in->h && !(acc = malloc(sizeof *acc * (size_t)w * 3))) {
        rc = omnic_err(OMNIC_ENOMEM, "image resize: out of memory");
        goto fail;
    }
    if (h == in->h) {
        pass_h(in->rgb, in->w, 0, in->h, out->rgb, w, &th);
    } else if (w == in->w) {
        pass_v(in->rgb, w, 0, out->rgb, h, &tv, acc);
    } else {
        int y0 = tv.lo[0], y1 = tv.lo[h - 1] + tv.n[h - 1];
        for (int y = 0; y < h; y++) {
            if (tv.lo[y] < y0) y0 = tv.lo[y];
            if (tv.lo[y] + tv.n[y] > y1) y1 = tv.lo[y] + tv.n[y];
        }
        tmp = malloc((size_t)w * (size_t)(y1 - y0) * 3 + 1);
        if (!tmp) { rc = omnic_err(OMNIC_ENOMEM, "image resize: out of memory"); goto fail; }
        pass_h(in->rgb, in->w, y0, y1 - y0, tmp, w, &th);
        pass_v(tmp, w, y0, out->rgb, h, &tv, acc);
    }
    free(tmp);
    free(acc);
    taps_free(&th);
    taps_free(&tv);
    return 0;
fail:
    free(tmp);
    free(acc);
    taps_free(&th);
    taps_free(&tv);
    omnic_image_free(out);
    return rc;
}
