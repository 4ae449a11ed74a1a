/* cmd_video.c - `omnic video`: run the video input path (vision.md §1.7) on one
 * file and show what it did, for inspection and the conformance tests:
 *   omnic video F [-m DIR] [--track a|b] [--frames-out F.npy] [--decoded-out F.npy] [--out F.npy]
 * prints one JSON line (total frames, source fps, n, sampled indices, decoded
 * and resized sizes, grid, tokens); --out writes pixel_values float32 [L, 1176],
 * --frames-out the sampled resized frames uint8 [n, H', W', 3], --decoded-out
 * the sampled frames before resizing uint8 [n, H, W, 3]; --from-memory reads the
 * file into memory first (the server's path).
 *   omnic video --plan TOTAL:FPS:W:H [--track a|b]
 * prints the sampling and size decisions for a hypothetical video (no file). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/npy.h"
#include "media/video.h"
#include "media/video_internal.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic video FILE [-m DIR] [--track a|b] [--frames-out F.npy] [--decoded-out F.npy] [--out F.npy]\n"
               "  --track a: at most %d frames (Think-32B, default); b: %d (Omni-8B)\n"
               "  -m DIR: read DIR/preprocessor_config.json for the normalisation constants\n"
               "       omnic video --plan TOTAL:FPS:W:H [--track a|b]   (sampling and size only)\n",
            OMNIC_VIDEO_MAX_FRAMES_A, OMNIC_VIDEO_MAX_FRAMES_B);
}

static int plan(const char *spec, int max_frames) {
    long long total;
    double fps;
    int w, h, n, rh, rw;
    char tail;
    if (sscanf(spec, "%lld:%lf:%d:%d%c", &total, &fps, &w, &h, &tail) != 4 || total < 1 || total > (1LL << 40)) {
        fprintf(stderr, "omnic video: --plan: want TOTAL:FPS:W:H, got '%s'\n", spec);
        return 2;
    }
    if (video_frame_count(total, fps, max_frames, "--plan", &n)) return cli_fail();
    if (video_smart_resize(h, w, 28, OMNIC_VIDEO_MIN_PIXELS, OMNIC_VIDEO_MAX_PIXELS, &rh, &rw)) return cli_fail();
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return 1;
    video_frame_indices(total, n, idx);
    printf("{\"n\":%d,\"indices\":[", n);
    for (int i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)idx[i]);
    printf("],\"width\":%d,\"height\":%d,\"tokens\":%d}\n", rw, rh, n / 2 * (rh / 28) * (rw / 28));
    free(idx);
    return 0;
}

static int read_all(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) { uint8_t *nb = realloc(b, cap *= 2); if (!nb) { free(b); b = NULL; } else b = nb; }
    }
    fclose(f);
    if (!b) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", path);
    *buf = b;
    *len = n;
    return 0;
}

static int write_u8(const char *path, const uint8_t *data, int n, int h, int w) {
    int64_t shape[4] = {n, h, w, 3};
    return npy_write(path, "|u1", data, 4, shape);
}

int cmd_video(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *frames_out = NULL, *decoded_out = NULL, *track = "a", *plan_spec = NULL;
    int from_memory = 0;
    static const struct option opts[] = {
        {"model", 1, 0, 'm'}, {"track", 1, 0, 'T'}, {"frames-out", 1, 0, 'F'}, {"decoded-out", 1, 0, 'D'},
        {"out", 1, 0, 'o'}, {"plan", 1, 0, 'P'}, {"from-memory", 0, 0, 'M'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'T': track = optarg; break;
        case 'F': frames_out = optarg; break;
        case 'D': decoded_out = optarg; break;
        case 'o': out = optarg; break;
        case 'P': plan_spec = optarg; break;
        case 'M': from_memory = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int max_frames;
    if (!strcmp(track, "a")) max_frames = OMNIC_VIDEO_MAX_FRAMES_A;
    else if (!strcmp(track, "b")) max_frames = OMNIC_VIDEO_MAX_FRAMES_B;
    else { fprintf(stderr, "omnic video: --track: want a or b, got '%s'\n", track); return 2; }
    if (plan_spec) return optind == argc ? plan(plan_spec, max_frames) : (usage(stderr), 2);
    if (optind != argc - 1) { usage(stderr); return 2; }
    const char *path = argv[optind];
    vision_preproc pp;
    if (dir ? vision_preproc_load(dir, &pp) : (vision_preproc_default(&pp), 0)) return cli_fail();

    video_clip c;
    uint8_t *mem = NULL;
    size_t mem_len = 0;
    if (from_memory && read_all(path, &mem, &mem_len)) return cli_fail();
    int e = mem ? video_load(mem, mem_len, NULL, path, max_frames, decoded_out != NULL, &c)
                : video_load(NULL, 0, path, path, max_frames, decoded_out != NULL, &c);
    free(mem);
    if (e) return cli_fail();
    int rc = 1, grid[3];
    float *px = NULL;
    json_t *j = NULL;
    if (video_patchify(&pp, c.frames, c.n, c.h, c.w, &px, grid)) { cli_fail(); goto done; }
    const int64_t L = (int64_t)grid[0] * grid[1] * grid[2];
    const int cols = 3 * pp.temporal * pp.patch * pp.patch;
    j = json_object();
    json_t *idx = json_array();
    for (int i = 0; i < c.n; i++) json_array_append_new(idx, json_integer(c.idx[i]));
    json_object_set_new(j, "file", json_string(path));
    json_object_set_new(j, "total_frames", json_integer(c.total));
    json_object_set_new(j, "fps", json_real(c.fps));
    json_object_set_new(j, "n", json_integer(c.n));
    json_object_set_new(j, "indices", idx);
    json_object_set_new(j, "src_width", json_integer(c.src_w));
    json_object_set_new(j, "src_height", json_integer(c.src_h));
    json_object_set_new(j, "width", json_integer(c.w));
    json_object_set_new(j, "height", json_integer(c.h));
    json_object_set_new(j, "grid", json_pack("[iii]", grid[0], grid[1], grid[2]));
    json_object_set_new(j, "tokens", json_integer(L / (pp.merge * pp.merge)));
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) { fprintf(stderr, "omnic video: out of memory\n"); goto done; }
    printf("%s\n", s);
    free(s);
    if (out) {
        int64_t shape[2] = {L, cols};
        if (npy_write(out, "<f4", px, 2, shape)) { cli_fail(); goto done; }
    }
    if (frames_out && write_u8(frames_out, c.frames, c.n, c.h, c.w)) { cli_fail(); goto done; }
    if (decoded_out && write_u8(decoded_out, c.decoded, c.n, c.src_h, c.src_w)) { cli_fail(); goto done; }
    rc = 0;
done:
    json_decref(j);
    free(px);
    video_clip_free(&c);
    return rc;
}
