/* One sequence on a model: KV cache, logits, scratch, sampler state. */
#ifndef G2_CONTEXT_H
#define G2_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "gpt2.h"
#include "model/model.h"

/* Scratch activations for a batch of up to `cap_tokens` tokens. */
typedef struct g2_scratch {
  size_t cap_tokens;
  float *x;       /* [T][n_embd] residual stream */
  float *xn;      /* [T][n_embd] layer-normed input */
  float *qkv;     /* [T][3 n_embd] */
  float *attn;    /* [T][n_embd] attention output (heads concatenated) */
  float *ff;      /* [T][n_ff] */
  float *scores;  /* [n_threads][G2_ATTENTION_QUERIES][n_ctx] attention weights */
  unsigned char *work; /* [n_threads][G2_KERNEL_WORK_BYTES] the matmuls' work areas, 64-byte aligned */
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

  g2_scratch scratch;
  /* The model's matmuls, chosen once when the context is made. */
  g2_layer_plan *layer_plans; /* [n_layer] */
  g2_matmul_plan lm_head_plan;

  uint64_t rng_state[4]; /* sampler RNG (lib/sample), seeded at creation */
};

/* Largest batch the forward pass runs at once; gpt2_eval splits longer
   ones (the results do not depend on the split). */
#define G2_MAX_BATCH 512

/* Queries of one head that one attention call handles together (the
   kernels load each K and V row once per register tile of queries instead
   of once per query; bench/attention_speed measures block sizes). */
#define G2_ATTENTION_QUERIES 16

/* Forward pass of n <= G2_MAX_BATCH tokens at positions ctx->pos.., already
   validated, with scratch for n tokens ready. Fills the KV cache, advances
   pos and history, and writes logits: n rows if all_logits, else the last
   token's row. Cannot fail. */
void g2_forward(struct gpt2_context *ctx, const gpt2_token *tokens, size_t n,
                float *logits, int all_logits);

#endif
