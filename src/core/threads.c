/* threads.c - worker pool. Workers spin briefly on a generation counter (decode
 * dispatches hundreds of small jobs per token, so a condvar wake-up per job would
 * dominate), then fall back to sleeping on a condition variable. */
#include "core/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 50000 /* ~2-5 ms of pause before a worker sleeps */
#define YIELD_EVERY 64 /* give the core away often: matters when the machine is oversubscribed */

struct omnic_pool {
    int n;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;
    atomic_int done;
    atomic_int stop;
    omnic_pool_fn fn;
    void *arg;
};

typedef struct { omnic_pool *p; int ith; } worker_arg;

static void *worker(void *v) {
    worker_arg wa = *(worker_arg *)v;
    free(v);
    omnic_pool *p = wa.p;
    unsigned seen = 0; /* gen is 0 at creation; a job may already be posted */
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && spins < SPIN_ITERS) {
            cpu_relax();
            if (++spins % YIELD_EVERY == 0) sched_yield();
        }
        if (atomic_load(&p->gen) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load(&p->gen);
        p->fn(p->arg, wa.ith, p->n);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

omnic_pool *omnic_pool_new(int n_threads) {
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    omnic_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tid = calloc((size_t)n_threads, sizeof *p->tid);
    if (!p->tid) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->n = i; break; }
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->tid[i], NULL, worker, wa) != 0) { free(wa); p->n = i; break; }
    }
    return p;
}

void omnic_pool_free(omnic_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->tid);
    free(p);
}

int omnic_pool_size(const omnic_pool *p) { return p ? p->n : 1; }

void omnic_pool_run(omnic_pool *p, omnic_pool_fn fn, void *arg) {
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->done, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    for (int spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1;) {
        cpu_relax();
        if (++spins % YIELD_EVERY == 0) sched_yield();
    }
}

void omnic_split(int n, int align, int ith, int nth, int *lo, int *hi) {
    if (align < 1) align = 1;
    int blocks = (n + align - 1) / align;
    int b0 = (int)((long long)blocks * ith / nth), b1 = (int)((long long)blocks * (ith + 1) / nth);
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}
