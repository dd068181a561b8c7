/* The weight-type policy: which type each matrix gets for a
   GPT2_WTYPE_*, used alike by load-time conversion (model/convert.c) and
   by gpt2_save_gguf (model/save.c), so that a model converted at load and
   the file of the same weight_type are the same model (docs/gguf.md). The
   K mixes are llama-quantize's (llama.cpp de3ff81, no importance matrix). */
#ifndef G2_POLICY_H
#define G2_POLICY_H

#include <stdint.h>

#include "model/model.h"
#include "tensor/matrix.h"

typedef enum g2_weight_role {
  G2_ROLE_ATTN_QKV,  /* a block's matrices, by llama.cpp's tensor categories */
  G2_ROLE_ATTN_OUT,
  G2_ROLE_FFN_UP,
  G2_ROLE_FFN_DOWN,
  G2_ROLE_TOKENS,    /* the token embedding when an output matrix of its own exists */
  G2_ROLE_OUTPUT,    /* the output matrix, or the token embedding tied to it */
  G2_ROLE_POSITIONS  /* the position embedding */
} g2_weight_role;

/* Where a matrix sits: the K mixes give some layers more bits. */
typedef struct g2_weight_slot {
  g2_weight_role role;
  int32_t layer, n_layer; /* layer -1 outside the blocks */
} g2_weight_slot;

/* GPT2_E_INVALID naming `params_name` unless weight_type is a GPT2_WTYPE_*. */
int g2_check_weight_type(uint32_t weight_type, const char *params_name);

/* The slot of schema entry `id` (of block `layer`, or -1) of `model`. */
g2_weight_slot g2_weight_role_of(const struct gpt2_model *model, int32_t layer, int id);

/* The type a matrix `m` in `slot` gets under `weight_type` (a checked
   GPT2_WTYPE_*); AUTO keeps m's type. */
g2_dtype g2_weight_policy(uint32_t weight_type, g2_weight_slot slot, const g2_matrix *m);

/* general.file_type of a file of `weight_type` (llama_ftype's values);
   AUTO names the type of the first block's attention matrix, `qkv`. */
uint32_t g2_weight_file_type(uint32_t weight_type, const g2_matrix *qkv);

#endif
