/* audit_source.c - open a checkpoint for the audit (HF safetensors folder or
 * file, or a GGUF file / folder holding one) and read any tensor's rows as
 * float32, whatever its storage type (F32/F16/BF16/F64, Q8_0/Q4_0/Q4_K), from
 * the memory map: nothing is loaded whole. GGUF shapes are given in Hugging
 * Face order (ne reversed) and the llama.cpp fork's per-head q/k row order
 * (llm.md §6) is undone on read, so rows line up with the HF layout. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "kernels/quant.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int readable(omnic_dtype dt) {
    return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16 || dt == DT_F64 || dt == DT_Q8_0 || dt == DT_Q4_0 ||
           dt == DT_Q4_K;
}

/* rows/cols view and a size check; marks the tensor unreadable if it fails */
static void set_view(au_tensor *t) {
    t->rows = t->ndim >= 1 ? t->shape[0] : 1;
    t->cols = 1;
    for (int k = 1; k < t->ndim; k++) t->cols *= t->shape[k];
    if (t->ndim == 0) t->rows = 1;
    if (!readable(t->dt)) {
        t->dt = (omnic_dtype)-1;
        return;
    }
    int64_t rb = t->ndim == 1 ? dtype_row_bytes(t->dt, t->rows) : dtype_row_bytes(t->dt, t->cols);
    int64_t need = t->ndim == 1 ? rb : rb * t->rows;
    if (rb < 0 || (uint64_t)need != t->nbytes || (t->ndim == 1 && dtype_is_block(t->dt))) t->dt = (omnic_dtype)-1;
}

static int open_gguf(au_source *s, const char *path) {
    gguf_file *g;
    int rc = gguf_open(path, OMNIC_MAP_SHARED, &g);
    if (rc) return rc;
    s->gg = g;
    s->is_gguf = 1;
    char arch[64] = "", key[128];
    gguf_get_str(g, "general.architecture", arch, sizeof arch);
    int64_t H = 0, KV = 0;
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    gguf_get_int(g, key, &H);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (gguf_get_int(g, key, &KV)) KV = H;
    int fork = !strcmp(arch, "hyperclovax") || !strcmp(arch, "llama") || !strcmp(arch, "hcx-seed-think");
    s->n = (int)g->n_tensors;
    s->t = calloc((size_t)s->n + 1, sizeof *s->t);
    if (!s->t) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int nq = 0;
    for (int i = 0; i < s->n; i++) {
        const gguf_tensor *gt = &g->tensors[i];
        au_tensor *t = &s->t[i];
        t->name = gt->name;
        t->dt = (omnic_dtype)gt->dt;
        t->ndim = gt->ndim;
        for (int k = 0; k < gt->ndim; k++) t->shape[k] = gt->ne[gt->ndim - 1 - k];
        t->data = gt->data;
        t->nbytes = gt->nbytes;
        set_view(t);
        if (t->dt == DT_Q8_0 || t->dt == DT_Q4_0 || t->dt == DT_Q4_K) nq++;
        const char *dot = strncmp(t->name, "blk.", 4) ? NULL : strchr(t->name + 4, '.');
        if (fork && dot && H > 0) {
            int isq = !strncmp(dot, ".attn_q.", 8), isk = !strncmp(dot, ".attn_k.", 8);
            int64_t heads = isq ? H : isk ? KV : 0;
            if (heads > 0 && t->rows % heads == 0 && (t->rows / heads) % 2 == 0) t->qk_group = (int)(t->rows / heads);
        }
    }
    snprintf(s->kind, sizeof s->kind, "gguf %s%s", arch[0] ? arch : "?", nq ? ", quantized" : "");
    return 0;
}

static int open_st(au_source *s, const char *path, int is_dir) {
    st_set *set = NULL;
    int rc;
    if (is_dir) {
        rc = st_open_dir(path, OMNIC_MAP_SHARED, &set);
    } else {
        set = calloc(1, sizeof *set);
        if (!set) return omnic_err(OMNIC_ENOMEM, "out of memory");
        rc = st_add_file(set, path);
        if (!rc) rc = st_finish(set);
        if (rc) {
            st_close(set);
            set = NULL;
        }
    }
    if (rc) return rc;
    s->st = set;
    s->n = set->n_tensors;
    s->t = calloc((size_t)s->n + 1, sizeof *s->t);
    if (!s->t) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int cnt[DT_COUNT] = {0};
    for (int i = 0; i < s->n; i++) {
        const st_tensor *st = &set->tensors[i];
        au_tensor *t = &s->t[i];
        t->name = st->name;
        t->dt = st->dt;
        t->ndim = st->ndim;
        for (int k = 0; k < st->ndim; k++) t->shape[k] = st->shape[k];
        t->data = st->data;
        t->nbytes = st->nbytes;
        if ((int)st->dt >= 0 && st->dt < DT_COUNT) cnt[st->dt]++;
        set_view(t);
    }
    int best = DT_F32;
    for (int d = 0; d < DT_COUNT; d++)
        if (cnt[d] > cnt[best]) best = d;
    snprintf(s->kind, sizeof s->kind, "safetensors, mostly %s", dtype_name((omnic_dtype)best));
    if (is_dir) {
        char cp[4096];
        snprintf(cp, sizeof cp, "%s/config.json", path);
        s->config = json_load_file(cp, 0, NULL); /* optional */
    }
    return 0;
}

int au_open(const char *path, au_source **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return omnic_err(OMNIC_EIO, "%s: no such file or folder", path);
    au_source *s = calloc(1, sizeof *s);
    if (!s) return omnic_err(OMNIC_ENOMEM, "out of memory");
    s->path = strdup(path);
    int rc;
    if (S_ISDIR(sb.st_mode)) {
        char p[4096], gg[4096] = "";
        snprintf(p, sizeof p, "%s/model.safetensors", path);
        int has_st = access(p, R_OK) == 0;
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", path);
        has_st |= access(p, R_OK) == 0;
        if (!has_st) { /* a folder with one .gguf */
            DIR *d = opendir(path);
            struct dirent *e;
            int ng = 0;
            while (d && (e = readdir(d)))
                if (ends_with(e->d_name, ".gguf")) {
                    ng++;
                    snprintf(gg, sizeof gg, "%s/%s", path, e->d_name);
                }
            if (d) closedir(d);
            if (ng > 1) {
                au_close(s);
                return omnic_err(OMNIC_EINVAL, "%s: %d .gguf files in this folder; name one", path, ng);
            }
        }
        rc = gg[0] ? open_gguf(s, gg) : open_st(s, path, 1);
    } else if (ends_with(path, ".gguf")) {
        rc = open_gguf(s, path);
    } else {
        FILE *f = fopen(path, "rb");
        char magic[4] = {0};
        if (f) {
            if (fread(magic, 1, 4, f) != 4) magic[0] = 0;
            fclose(f);
        }
        rc = !memcmp(magic, "GGUF", 4) ? open_gguf(s, path) : open_st(s, path, 0);
    }
    if (rc) {
        au_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void au_close(au_source *s) {
    if (!s) return;
    if (s->st) st_close(s->st);
    if (s->gg) gguf_close(s->gg);
    if (s->config) json_decref(s->config);
    free(s->t);
    free(s->path);
    free(s);
}

static void row_f32(const au_tensor *t, const uint8_t *p, int64_t n, float *out) {
    switch (t->dt) {
    case DT_F32: memcpy(out, p, (size_t)n * 4); break;
    case DT_F64:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            out[i] = (float)v;
        }
        break;
    case DT_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = f16_to_f32(h);
        }
        break;
    case DT_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = bf16_to_f32(h);
        }
        break;
    default: dequant_row(t->dt, p, out, n); break;
    }
}

int au_read_rows(const au_tensor *t, int64_t r0, int64_t n, float *out) {
    if ((int)t->dt < 0) return omnic_err(OMNIC_EFORMAT, "tensor '%s': storage type not readable", t->name);
    if (r0 < 0 || n < 0 || r0 + n > t->rows) return omnic_err(OMNIC_EINVAL, "tensor '%s': rows out of range", t->name);
    if (t->ndim <= 1) { /* vector: rows are elements */
        int es = dtype_size(t->dt);
        if (!t->qk_group) {
            row_f32(t, t->data + (size_t)r0 * (size_t)es, n, out);
            return 0;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t r = r0 + i, d = t->qk_group, h = r / d, k = r % d;
            row_f32(t, t->data + (size_t)(h * d + 2 * (k % (d / 2)) + k / (d / 2)) * (size_t)es, 1, out + i);
        }
        return 0;
    }
    size_t rb = (size_t)dtype_row_bytes(t->dt, t->cols);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = r0 + i, src = r;
        if (t->qk_group) {
            int64_t d = t->qk_group, h = r / d, k = r % d;
            src = h * d + 2 * (k % (d / 2)) + k / (d / 2);
        }
        row_f32(t, t->data + (size_t)src * rb, t->cols, out + (size_t)i * (size_t)t->cols);
    }
    return 0;
}

/* canonical row r -> stored row (the fork's per-head q/k order undone) */
static int64_t src_row(const au_tensor *t, int64_t r) {
    if (!t->qk_group) return r;
    int64_t d = t->qk_group, h = r / d, k = r % d;
    return h * d + 2 * (k % (d / 2)) + k / (d / 2);
}

int au_read_cols(const au_tensor *t, int64_t r0, int64_t n, const int *cols, int nc, float *out, float *scratch) {
    if ((int)t->dt < 0) return omnic_err(OMNIC_EFORMAT, "tensor '%s': storage type not readable", t->name);
    if (t->ndim <= 1 || r0 < 0 || n < 0 || r0 + n > t->rows)
        return omnic_err(OMNIC_EINVAL, "tensor '%s': rows out of range", t->name);
    for (int j = 0; j < nc; j++)
        if (cols[j] < 0 || cols[j] >= t->cols) return omnic_err(OMNIC_EINVAL, "tensor '%s': column out of range", t->name);
    size_t rb = (size_t)dtype_row_bytes(t->dt, t->cols);
    int be = dtype_is_block(t->dt) ? dtype_block_elems(t->dt) : 0, bb = be ? dtype_block_bytes(t->dt) : 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *p = t->data + (size_t)src_row(t, r0 + i) * rb;
        float *o = out + (size_t)i * (size_t)nc;
        switch (t->dt) {
        case DT_F32:
            for (int j = 0; j < nc; j++) memcpy(o + j, p + 4 * (size_t)cols[j], 4);
            break;
        case DT_BF16:
            for (int j = 0; j < nc; j++) {
                uint16_t h;
                memcpy(&h, p + 2 * (size_t)cols[j], 2);
                o[j] = bf16_to_f32(h);
            }
            break;
        default:
            if (!be) {
                for (int j = 0; j < nc; j++) row_f32(t, p + (size_t)dtype_size(t->dt) * (size_t)cols[j], 1, o + j);
                break;
            }
            /* block types: dequantize the blocks holding the wanted columns */
            {
                int64_t last = -1;
                for (int j = 0; j < nc; j++) {
                    int64_t blk = cols[j] / be;
                    if (blk != last) {
                        dequant_row(t->dt, p + (size_t)blk * (size_t)bb, scratch, be);
                        last = blk;
                    }
                    o[j] = scratch[cols[j] % be];
                }
            }
        }
    }
    return 0;
}
