/* Q8_0 and Q4_0 products on 8-bit activations in AVX2 integer code (the
   "avx2int8" table), to the bits of the oracle in int8_ref.c (definition
   in kernels/int8.h). Every block sum is exact in int32, so the order of
   the integer additions is free; only the float chains are fixed.

   One token (and up to FEW_TOKS tokens, carried together through one pass
   over the weights): 4 rows x 2 blocks at a time in the stored layout.
   Q8_0 by the sign trick, vpmaddubsw(|w|, sign(q, w)): w in [-128, 127]
   and q in [-127, 127] make each pair at most 2 * 128 * 127 = 32512, under
   int16's limit, then vpmaddwd by ones into int32. Q4_0 multiplies its
   stored nibbles n = w + 8 (unsigned, at most 2 * 15 * 127 a pair) and
   takes 8 * sum(q) off each block sum; a block's low nibbles meet its
   first 16 activations and the high ones the last 16, two blocks per
   vector, so no nibble moves. The 8 (row, block) sums are reduced by a
   vphaddd tree to one vector whose lanes are (parity, row): the
   definition's two chains of each of the 4 rows, advanced by one vfmadd.
   Weights stream with an L2 prefetch g2_prefetch_ahead ahead.

   Batches that panel_avx2.c takes (int8_avx2.h) go there; the others
   (rows over 4096) run FEW_TOKS at a time through the one-token loop. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/int8.h"
#include "kernels/int8_avx2.h"
#include "kernels/kernels.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  STEP_ROWS = 4,
  FEW_TOKS = 4
};

static ALWAYS_INLINE size_t block_bytes(g2_dtype dtype) {
  return dtype == G2_DT_Q8_0 ? G2_Q8_0_BLOCK_BYTES : G2_Q4_0_BLOCK_BYTES;
}

static ALWAYS_INLINE uint16_t half_bits(const unsigned char *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return h;
}

/* ---- one token (and a few) in the stored layout ---- */

/* Lane i of the result = the sum of v[i]'s 8 lanes. */
static ALWAYS_INLINE __m256i sum_lanes8(const __m256i v[8]) {
  __m256i q0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  __m256i q1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  /* q0 = (v0..v3 lanes 0-3 | v0..v3 lanes 4-7), q1 the same of v4..v7 */
  return _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20), _mm256_permute2x128_si256(q0, q1, 0x31));
}

/* Blocks b and b + 1 (`lone`: b only) of 4 rows into one token's chains,
   lane 4 * parity + r: the (row, block) integer sums, then one fmadd.
   Lanes of a missing block b + 1 keep their chains (a blend, so that not
   even a zero's sign changes). */
static ALWAYS_INLINE __m256 chain_step(g2_dtype dtype, int lone, const unsigned char *const *rows, size_t b,
                                       const g2_int8_token *x, __m256 d_w, __m256 chain) {
  size_t bytes = block_bytes(dtype);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i isum;
  if (dtype == G2_DT_Q8_0) {
    __m256i v[8];
#pragma GCC unroll 2
    for (int parity = 0; parity < 2; parity++) {
      if (lone && parity) {
        for (int r = 0; r < STEP_ROWS; r++) v[4 + r] = _mm256_setzero_si256();
        continue;
      }
      __m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)(x->q + (b + parity) * BLOCK));
#pragma GCC unroll 4
      for (int r = 0; r < STEP_ROWS; r++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rows[r] + (b + parity) * bytes + 2));
        __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xq, w));
        v[4 * parity + r] = _mm256_madd_epi16(pairs, ones);
      }
    }
    isum = sum_lanes8(v);
  } else {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
    __m256i xb = _mm256_loadu_si256((const __m256i *)(const void *)(x->q + b * BLOCK));
    __m256i xb1 = lone ? _mm256_setzero_si256()
                       : _mm256_loadu_si256((const __m256i *)(const void *)(x->q + (b + 1) * BLOCK));
    /* 128-bit lane k: block b + k's first (x_low) or last (x_high) 16 */
    __m256i x_low = _mm256_permute2x128_si256(xb, xb1, 0x20), x_high = _mm256_permute2x128_si256(xb, xb1, 0x31);
    __m256i v[STEP_ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < STEP_ROWS; r++) {
      const unsigned char *block = rows[r] + b * bytes;
      __m128i first = _mm_loadu_si128((const __m128i *)(const void *)(block + 2));
      __m256i nibbles = lone ? _mm256_zextsi128_si256(first)
                             : _mm256_inserti128_si256(_mm256_castsi128_si256(first),
                                                       _mm_loadu_si128((const __m128i *)(const void *)(block + bytes + 2)), 1);
      __m256i low = _mm256_and_si256(nibbles, low_nibbles);
      __m256i high = _mm256_and_si256(_mm256_srli_epi16(nibbles, 4), low_nibbles);
      __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(low, x_low), _mm256_maddubs_epi16(high, x_high));
      v[r] = _mm256_madd_epi16(pairs, ones); /* lanes 0-3 block b, 4-7 block b + 1 */
    }
    /* (v0..v3 of block b | v0..v3 of block b + 1) */
    isum = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i q_sums = _mm256_setr_m128i(_mm_set1_epi32(x->sums[b]), _mm_set1_epi32(lone ? 0 : x->sums[b + 1]));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(q_sums, 3));
  }
  __m256 d_x = _mm256_setr_m128(_mm_set1_ps(x->d[b]), _mm_set1_ps(lone ? 0.0f : x->d[b + 1]));
  __m256 next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d_w, d_x), chain);
  return lone ? _mm256_blend_ps(chain, next, 0x0f) : next;
}

/* The F16 d of 4 rows' blocks at byte `at`, in words 0..3, packed in a
   general register: 16-bit stores read back as one vector would miss store
   forwarding (Zen 3: that stall took half the time of a one-token Q4_0
   product). */
static ALWAYS_INLINE uint64_t four_halves(const unsigned char *const *rows, size_t at) {
  uint64_t bits = 0;
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++) bits |= (uint64_t)half_bits(rows[r] + at) << 16 * r;
  return bits;
}

/* The F16 scales of blocks b, b + 1 (`lone`: b only) of 4 rows, in lane
   4 * parity + r. */
static ALWAYS_INLINE __m256 step_scales(g2_dtype dtype, int lone, const unsigned char *const *rows, size_t b) {
  size_t bytes = block_bytes(dtype), at = b * bytes;
  uint64_t second = lone ? 0 : four_halves(rows, at + bytes);
  return _mm256_cvtph_ps(_mm_set_epi64x((long long)second, (long long)four_halves(rows, at)));
}

/* sums[t][r] = product of rows[r] with token t (r < 4, t < nt). */
static ALWAYS_INLINE void stream_rows(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t ahead, size_t n_blocks,
                                      const g2_int8_token *x, float sums[FEW_TOKS][STEP_ROWS]) {
  size_t bytes = block_bytes(dtype);
  __m256 chains[FEW_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) chains[t] = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
#pragma GCC unroll 4
    for (int r = 0; r < STEP_ROWS; r++) {
      /* both ends of the 2 blocks: 68 bytes can span three lines */
      __builtin_prefetch(rows[r] + b * bytes + ahead, 0, 2);
      __builtin_prefetch(rows[r] + (b + 2) * bytes - 1 + ahead, 0, 2);
    }
    __m256 d_w = step_scales(dtype, 0, rows, b);
#pragma GCC unroll 4
    for (size_t t = 0; t < nt; t++) chains[t] = chain_step(dtype, 0, rows, b, &x[t], d_w, chains[t]);
  }
  if (b < n_blocks) {
    __m256 d_w = step_scales(dtype, 1, rows, b);
    for (size_t t = 0; t < nt; t++) chains[t] = chain_step(dtype, 1, rows, b, &x[t], d_w, chains[t]);
  }
  for (size_t t = 0; t < nt; t++) {
    float lanes[8];
    _mm256_storeu_ps(lanes, chains[t]);
    for (int r = 0; r < STEP_ROWS; r++) sums[t][r] = lanes[r] + lanes[4 + r];
  }
}

static void stream_any(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t ahead, size_t n_blocks,
                       const g2_int8_token *x, float sums[FEW_TOKS][STEP_ROWS]) {
#define STREAM_TOKENS(type)                                                        \
  switch (nt) {                                                                    \
    case 1: stream_rows(type, 1, rows, ahead, n_blocks, x, sums); break;           \
    case 2: stream_rows(type, 2, rows, ahead, n_blocks, x, sums); break;           \
    case 3: stream_rows(type, 3, rows, ahead, n_blocks, x, sums); break;           \
    default: stream_rows(type, FEW_TOKS, rows, ahead, n_blocks, x, sums); break;   \
  }
  if (dtype == G2_DT_Q8_0)
    STREAM_TOKENS(G2_DT_Q8_0)
  else
    STREAM_TOKENS(G2_DT_Q4_0)
#undef STREAM_TOKENS
}

/* Tokens [0, n_tok) quantized at `scratch`, FEW_TOKS at a time: each group
   streams the weights once. */
static void matmul_stream(const g2_matrix *w, const unsigned char *scratch, size_t n_tok, const float *bias,
                          float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  float sums[FEW_TOKS][STEP_ROWS];
  for (size_t t0 = 0; t0 < n_tok; t0 += FEW_TOKS) {
    size_t nt = n_tok - t0 < FEW_TOKS ? n_tok - t0 : FEW_TOKS;
    g2_int8_token tokens[FEW_TOKS];
    for (size_t t = 0; t < nt; t++) tokens[t] = g2_int8_token_at(scratch + (t0 + t) * g2_int8_token_bytes(n_in), n_in);
    for (size_t j0 = col_begin; j0 < col_end; j0 += STEP_ROWS) {
      size_t n_rows = col_end - j0 < STEP_ROWS ? col_end - j0 : STEP_ROWS;
      const unsigned char *rows[STEP_ROWS];
      for (size_t r = 0; r < STEP_ROWS; r++) /* missing rows repeat the first; never stored */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
      stream_any(w->dtype, nt, rows, g2_prefetch_ahead(STEP_ROWS, row_bytes), n_blocks, tokens, sums);
      for (size_t t = 0; t < nt; t++)
        for (size_t r = 0; r < n_rows; r++)
          out[(t0 + t) * out_stride + j0 + r] = sums[t][r] + (bias ? bias[j0 + r] : 0.0f);
    }
  }
}

_Static_assert((G2_INT8_MAX_IN + G2_INT8_MAX_IN / BLOCK * 8 + 63) / 64 * 64 <= G2_KERNEL_WORK_BYTES,
               "int8_avx2.c: one token of the longest row fits the work area");

static void int8_avx2_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                             float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in;
  if (g2_panel_avx2_takes(w, n_tok)) {
    g2_panel_avx2_matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  unsigned char *scratch = work;
  size_t token_block = G2_KERNEL_WORK_BYTES / g2_int8_token_bytes(n_in);
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept(work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) g2_int8_avx2_quantize_token(x + t * x_stride, n_in, scratch + (t - t0) * g2_int8_token_bytes(n_in));
    matmul_stream(w, scratch, t_end - t0, bias, out + t0 * out_stride, out_stride, col_begin, col_end);
  }
}

g2_matmul_fn g2_int8_avx2_matmul_for(const g2_matrix *w, int many) {
  (void)many; /* one function: batches the panels do not take stream the stored rows */
  return g2_int8_supported(w) ? int8_avx2_matmul : NULL;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_int8_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
