/* Quantizers of the Q4_K and Q5_K super-blocks (layouts in kquant.h),
   bit for bit those of ggml's quantize_row_q4_K_ref / q5_K_ref: what
   llama-quantize writes without an importance matrix. g2_quantize
   (quant.c) dispatches to it. */
#ifndef G2_QUANT_K_H
#define G2_QUANT_K_H

#include <stdint.h>

#include "tensor/matrix.h"

/* n floats (a multiple of 256) as Q4_K or Q5_K blocks into `row`. */
void g2_quantize_k(g2_dtype dtype, const float *in, int64_t n, unsigned char *row);

#endif
