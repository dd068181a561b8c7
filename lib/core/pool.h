/* A context's worker threads. The caller of g2_pool_run works too, and
   tasks are claimed one at a time from a shared counter: a worker the OS
   has descheduled delays only the task it holds, not the others, and a
   worker that finds nothing left does not hold anyone up. Idle workers spin
   briefly (the gaps inside a forward pass are microseconds), then sleep.

   Task results must not depend on which thread runs them (the forward
   pass's kernels guarantee it), so any schedule gives the same bits. */
#ifndef G2_POOL_H
#define G2_POOL_H

#include <stddef.h>
#include <stdint.h>

/* fn(arg, task, thread): thread < the pool's n_threads identifies the
   runner (0 is the caller), for per-thread scratch. */
typedef void (*g2_task_fn)(void *arg, size_t task, uint32_t thread);

typedef struct g2_pool g2_pool;

/* A pool of n_threads runners in all: the caller plus n_threads - 1
   workers started now. GPT2_E_NOMEM if memory or threads run out. */
int g2_pool_new(uint32_t n_threads, g2_pool **out);

/* Stops and joins the workers. NULL is a no-op. */
void g2_pool_free(g2_pool *pool);

/* Runs fn for every task in [0, n_tasks) and returns when all are done.
   Not reentrant: one run at a time per pool. */
void g2_pool_run(g2_pool *pool, size_t n_tasks, g2_task_fn fn, void *arg);

#endif
