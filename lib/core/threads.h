/* How many threads a context uses when the caller does not say. */
#ifndef G2_THREADS_H
#define G2_THREADS_H

#include <stdint.h>

/* Online CPUs (at least 1). */
uint32_t g2_cpu_count(void);

#endif
