/* For tables that differ from the avx512 one only in matmul (avx512bf16.c,
   avx512vnni.c): everything else forwards to the avx512 table. Read at call
   time, because a constant initializer cannot copy another object's
   fields. Include after kernels/kernels.h and the file's own `matmul`, on
   x86-64 only. */
#ifndef G2_AVX512_FORWARD_H
#define G2_AVX512_FORWARD_H

static void layernorm(const float *x, size_t n, const float *gamma, const float *beta, float eps, float *out) {
  g2_kernels_avx512.layernorm(x, n, gamma, beta, eps, out);
}
static void gelu(float *x, size_t n) { g2_kernels_avx512.gelu(x, n); }
static void add(float *dst, const float *src, size_t n) { g2_kernels_avx512.add(dst, src, n); }
static void attention(const float *q, size_t q_stride, size_t n_q, const void *k, const void *v,
                      uint32_t kv_type, size_t n_kv, size_t head_dim, size_t kv_stride, float scale,
                      float *scratch, float *out, size_t out_stride) {
  g2_kernels_avx512.attention(q, q_stride, n_q, k, v, kv_type, n_kv, head_dim, kv_stride, scale, scratch,
                              out, out_stride);
}
static void get_row(const g2_matrix *w, int64_t row, float *out) { g2_kernels_avx512.get_row(w, row, out); }

/* The table itself: the including file's matmul, the rest forwarded. Such
   tables exist to round activations (faster products), hence the flag. */
#define G2_AVX512_DERIVED_TABLE(table, table_name)                                                 \
  const g2_kernels table = {.name = table_name,                                                    \
                            .rounds_activations = 1,                                               \
                            .matmul = matmul,                                                      \
                            .layernorm = layernorm,                                                \
                            .gelu = gelu,                                                          \
                            .add = add,                                                            \
                            .attention = attention,                                                \
                            .get_row = get_row}

#endif
