/* gpt2_eval and gpt2_eval_batch: the checks, the passes and the commit.
   gpt2_eval is the one-context case. A call's tokens (all contexts'
   concatenated) run in passes of at most G2_MAX_BATCH (the results do not
   depend on the split). Nothing a caller can see changes until every pass
   has run: positions, history and logits are written at the end, so an
   abort leaves every context as it was (cache rows past a context's
   position are not part of its state). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "model/context.h"

/* Logit rows of several contexts computed by one product (staged in the
   runner's scratch, then copied to each context): a decode step of many
   sequences reads the output matrix once per this many sequences instead
   of once per sequence. 64 rows of GPT-2's vocabulary stage 12.9 MB. */
enum { STAGE_ROWS = 64 };

typedef struct eval_call {
  const char *who; /* the public function, for messages */
  gpt2_context *const *ctxs;
  const gpt2_token *const *tokens;
  const size_t *n_tokens;
  size_t n_ctxs;
} eval_call;

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Rows of logits a context keeps after evaluating n tokens. */
static size_t rows_wanted(const gpt2_context *ctx, size_t n) { return n == 0 ? 0 : ctx->logits_all ? n : 1; }

/* " (context i)" in a batch's messages; nothing for gpt2_eval's one context. */
static const char *which_context(const eval_call *call, size_t i, char *buf, size_t cap) {
  if (call->n_ctxs == 1) return "";
  snprintf(buf, cap, " (context %zu)", i);
  return buf;
}

static int check_context(const eval_call *call, size_t i) {
  const gpt2_context *ctx = call->ctxs[i];
  const gpt2_token *tokens = call->tokens[i];
  size_t n = call->n_tokens[i];
  const char *who = call->who;
  char buf[32];
  const char *where = which_context(call, i, buf, sizeof buf);
  if (!ctx) return g2_fail(GPT2_E_INVALID, "%s: context %zu is NULL", who, i);
  if (ctx->in_batch) return g2_fail(GPT2_E_INVALID, "%s: context %zu appears twice", who, i);
  if (ctx->model != call->ctxs[0]->model)
    return g2_fail(GPT2_E_INVALID, "%s: context %zu is on another model than context 0", who, i);
  if (!tokens && n) return g2_fail(GPT2_E_INVALID, "%s: tokens are NULL%s", who, where);
  if (n > ctx->n_ctx - ctx->pos)
    return g2_fail(GPT2_E_RANGE, "%s: %zu tokens at position %zu exceed n_ctx %zu%s", who, n, ctx->pos,
                   ctx->n_ctx, where);
  int32_t n_vocab = ctx->model->hp.n_vocab;
  for (size_t t = 0; t < n; t++)
    if (tokens[t] < 0 || tokens[t] >= n_vocab)
      return g2_fail(GPT2_E_RANGE, "%s: token %zu has id %d, outside [0, %d)%s", who, t, (int)tokens[t],
                     (int)n_vocab, where);
  return GPT2_OK;
}

/* Checks every argument; *n_total receives the tokens of all contexts. A
   context seen twice is found by a mark set on each one checked, all
   cleared before returning. */
static int check_call(const eval_call *call, size_t *n_total) {
  size_t i, total = 0;
  int status = GPT2_OK;
  for (i = 0; i < call->n_ctxs && !status; i++) {
    status = check_context(call, i);
    if (!status) {
      call->ctxs[i]->in_batch = 1;
      total += call->n_tokens[i]; /* each <= n_ctx <= INT32_MAX, at most G2_MAX_CONTEXTS of them */
    }
  }
  for (size_t j = 0; j < i; j++)
    if (call->ctxs[j]) call->ctxs[j]->in_batch = 0;
  if (!status && total == 0) status = g2_fail(GPT2_E_INVALID, "%s: no tokens", call->who);
  *n_total = total;
  return status;
}

/* Everything the passes need, before any of them runs. */
static int reserve(const eval_call *call, size_t n_total) {
  size_t n_kv = 0, n_hidden = 0, n_active = 0;
  for (size_t i = 0; i < call->n_ctxs; i++) {
    gpt2_context *ctx = call->ctxs[i];
    size_t rows = rows_wanted(ctx, call->n_tokens[i]);
    if (!rows) continue;
    int status = g2_logits_reserve(ctx, rows);
    if (!status && ctx->embeddings) status = g2_embeddings_reserve(ctx, call->n_tokens[i]);
    if (status) return status;
    n_kv = ctx->n_ctx > n_kv ? ctx->n_ctx : n_kv;
    n_hidden += rows;
    n_active++;
  }
  return g2_scratch_reserve(call->ctxs[0], min_size(n_total, G2_MAX_BATCH), n_kv, n_hidden,
                            n_active > 1 ? min_size(n_hidden, STAGE_ROWS) : 0);
}

/* Runs the layers of every pass; the final-normed rows whose logits are
   wanted land in the runner's hidden rows, context after context. */
static int run_passes(const eval_call *call) {
  gpt2_context *runner = call->ctxs[0];
  g2_segment *segments = runner->scratch.segments;
  size_t cap = runner->scratch.cap_tokens;
  size_t ci = 0, done = 0, hidden_base = 0; /* done: tokens of ctxs[ci] in earlier passes */
  while (ci < call->n_ctxs) {
    size_t n_tok = 0, n_segments = 0;
    while (ci < call->n_ctxs && n_tok < cap) {
      gpt2_context *ctx = call->ctxs[ci];
      size_t n = call->n_tokens[ci], take = min_size(n - done, cap - n_tok);
      if (take) {
        g2_segment *seg = &segments[n_segments++];
        *seg = (g2_segment){ctx, call->tokens[ci] + done, take, ctx->pos + done, n_tok, 0, 0};
        if (!ctx->logits_all) seg->first_wanted = done + take == n ? take - 1 : take; /* the call's last token */
        seg->hidden_row = ctx->logits_all ? hidden_base + done : hidden_base;
      }
      n_tok += take;
      done += take;
      if (done == n) {
        hidden_base += rows_wanted(ctx, n);
        ci++;
        done = 0;
      }
    }
    if (n_tok == 0) break; /* only contexts sitting the call out were left */
    if (g2_forward_layers(runner, segments, n_segments, n_tok))
      return g2_fail(GPT2_E_ABORTED, "%s: stopped by an abort callback", call->who);
  }
  return GPT2_OK;
}

/* The logits of contexts [begin, end), whose wanted rows are hidden rows
   first.. (rows in all). One context: straight into its logits; several:
   one product into the stage (rows <= STAGE_ROWS), each slice copied to its
   context by the thread that computed it. */
static void unembed_group(const eval_call *call, size_t begin, size_t end, size_t first, size_t rows) {
  gpt2_context *runner = call->ctxs[0];
  size_t n_vocab = (size_t)runner->model->hp.n_vocab, n_active = 0, last = begin;
  for (size_t i = begin; i < end; i++)
    if (call->n_tokens[i]) n_active++, last = i;
  if (n_active == 1) {
    for (size_t r = 0; r < rows; r += G2_MAX_BATCH)
      g2_forward_logits(runner, first + r, min_size(rows - r, G2_MAX_BATCH), call->ctxs[last]->logits + r * n_vocab,
                        NULL);
    return;
  }
  float *copy_to[STAGE_ROWS];
  size_t row = 0;
  for (size_t i = begin; i < end; i++) { /* a context sitting out wants no rows: its logits may not even exist */
    size_t n = rows_wanted(call->ctxs[i], call->n_tokens[i]);
    for (size_t k = 0; k < n; k++) copy_to[row++] = call->ctxs[i]->logits + k * n_vocab;
  }
  g2_forward_logits(runner, first, rows, runner->scratch.stage, copy_to);
}

/* Groups consecutive contexts whose rows fit the stage together. */
static void unembed(const eval_call *call) {
  size_t begin = 0, group_rows = 0, group_first = 0, hidden = 0;
  for (size_t i = 0; i <= call->n_ctxs; i++) {
    size_t rows = i < call->n_ctxs ? rows_wanted(call->ctxs[i], call->n_tokens[i]) : 0;
    if (i == call->n_ctxs || (group_rows && group_rows + rows > STAGE_ROWS)) {
      if (group_rows) unembed_group(call, begin, i, group_first, group_rows);
      begin = i;
      group_first = hidden;
      group_rows = 0;
    }
    group_rows += rows;
    hidden += rows;
  }
}

static int eval_contexts(const eval_call *call) {
  size_t n_total;
  int status = check_call(call, &n_total);
  if (!status) status = reserve(call, n_total);
  if (!status) status = run_passes(call);
  if (status) return status;

  /* From here nothing can fail. */
  unembed(call);
  for (size_t i = 0; i < call->n_ctxs; i++) {
    gpt2_context *ctx = call->ctxs[i];
    size_t n = call->n_tokens[i];
    if (!n) continue;
    memcpy(ctx->history + ctx->pos, call->tokens[i], n * sizeof(gpt2_token));
    ctx->pos += n;
    ctx->last_batch = n;
    ctx->logits_rows = rows_wanted(ctx, n);
    if (ctx->embeddings) g2_embeddings_commit(ctx, n);
  }
  return GPT2_OK;
}

GPT2_API int gpt2_eval(gpt2_context *ctx, const gpt2_token *tokens, size_t n) {
  g2_clear_error();
  if (!ctx || (!tokens && n)) return g2_fail(GPT2_E_INVALID, "gpt2_eval: NULL argument");
  eval_call call = {"gpt2_eval", &ctx, &tokens, &n, 1};
  return eval_contexts(&call);
}

GPT2_API int gpt2_eval_batch(gpt2_context *const *ctxs, const gpt2_token *const *tokens, const size_t *n_tokens,
                             size_t n_ctxs) {
  g2_clear_error();
  if (!ctxs || !tokens || !n_tokens) return g2_fail(GPT2_E_INVALID, "gpt2_eval_batch: NULL array");
  if (n_ctxs == 0 || n_ctxs > G2_MAX_CONTEXTS)
    return g2_fail(GPT2_E_INVALID, "gpt2_eval_batch: %zu contexts, not in [1, %d]", n_ctxs, G2_MAX_CONTEXTS);
  eval_call call = {"gpt2_eval_batch", ctxs, tokens, n_tokens, n_ctxs};
  return eval_contexts(&call);
}
