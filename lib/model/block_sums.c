/* The per-model data of the int8 batch kernels (kernels/int8.h): each
   Q8_0 block's weight sum, computed once at load into one owned block. It
   reads every weight once, so a mapped file is paged in at load rather
   than on first use; the sums take 2 bytes per 34-byte block (5.9%). */
#include "core/error.h"
#include "gpt2.h"
#include "kernels/int8.h"
#include "model/model.h"

/* Matrix i of those the forward pass multiplies, i < 4 n_layer + 1 (the
   token embedding is only read by rows). */
static g2_matrix *product_matrix(struct gpt2_model *model, size_t i) {
  if (i == 4 * (size_t)model->hp.n_layer) return &model->lm_head;
  g2_layer *layer = &model->layers[i / 4];
  g2_matrix *const in_layer[4] = {&layer->attn_qkv, &layer->attn_proj, &layer->mlp_up, &layer->mlp_down};
  return in_layer[i % 4];
}

static size_t sums_count(const g2_matrix *w) { return (size_t)w->n_out * ((size_t)w->n_in / G2_QK8_0); }

int g2_model_add_block_sums(struct gpt2_model *model) {
  size_t n_matrices = 4 * (size_t)model->hp.n_layer + 1;
  size_t total = 0;
  for (size_t i = 0; i < n_matrices; i++) {
    const g2_matrix *w = product_matrix(model, i);
    if (g2_int8_wants_block_sums(model->kernels, w)) total += sums_count(w);
  }
  if (total == 0) return GPT2_OK;
  int16_t *sums = g2_model_alloc(model, total * sizeof *sums);
  if (!sums)
    return g2_fail(GPT2_E_NOMEM, "out of memory for the Q8_0 block sums (%zu bytes)", total * sizeof *sums);
  for (size_t i = 0; i < n_matrices; i++) {
    g2_matrix *w = product_matrix(model, i);
    if (!g2_int8_wants_block_sums(model->kernels, w)) continue;
    g2_int8_block_sums(w, sums);
    w->block_sums = sums;
    sums += sums_count(w);
  }
  return GPT2_OK;
}
