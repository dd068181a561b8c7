/* Q4_1, Q5_0, Q5_1 and IQ4_NL products on 8-bit activations (definition
   and oracle: kernels/q32_int8.h, q32_int8_ref.c), in AVX2 integer code.

   Eight rows run together, one per float lane, so the definition's chains
   (one per element, two fmaf per block at most) are one vector of rows.
   Per block, each row's 16 bytes of nibbles are loaded into both 128-bit
   halves and shifted per half (vpsrlvd by 0 or 4), which puts the codes
   in activation order (low nibbles against values 0..15, high ones
   against 16..31); Q5_*'s fifth bits come from the 32-bit qh word spread
   to one byte per value (vpshufb, then a compare with each byte's bit).
   vpmaddubsw multiplies the unsigned codes by the signed activations in
   pairs (at most 2 * 31 * 127, no saturation) and vpmaddwd adds the pairs
   into int32 lanes; IQ4_NL looks its values up with vpshufb and
   multiplies |T[u]| by the activations carrying T[u]'s sign (vpsignb;
   at most 2 * 127 * 127). A transposing vphaddd tree turns the 8 rows'
   lanes into I_b per row, exactly, so only the float chain is ordered,
   and it is the definition's. The F16 scales (and mins) of the 8 rows are
   gathered from one 32-bit load per row and converted by vcvtph2ps.

   One token streams the rows with an L2 prefetch G2_PREFETCH_BYTES ahead
   of the 8 rows' span. Batches that panel_avx2.c takes (int8_avx2.h: 5
   tokens or more, rows up to 4096) go there; the others (2-4 tokens, XL's
   rows of 6400) quantize a block of tokens into the work
   area, then meet each group of 8 rows with 4 tokens at a time: a row's
   codes are unpacked once per block and 4 tokens, and the rows stay in L1
   between passes. Every path runs the same per-element steps, so a batch
   gives each token's one-token bits. */
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
#include "kernels/q32_int8.h"
#include "tensor/dequant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  ROWS = 8,      /* rows per group: the float lanes */
  PASS_TOKS = 4, /* tokens per pass over a group's rows in batches */
  X_BYTES = 128 * 1024 /* quantized activations of a block of tokens */
};
_Static_assert((size_t)X_BYTES <= (size_t)G2_KERNEL_WORK_BYTES, "q32_int8_avx2.c's buffer fits the work area");

static ALWAYS_INLINE int has_min(g2_dtype dtype) { return dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1; }
static ALWAYS_INLINE size_t block_bytes(g2_dtype dtype) {
  return dtype == G2_DT_Q4_1 ? 20 : dtype == G2_DT_Q5_0 ? 22 : dtype == G2_DT_Q5_1 ? 24 : 18;
}

/* Lane r = the sum of row r's 8 int32 lanes. */
static ALWAYS_INLINE __m256i reduce_rows(const __m256i p[ROWS]) {
  __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* chains[t], lane r = row r . token t under the definition, for nt tokens
   (a constant after inlining). `prefetch`: the rows come from memory, and
   rows[0] starts their contiguous span. */
static ALWAYS_INLINE void group_dot(g2_dtype dtype, int nt, const unsigned char *const rows[ROWS], size_t n_blocks,
                                    const g2_int8_token *x, int prefetch, __m256 chains[PASS_TOKS]) {
  const size_t bytes = block_bytes(dtype);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid));
  const __m256i grid_abs = _mm256_abs_epi8(grid);
  for (int t = 0; t < nt; t++) chains[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < n_blocks; b++) {
    if (prefetch)
      for (size_t at = 0; at < ROWS * bytes; at += 64)
        __builtin_prefetch(rows[0] + G2_PREFETCH_BYTES + b * ROWS * bytes + at, 0, 2);
    const unsigned char *blocks[ROWS];
    __m256i w[ROWS], w_abs[ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) {
      blocks[r] = rows[r] + b * bytes;
      w[r] = g2_b32_codes_avx2(dtype, blocks[r]);
      if (dtype == G2_DT_IQ4_NL) {
        w_abs[r] = _mm256_shuffle_epi8(grid_abs, w[r]);
        w[r] = _mm256_shuffle_epi8(grid, w[r]);
      }
    }
    __m256 d, m;
    g2_b32_scales_avx2(has_min(dtype), blocks, &d, &m);
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(x[t].q + b * BLOCK)), p[ROWS];
#pragma GCC unroll 8
      for (int r = 0; r < ROWS; r++)
        p[r] = _mm256_madd_epi16(dtype == G2_DT_IQ4_NL ? _mm256_maddubs_epi16(w_abs[r], _mm256_sign_epi8(q, w[r]))
                                                      : _mm256_maddubs_epi16(w[r], q),
                                 ones);
      __m256i isum = reduce_rows(p);
      if (dtype == G2_DT_Q5_0) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(16 * x[t].sums[b]));
      __m256 d_x = _mm256_set1_ps(x[t].d[b]);
      chains[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, d_x), chains[t]);
      if (has_min(dtype))
        chains[t] = _mm256_fmadd_ps(_mm256_set1_ps((float)x[t].sums[b]), _mm256_mul_ps(m, d_x), chains[t]);
    }
  }
}

/* out[j0 + r] = lane r of chain + bias (+0 if none), for r < n_rows. */
static ALWAYS_INLINE void store_group(float *out, const float *bias, size_t j0, size_t n_rows, __m256 chain) {
  if (n_rows == ROWS) {
    __m256 b = bias ? _mm256_loadu_ps(bias + j0) : _mm256_setzero_ps();
    _mm256_storeu_ps(out + j0, _mm256_add_ps(chain, b));
    return;
  }
  float lanes[ROWS];
  _mm256_storeu_ps(lanes, chain);
  for (size_t r = 0; r < n_rows; r++) out[j0 + r] = lanes[r] + (bias ? bias[j0 + r] : 0.0f);
}

static ALWAYS_INLINE void q32_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                     size_t x_stride, const float *bias, float *out, size_t out_stride,
                                     size_t col_begin, size_t col_end, unsigned char *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, x_bytes = g2_int8_token_bytes(n_in);
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  size_t token_block = X_BYTES / x_bytes; /* >= 1: n_in <= G2_Q32_MAX_IN */
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept((g2_work *)(void *)work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) g2_int8_avx2_quantize_token(x + t * x_stride, n_in, work + (t - t0) * x_bytes);
    for (size_t j0 = col_begin; j0 < col_end; j0 += ROWS) {
      size_t n_rows = col_end - j0 < ROWS ? col_end - j0 : ROWS;
      const unsigned char *rows[ROWS];
      for (size_t r = 0; r < ROWS; r++) /* missing rows repeat the last */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : n_rows - 1)) * row_bytes;
      for (size_t t = t0; t < t_end;) {
        size_t left = t_end - t;
        int nt = left >= PASS_TOKS ? PASS_TOKS : left >= 2 ? 2 : 1;
        g2_int8_token xt[PASS_TOKS];
        for (int i = 0; i < nt; i++) xt[i] = g2_int8_token_at(work + (t + (size_t)i - t0) * x_bytes, n_in);
        __m256 chains[PASS_TOKS];
        int prefetch = t == t0;
        if (nt == PASS_TOKS)
          group_dot(dtype, PASS_TOKS, rows, n_blocks, xt, prefetch, chains);
        else if (nt == 2)
          group_dot(dtype, 2, rows, n_blocks, xt, prefetch, chains);
        else
          group_dot(dtype, 1, rows, n_blocks, xt, prefetch, chains);
        for (int i = 0; i < nt; i++) store_group(out + (t + (size_t)i) * out_stride, bias, j0, n_rows, chains[i]);
        t += (size_t)nt;
      }
    }
  }
}

#define Q32_MATMUL(name, dtype)                                                                              \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    if (g2_panel_avx2_takes(w, n_tok))                                                                       \
      g2_panel_avx2_matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);          \
    else                                                                                                     \
      q32_matmul(dtype, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);             \
  }
Q32_MATMUL(q32_matmul_q4_1, G2_DT_Q4_1)
Q32_MATMUL(q32_matmul_q5_0, G2_DT_Q5_0)
Q32_MATMUL(q32_matmul_q5_1, G2_DT_Q5_1)
Q32_MATMUL(q32_matmul_iq4_nl, G2_DT_IQ4_NL)

/* One token and batches alike (the same code): NK Q4_1/Q5_0/Q5_1/IQ4_NL. */
g2_matmul_fn g2_q32_matmul_for(const g2_matrix *w, int many) {
  (void)many;
  if (!g2_q32_supported(w)) return NULL;
  switch (w->dtype) {
    case G2_DT_Q4_1: return q32_matmul_q4_1;
    case G2_DT_Q5_0: return q32_matmul_q5_0;
    case G2_DT_Q5_1: return q32_matmul_q5_1;
    default: return q32_matmul_iq4_nl;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_q32_int8_avx2_not_built; /* ISO C wants a declaration in every file */
#endif
