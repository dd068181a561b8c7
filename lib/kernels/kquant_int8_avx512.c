/* K-type batches (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) by vpdpbusd
   (AVX512-VNNI), to the bits of the oracle in kquant_int8_ref.c
   (definition in kernels/kquant_int8.h).

   The weights of one super-block of 16 rows are unpacked (kquant_avx2.h's
   helpers) into a panel of unsigned bytes, lane r of vector i holding row
   r's values 4i .. 4i + 3: u as stored (Q6_K: u = q + 32, Q3_K: u = q + 4,
   IQ4_XS: grid[v] + 128), with each row's group scales as int32 lanes
   beside them. A token's 4-byte group of activations, broadcast, meets the
   16 rows in one vpdpbusd; the 4 (16-value groups: Q6_K, Q2_K, Q3_K) or 8
   (32-value groups: Q4_K, Q5_K, IQ4_XS) of a group give the rows' sums
   u . q over the group, which vpmulld scales by the group's scale into S:
   half the multiply instructions of int16 pairs, for at most one vpmulld
   per 4 or 8 vpdpbusd. M (types with mins) and the offsets' term (Q6_K: 32,
   Q3_K: 4, IQ4_XS: 128 times sc_g s_g, subtracted from S) are 8 vpdpwssd
   against int16 pairs of the token's per-16 sums, the mins or the scaled
   offsets in the lanes. Every partial sum fits int32 (|S| < 2^29: IQ4_XS's
   groups reach 32 * 241 * 127 times |sc| <= 32, 8 of them). Each row is
   unpacked row-major, then 16 x 16 transposes of 32-bit lanes
   (transpose_avx512.h) make the panel (the scales too); the float steps
   are the definition's, 16 rows in the lanes.

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
  VECS = G2_QK_K / 4,           /* panel vectors of codes a block */
  GROUPS = G2_QK_K / G2_KQ8_GROUP,
  TILE_TOKS = 8,
  /* Fewer tokens run the AVX2 kernel (kernel_speed, one thread, GFLOP/s,
     panel against AVX2 kernel, Q4_K / Q6_K / Q3_K: 6 tokens 66 / 58 / 66
     against 70 / 67 / 70, 8 tokens 84 / 71 / 81 against 73 / 74 / 77, 16
     tokens 131 / 114 / 122 against 79 / 82 / 85). */
  BATCH_MIN_TOKS = 8,
  /* Tokens whose activations (one block of each) sit in the work area
     beside the panel. */
  CHUNK_TOKS = 256
};

/* One token's block of activations: q, the per-16 sums, d_x. */
typedef struct token_block {
  _Alignas(64) int8_t q[G2_QK_K];
  int16_t sums[GROUPS];
  float d;
} token_block;

typedef struct panel_block {
  __m512i codes[VECS];      /* vector i, lane r: row r's unsigned codes 4i .. 4i + 3 */
  __m512i scales[GROUPS];   /* lane r: row r's scale of the g-th 16 values (int32) */
  __m512i pairs[GROUPS / 2]; /* lane r: row r's mins (or scaled offsets) of groups 2h, 2h + 1 (int16) */
  __m512 d, dmin;           /* lane r: row r's d and dmin (0 without one) */
} panel_block;

typedef struct kq8_vnni_work {
  panel_block panel;
  _Alignas(64) uint8_t rows_codes[PANEL_ROWS][G2_QK_K]; /* the rows' codes, row-major */
  int16_t rows_scales[PANEL_ROWS][GROUPS];
  int16_t rows_pairs[PANEL_ROWS][GROUPS];
  token_block x[CHUNK_TOKS];
} kq8_vnni_work;
_Static_assert(sizeof(kq8_vnni_work) <= G2_KERNEL_WORK_BYTES, "kquant_int8_avx512.c's buffers fit the work area");

static ALWAYS_INLINE float half_at(const unsigned char *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

/* Values a scale covers: 32 for the types with one scale per 32. */
static ALWAYS_INLINE int group_values(g2_dtype dtype) {
  return dtype == G2_DT_Q4_K || dtype == G2_DT_Q5_K || dtype == G2_DT_IQ4_XS ? 32 : 16;
}

/* What the codes are above the definition's values (tensor/kquant.h): u - offset. */
static ALWAYS_INLINE int code_offset(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K ? 32 : dtype == G2_DT_Q3_K ? 4 : dtype == G2_DT_IQ4_XS ? 128 : 0;
}

/* One row's block: 256 unsigned codes, 16 scales (one per 16 values; a
   32-value group's twice) and 16 pair words: the mins, or the offset
   times the scale. */
static ALWAYS_INLINE void unpack_row(g2_dtype dtype, const unsigned char *block, uint8_t *codes, int16_t *scales,
                                     int16_t *pairs) {
  __m256i u[8], scale16, min16;
  g2_k_unpack_regs_avx2(dtype, block, u, &scale16, &min16);
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) { /* IQ4_XS: the signed grid values + 128 */
    __m256i v = dtype == G2_DT_IQ4_XS ? _mm256_xor_si256(u[c], _mm256_set1_epi8((char)0x80)) : u[c];
    _mm256_store_si256((__m256i *)(void *)(codes + 32 * c), v);
  }
  _mm256_storeu_si256((__m256i *)(void *)scales, scale16);
  if (code_offset(dtype)) min16 = _mm256_mullo_epi16(scale16, _mm256_set1_epi16((short)code_offset(dtype)));
  _mm256_storeu_si256((__m256i *)(void *)pairs, min16);
}

/* Block b of rows[0..16) (repeats allowed) into the panel. */
static ALWAYS_INLINE void pack_panel(g2_dtype dtype, const unsigned char *const rows[PANEL_ROWS], size_t b,
                                     size_t block_bytes, kq8_vnni_work *work) {
  float d[PANEL_ROWS], dmin[PANEL_ROWS];
  for (int r = 0; r < PANEL_ROWS; r++) {
    const unsigned char *block = rows[r] + b * block_bytes;
    unpack_row(dtype, block, work->rows_codes[r], work->rows_scales[r], work->rows_pairs[r]);
    d[r] = half_at(block + g2_kq8_d_offset(dtype));
    /* Q3_K's block ends after d: no dmin to read */
    dmin[r] = g2_kq8_has_mins(dtype) ? half_at(block + g2_kq8_d_offset(dtype) + 2) : 0.0f;
  }
  __m512i in[PANEL_ROWS];
  for (int c = 0; c < G2_QK_K / 64; c++) { /* codes 64c .. 64c + 63 of the 16 rows */
    for (int r = 0; r < PANEL_ROWS; r++) in[r] = _mm512_load_si512(work->rows_codes[r] + 64 * c);
    g2_transpose16_epi32(in, work->panel.codes + 16 * c);
  }
  for (int r = 0; r < PANEL_ROWS; r++)
    in[r] = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)work->rows_scales[r]));
  g2_transpose16_epi32(in, work->panel.scales);
  if (g2_kq8_has_mins(dtype) || code_offset(dtype)) {
    const __m512i pair_index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                  _mm512_set1_epi32(GROUPS / 2)); /* row r's dwords */
    for (int h = 0; h < GROUPS / 2; h++)
      work->panel.pairs[h] = _mm512_i32gather_epi32(pair_index, (const int32_t *)(const void *)work->rows_pairs + h, 4);
  }
  work->panel.d = _mm512_loadu_ps(d);
  work->panel.dmin = _mm512_loadu_ps(dmin);
}

static ALWAYS_INLINE __m512i broadcast_group(const void *values) {
  int32_t group;
  memcpy(&group, values, sizeof group);
  return _mm512_set1_epi32(group);
}

/* nt tokens (a constant after inlining) of x against the panel: their
   chains (rows j0.. of out, `valid` lanes) one block further. */
static ALWAYS_INLINE void tile(g2_dtype dtype, int nt, const panel_block *panel, const token_block *x, int first,
                               int last, float *out, size_t out_stride, __mmask16 valid, __m512 bias) {
  const int per_group = group_values(dtype) / 4; /* vectors a scale covers */
  __m512i s[TILE_TOKS];
  for (int t = 0; t < nt; t++) s[t] = _mm512_setzero_si512();
  for (int g = 0; g < G2_QK_K / group_values(dtype); g++) {
    __m512i group_sums[TILE_TOKS];
    for (int t = 0; t < nt; t++) group_sums[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int i = per_group * g; i < per_group * (g + 1); i++) {
      __m512i codes = _mm512_load_si512(&panel->codes[i]);
#pragma GCC unroll 8
      for (int t = 0; t < nt; t++)
        group_sums[t] = _mm512_dpbusd_epi32(group_sums[t], codes, broadcast_group(x[t].q + 4 * i));
    }
    /* the scale of these values: of the 16-value group they start */
    __m512i scale = _mm512_load_si512(&panel->scales[per_group * g / 4]);
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) s[t] = _mm512_add_epi32(s[t], _mm512_mullo_epi32(group_sums[t], scale));
  }
#pragma GCC unroll 8
  for (int t = 0; t < nt; t++) {
    float *chain_at = out + (size_t)t * out_stride;
    __m512 chain = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(valid, chain_at);
    __m512 dx = _mm512_set1_ps(x[t].d);
    __m512i m = _mm512_setzero_si512(); /* M, or the offsets' term */
    if (g2_kq8_has_mins(dtype) || code_offset(dtype))
#pragma GCC unroll 8
      for (int h = 0; h < GROUPS / 2; h++) m = _mm512_dpwssd_epi32(m, panel->pairs[h], broadcast_group(x[t].sums + 2 * h));
    if (code_offset(dtype)) s[t] = _mm512_sub_epi32(s[t], m);
    chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(panel->d, dx), chain);
    if (g2_kq8_has_mins(dtype))
      chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), m)),
                              _mm512_mul_ps(panel->dmin, dx), chain);
    if (last) chain = _mm512_add_ps(chain, bias);
    _mm512_mask_storeu_ps(chain_at, valid, chain);
  }
}

/* Step 1 for block b of a token: q, sums and d_x. */
static void quantize_block(const float *x, token_block *tb) { g2_kq8_quantize_row_avx2(x, G2_QK_K, tb->q, &tb->d, tb->sums); }

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
