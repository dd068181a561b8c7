/* A model whose matrices are random K-type blocks (Q4_K, Q5_K, Q6_K), for
   tests of the K types' paths: K types are read from GGUF files only,
   never made by conversion, so the tests make them in memory. Scales are
   small (weights below about 0.1), so the logits stay in a normal range. */
#ifndef G2_TEST_K_MODEL_H
#define G2_TEST_K_MODEL_H

#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "model/model.h"

/* A matrix of random K-type blocks in model-owned memory; data NULL when
   memory runs out. */
static g2_matrix random_k_matrix(struct gpt2_model *model, g2_dtype dtype, int64_t n_out, int64_t n_in) {
  size_t row = g2_dtype_row_bytes(dtype, n_in), block = g2_dtype_row_bytes(dtype, G2_QK_K);
  unsigned char *data = g2_model_alloc(model, row * (size_t)n_out);
  if (!data) return (g2_matrix){NULL, dtype, G2_LAYOUT_NK, 0, 0, NULL};
  uint32_t state = 12345u;
  for (size_t i = 0; i < row * (size_t)n_out; i++) {
    state = state * 1664525u + 1013904223u;
    data[i] = (unsigned char)(state >> 24);
  }
  uint16_t d = g2_f32_to_f16(1e-4f), dmin = g2_f32_to_f16(2e-4f);
  for (size_t b = 0; b < row * (size_t)n_out; b += block) {
    if (dtype == G2_DT_Q6_K) {
      memcpy(data + b + 208, &dmin, 2); /* its one scale, at the end of the block */
    } else {
      memcpy(data + b, &d, 2);
      memcpy(data + b + 2, &dmin, 2);
    }
  }
  return (g2_matrix){data, dtype, G2_LAYOUT_NK, n_out, n_in, NULL};
}

/* Every layer matrix of `model` a K type (Q4_K, Q5_K, Q6_K in turn), the
   tied token embedding Q6_K. 0 when memory runs out. */
static int make_k_types(struct gpt2_model *model) {
  static const g2_dtype types[] = {G2_DT_Q4_K, G2_DT_Q5_K, G2_DT_Q6_K};
  int64_t n_embd = model->hp.n_embd, n_ff = model->hp.n_ff;
  for (int32_t i = 0; i < model->hp.n_layer; i++) {
    g2_layer *l = &model->layers[i];
    l->attn_qkv = random_k_matrix(model, types[i % 3], 3 * n_embd, n_embd);
    l->attn_proj = random_k_matrix(model, types[(i + 1) % 3], n_embd, n_embd);
    l->mlp_up = random_k_matrix(model, types[(i + 2) % 3], n_ff, n_embd);
    l->mlp_down = random_k_matrix(model, types[i % 3], n_embd, n_ff);
    if (!l->attn_qkv.data || !l->attn_proj.data || !l->mlp_up.data || !l->mlp_down.data) return 0;
  }
  model->wte = model->lm_head = random_k_matrix(model, G2_DT_Q6_K, model->hp.n_vocab, n_embd);
  return model->wte.data != NULL;
}

#endif
