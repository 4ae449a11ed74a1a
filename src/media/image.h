/* image.h - still images decoded the way Pillow decodes them (vision.md §1.1):
 * JPEG (libjpeg-turbo defaults), PNG, GIF, WebP (first frame), BMP; converted to
 * 8-bit RGB (RGBA composited on white, other modes converted as Pillow's
 * convert("RGB")), no EXIF rotation; and Pillow's exact uint8 bicubic resize. */
#ifndef OMNIC_MEDIA_IMAGE_H
#define OMNIC_MEDIA_IMAGE_H
#include <stddef.h>
#include <stdint.h>

/* Pillow's Image.MAX_IMAGE_PIXELS; decoding more pixels than the caller's cap is
 * refused before any pixel buffer is allocated (decompression bombs). */
#define OMNIC_IMAGE_MAX_PIXELS_DEFAULT 89478485LL

typedef struct omnic_image {
    int w, h;
    uint8_t *rgb;   /* h rows of w RGB triplets, malloc'ed */
} omnic_image;

/* Decode an encoded image held in memory. name is used in error messages
 * (a file name or "image_url[2]"). max_pixels <= 0: the default cap.
 * Errors: OMNIC_EFORMAT (corrupt/truncated/unsupported), OMNIC_EINVAL (zero
 * size, over the pixel cap), OMNIC_ENOMEM. */
int omnic_image_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels,
                       omnic_image *out);
/* Read and decode a file (OMNIC_EIO if unreadable). */
int omnic_image_load(const char *path, int64_t max_pixels, omnic_image *out);
void omnic_image_free(omnic_image *img);

/* Pillow Image.resize((w, h), BICUBIC) on 8-bit RGB, bit-exact (vision.md §1.3). */
int omnic_image_resize_bicubic(const omnic_image *in, int w, int h, omnic_image *out);

#endif
