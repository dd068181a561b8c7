/* A product computed in pieces, as threads and batches cut it. The kernel
   tests hold both bitwise to the whole call. */
#ifndef G2_TEST_SPLIT_MATMUL_H
#define G2_TEST_SPLIT_MATMUL_H

#include <stddef.h>

#include "kernels/kernels.h"
#include "test_random.h"

/* Odd column ranges (1..23 columns), each over random token batches (1..8
   tokens): a product of its own each. */
static inline void split_matmul(const g2_kernels *kt, const g2_matrix *m, const float *x, size_t n_tok,
                                size_t x_stride, const float *bias, float *out, size_t out_stride, g2_work *work) {
  size_t n_out = (size_t)m->n_out;
  for (size_t j = 0; j < n_out;) {
    size_t end = j + 1 + next_u32() % 23;
    end = end < n_out ? end : n_out;
    for (size_t tok = 0; tok < n_tok;) {
      size_t count = 1 + next_u32() % 8;
      count = tok + count < n_tok ? count : n_tok - tok;
      g2_matmul(kt, m, x + tok * x_stride, count, x_stride, bias, out + tok * out_stride, out_stride, j, end, work);
      tok += count;
    }
    j = end;
  }
}

/* One product in odd column slices (1..23 columns), all tokens, on one
   work area, as a thread of the forward pass runs its slices: what a
   kernel keeps in the area for later slices (g2_work.kept) must be the
   product's. */
static inline void slice_matmul(const g2_kernels *kt, const g2_matrix *m, const float *x, size_t n_tok,
                                size_t x_stride, const float *bias, float *out, size_t out_stride, g2_work *work) {
  size_t n_out = (size_t)m->n_out;
  g2_matmul_fn fn = g2_kernels_matmul(kt, m, n_tok);
  work->kept = 0;
  for (size_t j = 0; j < n_out;) {
    size_t end = j + 1 + next_u32() % 23;
    end = end < n_out ? end : n_out;
    fn(m, x, n_tok, x_stride, bias, out, out_stride, j, end, work);
    j = end;
  }
}

#endif
