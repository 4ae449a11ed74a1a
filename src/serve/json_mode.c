/* json_mode.c - JSON-object constrained decoding (see json_mode.h): a
 * byte-at-a-time JSON recognizer with a container stack, and the per-step
 * logits mask built by running every token's text through a copy of it. */
#include "serve/json_mode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_START,      /* before the top-level '{' */
    S_VALUE,      /* a value is expected */
    S_OBJ_OPEN,   /* after '{': key or '}' */
    S_OBJ_KEY,    /* after ',' in an object: key */
    S_COLON,      /* after a key */
    S_ARR_OPEN,   /* after '[': value or ']' */
    S_AFTER,      /* after a value inside a container: ',' or the closer */
    S_STR, S_STR_ESC, S_STR_HEX,
    S_NUM_MINUS, S_NUM_ZERO, S_NUM_INT, S_NUM_DOT, S_NUM_FRAC, S_NUM_E, S_NUM_ESIGN, S_NUM_EXP,
    S_LIT,
    S_DONE,
};

static const char *const LITS[3] = {"true", "false", "null"};

void jm_init(jm_state *s) {
    memset(s, 0, sizeof *s);
    s->st = S_START;
}

int jm_done(const jm_state *s) { return s->st == S_DONE; }

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static void end_value(jm_state *s) { s->st = s->depth == 0 ? S_DONE : S_AFTER; }

static int push(jm_state *s, char c) {
    if (s->depth >= JM_MAX_DEPTH) return -1;
    s->stack[s->depth++] = c;
    s->st = c == '{' ? S_OBJ_OPEN : S_ARR_OPEN;
    return 0;
}

static int close_container(jm_state *s, char closer) {
    if (!s->depth || s->stack[s->depth - 1] != (closer == '}' ? '{' : '[')) return -1;
    s->depth--;
    end_value(s);
    return 0;
}

/* Start of a value (S_VALUE / S_ARR_OPEN). */
static int value_start(jm_state *s, unsigned char c) {
    if (c == '{' || c == '[') return push(s, (char)c);
    if (c == '"') { s->st = S_STR; s->key = 0; return 0; }
    if (c == '-') { s->st = S_NUM_MINUS; return 0; }
    if (c == '0') { s->st = S_NUM_ZERO; return 0; }
    if (is_digit(c)) { s->st = S_NUM_INT; return 0; }
    for (int i = 0; i < 3; i++)
        if (c == (unsigned char)LITS[i][0]) { s->st = S_LIT; s->lit = (uint8_t)i; s->lit_pos = 1; return 0; }
    return -1;
}

static int step(jm_state *s, unsigned char c) {
    int st = s->st;
    if (st <= S_AFTER && is_ws(c)) {
        if (++s->ws > JM_MAX_WS) return -1;
        return 0;
    }
    if (st <= S_AFTER) s->ws = 0;
    switch (st) {
    case S_START: return c == '{' ? push(s, '{') : -1;
    case S_VALUE: return value_start(s, c);
    case S_OBJ_OPEN:
        if (c == '}') return close_container(s, '}');
        /* fall through */
    case S_OBJ_KEY:
        if (c != '"') return -1;
        s->st = S_STR;
        s->key = 1;
        return 0;
    case S_COLON:
        if (c != ':') return -1;
        s->st = S_VALUE;
        return 0;
    case S_ARR_OPEN:
        if (c == ']') return close_container(s, ']');
        return value_start(s, c);
    case S_AFTER:
        if (c == '}' || c == ']') return close_container(s, (char)c);
        if (c != ',') return -1;
        s->st = s->stack[s->depth - 1] == '{' ? S_OBJ_KEY : S_VALUE;
        return 0;
    case S_STR:
        if (c == '"') {
            if (s->key) s->st = S_COLON;
            else end_value(s);
            return 0;
        }
        if (c == '\\') { s->st = S_STR_ESC; return 0; }
        return c < 0x20 ? -1 : 0;
    case S_STR_ESC:
        if (c == 'u') { s->st = S_STR_HEX; s->hex = 4; return 0; }
        if (!strchr("\"\\/bfnrt", c) || !c) return -1;
        s->st = S_STR;
        return 0;
    case S_STR_HEX:
        if (!is_hex(c)) return -1;
        if (--s->hex == 0) s->st = S_STR;
        return 0;
    case S_LIT: {
        const char *l = LITS[s->lit];
        if (c != (unsigned char)l[s->lit_pos]) return -1;
        if (!l[++s->lit_pos]) end_value(s);
        return 0;
    }
    case S_NUM_MINUS:
        if (c == '0') { s->st = S_NUM_ZERO; return 0; }
        if (is_digit(c)) { s->st = S_NUM_INT; return 0; }
        return -1;
    case S_NUM_INT:
        if (is_digit(c)) return 0;
        /* fall through */
    case S_NUM_ZERO:
        if (c == '.') { s->st = S_NUM_DOT; return 0; }
        if (c == 'e' || c == 'E') { s->st = S_NUM_E; return 0; }
        end_value(s); /* the number ended: c belongs to what follows */
        return s->st == S_DONE ? -1 : step(s, c);
    case S_NUM_DOT:
        if (!is_digit(c)) return -1;
        s->st = S_NUM_FRAC;
        return 0;
    case S_NUM_FRAC:
        if (is_digit(c)) return 0;
        if (c == 'e' || c == 'E') { s->st = S_NUM_E; return 0; }
        end_value(s);
        return s->st == S_DONE ? -1 : step(s, c);
    case S_NUM_E:
        if (c == '+' || c == '-') { s->st = S_NUM_ESIGN; return 0; }
        /* fall through */
    case S_NUM_ESIGN:
        if (!is_digit(c)) return -1;
        s->st = S_NUM_EXP;
        return 0;
    case S_NUM_EXP:
        if (is_digit(c)) return 0;
        end_value(s);
        return s->st == S_DONE ? -1 : step(s, c);
    default: return -1; /* S_DONE: nothing may follow */
    }
}

int jm_feed(jm_state *s, const char *txt, size_t n) {
    jm_state t = *s;
    for (size_t i = 0; i < n; i++)
        if (step(&t, (unsigned char)txt[i])) return -1;
    *s = t;
    return 0;
}

jm_vocab *jm_vocab_build(const omnic_tokenizer *tok, int vocab, const uint8_t *special) {
    jm_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->n = vocab;
    v->text = calloc((size_t)vocab, sizeof *v->text);
    v->len = calloc((size_t)vocab, sizeof *v->len);
    if (!v->text || !v->len) { jm_vocab_free(v); return NULL; }
    for (int32_t id = 0; id < vocab; id++) {
        if (special && special[id]) continue;
        char *s = NULL;
        size_t n = 0;
        if (omnic_detokenize(tok, &id, 1, 0, &s, &n) == OMNIC_OK && n > 0 && n < 65535) {
            v->text[id] = s;
            v->len[id] = (uint16_t)n;
        } else {
            free(s);
        }
    }
    return v;
}

void jm_vocab_free(jm_vocab *v) {
    if (!v) return;
    for (int i = 0; v->text && i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->len);
    free(v);
}

int jm_mask(const jm_state *s, const jm_vocab *v, float *logits) {
    int allowed = 0;
    for (int id = 0; id < v->n; id++) {
        jm_state t = *s;
        if (!v->text[id] || jm_feed(&t, v->text[id], v->len[id])) logits[id] = -INFINITY;
        else allowed++;
    }
    return allowed;
}
