/* tokenizer_impl.h - internal types of the tokenizer.json engine (src/text/):
 * byte buffers and hash maps (tok_hash.c), UTF-8 and the GPT-2 byte alphabet
 * (byte_level.c), the BPE model (bpe.c), pre-tokenizers (tok_pretok.c),
 * normalizers (tok_normalize.c), added-token matching (tok_added.c) and the
 * public API gluing them together (tokenizer.c). */
#ifndef OMNIC_TEXT_TOKENIZER_IMPL_H
#define OMNIC_TEXT_TOKENIZER_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "omnic.h"

/* ---- growable buffers (tok_hash.c) ---------------------------------------- */

typedef struct tk_buf {
    char *data;
    size_t len, cap;
} tk_buf;

int tk_buf_reserve(tk_buf *b, size_t extra); /* OMNIC_OK or OMNIC_ENOMEM */
int tk_buf_put(tk_buf *b, const void *p, size_t n);
void tk_buf_free(tk_buf *b);

typedef struct tk_ids {
    int32_t *v;
    size_t n, cap;
} tk_ids;

int tk_ids_push(tk_ids *a, int32_t id);
int tk_ids_append(tk_ids *a, const int32_t *v, size_t n);
void tk_ids_free(tk_ids *a);

uint64_t tk_hash_bytes(const void *p, size_t n);

/* String -> int32 map; keys are copied into the map's own arena. */
typedef struct tk_strmap {
    uint32_t *slots;     /* entry index + 1; 0 = empty */
    size_t mask;         /* slot count - 1 (power of two) */
    size_t n;            /* entries */
    uint64_t *hashes;    /* per entry */
    size_t *key_off;     /* per entry, into arena */
    uint32_t *key_len;   /* per entry */
    int32_t *vals;       /* per entry */
    size_t ecap;
    tk_buf arena;        /* keys, each NUL-terminated */
} tk_strmap;

/* Insert or overwrite. Returns 1 if a new key was added, 0 if replaced, <0 on error. */
int tk_strmap_put(tk_strmap *m, const char *k, size_t n, int32_t v);
/* 1 and *v if found, 0 if absent. */
int tk_strmap_get(const tk_strmap *m, const char *k, size_t n, int32_t *v);
void tk_strmap_clear(tk_strmap *m); /* forget all entries, keep memory */
void tk_strmap_free(tk_strmap *m);

/* (uint32, uint32) -> (rank, new id) map for BPE merges. */
typedef struct tk_pairmap {
    uint64_t *keys; /* UINT64_MAX = empty */
    int32_t *rank, *newid;
    size_t mask, n;
} tk_pairmap;

int tk_pairmap_put(tk_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t newid);
/* 1 if found (rank and new id set), 0 if absent. */
int tk_pairmap_get(const tk_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *newid);
void tk_pairmap_free(tk_pairmap *m);

/* ---- UTF-8 and the GPT-2 byte alphabet (byte_level.c) ------------------------ */

/* Append in[0..n) to out with every ill-formed sequence replaced by U+FFFD (one per
 * maximal subpart, as the WHATWG / Unicode "best practice" decoders do). If !final, a
 * trailing sequence that is incomplete but could still become valid is not consumed.
 * Returns the number of input bytes consumed (n when final), or (size_t)-1 on ENOMEM. */
size_t tk_utf8_sanitize(const unsigned char *in, size_t n, int final, tk_buf *out);
/* 1 if in[0..n) is well-formed UTF-8. */
int tk_utf8_valid(const unsigned char *in, size_t n);
/* Decode one code point from valid UTF-8 at s (n > 0); sets *len. */
uint32_t tk_utf8_decode(const unsigned char *s, size_t n, int *len);
int tk_utf8_encode(uint32_t cp, char out[4]);
/* Length of the UTF-8 sequence starting with lead byte c (1 for invalid leads). */
int tk_utf8_len(unsigned char c);

/* byte -> its GPT-2 printable character as UTF-8 (1 or 2 bytes). */
typedef struct tk_bytechar {
    char s[3];
    uint8_t len;
} tk_bytechar;
const tk_bytechar *tk_byte_table(void); /* [256] */
/* code point of a GPT-2 byte character -> byte, or -1 if cp is not in the alphabet. */
int tk_char_to_byte(uint32_t cp);
/* Decode a token string the way HF's ByteLevel decoder does: if every character is in
 * the alphabet, append the bytes it stands for; otherwise append the string as is. */
int tk_byte_level_decode_token(const char *s, size_t n, tk_buf *out);
/* Append the byte-level form (mapped characters) of raw bytes. */
int tk_byte_level_map(const unsigned char *s, size_t n, tk_buf *out);

/* Unicode White_Space (what Rust's char::is_whitespace and regex \s match). */
int tk_is_white_space(uint32_t cp);

/* ---- BPE model (bpe.c) ---------------------------------------------------------- */

typedef struct tk_bpe {
    tk_strmap vocab;          /* token string -> id (model vocab only) */
    tk_pairmap merges;        /* (left id, right id) -> (rank, merged id) */
    int32_t unk_id;           /* -1 if no unk_token */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_char_id[256]; /* vocab id of the byte-level character of each byte */
    int32_t fallback_id[256];  /* vocab id of "<0xXX>" (byte_fallback) or -1 */
    /* piece -> ids cache, shared by all threads */
    pthread_mutex_t cache_lock;
    tk_strmap cache;          /* piece -> offset into cache_ids */
    tk_ids cache_ids;         /* [count, ids...] records */
} tk_bpe;

/* Load model.vocab / model.merges / options from the tokenizer.json "model" object into
 * a zeroed b whose cache_lock is initialised. file names the file in messages. */
struct json_t;
int tk_bpe_load(tk_bpe *b, struct json_t *model, const char *file);
void tk_bpe_free(tk_bpe *b);

/* Encode one pre-tokenized piece. byte_level: s holds raw bytes whose byte-level
 * characters are the symbols (ByteLevel was the last pre-tokenizer); otherwise the
 * symbols are the UTF-8 characters of s. Appends ids to out. */
int tk_bpe_encode_piece(tk_bpe *b, const char *s, size_t n, int byte_level, tk_ids *out);

/* Merge a word given as initial symbol ids (in place; returns the new length).
 * Exposed for tests: tk_bpe_merge_heap and tk_bpe_merge_scan must agree. */
int tk_bpe_merge(const tk_bpe *b, int32_t *sym, int n);
int tk_bpe_merge_heap(const tk_bpe *b, int32_t *sym, int n);
int tk_bpe_merge_scan(const tk_bpe *b, int32_t *sym, int n);

/* ---- normalizers (tok_normalize.c) ----------------------------------------------- */

enum { TK_NF_C, TK_NF_D, TK_NF_KC, TK_NF_KD };

typedef struct tk_normalizer {
    int n;        /* number of steps; 0 = identity */
    int form[8];  /* TK_NF_* applied in order */
} tk_normalizer;

/* Parse the "normalizer" value (NULL / JSON null = identity). */
int tk_normalizer_load(tk_normalizer *nz, struct json_t *j, const char *file);
/* Append the normalized form of valid UTF-8 s to out. */
int tk_normalize(const tk_normalizer *nz, const char *s, size_t n, tk_buf *out);

/* ---- pre-tokenizers (tok_pretok.c) ------------------------------------------------ */

enum { TK_PT_SPLIT, TK_PT_BYTELEVEL };
enum { TK_SPLIT_REMOVED, TK_SPLIT_ISOLATED, TK_SPLIT_MERGED_PREV, TK_SPLIT_MERGED_NEXT,
       TK_SPLIT_CONTIGUOUS };

typedef struct tk_pretok_step {
    int kind;
    pcre2_code *re;   /* Split pattern, or the GPT-2 pattern for ByteLevel use_regex */
    int behavior, invert;
    int add_prefix_space;
} tk_pretok_step;

typedef struct tk_pretok {
    int n;
    tk_pretok_step *steps;
    int byte_level_last; /* the last step is ByteLevel: pieces leave as raw bytes */
} tk_pretok;

int tk_pretok_load(tk_pretok *p, struct json_t *j, const char *file);
void tk_pretok_free(tk_pretok *p);

/* Per-call scratch for pre-tokenization. */
typedef struct tk_pretok_run {
    const tk_pretok *p;
    pcre2_match_data *md;
    struct tk_split { size_t s, e; int m; } *spl[16]; /* splits per depth */
    size_t spl_cap[16];
    tk_buf tmp[16];
    /* piece consumer: raw bytes (byte_level) or characters */
    int (*emit)(void *ctx, const char *s, size_t n, int byte_level);
    void *ctx;
} tk_pretok_run;

int tk_pretok_run_init(tk_pretok_run *r, const tk_pretok *p,
                       int (*emit)(void *, const char *, size_t, int), void *ctx);
/* Pre-tokenize valid UTF-8 s and hand every piece to r->emit. */
int tk_pretok_apply(tk_pretok_run *r, const char *s, size_t n);
void tk_pretok_run_free(tk_pretok_run *r);

/* Compile a pattern in UTF + UCP mode (JIT when available); field names it in errors. */
int tk_regex_compile(const char *pat, size_t len, int literal, pcre2_code **out,
                     const char *file, const char *field);

/* ---- added tokens (tok_added.c) ------------------------------------------------------- */

typedef struct tk_added_tok {
    int32_t id;
    const char *content; /* into the tokenizer's string arena (set after loading) */
    size_t content_off, content_len;
    size_t match_off, match_len; /* what is matched (normalized content if normalized) */
    uint8_t special, lstrip, rstrip, single_word, normalized;
} tk_added_tok;

typedef struct tk_trie_node {
    int32_t child;   /* first child or -1 */
    int32_t sibling; /* next sibling or -1 */
    int32_t tok;     /* index into the added-token table or -1 */
    uint8_t byte;
} tk_trie_node;

typedef struct tk_trie {
    tk_trie_node *nodes;
    size_t n, cap;
    uint8_t first[256]; /* bytes that can start a match */
} tk_trie;

int tk_trie_init(tk_trie *t);
int tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t tok);
void tk_trie_free(tk_trie *t);

typedef struct tk_segment {
    size_t s, e;
    int32_t tok; /* added-token index or -1 for plain text */
} tk_segment;

typedef struct tk_segments {
    tk_segment *v;
    size_t n, cap;
} tk_segments;

/* Split text into plain segments and added-token matches (leftmost-longest, honouring
 * lstrip / rstrip / single_word; special tokens skipped when !parse_special). The
 * segments cover the text in order. */
int tk_added_split(const tk_trie *t, const tk_added_tok *toks, const pcre2_code *word_re,
                   const char *text, size_t n, int parse_special, tk_segments *out);

/* ---- the tokenizer ------------------------------------------------------------------------ */

struct omnic_tokenizer {
    tk_bpe bpe;
    tk_normalizer norm;
    tk_pretok pretok;
    int decoder;            /* 0: none (join with spaces), 1: ByteLevel */
    /* added tokens */
    tk_added_tok *added;
    size_t n_added;
    tk_trie trie_raw, trie_norm;
    int has_raw, has_norm;
    pcre2_code *word_re;    /* \w test for single_word tokens, NULL if none */
    tk_strmap added_map;    /* content -> id */
    /* per id (0 .. n_ids-1) */
    int32_t n_ids;
    tk_buf strs;            /* token strings, NUL-terminated */
    size_t *str_off;        /* SIZE_MAX = no token with this id */
    tk_buf dec;             /* decoded bytes of every token */
    size_t *dec_off;
    uint32_t *dec_len;
    uint8_t *special;       /* skipped by skip_special */
};

#endif
