/* json_mode.h - constrained decoding for response_format {"type": "json_object"}:
 * a byte-level JSON recognizer (RFC 8259, top-level value an object) and a
 * logits mask that only lets through tokens whose text keeps the output a
 * valid JSON prefix. Once the object is closed, generation ends.
 *
 * Token text comes from decoding each token alone; bytes that do not form
 * complete UTF-8 by themselves (byte-fallback pieces) decode to U+FFFD and
 * are treated as "some non-ASCII byte": allowed inside strings only. */
#ifndef OMNIC_SERVE_JSON_MODE_H
#define OMNIC_SERVE_JSON_MODE_H
#include <stddef.h>
#include <stdint.h>

#include "omnic.h"

#define JM_MAX_DEPTH 32
#define JM_MAX_WS 16 /* consecutive whitespace bytes allowed (no endless padding) */

typedef struct jm_state {
    uint8_t st;        /* parser state (json_mode.c) */
    uint8_t lit;       /* literal being matched (true/false/null) and position */
    uint8_t lit_pos;
    uint8_t hex;       /* \uXXXX digits left */
    uint8_t ws;        /* consecutive whitespace */
    uint8_t key;       /* the current string is an object key */
    uint8_t depth;
    char stack[JM_MAX_DEPTH]; /* '{' or '[' */
} jm_state;

void jm_init(jm_state *s);
/* Feed text; returns 0 and updates *s if it keeps the output a valid prefix,
 * -1 (s unchanged) if not. */
int jm_feed(jm_state *s, const char *txt, size_t n);
/* The top-level object is complete. */
int jm_done(const jm_state *s);

/* Text of every token, decoded alone (special tokens: never allowed). */
typedef struct jm_vocab {
    int n;
    char **text;
    uint16_t *len;
} jm_vocab;
jm_vocab *jm_vocab_build(const omnic_tokenizer *tok, int vocab, const uint8_t *special);
void jm_vocab_free(jm_vocab *v);
/* Set the logits of tokens that would break the JSON to -inf. Returns the
 * number of tokens left allowed. */
int jm_mask(const jm_state *s, const jm_vocab *v, float *logits);

#endif
