/* 8-bit activations on AVX2 (the "avx2int8" table, and the AVX-512 tables'
   batches of a few tokens): the quantized token that int8_avx2.c,
   q32_int8_avx2.c and panel_avx2.c share (int8.h's step 1), and the panel
   batches of panel_avx2.c. The functions exist on x86-64 only. */
#ifndef G2_INT8_AVX2_H
#define G2_INT8_AVX2_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"

/* One token: q[n_in], then d[n_in / 32] and sums[n_in / 32] (int32), in
   64-byte pieces. */
typedef struct g2_int8_token {
  const int8_t *q;
  const float *d;
  const int32_t *sums;
} g2_int8_token;

static inline size_t g2_int8_token_bytes(size_t n_in) { return (n_in + n_in / 32 * 8 + 63) / 64 * 64; }

static inline g2_int8_token g2_int8_token_at(const unsigned char *base, size_t n_in) {
  return (g2_int8_token){(const int8_t *)base, (const float *)(const void *)(base + n_in),
                         (const int32_t *)(const void *)(base + n_in + n_in / 32 * 4)};
}

/* Step 1 of int8.h (g2_int8_quantize_row's bits) for x[0..n_in), n_in a
   multiple of 32, into a token at `base`. */
void g2_int8_avx2_quantize_token(const float *x, size_t n_in, unsigned char *base);

/* Whether the panels take a product of n_tok tokens with w: NK Q8_0, Q4_0,
   Q4_1, Q5_0, Q5_1 or IQ4_NL, at least G2_PANEL_AVX2_MIN_TOKS tokens,
   rows of at most 4096. */
enum { G2_PANEL_AVX2_MIN_TOKS = 5 };
int g2_panel_avx2_takes(const g2_matrix *w, size_t n_tok);

/* The kernels' matmul contract (kernels.h) for those products, under
   int8.h's definition (Q8_0, Q4_0) or q32_int8.h's (the others), to the
   oracles' bits. */
void g2_panel_avx2_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                          float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work);

#endif
