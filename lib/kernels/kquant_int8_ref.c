/* The scalar oracle of the K-type int8 products (definition in
   kernels/kquant_int8.h): every step written out plainly, block by block,
   on the integers tensor/kquant.h unpacks. */
#include <math.h>

#include "core/fmaf.h"
#include "kernels/kquant_int8.h"
#include "tensor/dequant.h"
#include "tensor/kquant.h"

void g2_kq8_quantize_row(const float *x, size_t n_in, int8_t *q, float *d, int16_t *sums) {
  for (size_t b = 0; b < n_in / G2_QK_K; b++) {
    const float *xb = x + b * G2_QK_K;
    float amax = 0.0f;
    for (size_t i = 0; i < G2_QK_K; i++) amax = fabsf(xb[i]) > amax ? fabsf(xb[i]) : amax;
    float scale = amax / 127.0f;
    for (size_t i = 0; i < G2_QK_K; i++) {
      float v = scale != 0.0f ? xb[i] / scale : 0.0f;
      v = v > -127.0f ? v : -127.0f;
      v = v < 127.0f ? v : 127.0f;
      q[b * G2_QK_K + i] = (int8_t)nearbyintf(v); /* ties to even in the default rounding mode */
    }
    d[b] = scale;
  }
  for (size_t g = 0; g < n_in / G2_KQ8_GROUP; g++) {
    int sum = 0;
    for (size_t i = 0; i < G2_KQ8_GROUP; i++) sum += q[g * G2_KQ8_GROUP + i];
    sums[g] = (int16_t)sum;
  }
}

int g2_kq8_supported(const g2_matrix *w) {
  g2_dtype t = w->dtype;
  int k_type = g2_is_k_type(t) || t == G2_DT_Q2_K || t == G2_DT_Q3_K || t == G2_DT_IQ4_XS;
  return w->layout == G2_LAYOUT_NK && k_type && w->n_in > 0 && w->n_in % G2_QK_K == 0 && w->n_in <= G2_KQ8_MAX_IN;
}

/* Q2_K and Q3_K: the 2 low bits of value l of group g (16 values) from
   their 64 bytes qs: bit pair g % 8 / 2 of byte 32 (g / 8) + 16 (g % 2) + l
   (tensor/dequant.c's layout). */
static int low_bits(const unsigned char *qs, int g, int l) {
  return (qs[32 * (g / 8) + 16 * (g % 2) + l] >> (2 * (g % 8 / 2))) & 3;
}

/* Step 2 for the types with 2- and 3-bit and table values, from the
   stored bytes (the oracle is written apart from tensor/kquant.h, whose
   unpacking the FP32 tables use): Q2_K (scales at 0, qs at 16), Q3_K
   (hmask at 0, qs at 32, scales at 96), IQ4_XS (scales_h at 2, scales_l
   at 4, indices at 8). */
static void small_block_sums(g2_dtype dtype, const unsigned char *block, const int8_t *q, const int16_t *sums,
                             int32_t *s_out, int32_t *m_out) {
  int32_t s = 0, m = 0;
  if (dtype == G2_DT_Q2_K) {
    for (int g = 0; g < 16; g++) {
      int32_t dot = 0;
      for (int l = 0; l < 16; l++) dot += low_bits(block + 16, g, l) * q[16 * g + l];
      s += (block[g] & 0x0f) * dot;
      m += (block[g] >> 4) * sums[g];
    }
  } else if (dtype == G2_DT_Q3_K) {
    for (int g = 0; g < 16; g++) {
      int32_t dot = 0;
      for (int l = 0; l < 16; l++) {
        int high = (block[16 * (g % 2) + l] >> (4 * (g / 8) + g % 8 / 2)) & 1;
        dot += (low_bits(block + 32, g, l) | high << 2) * q[16 * g + l];
      }
      int scale = ((block[96 + g % 8] >> (4 * (g / 8))) & 0x0f) | ((block[104 + g % 4] >> (2 * (g / 4))) & 3) << 4;
      s += (scale - 32) * (dot - 4 * sums[g]);
    }
  } else { /* IQ4_XS */
    unsigned scales_high = (unsigned)(block[2] | block[3] << 8);
    for (int k = 0; k < 8; k++) {
      const unsigned char *qs = block + 8 + 16 * k;
      int32_t dot = 0;
      for (int l = 0; l < 16; l++)
        dot += g2_iq4_grid[qs[l] & 0x0f] * q[32 * k + l] + g2_iq4_grid[qs[l] >> 4] * q[32 * k + 16 + l];
      int scale = ((block[4 + k / 2] >> (4 * (k % 2))) & 0x0f) | (int)((scales_high >> (2 * k)) & 3) << 4;
      s += (scale - 32) * dot;
    }
  }
  *s_out = s;
  *m_out = m;
}

/* Step 2 for one block: S and M from the stored integers (u, scales,
   mins), not from tensor/kquant.h's float steps. */
static void block_sums(g2_dtype dtype, const unsigned char *block, const int8_t *q, const int16_t *sums,
                       int32_t *s_out, int32_t *m_out) {
  int8_t u[G2_QK_K];
  float unused_step[G2_K_GROUPS_MAX], unused_offset[G2_K_GROUPS_MAX];
  g2_k_unpack(dtype, block, u, unused_step, unused_offset); /* Q6_K: u - 32 */
  int32_t s = 0, m = 0;
  if (dtype == G2_DT_Q6_K) {
    const int8_t *scales = (const int8_t *)(block + 192);
    for (int g = 0; g < 16; g++) {
      int32_t dot = 0;
      for (int i = 0; i < 16; i++) dot += (u[16 * g + i] + 32) * q[16 * g + i];
      s += scales[g] * (dot - 32 * sums[g]);
    }
  } else {
    for (int k = 0; k < 8; k++) {
      int scale, min;
      g2_k_scale_min(block + 4, k, &scale, &min);
      int32_t dot = 0;
      for (int i = 0; i < 32; i++) dot += u[32 * k + i] * q[32 * k + i];
      s += scale * dot;
      m += min * (sums[2 * k] + sums[2 * k + 1]);
    }
  }
  *s_out = s;
  *m_out = m;
}

void g2_kq8_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                       float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  g2_dtype dtype = w->dtype;
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / G2_QK_K;
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
  for (size_t t = 0; t < n_tok; t++)
    for (size_t j = col_begin; j < col_end; j++) {
      const unsigned char *row = (const unsigned char *)w->data + j * row_bytes;
      float chain = 0.0f;
      for (size_t b = 0; b < n_blocks; b++) {
        int8_t q[G2_QK_K];
        int16_t sums[G2_QK_K / G2_KQ8_GROUP];
        float d_x;
        g2_kq8_quantize_row(x + t * x_stride + b * G2_QK_K, G2_QK_K, q, &d_x, sums);
        const unsigned char *block = row + b * block_bytes;
        int32_t s, m;
        if (g2_is_k_type(dtype))
          block_sums(dtype, block, q, sums, &s, &m);
        else
          small_block_sums(dtype, block, q, sums, &s, &m);
        const unsigned char *d = block + g2_kq8_d_offset(dtype);
        chain = g2_fmaf((float)s, g2_k_half(d) * d_x, chain);
        if (g2_kq8_has_mins(dtype)) chain = g2_fmaf((float)-m, g2_k_half(d + 2) * d_x, chain);
      }
      out[t * out_stride + j] = chain + (bias ? bias[j] : 0.0f);
    }
}
