/* Single-thread speed of the attention kernel on GPT-2 124M shapes (12
   heads of 64, 768 floats a cached position): one layer of a P-token
   prompt run in blocks of B queries per call (B = 1 is the query-by-query
   form), and one decoded token at position P: one layer repeated (its K
   and V stay in the L3 cache) and through 12 layers' caches (as in a
   decode step, K and V from memory). Times are the best of 7 runs of the
   thread's CPU time. Usage: attention_speed [ISA] [P] [f32|f16] [B].
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

/* N_SETS sets of N_LAYER layers' caches, a token through each in turn: at
   least 4 x 37 MB, so no token finds its K and V in the L3 cache, as in a
   decode step where the weights pass between two layers. */
enum { N_EMBD = 768, N_HEAD = 12, N_LAYER = 12, N_SETS = 4, HEAD_DIM = 64, RUNS = 7 };

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

/* One decoded token at position n_tok - 1 through N_LAYER caches of n_tok
   positions each, laid out as a context's ([layer][position][n_embd]). */
static void run_layers(const layer *l, const char *k, const char *v) {
  size_t elem = l->kv_type == GPT2_KV_F16 ? 2 : 4, layer_bytes = l->n_tok * N_EMBD * elem;
  for (size_t i = 0; i < N_LAYER; i++) {
    layer one = *l;
    one.k = (void *)(k + i * layer_bytes);
    one.v = (void *)(v + i * layer_bytes);
    run(&one, l->n_tok - 1, 1);
  }
}

/* What best_time times: run(l, first, block), or run_layers over the
   caches k12 and v12 (N_SETS sets) where they are given. */
typedef struct timed {
  const layer *l;
  size_t first, block;
  const char *k12, *v12;
} timed;

static double best_time(const timed *t, size_t repeat) {
  double best = INFINITY;
  for (int r = 0; r < RUNS; r++) {
    double start = now();
    for (size_t i = 0; i < repeat; i++) {
      size_t set_bytes = N_LAYER * t->l->n_tok * N_EMBD * (t->l->kv_type == GPT2_KV_F16 ? 2 : 4);
      if (t->k12)
        run_layers(t->l, t->k12 + i % N_SETS * set_bytes, t->v12 + i % N_SETS * set_bytes);
      else
        run(t->l, t->first, t->block);
    }
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
             1e3 * best_time(&(timed){&l, 0, blocks[b], NULL, NULL}, 1));
  printf("one token at position %zu: %8.2f us a layer\n", n_tok - 1,
         1e6 * best_time(&(timed){&l, n_tok - 1, 1, NULL, NULL}, 200));
  /* N_SETS x N_LAYER copies of the layer's cache: the decode step's K and
     V reads from memory */
  size_t layer_bytes = n_tok * N_EMBD * elem;
  char *k12 = malloc(N_SETS * N_LAYER * layer_bytes), *v12 = malloc(N_SETS * N_LAYER * layer_bytes);
  int ok = k12 && v12;
  for (size_t i = 0; ok && i < N_SETS * N_LAYER; i++) {
    memcpy(k12 + i * layer_bytes, l.k, layer_bytes);
    memcpy(v12 + i * layer_bytes, l.v, layer_bytes);
  }
  if (ok) {
    double seconds = best_time(&(timed){&l, n_tok - 1, 1, k12, v12}, 20);
    printf("one token at position %zu, %d layers: %8.2f us a token (K and V read at %.1f GB/s)\n", n_tok - 1,
           N_LAYER, 1e6 * seconds, 2.0 * N_LAYER * (double)layer_bytes / seconds / 1e9);
  }
  free(k12); free(v12);
  free(l.q); free(l.out); free(l.scratch); free(l.k); free(l.v);
  return ok ? 0 : 1;
}
