/* video_resize.c - torchvision 0.14 functional.resize(uint8 tensor, BICUBIC,
 * antialias=True) reproduced bit for bit (vision.md §1.7 step 4): the frame is
 * converted to float32, PyTorch's PIL-derived separable antialiased filter
 * (a = -0.5) runs over the width, then over the height, in float32 with the
 * same mixed float/double operation order as its CPU kernel; the result is
 * clamped to [0, 255] and rounded half to even.
 *
 * Floating-point contraction matters for bit-exactness. The reference is
 * PyTorch 1.13's CPU kernel as built for AVX2 (its dispatch on x86-64 with
 * AVX2/FMA), measured against python3-torch here: the kernel's polynomial is
 * evaluated with fused multiply-adds, and the per-output sum
 * acc = t0*w0; acc += tj*wj runs its taps 1..len-1 in blocks of four with
 * separately rounded products and adds, the remaining (len-1) mod 4 taps with
 * fused multiply-adds (the compiler's unrolled loop and its scalar epilogue).
 * This file is compiled with contraction off and spells every fma out. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "media/video_internal.h"

typedef struct axis {
    int n_in, n_out, taps;
    int *lo, *len;   /* first source index and tap count per output index */
    float *w;        /* [n_out][taps] normalised weights */
} axis;

struct video_resizer {
    int sw, sh, dw, dh;
    axis ax, ay;
    float *tmp;      /* [sh][dw*3] after the width pass */
};

/* The kernel as PyTorch writes it: the first branch in double (the constant a
 * is a double literal), the second in float until the final multiply by a. */
static float cubic_aa(float x) {
    const double a = -0.5;
    if (x < 0.0f) x = -x;
    if (x < 1.0f) {
        const double xd = x, t = fma(a + 2.0, xd, -(a + 3.0));
        return (float)fma(t * xd, xd, 1.0);
    }
    if (x < 2.0f) {
        float t = fmaf(x - 5.0f, x, 8.0f);
        t = fmaf(t, x, -4.0f);
        return (float)((double)t * a);
    }
    return 0.0f;
}

static int axis_init(axis *A, int n_in, int n_out) {
    A->n_in = n_in;
    A->n_out = n_out;
    const float scale = (float)n_in / (float)n_out;
    const float support = scale >= 1.0f ? (float)(2.0 * (double)scale) : 2.0f;
    const float invscale = scale >= 1.0f ? (float)(1.0 / (double)scale) : 1.0f;
    A->taps = (int)ceilf(support) * 2 + 1;
    A->lo = malloc((size_t)n_out * sizeof *A->lo);
    A->len = malloc((size_t)n_out * sizeof *A->len);
    A->w = calloc((size_t)n_out * (size_t)A->taps, sizeof *A->w);
    if (!A->lo || !A->len || !A->w) return omnic_err(OMNIC_ENOMEM, "video resize: out of memory");
    for (int i = 0; i < n_out; i++) {
        const float center = (float)((double)scale * ((double)i + 0.5));
        int64_t lo = (int64_t)((double)(center - support) + 0.5);
        if (lo < 0) lo = 0;
        int64_t hi = (int64_t)((double)(center + support) + 0.5);
        if (hi > n_in) hi = n_in;
        int64_t len = hi - lo;
        if (len < 1) { len = 1; if (lo >= n_in) lo = n_in - 1; }
        if (len > A->taps) len = A->taps;
        float *w = A->w + (size_t)i * (size_t)A->taps, total = 0.0f;
        for (int64_t j = 0; j < len; j++) {
            const float d = (float)(j + lo) - center;
            w[j] = cubic_aa((float)(((double)d + 0.5) * (double)invscale));
            total += w[j];
        }
        if (total != 0.0f)
            for (int64_t j = 0; j < len; j++) w[j] /= total;
        A->lo[i] = (int)lo;
        A->len[i] = (int)len;
    }
    return 0;
}

static void axis_free(axis *A) {
    free(A->lo);
    free(A->len);
    free(A->w);
}

int video_resizer_new(int sw, int sh, int dw, int dh, video_resizer **out) {
    *out = NULL;
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || sw > OMNIC_VIDEO_MAX_SIDE || sh > OMNIC_VIDEO_MAX_SIDE ||
        dw > OMNIC_VIDEO_MAX_SIDE || dh > OMNIC_VIDEO_MAX_SIDE ||
        (int64_t)sw * sh > OMNIC_VIDEO_MAX_DECODE_PIXELS || (int64_t)dw * dh > OMNIC_VIDEO_MAX_DECODE_PIXELS)
        return omnic_err(OMNIC_EINVAL, "video resize %dx%d -> %dx%d: bad size", sw, sh, dw, dh);
    video_resizer *r = calloc(1, sizeof *r);
    if (!r) return omnic_err(OMNIC_ENOMEM, "video resize: out of memory");
    *r = (video_resizer){.sw = sw, .sh = sh, .dw = dw, .dh = dh};
    if (axis_init(&r->ax, sw, dw) || axis_init(&r->ay, sh, dh)) { video_resizer_free(r); return OMNIC_ENOMEM; }
    r->tmp = malloc((size_t)sh * (size_t)dw * 3 * sizeof *r->tmp);
    if (!r->tmp) { video_resizer_free(r); return omnic_err(OMNIC_ENOMEM, "video resize: out of memory"); }
    *out = r;
    return 0;
}

void video_resizer_free(video_resizer *r) {
    if (!r) return;
    axis_free(&r->ax);
    axis_free(&r->ay);
    free(r->tmp);
    free(r);
}

static uint8_t to_u8(float v) {
    if (v < 0.0f) v = 0.0f;
    if (v > 255.0f) v = 255.0f;
    return (uint8_t)nearbyintf(v);
}

/* The two passes, compiled twice: with the FMA instruction where the CPU has it,
 * else with libm's (exact, slower) fmaf. */
#define FMA __builtin_fmaf
#define RUN_NAME run_fma
#define RUN_ATTR __attribute__((target("fma")))
#include "media/video_resize_run.inc"
#undef FMA
#undef RUN_NAME
#undef RUN_ATTR
#define FMA fmaf
#define RUN_NAME run_generic
#define RUN_ATTR
#include "media/video_resize_run.inc"

void video_resizer_run(video_resizer *r, const uint8_t *src, uint8_t *dst) {
    static int has_fma = -1;
    if (has_fma < 0) has_fma = __builtin_cpu_supports("fma") ? 1 : 0;
    if (has_fma) run_fma(r, src, dst);
    else run_generic(r, src, dst);
}
