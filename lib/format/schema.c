#include "format/schema.h"

#include <stdio.h>

#define MATRIX(hf, gguf, out, in, layout) {hf, gguf, 1, out, in, layout}
#define VECTOR(hf, gguf, n) {hf, gguf, 0, n, G2_DIM_EMBD, G2_LAYOUT_NK}

const g2_tensor_schema g2_model_schema[G2_MODEL_TENSORS] = {
    [G2_T_TOKENS] = MATRIX("wte.weight", "token_embd.weight", G2_DIM_VOCAB, G2_DIM_EMBD, G2_LAYOUT_NK),
    [G2_T_POSITIONS] = MATRIX("wpe.weight", "position_embd.weight", G2_DIM_CTX, G2_DIM_EMBD, G2_LAYOUT_NK),
    [G2_T_OUTPUT_NORM] = VECTOR("ln_f.weight", "output_norm.weight", G2_DIM_EMBD),
    [G2_T_OUTPUT_NORM_B] = VECTOR("ln_f.bias", "output_norm.bias", G2_DIM_EMBD),
    [G2_T_OUTPUT] = MATRIX("lm_head.weight", "output.weight", G2_DIM_VOCAB, G2_DIM_EMBD, G2_LAYOUT_NK),
};

const g2_tensor_schema g2_layer_schema[G2_LAYER_TENSORS] = {
    [G2_L_ATTN_NORM] = VECTOR("ln_1.weight", "attn_norm.weight", G2_DIM_EMBD),
    [G2_L_ATTN_NORM_B] = VECTOR("ln_1.bias", "attn_norm.bias", G2_DIM_EMBD),
    [G2_L_ATTN_QKV] = MATRIX("attn.c_attn.weight", "attn_qkv.weight", G2_DIM_QKV, G2_DIM_EMBD, G2_LAYOUT_KN),
    [G2_L_ATTN_QKV_B] = VECTOR("attn.c_attn.bias", "attn_qkv.bias", G2_DIM_QKV),
    [G2_L_ATTN_OUT] = MATRIX("attn.c_proj.weight", "attn_output.weight", G2_DIM_EMBD, G2_DIM_EMBD, G2_LAYOUT_KN),
    [G2_L_ATTN_OUT_B] = VECTOR("attn.c_proj.bias", "attn_output.bias", G2_DIM_EMBD),
    [G2_L_FFN_NORM] = VECTOR("ln_2.weight", "ffn_norm.weight", G2_DIM_EMBD),
    [G2_L_FFN_NORM_B] = VECTOR("ln_2.bias", "ffn_norm.bias", G2_DIM_EMBD),
    [G2_L_FFN_UP] = MATRIX("mlp.c_fc.weight", "ffn_up.weight", G2_DIM_FF, G2_DIM_EMBD, G2_LAYOUT_KN),
    [G2_L_FFN_UP_B] = VECTOR("mlp.c_fc.bias", "ffn_up.bias", G2_DIM_FF),
    [G2_L_FFN_DOWN] = MATRIX("mlp.c_proj.weight", "ffn_down.weight", G2_DIM_EMBD, G2_DIM_FF, G2_LAYOUT_KN),
    [G2_L_FFN_DOWN_B] = VECTOR("mlp.c_proj.bias", "ffn_down.bias", G2_DIM_EMBD),
};

int64_t g2_schema_dim(const g2_hparams *hp, g2_dim dim) {
  switch (dim) {
    case G2_DIM_EMBD: return hp->n_embd;
    case G2_DIM_QKV: return 3 * (int64_t)hp->n_embd;
    case G2_DIM_FF: return hp->n_ff;
    case G2_DIM_VOCAB: return hp->n_vocab;
    case G2_DIM_CTX: return hp->n_ctx;
  }
  return 0;
}

const char *g2_schema_hf_name(const g2_tensor_schema *t, int32_t layer, const char *prefix,
                              char *buf, size_t cap) {
  /* lm_head sits beside the transformer, never under its prefix */
  if (t == &g2_model_schema[G2_T_OUTPUT]) prefix = "";
  if (layer >= 0) snprintf(buf, cap, "%s" G2_HF_LAYER_PREFIX "%d.%s", prefix, (int)layer, t->hf_name);
  else snprintf(buf, cap, "%s%s", prefix, t->hf_name);
  return buf;
}

const char *g2_schema_gguf_name(const g2_tensor_schema *t, int32_t layer, char *buf, size_t cap) {
  if (layer >= 0) snprintf(buf, cap, G2_GGUF_LAYER_PREFIX "%d.%s", (int)layer, t->gguf_name);
  else snprintf(buf, cap, "%s", t->gguf_name);
  return buf;
}
