/* K-type batches (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) by vpdpwssd
   (AVX512-VNNI), to the bits of the oracle in kquant_int8_ref.c
   (definition in kernels/kquant_int8.h).

   The weights of one super-block of 16 rows are unpacked (kquant_avx2.h's
   helpers) into a panel of int16 values already multiplied by their
   group's scale, with the type's offset folded in, so that S is a plain
   dot product with no per-group step:
     Q4_K/Q5_K/Q2_K: sc * u       (<= 63 * 31)
     Q6_K:           sc * (u - 32) (|.| <= 128 * 32)
     Q3_K:           sc * (u - 4)  (sc = 6-bit scale - 32)
     IQ4_XS:         sc * grid[v]  (|.| <= 32 * 127)
   Lane r of panel vector p holds row r's values 2p and 2p + 1; a token's
   activations, widened to int16 pairs, are broadcast to all 16 lanes, and
   128 vpdpwssd give the 16 rows' S in the lanes with no reduction (every
   partial sum is below 128 * 2 * 4096 * 127 < 2^27). M (the types with
   mins) is 8 more against the token's per-16 sums. Each row is unpacked
   row-major, then 16 x 16 transposes of 32-bit lanes (vpunpck*,
   vshufi32x4) make the panel. The float steps are the definition's, 16
   rows in the lanes.

   Loop order: the block index outermost, so that a block of 16 rows is
   unpacked once for up to CHUNK_TOKS tokens, whose chains wait in `out`
   between blocks (a float stored and loaded is the same float); the bias
   is added after the last block. Every element therefore gets the
   definition's chain, whatever the column split or token batch.

   Batches of fewer than BATCH_MIN_TOKS run the AVX2 kernel
   (kquant_int8_avx2.c), one token kquant_int8_token_avx512.c's: the same
   definition, so the same bits. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kquant_avx2.h"
#include "kernels/kquant_int8.h"
#include "kernels/transpose_avx512.h"
#include "tensor/dequant.h"
#include "tensor/kquant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  PANEL_ROWS = 16,
  PAIRS = G2_QK_K / 2,          /* panel vectors a block */
  GROUPS = G2_QK_K / G2_KQ8_GROUP,
  TILE_TOKS = 8,
  /* Fewer tokens run the AVX2 kernel: unpacking and transposing a block of
     16 rows costs about what 16 tokens' products with it do (kernel_speed,
     Q4_K, one thread: the AVX2 kernel's speed at 16 tokens, 1.27x at 24). */
  BATCH_MIN_TOKS = 20,
  /* Tokens whose activations (one block of each) sit in the work area
     beside the panel. */
  CHUNK_TOKS = 256
};

/* One token's block of activations: q as int16, the per-16 sums, d_x. */
typedef struct token_block {
  _Alignas(64) int16_t q[G2_QK_K];
  int16_t sums[GROUPS];
  float d;
} token_block;

typedef struct panel_block {
  __m512i w[PAIRS];      /* vector p, lane r: row r's scaled values 2p, 2p + 1 */
  __m512i mins[GROUPS / 2]; /* vector h, lane r: row r's mins of groups 2h, 2h + 1 */
  __m512 d, dmin;        /* lane r: row r's d and dmin (0 without one) */
} panel_block;

typedef struct kq8_vnni_work {
  panel_block panel;
  _Alignas(64) int16_t rows_w[PANEL_ROWS][G2_QK_K]; /* the rows' scaled values, row-major */
  int16_t rows_mins[PANEL_ROWS][GROUPS];
  token_block x[CHUNK_TOKS];
} kq8_vnni_work;
_Static_assert(sizeof(kq8_vnni_work) <= G2_KERNEL_WORK_BYTES, "kquant_int8_avx512.c's buffers fit the work area");

static ALWAYS_INLINE float half_at(const unsigned char *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

/* One row's block: 256 scaled int16 values (the panel's definition above)
   and 16 mins. */
static ALWAYS_INLINE void unpack_row(g2_dtype dtype, const unsigned char *block, int16_t *w, int16_t *mins) {
  __m256i u[8], scales, min16 = _mm256_setzero_si256();
  if (dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K || dtype == G2_DT_IQ4_XS) {
    g2_k_unpack_small_avx2(dtype, block, u, &scales, &min16);
  } else if (dtype == G2_DT_Q6_K) {
    g2_k_q6_half(block, 0, u);
    g2_k_q6_half(block, 1, u + 4);
    scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 192)));
  } else {
    int five_bits = dtype == G2_DT_Q5_K;
    __m256i qh = g2_k_q5_bits(five_bits, block);
#pragma GCC unroll 4
    for (int run = 0; run < 4; run++) g2_k_q45_run(five_bits, block, qh, run, u + 2 * run, u + 2 * run + 1);
    __m128i scale_bytes, min_bytes;
    g2_k_scales_mins(block, &scale_bytes, &min_bytes);
    scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(scale_bytes, scale_bytes));
    min16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes));
  }
  int16_t scale[GROUPS];
  _mm256_storeu_si256((__m256i *)(void *)scale, scales);
  _mm256_storeu_si256((__m256i *)(void *)mins, min16);
  int offset = dtype == G2_DT_Q6_K ? 32 : dtype == G2_DT_Q3_K ? 4 : 0;
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) { /* values 32c .. 32c + 31: groups 2c and 2c + 1 */
    __m512i v = dtype == G2_DT_IQ4_XS ? _mm512_cvtepi8_epi16(u[c]) : _mm512_cvtepu8_epi16(u[c]);
    if (offset) v = _mm512_sub_epi16(v, _mm512_set1_epi16((short)offset));
    __m512i s = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(scale[2 * c])),
                                   _mm256_set1_epi16(scale[2 * c + 1]), 1);
    _mm512_store_si512(w + 32 * c, _mm512_mullo_epi16(v, s));
  }
}

/* Block b of rows[0..16) (repeats allowed) into the panel. */
static ALWAYS_INLINE void pack_panel(g2_dtype dtype, const unsigned char *const rows[PANEL_ROWS], size_t b,
                                     size_t block_bytes, kq8_vnni_work *work) {
  float d[PANEL_ROWS], dmin[PANEL_ROWS];
  for (int r = 0; r < PANEL_ROWS; r++) {
    const unsigned char *block = rows[r] + b * block_bytes;
    unpack_row(dtype, block, work->rows_w[r], work->rows_mins[r]);
    d[r] = half_at(block + g2_kq8_d_offset(dtype));
    /* Q3_K's block ends after d: no dmin to read */
    dmin[r] = g2_kq8_has_mins(dtype) ? half_at(block + g2_kq8_d_offset(dtype) + 2) : 0.0f;
  }
  for (int c = 0; c < G2_QK_K / 32; c++) { /* pairs 16c .. 16c + 15 of the 16 rows */
    __m512i in[PANEL_ROWS];
    for (int r = 0; r < PANEL_ROWS; r++) in[r] = _mm512_load_si512(work->rows_w[r] + 32 * c);
    g2_transpose16_epi32(in, work->panel.w + 16 * c);
  }
  if (g2_kq8_has_mins(dtype)) {
    const __m512i min_index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                 _mm512_set1_epi32(GROUPS / 2)); /* row r's dwords */
    for (int h = 0; h < GROUPS / 2; h++)
      work->panel.mins[h] = _mm512_i32gather_epi32(min_index, (const int32_t *)(const void *)work->rows_mins + h, 4);
  }
  work->panel.d = _mm512_loadu_ps(d);
  work->panel.dmin = _mm512_loadu_ps(dmin);
}

static ALWAYS_INLINE __m512i broadcast_pair(const int16_t *values) {
  int32_t pair;
  memcpy(&pair, values, sizeof pair);
  return _mm512_set1_epi32(pair);
}

/* nt tokens (a constant after inlining) of x against the panel: their
   chains (rows j0.. of out, `valid` lanes) one block further. */
static ALWAYS_INLINE void tile(g2_dtype dtype, int nt, const panel_block *panel, const token_block *x, int first,
                               int last, float *out, size_t out_stride, __mmask16 valid, __m512 bias) {
  __m512i acc[TILE_TOKS];
  for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int p = 0; p < PAIRS; p++) {
    __m512i w = _mm512_load_si512(&panel->w[p]);
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_dpwssd_epi32(acc[t], w, broadcast_pair(x[t].q + 2 * p));
  }
#pragma GCC unroll 8
  for (int t = 0; t < nt; t++) {
    float *chain_at = out + (size_t)t * out_stride;
    __m512 chain = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(valid, chain_at);
    __m512 dx = _mm512_set1_ps(x[t].d);
    chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), _mm512_mul_ps(panel->d, dx), chain);
    if (g2_kq8_has_mins(dtype)) {
      __m512i m = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int h = 0; h < GROUPS / 2; h++) m = _mm512_dpwssd_epi32(m, panel->mins[h], broadcast_pair(x[t].sums + 2 * h));
      chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), m)),
                              _mm512_mul_ps(panel->dmin, dx), chain);
    }
    if (last) chain = _mm512_add_ps(chain, bias);
    _mm512_mask_storeu_ps(chain_at, valid, chain);
  }
}

/* Step 1 for block b of a token: q widened to int16, sums and d_x. */
static void quantize_block(const float *x, token_block *tb) {
  _Alignas(64) int8_t q[G2_QK_K];
  g2_kq8_quantize_row_avx2(x, G2_QK_K, q, &tb->d, tb->sums);
  for (int i = 0; i < G2_QK_K; i += 32)
    _mm512_store_si512(tb->q + i, _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(const void *)(q + i))));
}

static ALWAYS_INLINE void kq8_vnni_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                          size_t x_stride, const float *bias, float *out, size_t out_stride,
                                          size_t col_begin, size_t col_end, kq8_vnni_work *work) {
  if (n_tok < BATCH_MIN_TOKS) {
    g2_kq8_matmul_for(w, n_tok != 1)(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  size_t n_blocks = (size_t)w->n_in / G2_QK_K;
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), block_bytes = g2_dtype_row_bytes(dtype, G2_QK_K);
  for (size_t t0 = 0; t0 < n_tok; t0 += CHUNK_TOKS) {
    size_t t_end = n_tok - t0 < CHUNK_TOKS ? n_tok : t0 + CHUNK_TOKS;
    for (size_t b = 0; b < n_blocks; b++) {
      int first = b == 0, last = b + 1 == n_blocks;
      for (size_t t = t0; t < t_end; t++) quantize_block(x + t * x_stride + b * G2_QK_K, &work->x[t - t0]);
      for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_ROWS) {
        size_t n_rows = col_end - j0 < PANEL_ROWS ? col_end - j0 : PANEL_ROWS;
        const unsigned char *rows[PANEL_ROWS];
        for (size_t r = 0; r < PANEL_ROWS; r++) /* missing rows repeat the last */
          rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : n_rows - 1)) * row_bytes;
        pack_panel(dtype, rows, b, block_bytes, work);
        __mmask16 valid = (__mmask16)((1u << n_rows) - 1);
        __m512 bias_v = bias && last ? _mm512_maskz_loadu_ps(valid, bias + j0) : _mm512_setzero_ps();
        for (size_t t = t0; t < t_end;) {
          size_t nt = t_end - t < TILE_TOKS ? t_end - t : TILE_TOKS;
          const token_block *xt = &work->x[t - t0];
          float *o = out + t * out_stride + j0;
          switch (nt) {
            case 8: tile(dtype, 8, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 7: tile(dtype, 7, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 6: tile(dtype, 6, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 5: tile(dtype, 5, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 4: tile(dtype, 4, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 3: tile(dtype, 3, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            case 2: tile(dtype, 2, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
            default: tile(dtype, 1, &work->panel, xt, first, last, o, out_stride, valid, bias_v); break;
          }
          t += nt;
        }
      }
    }
  }
}

#define KQ8_VNNI_MATMUL(name, dtype)                                                                         \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    kq8_vnni_matmul(dtype, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);          \
  }
KQ8_VNNI_MATMUL(kq8_vnni_q6_k, G2_DT_Q6_K)
KQ8_VNNI_MATMUL(kq8_vnni_q4_k, G2_DT_Q4_K)
KQ8_VNNI_MATMUL(kq8_vnni_q5_k, G2_DT_Q5_K)
KQ8_VNNI_MATMUL(kq8_vnni_q2_k, G2_DT_Q2_K)
KQ8_VNNI_MATMUL(kq8_vnni_q3_k, G2_DT_Q3_K)
KQ8_VNNI_MATMUL(kq8_vnni_iq4_xs, G2_DT_IQ4_XS)

/* The matrices that g2_kq8_supported takes: batches here (small ones go
   on to the AVX2 kernel inside), one token by
   kquant_int8_token_avx512.c. */
g2_matmul_fn g2_kq8_vnni_matmul_for(const g2_matrix *w, int many) {
  if (!g2_kq8_supported(w)) return NULL;
  if (!many) return g2_kq8_vnni_token_matmul(w->dtype);
  switch (w->dtype) {
    case G2_DT_Q6_K: return kq8_vnni_q6_k;
    case G2_DT_Q4_K: return kq8_vnni_q4_k;
    case G2_DT_Q5_K: return kq8_vnni_q5_k;
    case G2_DT_Q2_K: return kq8_vnni_q2_k;
    case G2_DT_Q3_K: return kq8_vnni_q3_k;
    default: return kq8_vnni_iq4_xs;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_kquant_int8_avx512_not_built; /* ISO C wants a declaration in every file */
#endif
