/* Many sequences per pass (gpt2_eval_batch), fork (gpt2_context_copy),
   saved state (gpt2_state_save / gpt2_state_load) and the abort callback.

   The promise checked everywhere is exact: a context's logits after a
   batch are bitwise those of the same context fed the same calls alone,
   whatever the other contexts, their lengths, the order and the thread
   count; no tolerance is involved. "Unchanged" after a failed call means a
   state blob saved before and after is byte for byte the same (position,
   history, cache rows in use, logits, RNG). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpt2.h"
#include "harness.h"
#include "kernels/kernels.h"
#include "test_random.h"

enum { MAX_CTX = 64, MAX_STEP = 24 };

typedef struct weights_case {
  const char *name, *model_dir;
  uint32_t weight_type;
} weights_case;

/* Every weight type the kernels read, in both layouts for F32. */
static const weights_case weight_cases[] = {
    {"F32 KN", "f32", GPT2_WTYPE_AUTO},   {"F32 NK", "f32", GPT2_WTYPE_F32},
    {"F16", "f16", GPT2_WTYPE_AUTO},      {"BF16", "bf16", GPT2_WTYPE_AUTO},
    {"Q8_0", "f32", GPT2_WTYPE_Q8_0},     {"Q4_0", "f32", GPT2_WTYPE_Q4_0},
};

static gpt2_model *load(const char *size, const weights_case *c, const char *isa) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s-%s", harness_path("GPT2_TEST_MODELS", "build/models"), size, c->model_dir);
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.weight_type = c->weight_type;
  params.n_threads = 1;
  if (isa) setenv("GPT2_ISA", isa, 1);
  gpt2_model *model = NULL;
  int status = gpt2_load(path, &params, &model);
  unsetenv("GPT2_ISA");
  if (status) {
    CHECK(0, "load %s %s under %s: %s", path, c->name, isa ? isa : "default", gpt2_last_error());
    return NULL;
  }
  return model;
}

static gpt2_context *new_context(const gpt2_model *model, const gpt2_context_params *p) {
  gpt2_context *ctx = NULL;
  if (gpt2_context_new(model, p, &ctx)) printf("# context_new: %s\n", gpt2_last_error());
  return ctx;
}

/* The context's whole state as bytes (malloc'd; *len its size). */
static unsigned char *snapshot(const gpt2_context *ctx, size_t *len) {
  size_t need = 0;
  gpt2_state_save(ctx, NULL, 0, &need);
  unsigned char *blob = malloc(need ? need : 1);
  if (!blob || gpt2_state_save(ctx, blob, need, len) != GPT2_OK) abort();
  return blob;
}

static int same_state(const gpt2_context *a, const unsigned char *blob, size_t len) {
  size_t now_len;
  unsigned char *now = snapshot(a, &now_len);
  int same = now_len == len && memcmp(now, blob, len) == 0;
  free(now);
  return same;
}

/* a's and b's positions and every logits row of their last batch, bitwise. */
static int same_logits(const gpt2_context *a, const gpt2_context *b, int n_vocab) {
  if (gpt2_pos(a) != gpt2_pos(b)) return 0;
  for (int32_t i = -1; i < MAX_CTX * MAX_STEP; i++) {
    const float *la = gpt2_logits(a, i), *lb = gpt2_logits(b, i);
    if (!la != !lb) return 0;
    if (la && memcmp(la, lb, (size_t)n_vocab * sizeof(float)) != 0) return 0;
    if (!la && i >= 0) break;
  }
  return 1;
}

static void random_tokens(gpt2_token *out, size_t n, int n_vocab) {
  for (size_t i = 0; i < n; i++) out[i] = (gpt2_token)(next_u32() % (uint32_t)n_vocab);
}

/* Rounds of random batches over n_ctxs contexts (random n_ctx, logits_all,
   KV type, 1-3 threads, so the runner's vary; random order; prompts, single tokens
   and contexts sitting out mixed in one call, enough tokens for several
   passes), each context's twin fed the same calls alone on one thread.
   Returns 1 if every context's logits matched its twin's after every round. */
static int batch_matches_alone(const gpt2_model *model, size_t n_ctxs, int rounds) {
  int n_vocab = gpt2_n_vocab(model), n_ctx_model = gpt2_n_ctx_train(model), ok = 1;
  gpt2_context *ctxs[MAX_CTX] = {0}, *twins[MAX_CTX] = {0}, *order[MAX_CTX];
  static gpt2_token tokens[MAX_CTX][MAX_STEP * 2];
  const gpt2_token *token_ptrs[MAX_CTX];
  size_t n_tokens[MAX_CTX];
  for (size_t i = 0; i < n_ctxs; i++) {
    gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
    p.n_ctx = (uint32_t)(n_ctx_model / 2 + next_u32() % (uint32_t)(n_ctx_model / 2 + 1));
    p.logits_all = next_u32() % 3 == 0;
    p.kv_type = next_u32() % 3 == 0 ? GPT2_KV_F16 : GPT2_KV_F32;
    p.n_threads = 1 + next_u32() % 3; /* the runner's count is the batch's */
    ctxs[i] = new_context(model, &p);
    p.n_threads = 1;
    twins[i] = new_context(model, &p);
    if (!ctxs[i] || !twins[i]) ok = 0;
  }
  for (int round = 0; round < rounds && ok; round++) {
    /* the runner (order[0]) is a random context; the rest shuffled */
    for (size_t i = 0; i < n_ctxs; i++) order[i] = ctxs[i];
    for (size_t i = n_ctxs; i > 1; i--) {
      size_t j = next_u32() % i;
      gpt2_context *t = order[i - 1];
      order[i - 1] = order[j], order[j] = t;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_ctxs; i++) {
      size_t room = gpt2_n_ctx(order[i]) - gpt2_pos(order[i]);
      /* sit out, one token, one token, a prompt; a first round of all
         prompts over many contexts runs several passes (> G2_MAX_BATCH) */
      uint32_t kind = round == 0 && n_ctxs > 32 ? 3 : next_u32() % 4;
      size_t n = kind == 0 ? 0 : kind < 3 ? 1 : 2 + next_u32() % (MAX_STEP * 2 - 2);
      n_tokens[i] = n < room ? n : room;
      random_tokens(tokens[i], n_tokens[i], n_vocab);
      token_ptrs[i] = tokens[i];
      total += n_tokens[i];
    }
    if (total == 0) n_tokens[0] = 0; /* nothing to do: the call must refuse */
    int status = gpt2_eval_batch(order, token_ptrs, n_tokens, n_ctxs);
    if (total == 0) {
      ok &= status == GPT2_E_INVALID;
      continue;
    }
    if (status) {
      printf("# eval_batch: %s\n", gpt2_last_error());
      ok = 0;
      break;
    }
    for (size_t i = 0; i < n_ctxs; i++) {
      size_t twin = 0;
      while (ctxs[twin] != order[i]) twin++;
      if (n_tokens[i] && gpt2_eval(twins[twin], tokens[i], n_tokens[i])) ok = 0;
    }
    for (size_t i = 0; i < n_ctxs; i++) ok &= same_logits(ctxs[i], twins[i], n_vocab);
  }
  for (size_t i = 0; i < n_ctxs; i++) {
    gpt2_context_free(ctxs[i]);
    gpt2_context_free(twins[i]);
  }
  return ok;
}

static void test_tables_and_types(void) {
  static const char *tables[] = {"scalar", "avx2", "avx2int8", "avx512", "avx512vnni", "avx512bf16", "neondot", "neon"};
  /* Under TSan (about 20 times slower) the default table is enough: what
     it checks there is the threads, which every table shares. */
  const char *sanitizer = getenv("GPT2_TEST_SANITIZER");
  int thread_sanitizer = sanitizer && strcmp(sanitizer, "thread") == 0;
  const char *default_table = g2_kernels_select(NULL, 0) ? g2_kernels_select(NULL, 0)->name : "";
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    if (thread_sanitizer && strcmp(tables[t], default_table) != 0) {
      SKIP("batch == alone under %s: only the default table %s under TSan", tables[t], default_table);
      continue;
    }
    if (!g2_kernels_select(tables[t], 0)) {
      SKIP("batch == alone under %s: this CPU or build does not run the table", tables[t]);
      continue;
    }
    for (size_t c = 0; c < sizeof weight_cases / sizeof weight_cases[0]; c++) {
      const weights_case *wc = &weight_cases[c];
      random_seed(0x5eed0000u + t * 16 + c);
      gpt2_model *tiny = load("tiny", wc, tables[t]);
      if (tiny) {
        size_t n = 1 + next_u32() % MAX_CTX;
        CHECK(batch_matches_alone(tiny, n, 3) && batch_matches_alone(tiny, MAX_CTX, 2),
              "%s %s tiny: batches of %zu and %d contexts == each alone, bitwise", tables[t], wc->name, n, MAX_CTX);
      }
      gpt2_model_free(tiny);
      /* the mid model's wider matrices take the kernels' full tiles */
      gpt2_model *mid = strcmp(tables[t], "scalar") ? load("mid", wc, tables[t]) : NULL;
      if (mid) CHECK(batch_matches_alone(mid, 6, 2), "%s %s mid: batches of 6 contexts == each alone, bitwise",
                     tables[t], wc->name);
      gpt2_model_free(mid);
    }
  }
}

/* The K types, the other 32-value types and IQ4 in files llama.cpp's
   quantizer wrote (tests/data/llamacpp), on the default table: passes of
   hundreds of tokens from many contexts, where 2 and 3 threads split the
   products by tokens (lib/model/forward.c). */
static void test_llamacpp_files(void) {
  static const char *const files[] = {"kq-q4_k_m.gguf", "kq-q2_k.gguf", "kq-q5_1.gguf", "kq-iq4_xs.gguf"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/llamacpp/%s", harness_path("GPT2_TEST_DATA", "tests/data"), files[i]);
    gpt2_model *model = NULL;
    int status = gpt2_load(path, NULL, &model);
    CHECK(status == GPT2_OK, "load %s: %s", path, status ? gpt2_last_error() : "ok");
    if (status) continue;
    random_seed(0x11a0u + (uint32_t)i);
    CHECK(batch_matches_alone(model, MAX_CTX, 2), "%s [%s]: batches of %d contexts == each alone, bitwise", files[i],
          gpt2_model_isa(model), MAX_CTX);
    gpt2_model_free(model);
  }
}

/* Feeds ctx n tokens from `seq` at its position; returns the status. */
static int feed(gpt2_context *ctx, const gpt2_token *seq, size_t n) {
  return gpt2_eval(ctx, seq + gpt2_pos(ctx), n);
}

static void test_copy(const gpt2_model *model) {
  int n_vocab = gpt2_n_vocab(model);
  gpt2_token a[40], b[40];
  random_tokens(a, 40, n_vocab);
  memcpy(b, a, 12 * sizeof *a); /* b shares a's 12-token prompt */
  random_tokens(b + 12, 28, n_vocab);
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.seed = 7;
  p.n_threads = 2;
  gpt2_context *src = new_context(model, &p), *fresh_a = new_context(model, &p), *fresh_b = new_context(model, &p);
  gpt2_context *copy = NULL;
  int ok = src && fresh_a && fresh_b && feed(src, a, 12) == GPT2_OK;
  gpt2_token drawn;
  for (int i = 0; i < 3; i++) ok = ok && gpt2_sample(src, NULL, &drawn) == GPT2_OK; /* the RNG moves on */
  ok = ok && gpt2_context_copy(src, NULL, &copy) == GPT2_OK;
  CHECK(ok && gpt2_pos(copy) == 12 && gpt2_n_ctx(copy) == gpt2_n_ctx(src) && same_logits(src, copy, n_vocab),
        "context_copy: position, n_ctx and logits of the source");
  gpt2_token ta = -1, tb = -2;
  ok = ok && gpt2_sample(src, NULL, &ta) == GPT2_OK && gpt2_sample(copy, NULL, &tb) == GPT2_OK;
  CHECK(ok && ta == tb, "context_copy: the RNG state is copied (both sample %d)", (int)ta);
  /* both continue differently; each equals a fresh run of its sequence */
  ok = ok && feed(src, a, 1) == GPT2_OK && feed(copy, b, 5) == GPT2_OK && feed(src, a, 20) == GPT2_OK &&
       feed(copy, b, 1) == GPT2_OK;
  ok = ok && feed(fresh_a, a, 12) == GPT2_OK && feed(fresh_a, a, 1) == GPT2_OK && feed(fresh_a, a, 20) == GPT2_OK;
  ok = ok && feed(fresh_b, b, 12) == GPT2_OK && feed(fresh_b, b, 5) == GPT2_OK && feed(fresh_b, b, 1) == GPT2_OK;
  CHECK(ok && same_logits(src, fresh_a, n_vocab) && same_logits(copy, fresh_b, n_vocab),
        "context_copy: source and copy continue apart, each == a fresh run of its sequence");

  /* other params: keep all logits, fewer positions, one thread */
  gpt2_context_params q = GPT2_CONTEXT_PARAMS_INIT;
  q.n_ctx = 40;
  q.logits_all = 1;
  q.n_threads = 1;
  gpt2_context *copy2 = NULL, *fresh = new_context(model, &q);
  ok = gpt2_context_copy(copy, &q, &copy2) == GPT2_OK && gpt2_n_ctx(copy2) == 40 && fresh;
  const float *last = ok ? gpt2_logits(copy2, -1) : NULL;
  ok = ok && last && memcmp(last, gpt2_logits(copy, -1), (size_t)n_vocab * sizeof(float)) == 0;
  ok = ok && feed(copy2, b, 3) == GPT2_OK && feed(fresh, b, 18) == GPT2_OK && feed(fresh, b, 3) == GPT2_OK;
  CHECK(ok && same_logits(copy2, fresh, n_vocab), "context_copy with params (n_ctx 40, logits_all): the last "
        "logits, then every row of the next batch == a fresh run");
  q.n_ctx = 10;
  gpt2_context *bad = (gpt2_context *)&bad;
  CHECK(gpt2_context_copy(copy, &q, &bad) == GPT2_E_RANGE && bad == NULL,
        "context_copy: n_ctx below the source's position is GPT2_E_RANGE, *out NULL");
  q.n_ctx = 0;
  q.kv_type = GPT2_KV_F16;
  CHECK(gpt2_context_copy(copy, &q, &bad) == GPT2_E_INVALID, "context_copy: another kv_type is GPT2_E_INVALID");
  CHECK(gpt2_context_copy(NULL, NULL, &bad) == GPT2_E_INVALID && gpt2_context_copy(copy, NULL, NULL) == GPT2_E_INVALID,
        "context_copy: NULL source or out is GPT2_E_INVALID");
  gpt2_context_free(src);
  gpt2_context_free(copy);
  gpt2_context_free(copy2);
  gpt2_context_free(fresh);
  gpt2_context_free(fresh_a);
  gpt2_context_free(fresh_b);
}

static void test_state(const gpt2_model *model, const gpt2_model *other) {
  int n_vocab = gpt2_n_vocab(model);
  gpt2_token seq[48];
  random_tokens(seq, 48, n_vocab);
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.seed = 99;
  p.n_threads = 2;
  gpt2_context *orig = new_context(model, &p), *more = new_context(model, &p);
  p.seed = 100; /* the RNG state comes from the blob */
  gpt2_context *loaded = new_context(model, &p);
  int ok = orig && loaded && more && feed(orig, seq, 9) == GPT2_OK && feed(orig, seq, 1) == GPT2_OK;
  gpt2_token drawn;
  for (int i = 0; i < 3; i++) ok = ok && gpt2_sample(orig, NULL, &drawn) == GPT2_OK;
  size_t need = 0, len = 0;
  CHECK(ok && gpt2_state_save(orig, NULL, 0, &need) == GPT2_E_BUFFER && need > 0,
        "state_save: cap 0 asks the size (%zu bytes at 10 positions)", need);
  unsigned char *blob = malloc(need);
  CHECK(blob && gpt2_state_save(orig, blob, need - 1, &len) == GPT2_E_BUFFER && len == need,
        "state_save: one byte short is GPT2_E_BUFFER with the size");
  ok = ok && blob && gpt2_state_save(orig, blob, need, &len) == GPT2_OK && len == need;
  ok = ok && gpt2_state_load(loaded, blob, len) == GPT2_OK;
  gpt2_token ta = -1, tb = -2;
  ok = ok && gpt2_sample(orig, NULL, &ta) == GPT2_OK && gpt2_sample(loaded, NULL, &tb) == GPT2_OK && ta == tb;
  ok = ok && feed(orig, seq, 7) == GPT2_OK && feed(loaded, seq, 7) == GPT2_OK;
  CHECK(ok && same_logits(orig, loaded, n_vocab), "state: saved, loaded into a fresh context, continued == the "
        "original (same sample, then bitwise logits)");
  /* over a context holding more positions */
  ok = feed(more, seq, 30) == GPT2_OK && gpt2_state_load(more, blob, len) == GPT2_OK && gpt2_pos(more) == 10;
  ok = ok && feed(more, seq, 7) == GPT2_OK;
  CHECK(ok && same_logits(more, loaded, n_vocab), "state: loaded over a context with 30 positions: 10, and "
        "continuing == the original");

  /* every cut and flipped byte: GPT2_E_FORMAT, the context unchanged */
  size_t before_len;
  unsigned char *before = snapshot(more, &before_len);
  size_t cuts_wrong = 0, flips_wrong = 0;
  for (size_t cut = 0; cut < len; cut++)
    cuts_wrong += gpt2_state_load(more, blob, cut) != GPT2_E_FORMAT;
  for (size_t at = 0; at < len; at++) {
    unsigned char saved = blob[at];
    blob[at] ^= (unsigned char)(1u << (at % 8));
    flips_wrong += gpt2_state_load(more, blob, len) != GPT2_E_FORMAT;
    blob[at] = saved;
  }
  CHECK(cuts_wrong == 0 && same_state(more, before, before_len),
        "state_load: every one of %zu cuts is GPT2_E_FORMAT, the context unchanged (%zu wrong)", len, cuts_wrong);
  CHECK(flips_wrong == 0 && same_state(more, before, before_len),
        "state_load: a flipped bit in each of %zu bytes is GPT2_E_FORMAT, the context unchanged (%zu wrong)", len,
        flips_wrong);
  gpt2_context *foreign = new_context(other, NULL);
  CHECK(foreign && gpt2_state_load(foreign, blob, len) == GPT2_E_FORMAT && gpt2_pos(foreign) == 0,
        "state_load: state of another model (other weight types) is GPT2_E_FORMAT");
  gpt2_context_params small = p;
  small.n_ctx = 8;
  gpt2_context_params half = p;
  half.kv_type = GPT2_KV_F16;
  gpt2_context *tight = new_context(model, &small), *f16 = new_context(model, &half);
  CHECK(tight && gpt2_state_load(tight, blob, len) == GPT2_E_RANGE && gpt2_pos(tight) == 0,
        "state_load: 10 positions into n_ctx 8 is GPT2_E_RANGE");
  CHECK(f16 && gpt2_state_load(f16, blob, len) == GPT2_E_FORMAT && gpt2_pos(f16) == 0,
        "state_load: F32 cache rows into an F16 context are GPT2_E_FORMAT");
  CHECK(gpt2_state_load(more, NULL, 5) == GPT2_E_INVALID && gpt2_state_load(NULL, blob, len) == GPT2_E_INVALID &&
            same_state(more, before, before_len),
        "state_load: NULL arguments are GPT2_E_INVALID");
  free(before);

  /* at position 0: no positions, no logits */
  gpt2_context *empty = new_context(model, &p);
  unsigned char *zero = empty ? snapshot(empty, &need) : NULL;
  ok = zero && gpt2_state_load(more, zero, need) == GPT2_OK && gpt2_pos(more) == 0 && !gpt2_logits(more, -1);
  gpt2_token t;
  ok = ok && gpt2_sample(more, NULL, &t) == GPT2_E_STATE && feed(more, seq, 5) == GPT2_OK;
  gpt2_context *fresh = new_context(model, &p);
  ok = ok && fresh && feed(fresh, seq, 5) == GPT2_OK;
  CHECK(ok && same_logits(more, fresh, n_vocab), "state: saved at position 0 and loaded: empty, then == a fresh run");
  free(zero);
  free(blob);
  gpt2_context_free(empty);
  gpt2_context_free(fresh);
  gpt2_context_free(tight);
  gpt2_context_free(f16);
  gpt2_context_free(foreign);
  gpt2_context_free(orig);
  gpt2_context_free(loaded);
  gpt2_context_free(more);
}

typedef struct abort_counter {
  int calls, stop_at; /* stop at the stop_at-th call (1-based); 0: never */
} abort_counter;

static int abort_at(void *data) {
  abort_counter *c = data;
  return ++c->calls == c->stop_at;
}

static void test_abort(const gpt2_model *model) {
  int n_vocab = gpt2_n_vocab(model), n_layer = gpt2_n_layer(model);
  enum { N = 3 };
  abort_counter counter = {0, 0};
  gpt2_context *ctxs[N], *plain[N];
  gpt2_token prompt[N][40];
  const gpt2_token *ptrs[N];
  size_t n[N] = {3, 1, 40};
  int ok = 1;
  for (int i = 0; i < N; i++) {
    gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
    p.n_threads = 2;
    p.logits_all = i == 2;
    plain[i] = new_context(model, &p);
    if (i == 1) p.abort_callback = abort_at, p.abort_data = &counter; /* only the second asks */
    ctxs[i] = new_context(model, &p);
    random_tokens(prompt[i], 40, n_vocab);
    ptrs[i] = prompt[i];
    ok &= ctxs[i] && plain[i] && gpt2_eval(ctxs[i], prompt[i], 2) == GPT2_OK &&
          gpt2_eval(plain[i], prompt[i], 2) == GPT2_OK;
  }
  unsigned char *before[N];
  size_t before_len[N];
  for (int i = 0; i < N; i++) before[i] = snapshot(ctxs[i], &before_len[i]);
  int aborted_right = 1;
  for (int k = 1; k <= n_layer; k++) {
    counter = (abort_counter){0, k};
    aborted_right &= gpt2_eval_batch(ctxs, ptrs, n, N) == GPT2_E_ABORTED;
    for (int i = 0; i < N; i++) aborted_right &= same_state(ctxs[i], before[i], before_len[i]);
  }
  CHECK(ok && aborted_right, "abort: a callback stopping before each of the %d layers gives GPT2_E_ABORTED, every "
        "context as before (position, history, cache rows, logits, RNG)", n_layer);
  counter = (abort_counter){0, 0};
  ok = ok && gpt2_eval_batch(ctxs, ptrs, n, N) == GPT2_OK && counter.calls == n_layer;
  for (int i = 0; i < N; i++)
    ok = ok && gpt2_eval(plain[i], prompt[i], n[i]) == GPT2_OK && same_logits(ctxs[i], plain[i], n_vocab);
  CHECK(ok, "abort: then the same batch runs (the callback asked %d times, once per layer) and == plain runs",
        counter.calls);
  counter = (abort_counter){0, 1};
  CHECK(gpt2_eval(ctxs[1], prompt[1], 1) == GPT2_E_ABORTED && same_logits(ctxs[1], plain[1], n_vocab),
        "abort: gpt2_eval asks the callback too and stays unchanged");
  for (int i = 0; i < N; i++) {
    free(before[i]);
    gpt2_context_free(ctxs[i]);
    gpt2_context_free(plain[i]);
  }
}

static void test_errors(const gpt2_model *model, const gpt2_model *other) {
  int n_vocab = gpt2_n_vocab(model);
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.n_ctx = 16;
  gpt2_context *a = new_context(model, &p), *b = new_context(model, &p), *c = new_context(other, NULL);
  gpt2_token tokens[20] = {1, 2, 3, 4};
  int ok = a && b && c && gpt2_eval(a, tokens, 4) == GPT2_OK && gpt2_eval(b, tokens, 2) == GPT2_OK;
  size_t a_len, b_len;
  unsigned char *a_before = snapshot(a, &a_len), *b_before = snapshot(b, &b_len);
  gpt2_context *pair[2] = {a, b}, *twice[2] = {a, a}, *models[2] = {a, c}, *with_null[2] = {a, NULL};
  gpt2_token bad[1] = {(gpt2_token)n_vocab};
  const gpt2_token *ptrs[2] = {tokens, tokens}, *bad_id[2] = {tokens, bad}, *null_tokens[2] = {tokens, NULL};
  size_t n[2] = {1, 1}, none[2] = {0, 0}, past[2] = {1, 15}, bad_n[2] = {1, 1};
  struct {
    const char *what;
    int status;
  } cases[] = {
      {"NULL contexts array", gpt2_eval_batch(NULL, ptrs, n, 2) == GPT2_E_INVALID},
      {"NULL tokens array", gpt2_eval_batch(pair, NULL, n, 2) == GPT2_E_INVALID},
      {"NULL counts array", gpt2_eval_batch(pair, ptrs, NULL, 2) == GPT2_E_INVALID},
      {"n_ctxs 0", gpt2_eval_batch(pair, ptrs, n, 0) == GPT2_E_INVALID},
      {"n_ctxs SIZE_MAX", gpt2_eval_batch(pair, ptrs, n, (size_t)-1) == GPT2_E_INVALID},
      {"a context twice", gpt2_eval_batch(twice, ptrs, n, 2) == GPT2_E_INVALID},
      {"contexts of two models", gpt2_eval_batch(models, ptrs, n, 2) == GPT2_E_INVALID},
      {"a NULL context", gpt2_eval_batch(with_null, ptrs, n, 2) == GPT2_E_INVALID},
      {"NULL tokens with a count", gpt2_eval_batch(pair, null_tokens, n, 2) == GPT2_E_INVALID},
      {"no tokens at all", gpt2_eval_batch(pair, ptrs, none, 2) == GPT2_E_INVALID},
      {"a position past n_ctx", gpt2_eval_batch(pair, ptrs, past, 2) == GPT2_E_RANGE},
      {"a bad id", gpt2_eval_batch(pair, bad_id, bad_n, 2) == GPT2_E_RANGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK(ok && cases[i].status && same_state(a, a_before, a_len) && same_state(b, b_before, b_len),
          "eval_batch: %s is refused with its code, no context changed", cases[i].what);
  CHECK(gpt2_eval_batch(twice, ptrs, none, 2) == GPT2_E_INVALID && gpt2_eval_batch(pair, ptrs, n, 2) == GPT2_OK,
        "eval_batch: a refused duplicate leaves no mark (the pair then runs)");
  free(a_before);
  free(b_before);
  gpt2_context_free(a);
  gpt2_context_free(b);
  gpt2_context_free(c);
}

/* Resident bytes of this process (Linux /proc/self/statm), 0 if unknown. */
static size_t resident_bytes(void) {
  FILE *file = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  int n = file ? fscanf(file, "%lu %lu", &size, &resident) : 0;
  if (file) fclose(file);
  return n == 2 ? resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* 64 contexts of the model's full n_ctx holding 10 positions each: the
   caches must cost resident memory for the positions in use, not n_ctx. */
static void test_kv_memory(const gpt2_model *model) {
  enum { N = 64, USED = 10 };
  size_t n_ctx = (size_t)gpt2_n_ctx_train(model), full = 2 * (size_t)gpt2_n_layer(model) * n_ctx *
                                                        (size_t)gpt2_n_embd(model) * sizeof(float);
  if (resident_bytes() == 0 || getenv("GPT2_TEST_SANITIZER")) {
    SKIP("KV cache memory by positions used: no /proc/self/statm, or a sanitizer's allocator");
    return;
  }
  gpt2_context *ctxs[N] = {0};
  gpt2_token tokens[N][USED];
  const gpt2_token *ptrs[N];
  size_t counts[N];
  size_t before = resident_bytes();
  int ok = 1;
  for (int i = 0; i < N; i++) {
    gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
    p.n_threads = 1;
    ctxs[i] = new_context(model, &p);
    ok &= ctxs[i] != NULL;
    random_tokens(tokens[i], USED, gpt2_n_vocab(model));
    ptrs[i] = tokens[i];
    counts[i] = USED;
  }
  ok = ok && gpt2_eval_batch(ctxs, ptrs, counts, N) == GPT2_OK;
  size_t grown = resident_bytes() - before;
  /* Measured 20.3 MiB: the caches' 10 positions (6 MiB in 4 KiB pages),
     the batch's scratch (about 5 MiB for 512 tokens), logits, histories
     and malloc's heap. Full caches are 64 x 2 MiB = 128 MiB more: the
     resident set grew by 148 MiB when a plain calloc came back from a
     heap that had held large blocks (glibc zeroes those with memset) and
     with a planted memset of each cache at creation. A quarter of the full
     caches is the bound. */
  CHECK(ok && grown < N * full / 4, "KV memory: %d contexts of n_ctx %zu holding %d positions grew the resident "
        "set by %.1f MiB (full caches: %.1f MiB)", N, n_ctx, USED, grown / 1048576.0, N * full / 1048576.0);
  for (int i = 0; i < N; i++) gpt2_context_free(ctxs[i]);
}

int main(void) {
  test_tables_and_types();
  test_llamacpp_files();
  random_seed(42);
  gpt2_model *tiny = load("tiny", &weight_cases[0], NULL), *tiny_q8 = load("tiny", &weight_cases[4], NULL);
  if (tiny && tiny_q8) {
    test_copy(tiny);
    test_state(tiny, tiny_q8);
    test_abort(tiny);
    test_errors(tiny, tiny_q8);
  }
  gpt2_model_free(tiny);
  gpt2_model_free(tiny_q8);
  gpt2_model *mid = load("mid", &weight_cases[0], NULL);
  if (mid) test_kv_memory(mid);
  gpt2_model_free(mid);
  HARNESS_EXIT();
}
