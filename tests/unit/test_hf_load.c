/* The Hugging Face directory loader on tiny models written here (2 layers,
   n_embd 8, a 259-token vocabulary): what a valid directory loads to
   (shapes, layouts, in-place vs copied data, values), then a hostile
   corpus, each case with its status and a message naming the file and the
   problem. Leaks are checked by running under ASan. No forward pass. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/half.h"
#include "format/checkpoint.h"
#include "gpt2.h"
#include "harness.h"
#include "model/model.h"
#include "st_writer.h"

enum { N_LAYER = 2, N_EMBD = 8, N_HEAD = 2, N_CTX = 16, N_VOCAB = 259, N_FF = 32 };

static char dir[64];
/* Rows of wte (and lm_head) written: N_VOCAB, or the real GPT-2's 50257. */
static int64_t vocab_rows = N_VOCAB;

/* ---- writing a model -------------------------------------------------------- */

typedef struct spec {
  const char *dtype;   /* of every tensor: "F32", "F16" or "BF16" */
  const char *prefix;  /* "" or "transformer." */
  int misalign;        /* data buffer at an odd file offset */
  int n_layer;         /* layers written */
  int extras;          /* attn.bias, attn.masked_bias, lm_head.weight, an unknown tensor */
  const char *omit;    /* a tensor (without prefix) left out */
  const char *reshape; /* a tensor whose first dimension gets one more */
  const char *retype;  /* a tensor stored as F64 */
} spec;

static spec default_spec(void) {
  spec s = {"F32", "", 0, N_LAYER, 0, NULL, NULL, NULL};
  return s;
}

typedef struct tensor_def {
  char name[96];
  int ndim;
  int64_t shape[4];
} tensor_def;

static int add_def(tensor_def *defs, int n, const char *prefix, const char *name, int ndim,
                   int64_t d0, int64_t d1) {
  snprintf(defs[n].name, sizeof defs[n].name, "%s%s", prefix, name);
  defs[n].ndim = ndim;
  defs[n].shape[0] = d0;
  defs[n].shape[1] = d1;
  return n + 1;
}

/* The tensors of a GPT2LMHeadModel checkpoint, in its order. */
static int model_tensors(const spec *s, tensor_def *defs) {
  const char *p = s->prefix;
  int n = 0;
  char name[96];
  n = add_def(defs, n, p, "wte.weight", 2, vocab_rows, N_EMBD);
  n = add_def(defs, n, p, "wpe.weight", 2, N_CTX, N_EMBD);
  for (int l = 0; l < s->n_layer; l++) {
    static const struct {
      const char *suffix;
      int ndim;
      int64_t d0, d1;
    } parts[] = {
        {"ln_1.weight", 1, N_EMBD, 0},        {"ln_1.bias", 1, N_EMBD, 0},
        {"attn.c_attn.weight", 2, N_EMBD, 3 * N_EMBD}, {"attn.c_attn.bias", 1, 3 * N_EMBD, 0},
        {"attn.c_proj.weight", 2, N_EMBD, N_EMBD}, {"attn.c_proj.bias", 1, N_EMBD, 0},
        {"ln_2.weight", 1, N_EMBD, 0},        {"ln_2.bias", 1, N_EMBD, 0},
        {"mlp.c_fc.weight", 2, N_EMBD, N_FF}, {"mlp.c_fc.bias", 1, N_FF, 0},
        {"mlp.c_proj.weight", 2, N_FF, N_EMBD}, {"mlp.c_proj.bias", 1, N_EMBD, 0},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
      snprintf(name, sizeof name, "h.%d.%s", l, parts[i].suffix);
      n = add_def(defs, n, p, name, parts[i].ndim, parts[i].d0, parts[i].d1);
    }
    if (s->extras) {
      snprintf(name, sizeof name, "h.%d.attn.bias", l);
      n = add_def(defs, n, p, name, 2, N_CTX, N_CTX);
      snprintf(name, sizeof name, "h.%d.attn.masked_bias", l);
      n = add_def(defs, n, p, name, 0, 0, 0);
    }
  }
  n = add_def(defs, n, p, "ln_f.weight", 1, N_EMBD, 0);
  n = add_def(defs, n, p, "ln_f.bias", 1, N_EMBD, 0);
  if (s->extras) {
    n = add_def(defs, n, "", "lm_head.weight", 2, vocab_rows, N_EMBD);
    n = add_def(defs, n, "", "score.unknown", 1, 3, 0);
  }
  return n;
}

/* Element i of tensor k: a multiple of 1/16 in [-11/16, 11/16], exact in
   every dtype, so converted values can be compared exactly. */
static float tensor_value(int k, int64_t i) { return (float)((k * 7 + i) % 23 - 11) / 16.0f; }

static size_t dtype_bytes(const char *dtype) {
  return strcmp(dtype, "F32") == 0 ? 4 : strcmp(dtype, "F64") == 0 ? 8 : 2;
}

static void store_value(const char *dtype, float value, unsigned char *out) {
  if (strcmp(dtype, "F32") == 0) {
    memcpy(out, &value, 4);
  } else if (strcmp(dtype, "F64") == 0) {
    double wide = value;
    memcpy(out, &wide, 8);
  } else {
    uint16_t half = strcmp(dtype, "F16") == 0 ? g2_f32_to_f16(value) : g2_f32_to_bf16(value);
    memcpy(out, &half, 2);
  }
}

typedef struct text {
  char *ptr;
  size_t len, cap;
} text;

static void append(text *t, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  if (t->len + (size_t)n + 1 > t->cap) {
    t->cap = (t->len + (size_t)n + 1) * 2;
    t->ptr = realloc(t->ptr, t->cap);
  }
  va_start(args, fmt);
  vsnprintf(t->ptr + t->len, (size_t)n + 1, fmt, args);
  va_end(args);
  t->len += (size_t)n;
}

/* Where the last written model's tensors are, for in-place checks. */
static tensor_def written_defs[64];
static size_t written_offsets[64];
static size_t written_data_start;
static int n_written;

static unsigned char *build_safetensors(const spec *s, size_t *size) {
  tensor_def *defs = written_defs;
  int n = model_tensors(s, defs);
  text header = {NULL, 0, 0};
  size_t offset = 0;
  int kept = 0;
  size_t offsets[64];
  const char *dtypes[64];
  append(&header, "{\"__metadata__\": {\"format\": \"pt\"}");
  for (int k = 0; k < n; k++) {
    const char *base = defs[k].name + strlen(s->prefix);
    if (strncmp(defs[k].name, "lm_head", 7) == 0 || strncmp(defs[k].name, "score", 5) == 0)
      base = defs[k].name;
    if (s->omit && strcmp(base, s->omit) == 0) continue;
    defs[kept] = defs[k];
    if (s->reshape && strcmp(base, s->reshape) == 0) defs[kept].shape[0]++;
    dtypes[kept] = s->retype && strcmp(base, s->retype) == 0 ? "F64" : s->dtype;
    int64_t count = 1;
    append(&header, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [", defs[kept].name, dtypes[kept]);
    for (int d = 0; d < defs[kept].ndim; d++) {
      append(&header, "%s%lld", d ? ", " : "", (long long)defs[kept].shape[d]);
      count *= defs[kept].shape[d];
    }
    size_t nbytes = (size_t)count * dtype_bytes(dtypes[kept]);
    append(&header, "], \"data_offsets\": [%zu, %zu]}", offset, offset + nbytes);
    offsets[kept] = offset;
    offset += nbytes;
    kept++;
  }
  append(&header, "}");
  /* Pad with spaces (allowed) so the data starts 8-aligned, or at an odd
     offset to force the loader's copy path. */
  while ((8 + header.len) % 8 != (s->misalign ? 1u : 0u)) append(&header, " ");
  unsigned char *data = calloc(1, offset ? offset : 1);
  for (int k = 0; k < kept; k++) {
    int64_t count = (int64_t)((k + 1 < kept ? offsets[k + 1] : offset) - offsets[k]) /
                    (int64_t)dtype_bytes(dtypes[k]);
    for (int64_t i = 0; i < count; i++)
      store_value(dtypes[k], tensor_value(k, i),
                  data + offsets[k] + (size_t)i * dtype_bytes(dtypes[k]));
    written_offsets[k] = offsets[k];
  }
  n_written = kept;
  written_data_start = 8 + header.len;
  unsigned char *bytes = st_image(header.ptr, data, offset, size);
  free(data);
  free(header.ptr);
  return bytes;
}

static char *file_path(const char *name) {
  static char paths[4][128];
  static int next;
  char *path = paths[next++ % 4];
  snprintf(path, 128, "%s/%s", dir, name);
  return path;
}

/* The mapped form of byte b (GPT-2's byte-to-unicode map), as UTF-8. */
static void byte_token(int b, char *out) {
  int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  int cp = b;
  if (!printable) {
    cp = 256;
    for (int i = 0; i < b; i++)
      cp += !((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255));
  }
  if (cp < 0x80) {
    out[0] = (char)cp;
    out[1] = 0;
  } else {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    out[2] = 0;
  }
}

/* Ids 0..255: byte tokens in byte order; 256 "Ġt", 257 "he", 258 EOT. */
static void write_vocab(void) {
  text t = {NULL, 0, 0};
  append(&t, "{");
  for (int b = 0; b < 256; b++) {
    char token[4];
    byte_token(b, token);
    append(&t, "%s\"%s%s\": %d", b ? ", " : "", b == '"' || b == '\\' ? "\\" : "", token, b);
  }
  append(&t, ", \"\\u0120t\": 256, \"he\": 257, \"<|endoftext|>\": 258}\n");
  write_text(file_path("vocab.json"), t.ptr);
  free(t.ptr);
}

static const char *const config_defaults[][2] = {
    {"model_type", "\"gpt2\""},  {"activation_function", "\"gelu_new\""},
    {"n_layer", "2"},            {"n_embd", "8"},
    {"n_head", "2"},             {"n_positions", "16"},
    {"n_ctx", "16"},             {"vocab_size", "259"},
    {"layer_norm_epsilon", "1e-05"}, {"n_inner", "null"},
};

/* config.json with `key` set to `value` (a JSON text; NULL drops it; a
   key not among the defaults is added). key NULL: the defaults. */
static void write_config(const char *key, const char *value) {
  text t = {NULL, 0, 0};
  append(&t, "{");
  int found = 0, first = 1;
  for (size_t i = 0; i < sizeof config_defaults / sizeof config_defaults[0]; i++) {
    const char *v = config_defaults[i][1];
    if (key && strcmp(key, config_defaults[i][0]) == 0) {
      found = 1;
      v = value;
    }
    if (!v) continue;
    append(&t, "%s\n  \"%s\": %s", first ? "" : ",", config_defaults[i][0], v);
    first = 0;
  }
  if (key && !found && value) append(&t, ",\n  \"%s\": %s", key, value);
  append(&t, "\n}\n");
  write_text(file_path("config.json"), t.ptr);
  free(t.ptr);
}

static const char merges_default[] = "#version: 0.2\n\xc4\xa0 t\nh e\n";

static void write_model(const spec *s) {
  size_t size;
  unsigned char *bytes = build_safetensors(s, &size);
  write_bytes(file_path("model.safetensors"), bytes, size);
  free(bytes);
  write_config(NULL, NULL);
  write_vocab();
  write_text(file_path("merges.txt"), merges_default);
}

/* ---- loading ------------------------------------------------------------------ */

/* Through the public entry point, so the lead's validation runs too. */
static int load(struct gpt2_model **out) { return gpt2_load(dir, NULL, out); }

static const unsigned char *mapped_tensor(const struct gpt2_model *model, const char *name) {
  for (int k = 0; k < n_written; k++)
    if (strcmp(written_defs[k].name, name) == 0)
      return model->mappings[0].data + written_data_start + written_offsets[k];
  return NULL;
}

static int in_mapping(const struct gpt2_model *model, const void *ptr) {
  const unsigned char *p = ptr, *base = model->mappings[0].data;
  return p >= base && p < base + model->mappings[0].size;
}

static int vector_matches(const float *v, int64_t n, int k) {
  for (int64_t i = 0; i < n; i++)
    if (v[i] != tensor_value(k, i)) return 0;
  return 1;
}

static int tensor_index(const char *name) {
  for (int k = 0; k < n_written; k++)
    if (strcmp(written_defs[k].name, name) == 0) return k;
  return -1;
}

static void check_matrix(const struct gpt2_model *model, const g2_matrix *m, const char *name,
                         g2_dtype dtype, g2_layout layout, int64_t n_in, int64_t n_out,
                         int expect_in_place, const char *what) {
  const unsigned char *stored = mapped_tensor(model, name);
  size_t nbytes = (size_t)(n_in * n_out) * (dtype == G2_DT_F32 ? 4 : 2);
  int in_place = m->data == stored;
  CHECK(m->dtype == dtype && m->layout == layout && m->n_in == n_in && m->n_out == n_out &&
            stored && in_place == expect_in_place && memcmp(m->data, stored, nbytes) == 0 &&
            (uintptr_t)m->data % (dtype == G2_DT_F32 ? 4 : 2) == 0,
        "%s: %s %s %lld -> %lld, %s and aligned", what, name,
        layout == G2_LAYOUT_KN ? "KN" : "NK", (long long)n_in, (long long)n_out,
        expect_in_place ? "in place" : "copied");
}

static void check_valid(const spec *s, const char *what) {
  write_model(s);
  struct gpt2_model *model;
  int status = load(&model);
  CHECK(status == GPT2_OK, "%s: loads (%s)", what, gpt2_last_error());
  if (status) return;
  const g2_hparams *hp = &model->hp;
  CHECK(hp->n_layer == N_LAYER && hp->n_embd == N_EMBD && hp->n_head == N_HEAD &&
            hp->n_ctx == N_CTX && hp->n_vocab == N_VOCAB && hp->n_ff == N_FF &&
            hp->ln_eps == 1e-5f,
        "%s: hyper-parameters", what);
  g2_dtype dtype = strcmp(s->dtype, "F32") == 0 ? G2_DT_F32
                   : strcmp(s->dtype, "F16") == 0 ? G2_DT_F16 : G2_DT_BF16;
  int in_place = !s->misalign;
  char name[96];
  snprintf(name, sizeof name, "%swte.weight", s->prefix);
  check_matrix(model, &model->wte, name, dtype, G2_LAYOUT_NK, N_EMBD, N_VOCAB, in_place, what);
  snprintf(name, sizeof name, "%swpe.weight", s->prefix);
  check_matrix(model, &model->wpe, name, dtype, G2_LAYOUT_NK, N_EMBD, N_CTX, in_place, what);
  CHECK(memcmp(&model->lm_head, &model->wte, sizeof model->wte) == 0, "%s: lm_head is wte (tied)",
        what);
  for (int l = 0; l < N_LAYER; l++) {
    const g2_layer *layer = &model->layers[l];
    snprintf(name, sizeof name, "%sh.%d.attn.c_attn.weight", s->prefix, l);
    check_matrix(model, &layer->attn_qkv, name, dtype, G2_LAYOUT_KN, N_EMBD, 3 * N_EMBD, in_place, what);
    snprintf(name, sizeof name, "%sh.%d.attn.c_proj.weight", s->prefix, l);
    check_matrix(model, &layer->attn_proj, name, dtype, G2_LAYOUT_KN, N_EMBD, N_EMBD, in_place, what);
    snprintf(name, sizeof name, "%sh.%d.mlp.c_fc.weight", s->prefix, l);
    check_matrix(model, &layer->mlp_up, name, dtype, G2_LAYOUT_KN, N_EMBD, N_FF, in_place, what);
    snprintf(name, sizeof name, "%sh.%d.mlp.c_proj.weight", s->prefix, l);
    check_matrix(model, &layer->mlp_down, name, dtype, G2_LAYOUT_KN, N_FF, N_EMBD, in_place, what);
    /* Vectors: exact values whatever the dtype; in place only for
       aligned F32. */
    static const struct {
      const char *suffix;
      size_t offset;
      int64_t n;
    } vectors[] = {
        {"ln_1.weight", offsetof(g2_layer, ln1_gamma), N_EMBD},
        {"ln_1.bias", offsetof(g2_layer, ln1_beta), N_EMBD},
        {"attn.c_attn.bias", offsetof(g2_layer, attn_qkv_bias), 3 * N_EMBD},
        {"attn.c_proj.bias", offsetof(g2_layer, attn_proj_bias), N_EMBD},
        {"ln_2.weight", offsetof(g2_layer, ln2_gamma), N_EMBD},
        {"ln_2.bias", offsetof(g2_layer, ln2_beta), N_EMBD},
        {"mlp.c_fc.bias", offsetof(g2_layer, mlp_up_bias), N_FF},
        {"mlp.c_proj.bias", offsetof(g2_layer, mlp_down_bias), N_EMBD},
    };
    int values_ok = 1, placement_ok = 1;
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
      const float *vector;
      memcpy(&vector, (const char *)layer + vectors[v].offset, sizeof vector);
      snprintf(name, sizeof name, "%sh.%d.%s", s->prefix, l, vectors[v].suffix);
      int k = tensor_index(name);
      values_ok &= k >= 0 && vector && vector_matches(vector, vectors[v].n, k);
      int expect_in_place = dtype == G2_DT_F32 && !s->misalign;
      placement_ok &= (vector == (const float *)mapped_tensor(model, name)) == expect_in_place &&
                      (in_mapping(model, vector) == expect_in_place);
    }
    CHECK(values_ok, "%s: layer %d vectors have the file's values as F32", what, l);
    CHECK(placement_ok, "%s: layer %d vectors %s", what, l,
          dtype == G2_DT_F32 && !s->misalign ? "used in place" : "converted into model memory");
  }
  snprintf(name, sizeof name, "%sln_f.weight", s->prefix);
  CHECK(vector_matches(model->lnf_gamma, N_EMBD, tensor_index(name)), "%s: ln_f.weight values", what);
  snprintf(name, sizeof name, "%sln_f.bias", s->prefix);
  CHECK(vector_matches(model->lnf_beta, N_EMBD, tensor_index(name)), "%s: ln_f.bias values", what);
  CHECK(model->tokenizer && g2_tokenizer_n_tokens(model->tokenizer) == N_VOCAB &&
            g2_tokenizer_eot(model->tokenizer) == 258,
        "%s: tokenizer with %d tokens, EOT 258", what, N_VOCAB);
  CHECK(model->n_mappings == 1, "%s: only model.safetensors stays mapped", what);
  gpt2_model_free(model);
}

static void test_valid(void) {
  spec s = default_spec();
  check_valid(&s, "F32");
  s.dtype = "F16";
  check_valid(&s, "F16");
  s.dtype = "BF16";
  check_valid(&s, "BF16");
  s = default_spec();
  s.prefix = "transformer.";
  check_valid(&s, "F32 transformer.-prefixed");
  s = default_spec();
  s.misalign = 1;
  check_valid(&s, "F32 misaligned");
  s.dtype = "F16";
  check_valid(&s, "F16 misaligned");
  s = default_spec();
  s.extras = 1;
  s.prefix = "transformer.";
  check_valid(&s, "F32 with attn.bias, masked_bias, lm_head and an unknown tensor");
}

/* Untied: lm_head.weight is its own matrix and must be present. */
static void test_untied(void) {
  spec s = default_spec();
  s.extras = 1;
  write_model(&s);
  write_config("tie_word_embeddings", "false");
  struct gpt2_model *model;
  int status = load(&model);
  CHECK(status == GPT2_OK, "untied model loads (%s)", gpt2_last_error());
  if (!status) {
    check_matrix(model, &model->lm_head, "lm_head.weight", G2_DT_F32, G2_LAYOUT_NK, N_EMBD,
                 N_VOCAB, 1, "untied");
    gpt2_model_free(model);
  }
  s.extras = 0;
  write_model(&s);
  write_config("tie_word_embeddings", "false");
  status = load(&model);
  CHECK(status == GPT2_E_FORMAT && strstr(gpt2_last_error(), "missing tensor 'lm_head.weight'"),
        "untied without lm_head.weight: %s", gpt2_last_error());
}

/* Issue 19 #6: tie_word_embeddings is true, false or absent (true); null,
   0 or "no" used to count as tied, silently. A tied lm_head.weight is never
   read, so its dtype (F64 here) is no reason to refuse the model. */
static void test_tie_strict(void) {
  static const char *const not_bool[][2] = {{"null", "null"}, {"0", "number"}, {"\"no\"", "string"}};
  spec s = default_spec();
  s.extras = 1;
  for (size_t i = 0; i < 3; i++) {
    write_model(&s);
    write_config("tie_word_embeddings", not_bool[i][0]);
    struct gpt2_model *model = (struct gpt2_model *)1;
    int status = load(&model);
    char words[64];
    snprintf(words, sizeof words, "\"tie_word_embeddings\" is a JSON %s", not_bool[i][1]);
    CHECK(status == GPT2_E_FORMAT && model == NULL && strstr(gpt2_last_error(), "config.json") &&
              strstr(gpt2_last_error(), words),
          "tie_word_embeddings %s: status %d, '%s'", not_bool[i][0], status, gpt2_last_error());
    if (!status) gpt2_model_free(model);
  }
  s.retype = "lm_head.weight";
  write_model(&s);
  write_config("tie_word_embeddings", "true");
  struct gpt2_model *model = NULL;
  int status = load(&model);
  CHECK(status == GPT2_OK, "tied, with an F64 lm_head.weight (ignored): loads (%s)",
        status ? gpt2_last_error() : "ok");
  if (!status) gpt2_model_free(model);
  write_config("tie_word_embeddings", "false");
  status = load(&model);
  CHECK(status == GPT2_E_UNSUPPORTED && strstr(gpt2_last_error(), "'lm_head.weight' has dtype F64"),
        "untied, the same F64 lm_head.weight is refused: '%s'", gpt2_last_error());
  if (!status) gpt2_model_free(model);
}

/* ---- hostile corpus ------------------------------------------------------------ */

/* Loads the directory as it is now and expects `status` and a message
   containing `file` and `words`. */
static void expect_fail(const char *what, int status, const char *file, const char *words) {
  struct gpt2_model *model = (struct gpt2_model *)1;
  int got = load(&model);
  const char *message = gpt2_last_error();
  CHECK(got == status && model == NULL && strstr(message, file) && strstr(message, words),
        "%s: status %d, '%s'", what, got, message);
}

static void expect_spec_fail(const spec *s, const char *what, int status, const char *words) {
  write_model(s);
  expect_fail(what, status, "model.safetensors", words);
}

static void test_missing_files(void) {
  static const char *const files[] = {"config.json", "model.safetensors", "vocab.json",
                                      "merges.txt"};
  spec s = default_spec();
  for (size_t i = 0; i < 4; i++) {
    write_model(&s);
    unlink(file_path(files[i]));
    char what[64];
    snprintf(what, sizeof what, "missing %s", files[i]);
    expect_fail(what, GPT2_E_IO, files[i], "cannot open");
  }
}

static void test_hostile_weights(void) {
  spec s = default_spec();
  s.omit = "h.1.mlp.c_fc.bias";
  expect_spec_fail(&s, "missing tensor", GPT2_E_FORMAT, "missing tensor 'h.1.mlp.c_fc.bias'");
  s = default_spec();
  s.prefix = "transformer.";
  s.omit = "ln_f.weight";
  expect_spec_fail(&s, "missing prefixed tensor", GPT2_E_FORMAT,
                   "missing tensor 'transformer.ln_f.weight'");
  s = default_spec();
  s.omit = "wte.weight";
  expect_spec_fail(&s, "missing wte", GPT2_E_FORMAT, "missing tensor 'wte.weight'");
  s = default_spec();
  s.reshape = "h.0.attn.c_attn.weight";
  expect_spec_fail(&s, "wrong matrix shape", GPT2_E_FORMAT,
                   "'h.0.attn.c_attn.weight' has shape [9, 24], expected [8, 24]");
  s = default_spec();
  s.reshape = "h.1.ln_2.bias";
  expect_spec_fail(&s, "wrong vector shape", GPT2_E_FORMAT,
                   "'h.1.ln_2.bias' has shape [9], expected [8]");
  s = default_spec();
  s.reshape = "wpe.weight";
  expect_spec_fail(&s, "wpe rows not n_positions", GPT2_E_FORMAT,
                   "'wpe.weight' has shape [17, 8], expected [16, 8]");
  s = default_spec();
  s.extras = 1;
  s.reshape = "lm_head.weight";
  expect_spec_fail(&s, "lm_head not the shape of wte", GPT2_E_FORMAT,
                   "'lm_head.weight' has shape [260, 8], expected [259, 8]");
  s = default_spec();
  s.retype = "h.0.ln_1.weight";
  expect_spec_fail(&s, "unsupported dtype", GPT2_E_UNSUPPORTED,
                   "'h.0.ln_1.weight' has dtype F64");
  s = default_spec();
  s.n_layer = 3;
  expect_spec_fail(&s, "more layers in the file than in config.json", GPT2_E_FORMAT,
                   "tensor 'h.2.");

  /* Truncated file: the last tensor's end is past EOF. */
  s = default_spec();
  size_t size;
  unsigned char *bytes = build_safetensors(&s, &size);
  write_model(&s);
  write_bytes(file_path("model.safetensors"), bytes, size - 1);
  expect_fail("truncated by one byte", GPT2_E_FORMAT, "model.safetensors", "past the end of the file");
  write_bytes(file_path("model.safetensors"), bytes, written_data_start);
  expect_fail("truncated after the header", GPT2_E_FORMAT, "model.safetensors",
              "past the end of the file");
  write_bytes(file_path("model.safetensors"), bytes, 100);
  expect_fail("truncated inside the header", GPT2_E_FORMAT, "model.safetensors", "past the end");
  write_bytes(file_path("model.safetensors"), bytes, 5);
  expect_fail("5-byte file", GPT2_E_FORMAT, "model.safetensors", "too short");
  write_bytes(file_path("model.safetensors"), bytes, 0);
  expect_fail("empty file", GPT2_E_FORMAT, "model.safetensors", "too short");
  bytes[7] = 0x80; /* header length 2^63 + n */
  write_bytes(file_path("model.safetensors"), bytes, size);
  expect_fail("header length near 2^63", GPT2_E_FORMAT, "model.safetensors", "exceeds the limit");
  bytes[7] = 0;
  bytes[3] = 1; /* header length + 16 MB: past EOF, under the cap */
  write_bytes(file_path("model.safetensors"), bytes, size);
  expect_fail("header length past EOF", GPT2_E_FORMAT, "model.safetensors", "past the end of the file");
  bytes[3] = 0;
  bytes[8] = '[';
  write_bytes(file_path("model.safetensors"), bytes, size);
  expect_fail("bad JSON in header", GPT2_E_FORMAT, "model.safetensors header", "line 1");
  free(bytes);
}

static void expect_config_fail(const char *key, const char *value, int status, const char *words) {
  spec s = default_spec();
  write_model(&s);
  write_config(key, value);
  char what[160];
  snprintf(what, sizeof what, "config %s = %s", key, value ? value : "(absent)");
  expect_fail(what, status, "config.json", words);
}

static void test_hostile_config(void) {
  expect_config_fail("n_head", "3", GPT2_E_FORMAT, "n_embd 8 is not a multiple of n_head 3");
  expect_config_fail("n_layer", "0", GPT2_E_FORMAT, "\"n_layer\" = 0 is outside [1, 1024]");
  expect_config_fail("n_layer", "-2", GPT2_E_FORMAT, "\"n_layer\" = -2 is outside");
  expect_config_fail("n_layer", "1025", GPT2_E_FORMAT, "\"n_layer\" = 1025 is outside [1, 1024]");
  expect_config_fail("n_layer", "2.5", GPT2_E_FORMAT, "\"n_layer\" is not an integer");
  expect_config_fail("n_layer", "2e0", GPT2_E_FORMAT, "\"n_layer\" is not an integer");
  expect_config_fail("n_layer", "\"2\"", GPT2_E_FORMAT, "\"n_layer\" is not an integer (found a string)");
  expect_config_fail("n_layer", NULL, GPT2_E_FORMAT, "missing \"n_layer\"");
  expect_config_fail("n_embd", "9223372036854775807", GPT2_E_FORMAT, "\"n_embd\" = 9223372036854775807 is outside [1, 65536]");
  expect_config_fail("n_embd", "18446744073709551616", GPT2_E_FORMAT, "\"n_embd\" is not an integer");
  expect_config_fail("n_head", "0", GPT2_E_FORMAT, "\"n_head\" = 0 is outside [1, 8]");
  expect_config_fail("n_head", "16", GPT2_E_FORMAT, "\"n_head\" = 16 is outside [1, 8]");
  expect_config_fail("vocab_size", "16777217", GPT2_E_FORMAT, "\"vocab_size\" = 16777217 is outside");
  expect_config_fail("vocab_size", "0", GPT2_E_FORMAT, "\"vocab_size\" = 0 is outside");
  expect_config_fail("n_positions", "1048577", GPT2_E_FORMAT, "\"n_positions\" = 1048577 is outside");
  expect_config_fail("n_inner", "0", GPT2_E_FORMAT, "\"n_inner\" = 0 is outside");
  expect_config_fail("n_inner", "262145", GPT2_E_FORMAT, "\"n_inner\" = 262145 is outside");
  expect_config_fail("layer_norm_epsilon", "0", GPT2_E_FORMAT, "\"layer_norm_epsilon\" must be");
  expect_config_fail("layer_norm_epsilon", "-1e-5", GPT2_E_FORMAT, "\"layer_norm_epsilon\" must be");
  expect_config_fail("layer_norm_epsilon", "1e-300", GPT2_E_FORMAT, "\"layer_norm_epsilon\" must be");
  expect_config_fail("layer_norm_epsilon", "\"small\"", GPT2_E_FORMAT, "\"layer_norm_epsilon\" must be");
  expect_config_fail("activation_function", "\"relu\"", GPT2_E_UNSUPPORTED,
                     "\"activation_function\": \"relu\" is not supported");
  expect_config_fail("activation_function", "\"gelu\"", GPT2_E_UNSUPPORTED, "\"gelu\" is not supported");
  expect_config_fail("activation_function", "7", GPT2_E_FORMAT, "\"activation_function\" is not a string");
  expect_config_fail("model_type", "\"llama\"", GPT2_E_UNSUPPORTED, "\"model_type\": \"llama\" is not supported");
  expect_config_fail("scale_attn_by_inverse_layer_idx", "true", GPT2_E_UNSUPPORTED,
                     "\"scale_attn_by_inverse_layer_idx\": true is not supported");
  expect_config_fail("scale_attn_weights", "false", GPT2_E_UNSUPPORTED,
                     "\"scale_attn_weights\": false is not supported");
  expect_config_fail("add_cross_attention", "1", GPT2_E_FORMAT, "\"add_cross_attention\" is not a boolean");
  /* The weights no longer match a config that differs from them. */
  spec s = default_spec();
  write_model(&s);
  write_config("vocab_size", "300");
  expect_fail("config vocab_size larger than wte", GPT2_E_FORMAT, "model.safetensors",
              "'wte.weight' has shape [259, 8], expected [300, 8]");
  write_config("n_inner", "16");
  expect_fail("config n_inner not the file's", GPT2_E_FORMAT, "model.safetensors",
              "'h.0.mlp.c_fc.weight' has shape [8, 32], expected [8, 16]");
  write_config("n_layer", "1");
  expect_fail("config with fewer layers than the file", GPT2_E_FORMAT, "model.safetensors",
              "past the 1 layers of config.json");

  write_text(file_path("config.json"), "{\"n_layer\": 2,}");
  expect_fail("bad JSON in config", GPT2_E_FORMAT, "config.json", "line 1, column 15");
  write_text(file_path("config.json"), "[2]");
  expect_fail("config not an object", GPT2_E_FORMAT, "config.json", "is a JSON array, expected an object");
  write_text(file_path("config.json"), "");
  expect_fail("empty config", GPT2_E_FORMAT, "config.json", "empty input");
}

/* Accepted config variants. */
static void test_config_variants(void) {
  spec s = default_spec();
  struct gpt2_model *model;
  const char *variants[][2] = {
      {"n_positions", NULL},                         /* falls back to n_ctx */
      {"n_inner", "32"},                             /* explicit 4 * n_embd */
      {"activation_function", "\"gelu_pytorch_tanh\""},
      {"layer_norm_epsilon", NULL},                  /* default 1e-5 */
      {"model_type", NULL},
      {"architectures", "[\"GPT2LMHeadModel\"]"},   /* unknown keys ignored */
  };
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
    write_model(&s);
    write_config(variants[i][0], variants[i][1]);
    int status = load(&model);
    CHECK(status == GPT2_OK && model->hp.n_ctx == N_CTX && model->hp.n_ff == N_FF &&
              model->hp.ln_eps == 1e-5f,
          "config %s = %s accepted (%s)", variants[i][0], variants[i][1] ? variants[i][1] : "(absent)",
          gpt2_last_error());
    if (!status) gpt2_model_free(model);
  }
  write_model(&s);
  write_config("layer_norm_epsilon", "0.001");
  CHECK(load(&model) == GPT2_OK && model->hp.ln_eps == 0.001f, "layer_norm_epsilon 0.001 read");
  gpt2_model_free(model);
}

static void expect_vocab_fail(const char *what, const char *vocab, const char *merges,
                              const char *file, const char *words) {
  spec s = default_spec();
  write_model(&s);
  if (vocab) write_text(file_path("vocab.json"), vocab);
  if (merges) write_text(file_path("merges.txt"), merges);
  expect_fail(what, GPT2_E_FORMAT, file, words);
}

/* The default vocab.json with the text `from` replaced by `to`. */
static char *vocab_with(const char *from, const char *to) {
  write_vocab();
  FILE *f = fopen(file_path("vocab.json"), "rb");
  static char original[8192], changed[8192];
  size_t n = fread(original, 1, sizeof original - 1, f);
  fclose(f);
  original[n] = 0;
  char *at = strstr(original, from);
  if (!at) return original;
  snprintf(changed, sizeof changed, "%.*s%s%s", (int)(at - original), original, to, at + strlen(from));
  return changed;
}

static void test_hostile_vocabulary(void) {
  expect_vocab_fail("bad JSON in vocab", "{\"a\": 0", NULL, "vocab.json", "unterminated object");
  expect_vocab_fail("vocab not an object", "[\"a\"]", NULL, "vocab.json", "is a JSON array, expected an object");
  expect_vocab_fail("vocab with a lone surrogate", "{\"\\ud800\": 0}", NULL, "vocab.json",
                    "lone high surrogate");
  expect_vocab_fail("vocab smaller than vocab_size", "{\"a\": 0}", NULL, "vocab.json",
                    "1 tokens, but config.json has vocab_size 259");
  expect_vocab_fail("non-dense ids (a gap)", vocab_with("\"he\": 257", "\"he\": 300"), NULL,
                    "vocab.json", "token 'he' has id that is not an integer in [0, 258]");
  expect_vocab_fail("duplicate ids", vocab_with("\"he\": 257", "\"he\": 256"), NULL, "vocab.json",
                    "id 256 is used twice");
  expect_vocab_fail("negative id", vocab_with("\"he\": 257", "\"he\": -1"), NULL, "vocab.json",
                    "'he' has id that is not an integer");
  expect_vocab_fail("string id", vocab_with("\"he\": 257", "\"he\": \"257\""), NULL, "vocab.json",
                    "'he' has id that is not an integer");
  expect_vocab_fail("float id", vocab_with("\"he\": 257", "\"he\": 257.0"), NULL, "vocab.json",
                    "'he' has id that is not an integer");
  expect_vocab_fail("duplicate token", vocab_with("\"he\": 257", "\"\\u0120t\": 257"), NULL,
                    "vocab.json", "repeats token 256");
  expect_vocab_fail("merge line without a space", NULL, "#version: 0.2\nhe\n", "merges.txt",
                    "line 2: expected two tokens separated by one space");
  expect_vocab_fail("merge line with three parts", NULL, "#version: 0.2\nh e x\n", "merges.txt",
                    "line 2: expected two tokens");
  expect_vocab_fail("empty line inside merges", NULL, "#version: 0.2\nh e\n\n\xc4\xa0 t\n",
                    "merges.txt", "line 3: expected two tokens");
  expect_vocab_fail("merge with a leading space", NULL, "#version: 0.2\n he\n", "merges.txt",
                    "line 2: expected two tokens");
  expect_vocab_fail("merge of unknown tokens", NULL, "#version: 0.2\nh x\n", "merges.txt",
                    "merge 0: the merged token is not in the vocabulary");

  /* Accepted merges.txt variants: CRLF, no version line, no final newline,
     empty file. */
  const char *accepted[] = {"#version: 0.2\r\n\xc4\xa0 t\r\nh e\r\n", "\xc4\xa0 t\nh e\n",
                            "#version: 0.2\n\xc4\xa0 t\nh e", ""};
  spec s = default_spec();
  for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
    write_model(&s);
    write_text(file_path("merges.txt"), accepted[i]);
    struct gpt2_model *model;
    int status = load(&model);
    CHECK(status == GPT2_OK, "merges.txt variant %zu accepted (%s)", i, gpt2_last_error());
    if (!status) gpt2_model_free(model);
  }
}

static void copy_file(const char *from, const char *to) {
  g2_mapping map;
  if (g2_map_file(from, &map) != GPT2_OK) return;
  write_bytes(to, map.data, map.size);
  g2_unmap_file(&map);
}

/* The real GPT-2 vocab.json and merges.txt (50,257 tokens, 50,000 merges)
   with tiny F16 weights. */
static void test_real_vocabulary(void) {
  const char *data = harness_path("GPT2_TEST_DATA", "tests/data");
  char from[4096];
  spec s = default_spec();
  s.dtype = "F16";
  vocab_rows = 50257;
  write_model(&s);
  vocab_rows = N_VOCAB;
  write_config("vocab_size", "50257");
  snprintf(from, sizeof from, "%s/gpt2/vocab.json", data);
  copy_file(from, file_path("vocab.json"));
  snprintf(from, sizeof from, "%s/gpt2/merges.txt", data);
  copy_file(from, file_path("merges.txt"));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct gpt2_model *model;
  int status = load(&model);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(status == GPT2_OK, "real GPT-2 vocabulary loads (%s)", gpt2_last_error());
  if (status) return;
  size_t len = 0;
  const char *the = g2_token_bytes(model->tokenizer, 262, &len);
  CHECK(g2_tokenizer_n_tokens(model->tokenizer) == 50257 && g2_tokenizer_eot(model->tokenizer) == 50256 &&
            the && len == 4 && memcmp(the, " the", 4) == 0,
        "50257 tokens, EOT 50256, token 262 is \" the\"");
  printf("# load with the real vocabulary: %.1f ms\n",
         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
  gpt2_model_free(model);
}

/* Every allocation of a load (misaligned F16: copies and conversions
   included) failing in turn gives GPT2_E_NOMEM and leaks nothing. */
static void test_allocation_failures(void) {
  spec s = default_spec();
  s.dtype = "F16";
  s.misalign = 1;
  write_model(&s);
  struct gpt2_model *model;
  g2_alloc_fail_at(0);
  int status = load(&model);
  size_t allocations = g2_alloc_fail_at(0);
  CHECK(status == GPT2_OK, "misaligned F16 model loads");
  if (!status) gpt2_model_free(model);
  size_t wrong = 0;
  for (size_t n = 1; n <= allocations; n++) {
    g2_alloc_fail_at(n);
    model = (struct gpt2_model *)1;
    status = load(&model);
    g2_alloc_fail_at(0);
    if (status != GPT2_E_NOMEM || model != NULL) {
      wrong++;
      printf("# allocation %zu: status %d (%s)\n", n, status, gpt2_last_error());
    }
    if (!status) gpt2_model_free(model);
  }
  CHECK(allocations > 50 && wrong == 0, "each of %zu allocations failing gives GPT2_E_NOMEM",
        allocations);
}

/* Mappings of files of the test directory, from /proc/self/maps; -1 where
   there is no such file (not Linux) or it is not this program's (Windows:
   under Wine it is the Wine process's, which names no Windows path). */
static int count_mapped(const char *name) {
#if defined(_WIN32)
  (void)name;
  return -1;
#else
  FILE *maps = fopen("/proc/self/maps", "r");
  if (!maps) return -1;
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, maps)) n += strstr(line, dir) && (!name || strstr(line, name));
  fclose(maps);
  return n;
#endif
}

/* mmap'd files are not seen by ASan's leak check: any mapping of the test
   directory still in /proc/self/maps after every model is freed is one. */
static void test_no_mapping_left(void) {
  int left = count_mapped(NULL);
  if (left < 0) {
    SKIP("no mapping left: no /proc/self/maps");
    return;
  }
  CHECK(left == 0, "no file of the test directory is still mapped (%d)", left);
}

/* Issue 19 #2: a mapped file truncated by another process kills us with
   SIGBUS at the next access. The small files are read, never mapped; with
   use_mmap = 0 nothing is; with 1 only the weights. Checked while the
   checkpoint (which holds the files of the load) is alive. */
static void test_small_files_read(void) {
  if (count_mapped(NULL) < 0) {
    SKIP("small files read: no /proc/self/maps");
    return;
  }
  spec s = default_spec();
  write_model(&s);
  for (int use_mmap = 0; use_mmap <= 1; use_mmap++) {
    g2_checkpoint ckpt;
    int status = g2_read_hf_dir(dir, use_mmap, &ckpt);
    int all = count_mapped(NULL), weights = count_mapped("model.safetensors");
    CHECK(status == GPT2_OK && all == use_mmap && weights == use_mmap &&
              ckpt.text_files[0].is_copy && ckpt.text_files[1].is_copy,
          "use_mmap %d: %d file(s) of the directory mapped (%d the weights), vocab.json and "
          "merges.txt read (%s)",
          use_mmap, all, weights, status ? gpt2_last_error() : "loaded");
    g2_checkpoint_free(&ckpt);
  }
}

/* Issue 19 #1: open(2) of a FIFO blocks until a writer comes; each file of
   the directory as a FIFO must be refused at once (the alarm turns a hang
   into a failure of this program). */
static void test_fifo(void) {
#if defined(_WIN32)
  SKIP("FIFOs: POSIX only (file_win32.c refuses any file that is not a disk file)");
#else
  static const char *const files[] = {"config.json", "model.safetensors", "vocab.json",
                                      "merges.txt"};
  spec s = default_spec();
  alarm(60);
  for (size_t i = 0; i < 4; i++) {
    write_model(&s);
    unlink(file_path(files[i]));
    if (mkfifo(file_path(files[i]), 0600) != 0) {
      SKIP("FIFO %s: mkfifo refused here", files[i]);
      continue;
    }
    char what[64];
    snprintf(what, sizeof what, "%s a FIFO", files[i]);
    expect_fail(what, GPT2_E_IO, files[i], "not a regular file");
    unlink(file_path(files[i]));
  }
  /* and a .gguf path */
  char *path = file_path("model.gguf");
  if (mkfifo(path, 0600) == 0) {
    struct gpt2_model *model = (struct gpt2_model *)1;
    int status = gpt2_load(path, NULL, &model);
    CHECK(status == GPT2_E_IO && model == NULL && strstr(gpt2_last_error(), "not a regular file"),
          "a .gguf FIFO: status %d, '%s'", status, gpt2_last_error());
    unlink(path);
  } else {
    SKIP("a .gguf FIFO: mkfifo refused here");
  }
  alarm(0);
#endif
}

static void remove_dir(void) {
  static const char *const files[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                                      "model.gguf"};
  for (size_t i = 0; i < 5; i++) unlink(file_path(files[i]));
  rmdir(dir);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s", "/tmp/g2_hf_load_XXXXXX");
  if (!mkdtemp(dir)) {
    CHECK(0, "mkdtemp");
    HARNESS_EXIT();
  }
  test_valid();
  test_untied();
  test_tie_strict();
  test_config_variants();
  test_missing_files();
  test_fifo();
  test_small_files_read();
  test_hostile_weights();
  test_hostile_config();
  test_hostile_vocabulary();
  test_real_vocabulary();
  test_allocation_failures();
  test_no_mapping_left();
  remove_dir();
  HARNESS_EXIT();
}
