/* multipart.c - a strict, bounds-checked multipart/form-data parser: finds the
 * boundary in the Content-Type, splits the body at "--boundary" delimiter lines,
 * reads each part's Content-Disposition (name, filename) and Content-Type. */
#include "serve/multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *memfind(const char *h, size_t hl, const char *n, size_t nl) {
    if (nl == 0 || hl < nl) return NULL;
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && !memcmp(h + i, n, nl)) return h + i;
    return NULL;
}

/* Copy the value of param="..." (or unquoted) from a header value. */
static int header_param(const char *v, size_t vl, const char *param, char *out, size_t out_sz) {
    size_t pl = strlen(param);
    for (size_t i = 0; i + pl + 1 <= vl; i++) {
        if (strncasecmp(v + i, param, pl) || v[i + pl] != '=') continue;
        if (i > 0 && v[i - 1] != ' ' && v[i - 1] != ';' && v[i - 1] != '\t') continue;
        size_t j = i + pl + 1, k = 0;
        int q = j < vl && v[j] == '"';
        if (q) j++;
        while (j < vl && (q ? v[j] != '"' : (v[j] != ';' && v[j] != ' '))) {
            if (q && v[j] == '\\' && j + 1 < vl) j++;
            if (k + 1 >= out_sz) return -1;
            out[k++] = v[j++];
        }
        if (q && (j >= vl || v[j] != '"')) return -1;
        out[k] = 0;
        return 1;
    }
    return 0;
}

int mp_parse(const char *ct, const char *body, size_t len, mp_form *f, char *err, size_t err_sz) {
    memset(f, 0, sizeof *f);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19)) {
        snprintf(err, err_sz, "this route takes multipart/form-data");
        return -1;
    }
    char bnd[80] = "--";
    if (header_param(ct, strlen(ct), "boundary", bnd + 2, sizeof bnd - 2) != 1 || !bnd[2]) {
        snprintf(err, err_sz, "multipart/form-data without a valid boundary parameter");
        return -1;
    }
    size_t bl = strlen(bnd);
    const char *p = memfind(body, len, bnd, bl), *end = body + len;
    if (!p) {
        snprintf(err, err_sz, "the body has no multipart boundary");
        return -1;
    }
    for (;;) {
        p += bl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 0; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') break;
        p += 2;
        const char *hend = memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) break;
        if (f->n == MP_MAX_PARTS) {
            snprintf(err, err_sz, "more than %d form fields", MP_MAX_PARTS);
            return -1;
        }
        mp_part *pt = &f->parts[f->n];
        int has_disp = 0;
        for (const char *h = p; h < hend;) {
            const char *le = memfind(h, (size_t)(hend + 2 - h), "\r\n", 2);
            if (!le) le = hend;
            size_t hl = (size_t)(le - h);
            const char *colon = memchr(h, ':', hl);
            if (!colon) {
                snprintf(err, err_sz, "malformed part header in form field %d", f->n);
                return -1;
            }
            size_t nl = (size_t)(colon - h);
            const char *v = colon + 1;
            size_t vl = (size_t)(le - v);
            while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
            if (nl == 19 && !strncasecmp(h, "Content-Disposition", 19)) {
                has_disp = 1;
                if (header_param(v, vl, "name", pt->name, sizeof pt->name) != 1 ||
                    header_param(v, vl, "filename", pt->filename, sizeof pt->filename) < 0) {
                    snprintf(err, err_sz, "form field %d: bad Content-Disposition (name or filename)", f->n);
                    return -1;
                }
            } else if (nl == 12 && !strncasecmp(h, "Content-Type", 12)) {
                snprintf(pt->ctype, sizeof pt->ctype, "%.*s", (int)(vl < sizeof pt->ctype ? vl : sizeof pt->ctype - 1), v);
            }
            h = le + 2;
        }
        if (!has_disp) {
            snprintf(err, err_sz, "form field %d has no Content-Disposition", f->n);
            return -1;
        }
        const char *data = hend + 4;
        /* the part ends at CRLF--boundary */
        char delim[84];
        snprintf(delim, sizeof delim, "\r\n%s", bnd);
        const char *next = memfind(data, (size_t)(end - data), delim, bl + 2);
        if (!next) break;
        pt->data = data;
        pt->len = (size_t)(next - data);
        f->n++;
        p = next + 2;
    }
    snprintf(err, err_sz, "truncated multipart body (no closing boundary)");
    return -1;
}

const mp_part *mp_get(const mp_form *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->parts[i].name, name)) return &f->parts[i];
    return NULL;
}
