/* image_internal.h - helpers shared by the per-format image decoders (not a
 * public contract): size checks before allocation, Pillow's mode conversions to
 * 8-bit RGB, and the per-format entry points that image_decode.c dispatches to. */
#ifndef OMNIC_MEDIA_IMAGE_INTERNAL_H
#define OMNIC_MEDIA_IMAGE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "media/image.h"

/* Refuse zero sizes (OMNIC_EINVAL), sizes over the pixel cap (OMNIC_EINVAL) and
 * sides over 65535 (OMNIC_EFORMAT), before any pixel buffer exists. fmt names the
 * format in messages. */
int img_check_size(const char *name, const char *fmt, int64_t w, int64_t h, int64_t max_pixels);
/* Allocate out->rgb for w*h pixels (sizes already checked). */
int img_alloc(omnic_image *out, int w, int h, const char *name);

/* Pillow's exact (v + 128 + ((v + 128) >> 8)) >> 8 division by 255. */
static inline uint8_t img_div255(uint32_t v) {
    uint32_t t = v + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* Per-pixel conversions to RGB, n pixels (vision.md §1.1; Pillow's convert rules). */
void img_rgba_on_white(uint8_t *rgb, const uint8_t *rgba, size_t n);      /* "RGBA" */
void img_cmyk_to_rgb(uint8_t *rgb, const uint8_t *cmyk, size_t n);        /* "CMYK" (ink values) */
void img_gray_to_rgb(uint8_t *rgb, const uint8_t *g, size_t n);           /* "L" */
/* "P": a 256-entry RGB table; Pillow fills entries past the file's palette with
 * the gray ramp (i, i, i). */
void img_palette_init(uint8_t pal[768]);
void img_palette_to_rgb(uint8_t *rgb, const uint8_t *idx, size_t n, const uint8_t pal[768]);

int img_decode_jpeg(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out);
int img_decode_png(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out);
int img_decode_gif(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out);
int img_decode_webp(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out);
int img_decode_bmp(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out);

#endif
