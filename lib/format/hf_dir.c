/* Hugging Face GPT-2 directory: config.json, model.safetensors, vocab.json,
   merges.txt, read into a checkpoint description (format/checkpoint.h)
   whose tensors point into the mapped safetensors file: Conv1D matrices
   as stored ([in][out], G2_LAYOUT_KN), embeddings as [rows][n_embd].
   What is accepted and checked: docs/formats.md. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "format/checkpoint.h"
#include "format/safetensors.h"
#include "gpt2.h"

/* Upper bounds on config.json values (docs/formats.md). They keep every
   later size computation far from overflow; real GPT-2 models are well
   inside them (1.5B: 48 layers, 1600 wide, 25 heads, 1024 positions). */
#define MAX_LAYERS 1024
#define MAX_EMBD 65536
#define MAX_VOCAB (1 << 24)
#define MAX_POSITIONS (1 << 20)
#define MAX_FF (4 * MAX_EMBD)

/* A file of the directory, read into memory or (the weights only, with
   use_mmap) mapped read-only. */
typedef struct hf_file {
  char *path;
  g2_mapping map;
} hf_file;

/* Maps (or with use_mmap 0 reads) dir/name. */
static int open_file(const char *dir, const char *name, int use_mmap, hf_file *file) {
  file->map = (g2_mapping){NULL, 0, 0, NULL};
  file->path = g2_path_join(dir, name);
  if (!file->path) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", dir);
  return g2_load_file(file->path, use_mmap, &file->map);
}

static void close_file(hf_file *file) {
  g2_unmap_file(&file->map);
  g2_free(file->path);
  file->path = NULL;
}

/* Reads (never maps: a mapped file that another process truncates kills us
   with SIGBUS) and parses a JSON file that must hold an object. */
static int open_json(const char *dir, const char *name, hf_file *file, g2_json **root) {
  *root = NULL;
  int status = open_file(dir, name, 0, file);
  if (status) return status;
  status = g2_json_parse((const char *)file->map.data, file->map.size, file->path, root);
  if (status) return status;
  if (g2_json_type_of(*root) != G2_JSON_OBJECT)
    return g2_fail(GPT2_E_FORMAT, "%s: the top-level value is a JSON %s, expected an object", file->path,
                   g2_json_type_name(g2_json_type_of(*root)));
  return GPT2_OK;
}

/* ---- config.json ----------------------------------------------------------- */

/* The integer `key` (or, if absent, `fallback_key` when not NULL) in
   [min, max]. */
static int config_int(const g2_json *config, const char *path, const char *key,
                      const char *fallback_key, int64_t min, int64_t max, int32_t *out) {
  const g2_json *value = g2_json_get(config, key);
  if (!value && fallback_key) {
    key = fallback_key;
    value = g2_json_get(config, key);
  }
  if (!value) return g2_fail(GPT2_E_FORMAT, "%s: missing \"%s\"", path, key);
  int64_t number;
  if (!g2_json_int64(value, &number))
    return g2_fail(GPT2_E_FORMAT, "%s: \"%s\" is not an integer (found a %s)", path, key,
                   g2_json_type_name(g2_json_type_of(value)));
  if (number < min || number > max)
    return g2_fail(GPT2_E_FORMAT, "%s: \"%s\" = %lld is outside [%lld, %lld]", path, key,
                   (long long)number, (long long)min, (long long)max);
  *out = (int32_t)number;
  return GPT2_OK;
}

/* A boolean option that GPT-2 as we run it requires to be `expected`
   when present (other values change the architecture). */
static int config_flag(const g2_json *config, const char *path, const char *key, int expected) {
  const g2_json *value = g2_json_get(config, key);
  if (!value) return GPT2_OK;
  g2_json_type type = g2_json_type_of(value);
  if (type != G2_JSON_TRUE && type != G2_JSON_FALSE)
    return g2_fail(GPT2_E_FORMAT, "%s: \"%s\" is not a boolean", path, key);
  if ((type == G2_JSON_TRUE) != expected)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: \"%s\": %s is not supported", path, key,
                   expected ? "false" : "true");
  return GPT2_OK;
}

/* A string option that must be absent or one of the NULL-terminated
   `accepted` values. */
static int config_choice(const g2_json *config, const char *path, const char *key,
                         const char *const *accepted) {
  const g2_json *value = g2_json_get(config, key);
  if (!value) return GPT2_OK;
  size_t len;
  const char *text = g2_json_string(value, &len);
  if (!text) return g2_fail(GPT2_E_FORMAT, "%s: \"%s\" is not a string", path, key);
  for (size_t i = 0; accepted[i]; i++)
    if (strlen(accepted[i]) == len && memcmp(accepted[i], text, len) == 0) return GPT2_OK;
  return g2_fail(GPT2_E_UNSUPPORTED, "%s: \"%s\": \"%.64s\" is not supported (expected \"%s\")",
                 path, key, text, accepted[0]);
}

static int config_epsilon(const g2_json *config, const char *path, float *out) {
  const g2_json *value = g2_json_get(config, "layer_norm_epsilon");
  if (!value) {
    *out = 1e-5f;
    return GPT2_OK;
  }
  double eps = g2_json_number(value);
  if (g2_json_type_of(value) != G2_JSON_NUMBER || !(eps > 0.0 && eps <= 1.0) || (float)eps == 0.0f)
    return g2_fail(GPT2_E_FORMAT, "%s: \"layer_norm_epsilon\" must be a float in (0, 1]", path);
  *out = (float)eps;
  return GPT2_OK;
}

/* n_inner: null or absent means 4 * n_embd. */
static int config_n_ff(const g2_json *config, const char *path, int32_t n_embd, int32_t *out) {
  const g2_json *value = g2_json_get(config, "n_inner");
  if (!value || g2_json_type_of(value) == G2_JSON_NULL) {
    *out = 4 * n_embd;
    return GPT2_OK;
  }
  return config_int(config, path, "n_inner", NULL, 1, MAX_FF, out);
}

static int read_config_object(const g2_json *config, const char *path, g2_hparams *hp,
                              int *tied) {
  static const char *const model_types[] = {"gpt2", NULL};
  /* gelu_pytorch_tanh is the same tanh approximation under another name */
  static const char *const activations[] = {"gelu_new", "gelu_pytorch_tanh", NULL};
  int status;
  if ((status = config_choice(config, path, "model_type", model_types)) ||
      (status = config_choice(config, path, "activation_function", activations)) ||
      (status = config_flag(config, path, "scale_attn_weights", 1)) ||
      (status = config_flag(config, path, "scale_attn_by_inverse_layer_idx", 0)) ||
      (status = config_flag(config, path, "add_cross_attention", 0)) ||
      (status = config_int(config, path, "n_layer", NULL, 1, MAX_LAYERS, &hp->n_layer)) ||
      (status = config_int(config, path, "n_embd", NULL, 1, MAX_EMBD, &hp->n_embd)) ||
      (status = config_int(config, path, "n_head", NULL, 1, hp->n_embd, &hp->n_head)) ||
      (status = config_int(config, path, "n_positions", "n_ctx", 1, MAX_POSITIONS, &hp->n_ctx)) ||
      (status = config_int(config, path, "vocab_size", NULL, 1, MAX_VOCAB, &hp->n_vocab)) ||
      (status = config_n_ff(config, path, hp->n_embd, &hp->n_ff)) ||
      (status = config_epsilon(config, path, &hp->ln_eps)))
    return status;
  if (hp->n_embd % hp->n_head != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: n_embd %d is not a multiple of n_head %d", path,
                   (int)hp->n_embd, (int)hp->n_head);
  /* true, false or absent (= true, as transformers' default); anything
     else (null, 0, "no") is an error rather than a guess */
  const g2_json *tie = g2_json_get(config, "tie_word_embeddings");
  g2_json_type tie_type = tie ? g2_json_type_of(tie) : G2_JSON_TRUE;
  if (tie_type != G2_JSON_TRUE && tie_type != G2_JSON_FALSE)
    return g2_fail(GPT2_E_FORMAT, "%s: \"tie_word_embeddings\" is a JSON %s, expected true or false",
                   path, g2_json_type_name(tie_type));
  *tied = tie_type == G2_JSON_TRUE;
  return GPT2_OK;
}

static int load_config(g2_hparams *hp, const char *dir, int *tied) {
  hf_file file;
  g2_json *config;
  int status = open_json(dir, "config.json", &file, &config);
  if (!status) status = read_config_object(config, file.path, hp, tied);
  g2_json_free(config);
  close_file(&file);
  return status;
}

/* ---- model.safetensors ----------------------------------------------------- */

typedef struct weights {
  g2_checkpoint *ckpt;
  const g2_safetensors *st;
  const char *path;
  const char *prefix; /* "transformer." or "" */
} weights;

/* The tensor of the schema entry `t` (of block `layer`, or -1) with the
   shape the schema gives it and, if `used`, a supported dtype; NULL in
   *out when it is absent and `required` is 0. */
static int find_tensor(const weights *w, const g2_tensor_schema *t, int32_t layer, int required,
                       int used, const g2_st_tensor **out) {
  *out = NULL;
  char name[128];
  g2_schema_hf_name(t, layer, w->prefix, name, sizeof name);
  const g2_hparams *hp = &w->ckpt->hp;
  int64_t n_out = g2_schema_dim(hp, t->n_out), n_in = g2_schema_dim(hp, t->n_in);
  /* NK is [n_out][n_in]; KN (Conv1D) is [n_in][n_out] */
  int ndim = t->is_matrix ? 2 : 1;
  int64_t shape[2] = {n_out, n_in};
  if (t->is_matrix && t->hf_layout == G2_LAYOUT_KN) shape[0] = n_in, shape[1] = n_out;
  const g2_st_tensor *found = g2_safetensors_find(w->st, name);
  if (!found)
    return required ? g2_fail(GPT2_E_FORMAT, "%s: missing tensor '%s'", w->path, name) : GPT2_OK;
  if (used && !found->supported)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16)",
                   w->path, name, found->dtype_name);
  int same = found->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = found->shape[i] == shape[i];
  if (!same) {
    char have[160] = "[", expected[64];
    for (int i = 0; i < found->ndim; i++) {
      size_t used = strlen(have);
      snprintf(have + used, sizeof have - used, "%s%lld", i ? ", " : "", (long long)found->shape[i]);
    }
    strncat(have, "]", sizeof have - strlen(have) - 1);
    if (ndim == 1) snprintf(expected, sizeof expected, "[%lld]", (long long)shape[0]);
    else snprintf(expected, sizeof expected, "[%lld, %lld]", (long long)shape[0], (long long)shape[1]);
    return g2_fail(GPT2_E_FORMAT, "%s: tensor '%s' has shape %s, expected %s", w->path, name, have,
                   expected);
  }
  *out = found;
  return GPT2_OK;
}

/* The tensor of `t` into *out, used in place (model/build.c copies what
   is misaligned or not F32 where F32 is needed). */
static int load_tensor(const weights *w, const g2_tensor_schema *t, int32_t layer,
                       g2_ckpt_tensor *out) {
  const g2_st_tensor *found;
  int status = find_tensor(w, t, layer, 1, 1, &found);
  if (status) return status;
  *out = (g2_ckpt_tensor){found->data, found->dtype, t->is_matrix ? t->hf_layout : G2_LAYOUT_NK};
  return GPT2_OK;
}

/* Tensors of blocks past n_layer mean config.json and the weights
   disagree; anything else not used is ignored (docs/formats.md). */
static int check_layer_names(const weights *w) {
  size_t prefix_len = strlen(w->prefix);
  int32_t n_layer = w->ckpt->hp.n_layer;
  for (size_t i = 0; i < w->st->n_tensors; i++) {
    const char *name = w->st->tensors[i].name;
    size_t layer_len = strlen(G2_HF_LAYER_PREFIX);
    if (strncmp(name, w->prefix, prefix_len) != 0 ||
        strncmp(name + prefix_len, G2_HF_LAYER_PREFIX, layer_len) != 0)
      continue;
    const char *digits = name + prefix_len + layer_len;
    long long layer = 0;
    size_t n_digits = 0;
    for (; digits[n_digits] >= '0' && digits[n_digits] <= '9'; n_digits++)
      if (layer <= MAX_LAYERS) layer = layer * 10 + (digits[n_digits] - '0');
    if (n_digits > 0 && digits[n_digits] == '.' && layer >= n_layer)
      return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.200s' is past the %d layers of config.json",
                     w->path, name, (int)n_layer);
  }
  return GPT2_OK;
}

static int load_tensors(weights *w, int tied) {
  g2_checkpoint *ckpt = w->ckpt;
  const g2_hparams *hp = &ckpt->hp;
  w->prefix = g2_safetensors_find(w->st, "transformer.wte.weight") ? "transformer." : "";
  int status = check_layer_names(w);
  for (int id = 0; id < G2_MODEL_TENSORS && !status; id++) {
    if (id != G2_T_OUTPUT) status = load_tensor(w, &g2_model_schema[id], -1, &ckpt->tensors[id]);
  }
  if (status) return status;
  /* Tied, lm_head.weight is at most a saved copy of wte: its shape is
     checked, its dtype is not (it is never read), and wte is used (one
     matrix in cache). */
  const g2_tensor_schema *output = &g2_model_schema[G2_T_OUTPUT];
  const g2_st_tensor *lm_head;
  if (!tied) status = load_tensor(w, output, -1, &ckpt->tensors[G2_T_OUTPUT]);
  else status = find_tensor(w, output, -1, 0, 0, &lm_head);
  if (status) return status;

  ckpt->layers = g2_calloc((size_t)hp->n_layer * G2_LAYER_TENSORS, sizeof *ckpt->layers);
  if (!ckpt->layers) return g2_fail(GPT2_E_NOMEM, "%s: out of memory for the layers", w->path);
  for (int32_t i = 0; i < hp->n_layer && !status; i++)
    for (int id = 0; id < G2_LAYER_TENSORS && !status; id++)
      status = load_tensor(w, &g2_layer_schema[id], i, g2_ckpt_layer(ckpt, i, id));
  return status;
}

/* The weights point into the mapping, which the checkpoint keeps. */
static int load_weights(g2_checkpoint *ckpt, const char *dir, int use_mmap, int tied) {
  hf_file file;
  int status = open_file(dir, "model.safetensors", use_mmap, &file);
  ckpt->weights = file.map;
  file.map = (g2_mapping){NULL, 0, 0, NULL};
  g2_safetensors *st = NULL;
  if (!status) status = g2_safetensors_open(ckpt->weights.data, ckpt->weights.size, file.path, &st);
  if (!status) {
    weights w = {ckpt, st, file.path, ""};
    status = load_tensors(&w, tied);
  }
  g2_safetensors_free(st);
  close_file(&file);
  return status;
}

/* ---- vocab.json and merges.txt --------------------------------------------- */

/* tokens[id] = key, for ids that must be exactly 0 .. n_vocab-1. */
static int read_vocab(const g2_json *vocab, const char *path, int32_t n_vocab, g2_str *tokens) {
  size_t count = g2_json_count(vocab);
  if (count != (size_t)n_vocab)
    return g2_fail(GPT2_E_FORMAT, "%s: %zu tokens, but config.json has vocab_size %d", path, count,
                   (int)n_vocab);
  for (size_t i = 0; i < count; i++) tokens[i].ptr = NULL;
  for (size_t i = 0; i < count; i++) {
    size_t key_len;
    const char *key = g2_json_key_at(vocab, i, &key_len);
    int64_t id;
    if (!g2_json_int64(g2_json_at(vocab, i), &id) || id < 0 || id >= n_vocab)
      return g2_fail(GPT2_E_FORMAT,
                     "%s: token '%.100s' has id that is not an integer in [0, %d] (ids must be "
                     "dense)",
                     path, key, (int)n_vocab - 1);
    if (tokens[id].ptr)
      return g2_fail(GPT2_E_FORMAT, "%s: id %lld is used twice ('%.100s' and '%.100s')", path,
                     (long long)id, tokens[id].ptr, key);
    tokens[id].ptr = key;
    tokens[id].len = key_len;
  }
  return GPT2_OK; /* count == n_vocab distinct ids in range: all are set */
}

/* Walks merges.txt: skips a first "#version" line, checks that every
   other line is "A B" (ending in \n or \r\n; a final empty line is
   ignored), counts them, and stores them in `merges` unless NULL. */
static int scan_merges(const char *text, size_t size, const char *path, g2_str *merges,
                       size_t *n_out) {
  size_t n = 0, line_number = 0, pos = 0;
  while (pos < size) {
    const char *line = text + pos;
    const char *newline = memchr(line, '\n', size - pos);
    size_t len = newline ? (size_t)(newline - line) : size - pos;
    pos += len + (newline ? 1 : 0);
    line_number++;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (line_number == 1 && len >= 8 && memcmp(line, "#version", 8) == 0) continue;
    const char *space = memchr(line, ' ', len);
    if (!space || space == line || space == line + len - 1 ||
        memchr(space + 1, ' ', (size_t)(line + len - space - 1)))
      return g2_fail(GPT2_E_FORMAT, "%s: line %zu: expected two tokens separated by one space",
                     path, line_number);
    if (merges) merges[n] = (g2_str){line, len};
    n++;
  }
  *n_out = n;
  return GPT2_OK;
}

/* merges[r] = "A B" of rank r, pointing into `text`; the array is sized
   by valid lines only (at least 4 bytes each). */
static int read_merges(const char *text, size_t size, const char *path, g2_str **out,
                       size_t *n_out) {
  *out = NULL;
  int status = scan_merges(text, size, path, NULL, n_out);
  if (status) return status;
  g2_str *merges = g2_malloc_array(*n_out ? *n_out : 1, sizeof *merges);
  if (!merges) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", path);
  scan_merges(text, size, path, merges, n_out);
  *out = merges;
  return GPT2_OK;
}

/* The strings point into vocab.json's tree and merges.txt, which the
   checkpoint keeps. */
static int load_vocabulary(g2_checkpoint *ckpt, const char *dir) {
  hf_file vocab_file, merges_file = {NULL, {NULL, 0, 0, NULL}};
  int status = open_json(dir, "vocab.json", &vocab_file, &ckpt->vocab_json);
  if (!status) {
    size_t count = g2_json_count(ckpt->vocab_json);
    ckpt->tokens = g2_malloc_array(count ? count : 1, sizeof *ckpt->tokens);
    if (!ckpt->tokens) status = g2_fail(GPT2_E_NOMEM, "%s: out of memory", vocab_file.path);
  }
  if (!status) status = read_vocab(ckpt->vocab_json, vocab_file.path, ckpt->hp.n_vocab, ckpt->tokens);
  ckpt->n_tokens = (size_t)ckpt->hp.n_vocab;
  if (!status) status = open_file(dir, "merges.txt", 0, &merges_file); /* read, as the JSON */
  if (!status)
    status = read_merges((const char *)merges_file.map.data, merges_file.map.size,
                         merges_file.path, &ckpt->merges, &ckpt->n_merges);
  if (!status) {
    ckpt->vocab_source = g2_path_join(dir, "{vocab.json,merges.txt}");
    if (!ckpt->vocab_source) status = g2_fail(GPT2_E_NOMEM, "%s: out of memory", dir);
  }
  ckpt->text_files[0] = vocab_file.map;
  ckpt->text_files[1] = merges_file.map;
  vocab_file.map = merges_file.map = (g2_mapping){NULL, 0, 0, NULL};
  close_file(&merges_file);
  close_file(&vocab_file);
  return status;
}

int g2_read_hf_dir(const char *dir, int use_mmap, g2_checkpoint *out) {
  memset(out, 0, sizeof *out);
  int tied = 1;
  int status = load_config(&out->hp, dir, &tied);
  if (!status) status = load_weights(out, dir, use_mmap, tied);
  if (!status) status = load_vocabulary(out, dir);
  return status;
}
