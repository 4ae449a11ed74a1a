/* ops.c - small vector kernels (norms, RoPE, activations); memory-light, left to
 * the compiler's auto-vectorisation. */
#include <math.h>

#include "kernels/kernels.h"

void k_rmsnorm(float *out, const float *x, const float *g, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * g[i];
}

void k_rope_half(float *v, const float *c, const float *s, int d) {
    int h = d / 2;
    for (int i = 0; i < h; i++) {
        float a = v[i], b = v[i + h];
        v[i] = a * c[i] - b * s[i];
        v[i + h] = b * c[i] + a * s[i];
    }
}

void k_silu_mul_scalar(float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) a[i] = a[i] / (1.f + expf(-a[i])) * b[i];
}

void k_axpy_scalar(float *y, const float *x, float s, int n) {
    for (int i = 0; i < n; i++) y[i] += s * x[i];
}

float k_exp_sum_scalar(float *s, int n, float mx) {
    float sum = 0.f;
    for (int i = 0; i < n; i++) sum += s[i] = expf(s[i] - mx);
    return sum;
}

float k_dot_scalar(const float *a, const float *b, int n) {
    float acc = 0.f;
    for (int i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}
