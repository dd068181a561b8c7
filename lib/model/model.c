/* Model lifetime, loading entry point, validation and getters. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/params.h"
#include "core/threads.h"
#include "gpt2.h"
#include "model/policy.h"
#include "tokenizer/strtab.h" /* g2_hash_bytes */

int g2_model_new(int fp32_products, struct gpt2_model **out) {
  *out = NULL;
  const char *forced = getenv("GPT2_ISA");
  const g2_kernels *kernels = g2_kernels_select(forced, fp32_products);
  if (!kernels)
    return g2_fail(GPT2_E_UNSUPPORTED, "GPT2_ISA=%s: unknown kernel set or not supported by this CPU",
                   forced);
  if (fp32_products && kernels->rounds_activations)
    return g2_fail(GPT2_E_INVALID, "GPT2_ISA=%s rounds activations, which fp32_products = 1 excludes",
                   forced);
  struct gpt2_model *model = g2_calloc(1, sizeof *model);
  if (!model) return g2_fail(GPT2_E_NOMEM, "out of memory allocating the model");
  model->kernels = kernels;
  model->refcount = 1;
  *out = model;
  return GPT2_OK;
}

void g2_model_retain(struct gpt2_model *model) {
  __atomic_fetch_add(&model->refcount, 1, __ATOMIC_RELAXED);
}

void g2_model_release(struct gpt2_model *model) {
  if (!model || __atomic_sub_fetch(&model->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  g2_tokenizer_free(model->tokenizer);
  for (size_t i = 0; i < model->n_owned; i++) g2_free(model->owned[i]);
  g2_free(model->owned);
  for (size_t i = 0; i < model->n_mappings; i++) g2_unmap_file(&model->mappings[i]);
  g2_free(model);
}

/* gpt2_model.fingerprint: hyper-parameters, matrix types and layouts, the
   vocabulary's bytes. */
static uint64_t model_fingerprint(const struct gpt2_model *model) {
  const g2_hparams *hp = &model->hp;
  uint64_t h = g2_hash_bytes(hp, sizeof *hp); /* int32 fields and a float: no padding */
  const g2_matrix *globals[3] = {&model->wte, &model->wpe, &model->lm_head};
  size_t n_layer = (size_t)hp->n_layer;
  for (size_t m = 0; m < 3 + 4 * n_layer; m++) {
    const g2_layer *layer = m < 3 ? NULL : &model->layers[(m - 3) / 4];
    const g2_matrix *w = m < 3 ? globals[m]
                         : (const g2_matrix *[]){&layer->attn_qkv, &layer->attn_proj, &layer->mlp_up,
                                                 &layer->mlp_down}[(m - 3) % 4];
    uint64_t item[3] = {h, (uint64_t)w->dtype, (uint64_t)w->layout};
    h = g2_hash_bytes(item, sizeof item);
  }
  for (int32_t id = 0; id < hp->n_vocab; id++) {
    size_t len = 0;
    const char *bytes = g2_token_bytes(model->tokenizer, id, &len);
    uint64_t item[2] = {h, bytes ? g2_hash_bytes(bytes, len) : 0};
    h = g2_hash_bytes(item, sizeof item);
  }
  return h;
}

/* Room for one more owned block. */
static int reserve_owned(struct gpt2_model *model) {
  if (model->n_owned < model->cap_owned) return 1;
  size_t cap = model->cap_owned ? model->cap_owned * 2 : 16;
  void **owned = g2_realloc(model->owned, cap * sizeof *owned);
  if (!owned) return 0;
  model->owned = owned;
  model->cap_owned = cap;
  return 1;
}

void *g2_model_alloc(struct gpt2_model *model, size_t bytes) {
  if (!reserve_owned(model)) return NULL;
  void *block = g2_malloc(bytes);
  if (block) model->owned[model->n_owned++] = block;
  return block;
}

void *g2_model_alloc_huge(struct gpt2_model *model, size_t bytes) {
  if (!reserve_owned(model)) return NULL;
  void *block;
  void *data = g2_malloc_huge(bytes, &block);
  if (data) model->owned[model->n_owned++] = block;
  return data;
}

int g2_model_keep_mapping(struct gpt2_model *model, g2_mapping *map) {
  size_t cap = sizeof model->mappings / sizeof model->mappings[0];
  if (model->n_mappings == cap) return g2_fail(GPT2_E_INVALID, "too many mapped files");
  model->mappings[model->n_mappings++] = *map;
  *map = (g2_mapping){NULL, 0, 0, NULL};
  return GPT2_OK;
}

static int check_matrix(const g2_matrix *w, int64_t n_in, int64_t n_out,
                        const char *source, const char *name, int32_t layer) {
  if (!w->data || w->n_in != n_in || w->n_out != n_out)
    return g2_fail(GPT2_E_FORMAT, "%s: layer %d %s: expected a %lld x %lld matrix, have %lld x %lld",
                   source, (int)layer, name, (long long)n_in, (long long)n_out,
                   (long long)w->n_in, (long long)w->n_out);
  if ((w->dtype != G2_DT_F32 && w->dtype != G2_DT_F16 && w->dtype != G2_DT_BF16) &&
      w->layout != G2_LAYOUT_NK)
    return g2_fail(GPT2_E_FORMAT, "%s: layer %d %s: block type %s must be stored [out][in]",
                   source, (int)layer, name, g2_dtype_name(w->dtype));
  int64_t row = w->layout == G2_LAYOUT_NK ? n_in : n_out;
  if (g2_dtype_row_bytes(w->dtype, row) == 0)
    return g2_fail(GPT2_E_FORMAT, "%s: layer %d %s: rows of %lld do not fit %s blocks", source,
                   (int)layer, name, (long long)row, g2_dtype_name(w->dtype));
  return GPT2_OK;
}

/* Checks hyper-parameters and that every matrix and vector is set with the
   right shape. GPT2_E_FORMAT naming `source` and the tensor otherwise. */
static int validate(const struct gpt2_model *model, const char *source) {
  const g2_hparams *hp = &model->hp;
  if (hp->n_vocab <= 0 || hp->n_ctx <= 0 || hp->n_embd <= 0 || hp->n_layer <= 0 ||
      hp->n_head <= 0 || hp->n_ff <= 0 || hp->n_embd % hp->n_head != 0 || !(hp->ln_eps > 0.0f))
    return g2_fail(GPT2_E_FORMAT, "%s: invalid hyper-parameters", source);
  int status;
  if ((status = check_matrix(&model->wte, hp->n_embd, hp->n_vocab, source, "token embedding", -1)) ||
      (status = check_matrix(&model->wpe, hp->n_embd, hp->n_ctx, source, "position embedding", -1)) ||
      (status = check_matrix(&model->lm_head, hp->n_embd, hp->n_vocab, source, "output", -1)))
    return status;
  if (model->wte.layout != G2_LAYOUT_NK || model->wpe.layout != G2_LAYOUT_NK ||
      model->lm_head.layout != G2_LAYOUT_NK)
    return g2_fail(GPT2_E_FORMAT, "%s: embeddings must be stored [rows][n_embd]", source);
  if (!model->lnf_gamma || !model->lnf_beta || !model->layers || !model->tokenizer)
    return g2_fail(GPT2_E_FORMAT, "%s: model incomplete (final norm, layers or vocabulary)", source);
  if (g2_tokenizer_n_tokens(model->tokenizer) != (size_t)hp->n_vocab)
    return g2_fail(GPT2_E_FORMAT, "%s: vocabulary has %zu tokens, the model %d", source,
                   g2_tokenizer_n_tokens(model->tokenizer), (int)hp->n_vocab);
  for (int32_t i = 0; i < hp->n_layer; i++) {
    const g2_layer *l = &model->layers[i];
    if ((status = check_matrix(&l->attn_qkv, hp->n_embd, 3 * (int64_t)hp->n_embd, source, "attn qkv", i)) ||
        (status = check_matrix(&l->attn_proj, hp->n_embd, hp->n_embd, source, "attn proj", i)) ||
        (status = check_matrix(&l->mlp_up, hp->n_embd, hp->n_ff, source, "mlp up", i)) ||
        (status = check_matrix(&l->mlp_down, hp->n_ff, hp->n_embd, source, "mlp down", i)))
      return status;
    if (!l->ln1_gamma || !l->ln1_beta || !l->ln2_gamma || !l->ln2_beta || !l->attn_qkv_bias ||
        !l->attn_proj_bias || !l->mlp_up_bias || !l->mlp_down_bias)
      return g2_fail(GPT2_E_FORMAT, "%s: layer %d: a norm or bias vector is missing", source, (int)i);
  }
  return GPT2_OK;
}

GPT2_API int gpt2_load(const char *path, const gpt2_load_params *params, gpt2_model **out) {
  g2_clear_error();
  if (!out) return g2_fail(GPT2_E_INVALID, "gpt2_load: out is NULL");
  *out = NULL;
  if (!path) return g2_fail(GPT2_E_INVALID, "gpt2_load: path is NULL");
  gpt2_load_params p = GPT2_LOAD_PARAMS_INIT;
  int status = g2_read_params(&p, sizeof p, params, "gpt2_load_params");
  if (status) return status;
  if ((status = g2_check_weight_type(p.weight_type, "gpt2_load_params"))) return status;
  if (p.n_threads > G2_MAX_THREADS)
    return g2_fail(GPT2_E_INVALID, "gpt2_load_params.n_threads %u exceeds %d",
                   (unsigned)p.n_threads, G2_MAX_THREADS);

  struct gpt2_model *model;
  if ((status = g2_model_new(p.fp32_products != 0, &model))) return status;
  g2_checkpoint ckpt;
  status = g2_is_directory(path) ? g2_read_hf_dir(path, p.use_mmap != 0, &ckpt)
                              : g2_read_gguf(path, p.use_mmap != 0, &ckpt);
  if (!status) status = g2_model_build(model, &ckpt, path);
  g2_checkpoint_free(&ckpt);
  if (!status) status = validate(model, path);
  /* Progress: the file read is the first tenth, the conversion the rest. */
  g2_progress progress = {p.progress_callback, p.progress_data, 0.0f, 0.1f};
  if (!status) status = g2_progress_report(&progress, 1.0);
  progress.begin = 0.1f;
  progress.end = 1.0f;
  if (!status) status = g2_model_convert_weights(model, p.weight_type, p.n_threads, &progress);
  if (!status) status = g2_model_add_block_sums(model);
  if (!status) status = g2_progress_report(&progress, 1.0);
  if (status) {
    g2_model_release(model);
    return status;
  }
  model->fingerprint = model_fingerprint(model);
  *out = model;
  return GPT2_OK;
}

GPT2_API void gpt2_model_free(gpt2_model *model) { g2_model_release(model); }

GPT2_API int gpt2_n_vocab(const gpt2_model *model) { return model ? model->hp.n_vocab : 0; }
GPT2_API int gpt2_n_ctx_train(const gpt2_model *model) { return model ? model->hp.n_ctx : 0; }
GPT2_API int gpt2_n_embd(const gpt2_model *model) { return model ? model->hp.n_embd : 0; }
GPT2_API int gpt2_n_layer(const gpt2_model *model) { return model ? model->hp.n_layer : 0; }
GPT2_API int gpt2_n_head(const gpt2_model *model) { return model ? model->hp.n_head : 0; }

GPT2_API gpt2_token gpt2_token_eot(const gpt2_model *model) {
  return model && model->tokenizer ? g2_tokenizer_eot(model->tokenizer) : -1;
}

GPT2_API const char *gpt2_model_isa(const gpt2_model *model) {
  return model ? model->kernels->name : "";
}
