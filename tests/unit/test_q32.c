/* The Q4_1/Q5_0/Q5_1/IQ4_NL products on 8-bit activations
   (kernels/q32_int8.h): the oracle's error against the exact product, the
   AVX2 and AVX512-VNNI kernels bitwise equal to the oracle on every table
   that runs them (the GPT-2 row lengths, 1..40 tokens, odd column splits,
   token batches, extreme activations and weights), and that those tables
   take every GPT-2 shape of these types off the scalar path. Whole files in these
   types are held to the 8-bit-activation golden bound by test_golden
   (tests/data/llamacpp/kq-q4_1, kq-q5_0, kq-q5_1, kq-iq4_nl). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "harness.h"
#include "split_matmul.h"
#include "test_random.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "kernels/q32_int8.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"

static const g2_dtype types[] = {G2_DT_Q4_1, G2_DT_Q5_0, G2_DT_Q5_1, G2_DT_IQ4_NL};
enum { N_TYPES = sizeof types / sizeof types[0] };

static int has_min(g2_dtype dtype) { return dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1; }

typedef struct test_matrix {
  g2_matrix m;
  unsigned char *storage;
  float *dense; /* [n_out][n_in], the dequantized weights */
  float *mins;  /* [n_out * n_in / 32]: each block's m (0 without one) */
} test_matrix;

static void put_half(unsigned char *p, float value) {
  uint16_t h = g2_f32_to_f16(value);
  memcpy(p, &h, 2);
}

/* Random codes (every byte, so every nibble and fifth bit), F16 scales of
   rows of different magnitudes and mins about -8 scales (as a quantizer
   writes for centred weights). hostile: scales 65504, 2^-24 (subnormal)
   and 1 in turn, and mins of either sign and large. */
static test_matrix make_matrix(g2_dtype dtype, size_t n_out, size_t n_in, int hostile) {
  test_matrix t;
  size_t row_bytes = g2_dtype_row_bytes(dtype, (int64_t)n_in), block_bytes = g2_dtype_row_bytes(dtype, 32);
  size_t n_blocks = n_out * n_in / 32;
  t.storage = malloc(n_out * row_bytes);
  t.dense = malloc(n_out * n_in * sizeof(float));
  t.mins = malloc(n_blocks * sizeof(float));
  for (size_t i = 0; i < n_out * row_bytes; i++) t.storage[i] = (unsigned char)next_u32();
  for (size_t r = 0; r < n_out; r++) {
    float spread = uniform(0.001f, 0.1f);
    for (size_t k = 0; k < n_in / 32; k++) {
      unsigned char *block = t.storage + r * row_bytes + k * block_bytes;
      size_t b = r * (n_in / 32) + k;
      float d = uniform(0.5f, 1.0f) * spread;
      if (hostile) d = b % 3 == 0 ? 65504.0f : b % 3 == 1 ? ldexpf(1.0f, -24) : 1.0f;
      put_half(block, d);
      if (has_min(dtype)) put_half(block + 2, hostile ? (b % 2 ? -60000.0f : 3.0e4f) : -8.0f * d);
    }
  }
  for (size_t r = 0; r < n_out; r++)
    g2_dequantize(dtype, t.storage + r * row_bytes, 0, (int64_t)n_in, t.dense + r * n_in);
  for (size_t b = 0; b < n_blocks; b++) {
    uint16_t h;
    memcpy(&h, t.storage + b * block_bytes + 2, 2);
    t.mins[b] = has_min(dtype) ? g2_f16_to_f32(h) : 0.0f;
  }
  t.m = (g2_matrix){t.storage, dtype, G2_LAYOUT_NK, (int64_t)n_out, (int64_t)n_in, NULL};
  return t;
}

static void free_matrix(test_matrix *t) {
  free(t->storage);
  free(t->dense);
  free(t->mins);
}

enum { KIND_UNIFORM, KIND_ZERO, KIND_TIED, KIND_HUGE_ONE, KIND_SUBNORMAL, KIND_LARGE, KIND_MIXED, N_KINDS,
       KIND_INTEGER = N_KINDS };

/* Activations of one kind; "mixed" picks a kind per block of 32. "tied":
   amax 127 (d_x = 1) and values at halves, so every q rounds a tie to even.
   "integer" (not in the mixed or kernel runs): amax 127 and integers, so
   q = x exactly. */
static void fill_activations(float *x, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    int k = kind == KIND_MIXED ? (int)((i / 32 * 2654435761u) % KIND_MIXED) : kind;
    switch (k) {
      case KIND_ZERO: x[i] = 0.0f; break;
      case KIND_TIED: x[i] = i % 32 == 0 ? 127.0f : (float)((int)(next_u32() % 253) - 126) + 0.5f; break;
      case KIND_INTEGER: x[i] = i % 32 == 0 ? 127.0f : (float)((int)(next_u32() % 255) - 127); break;
      case KIND_HUGE_ONE: x[i] = i % 97 == 5 ? 1e30f : uniform(-1.0f, 1.0f); break;
      case KIND_SUBNORMAL: x[i] = uniform(-1.0f, 1.0f) * 1e-39f; break;
      case KIND_LARGE: x[i] = (next_u32() & 1 ? 1.0f : -1.0f) * uniform(1e30f, 3e32f); break;
      default: x[i] = uniform(-3.0f, 3.0f); break;
    }
  }
}

/* ---- the oracle against the exact product ---- */

/* Each activation moves by at most d_x / 2 (rounding; the clamp only acts
   on subnormal scales, excluded here), so the products move by at most
   sum_b d_x,b / 2 * sum_i |w_i|. Float rounding on top, each at most
   u = 2^-24 of the running magnitude M = sum_i |x_i| (|w_i| + 2 |m_b|)
   (the terms d u_i and m of each weight): two scale products and two fma
   per block, the bias add, and the dequantized weights' own two roundings
   (w = d u + m in float, which the test's exact sum uses), so
   (4 n_blocks + 3) u (M + the rounding bound) * 1.01. Integer
   activations with d_x = 1 are quantized exactly: then only the float
   rounding is allowed, which a weight off by d in one code of 16 (a
   wrong table entry, nibble or fifth bit) exceeds many times over. */
static void test_oracle_accuracy(void) {
  static const size_t n_ins[] = {32, 96, 768, 3072};
  for (int ti = 0; ti < N_TYPES; ti++) {
    g2_dtype dtype = types[ti];
    double worst = 0.0, worst_exact = 0.0, sq_ratio = 0.0;
    int checked = 0;
    for (size_t run = 0; run < 2 * sizeof n_ins / sizeof n_ins[0]; run++) {
      size_t s = run / 2;
      int exact_q = run % 2;
      size_t n_in = n_ins[s], n_out = 7, n_tok = 3;
      test_matrix t = make_matrix(dtype, n_out, n_in, 0);
      float *x = malloc(n_tok * n_in * sizeof(float)), out[3 * 7];
      fill_activations(x, n_tok * n_in, exact_q ? KIND_INTEGER : KIND_UNIFORM);
      g2_q32_ref_matmul(&t.m, x, n_tok, n_in, NULL, out, n_out, 0, n_out);
      int8_t *q = malloc(n_in);
      float *d = malloc(n_in / 32 * sizeof(float));
      int32_t *sums = malloc(n_in / 32 * sizeof(int32_t));
      for (size_t tok = 0; tok < n_tok; tok++) {
        const float *xt = x + tok * n_in;
        g2_int8_quantize_row(xt, n_in, q, d, sums);
        for (size_t j = 0; j < n_out; j++) {
          const float *w = t.dense + j * n_in;
          double exact = 0, bound = 0, magnitude = 0, noise = 0;
          for (size_t k = 0; k < n_in; k++) {
            double m = fabs((double)t.mins[(j * n_in + k) / 32]);
            exact += (double)xt[k] * w[k];
            bound += exact_q ? 0.0 : 0.5 * d[k / 32] * fabs(w[k]);
            noise += (double)d[k / 32] * d[k / 32] / 12 * w[k] * w[k];
            magnitude += fabs((double)xt[k]) * (fabs(w[k]) + 2 * m);
          }
          bound += (double)(4 * (n_in / 32) + 3) * ldexp(1.0, -24) * 1.01 * (magnitude + bound) + 1e-30;
          double error = out[tok * n_out + j] - exact, ratio = fabs(error) / bound;
          if (exact_q) {
            worst_exact = ratio > worst_exact ? ratio : worst_exact;
            continue;
          }
          worst = ratio > worst ? ratio : worst;
          sq_ratio += error * error / noise;
          checked++;
        }
      }
      free(q);
      free(d);
      free(sums);
      free(x);
      free_matrix(&t);
    }
    /* the rounding noise of the activations (uniform, d_x^2 / 12 per
       value): a missing or halved min term, a wrong code or 7-bit
       activations put the RMS far above 1; the bound 1.5 leaves room for
       the statistics of 84 outputs */
    double rms = sqrt(sq_ratio / checked);
    CHECK(worst <= 1.0 && rms <= 1.5,
          "%s oracle: within the activation rounding bound of the exact product (%d outputs, worst %.3f of "
          "it, RMS %.2f of the expected rounding noise; bounds 1 and 1.5)",
          g2_dtype_name(dtype), checked, worst, rms);
    CHECK(worst_exact <= 1.0,
          "%s oracle: exactly quantized activations: within the float rounding bound (worst %.3f of it)",
          g2_dtype_name(dtype), worst_exact);
  }
}

#if defined(__x86_64__)
/* ---- the kernel against the oracle ---- */

/* The matmuls' work area (kernels.h), one thread. */
static g2_work work[1];
static const char *const kind_names[] = {"uniform", "all zero", "tied", "one huge", "subnormal", "+-large", "mixed",
                                         "integer"};

static const float sentinel = -12345.0f;

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* One matrix, one token count, one activation kind: the table's result has
   the oracle's bits, touches only its columns, and any column split or
   token batching gives the same bits. Returns the number of failures. */
static int check_shape(const g2_kernels *kt, g2_dtype dtype, size_t n_out, size_t n_in, size_t n_tok, int kind,
                       int with_bias, int hostile) {
  test_matrix t = make_matrix(dtype, n_out, n_in, hostile);
  size_t x_stride = n_in + 5, out_stride = n_out + 3;
  float *x = malloc(n_tok * x_stride * sizeof(float));
  float *bias = malloc(n_out * sizeof(float));
  float *want = malloc(n_tok * out_stride * sizeof(float));
  float *got = malloc(n_tok * out_stride * sizeof(float));
  float *split = malloc(n_tok * out_stride * sizeof(float));
  for (size_t tok = 0; tok < n_tok; tok++) fill_activations(x + tok * x_stride, x_stride, kind);
  for (size_t j = 0; j < n_out; j++) bias[j] = uniform(-1.0f, 1.0f);
  const float *b = with_bias ? bias : NULL;
  for (size_t i = 0; i < n_tok * out_stride; i++) want[i] = got[i] = split[i] = sentinel;
  g2_q32_ref_matmul(&t.m, x, n_tok, x_stride, b, want, out_stride, 0, n_out);
  g2_matmul(kt, &t.m, x, n_tok, x_stride, b, got, out_stride, 0, n_out, work);
  int failures = 0;
  /* the AVX2 kernel alone too (the table runs it for one token and short
     batches; the VNNI panels take the longer ones) */
  float *avx2 = malloc(n_tok * out_stride * sizeof(float));
  for (size_t i = 0; i < n_tok * out_stride; i++) avx2[i] = sentinel;
  work->kept = 0; /* a product of its own (kernels.h) */
  g2_q32_matmul_for(&t.m, 1)(&t.m, x, n_tok, x_stride, b, avx2, out_stride, 0, n_out, work);
  failures += !same_bits(want, avx2, n_tok * out_stride);
  free(avx2);
  if (!same_bits(want, got, n_tok * out_stride)) {
    failures++;
    for (size_t i = 0; i < n_tok * out_stride; i++)
      if (memcmp(&want[i], &got[i], sizeof(float)) != 0) {
        printf("# %s %s n_out %zu n_in %zu n_tok %zu %s: element %zu: oracle %.9g, kernel %.9g\n", kt->name,
               g2_dtype_name(dtype), n_out, n_in, n_tok, kind_names[kind], i, (double)want[i], (double)got[i]);
        break;
      }
  }
  split_matmul(kt, &t.m, x, n_tok, x_stride, b, split, out_stride, work);
  failures += !same_bits(want, split, n_tok * out_stride);
  for (size_t i = 0; i < n_tok * out_stride; i++) split[i] = sentinel;
  slice_matmul(kt, &t.m, x, n_tok, x_stride, b, split, out_stride, work);
  failures += !same_bits(want, split, n_tok * out_stride);
  free(x);
  free(bias);
  free(want);
  free(got);
  free(split);
  free_matrix(&t);
  return failures;
}

static void test_kernel_bitwise(const g2_kernels *kt, g2_dtype dtype) {
  /* the GPT-2 row lengths (n_embd and 4 n_embd of 124M..XL), and short ones */
  static const size_t n_ins[] = {32, 96, 768, 1024, 1280, 1600, 3072, 4096, 5120, 6400};
  static const size_t n_outs[] = {1, 7, 8, 9, 16, 17, 33, 50};
  static const size_t toks[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 40};
  int failures = 0, cases = 0;
  for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++)
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i += n_ins[s] >= 3072 ? 3 : 1) {
      size_t n_out = n_outs[(s + i) % (sizeof n_outs / sizeof n_outs[0])];
      failures += check_shape(kt, dtype, n_out, n_ins[s], toks[i], (int)((s + i) % N_KINDS), (int)(i % 2), 0);
      cases++;
    }
  CHECK(failures == 0, "%s %s: the oracle's bits, and the same with odd column splits and token batches (%d cases, "
        "n_in 32..6400, n_tok 1..40, %d failures)", kt->name, g2_dtype_name(dtype), cases, failures);
  failures = 0;
  for (size_t n_tok = 1; n_tok <= 40; n_tok++)
    failures += check_shape(kt, dtype, n_outs[n_tok % 8], 768, n_tok, KIND_UNIFORM, (int)(n_tok % 2), 0);
  CHECK(failures == 0, "%s %s: the oracle's bits for every n_tok 1..40 (n_in 768; %d failures)", kt->name,
        g2_dtype_name(dtype), failures);
  for (int kind = 0; kind < N_KINDS; kind++) {
    int f = check_shape(kt, dtype, 21, 96, 9, kind, 1, 0) + check_shape(kt, dtype, 21, 96, 1, kind, 0, 0);
    CHECK(f == 0, "%s %s: %s activations: the oracle's bits in a batch and for one token", kt->name,
          g2_dtype_name(dtype), kind_names[kind]);
  }
  int f = check_shape(kt, dtype, 19, 160, 7, KIND_UNIFORM, 1, 1) + check_shape(kt, dtype, 19, 160, 1, KIND_MIXED, 0, 1);
  CHECK(f == 0, "%s %s: F16 scales 65504 and 2^-24, mins -60000 and 30000: the oracle's bits", kt->name,
        g2_dtype_name(dtype));
}

/* Every GPT-2 shape of these types gets the int8 kernels on this table, for
   one token and for batches (no scalar fallback), and rows too long for
   their work area go to the exact path. */
static void test_coverage(const g2_kernels *kt, g2_matmul_finder finder, g2_dtype dtype) {
  static const int64_t n_ins[] = {768, 1024, 1280, 1600, 3072, 4096, 5120, 6400};
  int taken = 1;
  for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
    g2_matrix w = {NULL, dtype, G2_LAYOUT_NK, 64, n_ins[s], NULL};
    for (int many = 0; many <= 1; many++) {
      g2_matmul_fn fn = g2_kernels_matmul(kt, &w, many ? 2 : 1);
      taken &= fn && fn == finder(&w, many);
    }
  }
  g2_matrix long_rows = {NULL, dtype, G2_LAYOUT_NK, 64, G2_Q32_MAX_IN + 32, NULL};
  CHECK(taken && !g2_q32_vnni_matmul_for(&long_rows, 1) && !g2_q32_matmul_for(&long_rows, 1),
        "%s %s: every GPT-2 row length runs the int8 kernels, one token and batches; rows of %d do not",
        kt->name, g2_dtype_name(dtype), G2_Q32_MAX_IN + 32);
}

#endif

int main(void) {
  random_seed(0x5132c0de);
  test_oracle_accuracy();
#if defined(__x86_64__)
  /* each table that rounds activations, and the finder it must take these types to */
  static const struct {
    const char *name;
    g2_matmul_finder finder;
  } int8_tables[] = {{"avx512vnni", g2_q32_vnni_matmul_for},
                     {"avx512bf16", g2_q32_vnni_matmul_for},
                     {"avx2int8", g2_q32_matmul_for}};
  for (size_t i = 0; i < sizeof int8_tables / sizeof int8_tables[0]; i++) {
    const g2_kernels *kt = g2_kernels_select(int8_tables[i].name, 0);
    if (!kt) {
      SKIP("%s kernels: this CPU lacks the table", int8_tables[i].name);
      continue;
    }
    for (int ti = 0; ti < N_TYPES; ti++) {
      test_coverage(kt, int8_tables[i].finder, types[ti]);
      test_kernel_bitwise(kt, types[ti]);
    }
  }
#else
  SKIP("q32 int8 kernels: x86-64 only (the oracle ran)");
#endif
  HARNESS_EXIT();
}
