/* An application of the 0.1 API, built once against 0.1.0's header
   (tests/abi/0.1.0/gpt2.h: smaller params structs) and once against the
   current one; both binaries must run on the current library and print the
   same thing (tests/abidiff.test.sh). It fills every params struct it
   knows with non-default values.
     app MODEL_DIR */
#include <stdio.h>
#include <string.h>

#include "gpt2.h"

static int fail(const char *what, int status) {
  printf("%s: %s: %s\n", what, gpt2_strerror(status), gpt2_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  gpt2_load_params load = GPT2_LOAD_PARAMS_INIT;
  load.weight_type = GPT2_WTYPE_F16;
  gpt2_model *model;
  int status = gpt2_load(argv[1], &load, &model);
  if (status) return fail("load", status);
  gpt2_context_params cp = GPT2_CONTEXT_PARAMS_INIT;
  cp.n_ctx = 24;
  cp.n_threads = 2;
  cp.logits_all = 1;
  cp.seed = 1234;
  cp.kv_type = GPT2_KV_F16;
  gpt2_context *ctx;
  if ((status = gpt2_context_new(model, &cp, &ctx))) return fail("context", status);
  gpt2_token tokens[24];
  size_t n = 0;
  status = gpt2_tokenize(model, "Hello, old", 10, 0, tokens, 12, &n);
  if (!status) status = gpt2_eval(ctx, tokens, n);
  gpt2_sample_params sp = GPT2_SAMPLE_PARAMS_INIT;
  sp.temperature = 0.8f;
  sp.top_k = 20;
  for (int i = 0; !status && i < 12; i++) {
    gpt2_token next;
    status = gpt2_sample(ctx, &sp, &next);
    if (!status) status = gpt2_eval(ctx, &next, 1);
    if (!status) printf("%d ", (int)next);
  }
  const float *first = gpt2_logits(ctx, 0);
  printf("\n%s n_ctx %zu pos %zu logit %.9g\n", gpt2_version(), gpt2_n_ctx(ctx), gpt2_pos(ctx),
         first ? (double)first[0] : -1.0);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return status ? fail("generate", status) : 0;
}
