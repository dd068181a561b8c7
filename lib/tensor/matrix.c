#include "tensor/matrix.h"

typedef struct dtype_info {
  const char *name;
  int64_t block;      /* elements per block */
  size_t block_bytes; /* bytes per block */
} dtype_info;

static const dtype_info dtype_infos[G2_DT_COUNT] = {
    [G2_DT_F32] = {"F32", 1, 4},        [G2_DT_F16] = {"F16", 1, 2},
    [G2_DT_BF16] = {"BF16", 1, 2},      [G2_DT_Q8_0] = {"Q8_0", G2_QK8_0, G2_Q8_0_BLOCK_BYTES},
    [G2_DT_Q4_0] = {"Q4_0", G2_QK4_0, G2_Q4_0_BLOCK_BYTES}, [G2_DT_Q6_K] = {"Q6_K", G2_QK_K, G2_Q6_K_BLOCK_BYTES},
    [G2_DT_Q4_K] = {"Q4_K", G2_QK_K, G2_Q4_K_BLOCK_BYTES}, [G2_DT_Q5_K] = {"Q5_K", G2_QK_K, G2_Q5_K_BLOCK_BYTES},
    [G2_DT_Q4_1] = {"Q4_1", 32, 20},       [G2_DT_Q5_0] = {"Q5_0", 32, 22},
    [G2_DT_Q5_1] = {"Q5_1", 32, 24},       [G2_DT_Q2_K] = {"Q2_K", G2_QK_K, G2_Q2_K_BLOCK_BYTES},
    [G2_DT_Q3_K] = {"Q3_K", G2_QK_K, G2_Q3_K_BLOCK_BYTES}, [G2_DT_IQ4_NL] = {"IQ4_NL", 32, 18},
    [G2_DT_IQ4_XS] = {"IQ4_XS", G2_QK_K, G2_IQ4_XS_BLOCK_BYTES},
};

size_t g2_dtype_row_bytes(g2_dtype dtype, int64_t n) {
  if ((unsigned)dtype >= G2_DT_COUNT || n < 0) return 0;
  const dtype_info *info = &dtype_infos[dtype];
  if (n % info->block != 0) return 0;
  return (size_t)(n / info->block) * info->block_bytes;
}

int64_t g2_dtype_block_size(g2_dtype dtype) {
  return (unsigned)dtype < G2_DT_COUNT ? dtype_infos[dtype].block : 0;
}

const char *g2_dtype_name(g2_dtype dtype) {
  return (unsigned)dtype < G2_DT_COUNT ? dtype_infos[dtype].name : "?";
}
