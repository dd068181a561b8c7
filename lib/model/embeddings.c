/* A context's final hidden states (gpt2_context_params.embeddings): the
   buffers, the commit of an eval and gpt2_embeddings. The forward pass
   (model/forward.c) writes the rows. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/context.h"

int g2_embeddings_reserve(struct gpt2_context *ctx, size_t rows) {
  if (ctx->embd_cap >= rows) return GPT2_OK;
  size_t n_embd = (size_t)ctx->model->hp.n_embd;
  float *embd = g2_malloc_array(rows * n_embd, sizeof(float));
  float *pending = g2_malloc_array(rows * n_embd, sizeof(float));
  if (!embd || !pending) {
    g2_free(embd);
    g2_free(pending);
    return g2_fail(GPT2_E_NOMEM, "out of memory for %zu rows of embeddings", rows);
  }
  if (ctx->embd_rows) memcpy(embd, ctx->embd, ctx->embd_rows * n_embd * sizeof(float));
  g2_free(ctx->embd);
  g2_free(ctx->embd_pending);
  ctx->embd = embd;
  ctx->embd_pending = pending;
  ctx->embd_cap = rows;
  return GPT2_OK;
}

void g2_embeddings_commit(struct gpt2_context *ctx, size_t n) {
  float *swap = ctx->embd;
  ctx->embd = ctx->embd_pending;
  ctx->embd_pending = swap;
  ctx->embd_rows = n;
}

GPT2_API int gpt2_embeddings(const gpt2_context *ctx, float *out, size_t cap, size_t *n_out) {
  g2_clear_error();
  if (!ctx || !n_out || (!out && cap)) return g2_fail(GPT2_E_INVALID, "gpt2_embeddings: NULL argument");
  if (!ctx->embeddings)
    return g2_fail(GPT2_E_STATE, "gpt2_embeddings: the context was made without embeddings = 1");
  if (!ctx->embd_rows)
    return g2_fail(GPT2_E_STATE, "gpt2_embeddings: no batch evaluated since creation, gpt2_truncate or "
                                 "gpt2_state_load");
  size_t n = ctx->embd_rows * (size_t)ctx->model->hp.n_embd;
  *n_out = n;
  if (cap < n) return g2_fail(GPT2_E_BUFFER, "gpt2_embeddings: %zu floats needed, room for %zu", n, cap);
  memcpy(out, ctx->embd, n * sizeof(float));
  return GPT2_OK;
}
