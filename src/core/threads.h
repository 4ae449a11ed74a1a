/* threads.h - a persistent worker pool: run one function on all threads, wait. */
#ifndef OMNIC_CORE_THREADS_H
#define OMNIC_CORE_THREADS_H

typedef struct omnic_pool omnic_pool;
/* fn(arg, ith, nth): ith in [0, nth); the calling thread runs ith == 0. */
typedef void (*omnic_pool_fn)(void *arg, int ith, int nth);

omnic_pool *omnic_pool_new(int n_threads); /* n_threads <= 0: online CPUs */
void omnic_pool_free(omnic_pool *p);
int omnic_pool_size(const omnic_pool *p);
/* Run fn on every thread of the pool and return when all have finished.
 * Not reentrant: call from one thread at a time. p == NULL runs fn(arg, 0, 1). */
void omnic_pool_run(omnic_pool *p, omnic_pool_fn fn, void *arg);

/* Split [0, n) into nth near-equal contiguous parts, rounded to multiples of
 * align; part ith is [*lo, *hi). */
void omnic_split(int n, int align, int ith, int nth, int *lo, int *hi);

#endif
