/* vision_preproc.c - pixels to ViT input for the continuous vision path
 * (vision.md §1.2-1.5): preprocessor_config.json, smart_resize in the exact
 * double-precision operation order, Pillow bicubic, rescale/normalise with the
 * processor's float64 -> float32 steps, and the patch layout (merge-block rows,
 * channel/frame/pixel columns, one image duplicated over the temporal patch). */
#include "models/vision_preproc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

void vision_preproc_default(vision_preproc *p) {
    *p = (vision_preproc){14, 2, 2, 3136, 2073600, 0.00392156862745098,
                          {0.48145466f, 0.4578275f, 0.40821073f},
                          {0.26862954f, 0.26130258f, 0.27577711f}};
}

static int get_int(const char *path, json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *v) {
    json_t *j = json_object_get(o, key);
    if (!j) return 1;
    double d = json_is_integer(j) ? (double)json_integer_value(j) : json_is_real(j) ? json_real_value(j) : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return omnic_err(OMNIC_ECONFIG, "%s: \"%s\" must be an integer in [%lld, %lld]", path, key,
                         (long long)lo, (long long)hi);
    *v = (int64_t)d;
    return 0;
}

static int get_vec3(const char *path, json_t *o, const char *key, int positive, float v[3]) {
    json_t *j = json_object_get(o, key);
    if (!j) return 0;
    if (!json_is_array(j) || json_array_size(j) != 3)
        return omnic_err(OMNIC_ECONFIG, "%s: \"%s\" must be an array of 3 numbers", path, key);
    for (int c = 0; c < 3; c++) {
        json_t *e = json_array_get(j, (size_t)c);
        if (!json_is_number(e) || (positive && !(json_number_value(e) > 0)))
            return omnic_err(OMNIC_ECONFIG, "%s: \"%s\"[%d] must be a%s number", path, key, c,
                             positive ? " positive" : "");
        v[c] = (float)json_number_value(e);
    }
    return 0;
}

int vision_preproc_load(const char *model_dir, vision_preproc *p) {
    vision_preproc_default(p);
    if (!model_dir) return 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/preprocessor_config.json", model_dir) >= (int)sizeof path)
        return omnic_err(OMNIC_EINVAL, "%s: model path too long", model_dir);
    struct stat st;
    if (stat(path, &st)) return 0;
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) return omnic_err(OMNIC_ECONFIG, "%s: line %d: %s", path, je.line, je.text);
    int rc = 0;
    int64_t v;
    if (!json_is_object(o)) { rc = omnic_err(OMNIC_ECONFIG, "%s: not a JSON object", path); goto done; }
    if ((rc = get_int(path, o, "patch_size", 1, 64, &v)) < 0) goto done;
    if (!rc) p->patch = (int)v;
    if ((rc = get_int(path, o, "merge_size", 1, 4, &v)) < 0) goto done;
    if (!rc) p->merge = (int)v;
    if ((rc = get_int(path, o, "temporal_patch_size", 1, 4, &v)) < 0) goto done;
    if (!rc) p->temporal = (int)v;
    /* min/max_pixels win over size{shortest_edge, longest_edge}. */
    json_t *size = json_object_get(o, "size");
    if (json_is_object(size)) {
        if ((rc = get_int(path, size, "shortest_edge", 1, INT64_C(1) << 40, &v)) < 0) goto done;
        if (!rc) p->min_pixels = v;
        if ((rc = get_int(path, size, "longest_edge", 1, INT64_C(1) << 40, &v)) < 0) goto done;
        if (!rc) p->max_pixels = v;
    }
    if ((rc = get_int(path, o, "min_pixels", 1, INT64_C(1) << 40, &v)) < 0) goto done;
    if (!rc) p->min_pixels = v;
    if ((rc = get_int(path, o, "max_pixels", 1, INT64_C(1) << 40, &v)) < 0) goto done;
    if (!rc) p->max_pixels = v;
    rc = 0;
    if (p->min_pixels > p->max_pixels) {
        rc = omnic_err(OMNIC_ECONFIG, "%s: min_pixels %lld > max_pixels %lld", path,
                       (long long)p->min_pixels, (long long)p->max_pixels);
        goto done;
    }
    json_t *rf = json_object_get(o, "rescale_factor");
    if (rf) {
        if (!json_is_number(rf) || !(json_number_value(rf) > 0)) {
            rc = omnic_err(OMNIC_ECONFIG, "%s: \"rescale_factor\" must be a positive number", path);
            goto done;
        }
        p->rescale = json_number_value(rf);
    }
    if ((rc = get_vec3(path, o, "image_mean", 0, p->mean))) goto done;
    if ((rc = get_vec3(path, o, "image_std", 1, p->std))) goto done;
done:
    json_decref(o);
    return rc;
}

int vision_smart_resize(int H, int W, int factor, int64_t min_pixels, int64_t max_pixels,
                        int *out_h, int *out_w) {
    if (H <= 0 || W <= 0) return omnic_err(OMNIC_EINVAL, "image has a zero size (%dx%d)", W, H);
    if (factor <= 0 || min_pixels <= 0 || max_pixels < min_pixels)
        return omnic_err(OMNIC_EINVAL, "smart_resize: bad factor %d or pixel bounds [%lld, %lld]", factor,
                         (long long)min_pixels, (long long)max_pixels);
    double big = H > W ? H : W, small = H > W ? W : H;
    if (big / small > 200)
        return omnic_err(OMNIC_EINVAL, "image of %dx%d has an aspect ratio over 200 (%.1f)", W, H, big / small);
    double f = factor;
    /* rint rounds half to even in the default rounding mode, like Python's round(). */
    int64_t h = (int64_t)rint(H / f) * factor, w = (int64_t)rint(W / f) * factor;
    if (h * w > max_pixels) {
        double beta = sqrt((double)((int64_t)H * W) / (double)max_pixels);
        h = (int64_t)floor(H / beta / f) * factor;
        w = (int64_t)floor(W / beta / f) * factor;
        if (h < factor) h = factor;
        if (w < factor) w = factor;
    } else if (h * w < min_pixels) {
        double beta = sqrt((double)min_pixels / (double)((int64_t)H * W));
        h = (int64_t)ceil(H * beta / f) * factor;
        w = (int64_t)ceil(W * beta / f) * factor;
    }
    if (h <= 0 || w <= 0 || h > 65535 || w > 65535)
        return omnic_err(OMNIC_EINVAL, "smart_resize: %dx%d gives an unusable size %lldx%lld", W, H,
                         (long long)w, (long long)h);
    *out_h = (int)h;
    *out_w = (int)w;
    return 0;
}

int vision_image_patches(const vision_preproc *p, const omnic_image *img, float **pixels,
                         int grid_thw[3], omnic_image *resized) {
    *pixels = NULL;
    if (resized) *resized = (omnic_image){0};
    int P = p->patch, M = p->merge, T = p->temporal;
    int H2, W2, rc;
    if ((rc = vision_smart_resize(img->h, img->w, P * M, p->min_pixels, p->max_pixels, &H2, &W2))) return rc;
    omnic_image r;
    if ((rc = omnic_image_resize_bicubic(img, W2, H2, &r))) return rc;
    int gh = H2 / P, gw = W2 / P;
    size_t cols = (size_t)3 * T * P * P, rows = (size_t)gh * gw;
    float *out = malloc(rows * cols * sizeof *out);
    if (!out) {
        omnic_image_free(&r);
        return omnic_err(OMNIC_ENOMEM, "out of memory for %zu patches", rows);
    }
    /* §1.4: x * rescale in double, to float32, minus mean, divided by std (float32). */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 256; x++) {
            float a = (float)(x * p->rescale);
            float b = a - p->mean[c];
            lut[c][x] = b / p->std[c];
        }
    /* §1.5: row ((bh * gw/M + bw) * M + r) * M + s; column ((c * T + t) * P + y) * P + x. */
    size_t row = 0;
    for (int bh = 0; bh < gh / M; bh++)
        for (int bw = 0; bw < gw / M; bw++)
            for (int rr = 0; rr < M; rr++)
                for (int ss = 0; ss < M; ss++, row++) {
                    float *o = out + row * cols;
                    int py = (bh * M + rr) * P, px = (bw * M + ss) * P;
                    for (int c = 0; c < 3; c++)
                        for (int t = 0; t < T; t++)
                            for (int y = 0; y < P; y++) {
                                const uint8_t *s = r.rgb + ((size_t)(py + y) * (size_t)W2 + (size_t)px) * 3 + c;
                                for (int x = 0; x < P; x++) *o++ = lut[c][s[3 * x]];
                            }
                }
    grid_thw[0] = 1;
    grid_thw[1] = gh;
    grid_thw[2] = gw;
    *pixels = out;
    if (resized) *resized = r;
    else omnic_image_free(&r);
    return 0;
}
