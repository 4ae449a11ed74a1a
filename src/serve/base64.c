/* base64.c - base64 decoding (both alphabets, lenient about whitespace and
 * padding, strict about everything else) and encoding. */
#include "serve/base64.h"

#include <stdlib.h>

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len) {
    uint8_t *o = malloc(len / 4 * 3 + 4);
    if (!o) return -1;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0, quad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_val(c);
        if (v < 0 || pad) { /* bad character, or data after padding */
            free(o);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        quad++;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (quad % 4 == 1 || pad > 2 || (pad && (quad + pad) % 4)) {
        free(o);
        return -1;
    }
    *out = o;
    *out_len = n;
    return 0;
}

char *b64_encode(const uint8_t *p, size_t n, size_t *out_len) {
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t m = (n + 2) / 3 * 4;
    char *o = malloc(m + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        o[k++] = tb[v >> 18 & 63];
        o[k++] = tb[v >> 12 & 63];
        o[k++] = i + 1 < n ? tb[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? tb[v & 63] : '=';
    }
    o[k] = 0;
    if (out_len) *out_len = k;
    return o;
}
