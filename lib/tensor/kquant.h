/* The K-quant super-blocks of GGUF files (Q6_K, Q4_K, Q5_K, Q2_K, Q3_K,
   IQ4_XS: 256 values each) and the blocks of 32 of Q4_1, Q5_0, Q5_1 and
   IQ4_NL, unpacked into small integers q and a step and offset per group of
   values: value = step * q - offset, the product and the difference rounded
   separately, as ggml's dequantize_row_* computes it (offset +0 for the
   types without a min, which leaves the product unchanged; Q4_1 and Q5_1
   add their min m: offset -m, and x - (-m) is x + m in IEEE arithmetic).
   The functions are inline so that each kernel table compiles them for its
   own instruction set: the byte loops vectorize. g2_dequantize (quant.c)
   uses them for Q6_K, Q4_K and Q5_K; the other seven types it reads with
   tensor/dequant.c, written apart, which tests/unit/test_kernels.c holds
   these unpackers to value by value. The FP32 SIMD tables multiply all ten
   types through them. */
#ifndef G2_KQUANT_H
#define G2_KQUANT_H

#include <stdint.h>

#include "core/half.h"
#include "tensor/dequant.h"
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

/* Q2_K and Q3_K's 2-bit values: each half of 128 takes 32 bytes of qs, its
   four runs of 32 bit pairs 0, 2, 4, 6 of them (dequant.c's two_bits, a run
   at a time). */
static inline void g2_k_two_bits(const unsigned char *restrict qs, int8_t *restrict q) {
  for (int half = 0; half < 2; half++)
    for (int pair = 0; pair < 4; pair++)
      for (int l = 0; l < 32; l++) q[128 * half + 32 * pair + l] = (int8_t)((qs[32 * half + l] >> (2 * pair)) & 3);
}

/* Q2_K (84 bytes, dequant.c): scales and mins at 0 (a byte per group of
   16: scale low nibble, min high), qs at 16, F16 d, dmin at 80:
   value = (d * scale) * q - (dmin * min). */
static inline void g2_k_unpack_q2(const unsigned char *restrict block, int8_t *restrict q, float *restrict step,
                                  float *restrict offset) {
  float d = g2_k_half(block + 80), dmin = g2_k_half(block + 82);
  g2_k_two_bits(block + 16, q);
  for (int g = 0; g < 16; g++) {
    step[g] = d * (float)(block[g] & 0x0f);
    offset[g] = dmin * (float)(block[g] >> 4);
  }
}

/* Q3_K (110 bytes, dequant.c): hmask at 0, qs at 32, 6-bit scales at 96,
   F16 d at 108: value = (d * (scale - 32)) * q, q the 2 bits less 4 where
   the value's hmask bit is clear; value l of run `pair` of half h has bit
   4 h + pair of hmask[l]. */
static inline void g2_k_unpack_q3(const unsigned char *restrict block, int8_t *restrict q, float *restrict step) {
  const unsigned char *hmask = block, *scales = block + 96;
  float d = g2_k_half(block + 108);
  g2_k_two_bits(block + 32, q);
  for (int half = 0; half < 2; half++)
    for (int pair = 0; pair < 4; pair++) {
      int8_t *run = q + 128 * half + 32 * pair;
      for (int l = 0; l < 32; l++) run[l] = (int8_t)(run[l] - 4 + 4 * ((hmask[l] >> (4 * half + pair)) & 1));
    }
  for (int g = 0; g < 16; g++) {
    int scale = ((scales[g % 8] >> (4 * (g / 8))) & 0x0f) | ((scales[8 + g % 4] >> (2 * (g / 4))) & 3) << 4;
    step[g] = d * (float)(scale - 32);
  }
}

/* 16 bytes of 4-bit grid indices (IQ4_NL, and each sub-block of IQ4_XS):
   low nibble value j, high nibble value j + 16. */
static inline void g2_k_grid_values(const unsigned char *restrict qs, int8_t *restrict q) {
  for (int j = 0; j < 16; j++) {
    q[j] = g2_iq4_grid[qs[j] & 0x0f];
    q[j + 16] = g2_iq4_grid[qs[j] >> 4];
  }
}

/* IQ4_XS (136 bytes, dequant.c): F16 d, the 16-bit word of the scales'
   high bit pairs, 4 bytes of their low nibbles, 8 sub-blocks of 16 index
   bytes: value = (d * (scale - 32)) * grid[index]. */
static inline void g2_k_unpack_iq4_xs(const unsigned char *restrict block, int8_t *restrict q, float *restrict step) {
  float d = g2_k_half(block);
  unsigned scales_high = (unsigned)(block[2] | (block[3] << 8));
  for (int b = 0; b < 8; b++) {
    g2_k_grid_values(block + 8 + 16 * b, q + 32 * b);
    int scale = ((block[4 + b / 2] >> (4 * (b % 2))) & 0x0f) | (int)((scales_high >> (2 * b)) & 3) << 4;
    step[b] = d * (float)(scale - 32);
  }
}

/* Values per step and offset: 16 for Q6_K, Q2_K and Q3_K, 32 otherwise
   (for the 32-value block types, the block). */
static inline int g2_k_group(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K || dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K ? 16 : 32;
}

/* Whether the offsets are not all +0: the types with a min. */
static inline int g2_k_has_offset(g2_dtype dtype) {
  return dtype == G2_DT_Q4_K || dtype == G2_DT_Q5_K || dtype == G2_DT_Q2_K || dtype == G2_DT_Q4_1 ||
         dtype == G2_DT_Q5_1;
}

/* One super-block of a 256-value type: q[0..256), step and offset per
   group; returns the group size. */
static inline int g2_k_unpack(g2_dtype dtype, const unsigned char *restrict block, int8_t *restrict q,
                              float *restrict step, float *restrict offset) {
  int groups = G2_QK_K / g2_k_group(dtype);
  if (!g2_k_has_offset(dtype))
    for (int g = 0; g < groups; g++) offset[g] = 0.0f;
  switch (dtype) {
    case G2_DT_Q6_K: g2_k_unpack_q6(block, q, step); break;
    case G2_DT_Q2_K: g2_k_unpack_q2(block, q, step, offset); break;
    case G2_DT_Q3_K: g2_k_unpack_q3(block, q, step); break;
    case G2_DT_IQ4_XS: g2_k_unpack_iq4_xs(block, q, step); break;
    default: g2_k_unpack_q45(dtype == G2_DT_Q5_K, block, q, step, offset); break;
  }
  return g2_k_group(dtype);
}

/* One block of 32 values of Q4_1, Q5_0, Q5_1 or IQ4_NL (dequant.c): q[0..32)
   and its one step and offset. Q4_1: F16 d, m, 16 bytes of nibbles (low
   nibble value j, high j + 16), value = q * d + m; Q5_1: the same with 4
   bytes qh after m (bit j: the fifth bit of value j), q in 0..31; Q5_0:
   Q5_1 without m, value = (q - 16) * d; IQ4_NL: F16 d and IQ4_XS's
   sub-block, value = d * grid[index]. */
static inline void g2_b32_unpack(g2_dtype dtype, const unsigned char *restrict block, int8_t *restrict q,
                                 float *restrict step, float *restrict offset) {
  *step = g2_k_half(block);
  *offset = dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1 ? -g2_k_half(block + 2) : 0.0f;
  if (dtype == G2_DT_IQ4_NL) {
    g2_k_grid_values(block + 2, q);
    return;
  }
  const unsigned char *qh = block + (dtype == G2_DT_Q5_1 ? 4 : 2);
  const unsigned char *qs = block + (dtype == G2_DT_Q4_1 ? 4 : dtype == G2_DT_Q5_0 ? 6 : 8);
  uint32_t high = 0; /* the fifth bits */
  if (dtype != G2_DT_Q4_1)
    high = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
  int zero = dtype == G2_DT_Q5_0 ? 16 : 0;
  for (int j = 0; j < 16; j++) {
    q[j] = (int8_t)(((qs[j] & 0x0f) | (int)((high >> j) & 1) << 4) - zero);
    q[j + 16] = (int8_t)(((qs[j] >> 4) | (int)((high >> (j + 16)) & 1) << 4) - zero);
  }
}

/* Q6_K, Q4_K, Q5_K: the types g2_dequantize reads through this file. */
static inline int g2_is_k_type(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K || dtype == G2_DT_Q4_K || dtype == G2_DT_Q5_K;
}

static inline int g2_is_b32_type(g2_dtype dtype) {
  return dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_0 || dtype == G2_DT_Q5_1 || dtype == G2_DT_IQ4_NL;
}

/* Every type this file unpacks. */
static inline int g2_k_unpacks(g2_dtype dtype) {
  return g2_is_k_type(dtype) || dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K || dtype == G2_DT_IQ4_XS ||
         g2_is_b32_type(dtype);
}

#endif
