/* Every SIMD kernel table this CPU runs, against the scalar oracle and a
   float64 evaluation, on random inputs with odd sizes and tails; and the
   determinism rule: an output element has the same bits however the work
   is split into column ranges and token batches. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "core/half.h"
#include "gpt2.h"
#include "harness.h"
#include "split_matmul.h"
#include "test_random.h"
#include "kernels/bf16.h"
#include "kernels/int8.h"
#include "kernels/kquant_int8.h"
#include "kernels/kernels.h"
#include "kernels/q32_int8.h"
#include "tensor/kquant.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"

static void fill(float *a, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) a[i] = uniform(lo, hi);
}

static const float sentinel = -12345.0f;

/* The oracle table, and the matmuls' work area (kernels.h), one thread. */
static const g2_kernels *scalar;
static g2_work work[1];

/* A random matrix stored as dtype/layout, and its elements as the kernels
   must see them (g2_dequantize of the stored rows). */
typedef struct test_matrix {
  g2_matrix m;
  unsigned char *storage;
  float *dense; /* [n_out][n_in] */
} test_matrix;

static test_matrix make_matrix(g2_dtype dtype, g2_layout layout, size_t n_out, size_t n_in) {
  test_matrix t;
  size_t rows = layout == G2_LAYOUT_NK ? n_out : n_in;
  size_t cols = layout == G2_LAYOUT_NK ? n_in : n_out;
  size_t row_bytes = g2_dtype_row_bytes(dtype, (int64_t)cols);
  t.storage = malloc(rows * row_bytes + 64);
  t.dense = malloc(n_out * n_in * sizeof(float) + 4);
  float *row = malloc(cols * sizeof(float) + 4);
  for (size_t r = 0; r < rows; r++) {
    fill(row, cols, -1.0f, 1.0f);
    g2_quantize(dtype, row, (int64_t)cols, t.storage + r * row_bytes);
    g2_dequantize(dtype, t.storage + r * row_bytes, 0, (int64_t)cols, row);
    for (size_t c = 0; c < cols; c++) {
      size_t j = layout == G2_LAYOUT_NK ? r : c, k = layout == G2_LAYOUT_NK ? c : r;
      t.dense[j * n_in + k] = row[c];
    }
  }
  free(row);
  t.m.data = t.storage;
  t.m.dtype = dtype;
  t.m.layout = layout;
  t.m.n_out = (int64_t)n_out;
  t.m.n_in = (int64_t)n_in;
  return t;
}

static void free_matrix(test_matrix *t) {
  free(t->storage);
  free(t->dense);
}

/* The K types of 256-value super-blocks. */
static const g2_dtype k_types[] = {G2_DT_Q6_K, G2_DT_Q4_K, G2_DT_Q5_K, G2_DT_Q2_K, G2_DT_Q3_K, G2_DT_IQ4_XS};
enum { N_K_TYPES = sizeof k_types / sizeof k_types[0] };

/* The types of 32-value blocks that kquant.h unpacks beside the K types. */
static const g2_dtype b32_types[] = {G2_DT_Q4_1, G2_DT_Q5_0, G2_DT_Q5_1, G2_DT_IQ4_NL};
enum { N_B32_TYPES = sizeof b32_types / sizeof b32_types[0] };

/* Rows of the types kquant.h unpacks are not all produced by g2_quantize:
   random bytes with small F16 scales (d, and dmin or m where the type has
   one: g2_k_has_offset) make valid blocks. g2_kq8_d_offset is 0 for the
   32-value types, whose d (then m) leads the block. */
static test_matrix make_k_matrix(g2_dtype dtype, size_t n_out, size_t n_in) {
  test_matrix t;
  size_t row_bytes = g2_dtype_row_bytes(dtype, (int64_t)n_in);
  size_t block_bytes = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
  t.storage = malloc(n_out * row_bytes);
  t.dense = malloc(n_out * n_in * sizeof(float));
  for (size_t i = 0; i < n_out * row_bytes; i++) t.storage[i] = (unsigned char)next_u32();
  for (size_t b = 0; b < n_out * row_bytes / block_bytes; b++) {
    unsigned char *block = t.storage + b * block_bytes;
    uint16_t d = g2_f32_to_f16(uniform(1e-4f, 1e-3f)), dmin = g2_f32_to_f16(uniform(1e-4f, 1e-3f));
    memcpy(block + g2_kq8_d_offset(dtype), &d, 2);
    if (g2_k_has_offset(dtype)) memcpy(block + g2_kq8_d_offset(dtype) + 2, &dmin, 2);
  }
  for (size_t j = 0; j < n_out; j++)
    g2_dequantize(dtype, t.storage + j * row_bytes, 0, (int64_t)n_in, t.dense + j * n_in);
  t.m.data = t.storage;
  t.m.dtype = dtype;
  t.m.layout = G2_LAYOUT_NK;
  t.m.n_out = (int64_t)n_out;
  t.m.n_in = (int64_t)n_in;
  return t;
}

typedef struct shape {
  size_t n_in, n_out, n_tok;
} shape;

/* Worst error of `out` against float64 sums, in units of the rounding
   error bound: any float summation order (with or without fused
   multiply-adds, plus the bias add) of n products is within
   gamma_(n+2) * (sum |x_k w_k| + |bias|), gamma_m = m u / (1 - m u),
   u = 2^-24 (Higham, Accuracy and Stability, section 3.1). A result <= 1
   is within the bound; a dropped, repeated or misplaced term is far
   outside it at these sizes. */
static double error_vs_exact(const test_matrix *t, const float *x, size_t x_stride, const float *bias,
                             const float *out, size_t out_stride, size_t n_tok, size_t col_begin,
                             size_t col_end, double rounded_inputs) {
  size_t n_in = (size_t)t->m.n_in;
  double u = ldexp(1.0, -24), worst = 0.0;
  double gamma = (double)(n_in + 2) * u / (1.0 - (double)(n_in + 2) * u) + rounded_inputs;
  for (size_t tok = 0; tok < n_tok; tok++)
    for (size_t j = col_begin; j < col_end; j++) {
      double sum = bias ? bias[j] : 0.0, magnitude = bias ? fabs(bias[j]) : 0.0;
      for (size_t k = 0; k < n_in; k++) {
        double term = (double)x[tok * x_stride + k] * t->dense[j * n_in + k];
        sum += term;
        magnitude += fabs(term);
      }
      double err = fabs((double)out[tok * out_stride + j] - sum);
      double bound = gamma * magnitude + 1e-30;
      if (err / bound > worst) worst = err / bound;
      if (isnan(out[tok * out_stride + j])) worst = INFINITY;
    }
  return worst;
}

static int outside_untouched(const float *out, size_t out_stride, size_t n_tok, size_t n_out,
                             size_t col_begin, size_t col_end) {
  for (size_t tok = 0; tok < n_tok; tok++)
    for (size_t j = 0; j < out_stride; j++) {
      int inside = j >= col_begin && j < col_end && j < n_out;
      if (!inside && out[tok * out_stride + j] != sentinel) return 0;
    }
  return 1;
}

static void set_sentinel(float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = sentinel;
}

typedef void (*oracle_fn)(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                          float *out, size_t out_stride, size_t col_begin, size_t col_end);

/* The scalar oracle of the path that gives table kt's products for w when
   that path rounds the activations (kernels/int8.h, kernels/bf16.h); NULL
   for the FP32 paths. */
static oracle_fn rounding_oracle(const g2_kernels *kt, const g2_matrix *w) {
#if defined(__x86_64__)
  g2_matmul_fn chosen = g2_kernels_matmul(kt, w, 2);
  if (chosen == g2_int8_vnni_matmul_for(w, 1) || chosen == g2_int8_avx2_matmul_for(w, 1)) return g2_int8_ref_matmul;
  if (chosen == g2_kq8_matmul_for(w, 1) || chosen == g2_kq8_vnni_matmul_for(w, 1)) return g2_kq8_ref_matmul;
  if (chosen == g2_q32_matmul_for(w, 1) || chosen == g2_q32_vnni_matmul_for(w, 1)) return g2_q32_ref_matmul;
  if (chosen == g2_bf16_matmul_for(w, 1)) return g2_bf16_ref_matmul;
#elif defined(__aarch64__)
  g2_matmul_fn chosen = g2_kernels_matmul(kt, w, 2);
  if (chosen == g2_int8_neondot_matmul_for(w, 1)) return g2_int8_ref_matmul;
  if (chosen == g2_kq8_neondot_matmul_for(w, 1)) return g2_kq8_ref_matmul;
#else
  (void)kt;
  (void)w;
#endif
  return NULL;
}

/* One table, one matrix: accuracy on a column sub-range with strides, and
   the determinism rule against the same table's one-call result. */
static void check_matmul(const g2_kernels *kt, const test_matrix *t, size_t n_tok, int with_bias) {
  size_t n_in = (size_t)t->m.n_in, n_out = (size_t)t->m.n_out;
  size_t x_stride = n_in + 3, out_stride = n_out + 5;
  float *x = malloc((n_tok * x_stride + 1) * sizeof(float));
  float *bias = malloc(n_out * sizeof(float));
  float *whole = malloc(n_tok * out_stride * sizeof(float));
  float *split = malloc(n_tok * out_stride * sizeof(float));
  fill(x, n_tok * x_stride, -1.0f, 1.0f);
  fill(bias, n_out, -1.0f, 1.0f);
  const float *b = with_bias ? bias : NULL;
  const char *dt = g2_dtype_name(t->m.dtype), *lay = t->m.layout == G2_LAYOUT_NK ? "NK" : "KN";

  /* Accuracy on an odd sub-range [c0, c1). */
  size_t c0 = n_out > 4 ? 3 : 0, c1 = n_out > 4 ? n_out - 1 : n_out;
  set_sentinel(whole, n_tok * out_stride);
  g2_matmul(kt, &t->m, x, n_tok, x_stride, b, whole, out_stride, c0, c1, work);
  /* Paths that round the activations (avx512vnni's, avx512bf16's and
     avx2int8's Q8_0/Q4_0 products on 8-bit activations, avx512bf16's BF16 products on
     bfloat16 ones): held to their own scalar oracles, bitwise. */
  oracle_fn rounding = rounding_oracle(kt, &t->m);
  if (rounding) {
    float *oracle = malloc(n_tok * out_stride * sizeof(float));
    set_sentinel(oracle, n_tok * out_stride);
    rounding(&t->m, x, n_tok, x_stride, b, oracle, out_stride, c0, c1);
    CHECK(memcmp(oracle, whole, n_tok * out_stride * sizeof(float)) == 0,
          "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu cols [%zu,%zu) bias=%d: the bits of its %s oracle",
          kt->name, dt, lay, n_in, n_out, n_tok, c0, c1, with_bias,
          rounding == g2_bf16_ref_matmul ? "bf16" : "int8");
    free(oracle);
  }
  /* The int8 paths' accuracy is tests/unit/test_int8.c's subject. BF16
     activations: each product is off by at most 2^-9 of itself (round to
     nearest, 8 significant bits), 2^-8 with room for flushed subnormals. */
  if (rounding != g2_int8_ref_matmul && rounding != g2_kq8_ref_matmul && rounding != g2_q32_ref_matmul) {
    int bf16_products = rounding == g2_bf16_ref_matmul;
    double err = error_vs_exact(t, x, x_stride, b, whole, out_stride, n_tok, c0, c1,
                                bf16_products ? ldexp(1.0, -8) : 0.0);
    CHECK(err <= 1.0, "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu cols [%zu,%zu) bias=%d: error %.3f of bound",
          kt->name, dt, lay, n_in, n_out, n_tok, c0, c1, with_bias, err);
  }
  CHECK(outside_untouched(whole, out_stride, n_tok, n_out, c0, c1),
        "%s matmul %s %s n_out=%zu writes only columns [%zu,%zu) of its rows", kt->name, dt, lay, n_out, c0, c1);

  /* Determinism: all columns at once, then split three ways. */
  set_sentinel(whole, n_tok * out_stride);
  g2_matmul(kt, &t->m, x, n_tok, x_stride, b, whole, out_stride, 0, n_out, work);

  set_sentinel(split, n_tok * out_stride);
  for (size_t j = 0; j < n_out;) { /* odd column ranges */
    size_t width = 1 + next_u32() % 37;
    size_t end = j + width < n_out ? j + width : n_out;
    g2_matmul(kt, &t->m, x, n_tok, x_stride, b, split, out_stride, j, end, work);
    j = end;
  }
  CHECK(memcmp(whole, split, n_tok * out_stride * sizeof(float)) == 0,
        "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu: same bits with odd column splits", kt->name, dt, lay,
        n_in, n_out, n_tok);

  set_sentinel(split, n_tok * out_stride);
  slice_matmul(kt, &t->m, x, n_tok, x_stride, b, split, out_stride, work);
  CHECK(memcmp(whole, split, n_tok * out_stride * sizeof(float)) == 0,
        "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu: same bits in column slices of one product on one work area",
        kt->name, dt, lay, n_in, n_out, n_tok);

  set_sentinel(split, n_tok * out_stride);
  for (size_t tok = 0; tok < n_tok; tok++)
    g2_matmul(kt, &t->m, x + tok * x_stride, 1, x_stride, b, split + tok * out_stride, out_stride, 0, n_out, work);
  CHECK(memcmp(whole, split, n_tok * out_stride * sizeof(float)) == 0,
        "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu: same bits one token at a time", kt->name, dt, lay, n_in,
        n_out, n_tok);

  set_sentinel(split, n_tok * out_stride);
  for (size_t tok = 0; tok < n_tok;) { /* token batches of random sizes and column halves */
    size_t count = 1 + next_u32() % 9;
    if (tok + count > n_tok) count = n_tok - tok;
    size_t mid = n_out / 2 + (next_u32() % 3);
    if (mid > n_out) mid = n_out;
    g2_matmul(kt, &t->m, x + tok * x_stride, count, x_stride, b, split + tok * out_stride, out_stride, 0, mid, work);
    g2_matmul(kt, &t->m, x + tok * x_stride, count, x_stride, b, split + tok * out_stride, out_stride, mid, n_out, work);
    tok += count;
  }
  CHECK(memcmp(whole, split, n_tok * out_stride * sizeof(float)) == 0,
        "%s matmul %s %s n_in=%zu n_out=%zu n_tok=%zu: same bits in random token batches", kt->name, dt, lay,
        n_in, n_out, n_tok);

  free(x);
  free(bias);
  free(whole);
  free(split);
}

static void test_matmul(const g2_kernels *kt) {
  static const shape float_shapes[] = {
      {1, 1, 1},    {3, 17, 2},   {17, 3, 7},   {33, 97, 13}, {97, 33, 1},
      {769, 130, 9}, {768, 70, 1}, {64, 257, 14}, {16, 48, 6}, {1100, 37, 10},
      /* NK batches walk rows from 1536 on in spans of k (generic_simd.h's NK_KC), the last with a tail */
      {1600, 13, 17}, {3100, 7, 9},
  };
  static const shape block_shapes[] = {
      {32, 1, 1}, {32, 17, 3}, {64, 33, 13}, {96, 97, 1}, {800, 21, 9}, {768, 40, 7}, {4128, 9, 7},
  };
  static const g2_dtype float_types[] = {G2_DT_F32, G2_DT_F16, G2_DT_BF16};
  static const g2_dtype block_types[] = {G2_DT_Q8_0, G2_DT_Q4_0};
  size_t n_float_shapes = sizeof float_shapes / sizeof float_shapes[0];
  size_t n_block_shapes = sizeof block_shapes / sizeof block_shapes[0];
  for (size_t d = 0; d < 3; d++)
    for (int layout = 0; layout < 2; layout++)
      for (size_t s = 0; s < n_float_shapes; s++) {
        const shape *sh = &float_shapes[s];
        test_matrix t = make_matrix(float_types[d], (g2_layout)layout, sh->n_out, sh->n_in);
        check_matmul(kt, &t, sh->n_tok, (int)(s % 2 == 0));
        free_matrix(&t);
      }
  for (size_t d = 0; d < 2; d++)
    for (size_t s = 0; s < n_block_shapes; s++) {
      const shape *sh = &block_shapes[s];
      test_matrix t = make_matrix(block_types[d], G2_LAYOUT_NK, sh->n_out, sh->n_in);
      check_matmul(kt, &t, sh->n_tok, (int)(s % 2 == 0));
      free_matrix(&t);
    }
  /* BF16 batches longer than the avx512bf16 table's token block (264), in
     blocks of unequal sizes */
  for (int layout = 0; layout < 2; layout++) {
    test_matrix t = make_matrix(G2_DT_BF16, (g2_layout)layout, 41, 259);
    check_matmul(kt, &t, 509, layout);
    free_matrix(&t);
  }
}

/* Small batches (generating several sequences: the streaming paths for
   n_tok below each table's batch threshold, and the batch paths just
   above it): every n_tok in 2..33, every type and layout, with the bits
   of one token at a time (the determinism rule), on shapes with tails in
   n_in (an odd number of blocks) and in the columns; and check_matmul's
   oracle or error bound on a few of them. */
static void test_small_batches(const g2_kernels *kt) {
  static const struct {
    g2_dtype dtype;
    g2_layout layout;
  } cases[] = {{G2_DT_F32, G2_LAYOUT_KN}, {G2_DT_F16, G2_LAYOUT_KN}, {G2_DT_BF16, G2_LAYOUT_KN},
               {G2_DT_F32, G2_LAYOUT_NK}, {G2_DT_F16, G2_LAYOUT_NK}, {G2_DT_BF16, G2_LAYOUT_NK},
               {G2_DT_Q8_0, G2_LAYOUT_NK}, {G2_DT_Q4_0, G2_LAYOUT_NK}};
  enum { MAX_TOK = 33, N_OUT = 139 };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int block_type = cases[c].dtype == G2_DT_Q8_0 || cases[c].dtype == G2_DT_Q4_0;
    size_t n_in = block_type ? 288 : 291, x_stride = n_in + 1, out_stride = N_OUT + 2;
    test_matrix t = make_matrix(cases[c].dtype, cases[c].layout, N_OUT, n_in);
    float *x = malloc(MAX_TOK * x_stride * sizeof(float));
    float *bias = malloc(N_OUT * sizeof(float));
    float *whole = malloc(MAX_TOK * out_stride * sizeof(float));
    float *single = malloc(MAX_TOK * out_stride * sizeof(float));
    fill(x, MAX_TOK * x_stride, -1.0f, 1.0f);
    fill(bias, N_OUT, -1.0f, 1.0f);
    set_sentinel(single, MAX_TOK * out_stride);
    for (size_t tok = 0; tok < MAX_TOK; tok++)
      g2_matmul(kt, &t.m, x + tok * x_stride, 1, x_stride, bias, single + tok * out_stride, out_stride, 0, N_OUT,
                work);
    int same = 1;
    size_t first_bad = 0;
    for (size_t n_tok = 2; n_tok <= MAX_TOK; n_tok++) {
      set_sentinel(whole, MAX_TOK * out_stride);
      g2_matmul(kt, &t.m, x, n_tok, x_stride, bias, whole, out_stride, 0, N_OUT, work);
      if (same && memcmp(whole, single, n_tok * out_stride * sizeof(float)) != 0) {
        same = 0;
        first_bad = n_tok;
      }
    }
    CHECK(same, "%s matmul %s %s n_in=%zu n_out=%d: small batches n_tok 2..%d have the bits of one token at a "
          "time (first n_tok that differs: %zu, 0 = none)", kt->name, g2_dtype_name(cases[c].dtype),
          cases[c].layout == G2_LAYOUT_KN ? "KN" : "NK", n_in, N_OUT, MAX_TOK, first_bad);
    static const size_t checked[] = {2, 3, 4, 5, 16, 20};
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) check_matmul(kt, &t, checked[i], (int)(i % 2));
    free(x);
    free(bias);
    free(whole);
    free(single);
    free_matrix(&t);
  }
}

/* The types kquant.h unpacks (read from GGUF files only): products within
   the bound for one token (unpacked in registers) and for batches (through
   the dequantized panel), with check_matmul's bitwise checks of splits and
   of batches against one token at a time (both paths run the same chains),
   get_row bitwise g2_dequantize, and on every table but the oracle a SIMD
   function for one token and for batches (no scalar fallback). The 32-value
   block types also take rows that end in a part of a 256-value span (1600,
   4128). */
static void test_k_types(const g2_kernels *kt) {
  /* 6400 and 5120: XL's and large's mlp_down, whose batches the FP32
     tables convert in spans of 1024 values, the last of 256 (6400) */
  static const shape shapes[] = {{768, 37, 1}, {768, 37, 5},  {512, 19, 1},  {512, 19, 3},
                                 {6400, 9, 1}, {5120, 7, 3},  {1600, 13, 1}, {1600, 13, 4},
                                 {32, 5, 2},   {4128, 6, 3}};
  for (size_t d = 0; d < N_K_TYPES + N_B32_TYPES; d++) {
    g2_dtype dtype = d < N_K_TYPES ? k_types[d] : b32_types[d - N_K_TYPES];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      if (shapes[s].n_in % (size_t)g2_dtype_block_size(dtype) != 0) continue;
      test_matrix t = make_k_matrix(dtype, shapes[s].n_out, shapes[s].n_in);
      check_matmul(kt, &t, shapes[s].n_tok, (int)(s % 2 == 0));
      if (strcmp(kt->name, "scalar") != 0) {
        g2_matmul_fn one = g2_kernels_matmul(kt, &t.m, 1), many = g2_kernels_matmul(kt, &t.m, 2);
        g2_matmul_fn scalar_one = g2_ref_matmul_for(&t.m, 0), scalar_many = g2_ref_matmul_for(&t.m, 1);
        CHECK(one != scalar_one && one != scalar_many && many != scalar_one && many != scalar_many,
              "%s %s n_in=%zu: SIMD products for one token and for batches (no scalar fallback)", kt->name,
              g2_dtype_name(dtype), shapes[s].n_in);
      }
      if (s == 0) {
        float want[768], got[768];
        size_t row = 11;
        g2_dequantize(dtype, t.storage + row * g2_dtype_row_bytes(dtype, 768), 0, 768, want);
        kt->vec->get_row(&t.m, (int64_t)row, got);
        CHECK(memcmp(want, got, sizeof want) == 0, "%s get_row %s: the bits of g2_dequantize", kt->name,
              g2_dtype_name(dtype));
      }
      free_matrix(&t);
    }
  }
}

/* Bits of a and b equal, or both NaN: x - (-m) and x + m (Q4_1, Q5_1 with a
   NaN min) give NaNs of opposite signs. */
static int same_values(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(a + i, b + i, sizeof(float)) != 0 && !(isnan(a[i]) && isnan(b[i]))) return 0;
  return 1;
}

/* kquant.h's unpacking of each of its ten types against g2_dequantize
   (quant.c; dequant.c for the seven types it does not share with
   kquant.h), value by value: step * q - offset in the test's own plain C,
   and each table's get_row, which unpacks through the code of its
   products (dequantize_k_row in generic_simd.h). Random bytes under F16
   scales and mins drawn from 65504, -65504, the smallest and largest
   subnormals, +-0, 1, infinity, NaN and small random values, so every
   nibble, bit pair, hmask bit, 6-bit scale and grid index is met. Rows of
   1600 for the 32-value types end in a half span. */
static void test_unpack_values(const g2_kernels *kt) {
  static const uint16_t extremes[] = {0x7bff, 0xfbff, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x3c00, 0x7c00, 0x7e00};
  enum { N_ROWS = 24, N_EXTREMES = sizeof extremes / sizeof extremes[0] };
  for (size_t d = 0; d < N_K_TYPES + N_B32_TYPES; d++) {
    g2_dtype dtype = d < N_K_TYPES ? k_types[d] : b32_types[d - N_K_TYPES];
    int b32 = g2_is_b32_type(dtype);
    size_t n_in = b32 ? 1600 : 1024, block = (size_t)g2_dtype_block_size(dtype);
    size_t block_bytes = g2_dtype_row_bytes(dtype, (int64_t)block);
    test_matrix t = make_k_matrix(dtype, N_ROWS, n_in);
    size_t row_bytes = g2_dtype_row_bytes(dtype, (int64_t)n_in);
    for (size_t b = 0; b < N_ROWS * n_in / block; b++) {
      unsigned char *scales = t.storage + b * block_bytes + g2_kq8_d_offset(dtype);
      for (int i = 0; i < 1 + g2_k_has_offset(dtype); i++) { /* d, and dmin or m */
        uint32_t pick = next_u32() % (N_EXTREMES + 4); /* some blocks keep their small random scales */
        if (pick < N_EXTREMES) memcpy(scales + 2 * i, &extremes[pick], 2);
      }
    }
    int unpacked = 1, rows = 1;
    float want[1600], got[1600];
    for (size_t r = 0; r < N_ROWS; r++) {
      const unsigned char *row = t.storage + r * row_bytes;
      g2_dequantize(dtype, row, 0, (int64_t)n_in, want);
      kt->vec->get_row(&t.m, (int64_t)r, got);
      rows &= same_values(want, got, n_in);
      if (kt != scalar) continue;
      for (size_t k = 0; k < n_in; k += block) {
        int8_t q[G2_QK_K];
        float step[G2_K_GROUPS_MAX], offset[G2_K_GROUPS_MAX];
        int group = 32;
        if (b32)
          g2_b32_unpack(dtype, row + k / block * block_bytes, q, step, offset);
        else
          group = g2_k_unpack(dtype, row + k / block * block_bytes, q, step, offset);
        for (size_t i = 0; i < block; i++) {
          float scaled = step[i / (size_t)group] * (float)q[i];
          got[k + i] = scaled - offset[i / (size_t)group];
        }
      }
      unpacked &= same_values(want, got, n_in);
    }
    if (kt == scalar)
      CHECK(unpacked, "kquant.h %s: step * q - offset is g2_dequantize's value, value by value (random and "
            "extreme blocks, F16 scales 65504 to subnormal, inf, NaN)", g2_dtype_name(dtype));
    CHECK(rows, "%s get_row %s, random and extreme blocks: g2_dequantize's values", kt->name, g2_dtype_name(dtype));
    free_matrix(&t);
  }
}

/* On the FP32 tables (avx2, avx512, neon) every GPT-2 shape of the types
   kquant.h unpacks runs the table's own SIMD finder, one token and
   batches: no scalar fallback (the int8 tables' coverage is
   tests/unit/test_q32.c's and test_int8's). */
static void test_fp32_coverage(const g2_kernels *kt) {
  static const int64_t n_ins[] = {768, 1024, 1280, 1600, 3072, 4096, 5120, 6400};
  g2_matmul_finder simd = kt->matmul_finders[0];
  for (size_t d = 0; d < N_K_TYPES + N_B32_TYPES; d++) {
    g2_dtype dtype = d < N_K_TYPES ? k_types[d] : b32_types[d - N_K_TYPES];
    int taken = 1, shapes = 0;
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
      if (n_ins[s] % g2_dtype_block_size(dtype) != 0) continue;
      static const int64_t n_outs[] = {768, 2304, 3072, 50257};
      for (size_t o = 0; o < sizeof n_outs / sizeof n_outs[0]; o++) {
        g2_matrix w = {NULL, dtype, G2_LAYOUT_NK, n_outs[o], n_ins[s], NULL};
        for (int many = 0; many <= 1; many++) {
          g2_matmul_fn fn = g2_kernels_matmul(kt, &w, many ? 2 : 1);
          taken &= fn && fn == simd(&w, many) && fn != g2_ref_matmul_for(&w, many);
        }
        shapes++;
      }
    }
    CHECK(taken && shapes > 0, "%s %s: all %d GPT-2 shapes run the table's SIMD products, one token and batches",
          kt->name, g2_dtype_name(dtype), shapes);
  }
}

/* The K-type int8 definition (kernels/kquant_int8.h, its oracle) against
   the exact products of the same weights (float64 sums of g2_dequantize's
   values), 3 tokens of uniform activations in [-1, 1]:
   - worst case: rounding an activation to the step d_x of its 256-block
     moves it by at most d_x / 2, so an output is off by at most
     sum_b d_x,b / 2 * sum_{i in b} |w_i|; 1e-3 of that bound added for the
     float steps (F16 scale products, (float)S, the fmaf chain: ~1e-7
     relative each). Checked as worst error / bound <= 1.
   - typical case: the rounding errors are close to independent and
     uniform, so error / sqrt(sum_i w_i^2 d_x^2 / 12) has an RMS near 1
     over many outputs; held to <= 1.5 (measured in the report line). */
static void test_kq8_oracle_accuracy(void) {
  const g2_dtype *types = k_types;
  enum { N_IN = 768, N_OUT = 64, N_TOK = 3 };
  for (size_t d = 0; d < N_K_TYPES; d++) {
    test_matrix t = make_k_matrix(types[d], N_OUT, N_IN);
    float *x = malloc(N_TOK * N_IN * sizeof(float)), *out = malloc(N_TOK * N_OUT * sizeof(float));
    fill(x, N_TOK * N_IN, -1.0f, 1.0f);
    g2_kq8_ref_matmul(&t.m, x, N_TOK, N_IN, NULL, out, N_OUT, 0, N_OUT);
    double worst = 0.0, square_sum = 0.0;
    for (size_t tok = 0; tok < N_TOK; tok++)
      for (size_t j = 0; j < N_OUT; j++) {
        double exact = 0.0, bound = 0.0, variance = 0.0;
        for (size_t b = 0; b < N_IN / G2_QK_K; b++) {
          double amax = 0.0, w_abs = 0.0, w_square = 0.0;
          for (size_t i = b * G2_QK_K; i < (b + 1) * G2_QK_K; i++) {
            double w = t.dense[j * N_IN + i];
            exact += w * x[tok * N_IN + i];
            amax = fmax(amax, fabs(x[tok * N_IN + i]));
            w_abs += fabs(w);
            w_square += w * w;
          }
          double step = amax / 127.0;
          bound += step * w_abs * (0.5 + 1e-3);
          variance += w_square * step * step / 12.0;
        }
        double err = fabs((double)out[tok * N_OUT + j] - exact);
        worst = fmax(worst, err / bound);
        square_sum += err * err / variance;
      }
    double rms = sqrt(square_sum / (N_TOK * N_OUT));
    CHECK(worst <= 1.0 && rms <= 1.5,
          "K-type int8 oracle %s: within the activation rounding bound of the exact product (worst %.3f of it, "
          "RMS %.2f of the expected rounding noise; bounds 1 and 1.5)",
          g2_dtype_name(types[d]), worst, rms);
    free(x);
    free(out);
    free_matrix(&t);
  }
}

/* Every block type at the row lengths of every GPT-2 size (n_embd 768,
   1024, 1280, 1600 and 4 n_embd; K types where n_in is a multiple of 256),
   for 1..40, 67 and 70 tokens, each call on odd column ranges: bitwise
   their oracles.
   The paths on 8-bit activations are held to their scalar oracles; the
   FP32 products to their definition, the same table's product on an F32
   matrix of g2_dequantize's values (one chain of fused multiply-adds per
   element on every SIMD table; the scalar table's own sums). The oracle
   runs once on 70 tokens; a call on the first n_tok gives its first rows
   (an element depends on its own token only). Rows from 3072 on take every
   n_tok up to 9, then 13, 16, 17, 31, 33 and 40, which keeps the run short
   under emulation (tests/neon.test.sh). 67 and 70 tokens of rows of 3072
   and 4096 fill more than one block of the AVX2 panels' work area (66 and
   48 int16 tokens of Q8_0 and IQ4_NL beside their panel). */
static int gpt2_rows_takes(size_t n_in, size_t n_tok) {
  if (n_tok == 67 || n_tok == 70) return 1;
  if (n_tok > 40) return 0;
  return n_in < 3072 || n_tok <= 9 || n_tok == 13 || n_tok == 16 || n_tok == 17 || n_tok == 31 || n_tok == 33 ||
         n_tok == 40;
}

static void test_gpt2_rows(const g2_kernels *kt) {
  static const size_t n_ins[] = {768, 1024, 1280, 1600, 3072, 4096, 5120, 6400};
  static const g2_dtype types[] = {G2_DT_Q8_0, G2_DT_Q4_0, G2_DT_Q6_K, G2_DT_Q4_K,   G2_DT_Q5_K, G2_DT_Q2_K,
                                   G2_DT_Q3_K, G2_DT_IQ4_XS, G2_DT_Q4_1, G2_DT_Q5_0, G2_DT_Q5_1, G2_DT_IQ4_NL};
  enum { MAX_TOK = 70, N_OUT = 11 };
  for (size_t d = 0; d < sizeof types / sizeof types[0]; d++) {
    g2_dtype dtype = types[d];
    int unpacked = g2_k_unpacks(dtype), failures = 0, cases = 0, int8 = 0;
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
      size_t n_in = n_ins[s], x_stride = n_in + 3, out_stride = N_OUT + 2;
      if (n_in % (size_t)g2_dtype_block_size(dtype) != 0) continue;
      test_matrix t = unpacked ? make_k_matrix(dtype, N_OUT, n_in) : make_matrix(dtype, G2_LAYOUT_NK, N_OUT, n_in);
      oracle_fn oracle = rounding_oracle(kt, &t.m);
      int8 = oracle != NULL;
      g2_matrix f32 = {t.dense, G2_DT_F32, G2_LAYOUT_NK, N_OUT, (int64_t)n_in, NULL};
      float *x = malloc(MAX_TOK * x_stride * sizeof(float)), *bias = malloc(N_OUT * sizeof(float));
      float *want = malloc(MAX_TOK * out_stride * sizeof(float)), *got = malloc(MAX_TOK * out_stride * sizeof(float));
      fill(x, MAX_TOK * x_stride, -1.0f, 1.0f);
      fill(bias, N_OUT, -1.0f, 1.0f);
      set_sentinel(want, MAX_TOK * out_stride);
      if (oracle)
        oracle(&t.m, x, MAX_TOK, x_stride, bias, want, out_stride, 0, N_OUT);
      else
        g2_matmul(kt, &f32, x, MAX_TOK, x_stride, bias, want, out_stride, 0, N_OUT, work);
      for (size_t n_tok = 1; n_tok <= MAX_TOK; n_tok++) {
        if (!gpt2_rows_takes(n_in, n_tok)) continue;
        set_sentinel(got, MAX_TOK * out_stride);
        for (size_t j = 0; j < N_OUT;) {
          size_t end = j + 1 + next_u32() % 5;
          end = end < N_OUT ? end : N_OUT;
          g2_matmul(kt, &t.m, x, n_tok, x_stride, bias, got, out_stride, j, end, work);
          j = end;
        }
        cases++;
        failures += memcmp(want, got, n_tok * out_stride * sizeof(float)) != 0;
      }
      free(x);
      free(bias);
      free(want);
      free(got);
      free_matrix(&t);
    }
    CHECK(failures == 0, "%s %s: GPT-2 row lengths 768..6400, n_tok 1..70, odd column ranges: the bits of %s "
          "(%d cases, %d failures)", kt->name, g2_dtype_name(dtype),
          int8 ? "the int8 oracle" : "the table's product on the F32 matrix of the same values", cases, failures);
  }
}

/* The K-type int8 oracle on activations that its step 1 keeps exactly:
   integers in [-127, 127], each block of 256 holding a 127 (so d_x = 1 and
   q = x): only float rounding is left between it and the float64 product
   of the same weights (g2_dequantize's values): (float)S, the F16 scale
   products and the fmaf chain, a few roundings of 2^-24 per block relative
   to the block's terms, which the mins' cancellation (d sc u x against
   dmin m x) can make a few times sum |w x|. Held to 1e-6 of sum |w x|
   (measured 5e-9..1.3e-8, in the report line); planted in the oracle,
   IQ4_XS's grid entry 13 -> 14 gives 5.2e-4, one Q3_K value in 256 off by
   one 3.8e-3 (which the rounding test above sees only in its RMS). */
static void test_kq8_oracle_exact_activations(void) {
  enum { N_IN = 768, N_OUT = 64 };
  float x[N_IN], out[N_OUT];
  for (size_t i = 0; i < N_IN; i++) x[i] = i % G2_QK_K == 17 ? 127.0f : (float)((int)(next_u32() % 255) - 127);
  for (size_t d = 0; d < N_K_TYPES; d++) {
    test_matrix t = make_k_matrix(k_types[d], N_OUT, N_IN);
    g2_kq8_ref_matmul(&t.m, x, 1, N_IN, NULL, out, N_OUT, 0, N_OUT);
    double worst = 0.0;
    for (size_t j = 0; j < N_OUT; j++) {
      double exact = 0.0, magnitude = 0.0;
      for (size_t i = 0; i < N_IN; i++) {
        exact += (double)t.dense[j * N_IN + i] * x[i];
        magnitude += fabs((double)t.dense[j * N_IN + i] * x[i]);
      }
      worst = fmax(worst, fabs((double)out[j] - exact) / magnitude);
    }
    CHECK(worst <= 1e-6, "K-type int8 oracle %s, activations kept exactly: the float64 product within %.2g of "
          "sum |w x| (bound 1e-6)", g2_dtype_name(k_types[d]), worst);
    free_matrix(&t);
  }
}

/* The K-type int8 kernel on activations that stress step 1 of its
   definition, one token and a batch of 2, bitwise against the oracle.
   Token 0: block 0 all zero (d_x = 0), block 1 ties (amax 127, so d_x = 1
   and k + 0.5 rounds to even), block 2 uniform, block 3 one large value
   among small ones (most q round to 0); no block's terms are absorbed by
   another's. Token 1: block 0 subnormal, the rest zero, so its output is
   that block's alone. */
static void test_kq8_hostile_activations(const g2_kernels *kt) {
  const g2_dtype *types = k_types;
  enum { N_IN = 1024, N_OUT = 8 };
  float x[2 * N_IN], want[2 * N_OUT], got[2 * N_OUT], single[N_OUT];
  for (size_t i = 0; i < N_IN; i++) {
    size_t block = i / G2_QK_K, k = i % G2_QK_K;
    float sign = i % 3 == 0 ? -1.0f : 1.0f;
    x[i] = block == 0 ? 0.0f
         : block == 1 ? (k == 0 ? 127.0f : sign * ((float)(k % 120) + 0.5f))
         : block == 2 ? uniform(-1.0f, 1.0f)
                      : (k == 7 ? -1e4f : sign * uniform(0.0f, 1.0f));
    x[N_IN + i] = block == 0 ? sign * 1e-40f * (float)(k + 1) : 0.0f;
  }
  for (size_t d = 0; d < N_K_TYPES; d++) {
    test_matrix t = make_k_matrix(types[d], N_OUT, N_IN);
    if (rounding_oracle(kt, &t.m) != g2_kq8_ref_matmul) {
      free_matrix(&t);
      continue;
    }
    g2_kq8_ref_matmul(&t.m, x, 2, N_IN, NULL, want, N_OUT, 0, N_OUT);
    g2_matmul(kt, &t.m, x, 2, N_IN, NULL, got, N_OUT, 0, N_OUT, work);
    g2_matmul(kt, &t.m, x, 1, N_IN, NULL, single, N_OUT, 0, N_OUT, work);
    CHECK(memcmp(want, got, sizeof got) == 0 && memcmp(want, single, sizeof single) == 0,
          "%s %s: zero, tied, subnormal and large activations: the bits of the int8 oracle, one token and two",
          kt->name, g2_dtype_name(types[d]));
    free_matrix(&t);
  }
}

/* The avx512vnni and avx512bf16 tables' K-type products
   (kquant_int8_avx512.c, kquant_int8_token_avx512.c): each K type gets
   g2_kq8_vnni_matmul_for's functions, one for batches and one for a
   token; then, at every GPT-2 row length that 256 divides, one token and
   batches of 5..70 tokens (the panel kernel takes 8 and more) (300 at
   768 and 1024: more than one chunk of 256 tokens) on 37 rows (two
   panels or row groups of 16 and a part one) in odd column ranges give the
   int8 oracle's bits (NaN as NaN) on hostile inputs: per block of 256
   activations, by token and block, zeros, ties (k + 0.5 with a 127),
   uniform, huge (1e37), subnormal, or one large value among small ones;
   and F16 d and dmin drawn from 65504, -65504, the smallest and largest
   subnormals, +-0, 1, infinity, NaN and small random values. */
static void test_kq8_vnni_batches(const g2_kernels *kt) {
#if defined(__x86_64__)
  if (strcmp(kt->name, "avx512vnni") != 0 && strcmp(kt->name, "avx512bf16") != 0) return;
  static const size_t n_ins[] = {768, 1024, 1280, 3072, 4096, 5120, 6400};
  /* 1: the one-token kernel; 8 and up: the panels, tiles of 8 with 0..7 left; between: the AVX2 kernel */
  static const size_t n_toks[] = {1, 5, 7, 8, 9, 16, 19, 20, 21, 22, 23, 25, 26, 27, 31, 47, 64, 70};
  static const uint16_t extremes[] = {0x7bff, 0xfbff, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x3c00, 0x7c00, 0x7e00};
  enum { N_OUT = 37, MAX_TOK = 70, LONG_TOK = 300, N_EXTREMES = sizeof extremes / sizeof extremes[0] };
  for (size_t d = 0; d < N_K_TYPES; d++) {
    g2_dtype dtype = k_types[d];
    int failures = 0, cases = 0, covered = 1;
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
      size_t n_in = n_ins[s], x_stride = n_in + 5, out_stride = N_OUT + 3;
      size_t max_tok = n_in <= 1024 ? LONG_TOK : MAX_TOK;
      test_matrix t = make_k_matrix(dtype, N_OUT, n_in);
      size_t block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
      for (size_t b = 0; b < N_OUT * n_in / G2_QK_K; b++)
        for (int i = 0; i < 1 + g2_k_has_offset(dtype); i++) { /* d, and dmin where the type has one */
          uint32_t pick = next_u32() % (N_EXTREMES + 6);
          if (pick < N_EXTREMES) memcpy(t.storage + b * block_bytes + g2_kq8_d_offset(dtype) + 2 * i, &extremes[pick], 2);
        }
      covered &= g2_kernels_matmul(kt, &t.m, 2) == g2_kq8_vnni_matmul_for(&t.m, 1) &&
                 g2_kernels_matmul(kt, &t.m, 1) == g2_kq8_vnni_token_matmul(dtype) &&
                 g2_kq8_vnni_token_matmul(dtype) != g2_kq8_vnni_matmul_for(&t.m, 1);
      float *x = malloc(max_tok * x_stride * sizeof(float)), *bias = malloc(N_OUT * sizeof(float));
      float *want = malloc(max_tok * out_stride * sizeof(float)), *got = malloc(max_tok * out_stride * sizeof(float));
      for (size_t tok = 0; tok < max_tok; tok++)
        for (size_t k = 0; k < n_in; k++) {
          size_t kind = (tok * 7 + k / G2_QK_K * 3) % 6, i = k % G2_QK_K;
          float sign = (k + tok) % 3 == 0 ? -1.0f : 1.0f, *v = &x[tok * x_stride + k];
          *v = kind == 0 ? 0.0f
             : kind == 1 ? (i == 5 ? 127.0f : sign * ((float)(i % 120) + 0.5f))
             : kind == 2 ? uniform(-1.0f, 1.0f)
             : kind == 3 ? sign * 1e37f * uniform(0.0f, 1.0f)
             : kind == 4 ? sign * 1e-40f * (float)(i + 1)
                         : (i == 200 ? -1e4f : sign * uniform(0.0f, 1.0f));
        }
      fill(bias, N_OUT, -1.0f, 1.0f);
      set_sentinel(want, max_tok * out_stride);
      g2_kq8_ref_matmul(&t.m, x, max_tok, x_stride, bias, want, out_stride, 0, N_OUT);
      for (size_t c = 0; c <= sizeof n_toks / sizeof n_toks[0]; c++) {
        size_t n_tok = c < sizeof n_toks / sizeof n_toks[0] ? n_toks[c] : max_tok;
        if (n_tok > max_tok) continue;
        set_sentinel(got, max_tok * out_stride);
        for (size_t j = 0; j < N_OUT;) { /* widths 1..23: part panels and whole ones */
          size_t end = j + 1 + next_u32() % 23;
          end = end < N_OUT ? end : N_OUT;
          g2_matmul(kt, &t.m, x, n_tok, x_stride, bias, got, out_stride, j, end, work);
          j = end;
        }
        cases++;
        failures += !same_values(want, got, n_tok * out_stride);
      }
      free(x);
      free(bias);
      free(want);
      free(got);
      free_matrix(&t);
    }
    CHECK(covered, "%s %s: batches by g2_kq8_vnni_matmul_for's function, one token by g2_kq8_vnni_token_matmul's",
          kt->name, g2_dtype_name(dtype));
    CHECK(failures == 0,
          "%s %s: one token and VNNI batches of 5..300 tokens, rows 768..6400, odd column ranges, hostile activations and F16 "
          "scales: the bits of the int8 oracle (%d cases, %d failures)",
          kt->name, g2_dtype_name(dtype), cases, failures);
  }
#else
  (void)kt;
#endif
}

/* Attention against the oracle. Tolerance 2e-5 * max|v| + 1e-7: each
   softmax weight is off by the score's rounding (2 * head_dim * u *
   sum|q_d k_d| * scale <= 2e-6 here, |q|,|k| <= 1, head_dim <= 80, in the
   exponent), the exp polynomial (2 ulp) and the sum of up to 308 weights
   (308 u = 1.8e-5 relative, usually far less); the output is a convex
   combination of v rows, so relative weight errors scale with max|v|.
   Blocks of n_q = 1..9 queries (query i over n_kv + i positions) must give
   the same bits as n_q one-query calls, and write nothing between or after
   the output rows. */
typedef struct attention_case {
  size_t n_q, n_kv, head_dim, q_stride, out_stride, kv_stride;
  float *q, *kf, *vf, *scratch, *want, *got, *single;
  uint16_t *kh, *vh;
} attention_case;

static attention_case make_attention_case(size_t n_q, size_t n_kv, size_t head_dim) {
  attention_case c = {n_q, n_kv, head_dim, head_dim * 2 + 3, head_dim + 5, head_dim * 3 + 1,
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  size_t positions = n_kv + n_q - 1, n = positions * c.kv_stride + 1, outs = n_q * c.out_stride;
  c.q = malloc(n_q * c.q_stride * sizeof(float));
  c.kf = malloc(n * sizeof(float));
  c.vf = malloc(n * sizeof(float));
  c.kh = malloc(n * 2);
  c.vh = malloc(n * 2);
  /* exactly what the contract asks for, so that ASan sees an overrun */
  c.scratch = malloc(n_q * positions * sizeof(float) + 1);
  c.want = malloc(outs * sizeof(float));
  c.got = malloc(outs * sizeof(float));
  c.single = malloc(outs * sizeof(float));
  fill(c.q, n_q * c.q_stride, -1.0f, 1.0f);
  fill(c.kf, n, -1.0f, 1.0f);
  fill(c.vf, n, -2.0f, 2.0f);
  for (size_t i = 0; i < n; i++) { /* F16 cache: the same values, rounded */
    c.kh[i] = g2_f32_to_f16(c.kf[i]);
    c.vh[i] = g2_f32_to_f16(c.vf[i]);
  }
  for (size_t i = 0; i < outs; i++) c.want[i] = c.got[i] = c.single[i] = sentinel;
  return c;
}

static void free_attention_case(attention_case *c) {
  free(c->q); free(c->kf); free(c->vf); free(c->kh); free(c->vh);
  free(c->scratch); free(c->want); free(c->got); free(c->single);
}

/* The block call into out, and the query-by-query calls into single. */
static void run_attention(const g2_kernels *kt, const attention_case *c, uint32_t kv_type, float scale,
                          float *out, float *single) {
  const void *k = kv_type == GPT2_KV_F16 ? (const void *)c->kh : c->kf;
  const void *v = kv_type == GPT2_KV_F16 ? (const void *)c->vh : c->vf;
  kt->vec->attention(c->q, c->q_stride, c->n_q, k, v, kv_type, c->n_kv, c->head_dim, c->kv_stride, scale,
                c->scratch, out, c->out_stride);
  if (single)
    for (size_t i = 0; i < c->n_q; i++)
      kt->vec->attention(c->q + i * c->q_stride, c->q_stride, 1, k, v, kv_type, c->n_kv + i, c->head_dim,
                    c->kv_stride, scale, c->scratch, single + i * c->out_stride, c->out_stride);
}

static void test_attention(const g2_kernels *kt) {
  static const size_t lengths[] = {0, 1, 2, 3, 15, 16, 17, 33, 64, 100, 257, 300};
  static const size_t head_dims[] = {1, 3, 8, 16, 17, 33, 64, 80};
  size_t n_lengths = sizeof lengths / sizeof lengths[0];
  for (uint32_t kv_type = GPT2_KV_F32; kv_type <= GPT2_KV_F16; kv_type++)
    for (size_t h = 0; h < sizeof head_dims / sizeof head_dims[0]; h++) {
      size_t head_dim = head_dims[h], cases = 0;
      double worst = 0.0;
      int same_as_single = 1, untouched = 1, deterministic = 1;
      for (size_t l = 0; l < n_lengths; l++)
        for (size_t n_q = 1; n_q <= 9; n_q++) {
          /* all n_q for short and long caches, a few in between */
          if (l > 3 && l + 2 < n_lengths && n_q % 4 != 1) continue;
          attention_case c = make_attention_case(n_q, lengths[l], head_dim);
          /* a large scale too, so that most weights underflow towards 0 */
          float scale = (l + n_q) % 2 ? 1.0f / sqrtf((float)head_dim) : 6.0f;
          run_attention(scalar, &c, kv_type, scale, c.want, NULL);
          run_attention(kt, &c, kv_type, scale, c.got, c.single);
          for (size_t i = 0; i < n_q; i++) {
            const float *want = c.want + i * c.out_stride, *got = c.got + i * c.out_stride;
            for (size_t d = 0; d < head_dim; d++) {
              double err = fabs((double)got[d] - want[d]) / (2e-5 * 2.0 + 1e-7);
              if (err > worst || isnan(got[d])) worst = isnan(got[d]) ? INFINITY : err;
            }
            for (size_t d = head_dim; d < c.out_stride; d++) untouched &= got[d] == sentinel;
          }
          same_as_single &= memcmp(c.got, c.single, n_q * c.out_stride * sizeof(float)) == 0;
          run_attention(kt, &c, kv_type, scale, c.single, NULL);
          deterministic &= memcmp(c.got, c.single, n_q * c.out_stride * sizeof(float)) == 0;
          free_attention_case(&c);
          cases++;
        }
      const char *kv = kv_type == GPT2_KV_F16 ? "F16" : "F32";
      if (kt != scalar)
        CHECK(worst <= 1.0, "%s attention kv=%s head_dim=%zu, %zu blocks of n_q 1..9, n_kv 0..300: error %.3f of tolerance",
              kt->name, kv, head_dim, cases, worst);
      CHECK(same_as_single, "%s attention kv=%s head_dim=%zu: a block has the bits of one-query calls", kt->name,
            kv, head_dim);
      CHECK(untouched, "%s attention kv=%s head_dim=%zu: nothing written past head_dim", kt->name, kv, head_dim);
      CHECK(deterministic, "%s attention kv=%s head_dim=%zu: repeatable", kt->name, kv, head_dim);
    }
}

/* LayerNorm: tolerance 1e-5 * (|normalized| * |gamma| + |beta|) + 1e-6.
   With |x| <= 2 and n <= 769 the mean and variance sums are within
   n u of the oracle's (different order); that moves the normalized value
   by a few 1e-6 at most; the rest is the same elementwise arithmetic. */
static void test_layernorm(const g2_kernels *kt) {
  static const size_t sizes[] = {1, 3, 8, 16, 17, 33, 768, 769};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *x = malloc(n * sizeof(float)), *gamma = malloc(n * sizeof(float)), *beta = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    fill(x, n, -2.0f, 2.0f);
    fill(gamma, n, 0.5f, 1.5f);
    fill(beta, n, -0.5f, 0.5f);
    g2_ref_vector.layernorm(x, n, gamma, beta, 1e-5f, want);
    kt->vec->layernorm(x, n, gamma, beta, 1e-5f, got);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
      double normalized = fabs(((double)want[i] - beta[i]) / gamma[i]);
      double tol = 1e-5 * (normalized * fabs(gamma[i]) + fabs(beta[i])) + 1e-6;
      double err = fabs((double)got[i] - want[i]) / tol;
      if (err > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : err;
    }
    CHECK(worst <= 1.0, "%s layernorm n=%zu: error %.3f of tolerance", kt->name, n, worst);
    free(x); free(gamma); free(beta); free(want); free(got);
  }
}

/* GELU: tolerance 4e-6 |gelu(x)| + 2^-21 |x|. The SIMD form
   x / (1 + e^-2u) is the same function; e^-2u is within 2 ulp, and the
   division adds one ulp. The oracle's 1 + tanhf(u) cancels for u << 0:
   its absolute error there is up to about ulp(1) |x| / 2 = 2^-24 |x|. */
static void test_gelu(const g2_kernels *kt) {
  static const size_t sizes[] = {1, 3, 15, 16, 17, 100, 3073};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *x = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    fill(x, n, -12.0f, 12.0f);
    if (n > 4) {
      x[0] = 0.0f;
      x[1] = 100.0f;
      x[2] = -100.0f;
      x[3] = 1e-20f;
    }
    memcpy(want, x, n * sizeof(float));
    memcpy(got, x, n * sizeof(float));
    g2_ref_vector.gelu(want, n);
    kt->vec->gelu(got, n);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
      double bound = 4e-6 * fabs(want[i]) + ldexp(fabs(x[i]), -21) + 1e-30;
      double err = fabs((double)got[i] - want[i]) / bound;
      if (err > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : err;
    }
    CHECK(worst <= 1.0, "%s gelu n=%zu: error %.3f of tolerance", kt->name, n, worst);
    free(x);
    free(want);
    free(got);
  }
}

static void test_add_and_get_row(const g2_kernels *kt) {
  static const size_t sizes[] = {1, 7, 16, 17, 769};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
    fill(a, n, -1.0f, 1.0f);
    fill(b, n, -1.0f, 1.0f);
    memcpy(c, a, n * sizeof(float));
    g2_ref_vector.add(a, b, n);
    kt->vec->add(c, b, n);
    CHECK(memcmp(a, c, n * sizeof(float)) == 0, "%s add n=%zu: same bits as the oracle", kt->name, n);
    free(a); free(b); free(c);
  }
  static const g2_dtype types[] = {G2_DT_F32, G2_DT_F16, G2_DT_BF16, G2_DT_Q8_0, G2_DT_Q4_0};
  for (size_t d = 0; d < 5; d++) {
    size_t n_in = types[d] >= G2_DT_Q8_0 ? 96 : 37;
    test_matrix t = make_matrix(types[d], G2_LAYOUT_NK, 5, n_in);
    int same = 1;
    for (int64_t row = 0; row < 5; row++) {
      float want[96], got[96];
      g2_ref_vector.get_row(&t.m, row, want);
      kt->vec->get_row(&t.m, row, got);
      same &= memcmp(want, got, n_in * sizeof(float)) == 0;
    }
    CHECK(same, "%s get_row %s: same bits as the oracle", kt->name, g2_dtype_name(types[d]));
    free_matrix(&t);
  }
}

/* The table chosen for injected CPU features: every outcome of dispatch. */
typedef struct select_case {
  const char *cpu_name;
  g2_cpu_features cpu;
  const char *forced;
  int fp32_only;
  const char *want; /* NULL: refused */
} select_case;

static void test_select_for(void) {
  const g2_cpu_features none = {0};
#if defined(__x86_64__)
  const g2_cpu_features avx2 = {.avx2_fma_f16c = 1};
  const g2_cpu_features avx512 = {.avx2_fma_f16c = 1, .avx512 = 1};
  const g2_cpu_features vnni = {.avx2_fma_f16c = 1, .avx512 = 1, .avx512_vnni = 1}; /* Cascade Lake */
  const g2_cpu_features bf16 = {.avx2_fma_f16c = 1, .avx512 = 1, .avx512_vnni = 1, .avx512_bf16 = 1,
                                .bf16_dot_fast = 1}; /* Zen 4 */
  const g2_cpu_features bf16_slow = {.avx2_fma_f16c = 1, .avx512 = 1, .avx512_vnni = 1, .avx512_bf16 = 1}; /* Xeons */
  const g2_cpu_features bf16_no_vnni = {.avx2_fma_f16c = 1, .avx512 = 1, .avx512_bf16 = 1};
  const select_case cases[] = {
      {"no AVX", none, NULL, 0, "scalar"},
      {"no AVX", none, NULL, 1, "scalar"},
      {"no AVX", none, "avx2", 0, NULL},
      {"no AVX", none, "avx2int8", 0, NULL},
      {"no AVX", none, "scalar", 0, "scalar"},
      {"AVX2", avx2, NULL, 0, "avx2int8"},
      {"AVX2", avx2, NULL, 1, "avx2"},
      {"AVX2", avx2, "avx2", 0, "avx2"},
      {"AVX2", avx2, "avx2int8", 1, "avx2int8"},
      {"AVX2", avx2, "avx512", 0, NULL},
      {"AVX2", avx2, "scalar", 1, "scalar"},
      {"AVX-512", avx512, NULL, 0, "avx512"},
      {"AVX-512", avx512, NULL, 1, "avx512"},
      {"AVX-512", avx512, "avx512vnni", 0, NULL},
      {"AVX-512", avx512, "avx512bf16", 0, NULL},
      {"AVX-512", avx512, "avx2", 0, "avx2"},
      {"AVX-512", avx512, "avx2int8", 0, "avx2int8"},
      {"AVX-512+VNNI", vnni, NULL, 0, "avx512vnni"},
      {"AVX-512+VNNI", vnni, NULL, 1, "avx512"},
      {"AVX-512+VNNI", vnni, "avx512bf16", 0, NULL},
      {"AVX-512+VNNI", vnni, "avx512vnni", 1, "avx512vnni"}, /* named: fp32_products is gpt2_load's check */
      {"AVX-512+VNNI+BF16", bf16, NULL, 0, "avx512bf16"},
      {"AVX-512+VNNI+BF16", bf16, NULL, 1, "avx512"},
      {"AVX-512+VNNI+BF16", bf16, "avx512vnni", 0, "avx512vnni"},
      {"AVX-512+VNNI+BF16", bf16, "avx512", 0, "avx512"},
      {"AVX-512+VNNI+BF16", bf16, "", 0, "avx512bf16"},
      {"AVX-512+VNNI+BF16", bf16, "neon", 0, NULL},
      {"AVX-512+VNNI+BF16", bf16, "sse9", 0, NULL},
      {"AVX-512+VNNI+BF16, slow vdpbf16ps", bf16_slow, NULL, 0, "avx512vnni"},
      {"AVX-512+VNNI+BF16, slow vdpbf16ps", bf16_slow, NULL, 1, "avx512"},
      {"AVX-512+VNNI+BF16, slow vdpbf16ps", bf16_slow, "avx512bf16", 0, "avx512bf16"},
      {"AVX-512+VNNI+BF16, slow vdpbf16ps", bf16_slow, "", 0, "avx512vnni"},
      {"AVX-512+BF16 without VNNI", bf16_no_vnni, NULL, 0, "avx512"},
      {"AVX-512+BF16 without VNNI", bf16_no_vnni, "avx512bf16", 0, NULL},
  };
#elif defined(__aarch64__)
  const g2_cpu_features neon = {.neon = 1};
  const g2_cpu_features dotprod = {.neon = 1, .neon_dotprod = 1};
  const select_case cases[] = {
      {"NEON", neon, NULL, 0, "neon"},         {"NEON", neon, NULL, 1, "neon"},
      {"NEON", neon, "avx2", 0, NULL},         {"NEON", neon, "scalar", 0, "scalar"},
      {"NEON", neon, "neondot", 0, NULL},      {"no NEON", none, NULL, 0, "scalar"},
      {"no NEON", none, "neon", 0, NULL},      {"NEON+dotprod", dotprod, NULL, 0, "neondot"},
      {"NEON+dotprod", dotprod, NULL, 1, "neon"}, {"NEON+dotprod", dotprod, "neon", 0, "neon"},
      {"NEON+dotprod", dotprod, "neondot", 1, "neondot"}, /* named: fp32_products is gpt2_load's check */
  };
#else
  const select_case cases[] = {
      {"no SIMD", none, NULL, 0, "scalar"},
      {"no SIMD", none, "avx2", 0, NULL},
  };
#endif
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const select_case *c = &cases[i];
    const g2_kernels *got = g2_kernels_select_for(&c->cpu, c->forced, c->fp32_only);
    int ok = c->want ? got && strcmp(got->name, c->want) == 0 : got == NULL;
    CHECK(ok, "%s, GPT2_ISA=%s, fp32_only=%d: %s (got %s)", c->cpu_name, c->forced ? c->forced : "(unset)",
          c->fp32_only, c->want ? c->want : "refused", got ? got->name : "refused");
    if (got && !c->forced && c->fp32_only)
      CHECK(!got->rounds_activations, "%s, fp32_only: %s keeps FP32 products", c->cpu_name, got->name);
  }
}

/* The real CPU: g2_kernels_select is g2_kernels_select_for on what
   g2_cpu_detect reports. */
static void test_select(void) {
  g2_cpu_features cpu = g2_cpu_detect();
  for (int fp32_only = 0; fp32_only < 2; fp32_only++) {
    const g2_kernels *best = g2_kernels_select(NULL, fp32_only);
    CHECK(best != NULL && best == g2_kernels_select_for(&cpu, NULL, fp32_only),
          "fp32_only=%d: the default on this CPU is the one its features lead to (%s)", fp32_only,
          best ? best->name : "none");
    CHECK(g2_kernels_select("", fp32_only) == best, "fp32_only=%d: an empty GPT2_ISA means the default", fp32_only);
  }
  const g2_kernels *scalar_table = g2_kernels_select("scalar", 0);
  CHECK(scalar_table && strcmp(scalar_table->name, "scalar") == 0 && !scalar_table->rounds_activations,
        "GPT2_ISA=scalar forces the oracle, which keeps FP32 products");
  CHECK(g2_kernels_select("sse9", 0) == NULL, "an unknown GPT2_ISA is refused");
  test_select_for();
}

int main(void) {
  static const char *names[] = {"scalar", "avx2", "avx2int8", "avx512", "avx512vnni", "avx512bf16", "neondot", "neon"};
  scalar = g2_kernels_select("scalar", 0);
  test_select();
  test_kq8_oracle_accuracy();
  test_kq8_oracle_exact_activations();
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const g2_kernels *kt = g2_kernels_select(names[i], 0);
    if (!kt) {
      SKIP("%s kernels: this CPU or build does not run the table", names[i]);
      continue;
    }
    test_matmul(kt);
    test_small_batches(kt);
    test_k_types(kt);
    test_unpack_values(kt);
    test_kq8_hostile_activations(kt);
    test_gpt2_rows(kt);
    test_kq8_vnni_batches(kt);
    if (!strcmp(kt->name, "avx2") || !strcmp(kt->name, "avx512") || !strcmp(kt->name, "neon")) test_fp32_coverage(kt);
    test_attention(kt);
    if (kt == scalar) continue; /* the oracle is its own reference below */
    test_layernorm(kt);
    test_gelu(kt);
    test_add_and_get_row(kt);
  }
  HARNESS_EXIT();
}
