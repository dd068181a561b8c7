/* Log-probabilities, scoring and the sampler's reported log-probability:
   the log-softmax against a long double reference on hostile logits,
   gpt2_logprob / gpt2_top_logprobs / gpt2_sample_logprob / gpt2_score on a
   generated model against sums and windows computed here from gpt2_logits
   (the float64 reference comparison is in test_golden), and every error. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/context.h"
#include "sample/logprob.h"

/* The definition, in long double without any shift: exact enough for
   logits whose exponentials fit a long double (|logit| < 11000). */
static long double reference_lse(const float *logits, size_t n) {
  long double sum = 0.0L;
  for (size_t i = 0; i < n; i++) sum += expl((long double)logits[i]);
  return logl(sum);
}

static void test_log_sum_exp(void) {
  enum { N = 5000 };
  static float logits[N];
  /* Scales from tiny to ones where exp() of a float overflows (> 88.7) or
     every exp() of a double would underflow (< -745). */
  const float scales[4] = {0.01f, 3.0f, 200.0f, 3000.0f};
  const float offsets[4] = {0.0f, 100.0f, -900.0f, 5000.0f};
  double worst = 0.0;
  for (int s = 0; s < 4; s++) {
    uint64_t state = 12345u + (uint64_t)s;
    for (size_t i = 0; i < N; i++) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      logits[i] = offsets[s] + scales[s] * ((float)(state >> 40) / 16777216.0f - 0.5f);
    }
    double got = g2_log_sum_exp(logits, N);
    double error = fabs(got - (double)reference_lse(logits, N));
    worst = error > worst ? error : worst;
  }
  /* Measured: <= 1.1e-12 (the double sum's rounding, relative 1e-16 of
     a log-sum-exp up to 5000). A float32 sum, or no max subtraction,
     gives errors >= 1e-4 or inf/NaN; 1e-9 sits between. */
  CHECK(worst < 1e-9, "log-sum-exp of 5000 logits at scales 0.01..3000, offsets -900..5000: "
                      "error %.2g vs long double",
        worst);

  float banned[4] = {-INFINITY, 2.0f, -INFINITY, 2.0f};
  double lse = g2_log_sum_exp(banned, 4);
  CHECK(fabs(lse - (2.0 + log(2.0))) < 1e-15, "-inf logits count as zero terms (%.17g)", lse);
  float all_banned[2] = {-INFINITY, -INFINITY};
  CHECK(g2_log_sum_exp(all_banned, 2) == -INFINITY, "all -inf gives -inf");
  float broken[3] = {1.0f, NAN, 2.0f}, infinite[2] = {1.0f, INFINITY};
  CHECK(isnan(g2_log_sum_exp(broken, 3)) && isnan(g2_log_sum_exp(infinite, 2)), "NaN or +inf gives NaN");

  double out = 7.0;
  CHECK(g2_logprob_of(all_banned, 2, 0, "t", &out) == GPT2_E_INVALID && out == 7.0 &&
            g2_logprob_of(broken, 3, 0, "t", &out) == GPT2_E_INVALID && out == 7.0,
        "logprob of all -inf or NaN logits: GPT2_E_INVALID, output unchanged");
  CHECK(g2_logprob_of(banned, 4, 0, "t", &out) == GPT2_OK && out == -INFINITY &&
            g2_logprob_of(banned, 4, 1, "t", &out) == GPT2_OK && fabs(out + log(2.0)) < 1e-15,
        "logprob of a -inf logit is -inf, of the two equal finite ones log(1/2)");
  gpt2_token_logprob top[4];
  CHECK(g2_top_logprobs(banned, 4, 4, "t", top) == GPT2_OK && top[0].token == 1 && top[1].token == 3 &&
            top[2].token == 0 && top[3].token == 2 && top[3].logprob == -INFINITY,
        "top logprobs: ties by lower id, then the -inf tokens in id order");
}

/* ---- on a generated model ------------------------------------------------ */

static gpt2_model *load(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), name);
  gpt2_model *model = NULL;
  int status = gpt2_load(path, NULL, &model);
  CHECK(status == GPT2_OK, "load %s: %s", path, gpt2_last_error());
  return model;
}

static gpt2_context *new_context(const gpt2_model *model, uint32_t n_ctx, uint32_t logits_all) {
  gpt2_context_params cp = GPT2_CONTEXT_PARAMS_INIT;
  cp.n_ctx = n_ctx;
  cp.logits_all = logits_all;
  cp.n_threads = 2;
  cp.seed = 99;
  gpt2_context *ctx = NULL;
  if (gpt2_context_new(model, &cp, &ctx) != GPT2_OK) return NULL;
  return ctx;
}

/* Pseudo-random token ids in [0, n_vocab). */
static void random_tokens(gpt2_token *tokens, size_t n, int n_vocab, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    tokens[i] = (gpt2_token)((seed >> 33) % (uint64_t)n_vocab);
  }
}

static double row_logprob(const float *logits, int n_vocab, gpt2_token token) {
  return (double)logits[token] - (double)reference_lse(logits, (size_t)n_vocab);
}

static void test_logprob_api(const gpt2_model *model) {
  int n_vocab = gpt2_n_vocab(model);
  gpt2_context *ctx = new_context(model, 0, 1);
  gpt2_token tokens[20];
  random_tokens(tokens, 20, n_vocab, 7);
  double lp = 1.0;
  size_t n = 99;
  gpt2_token_logprob top[8];
  CHECK(gpt2_logprob(ctx, -1, 0, &lp) == GPT2_E_STATE && lp == 1.0 &&
            gpt2_top_logprobs(ctx, -1, 3, top, 8, &n) == GPT2_E_STATE && n == 99,
        "before any eval: GPT2_E_STATE, outputs unchanged (%s)", gpt2_last_error());
  CHECK(ctx && gpt2_eval(ctx, tokens, 20) == GPT2_OK, "eval 20 tokens");

  double worst = 0.0, mass = 0.0;
  for (int32_t i = 0; i < 20; i++) {
    const float *logits = gpt2_logits(ctx, i);
    for (gpt2_token t = 0; t < n_vocab; t += 97) {
      int status = gpt2_logprob(ctx, i, t, &lp);
      double error = status == GPT2_OK ? fabs(lp - row_logprob(logits, n_vocab, t)) : INFINITY;
      worst = error > worst ? error : worst;
    }
  }
  for (gpt2_token t = 0; t < n_vocab; t++) {
    gpt2_logprob(ctx, 5, t, &lp);
    mass += exp(lp);
  }
  /* Measured: <= 2e-15 from the long double log-softmax. A float32
     accumulation would give ~1e-6. */
  CHECK(worst < 1e-12, "gpt2_logprob of 20 positions x 21 tokens: error %.2g vs long double", worst);
  CHECK(fabs(mass - 1.0) < 1e-12, "exp(logprob) sums to 1 over the vocabulary (off by %.2g)", mass - 1.0);

  CHECK(gpt2_top_logprobs(ctx, 3, 5, NULL, 0, &n) == GPT2_E_BUFFER && n == 5,
        "top_logprobs size query (NULL, 0): GPT2_E_BUFFER with 5");
  CHECK(gpt2_top_logprobs(ctx, 3, 5, top, 4, &n) == GPT2_E_BUFFER && n == 5, "top_logprobs: cap 4 < 5 is GPT2_E_BUFFER");
  int ok = gpt2_top_logprobs(ctx, 3, 5, top, 8, &n) == GPT2_OK && n == 5;
  const float *logits = gpt2_logits(ctx, 3);
  int above = 0;
  for (size_t j = 0; ok && j < 5; j++) {
    ok &= gpt2_logprob(ctx, 3, top[j].token, &lp) == GPT2_OK && lp == top[j].logprob;
    if (j) ok &= top[j].logprob <= top[j - 1].logprob;
  }
  for (gpt2_token t = 0; t < n_vocab; t++) above += logits[t] > logits[top[4].token];
  CHECK(ok && above == 4, "top 5 logprobs: sorted, equal to gpt2_logprob, nothing else above the 5th");
  CHECK(gpt2_top_logprobs(ctx, 0, (size_t)n_vocab + 10, NULL, 0, &n) == GPT2_E_BUFFER && n == (size_t)n_vocab &&
            gpt2_top_logprobs(ctx, 0, 0, NULL, 0, &n) == GPT2_OK && n == 0,
        "k past the vocabulary gives n_vocab entries, k = 0 none");

  /* errors, each leaving the output as it was */
  struct {
    int32_t i;
    gpt2_token token;
    int expected;
    const char *what;
  } cases[] = {{20, 0, GPT2_E_STATE, "i past the batch"},   {-2, 0, GPT2_E_STATE, "i = -2"},
               {0, -1, GPT2_E_RANGE, "token -1"},           {0, n_vocab, GPT2_E_RANGE, "token n_vocab"}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    lp = 1.0;
    CHECK(gpt2_logprob(ctx, cases[c].i, cases[c].token, &lp) == cases[c].expected && lp == 1.0,
          "gpt2_logprob, %s: %s", cases[c].what, gpt2_last_error());
  }
  CHECK(gpt2_logprob(NULL, 0, 0, &lp) == GPT2_E_INVALID && gpt2_logprob(ctx, 0, 0, NULL) == GPT2_E_INVALID &&
            gpt2_top_logprobs(NULL, 0, 1, top, 1, &n) == GPT2_E_INVALID &&
            gpt2_top_logprobs(ctx, 0, 1, top, 1, NULL) == GPT2_E_INVALID &&
            gpt2_top_logprobs(ctx, 0, 1, NULL, 1, &n) == GPT2_E_INVALID,
        "NULL context, output or buffer with a capacity: GPT2_E_INVALID");
  gpt2_context *last_only = new_context(model, 0, 0);
  gpt2_eval(last_only, tokens, 20);
  CHECK(gpt2_logprob(last_only, 3, 0, &lp) == GPT2_E_STATE && gpt2_logprob(last_only, -1, 0, &lp) == GPT2_OK &&
            gpt2_logprob(last_only, 19, 0, &lp) == GPT2_OK,
        "without logits_all only the last token has logprobs: %s", gpt2_last_error());
  gpt2_truncate(last_only, 10);
  CHECK(gpt2_logprob(last_only, -1, 0, &lp) == GPT2_E_STATE, "after gpt2_truncate: GPT2_E_STATE");
  gpt2_context_free(last_only);
  gpt2_context_free(ctx);
}

static void test_sample_logprob(const gpt2_model *model) {
  gpt2_context *a = new_context(model, 0, 0), *b = new_context(model, 0, 0);
  gpt2_token prompt[6];
  random_tokens(prompt, 6, gpt2_n_vocab(model), 3);
  int ok = a && b && gpt2_eval(a, prompt, 6) == GPT2_OK && gpt2_eval(b, prompt, 6) == GPT2_OK;
  gpt2_sample_params p = GPT2_SAMPLE_PARAMS_INIT;
  p.temperature = 0.7f;
  p.repetition_penalty = 1.2f;
  for (int step = 0; ok && step < 30; step++) {
    gpt2_token with = -1, without = -1;
    double lp = 1.0, expected = 2.0;
    ok &= gpt2_sample_logprob(a, &p, &with, &lp) == GPT2_OK && gpt2_sample(b, &p, &without) == GPT2_OK;
    ok &= with == without && gpt2_logprob(a, -1, with, &expected) == GPT2_OK && lp == expected;
    ok &= gpt2_eval(a, &with, 1) == GPT2_OK && gpt2_eval(b, &without, 1) == GPT2_OK;
  }
  CHECK(ok, "30 sampled tokens: gpt2_sample_logprob draws what gpt2_sample draws and reports "
            "gpt2_logprob of it");
  gpt2_token token = -1;
  double lp = 1.0;
  p.temperature = -1.0f;
  CHECK(gpt2_sample_logprob(a, &p, &token, &lp) == GPT2_E_INVALID && token == -1 && lp == 1.0,
        "gpt2_sample_logprob with a bad param: GPT2_E_INVALID, outputs unchanged");
  p.temperature = 1.0f;
  CHECK(gpt2_sample_logprob(a, &p, &token, NULL) == GPT2_OK, "logprob NULL: sampling only");
  gpt2_context_free(a);
  gpt2_context_free(b);
}

/* The same scores from gpt2_logits: one context per window, every row's
   logits, the HF window rule written out again. */
static void naive_scores(const gpt2_model *model, const gpt2_token *full, size_t n_full, size_t n_prefix,
                         size_t window, size_t stride, double *out) {
  gpt2_context *ctx = new_context(model, (uint32_t)window, 1);
  size_t scored_until = n_prefix;
  for (size_t begin = 0;; begin += stride) {
    size_t end = begin + window < n_full ? begin + window : n_full;
    if (end > scored_until) {
      gpt2_truncate(ctx, 0);
      gpt2_eval(ctx, full + begin, end - 1 - begin);
      for (size_t target = scored_until; target < end; target++)
        out[target - n_prefix] =
            row_logprob(gpt2_logits(ctx, (int32_t)(target - 1 - begin)), gpt2_n_vocab(model), full[target]);
      scored_until = end;
    }
    if (end == n_full) break;
  }
  gpt2_context_free(ctx);
}

static double max_difference(const double *a, const double *b, size_t n) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]);
    worst = d > worst || isnan(d) ? d : worst;
  }
  return worst;
}

static void test_score(const gpt2_model *model) {
  enum { N = 700, PREFIX = 5 };
  static gpt2_token full[PREFIX + N];
  static double got[N], expected[N];
  int n_vocab = gpt2_n_vocab(model), n_ctx = gpt2_n_ctx_train(model);
  random_tokens(full, PREFIX + N, n_vocab, 11);
  full[PREFIX - 1] = gpt2_token_eot(model);

  /* The documented default: <|endoftext|> before the text, the model's
     window, stride half of it. The text (700) crosses n_ctx (256). */
  int status = gpt2_score(model, full + PREFIX, N, NULL, got);
  naive_scores(model, full + PREFIX - 1, N + 1, 1, (size_t)n_ctx, (size_t)n_ctx / 2, expected);
  /* Same logits (batch splits give the same bits), log-softmax in double
     vs long double: measured <= 4e-15. */
  double worst = max_difference(got, expected, N);
  CHECK(status == GPT2_OK && worst < 1e-12, "score 700 tokens, defaults (EOT, window %d, stride %d): "
                                           "%.2g from the windows computed by hand",
        n_ctx, n_ctx / 2, worst);

  struct {
    uint32_t window, stride, n_prefix;
  } configs[] = {{64, 24, 5}, {100, 99, 1}, {37, 1, 3}, {256, 200, 5}, {2, 1, 1}};
  for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
    gpt2_score_params sp = GPT2_SCORE_PARAMS_INIT;
    sp.window = configs[c].window;
    sp.stride = configs[c].stride;
    sp.n_threads = 1 + (uint32_t)(c % 2);
    sp.n_prefix = configs[c].n_prefix;
    sp.prefix = full + PREFIX - sp.n_prefix;
    size_t n = configs[c].window == 37 ? 80 : N; /* stride 1 evaluates ~n x window tokens */
    status = gpt2_score(model, full + PREFIX, n, &sp, got);
    naive_scores(model, full + PREFIX - sp.n_prefix, n + sp.n_prefix, sp.n_prefix, sp.window, sp.stride, expected);
    worst = max_difference(got, expected, n);
    CHECK(status == GPT2_OK && worst < 1e-12, "score %zu tokens, window %u stride %u prefix %u: %.2g from by hand",
          n, sp.window, sp.stride, sp.n_prefix, worst);
  }

  /* Errors: each leaves logprobs untouched. */
  gpt2_score_params sp = GPT2_SCORE_PARAMS_INIT;
  gpt2_token bad[3] = {1, (gpt2_token)n_vocab, 2};
  struct {
    uint32_t window, stride, n_prefix;
    int null_prefix, bad_text;
    int expected;
    const char *what;
  } cases[] = {
      {(uint32_t)n_ctx + 1, 0, 0, 0, 0, GPT2_E_RANGE, "window past n_ctx"},
      {1, 0, 0, 0, 0, GPT2_E_INVALID, "window 1"},
      {64, 64, 0, 0, 0, GPT2_E_INVALID, "stride = window"},
      {64, 65, 0, 0, 0, GPT2_E_INVALID, "stride past window"},
      {0, 0, 2, 1, 0, GPT2_E_INVALID, "prefix NULL with n_prefix 2"},
      {0, 0, 0, 0, 1, GPT2_E_RANGE, "a text token outside the vocabulary"},
      {0, 0, 3, 0, 2, GPT2_E_RANGE, "a prefix token outside the vocabulary"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    sp = (gpt2_score_params)GPT2_SCORE_PARAMS_INIT;
    sp.window = cases[c].window;
    sp.stride = cases[c].stride;
    sp.n_prefix = cases[c].n_prefix;
    sp.prefix = cases[c].null_prefix ? NULL : cases[c].bad_text == 2 ? bad : full;
    got[0] = 1.0;
    status = gpt2_score(model, cases[c].bad_text == 1 ? bad : full, 3, &sp, got);
    CHECK(status == cases[c].expected && got[0] == 1.0, "gpt2_score, %s: %s", cases[c].what, gpt2_last_error());
  }
  sp = (gpt2_score_params)GPT2_SCORE_PARAMS_INIT;
  sp.reserved = 1;
  CHECK(gpt2_score(model, full, 3, &sp, got) == GPT2_E_INVALID, "reserved not 0: GPT2_E_INVALID");
  sp = (gpt2_score_params)GPT2_SCORE_PARAMS_INIT;
  sp.size = (uint32_t)(offsetof(gpt2_score_params, prefix) + sizeof sp.prefix / 2);
  CHECK(gpt2_score(model, full, 3, &sp, got) == GPT2_E_INVALID, "a size inside the prefix pointer: GPT2_E_INVALID");
  sp.size = (uint32_t)offsetof(gpt2_score_params, prefix);
  CHECK(gpt2_score(model, full, 3, &sp, got) == GPT2_OK, "a size ending before the prefix: defaults for the rest");
  sp.size = 2;
  CHECK(gpt2_score(model, full, 3, &sp, got) == GPT2_E_INVALID, "size 2: GPT2_E_INVALID");
  CHECK(gpt2_score(NULL, full, 3, NULL, got) == GPT2_E_INVALID && gpt2_score(model, NULL, 3, NULL, got) == GPT2_E_INVALID &&
            gpt2_score(model, full, 3, NULL, NULL) == GPT2_E_INVALID && gpt2_score(model, full, 0, NULL, got) == GPT2_E_INVALID,
        "NULL model, tokens, output, or no tokens: GPT2_E_INVALID");
}

/* logits[v] = embedding . lm_head[v] in double, for an F32 [n_vocab][n_embd]
   output matrix: the largest difference from the context's logits. */
static double unembed_error(const gpt2_model *model, const float *embedding, const float *logits) {
  const g2_matrix *w = &model->lm_head;
  if (w->dtype != G2_DT_F32 || w->layout != G2_LAYOUT_NK) return INFINITY;
  double worst = 0.0;
  for (int64_t v = 0; v < w->n_out; v++) {
    const float *row = (const float *)w->data + v * w->n_in;
    double dot = 0.0;
    for (int64_t e = 0; e < w->n_in; e++) dot += (double)embedding[e] * row[e];
    double d = fabs(dot - logits[v]);
    worst = d > worst ? d : worst;
  }
  return worst;
}

static void test_embeddings(const gpt2_model *model) {
  enum { N = 30 };
  size_t n_embd = (size_t)gpt2_n_embd(model), n = 0;
  gpt2_token tokens[N];
  random_tokens(tokens, N, gpt2_n_vocab(model), 5);
  gpt2_context_params cp = GPT2_CONTEXT_PARAMS_INIT;
  cp.embeddings = 1;
  cp.logits_all = 1;
  cp.n_threads = 2;
  gpt2_context *ctx = NULL, *split = NULL, *plain = NULL;
  gpt2_context_new(model, &cp, &ctx);
  gpt2_context_new(model, &cp, &split);
  gpt2_context_new(model, NULL, &plain);
  float *all = calloc(N * n_embd, sizeof(float)), *part = calloc(N * n_embd, sizeof(float));
  CHECK(ctx && split && plain && all && part, "contexts with embeddings");
  if (!ctx || !split || !plain || !all || !part) goto done;

  CHECK(gpt2_embeddings(ctx, all, N * n_embd, &n) == GPT2_E_STATE, "before any eval: GPT2_E_STATE (%s)",
        gpt2_last_error());
  gpt2_eval(plain, tokens, 3);
  CHECK(gpt2_embeddings(plain, all, N * n_embd, &n) == GPT2_E_STATE,
        "a context without embeddings: GPT2_E_STATE (%s)", gpt2_last_error());
  CHECK(gpt2_eval(ctx, tokens, N) == GPT2_OK && gpt2_embeddings(ctx, NULL, 0, &n) == GPT2_E_BUFFER && n == N * n_embd,
        "size query: %zu floats for %d tokens", n, N);
  CHECK(gpt2_embeddings(ctx, all, N * n_embd - 1, &n) == GPT2_E_BUFFER && n == N * n_embd,
        "one float short: GPT2_E_BUFFER");
  CHECK(gpt2_embeddings(ctx, all, N * n_embd, &n) == GPT2_OK, "embeddings of %d tokens", N);
  CHECK(gpt2_embeddings(NULL, all, 1, &n) == GPT2_E_INVALID && gpt2_embeddings(ctx, all, 1, NULL) == GPT2_E_INVALID &&
            gpt2_embeddings(ctx, NULL, 5, &n) == GPT2_E_INVALID,
        "NULL context, n_out or buffer with a capacity: GPT2_E_INVALID");

  /* The logits are made from the final-normed state: an embedding taken
     before ln_f, or of another token, is off by whole units. The f32
     products round differently from this double sum: measured <= 3e-6. */
  double worst = 0.0;
  for (int32_t i = 0; i < N; i++) {
    double e = unembed_error(model, all + (size_t)i * n_embd, gpt2_logits(ctx, i));
    worst = e > worst ? e : worst;
  }
  CHECK(worst < 1e-4, "embedding . lm_head = logits for all %d tokens (max error %.2g)", N, worst);

  /* One batch or three: the same bits, each call giving its own tokens. */
  int same = 1;
  size_t cuts[4] = {0, 7, 8, N};
  for (int c = 0; c < 3; c++) {
    size_t count = cuts[c + 1] - cuts[c];
    same &= gpt2_eval(split, tokens + cuts[c], count) == GPT2_OK &&
            gpt2_embeddings(split, part, N * n_embd, &n) == GPT2_OK && n == count * n_embd &&
            memcmp(part, all + cuts[c] * n_embd, n * sizeof(float)) == 0;
  }
  CHECK(same, "evaluated in batches of 7, 1 and 22: each call gives its own rows, bitwise those of one batch");

  /* Two contexts in one gpt2_eval_batch: each gets its own rows, those of
     its tokens evaluated alone. */
  gpt2_context *pair[2] = {NULL, NULL};
  gpt2_context_new(model, &cp, &pair[0]);
  gpt2_context_new(model, &cp, &pair[1]);
  const gpt2_token *batch_tokens[2] = {tokens + 8, tokens};
  size_t batch_n[2] = {N - 8, 8};
  same = pair[0] && pair[1] && gpt2_eval_batch(pair, batch_tokens, batch_n, 2) == GPT2_OK;
  same = same && gpt2_embeddings(pair[1], part, N * n_embd, &n) == GPT2_OK && n == 8 * n_embd &&
         memcmp(part, all, n * sizeof(float)) == 0;
  gpt2_context *alone = NULL;
  gpt2_context_new(model, &cp, &alone);
  float *expected = calloc(N * n_embd, sizeof(float));
  same = same && alone && expected && gpt2_eval(alone, tokens + 8, N - 8) == GPT2_OK &&
         gpt2_embeddings(alone, expected, N * n_embd, &n) == GPT2_OK &&
         gpt2_embeddings(pair[0], part, N * n_embd, &n) == GPT2_OK && n == (N - 8) * n_embd &&
         memcmp(part, expected, n * sizeof(float)) == 0;
  CHECK(same, "gpt2_eval_batch of two contexts: each one's embeddings bitwise those of its tokens alone");
  free(expected);
  gpt2_context_free(alone);
  gpt2_context_free(pair[0]);
  gpt2_context_free(pair[1]);

  /* A failed eval keeps the previous rows; gpt2_truncate drops them. */
  gpt2_token bad = gpt2_n_vocab(model);
  CHECK(gpt2_eval(split, &bad, 1) == GPT2_E_RANGE && gpt2_embeddings(split, part, N * n_embd, &n) == GPT2_OK &&
            n == 22 * n_embd && memcmp(part, all + 8 * n_embd, n * sizeof(float)) == 0,
        "a failed eval leaves the last batch's embeddings");
  gpt2_truncate(split, 5);
  CHECK(gpt2_embeddings(split, part, N * n_embd, &n) == GPT2_E_STATE, "after gpt2_truncate: GPT2_E_STATE");
done:
  free(all);
  free(part);
  gpt2_context_free(ctx);
  gpt2_context_free(split);
  gpt2_context_free(plain);
}

/* ---- against the float64 reference (tests/data/golden/scores-*.txt) ------ */

enum { MAX_TEXT = 512, MAX_EMBD = 1024, EMBD_ROWS = 3, TOP_K = 5 };

typedef struct scores_golden {
  char checksum[32];
  size_t n_text;
  gpt2_token text[MAX_TEXT];
  uint32_t window, stride;
  double logprobs[MAX_TEXT];
  size_t top_row;
  gpt2_token top_token[TOP_K];
  double top_logprob[TOP_K];
  size_t rows[EMBD_ROWS], n_embd;
  double embedding[EMBD_ROWS][MAX_EMBD];
} scores_golden;

/* Reads `count` numbers of a line into doubles; 1 if all were there. */
static int read_doubles(char **cursor, double *out, size_t count) {
  for (size_t i = 0; i < count; i++) {
    char *end;
    out[i] = strtod(*cursor, &end);
    if (end == *cursor) return 0;
    *cursor = end;
  }
  return 1;
}

static int read_golden(const char *path, scores_golden *g) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  static char line[1 << 16];
  int complete = 0, embeddings = 0;
  while (fgets(line, sizeof line, f)) {
    char key[32];
    int used = 0;
    if (line[0] == '#' || sscanf(line, "%31s %n", key, &used) != 1) continue;
    char *cursor = line + used;
    double values[2 * TOP_K];
    if (!strcmp(key, "weights_fnv1a64")) {
      complete += sscanf(cursor, "%31s", g->checksum) == 1;
    } else if (!strcmp(key, "text")) {
      g->n_text = strtoul(cursor, &cursor, 10);
      for (size_t i = 0; i < g->n_text && i < MAX_TEXT; i++) g->text[i] = (gpt2_token)strtol(cursor, &cursor, 10);
      complete += g->n_text <= MAX_TEXT;
    } else if (!strcmp(key, "window")) {
      g->window = (uint32_t)strtoul(cursor, NULL, 10);
    } else if (!strcmp(key, "stride")) {
      g->stride = (uint32_t)strtoul(cursor, NULL, 10);
    } else if (!strcmp(key, "logprobs")) {
      complete += strtoul(cursor, &cursor, 10) == g->n_text && read_doubles(&cursor, g->logprobs, g->n_text);
    } else if (!strcmp(key, "top")) {
      g->top_row = strtoul(cursor, &cursor, 10);
      int ok = strtoul(cursor, &cursor, 10) == TOP_K && read_doubles(&cursor, values, 2 * TOP_K);
      for (size_t i = 0; ok && i < TOP_K; i++) {
        g->top_token[i] = (gpt2_token)values[2 * i];
        g->top_logprob[i] = values[2 * i + 1];
      }
      complete += ok;
    } else if (!strcmp(key, "embedding") && embeddings < EMBD_ROWS) {
      g->rows[embeddings] = strtoul(cursor, &cursor, 10);
      g->n_embd = strtoul(cursor, &cursor, 10);
      embeddings += g->n_embd <= MAX_EMBD && read_doubles(&cursor, g->embedding[embeddings], g->n_embd);
    }
  }
  fclose(f);
  return complete == 4 && embeddings == EMBD_ROWS;
}

/* The checksum gen_model recorded for the model's weights. */
static int model_checksum(const char model_dir[1024], char out[32]) {
  char path[1100], line[256];
  snprintf(path, sizeof path, "%s/gen_model.txt", model_dir);
  FILE *f = fopen(path, "r");
  int found = 0;
  while (f && !found && fgets(line, sizeof line, f)) found = sscanf(line, "safetensors_fnv1a64 %31s", out) == 1;
  if (f) fclose(f);
  return found;
}

/* Bounds against float64: numpy float32 of the same computation (listed
   as numpy_float32_max_error in each file) is off by up to 6.4e-5 for the
   log-probabilities, 3.6e-5 for the top ones, 3.4e-5 for the embeddings;
   libgpt2 measured 2.6e-5 / 5.3e-5 (tiny / mid) for the scores, 3.7e-6 /
   1.8e-5 for the top-5, 1.1e-5 / 2.9e-5 for the embeddings. 2e-4 for all
   three: 4x the worst measured. Planted bugs move them by whole units: the
   window's context starting one token late 9.4, the scored row off by one
   18, embeddings taken before ln_f 8.7. */
#define SCORES_BOUND 2e-4

static void test_against_reference(const char *name) {
  static scores_golden g;
  char path[1024], model_dir[1024], checksum[32];
  snprintf(path, sizeof path, "%s/golden/scores-%s.txt", harness_path("GPT2_TEST_DATA", "tests/data"), name);
  snprintf(model_dir, sizeof model_dir, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), name);
  memset(&g, 0, sizeof g);
  CHECK(read_golden(path, &g), "read %s", path);
  CHECK(model_checksum(model_dir, checksum) && !strcmp(checksum, g.checksum),
        "%s: the model's weights are those of the golden data (%s)", name, g.checksum);
  gpt2_load_params lp = GPT2_LOAD_PARAMS_INIT;
  lp.fp32_products = 1;
  gpt2_model *model = NULL;
  CHECK(gpt2_load(model_dir, &lp, &model) == GPT2_OK, "load %s", model_dir);
  if (!model) return;

  static double logprobs[MAX_TEXT];
  gpt2_score_params sp = GPT2_SCORE_PARAMS_INIT;
  sp.window = g.window;
  sp.stride = g.stride;
  int status = gpt2_score(model, g.text, g.n_text, &sp, logprobs);
  double worst = status == GPT2_OK ? max_difference(logprobs, g.logprobs, g.n_text) : INFINITY;
  CHECK(worst < SCORES_BOUND, "%s: gpt2_score of %zu tokens (window %u, stride %u, past n_ctx %d) within %.0e of "
                              "float64: %.2g",
        name, g.n_text, g.window, g.stride, gpt2_n_ctx_train(model), SCORES_BOUND, worst);

  gpt2_context_params cp = GPT2_CONTEXT_PARAMS_INIT;
  cp.embeddings = 1;
  gpt2_context *ctx = NULL;
  gpt2_token_logprob top[TOP_K];
  size_t n = 0;
  status = gpt2_context_new(model, &cp, &ctx);
  if (!status) status = gpt2_eval(ctx, g.text, g.top_row + 1);
  if (!status) status = gpt2_top_logprobs(ctx, -1, TOP_K, top, TOP_K, &n);
  int same_tokens = status == GPT2_OK;
  worst = status == GPT2_OK ? 0.0 : INFINITY;
  for (size_t i = 0; same_tokens && i < TOP_K; i++) {
    same_tokens &= top[i].token == g.top_token[i];
    worst = fmax(worst, fabs(top[i].logprob - g.top_logprob[i]));
  }
  CHECK(same_tokens && worst < SCORES_BOUND, "%s: top-%d logprobs at token %zu: same tokens, within %.0e: %.2g", name,
        TOP_K, g.top_row, SCORES_BOUND, worst);

  static float embd[MAX_TEXT * MAX_EMBD];
  status = gpt2_embeddings(ctx, embd, sizeof embd / sizeof embd[0], &n);
  worst = status == GPT2_OK && g.n_embd == (size_t)gpt2_n_embd(model) ? 0.0 : INFINITY;
  for (size_t r = 0; r < EMBD_ROWS && worst < INFINITY; r++)
    for (size_t e = 0; e < g.n_embd; e++)
      worst = fmax(worst, fabs((double)embd[g.rows[r] * g.n_embd + e] - g.embedding[r][e]));
  CHECK(worst < SCORES_BOUND, "%s: embeddings of tokens %zu, %zu, %zu within %.0e of float64: %.2g", name, g.rows[0],
        g.rows[1], g.rows[2], SCORES_BOUND, worst);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
}

int main(void) {
  test_log_sum_exp();
  gpt2_model *model = load("mid-f32");
  if (model) {
    test_logprob_api(model);
    test_sample_logprob(model);
    test_score(model);
    test_embeddings(model);
  }
  gpt2_model_free(model);
  test_against_reference("tiny-f32");
  test_against_reference("mid-f32");
  HARNESS_EXIT();
}
