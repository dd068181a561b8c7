/* The scalar kernels: plain C, the oracle the FP32 tables are tested
   against and the path every CPU can run. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "gpt2.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

enum { TOKEN_CHUNK = 64, ELEM_CHUNK = 256 };

/* The matmuls' buffers in the work area. */
typedef struct ref_work {
  float weights[ELEM_CHUNK];
  float acc[TOKEN_CHUNK];
} ref_work;
_Static_assert(sizeof(ref_work) <= G2_KERNEL_WORK_BYTES, "ref.c's buffers fit the work area");

/* NK: dot products of rows; each row is converted ELEM_CHUNK at a time and
   applied to up to TOKEN_CHUNK tokens, accumulating in k order. */
static void matmul_nk(const g2_matrix *w, const float *x, size_t n_tok,
                      size_t x_stride, const float *bias, float *out,
                      size_t out_stride, size_t col_begin, size_t col_end, ref_work *work) {
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  size_t n_in = (size_t)w->n_in;
  float *weights = work->weights, *acc = work->acc;
  for (size_t j = col_begin; j < col_end; j++) {
    const unsigned char *row = (const unsigned char *)w->data + j * row_bytes;
    for (size_t t0 = 0; t0 < n_tok; t0 += TOKEN_CHUNK) {
      size_t nt = n_tok - t0 < TOKEN_CHUNK ? n_tok - t0 : TOKEN_CHUNK;
      memset(acc, 0, sizeof work->acc);
      for (size_t k0 = 0; k0 < n_in; k0 += ELEM_CHUNK) {
        size_t nk = n_in - k0 < ELEM_CHUNK ? n_in - k0 : ELEM_CHUNK;
        g2_dequantize(w->dtype, row, (int64_t)k0, (int64_t)nk, weights);
        for (size_t t = 0; t < nt; t++) {
          const float *xt = x + (t0 + t) * x_stride + k0;
          for (size_t k = 0; k < nk; k++) acc[t] += xt[k] * weights[k];
        }
      }
      for (size_t t = 0; t < nt; t++)
        out[(t0 + t) * out_stride + j] = acc[t] + (bias ? bias[j] : 0.0f);
    }
  }
}

/* KN: rows of W are inputs; accumulate x[t][k] * W[k][j] into out in k order. */
static void matmul_kn(const g2_matrix *w, const float *x, size_t n_tok,
                      size_t x_stride, const float *bias, float *out,
                      size_t out_stride, size_t col_begin, size_t col_end, ref_work *work) {
  size_t n_in = (size_t)w->n_in;
  size_t width = col_end - col_begin;
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_out);
  float *weights = work->weights;
  for (size_t j0 = 0; j0 < width; j0 += ELEM_CHUNK) {
    size_t nj = width - j0 < ELEM_CHUNK ? width - j0 : ELEM_CHUNK;
    size_t first = col_begin + j0;
    for (size_t t = 0; t < n_tok; t++) memset(out + t * out_stride + first, 0, nj * sizeof(float));
    for (size_t k = 0; k < n_in; k++) {
      const unsigned char *row = (const unsigned char *)w->data + k * row_bytes;
      g2_dequantize(w->dtype, row, (int64_t)first, (int64_t)nj, weights);
      for (size_t t = 0; t < n_tok; t++) {
        float xk = x[t * x_stride + k];
        float *o = out + t * out_stride + first;
        for (size_t j = 0; j < nj; j++) o[j] += xk * weights[j];
      }
    }
    if (bias)
      for (size_t t = 0; t < n_tok; t++)
        for (size_t j = 0; j < nj; j++) out[t * out_stride + first + j] += bias[first + j];
  }
}

static void matmul_ref(const g2_matrix *w, const float *x, size_t n_tok,
                       size_t x_stride, const float *bias, float *out,
                       size_t out_stride, size_t col_begin, size_t col_end, void *work) {
  if (w->layout == G2_LAYOUT_NK)
    matmul_nk(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
  else
    matmul_kn(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

g2_matmul_fn g2_ref_matmul_for(const g2_matrix *w, int many) {
  (void)w;
  (void)many;
  return matmul_ref;
}

static void layernorm_ref(const float *x, size_t n, const float *gamma,
                          const float *beta, float eps, float *out) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; i++) sum += x[i];
  float mean = sum / (float)n;
  float sum_sq = 0.0f;
  for (size_t i = 0; i < n; i++) sum_sq += (x[i] - mean) * (x[i] - mean);
  float inv_std = 1.0f / sqrtf(sum_sq / (float)n + eps);
  for (size_t i = 0; i < n; i++) out[i] = (x[i] - mean) * inv_std * gamma[i] + beta[i];
}

static void gelu_ref(float *x, size_t n) {
  const float sqrt_2_over_pi = 0.7978845608028654f;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
  }
}

static void add_ref(float *dst, const float *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

static float kv_at(const void *base, uint32_t kv_type, size_t index) {
  if (kv_type == GPT2_KV_F16) return g2_f16_to_f32(((const uint16_t *)base)[index]);
  return ((const float *)base)[index];
}

static void attention_one(const float *q, const void *k, const void *v,
                          uint32_t kv_type, size_t n_kv, size_t head_dim,
                          size_t kv_stride, float scale, float *scratch,
                          float *out) {
  float max_score = -INFINITY;
  for (size_t p = 0; p < n_kv; p++) {
    float dot = 0.0f;
    for (size_t d = 0; d < head_dim; d++) dot += q[d] * kv_at(k, kv_type, p * kv_stride + d);
    scratch[p] = dot * scale;
    if (scratch[p] > max_score) max_score = scratch[p];
  }
  float sum = 0.0f;
  for (size_t p = 0; p < n_kv; p++) {
    scratch[p] = expf(scratch[p] - max_score);
    sum += scratch[p];
  }
  float inv_sum = 1.0f / sum;
  for (size_t d = 0; d < head_dim; d++) out[d] = 0.0f;
  for (size_t p = 0; p < n_kv; p++) {
    float weight = scratch[p] * inv_sum;
    for (size_t d = 0; d < head_dim; d++) out[d] += weight * kv_at(v, kv_type, p * kv_stride + d);
  }
}

/* Query by query. */
static void attention_ref(const float *q, size_t q_stride, size_t n_q,
                          const void *k, const void *v, uint32_t kv_type,
                          size_t n_kv, size_t head_dim, size_t kv_stride,
                          float scale, float *scratch, float *out,
                          size_t out_stride) {
  for (size_t i = 0; i < n_q; i++)
    attention_one(q + i * q_stride, k, v, kv_type, n_kv + i, head_dim,
                  kv_stride, scale, scratch, out + i * out_stride);
}

static void get_row_ref(const g2_matrix *w, int64_t row, float *out) {
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  g2_dequantize(w->dtype, (const unsigned char *)w->data + (size_t)row * row_bytes, 0, w->n_in, out);
}

const g2_vector_kernels g2_ref_vector = {
    .layernorm = layernorm_ref,
    .gelu = gelu_ref,
    .add = add_ref,
    .attention = attention_ref,
    .get_row = get_row_ref,
};
