/* Q4_1, Q5_0, Q5_1 and IQ4_NL products with 8-bit activations (the
   "avx512vnni" and "avx512bf16" tables): the numeric definition, its
   scalar oracle (q32_int8_ref.c) and the AVX2 integer kernel
   (q32_int8_avx2.c), which gives the oracle's bits.

   Definition, for an NK matrix of these 32-value blocks (ggml's layouts,
   tensor/dequant.c; n_in a multiple of 32) with, per block, the F16 scale
   d, Q4_1/Q5_1's F16 min m, and unsigned codes u_i (4 bits, Q5_*: 5), and
   float activations x (finite; non-finite inputs give unspecified values):

   1. Activations, per token: int8.h's step 1 (g2_int8_quantize_row): per
      block b of 32, d_x,b = max |x_i| / 127, q_i = rne(clamp(x_i / d_x,b,
      -127, 127)) (0 if d_x,b = 0), and s_b = sum of the block's q_i.
   2. Block sums, exact in int32 (|I_b| <= 32 * 127 * 127 < 2^24, so exact
      as floats too):
        Q4_1, Q5_1: I_b = sum_i u_i q_i           (weight d u + m)
        Q5_0:       I_b = sum_i (u_i - 16) q_i    (weight d (u - 16))
        IQ4_NL:     I_b = sum_i T[u_i] q_i        (weight d T[u], T the
                    16 int8 values g2_iq4_grid, tensor/dequant.h)
   3. Float accumulation, per output element: one chain in increasing
      block order from +0:
        c = fmaf((float)I_b, d_b * d_x,b, c)
        c = fmaf((float)s_b, m_b * d_x,b, c)      (Q4_1/Q5_1 only)
      with d_b, m_b the block's F16 values as floats, each scale product
      rounded to float first; then out = c + bias (+0 if there is none).
   The value depends on nothing but the element's own row and token, so any
   column split, token batch or thread count gives the same bits; one
   token and a batch run the same steps per element. */
#ifndef G2_Q32_INT8_H
#define G2_Q32_INT8_H

#include <stddef.h>

#include "tensor/matrix.h"

/* Whether this path takes the matrix: NK Q4_1/Q5_0/Q5_1/IQ4_NL with
   0 < n_in <= G2_Q32_MAX_IN (a multiple of 32). */
enum { G2_Q32_MAX_IN = 16384 };
int g2_q32_supported(const g2_matrix *w);

/* The kernels' matmul contract (kernels.h) under the definition above, for
   supported matrices: the oracle, in plain C (small stack, no work area). */
void g2_q32_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                       float *out, size_t out_stride, size_t col_begin, size_t col_end);

#endif
