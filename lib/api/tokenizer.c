/* The public tokenizer functions: argument checks, then the model's
   tokenizer (tokenizer/, which knows no model). */
#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

struct gpt2_detok {
  struct gpt2_model *model; /* kept alive while the detokenizer lives */
  g2_detok state;
};

static int no_tokenizer(const gpt2_model *model, const char *function) {
  if (!model) return g2_fail(GPT2_E_INVALID, "%s: model is NULL", function);
  if (!model->tokenizer)
    return g2_fail(GPT2_E_STATE, "%s: the model has no vocabulary", function);
  return GPT2_OK;
}

GPT2_API int gpt2_tokenize(const gpt2_model *model, const char *text,
                           size_t len, unsigned flags, gpt2_token *out,
                           size_t cap, size_t *n_out) {
  g2_clear_error();
  if (n_out) *n_out = 0;
  int status = no_tokenizer(model, "gpt2_tokenize");
  if (status != GPT2_OK) return status;
  return g2_tokenize(model->tokenizer, text, len, flags, out, cap, n_out);
}

GPT2_API const char *gpt2_token_bytes(const gpt2_model *model, gpt2_token t,
                                      size_t *len) {
  if (!model || !model->tokenizer) {
    if (len) *len = 0;
    return NULL;
  }
  return g2_token_bytes(model->tokenizer, t, len);
}

GPT2_API int gpt2_detokenize(const gpt2_model *model, const gpt2_token *tokens,
                             size_t n, char *out, size_t cap, size_t *n_out) {
  g2_clear_error();
  if (n_out) *n_out = 0;
  int status = no_tokenizer(model, "gpt2_detokenize");
  if (status != GPT2_OK) return status;
  return g2_detokenize(model->tokenizer, tokens, n, out, cap, n_out);
}

GPT2_API int gpt2_detok_new(const gpt2_model *model, gpt2_detok **out) {
  g2_clear_error();
  if (!out) return g2_fail(GPT2_E_INVALID, "gpt2_detok_new: out is NULL");
  *out = NULL;
  int status = no_tokenizer(model, "gpt2_detok_new");
  if (status != GPT2_OK) return status;
  gpt2_detok *detok = g2_calloc(1, sizeof *detok);
  if (!detok) return g2_fail(GPT2_E_NOMEM, "gpt2_detok_new: out of memory");
  /* The model is immutable but reference-counted, like a context's. */
  detok->model = (struct gpt2_model *)model;
  g2_model_retain(detok->model);
  g2_detok_init(&detok->state, model->tokenizer);
  *out = detok;
  return GPT2_OK;
}

GPT2_API void gpt2_detok_free(gpt2_detok *detok) {
  if (!detok) return;
  g2_model_release(detok->model);
  g2_free(detok);
}

GPT2_API int gpt2_detok_push(gpt2_detok *detok, gpt2_token t, char *out,
                             size_t cap, size_t *n_out) {
  g2_clear_error();
  if (!detok) {
    if (n_out) *n_out = 0;
    return g2_fail(GPT2_E_INVALID, "gpt2_detok_push: detok is NULL");
  }
  return g2_detok_push(&detok->state, t, out, cap, n_out);
}

GPT2_API int gpt2_detok_flush(gpt2_detok *detok, char *out, size_t cap,
                              size_t *n_out) {
  g2_clear_error();
  if (!detok) {
    if (n_out) *n_out = 0;
    return g2_fail(GPT2_E_INVALID, "gpt2_detok_flush: detok is NULL");
  }
  return g2_detok_flush(&detok->state, out, cap, n_out);
}
