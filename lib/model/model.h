/* The loaded model: hyper-parameters, weights (mostly pointers into mapped
   files), tokenizer and the chosen kernel table. Immutable after load. */
#ifndef G2_MODEL_H
#define G2_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/file.h"
#include "core/progress.h"
#include "format/checkpoint.h"
#include "format/schema.h"
#include "kernels/kernels.h"
#include "tensor/matrix.h"
#include "tokenizer/tokenizer.h"

typedef struct g2_layer {
  const float *ln1_gamma, *ln1_beta;             /* [n_embd] */
  g2_matrix attn_qkv; const float *attn_qkv_bias;   /* n_embd -> 3 n_embd (q,k,v) */
  g2_matrix attn_proj; const float *attn_proj_bias; /* n_embd -> n_embd */
  const float *ln2_gamma, *ln2_beta;             /* [n_embd] */
  g2_matrix mlp_up; const float *mlp_up_bias;       /* n_embd -> n_ff */
  g2_matrix mlp_down; const float *mlp_down_bias;   /* n_ff -> n_embd */
} g2_layer;

struct gpt2_model {
  g2_hparams hp;
  g2_matrix wte;     /* NK [n_vocab][n_embd] token embeddings */
  g2_matrix wpe;     /* NK [n_ctx][n_embd] position embeddings */
  g2_matrix lm_head; /* NK [n_vocab][n_embd]: wte itself when tied */
  const float *lnf_gamma, *lnf_beta; /* [n_embd] */
  g2_layer *layers;                  /* [n_layer] */
  g2_tokenizer *tokenizer;
  const g2_kernels *kernels;
  /* Hyper-parameters, matrix types and layouts and the vocabulary, hashed
     once loaded (the weights' values are not): what a saved context state
     must have been made with (model/state.c). */
  uint64_t fingerprint;

  /* Owned resources, released by gpt2_model_free. */
  g2_mapping mappings[4];
  size_t n_mappings;
  void **owned; /* g2_malloc'd blocks (converted weights, layers, ...) */
  size_t n_owned, cap_owned;
  int refcount; /* atomically updated: caller + live contexts */
};

/* An empty model with refcount 1 and the kernel table chosen (GPT2_ISA,
   and no table that rounds activations if fp32_products). */
int g2_model_new(int fp32_products, struct gpt2_model **out);
/* Drops one reference; frees everything at zero. NULL accepted. */
void g2_model_release(struct gpt2_model *model);
void g2_model_retain(struct gpt2_model *model);

/* A g2_malloc'd block of `bytes` owned by the model (freed with it). */
void *g2_model_alloc(struct gpt2_model *model, size_t bytes);
/* The same on huge pages where the system has them (g2_malloc_huge): for
   weights that every decode step streams. */
void *g2_model_alloc_huge(struct gpt2_model *model, size_t bytes);
/* Keeps a mapping alive for the model's lifetime (at most 4). */
int g2_model_keep_mapping(struct gpt2_model *model, g2_mapping *map);

/* Converts every matrix to the type the weight-type policy gives it for
   `weight_type` (model/policy.h; AUTO: its own) and to its type's layout
   (model/convert.c), in new model-owned memory where either changes
   (nothing else is copied), all or nothing, on n_threads runners (0: one
   per online CPU):
   the caller and n_threads - 1 threads started for the call and joined
   before it returns. The result does not depend on n_threads. Reports
   each converted matrix to `progress` (may be NULL); a cancel returns
   GPT2_E_ABORTED with the model half converted, to be freed. */
int g2_model_convert_weights(struct gpt2_model *model, uint32_t weight_type, uint32_t n_threads,
                             const g2_progress *progress);

/* Fills an empty model from a checkpoint a reader filled (model/build.c):
   the fields of each schema entry, vectors as F32, the mapping of the
   weights and the tokenizer; `source` names the checkpoint in messages. */
int g2_model_build(struct gpt2_model *model, g2_checkpoint *ckpt, const char *source);

/* The field of the model that holds schema entry `id` (g2_model_tensor for
   layer -1, else g2_layer_tensor of that block): a g2_matrix for matrices,
   a const float * for vectors. */
void *g2_model_field(const struct gpt2_model *model, int32_t layer, int id);

/* Whether the output matrix is the token embedding itself (tied). */
int g2_model_output_tied(const struct gpt2_model *model);

/* The Q8_0 block sums of the multiplied matrices that the model's kernel
   table uses (kernels/int8.h), in one model-owned block
   (model/block_sums.c); none for other tables and types. */
int g2_model_add_block_sums(struct gpt2_model *model);

#endif
