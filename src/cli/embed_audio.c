/* embed_audio.c - the audio half of `omnic embed` (audio.md §2-5): decode the
 * file (or read a float32 [N] .npy of 16 kHz samples: a path ending in .npy),
 * then the continuous encoder + projector or the S3 tokenizer.
 *
 * Test hook: OMNIC_AUDIO_FEATURES=DIR makes the encoders read each chunk's
 * log-mel features from DIR/chunk<c>.npy (float32 [128, frames]: 3000 frames
 * for the continuous path, floor(n/160) for the discrete one) instead of
 * computing them, so the encoders can be tested apart from the front end. */
#include "cli/embed_audio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/npy.h"
#include "media/audio.h"
#include "models/audio_enc.h"
#include "models/hcx.h"
#include "models/s3tok.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int load_pcm(const char *path, float **pcm, int64_t *n) {
    if (!ends_with(path, ".npy")) return omnic_audio_load(path, 0, pcm, n);
    npy_array a;
    int rc = npy_read(path, &a);
    if (rc) return rc;
    if (strcmp(a.descr, "<f4") || a.ndim != 1) {
        npy_free(&a);
        return omnic_err(OMNIC_EFORMAT, "%s: want a float32 [N] array of 16 kHz samples", path);
    }
    int64_t cnt = a.n;
    if (cnt < OMNIC_AUDIO_MIN_SAMPLES || cnt > (int64_t)(OMNIC_AUDIO_MAX_SECONDS_DEFAULT * OMNIC_AUDIO_SR)) {
        npy_free(&a);
        if (cnt < OMNIC_AUDIO_MIN_SAMPLES)
            return omnic_err(OMNIC_EINVAL, "%s: audio too short (%lld samples; at least %d = 25 ms at 16 kHz)", path,
                             (long long)cnt, OMNIC_AUDIO_MIN_SAMPLES);
        return omnic_err(OMNIC_EINVAL, "%s: audio longer than %.0f s", path, OMNIC_AUDIO_MAX_SECONDS_DEFAULT);
    }
    *pcm = a.data;
    *n = a.n;
    return OMNIC_OK;
}

/* The hook's features of chunk c: [128][frames]. */
static int hook_features(const char *dir, int c, int frames, float **out) {
    char p[4096];
    snprintf(p, sizeof p, "%s/chunk%d.npy", dir, c);
    npy_array a;
    int rc = npy_read(p, &a);
    if (rc) return rc;
    if (strcmp(a.descr, "<f4") || a.ndim != 2 || a.shape[0] != 128 || a.shape[1] != frames) {
        npy_free(&a);
        return omnic_err(OMNIC_EFORMAT, "%s: want float32 [128, %d] features", p, frames);
    }
    *out = a.data;
    return OMNIC_OK;
}

static int continuous_hooked(audio_enc *e, omnic_pool *pool, const char *dir, const float *pcm, int64_t n,
                             float **rows, int *n_rows) {
    int64_t total = audio_enc_rows(n);
    float *out = malloc((size_t)(total > 0 ? total : 1) * (size_t)audio_enc_out_dim(e) * sizeof *out);
    if (!out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    (void)pcm;
    int64_t r = 0;
    for (int c = 0; (int64_t)c * AUDIO_ENC_CHUNK_SAMPLES < n; c++) {
        int64_t s = (int64_t)c * AUDIO_ENC_CHUNK_SAMPLES;
        int len = (int)(n - s < AUDIO_ENC_CHUNK_SAMPLES ? n - s : AUDIO_ENC_CHUNK_SAMPLES);
        int L2 = audio_enc_chunk_rows(len);
        if (!L2) continue;
        float *feat;
        int rc = hook_features(dir, c, AUDIO_ENC_FRAMES, &feat);
        if (!rc) rc = audio_enc_chunk(e, pool, feat, len, out + (size_t)r * audio_enc_out_dim(e));
        free(feat);
        if (rc) { free(out); return rc; }
        r += L2;
    }
    *rows = out;
    *n_rows = (int)total;
    return OMNIC_OK;
}

static int discrete_hooked(s3tok *t, omnic_pool *pool, const char *dir, int64_t n, int32_t **codes, int *n_codes) {
    int64_t total = s3tok_codes(n);
    int32_t *out = malloc((size_t)(total > 0 ? total : 1) * sizeof *out);
    if (!out) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int64_t r = 0;
    int c = 0;
    for (int64_t s = 0; s < n; c++) {
        int64_t e = s3tok_chunk_end(n, s), len = e - s;
        if (len < S3_MIN_CHUNK_SAMPLES) len = S3_MIN_CHUNK_SAMPLES;
        int T = (int)(len / 160);
        float *feat;
        int rc = hook_features(dir, c, T, &feat);
        if (!rc) rc = s3tok_chunk(t, pool, feat, T, out + r);
        free(feat);
        if (rc) { free(out); return rc; }
        r += s3tok_codes_for_frames(T);
        s = e;
    }
    *codes = out;
    *n_codes = (int)total;
    return OMNIC_OK;
}

int cmd_embed_audio(omnic_model *m, const char *path, int discrete, const char *out_path) {
    float *pcm = NULL;
    int64_t n = 0;
    const char *hook = getenv("OMNIC_AUDIO_FEATURES");
    if (hook && !*hook) hook = NULL;
    int rc = load_pcm(path, &pcm, &n);
    if (rc) {
        fprintf(stderr, "omnic embed: %s\n", omnic_errmsg());
        return 1;
    }
    if (discrete) {
        s3tok *t = NULL;
        int32_t *codes = NULL;
        int nc = 0;
        rc = s3tok_load(m, &t);
        if (!rc) rc = hook ? discrete_hooked(t, m->pool, hook, n, &codes, &nc) : s3tok_encode(t, m->pool, pcm, n, &codes, &nc);
        if (!rc) {
            int64_t shape[1] = {nc};
            rc = npy_write(out_path, "<i4", codes, 1, shape);
        }
        free(codes);
        s3tok_free(t);
    } else {
        audio_enc *e = NULL;
        float *rows = NULL;
        int nr = 0;
        rc = audio_enc_load(m, &e);
        if (!rc) rc = hook ? continuous_hooked(e, m->pool, hook, pcm, n, &rows, &nr)
                           : audio_enc_encode(e, m->pool, pcm, n, &rows, &nr);
        if (!rc) {
            int64_t shape[2] = {nr, audio_enc_out_dim(e)};
            rc = npy_write(out_path, "<f4", rows, 2, shape);
        }
        free(rows);
        audio_enc_free(e);
    }
    free(pcm);
    if (rc) {
        fprintf(stderr, "omnic embed: %s: %s\n", path, omnic_errmsg());
        return 1;
    }
    return 0;
}
