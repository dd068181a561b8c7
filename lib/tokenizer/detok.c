/* Token ids back to bytes: all at once, or streamed so that the caller
   only ever sees whole UTF-8 characters. */
#include <string.h>

#include "core/error.h"
#include "gpt2.h"
#include "tokenizer/vocab.h"

int g2_detokenize(const g2_tokenizer *tok, const int32_t *ids, size_t n,
                  char *out, size_t cap, size_t *n_out) {
  if (n_out) *n_out = 0;
  if (!tok || (!ids && n) || !n_out || (!out && cap))
    return g2_fail(GPT2_E_INVALID, "detokenize: NULL argument");
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= tok->n_tokens)
      return g2_fail(GPT2_E_RANGE, "detokenize: token %zu is %d, not in [0, %zu)",
                     i, (int)ids[i], tok->n_tokens);
    total += tok->token_bytes[ids[i]].len; /* cannot wrap: n * 2^31 bytes */
  }
  *n_out = total;
  if (total > cap)
    return g2_fail(GPT2_E_BUFFER, "detokenize: %zu bytes, room for %zu", total,
                   cap);
  for (size_t i = 0, at = 0; i < n; i++) {
    g2_str bytes = tok->token_bytes[ids[i]];
    memcpy(out + at, bytes.ptr, bytes.len);
    at += bytes.len;
  }
  return GPT2_OK;
}

void g2_detok_init(g2_detok *detok, const g2_tokenizer *tok) {
  detok->tok = tok;
  detok->n_held = 0;
}

/* Whether s[0..n) (n >= 1, s[0] >= 0xC0) is a proper prefix of some valid
   UTF-8 sequence, i.e. may still be completed by the bytes that follow. */
static int unfinished_sequence(const unsigned char *s, size_t n) {
  unsigned char lead = s[0];
  size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if (lead < 0xC2 || lead > 0xF4 || n >= length) return 0;
  for (size_t i = 1; i < n; i++) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (i == 1) { /* the second byte excludes overlongs, surrogates, > U+10FFFF */
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    }
    if (s[i] < lo || s[i] > hi) return 0;
  }
  return 1;
}

int g2_detok_push(g2_detok *detok, int32_t id, char *out, size_t cap,
                  size_t *n_out) {
  if (n_out) *n_out = 0;
  if (!detok || !n_out || (!out && cap))
    return g2_fail(GPT2_E_INVALID, "detok_push: NULL argument");
  const g2_tokenizer *tok = detok->tok;
  if (id < 0 || (size_t)id >= tok->n_tokens)
    return g2_fail(GPT2_E_RANGE, "detok_push: token %d is not in [0, %zu)",
                   (int)id, tok->n_tokens);
  /* The stream is held ++ bytes. A lead byte can never be inside an earlier
     character, so the only part to hold back is an unfinished sequence
     starting at one of the last three bytes; anything else, valid or not,
     goes out as it is. */
  const unsigned char *bytes = (const unsigned char *)tok->token_bytes[id].ptr;
  size_t len = tok->token_bytes[id].len, total = detok->n_held + len;
  unsigned char tail[3];
  size_t n_tail = total < 3 ? total : 3;
  for (size_t i = 0; i < n_tail; i++) {
    size_t at = total - n_tail + i;
    tail[i] = at < detok->n_held ? detok->held[at] : bytes[at - detok->n_held];
  }
  size_t keep = 0;
  for (size_t i = 0; i < n_tail; i++) {
    if (tail[i] >= 0xC0 && unfinished_sequence(tail + i, n_tail - i)) {
      keep = n_tail - i;
      break;
    }
  }
  size_t emit = total - keep;
  *n_out = emit;
  if (emit > cap)
    return g2_fail(GPT2_E_BUFFER, "detok_push: %zu bytes, room for %zu", emit,
                   cap);
  size_t from_held = emit < detok->n_held ? emit : detok->n_held;
  if (from_held) memcpy(out, detok->held, from_held);
  if (emit > from_held) memcpy(out + from_held, bytes, emit - from_held);
  memcpy(detok->held, tail + n_tail - keep, keep);
  detok->n_held = keep;
  return GPT2_OK;
}

int g2_detok_flush(g2_detok *detok, char *out, size_t cap, size_t *n_out) {
  if (n_out) *n_out = 0;
  if (!detok || !n_out || (!out && cap))
    return g2_fail(GPT2_E_INVALID, "detok_flush: NULL argument");
  *n_out = detok->n_held;
  if (detok->n_held > cap)
    return g2_fail(GPT2_E_BUFFER, "detok_flush: %zu bytes, room for %zu",
                   detok->n_held, cap);
  if (detok->n_held) memcpy(out, detok->held, detok->n_held);
  detok->n_held = 0;
  return GPT2_OK;
}
