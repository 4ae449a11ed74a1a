/* cmd_encode_audio.c - `omnic encode-audio`: float samples (.npy, [n], [1,n] or
 * [n,1], f4/f8) to one of the speech response formats (media/audio_encode.h).
 *
 *   omnic encode-audio IN.npy --format wav|pcm|mp3|flac|opus|ogg|aac -o OUT
 *                      [--sr 24000] [--stream CHUNK]
 *
 * --stream CHUNK uses the streaming encoder, fed CHUNK samples at a time (the
 * server's path for streamed speech). Prints one JSON line: format, mime,
 * samples, sample_rate, bytes, chunks (streaming: outputs that carried bytes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_encode_audio.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/npy.h"
#include "media/audio_encode.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic encode-audio IN.npy --format wav|pcm|mp3|flac|opus|ogg|aac -o OUT\n"
               "                          [--sr 24000] [--stream CHUNK]\n");
}

static int load_samples(const char *path, float **x, int64_t *n) {
    npy_array a;
    int rc = npy_read(path, &a);
    if (rc) return rc;
    int ok_shape = a.ndim == 1 || (a.ndim == 2 && (a.shape[0] == 1 || a.shape[1] == 1));
    if (!ok_shape || (strcmp(a.descr, "<f4") && strcmp(a.descr, "<f8"))) {
        npy_free(&a);
        return omnic_err(OMNIC_EINVAL, "%s: expected float32/float64 samples of shape [n] (or [1,n], [n,1])", path);
    }
    float *o = malloc(sizeof *o * (size_t)(a.n ? a.n : 1));
    if (!o) {
        npy_free(&a);
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory", path);
    }
    if (!strcmp(a.descr, "<f4")) memcpy(o, a.data, sizeof *o * (size_t)a.n);
    else for (int64_t i = 0; i < a.n; i++) o[i] = (float)((const double *)a.data)[i];
    *x = o;
    *n = a.n;
    npy_free(&a);
    return OMNIC_OK;
}

static int put(FILE *f, const uint8_t *b, size_t n, const char *path) {
    if (n && fwrite(b, 1, n, f) != n) return omnic_err(OMNIC_EIO, "%s: write error: %s", path, strerror(errno));
    return OMNIC_OK;
}

int cmd_encode_audio(int argc, char **argv) {
    const char *in = NULL, *format = NULL, *outp = NULL;
    long sr = 24000, chunk = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (i + 1 < argc && !strcmp(a, "--format")) format = argv[++i];
        else if (i + 1 < argc && (!strcmp(a, "-o") || !strcmp(a, "--out"))) outp = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--sr")) {
            if (cli_parse_int("--sr", argv[++i], 1, 1000000, &sr)) return 2;
        } else if (i + 1 < argc && !strcmp(a, "--stream")) {
            if (cli_parse_int("--stream", argv[++i], 1, 1L << 30, &chunk)) return 2;
        } else if (a[0] != '-' && !in) in = a;
        else { fprintf(stderr, "omnic encode-audio: unexpected argument '%s'\n", a); usage(stderr); return 2; }
    }
    if (!in || !format || !outp) { usage(stderr); return 2; }
    if (!omnic_audio_format_known(format)) {
        fprintf(stderr, "omnic encode-audio: unknown format '%s'\n", format);
        return 2;
    }
    float *x = NULL;
    int64_t n = 0;
    if (load_samples(in, &x, &n)) return cli_fail();

    int rc = OMNIC_OK;
    const char *mime = NULL;
    size_t total = 0;
    long chunks = 0;
    FILE *f = fopen(outp, "wb");
    if (!f) {
        free(x);
        omnic_err(OMNIC_EIO, "%s: cannot create: %s", outp, strerror(errno));
        return cli_fail();
    }
    if (!chunk) {
        uint8_t *b = NULL;
        size_t len = 0;
        rc = omnic_audio_encode(x, n, (int)sr, format, &b, &len, &mime);
        if (!rc) rc = put(f, b, len, outp);
        total = len;
        free(b);
    } else {
        audio_enc_stream *s = NULL;
        rc = audio_enc_stream_new(format, (int)sr, &s, &mime);
        const uint8_t *b;
        size_t len;
        for (int64_t i = 0; !rc && i < n; i += chunk) {
            int64_t m = n - i < chunk ? n - i : chunk;
            rc = audio_enc_stream_feed(s, x + i, m, &b, &len);
            if (!rc) rc = put(f, b, len, outp);
            if (!rc && len) { total += len; chunks++; }
        }
        if (!rc) rc = audio_enc_stream_finish(s, &b, &len);
        if (!rc) rc = put(f, b, len, outp);
        if (!rc && len) { total += len; chunks++; }
        audio_enc_stream_free(s);
    }
    if (fclose(f) && !rc) rc = omnic_err(OMNIC_EIO, "%s: write error", outp);
    free(x);
    if (rc) {
        remove(outp);
        return cli_fail();
    }
    printf("{\"format\": \"%s\", \"mime\": \"%s\", \"samples\": %lld, \"sample_rate\": %ld, \"bytes\": %zu, "
           "\"chunks\": %ld}\n", format, mime, (long long)n, sr, total, chunks);
    return 0;
}
