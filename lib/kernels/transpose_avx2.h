/* An 8 x 8 transpose of 32-bit lanes in AVX2 registers, for kernel files
   compiled for AVX2 (after their target pragma): the panels of
   panel_avx2.c and kquant_panel_avx2.c, whose lane r holds row r. */
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

#endif
