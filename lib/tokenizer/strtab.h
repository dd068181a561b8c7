/* An open-addressing hash set of token ids keyed by byte strings stored
   elsewhere (keys[id]); used for "which token has these bytes". */
#ifndef G2_STRTAB_H
#define G2_STRTAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

typedef struct g2_strtab {
  uint64_t *slots; /* (hash >> 32) << 32 | (id + 1); 0 is an empty slot */
  size_t mask;     /* capacity - 1, capacity a power of two */
} g2_strtab;

uint64_t g2_hash_bytes(const void *data, size_t len);

/* A table with room for n ids at a load factor of at most 1/2. */
int g2_strtab_init(g2_strtab *tab, size_t n);
void g2_strtab_free(g2_strtab *tab);

/* The id whose key equals (s, len), or -1; hash is g2_hash_bytes(s, len). */
static inline int32_t g2_strtab_find_hashed(const g2_strtab *tab,
                                            const g2_str *keys, const char *s,
                                            size_t len, uint64_t hash) {
  uint64_t tag = hash >> 32;
  for (size_t i = (size_t)hash & tab->mask;; i = (i + 1) & tab->mask) {
    uint64_t slot = tab->slots[i];
    if (slot == 0) return -1;
    if (slot >> 32 == tag) {
      int32_t id = (int32_t)(uint32_t)slot - 1;
      if (keys[id].len == len && memcmp(keys[id].ptr, s, len) == 0) return id;
    }
  }
}

static inline int32_t g2_strtab_find(const g2_strtab *tab, const g2_str *keys,
                                     const char *s, size_t len) {
  return g2_strtab_find_hashed(tab, keys, s, len, g2_hash_bytes(s, len));
}

/* Adds id (keys[id] must not be in the table yet; the table has room). */
void g2_strtab_add(g2_strtab *tab, const g2_str *keys, int32_t id);

#endif
