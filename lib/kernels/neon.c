/* The NEON table (aarch64, where NEON is baseline; 4 floats a vector): the
   vector interface of generic_simd.h in Advanced SIMD intrinsics. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

typedef float32x4_t vf;
#define VLEN 4
/* 32 registers: 24 accumulators, the rest for weights and x. */
#define NK_ROWS 4
#define NK_TOKS 6
#define KN_VECS 4
#define KN_TOKS 6
#define VECTOR_KERNELS g2_neon_vector
#define MATMUL_FOR g2_neon_matmul_for

static inline vf vf_zero(void) { return vdupq_n_f32(0.0f); }
static inline vf vf_set1(float v) { return vdupq_n_f32(v); }
static inline vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, vf v) { vst1q_f32(p, v); }
static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vf_div(vf a, vf b) { return vdivq_f32(a, b); }
static inline vf vf_max(vf a, vf b) { return vmaxq_f32(a, b); }
static inline vf vf_min(vf a, vf b) { return vminq_f32(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }

/* Pairs, then the two pair sums: a fixed tree. */
static inline float vf_sum(vf v) {
  float32x2_t pairs = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(pairs, pairs), 0);
}

static inline vf vf_load_f16(const void *p) {
  uint16_t bits[4];
  memcpy(bits, p, sizeof bits);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits)));
}

static inline vf vf_load_bf16(const void *p) {
  uint16_t bits[4];
  memcpy(bits, p, sizeof bits);
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(bits), 16));
}

static inline uint8x8_t load_4_bytes(const void *p) {
  uint32_t bytes;
  memcpy(&bytes, p, sizeof bytes);
  return vreinterpret_u8_u32(vdup_n_u32(bytes));
}

static inline vf vf_from_i8(const void *p) {
  int16x8_t wide = vmovl_s8(vreinterpret_s8_u8(load_4_bytes(p)));
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
}

static inline vf vf_from_nibbles(const void *p, int high) {
  uint8x8_t bytes = load_4_bytes(p);
  if (high) bytes = vshr_n_u8(bytes, 4);
  bytes = vand_u8(bytes, vdup_n_u8(0x0f));
  int16x8_t wide = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(bytes)), vdupq_n_s16(8));
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
}

static inline vf vf_round(vf v) { return vrndnq_f32(v); }

static inline vf vf_exp2i(vf n) {
  int32x4_t biased = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
  return vreinterpretq_f32_s32(vshlq_n_s32(biased, 23));
}

static inline float half_to_float(uint16_t h) {
  __fp16 half;
  memcpy(&half, &h, sizeof half);
  return (float)half;
}

#include "kernels/generic_simd.h"

#else
typedef int g2_neon_not_built; /* ISO C wants a declaration in every file */
#endif
