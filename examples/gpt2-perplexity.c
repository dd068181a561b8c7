/* gpt2-perplexity: how well a model predicts a text, with a sliding window
   as in the Hugging Face perplexity guide. Shows batched evaluation with
   logits for every position (logits_all) and gpt2_truncate to reuse one
   context for many windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-perplexity -m MODEL -f FILE [--ctx N] [--stride S] [--threads N]\n"
    "Perplexity of a model on the text in FILE.\n"
    "\n"
    "  -m MODEL       model: a Hugging Face GPT-2 directory or a .gguf file\n"
    "  -f FILE        the text, taken byte for byte (\"<|endoftext|>\" is the\n"
    "                 end-of-text token)\n"
    "  --ctx N        window length in tokens (default: the model's context,\n"
    "                 1024 for GPT-2)\n"
    "  --stride S     tokens the window advances each step (default: half the\n"
    "                 window). Each token is scored once, in the first window\n"
    "                 where it is not in the overlap with the previous one,\n"
    "                 so it sees at least N - S tokens of context (except at\n"
    "                 the start). S = N gives disjoint windows: faster, but\n"
    "                 tokens early in a window see little context\n"
    "  --threads N    threads for evaluation; 0 = all cores (default 0)\n"
    "  -h, --help     print this help\n"
    "\n"
    "Prints the perplexity exp(mean negative log-likelihood), the bits per\n"
    "byte (total negative log2-likelihood over the bytes of the scored\n"
    "tokens), the number of tokens scored and the speed. A token is scored\n"
    "only with at least one token of context: the first of the text is not,\n"
    "nor, when S = N, the first of each window (as in the guide).\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file, text too short), 2 bad\n"
    "command line.\n";

/* Rows evaluated per gpt2_eval call: bounds the logits kept (rows x n_vocab
   floats) whatever the window length. */
#define EVAL_CHUNK 128

/* -log p(target) from one row of logits, in double: log-sum-exp minus the
   target's logit. */
static double negative_log_likelihood(const float *logits, int n_vocab, gpt2_token target) {
  float max_logit = logits[0];
  for (int i = 1; i < n_vocab; i++) max_logit = logits[i] > max_logit ? logits[i] : max_logit;
  double sum = 0.0;
  for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max_logit);
  return log(sum) + max_logit - (double)logits[target];
}

typedef struct score {
  double nll;        /* nats, summed */
  size_t n_scored;   /* tokens */
  size_t n_bytes;    /* bytes of the scored tokens */
  size_t n_evaluated;
} score;

/* Evaluates tokens[begin, end) from an empty cache and scores the targets
   from `first` on, each predicted from the logits of the token before it.
   The last token predicts nothing inside the window: it is not evaluated. */
static void score_window(gpt2_context *ctx, const gpt2_model *model, const gpt2_token *tokens,
                         size_t begin, size_t first, size_t end, score *s) {
  int status = gpt2_truncate(ctx, 0);
  if (status != GPT2_OK) cli_fail_status("cannot reset the context", status);
  for (size_t chunk = begin; chunk < end - 1; chunk += EVAL_CHUNK) {
    size_t chunk_end = chunk + EVAL_CHUNK < end - 1 ? chunk + EVAL_CHUNK : end - 1;
    status = gpt2_eval(ctx, tokens + chunk, chunk_end - chunk);
    if (status != GPT2_OK) cli_fail_status("cannot evaluate", status);
    s->n_evaluated += chunk_end - chunk;
    for (size_t p = chunk; p < chunk_end; p++) {
      if (p + 1 < first) continue; /* context only, scored by an earlier window */
      const float *logits = gpt2_logits(ctx, (int32_t)(p - chunk));
      if (!logits) cli_fail("no logits for position %zu", p);
      s->nll += negative_log_likelihood(logits, gpt2_n_vocab(model), tokens[p + 1]);
      size_t n_bytes = 0;
      gpt2_token_bytes(model, tokens[p + 1], &n_bytes);
      s->n_bytes += n_bytes;
      s->n_scored++;
    }
  }
}

int main(int argc, char **argv) {
  cli_program = "gpt2-perplexity";
  const char *model_path = NULL, *file = NULL;
  long long window = 0, stride = 0, n_threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(flag, "-m")) {
      model_path = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "-f")) {
      file = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "--ctx")) {
      window = cli_parse_integer(flag, cli_value(argc, argv, &i), 2, INT32_MAX);
    } else if (!strcmp(flag, "--stride")) {
      stride = cli_parse_integer(flag, cli_value(argc, argv, &i), 1, INT32_MAX);
    } else if (!strcmp(flag, "--threads")) {
      n_threads = cli_parse_integer(flag, cli_value(argc, argv, &i), 0, 4096);
    } else {
      cli_usage_error("unknown option '%s'", flag);
    }
  }
  if (!model_path) cli_usage_error("no model: give -m MODEL");
  if (!file) cli_usage_error("no text: give -f FILE");
  if (window && stride > window)
    cli_usage_error("--stride %lld is longer than the window (--ctx %lld)", stride, window);

  size_t text_len;
  char *text = cli_read_all(file, &text_len);
  gpt2_model *model = cli_load_model(model_path);
  if (window > gpt2_n_ctx_train(model))
    cli_fail("--ctx %lld is longer than the model's context of %d tokens", window,
             gpt2_n_ctx_train(model));
  if (!window) window = gpt2_n_ctx_train(model);
  if (!stride) stride = window / 2;
  if (stride > window)
    cli_usage_error("--stride %lld is longer than the window (%lld)", stride, window);

  size_t n_tokens = 0;
  gpt2_token *tokens = cli_tokenize(model, text, text_len, &n_tokens);
  if (n_tokens < 2)
    cli_fail("'%s' is %zu token%s; perplexity needs at least 2", file, n_tokens,
             n_tokens == 1 ? "" : "s");

  gpt2_context_params cparams = GPT2_CONTEXT_PARAMS_INIT;
  cparams.n_ctx = (uint32_t)window;
  cparams.n_threads = (uint32_t)n_threads;
  cparams.logits_all = 1;
  gpt2_context *ctx = NULL;
  int status = gpt2_context_new(model, &cparams, &ctx);
  if (status != GPT2_OK) cli_fail_status("cannot create a context", status);

  score s = {0, 0, 0, 0};
  double start = cli_seconds();
  size_t scored_until = 1; /* the first token has no context: never scored */
  for (size_t begin = 0;; begin += (size_t)stride) {
    size_t end = begin + (size_t)window < n_tokens ? begin + (size_t)window : n_tokens;
    score_window(ctx, model, tokens, begin, scored_until, end, &s);
    scored_until = end;
    if (end == n_tokens) break;
  }
  double seconds = cli_seconds() - start;

  double mean_nll = s.nll / (double)s.n_scored;
  printf("perplexity:    %.4f\n", exp(mean_nll));
  printf("bits per byte: %.4f\n", s.nll / log(2.0) / (double)s.n_bytes);
  printf("tokens scored: %zu (window %lld, stride %lld)\n", s.n_scored, window, stride);
  printf("speed:         %.1f tok/s (%zu tokens evaluated in %.2f s)\n",
         seconds > 0 ? (double)s.n_evaluated / seconds : 0.0, s.n_evaluated, seconds);

  gpt2_context_free(ctx);
  gpt2_model_free(model);
  free(tokens);
  free(text);
  return 0;
}
