/* The GPT-2 forward pass, top-down:
     x = wte[token] + wpe[pos]
     per layer:  x += proj(attention(qkv(layernorm_1(x))))
                 x += down(gelu(up(layernorm_2(x))))
     logits = layernorm_f(x) . wte^T
   A pass runs the tokens of several contexts (segments) as one batch: the
   matmuls over all their rows at once, so each weight is read once per
   pass, and attention per segment over its own context's cache.
   Every numeric loop goes through the model's kernel table (the matmul of
   each matrix chosen when the context was made); work is split across
   threads by output columns, by tokens (large products of block-quantized
   weights) or by (block of tokens, head), never inside one output
   element's reduction, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "model/context.h"

enum {
  /* Column slices handed to threads are multiples of this (whole vectors). */
  COLUMN_ALIGN = 64,
  /* Slices per thread of a one-token product: threads claim them one by
     one, so one that runs late (a busy machine) leaves its share to the
     others. */
  SLICES_PER_THREAD = 4,
  /* Token slices (block-quantized weights, many tokens) hold at least this
     many tokens, a multiple of TOKEN_ALIGN (the int8 lanes' group); Q8_0
     from half as many, where its lanes take 32 tokens a pass and pack no
     weights (64 sequences, 2 threads: 1431-1491 -> 1545-1569 tok/s). At 32
     the K types' panels, packed again by every thread, lost 4%, and Q4_0's
     lanes (16 tokens a pass) 8%. */
  TOKEN_SLICE = 64,
  LANES_TOKEN_SLICE = 32,
  TOKEN_ALIGN = 16
};

/* What the thread of a slice does next to the slice's outputs, while they
   are in its cache: elementwise, so the bits are those of a separate pass
   over the whole output, and no thread waits for one to make it. */
typedef struct matmul_then {
  void (*apply)(float *x, size_t n); /* in place (gelu), or NULL */
  float *add_to;                     /* add_to[t][j] += out[t][j], same stride (residual), or NULL */
  float *const *copy_to;             /* copy_to[t][j] = out[t][j] (logits to their contexts), or NULL */
} matmul_then;

/* A task is a slice of columns for all the tokens, or (token_split) a
   slice of tokens for all the columns. */
typedef struct matmul_job {
  g2_matmul_fn fn;
  const g2_matrix *w;
  const float *x, *bias;
  float *out;
  size_t n_tok, x_stride, out_stride, slice;
  int token_split;
  g2_work *work; /* [thread] */
  const g2_vector_kernels *vec;
  matmul_then then;
} matmul_job;

static void matmul_task(void *arg, size_t task, uint32_t thread) {
  const matmul_job *job = arg;
  size_t n_out = (size_t)job->w->n_out, count = job->token_split ? job->n_tok : n_out;
  size_t first = task * job->slice, last = first + job->slice < count ? first + job->slice : count;
  if (first >= last) return;
  size_t begin = job->token_split ? 0 : first, end = job->token_split ? n_out : last;
  size_t t_begin = job->token_split ? first : 0, t_end = job->token_split ? last : job->n_tok;
  g2_work *work = &job->work[thread];
  if (job->token_split) work->kept = 0; /* other tokens than the thread's last task */
  job->fn(job->w, job->x + t_begin * job->x_stride, t_end - t_begin, job->x_stride, job->bias,
          job->out + t_begin * job->out_stride, job->out_stride, begin, end, work);
  for (size_t t = t_begin; t < t_end; t++) {
    float *row = job->out + t * job->out_stride + begin;
    if (job->then.apply) job->then.apply(row, end - begin);
    if (job->then.add_to) job->vec->add(job->then.add_to + t * job->out_stride + begin, row, end - begin);
    if (job->then.copy_to) memcpy(job->then.copy_to[t] + begin, row, (end - begin) * sizeof *row);
  }
}

/* out[t][0..n_out) = x[t] . W + bias, split into slices of columns or of
   tokens, by the matmul `plan` chose for W; then `then` on each slice. */
static void matmul(const struct gpt2_context *ctx, const g2_matrix *w, g2_matmul_plan plan,
                   const float *x, size_t n_tok, size_t x_stride, const float *bias, float *out,
                   size_t out_stride, matmul_then then) {
  size_t n_out = (size_t)w->n_out;
  /* Block-quantized weights and many tokens: slices of tokens, so that each
     token's activations are converted (quantized) once, by one thread,
     instead of once by every thread that takes a slice of columns; each
     thread then reads all the weights, which a prompt's arithmetic hides.
     pp512, 2 threads: see docs/performance.md, "Threads". */
  size_t min_slice = w->dtype == G2_DT_Q8_0 ? LANES_TOKEN_SLICE : TOKEN_SLICE;
  int token_split = g2_dtype_block_size(w->dtype) > 1 && ctx->n_threads > 1 && n_tok >= min_slice * ctx->n_threads;
  /* One slice of columns per thread for other batches: every slice converts
     all the tokens' activations (int8, BF16) when they do not fit its work
     area; with 4 slices a thread, 2 threads lost 14-18% of an int8 pp512.
     One token of a KN matrix: each slice reads a piece of every row, so
     wide slices keep the pieces long. */
  size_t per_thread = n_tok > 1 || w->layout == G2_LAYOUT_KN ? 1 : SLICES_PER_THREAD;
  size_t n_slices = ctx->n_threads > 1 ? (size_t)ctx->n_threads * per_thread : 1, slice, n_tasks;
  if (token_split) {
    slice = (n_tok + ctx->n_threads * SLICES_PER_THREAD - 1) / (ctx->n_threads * SLICES_PER_THREAD);
    slice = slice < min_slice ? min_slice : (slice + TOKEN_ALIGN - 1) / TOKEN_ALIGN * TOKEN_ALIGN;
    n_tasks = (n_tok + slice - 1) / slice;
  } else {
    slice = (n_out + n_slices - 1) / n_slices;
    slice = (slice + COLUMN_ALIGN - 1) / COLUMN_ALIGN * COLUMN_ALIGN;
    n_tasks = (n_out + slice - 1) / slice;
  }
  matmul_job job = {n_tok == 1 ? plan.one : plan.many, w, x, bias, out, n_tok, x_stride, out_stride, slice,
                    token_split, ctx->scratch.work, ctx->model->kernels->vec, then};
  for (uint32_t thread = 0; thread < ctx->n_threads; thread++) ctx->scratch.work[thread].kept = 0;
  g2_pool_run(ctx->pool, n_tasks, matmul_task, &job);
}

static void layernorm_rows(const g2_vector_kernels *k, const float *x, size_t n_tok, size_t n_embd,
                           const float *gamma, const float *beta, float eps, float *out) {
  for (size_t t = 0; t < n_tok; t++) k->layernorm(x + t * n_embd, n_embd, gamma, beta, eps, out + t * n_embd);
}

/* x[row + t] = wte[token[t]] + wpe[pos + t], per segment */
static void embed(struct gpt2_context *runner, const g2_segment *segments, size_t n_segments) {
  const struct gpt2_model *model = runner->model;
  const g2_vector_kernels *k = model->kernels->vec;
  size_t n_embd = (size_t)model->hp.n_embd;
  float *position = runner->scratch.xn;
  for (size_t i = 0; i < n_segments; i++) {
    const g2_segment *seg = &segments[i];
    for (size_t t = 0; t < seg->n; t++) {
      float *x = runner->scratch.x + (seg->row + t) * n_embd;
      k->get_row(&model->wte, seg->tokens[t], x);
      k->get_row(&model->wpe, (int64_t)(seg->pos + t), position);
      k->add(x, position, n_embd);
    }
  }
}

/* Writes the keys and values of each segment to layer `layer` of its
   context's cache, at its positions. */
static void store_kv(const g2_segment *segments, size_t n_segments, size_t layer, const float *qkv) {
  for (size_t i = 0; i < n_segments; i++) {
    const g2_segment *seg = &segments[i];
    const struct gpt2_context *ctx = seg->ctx;
    size_t n_embd = (size_t)ctx->model->hp.n_embd;
    size_t first = (layer * ctx->n_ctx + seg->pos) * n_embd;
    for (size_t t = 0; t < seg->n; t++) {
      const float *key = qkv + (seg->row + t) * 3 * n_embd + n_embd, *value = key + n_embd;
      size_t at = first + t * n_embd;
      if (ctx->kv_type == GPT2_KV_F16) {
        uint16_t *k16 = (uint16_t *)ctx->k_cache + at, *v16 = (uint16_t *)ctx->v_cache + at;
        for (size_t e = 0; e < n_embd; e++) {
          k16[e] = g2_f32_to_f16(key[e]);
          v16[e] = g2_f32_to_f16(value[e]);
        }
      } else {
        memcpy((float *)ctx->k_cache + at, key, n_embd * sizeof(float));
        memcpy((float *)ctx->v_cache + at, value, n_embd * sizeof(float));
      }
    }
  }
}

/* Cuts every segment into blocks of up to G2_ATTENTION_QUERIES tokens;
   returns their number (<= the pass's tokens). */
static size_t attention_blocks(const g2_segment *segments, size_t n_segments, g2_attention_block *blocks) {
  size_t n_blocks = 0;
  for (size_t i = 0; i < n_segments; i++)
    for (size_t t = 0; t < segments[i].n; t += G2_ATTENTION_QUERIES) {
      size_t left = segments[i].n - t;
      blocks[n_blocks++] = (g2_attention_block){&segments[i], t,
                                                left < G2_ATTENTION_QUERIES ? left : G2_ATTENTION_QUERIES};
    }
  return n_blocks;
}

typedef struct attention_job {
  const struct gpt2_context *runner;
  size_t layer;
  const float *qkv;
  float *out;
  const g2_attention_block *blocks;
  size_t n_blocks;
} attention_job;

/* One (block, head): causal attention of each of the block's queries over
   its context's cache up to and including its own position. Threads claim
   tasks in order, so the blocks go last first: a segment's later blocks
   attend to more positions, and the short ones left for the end even out
   the threads' finishing times. */
static void attention_task(void *arg, size_t task, uint32_t thread) {
  const attention_job *job = arg;
  const struct gpt2_context *runner = job->runner;
  size_t n_embd = (size_t)runner->model->hp.n_embd, n_head = (size_t)runner->model->hp.n_head;
  size_t head_dim = n_embd / n_head;
  size_t order = task / n_head, h = task % n_head;
  const g2_attention_block *block = &job->blocks[job->n_blocks - 1 - order];
  const g2_segment *seg = block->segment;
  const struct gpt2_context *ctx = seg->ctx;
  size_t row = seg->row + block->first;
  size_t offset = (job->layer * ctx->n_ctx * n_embd + h * head_dim) * ctx->kv_elem_bytes;
  float *scores = runner->scratch.scores + thread * G2_ATTENTION_QUERIES * runner->scratch.cap_kv;
  runner->model->kernels->vec->attention(job->qkv + row * 3 * n_embd + h * head_dim, 3 * n_embd, block->n_q,
                                         (const char *)ctx->k_cache + offset,
                                         (const char *)ctx->v_cache + offset, ctx->kv_type,
                                         seg->pos + block->first + 1, head_dim, n_embd,
                                         1.0f / sqrtf((float)head_dim), scores,
                                         job->out + row * n_embd + h * head_dim, n_embd);
}

static void transformer_block(struct gpt2_context *runner, const g2_segment *segments, size_t n_segments,
                              size_t layer_index, size_t n_tok, size_t n_blocks) {
  const struct gpt2_model *model = runner->model;
  const g2_layer *layer = &model->layers[layer_index];
  const g2_layer_plan *plan = &runner->layer_plans[layer_index];
  const g2_vector_kernels *k = model->kernels->vec;
  size_t n_embd = (size_t)model->hp.n_embd, n_ff = (size_t)model->hp.n_ff;
  g2_scratch *s = &runner->scratch;

  /* attention: x += proj(attn(qkv(ln_1(x)))) */
  layernorm_rows(k, s->x, n_tok, n_embd, layer->ln1_gamma, layer->ln1_beta, model->hp.ln_eps, s->xn);
  const matmul_then nothing = {NULL, NULL, NULL}, residual = {NULL, s->x, NULL}, gelu = {k->gelu, NULL, NULL};
  matmul(runner, &layer->attn_qkv, plan->attn_qkv, s->xn, n_tok, n_embd, layer->attn_qkv_bias, s->qkv, 3 * n_embd,
         nothing);
  store_kv(segments, n_segments, layer_index, s->qkv);
  attention_job job = {runner, layer_index, s->qkv, s->attn, s->blocks, n_blocks};
  g2_pool_run(runner->pool, n_blocks * (size_t)model->hp.n_head, attention_task, &job);
  matmul(runner, &layer->attn_proj, plan->attn_proj, s->attn, n_tok, n_embd, layer->attn_proj_bias, s->xn, n_embd,
         residual);

  /* MLP: x += down(gelu(up(ln_2(x)))) */
  layernorm_rows(k, s->x, n_tok, n_embd, layer->ln2_gamma, layer->ln2_beta, model->hp.ln_eps, s->xn);
  matmul(runner, &layer->mlp_up, plan->mlp_up, s->xn, n_tok, n_embd, layer->mlp_up_bias, s->ff, n_ff, gelu);
  matmul(runner, &layer->mlp_down, plan->mlp_down, s->ff, n_tok, n_ff, layer->mlp_down_bias, s->xn, n_embd,
         residual);
}

/* Nonzero if a segment's context asks to stop. */
static int abort_requested(const g2_segment *segments, size_t n_segments) {
  for (size_t i = 0; i < n_segments; i++) {
    const gpt2_context_params *p = &segments[i].ctx->params;
    if (p->abort_callback && p->abort_callback(p->abort_data)) return 1;
  }
  return 0;
}

int g2_forward_layers(struct gpt2_context *runner, const g2_segment *segments, size_t n_segments,
                      size_t n_tok) {
  const struct gpt2_model *model = runner->model;
  size_t n_embd = (size_t)model->hp.n_embd;
  g2_scratch *s = &runner->scratch;

  size_t n_blocks = attention_blocks(segments, n_segments, s->blocks);
  embed(runner, segments, n_segments);
  for (size_t layer = 0; layer < (size_t)model->hp.n_layer; layer++) {
    if (abort_requested(segments, n_segments)) return GPT2_E_ABORTED;
    transformer_block(runner, segments, n_segments, layer, n_tok, n_blocks);
  }

  /* Only the rows whose logits are wanted go through the final norm. */
  for (size_t i = 0; i < n_segments; i++) {
    const g2_segment *seg = &segments[i];
    layernorm_rows(model->kernels->vec, s->x + (seg->row + seg->first_wanted) * n_embd, seg->n - seg->first_wanted,
                   n_embd, model->lnf_gamma, model->lnf_beta, model->hp.ln_eps, s->hidden + seg->hidden_row * n_embd);
    if (seg->ctx->embeddings) /* every row, at its index in the eval call */
      layernorm_rows(model->kernels->vec, s->x + seg->row * n_embd, seg->n, n_embd, model->lnf_gamma, model->lnf_beta,
                     model->hp.ln_eps, seg->ctx->embd_pending + (seg->pos - seg->ctx->pos) * n_embd);
  }
  return GPT2_OK;
}

/* The unembedding, tied to wte. */
void g2_forward_logits(struct gpt2_context *runner, size_t first, size_t rows, float *logits, float *const *copy_to) {
  const struct gpt2_model *model = runner->model;
  size_t n_embd = (size_t)model->hp.n_embd;
  matmul(runner, &model->lm_head, runner->lm_head_plan, runner->scratch.hidden + first * n_embd, rows, n_embd,
         NULL, logits, (size_t)model->hp.n_vocab, (matmul_then){NULL, NULL, copy_to});
}
