/* K-type super-blocks (tensor/kquant.h's layouts) unpacked with AVX2
   integer instructions: the unsigned values u of 32 weights per vector,
   in the order the activations run, and the scales and mins. Included by
   kernel files compiled for AVX2 or wider (after their target pragma):
   kquant_int8_avx2.c (8-bit activations) and, through generic_simd.h's
   HAVE_K_UNPACK, avx2.c and avx512.c (the FP32 products). */
#ifndef G2_KQUANT_AVX2_H
#define G2_KQUANT_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kquant.h"

/* Each byte's bits from `shift` up, kept by `mask`, moved to bit 4: the
   high bits of the u values. */
static inline __attribute__((always_inline)) __m256i g2_k_high_bits(__m256i bytes, int shift, __m256i mask) {
  return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bytes, shift), mask), 4);
}

/* Q4_K/Q5_K: the 8 six-bit scales and the 8 mins of a block, as bytes 0..7
   (g2_k_scale_min, four at a time in 32-bit words). */
static inline __attribute__((always_inline)) void g2_k_scales_mins(const unsigned char *block, __m128i *scales,
                                                                   __m128i *mins) {
  uint32_t w0, w1, w2;
  memcpy(&w0, block + 4, 4);
  memcpy(&w1, block + 8, 4);
  memcpy(&w2, block + 12, 4);
  uint64_t scale_low = w0 & 0x3f3f3f3fu, min_low = w1 & 0x3f3f3f3fu;
  uint64_t scale_high = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  uint64_t min_high = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  *scales = _mm_cvtsi64_si128((long long)(scale_high << 32 | scale_low));
  *mins = _mm_cvtsi64_si128((long long)(min_high << 32 | min_low));
}

/* Q4_K/Q5_K: values 64 run .. 64 run + 63 (`run` 0..3): the low nibbles of
   32 bytes (group 2 run), then the high ones (group 2 run + 1), with Q5_K's
   fifth bits from qh (`five_bits`; qh unused otherwise). */
static inline __attribute__((always_inline)) void g2_k_q45_run(int five_bits, const unsigned char *block, __m256i qh,
                                                               int run, __m256i *low, __m256i *high) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)(block + (five_bits ? 48 : 16) + 32 * run));
  *low = _mm256_and_si256(bytes, low4);
  *high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
  if (five_bits) {
    *low = _mm256_or_si256(*low, g2_k_high_bits(qh, 2 * run, one));
    *high = _mm256_or_si256(*high, g2_k_high_bits(qh, 2 * run + 1, one));
  }
}

/* Q5_K's 32 bytes of fifth bits (zero for Q4_K). */
static inline __attribute__((always_inline)) __m256i g2_k_q5_bits(int five_bits, const unsigned char *block) {
  return five_bits ? _mm256_loadu_si256((const __m256i *)(const void *)(block + 16)) : _mm256_setzero_si256();
}

/* Q6_K: values 128 half .. 128 half + 127 as u = q + 32 in [0, 63], four
   runs of 32. */
static inline __attribute__((always_inline)) void g2_k_q6_half(const unsigned char *block, int half, __m256i u[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(3);
  const unsigned char *ql = block + 64 * half, *qh = block + 128 + 32 * half;
  __m256i ql0 = _mm256_loadu_si256((const __m256i *)(const void *)ql);
  __m256i ql1 = _mm256_loadu_si256((const __m256i *)(const void *)(ql + 32));
  __m256i hv = _mm256_loadu_si256((const __m256i *)(const void *)qh);
  u[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), g2_k_high_bits(hv, 0, two_bits));
  u[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), g2_k_high_bits(hv, 2, two_bits));
  u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), g2_k_high_bits(hv, 4, two_bits));
  u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), g2_k_high_bits(hv, 6, two_bits));
}

/* g2_k_unpack's results (the same q, step and offset bits; q 32-byte
   aligned): the FP32 K-type paths' unpacking. Q2_K, Q3_K and IQ4_XS take
   kquant.h's loops, compiled for the table's target. */
static inline __attribute__((always_inline)) int g2_k_unpack_avx2(g2_dtype dtype, const unsigned char *block,
                                                                  int8_t *q, float *step, float *offset) {
  if (dtype != G2_DT_Q6_K && dtype != G2_DT_Q4_K && dtype != G2_DT_Q5_K) return g2_k_unpack(dtype, block, q, step, offset);
  __m256i *out = (__m256i *)(void *)q;
  if (dtype == G2_DT_Q6_K) {
    const __m256i bias = _mm256_set1_epi8(32);
    for (int half = 0; half < 2; half++) {
      __m256i u[4];
      g2_k_q6_half(block, half, u);
      for (int run = 0; run < 4; run++) _mm256_store_si256(out + 4 * half + run, _mm256_sub_epi8(u[run], bias));
    }
    __m256 d = _mm256_set1_ps(g2_k_half(block + 208));
    __m128i scales = _mm_loadu_si128((const __m128i *)(const void *)(block + 192));
    _mm256_storeu_ps(step, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(scales))));
    _mm256_storeu_ps(step + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(scales, 8)))));
    _mm256_storeu_ps(offset, _mm256_setzero_ps());
    _mm256_storeu_ps(offset + 8, _mm256_setzero_ps());
    return 16;
  }
  int five_bits = dtype == G2_DT_Q5_K;
  __m256i qh = g2_k_q5_bits(five_bits, block);
  for (int run = 0; run < 4; run++) {
    __m256i low, high;
    g2_k_q45_run(five_bits, block, qh, run, &low, &high);
    _mm256_store_si256(out + 2 * run, low);
    _mm256_store_si256(out + 2 * run + 1, high);
  }
  __m128i scales, mins;
  g2_k_scales_mins(block, &scales, &mins);
  _mm256_storeu_ps(step, _mm256_mul_ps(_mm256_set1_ps(g2_k_half(block)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scales))));
  _mm256_storeu_ps(offset,
                   _mm256_mul_ps(_mm256_set1_ps(g2_k_half(block + 2)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mins))));
  return 32;
}

#endif
