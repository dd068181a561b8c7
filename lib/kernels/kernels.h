/* The kernel table: every numeric inner loop of the forward pass, in one
   struct per instruction set. `ref` (kernels/ref.c) is the scalar oracle
   that every SIMD table is tested against. A table is chosen once per model
   (kernels/dispatch.c) and stored in it; there is no global state.

   Determinism rule for every implementation: the value of an output element
   must not depend on how the caller splits the work (column ranges, token
   counts, thread counts). Reductions run in an order fixed by the element's
   own index only. */
#ifndef G2_KERNELS_H
#define G2_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"

typedef struct g2_kernels {
  const char *name; /* "scalar", "avx2", "avx512", "avx512bf16",
                        "avx512vnni", "neon" */
  /* Nonzero: some products round the activations below FP32 (faster, less
     exact); gpt2_load_params.fp32_products = 1 excludes such tables. */
  int rounds_activations;

  /* out[t*out_stride + j] = bias[j] + sum_k x[t*x_stride + k] * W(j, k)
     for t in [0, n_tok), j in [col_begin, col_end). bias may be NULL.
     Any dtype/layout of g2_matrix; a SIMD table may forward combinations it
     does not accelerate to the scalar one. */
  void (*matmul)(const g2_matrix *w, const float *x, size_t n_tok,
                 size_t x_stride, const float *bias, float *out,
                 size_t out_stride, size_t col_begin, size_t col_end);

  /* out[0..n) = (x - mean) / sqrt(var + eps) * gamma + beta, mean and
     variance over x[0..n). */
  void (*layernorm)(const float *x, size_t n, const float *gamma,
                    const float *beta, float eps, float *out);

  /* x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place. */
  void (*gelu)(float *x, size_t n);

  /* dst[i] += src[i]. */
  void (*add)(float *dst, const float *src, size_t n);

  /* One head, a block of n_q >= 1 consecutive queries, causal: query i
     (q + i * q_stride) attends to the cached positions p in [0, n_kv + i),
       out[i * out_stride + 0..head_dim) = softmax(q_i . k_p * scale) . v_p.
     k and v point at the head's first element of position 0, with
     positions kv_stride elements apart, in kv_type (GPT2_KV_F32 or
     GPT2_KV_F16). scratch holds n_q * (n_kv + n_q - 1) floats. Every
     output has the same bits as a call for its query alone (n_q = 1,
     n_kv + i): a block only shares the loads of K and V rows. */
  void (*attention)(const float *q, size_t q_stride, size_t n_q,
                    const void *k, const void *v, uint32_t kv_type,
                    size_t n_kv, size_t head_dim, size_t kv_stride,
                    float scale, float *scratch, float *out,
                    size_t out_stride);

  /* Row `row` of an NK matrix, dequantized to n_in floats (embeddings). */
  void (*get_row)(const g2_matrix *w, int64_t row, float *out);
} g2_kernels;

/* The scalar oracle. Always available. */
extern const g2_kernels g2_kernels_ref;
/* SIMD tables, each defined only where its architecture is compiled. */
#if defined(__x86_64__)
extern const g2_kernels g2_kernels_avx2;
extern const g2_kernels g2_kernels_avx512;
/* avx512 with Q8_0/Q4_0 products on 8-bit activations by vpdpbusd
   (kernels/int8.h): the default where AVX512-VNNI exists without BF16. */
extern const g2_kernels g2_kernels_avx512vnni;
/* avx512vnni plus BF16-weight products by vdpbf16ps (activations rounded
   to bfloat16): the default where AVX512-BF16 exists (such CPUs all have
   VNNI too). */
extern const g2_kernels g2_kernels_avx512bf16;
#endif
#if defined(__aarch64__)
extern const g2_kernels g2_kernels_neon;
#endif

/* Picks the fastest table this CPU runs (skipping those that round
   activations if fp32_only), or the one named by `forced` (e.g.
   getenv("GPT2_ISA"), whatever fp32_only says). Returns NULL if `forced`
   names an unknown table or one this CPU cannot run. */
const g2_kernels *g2_kernels_select(const char *forced, int fp32_only);

#endif
