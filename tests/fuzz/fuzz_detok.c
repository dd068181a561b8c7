/* The streaming detokenizer on arbitrary token sequences and buffer sizes:
   pushing the tokens one at a time (retrying after GPT2_E_BUFFER with the
   size reported) and flushing gives exactly the bytes of gpt2_detokenize;
   a failed push changes nothing; at most 3 bytes are held back; and when
   the whole text is valid UTF-8, no push ever splits a character. Ids out
   of the vocabulary give GPT2_E_RANGE. Internal g2_detok on GPT-2's
   vocabulary (many tokens are partial UTF-8 sequences), then the public
   gpt2_detok on the tiny model. Input: pairs of (16-bit id, buffer cap). */
#include "fuzz_common.h"

static int valid_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
        (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
      return 0;
    i += len;
  }
  return 1;
}

typedef int (*push_fn)(void *state, int32_t id, char *out, size_t cap, size_t *n_out);
typedef int (*flush_fn)(void *state, char *out, size_t cap, size_t *n_out);

static int internal_push(void *s, int32_t id, char *out, size_t cap, size_t *n) { return g2_detok_push(s, id, out, cap, n); }
static int internal_flush(void *s, char *out, size_t cap, size_t *n) { return g2_detok_flush(s, out, cap, n); }
static int public_push(void *s, int32_t id, char *out, size_t cap, size_t *n) { return gpt2_detok_push(s, id, out, cap, n); }
static int public_flush(void *s, char *out, size_t cap, size_t *n) { return gpt2_detok_flush(s, out, cap, n); }

/* Streams ids[0..n) (some out of range) and compares with `expected`, the
   bytes of the valid ids. */
static void stream(const char *what, void *state, push_fn push, flush_fn flush, const int32_t *ids,
                   const uint8_t *caps, size_t n, size_t n_vocab, const char *expected, size_t expected_len) {
  char *got = malloc(expected_len + 1);
  size_t n_got = 0;
  int whole_valid = valid_utf8((const unsigned char *)expected, expected_len);
  char chunk[4096];
  for (size_t i = 0; i < n; i++) {
    size_t n_out = 99;
    int status = push(state, ids[i], chunk, caps[i] % 8, &n_out);
    if (ids[i] < 0 || (size_t)ids[i] >= n_vocab) {
      if (status != GPT2_E_RANGE) fuzz_fail("%s: push of bad id %d gave %d", what, ids[i], status);
      continue;
    }
    if (status == GPT2_E_BUFFER) {
      /* The state is unchanged: the same push with the size asked for works. */
      if (n_out <= (size_t)(caps[i] % 8) || n_out > sizeof chunk) fuzz_fail("%s: GPT2_E_BUFFER asking for %zu", what, n_out);
      size_t asked = n_out;
      status = push(state, ids[i], chunk, asked, &n_out);
      if (n_out != asked) fuzz_fail("%s: retry wrote %zu, asked %zu", what, n_out, asked);
    }
    if (status != GPT2_OK) {
      fuzz_fail("%s: push of %d gave %d", what, ids[i], status);
      break;
    }
    if (n_got + n_out > expected_len) {
      fuzz_fail("%s: more bytes than the tokens hold", what);
      break;
    }
    if (whole_valid && !valid_utf8((const unsigned char *)chunk, n_out))
      fuzz_fail("%s: push %zu emitted a split character", what, i);
    memcpy(got + n_got, chunk, n_out);
    n_got += n_out;
  }
  size_t n_out = 0;
  int status = flush(state, chunk, 0, &n_out);
  if (status == GPT2_E_BUFFER) status = flush(state, chunk, n_out, &n_out);
  if (status != GPT2_OK || n_out > 3 || n_got + n_out != expected_len) {
    fuzz_fail("%s: flush gave %d with %zu bytes", what, status, n_out);
  } else {
    memcpy(got + n_got, chunk, n_out);
    if (memcmp(got, expected, expected_len) != 0) fuzz_fail("%s: streamed bytes differ from gpt2_detokenize", what);
  }
  free(got);
}

static void run(const char *what, size_t n_vocab, const int32_t *ids, const uint8_t *caps, size_t n,
                const g2_tokenizer *tok, gpt2_model *model) {
  int32_t *valid = malloc((n + 1) * sizeof *valid);
  size_t n_valid = 0, len = 0;
  for (size_t i = 0; i < n; i++)
    if (ids[i] >= 0 && (size_t)ids[i] < n_vocab) valid[n_valid++] = ids[i];
  int status = tok ? g2_detokenize(tok, valid, n_valid, NULL, 0, &len)
                   : gpt2_detokenize(model, valid, n_valid, NULL, 0, &len);
  char *expected = malloc(len + 1);
  status = tok ? g2_detokenize(tok, valid, n_valid, expected, len, &len)
               : gpt2_detokenize(model, valid, n_valid, expected, len, &len);
  if (status != GPT2_OK) fuzz_fail("%s: detokenize gave %d", what, status);
  if (n_valid < n) {
    size_t dummy;
    status = tok ? g2_detokenize(tok, ids, n, expected, len, &dummy) : gpt2_detokenize(model, ids, n, expected, len, &dummy);
    if (status != GPT2_E_RANGE) fuzz_fail("%s: detokenize of a bad id gave %d", what, status);
    status = tok ? g2_detokenize(tok, valid, n_valid, expected, len, &dummy)
                 : gpt2_detokenize(model, valid, n_valid, expected, len, &dummy);
  }
  if (tok) {
    g2_detok state;
    g2_detok_init(&state, tok);
    stream(what, &state, internal_push, internal_flush, ids, caps, n, n_vocab, expected, len);
  } else {
    gpt2_detok *detok = NULL;
    if (gpt2_detok_new(model, &detok) != GPT2_OK) fuzz_fail("gpt2_detok_new failed");
    else stream(what, detok, public_push, public_flush, ids, caps, n, n_vocab, expected, len);
    gpt2_detok_free(detok);
  }
  free(expected);
  free(valid);
}

/* A token id from 16 input bits: 0xFFxx is a bad id (negative, or just
   past the vocabulary), anything else a valid one. */
static int32_t id_from(uint32_t raw, size_t n_vocab) {
  if (raw < 0xFF00) return (int32_t)(raw % n_vocab);
  return raw & 1 ? -(int32_t)(raw & 0xFF) - 1 : (int32_t)n_vocab + (int32_t)(raw & 0xF);
}

int fuzz_detok(const uint8_t *data, size_t size) {
  const g2_tokenizer *gpt2 = fuzz_gpt2_tokenizer();
  gpt2_model *tiny = fuzz_model();
  size_t n = size / 3;
  int32_t *gpt2_ids = malloc((n + 1) * sizeof *gpt2_ids), *tiny_ids = malloc((n + 1) * sizeof *tiny_ids);
  uint8_t *caps = malloc(n + 1);
  size_t gpt2_vocab = g2_tokenizer_n_tokens(gpt2), tiny_vocab = (size_t)gpt2_n_vocab(tiny);
  for (size_t i = 0; i < n; i++) {
    uint32_t raw = (uint32_t)data[3 * i] << 8 | data[3 * i + 1];
    gpt2_ids[i] = id_from(raw, gpt2_vocab);
    tiny_ids[i] = id_from(raw, tiny_vocab);
    caps[i] = data[3 * i + 2];
  }
  long live = g2_alloc_live_blocks();
  run("gpt2 vocabulary", gpt2_vocab, gpt2_ids, caps, n, gpt2, NULL);
  run("tiny model", tiny_vocab, tiny_ids, caps, n, NULL, tiny);
  fuzz_check_no_leak(live, "detok");
  free(gpt2_ids);
  free(tiny_ids);
  free(caps);
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_detok(data, size); }
#endif
