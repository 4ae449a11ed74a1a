/* peak_flops.c - the machine's arithmetic peak, the denominator of the "share of
 * peak" figures in RESULTS.md: register-only loops of AVX-512 fp32 FMA
 * (vfmadd231ps, 32 FLOP per instruction) and AVX-512 BF16 dot products
 * (vdpbf16ps, 64 FLOP per instruction: 32 bf16 pairs multiplied and added into
 * 16 fp32 lanes), 12 independent accumulators so latency is hidden, on 1 and N
 * threads at once. No memory traffic: this is what the cores can do at best.
 *
 * Build (independent of the Makefile):
 *   cc -O2 -mavx512f -mavx512bf16 -pthread bench/peak_flops.c -o build/peak_flops
 * Run:
 *   build/peak_flops [THREADS]      (default 2)
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 20000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static volatile float sink;

static void *fma_loop(void *arg) {
    (void)arg;
    __m512 a[12], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink = _mm512_reduce_add_ps(s);
    return NULL;
}

static void *bf16_loop(void *arg) {
    (void)arg;
    __m512 a[12];
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink = _mm512_reduce_add_ps(s);
    return NULL;
}

static double run(void *(*fn)(void *), int nth, double flop_per_insn) {
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, fn, NULL);
    for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    return nth * (double)ITERS * 12 * flop_per_insn / dt / 1e9;
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    if (nth < 1 || nth > 64) nth = 2;
    printf("| threads | fp32 FMA GFLOP/s | bf16 dot (vdpbf16ps) GFLOP/s |\n|---|---|---|\n");
    for (int t = 1; t <= nth; t = t == nth ? nth + 1 : (t * 2 > nth ? nth : t * 2))
        printf("| %d | %.1f | %.1f |\n", t, run(fma_loop, t, 32), run(bf16_loop, t, 64));
    return 0;
}
