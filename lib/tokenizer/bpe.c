#include "tokenizer/bpe.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"

/* Short pieces: a flat array of symbols and of the ranks of adjacent
   pairs. Each round merges every occurrence of the lowest-ranked pair while
   compacting the array, then ranks the pairs the merges created and finds
   the next lowest. O(n) a round, and no set-up: the fastest for short
   pieces. */
#define RERANK (-1) /* a pair to rank again after this round */

size_t g2_bpe_short(const g2_tokenizer *tok, const unsigned char *piece,
                    size_t len, int32_t *out) {
  int32_t *ids = out;
  int32_t ranks[G2_BPE_SHORT]; /* ranks[i]: the pair (ids[i], ids[i + 1]) */
  size_t n = len;
  int32_t best = G2_NO_RANK;
  for (size_t i = 0; i < n; i++) ids[i] = tok->byte_token[piece[i]];
  for (size_t i = 0; i + 1 < n; i++) {
    ranks[i] = g2_pair_rank(tok, ids[i], ids[i + 1]);
    if (ranks[i] < best) best = ranks[i];
  }
  while (best != G2_NO_RANK) {
    int32_t result = tok->merges[best].result;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++, kept++) {
      if (i + 1 < n && ranks[i] == best) { /* as in the old word: no overlap */
        ids[kept] = result;
        ranks[kept] = RERANK;
        if (kept > 0) ranks[kept - 1] = RERANK;
        i++;
      } else {
        ids[kept] = ids[i];
        ranks[kept] = ranks[i];
      }
    }
    n = kept;
    best = G2_NO_RANK;
    for (size_t i = 0; i + 1 < n; i++) {
      if (ranks[i] == RERANK) ranks[i] = g2_pair_rank(tok, ids[i], ids[i + 1]);
      if (ranks[i] < best) best = ranks[i];
    }
  }
  return n;
}

static int compare_positions(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static int lowest_bit(uint64_t word) { /* word != 0 */
#if defined(__GNUC__)
  return __builtin_ctzll(word);
#else
  int bit = 0;
  while (!(word & 1)) word >>= 1, bit++;
  return bit;
#endif
}

static int work_reserve_ranks(g2_bpe_work *work, size_t n_ranks) {
  if (work->rank_first) return GPT2_OK; /* one tokenizer per work area */
  size_t n_words = n_ranks / 64 + 1, n_summary = n_words / 64 + 1;
  /* rank_first/rank_last are only read for ranks whose bit is set, so only
     the bitmaps need clearing. */
  work->rank_first = g2_malloc_array(n_ranks + 1, sizeof *work->rank_first);
  work->rank_last = g2_malloc_array(n_ranks + 1, sizeof *work->rank_last);
  work->rank_bits = g2_calloc(n_words, sizeof *work->rank_bits);
  work->rank_summary = g2_calloc(n_summary, sizeof *work->rank_summary);
  if (!work->rank_first || !work->rank_last || !work->rank_bits ||
      !work->rank_summary) {
    g2_free(work->rank_first), g2_free(work->rank_last);
    g2_free(work->rank_bits), g2_free(work->rank_summary);
    work->rank_first = work->rank_last = NULL;
    work->rank_bits = work->rank_summary = NULL;
    return g2_fail(GPT2_E_NOMEM, "tokenize: out of memory for %zu merge ranks",
                   n_ranks);
  }
  work->n_ranks = n_ranks;
  return GPT2_OK;
}

static int work_reserve_nodes(g2_bpe_work *work, size_t len) {
  if (len <= work->cap_nodes) return GPT2_OK;
  size_t cap = work->cap_nodes ? work->cap_nodes : 256;
  while (cap < len) cap *= 2; /* len < 2^29 */
  int32_t *arrays[4];
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    arrays[i] = g2_malloc_array(cap, sizeof(int32_t));
    ok &= arrays[i] != NULL;
  }
  g2_bpe_entry *entries = g2_malloc_array(cap, 3 * sizeof *entries);
  if (!ok || !entries) {
    for (int i = 0; i < 4; i++) g2_free(arrays[i]);
    g2_free(entries);
    return g2_fail(GPT2_E_NOMEM, "tokenize: out of memory for a %zu-byte piece",
                   len);
  }
  g2_free(work->ids), g2_free(work->prev), g2_free(work->next);
  g2_free(work->batch), g2_free(work->entries);
  work->ids = arrays[0], work->prev = arrays[1], work->next = arrays[2];
  work->batch = arrays[3], work->entries = entries;
  work->cap_nodes = cap;
  return GPT2_OK;
}

void g2_bpe_work_free(g2_bpe_work *work) {
  g2_free(work->ids), g2_free(work->prev), g2_free(work->next);
  g2_free(work->batch), g2_free(work->entries);
  g2_free(work->rank_first), g2_free(work->rank_last);
  g2_free(work->rank_bits), g2_free(work->rank_summary);
  work->ids = work->prev = work->next = NULL;
  work->batch = NULL;
  work->entries = NULL;
  work->rank_first = work->rank_last = NULL;
  work->rank_bits = work->rank_summary = NULL;
  work->cap_nodes = work->n_ranks = 0;
}

static void queue_add(g2_bpe_work *work, int32_t *n_entries, int32_t rank,
                      int32_t position) {
  int32_t e = (*n_entries)++;
  work->entries[e] = (g2_bpe_entry){position, -1};
  uint64_t bit = 1ull << (rank % 64);
  if (!(work->rank_bits[rank / 64] & bit)) {
    work->rank_first[rank] = e;
    work->rank_bits[rank / 64] |= bit;
    work->rank_summary[rank / 4096] |= 1ull << (rank / 64 % 64);
  } else {
    work->entries[work->rank_last[rank]].next = e;
  }
  work->rank_last[rank] = e;
}

/* The lowest rank with queued pairs, or -1. */
static int32_t queue_lowest(const g2_bpe_work *work) {
  size_t n_summary = (work->n_ranks / 64 + 1) / 64 + 1;
  for (size_t s = 0; s < n_summary; s++) {
    if (!work->rank_summary[s]) continue;
    size_t w = s * 64 + (size_t)lowest_bit(work->rank_summary[s]);
    return (int32_t)(w * 64 + (size_t)lowest_bit(work->rank_bits[w]));
  }
  return -1;
}

/* Moves the positions queued for `rank` into work->batch, ascending. */
static size_t queue_take(g2_bpe_work *work, int32_t rank) {
  size_t n = 0;
  int sorted = 1;
  for (int32_t e = work->rank_first[rank]; e >= 0; e = work->entries[e].next) {
    work->batch[n] = work->entries[e].position;
    sorted &= n == 0 || work->batch[n - 1] < work->batch[n];
    n++;
  }
  work->rank_bits[rank / 64] &= ~(1ull << (rank % 64));
  if (!work->rank_bits[rank / 64])
    work->rank_summary[rank / 4096] &= ~(1ull << (rank / 64 % 64));
  if (!sorted) qsort(work->batch, n, sizeof *work->batch, compare_positions);
  return n;
}

/* Long pieces: a linked list of symbols and the candidate pairs queued by
   rank. Each round takes every queued pair of the lowest rank, in position
   order, as encoder.py's pass over the word does; a queued pair whose
   symbols have changed since is skipped. Pairs created by merging join
   their rank's queue, even one below the current rank, and so wait for the
   next round, as in encoder.py (GPT-2's own merges never do that: a merge
   ranks above the merges making its parts). Each merge queues at most two
   pairs, so there are fewer than 3n entries; the cost is O(n) plus sorting
   the positions of a rank that merges queued out of order. */
int g2_bpe_long(const g2_tokenizer *tok, const unsigned char *piece,
                size_t len, g2_bpe_work *work, size_t *n_ids) {
  if (len >= G2_MAX_TOKEN_BYTES)
    return g2_fail(GPT2_E_INVALID,
                   "tokenize: a %zu-byte pre-token is too long (limit 2^29)",
                   len);
  int status = work_reserve_nodes(work, len);
  if (status == GPT2_OK) status = work_reserve_ranks(work, tok->n_merges);
  if (status != GPT2_OK) return status;
  int32_t *ids = work->ids, *prev = work->prev, *next = work->next;
  int32_t n = (int32_t)len, n_entries = 0;
  for (int32_t i = 0; i < n; i++) {
    ids[i] = tok->byte_token[piece[i]];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  for (int32_t i = 0; i + 1 < n; i++) {
    int32_t rank = g2_pair_rank(tok, ids[i], ids[i + 1]);
    if (rank != G2_NO_RANK) queue_add(work, &n_entries, rank, i);
  }
  for (int32_t rank; (rank = queue_lowest(work)) >= 0;) {
    const g2_merge *merge = &tok->merges[rank];
    size_t n_batch = queue_take(work, rank);
    for (size_t b = 0; b < n_batch; b++) {
      int32_t left = work->batch[b], right = next[left];
      if (ids[left] != merge->left || right < 0 || ids[right] != merge->right)
        continue; /* stale: a symbol has changed since it was queued */
      ids[left] = merge->result;
      ids[right] = -1;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) {
        int32_t new_rank = g2_pair_rank(tok, ids[prev[left]], ids[left]);
        if (new_rank != G2_NO_RANK) queue_add(work, &n_entries, new_rank, prev[left]);
      }
      if (next[left] >= 0) {
        int32_t new_rank = g2_pair_rank(tok, ids[left], ids[next[left]]);
        if (new_rank != G2_NO_RANK) queue_add(work, &n_entries, new_rank, left);
      }
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
  int status = g2_bpe_long(tok, piece, len, work, n_ids);
  *ids = work->ids; /* after the call may have grown it */
  return status;
}

int g2_bpe_mark_self(g2_tokenizer *tok, const char *source) {
  g2_bpe_work work = {.cap_nodes = 0};
  int status = GPT2_OK;
  for (size_t i = 0; i < tok->n_tokens && status == GPT2_OK; i++) {
    g2_str bytes = tok->token_bytes[i];
    /* Longer tokens are left unmarked (tokenizing such a piece runs BPE,
       with the same result): BPE's work memory, ~40 bytes a byte, stays
       under 40 * G2_BPE_SELF_MAX whatever the vocabulary holds. */
    if ((tok->token_flags[i] & G2_TOKEN_RAW) || bytes.len > G2_BPE_SELF_MAX) continue;
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
