/* Rows of a matrix in another type and layout: the one
   transpose-dequantize-quantize step, shared by load-time conversion
   (model/convert.c) and the GGUF writer (model/save.c), so that a model
   converted at load and the file of the same type hold the same bytes. */
#ifndef G2_CONVERT_H
#define G2_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"

/* Rows converted per call at most. */
#define G2_CONVERT_ROWS 32

/* Rows of `m` read in `layout` (NK: its n_out rows of n_in; KN: its n_in
   rows of n_out), and their length. */
int64_t g2_matrix_rows(const g2_matrix *m, g2_layout layout);
int64_t g2_matrix_row_length(const g2_matrix *m, g2_layout layout);

/* Floats of scratch g2_convert_rows needs for rows of `length`. */
size_t g2_convert_scratch_floats(int64_t length);

/* Rows [first, first + count) of `m` in `layout` (count at most
   G2_CONVERT_ROWS), each as g2_dtype_row_bytes(dtype, length) bytes of
   `dtype` into `out`. Elements kept in their type are copied; the others
   go through F32 in `scratch`. Block types are readable only in
   NK (blocks run along n_in). */
void g2_convert_rows(const g2_matrix *m, g2_layout layout, g2_dtype dtype, int64_t first,
                     int64_t count, unsigned char *out, float *scratch);

#endif
