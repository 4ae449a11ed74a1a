/* base64.h - base64 for media in requests and responses (api.md 4.5). */
#ifndef OMNIC_SERVE_BASE64_H
#define OMNIC_SERVE_BASE64_H
#include <stddef.h>
#include <stdint.h>

/* Decode standard or URL-safe base64; whitespace ignored, padding optional.
 * *out malloc'ed. Returns 0, or -1 on a character outside both alphabets,
 * misplaced padding or an impossible length. */
int b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);
/* Standard alphabet with padding; NUL-terminated, malloc'ed (NULL: no memory). */
char *b64_encode(const uint8_t *p, size_t n, size_t *out_len);

#endif
