/* The SIMD kernels, written once over a small vector interface that each
   instruction-set file (avx2.c, avx512.c, neon.c) defines before including
   this file, under its own target attributes:

     vf, VLEN                    vector of VLEN floats
     vf_zero, vf_set1, vf_load, vf_store (unaligned), vf_add, vf_sub, vf_mul,
     vf_div, vf_max, vf_min, vf_fma(a, b, c) = a * b + c (fused)
     vf_sum                      horizontal sum, in a fixed order
     HAVE_SUM_LANES (optional)   vf_sum_lanes(v): lane l = vf_sum(v[l]) for
                                 VLEN vectors, bit for bit
     vf_load_f16, vf_load_bf16   VLEN 16-bit floats -> floats (exact)
     vf_from_i8(p)               VLEN int8 -> floats
     vf_from_nibbles(p, high)    VLEN bytes' low or high nibbles, minus 8
     vf_round, vf_exp2i          round to nearest; 2^n for integral n in
                                 [-126, 127]
     half_to_float               one F16 value
     HAVE_NIBBLE_TABLE (optional) nibble_table(scale): scale * (i - 8) for
                                 i < 16; nibble_lookup(table, p, high): the
                                 VLEN nibbles' entries (Q4_0 in 3 ops)
     HAVE_K_UNPACK (optional)    k_unpack(dtype, block, q, step, offset):
                                 g2_k_unpack's results (q 32-byte aligned)
                                 and b32_unpack(...): g2_b32_unpack's
     NK_ROWS, NK_TOKS            NK register tile: weight rows x tokens
     NK_DECODE_ROWS (optional)   NK rows at a time of one token, float types
     KN_PASS_ROWS (optional)     KN rows per pass of kn_stream (8; at most 16)
     KN_VECS, KN_TOKS            KN register tile: column vectors x tokens
     VECTOR_KERNELS, MATMUL_FOR  the names of the g2_vector_kernels object
                                 and of the matmul finder (kernels.h)

   Determinism: every output element of a matrix product is one chain of
   fused multiply-adds in k order (KN: one lane per element; NK: VLEN
   lane partial sums, then vf_sum), started from zero, with the bias added
   last. Tiles, tails, packing and the column or token split only decide
   which elements run side by side, never an element's own chain, so the
   value does not depend on how the caller splits the work. A partial sum
   kept in memory between blocks of k is stored exactly, and a scalar tail
   uses fmaf, which rounds as one vector lane does. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "gpt2.h"
#include "kernels/kernels.h"
#include "tensor/kquant.h"
#include "tensor/quant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define TILE_MAX 8 /* bound on NK_ROWS, NK_DECODE_ROWS, NK_TOKS, KN_VECS, KN_TOKS */
#if !defined(NK_DECODE_ROWS)
#define NK_DECODE_ROWS NK_ROWS
#endif
/* kn_stream's rows per pass (their weights, or x, held in registers) */
#if !defined(KN_PASS_ROWS)
#define KN_PASS_ROWS 8
#endif
/* nk_tile's accumulators: a batch tile, or one token's NK_DECODE_ROWS */
#define NK_TILE_ACCS (NK_TOKS * NK_ROWS > NK_DECODE_ROWS ? NK_TOKS * NK_ROWS : NK_DECODE_ROWS)

enum {
  /* Tokens per NK block: their activations stay in the L2 cache while the
     block of weight rows streams past them. */
  NK_X_BLOCK_BYTES = 256 * 1024,
  /* F32 NK batch tiles walk k in spans of NK_KC or more (below 2 NK_KC),
     so that a tile's rows and tokens (NK_ROWS + NK_TOKS spans of 3 KiB or
     more) stay in L1; the partial sums wait in the work area between spans
     (at most NK_X_BLOCK_BYTES / (NK_KC * 4) tokens' tiles). Whole rows:
     768 x 3072 (mlp_down), 512 tokens, avx512, one thread, 95 GFLOP/s
     against 123 for rows of 768 or 1024. */
  NK_KC = 768,
  /* The longest span: n_in / (n_in / NK_KC) < 2 NK_KC, rounded up to whole
     blocks of the type (32 or 256 values, or VLEN), which divide 2 NK_KC. */
  NK_SPAN_MAX = 2 * NK_KC,
  NK_CARRY_FLOATS = (NK_X_BLOCK_BYTES / (NK_KC * 4) / NK_TOKS + 1) * NK_TOKS * NK_ROWS * VLEN,
  /* KN batches pack KN_KC rows x (KN_VECS * VLEN) columns of weights as
     floats (64 KiB, in L2; measured better than 32 or 128 KiB) and reuse
     them for every token. */
  KN_PANEL_FLOATS = 16384,
  KN_COLS = KN_VECS * VLEN,
  KN_KC = KN_PANEL_FLOATS / KN_COLS,
  /* Rows ahead that packing prefetches into L2. */
  KN_PACK_AHEAD = 8,
  /* One token or a small batch, KN (kn_stream): the tokens' column sums
     accumulated in an L1-resident buffer while each weight row streams
     through once; up to KN_FEW_TOKS tokens (more pack, matmul_kn_batch). */
  KN_STREAM_SUMS = 2048,
  KN_FEW_TOKS = 16
};

/* The matmuls' buffers in the work area (kernels.h); one at a time. */
typedef union simd_work {
  struct {
    float panel[NK_ROWS * NK_SPAN_MAX];     /* a span of NK rows as floats */
    float carry[NK_CARRY_FLOATS];           /* NK tiles' partial sums between spans of k */
  } nk;
  float kn_panel[KN_KC * KN_COLS];           /* KN weights packed as floats */
  float kn_sums[KN_STREAM_SUMS];             /* KN small-batch column sums */
  struct {                                   /* NK one token, unpacked types: a span of NK_ROWS rows */
    int8_t q[NK_ROWS][G2_QK_K];
    float step[NK_ROWS][G2_K_GROUPS_MAX], offset[NK_ROWS][G2_K_GROUPS_MAX];
  } k_block;
} simd_work;
_Static_assert(sizeof(simd_work) <= G2_KERNEL_WORK_BYTES, "generic_simd.h's buffers fit the work area");

/* ---- weight access ---- */

static ALWAYS_INLINE uint16_t load_u16(const unsigned char *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Weights k .. k+VLEN-1 of a row: the same float values g2_dequantize gives
   (block types: d * q, rounded once). Block types need k % 32 + VLEN <= 32,
   which VLEN dividing 32 guarantees for k a multiple of VLEN. */
static ALWAYS_INLINE vf load_weights(g2_dtype dtype, const unsigned char *row, size_t k) {
  switch (dtype) {
    case G2_DT_F16:
      return vf_load_f16(row + 2 * k);
    case G2_DT_BF16:
      return vf_load_bf16(row + 2 * k);
    case G2_DT_Q8_0: {
      const unsigned char *block = row + k / G2_QK8_0 * G2_Q8_0_BLOCK_BYTES;
      vf scale = vf_set1(half_to_float(load_u16(block)));
      return vf_mul(scale, vf_from_i8(block + 2 + k % G2_QK8_0));
    }
    case G2_DT_Q4_0: {
      const unsigned char *block = row + k / G2_QK4_0 * G2_Q4_0_BLOCK_BYTES;
      size_t element = k % G2_QK4_0;
      vf scale = vf_set1(half_to_float(load_u16(block)));
      return vf_mul(scale, vf_from_nibbles(block + 2 + element % 16, element >= 16));
    }
    default:
      return vf_load((const float *)(const void *)(row + 4 * k));
  }
}

#if !defined(HAVE_K_UNPACK)
#define k_unpack g2_k_unpack
#define b32_unpack g2_b32_unpack
#endif

/* The types kquant.h unpacks (the K types and Q4_1, Q5_0, Q5_1, IQ4_NL)
   are read a span at a time: values k0 .. k0 + n of a row, k0 a multiple
   of 256 and n = 256 or, for the 32-value blocks, the rest of the row (a
   multiple of 32: n_in 1600 and 6400 end in half spans). A span is one
   super-block, or up to 8 blocks of 32 whose one group each lands in
   step[b], offset[b]. block_bytes: the bytes of one block (or super-block). */
static ALWAYS_INLINE void unpack_span(g2_dtype dtype, const unsigned char *row, size_t block_bytes, size_t k0,
                                      size_t n, int8_t *q, float *step, float *offset) {
  if (!g2_is_b32_type(dtype)) {
    k_unpack(dtype, row + k0 / G2_QK_K * block_bytes, q, step, offset);
    return;
  }
  for (size_t b = 0; b < n / 32; b++)
    b32_unpack(dtype, row + (k0 / 32 + b) * block_bytes, q + 32 * b, step + b, offset + b);
}

static ALWAYS_INLINE size_t span_length(g2_dtype dtype, size_t n_in, size_t k0) {
  return g2_is_b32_type(dtype) && n_in - k0 < G2_QK_K ? n_in - k0 : G2_QK_K;
}

/* Values i .. i + VLEN of an unpacked span: step * q - offset, rounded as
   g2_dequantize does. An offset of +0 changes no value, so the types
   without a min skip its subtraction. */
static ALWAYS_INLINE vf k_values(g2_dtype dtype, const int8_t *q, const float *step, const float *offset,
                                 size_t i) {
  unsigned shift = g2_k_group(dtype) == 16 ? 4 : 5;
  vf scaled = vf_mul(vf_set1(step[i >> shift]), vf_from_i8(q + i));
  return g2_k_has_offset(dtype) ? vf_sub(scaled, vf_set1(offset[i >> shift])) : scaled;
}

/* Values k0 .. k1 of a row of an unpacked type into out[0 .. k1 - k0):
   g2_dequantize's values, the unpacking compiled for this table. k0 is a
   multiple of 256, and so is k1 unless it ends the row. */
static ALWAYS_INLINE void dequantize_spans(g2_dtype dtype, const unsigned char *row, size_t k0, size_t k1,
                                           float *out) {
  size_t block_bytes = g2_dtype_row_bytes(dtype, g2_dtype_block_size(dtype));
  for (size_t s = k0; s < k1; s += G2_QK_K) {
    _Alignas(64) int8_t q[G2_QK_K];
    float step[G2_K_GROUPS_MAX], offset[G2_K_GROUPS_MAX];
    size_t length = span_length(dtype, k1, s);
    unpack_span(dtype, row, block_bytes, s, length, q, step, offset);
    for (size_t i = 0; i < length; i += VLEN) vf_store(out + (s - k0) + i, k_values(dtype, q, step, offset, i));
  }
}

/* Values k0 .. k1 of a row as floats into out[0 .. k1 - k0): the values
   g2_dequantize gives, by this table's SIMD code. k0 is a multiple of the
   type's block, and so is k1 unless it ends the row (unpacked types: of
   256, as their spans). Each unpacked type has its own copy, the dtype a
   constant in it. */
static void dequantize_range(g2_dtype dtype, const unsigned char *row, size_t k0, size_t k1, float *out) {
  switch (dtype) {
    case G2_DT_Q6_K: dequantize_spans(G2_DT_Q6_K, row, k0, k1, out); return;
    case G2_DT_Q4_K: dequantize_spans(G2_DT_Q4_K, row, k0, k1, out); return;
    case G2_DT_Q5_K: dequantize_spans(G2_DT_Q5_K, row, k0, k1, out); return;
    case G2_DT_Q2_K: dequantize_spans(G2_DT_Q2_K, row, k0, k1, out); return;
    case G2_DT_Q3_K: dequantize_spans(G2_DT_Q3_K, row, k0, k1, out); return;
    case G2_DT_IQ4_XS: dequantize_spans(G2_DT_IQ4_XS, row, k0, k1, out); return;
    case G2_DT_Q4_1: dequantize_spans(G2_DT_Q4_1, row, k0, k1, out); return;
    case G2_DT_Q5_0: dequantize_spans(G2_DT_Q5_0, row, k0, k1, out); return;
    case G2_DT_Q5_1: dequantize_spans(G2_DT_Q5_1, row, k0, k1, out); return;
    case G2_DT_IQ4_NL: dequantize_spans(G2_DT_IQ4_NL, row, k0, k1, out); return;
    default: break;
  }
  size_t k = k0;
  if (dtype == G2_DT_F16 || dtype == G2_DT_BF16 || dtype == G2_DT_Q8_0 || dtype == G2_DT_Q4_0)
    for (; k + VLEN <= k1; k += VLEN) vf_store(out + (k - k0), load_weights(dtype, row, k));
  if (k < k1) g2_dequantize(dtype, row, (int64_t)k, (int64_t)(k1 - k), out + (k - k0));
}

/* n < VLEN floats, zeros after them. */
static inline vf load_partial(const float *p, size_t n) {
  float lanes[VLEN] = {0};
  memcpy(lanes, p, n * sizeof(float));
  return vf_load(lanes);
}

static inline void store_partial(float *p, vf v, size_t n) {
  float lanes[VLEN];
  vf_store(lanes, v);
  memcpy(p, lanes, n * sizeof(float));
}

/* Weights k .. k+n-1 (n < VLEN, float types), zeros after them. */
static inline vf load_weights_partial(g2_dtype dtype, const unsigned char *row, size_t k, size_t n) {
  float lanes[VLEN] = {0};
  g2_dequantize(dtype, row, (int64_t)k, (int64_t)n, lanes);
  return vf_load(lanes);
}

static ALWAYS_INLINE vf load_cols(const float *p, size_t n) {
  return n >= VLEN ? vf_load(p) : load_partial(p, n);
}

static ALWAYS_INLINE void store_cols(float *p, vf v, size_t n) {
  if (n >= VLEN)
    vf_store(p, v);
  else
    store_partial(p, v, n);
}

/* ---- NK: out[t][j] = x[t] . row j ---- */

/* The part [begin, end) of k that an F32 tile covers, where its partial
   sums wait between parts (nt * nr vectors), and the k that the tile's
   rows start at (0 for a matrix's rows, begin for a span of the panel). */
typedef struct nk_span {
  size_t begin, end;
  float *carry;
  size_t origin;
} nk_span;

/* nt tokens x nr rows: sums[t][r] = x[t][0..n_in) . rows[r][0..n_in).
   dtype, nt and nr are constants after inlining. `ahead` (NULL for rows
   in the caches): per row, where to prefetch into L2 as the row is read,
   at the same offset (the matrix a distance ahead, or another block of
   rows). `span` (F32 only; NULL for all of k): the part of k to add, from
   and to its carry unless it starts or ends the row, and where the rows
   start; sums are written at the row's end. */
static ALWAYS_INLINE void nk_tile(g2_dtype dtype, size_t nt, size_t nr, const unsigned char *const *ahead,
                                  const unsigned char *const *rows, size_t n_in, const nk_span *span,
                                  const float *x, size_t x_stride, float sums[TILE_MAX][TILE_MAX]) {
  int resume = span && span->begin > 0, suspend = span && span->end < n_in;
  /* the rows start at k = origin (moving the x pointers instead measured
     5% slower on XL's F16 panels: gcc kept them on the stack) */
  size_t origin = span ? span->origin : 0, k = span ? span->begin : 0, k_end = span ? span->end : n_in;
  vf acc[NK_TILE_ACCS]; /* token t, row r: acc[t * nr + r] */
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t r = 0; r < nr; r++) acc[t * nr + r] = resume ? vf_load(span->carry + (t * nr + r) * VLEN) : vf_zero();
  if (dtype == G2_DT_Q8_0 || dtype == G2_DT_Q4_0) { /* a block at a time: one scale per row */
    size_t block_bytes = dtype == G2_DT_Q8_0 ? G2_Q8_0_BLOCK_BYTES : G2_Q4_0_BLOCK_BYTES;
    for (; k < k_end; k += 32) {
      const unsigned char *blocks[TILE_MAX];
      vf scales[TILE_MAX];
#pragma GCC unroll 8
      for (size_t r = 0; r < nr; r++) {
        blocks[r] = rows[r] + k / 32 * block_bytes;
        /* rows of ~1 KB are too short for the hardware to learn the streams */
        if (ahead) __builtin_prefetch(ahead[r] + k / 32 * block_bytes, 0, 2); /* each block: faster than each line */
        scales[r] = vf_set1(half_to_float(load_u16(blocks[r])));
#if defined(HAVE_NIBBLE_TABLE)
        if (dtype == G2_DT_Q4_0) scales[r] = nibble_table(scales[r]);
#endif
      }
#pragma GCC unroll 8
      for (size_t c = 0; c < 32; c += VLEN) {
        vf weights[TILE_MAX];
#pragma GCC unroll 8
        for (size_t r = 0; r < nr; r++) {
#if defined(HAVE_NIBBLE_TABLE)
          if (dtype == G2_DT_Q4_0) {
            weights[r] = nibble_lookup(scales[r], blocks[r] + 2 + c % 16, c >= 16);
            continue;
          }
#endif
          weights[r] = vf_mul(scales[r], dtype == G2_DT_Q8_0 ? vf_from_i8(blocks[r] + 2 + c)
                                                             : vf_from_nibbles(blocks[r] + 2 + c % 16, c >= 16));
        }
#pragma GCC unroll 8
        for (size_t t = 0; t < nt; t++) {
          vf xt = vf_load(x + t * x_stride + k + c);
#pragma GCC unroll 8
          for (size_t r = 0; r < nr; r++) acc[t * nr + r] = vf_fma(xt, weights[r], acc[t * nr + r]);
        }
      }
    }
  }
  size_t elem_bytes = dtype == G2_DT_F32 ? 4 : 2;
  for (; k + VLEN <= k_end; k += VLEN) {
    vf weights[TILE_MAX];
#pragma GCC unroll 8
    for (size_t r = 0; r < nr; r++) {
      if (ahead && (k * elem_bytes) % 64 == 0) /* short streams, as above */
        __builtin_prefetch(ahead[r] + k * elem_bytes, 0, 2);
      weights[r] = load_weights(dtype, rows[r], k - origin);
    }
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++) {
      vf xt = vf_load(x + t * x_stride + k);
#pragma GCC unroll 8
      for (size_t r = 0; r < nr; r++) acc[t * nr + r] = vf_fma(xt, weights[r], acc[t * nr + r]);
    }
  }
  if (k < k_end) { /* the row's end (spans end at multiples of VLEN); float types only: blocks are multiples of VLEN */
    vf weights[TILE_MAX];
    for (size_t r = 0; r < nr; r++) weights[r] = load_weights_partial(dtype, rows[r], k - origin, k_end - k);
    for (size_t t = 0; t < nt; t++) {
      vf xt = load_partial(x + t * x_stride + k, k_end - k);
      for (size_t r = 0; r < nr; r++) acc[t * nr + r] = vf_fma(xt, weights[r], acc[t * nr + r]);
    }
  }
  if (suspend) {
    for (size_t t = 0; t < nt; t++)
      for (size_t r = 0; r < nr; r++) vf_store(span->carry + (t * nr + r) * VLEN, acc[t * nr + r]);
    return;
  }
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t r = 0; r < nr; r++) sums[t][r] = vf_sum(acc[t * nr + r]);
}

static ALWAYS_INLINE void nk_tile_tokens(g2_dtype dtype, size_t nt, const unsigned char *const *ahead,
                                         const unsigned char *const *rows, size_t n_in, const nk_span *span,
                                         const float *x, size_t x_stride, float sums[TILE_MAX][TILE_MAX]) {
  switch (nt) {
    case 1: nk_tile(dtype, 1, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 2: if (NK_TOKS >= 2) nk_tile(dtype, 2, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 3: if (NK_TOKS >= 3) nk_tile(dtype, 3, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 4: if (NK_TOKS >= 4) nk_tile(dtype, 4, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 5: if (NK_TOKS >= 5) nk_tile(dtype, 5, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 6: if (NK_TOKS >= 6) nk_tile(dtype, 6, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    case 7: if (NK_TOKS >= 7) nk_tile(dtype, 7, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
    default: if (NK_TOKS >= 8) nk_tile(dtype, 8, NK_ROWS, ahead, rows, n_in, span, x, x_stride, sums); break;
  }
}

/* The non-F32 types stream from the matrix (prefetched `stream_distance`
   ahead), all of k at once; F32 rows are the matrix's, prefetched where
   `ahead` says, or the panel's (ahead NULL), a span of k at a time. */
static void nk_tile_any(g2_dtype dtype, size_t nt, const unsigned char *const *ahead, size_t stream_distance,
                        const unsigned char *const *rows, size_t n_in, const nk_span *span, const float *x,
                        size_t x_stride, float sums[TILE_MAX][TILE_MAX]) {
  const unsigned char *stream_ahead[TILE_MAX];
  for (size_t r = 0; r < NK_ROWS; r++) stream_ahead[r] = rows[r] + stream_distance;
  switch (dtype) {
    case G2_DT_F16: nk_tile_tokens(G2_DT_F16, nt, stream_ahead, rows, n_in, NULL, x, x_stride, sums); break;
    case G2_DT_BF16: nk_tile_tokens(G2_DT_BF16, nt, stream_ahead, rows, n_in, NULL, x, x_stride, sums); break;
    case G2_DT_Q8_0: nk_tile_tokens(G2_DT_Q8_0, nt, stream_ahead, rows, n_in, NULL, x, x_stride, sums); break;
    case G2_DT_Q4_0: nk_tile_tokens(G2_DT_Q4_0, nt, stream_ahead, rows, n_in, NULL, x, x_stride, sums); break;
    default: /* whole rows (span NULL) without the span's loads and stores */
      if (ahead && span)
        nk_tile_tokens(G2_DT_F32, nt, ahead, rows, n_in, span, x, x_stride, sums);
      else if (ahead)
        nk_tile_tokens(G2_DT_F32, nt, ahead, rows, n_in, NULL, x, x_stride, sums);
      else if (span)
        nk_tile_tokens(G2_DT_F32, nt, NULL, rows, n_in, span, x, x_stride, sums);
      else
        nk_tile_tokens(G2_DT_F32, nt, NULL, rows, n_in, NULL, x, x_stride, sums);
      break;
  }
}

/* One token of a float-type NK matrix, NK_DECODE_ROWS rows at a time: the
   product is bound by memory, and more rows than the batch tile keep more
   streams and independent chains in flight (missing rows repeat the first;
   each row's chain is the batch tile's). */
static ALWAYS_INLINE void nk_decode_float(g2_dtype dtype, const g2_matrix *w, const float *x, const float *bias,
                                          float *out, size_t col_begin, size_t col_end) {
  size_t n_in = (size_t)w->n_in, row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  size_t distance = g2_prefetch_ahead(NK_DECODE_ROWS, row_bytes);
  float sums[TILE_MAX][TILE_MAX];
  for (size_t j0 = col_begin; j0 < col_end; j0 += NK_DECODE_ROWS) {
    size_t n_rows = col_end - j0 < NK_DECODE_ROWS ? col_end - j0 : NK_DECODE_ROWS;
    const unsigned char *rows[TILE_MAX], *ahead[TILE_MAX];
    for (size_t r = 0; r < NK_DECODE_ROWS; r++) {
      rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
      ahead[r] = rows[r] + distance;
    }
    nk_tile(dtype, 1, NK_DECODE_ROWS, ahead, rows, n_in, NULL, x, 0, sums);
    for (size_t r = 0; r < n_rows; r++) out[j0 + r] = sums[0][r] + (bias ? bias[j0 + r] : 0.0f);
  }
}

/* The one-token NK matmuls of the float types (n_tok = 1). */
#define NK_DECODE_FLOAT(name, dtype)                                                                    \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias, \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {        \
    (void)n_tok, (void)x_stride, (void)out_stride, (void)work;                                           \
    nk_decode_float(dtype, w, x, bias, out, col_begin, col_end);                                         \
  }
NK_DECODE_FLOAT(nk_decode_f32, G2_DT_F32)
NK_DECODE_FLOAT(nk_decode_f16, G2_DT_F16)
NK_DECODE_FLOAT(nk_decode_bf16, G2_DT_BF16)

/* One token of an NK matrix of an unpacked type, NK_ROWS rows at a time:
   each span of the rows unpacked, then multiplied with x in registers, in
   the chains nk_tile runs on rows dequantized into the panel (the same
   bits, without writing and reading back the panel). */
static ALWAYS_INLINE void nk_decode_k_type(g2_dtype dtype, const g2_matrix *w, const float *x, const float *bias,
                                           float *out, size_t col_begin, size_t col_end, simd_work *work) {
  size_t n_in = (size_t)w->n_in, row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  size_t block_values = (size_t)g2_dtype_block_size(dtype);
  size_t block_bytes = g2_dtype_row_bytes(dtype, (int64_t)block_values);
  for (size_t j0 = col_begin; j0 < col_end; j0 += NK_ROWS) {
    size_t n_rows = col_end - j0 < NK_ROWS ? col_end - j0 : NK_ROWS;
    const unsigned char *rows[TILE_MAX];
    vf acc[NK_ROWS];
    for (size_t r = 0; r < NK_ROWS; r++) { /* missing rows repeat the first */
      rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
      acc[r] = vf_zero();
    }
    int8_t(*q)[G2_QK_K] = work->k_block.q;
    float(*step)[G2_K_GROUPS_MAX] = work->k_block.step, (*offset)[G2_K_GROUPS_MAX] = work->k_block.offset;
    for (size_t k0 = 0; k0 < n_in; k0 += G2_QK_K) {
      size_t length = span_length(dtype, n_in, k0), span_bytes = length / block_values * block_bytes;
      for (size_t r = 0; r < NK_ROWS; r++) {
        const unsigned char *span = rows[r] + k0 / block_values * block_bytes;
        for (size_t at = 0; at < span_bytes; at += 64) __builtin_prefetch(span + at + G2_PREFETCH_BYTES, 0, 2);
        unpack_span(dtype, rows[r], block_bytes, k0, length, q[r], step[r], offset[r]);
      }
      for (size_t i = 0; i < length; i += VLEN) {
        vf xv = vf_load(x + k0 + i);
#pragma GCC unroll 8
        for (size_t r = 0; r < NK_ROWS; r++) acc[r] = vf_fma(xv, k_values(dtype, q[r], step[r], offset[r], i), acc[r]);
      }
    }
    for (size_t r = 0; r < n_rows; r++) out[j0 + r] = vf_sum(acc[r]) + (bias ? bias[j0 + r] : 0.0f);
  }
}

/* The one-token matmuls of the unpacked types (the same chains as the
   panel's). */
#define NK_DECODE_K(name, dtype)                                                                        \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias, \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {        \
    (void)n_tok, (void)x_stride, (void)out_stride;                                                       \
    nk_decode_k_type(dtype, w, x, bias, out, col_begin, col_end, work);                                  \
  }
NK_DECODE_K(nk_decode_q6_k, G2_DT_Q6_K)
NK_DECODE_K(nk_decode_q4_k, G2_DT_Q4_K)
NK_DECODE_K(nk_decode_q5_k, G2_DT_Q5_K)
NK_DECODE_K(nk_decode_q2_k, G2_DT_Q2_K)
NK_DECODE_K(nk_decode_q3_k, G2_DT_Q3_K)
NK_DECODE_K(nk_decode_iq4_xs, G2_DT_IQ4_XS)
NK_DECODE_K(nk_decode_q4_1, G2_DT_Q4_1)
NK_DECODE_K(nk_decode_q5_0, G2_DT_Q5_0)
NK_DECODE_K(nk_decode_q5_1, G2_DT_Q5_1)
NK_DECODE_K(nk_decode_iq4_nl, G2_DT_IQ4_NL)

/* Lines [begin, end) into L2. */
static inline void prefetch_lines(const unsigned char *begin, const unsigned char *end) {
  for (uintptr_t line = (uintptr_t)begin & ~(uintptr_t)63; line < (uintptr_t)end; line += 64)
    __builtin_prefetch((const void *)line, 0, 2);
}

/* Any n_tok; unpacked types in batches only (their one-token path is
   nk_decode_k_type). */
static void matmul_nk(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                      const float *bias, float *out, size_t out_stride, size_t col_begin,
                      size_t col_end, void *work) {
  g2_dtype dtype = w->dtype;
  size_t n_in = (size_t)w->n_in, row_bytes = g2_dtype_row_bytes(dtype, w->n_in);
  int k_type = g2_k_unpacks(dtype);
  /* Up to NK_TOKS tokens (one tile) convert the weights in registers as
     they stream, as one token does; more convert each span of k of a block
     of rows once per block of tokens into the panel, and the unpacked
     types always do: their rows unpack a span at a time. */
  int use_panel = (n_tok > NK_TOKS || k_type) && dtype != G2_DT_F32;
  size_t stream_distance = g2_prefetch_ahead(NK_ROWS, row_bytes); /* rows streamed from the matrix */

  /* F32 tiles (the matrix's rows, or the panel's) take k in equal spans of
     NK_KC to 2 NK_KC (rows of 1024 and 1280 measured as fast whole as in
     two spans), whole blocks of the type (the unpacked types' spans of
     256), and read that span of each token's activations at a time */
  size_t align = k_type ? G2_QK_K : dtype == G2_DT_Q8_0 || dtype == G2_DT_Q4_0 ? 32 : VLEN;
  size_t spans = n_in / NK_KC ? n_in / NK_KC : 1, kc = (n_in / spans + align - 1) / align * align;
  size_t span_in = dtype == G2_DT_F32 || use_panel ? kc : n_in;
  int spanned = span_in < n_in; /* whole rows need no carry */
  size_t token_block = NK_X_BLOCK_BYTES / (kc * sizeof(float) + 1) / NK_TOKS * NK_TOKS;
  if (token_block < NK_TOKS) token_block = NK_TOKS;
  float *restrict panel = ((simd_work *)work)->nk.panel, *carry = ((simd_work *)work)->nk.carry;
  float sums[TILE_MAX][TILE_MAX];
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    size_t tiles = (t_end - t0 + NK_TOKS - 1) / NK_TOKS;
    int spread = tiles <= NK_ROWS; /* F32 rows: see `ahead` below */
    for (size_t j0 = col_begin; j0 < col_end; j0 += NK_ROWS) {
      size_t n_rows = col_end - j0 < NK_ROWS ? col_end - j0 : NK_ROWS;
      const unsigned char *rows[TILE_MAX], *tile_rows[TILE_MAX];
      for (size_t r = 0; r < NK_ROWS; r++) { /* missing rows repeat the first */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : 0)) * row_bytes;
        tile_rows[r] = use_panel ? (const unsigned char *)(panel + (r < n_rows ? r : 0) * NK_SPAN_MAX) : rows[r];
      }
      for (size_t k0 = 0; k0 < n_in; k0 += span_in) {
        size_t k1 = n_in - k0 < span_in ? n_in : k0 + span_in;
        if (use_panel)
          for (size_t r = 0; r < n_rows; r++) dequantize_range(dtype, rows[r], k0, k1, panel + r * NK_SPAN_MAX);
        /* The panel's next span (of these rows, or the next block's
           first), into L2 a share per tile, so that converting it finds it
           there: all at once, the prefetches waited for fill buffers and
           the conversion still waited for memory (F16 pp512, perf). */
        size_t next_j0 = k1 < n_in ? j0 : j0 + NK_ROWS, next_k0 = k1 < n_in ? k1 : 0;
        size_t next_rows = !use_panel || next_j0 >= col_end ? 0 : col_end - next_j0 < NK_ROWS ? col_end - next_j0 : NK_ROWS;
        const unsigned char *next = (const unsigned char *)w->data + next_j0 * row_bytes;
        size_t next_begin = g2_dtype_row_bytes(dtype, (int64_t)next_k0);
        size_t next_bytes = g2_dtype_row_bytes(dtype, (int64_t)(n_in - next_k0 < span_in ? n_in : next_k0 + span_in)) - next_begin;
        for (size_t t = t0; t < t_end; t += NK_TOKS) {
          size_t nt = t_end - t < NK_TOKS ? t_end - t : NK_TOKS, tile = (t - t0) / NK_TOKS;
          for (size_t r = 0; r < next_rows; r++) {
            const unsigned char *span_bytes = next + r * row_bytes + next_begin;
            prefetch_lines(span_bytes + next_bytes * tile / tiles, span_bytes + next_bytes * (tile + 1) / tiles);
          }
          /* F32 rows read from the matrix. Up to NK_ROWS tiles of tokens
             (generating several sequences): the next block of rows is
             prefetched across this block's tiles, tile i taking rows i,
             i + tiles, ... (prefetching its other rows again, in L1
             already), so that memory streams while the tiles compute. More
             tiles (prompts): the first prefetches G2_PREFETCH_BYTES ahead,
             the rest compute from the caches (spreading measured 3% slower
             there: 21 tiles of prefetch instructions, mostly for lines in
             L1). */
          const unsigned char *ahead[TILE_MAX];
          for (size_t r = 0; r < NK_ROWS; r++)
            ahead[r] = rows[r] + (!spread ? G2_PREFETCH_BYTES : r % tiles == tile ? NK_ROWS * row_bytes : 0);
          int prefetching = !use_panel && (spread || tile == 0);
          nk_span span = {k0, k1, carry + tile * NK_TOKS * NK_ROWS * VLEN, use_panel ? k0 : 0};
          nk_tile_any(use_panel ? G2_DT_F32 : dtype, nt, prefetching ? ahead : NULL, stream_distance, tile_rows,
                      n_in, spanned ? &span : NULL, x + t * x_stride, x_stride, sums);
          if (k1 < n_in) continue;
          for (size_t i = 0; i < nt; i++)
            for (size_t r = 0; r < n_rows; r++)
              out[(t + i) * out_stride + j0 + r] = sums[i][r] + (bias ? bias[j0 + r] : 0.0f);
        }
      }
    }
  }
}

/* ---- KN: out[t][j] = sum_k x[t][k] W[k][j] ---- */

/* nt tokens x KN_VECS vectors of a packed panel (rows KN_COLS floats apart):
   continues the partial sums in `out` (or starts from zero), over n_k rows;
   adds the bias after the last block. Stores n_cols columns. */
static ALWAYS_INLINE void kn_tile(size_t nt, const float *panel, size_t n_k, const float *x,
                                  size_t x_stride, float *out, size_t out_stride, size_t n_cols,
                                  int first, const float *bias) {
  vf acc[KN_TOKS][KN_VECS];
#pragma GCC unroll 8
  for (size_t t = 0; t < nt; t++)
#pragma GCC unroll 8
    for (size_t v = 0; v < KN_VECS; v++) {
      size_t col = v * VLEN;
      acc[t][v] = first || col >= n_cols ? vf_zero() : load_cols(out + t * out_stride + col, n_cols - col);
    }
  for (size_t k = 0; k < n_k; k++) {
    vf weights[KN_VECS];
#pragma GCC unroll 8
    for (size_t v = 0; v < KN_VECS; v++) weights[v] = vf_load(panel + k * KN_COLS + v * VLEN);
#pragma GCC unroll 8
    for (size_t t = 0; t < nt; t++) {
      vf xk = vf_set1(x[t * x_stride + k]);
#pragma GCC unroll 8
      for (size_t v = 0; v < KN_VECS; v++) acc[t][v] = vf_fma(xk, weights[v], acc[t][v]);
    }
  }
  for (size_t t = 0; t < nt; t++)
    for (size_t v = 0; v < KN_VECS; v++) {
      size_t col = v * VLEN;
      if (col >= n_cols) break;
      vf sum = bias ? vf_add(acc[t][v], load_cols(bias + col, n_cols - col)) : acc[t][v];
      store_cols(out + t * out_stride + col, sum, n_cols - col);
    }
}

static void kn_tile_any(size_t nt, const float *panel, size_t n_k, const float *x, size_t x_stride,
                        float *out, size_t out_stride, size_t n_cols, int first, const float *bias) {
  switch (nt) {
    case 1: kn_tile(1, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 2: if (KN_TOKS >= 2) kn_tile(2, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 3: if (KN_TOKS >= 3) kn_tile(3, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 4: if (KN_TOKS >= 4) kn_tile(4, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 5: if (KN_TOKS >= 5) kn_tile(5, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 6: if (KN_TOKS >= 6) kn_tile(6, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    case 7: if (KN_TOKS >= 7) kn_tile(7, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
    default: if (KN_TOKS >= 8) kn_tile(8, panel, n_k, x, x_stride, out, out_stride, n_cols, first, bias); break;
  }
}

/* Rows k0 .. k0+n_k-1, columns j0 .. j0+n_cols-1 of W as floats, KN_COLS
   per row, zero-padded on the right. */
static void kn_pack(const g2_matrix *w, size_t row_bytes, size_t k0, size_t n_k, size_t j0,
                    size_t n_cols, float *panel) {
  size_t elem_bytes = w->dtype == G2_DT_F32 ? 4 : 2;
  for (size_t k = 0; k < n_k; k++) {
    const unsigned char *row = (const unsigned char *)w->data + (k0 + k) * row_bytes;
    float *dst = panel + k * KN_COLS;
    if (k + KN_PACK_AHEAD < n_k) /* short pieces of far-apart rows: the hardware does not follow */
      for (size_t byte = 0; byte < n_cols * elem_bytes; byte += 64)
        __builtin_prefetch(row + KN_PACK_AHEAD * row_bytes + j0 * elem_bytes + byte, 0, 2);
    size_t c = 0;
    if (w->dtype == G2_DT_F32) {
      memcpy(dst, row + 4 * j0, n_cols * sizeof(float));
      c = n_cols;
    } else if (w->dtype == G2_DT_BF16) {
      for (; c + VLEN <= n_cols; c += VLEN) vf_store(dst + c, load_weights(G2_DT_BF16, row, j0 + c));
    } else {
      for (; c + VLEN <= n_cols; c += VLEN) vf_store(dst + c, load_weights(G2_DT_F16, row, j0 + c));
    }
    if (c < n_cols) g2_dequantize(w->dtype, row, (int64_t)(j0 + c), (int64_t)(n_cols - c), dst + c);
    memset(dst + n_cols, 0, (KN_COLS - n_cols) * sizeof(float));
  }
}

static void matmul_kn_batch(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                            const float *bias, float *out, size_t out_stride, size_t col_begin,
                            size_t col_end, simd_work *work) {
  size_t n_in = (size_t)w->n_in;
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_out);
  float *restrict panel = work->kn_panel;
  for (size_t j0 = col_begin; j0 < col_end; j0 += KN_COLS) {
    size_t n_cols = col_end - j0 < KN_COLS ? col_end - j0 : KN_COLS;
    for (size_t k0 = 0; k0 < n_in; k0 += KN_KC) {
      size_t n_k = n_in - k0 < KN_KC ? n_in - k0 : KN_KC;
      int last = k0 + n_k == n_in;
      kn_pack(w, row_bytes, k0, n_k, j0, n_cols, panel);
      for (size_t t = 0; t < n_tok; t += KN_TOKS) {
        size_t nt = n_tok - t < KN_TOKS ? n_tok - t : KN_TOKS;
        kn_tile_any(nt, panel, n_k, x + t * x_stride + k0, x_stride, out + t * out_stride + j0,
                    out_stride, n_cols, k0 == 0, last && bias ? bias + j0 : NULL);
      }
    }
  }
}

/* One token or a small batch (n_tok <= KN_FEW_TOKS): each weight row
   streams through once, KN_PASS_ROWS rows at a time, into every token's sums,
   kept in L1 (KN_STREAM_SUMS floats: a chunk of columns per token). Each
   element is the chain of the packed path: fused multiply-adds from zero
   in k order, the bias last. */
static ALWAYS_INLINE void kn_stream(g2_dtype dtype, size_t n_tok, const g2_matrix *w, const float *x,
                                    size_t x_stride, const float *bias, float *out, size_t out_stride,
                                    size_t col_begin, size_t col_end, simd_work *work) {
  size_t n_in = (size_t)w->n_in;
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_out);
  size_t elem_bytes = dtype == G2_DT_F32 ? 4 : 2;
  size_t chunk = KN_STREAM_SUMS / n_tok / VLEN * VLEN; /* columns per pass, n_tok <= KN_FEW_TOKS */
  float *restrict acc = work->kn_sums;
  for (size_t j0 = col_begin; j0 < col_end; j0 += chunk) {
    size_t n_cols = col_end - j0 < chunk ? col_end - j0 : chunk;
    size_t n_full = n_cols / VLEN * VLEN;
    memset(acc, 0, n_tok * chunk * sizeof(float)); /* token t's sums at acc + t * chunk */
    size_t k = 0;
    for (; k + KN_PASS_ROWS <= n_in; k += KN_PASS_ROWS) { /* KN_PASS_ROWS rows per pass over the sums */
      const unsigned char *row = (const unsigned char *)w->data + k * row_bytes;
      vf xs[KN_PASS_ROWS];
#pragma GCC unroll 16
      for (size_t i = 0; i < KN_PASS_ROWS; i++) xs[i] = vf_set1(x[k + i]);
      for (size_t c = 0; c < n_full; c += VLEN) {
        if (k + 2 * KN_PASS_ROWS <= n_in) /* the next pass's rows, into L2 (see G2_PREFETCH_BYTES) */
#pragma GCC unroll 16
          for (size_t i = 0; i < KN_PASS_ROWS; i++) __builtin_prefetch(row + (KN_PASS_ROWS + i) * row_bytes + elem_bytes * (j0 + c), 0, 2);
        if (n_tok == 1) { /* the activations stay in registers */
          vf sum = vf_load(acc + c);
#pragma GCC unroll 16
          for (size_t i = 0; i < KN_PASS_ROWS; i++) sum = vf_fma(xs[i], load_weights(dtype, row + i * row_bytes, j0 + c), sum);
          vf_store(acc + c, sum);
          continue;
        }
        vf weights[KN_PASS_ROWS];
#pragma GCC unroll 16
        for (size_t i = 0; i < KN_PASS_ROWS; i++) weights[i] = load_weights(dtype, row + i * row_bytes, j0 + c);
        for (size_t t = 0; t < n_tok; t++) {
          const float *xt = x + t * x_stride + k;
          vf sum = vf_load(acc + t * chunk + c);
#pragma GCC unroll 16
          for (size_t i = 0; i < KN_PASS_ROWS; i++) sum = vf_fma(vf_set1(xt[i]), weights[i], sum);
          vf_store(acc + t * chunk + c, sum);
        }
      }
    }
    for (; k < n_in; k++) {
      const unsigned char *row = (const unsigned char *)w->data + k * row_bytes;
      for (size_t c = 0; c < n_full; c += VLEN) {
        vf weight = load_weights(dtype, row, j0 + c);
        for (size_t t = 0; t < n_tok; t++)
          vf_store(acc + t * chunk + c, vf_fma(vf_set1(x[t * x_stride + k]), weight, vf_load(acc + t * chunk + c)));
      }
    }
    for (size_t c = n_full; c < n_cols; c++) /* columns left of a vector */
      for (k = 0; k < n_in; k++) {
        float weight;
        g2_dequantize(dtype, (const unsigned char *)w->data + k * row_bytes, (int64_t)(j0 + c), 1, &weight);
        for (size_t t = 0; t < n_tok; t++) acc[t * chunk + c] = fmaf(x[t * x_stride + k], weight, acc[t * chunk + c]);
      }
    for (size_t t = 0; t < n_tok; t++)
      for (size_t c = 0; c < n_cols; c++)
        out[t * out_stride + j0 + c] = acc[t * chunk + c] + (bias ? bias[j0 + c] : 0.0f);
  }
}

/* Batches (any n_tok), or no rows at all: the bias alone (the panel loop
   would not run). Small ones stream (kn_stream), larger ones pack. */
static void matmul_kn(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                      const float *bias, float *out, size_t out_stride, size_t col_begin,
                      size_t col_end, void *work) {
  if (w->n_in == 0)
    for (size_t t = 0; t < n_tok; t++)
      for (size_t j = col_begin; j < col_end; j++) out[t * out_stride + j] = bias ? bias[j] : 0.0f;
  else if (n_tok > KN_FEW_TOKS)
    matmul_kn_batch(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
  else if (w->dtype == G2_DT_F16)
    kn_stream(G2_DT_F16, n_tok, w, x, x_stride, bias, out, out_stride, col_begin, col_end, work);
  else if (w->dtype == G2_DT_BF16)
    kn_stream(G2_DT_BF16, n_tok, w, x, x_stride, bias, out, out_stride, col_begin, col_end, work);
  else
    kn_stream(G2_DT_F32, n_tok, w, x, x_stride, bias, out, out_stride, col_begin, col_end, work);
}

/* The one-token KN matmuls of the float types (n_tok = 1: x_stride and
   out_stride unused). */
#define KN_DECODE(name, dtype)                                                                          \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias, \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {        \
    (void)n_tok;                                                                                         \
    kn_stream(dtype, 1, w, x, x_stride, bias, out, out_stride, col_begin, col_end, work);                \
  }
KN_DECODE(kn_decode_f32, G2_DT_F32)
KN_DECODE(kn_decode_f16, G2_DT_F16)
KN_DECODE(kn_decode_bf16, G2_DT_BF16)

/* KN: the float types; NK: every type (those kquant.h unpacks in batches
   through the panel). */
g2_matmul_fn MATMUL_FOR(const g2_matrix *w, int many) {
  g2_dtype dtype = w->dtype;
  int float_type = dtype == G2_DT_F32 || dtype == G2_DT_F16 || dtype == G2_DT_BF16;
  int block_type = dtype == G2_DT_Q8_0 || dtype == G2_DT_Q4_0;
  if (w->layout == G2_LAYOUT_KN) {
    if (!float_type) return NULL;
    if (many || w->n_in == 0) return matmul_kn;
    return dtype == G2_DT_F16 ? kn_decode_f16 : dtype == G2_DT_BF16 ? kn_decode_bf16 : kn_decode_f32;
  }
  if (float_type && !many)
    return dtype == G2_DT_F16 ? nk_decode_f16 : dtype == G2_DT_BF16 ? nk_decode_bf16 : nk_decode_f32;
  if (float_type || block_type) return matmul_nk;
  if (!g2_k_unpacks(dtype)) return NULL;
  if (many) return matmul_nk;
  switch (dtype) {
    case G2_DT_Q6_K: return nk_decode_q6_k;
    case G2_DT_Q4_K: return nk_decode_q4_k;
    case G2_DT_Q5_K: return nk_decode_q5_k;
    case G2_DT_Q2_K: return nk_decode_q2_k;
    case G2_DT_Q3_K: return nk_decode_q3_k;
    case G2_DT_IQ4_XS: return nk_decode_iq4_xs;
    case G2_DT_Q4_1: return nk_decode_q4_1;
    case G2_DT_Q5_0: return nk_decode_q5_0;
    case G2_DT_Q5_1: return nk_decode_q5_1;
    default: return nk_decode_iq4_nl;
  }
}

/* ---- element-wise kernels ---- */

/* e^x with a relative error of about 2 ulp: x = n ln2 + r, |r| <= ln2/2,
   e^r by its Taylor polynomial to degree 7 (next term < 6e-9). Inputs are
   clamped to [-87, 88], where 2^n stays a normal float. */
static ALWAYS_INLINE vf vf_exp(vf x) {
  x = vf_min(vf_max(x, vf_set1(-87.0f)), vf_set1(88.0f));
  vf n = vf_round(vf_mul(x, vf_set1(1.44269504088896341f)));
  vf r = vf_fma(n, vf_set1(-0.693359375f), x); /* ln2 split: high part exact in n */
  r = vf_fma(n, vf_set1(2.12194440e-4f), r);
  vf p = vf_set1(1.0f / 5040.0f);
  p = vf_fma(p, r, vf_set1(1.0f / 720.0f));
  p = vf_fma(p, r, vf_set1(1.0f / 120.0f));
  p = vf_fma(p, r, vf_set1(1.0f / 24.0f));
  p = vf_fma(p, r, vf_set1(1.0f / 6.0f));
  p = vf_fma(p, r, vf_set1(0.5f));
  p = vf_fma(p, r, vf_set1(1.0f));
  p = vf_fma(p, r, vf_set1(1.0f));
  return vf_mul(p, vf_exp2i(n));
}

static void layernorm(const float *x, size_t n, const float *gamma, const float *beta, float eps,
                      float *out) {
  size_t n_full = n / VLEN * VLEN;
  vf acc = vf_zero();
  for (size_t i = 0; i < n_full; i += VLEN) acc = vf_add(acc, vf_load(x + i));
  if (n_full < n) acc = vf_add(acc, load_partial(x + n_full, n - n_full));
  float mean = vf_sum(acc) / (float)n;
  vf mean_v = vf_set1(mean);
  acc = vf_zero();
  for (size_t i = 0; i < n_full; i += VLEN) {
    vf d = vf_sub(vf_load(x + i), mean_v);
    acc = vf_fma(d, d, acc);
  }
  float sum_sq = vf_sum(acc);
  for (size_t i = n_full; i < n; i++) sum_sq = fmaf(x[i] - mean, x[i] - mean, sum_sq);
  float inv_std_scalar = 1.0f / sqrtf(sum_sq / (float)n + eps);
  vf inv_std = vf_set1(inv_std_scalar);
  for (size_t i = 0; i < n_full; i += VLEN) {
    vf normed = vf_mul(vf_sub(vf_load(x + i), mean_v), inv_std);
    vf_store(out + i, vf_fma(normed, vf_load(gamma + i), vf_load(beta + i)));
  }
  for (size_t i = n_full; i < n; i++) out[i] = fmaf((x[i] - mean) * inv_std_scalar, gamma[i], beta[i]);
}

/* 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
static ALWAYS_INLINE vf gelu_vec(vf x) {
  vf x3 = vf_mul(vf_mul(x, x), x);
  vf u = vf_mul(vf_set1(0.7978845608028654f), vf_fma(vf_set1(0.044715f), x3, x));
  vf e = vf_exp(vf_mul(vf_set1(-2.0f), u));
  return vf_div(x, vf_add(vf_set1(1.0f), e));
}

static void gelu(float *x, size_t n) {
  size_t i = 0;
  for (; i + VLEN <= n; i += VLEN) vf_store(x + i, gelu_vec(vf_load(x + i)));
  if (i < n) store_partial(x + i, gelu_vec(load_partial(x + i, n - i)), n - i);
}

static void add(float *dst, const float *src, size_t n) {
  size_t i = 0;
  for (; i + VLEN <= n; i += VLEN) vf_store(dst + i, vf_add(vf_load(dst + i), vf_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

/* ---- attention ---- */

/* One query scores ATT_GROUP positions side by side and sums ATT_VECS head
   vectors of values per pass over the positions. A block of queries scores
   ATT_TILE_Q queries x ATT_TILE_P positions at a time and sums
   ATT_TILE_VECS head vectors for ATT_TILE_Q queries per pass over V, so K
   and V stream through once per tile of queries, not once per query. (K
   once per block, every tile on a group of K rows in turn, measured 5%
   slower: more bookkeeping per tile.) Either way each score is one chain
   over d in VLEN lanes and vf_sum, each output vector one even and one odd
   chain over positions in increasing order: a query's result does not
   depend on its block. */
enum {
  ATT_VECS = 4,     /* head vectors kept in registers per pass (64 floats with AVX-512) */
  ATT_GROUP = 4,    /* positions scored side by side */
  ATT_PREFETCH = 8, /* positions ahead: rows are kv_stride apart, too far for the hardware */
#if VLEN == 8 /* AVX2: 16 vector registers; 8 x 1 x 1 measured 1.5x 2 x 4 x 2 (docs/kernels.md) */
  ATT_TILE_Q = 8,
  ATT_TILE_P = 1,
  ATT_TILE_VECS = 1
#else /* AVX-512 and NEON: 32 */
  ATT_TILE_Q = 4,
  ATT_TILE_P = 4,
  ATT_TILE_VECS = 2
#endif
};

static ALWAYS_INLINE vf load_kv(uint32_t kv_type, const void *base, size_t index) {
  if (kv_type == GPT2_KV_F16) return vf_load_f16((const unsigned char *)base + 2 * index);
  return vf_load((const float *)base + index);
}

static inline vf load_kv_partial(uint32_t kv_type, const void *base, size_t index, size_t n) {
  float lanes[VLEN] = {0};
  for (size_t i = 0; i < n; i++)
    lanes[i] = kv_type == GPT2_KV_F16 ? g2_f16_to_f32(((const uint16_t *)base)[index + i])
                                      : ((const float *)base)[index + i];
  return vf_load(lanes);
}

static ALWAYS_INLINE void prefetch_kv(uint32_t kv_type, const void *base, size_t index, size_t n) {
  size_t size = kv_type == GPT2_KV_F16 ? 2 : 4;
  const char *first = (const char *)base + index * size;
  for (size_t byte = 0; byte < n * size; byte += 64) __builtin_prefetch(first + byte);
}

/* The largest of a[0 .. n), n >= 1 (exact in any order). */
static inline float max_of(const float *a, size_t n) {
  float max = a[0];
  size_t i = 0;
  if (n >= VLEN) {
    vf max_v = vf_load(a);
    for (i = VLEN; i + VLEN <= n; i += VLEN) max_v = vf_max(max_v, vf_load(a + i));
    float lanes[VLEN];
    vf_store(lanes, max_v);
    for (size_t l = 0; l < VLEN; l++) max = lanes[l] > max ? lanes[l] : max;
  }
  for (; i < n; i++) max = a[i] > max ? a[i] : max;
  return max;
}

/* rows[j][p + i] = q[j] . k_{p+i} * scale for nq queries x np positions,
   each one chain over d and vf_sum, so a score does not depend on its
   neighbours. nq and np are constants after inlining. */
static ALWAYS_INLINE void attention_scores(uint32_t kv_type, size_t nq, size_t np, const float *const *q,
                                           float *const *rows, const void *k, size_t p, size_t head_dim,
                                           size_t kv_stride, float scale) {
  size_t d_full = head_dim / VLEN * VLEN;
  vf acc[ATT_TILE_Q][ATT_GROUP];
#pragma GCC unroll 8
  for (size_t j = 0; j < nq; j++)
#pragma GCC unroll 8
    for (size_t i = 0; i < np; i++) acc[j][i] = vf_zero();
  for (size_t d = 0; d < d_full; d += VLEN) {
    vf qd[ATT_TILE_Q];
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) qd[j] = vf_load(q[j] + d);
#pragma GCC unroll 8
    for (size_t i = 0; i < np; i++) {
      vf kd = load_kv(kv_type, k, (p + i) * kv_stride + d);
#pragma GCC unroll 8
      for (size_t j = 0; j < nq; j++) acc[j][i] = vf_fma(qd[j], kd, acc[j][i]);
    }
  }
  if (d_full < head_dim) {
    vf qd[ATT_TILE_Q];
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) qd[j] = load_partial(q[j] + d_full, head_dim - d_full);
#pragma GCC unroll 8
    for (size_t i = 0; i < np; i++) {
      vf kd = load_kv_partial(kv_type, k, (p + i) * kv_stride + d_full, head_dim - d_full);
#pragma GCC unroll 8
      for (size_t j = 0; j < nq; j++) acc[j][i] = vf_fma(qd[j], kd, acc[j][i]);
    }
  }
#if defined(HAVE_SUM_LANES)
  if (nq * np == VLEN) { /* all the sums at once: lane j np + i */
    vf sums[VLEN];
    float lanes[VLEN];
#pragma GCC unroll 16
    for (size_t l = 0; l < VLEN; l++) sums[l] = acc[l / np][l % np];
    vf_store(lanes, vf_mul(vf_sum_lanes(sums), vf_set1(scale)));
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) memcpy(rows[j] + p, lanes + j * np, np * sizeof(float));
    return;
  }
#endif
#pragma GCC unroll 8
  for (size_t j = 0; j < nq; j++)
#pragma GCC unroll 8
    for (size_t i = 0; i < np; i++) rows[j][p + i] = vf_sum(acc[j][i]) * scale;
}

/* scores[0 .. n) = softmax(scores[0 .. n)), n >= 1, the sum in lanes
   (padding lanes are not stored or added). */
static inline void softmax(float *scores, size_t n) {
  float max_score = max_of(scores, n);
  vf max_v = vf_set1(max_score), sum_v = vf_zero();
  size_t p = 0;
  for (; p + VLEN <= n; p += VLEN) {
    vf e = vf_exp(vf_sub(vf_load(scores + p), max_v));
    vf_store(scores + p, e);
    sum_v = vf_add(sum_v, e);
  }
  if (p < n) store_partial(scores + p, vf_exp(vf_sub(load_partial(scores + p, n - p), max_v)), n - p);
  float sum = vf_sum(sum_v);
  for (; p < n; p++) sum += scores[p];
  float inv_sum = 1.0f / sum;
  vf inv_sum_v = vf_set1(inv_sum);
  for (p = 0; p + VLEN <= n; p += VLEN) vf_store(scores + p, vf_mul(vf_load(scores + p), inv_sum_v));
  for (; p < n; p++) scores[p] *= inv_sum;
}

/* outs[j][d0 .. d0 + nv VLEN) = sum over p < ends[j] of weights[j][p] v_p:
   even and odd positions in two accumulator sets (two FMA chains in
   flight), added at the end. The pairs below ends[0] (the smallest end) are
   shared by the nq queries; each finishes its own. */
static ALWAYS_INLINE void attention_values(uint32_t kv_type, size_t nq, size_t nv, const void *v, size_t d0,
                                           const size_t *ends, size_t kv_stride,
                                           const float *const *weights, float *const *outs) {
  vf even[ATT_TILE_Q][ATT_VECS], odd[ATT_TILE_Q][ATT_VECS];
#pragma GCC unroll 8
  for (size_t j = 0; j < nq; j++)
#pragma GCC unroll 8
    for (size_t i = 0; i < nv; i++) even[j][i] = odd[j][i] = vf_zero();
  size_t shared = ends[0] / 2 * 2, p = 0;
  for (; p < shared; p += 2) {
    if (p + ATT_PREFETCH + 1 < ends[0]) {
      prefetch_kv(kv_type, v, (p + ATT_PREFETCH) * kv_stride + d0, nv * VLEN);
      prefetch_kv(kv_type, v, (p + ATT_PREFETCH + 1) * kv_stride + d0, nv * VLEN);
    }
    vf v0[ATT_VECS], v1[ATT_VECS];
#pragma GCC unroll 8
    for (size_t i = 0; i < nv; i++) {
      v0[i] = load_kv(kv_type, v, p * kv_stride + d0 + i * VLEN);
      v1[i] = load_kv(kv_type, v, (p + 1) * kv_stride + d0 + i * VLEN);
    }
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) {
      vf w0 = vf_set1(weights[j][p]), w1 = vf_set1(weights[j][p + 1]);
#pragma GCC unroll 8
      for (size_t i = 0; i < nv; i++) {
        even[j][i] = vf_fma(w0, v0[i], even[j][i]);
        odd[j][i] = vf_fma(w1, v1[i], odd[j][i]);
      }
    }
  }
#pragma GCC unroll 8
  for (size_t j = 0; j < nq; j++) {
    size_t q = shared;
    for (; q + 2 <= ends[j]; q += 2) {
      vf w0 = vf_set1(weights[j][q]), w1 = vf_set1(weights[j][q + 1]);
#pragma GCC unroll 8
      for (size_t i = 0; i < nv; i++) {
        even[j][i] = vf_fma(w0, load_kv(kv_type, v, q * kv_stride + d0 + i * VLEN), even[j][i]);
        odd[j][i] = vf_fma(w1, load_kv(kv_type, v, (q + 1) * kv_stride + d0 + i * VLEN), odd[j][i]);
      }
    }
    if (q < ends[j]) {
      vf w0 = vf_set1(weights[j][q]);
#pragma GCC unroll 8
      for (size_t i = 0; i < nv; i++)
        even[j][i] = vf_fma(w0, load_kv(kv_type, v, q * kv_stride + d0 + i * VLEN), even[j][i]);
    }
#pragma GCC unroll 8
    for (size_t i = 0; i < nv; i++) vf_store(outs[j] + d0 + i * VLEN, vf_add(even[j][i], odd[j][i]));
  }
}

/* The value sums of nq queries over the whole head: passes of `vecs` head
   vectors, then the last head_dim % VLEN elements, one chain over p each. */
static ALWAYS_INLINE void attention_outputs(uint32_t kv_type, size_t nq, size_t vecs, const void *v,
                                            const size_t *ends, size_t head_dim, size_t kv_stride,
                                            const float *const *weights, float *const *outs) {
  size_t d_full = head_dim / VLEN * VLEN, d = 0;
  for (; d + vecs * VLEN <= d_full; d += vecs * VLEN)
    attention_values(kv_type, nq, vecs, v, d, ends, kv_stride, weights, outs);
  switch ((d_full - d) / VLEN) {
    case 3: attention_values(kv_type, nq, 3, v, d, ends, kv_stride, weights, outs); break;
    case 2: attention_values(kv_type, nq, 2, v, d, ends, kv_stride, weights, outs); break;
    case 1: attention_values(kv_type, nq, 1, v, d, ends, kv_stride, weights, outs); break;
    default: break;
  }
  if (d_full < head_dim) {
    size_t n = head_dim - d_full;
    vf acc[ATT_TILE_Q];
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) acc[j] = vf_zero();
    size_t p = 0;
    for (; p < ends[0]; p++) {
      vf vp = load_kv_partial(kv_type, v, p * kv_stride + d_full, n);
#pragma GCC unroll 8
      for (size_t j = 0; j < nq; j++) acc[j] = vf_fma(vf_set1(weights[j][p]), vp, acc[j]);
    }
#pragma GCC unroll 8
    for (size_t j = 0; j < nq; j++) {
      for (size_t q = p; q < ends[j]; q++)
        acc[j] = vf_fma(vf_set1(weights[j][q]), load_kv_partial(kv_type, v, q * kv_stride + d_full, n), acc[j]);
      store_partial(outs[j] + d_full, acc[j], n);
    }
  }
}

/* One query over n_kv >= 1 positions (the decode path). */
static ALWAYS_INLINE void attention_one(uint32_t kv_type, const float *q, const void *k, const void *v,
                                        size_t n_kv, size_t head_dim, size_t kv_stride, float scale,
                                        float *scores, float *out) {
  const float *qs[1] = {q};
  float *rows[1] = {scores};
  size_t p = 0;
  for (; p + ATT_GROUP <= n_kv; p += ATT_GROUP) {
    if (p + ATT_PREFETCH + ATT_GROUP <= n_kv)
      for (size_t i = 0; i < ATT_GROUP; i++) prefetch_kv(kv_type, k, (p + ATT_PREFETCH + i) * kv_stride, head_dim);
    attention_scores(kv_type, 1, ATT_GROUP, qs, rows, k, p, head_dim, kv_stride, scale);
  }
  for (; p < n_kv; p++) attention_scores(kv_type, 1, 1, qs, rows, k, p, head_dim, kv_stride, scale);
  softmax(scores, n_kv);
  const float *weights[1] = {scores};
  attention_outputs(kv_type, 1, ATT_VECS, v, &n_kv, head_dim, kv_stride, weights, &out);
}

/* Tile i0 of a block: query rows i0 .. i0 + ATT_TILE_Q - 1, those past the
   block repeating its last query (they recompute and rewrite its values). */
static inline void tile_rows(size_t i0, size_t n_q, size_t n_kv, size_t rows_stride, const float *q,
                             size_t q_stride, float *scratch, float *out, size_t out_stride,
                             const float **qs, float **rows, float **outs, size_t *ends) {
  for (size_t j = 0; j < ATT_TILE_Q; j++) {
    size_t r = i0 + j < n_q ? i0 + j : n_q - 1;
    if (qs) qs[j] = q + r * q_stride;
    rows[j] = scratch + r * rows_stride;
    if (outs) outs[j] = out + r * out_stride;
    ends[j] = n_kv + r;
  }
}

/* Queries i < n_q over n_kv + i >= 1 positions each, n_q >= 2: score rows
   of n_kv + n_q - 1 floats in scratch. */
static ALWAYS_INLINE void attention_block(uint32_t kv_type, const float *q, size_t q_stride, size_t n_q,
                                          const void *k, const void *v, size_t n_kv, size_t head_dim,
                                          size_t kv_stride, float scale, float *scratch, float *out,
                                          size_t out_stride) {
  size_t n_last = n_kv + n_q - 1;
  const float *qs[ATT_TILE_Q];
  float *rows[ATT_TILE_Q], *outs[ATT_TILE_Q];
  size_t ends[ATT_TILE_Q];
  for (size_t i0 = 0; i0 < n_q; i0 += ATT_TILE_Q) {
    tile_rows(i0, n_q, n_kv, n_last, q, q_stride, scratch, out, out_stride, qs, rows, NULL, ends);
    size_t end = ends[ATT_TILE_Q - 1]; /* positions of the tile's last query */
    size_t p = 0;
    for (; p + ATT_TILE_P <= end; p += ATT_TILE_P) {
      if (p + ATT_PREFETCH + ATT_TILE_P <= end)
        for (size_t i = 0; i < ATT_TILE_P; i++) prefetch_kv(kv_type, k, (p + ATT_PREFETCH + i) * kv_stride, head_dim);
      attention_scores(kv_type, ATT_TILE_Q, ATT_TILE_P, qs, rows, k, p, head_dim, kv_stride, scale);
    }
    for (; p < end; p++) attention_scores(kv_type, ATT_TILE_Q, 1, qs, rows, k, p, head_dim, kv_stride, scale);
  }
  for (size_t i = 0; i < n_q; i++) softmax(scratch + i * n_last, n_kv + i);
  for (size_t i0 = 0; i0 < n_q; i0 += ATT_TILE_Q) {
    tile_rows(i0, n_q, n_kv, n_last, q, q_stride, scratch, out, out_stride, NULL, rows, outs, ends);
    const float *weights[ATT_TILE_Q];
    for (size_t j = 0; j < ATT_TILE_Q; j++) weights[j] = rows[j];
    attention_outputs(kv_type, ATT_TILE_Q, ATT_TILE_VECS, v, ends, head_dim, kv_stride, weights, outs);
  }
}

static ALWAYS_INLINE void attention_kv(uint32_t kv_type, const float *q, size_t q_stride, size_t n_q,
                                       const void *k, const void *v, size_t n_kv, size_t head_dim,
                                       size_t kv_stride, float scale, float *scratch, float *out,
                                       size_t out_stride) {
  if (n_kv == 0) { /* nothing to attend to: the oracle's empty sum */
    memset(out, 0, head_dim * sizeof(float));
    if (--n_q == 0) return;
    q += q_stride;
    out += out_stride;
    n_kv = 1;
  }
  if (n_q == 1)
    attention_one(kv_type, q, k, v, n_kv, head_dim, kv_stride, scale, scratch, out);
  else
    attention_block(kv_type, q, q_stride, n_q, k, v, n_kv, head_dim, kv_stride, scale, scratch, out, out_stride);
}

static void attention(const float *q, size_t q_stride, size_t n_q, const void *k, const void *v,
                      uint32_t kv_type, size_t n_kv, size_t head_dim, size_t kv_stride, float scale,
                      float *scratch, float *out, size_t out_stride) {
  if (kv_type == GPT2_KV_F16)
    attention_kv(GPT2_KV_F16, q, q_stride, n_q, k, v, n_kv, head_dim, kv_stride, scale, scratch, out, out_stride);
  else
    attention_kv(GPT2_KV_F32, q, q_stride, n_q, k, v, n_kv, head_dim, kv_stride, scale, scratch, out, out_stride);
}

static void get_row(const g2_matrix *w, int64_t row, float *out) {
  size_t row_bytes = g2_dtype_row_bytes(w->dtype, w->n_in);
  dequantize_range(w->dtype, (const unsigned char *)w->data + (size_t)row * row_bytes, 0, (size_t)w->n_in, out);
}

const g2_vector_kernels VECTOR_KERNELS = {
    .layernorm = layernorm,
    .gelu = gelu,
    .add = add,
    .attention = attention,
    .get_row = get_row,
};
