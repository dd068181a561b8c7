/* gpt2_tokenize on arbitrary bytes (invalid UTF-8, NULs, lone surrogates,
   "<|endoftext|>" pieces, long runs): every id is in the vocabulary,
   detokenizing gives the input bytes back exactly, the size query and a
   too-small buffer report the same count, and nothing leaks. Runs on
   GPT-2's own 50,257-token vocabulary (internal g2_tokenize) and through
   the public API on the tiny test model. The first input byte chooses the
   flags. */
#include "fuzz_common.h"

static void round_trip(const char *what, const g2_tokenizer *tok, gpt2_model *model,
                       const char *text, size_t len, unsigned flags) {
  size_t n = 0;
  int status = tok ? g2_tokenize(tok, text, len, flags, NULL, 0, &n)
                   : gpt2_tokenize(model, text, len, flags, NULL, 0, &n);
  if (status != GPT2_OK && !(status == GPT2_E_BUFFER && n > 0)) {
    fuzz_fail("%s: size query returned %d (%s)", what, status, gpt2_last_error());
    return;
  }
  int32_t *ids = malloc((n + 1) * sizeof *ids);
  size_t n_again = 0;
  status = tok ? g2_tokenize(tok, text, len, flags, ids, n, &n_again)
               : gpt2_tokenize(model, text, len, flags, ids, n, &n_again);
  if (status != GPT2_OK || n_again != n) fuzz_fail("%s: %zu tokens, then %d with %zu", what, n, status, n_again);
  if (n > 0) {
    size_t n_short = 0;
    status = tok ? g2_tokenize(tok, text, len, flags, ids, n - 1, &n_short)
                 : gpt2_tokenize(model, text, len, flags, ids, n - 1, &n_short);
    if (status != GPT2_E_BUFFER || n_short != n) fuzz_fail("%s: a buffer one short gave %d, count %zu", what, status, n_short);
    status = tok ? g2_tokenize(tok, text, len, flags, ids, n, &n_again)
                 : gpt2_tokenize(model, text, len, flags, ids, n, &n_again);
  }
  size_t n_vocab = tok ? g2_tokenizer_n_tokens(tok) : (size_t)gpt2_n_vocab(model);
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || (size_t)ids[i] >= n_vocab) fuzz_fail("%s: token %zu is %d", what, i, ids[i]);
  /* Every token holds at least one byte, so there are never more tokens
     than bytes; and the bytes come back exactly. */
  if (n > len) fuzz_fail("%s: %zu tokens for %zu bytes", what, n, len);
  char *back = malloc(len + 1);
  size_t n_back = 0;
  status = tok ? g2_detokenize(tok, ids, n, back, len, &n_back)
               : gpt2_detokenize(model, ids, n, back, len, &n_back);
  if (status != GPT2_OK || n_back != len || memcmp(back, text, len) != 0)
    fuzz_fail("%s: detokenize gives %zu bytes (status %d), not the %zu of the input", what, n_back, status, len);
  free(back);
  free(ids);
}

int fuzz_tokenize(const uint8_t *data, size_t size) {
  const g2_tokenizer *gpt2 = fuzz_gpt2_tokenizer();
  gpt2_model *tiny = fuzz_model();
  if (size == 0) return 0;
  unsigned flags = data[0] & 1 ? GPT2_TOKENIZE_SPECIAL : 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  long live = g2_alloc_live_blocks();
  round_trip("gpt2 vocabulary", gpt2, NULL, text, len, flags);
  round_trip("tiny model", NULL, tiny, text, len, flags);
  fuzz_check_no_leak(live, "tokenize");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tokenize(data, size); }
#endif
