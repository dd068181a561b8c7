/* Conversions between F32 and every weight type, bit for bit as ggml
   defines them (ggml-quants.c: dequantize_row_*, quantize_row_*_ref), so
   that files written here and by llama.cpp are interchangeable.

   Float expressions that ggml evaluates as separate roundings are written
   as separate statements here, so that no compiler fuses them into an FMA
   (clang does within one expression when the target has FMA). */
#include "model/quant.h"

#include <math.h>
#include <string.h>

#include "core/half.h"

static uint16_t read_u16(const unsigned char *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static void write_u16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)(v >> 8);
}

/* ---- dequantization ---------------------------------------------------- */

/* Q8_0: F16 scale d, 32 x int8 q: value = q * d. */
static void dequantize_q8_0(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  for (int i = 0; i < G2_QK8_0; i++) out[i] = (float)(int8_t)block[2 + i] * d;
}

/* Q4_0: F16 scale d, 16 bytes; low nibbles are elements 0..15, high nibbles
   16..31: value = (nibble - 8) * d. */
static void dequantize_q4_0(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  for (int i = 0; i < G2_QK4_0 / 2; i++) {
    out[i] = (float)((block[2 + i] & 0x0f) - 8) * d;
    out[i + 16] = (float)((block[2 + i] >> 4) - 8) * d;
  }
}

/* Q6_K super-block of 256: ql[128] low 4 bits, qh[64] high 2 bits, 16 int8
   scales (one per 16 values), F16 d: value = d * scale * (q - 32). Each
   half of 128 values takes 64 ql bytes, 32 qh bytes and 8 scales; its four
   runs of 32 take the low nibbles of ql[0..32), of ql[32..64), then the
   high nibbles, with bit pairs 0, 2, 4, 6 of qh. */
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

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block,
   packed in 12 bytes: bytes 0-3 and 4-7 hold the scales and mins of
   sub-blocks 0-3 in their low 6 bits and the top 2 bits of those of 4-7 in
   their high 2 bits; bytes 8-11 hold the low 4 bits of the scales (low
   nibble) and mins (high nibble) of sub-blocks 4-7. */
static void k_scale_min(const unsigned char *scales, int j, int *scale, int *min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

/* Q4_K (144 bytes): F16 d, F16 dmin, 12 bytes of scales and mins, 128 bytes
   of nibbles. Each run of 64 values is two sub-blocks of 32: the low then
   the high nibbles of 32 bytes. value = (d * scale) * q - (dmin * min). */
static void dequantize_q4_k(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  float dmin = g2_f16_to_f32(read_u16(block + 2));
  const unsigned char *scales = block + 4, *qs = block + 16;
  for (int run = 0; run < 4; run++) {
    for (int part = 0; part < 2; part++) {
      int scale, min;
      k_scale_min(scales, 2 * run + part, &scale, &min);
      float step = d * (float)scale, offset = dmin * (float)min;
      for (int l = 0; l < 32; l++) {
        int q = part ? qs[l] >> 4 : qs[l] & 0x0f;
        float scaled = step * (float)q;
        out[64 * run + 32 * part + l] = scaled - offset;
      }
    }
    qs += 32;
  }
}

/* Q5_K (176 bytes): as Q4_K with 32 bytes qh after the scales (bit 2 run +
   part of qh[l] is the fifth bit of value l of that sub-block), then the
   128 bytes of nibbles. */
static void dequantize_q5_k(const unsigned char *block, float *out) {
  float d = g2_f16_to_f32(read_u16(block));
  float dmin = g2_f16_to_f32(read_u16(block + 2));
  const unsigned char *scales = block + 4, *qh = block + 16, *qs = block + 48;
  for (int run = 0; run < 4; run++) {
    for (int part = 0; part < 2; part++) {
      int scale, min;
      k_scale_min(scales, 2 * run + part, &scale, &min);
      float step = d * (float)scale, offset = dmin * (float)min;
      int high_bit = 1 << (2 * run + part);
      for (int l = 0; l < 32; l++) {
        int q = (part ? qs[l] >> 4 : qs[l] & 0x0f) + (qh[l] & high_bit ? 16 : 0);
        float scaled = step * (float)q;
        out[64 * run + 32 * part + l] = scaled - offset;
      }
    }
    qs += 32;
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
    case G2_DT_Q4_K:
      for (int64_t i = 0; i < n; i += G2_QK_K)
        dequantize_q4_k(bytes + (begin + i) / G2_QK_K * 144, out + i);
      return;
    case G2_DT_Q5_K:
      for (int64_t i = 0; i < n; i += G2_QK_K)
        dequantize_q5_k(bytes + (begin + i) / G2_QK_K * 176, out + i);
      return;
    case G2_DT_COUNT:
      break;
  }
}

/* ---- quantization ------------------------------------------------------ */

/* (int8_t)v for v in range, as ggml's casts; NaN (from non-finite weights,
   where ggml's cast is undefined) gives 0 and the rest saturates. */
static int to_int8(float v) {
  if (!(v == v)) return 0;
  if (v <= -128.0f) return -128;
  if (v >= 127.0f) return 127;
  return (int)(int8_t)v;
}

/* Q8_0 as quantize_row_q8_0_ref: d = max|x| / 127, q = roundf(x / d)
   computed as roundf(x * (1/d)) (halves away from zero). */
static void quantize_q8_0(const float *in, unsigned char *block) {
  float amax = 0.0f;
  for (int i = 0; i < G2_QK8_0; i++) amax = fmaxf(amax, fabsf(in[i]));
  float d = amax / 127.0f;
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  write_u16(block, g2_f32_to_f16(d));
  for (int i = 0; i < G2_QK8_0; i++) {
    float scaled = in[i] * inv_d;
    block[2 + i] = (unsigned char)(int8_t)to_int8(roundf(scaled));
  }
}

/* Q4_0 as quantize_row_q4_0_ref: d = (the value of largest magnitude, the
   first one on ties) / -8, q = min(15, trunc(x * (1/d) + 8.5)). */
static void quantize_q4_0(const float *in, unsigned char *block) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < G2_QK4_0; i++) {
    if (amax < fabsf(in[i])) {
      amax = fabsf(in[i]);
      max = in[i];
    }
  }
  float d = max / -8.0f;
  float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
  write_u16(block, g2_f32_to_f16(d));
  for (int i = 0; i < G2_QK4_0 / 2; i++) {
    float x0 = in[i] * inv_d, x1 = in[i + 16] * inv_d;
    int lo = to_int8(x0 + 8.5f), hi = to_int8(x1 + 8.5f);
    lo = lo < 15 ? lo : 15;
    hi = hi < 15 ? hi : 15;
    block[2 + i] = (unsigned char)((lo & 0x0f) | (hi << 4));
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
    case G2_DT_Q6_K: /* K types are read, not produced, by this library */
    case G2_DT_Q4_K:
    case G2_DT_Q5_K:
    case G2_DT_COUNT:
      break;
  }
}
