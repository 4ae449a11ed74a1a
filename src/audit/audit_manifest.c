/* audit_manifest.c - SHA-256 manifests of a model: one digest per file (the
 * folder's files, recursively, by relative path) and per tensor (its stored
 * bytes), and the manifest digest: SHA-256 of the lines
 * "name\tdtype\tshape\tsha256\n" of all tensors sorted by name. It depends only
 * on the weights as stored: not on the folder's path, the sharding or the
 * order of tensors in the files. Tensors are hashed in parallel from the map. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "audit/audit_impl.h"
#include "audit/audit_sha256.h"
#include "core/error.h"
#include "core/threads.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

typedef struct {
    const au_source *s;
    char (*hex)[65];
    int *order;
} hash_job;

static void hash_worker(void *arg, int ith, int nth) {
    hash_job *j = arg;
    for (int i = ith; i < j->s->n; i += nth) {
        const au_tensor *t = &j->s->t[i];
        sha256_buf_hex(t->data, (size_t)t->nbytes, j->hex[i]);
    }
}

static const au_source *g_sort_src;
static int by_name(const void *a, const void *b) {
    return strcmp(g_sort_src->t[*(const int *)a].name, g_sort_src->t[*(const int *)b].name);
}

static const char *type_name(const au_source *s, int i) {
    if (s->gg) return ggml_type_name(((gguf_file *)s->gg)->tensors[i].type);
    return dtype_name(((st_set *)s->st)->tensors[i].dt);
}

static void shape_str(const au_tensor *t, char *b, size_t n) {
    size_t o = 0;
    b[0] = 0;
    for (int k = 0; k < t->ndim && o < n; k++) o += (size_t)snprintf(b + o, n - o, "%s%lld", k ? "," : "", (long long)t->shape[k]);
}

/* hashes every tensor; returns the sorted order and the manifest digest */
static int hash_all(const au_source *s, char (**hex)[65], int **order, char digest[65]) {
    *hex = calloc((size_t)s->n + 1, 65);
    *order = malloc(((size_t)s->n + 1) * sizeof **order);
    if (!*hex || !*order) return omnic_err(OMNIC_ENOMEM, "out of memory");
    omnic_pool *pool = omnic_pool_new(0);
    hash_job j = {s, *hex, *order};
    omnic_pool_run(pool, hash_worker, &j);
    omnic_pool_free(pool);
    for (int i = 0; i < s->n; i++) (*order)[i] = i;
    g_sort_src = s;
    qsort(*order, (size_t)s->n, sizeof **order, by_name);
    sha256_ctx c;
    sha256_init(&c);
    for (int k = 0; k < s->n; k++) {
        int i = (*order)[k];
        char line[1024], sh[256];
        shape_str(&s->t[i], sh, sizeof sh);
        int l = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\n", s->t[i].name, type_name(s, i), sh, (*hex)[i]);
        if (l >= (int)sizeof line) l = (int)sizeof line - 1;
        sha256_update(&c, line, (size_t)l);
    }
    uint8_t d[32];
    sha256_final(&c, d);
    sha256_hex(d, digest);
    return 0;
}

int audit_manifest_digest(const char *model_path, char out_hex[65]) {
    au_source *s;
    int rc = au_open(model_path, &s);
    if (rc) return rc;
    char(*hex)[65] = NULL;
    int *order = NULL;
    rc = hash_all(s, &hex, &order, out_hex);
    free(hex), free(order);
    au_close(s);
    return rc;
}

/* ---- per-file digests ---- */
typedef struct { char **v; int n, cap; } strlist;

static int list_files(const char *root, const char *rel, strlist *l, int depth) {
    char p[4096];
    snprintf(p, sizeof p, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(p);
    if (!d) return omnic_err(OMNIC_EIO, "%s: cannot list the folder", p);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char r[4096], full[8192];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r);
        struct stat sb;
        if (stat(full, &sb)) continue;
        if (S_ISDIR(sb.st_mode) && depth < 8) {
            list_files(root, r, l, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 16;
                char **v = realloc(l->v, (size_t)l->cap * sizeof *v);
                if (!v) break;
                l->v = v;
            }
            l->v[l->n++] = strdup(r);
        }
    }
    closedir(d);
    return 0;
}

static int cmps(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int file_sha(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot read", path);
    sha256_ctx c;
    sha256_init(&c);
    static uint8_t b[1 << 16];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0) sha256_update(&c, b, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return omnic_err(OMNIC_EIO, "%s: read error", path);
    uint8_t d[32];
    sha256_final(&c, d);
    sha256_hex(d, hex);
    return 0;
}

int audit_manifest_print(const char *model_path, FILE *f, int json, int progress) {
    au_source *s;
    int rc = au_open(model_path, &s);
    if (rc) return rc;
    au_progress(progress, 0, "hashing tensors");
    char(*hex)[65] = NULL, dig[65];
    int *order = NULL;
    strlist fl = {0};
    json_t *o = json ? json_object() : NULL, *jf = json ? json_array() : NULL, *jt = json ? json_array() : NULL;
    if ((rc = hash_all(s, &hex, &order, dig))) goto done;
    struct stat sb;
    int isdir = !stat(model_path, &sb) && S_ISDIR(sb.st_mode);
    if (isdir) {
        if ((rc = list_files(model_path, "", &fl, 0))) goto done;
        qsort(fl.v, (size_t)fl.n, sizeof *fl.v, cmps);
    }
    if (!json) fprintf(f, "# files\n");
    for (int i = 0; i < (isdir ? fl.n : 1); i++) {
        char p[8192], h[65];
        const char *rel = isdir ? fl.v[i] : (strrchr(model_path, '/') ? strrchr(model_path, '/') + 1 : model_path);
        snprintf(p, sizeof p, "%s%s%s", isdir ? model_path : "", isdir ? "/" : "", isdir ? rel : model_path);
        au_progress(progress, 0.5 + 0.5 * i / (isdir ? fl.n : 1), rel);
        if ((rc = file_sha(p, h))) goto done;
        if (json) json_array_append_new(jf, json_pack("{s:s,s:s}", "path", rel, "sha256", h));
        else fprintf(f, "%s  %s\n", h, rel);
    }
    au_progress(progress, 1, "done");
    if (!json) fprintf(f, "# tensors (name dtype shape)\n");
    for (int k = 0; k < s->n; k++) {
        int i = order[k];
        char sh[256];
        shape_str(&s->t[i], sh, sizeof sh);
        if (json)
            json_array_append_new(jt, json_pack("{s:s,s:s,s:s,s:s}", "name", s->t[i].name, "dtype", type_name(s, i), "shape",
                                                sh, "sha256", hex[i]));
        else fprintf(f, "%s  %s %s [%s]\n", hex[i], s->t[i].name, type_name(s, i), sh);
    }
    if (json) {
        json_object_set_new(o, "manifest_sha256", json_string(dig));
        json_object_set_new(o, "files", jf);
        json_object_set_new(o, "tensors", jt);
        jf = jt = NULL;
        char *txt = json_dumps(o, JSON_INDENT(1));
        if (txt) fprintf(f, "%s\n", txt);
        free(txt);
    } else {
        fprintf(f, "manifest sha256:%s\n", dig);
    }
done:
    for (int i = 0; i < fl.n; i++) free(fl.v[i]);
    free(fl.v);
    free(hex), free(order);
    json_decref(jf), json_decref(jt), json_decref(o);
    au_close(s);
    return rc;
}
