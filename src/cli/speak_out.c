/* speak_out.c - answer tokens -> speech units -> vocoder -> audio file. */
#include "cli/speak_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "formats/npy.h"
#include "formats/wav.h"
#include "media/audio_encode.h"
#include "media/audio_info.h"
#include "models/vocoder.h"
#include "text/speech_units.h"

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
    if (!omnic_audio_format_known(ext)) {
        fprintf(stderr, "omnic: %s: unknown audio format '.%s' (wav, pcm, mp3, flac, opus, ogg, aac, npy)\n", out, ext);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (omnic_audio_encode(y, n, VOCODER_SR, ext, &buf, &len, NULL)) return cli_fail();
    FILE *f = fopen(out, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    free(buf);
    if (!ok) {
        fprintf(stderr, "omnic: %s: cannot write\n", out);
        return 1;
    }
    return 0;
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
    speech_unit_map um;
    if (speech_unit_map_from_tokenizer(&um, tok)) {
        fprintf(stderr, "omnic: this model has no speech unit tokens (<|audio0000|>): it cannot speak\n");
        return 1;
    }
    int32_t *units = NULL;
    int nu = 0, dropped = 0;
    int e = speech_units_from_ids(&um, ids, n, &units, &nu, &dropped);
    speech_unit_map_free(&um);
    if (e) return cli_fail();
    /* the speaker info the answer carries (api.md 8.2.2 step 3) picks the preset voice
     * when none is given */
    char *text = NULL;
    size_t tl = 0;
    speech_info info = {0};
    if (omnic_detokenize(tok, ids, n, 0, &text, &tl) == 0) {
        speech_parse *sp = speech_parse_new();
        const speech_result *r;
        if (sp && !speech_parse_feed(sp, text, tl) && !speech_parse_finish(sp, &r)) info = r->info;
        speech_parse_free(sp);
        free(text);
    }
    const char *why = speech_units_check(units, nu);
    if (why) {
        fprintf(stderr, "omnic: no speech to synthesize: %s (%d unit(s) in the answer)\n", why, nu);
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
        const char *names[256];
        int nn = vocoder_num_speakers(v) < 256 ? vocoder_num_speakers(v) : 256, na = 0;
        for (int i = 0; i < nn; i++)
            if (vocoder_speaker_name(v, i)) names[na++] = vocoder_speaker_name(v, i);
        speech_voice ch;
        speech_choose_voice(&info, SPEECH_RULE_CONTENT, 0, 0, 42, names, na, &ch);
        const char *want = voice ? voice : ch.preset ? ch.preset : SPEECH_DEFAULT_VOICE;
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
