/* Dequantization of Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL and IQ4_XS, bit
   for bit as ggml's dequantize_row_* (ggml-quants.c): the same float
   operations in the same order, each product and sum its own statement so
   that no compiler fuses them into an FMA (as in quant.c). Multi-byte
   fields are little-endian, as in every GGUF file. */
#include "tensor/dequant.h"

#include <stdint.h>

#include "core/half.h"

static float half_at(const unsigned char *p) { return g2_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

const int8_t g2_iq4_grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* The 5-bit quants of a Q5_0/Q5_1 block: 16 bytes of nibbles (low nibble
   value j, high nibble value j + 16) and a little-endian 32-bit word whose
   bit j is the fifth bit of value j. */
static void unpack_5bit(const unsigned char *qh_bytes, const unsigned char *qs, int q[32]) {
  uint32_t qh = (uint32_t)qh_bytes[0] | (uint32_t)qh_bytes[1] << 8 | (uint32_t)qh_bytes[2] << 16 |
                (uint32_t)qh_bytes[3] << 24;
  for (int j = 0; j < 16; j++) {
    q[j] = (qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
    q[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
  }
}

/* Q4_1 (20 bytes): F16 d, F16 m, 16 bytes of nibbles as Q4_0's:
   value = q * d + m, q in 0..15. */
static void dequantize_q4_1(const unsigned char *block, float *out) {
  float d = half_at(block), m = half_at(block + 2);
  const unsigned char *qs = block + 4;
  for (int j = 0; j < 16; j++) {
    float low = (float)(qs[j] & 0x0f) * d, high = (float)(qs[j] >> 4) * d;
    out[j] = low + m;
    out[j + 16] = high + m;
  }
}

/* Q5_0 (22 bytes): F16 d, 4 bytes qh, 16 bytes qs: value = (q - 16) * d. */
static void dequantize_q5_0(const unsigned char *block, float *out) {
  float d = half_at(block);
  int q[32];
  unpack_5bit(block + 2, block + 6, q);
  for (int j = 0; j < 32; j++) out[j] = (float)(q[j] - 16) * d;
}

/* Q5_1 (24 bytes): F16 d, F16 m, 4 bytes qh, 16 bytes qs:
   value = q * d + m, q in 0..31. */
static void dequantize_q5_1(const unsigned char *block, float *out) {
  float d = half_at(block), m = half_at(block + 2);
  int q[32];
  unpack_5bit(block + 4, block + 8, q);
  for (int j = 0; j < 32; j++) {
    float scaled = (float)q[j] * d;
    out[j] = scaled + m;
  }
}

/* Q2_K and Q3_K spread 2-bit quants the same way: 64 bytes qs, each half
   of 128 values taking 32 bytes; group g (16 values) of half h = g / 8 is
   bit pair g % 8 / 2 of bytes 32 h + 16 (g % 2) .. + 16. */
static int two_bits(const unsigned char *qs, int g, int l) {
  int half = g / 8, pair = g % 8 / 2;
  return (qs[32 * half + 16 * (g % 2) + l] >> (2 * pair)) & 3;
}

/* Q2_K (84 bytes): 16 bytes of scales (per group of 16: scale in the low
   nibble, min in the high), 64 bytes qs, F16 d, F16 dmin:
   value = (d * scale) * q - (dmin * min), q in 0..3. */
static void dequantize_q2_k(const unsigned char *block, float *out) {
  const unsigned char *scales = block, *qs = block + 16;
  float d = half_at(block + 80), dmin = half_at(block + 82);
  for (int g = 0; g < 16; g++) {
    float step = d * (float)(scales[g] & 0x0f), offset = dmin * (float)(scales[g] >> 4);
    for (int l = 0; l < 16; l++) {
      float scaled = step * (float)two_bits(qs, g, l);
      out[16 * g + l] = scaled - offset;
    }
  }
}

/* Q3_K (110 bytes): 32 bytes hmask, 64 bytes qs, 12 bytes of 6-bit
   scales, F16 d: value = (d * (scale - 32)) * q, q = the 2 bits of qs
   minus 4 where the value's hmask bit is clear (q in -4..3). The hmask bit
   of value l of group g is bit 4 h + pair (as two_bits) of byte
   16 (g % 2) + l. Scale g: its low 4 bits are nibble g / 8 of byte g % 8,
   its high 2 bits are bit pair g / 4 of byte 8 + g % 4. */
static void dequantize_q3_k(const unsigned char *block, float *out) {
  const unsigned char *hmask = block, *qs = block + 32, *scales = block + 96;
  float d = half_at(block + 108);
  for (int g = 0; g < 16; g++) {
    int scale = ((scales[g % 8] >> (4 * (g / 8))) & 0x0f) | ((scales[8 + g % 4] >> (2 * (g / 4))) & 3) << 4;
    float step = d * (float)(scale - 32);
    int bit = 4 * (g / 8) + g % 8 / 2;
    for (int l = 0; l < 16; l++) {
      int high = (hmask[16 * (g % 2) + l] >> bit) & 1;
      out[16 * g + l] = step * (float)(two_bits(qs, g, l) - (high ? 0 : 4));
    }
  }
}

/* IQ4_NL (18 bytes): F16 d, 16 bytes of 4-bit indices (low nibble value j,
   high nibble value j + 16): value = d * grid[index]. */
static void dequantize_iq4_nl(const unsigned char *block, float *out) {
  float d = half_at(block);
  const unsigned char *qs = block + 2;
  for (int j = 0; j < 16; j++) {
    out[j] = d * (float)g2_iq4_grid[qs[j] & 0x0f];
    out[j + 16] = d * (float)g2_iq4_grid[qs[j] >> 4];
  }
}

/* IQ4_XS (136 bytes): F16 d, a little-endian 16-bit word of the scales'
   high bit pairs (pair b for sub-block b), 4 bytes of their low nibbles
   (nibble b % 2 of byte b / 2), then 8 sub-blocks of 32 values laid out
   as IQ4_NL's 16 bytes: value = (d * (scale - 32)) * grid[index], scale in
   0..63. */
static void dequantize_iq4_xs(const unsigned char *block, float *out) {
  float d = half_at(block);
  unsigned scales_high = (unsigned)(block[2] | (block[3] << 8));
  const unsigned char *scales_low = block + 4, *qs = block + 8;
  for (int b = 0; b < 8; b++) {
    int scale = ((scales_low[b / 2] >> (4 * (b % 2))) & 0x0f) | (int)((scales_high >> (2 * b)) & 3) << 4;
    float step = d * (float)(scale - 32);
    for (int j = 0; j < 16; j++) {
      out[32 * b + j] = step * (float)g2_iq4_grid[qs[16 * b + j] & 0x0f];
      out[32 * b + j + 16] = step * (float)g2_iq4_grid[qs[16 * b + j] >> 4];
    }
  }
}

void g2_dequantize_block(g2_dtype dtype, const unsigned char *block, float *out) {
  switch (dtype) {
    case G2_DT_Q4_1: dequantize_q4_1(block, out); return;
    case G2_DT_Q5_0: dequantize_q5_0(block, out); return;
    case G2_DT_Q5_1: dequantize_q5_1(block, out); return;
    case G2_DT_Q2_K: dequantize_q2_k(block, out); return;
    case G2_DT_Q3_K: dequantize_q3_k(block, out); return;
    case G2_DT_IQ4_NL: dequantize_iq4_nl(block, out); return;
    case G2_DT_IQ4_XS: dequantize_iq4_xs(block, out); return;
    default: return;
  }
}
