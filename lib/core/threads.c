#include "core/threads.h"

#include <unistd.h>

uint32_t g2_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (uint32_t)n : 1u;
}
