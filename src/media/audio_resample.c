/* audio_resample.c - resampy 0.4.2 "kaiser_best" band-limited sinc resampling
 * (audio.md §2.2 step 3) with librosa's output length rule.
 *
 * Filter: the right wing h[j], j = 0..50*8192, of a sinc with roll-off 0.917347
 * tapered by a Kaiser window (beta 12.9846) of length 2*50*8192 + 1, built in
 * float64: h[j] = r*sinc(r*j/8192) * I0(beta*sqrt(1 - (j/n)^2)) / I0(beta).
 * Output sample t sits at input time t*sr_in/sr_out; its value is the sum of
 * the input samples on both sides weighted by the table, read at steps of
 * floor(scale*8192) with linear interpolation (scale = min(1, sr_out/sr_in); the
 * table is multiplied by the ratio when downsampling). The weights of each
 * fractional position are tabulated per polyphase phase (the position from exact
 * integer arithmetic rather than resampy's t*(sr_in/sr_out) in double: a
 * difference of < 1e-12 in the weights). Sums are in double (the
 * reference accumulates into float32, a difference of ~1e-7). resampy computes
 * floor(n*sr_out/sr_in) samples; librosa zero-pads to ceil(n*sr_out/sr_in). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/audio.h"

#define RS_ZEROS 50
#define RS_PREC 8192
#define RS_BETA 12.9846
#define RS_ROLL 0.917347
#define RS_NWIN (RS_ZEROS * RS_PREC + 1)

static double *g_win;   /* RS_NWIN, built once */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Modified Bessel function of the first kind, order 0 (power series; converges
 * to double precision for the arguments used here, |x| <= 13). */
static double bessel_i0(double x) {
    double term = 1.0, sum = 1.0, q = 0.25 * x * x;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

static void build_window(void) {
    double *w = malloc(sizeof *w * RS_NWIN);
    if (!w) return;
    const int n = RS_NWIN - 1;
    const double step = (double)RS_ZEROS / n, i0b = bessel_i0(RS_BETA);
    for (int j = 0; j <= n; j++) {
        double x = j == n ? RS_ZEROS : j * step;
        double t = RS_ROLL * x, s = t == 0 ? 1.0 : sin(M_PI * t) / (M_PI * t);
        double r = (double)j / n, arg = 1.0 - r * r;
        double taper = bessel_i0(RS_BETA * sqrt(arg > 0 ? arg : 0)) / i0b;
        w[j] = RS_ROLL * s * taper;
    }
    g_win = w;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) { int64_t t = a % b; a = b; b = t; }
    return a;
}

/* Weights of one wing of the filter at fractional position frac (in units of
 * the table: offset frac*8192, then every index_step entries, linearly
 * interpolated). Returns the number of taps. */
static int wing(const double *win, const double *delta, double frac, int64_t index_step, double *w) {
    double index_frac = frac * RS_PREC;
    int64_t off = (int64_t)index_frac;
    double eta = index_frac - (double)off;
    int64_t cnt = (RS_NWIN - off) / index_step;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t k = off + i * index_step;
        w[i] = win[k] + eta * delta[k];
    }
    return (int)cnt;
}

int omnic_resample(const float *x, int64_t n, int sr_in, int sr_out, float **y, int64_t *ny) {
    *y = NULL;
    *ny = 0;
    if (n < 1 || sr_in <= 0 || sr_out <= 0)
        return omnic_err(OMNIC_EINVAL, "resample: %lld samples from %d Hz to %d Hz", (long long)n, sr_in, sr_out);
    const double ratio = (double)sr_out / sr_in;
    double want = ceil((double)n * ratio);
    if (want > 4e9) return omnic_err(OMNIC_EINVAL, "resample: output of %.0f samples is too long", want);
    int64_t n_out = (int64_t)want;
    float *out = calloc((size_t)(n_out > 0 ? n_out : 1), sizeof *out);
    if (!out) return omnic_err(OMNIC_ENOMEM, "resample: out of memory (%lld samples)", (long long)n_out);
    if (sr_in == sr_out) {
        memcpy(out, x, sizeof *out * (size_t)n);
        *y = out;
        *ny = n;
        return 0;
    }
    pthread_once(&g_once, build_window);
    if (!g_win) { free(out); return omnic_err(OMNIC_ENOMEM, "resample: out of memory (filter table)"); }

    /* the table scaled for downsampling and its forward differences (last 0) */
    double *win = malloc(sizeof *win * 2 * RS_NWIN);
    if (!win) { free(out); return omnic_err(OMNIC_ENOMEM, "resample: out of memory"); }
    double *delta = win + RS_NWIN;
    for (int j = 0; j < RS_NWIN; j++) win[j] = ratio < 1 ? ratio * g_win[j] : g_win[j];
    for (int j = 0; j + 1 < RS_NWIN; j++) delta[j] = win[j + 1] - win[j];
    delta[RS_NWIN - 1] = 0;

    const double scale = ratio < 1 ? ratio : 1.0;
    const int64_t index_step = (int64_t)(scale * RS_PREC);
    const int64_t max_taps = RS_NWIN / index_step + 1;
    int64_t n_res = (int64_t)((double)n * (double)sr_out / (double)sr_in); /* resampy's length */
    if (n_res > n_out) n_res = n_out;

    /* Polyphase: output t sits at t*Q/P input samples (P/Q = sr_out/sr_in in
     * lowest terms), so its filter depends only on (t*Q) mod P; the weights of
     * the P phases are tabulated once and each output is two dense dot
     * products. Rates with too many phases use the table directly. */
    int64_t g = gcd64(sr_in, sr_out), P = sr_out / g, Q = sr_in / g;
    int poly = P * 2 * max_taps <= (1 << 21);
    int64_t nw = poly ? P * 2 * max_taps : 2 * max_taps;
    double *wts = malloc(sizeof *wts * (size_t)nw);
    int *cnt = malloc(sizeof *cnt * 2 * (size_t)(poly ? P : 1));
    if (!wts || !cnt) {
        free(wts); free(cnt); free(win); free(out);
        return omnic_err(OMNIC_ENOMEM, "resample: out of memory");
    }
    if (poly)
        for (int64_t ph = 0; ph < P; ph++) {
            double frac = scale * ((double)ph / (double)P);
            double *wl = wts + ph * 2 * max_taps;
            cnt[2 * ph] = wing(win, delta, frac, index_step, wl);
            cnt[2 * ph + 1] = wing(win, delta, scale - frac, index_step, wl + max_taps);
        }
    const double time_inc = 1.0 / ratio;
    for (int64_t t = 0; t < n_res; t++) {
        int64_t i0;
        const double *wl;
        int nl, nr;
        if (poly) {
            int64_t tq = t * Q, ph = tq % P;
            i0 = tq / P;
            wl = wts + ph * 2 * max_taps;
            nl = cnt[2 * ph];
            nr = cnt[2 * ph + 1];
        } else { /* resampy's own arithmetic for the position */
            double time = (double)t * time_inc;
            i0 = (int64_t)time;
            double frac = scale * (time - (double)i0);
            wl = wts;
            nl = wing(win, delta, frac, index_step, wts);
            nr = wing(win, delta, scale - frac, index_step, wts + max_taps);
        }
        const double *wr = wl + max_taps;
        if (nl > i0 + 1) nl = (int)(i0 + 1);
        if (nr > n - i0 - 1) nr = (int)(n - i0 - 1 > 0 ? n - i0 - 1 : 0);
        double acc = 0;
        const float *xl = x + i0, *xr = x + i0 + 1;
        for (int i = 0; i < nl; i++) acc += wl[i] * (double)xl[-i];
        for (int k = 0; k < nr; k++) acc += wr[k] * (double)xr[k];
        out[t] = (float)acc;
    }
    free(wts);
    free(cnt);
    free(win);
    *y = out;
    *ny = n_out;
    return 0;
}
