#include "tokenizer/bpe.h"

#include <stdio.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"

#define NO_RANK INT32_MAX

static int32_t pair_rank(const g2_tokenizer *tok, int32_t left, int32_t right) {
  const g2_pair_slot *slot = g2_pair_find(tok, left, right);
  return slot ? slot->rank : NO_RANK;
}

/* Short pieces: a flat array, one pass per merge rank. Quadratic in the
   length, which is faster than a heap up to a few dozen bytes. */
size_t g2_bpe_short(const g2_tokenizer *tok, const unsigned char *piece,
                    size_t len, int32_t *out) {
  int32_t *ids = out;
  int32_t ranks[G2_BPE_SHORT]; /* ranks[i]: the pair (ids[i], ids[i+1]) */
  size_t n = len;
  for (size_t i = 0; i < n; i++) ids[i] = tok->byte_token[piece[i]];
  for (size_t i = 0; i + 1 < n; i++) ranks[i] = pair_rank(tok, ids[i], ids[i + 1]);
  for (;;) {
    int32_t best = NO_RANK;
    for (size_t i = 0; i + 1 < n; i++)
      if (ranks[i] < best) best = ranks[i];
    if (best == NO_RANK) break;
    /* Every occurrence of the pair, left to right; a merged pair's new
       neighbours can never form the same pair again in this pass. */
    for (size_t i = 0; i + 1 < n; i++) {
      if (ranks[i] != best) continue;
      ids[i] = tok->merges[best].result;
      for (size_t j = i + 1; j + 1 < n; j++) ids[j] = ids[j + 1];
      for (size_t j = i + 1; j + 2 < n; j++) ranks[j] = ranks[j + 1];
      n--;
      if (i > 0) ranks[i - 1] = pair_rank(tok, ids[i - 1], ids[i]);
      if (i + 1 < n) ranks[i] = pair_rank(tok, ids[i], ids[i + 1]);
    }
  }
  return n;
}

/* A binary min-heap of rank << 32 | position: ties on rank go leftmost. */
static void heap_push(uint64_t *heap, size_t *size, uint64_t entry) {
  size_t i = (*size)++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap[parent] <= entry) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = entry;
}

static uint64_t heap_pop(uint64_t *heap, size_t *size) {
  uint64_t top = heap[0], last = heap[--*size];
  size_t n = *size, i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= last) break;
    heap[i] = heap[child];
    i = child;
  }
  if (n > 0) heap[i] = last;
  return top;
}

static int work_reserve(g2_bpe_work *work, size_t len) {
  if (len <= work->cap_nodes) return GPT2_OK;
  size_t cap = work->cap_nodes ? work->cap_nodes : 256;
  while (cap < len) cap = cap > SIZE_MAX / 2 ? len : cap * 2;
  g2_bpe_work grown = {.cap_nodes = 0};
  grown.ids = g2_malloc_array(cap, sizeof *grown.ids);
  grown.prev = g2_malloc_array(cap, sizeof *grown.prev);
  grown.next = g2_malloc_array(cap, sizeof *grown.next);
  /* Each merge adds at most two pairs: n - 1 + 2 (n - 1) entries. */
  grown.heap = g2_malloc_array(cap, 3 * sizeof *grown.heap);
  grown.pending = g2_malloc_array(cap, 2 * sizeof *grown.pending);
  grown.cap_nodes = cap;
  if (!grown.ids || !grown.prev || !grown.next || !grown.heap ||
      !grown.pending) {
    g2_bpe_work_free(&grown);
    return g2_fail(GPT2_E_NOMEM, "tokenize: out of memory for a %zu-byte piece",
                   len);
  }
  g2_bpe_work_free(work);
  work->ids = grown.ids, work->prev = grown.prev, work->next = grown.next;
  work->heap = grown.heap, work->pending = grown.pending;
  work->cap_nodes = cap;
  return GPT2_OK;
}

void g2_bpe_work_free(g2_bpe_work *work) {
  g2_free(work->ids);
  g2_free(work->prev);
  g2_free(work->next);
  g2_free(work->heap);
  g2_free(work->pending);
  work->ids = work->prev = work->next = NULL;
  work->heap = work->pending = NULL;
  work->cap_nodes = 0;
}

static uint64_t entry(int32_t rank, int32_t position) {
  return (uint64_t)(uint32_t)rank << 32 | (uint32_t)position;
}

/* Long pieces: a linked list of symbols and a heap of candidate pairs,
   O(n log n). Stale heap entries are recognised by the ids they name. A
   pair created while merging rank r with a rank below r waits in `pending`
   until rank r is done, as encoder.py finishes a rank's pass before it looks
   for the next lowest pair (GPT-2's own merges never need this: a merge's
   rank is above those of the merges making its parts). */
int g2_bpe_heap(const g2_tokenizer *tok, const unsigned char *piece,
                size_t len, g2_bpe_work *work, size_t *n_ids) {
  if (len >= INT32_MAX)
    return g2_fail(GPT2_E_INVALID,
                   "tokenize: a %zu-byte pre-token is too long (limit 2^31)",
                   len);
  int status = work_reserve(work, len);
  if (status != GPT2_OK) return status;
  int32_t *ids = work->ids, *prev = work->prev, *next = work->next;
  uint64_t *heap = work->heap, *pending = work->pending;
  size_t heap_size = 0, n_pending = 0;
  int32_t n = (int32_t)len;
  for (int32_t i = 0; i < n; i++) {
    ids[i] = tok->byte_token[piece[i]];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  for (int32_t i = 0; i + 1 < n; i++) {
    int32_t rank = pair_rank(tok, ids[i], ids[i + 1]);
    if (rank != NO_RANK) heap_push(heap, &heap_size, entry(rank, i));
  }
  int32_t current = -1;
  for (;;) {
    if (n_pending > 0 &&
        (heap_size == 0 || (int32_t)(heap[0] >> 32) != current)) {
      while (n_pending > 0) heap_push(heap, &heap_size, pending[--n_pending]);
    }
    if (heap_size == 0) break;
    uint64_t top = heap_pop(heap, &heap_size);
    int32_t rank = (int32_t)(top >> 32), left = (int32_t)(uint32_t)top;
    const g2_merge *merge = &tok->merges[rank];
    int32_t right = next[left];
    if (ids[left] != merge->left || right < 0 || ids[right] != merge->right)
      continue; /* stale: one of the symbols has changed since */
    current = rank;
    ids[left] = merge->result;
    ids[right] = -1;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    int32_t neighbours[2][2] = {{prev[left], left}, {left, next[left]}};
    for (int k = 0; k < 2; k++) {
      int32_t a = neighbours[k][0], b = neighbours[k][1];
      if (a < 0 || b < 0) continue;
      int32_t new_rank = pair_rank(tok, ids[a], ids[b]);
      if (new_rank == NO_RANK) continue;
      if (new_rank < current)
        pending[n_pending++] = entry(new_rank, a);
      else
        heap_push(heap, &heap_size, entry(new_rank, a));
    }
  }
  size_t count = 0; /* compacting in place: count <= i */
  for (int32_t i = 0; i >= 0; i = next[i]) ids[count++] = ids[i];
  *n_ids = count;
  return GPT2_OK;
}

int g2_bpe(const g2_tokenizer *tok, const unsigned char *piece, size_t len,
           g2_bpe_work *work, const int32_t **ids, size_t *n_ids) {
  if (len <= G2_BPE_SHORT) {
    *n_ids = g2_bpe_short(tok, piece, len, work->short_ids);
    *ids = work->short_ids;
    return GPT2_OK;
  }
  int status = g2_bpe_heap(tok, piece, len, work, n_ids);
  *ids = work->ids; /* after the heap may have grown it */
  return status;
}

int g2_bpe_mark_self(g2_tokenizer *tok, const char *source) {
  g2_bpe_work work = {.cap_nodes = 0};
  int status = GPT2_OK;
  for (size_t i = 0; i < tok->n_tokens && status == GPT2_OK; i++) {
    g2_str bytes = tok->token_bytes[i];
    if (tok->token_flags[i] & G2_TOKEN_RAW) continue;
    const int32_t *ids;
    size_t count;
    status = g2_bpe(tok, (const unsigned char *)bytes.ptr, bytes.len, &work,
                    &ids, &count);
    if (status == GPT2_OK && count == 1 && ids[0] == (int32_t)i)
      tok->token_flags[i] |= G2_TOKEN_SELF;
  }
  g2_bpe_work_free(&work);
  if (status != GPT2_OK) {
    char detail[256];
    snprintf(detail, sizeof detail, "%s", gpt2_last_error());
    return g2_fail(status, "%s: %s", source, detail);
  }
  return GPT2_OK;
}
