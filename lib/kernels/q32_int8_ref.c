/* The scalar oracle of the Q4_1/Q5_0/Q5_1/IQ4_NL int8 products
   (definition in kernels/q32_int8.h): every step written out plainly,
   block by block, on the stored codes (layouts: tensor/dequant.c). */
#include <string.h>

#include "core/fmaf.h"
#include "core/half.h"
#include "kernels/int8.h"
#include "kernels/q32_int8.h"
#include "tensor/dequant.h"

enum { BLOCK = 32 };

int g2_q32_supported(const g2_matrix *w) {
  return w->layout == G2_LAYOUT_NK &&
         (w->dtype == G2_DT_Q4_1 || w->dtype == G2_DT_Q5_0 || w->dtype == G2_DT_Q5_1 || w->dtype == G2_DT_IQ4_NL) &&
         w->n_in > 0 && w->n_in % BLOCK == 0 && w->n_in <= G2_Q32_MAX_IN;
}

static float half_at(const unsigned char *p) {
  uint16_t half;
  memcpy(&half, p, sizeof half);
  return g2_f16_to_f32(half);
}

/* A block's weights as integers (u, u - 16 or T[u]; value i's code u is
   nibble i % 16 of qs, the low one for i < 16, and for Q5_* bit i of the
   little-endian word qh as bit 4), its scale d and its min m (0 where the
   type has none). */
static void block_codes(g2_dtype dtype, const unsigned char *block, int32_t *weights, float *d, float *m) {
  int has_min = dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1;
  int five_bits = dtype == G2_DT_Q5_0 || dtype == G2_DT_Q5_1;
  size_t header = has_min ? 4 : 2;
  const unsigned char *qs = block + header + (five_bits ? 4 : 0);
  uint32_t qh = 0;
  if (five_bits) qh = (uint32_t)block[header] | (uint32_t)block[header + 1] << 8 |
                      (uint32_t)block[header + 2] << 16 | (uint32_t)block[header + 3] << 24;
  for (int i = 0; i < BLOCK; i++) {
    int32_t u = (i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4) | (int32_t)((qh >> i) & 1) << 4;
    weights[i] = dtype == G2_DT_IQ4_NL ? g2_iq4_grid[u] : dtype == G2_DT_Q5_0 ? u - 16 : u;
  }
  *d = half_at(block);
  *m = has_min ? half_at(block + 2) : 0.0f;
}

void g2_q32_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                       float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  g2_dtype dtype = w->dtype;
  int has_min = dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1;
  size_t n_blocks = (size_t)w->n_in / BLOCK, row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  size_t block_bytes = g2_dtype_row_bytes(dtype, BLOCK);
  for (size_t t = 0; t < n_tok; t++)
    for (size_t j = col_begin; j < col_end; j++) {
      const unsigned char *row = (const unsigned char *)w->data + j * row_bytes;
      float chain = 0.0f;
      for (size_t b = 0; b < n_blocks; b++) {
        int8_t q[BLOCK];
        float d_x, d, m;
        int32_t q_sum, weights[BLOCK], isum = 0;
        g2_int8_quantize_row(x + t * x_stride + b * BLOCK, BLOCK, q, &d_x, &q_sum);
        block_codes(dtype, row + b * block_bytes, weights, &d, &m);
        for (int i = 0; i < BLOCK; i++) isum += weights[i] * q[i];
        chain = g2_fmaf((float)isum, d * d_x, chain);
        if (has_min) chain = g2_fmaf((float)q_sum, m * d_x, chain);
      }
      out[t * out_stride + j] = chain + (bias ? bias[j] : 0.0f);
    }
}
