/* Byte-pair encoding of one pre-token, exactly as GPT-2's encoder.py: while
   some adjacent pair has a merge, take the pair of lowest rank and merge all
   its non-overlapping occurrences, left to right. */
#ifndef G2_BPE_H
#define G2_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/vocab.h"

#define G2_BPE_SHORT 32 /* longest piece merged by the quadratic scan */
/* Pieces, and so vocabulary tokens, are shorter than this: the symbol
   positions of a piece fit int32 with room for the pair queue (3n). */
#define G2_MAX_TOKEN_BYTES ((size_t)1 << 29)

/* Working memory, grown on demand: one per call (or per thread), so that
   the tokenizer itself stays read-only. */
typedef struct g2_bpe_entry {
  int32_t position, next; /* next: the rank's following entry, or -1 */
} g2_bpe_entry;

typedef struct g2_bpe_work {
  int32_t short_ids[G2_BPE_SHORT];
  /* Long pieces: a doubly linked list of symbols, one node per byte. */
  int32_t *ids, *prev, *next;
  size_t cap_nodes;
  /* Candidate pairs (the position of their left symbol), queued per rank:
     a FIFO list of entries for each rank and a two-level bitmap of the
     ranks whose list is not empty. Every list is empty between pieces. */
  struct g2_bpe_entry *entries;    /* 3 * cap_nodes */
  int32_t *batch;                  /* cap_nodes positions of one rank */
  int32_t *rank_first, *rank_last; /* [n_ranks], valid where the bit is set */
  uint64_t *rank_bits, *rank_summary;
  size_t n_ranks;
} g2_bpe_work;

void g2_bpe_work_free(g2_bpe_work *work);

/* Encodes piece[0..len) (len >= 1); *ids points into `work` (valid until
   its next use) and *n_ids is the count. GPT2_E_NOMEM when the work area
   cannot grow; GPT2_E_INVALID for a piece of G2_MAX_TOKEN_BYTES or more. */
int g2_bpe(const g2_tokenizer *tok, const unsigned char *piece, size_t len,
           g2_bpe_work *work, const int32_t **ids, size_t *n_ids);

/* The two strategies g2_bpe picks between by length, exposed so that the
   tests can check that they agree: a quadratic scan for short pieces
   (len <= G2_BPE_SHORT; out has room for len ids), and a rank-bucket queue,
   O(n log n) at worst, that leaves its result in work->ids. */
size_t g2_bpe_short(const g2_tokenizer *tok, const unsigned char *piece,
                    size_t len, int32_t *out);
int g2_bpe_long(const g2_tokenizer *tok, const unsigned char *piece,
                size_t len, g2_bpe_work *work, size_t *n_ids);

/* Sets G2_TOKEN_SELF on each token of at most G2_BPE_SELF_MAX bytes that
   BPE of its own bytes yields, so the tokenizer can take a whole pre-token
   that is such a token at once (GPT-2's longest token is 128 bytes). */
#define G2_BPE_SELF_MAX 1024
int g2_bpe_mark_self(g2_tokenizer *tok, const char *source);

#endif
