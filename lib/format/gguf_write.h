/* Writing a GPT-2 GGUF v3 file in llama.cpp's layout from a description
   that knows no model: the hyper-parameters, the vocabulary and the tensor
   list, with the bytes of each tensor produced by the caller. */
#ifndef G2_GGUF_WRITE_H
#define G2_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "format/schema.h"
#include "tensor/convert.h"
#include "tensor/matrix.h"

/* Rows asked of the caller at once. */
#define G2_GGUF_WRITE_ROWS G2_CONVERT_ROWS

typedef struct g2_gguf_out_tensor {
  char name[G2_GGUF_MAX_TENSOR_NAME + 1];
  int64_t ne0, ne1; /* ggml order; ne1 = 0 for a vector (always F32) */
  g2_dtype dtype;   /* as written */
} g2_gguf_out_tensor;

typedef struct g2_gguf_out {
  g2_hparams hp;    /* the gpt2.* keys */
  uint32_t file_type; /* general.file_type: a G2_FTYPE_* naming the mix */
  size_t n_tokens, n_merges;
  int32_t eot;      /* <|endoftext|>, a control token; -1: none */
  size_t text_cap;  /* bytes the longest token or merge text needs */
  /* Token `id` in its stored (byte-mapped) form, and merge `rank` as
     "A B", into buf; each returns the length. */
  size_t (*token_text)(void *user, size_t id, char *buf, size_t cap);
  size_t (*merge_text)(void *user, size_t rank, char *buf, size_t cap);
  const g2_gguf_out_tensor *tensors; /* in file order */
  size_t n_tensors;
  /* Rows [first, first + count) of tensor `index` (count at most
     G2_GGUF_WRITE_ROWS; a vector is one row) as written into `out`. */
  void (*tensor_rows)(void *user, size_t index, int64_t first, int64_t count, unsigned char *out);
  void *user;
} g2_gguf_out;

/* Writes the file through a temporary next to `path`, renamed into place
   once complete. GPT2_E_IO or GPT2_E_NOMEM naming the path. */
int g2_gguf_write(const char *path, const g2_gguf_out *desc);

#endif
