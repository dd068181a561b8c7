/* The vocabulary in the form it was given (mapped-form tokens, merges by
   rank), for the GGUF writer. */
#include "tokenizer/vocab.h"

size_t g2_tokenizer_n_merges(const g2_tokenizer *tok) { return tok->n_merges; }

void g2_tokenizer_merge(const g2_tokenizer *tok, size_t rank, int32_t *left,
                        int32_t *right) {
  *left = tok->merges[rank].left;
  *right = tok->merges[rank].right;
}

size_t g2_tokenizer_token_text(const g2_tokenizer *tok, int32_t id, char *out,
                               size_t cap) {
  g2_str bytes = tok->token_bytes[id];
  if (tok->token_flags[id] & G2_TOKEN_RAW) { /* kept as given */
    if (bytes.len <= cap) memcpy(out, bytes.ptr, bytes.len);
    return bytes.len;
  }
  size_t len = 0;
  for (size_t i = 0; i < bytes.len; i++) {
    uint32_t cp = g2_byte_to_cp((unsigned char)bytes.ptr[i]);
    len += cp < 0x80 ? 1 : 2; /* every mapped code point is below U+0800 */
  }
  if (len > cap) return len;
  char *at = out;
  for (size_t i = 0; i < bytes.len; i++) {
    uint32_t cp = g2_byte_to_cp((unsigned char)bytes.ptr[i]);
    if (cp < 0x80) {
      *at++ = (char)cp;
    } else {
      *at++ = (char)(0xC0 | (cp >> 6));
      *at++ = (char)(0x80 | (cp & 0x3F));
    }
  }
  return len;
}
