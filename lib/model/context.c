/* Contexts: creation, the KV cache, scratch and logits buffers. */
#include "model/context.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/params.h"
#include "core/threads.h"
#include "sample/sample.h"

/* Upper bound on n_threads, against absurd values; alignment of the
   kernels' work areas (kernels.h). */
enum { MAX_THREADS = 1024, WORK_ALIGN = 64 };

static g2_matmul_plan plan_of(const g2_kernels *kernels, const g2_matrix *w) {
  return (g2_matmul_plan){g2_kernels_matmul(kernels, w, 1), g2_kernels_matmul(kernels, w, 2)};
}

/* Chooses the matmul of every matrix of the model. */
static int plan_matmuls(struct gpt2_context *ctx) {
  const struct gpt2_model *model = ctx->model;
  const g2_kernels *kernels = model->kernels;
  ctx->layer_plans = g2_malloc_array((size_t)model->hp.n_layer, sizeof *ctx->layer_plans);
  if (!ctx->layer_plans) return g2_fail(GPT2_E_NOMEM, "out of memory allocating a context");
  for (size_t i = 0; i < (size_t)model->hp.n_layer; i++) {
    const g2_layer *layer = &model->layers[i];
    ctx->layer_plans[i] = (g2_layer_plan){plan_of(kernels, &layer->attn_qkv), plan_of(kernels, &layer->attn_proj),
                                          plan_of(kernels, &layer->mlp_up), plan_of(kernels, &layer->mlp_down)};
  }
  ctx->lm_head_plan = plan_of(kernels, &model->lm_head);
  return GPT2_OK;
}

static void scratch_free(g2_scratch *s) {
  g2_free(s->x);
  g2_free(s->xn);
  g2_free(s->qkv);
  g2_free(s->attn);
  g2_free(s->ff);
  g2_free(s->scores);
  g2_free(s->hidden);
  g2_free(s->stage);
  g2_free(s->segments);
  g2_free(s->blocks);
  g2_free(s->work_block);
  memset(s, 0, sizeof *s);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

int g2_scratch_reserve(struct gpt2_context *ctx, size_t n_tok, size_t n_kv, size_t n_hidden, size_t n_stage) {
  const g2_scratch *old = &ctx->scratch;
  if (old->cap_tokens >= n_tok && old->cap_kv >= n_kv && old->cap_hidden >= n_hidden && old->cap_stage >= n_stage)
    return GPT2_OK;
  const g2_hparams *hp = &ctx->model->hp;
  size_t n_embd = (size_t)hp->n_embd;
  g2_scratch s;
  memset(&s, 0, sizeof s);
  s.cap_tokens = max_size(old->cap_tokens, n_tok);
  s.cap_kv = max_size(old->cap_kv, n_kv);
  s.cap_hidden = max_size(old->cap_hidden, n_hidden);
  s.cap_stage = max_size(old->cap_stage, n_stage);
  size_t t = s.cap_tokens;
  s.x = g2_malloc_array(t * n_embd, sizeof(float));
  s.xn = g2_malloc_array(t * n_embd, sizeof(float));
  s.qkv = g2_malloc_array(t * 3 * n_embd, sizeof(float));
  s.attn = g2_malloc_array(t * n_embd, sizeof(float));
  s.ff = g2_malloc_array(t * (size_t)hp->n_ff, sizeof(float));
  /* n_q * (n_kv + n_q - 1) <= G2_ATTENTION_QUERIES * n_ctx floats per thread */
  s.scores = g2_malloc_array((size_t)ctx->n_threads * G2_ATTENTION_QUERIES, s.cap_kv * sizeof(float));
  /* at least one row each, so that no pointer is NULL on success */
  s.hidden = g2_malloc_array(max_size(s.cap_hidden, 1), n_embd * sizeof(float));
  s.stage = g2_malloc_array(max_size(s.cap_stage, 1), (size_t)hp->n_vocab * sizeof(float));
  s.segments = g2_malloc_array(t, sizeof *s.segments);
  s.blocks = g2_malloc_array(t, sizeof *s.blocks);
  /* n_threads <= MAX_THREADS: no overflow */
  s.work_block = g2_malloc((size_t)ctx->n_threads * sizeof(g2_work) + WORK_ALIGN - 1);
  if (s.work_block)
    s.work = (g2_work *)(void *)((unsigned char *)s.work_block +
                                 (WORK_ALIGN - (uintptr_t)s.work_block % WORK_ALIGN) % WORK_ALIGN);
  if (!s.x || !s.xn || !s.qkv || !s.attn || !s.ff || !s.scores || !s.hidden || !s.stage || !s.segments ||
      !s.blocks || !s.work) {
    scratch_free(&s);
    return g2_fail(GPT2_E_NOMEM, "out of memory for a batch of %zu tokens", n_tok);
  }
  scratch_free(&ctx->scratch);
  ctx->scratch = s;
  return GPT2_OK;
}

int g2_logits_reserve(struct gpt2_context *ctx, size_t rows) {
  if (ctx->logits_cap >= rows) return GPT2_OK;
  size_t n_vocab = (size_t)ctx->model->hp.n_vocab;
  float *logits = g2_malloc_array(rows * n_vocab, sizeof(float));
  if (!logits) return g2_fail(GPT2_E_NOMEM, "out of memory for %zu rows of logits", rows);
  if (ctx->logits_rows) memcpy(logits, ctx->logits, ctx->logits_rows * n_vocab * sizeof(float));
  g2_free(ctx->logits);
  ctx->logits = logits;
  ctx->logits_cap = rows;
  return GPT2_OK;
}

/* Elements of the K cache (and of the V cache). */
static size_t cache_elems(const struct gpt2_context *ctx) {
  return (size_t)ctx->model->hp.n_layer * ctx->n_ctx * (size_t)ctx->model->hp.n_embd;
}

GPT2_API int gpt2_context_new(const gpt2_model *model, const gpt2_context_params *params,
                              gpt2_context **out) {
  g2_clear_error();
  if (!out) return g2_fail(GPT2_E_INVALID, "gpt2_context_new: out is NULL");
  *out = NULL;
  if (!model) return g2_fail(GPT2_E_INVALID, "gpt2_context_new: model is NULL");
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  int status = g2_read_params(&p, sizeof p, params, "gpt2_context_params");
  if (status) return status;
  if (p.n_ctx > (uint32_t)model->hp.n_ctx)
    return g2_fail(GPT2_E_RANGE, "n_ctx %u exceeds the model's %d positions", (unsigned)p.n_ctx,
                   (int)model->hp.n_ctx);
  if (p.kv_type != GPT2_KV_F32 && p.kv_type != GPT2_KV_F16)
    return g2_fail(GPT2_E_INVALID, "kv_type %u is not a GPT2_KV_*", (unsigned)p.kv_type);
  if (p.n_threads > MAX_THREADS)
    return g2_fail(GPT2_E_INVALID, "n_threads %u exceeds %d", (unsigned)p.n_threads, MAX_THREADS);

  struct gpt2_context *ctx = g2_calloc(1, sizeof *ctx);
  if (!ctx) return g2_fail(GPT2_E_NOMEM, "out of memory allocating a context");
  ctx->model = (struct gpt2_model *)model; /* only the atomic refcount changes */
  ctx->n_ctx = p.n_ctx ? p.n_ctx : (size_t)model->hp.n_ctx;
  ctx->n_threads = p.n_threads ? p.n_threads : g2_cpu_count();
  ctx->logits_all = p.logits_all != 0;
  ctx->embeddings = p.embeddings != 0;
  ctx->kv_type = p.kv_type;
  ctx->kv_elem_bytes = p.kv_type == GPT2_KV_F16 ? 2 : 4;
  g2_rng_seed(ctx->rng_state, p.seed);
  ctx->params = p;
  ctx->params.n_ctx = (uint32_t)ctx->n_ctx;
  ctx->params.n_threads = ctx->n_threads;

  /* [n_layer][n_ctx][n_embd]: positions in use cost resident memory, the
     rest of n_ctx only address space (g2_calloc_pages) */
  ctx->k_cache = g2_calloc_pages(cache_elems(ctx), ctx->kv_elem_bytes);
  ctx->v_cache = g2_calloc_pages(cache_elems(ctx), ctx->kv_elem_bytes);
  ctx->history = g2_malloc_array(ctx->n_ctx, sizeof(gpt2_token));
  status = !ctx->k_cache || !ctx->v_cache || !ctx->history
               ? g2_fail(GPT2_E_NOMEM, "out of memory for a KV cache of %zu positions", ctx->n_ctx)
               : g2_pool_new(ctx->n_threads, &ctx->pool);
  if (!status) status = plan_matmuls(ctx);
  if (status) {
    g2_pool_free(ctx->pool);
    g2_free(ctx->layer_plans);
    g2_free_pages(ctx->k_cache, cache_elems(ctx), ctx->kv_elem_bytes);
    g2_free_pages(ctx->v_cache, cache_elems(ctx), ctx->kv_elem_bytes);
    g2_free(ctx->history);
    g2_free(ctx);
    return status;
  }
  g2_model_retain(ctx->model);
  *out = ctx;
  return GPT2_OK;
}

GPT2_API void gpt2_context_free(gpt2_context *ctx) {
  if (!ctx) return;
  g2_pool_free(ctx->pool);
  scratch_free(&ctx->scratch);
  g2_free(ctx->layer_plans);
  g2_free(ctx->logits);
  g2_free(ctx->embd);
  g2_free(ctx->embd_pending);
  g2_free_pages(ctx->k_cache, cache_elems(ctx), ctx->kv_elem_bytes);
  g2_free_pages(ctx->v_cache, cache_elems(ctx), ctx->kv_elem_bytes);
  g2_free(ctx->history);
  g2_model_release(ctx->model);
  g2_free(ctx);
}

GPT2_API size_t gpt2_n_ctx(const gpt2_context *ctx) { return ctx ? ctx->n_ctx : 0; }
GPT2_API size_t gpt2_pos(const gpt2_context *ctx) { return ctx ? ctx->pos : 0; }

GPT2_API const float *gpt2_logits(const gpt2_context *ctx, int32_t i) {
  if (!ctx || ctx->logits_rows == 0) return NULL;
  if (i == -1) i = (int32_t)ctx->last_batch - 1;
  if (i < 0 || (size_t)i >= ctx->last_batch) return NULL;
  size_t row = ctx->logits_all ? (size_t)i : ((size_t)i == ctx->last_batch - 1 ? 0 : SIZE_MAX);
  if (row == SIZE_MAX) return NULL;
  return ctx->logits + row * (size_t)ctx->model->hp.n_vocab;
}

GPT2_API int gpt2_truncate(gpt2_context *ctx, size_t pos) {
  g2_clear_error();
  if (!ctx) return g2_fail(GPT2_E_INVALID, "gpt2_truncate: context is NULL");
  if (pos > ctx->pos)
    return g2_fail(GPT2_E_RANGE, "gpt2_truncate: position %zu is past the %zu cached tokens", pos,
                   ctx->pos);
  ctx->pos = pos;
  ctx->logits_rows = 0;
  ctx->embd_rows = 0;
  return GPT2_OK;
}
