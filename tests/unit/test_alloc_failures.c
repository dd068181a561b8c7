/* Allocation-failure injection: make the 1st, 2nd, ... allocation of each
   call fail and check that the call reports GPT2_E_NOMEM, leaves its
   outputs empty, leaks nothing (live-block count back to where it was),
   and that the objects it was given still work afterwards. */
#include <string.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"

static char model_dir[4096];

static void walk_load(void) {
  size_t failures = 0, wrong = 0, leaks = 0, n;
  for (n = 1;; n++) {
    long live = g2_alloc_live_blocks();
    gpt2_model *model = NULL;
    g2_alloc_fail_at(n);
    int status = gpt2_load(model_dir, NULL, &model);
    g2_alloc_fail_at(0);
    if (status == GPT2_OK) {
      gpt2_model_free(model);
      break;
    }
    failures++;
    if (status != GPT2_E_NOMEM || model != NULL) wrong++;
    if (g2_alloc_live_blocks() != live) leaks++;
  }
  CHECK(n > 1 && wrong == 0, "gpt2_load: each of %zu injected failures gives GPT2_E_NOMEM and no model", failures);
  CHECK(leaks == 0, "gpt2_load: no leak after any of %zu injected failures", failures);
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
  gpt2_context_free(ctx);
  gpt2_model_free(model);
}

int main(void) {
  snprintf(model_dir, sizeof model_dir, "%s/tiny-f32", harness_path("GPT2_TEST_MODELS", "build/models"));
  long live = g2_alloc_live_blocks();
  walk_load();
  walk_context_and_eval();
  CHECK(g2_alloc_live_blocks() == live, "no blocks left allocated at the end");
  HARNESS_EXIT();
}
