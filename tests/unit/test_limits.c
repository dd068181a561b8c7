/* Behaviour at the documented limits (docs/reliability.md, "Limits") that
   the format and API tests do not already walk: the thread count, a
   context filled to its last position in one batch, empty inputs, and a
   single 1 MiB pre-token (the tokenizer's long-piece path, O(n log n)). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"

static void test_threads_limit(gpt2_model *model) {
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  gpt2_context *ctx = NULL;
  params.n_ctx = 4;
  params.n_threads = 1024;
  int at_limit = gpt2_context_new(model, &params, &ctx);
  gpt2_context_free(ctx);
  ctx = NULL;
  params.n_threads = 1025;
  int past = gpt2_context_new(model, &params, &ctx);
  CHECK(at_limit == GPT2_OK && past == GPT2_E_INVALID && ctx == NULL,
        "n_threads 1024 accepted, 1025 is GPT2_E_INVALID (%s)", gpt2_last_error());
}

static void test_full_context(gpt2_model *model) {
  gpt2_context *ctx = NULL;
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT; /* n_ctx 0: the model's */
  params.n_threads = 1;
  if (gpt2_context_new(model, &params, &ctx) != GPT2_OK) {
    CHECK(0, "context: %s", gpt2_last_error());
    return;
  }
  size_t n_ctx = gpt2_n_ctx(ctx);
  gpt2_token *tokens = malloc(n_ctx * sizeof *tokens);
  for (size_t i = 0; i < n_ctx; i++) tokens[i] = (gpt2_token)(i * 7 % (size_t)gpt2_n_vocab(model));
  int filled = gpt2_eval(ctx, tokens, n_ctx);
  const float *logits = gpt2_logits(ctx, -1);
  int one_more = gpt2_eval(ctx, tokens, 1);
  CHECK(n_ctx == (size_t)gpt2_n_ctx_train(model) && filled == GPT2_OK && logits != NULL &&
            one_more == GPT2_E_RANGE && gpt2_pos(ctx) == n_ctx && gpt2_logits(ctx, -1) == logits,
        "all %zu positions in one batch; one more token is GPT2_E_RANGE and changes nothing", n_ctx);
  CHECK(gpt2_truncate(ctx, n_ctx - 1) == GPT2_OK && gpt2_eval(ctx, tokens, 1) == GPT2_OK,
        "after truncating one position the last one can be evaluated again");
  free(tokens);
  gpt2_context_free(ctx);
}

static void test_empty_inputs(gpt2_model *model) {
  gpt2_token token;
  size_t n = 99, n_bytes = 99;
  char byte;
  CHECK(gpt2_tokenize(model, "", 0, GPT2_TOKENIZE_SPECIAL, NULL, 0, &n) == GPT2_OK && n == 0 &&
            gpt2_detokenize(model, &token, 0, &byte, 0, &n_bytes) == GPT2_OK && n_bytes == 0,
        "empty text gives 0 tokens, 0 tokens give 0 bytes");
}

/* One pre-token of 1 MiB: letters without a space are one piece. */
static void test_long_piece(gpt2_model *model) {
  const size_t len = (size_t)1 << 20;
  char *text = malloc(len), *back = malloc(len);
  for (size_t i = 0; i < len; i++) text[i] = (char)('a' + (i * i + i / 3) % 26);
  size_t n = 0, n_back = 0;
  int status = gpt2_tokenize(model, text, len, 0, NULL, 0, &n);
  gpt2_token *tokens = malloc((n ? n : 1) * sizeof *tokens);
  if (status == GPT2_E_BUFFER) status = gpt2_tokenize(model, text, len, 0, tokens, n, &n);
  if (status == GPT2_OK) status = gpt2_detokenize(model, tokens, n, back, len, &n_back);
  CHECK(status == GPT2_OK && n_back == len && memcmp(back, text, len) == 0,
        "a 1 MiB pre-token: %zu tokens, bytes back exactly (%s)", n, gpt2_last_error());
  free(tokens);
  free(back);
  free(text);
}

int main(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tiny-f32", harness_path("GPT2_TEST_MODELS", "build/models"));
  long live = g2_alloc_live_blocks();
  gpt2_model *model = NULL;
  if (gpt2_load(path, NULL, &model) != GPT2_OK) {
    CHECK(0, "load %s: %s", path, gpt2_last_error());
    HARNESS_EXIT();
  }
  test_threads_limit(model);
  test_full_context(model);
  test_empty_inputs(model);
  test_long_piece(model);
  gpt2_model_free(model);
  CHECK(g2_alloc_live_blocks() == live, "nothing left allocated");
  HARNESS_EXIT();
}
