/* Q8_0 and Q4_0 products with 8-bit activations (the "avx512vnni" table):
   the numeric definition, its scalar oracle (int8_ref.c) and the AVX512-VNNI
   implementation (int8_avx512.c), which gives the oracle's bits.

   Definition, for an NK matrix of Q8_0 or Q4_0 blocks (n_in a multiple of
   32; weight w = q with scale d_w from the block's F16) and float
   activations x (finite; non-finite inputs give unspecified values):

   1. Activations, per token, in blocks b of 32 along n_in:
        amax = max |x_i| over the block
        d_x  = amax / 127                     (float division, nearest-even)
        q_i  = 0                              if d_x == 0
               rne(clamp(x_i / d_x, -127, 127)) otherwise
      with x_i / d_x a float division and rne rounding half to even (the
      vector conversion's default). q_i is in [-127, 127]; the clamp only
      matters when d_x is subnormal (inexact).
   2. Block products, exact in int32: isum_b = sum_i w_i q_i over the 32
      elements (|isum_b| <= 32 * 128 * 127 < 2^24, so exact as a float too).
   3. Float accumulation, per output element: two chains, even and odd
      blocks, in increasing block order from +0:
        c[b % 2] = fmaf((float)isum_b, d_w,b * d_x,b, c[b % 2])
      (the scale product rounded to float first), then
        out = (c[0] + c[1]) + bias    (the bias term 0 if there is none).
   The value depends on nothing but the element's own row and token, so any
   column split, token batch or thread count gives the same bits. */
#ifndef G2_INT8_H
#define G2_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "tensor/matrix.h"

/* Step 1 for one token row: q[0..n_in), d[b] and sums[b] = sum of the
   block's q (n_in a multiple of 32). */
void g2_int8_quantize_row(const float *x, size_t n_in, int8_t *q, float *d, int32_t *sums);

/* Whether the int8 path takes this matrix (NK Q8_0/Q4_0, 0 < n_in <=
   G2_INT8_MAX_IN); others go to the exact kernels. */
enum { G2_INT8_MAX_IN = 16384 };
int g2_int8_supported(const g2_matrix *w);

/* The kernels' matmul contract (kernels.h) under the definition above, for
   supported matrices: the oracle, in plain C (small stack, no work area).
   The VNNI kernels (int8_avx512.c, g2_int8_vnni_matmul_for in kernels.h)
   exist on x86-64 and run on CPUs with AVX512-VNNI only. */
void g2_int8_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                        const float *bias, float *out, size_t out_stride, size_t col_begin,
                        size_t col_end);

/* Per-model data of the batch paths: sums[j * n_in / 32 + b] = the sum of
   the 32 weights of row j's block b (|sum| <= 32 * 128), for a supported
   Q8_0 matrix. With it the VNNI batch kernels take the weights as the
   signed operand and offset the activations instead (int8_avx512.c):
   2 bytes per 34-byte block, 5.9% of the matrix. */
void g2_int8_block_sums(const g2_matrix *w, int16_t *sums);
/* Whether table k's products of w would use block sums: w is a supported
   Q8_0 matrix and k runs the VNNI kernels. */
int g2_int8_wants_block_sums(const g2_kernels *k, const g2_matrix *w);

#endif
