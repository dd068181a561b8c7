/* Q4_1, Q5_0 and Q5_1 quantization as ggml's reference quantizers do it
   (no search: the scale comes from the block's extremes), so that
   gpt2-quantize's fallbacks hold llama-quantize's bytes. */
#include "tensor/quant_32.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "tensor/qround.h"

enum { QK = 32 };

/* The fifth bits of 32 values: bit i of a little-endian u32 is that of
   value i (values 0-15: the low nibbles, 16-31: the high ones). */
static void put_fifth_bits(unsigned char *qh, const int *q) {
  uint32_t bits = 0;
  for (int i = 0; i < QK; i++) bits |= (uint32_t)((q[i] >> 4) & 1) << i;
  for (int b = 0; b < 4; b++) qh[b] = (unsigned char)(bits >> (8 * b));
}

static void put_nibbles(unsigned char *qs, const int *q) {
  for (int i = 0; i < QK / 2; i++) qs[i] = (unsigned char)((q[i] & 0x0f) | ((q[i + 16] & 0x0f) << 4));
}

/* Q4_1 (d, m, 16 bytes) and Q5_1 (d, m, 4 bytes qh, 16 bytes): value =
   d * q + m with m the block's minimum, d = (max - min) / (2^bits - 1),
   q = trunc((x - min) / d + 0.5) (Q4_1 capped at 15). */
static void quantize_min_block(int bits, const float *x, unsigned char *block) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int i = 0; i < QK; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
  }
  float d = (max - min) / (float)((1 << bits) - 1);
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  g2_put_u16(block, g2_f32_to_f16(d));
  g2_put_u16(block + 2, g2_f32_to_f16(min));
  int q[QK];
  for (int i = 0; i < QK; i++) {
    float shifted = x[i] - min;
    float scaled = shifted * inv_d;
    int l = g2_trunc_int8(scaled + 0.5f);
    /* ggml keeps Q4_1's code in a byte capped at 15; Q5_1's is uncapped */
    q[i] = bits == 4 ? (uint8_t)(l < 15 ? l : 15) : (uint8_t)l;
  }
  if (bits == 4) {
    /* whole bytes, as ggml ORs them: a wrapped code fills its byte */
    for (int i = 0; i < QK / 2; i++) block[4 + i] = (unsigned char)(q[i] | (q[i + 16] << 4));
  } else {
    put_fifth_bits(block + 4, q);
    put_nibbles(block + 8, q);
  }
}

/* Q5_0 (d, 4 bytes qh, 16 bytes): d = (the value of largest magnitude,
   the first on ties) / -16, q = min(31, trunc(x / d + 16.5)). */
static void quantize_q5_0(const float *x, unsigned char *block) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < QK; i++) {
    if (amax < fabsf(x[i])) {
      amax = fabsf(x[i]);
      max = x[i];
    }
  }
  float d = max / -16.0f;
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  g2_put_u16(block, g2_f32_to_f16(d));
  int q[QK];
  for (int i = 0; i < QK; i++) {
    float scaled = x[i] * inv_d;
    int l = g2_trunc_int8(scaled + 16.5f);
    q[i] = (uint8_t)(l < 31 ? l : 31);
  }
  put_fifth_bits(block + 2, q);
  put_nibbles(block + 6, q);
}

void g2_quantize_32(g2_dtype dtype, const float *in, int64_t n, unsigned char *row) {
  size_t block_bytes = g2_dtype_row_bytes(dtype, QK);
  for (int64_t i = 0; i < n; i += QK) {
    unsigned char *block = row + (size_t)(i / QK) * block_bytes;
    if (dtype == G2_DT_Q5_0)
      quantize_q5_0(in + i, block);
    else
      quantize_min_block(dtype == G2_DT_Q4_1 ? 4 : 5, in + i, block);
  }
}
