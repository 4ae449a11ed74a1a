/* tok_hash.c - growable byte / id buffers and the open-addressing hash maps used by
 * the tokenizer (vocabulary, merge ranks, piece cache). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

int tk_buf_reserve(tk_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return OMNIC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory (%zu bytes)", cap);
    b->data = p;
    b->cap = cap;
    return OMNIC_OK;
}

int tk_buf_put(tk_buf *b, const void *p, size_t n) {
    if (tk_buf_reserve(b, n)) return OMNIC_ENOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return OMNIC_OK;
}

void tk_buf_free(tk_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int ids_grow(tk_ids *a, size_t need) {
    if (need <= a->cap) return OMNIC_OK;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < need) cap *= 2;
    int32_t *p = realloc(a->v, cap * sizeof *p);
    if (!p) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory (%zu ids)", cap);
    a->v = p;
    a->cap = cap;
    return OMNIC_OK;
}

int tk_ids_push(tk_ids *a, int32_t id) {
    if (a->n == a->cap && ids_grow(a, a->n + 1)) return OMNIC_ENOMEM;
    a->v[a->n++] = id;
    return OMNIC_OK;
}

int tk_ids_append(tk_ids *a, const int32_t *v, size_t n) {
    if (ids_grow(a, a->n + n)) return OMNIC_ENOMEM;
    if (n) memcpy(a->v + a->n, v, n * sizeof *v);
    a->n += n;
    return OMNIC_OK;
}

void tk_ids_free(tk_ids *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

uint64_t tk_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ mix64(w ^ ((uint64_t)n << 56))) * 0x9e3779b97f4a7c15ULL;
    return mix64(h);
}

/* ---- string map ---- */

static int strmap_rehash(tk_strmap *m, size_t nslots) {
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory (hash table)");
    for (size_t i = 0; i < m->n; i++) {
        size_t j = m->hashes[i] & (nslots - 1);
        while (slots[j]) j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->mask = nslots - 1;
    return OMNIC_OK;
}

static int strmap_find(const tk_strmap *m, const char *k, size_t n, uint64_t h, size_t *slot) {
    if (!m->slots) return 0;
    size_t j = h & m->mask;
    for (;;) {
        uint32_t e = m->slots[j];
        if (!e) {
            *slot = j;
            return 0;
        }
        e--;
        if (m->hashes[e] == h && m->key_len[e] == n && !memcmp(m->arena.data + m->key_off[e], k, n)) {
            *slot = j;
            return (int)e + 1;
        }
        j = (j + 1) & m->mask;
    }
}

int tk_strmap_put(tk_strmap *m, const char *k, size_t n, int32_t v) {
    uint64_t h = tk_hash_bytes(k, n);
    size_t slot = 0;
    int e = strmap_find(m, k, n, h, &slot);
    if (e) {
        m->vals[e - 1] = v;
        return 0;
    }
    if (n > UINT32_MAX || m->n >= UINT32_MAX - 1)
        return omnic_err(OMNIC_EINVAL, "tokenizer: hash map key too long or too many keys");
    if (m->n == m->ecap) {
        size_t cap = m->ecap ? m->ecap * 2 : 256;
        uint64_t *hs = realloc(m->hashes, cap * sizeof *hs);
        if (hs) m->hashes = hs;
        size_t *ko = realloc(m->key_off, cap * sizeof *ko);
        if (ko) m->key_off = ko;
        uint32_t *kl = realloc(m->key_len, cap * sizeof *kl);
        if (kl) m->key_len = kl;
        int32_t *vs = realloc(m->vals, cap * sizeof *vs);
        if (vs) m->vals = vs;
        if (!hs || !ko || !kl || !vs) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory (hash table)");
        m->ecap = cap;
    }
    if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
        if (strmap_rehash(m, m->slots ? (m->mask + 1) * 2 : 512)) return OMNIC_ENOMEM;
        strmap_find(m, k, n, h, &slot);
    }
    size_t off = m->arena.len;
    if (tk_buf_put(&m->arena, k, n) || tk_buf_put(&m->arena, "", 1)) return OMNIC_ENOMEM;
    m->hashes[m->n] = h;
    m->key_off[m->n] = off;
    m->key_len[m->n] = (uint32_t)n;
    m->vals[m->n] = v;
    m->n++;
    m->slots[slot] = (uint32_t)m->n;
    return 1;
}

int tk_strmap_get(const tk_strmap *m, const char *k, size_t n, int32_t *v) {
    size_t slot;
    int e = strmap_find(m, k, n, tk_hash_bytes(k, n), &slot);
    if (!e) return 0;
    *v = m->vals[e - 1];
    return 1;
}

void tk_strmap_clear(tk_strmap *m) {
    if (m->slots) memset(m->slots, 0, (m->mask + 1) * sizeof *m->slots);
    m->n = 0;
    m->arena.len = 0;
}

void tk_strmap_free(tk_strmap *m) {
    free(m->slots);
    free(m->hashes);
    free(m->key_off);
    free(m->key_len);
    free(m->vals);
    tk_buf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

/* ---- pair map ---- */

static inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static int pairmap_grow(tk_pairmap *m) {
    size_t nslots = m->keys ? (m->mask + 1) * 2 : 1024;
    uint64_t *keys = malloc(nslots * sizeof *keys);
    int32_t *rank = malloc(nslots * sizeof *rank), *newid = malloc(nslots * sizeof *newid);
    if (!keys || !rank || !newid) {
        free(keys);
        free(rank);
        free(newid);
        return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory (merge table)");
    }
    memset(keys, 0xff, nslots * sizeof *keys);
    if (m->keys) {
        for (size_t i = 0; i <= m->mask; i++) {
            if (m->keys[i] == UINT64_MAX) continue;
            size_t j = mix64(m->keys[i]) & (nslots - 1);
            while (keys[j] != UINT64_MAX) j = (j + 1) & (nslots - 1);
            keys[j] = m->keys[i];
            rank[j] = m->rank[i];
            newid[j] = m->newid[i];
        }
    }
    free(m->keys);
    free(m->rank);
    free(m->newid);
    m->keys = keys;
    m->rank = rank;
    m->newid = newid;
    m->mask = nslots - 1;
    return OMNIC_OK;
}

int tk_pairmap_put(tk_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t newid) {
    if (!m->keys || (m->n + 1) * 2 > m->mask + 1)
        if (pairmap_grow(m)) return OMNIC_ENOMEM;
    uint64_t k = pair_key(a, b);
    size_t j = mix64(k) & m->mask;
    while (m->keys[j] != UINT64_MAX && m->keys[j] != k) j = (j + 1) & m->mask;
    if (m->keys[j] == UINT64_MAX) m->n++;
    m->keys[j] = k;
    m->rank[j] = rank;
    m->newid[j] = newid;
    return OMNIC_OK;
}

int tk_pairmap_get(const tk_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *newid) {
    if (!m->keys) return 0;
    uint64_t k = pair_key(a, b);
    size_t j = mix64(k) & m->mask;
    for (;;) {
        uint64_t x = m->keys[j];
        if (x == k) {
            *rank = m->rank[j];
            *newid = m->newid[j];
            return 1;
        }
        if (x == UINT64_MAX) return 0;
        j = (j + 1) & m->mask;
    }
}

void tk_pairmap_free(tk_pairmap *m) {
    free(m->keys);
    free(m->rank);
    free(m->newid);
    memset(m, 0, sizeof *m);
}
