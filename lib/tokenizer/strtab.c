#include "tokenizer/strtab.h"

#include "core/alloc.h"
#include "gpt2.h"

/* A multiply-xorshift hash over 8-byte words: token strings are short, and
   the tables are only ever probed by the library itself. */
uint64_t g2_hash_bytes(const void *data, size_t len) {
  const unsigned char *bytes = data;
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t h = (uint64_t)len * k;
  while (len >= 8) {
    uint64_t word;
    memcpy(&word, bytes, 8);
    h = (h ^ word) * k;
    h ^= h >> 29;
    bytes += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < len; i++) tail |= (uint64_t)bytes[i] << (8 * i);
  h = (h ^ tail) * k;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

int g2_strtab_init(g2_strtab *tab, size_t n) {
  size_t capacity = 16;
  while (capacity / 2 < n) {
    if (capacity > SIZE_MAX / 4) return GPT2_E_NOMEM;
    capacity *= 2;
  }
  tab->slots = g2_calloc(capacity, sizeof *tab->slots);
  if (!tab->slots) return GPT2_E_NOMEM;
  tab->mask = capacity - 1;
  return GPT2_OK;
}

void g2_strtab_free(g2_strtab *tab) {
  g2_free(tab->slots);
  tab->slots = NULL;
}

void g2_strtab_add(g2_strtab *tab, const g2_str *keys, int32_t id) {
  uint64_t hash = g2_hash_bytes(keys[id].ptr, keys[id].len);
  size_t i = (size_t)hash & tab->mask;
  while (tab->slots[i] != 0) i = (i + 1) & tab->mask;
  tab->slots[i] = (hash >> 32) << 32 | (uint64_t)(uint32_t)(id + 1);
}
