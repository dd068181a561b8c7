/* gpt2_logprob and gpt2_top_logprobs: the log-softmax (sample/logprob.c)
   of one row of a context's logits. */
#include "core/error.h"
#include "gpt2.h"
#include "model/context.h"
#include "sample/logprob.h"

/* The logits of batch token i, or GPT2_E_STATE saying why there are none. */
static int logits_row(const gpt2_context *ctx, int32_t i, const char *who, const float **row) {
  *row = gpt2_logits(ctx, i);
  if (*row) return GPT2_OK;
  if (ctx->logits_rows == 0)
    return g2_fail(GPT2_E_STATE, "%s: no logits; call gpt2_eval first (again after gpt2_truncate)", who);
  if (i < -1 || (i >= 0 && (size_t)i >= ctx->last_batch))
    return g2_fail(GPT2_E_STATE, "%s: token %d is outside the last batch of %zu", who, (int)i,
                   ctx->last_batch);
  return g2_fail(GPT2_E_STATE, "%s: token %d is not the last of its batch and logits_all is 0", who,
                 (int)i);
}

GPT2_API int gpt2_logprob(const gpt2_context *ctx, int32_t i, gpt2_token token, double *logprob) {
  g2_clear_error();
  if (!ctx || !logprob) return g2_fail(GPT2_E_INVALID, "gpt2_logprob: NULL argument");
  if (token < 0 || token >= ctx->model->hp.n_vocab)
    return g2_fail(GPT2_E_RANGE, "gpt2_logprob: token %d is outside [0, %d)", (int)token,
                   (int)ctx->model->hp.n_vocab);
  const float *row;
  int status = logits_row(ctx, i, "gpt2_logprob", &row);
  if (status != GPT2_OK) return status;
  return g2_logprob_of(row, (size_t)ctx->model->hp.n_vocab, token, "gpt2_logprob", logprob);
}

GPT2_API int gpt2_top_logprobs(const gpt2_context *ctx, int32_t i, size_t k, gpt2_token_logprob *out,
                               size_t cap, size_t *n_out) {
  g2_clear_error();
  if (!ctx || !n_out || (!out && cap)) return g2_fail(GPT2_E_INVALID, "gpt2_top_logprobs: NULL argument");
  const float *row;
  int status = logits_row(ctx, i, "gpt2_top_logprobs", &row);
  if (status != GPT2_OK) return status;
  size_t n_vocab = (size_t)ctx->model->hp.n_vocab, n = k < n_vocab ? k : n_vocab;
  *n_out = n;
  if (cap < n)
    return g2_fail(GPT2_E_BUFFER, "gpt2_top_logprobs: %zu entries needed, room for %zu", n, cap);
  return g2_top_logprobs(row, n_vocab, n, "gpt2_top_logprobs", out);
}
