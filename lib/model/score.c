/* gpt2_score: per-token log-probabilities of a text, with Hugging Face's
   sliding window past the window length (the logic gpt2-perplexity used to
   hold). Runs on a private context: windows are evaluated in batches, only
   the rows whose log-probabilities are wanted get logits, and those rows'
   log-softmax runs on the context's threads. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/params.h"
#include "model/context.h"
#include "sample/logprob.h"

/* Rows of logits per gpt2_eval: bounds the logits held (rows x n_vocab
   floats, 25.7 MB for GPT-2) whatever the window. */
enum { SCORE_CHUNK = 128 };

typedef struct score_job {
  const float *logits;          /* [rows][n_vocab] */
  size_t n_vocab;
  const gpt2_token *targets;    /* [rows] the token each row predicts */
  double *logprobs;             /* [rows] */
} score_job;

static void score_row(void *arg, size_t row, uint32_t thread) {
  (void)thread;
  const score_job *job = arg;
  const float *logits = job->logits + row * job->n_vocab;
  job->logprobs[row] = (double)logits[job->targets[row]] - g2_log_sum_exp(logits, job->n_vocab);
}

static int check_params(const gpt2_model *model, const gpt2_token *tokens, size_t n,
                        gpt2_score_params *p) {
  if (p->reserved) return g2_fail(GPT2_E_INVALID, "gpt2_score: reserved is %u, not 0", (unsigned)p->reserved);
  if (p->n_prefix && !p->prefix) return g2_fail(GPT2_E_INVALID, "gpt2_score: prefix is NULL with n_prefix %u",
                                                (unsigned)p->n_prefix);
  if (p->window > (uint32_t)model->hp.n_ctx)
    return g2_fail(GPT2_E_RANGE, "gpt2_score: window %u exceeds the model's %d positions", (unsigned)p->window,
                   (int)model->hp.n_ctx);
  if (!p->window) p->window = (uint32_t)model->hp.n_ctx;
  if (p->window < 2) return g2_fail(GPT2_E_INVALID, "gpt2_score: window %u; it must be >= 2", (unsigned)p->window);
  if (!p->stride) p->stride = p->window / 2;
  if (p->stride >= p->window)
    return g2_fail(GPT2_E_INVALID, "gpt2_score: stride %u; it must be in [1, window %u - 1]", (unsigned)p->stride,
                   (unsigned)p->window);
  int32_t n_vocab = model->hp.n_vocab;
  for (size_t t = 0; t < p->n_prefix + n; t++) {
    gpt2_token id = t < p->n_prefix ? p->prefix[t] : tokens[t - p->n_prefix];
    if (id < 0 || id >= n_vocab)
      return g2_fail(GPT2_E_RANGE, "gpt2_score: %s token %zu has id %d, outside [0, %d)",
                     t < p->n_prefix ? "prefix" : "text", t < p->n_prefix ? t : t - p->n_prefix, (int)id,
                     (int)n_vocab);
  }
  if (!p->n_prefix && gpt2_token_eot(model) < 0)
    return g2_fail(GPT2_E_INVALID, "gpt2_score: the vocabulary has no <|endoftext|>; give a prefix");
  return GPT2_OK;
}

/* Scores full[first_target .. end) in the window full[begin .. end): the
   window's earlier tokens are evaluated without logits, then the rows that
   predict the targets in chunks with them. logprobs[0] is full[0]'s. */
static int score_window(gpt2_context *ctx, const gpt2_token *full, size_t begin, size_t first_target, size_t end,
                        double *logprobs) {
  int status = gpt2_truncate(ctx, 0);
  ctx->logits_all = 0;
  if (!status && first_target - 1 > begin) status = gpt2_eval(ctx, full + begin, first_target - 1 - begin);
  ctx->logits_all = 1;
  for (size_t row = first_target - 1; !status && row < end - 1; row += SCORE_CHUNK) {
    size_t rows = end - 1 - row < SCORE_CHUNK ? end - 1 - row : SCORE_CHUNK;
    status = gpt2_eval(ctx, full + row, rows);
    if (status) break;
    score_job job = {ctx->logits, (size_t)ctx->model->hp.n_vocab, full + row + 1, logprobs + row + 1};
    g2_pool_run(ctx->pool, rows, score_row, &job);
  }
  return status;
}

GPT2_API int gpt2_score(const gpt2_model *model, const gpt2_token *tokens, size_t n,
                        const gpt2_score_params *params, double *logprobs) {
  g2_clear_error();
  if (!model || !tokens || !logprobs) return g2_fail(GPT2_E_INVALID, "gpt2_score: NULL argument");
  if (n == 0) return g2_fail(GPT2_E_INVALID, "gpt2_score: no tokens");
  gpt2_score_params p = GPT2_SCORE_PARAMS_INIT;
  int status = g2_read_params(&p, sizeof p, params, "gpt2_score_params");
  if (!status) status = check_params(model, tokens, n, &p);
  if (status) return status;

  /* full = prefix (or <|endoftext|>) + tokens; its logprobs land in a
     scratch copy first, so that the caller's array is written on success only */
  size_t n_prefix = p.n_prefix ? p.n_prefix : 1, n_full = n_prefix + n;
  gpt2_token *full = g2_malloc_array(n_full, sizeof *full);
  double *scores = g2_malloc_array(n_full, sizeof *scores);
  gpt2_context *ctx = NULL;
  gpt2_context_params cp = GPT2_CONTEXT_PARAMS_INIT;
  cp.n_ctx = p.window;
  cp.n_threads = p.n_threads;
  if (!full || !scores) status = g2_fail(GPT2_E_NOMEM, "gpt2_score: no memory for %zu tokens", n_full);
  if (!status) status = gpt2_context_new(model, &cp, &ctx);
  if (!status) {
    if (p.n_prefix) memcpy(full, p.prefix, n_prefix * sizeof *full);
    else full[0] = gpt2_token_eot(model);
    memcpy(full + n_prefix, tokens, n * sizeof *full);
    /* Windows [begin, begin + window) for begin = 0, stride, ...; each
       scores the targets past the previous window's end. stride < window,
       so every target has a token before it in its window. */
    size_t scored_until = n_prefix;
    for (size_t begin = 0; !status; begin += p.stride) {
      size_t end = begin + p.window < n_full ? begin + p.window : n_full;
      if (end > scored_until) status = score_window(ctx, full, begin, scored_until, end, scores);
      scored_until = end > scored_until ? end : scored_until;
      if (end == n_full) break;
    }
  }
  if (!status) memcpy(logprobs, scores + n_prefix, n * sizeof *logprobs);
  gpt2_context_free(ctx);
  g2_free(full);
  g2_free(scores);
  return status;
}
