/* The int8 products (kernels/int8.h): the activation quantizer's stated
   rounding, the oracle's error against the exact product, the kernels of
   every int8 table (AVX512-VNNI: avx512vnni; AVX2: avx2int8; ARM dot
   product: neondot) bitwise equal
   to the oracle (odd shapes, every GPT-2 row length, extreme activations,
   column splits, token batches), and whole models under each int8 table
   against the exact FP32 table of the same instruction set on the same
   Q8_0/Q4_0 weights. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "harness.h"
#include "split_matmul.h"
#include "test_random.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"

/* ---- the quantizer ---- */

static void test_quantizer(void) {
  float x[64] = {0};
  int8_t q[64];
  float d[2];
  int32_t sums[2];
  /* block 0: amax 127 gives d = 1 exactly, so x / d = x: ties go to even */
  x[0] = 127.0f;
  x[1] = 63.5f;
  x[2] = 0.5f;
  x[3] = 1.5f;
  x[4] = -2.5f;
  x[5] = -127.0f;
  x[6] = 2.4999998f;
  /* block 1 stays zero */
  g2_int8_quantize_row(x, 64, q, d, sums);
  CHECK(d[0] == 1.0f && q[0] == 127 && q[1] == 64 && q[2] == 0 && q[3] == 2 && q[4] == -2 && q[5] == -127 &&
            q[6] == 2 && sums[0] == 127 + 64 + 2 - 2 - 127 + 2,
        "quantizer: d = amax / 127, halves to even (63.5 -> %d, 0.5 -> %d, 1.5 -> %d, -2.5 -> %d)", q[1], q[2],
        q[3], q[4]);
  int zero = d[1] == 0.0f && sums[1] == 0;
  for (int i = 32; i < 64; i++) zero &= q[i] == 0;
  CHECK(zero, "quantizer: an all-zero block has d = 0 and q = 0");

  /* a subnormal amax: d is inexact and x / d may pass 127, clamped */
  for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) * 1e-44f;
  g2_int8_quantize_row(x, 32, q, d, sums);
  int in_range = d[0] > 0.0f;
  for (int i = 0; i < 32; i++) in_range &= q[i] != -128;
  CHECK(in_range, "quantizer: subnormal activations give d %g and q within [-127, 127] (q[0] %d)", (double)d[0],
        q[0]);
  x[0] = 1e-45f;
  for (int i = 1; i < 32; i++) x[i] = 0.0f;
  g2_int8_quantize_row(x, 32, q, d, sums);
  CHECK(d[0] == 0.0f && q[0] == 0, "quantizer: amax / 127 rounding to 0 quantizes the block to zeros");
}

/* ---- matrices and activations ---- */

/* The matmuls' work area (kernels.h), one thread. */
static g2_work work[1];

static int hostile_weights; /* make_matrix then writes extreme blocks */
/* make_matrix then gives Q8_0 matrices their block sums, as a loaded model
   has them on the VNNI tables (the batch paths then use them); the tests
   run with and without, so the tag names which in each check. */
static int block_sums;
static const char *sums_tag(void) { return block_sums ? " + block sums" : ""; }
/* The dtypes a test runs: Q8_0 and Q4_0, or Q8_0 alone (block sums). */
static int n_dtypes(void) { return block_sums ? 1 : 2; }

typedef struct test_matrix {
  g2_matrix m;
  unsigned char *storage;
  int16_t *sums; /* m.block_sums, or NULL */
  float *dense; /* [n_out][n_in], the dequantized weights */
} test_matrix;

static test_matrix make_matrix(g2_dtype dtype, size_t n_out, size_t n_in) {
  test_matrix t;
  size_t row_bytes = g2_dtype_row_bytes(dtype, (int64_t)n_in);
  t.storage = malloc(n_out * row_bytes);
  t.dense = malloc(n_out * n_in * sizeof(float));
  for (size_t r = 0; r < n_out; r++) {
    float *row = t.dense + r * n_in;
    float spread = uniform(0.01f, 2.0f); /* rows of different scales */
    for (size_t c = 0; c < n_in; c++) row[c] = uniform(-spread, spread);
    g2_quantize(dtype, row, (int64_t)n_in, t.storage + r * row_bytes);
    g2_dequantize(dtype, t.storage + r * row_bytes, 0, (int64_t)n_in, row);
  }
  t.m = (g2_matrix){t.storage, dtype, G2_LAYOUT_NK, (int64_t)n_out, (int64_t)n_in, NULL};
  if (hostile_weights) { /* what a file may hold: q = -128, the largest and subnormal F16 scales */
    size_t block_bytes = dtype == G2_DT_Q8_0 ? 34 : 18;
    for (size_t b = 0; b < n_out * n_in / 32; b++) {
      unsigned char *block = t.storage + b * block_bytes;
      uint16_t scale = b % 3 == 0 ? 0x7bff : b % 3 == 1 ? 0x0001 : 0x3c00;
      memcpy(block, &scale, 2);
      if (dtype == G2_DT_Q8_0)
        for (size_t i = 2; i < block_bytes; i += 5) block[i] = 0x80;
    }
  }
  t.sums = NULL;
  if (block_sums && dtype == G2_DT_Q8_0) {
    t.sums = malloc(n_out * (n_in / 32) * sizeof *t.sums);
    g2_int8_block_sums(&t.m, t.sums);
    t.m.block_sums = t.sums;
  }
  return t;
}

static void free_matrix(test_matrix *t) {
  free(t->storage);
  free(t->sums);
  free(t->dense);
}

enum { KIND_UNIFORM, KIND_ZERO, KIND_HUGE_ONE, KIND_SUBNORMAL, KIND_LARGE, KIND_MIXED, N_KINDS };
static const char *const kind_names[] = {"uniform", "all zero", "one huge", "subnormal", "+-large", "mixed"};

/* Activations of one kind; "mixed" picks a kind per block of 32. */
static void fill_activations(float *x, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    int k = kind == KIND_MIXED ? (int)((i / 32 * 2654435761u) % KIND_MIXED) : kind;
    switch (k) {
      case KIND_ZERO: x[i] = 0.0f; break;
      case KIND_HUGE_ONE: x[i] = i % 97 == 5 ? 1e30f : uniform(-1.0f, 1.0f); break;
      case KIND_SUBNORMAL: x[i] = uniform(-1.0f, 1.0f) * 1e-39f; break;
      case KIND_LARGE: x[i] = (next_u32() & 1 ? 1.0f : -1.0f) * uniform(1e37f, 3e38f); break;
      default: x[i] = uniform(-3.0f, 3.0f); break;
    }
  }
}

/* ---- the oracle against the exact product ---- */

/* Each activation moves by at most d_x / 2 (rounding; the clamp only acts
   on subnormal scales, excluded here): |oracle - exact| <= sum_b d_x,b / 2
   * sum_i |w_i| over the block, plus float rounding: the scale product,
   each fma and the final adds, n_blocks + 3 roundings of at most the sum
   of |terms| (<= 1.01 * sum |x w|) at u = 2^-24. */
static void test_oracle_accuracy(void) {
  static const size_t n_ins[] = {32, 96, 768, 3072};
  double worst = 0.0;
  int checked = 0;
  for (int dt = 0; dt < 2; dt++)
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
      size_t n_in = n_ins[s], n_out = 7, n_tok = 3;
      test_matrix t = make_matrix(dt ? G2_DT_Q4_0 : G2_DT_Q8_0, n_out, n_in);
      float *x = malloc(n_tok * n_in * sizeof(float)), out[3 * 7];
      fill_activations(x, n_tok * n_in, KIND_UNIFORM);
      g2_int8_ref_matmul(&t.m, x, n_tok, n_in, NULL, out, n_out, 0, n_out);
      int8_t *q = malloc(n_in);
      float *d = malloc(n_in / 32 * sizeof(float));
      int32_t *sums = malloc(n_in / 32 * sizeof(int32_t));
      for (size_t tok = 0; tok < n_tok; tok++) {
        const float *xt = x + tok * n_in;
        g2_int8_quantize_row(xt, n_in, q, d, sums);
        for (size_t j = 0; j < n_out; j++) {
          const float *w = t.dense + j * n_in;
          double exact = 0, bound = 0, magnitude = 0;
          for (size_t k = 0; k < n_in; k++) {
            exact += (double)xt[k] * w[k];
            bound += 0.5 * d[k / 32] * fabs(w[k]);
            magnitude += fabs((double)xt[k] * w[k]);
          }
          bound += (double)(n_in / 32 + 3) * ldexp(1.0, -24) * 1.01 * (magnitude + bound) + 1e-30;
          double ratio = fabs(out[tok * n_out + j] - exact) / bound;
          worst = ratio > worst ? ratio : worst;
          checked++;
        }
      }
      free(q);
      free(d);
      free(sums);
      free(x);
      free_matrix(&t);
    }
  CHECK(worst <= 1.0, "oracle within the activation rounding bound of the exact product (%d outputs, worst %.3f "
        "of the bound)", checked, worst);
}

/* ---- the int8 tables' kernels against the oracle ---- */

static const float sentinel = -12345.0f;

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* One matrix, one token count, one activation kind: the table's result has
   the oracle's bits, touches only its columns, and any column split or
   token batching gives the same bits. Returns the number of failures. */
static int check_shape(const g2_kernels *kt, g2_dtype dtype, size_t n_out, size_t n_in, size_t n_tok, int kind,
                       int with_bias) {
  test_matrix t = make_matrix(dtype, n_out, n_in);
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
  g2_int8_ref_matmul(&t.m, x, n_tok, x_stride, b, want, out_stride, 0, n_out);
  g2_matmul(kt, &t.m, x, n_tok, x_stride, b, got, out_stride, 0, n_out, work);
  int failures = 0;
  if (!same_bits(want, got, n_tok * out_stride)) {
    failures++;
    for (size_t i = 0; i < n_tok * out_stride; i++)
      if (memcmp(&want[i], &got[i], sizeof(float)) != 0) {
        printf("# %s n_out %zu n_in %zu n_tok %zu %s: element %zu: oracle %.9g, %s %.9g\n", g2_dtype_name(dtype),
               n_out, n_in, n_tok, kind_names[kind], i, (double)want[i], kt->name, (double)got[i]);
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

static void test_kernels_bitwise(const g2_kernels *kt) {
  static const size_t n_ins[] = {32, 64, 96, 160, 736, 768, 3072, 4128};
  static const size_t n_outs[] = {1, 7, 8, 9, 16, 17, 33, 50};
  for (int dt = 0; dt < n_dtypes(); dt++) {
    g2_dtype dtype = dt ? G2_DT_Q4_0 : G2_DT_Q8_0;
    int failures = 0, cases = 0;
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++)
      for (size_t n_tok = 1; n_tok <= 13; n_tok += (n_ins[s] >= 3072 ? 4 : 1)) {
        size_t n_out = n_outs[(s + n_tok) % (sizeof n_outs / sizeof n_outs[0])];
        int kind = (int)((s + n_tok) % N_KINDS);
        failures += check_shape(kt, dtype, n_out, n_ins[s], n_tok, kind, (int)(n_tok % 2));
        cases++;
      }
    CHECK(failures == 0, "%s %s%s: oracle's bits, and the same with odd column splits and token batches (%d "
          "cases, n_in 32..4128, n_tok 1..13, %d failures)", kt->name, g2_dtype_name(dtype), sums_tag(), cases,
          failures);
    /* around the token-lanes path's group of 16 and its upper ends (32;
       64 for Q8_0 with block sums);
       activations whose tokens differ in every output (with a huge,
       subnormal or +-large kind all tokens can round to the same sums) */
    static const size_t lane_toks[] = {15, 16, 17, 31, 32, 33, 63, 64, 65};
    failures = 0;
    for (size_t i = 0; i < sizeof lane_toks / sizeof lane_toks[0]; i++)
      failures += check_shape(kt, dtype, n_outs[(i + 1) % 8], i % 2 ? 768 : 160, lane_toks[i],
                              i % 2 ? KIND_MIXED : KIND_UNIFORM, (int)(i % 2));
    /* with block sums, rows of 3072 take the lanes for any count (uniform
       activations: over 96 blocks "mixed" meets a +-large block in every
       row, whose infinite sums are the same for every token; 53 outputs:
       several column slices, each finding more groups of 16 tokens than
       the work area keeps) */
    if (block_sums) failures += check_shape(kt, dtype, 53, 3072, 70, KIND_UNIFORM, 1);
    CHECK(failures == 0, "%s %s%s: oracle's bits for n_tok 15..17, 31..33 and 63..65 (%d failures)%s", kt->name,
          g2_dtype_name(dtype), sums_tag(), failures, block_sums ? ", and 70 on rows of 3072" : "");
    for (int kind = 0; kind < N_KINDS; kind++) {
      int f = check_shape(kt, dtype, 21, 96, 9, kind, 1) + check_shape(kt, dtype, 21, 96, 1, kind, 0);
      CHECK(f == 0, "%s %s%s: %s activations: oracle's bits in a batch and for one token", kt->name,
            g2_dtype_name(dtype), sums_tag(), kind_names[kind]);
    }
  }
}

/* The row lengths of every GPT-2 size (n_embd 768, 1024, 1280, 1600 and
   4 n_embd) with 1..70 tokens (all of them at 768, a spread around the
   paths' switches elsewhere): the oracle's bits, odd column splits. */
static void test_gpt2_rows(const g2_kernels *kt) {
  static const size_t n_ins[] = {768, 1024, 1280, 1600, 3072, 4096, 5120, 6400};
  static const size_t some_toks[] = {1, 2, 3, 4, 5, 6, 7, 9, 13, 16, 17, 33, 64, 70};
  for (int dt = 0; dt < 2; dt++) {
    g2_dtype dtype = dt ? G2_DT_Q4_0 : G2_DT_Q8_0;
    int failures = 0, cases = 0;
    for (size_t s = 0; s < sizeof n_ins / sizeof n_ins[0]; s++) {
      size_t count = s == 0 ? 70 : sizeof some_toks / sizeof some_toks[0];
      for (size_t i = 0; i < count; i++) {
        size_t n_tok = s == 0 ? i + 1 : some_toks[i];
        failures += check_shape(kt, dtype, s % 2 ? 13 : 11, n_ins[s], n_tok, (int)((s + i) % 2 ? KIND_MIXED : KIND_UNIFORM),
                                (int)(i % 2));
        cases++;
      }
    }
    CHECK(failures == 0, "%s %s: oracle's bits at every GPT-2 row length (768..6400), 1..70 tokens (%d cases, %d "
          "failures)", kt->name, g2_dtype_name(dtype), cases, failures);
  }
}

/* Weights at the edges of the formats: still the oracle's bits. */
static void test_hostile_weights(const g2_kernels *kt) {
  hostile_weights = 1;
  for (int dt = 0; dt < n_dtypes(); dt++) {
    g2_dtype dtype = dt ? G2_DT_Q4_0 : G2_DT_Q8_0;
    int f = check_shape(kt, dtype, 19, 160, 7, KIND_UNIFORM, 1) + check_shape(kt, dtype, 19, 160, 1, KIND_MIXED, 0) +
            check_shape(kt, dtype, 19, 96, 5, KIND_LARGE, 1);
    CHECK(f == 0, "%s %s%s: q = -128 (Q8_0), F16 scales 65504 and 2^-24: oracle's bits", kt->name,
          g2_dtype_name(dtype), sums_tag());
  }
  hostile_weights = 0;
}

/* An int8 table leaves other types to its exact table's path. */
static void test_other_types(const g2_kernels *kt, const g2_kernels *exact) {
  test_matrix t = make_matrix(G2_DT_Q8_0, 5, 96);
  g2_matrix f32 = {t.dense, G2_DT_F32, G2_LAYOUT_NK, 5, 96, NULL};
  float x[2 * 96], want[10], got[10];
  fill_activations(x, 2 * 96, KIND_UNIFORM);
  g2_matmul(exact, &f32, x, 2, 96, NULL, want, 5, 0, 5, work);
  g2_matmul(kt, &f32, x, 2, 96, NULL, got, 5, 0, 5, work);
  CHECK(same_bits(want, got, 10), "%s: F32 weights take the %s path (same bits)", kt->name, exact->name);
  free_matrix(&t);

  /* rows longer than G2_INT8_MAX_IN (the activation scratch) are exact */
  size_t n_in = G2_INT8_MAX_IN + 32;
  test_matrix big = make_matrix(G2_DT_Q8_0, 3, n_in);
  float *xs = malloc(2 * n_in * sizeof(float)), big_want[6], big_got[6];
  fill_activations(xs, 2 * n_in, KIND_UNIFORM);
  g2_matmul(exact, &big.m, xs, 2, n_in, NULL, big_want, 3, 0, 3, work);
  g2_matmul(kt, &big.m, xs, 2, n_in, NULL, big_got, 3, 0, 3, work);
  CHECK(!g2_int8_supported(&big.m) && same_bits(big_want, big_got, 6),
        "%s: Q8_0 rows of %zu take the exact %s path (same bits)", kt->name, n_in, exact->name);
  free(xs);
  free_matrix(&big);
}

/* ---- whole models ---- */

enum { N_TOKENS = 64 };

static float *model_logits(const char *path, uint32_t weight_type, const char *isa, uint32_t n_threads,
                           int *n_vocab) {
  setenv("GPT2_ISA", isa, 1);
  gpt2_load_params load_params = GPT2_LOAD_PARAMS_INIT;
  load_params.weight_type = weight_type;
  gpt2_model *model = NULL;
  int ok = gpt2_load(path, &load_params, &model) == GPT2_OK;
  unsetenv("GPT2_ISA");
  gpt2_context_params ctx_params = GPT2_CONTEXT_PARAMS_INIT;
  ctx_params.logits_all = 1;
  ctx_params.n_threads = n_threads;
  gpt2_context *ctx = NULL;
  ok = ok && gpt2_context_new(model, &ctx_params, &ctx) == GPT2_OK;
  float *logits = NULL;
  if (ok) {
    *n_vocab = gpt2_n_vocab(model);
    int n = N_TOKENS < (int)gpt2_n_ctx(ctx) ? N_TOKENS : (int)gpt2_n_ctx(ctx);
    gpt2_token tokens[N_TOKENS];
    uint64_t state = 12345;
    for (int i = 0; i < n; i++) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      tokens[i] = (gpt2_token)((state >> 33) % (uint64_t)*n_vocab);
    }
    ok = gpt2_eval(ctx, tokens, n) == GPT2_OK;
    logits = ok ? calloc((size_t)N_TOKENS * (size_t)*n_vocab, sizeof(float)) : NULL;
    for (int i = 0; ok && i < n; i++)
      memcpy(logits + (size_t)i * (size_t)*n_vocab, gpt2_logits(ctx, i), (size_t)*n_vocab * sizeof(float));
  }
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return logits;
}

typedef struct logits_error {
  double rms_error; /* RMS of the differences / RMS of the reference logits */
  double top1;      /* fraction of positions with the same argmax */
} logits_error;

static logits_error compare_logits(const float *a, const float *b, int n_vocab) {
  double diff_sq = 0, ref_sq = 0;
  int agree = 0;
  for (int i = 0; i < N_TOKENS; i++) {
    const float *ra = a + (size_t)i * (size_t)n_vocab, *rb = b + (size_t)i * (size_t)n_vocab;
    int best_a = 0, best_b = 0;
    for (int v = 0; v < n_vocab; v++) {
      diff_sq += ((double)ra[v] - rb[v]) * ((double)ra[v] - rb[v]);
      ref_sq += (double)ra[v] * ra[v];
      best_a = ra[v] > ra[best_a] ? v : best_a;
      best_b = rb[v] > rb[best_b] ? v : best_b;
    }
    agree += best_a == best_b;
  }
  return (logits_error){sqrt(diff_sq / ref_sq), (double)agree / N_TOKENS};
}

/* Bounds: see main. */
typedef struct model_bound {
  const char *name;
  uint32_t weight_type;
  double rms_error;
  double min_top1;
} model_bound;

static void test_model(const model_bound *bound, const char *int8_isa, const char *exact_isa) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), bound->name);
  const char *type = bound->weight_type == GPT2_WTYPE_Q8_0 ? "q8_0" : "q4_0";
  int n_vocab = 0;
  float *exact = model_logits(path, bound->weight_type, exact_isa, 1, &n_vocab);
  float *int8 = model_logits(path, bound->weight_type, int8_isa, 1, &n_vocab);
  float *threaded = model_logits(path, bound->weight_type, int8_isa, 2, &n_vocab);
  CHECK(exact && int8 && threaded, "%s as %s: evaluated by %s and %s (%s)", bound->name, type, exact_isa, int8_isa,
        gpt2_last_error());
  if (exact && int8 && threaded) {
    logits_error error = compare_logits(exact, int8, n_vocab);
    CHECK(error.rms_error <= bound->rms_error,
          "%s as %s: %s (int8 activations) vs %s: logit error %.2e RMS relative (bound %.2g)", bound->name, type,
          int8_isa, exact_isa, error.rms_error, bound->rms_error);
    CHECK(error.top1 >= bound->min_top1, "%s as %s: %s top-1 agreement %.1f%% over %d positions (bound %.0f%%)",
          bound->name, type, int8_isa, 100 * error.top1, N_TOKENS, 100 * bound->min_top1);
    CHECK(same_bits(int8, threaded, (size_t)N_TOKENS * (size_t)n_vocab),
          "%s as %s: %s gives the same bits with 1 and 2 threads", bound->name, type, int8_isa);
  }
  free(exact);
  free(int8);
  free(threaded);
}

int main(void) {
  random_seed(0x2545f4914f6cdd1dull);
  test_quantizer();
  test_oracle_accuracy();
  /* Bounds, as RMS logit error relative to the RMS logit, against the
     exact products on the same quantized weights. Rounding an activation
     to 8 bits moves it by up to d_x / 2, d_x = amax / 127 of its block: an
     RMS error of amax / 127 / sqrt 12, about 4.8e-3 of the activations'
     spread for blocks of 32 Gaussians (amax about 2.1 sigma), the same
     relative size as Q8_0's weight rounding; these random-weight models
     carry it into the logits amplified about 8x. Measured (x86-64, gcc 12):
     RMS 2.68e-2 .. 4.33e-2, top-1 84% .. 98% (tiny, mid, odd, 124m; Q8_0
     and Q4_0). Planted: 7-bit activations (d_x = amax / 63 in the oracle
     and the kernel alike, so only this check and the quantizer's own can
     see it) measured RMS 5.62e-2 .. 8.56e-2, top-1 80% .. 92%. The RMS
     bound, 5e-2, sits between the two (1.15x the worst measured, 0.9x the
     smallest planted effect); the top-1 bound, 75%, only catches gross
     errors (the planted one stays above it). */
  static const model_bound bounds[] = {
      {"tiny-f32", GPT2_WTYPE_Q8_0, 5e-2, 0.75}, {"tiny-f32", GPT2_WTYPE_Q4_0, 5e-2, 0.75},
      {"mid-f32", GPT2_WTYPE_Q8_0, 5e-2, 0.75},  {"mid-f32", GPT2_WTYPE_Q4_0, 5e-2, 0.75},
      {"odd-f32", GPT2_WTYPE_Q8_0, 5e-2, 0.75},  {"odd-f32", GPT2_WTYPE_Q4_0, 5e-2, 0.75},
      {"124m-f32", GPT2_WTYPE_Q8_0, 5e-2, 0.75}, {"124m-f32", GPT2_WTYPE_Q4_0, 5e-2, 0.75},
  };
  /* GPT2_INT8_ONLY=name,name,... runs just those models (tests/neon.test.sh,
     where the 124M shape is too slow under emulation). */
  const char *only = getenv("GPT2_INT8_ONLY");
  /* The sanitizer passes (tests/sanitize.sh) leave the 124M models to the
     plain run, as test_golden does: the same code as the smaller models. */
  const char *sanitizer = getenv("GPT2_TEST_SANITIZER");
  /* Each int8 table beside the exact table of its instruction set. */
  static const char *const tables[][2] = {{"avx512vnni", "avx512"}, {"avx2int8", "avx2"}, {"neondot", "neon"}};
  for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
    const g2_kernels *kt = g2_kernels_select(tables[k][0], 0), *exact = g2_kernels_select(tables[k][1], 0);
    if (!kt || !exact) {
      SKIP("%s kernels (bitwise against the oracle, hostile weights, other types, whole models): this CPU or "
           "build does not run the table",
           tables[k][0]);
      continue;
    }
    test_kernels_bitwise(kt);
    test_gpt2_rows(kt);
    test_hostile_weights(kt);
    /* again on Q8_0 matrices that carry their block sums (the model's
       g2_matrix.block_sums): a kernel that uses them or not, same bits */
    block_sums = 1;
    test_kernels_bitwise(kt);
    test_hostile_weights(kt);
    block_sums = 0;
    test_other_types(kt, exact);
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
      if (only && !strstr(only, bounds[i].name)) {
        SKIP("%s on %s: not in GPT2_INT8_ONLY", bounds[i].name, tables[k][0]);
        continue;
      }
      if (sanitizer && *sanitizer && strncmp(bounds[i].name, "124m-", 5) == 0) {
        SKIP("%s on %s: not run under GPT2_TEST_SANITIZER=%s (the plain run checks it)", bounds[i].name,
             tables[k][0], sanitizer);
        continue;
      }
      test_model(&bounds[i], tables[k][0], tables[k][1]);
    }
  }
  HARNESS_EXIT();
}
