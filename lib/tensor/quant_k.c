/* Q4_K and Q5_K quantization as ggml's reference quantizers do it, so that
   gpt2-quantize's K mixes hold llama-quantize's bytes (tools/check_llamacpp.sh
   compares them; tests/unit/test_quant_k.c holds ggml's bytes for fixed
   inputs). Each super-block of 256 values is 8 sub-blocks of 32, each
   value = step * q - offset with q in [0, nmax]:
     1. each sub-block's step and offset fitted by weighted least squares
        over a few candidate grids (fit_step_offset);
     2. the 8 steps quantized to 6 bits against the largest (d = max / 63),
        the 8 offsets likewise (dmin);
     3. every value requantized with its sub-block's final step and offset.
   Float expressions that ggml evaluates as separate roundings are separate
   statements here, so that no compiler fuses them into an FMA. */
#include "tensor/quant_k.h"

#include <math.h>
#include <string.h>

#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/qround.h"

enum { SUB = 32, SUBS = G2_QK_K / SUB };

/* The grid search of one sub-block (ggml's make_qkx2_quants, squared
   error): x ~ step * L - offset with L in [0, nmax], offset >= 0, weighted
   by w. The first grid spans [min(x, 0), max(x)] in nmax steps; then
   nsteps + 1 grids of nmax + rmin + rdelta * k steps are tried, each
   refitted in closed form, and the one of least weighted error kept.
   Each grid starts from the offset of the best fit so far (not from
   min(x, 0)): ggml's order, which the bytes depend on.
   Returns the step, *offset gets the offset; a constant sub-block (max ==
   min) gives step 0, L all 0. */
static float fit_step_offset(int nmax, const float *x, const float *w, uint8_t *L, float *offset,
                             float rmin, float rdelta, int nsteps) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < SUB; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    float wx = w[i] * x[i];
    sum_w += w[i];
    sum_x += wx;
  }
  if (min > 0) min = 0;
  if (max == min) {
    memset(L, 0, SUB);
    *offset = -min;
    return 0.0f;
  }
  float iscale = (float)nmax / (max - min);
  float step = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < SUB; i++) {
    float shifted = x[i] - min;
    L[i] = (uint8_t)g2_clamp_int(g2_nearest_int(iscale * shifted), 0, nmax);
    float approx = step * (float)L[i];
    approx += min;
    float diff = approx - x[i];
    float sq = diff * diff;
    float werr = w[i] * sq;
    best_error += werr;
  }
  uint8_t trial[SUB];
  for (int k = 0; k <= nsteps; k++) {
    float widen = rdelta * (float)k;
    float steps = rmin + widen;
    steps += (float)nmax;
    iscale = steps / (max - min); /* min: the best fit's so far, as ggml */
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < SUB; i++) {
      float shifted = x[i] - min;
      int l = g2_clamp_int(g2_nearest_int(iscale * shifted), 0, nmax);
      trial[i] = (uint8_t)l;
      float wl = w[i] * (float)l;
      float wll = wl * (float)l;
      float wlx = wl * x[i];
      sum_l += wl;
      sum_l2 += wll;
      sum_xl += wlx;
    }
    float det_a = sum_w * sum_l2, det_b = sum_l * sum_l;
    float det = det_a - det_b;
    if (!(det > 0)) continue;
    float num_a = sum_w * sum_xl, num_b = sum_x * sum_l;
    float this_step = (num_a - num_b) / det;
    float min_a = sum_l2 * sum_x, min_b = sum_l * sum_xl;
    float this_min = (min_a - min_b) / det;
    if (this_min > 0) { /* the offset is never negative: refit the step alone */
      this_min = 0;
      this_step = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < SUB; i++) {
      float approx = this_step * (float)trial[i];
      approx += this_min;
      float diff = approx - x[i];
      float sq = diff * diff;
      float werr = w[i] * sq;
      error += werr;
    }
    if (error < best_error) {
      memcpy(L, trial, SUB);
      best_error = error;
      step = this_step;
      min = this_min;
    }
  }
  *offset = -min;
  return step;
}

/* The 6-bit codes of sub-block j into the 12 bytes of scales and mins
   (the inverse of g2_k_scale_min); j runs upward, so bytes 0-7 are set
   before sub-blocks 4-7 add their top bits. */
static void pack_scale_min(unsigned char *scales, int j, uint8_t scale, uint8_t min) {
  if (j < 4) {
    scales[j] = scale;
    scales[j + 4] = min;
  } else {
    scales[j + 4] = (unsigned char)((scale & 0x0f) | ((min & 0x0f) << 4));
    scales[j - 4] |= (unsigned char)((scale >> 4) << 6);
    scales[j] |= (unsigned char)((min >> 4) << 6);
  }
}

/* A 6-bit code of v against 63 / max (ggml keeps the low byte of the
   rounded value, then caps it at 63). */
static uint8_t code6(float inv, float v) {
  uint8_t code = (uint8_t)g2_nearest_int(inv * v);
  return code < 63 ? code : 63;
}

/* One super-block: L (q per value) and the header (d, dmin, scales) of a
   Q4_K (nmax 15) or Q5_K (nmax 31) block; returns nothing, the caller packs
   L. Fit parameters are ggml's: Q4_K grids -1 + 0.1 k, k = 0..20; Q5_K
   -0.5 + 0.1 k, k = 0..15. */
static void quantize_super(int nmax, const float *x, unsigned char *head, uint8_t *L) {
  float steps[SUBS], offsets[SUBS], w[SUB];
  float max_step = 0, max_offset = 0;
  for (int j = 0; j < SUBS; j++) {
    const float *xs = x + SUB * j;
    float sum_x2 = 0;
    for (int i = 0; i < SUB; i++) {
      float sq = xs[i] * xs[i];
      sum_x2 += sq;
    }
    float rms = sqrtf(sum_x2 / SUB);
    for (int i = 0; i < SUB; i++) w[i] = rms + fabsf(xs[i]);
    steps[j] = nmax == 15 ? fit_step_offset(15, xs, w, L + SUB * j, &offsets[j], -1.0f, 0.1f, 20)
                          : fit_step_offset(31, xs, w, L + SUB * j, &offsets[j], -0.5f, 0.1f, 15);
    if (steps[j] > max_step) max_step = steps[j];
    if (offsets[j] > max_offset) max_offset = offsets[j];
  }
  float inv_step = max_step > 0 ? 63.0f / max_step : 0.0f;
  float inv_offset = max_offset > 0 ? 63.0f / max_offset : 0.0f;
  unsigned char *scales = head + 4;
  for (int j = 0; j < SUBS; j++)
    pack_scale_min(scales, j, code6(inv_step, steps[j]), code6(inv_offset, offsets[j]));
  g2_put_u16(head, g2_f32_to_f16(max_step / 63.0f));
  g2_put_u16(head + 2, g2_f32_to_f16(max_offset / 63.0f));
  float d = g2_k_half(head), dmin = g2_k_half(head + 2);
  for (int j = 0; j < SUBS; j++) {
    int scale, min;
    g2_k_scale_min(scales, j, &scale, &min);
    float step = d * (float)scale;
    if (step == 0) continue; /* keeps the fit's L */
    float offset = dmin * (float)min;
    for (int i = 0; i < SUB; i++) {
      float shifted = x[SUB * j + i] + offset;
      L[SUB * j + i] = (uint8_t)g2_clamp_int(g2_nearest_int(shifted / step), 0, nmax);
    }
  }
}

/* Q4_K: the 4-bit values of each run of 64, two sub-blocks as the low then
   the high nibbles of 32 bytes. */
static void quantize_q4_k(const float *x, unsigned char *block) {
  uint8_t L[G2_QK_K];
  memset(block, 0, 16);
  quantize_super(15, x, block, L);
  unsigned char *qs = block + 16;
  for (int run = 0; run < 4; run++)
    for (int l = 0; l < 32; l++)
      qs[32 * run + l] = (unsigned char)(L[64 * run + l] | (L[64 * run + 32 + l] << 4));
}

/* Q5_K: as Q4_K for the low 4 bits; the fifth bit of value l of sub-block
   s goes to bit s of qh[l]. */
static void quantize_q5_k(const float *x, unsigned char *block) {
  uint8_t L[G2_QK_K];
  memset(block, 0, 48);
  quantize_super(31, x, block, L);
  unsigned char *qh = block + 16, *qs = block + 48;
  for (int run = 0; run < 4; run++)
    for (int l = 0; l < 32; l++) {
      int low = L[64 * run + l], high = L[64 * run + 32 + l];
      qh[l] |= (unsigned char)(((low >> 4) << (2 * run)) | ((high >> 4) << (2 * run + 1)));
      qs[32 * run + l] = (unsigned char)((low & 0x0f) | ((high & 0x0f) << 4));
    }
}

/* Q3_K's fit of 16 values to l in [-4, 3] times a scale (ggml's
   make_q3_quants with nmax 4 and its RMSE refinement): l from the scale
   of the value of largest magnitude, then up to 5 passes that move each l
   to the value the others' least-squares scale asks for, kept where the
   weighted (x^2) fit improves. L gets l + 4; an all-zero group gives L 0
   and scale 0. */
static float fit_q3_group(const float *x, int8_t *L) {
  enum { N = 16, NMAX = 4 };
  float amax;
  float max = g2_signed_absmax(x, N, &amax);
  if (amax < 1e-15f) { /* ggml's GROUP_MAX_EPS */
    memset(L, 0, N);
    return 0.0f;
  }
  float iscale = (float)-NMAX / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < N; i++) {
    int l = g2_clamp_int(g2_nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
    L[i] = (int8_t)l;
    float w = x[i] * x[i];
    float wx = w * x[i];
    float wxl = wx * (float)l;
    float wl = w * (float)l;
    float wll = wl * (float)l;
    sumlx += wxl;
    suml2 += wll;
  }
  for (int pass = 0; pass < 5; pass++) {
    int changed = 0;
    for (int i = 0; i < N; i++) {
      float w = x[i] * x[i];
      float wx = w * x[i];
      float wxl = wx * (float)L[i];
      float slx = sumlx - wxl;
      if (!(slx > 0)) continue;
      float wl = w * (float)L[i];
      float wll = wl * (float)L[i];
      float sl2 = suml2 - wll;
      float target = x[i] * sl2;
      int new_l = g2_clamp_int(g2_nearest_int(target / slx), -NMAX, NMAX - 1);
      if (new_l == L[i]) continue;
      float wxn = wx * (float)new_l;
      float wn = w * (float)new_l;
      float wnn = wn * (float)new_l;
      slx += wxn;
      sl2 += wnn;
      float gain_new = slx * slx, gain_old = sumlx * sumlx;
      gain_new *= suml2;
      gain_old *= sl2;
      if (sl2 > 0 && gain_new > gain_old) {
        L[i] = (int8_t)new_l;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < N; i++) L[i] = (int8_t)(L[i] + NMAX);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Q3_K (110 bytes): hmask[32] (bit b of byte m: the third bit of value
   32 b + m), qs[64] (2-bit values, four runs of 32 per 128), 12 bytes of
   16 6-bit signed scales (low nibbles in bytes 0-7, two high bits each in
   bytes 8-11), F16 d: value = d * (scale - 32) * (q - 4). As
   quantize_row_q3_K_ref: a scale per group of 16 fitted, the scales coded
   against the largest (d = largest / -32), every value requantized. */
static void quantize_q3_k(const float *x, unsigned char *block) {
  int8_t L[G2_QK_K];
  float scales[16];
  float max_scale = 0, amax = 0;
  for (int g = 0; g < 16; g++) {
    scales[g] = fit_q3_group(x + 16 * g, L + 16 * g);
    float a = fabsf(scales[g]);
    if (a > amax) {
      amax = a;
      max_scale = scales[g];
    }
  }
  unsigned char *hmask = block, *qs = block + 32, *sc = block + 96;
  memset(sc, 0, 12);
  if (max_scale != 0) {
    float iscale = -32.0f / max_scale;
    for (int g = 0; g < 16; g++) {
      int8_t code = (int8_t)g2_nearest_int(iscale * scales[g]); /* ggml keeps the low byte */
      int l = g2_clamp_int(code, -32, 31) + 32;
      if (g < 8)
        sc[g] = (unsigned char)(l & 0x0f);
      else
        sc[g - 8] |= (unsigned char)((l & 0x0f) << 4);
      sc[g % 4 + 8] |= (unsigned char)((l >> 4) << (2 * (g / 4)));
    }
    g2_put_u16(block + 108, g2_f32_to_f16(1 / iscale));
  } else {
    g2_put_u16(block + 108, g2_f32_to_f16(0.0f));
  }
  float d = g2_k_half(block + 108);
  for (int g = 0; g < 16; g++) {
    int low = g < 8 ? sc[g] & 0x0f : sc[g - 8] >> 4;
    int code = (low | (((sc[8 + g % 4] >> (2 * (g / 4))) & 3) << 4)) - 32;
    float step = d * (float)code;
    if (step == 0) continue; /* keeps the fit's L */
    for (int i = 0; i < 16; i++)
      L[16 * g + i] = (int8_t)(g2_clamp_int(g2_nearest_int(x[16 * g + i] / step), -4, 3) + 4);
  }
  memset(hmask, 0, 32);
  for (int j = 0; j < G2_QK_K; j++) {
    if (L[j] > 3) {
      hmask[j % 32] |= (unsigned char)(1 << (j / 32));
      L[j] = (int8_t)(L[j] - 4);
    }
  }
  for (int half = 0; half < 2; half++)
    for (int l = 0; l < 32; l++) {
      const int8_t *q = L + 128 * half + l;
      qs[32 * half + l] = (unsigned char)(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
}

void g2_quantize_k(g2_dtype dtype, const float *in, int64_t n, unsigned char *row) {
  size_t block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
  for (int64_t i = 0; i < n; i += G2_QK_K) {
    unsigned char *block = row + (size_t)(i / G2_QK_K) * block_bytes;
    if (dtype == G2_DT_Q4_K)
      quantize_q4_k(in + i, block);
    else if (dtype == G2_DT_Q5_K)
      quantize_q5_k(in + i, block);
    else
      quantize_q3_k(in + i, block);
  }
}
