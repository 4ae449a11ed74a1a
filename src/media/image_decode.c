/* image_decode.c - image entry points: sniff the format from its magic bytes
 * (never the file name), hand the bytes to the per-format decoder, read files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "media/image.h"
#include "media/image_format.h"
#include "media/image_internal.h"

#define MAX_FILE_BYTES (1LL << 31)

const char *omnic_image_sniff(const uint8_t *buf, size_t len) {
    if (!buf) return NULL;
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) return "jpeg";
    if (len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (len >= 6 && (!memcmp(buf, "GIF87a", 6) || !memcmp(buf, "GIF89a", 6))) return "gif";
    if (len >= 12 && !memcmp(buf, "RIFF", 4) && !memcmp(buf + 8, "WEBP", 4)) return "webp";
    if (len >= 2 && buf[0] == 'B' && buf[1] == 'M') return "bmp";
    return NULL;
}

int omnic_image_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels,
                       omnic_image *out) {
    if (!name) name = "image";
    *out = (omnic_image){0};
    if (!buf || len == 0) return omnic_err(OMNIC_EFORMAT, "%s: empty image data", name);
    const char *f = omnic_image_sniff(buf, len);
    if (!f)
        return omnic_err(OMNIC_EFORMAT,
                         "%s: unrecognised image format (expected JPEG, PNG, GIF, WebP or BMP)", name);
    int rc;
    switch (f[0]) {
    case 'j': rc = img_decode_jpeg(buf, len, name, max_pixels, out); break;
    case 'p': rc = img_decode_png(buf, len, name, max_pixels, out); break;
    case 'g': rc = img_decode_gif(buf, len, name, max_pixels, out); break;
    case 'w': rc = img_decode_webp(buf, len, name, max_pixels, out); break;
    default: rc = img_decode_bmp(buf, len, name, max_pixels, out); break;
    }
    if (rc) omnic_image_free(out);
    return rc;
}

int omnic_image_load(const char *path, int64_t max_pixels, omnic_image *out) {
    *out = (omnic_image){0};
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open image file", path);
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return omnic_err(OMNIC_EIO, "%s: not a regular file", path);
    }
    if (st.st_size > MAX_FILE_BYTES) {
        fclose(f);
        return omnic_err(OMNIC_EINVAL, "%s: image file of %lld bytes is too large", path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory reading the file", path);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return omnic_err(OMNIC_EIO, "%s: read error", path);
    }
    int rc = omnic_image_decode(buf, n, path, max_pixels, out);
    free(buf);
    return rc;
}

void omnic_image_free(omnic_image *img) {
    if (img) { free(img->rgb); img->rgb = NULL; img->w = img->h = 0; }
}
