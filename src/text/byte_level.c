/* byte_level.c - UTF-8 helpers (validation, U+FFFD replacement) and the GPT-2
 * byte <-> printable-character alphabet used by ByteLevel pre-tokenizers/decoders. */
#include <string.h>

#include "text/tokenizer_impl.h"

int tk_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 1;
}

/* Scan one sequence at in[i]; returns its length if well-formed, 0 if it is a valid
 * but truncated prefix reaching the end, or -(maximal ill-formed subpart length). */
static inline long utf8_step(const unsigned char *in, size_t n, size_t i) {
    unsigned c = in[i];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return -1;
    size_t j = i + 1;
    for (int k = 0; k < need; k++, j++) {
        if (j >= n) return 0;
        if (in[j] < lo || in[j] > hi) return -(long)(j - i);
        lo = 0x80;
        hi = 0xBF;
    }
    return (long)(j - i);
}

size_t tk_utf8_sanitize(const unsigned char *in, size_t n, int final, tk_buf *out) {
    static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    size_t i = 0, run = 0; /* in[run..i) is valid and not yet copied */
    while (i < n) {
        if (in[i] < 0x80) {
            i++;
            continue;
        }
        long r = utf8_step(in, n, i);
        if (r > 0) {
            i += (size_t)r;
            continue;
        }
        if (tk_buf_put(out, in + run, i - run)) return (size_t)-1;
        if (r == 0) { /* truncated at the end */
            if (!final) return i;
            if (tk_buf_put(out, fffd, 3)) return (size_t)-1;
            return n;
        }
        if (tk_buf_put(out, fffd, 3)) return (size_t)-1;
        i += (size_t)(-r);
        run = i;
    }
    if (tk_buf_put(out, in + run, i - run)) return (size_t)-1;
    return n;
}

int tk_utf8_valid(const unsigned char *in, size_t n) {
    for (size_t i = 0; i < n;) {
        if (in[i] < 0x80) {
            i++;
            continue;
        }
        long r = utf8_step(in, n, i);
        if (r <= 0) return 0;
        i += (size_t)r;
    }
    return 1;
}

uint32_t tk_utf8_decode(const unsigned char *s, size_t n, int *len) {
    unsigned c = s[0];
    int l = tk_utf8_len((unsigned char)c);
    if ((size_t)l > n) l = 1;
    *len = l;
    switch (l) {
    case 2: return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    case 3: return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    case 4: return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    default: return c;
    }
}

int tk_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int tk_is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* ---- GPT-2 byte alphabet ----
 * Printable bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF stand for themselves; the other 68
 * bytes, in increasing order, take the code points U+0100, U+0101, ... */

static tk_bytechar byte_tab[256];
static int16_t cp_tab[256 + 68]; /* code point -> byte, -1 if none */
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static int printable(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

static void build_tables(void) {
    int extra = 0;
    for (int i = 0; i < 256 + 68; i++) cp_tab[i] = -1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp = printable(b) ? (uint32_t)b : (uint32_t)(256 + extra++);
        char u[4];
        int l = tk_utf8_encode(cp, u);
        memcpy(byte_tab[b].s, u, (size_t)l);
        byte_tab[b].s[l] = 0;
        byte_tab[b].len = (uint8_t)l;
        cp_tab[cp] = (int16_t)b;
    }
}

static const tk_bytechar *get_tab(void) {
    pthread_once(&tab_once, build_tables);
    return byte_tab;
}

const tk_bytechar *tk_byte_table(void) { return get_tab(); }

int tk_char_to_byte(uint32_t cp) {
    get_tab();
    return cp < 256 + 68 ? cp_tab[cp] : -1;
}

int tk_byte_level_map(const unsigned char *s, size_t n, tk_buf *out) {
    const tk_bytechar *t = get_tab();
    if (tk_buf_reserve(out, 2 * n)) return OMNIC_ENOMEM;
    char *p = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        const tk_bytechar *c = &t[s[i]];
        *p++ = c->s[0];
        if (c->len == 2) *p++ = c->s[1];
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = 0;
    return OMNIC_OK;
}

int tk_byte_level_decode_token(const char *s, size_t n, tk_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t start = out->len;
    if (tk_buf_reserve(out, n)) return OMNIC_ENOMEM;
    for (size_t i = 0; i < n;) {
        int l;
        uint32_t cp = tk_utf8_decode(u + i, n - i, &l);
        int b = tk_char_to_byte(cp);
        if (b < 0) { /* not a byte-level string: keep it verbatim */
            out->len = start;
            return tk_buf_put(out, s, n);
        }
        out->data[out->len++] = (char)b;
        i += (size_t)l;
    }
    out->data[out->len] = 0;
    return OMNIC_OK;
}
