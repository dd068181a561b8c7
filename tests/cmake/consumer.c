/* Loads MODEL (argv[1]) and prints the greedy next token of "Hello": a
   program that knows libgpt2 only through find_package(gpt2). */
#include <gpt2.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  gpt2_model *model = NULL;
  gpt2_context *ctx = NULL;
  gpt2_token tokens[16], next = -1;
  size_t n = 0;
  gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
  greedy.temperature = 0.0f;
  int status = argc == 2 ? gpt2_load(argv[1], NULL, &model) : GPT2_E_INVALID;
  if (!status) status = gpt2_context_new(model, NULL, &ctx);
  if (!status) status = gpt2_tokenize(model, "Hello", 5, 0, tokens, 16, &n);
  if (!status) status = gpt2_eval(ctx, tokens, n);
  if (!status) status = gpt2_sample(ctx, &greedy, &next);
  printf("%s %s %d\n", gpt2_version(), status ? gpt2_last_error() : "next", (int)next);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return status != 0 || strcmp(gpt2_version(), GPT2_VERSION_STRING) != 0;
}
