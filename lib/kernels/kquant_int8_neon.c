/* K-type products (Q4_K, Q5_K, Q6_K) on 8-bit activations by the ARMv8.2
   dot-product instruction (sdot, vdotq_s32), to the bits of the oracle in
   kquant_int8_ref.c (definition in kernels/kquant_int8.h). Compiled for
   +dotprod only (target pragma), so the library still runs on plain
   ARMv8.0; the "neondot" table calls it where the CPU reports ASIMD dot
   product (core/cpu.c).

   A block is unpacked into 256 signed bytes in activation order (Q4_K/Q5_K:
   u in [0, 31]; Q6_K: u - 32 in [-32, 31]) and a scale per group of 16
   (Q4_K/Q5_K: the 32-group's, twice). One sdot per group of 16 gives its
   dot product in 4 int32 lanes, multiplied by the group's scale into one
   accumulator, so S is one horizontal sum; Q6_K's offset of 32 is already
   in its bytes (sum sc_g (u - 32) q equals the definition's
   sum sc_g (sum u q - 32 s_g) exactly). M is the mins times the
   activations' sums per 32 (s_{2k} + s_{2k+1}). All of it is exact in
   int32, so the order of the integer additions is free and only the float
   chain (two fmaf per block; one for Q6_K) is fixed, as the definition
   says.

   One token streams each row with an L2 prefetch G2_PREFETCH_BYTES ahead,
   unpacking a block at a time into 16 registers. Batches quantize as many
   tokens as the work area holds and meet each block, unpacked into
   registers once, with up to TILE_TOKS tokens. Every path computes each
   element with the same chain. */
#if defined(__aarch64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC target("arch=armv8.2-a+dotprod") /* arm_neon.h defines vdotq_s32 so */
#endif

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/neon_dot.h"
#include "kernels/kquant_int8.h"
#include "tensor/kquant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  GROUPS = G2_QK_K / G2_KQ8_GROUP, /* 16 groups of 16 per block */
  SUBS = G2_QK_K / 32,             /* 8 sub-blocks of 32 (Q4_K/Q5_K's scale groups) */
  TILE_TOKS = 4,                   /* tokens per unpacked block */
  X_BYTES = G2_KERNEL_WORK_BYTES
};

/* One token's quantized activations in the work area: q[n_in], d[n_in /
   256] and sums[n_in / 32] (s_{2k} + s_{2k+1} of the definition). */
typedef struct token_x {
  const int8_t *q;
  const float *d;
  const int32_t *sums;
} token_x;

static size_t token_bytes(size_t n_in) {
  return (n_in + n_in / G2_QK_K * sizeof(float) + n_in / 32 * sizeof(int32_t) + 63) / 64 * 64;
}
_Static_assert(G2_KQ8_MAX_IN + G2_KQ8_MAX_IN / G2_QK_K * 4 + G2_KQ8_MAX_IN / 32 * 4 + 63 <= X_BYTES,
               "kquant_int8_neon.c: a token fits the work area");

static token_x token_at(unsigned char *base, size_t n_in) {
  return (token_x){(const int8_t *)base, (const float *)(const void *)(base + n_in),
                   (const int32_t *)(const void *)(base + n_in + n_in / G2_QK_K * sizeof(float))};
}

/* Step 1 of the definition (g2_kq8_quantize_row's bits: the same float
   division, clamp and round-to-nearest-even conversion, fcvtns).. The clamp
   is fmaxnm/fminnm, which return the number where the other operand is
   NaN as the oracle's comparisons do: an infinite activation (outside the
   definition, x / d = inf / inf) then gives the oracle's -127, not 0. */
static void quantize_token(const float *x, size_t n_in, unsigned char *base) {
  int8_t *q = (int8_t *)base;
  float *d = (float *)(void *)(base + n_in);
  int32_t *sums = (int32_t *)(void *)(base + n_in + n_in / G2_QK_K * sizeof(float));
  const float32x4_t low = vdupq_n_f32(-127.0f), high = vdupq_n_f32(127.0f);
  for (size_t b = 0; b < n_in / G2_QK_K; b++) {
    const float *xb = x + b * G2_QK_K;
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < G2_QK_K; i += 4) amax = vmaxq_f32(amax, vabsq_f32(vld1q_f32(xb + i)));
    float scale = vmaxvq_f32(amax) / 127.0f;
    d[b] = scale;
    float32x4_t divisor = vdupq_n_f32(scale);
    for (size_t i = 0; i < G2_QK_K; i += 32) {
      int32x4_t n[8];
      for (int k = 0; k < 8; k++)
        n[k] = scale != 0.0f
                   ? vcvtnq_s32_f32(vminnmq_f32(vmaxnmq_f32(vdivq_f32(vld1q_f32(xb + i + 4 * k), divisor), low), high))
                   : vdupq_n_s32(0);
      int32x4_t total = vdupq_n_s32(0);
      for (int h = 0; h < 2; h++) {
        int16x8_t lo = vcombine_s16(vmovn_s32(n[4 * h]), vmovn_s32(n[4 * h + 1]));
        int16x8_t hi = vcombine_s16(vmovn_s32(n[4 * h + 2]), vmovn_s32(n[4 * h + 3]));
        vst1q_s8(q + b * G2_QK_K + i + 16 * h, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
        total = vaddq_s32(total, vaddq_s32(vaddq_s32(n[4 * h], n[4 * h + 1]), vaddq_s32(n[4 * h + 2], n[4 * h + 3])));
      }
      sums[(b * G2_QK_K + i) / 32] = vaddvq_s32(total);
    }
  }
}

/* A block's factors: a scale per group of 16 (Q4_K/Q5_K: the 32-group's,
   twice), the mins per 32 (Q4_K/Q5_K) and the F16 d and dmin. */
typedef struct block_factors {
  int32_t scales[GROUPS];
  int32_t mins[SUBS];
  float d, dmin;
} block_factors;

/* An F16 factor as a float by the conversion instruction (exact, as
   g2_k_half is). */
static ALWAYS_INLINE float half_at(const unsigned char *p) {
  __fp16 half;
  memcpy(&half, p, sizeof half);
  return (float)half;
}

static ALWAYS_INLINE void prefetch_block(const unsigned char *block, size_t block_bytes) {
  for (size_t at = 0; at < block_bytes; at += 64) __builtin_prefetch(block + at + G2_PREFETCH_BYTES, 0, 2);
}

/* Q6_K: each half of 128 values is four runs of 32 from the low or high
   nibbles of ql[0..32) or ql[32..64), with bit pairs 0, 2, 4, 6 of qh as
   bits 4 and 5 (tensor/kquant.h's layout); less 32. w[g]: group g. */
static ALWAYS_INLINE void unpack_q6(const unsigned char *block, int8x16_t w[GROUPS], block_factors *f) {
  const uint8x16_t low4 = vdupq_n_u8(0x0f), two = vdupq_n_u8(0x30);
  const int8x16_t offset = vdupq_n_s8(32);
#pragma GCC unroll 2
  for (int half = 0; half < 2; half++) {
    const unsigned char *ql = block + 64 * half, *qh = block + 128 + 32 * half;
#pragma GCC unroll 2
    for (int l = 0; l < 2; l++) {
      uint8x16_t a = vld1q_u8(ql + 16 * l), c = vld1q_u8(ql + 32 + 16 * l), h = vld1q_u8(qh + 16 * l);
      uint8x16_t runs[4] = {
          vorrq_u8(vandq_u8(a, low4), vandq_u8(vshlq_n_u8(h, 4), two)),
          vorrq_u8(vandq_u8(c, low4), vandq_u8(vshlq_n_u8(h, 2), two)),
          vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(h, two)),
          vorrq_u8(vshrq_n_u8(c, 4), vandq_u8(vshrq_n_u8(h, 2), two)),
      };
#pragma GCC unroll 4
      for (int run = 0; run < 4; run++) w[8 * half + 2 * run + l] = vsubq_s8(vreinterpretq_s8_u8(runs[run]), offset);
    }
  }
  const int8_t *scales = (const int8_t *)(block + 192);
  for (int g = 0; g < GROUPS; g++) f->scales[g] = scales[g];
  f->d = half_at(block + 208);
}

/* Q4_K/Q5_K: run r of 64 values is sub-blocks 2r and 2r + 1, the low and
   high nibbles of qs[32r .. 32r + 32), with bits 2r and 2r + 1 of qh as
   the fifth bits (Q5_K). w[g]: group g. */
static ALWAYS_INLINE void unpack_q45(int five_bits, const unsigned char *block, int8x16_t w[GROUPS],
                                     block_factors *f) {
  const unsigned char *qh = block + 16, *qs = block + (five_bits ? 48 : 16);
  const uint8x16_t low4 = vdupq_n_u8(0x0f), fifth = vdupq_n_u8(0x10);
#pragma GCC unroll 4
  for (int run = 0; run < 4; run++)
#pragma GCC unroll 2
    for (int l = 0; l < 2; l++) {
      uint8x16_t bytes = vld1q_u8(qs + 32 * run + 16 * l);
      uint8x16_t lo = vandq_u8(bytes, low4), hi = vshrq_n_u8(bytes, 4);
      if (five_bits) {
        uint8x16_t h = vld1q_u8(qh + 16 * l);
        lo = vorrq_u8(lo, vandq_u8(vtstq_u8(h, vdupq_n_u8((uint8_t)(1u << (2 * run)))), fifth));
        hi = vorrq_u8(hi, vandq_u8(vtstq_u8(h, vdupq_n_u8((uint8_t)(2u << (2 * run)))), fifth));
      }
      w[4 * run + l] = vreinterpretq_s8_u8(lo);
      w[4 * run + 2 + l] = vreinterpretq_s8_u8(hi);
    }
  for (int k = 0; k < SUBS; k++) {
    int scale, min;
    g2_k_scale_min(block + 4, k, &scale, &min);
    f->scales[2 * k] = f->scales[2 * k + 1] = scale;
    f->mins[k] = min;
  }
  f->d = half_at(block);
  f->dmin = half_at(block + 2);
}

static ALWAYS_INLINE void unpack_block(g2_dtype dtype, const unsigned char *block, int8x16_t w[GROUPS],
                                       block_factors *f) {
  if (dtype == G2_DT_Q6_K)
    unpack_q6(block, w, f);
  else
    unpack_q45(dtype == G2_DT_Q5_K, block, w, f);
}

/* Steps 2 and 3 of the definition for block b, unpacked into w and f, and
   a token. */
static ALWAYS_INLINE float block_step(g2_dtype dtype, const int8x16_t w[GROUPS], const block_factors *f,
                                      const token_x *x, size_t b, float chain) {
  const int8_t *q = x->q + b * G2_QK_K;
  int32x4_t acc = vdupq_n_s32(0);
#pragma GCC unroll 16
  for (int g = 0; g < GROUPS; g++)
    acc = vmlaq_n_s32(acc, g2_sdot(vdupq_n_s32(0), w[g], vld1q_s8(q + 16 * g)), f->scales[g]);
  float d_x = x->d[b];
  if (dtype == G2_DT_Q6_K) return fmaf((float)vaddvq_s32(acc), f->d * d_x, chain);
  const int32_t *sums = x->sums + b * SUBS;
  int32x4_t m =
      vmlaq_s32(vmulq_s32(vld1q_s32(f->mins), vld1q_s32(sums)), vld1q_s32(f->mins + 4), vld1q_s32(sums + 4));
  chain = fmaf((float)vaddvq_s32(acc), f->d * d_x, chain);
  return fmaf((float)-vaddvq_s32(m), f->dmin * d_x, chain);
}

/* One row x nt tokens (1..TILE_TOKS, a constant after inlining): each
   block unpacked into registers once for all of them. */
static ALWAYS_INLINE void row_tile(g2_dtype dtype, int nt, const unsigned char *row, size_t n_blocks,
                                   const token_x *x, float chains[TILE_TOKS]) {
  size_t block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
  for (int t = 0; t < nt; t++) chains[t] = 0.0f;
  for (size_t b = 0; b < n_blocks; b++) {
    const unsigned char *block = row + b * block_bytes;
    prefetch_block(block, block_bytes);
    int8x16_t w[GROUPS];
    block_factors f;
    unpack_block(dtype, block, w, &f);
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) chains[t] = block_step(dtype, w, &f, &x[t], b, chains[t]);
  }
}

static ALWAYS_INLINE void kq8_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                     size_t x_stride, const float *bias, float *out, size_t out_stride,
                                     size_t col_begin, size_t col_end, unsigned char *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / G2_QK_K, x_bytes = token_bytes(n_in);
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), chunk = X_BYTES / x_bytes;
  for (size_t t0 = 0; t0 < n_tok; t0 += chunk) {
    size_t count = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    if (!g2_work_tokens_kept((g2_work *)(void *)work, n_tok, chunk))
      for (size_t t = 0; t < count; t++) quantize_token(x + (t0 + t) * x_stride, n_in, work + t * x_bytes);
    for (size_t j = col_begin; j < col_end; j++) {
      const unsigned char *row = (const unsigned char *)w->data + j * row_bytes;
      for (size_t t = 0; t < count; t += TILE_TOKS) {
        size_t nt = count - t < TILE_TOKS ? count - t : TILE_TOKS;
        token_x xt[TILE_TOKS];
        for (size_t i = 0; i < nt; i++) xt[i] = token_at(work + (t + i) * x_bytes, n_in);
        float chains[TILE_TOKS];
        switch (nt) {
          case 1: row_tile(dtype, 1, row, n_blocks, xt, chains); break;
          case 2: row_tile(dtype, 2, row, n_blocks, xt, chains); break;
          case 3: row_tile(dtype, 3, row, n_blocks, xt, chains); break;
          default: row_tile(dtype, 4, row, n_blocks, xt, chains); break;
        }
        for (size_t i = 0; i < nt; i++) out[(t0 + t + i) * out_stride + j] = chains[i] + (bias ? bias[j] : 0.0f);
      }
    }
  }
}

#define KQ8_MATMUL(name, dtype)                                                                              \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    kq8_matmul(dtype, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);               \
  }
KQ8_MATMUL(kq8_neondot_q6_k, G2_DT_Q6_K)
KQ8_MATMUL(kq8_neondot_q4_k, G2_DT_Q4_K)
KQ8_MATMUL(kq8_neondot_q5_k, G2_DT_Q5_K)

/* One token and batches alike (the same code): NK Q4_K/Q5_K/Q6_K; other
   types kquant_int8.h may define later go on to the next finder. */
g2_matmul_fn g2_kq8_neondot_matmul_for(const g2_matrix *w, int many) {
  (void)many;
  if (!g2_kq8_supported(w)) return NULL;
  switch (w->dtype) {
    case G2_DT_Q6_K: return kq8_neondot_q6_k;
    case G2_DT_Q4_K: return kq8_neondot_q4_k;
    case G2_DT_Q5_K: return kq8_neondot_q5_k;
    default: return NULL;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_kquant_int8_neon_not_built; /* ISO C wants a declaration in every file */
#endif
