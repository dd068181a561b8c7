/* gpt2-generate: continue a prompt, streaming the text as it is sampled.
   Shows the whole generation loop of the API: load, tokenize, evaluate the
   prompt as one batch, then sample / detokenize / evaluate one token at a
   time, with stop strings held back until they can be ruled out. */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-generate -m MODEL [-p PROMPT | -f FILE] [options]\n"
    "Continue a prompt with GPT-2 and stream the new text to stdout.\n"
    "\n"
    "  -m MODEL             model: a Hugging Face GPT-2 directory or a .gguf file\n"
    "  -p PROMPT            the prompt text\n"
    "  -f FILE              read the prompt from FILE (with neither -p nor -f:\n"
    "                       from stdin). Taken byte for byte, trailing newline\n"
    "                       included; \"<|endoftext|>\" is the end-of-text token,\n"
    "                       so -p '<|endoftext|>' samples unconditionally\n"
    "  -n N                 generate at most N tokens (default 128)\n"
    "  --temp T             temperature, >= 0; 0 = greedy (default 1.0)\n"
    "  --top-k K            keep the K most probable tokens; 0 = off (default 50)\n"
    "  --top-p P            nucleus: smallest set with probability >= P; 1 = off\n"
    "                       (default 1.0)\n"
    "  --min-p P            drop tokens less probable than P times the best\n"
    "                       one; 0 = off (default 0)\n"
    "  --repeat-penalty R   penalise tokens already in the context (prompt\n"
    "                       included), as Hugging Face's repetition_penalty;\n"
    "                       1 = off (default 1.0)\n"
    "  --seed S             sampler seed, 0 to 2^64-1 (default: from the clock,\n"
    "                       printed at the end so a run can be repeated)\n"
    "  --threads N          threads for evaluation; 0 = all cores (default 0)\n"
    "  --stop STR           stop when the text contains STR (not printed);\n"
    "                       may be given several times\n"
    "  -h, --help           print this help\n"
    "\n"
    "Generation stops at the end-of-text token, after N tokens, at a stop\n"
    "string, or when the context is full. The text is written to stdout as\n"
    "soon as it forms complete UTF-8; timings go to stderr. See\n"
    "docs/sampling.md for the order in which the sampling options apply.\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file, empty prompt, ...), 2 bad\n"
    "command line.\n";

typedef struct options {
  const char *model_path;
  const char *prompt;      /* -p */
  const char *prompt_file; /* -f */
  long long n_predict;
  gpt2_sample_params sample;
  uint64_t seed;
  int seed_given;
  uint32_t n_threads;
  const char **stops;
  size_t n_stops;
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
    } else if (!strcmp(flag, "-n")) {
      o->n_predict = cli_parse_integer(flag, cli_value(argc, argv, &i), 0, INT32_MAX);
    } else if (!strcmp(flag, "--temp")) {
      o->sample.temperature = cli_parse_float(flag, cli_value(argc, argv, &i), 0.0f, FLT_MAX);
    } else if (!strcmp(flag, "--top-k")) {
      o->sample.top_k = (int32_t)cli_parse_integer(flag, cli_value(argc, argv, &i), 0, INT32_MAX);
    } else if (!strcmp(flag, "--top-p")) {
      o->sample.top_p = cli_parse_float(flag, cli_value(argc, argv, &i), 0.0f, 1.0f);
    } else if (!strcmp(flag, "--min-p")) {
      o->sample.min_p = cli_parse_float(flag, cli_value(argc, argv, &i), 0.0f, 1.0f);
    } else if (!strcmp(flag, "--repeat-penalty")) {
      o->sample.repetition_penalty =
          cli_parse_float(flag, cli_value(argc, argv, &i), 0.0f, FLT_MAX);
      if (o->sample.repetition_penalty == 0.0f)
        cli_usage_error("%s: must be greater than 0", flag);
    } else if (!strcmp(flag, "--seed")) {
      o->seed = cli_parse_u64(flag, cli_value(argc, argv, &i));
      o->seed_given = 1;
    } else if (!strcmp(flag, "--threads")) {
      o->n_threads = (uint32_t)cli_parse_integer(flag, cli_value(argc, argv, &i), 0, 4096);
    } else if (!strcmp(flag, "--stop")) {
      const char *stop = cli_value(argc, argv, &i);
      if (!*stop) cli_usage_error("--stop: the stop string is empty");
      o->stops[o->n_stops++] = stop; /* stops has room for argc entries */
    } else {
      cli_usage_error("unknown option '%s'", flag);
    }
  }
  if (!o->model_path) cli_usage_error("no model: give -m MODEL");
  if (o->prompt && o->prompt_file) cli_usage_error("give -p or -f, not both");
}

/* Holds back output that could be the start of a stop string, and finds
   the first complete one. Text before a stop string is printed; the stop
   string and everything after it is not. */
typedef struct stop_filter {
  const char **stops;
  size_t n_stops;
  char *pending;
  size_t n_pending, cap;
  int stopped;
} stop_filter;

static void emit(const char *text, size_t n) {
  if (n && fwrite(text, 1, n, stdout) != n) cli_fail("cannot write the output");
  fflush(stdout);
}

/* Longest suffix of text[0, n) that is a proper prefix of `stop`. */
static size_t partial_match(const char *text, size_t n, const char *stop) {
  size_t stop_len = strlen(stop);
  size_t longest = n < stop_len - 1 ? n : stop_len - 1;
  for (size_t k = longest; k > 0; k--)
    if (memcmp(text + n - k, stop, k) == 0) return k;
  return 0;
}

static void filter_push(stop_filter *f, const char *text, size_t n) {
  if (f->stopped) return;
  if (f->n_stops == 0) {
    emit(text, n);
    return;
  }
  if (f->n_pending + n > f->cap) {
    size_t cap = (f->n_pending + n) * 2;
    char *grown = realloc(f->pending, cap);
    if (!grown) cli_fail("out of memory");
    f->pending = grown;
    f->cap = cap;
  }
  memcpy(f->pending + f->n_pending, text, n);
  f->n_pending += n;

  size_t first_stop = f->n_pending;
  for (size_t s = 0; s < f->n_stops; s++) {
    const char *found = memmem(f->pending, f->n_pending, f->stops[s], strlen(f->stops[s]));
    if (found && (size_t)(found - f->pending) < first_stop)
      first_stop = (size_t)(found - f->pending);
  }
  if (first_stop < f->n_pending) {
    emit(f->pending, first_stop);
    f->stopped = 1;
    return;
  }
  size_t hold = 0;
  for (size_t s = 0; s < f->n_stops; s++) {
    size_t k = partial_match(f->pending, f->n_pending, f->stops[s]);
    hold = k > hold ? k : hold;
  }
  emit(f->pending, f->n_pending - hold);
  memmove(f->pending, f->pending + f->n_pending - hold, hold);
  f->n_pending = hold;
}

/* At the end, a held-back partial stop string is just text. */
static void filter_finish(stop_filter *f) {
  if (!f->stopped) emit(f->pending, f->n_pending);
  f->n_pending = 0;
}

/* Streams a token's text: only complete UTF-8 comes out of the detokenizer. */
static void push_token(gpt2_detok *detok, gpt2_token token, stop_filter *f) {
  char text[256];
  size_t n = 0;
  int status = gpt2_detok_push(detok, token, text, sizeof text, &n);
  if (status == GPT2_E_BUFFER) { /* a token longer than 256 bytes */
    char *big = malloc(n);
    if (!big) cli_fail("out of memory");
    status = gpt2_detok_push(detok, token, big, n, &n);
    if (status != GPT2_OK) cli_fail_status("cannot detokenize", status);
    filter_push(f, big, n);
    free(big);
    return;
  }
  if (status != GPT2_OK) cli_fail_status("cannot detokenize", status);
  filter_push(f, text, n);
}

static void flush_detok(gpt2_detok *detok, stop_filter *f) {
  char text[64]; /* at most 3 bytes of an incomplete sequence are held */
  size_t n = 0;
  int status = gpt2_detok_flush(detok, text, sizeof text, &n);
  if (status != GPT2_OK) cli_fail_status("cannot detokenize", status);
  filter_push(f, text, n);
}

static uint64_t clock_seed(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (uint64_t)now.tv_sec * 1000000007u ^ (uint64_t)now.tv_nsec ^
         ((uint64_t)getpid() << 40);
}

typedef struct timings {
  double load, prompt, decode, sampling; /* seconds */
  size_t n_prompt, n_generated, n_decoded;
  const char *stop_reason;
} timings;

static void print_summary(const timings *t, const gpt2_model *model, uint64_t seed) {
  double sample_ms = t->n_generated ? t->sampling * 1e3 / (double)t->n_generated : 0.0;
  double decode_ms = t->n_decoded ? t->decode * 1e3 / (double)t->n_decoded : 0.0;
  fprintf(stderr, "\n");
  fprintf(stderr, "load:      %9.1f ms (kernels: %s)\n", t->load * 1e3, gpt2_model_isa(model));
  fprintf(stderr, "prompt:    %9zu tokens %9.1f ms %9.1f tok/s\n", t->n_prompt,
          t->prompt * 1e3, t->prompt > 0 ? (double)t->n_prompt / t->prompt : 0.0);
  fprintf(stderr, "generated: %9zu tokens %9.1f ms %9.1f tok/s (%s)\n", t->n_generated,
          (t->decode + t->sampling) * 1e3,
          t->decode + t->sampling > 0 ? (double)t->n_generated / (t->decode + t->sampling) : 0.0,
          t->stop_reason);
  fprintf(stderr, "sampling:  %9.3f ms/token", sample_ms);
  if (decode_ms > 0)
    fprintf(stderr, " (%.2g%% of a %.2f ms decode step)", 100.0 * sample_ms / decode_ms,
            decode_ms);
  fprintf(stderr, "\nseed:      %llu\n", (unsigned long long)seed);
}

int main(int argc, char **argv) {
  cli_program = "gpt2-generate";
  const char **stops = calloc((size_t)argc, sizeof *stops);
  if (!stops) cli_fail("out of memory");
  gpt2_sample_params sample_defaults = GPT2_SAMPLE_PARAMS_INIT;
  options o = {0};
  o.n_predict = 128;
  o.sample = sample_defaults;
  o.stops = stops;
  parse_options(argc, argv, &o);
  if (!o.seed_given) o.seed = clock_seed();

  size_t prompt_len;
  char *prompt_text;
  if (o.prompt) {
    prompt_len = strlen(o.prompt);
    prompt_text = malloc(prompt_len + 1);
    if (!prompt_text) cli_fail("out of memory");
    memcpy(prompt_text, o.prompt, prompt_len + 1);
  } else {
    prompt_text = cli_read_all(o.prompt_file, &prompt_len);
  }
  if (prompt_len == 0)
    cli_fail("the prompt is empty; give some text, or -p '<|endoftext|>' to "
             "sample unconditionally");

  timings t = {0};
  t.stop_reason = "token limit";
  double start = cli_seconds();
  gpt2_model *model = cli_load_model(o.model_path);
  t.load = cli_seconds() - start;

  gpt2_context_params cparams = GPT2_CONTEXT_PARAMS_INIT;
  cparams.n_threads = o.n_threads;
  cparams.seed = o.seed;
  gpt2_context *ctx = NULL;
  int status = gpt2_context_new(model, &cparams, &ctx);
  if (status != GPT2_OK) cli_fail_status("cannot create a context", status);

  gpt2_token *prompt = cli_tokenize(model, prompt_text, prompt_len, &t.n_prompt);
  if (t.n_prompt > gpt2_n_ctx(ctx))
    cli_fail("the prompt is %zu tokens; the context holds %zu", t.n_prompt,
             gpt2_n_ctx(ctx));

  start = cli_seconds();
  status = gpt2_eval(ctx, prompt, t.n_prompt);
  if (status != GPT2_OK) cli_fail_status("cannot evaluate the prompt", status);
  t.prompt = cli_seconds() - start;

  gpt2_detok *detok = NULL;
  status = gpt2_detok_new(model, &detok);
  if (status != GPT2_OK) cli_fail_status("cannot create a detokenizer", status);
  stop_filter filter = {o.stops, o.n_stops, NULL, 0, 0, 0};
  gpt2_token eot = gpt2_token_eot(model);

  for (long long i = 0; i < o.n_predict; i++) {
    gpt2_token token;
    start = cli_seconds();
    status = gpt2_sample(ctx, &o.sample, &token);
    t.sampling += cli_seconds() - start;
    if (status != GPT2_OK) cli_fail_status("cannot sample", status);
    t.n_generated++;
    if (token == eot) {
      t.stop_reason = "end of text";
      break;
    }
    push_token(detok, token, &filter);
    if (filter.stopped) {
      t.stop_reason = "stop string";
      break;
    }
    if (i + 1 == o.n_predict) break; /* no need to evaluate the last one */
    if (gpt2_pos(ctx) == gpt2_n_ctx(ctx)) {
      t.stop_reason = "context full";
      break;
    }
    start = cli_seconds();
    status = gpt2_eval(ctx, &token, 1);
    t.decode += cli_seconds() - start;
    if (status != GPT2_OK) cli_fail_status("cannot evaluate", status);
    t.n_decoded++;
  }
  flush_detok(detok, &filter);
  filter_finish(&filter);
  print_summary(&t, model, o.seed);

  free(filter.pending);
  gpt2_detok_free(detok);
  free(prompt);
  free(prompt_text);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  free(stops);
  return 0;
}
