/* The GPT-2 byte-level BPE tokenizer, built from a vocabulary and a merge
   list in GPT-2's mapped form (bytes shown as printable code points, space
   as U+0120 'Ġ'), whether they come from vocab.json/merges.txt or from GGUF
   metadata. Immutable once built; safe to use from many threads. */
#ifndef G2_TOKENIZER_H
#define G2_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

typedef struct g2_tokenizer g2_tokenizer;

/* Builds a tokenizer. tokens[i] is the mapped-form string of token id i
   (n_tokens of them); merges[r] is the "A B" pair of rank r. Strings are
   copied. Returns GPT2_OK, GPT2_E_NOMEM, or GPT2_E_FORMAT (with
   g2_fail message naming `source`, e.g. "vocab.json") for a token that is
   not valid mapped form, a duplicate token, or a malformed merge. */
int g2_tokenizer_new(const g2_str *tokens, size_t n_tokens,
                     const g2_str *merges, size_t n_merges,
                     const char *source, g2_tokenizer **out);
void g2_tokenizer_free(g2_tokenizer *tok);

size_t g2_tokenizer_n_tokens(const g2_tokenizer *tok);
/* Id of "<|endoftext|>", or -1. */
int32_t g2_tokenizer_eot(const g2_tokenizer *tok);

/* The vocabulary as it was given, for writers (GGUF): the merge of rank r
   (r < n_merges) as the ids of its two tokens, and token `id` as its
   mapped-form text (at most 2 bytes per token byte), written to out when
   it fits `cap`; returns the length. */
size_t g2_tokenizer_n_merges(const g2_tokenizer *tok);
void g2_tokenizer_merge(const g2_tokenizer *tok, size_t rank, int32_t *left,
                        int32_t *right);
size_t g2_tokenizer_token_text(const g2_tokenizer *tok, int32_t id, char *out,
                               size_t cap);

/* Same contracts as gpt2_tokenize / gpt2_token_bytes / gpt2_detokenize. */
int g2_tokenize(const g2_tokenizer *tok, const char *text, size_t len,
                unsigned flags, int32_t *out, size_t cap, size_t *n_out);
const char *g2_token_bytes(const g2_tokenizer *tok, int32_t id, size_t *len);
int g2_detokenize(const g2_tokenizer *tok, const int32_t *ids, size_t n,
                  char *out, size_t cap, size_t *n_out);

/* Streaming detokenizer state: the bytes of an unfinished UTF-8 sequence
   (at most 3) held back between pushes. */
typedef struct g2_detok {
  const g2_tokenizer *tok;
  unsigned char held[3];
  size_t n_held;
} g2_detok;

void g2_detok_init(g2_detok *detok, const g2_tokenizer *tok);
/* Same contracts as gpt2_detok_push / gpt2_detok_flush. A failed push
   (GPT2_E_RANGE, GPT2_E_BUFFER) leaves the state as it was, so the push can
   be repeated with a larger buffer; one push never needs more than the
   token's length + 3 bytes. */
int g2_detok_push(g2_detok *detok, int32_t id, char *out, size_t cap,
                  size_t *n_out);
int g2_detok_flush(g2_detok *detok, char *out, size_t cap, size_t *n_out);

#endif
