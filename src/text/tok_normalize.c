/* tok_normalize.c - tokenizer.json "normalizer": null, NFC, NFD, NFKC, NFKD and Sequence of
 * those. Unicode normalization is done by ICU's libicuuc, loaded at run time with
 * dlopen (so the build needs no extra link flag); without ICU such tokenizers fail to
 * load with a clear "unsupported" error. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

typedef const void *(*icu_get_fn)(int *err);
typedef int32_t (*icu_norm_fn)(const void *norm, const uint16_t *src, int32_t len, uint16_t *dst, int32_t cap,
                               int *err);

static struct {
    int ok;
    icu_get_fn get[4]; /* TK_NF_C, D, KC, KD */
    icu_norm_fn normalize;
} icu;
static pthread_once_t icu_once = PTHREAD_ONCE_INIT;

static void *sym_versioned(void *h, const char *name, int ver) {
    char buf[96];
    if (ver < 0) return dlsym(h, name);
    snprintf(buf, sizeof buf, "%s_%d", name, ver);
    return dlsym(h, buf);
}

static int try_handle(void *h, int ver) {
    static const char *const names[4] = {"unorm2_getNFCInstance", "unorm2_getNFDInstance", "unorm2_getNFKCInstance",
                                         "unorm2_getNFKDInstance"};
    int lo = ver, hi = ver;
    if (ver < 0) { /* unknown version: unsuffixed names, then every plausible suffix */
        if (dlsym(h, "unorm2_normalize")) lo = hi = -1;
        else {
            lo = 50;
            hi = 120;
        }
    }
    for (int v = lo; v <= hi; v++) {
        icu_norm_fn nf = (icu_norm_fn)sym_versioned(h, "unorm2_normalize", v);
        if (!nf) continue;
        int all = 1;
        for (int i = 0; i < 4; i++) {
            icu.get[i] = (icu_get_fn)sym_versioned(h, names[i], v);
            if (!icu.get[i]) all = 0;
        }
        if (!all) continue;
        icu.normalize = nf;
        return 1;
    }
    return 0;
}

static void icu_load(void) {
    char name[64];
    for (int v = 120; v >= 49; v--) {
        const char *n = name;
        if (v == 49) n = "libicuuc.so";
        else snprintf(name, sizeof name, "libicuuc.so.%d", v);
        void *h = dlopen(n, RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        if (try_handle(h, v == 49 ? -1 : v) || try_handle(h, -1)) {
            icu.ok = 1;
            return; /* keep the library loaded for the process lifetime */
        }
        dlclose(h);
    }
}

static int add_step(tk_normalizer *nz, json_t *j, const char *file, const char *path, int depth) {
    if (!json_is_object(j)) return omnic_err(OMNIC_ECONFIG, "%s: %s must be an object or null", file, path);
    json_t *t = json_object_get(j, "type");
    if (!json_is_string(t)) return omnic_err(OMNIC_ECONFIG, "%s: %s.type is missing or not a string", file, path);
    const char *ty = json_string_value(t);
    static const char *const forms[4] = {"NFC", "NFD", "NFKC", "NFKD"};
    for (int f = 0; f < 4; f++) {
        if (strcmp(ty, forms[f])) continue;
        if ((size_t)nz->n >= sizeof nz->form / sizeof nz->form[0])
            return omnic_err(OMNIC_EUNSUP, "%s: %s: too many normalization steps", file, path);
        pthread_once(&icu_once, icu_load);
        if (!icu.ok)
            return omnic_err(OMNIC_EUNSUP,
                             "%s: %s.type '%s' needs ICU (libicuuc.so), which could not be loaded on this system",
                             file, path, ty);
        nz->form[nz->n++] = f;
        return OMNIC_OK;
    }
    if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(j, "normalizers");
        if (!json_is_array(list)) return omnic_err(OMNIC_ECONFIG, "%s: %s.normalizers must be an array", file, path);
        if (depth > 8) return omnic_err(OMNIC_EUNSUP, "%s: %s: Sequence nested too deeply", file, path);
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
            int rc = add_step(nz, e, file, sub, depth + 1);
            if (rc) return rc;
        }
        return OMNIC_OK;
    }
    return omnic_err(OMNIC_EUNSUP, "%s: %s.type '%s' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)",
                     file, path, ty);
}

int tk_normalizer_load(tk_normalizer *nz, json_t *j, const char *file) {
    memset(nz, 0, sizeof *nz);
    if (!j || json_is_null(j)) return OMNIC_OK;
    return add_step(nz, j, file, "normalizer", 0);
}

/* UTF-8 (valid) -> UTF-16 */
static size_t to_utf16(const char *s, size_t n, uint16_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int l;
        uint32_t cp = tk_utf8_decode((const unsigned char *)s + i, n - i, &l);
        i += (size_t)l;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out[k++] = (uint16_t)(0xD800 | (cp >> 10));
            out[k++] = (uint16_t)(0xDC00 | (cp & 0x3FF));
        } else
            out[k++] = (uint16_t)cp;
    }
    return k;
}

static int from_utf16(const uint16_t *u, size_t n, tk_buf *out) {
    if (tk_buf_reserve(out, n * 3)) return OMNIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = u[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (u[i + 1] - 0xDC00);
            i++;
        } else if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD;
        char b[4];
        int l = tk_utf8_encode(cp, b);
        memcpy(out->data + out->len, b, (size_t)l);
        out->len += (size_t)l;
    }
    out->data[out->len] = 0;
    return OMNIC_OK;
}

int tk_normalize(const tk_normalizer *nz, const char *s, size_t n, tk_buf *out) {
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    if (nz->n == 0 || i == n) return tk_buf_put(out, s, n); /* ASCII is invariant under every form */
    if (n > INT32_MAX / 8) return omnic_err(OMNIC_EINVAL, "tokenizer: text too long to normalize (%zu bytes)", n);
    size_t cap = n + 16;
    uint16_t *a = malloc(cap * sizeof *a);
    if (!a) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    size_t len = to_utf16(s, n, a);
    for (int k = 0; k < nz->n; k++) {
        int err = 0;
        const void *norm = icu.get[nz->form[k]](&err);
        if (err > 0 || !norm) {
            free(a);
            return omnic_err(OMNIC_EUNSUP, "tokenizer: ICU normalizer unavailable (error %d)", err);
        }
        size_t dcap = len * 3 + 16; /* NFKD can expand up to 18x in theory; retried below */
        for (;;) {
            uint16_t *d = malloc(dcap * sizeof *d);
            if (!d) {
                free(a);
                return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
            }
            err = 0;
            int32_t got = icu.normalize(norm, a, (int32_t)len, d, (int32_t)dcap, &err);
            if (err == 15 /* U_BUFFER_OVERFLOW_ERROR */ && got > 0 && (size_t)got > dcap) {
                free(d);
                dcap = (size_t)got + 16;
                continue;
            }
            if (err > 0) {
                free(d);
                free(a);
                return omnic_err(OMNIC_EFORMAT, "tokenizer: ICU normalization failed (error %d)", err);
            }
            free(a);
            a = d;
            len = (size_t)got;
            break;
        }
    }
    int rc = from_utf16(a, len, out);
    free(a);
    return rc;
}
