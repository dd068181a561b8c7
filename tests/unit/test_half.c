/* lib/core/half.h against an independent model of the formats: every
   16-bit pattern decoded with ldexp from its fields, and F32 -> 16-bit
   rounding checked against nearest-even computed in double precision,
   on every midpoint between neighbours and on a spread of F32 inputs.
   A flush-to-zero or off-by-one-ulp bug would hide under logit
   tolerances, hence exact comparisons everywhere. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "harness.h"

/* ---- independent decoders ------------------------------------------------ */

/* A float from (sign, exponent field, mantissa field) of a binary format
   with `mant_bits` stored mantissa bits and exponent bias `bias`. */
static double decode_fields(unsigned sign, unsigned exponent, unsigned mantissa, int mant_bits,
                            int bias, unsigned exp_max) {
  double magnitude;
  if (exponent == exp_max)
    magnitude = mantissa ? NAN : INFINITY;
  else if (exponent == 0) /* subnormal: no implicit bit, minimum exponent */
    magnitude = ldexp((double)mantissa, 1 - bias - mant_bits);
  else
    magnitude = ldexp((double)(mantissa + (1u << mant_bits)), (int)exponent - bias - mant_bits);
  return sign ? -magnitude : magnitude;
}

static double ref_f16(uint16_t h) {
  return decode_fields(h >> 15, (h >> 10) & 0x1f, h & 0x3ff, 10, 15, 0x1f);
}

static double ref_bf16(uint16_t b) {
  return decode_fields(b >> 15, (b >> 7) & 0xff, b & 0x7f, 7, 127, 0xff);
}

/* Same value and same sign (so -0 != +0); NaN only matches NaN. */
static int same_value(double expected, float got) {
  if (isnan(expected)) return isnan(got);
  return (double)got == expected && !signbit(got) == !signbit(expected);
}

/* ---- decoding ------------------------------------------------------------- */

static void test_decode(void) {
  int f16_bad = 0, bf16_bad = 0, f16_payload_bad = 0, bf16_payload_bad = 0;
  int f16_subnormals = 0;
  for (uint32_t bits = 0; bits < 65536; bits++) {
    uint16_t h = (uint16_t)bits;
    float f16 = g2_f16_to_f32(h), bf16 = g2_bf16_to_f32(h);
    if (!same_value(ref_f16(h), f16)) f16_bad++;
    if (!same_value(ref_bf16(h), bf16)) bf16_bad++;
    if (((h >> 10) & 0x1f) == 0 && (h & 0x3ff) != 0 && f16 != 0.0f) f16_subnormals++;
    /* NaN: the payload moves to the top of the F32 mantissa, sign kept. */
    if (isnan(ref_f16(h)) &&
        g2_f32_to_bits(f16) != (((uint32_t)(h & 0x8000u) << 16) | 0x7f800000u | ((uint32_t)(h & 0x3ffu) << 13)))
      f16_payload_bad++;
    if (isnan(ref_bf16(h)) && g2_f32_to_bits(bf16) != (uint32_t)h << 16) bf16_payload_bad++;
  }
  CHECK(f16_bad == 0, "F16 -> F32 exact on all 65536 patterns (%d wrong)", f16_bad);
  CHECK(bf16_bad == 0, "BF16 -> F32 exact on all 65536 patterns (%d wrong)", bf16_bad);
  CHECK(f16_subnormals == 2 * 1023, "F16 subnormals are not flushed to zero (%d of 2046 kept)",
        f16_subnormals);
  CHECK(f16_payload_bad == 0, "F16 NaN payload and sign preserved (%d wrong)", f16_payload_bad);
  CHECK(bf16_payload_bad == 0, "BF16 NaN payload and sign preserved (%d wrong)", bf16_payload_bad);
  CHECK(g2_f32_to_bits(g2_f16_to_f32(0x8000)) == 0x80000000u, "F16 -0 stays -0");
  CHECK(g2_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "smallest F16 subnormal is 2^-24");
  CHECK(g2_f16_to_f32(0x7bff) == 65504.0f, "largest F16 is 65504");
  CHECK(g2_f16_to_f32(0x3c00) == 1.0f && g2_bf16_to_f32(0x3f80) == 1.0f, "1.0 in both formats");
}

/* ---- rounding ------------------------------------------------------------- */

/* The 16-bit pattern nearest to x, ties to even, by binary search over the
   positive patterns 0 .. inf_bits (ordered by value) of a format whose
   decoded values are the table `ref`. Values past the largest finite one by half an ulp or more
   give infinity, as IEEE rounding does. */
static uint16_t ref_round(double x, const double *ref, uint16_t inf_bits) {
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  uint16_t max_finite = (uint16_t)(inf_bits - 1);
  double max_value = ref[max_finite];
  double overflow_threshold = max_value + (max_value - ref[max_finite - 1]) / 2;
  if (a >= overflow_threshold) return (uint16_t)(sign | inf_bits);
  uint16_t lo = 0, hi = max_finite; /* ref[lo] <= a < ref[hi] unless a >= max */
  if (a >= max_value) return (uint16_t)(sign | max_finite);
  while (hi - lo > 1) {
    uint16_t mid = (uint16_t)((lo + hi) / 2);
    if (ref[mid] <= a) lo = mid;
    else hi = mid;
  }
  double below = a - ref[lo], above = ref[hi] - a;
  uint16_t nearest = below < above ? lo : above < below ? hi : (lo & 1) ? hi : lo;
  return (uint16_t)(sign | nearest);
}

static void check_rounding(const char *name, uint16_t (*convert)(float), float (*decode)(uint16_t),
                           double (*ref)(uint16_t), uint16_t inf_bits, uint16_t quiet_bit) {
  int round_trip_bad = 0, nan_bad = 0, midpoint_bad = 0, beside_bad = 0, spread_bad = 0;
  static double table[65536];
  for (uint32_t bits = 0; bits < 65536; bits++) table[bits] = ref((uint16_t)bits);
  for (uint32_t bits = 0; bits < 65536; bits++) {
    uint16_t h = (uint16_t)bits;
    double value = ref(h);
    if (isnan(value)) {
      /* quieted, sign and payload kept */
      if (convert(decode(h)) != (h | quiet_bit)) nan_bad++;
      continue;
    }
    if (convert((float)value) != h) round_trip_bad++;
    /* Midpoint to the next pattern up (same sign), and its neighbours. */
    uint16_t magnitude = h & 0x7fff;
    if (magnitude >= inf_bits - 1) continue;
    double next = ref((uint16_t)(h + 1));
    float midpoint = (float)((value + next) / 2); /* exact: a few more bits than the format */
    if ((double)midpoint != (value + next) / 2) midpoint_bad += 1000;
    uint16_t even = (h & 1) ? (uint16_t)(h + 1) : h;
    if (convert(midpoint) != even) midpoint_bad++;
    float toward_h = nextafterf(midpoint, (float)value);
    float toward_next = nextafterf(midpoint, (float)next);
    if (convert(toward_h) != h || convert(toward_next) != (uint16_t)(h + 1)) beside_bad++;
  }
  /* A spread of F32 inputs (every 257th bit pattern: all exponents, many
     mantissas, subnormal F32 included) against the reference. */
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 257) {
    float x = g2_bits_to_f32((uint32_t)bits);
    if (isnan(x)) continue;
    if (convert(x) != ref_round((double)x, table, inf_bits)) spread_bad++;
  }
  CHECK(round_trip_bad == 0, "%s: all finite patterns round-trip through F32 (%d wrong)", name,
        round_trip_bad);
  CHECK(nan_bad == 0, "%s: NaN stays NaN, quieted, sign and payload kept (%d wrong)", name, nan_bad);
  CHECK(midpoint_bad == 0, "%s: every midpoint rounds to even (%d wrong)", name, midpoint_bad);
  CHECK(beside_bad == 0, "%s: one F32 ulp either side of a midpoint rounds to the nearer (%d wrong)",
        name, beside_bad);
  CHECK(spread_bad == 0, "%s: 16.7M F32 inputs round to nearest even (%d wrong)", name, spread_bad);
}

static void test_round_f16(void) {
  check_rounding("F16", g2_f32_to_f16, g2_f16_to_f32, ref_f16, 0x7c00, 0x200);
  CHECK(g2_f32_to_f16(65519.996f) == 0x7bff, "F16: just under 65520 gives 65504");
  CHECK(g2_f32_to_f16(65520.0f) == 0x7c00, "F16: 65520 (midpoint to 2^16) overflows to inf");
  CHECK(g2_f32_to_f16(-1e30f) == 0xfc00, "F16: -1e30 gives -inf");
  CHECK(g2_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "F16: 2^-25 (half the least subnormal) ties to 0");
  CHECK(g2_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 0x0001,
        "F16: just over 2^-25 gives the least subnormal");
  CHECK(g2_f32_to_f16(ldexpf(1.0f, -140)) == 0x0000, "F16: an F32 subnormal gives 0");
  CHECK(g2_f32_to_f16(-0.0f) == 0x8000, "F16: -0 keeps its sign");
  CHECK(g2_f32_to_f16(ldexpf(2047.0f, -25)) == 0x0400,
        "F16: the midpoint between the largest subnormal and the least normal gives the normal");
}

static void test_round_bf16(void) {
  check_rounding("BF16", g2_f32_to_bf16, g2_bf16_to_f32, ref_bf16, 0x7f80, 0x40);
  CHECK(g2_f32_to_bf16(INFINITY) == 0x7f80 && g2_f32_to_bf16(-INFINITY) == 0xff80, "BF16: +-inf");
  CHECK(g2_f32_to_bf16(3.4028235e38f) == 0x7f80, "BF16: FLT_MAX rounds to inf");
  CHECK(g2_f32_to_bf16(g2_bits_to_f32(0x7f7f7fffu)) == 0x7f7f, "BF16: just under the overflow midpoint");
  CHECK(g2_f32_to_bf16(g2_bits_to_f32(0x00008000u)) == 0x0000, "BF16: subnormal midpoint ties to 0");
  CHECK(g2_f32_to_bf16(g2_bits_to_f32(0x00018000u)) == 0x0002, "BF16: subnormal midpoint ties up to even");
  CHECK(g2_f32_to_bf16(g2_bits_to_f32(0xff800001u)) == 0xffc0, "BF16: signalling NaN is quieted, sign kept");
}

int main(void) {
  test_decode();
  test_round_f16();
  test_round_bf16();
  HARNESS_EXIT();
}
