/* Q8_0 and Q4_0 products on 8-bit activations by the ARMv8.2 dot-product
   instruction (sdot, vdotq_s32), to the bits of the oracle in int8_ref.c
   (definition in kernels/int8.h). The file is compiled for +dotprod only
   (target pragma), so the library still runs on plain ARMv8.0; the
   "neondot" table that calls it is chosen only where the CPU reports
   ASIMD dot product (core/cpu.c).

   sdot multiplies signed bytes by signed bytes, so the weights are used as
   they are: Q8_0's int8 values, Q4_0's nibbles less 8 (low nibbles meet a
   block's first 16 activations, high ones its last 16). Every block sum is
   exact in int32, so the order of the integer additions is free.

   Rows are taken 4 at a time: one int32x4 per row collects a block's dot
   products, a pairwise-add tree turns the 4 rows' vectors into one vector
   of 4 block sums (lane r: row r), and the float work runs on those lanes:
   the definition's two chains (even and odd blocks) of each row, by
   vfmaq_f32, a fused multiply-add per lane as fmaf is.

   One token streams the rows from memory with an L2 prefetch
   G2_PREFETCH_BYTES ahead. Batches quantize as many tokens as the work
   area holds, then meet each group of 4 rows with up to TILE_TOKS tokens
   per pass: each block's weights and scales are loaded once for all of
   them. Every path computes each element with the same chain. */
#if defined(__aarch64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC target("arch=armv8.2-a+dotprod") /* arm_neon.h defines vdotq_s32 so */
#endif

#include <arm_neon.h>
#include <string.h>

#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "kernels/neon_dot.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  ROWS = 4,      /* rows per pass: the lanes of the float chains */
  TILE_TOKS = 4, /* tokens per pass over a group of rows */
  /* n_in int8 activations and n_in / 32 scales per token: n_in <=
     G2_INT8_MAX_IN gives 18 KiB, so a work area holds 9 tokens or more. */
  X_BYTES = G2_KERNEL_WORK_BYTES
};
_Static_assert(G2_INT8_MAX_IN + G2_INT8_MAX_IN / BLOCK * 4 <= X_BYTES, "int8_neon.c: a token fits the work area");

/* One token's quantized activations in the work area. */
typedef struct token_x {
  const int8_t *q;
  const float *d;
} token_x;

static size_t token_bytes(size_t n_in) { return (n_in + n_in / BLOCK * sizeof(float) + 63) / 64 * 64; }

static token_x token_at(unsigned char *base, size_t n_in) {
  return (token_x){(const int8_t *)base, (const float *)(const void *)(base + n_in)};
}

/* Step 1 of the definition, 32 activations at a time: the same float
   division, clamp and round-to-nearest-even conversion (fcvtns) as
   g2_int8_quantize_row. The clamp is fmaxnm/fminnm, which return the
   number where the other operand is NaN as the oracle's comparisons do:
   an infinite activation (outside the definition, x / d = inf / inf) then
   gives the oracle's -127, not 0. */
static void quantize_token(const float *x, size_t n_in, unsigned char *base) {
  int8_t *q = (int8_t *)base;
  float *d = (float *)(void *)(base + n_in);
  const float32x4_t low = vdupq_n_f32(-127.0f), high = vdupq_n_f32(127.0f);
  for (size_t b = 0; b < n_in / BLOCK; b++) {
    const float *xb = x + b * BLOCK;
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; i++) {
      v[i] = vld1q_f32(xb + 4 * i);
      amax = vmaxq_f32(amax, vabsq_f32(v[i]));
    }
    float scale = vmaxvq_f32(amax) / 127.0f;
    d[b] = scale;
    int32x4_t n[8];
    float32x4_t divisor = vdupq_n_f32(scale);
    for (int i = 0; i < 8; i++)
      n[i] = scale != 0.0f ? vcvtnq_s32_f32(vminnmq_f32(vmaxnmq_f32(vdivq_f32(v[i], divisor), low), high))
                           : vdupq_n_s32(0);
    for (int h = 0; h < 2; h++) {
      int16x8_t lo = vcombine_s16(vmovn_s32(n[4 * h]), vmovn_s32(n[4 * h + 1]));
      int16x8_t hi = vcombine_s16(vmovn_s32(n[4 * h + 2]), vmovn_s32(n[4 * h + 3]));
      vst1q_s8(q + b * BLOCK + 16 * h, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
    }
  }
}

static ALWAYS_INLINE size_t block_bytes(g2_dtype dtype) {
  return dtype == G2_DT_Q8_0 ? G2_Q8_0_BLOCK_BYTES : G2_Q4_0_BLOCK_BYTES;
}

/* A block's 32 weights as signed bytes: w[0] meets activations 0..15,
   w[1] activations 16..31. */
static ALWAYS_INLINE void block_weights(g2_dtype dtype, const unsigned char *block, int8x16_t w[2]) {
  if (dtype == G2_DT_Q8_0) {
    w[0] = vld1q_s8((const int8_t *)(block + 2));
    w[1] = vld1q_s8((const int8_t *)(block + 18));
  } else {
    uint8x16_t nibbles = vld1q_u8(block + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    w[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(nibbles, vdupq_n_u8(0x0f))), eight);
    w[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(nibbles, 4)), eight);
  }
}

static ALWAYS_INLINE uint16_t half_bits(const unsigned char *p) {
  uint16_t bits;
  memcpy(&bits, p, sizeof bits);
  return bits;
}

/* The F16 scales of the blocks at `offset` of 4 rows, as floats in lanes
   0..3 (inserted lane by lane: no round trip through memory). */
static ALWAYS_INLINE float32x4_t row_scales(const unsigned char *const rows[ROWS], size_t offset) {
  uint16x4_t bits = vdup_n_u16(half_bits(rows[0] + offset));
  bits = vset_lane_u16(half_bits(rows[1] + offset), bits, 1);
  bits = vset_lane_u16(half_bits(rows[2] + offset), bits, 2);
  bits = vset_lane_u16(half_bits(rows[3] + offset), bits, 3);
  return vcvt_f32_f16(vreinterpret_f16_u16(bits));
}

/* Block b of 4 rows into one chain (lane r: row r) of each of nt tokens:
   the rows' weights and scales loaded once for all of them. */
static ALWAYS_INLINE void block_step(g2_dtype dtype, int nt, const unsigned char *const rows[ROWS], size_t b,
                                     const token_x *x, float32x4_t chains[TILE_TOKS]) {
  size_t offset = b * block_bytes(dtype);
  int8x16_t w[ROWS][2];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++) {
    __builtin_prefetch(rows[r] + offset + G2_PREFETCH_BYTES, 0, 2);
    block_weights(dtype, rows[r] + offset, w[r]);
  }
  float32x4_t d_w = row_scales(rows, offset);
#pragma GCC unroll 4
  for (int t = 0; t < nt; t++) {
    int8x16_t q0 = vld1q_s8(x[t].q + b * BLOCK), q1 = vld1q_s8(x[t].q + b * BLOCK + 16);
    int32x4_t dots[ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++) dots[r] = g2_sdot(g2_sdot(vdupq_n_s32(0), w[r][0], q0), w[r][1], q1);
    int32x4_t isum = vpaddq_s32(vpaddq_s32(dots[0], dots[1]), vpaddq_s32(dots[2], dots[3]));
    chains[t] = vfmaq_f32(chains[t], vcvtq_f32_s32(isum), vmulq_n_f32(d_w, x[t].d[b]));
  }
}

/* 4 rows x nt tokens (1..TILE_TOKS, a constant after inlining): out lanes
   r of sums[t] = row r . token t under the definition, bias not added. */
static ALWAYS_INLINE void tile(g2_dtype dtype, int nt, const unsigned char *const rows[ROWS], size_t n_blocks,
                               const token_x *x, float32x4_t sums[TILE_TOKS]) {
  float32x4_t chains[2][TILE_TOKS]; /* even and odd blocks */
  for (int t = 0; t < nt; t++) chains[0][t] = chains[1][t] = vdupq_n_f32(0.0f);
  for (size_t b = 0; b < n_blocks; b += 2) {
    block_step(dtype, nt, rows, b, x, chains[0]);
    if (b + 1 < n_blocks) block_step(dtype, nt, rows, b + 1, x, chains[1]);
  }
  for (int t = 0; t < nt; t++) sums[t] = vaddq_f32(chains[0][t], chains[1][t]);
}

/* Columns [col_begin, col_end) for the n_tok quantized tokens in `xq`. */
static ALWAYS_INLINE void sweep(g2_dtype dtype, const g2_matrix *w, unsigned char *xq, size_t n_tok,
                                const float *bias, float *out, size_t out_stride, size_t col_begin,
                                size_t col_end) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, x_bytes = token_bytes(n_in);
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  const unsigned char *data = (const unsigned char *)w->data;
  for (size_t j0 = col_begin; j0 < col_end; j0 += ROWS) {
    size_t n_rows = col_end - j0 < ROWS ? col_end - j0 : ROWS;
    const unsigned char *rows[ROWS];
    float bias_lanes[ROWS];
    for (size_t r = 0; r < ROWS; r++) { /* missing rows repeat the last one; their lanes are not stored */
      size_t j = j0 + (r < n_rows ? r : n_rows - 1);
      rows[r] = data + j * row_bytes;
      bias_lanes[r] = bias ? bias[j] : 0.0f;
    }
    float32x4_t bias_v = vld1q_f32(bias_lanes);
    for (size_t t = 0; t < n_tok; t += TILE_TOKS) {
      size_t nt = n_tok - t < TILE_TOKS ? n_tok - t : TILE_TOKS;
      token_x xt[TILE_TOKS];
      for (size_t i = 0; i < nt; i++) xt[i] = token_at(xq + (t + i) * x_bytes, n_in);
      float32x4_t sums[TILE_TOKS];
      switch (nt) {
        case 1: tile(dtype, 1, rows, n_blocks, xt, sums); break;
        case 2: tile(dtype, 2, rows, n_blocks, xt, sums); break;
        case 3: tile(dtype, 3, rows, n_blocks, xt, sums); break;
        default: tile(dtype, 4, rows, n_blocks, xt, sums); break;
      }
      for (size_t i = 0; i < nt; i++) {
        float lanes[ROWS];
        vst1q_f32(lanes, vaddq_f32(sums[i], bias_v));
        memcpy(out + (t + i) * out_stride + j0, lanes, n_rows * sizeof(float));
      }
    }
  }
}

static ALWAYS_INLINE void int8_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                      size_t x_stride, const float *bias, float *out, size_t out_stride,
                                      size_t col_begin, size_t col_end, unsigned char *work) {
  size_t n_in = (size_t)w->n_in, x_bytes = token_bytes(n_in), chunk = X_BYTES / x_bytes;
  for (size_t t0 = 0; t0 < n_tok; t0 += chunk) {
    size_t count = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    if (!g2_work_tokens_kept((g2_work *)(void *)work, n_tok, chunk))
      for (size_t t = 0; t < count; t++) quantize_token(x + (t0 + t) * x_stride, n_in, work + t * x_bytes);
    sweep(dtype, w, work, count, bias, out + t0 * out_stride, out_stride, col_begin, col_end);
  }
}

static void int8_matmul_q8_0(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                             float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  int8_matmul(G2_DT_Q8_0, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

static void int8_matmul_q4_0(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                             float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  int8_matmul(G2_DT_Q4_0, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

/* One token and batches alike (the same code): NK Q8_0/Q4_0. */
g2_matmul_fn g2_int8_neondot_matmul_for(const g2_matrix *w, int many) {
  (void)many;
  if (!g2_int8_supported(w)) return NULL;
  return w->dtype == G2_DT_Q8_0 ? int8_matmul_q8_0 : int8_matmul_q4_0;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_int8_neon_not_built; /* ISO C wants a declaration in every file */
#endif
