/* gpt2-generate: continue a prompt, streaming the text as it is sampled.
   Shows the whole generation loop of the API: load, tokenize, evaluate the
   prompt as one batch, then sample / detokenize / evaluate one token at a
   time, with stop strings held back until they can be ruled out.
   With --n or --beams, many sequences forked from the evaluated prompt
   (gpt2_context_copy) advance together, one gpt2_eval_batch per step; with
   --state-out / --state-in, the evaluated prompt is saved and reused
   (gpt2_state_save, gpt2_state_load). */
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
    "                       included; \"<|endoftext|>\" in it is text\n"
    "  --special            \"<|endoftext|>\" in the prompt is the end-of-text\n"
    "                       token: --special -p '<|endoftext|>' samples\n"
    "                       unconditionally\n"
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
    "  --n N                N completions of the prompt, each sampled with\n"
    "                       seed S + i (i = 0..N-1), advanced together in one\n"
    "                       batch per step; printed when all are done, each\n"
    "                       after a line '--- completion i/N ---'\n"
    "  --beams N            beam search with N beams instead of sampling\n"
    "                       (Hugging Face's num_beams; the sampling options do\n"
    "                       not apply): prints the best hypothesis. 1 = greedy\n"
    "  --length-penalty L   beam search: a finished hypothesis scores its sum of\n"
    "                       log-probabilities over its length to the power L\n"
    "                       (default 1.0)\n"
    "  --early-stopping E   beam search: true (stop once N hypotheses are\n"
    "                       finished), false (default: stop when no beam can\n"
    "                       beat them, estimated at the current length) or\n"
    "                       never (the exact bound)\n"
    "  --state-out FILE     save the evaluated prompt (its tokens and the\n"
    "                       context's state) to FILE: a prompt cache\n"
    "  --state-in FILE      start from a prompt cache: its tokens must begin\n"
    "                       the prompt, and only the tokens after them are\n"
    "                       evaluated\n"
    "  -h, --help           print this help\n"
    "\n"
    "Generation stops at the end-of-text token, after N tokens, at a stop\n"
    "string, or when the context is full. The text is written to stdout as\n"
    "soon as it forms complete UTF-8 (with --n and --beams, at the end);\n"
    "timings go to stderr. See docs/serving.md for --n, --beams and the\n"
    "prompt cache, and\n"
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
  long long n_sequences; /* --n; 0: one sequence, the plain loop */
  long long n_beams;     /* --beams; 0: sampling */
  double length_penalty;
  int early_stopping;    /* EARLY_STOP_* */
  int beam_flag_given;   /* --length-penalty or --early-stopping */
  const char *state_out, *state_in;
} options;

/* Hugging Face's early_stopping: True, False, "never". */
enum { EARLY_STOP_FALSE, EARLY_STOP_TRUE, EARLY_STOP_NEVER };

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
    } else if (cli_parse_sampling(flag, argc, argv, &i, &o->sample)) {
      /* parsed into o->sample */
    } else if (cli_parse_special(flag)) {
      /* parsed into cli_tokenize_flags */
    } else if (!strcmp(flag, "--seed")) {
      o->seed = cli_parse_u64(flag, cli_value(argc, argv, &i));
      o->seed_given = 1;
    } else if (!strcmp(flag, "--threads")) {
      o->n_threads = (uint32_t)cli_parse_integer(flag, cli_value(argc, argv, &i), 0, 4096);
    } else if (!strcmp(flag, "--stop")) {
      const char *stop = cli_value(argc, argv, &i);
      if (!*stop) cli_usage_error("--stop: the stop string is empty");
      o->stops[o->n_stops++] = stop; /* stops has room for argc entries */
    } else if (!strcmp(flag, "--n")) {
      o->n_sequences = cli_parse_integer(flag, cli_value(argc, argv, &i), 1, 1024);
    } else if (!strcmp(flag, "--beams")) {
      o->n_beams = cli_parse_integer(flag, cli_value(argc, argv, &i), 1, 256);
    } else if (!strcmp(flag, "--length-penalty")) {
      o->length_penalty = cli_parse_float(flag, cli_value(argc, argv, &i), -FLT_MAX, FLT_MAX);
      o->beam_flag_given = 1;
    } else if (!strcmp(flag, "--early-stopping")) {
      const char *value = cli_value(argc, argv, &i);
      if (!strcmp(value, "true")) o->early_stopping = EARLY_STOP_TRUE;
      else if (!strcmp(value, "false")) o->early_stopping = EARLY_STOP_FALSE;
      else if (!strcmp(value, "never")) o->early_stopping = EARLY_STOP_NEVER;
      else cli_usage_error("%s: '%s' is not true, false or never", flag, value);
      o->beam_flag_given = 1;
    } else if (!strcmp(flag, "--state-out")) {
      o->state_out = cli_value(argc, argv, &i);
    } else if (!strcmp(flag, "--state-in")) {
      o->state_in = cli_value(argc, argv, &i);
    } else {
      cli_usage_error("unknown option '%s'", flag);
    }
  }
  if (!o->model_path) cli_usage_error("no model: give -m MODEL");
  if (o->prompt && o->prompt_file) cli_usage_error("give -p or -f, not both");
  if (o->n_sequences && o->n_beams) cli_usage_error("give --n or --beams, not both");
  if (o->beam_flag_given && !o->n_beams)
    cli_usage_error("--length-penalty and --early-stopping need --beams");
  if (o->n_beams && o->n_stops) cli_usage_error("--stop does not apply to --beams");
}

/* A growing byte buffer: a completion's text until every one is done. */
typedef struct text_buffer {
  char *data;
  size_t n, cap;
} text_buffer;

static void buffer_append(text_buffer *b, const char *text, size_t n) {
  if (n == 0) return;
  if (b->n + n > b->cap) {
    size_t cap = (b->n + n) * 2;
    char *grown = realloc(b->data, cap);
    if (!grown) cli_fail("out of memory");
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->n, text, n);
  b->n += n;
}

static void write_stdout(const char *text, size_t n) {
  if (n && fwrite(text, 1, n, stdout) != n) cli_fail("cannot write the output");
  fflush(stdout);
}

/* Holds back output that could be the start of a stop string, and finds
   the first complete one. Text before a stop string goes out (to stdout,
   or to `sink` if set); the stop string and everything after it does not. */
typedef struct stop_filter {
  const char **stops;
  size_t n_stops;
  text_buffer pending;
  text_buffer *sink;
  int stopped;
} stop_filter;

static void emit(stop_filter *f, const char *text, size_t n) {
  if (f->sink) buffer_append(f->sink, text, n);
  else write_stdout(text, n);
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
    emit(f, text, n);
    return;
  }
  text_buffer *p = &f->pending;
  buffer_append(p, text, n);

  size_t first_stop = p->n;
  for (size_t s = 0; s < f->n_stops; s++) {
    const char *found = cli_memmem(p->data, p->n, f->stops[s], strlen(f->stops[s]));
    if (found && (size_t)(found - p->data) < first_stop)
      first_stop = (size_t)(found - p->data);
  }
  if (first_stop < p->n) {
    emit(f, p->data, first_stop);
    f->stopped = 1;
    return;
  }
  size_t hold = 0;
  for (size_t s = 0; s < f->n_stops; s++) {
    size_t k = partial_match(p->data, p->n, f->stops[s]);
    hold = k > hold ? k : hold;
  }
  emit(f, p->data, p->n - hold);
  if (hold) memmove(p->data, p->data + p->n - hold, hold);
  p->n = hold;
}

/* At the end, a held-back partial stop string is just text. */
static void filter_finish(stop_filter *f) {
  if (!f->stopped) emit(f, f->pending.data, f->pending.n);
  f->pending.n = 0;
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
  size_t n_prompt, n_cached, n_generated, n_decoded, n_sequences;
  const char *stop_reason;
} timings;

static void print_summary(const timings *t, const gpt2_model *model, uint64_t seed) {
  double sample_ms = t->n_generated ? t->sampling * 1e3 / (double)t->n_generated : 0.0;
  double decode_ms = t->n_decoded ? t->decode * 1e3 / (double)t->n_decoded : 0.0;
  size_t n_evaluated = t->n_prompt - t->n_cached;
  fprintf(stderr, "\n");
  fprintf(stderr, "load:      %9.1f ms (kernels: %s)\n", t->load * 1e3, gpt2_model_isa(model));
  if (t->n_cached)
    fprintf(stderr, "cached:    %9zu tokens from the saved state\n", t->n_cached);
  fprintf(stderr, "prompt:    %9zu tokens %9.1f ms %9.1f tok/s\n", n_evaluated,
          t->prompt * 1e3, t->prompt > 0 ? (double)n_evaluated / t->prompt : 0.0);
  fprintf(stderr, "generated: %9zu tokens %9.1f ms %9.1f tok/s (%s)\n", t->n_generated,
          (t->decode + t->sampling) * 1e3,
          t->decode + t->sampling > 0 ? (double)t->n_generated / (t->decode + t->sampling) : 0.0,
          t->stop_reason);
  if (t->n_sequences > 1)
    fprintf(stderr, "sequences: %9zu evaluated together, one batch per step "
            "(tok/s above: all of them)\n", t->n_sequences);
  fprintf(stderr, "sampling:  %9.3f ms/token", sample_ms);
  if (decode_ms > 0)
    fprintf(stderr, " (%.2g%% of a %.2f ms decode step)", 100.0 * sample_ms / decode_ms,
            decode_ms);
  fprintf(stderr, "\nseed:      %llu\n", (unsigned long long)seed);
}

/* ---- prompt cache (--state-out, --state-in) --------------------------------
   A file of this program's own: the prompt's tokens, so that a later prompt
   can be checked to extend them, then the context's state as
   gpt2_state_save wrote it (which checks the model on load). Host byte
   order:  "GPT2PRC1" | u64 n_tokens | i32 tokens[n_tokens] | u64 n_state |
   state bytes. */
static const char cache_magic[8] = {'G', 'P', 'T', '2', 'P', 'R', 'C', '1'};

static void save_prompt_cache(const char *path, const gpt2_context *ctx,
                              const gpt2_token *tokens, size_t n_tokens) {
  size_t n_state = 0;
  int status = gpt2_state_save(ctx, NULL, 0, &n_state);
  if (status != GPT2_OK && status != GPT2_E_BUFFER)
    cli_fail_status("cannot save the state", status);
  unsigned char *state = malloc(n_state ? n_state : 1);
  if (!state) cli_fail("out of memory for a state of %zu bytes", n_state);
  status = gpt2_state_save(ctx, state, n_state, &n_state);
  if (status != GPT2_OK) cli_fail_status("cannot save the state", status);

  FILE *file = fopen(path, "wb");
  if (!file) cli_fail("cannot create '%s': %s", path, strerror(errno));
  uint64_t n_tokens64 = n_tokens, n_state64 = n_state;
  int written = fwrite(cache_magic, sizeof cache_magic, 1, file) == 1 &&
                fwrite(&n_tokens64, sizeof n_tokens64, 1, file) == 1 &&
                fwrite(tokens, sizeof *tokens, n_tokens, file) == n_tokens &&
                fwrite(&n_state64, sizeof n_state64, 1, file) == 1 &&
                fwrite(state, 1, n_state, file) == n_state;
  if (fclose(file) != 0 || !written) cli_fail("cannot write '%s': %s", path, strerror(errno));
  free(state);
}

/* Loads the cache at `path` into ctx (fresh) if its tokens begin
   prompt[0, n_prompt); returns their number. Anything else fails. */
static size_t load_prompt_cache(const char *path, gpt2_context *ctx,
                                const gpt2_token *prompt, size_t n_prompt) {
  size_t size;
  char *data = cli_read_all(path, &size);
  const size_t head = sizeof cache_magic + sizeof(uint64_t);
  uint64_t n_tokens, n_state;
  if (size < head || memcmp(data, cache_magic, sizeof cache_magic) != 0)
    cli_fail("'%s' is not a prompt cache of gpt2-generate --state-out", path);
  memcpy(&n_tokens, data + sizeof cache_magic, sizeof n_tokens);
  if (n_tokens > (size - head) / sizeof(gpt2_token) ||
      size - head - n_tokens * sizeof(gpt2_token) < sizeof n_state)
    cli_fail("'%s' is cut short (%zu bytes)", path, size);
  const char *tokens = data + head;
  const char *rest = tokens + n_tokens * sizeof(gpt2_token);
  memcpy(&n_state, rest, sizeof n_state);
  if (n_state != size - (size_t)(rest - data) - sizeof n_state)
    cli_fail("'%s': the state is %llu bytes, the file holds %zu after the tokens", path,
             (unsigned long long)n_state, size - (size_t)(rest - data) - sizeof n_state);

  /* The tokens may sit unaligned in the file: compare them one by one. */
  for (size_t i = 0; i < n_tokens; i++) {
    gpt2_token saved;
    memcpy(&saved, tokens + i * sizeof saved, sizeof saved);
    if (i == n_prompt || saved != prompt[i])
      cli_fail("the state in '%s' holds a prompt of %llu tokens that does not begin "
               "this prompt (they differ at token %zu); save it again with --state-out",
               path, (unsigned long long)n_tokens, i);
  }
  int status = gpt2_state_load(ctx, rest + sizeof n_state, (size_t)n_state);
  if (status != GPT2_OK) {
    char what[512];
    snprintf(what, sizeof what, "cannot load the state in '%s'", path);
    cli_fail_status(what, status);
  }
  if (gpt2_pos(ctx) != n_tokens)
    cli_fail("'%s': the state holds %zu positions, the file lists %llu tokens", path,
             gpt2_pos(ctx), (unsigned long long)n_tokens);
  free(data);
  return (size_t)n_tokens;
}

/* ---- one sequence: the plain generation loop ------------------------------- */
static void generate_one(const gpt2_model *model, gpt2_context *ctx, const options *o,
                         timings *t) {
  gpt2_detok *detok = NULL;
  int status = gpt2_detok_new(model, &detok);
  if (status != GPT2_OK) cli_fail_status("cannot create a detokenizer", status);
  stop_filter filter = {o->stops, o->n_stops, {NULL, 0, 0}, NULL, 0};
  gpt2_token eot = gpt2_token_eot(model);

  for (long long i = 0; i < o->n_predict; i++) {
    gpt2_token token;
    double start = cli_seconds();
    status = gpt2_sample(ctx, &o->sample, &token);
    t->sampling += cli_seconds() - start;
    if (status != GPT2_OK) cli_fail_status("cannot sample", status);
    t->n_generated++;
    if (token == eot) {
      t->stop_reason = "end of text";
      break;
    }
    push_token(detok, token, &filter);
    if (filter.stopped) {
      t->stop_reason = "stop string";
      break;
    }
    if (i + 1 == o->n_predict) break; /* no need to evaluate the last one */
    if (gpt2_pos(ctx) == gpt2_n_ctx(ctx)) {
      t->stop_reason = "context full";
      break;
    }
    start = cli_seconds();
    status = gpt2_eval(ctx, &token, 1);
    t->decode += cli_seconds() - start;
    if (status != GPT2_OK) cli_fail_status("cannot evaluate", status);
    t->n_decoded++;
  }
  flush_detok(detok, &filter);
  filter_finish(&filter);
  free(filter.pending.data);
  gpt2_detok_free(detok);
}

/* ---- batches ---------------------------------------------------------------
   Many sequences forked from the prompt's context advance together: one
   gpt2_eval_batch per step reads the weights once for all of them. The
   prompt's context comes first in every batch with no tokens: the batch runs
   on the first context's threads, so the forks are made with one thread
   each and a fork costs no thread start. */
typedef struct batch {
  gpt2_context **ctxs; /* [0]: the prompt's context, sitting out */
  const gpt2_token **tokens;
  size_t *n_tokens;
  gpt2_token *next; /* the token each sequence appends */
  size_t n;         /* sequences, ctxs[1 .. n] */
} batch;

static void batch_init(batch *b, gpt2_context *root, size_t n) {
  b->ctxs = calloc(n + 1, sizeof *b->ctxs);
  b->tokens = calloc(n + 1, sizeof *b->tokens);
  b->n_tokens = calloc(n + 1, sizeof *b->n_tokens);
  b->next = calloc(n + 1, sizeof *b->next);
  if (!b->ctxs || !b->tokens || !b->n_tokens || !b->next) cli_fail("out of memory");
  b->ctxs[0] = root;
  b->n = n;
  for (size_t i = 0; i <= n; i++) b->tokens[i] = &b->next[i];
}

/* A fork of src with one thread; `seed` reseeds its sampler. */
static gpt2_context *fork_context(const gpt2_context *src, uint64_t seed) {
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_ctx = (uint32_t)gpt2_n_ctx(src);
  params.n_threads = 1;
  params.seed = seed;
  gpt2_context *copy = NULL;
  int status = gpt2_context_copy(src, &params, &copy);
  if (status != GPT2_OK) cli_fail_status("cannot fork the context", status);
  return copy;
}

/* Evaluates next[i] in ctxs[i] where n_tokens[i] is 1; returns the number of
   sequences that advanced. */
static size_t batch_step(batch *b, timings *t) {
  size_t n_active = 0;
  for (size_t i = 1; i <= b->n; i++) n_active += b->n_tokens[i];
  if (n_active == 0) return 0;
  double start = cli_seconds();
  int status = gpt2_eval_batch(b->ctxs, b->tokens, b->n_tokens, b->n + 1);
  t->decode += cli_seconds() - start;
  if (status != GPT2_OK) cli_fail_status("cannot evaluate the batch", status);
  t->n_decoded += n_active;
  return n_active;
}

static void batch_free(batch *b) {
  free(b->ctxs);
  free(b->tokens);
  free(b->n_tokens);
  free(b->next);
}

/* ---- --n: N sampled completions -------------------------------------------- */
typedef struct completion {
  gpt2_detok *detok;
  stop_filter filter;
  text_buffer text;
  size_t n_generated;
  const char *stop_reason; /* NULL while it runs */
} completion;

static void generate_many(const gpt2_model *model, gpt2_context *root, const options *o,
                          timings *t) {
  size_t n = (size_t)o->n_sequences;
  batch b;
  batch_init(&b, root, n);
  completion *runs = calloc(n, sizeof *runs);
  if (!runs) cli_fail("out of memory");
  for (size_t i = 0; i < n; i++) {
    b.ctxs[i + 1] = fork_context(root, o->seed + i);
    int status = gpt2_detok_new(model, &runs[i].detok);
    if (status != GPT2_OK) cli_fail_status("cannot create a detokenizer", status);
    runs[i].filter = (stop_filter){o->stops, o->n_stops, {NULL, 0, 0}, &runs[i].text, 0};
    if (o->n_predict == 0) runs[i].stop_reason = "token limit";
  }
  gpt2_token eot = gpt2_token_eot(model);

  do {
    for (size_t i = 0; i < n; i++) {
      completion *run = &runs[i];
      gpt2_context *ctx = b.ctxs[i + 1];
      b.n_tokens[i + 1] = 0;
      if (run->stop_reason) continue;
      gpt2_token token;
      double start = cli_seconds();
      int status = gpt2_sample(ctx, &o->sample, &token);
      t->sampling += cli_seconds() - start;
      if (status != GPT2_OK) cli_fail_status("cannot sample", status);
      run->n_generated++;
      t->n_generated++;
      if (token == eot) {
        run->stop_reason = "end of text";
        continue;
      }
      push_token(run->detok, token, &run->filter);
      if (run->filter.stopped) run->stop_reason = "stop string";
      else if (run->n_generated == (size_t)o->n_predict) run->stop_reason = "token limit";
      else if (gpt2_pos(ctx) == gpt2_n_ctx(ctx)) run->stop_reason = "context full";
      if (run->stop_reason) continue;
      b.next[i + 1] = token;
      b.n_tokens[i + 1] = 1;
    }
  } while (batch_step(&b, t) > 0);

  for (size_t i = 0; i < n; i++) {
    completion *run = &runs[i];
    flush_detok(run->detok, &run->filter);
    filter_finish(&run->filter);
    printf("--- completion %zu/%zu ---\n", i + 1, n);
    write_stdout(run->text.data, run->text.n);
    write_stdout("\n", 1);
    fprintf(stderr, "completion %zu: %zu tokens (%s)\n", i + 1, run->n_generated,
            run->stop_reason);
    free(run->filter.pending.data);
    free(run->text.data);
    gpt2_detok_free(run->detok);
    gpt2_context_free(b.ctxs[i + 1]);
  }
  t->stop_reason = "every completion ended";
  t->n_sequences = n;
  free(runs);
  batch_free(&b);
}

/* ---- --beams: beam search ---------------------------------------------------
   Hugging Face's (transformers' BeamSearchScorer, one prompt, no logits
   processors): each step scores every (beam, token) as the beam's sum of
   log-probabilities plus the token's, and keeps the best 2N candidates (ties:
   lower beam, then lower token id first). In that order, a candidate ending
   with <|endoftext|> among the first N becomes a finished hypothesis scored
   sum / length^length_penalty (length: generated tokens, the end included;
   the end is not printed), the others fill the N beams of the next step.
   At most N hypotheses are kept, the best. The search ends when
   early_stopping says no beam can beat them (see --help), or after -n steps
   (or a full context): then the open beams join the hypotheses, and the
   best one is printed. tests/reference/beam_ref.py is the float64 twin. */
typedef struct token_list {
  gpt2_token *ids;
  size_t n;
} token_list;

static token_list token_list_extended(const token_list *from, gpt2_token token) {
  token_list list = {malloc((from->n + 1) * sizeof *list.ids), from->n + 1};
  if (!list.ids) cli_fail("out of memory");
  if (from->n) memcpy(list.ids, from->ids, from->n * sizeof *list.ids);
  list.ids[from->n] = token;
  return list;
}

typedef struct candidate {
  double score;
  size_t beam;
  gpt2_token token;
} candidate;

typedef struct hypotheses {
  token_list *tokens;
  double *scores;
  size_t n, capacity;
  double worst;
  double length_penalty;
  int early_stopping;
  size_t max_new; /* steps the search may take */
} hypotheses;

static void hypotheses_add(hypotheses *h, token_list tokens, double sum_logprobs,
                           size_t length) {
  double score = sum_logprobs / pow((double)length, h->length_penalty);
  if (h->n == h->capacity && score <= h->worst) {
    free(tokens.ids);
    return;
  }
  h->tokens[h->n] = tokens;
  h->scores[h->n++] = score;
  if (h->n <= h->capacity) {
    h->worst = score < h->worst ? score : h->worst;
    return;
  }
  /* One too many: drop the worst (the first of equal ones), keep the order. */
  size_t worst = 0;
  for (size_t i = 1; i < h->n; i++)
    if (h->scores[i] < h->scores[worst]) worst = i;
  free(h->tokens[worst].ids);
  memmove(h->tokens + worst, h->tokens + worst + 1, (h->n - worst - 1) * sizeof *h->tokens);
  memmove(h->scores + worst, h->scores + worst + 1, (h->n - worst - 1) * sizeof *h->scores);
  h->n--;
  h->worst = h->scores[0];
  for (size_t i = 1; i < h->n; i++) h->worst = h->scores[i] < h->worst ? h->scores[i] : h->worst;
}

/* Whether no open beam can beat the kept hypotheses; `best` is the best
   candidate's sum of log-probabilities, `length` the tokens generated. */
static int hypotheses_done(const hypotheses *h, double best, size_t length) {
  if (h->n < h->capacity) return 0;
  if (h->early_stopping == EARLY_STOP_TRUE) return 1;
  size_t bound_length = length;
  if (h->early_stopping == EARLY_STOP_NEVER && h->length_penalty > 0) bound_length = h->max_new;
  return h->worst >= best / pow((double)bound_length, h->length_penalty);
}

/* Inserts c among the best `cap` of list[0, *n), sorted best first; an equal
   score goes after the ones already there (they came first). */
static void keep_best(candidate *list, size_t *n, size_t cap, candidate c) {
  if (*n == cap && !(c.score > list[cap - 1].score)) return;
  size_t at = *n < cap ? (*n)++ : cap - 1;
  while (at > 0 && list[at - 1].score < c.score) {
    list[at] = list[at - 1];
    at--;
  }
  list[at] = c;
}

static void beam_search(const gpt2_model *model, gpt2_context *root, const options *o,
                        timings *t) {
  size_t n_beams = (size_t)o->n_beams, n_vocab = (size_t)gpt2_n_vocab(model);
  if (2 * n_beams > n_vocab) cli_fail("--beams %zu: the vocabulary has only %zu tokens",
                                      n_beams, n_vocab);
  size_t room = gpt2_n_ctx(root) - gpt2_pos(root) + 1; /* sampled tokens that fit */
  size_t max_new = (size_t)o->n_predict < room ? (size_t)o->n_predict : room;
  gpt2_token eot = gpt2_token_eot(model);
  size_t n_candidates = 2 * n_beams;
  batch b;
  batch_init(&b, root, n_beams);
  token_list *beams = calloc(n_beams, sizeof *beams), *next_beams = calloc(n_beams, sizeof *beams);
  double *scores = calloc(n_beams, sizeof *scores), *next_scores = calloc(n_beams, sizeof *scores);
  size_t *sources = calloc(n_beams, sizeof *sources);
  gpt2_context **next_ctxs = calloc(n_beams, sizeof *next_ctxs);
  int *taken = calloc(n_beams, sizeof *taken);
  double *logprobs = malloc(n_vocab * sizeof *logprobs);
  candidate *candidates = malloc(n_candidates * sizeof *candidates);
  hypotheses h = {calloc(n_beams + 1, sizeof *h.tokens), calloc(n_beams + 1, sizeof *h.scores),
                  0, n_beams, 1e9, o->length_penalty, o->early_stopping, max_new};
  if (!beams || !next_beams || !scores || !next_scores || !sources || !next_ctxs || !taken ||
      !logprobs || !candidates || !h.tokens || !h.scores)
    cli_fail("out of memory");
  /* The first step expands one beam: at the start every beam would be the
     prompt (Hugging Face gives the copies a score of -1e9 for that). */
  b.ctxs[1] = fork_context(root, o->seed);
  size_t n_open = 1;
  b.n = n_open;
  int done = 0;
  t->stop_reason = "token limit";

  for (size_t step = 1; step <= max_new && !done; step++) {
    double start = cli_seconds();
    size_t n_kept = 0;
    for (size_t i = 0; i < n_open; i++) {
      const float *logits = gpt2_logits(b.ctxs[i + 1], -1);
      if (!logits) cli_fail("no logits to extend beam %zu", i);
      double max = logits[0], sum = 0.0;
      for (size_t v = 1; v < n_vocab; v++) max = logits[v] > max ? logits[v] : max;
      for (size_t v = 0; v < n_vocab; v++) sum += exp((double)logits[v] - max);
      double log_norm = max + log(sum);
      for (size_t v = 0; v < n_vocab; v++) logprobs[v] = (double)logits[v] - log_norm;
      for (size_t v = 0; v < n_vocab; v++)
        keep_best(candidates, &n_kept, n_candidates,
                  (candidate){scores[i] + logprobs[v], i, (gpt2_token)v});
    }

    size_t n_next = 0;
    for (size_t rank = 0; rank < n_kept && n_next < n_beams; rank++) {
      candidate c = candidates[rank];
      if (c.token == eot) {
        if (rank < n_beams) { /* the end is not part of the printed text */
          token_list copy = {malloc((beams[c.beam].n + 1) * sizeof *copy.ids), beams[c.beam].n};
          if (!copy.ids) cli_fail("out of memory");
          if (copy.n) memcpy(copy.ids, beams[c.beam].ids, copy.n * sizeof *copy.ids);
          hypotheses_add(&h, copy, c.score, step);
        }
        continue;
      }
      next_beams[n_next] = token_list_extended(&beams[c.beam], c.token);
      next_scores[n_next] = c.score;
      sources[n_next] = c.beam;
      b.next[n_next + 1] = c.token;
      n_next++;
    }
    done = hypotheses_done(&h, candidates[0].score, step);

    /* The next beams take over their source's context, or fork it when
       another next beam already did; sources left over are freed. */
    memset(taken, 0, n_beams * sizeof *taken);
    for (size_t j = 0; j < n_next; j++) {
      size_t s = sources[j];
      next_ctxs[j] = taken[s] ? fork_context(b.ctxs[s + 1], o->seed) : b.ctxs[s + 1];
      taken[s] = 1;
    }
    for (size_t i = 0; i < n_open; i++)
      if (!taken[i]) gpt2_context_free(b.ctxs[i + 1]);
    for (size_t i = 0; i < n_open; i++) free(beams[i].ids);
    for (size_t j = 0; j < n_next; j++) {
      b.ctxs[j + 1] = next_ctxs[j];
      beams[j] = next_beams[j];
      scores[j] = next_scores[j];
      b.n_tokens[j + 1] = 1;
    }
    n_open = b.n = n_next;
    t->sampling += cli_seconds() - start;
    t->n_generated += n_open;
    if (done) t->stop_reason = "no beam can beat the finished ones";
    else if (step < max_new) batch_step(&b, t);
    else if (max_new < (size_t)o->n_predict) t->stop_reason = "context full";
  }

  if (!done) /* the open beams join the finished ones */
    for (size_t i = 0; i < n_open; i++) {
      hypotheses_add(&h, beams[i], scores[i], beams[i].n);
      beams[i] = (token_list){NULL, 0};
    }
  size_t best = 0; /* the best score; of equal ones the last added */
  for (size_t i = 1; i < h.n; i++)
    if (h.scores[i] >= h.scores[best]) best = i;
  if (h.n) {
    size_t n_bytes = 0;
    int status = gpt2_detokenize(model, h.tokens[best].ids, h.tokens[best].n, NULL, 0, &n_bytes);
    if (status != GPT2_OK && status != GPT2_E_BUFFER) cli_fail_status("cannot detokenize", status);
    char *text = malloc(n_bytes ? n_bytes : 1);
    if (!text) cli_fail("out of memory");
    status = gpt2_detokenize(model, h.tokens[best].ids, h.tokens[best].n, text, n_bytes, &n_bytes);
    if (status != GPT2_OK) cli_fail_status("cannot detokenize", status);
    write_stdout(text, n_bytes);
    free(text);
    fprintf(stderr, "beams:     %9zu, best of %zu hypotheses: %zu tokens, score %.6f\n",
            n_beams, h.n, h.tokens[best].n, h.scores[best]);
  }
  t->n_sequences = n_beams;

  for (size_t i = 0; i < n_open; i++) {
    gpt2_context_free(b.ctxs[i + 1]);
    free(beams[i].ids);
  }
  for (size_t i = 0; i < h.n; i++) free(h.tokens[i].ids);
  free(h.tokens);
  free(h.scores);
  free(candidates);
  free(logprobs);
  free(taken);
  free(next_ctxs);
  free(sources);
  free(next_scores);
  free(scores);
  free(next_beams);
  free(beams);
  batch_free(&b);
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
  o.length_penalty = 1.0;
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
    cli_fail("the prompt is empty; give some text, or --special -p "
             "'<|endoftext|>' to sample unconditionally");

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

  if (o.state_in) {
    gpt2_context *loaded = ctx;
    t.n_cached = load_prompt_cache(o.state_in, loaded, prompt, t.n_prompt);
    /* The state brought the saving run's sampler; a copy reseeds it. */
    status = gpt2_context_copy(loaded, &cparams, &ctx);
    if (status != GPT2_OK) cli_fail_status("cannot copy the loaded context", status);
    gpt2_context_free(loaded);
  }
  start = cli_seconds();
  if (t.n_cached < t.n_prompt) {
    status = gpt2_eval(ctx, prompt + t.n_cached, t.n_prompt - t.n_cached);
    if (status != GPT2_OK) cli_fail_status("cannot evaluate the prompt", status);
  }
  t.prompt = cli_seconds() - start;
  if (o.state_out) save_prompt_cache(o.state_out, ctx, prompt, t.n_prompt);

  if (o.n_beams) beam_search(model, ctx, &o, &t);
  else if (o.n_sequences) generate_many(model, ctx, &o, &t);
  else generate_one(model, ctx, &o, &t);
  print_summary(&t, model, o.seed);

  free(prompt);
  free(prompt_text);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  free(stops);
  return 0;
}
