#include "core/pool.h"

#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/sys_thread.h"
#include "gpt2.h"

/* The run being worked on is one 64-bit word, so that a claim checks the
   run and takes a task in one compare-and-swap: a worker that wakes late
   can never take a task of a newer run by mistake.
     bits 48..63  run number (wraps; only "changed or not" matters)
     bits 24..47  tasks in the run
     bits  0..23  next task to claim */
enum { FIELD_BITS = 24 };
#define FIELD_MASK ((UINT64_C(1) << FIELD_BITS) - 1)
#define MAX_RUN_TASKS ((size_t)FIELD_MASK)
/* A worker's stack: 16 x what an eval was measured to need, room for
   sanitizers' larger frames (ASan: up to 69 KiB for one kernel). Workers
   run kernels and conversions only (test_stack holds an eval to 32 KiB of
   stack): a stack of their own size, not the C library's default (glibc:
   8 MiB each, so 1,024 threads would not fit a 32-bit address space; musl:
   128 KiB). */
#define POOL_STACK_BYTES ((size_t)512 << 10)

/* How long an idle worker polls before it sleeps: longer than the gaps
   between the parallel steps of a forward pass, far shorter than a
   scheduler time slice. */
enum { SPIN_NS = 100 * 1000, SPINS_PER_CLOCK_READ = 64 };

/* What a worker is started with. The pool owns these, so no thread frees a
   block that another allocated: tests count live blocks across threads. */
typedef struct worker {
  g2_thread thread;
  struct g2_pool *pool;
  uint32_t index;
} worker;

struct g2_pool {
  uint32_t n_workers;
  worker *workers;
  _Atomic uint64_t work;
  _Atomic size_t done; /* tasks of the current run finished */
  /* The current run; written before its work word is published. */
  g2_task_fn fn;
  void *arg;
  size_t first_task;
  _Atomic uint32_t sleepers;
  _Atomic int stop;
  g2_mutex lock;
  g2_cond wake;
};

static uint64_t run_of(uint64_t work) { return work >> (2 * FIELD_BITS); }
static size_t tasks_of(uint64_t work) { return (size_t)((work >> FIELD_BITS) & FIELD_MASK); }
static size_t next_of(uint64_t work) { return (size_t)(work & FIELD_MASK); }

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Claims and runs tasks of run `run` until none is left. */
static void work_on(g2_pool *pool, uint64_t run, uint32_t thread) {
  uint64_t work = atomic_load_explicit(&pool->work, memory_order_acquire);
  for (;;) {
    if (run_of(work) != run || next_of(work) >= tasks_of(work)) return;
    if (!atomic_compare_exchange_weak_explicit(&pool->work, &work, work + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue; /* `work` now holds the current word */
    /* The claimed task keeps its run current, so the run's fields are stable. */
    pool->fn(pool->arg, pool->first_task + next_of(work), thread);
    atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    work = atomic_load_explicit(&pool->work, memory_order_acquire);
  }
}

/* Waits until the run number differs from `seen` or the pool stops:
   polling for SPIN_NS, then asleep. Returns the work word. */
static uint64_t wait_for_run(g2_pool *pool, uint64_t seen) {
  uint64_t start = 0;
  for (unsigned spins = 0;; spins++) {
    uint64_t work = atomic_load_explicit(&pool->work, memory_order_acquire);
    if (run_of(work) != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed)) return work;
    if (spins % SPINS_PER_CLOCK_READ == 0) {
      uint64_t now = g2_now_ns();
      if (!start)
        start = now;
      else if (now - start > SPIN_NS)
        break;
    }
    cpu_relax();
  }
  /* Sleep. The count goes up before the last look, under the lock that the
     publisher takes to wake sleepers: either the publisher sees a sleeper
     or this look sees the new run. */
  g2_mutex_lock(&pool->lock);
  atomic_fetch_add(&pool->sleepers, 1);
  uint64_t work = atomic_load(&pool->work);
  while (run_of(work) == seen && !atomic_load(&pool->stop)) {
    g2_cond_wait(&pool->wake, &pool->lock);
    work = atomic_load(&pool->work);
  }
  atomic_fetch_sub(&pool->sleepers, 1);
  g2_mutex_unlock(&pool->lock);
  return work;
}

static G2_THREAD_FN worker_main(void *arg) {
  const worker *self = arg;
  g2_pool *pool = self->pool;
  uint64_t seen = 0; /* the run number of a new pool: any later run is new */
  for (;;) {
    uint64_t work = wait_for_run(pool, seen);
    if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return G2_THREAD_RETURN;
    seen = run_of(work);
    work_on(pool, seen, self->index);
  }
}

/* Publishes a run of n <= MAX_RUN_TASKS tasks from `first`, works on it,
   and waits for the tasks other threads claimed. */
static void run_batch(g2_pool *pool, size_t first, size_t n, g2_task_fn fn, void *arg) {
  pool->fn = fn;
  pool->arg = arg;
  pool->first_task = first;
  atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
  uint64_t run = (run_of(atomic_load_explicit(&pool->work, memory_order_relaxed)) + 1) & 0xffff;
  atomic_store(&pool->work, run << (2 * FIELD_BITS) | (uint64_t)n << FIELD_BITS);
  if (atomic_load(&pool->sleepers)) {
    g2_mutex_lock(&pool->lock);
    g2_cond_broadcast(&pool->wake);
    g2_mutex_unlock(&pool->lock);
  }
  work_on(pool, run, 0);
  for (unsigned spins = 1; atomic_load_explicit(&pool->done, memory_order_acquire) < n; spins++) {
    if (spins % 1024 == 0)
      g2_thread_yield(); /* a task's holder may be waiting for this core */
    else
      cpu_relax();
  }
}

void g2_pool_run(g2_pool *pool, size_t n_tasks, g2_task_fn fn, void *arg) {
  if (!pool || pool->n_workers == 0 || n_tasks <= 1) {
    for (size_t task = 0; task < n_tasks; task++) fn(arg, task, 0);
    return;
  }
  for (size_t first = 0; first < n_tasks; first += MAX_RUN_TASKS)
    run_batch(pool, first, n_tasks - first < MAX_RUN_TASKS ? n_tasks - first : MAX_RUN_TASKS, fn, arg);
}

static void stop_workers(g2_pool *pool, uint32_t started) {
  g2_mutex_lock(&pool->lock);
  atomic_store(&pool->stop, 1);
  g2_cond_broadcast(&pool->wake);
  g2_mutex_unlock(&pool->lock);
  for (uint32_t i = 0; i < started; i++) g2_thread_join(pool->workers[i].thread);
}

static void pool_destroy(g2_pool *pool) {
  g2_cond_destroy(&pool->wake);
  g2_mutex_destroy(&pool->lock);
  g2_free(pool->workers);
  g2_free(pool);
}

int g2_pool_new(uint32_t n_threads, g2_pool **out) {
  *out = NULL;
  g2_pool *pool = g2_calloc(1, sizeof *pool);
  if (!pool) return g2_fail(GPT2_E_NOMEM, "out of memory for a thread pool");
  pool->n_workers = n_threads > 1 ? n_threads - 1 : 0;
  atomic_init(&pool->work, 0);
  atomic_init(&pool->done, 0);
  atomic_init(&pool->sleepers, 0);
  atomic_init(&pool->stop, 0);
  g2_mutex_init(&pool->lock);
  g2_cond_init(&pool->wake);
  if (pool->n_workers) {
    pool->workers = g2_malloc_array(pool->n_workers, sizeof *pool->workers);
    if (!pool->workers) {
      pool_destroy(pool);
      return g2_fail(GPT2_E_NOMEM, "out of memory for %u threads", (unsigned)n_threads);
    }
  }
  for (uint32_t i = 0; i < pool->n_workers; i++) {
    worker *w = &pool->workers[i];
    w->pool = pool;
    w->index = i + 1;
    int error = g2_thread_create(&w->thread, worker_main, w, POOL_STACK_BYTES);
    if (!error) continue;
    stop_workers(pool, i);
    pool_destroy(pool);
    return g2_fail(GPT2_E_NOMEM, "cannot start thread %u of %u: %s", (unsigned)(i + 2),
                   (unsigned)n_threads, error > 0 ? strerror(error) : "the system refused");
  }
  *out = pool;
  return GPT2_OK;
}

void g2_pool_free(g2_pool *pool) {
  if (!pool) return;
  stop_workers(pool, pool->n_workers);
  pool_destroy(pool);
}
