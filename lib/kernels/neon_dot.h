/* sdot for the files compiled for +dotprod (int8_neon.c,
   kquant_int8_neon.c): acc lane i += the 4 products a[4i..4i+3] *
   b[4i..4i+3] of signed bytes. gcc's arm_neon.h defines vdotq_s32 under
   its own target pragma, so a function built for +dotprod may call it;
   clang's (14 here) defines it only where the whole file is built with
   dot product (__ARM_FEATURE_DOTPROD), which would let the compiler use
   it anywhere in the file, so there the instruction is inline assembly. */
#ifndef G2_NEON_DOT_H
#define G2_NEON_DOT_H

#if defined(__aarch64__)
#include <arm_neon.h>

static inline __attribute__((always_inline)) int32x4_t g2_sdot(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
  __asm__(".arch armv8.2-a+dotprod\n\tsdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
  return acc;
#else
  return vdotq_s32(acc, a, b);
#endif
}
#endif

#endif
