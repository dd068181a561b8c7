/* How a weight matrix is stored: element type and layout. The kernels read
   matrices in place (mmap'd files) in the layout the file has. */
#ifndef G2_MATRIX_H
#define G2_MATRIX_H

#include <stddef.h>
#include <stdint.h>

typedef enum g2_dtype {
  G2_DT_F32 = 0,
  G2_DT_F16,
  G2_DT_BF16,
  G2_DT_Q8_0, /* GGUF block: F16 scale + 32 x int8 (34 bytes) */
  G2_DT_Q4_0, /* GGUF block: F16 scale + 16 bytes of 4-bit values (18 bytes) */
  G2_DT_Q6_K, /* GGUF super-block of 256 values (210 bytes) */
  G2_DT_Q4_K, /* GGUF super-block of 256 values (144 bytes) */
  G2_DT_Q5_K, /* GGUF super-block of 256 values (176 bytes) */
  /* Read for llama-quantize's other mixes (dequant.h has their layouts). */
  G2_DT_Q4_1,   /* F16 scale and min + 16 bytes of nibbles (20 bytes per 32) */
  G2_DT_Q5_0,   /* F16 scale + 4 bytes of fifth bits + 16 bytes (22 per 32) */
  G2_DT_Q5_1,   /* F16 scale and min + 4 + 16 bytes (24 per 32) */
  G2_DT_Q2_K,   /* super-block of 256 values (84 bytes) */
  G2_DT_Q3_K,   /* super-block of 256 values (110 bytes) */
  G2_DT_IQ4_NL, /* F16 scale + 16 bytes of indices into a 16-value grid (18 per 32) */
  G2_DT_IQ4_XS, /* super-block of 256 values, IQ4_NL's grid (136 bytes) */
  G2_DT_COUNT
} g2_dtype;

#define G2_QK8_0 32
#define G2_QK4_0 32
#define G2_QK_K 256
/* Bytes of a Q8_0 and a Q4_0 block and of the K types' super-blocks
   (dtype_infos in matrix.c reads them; kernels that need them as constants
   too). */
#define G2_Q8_0_BLOCK_BYTES 34
#define G2_Q4_0_BLOCK_BYTES 18
#define G2_Q2_K_BLOCK_BYTES 84
#define G2_Q3_K_BLOCK_BYTES 110
#define G2_Q4_K_BLOCK_BYTES 144
#define G2_Q5_K_BLOCK_BYTES 176
#define G2_Q6_K_BLOCK_BYTES 210
#define G2_IQ4_XS_BLOCK_BYTES 136

typedef enum g2_layout {
  /* [n_out][n_in]: each output's weights contiguous (nn.Linear, GGUF, wte).
     Block-quantized types exist only in this layout (blocks run along n_in). */
  G2_LAYOUT_NK = 0,
  /* [n_in][n_out]: each input's weights contiguous (Hugging Face Conv1D). */
  G2_LAYOUT_KN = 1
} g2_layout;

typedef struct g2_matrix {
  const void *data;
  g2_dtype dtype;
  g2_layout layout;
  int64_t n_out; /* output features (rows of NK) */
  int64_t n_in;  /* input features */
  /* Q8_0 only, or NULL: the sum of each block's 32 weights, [n_out][n_in /
     32], which the int8 batch kernels use instead of offsetting weights
     (kernels/int8.h; the model computes and owns it). */
  const int16_t *block_sums;
} g2_matrix;

/* Bytes of one row of `n` elements of `dtype`, or 0 if n does not fit the
   type's block size. */
size_t g2_dtype_row_bytes(g2_dtype dtype, int64_t n);
/* Elements per block (1 for float types). */
int64_t g2_dtype_block_size(g2_dtype dtype);
const char *g2_dtype_name(g2_dtype dtype);

#endif
