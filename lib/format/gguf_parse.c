/* The GGUF structure: header, metadata, tensor infos and data layout, all
   checked before use. Every file is hostile: counts and lengths are bounded
   by the bytes left in the file before anything is allocated or walked, and
   all offset arithmetic is done in 64 bits with overflow checks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/gguf.h"
#include "gpt2.h"

/* ---- ggml types ------------------------------------------------------- */

typedef struct ggml_type_info {
  const char *name;
  uint32_t block;       /* elements per block */
  uint32_t block_bytes; /* bytes per block */
} ggml_type_info;

/* Every type of the spec's enum ggml_type (ids of removed types stay
   empty). The types libgpt2 runs have no sizes here: theirs are read from
   the one table of tensor/matrix.c (type_info). */
#define RUN(name) {name, 0, 0}
static const ggml_type_info ggml_types[] = {
    [0] = RUN("F32"),            [1] = RUN("F16"),           [2] = RUN("Q4_0"),
    [3] = RUN("Q4_1"),           [6] = RUN("Q5_0"),          [7] = RUN("Q5_1"),
    [8] = RUN("Q8_0"),           [9] = {"Q8_1", 32, 36},     [10] = RUN("Q2_K"),
    [11] = RUN("Q3_K"),          [12] = RUN("Q4_K"),         [13] = RUN("Q5_K"),
    [14] = RUN("Q6_K"),          [15] = {"Q8_K", 256, 292},  [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},  [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = RUN("IQ4_NL"),        [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = RUN("IQ4_XS"),        [24] = {"I8", 1, 1},        [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},        [27] = {"I64", 1, 8},       [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},   [30] = RUN("BF16"),         [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},   [39] = {"MXFP4", 32, 17},
};
#undef RUN
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

static const ggml_type_info *ggml_type(uint32_t type) {
  return type < N_GGML_TYPES && ggml_types[type].name ? &ggml_types[type] : NULL;
}

/* The name and block sizes of a known type, in *out; 0 if unknown. */
static int type_info(uint32_t type, ggml_type_info *out) {
  const ggml_type_info *info = ggml_type(type);
  if (!info) return 0;
  *out = *info;
  int dtype = g2_ggml_to_dtype(type);
  if (dtype >= 0) {
    int64_t block = g2_dtype_block_size((g2_dtype)dtype);
    out->block = (uint32_t)block;
    out->block_bytes = (uint32_t)g2_dtype_row_bytes((g2_dtype)dtype, block);
  }
  return 1;
}

const char *g2_ggml_type_name(uint32_t type) {
  const ggml_type_info *info = ggml_type(type);
  return info ? info->name : NULL;
}

int g2_ggml_to_dtype(uint32_t type) {
  switch (type) {
    case G2_GGML_F32: return G2_DT_F32;
    case G2_GGML_F16: return G2_DT_F16;
    case G2_GGML_BF16: return G2_DT_BF16;
    case G2_GGML_Q8_0: return G2_DT_Q8_0;
    case G2_GGML_Q4_0: return G2_DT_Q4_0;
    case G2_GGML_Q6_K: return G2_DT_Q6_K;
    case G2_GGML_Q4_K: return G2_DT_Q4_K;
    case G2_GGML_Q5_K: return G2_DT_Q5_K;
    case G2_GGML_Q4_1: return G2_DT_Q4_1;
    case G2_GGML_Q5_0: return G2_DT_Q5_0;
    case G2_GGML_Q5_1: return G2_DT_Q5_1;
    case G2_GGML_Q2_K: return G2_DT_Q2_K;
    case G2_GGML_Q3_K: return G2_DT_Q3_K;
    case G2_GGML_IQ4_NL: return G2_DT_IQ4_NL;
    case G2_GGML_IQ4_XS: return G2_DT_IQ4_XS;
    default: return -1;
  }
}

uint32_t g2_dtype_to_ggml(g2_dtype dtype) {
  static const uint32_t ggml[G2_DT_COUNT] = {
      [G2_DT_F32] = G2_GGML_F32,   [G2_DT_F16] = G2_GGML_F16,   [G2_DT_BF16] = G2_GGML_BF16,
      [G2_DT_Q8_0] = G2_GGML_Q8_0, [G2_DT_Q4_0] = G2_GGML_Q4_0, [G2_DT_Q6_K] = G2_GGML_Q6_K,
      [G2_DT_Q4_K] = G2_GGML_Q4_K, [G2_DT_Q5_K] = G2_GGML_Q5_K, [G2_DT_Q4_1] = G2_GGML_Q4_1,
      [G2_DT_Q5_0] = G2_GGML_Q5_0, [G2_DT_Q5_1] = G2_GGML_Q5_1, [G2_DT_Q2_K] = G2_GGML_Q2_K,
      [G2_DT_Q3_K] = G2_GGML_Q3_K, [G2_DT_IQ4_NL] = G2_GGML_IQ4_NL, [G2_DT_IQ4_XS] = G2_GGML_IQ4_XS,
  };
  return ggml[dtype];
}

const char *g2_gguf_printable(g2_str s, char *buf) {
  size_t n = s.len < 64 ? s.len : 64;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (s.len > n) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
  return buf;
}

/* ---- reading ---------------------------------------------------------- */

static uint16_t load_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t load_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const unsigned char *p) {
  return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}

/* A position in the file being parsed; `what` names the item being read
   (key or tensor) for messages. */
typedef struct cursor {
  const unsigned char *data;
  size_t size, pos;
  const char *source;
  const char *what;
} cursor;

static size_t left(const cursor *c) { return c->size - c->pos; }

static int truncated(const cursor *c, const char *field, uint64_t need) {
  return g2_fail(GPT2_E_FORMAT, "%s: %s: %s at offset %zu needs %" PRIu64 " bytes, %zu left (truncated file?)",
                 c->source, c->what, field, c->pos, need, left(c));
}

static int read_u32(cursor *c, const char *field, uint32_t *out) {
  if (left(c) < 4) return truncated(c, field, 4);
  *out = load_u32(c->data + c->pos);
  c->pos += 4;
  return GPT2_OK;
}

static int read_u64(cursor *c, const char *field, uint64_t *out) {
  if (left(c) < 8) return truncated(c, field, 8);
  *out = load_u64(c->data + c->pos);
  c->pos += 8;
  return GPT2_OK;
}

static int skip(cursor *c, const char *field, uint64_t n) {
  if (n > left(c)) return truncated(c, field, n);
  c->pos += (size_t)n;
  return GPT2_OK;
}

/* A string: u64 length, then the bytes (no NUL). */
static int read_str(cursor *c, const char *field, g2_str *out) {
  uint64_t len = 0;
  int status = read_u64(c, field, &len);
  if (status) return status;
  if (len > left(c))
    return g2_fail(GPT2_E_FORMAT, "%s: %s: %s declares %" PRIu64 " bytes at offset %zu, only %zu left",
                   c->source, c->what, field, len, c->pos - 8, left(c));
  out->ptr = (const char *)c->data + c->pos;
  out->len = (size_t)len;
  c->pos += (size_t)len;
  return GPT2_OK;
}

static const uint8_t scalar_size[G2_GGUF_VALUE_TYPE_COUNT] = {
    [G2_GGUF_UINT8] = 1,  [G2_GGUF_INT8] = 1,    [G2_GGUF_UINT16] = 2, [G2_GGUF_INT16] = 2,
    [G2_GGUF_UINT32] = 4, [G2_GGUF_INT32] = 4,   [G2_GGUF_FLOAT32] = 4, [G2_GGUF_BOOL] = 1,
    [G2_GGUF_UINT64] = 8, [G2_GGUF_INT64] = 8,   [G2_GGUF_FLOAT64] = 8,
};

static const char *value_type_name(uint32_t type) {
  static const char *const names[G2_GGUF_VALUE_TYPE_COUNT] = {
      "uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
      "bool",  "string", "array",  "uint64", "int64", "float64"};
  return type < G2_GGUF_VALUE_TYPE_COUNT ? names[type] : "invalid";
}

static int check_value_type(cursor *c, uint32_t type, size_t at) {
  if (type >= G2_GGUF_VALUE_TYPE_COUNT)
    return g2_fail(GPT2_E_FORMAT, "%s: %s: invalid value type %" PRIu32 " at offset %zu",
                   c->source, c->what, type, at);
  return GPT2_OK;
}

/* Walks over one value of `type`, checking it. */
static int skip_value(cursor *c, uint32_t type, int depth) {
  if (type == G2_GGUF_STRING) {
    g2_str s;
    return read_str(c, "string value", &s);
  }
  if (type == G2_GGUF_BOOL) {
    if (left(c) < 1) return truncated(c, "bool value", 1);
    if (c->data[c->pos] > 1)
      return g2_fail(GPT2_E_FORMAT, "%s: %s: bool at offset %zu is %u (must be 0 or 1)", c->source,
                     c->what, c->pos, c->data[c->pos]);
    c->pos++;
    return GPT2_OK;
  }
  if (type != G2_GGUF_ARRAY) return skip(c, "value", scalar_size[type]);

  if (depth >= G2_GGUF_MAX_ARRAY_DEPTH)
    return g2_fail(GPT2_E_FORMAT, "%s: %s: arrays nested deeper than %d at offset %zu", c->source,
                   c->what, G2_GGUF_MAX_ARRAY_DEPTH, c->pos);
  uint32_t elem_type = 0;
  uint64_t count;
  size_t at = c->pos;
  int status;
  if ((status = read_u32(c, "array element type", &elem_type)) ||
      (status = check_value_type(c, elem_type, at)) ||
      (status = read_u64(c, "array length", &count)))
    return status;
  /* Smallest encoding of one element: a length (8 bytes) for strings, a
     type and a length (12) for arrays, the scalar size otherwise. */
  uint64_t min_elem = elem_type == G2_GGUF_STRING ? 8 : elem_type == G2_GGUF_ARRAY ? 12 : scalar_size[elem_type];
  if (count > left(c) / min_elem)
    return g2_fail(GPT2_E_FORMAT, "%s: %s: array of %" PRIu64 " %s at offset %zu cannot fit in the %zu bytes left",
                   c->source, c->what, count, value_type_name(elem_type), at, left(c));
  if (elem_type != G2_GGUF_STRING && elem_type != G2_GGUF_ARRAY && elem_type != G2_GGUF_BOOL)
    return skip(c, "array", count * min_elem);
  for (uint64_t i = 0; i < count; i++)
    if ((status = skip_value(c, elem_type, depth + 1))) return status;
  return GPT2_OK;
}

/* ---- metadata --------------------------------------------------------- */

static int check_key(const cursor *c, g2_str key, size_t at) {
  if (key.len == 0 || key.len > G2_GGUF_MAX_KEY)
    return g2_fail(GPT2_E_FORMAT, "%s: key at offset %zu has length %zu (must be 1..%d)", c->source,
                   at, key.len, G2_GGUF_MAX_KEY);
  for (size_t i = 0; i < key.len; i++) {
    unsigned char ch = (unsigned char)key.ptr[i];
    if (ch <= 0x20 || ch >= 0x7f)
      return g2_fail(GPT2_E_FORMAT, "%s: key at offset %zu is not printable ASCII (byte %zu is 0x%02x)",
                     c->source, at, i, ch);
  }
  return GPT2_OK;
}

static int parse_kv(cursor *c, g2_gguf_kv *kv) {
  size_t at = c->pos;
  int status;
  c->what = "metadata";
  if ((status = read_str(c, "key", &kv->key)) || (status = check_key(c, kv->key, at))) return status;
  char name[80];
  c->what = g2_gguf_printable(kv->key, name);
  size_t type_at = c->pos;
  if ((status = read_u32(c, "value type", &kv->type)) ||
      (status = check_value_type(c, kv->type, type_at)))
    return status;
  /* skip_value checks the array header; here it is only recorded. */
  kv->elem_type = 0;
  kv->count = 0;
  if (kv->type == G2_GGUF_ARRAY && left(c) >= 12) {
    kv->elem_type = load_u32(c->data + c->pos);
    kv->count = load_u64(c->data + c->pos + 4);
  }
  kv->value = c->pos + (kv->type == G2_GGUF_ARRAY ? 12 : 0);
  status = skip_value(c, kv->type, 0);
  c->what = "metadata";
  return status;
}

static int compare_str(g2_str a, g2_str b) {
  size_t n = a.len < b.len ? a.len : b.len;
  int diff = memcmp(a.ptr, b.ptr, n);
  if (diff) return diff;
  return a.len < b.len ? -1 : a.len > b.len;
}

static int compare_kv(const void *a, const void *b) {
  return compare_str(((const g2_gguf_kv *)a)->key, ((const g2_gguf_kv *)b)->key);
}

static int compare_tensor_name(const void *a, const void *b) {
  return compare_str(((const g2_gguf_tensor *)a)->name, ((const g2_gguf_tensor *)b)->name);
}

const g2_gguf_kv *g2_gguf_find(const g2_gguf *gguf, const char *key) {
  g2_gguf_kv probe = {.key = {key, strlen(key)}};
  return bsearch(&probe, gguf->kv, gguf->n_kv, sizeof *gguf->kv, compare_kv);
}

const g2_gguf_tensor *g2_gguf_find_tensor(const g2_gguf *gguf, const char *name) {
  g2_gguf_tensor probe = {.name = {name, strlen(name)}};
  return bsearch(&probe, gguf->tensors, gguf->n_tensors, sizeof *gguf->tensors, compare_tensor_name);
}

static int read_alignment(g2_gguf *gguf) {
  gguf->alignment = G2_GGUF_DEFAULT_ALIGNMENT;
  const g2_gguf_kv *kv = g2_gguf_find(gguf, "general.alignment");
  if (!kv) return GPT2_OK;
  uint64_t alignment;
  int status = g2_gguf_uint(gguf, kv, UINT64_MAX, &alignment);
  if (status) return status;
  if (alignment < 8 || alignment > G2_GGUF_MAX_ALIGNMENT || (alignment & (alignment - 1)) != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: general.alignment is %" PRIu64 "; must be a power of two from 8 to %u",
                   gguf->source, alignment, G2_GGUF_MAX_ALIGNMENT);
  gguf->alignment = alignment;
  return GPT2_OK;
}

/* ---- tensor infos ----------------------------------------------------- */

static int check_tensor_name(const cursor *c, g2_str name, size_t at) {
  if (name.len == 0 || name.len > G2_GGUF_MAX_TENSOR_NAME)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor name at offset %zu has length %zu (must be 1..%d)",
                   c->source, at, name.len, G2_GGUF_MAX_TENSOR_NAME);
  for (size_t i = 0; i < name.len; i++) {
    unsigned char ch = (unsigned char)name.ptr[i];
    if (ch < 0x20 || ch >= 0x7f)
      return g2_fail(GPT2_E_FORMAT, "%s: tensor name at offset %zu is not printable ASCII", c->source, at);
  }
  return GPT2_OK;
}

static int parse_tensor_info(cursor *c, g2_gguf_tensor *t) {
  size_t at = c->pos;
  int status;
  c->what = "tensor info";
  if ((status = read_str(c, "name", &t->name)) || (status = check_tensor_name(c, t->name, at)))
    return status;
  char name[80];
  c->what = g2_gguf_printable(t->name, name);
  if ((status = read_u32(c, "n_dims", &t->n_dims))) return status;
  if (t->n_dims < 1 || t->n_dims > G2_GGUF_MAX_DIMS)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: %" PRIu32 " dimensions (must be 1..%d)", c->source,
                   name, t->n_dims, G2_GGUF_MAX_DIMS);
  uint64_t elements = 1;
  for (int i = 0; i < G2_GGUF_MAX_DIMS; i++) t->ne[i] = 1;
  for (uint32_t i = 0; i < t->n_dims; i++) {
    uint64_t dim;
    if ((status = read_u64(c, "dimension", &dim))) return status;
    if (dim > (uint64_t)INT64_MAX || (dim != 0 && elements > (uint64_t)INT64_MAX / dim))
      return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: dimension %" PRIu32 " is %" PRIu64 "; the element count overflows",
                     c->source, name, i, dim);
    t->ne[i] = (int64_t)dim;
    elements *= dim;
  }
  if ((status = read_u32(c, "type", &t->type)) || (status = read_u64(c, "offset", &t->offset)))
    return status;
  ggml_type_info type;
  const ggml_type_info *info = &type;
  if (!type_info(t->type, &type))
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: tensor %s: type %" PRIu32 " is unknown to libgpt2",
                   c->source, name, t->type);
  if ((uint64_t)t->ne[0] % info->block != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: rows of %" PRId64 " elements do not fill %s blocks of %" PRIu32,
                   c->source, name, t->ne[0], info->name, info->block);
  /* elements / block * block_bytes: the quotient is < 2^63, so check the product. */
  uint64_t blocks = elements / info->block;
  if (blocks > (uint64_t)c->size / info->block_bytes)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: %" PRIu64 " %s blocks need more bytes than the file has (%zu)",
                   c->source, name, blocks, info->name, c->size);
  t->n_bytes = blocks * info->block_bytes;
  c->what = "tensor info";
  return GPT2_OK;
}

typedef struct extent {
  uint64_t begin, end;
  const g2_gguf_tensor *tensor;
} extent;

static int compare_extent(const void *a, const void *b) {
  uint64_t x = ((const extent *)a)->begin, y = ((const extent *)b)->begin;
  return x < y ? -1 : x > y;
}

/* Offsets aligned, data inside the file, no two tensors sharing bytes. */
static int check_tensor_data(g2_gguf *gguf) {
  uint64_t data_size = gguf->size - gguf->data_offset;
  extent *extents = g2_malloc_array(gguf->n_tensors, sizeof *extents);
  if (!extents && gguf->n_tensors) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", gguf->source);
  size_t n_extents = 0;
  char name[80];
  for (size_t i = 0; i < gguf->n_tensors; i++) {
    g2_gguf_tensor *t = &gguf->tensors[i];
    uint64_t relative = t->offset;
    if (relative % gguf->alignment != 0 || relative > data_size || t->n_bytes > data_size - relative) {
      g2_free(extents);
      if (relative % gguf->alignment != 0)
        return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                       gguf->source, g2_gguf_printable(t->name, name), relative, gguf->alignment);
      return g2_fail(GPT2_E_FORMAT, "%s: tensor %s: data [%" PRIu64 ", +%" PRIu64 ") lies outside the %" PRIu64 "-byte data section",
                     gguf->source, g2_gguf_printable(t->name, name), relative, t->n_bytes, data_size);
    }
    t->offset = gguf->data_offset + relative;
    if (t->n_bytes) extents[n_extents++] = (extent){t->offset, t->offset + t->n_bytes, t};
  }
  if (n_extents) qsort(extents, n_extents, sizeof *extents, compare_extent);
  for (size_t i = 1; i < n_extents; i++) {
    if (extents[i].begin < extents[i - 1].end) {
      char other[80];
      g2_gguf_printable(extents[i - 1].tensor->name, other);
      g2_gguf_printable(extents[i].tensor->name, name);
      g2_free(extents);
      return g2_fail(GPT2_E_FORMAT, "%s: tensors %s and %s overlap in the data section", gguf->source,
                     other, name);
    }
  }
  g2_free(extents);
  return GPT2_OK;
}

/* ---- the file --------------------------------------------------------- */

static uint32_t swap_u32(uint32_t v) {
  return v >> 24 | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | v << 24;
}

static int parse_header(cursor *c, uint32_t *version) {
  c->what = "header";
  if (c->size < 4 || memcmp(c->data, "GGUF", 4) != 0) {
    if (c->size >= 4 && memcmp(c->data, "FUGG", 4) == 0)
      return g2_fail(GPT2_E_UNSUPPORTED, "%s: big-endian GGUF file; only little-endian files are supported",
                     c->source);
    return g2_fail(GPT2_E_FORMAT, "%s: not a GGUF file (no \"GGUF\" magic) and not a model directory",
                   c->source);
  }
  c->pos = 4;
  int status = read_u32(c, "version", version);
  if (status) return status;
  if (*version == 2 || *version == 3) return GPT2_OK;
  uint32_t swapped = swap_u32(*version);
  if (swapped >= 1 && swapped <= 3)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: big-endian GGUF v%" PRIu32 " file (byte-swapped header); only little-endian files are supported",
                   c->source, swapped);
  if (*version == 1)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s: GGUF version 1 (32-bit counts) is not supported; convert the model again with a current llama.cpp",
                   c->source);
  return g2_fail(GPT2_E_UNSUPPORTED, "%s: GGUF version %" PRIu32 " is not supported (only 2 and 3)",
                 c->source, *version);
}

/* Sorted by name, so that duplicates are neighbours and lookups bsearch. */
static int sort_and_check_duplicates(g2_gguf *gguf) {
  char name[80];
  if (gguf->n_kv) qsort(gguf->kv, gguf->n_kv, sizeof *gguf->kv, compare_kv);
  for (size_t i = 1; i < gguf->n_kv; i++)
    if (compare_kv(&gguf->kv[i - 1], &gguf->kv[i]) == 0)
      return g2_fail(GPT2_E_FORMAT, "%s: duplicate key %s", gguf->source,
                     g2_gguf_printable(gguf->kv[i].key, name));
  if (gguf->n_tensors)
    qsort(gguf->tensors, gguf->n_tensors, sizeof *gguf->tensors, compare_tensor_name);
  for (size_t i = 1; i < gguf->n_tensors; i++)
    if (compare_tensor_name(&gguf->tensors[i - 1], &gguf->tensors[i]) == 0)
      return g2_fail(GPT2_E_FORMAT, "%s: duplicate tensor %s", gguf->source,
                     g2_gguf_printable(gguf->tensors[i].name, name));
  return GPT2_OK;
}

static int parse(cursor *c, g2_gguf *gguf) {
  int status;
  uint64_t n_tensors, n_kv;
  if ((status = parse_header(c, &gguf->version)) ||
      (status = read_u64(c, "tensor count", &n_tensors)) ||
      (status = read_u64(c, "metadata count", &n_kv)))
    return status;
  /* A key-value pair takes at least 14 bytes (8 + 1 + 4 + 1), a tensor
     info at least 33 (8 + 1 + 4 + 8 + 4 + 8). */
  if (n_kv > left(c) / 14 || n_tensors > left(c) / 33 || n_kv * 14 + n_tensors * 33 > left(c))
    return g2_fail(GPT2_E_FORMAT, "%s: header declares %" PRIu64 " tensors and %" PRIu64 " metadata pairs, more than the %zu bytes left can hold",
                   c->source, n_tensors, n_kv, left(c));
  gguf->kv = g2_calloc((size_t)n_kv, sizeof *gguf->kv);
  gguf->tensors = g2_calloc((size_t)n_tensors, sizeof *gguf->tensors);
  if (!gguf->kv || !gguf->tensors) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", c->source);
  for (; gguf->n_kv < n_kv; gguf->n_kv++)
    if ((status = parse_kv(c, &gguf->kv[gguf->n_kv]))) return status;
  for (; gguf->n_tensors < n_tensors; gguf->n_tensors++)
    if ((status = parse_tensor_info(c, &gguf->tensors[gguf->n_tensors]))) return status;
  if ((status = sort_and_check_duplicates(gguf)) || (status = read_alignment(gguf))) return status;

  /* The data section starts at the next multiple of the alignment. */
  uint64_t padding = (gguf->alignment - c->pos % gguf->alignment) % gguf->alignment;
  if (padding > left(c)) {
    if (n_tensors) return truncated(c, "padding before the tensor data", padding);
    padding = left(c);
  }
  gguf->data_offset = c->pos + padding;
  return check_tensor_data(gguf);
}

int g2_gguf_parse(const unsigned char *data, size_t size, const char *source, g2_gguf *out) {
  memset(out, 0, sizeof *out);
  out->data = data;
  out->size = size;
  out->source = source;
  cursor c = {data, size, 0, source, "header"};
  int status = parse(&c, out);
  if (status) g2_gguf_free(out);
  return status;
}

void g2_gguf_free(g2_gguf *gguf) {
  g2_free(gguf->kv);
  g2_free(gguf->tensors);
  gguf->kv = NULL;
  gguf->tensors = NULL;
  gguf->n_kv = gguf->n_tensors = 0;
}

/* ---- typed values ----------------------------------------------------- */

static int wrong_type(const g2_gguf *gguf, const g2_gguf_kv *kv, const char *expected) {
  char name[80];
  if (kv->type == G2_GGUF_ARRAY)
    return g2_fail(GPT2_E_FORMAT, "%s: key %s: expected %s, have an array of %s", gguf->source,
                   g2_gguf_printable(kv->key, name), expected, value_type_name(kv->elem_type));
  return g2_fail(GPT2_E_FORMAT, "%s: key %s: expected %s, have %s", gguf->source,
                 g2_gguf_printable(kv->key, name), expected, value_type_name(kv->type));
}

int g2_gguf_uint(const g2_gguf *gguf, const g2_gguf_kv *kv, uint64_t max, uint64_t *out) {
  const unsigned char *p = gguf->data + kv->value;
  uint64_t magnitude;
  int negative = 0;
  switch (kv->type) {
    case G2_GGUF_UINT8: magnitude = p[0]; break;
    case G2_GGUF_UINT16: magnitude = load_u16(p); break;
    case G2_GGUF_UINT32: magnitude = load_u32(p); break;
    case G2_GGUF_UINT64: magnitude = load_u64(p); break;
    case G2_GGUF_INT8: negative = p[0] >> 7; magnitude = p[0]; break;
    case G2_GGUF_INT16: negative = p[1] >> 7; magnitude = load_u16(p); break;
    case G2_GGUF_INT32: negative = p[3] >> 7; magnitude = load_u32(p); break;
    case G2_GGUF_INT64: negative = p[7] >> 7; magnitude = load_u64(p); break;
    default: return wrong_type(gguf, kv, "an integer");
  }
  char name[80];
  if (negative)
    return g2_fail(GPT2_E_FORMAT, "%s: key %s: negative value", gguf->source,
                   g2_gguf_printable(kv->key, name));
  if (magnitude > max)
    return g2_fail(GPT2_E_FORMAT, "%s: key %s: %" PRIu64 " is larger than %" PRIu64, gguf->source,
                   g2_gguf_printable(kv->key, name), magnitude, max);
  *out = magnitude;
  return GPT2_OK;
}

int g2_gguf_float(const g2_gguf *gguf, const g2_gguf_kv *kv, double *out) {
  const unsigned char *p = gguf->data + kv->value;
  if (kv->type == G2_GGUF_FLOAT32) {
    uint32_t bits = load_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    *out = f;
    return GPT2_OK;
  }
  if (kv->type == G2_GGUF_FLOAT64) {
    uint64_t bits = load_u64(p);
    memcpy(out, &bits, sizeof *out);
    return GPT2_OK;
  }
  return wrong_type(gguf, kv, "a float");
}

int g2_gguf_string(const g2_gguf *gguf, const g2_gguf_kv *kv, g2_str *out) {
  if (kv->type != G2_GGUF_STRING) return wrong_type(gguf, kv, "a string");
  out->len = (size_t)load_u64(gguf->data + kv->value);
  out->ptr = (const char *)gguf->data + kv->value + 8;
  return GPT2_OK;
}

int g2_gguf_check_array(const g2_gguf *gguf, const g2_gguf_kv *kv, uint32_t elem_type) {
  if (kv->type == G2_GGUF_ARRAY && kv->elem_type == elem_type) return GPT2_OK;
  char expected[40] = "an array of ";
  strcat(expected, value_type_name(elem_type));
  return wrong_type(gguf, kv, expected);
}

int g2_gguf_strings(const g2_gguf *gguf, const g2_gguf_kv *kv, g2_str **out) {
  *out = NULL;
  int status = g2_gguf_check_array(gguf, kv, G2_GGUF_STRING);
  if (status) return status;
  /* The parser checked that count strings (8 bytes each at least) fit. */
  g2_str *items = g2_malloc_array((size_t)kv->count, sizeof *items);
  if (!items) return g2_fail(GPT2_E_NOMEM, "%s: out of memory reading an array of %" PRIu64 " strings",
                             gguf->source, kv->count);
  size_t pos = kv->value;
  for (size_t i = 0; i < kv->count; i++) {
    items[i].len = (size_t)load_u64(gguf->data + pos);
    items[i].ptr = (const char *)gguf->data + pos + 8;
    pos += 8 + items[i].len;
  }
  *out = items;
  return GPT2_OK;
}
