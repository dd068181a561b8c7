#include "model/quant.h"

#include <math.h>
#include <string.h>

#include "core/half.h"

static uint16_t read_u16(const unsigned char *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

/* Q8_0: F16 scale d, 32 x int8 q: value = d * q. */
static void dequantize_q8_0(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  for (int i = 0; i < G2_QK8_0; i++) out[i] = d * (float)(int8_t)block[2 + i];
}

/* Q4_0: F16 scale d, 16 bytes; low nibbles are elements 0..15, high nibbles
   16..31: value = d * (nibble - 8). */
static void dequantize_q4_0(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  for (int i = 0; i < G2_QK4_0 / 2; i++) {
    out[i] = d * (float)((block[2 + i] & 0x0f) - 8);
    out[i + 16] = d * (float)((block[2 + i] >> 4) - 8);
  }
}

/* Q6_K super-block of 256: ql[128] low 4 bits, qh[64] high 2 bits, 16 int8
   sub-block scales, F16 d: value = d * scale * (q - 32). */
static void dequantize_q6_k(const unsigned char *block, float *out) {
  const unsigned char *ql = block, *qh = block + 128;
  const int8_t *scales = (const int8_t *)(block + 192);
  float d = g2_f16_to_f32(read_u16(block + 208));
  for (int half = 0; half < 2; half++) {
    for (int l = 0; l < 32; l++) {
      int sub = l / 16;
      int q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * (float)scales[sub] * (float)q1;
      out[l + 32] = d * (float)scales[sub + 2] * (float)q2;
      out[l + 64] = d * (float)scales[sub + 4] * (float)q3;
      out[l + 96] = d * (float)scales[sub + 6] * (float)q4;
    }
    out += 128;
    ql += 64;
    qh += 32;
    scales += 8;
  }
}

void g2_dequantize(g2_dtype dtype, const void *row, int64_t begin, int64_t n,
                   float *out) {
  const unsigned char *bytes = row;
  switch (dtype) {
    case G2_DT_F32:
      memcpy(out, bytes + begin * 4, (size_t)n * sizeof(float));
      return;
    case G2_DT_F16:
      for (int64_t i = 0; i < n; i++) out[i] = g2_f16_to_f32(read_u16(bytes + (begin + i) * 2));
      return;
    case G2_DT_BF16:
      for (int64_t i = 0; i < n; i++) out[i] = g2_bf16_to_f32(read_u16(bytes + (begin + i) * 2));
      return;
    case G2_DT_Q8_0:
      for (int64_t i = 0; i < n; i += G2_QK8_0)
        dequantize_q8_0(bytes + (begin + i) / G2_QK8_0 * 34, out + i);
      return;
    case G2_DT_Q4_0:
      for (int64_t i = 0; i < n; i += G2_QK4_0)
        dequantize_q4_0(bytes + (begin + i) / G2_QK4_0 * 18, out + i);
      return;
    case G2_DT_Q6_K:
      for (int64_t i = 0; i < n; i += G2_QK_K)
        dequantize_q6_k(bytes + (begin + i) / G2_QK_K * 210, out + i);
      return;
    case G2_DT_COUNT:
      break;
  }
}

static void write_u16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)(v >> 8);
}

/* d = max|x| / 127, q = round(x / d). */
static void quantize_q8_0(const float *in, unsigned char *block) {
  float amax = 0.0f;
  for (int i = 0; i < G2_QK8_0; i++) amax = fmaxf(amax, fabsf(in[i]));
  float d = amax / 127.0f;
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  write_u16(block, g2_f32_to_f16(d));
  for (int i = 0; i < G2_QK8_0; i++) block[2 + i] = (unsigned char)(int8_t)roundf(in[i] * inv_d);
}

/* d = (the value of largest magnitude) / -8, q = clamp(trunc(x / d + 8.5), 0, 15). */
static void quantize_q4_0(const float *in, unsigned char *block) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < G2_QK4_0; i++) {
    if (fabsf(in[i]) > amax) {
      amax = fabsf(in[i]);
      max = in[i];
    }
  }
  float d = max / -8.0f;
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  write_u16(block, g2_f32_to_f16(d));
  for (int i = 0; i < G2_QK4_0 / 2; i++) {
    int lo = (int)(int8_t)(in[i] * inv_d + 8.5f);
    int hi = (int)(int8_t)(in[i + 16] * inv_d + 8.5f);
    lo = lo < 15 ? lo : 15;
    hi = hi < 15 ? hi : 15;
    block[2 + i] = (unsigned char)(lo | (hi << 4));
  }
}

void g2_quantize(g2_dtype dtype, const float *in, int64_t n, void *row) {
  unsigned char *bytes = row;
  switch (dtype) {
    case G2_DT_F32:
      memcpy(bytes, in, (size_t)n * sizeof(float));
      return;
    case G2_DT_F16:
      for (int64_t i = 0; i < n; i++) write_u16(bytes + i * 2, g2_f32_to_f16(in[i]));
      return;
    case G2_DT_BF16:
      for (int64_t i = 0; i < n; i++) write_u16(bytes + i * 2, g2_f32_to_bf16(in[i]));
      return;
    case G2_DT_Q8_0:
      for (int64_t i = 0; i < n; i += G2_QK8_0) quantize_q8_0(in + i, bytes + i / G2_QK8_0 * 34);
      return;
    case G2_DT_Q4_0:
      for (int64_t i = 0; i < n; i += G2_QK4_0) quantize_q4_0(in + i, bytes + i / G2_QK4_0 * 18);
      return;
    case G2_DT_Q6_K: /* not produced by this library */
    case G2_DT_COUNT:
      break;
  }
}
