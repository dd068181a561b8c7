/* Parallel loops: OpenMP when built with it, a plain loop otherwise. */
#ifndef G2_THREADS_H
#define G2_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* fn(arg, task, thread) for task in [0, n_tasks), on up to n_threads
   threads; thread < n_threads identifies the worker (for scratch). Tasks
   are handed out statically so a run is reproducible. */
typedef void (*g2_task_fn)(void *arg, size_t task, uint32_t thread);
void g2_parallel_for(uint32_t n_threads, size_t n_tasks, g2_task_fn fn, void *arg);

/* Online CPUs (at least 1). */
uint32_t g2_cpu_count(void);

#endif
