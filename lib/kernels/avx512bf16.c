/* BF16-weight products of the "avx512bf16" table (the Hugging Face KN
   layout, and the NK one of GGUF files and converted models), by
   AVX512-BF16 vdpbf16ps, two products per lane and instruction. That rounds
   the activations to bfloat16 (8 significant bits), so a product carries a
   relative error of up to 2^-9: results are further from the FP32 oracle
   than the FP32 tables' (see docs/kernels.md). kernels/bf16.h defines the
   values exactly and bf16_ref.c is their scalar oracle. The table's other
   products and kernels are avx512vnni's and avx512's (dispatch.c).

   Determinism: an output element is one vector lane's chain of vdpbf16ps
   over the k pairs (2k, 2k+1) in order, from zero, with the bias added last,
   in both layouts and in the batch and one-token paths alike. A partial sum
   parked in `out` between blocks of k is stored exactly. */
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
  TILE_TOKS = 6, /* register tile: 6 tokens x 4 vectors, 24 zmm accumulators */
  TILE_VECS = 4,
  PANEL_COLS = 16 * TILE_VECS,
  PANEL_PAIRS = 64, /* k pairs per block: a packed panel is 64 x 64 x 4 bytes = 16 KiB */
  /* Tokens per batch block, at most: their activations of one k block as
     bf16 pairs (66 KiB), converted once per matrix product. Each panel is
     packed once per block and swept by all of its tokens, so the weights
     are read once per block (measured as fast as 96 or 128 tokens with 128
     pairs, within this machine's noise, with fewer passes over the weights). */
  BLOCK_TOKS = 264, /* a multiple of TILE_TOKS; 512 tokens make two blocks */
  /* One token, or a small NK batch (at most FEW_TOKS tokens; more go to
     matmul_batch): the weights stream through once for all of them. */
  FEW_TOKS = 16,
  FEW_GROUP = 8,      /* NK: tokens whose chains stay in registers */
  DECODE_COLS = 2048, /* one token, KN: column sums kept in L1 */
  DECODE_PAIRS = 1024 /* activation pairs converted at a time, per token */
};

/* The buffers in the work area (kernels.h). */
typedef union bf16_work {
  struct {
    uint32_t panel[PANEL_PAIRS * PANEL_COLS];     /* weights as pairs */
    uint32_t x_pairs[BLOCK_TOKS * PANEL_PAIRS]; /* a block's activations as pairs */
  } batch;
  struct {
    float sums[DECODE_COLS]; /* KN column sums */
    uint32_t x_pairs[FEW_TOKS * DECODE_PAIRS];
  } decode;
} bf16_work;
_Static_assert(sizeof(bf16_work) <= G2_KERNEL_WORK_BYTES, "avx512bf16.c's buffers fit the work area");

static ALWAYS_INLINE __mmask16 mask_of(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }
static ALWAYS_INLINE __mmask32 mask32_of(size_t n) {
  return n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1);
}

static ALWAYS_INLINE __m512 dot_pairs(__m512 acc, __m512i x_pair, __m512i w_pairs) {
  return _mm512_dpbf16_ps(acc, (__m512bh)x_pair, (__m512bh)w_pairs);
}

/* x[k0 .. k0 + 2 n_pairs) rounded to bf16 pairs (zero past n_in). */
static void activation_pairs(const float *x, size_t k0, size_t n_pairs, size_t n_in, uint32_t *pairs) {
  size_t i = 0;
  for (; i + 16 <= n_pairs && k0 + 2 * i + 32 <= n_in; i += 16) {
    __m512 lo = _mm512_loadu_ps(x + k0 + 2 * i), hi = _mm512_loadu_ps(x + k0 + 2 * i + 16);
    _mm512_storeu_si512(pairs + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  for (; i < n_pairs; i += 16) {
    size_t k = k0 + 2 * i;
    size_t left = k < n_in ? n_in - k : 0;
    __m512 lo = _mm512_maskz_loadu_ps(mask_of(left), x + k);
    __m512 hi = _mm512_maskz_loadu_ps(mask_of(left > 16 ? left - 16 : 0), x + k + 16);
    __m512i converted = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    _mm512_mask_storeu_epi32(pairs + i, mask_of(n_pairs - i), converted);
  }
}

/* ---- weights as pairs: lane c holds (W(j0 + c, 2kk), W(j0 + c, 2kk + 1)) ---- */

/* KN: weights (row0[c], row1[c]) for 16 columns (n valid), row0 in the low
   half of each 32-bit lane. row1 NULL: the pair's second row is past the
   end (odd n_in), zeros. */
static ALWAYS_INLINE __m512i kn_pairs(const uint16_t *row0, const uint16_t *row1, size_t n) {
  __mmask16 mask = mask_of(n);
  __m512i low = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row0));
  if (!row1) return low;
  __m512i high = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row1));
  return _mm512_or_si512(low, _mm512_slli_epi32(high, 16));
}

/* NK: rows j0 .. j0 + n_rows (n_rows <= 16, rows past them zeros), pairs
   kk .. kk + 16 (zeros past n_in): v[i] = pair kk + i of the 16 rows, by a
   16 x 16 transpose of 32-bit lanes. Prefetches each line `ahead` bytes on
   (0: none). */
static ALWAYS_INLINE void nk_pairs(const uint16_t *rows, size_t n_in, size_t n_rows, size_t kk, size_t ahead,
                                   __m512i v[16]) {
  __mmask32 mask = mask32_of(n_in - 2 * kk);
  __m512i a[16], b[16];
#pragma GCC unroll 16
  for (size_t r = 0; r < 16; r++) {
    const uint16_t *p = rows + r * n_in + 2 * kk;
    if (ahead) __builtin_prefetch((const char *)p + ahead, 0, 2);
    v[r] = r < n_rows ? _mm512_maskz_loadu_epi16(mask, p) : _mm512_setzero_si512();
  }
  /* 32-bit, then 64-bit interleaves within 128-bit lanes: b[4m + q] lane L
     holds pair 4L + q of rows 4m .. 4m + 3. */
#pragma GCC unroll 8
  for (size_t m = 0; m < 8; m++) {
    a[2 * m] = _mm512_unpacklo_epi32(v[2 * m], v[2 * m + 1]);
    a[2 * m + 1] = _mm512_unpackhi_epi32(v[2 * m], v[2 * m + 1]);
  }
#pragma GCC unroll 4
  for (size_t m = 0; m < 4; m++) {
    b[4 * m] = _mm512_unpacklo_epi64(a[4 * m], a[4 * m + 2]);
    b[4 * m + 1] = _mm512_unpackhi_epi64(a[4 * m], a[4 * m + 2]);
    b[4 * m + 2] = _mm512_unpacklo_epi64(a[4 * m + 1], a[4 * m + 3]);
    b[4 * m + 3] = _mm512_unpackhi_epi64(a[4 * m + 1], a[4 * m + 3]);
  }
  /* 4 x 4 transpose of 128-bit lanes, for each q */
#pragma GCC unroll 4
  for (size_t q = 0; q < 4; q++) {
    __m512i c0 = _mm512_shuffle_i32x4(b[q], b[4 + q], 0x44), c1 = _mm512_shuffle_i32x4(b[q], b[4 + q], 0xee);
    __m512i c2 = _mm512_shuffle_i32x4(b[8 + q], b[12 + q], 0x44);
    __m512i c3 = _mm512_shuffle_i32x4(b[8 + q], b[12 + q], 0xee);
    v[q] = _mm512_shuffle_i32x4(c0, c2, 0x88);
    v[4 + q] = _mm512_shuffle_i32x4(c0, c2, 0xdd);
    v[8 + q] = _mm512_shuffle_i32x4(c1, c3, 0x88);
    v[12 + q] = _mm512_shuffle_i32x4(c1, c3, 0xdd);
  }
}

/* Pairs kk0 .. kk0 + n_pairs, columns j0 .. j0 + n_cols of W, PANEL_COLS
   lanes a pair, zero-padded (rows of pairs past n_pairs: anything finite,
   as far as the next multiple of 16). The next panel's weights (the next
   PANEL_COLS columns) are prefetched into L2: the lines of a panel are too
   scattered for the hardware prefetcher. */
static void pack_panel(const g2_matrix *w, size_t kk0, size_t n_pairs, size_t j0, size_t n_cols,
                       uint32_t *panel) {
  const uint16_t *data = w->data;
  size_t n_out = (size_t)w->n_out, n_in = (size_t)w->n_in;
  if (w->layout == G2_LAYOUT_NK) {
    for (size_t c = 0; c < n_cols; c += 16)
      for (size_t kk = 0; kk < n_pairs; kk += 16) {
        __m512i v[16];
        nk_pairs(data + (j0 + c) * n_in, n_in, n_cols - c, kk0 + kk, PANEL_COLS * n_in * sizeof(uint16_t), v);
#pragma GCC unroll 16
        for (size_t i = 0; i < 16; i++) _mm512_store_si512(panel + (kk + i) * PANEL_COLS + c, v[i]);
      }
    for (size_t c = (n_cols + 15) / 16 * 16; c < PANEL_COLS; c += 16)
      for (size_t kk = 0; kk < n_pairs; kk++) _mm512_store_si512(panel + kk * PANEL_COLS + c, _mm512_setzero_si512());
    return;
  }
  for (size_t kk = 0; kk < n_pairs; kk++) {
    size_t k = 2 * (kk0 + kk);
    const uint16_t *row0 = data + k * n_out + j0;
    const uint16_t *row1 = k + 1 < n_in ? row0 + n_out : NULL;
    for (size_t c = 0; c < PANEL_COLS; c += 32) {
      __builtin_prefetch(row0 + PANEL_COLS + c, 0, 2);
      if (row1) __builtin_prefetch(row1 + PANEL_COLS + c, 0, 2);
    }
    for (size_t c = 0; c < PANEL_COLS; c += 16) {
      size_t valid = c < n_cols ? n_cols - c : 0;
      __m512i pairs = valid ? kn_pairs(row0 + c, row1 ? row1 + c : NULL, valid) : _mm512_setzero_si512();
      _mm512_store_si512(panel + kk * PANEL_COLS + c, pairs);
    }
  }
}

/* ---- batches: token tiles over a packed panel ---- */

/* nt tokens x TILE_VECS vectors: continues the partial sums in `out` (or
   starts from zero) over n_pairs, adds the bias if given (the last block),
   stores n_cols columns. */
static ALWAYS_INLINE void tile(size_t nt, const uint32_t *panel, size_t n_pairs, const uint32_t *x_pairs,
                               float *out, size_t out_stride, size_t n_cols, int first, const float *bias) {
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
    for (size_t v = 0; v < TILE_VECS; v++) weights[v] = _mm512_load_si512(panel + kk * PANEL_COLS + v * 16);
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++) {
      __m512i x_pair = _mm512_set1_epi32((int)x_pairs[t * PANEL_PAIRS + kk]);
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

static void tile_any(size_t nt, const uint32_t *panel, size_t n_pairs, const uint32_t *x_pairs, float *out,
                     size_t out_stride, size_t n_cols, int first, const float *bias) {
  switch (nt) {
    case 1: tile(1, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
    case 2: tile(2, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
    case 3: tile(3, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
    case 4: tile(4, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
    case 5: tile(5, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
    default: tile(6, panel, n_pairs, x_pairs, out, out_stride, n_cols, first, bias); break;
  }
}

/* Blocks of tokens x blocks of k pairs: the block's activations converted
   once, then for each column panel the weights packed once and swept by the
   token tiles. */
static void matmul_batch(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                         float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, total_pairs = (n_in + 1) / 2;
  uint32_t *restrict panel = ((bf16_work *)work)->batch.panel;
  uint32_t *restrict x_pairs = ((bf16_work *)work)->batch.x_pairs;
  if (n_tok == 0) return;
  size_t n_blocks = (n_tok + BLOCK_TOKS - 1) / BLOCK_TOKS; /* of equal size, in whole tiles */
  size_t block_toks = ((n_tok + n_blocks - 1) / n_blocks + TILE_TOKS - 1) / TILE_TOKS * TILE_TOKS;
  for (size_t t0 = 0; t0 < n_tok; t0 += block_toks) {
    size_t n_block = n_tok - t0 < block_toks ? n_tok - t0 : block_toks;
    for (size_t kk0 = 0; kk0 < total_pairs; kk0 += PANEL_PAIRS) {
      size_t n_pairs = total_pairs - kk0 < PANEL_PAIRS ? total_pairs - kk0 : PANEL_PAIRS;
      int first = kk0 == 0, last = kk0 + n_pairs == total_pairs;
      for (size_t i = 0; i < n_block; i++)
        activation_pairs(x + (t0 + i) * x_stride, 2 * kk0, n_pairs, n_in, x_pairs + i * PANEL_PAIRS);
      for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_COLS) {
        size_t n_cols = col_end - j0 < PANEL_COLS ? col_end - j0 : PANEL_COLS;
        pack_panel(w, kk0, n_pairs, j0, n_cols, panel);
        for (size_t t = 0; t < n_block; t += TILE_TOKS) {
          size_t nt = n_block - t < TILE_TOKS ? n_block - t : TILE_TOKS;
          tile_any(nt, panel, n_pairs, x_pairs + t * PANEL_PAIRS, out + (t0 + t) * out_stride + j0, out_stride,
                   n_cols, first, last && bias ? bias + j0 : NULL);
        }
      }
    }
  }
}

/* ---- one token or a small NK batch: memory bound, weights stream through once ---- */

/* Each token's activation pairs kk0 .. kk0 + n_pairs at x_pairs + t * n_pairs. */
static void few_pairs(const float *x, size_t n_tok, size_t x_stride, size_t kk0, size_t n_pairs, size_t n_in,
                      uint32_t *x_pairs) {
  for (size_t t = 0; t < n_tok; t++) activation_pairs(x + t * x_stride, 2 * kk0, n_pairs, n_in, x_pairs + t * n_pairs);
}

/* KN: each pair of weight rows streams through once into L1 sums, four
   pairs (eight rows) per pass over them. n_tok = 1: the strides are
   unused. */
static void decode_kn(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                      float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, n_out = (size_t)w->n_out, total_pairs = (n_in + 1) / 2;
  const uint16_t *data = w->data;
  float *restrict acc = ((bf16_work *)work)->decode.sums;
  uint32_t *restrict x_pairs = ((bf16_work *)work)->decode.x_pairs;
  (void)n_tok, (void)x_stride, (void)out_stride;
  for (size_t j0 = col_begin; j0 < col_end; j0 += DECODE_COLS) {
    size_t n_cols = col_end - j0 < DECODE_COLS ? col_end - j0 : DECODE_COLS;
    memset(acc, 0, n_cols * sizeof(float));
    for (size_t kk0 = 0; kk0 < total_pairs; kk0 += DECODE_PAIRS) {
      size_t n_pairs = total_pairs - kk0 < DECODE_PAIRS ? total_pairs - kk0 : DECODE_PAIRS;
      activation_pairs(x, 2 * kk0, n_pairs, n_in, x_pairs);
      size_t kk = 0;
      for (; kk + 4 <= n_pairs && 2 * (kk0 + kk + 4) <= n_in; kk += 4) {
        const uint16_t *rows = data + 2 * (kk0 + kk) * n_out + j0;
        int prefetch = 2 * (kk0 + kk + 8) <= n_in; /* the next pass's rows, into L2 */
        __m512i x_pair[4];
        for (size_t i = 0; i < 4; i++) x_pair[i] = _mm512_set1_epi32((int)x_pairs[kk + i]);
        for (size_t c = 0; c < n_cols; c += 16) {
          __mmask16 mask = mask_of(n_cols - c);
          if (prefetch && c % 32 == 0)
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i++) __builtin_prefetch(rows + (8 + i) * n_out + c, 0, 2);
          __m512 sum = _mm512_maskz_loadu_ps(mask, acc + c);
#pragma GCC unroll 4
          for (size_t i = 0; i < 4; i++) {
            const uint16_t *row0 = rows + 2 * i * n_out + c;
            sum = dot_pairs(sum, x_pair[i], kn_pairs(row0, row0 + n_out, n_cols - c));
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
          __mmask16 mask = mask_of(n_cols - c);
          __m512i pairs = kn_pairs(row0 + c, row1 ? row1 + c : NULL, n_cols - c);
          _mm512_mask_storeu_ps(acc + c, mask, dot_pairs(_mm512_maskz_loadu_ps(mask, acc + c), x_pair, pairs));
        }
      }
    }
    for (size_t c = 0; c < n_cols; c++) out[j0 + c] = acc[c] + (bias ? bias[j0 + c] : 0.0f);
  }
}

/* NK, nt tokens (a constant after inlining) of 16 rows: pairs kk0 ..
   kk0 + n_pairs, transposed on the fly into one vector of chains per
   token, continued from `out` unless first. */
static ALWAYS_INLINE void nk_rows(size_t nt, const uint16_t *rows, size_t n_in, size_t n_rows, size_t kk0,
                                  size_t n_pairs, size_t ahead, const uint32_t *x_pairs, size_t pairs_stride,
                                  float *out, size_t out_stride, int first, const float *bias) {
  __mmask16 mask = mask_of(n_rows);
  __m512 acc[FEW_GROUP];
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++) acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, out + t * out_stride);
  for (size_t kk = 0; kk < n_pairs; kk += 16) {
    __m512i v[16];
    nk_pairs(rows, n_in, n_rows, kk0 + kk, ahead, v);
    size_t n = n_pairs - kk < 16 ? n_pairs - kk : 16;
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 16
      for (size_t i = 0; i < 16; i++)
        if (i < n) acc[t] = dot_pairs(acc[t], _mm512_set1_epi32((int)x_pairs[t * pairs_stride + kk + i]), v[i]);
  }
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++) {
    __m512 sum = bias ? _mm512_add_ps(acc[t], _mm512_maskz_loadu_ps(mask, bias)) : acc[t];
    _mm512_mask_storeu_ps(out + t * out_stride, mask, sum);
  }
}

static void nk_rows_any(size_t nt, const uint16_t *rows, size_t n_in, size_t n_rows, size_t kk0, size_t n_pairs,
                        size_t ahead, const uint32_t *x_pairs, size_t pairs_stride, float *out, size_t out_stride,
                        int first, const float *bias) {
#define NK_ROWS_ARGS rows, n_in, n_rows, kk0, n_pairs, ahead, x_pairs, pairs_stride, out, out_stride, first, bias
  switch (nt) {
    case 1: nk_rows(1, NK_ROWS_ARGS); break;
    case 2: nk_rows(2, NK_ROWS_ARGS); break;
    case 3: nk_rows(3, NK_ROWS_ARGS); break;
    case 4: nk_rows(4, NK_ROWS_ARGS); break;
    case 5: nk_rows(5, NK_ROWS_ARGS); break;
    case 6: nk_rows(6, NK_ROWS_ARGS); break;
    case 7: nk_rows(7, NK_ROWS_ARGS); break;
    default: nk_rows(FEW_GROUP, NK_ROWS_ARGS); break;
  }
#undef NK_ROWS_ARGS
}

/* NK: 16 rows at a time, the same lines of the next 16 rows prefetched
   into L2; groups of FEW_GROUP tokens in turn (the rows stay in the caches
   for the next group). Partial sums wait in `out` between blocks of
   activation pairs. */
static void decode_nk(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                      float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, total_pairs = (n_in + 1) / 2;
  const uint16_t *data = w->data;
  size_t ahead = 16 * n_in * sizeof(uint16_t);
  if (ahead < G2_PREFETCH_BYTES) ahead = G2_PREFETCH_BYTES;
  uint32_t *restrict x_pairs = ((bf16_work *)work)->decode.x_pairs;
  for (size_t kk0 = 0; kk0 < total_pairs; kk0 += DECODE_PAIRS) {
    size_t n_pairs = total_pairs - kk0 < DECODE_PAIRS ? total_pairs - kk0 : DECODE_PAIRS;
    int first = kk0 == 0, last = kk0 + n_pairs == total_pairs;
    few_pairs(x, n_tok, x_stride, kk0, n_pairs, n_in, x_pairs);
    for (size_t j0 = col_begin; j0 < col_end; j0 += 16) {
      size_t n_rows = col_end - j0 < 16 ? col_end - j0 : 16;
      for (size_t t = 0; t < n_tok; t += FEW_GROUP) {
        size_t nt = n_tok - t < FEW_GROUP ? n_tok - t : FEW_GROUP;
        nk_rows_any(nt, data + j0 * n_in, n_in, n_rows, kk0, n_pairs, t == 0 ? ahead : 0, x_pairs + t * n_pairs,
                    n_pairs, out + t * out_stride + j0, out_stride, first, last && bias ? bias + j0 : NULL);
      }
    }
  }
}

/* NK: up to FEW_TOKS tokens stream, more pack (matmul_batch). KN batches
   always pack: streaming 4 to 16 tokens through decode_kn's L1 sums
   measured no faster (4 tokens) to 17% slower (16) than the packed tiles,
   whose vdpbf16ps work is denser. */
static void decode_nk_or_batch(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                               const float *bias, float *out, size_t out_stride, size_t col_begin, size_t col_end,
                               void *work) {
  if (n_tok > FEW_TOKS)
    matmul_batch(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
  else if (n_tok > 0)
    decode_nk(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

/* BF16 matrices with at least one row of k; the others go to the next
   finder of the table. */
g2_matmul_fn g2_bf16_matmul_for(const g2_matrix *w, int many) {
  if (w->dtype != G2_DT_BF16 || w->n_in == 0) return NULL;
  if (w->layout == G2_LAYOUT_KN) return many ? matmul_batch : decode_kn;
  (void)many;
  return decode_nk_or_batch;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_avx512bf16_not_built; /* ISO C wants a declaration in every file */
#endif
