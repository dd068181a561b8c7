/* The GPT-2 checkpoint, written once: its hyper-parameters and every
   tensor with its Hugging Face name, its GGUF name (llama.cpp's), its
   shape in terms of the hyper-parameters and, for matrices, the layout
   Hugging Face stores it in. The HF reader, the GGUF reader and the GGUF
   writer all walk this table; lib/model/ maps each entry to its field of
   the model (model/build.c). */
#ifndef G2_SCHEMA_H
#define G2_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"

typedef struct g2_hparams {
  int32_t n_vocab;
  int32_t n_ctx; /* n_positions: rows of wpe */
  int32_t n_embd;
  int32_t n_layer;
  int32_t n_head;
  int32_t n_ff; /* 4 * n_embd in every GPT-2 */
  float ln_eps;
} g2_hparams;

/* Model-wide tensors, in the order llama.cpp's converter writes them
   (the layers go between G2_T_POSITIONS and G2_T_OUTPUT_NORM). */
typedef enum g2_model_tensor {
  G2_T_TOKENS = 0,     /* token embedding [n_vocab][n_embd] */
  G2_T_POSITIONS,      /* position embedding [n_ctx][n_embd] */
  G2_T_OUTPUT_NORM,    /* final layer norm gamma [n_embd] */
  G2_T_OUTPUT_NORM_B,  /* and beta */
  G2_T_OUTPUT,         /* output matrix; absent when tied to G2_T_TOKENS */
  G2_MODEL_TENSORS
} g2_model_tensor;

/* The tensors of each block, in file order. */
typedef enum g2_layer_tensor {
  G2_L_ATTN_NORM = 0, G2_L_ATTN_NORM_B,
  G2_L_ATTN_QKV, G2_L_ATTN_QKV_B,
  G2_L_ATTN_OUT, G2_L_ATTN_OUT_B,
  G2_L_FFN_NORM, G2_L_FFN_NORM_B,
  G2_L_FFN_UP, G2_L_FFN_UP_B,
  G2_L_FFN_DOWN, G2_L_FFN_DOWN_B,
  G2_LAYER_TENSORS
} g2_layer_tensor;

/* A dimension in terms of the hyper-parameters. */
typedef enum g2_dim { G2_DIM_EMBD, G2_DIM_QKV /* 3 n_embd */, G2_DIM_FF, G2_DIM_VOCAB, G2_DIM_CTX } g2_dim;

typedef struct g2_tensor_schema {
  const char *hf_name;   /* after "h.N." for layer tensors */
  const char *gguf_name; /* after "blk.N." for layer tensors */
  int is_matrix;
  g2_dim n_out;          /* a vector's length */
  g2_dim n_in;           /* matrices */
  g2_layout hf_layout;   /* matrices: Conv1D is [n_in][n_out] */
} g2_tensor_schema;

/* Layer tensors' names start with these and the block's number and a dot. */
#define G2_HF_LAYER_PREFIX "h."
#define G2_GGUF_LAYER_PREFIX "blk."

extern const g2_tensor_schema g2_model_schema[G2_MODEL_TENSORS];
extern const g2_tensor_schema g2_layer_schema[G2_LAYER_TENSORS];

int64_t g2_schema_dim(const g2_hparams *hp, g2_dim dim);

/* The full name of a tensor in `buf` (at least 64 bytes): the schema's
   name, after "h.N." / "blk.N." for layer >= 0. Hugging Face's `prefix`
   ("transformer." or "") goes before every name but lm_head.weight. */
const char *g2_schema_hf_name(const g2_tensor_schema *t, int32_t layer, const char *prefix,
                              char *buf, size_t cap);
const char *g2_schema_gguf_name(const g2_tensor_schema *t, int32_t layer, char *buf, size_t cap);

#endif
