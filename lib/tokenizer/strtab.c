#include "tokenizer/strtab.h"

#include "core/alloc.h"
#include "gpt2.h"

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
