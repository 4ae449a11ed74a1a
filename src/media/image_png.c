/* image_png.c - PNG through libpng, mapped to Pillow 9.4's modes: gray 1/2/4/8-bit
 * -> L (scaled to 0..255), gray 16-bit -> "I" (clipped to 255 by convert("RGB")),
 * RGB 8/16 -> RGB (16-bit: high byte), palette -> P (PLTE, rest of the table the
 * gray ramp; tRNS ignored), gray+alpha 8-bit -> LA (alpha dropped), gray+alpha
 * 16-bit and RGBA -> RGBA (composited on white). No gamma or colour management.
 * Only the default image (IDAT) is read, which is an APNG's first frame.
 * libpng errors longjmp back here. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "core/error.h"
#include "media/image_internal.h"

typedef struct src {
    const uint8_t *buf;
    size_t len, pos;
    char msg[160];
} src;

static void on_error(png_structp png, png_const_charp msg) {
    src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void on_read(png_structp png, png_bytep dst, size_t n) {
    src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "truncated PNG data");
    memcpy(dst, s->buf + s->pos, n);
    s->pos += n;
}

typedef struct layout {
    int color, depth, w;
    uint8_t pal[768];
} layout;

/* One decoded row (libpng's layout after png_set_packing) -> RGB. */
static void row_to_rgb(const layout *L, const uint8_t *r, uint8_t *dst) {
    size_t w = (size_t)L->w;
    uint8_t px[4];
    switch (L->color) {
    case PNG_COLOR_TYPE_GRAY:
        if (L->depth == 16) {
            for (size_t i = 0; i < w; i++) {
                unsigned v = (unsigned)r[2 * i] << 8 | r[2 * i + 1];
                dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
            }
        } else {
            unsigned mul = L->depth == 8 ? 1 : 255u / ((1u << L->depth) - 1);
            for (size_t i = 0; i < w; i++) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = (uint8_t)(r[i] * mul);
        }
        break;
    case PNG_COLOR_TYPE_RGB:
        if (L->depth == 16)
            for (size_t i = 0; i < 3 * w; i++) dst[i] = r[2 * i];
        else
            memcpy(dst, r, 3 * w);
        break;
    case PNG_COLOR_TYPE_PALETTE:
        img_palette_to_rgb(dst, r, w, L->pal);
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        if (L->depth == 16) {
            for (size_t i = 0; i < w; i++) {
                px[0] = px[1] = px[2] = r[4 * i];
                px[3] = r[4 * i + 2];
                img_rgba_on_white(dst + 3 * i, px, 1);
            }
        } else {
            for (size_t i = 0; i < w; i++) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = r[2 * i];
        }
        break;
    default: /* RGBA */
        if (L->depth == 16) {
            for (size_t i = 0; i < w; i++) {
                for (int c = 0; c < 4; c++) px[c] = r[8 * i + 2 * c];
                img_rgba_on_white(dst + 3 * i, px, 1);
            }
        } else {
            img_rgba_on_white(dst, r, w);
        }
        break;
    }
}

int img_decode_png(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out) {
    /* Size first, from IHDR itself: libpng's own refusal of zero or huge sizes would
     * not say why. */
    if (len >= 24 && !memcmp(buf + 12, "IHDR", 4)) {
        int64_t w = (int64_t)buf[16] << 24 | buf[17] << 16 | buf[18] << 8 | buf[19];
        int64_t h = (int64_t)buf[20] << 24 | buf[21] << 16 | buf[22] << 8 | buf[23];
        int rc0 = img_check_size(name, "PNG", w, h, max_pixels);
        if (rc0) return rc0;
    }
    src s = {buf, len, 0, ""};
    layout *volatile L = NULL;
    uint8_t *volatile raw = NULL;
    uint8_t **volatile rows = NULL;
    volatile int rc = OMNIC_EFORMAT;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt PNG: %s", name, s.msg);
        goto done;
    }
    png_set_read_fn(png, &s, on_read);
    png_set_benign_errors(png, 1);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((rc = img_check_size(name, "PNG", w, h, max_pixels))) goto done;
    rc = OMNIC_EFORMAT;
    if (!(L = malloc(sizeof *L))) {
        rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    L->color = color;
    L->depth = depth;
    L->w = (int)w;
    if (color == PNG_COLOR_TYPE_PALETTE) {
        img_palette_init(L->pal);
        png_colorp plte;
        int n = 0;
        if (!png_get_PLTE(png, info, &plte, &n)) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt PNG: palette image without PLTE", name);
            goto done;
        }
        for (int i = 0; i < n && i < 256; i++) {
            L->pal[3 * i] = plte[i].red;
            L->pal[3 * i + 1] = plte[i].green;
            L->pal[3 * i + 2] = plte[i].blue;
        }
    }
    if (depth < 8) png_set_packing(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rb = png_get_rowbytes(png, info);
    int ch = png_get_channels(png, info);
    if (rb < (size_t)w * (size_t)ch * (depth == 16 ? 2 : 1)) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: unexpected PNG row layout", name);
        goto done;
    }
    if ((rc = img_alloc(out, (int)w, (int)h, name))) goto done;
    rc = OMNIC_EFORMAT;
    if (passes > 1) {
        raw = malloc(rb * h);
        rows = malloc(sizeof *rows * h);
        if (!raw || !rows) {
            rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
            goto done;
        }
        for (size_t y = 0; y < h; y++) rows[y] = raw + y * rb;
        png_read_image(png, rows);
        for (size_t y = 0; y < h; y++) row_to_rgb(L, rows[y], out->rgb + y * w * 3);
    } else {
        if (!(raw = malloc(rb))) {
            rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
            goto done;
        }
        for (size_t y = 0; y < h; y++) {
            png_read_row(png, raw, NULL);
            row_to_rgb(L, raw, out->rgb + y * w * 3);
        }
    }
    rc = 0;
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    free(L);
    return rc;
}
