/* A model from a checkpoint description (format/checkpoint.h): each entry
   of the schema to its field of gpt2_model, vectors as F32, the weights'
   mapping and the vocabulary taken over. The field tables below are the
   one place that ties the schema to the model's struct. */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "gpt2.h"
#include "model/model.h"
#include "tensor/quant.h"

static const size_t model_fields[G2_MODEL_TENSORS] = {
    [G2_T_TOKENS] = offsetof(struct gpt2_model, wte),
    [G2_T_POSITIONS] = offsetof(struct gpt2_model, wpe),
    [G2_T_OUTPUT_NORM] = offsetof(struct gpt2_model, lnf_gamma),
    [G2_T_OUTPUT_NORM_B] = offsetof(struct gpt2_model, lnf_beta),
    [G2_T_OUTPUT] = offsetof(struct gpt2_model, lm_head),
};

static const size_t layer_fields[G2_LAYER_TENSORS] = {
    [G2_L_ATTN_NORM] = offsetof(g2_layer, ln1_gamma),
    [G2_L_ATTN_NORM_B] = offsetof(g2_layer, ln1_beta),
    [G2_L_ATTN_QKV] = offsetof(g2_layer, attn_qkv),
    [G2_L_ATTN_QKV_B] = offsetof(g2_layer, attn_qkv_bias),
    [G2_L_ATTN_OUT] = offsetof(g2_layer, attn_proj),
    [G2_L_ATTN_OUT_B] = offsetof(g2_layer, attn_proj_bias),
    [G2_L_FFN_NORM] = offsetof(g2_layer, ln2_gamma),
    [G2_L_FFN_NORM_B] = offsetof(g2_layer, ln2_beta),
    [G2_L_FFN_UP] = offsetof(g2_layer, mlp_up),
    [G2_L_FFN_UP_B] = offsetof(g2_layer, mlp_up_bias),
    [G2_L_FFN_DOWN] = offsetof(g2_layer, mlp_down),
    [G2_L_FFN_DOWN_B] = offsetof(g2_layer, mlp_down_bias),
};

void *g2_model_field(const struct gpt2_model *model, int32_t layer, int id) {
  if (layer < 0) return (char *)model + model_fields[id];
  return (char *)&model->layers[layer] + layer_fields[id];
}

int g2_model_output_tied(const struct gpt2_model *model) {
  return model->lm_head.data == model->wte.data;
}

/* Bytes the kernels read a type's data in units of. */
static size_t element_alignment(g2_dtype dtype) { return dtype == G2_DT_F32 ? 4 : 2; }

static int out_of_memory(const char *source) {
  return g2_fail(GPT2_E_NOMEM, "%s: out of memory building the model", source);
}

/* A matrix in place, or copied where its data is not aligned to its
   elements (a safetensors header of any length puts data anywhere). */
static int build_matrix(struct gpt2_model *model, const g2_tensor_schema *t,
                        const g2_ckpt_tensor *in, const char *source, g2_matrix *out) {
  int64_t n_out = g2_schema_dim(&model->hp, t->n_out), n_in = g2_schema_dim(&model->hp, t->n_in);
  const void *data = in->data;
  if ((uintptr_t)data % element_alignment(in->dtype) != 0) {
    int64_t row = in->layout == G2_LAYOUT_NK ? n_in : n_out;
    size_t bytes = g2_dtype_row_bytes(in->dtype, row) * (size_t)(in->layout == G2_LAYOUT_NK ? n_out : n_in);
    void *copy = g2_model_alloc(model, bytes);
    if (!copy) return out_of_memory(source);
    memcpy(copy, data, bytes);
    data = copy;
  }
  *out = (g2_matrix){data, in->dtype, in->layout, n_out, n_in, NULL};
  return GPT2_OK;
}

/* A vector as floats: in place when F32 and aligned, else converted. */
static int build_vector(struct gpt2_model *model, const g2_tensor_schema *t,
                        const g2_ckpt_tensor *in, const char *source, const float **out) {
  int64_t n = g2_schema_dim(&model->hp, t->n_out);
  if (in->dtype == G2_DT_F32 && (uintptr_t)in->data % sizeof(float) == 0) {
    *out = in->data;
    return GPT2_OK;
  }
  float *values = g2_model_alloc(model, (size_t)n * sizeof *values);
  if (!values) return out_of_memory(source);
  g2_dequantize(in->dtype, in->data, 0, n, values);
  *out = values;
  return GPT2_OK;
}

static int build_tensor(struct gpt2_model *model, const g2_tensor_schema *t,
                        const g2_ckpt_tensor *in, const char *source, void *field) {
  return t->is_matrix ? build_matrix(model, t, in, source, field)
                      : build_vector(model, t, in, source, field);
}

/* Whether two matrices hold the same type, shape and bytes: an
   output.weight that is a copy of token_embd (as llama.cpp's converter and
   gpt2_save_gguf write a tied model) is tied again, one matrix in memory
   and in cache, and the model counts its parameters once. */
static int same_matrix(const g2_matrix *a, const g2_matrix *b) {
  if (a->dtype != b->dtype || a->layout != b->layout || a->n_out != b->n_out || a->n_in != b->n_in)
    return 0;
  int64_t rows = a->layout == G2_LAYOUT_NK ? a->n_out : a->n_in;
  size_t bytes = g2_dtype_row_bytes(a->dtype, a->layout == G2_LAYOUT_NK ? a->n_in : a->n_out) * (size_t)rows;
  return memcmp(a->data, b->data, bytes) == 0;
}

int g2_model_build(struct gpt2_model *model, g2_checkpoint *ckpt, const char *source) {
  model->hp = ckpt->hp;
  int status = GPT2_OK;
  for (int id = 0; id < G2_MODEL_TENSORS && !status; id++)
    if (ckpt->tensors[id].data)
      status = build_tensor(model, &g2_model_schema[id], &ckpt->tensors[id], source,
                            g2_model_field(model, -1, id));
  if (status) return status;
  if (!ckpt->tensors[G2_T_OUTPUT].data || same_matrix(&model->lm_head, &model->wte))
    model->lm_head = model->wte; /* tied */

  size_t n_layer = (size_t)model->hp.n_layer;
  model->layers = g2_model_alloc(model, n_layer * sizeof *model->layers);
  if (!model->layers) return out_of_memory(source);
  memset(model->layers, 0, n_layer * sizeof *model->layers);
  for (int32_t i = 0; i < model->hp.n_layer && !status; i++)
    for (int id = 0; id < G2_LAYER_TENSORS && !status; id++)
      status = build_tensor(model, &g2_layer_schema[id], g2_ckpt_layer(ckpt, i, id), source,
                            g2_model_field(model, i, id));
  if (!status) status = g2_model_keep_mapping(model, &ckpt->weights);
  if (!status)
    status = g2_tokenizer_new(ckpt->tokens, ckpt->n_tokens, ckpt->merges, ckpt->n_merges,
                              ckpt->vocab_source, &model->tokenizer);
  return status;
}
