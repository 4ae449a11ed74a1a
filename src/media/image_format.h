/* image_format.h - which still-image format a buffer holds, from its magic bytes
 * (an addition beside the fixed media/image.h contract, for `omnic image`). */
#ifndef OMNIC_MEDIA_IMAGE_FORMAT_H
#define OMNIC_MEDIA_IMAGE_FORMAT_H
#include <stddef.h>
#include <stdint.h>

/* "jpeg", "png", "gif", "webp", "bmp", or NULL when none matches. */
const char *omnic_image_sniff(const uint8_t *buf, size_t len);

#endif
