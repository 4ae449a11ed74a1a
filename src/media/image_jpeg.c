/* image_jpeg.c - JPEG through libjpeg-turbo with its defaults (islow IDCT, fancy
 * upsampling), mapped the way Pillow maps it: 1 component -> L, 3 -> RGB (libjpeg's
 * YCbCr/RGB detection), 4 -> CMYK with Adobe-inverted values ("CMYK;I") and then
 * Pillow's CMYK -> RGB. Truncated data is an error (Pillow: "image file is
 * truncated"); libjpeg errors longjmp back here instead of exiting. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"
#include "media/image_internal.h"

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr ci) {
    jerr *e = (jerr *)ci->err;
    ci->err->format_message(ci, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are ignored as Pillow ignores them, except running out of data. */
static void on_message(j_common_ptr ci, int level) {
    if (level < 0 && ci->err->msg_code == JWRN_JPEG_EOF) {
        jerr *e = (jerr *)ci->err;
        snprintf(e->msg, sizeof e->msg, "truncated JPEG data");
        longjmp(e->jb, 1);
    }
}

static void on_output(j_common_ptr ci) { (void)ci; }

int img_decode_jpeg(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out) {
    struct jpeg_decompress_struct ci = {0};
    jerr e;
    uint8_t *volatile row = NULL;
    volatile int rc = OMNIC_EFORMAT;
    ci.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.emit_message = on_message;
    e.pub.output_message = on_output;
    e.msg[0] = 0;
    if (setjmp(e.jb)) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt JPEG: %s", name, e.msg);
        goto done;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    int nc = ci.num_components;
    if (nc == 1) ci.out_color_space = JCS_GRAYSCALE;
    else if (nc == 3) ci.out_color_space = JCS_RGB;
    else if (nc == 4) ci.out_color_space = JCS_CMYK;
    else {
        rc = omnic_err(OMNIC_EFORMAT, "%s: unsupported JPEG with %d components", name, nc);
        goto done;
    }
    if ((rc = img_check_size(name, "JPEG", ci.image_width, ci.image_height, max_pixels))) goto done;
    jpeg_start_decompress(&ci);
    int w = (int)ci.output_width, h = (int)ci.output_height;
    if ((int)ci.output_components != nc || w != (int)ci.image_width || h != (int)ci.image_height) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: unexpected JPEG output layout", name);
        goto done;
    }
    if ((rc = img_alloc(out, w, h, name))) goto done;
    rc = OMNIC_EFORMAT;
    if (nc != 3 && !(row = malloc((size_t)w * (size_t)nc))) {
        rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    while ((int)ci.output_scanline < h) {
        uint8_t *dst = out->rgb + (size_t)ci.output_scanline * (size_t)w * 3;
        JSAMPROW rp = nc == 3 ? dst : row;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: truncated JPEG data", name);
            goto done;
        }
        if (nc == 1) img_gray_to_rgb(dst, row, (size_t)w);
        else if (nc == 4) {
            /* Pillow reads CMYK as "CMYK;I" (Adobe polarity): invert, then convert. */
            for (size_t i = 0; i < (size_t)w * 4; i++) row[i] = (uint8_t)(255 - row[i]);
            img_cmyk_to_rgb(dst, row, (size_t)w);
        }
    }
    /* Not jpeg_finish_decompress: like Pillow, data after the last scanline is not read. */
    rc = 0;
done:
    jpeg_destroy_decompress(&ci);
    free(row);
    return rc;
}
