/* The K-quant super-blocks of GGUF files (Q6_K, Q4_K, Q5_K: 256 values
   each), unpacked into small integers q and a step and offset per group of
   values: value = step * q - offset, the product and the difference rounded
   separately, as ggml's dequantize_row_* computes it (Q6_K: offset 0, which
   leaves the product unchanged). The functions are inline so that each
   kernel table compiles them for its own instruction set: the byte loops
   vectorize. g2_dequantize (quant.c) and the SIMD tables share them. */
#ifndef G2_KQUANT_H
#define G2_KQUANT_H

#include <stdint.h>

#include "core/half.h"
#include "tensor/matrix.h"

enum { G2_K_GROUPS_MAX = 16 };

static inline float g2_k_half(const unsigned char *p) { return g2_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* Q6_K (210 bytes): ql[128] low 4 bits, qh[64] high 2 bits, 16 int8 scales
   (one per 16 values), F16 d: value = (d * scale) * (q - 32). Each half of
   128 values takes 64 ql bytes, 32 qh bytes and 8 scales; its four runs of
   32 take the low nibbles of ql[0..32), of ql[32..64), then the high
   nibbles, with bit pairs 0, 2, 4, 6 of qh. */
static inline void g2_k_unpack_q6(const unsigned char *restrict block, int8_t *restrict q, float *restrict step) {
  float d = g2_k_half(block + 208);
  for (int half = 0; half < 2; half++) {
    const unsigned char *ql = block + 64 * half, *qh = block + 128 + 32 * half;
    int8_t *out = q + 128 * half;
    for (int l = 0; l < 32; l++) {
      out[l] = (int8_t)(((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32);
      out[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
      out[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  const int8_t *scales = (const int8_t *)(block + 192);
  for (int g = 0; g < 16; g++) step[g] = d * (float)scales[g];
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block,
   packed in 12 bytes: bytes 0-3 and 4-7 hold the scales and mins of
   sub-blocks 0-3 in their low 6 bits and the top 2 bits of those of 4-7 in
   their high 2 bits; bytes 8-11 hold the low 4 bits of the scales (low
   nibble) and mins (high nibble) of sub-blocks 4-7. */
static inline void g2_k_scale_min(const unsigned char *scales, int j, int *scale, int *min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

/* Q4_K (144 bytes): F16 d, F16 dmin, 12 bytes of scales and mins, 128 bytes
   of nibbles; Q5_K (176 bytes): the same with 32 bytes qh after the scales
   (bit 2 run + part of qh[l] is the fifth bit of value l of that
   sub-block), then the nibbles. Each run of 64 values is two sub-blocks of
   32: the low then the high nibbles of 32 bytes. value = (d * scale) * q -
   (dmin * min). */
static inline void g2_k_unpack_q45(int five_bits, const unsigned char *restrict block, int8_t *restrict q,
                                   float *restrict step, float *restrict offset) {
  float d = g2_k_half(block), dmin = g2_k_half(block + 2);
  const unsigned char *scales = block + 4, *qh = block + 16, *qs = block + (five_bits ? 48 : 16);
  for (int run = 0; run < 4; run++) {
    for (int l = 0; l < 32; l++) {
      int low = qs[32 * run + l] & 0x0f, high = qs[32 * run + l] >> 4;
      if (five_bits) {
        low |= ((qh[l] >> (2 * run)) & 1) << 4;
        high |= ((qh[l] >> (2 * run + 1)) & 1) << 4;
      }
      q[64 * run + l] = (int8_t)low;
      q[64 * run + 32 + l] = (int8_t)high;
    }
  }
  for (int j = 0; j < 8; j++) {
    int scale, min;
    g2_k_scale_min(scales, j, &scale, &min);
    step[j] = d * (float)scale;
    offset[j] = dmin * (float)min;
  }
}

/* One block of a K type: q[0..256), step and offset per group; returns the
   group size (16 for Q6_K, 32 otherwise). */
static inline int g2_k_unpack(g2_dtype dtype, const unsigned char *restrict block, int8_t *restrict q,
                              float *restrict step, float *restrict offset) {
  if (dtype == G2_DT_Q6_K) {
    g2_k_unpack_q6(block, q, step);
    for (int g = 0; g < 16; g++) offset[g] = 0.0f;
    return 16;
  }
  g2_k_unpack_q45(dtype == G2_DT_Q5_K, block, q, step, offset);
  return 32;
}

static inline int g2_is_k_type(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K || dtype == G2_DT_Q4_K || dtype == G2_DT_Q5_K;
}

#endif
