/* fft.c - mixed-radix Stockham FFT in double precision (see fft.h).
 *
 * Decimation in frequency, self-sorting: a stage of radix p on sub-sequences of
 * length len = p*m at stride s reads a_r = in[q + s*(j + m*r)] (r < p), forms the
 * p-point DFT b_u and writes b_u * exp(-2*pi*i*j*u/len) to out[q + s*(p*j + u)];
 * the next stage works on length m at stride s*p. After the last stage the
 * output is in natural order. */
#include "kernels/fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int fft_plan_init(fft_plan *p, int n) {
    memset(p, 0, sizeof *p);
    if (n < 1) return omnic_err(OMNIC_EINVAL, "fft: length %d", n);
    p->n = n;
    int rest = n, maxgen = 0;
    while (rest > 1) {
        int r;
        if (rest % 4 == 0) r = 4;
        else if (rest % 2 == 0) r = 2;
        else if (rest % 3 == 0) r = 3;
        else if (rest % 5 == 0) r = 5;
        else {
            r = 7;
            while (rest % r) r += 2;
            if (r > maxgen) maxgen = r;
        }
        if (p->n_stages == FFT_MAX_STAGES) return omnic_err(OMNIC_EINVAL, "fft: length %d", n);
        p->radix[p->n_stages++] = r;
        rest /= r;
    }
    p->tw = malloc(sizeof(double) * 2 * (size_t)(n > 1 ? n * p->n_stages : 1));
    p->roots = malloc(sizeof(double) * 2 * (size_t)(maxgen > 0 ? maxgen : 1));
    if (!p->tw || !p->roots) { fft_plan_free(p); return omnic_err(OMNIC_ENOMEM, "fft: out of memory"); }
    int len = n, off = 0;
    for (int st = 0; st < p->n_stages; st++) {
        int r = p->radix[st], m = len / r;
        p->tw_off[st] = off;
        for (int j = 0; j < m; j++)
            for (int u = 0; u < r; u++) {
                /* exact integer phase reduction keeps the angles accurate */
                long ph = (long)j * u % len;
                double a = -2.0 * M_PI * (double)ph / len;
                p->tw[off + 2 * (j * r + u)] = cos(a);
                p->tw[off + 2 * (j * r + u) + 1] = sin(a);
            }
        off += 2 * len;
        len = m;
    }
    for (int r = 0; r < maxgen; r++) {
        double a = -2.0 * M_PI * r / maxgen;
        p->roots[2 * r] = cos(a);
        p->roots[2 * r + 1] = sin(a);
    }
    return 0;
}

void fft_plan_free(fft_plan *p) {
    free(p->tw);
    free(p->roots);
    p->tw = p->roots = NULL;
}

/* out = b * w (complex) */
#define CMUL_STORE(o, br, bi, w) do { \
        double wr_ = (w)[0], wi_ = (w)[1]; \
        (o)[0] = (br) * wr_ - (bi) * wi_; \
        (o)[1] = (br) * wi_ + (bi) * wr_; \
    } while (0)

static void stage(const fft_plan *p, int st, int len, int s, const double *in, double *out) {
    const int r = p->radix[st], m = len / r;
    const double *tw = p->tw + p->tw_off[st];
    const size_t sm = (size_t)s * m;
    for (int j = 0; j < m; j++) {
        const double *w = tw + 2 * (size_t)j * r;
        for (int q = 0; q < s; q++) {
            const double *a = in + 2 * ((size_t)q + (size_t)s * j);
            double *o = out + 2 * ((size_t)q + (size_t)s * r * j);
            const size_t os = 2 * (size_t)s; /* output step between u */
            const size_t is = 2 * sm;        /* input step between r */
            if (r == 4) {
                double a0r = a[0], a0i = a[1], a1r = a[is], a1i = a[is + 1];
                double a2r = a[2 * is], a2i = a[2 * is + 1], a3r = a[3 * is], a3i = a[3 * is + 1];
                double t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
                double t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
                o[0] = t0r + t2r; o[1] = t0i + t2i;
                CMUL_STORE(o + os, t1r + t3i, t1i - t3r, w + 2);
                CMUL_STORE(o + 2 * os, t0r - t2r, t0i - t2i, w + 4);
                CMUL_STORE(o + 3 * os, t1r - t3i, t1i + t3r, w + 6);
            } else if (r == 2) {
                double a0r = a[0], a0i = a[1], a1r = a[is], a1i = a[is + 1];
                o[0] = a0r + a1r; o[1] = a0i + a1i;
                CMUL_STORE(o + os, a0r - a1r, a0i - a1i, w + 2);
            } else if (r == 3) {
                const double h = 0.86602540378443864676; /* sqrt(3)/2 */
                double a0r = a[0], a0i = a[1], a1r = a[is], a1i = a[is + 1], a2r = a[2 * is], a2i = a[2 * is + 1];
                double tr = a1r + a2r, ti = a1i + a2i, dr = a1r - a2r, di = a1i - a2i;
                double mr = a0r - 0.5 * tr, mi = a0i - 0.5 * ti;
                o[0] = a0r + tr; o[1] = a0i + ti;
                CMUL_STORE(o + os, mr + h * di, mi - h * dr, w + 2);
                CMUL_STORE(o + 2 * os, mr - h * di, mi + h * dr, w + 4);
            } else if (r == 5) {
                const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;
                const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;
                double a0r = a[0], a0i = a[1];
                double t1r = a[is] + a[4 * is], t1i = a[is + 1] + a[4 * is + 1];
                double d1r = a[is] - a[4 * is], d1i = a[is + 1] - a[4 * is + 1];
                double t2r = a[2 * is] + a[3 * is], t2i = a[2 * is + 1] + a[3 * is + 1];
                double d2r = a[2 * is] - a[3 * is], d2i = a[2 * is + 1] - a[3 * is + 1];
                double m1r = a0r + c1 * t1r + c2 * t2r, m1i = a0i + c1 * t1i + c2 * t2i;
                double m2r = a0r + c2 * t1r + c1 * t2r, m2i = a0i + c2 * t1i + c1 * t2i;
                double e1r = s1 * d1r + s2 * d2r, e1i = s1 * d1i + s2 * d2i;
                double e2r = s2 * d1r - s1 * d2r, e2i = s2 * d1i - s1 * d2i;
                o[0] = a0r + t1r + t2r; o[1] = a0i + t1i + t2i;
                CMUL_STORE(o + os, m1r + e1i, m1i - e1r, w + 2);
                CMUL_STORE(o + 2 * os, m2r + e2i, m2i - e2r, w + 4);
                CMUL_STORE(o + 3 * os, m2r - e2i, m2i + e2r, w + 6);
                CMUL_STORE(o + 4 * os, m1r - e1i, m1i + e1r, w + 8);
            } else {
                /* direct p-point DFT; roots are those of the largest generic radix P,
                 * so the root of order r is at step P/r (r divides P only when r == P;
                 * plans hold a single generic prime size per length in practice) */
                int P = 0;
                for (int k = 0; k < p->n_stages; k++)
                    if (p->radix[k] > 5 && p->radix[k] > P) P = p->radix[k];
                for (int u = 0; u < r; u++) {
                    double br = 0, bi = 0;
                    for (int k = 0; k < r; k++) {
                        double xr = a[k * is], xi = a[k * is + 1];
                        double wr, wi;
                        long ph = (long)k * u % r;
                        if (r == P) {
                            wr = p->roots[2 * ph];
                            wi = p->roots[2 * ph + 1];
                        } else {
                            double ang = -2.0 * M_PI * (double)ph / r;
                            wr = cos(ang);
                            wi = sin(ang);
                        }
                        br += xr * wr - xi * wi;
                        bi += xr * wi + xi * wr;
                    }
                    CMUL_STORE(o + u * os, br, bi, w + 2 * u);
                }
            }
        }
    }
}

void fft_forward(const fft_plan *p, double *x, double *work) {
    double *in = x, *out = work;
    int len = p->n, s = 1;
    for (int st = 0; st < p->n_stages; st++) {
        stage(p, st, len, s, in, out);
        s *= p->radix[st];
        len /= p->radix[st];
        double *t = in; in = out; out = t;
    }
    if (in != x) memcpy(x, in, sizeof(double) * 2 * (size_t)p->n);
}
