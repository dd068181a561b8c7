/* Allocation-failure injection: make the 1st, 2nd, ... allocation of each
   call fail and check that the call reports GPT2_E_NOMEM, leaves its
   outputs empty, leaks nothing (live-block count back to where it was),
   and that the objects it was given still work afterwards. Walked: load
   (Hugging Face directory, with a weight conversion, and GGUF), context
   creation, eval, sample, tokenize and the streaming detokenizer. */
#include <string.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"

static char model_dir[4096];

static void walk_load(const char *what, const char *path, const gpt2_load_params *params) {
  size_t failures = 0, wrong = 0, leaks = 0, n;
  for (n = 1;; n++) {
    long live = g2_alloc_live_blocks();
    gpt2_model *model = NULL;
    g2_alloc_fail_at(n);
    int status = gpt2_load(path, params, &model);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) {
      gpt2_model_free(model);
      break;
    }
    failures++;
    if (status != GPT2_E_NOMEM || model != NULL) wrong++;
    if (g2_alloc_live_blocks() != live) leaks++;
  }
  CHECK(n > 1 && wrong == 0, "gpt2_load %s: each of %zu injected failures gives GPT2_E_NOMEM and no model", what,
        failures);
  CHECK(leaks == 0, "gpt2_load %s: no leak after any of %zu injected failures", what, failures);
}

static void walk_context_and_eval(void) {
  gpt2_model *model;
  if (gpt2_load(model_dir, NULL, &model) != GPT2_OK) {
    CHECK(0, "load %s: %s", model_dir, gpt2_last_error());
    return;
  }
  size_t failures = 0, wrong = 0, leaks = 0, n;
  gpt2_context *ctx = NULL;
  for (n = 1;; n++) {
    long live = g2_alloc_live_blocks();
    g2_alloc_fail_at(n);
    int status = gpt2_context_new(model, NULL, &ctx);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) break;
    failures++;
    if (status != GPT2_E_NOMEM || ctx != NULL) wrong++;
    if (g2_alloc_live_blocks() != live) leaks++;
  }
  CHECK(wrong == 0 && leaks == 0, "gpt2_context_new: %zu injected failures, all GPT2_E_NOMEM, no leaks", failures);

  const gpt2_token tokens[4] = {1, 2, 3, 4};
  size_t eval_failures = 0, eval_wrong = 0;
  for (n = 1;; n++) {
    g2_alloc_fail_at(n);
    int status = gpt2_eval(ctx, tokens, 4);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) break;
    eval_failures++;
    if (status != GPT2_E_NOMEM || gpt2_pos(ctx) != 0) eval_wrong++;
  }
  CHECK(eval_wrong == 0 && gpt2_pos(ctx) == 4,
        "gpt2_eval: %zu injected failures, all GPT2_E_NOMEM with the cache untouched, then it works",
        eval_failures);

  /* Penalties and top-p make the sampler allocate; a failed sample leaves
     the RNG as it was, so the draw that finally succeeds is the first. */
  gpt2_sample_params params = GPT2_SAMPLE_PARAMS_INIT;
  params.top_k = 0;
  params.top_p = 0.9f;
  params.repetition_penalty = 1.3f;
  gpt2_context *twin = NULL;
  gpt2_token expected = -1, token = -1;
  int twin_ok = gpt2_context_new(model, NULL, &twin) == GPT2_OK && gpt2_eval(twin, tokens, 4) == GPT2_OK &&
                gpt2_sample(twin, &params, &expected) == GPT2_OK;
  gpt2_context_free(twin);
  size_t sample_failures = 0, sample_wrong = 0;
  for (n = 1;; n++) {
    long live = g2_alloc_live_blocks();
    token = -1;
    g2_alloc_fail_at(n);
    int status = gpt2_sample(ctx, &params, &token);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) break;
    sample_failures++;
    if (status != GPT2_E_NOMEM || token != -1 || g2_alloc_live_blocks() != live) sample_wrong++;
  }
  CHECK(twin_ok && sample_failures > 0 && sample_wrong == 0 && token == expected,
        "gpt2_sample: %zu injected failures, all GPT2_E_NOMEM without a token or a leak; then the same draw as "
        "an unfailed context (%d)",
        sample_failures, (int)token);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
}

/* Tokenizing allocates work space only for pieces longer than 64 bytes,
   hence the long word. */
static void walk_tokenize_and_detok(void) {
  gpt2_model *model;
  if (gpt2_load(model_dir, NULL, &model) != GPT2_OK) {
    CHECK(0, "load %s: %s", model_dir, gpt2_last_error());
    return;
  }
  char text[400] = "Short words, then a long one: ";
  size_t len = strlen(text);
  for (; len < 300; len++) text[len] = (char)('a' + len % 7);
  memcpy(text + len, " and the end.", 14);
  len += 13;
  gpt2_token expected[400], tokens[400];
  size_t n_expected = 0, n_tokens = 0, n;
  int status = gpt2_tokenize(model, text, len, 0, expected, 400, &n_expected);
  size_t failures = 0, wrong = 0;
  for (n = 1; status == GPT2_OK; n++) {
    long live = g2_alloc_live_blocks();
    g2_alloc_fail_at(n);
    int attempt = gpt2_tokenize(model, text, len, 0, tokens, 400, &n_tokens);
    g2_alloc_fail_at(0);
    if (attempt == GPT2_OK) break;
    failures++;
    if (attempt != GPT2_E_NOMEM || n_tokens != 0 || g2_alloc_live_blocks() != live) wrong++;
  }
  CHECK(status == GPT2_OK && failures > 0 && wrong == 0 && n_tokens == n_expected &&
            memcmp(tokens, expected, n_tokens * sizeof tokens[0]) == 0,
        "gpt2_tokenize: %zu injected failures, all GPT2_E_NOMEM with no tokens and no leak; then the same %zu tokens",
        failures, n_expected);

  failures = wrong = 0;
  gpt2_detok *detok = NULL;
  for (n = 1;; n++) {
    long live = g2_alloc_live_blocks();
    g2_alloc_fail_at(n);
    status = gpt2_detok_new(model, &detok);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) break;
    failures++;
    if (status != GPT2_E_NOMEM || detok != NULL || g2_alloc_live_blocks() != live) wrong++;
  }
  char out[16];
  size_t n_out = 0;
  CHECK(failures > 0 && wrong == 0 && gpt2_detok_push(detok, expected[0], out, sizeof out, &n_out) == GPT2_OK,
        "gpt2_detok_new: %zu injected failures, all GPT2_E_NOMEM, no detokenizer, no leak; then it works", failures);
  gpt2_detok_free(detok);
  gpt2_model_free(model);
}

int main(void) {
  snprintf(model_dir, sizeof model_dir, "%s/tiny-f32", harness_path("GPT2_TEST_MODELS", "build/models"));
  char gguf_path[4096];
  snprintf(gguf_path, sizeof gguf_path, "%s/gguf_bad/good_base.gguf", harness_path("GPT2_TEST_DATA", "tests/data"));
  gpt2_load_params to_q8 = GPT2_LOAD_PARAMS_INIT;
  to_q8.weight_type = GPT2_WTYPE_Q8_0;
  to_q8.n_threads = 2; /* a worker to start: its allocations fail in turn too */
  long live = g2_alloc_live_blocks();
  walk_load("(Hugging Face directory)", model_dir, NULL);
  walk_load("(converted to Q8_0)", model_dir, &to_q8);
  walk_load("(GGUF)", gguf_path, NULL);
  walk_context_and_eval();
  walk_tokenize_and_detok();
  CHECK(g2_alloc_live_blocks() == live, "no blocks left allocated at the end");
  HARNESS_EXIT();
}
