/* The smallest complete libgpt2 program: load a model, tokenize a prompt,
   evaluate it, then extend it greedily and print the text.
     simple MODEL_DIR_OR_GGUF "PROMPT" [N_TOKENS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"

static int fail(const char *what, int status) {
  fprintf(stderr, "simple: %s: %s: %s\n", what, gpt2_strerror(status), gpt2_last_error());
  return 1;
}

/* The id of the largest logit. */
static gpt2_token argmax(const float *logits, int n_vocab) {
  gpt2_token best = 0;
  for (gpt2_token t = 1; t < n_vocab; t++)
    if (logits[t] > logits[best]) best = t;
  return best;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: simple MODEL PROMPT [N_TOKENS]\n");
    return 2;
  }
  int n_new = argc > 3 ? atoi(argv[3]) : 32;

  gpt2_model *model;
  int status = gpt2_load(argv[1], NULL, &model);
  if (status) return fail("load", status);
  gpt2_context *ctx;
  if ((status = gpt2_context_new(model, NULL, &ctx))) {
    gpt2_model_free(model);
    return fail("context", status);
  }

  /* Ask for the token count first, then tokenize into a buffer that fits. */
  size_t n_prompt = 0;
  gpt2_tokenize(model, argv[2], strlen(argv[2]), 0, NULL, 0, &n_prompt);
  gpt2_token *prompt = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt);
  status = prompt ? gpt2_tokenize(model, argv[2], strlen(argv[2]), 0, prompt, n_prompt, &n_prompt)
                  : GPT2_E_NOMEM;
  if (!status && n_prompt == 0) status = GPT2_E_INVALID;
  if (!status) status = gpt2_eval(ctx, prompt, n_prompt);
  free(prompt);

  fputs(argv[2], stdout);
  for (int i = 0; !status && i < n_new; i++) {
    gpt2_token next = argmax(gpt2_logits(ctx, -1), gpt2_n_vocab(model));
    if (next == gpt2_token_eot(model)) break;
    size_t len;
    const char *bytes = gpt2_token_bytes(model, next, &len);
    fwrite(bytes, 1, len, stdout);
    fflush(stdout);
    status = gpt2_eval(ctx, &next, 1);
  }
  putchar('\n');
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return status ? fail("generate", status) : 0;
}
