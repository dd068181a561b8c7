#include "core/threads.h"

#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void g2_parallel_for(uint32_t n_threads, size_t n_tasks, g2_task_fn fn, void *arg) {
#ifdef _OPENMP
  if (n_threads > 1 && n_tasks > 1) {
    int threads = (int)(n_tasks < n_threads ? n_tasks : n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t task = 0; task < n_tasks; task++) fn(arg, task, (uint32_t)omp_get_thread_num());
    return;
  }
#else
  (void)n_threads;
#endif
  for (size_t task = 0; task < n_tasks; task++) fn(arg, task, 0);
}

uint32_t g2_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (uint32_t)n : 1u;
}
