/* multipart.h - multipart/form-data bodies (RFC 7578), for the OpenAI-shaped
 * upload routes (/v1/audio/transcriptions). Parts point into the body. */
#ifndef OMNIC_SERVE_MULTIPART_H
#define OMNIC_SERVE_MULTIPART_H
#include <stddef.h>

#define MP_MAX_PARTS 32

typedef struct mp_part {
    char name[64];          /* form field name */
    char filename[256];     /* "" if none */
    char ctype[96];         /* part Content-Type, "" if none */
    const char *data;       /* into the body */
    size_t len;
} mp_part;

typedef struct mp_form {
    mp_part parts[MP_MAX_PARTS];
    int n;
} mp_form;

/* Parse body given the request's Content-Type header. Returns 0, or -1 with a
 * message in err (missing boundary, malformed part headers, no closing
 * delimiter, too many parts). */
int mp_parse(const char *content_type, const char *body, size_t len, mp_form *f, char *err, size_t err_sz);
/* The first part with this field name, or NULL. */
const mp_part *mp_get(const mp_form *f, const char *name);

#endif
