/* A context's sequence copied to another context (gpt2_context_copy) or to
   bytes and back (gpt2_state_save / gpt2_state_load).

   The bytes, native-endian (a blob is for the machine that wrote it):
     header   magic "GPT2STAT", u32 format version, u32 kv_type,
              u64 model fingerprint, u64 pos, u64 last_batch,
              u64 logits_rows, u32 logits_all, u32 0, u64 rng[4]
     history  pos x i32, zero-padded to 8 bytes
     keys     n_layer x pos rows of n_embd kv_type elements
     values   the same
     logits   logits_rows x n_vocab f32
     checksum u64 g2_hash_bytes of everything before it
   Only the positions in use are written. The fingerprint (gpt2_model's,
   made at load) covers the hyper-parameters, every matrix's type and
   layout and the vocabulary's bytes, not the weights' values (hashing 500
   MB would cost more than a save), nor the kernel table: a blob moves
   between machines. */
#include <string.h>

#include "core/error.h"
#include "core/params.h"
#include "model/context.h"
#include "tokenizer/strtab.h" /* g2_hash_bytes */

#define STATE_MAGIC "GPT2STAT"
enum { STATE_VERSION = 1, HEADER_BYTES = 88, CHECKSUM_BYTES = 8 };

/* A sequence to install: from a context or from a blob. Layer l's keys
   are pos rows at k + l * layer_stride, its values likewise at v. */
typedef struct state_view {
  size_t pos;
  const unsigned char *history; /* pos ids (maybe unaligned) */
  const unsigned char *k, *v;
  size_t layer_stride;
  size_t last_batch, logits_rows;
  uint32_t logits_all;
  const unsigned char *logits; /* logits_rows x n_vocab floats (maybe unaligned) */
  uint64_t rng[4];
} state_view;

static size_t row_bytes(const gpt2_context *ctx) { return (size_t)ctx->model->hp.n_embd * ctx->kv_elem_bytes; }

/* Replaces ctx's sequence with s (pos <= ctx->n_ctx, same KV type). Logits
   follow ctx's logits_all: a context keeping only the last row takes the
   last of s's rows; one keeping all rows, given s's last row alone, holds
   it as a batch of one. On failure (GPT2_E_NOMEM) ctx is unchanged. */
static int state_apply(gpt2_context *ctx, const state_view *s) {
  size_t n_vocab = (size_t)ctx->model->hp.n_vocab, rows = s->logits_rows, first = 0, last_batch = s->last_batch;
  if (rows && s->logits_all && !ctx->logits_all) first = rows - 1, rows = 1;
  if (rows && !s->logits_all && ctx->logits_all) last_batch = 1;
  int status = g2_logits_reserve(ctx, rows);
  if (status) return status;

  size_t row = row_bytes(ctx), layer_bytes = ctx->n_ctx * row;
  for (size_t l = 0; l < (size_t)ctx->model->hp.n_layer; l++) {
    memcpy((unsigned char *)ctx->k_cache + l * layer_bytes, s->k + l * s->layer_stride, s->pos * row);
    memcpy((unsigned char *)ctx->v_cache + l * layer_bytes, s->v + l * s->layer_stride, s->pos * row);
  }
  memcpy(ctx->history, s->history, s->pos * sizeof(gpt2_token));
  if (rows) memcpy(ctx->logits, s->logits + first * n_vocab * sizeof(float), rows * n_vocab * sizeof(float));
  ctx->pos = s->pos;
  ctx->last_batch = last_batch;
  ctx->logits_rows = rows;
  ctx->embd_rows = 0; /* not part of a state */
  memcpy(ctx->rng_state, s->rng, sizeof ctx->rng_state);
  return GPT2_OK;
}

static state_view view_of_context(const gpt2_context *ctx) {
  state_view s = {ctx->pos, (const unsigned char *)ctx->history, ctx->k_cache, ctx->v_cache,
                  ctx->n_ctx * row_bytes(ctx), ctx->last_batch, ctx->logits_rows, ctx->logits_all,
                  (const unsigned char *)ctx->logits, {0, 0, 0, 0}};
  memcpy(s.rng, ctx->rng_state, sizeof s.rng);
  return s;
}

GPT2_API int gpt2_context_copy(const gpt2_context *src, const gpt2_context_params *params, gpt2_context **out) {
  g2_clear_error();
  if (!out) return g2_fail(GPT2_E_INVALID, "gpt2_context_copy: out is NULL");
  *out = NULL;
  if (!src) return g2_fail(GPT2_E_INVALID, "gpt2_context_copy: src is NULL");
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  int status = params ? g2_read_params(&p, sizeof p, params, "gpt2_context_params") : GPT2_OK;
  if (status) return status;
  if (!params) p = src->params;
  if (p.kv_type != src->kv_type)
    return g2_fail(GPT2_E_INVALID, "gpt2_context_copy: kv_type %u differs from the source's %u",
                   (unsigned)p.kv_type, (unsigned)src->kv_type);
  gpt2_context *dst;
  status = gpt2_context_new(src->model, &p, &dst);
  if (status) return status;
  if (dst->n_ctx < src->pos)
    status = g2_fail(GPT2_E_RANGE, "gpt2_context_copy: n_ctx %zu cannot hold the source's %zu positions",
                     dst->n_ctx, src->pos);
  state_view view = view_of_context(src);
  /* Given params, the copy keeps the sampler gpt2_context_new seeded from
     params->seed: forks of one prompt with different seeds must differ. */
  if (params) memcpy(view.rng, dst->rng_state, sizeof view.rng);
  if (!status) status = state_apply(dst, &view);
  if (status) {
    gpt2_context_free(dst);
    return status;
  }
  *out = dst;
  return GPT2_OK;
}

static size_t history_bytes(size_t pos) { return (pos * sizeof(gpt2_token) + 7) / 8 * 8; }

/* Bytes of a blob of `pos` positions and `logits_rows` rows for ctx's
   model and KV type (pos <= n_ctx and rows <= pos: no overflow). */
static size_t blob_bytes(const gpt2_context *ctx, size_t pos, size_t logits_rows) {
  return HEADER_BYTES + history_bytes(pos) + 2 * (size_t)ctx->model->hp.n_layer * pos * row_bytes(ctx) +
         logits_rows * (size_t)ctx->model->hp.n_vocab * sizeof(float) + CHECKSUM_BYTES;
}

static unsigned char *put(unsigned char *at, const void *data, size_t bytes) {
  if (bytes) memcpy(at, data, bytes); /* data may be NULL for none (no logits yet) */
  return at + bytes;
}

GPT2_API int gpt2_state_save(const gpt2_context *ctx, void *out, size_t cap, size_t *n_out) {
  g2_clear_error();
  if (n_out) *n_out = 0;
  if (!ctx || !n_out || (!out && cap)) return g2_fail(GPT2_E_INVALID, "gpt2_state_save: NULL argument");
  size_t size = blob_bytes(ctx, ctx->pos, ctx->logits_rows);
  *n_out = size;
  if (cap < size) return g2_fail(GPT2_E_BUFFER, "gpt2_state_save: %zu bytes, room for %zu", size, cap);

  unsigned char *at = out;
  uint32_t u32[4] = {STATE_VERSION, ctx->kv_type, ctx->logits_all, 0};
  uint64_t u64[4] = {ctx->model->fingerprint, ctx->pos, ctx->last_batch, ctx->logits_rows};
  at = put(at, STATE_MAGIC, 8);
  at = put(at, u32, 8);
  at = put(at, u64, sizeof u64);
  at = put(at, &u32[2], 8);
  at = put(at, ctx->rng_state, sizeof ctx->rng_state);
  at = put(at, ctx->history, ctx->pos * sizeof(gpt2_token));
  memset(at, 0, history_bytes(ctx->pos) - ctx->pos * sizeof(gpt2_token));
  at += history_bytes(ctx->pos) - ctx->pos * sizeof(gpt2_token);
  size_t row = row_bytes(ctx), layer_bytes = ctx->n_ctx * row;
  for (int pass = 0; pass < 2; pass++)
    for (size_t l = 0; l < (size_t)ctx->model->hp.n_layer; l++)
      at = put(at, (const unsigned char *)(pass ? ctx->v_cache : ctx->k_cache) + l * layer_bytes, ctx->pos * row);
  at = put(at, ctx->logits, ctx->logits_rows * (size_t)ctx->model->hp.n_vocab * sizeof(float));
  uint64_t checksum = g2_hash_bytes(out, size - CHECKSUM_BYTES);
  put(at, &checksum, sizeof checksum);
  return GPT2_OK;
}

static uint32_t get32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

GPT2_API int gpt2_state_load(gpt2_context *ctx, const void *data, size_t len) {
  g2_clear_error();
  if (!ctx || (!data && len)) return g2_fail(GPT2_E_INVALID, "gpt2_state_load: NULL argument");
  const unsigned char *blob = data;
  if (len < HEADER_BYTES + CHECKSUM_BYTES || memcmp(blob, STATE_MAGIC, 8) != 0)
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: not a libgpt2 state (%zu bytes)", len);
  if (get32(blob + 8) != STATE_VERSION)
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: state format version %u, this library reads %d",
                   (unsigned)get32(blob + 8), STATE_VERSION);
  if (get64(blob + len - CHECKSUM_BYTES) != g2_hash_bytes(blob, len - CHECKSUM_BYTES))
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: checksum mismatch (cut or corrupted state)");
  if (get64(blob + 16) != ctx->model->fingerprint)
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: the state was made with another model");
  uint32_t kv_type = get32(blob + 12), logits_all = get32(blob + 48);
  if (kv_type != ctx->kv_type)
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: state has kv_type %u, the context %u", (unsigned)kv_type,
                   (unsigned)ctx->kv_type);
  uint64_t pos = get64(blob + 24), last_batch = get64(blob + 32), logits_rows = get64(blob + 40);
  if (pos > ctx->n_ctx)
    return g2_fail(GPT2_E_RANGE, "gpt2_state_load: %llu positions exceed n_ctx %zu", (unsigned long long)pos,
                   ctx->n_ctx);
  if (logits_all > 1 || get32(blob + 52) != 0 || last_batch > pos ||
      !(logits_rows == 0 || logits_rows == (logits_all ? last_batch : 1)) || (logits_rows && last_batch == 0))
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: inconsistent header (pos %llu, last batch %llu, %llu logit rows)",
                   (unsigned long long)pos, (unsigned long long)last_batch, (unsigned long long)logits_rows);
  if (len != blob_bytes(ctx, (size_t)pos, (size_t)logits_rows))
    return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: %zu bytes, the header implies %zu", len,
                   blob_bytes(ctx, (size_t)pos, (size_t)logits_rows));
  const unsigned char *history = blob + HEADER_BYTES;
  for (size_t i = pos * sizeof(gpt2_token); i < history_bytes((size_t)pos); i++)
    if (history[i] != 0) return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: history padding is not zero");
  for (size_t i = 0; i < pos; i++) {
    int32_t id = (int32_t)get32(history + i * sizeof(gpt2_token));
    if (id < 0 || id >= ctx->model->hp.n_vocab)
      return g2_fail(GPT2_E_FORMAT, "gpt2_state_load: history token %zu has id %d", i, (int)id);
  }
  size_t layers_bytes = (size_t)ctx->model->hp.n_layer * (size_t)pos * row_bytes(ctx);
  const unsigned char *keys = history + history_bytes((size_t)pos);
  state_view view = {(size_t)pos, history, keys, keys + layers_bytes, (size_t)pos * row_bytes(ctx),
                     (size_t)last_batch, (size_t)logits_rows, logits_all, keys + 2 * layers_bytes, {0, 0, 0, 0}};
  for (int i = 0; i < 4; i++) view.rng[i] = get64(blob + 56 + 8 * i);
  return state_apply(ctx, &view);
}
