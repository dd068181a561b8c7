/* Batches of the K types (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) on 8-bit
   activations in AVX2 integer code (the "avx2int8" table), to the bits of
   kquant_int8.h's definition; kquant_int8_avx2.c hands them here.

   8 rows are unpacked once per block of tokens (kquant_avx2.h) into a
   panel whose 32-bit lane r holds row r's values, so a broadcast group of
   a token's activations meets 8 rows in one instruction and the sums land
   in row lanes with no horizontal reduction (as panel_avx2.c does for the
   32-value types):
     Q4_K, Q5_K, Q6_K, Q2_K, Q3_K: vector j of a super-block holds row r's
       unsigned u 4j .. 4j + 3 as bytes, which meet 4 activations by
       vpmaddubsw. A pair is at most 2 * u_max * 127, so the 4 vectors of a
       group of 16 add up in int16 (u <= 31: at most 31496) before one
       vpmaddwd by the group's scale, duplicated in both halves of the
       lane; Q6_K (u <= 63, 16002 a pair) takes that vpmaddwd every 2
       vectors. The mins (Q4_K, Q5_K, Q2_K: M) and the offsets (Q6_K:
       32 sc_g, Q3_K: 4 sc_g, taken off S) meet the token's per-16 sums s_g
       by one more vpmaddwd per pair of groups.
     IQ4_XS (signed grid values, which would saturate vpmaddubsw): each
       vector holds a pair of row r's values times their group's scale as
       int16 (|sc_k v| <= 32 * 127 = 4064), which meets the same pair of
       activations (int16 too) by vpmaddwd, so S needs no other
       multiplication; the pairs are the values 0 and 2, 1 and 3 of each
       4 (transpose_avx2.h's widening in the lanes).
   S and M are exact in int32, so only the float chain is ordered, and it
   is the definition's. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kquant_avx2.h"
#include "kernels/transpose_avx2.h"
#include "kernels/kquant_int8.h"
#include "kernels/panel_run.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  ROWS = G2_PANEL_ROWS,
  GROUPS = G2_QK_K / G2_KQ8_GROUP,        /* 16 */
  VECTORS = G2_QK_K / 4,                  /* 4-value groups (vectors) a super-block */
  PANEL_MAX_BLOCKS = G2_KQ8_PANEL_MAX_IN / G2_QK_K,
  TILE_TOKS = 4
};

/* One super-block of 8 rows. */
typedef struct panel_block {
  __m256i u[VECTORS];         /* vector j, lane r: row r's u 4j .. 4j + 3 */
  __m256i scales[GROUPS];     /* group g, lane r: row r's sc_g in both int16 halves */
  __m256i weights[GROUPS / 2]; /* pair p, lane r: row r's (w_2p, w_2p+1): M's m_g, or the offset times sc_g */
  __m256 d, dmin;             /* lane r: row r's d and dmin */
} panel_block;

/* IQ4_XS: one super-block of 8 rows. */
typedef struct wide_block {
  /* vector 16k + 2g + e, lane r: row r's sc_k times its values 32k + 4g + e
     and 32k + 4g + e + 2 (int16; g2_widen_lanes_epi8's pairs) */
  __m256i v[G2_QK_K / 2];
  __m256 d;               /* lane r: row r's d */
} wide_block;

static ALWAYS_INLINE int wide_values(g2_dtype dtype) { return dtype == G2_DT_IQ4_XS; }

/* IQ4_XS's tokens: q[n_in] as int16 in g2_pair_order_epi16's order, then
   d[n_in / 256]. */
static size_t token16_bytes(size_t n_in) { return (2 * n_in + n_in / G2_QK_K * sizeof(float) + 63) / 64 * 64; }

static void quantize_token16(const float *x, size_t n_in, unsigned char *base) {
  int16_t *q = (int16_t *)(void *)base;
  float *d = (float *)(void *)(base + 2 * n_in);
  for (size_t b = 0; b < n_in / G2_QK_K; b++) {
    int8_t q8[G2_QK_K];
    int16_t sums[GROUPS]; /* unused: IQ4_XS has neither mins nor offsets */
    g2_kq8_quantize_row_avx2(x + b * G2_QK_K, G2_QK_K, q8, &d[b], sums);
    for (size_t i = 0; i < G2_QK_K; i += 16)
      _mm256_storeu_si256(
          (__m256i *)(void *)(q + b * G2_QK_K + i),
          g2_pair_order_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(q8 + i)))));
  }
}

int g2_kq8_panel_takes(const g2_matrix *w, size_t n_tok) {
  g2_dtype t = w->dtype;
  return (t == G2_DT_Q4_K || t == G2_DT_Q5_K || t == G2_DT_Q6_K || t == G2_DT_Q2_K || t == G2_DT_Q3_K ||
          t == G2_DT_IQ4_XS) &&
         n_tok >= G2_KQ8_PANEL_MIN_TOKS && g2_kq8_supported(w) && w->n_in <= G2_KQ8_PANEL_MAX_IN;
}

/* int16 x into both halves of its 32-bit lane. */
static ALWAYS_INLINE __m256i twice(__m128i x) {
  __m256i v = _mm256_cvtepu16_epi32(x);
  return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

/* Rows j0 .. j0 + n_rows of w into the panel (missing rows repeat the
   first; their lanes are never stored). */
static ALWAYS_INLINE void pack_narrow(g2_dtype dtype, const g2_matrix *w, size_t j0, size_t n_rows,
                                      panel_block *panel) {
  size_t n_blocks = (size_t)w->n_in / G2_QK_K, block_bytes = g2_kq8_block_bytes(dtype);
  size_t row_bytes = n_blocks * block_bytes;
  const unsigned char *rows[ROWS];
  for (size_t r = 0; r < ROWS; r++) rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
  for (size_t b = 0; b < n_blocks; b++) {
    g2_k_unpacked ub[ROWS];
    __m256i in[ROWS], low[ROWS], high[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
      const unsigned char *block = rows[r] + b * block_bytes;
      for (size_t at = 0; at < block_bytes; at += 64) __builtin_prefetch(block + at + G2_PREFETCH_BYTES, 0, 2);
      g2_k_unpack_block_avx2(dtype, block, &ub[r]);
    }
    panel_block *p = &panel[b];
    for (int c = 0; c < VECTORS / 8; c++) {
      for (size_t r = 0; r < ROWS; r++) in[r] = _mm256_load_si256((const __m256i *)(const void *)(ub[r].u + 32 * c));
      g2_transpose8_epi32(in, p->u + 8 * c);
    }
    float d[ROWS], dmin[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
      __m256i scales = _mm256_loadu_si256((const __m256i *)(const void *)ub[r].scales);
      low[r] = twice(_mm256_castsi256_si128(scales));
      high[r] = twice(_mm256_extracti128_si256(scales, 1));
      /* int16 pairs (w_2p, w_2p+1) are the vector's dwords */
      in[r] = g2_k_offset_shift(dtype) ? _mm256_slli_epi16(scales, g2_k_offset_shift(dtype))
                                       : _mm256_loadu_si256((const __m256i *)(const void *)ub[r].mins);
      d[r] = ub[r].d;
      dmin[r] = ub[r].dmin;
    }
    g2_transpose8_epi32(low, p->scales);
    g2_transpose8_epi32(high, p->scales + 8);
    g2_transpose8_epi32(in, p->weights);
    p->d = _mm256_loadu_ps(d);
    p->dmin = _mm256_loadu_ps(dmin);
  }
}

/* pack_narrow for IQ4_XS: its rows into the int16 panel. */
static ALWAYS_INLINE void pack_wide(const g2_matrix *w, size_t j0, size_t n_rows, wide_block *panel) {
  size_t n_blocks = (size_t)w->n_in / G2_QK_K, block_bytes = g2_kq8_block_bytes(G2_DT_IQ4_XS);
  size_t row_bytes = n_blocks * block_bytes;
  const unsigned char *rows[ROWS];
  for (size_t r = 0; r < ROWS; r++) rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
  for (size_t b = 0; b < n_blocks; b++) {
    /* values[k][r]: row r's 32-group k; group_scales[k] and lanes[g] come
       out of 8 x 8 transposes (8 groups of 32, 8 dwords a vector) */
    __m256i values[G2_QK_K / 32][ROWS], scales[ROWS], mins, group_scales[8], lanes[8];
    float d[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
      const unsigned char *block = rows[r] + b * block_bytes;
      for (size_t at = 0; at < block_bytes; at += 64) __builtin_prefetch(block + at + G2_PREFETCH_BYTES, 0, 2);
      __m256i row_values[G2_QK_K / 32];
      g2_k_unpack_small_avx2(G2_DT_IQ4_XS, block, row_values, &scales[r], &mins);
      for (int k = 0; k < G2_QK_K / 32; k++) values[k][r] = row_values[k];
      d[r] = g2_k_half_at(block + g2_kq8_d_offset(G2_DT_IQ4_XS));
    }
    /* words 2k and 2k + 1 of a row's scales both hold sc_k: lane r of
       group_scales[k] is row r's sc_k in both halves */
    g2_transpose8_epi32(scales, group_scales);
    for (int k = 0; k < G2_QK_K / 32; k++) {
      /* lane r of lanes[g]: row r's values 32k + 4g .. + 3, widened in place */
      g2_transpose8_epi32(values[k], lanes);
      for (int g = 0; g < ROWS; g++) {
        __m256i even, odd;
        g2_widen_lanes_epi8(lanes[g], &even, &odd);
        panel[b].v[16 * k + 2 * g] = _mm256_mullo_epi16(even, group_scales[k]);
        panel[b].v[16 * k + 2 * g + 1] = _mm256_mullo_epi16(odd, group_scales[k]);
      }
    }
    panel[b].d = _mm256_loadu_ps(d);
  }
}

static ALWAYS_INLINE void pack_panel(g2_dtype dtype, const g2_matrix *w, size_t j0, size_t n_rows, void *panel) {
  if (wide_values(dtype))
    pack_wide(w, j0, n_rows, panel);
  else
    pack_narrow(dtype, w, j0, n_rows, panel);
}

static ALWAYS_INLINE __m256i broadcast32(const void *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

/* Super-block b into the chains c of nt tokens: S and M exactly, then
   the definition's float steps. */
static ALWAYS_INLINE void block_step(g2_dtype dtype, size_t nt, const panel_block *p, size_t b,
                                     const g2_kq8_token *x, __m256 c[TILE_TOKS]) {
  __m256i s[TILE_TOKS], acc[TILE_TOKS];
  /* int16 adds before a vpmaddwd: Q6_K's pairs reach 16002 */
  const int run = dtype == G2_DT_Q6_K ? 2 : 4;
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) s[t] = _mm256_setzero_si256();
  for (int g = 0; g < GROUPS; g++) {
    __m256i scale = _mm256_load_si256(&p->scales[g]);
#pragma GCC unroll 2
    for (int j0 = 4 * g; j0 < 4 * g + 4; j0 += run) {
#pragma GCC unroll 4
      for (size_t t = 0; t < nt; t++) acc[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int j = j0; j < j0 + run; j++) {
        __m256i u = _mm256_load_si256(&p->u[j]);
#pragma GCC unroll 4
        for (size_t t = 0; t < nt; t++)
          acc[t] = _mm256_add_epi16(acc[t], _mm256_maddubs_epi16(u, broadcast32(x[t].q + b * G2_QK_K + 4 * j)));
      }
#pragma GCC unroll 4
      for (size_t t = 0; t < nt; t++) s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(acc[t], scale));
    }
  }
  /* the per-16 sums against the weights: M, or S's offset term */
  __m256i m[TILE_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) m[t] = _mm256_setzero_si256();
  if (g2_kq8_has_mins(dtype) || g2_k_offset_shift(dtype))
#pragma GCC unroll 8
    for (int pair = 0; pair < GROUPS / 2; pair++) {
      __m256i weights = _mm256_load_si256(&p->weights[pair]);
#pragma GCC unroll 4
      for (size_t t = 0; t < nt; t++)
        m[t] = _mm256_add_epi32(m[t], _mm256_madd_epi16(weights, broadcast32(x[t].sums + b * GROUPS + 2 * pair)));
    }
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) {
    __m256 d_xv = _mm256_set1_ps(x[t].d[b]);
    if (g2_k_offset_shift(dtype)) s[t] = _mm256_sub_epi32(s[t], m[t]);
    c[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(p->d, d_xv), c[t]);
    if (g2_kq8_has_mins(dtype))
      c[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_setzero_si256(), m[t])),
                             _mm256_mul_ps(p->dmin, d_xv), c[t]);
  }
}

/* IQ4_XS's super-block b into the chains c of nt tokens (at `tokens`,
   `stride` apart): S by vpmaddwd alone, then the definition's float step. */
static ALWAYS_INLINE void wide_step(size_t nt, const wide_block *p, size_t b, const unsigned char *tokens,
                                    size_t stride, size_t n_in, __m256 c[TILE_TOKS]) {
  __m256i s[TILE_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) s[t] = _mm256_setzero_si256();
  /* unrolled by 2 only, as panel_avx2.c's int16 panel (gcc 12 spills the
     vpmaddwd results hoisted above the adds otherwise) */
#pragma GCC unroll 2
  for (int i = 0; i < G2_QK_K / 2; i++) {
    __m256i v = _mm256_load_si256(&p->v[i]);
#pragma GCC unroll 4
    for (size_t t = 0; t < nt; t++)
      s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(v, broadcast32(tokens + t * stride + 2 * (b * G2_QK_K + 2 * i))));
  }
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) {
    float d_x;
    memcpy(&d_x, tokens + t * stride + 2 * n_in + b * sizeof(float), sizeof d_x);
    c[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(p->d, _mm256_set1_ps(d_x)), c[t]);
  }
}

/* nt tokens x the panel's 8 rows. */
static ALWAYS_INLINE void panel_tile(g2_dtype dtype, size_t nt, const void *panel, size_t n_in,
                                     const unsigned char *tokens, const float *bias, float *out, size_t out_stride,
                                     size_t n_rows) {
  __m256 c[TILE_TOKS];
  if (wide_values(dtype)) {
#pragma GCC unroll 4
    for (size_t t = 0; t < nt; t++) c[t] = _mm256_setzero_ps();
    size_t stride = token16_bytes(n_in);
    for (size_t b = 0; b < n_in / G2_QK_K; b++) wide_step(nt, (const wide_block *)panel + b, b, tokens, stride, n_in, c);
    g2_panel_store(c, nt, bias, out, out_stride, n_rows);
    return;
  }
  g2_kq8_token x[TILE_TOKS];
#pragma GCC unroll 4
  for (size_t t = 0; t < nt; t++) {
    c[t] = _mm256_setzero_ps();
    x[t] = g2_kq8_token_at(tokens + t * g2_kq8_token_bytes(n_in), n_in);
  }
  for (size_t b = 0; b < n_in / G2_QK_K; b++) block_step(dtype, nt, (const panel_block *)panel + b, b, x, c);
  g2_panel_store(c, nt, bias, out, out_stride, n_rows);
}

G2_PANEL_TYPE_FNS(q4_k, G2_DT_Q4_K)
G2_PANEL_TYPE_FNS(q5_k, G2_DT_Q5_K)
G2_PANEL_TYPE_FNS(q6_k, G2_DT_Q6_K)
G2_PANEL_TYPE_FNS(q2_k, G2_DT_Q2_K)
G2_PANEL_TYPE_FNS(q3_k, G2_DT_Q3_K)
G2_PANEL_TYPE_FNS(iq4_xs, G2_DT_IQ4_XS)

void g2_kq8_panel_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                         float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  g2_dtype dtype = w->dtype;
  size_t n_in = (size_t)w->n_in;
  int wide = wide_values(dtype);
  g2_panel_plan plan = {n_in / G2_QK_K * (wide ? sizeof(wide_block) : sizeof(panel_block)),
                        wide ? token16_bytes(n_in) : g2_kq8_token_bytes(n_in),
                        TILE_TOKS,
                        wide ? quantize_token16 : g2_kq8_quantize_token_avx2,
                        dtype == G2_DT_Q4_K   ? q4_k_pack
                        : dtype == G2_DT_Q5_K ? q5_k_pack
                        : dtype == G2_DT_Q6_K ? q6_k_pack
                        : dtype == G2_DT_Q2_K ? q2_k_pack
                        : dtype == G2_DT_Q3_K ? q3_k_pack
                                              : iq4_xs_pack,
                        dtype == G2_DT_Q4_K   ? q4_k_tile
                        : dtype == G2_DT_Q5_K ? q5_k_tile
                        : dtype == G2_DT_Q6_K ? q6_k_tile
                        : dtype == G2_DT_Q2_K ? q2_k_tile
                        : dtype == G2_DT_Q3_K ? q3_k_tile
                                              : iq4_xs_tile};
  g2_panel_run(&plan, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

_Static_assert(PANEL_MAX_BLOCKS * sizeof(panel_block) +
                       TILE_TOKS * ((G2_KQ8_PANEL_MAX_IN * 9 / 8 + PANEL_MAX_BLOCKS * 4 + 63) / 64 * 64) <=
                   G2_KERNEL_WORK_BYTES,
               "kquant_panel_avx2.c: a panel and a tile of tokens fit the work area");
_Static_assert(PANEL_MAX_BLOCKS * sizeof(wide_block) +
                       TILE_TOKS * ((G2_KQ8_PANEL_MAX_IN * 2 + PANEL_MAX_BLOCKS * 4 + 63) / 64 * 64) <=
                   G2_KERNEL_WORK_BYTES,
               "kquant_panel_avx2.c: IQ4_XS's panel and a tile of its tokens fit the work area");

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_kquant_panel_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
