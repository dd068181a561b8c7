/* K-type super-blocks and the 32-value blocks of Q4_1, Q5_0, Q5_1 and
   IQ4_NL (tensor/kquant.h's and dequant.c's layouts) unpacked with AVX2
   integer instructions: the values u of 32 weights per vector, in the
   order the activations run, and the scales and mins. Included by kernel
   files compiled for AVX2 or wider (after their target pragma):
   kquant_int8_avx2.c and q32_int8_avx2.c (8-bit activations) and, through
   generic_simd.h's HAVE_K_UNPACK, avx2.c and avx512.c (the FP32
   products). */
#ifndef G2_KQUANT_AVX2_H
#define G2_KQUANT_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kquant_int8.h"
#include "tensor/dequant.h"
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

/* Q2_K, Q3_K, IQ4_XS: a block's 16 groups' scales as int16 words (IQ4_XS:
   each 32-group's twice) and Q2_K's mins (layouts: the oracle,
   tensor/dequant.c; kquant.h's g2_k_unpack gives the same values as
   floats' factors). mins is left alone for the other two. */
static inline __attribute__((always_inline)) void g2_k_small_scales_avx2(g2_dtype dtype, const unsigned char *block,
                                                                         __m256i *scales, __m256i *mins) {
  const __m128i nibble = _mm_set1_epi8(0x0f);
  if (dtype == G2_DT_IQ4_XS) {
    uint16_t high_word;
    uint32_t low_word;
    memcpy(&high_word, block + 2, 2);
    memcpy(&low_word, block + 4, 4);
    __m128i low_bytes = _mm_cvtsi32_si128((int)low_word);
    __m128i low =
        _mm_unpacklo_epi8(_mm_and_si128(low_bytes, nibble), _mm_and_si128(_mm_srli_epi16(low_bytes, 4), nibble));
    /* byte k: the byte of scales_h holding pair k; its two bits tested apart */
    __m128i spread =
        _mm_shuffle_epi8(_mm_cvtsi32_si128(high_word), _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0));
    const __m128i bit0 = _mm_setr_epi8(1, 4, 16, 64, 1, 4, 16, 64, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i bit1 = _mm_setr_epi8(2, 8, 32, -128, 2, 8, 32, -128, 0, 0, 0, 0, 0, 0, 0, 0);
    __m128i high = _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(spread, bit0), bit0), _mm_set1_epi8(16)),
                                _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(spread, bit1), bit1), _mm_set1_epi8(32)));
    __m128i eight = _mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32));
    *scales = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(eight, eight));
    return;
  }
  if (dtype == G2_DT_Q2_K) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)block);
    *scales = _mm256_cvtepu8_epi16(_mm_and_si128(bytes, nibble));
    *mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(bytes, 4), nibble));
    return;
  }
  /* Q3_K: scale g's low 4 bits are nibble g / 8 of byte g % 8, its high 2
     bits pair g / 4 of byte 8 + g % 4 (in 32-bit lane g / 4, shifted by
     2 (g / 4), byte g % 4) */
  uint64_t low_word;
  uint32_t high_word;
  memcpy(&low_word, block + 96, 8);
  memcpy(&high_word, block + 104, 4);
  __m128i low_bytes = _mm_cvtsi64_si128((long long)low_word);
  __m128i low =
      _mm_unpacklo_epi64(_mm_and_si128(low_bytes, nibble), _mm_and_si128(_mm_srli_epi16(low_bytes, 4), nibble));
  __m128i high = _mm_srlv_epi32(_mm_set1_epi32((int)high_word), _mm_setr_epi32(0, 2, 4, 6));
  high = _mm_slli_epi16(_mm_and_si128(high, _mm_set1_epi8(3)), 4);
  *scales = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32)));
}

/* Q2_K, Q3_K, IQ4_XS: a block's 8 vectors of 32 values in activation order
   (Q2_K/Q3_K: u; IQ4_XS: v, signed), and its scales and mins as
   g2_k_small_scales_avx2 gives them. Q2_K/Q3_K: vector c is bit pair c % 4
   of the 32 qs bytes of half c / 4 (group 2c the first 16 bytes, 2c + 1
   the next), and Q3_K's bit 2 is bit 4 (c / 4) + c % 4 of the 32 hmask
   bytes. */
static inline __attribute__((always_inline)) void g2_k_unpack_small_avx2(g2_dtype dtype, const unsigned char *block,
                                                                         __m256i u[8], __m256i *scales, __m256i *mins) {
  g2_k_small_scales_avx2(dtype, block, scales, mins);
  if (dtype == G2_DT_IQ4_XS) {
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid));
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
      __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)(block + 8 + 16 * k));
      __m256i index = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), _mm256_set1_epi8(0x0f));
      u[k] = _mm256_shuffle_epi8(grid, index);
    }
    return;
  }
  const __m256i two_bits = _mm256_set1_epi8(3);
  const unsigned char *qs = block + (dtype == G2_DT_Q2_K ? 16 : 32);
  __m256i hmask = _mm256_loadu_si256((const __m256i *)(const void *)block); /* Q3_K only */
#pragma GCC unroll 2
  for (int half = 0; half < 2; half++) {
    __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * half));
#pragma GCC unroll 4
    for (int pair = 0; pair < 4; pair++) {
      __m256i v = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * pair), two_bits);
      if (dtype == G2_DT_Q3_K) /* hmask bit 4 half + pair to bit 2: shifts within 16-bit words, one constant
                                  (a mask per bit left gcc 12 building 8 constants a block) */
        v = _mm256_or_si256(
            v, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hmask, 4 * half + pair), _mm256_set1_epi8(1)), 2));
      u[4 * half + pair] = v;
    }
  }
}

/* Q4_1, Q5_0, Q5_1, IQ4_NL: a block's 32 codes u (unsigned; IQ4_NL: grid
   indices) in value order (Q5_*: with the fifth bits). */
static inline __attribute__((always_inline)) __m256i g2_b32_codes_avx2(g2_dtype dtype, const unsigned char *block) {
  int five_bits = dtype == G2_DT_Q5_0 || dtype == G2_DT_Q5_1;
  size_t header = dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1 ? 4 : 2;
  const unsigned char *qs = block + header + (five_bits ? 4 : 0);
  __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)qs));
  __m256i u = _mm256_and_si256(_mm256_srlv_epi32(bytes, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                               _mm256_set1_epi8(0x0f));
  if (five_bits) {
    int32_t qh;
    memcpy(&qh, block + header, sizeof qh);
    const __m256i which = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
                                           3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i spread = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(qh), which), bit);
    u = _mm256_or_si256(u, _mm256_and_si256(_mm256_cmpeq_epi8(spread, bit), _mm256_set1_epi8(0x10)));
  }
  return u;
}

/* g2_k_unpack's results (the same q, step and offset bits; q 32-byte
   aligned): the FP32 K-type paths' unpacking. */
static inline __attribute__((always_inline)) int g2_k_unpack_avx2(g2_dtype dtype, const unsigned char *block,
                                                                  int8_t *q, float *step, float *offset) {
  __m256i *out = (__m256i *)(void *)q;
  if (dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K || dtype == G2_DT_IQ4_XS) {
    __m256i u[8], scales, mins = _mm256_setzero_si256();
    g2_k_unpack_small_avx2(dtype, block, u, &scales, &mins);
    for (int c = 0; c < 8; c++) /* Q3_K: u - 4 */
      _mm256_store_si256(out + c, dtype == G2_DT_Q3_K ? _mm256_sub_epi8(u[c], _mm256_set1_epi8(4)) : u[c]);
    int16_t scale[16], min[16];
    _mm256_storeu_si256((__m256i *)(void *)scale, scales);
    _mm256_storeu_si256((__m256i *)(void *)min, mins);
    float d = g2_k_half(block + g2_kq8_d_offset(dtype));
    float dmin = dtype == G2_DT_Q2_K ? g2_k_half(block + 82) : 0.0f; /* Q3_K's block ends after d */
    int group = g2_k_group(dtype), stride = group / 16; /* IQ4_XS: each 32-group's scale twice */
    for (int g = 0; g < G2_QK_K / group; g++) {
      step[g] = d * (float)scale[stride * g];
      offset[g] = dtype == G2_DT_Q2_K ? dmin * (float)min[g] : 0.0f;
    }
    return group;
  }
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

/* g2_b32_unpack's results: the FP32 paths' unpacking of a 32-value block
   (F16 by vcvtph2ps: the same values, NaNs quietened). */
static inline __attribute__((always_inline)) void g2_b32_unpack_avx2(g2_dtype dtype, const unsigned char *block,
                                                                    int8_t *q, float *step, float *offset) {
  __m256i u = g2_b32_codes_avx2(dtype, block);
  if (dtype == G2_DT_IQ4_NL) {
    __m128i grid = _mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid);
    u = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(grid), u);
  }
  if (dtype == G2_DT_Q5_0) u = _mm256_sub_epi8(u, _mm256_set1_epi8(16));
  _mm256_storeu_si256((__m256i *)(void *)q, u);
  uint32_t halves;
  memcpy(&halves, block, sizeof halves);
  *step = _cvtsh_ss((unsigned short)halves);
  *offset = dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1 ? -_cvtsh_ss((unsigned short)(halves >> 16)) : 0.0f;
}

/* Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0: the F16 d (and, with_min, the m
   after it) of the blocks at blocks[r], as floats in lane r of 8. */
static inline __attribute__((always_inline)) void g2_b32_scales_avx2(int with_min, const unsigned char *const blocks[8],
                                                                    __m256 *d, __m256 *m) {
  /* paired in general registers: 32-bit stores read back as one vector
     miss store forwarding (Zen 3: a quarter of a one-token product's time) */
  uint64_t pairs[4];
#pragma GCC unroll 4
  for (int k = 0; k < 4; k++) {
    uint32_t even, odd;
    memcpy(&even, blocks[2 * k], sizeof even);
    memcpy(&odd, blocks[2 * k + 1], sizeof odd);
    pairs[k] = (uint64_t)odd << 32 | even;
  }
  __m256i v = _mm256_set_m128i(_mm_set_epi64x((long long)pairs[3], (long long)pairs[2]),
                               _mm_set_epi64x((long long)pairs[1], (long long)pairs[0]));
  __m256i lows = _mm256_and_si256(v, _mm256_set1_epi32(0xffff));
  __m256i highs = with_min ? _mm256_srli_epi32(v, 16) : lows;
  /* per half: d of 4 rows, then m of them; ordered d0..d7, m0..m7 */
  __m256i halves = _mm256_permute4x64_epi64(_mm256_packus_epi32(lows, highs), 0xd8);
  *d = _mm256_cvtph_ps(_mm256_castsi256_si128(halves));
  *m = _mm256_cvtph_ps(_mm256_extracti128_si256(halves, 1));
}

/* ---- the K types' batches: a super-block unpacked (kquant_int8_avx2.c,
   kquant_panel_avx2.c) ---- */

/* One super-block, unpacked: u in activation order (IQ4_XS: the signed
   grid values v), and per group of 16 its scale and min (Q4_K/Q5_K,
   IQ4_XS: the 32-group's, twice; only Q4_K/Q5_K/Q2_K have mins). */
typedef struct g2_k_unpacked {
  _Alignas(32) uint8_t u[G2_QK_K];
  int16_t scales[G2_QK_K / 16], mins[G2_QK_K / 16];
  float d, dmin;
} g2_k_unpacked;

static inline __attribute__((always_inline)) float g2_k_half_at(const unsigned char *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

/* The 256-value types that g2_k_unpack_small_avx2 unpacks. */
static inline __attribute__((always_inline)) int g2_k_small_type(g2_dtype dtype) {
  return dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K || dtype == G2_DT_IQ4_XS;
}

/* S's offset term for types stored as u - offset: its log2 (Q6_K: 32,
   Q3_K: 4), or 0 for none. */
static inline __attribute__((always_inline)) int g2_k_offset_shift(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K ? 5 : dtype == G2_DT_Q3_K ? 2 : 0;
}

/* Any of the six types' block into registers: u[8] in activation order
   (u as the definition has it; IQ4_XS: the signed grid values), the 16
   group scales as int16 words (a 32-value group's twice) and the mins
   likewise (zero for the types without). */
static inline __attribute__((always_inline)) void g2_k_unpack_regs_avx2(g2_dtype dtype, const unsigned char *block,
                                                                        __m256i u[8], __m256i *scales,
                                                                        __m256i *mins) {
  *mins = _mm256_setzero_si256();
  if (g2_k_small_type(dtype)) {
    g2_k_unpack_small_avx2(dtype, block, u, scales, mins);
    return;
  }
  if (dtype == G2_DT_Q6_K) {
    g2_k_q6_half(block, 0, u);
    g2_k_q6_half(block, 1, u + 4);
    *scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 192)));
    return;
  }
  int five_bits = dtype == G2_DT_Q5_K;
  __m256i qh = g2_k_q5_bits(five_bits, block);
#pragma GCC unroll 4
  for (int run = 0; run < 4; run++) g2_k_q45_run(five_bits, block, qh, run, u + 2 * run, u + 2 * run + 1);
  __m128i scale_bytes, min_bytes;
  g2_k_scales_mins(block, &scale_bytes, &min_bytes);
  *scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(scale_bytes, scale_bytes));
  *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes));
}

/* The same into a g2_k_unpacked, with d and dmin as floats. */
static inline __attribute__((always_inline)) void g2_k_unpack_block_avx2(g2_dtype dtype, const unsigned char *block,
                                                                         g2_k_unpacked *ub) {
  __m256i u[8], scales, mins;
  g2_k_unpack_regs_avx2(dtype, block, u, &scales, &mins);
#pragma GCC unroll 8 /* u stays in registers */
  for (int c = 0; c < 8; c++) _mm256_store_si256((__m256i *)(void *)(ub->u + 32 * c), u[c]);
  _mm256_storeu_si256((__m256i *)(void *)ub->scales, scales);
  _mm256_storeu_si256((__m256i *)(void *)ub->mins, mins);
  ub->d = g2_k_half_at(block + g2_kq8_d_offset(dtype));
  /* Q6_K's and Q3_K's blocks end after d: no dmin to read */
  ub->dmin = g2_kq8_has_mins(dtype) ? g2_k_half_at(block + g2_kq8_d_offset(dtype) + 2) : 0.0f;
}

#endif
