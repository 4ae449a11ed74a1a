/* mm.c - media in the LLM sequence (llm.md §5, vision.md §3, audio.md §6):
 * encode an image / video / audio item into the streams the model's prompt
 * format uses, and evaluate a prompt whose placeholder tokens are expanded into
 * those rows (continuous) or token ids (discrete). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/image.h"
#include "media/video.h"
#include "models/hcx.h"
#include "models/mm_audio.h"
#include "models/tatok.h"
#include "models/vision_preproc.h"
#include "models/vit.h"

/* Discrete image rows replacing <|DISCRETE_IMAGE_PAD|> (vision.md §3.3):
 * A = ratio token + 27 x (27 codes + <|vision_eol|>) + <|vision_eof|> (default),
 * B = the 729 code tokens only, C = OmniServe's defect (codes as raw text ids).
 * UNCERTAIN which one the model was trained on; OMNIC_DISCRETE_IMAGE_LAYOUT=A|B|C
 * overrides for parity experiments. */
#define MM_DISCRETE_IMAGE_LAYOUT 'A'
#define MM_TATOK_GRID 27

/* Input aspect ratios of layout A's ratio token, [w, h] (vision.md §3.3; the
 * released list is UNCERTAIN: these are the 2026 processor's test values). */
static const int mm_ratios[][2] = {{1, 1}, {1, 2}, {2, 1}, {3, 4}, {4, 3}, {9, 16}, {16, 9}, {1, 3}, {3, 1}};

typedef struct mm_part {
    int32_t ph;     /* placeholder token id this part replaces */
    float *rows;    /* [n][D] continuous rows, or NULL */
    int32_t *ids;   /* [n] token ids, or NULL */
    int n;
} mm_part;

struct omnic_media {
    int kind;
    int dim;        /* width of continuous rows (the LLM hidden size) */
    int n_parts;
    mm_part part[2];
};

/* Held by the model; the media encoders run on their own worker pool under mu,
 * so a server can encode media on request threads while the scheduler thread
 * keeps decoding with the model's pool. */
struct mm_encoders {
    pthread_mutex_t mu;
    omnic_pool *pool;
    int vit_tried, tatok_tried, pp_loaded;
    vit_model *vit;
    tatok_model *tatok;
    vision_preproc pp;
};

void mm_free(omnic_model *m) {
    if (!m->mm) return;
    vit_free(m->mm->vit);
    tatok_free(m->mm->tatok);
    mm_audio_free(m);
    omnic_pool_free(m->mm->pool);
    pthread_mutex_destroy(&m->mm->mu);
    free(m->mm);
    m->mm = NULL;
}

static pthread_mutex_t mm_create_mu = PTHREAD_MUTEX_INITIALIZER;

/* The model's encoder state, created on first use. */
static int mm_get(omnic_model *m, struct mm_encoders **out) {
    pthread_mutex_lock(&mm_create_mu);
    if (!m->mm) {
        struct mm_encoders *E = calloc(1, sizeof *E);
        if (E && !(E->pool = omnic_pool_new(omnic_pool_size(m->pool)))) {
            free(E);
            E = NULL;
        }
        if (E) pthread_mutex_init(&E->mu, NULL);
        m->mm = E;
    }
    pthread_mutex_unlock(&mm_create_mu);
    if (!m->mm) return omnic_err(OMNIC_ENOMEM, "out of memory (media encoders)");
    *out = m->mm;
    return OMNIC_OK;
}

static int need_token(const omnic_tokenizer *tok, const char *s, int32_t *id) {
    *id = omnic_token_id(tok, s);
    if (*id < 0) return omnic_err(OMNIC_EUNSUP, "the tokenizer has no %s token (needed for this media)", s);
    return OMNIC_OK;
}

static int load_vit(omnic_model *m, struct mm_encoders *E) {
    if (!E->vit_tried) {
        E->vit_tried = 1;
        if (vit_load(m, &E->vit)) return omnic_err(OMNIC_EUNSUP, "%s", omnic_errmsg());
        if (vit_out_dim(E->vit) != m->info.hidden_size) {
            int d = vit_out_dim(E->vit);
            vit_free(E->vit);
            E->vit = NULL;
            return omnic_err(OMNIC_ETENSOR, "model.mm_projector.weight: output width %d != LLM hidden size %d", d,
                             m->info.hidden_size);
        }
    }
    if (!E->vit) return omnic_err(OMNIC_EUNSUP, "this model has no usable vision encoder");
    if (!E->pp_loaded) {
        if (vision_preproc_load(m->dir, &E->pp)) return omnic_err(OMNIC_ECONFIG, "%s", omnic_errmsg());
        E->pp_loaded = 1;
    }
    return OMNIC_OK;
}

/* Continuous rows of pixel_values through the ViT into part p. */
static int vit_part(struct mm_encoders *E, float *px, const int grid[3], int32_t ph, mm_part *p) {
    int g[1][3] = {{grid[0], grid[1], grid[2]}};
    int n = 0;
    float *rows = NULL;
    int rc = vit_encode(E->vit, E->pool, px, (const int (*)[3])g, 1, &rows, &n);
    if (rc) return rc;
    *p = (mm_part){ph, rows, NULL, n};
    return OMNIC_OK;
}

/* Layout A/B/C token ids for 729 TA-Tok codes of an image of size w x h. */
static int discrete_image_ids(const omnic_tokenizer *tok, const int32_t *codes, int w, int h, mm_part *p) {
    const char *env = getenv("OMNIC_DISCRETE_IMAGE_LAYOUT");
    char layout = env && (env[0] == 'A' || env[0] == 'B' || env[0] == 'C') ? env[0] : MM_DISCRETE_IMAGE_LAYOUT;
    int32_t base, eol = -1, eof = -1, ratio = -1;
    int rc = need_token(tok, "<|vision00000|>", &base);
    if (rc) return rc;
    if (layout == 'C') base = 0;
    if (layout == 'A') {
        double r = (double)w / h, best = INFINITY;
        int bi = 0;
        for (size_t i = 0; i < sizeof mm_ratios / sizeof mm_ratios[0]; i++) {
            double d = fabs(r - (double)mm_ratios[i][0] / mm_ratios[i][1]);
            if (d < best) { best = d; bi = (int)i; }
        }
        char rs[48];
        snprintf(rs, sizeof rs, "<|vision_ratio_%d:%d|>", mm_ratios[bi][0], mm_ratios[bi][1]);
        if ((rc = need_token(tok, rs, &ratio)) || (rc = need_token(tok, "<|vision_eol|>", &eol)) ||
            (rc = need_token(tok, "<|vision_eof|>", &eof)))
            return rc;
    }
    int n = layout == 'A' ? 1 + MM_TATOK_GRID * (MM_TATOK_GRID + 1) + 1 : TATOK_CODES;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int k = 0;
    if (layout == 'A') ids[k++] = ratio;
    for (int y = 0; y < MM_TATOK_GRID; y++) {
        for (int x = 0; x < MM_TATOK_GRID; x++) ids[k++] = base + codes[y * MM_TATOK_GRID + x];
        if (layout == 'A') ids[k++] = eol;
    }
    if (layout == 'A') ids[k++] = eof;
    p->ids = ids;
    p->n = n;
    return OMNIC_OK;
}

static int encode_image(omnic_model *m, const omnic_tokenizer *tok, const uint8_t *buf, size_t len,
                        const char *name, omnic_media *md) {
    struct mm_encoders *E = m->mm;
    int32_t ph_img, ph_disc = -1;
    int rc = 0;
    if ((rc = need_token(tok, "<|IMAGE_PAD|>", &ph_img)) || (rc = load_vit(m, E))) return rc;
    int omni = m->info.has_discrete_vision;
    if (omni) {
        if ((rc = need_token(tok, "<|DISCRETE_IMAGE_PAD|>", &ph_disc))) return rc;
        if (!E->tatok_tried) {
            E->tatok_tried = 1;
            if (tatok_load(m, &E->tatok)) return omnic_err(OMNIC_EUNSUP, "%s", omnic_errmsg());
        }
        if (!E->tatok) return omnic_err(OMNIC_EUNSUP, "this model's discrete image tokenizer could not be loaded");
    }
    omnic_image img = {0};
    if ((rc = omnic_image_decode(buf, len, name, 0, &img))) return rc;
    float *px = NULL;
    int grid[3];
    if ((rc = vision_image_patches(&E->pp, &img, &px, grid, NULL))) {
        rc = omnic_err(rc, "%s: %s", name, omnic_errmsg());
        goto done;
    }
    if (omni) {
        int32_t codes[TATOK_CODES];
        if ((rc = tatok_encode(E->tatok, E->pool, &img, codes))) goto done;
        md->part[md->n_parts] = (mm_part){ph_disc, NULL, NULL, 0};
        if ((rc = discrete_image_ids(tok, codes, img.w, img.h, &md->part[md->n_parts]))) goto done;
        md->n_parts++;
    }
    if ((rc = vit_part(E, px, grid, ph_img, &md->part[md->n_parts]))) goto done;
    md->n_parts++;
done:
    free(px);
    omnic_image_free(&img);
    return rc;
}

static int encode_video(omnic_model *m, const omnic_tokenizer *tok, const uint8_t *buf, size_t len,
                        const char *name, omnic_media *md) {
    struct mm_encoders *E = m->mm;
    int32_t ph;
    int rc = 0;
    if ((rc = need_token(tok, "<|VIDEO_PAD|>", &ph)) || (rc = load_vit(m, E))) return rc;
    int omni = m->info.has_discrete_vision || m->info.has_audio;
    float *px = NULL;
    int grid[3];
    rc = vision_video_patches(&E->pp, buf, len, name, omni ? OMNIC_VIDEO_MAX_FRAMES_B : OMNIC_VIDEO_MAX_FRAMES_A,
                              &px, grid);
    if (!rc && !(rc = vit_part(E, px, grid, ph, &md->part[0]))) md->n_parts = 1;
    free(px);
    return rc;
}

static int encode_audio(omnic_model *m, const omnic_tokenizer *tok, const uint8_t *buf, size_t len,
                        const char *name, omnic_media *md) {
    int32_t ph_c, ph_d, base;
    int rc;
    if ((rc = need_token(tok, "<|AUDIO_PAD|>", &ph_c)) || (rc = need_token(tok, "<|DISCRETE_AUDIO_PAD|>", &ph_d)) ||
        (rc = need_token(tok, "<|audio0000|>", &base)))
        return rc;
    mm_audio_out a = {0};
    if ((rc = mm_audio_encode(m, m->mm->pool, buf, len, name, &a))) return rc;
    if (a.n_rows > 0 && a.dim != m->info.hidden_size) {
        free(a.rows);
        free(a.codes);
        return omnic_err(OMNIC_ETENSOR, "audio projector output width %d != LLM hidden size %d", a.dim,
                         m->info.hidden_size);
    }
    for (int i = 0; i < a.n_codes; i++) a.codes[i] += base;   /* unit -> <|audioNNNN|> id */
    md->part[0] = (mm_part){ph_d, NULL, a.codes, a.n_codes};
    md->part[1] = (mm_part){ph_c, a.rows, NULL, a.n_rows};
    md->n_parts = 2;
    return OMNIC_OK;
}

int omnic_media_encode(omnic_model *m, const omnic_tokenizer *tok, int kind, const uint8_t *buf, size_t len,
                       const char *name, omnic_media **out) {
    *out = NULL;
    if (!name) name = "media";
    omnic_media *md = calloc(1, sizeof *md);
    if (!md) return omnic_err(OMNIC_ENOMEM, "out of memory");
    md->kind = kind;
    md->dim = m->info.hidden_size;
    struct mm_encoders *E = NULL;
    int rc = mm_get(m, &E);
    if (rc) {
        free(md);
        return rc;
    }
    pthread_mutex_lock(&E->mu);
    switch (kind) {
    case OMNIC_MEDIA_IMAGE: rc = encode_image(m, tok, buf, len, name, md); break;
    case OMNIC_MEDIA_VIDEO: rc = encode_video(m, tok, buf, len, name, md); break;
    case OMNIC_MEDIA_AUDIO: rc = encode_audio(m, tok, buf, len, name, md); break;
    default: rc = omnic_err(OMNIC_EINVAL, "%s: unknown media kind %d", name, kind);
    }
    pthread_mutex_unlock(&E->mu);
    if (rc) {
        omnic_media_free(md);
        return rc;
    }
    *out = md;
    return OMNIC_OK;
}

int omnic_media_encode_file(omnic_model *m, const omnic_tokenizer *tok, int kind, const char *path,
                            omnic_media **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot open", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return omnic_err(OMNIC_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return omnic_err(OMNIC_EIO, "%s: read error", path);
    }
    int rc = omnic_media_encode(m, tok, kind, buf, len, path, out);
    free(buf);
    return rc;
}

void omnic_media_free(omnic_media *md) {
    if (!md) return;
    for (int i = 0; i < md->n_parts; i++) {
        free(md->part[i].rows);
        free(md->part[i].ids);
    }
    free(md);
}

int omnic_media_positions(const omnic_media *md) {
    int n = 0;
    for (int i = 0; i < md->n_parts; i++) n += md->part[i].n;
    return n;
}

/* The part that the next occurrence of placeholder ph takes, given how many of
 * that placeholder were seen before (k). */
static const mm_part *find_part(omnic_media *const *media, int n_media, int32_t ph, int k) {
    for (int i = 0; i < n_media; i++)
        for (int j = 0; j < media[i]->n_parts; j++)
            if (media[i]->part[j].ph == ph && k-- == 0) return &media[i]->part[j];
    return NULL;
}

static int is_placeholder(omnic_media *const *media, int n_media, int32_t id) {
    for (int i = 0; i < n_media; i++)
        for (int j = 0; j < media[i]->n_parts; j++)
            if (media[i]->part[j].ph == id) return 1;
    return 0;
}

/* Walk the prompt; for each segment call fn (text run: ids; part: rows or ids). */
typedef int (*seg_fn)(void *arg, const int32_t *ids, const float *rows, int n);

static int walk(const int32_t *ids, int n, omnic_media *const *media, int n_media, seg_fn fn, void *arg) {
    int seen[16][2], n_seen = 0, used = 0, total_parts = 0, rc;
    for (int i = 0; i < n_media; i++) total_parts += media[i]->n_parts;
    int start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && !is_placeholder(media, n_media, ids[i])) continue;
        if (i > start && (rc = fn(arg, ids + start, NULL, i - start))) return rc;
        start = i + 1;
        if (i == n) break;
        int k = 0, s;
        for (s = 0; s < n_seen && seen[s][0] != ids[i]; s++) {}
        if (s == n_seen) {
            if (n_seen == 16) return omnic_err(OMNIC_EINVAL, "too many kinds of media placeholders");
            seen[n_seen][0] = ids[i];
            seen[n_seen++][1] = 0;
        }
        k = seen[s][1]++;
        const mm_part *p = find_part(media, n_media, ids[i], k);
        if (!p) return omnic_err(OMNIC_EINVAL, "the prompt has more placeholder tokens (id %d, #%d) than media items for it",
                                 ids[i], k + 1);
        used++;
        if (p->n > 0 && (rc = fn(arg, p->ids, p->rows, p->n))) return rc;
    }
    if (used != total_parts)
        return omnic_err(OMNIC_EINVAL, "%d media stream(s) have no placeholder in the prompt (%d placeholders for %d streams)",
                         total_parts - used, used, total_parts);
    return OMNIC_OK;
}

static int count_seg(void *arg, const int32_t *ids, const float *rows, int n) {
    (void)ids; (void)rows;
    *(int *)arg += n;
    return OMNIC_OK;
}

int omnic_mm_expanded_len(const int32_t *ids, int n, omnic_media *const *media, int n_media, int *n_pos) {
    *n_pos = 0;
    return walk(ids, n, media, n_media, count_seg, n_pos);
}

typedef struct expand_arg {
    int32_t *ids;
    const float **rows;
    int at, dim;
} expand_arg;

static int expand_seg(void *arg, const int32_t *ids, const float *rows, int n) {
    expand_arg *a = arg;
    for (int i = 0; i < n; i++, a->at++) {
        a->ids[a->at] = ids ? ids[i] : -1;
        a->rows[a->at] = ids ? NULL : rows + (size_t)i * a->dim;
    }
    return OMNIC_OK;
}

int omnic_mm_expand(const int32_t *ids, int n, omnic_media *const *media, int n_media, int32_t *out_ids,
                    const float **out_rows) {
    expand_arg a = {out_ids, out_rows, 0, 0};
    for (int i = 0; i < n_media; i++) a.dim = a.dim ? a.dim : media[i]->dim;
    return walk(ids, n, media, n_media, expand_seg, &a);
}

typedef struct eval_arg {
    omnic_ctx *c;
    float *logits;      /* all_logits: next row to fill; else the final buffer */
    int all, vocab, total, done;
} eval_arg;

static int eval_seg(void *arg, const int32_t *ids, const float *rows, int n) {
    eval_arg *a = arg;
    a->done += n;
    float *lg = a->logits ? (a->all ? a->logits : (a->done == a->total ? a->logits : NULL)) : NULL;
    int rc = ids ? omnic_eval(a->c, ids, n, lg, a->all) : omnic_eval_embd(a->c, rows, n, lg, a->all);
    if (!rc && a->all && a->logits) a->logits += (size_t)n * a->vocab;
    return rc;
}

int omnic_eval_mm(omnic_ctx *c, const int32_t *ids, int n, omnic_media *const *media, int n_media, float *logits,
                  int all_logits) {
    int total, rc = omnic_mm_expanded_len(ids, n, media, n_media, &total);
    if (rc) return rc;
    if (total <= 0) return omnic_err(OMNIC_EINVAL, "omnic_eval_mm: empty prompt");
    if (omnic_ctx_pos(c) + total > omnic_ctx_size(c))
        return omnic_err(OMNIC_EINVAL, "context full: %d tokens held + %d new (media expanded) > context size %d",
                         omnic_ctx_pos(c), total, omnic_ctx_size(c));
    eval_arg a = {c, logits, all_logits, hcx_ctx_model(c)->info.vocab_size, total, 0};
    return walk(ids, n, media, n_media, eval_seg, &a);
}
