/* Writing a model as a GGUF v3 file in llama.cpp's GPT-2 layout
   (docs/gguf.md): the keys and tensor names of llama.cpp's converter, the
   vocabulary and merges embedded, tensors in order at 32-byte alignment
   (ggml's reader wants each offset to follow the previous tensor), and
   the type mix of llama.cpp's converter and quantizer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/params.h"
#include "format/gguf.h"
#include "gpt2.h"
#include "model/model.h"
#include "tensor/quant.h"

#define ALIGNMENT G2_GGUF_DEFAULT_ALIGNMENT
#define TILE 64 /* output rows transposed at once from [n_in][n_out] matrices */
#define OUTPUT_BUFFER (1u << 20)

/* ---- the plan: which tensors, in which types ---------------------------- */

typedef enum role {
  ROLE_LAYER,    /* a block's matrix */
  ROLE_OUTPUT,   /* output.weight, or token_embd.weight when tied to it */
  ROLE_TOKENS,   /* token_embd.weight when an output.weight exists */
  ROLE_POSITIONS /* position_embd.weight */
} role;

typedef struct planned {
  char name[G2_GGUF_MAX_TENSOR_NAME + 1];
  const g2_matrix *matrix; /* NULL for a vector */
  const float *vector;
  int64_t ne0, ne1;        /* ggml order; ne1 = 0 for a vector */
  g2_dtype dtype;          /* as written */
  uint64_t offset;         /* in the data section */
  uint64_t n_bytes;
} planned;

/* The matrix types of each mix, as llama.cpp makes them: its converter
   keeps position embeddings F32 and makes the other matrices F16, BF16 or
   Q8_0; its quantizer leaves position embeddings as they are and gives the
   output matrix (the token embeddings when tied to it) Q6_K in the Q4_0 mix
   (Q8_0 when rows do not fill Q6_K's 256-value blocks). Other rows that do
   not fill a type's blocks fall back to F16, as llama.cpp's converter
   does. AUTO keeps the types as held. */
static g2_dtype choose_type(uint32_t weight_type, const g2_matrix *m, role r) {
  g2_dtype dtype;
  switch (weight_type) {
    case GPT2_WTYPE_F32: return G2_DT_F32;
    case GPT2_WTYPE_F16: dtype = G2_DT_F16; break;
    case GPT2_WTYPE_BF16: dtype = G2_DT_BF16; break;
    case GPT2_WTYPE_Q8_0: dtype = G2_DT_Q8_0; break;
    case GPT2_WTYPE_Q4_0:
      dtype = r != ROLE_OUTPUT ? G2_DT_Q4_0 : m->n_in % G2_QK_K == 0 ? G2_DT_Q6_K : G2_DT_Q8_0;
      break;
    default: return m->dtype;
  }
  if (r == ROLE_POSITIONS) return G2_DT_F32;
  return g2_dtype_row_bytes(dtype, m->n_in) ? dtype : G2_DT_F16;
}

static uint32_t file_type(g2_dtype dtype) {
  switch (dtype) {
    case G2_DT_F16: return G2_FTYPE_MOSTLY_F16;
    case G2_DT_BF16: return G2_FTYPE_MOSTLY_BF16;
    case G2_DT_Q8_0: return G2_FTYPE_MOSTLY_Q8_0;
    case G2_DT_Q4_0: return G2_FTYPE_MOSTLY_Q4_0;
    case G2_DT_Q4_K: return G2_FTYPE_MOSTLY_Q4_K_M;
    case G2_DT_Q5_K: return G2_FTYPE_MOSTLY_Q5_K_M;
    case G2_DT_Q6_K: return G2_FTYPE_MOSTLY_Q6_K;
    default: return G2_FTYPE_ALL_F32;
  }
}

typedef struct plan {
  planned *tensors;
  size_t n_tensors;
  uint32_t weight_type;
  int quantized; /* some tensor has a block type */
} plan;

static void add_matrix(plan *p, const char *name, const g2_matrix *m, role r) {
  planned *t = &p->tensors[p->n_tensors++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->matrix = m;
  t->vector = NULL;
  t->ne0 = m->n_in;
  t->ne1 = m->n_out;
  t->dtype = choose_type(p->weight_type, m, r);
  if (g2_dtype_block_size(t->dtype) > 1) p->quantized = 1;
}

static void add_vector(plan *p, const char *name, const float *v, int64_t n) {
  planned *t = &p->tensors[p->n_tensors++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->matrix = NULL;
  t->vector = v;
  t->ne0 = n;
  t->ne1 = 0;
  t->dtype = G2_DT_F32; /* 1-D tensors are always F32 */
}

static int tied(const struct gpt2_model *model) {
  return model->lm_head.data == model->wte.data && model->lm_head.dtype == model->wte.dtype &&
         model->lm_head.layout == model->wte.layout;
}

/* Every tensor with its type, size and offset: the order of llama.cpp's
   converter for a Hugging Face GPT-2. */
static void make_plan(const struct gpt2_model *model, plan *p) {
  const g2_hparams *hp = &model->hp;
  int has_output = !tied(model);
  add_matrix(p, "token_embd.weight", &model->wte, has_output ? ROLE_TOKENS : ROLE_OUTPUT);
  add_matrix(p, "position_embd.weight", &model->wpe, ROLE_POSITIONS);
  char name[G2_GGUF_MAX_TENSOR_NAME + 1];
  for (int32_t i = 0; i < hp->n_layer; i++) {
    const g2_layer *l = &model->layers[i];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)i), name)
    add_vector(p, NAME("attn_norm.weight"), l->ln1_gamma, hp->n_embd);
    add_vector(p, NAME("attn_norm.bias"), l->ln1_beta, hp->n_embd);
    add_matrix(p, NAME("attn_qkv.weight"), &l->attn_qkv, ROLE_LAYER);
    add_vector(p, NAME("attn_qkv.bias"), l->attn_qkv_bias, 3 * (int64_t)hp->n_embd);
    add_matrix(p, NAME("attn_output.weight"), &l->attn_proj, ROLE_LAYER);
    add_vector(p, NAME("attn_output.bias"), l->attn_proj_bias, hp->n_embd);
    add_vector(p, NAME("ffn_norm.weight"), l->ln2_gamma, hp->n_embd);
    add_vector(p, NAME("ffn_norm.bias"), l->ln2_beta, hp->n_embd);
    add_matrix(p, NAME("ffn_up.weight"), &l->mlp_up, ROLE_LAYER);
    add_vector(p, NAME("ffn_up.bias"), l->mlp_up_bias, hp->n_ff);
    add_matrix(p, NAME("ffn_down.weight"), &l->mlp_down, ROLE_LAYER);
    add_vector(p, NAME("ffn_down.bias"), l->mlp_down_bias, hp->n_embd);
#undef NAME
  }
  add_vector(p, "output_norm.weight", model->lnf_gamma, hp->n_embd);
  add_vector(p, "output_norm.bias", model->lnf_beta, hp->n_embd);
  if (has_output) add_matrix(p, "output.weight", &model->lm_head, ROLE_OUTPUT);

  uint64_t offset = 0;
  for (size_t i = 0; i < p->n_tensors; i++) {
    planned *t = &p->tensors[i];
    t->n_bytes = t->matrix ? (uint64_t)g2_dtype_row_bytes(t->dtype, t->ne0) * (uint64_t)t->ne1
                           : (uint64_t)t->ne0 * sizeof(float);
    t->offset = offset;
    offset += (t->n_bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }
}

/* ---- output ------------------------------------------------------------- */

typedef struct writer {
  FILE *file;
  uint64_t pos;
  int error; /* errno of the first failed write */
} writer;

static void put(writer *w, const void *data, size_t n) {
  if (w->error || n == 0) return;
  if (fwrite(data, 1, n, w->file) != n) w->error = errno ? errno : EIO;
  w->pos += n;
}

static void put_u32(writer *w, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  put(w, b, 4);
}

static void put_u64(writer *w, uint64_t v) {
  put_u32(w, (uint32_t)v);
  put_u32(w, (uint32_t)(v >> 32));
}

static void put_str(writer *w, const char *s, size_t len) {
  put_u64(w, len);
  put(w, s, len);
}

static void put_padding(writer *w) {
  static const unsigned char zeros[ALIGNMENT];
  put(w, zeros, (size_t)((ALIGNMENT - w->pos % ALIGNMENT) % ALIGNMENT));
}

static void put_key(writer *w, const char *key, uint32_t type) {
  put_str(w, key, strlen(key));
  put_u32(w, type);
}

static void kv_u32(writer *w, const char *key, uint32_t v) {
  put_key(w, key, G2_GGUF_UINT32);
  put_u32(w, v);
}

static void kv_f32(writer *w, const char *key, float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  put_key(w, key, G2_GGUF_FLOAT32);
  put_u32(w, bits);
}

static void kv_string(writer *w, const char *key, const char *v) {
  put_key(w, key, G2_GGUF_STRING);
  put_str(w, v, strlen(v));
}

static void array_header(writer *w, const char *key, uint32_t elem_type, uint64_t count) {
  put_key(w, key, G2_GGUF_ARRAY);
  put_u32(w, elem_type);
  put_u64(w, count);
}

/* The vocabulary: tokens in mapped form, their types (<|endoftext|> is a
   control token, as llama.cpp's converter marks special tokens), merges
   as "A B". `text` holds two mapped tokens and a space. */
static void put_vocab(writer *w, const g2_tokenizer *tok, char *text, size_t cap) {
  size_t n_tokens = g2_tokenizer_n_tokens(tok);
  int32_t eot = g2_tokenizer_eot(tok);
  kv_string(w, "tokenizer.ggml.model", "gpt2");
  kv_string(w, "tokenizer.ggml.pre", "gpt-2");
  array_header(w, "tokenizer.ggml.tokens", G2_GGUF_STRING, n_tokens);
  for (size_t id = 0; id < n_tokens; id++)
    put_str(w, text, g2_tokenizer_token_text(tok, (int32_t)id, text, cap));
  array_header(w, "tokenizer.ggml.token_type", G2_GGUF_INT32, n_tokens);
  for (size_t id = 0; id < n_tokens; id++)
    put_u32(w, (int32_t)id == eot ? G2_GGUF_TOKEN_CONTROL : G2_GGUF_TOKEN_NORMAL);
  size_t n_merges = g2_tokenizer_n_merges(tok);
  array_header(w, "tokenizer.ggml.merges", G2_GGUF_STRING, n_merges);
  for (size_t r = 0; r < n_merges; r++) {
    int32_t left, right;
    g2_tokenizer_merge(tok, r, &left, &right);
    size_t len = g2_tokenizer_token_text(tok, left, text, cap);
    text[len++] = ' ';
    len += g2_tokenizer_token_text(tok, right, text + len, cap - len);
    put_str(w, text, len);
  }
  if (eot >= 0) {
    kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)eot);
    kv_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eot);
  }
}

static void put_metadata(writer *w, const struct gpt2_model *model, const plan *p, char *text,
                         size_t cap) {
  const g2_hparams *hp = &model->hp;
  /* the file type names the mix by its layer matrices */
  g2_dtype layer_type = choose_type(p->weight_type, &model->layers[0].attn_qkv, ROLE_LAYER);
  kv_string(w, "general.architecture", "gpt2");
  kv_string(w, "general.name", "gpt2");
  kv_u32(w, "general.file_type", file_type(layer_type));
  if (p->quantized) kv_u32(w, "general.quantization_version", G2_GGUF_QUANTIZATION_VERSION);
  kv_u32(w, "gpt2.context_length", (uint32_t)hp->n_ctx);
  kv_u32(w, "gpt2.embedding_length", (uint32_t)hp->n_embd);
  kv_u32(w, "gpt2.feed_forward_length", (uint32_t)hp->n_ff);
  kv_u32(w, "gpt2.block_count", (uint32_t)hp->n_layer);
  kv_u32(w, "gpt2.attention.head_count", (uint32_t)hp->n_head);
  kv_f32(w, "gpt2.attention.layer_norm_epsilon", hp->ln_eps);
  put_vocab(w, model->tokenizer, text, cap);
}

static uint64_t metadata_count(const struct gpt2_model *model, const plan *p) {
  /* 3 general (+ quantization version), 6 gpt2.*, 5 tokenizer (+ 2 ids) */
  return 14 + (p->quantized ? 1 : 0) + (g2_tokenizer_eot(model->tokenizer) >= 0 ? 2 : 0);
}

/* Working memory for the conversion of one row (or tile of rows). */
typedef struct scratch {
  float *values; /* [TILE][max_in] */
  float *column; /* [TILE] */
  unsigned char *row;
} scratch;

static void put_matrix(writer *w, const planned *t, scratch *s) {
  const g2_matrix *m = t->matrix;
  const unsigned char *data = m->data;
  size_t out_row = g2_dtype_row_bytes(t->dtype, m->n_in);
  if (m->layout == G2_LAYOUT_NK) {
    size_t in_row = g2_dtype_row_bytes(m->dtype, m->n_in);
    for (int64_t j = 0; j < m->n_out; j++) {
      const unsigned char *row = data + (size_t)j * in_row;
      if (m->dtype == t->dtype) { /* as held: the bytes themselves */
        put(w, row, in_row);
        continue;
      }
      g2_dequantize(m->dtype, row, 0, m->n_in, s->values);
      g2_quantize(t->dtype, s->values, m->n_in, s->row);
      put(w, s->row, out_row);
    }
    return;
  }
  /* [n_in][n_out] (Hugging Face Conv1D, float types only): transposed a
     tile of output rows at a time. */
  size_t in_row = g2_dtype_row_bytes(m->dtype, m->n_out);
  for (int64_t j0 = 0; j0 < m->n_out; j0 += TILE) {
    int64_t nj = m->n_out - j0 < TILE ? m->n_out - j0 : TILE;
    for (int64_t k = 0; k < m->n_in; k++) {
      g2_dequantize(m->dtype, data + (size_t)k * in_row, j0, nj, s->column);
      for (int64_t jj = 0; jj < nj; jj++) s->values[jj * m->n_in + k] = s->column[jj];
    }
    for (int64_t jj = 0; jj < nj; jj++) {
      g2_quantize(t->dtype, s->values + jj * m->n_in, m->n_in, s->row);
      put(w, s->row, out_row);
    }
  }
}

static void put_file(writer *w, const struct gpt2_model *model, const plan *p, scratch *s,
                     char *text, size_t cap) {
  put(w, "GGUF", 4);
  put_u32(w, G2_GGUF_VERSION);
  put_u64(w, p->n_tensors);
  put_u64(w, metadata_count(model, p));
  put_metadata(w, model, p, text, cap);
  for (size_t i = 0; i < p->n_tensors; i++) {
    const planned *t = &p->tensors[i];
    put_str(w, t->name, strlen(t->name));
    put_u32(w, t->ne1 ? 2 : 1);
    put_u64(w, (uint64_t)t->ne0);
    if (t->ne1) put_u64(w, (uint64_t)t->ne1);
    put_u32(w, g2_dtype_to_ggml(t->dtype));
    put_u64(w, t->offset);
  }
  put_padding(w);
  for (size_t i = 0; i < p->n_tensors && !w->error; i++) {
    const planned *t = &p->tensors[i];
    if (t->matrix)
      put_matrix(w, t, s);
    else
      put(w, t->vector, (size_t)t->ne0 * sizeof(float));
    put_padding(w);
  }
}

/* ---- entry point -------------------------------------------------------- */

/* A new file next to `path` (O_EXCL: never someone else's). */
static int create_temporary(const char *path, char *tmp, size_t cap, FILE **out) {
  for (int attempt = 0; attempt < 100; attempt++) {
    int n = snprintf(tmp, cap, "%s.%ld.%d.tmp", path, (long)getpid(), attempt);
    if (n < 0 || (size_t)n >= cap) return g2_fail(GPT2_E_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return g2_fail(GPT2_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    *out = fdopen(fd, "wb");
    if (*out) return GPT2_OK;
    int err = errno;
    close(fd);
    unlink(tmp);
    return g2_fail(GPT2_E_IO, "%s: cannot open: %s", tmp, strerror(err));
  }
  return g2_fail(GPT2_E_IO, "%s: cannot create a temporary file next to it", path);
}

static int save(const struct gpt2_model *model, const char *path, plan *p, scratch *s, char *text,
                size_t cap, char *buffer) {
  char tmp[4096];
  FILE *file;
  int status = create_temporary(path, tmp, sizeof tmp, &file);
  if (status) return status;
  setvbuf(file, buffer, _IOFBF, OUTPUT_BUFFER);
  writer w = {file, 0, 0};
  put_file(&w, model, p, s, text, cap);
  if (fclose(file) != 0 && !w.error) w.error = errno ? errno : EIO;
  if (!w.error && rename(tmp, path) != 0) w.error = errno;
  if (w.error) {
    unlink(tmp);
    return g2_fail(GPT2_E_IO, "%s: cannot write: %s", path, strerror(w.error));
  }
  return GPT2_OK;
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
  size_t max_in = (size_t)(hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd);
  size_t longest = 0, n_tokens = g2_tokenizer_n_tokens(model->tokenizer);
  for (size_t id = 0; id < n_tokens; id++) {
    size_t len;
    g2_token_bytes(model->tokenizer, (int32_t)id, &len);
    if (len > longest) longest = len;
  }
  size_t cap = 4 * longest + 1; /* two tokens of 2 bytes per byte, a space */
  plan p = {g2_malloc_array(4 + 12 * (size_t)hp->n_layer + 1, sizeof(planned)), 0, sp.weight_type, 0};
  scratch s = {g2_malloc_array(TILE * max_in, sizeof(float)), g2_malloc_array(TILE, sizeof(float)),
               g2_malloc(max_in * sizeof(float))};
  char *text = g2_malloc(cap), *buffer = g2_malloc(OUTPUT_BUFFER);
  if (p.tensors && s.values && s.column && s.row && text && buffer) {
    make_plan(model, &p);
    status = save(model, path, &p, &s, text, cap, buffer);
  } else {
    status = g2_fail(GPT2_E_NOMEM, "%s: out of memory", path);
  }
  g2_free(p.tensors);
  g2_free(s.values);
  g2_free(s.column);
  g2_free(s.row);
  g2_free(text);
  g2_free(buffer);
  return status;
}
