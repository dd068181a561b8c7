/* How much memory the weights take and how much of it one token reads:
   the figures behind memory sizing and gpt2-bench's bandwidth numbers. */
#include "gpt2.h"
#include "model/model.h"

static uint64_t matrix_bytes(const g2_matrix *m) {
  if (m->layout == G2_LAYOUT_NK)
    return (uint64_t)g2_dtype_row_bytes(m->dtype, m->n_in) * (uint64_t)m->n_out;
  return (uint64_t)g2_dtype_row_bytes(m->dtype, m->n_out) * (uint64_t)m->n_in;
}

/* Biases and LayerNorm parameters, all F32: per layer ln1 and ln2
   (2 x 2 n_embd), the qkv, proj, up and down biases. */
static uint64_t vector_params(const g2_hparams *hp) {
  uint64_t n_embd = (uint64_t)hp->n_embd, n_ff = (uint64_t)hp->n_ff;
  uint64_t per_layer = 4 * n_embd + 3 * n_embd + n_embd + n_ff + n_embd;
  return per_layer * (uint64_t)hp->n_layer + 2 * n_embd;
}

static uint64_t layer_matrix_bytes(const gpt2_model *model) {
  uint64_t bytes = 0;
  for (int32_t l = 0; l < model->hp.n_layer; l++) {
    const g2_layer *layer = &model->layers[l];
    bytes += matrix_bytes(&layer->attn_qkv) + matrix_bytes(&layer->attn_proj) +
             matrix_bytes(&layer->mlp_up) + matrix_bytes(&layer->mlp_down);
  }
  return bytes;
}

uint64_t gpt2_model_size(const gpt2_model *model) {
  if (!model) return 0;
  uint64_t bytes = layer_matrix_bytes(model) + matrix_bytes(&model->wte) +
                   matrix_bytes(&model->wpe) + vector_params(&model->hp) * sizeof(float);
  if (!g2_model_output_tied(model)) bytes += matrix_bytes(&model->lm_head);
  return bytes;
}

uint64_t gpt2_model_n_params(const gpt2_model *model) {
  if (!model) return 0;
  const g2_hparams *hp = &model->hp;
  uint64_t n_embd = (uint64_t)hp->n_embd;
  uint64_t per_layer = 3 * n_embd * n_embd + n_embd * n_embd + 2 * n_embd * (uint64_t)hp->n_ff;
  uint64_t params = per_layer * (uint64_t)hp->n_layer +
                    ((uint64_t)hp->n_vocab + (uint64_t)hp->n_ctx) * n_embd + vector_params(hp);
  if (!g2_model_output_tied(model)) params += (uint64_t)hp->n_vocab * n_embd;
  return params;
}

uint64_t gpt2_model_size_per_token(const gpt2_model *model) {
  if (!model) return 0;
  uint64_t bytes = layer_matrix_bytes(model) + matrix_bytes(&model->lm_head) +
                   vector_params(&model->hp) * sizeof(float);
  bytes += g2_dtype_row_bytes(model->wte.dtype, model->wte.n_in);
  bytes += g2_dtype_row_bytes(model->wpe.dtype, model->wpe.n_in);
  return bytes;
}
