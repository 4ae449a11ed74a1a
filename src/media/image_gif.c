/* image_gif.c - first frame of a GIF through giflib, as Pillow 9.4 loads it: mode
 * "P" with the local (else global) colour table, or "L" (pixel = index) when there
 * is none or it is the identity gray ramp; the canvas is the logical screen,
 * enlarged to hold the frame; pixels outside the frame are the transparent index
 * (else 0); transparency itself is dropped by convert("RGB"). */
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "core/error.h"
#include "media/image_internal.h"

typedef struct src {
    const uint8_t *buf;
    size_t len, pos;
} src;

static int on_read(GifFileType *g, GifByteType *dst, int n) {
    src *s = g->UserData;
    size_t k = n < 0 ? 0 : (size_t)n;
    if (k > s->len - s->pos) k = s->len - s->pos;
    memcpy(dst, s->buf + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* Pillow's test: a table whose entry i is (i, i, i) for every entry means "L". */
static int is_gray_ramp(const ColorMapObject *m) {
    for (int i = 0; i < m->ColorCount; i++)
        if (m->Colors[i].Red != i || m->Colors[i].Green != i || m->Colors[i].Blue != i) return 0;
    return 1;
}

static int gif_fail(const char *name, int code) {
    const char *why = GifErrorString(code);
    return omnic_err(OMNIC_EFORMAT, "%s: corrupt GIF: %s", name, why ? why : "decoder error");
}

int img_decode_gif(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, omnic_image *out) {
    src s = {buf, len, 0};
    int err = 0, rc = OMNIC_EFORMAT, trans = -1;
    uint8_t *idx = NULL;
    GifFileType *g = DGifOpen(&s, on_read, &err);
    if (!g) return gif_fail(name, err);
    for (;;) {
        GifRecordType t;
        if (DGifGetRecordType(g, &t) == GIF_ERROR) { rc = gif_fail(name, g->Error); goto done; }
        if (t == TERMINATE_RECORD_TYPE) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: corrupt GIF: no image in the file", name);
            goto done;
        }
        if (t == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) { rc = gif_fail(name, g->Error); goto done; }
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) trans = ext[4];
            while (ext) {
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) { rc = gif_fail(name, g->Error); goto done; }
            }
            continue;
        }
        if (t != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) { rc = gif_fail(name, g->Error); goto done; }
        break;
    }
    GifImageDesc *d = &g->Image;
    int64_t x0 = d->Left, y0 = d->Top, fw = d->Width, fh = d->Height;
    int64_t cw = g->SWidth, ch = g->SHeight;
    if (x0 + fw > cw) cw = x0 + fw;
    if (y0 + fh > ch) ch = y0 + fh;
    if ((rc = img_check_size(name, "GIF", cw, ch, max_pixels))) goto done;
    /* Pillow: the local table wins; an identity ramp (or none at all) means "L". */
    const ColorMapObject *m = d->ColorMap ? d->ColorMap : g->SColorMap;
    int use_pal = m && !is_gray_ramp(m);
    uint8_t pal[768];
    img_palette_init(pal);
    if (use_pal)
        for (int i = 0; i < m->ColorCount && i < 256; i++) {
            pal[3 * i] = m->Colors[i].Red;
            pal[3 * i + 1] = m->Colors[i].Green;
            pal[3 * i + 2] = m->Colors[i].Blue;
        }
    size_t npix = (size_t)cw * (size_t)ch;
    if (!(idx = malloc(npix))) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", name); goto done; }
    memset(idx, trans >= 0 ? trans : 0, npix);
    if (fw > 0 && fh > 0) {
        /* Interlaced rows arrive in 4 passes: every 8th from 0, every 8th from 4,
         * every 4th from 2, every 2nd from 1. */
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        int npass = d->Interlace ? 4 : 1;
        for (int p = 0; p < npass; p++) {
            int y = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
            for (; y < fh; y += dy) {
                uint8_t *row = idx + (size_t)(y0 + y) * (size_t)cw + (size_t)x0;
                if (DGifGetLine(g, row, (int)fw) == GIF_ERROR) { rc = gif_fail(name, g->Error); goto done; }
            }
        }
    }
    if ((rc = img_alloc(out, (int)cw, (int)ch, name))) goto done;
    img_palette_to_rgb(out->rgb, idx, npix, pal);
    rc = 0;
done:
    free(idx);
    DGifCloseFile(g, &err);
    return rc;
}
