/* cmd_audio.c - `omnic audio`: decode an audio (or video) file to the 16 kHz mono
 * model signal (audio.md §2) and optionally compute the encoders' log-mel
 * features (§3, §5.2).
 *
 *   omnic audio F [--max-seconds S] [--memory] [--out pcm.npy]
 *                 [--mel whisper|s3 --mel-out F.npy]
 *
 * Prints one JSON line: file, container, codec, sample_rate, channels,
 * source_samples (per channel, at the source rate), samples (at 16 kHz),
 * duration (s), continuous_rows and discrete_codes (the §3.3 / §5.5 counts), and
 * with --mel the output shape, the chunks and the time taken.
 * --out: float32 [samples]. --mel whisper: float32 [chunks, 128, 3000], one per
 * 30 s chunk (§2.3). --mel s3: float32 [128, T]; for more than 80 s the discrete
 * chunks of §2.3 (tail rule) are computed independently (each with its own
 * maximum) and concatenated along time, [128, T_0 + T_1 + ...], the JSON line
 * listing each chunk's start, samples and frames. --memory decodes from a
 * buffer in memory (the server's path) instead of the file. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/npy.h"
#include "media/audio.h"
#include "media/audio_info.h"
#include "models/mel.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic audio FILE [--max-seconds S] [--memory] [--out pcm.npy]\n"
               "                   [--mel whisper|s3 --mel-out F.npy]\n");
}

static int read_all(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) { fclose(f); return omnic_err(OMNIC_ENOMEM, "%s: out of memory", path); }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(b, cap *= 2);
        if (!nb) free(b);
        b = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return omnic_err(OMNIC_EIO, "%s: read error", path); }
    *buf = b;
    *len = n;
    return 0;
}

/* Whisper features of every 30 s chunk: [chunks][128][3000]. */
static int mel_whisper_all(const float *x, int64_t n, float **out, int64_t *chunks) {
    int64_t c = (n + MEL_WHISPER_SAMPLES - 1) / MEL_WHISPER_SAMPLES;
    size_t per = (size_t)128 * MEL_WHISPER_FRAMES;
    float *o = malloc(sizeof *o * per * (size_t)c);
    if (!o) return omnic_err(OMNIC_ENOMEM, "log-mel: out of memory");
    for (int64_t i = 0; i < c; i++) {
        int64_t s = i * MEL_WHISPER_SAMPLES, len = n - s < MEL_WHISPER_SAMPLES ? n - s : MEL_WHISPER_SAMPLES;
        int rc = mel_whisper_chunk(x + s, (int)len, o + per * (size_t)i);
        if (rc) { free(o); return rc; }
    }
    *out = o;
    *chunks = c;
    return 0;
}

/* S3 features of the discrete chunks, concatenated along time: [128][sum T]. */
static int mel_s3_all(const float *x, int64_t n, float **out, int64_t *frames, json_t *jchunks) {
    int nc = omnic_audio_s3_chunks(n, NULL, 0);
    int64_t(*ch)[2] = malloc(sizeof *ch * (size_t)nc);
    float **parts = calloc((size_t)nc, sizeof *parts);
    int *ts = calloc((size_t)nc, sizeof *ts);
    int rc = 0;
    if (!ch || !parts || !ts) { rc = omnic_err(OMNIC_ENOMEM, "log-mel: out of memory"); goto done; }
    omnic_audio_s3_chunks(n, ch, nc);
    int64_t total = 0;
    for (int i = 0; i < nc; i++) {
        float pad[400] = {0};
        const float *src = x + ch[i][0];
        int len = (int)ch[i][1];
        if (len < 400) { /* §2.3: short discrete chunks are zero-padded to 400 */
            memcpy(pad, src, sizeof *pad * (size_t)len);
            src = pad;
            len = 400;
        }
        if ((rc = mel_s3(src, len, &parts[i], &ts[i]))) goto done;
        total += ts[i];
        json_t *j = json_object();
        json_object_set_new(j, "start", json_integer(ch[i][0]));
        json_object_set_new(j, "samples", json_integer(ch[i][1]));
        json_object_set_new(j, "frames", json_integer(ts[i]));
        json_array_append_new(jchunks, j);
    }
    float *o = malloc(sizeof *o * 128 * (size_t)(total > 0 ? total : 1));
    if (!o) { rc = omnic_err(OMNIC_ENOMEM, "log-mel: out of memory"); goto done; }
    for (int b = 0; b < 128; b++) {
        int64_t at = 0;
        for (int i = 0; i < nc; i++) {
            memcpy(o + (size_t)b * total + at, parts[i] + (size_t)b * ts[i], sizeof *o * (size_t)ts[i]);
            at += ts[i];
        }
    }
    *out = o;
    *frames = total;
done:
    for (int i = 0; parts && i < nc; i++) free(parts[i]);
    free(parts);
    free(ts);
    free(ch);
    return rc;
}

int cmd_audio(int argc, char **argv) {
    const char *file = NULL, *out = NULL, *mel = NULL, *mel_out = NULL;
    double max_s = 0;
    int memory = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--max-seconds") && more) {
            if (cli_parse_float(a, argv[++i], &max_s)) return 2;
            if (max_s <= 0) { fprintf(stderr, "omnic audio: --max-seconds must be > 0\n"); return 2; }
        } else if (!strcmp(a, "--out") && more) out = argv[++i];
        else if (!strcmp(a, "--mel") && more) mel = argv[++i];
        else if (!strcmp(a, "--mel-out") && more) mel_out = argv[++i];
        else if (!strcmp(a, "--memory")) memory = 1;
        else if (a[0] == '-' && a[1]) { usage(stderr); return 2; }
        else if (!file) file = a;
        else { usage(stderr); return 2; }
    }
    if (!file) { usage(stderr); return 2; }
    if (mel && strcmp(mel, "whisper") && strcmp(mel, "s3")) {
        fprintf(stderr, "omnic audio: --mel: want whisper or s3, not '%s'\n", mel);
        return 2;
    }
    if (!mel != !mel_out) { fprintf(stderr, "omnic audio: --mel and --mel-out go together\n"); return 2; }

    float *pcm = NULL, *feat = NULL;
    int64_t n = 0;
    omnic_audio_info info;
    int rc;
    if (memory) {
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = read_all(file, &buf, &len);
        if (!rc) rc = omnic_audio_decode_info(buf, len, file, max_s, &pcm, &n, &info);
        free(buf);
    } else {
        rc = omnic_audio_load_info(file, max_s, &pcm, &n, &info);
    }
    if (rc) return cli_fail();

    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(file));
    json_object_set_new(j, "container", json_string(info.container));
    json_object_set_new(j, "codec", json_string(info.codec));
    json_object_set_new(j, "sample_rate", json_integer(info.sample_rate));
    json_object_set_new(j, "channels", json_integer(info.channels));
    json_object_set_new(j, "source_samples", json_integer(info.source_samples));
    json_object_set_new(j, "samples", json_integer(n));
    json_object_set_new(j, "duration", json_real((double)n / OMNIC_AUDIO_SR));
    json_object_set_new(j, "continuous_rows", json_integer(omnic_audio_continuous_rows(n)));
    json_object_set_new(j, "discrete_codes", json_integer(omnic_audio_discrete_codes(n)));
    int ret = 1;
    if (out) {
        int64_t shape[1] = {n};
        if (npy_write(out, "<f4", pcm, 1, shape)) { cli_fail(); goto done; }
    }
    if (mel) {
        double t0 = cli_now_ms(), ms;
        json_t *shape = json_array();
        json_object_set_new(j, "mel", json_string(mel));
        if (!strcmp(mel, "whisper")) {
            int64_t c = 0;
            if (mel_whisper_all(pcm, n, &feat, &c)) { json_decref(shape); cli_fail(); goto done; }
            ms = cli_now_ms() - t0;
            int64_t sh[3] = {c, 128, MEL_WHISPER_FRAMES};
            if (npy_write(mel_out, "<f4", feat, 3, sh)) { json_decref(shape); cli_fail(); goto done; }
            for (int i = 0; i < 3; i++) json_array_append_new(shape, json_integer(sh[i]));
        } else {
            json_t *jc = json_array();
            int64_t t = 0;
            if (mel_s3_all(pcm, n, &feat, &t, jc)) { json_decref(jc); json_decref(shape); cli_fail(); goto done; }
            ms = cli_now_ms() - t0;
            json_object_set_new(j, "s3_chunks", jc);
            int64_t sh[2] = {128, t};
            if (npy_write(mel_out, "<f4", feat, 2, sh)) { json_decref(shape); cli_fail(); goto done; }
            for (int i = 0; i < 2; i++) json_array_append_new(shape, json_integer(sh[i]));
        }
        json_object_set_new(j, "mel_shape", shape);
        json_object_set_new(j, "mel_ms", json_real(ms));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) { printf("%s\n", s); free(s); }
    ret = 0;
done:
    json_decref(j);
    free(feat);
    free(pcm);
    return ret;
}
