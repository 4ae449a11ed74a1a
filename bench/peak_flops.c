/* peak_flops.c - the machine's arithmetic peak, the denominator of the "share of
 * peak" figures in RESULTS.md: register-only loops of AVX-512 fp32 FMA
 * (vfmadd231ps, 32 FLOP per instruction) and AVX-512 BF16 dot products
 * (vdpbf16ps, 64 FLOP per instruction: 32 bf16 pairs multiplied and added into
 * 16 fp32 lanes), 12 independent accumulators so latency is hidden, on 1 and N
 * threads at once; and, where the CPU has Intel AMX, tile products TDPBF16PS
 * (16x16 fp32 += 16x32 bf16 . 32x16 bf16: 16384 FLOP) and TDPBSSD (int8, 32768
 * ops) on 4 independent accumulator tiles. No memory traffic: this is what the
 * cores can do at best.
 *
 * Build (independent of the Makefile):
 *   cc -O2 -mavx512f -mavx512bf16 -mamx-tile -mamx-bf16 -mamx-int8 -pthread bench/peak_flops.c -o build/peak_flops
 * Run:
 *   build/peak_flops [THREADS]      (default 2)
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
#pragma GCC unroll 12 /* without it a[] stays in memory and the loop measures store forwarding */
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
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink = _mm512_reduce_add_ps(s);
    return NULL;
}

#define AMX_ITERS 20000000L

static void amx_config(void) {
    static __thread unsigned char cfg[64] __attribute__((aligned(64)));
    memset(cfg, 0, sizeof cfg);
    cfg[0] = 1;                                  /* palette 1 */
    for (int t = 0; t < 8; t++) {
        cfg[16 + 2 * t] = 64;                    /* 64 bytes per row */
        cfg[48 + t] = 16;                        /* 16 rows */
    }
    _tile_loadconfig(cfg);
}

/* 4 independent accumulator tiles; arg: 0 = TDPBF16PS, 1 = TDPBSSD. */
static void *amx_loop(void *arg) {
    static __thread unsigned char buf[1024] __attribute__((aligned(64)));
    int int8 = arg != NULL;
    amx_config();
    _tile_loadd(4, buf, 64);
    _tile_loadd(5, buf, 64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    if (int8)
        for (long it = 0; it < AMX_ITERS / 4; it++) {
            _tile_dpbssd(0, 4, 5); _tile_dpbssd(1, 4, 5); _tile_dpbssd(2, 4, 5); _tile_dpbssd(3, 4, 5);
        }
    else
        for (long it = 0; it < AMX_ITERS / 4; it++) {
            _tile_dpbf16ps(0, 4, 5); _tile_dpbf16ps(1, 4, 5); _tile_dpbf16ps(2, 4, 5); _tile_dpbf16ps(3, 4, 5);
        }
    _tile_stored(0, buf, 64);
    _tile_release();
    sink = buf[3];
    return NULL;
}

static double run_n(void *(*fn)(void *), void *arg, int nth, double ops_per_iter, double iters) {
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, fn, arg);
    for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
    return nth * iters * ops_per_iter / (now() - t0) / 1e9;
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
    /* Linux: ask for the AMX tile state (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) */
    __builtin_cpu_init();
    int amx = __builtin_cpu_supports("amx-bf16") && syscall(SYS_arch_prctl, 0x1023, 18) == 0;
    printf("| threads | fp32 FMA GFLOP/s | bf16 dot (vdpbf16ps) GFLOP/s | AMX bf16 GFLOP/s | AMX int8 GOP/s |\n"
           "|---|---|---|---|---|\n");
    for (int t = 1; t <= nth; t = t == nth ? nth + 1 : (t * 2 > nth ? nth : t * 2)) {
        double f = run(fma_loop, t, 32), b = run(bf16_loop, t, 64);
        if (amx)
            printf("| %d | %.1f | %.1f | %.1f | %.1f |\n", t, f, b, run_n(amx_loop, NULL, t, 16.0 * 16 * 32 * 2, AMX_ITERS),
                   run_n(amx_loop, (void *)1, t, 16.0 * 16 * 64 * 2, AMX_ITERS));
        else
            printf("| %d | %.1f | %.1f | - | - |\n", t, f, b);
    }
    return 0;
}
