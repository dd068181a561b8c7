/* Quantizers of the 32-value blocks with a min or a fifth bit (Q4_1,
   Q5_0, Q5_1; layouts in dequant.c), bit for bit those of ggml's
   quantize_row_*_ref: the types llama-quantize falls back to where a K
   type's 256-value blocks do not fit a row (n_embd 1600: GPT-2 XL).
   g2_quantize (quant.c) dispatches to it. */
#ifndef G2_QUANT_32_H
#define G2_QUANT_32_H

#include <stdint.h>

#include "tensor/matrix.h"

/* n floats (a multiple of 32) as Q4_1, Q5_0 or Q5_1 blocks into `row`. */
void g2_quantize_32(g2_dtype dtype, const float *in, int64_t n, unsigned char *row);

#endif
