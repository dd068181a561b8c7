/* The worker pool (lib/core/pool.c): every task of every run runs exactly
   once, on a valid thread id, for pools of 1..5 threads, runs of 0..5000
   tasks, runs back to back and after the workers have fallen asleep, and
   a run longer than one work word holds; creation fails cleanly when
   memory runs out. Also run under ThreadSanitizer (tests/tsan.test.sh). */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "gpt2.h"
#include "harness.h"

enum { MAX_TASKS = 5000, MAX_THREADS = 5 };

typedef struct counts {
  _Atomic unsigned runs[MAX_TASKS];
  _Atomic unsigned bad_thread;
  _Atomic unsigned by_thread[MAX_THREADS];
  uint32_t n_threads;
} counts;

static void count_task(void *arg, size_t task, uint32_t thread) {
  counts *c = arg;
  if (task < MAX_TASKS) atomic_fetch_add(&c->runs[task], 1);
  if (thread >= c->n_threads)
    atomic_fetch_add(&c->bad_thread, 1);
  else
    atomic_fetch_add(&c->by_thread[thread], 1);
}

/* Each task of [0, n) ran exactly once on a thread < n_threads. */
static int run_and_check(g2_pool *pool, counts *c, size_t n) {
  for (size_t i = 0; i < MAX_TASKS; i++) atomic_store(&c->runs[i], 0);
  atomic_store(&c->bad_thread, 0);
  g2_pool_run(pool, n, count_task, c);
  for (size_t i = 0; i < MAX_TASKS; i++)
    if (atomic_load(&c->runs[i]) != (i < n ? 1u : 0u)) return 0;
  return atomic_load(&c->bad_thread) == 0;
}

static void pause_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_runs(uint32_t n_threads) {
  g2_pool *pool = NULL;
  int status = g2_pool_new(n_threads, &pool);
  CHECK(status == GPT2_OK && pool, "pool of %u threads: created", (unsigned)n_threads);
  if (!pool) return;
  static counts c;
  memset(&c, 0, sizeof c);
  c.n_threads = n_threads;
  static const size_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, MAX_TASKS};
  int all = 1;
  for (int round = 0; round < 200; round++) all &= run_and_check(pool, &c, sizes[round % 8]);
  CHECK(all, "pool of %u threads: 200 runs back to back of 0..%d tasks, each task once", (unsigned)n_threads,
        MAX_TASKS);
  /* Longer than the workers poll (100 us): they sleep and must be woken. */
  all = 1;
  for (int round = 0; round < 5; round++) {
    pause_ms(3);
    all &= run_and_check(pool, &c, 100);
  }
  CHECK(all, "pool of %u threads: runs after the workers fell asleep, each task once", (unsigned)n_threads);
  g2_pool_free(pool);
}

/* More tasks than one work word counts (2^24 - 1): split into runs. */
static void long_task(void *arg, size_t task, uint32_t thread) {
  (void)thread;
  atomic_fetch_add((_Atomic uint64_t *)arg, (uint64_t)task);
}

static void test_long_run(void) {
  g2_pool *pool = NULL;
  if (g2_pool_new(2, &pool)) return;
  _Atomic uint64_t sum = 0;
  const size_t n = ((size_t)1 << 24) + 5;
  g2_pool_run(pool, n, long_task, &sum);
  CHECK(atomic_load(&sum) == (uint64_t)n * (n - 1) / 2, "a run of 2^24 + 5 tasks: every task once (sum %llu)",
        (unsigned long long)atomic_load(&sum));
  g2_pool_free(pool);
}

static void test_allocation_failures(void) {
  int all = 1;
  size_t failing = 1;
  for (;; failing++) {
    long live = g2_alloc_live_blocks();
    g2_alloc_fail_at(failing);
    g2_pool *pool = NULL;
    int status = g2_pool_new(4, &pool);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) {
      g2_pool_free(pool);
      break;
    }
    all &= status == GPT2_E_NOMEM && pool == NULL && g2_alloc_live_blocks() == live;
  }
  CHECK(all && failing > 1, "pool of 4: each of its %zu allocations failing gives GPT2_E_NOMEM and frees the rest",
        failing - 1);
  g2_pool *none = NULL;
  CHECK(g2_pool_new(1, &none) == GPT2_OK && none, "pool of 1 thread: no workers, runs inline");
  static counts c;
  memset(&c, 0, sizeof c);
  c.n_threads = 1;
  CHECK(run_and_check(none, &c, 10) && atomic_load(&c.by_thread[0]) == 10, "pool of 1 thread: all tasks on thread 0");
  g2_pool_free(none);
  g2_pool_free(NULL);
}

int main(void) {
  for (uint32_t n = 1; n <= MAX_THREADS; n++) test_runs(n);
  test_long_run();
  test_allocation_failures();
  HARNESS_EXIT();
}
