/* The values of the block types that llama-quantize writes beside Q8_0,
   Q4_0 and the Q4_K/Q5_K/Q6_K super-blocks (those are in quant.c and
   kquant.h): Q4_1, Q5_0, Q5_1, IQ4_NL (blocks of 32) and Q2_K, Q3_K, IQ4_XS
   (super-blocks of 256). Bit for bit as ggml's dequantize_row_* (the
   layouts are described in dequant.c and docs/gguf.md). Every bit pattern
   of a block has a defined value: no index can leave its table, and
   non-finite F16 scales give what IEEE arithmetic gives (inf, NaN). */
#ifndef G2_DEQUANT_H
#define G2_DEQUANT_H

#include <stdint.h>

#include "tensor/matrix.h"

/* The 16 values of IQ4_NL and IQ4_XS indices (ggml's kvalues_iq4nl): a
   4-bit index always lands in the table. Also read by the K-type int8
   products (kernels/kquant_int8.h, kernels/q32_int8.h). */
extern const int8_t g2_iq4_grid[16];

/* The values of one block of `dtype` (one of the types above):
   g2_dtype_block_size(dtype) floats to out. */
void g2_dequantize_block(g2_dtype dtype, const unsigned char *block, float *out);

#endif
