/* test_image.c - image decoding and vision preprocessing in-process: the §1.2
 * smart_resize table and its refusals, preprocessor_config.json reading, the §1.5
 * patch layout on an image whose pixels encode their position, header-first pixel
 * caps, and a deterministic mutation fuzz of several hundred cases over small
 * JPEG/PNG/GIF/WebP/BMP files made here with the format libraries' encoders (every
 * case must decode to a sane image or fail with a message naming the input; ASan
 * checks the rest). Pillow-exactness is tests/integration/test_image.py's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "media/image.h"
#include "media/image_format.h"
#include "models/vision_preproc.h"
#include "omnic.h"

/* ---- smart_resize ---------------------------------------------------------------- */

static void test_smart_resize_table(void **st) {
    (void)st;
    static const int T[][5] = {/* W, H, W', H', tokens */
                               {640, 480, 644, 476, 391},     {800, 600, 812, 588, 609},
                               {1024, 1024, 1036, 1036, 1369}, {384, 384, 392, 392, 196},
                               {512, 512, 504, 504, 324},     {1920, 1080, 1904, 1064, 2584},
                               {1080, 1920, 1064, 1904, 2584}, {3840, 2160, 1904, 1064, 2584},
                               {4000, 3000, 1652, 1232, 2596}, {100, 50, 112, 56, 8},
                               {20, 20, 56, 56, 4},           {1, 200, 28, 812, 29}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        int h = 0, w = 0;
        assert_int_equal(vision_smart_resize(T[i][1], T[i][0], 28, 3136, 2073600, &h, &w), 0);
        if (w != T[i][2] || h != T[i][3]) fail_msg("%dx%d -> %dx%d, want %dx%d", T[i][0], T[i][1], w, h, T[i][2], T[i][3]);
        assert_int_equal((h / 28) * (w / 28), T[i][4]);
    }
    int h, w;
    assert_int_equal(vision_smart_resize(1, 201, 28, 3136, 2073600, &h, &w), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "aspect"));
    assert_int_equal(vision_smart_resize(0, 10, 28, 3136, 2073600, &h, &w), OMNIC_EINVAL);
    assert_int_equal(vision_smart_resize(10, 0, 28, 3136, 2073600, &h, &w), OMNIC_EINVAL);
    /* exactly 200 is accepted */
    assert_int_equal(vision_smart_resize(200, 1, 28, 3136, 2073600, &h, &w), 0);
}

/* ---- preprocessor_config.json ------------------------------------------------------ */

static char tmpdir[64];

static void write_cfg(const char *text) {
    char p[128];
    snprintf(p, sizeof p, "%s/preprocessor_config.json", tmpdir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_preproc_load(void **st) {
    (void)st;
    strcpy(tmpdir, "/tmp/omnic_preproc_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    vision_preproc p, d;
    vision_preproc_default(&d);
    assert_int_equal(vision_preproc_load(tmpdir, &p), 0); /* no file: defaults */
    assert_true(p.patch == d.patch && p.merge == d.merge && p.temporal == d.temporal &&
                p.min_pixels == 3136 && p.max_pixels == 2073600 && p.rescale == d.rescale &&
                !memcmp(p.mean, d.mean, sizeof p.mean) && !memcmp(p.std, d.std, sizeof p.std));
    write_cfg("{\"min_pixels\": 100, \"max_pixels\": 5000, \"size\": {\"shortest_edge\": 7, \"longest_edge\": 9},"
              "\"patch_size\": 14, \"merge_size\": 2, \"temporal_patch_size\": 2, \"rescale_factor\": 0.5,"
              "\"image_mean\": [0.5, 0.25, 0.125], \"image_std\": [1, 2, 4]}");
    assert_int_equal(vision_preproc_load(tmpdir, &p), 0);
    assert_int_equal(p.min_pixels, 100); /* min/max_pixels win over size{} */
    assert_int_equal(p.max_pixels, 5000);
    assert_true(p.rescale == 0.5 && p.mean[1] == 0.25f && p.std[2] == 4.0f);
    write_cfg("{\"size\": {\"shortest_edge\": 3000, \"longest_edge\": 9000}}");
    assert_int_equal(vision_preproc_load(tmpdir, &p), 0);
    assert_int_equal(p.min_pixels, 3000);
    assert_int_equal(p.max_pixels, 9000);
    write_cfg("{\"image_std\": [1, 0, 1]}");
    assert_int_equal(vision_preproc_load(tmpdir, &p), OMNIC_ECONFIG);
    assert_non_null(strstr(omnic_errmsg(), "image_std"));
    write_cfg("{\"patch_size\": \"14\"}");
    assert_int_equal(vision_preproc_load(tmpdir, &p), OMNIC_ECONFIG);
    assert_non_null(strstr(omnic_errmsg(), "patch_size"));
    write_cfg("{\"min_pixels\": 10");
    assert_int_equal(vision_preproc_load(tmpdir, &p), OMNIC_ECONFIG);
    assert_non_null(strstr(omnic_errmsg(), "preprocessor_config.json"));
    char path[128];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

/* ---- patch layout -------------------------------------------------------------------- */

/* 56x84 needs no resize (multiples of 28, 4704 pixels inside [3136, 2073600]); pixel
 * (y, x, c) holds (y * 3 + x * 5 + c * 7) mod 256. */
static void test_patch_layout(void **st) {
    (void)st;
    vision_preproc p;
    vision_preproc_default(&p);
    omnic_image img = {56, 84, malloc(56 * 84 * 3)};
    for (int y = 0; y < 84; y++)
        for (int x = 0; x < 56; x++)
            for (int c = 0; c < 3; c++) img.rgb[(y * 56 + x) * 3 + c] = (uint8_t)((y * 3 + x * 5 + c * 7) & 255);
    float *pv;
    int g[3];
    omnic_image rs;
    assert_int_equal(vision_image_patches(&p, &img, &pv, g, &rs), 0);
    assert_int_equal(g[0], 1);
    assert_int_equal(g[1], 6);
    assert_int_equal(g[2], 4);
    assert_memory_equal(rs.rgb, img.rgb, 56 * 84 * 3); /* same size: identity */
    for (int row = 0; row < 24; row++) {
        int blk = row / 4, r = (row / 2) % 2, s = row % 2, bh = blk / 2, bw = blk % 2;
        for (int col = 0; col < 1176; col++) {
            int x = col % 14, y = (col / 14) % 14, c = col / 392;
            int py = (2 * bh + r) * 14 + y, px = (2 * bw + s) * 14 + x;
            int v = (py * 3 + px * 5 + c * 7) & 255;
            float a = (float)(v * 0.00392156862745098);
            float want = (a - p.mean[c]) / p.std[c];
            if (pv[row * 1176 + col] != want) fail_msg("row %d col %d: %g, want %g", row, col, pv[row * 1176 + col], want);
        }
    }
    free(pv);
    omnic_image_free(&rs);
    omnic_image_free(&img);
}

/* ---- encoders for the fuzz seeds ------------------------------------------------------ */

typedef struct mbuf { uint8_t *p; size_t n, cap; } mbuf;

static void mput(mbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static uint8_t *pattern(int w, int h, int ch) {
    uint8_t *p = malloc((size_t)w * h * ch);
    for (int i = 0; i < w * h * ch; i++) p[i] = (uint8_t)(i * 37 + (i / (w * ch)) * 11);
    return p;
}

static mbuf enc_jpeg(int w, int h, int gray, int progressive) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *px = pattern(w, h, c.input_components);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = px + (size_t)c.next_scanline * w * c.input_components;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(px);
    mbuf b = {0};
    mput(&b, out, n);
    free(out);
    return b;
}

static void png_w(png_structp png, png_bytep d, size_t n) { mput(png_get_io_ptr(png), d, n); }
static void png_f(png_structp png) { (void)png; }

static mbuf enc_png(int w, int h, int color, int depth, int interlace) {
    mbuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_false(setjmp(png_jmpbuf(png)));
    png_set_write_fn(png, &b, png_w, png_f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[16];
        for (int i = 0; i < 16; i++) pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 9), (png_byte)(i * 5)};
        png_set_PLTE(png, info, pal, 16);
        png_byte trns[3] = {0, 128, 255};
        png_set_tRNS(png, info, trns, 3, NULL);
    }
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : color == PNG_COLOR_TYPE_RGB ? 3 : 1;
    size_t rb = ((size_t)w * ch * depth + 7) / 8;
    uint8_t *px = pattern((int)rb, h, 1);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    for (int y = 0; y < h; y++) rows[y] = px + (size_t)y * rb;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(px);
    return b;
}

static int gif_w(GifFileType *g, const GifByteType *d, int n) {
    mput(g->UserData, d, (size_t)n);
    return n;
}

static mbuf enc_gif(int w, int h, int frames, int interlace) {
    mbuf b = {0};
    int err;
    GifFileType *g = EGifOpen(&b, gif_w, &err);
    assert_non_null(g);
    GifColorType cols[64];
    for (int i = 0; i < 64; i++) cols[i] = (GifColorType){(GifByteType)(i * 4), (GifByteType)(i * 3), (GifByteType)(255 - i)};
    ColorMapObject *m = GifMakeMapObject(64, cols);
    EGifSetGifVersion(g, true);
    assert_int_equal(EGifPutScreenDesc(g, w, h, 6, 0, m), GIF_OK);
    uint8_t *px = pattern(w, h, 1);
    for (int f = 0; f < frames; f++) {
        GifByteType gce[4] = {1, 5, 0, 7}; /* transparent index 7 */
        EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, gce);
        int fw = f ? w / 2 : w, fh = f ? h / 2 : h;
        assert_int_equal(EGifPutImageDesc(g, f ? 1 : 0, f ? 1 : 0, fw, fh, interlace, NULL), GIF_OK);
        for (int y = 0; y < fh; y++) {
            uint8_t row[256];
            for (int x = 0; x < fw; x++) row[x] = px[y * w + x] & 63;
            assert_int_equal(EGifPutLine(g, row, fw), GIF_OK);
        }
    }
    EGifCloseFile(g, &err);
    GifFreeMapObject(m);
    free(px);
    return b;
}

static mbuf enc_webp(int w, int h, int lossless) {
    uint8_t *px = pattern(w, h, 4), *out = NULL;
    size_t n = lossless ? WebPEncodeLosslessRGBA(px, w, h, w * 4, &out) : WebPEncodeRGB(px, w, h, w * 3, 75, &out);
    assert_true(n > 0);
    mbuf b = {0};
    mput(&b, out, n);
    WebPFree(out);
    free(px);
    return b;
}

static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static mbuf enc_bmp(int w, int h, int bits) {
    int ncol = bits <= 8 ? 1 << bits : 0;
    size_t stride = (((size_t)w * bits + 31) >> 3) & ~(size_t)3, off = 54 + 4 * (size_t)ncol;
    uint8_t hdr[54] = {'B', 'M'};
    le32(hdr + 2, (uint32_t)(off + stride * h));
    le32(hdr + 10, (uint32_t)off);
    le32(hdr + 14, 40);
    le32(hdr + 18, (uint32_t)w);
    le32(hdr + 22, (uint32_t)h);
    hdr[26] = 1;
    hdr[28] = (uint8_t)bits;
    mbuf b = {0};
    mput(&b, hdr, 54);
    for (int i = 0; i < ncol; i++) {
        uint8_t q[4] = {(uint8_t)(i * 3), (uint8_t)(i * 7), (uint8_t)(i * 11), 0};
        mput(&b, q, 4);
    }
    uint8_t *px = pattern((int)stride, h, 1);
    mput(&b, px, stride * h);
    free(px);
    return b;
}

/* ---- mutation fuzz ---------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static int n_ok, n_err;

static int decode_case(const uint8_t *d, size_t n) {
    omnic_image im;
    int rc = omnic_image_decode(d, n, "fuzz-case", 1 << 20, &im);
    if (rc == 0) {
        assert_true(im.w > 0 && im.h > 0 && (int64_t)im.w * im.h <= (1 << 20));
        assert_non_null(im.rgb);
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) sum += im.rgb[i];
        (void)sum;
        /* a resize of the result must work too */
        omnic_image r;
        assert_int_equal(omnic_image_resize_bicubic(&im, im.w / 2 + 1, im.h + 3, &r), 0);
        omnic_image_free(&r);
        omnic_image_free(&im);
        n_ok++;
        return 1;
    } else {
        assert_true(rc < 0);
        if (!strstr(omnic_errmsg(), "fuzz-case")) fail_msg("error without the input's name: %s", omnic_errmsg());
        assert_null(im.rgb);
        n_err++;
        return 0;
    }
}

static void fuzz_seed(mbuf s, int cases) {
    if (!decode_case(s.p, s.n)) fail_msg("seed does not decode: %s", omnic_errmsg());
    uint8_t *b = malloc(s.n + 64);
    for (int k = 0; k < cases; k++) {
        size_t n = s.n;
        memcpy(b, s.p, n);
        switch (k % 4) {
        case 0: /* a few random bytes */
            for (int i = 0, m = 1 + (int)rnd(4); i < m; i++) b[rnd((uint32_t)n)] = (uint8_t)rnd(256);
            break;
        case 1: /* truncation */
            n = 1 + rnd((uint32_t)n - 1);
            break;
        case 2: /* header damage: extreme values near the start */
            for (int i = 0, m = 1 + (int)rnd(3); i < m; i++) b[rnd(n < 64 ? (uint32_t)n : 64)] = rnd(2) ? 0xFF : 0x00;
            break;
        default: { /* a copied segment elsewhere */
            size_t a = rnd((uint32_t)n), c = rnd((uint32_t)n), l = 1 + rnd(32);
            if (a + l > n) l = n - a;
            if (c + l > n) l = n - c;
            memmove(b + c, b + a, l);
            b[rnd((uint32_t)n)] ^= (uint8_t)(1u << rnd(8));
            break;
        }
        }
        decode_case(b, n);
    }
    free(b);
    free(s.p);
}

static void test_fuzz(void **st) {
    (void)st;
    mbuf seeds[] = {enc_jpeg(23, 17, 0, 0), enc_jpeg(16, 9, 1, 0), enc_jpeg(30, 12, 0, 1),
                    enc_png(13, 11, PNG_COLOR_TYPE_RGB, 8, 0), enc_png(19, 7, PNG_COLOR_TYPE_PALETTE, 4, 1),
                    enc_png(9, 10, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1), enc_png(21, 5, PNG_COLOR_TYPE_GRAY, 16, 0),
                    enc_gif(20, 14, 2, 0), enc_gif(11, 17, 1, 1),
                    enc_webp(18, 13, 0), enc_webp(15, 9, 1),
                    enc_bmp(17, 6, 24), enc_bmp(13, 9, 8), enc_bmp(21, 4, 1), enc_bmp(7, 5, 32)};
    const char *fmt[] = {"jpeg", "jpeg", "jpeg", "png", "png", "png", "png", "gif", "gif", "webp", "webp",
                         "bmp", "bmp", "bmp", "bmp"};
    int ns = (int)(sizeof seeds / sizeof seeds[0]);
    for (int i = 0; i < ns; i++) {
        const char *f = omnic_image_sniff(seeds[i].p, seeds[i].n);
        assert_non_null(f);
        assert_string_equal(f, fmt[i]);
        fuzz_seed(seeds[i], 64);
    }
    print_message("fuzz: %d seeds x 64 mutations: %d decoded, %d refused, no crash\n", ns, n_ok, n_err);
}

/* ---- pixel cap before allocation -------------------------------------------------------- */

static uint32_t crc32_png(const uint8_t *d, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_caps(void **st) {
    (void)st;
    mbuf s = enc_png(40, 30, PNG_COLOR_TYPE_RGB, 8, 0);
    omnic_image im;
    assert_int_equal(omnic_image_decode(s.p, s.n, "small.png", 1199, &im), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "small.png"));
    assert_int_equal(omnic_image_decode(s.p, s.n, "small.png", 1200, &im), 0);
    assert_int_equal(im.w, 40);
    omnic_image_free(&im);
    /* declared 60000x60000 in a 100-byte file: refused at the header, not as truncated */
    le32(s.p + 16, 0);
    s.p[16 + 2] = 0xEA; s.p[16 + 3] = 0x60; /* big-endian 60000 */
    memcpy(s.p + 20, s.p + 16, 4);
    uint32_t crc = crc32_png(s.p + 12, 17);
    for (int i = 0; i < 4; i++) s.p[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
    assert_int_equal(omnic_image_decode(s.p, 100, "bomb.png", 0, &im), OMNIC_EINVAL);
    assert_non_null(strstr(omnic_errmsg(), "cap"));
    free(s.p);
    uint8_t junk[16] = "not an image";
    assert_int_equal(omnic_image_decode(junk, sizeof junk, "junk", 0, &im), OMNIC_EFORMAT);
    assert_int_equal(omnic_image_decode(junk, 0, "empty", 0, &im), OMNIC_EFORMAT);
    assert_int_equal(omnic_image_load("/nonexistent/x.png", 0, &im), OMNIC_EIO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smart_resize_table), cmocka_unit_test(test_preproc_load),
        cmocka_unit_test(test_patch_layout),       cmocka_unit_test(test_caps),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
