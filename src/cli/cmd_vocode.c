/* cmd_vocode.c - `omnic vocode`: speech units -> 24 kHz audio with the Omni
 * unit vocoder (audio.md §9-10). Conformance interface:
 *   omnic vocode -m DIR|F.mar --units F.npy|F.csv|1,2,3 [--voice NAME|INDEX | --ref-audio F]
 *                --out F.npy|F.wav [-t THREADS] [--timing]
 * .npy output: float32 [960*T] after the final tanh/clamp (before int16);
 * .wav output: 16-bit PCM mono 24 kHz (trunc(y*32767)). --ref-audio takes the
 * zero-shot archive and any audio file (decoded with FFmpeg, resampled to 24 kHz
 * from the original bytes) or a float32 24 kHz .npy. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/npy.h"
#include "formats/wav.h"
#include "media/audio.h"
#include "media/audio_info.h"
#include "models/vocoder.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic vocode -m DIR|FILE.mar --units F.npy|F.csv|u1,u2,... [--voice NAME|INDEX | --ref-audio F.wav|F.npy]\n"
               "                    --out F.npy|F.wav [-t THREADS] [--timing]\n");
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

/* Integers separated by commas / whitespace. */
static int parse_csv(const char *name, const char *s, int32_t **u, int *n) {
    size_t cap = 256, k = 0;
    int32_t *a = malloc(cap * sizeof *a);
    if (!a) return omnic_err(OMNIC_ENOMEM, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ',')) p++;
        if (!*p) break;
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || (*e && !isspace((unsigned char)*e) && *e != ','))
            { free(a); return omnic_err(OMNIC_EINVAL, "%s: unit %zu is not an integer", name, k); }
        if (v < -2147483647LL || v > 2147483647LL)
            { free(a); return omnic_err(OMNIC_EINVAL, "%s: unit %zu (%lld) is out of range", name, k, v); }
        if (k == cap) {
            int32_t *b = realloc(a, (cap *= 2) * sizeof *a);
            if (!b) { free(a); return omnic_err(OMNIC_ENOMEM, "out of memory"); }
            a = b;
        }
        a[k++] = (int32_t)v;
        p = e;
        if (k > (1u << 20)) { free(a); return omnic_err(OMNIC_EINVAL, "%s: too many units", name); }
    }
    *u = a;
    *n = (int)k;
    return 0;
}

static int load_units(const char *arg, int32_t **u, int *n) {
    *u = NULL;
    *n = 0;
    FILE *f = fopen(arg, "rb");
    if (!f) {
        if (ends_with(arg, ".npy") || ends_with(arg, ".csv")) return omnic_err(OMNIC_EIO, "%s: cannot open", arg);
        return parse_csv("--units", arg, u, n);
    }
    if (ends_with(arg, ".npy")) {
        fclose(f);
        npy_array a;
        int rc = npy_read(arg, &a);
        if (rc) return rc;
        int isi4 = !strcmp(a.descr, "<i4"), isi8 = !strcmp(a.descr, "<i8");
        if ((!isi4 && !isi8) || a.ndim != 1) {
            npy_free(&a);
            return omnic_err(OMNIC_EINVAL, "%s: units must be a 1-D int32 or int64 array", arg);
        }
        if (a.n > (1 << 20)) {
            npy_free(&a);
            return omnic_err(OMNIC_EINVAL, "%s: too many units", arg);
        }
        int32_t *o = malloc((size_t)(a.n ? a.n : 1) * sizeof *o);
        if (!o) { npy_free(&a); return omnic_err(OMNIC_ENOMEM, "out of memory"); }
        for (int64_t i = 0; i < a.n; i++) {
            int64_t v = isi4 ? ((int32_t *)a.data)[i] : ((int64_t *)a.data)[i];
            if (v < INT32_MIN || v > INT32_MAX) {
                free(o);
                npy_free(&a);
                return omnic_err(OMNIC_EINVAL, "%s: unit %lld at index %lld is out of range", arg, (long long)v, (long long)i);
            }
            o[i] = (int32_t)v;
        }
        *u = o;
        *n = (int)a.n;
        npy_free(&a);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || len > (64L << 20)) { fclose(f); return omnic_err(OMNIC_EINVAL, "%s: file too large", arg); }
    char *s = malloc((size_t)len + 1);
    if (!s) { fclose(f); return omnic_err(OMNIC_ENOMEM, "out of memory"); }
    size_t got = fread(s, 1, (size_t)len, f);
    fclose(f);
    s[got] = 0;
    int rc = parse_csv(arg, s, u, n);
    free(s);
    return rc;
}

/* Reference audio at 24 kHz: a WAV (resampled if needed) or a float32 .npy. */
static int load_ref(const char *path, float **pcm, int64_t *n) {
    if (ends_with(path, ".npy")) {
        npy_array a;
        int rc = npy_read(path, &a);
        if (rc) return rc;
        if (strcmp(a.descr, "<f4") || a.ndim != 1) {
            npy_free(&a);
            return omnic_err(OMNIC_EINVAL, "%s: reference audio .npy must be 1-D float32 at 24 kHz", path);
        }
        *pcm = a.data;
        *n = a.n;
        return 0;
    }
    /* any container, decoded and resampled to 24 kHz from the original bytes */
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = sz > 0 ? malloc((size_t)sz) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)sz, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)sz) {
        free(buf);
        return omnic_err(OMNIC_EIO, "%s: cannot read", path);
    }
    int rc = omnic_audio_decode_sr(buf, got, path, VOCODER_REF_MAX_SECONDS * 20, VOCODER_SR, pcm, n);
    free(buf);
    if (rc) return rc;
    return 0;
}

int cmd_vocode(int argc, char **argv) {
    const char *dir = NULL, *units_arg = NULL, *voice = NULL, *ref = NULL, *out = NULL;
    long threads = 0;
    int timing = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"units", 1, 0, 'u'}, {"voice", 1, 0, 'v'},
                                         {"ref-audio", 1, 0, 'r'}, {"out", 1, 0, 'o'}, {"threads", 1, 0, 't'},
                                         {"timing", 0, 0, 'T'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:u:v:r:o:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'u': units_arg = optarg; break;
        case 'v': voice = optarg; break;
        case 'r': ref = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (cli_parse_int("-t", optarg, 1, 1024, &threads)) return 2; break;
        case 'T': timing = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || !units_arg || !out || optind != argc) {
        fprintf(stderr, "omnic vocode: -m, --units and --out are required\n");
        usage(stderr);
        return 2;
    }
    if (voice && ref) {
        fprintf(stderr, "omnic vocode: --voice and --ref-audio exclude each other\n");
        return 2;
    }
    if (!ends_with(out, ".npy") && !ends_with(out, ".wav")) {
        fprintf(stderr, "omnic vocode: --out must end in .npy or .wav (other formats: not built yet)\n");
        return 2;
    }
    int32_t *units = NULL;
    int T = 0;
    if (load_units(units_arg, &units, &T)) return cli_fail();
    if (T < 1) {
        free(units);
        omnic_err(OMNIC_EINVAL, "%s: no units", units_arg);
        return cli_fail();
    }
    double t0 = cli_now_ms();
    omnic_vocoder *v = NULL;
    int is_mar = ends_with(dir, ".mar");
    if (vocoder_open(dir, is_mar ? -1 : (ref ? 1 : 0), NULL, (int)threads, &v)) {
        free(units);
        return cli_fail();
    }
    double t1 = cli_now_ms();
    int rc = 0;
    float *spk = calloc((size_t)vocoder_spk_dim(v), sizeof(float)), *y = NULL, *pcm = NULL;
    if (!spk) { rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto done; }
    for (int t = 0; t < T; t++)
        if (units[t] < 0 || units[t] >= vocoder_num_units(v)) {
            rc = omnic_err(OMNIC_EINVAL, "%s: unit %d at index %d is out of range 0..%d", units_arg, units[t], t, vocoder_num_units(v) - 1);
            goto done;
        }
    if (ref) {
        if (vocoder_is_finetune(v)) { rc = omnic_err(OMNIC_EINVAL, "%s: --ref-audio needs the zero-shot vocoder archive", vocoder_path(v)); goto done; }
        int64_t n;
        if ((rc = load_ref(ref, &pcm, &n))) goto done;
        if ((rc = vocoder_speaker_from_audio(v, pcm, n, spk))) goto done;
    } else {
        if (!vocoder_is_finetune(v)) { rc = omnic_err(OMNIC_EINVAL, "%s: the zero-shot vocoder needs --ref-audio", vocoder_path(v)); goto done; }
        int idx = 0;
        if (voice) {
            if ((rc = vocoder_find_speaker(v, voice, &idx))) goto done;
        } else if (vocoder_find_speaker(v, "fkms", &idx)) {
            omnic_err_clear();
            idx = 0;
        }
        if ((rc = vocoder_preset(v, idx, spk))) goto done;
    }
    y = malloc((size_t)T * VOCODER_HOP * sizeof(float));
    if (!y) { rc = omnic_err(OMNIC_ENOMEM, "out of memory"); goto done; }
    double t2 = cli_now_ms();
    if ((rc = vocoder_synth(v, units, T, spk, y))) goto done;
    double t3 = cli_now_ms();
    int64_t ns = (int64_t)T * VOCODER_HOP;
    if (ends_with(out, ".npy")) rc = npy_write(out, "<f4", y, 1, &ns);
    else rc = wav_write_pcm16(out, y, ns, VOCODER_SR);
    if (!rc && timing)
        fprintf(stderr, "vocode: load %.1f ms, synth %.1f ms for %.2f s of audio (real-time factor %.3f)\n", t1 - t0, t3 - t2,
                ns / (double)VOCODER_SR, (t3 - t2) / 1000.0 / (ns / (double)VOCODER_SR));
done:
    free(units);
    free(spk);
    free(y);
    free(pcm);
    vocoder_free(v);
    return rc ? cli_fail() : 0;
}
