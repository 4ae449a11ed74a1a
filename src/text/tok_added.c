/* tok_added.c - added tokens: a byte trie over their contents and the split of a text
 * into plain segments and token matches (leftmost-longest; lstrip / rstrip absorb
 * adjacent White_Space, single_word needs non-word neighbours), as HF's
 * AddedVocabulary::find_matches does. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/tokenizer_impl.h"

int tk_trie_init(tk_trie *t) {
    memset(t, 0, sizeof *t);
    t->nodes = malloc(64 * sizeof *t->nodes);
    if (!t->nodes) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
    t->cap = 64;
    t->n = 1;
    t->nodes[0] = (tk_trie_node){-1, -1, -1, 0};
    return OMNIC_OK;
}

void tk_trie_free(tk_trie *t) {
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

static int32_t child_of(const tk_trie *t, int32_t node, unsigned char c) {
    for (int32_t ch = t->nodes[node].child; ch >= 0; ch = t->nodes[ch].sibling)
        if (t->nodes[ch].byte == c) return ch;
    return -1;
}

int tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t tok) {
    if (!n) return OMNIC_OK; /* empty contents never match */
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t ch = child_of(t, node, c);
        if (ch < 0) {
            if (t->n == t->cap) {
                if (t->cap > INT32_MAX / 4) return omnic_err(OMNIC_ENOMEM, "tokenizer: added-token trie too large");
                tk_trie_node *nn = realloc(t->nodes, t->cap * 2 * sizeof *nn);
                if (!nn) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
                t->nodes = nn;
                t->cap *= 2;
            }
            ch = (int32_t)t->n++;
            t->nodes[ch] = (tk_trie_node){-1, t->nodes[node].child, -1, c};
            t->nodes[node].child = ch;
        }
        node = ch;
    }
    if (t->nodes[node].tok < 0) t->nodes[node].tok = tok; /* first definition wins */
    t->first[(unsigned char)s[0]] = 1;
    return OMNIC_OK;
}

static int seg_push(tk_segments *o, size_t s, size_t e, int32_t tok) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        tk_segment *v = realloc(o->v, cap * sizeof *v);
        if (!v) return omnic_err(OMNIC_ENOMEM, "tokenizer: out of memory");
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (tk_segment){s, e, tok};
    return OMNIC_OK;
}

/* Start of the character that ends at text[end) (end > 0). */
static size_t char_start_before(const char *text, size_t end) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)text[i] & 0xC0) == 0x80 && end - i < 4) i--;
    return i;
}

static int is_word_char(const pcre2_code *re, pcre2_match_data **md, const char *s, size_t n) {
    if (!re || !n) return 0;
    if (!*md && !(*md = pcre2_match_data_create(1, NULL))) return 0;
    size_t l = (size_t)tk_utf8_len((unsigned char)s[0]);
    if (l > n) l = n;
    return pcre2_match(re, (PCRE2_SPTR)s, l, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, *md, NULL) >= 0;
}

int tk_added_split(const tk_trie *t, const tk_added_tok *toks, const pcre2_code *word_re, const char *text, size_t n,
                   int parse_special, tk_segments *out) {
    out->n = 0;
    size_t start_offset = 0, i = 0;
    pcre2_match_data *md = NULL;
    int rc = OMNIC_OK;
    while (t && t->n > 1 && i < n) {
        if (!t->first[(unsigned char)text[i]]) {
            i++;
            continue;
        }
        int32_t node = 0, best = -1;
        size_t best_len = 0;
        for (size_t j = i; j < n; j++) {
            node = child_of(t, node, (unsigned char)text[j]);
            if (node < 0) break;
            if (t->nodes[node].tok >= 0) {
                best = t->nodes[node].tok;
                best_len = j - i + 1;
            }
        }
        if (best < 0) {
            i++;
            continue;
        }
        size_t ms = i, me = i + best_len;
        i = me; /* the scan resumes after this match even when it is discarded */
        const tk_added_tok *tok = &toks[best];
        if (!parse_special && tok->special) continue;
        if (tok->single_word) {
            int left_word = ms > 0 && is_word_char(word_re, &md, text + char_start_before(text, ms),
                                                   ms - char_start_before(text, ms));
            int right_word = me < n && is_word_char(word_re, &md, text + me, n - me);
            if (left_word || right_word) continue;
        }
        if (tok->lstrip) {
            size_t ns = ms;
            while (ns > 0) {
                size_t cs = char_start_before(text, ns);
                int l;
                uint32_t cp = tk_utf8_decode((const unsigned char *)text + cs, ns - cs, &l);
                if (!tk_is_white_space(cp)) break;
                ns = cs;
            }
            ms = ns > start_offset ? ns : start_offset;
        }
        if (tok->rstrip) {
            while (me < n) {
                int l;
                uint32_t cp = tk_utf8_decode((const unsigned char *)text + me, n - me, &l);
                if (!tk_is_white_space(cp)) break;
                me += (size_t)l;
            }
            if (me > i) i = me;
        }
        if (start_offset < ms && (rc = seg_push(out, start_offset, ms, -1))) break;
        if ((rc = seg_push(out, ms, me, best))) break;
        start_offset = me;
    }
    pcre2_match_data_free(md);
    if (!rc && start_offset < n) rc = seg_push(out, start_offset, n, -1);
    return rc;
}
