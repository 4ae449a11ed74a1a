/* sampler.c - next-token sampler (include/omnic.h, "sampling").
 *
 * Per call, in this order:
 *   1. penalties on the raw logits, over the last repeat_last_n accepted tokens
 *      (<0: all history, 0: none): repetition (HF / llama.cpp: l>0 ? l/p : l*p),
 *      then OpenAI presence (-presence once per distinct token) and frequency
 *      (-frequency * count);
 *   2. temperature <= 0: greedy argmax (lowest id wins ties, NaN never chosen);
 *   3. otherwise logits /= temperature, softmax, top-k, top-p (nucleus over the
 *      renormalised survivors of top-k), min-p, renormalise, one draw from the
 *      sampler's own xoshiro256** generator (seeded through splitmix64).
 *
 * omnic_sampler_sample returns the token id, or a negative OMNIC_E* status if
 * the sampler or logits are NULL or every logit is NaN. Logits are modified in
 * place (penalties, then division by the temperature when sampling).
 *
 * All scratch memory is allocated by omnic_sampler_new (sized to the vocabulary);
 * sample/accept/reset never allocate. Costs per call for a vocabulary V: O(V) for
 * greedy / plain sampling / min-p, O(V log k) for top-k (bounded heap), O(V) for
 * top-p without top-k (a radix descent, see nucleus); penalties cost O(distinct
 * tokens in the window), accept O(1).
 *
 * Same seed => same token sequence for the same logits. Across machines this
 * needs the same expf results (the only libm call), e.g. the same glibc. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "omnic.h"

/* Fixed default seed: "omnic" in ASCII. */
#define OMNIC_DEFAULT_SEED 0x6F6D6E6963ULL
/* Windows longer than this (2^24 tokens, more than any model's context) are
 * treated as "whole history" instead of allocating a ring that large. */
#define MAX_RING (1 << 24)
#define NBUCKET 1024

typedef struct {
    float p;     /* unnormalised probability exp((l - max) / T) */
    int32_t id;
} cand_t;

struct omnic_sampler {
    omnic_sampling prm;
    int vocab;
    int track;          /* 1 if some penalty is active and the window is not empty */
    int window;         /* > 0: ring size; < 0: whole history */
    uint64_t rng[4];    /* xoshiro256** state */
    cand_t *cand;       /* [vocab] candidates of the current call */
    int32_t *count;     /* [vocab] occurrences of each token in the window */
    int32_t *slot;      /* [vocab] index of a token in distinct[] (valid if count>0) */
    int32_t *distinct;  /* [vocab] tokens with count > 0, in no particular order */
    int n_distinct;
    int32_t *ring;      /* [window] last accepted tokens (window > 0) */
    int ring_head;      /* next write position = oldest entry when full */
    int ring_fill;
    double bmass[NBUCKET];  /* top-p radix buckets (see nucleus) */
    int bcount[NBUCKET];
};


/* Defaults: temperature 1.0 (plain softmax sampling), top_k 0 (off), top_p 1.0
 * (off), min_p 0 (off), repeat_penalty 1.0 (off), repeat_last_n 64 (llama.cpp's
 * window), presence 0 and frequency 0 (off), seed OMNIC_DEFAULT_SEED. */
void omnic_sampling_default(omnic_sampling *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->temperature = 1.0f;
    s->top_k = 0;
    s->top_p = 1.0f;
    s->min_p = 0.0f;
    s->repeat_penalty = 1.0f;
    s->repeat_last_n = 64;
    s->presence_penalty = 0.0f;
    s->frequency_penalty = 0.0f;
    s->seed = OMNIC_DEFAULT_SEED;
}

/* ---- PRNG: splitmix64 seeding, xoshiro256** output ---------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t st[4], uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) st[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
    uint64_t r = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return r;
}

/* Uniform double in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* ---- construction ------------------------------------------------------------ */

int omnic_sampler_new(const omnic_sampling *s, int vocab_size, omnic_sampler **out) {
    if (!out) return omnic_err(OMNIC_EINVAL, "omnic_sampler_new: out is NULL");
    *out = NULL;
    if (!s) return omnic_err(OMNIC_EINVAL, "omnic_sampler_new: sampling parameters are NULL");
    if (vocab_size <= 0)
        return omnic_err(OMNIC_EINVAL, "sampler: vocab_size must be > 0 (got %d)", vocab_size);
    if (isnan(s->temperature) || s->temperature == INFINITY)
        return omnic_err(OMNIC_EINVAL, "sampler: temperature must be a finite number (got %g)",
                         (double)s->temperature);
    if (!(s->top_p >= 0.0f))
        return omnic_err(OMNIC_EINVAL, "sampler: top_p must be >= 0 (got %g)", (double)s->top_p);
    if (isnan(s->min_p) || s->min_p > 1.0f)
        return omnic_err(OMNIC_EINVAL, "sampler: min_p must be <= 1 (got %g)", (double)s->min_p);
    if (!(s->repeat_penalty > 0.0f && s->repeat_penalty <= FLT_MAX))
        return omnic_err(OMNIC_EINVAL, "sampler: repeat_penalty must be finite and > 0 (got %g)",
                         (double)s->repeat_penalty);
    if (!isfinite(s->presence_penalty))
        return omnic_err(OMNIC_EINVAL, "sampler: presence_penalty must be finite (got %g)",
                         (double)s->presence_penalty);
    if (!isfinite(s->frequency_penalty))
        return omnic_err(OMNIC_EINVAL, "sampler: frequency_penalty must be finite (got %g)",
                         (double)s->frequency_penalty);

    omnic_sampler *sm = calloc(1, sizeof *sm);
    if (!sm) return omnic_err(OMNIC_ENOMEM, "sampler: out of memory");
    sm->prm = *s;
    sm->vocab = vocab_size;
    sm->window = s->repeat_last_n > MAX_RING ? -1 : s->repeat_last_n;
    int pen = s->repeat_penalty != 1.0f || s->presence_penalty != 0.0f ||
              s->frequency_penalty != 0.0f;
    sm->track = pen && sm->window != 0;
    size_t V = (size_t)vocab_size;
    sm->cand = malloc(V * sizeof *sm->cand);
    int ok = sm->cand != NULL;
    if (ok && sm->track) {
        sm->count = calloc(V, sizeof *sm->count);
        sm->slot = malloc(V * sizeof *sm->slot);
        sm->distinct = malloc(V * sizeof *sm->distinct);
        ok = sm->count && sm->slot && sm->distinct;
        if (ok && sm->window > 0) {
            sm->ring = malloc((size_t)sm->window * sizeof *sm->ring);
            ok = sm->ring != NULL;
        }
    }
    if (!ok) {
        omnic_sampler_free(sm);
        return omnic_err(OMNIC_ENOMEM, "sampler: out of memory for vocab_size %d", vocab_size);
    }
    rng_seed(sm->rng, s->seed);
    *out = sm;
    return OMNIC_OK;
}

void omnic_sampler_free(omnic_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->count);
    free(s->slot);
    free(s->distinct);
    free(s->ring);
    free(s);
}

/* Forget the history and restart the random sequence from the seed. */
void omnic_sampler_reset(omnic_sampler *s) {
    if (!s) return;
    if (s->track) {
        for (int j = 0; j < s->n_distinct; j++) s->count[s->distinct[j]] = 0;
        s->n_distinct = 0;
        s->ring_head = s->ring_fill = 0;
    }
    rng_seed(s->rng, s->prm.seed);
}

/* ---- history ------------------------------------------------------------------ */

static void hist_inc(omnic_sampler *s, int32_t t) {
    if (s->count[t] == 0) {
        s->slot[t] = s->n_distinct;
        s->distinct[s->n_distinct++] = t;
    }
    if (s->count[t] < INT32_MAX) s->count[t]++;
}

static void hist_dec(omnic_sampler *s, int32_t t) {
    if (--s->count[t] == 0) {
        int j = s->slot[t];
        int32_t last = s->distinct[--s->n_distinct];
        s->distinct[j] = last;
        s->slot[last] = j;
    }
}

/* Tokens outside [0, vocab) are ignored. Nothing is recorded when every penalty
 * is off or the window is 0 (the history would never be looked at). */
void omnic_sampler_accept(omnic_sampler *s, int32_t token) {
    if (!s || !s->track || token < 0 || token >= s->vocab) return;
    if (s->window > 0) {
        if (s->ring_fill == s->window)
            hist_dec(s, s->ring[s->ring_head]);
        else
            s->ring_fill++;
        s->ring[s->ring_head] = token;
        s->ring_head = s->ring_head + 1 == s->window ? 0 : s->ring_head + 1;
    }
    hist_inc(s, token);
}

static void apply_penalties(const omnic_sampler *s, float *logits) {
    if (!s->track) return;
    const float rp = s->prm.repeat_penalty;
    const float pres = s->prm.presence_penalty, freq = s->prm.frequency_penalty;
    for (int j = 0; j < s->n_distinct; j++) {
        int32_t t = s->distinct[j];
        float l = logits[t];
        if (rp != 1.0f) l = l > 0.0f ? l / rp : l * rp;
        l -= (float)s->count[t] * freq + pres;
        logits[t] = l;
    }
}

/* ---- candidate ordering ----------------------------------------------------- */

/* Total order "a ranks before b": higher probability, then lower id. */
static inline int better(cand_t a, cand_t b) { return a.p > b.p || (a.p == b.p && a.id < b.id); }

/* Heap whose root is the worst-ranked element. */
static void sift_down(cand_t *h, int n, int i) {
    cand_t x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(h[c], h[c + 1])) c++;  /* the worse child */
        if (!better(x, h[c])) break;                   /* x already worse than both */
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heapify(cand_t *h, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(h, n, i);
}

/* Turn a worst-root heap into an array sorted best first. */
static void heap_extract(cand_t *h, int n) {
    for (int m = n - 1; m > 0; m--) {
        cand_t t = h[0];
        h[0] = h[m];
        h[m] = t;
        sift_down(h, m, 0);
    }
}

/* Keep the k best of c[0..n) in c[0..k), sorted best first. O(n log k). */
static void select_top_k(cand_t *c, int n, int k) {
    heapify(c, k);
    for (int i = k; i < n; i++)
        if (better(c[i], c[0])) {
            c[0] = c[i];
            sift_down(c, k, 0);
        }
    heap_extract(c, k);
}

/* float bits of a probability in (0, 1]; for positive floats the bits order
 * like the values. */
static inline uint32_t pkey(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    return u;
}

/* Nucleus of c[0..n) (in id order, kept in id order): the fewest best-ranked
 * tokens whose mass reaches top_p * z. No sort: a radix descent over the float
 * bits of p (12 + 10 + 10 bits) finds the key K of the last token needed, with
 * per-bucket masses; among tokens whose p equals K, ids ascend. Everything with
 * p > K, and the tokens equal to K up to the crossing one, is kept. O(n).
 * Returns the new n (>= 1). */
static int nucleus(omnic_sampler *s, cand_t *c, int n, double z, float top_p) {
    static const int shift[3] = {20, 10, 0};
    double *bmass = s->bmass;
    const double target = (double)top_p * z;
    double cum = 0.0;   /* mass of the tokens known to rank above the range */
    uint32_t key = 0;   /* bits fixed so far */
    for (int lv = 0; lv < 3; lv++) {
        const int sh = shift[lv];
        const uint32_t hi_mask = lv == 0 ? 0 : ~0u << shift[lv - 1];
        memset(bmass, 0, sizeof s->bmass);
        memset(s->bcount, 0, sizeof s->bcount);
        for (int i = 0; i < n; i++) {
            uint32_t k = pkey(c[i].p);
            if ((k & hi_mask) != key) continue;
            int b = (int)((k >> sh) & (NBUCKET - 1));
            bmass[b] += c[i].p;
            s->bcount[b]++;
        }
        int B = -1, lowest = -1;
        for (int b = NBUCKET - 1; b >= 0; b--) {
            if (!s->bcount[b]) continue;
            lowest = b;
            if (cum + bmass[b] >= target) {
                B = b;
                break;
            }
            cum += bmass[b];
        }
        if (lowest < 0) return n;     /* cannot happen: the range is never empty */
        if (B < 0) {                  /* rounding kept the sum short: take all */
            if (lv == 0) return n;
            B = lowest;
            cum = -INFINITY;          /* ... and everything equal to the key */
        }
        key |= (uint32_t)B << sh;
    }
    int32_t last_id = INT32_MAX;      /* tokens with p == key: kept up to this id */
    for (int i = 0; i < n; i++)
        if (pkey(c[i].p) == key) {
            cum += c[i].p;
            if (cum >= target) {
                last_id = c[i].id;
                break;
            }
        }
    int m = 0;
    for (int i = 0; i < n; i++) {
        uint32_t k = pkey(c[i].p);
        if (k > key || (k == key && c[i].id <= last_id)) c[m++] = c[i];
    }
    return m;
}

static int32_t argmax(const float *l, int n) {
    int32_t best = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(l[i]) && (best < 0 || l[i] > l[best])) best = i;
    return best;
}

/* ---- sampling ------------------------------------------------------------------ */

int32_t omnic_sampler_sample(omnic_sampler *s, float *logits) {
    if (!s || !logits)
        return omnic_err(OMNIC_EINVAL, "omnic_sampler_sample: %s is NULL", s ? "logits" : "sampler");
    const int V = s->vocab;
    apply_penalties(s, logits);

    int32_t imax = argmax(logits, V);
    if (imax < 0) return omnic_err(OMNIC_EINVAL, "sampler: every logit is NaN");
    const float T = s->prm.temperature;
    const float mx = logits[imax];
    if (!(T > 0.0f) || mx == -INFINITY) return imax;  /* greedy, or every token masked */

    /* Softmax numerators relative to the raw max (no overflow for tiny T);
     * NaN and -inf logits get p = 0 and are dropped. A +inf logit wins outright
     * (the limit of softmax): the +inf tokens share the mass equally. */
    cand_t *c = s->cand;
    int n = 0;
    double z = 0.0;
    const int inf_max = mx == INFINITY;
    for (int i = 0; i < V; i++) {
        float l = logits[i];
        float p = inf_max ? (l == INFINITY ? 1.0f : 0.0f) : expf((l - mx) / T);
        logits[i] = l / T;
        if (p > 0.0f) {
            c[n].p = p;
            c[n].id = i;
            n++;
            z += p;
        }
    }

    int sorted = 0;
    const int k = s->prm.top_k;
    if (k > 0 && k < n) {
        select_top_k(c, n, k);
        n = k;
        sorted = 1;
        z = 0.0;
        for (int i = 0; i < n; i++) z += c[i].p;
    }

    const float top_p = s->prm.top_p;
    if (top_p < 1.0f && n > 1) {
        if (sorted) {  /* after top-k: walk the sorted survivors */
            double target = (double)top_p * z, cum = 0.0;
            for (int i = 0; i < n; i++) {
                cum += c[i].p;
                if (cum >= target) {
                    n = i + 1;
                    break;
                }
            }
        } else {
            n = nucleus(s, c, n, z, top_p);
        }
    }

    const float min_p = s->prm.min_p;
    if (min_p > 0.0f && n > 1) {
        float pmax = c[0].p;
        for (int i = 1; i < n; i++) pmax = c[i].p > pmax ? c[i].p : pmax;
        float th = min_p * pmax;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].p >= th) c[m++] = c[i];
        n = m;
    }

    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += c[i].p;
    double u = rng_uniform(s->rng) * sum, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id;
}
