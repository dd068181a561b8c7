#include "tensor/convert.h"

#include <string.h>

#include "tensor/quant.h"

int64_t g2_matrix_rows(const g2_matrix *m, g2_layout layout) {
  return layout == G2_LAYOUT_NK ? m->n_out : m->n_in;
}

int64_t g2_matrix_row_length(const g2_matrix *m, g2_layout layout) {
  return layout == G2_LAYOUT_NK ? m->n_in : m->n_out;
}

size_t g2_convert_scratch_floats(int64_t length) {
  return (size_t)G2_CONVERT_ROWS * (size_t)length + G2_CONVERT_ROWS;
}

void g2_convert_rows(const g2_matrix *m, g2_layout layout, g2_dtype dtype, int64_t first,
                     int64_t count, unsigned char *out, float *scratch) {
  const unsigned char *data = m->data;
  size_t source_row_bytes = g2_dtype_row_bytes(m->dtype, g2_matrix_row_length(m, m->layout));
  int64_t length = g2_matrix_row_length(m, layout);
  size_t row_bytes = g2_dtype_row_bytes(dtype, length);
  if (m->layout == layout) {
    if (m->dtype == dtype) { /* the bytes themselves */
      memcpy(out, data + (size_t)first * source_row_bytes, (size_t)count * row_bytes);
      return;
    }
    for (int64_t r = 0; r < count; r++) {
      g2_dequantize(m->dtype, data + (size_t)(first + r) * source_row_bytes, 0, length, scratch);
      g2_quantize(dtype, scratch, length, out + (size_t)r * row_bytes);
    }
    return;
  }
  /* Transposing: the wanted rows are columns of the stored ones (a float
     type). Kept in its type, each stored row's `count` elements go to the
     tile's rows as they are: through F32 they would be rounded back to the
     same values, at a third of the speed (XL F16: 7.0-7.5 s of CPU time
     against 2.2-2.5; in blocks of 16 stored rows, or 128 rows a tile, no
     faster). Otherwise they are scattered into a tile of `count` rows of
     floats and rounded. */
  if (m->dtype == dtype) {
    size_t elem = g2_dtype_row_bytes(dtype, 1);
    for (int64_t s = 0; s < length; s++) {
      const unsigned char *from = data + (size_t)s * source_row_bytes + (size_t)first * elem;
      unsigned char *to = out + (size_t)s * elem;
      if (elem == 2)
        for (int64_t r = 0; r < count; r++) memcpy(to + (size_t)r * row_bytes, from + (size_t)r * 2, 2);
      else
        for (int64_t r = 0; r < count; r++) memcpy(to + (size_t)r * row_bytes, from + (size_t)r * 4, 4);
    }
    return;
  }
  float *line = scratch + (size_t)G2_CONVERT_ROWS * (size_t)length;
  for (int64_t s = 0; s < length; s++) {
    g2_dequantize(m->dtype, data + (size_t)s * source_row_bytes, first, count, line);
    for (int64_t r = 0; r < count; r++) scratch[r * length + s] = line[r];
  }
  for (int64_t r = 0; r < count; r++)
    g2_quantize(dtype, scratch + r * length, length, out + (size_t)r * row_bytes);
}
