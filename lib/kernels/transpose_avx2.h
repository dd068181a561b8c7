/* An 8 x 8 transpose of 32-bit lanes in AVX2 registers, and the widening
   of 8-bit values in those lanes, for kernel files compiled for AVX2
   (after their target pragma): the panels of panel_avx2.c and
   kquant_panel_avx2.c, whose lane r holds row r. */
#ifndef G2_TRANSPOSE_AVX2_H
#define G2_TRANSPOSE_AVX2_H

#include <immintrin.h>

/* out[j], lane i = in[i], lane j. */
static inline __attribute__((always_inline)) void g2_transpose8_epi32(const __m256i in[8], __m256i out[8]) {
  __m256i s[8], u[8];
  for (int k = 0; k < 4; k++) {
    s[2 * k] = _mm256_unpacklo_epi32(in[2 * k], in[2 * k + 1]);
    s[2 * k + 1] = _mm256_unpackhi_epi32(in[2 * k], in[2 * k + 1]);
  }
  /* s[2k]: (r2k.0, r2k+1.0, r2k.1, r2k+1.1 | .4 .5), s[2k+1]: .2 .3 | .6 .7 */
  for (int k = 0; k < 2; k++)
    for (int h = 0; h < 2; h++) {
      u[4 * k + 2 * h] = _mm256_unpacklo_epi64(s[4 * k + h], s[4 * k + 2 + h]);
      u[4 * k + 2 * h + 1] = _mm256_unpackhi_epi64(s[4 * k + h], s[4 * k + 2 + h]);
    }
  /* u[4k + m]: rows 4k..4k+3 of dword m (| dword m + 4) */
  for (int m = 0; m < 4; m++) {
    out[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
    out[m + 4] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
  }
}

/* The int16 panels' widening: t's 32-bit lanes hold 4 int8 values each
   (bytes into lanes by g2_transpose8_epi32); as int16 pairs in the same
   lanes, *even gets each lane's values 0 and 2, *odd its 1 and 3, by
   shifts within 16-bit words (no shuffles: widening each row before the
   transpose took two transposes and three shuffles a row). */
static inline __attribute__((always_inline)) void g2_widen_lanes_epi8(__m256i t, __m256i *even, __m256i *odd) {
  *even = _mm256_srai_epi16(_mm256_slli_epi16(t, 8), 8);
  *odd = _mm256_srai_epi16(t, 8);
}

/* int16 activations in order, rearranged to meet those pairs: each 4 as
   0, 2, 1, 3 (a vpshufb of 16 of them). */
static inline __attribute__((always_inline)) __m256i g2_pair_order_epi16(__m256i q) {
  const __m256i order = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15, 0, 1, 4, 5, 2, 3, 6, 7,
                                         8, 9, 12, 13, 10, 11, 14, 15);
  return _mm256_shuffle_epi8(q, order);
}

#endif
