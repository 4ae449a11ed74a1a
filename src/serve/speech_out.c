/* speech_out.c - speech in answers (api.md 8.2, 15.1): the units a chat answer
 * carries (in content, 8.2.2, or in an audio_synthesis call, 8.2.4) go through
 * the model folder's vocoder (preset voice, or the caller's voice from the last
 * input audio) and the requested encoder; the result is delivered inline
 * (base64 bytes, OpenAI's convention, default on /v1) or through the local media
 * store (a URL, OmniServe's shape, default on /a and /b when --media-dir is set).
 * Also the rendering used by POST /v1/audio/speech. */
#include "serve/speech_out.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/audio_encode.h"
#include "media/audio_info.h"
#include "models/vocoder.h"
#include "serve/base64.h"
#include "serve/media_store.h"
#include "text/speech_units.h"

/* The vocoders of one served model, opened on first use; one synthesis at a time. */
struct speech_state {
    pthread_mutex_t mu;
    int tried_ft, tried_zs;
    omnic_vocoder *ft, *zs;
    char err[256];
};

static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;

static struct speech_state *state_of(serve_model *m) {
    pthread_mutex_lock(&create_mu);
    if (!m->speech) {
        struct speech_state *st = calloc(1, sizeof *st);
        if (st) pthread_mutex_init(&st->mu, NULL);
        m->speech = st;
    }
    pthread_mutex_unlock(&create_mu);
    return m->speech;
}

void speech_state_free(serve_model *m) {
    struct speech_state *st = m->speech;
    if (!st) return;
    vocoder_free(st->ft);
    vocoder_free(st->zs);
    pthread_mutex_destroy(&st->mu);
    free(st);
    m->speech = NULL;
}

/* Under st->mu. */
static omnic_vocoder *get_vocoder(serve_model *m, struct speech_state *st, int zero_shot) {
    int *tried = zero_shot ? &st->tried_zs : &st->tried_ft;
    omnic_vocoder **v = zero_shot ? &st->zs : &st->ft;
    if (!*tried) {
        *tried = 1;
        if (vocoder_open(m->dir, zero_shot, NULL, 0, v)) {
            snprintf(st->err, sizeof st->err, "%s", omnic_errmsg());
            *v = NULL;
        }
    }
    return *v;
}

/* Units + voice -> encoded bytes. voice_req: a preset asked for by the request
 * (NULL: the choice from info); ref: a recording to clone. */
static int render(serve_model *m, const int32_t *units, int n, const speech_info *info, int rule, int force_ref,
                  const char *voice_req, const uint8_t *ref, size_t ref_len, const char *format, uint8_t **out,
                  size_t *len, const char **mime, char *voice_used, size_t vu_sz, api_err *e) {
    struct speech_state *st = state_of(m);
    if (!st) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    pthread_mutex_lock(&st->mu);
    int rc = -1;
    float *y = NULL, spk[1024];
    omnic_vocoder *v = get_vocoder(m, st, 0);
    if (!v) {
        api_errf(e, 400, "invalid_request_error", NULL, "this model cannot speak: %s", st->err);
        goto done;
    }
    const char *names[256];
    int na = 0;
    for (int i = 0; i < vocoder_num_speakers(v) && na < 256; i++)
        if (vocoder_speaker_name(v, i)) names[na++] = vocoder_speaker_name(v, i);
    speech_voice ch;
    speech_choose_voice(info, rule, force_ref, ref != NULL, (uint64_t)time(NULL), names, na, &ch);
    int have = 0;
    omnic_vocoder *use = v;
    if (ch.zero_shot && ref && !voice_req) { /* clone; on failure the preset voice (8.2.2 step 4) */
        omnic_vocoder *zs = get_vocoder(m, st, 1);
        float *pcm = NULL;
        int64_t np = 0;
        if (zs && vocoder_spk_dim(zs) <= 1024 &&
            !omnic_audio_decode_sr(ref, ref_len, "reference audio", 600, VOCODER_SR, &pcm, &np) &&
            !vocoder_speaker_from_audio(zs, pcm, np, spk)) {
            have = 1;
            use = zs;
            snprintf(voice_used, vu_sz, "zero-shot");
        }
        free(pcm);
    }
    if (!have) {
        /* the request's voice if this vocoder has it (OpenAI names such as "alloy" are not
         * presets here), else the choice from the speaker info, else the default, else row 0 */
        const char *cands[3] = {voice_req, ch.preset, SPEECH_DEFAULT_VOICE}, *want = NULL;
        int idx = 0;
        for (int k = 0; k < 3 && !want; k++)
            if (cands[k] && !vocoder_find_speaker(v, cands[k], &idx)) want = cands[k];
        if (!want) {
            idx = 0;
            want = "0";
        }
        if (vocoder_spk_dim(v) > 1024 || vocoder_preset(v, idx, spk)) {
            api_errf(e, 500, "InternalServerError", NULL, "vocoder speaker table: %s", omnic_errmsg());
            goto done;
        }
        snprintf(voice_used, vu_sz, "%s", vocoder_speaker_name(v, idx) ? vocoder_speaker_name(v, idx) : want);
    }
    if (!(y = malloc((size_t)n * VOCODER_HOP * sizeof *y))) {
        api_errf(e, 500, "InternalServerError", NULL, "out of memory");
        goto done;
    }
    if (vocoder_synth(use, units, n, spk, y)) {
        api_errf(e, 500, "InternalServerError", NULL, "vocoder: %s", omnic_errmsg());
        goto done;
    }
    if (omnic_audio_encode(y, (int64_t)n * VOCODER_HOP, VOCODER_SR, format, out, len, mime)) {
        api_errf(e, 500, "InternalServerError", NULL, "audio encoder: %s", omnic_errmsg());
        goto done;
    }
    rc = 0;
done:
    free(y);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* {id, data, expires_at, transcript} inline (standard base64 of the bytes) or as
 * a stored file's URL (URL-safe base64 of it, api.md 8.2.3 / 15.1). */
static json_t *audio_object(server *s, const speech_opts *o, const uint8_t *bytes, size_t len, const char *format,
                            const char *transcript, api_err *e) {
    long exp = (long)time(NULL) + MEDIA_RETENTION_S;
    if (o->inline_data || !s->cfg.media_dir) {
        char hex[33], id[48];
        serve_random_hex(hex);
        snprintf(id, sizeof id, "audio_%s", hex);
        char *b = b64_encode(bytes, len, NULL);
        json_t *a = b ? json_pack("{s:s, s:s, s:I, s:s}", "id", id, "data", b, "expires_at", (json_int_t)exp,
                                  "transcript", transcript ? transcript : "")
                      : NULL;
        free(b);
        if (!a) api_errf(e, 500, "InternalServerError", NULL, "out of memory");
        return a;
    }
    char url[512];
    if (media_store_put(s, bytes, len, omnic_audio_format_ext(format), o->host, url, sizeof url)) {
        api_errf(e, 500, "InternalServerError", NULL, "media store: %s", omnic_errmsg());
        return NULL;
    }
    size_t bl;
    char *b = b64_encode((const uint8_t *)url, strlen(url), &bl);
    if (!b) {
        api_errf(e, 500, "InternalServerError", NULL, "out of memory");
        return NULL;
    }
    for (char *p = b; *p; p++) *p = *p == '+' ? '-' : *p == '/' ? '_' : *p; /* URL-safe, padded */
    json_t *a = json_pack("{s:s, s:s, s:I, s:s}", "id", b, "data", b, "expires_at", (json_int_t)exp, "transcript",
                          transcript ? transcript : "");
    free(b);
    if (!a) api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    return a;
}

int speech_answer(server *s, serve_model *m, const speech_opts *o, char **content, json_t *calls, json_t **audio,
                  api_err *e) {
    *audio = NULL;
    const char *format = o->format ? o->format : "wav";
    if (!omnic_audio_format_known(format))
        return api_errf(e, 400, "invalid_request_error", "audio.format",
                        "'audio.format' must be one of wav, pcm, mp3, flac, opus, ogg, aac (got '%s')", format);
    /* 8.2.4: an audio_synthesis call (when tools were sent) */
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *fn = json_object_get(c, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || strcmp(name, "audio_synthesis")) continue;
        json_t *args = json_object_get(fn, "arguments");
        json_t *argo = json_is_string(args) ? json_loads(json_string_value(args), 0, NULL) : json_incref(args);
        int32_t *units = NULL;
        int n = 0, nm = 0, nd = 0;
        const char *da = json_string_value(json_object_get(argo, "discrete_audio"));
        json_t *ua = json_object_get(argo, "units");
        if (da) speech_units_from_text(da, strlen(da), &units, &n, &nm, &nd);
        else if (json_is_array(ua)) {
            char *t = json_dumps(ua, JSON_COMPACT);
            if (t) speech_units_from_json(t, strlen(t), &units, &n);
            free(t);
        }
        speech_info info = {0};
        json_t *si = json_object_get(argo, "speaker_info");
        char *sij = si ? (json_is_string(si) ? strdup(json_string_value(si)) : json_dumps(si, JSON_COMPACT)) : NULL;
        if (sij) speech_info_parse(sij, strlen(sij), &info);
        free(sij);
        json_decref(argo);
        const char *why = speech_units_check(units, n);
        if (!why) {
            uint8_t *bytes = NULL;
            size_t len = 0;
            char used[64];
            api_err e2;
            if (!render(m, units, n, &info, SPEECH_RULE_TOOL, o->force_ref, o->voice, o->ref, o->ref_len, "wav", &bytes,
                        &len, NULL, used, sizeof used, &e2)) {
                *audio = audio_object(s, o, bytes, len, "wav", *content ? *content : "", e);
                free(bytes);
                free(units);
                json_array_remove(calls, i);
                if (!*audio) return -1;
                break;
            }
        }
        free(units);
        json_array_remove(calls, i); /* unit-validation failures drop the call too */
        break;
    }
    if (*audio || !*content || !strstr(*content, "<|audio")) {
        if (*content && strstr(*content, "<|audio")) { /* 8.3 cleanup */
            char *cl = speech_clean_content(*content, strlen(*content));
            if (cl) { free(*content); *content = cl; }
        }
        return 0;
    }
    /* 8.2.2: units inside content */
    speech_parse *sp = speech_parse_new();
    const speech_result *r = NULL;
    if (!sp || speech_parse_feed(sp, *content, strlen(*content)) || speech_parse_finish(sp, &r)) {
        speech_parse_free(sp);
        return api_errf(e, 500, "InternalServerError", NULL, "speech parsing failed: %s", omnic_errmsg());
    }
    const char *new_content = r->content_failed;
    if (!r->reject) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        char used[64];
        api_err e2;
        if (!render(m, r->units, r->n_units, &r->info, SPEECH_RULE_CONTENT, o->force_ref, o->voice, o->ref, o->ref_len,
                    format, &bytes, &len, NULL, used, sizeof used, &e2)) {
            *audio = audio_object(s, o, bytes, len, format, r->transcript, e);
            free(bytes);
            if (!*audio) {
                speech_parse_free(sp);
                return -1;
            }
            new_content = r->transcript;
        } else if (e2.status == 400) { /* the model folder has no vocoder: say so rather than drop silently */
            *e = e2;
            speech_parse_free(sp);
            return -1;
        }
    }
    char *nc = strdup(new_content ? new_content : "");
    speech_parse_free(sp);
    if (!nc) return api_errf(e, 500, "InternalServerError", NULL, "out of memory");
    free(*content);
    *content = nc;
    return 0;
}

int speech_render_text(serve_model *m, const char *text, const char *voice, const char *format, uint8_t **out,
                       size_t *len, const char **mime, api_err *e) {
    if (!omnic_audio_format_known(format))
        return api_errf(e, 400, "invalid_request_error", "response_format",
                        "'response_format' must be one of wav, pcm, mp3, flac, opus, aac (got '%s')", format);
    speech_parse *sp = speech_parse_new();
    const speech_result *r = NULL;
    if (!sp || speech_parse_feed(sp, text, strlen(text)) || speech_parse_finish(sp, &r)) {
        speech_parse_free(sp);
        return api_errf(e, 500, "InternalServerError", NULL, "speech parsing failed");
    }
    int rc;
    char used[64];
    if (r->reject) {
        rc = api_errf(e, 500, "InternalServerError", NULL, "the model produced no usable speech: %s", r->reject);
    } else {
        rc = render(m, r->units, r->n_units, &r->info, SPEECH_RULE_CONTENT, 0, voice, NULL, 0, format, out, len, mime,
                    used, sizeof used, e);
    }
    speech_parse_free(sp);
    return rc;
}
