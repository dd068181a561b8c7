/* Finding the few tokens worth sorting, so that no step sorts the whole
   vocabulary: a bounded heap for top-k, a histogram of probability mass
   by binary exponent for top-p. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/select.h"

/* The ranking of the whole sampler: higher logit first, then lower id.
   A total order, so every selection and sort is deterministic. */
static int ranks_before(g2_candidate a, g2_candidate b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

static int compare_candidates(const void *a, const void *b) {
  g2_candidate x = *(const g2_candidate *)a, y = *(const g2_candidate *)b;
  return ranks_before(x, y) ? -1 : ranks_before(y, x) ? 1 : 0;
}

/* Sorts best first: higher logit, then lower token id. */
static void sort_candidates(g2_candidate *candidates, size_t n) {
  qsort(candidates, n, sizeof *candidates, compare_candidates);
}

/* Min-heap on rank: the root is the worst of the kept candidates. */
static void sift_up(g2_candidate *heap, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!ranks_before(heap[parent], heap[i])) break;
    g2_candidate swap = heap[parent];
    heap[parent] = heap[i];
    heap[i] = swap;
    i = parent;
  }
}

static void sift_down(g2_candidate *heap, size_t n, size_t i) {
  for (;;) {
    size_t worst = i, left = 2 * i + 1, right = left + 1;
    if (left < n && ranks_before(heap[worst], heap[left])) worst = left;
    if (right < n && ranks_before(heap[worst], heap[right])) worst = right;
    if (worst == i) return;
    g2_candidate swap = heap[worst];
    heap[worst] = heap[i];
    heap[i] = swap;
    i = worst;
  }
}

size_t g2_select_top_k(const float *logits, size_t n_vocab, size_t k,
                       g2_candidate *out) {
  size_t size = 0;
  for (size_t i = 0; i < n_vocab; i++) {
    if (logits[i] == -INFINITY) continue;
    g2_candidate candidate = {logits[i], (gpt2_token)i};
    if (size < k) {
      out[size++] = candidate;
      sift_up(out, size - 1);
    } else if (ranks_before(candidate, out[0])) {
      out[0] = candidate;
      sift_down(out, size, 0);
    }
  }
  sort_candidates(out, size);
  return size;
}

/* Weights are in [0, 1]; bucket b holds those in [2^-b, 2^(1-b)) (b = 0:
   exactly 1), and the last bucket everything smaller but positive. */
enum { N_BUCKETS = 128 };

static size_t weight_bucket(float weight) {
  uint32_t bits;
  memcpy(&bits, &weight, sizeof bits);
  uint32_t biased_exponent = (bits >> 23) & 0xffu; /* 0 for subnormals */
  return biased_exponent ? 127u - biased_exponent : N_BUCKETS - 1;
}

size_t g2_select_nucleus(const float *logits, const float *weights,
                         size_t n_vocab, double mass, g2_candidate *out) {
  /* Walking buckets from the heaviest weights down, the first bucket where
     the mass reaches `mass` bounds the nucleus: every token of the nucleus
     weighs at least that bucket's lower edge. */
  double bucket_mass[N_BUCKETS] = {0};
  for (size_t i = 0; i < n_vocab; i++)
    if (weights[i] > 0.0f) bucket_mass[weight_bucket(weights[i])] += weights[i];
  size_t last = N_BUCKETS - 1;
  double reached = 0.0;
  for (size_t b = 0; b < N_BUCKETS; b++) {
    reached += bucket_mass[b];
    if (reached >= mass) {
      last = b;
      break;
    }
  }
  size_t n_out = 0;
  for (size_t i = 0; i < n_vocab; i++)
    if (weights[i] > 0.0f && weight_bucket(weights[i]) <= last)
      out[n_out++] = (g2_candidate){logits[i], (gpt2_token)i};
  sort_candidates(out, n_out);
  return n_out;
}
