/* gguf.c - GGUF reader (validating, over mmap or a buffer) and streaming writer;
 * see gguf.h for the layout. Every read goes through a bounds-checked cursor. */
#include "formats/gguf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#define MAX_KEY 65535
#define MAX_NAME 255
#define MAX_DEPTH 8

/* ---- type tables ---- */

static const struct { const char *name; int belems, bbytes; } ggml_info[] = {
    [GGML_F32] = {"F32", 1, 4},       [GGML_F16] = {"F16", 1, 2},       [GGML_Q4_0] = {"Q4_0", 32, 18},
    [GGML_Q4_1] = {"Q4_1", 32, 20},   [GGML_Q5_0] = {"Q5_0", 32, 22},   [GGML_Q5_1] = {"Q5_1", 32, 24},
    [GGML_Q8_0] = {"Q8_0", 32, 34},   [GGML_Q8_1] = {"Q8_1", 32, 36},   [GGML_Q2_K] = {"Q2_K", 256, 84},
    [GGML_Q3_K] = {"Q3_K", 256, 110}, [GGML_Q4_K] = {"Q4_K", 256, 144}, [GGML_Q5_K] = {"Q5_K", 256, 176},
    [GGML_Q6_K] = {"Q6_K", 256, 210}, [GGML_Q8_K] = {"Q8_K", 256, 292}, [GGML_I8] = {"I8", 1, 1},
    [GGML_I16] = {"I16", 1, 2},       [GGML_I32] = {"I32", 1, 4},       [GGML_I64] = {"I64", 1, 8},
    [GGML_F64] = {"F64", 1, 8},       [GGML_BF16] = {"BF16", 1, 2},
};
#define N_GGML (sizeof ggml_info / sizeof ggml_info[0])

const char *ggml_type_name(uint32_t t) { return t < N_GGML && ggml_info[t].name ? ggml_info[t].name : NULL; }
int ggml_block_elems(uint32_t t) { return t < N_GGML ? ggml_info[t].belems : 0; }

int64_t ggml_row_bytes(uint32_t t, int64_t ne0) {
    if (t >= N_GGML || !ggml_info[t].name || ne0 < 0 || ne0 % ggml_info[t].belems) return -1;
    return ne0 / ggml_info[t].belems * ggml_info[t].bbytes;
}

int ggml_to_dtype(uint32_t t) {
    switch (t) {
    case GGML_F32: return DT_F32;
    case GGML_F16: return DT_F16;
    case GGML_BF16: return DT_BF16;
    case GGML_Q8_0: return DT_Q8_0;
    case GGML_Q4_0: return DT_Q4_0;
    case GGML_Q4_K: return DT_Q4_K;
    default: return -1;
    }
}

int dtype_to_ggml(omnic_dtype dt) {
    switch (dt) {
    case DT_F32: return GGML_F32;
    case DT_F16: return GGML_F16;
    case DT_BF16: return GGML_BF16;
    case DT_Q8_0: return GGML_Q8_0;
    case DT_Q4_0: return GGML_Q4_0;
    case DT_Q4_K: return GGML_Q4_K;
    default: return -1;
    }
}

static const int vsize[GGUF_T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *const vname[GGUF_T_COUNT] = {"u8",  "i8",   "u16",   "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
const char *gguf_type_name(uint32_t t) { return t < GGUF_T_COUNT ? vname[t] : "unknown"; }

/* ---- cursor ---- */

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    const char *path;
    char what[320]; /* what is being read, for messages */
} cur;

static int need(cur *c, uint64_t k) {
    if (k > c->n - c->pos)
        return omnic_err(OMNIC_EFORMAT, "%s: truncated: %s at byte %zu needs %llu bytes, only %zu left (file is %zu bytes)",
                         c->path, c->what, c->pos, (unsigned long long)k, c->n - c->pos, c->n);
    return OMNIC_OK;
}
static int rd(cur *c, void *out, size_t k) {
    int rc = need(c, k);
    if (rc) return rc;
    memcpy(out, c->p + c->pos, k);
    c->pos += k;
    return OMNIC_OK;
}
static int rd_u32(cur *c, uint32_t *v) { return rd(c, v, 4); }
static int rd_u64(cur *c, uint64_t *v) { return rd(c, v, 8); }

static int rd_str(cur *c, gguf_str *s, uint64_t max) {
    uint64_t n;
    int rc = rd_u64(c, &n);
    if (rc) return rc;
    if (n > max)
        return omnic_err(OMNIC_EFORMAT, "%s: %s: string length %llu exceeds the limit of %llu", c->path, c->what,
                         (unsigned long long)n, (unsigned long long)max);
    if ((rc = need(c, n))) return rc;
    s->p = (const char *)c->p + c->pos;
    s->n = n;
    c->pos += n;
    return OMNIC_OK;
}

static char *dup_str(gguf_str s) {
    char *r = malloc(s.n + 1);
    if (r) {
        memcpy(r, s.p, s.n);
        r[s.n] = 0;
    }
    return r;
}

/* Skip (and validate) one value of type t; arrays recurse. kv (top level only):
 * receives the array's element type, count and start, and for arrays of strings
 * a malloc'd element list. */
static int skip_value(cur *c, uint32_t t, int depth, gguf_kv *kv) {
    if (t >= GGUF_T_COUNT) return omnic_err(OMNIC_EFORMAT, "%s: %s: unknown value type %u", c->path, c->what, t);
    if (t == GGUF_T_STR) {
        gguf_str s;
        return rd_str(c, &s, UINT64_MAX);
    }
    if (t != GGUF_T_ARR) {
        int rc = need(c, (uint64_t)vsize[t]);
        if (!rc) c->pos += (size_t)vsize[t];
        return rc;
    }
    if (depth >= MAX_DEPTH) return omnic_err(OMNIC_EFORMAT, "%s: %s: arrays nested deeper than %d", c->path, c->what, MAX_DEPTH);
    uint32_t at;
    uint64_t n;
    int rc;
    if ((rc = rd_u32(c, &at)) || (rc = rd_u64(c, &n))) return rc;
    if (at >= GGUF_T_COUNT) return omnic_err(OMNIC_EFORMAT, "%s: %s: unknown array element type %u", c->path, c->what, at);
    /* every element takes at least one byte (strings 8, arrays 12) */
    uint64_t minsz = at == GGUF_T_STR ? 8 : at == GGUF_T_ARR ? 12 : (uint64_t)vsize[at];
    if (n > (c->n - c->pos) / minsz)
        return omnic_err(OMNIC_EFORMAT, "%s: %s: array of %llu %s elements cannot fit in the %zu bytes left", c->path, c->what,
                         (unsigned long long)n, vname[at], c->n - c->pos);
    if (kv) {
        kv->atype = at;
        kv->n = n;
        kv->arr = c->p + c->pos;
    }
    if (at != GGUF_T_STR && at != GGUF_T_ARR) {
        c->pos += (size_t)(n * minsz);
        return OMNIC_OK;
    }
    gguf_str *strs = NULL;
    if (kv && at == GGUF_T_STR) {
        strs = malloc((n ? n : 1) * sizeof *strs);
        if (!strs) return omnic_err(OMNIC_ENOMEM, "%s: out of memory for %s", c->path, c->what);
        kv->strs = strs;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (at == GGUF_T_STR) {
            gguf_str s;
            if ((rc = rd_str(c, &s, UINT64_MAX))) return rc;
            if (strs) strs[i] = s;
        } else if ((rc = skip_value(c, at, depth + 1, NULL))) {
            return rc;
        }
    }
    return OMNIC_OK;
}

static int read_kv(cur *c, uint64_t idx, gguf_kv *kv) {
    gguf_str key;
    snprintf(c->what, sizeof c->what, "key #%llu", (unsigned long long)idx);
    int rc = rd_str(c, &key, MAX_KEY);
    if (rc) return rc;
    if (!key.n) return omnic_err(OMNIC_EFORMAT, "%s: key #%llu is empty", c->path, (unsigned long long)idx);
    if (memchr(key.p, 0, key.n)) return omnic_err(OMNIC_EFORMAT, "%s: key #%llu contains a NUL byte", c->path, (unsigned long long)idx);
    if (!(kv->key = dup_str(key))) return omnic_err(OMNIC_ENOMEM, "out of memory");
    snprintf(c->what, sizeof c->what, "the value of key '%.200s'", kv->key);
    if ((rc = rd_u32(c, &kv->type))) return rc;
    if (kv->type >= GGUF_T_COUNT)
        return omnic_err(OMNIC_EFORMAT, "%s: key '%s': unknown value type %u", c->path, kv->key, kv->type);
    size_t at = c->pos;
    if (kv->type == GGUF_T_STR) return rd_str(c, &kv->s, UINT64_MAX);
    if ((rc = skip_value(c, kv->type, 0, kv))) return rc;
    const uint8_t *p = c->p + at;
    switch (kv->type) {
    case GGUF_T_U8: kv->v.u = p[0]; break;
    case GGUF_T_I8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_T_BOOL: kv->v.u = p[0] != 0; break;
    case GGUF_T_U16: { uint16_t x; memcpy(&x, p, 2); kv->v.u = x; break; }
    case GGUF_T_I16: { int16_t x; memcpy(&x, p, 2); kv->v.i = x; break; }
    case GGUF_T_U32: { uint32_t x; memcpy(&x, p, 4); kv->v.u = x; break; }
    case GGUF_T_I32: { int32_t x; memcpy(&x, p, 4); kv->v.i = x; break; }
    case GGUF_T_U64: memcpy(&kv->v.u, p, 8); break;
    case GGUF_T_I64: memcpy(&kv->v.i, p, 8); break;
    case GGUF_T_F32: { float x; memcpy(&x, p, 4); kv->v.f = x; break; }
    case GGUF_T_F64: memcpy(&kv->v.f, p, 8); break;
    default: break;
    }
    return OMNIC_OK;
}

static int read_tensor_info(cur *c, uint64_t idx, gguf_tensor *t) {
    gguf_str name;
    snprintf(c->what, sizeof c->what, "the name of tensor #%llu", (unsigned long long)idx);
    int rc = rd_str(c, &name, MAX_NAME);
    if (rc) return rc;
    if (memchr(name.p, 0, name.n)) return omnic_err(OMNIC_EFORMAT, "%s: tensor #%llu: name contains a NUL byte", c->path, (unsigned long long)idx);
    if (!(t->name = dup_str(name))) return omnic_err(OMNIC_ENOMEM, "out of memory");
    snprintf(c->what, sizeof c->what, "the info of tensor '%s'", t->name);
    uint32_t nd, type;
    if ((rc = rd_u32(c, &nd))) return rc;
    if (nd < 1 || nd > GGUF_MAX_DIMS)
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': %u dimensions (1 to %d allowed)", c->path, t->name, nd, GGUF_MAX_DIMS);
    t->ndim = (int)nd;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) t->ne[i] = 1;
    unsigned __int128 numel = 1;
    for (uint32_t i = 0; i < nd; i++) {
        uint64_t v;
        if ((rc = rd_u64(c, &v))) return rc;
        if (v > (uint64_t)INT64_MAX)
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': ne[%u] = %llu is too large", c->path, t->name, i, (unsigned long long)v);
        t->ne[i] = (int64_t)v;
        numel *= v;
        if (numel > (unsigned __int128)INT64_MAX)
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': element count overflows", c->path, t->name);
    }
    if ((rc = rd_u32(c, &type)) || (rc = rd_u64(c, &t->offset))) return rc;
    t->type = type;
    if (!ggml_type_name(type))
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': unknown or unsupported ggml type %u", c->path, t->name, type);
    int64_t rb = ggml_row_bytes(type, t->ne[0]);
    if (rb < 0)
        return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': ne[0] = %lld is not a multiple of the %s block size %d", c->path, t->name,
                         (long long)t->ne[0], ggml_type_name(type), ggml_block_elems(type));
    unsigned __int128 nb = (unsigned __int128)rb * (uint64_t)(numel / (t->ne[0] ? (uint64_t)t->ne[0] : 1));
    if (t->ne[0] == 0) nb = 0;
    if (nb > (unsigned __int128)INT64_MAX) return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': size overflows", c->path, t->name);
    t->nbytes = (uint64_t)nb;
    t->dt = ggml_to_dtype(type);
    return OMNIC_OK;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp((*(gguf_tensor *const *)a)->name, (*(gguf_tensor *const *)b)->name);
}
static int off_cmp(const void *a, const void *b) {
    const gguf_tensor *x = *(gguf_tensor *const *)a, *y = *(gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse(gguf_file *f) {
    cur c = {f->base, f->size, 0, f->path, "the header"};
    char magic[4];
    int rc;
    if (f->size < 4 || (rd(&c, magic, 4), memcmp(magic, "GGUF", 4)))
        return omnic_err(OMNIC_EFORMAT, "%s: not a GGUF file (bad magic: expected \"GGUF\")", f->path);
    if ((rc = rd_u32(&c, &f->version))) return rc;
    if (f->version != 2 && f->version != 3)
        return omnic_err(OMNIC_EFORMAT, "%s: GGUF version %u is not supported (2 and 3 are)", f->path, f->version);
    if ((rc = rd_u64(&c, &f->n_tensors)) || (rc = rd_u64(&c, &f->n_kv))) return rc;
    /* minimal sizes: a kv is >= 13 bytes, a tensor info >= 28 */
    if (f->n_kv > (c.n - c.pos) / 13)
        return omnic_err(OMNIC_EFORMAT, "%s: header claims %llu metadata keys, more than the file can hold", f->path,
                         (unsigned long long)f->n_kv);
    if (f->n_tensors > (c.n - c.pos) / 28)
        return omnic_err(OMNIC_EFORMAT, "%s: header claims %llu tensors, more than the file can hold", f->path,
                         (unsigned long long)f->n_tensors);
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    f->by_name = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->by_name);
    if (!f->kv || !f->tensors || !f->by_name) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        if ((rc = read_kv(&c, i, &f->kv[i]))) return rc;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->kv[j].key, f->kv[i].key))
                return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' appears twice", f->path, f->kv[i].key);
    }
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_kv(f, "general.alignment");
    if (al) {
        if (al->type != GGUF_T_U32)
            return omnic_err(OMNIC_EFORMAT, "%s: general.alignment has type %s, expected u32", f->path, vname[al->type]);
        if (al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return omnic_err(OMNIC_EFORMAT, "%s: general.alignment = %llu is not a power of two", f->path, (unsigned long long)al->v.u);
        f->alignment = (uint32_t)al->v.u;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        if ((rc = read_tensor_info(&c, i, &f->tensors[i]))) return rc;
        f->by_name[i] = &f->tensors[i];
    }
    qsort(f->by_name, f->n_tensors, sizeof *f->by_name, name_cmp);
    for (uint64_t i = 1; i < f->n_tensors; i++)
        if (!strcmp(f->by_name[i]->name, f->by_name[i - 1]->name))
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s' appears twice", f->path, f->by_name[i]->name);
    uint64_t data = ((uint64_t)c.pos + f->alignment - 1) / f->alignment * f->alignment;
    f->data_offset = data;
    if (f->n_tensors && data > f->size)
        return omnic_err(OMNIC_EFORMAT, "%s: truncated: the data section would start at byte %llu, past the end (%zu bytes)",
                         f->path, (unsigned long long)data, f->size);
    uint64_t avail = data <= f->size ? f->size - data : 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment)
            return omnic_err(OMNIC_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u", f->path,
                             t->name, (unsigned long long)t->offset, f->alignment);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return omnic_err(OMNIC_EFORMAT,
                             "%s: tensor '%s' (%s, %llu bytes at data offset %llu) extends past the end of the file "
                             "(data section is %llu bytes; truncated?)",
                             f->path, t->name, ggml_type_name(t->type), (unsigned long long)t->nbytes,
                             (unsigned long long)t->offset, (unsigned long long)avail);
        t->data = f->base + data + t->offset;
    }
    /* no two tensors may share bytes */
    gguf_tensor **byoff = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *byoff);
    if (!byoff) return omnic_err(OMNIC_ENOMEM, "%s: out of memory", f->path);
    memcpy(byoff, f->by_name, f->n_tensors * sizeof *byoff);
    qsort(byoff, f->n_tensors, sizeof *byoff, off_cmp);
    rc = OMNIC_OK;
    for (uint64_t i = 1; i < f->n_tensors; i++)
        if (byoff[i - 1]->nbytes && byoff[i]->nbytes && byoff[i]->offset < byoff[i - 1]->offset + byoff[i - 1]->nbytes) {
            rc = omnic_err(OMNIC_EFORMAT, "%s: tensors '%s' and '%s' overlap in the data section", f->path, byoff[i - 1]->name,
                           byoff[i]->name);
            break;
        }
    free(byoff);
    return rc;
}

int gguf_parse_mem(const void *data, size_t size, const char *name, gguf_file **out) {
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) return omnic_err(OMNIC_ENOMEM, "out of memory");
    f->path = strdup(name ? name : "(buffer)");
    f->base = data;
    f->size = size;
    int rc = f->path ? parse(f) : omnic_err(OMNIC_ENOMEM, "out of memory");
    if (rc) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return OMNIC_OK;
}

int gguf_open(const char *path, omnic_map_mode mode, gguf_file **out) {
    *out = NULL;
    omnic_filemap fm;
    int rc = omnic_filemap_open(path, mode, &fm);
    if (rc) return rc;
    if (fm.size == 0) return omnic_err(OMNIC_EFORMAT, "%s: empty file (not GGUF)", path);
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        omnic_filemap_close(&fm);
        return omnic_err(OMNIC_ENOMEM, "out of memory");
    }
    f->path = strdup(path);
    f->base = fm.data;
    f->size = fm.size;
    f->fm = fm;
    rc = f->path ? parse(f) : omnic_err(OMNIC_ENOMEM, "out of memory");
    if (rc) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return OMNIC_OK;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) {
            free(f->kv[i].key);
            free(f->kv[i].strs);
        }
    if (f->tensors)
        for (uint64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    free(f->by_name);
    omnic_filemap_close(&f->fm);
    free(f->path);
    free(f);
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key && !strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    int64_t lo = 0, hi = (int64_t)f->n_tensors - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (!c) return f->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    switch (kv->type) {
    case GGUF_T_U8: case GGUF_T_U16: case GGUF_T_U32: case GGUF_T_U64:
        if (kv->v.u > (uint64_t)INT64_MAX) break;
        *out = (int64_t)kv->v.u;
        return OMNIC_OK;
    case GGUF_T_I8: case GGUF_T_I16: case GGUF_T_I32: case GGUF_T_I64: *out = kv->v.i; return OMNIC_OK;
    default:
        return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' has type %s, expected an integer", f->path, key, vname[kv->type]);
    }
    return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' is out of range", f->path, key);
}

int gguf_get_float(const gguf_file *f, const char *key, double *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_T_F32 && kv->type != GGUF_T_F64)
        return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' has type %s, expected f32", f->path, key, vname[kv->type]);
    *out = kv->v.f;
    return OMNIC_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_T_BOOL)
        return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' has type %s, expected bool", f->path, key, vname[kv->type]);
    *out = (int)kv->v.u;
    return OMNIC_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, char *buf, size_t cap) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_T_STR)
        return omnic_err(OMNIC_EFORMAT, "%s: metadata key '%s' has type %s, expected string", f->path, key, vname[kv->type]);
    if (!cap) return OMNIC_OK;
    size_t n = kv->s.n < cap - 1 ? (size_t)kv->s.n : cap - 1;
    memcpy(buf, kv->s.p, n);
    buf[n] = 0;
    return OMNIC_OK;
}

/* ---- writer ---- */

typedef struct { char *name; uint32_t type; int ndim; int64_t ne[GGUF_MAX_DIMS]; uint64_t off, nbytes; } wt;

struct gguf_writer {
    uint8_t *kv;         /* serialized metadata */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    wt *t;
    int n_t, cap_t;
    uint64_t data_len;   /* bytes of the data section so far (declared) */
    int cur;             /* tensor being written */
    uint64_t cur_done;   /* bytes of it written */
    uint64_t pos;        /* bytes written to the data section */
};

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->t);
    free(w->kv);
    free(w);
}

static int put(gguf_writer *w, const void *p, size_t n) {
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *q = realloc(w->kv, cap);
        if (!q) return omnic_err(OMNIC_ENOMEM, "out of memory writing GGUF metadata");
        w->kv = q;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return OMNIC_OK;
}
static int put_u32(gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static int put_u64(gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static int put_str(gguf_writer *w, const char *s) {
    uint64_t n = strlen(s);
    int rc = put_u64(w, n);
    return rc ? rc : put(w, s, n);
}
static int put_key(gguf_writer *w, const char *key, uint32_t type) {
    int rc = put_str(w, key);
    if (!rc) rc = put_u32(w, type);
    if (!rc) w->n_kv++;
    return rc;
}

int gguf_w_raw(gguf_writer *w, const char *key, uint32_t vtype, const void *val, size_t len) {
    int rc = put_key(w, key, vtype);
    return rc ? rc : put(w, val, len);
}
int gguf_w_u32(gguf_writer *w, const char *key, uint32_t v) { return gguf_w_raw(w, key, GGUF_T_U32, &v, 4); }
int gguf_w_i32(gguf_writer *w, const char *key, int32_t v) { return gguf_w_raw(w, key, GGUF_T_I32, &v, 4); }
int gguf_w_u64(gguf_writer *w, const char *key, uint64_t v) { return gguf_w_raw(w, key, GGUF_T_U64, &v, 8); }
int gguf_w_f32(gguf_writer *w, const char *key, float v) { return gguf_w_raw(w, key, GGUF_T_F32, &v, 4); }
int gguf_w_bool(gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return gguf_w_raw(w, key, GGUF_T_BOOL, &b, 1);
}
int gguf_w_str(gguf_writer *w, const char *key, const char *s) {
    int rc = put_key(w, key, GGUF_T_STR);
    return rc ? rc : put_str(w, s);
}
int gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *s, uint64_t n) {
    int rc = put_key(w, key, GGUF_T_ARR);
    if (!rc) rc = put_u32(w, GGUF_T_STR);
    if (!rc) rc = put_u64(w, n);
    for (uint64_t i = 0; !rc && i < n; i++) rc = put_str(w, s[i]);
    return rc;
}
static int put_arr(gguf_writer *w, const char *key, uint32_t at, const void *v, uint64_t n, size_t es) {
    int rc = put_key(w, key, GGUF_T_ARR);
    if (!rc) rc = put_u32(w, at);
    if (!rc) rc = put_u64(w, n);
    if (!rc) rc = put(w, v, (size_t)n * es);
    return rc;
}
int gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) { return put_arr(w, key, GGUF_T_I32, v, n, 4); }
int gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n) { return put_arr(w, key, GGUF_T_F32, v, n, 4); }

int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, int ndim, const int64_t *ne) {
    if (ndim < 1 || ndim > GGUF_MAX_DIMS || strlen(name) > MAX_NAME)
        return omnic_err(OMNIC_EINVAL, "GGUF writer: tensor '%s': bad name length or %d dimensions", name, ndim);
    int64_t rb = ggml_row_bytes(type, ne[0]);
    if (rb < 0)
        return omnic_err(OMNIC_EINVAL, "GGUF writer: tensor '%s': %lld columns are not a multiple of the %s block size", name,
                         (long long)ne[0], ggml_type_name(type) ? ggml_type_name(type) : "?");
    uint64_t rows = 1;
    for (int i = 1; i < ndim; i++) rows *= (uint64_t)ne[i];
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? 2 * w->cap_t : 64;
        wt *q = realloc(w->t, (size_t)cap * sizeof *q);
        if (!q) return omnic_err(OMNIC_ENOMEM, "out of memory");
        w->t = q;
        w->cap_t = cap;
    }
    wt *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return omnic_err(OMNIC_ENOMEM, "out of memory");
    t->type = type;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->ne[i] = ne[i];
    t->nbytes = (uint64_t)rb * rows;
    t->off = (w->data_len + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    w->data_len = t->off + t->nbytes;
    return w->n_t++;
}

uint64_t gguf_w_tensor_bytes(const gguf_writer *w, int idx) { return idx >= 0 && idx < w->n_t ? w->t[idx].nbytes : 0; }

static int fwr(FILE *f, const char *path, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, f) != n) return omnic_err(OMNIC_EIO, "%s: write failed: %s", path, strerror(errno));
    return OMNIC_OK;
}
static int pad(FILE *f, const char *path, uint64_t n) {
    static const uint8_t z[GGUF_DEFAULT_ALIGNMENT];
    return fwr(f, path, z, (size_t)n);
}

int gguf_w_header(gguf_writer *w, FILE *f, const char *path) {
    uint32_t ver = 3;
    uint64_t nt = (uint64_t)w->n_t;
    int rc = fwr(f, path, "GGUF", 4);
    if (!rc) rc = fwr(f, path, &ver, 4);
    if (!rc) rc = fwr(f, path, &nt, 8);
    if (!rc) rc = fwr(f, path, &w->n_kv, 8);
    if (!rc) rc = fwr(f, path, w->kv, w->kv_len);
    uint64_t len = 24 + w->kv_len;
    for (int i = 0; !rc && i < w->n_t; i++) {
        wt *t = &w->t[i];
        uint64_t n = strlen(t->name);
        uint32_t nd = (uint32_t)t->ndim;
        rc = fwr(f, path, &n, 8);
        if (!rc) rc = fwr(f, path, t->name, (size_t)n);
        if (!rc) rc = fwr(f, path, &nd, 4);
        for (int d = 0; !rc && d < t->ndim; d++) rc = fwr(f, path, &t->ne[d], 8);
        if (!rc) rc = fwr(f, path, &t->type, 4);
        if (!rc) rc = fwr(f, path, &t->off, 8);
        len += 8 + n + 4 + 8 * (uint64_t)t->ndim + 4 + 8;
    }
    if (!rc) rc = pad(f, path, (GGUF_DEFAULT_ALIGNMENT - len % GGUF_DEFAULT_ALIGNMENT) % GGUF_DEFAULT_ALIGNMENT);
    w->cur = 0;
    w->cur_done = 0;
    w->pos = 0;
    return rc;
}

int gguf_w_data(gguf_writer *w, FILE *f, const char *path, const void *data, size_t nbytes) {
    while (w->cur < w->n_t && w->t[w->cur].nbytes == 0) w->cur++;
    if (w->cur >= w->n_t) return omnic_err(OMNIC_EINVAL, "GGUF writer: more data than declared tensors");
    wt *t = &w->t[w->cur];
    if (nbytes > t->nbytes - w->cur_done)
        return omnic_err(OMNIC_EINVAL, "GGUF writer: tensor '%s': %zu bytes written past its size %llu", t->name, nbytes,
                         (unsigned long long)t->nbytes);
    int rc = OMNIC_OK;
    if (w->cur_done == 0) {
        rc = pad(f, path, t->off - w->pos);
        w->pos = t->off;
    }
    if (!rc) rc = fwr(f, path, data, nbytes);
    w->pos += nbytes;
    w->cur_done += nbytes;
    if (w->cur_done == t->nbytes) {
        w->cur++;
        w->cur_done = 0;
    }
    return rc;
}

int gguf_w_finish(gguf_writer *w, FILE *f, const char *path) {
    while (w->cur < w->n_t && w->t[w->cur].nbytes == 0) w->cur++;
    if (w->cur != w->n_t)
        return omnic_err(OMNIC_EINVAL, "GGUF writer: tensor '%s' has no data", w->t[w->cur].name);
    int rc = pad(f, path, (GGUF_DEFAULT_ALIGNMENT - w->pos % GGUF_DEFAULT_ALIGNMENT) % GGUF_DEFAULT_ALIGNMENT);
    if (!rc && fflush(f) != 0) rc = omnic_err(OMNIC_EIO, "%s: write failed: %s", path, strerror(errno));
    return rc;
}
