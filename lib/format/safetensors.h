/* safetensors reader: validates the header of a file held in memory (the
   caller maps it) and lists its tensors with pointers into that memory.
   Every dtype of the format is recognised; only F32, F16 and BF16 are
   marked supported. Rules and limits: docs/formats.md. */
#ifndef G2_SAFETENSORS_H
#define G2_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "tensor/matrix.h"

#define G2_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* bytes, as the reference */
#define G2_ST_MAX_DIMS 8

typedef struct g2_st_tensor {
  const char *name; /* NUL-terminated (a name with NUL is never found by name) */
  size_t name_len;
  const char *dtype_name; /* as written in the file, e.g. "F64" */
  int supported;          /* F32, F16 or BF16: `dtype` is set */
  g2_dtype dtype;
  int ndim;
  int64_t shape[G2_ST_MAX_DIMS];
  int64_t n_elements;
  const unsigned char *data; /* within the buffer; no alignment guarantee */
  size_t nbytes;
} g2_st_tensor;

typedef struct g2_safetensors {
  g2_st_tensor *tensors; /* sorted by name */
  size_t n_tensors;
  g2_json *header; /* owns the name strings */
} g2_safetensors;

/* Validates `size` bytes at `data` (a whole .safetensors file; `source`
   names it in messages): header length within the file and the 100 MB
   cap, JSON header, every tensor's dtype, shape and offsets (each field
   once), no duplicate names, tensors covering the data buffer exactly (in
   offset order, no overlap, no hole, nothing after the last), __metadata__
   string to string only (docs/formats.md lists the reference's rules).
   GPT2_E_FORMAT / GPT2_E_NOMEM with a message naming source and tensor.
   The result points into `data`, which must outlive it. */
int g2_safetensors_open(const unsigned char *data, size_t size, const char *source,
                        g2_safetensors **out);
/* The tensor named `name`, or NULL. O(log n). */
const g2_st_tensor *g2_safetensors_find(const g2_safetensors *st, const char *name);
/* NULL accepted. */
void g2_safetensors_free(g2_safetensors *st);

#endif
