/* Shared by the kernel speed tools (kernel_speed.c, attention_speed.c). */
#ifndef G2_SPEED_UTIL_H
#define G2_SPEED_UTIL_H

#include <stdint.h>
#include <time.h>

/* The calling thread's CPU time in seconds: steadier than wall time on a
   shared machine. */
static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A fixed sequence of values in [-0.5, 0.5) (a linear congruential
   generator): every run times the same data. */
static inline float random_value(void) {
  static uint32_t rng = 12345u;
  rng = rng * 1664525u + 1013904223u;
  return (float)(rng >> 8) / 16777216.0f - 0.5f;
}

#endif
