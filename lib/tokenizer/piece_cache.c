#include "tokenizer/piece_cache.h"

#include <string.h>

#include "core/alloc.h"
#include "tokenizer/strtab.h"

#define MAX_SLOTS ((size_t)1 << 17)      /* 1.5 MB of table at most */
#define MAX_ARENA ((size_t)16 << 20)     /* 16 MB of entries at most */
#define HEADER 4                          /* u16 length, u16 id count */

static size_t ids_offset(size_t len) { return (HEADER + len + 3) & ~(size_t)3; }

/* A zero hash marks a free slot, so hashes are stored with the low bit set;
   entries still compare their bytes. */
static uint64_t stored_hash(uint64_t hash) { return hash | 1; }

const int32_t *g2_cache_get(const g2_piece_cache *cache, const char *piece,
                            size_t len, uint64_t hash, size_t *n_ids) {
  if (!cache->hashes || len > G2_CACHE_PIECE) return NULL;
  uint64_t key = stored_hash(hash);
  for (size_t i = (size_t)(hash >> 20) & cache->mask;;
       i = (i + 1) & cache->mask) {
    if (cache->hashes[i] == 0) return NULL;
    if (cache->hashes[i] != key) continue;
    const unsigned char *entry = cache->arena + cache->entries[i];
    uint16_t entry_len, count;
    memcpy(&entry_len, entry, 2);
    memcpy(&count, entry + 2, 2);
    if (entry_len == len && g2_bytes_equal((const char *)entry + HEADER, piece, len)) {
      *n_ids = count;
      return (const int32_t *)(const void *)(entry + ids_offset(len));
    }
  }
}

static void insert_slot(g2_piece_cache *cache, uint64_t key, uint32_t offset) {
  size_t i = (size_t)(key >> 20) & cache->mask;
  while (cache->hashes[i] != 0) i = (i + 1) & cache->mask;
  cache->hashes[i] = key;
  cache->entries[i] = offset;
}

/* Room for one more slot at a load of at most 1/2. */
static int reserve_slot(g2_piece_cache *cache) {
  size_t slots = cache->hashes ? cache->mask + 1 : 0;
  if (2 * (cache->count + 1) <= slots) return 1;
  size_t new_slots = slots ? 2 * slots : 4096;
  if (new_slots > MAX_SLOTS) return 0;
  uint64_t *hashes = g2_calloc(new_slots, sizeof *hashes);
  uint32_t *entries = g2_malloc_array(new_slots, sizeof *entries);
  if (!hashes || !entries) {
    g2_free(hashes);
    g2_free(entries);
    return 0;
  }
  g2_piece_cache grown = *cache;
  grown.hashes = hashes, grown.entries = entries, grown.mask = new_slots - 1;
  for (size_t i = 0; i < slots; i++)
    if (cache->hashes[i]) insert_slot(&grown, cache->hashes[i], cache->entries[i]);
  g2_free(cache->hashes);
  g2_free(cache->entries);
  *cache = grown;
  return 1;
}

static int reserve_arena(g2_piece_cache *cache, size_t bytes) {
  if (cache->arena_len + bytes <= cache->arena_cap) return 1;
  size_t cap = cache->arena_cap ? 2 * cache->arena_cap : (size_t)64 << 10;
  while (cap < cache->arena_len + bytes) cap *= 2;
  if (cap > MAX_ARENA) return 0;
  unsigned char *arena = g2_realloc(cache->arena, cap);
  if (!arena) return 0;
  cache->arena = arena, cache->arena_cap = cap;
  return 1;
}

void g2_cache_put(g2_piece_cache *cache, const char *piece, size_t len,
                  uint64_t hash, const int32_t *ids, size_t n_ids) {
  if (cache->full || len == 0 || len > G2_CACHE_PIECE) return;
  size_t bytes = ids_offset(len) + n_ids * sizeof *ids; /* n_ids <= len */
  if (!reserve_slot(cache) || !reserve_arena(cache, bytes)) {
    cache->full = 1;
    return;
  }
  unsigned char *entry = cache->arena + cache->arena_len;
  uint16_t entry_len = (uint16_t)len, count = (uint16_t)n_ids;
  memcpy(entry, &entry_len, 2);
  memcpy(entry + 2, &count, 2);
  memcpy(entry + HEADER, piece, len);
  memcpy(entry + ids_offset(len), ids, n_ids * sizeof *ids);
  insert_slot(cache, stored_hash(hash), (uint32_t)cache->arena_len);
  cache->arena_len += bytes;
  cache->count++;
}

void g2_cache_free(g2_piece_cache *cache) {
  g2_free(cache->hashes);
  g2_free(cache->entries);
  g2_free(cache->arena);
  memset(cache, 0, sizeof *cache);
}
