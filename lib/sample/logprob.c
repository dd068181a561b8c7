/* The log-softmax of one row of logits, in double. */
#include "sample/logprob.h"

#include <math.h>

#include "core/alloc.h"
#include "core/error.h"
#include "sample/select.h"

double g2_log_sum_exp(const float *logits, size_t n_vocab) {
  float max_logit = -INFINITY;
  int broken = 0;
  for (size_t i = 0; i < n_vocab; i++) {
    broken |= !(logits[i] < INFINITY); /* NaN or +inf */
    max_logit = logits[i] > max_logit ? logits[i] : max_logit;
  }
  if (broken) return NAN;
  if (max_logit == -INFINITY) return -INFINITY;
  /* Every term is exp(<= 0) <= 1 and the largest is exactly 1: the sum is
     in [1, n_vocab], so neither overflow nor a sum of underflowed zeros. */
  double sum = 0.0;
  for (size_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - (double)max_logit);
  return (double)max_logit + log(sum);
}

/* The log-sum-exp of logits usable for log-probabilities, or a failure. */
static int normalizer(const float *logits, size_t n_vocab, const char *who, double *lse) {
  *lse = g2_log_sum_exp(logits, n_vocab);
  if (isnan(*lse))
    return g2_fail(GPT2_E_INVALID, "%s: the logits hold NaN or +inf", who);
  if (*lse == -INFINITY)
    return g2_fail(GPT2_E_INVALID, "%s: every logit is -inf", who);
  return GPT2_OK;
}

int g2_logprob_of(const float *logits, size_t n_vocab, gpt2_token token, const char *who,
                  double *out) {
  double lse;
  int status = normalizer(logits, n_vocab, who, &lse);
  if (status == GPT2_OK) *out = (double)logits[token] - lse;
  return status;
}

int g2_top_logprobs(const float *logits, size_t n_vocab, size_t k, const char *who,
                    gpt2_token_logprob *out) {
  double lse;
  int status = normalizer(logits, n_vocab, who, &lse);
  if (status != GPT2_OK) return status;
  k = k < n_vocab ? k : n_vocab;
  if (k == 0) return GPT2_OK;
  g2_candidate *best = g2_malloc_array(k, sizeof *best);
  if (!best) return g2_fail(GPT2_E_NOMEM, "%s: no memory for %zu tokens", who, k);
  size_t n = g2_select_top_k(logits, n_vocab, k, best);
  for (size_t i = 0; i < n; i++)
    out[i] = (gpt2_token_logprob){best[i].token, (double)best[i].logit - lse};
  /* The selection skips -inf logits: the rest, if asked for, in id order. */
  for (size_t token = 0; n < k; token++)
    if (logits[token] == -INFINITY) out[n++] = (gpt2_token_logprob){(gpt2_token)token, -INFINITY};
  g2_free(best);
  return GPT2_OK;
}
