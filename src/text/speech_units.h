/* speech_units.h - speech units in Omni-8B output (audio.md §8, api.md 8.2): the
 * <|audioNNNN|> tokens by id (the engine's primary rule, §8.3) and by text (api.md
 * 8.2.2: units, text part, <speaker_info> JSON, validation), the speaker-info
 * normalisation and voice choice (8.2.2 step 4, 8.2.4), and the content/transcript
 * cleanup of api.md 8.3. Internal header: server and CLI.
 *
 * Text input is the generated text with special tokens KEPT (control tokens such as
 * <|im_end|> may be removed first, e.g. out_result.raw_content). It can be fed in
 * pieces of any size; the result does not depend on how the text was cut.
 *
 * Engine choices where the spec is silent (documented here):
 *   - text matches <|audioN|> with N outside 0..6560 (<|audio6561|>, or more digits)
 *     count for the 8.2.2-1 checks as OmniServe's regex does, but are dropped from
 *     the unit list (audio.md 8.1) and counted in n_dropped; fewer than 3 kept units
 *     is also a rejection.
 *   - <speaker_info>{J}</speaker_info> may have ASCII whitespace around {J}.
 *   - the 8.3 cleanup also removes the block markup that has no text meaning:
 *     </audio_decoder_call>, <discrete_audio>, </discrete_audio>,
 *     <|discrete_audio_start|>, <|discrete_audio_end|> and any remaining
 *     <speaker_info>...</speaker_info> (api.md 15.3: media markup is not content).
 *   - speaker-info values: gender "f"/"female"/"woman"/"여"/"여성"/"여자" -> 'f',
 *     "m"/"male"/"man"/"남"/"남성"/"남자" -> 'm' (case-insensitive), anything else is
 *     no gender; age must be one of "0-10" "10" "20-30" "40-50" "60-70", else none;
 *     is_ref_audio is true for JSON true, a non-zero number, or "true"/"yes"/"1". */
#ifndef OMNIC_TEXT_SPEECH_UNITS_H
#define OMNIC_TEXT_SPEECH_UNITS_H
#include <stddef.h>
#include <stdint.h>

#include "omnic.h"

#define SPEECH_NUM_UNITS 6561        /* vocoder codebook: units 0..6560 */
#define SPEECH_UNIT_TOKENS 6562      /* <|audio0000|> .. <|audio6561|> */
#define SPEECH_MIN_UNITS 3
#define SPEECH_MAX_UNITS 2000
#define SPEECH_MIN_DISTINCT_RATIO 0.01
#define SPEECH_UNITS_PER_SECOND 25
#define SPEECH_SAMPLES_PER_UNIT 960  /* at 24 kHz */
#define SPEECH_DEFAULT_VOICE "fkms"

/* "<|audio%04d|>" into buf (at least 16 bytes). */
void speech_unit_token(char buf[16], int unit);

/* ---- ids (audio.md §8.3 primary rule) ------------------------------------------ */

/* Token id <-> unit, built by looking the 6562 unit strings up in the vocabulary. */
typedef struct speech_unit_map {
    int32_t base;      /* contiguous vocab: id of <|audio0000|>; else -1 */
    int n;             /* unit tokens found */
    int32_t *ids;      /* non-contiguous: sorted ids ... */
    int16_t *units;    /* ... and their units */
} speech_unit_map;

/* lookup(ctx, str) returns the id of a token string or -1. Error (OMNIC_EUNSUP)
 * when the vocabulary has none of the unit tokens. */
int speech_unit_map_init(speech_unit_map *m, int32_t (*lookup)(void *ctx, const char *s), void *ctx);
int speech_unit_map_from_tokenizer(speech_unit_map *m, const omnic_tokenizer *t);
void speech_unit_map_free(speech_unit_map *m);
/* Unit 0..6561 of a token id, or -1 when the id is not a unit token. */
int speech_unit_of_id(const speech_unit_map *m, int32_t id);
/* Units of the generated ids in order; 6561 is dropped (counted in *n_dropped).
 * *units is malloc'ed (NULL when none). */
int speech_units_from_ids(const speech_unit_map *m, const int32_t *ids, size_t n, int32_t **units,
                          int *n_units, int *n_dropped);

/* ---- checks ------------------------------------------------------------------ */

/* api.md 8.2.2-1 on a unit list: NULL when usable, else a static reason ("no speech
 * units", "fewer than 3 speech units", "more than 2000 speech units", "speech units
 * too repetitive (distinct/total < 0.01)", "speech unit out of range"). */
const char *speech_units_check(const int32_t *units, int n);

/* Units of a token string (the discrete_audio argument of an audio_synthesis call,
 * api.md 15.4): every <|audioN|>, out-of-range ones dropped. *units malloc'ed. */
int speech_units_from_text(const char *s, size_t len, int32_t **units, int *n_units, int *n_matches,
                           int *n_dropped);
/* Units of a JSON array text of integers (arguments.units, api.md 8.2.4): anything
 * but an array of integers in 0..6560 is OMNIC_EINVAL naming the element. */
int speech_units_from_json(const char *json, size_t len, int32_t **units, int *n_units);

/* ---- speaker info and voice (api.md 8.2.2 step 4, 8.2.4) ------------------------ */

typedef struct speech_info {
    int present;          /* a JSON object was parsed */
    int is_ref_audio;
    char gender;          /* 'f', 'm' or 0 */
    char age[8];          /* a bucket or "" */
    char speaker[64], emotion[64];  /* raw strings, "" when absent */
} speech_info;

/* Parse a flat JSON object; anything unparsable gives an empty info (never fails). */
void speech_info_parse(const char *json, size_t len, speech_info *out);

enum { SPEECH_RULE_CONTENT = 0,  /* units in content (8.2.2 step 4) */
       SPEECH_RULE_TOOL = 1 };   /* audio_synthesis tool call (8.2.4) */

typedef struct speech_voice {
    int zero_shot;        /* clone the last input audio of the conversation */
    const char *preset;   /* preset name; with zero_shot, the retry voice on failure */
} speech_voice;

/* force_ref: the request's is_ref_audio (after extra_body flattening), 0/1.
 * has_ref_audio: the conversation holds an input audio. seed: for the random picks
 * of the speaker table (same seed, same voice). avail (may be NULL): the vocoder's
 * preset names (spk_list.txt); a chosen name missing from it falls back to another
 * candidate, then "fkms", then avail[0]. out->preset points into avail or static. */
void speech_choose_voice(const speech_info *info, int rule, int force_ref, int has_ref_audio, uint64_t seed,
                         const char *const *avail, int n_avail, speech_voice *out);

/* ---- text (api.md 8.2.2, 8.3) ------------------------------------------------------ */

typedef struct speech_result {
    int triggered;              /* the text contains "<|audio" */
    const int32_t *units;       /* kept units (0..6560) in order */
    int n_units;
    int n_matches;              /* all <|audioN|> matches */
    int n_dropped;              /* matches outside 0..6560 */
    const char *reject;         /* NULL: synthesize; else why not (static) */
    speech_info info;
    const char *info_json;      /* the {J} text found (NUL-terminated), or NULL */
    const char *text_part;      /* 8.2.2 steps 2-3 (right-trimmed); whole text if !triggered */
    const char *transcript;     /* text_part after the 8.3 cleanup: audio.transcript, and
                                   content when synthesis succeeds */
    const char *content_failed; /* content when there is no audio (8.2.2-6 + 8.3) */
} speech_result;

typedef struct speech_parse speech_parse;
speech_parse *speech_parse_new(void);
void speech_parse_free(speech_parse *p);
/* Append text. OMNIC_EINVAL after finish, OMNIC_ENOMEM. */
int speech_parse_feed(speech_parse *p, const char *text, size_t len);
/* Units seen so far (a prefix of the final list; a possibly incomplete tag at the
 * end is held back). Valid until the next feed. */
const int32_t *speech_parse_units(const speech_parse *p, int *n_units);
/* 1 when units were seen and the text after the last one is not a unit (the unit
 * run ended: synthesis may start, audio.md 8.4); 0 while in a run or before. */
int speech_parse_run_ended(const speech_parse *p);
/* End of text: the result, owned by the parser (valid until free). */
int speech_parse_finish(speech_parse *p, const speech_result **r);

/* api.md 8.3 cleanup of any content string (malloc'ed, NUL-terminated). */
char *speech_clean_content(const char *s, size_t len);

#endif
