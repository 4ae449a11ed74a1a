/* membw.c - memory read bandwidth of this machine (the bound for decode speed:
 * weight bytes per token / bandwidth). Streams a 1 GiB buffer with 1..N threads.
 *   cc -O2 -mavx512f -pthread bench/membw.c -o build/membw && build/membw [threads] */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BYTES (1ull << 30)

typedef struct { const float *p; size_t n; float out; } job;

static void *reader(void *arg) {
    job *j = arg;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < j->n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(j->p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(j->p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(j->p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(j->p + i + 48));
    }
    j->out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int maxt = argc > 1 ? atoi(argv[1]) : 2;
    float *buf = aligned_alloc(64, BYTES);
    if (!buf) return 1;
    memset(buf, 0, BYTES);
    size_t n = BYTES / sizeof(float);
    for (int t = 1; t <= maxt; t++) {
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            pthread_t th[64];
            job jobs[64];
            double t0 = now();
            for (int i = 0; i < t; i++) {
                jobs[i] = (job){buf + n / t * i, n / t / 64 * 64, 0};
                pthread_create(&th[i], NULL, reader, &jobs[i]);
            }
            for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
            double gbs = BYTES / (now() - t0) / 1e9;
            if (gbs > best) best = gbs;
        }
        printf("read bandwidth, %d thread%s: %.1f GB/s\n", t, t > 1 ? "s" : "", best);
    }
    free(buf);
    return 0;
}
