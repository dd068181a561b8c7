/* gpt2_save_gguf: the model as a GGUF description (format/gguf_write.h):
   the schema's tensors in llama.cpp's converter order, each matrix in the
   type of the weight-type policy (model/policy.h), converted row by row
   as load-time conversion does it (tensor/convert.h). A tied output
   matrix is written as llama.cpp's converter writes it, a copy of the
   token embedding named output.weight, unless the caller omits it. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/params.h"
#include "format/gguf_write.h"
#include "gpt2.h"
#include "model/model.h"
#include "model/policy.h"
#include "tensor/convert.h"

typedef struct source {
  const g2_matrix *matrix; /* NULL for a vector */
  const float *vector;
} source;

typedef struct saver {
  const struct gpt2_model *model;
  g2_gguf_out_tensor *tensors;
  source *sources;
  size_t n_tensors;
  float *scratch; /* g2_convert_scratch_floats(longest row) */
} saver;

static size_t token_text(void *user, size_t id, char *buf, size_t cap) {
  const saver *s = user;
  return g2_tokenizer_token_text(s->model->tokenizer, (int32_t)id, buf, cap);
}

static size_t merge_text(void *user, size_t rank, char *buf, size_t cap) {
  const saver *s = user;
  const g2_tokenizer *tok = s->model->tokenizer;
  int32_t left, right;
  g2_tokenizer_merge(tok, rank, &left, &right);
  size_t len = g2_tokenizer_token_text(tok, left, buf, cap);
  buf[len++] = ' ';
  return len + g2_tokenizer_token_text(tok, right, buf + len, cap - len);
}

static void tensor_rows(void *user, size_t index, int64_t first, int64_t count, unsigned char *out) {
  const saver *s = user;
  const source *src = &s->sources[index];
  if (src->matrix)
    g2_convert_rows(src->matrix, G2_LAYOUT_NK, s->tensors[index].dtype, first, count, out, s->scratch);
  else
    memcpy(out, src->vector, (size_t)s->tensors[index].ne0 * sizeof(float));
}

/* Schema entry `id` of block `layer` (or -1). With `output`, a tied
   output matrix is written (the token embedding's values) and the token
   embedding takes the type of a token embedding beside an output matrix,
   as llama-quantize types such a file; without, it is left out and the
   token embedding stands for it. */
static void add_tensor(saver *s, uint32_t weight_type, int output, int32_t layer, int id) {
  const struct gpt2_model *model = s->model;
  const g2_tensor_schema *t = layer >= 0 ? &g2_layer_schema[id] : &g2_model_schema[id];
  if (layer < 0 && id == G2_T_OUTPUT && g2_model_output_tied(model) && !output) return;
  g2_gguf_out_tensor *out = &s->tensors[s->n_tensors];
  source *src = &s->sources[s->n_tensors++];
  g2_schema_gguf_name(t, layer, out->name, sizeof out->name);
  void *field = g2_model_field(model, layer, id);
  if (t->is_matrix) {
    const g2_matrix *m = field;
    g2_weight_slot slot = g2_weight_role_of(model, layer, id);
    if (layer < 0 && id == G2_T_TOKENS && output) slot.role = G2_ROLE_TOKENS;
    *src = (source){m, NULL};
    out->ne0 = m->n_in;
    out->ne1 = m->n_out;
    out->dtype = g2_weight_policy(weight_type, slot, m);
  } else {
    *src = (source){NULL, *(const float *const *)field};
    out->ne0 = g2_schema_dim(&model->hp, t->n_out);
    out->ne1 = 0;
    out->dtype = G2_DT_F32; /* 1-D tensors are always F32 */
  }
}

/* The order of llama.cpp's converter for a Hugging Face GPT-2. */
static void add_tensors(saver *s, uint32_t weight_type, int output) {
  add_tensor(s, weight_type, output, -1, G2_T_TOKENS);
  add_tensor(s, weight_type, output, -1, G2_T_POSITIONS);
  for (int32_t i = 0; i < s->model->hp.n_layer; i++)
    for (int id = 0; id < G2_LAYER_TENSORS; id++) add_tensor(s, weight_type, output, i, id);
  add_tensor(s, weight_type, output, -1, G2_T_OUTPUT_NORM);
  add_tensor(s, weight_type, output, -1, G2_T_OUTPUT_NORM_B);
  add_tensor(s, weight_type, output, -1, G2_T_OUTPUT);
}

GPT2_API int gpt2_save_gguf(const gpt2_model *model, const char *path,
                            const gpt2_save_params *params) {
  g2_clear_error();
  if (!model || !path) return g2_fail(GPT2_E_INVALID, "gpt2_save_gguf: model or path is NULL");
  gpt2_save_params sp = GPT2_SAVE_PARAMS_INIT;
  int status = g2_read_params(&sp, sizeof sp, params, "gpt2_save_params");
  if (status) return status;
  if ((status = g2_check_weight_type(sp.weight_type, "gpt2_save_params"))) return status;

  const g2_hparams *hp = &model->hp;
  const g2_tokenizer *tok = model->tokenizer;
  size_t longest = 0, n_tokens = g2_tokenizer_n_tokens(tok);
  for (size_t id = 0; id < n_tokens; id++) {
    size_t len;
    g2_token_bytes(tok, (int32_t)id, &len);
    if (len > longest) longest = len;
  }
  int64_t max_in = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd;
  size_t max_tensors = G2_MODEL_TENSORS + (size_t)hp->n_layer * G2_LAYER_TENSORS;
  saver s = {model, g2_malloc_array(max_tensors, sizeof *s.tensors),
             g2_malloc_array(max_tensors, sizeof *s.sources), 0,
             g2_malloc_array(g2_convert_scratch_floats(max_in), sizeof(float))};
  if (s.tensors && s.sources && s.scratch) {
    add_tensors(&s, sp.weight_type, !sp.omit_tied_output);
    g2_gguf_out desc = {
        .hp = *hp,
        .file_type = g2_weight_file_type(sp.weight_type, &model->layers[0].attn_qkv),
        .n_tokens = n_tokens,
        .n_merges = g2_tokenizer_n_merges(tok),
        .eot = g2_tokenizer_eot(tok),
        .text_cap = 4 * longest + 1, /* two tokens of 2 bytes per byte, a space */
        .token_text = token_text,
        .merge_text = merge_text,
        .tensors = s.tensors,
        .n_tensors = s.n_tensors,
        .tensor_rows = tensor_rows,
        .user = &s,
    };
    status = g2_gguf_write(path, &desc);
  } else {
    status = g2_fail(GPT2_E_NOMEM, "%s: out of memory", path);
  }
  g2_free(s.tensors);
  g2_free(s.sources);
  g2_free(s.scratch);
  return status;
}
