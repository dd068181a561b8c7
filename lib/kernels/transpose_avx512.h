/* A 16 x 16 transpose of 32-bit lanes in AVX-512 registers, for kernel
   files compiled for AVX-512 (after their target pragma): the panels of
   kquant_int8_avx512.c and q32_int8_avx512.c, whose lane r holds row r. */
#ifndef G2_TRANSPOSE_AVX512_H
#define G2_TRANSPOSE_AVX512_H

#include <immintrin.h>

/* out[j], lane i = in[i], lane j. */
static inline __attribute__((always_inline)) void g2_transpose16_epi32(const __m512i in[16], __m512i out[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; i++) { /* 128-bit lane k: rows 2i, 2i+1 of columns 4k, 4k+1 (lo), 4k+2, 4k+3 (hi) */
    t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) { /* u[4i + m], 128-bit lane k: rows 4i .. 4i+3 of column 4k + m */
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int m = 0; m < 4; m++) { /* the 4 x 4 transpose of 128-bit lanes of u[m], u[4+m], u[8+m], u[12+m] */
    __m512i ab_low = _mm512_shuffle_i32x4(u[m], u[4 + m], _MM_SHUFFLE(1, 0, 1, 0));
    __m512i ab_high = _mm512_shuffle_i32x4(u[m], u[4 + m], _MM_SHUFFLE(3, 2, 3, 2));
    __m512i cd_low = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(1, 0, 1, 0));
    __m512i cd_high = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(3, 2, 3, 2));
    out[m] = _mm512_shuffle_i32x4(ab_low, cd_low, _MM_SHUFFLE(2, 0, 2, 0));
    out[4 + m] = _mm512_shuffle_i32x4(ab_low, cd_low, _MM_SHUFFLE(3, 1, 3, 1));
    out[8 + m] = _mm512_shuffle_i32x4(ab_high, cd_high, _MM_SHUFFLE(2, 0, 2, 0));
    out[12 + m] = _mm512_shuffle_i32x4(ab_high, cd_high, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

#endif
