/* Single-thread speed of the matmul kernel on the GPT-2 124M matrices:
   GFLOP/s for a 512-token batch and GB/s of weights for one token (12
   layers of weights, more than the caches hold, as in decoding), for each
   weight type, and GB/s of one 768 x 768 matrix read again and again from
   the caches (what the one-token kernel could do if memory kept up). A
   batch of at most 64 TOKENS runs all twelve layers, from memory, as
   generating that many sequences does. Usage: kernel_speed [ISA] [TOKENS] [TYPE-PREFIX] (e.g. Q4_K: only those cases). Numbers for
   docs/kernels.md; not a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/int8.h"
#include "kernels/kquant_int8.h"
#include "kernels/kernels.h"
#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/matrix.h"
#include "tensor/quant.h"
#include "speed_util.h"

/* The matmuls' work area (kernels.h), one thread. */
static g2_work work[1];

enum { N_EMBD = 768, N_LAYER = 12, N_VOCAB = 50257, SMALL_BATCH = 64 };

typedef struct case_def {
  const char *label;
  g2_dtype dtype;
  g2_layout layout;
} case_def;

static float random_weight(void) { return random_value() * 0.1f; }

/* Blocks of the types kquant.h unpacks, which g2_quantize does not write
   for all of them: random bytes under small F16 scales (d, and dmin or m
   where the type has one) are valid blocks. */
static void random_blocks(g2_dtype dtype, unsigned char *data, size_t bytes) {
  size_t block_bytes = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
  for (size_t i = 0; i < bytes; i++) data[i] = (unsigned char)((random_value() + 0.5f) * 256.0f);
  for (size_t b = 0; b < bytes / block_bytes; b++) {
    uint16_t scale = g2_f32_to_f16(1e-3f);
    unsigned char *block = data + b * block_bytes + g2_kq8_d_offset(dtype);
    memcpy(block, &scale, 2);
    if (g2_k_has_offset(dtype)) memcpy(block + 2, &scale, 2);
  }
}

/* A random matrix, with the block sums the table uses, as a loaded model
   has them (kernels/int8.h); release() frees both. */
static g2_matrix make(const g2_kernels *kt, g2_dtype dtype, g2_layout layout, int64_t n_out, int64_t n_in) {
  int64_t rows = layout == G2_LAYOUT_NK ? n_out : n_in, cols = layout == G2_LAYOUT_NK ? n_in : n_out;
  size_t row_bytes = g2_dtype_row_bytes(dtype, cols);
  unsigned char *data = aligned_alloc(64, ((size_t)rows * row_bytes + 63) / 64 * 64);
  if (g2_k_unpacks(dtype)) {
    random_blocks(dtype, data, (size_t)rows * row_bytes);
    return (g2_matrix){data, dtype, layout, n_out, n_in, NULL};
  }
  float *row = malloc((size_t)cols * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < cols; c++) row[c] = random_weight();
    g2_quantize(dtype, row, cols, data + (size_t)r * row_bytes);
  }
  free(row);
  g2_matrix m = {data, dtype, layout, n_out, n_in, NULL};
  if (g2_int8_wants_block_sums(kt, &m)) {
    int16_t *sums = malloc((size_t)n_out * (size_t)(n_in / G2_QK8_0) * sizeof *sums);
    g2_int8_block_sums(&m, sums);
    m.block_sums = sums;
  }
  return m;
}

static void release(g2_matrix *m) {
  free((void *)m->data);
  free((void *)m->block_sums);
}

static size_t matrix_bytes(const g2_matrix *m) {
  int64_t rows = m->layout == G2_LAYOUT_NK ? m->n_out : m->n_in;
  int64_t cols = m->layout == G2_LAYOUT_NK ? m->n_in : m->n_out;
  return (size_t)rows * g2_dtype_row_bytes(m->dtype, cols);
}

int main(int argc, char **argv) {
  const g2_kernels *kt = g2_kernels_select(argc > 1 ? argv[1] : NULL, 0);
  size_t n_batch = argc > 2 ? (size_t)atoi(argv[2]) : 512;
  if (!kt) {
    fprintf(stderr, "unknown or unsupported ISA\n");
    return 1;
  }
  static const case_def cases[] = {
      {"F32 KN", G2_DT_F32, G2_LAYOUT_KN},   {"F16 KN", G2_DT_F16, G2_LAYOUT_KN},
      {"BF16 KN", G2_DT_BF16, G2_LAYOUT_KN}, {"F32 NK", G2_DT_F32, G2_LAYOUT_NK},
      {"F16 NK", G2_DT_F16, G2_LAYOUT_NK},   {"BF16 NK", G2_DT_BF16, G2_LAYOUT_NK},
      {"Q8_0 NK", G2_DT_Q8_0, G2_LAYOUT_NK}, {"Q4_0 NK", G2_DT_Q4_0, G2_LAYOUT_NK},
      {"Q4_K NK", G2_DT_Q4_K, G2_LAYOUT_NK}, {"Q5_K NK", G2_DT_Q5_K, G2_LAYOUT_NK},
      {"Q6_K NK", G2_DT_Q6_K, G2_LAYOUT_NK}, {"Q2_K NK", G2_DT_Q2_K, G2_LAYOUT_NK},
      {"Q3_K NK", G2_DT_Q3_K, G2_LAYOUT_NK}, {"IQ4_XS NK", G2_DT_IQ4_XS, G2_LAYOUT_NK},
      {"Q4_1 NK", G2_DT_Q4_1, G2_LAYOUT_NK}, {"Q5_0 NK", G2_DT_Q5_0, G2_LAYOUT_NK},
      {"Q5_1 NK", G2_DT_Q5_1, G2_LAYOUT_NK}, {"IQ4_NL NK", G2_DT_IQ4_NL, G2_LAYOUT_NK},
  };
  static const int64_t shapes[4][2] = {{3 * N_EMBD, N_EMBD}, {N_EMBD, N_EMBD}, {4 * N_EMBD, N_EMBD}, {N_EMBD, 4 * N_EMBD}};
  float *x = malloc(n_batch * 4 * N_EMBD * sizeof(float));
  float *out = malloc(n_batch * 4 * N_EMBD * sizeof(float));
  for (size_t i = 0; i < n_batch * 4 * N_EMBD; i++) x[i] = random_weight();
  /* reference: a streaming read of 512 MiB */
  size_t n_words = (size_t)64 << 20;
  uint64_t *buffer = malloc(n_words * sizeof(uint64_t));
  for (size_t i = 0; i < n_words; i++) buffer[i] = i;
  double best_read = 1e30;
  uint64_t checksum = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now();
    for (size_t i = 0; i < n_words; i++) checksum += buffer[i];
    double dt = now() - t0;
    if (dt < best_read) best_read = dt;
  }
  free(buffer);
  printf("table %s, one thread; streaming read %.2f GB/s (checksum %llu)\n", kt->name,
         (double)n_words * 8 / best_read * 1e-9, (unsigned long long)(checksum & 1));
  printf("%-9s %12s %12s %14s %14s\n", "weights", "pp GFLOP/s", "tg GB/s", "cached GB/s", "unembed GB/s");
  const char *only = argc > 3 ? argv[3] : "";
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    if (strncmp(cases[c].label, only, strlen(only)) != 0) continue;
    g2_matrix layers[N_LAYER][4];
    size_t bytes = 0;
    for (int l = 0; l < N_LAYER; l++)
      for (int s = 0; s < 4; s++) {
        layers[l][s] = make(kt, cases[c].dtype, cases[c].layout, shapes[s][0], shapes[s][1]);
        bytes += matrix_bytes(&layers[l][s]);
      }
    /* batch: one layer's four matrices, n_batch tokens; small batches (as
       in generating several sequences) all twelve layers, from memory */
    int n_layers = n_batch <= SMALL_BATCH ? N_LAYER : 1;
    double best_batch = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      double t0 = now();
      for (int l = 0; l < n_layers; l++)
        for (int s = 0; s < 4; s++)
          g2_matmul(kt, &layers[n_layers == 1 ? rep : l][s], x, n_batch, (size_t)shapes[s][1], NULL, out,
                    (size_t)shapes[s][0], 0, (size_t)shapes[s][0], work);
      double dt = now() - t0;
      if (dt < best_batch) best_batch = dt;
    }
    double flops = 2.0 * (double)n_batch * n_layers * 12.0 * N_EMBD * N_EMBD;
    /* decode: all twelve layers once per token */
    double best_decode = 1e30;
    for (int rep = 0; rep < 5; rep++) {
      double t0 = now();
      for (int l = 0; l < N_LAYER; l++)
        for (int s = 0; s < 4; s++)
          g2_matmul(kt, &layers[l][s], x, 1, (size_t)shapes[s][1], NULL, out, (size_t)shapes[s][0], 0,
                    (size_t)shapes[s][0], work);
      double dt = now() - t0;
      if (dt < best_decode) best_decode = dt;
    }
    /* the same product from the caches: one small matrix, many times */
    double best_cached = 1e30;
    for (int rep = 0; rep < 5; rep++) {
      double t0 = now();
      for (int i = 0; i < 50; i++)
        g2_matmul(kt, &layers[0][1], x, 1, N_EMBD, NULL, out, N_EMBD, 0, N_EMBD, work);
      double dt = now() - t0;
      if (dt < best_cached) best_cached = dt;
    }
    double unembed_gbs = 0.0;
    if (cases[c].layout == G2_LAYOUT_NK) {
      g2_matrix wte = make(kt, cases[c].dtype, G2_LAYOUT_NK, N_VOCAB, N_EMBD);
      float *logits = malloc(N_VOCAB * sizeof(float));
      double best = 1e30;
      for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        g2_matmul(kt, &wte, x, 1, N_EMBD, NULL, logits, N_VOCAB, 0, N_VOCAB, work);
        double dt = now() - t0;
        if (dt < best) best = dt;
      }
      unembed_gbs = (double)matrix_bytes(&wte) / best * 1e-9;
      free(logits);
      release(&wte);
    }
    printf("%-9s %12.1f %12.2f %14.2f %14.2f\n", cases[c].label, flops / best_batch * 1e-9,
           (double)bytes / best_decode * 1e-9, 50.0 * (double)matrix_bytes(&layers[0][1]) / best_cached * 1e-9,
           unembed_gbs);
    fflush(stdout);
    for (int l = 0; l < N_LAYER; l++)
      for (int s = 0; s < 4; s++) release(&layers[l][s]);
  }
  free(x);
  free(out);
  return 0;
}
