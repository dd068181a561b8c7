/* Candidate selection for the sampler (lib/sample/select.c). */
#ifndef G2_SELECT_H
#define G2_SELECT_H

#include <stddef.h>

#include "gpt2.h"

typedef struct g2_candidate {
  float logit; /* after penalties and bias, before temperature */
  gpt2_token token;
} g2_candidate;

/* The k best tokens whose logit is not -inf, sorted, into out[k]; returns
   how many (fewer than k only if fewer tokens are finite). O(n log k). */
size_t g2_select_top_k(const float *logits, size_t n_vocab, size_t k,
                       g2_candidate *out);

/* A sorted superset of the top-p nucleus: every token with a positive
   weight (unnormalised probability, in [0, 1]) at least as large as the
   smallest weight of the nucleus of mass `mass` (= top_p times the total),
   and usually not many more. out needs n_vocab entries; returns the count. */
size_t g2_select_nucleus(const float *logits, const float *weights,
                         size_t n_vocab, double mass, g2_candidate *out);

#endif
