/* The sampler's random numbers: xoshiro256** seeded by splitmix64. Both are
   specified exactly (https://prng.di.unimi.it/), so a seed names the same
   stream on every platform. */
#include "sample/sample.h"

static uint64_t rotate_left(uint64_t x, int bits) {
  return (x << bits) | (x >> (64 - bits));
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

void g2_rng_seed(uint64_t state[4], uint64_t seed) {
  /* splitmix64 never yields four zero words in a row, the one state
     xoshiro cannot leave. */
  for (int i = 0; i < 4; i++) state[i] = splitmix64(&seed);
}

uint64_t g2_rng_next(uint64_t state[4]) {
  uint64_t result = rotate_left(state[1] * 5, 7) * 9;
  uint64_t shifted = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= shifted;
  state[3] = rotate_left(state[3], 45);
  return result;
}

double g2_rng_uniform(uint64_t state[4]) {
  return (double)(g2_rng_next(state) >> 11) * 0x1.0p-53;
}
