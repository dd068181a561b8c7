/* The weight type conversions of lib/tensor/quant.c against vectors computed
   independently by tools/gen/gen_quant_vectors.py (numpy float32, element by
   element from the GGUF block definitions) in tests/data/quant: F16/BF16
   rounding, Q8_0/Q4_0/Q6_K blocks bit for bit as ggml's reference
   quantizers (the vectors were also checked against ggml's own
   ggml_quantize_chunk, docs/gguf.md),
   and the values of Q8_0, Q4_0, Q4_K, Q5_K and Q6_K blocks; and the values
   of Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL and IQ4_XS blocks as ggml's own
   to_float gives them (tools/llamacpp/ggml_type_vectors.c). All checks are
   exact: both sides do the same IEEE float32 operations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"

static const char *data_dir;

static void *load(const char *name, size_t *size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/quant/%s", data_dir, name);
  FILE *f = fopen(path, "rb");
  void *data = NULL;
  *size = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n);
    if (data && fread(data, 1, (size_t)n, f) == (size_t)n) *size = (size_t)n;
    fclose(f);
  }
  CHECK(*size > 0, "read %s", path);
  return data;
}

/* Equal bits, or both NaN (an infinite scale times 0). */
static int same_float(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static size_t first_float_difference(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!same_float(a[i], b[i])) return i;
  return n;
}

static size_t first_byte_difference(const unsigned char *a, const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return n;
}

static float *input;
static size_t n_input;

/* Quantizing the inputs gives the expected bytes; n elements. */
static void check_quantize(g2_dtype dtype, const char *file, size_t n) {
  size_t size;
  unsigned char *expected = load(file, &size);
  size_t bytes = g2_dtype_row_bytes(dtype, (int64_t)n);
  unsigned char *got = calloc(bytes ? bytes : 1, 1);
  if (expected && got && size == bytes) {
    g2_quantize(dtype, input, (int64_t)n, got);
    size_t at = first_byte_difference(got, expected, bytes);
    size_t block = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
    CHECK(at == bytes, "%s of %zu values matches the reference bit for bit (first difference: block %zu byte %zu)",
          g2_dtype_name(dtype), n, at / block, at % block);
  } else {
    CHECK(0, "%s: %zu bytes, expected %zu", file, size, bytes);
  }
  free(expected);
  free(got);
}

/* Dequantizing `blocks_file` gives `values_file`, as whole rows and as
   runs starting inside the row. */
static void check_dequantize(g2_dtype dtype, const char *blocks_file, const char *values_file) {
  size_t n_bytes, n_values_bytes;
  unsigned char *blocks = load(blocks_file, &n_bytes);
  float *expected = load(values_file, &n_values_bytes);
  int64_t block = g2_dtype_block_size(dtype);
  size_t n = n_values_bytes / sizeof(float);
  float *got = calloc(n ? n : 1, sizeof *got);
  if (blocks && expected && got && g2_dtype_row_bytes(dtype, (int64_t)n) == n_bytes) {
    g2_dequantize(dtype, blocks, 0, (int64_t)n, got);
    size_t at = first_float_difference(got, expected, n);
    CHECK(at == n, "%s: %zu values match the reference (first difference at %zu: %g vs %g)",
          g2_dtype_name(dtype), n, at, at < n ? got[at] : 0.0, at < n ? expected[at] : 0.0);
    /* a run starting at the second block, two blocks long */
    memset(got, 0, n * sizeof *got);
    g2_dequantize(dtype, blocks, block, 2 * block, got);
    at = first_float_difference(got, expected + block, (size_t)(2 * block));
    CHECK(at == (size_t)(2 * block), "%s: a run from the second block matches", g2_dtype_name(dtype));
  } else {
    CHECK(0, "%s / %s sizes agree", blocks_file, values_file);
  }
  free(blocks);
  free(expected);
  free(got);
}

/* Non-finite weights must not reach an undefined float-to-int conversion
   (the sanitizer build adds -fsanitize=float-cast-overflow, which checks
   it), and give the blocks their definitions imply: NaN quantizes to 0; an
   infinity makes the scale infinite, so every other weight scales to 0
   (Q8_0 quant 0, Q4_0 quant 8, the zero point); a Q6_K group holding a NaN
   fits a NaN scale, and a block whose groups all do is the all-zero block.
   Scales are little-endian F16: 0x7c00 = +inf, 0xfc00 = -inf. */
static void check_non_finite(void) {
  float block[32];
  for (int i = 0; i < 32; i++) block[i] = (float)i - 16.0f;
  block[3] = NAN;
  block[7] = INFINITY;
  unsigned char q8[34], q4[18], want8[34] = {0x00, 0x7c}, want4[18] = {0x00, 0xfc};
  memset(want4 + 2, 0x88, 16);
  want4[2 + 3] = want4[2 + 7] = 0x80; /* low nibbles: weights 3 and 7 */
  g2_quantize(G2_DT_Q8_0, block, 32, q8);
  g2_quantize(G2_DT_Q4_0, block, 32, q4);
  CHECK(memcmp(q8, want8, sizeof q8) == 0, "Q8_0 of NaN and +inf: scale +inf, every quant 0");
  CHECK(memcmp(q4, want4, sizeof q4) == 0, "Q4_0 of NaN and +inf: scale -inf, quant 0 for both, 8 elsewhere");
  block[7] = -INFINITY;
  block[3] = 0.0f;
  want4[1] = 0x7c;
  want4[2 + 3] = 0x88;
  g2_quantize(G2_DT_Q8_0, block, 32, q8);
  g2_quantize(G2_DT_Q4_0, block, 32, q4);
  CHECK(memcmp(q8, want8, sizeof q8) == 0, "Q8_0 of -inf: scale +inf, every quant 0");
  CHECK(memcmp(q4, want4, sizeof q4) == 0, "Q4_0 of -inf: scale +inf, quant 0 for it, 8 elsewhere");
  float super[256];
  unsigned char q6[210], zero[210] = {0};
  for (int i = 0; i < 256; i++) super[i] = i % 7 == 0 ? NAN : i % 11 == 0 ? INFINITY : (float)i;
  memset(q6, 0xff, sizeof q6);
  g2_quantize(G2_DT_Q6_K, super, 256, q6);
  CHECK(memcmp(q6, zero, sizeof q6) == 0, "Q6_K with a NaN in every group of 16: the all-zero block");
}

static void check_sizes(void) {
  CHECK(g2_dtype_row_bytes(G2_DT_Q4_K, 512) == 288 && g2_dtype_row_bytes(G2_DT_Q5_K, 256) == 176 &&
            g2_dtype_row_bytes(G2_DT_Q6_K, 256) == 210 && g2_dtype_row_bytes(G2_DT_Q8_0, 64) == 68 &&
            g2_dtype_row_bytes(G2_DT_Q4_0, 32) == 18 && g2_dtype_row_bytes(G2_DT_Q4_K, 100) == 0,
        "row sizes of the block types (GGUF: Q4_K 144, Q5_K 176, Q6_K 210, Q8_0 34, Q4_0 18 bytes)");
  CHECK(g2_dtype_row_bytes(G2_DT_Q4_1, 64) == 40 && g2_dtype_row_bytes(G2_DT_Q5_0, 32) == 22 &&
            g2_dtype_row_bytes(G2_DT_Q5_1, 32) == 24 && g2_dtype_row_bytes(G2_DT_Q2_K, 256) == 84 &&
            g2_dtype_row_bytes(G2_DT_Q3_K, 256) == 110 && g2_dtype_row_bytes(G2_DT_IQ4_NL, 32) == 18 &&
            g2_dtype_row_bytes(G2_DT_IQ4_XS, 512) == 272 && g2_dtype_row_bytes(G2_DT_IQ4_XS, 320) == 0,
        "row sizes of the read-only block types (ggml-common.h: Q4_1 20, Q5_0 22, Q5_1 24, Q2_K 84, Q3_K 110, "
        "IQ4_NL 18, IQ4_XS 136 bytes)");
}

int main(void) {
  data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  size_t size;
  input = load("input.f32", &size);
  n_input = size / sizeof(float);
  if (input && n_input % 32 == 0 && n_input > 32) {
    /* the last block of the inputs holds infinities: only converted to 16 bits */
    size_t n_quantized = n_input - 32;
    check_quantize(G2_DT_F16, "f16.bin", n_input);
    check_quantize(G2_DT_BF16, "bf16.bin", n_input);
    check_quantize(G2_DT_Q8_0, "q8_0.bin", n_quantized);
    check_quantize(G2_DT_Q4_0, "q4_0.bin", n_quantized);
    check_quantize(G2_DT_Q6_K, "q6_k_quant.bin", 2560);
  }
  check_dequantize(G2_DT_Q8_0, "q8_0.bin", "q8_0.f32");
  check_dequantize(G2_DT_Q4_0, "q4_0.bin", "q4_0.f32");
  check_dequantize(G2_DT_Q6_K, "q6_k.bin", "q6_k.f32");
  check_dequantize(G2_DT_Q4_K, "q4_k.bin", "q4_k.f32");
  check_dequantize(G2_DT_Q5_K, "q5_k.bin", "q5_k.f32");
  /* made by ggml itself (tools/llamacpp/ggml_type_vectors.c): ggml's
     quantization of the inputs, then blocks of random bytes */
  check_dequantize(G2_DT_Q4_1, "q4_1.bin", "q4_1.f32");
  check_dequantize(G2_DT_Q5_0, "q5_0.bin", "q5_0.f32");
  check_dequantize(G2_DT_Q5_1, "q5_1.bin", "q5_1.f32");
  check_dequantize(G2_DT_Q2_K, "q2_k.bin", "q2_k.f32");
  check_dequantize(G2_DT_Q3_K, "q3_k.bin", "q3_k.f32");
  check_dequantize(G2_DT_IQ4_NL, "iq4_nl.bin", "iq4_nl.f32");
  check_dequantize(G2_DT_IQ4_XS, "iq4_xs.bin", "iq4_xs.f32");
  check_non_finite();
  check_sizes();
  free(input);
  HARNESS_EXIT();
}
