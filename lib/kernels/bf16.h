/* BF16-weight products with activations rounded to bfloat16 (the
   "avx512bf16" table's vdpbf16ps path, avx512bf16.c): the numeric
   definition and its scalar oracle (bf16_ref.c), which the kernels match
   bit for bit (tests/unit/test_kernels.c).

   Definition, for a BF16 matrix W (either layout, n_in >= 1) and float
   activations x (finite):

   1. Activations rounded to bfloat16, nearest-even, subnormals to a zero
      of their sign (vcvtne2ps2bf16): a_k = bf16(x_k).
   2. Per output element, one chain over the pairs (2i, 2i+1) of k in
      increasing i, from +0 (a missing element 2i+1 when n_in is odd is a
      zero activation and a zero weight):
        c = ftz(c + a_{2i+1} W(j, 2i+1))
        c = ftz(c + a_{2i} W(j, 2i))
      each product exact in float (8-bit significands), each sum rounded
      to nearest-even and flushed to a zero of its sign if subnormal (the
      order and flushing of vdpbf16ps as the Intel SDM writes it).
   3. out = c + bias (the bias term 0 if there is none), rounded once.
   The value depends on nothing but the element's own row and token. */
#ifndef G2_BF16_H
#define G2_BF16_H

#include <stddef.h>

#include "tensor/matrix.h"

/* The kernels' matmul contract (kernels.h) under the definition above, for
   BF16 matrices with n_in >= 1 (small stack, no work area). */
void g2_bf16_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                        const float *bias, float *out, size_t out_stride, size_t col_begin,
                        size_t col_end);

#endif
