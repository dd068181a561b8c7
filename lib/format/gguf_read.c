/* Reading a GPT-2 GGUF file as llama.cpp writes it (docs/gguf.md) into a
   checkpoint description (format/checkpoint.h): hyper-parameters from the
   gpt2.* keys, the vocabulary from tokenizer.ggml.*, the tensors of the
   schema pointing into the mapped file. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/gguf.h"
#include "format/checkpoint.h"
#include "gpt2.h"

typedef struct loader {
  const g2_gguf *gguf;
  const char *path;
  g2_checkpoint *ckpt;
  unsigned char *used; /* [n_tensors]: claimed by the schema */
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
  /* a float64 too small for a float32 would become 0 (as config.json's) */
  if (!(eps > 0.0 && eps < 1.0) || (float)eps == 0.0f)
    return g2_fail(GPT2_E_FORMAT, "%s: %s is %g; must be in (0, 1) and non-zero as a float32", ld->path,
                   eps_key, eps);
  hp->ln_eps = (float)eps;

  if (hp->n_embd % hp->n_head != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: gpt2.embedding_length %d is not a multiple of gpt2.attention.head_count %d",
                   ld->path, (int)hp->n_embd, (int)hp->n_head);
  /* The block count sizes an allocation: it must be backed by tensors. */
  if ((uint64_t)hp->n_layer > ld->gguf->n_tensors / G2_LAYER_TENSORS)
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

static int read_vocab(const loader *ld) {
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

  g2_checkpoint *ckpt = ld->ckpt;
  if ((status = g2_gguf_strings(ld->gguf, tokens_kv, &ckpt->tokens)) ||
      (status = g2_gguf_strings(ld->gguf, merges_kv, &ckpt->merges)))
    return status;
  ckpt->n_tokens = (size_t)n_tokens;
  ckpt->n_merges = (size_t)merges_kv->count;
  ckpt->hp.n_vocab = (int32_t)n_tokens;
  const char *suffix = ": tokenizer.ggml";
  ckpt->vocab_source = g2_malloc(strlen(ld->path) + strlen(suffix) + 1);
  if (!ckpt->vocab_source) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", ld->path);
  strcat(strcpy(ckpt->vocab_source, ld->path), suffix);
  return GPT2_OK;
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

/* The tensor of schema entry `t` (of block `layer`, or -1) with the shape
   the schema gives it ({n_in, n_out} in ggml order, {n} for a vector) in
   a type the kernels run, read in place. Left empty if absent and not
   `required`. */
static int claim_tensor(const loader *ld, const g2_tensor_schema *t, int32_t layer, int required,
                        g2_ckpt_tensor *out) {
  char name[G2_GGUF_MAX_TENSOR_NAME + 1];
  g2_schema_gguf_name(t, layer, name, sizeof name);
  const g2_gguf_tensor *found = g2_gguf_find_tensor(ld->gguf, name);
  if (!found) return required ? g2_fail(GPT2_E_FORMAT, "%s: tensor %s is missing", ld->path, name) : GPT2_OK;
  const g2_hparams *hp = &ld->ckpt->hp;
  int64_t want[G2_GGUF_MAX_DIMS] = {g2_schema_dim(hp, t->is_matrix ? t->n_in : t->n_out),
                                    t->is_matrix ? g2_schema_dim(hp, t->n_out) : 1, 1, 1};
  if (memcmp(found->ne, want, sizeof want) != 0) {
    char have_text[96], want_text[64];
    return g2_fail(GPT2_E_FORMAT, "%s: tensor %s has shape %s, expected %s", ld->path, name,
                   shape_text(found->ne, found->n_dims, have_text, sizeof have_text),
                   shape_text(want, t->is_matrix ? 2 : 1, want_text, sizeof want_text));
  }
  int type = g2_ggml_to_dtype(found->type);
  if (type < 0)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tensor %s has type %s, which libgpt2 does not run (it runs F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)",
                   ld->path, name, g2_ggml_type_name(found->type));
  ld->used[found - ld->gguf->tensors] = 1;
  *out = (g2_ckpt_tensor){ld->gguf->data + found->offset, (g2_dtype)type, G2_LAYOUT_NK};
  return GPT2_OK;
}

static int load_tensors(const loader *ld) {
  g2_checkpoint *ckpt = ld->ckpt;
  const g2_hparams *hp = &ckpt->hp;
  int status = GPT2_OK;
  /* Without output.weight the output layer is tied to token_embd, as in
     the original GPT-2 (older llama.cpp converters wrote a copy). */
  for (int id = 0; id < G2_MODEL_TENSORS && !status; id++)
    status = claim_tensor(ld, &g2_model_schema[id], -1, id != G2_T_OUTPUT, &ckpt->tensors[id]);
  if (status) return status;

  ckpt->layers = g2_calloc((size_t)hp->n_layer * G2_LAYER_TENSORS, sizeof *ckpt->layers);
  if (!ckpt->layers) return g2_fail(GPT2_E_NOMEM, "%s: out of memory for %d layers", ld->path, (int)hp->n_layer);
  for (int32_t i = 0; i < hp->n_layer; i++)
    for (int id = 0; id < G2_LAYER_TENSORS; id++)
      if ((status = claim_tensor(ld, &g2_layer_schema[id], i, 1, g2_ckpt_layer(ckpt, i, id))))
        return status;

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

static int load(loader *ld) {
  int status;
  if ((status = read_architecture(ld)) || (status = read_hparams(ld, &ld->ckpt->hp)) ||
      (status = read_vocab(ld)))
    return status;
  ld->used = g2_calloc(ld->gguf->n_tensors, 1);
  if (!ld->used) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", ld->path);
  return load_tensors(ld);
}

int g2_read_gguf(const char *path, int use_mmap, g2_checkpoint *out) {
  memset(out, 0, sizeof *out);
  int status = g2_load_file(path, use_mmap, &out->weights);
  if (status) return status;
  g2_gguf gguf;
  if ((status = g2_gguf_parse(out->weights.data, out->weights.size, path, &gguf))) return status;
  loader ld = {&gguf, path, out, NULL};
  status = load(&ld);
  g2_free(ld.used);
  g2_gguf_free(&gguf);
  return status;
}
