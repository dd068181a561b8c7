/* The tokenizer's tables, shared by the files of lib/tokenizer/. */
#ifndef G2_VOCAB_H
#define G2_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/strtab.h"
#include "tokenizer/tokenizer.h"

/* token_flags bits */
#define G2_TOKEN_RAW 1u  /* not in mapped form: its text is stored as is */
#define G2_TOKEN_SELF 2u /* BPE of the token's own bytes gives this token */

typedef struct g2_merge {
  int32_t left, right, result;
} g2_merge;

#define G2_PAIR_EMPTY UINT64_MAX /* a free slot of pair_keys */
#define G2_NO_RANK INT32_MAX      /* "these two do not merge" */

struct g2_tokenizer {
  size_t n_tokens;
  g2_str *token_bytes;  /* [n_tokens] raw bytes of each token, into blob */
  char *blob;
  uint8_t *token_flags; /* [n_tokens] G2_TOKEN_* */
  int32_t byte_token[256];
  int32_t eot;          /* "<|endoftext|>" or -1 */
  g2_strtab by_bytes;   /* bytes -> id; a mapped-form token wins over a raw one */
  size_t n_merges;
  g2_merge *merges;     /* [n_merges] by rank (a repeated pair keeps the last) */
  /* (left, right) -> rank, open addressing. The keys alone are probed (8
     bytes a slot: the table's cache footprint is what BPE's speed hangs on). */
  uint64_t *pair_keys;  /* (uint64)left << 32 | right, or G2_PAIR_EMPTY */
  int32_t *pair_ranks;
  size_t pair_mask;
};

static inline uint64_t g2_pair_key(int32_t left, int32_t right) {
  return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static inline size_t g2_pair_hash(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return (size_t)(key ^ (key >> 29));
}

/* The rank of the merge of (left, right), or G2_NO_RANK. */
static inline int32_t g2_pair_rank(const g2_tokenizer *tok, int32_t left,
                                   int32_t right) {
  uint64_t key = g2_pair_key(left, right);
  for (size_t i = g2_pair_hash(key) & tok->pair_mask;;
       i = (i + 1) & tok->pair_mask) {
    uint64_t slot = tok->pair_keys[i];
    if (slot == key) return tok->pair_ranks[i];
    if (slot == G2_PAIR_EMPTY) return G2_NO_RANK;
  }
}

/* The id of the token with these raw bytes, or -1. */
int32_t g2_tokenizer_find(const g2_tokenizer *tok, const char *bytes,
                          size_t len);

/* GPT-2's byte <-> printable code point map. */
uint32_t g2_byte_to_cp(unsigned char byte);
/* The byte mapped to cp, or -1 when cp is not in the map. */
int g2_cp_to_byte(uint32_t cp);

#endif
