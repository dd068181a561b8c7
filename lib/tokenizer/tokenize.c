/* Text to token ids: special-token split, pre-tokenizer, then BPE of each
   piece (or a single lookup when the piece is a token BPE would keep). */
#include <string.h>

#include "core/error.h"
#include "core/str.h"
#include "gpt2.h"
#include "tokenizer/bpe.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

typedef struct encoder {
  const g2_tokenizer *tok;
  int32_t *out;
  size_t cap, count;
  g2_bpe_work work;
  g2_piece_cache cache; /* used once the call has merged enough pieces */
  size_t n_merged;
} encoder;

/* Short calls never pay for the cache. */
#define CACHE_AFTER 64

static inline void emit(encoder *e, int32_t id) {
  if (e->count < e->cap) e->out[e->count] = id;
  e->count++;
}

static int encode_piece(encoder *e, const unsigned char *piece, size_t len) {
  const g2_tokenizer *tok = e->tok;
  const char *text = (const char *)piece;
  uint64_t hash = g2_hash_bytes(text, len);
  int32_t id = g2_strtab_find_hashed(&tok->by_bytes, tok->token_bytes, text,
                                     len, hash);
  if (id >= 0 && (tok->token_flags[id] & G2_TOKEN_SELF)) {
    emit(e, id);
    return GPT2_OK;
  }
  const int32_t *ids;
  size_t n;
  if ((ids = g2_cache_get(&e->cache, text, len, hash, &n)) != NULL) {
    for (size_t i = 0; i < n; i++) emit(e, ids[i]);
    return GPT2_OK;
  }
  int status = g2_bpe(tok, piece, len, &e->work, &ids, &n);
  if (status != GPT2_OK) return status;
  for (size_t i = 0; i < n; i++) emit(e, ids[i]);
  if (++e->n_merged >= CACHE_AFTER) g2_cache_put(&e->cache, text, len, hash, ids, n);
  return GPT2_OK;
}

static int encode_text(encoder *e, const unsigned char *text, size_t len) {
  for (size_t pos = 0; pos < len;) {
    size_t end = g2_pretokenize_next(text, len, pos);
    int status = encode_piece(e, text + pos, end - pos);
    if (status != GPT2_OK) return status;
    pos = end;
  }
  return GPT2_OK;
}

int g2_tokenize(const g2_tokenizer *tok, const char *text, size_t len,
                unsigned flags, int32_t *out, size_t cap, size_t *n_out) {
  if (n_out) *n_out = 0;
  if (!tok || (!text && len) || !n_out || (!out && cap))
    return g2_fail(GPT2_E_INVALID, "tokenize: NULL argument");
  const unsigned char *bytes = (const unsigned char *)text;
  encoder e = {.tok = tok, .out = out, .cap = cap};
  int status = GPT2_OK;
  size_t pos = 0;
  if ((flags & GPT2_TOKENIZE_SPECIAL) && tok->eot >= 0) {
    /* As tiktoken does: the text between special tokens is encoded alone. */
    g2_str eot = tok->token_bytes[tok->eot];
    const char *found;
    while (status == GPT2_OK &&
           (found = g2_memmem(text + pos, len - pos, eot.ptr, eot.len)) != NULL) {
      size_t at = (size_t)(found - text);
      status = encode_text(&e, bytes + pos, at - pos);
      emit(&e, tok->eot);
      pos = at + eot.len;
    }
  }
  if (status == GPT2_OK)
    status = encode_text(&e, bytes + pos, len - pos);
  g2_bpe_work_free(&e.work);
  g2_cache_free(&e.cache);
  if (status != GPT2_OK) return status;
  *n_out = e.count;
  if (e.count > cap)
    return g2_fail(GPT2_E_BUFFER, "tokenize: %zu tokens, room for %zu",
                   e.count, cap);
  return GPT2_OK;
}
