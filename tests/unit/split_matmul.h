/* A product computed in pieces, as threads and batches cut it: odd column
   ranges (1..23 columns), each over random token batches (1..8 tokens).
   The kernel tests hold it bitwise to the whole call. */
#ifndef G2_TEST_SPLIT_MATMUL_H
#define G2_TEST_SPLIT_MATMUL_H

#include <stddef.h>

#include "kernels/kernels.h"
#include "test_random.h"

static inline void split_matmul(const g2_kernels *kt, const g2_matrix *m, const float *x, size_t n_tok,
                                size_t x_stride, const float *bias, float *out, size_t out_stride, void *work) {
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

#endif
