/* cmd_image.c - `omnic image`: decode, resize and patchify one image exactly as
 * the vision path does (vision.md §1.1-1.5); a conformance/inspection tool.
 *
 *   omnic image F [--max-pixels N] [--resize WxH | --smart [-m MODEL_DIR]] [--patches]
 *               [--out F.npy]
 *
 * Prints one JSON line: {"format", "width", "height"} of the decoded image, plus
 * "resized": [W, H] when resized, and "grid": [1, gh, gw], "tokens" (merged tokens)
 * with --smart/--patches. --out writes uint8 RGB [H, W, 3] (decoded, or resized),
 * or with --patches the float32 pixel_values [gh*gw, 3*2*14*14]. --patches implies
 * --smart; -m reads MODEL_DIR/preprocessor_config.json (else the defaults). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "formats/npy.h"
#include "media/image.h"
#include "media/image_format.h"
#include "models/vision_preproc.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic image FILE [--max-pixels N] [--resize WxH | --smart [-m MODEL_DIR]] [--patches]\n"
               "                  [--out F.npy]\n");
}

static const char *sniff_file(const char *path) {
    uint8_t head[16];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return omnic_image_sniff(head, n);
}

static int write_rgb(const char *out, const omnic_image *im) {
    int64_t shape[3] = {im->h, im->w, 3};
    return npy_write(out, "|u1", im->rgb, 3, shape) ? cli_fail() : 0;
}

int cmd_image(int argc, char **argv) {
    static const struct option opts[] = {
        {"max-pixels", required_argument, 0, 'x'}, {"resize", required_argument, 0, 'r'},
        {"smart", no_argument, 0, 's'},           {"model", required_argument, 0, 'm'},
        {"patches", no_argument, 0, 'p'},         {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *out = NULL, *model = NULL;
    long max_pixels = 0;
    int rw = 0, rh = 0, smart = 0, patches = 0, c;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'x':
            if (cli_parse_int("--max-pixels", optarg, 1, 1L << 40, &max_pixels)) return 2;
            break;
        case 'r': {
            char tail;
            if (sscanf(optarg, "%dx%d%c", &rw, &rh, &tail) != 2 || rw < 1 || rh < 1 || rw > 65535 || rh > 65535) {
                fprintf(stderr, "omnic image: --resize wants WxH (1..65535), got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 's': smart = 1; break;
        case 'm': model = optarg; break;
        case 'p': patches = 1; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) { usage(stderr); return 2; }
    if (patches) smart = 1;
    if (rw && smart) {
        fprintf(stderr, "omnic image: --resize and --smart/--patches exclude each other\n");
        return 2;
    }
    if (model && !smart) {
        fprintf(stderr, "omnic image: -m only applies with --smart or --patches\n");
        return 2;
    }
    const char *path = argv[optind];
    vision_preproc pp;
    if (vision_preproc_load(model, &pp)) return cli_fail();
    omnic_image img = {0}, rs = {0};
    float *pix = NULL;
    int grid[3] = {0, 0, 0}, rc = 1;
    if (omnic_image_load(path, max_pixels, &img)) return cli_fail();
    const char *fmt = sniff_file(path);
    if (rw) {
        if (omnic_image_resize_bicubic(&img, rw, rh, &rs)) { rc = cli_fail(); goto done; }
    } else if (smart) {
        if (vision_image_patches(&pp, &img, &pix, grid, &rs)) {
            fprintf(stderr, "omnic: %s: %s\n", path, omnic_errmsg());
            goto done;
        }
    }
    printf("{\"format\":\"%s\",\"width\":%d,\"height\":%d", fmt ? fmt : "unknown", img.w, img.h);
    if (rs.rgb) printf(",\"resized\":[%d,%d]", rs.w, rs.h);
    if (smart) {
        int m = pp.merge;
        printf(",\"grid\":[%d,%d,%d],\"tokens\":%d", grid[0], grid[1], grid[2], (grid[1] / m) * (grid[2] / m));
    }
    printf("}\n");
    fflush(stdout);
    rc = 0;
    if (out) {
        if (patches) {
            int64_t shape[2] = {(int64_t)grid[1] * grid[2], 3 * pp.temporal * pp.patch * pp.patch};
            if (npy_write(out, "<f4", pix, 2, shape)) rc = cli_fail();
        } else {
            rc = write_rgb(out, rs.rgb ? &rs : &img);
        }
    }
done:
    free(pix);
    omnic_image_free(&img);
    omnic_image_free(&rs);
    return rc;
}
