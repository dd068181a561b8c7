/* The public API's contracts outside the numbers: status codes, messages,
   params structs by size, NULL handling, lifetimes, and eval's failure
   atomicity. Uses the tiny generated model. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "gpt2.h"
#include "harness.h"

static char model_dir[4096];

static void test_library(void) {
  CHECK(strcmp(gpt2_version(), GPT2_VERSION_STRING) == 0, "gpt2_version matches the header");
  char numbers[64];
  snprintf(numbers, sizeof numbers, "%d.%d.%d", GPT2_VERSION_MAJOR, GPT2_VERSION_MINOR, GPT2_VERSION_PATCH);
  CHECK(strcmp(GPT2_VERSION_STRING, numbers) == 0 &&
            GPT2_VERSION_NUMBER == GPT2_VERSION_MAJOR * 10000 + GPT2_VERSION_MINOR * 100 + GPT2_VERSION_PATCH,
        "GPT2_VERSION_STRING (%s) and GPT2_VERSION_NUMBER (%d) are made of MAJOR.MINOR.PATCH (%s)",
        GPT2_VERSION_STRING, GPT2_VERSION_NUMBER, numbers);
  const int codes[] = {GPT2_OK, GPT2_E_INVALID, GPT2_E_NOMEM, GPT2_E_IO, GPT2_E_FORMAT,
                       GPT2_E_UNSUPPORTED, GPT2_E_RANGE, GPT2_E_BUFFER, GPT2_E_STATE};
  int distinct = 1;
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp(gpt2_strerror(codes[i]), gpt2_strerror(codes[j])) == 0) distinct = 0;
  CHECK(distinct, "every status code has its own name");
  CHECK(strcmp(gpt2_strerror(12345), "unknown status") == 0, "unknown codes are named as such");
  CHECK(GPT2_E_INVALID == -1 && GPT2_E_STATE == -8, "status values are pinned");
}

static void test_load_errors(void) {
  gpt2_model *model = (gpt2_model *)1;
  int status = gpt2_load("/nonexistent/dir/model.gguf", NULL, &model);
  CHECK(status == GPT2_E_IO && model == NULL, "missing file: GPT2_E_IO and *out = NULL (%d)", status);
  CHECK(strstr(gpt2_last_error(), "/nonexistent/dir/model.gguf") != NULL,
        "message names the path: %s", gpt2_last_error());
  CHECK(gpt2_load(NULL, NULL, &model) == GPT2_E_INVALID, "NULL path: GPT2_E_INVALID");
  CHECK(gpt2_load(model_dir, NULL, NULL) == GPT2_E_INVALID, "NULL out: GPT2_E_INVALID");

  gpt2_load_params bad_size = GPT2_LOAD_PARAMS_INIT;
  bad_size.size = 2;
  CHECK(gpt2_load(model_dir, &bad_size, &model) == GPT2_E_INVALID, "params with size 2 rejected");
  gpt2_load_params bad_type = GPT2_LOAD_PARAMS_INIT;
  bad_type.weight_type = 99;
  CHECK(gpt2_load(model_dir, &bad_type, &model) == GPT2_E_INVALID, "unknown weight_type rejected");

  /* A newer caller's larger struct: accepted while the unknown tail is zero. */
  struct {
    gpt2_load_params known;
    uint32_t future_field;
  } newer;
  memset(&newer, 0, sizeof newer); /* the padding after future_field too */
  newer.known = (gpt2_load_params)GPT2_LOAD_PARAMS_INIT;
  newer.known.size = sizeof newer;
  status = gpt2_load(model_dir, &newer.known, &model);
  CHECK(status == GPT2_OK, "larger params struct with zero tail accepted (%s)", gpt2_last_error());
  gpt2_model_free(model);
  newer.future_field = 7;
  CHECK(gpt2_load(model_dir, &newer.known, &model) == GPT2_E_INVALID,
        "larger params struct with an unknown non-zero field rejected");
  /* An older caller's smaller struct: the missing fields keep their defaults. */
  gpt2_load_params older = GPT2_LOAD_PARAMS_INIT;
  older.size = sizeof(uint32_t);
  CHECK(gpt2_load(model_dir, &older, &model) == GPT2_OK, "smaller params struct accepted");
  gpt2_model_free(model);
  /* A struct from before n_threads existed converts on the default threads. */
  gpt2_load_params before_threads = GPT2_LOAD_PARAMS_INIT;
  before_threads.size = (uint32_t)offsetof(gpt2_load_params, n_threads);
  before_threads.weight_type = GPT2_WTYPE_Q8_0;
  before_threads.n_threads = 5000; /* beyond the limit, but outside the caller's struct */
  status = gpt2_load(model_dir, &before_threads, &model);
  CHECK(status == GPT2_OK, "params struct without n_threads converts on the default threads (%s)",
        gpt2_last_error());
  gpt2_model_free(model);
  gpt2_load_params too_many = GPT2_LOAD_PARAMS_INIT;
  too_many.weight_type = GPT2_WTYPE_Q8_0;
  too_many.n_threads = 5000;
  CHECK(gpt2_load(model_dir, &too_many, &model) == GPT2_E_INVALID && model == NULL,
        "n_threads 5000 rejected");

  setenv("GPT2_ISA", "no-such-isa", 1);
  CHECK(gpt2_load(model_dir, NULL, &model) == GPT2_E_UNSUPPORTED, "unknown GPT2_ISA rejected");
  unsetenv("GPT2_ISA");
  setenv("GPT2_ISA", "scalar", 1);
  status = gpt2_load(model_dir, NULL, &model);
  CHECK(status == GPT2_OK && strcmp(gpt2_model_isa(model), "scalar") == 0, "GPT2_ISA=scalar forces the scalar kernels");
  gpt2_model_free(model);
  unsetenv("GPT2_ISA");

  /* fp32_products: never a table that rounds activations; a named one that
     does contradicts it. */
  gpt2_load_params fp32 = GPT2_LOAD_PARAMS_INIT;
  fp32.fp32_products = 1;
  status = gpt2_load(model_dir, &fp32, &model);
  const char *isa = status == GPT2_OK ? gpt2_model_isa(model) : "";
  CHECK(status == GPT2_OK && strcmp(isa, "avx512bf16") != 0, "fp32_products = 1 chooses an FP32 table (%s)", isa);
  gpt2_model_free(model);
  setenv("GPT2_ISA", "avx512bf16", 1);
  gpt2_model *forced = NULL;
  status = gpt2_load(model_dir, NULL, &forced);
  if (status == GPT2_OK) { /* this CPU runs it */
    status = gpt2_load(model_dir, &fp32, &model);
    CHECK(status == GPT2_E_INVALID && model == NULL && strstr(gpt2_last_error(), "fp32_products"),
          "GPT2_ISA=avx512bf16 with fp32_products = 1: GPT2_E_INVALID (%s)", gpt2_last_error());
  } else {
    SKIP("GPT2_ISA=avx512bf16 with fp32_products = 1: this CPU has no avx512bf16");
  }
  gpt2_model_free(forced);
  unsetenv("GPT2_ISA");

#if defined(_WIN32)
  SKIP("free functions accept NULL: needs fork (checked by the POSIX build)");
#else
  /* In a child, so that a NULL dereference is a failed check here. */
  pid_t child = fork();
  if (child == 0) {
    gpt2_model_free(NULL);
    gpt2_context_free(NULL);
    _exit(0);
  }
  int child_status = -1;
  CHECK(child > 0 && waitpid(child, &child_status, 0) == child && WIFEXITED(child_status) &&
            WEXITSTATUS(child_status) == 0,
        "free functions accept NULL (a child process calls them and exits normally)");
#endif
}

static void test_context(void) {
  gpt2_model *model;
  if (gpt2_load(model_dir, NULL, &model) != GPT2_OK) {
    CHECK(0, "load %s: %s", model_dir, gpt2_last_error());
    return;
  }
  gpt2_context *ctx;
  gpt2_context_params too_long = GPT2_CONTEXT_PARAMS_INIT;
  too_long.n_ctx = (uint32_t)gpt2_n_ctx_train(model) + 1;
  CHECK(gpt2_context_new(model, &too_long, &ctx) == GPT2_E_RANGE, "n_ctx beyond the model's rejected");
  gpt2_context_params bad_kv = GPT2_CONTEXT_PARAMS_INIT;
  bad_kv.kv_type = 7;
  CHECK(gpt2_context_new(model, &bad_kv, &ctx) == GPT2_E_INVALID, "unknown kv_type rejected");

  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.n_ctx = 8;
  p.n_threads = 1;
  if (gpt2_context_new(model, &p, &ctx) != GPT2_OK) {
    CHECK(0, "context: %s", gpt2_last_error());
    gpt2_model_free(model);
    return;
  }
  CHECK(gpt2_n_ctx(ctx) == 8 && gpt2_pos(ctx) == 0, "new context: n_ctx 8, pos 0");
  CHECK(gpt2_logits(ctx, -1) == NULL, "no logits before the first eval");

  gpt2_token tokens[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK(gpt2_eval(ctx, tokens, 0) == GPT2_E_INVALID, "eval of 0 tokens rejected");
  CHECK(gpt2_eval(ctx, tokens, 9) == GPT2_E_RANGE && gpt2_pos(ctx) == 0, "eval past n_ctx rejected, pos unchanged");
  CHECK(gpt2_eval(ctx, tokens, 5) == GPT2_OK && gpt2_pos(ctx) == 5, "eval of 5 tokens");
  const float *logits = gpt2_logits(ctx, -1);
  size_t n_vocab = (size_t)gpt2_n_vocab(model);
  float *saved = malloc(n_vocab * sizeof *saved);
  memcpy(saved, logits, n_vocab * sizeof *saved);
  CHECK(gpt2_logits(ctx, 4) == logits, "logits(4) is the last row");
  CHECK(gpt2_logits(ctx, 0) == NULL, "earlier rows need logits_all");
  CHECK(gpt2_logits(ctx, 5) == NULL && gpt2_logits(ctx, -2) == NULL, "out-of-batch rows are NULL");

  gpt2_token bad[2] = {3, (gpt2_token)n_vocab};
  CHECK(gpt2_eval(ctx, bad, 2) == GPT2_E_RANGE && gpt2_pos(ctx) == 5, "bad token id rejected, pos unchanged");
  CHECK(strstr(gpt2_last_error(), "token 1") != NULL, "message names the bad token: %s", gpt2_last_error());
  gpt2_token negative = -1;
  CHECK(gpt2_eval(ctx, &negative, 1) == GPT2_E_RANGE, "negative token id rejected");
  CHECK(gpt2_eval(ctx, tokens, 4) == GPT2_E_RANGE && gpt2_pos(ctx) == 5, "overflowing eval rejected, pos unchanged");
  CHECK(memcmp(gpt2_logits(ctx, -1), saved, n_vocab * sizeof *saved) == 0, "failed evals leave the logits as they were");

  CHECK(gpt2_truncate(ctx, 6) == GPT2_E_RANGE, "truncate past pos rejected");
  CHECK(gpt2_truncate(ctx, 2) == GPT2_OK && gpt2_pos(ctx) == 2 && gpt2_logits(ctx, -1) == NULL,
        "truncate to 2: pos 2, logits gone");

  /* The context keeps the model alive after gpt2_model_free. */
  gpt2_model_free(model);
  CHECK(gpt2_eval(ctx, tokens + 2, 3) == GPT2_OK, "context works after gpt2_model_free");
  CHECK(memcmp(gpt2_logits(ctx, -1), saved, n_vocab * sizeof *saved) == 0,
        "truncate + re-eval reproduces the logits bitwise");
  gpt2_context_free(ctx);
  free(saved);
}

/* Logits of a fixed sequence, or NULL (the caller frees). */
static float *logits_of(const gpt2_load_params *load) {
  gpt2_model *model;
  if (gpt2_load(model_dir, load, &model) != GPT2_OK) return NULL;
  gpt2_context *ctx;
  float *copy = NULL;
  const gpt2_token tokens[3] = {7, 8, 9};
  if (gpt2_context_new(model, NULL, &ctx) == GPT2_OK && gpt2_eval(ctx, tokens, 3) == GPT2_OK) {
    size_t n = (size_t)gpt2_n_vocab(model);
    copy = malloc(n * sizeof *copy);
    if (copy) memcpy(copy, gpt2_logits(ctx, -1), n * sizeof *copy);
    gpt2_context_free(ctx);
  }
  gpt2_model_free(model);
  return copy;
}

static void test_use_mmap(void) {
  gpt2_load_params mapped = GPT2_LOAD_PARAMS_INIT, read = GPT2_LOAD_PARAMS_INIT;
  read.use_mmap = 0;
  float *a = logits_of(&mapped), *b = logits_of(&read);
  size_t n_vocab = 509; /* tiny model */
  CHECK(a && b && memcmp(a, b, n_vocab * sizeof *a) == 0,
        "use_mmap = 0 (weights read into memory) gives the same logits as mapping");
  free(a);
  free(b);
}

int main(void) {
  snprintf(model_dir, sizeof model_dir, "%s/tiny-f32", harness_path("GPT2_TEST_MODELS", "build/models"));
  test_library();
  test_load_errors();
  test_context();
  test_use_mmap();
  HARNESS_EXIT();
}
