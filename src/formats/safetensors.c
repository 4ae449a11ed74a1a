/* safetensors.c - parse and validate safetensors headers over the mapped file
 * (core/filemap: mmap or a huge-page copy). Every
 * offset, size and shape is checked before a pointer into the map is formed. */
#include "formats/safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#define ST_MAX_HEADER (256u << 20)

typedef struct { size_t begin, end; int idx; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int parse_tensor(const char *path, const char *name, json_t *v, size_t data_size,
                        const uint8_t *data, st_tensor *t) {
    if (!json_is_object(v)) return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': header entry is not an object", path, name);
    json_t *jdt = json_object_get(v, "dtype"), *jsh = json_object_get(v, "shape"),
           *joff = json_object_get(v, "data_offsets");
    if (!json_is_string(jdt)) return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    int dt = dtype_from_name(json_string_value(jdt));
    if (dt < 0) return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name, json_string_value(jdt));
    if (!json_is_array(jsh) || json_array_size(jsh) > ST_MAX_DIMS)
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': \"shape\" must be an array of at most %d integers", path, name, ST_MAX_DIMS);
    if (!json_is_array(joff) || json_array_size(joff) != 2 || !json_is_integer(json_array_get(joff, 0)) ||
        !json_is_integer(json_array_get(joff, 1)))
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': \"data_offsets\" must be [begin, end]", path, name);
    t->dt = (omnic_dtype)dt;
    t->ndim = (int)json_array_size(jsh);
    unsigned __int128 numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(jsh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, i);
        t->shape[i] = json_integer_value(d);
        numel *= (uint64_t)t->shape[i];
        if (numel > ((unsigned __int128)1 << 62))
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': shape too large", path, name);
    }
    json_int_t b = json_integer_value(json_array_get(joff, 0)), e = json_integer_value(json_array_get(joff, 1));
    if (b < 0 || e < b || (uint64_t)e > data_size)
        return omnic_err(OMNIC_EFORMAT,
                         "%s: tensor '%s': data_offsets [%lld, %lld] out of range (data section is %zu bytes; file truncated?)",
                         path, name, (long long)b, (long long)e, data_size);
    unsigned __int128 want = numel * (unsigned)dtype_size(t->dt);
    if (want != (unsigned __int128)(e - b)) {
        char dims[160] = "";
        for (int i = 0, l = 0; i < t->ndim && l < (int)sizeof dims - 24; i++)
            l += snprintf(dims + l, sizeof dims - (size_t)l, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': data_offsets span %lld bytes but shape [%s] x %s needs %llu",
                         path, name, (long long)(e - b), dims, dtype_name(t->dt), (unsigned long long)want);
    }
    t->data = data + b;
    t->nbytes = (size_t)(e - b);
    return OMNIC_OK;
}

int st_add_file(st_set *set, const char *path) {
    omnic_filemap fm;
    int rc = omnic_filemap_open(path, set->mode, &fm);
    if (rc) return rc;
    st_file *nf = realloc(set->files, (size_t)(set->n_files + 1) * sizeof *nf);
    if (!nf) {
        omnic_filemap_close(&fm);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    set->files = nf;
    int fi = set->n_files++;
    set->files[fi] = (st_file){strdup(path), fm};
    size_t size = fm.size;
    const uint8_t *map = fm.data;

    if (size < 8) return omnic_err(OMNIC_EFORMAT, "%s: file too short for a safetensors header (%zu bytes)", path, size);
    uint64_t hlen;
    memcpy(&hlen, map, 8);
    if (hlen > size - 8 || hlen > ST_MAX_HEADER)
        return omnic_err(OMNIC_EFORMAT, "%s: header length %llu exceeds the file size %zu (truncated or not safetensors)",
                         path, (unsigned long long)hlen, size);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return omnic_err(OMNIC_EFORMAT, "%s: invalid header JSON: %s (at byte %d)", path, jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return omnic_err(OMNIC_EFORMAT, "%s: header is not a JSON object", path);
    }
    size_t data_size = size - 8 - (size_t)hlen;
    const uint8_t *data = (const uint8_t *)map + 8 + hlen;
    size_t n = json_object_size(root), base = (size_t)set->n_tensors;
    st_tensor *nt = realloc(set->tensors, (base + n) * sizeof *nt);
    span *spans = malloc((n ? n : 1) * sizeof *spans);
    if (!nt || !spans) {
        free(spans);
        if (nt) set->tensors = nt;
        json_decref(root);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    set->tensors = nt;
    const char *key;
    json_t *v;
    size_t ns = 0;
    rc = OMNIC_OK;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_tensor *t = &set->tensors[set->n_tensors];
        memset(t, 0, sizeof *t);
        rc = parse_tensor(path, key, v, data_size, data, t);
        if (rc) break;
        t->name = strdup(key);
        t->file = fi;
        spans[ns++] = (span){(size_t)((const uint8_t *)t->data - data), (size_t)((const uint8_t *)t->data - data) + t->nbytes,
                             set->n_tensors};
        set->n_tensors++;
    }
    if (!rc) {
        qsort(spans, ns, sizeof *spans, span_cmp);
        for (size_t i = 1; i < ns; i++) {
            if (spans[i].begin < spans[i - 1].end && spans[i].end > spans[i].begin) {
                rc = omnic_err(OMNIC_EFORMAT, "%s: tensors '%s' and '%s' overlap in the data section", path,
                               set->tensors[spans[i - 1].idx].name, set->tensors[spans[i].idx].name);
                break;
            }
        }
    }
    free(spans);
    json_decref(root);
    return rc;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

int st_finish(st_set *set) {
    qsort(set->tensors, (size_t)set->n_tensors, sizeof *set->tensors, name_cmp);
    for (int i = 1; i < set->n_tensors; i++)
        if (strcmp(set->tensors[i].name, set->tensors[i - 1].name) == 0)
            return omnic_err(OMNIC_EFORMAT, "tensor '%s' appears in both %s and %s", set->tensors[i].name,
                             set->files[set->tensors[i - 1].file].path, set->files[set->tensors[i].file].path);
    return OMNIC_OK;
}

const st_tensor *st_find(const st_set *set, const char *name) {
    int lo = 0, hi = set->n_tensors - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(set->tensors[mid].name, name);
        if (c == 0) return &set->tensors[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

int64_t st_numel(const st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static int open_index(st_set *set, const char *dir, const char *index_path) {
    json_error_t jerr;
    json_t *root = json_load_file(index_path, 0, &jerr);
    if (!root) return omnic_err(OMNIC_EFORMAT, "%s: invalid JSON: %s (line %d)", index_path, jerr.text, jerr.line);
    json_t *wm = json_object_get(root, "weight_map");
    int rc = OMNIC_OK;
    if (!json_is_object(wm)) {
        rc = omnic_err(OMNIC_EFORMAT, "%s: missing object \"weight_map\"", index_path);
        goto done;
    }
    /* Open each distinct shard once, in first-seen order. */
    const char *key;
    json_t *v;
    json_t *opened = json_object();
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: weight_map[\"%s\"] is not a file name", index_path, key);
            break;
        }
        const char *shard = json_string_value(v);
        if (strchr(shard, '/') || strcmp(shard, "..") == 0 || !*shard) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: weight_map[\"%s\"]: bad shard name '%s'", index_path, key, shard);
            break;
        }
        if (json_object_get(opened, shard)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, shard);
        if ((rc = st_add_file(set, path))) break;
        json_object_set_new(opened, shard, json_true());
    }
    json_decref(opened);
    if (!rc) rc = st_finish(set);
    /* Every listed tensor must be where the index says. */
    if (!rc) {
        json_object_foreach(wm, key, v) {
            const st_tensor *t = st_find(set, key);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, json_string_value(v));
            if (!t || strcmp(set->files[t->file].path, path) != 0) {
                rc = omnic_err(OMNIC_ETENSOR, "%s: tensor '%s' is listed in shard %s but not found there", index_path,
                               key, json_string_value(v));
                break;
            }
        }
    }
done:
    json_decref(root);
    return rc;
}

int st_open_dir(const char *dir, omnic_map_mode mode, st_set **out) {
    *out = NULL;
    st_set *set = calloc(1, sizeof *set);
    if (!set) return omnic_err(OMNIC_ENOMEM, "out of memory");
    set->mode = mode;
    char path[4096];
    int rc;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK) == 0) {
        rc = open_index(set, dir, path);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (access(path, F_OK) != 0)
            rc = omnic_err(OMNIC_EIO, "%s: no model.safetensors or model.safetensors.index.json in this folder", dir);
        else if (!(rc = st_add_file(set, path)))
            rc = st_finish(set);
    }
    if (rc) {
        st_close(set);
        return rc;
    }
    *out = set;
    return OMNIC_OK;
}

void st_close(st_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n_tensors; i++) free(set->tensors[i].name);
    for (int i = 0; i < set->n_files; i++) {
        omnic_filemap_close(&set->files[i].fm);
        free(set->files[i].path);
    }
    free(set->tensors);
    free(set->files);
    free(set);
}
