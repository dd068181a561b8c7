/* gpt2_sample: the context's logits, history and generator handed to the
   sampler core (sample/sample.c), which knows no model or context. */
#include "core/error.h"
#include "gpt2.h"
#include "model/context.h"
#include "sample/sample.h"

GPT2_API int gpt2_sample(gpt2_context *ctx, const gpt2_sample_params *params,
                         gpt2_token *out) {
  g2_clear_error();
  if (!ctx || !out) return g2_fail(GPT2_E_INVALID, "gpt2_sample: NULL argument");
  gpt2_sample_params p;
  int status = g2_sample_params_read(params, &p);
  if (status != GPT2_OK) return status;
  const float *logits = gpt2_logits(ctx, -1);
  if (!logits)
    return g2_fail(GPT2_E_STATE,
                   "gpt2_sample: no logits to sample from; call gpt2_eval first");
  return g2_sample_logits(logits, (size_t)ctx->model->hp.n_vocab,
                          ctx->history, ctx->pos, &p, ctx->rng_state, out);
}
