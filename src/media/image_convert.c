/* image_convert.c - Pillow's conversions of decoded modes to 8-bit RGB
 * (vision.md §1.1): RGBA composited on white with Pillow's integer blend, CMYK
 * and palette/gray expansion as convert("RGB") does them. */
#include "media/image_internal.h"

#include <stdlib.h>

#include "core/error.h"

int img_check_size(const char *name, const char *fmt, int64_t w, int64_t h, int64_t max_pixels) {
    if (max_pixels <= 0) max_pixels = OMNIC_IMAGE_MAX_PIXELS_DEFAULT;
    if (w <= 0 || h <= 0)
        return omnic_err(OMNIC_EINVAL, "%s: %s image has a zero size (%lldx%lld)", name, fmt,
                         (long long)w, (long long)h);
    if (w > 65535 || h > 65535)
        return omnic_err(OMNIC_EFORMAT, "%s: %s image size %lldx%lld is too large (max side 65535)",
                         name, fmt, (long long)w, (long long)h);
    if (w * h > max_pixels)
        return omnic_err(OMNIC_EINVAL,
                         "%s: %s image of %lldx%lld = %lld pixels is over the cap of %lld pixels "
                         "(possible decompression bomb)",
                         name, fmt, (long long)w, (long long)h, (long long)(w * h), (long long)max_pixels);
    return 0;
}

int img_alloc(omnic_image *out, int w, int h, const char *name) {
    out->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!out->rgb) return omnic_err(OMNIC_ENOMEM, "%s: out of memory for a %dx%d image", name, w, h);
    out->w = w;
    out->h = h;
    return 0;
}

void img_rgba_on_white(uint8_t *rgb, const uint8_t *rgba, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = img_div255(rgba[4 * i + c] * a + 255 * (255 - a));
    }
}

/* Pillow: with nk = 255 - k, each channel = clip(nk - nk*ink/255). */
void img_cmyk_to_rgb(uint8_t *rgb, const uint8_t *cmyk, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int nk = 255 - cmyk[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            int v = nk - img_div255((uint32_t)cmyk[4 * i + c] * (uint32_t)nk);
            rgb[3 * i + c] = (uint8_t)(v < 0 ? 0 : v);
        }
    }
}

void img_gray_to_rgb(uint8_t *rgb, const uint8_t *g, size_t n) {
    for (size_t i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
}

void img_palette_init(uint8_t pal[768]) {
    for (int i = 0; i < 256; i++) pal[3 * i] = pal[3 * i + 1] = pal[3 * i + 2] = (uint8_t)i;
}

void img_palette_to_rgb(uint8_t *rgb, const uint8_t *idx, size_t n, const uint8_t pal[768]) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = pal + 3 * idx[i];
        rgb[3 * i] = p[0];
        rgb[3 * i + 1] = p[1];
        rgb[3 * i + 2] = p[2];
    }
}
