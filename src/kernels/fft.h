/* fft.h - complex FFT of any length in double precision (mixed radix, self-sorting
 * Stockham; radix 2/3/4/5 butterflies written out, other prime factors by a direct
 * p-point DFT), used by the mel front ends (n_fft 400 = 4*4*5*5, 1024). */
#ifndef OMNIC_KERNELS_FFT_H
#define OMNIC_KERNELS_FFT_H

#define FFT_MAX_STAGES 32

typedef struct fft_plan {
    int n;
    int n_stages;
    int radix[FFT_MAX_STAGES];
    double *tw;                 /* per stage: m*p (cos, sin) pairs of exp(-2*pi*i*j*u/len) */
    int tw_off[FFT_MAX_STAGES];
    double *roots;              /* generic radix: exp(-2*pi*i*r/p) for the largest such p */
} fft_plan;

/* n >= 1. Returns 0, or OMNIC_ENOMEM / OMNIC_EINVAL. */
int fft_plan_init(fft_plan *p, int n);
void fft_plan_free(fft_plan *p);

/* Forward transform X[k] = sum_m x[m] exp(-2*pi*i*k*m/n) of interleaved (re, im)
 * data in x (2n doubles); work is 2n doubles of scratch. The result is in x. */
void fft_forward(const fft_plan *p, double *x, double *work);

#endif
