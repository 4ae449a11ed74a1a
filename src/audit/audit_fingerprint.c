/* audit_fingerprint.c - compact, shareable fingerprints of a checkpoint's
 * components (`omnic audit --fingerprint A -o FP.json`) and reading them back
 * for `omnic audit A FP.json`.
 *
 * Per comparable item (tensor or fused part): its role, layer and shape, the
 * SHA-256 of its values as float32 in the canonical (HF) layout (so a lossless
 * dtype change keeps it) and a CountSketch of AU_SKETCH numbers: element e of
 * the mean-centred, unit-variance tensor is added with a pseudo-random sign to
 * one of AU_SKETCH buckets, both chosen by a hash of (role, e) that does not
 * depend on the layer. The cosine of two sketches estimates the Pearson
 * correlation of the two tensors (error ~ 1/sqrt(AU_SKETCH) for unrelated
 * ones), and sketches of different layers give the null distribution. No
 * weight values are stored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_impl.h"
#include "audit/audit_sha256.h"
#include "core/error.h"

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

int au_sketch(const au_item *it, float sk[AU_SKETCH], char sha[65]) {
    int64_t C = it->cols;
    float *row = malloc((size_t)C * sizeof *row);
    double *s1 = calloc(AU_SKETCH, sizeof *s1), *s0 = calloc(AU_SKETCH, sizeof *s0);
    if (!row || !s1 || !s0) {
        free(row), free(s1), free(s0);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    uint64_t seed = str_hash(it->role);
    sha256_ctx h;
    sha256_init(&h);
    double sum = 0, sq = 0;
    int rc = 0;
    int vec = it->t->ndim <= 1;
    int64_t R = vec ? 1 : it->rows, CC = vec ? it->rows : C;
    if (vec) {
        free(row);
        row = malloc((size_t)CC * sizeof *row);
        if (!row) rc = omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    for (int64_t r = 0; !rc && r < R; r++) {
        if ((rc = vec ? au_read_rows(it->t, it->row0, CC, row) : au_read_rows(it->t, it->row0 + r, 1, row))) break;
        sha256_update(&h, row, (size_t)CC * sizeof *row);
        for (int64_t j = 0; j < CC; j++) {
            uint64_t x = mix(seed ^ (uint64_t)(r * CC + j));
            int b = (int)(x % AU_SKETCH);
            double sg = (x >> 63) ? -1.0 : 1.0;
            s1[b] += sg * row[j], s0[b] += sg;
            sum += row[j], sq += (double)row[j] * row[j];
        }
    }
    if (!rc) {
        double n = (double)(R * CC), mu = sum / n, var = sq / n - mu * mu;
        double inv = var > 0 ? 1.0 / sqrt(var * n / AU_SKETCH) : 0;
        for (int k = 0; k < AU_SKETCH; k++) sk[k] = (float)((s1[k] - mu * s0[k]) * inv);
        uint8_t d[32];
        sha256_final(&h, d);
        sha256_hex(d, sha);
    }
    free(row), free(s1), free(s0);
    return rc;
}

int au_fingerprint_write(au_source *a, int mask, const char *path, int progress) {
    au_item *it;
    int n, rc;
    if ((rc = au_items(a, mask, &it, &n))) return rc;
    json_t *o = json_object(), *ts = json_array();
    const char *bn = strrchr(a->path, '/');
    json_object_set_new(o, "format", json_string("omnic-audit-fingerprint"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "source", json_string(bn && bn[1] ? bn + 1 : a->path));
    json_object_set_new(o, "sketch_size", json_integer(AU_SKETCH));
    char dig[65];
    if (!audit_manifest_digest(a->path, dig)) json_object_set_new(o, "manifest_sha256", json_string(dig));
    float sk[AU_SKETCH];
    for (int i = 0; i < n && !rc; i++) {
        au_progress(progress, (double)i / n, it[i].t->name);
        if ((int)it[i].t->dt < 0) continue;
        char sha[65];
        if ((rc = au_sketch(&it[i], sk, sha))) break;
        json_t *x = json_object(), *s = json_array();
        for (int k = 0; k < AU_SKETCH; k++) json_array_append_new(s, json_real(round(sk[k] * 1e4) / 1e4));
        json_object_set_new(x, "component", json_string(au_comp_name(it[i].comp)));
        json_object_set_new(x, "layer", json_integer(it[i].layer));
        json_object_set_new(x, "role", json_string(it[i].role));
        json_object_set_new(x, "name", json_string(it[i].t->name));
        json_object_set_new(x, "rows", json_integer(it[i].rows));
        json_object_set_new(x, "cols", json_integer(it[i].cols));
        json_object_set_new(x, "ndim", json_integer(it[i].t->ndim));
        json_object_set_new(x, "values_sha256", json_string(sha));
        json_object_set_new(x, "sketch", s);
        json_array_append_new(ts, x);
    }
    au_progress(progress, 1, "done");
    json_object_set_new(o, "tensors", ts);
    if (!rc && json_dump_file(o, path, JSON_COMPACT)) rc = omnic_err(OMNIC_EIO, "%s: cannot write the fingerprint", path);
    json_decref(o);
    free(it);
    return rc;
}

/* B items from a fingerprint: the tensors are placeholders (unreadable) that
 * carry the name and the shape; sketches and digests in parallel arrays */
int au_fp_items(json_t *fp, au_item **out, int *nout, float **sketches, char (**shas)[65]) {
    *out = NULL, *nout = 0, *sketches = NULL, *shas = NULL;
    const char *fmt = json_string_value(json_object_get(fp, "format"));
    json_t *ts = json_object_get(fp, "tensors");
    if (!fmt || strcmp(fmt, "omnic-audit-fingerprint") || !json_is_array(ts))
        return omnic_err(OMNIC_EFORMAT, "fingerprint: not an omnic audit fingerprint (\"format\" / \"tensors\" missing)");
    if (json_integer_value(json_object_get(fp, "sketch_size")) != AU_SKETCH)
        return omnic_err(OMNIC_EFORMAT, "fingerprint: sketch_size must be %d", AU_SKETCH);
    size_t n = json_array_size(ts);
    au_item *it = calloc(n + 1, sizeof *it + sizeof(au_tensor));
    float *sk = calloc((n + 1) * AU_SKETCH, sizeof *sk);
    char(*sh)[65] = calloc(n + 1, 65);
    if (!it || !sk || !sh) {
        free(it), free(sk), free(sh);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    au_tensor *tt = (au_tensor *)(it + n + 1);
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(ts, i), *s = json_object_get(x, "sketch");
        const char *comp = json_string_value(json_object_get(x, "component"));
        const char *role = json_string_value(json_object_get(x, "role"));
        const char *name = json_string_value(json_object_get(x, "name"));
        const char *sha = json_string_value(json_object_get(x, "values_sha256"));
        json_int_t rows = json_integer_value(json_object_get(x, "rows")), cols = json_integer_value(json_object_get(x, "cols"));
        if (!comp || !role || !name || !sha || strlen(sha) != 64 || rows <= 0 || cols <= 0 || !json_is_array(s) ||
            json_array_size(s) != AU_SKETCH) {
            free(it), free(sk), free(sh);
            return omnic_err(OMNIC_EFORMAT, "fingerprint: tensor entry %zu is incomplete", i);
        }
        int c = -1;
        for (int q = 0; q < AU_NCOMP; q++)
            if (!strcmp(comp, au_comp_name(q))) c = q;
        if (c < 0) continue;
        au_tensor *t = &tt[k];
        t->name = name, t->dt = (omnic_dtype)-1, t->ndim = (int)json_integer_value(json_object_get(x, "ndim"));
        t->rows = rows, t->cols = cols;
        au_item *y = &it[k];
        y->comp = c, y->layer = (int)json_integer_value(json_object_get(x, "layer")), y->t = t;
        snprintf(y->role, sizeof y->role, "%s", role);
        y->rows = rows, y->cols = cols;
        for (int q = 0; q < AU_SKETCH; q++) sk[(size_t)k * AU_SKETCH + q] = (float)json_number_value(json_array_get(s, q));
        memcpy(sh[k], sha, 65);
        k++;
    }
    *out = it, *nout = k, *sketches = sk, *shas = sh;
    return 0;
}
