/* tokenizer.c - the public tokenizer API (omnic.h): load a Hugging Face tokenizer.json
 * (+ tokenizer_config.json), encode (added tokens -> normalizer -> pre-tokenizers ->
 * BPE), decode (ByteLevel decoder, U+FFFD for invalid UTF-8) and streaming decode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

/* ---- loading ---- */

static int load_json(const char *path, int optional, json_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT) return OMNIC_OK;
        return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    json_error_t err;
    /* tokenizer_config.json holds model_max_length = 1e30 as an integer */
    json_t *j = json_loadf(f, JSON_ALLOW_NUL | (optional ? JSON_DECODE_INT_AS_REAL : 0), &err);
    fclose(f);
    if (!j) return omnic_err(OMNIC_EFORMAT, "%s: invalid JSON at line %d column %d: %s", path, err.line, err.column, err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return omnic_err(OMNIC_EFORMAT, "%s: top level must be a JSON object", path);
    }
    *out = j;
    return OMNIC_OK;
}

static int parse_flag(json_t *o, const char *key, int def, uint8_t *out, const char *file, const char *path) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = (uint8_t)def;
        return OMNIC_OK;
    }
    if (!json_is_boolean(v)) return omnic_err(OMNIC_ECONFIG, "%s: %s.%s must be a boolean", file, path, key);
    *out = (uint8_t)json_is_true(v);
    return OMNIC_OK;
}

/* Parse one added-token object (id given separately when it comes from a map key). */
static int add_token(omnic_tokenizer *t, json_t *o, int64_t id, const char *file, const char *path, size_t *cap) {
    if (!json_is_object(o)) return omnic_err(OMNIC_ECONFIG, "%s: %s must be an object", file, path);
    json_t *c = json_object_get(o, "content");
    if (!json_is_string(c)) return omnic_err(OMNIC_ECONFIG, "%s: %s.content must be a string", file, path);
    if (id < 0) {
        json_t *jid = json_object_get(o, "id");
        if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) >= INT32_MAX)
            return omnic_err(OMNIC_ECONFIG, "%s: %s.id must be a non-negative integer", file, path);
        id = json_integer_value(jid);
    }
    tk_added_tok a = {0};
    a.id = (int32_t)id;
    int rc;
    if ((rc = parse_flag(o, "special", 0, &a.special, file, path)) ||
        (rc = parse_flag(o, "single_word", 0, &a.single_word, file, path)) ||
        (rc = parse_flag(o, "lstrip", 0, &a.lstrip, file, path)) ||
        (rc = parse_flag(o, "rstrip", 0, &a.rstrip, file, path)) ||
        (rc = parse_flag(o, "normalized", !a.special, &a.normalized, file, path)))
        return rc;
    if (!json_string_length(c)) return OMNIC_OK; /* HF ignores empty added tokens */
    a.content_off = t->strs.len;
    a.content_len = json_string_length(c);
    if (tk_buf_put(&t->strs, json_string_value(c), a.content_len) || tk_buf_put(&t->strs, "", 1))
        return OMNIC_ENOMEM;
    if (t->n_added == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        tk_added_tok *v = realloc(t->added, nc * sizeof *v);
        if (!v) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
        t->added = v;
        *cap = nc;
    }
    t->added[t->n_added++] = a;
    return OMNIC_OK;
}

static int check_post_processor(json_t *pp, const char *file, const char *path) {
    if (!pp || json_is_null(pp)) return OMNIC_OK;
    json_t *ty = json_object_get(pp, "type");
    if (!json_is_string(ty)) return omnic_err(OMNIC_ECONFIG, "%s: %s.type is missing or not a string", file, path);
    if (!strcmp(json_string_value(ty), "ByteLevel")) return OMNIC_OK; /* only adjusts offsets */
    if (!strcmp(json_string_value(ty), "Sequence")) {
        json_t *list = json_object_get(pp, "processors");
        if (!json_is_array(list)) return omnic_err(OMNIC_ECONFIG, "%s: %s.processors must be an array", file, path);
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
            int rc = check_post_processor(e, file, sub);
            if (rc) return rc;
        }
        return OMNIC_OK;
    }
    return omnic_err(OMNIC_EUNSUP, "%s: %s.type '%s' is not supported (it would add tokens; supported: ByteLevel)",
                     file, path, json_string_value(ty));
}

static int parse_decoder(omnic_tokenizer *t, json_t *d, const char *file) {
    t->decoder = 0;
    if (!d || json_is_null(d)) return OMNIC_OK;
    json_t *ty = json_object_get(d, "type");
    if (!json_is_string(ty)) return omnic_err(OMNIC_ECONFIG, "%s: decoder.type is missing or not a string", file);
    if (!strcmp(json_string_value(ty), "ByteLevel")) {
        t->decoder = 1;
        return OMNIC_OK;
    }
    return omnic_err(OMNIC_EUNSUP, "%s: decoder.type '%s' is not supported (supported: ByteLevel)", file,
                     json_string_value(ty));
}

static int build_tables(omnic_tokenizer *t, const char *file) {
    int64_t max_id = -1;
    tk_strmap *v = &t->bpe.vocab;
    for (size_t i = 0; i < v->n; i++)
        if (v->vals[i] > max_id) max_id = v->vals[i];
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id > max_id) max_id = t->added[i].id;
    if (max_id >= INT32_MAX - 1) return omnic_err(OMNIC_EFORMAT, "%s: token ids too large", file);
    t->n_ids = (int32_t)(max_id + 1);
    size_t n = (size_t)t->n_ids ? (size_t)t->n_ids : 1;
    t->str_off = malloc(n * sizeof *t->str_off);
    t->dec_off = malloc(n * sizeof *t->dec_off);
    t->dec_len = calloc(n, sizeof *t->dec_len);
    t->special = calloc(n, 1);
    if (!t->str_off || !t->dec_off || !t->dec_len || !t->special) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) t->str_off[i] = SIZE_MAX;
    /* model vocab (the first string of an id wins), then added tokens take precedence */
    for (size_t i = 0; i < v->n; i++) {
        int32_t id = v->vals[i];
        if (t->str_off[id] != SIZE_MAX) continue;
        t->str_off[id] = t->strs.len;
        if (tk_buf_put(&t->strs, v->arena.data + v->key_off[i], v->key_len[i]) || tk_buf_put(&t->strs, "", 1))
            return OMNIC_ENOMEM;
    }
    for (size_t i = 0; i < t->n_added; i++) t->str_off[t->added[i].id] = t->added[i].content_off;
    for (size_t i = 0; i < t->n_added; i++) {
        tk_added_tok *a = &t->added[i];
        if (tk_strmap_put(&t->added_map, t->strs.data + a->content_off, a->content_len, a->id) < 0) return OMNIC_ENOMEM;
        if (a->special) { /* HF skips by token string: a vocab entry with the same string too */
            t->special[a->id] = 1;
            int32_t vid;
            if (tk_strmap_get(v, t->strs.data + a->content_off, a->content_len, &vid)) t->special[vid] = 1;
        }
    }
    for (size_t id = 0; id < (size_t)t->n_ids; id++) {
        t->dec_off[id] = t->dec.len;
        if (t->str_off[id] == SIZE_MAX) continue;
        const char *s = t->strs.data + t->str_off[id];
        size_t l = strlen(s); /* vocab keys with NUL are cut here, harmless */
        int rc = t->decoder ? tk_byte_level_decode_token(s, l, &t->dec) : tk_buf_put(&t->dec, s, l);
        if (rc) return rc;
        if (t->dec.len - t->dec_off[id] > UINT32_MAX) return omnic_err(OMNIC_EFORMAT, "%s: token too long", file);
        t->dec_len[id] = (uint32_t)(t->dec.len - t->dec_off[id]);
    }
    return OMNIC_OK;
}

static int build_matchers(omnic_tokenizer *t, const char *file) {
    int rc;
    if ((rc = tk_trie_init(&t->trie_raw)) || (rc = tk_trie_init(&t->trie_norm))) return rc;
    int any_single = 0;
    tk_buf nb = {0};
    for (size_t i = 0; i < t->n_added; i++) {
        tk_added_tok *a = &t->added[i];
        const char *c = t->strs.data + a->content_off;
        if (a->single_word) any_single = 1;
        if (!a->normalized) {
            if ((rc = tk_trie_add(&t->trie_raw, c, a->content_len, (int32_t)i))) break;
            t->has_raw = 1;
            continue;
        }
        nb.len = 0;
        if ((rc = tk_normalize(&t->norm, c, a->content_len, &nb))) break;
        if ((rc = tk_trie_add(&t->trie_norm, nb.data ? nb.data : "", nb.len, (int32_t)i))) break;
        t->has_norm = 1;
    }
    tk_buf_free(&nb);
    if (rc) return rc;
    if (any_single) {
        static const char w[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]";
        if ((rc = tk_regex_compile(w, sizeof w - 1, 0, &t->word_re, file, "single_word class"))) return rc;
    }
    return OMNIC_OK;
}

static int load_config_tokens(omnic_tokenizer *t, const char *cfg_path, size_t *cap) {
    json_t *cfg;
    int rc = load_json(cfg_path, 1, &cfg);
    if (rc || !cfg) return rc;
    json_t *atd = json_object_get(cfg, "added_tokens_decoder");
    if (atd && !json_is_null(atd)) {
        if (!json_is_object(atd)) {
            json_decref(cfg);
            return omnic_err(OMNIC_ECONFIG, "%s: added_tokens_decoder must be an object", cfg_path);
        }
        /* transformers adds the tokens the tokenizer.json does not already have */
        tk_strmap have = {0}, have_id = {0};
        for (size_t i = 0; i < t->n_added && !rc; i++) {
            char idk[16];
            int l = snprintf(idk, sizeof idk, "%d", (int)t->added[i].id);
            if (tk_strmap_put(&have_id, idk, (size_t)l, 1) < 0 ||
                tk_strmap_put(&have, t->strs.data + t->added[i].content_off, t->added[i].content_len, 1) < 0)
                rc = OMNIC_ENOMEM;
        }
        const char *key;
        json_t *val;
        json_object_foreach(atd, key, val) {
            if (rc) break;
            char path[160];
            snprintf(path, sizeof path, "added_tokens_decoder[\"%.100s\"]", key);
            char *end;
            errno = 0;
            long long id = strtoll(key, &end, 10);
            if (!*key || *end || errno || id < 0 || id >= INT32_MAX) {
                rc = omnic_err(OMNIC_ECONFIG, "%s: %s: key must be a token id", cfg_path, path);
                break;
            }
            char idk[24];
            int l = snprintf(idk, sizeof idk, "%lld", id);
            int32_t dummy;
            json_t *c = json_object_get(val, "content");
            if (tk_strmap_get(&have_id, idk, (size_t)l, &dummy) ||
                (json_is_string(c) && tk_strmap_get(&have, json_string_value(c), json_string_length(c), &dummy)))
                continue;
            rc = add_token(t, val, id, cfg_path, path, cap);
        }
        tk_strmap_free(&have);
        tk_strmap_free(&have_id);
    }
    json_decref(cfg);
    return rc;
}

int omnic_tokenizer_load(const char *dir, omnic_tokenizer **out) {
    if (!dir || !out) return omnic_err(OMNIC_EINVAL, "omnic_tokenizer_load: NULL argument");
    *out = NULL;
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32), *cfg_path = malloc(dl + 32);
    if (!path || !cfg_path) {
        free(path);
        free(cfg_path);
        return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    }
    struct stat st;
    int gguf = dl > 5 && !strcmp(dir + dl - 5, ".gguf");
    if (!stat(dir, &st) && S_ISREG(st.st_mode)) { /* a tokenizer.json given directly, or a .gguf */
        memcpy(path, dir, dl + 1);
        memcpy(cfg_path, dir, dl + 1);
        char *slash = strrchr(cfg_path, '/');
        strcpy(slash ? slash + 1 : cfg_path, "tokenizer_config.json");
        if (gguf) { /* GGUF files carry no vocabulary here: use the folder's tokenizer.json */
            slash = strrchr(path, '/');
            strcpy(slash ? slash + 1 : path, "tokenizer.json");
        }
    } else {
        const char *sep = dl && dir[dl - 1] == '/' ? "" : "/";
        sprintf(path, "%s%stokenizer.json", dir, sep);
        sprintf(cfg_path, "%s%stokenizer_config.json", dir, sep);
    }
    omnic_tokenizer *t = calloc(1, sizeof *t);
    json_t *root = NULL;
    int rc = t ? OMNIC_OK : omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    if (t) pthread_mutex_init(&t->bpe.cache_lock, NULL);
    if (!rc) rc = load_json(path, 0, &root);
    if (!rc) {
        json_t *model = json_object_get(root, "model");
        if (!model) rc = omnic_err(OMNIC_EFORMAT, "%s: \"model\" is missing", path);
        else rc = tk_bpe_load(&t->bpe, model, path);
    }
    if (!rc) rc = tk_normalizer_load(&t->norm, json_object_get(root, "normalizer"), path);
    if (!rc) rc = tk_pretok_load(&t->pretok, json_object_get(root, "pre_tokenizer"), path);
    if (!rc) rc = parse_decoder(t, json_object_get(root, "decoder"), path);
    if (!rc) rc = check_post_processor(json_object_get(root, "post_processor"), path, "post_processor");
    size_t cap = 0;
    if (!rc) {
        json_t *at = json_object_get(root, "added_tokens");
        if (at && !json_is_null(at) && !json_is_array(at))
            rc = omnic_err(OMNIC_ECONFIG, "%s: added_tokens must be an array", path);
        size_t i;
        json_t *e;
        if (!rc && at) json_array_foreach(at, i, e) {
                char p[64];
                snprintf(p, sizeof p, "added_tokens[%zu]", i);
                if ((rc = add_token(t, e, -1, path, p, &cap))) break;
            }
    }
    if (!rc) rc = load_config_tokens(t, cfg_path, &cap);
    if (!rc) rc = build_tables(t, path);
    if (!rc) rc = build_matchers(t, path);
    if (!rc)
        for (size_t i = 0; i < t->n_added; i++) t->added[i].content = t->strs.data + t->added[i].content_off;
    json_decref(root);
    free(path);
    free(cfg_path);
    if (rc) {
        if (t) omnic_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return OMNIC_OK;
}

void omnic_tokenizer_free(omnic_tokenizer *t) {
    if (!t) return;
    tk_bpe_free(&t->bpe);
    tk_pretok_free(&t->pretok);
    tk_trie_free(&t->trie_raw);
    tk_trie_free(&t->trie_norm);
    pcre2_code_free(t->word_re);
    tk_strmap_free(&t->added_map);
    free(t->added);
    tk_buf_free(&t->strs);
    tk_buf_free(&t->dec);
    free(t->str_off);
    free(t->dec_off);
    free(t->dec_len);
    free(t->special);
    free(t);
}

int omnic_tokenizer_vocab_size(const omnic_tokenizer *t) { return t ? t->n_ids : 0; }

const char *omnic_token_str(const omnic_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_ids || t->str_off[id] == SIZE_MAX) return NULL;
    return t->strs.data + t->str_off[id];
}

int32_t omnic_token_id(const omnic_tokenizer *t, const char *str) {
    if (!t || !str) return -1;
    int32_t id;
    size_t n = strlen(str);
    if (tk_strmap_get(&t->added_map, str, n, &id)) return id;
    if (tk_strmap_get(&t->bpe.vocab, str, n, &id)) return id;
    return -1;
}

/* ---- encoding ---- */

typedef struct enc_ctx {
    omnic_tokenizer *t;
    tk_ids out;
} enc_ctx;

static int emit_piece(void *vctx, const char *s, size_t n, int byte_level) {
    enc_ctx *c = vctx;
    return tk_bpe_encode_piece(&c->t->bpe, s, n, byte_level, &c->out);
}

int omnic_tokenize(const omnic_tokenizer *tc, const char *text, size_t len, int parse_special, int32_t **ids,
                   size_t *n_ids) {
    if (!tc || !ids || !n_ids || (!text && len)) return omnic_err(OMNIC_EINVAL, "omnic_tokenize: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    /* the piece cache inside is guarded by its own lock; everything else is read-only */
    omnic_tokenizer *t = (omnic_tokenizer *)tc;
    tk_buf clean = {0}, norm = {0};
    tk_segments seg1 = {0}, seg2 = {0};
    enc_ctx ctx = {t, {0}};
    tk_pretok_run run;
    int rc = tk_pretok_run_init(&run, &t->pretok, emit_piece, &ctx);
    if (!rc && len && !tk_utf8_valid((const unsigned char *)text, len)) {
        if (tk_utf8_sanitize((const unsigned char *)text, len, 1, &clean) == (size_t)-1) rc = OMNIC_ENOMEM;
        text = clean.data;
        len = clean.len;
    }
    if (!rc && len) rc = tk_added_split(t->has_raw ? &t->trie_raw : NULL, t->added, t->word_re, text, len,
                                        parse_special, &seg1);
    for (size_t i = 0; !rc && i < seg1.n; i++) {
        tk_segment sg = seg1.v[i];
        if (sg.tok >= 0) {
            rc = tk_ids_push(&ctx.out, t->added[sg.tok].id);
            continue;
        }
        const char *s = text + sg.s;
        size_t n = sg.e - sg.s;
        if (t->norm.n) {
            norm.len = 0;
            if ((rc = tk_normalize(&t->norm, s, n, &norm))) break;
            s = norm.data ? norm.data : "";
            n = norm.len;
        }
        if (!t->has_norm) {
            rc = tk_pretok_apply(&run, s, n);
            continue;
        }
        if ((rc = tk_added_split(&t->trie_norm, t->added, t->word_re, s, n, parse_special, &seg2))) break;
        for (size_t j = 0; !rc && j < seg2.n; j++) {
            tk_segment g = seg2.v[j];
            rc = g.tok >= 0 ? tk_ids_push(&ctx.out, t->added[g.tok].id) : tk_pretok_apply(&run, s + g.s, g.e - g.s);
        }
    }
    tk_pretok_run_free(&run);
    tk_buf_free(&clean);
    tk_buf_free(&norm);
    free(seg1.v);
    free(seg2.v);
    if (rc) {
        tk_ids_free(&ctx.out);
        return rc;
    }
    if (!ctx.out.v && !(ctx.out.v = malloc(sizeof(int32_t)))) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    *ids = ctx.out.v;
    *n_ids = ctx.out.n;
    return OMNIC_OK;
}

/* ---- decoding ---- */

static int id_visible(const omnic_tokenizer *t, int32_t id, int skip_special) {
    if (id < 0 || id >= t->n_ids || t->str_off[id] == SIZE_MAX) return 0; /* HF drops unknown ids */
    return !(skip_special && t->special[id]);
}

int omnic_detokenize(const omnic_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **out,
                     size_t *out_len) {
    if (!t || !out || (!ids && n)) return omnic_err(OMNIC_EINVAL, "omnic_detokenize: NULL argument");
    *out = NULL;
    if (out_len) *out_len = 0;
    tk_buf raw = {0}, res = {0};
    int rc = OMNIC_OK, first = 1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!id_visible(t, ids[i], skip_special)) continue;
        if (!t->decoder && !first) rc = tk_buf_put(&raw, " ", 1);
        if (!rc) rc = tk_buf_put(&raw, t->dec.data + t->dec_off[ids[i]], t->dec_len[ids[i]]);
        first = 0;
    }
    if (!rc && tk_utf8_sanitize((const unsigned char *)(raw.data ? raw.data : ""), raw.len, 1, &res) == (size_t)-1)
        rc = OMNIC_ENOMEM;
    if (!rc && !res.data) rc = tk_buf_reserve(&res, 0);
    tk_buf_free(&raw);
    if (rc) {
        tk_buf_free(&res);
        return rc;
    }
    res.data[res.len] = 0;
    *out = res.data;
    if (out_len) *out_len = res.len;
    return OMNIC_OK;
}

struct omnic_detok_stream {
    const omnic_tokenizer *t;
    int skip_special, any;
    tk_buf pending, out;
};

int omnic_detok_stream_new(const omnic_tokenizer *t, int skip_special, omnic_detok_stream **out) {
    if (!t || !out) return omnic_err(OMNIC_EINVAL, "omnic_detok_stream_new: NULL argument");
    omnic_detok_stream *s = calloc(1, sizeof *s);
    if (!s || tk_buf_reserve(&s->out, 16)) {
        free(s);
        return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    }
    s->t = t;
    s->skip_special = skip_special;
    *out = s;
    return OMNIC_OK;
}

static int stream_drain(omnic_detok_stream *s, int final, const char **piece, size_t *len) {
    s->out.len = 0;
    s->out.data[0] = 0;
    size_t used = tk_utf8_sanitize((const unsigned char *)(s->pending.data ? s->pending.data : ""), s->pending.len,
                                   final, &s->out);
    if (used == (size_t)-1) return OMNIC_ENOMEM;
    memmove(s->pending.data, s->pending.data + used, s->pending.len - used);
    s->pending.len -= used;
    if (piece) *piece = s->out.data;
    if (len) *len = s->out.len;
    return OMNIC_OK;
}

int omnic_detok_stream_feed(omnic_detok_stream *s, int32_t id, const char **piece, size_t *len) {
    if (!s) return omnic_err(OMNIC_EINVAL, "omnic_detok_stream_feed: NULL stream");
    const omnic_tokenizer *t = s->t;
    if (id_visible(t, id, s->skip_special)) {
        if (!t->decoder && s->any && tk_buf_put(&s->pending, " ", 1)) return OMNIC_ENOMEM;
        if (tk_buf_put(&s->pending, t->dec.data + t->dec_off[id], t->dec_len[id])) return OMNIC_ENOMEM;
        s->any = 1;
    }
    if (!s->pending.data && tk_buf_reserve(&s->pending, 16)) return OMNIC_ENOMEM;
    return stream_drain(s, 0, piece, len);
}

int omnic_detok_stream_flush(omnic_detok_stream *s, const char **piece, size_t *len) {
    if (!s) return omnic_err(OMNIC_EINVAL, "omnic_detok_stream_flush: NULL stream");
    if (!s->pending.data && tk_buf_reserve(&s->pending, 16)) return OMNIC_ENOMEM;
    return stream_drain(s, 1, piece, len);
}

void omnic_detok_stream_free(omnic_detok_stream *s) {
    if (!s) return;
    tk_buf_free(&s->pending);
    tk_buf_free(&s->out);
    free(s);
}
