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

/* Native-endian loads of 4 or 8 bytes (memcpy compiles to one move). */
static inline uint64_t g2_load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint64_t g2_load32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* A 64-bit hash of a byte string. Inline: the tokenizer hashes every
   pre-token. Strings of up to 16 bytes are read with at most two
   overlapping loads; longer ones 16 bytes at a time. */
static inline uint64_t g2_hash_bytes(const void *data, size_t len) {
  const unsigned char *p = data;
  const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
  uint64_t a, b, h = (uint64_t)len * k2;
  if (len > 16) {
    for (; len > 16; p += 16, len -= 16) {
      h = (h ^ g2_load64(p)) * k1;
      h = (h ^ (h >> 31) ^ g2_load64(p + 8)) * k2;
    }
    p += len; /* the last 16 bytes, overlapping what was read */
    a = g2_load64(p - 16), b = g2_load64(p - 8);
  } else if (len >= 8) {
    a = g2_load64(p), b = g2_load64(p + len - 8);
  } else if (len >= 4) {
    a = g2_load32(p), b = g2_load32(p + len - 4);
  } else {
    a = len ? (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1] : 0;
    b = 0;
  }
  h ^= (a ^ k2) * k1;
  h ^= h >> 29;
  h = (h ^ b) * k2;
  h ^= h >> 32;
  h *= k1;
  return h ^ (h >> 29);
}

/* Whether a and b (len bytes each) are equal: short strings without a
   call, as most tokens are a few bytes long. */
static inline int g2_bytes_equal(const char *a, const char *b, size_t len) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  if (len >= 8 && len <= 16)
    return g2_load64(x) == g2_load64(y) &&
           g2_load64(x + len - 8) == g2_load64(y + len - 8);
  if (len >= 4 && len < 8)
    return g2_load32(x) == g2_load32(y) &&
           g2_load32(x + len - 4) == g2_load32(y + len - 4);
  if (len < 4) {
    for (size_t i = 0; i < len; i++)
      if (x[i] != y[i]) return 0;
    return 1;
  }
  return memcmp(x, y, len) == 0;
}

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
      if (keys[id].len == len && g2_bytes_equal(keys[id].ptr, s, len)) return id;
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
