/* Rounding and byte helpers shared by the quantizers (quant.c, quant_k.c),
   the same operations as ggml's so that blocks match bit for bit. */
#ifndef G2_QROUND_H
#define G2_QROUND_H

#include <stdint.h>
#include <string.h>

/* Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int:
   adding 1.5 * 2^23 leaves the integer in the low mantissa bits). Defined
   for every input, NaN and infinities included (the result is then some
   integer the callers clamp). */
static inline int g2_nearest_int(float v) {
  float shifted = v + 12582912.0f;
  int32_t bits;
  memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

/* (int8_t)v as ggml's casts for v in range; NaN (from non-finite weights,
   where ggml's cast is undefined) gives 0 and the rest saturates. */
static inline int g2_trunc_int8(float v) {
  if (!(v == v)) return 0;
  if (v <= -128.0f) return -128;
  if (v >= 127.0f) return 127;
  return (int)(int8_t)v;
}

/* The value of x[0 .. n) of largest magnitude (the first of ties), its
   magnitude in *amax; 0 for all zeros. */
static inline float g2_signed_absmax(const float *x, int n, float *amax) {
  float max = 0.0f;
  *amax = 0.0f;
  for (int i = 0; i < n; i++) {
    float ax = x[i] < 0 ? -x[i] : x[i];
    if (ax > *amax) {
      *amax = ax;
      max = x[i];
    }
  }
  return max;
}

static inline int g2_clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Little-endian 16-bit fields of the blocks. */
static inline void g2_put_u16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)(v >> 8);
}

static inline uint16_t g2_get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

#endif
