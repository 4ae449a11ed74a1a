/* speech_units.c - speech units and speaker info in Omni-8B output (audio.md §8,
 * api.md 8.2.2-8.2.4, 8.3): id map, text scanner (incremental), validation, voice
 * choice, content cleanup. See speech_units.h for the rules and engine choices. */
#define _GNU_SOURCE
#include "text/speech_units.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/error.h"

void speech_unit_token(char buf[16], int unit) { snprintf(buf, 16, "<|audio%04d|>", unit); }

/* ---- small growable buffers ------------------------------------------------------ */

typedef struct sb { char *p; size_t n, cap; int oom; } sb;

static int sb_reserve(sb *b, size_t extra) {
    if (b->oom) return -1;
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + extra + 1) {
        if (c > SIZE_MAX / 2) { b->oom = 1; return -1; }
        c *= 2;
    }
    char *q = realloc(b->p, c);
    if (!q) { b->oom = 1; return -1; }
    b->p = q;
    b->cap = c;
    return 0;
}
static void sb_add(sb *b, const char *s, size_t n) {
    if (sb_reserve(b, n)) return;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static char *sb_take(sb *b) {
    if (b->oom) { free(b->p); return NULL; }
    if (!b->p) { b->p = malloc(1); if (b->p) b->p[0] = 0; }
    return b->p;
}

typedef struct ivec { int32_t *p; int n, cap; } ivec;
static int iv_push(ivec *v, int32_t x) {
    if (v->n == v->cap) {
        int c = v->cap ? v->cap * 2 : 64;
        if (c < 0) return -1;
        int32_t *q = realloc(v->p, sizeof *q * (size_t)c);
        if (!q) return -1;
        v->p = q;
        v->cap = c;
    }
    v->p[v->n++] = x;
    return 0;
}

/* ---- whitespace as Python's str.isspace(), on UTF-8 ----------------------------------- */

/* Byte length of the whitespace character starting at s[i], or 0. */
static size_t ws_fwd(const char *s, size_t n, size_t i) {
    const unsigned char *u = (const unsigned char *)s + i;
    size_t r = n - i;
    if (!r) return 0;
    if (u[0] == ' ' || (u[0] >= 0x09 && u[0] <= 0x0d) || (u[0] >= 0x1c && u[0] <= 0x1f)) return 1;
    if (r >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0)) return 2;
    if (r >= 3) {
        if (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) return 3;
        if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] <= 0x8a || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf) &&
            u[2] >= 0x80)
            return 3;
        if (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) return 3;
        if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80) return 3;
    }
    return 0;
}
/* Byte length of the whitespace character ending at s[n-1], or 0. */
static size_t ws_back(const char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (ws_fwd(s, n, n - k) == k) return k;
    return 0;
}
static size_t rtrim_len(const char *s, size_t n) {
    size_t k;
    while (n && (k = ws_back(s, n))) n -= k;
    return n;
}
static size_t ltrim_off(const char *s, size_t n) {
    size_t i = 0, k;
    while (i < n && (k = ws_fwd(s, n, i))) i += k;
    return i;
}

static const char *find(const char *s, size_t n, size_t from, const char *pat) {
    size_t m = strlen(pat);
    if (from > n || n - from < m) return NULL;
    return memmem(s + from, n - from, pat, m);
}

/* ---- <|audio(\d+)|> ------------------------------------------------------------------ */

/* Match at s[i] ('<'): length > 0, 0 = no match, -1 = undecided (input may continue;
 * only when !final). *val saturates at INT32_MAX. */
static int match_unit(const char *s, size_t n, size_t i, int final, int32_t *val) {
    static const char pre[] = "<|audio";
    for (size_t j = 0; j < 7; j++) {
        if (i + j >= n) return final ? 0 : -1;
        if (s[i + j] != pre[j]) return 0;
    }
    size_t k = i + 7;
    int64_t v = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9') {
        if (v <= INT32_MAX) v = v * 10 + (s[k] - '0');
        k++;
    }
    if (k >= n) return final ? 0 : -1;
    if (k == i + 7 || s[k] != '|') return 0;
    if (k + 1 >= n) return final ? 0 : -1;
    if (s[k + 1] != '>') return 0;
    if (k + 2 - i > INT_MAX) return 0;
    *val = v > INT32_MAX ? INT32_MAX : (int32_t)v;
    return (int)(k + 2 - i);
}

/* ---- checks ------------------------------------------------------------------------ */

static const char *R_NONE = "no speech units", *R_FEW = "fewer than 3 speech units",
                  *R_MANY = "more than 2000 speech units",
                  *R_REP = "speech units too repetitive (distinct/total < 0.01)",
                  *R_RANGE = "speech unit out of range";

/* Count checks on values (any int; out-of-range values count as one distinct value). */
static const char *count_check(const int32_t *v, int n) {
    if (n <= 0) return R_NONE;
    if (n < SPEECH_MIN_UNITS) return R_FEW;
    if (n > SPEECH_MAX_UNITS) return R_MANY;
    unsigned char seen[(SPEECH_NUM_UNITS + 1 + 7) / 8] = {0};
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int u = (v[i] < 0 || v[i] >= SPEECH_NUM_UNITS) ? SPEECH_NUM_UNITS : v[i];
        if (!(seen[u >> 3] & (1 << (u & 7)))) {
            seen[u >> 3] |= (unsigned char)(1 << (u & 7));
            distinct++;
        }
    }
    if ((double)distinct / n < SPEECH_MIN_DISTINCT_RATIO) return R_REP;
    return NULL;
}

const char *speech_units_check(const int32_t *units, int n) {
    if (n > 0 && !units) return R_NONE;
    for (int i = 0; i < n; i++)
        if (units[i] < 0 || units[i] >= SPEECH_NUM_UNITS) return R_RANGE;
    return count_check(units, n);
}

int speech_units_from_text(const char *s, size_t len, int32_t **units, int *n_units, int *n_matches,
                           int *n_dropped) {
    ivec v = {0};
    int nm = 0, nd = 0;
    *units = NULL;
    *n_units = 0;
    for (size_t i = 0; s && i < len;) {
        const char *q = memchr(s + i, '<', len - i);
        if (!q) break;
        i = (size_t)(q - s);
        int32_t val;
        int m = match_unit(s, len, i, 1, &val);
        if (m <= 0) { i++; continue; }
        i += (size_t)m;
        nm++;
        if (val >= SPEECH_NUM_UNITS) { nd++; continue; }
        if (iv_push(&v, val)) {
            free(v.p);
            return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
        }
    }
    *units = v.p;
    *n_units = v.n;
    if (n_matches) *n_matches = nm;
    if (n_dropped) *n_dropped = nd;
    return OMNIC_OK;
}

int speech_units_from_json(const char *js, size_t len, int32_t **units, int *n_units) {
    *units = NULL;
    *n_units = 0;
    json_error_t e;
    json_t *a = js ? json_loadb(js, len, JSON_DECODE_ANY, &e) : NULL;
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return omnic_err(OMNIC_EINVAL, "audio_synthesis units: not a JSON array");
    }
    size_t n = json_array_size(a);
    if (n > (size_t)SPEECH_MAX_UNITS * 16) {
        json_decref(a);
        return omnic_err(OMNIC_EINVAL, "audio_synthesis units: %zu units, more than %d", n, SPEECH_MAX_UNITS);
    }
    int32_t *u = malloc(sizeof *u * (n ? n : 1));
    if (!u) {
        json_decref(a);
        return omnic_err(OMNIC_ENOMEM, "audio_synthesis units: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
        if (!json_is_integer(x) || v < 0 || v >= SPEECH_NUM_UNITS) {
            free(u);
            json_decref(a);
            return omnic_err(OMNIC_EINVAL, "audio_synthesis units[%zu]: not an integer in 0..%d", i,
                             SPEECH_NUM_UNITS - 1);
        }
        u[i] = (int32_t)v;
    }
    json_decref(a);
    *units = u;
    *n_units = (int)n;
    return OMNIC_OK;
}

/* ---- id map -------------------------------------------------------------------------- */

static int cmp_pair(const void *a, const void *b) {
    const int32_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

int speech_unit_map_init(speech_unit_map *m, int32_t (*lookup)(void *ctx, const char *s), void *ctx) {
    memset(m, 0, sizeof *m);
    m->base = -1;
    int32_t (*pairs)[2] = malloc(sizeof *pairs * SPEECH_UNIT_TOKENS);
    if (!pairs) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    int n = 0, contiguous = 1;
    int32_t id0 = -1;
    char tok[16];
    for (int u = 0; u < SPEECH_UNIT_TOKENS; u++) {
        speech_unit_token(tok, u);
        int32_t id = lookup(ctx, tok);
        if (u == 0) id0 = id;
        if (id < 0) { contiguous = 0; continue; }
        if (id0 < 0 || (int64_t)id != (int64_t)id0 + u) contiguous = 0;
        pairs[n][0] = id;
        pairs[n][1] = u;
        n++;
    }
    if (!n) {
        free(pairs);
        return omnic_err(OMNIC_EUNSUP, "vocabulary has no speech unit tokens (<|audio0000|> ...)");
    }
    m->n = n;
    if (contiguous) {
        m->base = id0;
        free(pairs);
        return OMNIC_OK;
    }
    qsort(pairs, (size_t)n, sizeof *pairs, cmp_pair);
    m->ids = malloc(sizeof *m->ids * (size_t)n);
    m->units = malloc(sizeof *m->units * (size_t)n);
    if (!m->ids || !m->units) {
        free(pairs);
        speech_unit_map_free(m);
        return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    }
    for (int i = 0; i < n; i++) {
        m->ids[i] = pairs[i][0];
        m->units[i] = (int16_t)pairs[i][1];
    }
    free(pairs);
    if (n < SPEECH_UNIT_TOKENS)
        omnic_log(1, "speech units: only %d of %d unit tokens in the vocabulary", n, SPEECH_UNIT_TOKENS);
    return OMNIC_OK;
}

static int32_t tok_lookup(void *ctx, const char *s) { return omnic_token_id((const omnic_tokenizer *)ctx, s); }

int speech_unit_map_from_tokenizer(speech_unit_map *m, const omnic_tokenizer *t) {
    if (!t) return omnic_err(OMNIC_EINVAL, "speech units: no tokenizer");
    return speech_unit_map_init(m, tok_lookup, (void *)t);
}

void speech_unit_map_free(speech_unit_map *m) {
    if (!m) return;
    free(m->ids);
    free(m->units);
    m->ids = NULL;
    m->units = NULL;
    m->n = 0;
    m->base = -1;
}

int speech_unit_of_id(const speech_unit_map *m, int32_t id) {
    if (!m || !m->n) return -1;
    if (m->base >= 0) {
        int64_t u = (int64_t)id - m->base;
        return (u >= 0 && u < SPEECH_UNIT_TOKENS) ? (int)u : -1;
    }
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->ids[mid] == id) return m->units[mid];
        if (m->ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int speech_units_from_ids(const speech_unit_map *m, const int32_t *ids, size_t n, int32_t **units,
                          int *n_units, int *n_dropped) {
    *units = NULL;
    *n_units = 0;
    int nd = 0;
    ivec v = {0};
    for (size_t i = 0; ids && i < n; i++) {
        int u = speech_unit_of_id(m, ids[i]);
        if (u < 0) continue;
        if (u >= SPEECH_NUM_UNITS) { nd++; continue; }
        if (iv_push(&v, u)) {
            free(v.p);
            return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
        }
    }
    if (nd) omnic_log(2, "speech units: dropped %d <|audio6561|> token(s)", nd);
    *units = v.p;
    *n_units = v.n;
    if (n_dropped) *n_dropped = nd;
    return OMNIC_OK;
}

/* ---- speaker info ---------------------------------------------------------------------- */

static int str_in(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcasecmp(s, *list)) return 1;
    return 0;
}

void speech_info_parse(const char *js, size_t len, speech_info *o) {
    memset(o, 0, sizeof *o);
    if (!js) return;
    json_error_t e;
    json_t *j = json_loadb(js, len, 0, &e);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return;
    }
    o->present = 1;
    json_t *r = json_object_get(j, "is_ref_audio");
    if (json_is_true(r)) o->is_ref_audio = 1;
    else if (json_is_number(r)) o->is_ref_audio = json_number_value(r) != 0;
    else if (json_is_string(r)) o->is_ref_audio = str_in(json_string_value(r), (const char *const[]){"true", "yes", "1", NULL});
    json_t *g = json_object_get(j, "gender");
    if (json_is_string(g)) {
        char b[32];
        const char *s = json_string_value(g);
        size_t l = strlen(s), a = ltrim_off(s, l);
        l = rtrim_len(s, l);
        if (l > a && l - a < sizeof b) {
            memcpy(b, s + a, l - a);
            b[l - a] = 0;
            if (str_in(b, (const char *const[]){"f", "female", "woman", "여", "여성", "여자", NULL})) o->gender = 'f';
            else if (str_in(b, (const char *const[]){"m", "male", "man", "남", "남성", "남자", NULL})) o->gender = 'm';
        }
    }
    json_t *ag = json_object_get(j, "age");
    if (json_is_string(ag)) {
        static const char *const buckets[] = {"0-10", "10", "20-30", "40-50", "60-70", NULL};
        const char *s = json_string_value(ag);
        size_t l = strlen(s), a = ltrim_off(s, l);
        l = rtrim_len(s, l);
        for (int i = 0; buckets[i]; i++)
            if (l - a == strlen(buckets[i]) && !memcmp(s + a, buckets[i], l - a)) snprintf(o->age, sizeof o->age, "%s", buckets[i]);
    }
    json_t *sp = json_object_get(j, "speaker"), *em = json_object_get(j, "emotion");
    if (json_is_string(sp)) snprintf(o->speaker, sizeof o->speaker, "%s", json_string_value(sp));
    if (json_is_string(em)) snprintf(o->emotion, sizeof o->emotion, "%s", json_string_value(em));
    json_decref(j);
}

/* ---- voice choice -------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static const char *avail_find(const char *name, const char *const *avail, int n) {
    if (!avail) return name;
    for (int i = 0; i < n; i++)
        if (avail[i] && !strcmp(avail[i], name)) return avail[i];
    return NULL;
}

/* Pick among candidates present in avail; fall back to fkms, then avail[0]. */
static const char *pick(const char *const *cand, int nc, uint64_t seed, const char *const *avail, int n_avail) {
    const char *ok[8];
    int n = 0;
    for (int i = 0; i < nc && n < 8; i++) {
        const char *a = avail_find(cand[i], avail, n_avail);
        if (a) ok[n++] = a;
    }
    if (n) return ok[n == 1 ? 0 : splitmix(seed) % (uint64_t)n];
    const char *d = avail_find(SPEECH_DEFAULT_VOICE, avail, n_avail);
    if (d) return d;
    if (avail && n_avail > 0 && avail[0]) return avail[0];
    return SPEECH_DEFAULT_VOICE;
}

void speech_choose_voice(const speech_info *info, int rule, int force_ref, int has_ref_audio, uint64_t seed,
                         const char *const *avail, int n_avail, speech_voice *out) {
    static const speech_info none;
    if (!info) info = &none;
    static const char *const FKMS[] = {"fkms"}, *const MHWJ[] = {"mhwj"};
    out->zero_shot = 0;
    if (rule == SPEECH_RULE_TOOL) {
        if (info->is_ref_audio || !info->gender) {
            out->zero_shot = has_ref_audio;
            out->preset = pick(FKMS, 1, seed, avail, n_avail);
        } else {
            out->preset = pick(info->gender == 'm' ? MHWJ : FKMS, 1, seed, avail, n_avail);
        }
        return;
    }
    if ((info->is_ref_audio || force_ref) && has_ref_audio) {
        out->zero_shot = 1;
        out->preset = pick(FKMS, 1, seed, avail, n_avail);
        return;
    }
    if (info->gender || info->age[0]) {
        /* OmniServe's shipped speaker table: every age row is fkms / mhwj, except
         * 40-50: fkms|fphj / mhwj|mphw; no gender: both genders of the row */
        int mid = !strcmp(info->age, "40-50");
        const char *f[2] = {"fkms", "fphj"}, *m[2] = {"mhwj", "mphw"};
        const char *c[4];
        int n = 0, k = mid ? 2 : 1;
        for (int i = 0; i < k; i++) {
            if (info->gender != 'm') c[n++] = f[i];
        }
        for (int i = 0; i < k; i++) {
            if (info->gender != 'f') c[n++] = m[i];
        }
        out->preset = pick(c, n, seed, avail, n_avail);
        return;
    }
    out->preset = pick(FKMS, 1, seed, avail, n_avail);
}

/* ---- cleanup (api.md 8.3) -------------------------------------------------------------- */

/* Remove every unit token, collapse runs of >= 3 newlines to 2, strip. */
static char *strip_units(const char *s, size_t n) {
    sb a = {0}, b = {0};
    for (size_t i = 0; i < n;) {
        int32_t v;
        int m = s[i] == '<' ? match_unit(s, n, i, 1, &v) : 0;
        if (m > 0) { i += (size_t)m; continue; }
        sb_add(&a, s + i, 1);
        i++;
    }
    for (size_t i = 0; i < a.n;) {
        if (a.p[i] == '\n') {
            size_t j = i;
            while (j < a.n && a.p[j] == '\n') j++;
            sb_add(&b, "\n\n", j - i >= 3 ? 2 : j - i);
            i = j;
        } else {
            sb_add(&b, a.p + i, 1);
            i++;
        }
    }
    free(a.p);
    if (a.oom) b.oom = 1;
    char *r = sb_take(&b);
    if (!r) return NULL;
    size_t l = rtrim_len(r, b.n), o = ltrim_off(r, l);
    memmove(r, r + o, l - o);
    r[l - o] = 0;
    return r;
}

/* Remove every occurrence of tag; with ws, also the whitespace on both sides. */
static char *remove_tag(const char *s, size_t n, const char *tag, int ws) {
    sb o = {0};
    size_t tl = strlen(tag), i = 0;
    const char *q;
    while ((q = find(s, n, i, tag))) {
        size_t at = (size_t)(q - s);
        sb_add(&o, s + i, at - i);
        if (ws && !o.oom) o.n = rtrim_len(o.p ? o.p : "", o.n);
        if (o.p) o.p[o.n] = 0;
        i = at + tl;
        if (ws) i += ltrim_off(s + i, n - i);
    }
    sb_add(&o, s + i, n - i);
    return sb_take(&o);
}

/* Remove open...close blocks (non-greedy, first close after each open), with the
 * whitespace after the block (trail_ws) or around it (around). */
static char *remove_blocks(const char *s, size_t n, const char *open, const char *close, int around) {
    sb o = {0};
    size_t i = 0, ol = strlen(open), cl = strlen(close);
    const char *q;
    while ((q = find(s, n, i, open))) {
        size_t at = (size_t)(q - s);
        const char *c = find(s, n, at + ol, close);
        if (!c) break;
        sb_add(&o, s + i, at - i);
        if (around && !o.oom) o.n = rtrim_len(o.p ? o.p : "", o.n);
        if (o.p) o.p[o.n] = 0;
        i = (size_t)(c - s) + cl;
        i += ltrim_off(s + i, n - i);
    }
    sb_add(&o, s + i, n - i);
    return sb_take(&o);
}

static int has_pair(const char *s, size_t n, const char *open, const char *close) {
    const char *q = find(s, n, 0, open);
    return q && find(s, n, (size_t)(q - s) + strlen(open), close) != NULL;
}

/* Apply f to *cur (in place replacement); returns 0 on OOM. */
#define STEP(expr)                       \
    do {                                 \
        char *nx_ = (expr);              \
        free(cur);                       \
        cur = nx_;                       \
        if (!cur) return NULL;           \
        len = strlen(cur);               \
    } while (0)

char *speech_clean_content(const char *s, size_t len) {
    if (!s) len = 0;
    char *cur = malloc(len + 1);
    if (!cur) return NULL;
    if (len) memcpy(cur, s, len);
    cur[len] = 0;
    /* NUL bytes would end the string early below: treat the text as ending there */
    len = strlen(cur);
    if (find(cur, len, 0, "<|audio")) STEP(strip_units(cur, len));
    if (has_pair(cur, len, "<user_transcript>", "</user_transcript>") &&
        has_pair(cur, len, "<assistant_transcript>", "</assistant_transcript>")) {
        STEP(remove_blocks(cur, len, "<user_transcript>", "</user_transcript>", 0));
    } else {
        STEP(remove_tag(cur, len, "<user_transcript>", 0));
        STEP(remove_tag(cur, len, "</user_transcript>", 0));
    }
    STEP(remove_tag(cur, len, "<assistant_transcript>", 0));
    STEP(remove_tag(cur, len, "</assistant_transcript>", 0));
    STEP(remove_blocks(cur, len, "<speaker_info>", "</speaker_info>", 1));
    static const char *const markup[] = {"<audio_decoder_call>", "</audio_decoder_call>", "<discrete_audio>",
                                         "</discrete_audio>", "<|discrete_audio_start|>",
                                         "<|discrete_audio_end|>", NULL};
    for (int k = 0; markup[k]; k++) STEP(remove_tag(cur, len, markup[k], 1));
    size_t l = rtrim_len(cur, len), o = ltrim_off(cur, l);
    memmove(cur, cur + o, l - o);
    cur[l - o] = 0;
    return cur;
}

/* ---- the parser ---------------------------------------------------------------------- */

struct speech_parse {
    sb text;
    size_t sp;          /* scan position */
    int ended;          /* non-unit text after the last match */
    int finished;
    ivec units, matches;
    int n_dropped;
    speech_result res;
    char *info_json, *text_part, *transcript, *content_failed;
};

speech_parse *speech_parse_new(void) {
    speech_parse *p = calloc(1, sizeof *p);
    if (!p) omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    return p;
}

void speech_parse_free(speech_parse *p) {
    if (!p) return;
    free(p->text.p);
    free(p->units.p);
    free(p->matches.p);
    free(p->info_json);
    free(p->text_part);
    free(p->transcript);
    free(p->content_failed);
    free(p);
}

static int scan(speech_parse *p, int final) {
    const char *s = p->text.p;
    size_t n = p->text.n;
    while (p->sp < n) {
        const char *q = memchr(s + p->sp, '<', n - p->sp);
        size_t i = q ? (size_t)(q - s) : n;
        if (i > p->sp) p->ended = 1;  /* text that is not a unit */
        if (!q) { p->sp = n; break; }
        int32_t v;
        int m = match_unit(s, n, i, final, &v);
        if (m < 0) { p->sp = i; return OMNIC_OK; }
        if (m == 0) { p->ended = 1; p->sp = i + 1; continue; }
        if (iv_push(&p->matches, v)) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
        if (v >= SPEECH_NUM_UNITS) p->n_dropped++;
        else if (iv_push(&p->units, v)) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
        p->ended = 0;
        p->sp = i + (size_t)m;
    }
    return OMNIC_OK;
}

int speech_parse_feed(speech_parse *p, const char *text, size_t len) {
    if (!p || p->finished) return omnic_err(OMNIC_EINVAL, "speech units: feed after finish");
    if (!len) return OMNIC_OK;
    if (!text) return omnic_err(OMNIC_EINVAL, "speech units: no text");
    sb_add(&p->text, text, len);
    if (p->text.oom) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    return scan(p, 0);
}

const int32_t *speech_parse_units(const speech_parse *p, int *n_units) {
    if (n_units) *n_units = p ? p->units.n : 0;
    return p ? p->units.p : NULL;
}

int speech_parse_run_ended(const speech_parse *p) { return p && p->matches.n > 0 && p->ended; }

static char *dupn(const char *s, size_t n) {
    char *r = malloc(n + 1);
    if (!r) return NULL;
    if (n) memcpy(r, s, n);
    r[n] = 0;
    return r;
}

/* 8.2.2 step 3 on text part tp[0..*L): sets p->info_json and shortens *L. */
static int find_speaker_info(speech_parse *p, const char *tp, size_t *L) {
    size_t n = *L;
    static const char open[] = "<speaker_info>", close[] = "</speaker_info>";
    const char *q;
    for (size_t from = 0; (q = find(tp, n, from, open)); from = (size_t)(q - tp) + 1) {
        size_t at = (size_t)(q - tp), j = at + strlen(open);
        j += ltrim_off(tp + j, n - j);
        if (j >= n || tp[j] != '{') continue;
        size_t k = j + 1;
        while (k < n && tp[k] != '{' && tp[k] != '}') k++;
        if (k >= n || tp[k] != '}') continue;
        size_t e = k + 1;
        e += ltrim_off(tp + e, n - e);
        if (n - e < strlen(close) || memcmp(tp + e, close, strlen(close))) continue;
        if (!(p->info_json = dupn(tp + j, k + 1 - j))) return OMNIC_ENOMEM;
        *L = rtrim_len(tp, at);
        return OMNIC_OK;
    }
    if (n >= 2 && tp[n - 1] == '}') {
        size_t b = n - 1;
        while (b > 0 && tp[b - 1] != '{' && tp[b - 1] != '}') b--;
        if (b > 0 && tp[b - 1] == '{') {
            b--;
            if (b >= 2 && tp[b - 1] == '\n' && tp[b - 2] == '\n') {
                if (!(p->info_json = dupn(tp + b, n - b))) return OMNIC_ENOMEM;
                *L = rtrim_len(tp, b - 2);
            }
        }
    }
    return OMNIC_OK;
}

int speech_parse_finish(speech_parse *p, const speech_result **out) {
    if (!p || p->finished) return omnic_err(OMNIC_EINVAL, "speech units: finish twice");
    p->finished = 1;
    int rc = scan(p, 1);
    if (rc) return rc;
    const char *s = p->text.p ? p->text.p : "";
    size_t n = p->text.n;
    speech_result *r = &p->res;
    const char *first = find(s, n, 0, "<|audio");
    r->triggered = first != NULL;
    r->units = p->units.p;
    r->n_units = p->units.n;
    r->n_matches = p->matches.n;
    r->n_dropped = p->n_dropped;
    size_t L = rtrim_len(s, first ? (size_t)(first - s) : n);
    if (r->triggered) {
        r->reject = count_check(p->matches.p, p->matches.n);
        if (!r->reject && p->units.n < SPEECH_MIN_UNITS) r->reject = R_RANGE;
        if (p->n_dropped) omnic_log(2, "speech units: dropped %d out-of-range unit token(s)", p->n_dropped);
        if (find_speaker_info(p, s, &L)) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    } else {
        r->reject = R_NONE;
        L = n;
    }
    if (p->info_json) speech_info_parse(p->info_json, strlen(p->info_json), &r->info);
    r->info_json = p->info_json;
    if (!(p->text_part = dupn(s, L)) || !(p->transcript = speech_clean_content(s, L)))
        return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    /* no audio: the text part, or (when empty) the whole text without units */
    size_t tl = rtrim_len(p->text_part, L);
    tl = tl > ltrim_off(p->text_part, tl) ? tl : 0;
    p->content_failed = speech_clean_content(tl ? p->text_part : s, tl ? L : n);
    if (!p->content_failed) return omnic_err(OMNIC_ENOMEM, "speech units: out of memory");
    r->text_part = p->text_part;
    r->transcript = p->transcript;
    r->content_failed = p->content_failed;
    *out = r;
    return OMNIC_OK;
}
