/* The scalar oracle of the BF16 products on bfloat16 activations
   (definition in kernels/bf16.h): every step written out plainly. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "core/half.h"
#include "kernels/bf16.h"

/* A subnormal becomes a zero of its sign (the instructions' DAZ/FTZ). */
static float flush(float v) { return fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : v; }

/* Step 1: nearest-even to 8 significant bits, subnormal inputs flushed. */
static float activation(float x) { return g2_bf16_to_f32(g2_f32_to_bf16(flush(x))); }

/* W(j, k) as a float, 0 past n_in. */
static float weight(const g2_matrix *w, size_t j, size_t k) {
  if (k >= (size_t)w->n_in) return 0.0f;
  const uint16_t *data = w->data;
  size_t at = w->layout == G2_LAYOUT_NK ? j * (size_t)w->n_in + k : k * (size_t)w->n_out + j;
  return flush(g2_bf16_to_f32(data[at]));
}

void g2_bf16_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                        const float *bias, float *out, size_t out_stride, size_t col_begin,
                        size_t col_end) {
  size_t n_in = (size_t)w->n_in;
  for (size_t t = 0; t < n_tok; t++) {
    const float *xt = x + t * x_stride;
    for (size_t j = col_begin; j < col_end; j++) {
      float chain = 0.0f;
      for (size_t k = 0; k < n_in; k += 2) {
        float a_odd = k + 1 < n_in ? activation(xt[k + 1]) : 0.0f;
        chain = flush(chain + a_odd * weight(w, j, k + 1));
        chain = flush(chain + activation(xt[k]) * weight(w, j, k));
      }
      out[t * out_stride + j] = chain + (bias ? bias[j] : 0.0f);
    }
  }
}
