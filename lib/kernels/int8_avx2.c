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
   Weights stream with an L2 prefetch G2_PREFETCH_BYTES ahead.

   Batches (BATCH_MIN_TOKS tokens or more, rows up to PANEL_MAX_BLOCKS
   blocks): the activations of a block of tokens are quantized once to
   int16, and 8 rows are repacked once per block of tokens into a panel of
   int16 weights whose 32-bit lane r holds row r's weights 2i, 2i + 1 (16
   vectors a block), so a broadcast pair of a token's activations meets 8
   rows in one vpmaddwd (16 products a lane op, no saturation possible) and
   the sums land in row lanes with no horizontal reduction. A register
   tile of TILE_TOKS tokens shares each panel load. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/int8.h"
#include "kernels/kernels.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  STEP_ROWS = 4,
  FEW_TOKS = 4,
  BATCH_MIN_TOKS = 5,
  PANEL_ROWS = 8,
  PANEL_PAIRS = BLOCK / 2,  /* int16 pairs (vectors) per panel block */
  PANEL_MAX_BLOCKS = 128,   /* n_in <= 4096: 68 KiB of panel; longer rows run FEW_TOKS at a time */
  TILE_TOKS = 6
};

/* ---- step 1: the activations ---- */

/* Block xb's 32 activations quantized (int8.h step 1) into v[0..3] (int32,
   8 each, in order); returns d_x. The same float division, clamp and
   round-to-nearest-even conversion (the MXCSR default) as the oracle. */
static ALWAYS_INLINE float quantize_block(const float *xb, __m256i v[4]) {
  const __m256 sign = _mm256_set1_ps(-0.0f), low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
  __m256 x[4], amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; k++) {
    x[k] = _mm256_loadu_ps(xb + 8 * k);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, x[k]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  float scale = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4))) / 127.0f;
  __m256 divisor = _mm256_set1_ps(scale);
  for (int k = 0; k < 4; k++)
    v[k] = scale != 0.0f ? _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_div_ps(x[k], divisor), low), high))
                         : _mm256_setzero_si256();
  return scale;
}

/* One token for the streaming path: q[n_in] (int8), d[n_blocks],
   sums[n_blocks] (int32), 64-byte aligned pieces. */
typedef struct token_x {
  const int8_t *q;
  const float *d;
  const int32_t *sums;
} token_x;

static size_t token_bytes(size_t n_in) { return (n_in + n_in / BLOCK * 8 + 63) / 64 * 64; }

static token_x token_at(const unsigned char *base, size_t n_in) {
  return (token_x){(const int8_t *)base, (const float *)(const void *)(base + n_in),
                   (const int32_t *)(const void *)(base + n_in + 4 * (n_in / BLOCK))};
}

static void quantize_token(const float *x, size_t n_in, unsigned char *base) {
  size_t n_blocks = n_in / BLOCK;
  int8_t *q = (int8_t *)base;
  float *d = (float *)(void *)(base + n_in);
  int32_t *sums = (int32_t *)(void *)(base + n_in + 4 * n_blocks);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (size_t b = 0; b < n_blocks; b++) {
    __m256i v[4];
    d[b] = quantize_block(x + b * BLOCK, v);
    __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256((__m256i *)(void *)(q + b * BLOCK), _mm256_permutevar8x32_epi32(bytes, order));
    __m256i total = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
    __m128i four = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    four = _mm_hadd_epi32(four, four);
    sums[b] = _mm_cvtsi128_si32(_mm_hadd_epi32(four, four));
  }
}

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
                                       const token_x *x, __m256 d_w, __m256 chain) {
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
static ALWAYS_INLINE void stream_rows(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t n_blocks,
                                      const token_x *x, float sums[FEW_TOKS][STEP_ROWS]) {
  size_t bytes = block_bytes(dtype);
  __m256 chains[FEW_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) chains[t] = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
#pragma GCC unroll 4
    for (int r = 0; r < STEP_ROWS; r++) {
      /* both ends of the 2 blocks: 68 bytes can span three lines */
      __builtin_prefetch(rows[r] + b * bytes + G2_PREFETCH_BYTES, 0, 2);
      __builtin_prefetch(rows[r] + (b + 2) * bytes - 1 + G2_PREFETCH_BYTES, 0, 2);
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

static void stream_any(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t n_blocks,
                       const token_x *x, float sums[FEW_TOKS][STEP_ROWS]) {
#define STREAM_TOKENS(type)                                                        \
  switch (nt) {                                                                    \
    case 1: stream_rows(type, 1, rows, n_blocks, x, sums); break;                  \
    case 2: stream_rows(type, 2, rows, n_blocks, x, sums); break;                  \
    case 3: stream_rows(type, 3, rows, n_blocks, x, sums); break;                  \
    default: stream_rows(type, FEW_TOKS, rows, n_blocks, x, sums); break;          \
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
    token_x tokens[FEW_TOKS];
    for (size_t t = 0; t < nt; t++) tokens[t] = token_at(scratch + (t0 + t) * token_bytes(n_in), n_in);
    for (size_t j0 = col_begin; j0 < col_end; j0 += STEP_ROWS) {
      size_t n_rows = col_end - j0 < STEP_ROWS ? col_end - j0 : STEP_ROWS;
      const unsigned char *rows[STEP_ROWS];
      for (size_t r = 0; r < STEP_ROWS; r++) /* missing rows repeat the first; never stored */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
      stream_any(w->dtype, nt, rows, n_blocks, tokens, sums);
      for (size_t t = 0; t < nt; t++)
        for (size_t r = 0; r < n_rows; r++)
          out[(t0 + t) * out_stride + j0 + r] = sums[t][r] + (bias ? bias[j0 + r] : 0.0f);
    }
  }
}

/* ---- batches: int16 panels ---- */

/* Q8_0: vector i, lane r: row r's weights 2i, 2i + 1 (int16). Q4_0
   (vectors 0..7 only): vector g, lane r: row r's nibbles 4g .. 4g + 3
   (bytes, w + 8), which meet the activations by vpmaddubsw: a pair is at
   most 2 * 15 * 127, so a block's 8 groups add up in int16 (at most
   30480) before one vpmaddwd, half the Q8_0 panels' work per product. */
typedef struct panel_block {
  __m256i weights[PANEL_PAIRS];
  __m256 scales; /* lane r: row r's d_w */
} panel_block;

/* One Q8_0 token for the panels: q[n_in] as int16, then d[n_blocks]
   (Q4_0 panels take the one-token path's tokens). */
static size_t token16_bytes(size_t n_in) { return (2 * n_in + 4 * (n_in / BLOCK) + 63) / 64 * 64; }

static void quantize_token16(const float *x, size_t n_in, unsigned char *base) {
  int16_t *q = (int16_t *)(void *)base;
  float *d = (float *)(void *)(base + 2 * n_in);
  for (size_t b = 0; b < n_in / BLOCK; b++) {
    __m256i v[4];
    d[b] = quantize_block(x + b * BLOCK, v);
    /* packs works per 128 bits: qwords 0, 2, 1, 3 restore the order */
    _mm256_storeu_si256((__m256i *)(void *)(q + b * BLOCK), _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xd8));
    _mm256_storeu_si256((__m256i *)(void *)(q + b * BLOCK + 16),
                        _mm256_permute4x64_epi64(_mm256_packs_epi32(v[2], v[3]), 0xd8));
  }
}

/* in[r] lane i -> out[i] lane r (8 x 8 dwords). */
static ALWAYS_INLINE void transpose8(const __m256i in[8], __m256i out[8]) {
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

/* Rows j0 .. j0 + n_rows of w into the panel (missing rows repeat the
   first; their lanes are never stored). */
static void pack_panel(const g2_matrix *w, size_t j0, size_t n_rows, panel_block *panel) {
  size_t n_blocks = (size_t)w->n_in / BLOCK, row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  size_t bytes = block_bytes(w->dtype);
  const unsigned char *rows[PANEL_ROWS];
  for (size_t r = 0; r < PANEL_ROWS; r++) rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  for (size_t b = 0; b < n_blocks; b++) {
    size_t at = b * bytes;
    /* Q8_0: a row's int16 pairs 0..7 and 8..15; Q4_0: its 32 nibbles as
       bytes in element order (the low nibbles are elements 0..15) */
    __m256i first[PANEL_ROWS], last[PANEL_ROWS];
    for (size_t r = 0; r < PANEL_ROWS; r++) {
      const unsigned char *block = rows[r] + at;
      __builtin_prefetch(block + G2_PREFETCH_BYTES, 0, 2);
      if (w->dtype == G2_DT_Q8_0) {
        first[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 2)));
        last[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 18)));
      } else {
        __m128i nibbles = _mm_loadu_si128((const __m128i *)(const void *)(block + 2));
        first[r] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(nibbles, low_nibbles)),
                                           _mm_and_si128(_mm_srli_epi16(nibbles, 4), low_nibbles), 1);
      }
    }
    transpose8(first, panel[b].weights);
    if (w->dtype == G2_DT_Q8_0) transpose8(last, panel[b].weights + 8);
    panel[b].scales =
        _mm256_cvtph_ps(_mm_set_epi64x((long long)four_halves(rows + 4, at), (long long)four_halves(rows, at)));
  }
}

static ALWAYS_INLINE int32_t load_pair(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static size_t panel_token_bytes(g2_dtype dtype, size_t n_in) {
  return dtype == G2_DT_Q8_0 ? token16_bytes(n_in) : token_bytes(n_in);
}

/* Block b's integer sums of nt tokens (at `tokens`) x the panel's 8 rows. */
static ALWAYS_INLINE void block_sums(g2_dtype dtype, size_t nt, const panel_block *block, size_t b,
                                     const unsigned char *tokens, size_t n_in, __m256i isum[TILE_TOKS]) {
  size_t stride = panel_token_bytes(dtype, n_in);
  if (dtype == G2_DT_Q8_0) {
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) isum[t] = _mm256_setzero_si256();
    /* unrolled by 2 only: fully unrolled, gcc 12 hoists every vpmaddwd
       above the adds and spills their results */
#pragma GCC unroll 2
    for (int i = 0; i < PANEL_PAIRS; i++) {
      __m256i weights = _mm256_load_si256(&block->weights[i]);
#pragma GCC unroll 6
      for (size_t t = 0; t < nt; t++) {
        const int16_t *q = (const int16_t *)(const void *)(tokens + t * stride) + b * BLOCK;
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(weights, _mm256_set1_epi32(load_pair(q + 2 * i))));
      }
    }
    return;
  }
  __m256i pairs[TILE_TOKS];
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++) pairs[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
  for (int g = 0; g < BLOCK / 4; g++) {
    __m256i nibbles = _mm256_load_si256(&block->weights[g]);
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) {
      int32_t group;
      memcpy(&group, token_at(tokens + t * stride, n_in).q + b * BLOCK + 4 * g, sizeof group);
      pairs[t] = _mm256_add_epi16(pairs[t], _mm256_maddubs_epi16(nibbles, _mm256_set1_epi32(group)));
    }
  }
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++)
    isum[t] = _mm256_sub_epi32(_mm256_madd_epi16(pairs[t], _mm256_set1_epi16(1)),
                               _mm256_set1_epi32(token_at(tokens + t * stride, n_in).sums[b] * 8));
}

/* nt tokens (at `tokens`, panel_token_bytes apart) x the panel's 8 rows. */
static ALWAYS_INLINE void panel_tile(g2_dtype dtype, size_t nt, const panel_block *panel, size_t n_in,
                                     const unsigned char *tokens, const float *bias, float *out, size_t out_stride,
                                     size_t n_rows) {
  size_t n_blocks = n_in / BLOCK, stride = panel_token_bytes(dtype, n_in);
  const float *d[TILE_TOKS];
  __m256 chains[TILE_TOKS][2];
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++) {
    d[t] = dtype == G2_DT_Q8_0 ? (const float *)(const void *)(tokens + t * stride + 2 * n_in)
                               : token_at(tokens + t * stride, n_in).d;
    chains[t][0] = chains[t][1] = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < n_blocks; b++) {
    const panel_block *block = &panel[b];
    __m256i isum[TILE_TOKS];
    block_sums(dtype, nt, block, b, tokens, n_in, isum);
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) {
      __m256 scale = _mm256_mul_ps(block->scales, _mm256_set1_ps(d[t][b]));
      chains[t][b % 2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), scale, chains[t][b % 2]);
    }
  }
  float bias_rows[PANEL_ROWS] = {0};
  if (bias) memcpy(bias_rows, bias, n_rows * sizeof *bias);
  __m256 bias_v = _mm256_loadu_ps(bias_rows);
  for (size_t t = 0; t < nt; t++) {
    float lanes[PANEL_ROWS];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(chains[t][0], chains[t][1]), bias_v));
    memcpy(out + t * out_stride, lanes, n_rows * sizeof *out);
  }
}

static void panel_tile_any(g2_dtype dtype, size_t nt, const panel_block *panel, size_t n_in,
                           const unsigned char *tokens, const float *bias, float *out, size_t out_stride,
                           size_t n_rows) {
#define TILE_TOKENS(type)                                                                          \
  switch (nt) {                                                                                    \
    case 1: panel_tile(type, 1, panel, n_in, tokens, bias, out, out_stride, n_rows); break;         \
    case 2: panel_tile(type, 2, panel, n_in, tokens, bias, out, out_stride, n_rows); break;         \
    case 3: panel_tile(type, 3, panel, n_in, tokens, bias, out, out_stride, n_rows); break;         \
    case 4: panel_tile(type, 4, panel, n_in, tokens, bias, out, out_stride, n_rows); break;         \
    case 5: panel_tile(type, 5, panel, n_in, tokens, bias, out, out_stride, n_rows); break;         \
    default: panel_tile(type, TILE_TOKS, panel, n_in, tokens, bias, out, out_stride, n_rows); break; \
  }
  if (dtype == G2_DT_Q8_0)
    TILE_TOKENS(G2_DT_Q8_0)
  else
    TILE_TOKENS(G2_DT_Q4_0)
#undef TILE_TOKENS
}

/* Panels first in the work area, then as many quantized tokens as fit. */
static void matmul_panels(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                          float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK;
  panel_block *panel = work;
  unsigned char *scratch = (unsigned char *)work + n_blocks * sizeof(panel_block);
  size_t token_size = panel_token_bytes(w->dtype, n_in);
  size_t token_block = (G2_KERNEL_WORK_BYTES - n_blocks * sizeof(panel_block)) / token_size;
  if (token_block >= TILE_TOKS) token_block = token_block / TILE_TOKS * TILE_TOKS;
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept(work, n_tok, token_block)) {
      for (size_t t = t0; t < t_end; t++) {
        if (w->dtype == G2_DT_Q8_0)
          quantize_token16(x + t * x_stride, n_in, scratch + (t - t0) * token_size);
        else
          quantize_token(x + t * x_stride, n_in, scratch + (t - t0) * token_size);
      }
    }
    for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_ROWS) {
      size_t n_rows = col_end - j0 < PANEL_ROWS ? col_end - j0 : PANEL_ROWS;
      pack_panel(w, j0, n_rows, panel);
      for (size_t t = t0; t < t_end; t += TILE_TOKS) {
        size_t nt = t_end - t < TILE_TOKS ? t_end - t : TILE_TOKS;
        panel_tile_any(w->dtype, nt, panel, n_in, scratch + (t - t0) * token_size, bias ? bias + j0 : NULL,
                       out + t * out_stride + j0, out_stride, n_rows);
      }
    }
  }
}

_Static_assert(PANEL_MAX_BLOCKS * sizeof(panel_block) + (2 * PANEL_MAX_BLOCKS * BLOCK + 4 * PANEL_MAX_BLOCKS + 63) / 64 * 64 <=
                   G2_KERNEL_WORK_BYTES,
               "int8_avx2.c: a panel and one token fit the work area");
_Static_assert((G2_INT8_MAX_IN + G2_INT8_MAX_IN / BLOCK * 8 + 63) / 64 * 64 <= G2_KERNEL_WORK_BYTES,
               "int8_avx2.c: one token of the longest row fits the work area");

static void int8_avx2_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                             float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in;
  if (n_tok >= BATCH_MIN_TOKS && n_in / BLOCK <= PANEL_MAX_BLOCKS) {
    matmul_panels(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  unsigned char *scratch = work;
  size_t token_block = G2_KERNEL_WORK_BYTES / token_bytes(n_in);
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept(work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) quantize_token(x + t * x_stride, n_in, scratch + (t - t0) * token_bytes(n_in));
    matmul_stream(w, scratch, t_end - t0, bias, out + t0 * out_stride, out_stride, col_begin, col_end);
  }
}

g2_matmul_fn g2_int8_avx2_matmul_for(const g2_matrix *w, int many) {
  (void)many; /* one function: fewer than BATCH_MIN_TOKS tokens stream the stored rows */
  return g2_int8_supported(w) ? int8_avx2_matmul : NULL;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_int8_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
