/* gpt2_sample and gpt2_sample_logprob: the context's logits, history and
   generator handed to the sampler core (sample/sample.c), which knows no
   model or context. */
#include "core/error.h"
#include "gpt2.h"
#include "model/context.h"
#include "sample/logprob.h"
#include "sample/sample.h"

GPT2_API int gpt2_sample_logprob(gpt2_context *ctx, const gpt2_sample_params *params, gpt2_token *out,
                                 double *logprob) {
  g2_clear_error();
  if (!ctx || !out) return g2_fail(GPT2_E_INVALID, "gpt2_sample: NULL argument");
  gpt2_sample_params p;
  int status = g2_sample_params_read(params, &p);
  if (status != GPT2_OK) return status;
  const float *logits = gpt2_logits(ctx, -1);
  if (!logits)
    return g2_fail(GPT2_E_STATE,
                   "gpt2_sample: no logits to sample from; call gpt2_eval first");
  size_t n_vocab = (size_t)ctx->model->hp.n_vocab;
  /* Drawn into copies, so that a failure leaves *out and the RNG as they were. */
  uint64_t rng[4] = {ctx->rng_state[0], ctx->rng_state[1], ctx->rng_state[2], ctx->rng_state[3]};
  gpt2_token token;
  double token_logprob = 0.0;
  status = g2_sample_logits(logits, n_vocab, ctx->history, ctx->pos, &p, rng, &token);
  if (status == GPT2_OK && logprob) status = g2_logprob_of(logits, n_vocab, token, "gpt2_sample", &token_logprob);
  if (status != GPT2_OK) return status;
  for (int i = 0; i < 4; i++) ctx->rng_state[i] = rng[i];
  *out = token;
  if (logprob) *logprob = token_logprob;
  return GPT2_OK;
}

GPT2_API int gpt2_sample(gpt2_context *ctx, const gpt2_sample_params *params, gpt2_token *out) {
  return gpt2_sample_logprob(ctx, params, out, NULL);
}
