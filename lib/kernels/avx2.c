/* The AVX2 table (AVX2+FMA+F16C, 8 floats a vector): the vector interface
   of generic_simd.h in 256-bit intrinsics, compiled for that target only. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef __m256 vf;
#define VLEN 8
/* 16 ymm registers: 12 accumulators, the rest for weights and x. 3 rows x
   4 tokens: 7 loads a 12 FMAs (3 x 3: 6 a 9); on a Golden Cove core
   (Alder Lake's and Sapphire Rapids' P-cores) pp512 F32 +7%, F16 +6% over
   3 x 3 (docs/kernels.md). */
#define NK_ROWS 3
#define NK_TOKS 4
/* One token, float types: 6 rows measured 1.08x the GB/s of 3 for F32
   (kernel_speed tg, one thread). */
#define NK_DECODE_ROWS 6
#define KN_VECS 2
#define KN_TOKS 6
#define VECTOR_KERNELS g2_avx2_vector
#define MATMUL_FOR g2_avx2_matmul_for

static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_set1(float v) { return _mm256_set1_ps(v); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }

/* Halves, then pairs: a fixed tree. */
static inline float vf_sum(vf v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

/* Lane l = vf_sum(v[l]): vf_sum's additions, in the same order, done for
   8 vectors at once on rearranged halves and lanes. Operand i below is
   v[4 (i % 2) + i / 2], which puts the results in lane order. */
#define HAVE_SUM_LANES 1
static inline vf vf_sum_lanes(const vf *v) {
  __m256 halves[4], pairs[2];
#pragma GCC unroll 8
  for (int k = 0; k < 4; k++) { /* [s4 of operand 2k | s4 of operand 2k+1] */
    __m256 a = v[k], b = v[4 + k];
    halves[k] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  }
#pragma GCC unroll 8
  for (int k = 0; k < 2; k++) /* in each half: s2 of halves[2k], then of halves[2k+1] */
    pairs[k] = _mm256_add_ps(_mm256_shuffle_ps(halves[2 * k], halves[2 * k + 1], 0x44),
                             _mm256_shuffle_ps(halves[2 * k], halves[2 * k + 1], 0xee));
  /* half b, lane c: s1 of halves[c]'s half b, operand 2c + b = v[4b + c] */
  return _mm256_add_ps(_mm256_shuffle_ps(pairs[0], pairs[1], 0x88), _mm256_shuffle_ps(pairs[0], pairs[1], 0xdd));
}

static inline vf vf_load_f16(const void *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline vf vf_load_bf16(const void *p) {
  __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

static inline __m128i load_8_bytes(const void *p) {
  long long bytes;
  memcpy(&bytes, p, sizeof bytes);
  return _mm_cvtsi64_si128(bytes);
}

static inline vf vf_from_i8(const void *p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(load_8_bytes(p)));
}

static inline vf vf_from_nibbles(const void *p, int high) {
  __m128i bytes = load_8_bytes(p);
  if (high) bytes = _mm_srli_epi16(bytes, 4);
  bytes = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
  __m256i values = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), _mm256_set1_epi32(8));
  return _mm256_cvtepi32_ps(values);
}

static inline vf vf_round(vf v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline vf vf_exp2i(vf n) {
  __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}

static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

#include "kernels/kquant_avx2.h"
#define HAVE_K_UNPACK 1
#define k_unpack g2_k_unpack_avx2
#define b32_unpack g2_b32_unpack_avx2

#include "kernels/generic_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
