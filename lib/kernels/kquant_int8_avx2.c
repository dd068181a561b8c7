/* K-type products on 8-bit activations (definition and oracle:
   kernels/kquant_int8.h, kquant_int8_ref.c), in AVX2 integer code:
   vpmaddubsw multiplies the unsigned weights u (2 to 6 bits; IQ4_XS's
   signed grid values as |v| against q with v's sign) by the signed
   activations in pairs (at most 2 * 127 * 127, no saturation), and
   vpmaddwd by each group's scale adds the pairs into int32 lanes, so a
   block's S is one horizontal sum; the mins and the offsets of Q6_K (32)
   and Q3_K (4) meet the activations' per-16 sums in one more vpmaddwd. All of it is exact,
   so the order of the integer additions is free and only the float chain
   (two fmaf per block) is fixed, as the definition says.

   One token streams each block through registers, 4 rows at a time whose
   S (and M) one add tree puts in the lanes of one vector, so the float
   steps and d/dmin conversions run for the 4 rows at once (against one row
   at a time with horizontal sums and scalar fmaf, from the caches, one
   thread: Q4_K 13.3 -> 14.2-14.6 GB/s, Q5_K 12.4 -> 13.3, IQ4_XS 8.9 ->
   10.0, Q2_K 8.2 -> 8.9, Q3_K 8.0 -> 8.2-8.5, Q6_K 17.2 -> 17.3-17.7).
   Batches of 5 or
   more tokens (rows up to G2_KQ8_PANEL_MAX_IN) go to kquant_panel_avx2.c's
   rows-in-lanes panels (512 tokens, one thread: Q4_K 92 -> 120-127
   GFLOP/s, IQ4_XS 82 -> 89). Other batches (2-4 tokens) unpack rows
   once per block of tokens (4 rows at a time) into u bytes in activation
   order and 16 scales and mins per block, in the work area, then pairs of
   tokens meet them from L1 (each row's bytes loaded once per pair), the 4
   rows' float steps again in the lanes (512 tokens, one thread, against a
   horizontal sum and scalar fmaf per row, token and block: +9-15%, Q4_K 83-86
   -> 96-99 GFLOP/s). Both compute the definition's integers exactly, so a
   batch gives each token's one-token bits. The code
   is AVX2 only; on Zen 4 the 256-bit integer ops run at the 512-bit ones'
   rate per byte, and the one-token path is bound by the weight stream. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kquant_avx2.h"
#include "kernels/kquant_int8.h"
#include "tensor/dequant.h"
#include "tensor/kquant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  ROWS = 4, /* rows unpacked together (batches), streamed together (one token); their float steps share a vector */
  MAX_BLOCKS = G2_KQ8_MAX_IN / G2_QK_K,
  X_BYTES = 72 * 1024,                      /* quantized activations of a block of tokens */
  GROUPS = G2_QK_K / G2_KQ8_GROUP
};

typedef struct kq8_work {
  _Alignas(64) unsigned char x[X_BYTES];
  g2_k_unpacked panel[ROWS][MAX_BLOCKS];
} kq8_work;
_Static_assert(sizeof(kq8_work) <= G2_KERNEL_WORK_BYTES, "kquant_int8_avx2.c's buffers fit the work area");

/* Step 1 of the definition (g2_kq8_quantize_row's bits: the same float
   division, clamp and round-to-nearest-even conversion), 32 activations
   at a time; kquant_int8_avx512.c quantizes with it too. */
void g2_kq8_quantize_row_avx2(const float *x, size_t n_in, int8_t *q, float *d, int16_t *sums) {
  const __m256 sign = _mm256_set1_ps(-0.0f), low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (size_t b = 0; b < n_in / G2_QK_K; b++) {
    const float *xb = x + b * G2_QK_K;
    __m256 amax = _mm256_setzero_ps();
    for (size_t i = 0; i < G2_QK_K; i += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float scale = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4))) / 127.0f;
    d[b] = scale;
    __m256 divisor = _mm256_set1_ps(scale);
    for (size_t i = 0; i < G2_QK_K; i += 32) {
      __m256i v[4];
      for (int k = 0; k < 4; k++) {
        __m256 ratio = _mm256_div_ps(_mm256_loadu_ps(xb + i + 8 * k), divisor);
        v[k] = scale != 0.0f ? _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(ratio, low), high))
                             : _mm256_setzero_si256();
      }
      __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
      _mm256_storeu_si256((__m256i *)(void *)(q + b * G2_QK_K + i), _mm256_permutevar8x32_epi32(bytes, order));
      __m256i pairs = _mm256_hadd_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
      __m128i quads = _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
      quads = _mm_hadd_epi32(quads, quads); /* the two groups of 16 */
      sums[(b * G2_QK_K + i) / G2_KQ8_GROUP] = (int16_t)_mm_cvtsi128_si32(quads);
      sums[(b * G2_QK_K + i) / G2_KQ8_GROUP + 1] = (int16_t)_mm_extract_epi32(quads, 1);
    }
  }
}

void g2_kq8_quantize_token_avx2(const float *x, size_t n_in, unsigned char *base) {
  g2_kq8_quantize_row_avx2(x, n_in, (int8_t *)base, (float *)(void *)(base + n_in),
                           (int16_t *)(void *)(base + n_in + n_in / G2_QK_K * sizeof(float)));
}

/* Lane r: the sum of v[r]'s lanes. */
static ALWAYS_INLINE __m128i sum_rows(const __m256i v[ROWS]) {
  __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
  __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
  __m256i abcd = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* The definition's float steps for one block of ROWS rows, each lane its
   row's chain: c = fmaf(S, d d_x, c), then for types with mins
   c = fmaf(-M, dmin d_x, c). */
static ALWAYS_INLINE __m128 float_steps(g2_dtype dtype, const __m256i acc[ROWS], const __m256i macc[ROWS], __m128 d,
                                        __m128 dmin, float d_x, __m128 chain) {
  __m128 d_xv = _mm_set1_ps(d_x);
  chain = _mm_fmadd_ps(_mm_cvtepi32_ps(sum_rows(acc)), _mm_mul_ps(d, d_xv), chain);
  if (!g2_kq8_has_mins(dtype)) return chain;
  return _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_sub_epi32(_mm_setzero_si128(), sum_rows(macc))), _mm_mul_ps(dmin, d_xv),
                      chain);
}

/* Step 3 for block b of the ROWS unpacked rows and a token, the rows'
   chains in the lanes: S from the lanes of acc[r] (Q6_K, Q3_K: less the
   offset times sum sc_g s_g) and M from the token's per-16 sums. */
static ALWAYS_INLINE __m128 block_step(g2_dtype dtype, const g2_k_unpacked *const *rows, size_t b, __m256i acc[ROWS],
                                       const int16_t *sums, float d_x, __m128 chain) {
  __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)sums), macc[ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++) {
    const g2_k_unpacked *ub = &rows[r][b];
    if (g2_k_offset_shift(dtype)) {
      __m256i offsets = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)ub->scales), s);
      acc[r] = _mm256_sub_epi32(acc[r], _mm256_slli_epi32(offsets, g2_k_offset_shift(dtype)));
    }
    if (g2_kq8_has_mins(dtype))
      macc[r] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)ub->mins), s);
  }
  __m128 d = _mm_setr_ps(rows[0][b].d, rows[1][b].d, rows[2][b].d, rows[3][b].d);
  __m128 dmin = _mm_setr_ps(rows[0][b].dmin, rows[1][b].dmin, rows[2][b].dmin, rows[3][b].dmin);
  return float_steps(dtype, acc, macc, d, dmin, d_x, chain);
}

/* ROWS unpacked rows x nt tokens (1 or 2, a constant after inlining):
   chains[t][r] = row r . token t under the definition. Each row's weights
   and scales are loaded once per 32 values for both tokens. */
static ALWAYS_INLINE void tile_dot(g2_dtype dtype, int nt, const g2_k_unpacked *const *rows, size_t n_blocks,
                                   const g2_kq8_token *x, float chains[2][ROWS]) {
  /* words 0..7 from scale 2c, 8..15 from scale 2c + 1 of a broadcast pair */
  const __m256i pair_order = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3,
                                              2, 3, 2, 3, 2, 3, 2, 3);
  __m128 lanes[2] = {_mm_setzero_ps(), _mm_setzero_ps()};
  for (size_t b = 0; b < n_blocks; b++) {
    __m256i acc[2][ROWS];
#pragma GCC unroll 2
    for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
      for (int r = 0; r < ROWS; r++) acc[t][r] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      __m256i q[2];
#pragma GCC unroll 2
      for (int t = 0; t < nt; t++) q[t] = _mm256_loadu_si256((const __m256i *)(const void *)(x[t].q + b * G2_QK_K + 32 * c));
#pragma GCC unroll 4
      for (int r = 0; r < ROWS; r++) {
        const g2_k_unpacked *ub = &rows[r][b];
        __m256i u = _mm256_load_si256((const __m256i *)(const void *)(ub->u + 32 * c));
        int32_t scale_pair;
        memcpy(&scale_pair, ub->scales + 2 * c, sizeof scale_pair);
        __m256i scales = _mm256_shuffle_epi8(_mm256_set1_epi32(scale_pair), pair_order);
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++) {
          /* IQ4_XS's signed v: |v| times q with v's sign (a pair <= 2 * 127^2 < 2^15) */
          __m256i p = dtype == G2_DT_IQ4_XS ? _mm256_maddubs_epi16(_mm256_abs_epi8(u), _mm256_sign_epi8(q[t], u))
                                             : _mm256_maddubs_epi16(u, q[t]);
          acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_madd_epi16(p, scales));
        }
      }
    }
#pragma GCC unroll 2
    for (int t = 0; t < nt; t++) lanes[t] = block_step(dtype, rows, b, acc[t], x[t].sums + b * GROUPS, x[t].d[b], lanes[t]);
  }
  for (int t = 0; t < nt; t++) _mm_storeu_ps(chains[t], lanes[t]);
}

/* ---- one token: blocks unpacked in registers as they stream ---- */

/* vpshufb pattern giving word `low` of a 128-bit lane in every word of the
   low half and word `high` in every word of the high half. */
static ALWAYS_INLINE __m256i word_pattern(int low, int high) {
  return _mm256_set_m128i(_mm_set1_epi16((short)((2 * high + 1) << 8 | 2 * high)),
                          _mm_set1_epi16((short)((2 * low + 1) << 8 | 2 * low)));
}

/* The block `ahead` bytes further, into L2. */
static ALWAYS_INLINE void prefetch_block(const unsigned char *block, size_t block_bytes, size_t ahead) {
  for (size_t at = 0; at < block_bytes; at += 64) __builtin_prefetch(block + at + ahead, 0, 2);
}

/* A row's block against the token's activations q (its 256) and per-16
   sums: S's parts in the lanes of *acc (Q6_K, Q3_K: less the offset term),
   and for types with mins M's in *macc. */
static ALWAYS_INLINE void q45_block(int five_bits, const unsigned char *block, const int8_t *q, const int16_t *sums,
                                    __m256i *acc, __m256i *macc) {
  __m128i scale_bytes, min_bytes;
  g2_k_scales_mins(block, &scale_bytes, &min_bytes);
  __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scale_bytes)); /* word k: sc_k */
  __m256i qh = g2_k_q5_bits(five_bits, block);
  *acc = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int run = 0; run < 4; run++) {
    __m256i low, high;
    g2_k_q45_run(five_bits, block, qh, run, &low, &high);
    __m256i p_low = _mm256_maddubs_epi16(low, _mm256_loadu_si256((const __m256i *)(const void *)(q + 64 * run)));
    __m256i p_high = _mm256_maddubs_epi16(high, _mm256_loadu_si256((const __m256i *)(const void *)(q + 64 * run + 32)));
    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(p_low, _mm256_shuffle_epi8(scales, word_pattern(2 * run, 2 * run))));
    *acc = _mm256_add_epi32(
        *acc, _mm256_madd_epi16(p_high, _mm256_shuffle_epi8(scales, word_pattern(2 * run + 1, 2 * run + 1))));
  }
  __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes)); /* word g: m_{g / 2} */
  *macc = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)(const void *)sums));
}

static ALWAYS_INLINE __m256i q6_block(const unsigned char *block, const int8_t *q, const int16_t *sums) {
  __m256i scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 192)));
  __m256i halves[2] = {_mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales)),
                       _mm256_broadcastsi128_si256(_mm256_extracti128_si256(scales, 1))};
  __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 2
  for (int half = 0; half < 2; half++) {
    __m256i u[4];
    g2_k_q6_half(block, half, u);
#pragma GCC unroll 4
    for (int run = 0; run < 4; run++) { /* groups 8 half + 2 run and the next: words 2 run, 2 run + 1 of halves[half] */
      __m256i p =
          _mm256_maddubs_epi16(u[run], _mm256_loadu_si256((const __m256i *)(const void *)(q + 128 * half + 32 * run)));
      acc = _mm256_add_epi32(acc,
                             _mm256_madd_epi16(p, _mm256_shuffle_epi8(halves[half], word_pattern(2 * run, 2 * run + 1))));
    }
  }
  __m256i offsets = _mm256_madd_epi16(scales, _mm256_loadu_si256((const __m256i *)(const void *)sums));
  return _mm256_sub_epi32(acc, _mm256_slli_epi32(offsets, 5));
}

/* Q2_K, Q3_K, IQ4_XS: the block unpacked into registers, then the 8
   vectors of 32 meet the activations with their groups' scales. */
static ALWAYS_INLINE void small_block(g2_dtype dtype, const unsigned char *block, const int8_t *q, const int16_t *sums,
                                      __m256i *acc, __m256i *macc) {
  __m256i u[8], scales, mins = _mm256_setzero_si256();
  g2_k_unpack_small_avx2(dtype, block, u, &scales, &mins);
  __m256i halves[2] = {_mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales)),
                       _mm256_broadcastsi128_si256(_mm256_extracti128_si256(scales, 1))};
  *acc = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) { /* groups 2c and 2c + 1: words 2 (c % 4), 2 (c % 4) + 1 of halves[c / 4] */
    __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * c));
    __m256i p = dtype == G2_DT_IQ4_XS ? _mm256_maddubs_epi16(_mm256_abs_epi8(u[c]), _mm256_sign_epi8(qv, u[c]))
                                       : _mm256_maddubs_epi16(u[c], qv);
    *acc = _mm256_add_epi32(
        *acc, _mm256_madd_epi16(p, _mm256_shuffle_epi8(halves[c / 4], word_pattern(2 * (c % 4), 2 * (c % 4) + 1))));
  }
  __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)sums);
  if (dtype == G2_DT_Q2_K) *macc = _mm256_madd_epi16(mins, s);
  if (dtype == G2_DT_Q3_K) *acc = _mm256_sub_epi32(*acc, _mm256_slli_epi32(_mm256_madd_epi16(scales, s), 2));
}

/* One row's block for the one-token loop: its S (and M) in parts, and the
   32-bit word at d_word (d and dmin). */
static ALWAYS_INLINE int32_t token_row_block(g2_dtype dtype, const unsigned char *block, size_t block_bytes,
                                             size_t ahead, size_t d_word, const int8_t *q, const int16_t *sums,
                                             __m256i *acc, __m256i *macc) {
  prefetch_block(block, block_bytes, ahead);
  *macc = _mm256_setzero_si256();
  if (g2_k_small_type(dtype))
    small_block(dtype, block, q, sums, acc, macc);
  else if (dtype == G2_DT_Q6_K)
    *acc = q6_block(block, q, sums);
  else
    q45_block(dtype == G2_DT_Q5_K, block, q, sums, acc, macc);
  int32_t word;
  memcpy(&word, block + d_word, sizeof word);
  return word;
}

/* ROWS rows at a time: each row's block leaves S (and M) in parts,
   one add tree gives the rows' S in the lanes of one vector, and the
   definition's float steps run for the rows at once, each lane the chain
   of its row, with d and dmin loaded as one 32-bit word per row (from 2
   bytes earlier where d ends the block: Q6_K, Q3_K). Missing rows of a
   last group repeat the first and are not stored. */
static ALWAYS_INLINE void kq8_one_token(g2_dtype dtype, const g2_matrix *w, const float *x, const float *bias,
                                        float *out, size_t col_begin, size_t col_end, kq8_work *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / G2_QK_K;
  size_t block_bytes = g2_kq8_block_bytes(dtype), row_bytes = n_blocks * block_bytes;
  size_t ahead = g2_prefetch_ahead(ROWS, row_bytes);
  if (!g2_work_tokens_kept((g2_work *)(void *)work, 1, 1)) g2_kq8_quantize_token_avx2(x, n_in, work->x);
  g2_kq8_token xt = g2_kq8_token_at(work->x, n_in);
  int d_high = g2_kq8_d_in_high_half(dtype);
  size_t d_word = g2_kq8_d_word(dtype);
  for (size_t j0 = col_begin; j0 < col_end; j0 += ROWS) {
    size_t n_rows = col_end - j0 < ROWS ? col_end - j0 : ROWS;
    const unsigned char *rows[ROWS];
    for (size_t r = 0; r < ROWS; r++)
      rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
    __m128 chain = _mm_setzero_ps();
    for (size_t b = 0; b < n_blocks; b++) {
      const int8_t *q = xt.q + b * G2_QK_K;
      const int16_t *sums = xt.sums + b * GROUPS;
      __m256i acc[ROWS], macc[ROWS];
      int32_t words[ROWS];
      /* Unrolled, the rows' blocks overlap better where the unpacking is
         short (Q4_K, Q5_K, IQ4_XS, Q3_K); Q6_K and Q2_K ran 2-5% slower
         unrolled (bench/kernel_speed avx2int8 1, from the caches). */
      if (dtype == G2_DT_Q6_K || dtype == G2_DT_Q2_K) {
        for (int r = 0; r < ROWS; r++)
          words[r] = token_row_block(dtype, rows[r] + b * block_bytes, block_bytes, ahead, d_word, q, sums, &acc[r], &macc[r]);
      } else {
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++)
          words[r] = token_row_block(dtype, rows[r] + b * block_bytes, block_bytes, ahead, d_word, q, sums, &acc[r], &macc[r]);
      }
      /* d of the rows in halves 0-3, dmin in 4-7 */
      __m128i w32 = _mm_loadu_si128((const __m128i *)(const void *)words);
      __m128i d16 = d_high ? _mm_srli_epi32(w32, 16) : _mm_and_si128(w32, _mm_set1_epi32(0xffff));
      __m256 scales = _mm256_cvtph_ps(_mm_packus_epi32(d16, _mm_srli_epi32(w32, 16)));
      chain = float_steps(dtype, acc, macc, _mm256_castps256_ps128(scales), _mm256_extractf128_ps(scales, 1), xt.d[b],
                          chain);
    }
    float lanes[ROWS];
    _mm_storeu_ps(lanes, chain);
    for (size_t r = 0; r < n_rows; r++) out[j0 + r] = lanes[r] + (bias ? bias[j0 + r] : 0.0f);
  }
}

/* ---- batches: rows unpacked once per block of tokens ---- */

static ALWAYS_INLINE void kq8_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                     size_t x_stride, const float *bias, float *out, size_t out_stride,
                                     size_t col_begin, size_t col_end, kq8_work *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / G2_QK_K, x_bytes = g2_kq8_token_bytes(n_in);
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
  size_t token_block = X_BYTES / x_bytes; /* >= 1: n_in <= G2_KQ8_MAX_IN */
  if (n_tok == 1) {
    kq8_one_token(dtype, w, x, bias, out, col_begin, col_end, work);
    return;
  }
  if (g2_kq8_panel_takes(w, n_tok)) {
    g2_kq8_panel_matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept((g2_work *)(void *)work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) g2_kq8_quantize_token_avx2(x + t * x_stride, n_in, work->x + (t - t0) * x_bytes);
    for (size_t j0 = col_begin; j0 < col_end; j0 += ROWS) {
      size_t n_rows = col_end - j0 < ROWS ? col_end - j0 : ROWS;
      for (size_t r = 0; r < n_rows; r++) {
        const unsigned char *row = (const unsigned char *)w->data + (j0 + r) * row_bytes;
        for (size_t b = 0; b < n_blocks; b++) {
          const unsigned char *block = row + b * block_bytes;
          prefetch_block(block, block_bytes, G2_PREFETCH_BYTES); /* rows read whole, one after another */
          g2_k_unpack_block_avx2(dtype, block, &work->panel[r][b]);
        }
      }
      const g2_k_unpacked *rows[ROWS];
      for (size_t r = 0; r < ROWS; r++) rows[r] = work->panel[r < n_rows ? r : 0]; /* missing rows repeat the first */
      for (size_t t = t0; t < t_end; t += 2) {
        int pair = t + 1 < t_end;
        g2_kq8_token xt[2] = {g2_kq8_token_at(work->x + (t - t0) * x_bytes, n_in),
                         g2_kq8_token_at(work->x + (t + pair - t0) * x_bytes, n_in)};
        float chains[2][ROWS];
        if (pair)
          tile_dot(dtype, 2, rows, n_blocks, xt, chains);
        else
          tile_dot(dtype, 1, rows, n_blocks, xt, chains);
        for (int i = 0; i <= pair; i++)
          for (size_t r = 0; r < n_rows; r++)
            out[(t + (size_t)i) * out_stride + j0 + r] = chains[i][r] + (bias ? bias[j0 + r] : 0.0f);
      }
    }
  }
}

#define KQ8_MATMUL(name, dtype)                                                                              \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    kq8_matmul(dtype, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);               \
  }
KQ8_MATMUL(kq8_matmul_q6_k, G2_DT_Q6_K)
KQ8_MATMUL(kq8_matmul_q4_k, G2_DT_Q4_K)
KQ8_MATMUL(kq8_matmul_q5_k, G2_DT_Q5_K)
KQ8_MATMUL(kq8_matmul_q2_k, G2_DT_Q2_K)
KQ8_MATMUL(kq8_matmul_q3_k, G2_DT_Q3_K)
KQ8_MATMUL(kq8_matmul_iq4_xs, G2_DT_IQ4_XS)

/* One token and batches alike (the same code): the matrices that
   g2_kq8_supported takes. */
g2_matmul_fn g2_kq8_matmul_for(const g2_matrix *w, int many) {
  (void)many;
  if (!g2_kq8_supported(w)) return NULL;
  switch (w->dtype) {
    case G2_DT_Q6_K: return kq8_matmul_q6_k;
    case G2_DT_Q4_K: return kq8_matmul_q4_k;
    case G2_DT_Q5_K: return kq8_matmul_q5_k;
    case G2_DT_Q2_K: return kq8_matmul_q2_k;
    case G2_DT_Q3_K: return kq8_matmul_q3_k;
    default: return kq8_matmul_iq4_xs;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_kquant_int8_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
