/* Batches of the 32-value block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and
   IQ4_NL) on 8-bit activations in AVX2 integer code, to the bits of
   int8.h's definition (Q8_0, Q4_0) or q32_int8.h's (the others);
   int8_avx2.c and q32_int8_avx2.c hand their batches here.

   The activations of a block of tokens are quantized once, and 8 rows are
   repacked once per block of tokens into a panel whose 32-bit lane r holds
   row r's weights, so that a broadcast group of a token's activations
   meets 8 rows in one instruction and the sums land in row lanes with no
   horizontal reduction:
     Q4_0, Q4_1, Q5_0, Q5_1: vector g holds the unsigned codes u 4g ..
       4g + 3 as bytes (Q4_0's value is u - 8, Q5_0's u - 16), which meet
       4 activations by vpmaddubsw. A pair is at most 2 * 15 * 127 = 3810
       for nibbles, so a block's 8 groups add up in int16 (at most 30480)
       before one vpmaddwd; 5-bit codes (7874 a pair) go to int32 every 4
       groups.
     Q8_0, IQ4_NL (signed values; IQ4_NL's T[u]): vector 2g + e holds the
       values 4g + e, 4g + e + 2 as int16, which meet the same pair of
       activations (int16 too, stored in that order) by vpmaddwd (no
       saturation possible). Splitting v + 128 into
       two panels of nibbles for vpmaddubsw measured 8% slower.
   The block sum I_b (less offset * s_b) is exact in int32, so only the
   float chains are ordered, and they are the definitions'. A register tile
   of TILE_TOKS tokens shares each panel load. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/int8_avx2.h"
#include "kernels/kernels.h"
#include "kernels/kquant_avx2.h"
#include "kernels/panel_run.h"
#include "kernels/transpose_avx2.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  ROWS = G2_PANEL_ROWS,
    PANEL_MAX_BLOCKS = 128, /* n_in <= 4096: 72 KiB of panel */
  TILE_TOKS = 6
};

/* ---- the activations ---- */

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

void g2_int8_avx2_quantize_token(const float *x, size_t n_in, unsigned char *base) {
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

/* The panels of signed values take a token as q[n_in] in int16, then
   d[n_in / 32], each 4 values in the order 0, 2, 1, 3 (the pairs that
   pack_panel's shifts give). */
static size_t token16_bytes(size_t n_in) { return (2 * n_in + 4 * (n_in / BLOCK) + 63) / 64 * 64; }

static void quantize_token16(const float *x, size_t n_in, unsigned char *base) {
  int16_t *q = (int16_t *)(void *)base;
  float *d = (float *)(void *)(base + 2 * n_in);
  for (size_t b = 0; b < n_in / BLOCK; b++) {
    __m256i v[4];
    d[b] = quantize_block(x + b * BLOCK, v);
    /* packs works per 128 bits: qwords 0, 2, 1, 3 restore the order */
    for (int h = 0; h < 2; h++)
      _mm256_storeu_si256(
          (__m256i *)(void *)(q + b * BLOCK + 16 * h),
          g2_pair_order_epi16(_mm256_permute4x64_epi64(_mm256_packs_epi32(v[2 * h], v[2 * h + 1]), 0xd8)));
  }
}

/* ---- the types ---- */

/* int16 panels (signed values) */
static ALWAYS_INLINE int wide_values(g2_dtype dtype) { return dtype == G2_DT_Q8_0 || dtype == G2_DT_IQ4_NL; }
static ALWAYS_INLINE int five_bit_codes(g2_dtype dtype) { return dtype == G2_DT_Q5_0 || dtype == G2_DT_Q5_1; }
static ALWAYS_INLINE int has_min(g2_dtype dtype) { return dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1; }
/* int8.h's two chains (even and odd blocks) or q32_int8.h's one */
static ALWAYS_INLINE int two_chains(g2_dtype dtype) { return dtype == G2_DT_Q8_0 || dtype == G2_DT_Q4_0; }
/* value = code - offset */
static ALWAYS_INLINE int32_t code_offset(g2_dtype dtype) {
  return dtype == G2_DT_Q4_0 ? 8 : dtype == G2_DT_Q5_0 ? 16 : 0;
}

int g2_panel_avx2_takes(const g2_matrix *w, size_t n_tok) {
  g2_dtype t = w->dtype;
  int type = t == G2_DT_Q8_0 || t == G2_DT_Q4_0 || t == G2_DT_Q4_1 || t == G2_DT_Q5_0 || t == G2_DT_Q5_1 ||
             t == G2_DT_IQ4_NL;
  return type && w->layout == G2_LAYOUT_NK && n_tok >= G2_PANEL_AVX2_MIN_TOKS && w->n_in > 0 &&
         w->n_in % BLOCK == 0 && w->n_in / BLOCK <= PANEL_MAX_BLOCKS;
}

/* ---- the panel ---- */

typedef struct panel_block {
  /* codes: vector g, lane r: row r's codes 4g .. 4g + 3 (g < 8); signed
     values: vector 2g + e, lane r: row r's values 4g + e, 4g + e + 2
     (int16) */
  __m256i w[BLOCK / 2];
  __m256 d, m; /* lane r: row r's scale and (Q4_1, Q5_1) min */
} panel_block;

/* A block's 32 codes u (or signed values) in value order, as bytes. */
static ALWAYS_INLINE __m256i block_bytes(g2_dtype dtype, const unsigned char *block) {
  if (dtype == G2_DT_Q8_0) return _mm256_loadu_si256((const __m256i *)(const void *)(block + 2));
  __m256i u = g2_b32_codes_avx2(dtype, block);
  if (dtype != G2_DT_IQ4_NL) return u;
  __m128i grid = _mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid);
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(grid), u);
}

/* Rows j0 .. j0 + n_rows of w into the panel (missing rows repeat the
   first; their lanes are never stored). */
static ALWAYS_INLINE void pack_panel(g2_dtype dtype, const g2_matrix *w, size_t j0, size_t n_rows,
                                     panel_block *panel) {
  size_t n_blocks = (size_t)w->n_in / BLOCK, row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  size_t bytes = row_bytes / n_blocks;
  const unsigned char *rows[ROWS];
  for (size_t r = 0; r < ROWS; r++) rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
  for (size_t b = 0; b < n_blocks; b++) {
    const unsigned char *blocks[ROWS];
    __m256i bytes8[ROWS];
#pragma GCC unroll 8
    for (size_t r = 0; r < ROWS; r++) {
      blocks[r] = rows[r] + b * bytes;
      __builtin_prefetch(blocks[r] + G2_PREFETCH_BYTES, 0, 2);
      bytes8[r] = block_bytes(dtype, blocks[r]);
    }
    if (wide_values(dtype)) {
      /* lane r of t[g]: row r's values 4g .. 4g + 3, widened in place
         (a third of the tile's time in Q8_0 prompts when each row was
         widened before two transposes) */
      __m256i t[ROWS];
      g2_transpose8_epi32(bytes8, t);
#pragma GCC unroll 8
      for (int g = 0; g < ROWS; g++) g2_widen_lanes_epi8(t[g], &panel[b].w[2 * g], &panel[b].w[2 * g + 1]);
    } else {
      g2_transpose8_epi32(bytes8, panel[b].w);
    }
    g2_b32_scales_avx2(has_min(dtype), blocks, &panel[b].d, &panel[b].m);
  }
}

/* ---- the tiles ---- */

static ALWAYS_INLINE __m256i group_of(const unsigned char *tokens, size_t stride, size_t t, size_t at) {
  int32_t group;
  memcpy(&group, tokens + t * stride + at, sizeof group);
  return _mm256_set1_epi32(group);
}

/* Block b's integer sums I_b of nt tokens (at `tokens`, `stride` apart)
   with the panel block's 8 rows. */
static ALWAYS_INLINE void block_sums(g2_dtype dtype, size_t nt, const panel_block *block, size_t b,
                                     const unsigned char *tokens, size_t stride, const int32_t *const *sums,
                                     __m256i isum[TILE_TOKS]) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i pairs[TILE_TOKS];
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++) isum[t] = _mm256_setzero_si256();
  if (wide_values(dtype)) {
    /* unrolled by 2 only: fully unrolled, gcc 12 hoists every vpmaddwd
       above the adds and spills their results */
#pragma GCC unroll 2
    for (int i = 0; i < BLOCK / 2; i++) {
      __m256i values = _mm256_load_si256(&block->w[i]);
#pragma GCC unroll 6
      for (size_t t = 0; t < nt; t++)
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(values, group_of(tokens, stride, t, 2 * (b * BLOCK + 2 * i))));
    }
    return;
  }
  /* groups that add up in int16 before a vpmaddwd */
  const int run = five_bit_codes(dtype) ? 4 : 8;
#pragma GCC unroll 2
  for (int g0 = 0; g0 < 8; g0 += run) {
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) pairs[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int g = g0; g < g0 + run; g++) {
      __m256i codes = _mm256_load_si256(&block->w[g]);
#pragma GCC unroll 6
      for (size_t t = 0; t < nt; t++)
        pairs[t] = _mm256_add_epi16(pairs[t], _mm256_maddubs_epi16(codes, group_of(tokens, stride, t, b * BLOCK + 4 * g)));
    }
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(pairs[t], ones));
  }
  if (code_offset(dtype))
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++)
      isum[t] = _mm256_sub_epi32(isum[t],
                                 _mm256_set1_epi32(code_offset(dtype) * sums[t][b]));
}

/* Block b into the chains c of nt tokens (the definition's step 3); d[t]
   and sums[t]: token t's d_x and s (int8 tokens). */
static ALWAYS_INLINE void block_step(g2_dtype dtype, size_t nt, const panel_block *panel, size_t b,
                                     const unsigned char *tokens, size_t stride, const float *const *d,
                                     const int32_t *const *sums, __m256 c[TILE_TOKS]) {
  __m256i isum[TILE_TOKS];
  block_sums(dtype, nt, &panel[b], b, tokens, stride, sums, isum);
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++) {
    __m256 d_x = _mm256_set1_ps(d[t][b]);
    c[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(panel[b].d, d_x), c[t]);
    if (has_min(dtype))
      c[t] = _mm256_fmadd_ps(_mm256_set1_ps((float)sums[t][b]), _mm256_mul_ps(panel[b].m, d_x), c[t]);
  }
}

/* nt tokens (at `tokens`, a token's bytes apart) x the panel's 8 rows. */
static ALWAYS_INLINE void panel_tile(g2_dtype dtype, size_t nt, const panel_block *panel, size_t n_in,
                                     const unsigned char *tokens, const float *bias, float *out, size_t out_stride,
                                     size_t n_rows) {
  size_t n_blocks = n_in / BLOCK, stride = wide_values(dtype) ? token16_bytes(n_in) : g2_int8_token_bytes(n_in);
  /* chains[t][b % 2] (int8.h's even and odd blocks; q32_int8.h's one
     chain is [0]): indexed so, gcc keeps them in memory, and the integer
     loops keep the registers (in registers, with pairs of blocks, the
     tiles ran 5-7% slower) */
  __m256 chains[TILE_TOKS][2];
  const float *d[TILE_TOKS];
  const int32_t *sums[TILE_TOKS];
#pragma GCC unroll 6
  for (size_t t = 0; t < nt; t++) {
    chains[t][0] = chains[t][1] = _mm256_setzero_ps();
    const unsigned char *token = tokens + t * stride;
    d[t] = wide_values(dtype) ? (const float *)(const void *)(token + 2 * n_in) : g2_int8_token_at(token, n_in).d;
    sums[t] = wide_values(dtype) ? NULL : g2_int8_token_at(token, n_in).sums;
  }
  for (size_t b = 0; b < n_blocks; b++) {
    __m256 c[TILE_TOKS];
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) c[t] = chains[t][two_chains(dtype) ? b % 2 : 0];
    block_step(dtype, nt, panel, b, tokens, stride, d, sums, c);
#pragma GCC unroll 6
    for (size_t t = 0; t < nt; t++) chains[t][two_chains(dtype) ? b % 2 : 0] = c[t];
  }
  __m256 results[TILE_TOKS];
  for (size_t t = 0; t < nt; t++)
    results[t] = two_chains(dtype) ? _mm256_add_ps(chains[t][0], chains[t][1]) : chains[t][0];
  g2_panel_store(results, nt, bias, out, out_stride, n_rows);
}

G2_PANEL_TYPE_FNS(q8_0, G2_DT_Q8_0)
G2_PANEL_TYPE_FNS(q4_0, G2_DT_Q4_0)
G2_PANEL_TYPE_FNS(q4_1, G2_DT_Q4_1)
G2_PANEL_TYPE_FNS(q5_0, G2_DT_Q5_0)
G2_PANEL_TYPE_FNS(q5_1, G2_DT_Q5_1)
G2_PANEL_TYPE_FNS(iq4_nl, G2_DT_IQ4_NL)

void g2_panel_avx2_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                          float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  g2_dtype dtype = w->dtype;
  size_t n_in = (size_t)w->n_in;
  g2_panel_plan plan = {n_in / BLOCK * sizeof(panel_block),
                        wide_values(dtype) ? token16_bytes(n_in) : g2_int8_token_bytes(n_in),
                        TILE_TOKS,
                        wide_values(dtype) ? quantize_token16 : g2_int8_avx2_quantize_token,
                        dtype == G2_DT_Q8_0   ? q8_0_pack
                        : dtype == G2_DT_Q4_0 ? q4_0_pack
                        : dtype == G2_DT_Q4_1 ? q4_1_pack
                        : dtype == G2_DT_Q5_0 ? q5_0_pack
                        : dtype == G2_DT_Q5_1 ? q5_1_pack
                                              : iq4_nl_pack,
                        dtype == G2_DT_Q8_0   ? q8_0_tile
                        : dtype == G2_DT_Q4_0 ? q4_0_tile
                        : dtype == G2_DT_Q4_1 ? q4_1_tile
                        : dtype == G2_DT_Q5_0 ? q5_0_tile
                        : dtype == G2_DT_Q5_1 ? q5_1_tile
                                              : iq4_nl_tile};
  g2_panel_run(&plan, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

_Static_assert(PANEL_MAX_BLOCKS * sizeof(panel_block) + TILE_TOKS * ((PANEL_MAX_BLOCKS * BLOCK * 2 + PANEL_MAX_BLOCKS * 4 + 63) / 64 * 64) <=
                   G2_KERNEL_WORK_BYTES,
               "panel_avx2.c: a panel and a tile of tokens fit the work area");

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_panel_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
