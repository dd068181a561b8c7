/* ggml_type_vectors write|check DIR: the dequantization vectors of
   tests/data/quant for the types libgpt2 reads but did not define first
   (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS), made by ggml itself.
   Built by tools/check_llamacpp.sh against llama.cpp's prebuilt libggml
   (not by make: it needs ggml's headers and libraries).

   For each type, NAME.bin holds the first N_QUANTIZED values of
   DIR/input.f32 quantized by ggml_quantize_chunk (no importance matrix:
   none of these types needs one), then N_RANDOM blocks of random bytes
   (every field of a block, scales included, takes arbitrary values: inf
   and NaN F16 scales too); NAME.f32 is the values ggml's to_float gives for
   all of NAME.bin. `write` writes both; `check` redoes both with this ggml
   and compares them with the committed files byte for byte, printing
   ok/FAIL lines; it exits non-zero on a difference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

enum { N_QUANTIZED = 2560, N_RANDOM = 8 };

static const struct {
  enum ggml_type type;
  const char *name;
} types[] = {
    {GGML_TYPE_Q4_1, "q4_1"}, {GGML_TYPE_Q5_0, "q5_0"},     {GGML_TYPE_Q5_1, "q5_1"},     {GGML_TYPE_Q2_K, "q2_k"},
    {GGML_TYPE_Q3_K, "q3_k"}, {GGML_TYPE_IQ4_NL, "iq4_nl"}, {GGML_TYPE_IQ4_XS, "iq4_xs"},
};

static unsigned char *slurp(const char *dir, const char *name, size_t *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(*n ? *n : 1);
  if (data && fread(data, 1, *n, f) != *n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static int spill(const char *dir, const char *name, const void *data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(data, 1, n, f) == n;
  if (f) ok &= fclose(f) == 0;
  return ok;
}

/* xorshift64: the random blocks are the same on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static unsigned char random_byte(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned char)(rng_state >> 56);
}

/* One type: the blocks and values as `write` makes them; 1 on success. */
static int make(enum ggml_type type, const float *input, unsigned char **blocks, size_t *n_bytes, float **values,
                size_t *n_values) {
  size_t block_bytes = ggml_type_size(type);
  int64_t block = ggml_blck_size(type);
  size_t quantized_bytes = (size_t)(N_QUANTIZED / block) * block_bytes;
  *n_bytes = quantized_bytes + N_RANDOM * block_bytes;
  *n_values = (size_t)(N_QUANTIZED + N_RANDOM * block);
  *blocks = malloc(*n_bytes);
  *values = malloc(*n_values * sizeof(float));
  if (!*blocks || !*values) return 0;
  if (ggml_quantize_chunk(type, input, *blocks, 0, 1, N_QUANTIZED, NULL) != quantized_bytes) return 0;
  for (size_t i = quantized_bytes; i < *n_bytes; i++) (*blocks)[i] = random_byte();
  ggml_get_type_traits(type)->to_float(*blocks, *values, (int64_t)*n_values);
  return 1;
}

static char *file_name(char *buf, size_t cap, const char *name, const char *ext) {
  snprintf(buf, cap, "%s.%s", name, ext);
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "check"))) {
    fprintf(stderr, "usage: ggml_type_vectors write|check DIR\n");
    return 2;
  }
  int write = !strcmp(argv[1], "write");
  const char *dir = argv[2];
  size_t input_bytes;
  float *input = (float *)slurp(dir, "input.f32", &input_bytes);
  if (!input || input_bytes < N_QUANTIZED * sizeof(float)) {
    fprintf(stderr, "cannot read %s/input.f32\n", dir);
    return 2;
  }
  int failures = 0;
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    unsigned char *blocks;
    float *values;
    size_t n_bytes, n_values;
    char bin[64], f32[64];
    file_name(bin, sizeof bin, types[t].name, "bin");
    file_name(f32, sizeof f32, types[t].name, "f32");
    ggml_quantize_init(types[t].type);
    if (!make(types[t].type, input, &blocks, &n_bytes, &values, &n_values)) {
      printf("FAIL %s: ggml quantizes %d values\n", types[t].name, N_QUANTIZED);
      failures++;
    } else if (write) {
      if (!spill(dir, bin, blocks, n_bytes) || !spill(dir, f32, values, n_values * sizeof(float))) {
        fprintf(stderr, "cannot write %s/%s\n", dir, bin);
        failures++;
      }
    } else {
      size_t want_bytes, want_values;
      unsigned char *want_blocks = slurp(dir, bin, &want_bytes);
      unsigned char *want_f32 = slurp(dir, f32, &want_values);
      int same_blocks = want_blocks && want_bytes == n_bytes && !memcmp(want_blocks, blocks, n_bytes);
      int same_values =
          want_f32 && want_values == n_values * sizeof(float) && !memcmp(want_f32, values, want_values);
      printf("%s %s: ggml's quantizer gives the committed blocks\n", same_blocks ? "ok" : "FAIL", bin);
      printf("%s %s: ggml's to_float gives the committed values\n", same_values ? "ok" : "FAIL", f32);
      failures += !same_blocks + !same_values;
      free(want_blocks);
      free(want_f32);
    }
    free(blocks);
    free(values);
  }
  free(input);
  return failures ? 1 : 0;
}
