/* The safetensors reader on arbitrary bytes: a file either fails with a
   message (nothing leaked) or yields tensors whose every byte lies inside
   the data buffer, whose sizes match dtype and shape, that do not overlap,
   and that are all found by name. */
#include "format/safetensors.h"
#include "fuzz_common.h"

static void check_tensors(const g2_safetensors *st, const uint8_t *data, size_t size) {
  const uint8_t *end = data + size;
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < st->n_tensors; i++) {
    const g2_st_tensor *t = &st->tensors[i];
    if (t->nbytes && (t->data < data + 8 || t->data > end || t->nbytes > (size_t)(end - t->data)))
      fuzz_fail("tensor %zu: data outside the file", i);
    if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1]; /* ASan checks these reads */
    if (t->ndim < 0 || t->ndim > G2_ST_MAX_DIMS) fuzz_fail("tensor %zu: rank %d", i, t->ndim);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
      if (t->shape[d] < 0) fuzz_fail("tensor %zu: negative dimension", i);
      n *= t->shape[d]; /* the reader checked that this does not overflow */
    }
    if (n != t->n_elements) fuzz_fail("tensor %zu: %lld elements, shape says %lld", i, (long long)t->n_elements, (long long)n);
    if (t->supported) {
      size_t element = t->dtype == G2_DT_F32 ? 4 : 2;
      if (t->nbytes != (size_t)t->n_elements * element) fuzz_fail("tensor %zu: %zu bytes for %lld elements", i, t->nbytes, (long long)t->n_elements);
    }
    if (t->name[t->name_len] != '\0') fuzz_fail("tensor %zu: name not NUL-terminated", i);
    if (strlen(t->name) == t->name_len && g2_safetensors_find(st, t->name) != t)
      fuzz_fail("tensor '%.40s' not found by name", t->name);
    /* no byte in two tensors (quadratic, so only on small headers) */
    for (size_t j = 0; j < i && st->n_tensors <= 512; j++) {
      const g2_st_tensor *other = &st->tensors[j];
      if (t->nbytes && other->nbytes && t->data < other->data + other->nbytes &&
          other->data < t->data + t->nbytes)
        fuzz_fail("tensors %zu and %zu overlap", j, i);
    }
  }
  (void)sink;
}

/* Peak allocation of an open: the JSON tree of the header (see fuzz_json.c)
   and the tensor table, sized by the valid entries only (each takes 40
   header bytes or more for its 128-byte row, doubled while growing):
   at most 32 x the file's size (+ the slack). Measured over the corpus: all
   within the slack. */
#define FUZZ_ST_PEAK_RATIO 32

int fuzz_safetensors(const uint8_t *data, size_t size) {
  long live = g2_alloc_live_blocks();
  size_t base = g2_alloc_peak_reset();
  g2_safetensors *st = (g2_safetensors *)data; /* must be overwritten */
  int status = g2_safetensors_open(data, size, "fuzz.safetensors", &st);
  fuzz_check_peak(base, size, FUZZ_ST_PEAK_RATIO, "g2_safetensors_open");
  if (status == GPT2_OK) {
    check_tensors(st, data, size);
  } else {
    if (st) fuzz_fail("failed open left a result");
    if (status != GPT2_E_FORMAT && status != GPT2_E_NOMEM) fuzz_fail("open returned %d", status);
    fuzz_check_error_message(status, "g2_safetensors_open");
  }
  g2_safetensors_free(st);
  fuzz_check_no_leak(live, "g2_safetensors_open");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_safetensors(data, size); }
#endif
