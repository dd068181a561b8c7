/* The "avx512vnni" table: the avx512 table, except that Q8_0 and Q4_0
   weights (NK) are multiplied with 8-bit activations by vpdpbusd
   (kernels/int8.h has the definition, int8_avx512.c the kernels). The
   activations are rounded to 8 bits per block of 32, as llama.cpp does, so
   results are further from the oracle than the exact tables' (see
   tests/unit/test_int8.c for the measured logit error). The default on
   CPUs with AVX512-VNNI but not AVX512-BF16 (the avx512bf16 table adds BF16
   to it); gpt2_load_params.fp32_products = 1 avoids it. */
#if defined(__x86_64__)

#include "kernels/int8.h"
#include "kernels/kernels.h"

static void matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                   float *out, size_t out_stride, size_t col_begin, size_t col_end) {
  if (g2_int8_supported(w))
    g2_int8_vnni_matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end);
  else
    g2_kernels_avx512.matmul(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end);
}

#include "kernels/avx512_forward.h"

G2_AVX512_DERIVED_TABLE(g2_kernels_avx512vnni, "avx512vnni");

#else
typedef int g2_avx512vnni_not_built; /* ISO C wants a declaration in every file */
#endif
