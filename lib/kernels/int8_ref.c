/* The scalar oracle of the int8 products (definition in kernels/int8.h):
   every step written out plainly, block by block. */
#include <math.h>
#include <string.h>

#include "core/fmaf.h"
#include "core/half.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"

enum { BLOCK = 32 };

void g2_int8_quantize_row(const float *x, size_t n_in, int8_t *q, float *d, int32_t *sums) {
  for (size_t b = 0; b < n_in / BLOCK; b++) {
    const float *xb = x + b * BLOCK;
    float amax = 0.0f;
    for (size_t i = 0; i < BLOCK; i++) amax = fabsf(xb[i]) > amax ? fabsf(xb[i]) : amax;
    float scale = amax / 127.0f;
    int32_t sum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
      float v = scale != 0.0f ? xb[i] / scale : 0.0f;
      v = v > -127.0f ? v : -127.0f;
      v = v < 127.0f ? v : 127.0f;
      int32_t value = (int32_t)nearbyintf(v); /* ties to even in the default rounding mode */
      q[b * BLOCK + i] = (int8_t)value;
      sum += value;
    }
    d[b] = scale;
    sums[b] = sum;
  }
}

int g2_int8_supported(const g2_matrix *w) {
  return w->layout == G2_LAYOUT_NK && (w->dtype == G2_DT_Q8_0 || w->dtype == G2_DT_Q4_0) && w->n_in > 0 &&
         w->n_in % BLOCK == 0 && w->n_in <= G2_INT8_MAX_IN;
}

/* Block b of a row: its scale and its 32 weights as integers. */
static float block_weights(g2_dtype dtype, const unsigned char *row, size_t b, int32_t *w) {
  size_t block_bytes = dtype == G2_DT_Q8_0 ? G2_Q8_0_BLOCK_BYTES : G2_Q4_0_BLOCK_BYTES;
  const unsigned char *block = row + b * block_bytes;
  uint16_t half;
  memcpy(&half, block, sizeof half);
  for (size_t i = 0; i < BLOCK; i++) {
    if (dtype == G2_DT_Q8_0)
      w[i] = (int8_t)block[2 + i];
    else /* low nibbles are elements 0..15, high ones 16..31, offset 8 */
      w[i] = (i < 16 ? block[2 + i] & 0x0f : block[2 + i - 16] >> 4) - 8;
  }
  return g2_f16_to_f32(half);
}

void g2_int8_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                        const float *bias, float *out, size_t out_stride, size_t col_begin,
                        size_t col_end) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK;
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  for (size_t t = 0; t < n_tok; t++)
    for (size_t j = col_begin; j < col_end; j++) {
      const unsigned char *row = (const unsigned char *)w->data + j * row_bytes;
      float chains[2] = {0.0f, 0.0f};
      for (size_t b = 0; b < n_blocks; b++) {
        int8_t q[BLOCK];
        float d_x;
        int32_t q_sum, weights[BLOCK], isum = 0;
        g2_int8_quantize_row(x + t * x_stride + b * BLOCK, BLOCK, q, &d_x, &q_sum);
        float d_w = block_weights(w->dtype, row, b, weights);
        for (size_t i = 0; i < BLOCK; i++) isum += weights[i] * q[i];
        float scale = d_w * d_x;
        chains[b % 2] = g2_fmaf((float)isum, scale, chains[b % 2]);
      }
      out[t * out_stride + j] = (chains[0] + chains[1]) + (bias ? bias[j] : 0.0f);
    }
}

void g2_int8_block_sums(const g2_matrix *w, int16_t *sums) {
  size_t n_blocks = (size_t)w->n_out * ((size_t)w->n_in / BLOCK);
  const unsigned char *block = w->data; /* rows are whole blocks: one run of them */
  for (size_t b = 0; b < n_blocks; b++, block += G2_Q8_0_BLOCK_BYTES) {
    int32_t sum = 0;
    for (size_t i = 0; i < BLOCK; i++) sum += (int8_t)block[2 + i];
    sums[b] = (int16_t)sum;
  }
}

int g2_int8_wants_block_sums(const g2_kernels *k, const g2_matrix *w) {
  if (w->dtype != G2_DT_Q8_0 || !g2_int8_supported(w)) return 0;
#if defined(__x86_64__)
  for (int i = 0; i < G2_MAX_FINDERS && k->matmul_finders[i]; i++)
    if (k->matmul_finders[i] == g2_int8_vnni_matmul_for) return 1;
#else
  (void)k;
#endif
  return 0;
}
