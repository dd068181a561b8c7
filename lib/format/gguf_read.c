/* Loading a GPT-2 model from a GGUF file as llama.cpp writes it
   (docs/gguf.md): hyper-parameters from the gpt2.* keys, the vocabulary
   from tokenizer.ggml.*, the weights mapped in place. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/gguf.h"
#include "gpt2.h"
#include "model/model.h"
#include "tensor/quant.h"

/* Tensors per block: attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up,
   ffn_down, each with weight and bias. */
#define TENSORS_PER_LAYER 12

typedef struct loader {
  const g2_gguf *gguf;
  const char *path;
  struct gpt2_model *model;
  unsigned char *used; /* [n_tensors]: claimed by the model */
} loader;

/* ---- metadata --------------------------------------------------------- */

static int missing_key(const loader *ld, const char *key) {
  return g2_fail(GPT2_E_FORMAT, "%s: required key %s is missing", ld->path, key);
}

static int get_string(const loader *ld, const char *key, int required, g2_str *out) {
  const g2_gguf_kv *kv = g2_gguf_find(ld->gguf, key);
  if (!kv) return required ? missing_key(ld, key) : GPT2_OK;
  return g2_gguf_string(ld->gguf, kv, out);
}

static int str_is(g2_str s, const char *text) {
  return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

/* A positive count that fits the model's int32 fields. */
static int get_count(const loader *ld, const char *key, int required, int32_t *out) {
  const g2_gguf_kv *kv = g2_gguf_find(ld->gguf, key);
  if (!kv) return required ? missing_key(ld, key) : GPT2_OK;
  uint64_t value;
  int status = g2_gguf_uint(ld->gguf, kv, INT32_MAX, &value);
  if (status) return status;
  if (value == 0) return g2_fail(GPT2_E_FORMAT, "%s: key %s is 0", ld->path, key);
  *out = (int32_t)value;
  return GPT2_OK;
}

static int read_architecture(const loader *ld) {
  g2_str arch = {0};
  int status = get_string(ld, "general.architecture", 1, &arch);
  if (status) return status;
  if (!str_is(arch, "gpt2")) {
    char text[80];
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: general.architecture is \"%s\"; libgpt2 runs only gpt2",
                   ld->path, g2_gguf_printable(arch, text));
  }
  return GPT2_OK;
}

static int read_hparams(const loader *ld, g2_hparams *hp) {
  int status;
  if ((status = get_count(ld, "gpt2.context_length", 1, &hp->n_ctx)) ||
      (status = get_count(ld, "gpt2.embedding_length", 1, &hp->n_embd)) ||
      (status = get_count(ld, "gpt2.block_count", 1, &hp->n_layer)) ||
      (status = get_count(ld, "gpt2.attention.head_count", 1, &hp->n_head)))
    return status;
  hp->n_ff = hp->n_embd <= INT32_MAX / 4 ? 4 * hp->n_embd : 0; /* llama.cpp's converter writes 4 n_embd */
  if ((status = get_count(ld, "gpt2.feed_forward_length", 0, &hp->n_ff))) return status;
  if (hp->n_ff == 0)
    return g2_fail(GPT2_E_FORMAT, "%s: gpt2.feed_forward_length is missing and 4 * n_embd overflows", ld->path);

  const char *eps_key = "gpt2.attention.layer_norm_epsilon";
  const g2_gguf_kv *kv = g2_gguf_find(ld->gguf, eps_key);
  if (!kv) return missing_key(ld, eps_key);
  double eps;
  if ((status = g2_gguf_float(ld->gguf, kv, &eps))) return status;
  if (!(eps > 0.0 && eps < 1.0))
    return g2_fail(GPT2_E_FORMAT, "%s: %s is %g; must be in (0, 1)", ld->path, eps_key, eps);
  hp->ln_eps = (float)eps;

  if (hp->n_embd % hp->n_head != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: gpt2.embedding_length %d is not a multiple of gpt2.attention.head_count %d",
                   ld->path, (int)hp->n_embd, (int)hp->n_head);
  /* The block count sizes an allocation: it must be backed by tensors. */
  if ((uint64_t)hp->n_layer > ld->gguf->n_tensors / TENSORS_PER_LAYER)
    return g2_fail(GPT2_E_FORMAT, "%s: gpt2.block_count is %d but the file has only %zu tensors",
                   ld->path, (int)hp->n_layer, ld->gguf->n_tensors);
  return GPT2_OK;
}

/* ---- vocabulary ------------------------------------------------------- */

static int check_token_id(const loader *ld, const char *key, size_t n_tokens) {
  const g2_gguf_kv *kv = g2_gguf_find(ld->gguf, key);
  if (!kv) return GPT2_OK;
  uint64_t id;
  int status = g2_gguf_uint(ld->gguf, kv, UINT64_MAX, &id);
  if (status) return status;
  if (id >= n_tokens)
    return g2_fail(GPT2_E_FORMAT, "%s: %s is %" PRIu64 ", outside the vocabulary of %zu tokens",
                   ld->path, key, id, n_tokens);
  return GPT2_OK;
}

static int read_vocab(const loader *ld, struct gpt2_model *model) {
  g2_str text = {0};
  char shown[80];
  int status = get_string(ld, "tokenizer.ggml.model", 1, &text);
  if (status) return status;
  if (!str_is(text, "gpt2"))
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tokenizer.ggml.model is \"%s\"; libgpt2 runs only the gpt2 BPE",
                   ld->path, g2_gguf_printable(text, shown));
  /* Without tokenizer.ggml.pre (files from before llama.cpp had it) the
     GPT-2 pre-tokenizer is the right one for a gpt2 model: use it. */
  text = (g2_str){0};
  if ((status = get_string(ld, "tokenizer.ggml.pre", 0, &text))) return status;
  if (text.ptr && !str_is(text, "gpt-2"))
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tokenizer.ggml.pre is \"%s\"; libgpt2 has only the gpt-2 pre-tokenizer",
                   ld->path, g2_gguf_printable(text, shown));

  const g2_gguf_kv *tokens_kv = g2_gguf_find(ld->gguf, "tokenizer.ggml.tokens");
  const g2_gguf_kv *merges_kv = g2_gguf_find(ld->gguf, "tokenizer.ggml.merges");
  if (!tokens_kv) return missing_key(ld, "tokenizer.ggml.tokens");
  if (!merges_kv) return missing_key(ld, "tokenizer.ggml.merges");
  if ((status = g2_gguf_check_array(ld->gguf, tokens_kv, G2_GGUF_STRING)) ||
      (status = g2_gguf_check_array(ld->gguf, merges_kv, G2_GGUF_STRING)))
    return status;
  uint64_t n_tokens = tokens_kv->count;
  if (n_tokens == 0 || n_tokens > INT32_MAX)
    return g2_fail(GPT2_E_FORMAT, "%s: tokenizer.ggml.tokens has %" PRIu64 " tokens", ld->path, n_tokens);
  const g2_gguf_kv *types_kv = g2_gguf_find(ld->gguf, "tokenizer.ggml.token_type");
  if (types_kv) {
    if ((status = g2_gguf_check_array(ld->gguf, types_kv, G2_GGUF_INT32))) return status;
    if (types_kv->count != n_tokens)
      return g2_fail(GPT2_E_FORMAT, "%s: tokenizer.ggml.token_type has %" PRIu64 " entries for %" PRIu64 " tokens",
                     ld->path, types_kv->count, n_tokens);
  }
  if ((status = check_token_id(ld, "tokenizer.ggml.bos_token_id", (size_t)n_tokens)) ||
      (status = check_token_id(ld, "tokenizer.ggml.eos_token_id", (size_t)n_tokens)))
    return status;

  g2_str *tokens = NULL, *merges = NULL;
  if ((status = g2_gguf_strings(ld->gguf, tokens_kv, &tokens)) ||
      (status = g2_gguf_strings(ld->gguf, merges_kv, &merges))) {
    g2_free(tokens);
    return status;
  }
  char source[512];
  snprintf(source, sizeof source, "%s: tokenizer.ggml", ld->path);
  status = g2_tokenizer_new(tokens, (size_t)n_tokens, merges, (size_t)merges_kv->count, source,
                            &model->tokenizer);
  g2_free(tokens);
  g2_free(merges);
  model->hp.n_vocab = (int32_t)n_tokens;
  return status;
}

/* ---- tensors ---------------------------------------------------------- */

static const char *shape_text(const int64_t *ne, uint32_t n_dims, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < n_dims && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "[", ne[i]);
  if (len < cap) snprintf(buf + len, cap - len, "]");
  return buf;
}

/* The tensor `name` with shape {ne0} (ne1 == 0) or {ne0, ne1} in ggml
   order, in a type the kernels run. NULL in *out if absent and optional. */
static int claim_tensor(const loader *ld, const char *name, int required, int64_t ne0, int64_t ne1,
                        const g2_gguf_tensor **out, g2_dtype *dtype) {
  *out = NULL;
  const g2_gguf_tensor *t = g2_gguf_find_tensor(ld->gguf, name);
  if (!t) return required ? g2_fail(GPT2_E_FORMAT, "%s: tensor %s is missing", ld->path, name) : GPT2_OK;
  int64_t want[G2_GGUF_MAX_DIMS] = {ne0, ne1 ? ne1 : 1, 1, 1};
  if (memcmp(t->ne, want, sizeof want) != 0) {
    char have_text[96], want_text[64];
    return g2_fail(GPT2_E_FORMAT, "%s: tensor %s has shape %s, expected %s", ld->path, name,
                   shape_text(t->ne, t->n_dims, have_text, sizeof have_text),
                   shape_text(want, ne1 ? 2 : 1, want_text, sizeof want_text));
  }
  int type = g2_ggml_to_dtype(t->type);
  if (type < 0)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tensor %s has type %s, which libgpt2 does not run (it runs F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)",
                   ld->path, name, g2_ggml_type_name(t->type));
  ld->used[t - ld->gguf->tensors] = 1;
  *dtype = (g2_dtype)type;
  *out = t;
  return GPT2_OK;
}

/* A weight matrix [n_out][n_in], read in place. */
static int load_matrix(const loader *ld, const char *name, int required, int64_t n_in, int64_t n_out,
                       g2_matrix *out) {
  const g2_gguf_tensor *t;
  g2_dtype dtype;
  int status = claim_tensor(ld, name, required, n_in, n_out, &t, &dtype);
  if (status || !t) return status;
  *out = (g2_matrix){ld->gguf->data + t->offset, dtype, G2_LAYOUT_NK, n_out, n_in};
  return GPT2_OK;
}

/* A norm or bias vector as floats: in place if F32 (aligned: offsets are
   multiples of the alignment, at least 8), else converted into memory the
   model owns. */
static int load_vector(const loader *ld, const char *name, int64_t n, const float **out) {
  const g2_gguf_tensor *t;
  g2_dtype dtype;
  int status = claim_tensor(ld, name, 1, n, 0, &t, &dtype);
  if (status) return status;
  const unsigned char *data = ld->gguf->data + t->offset;
  if (dtype == G2_DT_F32) {
    *out = (const float *)(const void *)data;
    return GPT2_OK;
  }
  float *values = g2_model_alloc(ld->model, (size_t)n * sizeof *values);
  if (!values) return g2_fail(GPT2_E_NOMEM, "%s: out of memory converting tensor %s", ld->path, name);
  g2_dequantize(dtype, data, 0, n, values);
  *out = values;
  return GPT2_OK;
}

static int load_layer(const loader *ld, int32_t index, g2_layer *layer) {
  const g2_hparams *hp = &ld->model->hp;
  int64_t n_embd = hp->n_embd, n_ff = hp->n_ff;
  char name[64];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)index), name)
  int status;
  if ((status = load_vector(ld, NAME("attn_norm.weight"), n_embd, &layer->ln1_gamma)) ||
      (status = load_vector(ld, NAME("attn_norm.bias"), n_embd, &layer->ln1_beta)) ||
      (status = load_matrix(ld, NAME("attn_qkv.weight"), 1, n_embd, 3 * n_embd, &layer->attn_qkv)) ||
      (status = load_vector(ld, NAME("attn_qkv.bias"), 3 * n_embd, &layer->attn_qkv_bias)) ||
      (status = load_matrix(ld, NAME("attn_output.weight"), 1, n_embd, n_embd, &layer->attn_proj)) ||
      (status = load_vector(ld, NAME("attn_output.bias"), n_embd, &layer->attn_proj_bias)) ||
      (status = load_vector(ld, NAME("ffn_norm.weight"), n_embd, &layer->ln2_gamma)) ||
      (status = load_vector(ld, NAME("ffn_norm.bias"), n_embd, &layer->ln2_beta)) ||
      (status = load_matrix(ld, NAME("ffn_up.weight"), 1, n_embd, n_ff, &layer->mlp_up)) ||
      (status = load_vector(ld, NAME("ffn_up.bias"), n_ff, &layer->mlp_up_bias)) ||
      (status = load_matrix(ld, NAME("ffn_down.weight"), 1, n_ff, n_embd, &layer->mlp_down)) ||
      (status = load_vector(ld, NAME("ffn_down.bias"), n_embd, &layer->mlp_down_bias)))
    return status;
#undef NAME
  return GPT2_OK;
}

static int load_tensors(const loader *ld, struct gpt2_model *model) {
  const g2_hparams *hp = &model->hp;
  int status;
  if ((status = load_matrix(ld, "token_embd.weight", 1, hp->n_embd, hp->n_vocab, &model->wte)) ||
      (status = load_matrix(ld, "position_embd.weight", 1, hp->n_embd, hp->n_ctx, &model->wpe)) ||
      (status = load_vector(ld, "output_norm.weight", hp->n_embd, &model->lnf_gamma)) ||
      (status = load_vector(ld, "output_norm.bias", hp->n_embd, &model->lnf_beta)))
    return status;
  /* Without output.weight the output layer is tied to token_embd, as in
     the original GPT-2 (older llama.cpp converters wrote a copy). */
  model->lm_head = model->wte;
  if ((status = load_matrix(ld, "output.weight", 0, hp->n_embd, hp->n_vocab, &model->lm_head)))
    return status;

  model->layers = g2_model_alloc(model, (size_t)hp->n_layer * sizeof *model->layers);
  if (!model->layers) return g2_fail(GPT2_E_NOMEM, "%s: out of memory for %d layers", ld->path, (int)hp->n_layer);
  memset(model->layers, 0, (size_t)hp->n_layer * sizeof *model->layers);
  for (int32_t i = 0; i < hp->n_layer; i++)
    if ((status = load_layer(ld, i, &model->layers[i]))) return status;

  /* Anything left is not part of a GPT-2 of this shape: refuse rather than
     run a model we would misread (e.g. blocks beyond block_count). */
  for (size_t i = 0; i < ld->gguf->n_tensors; i++) {
    if (ld->used[i]) continue;
    char name[80];
    return g2_fail(GPT2_E_FORMAT, "%s: unexpected tensor %s (gpt2.block_count is %d)", ld->path,
                   g2_gguf_printable(ld->gguf->tensors[i].name, name), (int)hp->n_layer);
  }
  return GPT2_OK;
}

/* ---- entry point ------------------------------------------------------ */

static int load(loader *ld, struct gpt2_model *model) {
  int status;
  if ((status = read_architecture(ld)) || (status = read_hparams(ld, &model->hp)) ||
      (status = read_vocab(ld, model)))
    return status;
  ld->used = g2_calloc(ld->gguf->n_tensors, 1);
  if (!ld->used) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", ld->path);
  return load_tensors(ld, model);
}

int g2_load_gguf(struct gpt2_model *model, const char *path) {
  g2_mapping map;
  int status = g2_load_file(path, model->use_mmap, &map);
  if (status) return status;
  g2_gguf gguf;
  if ((status = g2_gguf_parse(map.data, map.size, path, &gguf))) {
    g2_unmap_file(&map);
    return status;
  }
  /* The model owns the mapping from here on (even on failure). */
  if ((status = g2_model_keep_mapping(model, &map))) {
    g2_gguf_free(&gguf);
    g2_unmap_file(&map);
    return status;
  }
  loader ld = {&gguf, path, model, NULL};
  status = load(&ld, model);
  g2_free(ld.used);
  g2_gguf_free(&gguf);
  return status;
}
