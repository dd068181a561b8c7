/* The loop that the AVX2 panel kernels share (panel_avx2.c,
   kquant_panel_avx2.c): the work area holds a panel of 8 rows' weights
   first and then as many quantized tokens as fit; each block of tokens is
   quantized once, each group of 8 rows packed once per block of tokens,
   and tiles of tokens run over the panel. The kernel file says how.
   Included after the kernel file's AVX2 target pragma. */
#ifndef G2_PANEL_RUN_H
#define G2_PANEL_RUN_H

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"

enum { G2_PANEL_ROWS = 8 }; /* rows per panel: one per 32-bit lane of a ymm register */

typedef struct g2_panel_plan {
  size_t panel_bytes; /* the panel of G2_PANEL_ROWS rows */
  size_t token_bytes; /* one quantized token */
  size_t tile_toks;   /* tokens per tile */
  void (*quantize)(const float *x, size_t n_in, unsigned char *token);
  void (*pack)(const g2_matrix *w, size_t j0, size_t n_rows, void *panel);
  void (*tile)(size_t nt, const void *panel, size_t n_in, const unsigned char *tokens, const float *bias,
               float *out, size_t out_stride, size_t n_rows);
} g2_panel_plan;

/* A tile's results: token t's sums (row r in lane r) plus the bias into
   out[t * out_stride + r], r < n_rows. */
static inline void g2_panel_store(const __m256 *sums, size_t nt, const float *bias, float *out, size_t out_stride,
                                  size_t n_rows) {
  float bias_rows[G2_PANEL_ROWS] = {0};
  if (bias) memcpy(bias_rows, bias, n_rows * sizeof *bias);
  __m256 bias_v = _mm256_loadu_ps(bias_rows);
  for (size_t t = 0; t < nt; t++) {
    float lanes[G2_PANEL_ROWS];
    _mm256_storeu_ps(lanes, _mm256_add_ps(sums[t], bias_v));
    memcpy(out + t * out_stride, lanes, n_rows * sizeof *out);
  }
}

/* name##_tile and name##_pack, a plan's tile and pack for one weight type,
   over the kernel file's panel_tile(type, nt, ...) and pack_panel(type,
   ...) with its TILE_TOKS (at most 6): one function per type, with a
   switch for the tile's tokens (inlined into one function for all the
   types, gcc 12's register moves made every type's tiles 5-10% slower). */
#define G2_PANEL_TYPE_FNS(name, type)                                                                                \
  static void name##_tile(size_t nt, const void *panel, size_t n_in, const unsigned char *tokens, const float *bias, \
                          float *out, size_t out_stride, size_t n_rows) {                                            \
    if (nt >= TILE_TOKS) {                                                                                           \
      panel_tile(type, TILE_TOKS, panel, n_in, tokens, bias, out, out_stride, n_rows);                               \
      return;                                                                                                        \
    }                                                                                                                \
    switch (nt) { /* nt < TILE_TOKS */                                                                               \
      case 1: panel_tile(type, 1, panel, n_in, tokens, bias, out, out_stride, n_rows); break;                       \
      case 2: panel_tile(type, 2, panel, n_in, tokens, bias, out, out_stride, n_rows); break;                       \
      case 3: panel_tile(type, 3, panel, n_in, tokens, bias, out, out_stride, n_rows); break;                       \
      case 4: if (TILE_TOKS > 4) panel_tile(type, 4, panel, n_in, tokens, bias, out, out_stride, n_rows); break;    \
      default: if (TILE_TOKS > 5) panel_tile(type, 5, panel, n_in, tokens, bias, out, out_stride, n_rows); break;   \
    }                                                                                                                \
  }                                                                                                                  \
  static void name##_pack(const g2_matrix *w, size_t j0, size_t n_rows, void *panel) {                               \
    pack_panel(type, w, j0, n_rows, panel);                                                                          \
  }

/* The kernels' matmul contract (kernels.h) by `plan`. */
static inline void g2_panel_run(const g2_panel_plan *plan, const g2_matrix *w, const float *x, size_t n_tok,
                                size_t x_stride, const float *bias, float *out, size_t out_stride, size_t col_begin,
                                size_t col_end, void *work) {
  size_t n_in = (size_t)w->n_in, token_bytes = plan->token_bytes, tile_toks = plan->tile_toks;
  unsigned char *scratch = (unsigned char *)work + plan->panel_bytes;
  size_t token_block = (G2_KERNEL_WORK_BYTES - plan->panel_bytes) / token_bytes / tile_toks * tile_toks;
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept(work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) plan->quantize(x + t * x_stride, n_in, scratch + (t - t0) * token_bytes);
    for (size_t j0 = col_begin; j0 < col_end; j0 += G2_PANEL_ROWS) {
      size_t n_rows = col_end - j0 < G2_PANEL_ROWS ? col_end - j0 : G2_PANEL_ROWS;
      plan->pack(w, j0, n_rows, work);
      for (size_t t = t0; t < t_end; t += tile_toks)
        plan->tile(t_end - t < tile_toks ? t_end - t : tile_toks, work, n_in, scratch + (t - t0) * token_bytes,
                   bias ? bias + j0 : NULL, out + t * out_stride + j0, out_stride, n_rows);
    }
  }
}

#endif
