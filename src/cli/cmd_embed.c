/* cmd_embed.c - `omnic embed`: encode media to the rows the LLM sees (the
 * conformance interface of vision.md §2-4 and audio.md §3-5).
 *
 *   omnic embed -m DIR (--image F | --video F | --audio F) [--stream continuous|discrete]
 *               --out F.npy
 *
 * continuous: float32 [N, D_llm] projector rows, before the LLM's embedding
 * multiplier (several --image/--video: the rows of each, concatenated in order);
 * discrete: int32 TA-Tok codes [729] per image ([K, 729] for K images) or audio
 * units [N], without any vocabulary offset. Test inputs that skip decoding:
 * --rgb F.npy (uint8 [H, W, 3] decoded pixels) and --pixel-values F.npy
 * --grid T,H,W (float32 [L, 1176] ViT input). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/embed_audio.h"
#include "formats/npy.h"
#include "media/image.h"
#include "media/video.h"
#include "models/hcx.h"
#include "models/tatok.h"
#include "models/vision_preproc.h"
#include "models/vit.h"
#include "omnic.h"

#define MAX_INPUTS 64

enum { IN_IMAGE, IN_VIDEO, IN_RGB, IN_PIXELS };

typedef struct input {
    int kind;
    const char *path;
    int grid[3];    /* --pixel-values only */
} input;

static void usage(FILE *f) {
    fprintf(f,
            "usage: omnic embed -m DIR (--image F | --video F | --audio F) [--stream continuous|discrete]\n"
            "                   --out F.npy [-t THREADS]\n"
            "       (--image/--video repeat; test inputs: --rgb F.npy, --pixel-values F.npy --grid T,H,W)\n");
}

/* uint8 [H, W, 3] .npy -> image. */
static int load_rgb_npy(const char *path, omnic_image *img) {
    npy_array a;
    if (npy_read(path, &a)) return cli_fail();
    if (strcmp(a.descr, "|u1") || a.ndim != 3 || a.shape[2] != 3 || a.shape[0] < 1 || a.shape[1] < 1 ||
        a.shape[0] > 65535 || a.shape[1] > 65535) {
        fprintf(stderr, "omnic embed: --rgb %s: want a uint8 array [H, W, 3]\n", path);
        npy_free(&a);
        return 1;
    }
    img->h = (int)a.shape[0];
    img->w = (int)a.shape[1];
    img->rgb = a.data;
    return 0;
}

static int load_image(const input *in, omnic_image *img) {
    if (in->kind == IN_RGB) return load_rgb_npy(in->path, img);
    return omnic_image_load(in->path, 0, img) ? cli_fail() : 0;
}

static int embed_discrete(omnic_model *m, const input *ins, int n_in, const char *out) {
    tatok_model *t;
    if (tatok_load(m, &t)) return cli_fail();
    int32_t *codes = malloc((size_t)n_in * TATOK_CODES * sizeof *codes);
    int rc = 1;
    if (!codes) { fprintf(stderr, "omnic embed: out of memory\n"); goto done; }
    for (int i = 0; i < n_in; i++) {
        if (ins[i].kind != IN_IMAGE && ins[i].kind != IN_RGB) {
            fprintf(stderr, "omnic embed: %s: only images have a discrete stream\n", ins[i].path);
            goto done;
        }
        omnic_image img = {0};
        if (load_image(&ins[i], &img)) goto done;
        int e = tatok_encode(t, m->pool, &img, codes + (size_t)i * TATOK_CODES);
        omnic_image_free(&img);
        if (e) { fprintf(stderr, "omnic: %s: %s\n", ins[i].path, omnic_errmsg()); goto done; }
    }
    int64_t shape[2] = {n_in, TATOK_CODES};
    if (n_in == 1 ? npy_write(out, "<i4", codes, 1, shape + 1) : npy_write(out, "<i4", codes, 2, shape)) {
        cli_fail();
        goto done;
    }
    rc = 0;
done:
    free(codes);
    tatok_free(t);
    return rc;
}

/* Append rows x [L][cols] to the growing pixel buffer. */
static int append_pixels(float **all, size_t *n_all, const float *x, size_t n) {
    float *p = realloc(*all, (*n_all + n) * sizeof *p);
    if (!p) { fprintf(stderr, "omnic embed: out of memory for pixel values\n"); return 1; }
    memcpy(p + *n_all, x, n * sizeof *p);
    *all = p;
    *n_all += n;
    return 0;
}

static int embed_continuous(omnic_model *m, const char *dir, const input *ins, int n_in, const char *out) {
    const omnic_model_info *I = omnic_model_get_info(m);
    vision_preproc pp;
    if (vision_preproc_load(dir, &pp)) return cli_fail();
    const int cols = 3 * pp.temporal * pp.patch * pp.patch;
    int max_frames = (I->has_discrete_vision || I->has_audio) ? OMNIC_VIDEO_MAX_FRAMES_B : OMNIC_VIDEO_MAX_FRAMES_A;
    int (*grids)[3] = calloc((size_t)n_in, sizeof *grids);
    float *all = NULL, *rows = NULL;
    size_t n_all = 0;
    vit_model *v = NULL;
    int rc = 1, n_rows = 0;
    if (!grids) goto done;
    for (int i = 0; i < n_in; i++) {
        float *px = NULL;
        size_t L = 0;
        if (ins[i].kind == IN_PIXELS) {
            npy_array a;
            if (npy_read(ins[i].path, &a)) { cli_fail(); goto done; }
            memcpy(grids[i], ins[i].grid, sizeof grids[i]);
            L = (size_t)grids[i][0] * (size_t)grids[i][1] * (size_t)grids[i][2];
            if (strcmp(a.descr, "<f4") || a.ndim != 2 || a.shape[1] != cols || (size_t)a.shape[0] != L) {
                fprintf(stderr, "omnic embed: --pixel-values %s: want float32 [%zu, %d] for --grid %d,%d,%d\n",
                        ins[i].path, L, cols, grids[i][0], grids[i][1], grids[i][2]);
                npy_free(&a);
                goto done;
            }
            px = a.data;
        } else if (ins[i].kind == IN_VIDEO) {
            if (vision_video_patches_file(&pp, ins[i].path, max_frames, &px, grids[i])) { cli_fail(); goto done; }
            L = (size_t)grids[i][0] * (size_t)grids[i][1] * (size_t)grids[i][2];
        } else {
            omnic_image img = {0};
            if (load_image(&ins[i], &img)) goto done;
            int e = vision_image_patches(&pp, &img, &px, grids[i], NULL);
            omnic_image_free(&img);
            if (e) { fprintf(stderr, "omnic: %s: %s\n", ins[i].path, omnic_errmsg()); goto done; }
            L = (size_t)grids[i][0] * (size_t)grids[i][1] * (size_t)grids[i][2];
        }
        int e = append_pixels(&all, &n_all, px, L * (size_t)cols);
        free(px);
        if (e) goto done;
    }
    if (vit_load(m, &v)) { cli_fail(); goto done; }
    if (vit_encode(v, m->pool, all, (const int (*)[3])grids, n_in, &rows, &n_rows)) { cli_fail(); goto done; }
    int64_t shape[2] = {n_rows, vit_out_dim(v)};
    if (npy_write(out, "<f4", rows, 2, shape)) { cli_fail(); goto done; }
    rc = 0;
done:
    vit_free(v);
    free(rows);
    free(all);
    free(grids);
    return rc;
}

static int parse_grid(const char *s, int g[3]) {
    int32_t *ids;
    size_t n;
    if (cli_parse_ids("--grid", s, &ids, &n)) return 1;
    int bad = n != 3;
    for (size_t i = 0; i < n && !bad; i++) bad = ids[i] < 1 || ids[i] > 4096;
    if (!bad) { g[0] = ids[0]; g[1] = ids[1]; g[2] = ids[2]; }
    free(ids);
    if (bad || g[1] % 2 || g[2] % 2) {
        fprintf(stderr, "omnic embed: --grid: want T,H,W (patches; H and W even)\n");
        return 1;
    }
    return 0;
}

int cmd_embed(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *audio = NULL, *stream = "continuous";
    long threads = 0;
    input ins[MAX_INPUTS];
    int n_in = 0, pending_grid = -1;
    static const struct option opts[] = {
        {"model", 1, 0, 'm'}, {"image", 1, 0, 'I'}, {"video", 1, 0, 'V'}, {"audio", 1, 0, 'A'},
        {"rgb", 1, 0, 'R'}, {"pixel-values", 1, 0, 'P'}, {"grid", 1, 0, 'G'}, {"stream", 1, 0, 's'},
        {"out", 1, 0, 'o'}, {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:o:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'o': out = optarg; break;
        case 's': stream = optarg; break;
        case 'A': audio = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'I': case 'V': case 'R': case 'P':
            if (n_in == MAX_INPUTS) { fprintf(stderr, "omnic embed: at most %d inputs\n", MAX_INPUTS); return 2; }
            ins[n_in] = (input){o == 'I' ? IN_IMAGE : o == 'V' ? IN_VIDEO : o == 'R' ? IN_RGB : IN_PIXELS, optarg, {0, 0, 0}};
            if (o == 'P') pending_grid = n_in;
            n_in++;
            break;
        case 'G':
            if (pending_grid < 0) { fprintf(stderr, "omnic embed: --grid must follow --pixel-values\n"); return 2; }
            if (parse_grid(optarg, ins[pending_grid].grid)) return 2;
            pending_grid = -1;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || !out || (!n_in && !audio) || (n_in && audio)) {
        fprintf(stderr, "omnic embed: -m, --out and one kind of input (--image/--video or --audio) are required\n");
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < n_in; i++)
        if (ins[i].kind == IN_PIXELS && !ins[i].grid[0]) {
            fprintf(stderr, "omnic embed: --pixel-values %s needs --grid T,H,W\n", ins[i].path);
            return 2;
        }
    int discrete = !strcmp(stream, "discrete");
    if (!discrete && strcmp(stream, "continuous")) {
        fprintf(stderr, "omnic embed: --stream: want continuous or discrete, got '%s'\n", stream);
        return 2;
    }
    omnic_model *m;
    if (omnic_model_open(dir, (int)threads, &m)) return cli_fail();
    int rc;
    if (audio) rc = cmd_embed_audio(m, audio, discrete, out);
    else if (discrete) rc = embed_discrete(m, ins, n_in, out);
    else rc = embed_continuous(m, dir, ins, n_in, out);
    omnic_model_close(m);
    return rc;
}
