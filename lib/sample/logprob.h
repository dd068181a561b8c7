/* Log-probabilities from a row of logits (lib/sample/logprob.c): the
   log-softmax behind gpt2_logprob, gpt2_top_logprobs, gpt2_sample_logprob
   and gpt2_score. */
#ifndef G2_LOGPROB_H
#define G2_LOGPROB_H

#include <stddef.h>

#include "gpt2.h"

/* log(sum_i exp(logits[i])), with the largest logit subtracted before the
   exponentials and the sum accumulated in double, so that no finite logits
   overflow or lose every term. -inf logits count as zero terms; all of them
   -inf gives -inf; a NaN or +inf logit gives NaN. */
double g2_log_sum_exp(const float *logits, size_t n_vocab);

/* logits[token] - log_sum_exp, in double: the log-softmax of one token.
   GPT2_E_INVALID (naming `who`) when the logits hold NaN or +inf or are all
   -inf; *out is written only on success. */
int g2_logprob_of(const float *logits, size_t n_vocab, gpt2_token token, const char *who,
                  double *out);

/* The min(k, n_vocab) most probable tokens, most probable first (ties:
   lower id first), into out. Same errors as g2_logprob_of; GPT2_E_NOMEM. */
int g2_top_logprobs(const float *logits, size_t n_vocab, size_t k, const char *who,
                    gpt2_token_logprob *out);

#endif
