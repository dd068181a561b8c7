/* The "avx512vnni" table: the avx512 table, except that Q8_0 and Q4_0
   weights (NK) are multiplied with 8-bit activations by vpdpbusd
   (kernels/int8.h has the definition, int8_avx512.c the kernels). The
   activations are rounded to 8 bits per block of 32, so results are
   further from the oracle than the exact tables' (see tests/unit/
   test_int8.c for the measured logit error); chosen only by name for now:
   GPT2_ISA=avx512vnni on a CPU with AVX512-VNNI. */
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

/* Everything but matmul is the avx512 table's; it is read at call time
   because a constant initializer cannot copy another object's fields. */
static void layernorm(const float *x, size_t n, const float *gamma, const float *beta, float eps, float *out) {
  g2_kernels_avx512.layernorm(x, n, gamma, beta, eps, out);
}
static void gelu(float *x, size_t n) { g2_kernels_avx512.gelu(x, n); }
static void add(float *dst, const float *src, size_t n) { g2_kernels_avx512.add(dst, src, n); }
static void attention(const float *q, const void *k, const void *v, uint32_t kv_type, size_t n_kv,
                      size_t head_dim, size_t kv_stride, float scale, float *scratch, float *out) {
  g2_kernels_avx512.attention(q, k, v, kv_type, n_kv, head_dim, kv_stride, scale, scratch, out);
}
static void get_row(const g2_matrix *w, int64_t row, float *out) { g2_kernels_avx512.get_row(w, row, out); }

const g2_kernels g2_kernels_avx512vnni = {
    .name = "avx512vnni",
    .matmul = matmul,
    .layernorm = layernorm,
    .gelu = gelu,
    .add = add,
    .attention = attention,
    .get_row = get_row,
};

#else
typedef int g2_avx512vnni_not_built; /* ISO C wants a declaration in every file */
#endif
