/* The sampler behind gpt2_sample (lib/api/sample.c): penalties, temperature,
   top-k, top-p, min-p, typical-p, one draw.
   The order and the rules are documented in include/gpt2.h and
   docs/sampling.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"
#include "sample/sample.h"
#include "sample/select.h"

/* Highest logit (lowest id among equals) and the count of tokens that can
   be drawn; a NaN or +inf logit means the logits are broken. */
static int scan_logits(const float *logits, size_t n_vocab, size_t *argmax,
                       size_t *n_finite) {
  float max_logit = -INFINITY;
  size_t best = 0, finite = 0;
  int broken = 0;
  for (size_t i = 0; i < n_vocab; i++) {
    float logit = logits[i];
    broken |= !(logit < INFINITY);
    finite += logit > -INFINITY;
    if (logit > max_logit) { /* strict: the lowest id wins a tie */
      max_logit = logit;
      best = i;
    }
  }
  for (size_t i = 0; broken && i < n_vocab; i++)
    if (!(logits[i] < INFINITY))
      return g2_fail(GPT2_E_INVALID, "sampling: the logit of token %zu is %g",
                     i, logits[i]);
  if (finite == 0)
    return g2_fail(GPT2_E_INVALID,
                   "sampling: every token is banned (all logits are -inf)");
  *argmax = best;
  *n_finite = finite;
  return GPT2_OK;
}

/* Unnormalised probability after temperature: 1 for the best token. */
static float weight_of(float logit, float max_logit, float temperature) {
  return expf((logit - max_logit) / temperature);
}

/* One draw from `weights` [n] in proportion to them; the cumulative sum runs
   in the same order as the total, so a zero weight is never picked. */
static size_t draw(const float *weights, size_t n, uint64_t rng[4]) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++) total += weights[i];
  double target = g2_rng_uniform(rng) * total, cumulative = 0.0;
  size_t last_positive = 0;
  for (size_t i = 0; i < n; i++) {
    if (weights[i] <= 0.0f) continue;
    cumulative += weights[i];
    last_positive = i;
    if (cumulative > target) return i;
  }
  return last_positive; /* u * total rounded up to total */
}

/* On sorted candidates: how many of them survive top-p
   (relative to `total`) and then min-p. Never less than one. */
static size_t kept_by_top_p_min_p(const float *weights, size_t n, double total,
                                  const gpt2_sample_params *p) {
  size_t kept = n;
  if (p->top_p < 1.0f) {
    double mass = (double)p->top_p * total, cumulative = 0.0;
    for (size_t i = 0; i < n; i++) {
      cumulative += weights[i];
      if (cumulative >= mass) {
        kept = i + 1;
        break;
      }
    }
  }
  if (p->min_p > 0.0f) /* weights[0] is 1 >= min_p */
    for (size_t i = 1; i < kept; i++)
      if (weights[i] < p->min_p) {
        kept = i;
        break;
      }
  return kept;
}

static int no_memory(size_t n) {
  return g2_fail(GPT2_E_NOMEM, "sampling: no memory for %zu candidates", n);
}

/* Weights of sorted candidates; returns their sum. */
static double fill_weights(const g2_candidate *candidates, float *weights,
                           size_t n, float max_logit, float temperature) {
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    weights[i] = weight_of(candidates[i].logit, max_logit, temperature);
    sum += weights[i];
  }
  return sum;
}

typedef struct typical_rank {
  double shifted; /* |-log p - entropy| */
  size_t index;   /* in the candidates, for ties */
} typical_rank;

static int compare_typical(const void *a, const void *b) {
  const typical_rank *x = a, *y = b;
  if (x->shifted != y->shifted) return x->shifted < y->shifted ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* Step 7, Hugging Face's TypicalLogitsWarper over the n sorted candidates
   left with weights (probabilities up to their sum): ranks them by how far
   their information -log p is from the entropy, keeps the fewest of that
   order whose probability reaches typical_p (at least one), plus any tied
   with the last kept; zeroes the others' weights. GPT2_E_NOMEM only. */
static int keep_typical(const g2_candidate *candidates, float *weights, size_t n, float max_logit,
                        const gpt2_sample_params *p) {
  typical_rank *ranks = g2_malloc_array(n, sizeof *ranks);
  if (!ranks) return no_memory(n);
  double total = 0.0, entropy = 0.0;
  for (size_t i = 0; i < n; i++) total += weights[i];
  double log_total = log(total);
  for (size_t i = 0; i < n; i++) {
    double log_p = ((double)candidates[i].logit - max_logit) / p->temperature - log_total;
    if (weights[i] > 0.0f) entropy -= weights[i] / total * log_p;
    ranks[i] = (typical_rank){weights[i] > 0.0f ? -log_p : INFINITY, i};
  }
  for (size_t i = 0; i < n; i++) ranks[i].shifted = fabs(ranks[i].shifted - entropy);
  qsort(ranks, n, sizeof *ranks, compare_typical);
  size_t last = 0;
  double cumulative = 0.0;
  for (; last + 1 < n; last++) {
    cumulative += weights[ranks[last].index] / total;
    if (cumulative >= p->typical_p) break;
  }
  for (size_t i = last + 1; i < n; i++)
    if (ranks[i].shifted > ranks[last].shifted) weights[ranks[i].index] = 0.0f;
  g2_free(ranks);
  return GPT2_OK;
}

/* top-k with k candidates (also the route of typical_p, with k every
   finite token: it needs them sorted). */
static int sample_top_k(const float *logits, size_t n_vocab, size_t k, float max_logit,
                        const gpt2_sample_params *p, uint64_t rng[4],
                        gpt2_token *out) {
  g2_candidate *candidates = g2_malloc_array(k, sizeof *candidates);
  float *weights = g2_malloc_array(k, sizeof *weights);
  if (!candidates || !weights) {
    g2_free(candidates);
    g2_free(weights);
    return no_memory(k);
  }
  size_t n = g2_select_top_k(logits, n_vocab, k, candidates);
  /* top-p renormalises over the top-k set */
  double total = fill_weights(candidates, weights, n, max_logit, p->temperature);
  size_t kept = kept_by_top_p_min_p(weights, n, total, p);
  int status = p->typical_p < 1.0f ? keep_typical(candidates, weights, kept, max_logit, p) : GPT2_OK;
  if (status == GPT2_OK) *out = candidates[draw(weights, kept, rng)].token;
  g2_free(candidates);
  g2_free(weights);
  return status;
}

/* No top-k: every token takes part. Top-p needs an order, but only over a
   superset of the nucleus; without top-p no order is needed at all. */
static int sample_all(const float *logits, size_t n_vocab, float max_logit,
                      const gpt2_sample_params *p, uint64_t rng[4],
                      gpt2_token *out) {
  float *weights = g2_malloc_array(n_vocab, sizeof *weights);
  if (!weights) return no_memory(n_vocab);
  double total = 0.0;
  for (size_t i = 0; i < n_vocab; i++) {
    weights[i] = weight_of(logits[i], max_logit, p->temperature);
    total += weights[i];
  }
  if (p->top_p >= 1.0f) {
    for (size_t i = 0; i < n_vocab; i++)
      if (weights[i] < p->min_p) weights[i] = 0.0f;
    *out = (gpt2_token)draw(weights, n_vocab, rng);
    g2_free(weights);
    return GPT2_OK;
  }
  double mass = (double)p->top_p * total;
  g2_candidate *candidates = g2_malloc_array(n_vocab, sizeof *candidates);
  if (!candidates) {
    g2_free(weights);
    return no_memory(n_vocab);
  }
  size_t n = g2_select_nucleus(logits, weights, n_vocab, mass, candidates);
  /* the full weights are no longer needed: reuse them for the candidates */
  fill_weights(candidates, weights, n, max_logit, p->temperature);
  size_t kept = kept_by_top_p_min_p(weights, n, total, p);
  *out = candidates[draw(weights, kept, rng)].token;
  g2_free(candidates);
  g2_free(weights);
  return GPT2_OK;
}

static int sample_from(const float *logits, size_t n_vocab,
                       const gpt2_sample_params *p, uint64_t rng[4],
                       gpt2_token *out) {
  size_t argmax = 0, n_finite = 0;
  int status = scan_logits(logits, n_vocab, &argmax, &n_finite);
  if (status != GPT2_OK) return status;
  if (p->temperature == 0.0f) {
    *out = (gpt2_token)argmax;
    return GPT2_OK;
  }
  if (p->top_k > 0 && (size_t)p->top_k < n_finite)
    return sample_top_k(logits, n_vocab, (size_t)p->top_k, logits[argmax], p, rng, out);
  if (p->typical_p < 1.0f)
    return sample_top_k(logits, n_vocab, n_finite, logits[argmax], p, rng, out);
  return sample_all(logits, n_vocab, logits[argmax], p, rng, out);
}

/* Whether steps 1-2 change anything, so that the logits need a copy. */
static int modifies_logits(const gpt2_sample_params *p, size_t n_history) {
  return p->n_logit_bias > 0 ||
         (g2_sample_has_penalty(p) && n_history > 0 && p->repeat_last_n != 0) ||
         (p->no_repeat_ngram_size > 0 && n_history >= (size_t)p->no_repeat_ngram_size);
}

int g2_sample_logits(const float *logits, size_t n_vocab,
                     const gpt2_token *history, size_t n_history,
                     const gpt2_sample_params *p, uint64_t rng[4],
                     gpt2_token *out) {
  if (!logits || !p || !rng || !out || (n_history && !history))
    return g2_fail(GPT2_E_INVALID, "sampling: NULL argument");
  if (n_vocab == 0 || n_vocab > INT32_MAX)
    return g2_fail(GPT2_E_INVALID, "sampling: vocabulary of %zu tokens",
                   n_vocab);
  int status = g2_sample_params_check(p, n_vocab);
  if (status != GPT2_OK) return status;
  for (size_t i = 0; i < n_history; i++)
    if (history[i] < 0 || (size_t)history[i] >= n_vocab)
      return g2_fail(GPT2_E_RANGE,
                     "sampling: history token %d at %zu is outside the "
                     "vocabulary of %zu",
                     (int)history[i], i, n_vocab);

  if (!modifies_logits(p, n_history))
    return sample_from(logits, n_vocab, p, rng, out);
  float *work = g2_malloc_array(n_vocab, sizeof *work);
  if (!work) return no_memory(n_vocab);
  memcpy(work, logits, n_vocab * sizeof *work);
  status = g2_sample_penalize(work, history, n_history, p);
  if (status == GPT2_OK) status = sample_from(work, n_vocab, p, rng, out);
  g2_free(work);
  return status;
}
