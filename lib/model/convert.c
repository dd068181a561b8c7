/* Load-time conversion of the weight matrices to one type
   (gpt2_load_params.weight_type), as llama.cpp's quantizer does offline.

   Every layer matrix and the token embedding (which is also the output
   matrix when tied) is converted, to NK: block types (Q8_0, Q4_0) need
   their blocks along n_in, the token embedding's rows are looked up, and
   with NK for the float types too a converted model is the model in the
   GGUF file of that type gpt2-quantize writes, with bitwise the same logits
   (tests/unit/test_gguf.c). The kernels run both layouts about equally
   fast (docs/performance.md). TARGET_LAYOUT is the one place to change;
   the conversion handles either layout.
   The position embedding stays as loaded: one row of it is read per
   token. With Q4_0 the token embedding becomes Q8_0, as llama.cpp keeps its
   output matrix at a higher precision than Q4_0: the logits are the most
   quantization-sensitive product of the model.

   Rows are converted a tile at a time through a small F32 scratch, so no
   F32 copy of a matrix is ever materialised; the pages of a source matrix
   that lie in a file mapping are released as it is converted, so the peak
   resident memory stays near the converted model's size. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "core/threads.h"
#include "gpt2.h"
#include "model/model.h"
#include "tensor/quant.h"

enum {
  /* Rows converted per step. A multiple of the block size: a transposing
     conversion reads TILE_ROWS elements of each stored row at a time. */
  TILE_ROWS = 32,
  BAND_BYTES = 4 << 20 /* source bytes converted between page releases */
};

/* The layout of converted layer matrices (see above). */
#define TARGET_LAYOUT G2_LAYOUT_NK

/* A matrix to convert, with its name for messages. */
typedef struct named_matrix {
  g2_matrix *matrix;
  const char *name;
  int32_t layer;     /* -1: not a layer matrix */
  g2_dtype dtype;    /* the target type */
  g2_layout layout;  /* the target layout */
  size_t bytes;      /* converted size */
} named_matrix;

static int dtype_for(uint32_t weight_type, g2_dtype *out) {
  switch (weight_type) {
    case GPT2_WTYPE_F32: *out = G2_DT_F32; return 1;
    case GPT2_WTYPE_F16: *out = G2_DT_F16; return 1;
    case GPT2_WTYPE_BF16: *out = G2_DT_BF16; return 1;
    case GPT2_WTYPE_Q8_0: *out = G2_DT_Q8_0; return 1;
    case GPT2_WTYPE_Q4_0: *out = G2_DT_Q4_0; return 1;
    default: return 0;
  }
}

/* Rows as stored in `layout`, and their length. */
static int64_t row_count(const g2_matrix *m, g2_layout layout) {
  return layout == G2_LAYOUT_NK ? m->n_out : m->n_in;
}

static int64_t row_length(const g2_matrix *m, g2_layout layout) {
  return layout == G2_LAYOUT_NK ? m->n_in : m->n_out;
}

static size_t stored_row_bytes(const g2_matrix *m) {
  return g2_dtype_row_bytes(m->dtype, row_length(m, m->layout));
}

static int needs_conversion(const named_matrix *item) {
  return item->matrix->dtype != item->dtype || item->matrix->layout != item->layout;
}

/* Checks that `item` can be converted and sets its converted size. */
static int check_matrix(named_matrix *item) {
  const g2_matrix *m = item->matrix;
  char where[32] = "";
  if (item->layer >= 0) snprintf(where, sizeof where, "layer %d ", (int)item->layer);
  int64_t rows = row_count(m, item->layout), length = row_length(m, item->layout);
  size_t row_bytes = g2_dtype_row_bytes(item->dtype, length);
  if (row_bytes == 0 || rows <= 0)
    return g2_fail(GPT2_E_UNSUPPORTED,
                   "%s%s: %lld inputs per row cannot be stored as %s (blocks of %lld)",
                   where, item->name, (long long)length, g2_dtype_name(item->dtype),
                   (long long)g2_dtype_block_size(item->dtype));
  if (m->layout == G2_LAYOUT_KN && g2_dtype_block_size(m->dtype) != 1)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s%s: %s is not readable in KN layout", where,
                   item->name, g2_dtype_name(m->dtype));
  if ((uint64_t)rows > SIZE_MAX / row_bytes)
    return g2_fail(GPT2_E_NOMEM, "%s%s: %lld rows of %zu bytes overflow the address space",
                   where, item->name, (long long)rows, row_bytes);
  item->bytes = row_bytes * (size_t)rows;
  return GPT2_OK;
}

/* tile[r][0..length) = row `first + r` of W in `layout`, as floats, for
   r < count; `line` holds TILE_ROWS floats. */
static void gather_rows(const g2_matrix *m, g2_layout layout, int64_t first, int64_t count,
                        float *tile, float *line) {
  const unsigned char *data = m->data;
  size_t source_row_bytes = stored_row_bytes(m);
  int64_t length = row_length(m, layout);
  if (m->layout == layout) {
    for (int64_t r = 0; r < count; r++)
      g2_dequantize(m->dtype, data + (size_t)(first + r) * source_row_bytes, 0, length,
                    tile + r * length);
    return;
  }
  /* Transposing: the wanted rows are columns of the stored ones. Take
     their `count` elements of every stored row (first is a multiple of
     TILE_ROWS, so of any block size) and scatter them into the tile. */
  for (int64_t s = 0; s < length; s++) {
    g2_dequantize(m->dtype, data + (size_t)s * source_row_bytes, first, count, line);
    for (int64_t r = 0; r < count; r++) tile[r * length + s] = line[r];
  }
}

/* Drops the resident pages of [data, data + bytes) if it lies in one of
   the model's files: a converted source would otherwise count towards the
   process's memory until the model is freed, though nothing reads it
   again. Pages shared with a neighbouring tensor are kept. A mapped file's
   pages would read back from the file; those of a file read into memory
   (use_mmap 0) would read back as zeros, and are never read. */
static void release_source(const struct gpt2_model *model, const void *data, size_t bytes) {
  uintptr_t begin = (uintptr_t)data, end = begin + bytes;
  long page_size = sysconf(_SC_PAGESIZE);
  if (page_size <= 0) return;
  uintptr_t page = (uintptr_t)page_size;
  for (size_t i = 0; i < model->n_mappings; i++) {
    uintptr_t map_begin = (uintptr_t)model->mappings[i].data;
    uintptr_t map_end = map_begin + model->mappings[i].size;
    if (begin < map_begin || end > map_end) continue;
    uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (first < last) madvise((void *)first, last - first, MADV_DONTNEED);
    return;
  }
}

/* Rows [first, first + count) of the target layout to convert into `out`
   (rows of `dtype`), one task per tile of TILE_ROWS rows; runner `thread`
   works in scratch[thread * scratch_floats...]: TILE_ROWS x length floats
   plus a line of TILE_ROWS. */
typedef struct band {
  const g2_matrix *m;
  g2_dtype dtype;
  g2_layout layout;
  unsigned char *out;
  int64_t first, count;
  float *scratch;
  size_t scratch_floats;
} band;

static void convert_tile(void *arg, size_t task, uint32_t thread) {
  const band *b = arg;
  int64_t length = row_length(b->m, b->layout);
  size_t row_bytes = g2_dtype_row_bytes(b->dtype, length);
  float *tile = b->scratch + (size_t)thread * b->scratch_floats;
  int64_t tile_first = b->first + (int64_t)task * TILE_ROWS;
  int64_t end = b->first + b->count;
  int64_t rows = end - tile_first < TILE_ROWS ? end - tile_first : TILE_ROWS;
  gather_rows(b->m, b->layout, tile_first, rows, tile, tile + (size_t)TILE_ROWS * (size_t)length);
  for (int64_t r = 0; r < rows; r++)
    g2_quantize(b->dtype, tile + r * length, length, b->out + (size_t)(tile_first + r) * row_bytes);
}

/* Converts the band's tiles on the pool's runners. Each tile is converted
   alone, so the bytes do not depend on the thread count or the schedule. */
static void convert_band(g2_pool *pool, band *b) {
  size_t n_tiles = (size_t)((b->count + TILE_ROWS - 1) / TILE_ROWS);
  g2_pool_run(pool, n_tiles, convert_tile, b);
}

/* Converts a whole matrix. A source kept in its layout is read in bands of
   about BAND_BYTES, each released once converted, so the source's resident
   pages never exceed one band (the token embedding is the largest matrix,
   154 MB in F32 for GPT-2). A transposed source (a layer matrix, a few MB)
   is released at the end. */
static void convert_matrix(const struct gpt2_model *model, const named_matrix *item,
                           unsigned char *out, float *scratch, size_t scratch_floats,
                           g2_pool *pool) {
  const g2_matrix *m = item->matrix;
  const unsigned char *source = m->data;
  size_t source_row_bytes = stored_row_bytes(m);
  int64_t rows = row_count(m, item->layout);
  band b = {m, item->dtype, item->layout, out, 0, rows, scratch, scratch_floats};
  if (m->layout != item->layout) {
    convert_band(pool, &b);
    release_source(model, source, source_row_bytes * (size_t)row_count(m, m->layout));
    return;
  }
  int64_t band_rows = (int64_t)(BAND_BYTES / source_row_bytes) / TILE_ROWS * TILE_ROWS;
  if (band_rows < TILE_ROWS) band_rows = TILE_ROWS;
  for (int64_t first = 0; first < rows; first += band_rows) {
    b.first = first;
    b.count = rows - first < band_rows ? rows - first : band_rows;
    convert_band(pool, &b);
    release_source(model, source + (size_t)first * source_row_bytes,
                   (size_t)b.count * source_row_bytes);
  }
}

int g2_model_convert_weights(struct gpt2_model *model, uint32_t weight_type, uint32_t n_threads) {
  if (weight_type == GPT2_WTYPE_AUTO) return GPT2_OK;
  g2_dtype dtype;
  if (!dtype_for(weight_type, &dtype))
    return g2_fail(GPT2_E_INVALID, "weight_type %u is not a GPT2_WTYPE_* value", weight_type);
  g2_dtype embd_dtype = dtype == G2_DT_Q4_0 ? G2_DT_Q8_0 : dtype;
  g2_layout layout = TARGET_LAYOUT;

  int32_t n_layer = model->hp.n_layer;
  size_t n_items = (size_t)n_layer * 4 + 2;
  named_matrix *items = g2_malloc_array(n_items, sizeof *items);
  if (!items)
    return g2_fail(GPT2_E_NOMEM, "converting weights: no memory for %zu entries", n_items);
  int tied = model->lm_head.data == model->wte.data;
  size_t count = 0;
  items[count++] = (named_matrix){&model->wte, "wte", -1, embd_dtype, G2_LAYOUT_NK, 0};
  if (!tied)
    items[count++] = (named_matrix){&model->lm_head, "lm_head", -1, embd_dtype, G2_LAYOUT_NK, 0};
  for (int32_t l = 0; l < n_layer; l++) {
    g2_layer *layer = &model->layers[l];
    items[count++] = (named_matrix){&layer->attn_qkv, "attn_qkv", l, dtype, layout, 0};
    items[count++] = (named_matrix){&layer->attn_proj, "attn_proj", l, dtype, layout, 0};
    items[count++] = (named_matrix){&layer->mlp_up, "mlp_up", l, dtype, layout, 0};
    items[count++] = (named_matrix){&layer->mlp_down, "mlp_down", l, dtype, layout, 0};
  }

  /* Everything is checked before anything changes. */
  int64_t max_length = 0;
  int status = GPT2_OK;
  for (size_t i = 0; i < count && status == GPT2_OK; i++) {
    status = check_matrix(&items[i]);
    int64_t length = row_length(items[i].matrix, items[i].layout);
    if (length > max_length) max_length = length;
  }

  if (n_threads == 0) n_threads = g2_cpu_count();
  size_t scratch_floats = (size_t)TILE_ROWS * (size_t)max_length + TILE_ROWS;
  float *scratch = NULL;
  if (status == GPT2_OK) {
    scratch = g2_malloc_array((size_t)n_threads, scratch_floats * sizeof(float));
    if (!scratch)
      status = g2_fail(GPT2_E_NOMEM, "converting weights: no memory for %u scratch tiles",
                       (unsigned)n_threads);
  }

  /* One block for all converted matrices, on huge pages: layer matrices
     are smaller than a huge page, so blocks of their own would get none.
     Each matrix starts on a cache line. */
  size_t total = 0;
  for (size_t i = 0; i < count && status == GPT2_OK; i++)
    if (needs_conversion(&items[i])) {
      size_t bytes = (items[i].bytes + 63) / 64 * 64;
      if (bytes < items[i].bytes || total > SIZE_MAX - bytes)
        status = g2_fail(GPT2_E_NOMEM, "converting weights: their size overflows the address space");
      total += bytes;
    }
  unsigned char *arena = NULL;
  if (status == GPT2_OK && total > 0) {
    arena = g2_model_alloc_huge(model, total);
    if (!arena)
      status = g2_fail(GPT2_E_NOMEM, "converting weights to %s: no memory for %zu bytes",
                       g2_dtype_name(dtype), total);
  }

  /* The load's own runners: the caller and n_threads - 1 workers. */
  g2_pool *pool = NULL;
  if (status == GPT2_OK && total > 0) status = g2_pool_new(n_threads, &pool);

  /* Nothing below can fail: a matrix is switched to its converted copy once
     complete. */
  for (size_t i = 0; i < count && status == GPT2_OK; i++) {
    named_matrix *item = &items[i];
    if (!needs_conversion(item)) continue;
    unsigned char *out = arena;
    arena += (item->bytes + 63) / 64 * 64;
    convert_matrix(model, item, out, scratch, scratch_floats, pool);
    item->matrix->data = out;
    item->matrix->dtype = item->dtype;
    item->matrix->layout = item->layout;
  }
  if (tied) model->lm_head = model->wte;
  g2_pool_free(pool);
  g2_free(scratch);
  g2_free(items);
  return status;
}
