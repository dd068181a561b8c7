/* Deterministic random inputs for the kernel tests: xorshift64, seeded by
   the test (random_seed) so that every run sees the same numbers. */
#ifndef G2_TEST_RANDOM_H
#define G2_TEST_RANDOM_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline void random_seed(uint64_t seed) { rng_state = seed; }

static inline uint32_t next_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

/* Uniform in [lo, hi), 24 bits of resolution. */
static inline float uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)(next_u32() & 0xffffff) / 16777216.0f;
}

#endif
