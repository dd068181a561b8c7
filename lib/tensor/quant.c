/* Conversions between F32 and every weight type, bit for bit as ggml
   defines them (ggml-quants.c: dequantize_row_*, quantize_row_*_ref), so
   that files written here and by llama.cpp are interchangeable.

   Float expressions that ggml evaluates as separate roundings are written
   as separate statements here, so that no compiler fuses them into an FMA
   (clang does within one expression when the target has FMA). */
#include "tensor/quant.h"

#include <math.h>
#include <string.h>

#include "core/half.h"
#include "tensor/dequant.h"
#include "tensor/kquant.h"
#include "tensor/qround.h"
#include "tensor/quant_32.h"
#include "tensor/quant_k.h"

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

/* Q6_K, Q4_K, Q5_K: one super-block of 256 values (layouts in kquant.h). */
static void dequantize_k(g2_dtype dtype, const unsigned char *block, float *out) {
  int8_t q[256];
  float step[G2_K_GROUPS_MAX], offset[G2_K_GROUPS_MAX];
  int group = g2_k_unpack(dtype, block, q, step, offset);
  for (int i = 0; i < 256; i++) {
    float scaled = step[i / group] * (float)q[i];
    out[i] = scaled - offset[i / group];
  }
}

void g2_dequantize(g2_dtype dtype, const void *row, int64_t begin, int64_t n,
                   float *out) {
  const unsigned char *bytes = row;
  const size_t block_bytes = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
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
        dequantize_q8_0(bytes + (begin + i) / G2_QK8_0 * block_bytes, out + i);
      return;
    case G2_DT_Q4_0:
      for (int64_t i = 0; i < n; i += G2_QK4_0)
        dequantize_q4_0(bytes + (begin + i) / G2_QK4_0 * block_bytes, out + i);
      return;
    case G2_DT_Q6_K:
    case G2_DT_Q4_K:
    case G2_DT_Q5_K:
      for (int64_t i = 0; i < n; i += G2_QK_K)
        dequantize_k(dtype, bytes + (begin + i) / G2_QK_K * block_bytes, out + i);
      return;
    case G2_DT_Q4_1:
    case G2_DT_Q5_0:
    case G2_DT_Q5_1:
    case G2_DT_Q2_K:
    case G2_DT_Q3_K:
    case G2_DT_IQ4_NL:
    case G2_DT_IQ4_XS: {
      int64_t block = g2_dtype_block_size(dtype);
      for (int64_t i = 0; i < n; i += block)
        g2_dequantize_block(dtype, bytes + (begin + i) / block * block_bytes, out + i);
      return;
    }
    case G2_DT_COUNT:
      break;
  }
}

/* ---- quantization ------------------------------------------------------ */

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
    block[2 + i] = (unsigned char)(int8_t)g2_trunc_int8(roundf(scaled));
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
    int lo = g2_trunc_int8(x0 + 8.5f), hi = g2_trunc_int8(x1 + 8.5f);
    lo = lo < 15 ? lo : 15;
    hi = hi < 15 ? hi : 15;
    block[2 + i] = (unsigned char)((lo & 0x0f) | (hi << 4));
  }
}

/* Magnitudes below this count as an all-zero group (ggml's GROUP_MAX_EPS). */
#define GROUP_MAX_EPS 1e-15f

/* Weighted least-squares fit of 16 values to q in [-32, 31] times a scale
   (ggml's make_qx_quants with nmax 32, weights x^2): the scale of the
   value of largest magnitude, then 18 nearby scales tried; L gets q + 32. */
static float fit_q6_group(const float *x, int8_t *L) {
  enum { N = 16, NMAX = 32 };
  float amax;
  float max = g2_signed_absmax(x, N, &amax);
  if (amax < GROUP_MAX_EPS) {
    memset(L, 0, N);
    return 0.0f;
  }
  float iscale = (float)-NMAX / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < N; i++) {
    int l = g2_clamp_int(g2_nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
    L[i] = (int8_t)(l + NMAX);
    float w = x[i] * x[i];
    float wx = w * x[i] * (float)l, wl = w * (float)l * (float)l;
    sumlx += wx;
    suml2 += wl;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; step++) {
    if (step == 0) continue;
    float tenth = 0.1f * (float)step;
    float shifted = (float)NMAX + tenth;
    iscale = -shifted / max;
    sumlx = suml2 = 0.0f;
    for (int i = 0; i < N; i++) {
      int l = g2_clamp_int(g2_nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
      float w = x[i] * x[i];
      float wx = w * x[i] * (float)l, wl = w * (float)l * (float)l;
      sumlx += wx;
      suml2 += wl;
    }
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < N; i++)
        L[i] = (int8_t)(NMAX + g2_clamp_int(g2_nearest_int(iscale * x[i]), -NMAX, NMAX - 1));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* Q6_K as quantize_row_q6_K_ref: a scale per group of 16 fitted, the 16
   scales quantized to int8 against the largest (d = largest / -128), then
   every value requantized with its group's final scale. */
static void quantize_q6_k(const float *x, unsigned char *block) {
  int8_t L[G2_QK_K];
  float scales[G2_QK_K / 16];
  float max_scale = 0.0f, max_abs_scale = 0.0f;
  for (int g = 0; g < G2_QK_K / 16; g++) {
    scales[g] = fit_q6_group(x + 16 * g, L + 16 * g);
    if (fabsf(scales[g]) > max_abs_scale) {
      max_abs_scale = fabsf(scales[g]);
      max_scale = scales[g];
    }
  }
  memset(block, 0, g2_dtype_row_bytes(G2_DT_Q6_K, G2_QK_K));
  if (max_abs_scale < GROUP_MAX_EPS) return; /* all zero: d = 0 */
  unsigned char *ql = block, *qh = block + 128;
  int8_t *group_scales = (int8_t *)(block + 192);
  float iscale = -128.0f / max_scale;
  write_u16(block + 208, g2_f32_to_f16(1.0f / iscale));
  float d = g2_f16_to_f32(read_u16(block + 208));
  for (int g = 0; g < G2_QK_K / 16; g++) {
    int sc = g2_nearest_int(iscale * scales[g]);
    group_scales[g] = (int8_t)(sc < 127 ? sc : 127);
  }
  for (int g = 0; g < G2_QK_K / 16; g++) {
    float group_d = d * (float)group_scales[g];
    if (group_d == 0.0f) continue; /* keeps the first fit */
    for (int i = 0; i < 16; i++)
      L[16 * g + i] = (int8_t)(g2_clamp_int(g2_nearest_int(x[16 * g + i] / group_d), -32, 31) + 32);
  }
  /* Packing: the inverse of dequantize_q6_k. */
  for (int half = 0; half < 2; half++) {
    const int8_t *q = L + 128 * half;
    for (int l = 0; l < 32; l++) {
      ql[l] = (unsigned char)((q[l] & 0x0f) | (q[l + 64] & 0x0f) << 4);
      ql[l + 32] = (unsigned char)((q[l + 32] & 0x0f) | (q[l + 96] & 0x0f) << 4);
      qh[l] = (unsigned char)(q[l] >> 4 | (q[l + 32] >> 4) << 2 | (q[l + 64] >> 4) << 4 |
                              (q[l + 96] >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
}

void g2_quantize(g2_dtype dtype, const float *in, int64_t n, void *row) {
  unsigned char *bytes = row;
  const size_t block_bytes = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
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
      for (int64_t i = 0; i < n; i += G2_QK8_0) quantize_q8_0(in + i, bytes + i / G2_QK8_0 * block_bytes);
      return;
    case G2_DT_Q4_0:
      for (int64_t i = 0; i < n; i += G2_QK4_0) quantize_q4_0(in + i, bytes + i / G2_QK4_0 * block_bytes);
      return;
    case G2_DT_Q6_K:
      for (int64_t i = 0; i < n; i += G2_QK_K) quantize_q6_k(in + i, bytes + i / G2_QK_K * block_bytes);
      return;
    case G2_DT_Q3_K:
    case G2_DT_Q4_K:
    case G2_DT_Q5_K:
      g2_quantize_k(dtype, in, n, bytes);
      return;
    case G2_DT_Q4_1:
    case G2_DT_Q5_0:
    case G2_DT_Q5_1:
      g2_quantize_32(dtype, in, n, bytes);
      return;
    case G2_DT_Q2_K: /* read, not produced, by this library */
    case G2_DT_IQ4_NL:
    case G2_DT_IQ4_XS:
    case G2_DT_COUNT:
      break;
  }
}
