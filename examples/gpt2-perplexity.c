/* gpt2-perplexity: how well a model predicts a text, with a sliding window
   as in the Hugging Face perplexity guide. Shows gpt2_score: per-token
   log-probabilities of a whole text in one call, the window sliding inside
   the library. */
#include <math.h>
#include <stdint.h>
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
    "  -f FILE        the text, taken byte for byte (\"<|endoftext|>\" in it is\n"
    "                 text)\n"
    "  --special      \"<|endoftext|>\" in the text is the end-of-text token\n"
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

typedef struct score {
  double nll;      /* nats, summed */
  size_t n_scored; /* tokens */
  size_t n_bytes;  /* bytes of the scored tokens */
} score;

/* Scores tokens[first, end), each conditioned on the tokens before it from
   `begin` on, with the library's sliding window (gpt2_score), and adds
   their negative log-likelihood and bytes to *s. */
static void score_span(const gpt2_model *model, const gpt2_token *tokens, size_t begin, size_t first,
                       size_t end, const gpt2_score_params *base, score *s) {
  size_t n = end - first;
  double *logprobs = malloc(n * sizeof *logprobs);
  if (!logprobs) cli_fail("out of memory for %zu scores", n);
  gpt2_score_params params = *base;
  params.prefix = tokens + begin;
  params.n_prefix = (uint32_t)(first - begin);
  int status = gpt2_score(model, tokens + first, n, &params, logprobs);
  if (status != GPT2_OK) cli_fail_status("cannot score the text", status);
  for (size_t t = 0; t < n; t++) {
    size_t n_bytes = 0;
    gpt2_token_bytes(model, tokens[first + t], &n_bytes);
    s->nll -= logprobs[t];
    s->n_bytes += n_bytes;
  }
  s->n_scored += n;
  free(logprobs);
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
    } else if (cli_parse_special(flag)) {
      /* parsed into cli_tokenize_flags */
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

  gpt2_score_params sparams = GPT2_SCORE_PARAMS_INIT;
  sparams.window = (uint32_t)window;
  sparams.n_threads = (uint32_t)n_threads;
  score s = {0, 0, 0};
  double start = cli_seconds();
  if (stride < window) {
    /* One call: the first token is the prefix (no context, not scored). */
    sparams.stride = (uint32_t)stride;
    score_span(model, tokens, 0, 1, n_tokens, &sparams, &s);
  } else {
    /* Disjoint windows: each one's first token is context only. */
    for (size_t begin = 0; begin + 1 < n_tokens; begin += (size_t)window) {
      size_t end = begin + (size_t)window < n_tokens ? begin + (size_t)window : n_tokens;
      score_span(model, tokens, begin, begin + 1, end, &sparams, &s);
    }
  }
  double seconds = cli_seconds() - start;

  double mean_nll = s.nll / (double)s.n_scored;
  printf("perplexity:    %.4f\n", exp(mean_nll));
  printf("bits per byte: %.4f\n", s.nll / log(2.0) / (double)s.n_bytes);
  printf("tokens scored: %zu (window %lld, stride %lld)\n", s.n_scored, window, stride);
  printf("speed:         %.1f tok/s (%zu tokens scored in %.2f s)\n",
         seconds > 0 ? (double)s.n_scored / seconds : 0.0, s.n_scored, seconds);

  gpt2_model_free(model);
  free(tokens);
  free(text);
  return 0;
}
