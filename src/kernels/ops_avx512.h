/* ops_avx512.h - AVX-512 versions of the small vector kernels of kernels.h (internal;
 * call only after the runtime CPU check in cpu.c). Same contracts as k_dot, k_axpy
 * and k_silu_mul; results match the portable versions up to fp32 rounding
 * (k_axpy bit for bit). */
#ifndef OMNIC_KERNELS_OPS_AVX512_H
#define OMNIC_KERNELS_OPS_AVX512_H

float k_dot_avx512(const float *a, const float *b, int n);
void k_axpy_avx512(float *y, const float *x, float s, int n);
void k_silu_mul_avx512(float *a, const float *b, int n);
float k_exp_sum_avx512(float *s, int n, float mx);

#endif
