/* matmul_impl.h - per-CPU-level row-range matmul implementations (internal). */
#ifndef OMNIC_KERNELS_MATMUL_IMPL_H
#define OMNIC_KERNELS_MATMUL_IMPL_H
#include "kernels/kernels.h"

/* Compute rows [r0, r1) of y = x * W^T for n inputs (see k_matmul). */
typedef void (*matmul_fn)(const kweight *w, const float *x, int n, float *y, int r0, int r1);

void matmul_rows_scalar(const kweight *w, const float *x, int n, float *y, int r0, int r1);
void matmul_rows_avx512(const kweight *w, const float *x, int n, float *y, int r0, int r1);

extern matmul_fn k_matmul_rows;
#endif
