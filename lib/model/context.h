/* One sequence on a model: KV cache, logits, scratch, sampler state. */
#ifndef G2_CONTEXT_H
#define G2_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "gpt2.h"
#include "model/model.h"

/* One context's part of a forward pass: n tokens at positions pos.., in
   rows row.. of the pass's activations. The final-normed rows of tokens
   first_wanted.. (whose logits are wanted) go to hidden rows hidden_row..;
   first_wanted == n: none. */
typedef struct g2_segment {
  struct gpt2_context *ctx;
  const gpt2_token *tokens;
  size_t n, pos, row;
  size_t first_wanted, hidden_row;
} g2_segment;

/* A block of up to G2_ATTENTION_QUERIES consecutive tokens of one segment. */
typedef struct g2_attention_block {
  const g2_segment *segment;
  size_t first; /* token index in the segment */
  size_t n_q;
} g2_attention_block;

/* Scratch of the context that runs a pass (gpt2_eval_batch's ctxs[0]). */
typedef struct g2_scratch {
  size_t cap_tokens; /* tokens of one pass */
  size_t cap_kv;     /* positions a thread's score rows hold */
  size_t cap_hidden; /* rows of hidden */
  size_t cap_stage;  /* rows of stage */
  float *x;       /* [T][n_embd] residual stream */
  float *xn;      /* [T][n_embd] layer-normed input */
  float *qkv;     /* [T][3 n_embd] */
  float *attn;    /* [T][n_embd] attention output (heads concatenated) */
  float *ff;      /* [T][n_ff] */
  float *scores;  /* [n_threads][G2_ATTENTION_QUERIES][cap_kv] attention weights */
  float *hidden;  /* [cap_hidden][n_embd] final-normed rows whose logits are wanted */
  float *stage;   /* [cap_stage][n_vocab] logits of several contexts, one product */
  g2_segment *segments;        /* [cap_tokens] a pass's segments (each >= 1 token) */
  g2_attention_block *blocks;  /* [cap_tokens] a pass's attention blocks */
  g2_work *work;       /* [n_threads] the matmuls' work areas, 64-byte aligned */
  void *work_block;    /* what g2_free takes for `work` */
} g2_scratch;

/* The matmuls chosen for one matrix (g2_kernels_matmul), for one token and
   for batches. */
typedef struct g2_matmul_plan {
  g2_matmul_fn one, many;
} g2_matmul_plan;

typedef struct g2_layer_plan {
  g2_matmul_plan attn_qkv, attn_proj, mlp_up, mlp_down;
} g2_layer_plan;

struct gpt2_context {
  struct gpt2_model *model; /* holds a reference */
  size_t n_ctx;
  uint32_t n_threads;
  g2_pool *pool; /* n_threads runners: the caller of gpt2_eval and its workers */
  uint32_t logits_all;
  uint32_t kv_type;
  size_t kv_elem_bytes;

  void *k_cache; /* [n_layer][n_ctx][n_embd] in kv_type */
  void *v_cache;
  size_t pos;        /* tokens in the cache */
  gpt2_token *history; /* [n_ctx] the tokens in the cache */

  float *logits;        /* [logits_cap][n_vocab] */
  size_t logits_cap;    /* rows allocated */
  size_t logits_rows;   /* rows valid from the last eval (0: none) */
  size_t last_batch;    /* tokens in the last eval batch */

  /* Final hidden states (params.embeddings, model/embeddings.c): those of
     the last batch, and those a pass in progress writes, swapped when an
     eval succeeds, so that a failed one leaves the previous ones. */
  uint32_t embeddings;
  float *embd;          /* [embd_cap][n_embd] */
  float *embd_pending;  /* [embd_cap][n_embd] */
  size_t embd_cap;      /* rows of each */
  size_t embd_rows;     /* rows valid in embd (0: none) */

  g2_scratch scratch;
  /* The model's matmuls, chosen once when the context is made. */
  g2_layer_plan *layer_plans; /* [n_layer] */
  g2_matmul_plan lm_head_plan;

  uint64_t rng_state[4]; /* sampler RNG (lib/sample), seeded at creation */
  gpt2_context_params params; /* as given (effective n_ctx, n_threads), for copies */
  uint32_t in_batch; /* set while gpt2_eval_batch checks for a context given twice */
};

/* Largest batch the forward pass runs at once; gpt2_eval splits longer
   ones (the results do not depend on the split). */
#define G2_MAX_BATCH 512

/* Queries of one head that one attention call handles together (the
   kernels load each K and V row once per register tile of queries instead
   of once per query; bench/attention_speed measures block sizes). */
#define G2_ATTENTION_QUERIES 16

/* Most contexts one gpt2_eval_batch takes. */
#define G2_MAX_CONTEXTS 65536

/* Scratch for passes of n_tok tokens over caches of up to n_kv positions,
   n_hidden rows of final-normed activations and n_stage rows of staged
   logits, on ctx's threads. On failure the old scratch stays. */
int g2_scratch_reserve(struct gpt2_context *ctx, size_t n_tok, size_t n_kv, size_t n_hidden,
                       size_t n_stage);
/* Room for `rows` rows of logits; the valid rows are kept. */
int g2_logits_reserve(struct gpt2_context *ctx, size_t rows);

/* Room for `rows` pending rows of hidden states (a context with
   embeddings); the valid rows are kept. */
int g2_embeddings_reserve(struct gpt2_context *ctx, size_t rows);
/* Makes the pending rows of an eval of n tokens the valid ones. */
void g2_embeddings_commit(struct gpt2_context *ctx, size_t n);

/* The layers of one pass of n_tok <= cap_tokens tokens, the segments of
   distinct contexts of one model, on runner's threads and scratch: fills
   each segment's KV cache rows and its hidden rows (and, for a context
   with embeddings, all its final-normed rows into embd_pending). Positions, history and
   logits are not touched. Asks the segments' contexts' abort callbacks
   before each layer: GPT2_E_ABORTED if one says stop, else GPT2_OK. */
int g2_forward_layers(struct gpt2_context *runner, const g2_segment *segments, size_t n_segments,
                      size_t n_tok);
/* logits[r] = hidden[first + r] . lm_head^T for r < rows (<= cap_tokens),
   rows n_vocab apart, on runner's threads; each row also copied to
   copy_to[r] by the threads that computed it, unless copy_to is NULL. */
void g2_forward_logits(struct gpt2_context *runner, size_t first, size_t rows, float *logits,
                       float *const *copy_to);

#endif
