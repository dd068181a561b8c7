/* A cache of BPE results for short pieces that are not tokens themselves,
   private to one g2_tokenize call (the tokenizer is shared by threads and
   stays read-only). Direct-mapped: a new piece replaces whatever had its
   slot. Text repeats its words, so most such pieces are merged only once. */
#ifndef G2_PIECE_CACHE_H
#define G2_PIECE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define G2_CACHE_BITS 12    /* 4096 slots of 64 bytes */
#define G2_CACHE_PIECE 22   /* longest piece cached, in bytes */
#define G2_CACHE_IDS 8      /* most ids of a cached result */

typedef struct g2_cache_slot {
  uint32_t tag; /* low half of the piece's hash */
  uint8_t len;  /* 0: empty */
  uint8_t n_ids;
  char bytes[G2_CACHE_PIECE];
  int32_t ids[G2_CACHE_IDS];
} g2_cache_slot;

static inline g2_cache_slot *g2_cache_slot_for(g2_cache_slot *cache,
                                               uint64_t hash) {
  return &cache[hash >> (64 - G2_CACHE_BITS)];
}

/* The cached ids of the piece, or NULL. */
static inline const g2_cache_slot *g2_cache_get(g2_cache_slot *cache,
                                                const char *piece, size_t len,
                                                uint64_t hash) {
  const g2_cache_slot *slot = g2_cache_slot_for(cache, hash);
  if (slot->len == len && slot->tag == (uint32_t)hash &&
      memcmp(slot->bytes, piece, len) == 0)
    return slot;
  return NULL;
}

static inline void g2_cache_put(g2_cache_slot *cache, const char *piece,
                                size_t len, uint64_t hash, const int32_t *ids,
                                size_t n_ids) {
  if (len == 0 || len > G2_CACHE_PIECE || n_ids > G2_CACHE_IDS) return;
  g2_cache_slot *slot = g2_cache_slot_for(cache, hash);
  slot->tag = (uint32_t)hash;
  slot->len = (uint8_t)len;
  slot->n_ids = (uint8_t)n_ids;
  memcpy(slot->bytes, piece, len);
  memcpy(slot->ids, ids, n_ids * sizeof *ids);
}

#endif
