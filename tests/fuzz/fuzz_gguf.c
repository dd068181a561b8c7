/* The GGUF reader on arbitrary bytes, in two steps:
   1. the structural parser (g2_gguf_parse): a file fails with a message, or
      every key's value and every tensor's data lies inside the file and the
      typed accessors read only there;
   2. the whole loader (gpt2_load on the same bytes as a file): a model or an
      error, nothing leaked; a model that loads tokenizes and evaluates a
      token, its logits finite or not but never out of bounds. */
#include "format/gguf.h"
#include "fuzz_common.h"

/* Peak allocation of a parse or a load: at most 4 x the file's size (+ the
   fixed slack). Measured over the replayed corpus: at most 1.09 x (the
   256 KiB token of gguf_bad/hostile_long_token.gguf; smaller files stay
   within the slack); the BPE run over every token that issue 19 removed
   made that file cost 39.9 x. */
#define FUZZ_GGUF_PEAK_RATIO 4

static void check_structure(const g2_gguf *gguf, const uint8_t *data, size_t size) {
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < gguf->n_kv; i++) {
    const g2_gguf_kv *kv = &gguf->kv[i];
    if (kv->key.ptr < (const char *)data || kv->key.len > size ||
        kv->key.ptr + kv->key.len > (const char *)data + size)
      fuzz_fail("key %zu outside the file", i);
    if (kv->value > size) fuzz_fail("key %zu: value offset %zu past the file", i, kv->value);
    uint64_t number;
    double real;
    g2_str text;
    g2_str *strings = NULL;
    /* Each accessor either rejects the type or reads inside the file. */
    if (g2_gguf_uint(gguf, kv, UINT64_MAX, &number) == GPT2_OK) sink ^= (uint8_t)number;
    if (g2_gguf_float(gguf, kv, &real) == GPT2_OK) sink ^= (uint8_t)(real == real);
    if (g2_gguf_string(gguf, kv, &text) == GPT2_OK) {
      if (text.ptr < (const char *)data || text.len > size || text.ptr + text.len > (const char *)data + size)
        fuzz_fail("string value of key %zu outside the file", i);
      if (text.len) sink ^= (uint8_t)text.ptr[text.len - 1];
    }
    if (g2_gguf_strings(gguf, kv, &strings) == GPT2_OK) {
      for (uint64_t j = 0; j < kv->count; j++) {
        if (strings[j].ptr < (const char *)data || strings[j].len > size ||
            strings[j].ptr + strings[j].len > (const char *)data + size)
          fuzz_fail("string %llu of key %zu outside the file", (unsigned long long)j, i);
        if (strings[j].len) sink ^= (uint8_t)strings[j].ptr[strings[j].len - 1];
      }
      g2_free(strings);
    }
  }
  for (size_t i = 0; i < gguf->n_tensors; i++) {
    const g2_gguf_tensor *t = &gguf->tensors[i];
    if (t->offset < gguf->data_offset || t->offset > size || t->n_bytes > size - t->offset)
      fuzz_fail("tensor %zu: data outside the file", i);
    if (t->offset % gguf->alignment != gguf->data_offset % gguf->alignment)
      fuzz_fail("tensor %zu: misaligned data", i);
    if (t->n_bytes) sink ^= data[t->offset] ^ data[t->offset + t->n_bytes - 1];
    if (t->n_dims < 1 || t->n_dims > G2_GGUF_MAX_DIMS) fuzz_fail("tensor %zu: %u dims", i, t->n_dims);
    for (int d = 0; d < G2_GGUF_MAX_DIMS; d++)
      if (t->ne[d] < 0) fuzz_fail("tensor %zu: negative dimension", i);
  }
  (void)sink;
}

static void check_model(gpt2_model *model) {
  int n_vocab = gpt2_n_vocab(model);
  if (n_vocab <= 0 || gpt2_n_ctx_train(model) <= 0) fuzz_fail("loaded model with n_vocab %d", n_vocab);
  gpt2_token tokens[64];
  size_t n = 0;
  static const char text[] = "Hello, world! \xe2\x82\xac 123";
  int status = gpt2_tokenize(model, text, sizeof text - 1, GPT2_TOKENIZE_SPECIAL, tokens, 64, &n);
  if (status != GPT2_OK && status != GPT2_E_BUFFER) fuzz_fail("tokenize on a loaded model: %d", status);
  for (size_t i = 0; status == GPT2_OK && i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= n_vocab) fuzz_fail("token %d out of range", tokens[i]);
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_ctx = 2;
  params.n_threads = 1;
  gpt2_context *ctx = NULL;
  if (gpt2_context_new(model, &params, &ctx) != GPT2_OK) return; /* n_ctx_train of 1 */
  gpt2_token first = n > 0 && status == GPT2_OK ? tokens[0] : 0;
  if (gpt2_eval(ctx, &first, 1) != GPT2_OK) fuzz_fail("eval of token %d: %s", first, gpt2_last_error());
  const float *logits = gpt2_logits(ctx, -1);
  volatile float sum = 0;
  for (int i = 0; logits && i < n_vocab; i++) sum += logits[i];
  (void)sum;
  gpt2_token next;
  gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
  greedy.temperature = 0;
  /* weights from the file may be NaN: then sampling refuses, never crashes */
  if (gpt2_sample(ctx, &greedy, &next) == GPT2_OK && (next < 0 || next >= n_vocab))
    fuzz_fail("sampled token %d out of range", next);
  gpt2_context_free(ctx);
}

int fuzz_gguf(const uint8_t *data, size_t size) {
  long live = g2_alloc_live_blocks();
  size_t base = g2_alloc_peak_reset();
  g2_gguf gguf;
  int status = g2_gguf_parse(data, size, "fuzz.gguf", &gguf);
  fuzz_check_peak(base, size, FUZZ_GGUF_PEAK_RATIO, "g2_gguf_parse");
  if (status == GPT2_OK) {
    check_structure(&gguf, data, size);
  } else {
    if (gguf.kv || gguf.tensors) fuzz_fail("failed parse left arrays");
    if (status != GPT2_E_FORMAT && status != GPT2_E_UNSUPPORTED && status != GPT2_E_NOMEM)
      fuzz_fail("parse returned %d", status);
    fuzz_check_error_message(status, "g2_gguf_parse");
  }
  g2_gguf_free(&gguf);
  fuzz_check_no_leak(live, "g2_gguf_parse");

  /* The loader needs a file; only inputs the parser accepts get further
     than the parser, so skip the others' file round trip. */
  if (status != GPT2_OK) return 0;
  int fd;
  char path[64];
  if (!fuzz_memory_file(data, size, &fd, path, sizeof path)) return 0;
  gpt2_model *model = (gpt2_model *)path; /* must be overwritten */
  base = g2_alloc_peak_reset();
  status = gpt2_load(path, NULL, &model);
  fuzz_check_peak(base, size, FUZZ_GGUF_PEAK_RATIO, "gpt2_load");
  close(fd);
  if (status == GPT2_OK) {
    check_model(model);
    gpt2_model_free(model);
  } else {
    if (model) fuzz_fail("failed load left a model");
    fuzz_check_error_message(status, "gpt2_load");
  }
  fuzz_check_no_leak(live, "gpt2_load");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_gguf(data, size); }
#endif
