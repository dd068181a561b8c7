/* Reading gpt2_sample_params (any struct version) and checking its values. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "core/params.h"
#include "sample/sample.h"

int g2_sample_params_read(const gpt2_sample_params *user,
                          gpt2_sample_params *out) {
  static const gpt2_sample_params defaults = GPT2_SAMPLE_PARAMS_INIT;
  *out = defaults;
  /* Every version of the struct ends at a field boundary; a size inside
     the pointer would copy part of it and make a wild pointer. */
  size_t bias_at = offsetof(gpt2_sample_params, logit_bias);
  if (user && user->size > bias_at && user->size < bias_at + sizeof user->logit_bias)
    return g2_fail(GPT2_E_INVALID,
                   "gpt2_sample_params.size is %u, inside the logit_bias "
                   "pointer; initialise the struct with GPT2_SAMPLE_PARAMS_INIT",
                   (unsigned)user->size);
  return g2_read_params(out, sizeof *out, user, "gpt2_sample_params");
}

static int invalid(const char *field, double value, const char *rule) {
  return g2_fail(GPT2_E_INVALID, "gpt2_sample_params.%s is %g; it must be %s",
                 field, value, rule);
}

int g2_sample_params_check(const gpt2_sample_params *p, size_t n_vocab) {
  if (!(p->temperature >= 0.0f) || isinf(p->temperature))
    return invalid("temperature", p->temperature, "finite and >= 0");
  if (p->top_k < 0) return invalid("top_k", p->top_k, ">= 0");
  if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
    return invalid("top_p", p->top_p, "in [0, 1]");
  if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
    return invalid("min_p", p->min_p, "in [0, 1]");
  if (!(p->repetition_penalty > 0.0f) || isinf(p->repetition_penalty))
    return invalid("repetition_penalty", p->repetition_penalty,
                   "finite and > 0");
  if (p->repeat_last_n < -1)
    return invalid("repeat_last_n", p->repeat_last_n, ">= -1");
  if (!isfinite(p->presence_penalty))
    return invalid("presence_penalty", p->presence_penalty, "finite");
  if (!isfinite(p->frequency_penalty))
    return invalid("frequency_penalty", p->frequency_penalty, "finite");
  if (!(p->typical_p >= 0.0f && p->typical_p <= 1.0f))
    return invalid("typical_p", p->typical_p, "in [0, 1]");
  if (p->no_repeat_ngram_size < 0)
    return invalid("no_repeat_ngram_size", p->no_repeat_ngram_size, ">= 0");
  if (p->n_logit_bias && !p->logit_bias)
    return g2_fail(GPT2_E_INVALID,
                   "gpt2_sample_params.logit_bias is NULL with n_logit_bias %u",
                   (unsigned)p->n_logit_bias);
  for (uint32_t i = 0; i < p->n_logit_bias; i++) {
    const gpt2_logit_bias *entry = &p->logit_bias[i];
    if (entry->token < 0 || (size_t)entry->token >= n_vocab)
      return g2_fail(GPT2_E_RANGE,
                     "gpt2_sample_params.logit_bias[%u]: token %d is outside "
                     "the vocabulary of %zu",
                     (unsigned)i, (int)entry->token, n_vocab);
    if (isnan(entry->bias) || entry->bias == INFINITY)
      return g2_fail(GPT2_E_INVALID,
                     "gpt2_sample_params.logit_bias[%u]: bias %g for token %d; "
                     "it must be a number or -inf",
                     (unsigned)i, entry->bias, (int)entry->token);
  }
  return GPT2_OK;
}
