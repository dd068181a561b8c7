/* Exact scalar conversions between F32 and the 16-bit float formats.
   Every one of the 65,536 bit patterns is tested (tests/unit/test_half.c). */
#ifndef G2_HALF_H
#define G2_HALF_H

#include <stdint.h>
#include <string.h>

static inline float g2_bits_to_f32(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint32_t g2_f32_to_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

/* IEEE binary16 -> binary32, exact for normals, subnormals, inf and NaN. */
static inline float g2_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) /* inf or NaN: keep the payload */
    return g2_bits_to_f32(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    /* zero or subnormal: mantissa * 2^-24, exact in binary32 */
    float magnitude = (float)mantissa * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  return g2_bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/* binary32 -> binary16, round to nearest even; overflow gives inf, NaN stays NaN. */
static inline uint16_t g2_f32_to_f16(float f) {
  uint32_t bits = g2_f32_to_bits(f);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((abs_bits >> 13) & 0x3ffu));
  if (abs_bits >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520 */
  if (abs_bits < 0x38800000u) {
    /* result is subnormal or zero: round abs * 2^24 to an integer, ties to even */
    float scaled = g2_bits_to_f32(abs_bits) * 16777216.0f;
    uint32_t whole = (uint32_t)scaled;
    float fraction = scaled - (float)whole;
    if (fraction > 0.5f || (fraction == 0.5f && (whole & 1u))) whole++;
    return (uint16_t)(sign | whole);
  }
  uint32_t rounded = abs_bits + 0xfffu + ((abs_bits >> 13) & 1u);
  return (uint16_t)(sign | ((rounded - (112u << 23)) >> 13));
}

static inline float g2_bf16_to_f32(uint16_t b) { return g2_bits_to_f32((uint32_t)b << 16); }

/* binary32 -> bfloat16, round to nearest even; NaN stays NaN. */
static inline uint16_t g2_f32_to_bf16(float f) {
  uint32_t bits = g2_f32_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#endif
