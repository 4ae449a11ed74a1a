/* npy.c - .npy reader and writer (the conformance interfaces write their outputs
 * with it and read their array inputs: pixel values, units). */
#include "formats/npy.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

int npy_write(const char *path, const char *descr, const void *data, int ndim, const int64_t *shape) {
    char hdr[512], dims[256] = "";
    size_t n = 1, dl = 0;
    for (int i = 0; i < ndim; i++) {
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%lld%s", (long long)shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        if (dl >= sizeof dims) return omnic_err(OMNIC_EINVAL, "npy: too many dimensions");
        n *= (size_t)shape[i];
    }
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    if (hl + pad + 1 >= (int)sizeof hdr) return omnic_err(OMNIC_EINVAL, "npy: header too long");
    memset(hdr + hl, ' ', (size_t)pad);
    hdr[hl + pad] = '\n';
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    size_t esz = descr[2] == '8' ? 8 : descr[2] == '2' ? 2 : descr[2] == '1' ? 1 : 4;

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot create: %s", path, strerror(errno));
    unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    int ok = fwrite(magic, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == hlen && (n == 0 || fwrite(data, esz, n, f) == n);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return omnic_err(OMNIC_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return OMNIC_OK;
}

/* Find 'key': in the header dict and return a pointer just after the colon. */
static const char *hdr_key(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int npy_read(const char *path, npy_array *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char mg[12];
    int rc = OMNIC_EFORMAT;
    char *hdr = NULL;
    if (fread(mg, 1, 10, f) != 10 || memcmp(mg, "\x93NUMPY", 6)) {
        omnic_err(rc, "%s: not a .npy file (bad magic)", path);
        goto fail;
    }
    size_t hl;
    if (mg[6] == 1) hl = mg[8] | (size_t)mg[9] << 8;
    else if (mg[6] == 2 || mg[6] == 3) {
        if (fread(mg + 10, 1, 2, f) != 2) { omnic_err(rc, "%s: truncated header", path); goto fail; }
        hl = mg[8] | (size_t)mg[9] << 8 | (size_t)mg[10] << 16 | (size_t)mg[11] << 24;
    } else {
        omnic_err(rc, "%s: unsupported .npy version %d", path, mg[6]);
        goto fail;
    }
    if (hl > 65536) { omnic_err(rc, "%s: header too long (%zu bytes)", path, hl); goto fail; }
    hdr = malloc(hl + 1);
    if (!hdr) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory", path); goto fail; }
    if (fread(hdr, 1, hl, f) != hl) { omnic_err(rc, "%s: truncated header", path); goto fail; }
    hdr[hl] = 0;
    const char *d = hdr_key(hdr, "'descr'"), *fo = hdr_key(hdr, "'fortran_order'"), *sh = hdr_key(hdr, "'shape'");
    if (!d || !fo || !sh || *d != '\'' || *sh != '(') { omnic_err(rc, "%s: malformed header", path); goto fail; }
    static const struct { const char *in, *norm; int size; } types[] = {
        {"'<f4'", "<f4", 4}, {"'<f8'", "<f8", 8}, {"'<i4'", "<i4", 4}, {"'<i8'", "<i8", 8},
        {"'|u1'", "|u1", 1}, {"'<u1'", "|u1", 1}};
    int esz = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strncmp(d, types[i].in, strlen(types[i].in)) && types[i].size) {
            strcpy(out->descr, types[i].norm);
            esz = types[i].size;
        }
    if (!esz) { omnic_err(rc, "%s: unsupported dtype (want float32/float64/int32/int64/uint8 little-endian)", path); goto fail; }
    if (strncmp(fo, "False", 5)) { omnic_err(rc, "%s: fortran_order arrays are not supported", path); goto fail; }
    const char *p = sh + 1;
    int64_t n = 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0 || out->ndim >= 8) { omnic_err(rc, "%s: malformed shape", path); goto fail; }
        if (v && n > INT64_MAX / 8 / v) { omnic_err(rc, "%s: array too large", path); goto fail; }
        out->shape[out->ndim++] = v;
        n *= v;
        p = e;
    }
    out->n = n;
    out->data = malloc(n ? (size_t)n * (size_t)esz : 1);
    if (!out->data) { rc = omnic_err(OMNIC_ENOMEM, "%s: out of memory for %lld elements", path, (long long)n); goto fail; }
    if (n && fread(out->data, (size_t)esz, (size_t)n, f) != (size_t)n) {
        omnic_err(rc, "%s: data truncated (want %lld elements of %d bytes)", path, (long long)n, esz);
        goto fail;
    }
    free(hdr);
    fclose(f);
    return OMNIC_OK;
fail:
    free(hdr);
    fclose(f);
    npy_free(out);
    return rc;
}

void npy_free(npy_array *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}
