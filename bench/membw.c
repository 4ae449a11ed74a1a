/* membw.c - memory read bandwidth of this machine (the bound for decode speed:
 * weight bytes per token / bandwidth). Streams a 1 GiB buffer with 1..N threads,
 * several ways: on 4 KiB pages, on 2 MiB transparent huge pages, and on huge
 * pages with software prefetch 1 KiB ahead (to L1 or L2: fastest on the Intel
 * VMs) or 16 KiB ahead to L1 (fastest on the AMD Zen 5 VM); the best figure is
 * the bound bench/RESULTS.md divides by.
 *   cc -O2 -mavx512f -pthread bench/membw.c -o build/membw && build/membw [threads] */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BYTES (1ull << 30)
#define HUGE (2ull << 20)
#define PF_MAX (16u << 10) /* the farthest prefetch distance */

typedef struct { const char *p; size_t n; float out; int pf, hint; size_t dist; } job;

/* Sums the buffer with 4 independent adds per 256 bytes; pf: prefetch the 4 lines
 * dist bytes ahead (hint 1: into L2, 0: into L1; this loop shape, which tests the
 * hint on every pass, measured 2-5 GB/s faster here than one with it hoisted). */
static void *reader(void *arg) {
    job *j = arg;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < j->n; i += 256) {
        if (j->pf) {
            if (j->hint)
                _mm_prefetch(j->p + i + j->dist, _MM_HINT_T1), _mm_prefetch(j->p + i + j->dist + 64, _MM_HINT_T1),
                    _mm_prefetch(j->p + i + j->dist + 128, _MM_HINT_T1), _mm_prefetch(j->p + i + j->dist + 192, _MM_HINT_T1);
            else
                _mm_prefetch(j->p + i + j->dist, _MM_HINT_T0), _mm_prefetch(j->p + i + j->dist + 64, _MM_HINT_T0),
                    _mm_prefetch(j->p + i + j->dist + 128, _MM_HINT_T0), _mm_prefetch(j->p + i + j->dist + 192, _MM_HINT_T0);
        }
        a0 = _mm512_add_ps(a0, _mm512_load_ps(j->p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(j->p + i + 64));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(j->p + i + 128));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(j->p + i + 192));
    }
    j->out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Best of 5 passes over buf with t threads; pf: 0 none, 1 to L1, 2 to L2, dist
 * bytes ahead. */
static double measure(const char *buf, int t, int pf, size_t dist) {
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[64];
        job jobs[64];
        size_t part = BYTES / (size_t)t / 256 * 256;
        double t0 = now();
        for (int i = 0; i < t; i++) {
            /* the last PF_MAX bytes of each part are not read, so prefetches stay inside */
            jobs[i] = (job){buf + part * (size_t)i, part - PF_MAX, 0, pf != 0, pf == 2, dist};
            pthread_create(&th[i], NULL, reader, &jobs[i]);
        }
        for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
        double gbs = (double)(part - PF_MAX) * t / (now() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    return best;
}

static char *buffer(int huge) {
    char *raw = mmap(NULL, BYTES + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *b = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    madvise(b, BYTES, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(b, 0x3f, BYTES); /* 0x3f3f3f3f: normal floats (denormals would slow the adds) */
    return b;
}

int main(int argc, char **argv) {
    int maxt = argc > 1 ? atoi(argv[1]) : 2;
    if (maxt < 1 || maxt > 64) maxt = 2;
    char *huge = buffer(1), *small = buffer(0);
    if (!small || !huge) return 1;
    for (int t = 1; t <= maxt; t++) {
        double a = measure(small, t, 0, 0), b = measure(huge, t, 0, 0), c = measure(huge, t, 1, 1024),
               d = measure(huge, t, 2, 1024), e = measure(huge, t, 1, PF_MAX);
        printf("%d thread%s: 4 KiB pages %.1f GB/s, huge pages %.1f GB/s, + prefetch 1 KiB to L1 %.1f GB/s, to L2 %.1f "
               "GB/s, 16 KiB to L1 %.1f GB/s\n",
               t, t > 1 ? "s" : " ", a, b, c, d, e);
        double best = a > b ? a : b;
        if (c > best) best = c;
        if (d > best) best = d;
        if (e > best) best = e;
        printf("read bandwidth, %d thread%s: %.1f GB/s\n", t, t > 1 ? "s" : "", best);
    }
    return 0;
}
