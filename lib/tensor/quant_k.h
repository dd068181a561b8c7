/* Quantizers of the Q3_K, Q4_K and Q5_K super-blocks (layouts in
   kquant.h and quant_k.c), bit for bit those of ggml's
   quantize_row_q3_K_ref / q4_K_ref / q5_K_ref: what
   llama-quantize writes without an importance matrix. g2_quantize
   (quant.c) dispatches to it. */
#ifndef G2_QUANT_K_H
#define G2_QUANT_K_H

#include <stdint.h>

#include "tensor/matrix.h"

/* n floats (a multiple of 256) as Q3_K, Q4_K or Q5_K blocks into `row`. */
void g2_quantize_k(g2_dtype dtype, const float *in, int64_t n, unsigned char *row);

#endif
