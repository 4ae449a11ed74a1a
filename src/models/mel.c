/* mel.c - log-mel front ends of the audio encoders (audio.md §3, §5.2): Slaney
 * filterbank, centred STFT (reflect pad 200, periodic Hann 400, hop 160) in
 * double precision, power spectrum, mel, log10 floor 1e-10, dynamic range 8
 * below the chunk maximum, (x + 4) / 4.
 *
 * Two real frames go through one complex FFT of 400 (frame a in the real part,
 * frame b in the imaginary part) and are separated by conjugate symmetry; frames
 * whose 400 samples are all zero (the padding of a short Whisper chunk) are
 * skipped, their power spectrum being exactly zero. The filterbank rows are
 * sparse: each is applied over its non-zero bin range only. */
#include "models/mel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/fft.h"

#define N_FFT 400
#define HOP 160
#define N_BINS (N_FFT / 2 + 1)
#define N_MELS 128

static double hz_to_mel(double f) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return f >= min_log_hz ? min_log_mel + log(f / min_log_hz) / logstep : f / f_sp;
}

static double mel_to_hz(double m) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return m >= min_log_mel ? min_log_hz * exp(logstep * (m - min_log_mel)) : f_sp * m;
}

int mel_filterbank_slaney(int sr, int n_fft, int n_mels, double fmin, double fmax, float *W) {
    if (sr <= 0 || n_fft < 2 || n_mels < 1 || n_mels > 4096 || !(fmin >= 0) || !(fmax > fmin))
        return omnic_err(OMNIC_EINVAL, "mel filterbank: bad parameters (sr %d, n_fft %d, n_mels %d, fmin %g, fmax %g)",
                         sr, n_fft, n_mels, fmin, fmax);
    int nb = n_fft / 2 + 1;
    double *F = malloc(sizeof(double) * (size_t)(n_mels + 2));
    if (!F) return omnic_err(OMNIC_ENOMEM, "mel filterbank: out of memory");
    double m0 = hz_to_mel(fmin), m1 = hz_to_mel(fmax), step = (m1 - m0) / (n_mels + 1);
    for (int i = 0; i < n_mels + 2; i++) F[i] = mel_to_hz(i == n_mels + 1 ? m1 : m0 + i * step);
    double fstep = ((double)sr / 2) / (nb - 1);
    for (int b = 0; b < n_mels; b++) {
        double lo = F[b + 1] - F[b], hi = F[b + 2] - F[b + 1], enorm = 2.0 / (F[b + 2] - F[b]);
        for (int k = 0; k < nb; k++) {
            double phi = k * fstep;
            double up = (phi - F[b]) / lo, down = (F[b + 2] - phi) / hi;
            double v = up < down ? up : down;
            W[(size_t)b * nb + k] = (float)((v > 0 ? v : 0) * enorm);
        }
    }
    free(F);
    return 0;
}

/* Shared core: q is the padded signal (q[160 f + m], m < 400, for f < T);
 * out[128][T] = the features. */
static int logmel(const double *q, int T, float *out) {
    float W[N_MELS * N_BINS];
    int k0[N_MELS], k1[N_MELS];
    int rc = mel_filterbank_slaney(16000, N_FFT, N_MELS, 0.0, 8000.0, W);
    if (rc) return rc;
    for (int b = 0; b < N_MELS; b++) {
        int a = 0, e = N_BINS;
        while (a < N_BINS && W[b * N_BINS + a] == 0) a++;
        while (e > a && W[b * N_BINS + e - 1] == 0) e--;
        k0[b] = a;
        k1[b] = e;
    }
    double win[N_FFT];
    for (int m = 0; m < N_FFT; m++) win[m] = 0.5 - 0.5 * cos(2.0 * M_PI * m / N_FFT);

    fft_plan plan;
    if ((rc = fft_plan_init(&plan, N_FFT))) return rc;
    double *mel = malloc(sizeof(double) * N_MELS * (size_t)T);
    double *z = malloc(sizeof(double) * 2 * N_FFT * 2); /* data + scratch */
    if (!mel || !z) {
        free(mel); free(z); fft_plan_free(&plan);
        return omnic_err(OMNIC_ENOMEM, "log-mel: out of memory (%d frames)", T);
    }
    double *work = z + 2 * N_FFT;
    double pa[N_BINS], pb[N_BINS];
    for (int f = 0; f < T; f += 2) {
        const double *qa = q + (size_t)HOP * f;
        const double *qb = f + 1 < T ? q + (size_t)HOP * (f + 1) : NULL;
        int nz = 0;
        for (int m = 0; m < N_FFT && !nz; m++) nz = qa[m] != 0 || (qb && qb[m] != 0);
        if (!nz) {
            memset(pa, 0, sizeof pa);
            memset(pb, 0, sizeof pb);
        } else {
            for (int m = 0; m < N_FFT; m++) {
                z[2 * m] = qa[m] * win[m];
                z[2 * m + 1] = qb ? qb[m] * win[m] : 0.0;
            }
            fft_forward(&plan, z, work);
            for (int k = 0; k < N_BINS; k++) {
                int kk = k ? N_FFT - k : 0;
                double zr = z[2 * k], zi = z[2 * k + 1], yr = z[2 * kk], yi = z[2 * kk + 1];
                double ar = zr + yr, ai = zi - yi, br = zi + yi, bi = zr - yr;
                pa[k] = 0.25 * (ar * ar + ai * ai);
                pb[k] = 0.25 * (br * br + bi * bi);
            }
        }
        for (int b = 0; b < N_MELS; b++) {
            const float *w = W + b * N_BINS;
            double sa = 0, sb = 0;
            for (int k = k0[b]; k < k1[b]; k++) {
                sa += (double)w[k] * pa[k];
                sb += (double)w[k] * pb[k];
            }
            mel[(size_t)b * T + f] = sa;
            if (qb) mel[(size_t)b * T + f + 1] = sb;
        }
    }
    double g = -INFINITY;
    size_t nt = (size_t)N_MELS * T;
    for (size_t i = 0; i < nt; i++) {
        double l = log10(mel[i] > 1e-10 ? mel[i] : 1e-10);
        mel[i] = l;
        if (l > g) g = l;
    }
    for (size_t i = 0; i < nt; i++) {
        double l = mel[i] > g - 8.0 ? mel[i] : g - 8.0;
        out[i] = (float)((l + 4.0) / 4.0);
    }
    free(mel);
    free(z);
    fft_plan_free(&plan);
    return 0;
}

int mel_whisper_chunk(const float *x, int n, float *out) {
    if (!x || n < 1 || n > MEL_WHISPER_SAMPLES)
        return omnic_err(OMNIC_EINVAL, "whisper log-mel: chunk of %d samples (want 1..%d)", n, MEL_WHISPER_SAMPLES);
    const int L = MEL_WHISPER_SAMPLES, P = N_FFT / 2;
    double *q = calloc((size_t)L + 2 * P, sizeof *q);
    if (!q) return omnic_err(OMNIC_ENOMEM, "whisper log-mel: out of memory");
    for (int i = 0; i < n; i++) q[P + i] = x[i];
    /* reflect without repeating the edge (p = zero-padded chunk of 480000) */
    for (int j = 0; j < P; j++) {
        q[j] = q[2 * P - j];
        q[P + L + j] = q[P + L - 2 - j];
    }
    int rc = logmel(q, MEL_WHISPER_FRAMES, out);
    free(q);
    return rc;
}

int mel_s3(const float *x, int n, float **out, int *T) {
    const int P = N_FFT / 2;
    *out = NULL;
    *T = 0;
    if (!x || n <= P || n > INT32_MAX / 2)
        return omnic_err(OMNIC_EINVAL, "S3 log-mel: chunk of %d samples (want more than %d)", n, P);
    int t = n / HOP;
    double *q = malloc(sizeof *q * ((size_t)n + 2 * P));
    float *o = malloc(sizeof *o * (size_t)N_MELS * (size_t)t);
    if (!q || !o) {
        free(q); free(o);
        return omnic_err(OMNIC_ENOMEM, "S3 log-mel: out of memory (%d samples)", n);
    }
    for (int i = 0; i < n; i++) q[P + i] = x[i];
    for (int j = 0; j < P; j++) {
        q[j] = x[P - j];
        q[P + n + j] = x[n - 2 - j];
    }
    int rc = logmel(q, t, o);
    free(q);
    if (rc) { free(o); return rc; }
    *out = o;
    *T = t;
    return 0;
}
