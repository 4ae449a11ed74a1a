/* wav.c - RIFF/WAVE read (mono mix) and 16-bit PCM write (see wav.h). */
#include "formats/wav.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint16_t r16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t r32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

int wav_parse(const uint8_t *b, size_t len, const char *name, float **pcm, int64_t *n, int *sr) {
    *pcm = NULL;
    *n = 0;
    if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4))
        return omnic_err(OMNIC_EFORMAT, "%s: not a RIFF/WAVE file", name);
    size_t p = 12;
    int fmt = -1, ch = 0, bits = 0, rate = 0;
    const uint8_t *data = NULL;
    size_t dlen = 0;
    while (len - p >= 8) {
        uint32_t cl = r32(b + p + 4);
        const uint8_t *c = b + p + 8;
        size_t avail = len - p - 8;
        if (!memcmp(b + p, "fmt ", 4)) {
            if (cl < 16 || cl > avail) return omnic_err(OMNIC_EFORMAT, "%s: bad WAV fmt chunk", name);
            fmt = r16(c);
            ch = r16(c + 2);
            rate = (int)r32(c + 4);
            bits = r16(c + 14);
            if (fmt == 0xFFFE) {
                if (cl < 40) return omnic_err(OMNIC_EFORMAT, "%s: bad WAVE_FORMAT_EXTENSIBLE chunk", name);
                fmt = r16(c + 24);
            }
        } else if (!memcmp(b + p, "data", 4)) {
            data = c;
            dlen = cl <= avail ? cl : avail; /* tolerate a truncated last chunk / streaming sizes */
            break;
        }
        if (cl > avail) break;
        p += 8 + (size_t)cl + (cl & 1);
    }
    if (fmt < 0) return omnic_err(OMNIC_EFORMAT, "%s: WAV has no fmt chunk", name);
    if (!data) return omnic_err(OMNIC_EFORMAT, "%s: WAV has no data chunk", name);
    if (ch < 1 || ch > 64 || rate < 1000 || rate > 768000)
        return omnic_err(OMNIC_EINVAL, "%s: WAV with %d channels at %d Hz is not accepted", name, ch, rate);
    int bps = bits / 8;
    int ok = (fmt == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) || (fmt == 3 && (bits == 32 || bits == 64));
    if (!ok) return omnic_err(OMNIC_EUNSUP, "%s: WAV format %d with %d bits is not supported", name, fmt, bits);
    size_t frame = (size_t)bps * ch;
    int64_t nf = (int64_t)(dlen / frame);
    float *o = malloc((size_t)(nf ? nf : 1) * sizeof(float));
    if (!o) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", name);
    for (int64_t i = 0; i < nf; i++) {
        double acc = 0;
        for (int c = 0; c < ch; c++) {
            const uint8_t *s = data + (size_t)i * frame + (size_t)c * bps;
            double v;
            if (fmt == 3) {
                if (bits == 32) { float f; memcpy(&f, s, 4); v = f; }
                else { double d; memcpy(&d, s, 8); v = d; }
            } else if (bits == 8) v = (s[0] - 128) / 128.0;
            else if (bits == 16) v = (int16_t)r16(s) / 32768.0;
            else if (bits == 24) v = (int32_t)((uint32_t)s[0] << 8 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 24) / 2147483648.0;
            else v = (int32_t)r32(s) / 2147483648.0;
            acc += v;
        }
        o[i] = (float)(acc / ch);
    }
    *pcm = o;
    *n = nf;
    *sr = rate;
    return 0;
}

int wav_read(const char *path, float **pcm, int64_t *n, int *sr) {
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || len > (1L << 31)) {
        fclose(f);
        return omnic_err(OMNIC_EIO, "%s: cannot read (size)", path);
    }
    uint8_t *b = malloc((size_t)len + 1);
    if (!b) {
        fclose(f);
        return omnic_err(OMNIC_ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(b, 1, (size_t)len, f);
    fclose(f);
    int rc = wav_parse(b, got, path, pcm, n, sr);
    free(b);
    return rc;
}

int16_t wav_f32_to_i16(float y) {
    if (!(y >= -1.f)) y = y != y ? 0.f : -1.f;
    if (y > 1.f) y = 1.f;
    float s = y * 32767.0f;
    return (int16_t)s; /* C conversion truncates toward zero */
}

static void w32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

int wav_write_pcm16(const char *path, const float *y, int64_t n, int sr) {
    if (n < 0 || n > 0x7FFFFFF0 / 2) return omnic_err(OMNIC_EINVAL, "%s: %lld samples do not fit a WAV file", path, (long long)n);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    w32(h + 4, (uint32_t)(36 + 2 * n));
    memcpy(h + 8, "WAVEfmt ", 8);
    w32(h + 16, 16);
    w16(h + 20, 1);
    w16(h + 22, 1);
    w32(h + 24, (uint32_t)sr);
    w32(h + 28, (uint32_t)sr * 2);
    w16(h + 32, 2);
    w16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    w32(h + 40, (uint32_t)(2 * n));
    int ok = fwrite(h, 1, 44, f) == 44;
    uint8_t buf[4096];
    for (int64_t i = 0; ok && i < n;) {
        int k = 0;
        for (; k < 2048 && i < n; k++, i++) w16(buf + 2 * k, (uint16_t)wav_f32_to_i16(y[i]));
        ok = fwrite(buf, 2, (size_t)k, f) == (size_t)k;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return omnic_err(OMNIC_EIO, "%s: write failed", path);
    }
    return 0;
}
