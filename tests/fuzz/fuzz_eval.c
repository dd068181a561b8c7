/* gpt2_eval / gpt2_sample / gpt2_truncate / gpt2_logits on the tiny test
   model, driven by the input as a sequence of calls with arbitrary token
   ids (negative, past the vocabulary), batch sizes (0, past n_ctx) and
   sampling parameters (NaN, infinities, negatives, denormals, logit biases
   on bad ids, odd struct sizes); then the sampler core g2_sample_logits on
   arbitrary logits. Checked after every call: the status is the documented
   one, a failed call changes nothing (position, RNG, output), logits are
   finite, sampled ids are in the vocabulary, greedy is the argmax. */
#include <stddef.h>

#include "fuzz_common.h"
#include "model/context.h"
#include "sample/sample.h"

enum { MAX_CALLS = 48, MAX_BATCH = 9, MAX_BIAS = 4 };

static int32_t fuzz_token(fuzz_input *in, int32_t n_vocab) {
  uint8_t kind = fuzz_u8(in);
  uint32_t raw = fuzz_u32(in);
  if (kind == 0) return -(int32_t)(raw % 1000) - 1;      /* negative */
  if (kind == 1) return n_vocab + (int32_t)(raw % 1000); /* past the vocabulary */
  if (kind == 2) return (int32_t)raw;                    /* anything */
  return (int32_t)(raw % (uint32_t)n_vocab);
}

/* Sampling parameters, each field either the default or fuzzed. */
static void fuzz_sample_params(fuzz_input *in, int32_t n_vocab, gpt2_sample_params *p,
                               gpt2_logit_bias *bias) {
  *p = (gpt2_sample_params)GPT2_SAMPLE_PARAMS_INIT;
  uint32_t which = fuzz_u32(in);
  if (which & 1) p->temperature = fuzz_float(in);
  if (which & 2) p->top_k = (int32_t)fuzz_u32(in) % 1000;
  if (which & 4) p->top_p = fuzz_float(in);
  if (which & 8) p->min_p = fuzz_float(in);
  if (which & 16) p->repetition_penalty = fuzz_float(in);
  if (which & 32) p->repeat_last_n = (int8_t)fuzz_u8(in);
  if (which & 64) p->presence_penalty = fuzz_float(in);
  if (which & 128) p->frequency_penalty = fuzz_float(in);
  if (which & 256) {
    p->n_logit_bias = fuzz_u8(in) % (MAX_BIAS + 1);
    for (uint32_t i = 0; i < p->n_logit_bias; i++) bias[i] = (gpt2_logit_bias){fuzz_token(in, n_vocab), fuzz_float(in)};
    p->logit_bias = which & 512 ? NULL : bias; /* NULL with a count is invalid */
  }
}

/* Whether g2_sample_params_check would accept p (as documented in gpt2.h). */
static int params_valid(const gpt2_sample_params *p, int32_t n_vocab) {
  int ok = p->temperature >= 0 && !isinf(p->temperature) && p->top_k >= 0 && p->top_p >= 0 &&
           p->top_p <= 1 && p->min_p >= 0 && p->min_p <= 1 && p->repetition_penalty > 0 &&
           !isinf(p->repetition_penalty) && p->repeat_last_n >= -1 && isfinite(p->presence_penalty) &&
           isfinite(p->frequency_penalty) && (p->logit_bias || !p->n_logit_bias);
  for (uint32_t i = 0; ok && i < p->n_logit_bias; i++)
    ok = p->logit_bias[i].token >= 0 && p->logit_bias[i].token < n_vocab &&
         !isnan(p->logit_bias[i].bias) && p->logit_bias[i].bias != INFINITY;
  return ok;
}

static void call_eval(fuzz_input *in, gpt2_context *ctx, int32_t n_vocab) {
  gpt2_token tokens[MAX_BATCH];
  size_t n = fuzz_u8(in) % (MAX_BATCH + 1);
  int bad_id = 0;
  for (size_t i = 0; i < n; i++) {
    tokens[i] = fuzz_token(in, n_vocab);
    bad_id |= tokens[i] < 0 || tokens[i] >= n_vocab;
  }
  size_t pos = gpt2_pos(ctx);
  const float *logits_before = gpt2_logits(ctx, -1);
  int status = gpt2_eval(ctx, tokens, n);
  int expected = n == 0 ? GPT2_E_INVALID : n > gpt2_n_ctx(ctx) - pos || bad_id ? GPT2_E_RANGE : GPT2_OK;
  if (status != expected)
    fuzz_fail("eval of %zu tokens at %zu (n_ctx %zu, bad id %d) gave %d", n, pos, gpt2_n_ctx(ctx), bad_id, status);
  if (status != GPT2_OK) {
    fuzz_check_error_message(status, "gpt2_eval");
    if (gpt2_pos(ctx) != pos || gpt2_logits(ctx, -1) != logits_before) fuzz_fail("failed eval changed the context");
    return;
  }
  if (gpt2_pos(ctx) != pos + n) fuzz_fail("eval of %zu at %zu: position %zu", n, pos, gpt2_pos(ctx));
  const float *logits = gpt2_logits(ctx, -1);
  if (!logits) {
    fuzz_fail("no logits after eval");
    return;
  }
  for (int32_t i = 0; i < n_vocab; i++)
    if (!isfinite(logits[i])) fuzz_fail("logit %d is %g", i, logits[i]);
}

static void call_sample(fuzz_input *in, gpt2_context *ctx, int32_t n_vocab) {
  gpt2_sample_params p;
  gpt2_logit_bias bias[MAX_BIAS];
  fuzz_sample_params(in, n_vocab, &p, bias);
  /* The struct as a program of another version passes it: 0 as is, 1
     smaller (older program), 2 larger with a zero tail, 3 larger with a
     set tail (newer program asking for more), 4 NULL (defaults). */
  unsigned char storage[sizeof p + 16] = {0};
  memcpy(storage, &p, sizeof p);
  uint32_t size = (uint32_t)sizeof p;
  uint8_t size_kind = fuzz_u8(in) % 5;
  if (size_kind == 1) size = (uint32_t)(fuzz_u8(in) % sizeof p);
  if (size_kind == 2 || size_kind == 3) size = (uint32_t)sizeof storage;
  if (size_kind == 3) storage[sizeof p + fuzz_u8(in) % 16] = 1;
  memcpy(storage, &size, sizeof size);
  const gpt2_sample_params *params = size_kind == 4 ? NULL : (const gpt2_sample_params *)(void *)storage;

  uint64_t rng_before[4];
  memcpy(rng_before, ctx->rng_state, sizeof rng_before);
  gpt2_token token = -12345;
  int status = gpt2_sample(ctx, params, &token);

  int known = size_kind == 0 || size_kind == 2 || size_kind == 4; /* fields as in p (or defaults) */
  int valid = size_kind == 4 || params_valid(&p, n_vocab);
  int have_logits = gpt2_logits(ctx, -1) != NULL;
  const char *rule = NULL;
  if (size_kind == 3) rule = status == GPT2_E_INVALID ? NULL : "a set unknown tail must be refused";
  else if (size_kind == 1 && (size < 4 || (size > offsetof(gpt2_sample_params, logit_bias) &&
                                            size < offsetof(gpt2_sample_params, logit_bias) + sizeof(void *))))
    rule = status == GPT2_E_INVALID ? NULL : "a size below 4 or inside the pointer must be refused";
  else if (!have_logits) rule = status == GPT2_E_STATE ? NULL : "no logits must give GPT2_E_STATE";
  else if (known && !valid) rule = status == GPT2_E_INVALID || status == GPT2_E_RANGE ? NULL : "invalid parameters must be refused";
  else if (known) rule = status == GPT2_OK || status == GPT2_E_INVALID ? NULL : "valid parameters: a token, or GPT2_E_INVALID when every token is banned";
  else rule = status == GPT2_OK || status == GPT2_E_INVALID || status == GPT2_E_RANGE ? NULL : "unexpected status";
  if (rule) fuzz_fail("gpt2_sample (size kind %d) gave %d: %s (%s)", size_kind, status, rule, gpt2_last_error());

  if (status == GPT2_OK) {
    if (token < 0 || token >= n_vocab) fuzz_fail("sampled token %d", token);
  } else {
    fuzz_check_error_message(status, "gpt2_sample");
    if (token != -12345) fuzz_fail("failed sample wrote a token");
    if (memcmp(rng_before, ctx->rng_state, sizeof rng_before) != 0) fuzz_fail("failed sample moved the RNG");
  }
}

static void call_truncate(fuzz_input *in, gpt2_context *ctx) {
  size_t pos = gpt2_pos(ctx), to = fuzz_u8(in) % (pos + 3);
  int status = gpt2_truncate(ctx, to);
  if (to > pos ? status != GPT2_E_RANGE || gpt2_pos(ctx) != pos
               : status != GPT2_OK || gpt2_pos(ctx) != to || gpt2_logits(ctx, -1) != NULL)
    fuzz_fail("truncate to %zu at %zu gave %d", to, pos, status);
}

static void call_logits(fuzz_input *in, gpt2_context *ctx, int32_t n_vocab) {
  int32_t i = (int8_t)fuzz_u8(in);
  const float *logits = gpt2_logits(ctx, i);
  volatile float sink = 0;
  if (logits) sink += logits[0] + logits[n_vocab - 1]; /* ASan checks the row */
  (void)sink;
}

/* The sampler core on arbitrary logits (NaN, +-inf, ties) and history. */
static void call_sampler_core(fuzz_input *in) {
  float logits[17];
  gpt2_token history[8];
  size_t n_vocab = fuzz_u8(in) % 16 + 1, n_history = fuzz_u8(in) % 9;
  int nan_or_inf = 0;
  for (size_t i = 0; i < n_vocab; i++) {
    logits[i] = fuzz_float(in);
    nan_or_inf |= !(logits[i] < INFINITY);
  }
  for (size_t i = 0; i < n_history; i++) history[i] = fuzz_token(in, (int32_t)n_vocab);
  gpt2_sample_params p;
  gpt2_logit_bias bias[MAX_BIAS];
  fuzz_sample_params(in, (int32_t)n_vocab, &p, bias);
  uint64_t rng[4] = {fuzz_u32(in), 2, 3, 4};
  gpt2_token token = -12345;
  int status = g2_sample_logits(logits, n_vocab, history, n_history, &p, rng, &token);
  if (status != GPT2_OK) {
    if (token != -12345) fuzz_fail("failed sampler wrote a token");
    return;
  }
  if (token < 0 || (size_t)token >= n_vocab) fuzz_fail("sampler core gave token %d of %zu", token, n_vocab);
  if (nan_or_inf) fuzz_fail("sampler accepted a NaN or +inf logit");
  /* nothing brings a -inf logit back: penalties and biases keep it -inf
     (or make it NaN, which is refused) */
  if (!(logits[token] > -INFINITY)) fuzz_fail("sampler drew banned token %d", token);
  int plain = p.n_logit_bias == 0 && (n_history == 0 || p.repeat_last_n == 0 ||
                                      (p.repetition_penalty == 1 && p.presence_penalty == 0 && p.frequency_penalty == 0));
  if (p.temperature == 0 && plain) {
    size_t best = 0;
    for (size_t i = 1; i < n_vocab; i++)
      if (logits[i] > logits[best]) best = i;
    if ((size_t)token != best) fuzz_fail("greedy gave %d, the argmax is %zu", token, best);
  }
}

int fuzz_eval(const uint8_t *data, size_t size) {
  gpt2_model *model = fuzz_model();
  int32_t n_vocab = gpt2_n_vocab(model);
  fuzz_input in = {data, size, 0};
  long live = g2_alloc_live_blocks();

  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_ctx = fuzz_u8(&in) % (uint32_t)(gpt2_n_ctx_train(model) + 4);
  params.n_threads = fuzz_u8(&in) % 3;
  params.logits_all = fuzz_u8(&in) & 1;
  params.kv_type = fuzz_u8(&in) % 3; /* 2 is not a GPT2_KV_* */
  params.seed = fuzz_u32(&in);
  gpt2_context *ctx = (gpt2_context *)model; /* must be overwritten */
  int status = gpt2_context_new(model, &params, &ctx);
  int expected = params.n_ctx > (uint32_t)gpt2_n_ctx_train(model) ? GPT2_E_RANGE
                 : params.kv_type > GPT2_KV_F16                   ? GPT2_E_INVALID
                                                                  : GPT2_OK;
  if (status != expected) fuzz_fail("context_new gave %d, expected %d", status, expected);
  if (status != GPT2_OK) {
    if (ctx) fuzz_fail("failed context_new left a context");
    fuzz_check_no_leak(live, "gpt2_context_new");
    return 0;
  }
  for (int call = 0; call < MAX_CALLS && in.pos < in.size; call++) {
    switch (fuzz_u8(&in) % 5) {
      case 0: call_eval(&in, ctx, n_vocab); break;
      case 1: call_sample(&in, ctx, n_vocab); break;
      case 2: call_truncate(&in, ctx); break;
      case 3: call_logits(&in, ctx, n_vocab); break;
      default: call_sampler_core(&in); break;
    }
  }
  gpt2_context_free(ctx);
  fuzz_check_no_leak(live, "eval and sample");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_eval(data, size); }
#endif
