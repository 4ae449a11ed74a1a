/* speak_out.c - answer tokens -> speech units -> vocoder -> audio file. */
#include "cli/speak_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "formats/npy.h"
#include "formats/wav.h"
#include "media/audio_info.h"
#include "models/vocoder.h"

static const char *ext_of(const char *p) {
    const char *d = strrchr(p, '.');
    return d ? d + 1 : "";
}

static int write_audio(const char *out, const float *y, int64_t n) {
    const char *ext = ext_of(out);
    if (!strcmp(ext, "npy")) {
        int64_t shape[1] = {n};
        return npy_write(out, "<f4", y, 1, shape) ? cli_fail() : 0;
    }
    if (!strcmp(ext, "wav")) return wav_write_pcm16(out, y, n, VOCODER_SR) ? cli_fail() : 0;
    fprintf(stderr, "omnic: %s: unsupported output format '.%s' (SPEAK_FORMATS_PENDING)\n", out, ext);
    return 1;
}

static int read_file(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = sz > 0 ? malloc((size_t)sz) : NULL;
    *len = *buf ? fread(*buf, 1, (size_t)sz, f) : 0;
    fclose(f);
    return *buf && *len == (size_t)sz ? 0 : -1;
}

int speak_answer(omnic_model *m, const omnic_tokenizer *tok, const char *dir, const int32_t *ids, size_t n,
                 const char *voice, const char *ref_audio, const char *out) {
    (void)m;
    int32_t base = omnic_token_id(tok, "<|audio0000|>");
    if (base < 0) {
        fprintf(stderr, "omnic: this model has no speech unit tokens (<|audio0000|>): it cannot speak\n");
        return 1;
    }
    int32_t *units = malloc((n ? n : 1) * sizeof *units);
    if (!units) return 1;
    int nu = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= base && ids[i] < base + 6561) units[nu++] = ids[i] - base;
    /* the speaker info the answer carries picks the preset voice if none is given */
    char *text = NULL;
    size_t tl = 0;
    char info_voice[32] = "";
    if (!voice && omnic_detokenize(tok, ids, n, 0, &text, &tl) == 0) {
        /* SPEAKER_INFO_PENDING */
        free(text);
    }
    if (nu < 3) {
        fprintf(stderr, "omnic: the answer holds %d speech unit(s): no speech to synthesize (at least 3 needed)\n", nu);
        free(units);
        return 1;
    }
    omnic_vocoder *v = NULL;
    float spk[1024];
    int rc = 1, have_spk = 0;
    if (ref_audio) { /* zero-shot, falling back to the preset voice (api.md 8.2.2 step 4) */
        uint8_t *buf = NULL;
        size_t len = 0;
        float *ref = NULL;
        int64_t nr = 0;
        if (read_file(ref_audio, &buf, &len) || omnic_audio_decode_sr(buf, len, ref_audio, 600, VOCODER_SR, &ref, &nr) ||
            vocoder_open(dir, 1, NULL, 0, &v) || vocoder_spk_dim(v) > 1024 ||
            vocoder_speaker_from_audio(v, ref, nr, spk)) {
            fprintf(stderr, "omnic: voice cloning failed (%s); using the preset voice\n", omnic_errmsg());
            vocoder_free(v);
            v = NULL;
        } else {
            have_spk = 1;
        }
        free(buf);
        free(ref);
    }
    if (!v) {
        if (vocoder_open(dir, 0, NULL, 0, &v)) {
            cli_fail();
            goto done;
        }
        const char *want = voice ? voice : info_voice[0] ? info_voice : "fkms";
        int idx = 0;
        if (vocoder_find_speaker(v, want, &idx)) {
            if (voice) { cli_fail(); goto done; }
            idx = 0; /* no such preset in this archive: its first row */
        }
        if (vocoder_spk_dim(v) > 1024 || vocoder_preset(v, idx, spk)) { cli_fail(); goto done; }
        have_spk = 1;
        fprintf(stderr, "[voice %s]\n", vocoder_speaker_name(v, idx) ? vocoder_speaker_name(v, idx) : want);
    }
    if (!have_spk) goto done;
    float *y = malloc((size_t)nu * VOCODER_HOP * sizeof *y);
    if (!y) goto done;
    if (vocoder_synth(v, units, nu, spk, y)) {
        cli_fail();
        free(y);
        goto done;
    }
    rc = write_audio(out, y, (int64_t)nu * VOCODER_HOP);
    if (!rc) fprintf(stderr, "[speech: %d units, %.2f s -> %s]\n", nu, nu / 25.0, out);
    free(y);
done:
    vocoder_free(v);
    free(units);
    return rc;
}
