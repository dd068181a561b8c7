/* How many threads a context or a load uses when the caller does not say. */
#ifndef G2_THREADS_H
#define G2_THREADS_H

#include <stdint.h>

/* Online CPUs (at least 1). */
uint32_t g2_cpu_count(void);

/* Upper bound on a caller's thread count, against absurd values. */
enum { G2_MAX_THREADS = 1024 };

#endif
