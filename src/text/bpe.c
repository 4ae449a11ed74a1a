/* bpe.c - the tokenizer.json "BPE" model: vocabulary, ranked merges, per-piece merging
 * (lowest rank first, leftmost among equal ranks) and a shared piece -> ids cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

#define CACHE_MAX_PIECE 256
#define CACHE_MAX_ENTRIES (1u << 16)
#define CACHE_MAX_IDS (1u << 20)
#define SCAN_MAX 48 /* words up to this many symbols use the quadratic scan */

/* Optional boolean field: absent / null -> default. */
static int get_bool(json_t *obj, const char *key, int def, int *out, const char *file) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return OMNIC_OK;
    }
    if (!json_is_boolean(v)) return omnic_err(OMNIC_ECONFIG, "%s: model.%s must be a boolean", file, key);
    *out = json_is_true(v);
    return OMNIC_OK;
}

static int vocab_id(const tk_bpe *b, const char *s, size_t n) {
    int32_t id;
    return tk_strmap_get(&b->vocab, s, n, &id) ? id : -1;
}

static int add_merge(tk_bpe *b, const char *a, size_t na, const char *c, size_t nc, int32_t rank,
                     size_t idx, const char *file) {
    int32_t ia = vocab_id(b, a, na), ic = vocab_id(b, c, nc);
    if (ia < 0 || ic < 0) /* HF refuses such files too (MergeTokenOutOfVocabulary) */
        return omnic_err(OMNIC_EFORMAT, "%s: model.merges[%zu] \"%.*s %.*s\": token '%.*s' is not in model.vocab", file,
                         idx, (int)(na > 200 ? 200 : na), a, (int)(nc > 200 ? 200 : nc), c, (int)(ia < 0 ? na : nc),
                         ia < 0 ? a : c);
    char stackbuf[512];
    char *cat = na + nc <= sizeof stackbuf ? stackbuf : malloc(na + nc);
    if (!cat) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    memcpy(cat, a, na);
    memcpy(cat + na, c, nc);
    int32_t im = vocab_id(b, cat, na + nc);
    int rc = OMNIC_OK;
    if (im < 0)
        rc = omnic_err(OMNIC_EFORMAT, "%s: model.merges[%zu] \"%.*s %.*s\": merged token '%.*s' is not in model.vocab",
                       file, idx, (int)(na > 200 ? 200 : na), a, (int)(nc > 200 ? 200 : nc), c, (int)(na + nc), cat);
    else
        rc = tk_pairmap_put(&b->merges, ia, ic, rank, im);
    if (cat != stackbuf) free(cat);
    return rc;
}

int tk_bpe_load(tk_bpe *b, json_t *model, const char *file) {
    /* b is zeroed with its cache lock initialised by the caller */
    b->unk_id = -1;
    if (!json_is_object(model)) return omnic_err(OMNIC_EFORMAT, "%s: \"model\" must be an object", file);
    json_t *type = json_object_get(model, "type");
    if (type && !json_is_null(type)) {
        if (!json_is_string(type)) return omnic_err(OMNIC_EFORMAT, "%s: model.type must be a string", file);
        if (strcmp(json_string_value(type), "BPE"))
            return omnic_err(OMNIC_EUNSUP, "%s: model.type '%s' is not supported (only BPE)", file,
                             json_string_value(type));
    }
    json_t *vocab = json_object_get(model, "vocab");
    if (!vocab) return omnic_err(OMNIC_EFORMAT, "%s: model.vocab is missing", file);
    if (!json_is_object(vocab)) return omnic_err(OMNIC_EFORMAT, "%s: model.vocab must be an object", file);
    json_t *merges = json_object_get(model, "merges");
    if (!merges) return omnic_err(OMNIC_EFORMAT, "%s: model.merges is missing", file);
    if (!json_is_array(merges)) return omnic_err(OMNIC_EFORMAT, "%s: model.merges must be an array", file);

    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout)) {
        if (!json_is_number(dropout)) return omnic_err(OMNIC_ECONFIG, "%s: model.dropout must be a number", file);
        if (json_number_value(dropout) != 0.0)
            return omnic_err(OMNIC_EUNSUP, "%s: model.dropout %g is not supported (BPE dropout is random)", file,
                             json_number_value(dropout));
    }
    static const char *const unsup_str[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, unsup_str[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v)) return omnic_err(OMNIC_ECONFIG, "%s: model.%s must be a string", file, unsup_str[i]);
        if (json_string_length(v))
            return omnic_err(OMNIC_EUNSUP, "%s: model.%s '%s' is not supported", file, unsup_str[i],
                             json_string_value(v));
    }
    int rc;
    if ((rc = get_bool(model, "fuse_unk", 0, &b->fuse_unk, file)) ||
        (rc = get_bool(model, "byte_fallback", 0, &b->byte_fallback, file)) ||
        (rc = get_bool(model, "ignore_merges", 0, &b->ignore_merges, file)))
        return rc;

    const char *key;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach(vocab, key, klen, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= INT32_MAX)
            return omnic_err(OMNIC_EFORMAT, "%s: model.vocab[\"%.*s\"] must be a non-negative integer id", file,
                             (int)klen, key);
        if (tk_strmap_put(&b->vocab, key, klen, (int32_t)json_integer_value(val)) < 0) return OMNIC_ENOMEM;
    }

    json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk)) {
        if (!json_is_string(unk)) return omnic_err(OMNIC_ECONFIG, "%s: model.unk_token must be a string", file);
        b->unk_id = vocab_id(b, json_string_value(unk), json_string_length(unk));
        if (b->unk_id < 0)
            return omnic_err(OMNIC_EFORMAT, "%s: model.unk_token '%s' is not in model.vocab", file,
                             json_string_value(unk));
    }

    size_t idx;
    int32_t rank = 0;
    json_array_foreach(merges, idx, val) {
        if (json_is_string(val)) {
            const char *s = json_string_value(val);
            size_t n = json_string_length(val);
            if (n >= 8 && !memcmp(s, "#version", 8)) continue;
            const char *sp = memchr(s, ' ', n);
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
                return omnic_err(OMNIC_EFORMAT, "%s: model.merges[%zu] must be two tokens separated by one space",
                                 file, idx);
            rc = add_merge(b, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), rank, idx, file);
        } else if (json_is_array(val) && json_array_size(val) == 2 && json_is_string(json_array_get(val, 0)) &&
                   json_is_string(json_array_get(val, 1))) {
            json_t *a = json_array_get(val, 0), *c = json_array_get(val, 1);
            rc = add_merge(b, json_string_value(a), json_string_length(a), json_string_value(c),
                           json_string_length(c), rank, idx, file);
        } else
            return omnic_err(OMNIC_EFORMAT, "%s: model.merges[%zu] must be a string \"a b\" or a pair [\"a\", \"b\"]",
                             file, idx);
        if (rc) return rc;
        if (rank == INT32_MAX - 1) return omnic_err(OMNIC_EFORMAT, "%s: model.merges has too many entries", file);
        rank++;
    }

    const tk_bytechar *tab = tk_byte_table();
    for (int i = 0; i < 256; i++) {
        b->byte_char_id[i] = vocab_id(b, tab[i].s, tab[i].len);
        char fb[8];
        snprintf(fb, sizeof fb, "<0x%02X>", i);
        b->fallback_id[i] = vocab_id(b, fb, 6);
    }
    return OMNIC_OK;
}

void tk_bpe_free(tk_bpe *b) {
    tk_strmap_free(&b->vocab);
    tk_pairmap_free(&b->merges);
    tk_strmap_free(&b->cache);
    tk_ids_free(&b->cache_ids);
    pthread_mutex_destroy(&b->cache_lock);
}

/* ---- merging ---- */

int tk_bpe_merge_scan(const tk_bpe *b, int32_t *sym, int n) {
    if (n < 2) return n;
    int32_t nxt[SCAN_MAX], prv[SCAN_MAX], pr[SCAN_MAX], pid[SCAN_MAX];
    if (n > SCAN_MAX) return tk_bpe_merge_heap(b, sym, n);
    for (int i = 0; i < n; i++) {
        nxt[i] = i + 1 < n ? i + 1 : -1;
        prv[i] = i - 1;
        pr[i] = INT32_MAX;
        if (i + 1 < n && !tk_pairmap_get(&b->merges, sym[i], sym[i + 1], &pr[i], &pid[i])) pr[i] = INT32_MAX;
    }
    for (;;) {
        int best = -1;
        int32_t br = INT32_MAX;
        for (int i = 0; i != -1; i = nxt[i])
            if (pr[i] < br) {
                br = pr[i];
                best = i;
            }
        if (best < 0) break;
        int j = nxt[best];
        sym[best] = pid[best];
        nxt[best] = nxt[j];
        if (nxt[j] != -1) prv[nxt[j]] = best;
        if (nxt[best] == -1 || !tk_pairmap_get(&b->merges, sym[best], sym[nxt[best]], &pr[best], &pid[best]))
            pr[best] = INT32_MAX;
        int p = prv[best];
        if (p >= 0 && !tk_pairmap_get(&b->merges, sym[p], sym[best], &pr[p], &pid[p])) pr[p] = INT32_MAX;
    }
    int k = 0;
    for (int i = 0; i != -1; i = nxt[i]) sym[k++] = sym[i];
    return k;
}

/* Heap entry: the pair starting at symbol pos had this rank when pushed. Ranks are
 * unique per pair, so an entry is current iff the pair now at pos has the same rank. */
typedef struct {
    int32_t rank, pos;
} hent;

static inline int hless(const hent *a, const hent *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void hpush(hent *h, int *hn, hent e) {
    int i = (*hn)++;
    h[i] = e;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!hless(&h[i], &h[p])) break;
        hent t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static hent hpop(hent *h, int *hn) {
    hent top = h[0];
    h[0] = h[--(*hn)];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *hn && hless(&h[l], &h[m])) m = l;
        if (r < *hn && hless(&h[r], &h[m])) m = r;
        if (m == i) break;
        hent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

int tk_bpe_merge_heap(const tk_bpe *b, int32_t *sym, int n) {
    if (n < 2) return n;
    /* every merge adds at most 2 entries; n-1 initial */
    int32_t *nxt = malloc((size_t)n * 3 * sizeof(int32_t));
    hent *h = malloc((size_t)3 * (size_t)n * sizeof *h);
    if (!nxt || !h) {
        free(nxt);
        free(h);
        return -1;
    }
    int32_t *prv = nxt + n;
    uint8_t *alive = (uint8_t *)(prv + n);
    int hn = 0;
    for (int i = 0; i < n; i++) {
        nxt[i] = i + 1 < n ? i + 1 : -1;
        prv[i] = i - 1;
        alive[i] = 1;
    }
    for (int i = 0; i + 1 < n; i++) {
        int32_t r, id;
        if (tk_pairmap_get(&b->merges, sym[i], sym[i + 1], &r, &id)) hpush(h, &hn, (hent){r, i});
    }
    while (hn > 0) {
        hent e = hpop(h, &hn);
        int j = alive[e.pos] ? nxt[e.pos] : -1;
        int32_t r, id;
        if (j < 0 || !tk_pairmap_get(&b->merges, sym[e.pos], sym[j], &r, &id) || r != e.rank) continue;
        sym[e.pos] = id;
        alive[j] = 0;
        nxt[e.pos] = nxt[j];
        if (nxt[j] != -1) prv[nxt[j]] = e.pos;
        int p = prv[e.pos], q = nxt[e.pos];
        if (p >= 0 && tk_pairmap_get(&b->merges, sym[p], sym[e.pos], &r, &id)) hpush(h, &hn, (hent){r, p});
        if (q >= 0 && tk_pairmap_get(&b->merges, sym[e.pos], sym[q], &r, &id)) hpush(h, &hn, (hent){r, e.pos});
    }
    int k = 0;
    for (int i = 0; i != -1; i = nxt[i]) sym[k++] = sym[i];
    free(nxt);
    free(h);
    return k;
}

int tk_bpe_merge(const tk_bpe *b, int32_t *sym, int n) {
    return n <= SCAN_MAX ? tk_bpe_merge_scan(b, sym, n) : tk_bpe_merge_heap(b, sym, n);
}

/* ---- piece encoding ---- */

/* Initial symbols of a piece (HF merge_word): known characters, unknown ones dropped,
 * replaced by <0xXX> byte tokens (byte_fallback) or by unk (fused if fuse_unk). */
static int initial_symbols(const tk_bpe *b, const char *s, size_t n, int byte_level, int32_t *sym) {
    const tk_bytechar *tab = tk_byte_table();
    int k = 0, unk_pending = 0;
    for (size_t i = 0; i < n;) {
        const char *cs;
        size_t cl;
        int32_t id;
        if (byte_level) {
            unsigned char c = (unsigned char)s[i++];
            id = b->byte_char_id[c];
            cs = tab[c].s;
            cl = tab[c].len;
        } else {
            int l = tk_utf8_len((unsigned char)s[i]);
            if ((size_t)l > n - i) l = (int)(n - i);
            cs = s + i;
            cl = (size_t)l;
            i += (size_t)l;
            id = vocab_id(b, cs, cl);
        }
        if (id >= 0) {
            if (unk_pending) sym[k++] = b->unk_id;
            unk_pending = 0;
            sym[k++] = id;
            continue;
        }
        if (b->byte_fallback) {
            size_t j = 0;
            while (j < cl && b->fallback_id[(unsigned char)cs[j]] >= 0) j++;
            if (j == cl) { /* HF keeps a pending unk for later here */
                for (j = 0; j < cl; j++) sym[k++] = b->fallback_id[(unsigned char)cs[j]];
                continue;
            }
        }
        if (b->unk_id >= 0) {
            if (unk_pending && !b->fuse_unk) sym[k++] = b->unk_id;
            unk_pending = 1;
        }
    }
    if (unk_pending) sym[k++] = b->unk_id;
    return k;
}

static int cache_lookup(tk_bpe *b, const char *s, size_t n, tk_ids *out) {
    int found = 0, rc = OMNIC_OK;
    pthread_mutex_lock(&b->cache_lock);
    int32_t off;
    if (tk_strmap_get(&b->cache, s, n, &off)) {
        found = 1;
        rc = tk_ids_append(out, b->cache_ids.v + off + 1, (size_t)b->cache_ids.v[off]);
    }
    pthread_mutex_unlock(&b->cache_lock);
    return rc ? rc : found;
}

static void cache_store(tk_bpe *b, const char *s, size_t n, const int32_t *ids, size_t k) {
    pthread_mutex_lock(&b->cache_lock);
    if (b->cache.n >= CACHE_MAX_ENTRIES || b->cache_ids.n + k + 1 > CACHE_MAX_IDS) {
        tk_strmap_clear(&b->cache);
        b->cache_ids.n = 0;
    }
    int32_t off = (int32_t)b->cache_ids.n;
    if (!tk_ids_push(&b->cache_ids, (int32_t)k) && !tk_ids_append(&b->cache_ids, ids, k)) {
        if (tk_strmap_put(&b->cache, s, n, off) < 0) b->cache_ids.n = (size_t)off;
    } else
        b->cache_ids.n = (size_t)off;
    pthread_mutex_unlock(&b->cache_lock);
}

int tk_bpe_encode_piece(tk_bpe *b, const char *s, size_t n, int byte_level, tk_ids *out) {
    if (!n) return OMNIC_OK;
    int cacheable = n <= CACHE_MAX_PIECE;
    if (cacheable) {
        int r = cache_lookup(b, s, n, out);
        if (r) return r < 0 ? r : OMNIC_OK;
    }
    if (b->ignore_merges) {
        int32_t id = -1;
        if (byte_level) {
            tk_buf m = {0};
            if (tk_byte_level_map((const unsigned char *)s, n, &m)) return OMNIC_ENOMEM;
            id = vocab_id(b, m.data, m.len);
            tk_buf_free(&m);
        } else
            id = vocab_id(b, s, n);
        if (id >= 0) {
            if (cacheable) cache_store(b, s, n, &id, 1);
            return tk_ids_push(out, id);
        }
    }
    /* at most 4 symbols per byte (byte fallback of a 4-byte character) */
    if (n > INT32_MAX / 4) return omnic_err(OMNIC_EINVAL, "tokenizer: piece too long (%zu bytes)", n);
    int32_t stack[4 * 64];
    int32_t *sym = n * 4 <= sizeof stack / sizeof *stack ? stack : malloc(n * 4 * sizeof *sym);
    if (!sym) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    int k = initial_symbols(b, s, n, byte_level, sym);
    k = tk_bpe_merge(b, sym, k);
    int rc = OMNIC_OK;
    if (k < 0)
        rc = omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    else {
        rc = tk_ids_append(out, sym, (size_t)k);
        if (!rc && cacheable) cache_store(b, s, n, sym, (size_t)k);
    }
    if (sym != stack) free(sym);
    return rc;
}
