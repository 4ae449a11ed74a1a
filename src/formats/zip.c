/* zip.c - ZIP central-directory reader, stored/deflate entries (see zip.h). */
#include "formats/zip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* A name is refused when it could escape a folder if extracted. */
static int bad_name(const char *s) {
    if (s[0] == '/' || s[0] == '\\' || strchr(s, ':')) return 1;
    const char *p = s;
    while (*p) {
        const char *q = p;
        while (*q && *q != '/' && *q != '\\') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.') return 1;
        p = *q ? q + 1 : q;
    }
    return 0;
}

static int parse(zip_archive *z) {
    const uint8_t *d = z->data;
    size_t len = z->len;
    if (len < 22) return omnic_err(OMNIC_EFORMAT, "%s: not a ZIP archive (too short, %zu bytes)", z->name, len);
    /* End of central directory: last signature within 65535 + 22 bytes of the end. */
    size_t lo = len > 65557 ? len - 65557 : 0, eocd = (size_t)-1;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (rd32(d + i) == 0x06054b50u) { eocd = i; break; }
    if (eocd == (size_t)-1) return omnic_err(OMNIC_EFORMAT, "%s: not a ZIP archive (no end-of-central-directory record)", z->name);
    uint64_t n = rd16(d + eocd + 10), cd_size = rd32(d + eocd + 12), cd_off = rd32(d + eocd + 16);
    if (rd16(d + eocd + 4) != 0 || rd16(d + eocd + 6) != 0)
        return omnic_err(OMNIC_EFORMAT, "%s: multi-disk ZIP archives are not supported", z->name);
    if (eocd >= 20 && rd32(d + eocd - 20) == 0x07064b50u) {
        uint64_t z64 = rd64(d + eocd - 12);
        if (z64 > len || len - z64 < 56 || rd32(d + z64) != 0x06064b50u)
            return omnic_err(OMNIC_EFORMAT, "%s: bad ZIP64 end-of-central-directory record", z->name);
        n = rd64(d + z64 + 32);
        cd_size = rd64(d + z64 + 40);
        cd_off = rd64(d + z64 + 48);
    }
    if (cd_off > len || cd_size > len - cd_off)
        return omnic_err(OMNIC_EFORMAT, "%s: central directory out of bounds (offset %llu, size %llu, file %zu bytes)",
                         z->name, (unsigned long long)cd_off, (unsigned long long)cd_size, len);
    if (n > cd_size / 46) return omnic_err(OMNIC_EFORMAT, "%s: central directory too small for %llu entries", z->name, (unsigned long long)n);
    z->e = calloc(n ? n : 1, sizeof(zip_entry));
    if (!z->e) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", z->name);
    const uint8_t *p = d + cd_off, *end = d + cd_off + cd_size;
    for (uint64_t i = 0; i < n; i++) {
        if (end - p < 46 || rd32(p) != 0x02014b50u)
            return omnic_err(OMNIC_EFORMAT, "%s: central directory entry %llu is corrupt", z->name, (unsigned long long)i);
        zip_entry *e = &z->e[z->n];
        uint16_t flags = rd16(p + 8), nl = rd16(p + 28), xl = rd16(p + 30), cl = rd16(p + 32);
        e->method = rd16(p + 10);
        e->crc = rd32(p + 16);
        e->csize = rd32(p + 20);
        e->usize = rd32(p + 24);
        e->lho = rd32(p + 42);
        if ((size_t)(end - p) < 46u + nl + xl + cl)
            return omnic_err(OMNIC_EFORMAT, "%s: central directory entry %llu overruns the directory", z->name, (unsigned long long)i);
        e->name = malloc((size_t)nl + 1);
        if (!e->name) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", z->name);
        memcpy(e->name, p + 46, nl);
        e->name[nl] = 0;
        z->n++;
        if (memchr(p + 46, 0, nl)) return omnic_err(OMNIC_EFORMAT, "%s: entry %llu has a NUL byte in its name", z->name, (unsigned long long)i);
        if (bad_name(e->name)) return omnic_err(OMNIC_EFORMAT, "%s: entry name '%s' is absolute or climbs out of the archive (refused)", z->name, e->name);
        if (flags & 1) return omnic_err(OMNIC_EUNSUP, "%s: entry '%s' is encrypted", z->name, e->name);
        /* ZIP64 extended information. */
        const uint8_t *x = p + 46 + nl, *xe = x + xl;
        while (xe - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if (xe - x - 4 < sz) return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' has a corrupt extra field", z->name, e->name);
            if (id == 1) {
                const uint8_t *f = x + 4, *fe = x + 4 + sz;
                if (e->usize == 0xFFFFFFFFu) { if (fe - f < 8) goto bad64; e->usize = rd64(f); f += 8; }
                if (e->csize == 0xFFFFFFFFu) { if (fe - f < 8) goto bad64; e->csize = rd64(f); f += 8; }
                if (e->lho == 0xFFFFFFFFu) { if (fe - f < 8) goto bad64; e->lho = rd64(f); f += 8; }
            }
            x += 4 + sz;
        }
        if (e->method != 0 && e->method != 8)
            return omnic_err(OMNIC_EUNSUP, "%s: entry '%s' uses compression method %u (only stored and deflate)", z->name, e->name, e->method);
        if (e->method == 0 && e->csize != e->usize)
            return omnic_err(OMNIC_EFORMAT, "%s: stored entry '%s' has different sizes", z->name, e->name);
        if (e->lho > len || len - e->lho < 30 || rd32(d + e->lho) != 0x04034b50u)
            return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' local header out of bounds or corrupt", z->name, e->name);
        uint64_t doff = e->lho + 30 + rd16(d + e->lho + 26) + rd16(d + e->lho + 28);
        if (doff > len || e->csize > len - doff)
            return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' data out of bounds (truncated archive?)", z->name, e->name);
        p += 46 + nl + xl + cl;
    }
    return 0;
bad64:
    return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' has a short ZIP64 extra field", z->name, z->e[z->n - 1].name);
}

static void set_name(zip_archive *z, const char *name) {
    snprintf(z->name, sizeof z->name, "%s", name ? name : "(zip)");
}

int zip_open_mem(const uint8_t *buf, size_t len, const char *name, zip_archive *z) {
    memset(z, 0, sizeof *z);
    set_name(z, name);
    z->data = buf;
    z->len = len;
    int rc = parse(z);
    if (rc) zip_close(z);
    return rc;
}

int zip_open(const char *path, zip_archive *z) {
    memset(z, 0, sizeof *z);
    set_name(z, path);
    int rc = omnic_filemap_open(path, OMNIC_MAP_SHARED, &z->fm);
    if (rc) return rc;
    if (z->fm.size < 22) {
        size_t n = z->fm.size;
        zip_close(z);
        return omnic_err(OMNIC_EFORMAT, "%s: not a ZIP archive (too short, %zu bytes)", path, n);
    }
    z->data = z->fm.data;
    z->len = z->fm.size;
    rc = parse(z);
    if (rc) zip_close(z);
    return rc;
}

void zip_close(zip_archive *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    omnic_filemap_close(&z->fm);
    memset(z, 0, sizeof *z);
}

int zip_find(const zip_archive *z, const char *name) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0) return i;
    return -1;
}

int zip_find_suffix(const zip_archive *z, const char *suffix) {
    size_t ls = strlen(suffix);
    for (int i = 0; i < z->n; i++) {
        size_t ln = strlen(z->e[i].name);
        if (ln >= ls && strcmp(z->e[i].name + ln - ls, suffix) == 0 && (ln == ls || z->e[i].name[ln - ls - 1] == '/'))
            return i;
    }
    return -1;
}

int zip_read(const zip_archive *z, int i, const uint8_t **data, size_t *len, void **owned) {
    *data = NULL;
    *len = 0;
    *owned = NULL;
    if (i < 0 || i >= z->n) return omnic_err(OMNIC_EINVAL, "%s: no entry %d", z->name, i);
    const zip_entry *e = &z->e[i];
    const uint8_t *lh = z->data + e->lho;
    const uint8_t *src = lh + 30 + rd16(lh + 26) + rd16(lh + 28);
    if (e->method == 0) {
        *data = src;
        *len = (size_t)e->usize;
        return 0;
    }
    if (e->usize > ZIP_MAX_INFLATE || e->usize > e->csize * 1032 + 1024)
        return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' claims %llu bytes from %llu compressed (refused: zip bomb cap)",
                         z->name, e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
    uint8_t *out = malloc(e->usize ? (size_t)e->usize : 1);
    if (!out) return omnic_err(OMNIC_ENOMEM, "%s: out of memory inflating '%s'", z->name, e->name);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK) {
        free(out);
        return omnic_err(OMNIC_ENOMEM, "%s: inflateInit failed", z->name);
    }
    uint64_t in_left = e->csize, out_left = e->usize;
    const uint8_t *ip = src;
    uint8_t *op = out;
    int zr = Z_OK;
    while (zr == Z_OK) {
        uInt ic = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uInt oc = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        s.next_in = (Bytef *)(uintptr_t)ip;
        s.avail_in = ic;
        s.next_out = op;
        s.avail_out = oc;
        zr = inflate(&s, Z_NO_FLUSH);
        ip += ic - s.avail_in;
        in_left -= ic - s.avail_in;
        op += oc - s.avail_out;
        out_left -= oc - s.avail_out;
        if (zr == Z_OK && ic == s.avail_in && oc == s.avail_out) zr = Z_BUF_ERROR; /* no progress */
        if (zr == Z_OK && out_left == 0) {
            /* Output is full: the stream must end here. */
            uint8_t probe;
            s.next_out = &probe;
            s.avail_out = 1;
            s.next_in = (Bytef *)(uintptr_t)ip;
            s.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            zr = inflate(&s, Z_NO_FLUSH);
            if (s.avail_out == 0) zr = Z_DATA_ERROR;
        }
    }
    inflateEnd(&s);
    if (zr != Z_STREAM_END || out_left != 0) {
        free(out);
        return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' is corrupt (deflate stream %s)", z->name, e->name,
                         zr == Z_STREAM_END ? "shorter than its declared size" : "invalid or longer than its declared size");
    }
    uint32_t crc = (uint32_t)crc32_z(0, out, (z_size_t)e->usize);
    if (crc != e->crc) {
        free(out);
        return omnic_err(OMNIC_EFORMAT, "%s: entry '%s' CRC mismatch (corrupt)", z->name, e->name);
    }
    *data = out;
    *len = (size_t)e->usize;
    *owned = out;
    return 0;
}
