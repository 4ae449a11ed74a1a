/* image_bmp.c - a small, bounds-checked BMP reader following Pillow 9.4's rules:
 * headers of 12 (OS/2 v1), 40, 64, 108, 124 bytes; uncompressed 1/4/8-bit
 * (palette, entries past the table the gray ramp), 16-bit (5-5-5, or 5-6-5 via
 * bitfields, each field scaled v*255/max), 24-bit BGR, 32-bit BGRX (alpha ignored
 * unless bitfields name an alpha mask: then RGBA, composited on white); bottom-up
 * or top-down rows. RLE and other compressions are refused. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/image_internal.h"

static uint32_t u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const uint8_t *p) { return u16(p) | u16(p + 2) << 16; }

/* Byte positions of R, G, B, A (-1: none) inside a 32-bit pixel for the
 * bitfield masks Pillow accepts. */
typedef struct mask32 { uint32_t m[4]; int pos[4]; } mask32;
static const mask32 MASKS32[] = {
    {{0xFF0000, 0xFF00, 0xFF, 0}, {2, 1, 0, -1}},                   /* BGRX */
    {{0xFF000000, 0xFF0000, 0xFF00, 0}, {3, 2, 1, -1}},             /* XBGR */
    {{0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {3, 2, 1, 0}},           /* ABGR */
    {{0xFF, 0xFF00, 0xFF0000, 0xFF000000}, {0, 1, 2, 3}},           /* RGBA */
    {{0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {2, 1, 0, 3}},           /* BGRA */
    {{0, 0, 0, 0}, {2, 1, 0, 3}},                                   /* BGRA */
};

static int bad(const char *name, const char *why) {
    return omnic_err(OMNIC_EFORMAT, "%s: corrupt or unsupported BMP: %s", name, why);
}

int img_decode_bmp(const uint8_t *b, size_t len, const char *name, int64_t max_pixels, omnic_image *out) {
    if (len < 18) return bad(name, "truncated header");
    uint32_t offset = u32(b + 10), hs = u32(b + 14);
    size_t pos = 18;
    int64_t w, h;
    int topdown = 0, bits, comp = 0, pal_pad = 4;
    uint32_t colors = 0, rm = 0, gm = 0, bm = 0, am = 0;
    if (hs == 12) {
        if (len < 26) return bad(name, "truncated header");
        w = u16(b + 18);
        h = u16(b + 20);
        bits = (int)u16(b + 24);
        pal_pad = 3;
    } else if (hs == 40 || hs == 64 || hs == 108 || hs == 124) {
        if (len < 14 + (size_t)hs) return bad(name, "truncated header");
        const uint8_t *d = b + 18; /* header after its size field */
        w = u32(d);
        uint32_t hr = u32(d + 4);
        topdown = d[7] == 0xFF;
        h = topdown ? (int64_t)((1ULL << 32) - hr) : (int64_t)hr;
        bits = (int)u16(d + 10);
        comp = (int)u32(d + 12);
        colors = u32(d + 28);
        pos = 14 + hs;
        if (comp == 3) {
            if (hs - 4 >= 52) {
                rm = u32(d + 36); gm = u32(d + 40); bm = u32(d + 44); am = u32(d + 48);
            } else {
                if (len < pos + 12) return bad(name, "truncated bitfield masks");
                rm = u32(b + pos); gm = u32(b + pos + 4); bm = u32(b + pos + 8);
                pos += 12;
            }
        }
    } else {
        return omnic_err(OMNIC_EFORMAT, "%s: unsupported BMP header size %u", name, hs);
    }
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        return omnic_err(OMNIC_EFORMAT, "%s: unsupported BMP pixel depth %d", name, bits);
    if (colors == 0) colors = bits <= 16 ? 1u << bits : 0;
    if (offset == 14 + hs && bits <= 8) offset += 4 * colors;
    /* Pixel layout: pal (<= 8 bits), 16-bit fields, or byte positions in a pixel. */
    int pos32[4] = {2, 1, 0, -1};
    int r16 = 0; /* 16-bit: 1 = 5-6-5, 0 = 5-5-5 */
    if (comp == 3) {
        if (bits == 32) {
            size_t k, nk = sizeof MASKS32 / sizeof MASKS32[0];
            for (k = 0; k < nk; k++)
                if (MASKS32[k].m[0] == rm && MASKS32[k].m[1] == gm && MASKS32[k].m[2] == bm && MASKS32[k].m[3] == am)
                    break;
            if (k == nk) return bad(name, "unsupported bitfields layout");
            memcpy(pos32, MASKS32[k].pos, sizeof pos32);
        } else if (bits == 24 && rm == 0xFF0000 && gm == 0xFF00 && bm == 0xFF) {
        } else if (bits == 16 && rm == 0xF800 && gm == 0x7E0 && bm == 0x1F) {
            r16 = 1;
        } else if (bits == 16 && rm == 0x7C00 && gm == 0x3E0 && bm == 0x1F) {
        } else {
            return bad(name, "unsupported bitfields layout");
        }
    } else if (comp == 1 || comp == 2) {
        return omnic_err(OMNIC_EUNSUP, "%s: RLE-compressed BMP is not supported", name);
    } else if (comp != 0) {
        return omnic_err(OMNIC_EUNSUP, "%s: unsupported BMP compression %d", name, comp);
    }
    uint8_t pal[768];
    img_palette_init(pal);
    if (bits <= 8) {
        if (colors == 0 || colors > 65536) return bad(name, "bad palette size");
        if ((uint64_t)pal_pad * colors > len - pos) return bad(name, "truncated palette");
        for (uint32_t i = 0; i < colors && i < 256; i++) {
            const uint8_t *p = b + pos + (size_t)i * (size_t)pal_pad;
            pal[3 * i] = p[2];
            pal[3 * i + 1] = p[1];
            pal[3 * i + 2] = p[0];
        }
        if (!u32(b + 10)) pos += (size_t)pal_pad * colors;
    }
    int rc = img_check_size(name, "BMP", w, h, max_pixels);
    if (rc) return rc;
    size_t data = u32(b + 10) ? offset : pos;
    size_t stride = (((size_t)w * (size_t)bits + 31) >> 3) & ~(size_t)3;
    if (data > len || stride * (size_t)h > len - data) return bad(name, "truncated pixel data");
    if ((rc = img_alloc(out, (int)w, (int)h, name))) return rc;
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *r = b + data + (size_t)(topdown ? y : h - 1 - y) * stride;
        uint8_t *o = out->rgb + (size_t)y * (size_t)w * 3;
        for (int64_t x = 0; x < w; x++, o += 3) {
            if (bits <= 8) {
                int per = 8 / bits;
                unsigned v = r[x / per] >> (8 - bits - bits * (int)(x % per)) & ((1u << bits) - 1);
                memcpy(o, pal + 3 * v, 3);
            } else if (bits == 16) {
                unsigned v = u16(r + 2 * x);
                if (r16) {
                    o[0] = (uint8_t)((v >> 11 & 31) * 255 / 31);
                    o[1] = (uint8_t)((v >> 5 & 63) * 255 / 63);
                } else {
                    o[0] = (uint8_t)((v >> 10 & 31) * 255 / 31);
                    o[1] = (uint8_t)((v >> 5 & 31) * 255 / 31);
                }
                o[2] = (uint8_t)((v & 31) * 255 / 31);
            } else if (bits == 24) {
                o[0] = r[3 * x + 2];
                o[1] = r[3 * x + 1];
                o[2] = r[3 * x];
            } else {
                const uint8_t *p = r + 4 * x;
                if (pos32[3] >= 0) {
                    uint8_t px[4] = {p[pos32[0]], p[pos32[1]], p[pos32[2]], p[pos32[3]]};
                    img_rgba_on_white(o, px, 1);
                } else {
                    o[0] = p[pos32[0]]; o[1] = p[pos32[1]]; o[2] = p[pos32[2]];
                }
            }
        }
    }
    return 0;
}
