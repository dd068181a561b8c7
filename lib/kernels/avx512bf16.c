/* The "avx512bf16" table: the avx512 table, except that BF16 weights (the
   Hugging Face KN layout and the NK one of converted models) are multiplied
   with AVX512-BF16 vdpbf16ps, two products per lane and instruction. That rounds the activations to
   bfloat16 (8 significant bits), so a product carries a relative error of
   up to 2^-9: results are further from the oracle than the FP32 tables'
   (see docs/kernels.md). Never chosen by default; GPT2_ISA=avx512bf16
   selects it on a CPU that has AVX512-BF16.

   Determinism: an output element is one chain of vdpbf16ps over k pairs
   (2k, 2k+1) in order, from zero, with the bias added last, in the batch and
   the one-token paths alike (NK: 16 lane chains, then a fixed-order sum). */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  TILE_TOKS = 6, /* 6 tokens x 4 vectors: 24 zmm accumulators */
  TILE_VECS = 4,
  PANEL_COLS = 16 * TILE_VECS,
  PANEL_PAIRS = 128, /* k pairs per packed panel: 128 x 64 x 4 bytes = 32 KiB */
  DECODE_COLS = 2048,
  X_PAIRS = 256, /* k pairs of activations converted at a time */
  NK_ROWS = 4,    /* NK tile: 4 rows x 6 tokens */
  /* NK: activations of a block of tokens as bf16 pairs (64 KiB) */
  NK_X_PAIRS = 16384
};

static ALWAYS_INLINE __mmask16 mask_of(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

/* Weights (row0[c], row1[c]) for 16 columns (n valid) as bf16 pairs: row0
   in the low half of each 32-bit lane. row1 NULL: the k pair's second row is
   past the end (odd n_in), zeros. */
static ALWAYS_INLINE __m512i weight_pairs(const uint16_t *row0, const uint16_t *row1, size_t n) {
  __mmask16 mask = mask_of(n);
  __m512i low = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row0));
  if (!row1) return low;
  __m512i high = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row1));
  return _mm512_or_si512(low, _mm512_slli_epi32(high, 16));
}

/* x[k0 .. k0 + 2 n_pairs) rounded to bf16 pairs (zero past n_in). */
static void activation_pairs(const float *x, size_t k0, size_t n_pairs, size_t n_in, uint32_t *pairs) {
  for (size_t i = 0; i < n_pairs; i += 16) {
    size_t k = k0 + 2 * i;
    size_t left = k < n_in ? n_in - k : 0;
    __m512 lo = _mm512_maskz_loadu_ps(mask_of(left), x + k);
    __m512 hi = _mm512_maskz_loadu_ps(mask_of(left > 16 ? left - 16 : 0), x + k + 16);
    __m512i converted = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    size_t count = n_pairs - i < 16 ? n_pairs - i : 16;
    _mm512_mask_storeu_epi32(pairs + i, mask_of(count), converted);
  }
}

static ALWAYS_INLINE __m512 dot_pairs(__m512 acc, __m512i x_pair, __m512i w_pairs) {
  return _mm512_dpbf16_ps(acc, (__m512bh)x_pair, (__m512bh)w_pairs);
}

/* Pairs kk0 .. kk0 + n_pairs of rows, columns j0 .. j0 + n_cols, packed
   PANEL_COLS lanes a pair, zero-padded. */
static void pack_panel(const g2_matrix *w, size_t kk0, size_t n_pairs, size_t j0, size_t n_cols,
                       uint32_t *panel) {
  const uint16_t *data = w->data;
  size_t n_out = (size_t)w->n_out, n_in = (size_t)w->n_in;
  for (size_t kk = 0; kk < n_pairs; kk++) {
    size_t k = 2 * (kk0 + kk);
    const uint16_t *row0 = data + k * n_out + j0;
    const uint16_t *row1 = k + 1 < n_in ? row0 + n_out : NULL;
    for (size_t c = 0; c < PANEL_COLS; c += 16) {
      size_t valid = c < n_cols ? n_cols - c : 0;
      __m512i pairs = valid ? weight_pairs(row0 + c, row1 ? row1 + c : NULL, valid) : _mm512_setzero_si512();
      _mm512_storeu_si512(panel + kk * PANEL_COLS + c, pairs);
    }
  }
}

static ALWAYS_INLINE void tile(size_t nt, const uint32_t *panel, size_t n_pairs, const uint32_t *x_pairs,
                               size_t x_pairs_stride, float *out, size_t out_stride, size_t n_cols, int first,
                               const float *bias) {
  __m512 acc[TILE_TOKS][TILE_VECS];
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t v = 0; v < TILE_VECS; v++) {
      size_t col = v * 16;
      acc[t][v] = first || col >= n_cols ? _mm512_setzero_ps()
                                         : _mm512_maskz_loadu_ps(mask_of(n_cols - col), out + t * out_stride + col);
    }
  for (size_t kk = 0; kk < n_pairs; kk++) {
    __m512i weights[TILE_VECS];
#pragma GCC unroll 8
    for (size_t v = 0; v < TILE_VECS; v++) weights[v] = _mm512_loadu_si512(panel + kk * PANEL_COLS + v * 16);
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++) {
      __m512i x_pair = _mm512_set1_epi32((int)x_pairs[t * x_pairs_stride + kk]);
#pragma GCC unroll 8
      for (size_t v = 0; v < TILE_VECS; v++) acc[t][v] = dot_pairs(acc[t][v], x_pair, weights[v]);
    }
  }
  for (size_t t = 0; t < nt; t++)
    for (size_t v = 0; v < TILE_VECS; v++) {
      size_t col = v * 16;
      if (col >= n_cols) break;
      __mmask16 mask = mask_of(n_cols - col);
      __m512 sum = bias ? _mm512_add_ps(acc[t][v], _mm512_maskz_loadu_ps(mask, bias + col)) : acc[t][v];
      _mm512_mask_storeu_ps(out + t * out_stride + col, mask, sum);
    }
}

static void tile_any(size_t nt, const uint32_t *panel, size_t n_pairs, const uint32_t *x_pairs,
                     size_t x_pairs_stride, float *out, size_t out_stride, size_t n_cols, int first,
                     const float *bias) {
  switch (nt) {
    case 1: tile(1, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
    case 2: tile(2, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
    case 3: tile(3, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
    case 4: tile(4, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
    case 5: tile(5, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
    default: tile(6, panel, n_pairs, x_pairs, x_pairs_stride, out, out_stride, n_cols, first, bias); break;
  }
}

static void matmul_batch(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                         float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  size_t n_in = (size_t)w->n_in, total_pairs = (n_in + 1) / 2;
  _Alignas(64) uint32_t panel[PANEL_PAIRS * PANEL_COLS];
  _Alignas(64) uint32_t x_pairs[TILE_TOKS * PANEL_PAIRS];
  for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_COLS) {
    size_t n_cols = col_end - j0 < PANEL_COLS ? col_end - j0 : PANEL_COLS;
    for (size_t kk0 = 0; kk0 < total_pairs; kk0 += PANEL_PAIRS) {
      size_t n_pairs = total_pairs - kk0 < PANEL_PAIRS ? total_pairs - kk0 : PANEL_PAIRS;
      int last = kk0 + n_pairs == total_pairs;
      pack_panel(w, kk0, n_pairs, j0, n_cols, panel);
      for (size_t t = 0; t < n_tok; t += TILE_TOKS) {
        size_t nt = n_tok - t < TILE_TOKS ? n_tok - t : TILE_TOKS;
        for (size_t i = 0; i < nt; i++)
          activation_pairs(x + (t + i) * x_stride, 2 * kk0, n_pairs, n_in, x_pairs + i * PANEL_PAIRS);
        tile_any(nt, panel, n_pairs, x_pairs, PANEL_PAIRS, out + t * out_stride + j0, out_stride, n_cols,
                 kk0 == 0, last && bias ? bias + j0 : NULL);
      }
    }
  }
}

/* One token: each pair of weight rows streams through once into L1 sums. */
static void matmul_decode(const g2_matrix *w, const float *x, const float *bias, float *out, size_t col_begin,
                          size_t col_end) {
  size_t n_in = (size_t)w->n_in, n_out = (size_t)w->n_out, total_pairs = (n_in + 1) / 2;
  const uint16_t *data = w->data;
  _Alignas(64) float acc[DECODE_COLS];
  _Alignas(64) uint32_t x_pairs[X_PAIRS];
  for (size_t j0 = col_begin; j0 < col_end; j0 += DECODE_COLS) {
    size_t n_cols = col_end - j0 < DECODE_COLS ? col_end - j0 : DECODE_COLS;
    memset(acc, 0, n_cols * sizeof(float));
    for (size_t kk0 = 0; kk0 < total_pairs; kk0 += X_PAIRS) {
      size_t n_pairs = total_pairs - kk0 < X_PAIRS ? total_pairs - kk0 : X_PAIRS;
      activation_pairs(x, 2 * kk0, n_pairs, n_in, x_pairs);
      size_t kk = 0;
      /* four pairs (eight rows) per pass over the sums, while all exist */
      for (; kk + 4 <= n_pairs && 2 * (kk0 + kk + 4) <= n_in; kk += 4) {
        const uint16_t *rows = data + 2 * (kk0 + kk) * n_out + j0;
        __m512i x_pair[4];
        for (size_t i = 0; i < 4; i++) x_pair[i] = _mm512_set1_epi32((int)x_pairs[kk + i]);
        size_t c = 0;
        for (; c + 16 <= n_cols; c += 16) {
          __m512 sum = _mm512_loadu_ps(acc + c);
#pragma GCC unroll 4
          for (size_t i = 0; i < 4; i++) {
            const uint16_t *row0 = rows + 2 * i * n_out + c;
            sum = dot_pairs(sum, x_pair[i], weight_pairs(row0, row0 + n_out, 16));
          }
          _mm512_storeu_ps(acc + c, sum);
        }
        if (c < n_cols) {
          __mmask16 mask = mask_of(n_cols - c);
          __m512 sum = _mm512_maskz_loadu_ps(mask, acc + c);
          for (size_t i = 0; i < 4; i++) {
            const uint16_t *row0 = rows + 2 * i * n_out + c;
            sum = dot_pairs(sum, x_pair[i], weight_pairs(row0, row0 + n_out, n_cols - c));
          }
          _mm512_mask_storeu_ps(acc + c, mask, sum);
        }
      }
      for (; kk < n_pairs; kk++) {
        size_t k = 2 * (kk0 + kk);
        const uint16_t *row0 = data + k * n_out + j0;
        const uint16_t *row1 = k + 1 < n_in ? row0 + n_out : NULL;
        __m512i x_pair = _mm512_set1_epi32((int)x_pairs[kk]);
        for (size_t c = 0; c < n_cols; c += 16) {
          size_t valid = n_cols - c;
          __m512i pairs = weight_pairs(row0 + c, row1 ? row1 + c : NULL, valid);
          __mmask16 mask = mask_of(valid);
          _mm512_mask_storeu_ps(acc + c, mask, dot_pairs(_mm512_maskz_loadu_ps(mask, acc + c), x_pair, pairs));
        }
      }
    }
    for (size_t c = 0; c < n_cols; c++) out[j0 + c] = acc[c] + (bias ? bias[j0 + c] : 0.0f);
  }
}

/* ---- NK: rows are runs of k pairs already ---- */

/* Fixed-order horizontal sum (the same tree as the avx512 table's). */
static ALWAYS_INLINE float sum_lanes(__m512 v) {
  __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/* nt tokens x NK_ROWS rows: sums[t][r] = chain of vdpbf16ps over 32 k at a
   time (16 lane sums of pairs), then sum_lanes. x_pairs rows are padded with
   zeros to a multiple of 32 k. */
static ALWAYS_INLINE void nk_tile(size_t nt, const uint16_t *const *rows, size_t n_in, const uint32_t *x_pairs,
                                  size_t x_pairs_stride, float sums[TILE_TOKS][NK_ROWS]) {
  __m512 acc[TILE_TOKS][NK_ROWS];
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t r = 0; r < NK_ROWS; r++) acc[t][r] = _mm512_setzero_ps();
  for (size_t k = 0; k < n_in; k += 32) {
    __mmask32 mask = n_in - k >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (n_in - k)) - 1);
    __m512i weights[NK_ROWS];
#pragma GCC unroll 8
    for (size_t r = 0; r < NK_ROWS; r++) weights[r] = _mm512_maskz_loadu_epi16(mask, rows[r] + k);
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++) {
      __m512i xt = _mm512_loadu_si512(x_pairs + t * x_pairs_stride + k / 2);
#pragma GCC unroll 8
      for (size_t r = 0; r < NK_ROWS; r++) acc[t][r] = dot_pairs(acc[t][r], xt, weights[r]);
    }
  }
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t r = 0; r < NK_ROWS; r++) sums[t][r] = sum_lanes(acc[t][r]);
}

static void nk_tile_any(size_t nt, const uint16_t *const *rows, size_t n_in, const uint32_t *x_pairs,
                        size_t x_pairs_stride, float sums[TILE_TOKS][NK_ROWS]) {
  switch (nt) {
    case 1: nk_tile(1, rows, n_in, x_pairs, x_pairs_stride, sums); break;
    case 2: nk_tile(2, rows, n_in, x_pairs, x_pairs_stride, sums); break;
    case 3: nk_tile(3, rows, n_in, x_pairs, x_pairs_stride, sums); break;
    case 4: nk_tile(4, rows, n_in, x_pairs, x_pairs_stride, sums); break;
    case 5: nk_tile(5, rows, n_in, x_pairs, x_pairs_stride, sums); break;
    default: nk_tile(6, rows, n_in, x_pairs, x_pairs_stride, sums); break;
  }
}

static void matmul_nk(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                      float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  size_t n_in = (size_t)w->n_in;
  size_t padded_pairs = (n_in + 31) / 32 * 16; /* x pairs per token, zero-padded to 32 k */
  size_t token_block = NK_X_PAIRS / padded_pairs / TILE_TOKS * TILE_TOKS;
  _Alignas(64) uint32_t x_pairs[NK_X_PAIRS];
  float sums[TILE_TOKS][NK_ROWS];
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    for (size_t t = t0; t < t_end; t++) {
      uint32_t *pairs = x_pairs + (t - t0) * padded_pairs;
      activation_pairs(x + t * x_stride, 0, padded_pairs, n_in, pairs);
    }
    for (size_t j0 = col_begin; j0 < col_end; j0 += NK_ROWS) {
      size_t n_rows = col_end - j0 < NK_ROWS ? col_end - j0 : NK_ROWS;
      const uint16_t *rows[NK_ROWS];
      for (size_t r = 0; r < NK_ROWS; r++) /* missing rows repeat the first */
        rows[r] = (const uint16_t *)w->data + (j0 + (r < n_rows ? r : 0)) * n_in;
      for (size_t t = t0; t < t_end; t += TILE_TOKS) {
        size_t nt = t_end - t < TILE_TOKS ? t_end - t : TILE_TOKS;
        nk_tile_any(nt, rows, n_in, x_pairs + (t - t0) * padded_pairs, padded_pairs, sums);
        for (size_t i = 0; i < nt; i++)
          for (size_t r = 0; r < n_rows; r++)
            out[(t + i) * out_stride + j0 + r] = sums[i][r] + (bias ? bias[j0 + r] : 0.0f);
      }
    }
  }
}

static void matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                   float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  int bf16 = w->dtype == G2_DT_BF16 && w->n_in > 0;
  if (bf16 && w->layout == G2_LAYOUT_KN) {
    if (n_tok == 1)
      matmul_decode(w, x, bias, out, col_begin, col_end);
    else if (n_tok > 1)
      matmul_batch(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end);
  } else if (bf16 && ((size_t)w->n_in + 31) / 32 * 16 * TILE_TOKS <= NK_X_PAIRS) { /* a token tile fits */
    matmul_nk(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end);
  } else {
    g2_kernels_avx512.matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end);
  }
}

/* Everything but matmul is the avx512 table's; it is read at call time
   because a constant initializer cannot copy another object's fields. */
static void layernorm(const float *x, size_t n, const float *gamma, const float *beta, float eps, float *out) {
  g2_kernels_avx512.layernorm(x, n, gamma, beta, eps, out);
}
static void gelu(float *x, size_t n) { g2_kernels_avx512.gelu(x, n); }
static void add(float *dst, const float *src, size_t n) { g2_kernels_avx512.add(dst, src, n); }
static void attention(const float *q, size_t q_stride, size_t n_q, const void *k, const void *v,
                      uint32_t kv_type, size_t n_kv, size_t head_dim, size_t kv_stride, float scale,
                      float *scratch, float *out, size_t out_stride) {
  g2_kernels_avx512.attention(q, q_stride, n_q, k, v, kv_type, n_kv, head_dim, kv_stride, scale, scratch,
                              out, out_stride);
}
static void get_row(const g2_matrix *w, int64_t row, float *out) { g2_kernels_avx512.get_row(w, row, out); }

const g2_kernels g2_kernels_avx512bf16 = {
    .name = "avx512bf16",
    .matmul = matmul,
    .layernorm = layernorm,
    .gelu = gelu,
    .add = add,
    .attention = attention,
    .get_row = get_row,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_avx512bf16_not_built; /* ISO C wants a declaration in every file */
#endif
