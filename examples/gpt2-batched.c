/* gpt2-batched: many completions of one prompt, evaluated together.
   The prompt is evaluated once; gpt2_context_copy forks its context into N
   sequences, each with its own sampler seed, and every step appends one
   token to each unfinished sequence in a single gpt2_eval_batch, which
   reads the weights once for all of them. (llama.cpp's `batched` example
   does the same job.) */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-batched -m MODEL [-p PROMPT | -f FILE] [options]\n"
    "Sample several completions of one prompt, all advanced in one batch per\n"
    "step, and print them when every one is done.\n"
    "\n"
    "  -m MODEL             model: a Hugging Face GPT-2 directory or a .gguf file\n"
    "  -p PROMPT            the prompt text\n"
    "  -f FILE              read the prompt from FILE (with neither -p nor -f:\n"
    "                       from stdin); \"<|endoftext|>\" in it is text\n"
    "  --special            \"<|endoftext|>\" in the prompt is the end-of-text token\n"
    "  --np N               number of completions (default 4)\n"
    "  -n N                 generate at most N tokens each (default 32)\n"
    "  --temp T             temperature, >= 0; 0 = greedy (default 1.0)\n"
    "  --top-k K            keep the K most probable tokens; 0 = off (default 50)\n"
    "  --top-p P            nucleus sampling; 1 = off (default 1.0)\n"
    "  --min-p P            drop tokens less probable than P times the best\n"
    "                       one; 0 = off (default 0)\n"
    "  --repeat-penalty R   penalise tokens already in the sequence; 1 = off\n"
    "  --seed S             completion i (0..N-1) samples with seed S + i\n"
    "                       (default 0), as gpt2-generate --n does\n"
    "  --threads N          threads for evaluation; 0 = all cores (default 0)\n"
    "  -h, --help           print this help\n"
    "\n"
    "A completion ends at the end-of-text token, after N tokens or when its\n"
    "context is full. Each is printed after a line '--- completion i/N ---';\n"
    "the aggregate speed of all of them goes to stderr.\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file, empty prompt, ...), 2 bad\n"
    "command line.\n";

typedef struct options {
  const char *model_path, *prompt, *prompt_file;
  long long n_sequences, n_predict;
  gpt2_sample_params sample;
  uint64_t seed;
  uint32_t n_threads;
} options;

static void parse_options(int argc, char **argv, options *o) {
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
      fputs(usage, stdout);
      exit(0);
    } else if (!strcmp(flag, "-m")) {
      o->model_path = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "-p")) {
      o->prompt = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "-f")) {
      o->prompt_file = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "--np")) {
      o->n_sequences = cli_parse_integer(flag, cli_value(argc, argv, &i), 1, 1024);
    } else if (!strcmp(flag, "-n")) {
      o->n_predict = cli_parse_integer(flag, cli_value(argc, argv, &i), 0, INT32_MAX);
    } else if (cli_parse_special(flag)) {
      /* parsed into cli_tokenize_flags */
    } else if (cli_parse_sampling(flag, argc, argv, &i, &o->sample)) {
      /* parsed into o->sample */
    } else if (!strcmp(flag, "--seed")) {
      o->seed = cli_parse_u64(flag, cli_value(argc, argv, &i));
    } else if (!strcmp(flag, "--threads")) {
      o->n_threads = (uint32_t)cli_parse_integer(flag, cli_value(argc, argv, &i), 0, 4096);
    } else {
      cli_usage_error("unknown option '%s'", flag);
    }
  }
  if (!o->model_path) cli_usage_error("no model: give -m MODEL");
  if (o->prompt && o->prompt_file) cli_usage_error("give -p or -f, not both");
}

/* One completion: its context, the tokens sampled so far, whether it ended. */
typedef struct sequence {
  gpt2_context *ctx;
  gpt2_token *tokens;
  size_t n_tokens;
  const char *end; /* why it ended; NULL while it runs */
} sequence;

static void print_completion(const gpt2_model *model, const sequence *seq, size_t i, size_t n) {
  size_t n_bytes = 0;
  int status = gpt2_detokenize(model, seq->tokens, seq->n_tokens, NULL, 0, &n_bytes);
  if (status != GPT2_OK && status != GPT2_E_BUFFER) cli_fail_status("cannot detokenize", status);
  char *text = malloc(n_bytes ? n_bytes : 1);
  if (!text) cli_fail("out of memory");
  status = gpt2_detokenize(model, seq->tokens, seq->n_tokens, text, n_bytes, &n_bytes);
  if (status != GPT2_OK) cli_fail_status("cannot detokenize", status);
  printf("--- completion %zu/%zu ---\n", i + 1, n);
  if (fwrite(text, 1, n_bytes, stdout) != n_bytes || putchar('\n') == EOF)
    cli_fail("cannot write the output");
  fprintf(stderr, "completion %zu: %zu tokens (%s)\n", i + 1, seq->n_tokens, seq->end);
  free(text);
}

int main(int argc, char **argv) {
  cli_program = "gpt2-batched";
  gpt2_sample_params sample_defaults = GPT2_SAMPLE_PARAMS_INIT;
  options o = {0};
  o.n_sequences = 4;
  o.n_predict = 32;
  o.sample = sample_defaults;
  parse_options(argc, argv, &o);

  size_t text_len;
  char *text = o.prompt ? NULL : cli_read_all(o.prompt_file, &text_len);
  const char *prompt_text = o.prompt ? o.prompt : text;
  if (o.prompt) text_len = strlen(o.prompt);
  if (text_len == 0) cli_fail("the prompt is empty");

  gpt2_model *model = cli_load_model(o.model_path);
  size_t n_prompt;
  gpt2_token *prompt = cli_tokenize(model, prompt_text, text_len, &n_prompt);

  /* The prompt's context: evaluated once, forked N times, and the first
     context of every batch (with no tokens of its own) so that the batches
     run on its threads. */
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_threads = o.n_threads;
  params.seed = o.seed;
  gpt2_context *root = NULL;
  int status = gpt2_context_new(model, &params, &root);
  if (status != GPT2_OK) cli_fail_status("cannot create a context", status);
  if (n_prompt > gpt2_n_ctx(root))
    cli_fail("the prompt is %zu tokens; the context holds %zu", n_prompt, gpt2_n_ctx(root));
  double start = cli_seconds();
  status = gpt2_eval(root, prompt, n_prompt);
  if (status != GPT2_OK) cli_fail_status("cannot evaluate the prompt", status);
  double prompt_seconds = cli_seconds() - start;

  size_t n = (size_t)o.n_sequences;
  sequence *seqs = calloc(n, sizeof *seqs);
  gpt2_context **ctxs = calloc(n + 1, sizeof *ctxs);
  gpt2_token *next = calloc(n + 1, sizeof *next);
  const gpt2_token **tokens = calloc(n + 1, sizeof *tokens);
  size_t *n_tokens = calloc(n + 1, sizeof *n_tokens);
  if (!seqs || !ctxs || !next || !tokens || !n_tokens) cli_fail("out of memory");
  /* The forks need no threads of their own: the batch runs on ctxs[0]'s. */
  params.n_threads = 1;
  ctxs[0] = root;
  for (size_t i = 0; i < n; i++) {
    params.seed = o.seed + i;
    status = gpt2_context_copy(root, &params, &seqs[i].ctx);
    if (status != GPT2_OK) cli_fail_status("cannot fork the prompt's context", status);
    seqs[i].tokens = malloc(((size_t)o.n_predict + 1) * sizeof *seqs[i].tokens);
    if (!seqs[i].tokens) cli_fail("out of memory");
    if (o.n_predict == 0) seqs[i].end = "token limit";
    ctxs[i + 1] = seqs[i].ctx;
    tokens[i + 1] = &next[i + 1];
  }

  gpt2_token eot = gpt2_token_eot(model);
  size_t n_generated = 0, n_steps = 0;
  start = cli_seconds();
  for (;;) {
    size_t n_running = 0;
    for (size_t i = 0; i < n; i++) {
      sequence *seq = &seqs[i];
      n_tokens[i + 1] = 0;
      if (seq->end) continue;
      gpt2_token token;
      status = gpt2_sample(seq->ctx, &o.sample, &token);
      if (status != GPT2_OK) cli_fail_status("cannot sample", status);
      n_generated++;
      if (token == eot) {
        seq->end = "end of text";
        continue;
      }
      seq->tokens[seq->n_tokens++] = token;
      if (seq->n_tokens == (size_t)o.n_predict) seq->end = "token limit";
      else if (gpt2_pos(seq->ctx) == gpt2_n_ctx(seq->ctx)) seq->end = "context full";
      if (seq->end) continue;
      next[i + 1] = token;
      n_tokens[i + 1] = 1;
      n_running++;
    }
    if (n_running == 0) break;
    status = gpt2_eval_batch(ctxs, tokens, n_tokens, n + 1);
    if (status != GPT2_OK) cli_fail_status("cannot evaluate the batch", status);
    n_steps++;
  }
  double seconds = cli_seconds() - start;

  for (size_t i = 0; i < n; i++) print_completion(model, &seqs[i], i, n);
  fprintf(stderr, "prompt:    %9zu tokens %9.1f ms, evaluated once\n", n_prompt,
          prompt_seconds * 1e3);
  fprintf(stderr, "generated: %9zu tokens %9.1f ms in %zu batches of up to %zu sequences\n",
          n_generated, seconds * 1e3, n_steps, n);
  fprintf(stderr, "speed:     %9.1f tok/s aggregate, %.1f tok/s per sequence (kernels: %s)\n",
          seconds > 0 ? (double)n_generated / seconds : 0.0,
          seconds > 0 ? (double)n_generated / seconds / (double)n : 0.0, gpt2_model_isa(model));

  for (size_t i = 0; i < n; i++) {
    gpt2_context_free(seqs[i].ctx);
    free(seqs[i].tokens);
  }
  free(n_tokens);
  free(tokens);
  free(next);
  free(ctxs);
  free(seqs);
  gpt2_context_free(root);
  free(prompt);
  free(text);
  gpt2_model_free(model);
  return 0;
}
