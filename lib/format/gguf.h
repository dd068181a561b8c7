/* GGUF, ggml's model file format (ggml docs/gguf.md): the constants shared
   by the reader and the writer, and the structural parser that every GGUF
   file goes through before anything in it is used.

   g2_gguf_parse checks the whole structure of a file up front: every
   length, count, type tag, dimension product, offset and the alignment,
   bounded by the file size and overflow-safe. Afterwards the accessors
   below can walk keys, values and tensors without further bounds checks;
   they only check that a value has the type the caller needs. */
#ifndef G2_GGUF_H
#define G2_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"
#include "core/str.h"

#define G2_GGUF_VERSION 3 /* written; 2 and 3 are read */
#define G2_GGUF_DEFAULT_ALIGNMENT 32
#define G2_GGUF_MAX_ALIGNMENT (1u << 20)
#define G2_GGUF_MAX_DIMS 4
#define G2_GGUF_MAX_KEY 65535
#define G2_GGUF_MAX_TENSOR_NAME 64
#define G2_GGUF_MAX_ARRAY_DEPTH 4         /* nested arrays (the spec allows them) */
#define G2_GGUF_QUANTIZATION_VERSION 2u   /* ggml's GGML_QNT_VERSION */

/* Metadata value types. */
enum {
  G2_GGUF_UINT8 = 0,
  G2_GGUF_INT8 = 1,
  G2_GGUF_UINT16 = 2,
  G2_GGUF_INT16 = 3,
  G2_GGUF_UINT32 = 4,
  G2_GGUF_INT32 = 5,
  G2_GGUF_FLOAT32 = 6,
  G2_GGUF_BOOL = 7,
  G2_GGUF_STRING = 8,
  G2_GGUF_ARRAY = 9,
  G2_GGUF_UINT64 = 10,
  G2_GGUF_INT64 = 11,
  G2_GGUF_FLOAT64 = 12,
  G2_GGUF_VALUE_TYPE_COUNT
};

/* The ggml tensor types libgpt2 names in code (ggml's enum ggml_type). The
   parser knows the block sizes of every type of the spec, so that it can
   check the layout of files whose types we do not run. */
enum {
  G2_GGML_F32 = 0,
  G2_GGML_F16 = 1,
  G2_GGML_Q4_0 = 2,
  G2_GGML_Q4_1 = 3,
  G2_GGML_Q5_0 = 6,
  G2_GGML_Q5_1 = 7,
  G2_GGML_Q8_0 = 8,
  G2_GGML_Q2_K = 10,
  G2_GGML_Q3_K = 11,
  G2_GGML_Q4_K = 12,
  G2_GGML_Q5_K = 13,
  G2_GGML_Q6_K = 14,
  G2_GGML_IQ4_NL = 20,
  G2_GGML_IQ4_XS = 23,
  G2_GGML_BF16 = 30
};

/* llama.cpp's general.file_type (enum llama_ftype). */
enum {
  G2_FTYPE_ALL_F32 = 0,
  G2_FTYPE_MOSTLY_F16 = 1,
  G2_FTYPE_MOSTLY_Q4_0 = 2,
  G2_FTYPE_MOSTLY_Q4_1 = 3,
  G2_FTYPE_MOSTLY_Q8_0 = 7,
  G2_FTYPE_MOSTLY_Q5_0 = 8,
  G2_FTYPE_MOSTLY_Q5_1 = 9,
  G2_FTYPE_MOSTLY_Q2_K = 10,
  G2_FTYPE_MOSTLY_Q3_K_S = 11,
  G2_FTYPE_MOSTLY_Q3_K_M = 12,
  G2_FTYPE_MOSTLY_Q3_K_L = 13,
  G2_FTYPE_MOSTLY_Q4_K_S = 14,
  G2_FTYPE_MOSTLY_Q4_K_M = 15,
  G2_FTYPE_MOSTLY_Q5_K_S = 16,
  G2_FTYPE_MOSTLY_Q5_K_M = 17,
  G2_FTYPE_MOSTLY_Q6_K = 18,
  G2_FTYPE_MOSTLY_IQ4_NL = 25,
  G2_FTYPE_MOSTLY_IQ4_XS = 30,
  G2_FTYPE_MOSTLY_BF16 = 32
};

/* tokenizer.ggml.token_type values. */
enum { G2_GGUF_TOKEN_NORMAL = 1, G2_GGUF_TOKEN_CONTROL = 3 };

typedef struct g2_gguf_kv {
  g2_str key;         /* into the file */
  uint32_t type;      /* G2_GGUF_* */
  uint32_t elem_type; /* arrays: the element type */
  uint64_t count;     /* arrays: the number of elements */
  size_t value;       /* file offset of the value (arrays: of the first element) */
} g2_gguf_kv;

typedef struct g2_gguf_tensor {
  g2_str name;                   /* into the file */
  uint32_t n_dims;               /* 1..G2_GGUF_MAX_DIMS */
  int64_t ne[G2_GGUF_MAX_DIMS];  /* ggml order: ne[0] is contiguous; unused dims are 1 */
  uint32_t type;                 /* ggml type */
  uint64_t offset;               /* from the start of the file */
  uint64_t n_bytes;
} g2_gguf_tensor;

typedef struct g2_gguf {
  const unsigned char *data;
  size_t size;
  const char *source; /* named in messages */
  uint32_t version;
  uint64_t alignment;
  uint64_t data_offset; /* start of the tensor data section */
  size_t n_kv;
  g2_gguf_kv *kv;            /* sorted by key */
  size_t n_tensors;
  g2_gguf_tensor *tensors;   /* sorted by name */
} g2_gguf;

/* Parses and checks the structure of the GGUF file data[0..size). On
   success *out holds two arrays (free with g2_gguf_free) pointing into
   `data`, which must outlive it. GPT2_E_FORMAT for a malformed file,
   GPT2_E_UNSUPPORTED for a valid one we do not read (big-endian, version
   1, a tensor type unknown to libgpt2), GPT2_E_NOMEM; messages name
   `source`, the key or tensor, and the offset. */
int g2_gguf_parse(const unsigned char *data, size_t size, const char *source,
                  g2_gguf *out);
void g2_gguf_free(g2_gguf *gguf);

/* Lookups by exact name, NULL when absent. */
const g2_gguf_kv *g2_gguf_find(const g2_gguf *gguf, const char *key);
const g2_gguf_tensor *g2_gguf_find_tensor(const g2_gguf *gguf, const char *name);

/* Typed value access. Each returns GPT2_E_FORMAT naming the key when the
   value has another type or is out of range. */
/* Any integer type (the spec allows uint32 or uint64 for counts), value
   in [0, max]. */
int g2_gguf_uint(const g2_gguf *gguf, const g2_gguf_kv *kv, uint64_t max,
                 uint64_t *out);
/* float32 or float64. */
int g2_gguf_float(const g2_gguf *gguf, const g2_gguf_kv *kv, double *out);
int g2_gguf_string(const g2_gguf *gguf, const g2_gguf_kv *kv, g2_str *out);
/* An array whose elements are `elem_type`. */
int g2_gguf_check_array(const g2_gguf *gguf, const g2_gguf_kv *kv,
                        uint32_t elem_type);
/* An array of strings, as a new g2_malloc'd array of kv->count strings
   pointing into the file (count bounded by the file size). */
int g2_gguf_strings(const g2_gguf *gguf, const g2_gguf_kv *kv, g2_str **out);

/* The name of a ggml type ("Q4_0"), or NULL for one unknown to libgpt2. */
const char *g2_ggml_type_name(uint32_t type);
/* The g2_dtype the kernels run for a ggml type; -1 when none. */
int g2_ggml_to_dtype(uint32_t type);
uint32_t g2_dtype_to_ggml(g2_dtype dtype);

/* s as printable text for a message: at most 64 bytes, other bytes as '?'.
   Returns buf (of at least 72 bytes). */
const char *g2_gguf_printable(g2_str s, char *buf);

#endif
