/* A cache of BPE results for pieces that are not tokens themselves,
   private to one g2_tokenize call (the tokenizer is shared by threads and
   stays read-only). Text repeats its words and, in languages written
   without spaces, whole phrases: most such pieces need merging only once.
   Entries are never evicted; the cache stops growing at a fixed size, and
   failing to allocate only costs speed. */
#ifndef G2_PIECE_CACHE_H
#define G2_PIECE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define G2_CACHE_PIECE 256 /* longest piece cached, in bytes */

typedef struct g2_piece_cache {
  uint64_t *hashes; /* open addressing; 0 is a free slot */
  uint32_t *entries; /* arena offset of each slot's entry */
  size_t mask, count;
  unsigned char *arena; /* entries: u16 length, u16 id count, bytes, ids */
  size_t arena_len, arena_cap;
  int full; /* stopped growing */
} g2_piece_cache;

/* The cached ids of a piece (*n_ids of them), or NULL. hash is
   g2_hash_bytes(piece, len). */
const int32_t *g2_cache_get(const g2_piece_cache *cache, const char *piece,
                            size_t len, uint64_t hash, size_t *n_ids);
void g2_cache_put(g2_piece_cache *cache, const char *piece, size_t len,
                  uint64_t hash, const int32_t *ids, size_t n_ids);
void g2_cache_free(g2_piece_cache *cache);

#endif
