/* Load-time conversion of the weight matrices: their types
   (gpt2_load_params.weight_type), as llama.cpp's quantizer does offline,
   and their layouts, whatever the type.

   Each matrix gets the type of the weight-type policy (model/policy.c),
   which gpt2_save_gguf follows too, and the layout of target_layout: the
   block types [n_out][n_in] (NK, GGUF's), since their blocks run along
   n_in; the embeddings NK too, since their rows are looked up; the layer
   matrices of the float types, from float sources, [n_in][n_out] (KN,
   Hugging Face's), since the batch kernels run that layout's packed tile
   faster (124M GGUF files, pp512, 2 threads: F16 913-1020 tok/s NK
   against 1313-1347 KN, F32 1027-1044 against 1126-1253; one token as
   fast; docs/performance.md). A GGUF file's float layer matrices are
   therefore transposed at load, with AUTO too. A converted model is the
   model in the GGUF file of that type gpt2-quantize writes, with bitwise
   the same logits (tests/unit/test_gguf.c), since that file loads through
   here too. The rows themselves go through g2_convert_rows
   (tensor/convert.c), as the GGUF writer's do.

   Rows are converted a tile at a time through a small F32 scratch, so no
   F32 copy of a matrix is ever materialised; the pages of a source matrix
   that lie in a file mapping are released as it is converted, so the peak
   resident memory stays near the converted model's size. */
#include <stdint.h>
#include <stdio.h>
#ifndef _WIN32
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "core/progress.h"
#include "core/threads.h"
#include "gpt2.h"
#include "model/model.h"
#include "model/policy.h"
#include "tensor/convert.h"

enum {
  TILE_ROWS = G2_CONVERT_ROWS, /* rows converted per task */
  BAND_BYTES = 4 << 20         /* source bytes converted between page releases */
};

/* The layout matrix m is kept in as `dtype` (see above); layer -1: not a
   layer matrix. A block-type source stays NK whatever its new type: its
   columns cannot be read without unpacking whole rows. */
static g2_layout target_layout(const g2_matrix *m, g2_dtype dtype, int32_t layer) {
  int floats = g2_dtype_block_size(dtype) == 1 && g2_dtype_block_size(m->dtype) == 1;
  return layer >= 0 && floats ? G2_LAYOUT_KN : G2_LAYOUT_NK;
}

/* A matrix to convert, with its name for messages. */
typedef struct named_matrix {
  g2_matrix *matrix;
  const char *name;
  int32_t layer;     /* -1: not a layer matrix */
  g2_dtype dtype;    /* the target type */
  g2_layout layout;  /* the target layout */
  size_t bytes;      /* converted size */
  int keep_source;   /* another item converts the same source after it */
} named_matrix;

static size_t stored_row_bytes(const g2_matrix *m) {
  return g2_dtype_row_bytes(m->dtype, g2_matrix_row_length(m, m->layout));
}

static int needs_conversion(const named_matrix *item) {
  return item->matrix->dtype != item->dtype || item->matrix->layout != item->layout;
}

/* Checks that `item` can be converted and sets its converted size. */
static int check_matrix(named_matrix *item) {
  const g2_matrix *m = item->matrix;
  char where[32] = "";
  if (item->layer >= 0) snprintf(where, sizeof where, "layer %d ", (int)item->layer);
  int64_t rows = g2_matrix_rows(m, item->layout), length = g2_matrix_row_length(m, item->layout);
  /* the policy gives every row length a type it fits (F16 at worst) */
  size_t row_bytes = g2_dtype_row_bytes(item->dtype, length);
  if (m->layout == G2_LAYOUT_KN && g2_dtype_block_size(m->dtype) != 1)
    return g2_fail(GPT2_E_UNSUPPORTED, "%s%s: %s is not readable in KN layout", where,
                   item->name, g2_dtype_name(m->dtype));
  if ((uint64_t)rows > SIZE_MAX / row_bytes)
    return g2_fail(GPT2_E_NOMEM, "%s%s: %lld rows of %zu bytes overflow the address space",
                   where, item->name, (long long)rows, row_bytes);
  item->bytes = row_bytes * (size_t)rows;
  return GPT2_OK;
}

/* Drops the resident pages of [data, data + bytes) if it lies in one of
   the model's files: a converted source would otherwise count towards the
   process's memory until the model is freed, though nothing reads it
   again. Pages shared with a neighbouring tensor are kept. A mapped file's
   pages would read back from the file; those of a file read into memory
   (use_mmap 0) would read back as zeros, and are never read. */
static void release_source(const struct gpt2_model *model, const void *data, size_t bytes) {
#if defined(_WIN32)
  /* No counterpart here: a read-only view's pages are reclaimed by the
     system under pressure, and a copy's stay until the model is freed. */
  (void)model;
  (void)data;
  (void)bytes;
#else
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
#endif
}

/* Rows [first, first + count) of the target layout to convert into `out`
   (rows of `dtype`), one task per tile of TILE_ROWS rows; runner `thread`
   works in scratch[thread * scratch_floats...] (g2_convert_scratch_floats). */
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
  size_t row_bytes = g2_dtype_row_bytes(b->dtype, g2_matrix_row_length(b->m, b->layout));
  int64_t tile_first = b->first + (int64_t)task * TILE_ROWS;
  int64_t end = b->first + b->count;
  int64_t rows = end - tile_first < TILE_ROWS ? end - tile_first : TILE_ROWS;
  g2_convert_rows(b->m, b->layout, b->dtype, tile_first, rows,
                  b->out + (size_t)tile_first * row_bytes,
                  b->scratch + (size_t)thread * b->scratch_floats);
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
  int64_t rows = g2_matrix_rows(m, item->layout);
  band b = {m, item->dtype, item->layout, out, 0, rows, scratch, scratch_floats};
  if (m->layout != item->layout) {
    convert_band(pool, &b);
    if (!item->keep_source)
      release_source(model, source, source_row_bytes * (size_t)g2_matrix_rows(m, m->layout));
    return;
  }
  int64_t band_rows = (int64_t)(BAND_BYTES / source_row_bytes) / TILE_ROWS * TILE_ROWS;
  if (band_rows < TILE_ROWS) band_rows = TILE_ROWS;
  for (int64_t first = 0; first < rows; first += band_rows) {
    b.first = first;
    b.count = rows - first < band_rows ? rows - first : band_rows;
    convert_band(pool, &b);
    if (!item->keep_source)
      release_source(model, source + (size_t)first * source_row_bytes, (size_t)b.count * source_row_bytes);
  }
}

int g2_model_convert_weights(struct gpt2_model *model, uint32_t weight_type, uint32_t n_threads,
                             const g2_progress *progress) {
  int status = g2_check_weight_type(weight_type, "gpt2_load_params");
  if (status) return status;

  /* Every matrix of the schema; a tied output is the token embedding,
     unless the mix gives a token embedding beside an output matrix
     another type than the output (the K mixes: Q4_K or Q5_K and Q6_K, as
     in the file gpt2_save_gguf writes): then both are converted from the
     same source, which the first keeps for the second. */
  int32_t n_layer = model->hp.n_layer;
  size_t n_items = G2_MODEL_TENSORS + (size_t)n_layer * G2_LAYER_TENSORS;
  named_matrix *items = g2_malloc_array(n_items, sizeof *items);
  if (!items)
    return g2_fail(GPT2_E_NOMEM, "converting weights: no memory for %zu entries", n_items);
  int tied = g2_model_output_tied(model);
  g2_weight_slot tokens = g2_weight_role_of(model, -1, G2_T_TOKENS), output = tokens;
  tokens.role = G2_ROLE_TOKENS;
  int split = tied && g2_weight_policy(weight_type, tokens, &model->wte) !=
                          g2_weight_policy(weight_type, output, &model->wte);
  if (split) tied = 0;
  size_t count = 0;
  for (int32_t l = -1; l < n_layer; l++) {
    int n_ids = l < 0 ? G2_MODEL_TENSORS : G2_LAYER_TENSORS;
    for (int id = 0; id < n_ids; id++) {
      const g2_tensor_schema *t = l < 0 ? &g2_model_schema[id] : &g2_layer_schema[id];
      if (!t->is_matrix || (l < 0 && id == G2_T_OUTPUT && tied)) continue;
      g2_matrix *m = g2_model_field(model, l, id);
      g2_weight_slot slot = split && l < 0 && id == G2_T_TOKENS ? tokens : g2_weight_role_of(model, l, id);
      g2_dtype dtype = g2_weight_policy(weight_type, slot, m);
      items[count++] = (named_matrix){m, t->hf_name, l, dtype, target_layout(m, dtype, l), 0,
                                      split && l < 0 && id == G2_T_TOKENS};
    }
  }

  /* Everything is checked before anything changes. */
  int64_t max_length = 0;
  for (size_t i = 0; i < count && status == GPT2_OK; i++) {
    status = check_matrix(&items[i]);
    int64_t length = g2_matrix_row_length(items[i].matrix, items[i].layout);
    if (length > max_length) max_length = length;
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
      status = g2_fail(GPT2_E_NOMEM, "converting weights: no memory for %zu bytes", total);
  }

  /* Scratch tiles, one per runner, only where something converts (most
     block-type files load with AUTO and keep every matrix). */
  if (n_threads == 0) n_threads = g2_cpu_count();
  size_t scratch_floats = g2_convert_scratch_floats(max_length);
  float *scratch = NULL;
  if (status == GPT2_OK && total > 0) {
    scratch = g2_malloc_array((size_t)n_threads, scratch_floats * sizeof(float));
    if (!scratch)
      status = g2_fail(GPT2_E_NOMEM, "converting weights: no memory for %u scratch tiles",
                       (unsigned)n_threads);
  }

  /* The load's own runners: the caller and n_threads - 1 workers. */
  g2_pool *pool = NULL;
  if (status == GPT2_OK && total > 0) status = g2_pool_new(n_threads, &pool);

  /* Nothing below fails but a cancel by the progress callback (the last
     report, 1, is gpt2_load's), after which gpt2_load frees the model: a
     matrix is switched to its converted copy once complete. */
  size_t converted = 0;
  for (size_t i = 0; i < count && status == GPT2_OK; i++) {
    named_matrix *item = &items[i];
    if (!needs_conversion(item)) continue;
    unsigned char *out = arena;
    arena += (item->bytes + 63) / 64 * 64;
    convert_matrix(model, item, out, scratch, scratch_floats, pool);
    item->matrix->data = out;
    item->matrix->dtype = item->dtype;
    item->matrix->layout = item->layout;
    converted += (item->bytes + 63) / 64 * 64;
    if (converted < total) status = g2_progress_report(progress, (double)converted / (double)total);
  }
  if (tied) model->lm_head = model->wte;
  g2_pool_free(pool);
  g2_free(scratch);
  g2_free(items);
  return status;
}
