/* The AVX-512 table (F+BW+DQ+VL, 16 floats a vector): the vector interface
   of generic_simd.h in 512-bit intrinsics, compiled for that target only;
   dispatch.c selects it when cpuid and the OS say zmm state is usable. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef __m512 vf;
#define VLEN 16
/* 24 of the 32 zmm registers accumulate; the rest hold weights and x.
   NK: 6 rows x 4 tokens measured 1.13-1.18x the GFLOP/s of 4 x 6 for every
   type in 512-token batches, and 1.05-1.15x at 16 tokens (kernel_speed,
   one thread, Intel Xeon with AVX-512; 5 x 5: 0.97x of 6 x 4, 7 x 3 and
   8 x 3: 0.75x, 3 x 8: 0.5x). KN: 8 tokens x 48 columns measured a little
   faster than 6 x 64. */
#define NK_ROWS 6
#define NK_TOKS 4
/* One token, float types: 8 rows (8 streams and chains) measured 1.16x
   the GB/s of 4 for F32 (kernel_speed tg, one thread), F16 unchanged. */
#define NK_DECODE_ROWS 8
/* KN one token and small batches (kn_stream): generic_simd.h's 8 rows per
   pass. 16 measured 0.88x the one-token GB/s for F16 (XL shapes; 124M
   shapes 0.89x, 0.93x at 16 tokens), F32 the same (kernel_speed, one
   thread). */
#define KN_VECS 3
#define KN_TOKS 8
#define VECTOR_KERNELS g2_avx512_vector
#define MATMUL_FOR g2_avx512_matmul_for

static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_set1(float v) { return _mm512_set1_ps(v); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }

/* Halves, then quarters, then pairs: a fixed tree. */
static inline float vf_sum(vf v) {
  __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

/* Lane l = vf_sum(v[l]): vf_sum's additions, in the same order, done for
   16 vectors at once on rearranged blocks and lanes. Operand i below is
   v[4 (i % 4) + i / 4], which puts the results in lane order. */
#define HAVE_SUM_LANES 1
static inline vf vf_sum_lanes(const vf *v) {
  __m512 halves[8], quarters[4], pairs[2];
#pragma GCC unroll 8
  for (int k = 0; k < 8; k++) { /* [s8 of operand 2k | s8 of operand 2k+1] */
    __m512 a = v[4 * (2 * k % 4) + 2 * k / 4], b = v[4 * ((2 * k + 1) % 4) + (2 * k + 1) / 4];
    halves[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
  }
#pragma GCC unroll 8
  for (int k = 0; k < 4; k++) /* block j: s4 of operand 4k + j */
    quarters[k] = _mm512_add_ps(_mm512_shuffle_f32x4(halves[2 * k], halves[2 * k + 1], 0x88),
                                _mm512_shuffle_f32x4(halves[2 * k], halves[2 * k + 1], 0xdd));
#pragma GCC unroll 8
  for (int k = 0; k < 2; k++) /* in each block: s2 of quarters[2k], then of quarters[2k+1] */
    pairs[k] = _mm512_add_ps(_mm512_shuffle_ps(quarters[2 * k], quarters[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(quarters[2 * k], quarters[2 * k + 1], 0xee));
  /* block b, lane c: s1 of quarters[c]'s block b, operand 4c + b = v[4b + c] */
  return _mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], 0x88), _mm512_shuffle_ps(pairs[0], pairs[1], 0xdd));
}

static inline vf vf_load_f16(const void *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline vf vf_load_bf16(const void *p) {
  __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

static inline vf vf_from_i8(const void *p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

static inline vf vf_from_nibbles(const void *p, int high) {
  __m128i bytes = _mm_loadu_si128((const __m128i *)p);
  if (high) bytes = _mm_srli_epi16(bytes, 4);
  bytes = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
  __m512i values = _mm512_sub_epi32(_mm512_cvtepu8_epi32(bytes), _mm512_set1_epi32(8));
  return _mm512_cvtepi32_ps(values);
}

/* Q4_0 by table: the 16 possible weights of a block, d * (i - 8), rounded
   as the oracle rounds them; vpermps picks them by the low 4 index bits. */
#define HAVE_NIBBLE_TABLE 1
static inline vf nibble_table(vf scale) {
  vf steps = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  return _mm512_mul_ps(scale, steps);
}

static inline vf nibble_lookup(vf table, const void *p, int high) {
  __m128i bytes = _mm_loadu_si128((const __m128i *)p);
  if (high) bytes = _mm_srli_epi16(bytes, 4); /* each byte's low 4 bits: its high nibble */
  return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(bytes), table);
}

static inline vf vf_round(vf v) {
  return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline vf vf_exp2i(vf n) {
  __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
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
typedef int g2_avx512_not_built; /* ISO C wants a declaration in every file */
#endif
