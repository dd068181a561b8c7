/* Element access for every weight type: conversion of runs of a row to
   F32. The scalar kernels and the embedding lookups are built on it. */
#ifndef G2_QUANT_H
#define G2_QUANT_H

#include <stdint.h>

#include "tensor/matrix.h"

/* Elements [begin, begin + n) of one row (which starts at `row`) as floats.
   For block types, begin must be a multiple of the block size. */
void g2_dequantize(g2_dtype dtype, const void *row, int64_t begin, int64_t n,
                   float *out);

/* Converts n floats (a multiple of the block size for block types) to
   `dtype`, writing g2_dtype_row_bytes(dtype, n) bytes. Q8_0, Q4_0, Q4_1,
   Q5_0, Q5_1, Q3_K, Q4_K, Q5_K and Q6_K round as ggml's reference quantizers do
   (quantize_row_*_ref, no importance matrix), so files are interchangeable
   with llama-quantize's (quant_k.h, quant_32.h); Q2_K, IQ4_NL and IQ4_XS
   (dequant.h) are read, not produced. */
void g2_quantize(g2_dtype dtype, const float *in, int64_t n, void *row);

#endif
