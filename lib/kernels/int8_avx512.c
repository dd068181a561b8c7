/* Q8_0 and Q4_0 products by vpdpbusd (AVX512-VNNI), to the bits of the
   oracle in int8_ref.c (definition in kernels/int8.h).

   vpdpbusd multiplies unsigned by signed bytes. We make the weights the
   unsigned side by an offset and correct with the activations' block sums:
   Q8_0 as w + 128 (w xor 0x80), so isum = dot(w + 128, q) - 128 sum(q);
   Q4_0 as its stored nibble n = w + 8, so isum = dot(n, q) - 8 sum(q).
   The activations stay signed in [-127, 127]; every sum is exact in int32.

   One token: 8 rows at a time in the stored layout, weights loaded straight
   into the lanes that meet their activations (Q8_0: a block per 256-bit
   half; Q4_0: a block's 16 nibble bytes per 128-bit lane, low nibbles
   against its first 16 activations and high ones against the last 16), so
   nothing is permuted per row; each row's scales come from one masked load
   (block_scales). The 8 rows' partial sums are reduced to one integer per
   (row, block) by a transposing add tree, so the float work runs on 16
   block terms at once: lanes (row, block parity) are the definition's two
   chains of each row. Weights stream with an L2 prefetch 16 KiB ahead, as
   the exact NK kernels do.

   Few tokens (BATCH_MIN_TOKS to LANES_MAX_TOKS, as when generating
   several sequences): the activations of up to 16 tokens are transposed
   once per call so that lane t holds token t's 4-byte groups, and each
   4-byte group of a row's offset weights, broadcast, meets 16 tokens in
   one vpdpbusd; 8 of them give the row's block sums for 16 tokens without
   any reduction, and the weights stream from memory in the stored layout,
   4 rows at a time, with nothing packed. Q8_0 matrices with block sums
   (g2_matrix.block_sums, computed once per model) skip the offset: the
   lanes hold q + 128 and the stored signed weights are the broadcast
   operand, each row and block starting from -128 sum(w); they keep the
   lanes up to LANES_MAX_TOKS_SIGNED tokens, and for any count on rows too
   long for a useful panel; from 17 tokens they go two groups per pass
   (lanes_block_pair), each broadcast meeting 32 tokens.

   More tokens: 16 rows are repacked into a panel whose lane r holds row
   r's offset weights, 4 bytes of a block per vector (8 vectors a block),
   so a broadcast 4-byte group of a token's activations meets 16 rows in
   one vpdpbusd and 8 of them give 16 block sums without any reduction. The
   panel is reused for every token of a block of tokens. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/int8.h"
#include "kernels/kernels.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  /* Quantized activations of a block of tokens (q, d_x, sums), in the
     work area: 1.25 bytes per activation, so n_in <= G2_INT8_MAX_IN fits
     one. */
  X_BYTES = 96 * 1024,
  TG_ROWS = 8,
  PANEL_ROWS = 16,
  PANEL_MAX_BLOCKS = 128, /* n_in <= 4096: 72 KiB of panel; longer rows run token by token */
  TILE_TOKS = 6,
  /* Fewer tokens stream the stored rows, FEW_TOKS tokens per pass over the
     weights (the one-token loop on several tokens): packing costs about
     what 16 rows' reductions of 4 tokens do. */
  FEW_TOKS = 4,
  BATCH_MIN_TOKS = 5,
  /* From BATCH_MIN_TOKS to LANES_MAX_TOKS tokens the weights stream
     through the token lanes, 16 tokens per pass and 4 rows at a time; more
     tokens pack panels. 124M layers + lm_head, one thread, against the
     panels: 16 tokens 15.0 + 7.0 -> 11.1 + 4.5 ms, 32 tokens 25.4 + 12.1 ->
     21.7 + 9.0, 5 tokens 8.9 + 4.0 -> 9.4 + 4.1, 64 tokens equal. */
  LANE_TOKS = 16,
  LANE_ROWS = 4,
  LANES_MAX_TOKS = 32,
  /* Q8_0 with block sums (signed weights, nothing offset per row) keeps
     the lanes up to 64 tokens: at 64 tokens, one thread, from cache,
     189-203 GOP/s in panels against 251-270 in the lanes (see
     docs/kernels.md). */
  LANES_MAX_TOKS_SIGNED = 64,
  /* ... and for any count where a panel would serve fewer tokens than
     this (long rows, whose activations fill the work area sooner:
     mlp_down's 3072 gives 24): 512 tokens through 768 x 3072, one thread,
     from cache, 212-217 GOP/s in panels against 272-278 in the lanes. */
  PANEL_MIN_TOKS = 48
};

typedef struct panel_block {
  __m512i weights[8]; /* vector i, lane r: row r's offset weights 4i .. 4i+3 */
  __m512 scales;      /* lane r: row r's d_w */
} panel_block;

/* The buffers in the work area (kernels.h). */
typedef struct int8_work {
  unsigned char x[X_BYTES];
  panel_block panel[PANEL_MAX_BLOCKS];
} int8_work;
_Static_assert(sizeof(int8_work) <= G2_KERNEL_WORK_BYTES, "int8_avx512.c's buffers fit the work area");

/* One token's quantized activations inside the scratch. */
typedef struct token_x {
  const int8_t *q;
  const float *d;
  const int32_t *sums;
} token_x;

static size_t token_bytes(size_t n_in) { return (n_in + n_in / BLOCK * 8 + 63) / 64 * 64; }

static token_x token_at(unsigned char *scratch, size_t n_in, size_t t) {
  unsigned char *base = scratch + t * token_bytes(n_in);
  size_t n_blocks = n_in / BLOCK;
  return (token_x){(const int8_t *)base, (const float *)(const void *)(base + n_in),
                   (const int32_t *)(const void *)(base + n_in + 4 * n_blocks)};
}

/* Step 1 of the definition, 32 activations at a time. */
static void quantize_token(const float *x, size_t n_in, unsigned char *base) {
  size_t n_blocks = n_in / BLOCK;
  int8_t *q = (int8_t *)base;
  float *d = (float *)(void *)(base + n_in);
  int32_t *sums = (int32_t *)(void *)(base + n_in + 4 * n_blocks);
  const __m512 low = _mm512_set1_ps(-127.0f), high = _mm512_set1_ps(127.0f);
  for (size_t b = 0; b < n_blocks; b++) {
    __m512 x0 = _mm512_loadu_ps(x + b * BLOCK), x1 = _mm512_loadu_ps(x + b * BLOCK + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    float scale = amax / 127.0f;
    __m512i q0 = _mm512_setzero_si512(), q1 = _mm512_setzero_si512();
    if (scale != 0.0f) {
      __m512 inv = _mm512_set1_ps(scale);
      __m512 v0 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x0, inv), low), high);
      __m512 v1 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x1, inv), low), high);
      q0 = _mm512_cvt_roundps_epi32(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q1 = _mm512_cvt_roundps_epi32(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    _mm_storeu_si128((__m128i *)(void *)(q + b * BLOCK), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(void *)(q + b * BLOCK + 16), _mm512_cvtepi32_epi8(q1));
    d[b] = scale;
    sums[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

static ALWAYS_INLINE size_t block_bytes(g2_dtype dtype) {
  return dtype == G2_DT_Q8_0 ? G2_Q8_0_BLOCK_BYTES : G2_Q4_0_BLOCK_BYTES;
}
static ALWAYS_INLINE int offset_shift(g2_dtype dtype) { return dtype == G2_DT_Q8_0 ? 7 : 3; }

/* ---- one token ---- */

/* Q8_0 blocks 2p and 2p+1 of a row (`lone`: 2p only, the rest zero), from
   the pair's first byte: the offset weights matching 64 activations. */
static ALWAYS_INLINE __m512i q8_pair_weights(const unsigned char *pair, int lone) {
  __m256i first = _mm256_loadu_si256((const __m256i *)(const void *)(pair + 2));
  __m512i weights = lone ? _mm512_zextsi256_si512(first)
                         : _mm512_inserti64x4(_mm512_castsi256_si512(first),
                                              _mm256_loadu_si256((const __m256i *)(const void *)(pair + 36)), 1);
  return _mm512_xor_si512(weights, _mm512_set1_epi8((char)0x80));
}

/* a + b of the pairs (lanes 4k, 4k+2) and (4k+1, 4k+3) within 128 bits. */
static ALWAYS_INLINE __m512i add_pairs32(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}
static ALWAYS_INLINE __m512i add_pairs64(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

/* Lane of (row r, block parity) in the chains. */
#define TG_LANE(r, parity) (8 * ((r) / 4) + 4 * (parity) + (r) % 4)

/* Partial sums of 8 rows (dots[r], four dwords per 128-bit lane) to one
   integer per (row, 128-bit lane k): lane 4k + r % 4 of out[r / 4]. */
static ALWAYS_INLINE void reduce_rows(const __m512i dots[TG_ROWS], __m512i out[2]) {
  __m512i quads[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) quads[i] = add_pairs32(dots[2 * i], dots[2 * i + 1]);
  out[0] = add_pairs64(quads[0], quads[1]);
  out[1] = add_pairs64(quads[2], quads[3]);
}

/* The F16 scales of blocks b .. b + n - 1 of 8 rows, the first at `offset`
   of each row, `stride` words apart (9: Q4_0, 17: Q8_0), in the words the
   chains want (`order`, from scale_order). Row 4h + i's vector is loaded
   from i words before its blocks, keeping only their scales, so block k's
   scale lands on word stride k + i; the four rows are or-ed, and one
   permute orders both halves' words. The address runs before the blocks
   (before the matrix for its first row) only where the mask reads
   nothing, so it is formed as an integer. */
static ALWAYS_INLINE __m512i block_scales(int n, int stride, const unsigned char *const *rows, size_t offset,
                                          __m512i order) {
  __m512i halves[2];
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) {
    __m512i words[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      uint32_t mask = 0;
      for (int k = 0; k < n; k++) mask |= 1u << (stride * k + i);
      uintptr_t at = (uintptr_t)(rows[4 * h + i] + offset) - 2u * (uintptr_t)i;
      words[i] = _mm512_maskz_loadu_epi16((__mmask32)mask, (const void *)at);
    }
    halves[h] = _mm512_or_si512(_mm512_ternarylogic_epi32(words[0], words[1], words[2], 0xfe), words[3]);
  }
  return _mm512_permutex2var_epi16(halves[0], order, halves[1]);
}

/* block_scales' order: word w takes block 2 (w / 16) + parity of row r,
   for lane w % 16 = TG_LANE(r, parity) of the chains. */
static __m512i scale_order(g2_dtype dtype) {
  int stride = (int)block_bytes(dtype) / 2;
  int16_t order[32];
  for (int word = 0; word < 32; word++) {
    int lane = word % 16, r = 4 * (lane / 8) + lane % 4, parity = lane / 4 % 2;
    order[word] = (int16_t)(32 * (r / 4) + stride * (2 * (word / 16) + parity) + r % 4);
  }
  return _mm512_loadu_si512(order);
}

/* Q8_0 blocks b, b + 1 (`lone`: b only) of 8 rows into the chains of nt
   tokens: the rows' weights and scales loaded once, then each token's
   products. Scale words 0..15: TG_LANE(r, parity) takes block b + parity's
   scale (word 0 or 17 of the pair). */
static ALWAYS_INLINE void q8_step(int lone, size_t nt, const unsigned char *const *rows, size_t ahead, size_t b,
                                  const token_x *x, __m512i scale_order, __m512 *chains) {
  size_t pair_bytes = 2 * block_bytes(G2_DT_Q8_0), offset = b / 2 * pair_bytes;
  const __m512i parity_index = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
  __m512i weights[TG_ROWS];
#pragma GCC unroll 8
  for (int r = 0; r < TG_ROWS; r++) {
    /* both ends of the pair: 68 bytes can span three lines */
    __builtin_prefetch(rows[r] + offset + ahead, 0, 2);
    __builtin_prefetch(rows[r] + offset + pair_bytes - 1 + ahead, 0, 2);
    weights[r] = q8_pair_weights(rows[r] + offset, lone);
  }
  __m512 d_w = _mm512_cvtph_ps(_mm512_castsi512_si256(block_scales(lone ? 1 : 2, (int)block_bytes(G2_DT_Q8_0) / 2, rows, offset, scale_order)));
  __mmask8 blocks = (__mmask8)(lone ? 1 : 3);
  __mmask16 lanes = lone ? (__mmask16)0x0f0f : (__mmask16)0xffff;
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) {
    __m512i xq = _mm512_maskz_loadu_epi8(lone ? 0xffffffffull : ~0ull, x[t].q + b * BLOCK);
    __m512i dots[TG_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < TG_ROWS; r++) dots[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), weights[r], xq);
    /* 128-bit lanes 0, 1 are block b, lanes 2, 3 block b + 1 */
    __m512i rows4[2];
    reduce_rows(dots, rows4);
    __m512i isum = _mm512_add_epi32(_mm512_shuffle_i32x4(rows4[0], rows4[1], 0x88),
                                    _mm512_shuffle_i32x4(rows4[0], rows4[1], 0xdd));
    __m512i q_sums = _mm512_permutexvar_epi32(parity_index,
                                              _mm512_castsi128_si512(_mm_maskz_loadu_epi32(blocks, x[t].sums + b)));
    isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(q_sums, (unsigned)offset_shift(G2_DT_Q8_0)));
    __m512 d_x = _mm512_permutexvar_ps(parity_index, _mm512_castps128_ps512(_mm_maskz_loadu_ps(blocks, x[t].d + b)));
    chains[t] = _mm512_mask3_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d_w, d_x), chains[t], lanes);
  }
}

/* Q4_0 blocks b .. b + n - 1 (b a multiple of 4, 1 <= n <= 4) of 8 rows
   into the chains of nt tokens (the rows' weights and scales loaded once).
   One block per 128-bit lane: a row's 4 x 16 nibble bytes are loaded into
   their lanes, and the low and high nibbles meet the blocks' first and
   second 16 activations, so no nibble needs to move. Scale words 0..15:
   TG_LANE(r, parity) takes block b + parity's scale, words 16..31 block
   b + 2 + parity's (word 9k of the group for block b + k). */
static ALWAYS_INLINE void q4_step(int n, size_t nt, const unsigned char *const *rows, size_t ahead, size_t b,
                                  const token_x *x, __m512i scale_order, __m512 *chains) {
  enum { GROUP_BYTES = 4 * G2_Q4_0_BLOCK_BYTES };
  size_t offset = b / 4 * GROUP_BYTES;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  const __m512i block_index = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i low_pair = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
  const __m512i high_pair = _mm512_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512i low[TG_ROWS], high[TG_ROWS];
#pragma GCC unroll 8
  for (int r = 0; r < TG_ROWS; r++) {
    /* one prefetch per 64 bytes reaches every line of consecutive groups */
    __builtin_prefetch(rows[r] + offset + ahead, 0, 2);
    __builtin_prefetch(rows[r] + offset + 64 + ahead, 0, 2);
    const unsigned char *group = rows[r] + offset;
    /* block k's 16 nibble bytes into 128-bit lane k (missing blocks zero);
       inserts beat one word permute of two loads here (Zen 4) */
    __m512i nibbles = _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(group + 2)));
    if (n > 1) nibbles = _mm512_inserti32x4(nibbles, _mm_loadu_si128((const __m128i *)(const void *)(group + 20)), 1);
    if (n > 2) nibbles = _mm512_inserti32x4(nibbles, _mm_loadu_si128((const __m128i *)(const void *)(group + 38)), 2);
    if (n > 3) nibbles = _mm512_inserti32x4(nibbles, _mm_loadu_si128((const __m128i *)(const void *)(group + 56)), 3);
    low[r] = _mm512_and_si512(nibbles, low_nibbles);
    high[r] = _mm512_and_si512(_mm512_srli_epi16(nibbles, 4), low_nibbles);
  }
  __mmask8 blocks = (__mmask8)((1u << n) - 1);
  __m512i scales = block_scales(n, (int)block_bytes(G2_DT_Q4_0) / 2, rows, offset, scale_order);
  __m512 d_w_low = _mm512_cvtph_ps(_mm512_castsi512_si256(scales));
  __m512 d_w_high = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(scales, 1));
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) {
    /* activations: 128-bit lane k holds block b + k's first (x_low) or
       second (x_high) 16 values */
    __m512i x01 = _mm512_maskz_loadu_epi8(n >= 2 ? ~0ull : 0xffffffffull, x[t].q + b * BLOCK);
    __m512i x23 = _mm512_maskz_loadu_epi8(n == 4 ? ~0ull : n == 3 ? 0xffffffffull : 0, x[t].q + b * BLOCK + 64);
    __m512i x_low = _mm512_shuffle_i64x2(x01, x23, 0x88), x_high = _mm512_shuffle_i64x2(x01, x23, 0xdd);
    __m512i dots[TG_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < TG_ROWS; r++)
      dots[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), low[r], x_low), high[r], x_high);
    __m512i rows4[2];
    reduce_rows(dots, rows4);
    __m512i group_sums = _mm512_castsi128_si512(_mm_maskz_loadu_epi32(blocks, x[t].sums + b));
    __m512i offsets = _mm512_slli_epi32(_mm512_permutexvar_epi32(block_index, group_sums),
                                        (unsigned)offset_shift(G2_DT_Q4_0));
    rows4[0] = _mm512_sub_epi32(rows4[0], offsets);
    rows4[1] = _mm512_sub_epi32(rows4[1], offsets);
    __m512 d_x = _mm512_castps128_ps512(_mm_maskz_loadu_ps(blocks, x[t].d + b));
    /* blocks b, b + 1, then b + 2, b + 3: each chain in block order */
    __m512i isum = _mm512_shuffle_i32x4(rows4[0], rows4[1], 0x44);
    chains[t] = _mm512_mask3_fmadd_ps(_mm512_cvtepi32_ps(isum),
                                      _mm512_mul_ps(d_w_low, _mm512_permutexvar_ps(low_pair, d_x)), chains[t],
                                      n >= 2 ? (__mmask16)0xffff : (__mmask16)0x0f0f);
    if (n > 2) {
      isum = _mm512_shuffle_i32x4(rows4[0], rows4[1], 0xee);
      chains[t] = _mm512_mask3_fmadd_ps(_mm512_cvtepi32_ps(isum),
                                        _mm512_mul_ps(d_w_high, _mm512_permutexvar_ps(high_pair, d_x)), chains[t],
                                        n == 4 ? (__mmask16)0xffff : (__mmask16)0x0f0f);
    }
  }
}

/* sums[t][r] = product of rows[r] with token t, r < 8, t < nt. */
static ALWAYS_INLINE void tg_rows(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t ahead,
                                  size_t n_blocks, const token_x *x, __m512i scale_order,
                                  float sums[FEW_TOKS][TG_ROWS]) {
  __m512 chains[FEW_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) chains[t] = _mm512_setzero_ps();
  size_t b = 0;
  if (dtype == G2_DT_Q8_0) {
    for (; b + 2 <= n_blocks; b += 2) q8_step(0, nt, rows, ahead, b, x, scale_order, chains);
    if (b < n_blocks) q8_step(1, nt, rows, ahead, b, x, scale_order, chains);
  } else {
    for (; b + 4 <= n_blocks; b += 4) q4_step(4, nt, rows, ahead, b, x, scale_order, chains);
    switch (n_blocks - b) {
      case 1: q4_step(1, nt, rows, ahead, b, x, scale_order, chains); break;
      case 2: q4_step(2, nt, rows, ahead, b, x, scale_order, chains); break;
      case 3: q4_step(3, nt, rows, ahead, b, x, scale_order, chains); break;
      default: break;
    }
  }
  for (size_t t = 0; t < nt; t++) {
    float lanes_out[16];
    _mm512_storeu_ps(lanes_out, chains[t]);
    for (int r = 0; r < TG_ROWS; r++) sums[t][r] = lanes_out[TG_LANE(r, 0)] + lanes_out[TG_LANE(r, 1)];
  }
}

static ALWAYS_INLINE void tg_tokens(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t ahead,
                                    size_t n_blocks, const token_x *x, __m512i scale_order,
                                    float sums[FEW_TOKS][TG_ROWS]) {
  switch (nt) {
    case 1: tg_rows(dtype, 1, rows, ahead, n_blocks, x, scale_order, sums); break;
    case 2: tg_rows(dtype, 2, rows, ahead, n_blocks, x, scale_order, sums); break;
    case 3: tg_rows(dtype, 3, rows, ahead, n_blocks, x, scale_order, sums); break;
    default: tg_rows(dtype, FEW_TOKS, rows, ahead, n_blocks, x, scale_order, sums); break;
  }
}

static void tg_any(g2_dtype dtype, size_t nt, const unsigned char *const *rows, size_t ahead, size_t n_blocks,
                   const token_x *x, __m512i scale_order, float sums[FEW_TOKS][TG_ROWS]) {
  if (dtype == G2_DT_Q8_0)
    tg_tokens(G2_DT_Q8_0, nt, rows, ahead, n_blocks, x, scale_order, sums);
  else
    tg_tokens(G2_DT_Q4_0, nt, rows, ahead, n_blocks, x, scale_order, sums);
}

/* Tokens [0, n_tok) of the scratch, FEW_TOKS at a time: each group streams
   the weights once. */
static void matmul_tokens(const g2_matrix *w, unsigned char *scratch, size_t n_tok, const float *bias, float *out,
                          size_t out_stride, size_t col_begin, size_t col_end) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  float sums[FEW_TOKS][TG_ROWS];
  const __m512i order = scale_order(w->dtype);
  for (size_t t0 = 0; t0 < n_tok; t0 += FEW_TOKS) {
    size_t nt = n_tok - t0 < FEW_TOKS ? n_tok - t0 : FEW_TOKS;
    token_x tokens[FEW_TOKS];
    for (size_t t = 0; t < nt; t++) tokens[t] = token_at(scratch, n_in, t0 + t);
    for (size_t j0 = col_begin; j0 < col_end; j0 += TG_ROWS) {
      size_t n_rows = col_end - j0 < TG_ROWS ? col_end - j0 : TG_ROWS;
      const unsigned char *rows[TG_ROWS];
      for (size_t r = 0; r < TG_ROWS; r++) /* missing rows repeat the first */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
      tg_any(w->dtype, nt, rows, g2_prefetch_ahead(TG_ROWS, row_bytes), n_blocks, tokens, order, sums);
      for (size_t t = 0; t < nt; t++)
        for (size_t r = 0; r < n_rows; r++)
          out[(t0 + t) * out_stride + j0 + r] = sums[t][r] + (bias ? bias[j0 + r] : 0.0f);
    }
  }
}

/* ---- batches ---- */

/* (a.d0, b.d0, a.d1, b.d1 | ...) and the same of dwords 2, 3, per 128 bits:
   the first two steps of a 4 x 4 dword transpose in each 128-bit lane. */
static ALWAYS_INLINE void transpose4(const __m512i in[4], __m512i out[4]) {
  __m512i s0 = _mm512_unpacklo_epi32(in[0], in[1]), s1 = _mm512_unpackhi_epi32(in[0], in[1]);
  __m512i s2 = _mm512_unpacklo_epi32(in[2], in[3]), s3 = _mm512_unpackhi_epi32(in[2], in[3]);
  out[0] = _mm512_unpacklo_epi64(s0, s2);
  out[1] = _mm512_unpackhi_epi64(s0, s2);
  out[2] = _mm512_unpacklo_epi64(s1, s3);
  out[3] = _mm512_unpackhi_epi64(s1, s3);
}

/* Rows j0 .. j0 + n_rows of w into the panel, by transposing 4-byte groups
   (missing rows repeat the first; their lanes are never stored). */
static void pack_panel(const g2_matrix *w, size_t j0, size_t n_rows, panel_block *panel) {
  size_t n_blocks = (size_t)w->n_in / BLOCK, row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  size_t bytes = block_bytes(w->dtype);
  const unsigned char *rows[PANEL_ROWS];
  int32_t offsets[PANEL_ROWS];
  for (size_t r = 0; r < PANEL_ROWS; r++) {
    rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
    offsets[r] = (int32_t)(rows[r] - rows[0]);
  }
  const __m512i index = _mm512_loadu_si512(offsets), low_nibbles = _mm512_set1_epi8(0x0f);
  /* qwords of two 4 x 4 transposes: 128-bit lanes 0 and 2 of each, then 1 and 3 */
  const __m512i even_lanes = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i odd_lanes = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (size_t b = 0; b < n_blocks; b++) {
    size_t at = b * bytes;
    panel_block *out = &panel[b];
    /* 16 short streams the hardware does not follow (the one-token path's
       L2 prefetch, G2_PREFETCH_BYTES ahead) */
    for (size_t r = 0; r < PANEL_ROWS; r++) __builtin_prefetch(rows[r] + at + G2_PREFETCH_BYTES, 0, 2);
    out->scales = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(index, rows[0] + at, 1)));
    if (w->dtype == G2_DT_Q8_0) {
      /* rows k and k + 8 side by side; each 4 x 4 transpose gives rows
         k..k+3 (and k+8..k+11) for dwords d (128-bit lanes 0, 2) and d + 4 */
      __m512i pairs[8], quads[2][4];
      for (size_t k = 0; k < 8; k++)
        pairs[k] = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(rows[k] + at + 2))),
            _mm256_loadu_si256((const __m256i *)(const void *)(rows[k + 8] + at + 2)), 1);
      transpose4(pairs, quads[0]);
      transpose4(pairs + 4, quads[1]);
      const __m512i offset = _mm512_set1_epi8((char)0x80);
      for (size_t d = 0; d < 4; d++) {
        out->weights[d] = _mm512_xor_si512(_mm512_permutex2var_epi64(quads[0][d], even_lanes, quads[1][d]), offset);
        out->weights[d + 4] = _mm512_xor_si512(_mm512_permutex2var_epi64(quads[0][d], odd_lanes, quads[1][d]), offset);
      }
    } else {
      /* rows k, k + 4, k + 8, k + 12 in the four 128-bit lanes */
      __m512i lanes[4], nibbles[4];
      for (size_t k = 0; k < 4; k++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(rows[k] + at + 2)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rows[k + 4] + at + 2)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rows[k + 8] + at + 2)), 2);
        lanes[k] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rows[k + 12] + at + 2)), 3);
      }
      transpose4(lanes, nibbles);
      for (size_t d = 0; d < 4; d++) {
        out->weights[d] = _mm512_and_si512(nibbles[d], low_nibbles);
        out->weights[d + 4] = _mm512_and_si512(_mm512_srli_epi16(nibbles[d], 4), low_nibbles);
      }
    }
  }
}

static ALWAYS_INLINE int32_t load_group(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Block b of the panel against nt tokens, into chains[t] (the chain of
   b's parity). Two vpdpbusd chains per token halve the dependent run. */
static ALWAYS_INLINE void tile_block(int shift, size_t nt, const panel_block *block, size_t b, const token_x *x,
                                     __m512 *chains) {
  __m512i weights[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) weights[i] = _mm512_load_si512(&block->weights[i]);
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++) {
    const int8_t *q = x[t].q + b * BLOCK;
    __m512i isum[2] = {_mm512_set1_epi32(-(x[t].sums[b] * (1 << shift))), _mm512_setzero_si512()};
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
      isum[i % 2] = _mm512_dpbusd_epi32(isum[i % 2], weights[i], _mm512_set1_epi32(load_group(q + 4 * i)));
    __m512 scale = _mm512_mul_ps(block->scales, _mm512_set1_ps(x[t].d[b]));
    chains[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(isum[0], isum[1])), scale, chains[t]);
  }
}

/* nt tokens x the panel's 16 rows. */
static ALWAYS_INLINE void batch_tile(int shift, size_t nt, const panel_block *panel, size_t n_blocks,
                                     const token_x *x, const float *bias, float *out, size_t out_stride,
                                     size_t n_rows) {
  __m512 even[TILE_TOKS], odd[TILE_TOKS];
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++) even[t] = odd[t] = _mm512_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    tile_block(shift, nt, &panel[b], b, x, even);
    tile_block(shift, nt, &panel[b + 1], b + 1, x, odd);
  }
  if (b < n_blocks) tile_block(shift, nt, &panel[b], b, x, even);
  __mmask16 valid = (__mmask16)((1u << n_rows) - 1);
  __m512 bias_v = bias ? _mm512_maskz_loadu_ps(valid, bias) : _mm512_setzero_ps();
  for (size_t t = 0; t < nt; t++)
    _mm512_mask_storeu_ps(out + t * out_stride, valid, _mm512_add_ps(_mm512_add_ps(even[t], odd[t]), bias_v));
}

static void batch_tile_any(int shift, size_t nt, const panel_block *panel, size_t n_blocks, const token_x *x,
                           const float *bias, float *out, size_t out_stride, size_t n_rows) {
  switch (nt) {
    case 1: batch_tile(shift, 1, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 2: if (TILE_TOKS >= 2) batch_tile(shift, 2, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 3: if (TILE_TOKS >= 3) batch_tile(shift, 3, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 4: if (TILE_TOKS >= 4) batch_tile(shift, 4, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 5: if (TILE_TOKS >= 5) batch_tile(shift, 5, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 6: if (TILE_TOKS >= 6) batch_tile(shift, 6, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    case 7: if (TILE_TOKS >= 7) batch_tile(shift, 7, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
    default: if (TILE_TOKS >= 8) batch_tile(shift, 8, panel, n_blocks, x, bias, out, out_stride, n_rows); break;
  }
}

/* ---- a few tokens in the lanes ---- */

/* Up to LANE_TOKS tokens' quantized activations, transposed once per call
   so that lane t of a vector is token t: groups[b][i] holds each token's
   4-byte group i of block b, offsets[b] the block-sum correction
   -(sum q << shift) and d_x[b] the scale. For Q8_0 with block sums
   (`signed_w`) the groups hold q + 128 (q xor 0x80) instead, the
   unsigned side against the stored signed weights, and the correction is
   the row's -128 sum w, so offsets[] is not used. Lanes of missing tokens are
   zeroed, so that no lane computes on stale bytes of the work area (their
   sums are never stored.
   In the work area: one token's quantization (token_at's layout), then
   as many groups of LANE_TOKS tokens as fit, each n_blocks x LANE_BLOCK_BYTES
   (slots, 64-byte aligned), so that a product's later column slices on a
   thread find all its tokens packed (up to 4 groups of the 124M shape's
   768-value rows). */
typedef struct lanes_x {
  int32_t (*groups)[8][LANE_TOKS];
  int32_t (*offsets)[LANE_TOKS];
  float (*d_x)[LANE_TOKS];
  unsigned char *token;
} lanes_x;
enum {
  LANE_TOKEN_BYTES = PANEL_MAX_BLOCKS * (BLOCK + 8),
  LANE_BLOCK_BYTES = (8 + 2) * LANE_TOKS * 4 /* groups, offsets, d_x of one block */
};
_Static_assert(LANE_TOKEN_BYTES % 64 == 0 && LANE_TOKEN_BYTES + PANEL_MAX_BLOCKS * LANE_BLOCK_BYTES <= G2_KERNEL_WORK_BYTES,
               "int8_avx512.c's token lanes: one group fits the work area");

static size_t lane_slots(size_t n_blocks) {
  return (G2_KERNEL_WORK_BYTES - LANE_TOKEN_BYTES) / (n_blocks * LANE_BLOCK_BYTES);
}

static lanes_x lanes_at(unsigned char *area, size_t n_blocks, size_t slot) {
  unsigned char *base = area + LANE_TOKEN_BYTES + slot * n_blocks * LANE_BLOCK_BYTES;
  return (lanes_x){(int32_t(*)[8][LANE_TOKS])(void *)base,
                   (int32_t(*)[LANE_TOKS])(void *)(base + n_blocks * 8 * LANE_TOKS * 4),
                   (float(*)[LANE_TOKS])(void *)(base + n_blocks * 9 * LANE_TOKS * 4), area};
}

static void lanes_pack(const float *x, size_t nt, size_t x_stride, size_t n_in, int shift, int signed_w,
                       lanes_x *lx) {
  size_t n_blocks = n_in / BLOCK;
  if (nt < LANE_TOKS) {
    memset(lx->groups, 0, n_blocks * sizeof lx->groups[0]);
    memset(lx->offsets, 0, n_blocks * sizeof lx->offsets[0]);
    memset(lx->d_x, 0, n_blocks * sizeof lx->d_x[0]);
  }
  const int32_t flip = signed_w ? (int32_t)0x80808080u : 0;
  for (size_t t = 0; t < nt; t++) {
    quantize_token(x + t * x_stride, n_in, lx->token);
    token_x tok = token_at(lx->token, n_in, 0);
    for (size_t b = 0; b < n_blocks; b++) {
      for (size_t i = 0; i < 8; i++) lx->groups[b][i][t] = load_group(tok.q + b * BLOCK + 4 * i) ^ flip;
      lx->offsets[b][t] = -(tok.sums[b] * (1 << shift));
      lx->d_x[b][t] = tok.d[b];
    }
  }
}

/* One row's block against the token lanes: chain + isum * (d_w * d_x) in
   each token's lane. Each 4-byte group of the block's offset weights is
   broadcast against the lanes, so 8 vpdpbusd give the block's sums for 16
   tokens with no reduction and no packing; two chains of 4, so that 4
   rows keep 8 in flight. (Tried and slower on Zen 4: offsetting a block's
   weights once into a buffer and broadcasting from it, with or without
   the broadcast folded into vpdpbusd's memory operand and the Q8_0 offset
   moved to the activations: 13.6-15.5 ms against 11.1 ms for 16 tokens
   through the 124M layers, one thread.) */
static ALWAYS_INLINE __m512 lanes_block(g2_dtype dtype, int signed_w, const unsigned char *block,
                                        const int16_t *block_sum, const __m512i groups[8], __m512i offsets,
                                        __m512 d_x, __m512 chain) {
  const __m512i flip = _mm512_set1_epi8((char)0x80), low_nibbles = _mm512_set1_epi8(0x0f);
  __builtin_prefetch(block + G2_PREFETCH_BYTES, 0, 2);
  __m512i isum[2] = {offsets, _mm512_setzero_si512()};
  if (signed_w) { /* the weights' groups go straight into vpdpbusd's broadcast operand */
    isum[0] = _mm512_set1_epi32(-128 * (int32_t)*block_sum);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
      isum[i % 2] = _mm512_dpbusd_epi32(isum[i % 2], groups[i],
                                        _mm512_set1_epi32(load_group((const int8_t *)block + 2 + 4 * i)));
  } else if (dtype == G2_DT_Q8_0) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
      isum[i % 2] = _mm512_dpbusd_epi32(
          isum[i % 2], _mm512_xor_si512(_mm512_set1_epi32(load_group((const int8_t *)block + 2 + 4 * i)), flip),
          groups[i]);
  } else { /* byte k's low nibble is element k, its high one element 16 + k */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      __m512i nibbles = _mm512_set1_epi32(load_group((const int8_t *)block + 2 + 4 * i));
      isum[0] = _mm512_dpbusd_epi32(isum[0], _mm512_and_si512(nibbles, low_nibbles), groups[i]);
      isum[1] = _mm512_dpbusd_epi32(isum[1], _mm512_and_si512(_mm512_srli_epi16(nibbles, 4), low_nibbles),
                                    groups[4 + i]);
    }
  }
  uint16_t d_w;
  memcpy(&d_w, block, sizeof d_w);
  __m512 scale = _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d_w)), d_x);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(isum[0], isum[1])), scale, chain);
}

/* Block b of the nr rows into their chains. */
static ALWAYS_INLINE void lanes_step(g2_dtype dtype, int signed_w, int nr, const unsigned char *row0,
                                     size_t row_bytes, const int16_t *sums0, size_t n_blocks, size_t b,
                                     const lanes_x *lx, __m512 *chains) {
  __m512i groups[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) groups[i] = _mm512_load_si512(lx->groups[b][i]);
  const __m512i offsets = signed_w ? _mm512_setzero_si512() : _mm512_load_si512(lx->offsets[b]);
  const __m512 d_x = _mm512_load_ps(lx->d_x[b]);
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++)
    chains[r] = lanes_block(dtype, signed_w, row0 + (size_t)r * row_bytes + b * block_bytes(dtype),
                            signed_w ? sums0 + (size_t)r * n_blocks + b : NULL, groups, offsets, d_x, chains[r]);
}

/* sums[r] lane t = (c[0] + c[1]) of row r < nr (consecutive from row0)
   with token t. */
static ALWAYS_INLINE void lanes_rows(g2_dtype dtype, int signed_w, int nr, const unsigned char *row0,
                                     size_t row_bytes, const int16_t *sums0, size_t n_blocks, const lanes_x *lx,
                                     __m512 sums[LANE_ROWS]) {
  __m512 even[LANE_ROWS], odd[LANE_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++) even[r] = odd[r] = _mm512_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    lanes_step(dtype, signed_w, nr, row0, row_bytes, sums0, n_blocks, b, lx, even);
    lanes_step(dtype, signed_w, nr, row0, row_bytes, sums0, n_blocks, b + 1, lx, odd);
  }
  if (b < n_blocks) lanes_step(dtype, signed_w, nr, row0, row_bytes, sums0, n_blocks, b, lx, even);
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++) sums[r] = _mm512_add_ps(even[r], odd[r]);
}

/* sums0: row0's block sums, or NULL (then Q8_0 weights are offset). */
static void lanes_any(g2_dtype dtype, int nr, const unsigned char *row0, size_t row_bytes, const int16_t *sums0,
                      size_t n_blocks, const lanes_x *lx, __m512 sums[LANE_ROWS]) {
#define LANES_ROWS_OF(type, signed_w)                                                                  \
  switch (nr) {                                                                                        \
    case 1: lanes_rows(type, signed_w, 1, row0, row_bytes, sums0, n_blocks, lx, sums); break;          \
    case 2: lanes_rows(type, signed_w, 2, row0, row_bytes, sums0, n_blocks, lx, sums); break;          \
    case 3: lanes_rows(type, signed_w, 3, row0, row_bytes, sums0, n_blocks, lx, sums); break;          \
    default: lanes_rows(type, signed_w, LANE_ROWS, row0, row_bytes, sums0, n_blocks, lx, sums); break; \
  }
  if (dtype == G2_DT_Q8_0 && sums0)
    LANES_ROWS_OF(G2_DT_Q8_0, 1)
  else if (dtype == G2_DT_Q8_0)
    LANES_ROWS_OF(G2_DT_Q8_0, 0)
  else
    LANES_ROWS_OF(G2_DT_Q4_0, 0)
#undef LANES_ROWS_OF
}

/* Two groups of tokens (lx[0], lx[1]) against the signed Q8_0 weights of
   one row's block b: each broadcast 4-byte group of weights meets 32
   tokens, and the block's scale and sum correction are made once for both,
   so there are 16 vpdpbusd per block to about 14 other vector operations
   (8 to 9 with one group): 768 x 768 from the caches, one thread, 32 and
   64 tokens, 274-279 -> 306-312 GOP/s. Both p0 and p5 are busy either way
   (vpdpbusd, the scale's conversion and broadcasts), so that is about the
   bound of this layout. */
static ALWAYS_INLINE void lanes_block_pair(const unsigned char *block, int16_t block_sum, const lanes_x *lx,
                                           size_t b, __m512 *chain0, __m512 *chain1) {
  __builtin_prefetch(block + G2_PREFETCH_BYTES, 0, 2);
  const __m512i start = _mm512_set1_epi32(-128 * (int32_t)block_sum);
  __m512i isum0[2] = {start, _mm512_setzero_si512()}, isum1[2] = {start, _mm512_setzero_si512()};
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    const __m512i w = _mm512_set1_epi32(load_group((const int8_t *)block + 2 + 4 * i));
    isum0[i % 2] = _mm512_dpbusd_epi32(isum0[i % 2], _mm512_load_si512(lx[0].groups[b][i]), w);
    isum1[i % 2] = _mm512_dpbusd_epi32(isum1[i % 2], _mm512_load_si512(lx[1].groups[b][i]), w);
  }
  const __m512i sum0 = _mm512_add_epi32(isum0[0], isum0[1]), sum1 = _mm512_add_epi32(isum1[0], isum1[1]);
  uint16_t d_w;
  memcpy(&d_w, block, sizeof d_w);
  const __m512 d = _mm512_set1_ps(_cvtsh_ss(d_w));
  *chain0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum0), _mm512_mul_ps(d, _mm512_load_ps(lx[0].d_x[b])), *chain0);
  *chain1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum1), _mm512_mul_ps(d, _mm512_load_ps(lx[1].d_x[b])), *chain1);
}

/* Block b of the nr rows against both groups, into chains[g][r] (the
   chains of b's parity). */
static ALWAYS_INLINE void lanes_step_pair(int nr, const unsigned char *row0, size_t row_bytes, const int16_t *sums0,
                                          size_t n_blocks, size_t b, const lanes_x *lx, __m512 chains[2][LANE_ROWS]) {
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++)
    lanes_block_pair(row0 + (size_t)r * row_bytes + b * G2_Q8_0_BLOCK_BYTES, sums0[(size_t)r * n_blocks + b], lx, b,
                     &chains[0][r], &chains[1][r]);
}

/* sums[g][r] lane t = (c[0] + c[1]) of row r < nr with token t of group g,
   signed Q8_0 weights (block sums). */
static ALWAYS_INLINE void lanes_rows_pair(int nr, const unsigned char *row0, size_t row_bytes, const int16_t *sums0,
                                          size_t n_blocks, const lanes_x *lx, __m512 sums[2][LANE_ROWS]) {
  __m512 even[2][LANE_ROWS], odd[2][LANE_ROWS]; /* [group][row] */
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++) even[0][r] = even[1][r] = odd[0][r] = odd[1][r] = _mm512_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    lanes_step_pair(nr, row0, row_bytes, sums0, n_blocks, b, lx, even);
    lanes_step_pair(nr, row0, row_bytes, sums0, n_blocks, b + 1, lx, odd);
  }
  if (b < n_blocks) lanes_step_pair(nr, row0, row_bytes, sums0, n_blocks, b, lx, even);
#pragma GCC unroll 4
  for (int r = 0; r < nr; r++) {
    sums[0][r] = _mm512_add_ps(even[0][r], odd[0][r]);
    sums[1][r] = _mm512_add_ps(even[1][r], odd[1][r]);
  }
}

static void lanes_pair_any(int nr, const unsigned char *row0, size_t row_bytes, const int16_t *sums0, size_t n_blocks,
                           const lanes_x *lx, __m512 sums[2][LANE_ROWS]) {
  switch (nr) {
    case 1: lanes_rows_pair(1, row0, row_bytes, sums0, n_blocks, lx, sums); break;
    case 2: lanes_rows_pair(2, row0, row_bytes, sums0, n_blocks, lx, sums); break;
    case 3: lanes_rows_pair(3, row0, row_bytes, sums0, n_blocks, lx, sums); break;
    default: lanes_rows_pair(LANE_ROWS, row0, row_bytes, sums0, n_blocks, lx, sums); break;
  }
}

/* Group `group` of the tokens (LANE_TOKS from LANE_TOKS * group) in its
   slot of the work area, packed unless an earlier slice of the product on
   this thread left it there. kept: bit g set while group g sits in slot
   g % slots; groups past 63 are packed every time. */
static lanes_x lanes_group(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, size_t group,
                           size_t slots, g2_work *work) {
  size_t n_blocks = (size_t)w->n_in / BLOCK, t0 = group * LANE_TOKS, slot = group % slots;
  size_t nt = n_tok - t0 < LANE_TOKS ? n_tok - t0 : LANE_TOKS;
  lanes_x lx = lanes_at(work->area, n_blocks, slot);
  if (group >= 64 || !(work->kept >> group & 1)) {
    lanes_pack(x + t0 * x_stride, nt, x_stride, (size_t)w->n_in, offset_shift(w->dtype), w->block_sums != NULL, &lx);
    for (size_t g = slot; g < 64; g += slots) work->kept &= ~((uint64_t)1 << g);
    if (group < 64) work->kept |= (uint64_t)1 << group;
  }
  return lx;
}

static void store_lanes(__m512 sums, float bias, size_t nt, float *out, size_t out_stride) {
  float lanes[LANE_TOKS];
  _mm512_storeu_ps(lanes, _mm512_add_ps(sums, _mm512_set1_ps(bias)));
  for (size_t t = 0; t < nt; t++) out[t * out_stride] = lanes[t];
}

/* Tokens [0, n_tok), LANE_TOKS at a time, or two groups at a time for
   signed Q8_0 weights when the work area holds two: each pass streams the
   weights once, LANE_ROWS consecutive rows at a time. */
static void matmul_lanes(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                         float *out, size_t out_stride, size_t col_begin, size_t col_end, g2_work *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  size_t slots = lane_slots(n_blocks); /* >= 1 */
  for (size_t group = 0; group * LANE_TOKS < n_tok;) {
    size_t t0 = group * LANE_TOKS, pair = w->block_sums && slots >= 2 && n_tok - t0 > LANE_TOKS;
    size_t nt[2] = {n_tok - t0 < LANE_TOKS ? n_tok - t0 : LANE_TOKS, 0};
    lanes_x lx[2] = {lanes_group(w, x, n_tok, x_stride, group, slots, work)};
    if (pair) {
      lx[1] = lanes_group(w, x, n_tok, x_stride, group + 1, slots, work);
      nt[1] = n_tok - t0 - LANE_TOKS < LANE_TOKS ? n_tok - t0 - LANE_TOKS : LANE_TOKS;
    }
    for (size_t j0 = col_begin; j0 < col_end; j0 += LANE_ROWS) {
      size_t nr = col_end - j0 < LANE_ROWS ? col_end - j0 : LANE_ROWS;
      const unsigned char *row0 = (const unsigned char *)w->data + j0 * row_bytes;
      const int16_t *sums0 = w->block_sums ? w->block_sums + j0 * n_blocks : NULL;
      __m512 sums[2][LANE_ROWS];
      if (pair)
        lanes_pair_any((int)nr, row0, row_bytes, sums0, n_blocks, lx, sums);
      else
        lanes_any(w->dtype, (int)nr, row0, row_bytes, sums0, n_blocks, lx, sums[0]);
      for (size_t g = 0; g <= pair; g++)
        for (size_t r = 0; r < nr; r++)
          store_lanes(sums[g][r], bias ? bias[j0 + r] : 0.0f, nt[g], out + (t0 + g * LANE_TOKS) * out_stride + j0 + r,
                      out_stride);
    }
    group += 1 + pair;
  }
}

static void int8_vnni_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                             const float *bias, float *out, size_t out_stride, size_t col_begin,
                             size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK;
  int batch = n_tok >= BATCH_MIN_TOKS && n_blocks <= PANEL_MAX_BLOCKS;
  size_t token_block = X_BYTES / token_bytes(n_in);
  if (batch && token_block >= TILE_TOKS) token_block = token_block / TILE_TOKS * TILE_TOKS;
  size_t lanes_max = !w->block_sums              ? LANES_MAX_TOKS
                     : token_block < PANEL_MIN_TOKS ? SIZE_MAX
                                                    : LANES_MAX_TOKS_SIGNED;
  if (batch && n_tok <= lanes_max) {
    matmul_lanes(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  unsigned char *restrict scratch = ((int8_work *)work)->x;
  panel_block *restrict panel = ((int8_work *)work)->panel;
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    for (size_t t = t0; t < t_end; t++) quantize_token(x + t * x_stride, n_in, scratch + (t - t0) * token_bytes(n_in));
    if (!batch) {
      matmul_tokens(w, scratch, t_end - t0, bias, out + t0 * out_stride, out_stride, col_begin, col_end);
      continue;
    }
    for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_ROWS) {
      size_t n_rows = col_end - j0 < PANEL_ROWS ? col_end - j0 : PANEL_ROWS;
      pack_panel(w, j0, n_rows, panel);
      for (size_t t = t0; t < t_end; t += TILE_TOKS) {
        size_t nt = t_end - t < TILE_TOKS ? t_end - t : TILE_TOKS;
        token_x tokens[TILE_TOKS];
        for (size_t i = 0; i < nt; i++) tokens[i] = token_at(scratch, n_in, t - t0 + i);
        batch_tile_any(offset_shift(w->dtype), nt, panel, n_blocks, tokens, bias ? bias + j0 : NULL,
                       out + t * out_stride + j0, out_stride, n_rows);
      }
    }
  }
}

g2_matmul_fn g2_int8_vnni_matmul_for(const g2_matrix *w, int many) {
  (void)many; /* one function: fewer than BATCH_MIN_TOKS tokens take the streaming path */
  return g2_int8_supported(w) ? int8_vnni_matmul : NULL;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_int8_avx512_not_built; /* ISO C wants a declaration in every file */
#endif
