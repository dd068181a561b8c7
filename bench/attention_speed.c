/* Single-thread speed of the attention kernel on GPT-2 124M shapes (12
   heads of 64, 768 floats a cached position): one layer of a P-token
   prompt run in blocks of B queries per call (B = 1 is the query-by-query
   form), and one decoded token at position P. Times are the best of 7 runs
   of the thread's CPU time. Usage: attention_speed [ISA] [P] [f32|f16] [B].
   Numbers for choosing G2_ATTENTION_QUERIES; not a test. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/half.h"
#include "gpt2.h"
#include "kernels/kernels.h"
#include "speed_util.h"

enum { N_EMBD = 768, N_HEAD = 12, HEAD_DIM = 64, RUNS = 7 };

typedef struct layer {
  const g2_kernels *kt;
  uint32_t kv_type;
  size_t n_tok;
  float *q, *out, *scratch;
  void *k, *v;
} layer;

/* One layer's attention for tokens [first, n_tok), in blocks of `block`. */
static void run(const layer *l, size_t first, size_t block) {
  size_t elem = l->kv_type == GPT2_KV_F16 ? 2 : 4;
  for (size_t t = first; t < l->n_tok; t += block) {
    size_t n_q = l->n_tok - t < block ? l->n_tok - t : block;
    for (size_t h = 0; h < N_HEAD; h++)
      l->kt->vec->attention(l->q + t * 3 * N_EMBD + h * HEAD_DIM, 3 * N_EMBD, n_q,
                            (const char *)l->k + h * HEAD_DIM * elem, (const char *)l->v + h * HEAD_DIM * elem,
                            l->kv_type, t + 1, HEAD_DIM, N_EMBD, 0.125f, l->scratch,
                            l->out + t * N_EMBD + h * HEAD_DIM, N_EMBD);
  }
}

static double best_time(const layer *l, size_t first, size_t block, size_t repeat) {
  double best = INFINITY;
  for (int r = 0; r < RUNS; r++) {
    double start = now();
    for (size_t i = 0; i < repeat; i++) run(l, first, block);
    double elapsed = (now() - start) / (double)repeat;
    best = elapsed < best ? elapsed : best;
  }
  return best;
}

int main(int argc, char **argv) {
  const g2_kernels *kt = g2_kernels_select(argc > 1 ? argv[1] : NULL, 0);
  size_t n_tok = argc > 2 ? (size_t)atoi(argv[2]) : 512;
  uint32_t kv_type = argc > 3 && strcmp(argv[3], "f16") == 0 ? GPT2_KV_F16 : GPT2_KV_F32;
  if (!kt || n_tok < 2 || n_tok > 4096) {
    fprintf(stderr, "usage: attention_speed [ISA] [P in 2..4096] [f32|f16] [B]\n");
    return 1;
  }
  static const size_t blocks[] = {1, 2, 4, 8, 12, 16};
  size_t only = argc > 4 ? (size_t)atoi(argv[4]) : 0; /* one block size (for profiles) */
  size_t max_block = 16, elem = kv_type == GPT2_KV_F16 ? 2 : 4;
  layer l = {kt, kv_type, n_tok, malloc(n_tok * 3 * N_EMBD * sizeof(float)),
             malloc(n_tok * N_EMBD * sizeof(float)), malloc(max_block * n_tok * sizeof(float)),
             malloc(n_tok * N_EMBD * elem), malloc(n_tok * N_EMBD * elem)};
  if (!l.q || !l.out || !l.scratch || !l.k || !l.v) return 1;
  for (size_t i = 0; i < n_tok * 3 * N_EMBD; i++) l.q[i] = random_value();
  for (size_t i = 0; i < n_tok * N_EMBD; i++) {
    float key = random_value(), value = random_value();
    if (kv_type == GPT2_KV_F16) {
      ((uint16_t *)l.k)[i] = g2_f32_to_f16(key);
      ((uint16_t *)l.v)[i] = g2_f32_to_f16(value);
    } else {
      ((float *)l.k)[i] = key;
      ((float *)l.v)[i] = value;
    }
  }
  printf("%s, KV %s, 12 heads of 64, one thread\n", kt->name, kv_type == GPT2_KV_F16 ? "f16" : "f32");
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
    if (!only || blocks[b] == only)
      printf("prompt of %zu, blocks of %2zu queries: %8.3f ms a layer\n", n_tok, blocks[b],
           1e3 * best_time(&l, 0, blocks[b], 1));
  printf("one token at position %zu: %8.2f us a layer\n", n_tok - 1, 1e6 * best_time(&l, n_tok - 1, 1, 200));
  free(l.q); free(l.out); free(l.scratch); free(l.k); free(l.v);
  return 0;
}
