/* routes_audio.c - the OpenAI audio routes. POST /v1/audio/speech: {input, voice,
 * response_format (mp3 by default, as OpenAI), speed (only 1)}: the TTS
 * instruction (text/tts_prompt.h) and the input as one user turn, reasoning
 * skipped, the answer's speech units through the vocoder and the encoder.
 * POST /v1/audio/transcriptions in the OpenAI shape
 * (multipart/form-data: file, model, language, prompt, response_format
 * json|text|verbose_json, temperature): the audio becomes an input_audio part of
 * one user turn with the transcription instruction (text/transcribe.h), run as a
 * chat completion with reasoning skipped, answered as {"text": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/audio.h"
#include "serve/base64.h"
#include "serve/multipart.h"
#include "serve/routes.h"
#include "text/transcribe.h"
#include "text/tts_prompt.h"

/* A text field as a NUL-terminated copy in buf ("" if absent). */
static const char *field(const mp_form *f, const char *name, char *buf, size_t sz) {
    const mp_part *p = mp_get(f, name);
    buf[0] = 0;
    if (p) snprintf(buf, sz, "%.*s", (int)(p->len < sz ? p->len : sz - 1), p->data);
    return buf;
}

enum MHD_Result route_transcribe(http_req *hr, int track) {
    mp_form *f = malloc(sizeof *f);
    char err[160];
    if (!f) return http_errorf(hr, 500, "InternalServerError", NULL, "out of memory");
    if (mp_parse(http_header(hr, "Content-Type"), hr->body.s ? hr->body.s : "", hr->body.len, f, err, sizeof err)) {
        free(f);
        return http_errorf(hr, 400, "invalid_request_error", NULL, "%s", err);
    }
    const mp_part *file = mp_get(f, "file");
    if (!file || !file->len) {
        free(f);
        return http_errorf(hr, 400, "invalid_request_error", "file", "'file' is required: a form field with the audio");
    }
    char model[256], lang[32], prompt[2048], fmt[32], temp[32], instr[4096];
    field(f, "model", model, sizeof model);
    field(f, "language", lang, sizeof lang);
    field(f, "prompt", prompt, sizeof prompt);
    field(f, "response_format", fmt, sizeof fmt);
    field(f, "temperature", temp, sizeof temp);
    int mode = !fmt[0] || !strcmp(fmt, "json") ? TR_JSON : !strcmp(fmt, "text") ? TR_TEXT
             : !strcmp(fmt, "verbose_json") ? TR_VERBOSE : TR_NONE;
    if (mode == TR_NONE) {
        free(f);
        return http_errorf(hr, 400, "invalid_request_error", "response_format",
                           "'response_format' must be json, text or verbose_json (got '%s')", fmt);
    }
    for (const char *c = lang; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '-')) {
            free(f);
            return http_errorf(hr, 400, "invalid_request_error", "language", "'language' must be a language code like 'ko'");
        }
    double dur = 0;
    if (mode == TR_VERBOSE) {
        float *pcm = NULL;
        int64_t n = 0;
        if (!omnic_audio_decode((const uint8_t *)file->data, file->len, "file", 0, &pcm, &n)) dur = n / (double)OMNIC_AUDIO_SR;
        free(pcm);
    }
    char *b64 = b64_encode((const uint8_t *)file->data, file->len, NULL);
    if (!b64) {
        free(f);
        return http_errorf(hr, 500, "InternalServerError", NULL, "out of memory");
    }
    transcribe_instruction(lang, prompt, instr, sizeof instr);
    json_t *body = json_pack("{s:[{s:s, s:[{s:s, s:{s:s}}, {s:s, s:s}]}], s:{s:b}}", "messages", "role", "user",
                             "content", "type", "input_audio", "input_audio", "data", b64, "type", "text", "text", instr,
                             "chat_template_kwargs", "skip_reasoning", 1);
    free(b64);
    if (body && model[0]) json_object_set_new(body, "model", json_string(model));
    if (body && temp[0]) {
        char *e;
        double t = strtod(temp, &e);
        if (*e || t < 0 || t > 2) {
            json_decref(body);
            free(f);
            return http_errorf(hr, 400, "invalid_request_error", "temperature", "'temperature' must be a number in [0, 2]");
        }
        json_object_set_new(body, "temperature", json_real(t));
    } else if (body) {
        json_object_set_new(body, "temperature", json_real(0)); /* OpenAI's default for transcription is 0 */
    }
    free(f);
    if (!body) return http_errorf(hr, 500, "InternalServerError", NULL, "out of memory");
    gen_extra x = {.resp_mode = mode, .duration_s = dur, .language = lang};
    return route_generate_body(hr, track, 1, body, &x);
}

enum MHD_Result route_speech(http_req *hr, int track) {
    api_err e;
    json_t *in = req_parse_json(hr->body.s, hr->body.len, &e);
    if (!in) return http_error(hr, &e);
    json_t *inp = json_object_get(in, "input"), *voice = json_object_get(in, "voice"),
           *fmt = json_object_get(in, "response_format"), *speed = json_object_get(in, "speed"),
           *model = json_object_get(in, "model"), *user = json_object_get(in, "user");
    enum MHD_Result r;
    if (!json_is_string(inp) || !json_string_length(inp))
        r = http_errorf(hr, 400, "invalid_request_error", "input", "'input' is required: the text to speak");
    else if (json_string_length(inp) > 4096)
        r = http_errorf(hr, 400, "invalid_request_error", "input", "'input' is longer than 4096 characters");
    else if ((voice && !json_is_string(voice)) || (fmt && !json_is_string(fmt)))
        r = http_errorf(hr, 400, "invalid_request_error", voice && !json_is_string(voice) ? "voice" : "response_format",
                        "'voice' and 'response_format' must be strings");
    else if (speed && (!json_is_number(speed) || json_number_value(speed) != 1.0))
        r = http_errorf(hr, 400, "invalid_request_error", "speed", "'speed' other than 1.0 is not supported");
    else {
        const char *text = json_string_value(inp);
        size_t pl = strlen(TTS_INSTRUCTION) + strlen(text) + 2;
        char *prompt = malloc(pl);
        json_t *body = NULL;
        if (prompt) {
            snprintf(prompt, pl, "%s\n%s", TTS_INSTRUCTION, text);
            body = json_pack("{s:[{s:s, s:s}], s:{s:b}, s:i}", "messages", "role", "user", "content", prompt,
                             "chat_template_kwargs", "skip_reasoning", 1, "max_tokens", 2200);
            free(prompt);
        }
        if (body && json_is_string(model)) json_object_set(body, "model", model);
        if (body && json_is_string(user)) json_object_set(body, "user", user);
        if (!body) {
            r = http_errorf(hr, 500, "InternalServerError", NULL, "out of memory");
        } else {
            char vbuf[64], fbuf[16];
            snprintf(vbuf, sizeof vbuf, "%s", voice ? json_string_value(voice) : "");
            snprintf(fbuf, sizeof fbuf, "%s", fmt ? json_string_value(fmt) : "mp3");
            gen_extra x = {.resp_mode = TR_SPEECH, .voice = vbuf[0] ? vbuf : NULL, .format = fbuf};
            json_decref(in);
            return route_generate_body(hr, track, 1, body, &x);
        }
    }
    json_decref(in);
    return r;
}
