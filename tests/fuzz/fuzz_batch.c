/* gpt2_eval_batch on the tiny test model: up to 4 contexts (fuzzed n_ctx,
   KV type, logits_all, threads), then a sequence of calls whose arrays the
   input chooses: which contexts in which order (repeats, NULL entries,
   n_ctxs 0 or huge), how many tokens each (0, past n_ctx) and which ids
   (negative, past the vocabulary). Each context has a twin fed the same
   tokens alone by gpt2_eval. Checked after every call: the status is the
   one the rules of gpt2.h give; a failed call changes no context (their
   saved bytes); after a successful one every context's position and logits
   are bitwise its twin's; nothing leaks. Then each context is copied
   (gpt2_context_copy, see batch_check_copy). */
#include "fuzz_common.h"

enum { BATCH_CTXS = 4, BATCH_SLOTS = 6, BATCH_CALLS = 12, BATCH_TOKENS = 20 };

static unsigned char *batch_save(const gpt2_context *ctx, size_t *len) {
  size_t need = 0;
  gpt2_state_save(ctx, NULL, 0, &need);
  unsigned char *blob = malloc(need);
  if (!blob || gpt2_state_save(ctx, blob, need, len) != GPT2_OK) {
    fuzz_fail("gpt2_state_save failed");
    free(blob);
    return NULL;
  }
  return blob;
}

static int batch_same_logits(const gpt2_context *a, const gpt2_context *b, int32_t n_vocab) {
  if (gpt2_pos(a) != gpt2_pos(b)) return 0;
  for (int32_t i = -1; i < BATCH_TOKENS; i++) {
    const float *la = gpt2_logits(a, i), *lb = gpt2_logits(b, i);
    if (!la != !lb || (la && memcmp(la, lb, (size_t)n_vocab * sizeof(float)) != 0)) return 0;
  }
  return 1;
}

/* The status gpt2_eval_batch must give for these arrays (gpt2.h's rules,
   checked in its order: arguments, then each context in turn). */
static int batch_expected_status(gpt2_context *const *ctxs, const gpt2_token *const *tokens, const size_t *counts,
                           size_t n, int32_t n_vocab) {
  if (n == 0 || n > BATCH_SLOTS) return GPT2_E_INVALID;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (!ctxs[i]) return GPT2_E_INVALID;
    for (size_t j = 0; j < i; j++)
      if (ctxs[j] == ctxs[i]) return GPT2_E_INVALID;
    if (counts[i] > gpt2_n_ctx(ctxs[i]) - gpt2_pos(ctxs[i])) return GPT2_E_RANGE;
    for (size_t t = 0; t < counts[i]; t++)
      if (tokens[i][t] < 0 || tokens[i][t] >= n_vocab) return GPT2_E_RANGE;
    total += counts[i];
  }
  return total ? GPT2_OK : GPT2_E_INVALID;
}

/* gpt2_context_copy of a context the calls left in some state, with
   params the input picks: NULL (the copy saves to src's very bytes), src's
   KV type with some n_ctx (GPT2_E_RANGE below src's position, else src's
   position and last logits), or the other KV type (GPT2_E_INVALID). src is
   only read: its saved bytes do not change. */
static void batch_check_copy(gpt2_context *src, uint32_t kv_type, uint32_t n_ctx_model, int32_t n_vocab,
                             fuzz_input *in) {
  uint8_t kind = fuzz_u8(in) % 3;
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.n_ctx = 1 + fuzz_u8(in) % n_ctx_model;
  p.n_threads = 1;
  p.kv_type = kind == 2 ? 1 - kv_type : kv_type;
  int expected = kind == 0 ? GPT2_OK : kind == 2 ? GPT2_E_INVALID : p.n_ctx < gpt2_pos(src) ? GPT2_E_RANGE : GPT2_OK;
  size_t src_len = 0, after_len = 0, copy_len = 0;
  unsigned char *before = batch_save(src, &src_len);
  gpt2_context *copy = (gpt2_context *)src; /* must be overwritten */
  int status = gpt2_context_copy(src, kind == 0 ? NULL : &p, &copy);
  if (status != expected)
    fuzz_fail("context_copy (kind %u, n_ctx %u, src at %zu) gave %d, expected %d (%s)", kind, p.n_ctx,
              gpt2_pos(src), status, expected, gpt2_last_error());
  if (status != GPT2_OK) {
    if (copy) fuzz_fail("a failed context_copy left a context");
    fuzz_check_error_message(status, "gpt2_context_copy");
  } else if (kind == 0) {
    unsigned char *copied = batch_save(copy, &copy_len);
    if (copied && before && (copy_len != src_len || memcmp(copied, before, copy_len) != 0))
      fuzz_fail("a copy with src's params does not save to src's bytes");
    free(copied);
  } else {
    const float *a = gpt2_logits(src, -1), *b = gpt2_logits(copy, -1);
    if (gpt2_pos(copy) != gpt2_pos(src) || !a != !b || (a && memcmp(a, b, (size_t)n_vocab * sizeof *a) != 0))
      fuzz_fail("a copy with n_ctx %u lost src's position or last logits", p.n_ctx);
  }
  if (status == GPT2_OK) gpt2_context_free(copy);
  unsigned char *after = batch_save(src, &after_len);
  if (after && before && (after_len != src_len || memcmp(after, before, src_len) != 0))
    fuzz_fail("context_copy changed its source");
  free(after);
  free(before);
}

int fuzz_batch(const uint8_t *data, size_t size) {
  gpt2_model *model = fuzz_model();
  int32_t n_vocab = gpt2_n_vocab(model);
  uint32_t n_ctx_model = (uint32_t)gpt2_n_ctx_train(model);
  fuzz_input in = {data, size, 0};
  long live = g2_alloc_live_blocks();
  gpt2_context *ctxs[BATCH_CTXS] = {0}, *twins[BATCH_CTXS] = {0};
  uint32_t kv_types[BATCH_CTXS] = {0};
  size_t n_ctxs = 1 + fuzz_u8(&in) % BATCH_CTXS;
  for (size_t i = 0; i < n_ctxs; i++) {
    gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
    p.n_ctx = 1 + fuzz_u8(&in) % n_ctx_model;
    uint8_t flags = fuzz_u8(&in);
    p.kv_type = kv_types[i] = flags & 1;
    p.logits_all = (flags >> 1) & 1;
    p.n_threads = 1 + (flags >> 2) % 3;
    if (gpt2_context_new(model, &p, &ctxs[i]) != GPT2_OK) fuzz_fail("context_new: %s", gpt2_last_error());
    p.n_threads = 1;
    if (gpt2_context_new(model, &p, &twins[i]) != GPT2_OK) fuzz_fail("context_new: %s", gpt2_last_error());
    if (!ctxs[i] || !twins[i]) goto done;
  }
  size_t n_calls = fuzz_u8(&in) % (BATCH_CALLS + 1);
  for (size_t call = 0; call < n_calls; call++) {
    gpt2_context *slots[BATCH_SLOTS];
    gpt2_token tokens[BATCH_SLOTS][BATCH_TOKENS];
    const gpt2_token *token_ptrs[BATCH_SLOTS];
    size_t counts[BATCH_SLOTS];
    uint8_t shape = fuzz_u8(&in);
    size_t n = shape % (BATCH_SLOTS + 1); /* 0 is refused */
    for (size_t i = 0; i < n; i++) {
      uint8_t which = fuzz_u8(&in);
      slots[i] = which % 8 == 7 ? NULL : ctxs[which % n_ctxs]; /* repeats are likely */
      counts[i] = fuzz_u8(&in) % (BATCH_TOKENS + 1);
      for (size_t t = 0; t < counts[i]; t++) {
        uint8_t kind = fuzz_u8(&in);
        tokens[i][t] = kind == 255 ? -1 : kind == 254 ? n_vocab : (gpt2_token)((kind * 7u + t) % (uint32_t)n_vocab);
      }
      token_ptrs[i] = tokens[i];
    }
    size_t n_passed = shape >= 250 ? (size_t)-1 : n; /* a huge count */
    unsigned char *before[BATCH_CTXS];
    size_t before_len[BATCH_CTXS];
    for (size_t i = 0; i < n_ctxs; i++) before[i] = batch_save(ctxs[i], &before_len[i]);
    int expected = n_passed == (size_t)-1 ? GPT2_E_INVALID
                                          : batch_expected_status(slots, token_ptrs, counts, n, n_vocab);
    int status = gpt2_eval_batch(slots, token_ptrs, counts, n_passed);
    if (status != expected) fuzz_fail("eval_batch of %zu slots gave %d, expected %d (%s)", n, status, expected,
                                      gpt2_last_error());
    if (status != GPT2_OK) {
      fuzz_check_error_message(status, "gpt2_eval_batch");
      for (size_t i = 0; i < n_ctxs; i++) {
        size_t now_len = 0;
        unsigned char *now = batch_save(ctxs[i], &now_len);
        if (now && before[i] && (now_len != before_len[i] || memcmp(now, before[i], now_len) != 0))
          fuzz_fail("a failed eval_batch changed context %zu", i);
        free(now);
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        while (ctxs[c] != slots[i]) c++;
        if (counts[i] && gpt2_eval(twins[c], tokens[i], counts[i]) != GPT2_OK) fuzz_fail("twin eval failed");
      }
      for (size_t i = 0; i < n_ctxs; i++)
        if (!batch_same_logits(ctxs[i], twins[i], n_vocab)) fuzz_fail("context %zu differs from its twin alone", i);
    }
    for (size_t i = 0; i < n_ctxs; i++) free(before[i]);
  }

  for (size_t i = 0; i < n_ctxs; i++) batch_check_copy(ctxs[i], kv_types[i], n_ctx_model, n_vocab, &in);

done:
  for (size_t i = 0; i < n_ctxs; i++) {
    gpt2_context_free(ctxs[i]);
    gpt2_context_free(twins[i]);
  }
  fuzz_check_no_leak(live, "fuzz_batch");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_batch(data, size); }
#endif
