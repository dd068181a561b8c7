/* Writing a GGUF v3 file in llama.cpp's GPT-2 layout (docs/gguf.md):
   the keys of llama.cpp's converter, the vocabulary and merges embedded,
   tensors in the caller's order at 32-byte alignment (ggml's reader wants
   each offset to follow the previous tensor). What is written comes from
   a description (format/gguf_write.h); the model's side is model/save.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "format/gguf_write.h"
#include "gpt2.h"

#define ALIGNMENT G2_GGUF_DEFAULT_ALIGNMENT
#define OUTPUT_BUFFER (1u << 20)

static uint64_t tensor_rows(const g2_gguf_out_tensor *t) { return t->ne1 ? (uint64_t)t->ne1 : 1; }

static size_t row_bytes(const g2_gguf_out_tensor *t) { return g2_dtype_row_bytes(t->dtype, t->ne0); }

static int quantized(const g2_gguf_out *desc) {
  for (size_t i = 0; i < desc->n_tensors; i++)
    if (g2_dtype_block_size(desc->tensors[i].dtype) > 1) return 1;
  return 0;
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
   as "A B". */
static void put_vocab(writer *w, const g2_gguf_out *desc, char *text) {
  kv_string(w, "tokenizer.ggml.model", "gpt2");
  kv_string(w, "tokenizer.ggml.pre", "gpt-2");
  array_header(w, "tokenizer.ggml.tokens", G2_GGUF_STRING, desc->n_tokens);
  for (size_t id = 0; id < desc->n_tokens; id++)
    put_str(w, text, desc->token_text(desc->user, id, text, desc->text_cap));
  array_header(w, "tokenizer.ggml.token_type", G2_GGUF_INT32, desc->n_tokens);
  for (size_t id = 0; id < desc->n_tokens; id++)
    put_u32(w, (int32_t)id == desc->eot ? G2_GGUF_TOKEN_CONTROL : G2_GGUF_TOKEN_NORMAL);
  array_header(w, "tokenizer.ggml.merges", G2_GGUF_STRING, desc->n_merges);
  for (size_t r = 0; r < desc->n_merges; r++)
    put_str(w, text, desc->merge_text(desc->user, r, text, desc->text_cap));
  if (desc->eot >= 0) {
    kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)desc->eot);
    kv_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)desc->eot);
  }
}

static void put_metadata(writer *w, const g2_gguf_out *desc, char *text) {
  const g2_hparams *hp = &desc->hp;
  kv_string(w, "general.architecture", "gpt2");
  kv_string(w, "general.name", "gpt2");
  kv_u32(w, "general.file_type", desc->file_type);
  if (quantized(desc)) kv_u32(w, "general.quantization_version", G2_GGUF_QUANTIZATION_VERSION);
  kv_u32(w, "gpt2.context_length", (uint32_t)hp->n_ctx);
  kv_u32(w, "gpt2.embedding_length", (uint32_t)hp->n_embd);
  kv_u32(w, "gpt2.feed_forward_length", (uint32_t)hp->n_ff);
  kv_u32(w, "gpt2.block_count", (uint32_t)hp->n_layer);
  kv_u32(w, "gpt2.attention.head_count", (uint32_t)hp->n_head);
  kv_f32(w, "gpt2.attention.layer_norm_epsilon", hp->ln_eps);
  put_vocab(w, desc, text);
}

static uint64_t metadata_count(const g2_gguf_out *desc) {
  /* 3 general (+ quantization version), 6 gpt2.*, 5 tokenizer (+ 2 ids) */
  return 14 + (quantized(desc) ? 1 : 0) + (desc->eot >= 0 ? 2 : 0);
}

static void put_file(writer *w, const g2_gguf_out *desc, char *text, unsigned char *rows) {
  put(w, "GGUF", 4);
  put_u32(w, G2_GGUF_VERSION);
  put_u64(w, desc->n_tensors);
  put_u64(w, metadata_count(desc));
  put_metadata(w, desc, text);
  uint64_t offset = 0;
  for (size_t i = 0; i < desc->n_tensors; i++) {
    const g2_gguf_out_tensor *t = &desc->tensors[i];
    put_str(w, t->name, strlen(t->name));
    put_u32(w, t->ne1 ? 2 : 1);
    put_u64(w, (uint64_t)t->ne0);
    if (t->ne1) put_u64(w, (uint64_t)t->ne1);
    put_u32(w, g2_dtype_to_ggml(t->dtype));
    put_u64(w, offset);
    offset += (row_bytes(t) * tensor_rows(t) + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }
  put_padding(w);
  for (size_t i = 0; i < desc->n_tensors && !w->error; i++) {
    const g2_gguf_out_tensor *t = &desc->tensors[i];
    int64_t n_rows = (int64_t)tensor_rows(t);
    for (int64_t first = 0; first < n_rows && !w->error; first += G2_GGUF_WRITE_ROWS) {
      int64_t count = n_rows - first < G2_GGUF_WRITE_ROWS ? n_rows - first : G2_GGUF_WRITE_ROWS;
      desc->tensor_rows(desc->user, i, first, count, rows);
      put(w, rows, (size_t)count * row_bytes(t));
    }
    put_padding(w);
  }
}

/* ---- entry point -------------------------------------------------------- */

static int write_file(const char *path, const g2_gguf_out *desc, char *text, unsigned char *rows,
                      char *buffer) {
  char tmp[4096];
  FILE *file;
  int status = g2_create_temporary(path, tmp, sizeof tmp, &file);
  if (status) return status;
  setvbuf(file, buffer, _IOFBF, OUTPUT_BUFFER);
  writer w = {file, 0, 0};
  put_file(&w, desc, text, rows);
  if (fclose(file) != 0 && !w.error) w.error = errno ? errno : EIO;
  if (!w.error) w.error = g2_replace_file(tmp, path);
  if (w.error) {
    g2_remove_file(tmp);
    return g2_fail(GPT2_E_IO, "%s: cannot write: %s", path, strerror(w.error));
  }
  return GPT2_OK;
}

int g2_gguf_write(const char *path, const g2_gguf_out *desc) {
  size_t longest_row = 0;
  for (size_t i = 0; i < desc->n_tensors; i++)
    if (row_bytes(&desc->tensors[i]) > longest_row) longest_row = row_bytes(&desc->tensors[i]);
  char *text = g2_malloc(desc->text_cap), *buffer = g2_malloc(OUTPUT_BUFFER);
  unsigned char *rows = g2_malloc_array(G2_GGUF_WRITE_ROWS, longest_row ? longest_row : 1);
  int status = text && buffer && rows ? write_file(path, desc, text, rows, buffer)
                                      : g2_fail(GPT2_E_NOMEM, "%s: out of memory", path);
  g2_free(text);
  g2_free(buffer);
  g2_free(rows);
  return status;
}
