#include "format/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"

/* Every dtype of the safetensors format, with its size in bits. */
static const struct {
  const char *name;
  unsigned bits;
  int supported;
  g2_dtype dtype;
} dtypes[] = {
    {"F32", 32, 1, G2_DT_F32},   {"F16", 16, 1, G2_DT_F16},   {"BF16", 16, 1, G2_DT_BF16},
    {"F64", 64, 0, G2_DT_F32},   {"I64", 64, 0, G2_DT_F32},   {"U64", 64, 0, G2_DT_F32},
    {"I32", 32, 0, G2_DT_F32},   {"U32", 32, 0, G2_DT_F32},   {"I16", 16, 0, G2_DT_F32},
    {"U16", 16, 0, G2_DT_F32},   {"I8", 8, 0, G2_DT_F32},     {"U8", 8, 0, G2_DT_F32},
    {"BOOL", 8, 0, G2_DT_F32},   {"C64", 64, 0, G2_DT_F32},   {"F8_E5M2", 8, 0, G2_DT_F32},
    {"F8_E4M3", 8, 0, G2_DT_F32}, {"F8_E8M0", 8, 0, G2_DT_F32}, {"F6_E2M3", 6, 0, G2_DT_F32},
    {"F6_E3M2", 6, 0, G2_DT_F32}, {"F4", 4, 0, G2_DT_F32},
};

/* Messages quote at most this much of a tensor name. */
#define NAME_MAX_SHOWN 200

static int tensor_fail(const char *source, const char *name, const char *problem) {
  return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': %s", source, NAME_MAX_SHOWN, name, problem);
}

static int compare_names(const char *a, size_t a_len, const char *b, size_t b_len) {
  int order = memcmp(a, b, a_len < b_len ? a_len : b_len);
  if (order) return order;
  return a_len < b_len ? -1 : a_len > b_len;
}

static int compare_tensor_names(const void *a, const void *b) {
  const g2_st_tensor *x = a, *y = b;
  return compare_names(x->name, x->name_len, y->name, y->name_len);
}

/* By begin, then end, as the reference reader sorts them. */
static int compare_tensor_offsets(const void *a, const void *b) {
  const g2_st_tensor *x = *(const g2_st_tensor *const *)a, *y = *(const g2_st_tensor *const *)b;
  if (x->data != y->data) return x->data < y->data ? -1 : 1;
  return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* A non-negative integer literal that fits int64, or -1. */
static int64_t read_count(const g2_json *node) {
  int64_t value;
  if (!g2_json_int64(node, &value) || value < 0) return -1;
  return value;
}

static int read_dtype(const g2_json *entry, const char *source, g2_st_tensor *t, unsigned *bits) {
  const g2_json *dtype = g2_json_get(entry, "dtype");
  size_t len;
  const char *name = dtype ? g2_json_string(dtype, &len) : NULL;
  if (!name) return tensor_fail(source, t->name, "missing or non-string \"dtype\"");
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
    if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) {
      t->dtype_name = dtypes[i].name;
      t->supported = dtypes[i].supported;
      t->dtype = dtypes[i].dtype;
      *bits = dtypes[i].bits;
      return GPT2_OK;
    }
  }
  return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': unknown dtype \"%.32s\"", source,
                 NAME_MAX_SHOWN, t->name, name);
}

static int read_shape(const g2_json *entry, const char *source, g2_st_tensor *t) {
  const g2_json *shape = g2_json_get(entry, "shape");
  if (!shape || g2_json_type_of(shape) != G2_JSON_ARRAY)
    return tensor_fail(source, t->name, "missing or non-array \"shape\"");
  size_t ndim = g2_json_count(shape);
  if (ndim > G2_ST_MAX_DIMS)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': rank %zu exceeds the limit of %d", source,
                   NAME_MAX_SHOWN, t->name, ndim, G2_ST_MAX_DIMS);
  t->ndim = (int)ndim;
  int64_t n = 1;
  for (size_t i = 0; i < ndim; i++) {
    int64_t dim = read_count(g2_json_at(shape, i));
    if (dim < 0)
      return g2_fail(GPT2_E_FORMAT,
                     "%s: tensor '%.*s': shape[%zu] is not a non-negative integer fitting int64",
                     source, NAME_MAX_SHOWN, t->name, i);
    if (dim != 0 && n > INT64_MAX / dim)
      return tensor_fail(source, t->name, "shape has more than 2^63 elements");
    t->shape[i] = dim;
    n *= dim;
  }
  t->n_elements = n;
  return GPT2_OK;
}

/* data_offsets [begin, end) within the data buffer, matching the size
   implied by dtype and shape. */
static int read_offsets(const g2_json *entry, const char *source, const unsigned char *buffer,
                        uint64_t buffer_size, unsigned bits, g2_st_tensor *t) {
  const g2_json *offsets = g2_json_get(entry, "data_offsets");
  if (!offsets || g2_json_type_of(offsets) != G2_JSON_ARRAY || g2_json_count(offsets) != 2)
    return tensor_fail(source, t->name, "missing \"data_offsets\" or not an array of 2");
  int64_t begin = read_count(g2_json_at(offsets, 0)), end = read_count(g2_json_at(offsets, 1));
  if (begin < 0 || end < 0)
    return tensor_fail(source, t->name, "data_offsets are not non-negative integers fitting int64");
  if (begin > end)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': data_offsets begin %lld > end %lld", source,
                   NAME_MAX_SHOWN, t->name, (long long)begin, (long long)end);
  if ((uint64_t)end > buffer_size)
    return g2_fail(GPT2_E_FORMAT,
                   "%s: tensor '%.*s': data_offsets end %lld past the end of the file "
                   "(data buffer is %llu bytes)",
                   source, NAME_MAX_SHOWN, t->name, (long long)end,
                   (unsigned long long)buffer_size);
  uint64_t n = (uint64_t)t->n_elements;
  if (n > UINT64_MAX / bits || (n * bits) % 8 != 0)
    return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': %lld %s elements do not make whole bytes",
                   source, NAME_MAX_SHOWN, t->name, (long long)t->n_elements, t->dtype_name);
  if (n * bits / 8 != (uint64_t)(end - begin))
    return g2_fail(GPT2_E_FORMAT,
                   "%s: tensor '%.*s': data_offsets span %lld bytes, but %lld %s elements need "
                   "%llu",
                   source, NAME_MAX_SHOWN, t->name, (long long)(end - begin),
                   (long long)t->n_elements, t->dtype_name, (unsigned long long)(n * bits / 8));
  t->data = buffer + begin;
  t->nbytes = (size_t)(end - begin);
  return GPT2_OK;
}

static int read_metadata(const g2_json *metadata, const char *source) {
  if (g2_json_type_of(metadata) != G2_JSON_OBJECT)
    return g2_fail(GPT2_E_FORMAT, "%s: __metadata__ is not an object", source);
  for (size_t i = 0; i < g2_json_count(metadata); i++)
    if (g2_json_type_of(g2_json_at(metadata, i)) != G2_JSON_STRING)
      return g2_fail(GPT2_E_FORMAT, "%s: __metadata__ value of '%.*s' is not a string", source,
                     NAME_MAX_SHOWN, g2_json_key_at(metadata, i, NULL));
  return GPT2_OK;
}

/* A field given twice in one entry is an error (the reference reader's
   serde refuses it), not last-one-wins; unknown fields are ignored, as
   there. */
static int check_fields(const g2_json *entry, const char *source, const g2_st_tensor *t) {
  static const char *const fields[] = {"dtype", "shape", "data_offsets"};
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
    size_t seen = 0;
    for (size_t i = 0; i < g2_json_count(entry); i++) {
      size_t len;
      const char *key = g2_json_key_at(entry, i, &len);
      seen += len == strlen(fields[f]) && memcmp(key, fields[f], len) == 0;
    }
    if (seen > 1)
      return g2_fail(GPT2_E_FORMAT, "%s: tensor '%.*s': \"%s\" is given %zu times", source,
                     NAME_MAX_SHOWN, t->name, fields[f], seen);
  }
  return GPT2_OK;
}

static int read_tensor(const g2_json *entry, const char *source, const unsigned char *buffer,
                       uint64_t buffer_size, g2_st_tensor *t) {
  if (g2_json_type_of(entry) != G2_JSON_OBJECT) return tensor_fail(source, t->name, "not an object");
  unsigned bits = 0;
  int status = check_fields(entry, source, t);
  if (!status) status = read_dtype(entry, source, t, &bits);
  if (!status) status = read_shape(entry, source, t);
  if (!status) status = read_offsets(entry, source, buffer, buffer_size, bits, t);
  return status;
}

/* Names sorted: equal neighbours are duplicates. Then, as the reference
   reader requires, the tensors sorted by (begin, end) must tile the data
   buffer exactly: the first begins at 0, each where the previous one ends
   (no byte in two tensors, no hole), the last ends at the end of the file.
   An empty tensor sits at a boundary. */
static int check_names_and_layout(g2_safetensors *st, const char *source,
                                  const unsigned char *buffer, uint64_t buffer_size) {
  if (st->n_tensors > 1) /* with none, st->tensors is NULL: not for qsort */
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, compare_tensor_names);
  for (size_t i = 1; i < st->n_tensors; i++)
    if (compare_tensor_names(&st->tensors[i - 1], &st->tensors[i]) == 0)
      return tensor_fail(source, st->tensors[i].name, "duplicate name");
  const g2_st_tensor **by_offset = g2_malloc_array(st->n_tensors ? st->n_tensors : 1, sizeof *by_offset);
  if (!by_offset) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", source);
  for (size_t i = 0; i < st->n_tensors; i++) by_offset[i] = &st->tensors[i];
  qsort(by_offset, st->n_tensors, sizeof *by_offset, compare_tensor_offsets);
  int status = GPT2_OK;
  uint64_t end = 0; /* of the tensors so far */
  for (size_t i = 0; i < st->n_tensors && !status; i++) {
    const g2_st_tensor *cur = by_offset[i];
    uint64_t begin = (uint64_t)(cur->data - buffer);
    if (begin < end)
      status = g2_fail(GPT2_E_FORMAT, "%s: tensors '%.*s' and '%.*s' overlap in the data buffer",
                       source, NAME_MAX_SHOWN, by_offset[i - 1]->name, NAME_MAX_SHOWN, cur->name);
    else if (begin > end)
      status = g2_fail(GPT2_E_FORMAT,
                       "%s: tensor '%.*s' begins at byte %llu of the data buffer, after a hole "
                       "of %llu bytes (the tensors must cover the buffer, in order)",
                       source, NAME_MAX_SHOWN, cur->name, (unsigned long long)begin,
                       (unsigned long long)(begin - end));
    end = begin + cur->nbytes;
  }
  if (!status && end != buffer_size)
    status = g2_fail(GPT2_E_FORMAT,
                     "%s: %llu bytes after the last tensor (the tensors must cover the data "
                     "buffer to the end of the file)",
                     source, (unsigned long long)(buffer_size - end));
  g2_free(by_offset);
  return status;
}

/* Appends a validated tensor, growing the table by doubling: its size
   follows the entries that passed, never the member count of the header
   (20 million `"":0` members would have asked for 2.5 GB up front). */
static int append_tensor(g2_safetensors *st, size_t *capacity, const g2_st_tensor *t,
                         const char *source) {
  if (st->n_tensors == *capacity) {
    size_t grown = *capacity ? 2 * *capacity : 16;
    g2_st_tensor *table = g2_realloc(st->tensors, grown * sizeof *table);
    if (!table) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", source);
    st->tensors = table;
    *capacity = grown;
  }
  st->tensors[st->n_tensors++] = *t;
  return GPT2_OK;
}

static int parse_header(g2_safetensors *st, const unsigned char *data, size_t size,
                        const char *source) {
  if (size < 8)
    return g2_fail(GPT2_E_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", source,
                   size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) header_len = header_len << 8 | data[i];
  if (header_len > G2_ST_MAX_HEADER)
    return g2_fail(GPT2_E_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", source,
                   (unsigned long long)header_len, (unsigned long long)G2_ST_MAX_HEADER);
  if (header_len > size - 8)
    return g2_fail(GPT2_E_FORMAT, "%s: header length %llu past the end of the file (%zu bytes)",
                   source, (unsigned long long)header_len, size);
  char header_source[320];
  snprintf(header_source, sizeof header_source, "%.300s header", source);
  int status =
      g2_json_parse((const char *)data + 8, (size_t)header_len, header_source, &st->header);
  if (status) return status;
  const g2_json *root = st->header;
  if (g2_json_type_of(root) != G2_JSON_OBJECT)
    return g2_fail(GPT2_E_FORMAT, "%s: header is a JSON %s, not an object", source,
                   g2_json_type_name(g2_json_type_of(root)));
  const unsigned char *buffer = data + 8 + header_len;
  uint64_t buffer_size = size - 8 - header_len;
  size_t n_members = g2_json_count(root), capacity = 0;
  int seen_metadata = 0;
  for (size_t i = 0; i < n_members; i++) {
    size_t key_len;
    const char *key = g2_json_key_at(root, i, &key_len);
    const g2_json *value = g2_json_at(root, i);
    if (key_len == 12 && memcmp(key, "__metadata__", 12) == 0) {
      if (seen_metadata++) return g2_fail(GPT2_E_FORMAT, "%s: duplicate __metadata__", source);
      status = read_metadata(value, source);
    } else {
      g2_st_tensor t = {.name = key, .name_len = key_len};
      status = read_tensor(value, source, buffer, buffer_size, &t);
      if (!status) status = append_tensor(st, &capacity, &t, source);
    }
    if (status) return status;
  }
  return check_names_and_layout(st, source, buffer, buffer_size);
}

int g2_safetensors_open(const unsigned char *data, size_t size, const char *source,
                        g2_safetensors **out) {
  *out = NULL;
  g2_safetensors *st = g2_calloc(1, sizeof *st);
  if (!st) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", source);
  int status = parse_header(st, data, size, source);
  if (status) {
    g2_safetensors_free(st);
    return status;
  }
  *out = st;
  return GPT2_OK;
}

const g2_st_tensor *g2_safetensors_find(const g2_safetensors *st, const char *name) {
  size_t name_len = strlen(name), lo = 0, hi = st->n_tensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const g2_st_tensor *t = &st->tensors[mid];
    int order = compare_names(t->name, t->name_len, name, name_len);
    if (order == 0) return t;
    if (order < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

void g2_safetensors_free(g2_safetensors *st) {
  if (!st) return;
  g2_free(st->tensors);
  g2_json_free(st->header);
  g2_free(st);
}
