/* test_video.c - unit tests of the video path's pure steps (src/media/video_*.c):
 * the §1.7 size test vectors, frame-count edge cases and errors, index properties,
 * the resizer's identity and constant-image behaviour, the patch layout on a
 * synthetic clip, and clean errors for bad in-memory input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "media/video.h"
#include "media/video_internal.h"

static void test_sizes(void **st) {
    (void)st;
    /* vision.md §1.7 step 4: W x H -> W' x H' */
    static const int v[][4] = {{1920, 1080, 476, 280}, {1280, 720, 504, 280}, {720, 1280, 280, 504},
                               {640, 480, 420, 308}, {480, 480, 364, 364}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int h, w;
        assert_int_equal(video_smart_resize(v[i][1], v[i][0], 28, OMNIC_VIDEO_MIN_PIXELS, OMNIC_VIDEO_MAX_PIXELS, &h, &w), 0);
        assert_int_equal(w, v[i][2]);
        assert_int_equal(h, v[i][3]);
    }
    int h, w;
    assert_int_not_equal(video_smart_resize(1, 201, 28, OMNIC_VIDEO_MIN_PIXELS, OMNIC_VIDEO_MAX_PIXELS, &h, &w), 0);
    assert_int_not_equal(video_smart_resize(0, 10, 28, OMNIC_VIDEO_MIN_PIXELS, OMNIC_VIDEO_MAX_PIXELS, &h, &w), 0);
}

static void test_counts(void **st) {
    (void)st;
    int n = -1;
    assert_int_not_equal(video_frame_count(1, 25.0, 170, "x", &n), 0);
    assert_non_null(strstr(omnic_errmsg(), "x:"));
    assert_int_equal(video_frame_count(2, 25.0, 170, "x", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(video_frame_count(3, 25.0, 170, "x", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(video_frame_count(75, 25.0, 170, "x", &n), 0);   /* 3 s -> 6 */
    assert_int_equal(n, 6);
    assert_int_equal(video_frame_count(1800, 30.0, 170, "x", &n), 0); /* 60 s -> 120 */
    assert_int_equal(n, 120);
    assert_int_equal(video_frame_count(100000, 30.0, 170, "x", &n), 0);
    assert_int_equal(n, 170);
    assert_int_equal(video_frame_count(100000, 30.0, 128, "x", &n), 0);
    assert_int_equal(n, 128);
    assert_int_not_equal(video_frame_count(100, 0.0, 170, "x", &n), 0);
    assert_int_not_equal(video_frame_count(100, NAN, 170, "x", &n), 0);
    int64_t idx[170];
    video_frame_indices(100000, 170, idx);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[169], 99999);
    for (int i = 1; i < 170; i++) assert_true(idx[i] > idx[i - 1]);
    video_frame_indices(3, 2, idx);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 2);
}

static void test_resizer(void **st) {
    (void)st;
    const int w = 37, h = 23;
    uint8_t *src = malloc(w * h * 3), *dst = malloc(200 * 200 * 3);
    assert_non_null(src);
    assert_non_null(dst);
    for (int i = 0; i < w * h * 3; i++) src[i] = (uint8_t)(i * 7 + 3);
    video_resizer *r;
    assert_int_equal(video_resizer_new(w, h, w, h, &r), 0);   /* same size: identity */
    video_resizer_run(r, src, dst);
    assert_memory_equal(src, dst, (size_t)w * h * 3);
    video_resizer_free(r);
    memset(src, 200, w * h * 3);                                /* constant stays constant */
    assert_int_equal(video_resizer_new(w, h, 113, 29, &r), 0);
    video_resizer_run(r, src, dst);
    for (int i = 0; i < 113 * 29 * 3; i++) assert_int_equal(dst[i], 200);
    video_resizer_free(r);
    assert_int_not_equal(video_resizer_new(0, h, 10, 10, &r), 0);
    free(src);
    free(dst);
}

static void test_patchify(void **st) {
    (void)st;
    vision_preproc p;
    vision_preproc_default(&p);
    const int n = 4, h = 56, w = 84;
    uint8_t *f = malloc((size_t)n * h * w * 3);
    assert_non_null(f);
    for (int t = 0; t < n; t++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) f[(((size_t)t * h + y) * w + x) * 3 + c] = (uint8_t)((t * 31 + y * 3 + x * 5 + c * 17) & 255);
    float *px;
    int g[3];
    assert_int_equal(video_patchify(&p, f, n, h, w, &px, g), 0);
    assert_int_equal(g[0], 2);
    assert_int_equal(g[1], 4);
    assert_int_equal(g[2], 6);
    /* row of (t=1, bh=1, bw=2, r=1, s=0); column (c=2, tau=1, y=5, x=9) */
    const int row = ((1 * 2 + 1) * 3 + 2) * 4 + 1 * 2 + 0, col = ((2 * 2 + 1) * 14 + 5) * 14 + 9;
    const int fy = (2 * 1 + 1) * 14 + 5, fx = (2 * 2 + 0) * 14 + 9, ft = 1 * 2 + 1;
    const uint8_t v = f[(((size_t)ft * h + fy) * w + fx) * 3 + 2];
    const float m = p.mean[2] * 255.0f, s = p.std[2] * 255.0f;
    assert_true(px[(size_t)row * 1176 + col] == ((float)v - m) / s);
    free(px);
    assert_int_not_equal(video_patchify(&p, f, 3, h, w, &px, g), 0);   /* odd frame count */
    free(f);
}

static void test_bad_memory(void **st) {
    (void)st;
    vision_preproc p;
    vision_preproc_default(&p);
    float *px = (float *)1;
    int g[3];
    static const uint8_t junk[64] = "definitely not a video file, just some bytes";
    assert_int_not_equal(vision_video_patches(&p, junk, sizeof junk, "junk.bin", 170, &px, g), 0);
    assert_null(px);
    assert_non_null(strstr(omnic_errmsg(), "junk.bin"));
    assert_int_not_equal(vision_video_patches(&p, junk, 0, "empty.bin", 170, &px, g), 0);
    assert_non_null(strstr(omnic_errmsg(), "empty.bin"));
    assert_int_not_equal(vision_video_patches_file(&p, "/nonexistent/v.mp4", 170, &px, g), 0);
    assert_non_null(strstr(omnic_errmsg(), "/nonexistent/v.mp4"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),     cmocka_unit_test(test_counts),     cmocka_unit_test(test_resizer),
        cmocka_unit_test(test_patchify),  cmocka_unit_test(test_bad_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
