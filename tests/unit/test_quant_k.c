/* The quantizers of lib/tensor/quant_k.c and quant_32.c (Q3_K, Q4_K, Q5_K and
   the fallbacks Q4_1, Q5_0, Q5_1) against ggml's own bytes: tests/data/quant/
   k_input.f32 (tools/gen/gen_k_input.py: 16 super-blocks shaped to reach
   every branch, then Gaussian weights of scales 1e-6 .. 10) quantized by
   ggml_quantize_chunk of the llama.cpp that tools/check_llamacpp.sh
   installs (which also re-checks that ggml still gives these bytes).
   Every check is exact: the blocks must be equal bit for bit, since
   gpt2-quantize's files are compared with llama-quantize's byte by byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"

enum { N_INPUT = 16 * 256 };

static const char *data_dir;

static unsigned char *load(const char *name, size_t *size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/quant/%s", data_dir, name);
  FILE *f = fopen(path, "rb");
  unsigned char *data = NULL;
  *size = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(n > 0 ? (size_t)n : 1);
    if (data && n > 0 && fread(data, 1, (size_t)n, f) == (size_t)n) *size = (size_t)n;
    fclose(f);
  }
  CHECK(*size > 0, "read %s", path);
  return data;
}

/* Our blocks of the input equal ggml's (`file`), block by block; and every
   byte is written (the same result over a buffer of 0x00 and of 0xff). */
static void check_blocks(g2_dtype dtype, const float *input, const char *file) {
  size_t size;
  unsigned char *want = load(file, &size);
  size_t bytes = g2_dtype_row_bytes(dtype, N_INPUT);
  unsigned char *got = malloc(bytes), *again = malloc(bytes);
  if (want && got && again && size == bytes) {
    memset(got, 0x00, bytes);
    memset(again, 0xff, bytes);
    g2_quantize(dtype, input, N_INPUT, got);
    g2_quantize(dtype, input, N_INPUT, again);
    size_t block = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
    size_t n_blocks = bytes / block, n_bad = 0, first = n_blocks;
    for (size_t b = 0; b < n_blocks; b++)
      if (memcmp(got + b * block, want + b * block, block)) {
        if (!n_bad) first = b;
        n_bad++;
      }
    CHECK(n_bad == 0, "%s: %zu blocks of %zu equal ggml's bit for bit (%zu differ, the first: block %zu)",
          g2_dtype_name(dtype), n_blocks - n_bad, n_blocks, n_bad, first);
    CHECK(memcmp(got, again, bytes) == 0, "%s: every byte of every block is written", g2_dtype_name(dtype));
  } else {
    CHECK(0, "%s: %zu bytes, expected %zu", file, size, bytes);
  }
  free(want);
  free(got);
  free(again);
}

/* NaN and infinite weights (a corrupt checkpoint): defined bytes, no
   trap; the run under the sanitizers (tests/asan.test.sh) checks the
   absence of undefined behaviour, in quantizing and in decoding. */
static void check_non_finite(g2_dtype dtype) {
  float x[256];
  for (int i = 0; i < 256; i++) x[i] = i % 7 == 0 ? NAN : i % 11 == 0 ? -INFINITY : (float)i;
  size_t bytes = g2_dtype_row_bytes(dtype, 256);
  unsigned char a[256], b[256];
  memset(a, 0x00, sizeof a);
  memset(b, 0xff, sizeof b);
  g2_quantize(dtype, x, 256, a);
  g2_quantize(dtype, x, 256, b);
  float back[256];
  g2_dequantize(dtype, a, 0, 256, back);
  CHECK(memcmp(a, b, bytes) == 0, "%s of NaN and -inf values: every byte defined and written",
        g2_dtype_name(dtype));
}

int main(void) {
  data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  size_t size;
  float *input = (float *)load("k_input.f32", &size);
  if (input && size == N_INPUT * sizeof(float)) {
    check_blocks(G2_DT_Q3_K, input, "q3_k_quant.bin");
    check_blocks(G2_DT_Q4_K, input, "q4_k_quant.bin");
    check_blocks(G2_DT_Q5_K, input, "q5_k_quant.bin");
    check_blocks(G2_DT_Q4_1, input, "q4_1_quant.bin");
    check_blocks(G2_DT_Q5_0, input, "q5_0_quant.bin");
    check_blocks(G2_DT_Q5_1, input, "q5_1_quant.bin");
  } else {
    CHECK(0, "k_input.f32 holds %d floats", N_INPUT);
  }
  check_non_finite(G2_DT_Q3_K);
  check_non_finite(G2_DT_Q4_K);
  check_non_finite(G2_DT_Q5_K);
  check_non_finite(G2_DT_Q4_1);
  check_non_finite(G2_DT_Q5_0);
  check_non_finite(G2_DT_Q5_1);
  free(input);
  HARNESS_EXIT();
}
